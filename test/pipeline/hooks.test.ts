/**
 * The archive and restore hooks, run as compiled executables with argv exactly as Cassandra passes
 * them, on the real fixture segments and the embedded file:// backend. Every case also checks the
 * hook rules: at most two lines of output, %path never moved or changed.
 */
import t, { type Test } from "tap";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { decompress } from "zstd-napi";
import { segmentFixtures, type SegmentFixture } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, CLI, RESTORE_HOOK, cleanEnv, runNode, tempDir, type Ran } from "../helpers/hooks.js";

const NODE_ID = "6b1e5a3c-0000-4000-8000-00000000c0de";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out.sort();
}

interface Setup {
  root: string;
  archiveDir: string;
  commitlog: string;
  spool: string;
  env: NodeJS.ProcessEnv;
}

async function setup(t: Test, extra: Record<string, string> = {}): Promise<Setup> {
  const root = await tempDir("hooks");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const archiveDir = join(root, "archive");
  const commitlog = join(root, "commitlog");
  const spool = join(root, "spool");
  await mkdir(archiveDir);
  await mkdir(commitlog);
  const env = cleanEnv({
    CASSANDRA_PITR_ARCHIVE: `file://${archiveDir}`,
    CASSANDRA_PITR_CLUSTER: "Test Cluster",
    CASSANDRA_PITR_NODE: NODE_ID,
    CASSANDRA_PITR_SPOOL_DIR: spool,
    ...extra,
  });
  return { root, archiveDir, commitlog, spool, env };
}

/** Copies a fixture into the fake commit log directory, as Cassandra would have it. */
async function place(s: Setup, f: SegmentFixture, name = f.name): Promise<string> {
  const path = join(s.commitlog, name);
  await copyFile(f.path, path);
  const closed = new Date(1_795_250_000_000);
  await utimes(path, closed, closed);
  return path;
}

function quiet(t: Test, ran: Ran, max = 2) {
  t.ok(ran.lines.length <= max, `prints at most ${max} line(s) (printed ${ran.lines.length})`);
}

async function unchanged(t: Test, path: string, sha: string) {
  t.equal(sha256(await readFile(path)), sha, "%path is still there, unchanged");
}

const segmentObjects = async (dir: string) =>
  (await listFiles(dir)).filter((p) => p.endsWith(".log.zst") && !p.split("/").pop()!.startsWith("."));

t.test("archives every real fixture segment: quiet, exit 0, original bytes recoverable", async (t) => {
  const s = await setup(t);
  const fixtures = (
    await Promise.all(["v7", "v8", "lz4", "zstd", "deflate", "snappy"].map((k) => segmentFixtures(k)))
  ).flat();
  for (const f of fixtures) {
    const path = await place(s, f);
    const ran = await runNode(ARCHIVE_HOOK, [path, f.name], s.env);
    t.equal(ran.exitCode, 0, `${f.kind}/${f.name}: exit 0`);
    t.same(ran.lines, [], `${f.kind}/${f.name}: prints nothing on success`);
    await unchanged(t, path, f.sha256);
  }
  const objects = await segmentObjects(s.archiveDir);
  t.equal(objects.length, fixtures.length, "one object per segment");
  for (const f of fixtures) {
    const id = /-(\d+)\.log$/.exec(f.name)![1]!;
    const obj = objects.find((o) => o.includes(`_${id}_v`));
    t.ok(obj, `${f.name} is stored under a key carrying its id`);
    t.match(
      obj!,
      new RegExp(
        `/Test\\+20Cluster/${NODE_ID}/segments/\\d{4}/\\d{2}/\\d{2}/\\d{8}T\\d{6}\\.\\d{3}Z_${id}_v\\d\\.log\\.zst$`,
      ),
      "key layout: cluster/node/segments/day/closeTime_id_vN.log.zst",
    );
    t.equal(
      sha256(decompress(await readFile(obj!))),
      f.sha256,
      `${f.name}: zstd body decompresses to the original bytes`,
    );
  }
});

t.test(
  "compressionThreads 0 (zstd on the hook's thread) and 2 (the default) store the same original bytes",
  async (t) => {
    const fixtures = [...(await segmentFixtures("v7")), ...(await segmentFixtures("v8"))];
    for (const threads of ["0", "2"]) {
      const s = await setup(t, { CASSANDRA_PITR_COMPRESSION_THREADS: threads });
      for (const f of fixtures) {
        const ran = await runNode(ARCHIVE_HOOK, [await place(s, f), f.name], s.env);
        t.equal(ran.exitCode, 0, `threads ${threads}, ${f.name}: exit 0`);
      }
      const objects = await segmentObjects(s.archiveDir);
      const restored = objects.map(async (o) => sha256(decompress(await readFile(o))));
      t.same(
        (await Promise.all(restored)).sort(),
        fixtures.map((f) => f.sha256).sort(),
        `threads ${threads}: every object decompresses to its segment`,
      );
    }
  },
);

t.test(
  "re-archiving the same segment is a quiet success; different bytes are kept beside, never overwritten",
  async (t) => {
    const s = await setup(t);
    const [f] = await segmentFixtures("v7");
    const path = await place(s, f!);
    t.equal((await runNode(ARCHIVE_HOOK, [path, f!.name], s.env)).exitCode, 0);
    const again = await runNode(ARCHIVE_HOOK, [path, f!.name], s.env);
    t.equal(again.exitCode, 0, "second archive of the same file: exit 0");
    t.same(again.lines, [], "and silent");
    t.equal((await segmentObjects(s.archiveDir)).length, 1, "still one object");

    // Same name and close time, different bytes (a byte flipped in the body).
    const bytes = await readFile(path);
    bytes[200_000] = bytes[200_000]! ^ 0xff;
    const st = await stat(path);
    await writeFile(path, bytes);
    await utimes(path, st.atime, st.mtime);
    const conflict = await runNode(ARCHIVE_HOOK, [path, f!.name], s.env);
    t.equal(
      conflict.exitCode,
      0,
      "conflict: exit 0 (Cassandra must not keep retrying a segment that is stored)",
    );
    quiet(t, conflict, 1);
    t.match(
      conflict.stderr,
      /already archived with different content; kept both/,
      "conflict: says so on one line",
    );
    const objects = await segmentObjects(s.archiveDir);
    t.equal(objects.length, 2, "both copies kept");
    const original = objects.find((o) => !o.includes("conflict"))!;
    t.equal(sha256(decompress(await readFile(original))), f!.sha256, "the first copy is untouched");
    t.ok(
      objects.some((o) => /\.conflict-[0-9a-f]{16}\.log\.zst$/.test(o)),
      "the second is under a conflict key",
    );
  },
);

t.test("torn and corrupt segments are archived anyway, flagged, and the hook says so", async (t) => {
  const s = await setup(t);
  const [torn] = await segmentFixtures("torn");
  const tornPath = await place(s, torn!);
  const ran = await runNode(ARCHIVE_HOOK, [tornPath, torn!.name], s.env);
  t.equal(ran.exitCode, 0, "torn: exit 0");
  quiet(t, ran, 1);
  t.match(ran.stderr, /flagged torn-tail/, "torn: says so on one line");
  const [v7] = await segmentFixtures("v7");
  const bad = Buffer.from(await readFile(v7!.path));
  bad[16] = bad[16]! ^ 0x01; // header CRC
  const name = v7!.name.replace(/(\d+)\.log$/, (_m, id: string) => `${BigInt(id) + 1000n}.log`);
  const badPath = join(s.commitlog, name);
  await writeFile(badPath, bad);
  const corrupt = await runNode(ARCHIVE_HOOK, [badPath, name], s.env);
  t.equal(corrupt.exitCode, 0, "corrupt: exit 0 (kept, flagged)");
  quiet(t, corrupt, 1);
  t.match(corrupt.stderr, /archived but flagged corrupt/, "corrupt: one line saying so");
  const metas = (await listFiles(s.archiveDir)).filter((p) => p.endsWith(".meta"));
  const statuses = await Promise.all(
    metas.map(
      async (m) =>
        JSON.parse(await readFile(m, "utf8")) as { metadata?: Record<string, string> } & Record<
          string,
          unknown
        >,
    ),
  );
  const flat = JSON.stringify(statuses);
  t.match(flat, /torn-tail/, "the torn segment is recorded as torn-tail");
  t.match(flat, /corrupt/, "the corrupt segment is recorded as corrupt");
});

t.test("bad input: one clear line and a documented exit code, %path untouched", async (t) => {
  const s = await setup(t);
  const [f] = await segmentFixtures("v7");
  const path = await place(s, f!);
  const cases: {
    title: string;
    args: string[];
    env?: Record<string, string | undefined>;
    exit: number;
    line: RegExp;
  }[] = [
    {
      title: "missing %path",
      args: [join(s.commitlog, "CommitLog-7-1.log"), "CommitLog-7-1.log"],
      exit: 14,
      line: /segment '.*CommitLog-7-1\.log' does not exist/,
    },
    { title: "not a segment name", args: [path, "notes.txt"], exit: 15, line: /notes\.txt/ },
    { title: "wrong argument count", args: [path], exit: 2, line: /expected 2 arguments/ },
    {
      title: "unknown URL scheme",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_ARCHIVE: "ftp://host/x", CASSANDRA_PITR_SPOOL_FALLBACK: "false" },
      exit: 2,
      line: /ftp/,
    },
    {
      title: "no node identity",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_NODE: undefined },
      exit: 2,
      line: /node identity is not configured/,
    },
    {
      title: "missing archive directory, no spool fallback",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_ARCHIVE: `file://${s.root}/nope`, CASSANDRA_PITR_SPOOL_FALLBACK: "false" },
      exit: 10,
      line: /does not exist/,
    },
    {
      title: "bad duration in the environment",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_HOOK_TIMEOUT: "soon" },
      exit: 2,
      line: /not a duration/,
    },
    {
      title: "compression threads out of range",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_COMPRESSION_THREADS: "-1" },
      exit: 2,
      line: /CASSANDRA_PITR_COMPRESSION_THREADS.*-1 is outside 0\.\.64/,
    },
    {
      title: "spool on another filesystem",
      args: [path, f!.name],
      env: {
        CASSANDRA_PITR_HOOK_MODE: "spool",
        CASSANDRA_PITR_SPOOL_DIR: `/dev/shm/cassandra-pitr-test-${process.pid}`,
      },
      exit: 19,
      line: /EXDEV|filesystem/,
    },
    {
      title: "%name not the file name of %path",
      args: [path, "CommitLog-7-5.log"],
      exit: 2,
      line: /%name 'CommitLog-7-5\.log' is not the file name of %path/,
    },
    {
      title: "%path below a regular file",
      args: [join(path, "CommitLog-7-6.log"), "CommitLog-7-6.log"],
      exit: 14,
      line: /CommitLog-7-6\.log' does not exist \(a parent of it is a file/,
    },
    {
      title: "a directory at %path",
      args: [join(s.commitlog, "CommitLog-7-8.log"), "CommitLog-7-8.log"],
      exit: 15,
      line: /CommitLog-7-8\.log' is a directory, not a segment file/,
    },
    {
      title: "a directory at %path, spool mode",
      args: [join(s.commitlog, "CommitLog-7-8.log"), "CommitLog-7-8.log"],
      env: { CASSANDRA_PITR_HOOK_MODE: "spool" },
      exit: 15,
      line: /is a directory, not a segment file/,
    },
    {
      title: "missing %path, spool mode",
      args: [join(s.commitlog, "CommitLog-7-1.log"), "CommitLog-7-1.log"],
      env: { CASSANDRA_PITR_HOOK_MODE: "spool" },
      exit: 14,
      line: /segment '.*CommitLog-7-1\.log' does not exist/,
    },
    {
      title: "empty archive setting",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_ARCHIVE: "" },
      exit: 2,
      line: /CASSANDRA_PITR_ARCHIVE: the archive location is empty/,
    },
    {
      title: "hookTimeout beyond what a timer holds",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_HOOK_TIMEOUT: "30d" },
      exit: 2,
      line: /CASSANDRA_PITR_HOOK_TIMEOUT: '30d' is longer than the 24d this setting can hold/,
    },
    {
      title: "hookTimeout far beyond",
      args: [path, f!.name],
      env: { CASSANDRA_PITR_HOOK_TIMEOUT: "100000d" },
      exit: 2,
      line: /'100000d' is longer than the 24d/,
    },
    {
      title: "config file that is a directory",
      args: [`--config=${s.commitlog}`, path, f!.name],
      exit: 2,
      line: /config file '.*' is not a regular file/,
    },
  ];
  await mkdir(join(s.commitlog, "CommitLog-7-8.log"));
  for (const c of cases) {
    const env = { ...s.env };
    for (const [k, v] of Object.entries(c.env ?? {}))
      if (v === undefined) delete env[k];
      else env[k] = v;
    const ran = await runNode(ARCHIVE_HOOK, c.args, env);
    t.equal(ran.exitCode, c.exit, `${c.title}: exit ${c.exit}`);
    quiet(t, ran);
    t.match(ran.lines[0] ?? "", c.line, `${c.title}: says what is wrong`);
    await unchanged(t, path, f!.sha256);
  }
  await rm(`/dev/shm/cassandra-pitr-test-${process.pid}`, { recursive: true, force: true });
  t.equal((await segmentObjects(s.archiveDir)).length, 0, "no bad input stored anything");
  t.same(await readdir(s.spool).catch(() => []), [], "and nothing was linked into the spool");

  const configFile = join(s.root, "broken.yaml");
  await writeFile(configFile, "archive: [unclosed\n  - : :\n");
  const broken = await runNode(ARCHIVE_HOOK, [`--config=${configFile}`, path, f!.name], s.env);
  t.equal(broken.exitCode, 2, "config file that does not parse: exit 2");
  t.match(broken.lines[0] ?? "", /broken\.yaml' does not parse/, "names the file");
  quiet(t, broken);
});

t.test(
  "a full spool filesystem: one line, exit 19, %path left for the sweeper; space back, spooling works",
  async (t) => {
    // A real full filesystem: a tmpfs with few inodes (tmpfs charges an inode for every hard link,
    // so the spool's link() fails with ENOSPC exactly as on a full commit log disk).
    const mnt = await tempDir("full");
    const mounted = await execa(
      "mount",
      ["-t", "tmpfs", "-o", "size=8m,nr_inodes=32", "cassandra-pitr-full", mnt],
      { reject: false },
    );
    t.equal(mounted.exitCode, 0, `mount a small tmpfs (needs root, as in CI): ${mounted.stderr}`);
    if (mounted.exitCode !== 0) return;
    t.teardown(async () => {
      await execa("umount", [mnt], { reject: false });
      await rm(mnt, { recursive: true, force: true });
    });
    const s = await setup(t, { CASSANDRA_PITR_SPOOL_DIR: join(mnt, "spool") });
    const [f] = await segmentFixtures("v7");
    await mkdir(join(mnt, "commitlog"));
    await mkdir(join(mnt, "spool"));
    const path = join(mnt, "commitlog", f!.name);
    await copyFile(f!.path, path);
    let filled = 0;
    for (;;) {
      try {
        await writeFile(join(mnt, `fill-${filled}`), "");
        filled++;
      } catch (err) {
        t.equal((err as NodeJS.ErrnoException).code, "ENOSPC", `filesystem full after ${filled} files`);
        break;
      }
    }

    const spoolMode = await runNode(ARCHIVE_HOOK, [path, f!.name], {
      ...s.env,
      CASSANDRA_PITR_HOOK_MODE: "spool",
    });
    t.equal(spoolMode.exitCode, 19, "spool mode, spool full: exit 19 (SPOOL_FAILED)");
    quiet(t, spoolMode);
    t.match(
      spoolMode.lines[0] ?? "",
      /cannot spool '.*CommitLog-.*' into '.*spool': ENOSPC/,
      "names the segment, the spool and the cause",
    );
    t.match(spoolMode.stderr, /filesystem is full/, "hints at what to do");
    await unchanged(t, path, f!.sha256);

    const down = { ...s.env, CASSANDRA_PITR_ARCHIVE: `file://${join(s.root, "not-mounted")}` };
    const both = await runNode(ARCHIVE_HOOK, [path, f!.name], down);
    t.equal(both.exitCode, 19, "storage down and spool full: exit 19, so Cassandra keeps the segment");
    quiet(t, both);
    t.match(
      both.lines[0] ?? "",
      /upload failed \(.*not-mounted.*\), then cannot spool .*: ENOSPC/,
      "says why the upload and then the spool failed",
    );
    await unchanged(t, path, f!.sha256);
    t.same(
      (await readdir(join(mnt, "spool"))).filter((n) => n.startsWith("CommitLog")),
      [],
      "nothing half-made in the spool",
    );

    await rm(join(mnt, "fill-0"));
    const again = await runNode(ARCHIVE_HOOK, [path, f!.name], {
      ...s.env,
      CASSANDRA_PITR_HOOK_MODE: "spool",
    });
    t.equal(again.exitCode, 0, "with an inode free again, the same segment spools");
    t.equal((await stat(join(mnt, "spool", f!.name))).ino, (await stat(path)).ino, "as a hard link");
  },
);

t.test(
  "storage down: the hook spools (hard link + fsync), exits 0, and the agent uploads later",
  async (t) => {
    const s = await setup(t);
    const [f] = await segmentFixtures("v7");
    const path = await place(s, f!);
    const missingRoot = join(s.root, "not-yet");
    const down = { ...s.env, CASSANDRA_PITR_ARCHIVE: `file://${missingRoot}` };
    const ran = await runNode(ARCHIVE_HOOK, [path, f!.name], down);
    t.equal(ran.exitCode, 0, "exit 0: the segment is durable in the spool");
    quiet(t, ran, 1);
    t.match(ran.stderr, /spooled for the agent/, "says it spooled");
    const spooled = join(s.spool, f!.name);
    t.equal(
      (await stat(spooled)).ino,
      (await stat(path)).ino,
      "the spool holds a hard link to the segment (no copy)",
    );
    await rm(path); // Cassandra deletes %path after a successful archive
    t.equal(
      sha256(await readFile(spooled)),
      f!.sha256,
      "the spooled link keeps the bytes after Cassandra deletes %path",
    );

    const stillDown = await runNode(CLI, ["agent", "--once"], down);
    t.equal(stillDown.exitCode, 3, "agent --once while storage is still down: exit 3 (work left)");
    t.ok((await readdir(s.spool)).includes(f!.name), "nothing dropped from the spool while storage is down");

    await mkdir(missingRoot);
    const drained = await runNode(CLI, ["agent", "--once"], down);
    t.equal(drained.exitCode, 0, "agent --once after storage is back: exit 0");
    t.match(drained.stdout, /uploaded 1/, "reports the upload");
    t.same(
      (await readdir(s.spool)).filter((n) => n.startsWith("CommitLog")),
      [],
      "spool drained",
    );
    const objects = await segmentObjects(missingRoot);
    t.equal(objects.length, 1, "the segment reached the archive");
    t.equal(sha256(decompress(await readFile(objects[0]!))), f!.sha256, "with the original bytes");
  },
);

t.test("a storage endpoint that never answers: the hook stops at its time budget and spools", async (t) => {
  const { createServer } = await import("node:net");
  const sockets: import("node:net").Socket[] = [];
  const server = createServer((socket) => sockets.push(socket)); // accepts, never answers
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as import("node:net").AddressInfo).port;
  const s = await setup(t, {
    CASSANDRA_PITR_ARCHIVE: "s3://hung-bucket/prefix",
    CASSANDRA_PITR_S3_ENDPOINT: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: "x",
    AWS_SECRET_ACCESS_KEY: "y",
    CASSANDRA_PITR_HOOK_TIMEOUT: "1500ms",
  });
  const [f] = await segmentFixtures("v7");
  const path = await place(s, f!);
  const ran = await runNode(ARCHIVE_HOOK, [path, f!.name], s.env);
  t.equal(ran.exitCode, 0, "exit 0: spooled once the budget ran out");
  quiet(t, ran, 1);
  t.match(ran.stderr, /spooled for the agent \(time budget of 1500 ms ran out\)/, "says the budget ran out");
  t.ok((await readdir(s.spool)).includes(f!.name), "the segment is in the spool");
  await unchanged(t, path, f!.sha256);
});

t.test("spool mode links and exits at once; the agent uploads", async (t) => {
  const s = await setup(t, { CASSANDRA_PITR_HOOK_MODE: "spool" });
  const fixtures = await segmentFixtures("v7");
  for (const f of fixtures) {
    const path = await place(s, f);
    const ran = await runNode(ARCHIVE_HOOK, [path, f.name], s.env);
    t.equal(ran.exitCode, 0, `${f.name}: exit 0`);
    t.same(ran.lines, [], "silent");
  }
  t.equal((await segmentObjects(s.archiveDir)).length, 0, "nothing uploaded by the hook itself");
  const drained = await runNode(CLI, ["agent", "--once"], s.env);
  t.equal(drained.exitCode, 0, "agent drains");
  t.equal((await segmentObjects(s.archiveDir)).length, fixtures.length, "every spooled segment uploaded");
});

t.test(
  "restore hook: stubs and staged files reproduce the exact bytes atomically; mismatches refuse",
  async (t) => {
    const s = await setup(t);
    const fixtures = [...(await segmentFixtures("v7")), ...(await segmentFixtures("lz4"))];
    for (const f of fixtures) {
      const path = await place(s, f);
      t.equal((await runNode(ARCHIVE_HOOK, [path, f.name], s.env)).exitCode, 0);
    }
    const restoreDir = join(s.root, "restore");
    const target = join(s.root, "target-commitlog");
    await mkdir(restoreDir);
    await mkdir(target);
    const keys = (await segmentObjects(s.archiveDir)).map((p) => p.slice(s.archiveDir.length + 1));
    for (const key of keys) {
      const made = await runNode(CLI, ["stub", key, restoreDir], s.env);
      t.equal(made.exitCode, 0, `stub for ${key}`);
    }
    for (const f of fixtures) {
      const stub = join(restoreDir, f.name);
      t.ok((await stat(stub)).size < 2048, `${f.name}: the stub is small`);
      t.equal(
        (await readFile(stub)).readInt32BE(0),
        Number(/CommitLog-(\d+)-/.exec(f.name)![1]),
        "the stub starts with the segment's header",
      );
      const to = join(target, f.name);
      const ran = await runNode(RESTORE_HOOK, [stub, to], s.env);
      t.equal(ran.exitCode, 0, `${f.name}: restore exit 0`);
      t.same(ran.lines, [], "silent");
      t.equal(sha256(await readFile(to)), f.sha256, `${f.name}: restored bytes equal the original (sha256)`);
    }
    t.same(
      (await readdir(target)).filter((n) => n.includes(".tmp")),
      [],
      "no temporary files left",
    );

    // A staged whole segment is copied.
    const [v7] = await segmentFixtures("v7");
    const staged = join(s.root, "staged");
    await mkdir(staged);
    await copyFile(v7!.path, join(staged, v7!.name));
    const other = join(s.root, "other-commitlog");
    await mkdir(other);
    const copied = await runNode(RESTORE_HOOK, [join(staged, v7!.name), join(other, v7!.name)], s.env);
    t.equal(copied.exitCode, 0, "staged segment: exit 0");
    t.same(copied.lines, [], "silent");
    t.equal(sha256(await readFile(join(other, v7!.name))), v7!.sha256, "staged segment placed exactly");
    const [stagedStat, placedStat] = [await stat(join(staged, v7!.name)), await stat(join(other, v7!.name))];
    t.equal(placedStat.ino, stagedStat.ino, "same filesystem: placed with a hard link (no byte copied)");
    // The other staged segments of the restore directory are linked ahead (Cassandra then skips the
    // hook for targets that exist); a stub there is left for its own call.
    const ahead = join(s.root, "ahead");
    const aheadTarget = join(s.root, "ahead-commitlog");
    await mkdir(ahead);
    await mkdir(aheadTarget);
    const v7all = await segmentFixtures("v7");
    for (const f of v7all) await copyFile(f.path, join(ahead, f.name));
    const [lzStub] = await segmentFixtures("lz4");
    await copyFile(join(restoreDir, lzStub!.name), join(ahead, lzStub!.name));
    const first = await runNode(
      RESTORE_HOOK,
      [join(ahead, v7all[0]!.name), join(aheadTarget, v7all[0]!.name)],
      s.env,
    );
    t.equal(first.exitCode, 0, "first call: exit 0");
    t.same(
      (await readdir(aheadTarget)).sort(),
      v7all.map((f) => f.name).sort(),
      "one call placed every staged segment, and no stub",
    );
    for (const f of v7all)
      t.equal(sha256(await readFile(join(aheadTarget, f.name))), f.sha256, `${f.name}: placed exactly`);

    // Another filesystem (tmpfs): an in-kernel copy, exact, the staged file untouched.
    const shm = await mkdtemp(join("/dev/shm", "pitr-hook-"));
    t.teardown(() => rm(shm, { recursive: true, force: true }));
    const across = await runNode(RESTORE_HOOK, [join(staged, v7!.name), join(shm, v7!.name)], s.env);
    t.equal(across.exitCode, 0, "staged segment to another filesystem: exit 0");
    t.not((await stat(join(shm, v7!.name))).ino, stagedStat.ino, "another filesystem: a copy");
    t.equal(sha256(await readFile(join(shm, v7!.name))), v7!.sha256, "the copy is exact");
    t.same(
      (await readdir(shm)).filter((n) => n.includes(".tmp")),
      [],
      "no temporary file left by the copy",
    );

    // Tampered archive object: sha256 mismatch → non-zero, nothing at %to.
    const obj = (await segmentObjects(s.archiveDir)).find((p) =>
      p.includes(/-(\d+)\.log$/.exec(v7!.name)![1]!),
    )!;
    const { compress } = await import("zstd-napi");
    const tampered = Buffer.from(decompress(await readFile(obj)));
    tampered[300_000] = tampered[300_000]! ^ 0xff;
    await writeFile(obj, compress(tampered));
    const to = join(s.root, "tampered", v7!.name);
    await mkdir(join(s.root, "tampered"));
    const refused = await runNode(RESTORE_HOOK, [join(restoreDir, v7!.name), to], s.env);
    t.equal(refused.exitCode, 15, "checksum mismatch: exit 15 (Cassandra then refuses to start)");
    quiet(t, refused);
    t.match(refused.lines[0] ?? "", /sha256/, "names the mismatch");
    t.same(await readdir(join(s.root, "tampered")), [], "nothing written at %to");

    // Header/name disagreement: the target name's id differs from the segment's header.
    const wrongName = v7!.name.replace(/(\d+)\.log$/, (_m, id: string) => `${BigInt(id) + 5n}.log`);
    const mismatch = await runNode(RESTORE_HOOK, [join(staged, v7!.name), join(other, wrongName)], s.env);
    t.equal(mismatch.exitCode, 15, "header/name mismatch: exit 15");
    t.match(mismatch.lines[0] ?? "", /header says/, "says why");

    const missing = await runNode(
      RESTORE_HOOK,
      [join(restoreDir, "CommitLog-7-9.log"), join(other, "CommitLog-7-9.log")],
      s.env,
    );
    t.equal(missing.exitCode, 14, "missing %from: exit 14");

    // A stub whose object was removed from the archive.
    const [lz] = await segmentFixtures("lz4");
    const lzObj = (await segmentObjects(s.archiveDir)).find((p) =>
      p.includes(/-(\d+)\.log$/.exec(lz!.name)![1]!),
    )!;
    await rm(lzObj);
    const gone = await runNode(RESTORE_HOOK, [join(restoreDir, lz!.name), join(other, lz!.name)], s.env);
    t.equal(gone.exitCode, 14, "archived object missing: exit 14");
    t.match(gone.lines[0] ?? "", /not found/, "says the object is not found");
  },
);

t.test(
  "a FIFO at %path is refused at once, in upload and spool mode: the hook exits and links nothing",
  async (t) => {
    const s = await setup(t);
    const name = "CommitLog-7-4242.log";
    const fifo = join(s.commitlog, name);
    t.equal((await execa("mkfifo", [fifo], { reject: false })).exitCode, 0, "mkfifo");
    for (const mode of ["upload", "spool"]) {
      // No writer ever opens the FIFO: a hook that opened it for reading would block until runNode's timeout.
      const ran = await runNode(ARCHIVE_HOOK, [fifo, name], { ...s.env, CASSANDRA_PITR_HOOK_MODE: mode });
      t.equal(ran.exitCode, 15, `${mode} mode: exit 15 (the process ended by itself)`);
      quiet(t, ran);
      t.match(
        ran.lines[0] ?? "",
        /CommitLog-7-4242\.log' is a FIFO, not a segment file/,
        `${mode} mode: says what it is`,
      );
    }
    t.same(await readdir(s.spool).catch(() => []), [], "nothing linked into the spool");
    t.equal((await segmentObjects(s.archiveDir)).length, 0, "nothing stored");
    t.ok((await stat(fifo)).isFIFO(), "the FIFO is left where it was");
  },
);

t.test("a cluster name starting with '.' archives like any other (encoded as +2e)", async (t) => {
  const s = await setup(t, { CASSANDRA_PITR_CLUSTER: ".prod" });
  const [f] = await segmentFixtures("v7");
  const ran = await runNode(ARCHIVE_HOOK, [await place(s, f!), f!.name], s.env);
  t.equal(ran.exitCode, 0, "exit 0");
  t.same(ran.lines, [], "silent");
  const [obj] = await segmentObjects(s.archiveDir);
  t.match(obj ?? "", new RegExp(`/\\+2eprod/${NODE_ID}/segments/`), "stored under +2eprod/<host id>/");
  const listed = await runNode(
    CLI,
    ["segments", "--since", "2026-11-01T00:00:00Z", "--until", "2026-12-01T00:00:00Z", "--json"],
    s.env,
  );
  t.equal(listed.exitCode, 0, "the CLI lists the node of cluster '.prod'");
  t.match(listed.stdout, f!.name.replace(/\.log$/, ""), "and finds the segment");
});

t.test("file:// archive objects are 0600 and the folders the hook creates 0700", async (t) => {
  const s = await setup(t);
  const [f] = await segmentFixtures("v7");
  t.equal((await runNode(ARCHIVE_HOOK, [await place(s, f!), f!.name], s.env)).exitCode, 0);
  const files = await listFiles(s.archiveDir);
  t.ok(files.length >= 2, "the object and its metadata sidecar");
  for (const file of files)
    t.equal((await stat(file)).mode & 0o777, 0o600, `${file.slice(s.archiveDir.length)}: 0600`);
  let dir = join(files[0]!, "..");
  while (dir !== s.archiveDir) {
    t.equal((await stat(dir)).mode & 0o777, 0o700, `${dir.slice(s.archiveDir.length)}/: 0700`);
    dir = join(dir, "..");
  }
});

/** A 48 MiB segment (a real header and data, then incompressible bytes) whose upload takes a while. */
async function bigSegment(s: Setup): Promise<{ path: string; name: string; sha: string }> {
  const [f] = await segmentFixtures("v7");
  const bytes = Buffer.concat([
    await readFile(f!.path),
    (await import("node:crypto")).randomBytes(47 * 1024 * 1024),
  ]);
  const path = join(s.commitlog, f!.name);
  await writeFile(path, bytes);
  return { path, name: f!.name, sha: sha256(bytes) };
}

/** Starts the hook and sends `signal` once its data temp file exists in the archive and holds `minBytes`. */
async function killMidUpload(
  s: Setup,
  seg: { path: string; name: string },
  signal: "SIGKILL" | "SIGTERM",
  minBytes: number,
) {
  const child = execa(process.execPath, [ARCHIVE_HOOK, seg.path, seg.name], {
    env: s.env,
    extendEnv: false,
    reject: false,
  });
  let seen: string | undefined;
  for (let i = 0; i < 5000 && child.exitCode === null && !seen; i++) {
    const temps = (await listFiles(s.archiveDir)).filter(
      (p) => p.endsWith(".tmp") && !p.endsWith(".meta.tmp"),
    );
    for (const p of temps) if (((await stat(p).catch(() => undefined))?.size ?? 0) >= minBytes) seen = p;
    if (!seen) await new Promise((r) => setTimeout(r, 2));
  }
  child.kill(signal);
  return { ran: await child, temp: seen };
}

t.test(
  "a hook killed (SIGKILL) mid-upload: the next run archives the segment and sweeps the temporary file",
  async (t) => {
    const s = await setup(t, { CASSANDRA_PITR_COMPRESSION_THREADS: "0" });
    const seg = await bigSegment(s);
    for (const minBytes of [1, 4 * 1024 * 1024]) {
      await rm(s.archiveDir, { recursive: true, force: true });
      await mkdir(s.archiveDir);
      const { temp } = await killMidUpload(s, seg, "SIGKILL", minBytes);
      t.ok(temp, `killed while its temporary file held at least ${minBytes} bytes`);
      t.ok(
        (await listFiles(s.archiveDir)).some((p) => p.endsWith(".tmp")),
        "the killed hook left a temporary file",
      );
      const next = await runNode(ARCHIVE_HOOK, [seg.path, seg.name], s.env);
      t.equal(next.exitCode, 0, "the next run exits 0");
      t.notMatch(next.stderr, /spooled|not found/, "archived, neither spooled nor 'object not found'");
      const objects = await segmentObjects(s.archiveDir);
      t.equal(objects.length, 1, "one object");
      t.equal(sha256(decompress(await readFile(objects[0]!))), seg.sha, "holding the segment's bytes");
      t.same(
        (await listFiles(s.archiveDir)).filter((p) => p.endsWith(".tmp")),
        [],
        "no temporary file left",
      );
      await unchanged(t, seg.path, seg.sha);
    }
  },
);

t.test("a hook stopped with SIGTERM mid-upload removes its temporary file and exits 143", async (t) => {
  const s = await setup(t, { CASSANDRA_PITR_COMPRESSION_THREADS: "0" });
  const seg = await bigSegment(s);
  const { ran, temp } = await killMidUpload(s, seg, "SIGTERM", 1);
  t.ok(temp, "stopped while uploading");
  t.equal(ran.exitCode, 143, "exit 143");
  t.match(String(ran.stderr), /stopped by SIGTERM/, "says so");
  t.ok(String(ran.stderr).split("\n").filter(Boolean).length <= 2, "in at most two lines");
  t.same(
    (await listFiles(s.archiveDir)).filter((p) => p.endsWith(".tmp")),
    [],
    "no temporary file left behind",
  );
  t.equal((await segmentObjects(s.archiveDir)).length, 0, "and nothing reported as archived");
  await unchanged(t, seg.path, seg.sha);
});

t.test("a claim left by a writer killed between its two links is taken over by the next run", async (t) => {
  const s = await setup(t);
  const [f] = await segmentFixtures("v7");
  const path = await place(s, f!);
  // Archive once to learn the key and the exact sidecar and body a writer would have left.
  t.equal((await runNode(ARCHIVE_HOOK, [path, f!.name], s.env)).exitCode, 0);
  const [obj] = await segmentObjects(s.archiveDir);
  const dir = join(obj!, "..");
  const base = obj!.split("/").pop()!;
  const body = await readFile(obj!);
  const sidecar = JSON.parse(await readFile(join(dir, `.${base}.meta`), "utf8")) as Record<string, unknown>;
  const exited = execa(process.execPath, ["-e", "0"]);
  await exited;
  const deadPid = exited.pid!; // a pid that has exited
  const host =
    (await import("node:os"))
      .hostname()
      .replace(/[^A-Za-z0-9]/g, "")
      .slice(0, 32) || "host";
  const owner = `${host}-${deadPid}-0123456789ab`;

  // 1. The writer died after claiming, its complete temp still there: the next run finishes its object.
  await rm(obj!);
  await writeFile(join(dir, `.${base}.meta`), JSON.stringify({ ...sidecar, owner }));
  await writeFile(join(dir, `.${base}.${owner}.tmp`), body);
  const finished = await runNode(ARCHIVE_HOOK, [path, f!.name], s.env);
  t.equal(finished.exitCode, 0, "claim with the owner's temp: exit 0");
  t.same(finished.lines, [], "silent: the object was completed, same sha256");
  t.equal(sha256(decompress(await readFile(obj!))), f!.sha256, "the object holds the segment");
  t.same(
    (await readdir(dir)).filter((n) => n.endsWith(".tmp")),
    [],
    "the owner's temp is gone",
  );

  // 2. The writer died after claiming and its temp is gone too: the claim is removed and taken.
  await rm(obj!);
  await writeFile(join(dir, `.${base}.meta`), JSON.stringify({ ...sidecar, owner }));
  const taken = await runNode(ARCHIVE_HOOK, [path, f!.name], s.env);
  t.equal(taken.exitCode, 0, "dead claim without data: exit 0 (before: exit 14 'object not found')");
  t.same(taken.lines, [], "silent");
  t.equal(sha256(decompress(await readFile(obj!))), f!.sha256, "archived again");
  const meta = JSON.parse(await readFile(join(dir, `.${base}.meta`), "utf8")) as {
    owner?: string;
    metadata: Record<string, string>;
  };
  t.not(meta.owner, owner, "the claim is the new writer's");

  // 3. A live claim (this test's own pid) without data: the hook spools rather than losing the segment.
  await rm(obj!);
  await writeFile(
    join(dir, `.${base}.meta`),
    JSON.stringify({ ...sidecar, owner: `${host}-${process.pid}-0123456789ab` }),
  );
  const busy = await runNode(ARCHIVE_HOOK, [path, f!.name], s.env);
  t.equal(busy.exitCode, 0, "claim held by a live writer: exit 0");
  t.match(
    busy.stderr,
    /spooled for the agent \(.*another upload of .* is in progress\)/,
    "spooled, and says why",
  );
  t.ok((await readdir(s.spool)).includes(f!.name), "the segment is in the spool");

  // 4. Temps of a dead writer are swept by the next put of the same key.
  await rm(join(dir, `.${base}.meta`));
  await rm(s.spool, { recursive: true });
  await writeFile(join(dir, `.${base}.${owner}.tmp`), "partial");
  await writeFile(join(dir, `.${base}.${owner}.meta.tmp`), "{");
  t.equal((await runNode(ARCHIVE_HOOK, [path, f!.name], s.env)).exitCode, 0, "the next run archives");
  t.same(
    (await readdir(dir)).filter((n) => n.endsWith(".tmp")),
    [],
    "and sweeps the dead writer's temps",
  );
});

/** Archives the v7 fixtures and writes their stubs: what a restore directory holds. */
async function archivedWithStubs(
  t: Test,
  s: Setup,
): Promise<{ f: SegmentFixture; stub: string; obj: string; restoreDir: string }> {
  const [f] = await segmentFixtures("v7");
  t.equal((await runNode(ARCHIVE_HOOK, [await place(s, f!), f!.name], s.env)).exitCode, 0, "archived");
  const [obj] = await segmentObjects(s.archiveDir);
  const restoreDir = join(s.root, "restore");
  await mkdir(restoreDir);
  t.equal(
    (await runNode(CLI, ["stub", obj!.slice(s.archiveDir.length + 1), restoreDir], s.env)).exitCode,
    0,
    "stub written",
  );
  return { f: f!, stub: join(restoreDir, f!.name), obj: obj!, restoreDir };
}

t.test(
  "restore hook bad input: one clear line, a documented exit code, %to never replaced, nothing left behind",
  async (t) => {
    const s = await setup(t);
    const { f, stub, obj, restoreDir } = await archivedWithStubs(t, s);
    const target = join(s.root, "target");
    await mkdir(target);
    const to = join(target, f.name);
    await writeFile(to, "written by someone else");
    await mkdir(join(target, "CommitLog-7-31.log"));
    const fifo = join(restoreDir, "CommitLog-7-32.log");
    t.equal((await execa("mkfifo", [fifo], { reject: false })).exitCode, 0, "mkfifo");
    const cases: {
      title: string;
      args: string[];
      env?: Record<string, string>;
      exit: number;
      line: RegExp;
    }[] = [
      {
        title: "%to exists",
        args: [stub, to],
        exit: 13,
        line: /target '.*' already exists \(a file of 23 bytes\); refused, nothing replaced/,
      },
      {
        title: "%to is a directory",
        args: [stub, join(target, "CommitLog-7-31.log")],
        exit: 13,
        line: /already exists \(a directory\)/,
      },
      {
        title: "%to in a missing directory",
        args: [stub, join(s.root, "nowhere", f.name)],
        exit: 14,
        line: /directory '.*nowhere' does not exist/,
      },
      {
        title: "%to below a regular file",
        args: [stub, join(to, f.name)],
        exit: 14,
        line: /cannot write '.*': .*is not a directory|parent of it is a file/,
      },
      {
        title: "missing %from",
        args: [join(restoreDir, "CommitLog-7-33.log"), join(target, "CommitLog-7-33.log")],
        exit: 14,
        line: /segment '.*CommitLog-7-33\.log' does not exist/,
      },
      {
        title: "a FIFO as %from",
        args: [fifo, join(target, "CommitLog-7-32.log")],
        exit: 15,
        line: /CommitLog-7-32\.log' is a FIFO, not a segment file/,
      },
      {
        title: "a directory as %from",
        args: [target, join(target, "CommitLog-7-34.log")],
        exit: 15,
        line: /is a directory, not a segment file/,
      },
      {
        title: "restoreTimeout beyond a timer",
        args: [stub, join(target, "CommitLog-7-35.log")],
        env: { CASSANDRA_PITR_RESTORE_TIMEOUT: "30d" },
        exit: 2,
        line: /CASSANDRA_PITR_RESTORE_TIMEOUT: '30d' is longer than the 24d/,
      },
    ];
    for (const c of cases) {
      const ran = await runNode(RESTORE_HOOK, c.args, { ...s.env, ...(c.env ?? {}) });
      t.equal(ran.exitCode, c.exit, `${c.title}: exit ${c.exit}`);
      quiet(t, ran);
      t.match(ran.lines[0] ?? "", c.line, `${c.title}: says what is wrong`);
    }
    const missing = await runNode(
      RESTORE_HOOK,
      [join(restoreDir, "CommitLog-7-33.log"), join(target, "CommitLog-7-33.log")],
      s.env,
    );
    t.match(
      missing.stderr,
      /hint: restore_command must be .*restore_directories/,
      "a missing %from: the hint is about the restore, not archive_command",
    );
    t.notMatch(missing.stderr, /archive_command/, "and never mentions archive_command");
    t.equal(await readFile(to, "utf8"), "written by someone else", "the existing %to is untouched");

    // Damaged archived objects: truncated, and not zstd at all (docs/exit-codes.md: 15).
    const good = await readFile(obj);
    for (const [what, body] of [
      ["truncated", good.subarray(0, 1000)],
      ["not zstd", Buffer.from("hello, not a zstd frame\n")],
    ] as const) {
      await writeFile(obj, body);
      const fresh = join(target, `fresh-${what.replace(" ", "-")}`);
      await mkdir(fresh);
      const ran = await runNode(RESTORE_HOOK, [stub, join(fresh, f.name)], s.env);
      t.equal(ran.exitCode, 15, `${what} archived object: exit 15`);
      quiet(t, ran);
      t.match(
        ran.lines[0] ?? "",
        /archived segment '.*': does not decompress/,
        `${what}: says the archived copy is damaged`,
      );
      t.same(await readdir(fresh), [], `${what}: nothing written, no temporary file`);
    }
    await writeFile(obj, good);
    t.same(
      (await readdir(target)).filter((n) => n.includes(".tmp")),
      [],
      "no temporary files anywhere in the target",
    );
  },
);

t.test(
  "the restore hook is bounded in time: a storage endpoint that never answers ends at restoreTimeout",
  async (t) => {
    const { createServer } = await import("node:net");
    const sockets: import("node:net").Socket[] = [];
    const server = createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.teardown(() => {
      for (const sock of sockets) sock.destroy();
      server.close();
    });
    const port = (server.address() as import("node:net").AddressInfo).port;
    const s = await setup(t);
    const { f, stub } = await archivedWithStubs(t, s);
    // The same stub, pointing at an S3 archive behind the hung endpoint.
    const text = (await readFile(stub))
      .toString("latin1")
      .replace(/"archive":"[^"]*"/, '"archive":"s3://hung-bucket/prefix"');
    await writeFile(stub, Buffer.from(text, "latin1"));
    const target = join(s.root, "target");
    await mkdir(target);
    const env = {
      ...s.env,
      CASSANDRA_PITR_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "y",
      CASSANDRA_PITR_RESTORE_TIMEOUT: "1500ms",
    };
    const ran = await runNode(RESTORE_HOOK, [stub, join(target, f.name)], env);
    t.equal(ran.exitCode, 16, "exit 16 (storage unavailable) instead of waiting forever");
    quiet(t, ran);
    t.match(
      ran.lines[0] ?? "",
      /ran out of its time budget of 1500 ms; nothing written at %to/,
      "says the budget ran out",
    );
    t.same(await readdir(target), [], "nothing at %to, no temporary file");
  },
);

t.test(
  "CLI bad input: stub and report into missing directories, an existing stub, a garbage segment size",
  async (t) => {
    const s = await setup(t);
    const { obj, restoreDir } = await archivedWithStubs(t, s);
    const key = obj.slice(s.archiveDir.length + 1);
    const cases: { title: string; args: string[]; exit: number; line: RegExp }[] = [
      {
        title: "stub into a missing directory",
        args: ["stub", key, join(s.root, "missing", "dir")],
        exit: 14,
        line: /cannot write '.*': directory '.*missing\/dir' does not exist/,
      },
      {
        title: "stub over an existing stub",
        args: ["stub", key, restoreDir],
        exit: 13,
        line: /already exists; refused, nothing replaced/,
      },
      {
        title: "report --out into a missing directory",
        args: [
          "report",
          "--since",
          "2026-11-20T00:00:00Z",
          "--until",
          "2026-11-22T00:00:00Z",
          "--out",
          join(s.root, "missing", "x"),
        ],
        exit: 14,
        line: /cannot write '.*missing\/x': directory '.*missing' does not exist/,
      },
      {
        title: "check --segment-size garbage",
        args: ["check", "--segment-size", "garbage"],
        exit: 2,
        line: /--segment-size 'garbage' is not a commit log segment size/,
      },
    ];
    for (const c of cases) {
      const ran = await runNode(CLI, c.args, s.env);
      t.equal(ran.exitCode, c.exit, `${c.title}: exit ${c.exit}`);
      t.ok(ran.stderr.split("\n").filter(Boolean).length <= 2, `${c.title}: at most two lines`);
      t.match(ran.stderr.split("\n")[0] ?? "", c.line, `${c.title}: says what is wrong`);
    }
  },
);

t.test(
  "an unreadable %path: exit 12 in both modes, nothing spooled (the agent could not read it either)",
  async (t) => {
    // Run as 'nobody' so that file permissions apply (root reads everything).
    const root = await tempDir("unreadable");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    await (await import("node:fs/promises")).chmod(root, 0o755);
    const commitlog = join(root, "commitlog");
    const spool = join(root, "spool");
    await mkdir(commitlog, { mode: 0o755 });
    await mkdir(spool, { mode: 0o777 });
    await (await import("node:fs/promises")).chmod(spool, 0o777);
    const [f] = await segmentFixtures("v7");
    const path = join(commitlog, f!.name);
    await copyFile(f!.path, path);
    await (await import("node:fs/promises")).chmod(path, 0o600);
    const env = {
      PATH: process.env["PATH"],
      CASSANDRA_PITR_ARCHIVE: `file://${join(root, "archive")}`,
      CASSANDRA_PITR_CLUSTER: "c1",
      CASSANDRA_PITR_NODE: NODE_ID,
      CASSANDRA_PITR_SPOOL_DIR: spool,
    };
    for (const mode of ["upload", "spool"]) {
      // tap adds its process-info hook to every child's NODE_OPTIONS; 'nobody' may not write its files.
      const r = await execa(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "env",
          "-u",
          "NODE_OPTIONS",
          process.execPath,
          ARCHIVE_HOOK,
          path,
          f!.name,
        ],
        {
          env: { ...env, CASSANDRA_PITR_HOOK_MODE: mode },
          extendEnv: false,
          reject: false,
          timeout: 120_000,
        },
      );
      t.equal(r.exitCode, 12, `${mode} mode: exit 12 (access denied)`);
      const lines = String(r.stderr).split("\n").filter(Boolean);
      t.ok(lines.length <= 2, "at most two lines");
      t.match(
        lines[0] ?? "",
        /cannot read segment '.*CommitLog-7-\d+\.log': permission denied/,
        `${mode} mode: says which file and why`,
      );
      t.match(lines[1] ?? "", /Cassandra user/, "hints at the user the hooks run as");
    }
    t.same(await readdir(spool), [], "nothing spooled");
  },
);
