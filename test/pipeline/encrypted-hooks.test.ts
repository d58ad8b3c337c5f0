/**
 * The compiled hooks, the agent and the CLI with `encryption: aes-256-gcm` on a file:// archive:
 * what reaches the archive is ciphertext; the restore hook gives Cassandra the exact original
 * bytes through a stub; a missing key (31) and an altered object (32) are refused with one line
 * and nothing at %to.
 */
import t from "tap";
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { segmentFixtures } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, CLI, RESTORE_HOOK, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }))
    .map(String)
    .filter((p) => p.endsWith(".log.zst") && !p.split("/").pop()!.startsWith("."))
    .map((p) => join(dir, p));
}

t.test("encrypted archive: hook, agent, stub and restore hook", async (t) => {
  const root = await tempDir("encrypted");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const archive = join(root, "archive");
  const commitlog = join(root, "commitlog");
  await mkdir(archive);
  await mkdir(commitlog);
  const keyFile = join(root, "archive.key");
  const key = randomBytes(32).toString("hex");
  await writeFile(keyFile, key + "\n", { mode: 0o600 });
  const env = cleanEnv({
    CASSANDRA_PITR_ARCHIVE: `file://${archive}`,
    CASSANDRA_PITR_CLUSTER: "Enc Cluster",
    CASSANDRA_PITR_NODE: "6b1e5a3c-0000-4000-8000-00000000e0c1",
    CASSANDRA_PITR_SPOOL_DIR: join(root, "spool"),
    CASSANDRA_PITR_ENCRYPTION: "aes-256-gcm",
    CASSANDRA_PITR_ENCRYPTION_KEY_FILE: keyFile,
  });
  const fixtures = [...(await segmentFixtures("v7")), ...(await segmentFixtures("lz4"))];
  for (const [i, f] of fixtures.entries()) {
    const path = join(commitlog, f.name);
    await copyFile(f.path, path);
    // Half by the hook itself, half spooled and uploaded by the agent.
    const ran = await runNode(
      ARCHIVE_HOOK,
      [path, f.name],
      i % 2 === 0 ? env : { ...env, CASSANDRA_PITR_HOOK_MODE: "spool" },
    );
    t.equal(ran.exitCode, 0, `${f.name}: archived (exit 0)`);
    t.notMatch(ran.stderr, new RegExp(key), "the key is never printed");
  }
  t.equal(
    (await runNode(CLI, ["agent", "--once"], env)).exitCode,
    0,
    "agent --once uploads the spooled ones",
  );
  const objects = await files(archive);
  t.equal(objects.length, fixtures.length, "every segment in the archive");
  for (const o of objects) {
    const head = (await readFile(o)).subarray(0, 8).toString("latin1");
    t.equal(head, "PITRENC1", `${o.slice(archive.length)}: ciphertext at rest (not zstd)`);
  }

  const stubs = join(root, "stubs");
  const target = join(root, "target");
  await mkdir(stubs);
  await mkdir(target);
  for (const o of objects)
    t.equal(
      (await runNode(CLI, ["stub", o.slice(archive.length + 1), stubs], env)).exitCode,
      0,
      "stub through the decorator",
    );
  for (const f of fixtures) {
    const ran = await runNode(RESTORE_HOOK, [join(stubs, f.name), join(target, f.name)], env);
    t.equal(ran.exitCode, 0, `${f.name}: restore hook exit 0`);
    t.equal(
      createHash("sha256")
        .update(await readFile(join(target, f.name)))
        .digest("hex"),
      f.sha256,
      `${f.name}: the original bytes`,
    );
  }

  const f = fixtures[0]!;
  const noKey = {
    ...env,
    CASSANDRA_PITR_ENCRYPTION: undefined,
    CASSANDRA_PITR_ENCRYPTION_KEY_FILE: undefined,
  };
  const missing = await runNode(
    RESTORE_HOOK,
    [join(stubs, f.name), join(root, "nokey-" + f.name)],
    cleanEnv(noKey),
  );
  t.equal(missing.exitCode, 31, "no key configured: exit 31");
  t.match(missing.lines[0] ?? "", /is encrypted \(key '[0-9a-f]{16}'\)/, "names the object's key id");
  t.ok(missing.lines.length <= 2, "one line and a hint");
  t.same(
    (await readdir(root)).filter((n) => n.startsWith("nokey-")),
    [],
    "nothing at %to",
  );

  const obj = objects.find((o) => o.includes(/-(\d+)\.log$/.exec(f.name)![1]!))!;
  const bytes = await readFile(obj);
  bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x01;
  await writeFile(obj, bytes);
  const altered = await runNode(RESTORE_HOOK, [join(stubs, f.name), join(root, "altered-" + f.name)], env);
  t.equal(altered.exitCode, 32, "altered object: exit 32");
  t.match(altered.lines[0] ?? "", /does not authenticate/, "says it does not authenticate");
  t.same(
    (await readdir(root)).filter((n) => n.startsWith("altered-")),
    [],
    "nothing at %to",
  );
});
