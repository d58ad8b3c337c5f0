/**
 * Exactness against an oracle on a real node: every kind of mutation before and after T (row
 * deletes after T are the case Cassandra's own replay filter lets through), a snapshot, incremental
 * flushes, several segments, out-of-order timestamps, T equal to a write's timestamp with the next
 * write 300 µs later. After the restore, the statements stamped <= T are replayed into a reference
 * keyspace on the same node and both keyspaces are dumped in full and compared.
 */
import t from "tap";
import { Clock, expectOk, pitrNode } from "./restore-scenario.js";
import { EXACT_TABLES, Workload, apply, createExactKeyspace, dumpDiff, dumpTable, replayInto } from "../helpers/oracle.js";

const KS = "exact";

t.test("whole-node restore to T holds exactly the writes stamped <= T, for every mutation kind (oracle)", async (t) => {
  const p = await pitrNode(t, "restore-exact");
  const { node } = p;
  await createExactKeyspace(node, KS);
  const w = new Workload(20261127, 12000);
  const clock = new Clock();
  const write = async (count: number, kind?: string) => {
    for (let i = 0; i < count; i++) await apply(node, w.next(clock.tick(i % 2 === 0 ? 400n : 1300n), kind), KS);
  };
  const everyKind = async () => {
    for (const kind of Workload.kinds()) await write(1, kind);
  };

  // Before the snapshot: every kind, then a random mix.
  await everyKind();
  await write(150);
  await node.nodetool("flush", KS);
  await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot -t base exact");

  // After the snapshot and before T, with an incremental backup in the middle.
  await everyKind();
  await write(500);
  await node.nodetool("flush", KS);
  await expectOk(t, await p.cli("incremental"), "incremental after a flush");
  await write(500);
  const atStatement = w.next(clock.tick(400n), "clustered-insert");
  await apply(node, atStatement, KS);
  const at = atStatement.ts;
  await apply(node, w.next(at + 300n, "row-delete"), KS); // 300 µs after T: must not be replayed

  // After T: the accident (deletes of every kind), more writes, and two late writers: one stamped
  // before T (must come back), one stamped just after T (must not).
  await everyKind();
  for (const kind of ["row-delete", "range-delete", "partition-delete", "kv-row-delete", "cell-delete", "map-delete", "set-remove", "composite-range-delete"]) await write(12, kind);
  await write(600);
  await apply(node, w.next(at - 5_000n, "insert"), KS);
  await apply(node, w.next(at + 1n, "row-delete"), KS);
  await apply(node, w.next(at + 2n, "kv-row-delete"), KS);
  await write(200);
  await node.nodetool("flush", KS);
  await expectOk(t, await p.cli("incremental"), "incremental after T");
  await node.stop();

  const before = w.log.filter((s) => s.ts <= at).length;
  t.ok(before > 500 && before < w.log.length - 500, `T cuts the history (${before} of ${w.log.length} statements)`);

  const plan = await expectOk(t, await p.cli("plan", "--at", at.toString(), "--grace", "1h", "--json"), "plan --json");
  const planJson = JSON.parse(plan.stdout) as { steps: { kind: string }[] };
  t.ok(planJson.steps.filter((s) => s.kind === "segment").length >= 3, "the plan replays several segments");
  await expectOk(t, await p.cli("restore", "--at", at.toString(), "--grace", "1h"), "restore");
  await node.start();
  await expectOk(t, await p.cli("restore", "finish"), "restore finish");

  const replayed = await replayInto(node, w.log, at, "exact_ref");
  t.equal(replayed, before, "the reference keyspace holds every statement stamped <= T");
  for (const table of EXACT_TABLES) {
    const got = await dumpTable(node, KS, table);
    const want = await dumpTable(node, "exact_ref", table);
    t.ok(want.length > 0, `${table}: the reference is not empty (${want.length} rows)`);
    t.same(got.length, want.length, `${table}: as many rows as the reference`);
    t.ok(got.join("\n") === want.join("\n"), `${table}: every column and writetime equals the reference\n${dumpDiff(got, want)}`);
  }
  await node.stop();
});
