/**
 * Table-driven planner tests: every fixtures/catalogs/*.json holds a listing (segments as they would
 * be listed), snapshots, incrementals, a request and the expected plan or refusal.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { Catalog } from "../../src/catalog/model.js";
import { PlanRefusedError, type RestorePlan, type SegmentStep } from "../../src/restore/plan.js";
import { planRestore } from "../../src/restore/planner.js";
import { parseInstant } from "../../src/restore/time.js";
import { catalogOf, type Fixture } from "./catalog-fixture.js";

const DIR = join(import.meta.dirname, "../../fixtures/catalogs");

function plan(f: Fixture, catalog: Catalog): RestorePlan {
  const r = f.request;
  return planRestore(catalog, {
    at: parseInstant(r.at, { now: r.now }).epochMicros,
    now: r.now,
    graceMs: r.graceMs,
    precision: r.precision,
    archiveUrl: r.archiveUrl,
    ...(r.targetVersion ? { targetVersion: r.targetVersion } : {}),
    ...(r.scope ? { scope: r.scope } : {}),
    ...(r.currentTableIds ? { currentTableIds: r.currentTableIds } : {}),
  });
}

const files = readdirSync(DIR)
  .filter((n) => n.endsWith(".json"))
  .sort();

t.test("fixtures exist for every refusal", async (t) => {
  const kinds = new Set(
    files
      .map((n) => (JSON.parse(readFileSync(join(DIR, n), "utf8")) as Fixture).expected["refusal"])
      .filter(Boolean),
  );
  for (const k of [
    "no-snapshot",
    "segment-missing",
    "after-latest",
    "in-future",
    "table-recreated",
    "segment-version",
    "unknown-scope",
  ])
    t.ok(kinds.has(k), k);
});

for (const file of files) {
  t.test(file, async (t) => {
    const f = JSON.parse(readFileSync(join(DIR, file), "utf8")) as Fixture;
    const e = f.expected;
    const catalog = catalogOf(f);
    t.ok(Object.isFrozen(catalog) && Object.isFrozen(catalog.segments), "catalog is immutable");
    if (e["gaps"] !== undefined)
      t.same(
        catalog.gaps.map((g) => [String(g.fromId), String(g.toId)]),
        e["gaps"],
        "gaps",
      );
    if (e["runs"] !== undefined) t.equal(catalog.runs.length, e["runs"], "runs");
    if (e["discardedId"] !== undefined)
      t.equal(String(catalog.runs[0]!.discardedId), e["discardedId"], "discarded pre-allocated id");
    if (e["duplicates"] !== undefined) t.equal(catalog.duplicates.length, e["duplicates"], "duplicates");
    if (e["window"] !== undefined) {
      const w = e["window"] as { earliest: number; latest: number };
      t.same(
        { earliest: catalog.restorable?.earliestMs, latest: catalog.restorable?.latestMs },
        w,
        "restorable window",
      );
    }
    if (e["refusal"] !== undefined) {
      let err: unknown;
      try {
        plan(f, catalog);
      } catch (x) {
        err = x;
      }
      t.ok(err instanceof PlanRefusedError, "refused");
      const r = err as PlanRefusedError;
      t.equal(r.kind, e["refusal"], "refusal kind");
      t.equal(r.code, "E_PLAN_REFUSED");
      t.equal(r.exitStatus, 17);
      t.notMatch(r.message, /\n/, "one line");
      if (e["messageIncludes"]) t.match(r.message, String(e["messageIncludes"]), r.message);
      if (e["nearestMs"] !== undefined)
        t.equal(r.nearest, BigInt(e["nearestMs"] as number) * 1000n, "nearest");
      return;
    }
    const p = plan(f, catalog);
    const segs = p.steps.filter((s): s is SegmentStep => s.kind === "segment");
    const base = p.steps[0]!;
    if (e["snapshot"]) t.equal(base.kind === "snapshot" && base.tag, e["snapshot"], "base snapshot");
    if (e["segments"])
      t.same(
        segs.map((s) => String(s.segmentId)),
        e["segments"],
        "segments",
      );
    if (e["segmentBytes"] !== undefined) t.equal(p.bytes.segments, e["segmentBytes"], "segment bytes");
    if (e["properties"]) t.same(p.properties, e["properties"], "properties");
    if (e["jvmOptions"]) t.same(p.jvmOptions, e["jvmOptions"], "jvm options");
    if (e["fractional"] !== undefined) t.equal(p.cutoff.fractional, e["fractional"], "fractional");
    if (e["effectiveCutoff"]) t.match(p.cutoff.statement, String(e["effectiveCutoff"]), p.cutoff.statement);
    if (e["scopeTables"])
      t.same(
        p.scope.tables.map((x) => `${x.keyspace}.${x.table}`),
        e["scopeTables"],
      );
    if (e["incrementals"])
      t.same(
        p.steps.filter((s) => s.kind === "incremental").map((s) => s.kind === "incremental" && s.sstable),
        e["incrementals"],
      );
    if (e["incrementalBytes"] !== undefined) t.equal(p.bytes.incrementals, e["incrementalBytes"]);
    if (e["skippedIncludes"])
      t.ok(
        p.skipped.some((s) => s.reason.includes(String(e["skippedIncludes"]))),
        "skipped with reason",
      );
    if (e["warningIncludes"])
      t.ok(
        p.warnings.some((w) => w.includes(String(e["warningIncludes"]))),
        `warning: ${p.warnings.join(" | ")}`,
      );
    for (const s of p.steps) t.ok(s.reason.length > 0, "every step has a reason");
    t.equal(p.bytes.total, p.bytes.snapshot + p.bytes.incrementals + p.bytes.segments);
  });
}
