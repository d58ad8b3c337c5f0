/**
 * The planner and the replay filter spec with truncations, drops, re-created tables and schema
 * changes in the window (src/restore/table-history.ts): what is placed, what is refused and how the
 * plan says it. The same on a real node: test/e2e/restore-schema.test.ts.
 */
import t from "tap";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { autoSnapshotWarning } from "../../src/restore/auto-snapshot.js";
import {
  buildCatalog,
  listedSegmentOf,
  type Catalog,
  type IncrementalEntry,
  type SnapshotEntry,
} from "../../src/catalog/model.js";
import { segmentKey } from "../../src/format/layout.js";
import type { TableEvent } from "../../src/backup/table-events.js";
import {
  eventOfSnapshotDir,
  findTableEvents,
  listTableEvents,
  parseTableEventKey,
  recordTableEvents,
  tableEventKey,
} from "../../src/backup/table-events.js";
import { MemoryBackend } from "../../src/storage/backends/memory.js";
import { PlanRefusedError, type PlanRequest, type RestorePlan } from "../../src/restore/plan.js";
import { renderPlanText } from "../../src/restore/plan-text.js";
import { planRestore } from "../../src/restore/planner.js";
import { replayFilterSpec } from "../../src/restore/executor.js";
import { isPitrError } from "../../src/errors/base.js";

const identity = { cluster: "prod", node: "host-a" };
const A = "11111111-1111-1111-1111-111111111111";
const B = "22222222-2222-2222-2222-222222222222";
const T0 = 1795248000000; // segment ids start here; one segment closes every 10 minutes
const min = (n: number) => T0 + n * 60_000;
const us = (ms: number) => BigInt(ms) * 1000n;

const schemaV1 = `CREATE TABLE IF NOT EXISTS shop.orders (\n    id int PRIMARY KEY,\n    v text,\n    old text\n) WITH ID = ${A}\n    AND comment = '';\n`;
const schemaV2 = `CREATE TABLE IF NOT EXISTS shop.orders (\n    id int PRIMARY KEY,\n    v text,\n    old text,\n    extra int\n) WITH ID = ${A}\n    AND comment = '';\nALTER TABLE shop.orders DROP old USING TIMESTAMP ${us(min(55))};\n`;

function snapshot(tag: string, atMs: number, tableId: string, schemaCql: string): SnapshotEntry {
  const sstable = {
    name: `nb-${tag}-big-Data.db`,
    bytes: 5000,
    minTimestamp: us(T0 - 3_600_000),
    maxTimestamp: us(atMs - 1000),
  };
  return {
    tag,
    snapshotTimeMs: atMs,
    cassandraVersion: "5.0.9",
    complete: true,
    tables: [{ keyspace: "shop", table: "orders", tableId, sstables: [sstable], schemaCql }],
  };
}

function incremental(name: string, foundMs: number, maxMs: number, tableId = A): IncrementalEntry {
  return {
    keyspace: "shop",
    table: "orders",
    tableId,
    sstable: name,
    bytes: 700,
    foundTimeMs: foundMs,
    minTimestamp: us(foundMs - 300_000),
    maxTimestamp: us(maxMs),
  };
}

function catalog(snapshots: SnapshotEntry[], incrementals: IncrementalEntry[]): Catalog {
  const segments = Array.from({ length: 9 }, (_, i) =>
    listedSegmentOf({
      key: segmentKey(identity, {
        closeTimeMs: min(10 * (i + 1)),
        segmentId: BigInt(T0 + 1 + i),
        version: 7,
      }),
      size: 1000,
    })!,
  );
  return buildCatalog({ identity, listedFromMs: 0, listedToMs: min(200), segments, snapshots, incrementals });
}

function plan(
  c: Catalog,
  atMs: number,
  tableEvents: TableEvent[],
  extra: Partial<PlanRequest> = {},
): RestorePlan {
  return planRestore(c, {
    at: us(atMs),
    now: min(200),
    graceMs: 0,
    precision: "MICROSECONDS",
    archiveUrl: "file:///a",
    tableEvents,
    ...extra,
  });
}

function refusal(fn: () => unknown): PlanRefusedError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PlanRefusedError) return err;
    throw err;
  }
  throw new Error("not refused");
}

const truncate: TableEvent = {
  kind: "truncate",
  keyspace: "shop",
  table: "orders",
  tableId: A,
  timeMs: min(30),
};

t.test("auto-snapshot directory names and archive keys", async (t) => {
  const dir = { keyspace: "shop", table: "orders", dirTableId: A };
  t.same(eventOfSnapshotDir(dir, "truncated-1795249800123-orders"), {
    kind: "truncate",
    keyspace: "shop",
    table: "orders",
    tableId: A,
    timeMs: 1795249800123,
  });
  t.equal(eventOfSnapshotDir(dir, "dropped-1795249800123-orders")?.kind, "drop");
  t.equal(
    eventOfSnapshotDir(dir, "truncated-1795249800123-other"),
    undefined,
    "another table's name is not this table's event",
  );
  t.equal(eventOfSnapshotDir(dir, "base"), undefined, "a user snapshot is no event");
  const e: TableEvent = {
    kind: "drop",
    keyspace: "shop",
    table: "Orders_2",
    tableId: A,
    timeMs: 1795249800123,
  };
  t.same(parseTableEventKey(tableEventKey(identity, e)), e, "the key holds the whole event");
});

t.test(
  "TRUNCATE at or before T: nothing older is placed, and the replay filter gets the floor",
  async (t) => {
    const c = catalog(
      [snapshot("s1", min(15), A, schemaV1)],
      [
        incremental("nb-7-big", min(25), min(24)),
        incremental("nb-8-big", min(29), min(28)),
        incremental("nb-9-big", min(45), min(44)),
      ],
    );
    const p = plan(c, min(50), [truncate]);
    t.same(
      p.truncations?.map((x) => [x.tableId, x.truncatedAtMs, x.floorMicros]),
      [[A, min(30), us(min(30))]],
      "the plan lists the truncation",
    );
    const snap = p.steps[0]!;
    t.same(
      snap.kind === "snapshot" && snap.tables[0]!.sstables,
      [],
      "no sstable of the snapshot, taken before the TRUNCATE",
    );
    t.ok(
      p.skipped.some((s) => s.kind === "snapshot" && /taken before the TRUNCATE/.test(s.reason)),
      "and the plan says why",
    );
    t.same(
      p.steps.filter((s) => s.kind === "incremental").map((s) => s.kind === "incremental" && s.sstable),
      ["nb-9-big"],
      "only the incremental flushed after the TRUNCATE",
    );
    t.ok(
      p.skipped.some((s) => s.name.endsWith("nb-7-big") && /flushed before the TRUNCATE/.test(s.reason)),
      "the ones flushed before it are skipped with the reason",
    );
    t.match(
      renderPlanText(p),
      /truncated: shop\.orders \(id 11111111-.*\) at .*its mutations stamped before .* are withheld/,
      "plan text states it",
    );
    t.same(
      replayFilterSpec(p, [], false).truncation_floors,
      { [A]: us(min(30)).toString() },
      "the replay filter withholds its mutations stamped before the TRUNCATE",
    );

    const before = plan(c, min(28), [truncate]);
    t.equal(before.truncations, undefined, "a TRUNCATE after T changes nothing");
    t.equal(replayFilterSpec(before, [], false).truncation_floors, undefined);
    const s0 = before.steps[0]!;
    t.equal(s0.kind === "snapshot" && s0.tables[0]!.sstables.length, 1, "the snapshot's sstables are placed");

    const later = plan(
      catalog([snapshot("s1", min(15), A, schemaV1), snapshot("s2", min(35), A, schemaV1)], []),
      min(50),
      [truncate],
    );
    const s2 = later.steps[0]!;
    t.equal(s2.kind === "snapshot" && s2.tag, "s2");
    t.equal(
      s2.kind === "snapshot" && s2.tables[0]!.sstables.length,
      1,
      "a snapshot taken after the TRUNCATE is placed",
    );
    t.ok(
      later.truncations?.length === 1,
      "and its mutations before the TRUNCATE are still withheld (the segments may reach back before it)",
    );
  },
);

t.test(
  "a dropped and re-created table is refused, naming both ids, the drop time and what to do",
  async (t) => {
    const drop: TableEvent = { kind: "drop", keyspace: "shop", table: "orders", tableId: A, timeMs: min(30) };
    const c = catalog([snapshot("s1", min(15), A, schemaV1)], [incremental("nb-9-big", min(40), min(39), B)]);
    const before = refusal(() => plan(c, min(25), [drop]));
    t.equal(before.kind, "table-recreated");
    t.equal(before.exitStatus, 17);
    t.match(
      before.message,
      new RegExp(`${A}.*${B}.*dropped at ${new Date(min(30)).toISOString()}`),
      before.message,
    );
    const drillCommand = `'cassandra-pitr verify --drill --at ${new Date(min(25)).toISOString().replace(/Z$/, "000Z")} --table shop.orders --keep-scratch'`;
    t.ok(
      before.hint?.includes(`scratch node that creates it WITH ID = ${A}: ${drillCommand}`),
      `says what to do, with the command: ${before.hint}`,
    );

    // Into a scratch node (the drill) the table is created WITH ID = the snapshot's id: at a T before
    // the drop its id at T is the snapshot's, so it is restored; a T in the gap or after the re-create is still refused.
    const scratch = plan(c, min(25), [drop], { scratch: true });
    t.same(
      scratch.scope.tables.map((x) => x.tableId),
      [A],
      "a scratch restore at T before the drop restores the old id",
    );
    const s0 = scratch.steps[0]!;
    t.equal(s0.kind === "snapshot" && s0.tables[0]!.tableId, A, "from the snapshot of the old id");
    t.equal(
      refusal(() => plan(c, min(35), [drop], { scratch: true })).kind,
      "table-gap",
      "scratch: T in the gap is still refused",
    );
    t.equal(
      refusal(() => plan(c, min(50), [drop], { scratch: true })).kind,
      "table-recreated",
      "scratch: T after the re-create is still refused (the snapshot is not the table at T)",
    );

    const gap = refusal(() => plan(c, min(35), [drop]));
    t.equal(gap.kind, "table-gap", "T between the drop and the re-create");
    t.match(
      gap.message,
      /was dropped at .* and before it was re-created: the table did not exist at T/,
      gap.message,
    );
    t.equal(gap.nearest, us(min(30) - 1), "the nearest restorable instant is just before the drop");

    const after = refusal(() => plan(c, min(50), [drop]));
    t.equal(after.kind, "table-recreated");
    t.match(after.message, new RegExp(`dropped at .*id ${A}.*re-created as id ${B}`), after.message);

    const goneDrop: TableEvent = { ...drop, timeMs: min(30) };
    const gone = plan(catalog([snapshot("s1", min(15), A, schemaV1)], []), min(50), [goneDrop]);
    t.same(gone.scope.tables, [], "a node restore leaves out a table dropped before T and never re-created");
    t.ok(
      gone.skipped.some((s) => /did not exist at T, so it is left out/.test(s.reason)),
      "and says why",
    );
    const named = refusal(() =>
      plan(catalog([snapshot("s1", min(15), A, schemaV1)], []), min(50), [goneDrop], {
        scope: { tables: ["shop.orders"] },
      }),
    );
    t.equal(named.kind, "table-gap", "naming it with --table is refused: it did not exist at T");

    const live = refusal(() =>
      plan(catalog([snapshot("s1", min(15), A, schemaV1)], []), min(50), [], {
        currentTableIds: { "shop.orders": B },
      }),
    );
    t.match(
      live.message,
      new RegExp(`${A}.*${B}.*the live schema`),
      "a different id in the live schema is refused too",
    );
  },
);

t.test("schema changes between T and the newest schema.cql are stated", async (t) => {
  const c = catalog([snapshot("s1", min(15), A, schemaV1), snapshot("s2", min(65), A, schemaV2)], []);
  const p = plan(c, min(50), []);
  t.same(p.schemaChanges?.map((x) => [x.kind, x.column]).sort(), [
    ["column-added", "extra"],
    ["column-dropped-after", "old"],
  ]);
  t.equal(p.schemaSnapshot?.tag, "s2", "the replay filter reads columns from the newer schema too");
  const text = renderPlanText(p);
  t.match(text, /schema: column shop\.orders\.extra was added .*harmless/);
  t.match(
    text,
    /schema: column shop\.orders\.old was dropped at .*after the restore point: its values at T cannot come back in place.*scratch node/,
  );
  const late = plan(c, min(60), []);
  t.same(
    late.schemaChanges?.map((x) => x.kind).sort(),
    ["column-added", "column-dropped-before"],
    "a column dropped before T is no loss",
  );
  const dropped = plan(catalog([snapshot("s1", min(15), A, schemaV1)], []), min(50), [
    { kind: "drop", keyspace: "shop", table: "orders", tableId: A, timeMs: min(70) },
  ]);
  t.match(
    dropped.schemaChanges?.[0]?.statement ?? "",
    /dropped at .*after the restore point/,
    "a table dropped after T is stated",
  );
});

t.test("a schema.cql that does not parse refuses the plan with the file and the line", async (t) => {
  const bad = `CREATE TABLE IF NOT EXISTS shop.orders (\n    id int PRIMARY KEY,\n    v frobnicated<\n) WITH ID = ${A};\n`;
  let err: unknown;
  try {
    plan(catalog([snapshot("s1", min(15), A, bad)], []), min(50), []);
  } catch (e) {
    err = e;
  }
  t.ok(isPitrError(err) && err.code === "E_SCHEMA_CQL", "E_SCHEMA_CQL");
  t.equal(isPitrError(err) && err.exitStatus, 23);
  t.match((err as Error).message, /snapshot 's1' shop\.orders schema\.cql" line 3/, (err as Error).message);
});

t.test("restore warns when the node takes no auto-snapshots (a TRUNCATE would go unseen)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "cassandra-pitr-autosnap-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "cassandra.yaml"), "cluster_name: x\nauto_snapshot: false\n");
  t.match(await autoSnapshotWarning(dir), /auto_snapshot is false .*TRUNCATE in the window is not seen/);
  await writeFile(join(dir, "cassandra.yaml"), "cluster_name: x\nauto_snapshot: true\n");
  t.equal(await autoSnapshotWarning(dir), undefined, "none with auto_snapshot: true");
});

t.test(
  "truncation and drop auto-snapshots are found in the table directories and recorded once",
  async (t) => {
    const data = await mkdtemp(join(tmpdir(), "cassandra-pitr-events-"));
    t.teardown(() => rm(data, { recursive: true, force: true }));
    const dir = (table: string, hex: string) => ({
      keyspace: "shop",
      table,
      dirTableId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
      dirName: `${table}-${hex}`,
      path: join(data, "shop", `${table}-${hex}`),
    });
    const orders = dir("orders", "1".repeat(32));
    const users = dir("users", "2".repeat(32));
    for (const s of [
      "truncated-1795249800123-orders",
      "dropped-1795249900456-orders",
      "base",
      "truncated-1795249800123-users",
    ])
      await mkdir(join(orders.path, "snapshots", s), { recursive: true });
    await mkdir(users.path, { recursive: true });
    const found = await findTableEvents([orders, users]);
    t.same(
      found.map((e) => [e.kind, e.table, e.timeMs]),
      [
        ["truncate", "orders", 1795249800123],
        ["drop", "orders", 1795249900456],
      ],
      "the user snapshot and another table's name are not events",
    );
    const backend = new MemoryBackend({
      scheme: "mem",
      display: "mem://events",
      name: `events-${Date.now()}`,
    });
    t.equal((await recordTableEvents(backend, identity, found)).length, 2, "recorded");
    t.equal(
      (await recordTableEvents(backend, identity, found)).length,
      0,
      "once: a second run writes nothing",
    );
    t.same(await listTableEvents(backend, identity), found, "and listed back as found");
  },
);
