/**
 * plan --cluster: a plan per node; a node whose archive ends before T (down at T) planned to its
 * newest instant with the repair that brings it level; refusals name every node that cannot reach T,
 * why, and the nearest instant to which every node can be restored. Through the pure-ish
 * planCluster on a memory archive and once through the compiled CLI on a file:// archive.
 */
import t from "tap";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ClusterPlanRefusedError, nearestInstant, planCluster } from "../../src/cluster/plan.js";
import type { SnapshotManifest } from "../../src/backup/types.js";
import { snapshotManifestKey } from "../../src/format/backup-layout.js";
import { currentRestoreKey } from "../../src/format/cluster-ops.js";
import { segmentKey, type NodeIdentity } from "../../src/format/layout.js";
import { listNodes } from "../../src/catalog/nodes.js";
import { formatInstant, instantFromMicros } from "../../src/restore/time.js";
import { MemoryBackend } from "../../src/storage/backends/memory.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";

const MIN = 60_000;
const NOW = Date.now();
const T0 = NOW - 6 * 3_600_000;
const ms = (minute: number) => T0 + minute * MIN;
const at = (minute: number) => instantFromMicros(BigInt(ms(minute)) * 1000n);
const iso = (minute: number) => new Date(ms(minute)).toISOString();
const IDS = [
  "11111111-0000-4000-8000-000000000001",
  "22222222-0000-4000-8000-000000000002",
  "33333333-0000-4000-8000-000000000003",
] as const;

/** Segments closing every 10 minutes from minute 10 to `lastMinute`, one snapshot at `snapshotMinute`. */
async function archiveNode(
  backend: Backend,
  identity: NodeIdentity,
  snapshotMinute: number,
  lastMinute: number,
): Promise<void> {
  const firstId = BigInt(T0 - 3_600_000);
  for (let m = 10, i = 0; m <= lastMinute; m += 10, i++) {
    await backend.put(
      segmentKey(identity, { closeTimeMs: ms(m), segmentId: firstId + BigInt(i), version: 7 }),
      new Uint8Array(1),
    );
  }
  const manifest: SnapshotManifest = {
    schema_version: 1,
    kind: "snapshot",
    tag: "daily",
    snapshot_time: iso(snapshotMinute),
    snapshot_time_source: "upload",
    uploaded_at: iso(snapshotMinute),
    cluster: identity.cluster,
    host_id: identity.node,
    datacenter: null,
    cassandra_version: "5.0.9",
    tokens: null,
    tables: [],
  };
  await backend.put(
    snapshotManifestKey(identity, ms(snapshotMinute), manifest.tag),
    Buffer.from(JSON.stringify(manifest)),
  );
}

/** Node 3's archive ends at minute 100 (it went down); the others go on to minute 300. */
async function threeNodes(backend: Backend): Promise<void> {
  await archiveNode(backend, { cluster: "prod", node: IDS[0] }, 5, 300);
  await archiveNode(backend, { cluster: "prod", node: IDS[1] }, 15, 300);
  await archiveNode(backend, { cluster: "prod", node: IDS[2] }, 25, 100);
}

const input = (backend: Backend, minute: number) => ({
  backend,
  cluster: "prod",
  at: at(minute),
  graceMs: 0,
  now: NOW,
});

t.test("every node reaches T: one plan per node, each to T", async (t) => {
  const backend = new MemoryBackend({ scheme: "mem", display: "mem://cl", name: "cl-all" });
  await threeNodes(backend);
  const plan = await planCluster(input(backend, 50));
  t.same(
    plan.nodes.map((n) => [n.node, n.atMicros, n.note]),
    IDS.map((id) => [id, at(50).epochMicros, undefined]),
  );
});

t.test(
  "a node whose archive ends before T is planned to its newest instant, and the plan says what brings it level",
  async (t) => {
    const backend = new MemoryBackend({ scheme: "mem", display: "mem://cl", name: "cl-down" });
    await threeNodes(backend);
    const plan = await planCluster(input(backend, 200));
    t.same(
      plan.nodes.slice(0, 2).map((n) => n.atMicros),
      [at(200).epochMicros, at(200).epochMicros],
      "the others: T",
    );
    const down = plan.nodes[2]!;
    t.equal(down.node, IDS[2]);
    t.equal(down.atMicros, at(100).epochMicros, "node 3: the close time of its newest segment");
    t.equal(down.plan.at, at(100).epochMicros, "its plan is made for that instant");
    t.match(down.note, /its archive ends at .* before .*the node was down or not archiving/, "the reason");
    t.match(down.note, /nodetool repair/, "what brings it level: repair");
    t.match(down.note, /hints are moved aside/, "and not hints");
    t.notMatch(down.note, /not closed yet/, "not the single-node hint about unclosed segments");
  },
);

t.test(
  "refusals name every node that cannot reach T, the real reason, and the nearest common instant",
  async (t) => {
    const backend = new MemoryBackend({ scheme: "mem", display: "mem://cl", name: "cl-refused" });
    await threeNodes(backend);
    const early = await planCluster(input(backend, 10)).catch((e: unknown) => e);
    t.type(early, ClusterPlanRefusedError, "T before two nodes' snapshots");
    const e = early as ClusterPlanRefusedError;
    t.equal(e.code, "E_PLAN_REFUSED", "exit 17");
    t.same(e.nodes, [IDS[1], IDS[2]], "names the two nodes");
    t.match(e.message, `node ${IDS[1]}: no complete snapshot at or before`);
    t.match(
      e.hint,
      `the nearest instant to which every node can be restored is ${iso(25)}`,
      "nearest common instant: the last snapshot",
    );
    t.equal(e.nearestMicros, at(25).epochMicros);

    const late = (await planCluster(input(backend, 320)).catch((x: unknown) => x)) as ClusterPlanRefusedError;
    t.type(late, ClusterPlanRefusedError, "T after every node's archive");
    t.same(late.nodes, [...IDS], "every node");
    t.match(late.message, /its archive ends before the restore point/, "the real reason, per node");
    t.match(late.hint, `is ${iso(100)}`, "the newest instant every node reaches");

    const ring = [
      ...IDS.map((id, i) => ({ hostId: id, address: `10.0.0.${i + 1}`, state: "UN" })),
      { hostId: "44444444-0000-4000-8000-000000000004", address: "10.0.0.4", state: "UN" },
    ];
    const noArchive = (await planCluster({ ...input(backend, 50), ring }).catch(
      (x: unknown) => x,
    )) as ClusterPlanRefusedError;
    t.type(noArchive, ClusterPlanRefusedError, "a node of the ring with no archive");
    t.same(noArchive.nodes, ["44444444-0000-4000-8000-000000000004"]);
    t.match(noArchive.message, /in the ring \(10\.0\.0\.4\) but nothing archived/);
  },
);

t.test("nearestInstant: inside, between and outside intervals", async (t) => {
  const iv = [
    { fromMs: 10, toMs: 20 },
    { fromMs: 40, toMs: 50 },
  ];
  t.equal(nearestInstant(iv, 15), 15);
  t.equal(nearestInstant(iv, 25), 20);
  t.equal(nearestInstant(iv, 36), 40);
  t.equal(nearestInstant(iv, 99), 50);
  t.equal(nearestInstant([], 5), undefined);
});

t.test("the operations folder is no node", async (t) => {
  const backend = new MemoryBackend({ scheme: "mem", display: "mem://cl", name: "cl-ops" });
  await threeNodes(backend);
  await backend.put(currentRestoreKey("prod"), new Uint8Array(1));
  t.same(await listNodes(backend, "prod"), [...IDS]);
});

t.test("plan --cluster through the CLI: plans, and a refusal as one line, a hint and exit 17", async (t) => {
  const root = await tempDir("plan-cluster");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "archive"));
  const backend = await openBackend(`file://${join(root, "archive")}`);
  await threeNodes(backend);
  await backend.close();
  const env = cleanEnv({
    CASSANDRA_PITR_ARCHIVE: `file://${join(root, "archive")}`,
    CASSANDRA_PITR_CLUSTER: "prod",
  });
  const ok = await runNode(CLI, ["plan", "--cluster", "--at", iso(200)], env);
  t.equal(ok.exitCode, 0, ok.stderr);
  t.match(ok.stdout, /cluster restore plan for 'prod' at .*: 3 node\(s\)/);
  t.match(ok.stdout, `node ${IDS[2]}: restored to ${formatInstant(at(100).epochMicros)}: its archive ends`);
  t.match(ok.stdout, /hints, batchlog \(system\.batches\) and Paxos state \(system\.paxos\) are moved aside/);
  const json = JSON.parse(
    (await runNode(CLI, ["plan", "--cluster", "--at", iso(200), "--json"], env)).stdout,
  ) as { nodes: { node: string; note: string | null }[] };
  t.same(
    json.nodes.map((n) => n.note === null),
    [true, true, false],
  );
  const refused = await runNode(CLI, ["plan", "--cluster", "--at", iso(10)], env);
  t.equal(refused.exitCode, 17, "exit 17");
  t.equal(refused.lines.length, 2, "one line and a hint");
  t.match(refused.lines[0], `refused: node ${IDS[1]}`);
  t.match(refused.lines[1], `hint: the nearest instant to which every node can be restored is ${iso(25)}`);
  const noNode = await runNode(CLI, ["plan", "--cluster", "nope", "--at", iso(10)], env);
  t.equal(noNode.exitCode, 14, "a cluster with nothing archived: exit 14");
});
