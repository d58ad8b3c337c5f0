/**
 * One point-in-time restore of a real 3-node cluster (RF=3, hinted handoff on), driven through the
 * archive by each node's agent: proofs (a) and (b) of issue 11 on one cluster, to keep the suite
 * affordable (one cluster start for both).
 *
 * Writes with explicit timestamps at QUORUM, a cluster snapshot (`snapshot --cluster`, taken by the
 * agents), node 3 down while rows are written before and after T (hints stored on nodes 1 and 2,
 * whose delivery is paused so they are still there at the restore), rows after T at ONE and QUORUM,
 * a logged batch after T, node 3 back, TRUNCATE after T. Then one `restore --cluster --at T`. After
 * every node started and a minute for hint delivery: no node alone (CL=ONE pinned to it) and no read
 * at ALL returns a row stamped after T; nodes 1 and 2 alone hold exactly the oracle's rows (every
 * write stamped <= T, latest per key, compared with writetime()); node 3 lacks only what it missed
 * while down (hints are moved aside, never delivered), and after `nodetool repair` from the restored
 * replicas every node alone and CL=ALL hold exactly the oracle's rows.
 */
import t from "tap";
import cassandra from "cassandra-driver";
import { execa } from "execa";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { NODE_SCRIPT, waitFor } from "../helpers/cassandra.js";
import { CassandraCluster, type ClusterMember } from "../helpers/cluster.js";
import { ARCHIVE_HOOK, CLI, cleanEnv, runNode, tempDir, type Ran } from "../helpers/hooks.js";
import { formatInstant } from "../../src/restore/time.js";

const KS = "clrest";
const { one, quorum, all } = cassandra.types.consistencies;
const configOf = (m: ClusterMember) => join(m.dir, "cassandra-pitr.yaml");

interface Write {
  readonly id: number;
  readonly v: string;
  readonly ts: bigint;
}

/** Client timestamps that follow the wall clock and strictly increase. */
class Clock {
  private last = 0n;
  tick(): bigint {
    const now = BigInt(Date.now()) * 1000n;
    this.last = this.last + 1n > now ? this.last + 1n : now;
    return this.last;
  }
}

/** The oracle: the newest write stamped <= T per id, as "id|v|writetime" lines, sorted. */
function oracle(log: readonly Write[], at: bigint): string[] {
  const latest = new Map<number, Write>();
  for (const w of log) if (w.ts <= at && (latest.get(w.id)?.ts ?? -1n) < w.ts) latest.set(w.id, w);
  return [...latest.values()].map((w) => `${w.id}|${w.v}|${w.ts}`).sort();
}

async function dump(session: { execute: ClusterMember["execute"] }, consistency: number): Promise<string[]> {
  const rs = await session.execute(`SELECT id, v, writetime(v) AS wt FROM ${KS}.t`, [], {
    consistency,
    fetchSize: 100_000,
  });
  return rs.rows.map((r) => `${r["id"] as number}|${r["v"] as string}|${String(r["wt"])}`).sort();
}

const stampOf = (line: string) => BigInt(line.slice(line.lastIndexOf("|") + 1));

// Two cluster starts, a restore that stops, restores and starts three nodes, a minute for hints, a
// repair: above the suite's 20 minutes per file on a loaded 2-core machine.
t.setTimeout(45 * 60_000);

t.test(
  "restore --cluster on a real 3-node cluster: every node at T, nothing after T comes back (hints, batchlog)",
  async (t) => {
    const root = await tempDir("restore-cluster-e2e");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const archive = `file://${join(root, "archive")}`;
    await execa("mkdir", ["-p", join(root, "archive")]);
    const cluster = await CassandraCluster.create("clrest");
    t.teardown(() => cluster.destroy(!t.passing()));
    await cluster.start();

    for (const m of cluster.nodes) {
      const init = await runNode(
        CLI,
        [
          "init",
          `--write=${configOf(m)}`,
          `--nodetool=${m.nodetoolCommand}`,
          `--archive=${archive}`,
          `--commitlog-dir=${m.commitlogDir}`,
          `--data-dir=${m.dataDir}`,
          `--log-file=${join(m.dir, "logs/cassandra-pitr.log")}`,
        ],
        cleanEnv({}),
      );
      t.equal(init.exitCode, 0, `init on node ${m.index}`);
      // What the agent needs to carry out a cluster restore on this node.
      await execa("sh", ["-c", `cat >> '${configOf(m)}'`], {
        input: [
          `cassandraConf: ${m.confDir}`,
          `stopCommand: bash ${NODE_SCRIPT} stop ${m.dir}`,
          `startCommand: bash ${NODE_SCRIPT} start ${m.dir}`,
          "agentInterval: 2s",
          "nodeCommandTimeout: 15m",
          "",
        ].join("\n"),
      });
    }
    const clusterName = (await readFile(configOf(cluster.node(1)), "utf8"))
      .match(/^cluster: (.+)$/m)![1]!
      .replace(/^["']|["']$/g, "");
    await cluster.stop();
    await cluster.reconfigure({
      archiveCommand: `${ARCHIVE_HOOK} --config=@NODE_DIR@/cassandra-pitr.yaml %path %name`,
    });
    await cluster.start();

    // Each node's agent, as it runs beside Cassandra in production.
    const agents = cluster.nodes.map((m) =>
      execa(process.execPath, [CLI, "agent", `--config=${configOf(m)}`], {
        env: cleanEnv({}),
        extendEnv: false,
        reject: false,
        all: true,
      }),
    );
    t.teardown(async () => {
      for (const a of agents) a.kill("SIGTERM");
      await Promise.all(agents);
    });
    const env = cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive, CASSANDRA_PITR_CLUSTER: clusterName });
    const cli = (...args: string[]): Promise<Ran> => runNode(CLI, args, env);
    // restore and finish watch every node through stop, restore and start: longer than runNode's bound.
    const watched = async (...args: string[]): Promise<Ran> => {
      const r = await execa(process.execPath, [CLI, ...args], {
        env,
        extendEnv: false,
        reject: false,
        timeout: 40 * 60_000,
        stdin: "ignore",
      });
      const [stdout, stderr] = [String(r.stdout ?? ""), String(r.stderr ?? "")];
      return {
        exitCode: r.exitCode ?? -1,
        stdout,
        stderr,
        lines: (stdout + "\n" + stderr).split("\n").filter((l) => l.trim().length > 0),
      };
    };

    await cluster.execute(
      `CREATE KEYSPACE ${KS} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}`,
    );
    await cluster.execute(
      `CREATE TABLE ${KS}.t (id int PRIMARY KEY, v text) WITH speculative_retry = 'NONE' AND read_repair = 'NONE'`,
    );
    const clock = new Clock();
    const log: Write[] = [];
    const write = async (ids: number[], tag: string, consistency: number) => {
      for (let i = 0; i < ids.length; i += 50) {
        await Promise.all(
          ids.slice(i, i + 50).map(async (id) => {
            const w = { id, v: `${tag}-${id}-${"x".repeat(500)}`, ts: clock.tick() };
            log.push(w);
            await cluster.execute(
              `INSERT INTO ${KS}.t (id, v) VALUES (?, ?) USING TIMESTAMP ?`,
              [id, w.v, cassandra.types.Long.fromString(w.ts.toString())],
              { consistency },
            );
          }),
        );
      }
    };
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

    await write(range(0, 100), "base", quorum);
    for (const m of cluster.nodes) await m.nodetool("flush", KS);
    const snap = await cli("snapshot", "--cluster", "--tag", "base", "--wait", KS);
    t.equal(
      snap.exitCode,
      0,
      `snapshot --cluster --wait: every agent took it (${snap.stdout}${snap.stderr})`,
    );
    t.equal(snap.stdout.match(/snapshot 'base' uploaded/g)?.length, 3, "three nodes answered");

    await write(range(100, 200), "before", quorum);
    await cluster.node(3).stop();
    await write(range(200, 300), "while-down", quorum); // node 3 misses these: hints on nodes 1 and 2
    const T = clock.tick();
    await waitFor("the wall clock past T", async () => BigInt(Date.now()) * 1000n > T + 2000n, 10_000);
    await write(range(300, 400), "after-one", one);
    await write(range(0, 50), "after-quorum", quorum);
    const batch = range(1000, 1010).map((id) => ({ id, v: `batch-${id}`, ts: clock.tick() }));
    log.push(...batch);
    await (
      await cluster.cql()
    ).batch(
      batch.map((w) => ({
        query: `INSERT INTO ${KS}.t (id, v) VALUES (?, ?) USING TIMESTAMP ?`,
        params: [w.id, w.v, cassandra.types.Long.fromString(w.ts.toString())],
      })),
      { prepare: true, logged: true, consistency: quorum },
    );
    for (const m of [cluster.node(1), cluster.node(2)]) await m.nodetool("pausehandoff");
    await cluster.node(3).start();
    const hinted = async () =>
      (
        await Promise.all(
          [1, 2].map(
            async (i) =>
              (await readdir(join(cluster.node(i).dir, "hints"))).filter((f) => f.endsWith(".hints")).length,
          ),
        )
      ).reduce((a, b) => a + b, 0);
    t.ok((await hinted()) > 0, "nodes 1 and 2 hold hints for node 3 (delivery paused)");
    await cluster.execute(`TRUNCATE ${KS}.t`);
    await write(range(400, 450), "after-truncate", quorum);
    // drain closes every node's active segment; the hook archives it (close time after T).
    for (const m of cluster.nodes) await m.nodetool("drain");
    await waitFor(
      "every node restorable at T",
      async () => (await cli("plan", "--cluster", "--at", formatInstant(T))).exitCode === 0,
      180_000,
    );

    const before = await cli("plan", "--cluster", "--at", "2000-01-01T00:00:00Z");
    t.equal(before.exitCode, 17, "plan --cluster before every snapshot: refused (17)");
    t.match(before.stderr, /refused: node .*no complete snapshot/, "names the nodes and why");
    t.match(
      before.stderr,
      /nearest instant to which every node can be restored is/,
      "names the nearest common instant",
    );

    const restore = watched("restore", "--cluster", "--at", formatInstant(T), "--node-timeout", "20m");
    await waitFor(
      "the request in the archive",
      async () => (await cli("restore", "status", "--cluster")).stdout.includes("phase restore"),
      60_000,
    );
    const second = await cli("restore", "--cluster", "--at", formatInstant(T));
    t.equal(
      second.exitCode,
      26,
      `a second request while one is in progress: refused (26): ${second.stderr.trim()}`,
    );
    const done = await restore;
    t.comment(done.stdout);
    t.equal(done.exitCode, 0, `restore --cluster: exit 0 ${done.stderr}`);
    const status = await cli("restore", "status", "--cluster");
    t.comment(status.stdout);
    t.match(status.stdout, /moved aside hints: [1-9]\d* file/, "hints moved aside (and listed)");
    t.match(status.stdout, /moved aside system\.batches/, "batchlog moved aside");
    t.match(status.stdout, /moved aside system\.paxos/, "Paxos state moved aside");
    t.equal(await hinted(), 0, "no hint file left where Cassandra delivers from");

    // A minute for hint delivery: nothing may arrive.
    await new Promise((r) => setTimeout(r, 60_000));
    const want = oracle(log, T);
    for (const m of cluster.nodes) {
      const got = await dump(m, one);
      t.same(
        got.filter((l) => stampOf(l) > T),
        [],
        `node ${m.index} alone: no row stamped after T`,
      );
      if (m.index !== 3) t.same(got, want, `node ${m.index} alone: exactly the rows stamped <= T`);
      else
        t.same(
          got.filter((l) => !want.includes(l)),
          [],
          "node 3 alone: only rows of the oracle (it lacks what it missed while down)",
        );
    }
    await cluster.node(3).nodetool("repair", KS);
    for (const m of cluster.nodes)
      t.same(await dump(m, one), want, `after repair, node ${m.index} alone: exactly the rows stamped <= T`);
    t.same(await dump(cluster, all), want, "CL=ALL: exactly the rows stamped <= T");

    const finish = await watched("restore", "finish", "--cluster", "--node-timeout", "10m");
    t.equal(finish.exitCode, 0, `restore finish --cluster: exit 0 ${finish.stdout}${finish.stderr}`);
    for (const m of cluster.nodes)
      t.notMatch(
        await readFile(join(m.confDir, "commitlog_archiving.properties"), "utf8"),
        /^restore_point_in_time/m,
        `node ${m.index}: restore settings removed`,
      );
    t.match(
      (await cli("restore", "status", "--cluster")).stdout,
      /no cluster restore in progress/,
      "the operation is closed",
    );
    for (const a of agents) a.kill("SIGTERM");
    await cluster.stop();
  },
);
