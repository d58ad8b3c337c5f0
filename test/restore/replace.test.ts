/**
 * restore/replace.ts without Cassandra: what it places (the schema keyspace of the base snapshot,
 * sha256 checked, and empty table directories), the JVM options, and its refusals (a running node,
 * directories that are not empty, a snapshot without the schema keyspace), each changing nothing.
 * The replacement on a real 3-node cluster is test/e2e/replace-node.test.ts.
 */
import t, { type Test } from "tap";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uploadSnapshot } from "../../src/backup/snapshot.js";
import type { NodetoolRunner } from "../../src/backup/nodetool.js";
import { listSnapshots } from "../../src/backup/read.js";
import { exitStatusFor } from "../../src/errors/codes.js";
import type { RestorePlan } from "../../src/restore/plan.js";
import { finishReplacement, prepareReplacement, REPLACE_STATE_FILE } from "../../src/restore/replace.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { FIXTURES } from "../helpers/fixtures.js";

const ROOT = join(FIXTURES, "snapshot", "5.0.9");
const TABLE = "events-233ad580e58711f1988fc5102cd29634";
const KEYSPACES = "keyspaces-abac5682dea631c5b535b3d6cffd0fb6";
const identity = { cluster: "Test Cluster", node: "9b496c4e-d046-488f-97af-e896b46e0402" };
const nodetool: NodetoolRunner = async (args) => (args[0] === "info" ? "Token : -3\nToken : 7\n" : "");

/** An archive holding one snapshot of the fixture tree, with (or without) the schema keyspace. */
async function archived(t: Test, withSchema: boolean): Promise<{ backend: Backend; plan: RestorePlan }> {
  const dataDir = await mkdtemp(join(tmpdir(), "replace-src-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await cp(join(ROOT, "data"), dataDir, { recursive: true });
  if (withSchema)
    await cp(
      join(dataDir, "pitr_fixture", TABLE, "snapshots", "fixture-tag"),
      join(dataDir, "system_schema", KEYSPACES, "snapshots", "fixture-tag"),
      { recursive: true },
    );
  const backend = await openBackend(`mem://replace-${process.pid}-${Math.random()}`);
  await uploadSnapshot({ backend, identity, dataDir, tag: "fixture-tag", nodetool, schema: withSchema });
  const m = (await listSnapshots(backend, identity))[0]!.manifest;
  const plan = {
    steps: [{ kind: "snapshot", tag: m.tag, snapshotTimeMs: Date.parse(m.snapshot_time) }],
  } as unknown as RestorePlan;
  return { backend, plan };
}

async function newNode(t: Test): Promise<{ dataDir: string; commitlogDir: string; cassandraConf: string }> {
  const root = await mkdtemp(join(tmpdir(), "replace-node-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const paths = {
    dataDir: join(root, "data"),
    commitlogDir: join(root, "commitlog"),
    cassandraConf: join(root, "conf"),
  };
  for (const p of Object.values(paths)) await mkdir(p);
  await writeFile(join(paths.cassandraConf, "jvm-server.options"), "-Xss256k\n");
  return paths;
}

t.test(
  "places the schema keyspace and empty table directories, adds the JVM options; finish checks the host id",
  async (t) => {
    const { backend, plan } = await archived(t, true);
    const paths = await newNode(t);
    const lines: string[] = [];
    const base = {
      plan,
      backend,
      identity,
      paths,
      address: "10.0.0.3",
      isNodeRunning: async () => false,
      say: (l: string) => lines.push(l),
    };

    t.equal(await prepareReplacement({ ...base, dryRun: true }), undefined, "dry run");
    t.same(await readdir(paths.dataDir), [], "a dry run places nothing");

    const state = await prepareReplacement({ ...base, dryRun: false });
    t.same(state?.tokens, ["-3", "7"], "the tokens the snapshot recorded");
    const placed = await readdir(join(paths.dataDir, "system_schema", KEYSPACES));
    t.same(
      placed.sort(),
      (await readdir(join(ROOT, "data", "pitr_fixture", TABLE, "snapshots", "fixture-tag")))
        .filter((f) => !["manifest.json", "schema.cql"].includes(f))
        .sort(),
      "every component of the schema sstables",
    );
    t.same(
      await readdir(join(paths.dataDir, "pitr_fixture", TABLE)),
      [],
      "the table's directory, empty, for the restore to fill",
    );
    const jvm = await readFile(join(paths.cassandraConf, "jvm-server.options"), "utf8");
    for (const o of [
      "-Dcassandra.replace_address_first_boot=10.0.0.3",
      "-Dcassandra.auto_bootstrap=false",
      "-Dcassandra.allow_unsafe_replace=true",
    ])
      t.match(jvm, o);

    await t.rejects(
      prepareReplacement({ ...base, dryRun: false }),
      { code: "E_NODE_STATE", message: /already prepared/ },
      "twice: refused",
    );
    await t.rejects(
      finishReplacement({
        cassandraConf: paths.cassandraConf,
        hostId: async () => "11111111-1111-1111-1111-111111111111",
        dryRun: false,
        say: () => {},
      }),
      { code: "E_NODE_STATE", message: /not 9b496c4e/ },
      "another host id: it did not take over its place",
    );
    await t.rejects(
      finishReplacement({
        cassandraConf: paths.cassandraConf,
        hostId: async () => undefined,
        dryRun: false,
        say: () => {},
      }),
      { code: "E_NODE_STATE", message: /does not answer/ },
    );
    await finishReplacement({
      cassandraConf: paths.cassandraConf,
      hostId: async () => identity.node,
      dryRun: false,
      say: () => {},
    });
    t.equal(
      await readFile(join(paths.cassandraConf, "jvm-server.options"), "utf8"),
      "-Xss256k\n",
      "the options removed, the file as it was",
    );
    t.notOk(existsSync(join(paths.cassandraConf, REPLACE_STATE_FILE)));
  },
);

t.test("refusals change nothing", async (t) => {
  const { backend, plan } = await archived(t, true);
  const paths = await newNode(t);
  const base = { plan, backend, identity, paths, address: "10.0.0.3", dryRun: false, say: () => {} };
  await t.rejects(prepareReplacement({ ...base, isNodeRunning: async () => true }), {
    code: "E_NODE_STATE",
    message: /running/,
  });
  await writeFile(join(paths.commitlogDir, "CommitLog-7-1.log"), "x");
  const e = (await prepareReplacement({ ...base, isNodeRunning: async () => false }).catch(
    (x: unknown) => x,
  )) as { code: string; message: string };
  t.equal(exitStatusFor(e.code), 18, "disks not empty: exit 18");
  t.match(e.message, /starts from empty disks, but '.*CommitLog-7-1\.log' exist/);
  t.same(await readdir(paths.dataDir), [], "nothing placed");

  const old = await archived(t, false);
  const fresh = await newNode(t);
  const r = (await prepareReplacement({
    ...base,
    ...old,
    paths: fresh,
    isNodeRunning: async () => false,
  }).catch((x: unknown) => x)) as { code: string; message: string };
  t.equal(exitStatusFor(r.code), 17, "a snapshot without the schema keyspace: exit 17");
  t.match(r.message, /records no keyspace schema/);
  t.same(await readdir(fresh.dataDir), [], "nothing placed");
  t.equal(
    await readFile(join(fresh.cassandraConf, "jvm-server.options"), "utf8"),
    "-Xss256k\n",
    "no JVM option added",
  );
});

t.test(
  "--single-node: the schema placed without the replacement options; finish accepts the new host id",
  async (t) => {
    const { backend, plan } = await archived(t, true);
    const paths = await newNode(t);
    const lines: string[] = [];
    const base = {
      plan,
      backend,
      identity,
      paths,
      address: "",
      isNodeRunning: async () => false,
      singleNode: true,
      dryRun: false,
      say: (l: string) => lines.push(l),
    };

    const other = "22222222-2222-2222-2222-222222222222";
    const refused = (await prepareReplacement({
      ...base,
      clusterNodes: async () => [identity.node, other],
    }).catch((x: unknown) => x)) as { code: string; message: string; hint?: string };
    t.equal(exitStatusFor(refused.code), 17, "other nodes archived for the cluster: exit 17");
    t.match(refused.message, `--single-node, but the archive holds 1 other node(s)`);
    t.match(refused.message, other, "naming them");
    t.same(await readdir(paths.dataDir), [], "nothing placed");

    const ringless = (await prepareReplacement({
      ...base,
      singleNode: false,
      ownSeedOnly: true,
      clusterNodes: async () => [identity.node],
    }).catch((x: unknown) => x)) as { code: string; message: string; hint?: string };
    t.equal(exitStatusFor(ringless.code), 17, "its own only seed, no other node archived, no flag: exit 17");
    t.match(ringless.message, /a single-node cluster: .*no ring to take the old place from/);
    t.match(ringless.hint, /add --single-node/);
    t.same(await readdir(paths.dataDir), [], "nothing placed");
    t.equal(
      await readFile(join(paths.cassandraConf, "jvm-server.options"), "utf8"),
      "-Xss256k\n",
      "no JVM option added",
    );

    const state = await prepareReplacement({ ...base, clusterNodes: async () => [identity.node] });
    t.equal(state?.single_node, true, "the state records a single-node replacement");
    t.same(state?.jvm_options, [], "no JVM option");
    t.equal(
      await readFile(join(paths.cassandraConf, "jvm-server.options"), "utf8"),
      "-Xss256k\n",
      "jvm-server.options unchanged: no replace_address for a cluster without a ring",
    );
    t.ok(existsSync(join(paths.dataDir, "system_schema", KEYSPACES)), "the schema keyspace placed");
    t.same(await readdir(join(paths.dataDir, "pitr_fixture", TABLE)), [], "the table's empty directory");
    t.ok(
      lines.some((l) => /single-node cluster: no ring/.test(l)),
      "says why there is no replacement option",
    );

    const said: string[] = [];
    await finishReplacement({
      cassandraConf: paths.cassandraConf,
      hostId: async () => other,
      dryRun: false,
      say: (l) => said.push(l),
    });
    t.match(said.join("\n"), `host id ${other}; the archive of the dead node ${identity.node}`);
    t.match(said.join("\n"), /cassandra-pitr init/, "names the next step: this node's own identity");
    t.notOk(existsSync(join(paths.cassandraConf, REPLACE_STATE_FILE)), "the state removed");
  },
);
