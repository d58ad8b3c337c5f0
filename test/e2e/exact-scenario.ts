/**
 * The oracle scenario every Cassandra release is proven with (restore-exact.test.ts on 5.0.9,
 * cassandra-41.test.ts on 4.1.10): every kind of mutation before and after T (row deletes after T
 * are the case Cassandra's own replay filter lets through), counters, a snapshot, incremental
 * flushes, several segments, out-of-order timestamps, T equal to a write's timestamp with the next
 * write 300 µs later. After a whole-node restore to T, the statements stamped <= T are replayed
 * into a reference keyspace on the same node and both keyspaces are dumped in full and compared.
 * Then (`laterRestores`) a table-scope restore to an earlier instant on the same node, checked the
 * same way, and a keyspace restore to an instant after the first restore: what the first restore
 * undid must stay undone (branches).
 */
import type { Test } from "tap";
import { Clock, expectOk, type PitrNode } from "./restore-scenario.js";
import { WITHHELD_TABLE_ID } from "../../src/replay/replay-filter.js";
import {
  EXACT_TABLES,
  Workload,
  apply,
  counterAmbiguity,
  createExactKeyspace,
  dumpDiff,
  dumpTable,
  replayInto,
} from "../helpers/oracle.js";

export const KS = "exact";

export interface ExactHistory {
  readonly w: Workload;
  readonly at: bigint;
  /** Statements stamped <= T. */
  readonly before: number;
  /** Writes `count` statements (of `kind`, or drawn at random) into the keyspace, logged. */
  readonly write: (count: number, kind?: string) => Promise<void>;
}

/**
 * Writes the history on a running node, restores the whole node to T, starts it, finishes the
 * restore and compares every table with the reference keyspace `exact_ref`. The node is left
 * running with the restore finished.
 */
export async function exactWholeNodeRestore(t: Test, p: PitrNode): Promise<ExactHistory> {
  const { node } = p;
  await createExactKeyspace(node, KS);
  const w = new Workload(20261127, 12000);
  const clock = new Clock();
  const write = async (count: number, kind?: string) => {
    for (let i = 0; i < count; i++)
      await apply(node, w.next(clock.tick(i % 2 === 0 ? 400n : 1300n), kind), KS);
  };
  const everyKind = async () => {
    for (const kind of Workload.kinds()) await write(1, kind);
  };
  // Counter updates are stamped by Cassandra: each is logged with the window it ran in.
  const counters = async (count: number) => {
    for (let i = 0; i < count; i++) await w.counter(node, KS);
  };
  /** Waits until the wall clock is past `micros`, so no counter update's window reaches back over it. */
  const clockPast = async (micros: bigint) => {
    while (BigInt(Date.now()) * 1000n <= micros) await new Promise((r) => setTimeout(r, 2));
  };

  // Before the snapshot: every kind, then a random mix.
  await everyKind();
  await counters(10);
  await write(150);
  await node.nodetool("flush", KS);
  await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot -t base exact");

  // After the snapshot and before T, with an incremental backup in the middle.
  await everyKind();
  await write(500);
  await node.nodetool("flush", KS);
  await expectOk(t, await p.cli("incremental"), "incremental after a flush");
  await counters(20);
  await write(500);
  await clockPast(w.log.filter((x) => x.window).at(-1)!.window![1]);
  const atStatement = w.next(clock.tick(400n), "clustered-insert");
  await apply(node, atStatement, KS);
  const at = atStatement.ts;
  await apply(node, w.next(at + 300n, "row-delete"), KS); // 300 µs after T: must not be replayed

  // After T: the accident (deletes of every kind), more writes, and two late writers: one stamped
  // before T (must come back), one stamped just after T (must not).
  await everyKind();
  for (const kind of [
    "row-delete",
    "range-delete",
    "partition-delete",
    "kv-row-delete",
    "cell-delete",
    "map-delete",
    "set-remove",
    "composite-range-delete",
  ])
    await write(12, kind);
  await write(600);
  await clockPast(at + 1000n);
  await counters(20); // after T: their increments must not come back
  await apply(node, w.next(at - 5_000n, "insert"), KS);
  await apply(node, w.next(at + 1n, "row-delete"), KS);
  await apply(node, w.next(at + 2n, "kv-row-delete"), KS);
  await write(200);
  await node.nodetool("flush", KS);
  await expectOk(t, await p.cli("incremental"), "incremental after T");
  await node.stop();

  const before = w.log.filter((s) => s.ts <= at).length;
  t.same(counterAmbiguity(w.log, at), [], "no counter update ran across T (the oracle can place every one)");
  t.ok(
    w.log.some((s) => s.window && s.ts <= at) && w.log.some((s) => s.window && s.ts > at),
    "counter updates before and after T",
  );
  t.ok(
    before > 500 && before < w.log.length - 500,
    `T cuts the history (${before} of ${w.log.length} statements)`,
  );

  const plan = await expectOk(
    t,
    await p.cli("plan", "--at", at.toString(), "--grace", "1h", "--json"),
    "plan --json",
  );
  const planJson = JSON.parse(plan.stdout) as { steps: { kind: string }[] };
  t.ok(planJson.steps.filter((s) => s.kind === "segment").length >= 3, "the plan replays several segments");
  const restored = await expectOk(
    t,
    await p.cli("restore", "--at", at.toString(), "--grace", "1h"),
    "restore",
  );
  const tally =
    /withheld (\d+) stamped after .*?(?:, (\d+) of them row deletions Cassandra's own filter would have replayed)?(?:;|$)/m.exec(
      restored.stdout,
    );
  t.ok(tally && Number(tally[1]) > 0, `restore says how many mutations it withheld (${tally?.[1]})`);
  t.ok(
    tally && Number(tally[2] ?? 0) > 0,
    `and how many of them Cassandra's own filter would have replayed (${tally?.[2]})`,
  );
  await node.start();
  t.match(
    await node.systemLog(),
    new RegExp(`Skipped \\d+ mutations from unknown \\(probably removed\\) CF with id ${WITHHELD_TABLE_ID}`),
    "Cassandra read the rewritten segments and skipped the withheld mutations",
  );
  await expectOk(t, await p.cli("restore", "finish"), "restore finish");

  const replayed = await replayInto(node, w.log, at, "exact_ref");
  t.equal(replayed, before, "the reference keyspace holds every statement stamped <= T");
  for (const table of EXACT_TABLES) {
    const got = await dumpTable(node, KS, table);
    const want = await dumpTable(node, "exact_ref", table);
    t.ok(want.length > 0, `${table}: the reference is not empty (${want.length} rows)`);
    t.same(got.length, want.length, `${table}: as many rows as the reference`);
    t.ok(
      got.join("\n") === want.join("\n"),
      `${table}: every column and writetime equals the reference\n${dumpDiff(got, want)}`,
    );
  }
  return { w, at, before, write };
}

/**
 * After `exactWholeNodeRestore` on the same running node: life goes on, a table-scope restore to an
 * earlier T', then a keyspace restore to T2 after the first restore. Leaves the node stopped.
 */
export async function laterRestores(t: Test, p: PitrNode, h: ExactHistory): Promise<void> {
  const { node } = p;
  const { w, at, before, write } = h;
  // Life goes on after the restore, then a table-scope restore of exact.events to an earlier T':
  // events holds exactly its writes stamped <= T', the other tables keep every newer write.
  const firstAfterRestore = w.log.length;
  await write(300);
  const at2 = w.log[w.log.length - 1]!.ts;
  const earlier = w.log[Math.floor(before * 0.75)]!.ts; // well after the snapshot, well before T
  const others = {
    kv: await dumpTable(node, KS, "kv"),
    wide: await dumpTable(node, KS, "wide"),
    hits: await dumpTable(node, KS, "hits"),
  };
  await node.stop();
  await expectOk(
    t,
    await p.cli("restore", "--at", earlier.toString(), "--table", `${KS}.events`, "--grace", "1h"),
    "restore --table exact.events to T'",
  );
  await node.start();
  await expectOk(t, await p.cli("restore", "finish"), "restore finish (table scope)");
  await replayInto(node, w.log, earlier, "exact_ref2");
  const events = await dumpTable(node, KS, "events");
  const wantEvents = await dumpTable(node, "exact_ref2", "events");
  t.ok(
    events.length > 0 && events.join("\n") === wantEvents.join("\n"),
    `events equals the reference at T' (${wantEvents.length} rows)\n${dumpDiff(events, wantEvents)}`,
  );
  t.same(
    await dumpTable(node, KS, "kv"),
    others.kv,
    "kv keeps every write, those after T' and after the first restore included",
  );
  t.same(await dumpTable(node, KS, "wide"), others.wide, "wide keeps every write");
  t.same(await dumpTable(node, KS, "hits"), others.hits, "the counters keep their values");

  // A keyspace restore, to T2 after the first restore (before the table-scope one): the writes the
  // first restore undid (stamped after T) stay undone, although T2 is later than them. A whole-node
  // restore is refused here, and rightly: the reference keyspaces were created after the snapshot,
  // so no schema.cql describes their mutations.
  await node.stop();
  const refused = await p.cli("restore", "--at", at2.toString(), "--grace", "1h");
  t.equal(
    refused.exitCode,
    17,
    "a whole-node restore over tables the snapshot does not describe is refused (exit 17)",
  );
  t.match(
    refused.stderr,
    /unknown table id .*--accept-cassandra-filter/s,
    "naming the table id and the way out",
  );
  const plan2 = await expectOk(
    t,
    await p.cli("plan", "--at", at2.toString(), "--keyspace", KS, "--grace", "1h"),
    "plan --at T2 (after the first restore)",
  );
  t.match(
    plan2.stdout,
    /a restore abandoned its history: writes stamped after .* stay withheld/,
    "the plan says which segments belong to the abandoned history",
  );
  await expectOk(
    t,
    await p.cli("restore", "--at", at2.toString(), "--keyspace", KS, "--grace", "1h"),
    "restore --at T2 --keyspace exact",
  );
  await node.start();
  await expectOk(t, await p.cli("restore", "finish"), "restore finish (T2)");
  const history = w.log.filter((s, i) => (i < firstAfterRestore ? s.ts <= at : s.ts <= at2));
  t.ok(
    w.log.some((s, i) => i < firstAfterRestore && s.ts > at && s.ts <= at2),
    "some writes undone by the first restore are stamped before T2",
  );
  await replayInto(node, history, at2, "exact_ref3");
  for (const table of EXACT_TABLES) {
    const got = await dumpTable(node, KS, table);
    const want = await dumpTable(node, "exact_ref3", table);
    t.ok(
      got.join("\n") === want.join("\n"),
      `${table} at T2 holds the restored history, not the abandoned one (${want.length} rows)\n${dumpDiff(got, want)}`,
    );
  }
  await node.stop();
}
