/**
 * A dead node's tail restored onto a FRESH node (issue 14), on real Cassandra 5.0.9.
 *
 * Node A (a single-node cluster): 32 MiB segments, commitlog_sync periodic (1 s), a snapshot, the
 * agent uploading partial segments every 2 s, and a slow load of every mutation kind the oracle
 * knows (test/helpers/oracle.ts: inserts, updates, TTLs, collections, UDTs, cell, row, range and
 * partition deletes, batches, explicit USING TIMESTAMP; counters, stamped by Cassandra, in their
 * own table) that never fills a segment. Then A is killed with SIGKILL and never started again;
 * `rescue` uploads the synced tail of its commit log, as an operator would run it on the dead host.
 *
 * Node B is new: its own directories (nothing of A's on disk), its own Cassandra process, the same
 * cluster name, never started before. The runbook's steps for a dead single node: `init` with A's
 * identity (offline), `replace --at T --single-node` (A's schema keyspace from the snapshot; no
 * replace_address, since a single-node cluster has no ring to take the old place from),
 * `restore --at T`, start, `restore finish`. B replays A's archive to T twice: first to an instant
 * inside the partial range, then to the newest write (an operator who chose too early an instant),
 * each compared in full (every column, writetime()) with the oracle's reference keyspace of the
 * statements stamped <= T. Before that, what an operator may get wrong on B is refused with
 * nothing changed: a restore without the schema, and `replace` without --single-node.
 */
import t from "tap";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { CassandraNode } from "../helpers/cassandra.js";
import { CLI, runNode } from "../helpers/hooks.js";
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
import { Clock, expectOk, pitrNode, startAgent } from "./restore-scenario.js";
import { listPartialSegments } from "../../src/catalog/partials.js";
import { openBackend } from "../../src/storage/open.js";

const KS = "exact";
const SYNC_MS = 1_000; // commitlog_sync_period of the test nodes
const UPLOAD_MS = 2_000;
const PAUSE_MS = 250; // between two statements of the slow load
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("a dead single node's synced tail restored onto a fresh node, exactly", async (t) => {
  const p = await pitrNode(t, "dead-a", { segmentSizeMiB: 32 });
  const a = p.node;
  await createExactKeyspace(a, KS);
  const w = new Workload(20261128, 300);
  const clock = new Clock();
  const write = async (count: number, kind?: string, pause = 0) => {
    for (let i = 0; i < count; i++) {
      await apply(a, w.next(clock.tick(i % 2 === 0 ? 400n : 1300n), kind), KS);
      if (pause) await sleep(pause);
    }
  };
  /** Every kind once, then a counter update, each followed by a pause: a slow load. */
  const slowPass = async () => {
    for (const kind of Workload.kinds()) await write(1, kind, PAUSE_MS);
    await w.counter(a, KS);
    await sleep(PAUSE_MS);
  };
  /** Waits until the wall clock is past `micros`, so no counter update's window reaches back over it. */
  const clockPast = async (micros: bigint) => {
    while (BigInt(Date.now()) * 1000n <= micros) await sleep(2);
  };

  for (const kind of Workload.kinds()) await write(1, kind);
  for (let i = 0; i < 5; i++) await w.counter(a, KS);
  await write(100);
  await a.nodetool("flush", KS);
  await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot -t base exact");

  const agent = startAgent(t, p, UPLOAD_MS);

  // The slow load, with the earlier restore point in its middle: a write stamped T1, a row delete
  // 300 µs after it (Cassandra's own filter would replay it), and no counter update across T1.
  await slowPass();
  await slowPass();
  await clockPast(w.log.filter((s) => s.window).at(-1)!.window![1]);
  const early = w.next(clock.tick(400n), "clustered-insert");
  await apply(a, early, KS);
  await apply(a, w.next(early.ts + 300n, "row-delete"), KS);
  await clockPast(early.ts + 1000n);
  await slowPass();
  await slowPass();
  await sleep(SYNC_MS + UPLOAD_MS);
  const backend = await openBackend(`file://${p.archiveDir}`);
  t.teardown(() => backend.close());
  const newestClaim = async () =>
    (await listPartialSegments(backend, p.identity, new Set()))[0]?.closeTimeMs ?? 0;
  t.ok((await newestClaim()) * 1000 >= early.ts, "the agent's partial uploads reach past T1");

  // The agent stops first (the host is going down); the last writes reach only A's disk, where
  // Cassandra syncs them within SYNC_MS. The newest write is a stamped one, after every counter
  // update's window.
  agent.kill("SIGTERM");
  await agent;
  const agentClaim = await newestClaim();
  await clockPast(w.log.filter((s) => s.window).at(-1)!.window![1]);
  for (const kind of ["row-delete", "range-delete", "partition-delete", "kv-row-delete", "insert"])
    await write(1, kind, PAUSE_MS);
  const newest = w.log.at(-1)!.ts;
  t.ok(
    w.log.every((s) => s.ts <= newest),
    "every statement is stamped at or before the newest write",
  );
  for (const at of [early.ts, newest])
    t.same(counterAmbiguity(w.log, at), [], "no counter update ran across a restore point");
  t.ok(BigInt(agentClaim) * 1000n < newest, "the newest writes are not in the archive yet");
  await sleep(SYNC_MS + 500);
  await a.kill(); // SIGKILL: A is never started again
  t.ok((await a.segmentsOnDisk()).length > 0, "the dead node's commit log is still on its disk");
  const rescued = await expectOk(t, await p.cli("rescue"), "rescue on the dead node's host");
  t.match(rescued.stdout, /rescued \d+ partial object/, "rescue uploaded the synced tail");
  t.ok(BigInt(await newestClaim()) * 1000n >= newest, "the restorable window reaches the last synced write");

  // Node B: new directories, a new process, the same cluster name; never started.
  const b = await CassandraNode.create("fresh-b", { segmentSizeMiB: 32 });
  t.teardown(() => b.destroy());
  t.not(b.dir, a.dir, "B has its own directory");
  t.same(await readdir(b.dataDir).catch(() => []), [], "B's data directory holds nothing");
  const bConfig = join(b.dir, "cassandra-pitr.yaml");
  const init = await runNode(
    CLI,
    [
      "init",
      `--config=${bConfig}`,
      `--nodetool=${b.nodetoolCommand}`,
      `--archive=file://${p.archiveDir}`,
      `--commitlog-dir=${b.commitlogDir}`,
      `--data-dir=${b.dataDir}`,
      `--cassandra-conf=${b.confDir}`,
      `--cluster=${p.identity.cluster}`,
      `--node=${p.identity.node}`,
    ],
    process.env,
  );
  t.equal(init.exitCode, 0, `init on B with A's identity, offline: exit 0 ${init.stderr}`);
  const onB = (...args: string[]) => runNode(CLI, [...args, `--config=${bConfig}`], process.env);

  // Without the schema a restore is refused before it changes anything, naming the step.
  const bare = await onB("restore", "--at", newest.toString());
  t.equal(bare.exitCode, 17, "restore on the bare new node: exit 17");
  t.match(
    bare.stderr,
    /does not exist on this node[\s\S]*'cassandra-pitr replace --at T' places[\s\S]*--single-node/,
    "names the way",
  );
  t.same(await readdir(b.dataDir).catch(() => []), [], "nothing placed");
  t.notOk(
    (await readdir(b.dir)).some((e) => e.startsWith("cassandra-pitr-restore-")),
    "no restore directory made",
  );

  const plan = await expectOk(t, await onB("plan", "--at", newest.toString()), "plan to the newest write");
  t.match(plan.stdout, /partial segment/, "the plan replays the partial segments");

  const ringless = await onB("replace", "--at", early.ts.toString());
  t.equal(ringless.exitCode, 17, "replace without --single-node on a single-node cluster: exit 17");
  t.match(ringless.stderr, /no ring to take the old place from.*add --single-node/s, "names the flag");
  t.same(await readdir(b.dataDir).catch(() => []), [], "nothing placed");
  const replace = await expectOk(
    t,
    await onB("replace", "--at", early.ts.toString(), "--single-node"),
    "replace --single-node",
  );
  t.match(replace.stdout, /single-node cluster: no ring/, "says why no replacement option is written");

  const restoreTo = async (at: bigint, ref: string) => {
    const restored = await expectOk(t, await onB("restore", "--at", at.toString()), `restore B to ${at}`);
    t.match(restored.stdout, /covers the snapshot's 4 user table\(s\)/, "the user tables of the snapshot");
    await b.start();
    t.not(await b.hostId(), p.identity.node, "B runs with a host id of its own");
    await expectOk(t, await onB("restore", "finish"), "restore finish on B");
    await replayInto(b, w.log, at, ref);
    for (const table of EXACT_TABLES) {
      const got = await dumpTable(b, KS, table);
      const want = await dumpTable(b, ref, table);
      t.ok(want.length > 0, `${table}: the reference holds rows (${want.length})`);
      t.ok(
        got.join("\n") === want.join("\n"),
        `${table} at ${at}: every column and writetime equals the reference\n${dumpDiff(got, want)}`,
      );
    }
  };
  await restoreTo(early.ts, "exact_ref1");
  await b.stop();
  await restoreTo(newest, "exact_ref2");

  const hostB = await b.hostId();
  const finished = await expectOk(t, await onB("replace", "finish"), "replace finish");
  t.match(finished.stdout, `host id ${hostB}; the archive of the dead node ${p.identity.node}`);
  const own = await expectOk(t, await onB("init", "--force"), "init --force on B, running");
  t.match(own.stdout, `node ${hostB}`, "B's config now names B's own host id");
  await b.stop();
});
