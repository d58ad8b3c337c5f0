/**
 * `list --cluster` on a real 3-node cluster (RF=3) whose nodes archive through the compiled hook:
 * `init` on each node, the hook as every node's archive_command, a snapshot per node, writes,
 * drain; the cluster's view then shows the three nodes and a common restorable window that covers
 * the writes made after the snapshots, and with the live ring every ring node has an archive.
 */
import t from "tap";
import cassandra from "cassandra-driver";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "../helpers/cassandra.js";
import { CassandraCluster, type ClusterMember } from "../helpers/cluster.js";
import { ARCHIVE_HOOK, CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";

const KS = "listcl";
const configOf = (m: ClusterMember) => join(m.dir, "cassandra-pitr.yaml");

interface ClusterJson {
  cluster: string;
  common_window: { from: string; to: string } | null;
  nodes: {
    node: string;
    restorable: { from: string; to: string }[];
    archive_stopped: boolean;
    gaps: unknown[];
  }[];
  problems: string[];
}

async function writeRows(cluster: CassandraCluster, from: number, to: number): Promise<void> {
  const filler = "z".repeat(2000);
  for (let id = from; id < to; id += 50) {
    const batch = [];
    for (let i = id; i < Math.min(id + 50, to); i++) {
      batch.push(
        cluster.execute(`INSERT INTO ${KS}.t (id, value) VALUES (?, ?)`, [i, filler], {
          consistency: cassandra.types.consistencies.quorum,
        }),
      );
    }
    await Promise.all(batch);
  }
}

t.test(
  "list --cluster on a real 3-node cluster archiving through the hook: three nodes and a common window",
  async (t) => {
    const root = await tempDir("list-cluster-e2e");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const archive = `file://${join(root, "archive")}`;
    await mkdir(join(root, "archive"));
    const cluster = await CassandraCluster.create("listcl");
    // A failed run keeps the nodes' directories (logs) under .tmp/clusters; the JVMs are killed either way.
    t.teardown(() => cluster.destroy(!t.passing()));
    await cluster.start();

    const hostIds: string[] = [];
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
      t.equal(init.exitCode, 0, `init on node ${m.index}: exit 0`);
      hostIds.push(await m.hostId());
    }
    // Cassandra reads commitlog_archiving.properties at start-up only: restart with the hook.
    await cluster.stop();
    await cluster.reconfigure({
      archiveCommand: `${ARCHIVE_HOOK} --config=@NODE_DIR@/cassandra-pitr.yaml %path %name`,
    });
    await cluster.start();

    await cluster.execute(
      `CREATE KEYSPACE ${KS} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}`,
    );
    await cluster.execute(`CREATE TABLE ${KS}.t (id int PRIMARY KEY, value text)`);
    await writeRows(cluster, 0, 200);
    for (const m of cluster.nodes) {
      await m.nodetool("flush", KS);
      const snap = await runNode(
        CLI,
        ["snapshot", "-t", "base", KS, `--config=${configOf(m)}`, `--nodetool=${m.nodetoolCommand}`],
        cleanEnv({}),
      );
      t.equal(snap.exitCode, 0, `snapshot on node ${m.index}: exit 0`);
    }
    await writeRows(cluster, 200, 1000);
    const written = Date.now();
    // drain closes the active segment and runs the hook for it on every node.
    for (const m of cluster.nodes) await m.nodetool("drain");

    const env = cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive });
    const listJson = async () =>
      JSON.parse(
        (await runNode(CLI, ["list", "--cluster", "pitr-listcl", "--json"], env)).stdout,
      ) as ClusterJson;
    await waitFor(
      "every node restorable past the writes",
      async () =>
        (await listJson()).nodes.every((n) => n.restorable.some((r) => Date.parse(r.to) >= written)),
      120_000,
    );

    const json = await runNode(CLI, ["list", "--cluster", "pitr-listcl", "--json"], env);
    t.equal(json.exitCode, 0, `list --cluster --json: exit 0 (${json.stderr.trim()})`);
    const view = JSON.parse(json.stdout) as ClusterJson;
    t.equal(view.cluster, "pitr-listcl", "the cluster's name as init discovered it");
    t.same(view.nodes.map((n) => n.node).sort(), [...hostIds].sort(), "the three nodes, by host id");
    t.same(view.problems, [], "no gap, no stopped archive");
    t.ok(view.common_window, "a common restorable window");
    const from = Math.max(...view.nodes.map((n) => Date.parse(n.restorable.at(-1)!.from)));
    const to = Math.min(...view.nodes.map((n) => Date.parse(n.restorable.at(-1)!.to)));
    t.same(
      view.common_window,
      { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
      "the intersection of the nodes' windows",
    );
    t.ok(
      from <= written && written <= to,
      "it covers the instant after the writes that followed the snapshots",
    );

    const text = await runNode(CLI, ["list", "--cluster", "pitr-listcl"], env);
    t.comment(text.stdout);
    t.equal(text.exitCode, 0, "list --cluster: exit 0");
    t.match(text.stdout, /^cluster pitr-listcl: 3 node\(s\) in file:/m, "three nodes");
    t.match(
      text.stdout,
      `common restorable window: ${view.common_window!.from} .. ${view.common_window!.to}`,
      "the common window",
    );
    for (const id of hostIds) t.match(text.stdout, `node ${id}: restorable`, `node ${id}`);

    // With the live ring (nodetool status on any node): every ring node has an archive.
    const withRing = await runNode(
      CLI,
      ["list", "--cluster", "pitr-listcl", "--json", `--nodetool=${cluster.node(2).nodetoolCommand}`],
      env,
    );
    t.equal(withRing.exitCode, 0, "list --cluster --nodetool: exit 0");
    const ringView = JSON.parse(withRing.stdout) as {
      ring_without_archive: unknown[];
      nodes: { in_ring: boolean }[];
    };
    t.same(ringView.ring_without_archive, [], "no node of the ring without an archive");
    t.same(
      ringView.nodes.map((n) => n.in_ring),
      [true, true, true],
      "every archived node is in the ring",
    );

    await cluster.stop();
  },
);
