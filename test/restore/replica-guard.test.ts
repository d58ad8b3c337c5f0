/**
 * The single-replica guard's decision (pure) and the way it finds the ring from a stopped node's
 * cassandra.yaml. The real ring read through the CQL driver is proven on a 3-node cluster in
 * test/e2e/replace-node.test.ts.
 */
import t from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCassandraYaml } from "../../src/backup/cassandra-yaml.js";
import { exitStatusFor } from "../../src/errors/codes.js";
import {
  checkReplicaGuard,
  contactPointsOf,
  decideReplicaGuard,
  replicasOf,
  type RingView,
} from "../../src/restore/replica-guard.js";

const SELF = "4bed7783-0a40-4784-8f47-3faf21649038";
const ring = (up: boolean[], ks: Record<string, number>): RingView => ({
  via: "10.0.0.1:9042",
  nodes: [
    { hostId: SELF, address: "10.0.0.3", up: false },
    ...up.map((u, i) => ({
      hostId: `00000000-0000-0000-0000-00000000000${i}`,
      address: `10.0.0.${i + 1}`,
      up: u,
    })),
  ],
  keyspaces: Object.entries(ks).map(([name, replicas]) => ({ name, replicas })),
});

t.test("replicas per partition from system_schema.keyspaces' replication map", async (t) => {
  t.equal(replicasOf({ class: "org.apache.cassandra.locator.SimpleStrategy", replication_factor: "3" }), 3);
  t.equal(
    replicasOf({ class: "org.apache.cassandra.locator.NetworkTopologyStrategy", dc1: "3", dc2: "2" }),
    5,
  );
  t.equal(
    replicasOf({ class: "org.apache.cassandra.locator.NetworkTopologyStrategy", dc1: "3/1" }),
    3,
    "transient replicas counted in the total",
  );
  t.equal(replicasOf({ class: "org.apache.cassandra.locator.LocalStrategy" }), 1);
});

t.test("refused when another node is up and holds replicas of a restored keyspace", async (t) => {
  const err = t.throws(() =>
    decideReplicaGuard(ring([true, false], { shop: 3, system_auth: 3 }), SELF, { kind: "node" }),
  ) as Error & { code: string; hint: string };
  t.equal(err.code, "E_REPLICAS_LIVE");
  t.equal(exitStatusFor(err.code), 17, "exit 17, restore refused");
  t.match(err.message, /1 other node\(s\) of its cluster are up \(10\.0\.0\.1\)/, "names the live node");
  t.match(err.message, /shop \(3 replicas\)/, "names the replicated keyspace");
  t.notMatch(err.message, /system_auth/, "system keyspaces are not restored by a node restore");
  t.match(err.message, /read repair and 'nodetool repair'/, "says why");
  t.match(err.hint, /--replica-lost/);
});

t.test("accepted: RF=1 keyspaces only, no other node up, or a scope of RF=1 keyspaces", async (t) => {
  t.match(
    decideReplicaGuard(ring([true, true], { logs: 1 }), SELF, { kind: "node" })[0],
    /every keyspace restored has one replica \(logs\)/,
  );
  t.match(
    decideReplicaGuard(ring([false, false], { shop: 3 }), SELF, { kind: "node" })[0],
    /no other node is up/,
  );
  t.match(
    decideReplicaGuard(ring([true], { shop: 3, logs: 1 }), SELF, {
      kind: "keyspaces",
      keyspaces: ["logs"],
    })[0],
    /one replica \(logs\)/,
  );
  t.throws(
    () =>
      decideReplicaGuard(ring([true], { shop: 3, logs: 1 }), SELF, {
        kind: "keyspaces",
        keyspaces: ["shop"],
      }),
    { code: "E_REPLICAS_LIVE" },
  );
});

const YAML = (seeds: string) => `cluster_name: c1
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "${seeds}"
listen_address: 10.0.0.3
rpc_address: 10.0.0.3
native_transport_port: 19042
`;

t.test("the ring is asked of the seeds other than the node itself, on its native port", async (t) => {
  const y = parseCassandraYaml(YAML("10.0.0.1:7000, 10.0.0.3:7000,10.0.0.2"), "cassandra.yaml");
  t.same(contactPointsOf(y), ["10.0.0.1", "10.0.0.2"]);
  t.equal(y.nativePort, 19042);
  t.equal(y.address, "10.0.0.3");
  t.equal(parseCassandraYaml("listen_address: a\n", "f").nativePort, 9042, "Cassandra's default native port");
});

t.test(
  "checkReplicaGuard: single node, only seed with archived peers, unreachable seeds, --replica-lost",
  async (t) => {
    const conf = await mkdtemp(join(tmpdir(), "guard-"));
    t.teardown(() => rm(conf, { recursive: true, force: true }));
    const base = { cassandraConf: conf, self: SELF, scope: { kind: "node" } as const, replicaLost: false };
    const never = async (): Promise<RingView> => t.fail("the ring must not be read") as never;

    await writeFile(join(conf, "cassandra.yaml"), YAML("10.0.0.3:7000"));
    t.match(
      (await checkReplicaGuard({ ...base, archivedNodes: async () => [SELF], read: never }))[0],
      /single-node cluster/,
      "only seed, nothing else archived: a single node",
    );
    await t.rejects(
      checkReplicaGuard({ ...base, archivedNodes: async () => [SELF, "other"], read: never }),
      { code: "E_REPLICAS_LIVE", message: /unknown.*1 other node\(s\) of its cluster: other/ },
      "only seed, but other nodes archived: refused",
    );
    let asked: readonly string[] = [];
    const read = async (hosts: readonly string[]) => ((asked = hosts), ring([true], { shop: 3 }));
    await t.rejects(
      checkReplicaGuard({ ...base, ringFrom: ["10.0.0.1"], archivedNodes: async () => [], read }),
      { code: "E_REPLICAS_LIVE" },
    );
    t.same(asked, ["10.0.0.1"], "--ring-from is asked instead of the seeds");

    await writeFile(join(conf, "cassandra.yaml"), YAML("10.0.0.1:7000"));
    const down = async (): Promise<RingView> => {
      throw new Error("All host(s) tried for query failed");
    };
    await t.rejects(
      checkReplicaGuard({ ...base, archivedNodes: async () => [], read: down }),
      { code: "E_REPLICAS_LIVE", message: /no other node answered at 10\.0\.0\.1/ },
      "unreachable seeds: refused, not guessed",
    );
    t.match(
      (
        await checkReplicaGuard({ ...base, replicaLost: true, archivedNodes: async () => [], read: never })
      )[0],
      /--replica-lost/,
      "--replica-lost skips the ring",
    );
  },
);
