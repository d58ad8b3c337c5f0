/**
 * The archive pipeline's two paths give the same record: one pass (the backend takes metadata after
 * the body, so hashing and validation run while zstd compresses) and metadata first (the backend
 * needs it with the first request). The oracle is the whole-buffer classifier and a plain sha256
 * of the file, on the real fixtures and on damaged copies of them.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { decompress } from "zstd-napi";
import { pushSegment } from "../../src/pipeline/push.js";
import { recordFromMetadata } from "../../src/format/segment-record.js";
import { classifySegment } from "../../src/commitlog/classify.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { parseKey } from "../../src/storage/decorators/encryption-keys.js";

const FIXTURES = "fixtures/commitlog/5.0.9";
const identity = { cluster: "push-test", node: "11111111-2222-3333-4444-555555555555" };

/** The same backend, but claiming it needs metadata with the first request (like S3 and GCS). */
function metadataFirst(inner: Backend): Backend {
  return {
    scheme: inner.scheme,
    displayLocation: inner.displayLocation,
    capabilities: { ...inner.capabilities, lateMetadata: false },
    put: (k, b, o) => {
      if (o?.lateMetadata) throw new Error("lateMetadata passed to a metadata-first backend");
      return inner.put(k, b, o);
    },
    get: (k, o) => inner.get(k, o),
    head: (k, o) => inner.head(k, o),
    list: (p, o) => inner.list(p, o),
    delete: (k, o) => inner.delete(k, o),
    close: () => inner.close(),
  };
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

interface Case {
  readonly label: string;
  readonly name: string;
  readonly bytes: Buffer;
}

async function cases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const dir of ["v7", "v8", "lz4", "zstd", "deflate", "snappy", "torn"]) {
    for (const f of (await readdir(join(FIXTURES, dir))).filter((n) => n.endsWith(".log"))) {
      out.push({ label: `${dir}/${f}`, name: f, bytes: await readFile(join(FIXTURES, dir, f)) });
    }
  }
  const v7 = out.find((c) => c.label.startsWith("v7/"))!;
  const flip = (at: number): Buffer => {
    const b = Buffer.from(v7.bytes);
    b[at]! ^= 0x40;
    return b;
  };
  out.push({ label: "v7, a payload byte flipped at 400000", name: v7.name, bytes: flip(400_000) });
  out.push({ label: "v7, a byte flipped right after the header", name: v7.name, bytes: flip(40) });
  out.push({ label: "v7, cut at 300001 bytes", name: v7.name, bytes: v7.bytes.subarray(0, 300_001) });
  out.push({ label: "v7, 3 bytes", name: v7.name, bytes: v7.bytes.subarray(0, 3) });
  out.push({ label: "empty file", name: v7.name, bytes: Buffer.alloc(0) });
  // Above one 1 MiB zstd job, so compressionThreads 2 really runs zstd's workers (a 1 MiB segment
  // is compressed on the calling thread whatever the setting).
  out.push({
    label: "v7 five times over (5 MiB, several zstd jobs)",
    name: v7.name,
    bytes: Buffer.concat(Array(5).fill(v7.bytes)),
  });
  out.push({ label: "garbage", name: v7.name, bytes: createHash("sha512").update("x").digest() });
  return out;
}

t.test("one pass and metadata first record the same sha256, status and problem as the oracle", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pitr-push-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const all = await cases();
  t.ok(all.length >= 11, "fixtures found");
  let n = 0;
  for (const c of all) {
    const path = join(dir, `${n++}-${c.name}`);
    await writeFile(path, c.bytes);
    const oracle = classifySegment(c.name, c.bytes);
    const sha = createHash("sha256").update(c.bytes).digest("hex");
    for (const threads of [0, 2]) {
      const late = await openBackend(`mem://push-late-${process.pid}-${n}-${threads}`);
      const first = metadataFirst(await openBackend(`mem://push-first-${process.pid}-${n}-${threads}`));
      t.ok(late.capabilities.lateMetadata, "mem takes late metadata");
      for (const [how, backend] of [
        ["one pass", late],
        ["metadata first", first],
      ] as const) {
        const what = `${c.label}, ${how}, ${threads} threads`;
        const r = await pushSegment(backend, identity, {
          path,
          name: c.name,
          archivedBy: "hook",
          compressionThreads: threads,
        });
        t.equal(r.outcome, "archived", `${what}: archived`);
        t.equal(r.record.sha256, sha, `${what}: sha256 of the file`);
        t.equal(r.record.status, oracle.status, `${what}: status ${oracle.status}`);
        const problem = oracle.error
          ? `${oracle.error.code} at offset ${oracle.error.offset}: ${oracle.error.message}`
          : undefined;
        t.equal(r.record.problem, problem, `${what}: problem`);
        const stored = await backend.head(r.key);
        t.same(recordFromMetadata(stored.metadata), r.record, `${what}: the stored metadata is the record`);
        t.equal(stored.size, r.compressedSize, `${what}: compressed size`);
        t.ok(
          decompress(await readAll(await backend.get(r.key))).equals(c.bytes),
          `${what}: decompresses to the file`,
        );
        const again = await pushSegment(backend, identity, {
          path,
          name: c.name,
          archivedBy: "hook",
          compressionThreads: threads,
        });
        t.equal(again.outcome, "already-archived", `${what}: again is already-archived`);
      }
    }
  }
});

t.test("one pass: different bytes under the same key are kept beside the first copy", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pitr-push-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const v7 = (await cases()).find((c) => c.label.startsWith("v7/"))!;
  const path = join(dir, v7.name);
  const backend = await openBackend(`mem://push-conflict-${process.pid}`);
  await writeFile(path, v7.bytes);
  const mtime = new Date(1_795_250_000_000);
  const { utimes } = await import("node:fs/promises");
  await utimes(path, mtime, mtime);
  const first = await pushSegment(backend, identity, { path, name: v7.name, archivedBy: "hook" });
  const changed = Buffer.from(v7.bytes);
  changed[500_000]! ^= 1;
  await writeFile(path, changed);
  await utimes(path, mtime, mtime); // same close time: same key
  const second = await pushSegment(backend, identity, { path, name: v7.name, archivedBy: "hook" });
  t.equal(second.outcome, "conflict-kept");
  t.equal(second.conflictsWith, first.key, "names the first copy");
  t.not(second.key, first.key, "a key of its own");
  t.equal(
    second.record.sha256,
    createHash("sha256").update(changed).digest("hex"),
    "the second copy's sha256",
  );
  t.equal(
    recordFromMetadata((await backend.head(first.key)).metadata)?.sha256,
    first.record.sha256,
    "first copy untouched",
  );
  t.ok(decompress(await readAll(await backend.get(second.key))).equals(changed), "second copy stored");
});

t.test(
  "encrypted: the record says how the object is stored (algorithm and key id), in the result and read back",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pitr-push-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const v7 = (await cases()).find((c) => c.label.startsWith("v7/"))!;
    const path = join(dir, v7.name);
    await writeFile(path, v7.bytes);
    const key = parseKey(createHash("sha256").update("push-test key").digest("hex"), "test");
    for (const [what, wrap] of [
      ["one pass", (b: Backend) => b],
      ["metadata first", metadataFirst],
    ] as const) {
      const backend = wrap(
        await openBackend(`mem://push-enc-${what.replace(" ", "-")}-${process.pid}`, {
          encryption: { current: key, retired: [] },
        }),
      );
      const r = await pushSegment(backend, identity, { path, name: v7.name, archivedBy: "hook" });
      t.equal(r.record.encryption, "aes-256-gcm", `${what}: the result's record says aes-256-gcm`);
      t.equal(r.record.encryptionKey, key.id, `${what}: and names the key id`);
      const stored = recordFromMetadata((await backend.head(r.key)).metadata);
      t.equal(stored?.encryption, "aes-256-gcm", `${what}: read back from storage: aes-256-gcm`);
      t.equal(stored?.encryptionKey, key.id, `${what}: read back: the key id`);
      t.equal(
        (await pushSegment(backend, identity, { path, name: v7.name, archivedBy: "hook" })).record.encryption,
        "aes-256-gcm",
        `${what}: already-archived says so too`,
      );
    }
    const clear = await openBackend(`mem://push-clear-${process.pid}`);
    const r = await pushSegment(clear, identity, { path, name: v7.name, archivedBy: "hook" });
    t.equal(r.record.encryption, "none", "in clear: none");
    t.equal(
      recordFromMetadata((await clear.head(r.key)).metadata)?.encryptionKey,
      undefined,
      "in clear: no key id",
    );
  },
);
