/** scripts/cassandra-cluster.sh init without starting anything: the layout it writes and the input it refuses. */
import t from "tap";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { tempDir } from "../helpers/hooks.js";
import { CLUSTER_SCRIPT } from "../helpers/cluster.js";

const run = (...args: string[]) => execa("bash", [CLUSTER_SCRIPT, ...args], { reject: false, all: true });
const envOf = async (file: string) =>
  Object.fromEntries(
    (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .map((l) => l.split("=") as [string, string]),
  );

t.test(
  "init: one address per node, shared native/storage ports, one JMX port each, node 1 the seed, per-node options",
  async (t) => {
    const root = await tempDir("cluster-script");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const dir = join(root, "c");
    const r = await run(
      "init",
      dir,
      "--nodes",
      "3",
      "--port-base",
      "30000",
      "--addresses",
      "127.0.0.31,127.0.0.32,127.0.0.33",
      "--cluster-name",
      "ring",
      "--archive-command",
      "/opt/hook --config=@NODE_DIR@/pitr.yaml --n=@NODE@ %path %name",
    );
    t.equal(r.exitCode, 0, `init: exit 0 ${r.all}`);
    for (const i of [1, 2, 3]) {
      const node = join(dir, `node${i}`);
      const env = await envOf(join(node, "node.env"));
      t.same(
        [env["ADDRESS"], env["NATIVE_PORT"], env["STORAGE_PORT"], env["JMX_PORT"]],
        [`127.0.0.3${i}`, "30000", "30001", String(30001 + i)],
        `node ${i}: address, ports`,
      );
      const yaml = await readFile(join(node, "conf/cassandra.yaml"), "utf8");
      t.match(
        yaml,
        `listen_address: 127.0.0.3${i}\nrpc_address: 127.0.0.3${i}`,
        `node ${i} listens on its address`,
      );
      t.match(yaml, 'seeds: "127.0.0.31:30001"', `node ${i}: node 1 is the seed`);
      t.match(yaml, "cluster_name: 'ring'");
      t.match(yaml, "hinted_handoff_enabled: true", "hints on by default");
      t.match(yaml, "endpoint_snitch: GossipingPropertyFileSnitch");
      t.match(await readFile(join(node, "conf/cassandra-rackdc.properties"), "utf8"), "dc=datacenter1");
      t.match(
        await readFile(join(node, "conf/commitlog_archiving.properties"), "utf8"),
        `archive_command=/opt/hook --config=${node}/pitr.yaml --n=${i} %path %name`,
        `node ${i}: its own archive_command`,
      );
      t.match(await readFile(join(node, "conf/jvm-extra.options"), "utf8"), "-XX:TieredStopAtLevel=1");
    }
    const noHints = join(root, "nohints");
    t.equal((await run("init", noHints, "--nodes", "2", "--no-hints")).exitCode, 0);
    t.match(
      await readFile(join(noHints, "node2/conf/cassandra.yaml"), "utf8"),
      "hinted_handoff_enabled: false",
      "--no-hints",
    );
    t.match(
      await readFile(join(noHints, "node2/conf/cassandra.yaml"), "utf8"),
      "listen_address: 127.0.0.12",
      "default addresses 127.0.0.11, .12, ...",
    );

    const reconf = await run("reconfigure", dir, "2", "--segment-size", "4");
    t.equal(reconf.exitCode, 0, "reconfigure one node");
    const yaml2 = await readFile(join(dir, "node2/conf/cassandra.yaml"), "utf8");
    t.ok(
      yaml2.includes("commitlog_segment_size: 4MiB") && yaml2.includes("listen_address: 127.0.0.32"),
      "node 2: the new option, its cluster settings kept",
    );
    t.match(
      await readFile(join(dir, "node2/conf/commitlog_archiving.properties"), "utf8"),
      "archive_command=/opt/hook",
      "and the cluster's stored node options",
    );
  },
);

t.test("init and the node commands refuse bad input with one line", async (t) => {
  const root = await tempDir("cluster-script-bad");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const cases: [string[], RegExp][] = [
    [
      ["init", join(root, "a"), "--addresses", "10.0.0.1,127.0.0.2,127.0.0.3"],
      /address '10\.0\.0\.1' is not a loopback address/,
    ],
    [
      ["init", join(root, "b"), "--nodes", "2", "--addresses", "127.0.0.2"],
      /--addresses names 1 addresses for 2 nodes/,
    ],
    [
      ["init", join(root, "c"), "--nodes", "2", "--addresses", "127.0.0.2,127.0.0.2"],
      /--addresses has duplicates/,
    ],
    [["init", join(root, "d"), "--nodes", "0"], /--nodes must be a number from 1 to 99/],
    [["start", join(root, "none")], /no cluster in '.*none'; hint: scripts\/cassandra-cluster.sh init/],
  ];
  for (const [args, message] of cases) {
    const r = await run(...args);
    t.equal(r.exitCode, 1, `${args.join(" ")}: exit 1`);
    t.match(r.all, message, `says why`);
  }
  t.equal((await run("init", join(root, "ok"), "--nodes", "2")).exitCode, 0);
  const r = await run("kill", join(root, "ok"), "3");
  t.equal(r.exitCode, 1, "a node number outside the cluster: exit 1");
  t.match(r.all, /no node '3' .*nodes 1 to 2/);
});
