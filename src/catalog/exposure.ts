/**
 * Exposure (pure): what the node holds on disk that the archive does not, by segment: the synced
 * bytes past a partial chain's end, or a whole segment that is neither archived nor partial. Run on
 * the node (`list`, `report`), it says what a lost disk would cost now.
 */
import type { Catalog } from "./model.js";

export interface ExposedSegment {
  readonly name: string;
  readonly segmentId: bigint;
  /** Synced bytes on disk that no archived object holds. */
  readonly bytes: number;
  /** Writes from this instant on may be among them (the archive's claim for the segment, or its newest close). */
  readonly sinceMs: number | undefined;
  /** The file's last change: no write in it is later. */
  readonly untilMs: number;
}

export function exposureOf(
  catalog: Pick<Catalog, "segments" | "unarchivedTail">,
  onDisk: readonly {
    readonly name: string;
    readonly segmentId: bigint;
    readonly syncedEnd: number;
    readonly modifiedMs: number;
  }[],
): ExposedSegment[] {
  const byId = new Map(catalog.segments.map((s) => [s.segmentId, s]));
  const out: ExposedSegment[] = [];
  for (const d of onDisk) {
    const archived = byId.get(d.segmentId);
    if (archived && !archived.partial) continue;
    const covered = archived?.partial?.endOffset ?? 0;
    if (d.syncedEnd <= covered) continue;
    out.push({
      name: d.name,
      segmentId: d.segmentId,
      bytes: d.syncedEnd - covered,
      sinceMs: archived?.closeTimeMs ?? catalog.unarchivedTail?.sinceMs,
      untilMs: Math.floor(d.modifiedMs),
    });
  }
  return out;
}
