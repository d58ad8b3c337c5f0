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
import type { Backend } from "../storage/types.js";
import { appendEvent } from "./events.js";
import { segmentKey, type NodeIdentity } from "../format/layout.js";
import { pushSegment, type PushResult } from "./push.js";
import { listSpool, releaseSpooled, type SpooledSegment } from "./spool.js";

export interface AgentOptions {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly spoolDir: string;
  readonly commitlogDir?: string | undefined;
  readonly parallelism: number;
  readonly compressionLevel: number;
  readonly compressionThreads: number;
  readonly sweepMinAgeMs: number;
  readonly logFile?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly now?: (() => number) | undefined;
}

export interface DrainResult {
  readonly uploaded: PushResult[];
  readonly failed: { name: string; error: string }[];
}

export interface AgentStats {
  spoolCount: number;
  spoolBytes: number;
  uploaded: number;
  failures: number;
  swept: number;
  lastPassMs: number;
}

/** One pass over the spool. */
export async function drainSpool(options: AgentOptions): Promise<DrainResult> {
  const spooled = await listSpool(options.spoolDir);
  const uploaded: PushResult[] = [];
  const failed: { name: string; error: string }[] = [];
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
      failed.push({ name: s.name, error: message });
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
  const byId = names.map((name) => ({ name, ...parseSegmentName(name) })).sort((a, b) => (a.id < b.id ? -1 : 1));
  const closed = byId.slice(0, Math.max(0, byId.length - 2));
  const results: PushResult[] = [];
  for (const segment of closed) {
    if (options.signal?.aborted) break;
    const path = join(options.commitlogDir, segment.name);
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile() || now - s.mtimeMs < options.sweepMinAgeMs) continue;
    const mark = `${segment.name}@${Math.floor(s.mtimeMs)}:${s.size}`;
    if (confirmed.has(mark)) continue;
    const key = segmentKey(options.identity, { closeTimeMs: Math.floor(s.mtimeMs), segmentId: segment.id, version: segment.version });
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
      await appendEvent(options.logFile, { event: `sweeper-${result.outcome}`, name: segment.name, key: result.key });
    }
    confirmed.add(mark);
  }
  return results;
}

/** Runs passes until the signal aborts (or once). Each pass: drain the spool, then sweep. */
export async function runAgent(
  options: AgentOptions,
  loop: { once: boolean; intervalMs: number; onPass?: (stats: AgentStats) => void },
): Promise<AgentStats> {
  const confirmed = new Set<string>();
  const stats: AgentStats = { spoolCount: 0, spoolBytes: 0, uploaded: 0, failures: 0, swept: 0, lastPassMs: 0 };
  for (;;) {
    const drained = await drainSpool(options);
    stats.uploaded += drained.uploaded.length;
    stats.failures += drained.failed.length;
    try {
      stats.swept += (await sweepCommitlog(options, confirmed)).length;
    } catch (err) {
      stats.failures++;
      await appendEvent(options.logFile, { event: "sweep-failed", error: err instanceof Error ? err.message : String(err) });
    }
    const left = await listSpool(options.spoolDir);
    stats.spoolCount = left.length;
    stats.spoolBytes = left.reduce((sum, s) => sum + s.size, 0);
    stats.lastPassMs = (options.now ?? Date.now)();
    loop.onPass?.(stats);
    if (loop.once || options.signal?.aborted) return stats;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, loop.intervalMs);
      options.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (options.signal?.aborted) return stats;
  }
}
