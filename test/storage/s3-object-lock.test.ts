/**
 * S3 Object Lock (WORM) and least-privilege credentials, on MinIO started by scripts/emulators.sh:
 * the real archive hook writing into a bucket created with object lock, what the lock refuses, what
 * `check` says, what `prune` does with locked and versioned objects, and the hook running with a
 * real MinIO user holding only docs/policies/s3-hooks.json.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import t, { type Test } from "tap";
import { execa } from "execa";
import * as s3 from "@aws-sdk/client-s3";
import { parseDuration } from "../../src/config/duration.js";
import { loadIncrementals, loadSnapshots } from "../../src/catalog/backup-source.js";
import { readCatalog } from "../../src/catalog/read.js";
import { applyPrune, parseKeep, readAndPlanPrune } from "../../src/prune/run.js";
import { planRestore } from "../../src/restore/planner.js";
import { ConfigError } from "../../src/errors/base.js";
import { openBackend } from "../../src/storage/open.js";
import { objectLockPolicy } from "../../src/storage/object-lock.js";
import { PreconditionFailedError } from "../../src/storage/errors.js";
import type { Backend, LentChunks } from "../../src/storage/types.js";
import { segmentFixtures } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";
import { REPO } from "../helpers/cassandra.js";
import { buildArchive, DAY, identity as pruneIdentity, T0 } from "../prune/archive.js";
import { expectError, readAll, requireTarget } from "./conformance.js";

const DAY_MS = 86_400_000;
const NODE_ID = "4f1c2a77-0b8e-4d2a-9c55-1e0f6a3b9d21";
const CLUSTER = "worm";

const url = requireTarget("s3", "PITR_TEST_S3_URL");
if (url !== undefined) {
  const endpoint = process.env["CASSANDRA_PITR_S3_ENDPOINT"];
  const root = new s3.S3Client({
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: true,
    region: process.env["AWS_REGION"] ?? "us-east-1",
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  t.teardown(() => root.destroy());
  const bucket = `pitr-worm-${randomBytes(4).toString("hex")}`;
  const prefix = "archive";
  const nodePrefix = `${prefix}/${CLUSTER}/${NODE_ID}`;
  const archiveUrl = `s3://${bucket}/${prefix}`;

  t.before(async () => {
    await root.send(new s3.CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  });

  const hookEnv = (extra: Record<string, string | undefined> = {}) =>
    cleanEnv({
      CASSANDRA_PITR_ARCHIVE: archiveUrl,
      CASSANDRA_PITR_S3_ENDPOINT: endpoint,
      CASSANDRA_PITR_CLUSTER: CLUSTER,
      CASSANDRA_PITR_NODE: NODE_ID,
      ...extra,
    });

  /** Every version (and delete marker) under a key prefix, as the root user sees them. */
  const versionsOf = async (keyPrefix: string) => {
    const out = await root.send(new s3.ListObjectVersionsCommand({ Bucket: bucket, Prefix: keyPrefix }));
    return { versions: out.Versions ?? [], markers: out.DeleteMarkers ?? [] };
  };

  /** A fixture segment in a fresh commit log directory, closed at a fixed time, as Cassandra leaves it. */
  const placeSegment = async (t: Test, name?: string, tamper = false, kind = "v8") => {
    const dir = await tempDir("worm");
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const f = (await segmentFixtures(kind))[0]!;
    const path = join(dir, "commitlog", name ?? f.name);
    await mkdir(join(dir, "commitlog"), { recursive: true });
    await copyFile(f.path, path);
    if (tamper) {
      const bytes = await readFile(path);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
      await writeFile(path, bytes);
    }
    const closed = new Date(1_795_250_000_000);
    await utimes(path, closed, closed);
    return { path, name: name ?? f.name, spool: join(dir, "spool") };
  };

  t.test(
    "the archive hook writes locked objects; the lock refuses deleting a version; a second put adds no version",
    async (t) => {
      const seg = await placeSegment(t);
      const env = hookEnv({
        CASSANDRA_PITR_OBJECT_LOCK: "compliance",
        CASSANDRA_PITR_OBJECT_LOCK_RETENTION: "1d",
        CASSANDRA_PITR_SPOOL_DIR: seg.spool,
        CASSANDRA_PITR_SPOOL_FALLBACK: "false",
      });
      const before = Date.now();
      const ran = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], env);
      const after = Date.now();
      t.equal(ran.exitCode, 0, `hook exit 0 (${ran.lines.join(" | ")})`);
      t.same(ran.lines, [], "quiet on success");

      const { versions } = await versionsOf(`${nodePrefix}/segments/`);
      t.equal(versions.length, 1, "one segment object");
      const key = versions[0]!.Key!;
      const retention = await root.send(
        new s3.GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versions[0]!.VersionId }),
      );
      t.equal(retention.Retention?.Mode, "COMPLIANCE", "locked in compliance mode");
      const until = retention.Retention?.RetainUntilDate?.getTime() ?? 0;
      t.ok(
        until >= before + DAY_MS - 1000 && until <= after + DAY_MS + 1000,
        "retained for objectLockRetention from the write",
      );
      const all = await versionsOf(`${nodePrefix}/`);
      for (const v of all.versions) {
        const r = await root.send(
          new s3.GetObjectRetentionCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId }),
        );
        t.equal(
          r.Retention?.Mode,
          "COMPLIANCE",
          `every object the hook wrote is locked: ${v.Key!.slice(nodePrefix.length + 1)}`,
        );
      }

      // Even the bucket's root user cannot remove the archived version.
      await t.rejects(
        root.send(
          new s3.DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versions[0]!.VersionId }),
        ),
        { message: /WORM|locked|retention/i },
        "deleting the locked version is refused",
      );
      await t.rejects(
        root.send(
          new s3.DeleteObjectCommand({
            Bucket: bucket,
            Key: key,
            VersionId: versions[0]!.VersionId,
            BypassGovernanceRetention: true,
          }),
        ),
        { message: /WORM|locked|retention/i },
        "compliance mode holds against the governance bypass",
      );

      // The same segment again (Cassandra re-archives after a restart): silent success, no new version.
      const again = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], env);
      t.equal(again.exitCode, 0, "re-archiving is a silent success");
      // Other bytes under the same name: kept beside as a conflict copy, the original key untouched.
      const other = await placeSegment(t, seg.name, true);
      const conflict = await runNode(ARCHIVE_HOOK, [other.path, other.name], {
        ...env,
        CASSANDRA_PITR_SPOOL_DIR: other.spool,
      });
      t.equal(conflict.exitCode, 0, "a conflicting copy is kept, exit 0");
      t.match(conflict.stderr, /different content; kept both/);
      const keyVersions = (await versionsOf(key)).versions.filter((v) => v.Key === key);
      t.equal(
        keyVersions.length,
        1,
        "the archived key still has exactly one version: put-if-absent holds on the versioned bucket",
      );
      t.equal(keyVersions[0]!.VersionId, versions[0]!.VersionId, "and it is the first one");

      // An unconditional overwrite through the SDK can only add a version: the locked one stays readable.
      await root.send(
        new s3.PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: "overwritten",
          ChecksumAlgorithm: "CRC32",
        }),
      );
      const original = await root.send(
        new s3.GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versions[0]!.VersionId }),
      );
      t.equal(
        (await original.Body!.transformToByteArray()).length,
        versions[0]!.Size,
        "the locked version still holds the archived bytes",
      );
    },
  );

  t.test(
    "locked puts of every body shape: a multipart stream, a stream of known length, bytes; a refused second put adds no version",
    async (t) => {
      const backend = await openBackend(`s3://${bucket}/shapes`, {
        objectLock: { mode: "governance", retentionMs: DAY_MS },
        retry: false,
      });
      t.teardown(() => backend.close());
      const big = (seed: number): LentChunks => ({
        lent: true,
        async *[Symbol.asyncIterator]() {
          const shared = Buffer.alloc(256 * 1024, seed);
          for (let i = 0; i < 48; i++) yield shared; // 12 MiB: two 8 MiB parts, each with its checksum
        },
      });
      const known = Buffer.alloc(3 * 1024 * 1024, 7);
      await backend.put("multipart", big(1), { ifAbsent: true });
      await backend.put(
        "known-length",
        Readable.from([known.subarray(0, 1024 * 1024), known.subarray(1024 * 1024)]),
        { ifAbsent: true, contentLength: known.length },
      );
      await backend.put("bytes", new Uint8Array(known.subarray(0, 100)), { ifAbsent: true });
      for (const [key, size] of [
        ["multipart", 12 * 1024 * 1024],
        ["known-length", known.length],
        ["bytes", 100],
      ] as const) {
        const info = await backend.head(key);
        t.equal(info.size, size, `${key}: stored whole`);
        t.equal(info.retention?.mode, "governance", `${key}: locked`);
        t.ok(info.versionId !== undefined, `${key}: head reports the version`);
      }
      await expectError(
        t,
        backend.put("multipart", big(2), { ifAbsent: true }),
        PreconditionFailedError,
        "a second multipart put is refused",
      );
      await expectError(
        t,
        backend.put("bytes", new Uint8Array(10), { ifAbsent: true }),
        PreconditionFailedError,
        "a second put of bytes is refused",
      );
      t.equal((await versionsOf("shapes/multipart")).versions.length, 1, "no second version");
      t.equal((await readAll(await backend.get("multipart")))[0], 1, "the first body is what reads back");
      await backend.put("unlocked", new Uint8Array(5), { ifAbsent: true, retain: false });
      t.equal(
        (await backend.head("unlocked")).retention,
        undefined,
        "retain: false writes without a lock (the check probe)",
      );
    },
  );

  t.test("check: ok on a bucket with object lock, one failure line with a hint on one without", async (t) => {
    const lockEnv = { CASSANDRA_PITR_OBJECT_LOCK: "governance", CASSANDRA_PITR_OBJECT_LOCK_RETENTION: "2d" };
    const ok = await runNode(CLI, ["check", "--segment-size", "16MiB"], hookEnv(lockEnv));
    t.match(
      ok.stdout,
      /^ok\s+object-lock\s+bucket of 's3:\/\/pitr-worm-[0-9a-f]+\/archive' has object lock enabled \(objectLock: governance, 2d\)/m,
      ok.stdout,
    );
    t.match(
      ok.stdout,
      /^ok\s+storage\s+.*probe written, read, removed/m,
      "the probe is written unlocked and removed",
    );
    const plain = await runNode(
      CLI,
      ["check", "--segment-size", "16MiB"],
      hookEnv({ ...lockEnv, CASSANDRA_PITR_ARCHIVE: `${url}/worm-check` }),
    );
    t.equal(plain.exitCode, 3, "exit 3: a check failed");
    const line = plain.stdout.split("\n").find((l) => l.includes("object-lock"));
    t.match(
      line,
      /^failure\s+object-lock\s+objectLock: governance, 2d is set, but the bucket of .* does not have object lock enabled/,
      "the failure names the setting and the bucket",
    );
    t.match(plain.stdout, /hint: object lock can only be enabled when the bucket is created/);
  });

  t.test("objectLock is refused where it cannot hold, and without a retention", async (t) => {
    await t.rejects(
      openBackend("file:///tmp/worm-not-s3", { objectLock: { mode: "compliance", retentionMs: DAY_MS } }),
      ConfigError,
      "not on file://",
    );
    t.throws(
      () => objectLockPolicy({ objectLock: "compliance", objectLockRetention: undefined }),
      ConfigError,
    );
    const seg = await placeSegment(t);
    const ran = await runNode(
      ARCHIVE_HOOK,
      [seg.path, seg.name],
      hookEnv({ CASSANDRA_PITR_OBJECT_LOCK: "governance", CASSANDRA_PITR_SPOOL_DIR: seg.spool }),
    );
    t.equal(ran.exitCode, 2, "the hook exits 2 (configuration)");
    t.equal(
      ran.lines.length <= 2 && /objectLockRetention/.test(ran.stderr),
      true,
      `one clear line: ${ran.stderr}`,
    );
    const short = await runNode(
      ARCHIVE_HOOK,
      [seg.path, seg.name],
      hookEnv({
        CASSANDRA_PITR_OBJECT_LOCK: "governance",
        CASSANDRA_PITR_OBJECT_LOCK_RETENTION: "1h",
        CASSANDRA_PITR_SPOOL_DIR: seg.spool,
      }),
    );
    t.equal(short.exitCode, 2, "a retention under a day is refused");

    // A lock asked of a bucket created without it: every put is refused; the hook spools and says why.
    const unlocked = hookEnv({
      CASSANDRA_PITR_ARCHIVE: `${url}/worm-unlocked`,
      CASSANDRA_PITR_OBJECT_LOCK: "governance",
      CASSANDRA_PITR_OBJECT_LOCK_RETENTION: "1d",
      CASSANDRA_PITR_SPOOL_DIR: seg.spool,
    });
    const spooled = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], unlocked);
    t.equal(spooled.exitCode, 0, "exit 0: the segment is safe in the spool");
    t.equal(spooled.lines.length, 1, "one line");
    t.match(spooled.stderr, /spooled for the agent .*does not have object lock enabled/, spooled.stderr);
    t.ok((await readdir(seg.spool)).includes(seg.name), "the segment is in the spool");
    const strict = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], {
      ...unlocked,
      CASSANDRA_PITR_SPOOL_FALLBACK: "false",
      CASSANDRA_PITR_SPOOL_DIR: `${seg.spool}-2`,
    });
    t.equal(strict.exitCode, 16, "without the spool fallback: exit 16");
    t.match(strict.stderr, /hint: create the bucket with object lock enabled, or set objectLock: none/);
  });

  t.test(
    "prune keeps locked objects with their date, then reports deletes on the versioned bucket as delete-marked",
    async (t) => {
      const NOW = T0 + 3 * DAY;
      const url = `s3://${bucket}/prune`;
      const locked = await openBackend(url, { objectLock: { mode: "governance", retentionMs: DAY_MS } });
      t.teardown(() => locked.close());
      await buildArchive(locked, 3);
      const plan = await readAndPlanPrune(locked, pruneIdentity, parseKeep("1", parseDuration), NOW);
      t.equal(plan.refused, undefined);
      t.ok(plan.delete.length > 10, `the plan deletes ${plan.delete.length} objects`);
      const listed = async (b: Backend) => {
        const keys: string[] = [];
        for await (const i of b.list("")) keys.push(i.key);
        return keys;
      };
      const before = await listed(locked);

      const now = Date.now();
      const first = await applyPrune(locked, plan, now);
      t.equal(
        first.deleted.length + first.markedDeleted.length,
        0,
        "nothing under retention is deleted or hidden",
      );
      t.equal(first.keptByLock.length, plan.delete.length, "every planned object is kept by lock");
      const direct = first.keptByLock.filter((k) => k.why.startsWith("under governance retention"));
      t.ok(
        direct.length > 0 &&
          direct.every(
            (k) =>
              k.until !== undefined && k.until.getTime() > now && k.until.getTime() <= now + DAY_MS + 1000,
          ),
        "with the date each becomes deletable",
      );
      t.same(await listed(locked), before, "the archive is unchanged");
      const cli = await runNode(
        CLI,
        ["prune", "--keep", "1", "--confirm"],
        cleanEnv({
          CASSANDRA_PITR_ARCHIVE: url,
          CASSANDRA_PITR_S3_ENDPOINT: endpoint,
          CASSANDRA_PITR_CLUSTER: pruneIdentity.cluster,
          CASSANDRA_PITR_NODE: pruneIdentity.node,
        }),
      );
      t.equal(cli.exitCode, 0, "prune --confirm exits 0");
      t.match(
        cli.stdout,
        /^kept by lock segment \S+: under governance retention, deletable from \d{4}-\d\d-\d\dT/m,
        "each locked object is named with its date",
      );
      t.match(
        cli.stdout,
        new RegExp(
          `^0 object\\(s\\) deleted, 0 delete-marked \\(0 bytes\\), ${plan.delete.length} kept by lock$`,
          "m",
        ),
        "the summary counts them",
      );
      t.notMatch(cli.stdout, /^deleted /m, "nothing is reported deleted");
      t.same(await listed(locked), before, "the archive is still unchanged");

      // A day later (as prune sees it): the locks have passed, and a delete on this versioned bucket adds a marker.
      const later = await applyPrune(locked, plan, now + 2 * DAY_MS);
      t.equal(later.keptByLock.length, 0);
      t.equal(later.deleted.length, 0, "no object is reported deleted: its version still exists");
      t.equal(later.markedDeleted.length, plan.delete.length, "every planned object is delete-marked");
      const after = await listed(locked);
      t.equal(
        after.length,
        before.length - plan.delete.length,
        "delete-marked objects are gone from listings",
      );
      const hidden = plan.delete[plan.delete.length - 1]!.key;
      const { versions, markers } = await versionsOf(`prune/${hidden}`);
      t.ok(
        versions.length === 1 && markers.length === 1,
        "the version stays beside its delete marker, as prune says",
      );

      // The catalog and the planner see exactly the kept window: no delete-marked object counts as present or lost.
      const planAt = async (atMs: number) => {
        const catalog = await readCatalog(locked, pruneIdentity, {
          fromMs: atMs,
          toMs: atMs,
          loadSnapshots,
          loadIncrementals,
        });
        return {
          catalog,
          plan: planRestore(catalog, {
            at: BigInt(atMs) * 1000n,
            now: NOW,
            graceMs: 0,
            precision: "MILLISECONDS",
            archiveUrl: url,
          }),
        };
      };
      const inside = await planAt(T0 + 2 * DAY + 3_600_000 + 1000);
      t.equal(inside.catalog.gaps.length, 0, "no gap inside the kept window");
      const snap = inside.plan.steps.find((x) => x.kind === "snapshot");
      t.equal(snap && "tag" in snap ? snap.tag : undefined, "daily-2");
      t.throws(
        () =>
          planRestore(inside.catalog, {
            at: BigInt(T0 + DAY) * 1000n,
            now: NOW,
            graceMs: 0,
            precision: "MILLISECONDS",
            archiveUrl: url,
          }),
        { name: "PlanRefusedError" },
        "before the kept window is refused, not half-served",
      );
    },
  );

  const mc = process.env["PITR_TEST_MC"];
  t.test(
    "least privilege: the hook archives with a MinIO user holding only docs/policies/s3-hooks.json, which may not delete or list",
    async (t) => {
      if (mc === undefined || endpoint === undefined) {
        t.fail("PITR_TEST_MC and CASSANDRA_PITR_S3_ENDPOINT must be set (scripts/emulators.sh env)");
        return;
      }
      const cfg = await tempDir("mc");
      t.teardown(() => rm(cfg, { recursive: true, force: true }));
      const run = (args: string[]) =>
        execa(mc, ["--config-dir", cfg, "--quiet", ...args], { timeout: 60_000 });
      await run([
        "alias",
        "set",
        "pitr",
        endpoint,
        process.env["AWS_ACCESS_KEY_ID"]!,
        process.env["AWS_SECRET_ACCESS_KEY"]!,
      ]);
      const user = `pitr-hook-${randomBytes(3).toString("hex")}`;
      const secret = randomBytes(18).toString("base64url");
      const policyText = (await readFile(join(REPO, "docs/policies/s3-hooks.json"), "utf8"))
        .replaceAll("BUCKET", bucket)
        .replaceAll("PREFIX", prefix)
        .replaceAll("CLUSTER", CLUSTER)
        .replaceAll("NODE", NODE_ID);
      const policyFile = join(cfg, "policy.json");
      await writeFile(policyFile, policyText);
      await run(["admin", "user", "add", "pitr", user, secret]);
      await run(["admin", "policy", "create", "pitr", user, policyFile]);
      await run(["admin", "policy", "attach", "pitr", user, "--user", user]);
      t.teardown(async () => {
        await run(["admin", "policy", "detach", "pitr", user, "--user", user]).catch(() => undefined);
        await run(["admin", "user", "remove", "pitr", user]).catch(() => undefined);
        await run(["admin", "policy", "remove", "pitr", user]).catch(() => undefined);
      });
      const creds = { AWS_ACCESS_KEY_ID: user, AWS_SECRET_ACCESS_KEY: secret };

      // A segment the first test did not archive (another name), with a lock, through the real hook.
      const seg = await placeSegment(t, undefined, false, "v7");
      const env = hookEnv({
        ...creds,
        CASSANDRA_PITR_OBJECT_LOCK: "governance",
        CASSANDRA_PITR_OBJECT_LOCK_RETENTION: "1d",
        CASSANDRA_PITR_SPOOL_DIR: seg.spool,
        CASSANDRA_PITR_SPOOL_FALLBACK: "false",
      });
      const ran = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], env);
      t.equal(ran.exitCode, 0, `archived with the hook-only credentials (${ran.lines.join(" | ")})`);
      const again = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], env);
      t.equal(
        again.exitCode,
        0,
        `re-archived (put refused by If-None-Match, then head) with them (${again.lines.join(" | ")})`,
      );
      const stored = (await versionsOf(`${nodePrefix}/segments/`)).versions.filter((v) =>
        v.Key!.includes(`_${seg.name.match(/-(\d+)\.log$/)![1]}_`),
      );
      t.equal(stored.length, 1, "the segment is in the archive, once");

      const hook = new s3.S3Client({
        endpoint,
        forcePathStyle: true,
        region: "us-east-1",
        credentials: { accessKeyId: user, secretAccessKey: secret },
        requestChecksumCalculation: "WHEN_REQUIRED",
      });
      t.teardown(() => hook.destroy());
      await t.rejects(
        hook.send(new s3.DeleteObjectCommand({ Bucket: bucket, Key: stored[0]!.Key })),
        { name: "AccessDenied" },
        "delete is refused",
      );
      await t.rejects(
        hook.send(
          new s3.DeleteObjectCommand({
            Bucket: bucket,
            Key: stored[0]!.Key,
            VersionId: stored[0]!.VersionId,
          }),
        ),
        { name: "AccessDenied" },
        "deleting the version is refused",
      );
      await t.rejects(
        hook.send(new s3.ListObjectsV2Command({ Bucket: bucket, Prefix: `${nodePrefix}/` })),
        { name: "AccessDenied" },
        "listing is refused",
      );
      await t.rejects(
        hook.send(new s3.GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${CLUSTER}/another-node/x` })),
        { name: "AccessDenied" },
        "another node's prefix is out of reach",
      );
      t.equal((await versionsOf(stored[0]!.Key!)).markers.length, 0, "no delete marker was added");

      // `check` on the node, with the node's credentials: the lock confirmed, the probe kept (no delete).
      const check = await runNode(CLI, ["check", "--segment-size", "16MiB"], env);
      t.match(
        check.stdout,
        /^ok\s+object-lock\s+bucket of .* has object lock enabled/m,
        "check confirms the lock with the hook's credentials",
      );
      t.match(
        check.stdout,
        /^ok\s+storage\s+.*probe written and read; these credentials may not delete, so '.*_check\/.*' stays/m,
        check.stdout,
      );
    },
  );
}
