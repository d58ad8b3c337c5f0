/**
 * The agent: drains the spool (segments the hook linked there when storage was slow or down, or in
 * spool mode) and sweeps the commit log directory for segments Cassandra left behind after a failed
 * archive (Cassandra never retries those: cassandra-internals.md 1.4).
 *
 * Nothing is dropped: a spooled link is removed only after its segment is verified in the archive;
 * a failed upload stays in the spool and is retried on the next pass. The sweeper only reads the
 * commit log directory; it never deletes there, because without JMX it cannot tell a failed
 * leftover from a closed segment that still holds unflushed data.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isSegmentName, parseSegmentName } from "../commitlog/segment-name.js";
import { isPitrError } from "../errors/base.js";
import { exists, mapLimit } from "../storage/front.js";
import { ObjectNotFoundError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";
import { appendEvent } from "./events.js";
import { segmentKey, segmentsPrefix, type NodeIdentity } from "../format/layout.js";
import { pushSegment, type PushResult } from "./push.js";
import { newPartialState, uploadPartials, type PartialState } from "./partial.js";
import { lookAtSyncs, SYNC_WATCH_INTERVAL_MS } from "./sync-watch.js";
import { listSpool, releaseSpooled, type SpooledSegment } from "./spool.js";
import { clearHealthMark, freshHealthMark, isOutage, setHealthMark } from "./health.js";
import { abortUnfinishedUploads, unfinishedUploadMinAge } from "./unfinished-uploads.js";

/** How often the agent looks for its node's dead unfinished uploads (pipeline/unfinished-uploads.ts). */
export const UNFINISHED_UPLOAD_CHECK_INTERVAL_MS = 3_600_000;

export interface AgentOptions {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly spoolDir: string;
  readonly commitlogDir?: string | undefined;
  readonly parallelism: number;
  readonly compressionLevel: number;
  readonly compressionThreads: number;
  readonly sweepMinAgeMs: number;
  /**
   * Unfinished uploads younger than this are never aborted (pipeline/unfinished-uploads.ts); the
   * agent command passes max(1 h, 4 × hookTimeout), which is also the default.
   */
  readonly unfinishedUploadMinAgeMs?: number | undefined;
  /** Between two checks for them; hourly by default. */
  readonly unfinishedUploadIntervalMs?: number | undefined;
  /** Upload the newly synced sections of open segments this often (pipeline/partial.ts); off when undefined. */
  readonly partialIntervalMs?: number | undefined;
  /**
   * Unsynced mutations show in the commit log files (memory-mapped segments): the sync watch may then
   * prove that nothing is waiting, and an idle node's claims keep up with the clock (sync-watch.ts).
   */
  readonly visibleTail?: boolean | undefined;
  readonly logFile?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly now?: (() => number) | undefined;
  /**
   * More work for each pass, after the drain and the sweep: the cluster operations a node's agent
   * carries out (cluster/node-agent.ts), given by the agent command so this layer does not know them.
   */
  readonly passTasks?: (() => Promise<void>) | undefined;
}

export interface DrainResult {
  readonly uploaded: PushResult[];
  /** `outage`: the failure says storage is not answering (as opposed to one bad segment). */
  readonly failed: { name: string; error: string; outage: boolean }[];
}

export interface AgentStats {
  spoolCount: number;
  spoolBytes: number;
  uploaded: number;
  failures: number;
  swept: number;
  lastPassMs: number;
  /** Partial objects uploaded, and the newest instant they cover (every write stamped before it is archived). */
  partials: number;
  newestPartialSyncedMs: number | undefined;
  /** Unfinished uploads of this node aborted (S3 multipart uploads of a killed writer). */
  uploadsAborted: number;
}

/** One pass over the spool. */
export async function drainSpool(options: AgentOptions): Promise<DrainResult> {
  const spooled = await listSpool(options.spoolDir);
  const uploaded: PushResult[] = [];
  const failed: { name: string; error: string; outage: boolean }[] = [];
  await mapLimit(spooled, options.parallelism, async (s: SpooledSegment) => {
    if (options.signal?.aborted) return;
    try {
      const result = await pushSegment(options.backend, options.identity, {
        path: s.path,
        name: s.name,
        archivedBy: "agent",
        compressionLevel: options.compressionLevel,
        compressionThreads: options.compressionThreads,
        signal: options.signal,
        now: options.now,
      });
      await releaseSpooled(s);
      uploaded.push(result);
      await appendEvent(options.logFile, { event: `agent-${result.outcome}`, name: s.name, key: result.key });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      failed.push({ name: s.name, error: message, outage: isOutage(err) });
      await appendEvent(options.logFile, { event: "agent-upload-failed", name: s.name, error: message });
      if (isPitrError(err) && err.code === "E_SEGMENT_NAME") await releaseSpooled(s); // never a segment: nothing to keep
    }
  });
  return { uploaded, failed };
}

/**
 * Segments in the commit log directory that are closed (every id below the two highest: the
 * highest is the pre-allocated next segment, the one below it is being written), unchanged for
 * `sweepMinAgeMs`, and not yet in the archive under their deterministic key.
 */
export async function sweepCommitlog(options: AgentOptions, confirmed: Set<string>): Promise<PushResult[]> {
  if (!options.commitlogDir) return [];
  const now = (options.now ?? Date.now)();
  const names = (await readdir(options.commitlogDir).catch(() => [] as string[])).filter(isSegmentName);
  const byId = names
    .map((name) => ({ name, ...parseSegmentName(name) }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const closed = byId.slice(0, Math.max(0, byId.length - 2));
  const results: PushResult[] = [];
  for (const segment of closed) {
    if (options.signal?.aborted) break;
    const path = join(options.commitlogDir, segment.name);
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile() || now - s.mtimeMs < options.sweepMinAgeMs) continue;
    const mark = `${segment.name}@${Math.floor(s.mtimeMs)}:${s.size}`;
    if (confirmed.has(mark)) continue;
    const key = segmentKey(options.identity, {
      closeTimeMs: Math.floor(s.mtimeMs),
      segmentId: segment.id,
      version: segment.version,
    });
    const present = await exists(options.backend, key, options.signal);
    if (!present) {
      const result = await pushSegment(options.backend, options.identity, {
        path,
        name: segment.name,
        archivedBy: "sweeper",
        compressionLevel: options.compressionLevel,
        compressionThreads: options.compressionThreads,
        signal: options.signal,
        now: options.now,
      });
      results.push(result);
      await appendEvent(options.logFile, {
        event: `sweeper-${result.outcome}`,
        name: segment.name,
        key: result.key,
      });
    }
    confirmed.add(mark);
  }
  return results;
}

/**
 * Keeps the spool's storage health mark true (pipeline/health.ts): cleared once storage answers
 * (an upload succeeded, or a probe did when there was nothing to upload), refreshed while the
 * agent meets the outage too, so hooks keep spooling at once without each trying storage again.
 */
export async function tendHealthMark(options: AgentOptions, drained: DrainResult): Promise<void> {
  if (options.signal?.aborted) return;
  const marked = (await freshHealthMark(options.spoolDir, Number.POSITIVE_INFINITY)) !== undefined;
  if (
    drained.uploaded.length > 0 ||
    (marked && drained.failed.length === 0 && (await storageAnswers(options)))
  ) {
    if (await clearHealthMark(options.spoolDir))
      await appendEvent(options.logFile, { event: "storage-healthy" });
    return;
  }
  const outage = drained.failed.find((f) => f.outage);
  if (outage) await setHealthMark(options.spoolDir, outage.error, "agent");
}

/** One HEAD of a key that need not exist: any answer from the store (found or not) is health. */
async function storageAnswers(options: AgentOptions): Promise<boolean> {
  try {
    await options.backend.head(`${segmentsPrefix(options.identity)}health-probe`, { signal: options.signal });
    return true;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return true;
    if (isOutage(err))
      await setHealthMark(options.spoolDir, err instanceof Error ? err.message : String(err), "agent");
    return false;
  }
}

/**
 * Runs passes until the signal aborts (or once). Each pass: drain the spool, then sweep; partial
 * uploads run on their own, usually shorter, interval between passes.
 */
/** The figures before the first pass. */
export function emptyAgentStats(): AgentStats {
  return {
    spoolCount: 0,
    spoolBytes: 0,
    uploaded: 0,
    failures: 0,
    swept: 0,
    lastPassMs: 0,
    partials: 0,
    newestPartialSyncedMs: undefined,
    uploadsAborted: 0,
  };
}

export async function runAgent(
  options: AgentOptions,
  loop: { once: boolean; intervalMs: number; onPass?: (stats: AgentStats) => void },
): Promise<AgentStats> {
  const confirmed = new Set<string>();
  const partialState = newPartialState({ visibleTail: options.visibleTail === true });
  const stats = emptyAgentStats();
  const clock = options.now ?? Date.now;
  let nextPassMs = 0;
  let nextUploadCheckMs = 0;
  for (;;) {
    if (clock() >= nextPassMs || loop.once) {
      await fullPass(options, confirmed, stats);
      nextPassMs = clock() + loop.intervalMs;
    }
    if (clock() >= nextUploadCheckMs && !options.signal?.aborted && !(await storageMarkedDown(options))) {
      await unfinishedUploadCheck(options, stats);
      nextUploadCheckMs =
        clock() + (options.unfinishedUploadIntervalMs ?? UNFINISHED_UPLOAD_CHECK_INTERVAL_MS);
    }
    await partialPass(options, partialState, stats);
    loop.onPass?.(stats);
    if (loop.once || options.signal?.aborted) return stats;
    await watchSyncs(
      options,
      partialState,
      Math.min(loop.intervalMs, options.partialIntervalMs ?? loop.intervalMs),
    );
    if (options.signal?.aborted) return stats;
  }
}

async function fullPass(options: AgentOptions, confirmed: Set<string>, stats: AgentStats): Promise<void> {
  const drained = await drainSpool(options);
  await tendHealthMark(options, drained);
  stats.uploaded += drained.uploaded.length;
  stats.failures += drained.failed.length;
  try {
    stats.swept += (await sweepCommitlog(options, confirmed)).length;
  } catch (err) {
    stats.failures++;
    await appendEvent(options.logFile, {
      event: "sweep-failed",
      error: err instanceof Error ? err.message : String(err),
    });
  }
  try {
    await options.passTasks?.();
  } catch (err) {
    stats.failures++;
    await appendEvent(options.logFile, {
      event: "pass-task-failed",
      error: err instanceof Error ? err.message : String(err),
    });
  }
  const left = await listSpool(options.spoolDir);
  stats.spoolCount = left.length;
  stats.spoolBytes = left.reduce((sum, s) => sum + s.size, 0);
  stats.lastPassMs = (options.now ?? Date.now)();
}

/** The health mark is set: a check would only wait on storage; it runs once the mark is cleared. */
async function storageMarkedDown(options: AgentOptions): Promise<boolean> {
  return (await freshHealthMark(options.spoolDir, Number.POSITIVE_INFINITY)) !== undefined;
}

/**
 * Aborts the node's dead unfinished uploads, each one an event line; a failed call is a failure
 * line (and counted), and the check runs again at the next interval.
 */
async function unfinishedUploadCheck(options: AgentOptions, stats: AgentStats): Promise<void> {
  let check;
  try {
    check = await abortUnfinishedUploads(options.backend, options.identity, {
      nowMs: (options.now ?? Date.now)(),
      minAgeMs: options.unfinishedUploadMinAgeMs ?? unfinishedUploadMinAge(0),
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal?.aborted) return;
    throw err;
  }
  if (check === undefined) return;
  stats.uploadsAborted += check.aborted.length;
  for (const upload of check.aborted) {
    await appendEvent(options.logFile, {
      event: "unfinished-upload-aborted",
      key: upload.key,
      initiated: upload.initiated.toISOString(),
    });
  }
  if (check.error !== undefined) {
    stats.failures++;
    await appendEvent(options.logFile, {
      event: "unfinished-uploads-failed",
      error: check.error instanceof Error ? check.error.message : String(check.error),
      ...(isPitrError(check.error) && check.error.code === "E_ACCESS_DENIED"
        ? {
            hint: "the agent's credentials need s3:ListBucketMultipartUploads, s3:ListMultipartUploadParts and s3:AbortMultipartUpload (docs/policies/s3-agent.json)",
          }
        : {}),
    });
  } else if (check.aborted.length > 0 || check.kept > 0 || check.more) {
    await appendEvent(options.logFile, {
      event: "unfinished-uploads",
      aborted: check.aborted.length,
      kept: check.kept,
      more: check.more,
    });
  }
}

/** Storage down: the sections stay on disk and in the uploader's progress, and go up on a later pass. */
async function partialPass(options: AgentOptions, state: PartialState, stats: AgentStats): Promise<void> {
  if (options.partialIntervalMs === undefined || !options.commitlogDir) return;
  const base = {
    backend: options.backend,
    identity: options.identity,
    commitlogDir: options.commitlogDir,
    logFile: options.logFile,
    signal: options.signal,
    now: options.now,
  };
  try {
    const pass = await uploadPartials({ ...base, source: "agent" }, state);
    stats.partials += pass.uploads.length;
    if (pass.newestSyncedBeforeMs)
      stats.newestPartialSyncedMs = Math.max(stats.newestPartialSyncedMs ?? 0, pass.newestSyncedBeforeMs);
  } catch (err) {
    stats.failures++;
    await appendEvent(options.logFile, {
      event: "partial-failed",
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * Waits `ms` until the next pass; with partial uploads on, looks at Cassandra's syncs every second
 * meanwhile, so that the next pass's claim follows the newest sync (sync-watch.ts). A look that
 * fails proves nothing and is not retried: the next one reads afresh.
 */
async function watchSyncs(options: AgentOptions, state: PartialState, ms: number): Promise<void> {
  const clock = options.now ?? Date.now;
  const dir = options.partialIntervalMs !== undefined ? options.commitlogDir : undefined;
  for (let left = ms; left > 0 && !options.signal?.aborted; left -= SYNC_WATCH_INTERVAL_MS) {
    const archived = (name: string) => state.segments.get(name)?.archived === true;
    if (dir && state.watch) await lookAtSyncs(dir, state.watch, clock(), archived).catch(() => undefined);
    await sleep(Math.min(left, SYNC_WATCH_INTERVAL_MS), options.signal);
  }
}

/** Resolves after `ms` or on abort; its abort listener goes with it (a pass every 10 s would otherwise pile them up on the agent's one signal). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
