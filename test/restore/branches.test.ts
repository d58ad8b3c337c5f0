/**
 * Restore branches in the planner: a restore applied at R to T1 abandons the writes stamped after T1
 * in the history before R. A later plan to a target at or after R gives those segments T1 as a cutoff
 * (for the tables that restore covered), and never bases itself on a snapshot or an incremental that
 * holds abandoned writes; a target before R follows the old history untouched.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import {
  branchKey,
  parseBranch,
  recordBranch,
  renderBranch,
  type Branch,
} from "../../src/restore/branches.js";
import { readText } from "../../src/storage/front.js";
import { openBackend } from "../../src/storage/open.js";
import type { SegmentStep } from "../../src/restore/plan.js";
import { planRestore } from "../../src/restore/planner.js";
import { catalogOf } from "./catalog-fixture.js";

const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../fixtures/catalogs/incrementals.json"), "utf8"),
);
// A second snapshot taken after T1 and before the restore ran: it holds abandoned writes.
fixture.snapshots.push({ ...fixture.snapshots[0], tag: "s2", snapshotTimeMs: 1795249600000 });
const catalog = catalogOf(fixture);
const ORDERS = "11111111111111111111111111111111";

const restoredAtMs = 1795250000000; // after segment 3 closed, before segment 4
const wholeNode: Branch = {
  restoredAtMs,
  cutoffMicros: 1795249000000000n,
  restorePoint: "2026:11:21 08:16:40.000000",
};
const plan = (atMs: number, branches: Branch[], scope?: { tables: string[] }) =>
  planRestore(catalog, {
    at: BigInt(atMs) * 1000n,
    now: 1795284000000,
    graceMs: 0,
    precision: "MICROSECONDS",
    archiveUrl: "mem://t",
    branches,
    ...(scope ? { scope } : {}),
  });
const segments = (p: ReturnType<typeof plan>) =>
  p.steps.filter((s): s is SegmentStep => s.kind === "segment");

t.test(
  "a target after the restore: the old history's segments carry its cutoff, abandoned snapshots and incrementals are skipped",
  async (t) => {
    const p = plan(1795251000000, [wholeNode]);
    const base = p.steps[0]!;
    t.equal(
      base.kind === "snapshot" && base.tag,
      "s1",
      "the snapshot taken on the abandoned stretch (s2) is not the base",
    );
    t.ok(
      p.skipped.some((s) => s.kind === "snapshot" && s.name === "s2" && /abandoned/.test(s.reason)),
      "and the plan says why",
    );
    const segs = segments(p);
    t.same(
      segs.filter((s) => s.branchCutoffs).map((s) => String(s.segmentId)),
      ["1795248000002", "1795248000003"],
      "the planned segments closed before the restore carry the cutoff",
    );
    t.ok(
      segs.every(
        (s) =>
          !s.branchCutoffs ||
          (s.branchCutoffs[0]!.cutoffMicros === wholeNode.cutoffMicros &&
            s.branchCutoffs[0]!.tableIds === undefined),
      ),
      "the whole-node restore's cutoff, for every table",
    );
    t.ok(
      segs.filter((s) => s.branchCutoffs).every((s) => /abandoned its history/.test(s.reason)),
      "their reason says so",
    );
    const incs = p.steps
      .filter((s) => s.kind === "incremental")
      .map((s) => s.kind === "incremental" && s.sstable);
    t.same(incs, ["nb-3-big"], "the incremental flushed after the restore is used");
    t.ok(
      p.skipped.some((s) => s.name.endsWith("nb-2-big") && /abandoned/.test(s.reason)),
      "the one flushed before it with writes after T1 is not",
    );
  },
);

t.test("a target before the restore follows the old history", async (t) => {
  const p = plan(1795249900000, [wholeNode]);
  t.ok(
    segments(p).every((s) => !s.branchCutoffs),
    "no cutoff from a restore that had not happened yet",
  );
  const base = p.steps[0]!;
  t.equal(
    base.kind === "snapshot" && base.tag,
    "s2",
    "the newest snapshot at or before the target is the base",
  );
});

t.test("a table-scope restore lowers the cutoff of its tables only", async (t) => {
  const branch: Branch = { ...wholeNode, tableIds: [ORDERS] };
  const p = plan(1795251000000, [branch], { tables: ["shop.users"] });
  const base = p.steps[0]!;
  t.equal(
    base.kind === "snapshot" && base.tag,
    "s2",
    "a snapshot is abandoned only for the tables that restore covered",
  );
  const cut = segments(p).filter((s) => s.branchCutoffs);
  t.ok(
    cut.length > 0 && cut.every((s) => s.branchCutoffs!.every((b) => b.tableIds?.join() === ORDERS)),
    "cutoffs name the restored table",
  );
});

t.test("branch records round-trip and bad records are refused with one line", async (t) => {
  const id = { cluster: "prod", node: "host-a" };
  const key = branchKey(id, restoredAtMs);
  const back = parseBranch(Buffer.from(renderBranch(wholeNode, ["shop.orders"])).toString("utf8"), key);
  t.same(
    back,
    { ...wholeNode, tableIds: undefined, tables: ["shop.orders"] },
    "round trip (the table names kept for list)",
  );
  t.throws(() => parseBranch("{", key), /branch record .* is invalid: not JSON/);
  t.throws(
    () =>
      parseBranch(
        JSON.stringify({ schema_version: 1, restored_at: "2020-01-01T00:00:00Z", cutoff_micros: "1" }),
        key,
      ),
    /does not match the key/,
  );
});

t.test(
  "recordBranch writes once through the storage front: a taken key is a conflict, never replaced",
  async (t) => {
    const backend = await openBackend("mem://branches");
    t.teardown(() => backend.close());
    const id = { cluster: "prod", node: "host-a" };
    const key = await recordBranch(backend, id, wholeNode, []);
    t.equal(key, branchKey(id, restoredAtMs), "the branch key of the restore's time");
    const stored = await readText(backend, key);
    t.same(
      parseBranch(stored, key),
      { ...wholeNode, tableIds: undefined, tables: [] },
      "stored and read back",
    );
    await t.rejects(
      recordBranch(backend, id, wholeNode, []),
      {
        code: "E_ARCHIVE_CONFLICT",
        message: `branch record '${key}' was not recorded: another object is stored under this key`,
      },
      "the same restore's branch again: refused",
    );
    await t.rejects(
      recordBranch(backend, id, { ...wholeNode, cutoffMicros: 1n }, []),
      { code: "E_ARCHIVE_CONFLICT" },
      "another branch at the same time: refused",
    );
    t.equal(await readText(backend, key), stored, "the first record is unchanged");
  },
);
