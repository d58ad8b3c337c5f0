/**
 * Unfinished multipart uploads on MinIO (scripts/emulators.sh): the real archive hook killed with
 * SIGKILL in the middle of a multipart upload leaves one; an agent pass, with a MinIO user holding
 * only docs/policies/s3-agent.json, aborts it and keeps a young upload, an old upload still
 * receiving parts, and another node's upload (which those credentials could not abort anyway).
 * On an Object Lock bucket a locked upload is aborted too. Upload times are the server's: the
 * agent's clock is set from them (one hour later), never the other way round.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import t, { type Test } from "tap";
import { execa } from "execa";
import * as s3 from "@aws-sdk/client-s3";
import { nodePrefix } from "../../src/format/layout.js";
import { runAgent } from "../../src/pipeline/agent.js";
import { unfinishedUploadMinAge } from "../../src/pipeline/unfinished-uploads.js";
import { openBackend } from "../../src/storage/open.js";
import { REPO } from "../helpers/cassandra.js";
import { segmentFixtures } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";
import { requireTarget, uniquePrefix } from "./conformance.js";

const HOOK_TIMEOUT_MS = 60_000;

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
  const bucket = new URL(url).host;
  const base = `${new URL(url).pathname.slice(1)}/${uniquePrefix()}`;
  const identity = { cluster: "unfinished", node: randomUUID() };
  const other = { cluster: "unfinished", node: randomUUID() };
  const ownKeys = `${base}/${nodePrefix(identity)}`;
  const otherKeys = `${base}/${nodePrefix(other)}`;

  /** Listed whole and filtered here: MinIO lists by a prefix only when it is a whole key. */
  const uploadsUnder = async (Bucket: string, prefix: string) =>
    ((await root.send(new s3.ListMultipartUploadsCommand({ Bucket }))).Uploads ?? []).filter((u) =>
      u.Key!.startsWith(prefix),
    );
  const partsOf = async (Bucket: string, u: s3.MultipartUpload) =>
    (await root.send(new s3.ListPartsCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }))).Parts ?? [];
  const begin = async (Bucket: string, Key: string, extra: Partial<s3.CreateMultipartUploadRequest> = {}) => {
    const out = await root.send(new s3.CreateMultipartUploadCommand({ Bucket, Key, ...extra }));
    return { Key, UploadId: out.UploadId! };
  };
  const addPart = (Bucket: string, u: { Key: string; UploadId: string }, n: number, crc = false) =>
    root.send(
      new s3.UploadPartCommand({
        Bucket,
        Key: u.Key,
        UploadId: u.UploadId,
        PartNumber: n,
        Body: randomBytes(64 * 1024),
        ...(crc ? { ChecksumAlgorithm: "CRC32" as const } : {}),
      }),
    );
  const abortAll = async (Bucket: string, Prefix: string) => {
    for (const u of await uploadsUnder(Bucket, Prefix))
      await root
        .send(new s3.AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }))
        .catch(() => undefined);
  };
  t.teardown(() => abortAll(bucket, `${base}/`));

  /** A 48 MiB segment (a real header and data, then incompressible bytes): its upload is multipart. */
  const bigSegment = async (dir: string) => {
    const [f] = await segmentFixtures("v7");
    const path = join(dir, "commitlog", f!.name);
    await mkdir(join(dir, "commitlog"), { recursive: true });
    await writeFile(path, Buffer.concat([await readFile(f!.path), randomBytes(47 * 1024 * 1024)]));
    return { path, name: f!.name };
  };

  /** Runs the real hook and kills it (SIGKILL) once its multipart upload holds a part. */
  const killHookMidUpload = async (t: Test, env: NodeJS.ProcessEnv, seg: { path: string; name: string }) => {
    const child = execa(process.execPath, [ARCHIVE_HOOK, seg.path, seg.name], {
      env,
      extendEnv: false,
      reject: false,
    });
    let upload: s3.MultipartUpload | undefined;
    for (let i = 0; i < 3000 && child.exitCode === null && upload === undefined; i++) {
      for (const u of await uploadsUnder(bucket, ownKeys))
        if ((await partsOf(bucket, u)).length > 0) upload = u;
      if (upload === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    const ran = await child;
    t.equal(ran.signal, "SIGKILL", `the hook was killed, not finished (${String(ran.stderr)})`);
    return upload;
  };

  /** A MinIO user holding only the agent's policy for `identity`, through scripts/emulators.sh's mc. */
  const agentUser = async (t: Test) => {
    const mc = process.env["PITR_TEST_MC"];
    if (mc === undefined || endpoint === undefined)
      throw new Error("PITR_TEST_MC and CASSANDRA_PITR_S3_ENDPOINT must be set (scripts/emulators.sh env)");
    const cfg = await tempDir("mc");
    t.teardown(() => rm(cfg, { recursive: true, force: true }));
    const run = (args: string[]) => execa(mc, ["--config-dir", cfg, "--quiet", ...args], { timeout: 60_000 });
    await run([
      "alias",
      "set",
      "pitr",
      endpoint,
      process.env["AWS_ACCESS_KEY_ID"]!,
      process.env["AWS_SECRET_ACCESS_KEY"]!,
    ]);
    const user = `pitr-agent-${randomBytes(3).toString("hex")}`;
    const secret = randomBytes(18).toString("base64url");
    const policy = (await readFile(join(REPO, "docs/policies/s3-agent.json"), "utf8"))
      .replaceAll("BUCKET", bucket)
      .replaceAll("PREFIX", base)
      .replaceAll("CLUSTER", identity.cluster)
      .replaceAll("NODE", identity.node);
    await writeFile(join(cfg, "policy.json"), policy);
    await run(["admin", "user", "add", "pitr", user, secret]);
    await run(["admin", "policy", "create", "pitr", user, join(cfg, "policy.json")]);
    await run(["admin", "policy", "attach", "pitr", user, "--user", user]);
    t.teardown(async () => {
      await run(["admin", "policy", "detach", "pitr", user, "--user", user]).catch(() => undefined);
      await run(["admin", "user", "remove", "pitr", user]).catch(() => undefined);
      await run(["admin", "policy", "remove", "pitr", user]).catch(() => undefined);
    });
    return { AWS_ACCESS_KEY_ID: user, AWS_SECRET_ACCESS_KEY: secret };
  };

  const agentPass = async (
    t: Test,
    archive: string,
    env: Record<string, string>,
    nowMs: number,
    extra: { objectLock?: { mode: "governance" | "compliance"; retentionMs: number } } = {},
  ) => {
    const dir = await tempDir("agent");
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const backend = await openBackend(archive, { env: { ...process.env, ...env }, ...extra });
    t.teardown(() => backend.close());
    const logFile = join(dir, "events.log");
    const stats = await runAgent(
      {
        backend,
        identity,
        spoolDir: join(dir, "spool"),
        parallelism: 1,
        compressionLevel: 1,
        compressionThreads: 0,
        sweepMinAgeMs: 600_000,
        unfinishedUploadMinAgeMs: unfinishedUploadMinAge(HOOK_TIMEOUT_MS),
        logFile,
        now: () => nowMs,
      },
      { once: true, intervalMs: 10_000 },
    );
    const events = (await readFile(logFile, "utf8").catch(() => ""))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { stats, events };
  };

  t.test(
    "an upload left by a SIGKILLed hook is aborted by an agent pass with the agent's policy; young, live and other nodes' uploads stay",
    async (t) => {
      const dir = await tempDir("unfinished");
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const seg = await bigSegment(dir);
      // Begun first, its key after this node's: MinIO lists a bucket's uploads in the order they
      // began, so a listing that stopped at the first key past the prefix would find nothing.
      await begin(bucket, `${base}/zzz-foreign/upload`);
      const hookEnv = cleanEnv({
        CASSANDRA_PITR_ARCHIVE: `s3://${bucket}/${base}`,
        CASSANDRA_PITR_S3_ENDPOINT: endpoint,
        CASSANDRA_PITR_CLUSTER: identity.cluster,
        CASSANDRA_PITR_NODE: identity.node,
        CASSANDRA_PITR_SPOOL_DIR: join(dir, "spool"),
        CASSANDRA_PITR_SPOOL_FALLBACK: "false",
        CASSANDRA_PITR_HOOK_TIMEOUT: `${HOOK_TIMEOUT_MS / 1000}s`,
        CASSANDRA_PITR_COMPRESSION_THREADS: "0",
      });
      const killed = await killHookMidUpload(t, hookEnv, seg);
      t.ok(killed, "the hook had a multipart upload with parts when it was killed");
      if (!killed) return;
      t.same(
        (await uploadsUnder(bucket, ownKeys)).map((u) => u.UploadId),
        [killed.UploadId],
        "the killed hook left it unfinished",
      );

      // Old but still receiving parts, and another node's (old, with a part): both must stay.
      const live = await begin(bucket, `${ownKeys}snapshots/live/big-Data.db`);
      const others = await begin(bucket, `${otherKeys}segments/other.log.zst`);
      await addPart(bucket, others, 1);
      await new Promise((r) => setTimeout(r, 3000));
      const young = await begin(bucket, `${ownKeys}segments/young.log.zst`);
      await addPart(bucket, live, 1);
      const youngStarted = (await uploadsUnder(bucket, ownKeys)).find(
        (u) => u.UploadId === young.UploadId,
      )!.Initiated!;
      // The agent's clock: the young upload is a second and a half short of the safe age; the killed
      // upload (started and last written 3 s earlier) is past it.
      const minAge = unfinishedUploadMinAge(HOOK_TIMEOUT_MS);
      const nowMs = youngStarted.getTime() + minAge - 1500;

      const creds = await agentUser(t);
      const { stats, events } = await agentPass(t, `s3://${bucket}/${base}`, creds, nowMs);
      t.equal(stats.uploadsAborted, 1, "one upload aborted");
      t.equal(stats.failures, 0, "and nothing failed (the policy allows it)");
      t.same(
        (await uploadsUnder(bucket, ownKeys)).map((u) => u.UploadId).sort(),
        [live.UploadId, young.UploadId].sort(),
        "the killed hook's upload is gone; the young one and the one receiving parts stay",
      );
      t.same(
        (await uploadsUnder(bucket, otherKeys)).map((u) => u.UploadId),
        [others.UploadId],
        "another node's upload stays",
      );
      t.match(
        events.find((e) => e["event"] === "unfinished-upload-aborted"),
        { key: killed.Key!.slice(base.length + 1) },
        "the event log names the aborted upload's key",
      );
      t.match(
        events.find((e) => e["event"] === "unfinished-uploads"),
        { aborted: 1, kept: 2, more: false },
      );

      const agentClient = new s3.S3Client({
        ...(endpoint ? { endpoint } : {}),
        forcePathStyle: true,
        region: "us-east-1",
        credentials: { accessKeyId: creds.AWS_ACCESS_KEY_ID, secretAccessKey: creds.AWS_SECRET_ACCESS_KEY },
      });
      t.teardown(() => agentClient.destroy());
      await t.rejects(
        agentClient.send(
          new s3.AbortMultipartUploadCommand({ Bucket: bucket, Key: others.Key, UploadId: others.UploadId }),
        ),
        { name: "AccessDenied" },
        "the agent's credentials cannot abort another node's upload",
      );

      const next = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], hookEnv);
      t.equal(next.exitCode, 0, `the next run archives the segment (${next.lines.join(" | ")})`);
      t.same(
        (await uploadsUnder(bucket, ownKeys)).map((u) => u.UploadId).sort(),
        [live.UploadId, young.UploadId].sort(),
        "and leaves no unfinished upload of its own",
      );
    },
  );

  t.test("on an Object Lock bucket a locked unfinished upload is aborted too", async (t) => {
    const locked = `pitr-mpu-lock-${randomBytes(4).toString("hex")}`;
    await root.send(new s3.CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
    t.teardown(async () => {
      await abortAll(locked, "");
      await root.send(new s3.DeleteBucketCommand({ Bucket: locked })).catch(() => undefined);
    });
    const upload = await begin(locked, `archive/${nodePrefix(identity)}segments/locked.log.zst`, {
      ObjectLockMode: "COMPLIANCE",
      ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
      ChecksumAlgorithm: "CRC32",
    });
    await addPart(locked, upload, 1, true);
    const started = (await uploadsUnder(locked, "archive/"))[0]!.Initiated!;
    const { stats } = await agentPass(t, `s3://${locked}/archive`, {}, started.getTime() + 2 * 3_600_000, {
      objectLock: { mode: "compliance", retentionMs: 86_400_000 },
    });
    t.equal(stats.uploadsAborted, 1, "aborted");
    t.same(await uploadsUnder(locked, "archive/"), [], "nothing left unfinished in the locked bucket");
  });
}
