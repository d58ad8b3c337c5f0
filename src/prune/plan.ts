/**
 * Retention (pure): which snapshots, incrementals, sstable components and segments no kept restore
 * point needs. Never deletes anything a kept restore point needs:
 *
 * - `--keep COUNT`: the newest COUNT complete snapshots are kept. `--keep DURATION`: every snapshot
 *   taken within DURATION of now, plus the newest one taken before now − DURATION, so that every
 *   instant of the last DURATION stays restorable (as pgBackRest's time retention keeps the backup
 *   the window starts from).
 * - From the oldest kept snapshot K on, everything is kept: its start segment (the segment holding
 *   the oldest commit log position K's sstables do not contain) and every later segment, and every
 *   incremental flushed from K's snapshot time on.
 * - A segment is deleted only when both its id is below K's start segment id and it closed before
 *   K was taken; an incremental only when flushed before K was taken; a component only when no kept
 *   snapshot and no kept incremental references it (components are content-addressed and shared).
 * - Nothing at all is deleted when no snapshot would be kept, or K has no start segment in the
 *   archive (its chain cannot be trusted to say what is needed).
 */
import type { ArchivedComponent, StoredIncremental, StoredSnapshot } from "../backup/types.js";
import { snapshotStartSegmentId, type Catalog, type SnapshotEntry } from "../catalog/model.js";

export type KeepPolicy =
  { readonly kind: "count"; readonly count: number } | { readonly kind: "duration"; readonly ms: number };

export interface PruneItem {
  readonly kind: "snapshot" | "component" | "incremental" | "segment" | "partial";
  readonly key: string;
  readonly bytes: number;
  readonly reason: string;
}

export interface PrunePlan {
  readonly kept: readonly { readonly tag: string; readonly at: number }[];
  /** The oldest kept snapshot and its start segment: nothing from there on is deleted. */
  readonly oldestKept:
    { readonly tag: string; readonly at: number; readonly startSegmentId: string } | undefined;
  /** Deletion order: manifests first (the snapshot stops being listed), then what only it used, then segments. */
  readonly delete: readonly PruneItem[];
  readonly refused: string | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function planPrune(input: {
  readonly catalog: Catalog;
  readonly snapshots: readonly StoredSnapshot[];
  readonly incrementals: readonly StoredIncremental[];
  readonly policy: KeepPolicy;
  readonly nowMs: number;
}): PrunePlan {
  const { catalog } = input;
  const kept = keptSnapshots(catalog, input.policy, input.nowMs);
  const refuse = (refused: string): PrunePlan => ({
    kept: kept.map((s) => ({ tag: s.tag, at: s.snapshotTimeMs })),
    oldestKept: undefined,
    delete: [],
    refused,
  });
  const oldest = kept[0];
  if (!oldest) return refuse("no snapshot would be kept: nothing is deleted");
  const startId = snapshotStartSegmentId(catalog, oldest, undefined);
  if (startId === undefined || !catalog.segments.some((s) => s.segmentId === startId)) {
    return refuse(
      `the oldest kept snapshot '${oldest.tag}' has no start segment in the archive: nothing is deleted`,
    );
  }
  return {
    kept: kept.map((s) => ({ tag: s.tag, at: s.snapshotTimeMs })),
    oldestKept: { tag: oldest.tag, at: oldest.snapshotTimeMs, startSegmentId: startId.toString() },
    delete: [...backupItems(input, kept, oldest), ...segmentItems(catalog, startId, oldest)],
    refused: undefined,
  };
}

/** The complete snapshots the policy keeps, oldest first: the newest N, or those in the window plus the one it starts from. */
function keptSnapshots(catalog: Catalog, policy: KeepPolicy, nowMs: number): SnapshotEntry[] {
  const complete = catalog.snapshots
    .filter((s) => s.complete)
    .sort((a, b) => a.snapshotTimeMs - b.snapshotTimeMs);
  if (policy.kind === "count") return complete.slice(Math.max(0, complete.length - policy.count));
  const cut = nowMs - policy.ms;
  const base = complete.filter((s) => s.snapshotTimeMs <= cut).at(-1);
  return complete.filter((s) => s.snapshotTimeMs > cut || s === base);
}

/**
 * Snapshots and incrementals older than the oldest kept snapshot, then their components that no
 * kept snapshot or incremental shares (components are content-addressed, so shared).
 */
function backupItems(
  input: {
    readonly snapshots: readonly StoredSnapshot[];
    readonly incrementals: readonly StoredIncremental[];
  },
  kept: readonly SnapshotEntry[],
  oldest: SnapshotEntry,
): PruneItem[] {
  const keptTags = new Set(kept.map((s) => `${s.tag}@${s.snapshotTimeMs}`));
  const keptComponents = new Set<string>();
  const why = `older than the oldest kept snapshot '${oldest.tag}' (${iso(oldest.snapshotTimeMs)})`;
  const dropped: StoredSnapshot[] = [];
  for (const s of input.snapshots) {
    const t = Date.parse(s.manifest.snapshot_time);
    if (keptTags.has(`${s.manifest.tag}@${t}`) || t >= oldest.snapshotTimeMs) {
      for (const c of componentsOf(s)) keptComponents.add(c.key);
    } else dropped.push(s);
  }
  const droppedInc: StoredIncremental[] = [];
  for (const i of input.incrementals) {
    if (Date.parse(i.record.flush_time) >= oldest.snapshotTimeMs)
      for (const c of i.record.sstable.components) keptComponents.add(c.key);
    else droppedInc.push(i);
  }
  const items: PruneItem[] = [];
  for (const s of dropped)
    items.push({
      kind: "snapshot",
      key: s.key,
      bytes: 0,
      reason: `snapshot '${s.manifest.tag}' taken ${s.manifest.snapshot_time}, ${why}`,
    });
  for (const i of droppedInc)
    items.push({
      kind: "incremental",
      key: i.key,
      bytes: 0,
      reason: `incremental ${i.record.keyspace}.${i.record.table} ${i.record.sstable.name} flushed ${i.record.flush_time}, ${why}`,
    });
  const seen = new Set<string>();
  for (const c of [
    ...dropped.flatMap(componentsOf),
    ...droppedInc.flatMap((i) => i.record.sstable.components),
  ]) {
    if (keptComponents.has(c.key) || seen.has(c.key)) continue;
    seen.add(c.key);
    items.push({
      kind: "component",
      key: c.key,
      bytes: c.size,
      reason: `${c.file}: used only by deleted snapshots or incrementals`,
    });
  }
  return items;
}

/** Segments (and their duplicate copies) before the start segment of the oldest kept snapshot and closed before it was taken. */
function segmentItems(catalog: Catalog, startId: bigint, oldest: SnapshotEntry): PruneItem[] {
  const before = (s: { segmentId: bigint; closeTimeMs: number }) =>
    s.segmentId < startId && s.closeTimeMs < oldest.snapshotTimeMs;
  const items: PruneItem[] = [];
  for (const s of catalog.segments) {
    if (before(s))
      items.push({
        kind: "segment",
        key: s.key,
        bytes: s.storedBytes,
        reason: `segment ${s.segmentId} closed ${iso(s.closeTimeMs)}, before the start segment ${startId} of '${oldest.tag}'`,
      });
  }
  for (const d of catalog.duplicates) {
    for (const o of d.others) {
      const chosen = catalog.segments.find((s) => s.key === d.chosenKey);
      if (chosen && before(chosen))
        items.push({
          kind: "segment",
          key: o.key,
          bytes: 0,
          reason: `copy of segment ${d.segmentId}, before the start segment ${startId} of '${oldest.tag}'`,
        });
    }
  }
  return items;
}

/**
 * Partial objects of segments archived whole: the full segment always wins over its partials
 * (catalog/partials.ts), so they are never read again, whatever snapshot is kept.
 */
export function supersededPartials(
  partials: readonly { readonly key: string; readonly size: number; readonly segmentId: bigint }[],
  archivedWhole: ReadonlySet<bigint>,
): PruneItem[] {
  return partials
    .filter((p) => archivedWhole.has(p.segmentId))
    .map((p) => ({
      kind: "partial",
      key: p.key,
      bytes: p.size,
      reason: `partial of segment ${p.segmentId}, which is archived whole`,
    }));
}

function componentsOf(s: StoredSnapshot): ArchivedComponent[] {
  return s.manifest.tables.flatMap((t) => t.sstables.flatMap((x) => x.components));
}
