/**
 * Watching Cassandra's commit log syncs between partial uploads, so that a partial's claim follows
 * the newest sync rather than the previous upload pass (pipeline/partial.ts, docs/agent.md).
 *
 * Every second the watch reads the 12 bytes where each segment's synced sections end: the marker slot
 * and the int32 after it. Two facts come out of it, each sound without trusting the sync period:
 *
 * - **A sync happened.** A marker that was not there at the previous look was written by a sync that
 *   started after that look, less the time a sync takes to write its marker (covered by the claim
 *   margin). A sync writes its marker where the next allocation would have gone, so every write
 *   allocated before the previous look is below the new end.
 * - **Nothing is waiting** (memory-mapped segments only). Cassandra serializes a mutation into the
 *   mapped file as soon as it allocates it, before any sync, so an unsynced mutation shows as a
 *   non-zero entry size after the zeroed marker slot. When no segment shows one, every write allocated
 *   before the look is synced: an idle node's window keeps up with the clock. A compressed, encrypted
 *   or direct-I/O segment keeps its unsynced writes in memory, so for them this proof is never made.
 *
 * The watch only reads; a segment it cannot read or parse is skipped and proves nothing.
 */
import { constants } from "node:fs";
import { open, readdir, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import {
  MAX_PARAMETERS_LENGTH,
  parseSegmentHeader,
  type SegmentHeader,
} from "../commitlog/segment-header.js";
import { isSegmentName, parseSegmentName } from "../commitlog/segment-name.js";
import { parseSyncMarkerSlot, SYNC_MARKER_SIZE } from "../commitlog/sync-marker.js";

/** How often the agent looks at the markers between uploads. */
export const SYNC_WATCH_INTERVAL_MS = 1_000;
/** At most this many new markers are followed per segment and look (a look stays a few reads). */
const MAX_MARKERS_PER_LOOK = 10_000;

export interface SyncWatchSettings {
  /**
   * Unsynced mutations are visible in the file: the node maps its uncompressed segments
   * (commitlog_disk_access_mode legacy or mmap, or a version without the setting).
   */
  readonly visibleTail: boolean;
}

/** What the watch knows of one segment. */
export interface WatchedSegment {
  readonly segmentId: bigint;
  header: SegmentHeader | undefined;
  /** File offset of the marker slot after the last synced section seen (the synced end). */
  slot: number;
  /** Every write allocated before `claimMs` is below file offset `offset` (this or older segments). */
  claim: { offset: number; claimMs: number } | undefined;
}

export interface SyncWatch {
  readonly settings: SyncWatchSettings;
  readonly segments: Map<string, WatchedSegment>;
  /** When the previous look started (undefined before the first). */
  previousLookMs: number | undefined;
  /** The last look found nothing waiting anywhere: its start, and each segment's synced end then. */
  quiet: { readonly atMs: number; readonly ends: ReadonlyMap<string, number> } | undefined;
}

export function newSyncWatch(settings: SyncWatchSettings): SyncWatch {
  return { settings, segments: new Map(), previousLookMs: undefined, quiet: undefined };
}

/**
 * One look at every segment of the directory. `nowMs` is read before the listing: a segment created
 * after it can only hold writes allocated after it, so the quiet proof holds for every write before.
 */
export async function lookAtSyncs(
  dir: string,
  watch: SyncWatch,
  nowMs: number,
  archivedWhole: (name: string) => boolean = () => false,
): Promise<void> {
  // A segment archived whole was closed: nothing waits in it, and it need not be read again.
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => isSegmentName(n) && !archivedWhole(n))
    .sort();
  for (const gone of [...watch.segments.keys()].filter((n) => !names.includes(n)))
    watch.segments.delete(gone);
  let allQuiet = names.length > 0;
  const ends = new Map<string, number>();
  for (const name of names) {
    const seen = await lookAtSegment(join(dir, name), name, watch);
    if (seen === "gone") continue; // archived and deleted: it holds nothing unsynced
    if (seen !== "quiet") allQuiet = false;
    ends.set(name, watch.segments.get(name)!.slot);
  }
  watch.quiet = allQuiet ? { atMs: nowMs, ends } : undefined;
  watch.previousLookMs = nowMs;
}

type Seen = "gone" | "quiet" | "waiting" | "unknown";

async function lookAtSegment(path: string, name: string, watch: SyncWatch): Promise<Seen> {
  let file: FileHandle;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return "gone";
  }
  try {
    const size = (await file.stat()).size;
    let w = watch.segments.get(name);
    if (!w) {
      w = { segmentId: parseSegmentName(name).id, header: undefined, slot: 0, claim: undefined };
      watch.segments.set(name, w);
    }
    if (!w.header) {
      w.header = await readHeader(file, size, name);
      if (!w.header) return "unknown";
      w.slot = w.header.headerLength;
    }
    return await followMarkers(file, size, w, watch);
  } finally {
    await file.close();
  }
}

/** Walks the markers written since the last look; records the claim a new one gives. */
async function followMarkers(
  file: FileHandle,
  size: number,
  w: WatchedSegment,
  watch: SyncWatch,
): Promise<Seen> {
  const mapped =
    watch.settings.visibleTail && w.header!.compression === undefined && w.header!.encryption === undefined;
  let advanced = false;
  let seen: Seen = "waiting";
  for (let i = 0; i < MAX_MARKERS_PER_LOOK; i++) {
    const bytes = await readAt(file, w.slot, SYNC_MARKER_SIZE + 4);
    const marker = parseSyncMarkerSlot(bytes.subarray(0, SYNC_MARKER_SIZE), w.segmentId, w.slot, size);
    if (marker.kind === "marker") {
      w.slot = marker.next;
      advanced = true;
      continue;
    }
    // A mapped segment full to its last byte can take nothing more; a zeroed slot followed by a
    // zero entry size: no mutation serialized since the last sync.
    const nothingAfter = bytes.length < SYNC_MARKER_SIZE + 4 || bytes.readInt32BE(SYNC_MARKER_SIZE) === 0;
    if (mapped && (marker.kind === "end-of-file" || (marker.kind === "zeroed" && nothingAfter)))
      seen = "quiet";
    break; // being written, torn, or the end of what is synced: the next look goes on from here
  }
  if (advanced && watch.previousLookMs !== undefined)
    w.claim = { offset: w.slot, claimMs: watch.previousLookMs };
  return seen;
}

/**
 * The newest instant the watch vouches for, for a chain of segment `name` uploaded up to file offset
 * `end` (undefined: none). Before the claim margin is taken off (pipeline/partial.ts).
 */
export function watchedClaim(watch: SyncWatch | undefined, name: string, end: number): number | undefined {
  if (!watch) return undefined;
  const w = watch.segments.get(name);
  let best: number | undefined;
  if (w?.claim && w.claim.offset <= end) best = w.claim.claimMs;
  const quietEnd = watch.quiet?.ends.get(name);
  if (quietEnd !== undefined && quietEnd <= end) best = Math.max(best ?? 0, watch.quiet!.atMs);
  return best;
}

async function readHeader(file: FileHandle, size: number, name: string): Promise<SegmentHeader | undefined> {
  try {
    return parseSegmentHeader(await readAt(file, 0, Math.min(size, 18 + MAX_PARAMETERS_LENGTH)), name);
  } catch {
    return undefined; // not written yet (a compressed segment's header comes with its first sync)
  }
}

async function readAt(file: FileHandle, offset: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  const { bytesRead } = await file.read(out, 0, length, offset);
  return out.subarray(0, bytesRead);
}
