/**
 * What proves Cassandra accepts the filter's rewritten bytes: real segments (fixtures/mutations)
 * filtered at an instant T are restored into fresh Cassandra 5.0.9 nodes (restore_command `cp`,
 * restore_point_in_time T, the schema from the snapshot's schema.cql), and each restored keyspace must
 * equal a reference node that ran only the statements stamped <= T. The same segment restored
 * unfiltered shows Cassandra's own check letting row DELETEs after T through.
 */
import t, { type Test } from "tap";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { filterSegment, WITHHELD_TABLE_ID } from "../../src/commitlog/mutations/filter.js";
import { isSystemTableId, systemTableId } from "../../src/commitlog/mutations/system-tables.js";
import { formatRestorePoint } from "../../src/restore/time.js";
import { CassandraNode, type NodeOptions } from "../helpers/cassandra.js";
import { tempDir } from "../helpers/hooks.js";
import { loadMutationSet, type MutationSet } from "../commitlog/mutation-fixtures.js";

const KS = "pitr_mut";
const TABLES = ["all_types", "clustered", "composite", "collections", "counts", "conditional"];

/** schema.cql statements: CREATE TYPE / CREATE TABLE first, the ALTER TABLE ... DROP history after. */
function schemaStatements(set: MutationSet): { creates: string[]; alters: string[] } {
  const all = [
    ...new Set(
      set.schemaFiles.flatMap((f) =>
        f.text
          .split(/;\s*\n/)
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ),
  ];
  const types = all.filter((s) => /^CREATE TYPE/i.test(s));
  const tables = all.filter((s) => /^CREATE TABLE/i.test(s));
  return { creates: [...types, ...tables], alters: all.filter((s) => /^ALTER TABLE/i.test(s)) };
}

async function createSchema(node: CassandraNode, statements: readonly string[]): Promise<void> {
  await node.execute(
    `CREATE KEYSPACE ${KS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  for (const s of statements) await node.execute(s);
}

/** Every row of every table as Cassandra renders it (SELECT JSON), sorted: comparable across nodes. */
async function contents(node: CassandraNode): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rs = await node.execute(`SELECT JSON * FROM ${KS}.${table}`);
    out[table] = rs.rows.map((r) => String(r["[json]"])).sort();
  }
  return out;
}

async function fresh(t: Test, name: string, options: NodeOptions = {}): Promise<CassandraNode> {
  const node = await CassandraNode.create(name, options);
  t.teardown(() => node.destroy());
  await node.start();
  return node;
}

/** The keyspace of a node that ran only the statements up to and including `lastSeq`. */
async function reference(t: Test, set: MutationSet, lastSeq: number) {
  const node = await fresh(t, "filter-reference");
  const { creates, alters } = schemaStatements(set);
  await createSchema(node, creates);
  for (const s of set.statements.filter((x) => x.seq <= lastSeq)) await node.execute(s.cql);
  for (const a of alters) await node.execute(a);
  const systemIds = await node.execute(
    "SELECT keyspace_name, table_name, id FROM system_schema.tables WHERE keyspace_name IN ('system', 'system_schema', 'system_auth', 'system_distributed', 'system_traces')",
  );
  const expected = await contents(node);
  await node.stop();
  return {
    expected,
    systemIds: systemIds.rows.map((r) => ({
      ks: String(r["keyspace_name"]),
      table: String(r["table_name"]),
      id: String(r["id"]),
    })),
  };
}

/**
 * A fresh node with the snapshot's schema, then restarted to restore `segment` up to `at`. A
 * descriptor 8 segment needs a node writing version 8 (storage_compatibility_mode NONE).
 */
async function restored(
  t: Test,
  name: string,
  set: MutationSet,
  segment: { name: string; bytes: Uint8Array },
  at: bigint,
) {
  const options: NodeOptions = set.kind === "v8" ? { compat: "NONE" } : {};
  const node = await fresh(t, name, options);
  const { creates, alters } = schemaStatements(set);
  await createSchema(node, [...creates, ...alters]);
  await node.stop();
  const dir = await tempDir(name);
  const staged = join(dir, "restore");
  await mkdir(staged);
  await writeFile(join(staged, segment.name), segment.bytes);
  await node.reconfigure({
    ...options,
    restoreCommand: "cp %from %to",
    restoreDirectories: staged,
    restorePointInTime: formatRestorePoint(at, true),
    precision: "MICROSECONDS",
    // Only the restored keyspace: the fixture node's system tables stay out of this node.
    jvmOpts: [`-Dcassandra.replayList=${TABLES.map((x) => `${KS}.${x}`).join(",")}`],
  });
  await node.start();
  return { node, contents: await contents(node), log: await node.systemLog() };
}

t.test(
  "filtered segments restore exactly the statements <= T on Cassandra 5.0.9; unfiltered, row DELETEs after T apply",
  async (t) => {
    const v7 = await loadMutationSet("v7");
    // T = the first row DELETE's own timestamp: it applies, every later statement must not.
    const cut = v7.statements.find((s) => s.kind === "row-delete")!;
    const { expected, systemIds } = await reference(t, v7, cut.seq);

    t.ok(systemIds.length > 30, `${systemIds.length} system tables on the live node`);
    for (const s of systemIds) {
      t.ok(
        s.id === systemTableId(s.ks, s.table) && isSystemTableId(s.id),
        `${s.ks}.${s.table} has the name-based id the filter passes through`,
      );
    }

    for (const kind of ["v7", "v8", "lz4", "zstd", "deflate", "snappy"]) {
      const set = kind === "v7" ? v7 : await loadMutationSet(kind);
      const at = set.statements.find((s) => s.seq === cut.seq)!.timestamp!;
      const segment = set.segments[0]!;
      const filtered = filterSegment(segment.name, segment.bytes, {
        cutoffMicros: at,
        tables: set.tables,
        passThrough: isSystemTableId,
      });
      t.ok(
        filtered.withheld > 20 && filtered.withheldBeyondCassandra >= 4,
        `${kind}: ${filtered.withheld} withheld, ${filtered.withheldBeyondCassandra} beyond Cassandra's check`,
      );
      const got = await restored(t, `filter-${kind}`, set, { name: segment.name, bytes: filtered.bytes }, at);
      t.same(got.contents, expected, `${kind}: the restored keyspace equals the statements <= T`);
      const skipped = new RegExp(
        `Skipped (\\d+) mutations from unknown \\(probably removed\\) CF with id ${WITHHELD_TABLE_ID}`,
      ).exec(got.log);
      t.equal(
        Number(skipped?.[1]),
        filtered.withheld,
        `${kind}: Cassandra skipped exactly the withheld mutations as an unknown table`,
      );
      await got.node.destroy();
    }

    const segment = v7.segments[0]!;
    const unfiltered = await restored(t, "filter-none", v7, segment, cut.timestamp!);
    const clustered = (c: Record<string, string[]>) =>
      c["clustered"]!.filter((r) => r.includes('"pk": 1,')).map((r) => Number(/"ck": (\d+)/.exec(r)![1]));
    t.ok(clustered(expected).includes(3), "row (1, 3) exists at T: its DELETE came later");
    t.notOk(
      clustered(unfiltered.contents).includes(3),
      "unfiltered, Cassandra replays that later row DELETE (maxTimestamp() ignores row deletions)",
    );
    t.not(
      JSON.stringify(unfiltered.contents),
      JSON.stringify(expected),
      "so the unfiltered restore is wrong",
    );
    t.ok(
      clustered(unfiltered.contents).includes(4) && clustered(unfiltered.contents).includes(7),
      "range deletes after T are skipped by Cassandra itself",
    );
    t.ok(
      unfiltered.contents["clustered"]!.some((r) => r.includes('"pk": 2,')),
      "and so is the partition delete after T",
    );
  },
);
