/**
 * The catalog of one node (pure): its archived segments in id order, JVM runs, gaps, duplicates,
 * snapshots, incrementals and the restorable window. Built from what a listing returned; no I/O.
 *
 * Gap rule (cassandra-internals.md §3.2 and "Gap / completeness detection"):
 * - Ids are consecutive within one JVM run. A run starts at id `max(startup ms, max id on disk + 1) + 1`,
 *   so the first id of a new run is, read as epoch ms, later than the close time of every segment
 *   of the previous run. Between two archived ids a < b, b starts a new run when a ≤ closeTime(a) < b
 *   (ids behind the clock, the normal case), or when b − a exceeds RUN_JUMP (no run loses that many).
 * - Limitation: when the ids ran ahead of the clock (clock stepped back), a restart that continued the
 *   ids is indistinguishable from the same run; its one unused id is then reported as lost (the
 *   conservative direction: the planner refuses rather than under-supplies).
 * - Inside a run every missing id is a lost segment.
 * - At a run boundary at most ONE missing id is expected, immediately before the boundary (the
 *   pre-allocated segment discarded at shutdown, or the unused id base when the new run continued
 *   from the ids on disk). After a SIGKILL the pre-allocated segment is archived empty at the next
 *   startup, so no id is missing at all. When the new run starts at a wall-clock id (the usual case)
 *   the previous run's last id is unknowable from ids, so nothing can be counted there.
 * - The newest run's segments after its newest archived id are the unarchived tail.
 */
import { parseSegmentKey, type NodeIdentity } from "../format/layout.js";

// ---- shapes read through injected loaders (src/backup/ will provide the real readers) ----------

export interface CommitLogPositionRef {
  readonly segmentId: bigint;
  readonly position: number;
}

export interface SnapshotSstable {
  readonly name: string;
  readonly bytes: number;
  /** Statistics.db min/max timestamps, in client timestamp units (µs normally). */
  readonly minTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly commitLogUpper?: CommitLogPositionRef | undefined;
}

export interface SnapshotTable {
  readonly keyspace: string;
  readonly table: string;
  readonly tableId: string;
  readonly sstables: readonly SnapshotSstable[];
  /** The table's schema.cql in the snapshot (null for system keyspaces; absent when not loaded). */
  readonly schemaCql?: string | null | undefined;
}

export interface SnapshotEntry {
  readonly tag: string;
  readonly snapshotTimeMs: number;
  readonly cassandraVersion: string;
  readonly tables: readonly SnapshotTable[];
  /** manifest.json present (written last): only complete snapshots are ever used. */
  readonly complete: boolean;
}

export interface IncrementalEntry {
  readonly keyspace: string;
  readonly table: string;
  readonly tableId: string;
  readonly sstable: string;
  readonly bytes: number;
  readonly foundTimeMs: number;
  readonly minTimestamp: bigint;
  readonly maxTimestamp: bigint;
}

// ---- segments ------------------------------------------------------------------------------

/** One listed segment object. */
export interface ListedSegment {
  readonly key: string;
  readonly closeTimeMs: number;
  readonly segmentId: bigint;
  readonly version: number;
  readonly conflict?: string | undefined;
  /** Stored (compressed) object size: what a restore fetches. */
  readonly storedBytes: number;
  /**
   * Set for a segment Cassandra had not closed, known from its partial objects (catalog/partials.ts):
   * the key names their folder, the close time is the chain's claim, the data ends at `endOffset`.
   */
  readonly partial?: { readonly endOffset: number; readonly source: "agent" | "rescue" } | undefined;
}

export interface CatalogSegment extends ListedSegment {
  /** Index into Catalog.runs. */
  readonly run: number;
}

export interface DuplicateSegment {
  readonly segmentId: bigint;
  readonly chosenKey: string;
  readonly others: readonly { readonly key: string; readonly reason: string }[];
}

export interface SegmentRun {
  readonly index: number;
  readonly firstId: bigint;
  readonly lastId: bigint;
  readonly firstCloseMs: number;
  readonly lastCloseMs: number;
  readonly segments: number;
  /** How the run ends in the archive: followed by a restart, or the newest run (tail not archived yet). */
  readonly end: "restart" | "open";
  /** At a continued-id restart: the one missing id accepted as the discarded pre-allocated segment. */
  readonly discardedId?: bigint | undefined;
}

export interface SegmentGap {
  /** First and last missing id (inclusive). */
  readonly fromId: bigint;
  readonly toId: bigint;
  readonly count: number;
  /** The archived segments either side. */
  readonly afterId: bigint;
  readonly beforeId: bigint;
  readonly afterCloseMs: number;
  readonly kind: "inside-run" | "before-restart";
  readonly cause: string;
}

export interface UnarchivedTail {
  /** Segments with ids above this one (newest run) are not archived yet. */
  readonly afterId: bigint;
  /** Nothing written after this instant is restorable yet. */
  readonly sinceMs: number;
}

export interface RestorableRange {
  readonly snapshotTag: string;
  readonly fromMs: number;
  /** undefined when the snapshot has no usable segment chain (start segment missing). */
  readonly toMs: number | undefined;
  readonly startSegmentId: bigint | undefined;
  readonly endSegmentId: bigint | undefined;
}

export interface Catalog {
  readonly identity: NodeIdentity;
  /** The close-time window the listing covered. */
  readonly listedFromMs: number;
  readonly listedToMs: number;
  readonly segments: readonly CatalogSegment[];
  readonly duplicates: readonly DuplicateSegment[];
  readonly runs: readonly SegmentRun[];
  readonly gaps: readonly SegmentGap[];
  readonly unarchivedTail: UnarchivedTail | undefined;
  readonly snapshots: readonly SnapshotEntry[];
  readonly incrementals: readonly IncrementalEntry[];
  /** Per complete snapshot, oldest first. */
  readonly ranges: readonly RestorableRange[];
  /** Oldest snapshot with a gap-free chain to the newest restorable instant, and that instant. */
  readonly restorable:
    { readonly earliestMs: number; readonly latestMs: number; readonly snapshotTag: string } | undefined;
}

export interface CatalogInput {
  readonly identity: NodeIdentity;
  readonly listedFromMs: number;
  readonly listedToMs: number;
  readonly segments: readonly ListedSegment[];
  readonly snapshots: readonly SnapshotEntry[];
  readonly incrementals: readonly IncrementalEntry[];
}

/** No run loses this many consecutive segments; a bigger jump in ids is always a restart. */
export const RUN_JUMP = 1_000_000n;

export function listedSegmentOf(info: {
  readonly key: string;
  readonly size: number;
}): ListedSegment | undefined {
  const parts = parseSegmentKey(info.key);
  if (!parts) return undefined;
  return {
    key: info.key,
    closeTimeMs: parts.closeTimeMs,
    segmentId: parts.segmentId,
    version: parts.version,
    conflict: parts.conflict,
    storedBytes: info.size,
  };
}

function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Copies of one id: the latest close time wins (a later, complete copy); then the original over a conflict copy. */
function chooseCopies(listed: readonly ListedSegment[]): {
  chosen: ListedSegment[];
  duplicates: DuplicateSegment[];
} {
  const byId = new Map<bigint, ListedSegment[]>();
  for (const s of listed) {
    const list = byId.get(s.segmentId);
    if (list) list.push(s);
    else byId.set(s.segmentId, [s]);
  }
  const chosen: ListedSegment[] = [];
  const duplicates: DuplicateSegment[] = [];
  for (const [segmentId, copies] of byId) {
    const sorted = [...copies].sort(
      (a, b) =>
        b.closeTimeMs - a.closeTimeMs ||
        Number(a.conflict !== undefined) - Number(b.conflict !== undefined) ||
        (a.key < b.key ? -1 : 1),
    );
    const best = sorted[0]!;
    chosen.push(best);
    if (sorted.length > 1) {
      duplicates.push({
        segmentId,
        chosenKey: best.key,
        others: sorted.slice(1).map((o) => ({
          key: o.key,
          reason:
            o.closeTimeMs < best.closeTimeMs
              ? `earlier copy (closed ${new Date(o.closeTimeMs).toISOString()}), superseded by the copy closed ${new Date(best.closeTimeMs).toISOString()}`
              : `conflict copy: different bytes under the same name and close time; the first copy is used`,
        })),
      });
    }
  }
  chosen.sort((a, b) => compareIds(a.segmentId, b.segmentId));
  duplicates.sort((a, b) => compareIds(a.segmentId, b.segmentId));
  return { chosen, duplicates };
}

/** True when archived id b (after archived id a) belongs to a new JVM run. */
export function startsNewRun(a: ListedSegment, b: ListedSegment): boolean {
  const closeA = BigInt(a.closeTimeMs);
  return b.segmentId - a.segmentId > RUN_JUMP || (a.segmentId <= closeA && b.segmentId > closeA);
}

/** At most this many ids between two runs means the new run continued from the ids on disk. */
export const CONTINUED_MAX_JUMP = 16n;

export function buildCatalog(input: CatalogInput): Catalog {
  const { chosen, duplicates } = chooseCopies(input.segments);
  const { runs, gaps, segments } = runsAndGaps(chosen);
  const newest = segments[segments.length - 1];
  const unarchivedTail = newest ? { afterId: newest.segmentId, sinceMs: newest.closeTimeMs } : undefined;
  const snapshots = [...input.snapshots].sort(
    (a, b) => a.snapshotTimeMs - b.snapshotTimeMs || (a.tag < b.tag ? -1 : 1),
  );
  const incrementals = [...input.incrementals].sort(
    (a, b) => a.foundTimeMs - b.foundTimeMs || (a.sstable < b.sstable ? -1 : 1),
  );
  const ranges = restorableRanges(snapshots, { segments, gaps });
  return deepFreeze({
    identity: input.identity,
    listedFromMs: input.listedFromMs,
    listedToMs: input.listedToMs,
    segments,
    duplicates,
    runs,
    gaps,
    unarchivedTail,
    snapshots,
    incrementals,
    ranges,
    restorable: restorableWindow(ranges),
  });
}

/** The chosen copies (in id order) cut into JVM runs, with the ids missing inside and between them. */
function runsAndGaps(chosen: readonly ListedSegment[]): {
  runs: SegmentRun[];
  gaps: SegmentGap[];
  segments: CatalogSegment[];
} {
  const runs: SegmentRun[] = [];
  const gaps: SegmentGap[] = [];
  const segments: CatalogSegment[] = [];
  let runStart = 0;
  const closeRun = (endIndex: number, end: SegmentRun["end"], discardedId?: bigint) => {
    runs.push(
      runOf(runs.length, chosen[runStart]!, chosen[endIndex]!, endIndex - runStart + 1, end, discardedId),
    );
  };
  for (let i = 0; i < chosen.length; i++) {
    const s = chosen[i]!;
    const prev = i > 0 ? chosen[i - 1]! : undefined;
    if (prev) {
      const step = between(prev, s);
      if (step.gap) gaps.push(step.gap);
      if (step.newRun) {
        closeRun(i - 1, "restart", step.discardedId);
        runStart = i;
      }
    }
    segments.push({ ...s, run: runs.length });
  }
  if (chosen.length > 0) closeRun(chosen.length - 1, "open");
  return { runs, gaps, segments };
}

function runOf(
  index: number,
  first: ListedSegment,
  last: ListedSegment,
  count: number,
  end: SegmentRun["end"],
  discardedId: bigint | undefined,
): SegmentRun {
  return {
    index,
    firstId: first.segmentId,
    lastId: last.segmentId,
    firstCloseMs: first.closeTimeMs,
    lastCloseMs: last.closeTimeMs,
    segments: count,
    end,
    ...(discardedId !== undefined ? { discardedId } : {}),
  };
}

/**
 * What lies between two archived ids in a row: a new run starts (a restart), ids are missing (a gap),
 * or nothing. Pure.
 */
export function between(
  prev: ListedSegment,
  s: ListedSegment,
): { newRun: boolean; gap?: SegmentGap; discardedId?: bigint } {
  const missing = s.segmentId - prev.segmentId - 1n;
  const around = { afterId: prev.segmentId, beforeId: s.segmentId, afterCloseMs: prev.closeTimeMs };
  if (startsNewRun(prev, s)) {
    // Ids continued from the previous run (id base = max id on disk + 1): exactly one id is expected to be missing.
    const continued = s.segmentId - prev.segmentId <= CONTINUED_MAX_JUMP && missing >= 1n;
    const discarded = continued ? { discardedId: s.segmentId - 1n } : {};
    if (!continued || missing <= 1n) return { newRun: true, ...discarded };
    const cause =
      "segments of the run before a restart never reached the archive (a failed startup-pass archive is replayed and deleted)";
    return {
      newRun: true,
      ...discarded,
      gap: {
        fromId: prev.segmentId + 1n,
        toId: s.segmentId - 2n,
        count: Number(missing - 1n),
        ...around,
        kind: "before-restart",
        cause,
      },
    };
  }
  if (missing <= 0n) return { newRun: false };
  const cause =
    s.closeTimeMs - prev.closeTimeMs > 0 && missing === 1n
      ? "one segment inside a run was not archived (archive_command failed and Cassandra does not retry, or it was removed before upload)"
      : "segments inside a run were not archived (archive_command failures, or deleted before upload)";
  return {
    newRun: false,
    gap: {
      fromId: prev.segmentId + 1n,
      toId: s.segmentId - 1n,
      count: Number(missing),
      ...around,
      kind: "inside-run",
      cause,
    },
  };
}

/** From each complete snapshot: the instants its segment chain can restore to. */
function restorableRanges(snapshots: readonly SnapshotEntry[], chain: ChainSource): RestorableRange[] {
  return snapshots
    .filter((s) => s.complete)
    .map((snap) => {
      const start = snapshotStartSegmentId(chain, snap, undefined);
      const end = start === undefined ? undefined : chainEnd(chain, start);
      const endSeg = end === undefined ? undefined : chain.segments.find((x) => x.segmentId === end);
      const toMs = endSeg && endSeg.closeTimeMs >= snap.snapshotTimeMs ? endSeg.closeTimeMs : undefined;
      return {
        snapshotTag: snap.tag,
        fromMs: snap.snapshotTimeMs,
        toMs,
        startSegmentId: start,
        endSegmentId: toMs === undefined ? undefined : end,
      };
    });
}

/** The window reaching furthest, from the oldest snapshot whose chain reaches it. */
function restorableWindow(ranges: readonly RestorableRange[]): Catalog["restorable"] {
  const latest = ranges.reduce<number | undefined>(
    (m, r) => (r.toMs !== undefined && (m === undefined || r.toMs > m) ? r.toMs : m),
    undefined,
  );
  if (latest === undefined) return undefined;
  const oldest = ranges.find((r) => r.toMs === latest)!;
  return { earliestMs: oldest.fromMs, latestMs: latest, snapshotTag: oldest.snapshotTag };
}

type ChainSource = Pick<Catalog, "segments" | "gaps">;

/**
 * The first segment a restore from `snap` needs: the minimum over the (scoped) tables of the newest
 * commit log upper bound among each table's sstables; without bounds, the first segment whose close
 * time is at or after the snapshot time (the one active when it was taken).
 */
export function snapshotStartSegmentId(
  catalog: ChainSource,
  snap: SnapshotEntry,
  tables: ReadonlySet<string> | undefined,
): bigint | undefined {
  let min: bigint | undefined;
  for (const t of snap.tables) {
    if (tables && !tables.has(`${t.keyspace}.${t.table}`)) continue;
    let upper: bigint | undefined;
    for (const s of t.sstables)
      if (s.commitLogUpper && (upper === undefined || s.commitLogUpper.segmentId > upper))
        upper = s.commitLogUpper.segmentId;
    if (upper !== undefined && (min === undefined || upper < min)) min = upper;
  }
  if (min !== undefined) return min;
  return catalog.segments.find((s) => s.closeTimeMs >= snap.snapshotTimeMs)?.segmentId;
}

/** The newest id reachable from `startId` without crossing a gap; undefined when startId itself is not archived. */
export function chainEnd(catalog: ChainSource, startId: bigint): bigint | undefined {
  if (!catalog.segments.some((s) => s.segmentId === startId)) return undefined;
  const gap = catalog.gaps.find((g) => g.afterId >= startId);
  if (gap) return gap.afterId;
  return catalog.segments[catalog.segments.length - 1]!.segmentId;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
