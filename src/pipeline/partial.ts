/**
 * Partial uploads: the newly synced sections of segments Cassandra has not archived yet, so that the
 * recovery point does not wait for a 32 MiB segment to fill (format/partial-layout.ts).
 *
 * Each pass walks only the sections after the last uploaded one (classifySegmentFrom with
 * `sectionsFrom`), so both the reading and the storage cost grow with the new bytes, never with the
 * prefix. A section is uploaded only when its sync marker CRC and its entries' CRCs check: a section
 * Cassandra is still writing fails the check and waits for the next pass. The file is only read.
 *
 * When a segment is seen for the first time the archive is asked whether it is already archived
 * whole (the id index) and which of its partials exist, so a restarted agent resumes where it was.
 */
import { createHash, type Hash } from "node:crypto";
import { constants, readSync } from "node:fs";
import { open, readdir, readlink, realpath, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import {
  classifySegmentFrom,
  type SegmentClassification,
  type SegmentReader,
} from "../commitlog/classify.js";
import {
  MAX_PARAMETERS_LENGTH,
  parseSegmentHeader,
  type SegmentHeader,
} from "../commitlog/segment-header.js";
import { isSegmentName, parseSegmentName } from "../commitlog/segment-name.js";
import { segmentIdKey, type NodeIdentity } from "../format/layout.js";
import {
  parsePartialKey,
  partialChain,
  type PartialKeyParts,
  partialFromMetadata,
  partialKey,
  partialSegmentPrefix,
  partialToMetadata,
  type HeartbeatRecord,
  type PartialRecord,
  type PartialSource,
} from "../format/partial-layout.js";
import { PitrError } from "../errors/base.js";
import { ObjectNotFoundError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";
import { appendEvent } from "./events.js";
import { segmentOpenError } from "./segment-file.js";
import { newSyncWatch, watchedClaim, type SyncWatch, type SyncWatchSettings } from "./sync-watch.js";

/**
 * Taken off the agent's claim: a sync captures its end position a little before it writes the marker
 * the agent sees, and a coordinator stamps a write before the node allocates it (at most about the
 * write timeout, 2 s by default, later). Writes stamped inside the margin are still uploaded; only
 * the claimed window stops short of them.
 */
export const PARTIAL_CLAIM_MARGIN_MS = 2_000;

export interface PartialOptions {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly commitlogDir: string;
  readonly source: PartialSource;
  readonly logFile?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly now?: (() => number) | undefined;
}

interface SegmentProgress {
  readonly name: string;
  readonly segmentId: bigint;
  readonly version: number;
  /** Archived whole: nothing more to upload for it. */
  archived: boolean;
  header: SegmentHeader | undefined;
  /** File offset and logical position uploaded up to (a section boundary). */
  end: number;
  logicalEnd: number;
  /** sha256 state over [0, end). */
  hash: Hash;
  syncedBeforeMs: number;
  /** The chain ends with a heartbeat: its record and when it last beat (heartbeat()). */
  beat: { record: HeartbeatRecord; lastMs: number } | undefined;
}

/** What the uploader remembers between passes; one per agent. */
export interface PartialState {
  readonly segments: Map<string, SegmentProgress>;
  /** When the previous pass started reading (undefined before the first). */
  previousPassMs: number | undefined;
  /** The agent's looks at Cassandra's syncs between passes (pipeline/sync-watch.ts); none for a rescue. */
  readonly watch: SyncWatch | undefined;
}

export function newPartialState(watch?: SyncWatchSettings): PartialState {
  return { segments: new Map(), previousPassMs: undefined, watch: watch ? newSyncWatch(watch) : undefined };
}

export interface PartialUpload {
  readonly key: string;
  readonly bytes: number;
  readonly syncedBeforeMs: number;
}

export interface PartialPass {
  readonly uploads: PartialUpload[];
  /** Newest claim over every segment uploaded so far (undefined when nothing was). */
  readonly newestSyncedBeforeMs: number | undefined;
}

/**
 * One pass over the commit log directory, oldest segment first: each segment's sections synced since
 * the last pass go up as one object. Storage errors, and a segment or directory that cannot be read,
 * propagate; the progress stays for the next pass.
 *
 * The agent's claim goes on the head only: the newest segment with synced data, uploaded last. A
 * claim vouches for every write allocated before it in this segment and the older ones, so it must
 * not reach the archive before their bytes do; and an older segment that Cassandra has closed may
 * have writes before the claim in a newer one. So each segment's new bytes are held until the next
 * segment turns out to have new bytes too (then they go up without a claim): a pass holds at most
 * two segments' new bytes. When the head has nothing new but the claim moved on (an idle node, or a
 * sync the watch saw), an empty object at its end carries the new claim.
 */
export async function uploadPartials(options: PartialOptions, state: PartialState): Promise<PartialPass> {
  const passMs = (options.now ?? Date.now)();
  const names = await segmentNames(options.commitlogDir);
  for (const gone of [...state.segments.keys()].filter((n) => !names.includes(n)))
    state.segments.delete(gone);
  const uploads: PartialUpload[] = [];
  const put = async (sections: NewSections, claimMs: number | undefined) => {
    const p = sections.progress;
    if (sections.bytes.length > 0 && p.end > 0 && (await closedAndArchived(options, p))) return;
    uploads.push(await putSections(options, sections, claimMs));
  };
  let held: NewSections | undefined;
  let newBytes = false;
  for (const name of names) {
    if (options.signal?.aborted) break;
    const sections = await readNewSections(options, await progressOf(options, state, name));
    if (!sections) continue;
    newBytes ||= sections.bytes.length > 0;
    if (options.source === "rescue") await put(sections, passMs);
    else {
      if (held) await put(held, undefined);
      held = sections;
    }
  }
  if (options.source === "agent" && !options.signal?.aborted) {
    const head = headOf(names, state, held);
    const claim = headClaim(state, head, held, newBytes);
    if (held) await put(held, held.progress === head ? claim : undefined);
    if (head && head !== held?.progress) {
      const beat = await heartbeat(options, head, claim);
      if (beat) uploads.push(beat);
    }
  }
  state.previousPassMs = passMs;
  let newest: number | undefined;
  for (const p of state.segments.values())
    if (p.end > 0 && (newest === undefined || p.syncedBeforeMs > newest)) newest = p.syncedBeforeMs;
  return { uploads, newestSyncedBeforeMs: newest };
}

/** A segment's progress, resumed from the archive when it is first seen. */
async function progressOf(
  options: PartialOptions,
  state: PartialState,
  name: string,
): Promise<SegmentProgress> {
  let progress = state.segments.get(name);
  if (!progress) {
    progress = await resume(options, name);
    state.segments.set(name, progress);
  }
  return progress;
}

/** The newest segment that has synced data in the archive once this pass is up (undefined: none). */
function headOf(
  names: readonly string[],
  state: PartialState,
  held: NewSections | undefined,
): SegmentProgress | undefined {
  for (const name of [...names].reverse()) {
    const p = state.segments.get(name);
    if (!p || p.archived) continue;
    if (p.end > 0 || (held?.progress === p && held.bytes.length > 0)) return p;
  }
  return undefined;
}

/**
 * What the agent's pass may claim for the head: new sections anywhere were synced after the
 * previous pass started, so every write allocated before then is in them or older ones; the watch
 * may have seen a later sync, or nothing waiting at its last look. Less the margin either way.
 */
function headClaim(
  state: PartialState,
  head: SegmentProgress | undefined,
  held: NewSections | undefined,
  newBytes: boolean,
): number | undefined {
  if (!head) return undefined;
  const uploadedEnd = (p: SegmentProgress) => p.end + (held?.progress === p ? held.bytes.length : 0);
  if (olderSegmentLags(state, head, uploadedEnd)) return undefined;
  const best = Math.max(
    (newBytes ? state.previousPassMs : undefined) ?? -Infinity,
    watchedClaim(state.watch, head.name, uploadedEnd(head)) ?? -Infinity,
  );
  return Number.isFinite(best) ? best - PARTIAL_CLAIM_MARGIN_MS : undefined;
}

/**
 * An older segment whose upload stops before a marker the watch has seen (a section that did not
 * verify, or was still being written when the pass read it): a claim on the head would vouch for
 * writes the archive does not hold, so the pass claims nothing new until it catches up.
 */
function olderSegmentLags(
  state: PartialState,
  head: SegmentProgress,
  uploadedEnd: (p: SegmentProgress) => number,
): boolean {
  for (const p of state.segments.values()) {
    if (p.archived || p.segmentId >= head.segmentId) continue;
    const watched = state.watch?.segments.get(p.name);
    if (watched?.header && watched.slot > watched.header.headerLength && uploadedEnd(p) < watched.slot)
      return true;
  }
  return false;
}

/** The progress of a segment first seen: archived whole, or resumed after its uploaded partials. */
async function resume(options: PartialOptions, name: string): Promise<SegmentProgress> {
  const { id, version } = parseSegmentName(name);
  const progress: SegmentProgress = {
    name,
    segmentId: id,
    version,
    archived: false,
    header: undefined,
    end: 0,
    logicalEnd: 0,
    hash: createHash("sha256"),
    syncedBeforeMs: 0,
    beat: undefined,
  };
  progress.archived = await exists(options, segmentIdKey(options.identity, id, version));
  if (progress.archived) return progress;
  const last = await lastOfChain(options, id, version);
  if (!last) return progress;
  // Re-hash the uploaded prefix from the file: it must be the bytes the archive holds.
  const file = await open(join(options.commitlogDir, name), "r").catch(() => undefined);
  if (!file) return progress;
  try {
    const prefix = await readRange(file, 0, last.end);
    const hash = createHash("sha256").update(prefix);
    if (hash.copy().digest("hex") !== last.prefixSha256) {
      await appendEvent(options.logFile, {
        event: "partial-prefix-differs",
        name,
        key: partialKey(options.identity, id, version, last.start, last.end),
      });
      return progress;
    }
    return {
      ...progress,
      end: last.end,
      logicalEnd: last.logicalEnd,
      hash,
      syncedBeforeMs: last.syncedBeforeMs,
      beat:
        last.beat && last.end === last.start ? { record: last.beat, lastMs: last.uploadTimeMs } : undefined,
    };
  } finally {
    await file.close();
  }
}

async function exists(options: PartialOptions, key: string): Promise<boolean> {
  return options.backend.head(key, { signal: options.signal }).then(
    () => true,
    (err: unknown) => {
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    },
  );
}

/** The record of the last object of the contiguous chain from offset 0, if any. */
async function lastOfChain(
  options: PartialOptions,
  id: bigint,
  version: number,
): Promise<PartialRecord | undefined> {
  const parts: (PartialKeyParts & { key: string })[] = [];
  for await (const info of options.backend.list(partialSegmentPrefix(options.identity, id, version), {
    signal: options.signal,
  })) {
    const key = parsePartialKey(info.key);
    if (key) parts.push({ ...key, key: info.key });
  }
  const last = partialChain(parts).at(-1);
  return last
    ? partialFromMetadata((await options.backend.head(last.key, { signal: options.signal })).metadata)
    : undefined;
}

/** What one segment synced since the last upload: the verified bytes from `start`. */
interface NewSections {
  readonly progress: SegmentProgress;
  readonly start: number;
  readonly bytes: Buffer;
  /** Logical position where the verified data ends. */
  readonly dataEnd: number;
}

/**
 * Reads the sections a segment synced since the last upload; undefined when there is nothing to
 * upload (a rescue still seals a chain it finds nothing new for: an empty object at its end).
 */
async function readNewSections(
  options: PartialOptions,
  p: SegmentProgress,
): Promise<NewSections | undefined> {
  if (p.archived) return undefined;
  const file = await openIfPresent(join(options.commitlogDir, p.name));
  if (!file) return undefined; // deleted since the listing: Cassandra archived it (the hook has it) first
  try {
    const size = (await file.stat()).size;
    p.header ??= await readHeader(file, size, p.name);
    if (!p.header) return undefined;
    const from =
      p.end === 0
        ? { offset: p.header.headerLength, logical: p.header.headerLength }
        : { offset: p.end, logical: p.logicalEnd };
    const { walked, bytes } = syncedSections(p.name, fileReader(file, size), from, p.end);
    if (walked.lastValidOffset <= from.offset && !(options.source === "rescue" && p.end > 0))
      return undefined;
    return { progress: p, start: p.end, bytes, dataEnd: walked.dataEnd };
  } finally {
    await file.close();
  }
}

/** Uploads one segment's new sections as one object, with the claim the pass gives it. */
async function putSections(
  options: PartialOptions,
  { progress: p, start, bytes, dataEnd }: NewSections,
  claimMs: number | undefined,
  beat?: HeartbeatRecord,
): Promise<PartialUpload> {
  const hash = p.hash.copy().update(bytes);
  const record: PartialRecord = {
    segmentId: p.segmentId,
    version: p.version,
    start,
    end: start + bytes.length,
    logicalEnd: Math.max(dataEnd, p.logicalEnd),
    sha256: createHash("sha256").update(bytes).digest("hex"),
    prefixSha256: hash.copy().digest("hex"),
    syncedBeforeMs: Math.max(p.syncedBeforeMs, claimMs ?? 0),
    uploadTimeMs: (options.now ?? Date.now)(),
    source: options.source,
    beat,
  };
  const key = partialKey(options.identity, p.segmentId, p.version, start, record.end);
  await options.backend.put(key, bytes, { metadata: partialToMetadata(record), signal: options.signal });
  Object.assign(p, {
    end: record.end,
    logicalEnd: record.logicalEnd,
    hash,
    syncedBeforeMs: record.syncedBeforeMs,
    beat: beat ? { record: beat, lastMs: record.uploadTimeMs } : undefined,
  });
  await appendEvent(options.logFile, {
    event: `partial-${options.source}`,
    name: p.name,
    key,
    bytes: bytes.length,
  });
  return { key, bytes: bytes.length, syncedBeforeMs: record.syncedBeforeMs };
}

/** Below this, a claim that moved on is not worth an object of its own: the next one carries it. */
const HEARTBEAT_MIN_ADVANCE_MS = 1_000;

/**
 * The head's claim moved on without new bytes: an empty object at the chain's end carries it. Its
 * key is the same at each beat until new sections arrive, so an idle node keeps one such object per
 * segment (each beat overwrites it; versioned buckets keep the versions until retention).
 */
async function heartbeat(
  options: PartialOptions,
  head: SegmentProgress,
  claimMs: number | undefined,
): Promise<PartialUpload | undefined> {
  if (claimMs === undefined || claimMs < head.syncedBeforeMs + HEARTBEAT_MIN_ADVANCE_MS) return undefined;
  const now = (options.now ?? Date.now)();
  const previous = head.beat;
  const beat: HeartbeatRecord = {
    sinceMs: previous?.record.sinceMs ?? now,
    maxGapMs: Math.max(previous?.record.maxGapMs ?? 0, previous ? now - previous.lastMs : 0),
    maxLagMs: Math.max(previous?.record.maxLagMs ?? 0, now - claimMs),
  };
  const sections = { progress: head, start: head.end, bytes: Buffer.alloc(0), dataEnd: head.logicalEnd };
  return putSections(options, sections, claimMs, beat);
}

/** The header, or undefined while it is not written yet (a pre-allocated segment) or unreadable. */
async function readHeader(file: FileHandle, size: number, name: string): Promise<SegmentHeader | undefined> {
  try {
    return parseSegmentHeader(await readRange(file, 0, Math.min(size, 18 + MAX_PARAMETERS_LENGTH)), name);
  } catch {
    return undefined;
  }
}

/**
 * Opens a segment of the commit log directory; undefined when it is gone. Any other failure (no
 * permission, I/O error) stops the pass: a later segment's claim vouches for every earlier write, so
 * an unread earlier segment must not be stepped over.
 */
async function openIfPresent(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw segmentOpenError(err, path, "archive");
  }
}

/**
 * A segment with new sections after earlier uploads may have been closed and archived whole since
 * it was first seen (the hook ran while storage was down and the agent drained the spool): then
 * its catch-up is not uploaded again as partials. One HEAD, only when there is something to upload.
 */
async function closedAndArchived(options: PartialOptions, p: SegmentProgress): Promise<boolean> {
  if (options.source === "rescue") return false;
  p.archived = await exists(options, segmentIdKey(options.identity, p.segmentId, p.version));
  return p.archived;
}

/**
 * The synced sections after `from` (a section boundary), verified, and the segment's bytes from
 * `start` to the end of the last one: exactly the bytes the walk checked, as it read them, never a
 * second read of a file Cassandra may be writing (or a recycler rewriting) in between. A section
 * whose marker or entry CRCs do not check ends the walk, and is not in the bytes.
 */
export function syncedSections(
  name: string,
  reader: SegmentReader,
  from: { readonly offset: number; readonly logical: number },
  start: number,
): { walked: SegmentClassification; bytes: Buffer } {
  const recording = recordingReader(reader);
  const walked = classifySegmentFrom(name, recording, { sectionsFrom: from });
  return { walked, bytes: recording.recorded(start, Math.max(walked.lastValidOffset, start)) };
}

/** A reader that keeps what it returned, so that the verified bytes can be uploaded without reading them again. */
function recordingReader(
  inner: SegmentReader,
): SegmentReader & { recorded(start: number, end: number): Buffer } {
  const reads: { offset: number; bytes: Uint8Array }[] = [];
  return {
    length: inner.length,
    read(offset, length) {
      const bytes = inner.read(offset, length);
      reads.push({ offset, bytes });
      return bytes;
    },
    /** [start, end) as last read (a later read of the same bytes is the one the walk checked). */
    recorded(start, end) {
      const out = Buffer.alloc(end - start);
      const covered = new Uint8Array(end - start);
      for (const r of reads) {
        const from = Math.max(start, r.offset);
        const to = Math.min(end, r.offset + r.bytes.length);
        if (to <= from) continue;
        out.set(r.bytes.subarray(from - r.offset, to - r.offset), from - start);
        covered.fill(1, from - start, to - start);
      }
      if (covered.includes(0))
        throw new PitrError(
          "E_INTERNAL",
          `partial upload: bytes ${start}..${end} were not all read by the section walk`,
        );
      return out;
    },
  };
}

async function readRange(file: FileHandle, start: number, end: number): Promise<Buffer> {
  const out = Buffer.alloc(end - start);
  let done = 0;
  while (done < out.length) {
    const { bytesRead } = await file.read(out, done, out.length - done, start + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return out.subarray(0, done);
}

/**
 * A reader over the file from `from` on, reading only what the walk asks for (the classifier's reader
 * is synchronous): an mmap segment is its full size on disk, and its unwritten rest is never read.
 */
function fileReader(file: FileHandle, size: number): SegmentReader {
  return {
    length: size,
    read: (offset, length) => {
      const out = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      let done = 0;
      while (done < out.length) {
        const n = readSync(file.fd, out, done, out.length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return out.subarray(0, done);
    },
  };
}

/**
 * Processes that hold a file of the commit log directory open (Linux /proc): while Cassandra runs it
 * holds its active segment, so a rescue refuses. Processes we may not inspect are not seen; the
 * caller also says the node must be down.
 */
export async function commitlogHolders(commitlogDir: string): Promise<number[]> {
  const dir = await realpath(commitlogDir);
  const holders: number[] = [];
  for (const pid of (await readdir("/proc").catch(() => [] as string[])).filter((p) => /^\d+$/.test(p))) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      if (target.startsWith(`${dir}/`) && isSegmentName(target.slice(dir.length + 1))) {
        holders.push(Number(pid));
        break;
      }
    }
  }
  return holders;
}

/**
 * A dead node's tail: uploads the synced sections of every segment still on disk and not archived
 * whole, flagged `rescue`, claiming the rescue's time (the node is down: nothing more will be synced,
 * and Cassandra itself would replay exactly these sections). Refuses while a process holds a segment.
 */
export async function rescueTail(options: Omit<PartialOptions, "source">): Promise<PartialPass> {
  const names = await segmentNames(options.commitlogDir);
  if (names.length === 0) {
    throw new PitrError(
      "E_NOT_FOUND",
      `nothing to rescue: no commit log segment in '${options.commitlogDir}'`,
      {
        hint: "commitlogDir must be the node's commitlog_directory (cassandra.yaml); a node whose segments were all archived and removed has no tail left",
      },
    );
  }
  const holders = await commitlogHolders(options.commitlogDir);
  if (holders.length > 0) {
    throw new PitrError(
      "E_NODE_STATE",
      `process ${holders.join(", ")} holds commit log segments open in '${options.commitlogDir}': the node is running`,
      {
        hint: "rescue is for a node that is down; while it runs, the agent uploads partial segments",
      },
    );
  }
  return uploadPartials({ ...options, source: "rescue" }, newPartialState());
}

/**
 * The segment file names in a commit log directory that rescue must read: a directory that is
 * missing, not a directory or unreadable is refused with what to fix, never taken for an empty one.
 */
async function segmentNames(dir: string): Promise<string[]> {
  const what = `commit log directory '${dir}'`;
  const hint =
    "set commitlogDir (config file or --commitlog-dir) to the node's commitlog_directory, readable by this user";
  const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR")
      throw new PitrError("E_NOT_FOUND", `${what} does not exist`, { hint });
    if (err.code === "EACCES" || err.code === "EPERM")
      throw new PitrError("E_ACCESS_DENIED", `${what}: permission denied`, { hint });
    throw err;
  });
  if (!info.isDirectory()) throw new PitrError("E_CONFIG", `${what} is not a directory`, { hint });
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EACCES" || err.code === "EPERM")
      throw new PitrError("E_ACCESS_DENIED", `cannot list ${what}: permission denied`, { hint });
    throw err;
  });
  return names.filter(isSegmentName).sort();
}

/** A segment on the node's disk and how far its synced sections reach. */
export interface SegmentOnDisk {
  readonly name: string;
  readonly segmentId: bigint;
  /** File offset where its verified sections end (0: nothing synced). */
  readonly syncedEnd: number;
  readonly modifiedMs: number;
}

/** The segments in the commit log directory with their synced end (each file walked once, read only). */
export async function segmentsOnDisk(commitlogDir: string): Promise<SegmentOnDisk[]> {
  const out: SegmentOnDisk[] = [];
  for (const name of (await readdir(commitlogDir).catch(() => [] as string[])).filter(isSegmentName).sort()) {
    const file = await open(join(commitlogDir, name), "r").catch(() => undefined);
    if (!file) continue; // deleted since the listing
    try {
      const st = await file.stat();
      const walked = classifySegmentFrom(name, fileReader(file, st.size));
      out.push({
        name,
        segmentId: parseSegmentName(name).id,
        syncedEnd: walked.sections > 0 ? walked.lastValidOffset : 0,
        modifiedMs: st.mtimeMs,
      });
    } finally {
      await file.close();
    }
  }
  return out;
}
