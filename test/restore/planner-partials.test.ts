/**
 * The planner and partial segments: a partial segment's claim covers only what went into it, so a
 * plan whose first segment at or after T is partial also takes the later segments of its run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import {
  buildCatalog,
  listedSegmentOf,
  type ListedSegment,
  type SnapshotEntry,
} from "../../src/catalog/model.js";
import { segmentKey } from "../../src/format/layout.js";
import { partialSegmentPrefix } from "../../src/format/partial-layout.js";
import { planRestore } from "../../src/restore/planner.js";
import { parseInstant } from "../../src/restore/time.js";
import { bigints, type Fixture } from "./catalog-fixture.js";

const f = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../fixtures/catalogs/basic-node.json"), "utf8"),
) as Fixture;
const HOUR = 3_600_000;

t.test("a dead node's two rescued segments: both are planned, whatever the grace", async (t) => {
  const full: ListedSegment[] = f.segments.slice(0, 4).map((s) =>
    listedSegmentOf({
      key: segmentKey(f.identity, { closeTimeMs: s.close, segmentId: BigInt(s.id), version: 7 }),
      size: 1000,
    })!,
  );
  const lastClose = f.segments[3]!.close;
  // The node switched to segment 6 a few minutes after segment 4 closed, ran for hours, and was
  // killed; rescue claimed its time for both unarchived segments.
  const rescuedAt = lastClose + 6 * HOUR;
  const partial = (id: string): ListedSegment => ({
    key: partialSegmentPrefix(f.identity, BigInt(id), 7),
    closeTimeMs: rescuedAt,
    segmentId: BigInt(id),
    version: 7,
    storedBytes: 1000,
    partial: { endOffset: 1000, source: "rescue" },
  });
  const catalog = buildCatalog({
    identity: f.identity,
    listedFromMs: 0,
    listedToMs: rescuedAt + HOUR,
    segments: [...full, partial(f.segments[4]!.id), partial(f.segments[5]!.id)],
    snapshots: bigints(f.snapshots) as SnapshotEntry[],
    incrementals: [],
  });
  const at = parseInstant(new Date(lastClose + HOUR).toISOString(), { now: rescuedAt + HOUR }).epochMicros;
  for (const graceMs of [0, 3 * HOUR]) {
    const plan = planRestore(catalog, {
      at,
      now: rescuedAt + HOUR,
      graceMs,
      precision: "MICROSECONDS",
      archiveUrl: "mem://t",
    });
    const ids = plan.steps
      .filter((s) => s.kind === "segment")
      .map((s) => String((s as { segmentId: bigint }).segmentId));
    t.same(
      ids.slice(-2),
      [f.segments[4]!.id, f.segments[5]!.id],
      `grace ${graceMs / HOUR} h: the first partial after T and the segment after it`,
    );
  }
});
