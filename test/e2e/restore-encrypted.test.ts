/**
 * Client-side encryption through a real restore (issue 13 item 2): a real node whose hooks archive
 * with `encryption: aes-256-gcm`, a snapshot and incrementals encrypted too, and a key rotation in
 * the middle of the history (key A, then key B with A retired). Checked on the node:
 *
 * - at rest every segment and snapshot object is ciphertext, and each segment's record says
 *   `aes-256-gcm` and the id of the key it was written with (some A, some B);
 * - one flipped byte in an encrypted segment the plan replays: `restore --at T` refuses with exit
 *   32 naming the object, before any byte reaches Cassandra (the node's data, commit log and conf
 *   directories unchanged), and `verify --deep` reports the object as not authenticating;
 * - key A no longer listed as retired: the restore refuses with exit 31 naming key A's id;
 * - with the byte back and both keys: `plan --at T` and `restore --at T` give exactly the oracle's
 *   rows (statements stamped <= T replayed into a reference keyspace, full dumps with writetime()).
 */
import t from "tap";
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Clock, expectOk, pitrNode } from "./restore-scenario.js";
import { listArchived } from "./archive-scenario.js";
import { fileTree } from "../helpers/pitr-archive.js";
import { keyId } from "../../src/storage/decorators/encryption-keys.js";
import { openBackend } from "../../src/storage/open.js";
import {
  STAMPED_TABLES,
  Workload,
  apply,
  createExactKeyspace,
  dumpDiff,
  dumpTable,
  replayInto,
} from "../helpers/oracle.js";

const KS = "vault";
const MAGIC = "PITRENC1";

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith("."))
    .map((e) => join(e.parentPath, e.name));
}

t.test(
  "encrypted archive on a real node: exact restore through a key rotation, a flipped byte refused before Cassandra sees it",
  async (t) => {
    const p = await pitrNode(t, "restore-encrypted");
    const { node } = p;
    const keys = dirname(p.configFile);
    const keyA = randomBytes(32);
    const keyB = randomBytes(32);
    const fileA = join(keys, "archive-a.key");
    const fileB = join(keys, "archive-b.key");
    await writeFile(fileA, keyA.toString("hex") + "\n", { mode: 0o600 });
    await writeFile(fileB, keyB.toString("base64") + "\n", { mode: 0o600 });
    const plainConfig = await readFile(p.configFile, "utf8");
    const useKeys = (current: string, retired?: string) =>
      writeFile(
        p.configFile,
        `${plainConfig}encryption: aes-256-gcm\nencryptionKeyFile: ${current}\n${retired ? `encryptionRetiredKeyFiles: ${retired}\n` : ""}`,
      );
    await useKeys(fileA);

    await createExactKeyspace(node, KS);
    const w = new Workload(20261128, 12000);
    const clock = new Clock();
    const write = async (count: number) => {
      for (let i = 0; i < count; i++) await apply(node, w.next(clock.tick(i % 2 === 0 ? 400n : 1300n)), KS);
    };
    await write(150);
    await node.nodetool("flush", KS);
    await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot -t base (encrypted with key A)");
    await write(500);

    // Rotation: new objects under B, A kept for reading.
    await useKeys(fileB, fileA);
    await write(400);
    await node.nodetool("flush", KS);
    await expectOk(t, await p.cli("incremental"), "incremental (key B)");
    await write(300);
    const atStatement = w.next(clock.tick(400n), "clustered-insert");
    await apply(node, atStatement, KS);
    const at = atStatement.ts;
    await apply(node, w.next(at + 300n, "row-delete"), KS); // 300 µs after T: must not come back
    for (const kind of ["row-delete", "partition-delete", "kv-row-delete", "cell-delete"])
      for (let i = 0; i < 10; i++) await apply(node, w.next(clock.tick(900n), kind), KS);
    await write(400);
    await node.nodetool("flush", KS);
    await expectOk(t, await p.cli("incremental"), "incremental after T");
    await node.stop();

    // At rest: ciphertext, and each record names its algorithm and key.
    const backend = await openBackend(`file://${p.archiveDir}`);
    t.teardown(() => backend.close());
    const archived = await listArchived(backend, p.identity);
    const encrypted = archived.filter((a) => a.record.encryption === "aes-256-gcm");
    const byKey = (k: Buffer) => encrypted.filter((a) => a.record.encryptionKey === keyId(k)).length;
    t.ok(byKey(keyA) >= 1, `segments recorded as encrypted with key A (${byKey(keyA)})`);
    t.ok(byKey(keyB) >= 2, `segments recorded as encrypted with key B (${byKey(keyB)})`);
    t.equal(byKey(keyA) + byKey(keyB), encrypted.length, "every encrypted segment names one of the two keys");
    const firstEncrypted = archived.findIndex((a) => a.record.encryption === "aes-256-gcm");
    t.same(
      archived
        .slice(firstEncrypted)
        .filter((a) => a.record.encryption !== "aes-256-gcm")
        .map((a) => a.key),
      [],
      "no segment in clear once encryption was on",
    );
    const stored = await filesUnder(p.archiveDir);
    const atRest = async (pattern: RegExp) => {
      const files = stored.filter((f) => pattern.test(f) && !f.endsWith(".meta"));
      const clear = [];
      for (const f of files)
        if ((await readFile(f)).subarray(0, 8).toString("latin1") !== MAGIC) clear.push(f);
      return { files: files.length, clear };
    };
    const snapshotFiles = await atRest(/\/(snapshots|sstables|incrementals)\//);
    t.ok(snapshotFiles.files > 0, `snapshot and incremental objects stored (${snapshotFiles.files})`);
    t.same(snapshotFiles.clear, [], "every snapshot and incremental object is ciphertext at rest");

    const plan = await expectOk(
      t,
      await p.cli("plan", "--at", at.toString(), "--grace", "1h", "--json"),
      "plan --at T",
    );
    const segmentSteps = (JSON.parse(plan.stdout) as { steps: { kind: string; key: string }[] }).steps.filter(
      (s) => s.kind === "segment",
    );
    t.ok(segmentSteps.length >= 3, `the plan replays several segments (${segmentSteps.length})`);
    const stepKeys = new Set(segmentSteps.map((s) => s.key));
    const replayedA = encrypted.filter((a) => stepKeys.has(a.key) && a.record.encryptionKey === keyId(keyA));
    t.ok(replayedA.length > 0, `the plan needs segments under the retired key A (${replayedA.length})`);

    // A flipped byte in an encrypted segment the plan replays (one under key B, the current key).
    const victim = encrypted
      .filter((a) => stepKeys.has(a.key) && a.record.encryptionKey === keyId(keyB))
      .at(-1)!;
    const victimFile = join(p.archiveDir, victim.key);
    const original = await readFile(victimFile);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x10;
    await writeFile(victimFile, flipped);
    const nodeDirs = [node.dataDir, node.commitlogDir, node.confDir];
    const before = await Promise.all(nodeDirs.map(fileTree));
    const refused = await p.cli("restore", "--at", at.toString(), "--grace", "1h");
    t.equal(refused.exitCode, 32, "restore with a flipped byte: exit 32 (does not authenticate)");
    t.match(
      refused.stderr,
      new RegExp(`${victim.key.split("/").pop()!.replace(/[.]/g, "\\.")}.*does not authenticate`),
      "names the object",
    );
    t.same(
      await Promise.all(nodeDirs.map(fileTree)),
      before,
      "nothing of the node changed: no byte reached Cassandra",
    );
    const verified = await p.cli("verify", "--deep");
    t.equal(verified.exitCode, 3, "verify --deep: exit 3 (problems found)");
    t.match(
      verified.stdout,
      new RegExp(`${victim.key.split("/").pop()!.replace(/[.]/g, "\\.")}.*does not authenticate`),
      "verify names the object that does not authenticate",
    );
    await writeFile(victimFile, original);

    // Key A dropped from the retired list: the objects it wrote cannot be read.
    await useKeys(fileB);
    const noRetired = await p.cli("restore", "--at", at.toString(), "--grace", "1h");
    t.equal(noRetired.exitCode, 31, "key A no longer listed: exit 31");
    t.match(noRetired.stderr, new RegExp(`needs encryption key '${keyId(keyA)}'`), "names key A's id");
    t.notMatch(noRetired.stderr + noRetired.stdout, new RegExp(keyA.toString("hex")), "never the key itself");
    t.same(await Promise.all(nodeDirs.map(fileTree)), before, "nothing of the node changed");
    await useKeys(fileB, fileA);
    const clean = await p.cli("verify", "--deep");
    t.equal(clean.exitCode, 0, "verify --deep with both keys: every object authenticates");

    await expectOk(
      t,
      await p.cli("restore", "--at", at.toString(), "--grace", "1h"),
      "restore --at T through both keys",
    );
    await node.start();
    await expectOk(t, await p.cli("restore", "finish"), "restore finish");
    const replayed = await replayInto(node, w.log, at, "vault_ref");
    t.equal(
      replayed,
      w.log.filter((s) => s.ts <= at).length,
      "the reference holds every statement stamped <= T",
    );
    for (const table of STAMPED_TABLES) {
      const got = await dumpTable(node, KS, table);
      const want = await dumpTable(node, "vault_ref", table);
      t.ok(want.length > 0, `${table}: the reference is not empty (${want.length} rows)`);
      t.ok(
        got.join("\n") === want.join("\n"),
        `${table}: every column and writetime equals the oracle's\n${dumpDiff(got, want)}`,
      );
    }
    await node.stop();
  },
);
