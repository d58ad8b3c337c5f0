/**
 * Per-node restore in a live 3-node cluster (RF=3), on real Cassandra:
 *
 * (c) The single-replica guard: node 3 stopped, the other two up; `restore --at T` of node 3 is
 *     refused (exit 17, nothing changed) because the live replicas would bring their newer data
 *     back; with --replica-lost the same restore is accepted (dry run).
 * (d) A replacement node: node 3's directories wiped (its disks lost), `init` with its old identity
 *     while it is not running, `replace --at T`, `restore --at T --replica-lost`, start: it joins
 *     with its old host id and tokens, the ring is UN x3, and node 3 alone (reads at ONE pinned to
 *     it) holds exactly the rows stamped <= T (the oracle: the statements <= T replayed into a
 *     reference keyspace, both dumped with writetime()). Nothing was streamed from the live
 *     replicas, which hold the rows written after T.
 *
 * One cluster for both: (c) leaves node 3 stopped with its data, which (d) then wipes.
 */
import t from "tap";
import cassandra from "cassandra-driver";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "../helpers/cassandra.js";
import { CassandraCluster } from "../helpers/cluster.js";
import { ARCHIVE_HOOK, CLI, runNode, tempDir } from "../helpers/hooks.js";
import {
  dumpDiff,
  dumpTable,
  EXACT_SCHEMA,
  EXACT_TABLES,
  render,
  replayInto,
  STAMPED_TABLES,
  Workload,
} from "../helpers/oracle.js";
import { Clock } from "./restore-scenario.js";

const KS = "rk";
const REF = "rkref";
const ALL = { consistency: cassandra.types.consistencies.all };

t.test(
  "single-replica guard and a replacement node rebuilt from its archive on a 3-node cluster (RF=3)",
  async (t) => {
    const root = await tempDir("replace-e2e");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const archive = `file://${join(root, "archive")}`;
    await mkdir(join(root, "archive"));
    const cluster = await CassandraCluster.create("replace");
    t.teardown(() => cluster.destroy(!t.passing()));
    await cluster.start();

    // Node 3 archives through the hook (the other nodes need no archive for this proof).
    const n3 = cluster.node(3);
    const configFile = join(n3.dir, "cassandra-pitr.yaml");
    const initArgs = [
      `--config=${configFile}`,
      `--nodetool=${n3.nodetoolCommand}`,
      `--archive=${archive}`,
      `--commitlog-dir=${n3.commitlogDir}`,
      `--data-dir=${n3.dataDir}`,
      `--cassandra-conf=${n3.confDir}`,
      `--log-file=${join(n3.dir, "logs/cassandra-pitr.log")}`,
    ];
    const init = await runNode(CLI, ["init", ...initArgs], process.env);
    t.equal(init.exitCode, 0, `init on node 3: exit 0 ${init.stderr}`);
    const hostId = await n3.hostId();
    const tokensBefore = (
      (await n3.execute("SELECT tokens FROM system.local")).rows[0]!["tokens"] as string[]
    ).sort();
    await n3.stop();
    await n3.reconfigure({ archiveCommand: `${ARCHIVE_HOOK} --config=${configFile} %path %name` });
    await n3.start();
    const cli = (...args: string[]) => runNode(CLI, [...args, `--config=${configFile}`], process.env);

    await n3.execute(
      `CREATE KEYSPACE ${KS} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}`,
    );
    for (const line of EXACT_SCHEMA) await n3.execute(line.replaceAll("{ks}", KS));
    // A read at ONE coordinated by node 3 must be served by node 3 alone.
    for (const table of EXACT_TABLES)
      await n3.execute(`ALTER TABLE ${KS}.${table} WITH speculative_retry = 'NONE'`);

    const workload = new Workload(11, 300);
    const clock = new Clock();
    const write = async (count: number) => {
      for (let i = 0; i < count; i += 25) {
        const chunk = Array.from({ length: Math.min(25, count - i) }, () => workload.next(clock.tick(700n)));
        await Promise.all(chunk.map((s) => n3.execute(render(s, KS), [], ALL)));
      }
    };
    await write(300);
    await n3.nodetool("flush", KS);
    const snap = await cli("snapshot", "-t", "base", KS);
    t.equal(snap.exitCode, 0, `snapshot -t base on node 3: exit 0 ${snap.stderr}`);
    await write(300);
    const T = clock.tick(700n) - 1n;
    await waitFor("the wall clock past T", async () => BigInt(Date.now()) * 1000n > T + 2000n, 10_000);
    await write(150);
    t.ok(
      workload.log.some((s) => s.ts > T) && workload.log.some((s) => s.ts <= T),
      "statements on both sides of T",
    );

    // drain closes the active segment and the hook archives it: the archive then reaches past T.
    await n3.stop();
    await waitFor(
      "a plan to T for node 3",
      async () => (await cli("plan", "--at", T.toString())).exitCode === 0,
      120_000,
    );

    // (c) The guard: the other two nodes are up and hold replicas of rk.
    const propertiesBefore = await readFile(join(n3.confDir, "commitlog_archiving.properties"), "utf8");
    const refused = await cli("restore", "--at", T.toString());
    t.equal(refused.exitCode, 17, "restore of node 3 alone in the live cluster: exit 17");
    t.match(
      refused.stderr,
      /restoring node \S+ alone is refused: 2 other node\(s\) of its cluster are up/,
      "says the other nodes are up",
    );
    t.match(refused.stderr, /rk \(3 replicas\)/, "names the replicated keyspace");
    t.match(refused.stderr, /read repair and 'nodetool repair'/, "says why");
    t.match(refused.stderr, /--replica-lost/, "names the way out for a rebuilt node");
    t.equal(
      await readFile(join(n3.confDir, "commitlog_archiving.properties"), "utf8"),
      propertiesBefore,
      "nothing changed: properties untouched",
    );
    t.notOk(existsSync(join(n3.confDir, "cassandra-pitr-restore.json")), "nothing changed: no restore state");
    const accepted = await cli("restore", "--at", T.toString(), "--replica-lost", "--dry-run");
    t.equal(
      accepted.exitCode,
      0,
      `with --replica-lost the restore is accepted (dry run): exit 0 ${accepted.stderr}`,
    );
    t.match(accepted.stdout, /--replica-lost: a per-node restore is meant/, "and says it was told so");

    // (d) Node 3's disks are lost: every directory Cassandra writes, and the tool's config file.
    const lost = join(root, "lost");
    await mkdir(lost);
    for (const d of ["data", "commitlog", "hints", "saved_caches"]) {
      await rename(join(n3.dir, d), join(lost, d));
      await mkdir(join(n3.dir, d));
    }
    await rename(configFile, join(lost, "cassandra-pitr.yaml"));
    // The new machine's cassandra.yaml keeps Cassandra's default auto_bootstrap: true (the harness
    // sets false for a new cluster), so only the replacement's own JVM option keeps it from streaming.
    await n3.reconfigure({
      archiveCommand: `${ARCHIVE_HOOK} --config=${configFile} %path %name`,
      autoBootstrap: true,
    });
    t.match(
      await readFile(join(n3.confDir, "cassandra.yaml"), "utf8"),
      /^auto_bootstrap: true$/m,
      "the new node's cassandra.yaml would bootstrap",
    );

    const offline = await runNode(
      CLI,
      ["init", ...initArgs, `--cluster=pitr-replace`, `--node=${hostId}`],
      process.env,
    );
    t.equal(offline.exitCode, 0, `init on the stopped node with its old identity: exit 0 ${offline.stderr}`);
    t.match(offline.stdout, `node ${hostId}`, "with the old host id, without nodetool (the node is down)");
    const replace = await cli("replace", "--at", T.toString());
    t.equal(
      replace.exitCode,
      0,
      `replace --at T: exit 0${replace.exitCode === 0 ? "" : `\n${replace.stdout}\n${replace.stderr}`}`,
    );
    t.match(replace.stdout, /tokens recorded in the snapshot: 4 /, "the snapshot recorded the node's tokens");
    const jvm = await readFile(join(n3.confDir, "jvm-extra.options"), "utf8");
    t.match(jvm, `-Dcassandra.replace_address_first_boot=${n3.address}`, "replaces its own address");
    t.match(jvm, "-Dcassandra.auto_bootstrap=false", "without streaming");
    const restore = await cli("restore", "--at", T.toString(), "--replica-lost");
    t.equal(restore.exitCode, 0, `restore --at T --replica-lost: exit 0 ${restore.stderr}`);

    await n3.start();
    t.equal(await n3.hostId(), hostId, "the rebuilt node took its old host id");
    const tokensAfter = (
      (await n3.execute("SELECT tokens FROM system.local")).rows[0]!["tokens"] as string[]
    ).sort();
    t.same(tokensAfter, tokensBefore, "and its old tokens");
    const status = await cluster.node(1).nodetool("status");
    t.equal(status.split("\n").filter((l) => /^UN\s/.test(l)).length, 3, `nodetool status: UN x3\n${status}`);
    t.match(status, hostId, "the ring knows node 3 by its old host id");

    await replayInto(n3, workload.log, T, REF);
    // This workload writes no counters (restore-exact covers them), so the counter table stays empty.
    for (const table of STAMPED_TABLES) {
      const got = await dumpTable(n3, KS, table);
      const want = await dumpTable(n3, REF, table);
      t.ok(want.length > 0, `${table}: the oracle holds rows`);
      t.same(
        got,
        want,
        `${table}: node 3 alone holds exactly the rows stamped <= T (${got.length} rows)\n${dumpDiff(got, want)}`,
      );
    }
    // The live replicas still hold the writes after T: nothing was streamed from them.
    const peers = await dumpTable(cluster.node(1), KS, "kv");
    t.not(
      peers.join("\n"),
      (await dumpTable(n3, KS, "kv")).join("\n"),
      "node 1 holds the newer data, node 3 does not",
    );

    const finish = await cli("restore", "finish");
    t.equal(finish.exitCode, 0, `restore finish: exit 0 ${finish.stderr}`);
    const done = await cli("replace", "finish");
    t.equal(done.exitCode, 0, `replace finish: exit 0 ${done.stderr}`);
    t.match(done.stdout, `node ${hostId} joined with its old host id`, "replace finish checked the host id");
    t.notMatch(
      await readFile(join(n3.confDir, "jvm-extra.options"), "utf8"),
      "replace_address_first_boot",
      "the replacement options removed",
    );

    await cluster.stop();
  },
);
