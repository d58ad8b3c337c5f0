/**
 * Synthetic node histories for the report's tests and benchmark: segments closing at given times
 * with given archive times, lost ids, restarts and snapshots, turned into a real Catalog through
 * catalog/model.ts (so gap and run detection are the product's own).
 */
import { segmentKey, type NodeIdentity } from "../src/format/layout.js";
import { buildCatalog, type ListedSegment, type SnapshotEntry } from "../src/catalog/model.js";
import type { NodeInput } from "../src/report/model.js";

export interface SyntheticSegment {
  readonly closeMs: number;
  /** When it reached the archive; default close + `lagMs`. */
  readonly archiveMs?: number | undefined;
  /** Not in the archive (its id is consumed: a lost segment). */
  readonly lost?: boolean | undefined;
  /** A JVM restart happened before this segment: ids continue from this wall-clock id. */
  readonly restartId?: bigint | undefined;
  readonly bytes?: number | undefined;
}

export interface SyntheticNode {
  readonly identity: NodeIdentity;
  /** Id of the first segment (a JVM run's id base is its startup time in ms). */
  readonly firstId: bigint;
  readonly segments: readonly SyntheticSegment[];
  readonly snapshots: readonly {
    readonly tag: string;
    readonly atMs: number;
    readonly uploadedMs?: number | undefined;
    readonly bytes?: number | undefined;
  }[];
  readonly lagMs?: number | undefined;
  readonly listedFromMs: number;
  readonly listedToMs: number;
}

export function syntheticNode(spec: SyntheticNode): NodeInput {
  const listed: ListedSegment[] = [];
  const archiveTimes = new Map<string, number>();
  let id = spec.firstId - 1n;
  for (const s of spec.segments) {
    id = s.restartId ?? id + 1n;
    if (s.lost) continue;
    const key = segmentKey(spec.identity, { closeTimeMs: s.closeMs, segmentId: id, version: 8 });
    listed.push({
      key,
      closeTimeMs: s.closeMs,
      segmentId: id,
      version: 8,
      storedBytes: s.bytes ?? 1_000_000,
    });
    archiveTimes.set(key, s.archiveMs ?? s.closeMs + (spec.lagMs ?? 10_000));
  }
  const snapshots: SnapshotEntry[] = spec.snapshots.map((s) => ({
    tag: s.tag,
    snapshotTimeMs: s.atMs,
    cassandraVersion: "5.0.9",
    complete: true,
    tables: [
      {
        keyspace: "app",
        table: "events",
        tableId: "00000000-0000-0000-0000-000000000001",
        sstables: [{ name: "nb-1-big", bytes: s.bytes ?? 50_000_000, minTimestamp: 0n, maxTimestamp: 0n }],
      },
    ],
  }));
  const snapshotUploadedAt = new Map(spec.snapshots.map((s) => [s.tag, s.uploadedMs ?? s.atMs]));
  const catalog = buildCatalog({
    identity: spec.identity,
    listedFromMs: spec.listedFromMs,
    listedToMs: spec.listedToMs,
    segments: listed,
    snapshots,
    incrementals: [],
  });
  return { catalog, archiveTimes, snapshotUploadedAt };
}

/** Close times every `everyMs` in [fromMs, toMs]. */
export function every(fromMs: number, toMs: number, everyMs: number): number[] {
  const out: number[] = [];
  for (let t = fromMs; t <= toMs; t += everyMs) out.push(t);
  return out;
}
