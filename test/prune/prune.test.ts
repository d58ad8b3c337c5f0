import t from "tap";
import { parseDuration } from "../../src/config/duration.js";
import { loadIncrementals, loadSnapshots } from "../../src/catalog/backup-source.js";
import { readCatalog } from "../../src/catalog/read.js";
import { applyPrune, parseKeep, readAndPlanPrune } from "../../src/prune/run.js";
import { planRestore } from "../../src/restore/planner.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { buildArchive, DAY, identity, T0 } from "./archive.js";

const NOW = T0 + 10 * DAY;

async function keys(b: Backend): Promise<string[]> {
  const out: string[] = [];
  for await (const i of b.list("")) out.push(i.key);
  return out;
}

async function planAt(b: Backend, atMs: number) {
  const catalog = await readCatalog(b, identity, {
    fromMs: atMs,
    toMs: atMs,
    loadSnapshots,
    loadIncrementals,
  });
  return planRestore(catalog, {
    at: BigInt(atMs) * 1000n,
    now: NOW,
    graceMs: 0,
    precision: "MILLISECONDS",
    archiveUrl: "mem://prune",
  });
}

t.test(
  "--keep 3d: dry run deletes nothing; --confirm deletes only what no kept restore point needs; restores inside the window still plan",
  async (t) => {
    const b = await openBackend("mem://prune-duration");
    await buildArchive(b, 10);
    const before = await keys(b);
    const plan = await readAndPlanPrune(b, identity, parseKeep("3d", parseDuration), NOW);
    t.equal(plan.refused, undefined);
    // cut = day 7 00:00 → kept: daily-7 (01:00 day 7 > cut), 8, 9 and the newest before the cut, daily-6
    t.same(
      plan.kept.map((k) => k.tag),
      ["daily-6", "daily-7", "daily-8", "daily-9"],
    );
    t.equal(plan.oldestKept?.tag, "daily-6");
    t.same((await keys(b)).length, before.length, "planning deletes nothing");
    const kinds = (k: string) => plan.delete.filter((i) => i.kind === k).length;
    t.equal(kinds("snapshot"), 6, "daily-0..5");
    t.equal(kinds("incremental"), 6);
    t.ok(
      plan.delete.every((i) => i.reason.length > 0),
      "every deletion says why",
    );
    const shared = plan.delete.find((i) => i.kind === "component" && i.reason.includes("nb-1-big"));
    t.equal(shared, undefined, "the component shared with kept snapshots is kept");
    const startId = BigInt(plan.oldestKept!.startSegmentId);
    t.ok(
      plan.delete.filter((i) => i.kind === "segment").every((i) => !i.key.includes(`_${startId}_`)),
      "the start segment is kept",
    );

    // plan a restore before prune, at instants inside the kept window
    const inside = [T0 + 6 * DAY + 3_600_000 + 1000, T0 + 7 * DAY + 12 * 3_600_000, NOW - 3_600_000];
    for (const at of inside)
      t.ok(await planAt(b, at), `restorable before prune at ${new Date(at).toISOString()}`);

    const result = await applyPrune(b, plan, NOW);
    const deleted = result.deleted.length;
    t.equal(deleted, plan.delete.length);
    t.same(
      [result.markedDeleted, result.keptByLock],
      [[], []],
      "a store without versions or locks deletes everything planned",
    );
    const after = await keys(b);
    t.equal(after.length, before.length - deleted);
    for (const at of inside) {
      const p = await planAt(b, at);
      const snap = p.steps.find((x) => x.kind === "snapshot");
      t.equal(
        snap && "tag" in snap ? snap.tag : undefined,
        at < T0 + 7 * DAY + 3_600_000 ? "daily-6" : at < T0 + 8 * DAY + 3_600_000 ? "daily-7" : "daily-9",
        `restorable after prune at ${new Date(at).toISOString()}`,
      );
    }
    // every object any kept restore point references still exists
    const catalog = await readCatalog(b, identity, {
      fromMs: T0 + 6 * DAY,
      toMs: NOW,
      loadSnapshots,
      loadIncrementals,
    });
    t.equal(catalog.gaps.length, 0, "the kept chain has no gap");
    t.equal(catalog.restorable?.snapshotTag, "daily-6");
    // a second prune with the same policy finds nothing more
    const again = await readAndPlanPrune(b, identity, parseKeep("3d", parseDuration), NOW);
    t.same(again.delete, []);
    // restoring before the kept window is refused (that is what retention removed), not half-served
    await t.rejects(planAt(b, T0 + 2 * DAY), { name: "PlanRefusedError" });
  },
);

t.test(
  "--keep 2 (count): the two newest snapshots and everything from the older one's start segment",
  async (t) => {
    const b = await openBackend("mem://prune-count");
    await buildArchive(b, 5);
    const plan = await readAndPlanPrune(b, identity, parseKeep("2", parseDuration), NOW);
    t.same(
      plan.kept.map((k) => k.tag),
      ["daily-3", "daily-4"],
    );
    await applyPrune(b, plan, NOW);
    t.ok(await planAt(b, T0 + 3 * DAY + 3_600_000 + 1000));
    t.ok(await planAt(b, T0 + 5 * DAY - 1000));
  },
);

t.test("refuses when nothing would be kept or the chain start is missing", async (t) => {
  const b = await openBackend("mem://prune-empty");
  const plan = await readAndPlanPrune(b, identity, parseKeep("1", parseDuration), NOW);
  t.match(plan.refused, /no snapshot would be kept/);
  t.same(plan.delete, []);
  t.throws(() => parseKeep("soon", parseDuration), { code: "E_CONFIG" });
  t.throws(() => parseKeep("0", parseDuration), RangeError);
});
