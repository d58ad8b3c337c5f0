/**
 * The harness's version switch, without starting Cassandra: what `init` writes for 4.1 and for 5.0,
 * that a node directory remembers its release, and the one-line refusals (nothing written).
 */
import t from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { NODE_SCRIPT } from "../helpers/cassandra.js";

/** Runs the script with CASSANDRA_VERSION set only when `version` is given. */
async function harness(version: string | undefined, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env["CASSANDRA_VERSION"];
  if (version) env["CASSANDRA_VERSION"] = version;
  const r = await execa("bash", [NODE_SCRIPT, ...args], { env, extendEnv: false, reject: false });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

t.test("init writes a cassandra.yaml each release accepts and records the release", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "cassandra-pitr-harness-versions-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const n41 = join(root, "n41");
  const n50 = join(root, "n50");
  t.equal(
    (await harness("4.1.10", "init", n41, "--port-base", "25100")).exitCode,
    0,
    "init for 4.1.10: exit 0",
  );
  t.equal(
    (await harness(undefined, "init", n50, "--port-base", "25104")).exitCode,
    0,
    "init with no version: exit 0",
  );
  const yaml41 = await readFile(join(n41, "conf/cassandra.yaml"), "utf8");
  const yaml50 = await readFile(join(n50, "conf/cassandra.yaml"), "utf8");
  t.notMatch(
    yaml41,
    /storage_compatibility_mode/,
    "4.1: no storage_compatibility_mode (4.1 refuses the key)",
  );
  t.match(
    yaml50,
    /^storage_compatibility_mode: CASSANDRA_4$/m,
    "5.0: storage_compatibility_mode CASSANDRA_4",
  );
  t.match(yaml41, /^commitlog_segment_size: 1MiB$/m, "4.1 gets the new-style size names too");
  t.match(
    (await harness(undefined, "env", n41)).stdout,
    /^CASSANDRA_VERSION=4\.1\.10$/m,
    "the 4.1 directory records 4.1.10",
  );
  t.match(
    (await harness(undefined, "env", n50)).stdout,
    /^CASSANDRA_VERSION=5\.0\.9$/m,
    "the default is 5.0.9",
  );

  // Re-initialising without CASSANDRA_VERSION (as reconfigure does) keeps the node's release.
  t.equal(
    (
      await harness(
        undefined,
        "init",
        n41,
        "--port-base",
        "25100",
        "--archive-command",
        "/bin/true %path %name",
      )
    ).exitCode,
    0,
    "re-init: exit 0",
  );
  t.match(
    (await harness(undefined, "env", n41)).stdout,
    /^CASSANDRA_VERSION=4\.1\.10$/m,
    "re-init kept 4.1.10",
  );
  t.notMatch(
    await readFile(join(n41, "conf/cassandra.yaml"), "utf8"),
    /storage_compatibility_mode/,
    "and a yaml 4.1 accepts",
  );
});

t.test("refusals are one line and write nothing", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "cassandra-pitr-harness-versions-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const fresh = join(root, "fresh");
  const compat = await harness("4.1.10", "init", fresh, "--compat", "NONE");
  t.equal(compat.exitCode, 1, "--compat on 4.1: exit 1");
  t.match(
    compat.stderr.trim(),
    /^cassandra-node: --compat is a Cassandra 5\.0 setting; Cassandra 4\.1\.10 has no storage_compatibility_mode$/,
    "one line naming the option and the release",
  );
  t.notOk(existsSync(fresh), "no node directory was created");

  const n41 = join(root, "n41");
  t.equal((await harness("4.1.10", "init", n41)).exitCode, 0, "init for 4.1.10: exit 0");
  const nodeEnv = await readFile(join(n41, "node.env"), "utf8");
  const mismatch = await harness("5.0.9", "status", n41);
  t.equal(mismatch.exitCode, 1, "a 5.0.9 command on a 4.1.10 node: exit 1");
  t.match(
    mismatch.stderr.trim(),
    /^cassandra-node: node in '.*n41' runs Cassandra 4\.1\.10 but CASSANDRA_VERSION is 5\.0\.9; hint: .*$/,
    "one line with both versions and a hint",
  );
  t.equal(await readFile(join(n41, "node.env"), "utf8"), nodeEnv, "the node's files are unchanged");
});
