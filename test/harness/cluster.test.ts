/**
 * Proves the real-cluster harness: three Cassandra nodes on one machine (RF=3), writes at QUORUM
 * that every replica holds, sessions pinned to one node that read only that node, hints stored for
 * a stopped node and delivered when it comes back, and a node killed with SIGKILL that restarts
 * with its data and is brought level by hints.
 */
import t from "tap";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import { nowMicros, waitFor } from "../helpers/cassandra.js";
import { CassandraCluster, type ClusterMember } from "../helpers/cluster.js";

const { consistencies } = cassandra.types;
const KS = "harness_cluster";

interface Row {
  readonly id: number;
  readonly value: string;
  readonly writetime: bigint;
}

/** The rows node `member` alone holds: a read at ONE through a session pinned to it. */
async function rowsOn(member: ClusterMember): Promise<Row[]> {
  const rs = await member.execute(`SELECT id, value, writetime(value) AS wt FROM ${KS}.t`, [], {
    consistency: consistencies.one,
    fetchSize: 10_000,
  });
  return rs.rows
    .map((r) => ({ id: r["id"] as number, value: r["value"] as string, writetime: BigInt(String(r["wt"])) }))
    .sort((a, b) => a.id - b.id);
}

async function writeQuorum(cluster: CassandraCluster, ids: number[], base: bigint): Promise<Row[]> {
  const rows = ids.map((id) => ({ id, value: `v${id}`, writetime: base + BigInt(id) }));
  for (const r of rows) {
    await cluster.execute(
      `INSERT INTO ${KS}.t (id, value) VALUES (?, ?) USING TIMESTAMP ?`,
      [r.id, r.value, cassandra.types.Long.fromString(r.writetime.toString())],
      { consistency: consistencies.quorum },
    );
  }
  return rows;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function statusLine(status: string, address: string): string | undefined {
  return status.split("\n").find((l) => l.split(/\s+/)[1] === address);
}

/** Until `observer` reports `member` with the two-letter state (UN, DN). */
async function waitState(observer: ClusterMember, member: ClusterMember, state: string): Promise<void> {
  await waitFor(
    `node ${observer.index} to see node ${member.index} ${state}`,
    async () => statusLine(await observer.nodetool("status"), member.address)?.startsWith(state) ?? false,
    120_000,
  );
}

async function setHandoff(members: ClusterMember[], action: "pausehandoff" | "resumehandoff"): Promise<void> {
  for (const m of members) await m.nodetool(action);
}

t.test(
  "a 3-node cluster: QUORUM writes on every replica, pinned reads, hints, SIGKILL and restart",
  async (t) => {
    const cluster = await CassandraCluster.create("harness");
    // A failed run keeps the nodes' directories (logs) under .tmp/clusters; the JVMs are killed either way.
    t.teardown(() => cluster.destroy(!t.passing()));
    const [n1, n2, n3] = [cluster.node(1), cluster.node(2), cluster.node(3)];

    const started = Date.now();
    await cluster.start();
    t.comment(`3-node cluster start: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const hostIds = new Map<number, string>();
    for (const m of cluster.nodes) {
      const status = await m.nodetool("status");
      t.equal(status.match(/^UN /gm)?.length, 3, `node ${m.index} sees three nodes Up/Normal`);
      for (const other of cluster.nodes)
        t.ok(
          statusLine(status, other.address)?.startsWith("UN"),
          `node ${m.index} lists ${other.address} UN`,
        );
      hostIds.set(m.index, await m.hostId());
    }
    t.equal(new Set(hostIds.values()).size, 3, "three distinct host ids");

    // speculative_retry NONE: a read at ONE through a pinned session then never asks a second replica.
    await cluster.execute(
      `CREATE KEYSPACE ${KS} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}`,
    );
    await cluster.execute(
      `CREATE TABLE ${KS}.t (id int PRIMARY KEY, value text) WITH speculative_retry = 'NONE'`,
    );
    const base = nowMicros();
    const first = await writeQuorum(cluster, range(0, 50), base);
    // QUORUM returns after two acks; the third replica's copy may still be in flight.
    for (const m of cluster.nodes) {
      await waitFor(`node ${m.index} to hold the 50 rows`, async () => (await rowsOn(m)).length === 50);
      t.same(
        await rowsOn(m),
        first,
        `node ${m.index} alone (ONE, pinned) holds every row written at QUORUM, with its timestamp`,
      );
    }

    // Node 3 stops; rows written meanwhile become hints on nodes 1 and 2.
    await n3.stop();
    t.notOk(await n3.isRunning(), "node 3 is stopped");
    await waitState(n1, n3, "DN");
    await waitState(n2, n3, "DN");
    const whileDown = await writeQuorum(cluster, range(50, 100), base);
    // Hints are buffered in memory and written every hints_flush_period (10 s) to <host id>-*.hints
    // in the coordinator's hints directory (listpendinghints shows a file only once its writer is
    // closed, which happens when the target is back).
    const hintFiles = async (m: ClusterMember) =>
      (await readdir(join(m.dir, "hints"))).filter(
        (f) => f.startsWith(`${hostIds.get(3)!}-`) && f.endsWith(".hints"),
      );
    await waitFor(
      "hint files for node 3",
      async () => (await hintFiles(n1)).length + (await hintFiles(n2)).length > 0,
      60_000,
    );
    t.pass("node 1 or 2 holds a hint file for node 3's host id");
    // Delivery paused: node 3 restarted must miss exactly those rows, which also proves that its
    // pinned session reads node 3 alone (any other replica would have answered with 100 rows).
    await setHandoff([n1, n2], "pausehandoff");
    await n3.start();
    await waitState(n1, n3, "UN");
    t.same(
      await rowsOn(n3),
      first,
      "node 3 back, hints paused: it holds only the rows written before it stopped",
    );
    await setHandoff([n1, n2], "resumehandoff");
    await waitFor("hints delivered to node 3", async () => (await rowsOn(n3)).length === 100, 180_000);
    t.same(
      await rowsOn(n3),
      [...first, ...whileDown],
      "hints delivered: node 3 alone holds all 100 rows with their original timestamps",
    );

    // SIGKILL node 2: what it acknowledged survives (commit log replay); what it missed comes as hints.
    await n2.kill();
    t.notOk(await n2.isRunning(), "node 2 is gone after SIGKILL");
    await waitState(n1, n2, "DN");
    await waitState(n3, n2, "DN");
    const whileKilled = await writeQuorum(cluster, range(100, 120), base);
    await setHandoff([n1, n3], "pausehandoff");
    await n2.start();
    t.ok(await n2.isRunning(), "node 2 restarts after SIGKILL");
    t.same(
      await rowsOn(n2),
      [...first, ...whileDown],
      "node 2 after SIGKILL and restart still holds every row it had",
    );
    await setHandoff([n1, n3], "resumehandoff");
    await waitFor("hints delivered to node 2", async () => (await rowsOn(n2)).length === 120, 180_000);
    const all = [...first, ...whileDown, ...whileKilled];
    for (const m of cluster.nodes) t.same(await rowsOn(m), all, `node ${m.index} alone holds all 120 rows`);

    await cluster.stop();
    for (const m of cluster.nodes) t.notOk(await m.isRunning(), `node ${m.index} stopped`);
  },
);
