/**
 * Partial segments under bad input (issue 14): `rescue` refusals, segments deleted or recycled
 * between two reads, a section being written while it is read, storage down while partials
 * accumulate, `verify` of partial objects, and the restore hook fetching a partial segment through a
 * stub. Segments are real (fixtures written by Cassandra 5.0.9); the CLI and hooks are the compiled
 * executables, run as Cassandra or an operator would.
 */
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { getEventListeners } from "node:events";
import { chmod, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { classifySegment, bytesReader, type SegmentReader } from "../../src/commitlog/classify.js";
import { parseSegmentHeader } from "../../src/commitlog/segment-header.js";
import { segmentIdKey } from "../../src/format/layout.js";
import { parsePartialKey, partialSegmentPrefix } from "../../src/format/partial-layout.js";
import { newPartialState, syncedSections, uploadPartials } from "../../src/pipeline/partial.js";
import { runAgent, sleep } from "../../src/pipeline/agent.js";
import { assemblePartialSegment } from "../../src/replay/partial-segment.js";
import { TransientStorageError } from "../../src/storage/errors.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { verifyNode } from "../../src/verify/verify.js";
import { segmentFixtures } from "../helpers/fixtures.js";
import { CLI, RESTORE_HOOK, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";

const identity = { cluster: "partial-faults", node: "22222222-3333-4444-5555-666666666666" };
const T0 = Date.parse("2026-11-27T10:00:00Z");

/** A v7 (memory-mapped) segment as a writer mid-section leaves it: its full size, zeros after `cut`. */
function cutAt(full: Buffer, cut: number): Buffer {
  const out = Buffer.alloc(full.length);
  full.copy(out, 0, 0, cut);
  return out;
}

async function v7(): Promise<{ name: string; full: Buffer; synced: number }> {
  const [fixture] = await segmentFixtures("v7");
  const full = await readFile(fixture!.path);
  return { name: fixture!.name, full, synced: classifySegment(fixture!.name, full).lastValidOffset };
}

async function keysUnder(backend: Backend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of backend.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/** A node host: a commit log directory and a file:// archive, and the CLI's environment for them. */
/** The agent's partial passes over `commitlog`, on a clock the test moves one agent interval at a time. */
function agentPasses(backend: Backend, commitlog: string) {
  let clock = T0;
  const options = { backend, identity, commitlogDir: commitlog, source: "agent" as const, now: () => clock };
  return { options, state: newPartialState(), tick: () => void (clock += 10_000) };
}

async function host(t: Test) {
  const root = await tempDir("partial-faults");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const commitlog = join(root, "commitlog");
  const archive = join(root, "archive");
  await mkdir(commitlog, { recursive: true });
  await mkdir(archive, { recursive: true });
  await writeFile(join(root, "config.yaml"), `cluster: ${identity.cluster}\n`);
  const env = (extra: Record<string, string> = {}) =>
    cleanEnv({
      CASSANDRA_PITR_CONFIG: join(root, "config.yaml"),
      CASSANDRA_PITR_ARCHIVE: `file://${archive}`,
      CASSANDRA_PITR_CLUSTER: identity.cluster,
      CASSANDRA_PITR_NODE: identity.node,
      CASSANDRA_PITR_COMMITLOG_DIR: commitlog,
      ...extra,
    });
  return { root, commitlog, archive, env };
}

/** Files under a directory, recursively (what "nothing changed in the archive" compares). */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** Runs the CLI as an unprivileged user: permission refusals are only seen by someone the kernel checks. */
function asNobody(args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? [
        "/usr/bin/setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, CLI, ...args],
      ]
    : [process.execPath, [CLI, ...args]];
}

async function run(
  cmd: [string, string[]],
  env: NodeJS.ProcessEnv,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd[1], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
  });
}

t.test(
  "rescue refuses what it cannot do, with one line, a documented status and nothing uploaded",
  async (t) => {
    const h = await host(t);
    const seg = await v7();

    const missing = await runNode(
      CLI,
      ["rescue"],
      h.env({ CASSANDRA_PITR_COMMITLOG_DIR: join(h.root, "nowhere") }),
    );
    t.equal(missing.exitCode, 14, "a missing commit log directory: 14 (not found)");
    t.match(missing.stderr, /commit log directory '.*nowhere' does not exist/);
    t.match(missing.stderr, /hint: set commitlogDir/);

    await writeFile(join(h.root, "a-file"), "x");
    const notDir = await runNode(
      CLI,
      ["rescue"],
      h.env({ CASSANDRA_PITR_COMMITLOG_DIR: join(h.root, "a-file") }),
    );
    t.equal(notDir.exitCode, 2, "a file where the directory should be: 2 (configuration)");
    t.match(notDir.stderr, /is not a directory/);

    const empty = await runNode(CLI, ["rescue"], h.env());
    t.equal(empty.exitCode, 14, "no segment at all: 14");
    t.match(empty.stderr, /nothing to rescue: no commit log segment in/);

    // Unreadable by the user running rescue (the kernel decides, so it runs as nobody).
    const locked = join(h.root, "locked");
    await mkdir(locked, { mode: 0o700 });
    await writeFile(join(locked, seg.name), seg.full);
    await chmod(h.root, 0o755);
    await chmod(h.archive, 0o777);
    const denied = await run(asNobody(["rescue"]), h.env({ CASSANDRA_PITR_COMMITLOG_DIR: locked }));
    t.equal(denied.exitCode, 12, "a directory rescue may not list: 12 (access denied)");
    t.match(denied.stderr, /cannot list commit log directory '.*locked': permission denied/);

    // A segment it may not read stops the rescue before any later segment: the later one's claim
    // would vouch for writes the unread one holds.
    const mixed = join(h.root, "mixed");
    await mkdir(mixed, { mode: 0o755 });
    const [older, newer] = await segmentFixtures("v7");
    await writeFile(join(mixed, older!.name), await readFile(older!.path), { mode: 0o600 });
    await writeFile(join(mixed, newer!.name), await readFile(newer!.path), { mode: 0o644 });
    const unreadable = await run(asNobody(["rescue"]), h.env({ CASSANDRA_PITR_COMMITLOG_DIR: mixed }));
    t.equal(unreadable.exitCode, 12, "an unreadable segment: 12");
    t.match(unreadable.stderr, new RegExp(`cannot read segment '.*${older!.name}': permission denied`));
    t.same(await filesUnder(h.archive), [], "nothing uploaded, not even the readable later segment");

    // A process holding a segment open: the node runs.
    await writeFile(join(h.commitlog, seg.name), seg.full);
    const holder = spawn("sh", ["-c", 'exec 3<"$0"; echo held; sleep 60', join(h.commitlog, seg.name)], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    t.teardown(() => void holder.kill("SIGKILL"));
    await new Promise((r) => holder.stdout.once("data", r));
    const running = await runNode(CLI, ["rescue"], h.env());
    t.equal(running.exitCode, 18, "a node that runs: 18 (node in the wrong state)");
    t.match(
      running.stderr,
      new RegExp(`process (\\d+, )*${holder.pid}(, \\d+)* holds commit log segments open`),
    );
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("close", r));
    t.same(await filesUnder(h.archive), [], "nothing uploaded by any refusal");

    const rescued = await runNode(CLI, ["rescue"], h.env());
    t.equal(rescued.exitCode, 0, "the node down: the tail goes up");
    t.match(rescued.stdout, /rescued 1 partial object/);
    const backend = await openBackend(`file://${h.archive}`);
    t.teardown(() => backend.close());
    await backend.put(
      segmentIdKey(identity, parseSegmentHeader(seg.full, seg.name).id, 7),
      new Uint8Array(0),
    );
    const again = await runNode(CLI, ["rescue"], h.env());
    t.equal(again.exitCode, 0, "every segment archived whole: nothing to do is a success");
    t.match(again.stdout, /nothing to rescue: every segment in '.*' is archived whole/);
  },
);

t.test("segments deleted or recycled between two reads", async (t) => {
  const h = await host(t);
  const seg = await v7();
  const backend = await openBackend(`mem://partial-faults-gone-${process.pid}`);
  const { options, state, tick } = agentPasses(backend, h.commitlog);

  // Listed, then gone before it is opened: a dangling name is what the open then meets.
  await symlink(join(h.root, "deleted-meanwhile"), join(h.commitlog, seg.name));
  t.same(
    (await uploadPartials(options, state)).uploads,
    [],
    "a segment gone between listing and open: skipped, no error",
  );
  await rm(join(h.commitlog, seg.name));

  await writeFile(join(h.commitlog, seg.name), cutAt(seg.full, seg.synced >> 1));
  t.equal((await uploadPartials(options, state)).uploads.length, 1, "first part uploaded");
  await rm(join(h.commitlog, seg.name));
  tick();
  t.same((await uploadPartials(options, state)).uploads, [], "deleted between two passes: nothing, no error");
  t.equal(state.segments.size, 0, "and forgotten");

  // Recycled (Cassandra before 3.0 renamed an old segment to a new id and rewrote it in place): the
  // new name over the old id's bytes verifies nothing until Cassandra rewrites the header.
  const recycledName = seg.name.replace(/-(\d+)\.log$/, (_m, id: string) => `-${BigInt(id) + 100n}.log`);
  await writeFile(join(h.commitlog, recycledName), seg.full);
  t.same(
    (await uploadPartials(options, newPartialState())).uploads,
    [],
    "a recycled file whose header names another id: nothing uploaded",
  );
  t.same(
    await keysUnder(
      backend,
      partialSegmentPrefix(identity, BigInt(/-(\d+)\.log$/.exec(recycledName)![1]!), 7),
    ),
    [],
    "no object for it",
  );
});

/** A reader over a file Cassandra writes while the walk reads it: `before` until a read reaches `at`, `after` from then on. */
function racingReader(
  before: Buffer,
  after: Buffer,
  switchAfterReads: number,
): SegmentReader & { reads: number } {
  const r = {
    reads: 0,
    length: before.length,
    read(offset: number, length: number) {
      const source = r.reads++ < switchAfterReads ? before : after;
      return Uint8Array.from(source.subarray(offset, offset + length)); // a copy, as a file read returns
    },
  };
  return r;
}

t.test("a section being written while it is read: only bytes whose CRCs checked are uploaded", async (t) => {
  const seg = await v7();
  const header = parseSegmentHeader(seg.full, seg.name);
  const from = { offset: header.headerLength, logical: header.headerLength };
  const whole = syncedSections(seg.name, bytesReader(seg.full), from, 0);
  t.equal(whole.bytes.length, seg.synced, "a quiet file: every synced section");

  // Cassandra has written the next section's marker but not all of its entries yet: the marker CRC
  // checks (it covers only the segment id and offsets), an entry CRC does not.
  const firstEnd = classifySegment(seg.name, cutAt(seg.full, seg.synced >> 1)).lastValidOffset;
  const torn = Buffer.from(seg.full);
  torn.fill(0, firstEnd + 8 + 20, seg.synced);
  const partial = syncedSections(seg.name, bytesReader(torn), from, 0);
  t.equal(partial.bytes.length, firstEnd, "the walk stops before the section being written");
  t.ok(partial.bytes.equals(seg.full.subarray(0, firstEnd)), "and uploads what Cassandra had synced");

  // The writer changes the file after the walk read it (a recycler overwriting it, a bug, a disk):
  // the bytes uploaded are those the walk verified, not a second read.
  const scribbled = Buffer.alloc(seg.full.length, 0x5a);
  for (const reads of [1, 2, 3, 5, 8, 13, 21, 34]) {
    const reader = racingReader(seg.full, scribbled, reads);
    const got = syncedSections(seg.name, reader, from, 0);
    t.equal(
      classifySegment(seg.name, got.bytes).lastValidOffset,
      got.bytes.length,
      `file changed after read ${reads}: the ${got.bytes.length} bytes uploaded all verify`,
    );
    t.ok(
      got.bytes.equals(seg.full.subarray(0, got.bytes.length)),
      `and are the bytes Cassandra wrote (read ${reads})`,
    );
  }
  // The other way round: an unwritten section at first, written by the time of a later read.
  const reader = racingReader(cutAt(seg.full, firstEnd), seg.full, 4);
  const late = syncedSections(seg.name, reader, from, 0);
  t.ok(
    late.bytes.length <= seg.synced &&
      classifySegment(seg.name, late.bytes).lastValidOffset === late.bytes.length,
    "a section appearing mid-walk: whatever is uploaded verifies",
  );
});

/** A backend whose every call fails while `down` is set, as a storage outage does. */
function flaky(inner: Backend): { backend: Backend; setDown(v: boolean): void; attempts: () => number } {
  let down = false;
  let attempts = 0;
  const fail = () => {
    attempts++;
    throw new TransientStorageError("mem://outage", "connect ECONNREFUSED (test outage)");
  };
  const backend = Object.create(inner) as Backend;
  backend.put = async (...a) => (down ? fail() : inner.put(...a));
  backend.head = async (...a) => (down ? fail() : inner.head(...a));
  backend.list = (...a) => {
    if (!down) return inner.list(...a);
    return { [Symbol.asyncIterator]: () => ({ next: async () => fail() }) };
  };
  return { backend, setDown: (v) => void (down = v), attempts: () => attempts };
}

t.test(
  "storage down while partials accumulate: nothing buffered or written locally, nothing lost once it is back",
  async (t) => {
    const h = await host(t);
    const seg = await v7();
    const store = flaky(await openBackend(`mem://partial-faults-outage-${process.pid}`));
    const { options, state, tick } = agentPasses(store.backend, h.commitlog);
    const path = join(h.commitlog, seg.name);
    const cuts = [0.2, 0.4, 0.6, 0.8].map(
      (f) => classifySegment(seg.name, cutAt(seg.full, Math.floor(seg.synced * f))).lastValidOffset,
    );

    await writeFile(path, cutAt(seg.full, cuts[0]!));
    await uploadPartials(options, state);
    const uploadedEnd = state.segments.get(seg.name)!.end;
    t.equal(uploadedEnd, cuts[0], "before the outage: the first sections are up");

    store.setDown(true);
    const before = await filesUnder(h.root);
    for (const cut of cuts.slice(1)) {
      tick();
      await writeFile(path, cutAt(seg.full, cut));
      await t.rejects(
        uploadPartials(options, state),
        { code: "E_STORAGE_UNAVAILABLE" },
        `pass during the outage (file synced to ${cut}) fails`,
      );
      t.equal(state.segments.get(seg.name)!.end, uploadedEnd, "the progress stays where the archive is");
    }
    t.same(
      await filesUnder(h.root),
      before,
      "no local copy, spool or buffer file: the sections stay in the commit log only",
    );
    const held = JSON.stringify(
      [...state.segments.values()].map((p) => ({ ...p, hash: undefined })),
      (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v),
    );
    t.ok(
      held.length < 2_000,
      `what the uploader keeps between passes is a few fields per segment, not bytes (${held.length} characters)`,
    );

    // The agent's loop over the same outage: counted as failures, never as progress.
    const agentState = await runAgent(
      {
        ...options,
        spoolDir: join(h.root, "spool"),
        parallelism: 1,
        compressionLevel: 1,
        compressionThreads: 0,
        sweepMinAgeMs: 600_000,
        partialIntervalMs: 10_000,
      },
      { once: true, intervalMs: 10_000 },
    );
    t.ok(
      agentState.failures >= 1 && agentState.partials === 0,
      "the agent counts the failed partial pass and uploads nothing",
    );

    store.setDown(false);
    tick();
    await writeFile(path, seg.full);
    const back = await uploadPartials(options, state);
    t.equal(back.uploads.length, 1, "storage back: one object with everything synced meanwhile");
    t.same(
      [parsePartialKey(back.uploads[0]!.key)!.start, parsePartialKey(back.uploads[0]!.key)!.end],
      [uploadedEnd, seg.synced],
      "from where the archive ended to the last synced byte",
    );
    const folder = partialSegmentPrefix(identity, parseSegmentHeader(seg.full, seg.name).id, 7);
    t.ok(
      (await assemblePartialSegment(store.backend, folder, seg.name)).equals(
        seg.full.subarray(0, seg.synced),
      ),
      "nothing lost: the chain is the segment's synced bytes",
    );
  },
);

t.test(
  "a segment closed and archived whole during an outage is not uploaded again as partials",
  async (t) => {
    const h = await host(t);
    const seg = await v7();
    const store = flaky(await openBackend(`mem://partial-faults-closed-${process.pid}`));
    const { options, state, tick } = agentPasses(store.backend, h.commitlog);
    const path = join(h.commitlog, seg.name);
    await writeFile(path, cutAt(seg.full, seg.synced >> 2));
    await uploadPartials(options, state);
    store.setDown(true);
    tick();
    await writeFile(path, seg.full);
    await t.rejects(uploadPartials(options, state), { code: "E_STORAGE_UNAVAILABLE" });
    store.setDown(false);
    // Meanwhile the hook spooled the closed segment and the agent drained it: archived whole.
    const id = parseSegmentHeader(seg.full, seg.name).id;
    await store.backend.put(segmentIdKey(identity, id, 7), new Uint8Array(0));
    tick();
    t.same(
      (await uploadPartials(options, state)).uploads,
      [],
      "the catch-up of an archived segment is not uploaded",
    );
    t.equal(
      (await keysUnder(store.backend, partialSegmentPrefix(identity, id, 7))).length,
      1,
      "only the object from before the outage exists",
    );
  },
);

t.test("verify checks partial objects as a restore would", async (t) => {
  const h = await host(t);
  const seg = await v7();
  const backend = await openBackend(`mem://partial-faults-verify-${process.pid}`);
  const { options, state, tick } = agentPasses(backend, h.commitlog);
  const path = join(h.commitlog, seg.name);
  await writeFile(path, cutAt(seg.full, seg.synced >> 1));
  await uploadPartials(options, state);
  tick();
  await writeFile(path, seg.full);
  await uploadPartials(options, state);
  const folder = partialSegmentPrefix(identity, parseSegmentHeader(seg.full, seg.name).id, 7);
  const objects = await keysUnder(backend, folder);
  t.equal(objects.length, 2, "two partial objects");
  const opts = {
    fromMs: T0 - 86_400_000,
    toMs: T0 + 86_400_000,
    nowMs: T0 + 60_000,
    delayMs: 900_000,
    deep: false,
  };
  const good = await verifyNode(backend, identity, opts);
  t.equal(good.checks.find((c) => c.id === "checksums")?.status, "ok", "an intact chain verifies");
  t.ok(good.objects.hashed >= 1, "and was read");

  // Flip one byte of the second object, keeping its size and record: only the hash can tell.
  const meta = (await backend.head(objects[1]!)).metadata;
  const { buffer } = await import("node:stream/consumers");
  const bytes = await buffer(await backend.get(objects[1]!));
  bytes[bytes.length >> 1]! ^= 0x01;
  await backend.put(objects[1]!, bytes, { metadata: { ...meta } });
  const bad = await verifyNode(backend, identity, opts);
  const checksums = bad.checks.find((c) => c.id === "checksums")!;
  t.equal(checksums.status, "failure", "a damaged partial object fails the checksums check");
  t.match(bad.objects.mismatched.join("\n"), folder, "naming the partial segment");
  t.match(checksums.details, /partial segment object .* sha256 differs|partial segment/, "and saying why");

  // The first object lost: the catalog no longer sees the chain at all; verify still does.
  await backend.delete(objects[0]!);
  const lost = await verifyNode(backend, identity, { ...opts, deep: true });
  const lostCheck = lost.checks.find((c) => c.id === "checksums")!;
  t.equal(lostCheck.status, "failure", "a partial chain with its first object gone fails");
  t.match(
    lostCheck.details,
    new RegExp(
      `${folder}: no object starts at offset 0; 1 object\\(s\\) after a missing one cannot be assembled`,
    ),
    "naming the segment and the objects stranded",
  );
  await backend.put(segmentIdKey(identity, parseSegmentHeader(seg.full, seg.name).id, 7), new Uint8Array(0));
  const superseded = await verifyNode(backend, identity, { ...opts, deep: true });
  t.notMatch(
    superseded.checks.find((c) => c.id === "checksums")!.details,
    /no object starts at offset 0/,
    "once the segment is archived whole, leftover partials are no loss",
  );
});

t.test("the restore hook fetches a partial segment through a stub, assembled and verified", async (t) => {
  const h = await host(t);
  const seg = await v7();
  const backend = await openBackend(`file://${h.archive}`);
  t.teardown(() => backend.close());
  const { options, state, tick } = agentPasses(backend, h.commitlog);
  const path = join(h.commitlog, seg.name);
  await writeFile(path, cutAt(seg.full, seg.synced >> 1));
  await uploadPartials(options, state);
  tick();
  await writeFile(path, seg.full);
  await uploadPartials(options, state);
  const folder = partialSegmentPrefix(identity, parseSegmentHeader(seg.full, seg.name).id, 7);

  const stubs = join(h.root, "stubs");
  await mkdir(stubs);
  const stub = await runNode(CLI, ["stub", folder, stubs], h.env());
  t.equal(stub.exitCode, 0, `stub of a partial segment's key: ${stub.stderr}`);
  t.equal(stub.stdout.trim(), join(stubs, seg.name), "named as Cassandra names the segment");
  t.ok((await readFile(join(stubs, seg.name))).length < 4096, "a stub, not the segment");

  const target = join(h.root, "restored");
  await mkdir(target);
  const fetched = await runNode(RESTORE_HOOK, [join(stubs, seg.name), join(target, seg.name)], h.env());
  t.equal(fetched.exitCode, 0, `restore hook over the stub: ${fetched.stderr}`);
  t.ok(
    (await readFile(join(target, seg.name))).equals(seg.full.subarray(0, seg.synced)),
    "the target is the segment's synced bytes, exactly",
  );

  // A damaged object: the hook refuses (15) and writes nothing Cassandra could replay.
  const objects = await keysUnder(backend, folder);
  const file = join(h.archive, objects[0]!);
  const damaged = await readFile(file);
  damaged[100]! ^= 0xff;
  await writeFile(file, damaged);
  const second = join(h.root, "restored-again");
  await mkdir(second);
  const refused = await runNode(RESTORE_HOOK, [join(stubs, seg.name), join(second, seg.name)], h.env());
  t.equal(refused.exitCode, 15, "a damaged partial object: 15 (checksum mismatch)");
  t.same(await readdir(second), [], "and no target written");
});

t.test(
  "the agent's pause between passes leaves no abort listener behind (one a pass would pile up for days)",
  async (t) => {
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, controller.signal);
    t.equal(getEventListeners(controller.signal, "abort").length, 0, "20 pauses: no listener left");
    const pending = sleep(60_000, controller.signal);
    controller.abort();
    await pending;
    t.pass("an abort ends a pause at once");
  },
);
