import t from "tap";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";

t.test("check: storage, spool filesystem, paths and segment size, as ok / warning / failure", async (t) => {
  const root = await tempDir("check");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "archive"), { mode: 0o700 });
  await mkdir(join(root, "commitlog"));
  const base = {
    CASSANDRA_PITR_ARCHIVE: `file://${join(root, "archive")}`,
    CASSANDRA_PITR_CLUSTER: "c1",
    CASSANDRA_PITR_NODE: "0f000000-0000-4000-8000-000000000001",
    CASSANDRA_PITR_COMMITLOG_DIR: join(root, "commitlog"),
  };
  const good = await runNode(CLI, ["check", "--segment-size", "16MiB", "--json"], cleanEnv(base));
  t.equal(good.exitCode, 0, "a sound setup: exit 0");
  const report = JSON.parse(good.stdout) as { ok: boolean; checks: { id: string; status: string }[] };
  t.ok(report.ok, "ok: true");
  t.same(
    report.checks.map((c) => [c.id, c.status]),
    [
      ["config", "ok"],
      ["archive-mode", "ok"],
      ["identity", "ok"],
      ["storage", "ok"],
      ["spool", "ok"],
      ["paths", "ok"],
      ["segment-size", "ok"],
    ],
  );

  const bigSegments = await runNode(CLI, ["check", "--segment-size", "32MiB"], cleanEnv(base));
  t.equal(bigSegments.exitCode, 0, "a warning alone still exits 0");
  t.match(
    bigSegments.stdout,
    /warning\s+segment-size/,
    "32 MiB segments with a 15m RPO: a warning with advice",
  );

  const missing = await runNode(
    CLI,
    ["check", "--segment-size", "16MiB"],
    cleanEnv({ ...base, CASSANDRA_PITR_ARCHIVE: `file://${join(root, "nope")}` }),
  );
  t.equal(missing.exitCode, 3, "a missing archive: exit 3");
  t.match(
    missing.stdout,
    /failure\s+storage\s+archive location .* does not exist/,
    "says the storage check failed and why",
  );

  const otherFs = await runNode(
    CLI,
    ["check", "--segment-size", "16MiB"],
    cleanEnv({ ...base, CASSANDRA_PITR_SPOOL_DIR: `/dev/shm/cassandra-pitr-check-${process.pid}` }),
  );
  t.equal(otherFs.exitCode, 3, "a spool on another filesystem: exit 3");
  t.match(otherFs.stdout, /failure\s+spool\s+.*not on the filesystem/, "names the spool problem");
  await rm(`/dev/shm/cassandra-pitr-check-${process.pid}`, { recursive: true, force: true });

  const spaced = join(root, "commit log");
  await mkdir(spaced);
  const space = await runNode(
    CLI,
    ["check", "--segment-size", "16MiB"],
    cleanEnv({ ...base, CASSANDRA_PITR_COMMITLOG_DIR: spaced }),
  );
  t.equal(space.exitCode, 3, "a commit log path with a space: exit 3");
  t.match(space.stdout, /failure\s+paths/, "Cassandra splits archive_command on spaces");

  const noId = await runNode(CLI, ["check"], cleanEnv({ ...base, CASSANDRA_PITR_NODE: undefined }));
  t.equal(noId.exitCode, 3, "no node identity: exit 3");
  t.match(noId.stdout, /failure\s+identity/);

  // Data and secrets open to other users: a warning each (exit 0), with the chmod to run.
  await chmod(join(root, "archive"), 0o755);
  const config = join(root, "config.yaml");
  await writeFile(config, "targetRpo: 15m\n", { mode: 0o644 });
  const open = await runNode(
    CLI,
    ["check", "--config", config, "--segment-size", "16MiB", "--json"],
    cleanEnv(base),
  );
  t.equal(open.exitCode, 0, "readable by others: warnings, exit 0");
  const checks = (
    JSON.parse(open.stdout) as { checks: { id: string; status: string; details: string; hint?: string }[] }
  ).checks;
  const byId = (id: string) => checks.find((c) => c.id === id);
  t.equal(byId("config-mode")?.status, "warning", "the config file 0644: a warning");
  t.match(
    byId("config-mode")?.details ?? "",
    /config file '.*config\.yaml' is open to other users \(mode 644\)/,
    "names the file and its mode",
  );
  t.match(byId("config-mode")?.hint ?? "", /chmod 600/, "and the fix");
  t.equal(byId("archive-mode")?.status, "warning", "the archive directory 0755: a warning");
  t.match(byId("archive-mode")?.hint ?? "", /chmod 700/, "and the fix");
  await chmod(config, 0o600);
  const closed = await runNode(
    CLI,
    ["check", "--config", config, "--segment-size", "16MiB", "--json"],
    cleanEnv(base),
  );
  t.equal(
    (JSON.parse(closed.stdout) as { checks: { id: string; status: string }[] }).checks.find(
      (c) => c.id === "config-mode",
    )?.status,
    "ok",
    "0600: ok",
  );
});
