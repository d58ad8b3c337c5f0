/**
 * `init` without a running node: the config file it is asked to write may not exist yet (that is
 * the normal case), and a nodetool that cannot run is one clear line, exit 2, nothing written. The
 * discovery itself runs against a real node in test/e2e (archive-scenario.ts, nodeWithHook).
 */
import t from "tap";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";

t.test(
  "init --config=<new file>: reads no file, and a missing nodetool is exit 2 with nothing written",
  async (t) => {
    const root = await tempDir("init");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const target = join(root, "conf", "cassandra-pitr.yaml");
    const r = await runNode(
      CLI,
      ["init", `--config=${target}`, "--nodetool=/nonexistent/bin/nodetool -h 127.0.0.1"],
      cleanEnv({}),
    );
    t.equal(r.exitCode, 2, "exit 2 (configuration)");
    t.notMatch(r.stderr, /cannot read config file|ENOENT/, "the file to be written is not read first");
    t.match(
      r.stderr,
      /nodetool command '\/nonexistent\/bin\/nodetool' not found/,
      "names the nodetool command that could not run",
    );
    t.ok(r.stderr.trim().split("\n").length <= 2, "one line and a hint");
    t.notOk(existsSync(target), "nothing written");

    await writeFile(join(root, "existing.yaml"), "archive: file:///tmp/x\n");
    const again = await runNode(
      CLI,
      ["init", `--config=${join(root, "existing.yaml")}`, "--nodetool=/nonexistent/nodetool"],
      cleanEnv({}),
    );
    t.equal(again.exitCode, 2, "an existing file without --force: exit 2");
    t.match(again.stderr, /already exists/, "says so");
  },
);

t.test(
  "init --node --cluster: a node that is not running yet gets its identity from the flags, nodetool never runs",
  async (t) => {
    const root = await tempDir("init-offline");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const target = join(root, "cassandra-pitr.yaml");
    const id = "4bed7783-0a40-4784-8f47-3faf21649038";
    // A nodetool that cannot run: discovery would fail with exit 2.
    const r = await runNode(
      CLI,
      [
        "init",
        `--config=${target}`,
        "--nodetool=/nonexistent/bin/nodetool",
        "--cluster=prod",
        `--node=${id}`,
        "--archive=file:///tmp/a",
      ],
      cleanEnv({}),
    );
    t.equal(r.exitCode, 0, `exit 0 ${r.stderr}`);
    t.match(r.stdout, `cluster 'prod', node ${id}`);
    const written = await readFile(target, "utf8");
    t.match(written, `node: ${id}`);
    t.match(written, "cluster: prod");

    const noCluster = await runNode(
      CLI,
      ["init", `--config=${join(root, "b.yaml")}`, `--node=${id}`],
      cleanEnv({}),
    );
    t.equal(noCluster.exitCode, 2, "--node without --cluster: exit 2");
    t.match(noCluster.stderr, /--node needs --cluster/);
    const badId = await runNode(
      CLI,
      ["init", `--config=${join(root, "c.yaml")}`, "--cluster=prod", "--node=node3"],
      cleanEnv({}),
    );
    t.equal(badId.exitCode, 2, "a node that is not a host id: exit 2");
    t.match(badId.stderr, /is not a host id/);
    t.notOk(
      existsSync(join(root, "b.yaml")) || existsSync(join(root, "c.yaml")),
      "nothing written on a refusal",
    );
  },
);
