/**
 * Truncations, schema changes and a dropped and re-created table in the restore window, on one real
 * Cassandra 5.0.9 node with `auto_snapshot: true` (Cassandra's default), checked against the oracle:
 *
 *   snapshot, writes, incremental, ALTER ADD, writes, T_before, TRUNCATE wide, writes, incremental,
 *   writes, T_after, the accident, ALTER DROP raw, a later snapshot.
 *
 * A whole-node restore to T_after holds exactly the statements stamped <= T_after (wide: only the
 * rows written after the TRUNCATE; kv: the added column's values) and the plan states the TRUNCATE,
 * the column added and the column dropped after T (whose values cannot come back in place: compared
 * without it). A keyspace restore to T_before, before the TRUNCATE, brings the truncated rows back.
 * Then exact.logs is dropped and re-created: a plan at T before the drop, inside the gap and after
 * the re-create is refused (exit 17) naming both ids and the drop time; the drill command the
 * refusal gives restores exact.logs at T before the drop into a scratch node (WITH ID = the old
 * id), and the kept node's table equals the reference.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import t, { type Test } from "tap";
import { Clock, expectOk, pitrNode } from "./restore-scenario.js";
import { ScratchCassandra } from "../helpers/scratch.js";
import type { CassandraNode } from "../helpers/cassandra.js";
import {
  STAMPED_TABLES,
  Workload,
  apply,
  createExactKeyspace,
  dumpDiff,
  dumpTable,
  replayInto,
  type Statement,
} from "../helpers/oracle.js";

const KS = "exact";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// This file writes no counters (restore-exact covers them).
const TABLES = [...STAMPED_TABLES, "logs"];

t.test(
  "TRUNCATE before and after T, ALTER ADD before T and DROP after T, a re-created table (oracle, one node)",
  async (t) => {
    const p = await pitrNode(t, "restore-schema");
    const { node } = p;
    // Cassandra's default, which the test nodes turn off: TRUNCATE and DROP snapshot the table first.
    await node.stop();
    const yamlPath = join(node.confDir, "cassandra.yaml");
    await writeFile(
      yamlPath,
      (await readFile(yamlPath, "utf8")).replace(/^auto_snapshot: false$/m, "auto_snapshot: true"),
    );
    await node.start();

    await createExactKeyspace(node, KS);
    await node.execute(`CREATE TABLE ${KS}.logs (pk int PRIMARY KEY, v text)`);
    const w = new Workload(20261128, 3000);
    const clock = new Clock();
    const write = async (count: number, kind?: string) => {
      for (let i = 0; i < count; i++)
        await apply(node, w.next(clock.tick(i % 2 === 0 ? 400n : 1300n), kind), KS);
    };
    const logged = async (cql: string, kind: string): Promise<Statement> => {
      const s = { cql, ts: clock.tick(400n), kind };
      w.log.push(s);
      await apply(node, s, KS);
      return s;
    };
    /** Waits until the wall clock is past every client timestamp given so far, so a TRUNCATE falls between them. */
    const clockPast = async () => {
      const last = w.log[w.log.length - 1]!.ts;
      while (BigInt(Date.now()) * 1000n <= last + 2000n) await sleep(5);
    };

    for (const kind of Workload.kinds()) await write(1, kind);
    await write(150);
    for (let i = 0; i < 20; i++)
      await logged(
        `INSERT INTO {ks}.logs (pk, v) VALUES (${i}, 'old-${i}') USING TIMESTAMP {ts}`,
        "logs-insert",
      );
    await node.nodetool("flush", KS);
    await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot -t base exact");

    await write(300);
    await node.nodetool("flush", KS);
    await expectOk(t, await p.cli("incremental"), "incremental after a flush");
    // exact.logs in the commit log too (its old id): inserts, an update and a row delete before T_before.
    for (let i = 20; i < 30; i++)
      await logged(
        `INSERT INTO {ks}.logs (pk, v) VALUES (${i}, 'mid-${i}') USING TIMESTAMP {ts}`,
        "logs-insert",
      );
    await logged("UPDATE {ks}.logs USING TIMESTAMP {ts} SET v = 'updated' WHERE pk = 3", "logs-update");
    await logged("DELETE FROM {ks}.logs USING TIMESTAMP {ts} WHERE pk = 4", "logs-delete");
    await logged("ALTER TABLE {ks}.kv ADD extra text", "alter-add");
    for (let i = 0; i < 20; i++)
      await logged(`UPDATE {ks}.kv USING TIMESTAMP {ts} SET extra = 'e${i}' WHERE pk = ${i}`, "extra-update");
    await write(200);
    const atBefore = (
      await logged(
        "INSERT INTO {ks}.wide (a, b, c, d, v) VALUES (1, 'b1', 1, 1, 'before') USING TIMESTAMP {ts}",
        "composite-insert",
      )
    ).ts;
    await write(50);

    await logged("DELETE FROM {ks}.logs USING TIMESTAMP {ts} WHERE pk = 5", "logs-delete"); // after T_before
    await logged("INSERT INTO {ks}.logs (pk, v) VALUES (40, 'late') USING TIMESTAMP {ts}", "logs-insert");
    await clockPast();
    const beforeTruncate = w.log.length;
    await node.execute(`TRUNCATE ${KS}.wide`);
    const truncDir = (await readdir(join(await node.tableDir(KS, "wide"), "snapshots"))).find((n) =>
      n.startsWith("truncated-"),
    );
    t.ok(truncDir, `Cassandra 5.0.9 wrote its truncation auto-snapshot (${truncDir})`);
    const truncatedAtMs = Number(/^truncated-(\d+)-wide$/.exec(truncDir ?? "")?.[1]);
    w.log.push({ cql: "TRUNCATE {ks}.wide", ts: BigInt(truncatedAtMs) * 1000n, kind: "truncate" });
    await clockPast();
    t.ok(
      w.log.slice(0, beforeTruncate).every((s) => s.ts < BigInt(truncatedAtMs) * 1000n),
      "every statement before the TRUNCATE is stamped before its time",
    );

    await write(150);
    for (let i = 0; i < 30; i++) await write(1, "composite-insert");
    await node.nodetool("flush", KS);
    const inc = await expectOk(t, await p.cli("incremental"), "incremental after the TRUNCATE");
    t.match(inc.stdout, /1 truncation\(s\)\/drop\(s\) recorded/, "incremental records the truncation");
    await write(150);
    const atAfter = (
      await logged(
        "INSERT INTO {ks}.wide (a, b, c, d, v) VALUES (2, 'b2', 2, 2, 'after') USING TIMESTAMP {ts}",
        "composite-insert",
      )
    ).ts;
    t.ok(BigInt(truncatedAtMs) * 1000n < atAfter, "T_after is after the TRUNCATE");

    // After T: the accident, then a column dropped, then a later snapshot (it holds the newest schema).
    for (const kind of [
      "row-delete",
      "range-delete",
      "partition-delete",
      "composite-range-delete",
      "kv-row-delete",
    ])
      await write(10, kind);
    await write(150);
    await logged("ALTER TABLE {ks}.kv DROP raw", "alter-drop");
    await node.nodetool("flush", KS);
    await expectOk(t, await p.cli("incremental"), "incremental after T");
    await expectOk(t, await p.cli("snapshot", "-t", "later", KS), "snapshot -t later exact");
    await node.stop();

    // 1. Whole node to T_after: wide holds only what was written after the TRUNCATE.
    const plan = await expectOk(
      t,
      await p.cli("plan", "--at", atAfter.toString(), "--grace", "1h"),
      "plan --at T_after",
    );
    t.match(
      plan.stdout,
      new RegExp(
        `truncated: ${KS}\\.wide \\(id [0-9a-f-]+\\) at ${new Date(truncatedAtMs).toISOString().replace(/\./g, "\\.")}`,
      ),
      "the plan states the TRUNCATE",
    );
    t.match(
      plan.stdout,
      /skip base exact\.wide: \d+ sstable\(s\) taken before the TRUNCATE/,
      "and leaves out the snapshot's sstables of the truncated table",
    );
    t.match(
      plan.stdout,
      /skip exact\.wide\/[^:]+: flushed before the TRUNCATE/,
      "and the incremental Cassandra flushed for the TRUNCATE",
    );
    t.match(
      plan.stdout,
      /schema: column exact\.kv\.extra was added after the base snapshot .*harmless/,
      "the plan says a column was added, harmlessly",
    );
    t.match(
      plan.stdout,
      /schema: column exact\.kv\.raw was dropped at .*after the restore point: its values at T cannot come back in place.*scratch node/,
      "the plan says a column dropped after T cannot come back in place, and how to recover it",
    );
    const planJson = JSON.parse(
      (
        await expectOk(
          t,
          await p.cli("plan", "--at", atAfter.toString(), "--grace", "1h", "--json"),
          "plan --json",
        )
      ).stdout,
    ) as { truncations?: unknown[]; schemaChanges?: { kind: string }[] };
    t.equal(planJson.truncations?.length, 1, "plan JSON lists the truncation");
    t.same(
      planJson.schemaChanges?.map((c) => c.kind).sort(),
      ["column-added", "column-dropped-after"],
      "plan JSON lists the schema changes",
    );

    const restored = await expectOk(
      t,
      await p.cli("restore", "--at", atAfter.toString(), "--grace", "1h"),
      "restore --at T_after",
    );
    t.match(
      restored.stdout,
      /withheld \d+ of truncated tables stamped before their TRUNCATE/,
      "restore says how many mutations the TRUNCATE withholds",
    );
    await node.start();
    await expectOk(t, await p.cli("restore", "finish"), "restore finish");
    await compare(t, p.node, w.log, atAfter, "exact_ref1", "T_after");
    t.ok(
      (await dumpTable(node, KS, "wide")).some((l) => l.includes('"after"')) &&
        !(await dumpTable(node, KS, "wide")).some((l) => l.includes('"before"')),
      "wide holds the row written after the TRUNCATE, not the one before",
    );

    // 2. Keyspace to T_before: before the TRUNCATE, its rows come back.
    await node.stop();
    await expectOk(
      t,
      await p.cli("restore", "--at", atBefore.toString(), "--keyspace", KS, "--grace", "1h"),
      "restore --at T_before --keyspace exact",
    );
    await node.start();
    await expectOk(t, await p.cli("restore", "finish"), "restore finish (T_before)");
    await compare(t, p.node, w.log, atBefore, "exact_ref2", "T_before");
    const logsAtBefore = await dumpTable(node, "exact_ref2", "logs");

    // 3. exact.logs dropped and re-created: refused at T before the drop, inside the gap, after the re-create.
    const oldId = (await node.tableDir(KS, "logs")).slice(-32);
    await node.execute(`DROP TABLE ${KS}.logs`);
    await sleep(50);
    const inGap = BigInt(Date.now()) * 1000n;
    await sleep(50);
    await node.execute(`CREATE TABLE ${KS}.logs (pk int PRIMARY KEY, v text)`);
    await node.execute(`INSERT INTO ${KS}.logs (pk, v) VALUES (1, 'new')`);
    const newId = (await readdir(join(node.dataDir, KS)))
      .filter((d) => d.startsWith("logs-"))
      .map((d) => d.slice(5))
      .find((id) => id !== oldId)!;
    await node.nodetool("flush", KS);
    await expectOk(t, await p.cli("incremental"), "incremental after the re-create");
    await sleep(20);
    const afterCreate = BigInt(Date.now()) * 1000n;
    await node.stop();
    const dashed = (hex: string) =>
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const both = new RegExp(`${dashed(oldId)}.*${dashed(newId)}|${dashed(newId)}.*${dashed(oldId)}`, "s");
    for (const [name, at] of [
      ["T before the drop", atBefore],
      ["T inside the gap", inGap],
      ["T after the re-create", afterCreate],
    ] as const) {
      const ran = await p.cli("restore", "--at", at.toString(), "--keyspace", KS, "--grace", "1h");
      t.equal(ran.exitCode, 17, `${name}: restore refused (exit 17)\n${ran.stdout}\n${ran.stderr}`);
      t.match(
        ran.stderr,
        /exact\.logs.*dropped at \d{4}-\d\d-\d\dT/s,
        `${name}: names the table and the drop time`,
      );
      if (name !== "T inside the gap") t.match(ran.stderr, both, `${name}: names both ids`);
      else t.match(ran.stderr, /did not exist at T/, `${name}: says the table did not exist at T`);
      t.match(ran.stderr, /hint: /, `${name}: says what to do`);
    }
    t.notOk(
      (await readdir(node.confDir)).some(
        (f) => f === "cassandra-pitr-restore.json" || f === "cassandra-pitr-restore.journal",
      ),
      "nothing was changed on the node",
    );

    // 4. The way out the refusal gives: a drill restores exact.logs as it was at T_before into a
    // scratch node that creates it WITH ID = the old id; the kept node holds exactly the reference.
    const refused = await p.cli(
      "restore",
      "--at",
      atBefore.toString(),
      "--table",
      `${KS}.logs`,
      "--grace",
      "1h",
    );
    const command = /'(cassandra-pitr verify --drill [^']+)'/.exec(refused.stderr)?.[1];
    t.match(
      command,
      new RegExp(`^cassandra-pitr verify --drill --at \\S+ --table ${KS}\\.logs --keep-scratch$`),
      `the refusal gives the drill command (${command})`,
    );
    t.match(
      refused.stderr,
      new RegExp(`WITH ID = ${dashed(oldId)}`),
      "and the old id the scratch node creates the table with",
    );
    const drill = await p.cli(
      ...command!.split(" ").slice(1),
      "--grace",
      "1h",
      "--expect",
      `${KS}.logs=${logsAtBefore.length}`,
      "--json",
    );
    t.equal(
      drill.exitCode,
      0,
      `the drill passes (exact.logs=${logsAtBefore.length})\n${drill.stdout}\n${drill.stderr}`,
    );
    const kept = (JSON.parse(drill.stdout) as { scratch: { kept_at: string | null } }).scratch.kept_at;
    t.ok(kept, `the scratch node is kept (${kept})`);
    if (kept) {
      const scratch = await ScratchCassandra.open(kept);
      t.teardown(() => scratch.destroy());
      const got = await dumpTable(scratch.asNode(), KS, "logs");
      t.ok(
        got.length > 0 && got.join("\n") === logsAtBefore.join("\n"),
        `the kept scratch node's exact.logs equals the reference at T_before, write times included (${got.length} rows)\n${dumpDiff(got, logsAtBefore)}`,
      );
    }
  },
);

/** Restored keyspace against the reference of the statements <= at; raw was dropped after T, so left out. */
async function compare(
  t: Test,
  node: CassandraNode,
  log: readonly Statement[],
  at: bigint,
  ref: string,
  what: string,
): Promise<void> {
  await createExactKeyspace(node, ref);
  await node.execute(`CREATE TABLE IF NOT EXISTS ${ref}.logs (pk int PRIMARY KEY, v text)`);
  await replayInto(node, log, at, ref);
  for (const table of TABLES) {
    const omit = table === "kv" ? ["raw"] : [];
    const got = await dumpTable(node, KS, table, omit);
    const want = await dumpTable(node, ref, table, omit);
    t.ok(want.length > 0 || table === "wide", `${what} ${table}: the reference has rows (${want.length})`);
    t.ok(
      got.join("\n") === want.join("\n"),
      `${what} ${table}: every column and writetime equals the reference (${got.length} vs ${want.length} rows)\n${dumpDiff(got, want)}`,
    );
  }
}
