/**
 * The spool's storage health mark (src/pipeline/health.ts), with the compiled hooks and agent: a
 * hook that meets a hung endpoint waits out its budget once and sets the mark; the hooks after it
 * spool at once; the agent clears the mark when storage answers; a stale mark diverts nothing.
 */
import t, { type Test } from "tap";
import { copyFile, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { segmentFixtures } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";
import { HEALTH_MARK_FILE } from "../../src/pipeline/health.js";

const NODE_ID = "6b1e5a3c-0000-4000-8000-00000000feed";

/** A TCP endpoint that accepts connections and never answers (a hung load balancer). */
async function hungEndpoint(t: Test): Promise<string> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function setup(t: Test) {
  const root = await tempDir("health");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const commitlog = join(root, "commitlog");
  const spool = join(root, "spool");
  const archiveDir = join(root, "archive");
  await mkdir(commitlog);
  await mkdir(archiveDir);
  const fixtures = await segmentFixtures("v7");
  const paths: string[] = [];
  for (const f of fixtures) {
    const path = join(commitlog, f.name);
    await copyFile(f.path, path);
    paths.push(path);
  }
  const base = {
    CASSANDRA_PITR_CLUSTER: "Test Cluster",
    CASSANDRA_PITR_NODE: NODE_ID,
    CASSANDRA_PITR_SPOOL_DIR: spool,
  };
  return { root, commitlog, spool, archiveDir, fixtures, paths, base };
}

t.test(
  "hung endpoint: one hook waits out its budget and sets the mark; the next spool at once",
  async (t) => {
    const s = await setup(t);
    t.ok(s.fixtures.length >= 2, "at least two segments");
    const hung = cleanEnv({
      ...s.base,
      CASSANDRA_PITR_ARCHIVE: "s3://hung-bucket/prefix",
      CASSANDRA_PITR_S3_ENDPOINT: await hungEndpoint(t),
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "y",
      CASSANDRA_PITR_HOOK_TIMEOUT: "1500ms",
    });
    const first = await runNode(ARCHIVE_HOOK, [s.paths[0]!, s.fixtures[0]!.name], hung);
    t.equal(first.exitCode, 0, "first hook: exit 0");
    t.match(first.stderr, /time budget of 1500 ms ran out/, "first hook: waited out its budget");
    const mark = JSON.parse(await readFile(join(s.spool, HEALTH_MARK_FILE), "utf8")) as {
      by: string;
      reason: string;
    };
    t.match(mark, { by: "archive hook", reason: /time budget/ }, "the mark says who set it and why");

    for (let i = 1; i < s.fixtures.length; i++) {
      const ran = await runNode(ARCHIVE_HOOK, [s.paths[i]!, s.fixtures[i]!.name], hung);
      t.equal(ran.exitCode, 0, `${s.fixtures[i]!.name}: exit 0`);
      // Not a wall-clock assertion: the line names why it spooled, and only a hook that skipped the
      // upload gives that reason (a hook that tried would say its budget ran out).
      t.match(
        ran.stderr,
        /spooled for the agent \(storage marked unhealthy at \d{4}-/,
        "spooled at once, without trying storage",
      );
      t.notMatch(ran.stderr, /time budget/, "did not wait out its budget");
    }
    t.same(
      (await readdir(s.spool)).filter((n) => n.startsWith("CommitLog")).sort(),
      s.fixtures.map((f) => f.name).sort(),
      "every segment is in the spool",
    );

    // Storage back (here: a healthy file:// archive): one agent pass drains and clears the mark.
    const healthy = cleanEnv({ ...s.base, CASSANDRA_PITR_ARCHIVE: `file://${s.archiveDir}` });
    const drained = await runNode(CLI, ["agent", "--once"], healthy);
    t.equal(drained.exitCode, 0, "agent --once: exit 0");
    t.match(drained.stdout, new RegExp(`uploaded ${s.fixtures.length}`), "uploads every spooled segment");
    await t.rejects(stat(join(s.spool, HEALTH_MARK_FILE)), { code: "ENOENT" }, "the mark is cleared");
  },
);

t.test(
  "the agent clears a mark with an empty spool by a probe, and refreshes it while storage is down",
  async (t) => {
    const s = await setup(t);
    await mkdir(s.spool);
    const markPath = join(s.spool, HEALTH_MARK_FILE);
    // Refused: nothing listens on this port (a closed listener), so the store is down, not missing.
    const closed = await hungEndpoint(t);
    const down = cleanEnv({
      ...s.base,
      CASSANDRA_PITR_ARCHIVE: "s3://down-bucket/prefix",
      CASSANDRA_PITR_S3_ENDPOINT: closed.replace(/:\d+$/, ":1"),
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "y",
      CASSANDRA_PITR_RETRY_ATTEMPTS: "1",
    });
    await writeFile(markPath, "{}\n");
    const old = new Date(Date.now() - 60_000);
    await utimes(markPath, old, old);
    await runNode(CLI, ["agent", "--once"], down);
    t.ok(
      (await stat(markPath)).mtimeMs > old.getTime() + 30_000,
      "storage still down: the agent refreshed the mark",
    );

    const healthy = cleanEnv({ ...s.base, CASSANDRA_PITR_ARCHIVE: `file://${s.archiveDir}` });
    const ran = await runNode(CLI, ["agent", "--once"], healthy);
    t.equal(ran.exitCode, 0, "agent --once with nothing spooled: exit 0");
    await t.rejects(stat(markPath), { code: "ENOENT" }, "storage answered the probe: mark cleared");
  },
);

t.test("a mark older than healthMarkLifetime diverts nothing: the hook uploads", async (t) => {
  const s = await setup(t);
  await mkdir(s.spool);
  const markPath = join(s.spool, HEALTH_MARK_FILE);
  await writeFile(markPath, "{}\n");
  const env = cleanEnv({
    ...s.base,
    CASSANDRA_PITR_ARCHIVE: `file://${s.archiveDir}`,
    CASSANDRA_PITR_HEALTH_MARK_LIFETIME: "30s",
  });

  const fresh = await runNode(ARCHIVE_HOOK, [s.paths[0]!, s.fixtures[0]!.name], env);
  t.equal(fresh.exitCode, 0, "fresh mark: exit 0");
  t.match(fresh.stderr, /storage marked unhealthy/, "fresh mark: spooled at once");

  const old = new Date(Date.now() - 31_000);
  await utimes(markPath, old, old);
  const stale = await runNode(ARCHIVE_HOOK, [s.paths[1]!, s.fixtures[1]!.name], env);
  t.equal(stale.exitCode, 0, "stale mark: exit 0");
  t.equal(stale.stderr, "", "stale mark: uploaded quietly");
  t.notOk((await readdir(s.spool)).includes(s.fixtures[1]!.name), "stale mark: nothing spooled");
});
