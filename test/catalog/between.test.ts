/**
 * catalog/model.ts `between`, pure: what lies between two archived ids in a row. Checked on every
 * consecutive pair of the fixture catalogs (fixtures/catalogs/*.json) against the catalog that
 * buildCatalog made of them, and on hand-made pairs for each case.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { between, type ListedSegment } from "../../src/catalog/model.js";
import { catalogOf, type Fixture } from "../restore/catalog-fixture.js";

const seg = (id: bigint, closeTimeMs: number): ListedSegment => ({
  key: `k${id}`,
  closeTimeMs,
  segmentId: id,
  version: 8,
  conflict: undefined,
  storedBytes: 1,
});
const B = 1_795_000_000_000n; // a close time (ms) as an id: a new run's ids start above the last close time
const T = Number(B);

t.test("each case of two ids in a row", async (t) => {
  const I = B - 1000n; // ids of a run that started a second before T
  t.same(between(seg(I + 1n, T), seg(I + 2n, T + 1)), { newRun: false }, "the next id: nothing between");
  t.match(
    between(seg(I + 1n, T), seg(I + 3n, T + 1)),
    {
      newRun: false,
      gap: { fromId: I + 2n, toId: I + 2n, count: 1, kind: "inside-run", cause: /one segment inside a run/ },
    },
    "one id missing inside a run",
  );
  t.match(
    between(seg(I + 1n, T), seg(I + 5n, T + 1)),
    {
      newRun: false,
      gap: { fromId: I + 2n, toId: I + 4n, count: 3, kind: "inside-run", cause: /segments inside a run/ },
    },
    "ids missing inside a run",
  );
  t.same(
    between(seg(I, T), seg(B + 5n, T + 10)),
    { newRun: true },
    "a restart far above: ids not continued, nothing expected missing",
  );
  t.same(
    between(seg(B - 1n, T), seg(B + 1n, T + 10)),
    { newRun: true, discardedId: B },
    "ids continued: the one id between was the discarded startup segment",
  );
  t.match(
    between(seg(B - 2n, T), seg(B + 1n, T + 10)),
    { newRun: true, discardedId: B, gap: { fromId: B - 1n, toId: B - 1n, count: 1, kind: "before-restart" } },
    "ids continued with more missing: those before the restart are a gap",
  );
});

t.test("on the fixture catalogs: runs and gaps as buildCatalog made them", async (t) => {
  const dir = join(import.meta.dirname, "../../fixtures/catalogs");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const catalog = catalogOf(JSON.parse(readFileSync(join(dir, file), "utf8")) as Fixture);
    const segs = catalog.segments;
    let restarts = 0;
    const gaps = [];
    for (let i = 1; i < segs.length; i++) {
      const step = between(segs[i - 1]!, segs[i]!);
      if (step.newRun) restarts++;
      if (step.gap) gaps.push(step.gap);
    }
    t.equal(restarts, Math.max(0, catalog.runs.length - 1), `${file}: one restart between each two runs`);
    t.same(gaps, catalog.gaps, `${file}: the catalog's gaps`);
  }
});
