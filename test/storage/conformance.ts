import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import t, { type Test } from "tap";
import { isPitrError } from "../../src/errors/base.js";
import {
  AccessDeniedError,
  ArchiveMissingError,
  ObjectNotFoundError,
  PreconditionFailedError,
  TransientStorageError,
  isRetryable,
} from "../../src/storage/errors.js";
import type { Backend, LentChunks, ObjectInfo } from "../../src/storage/types.js";

/**
 * The one storage conformance suite (style.md §5.3). Every backend's test file calls
 * runBackendConformance with a factory that returns a backend on a fresh, unique prefix.
 */
export interface ConformanceTarget {
  readonly name: string;
  /** A backend rooted at a fresh prefix; `cleanup` runs after every case (optional). */
  readonly create: () => Promise<{ backend: Backend; cleanup?: () => Promise<void> }>;
  /** Skip the > 1000 keys paging case (slow or paid services). */
  readonly minimalData?: boolean;
  /** Extra cases, run after the shared ones and before cleanup. */
  readonly additionalTests?: (t: Tap, backend: () => Backend) => void;
}

type Tap = Test;

export async function expectError(
  t: Tap,
  promise: Promise<unknown>,
  cls: abstract new (...args: never[]) => Error,
  what: string,
): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    t.ok(
      err instanceof cls,
      `${what}: ${cls.name} (got ${(err as Error)?.name}: ${(err as Error)?.message})`,
    );
    return err;
  }
  t.fail(`${what}: expected ${cls.name}, but it succeeded`);
  return undefined;
}

export async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A deterministic stream of `size` bytes in 64 KiB chunks, and the sha256 it should have. */
function bigBody(size: number, seed: number): { stream: () => Readable; sha: string } {
  const block = Buffer.alloc(64 * 1024);
  const blocks = Math.ceil(size / block.length);
  const chunkAt = (i: number) => {
    const b = Buffer.from(block);
    b.writeUInt32BE(i, 0);
    b.writeUInt32BE(seed, 4);
    for (let j = 8; j < b.length; j += 4096) b[j] = (i * 31 + j + seed) & 0xff;
    return i === blocks - 1 ? b.subarray(0, size - i * block.length) : b;
  };
  const hash = createHash("sha256");
  for (let i = 0; i < blocks; i++) hash.update(chunkAt(i));
  return {
    sha: hash.digest("hex"),
    stream: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < blocks; i++) yield chunkAt(i);
        })(),
      ),
  };
}

/**
 * The same bytes as lent chunks (LentChunks): one buffer reused for every chunk and scribbled over
 * as soon as the consumer asks for the next, so a backend that keeps a lent chunk stores garbage.
 */
function lentBody(size: number, seed: number): { lent: () => LentChunks; sha: string } {
  const source = bigBody(size, seed);
  return {
    sha: source.sha,
    lent: () => ({
      lent: true as const,
      async *[Symbol.asyncIterator]() {
        const shared = Buffer.alloc(64 * 1024);
        for await (const chunk of source.stream()) {
          const bytes = chunk as Buffer;
          bytes.copy(shared);
          yield shared.subarray(0, bytes.length);
          shared.fill(0xee);
        }
      },
    }),
  };
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * How the cloud suites decide to run: returns the value of `envVar`, or undefined after skipping
 * (locally) or failing (env CI set, or PITR_TEST_REQUIRE names `name`) with a clear reason.
 */
export function requireTarget(name: string, envVar: string): string | undefined {
  const value = process.env[envVar];
  if (value !== undefined && value !== "") return value;
  const required = (process.env["PITR_TEST_REQUIRE"] ?? "").split(/[\s,]+/).filter(Boolean);
  const reason = `${envVar} is not set (run: scripts/emulators.sh start && eval "$(scripts/emulators.sh env)")`;
  if (process.env["CI"] || required.includes(name) || required.includes("all")) {
    t.fail(`${name} storage suite is required here but ${reason}`);
  } else {
    t.pass(`skipping the ${name} storage suite: ${reason}`, { skip: reason });
  }
  return undefined;
}

export function runBackendConformance(target: ConformanceTarget): void {
  let backend: Backend | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  const b = (): Backend => {
    if (!backend) throw new Error("backend not created");
    return backend;
  };

  t.before(async () => {
    const created = await target.create();
    backend = created.backend;
    cleanup = created.cleanup;
  });
  t.teardown(async () => {
    await backend?.close();
    await cleanup?.();
  });

  t.test(`${target.name}: missing key → ObjectNotFoundError from get and head, not retryable`, async (t) => {
    const e1 = await expectError(t, b().get("missing/never-written"), ObjectNotFoundError, "get");
    const e2 = await expectError(t, b().head("missing/never-written"), ObjectNotFoundError, "head");
    t.notOk(isRetryable(e1), "get error is not retryable");
    t.notOk(isRetryable(e2), "head error is not retryable");
    t.equal(isPitrError(e1) && e1.code, "E_NOT_FOUND");
  });

  t.test(`${target.name}: invalid keys are rejected before any I/O with E_USAGE`, async (t) => {
    for (const key of [
      "../escape",
      "/abs",
      "a//b",
      "a/../b",
      "",
      "sp ace",
      "a/./b",
      "trailing/",
      ".hidden/x",
      "a/.b",
      "a/b\n",
    ]) {
      const err = await b()
        .head(key)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      t.ok(isPitrError(err) && err.code === "E_USAGE", `head(${JSON.stringify(key)}) → E_USAGE`);
      const err2 = await b()
        .put(key, new Uint8Array(1))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      t.ok(isPitrError(err2) && err2.code === "E_USAGE", `put(${JSON.stringify(key)}) → E_USAGE`);
    }
  });

  t.test(`${target.name}: round trip of a 0-byte object`, async (t) => {
    await b().put("rt/empty", new Uint8Array(0));
    const got = await readAll(await b().get("rt/empty"));
    t.equal(got.length, 0);
    t.equal((await b().head("rt/empty")).size, 0);
  });

  t.test(`${target.name}: round trip of a small object with metadata`, async (t) => {
    const bytes = randomBytes(1234);
    const metadata = {
      sha256: sha256(bytes),
      size: "1234",
      compression: "zstd",
      host_id: "0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab",
    };
    await b().put("rt/small.bin", bytes, { metadata });
    const got = await readAll(await b().get("rt/small.bin"));
    t.equal(sha256(got), sha256(bytes), "bytes equal");
    const info = await b().head("rt/small.bin");
    t.equal(info.key, "rt/small.bin");
    t.equal(info.size, 1234);
    t.same(info.metadata, metadata, "metadata round trip via head");
  });

  t.test(`${target.name}: round trip of a > 8 MiB streamed object (unknown length)`, async (t) => {
    const size = 9 * 1024 * 1024 + 12345;
    const body = bigBody(size, 1);
    await b().put("rt/big-stream.bin", body.stream(), { metadata: { sha256: body.sha } });
    const got = await readAll(await b().get("rt/big-stream.bin"));
    t.equal(got.length, size, "size");
    t.equal(sha256(got), body.sha, "sha256 of the bytes read back");
    const info = await b().head("rt/big-stream.bin");
    t.equal(info.size, size);
    t.equal(info.metadata["sha256"], body.sha);
  });

  t.test(`${target.name}: round trip of a > 8 MiB streamed object with contentLength`, async (t) => {
    const size = 8 * 1024 * 1024 + 7;
    const body = bigBody(size, 2);
    await b().put("rt/big-length.bin", body.stream(), { contentLength: size });
    const got = await readAll(await b().get("rt/big-length.bin"));
    t.equal(got.length, size, "size");
    t.equal(sha256(got), body.sha, "sha256 of the bytes read back");
  });

  t.test(
    `${target.name}: lent chunks (one reused buffer) are stored exactly, also when ifAbsent refuses`,
    async (t) => {
      const size = 9 * 1024 * 1024 + 333;
      const body = lentBody(size, 3);
      await b().put("rt/lent.bin", body.lent(), { ifAbsent: true, metadata: { sha256: body.sha } });
      const got = await readAll(await b().get("rt/lent.bin"));
      t.equal(got.length, size, "size");
      t.equal(sha256(got), body.sha, "sha256 of the bytes read back: no chunk was kept past its turn");
      await expectError(
        t,
        b().put("rt/lent.bin", lentBody(1000, 4).lent(), { ifAbsent: true }),
        PreconditionFailedError,
        "ifAbsent on the same key",
      );
      t.equal(sha256(await readAll(await b().get("rt/lent.bin"))), body.sha, "object unchanged");
    },
  );

  t.test(
    `${target.name}: lateMetadata is asked for after the body, or refused where unsupported`,
    async (t) => {
      const size = 3 * 1024 * 1024 + 7;
      const body = lentBody(size, 5);
      const seen = { bytes: 0, askedAt: -1 };
      const counted: LentChunks = {
        lent: true,
        async *[Symbol.asyncIterator]() {
          for await (const chunk of body.lent()) {
            seen.bytes += chunk.length;
            yield chunk;
          }
        },
      };
      const late = () => {
        seen.askedAt = seen.bytes;
        return { sha256: body.sha };
      };
      if (!b().capabilities.lateMetadata) {
        await t.rejects(
          b().put("rt/late.bin", counted, { ifAbsent: true, lateMetadata: late }),
          /cannot store metadata after the body/,
        );
        await expectError(t, b().head("rt/late.bin"), ObjectNotFoundError, "nothing stored");
        return;
      }
      await b().put("rt/late.bin", counted, { ifAbsent: true, metadata: { early: "1" }, lateMetadata: late });
      t.equal(seen.askedAt, size, "asked once the whole body was read");
      const info = await b().head("rt/late.bin");
      t.same(info.metadata, { early: "1", sha256: body.sha }, "early and late metadata both stored");
      t.equal(sha256(await readAll(await b().get("rt/late.bin"))), body.sha, "bytes");
    },
  );

  t.test(`${target.name}: put without ifAbsent replaces the object`, async (t) => {
    await b().put("rt/replace", Buffer.from("one"), { metadata: { v: "1" } });
    await b().put("rt/replace", Buffer.from("two!"), { metadata: { v: "2" } });
    t.equal((await readAll(await b().get("rt/replace"))).toString(), "two!");
    const info = await b().head("rt/replace");
    t.equal(info.size, 4);
    t.same(info.metadata, { v: "2" });
  });

  t.test(
    `${target.name}: list(prefix) returns exactly the keys written, sorted, no prefix bleed`,
    async (t) => {
      const keys = ["ls/a/1", "ls/a/2", "ls/a/b/c", "ls/a1", "ls/a-b", "ls/ab", "ls/a.z", "ls/b/1"];
      for (const key of [...keys].reverse()) await b().put(key, Buffer.from(key));
      const names = async (prefix: string, startAfter?: string) =>
        (await collect(b().list(prefix, startAfter === undefined ? {} : { startAfter }))).map((i) => i.key);
      t.same(await names("ls/"), [...keys].sort(), "everything, sorted");
      t.same(await names("ls/a/"), ["ls/a/1", "ls/a/2", "ls/a/b/c"], "'a/' does not include 'a1'");
      t.same(await names("ls/a1"), ["ls/a1"], "'a1' does not include 'a/1'");
      t.same(
        await names("ls/a"),
        ["ls/a-b", "ls/a.z", "ls/a/1", "ls/a/2", "ls/a/b/c", "ls/a1", "ls/ab"],
        "plain string prefix",
      );
      t.same(await names("ls/nothing/"), [], "missing prefix = empty");
      t.same(await names("ls/", "ls/a/2"), ["ls/a/b/c", "ls/a1", "ls/ab", "ls/b/1"], "startAfter");
      const infos = await collect(b().list("ls/a/"));
      t.same(
        infos.map((i) => i.size),
        ["ls/a/1", "ls/a/2", "ls/a/b/c"].map((k) => k.length),
        "sizes in listing",
      );
    },
  );

  t.test(
    `${target.name}: list pages past 1000 keys`,
    { skip: target.minimalData ? "minimalData" : false },
    async (t) => {
      const keys = Array.from({ length: 1100 }, (_, i) => `page/k${String(i).padStart(5, "0")}`);
      await mapLimit(keys, 16, (key) => b().put(key, new Uint8Array(0)));
      const listed = (await collect(b().list("page/"))).map((i) => i.key);
      t.equal(listed.length, 1100);
      t.same(listed, keys, "all keys once, in order");
    },
  );

  t.test(
    `${target.name}: ifAbsent on an existing key → PreconditionFailedError, object unchanged`,
    async (t) => {
      await b().put("cond/existing", Buffer.from("first"), { ifAbsent: true, metadata: { who: "first" } });
      const err = await expectError(
        t,
        b().put("cond/existing", Buffer.from("second"), { ifAbsent: true, metadata: { who: "second" } }),
        PreconditionFailedError,
        "second put",
      );
      t.notOk(isRetryable(err), "not retryable");
      t.equal((await readAll(await b().get("cond/existing"))).toString(), "first");
      t.same((await b().head("cond/existing")).metadata, { who: "first" });
      // A streamed body is refused as well.
      await expectError(
        t,
        b().put("cond/existing", Readable.from([Buffer.from("third")]), { ifAbsent: true }),
        PreconditionFailedError,
        "streamed put",
      );
      t.equal((await readAll(await b().get("cond/existing"))).toString(), "first");
    },
  );

  t.test(`${target.name}: two racing ifAbsent puts: exactly one wins`, async (t) => {
    t.ok(b().capabilities.conditionalCreate, "conditionalCreate");
    for (let round = 0; round < 5; round++) {
      const key = `race/r${round}`;
      const bodies = ["left", "right"].map((who) => ({
        who,
        bytes: Buffer.from(`${who}-${round}-${"x".repeat(1000 * round)}`),
      }));
      const results = await Promise.allSettled(
        bodies.map(({ who, bytes }) => b().put(key, bytes, { ifAbsent: true, metadata: { who } })),
      );
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [bodies[i]!] : []));
      const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      t.equal(won.length, 1, `round ${round}: one winner`);
      t.ok(
        lost.length === 1 && lost[0] instanceof PreconditionFailedError,
        `round ${round}: loser gets PreconditionFailedError (${String(lost[0])})`,
      );
      const winner = won[0];
      if (!winner) continue;
      t.equal(
        (await readAll(await b().get(key))).toString(),
        winner.bytes.toString(),
        `round ${round}: stored bytes are the winner's`,
      );
      t.same(
        (await b().head(key)).metadata,
        { who: winner.who },
        `round ${round}: stored metadata is the winner's`,
      );
    }
  });

  t.test(`${target.name}: delete`, async (t) => {
    await b().delete("del/never-existed");
    t.pass("deleting a missing key succeeds");
    await b().put("del/x", Buffer.from("x"));
    await b().delete("del/x");
    await expectError(t, b().head("del/x"), ObjectNotFoundError, "head after delete");
    t.same(await collect(b().list("del/")), [], "gone from listing");
    await b().delete("del/x");
    t.pass("deleting twice succeeds");
  });

  t.test(`${target.name}: keys with the punctuation of the archive layout`, async (t) => {
    const keys = [
      "c1/0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab/segments/2026/11/21/20261121T083012.123Z_1795249970278_v7.zst",
      "c1/0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab/snapshots/ks=app/t:1@2026+x/manifest.json",
      "c1/UPPER_lower.Mixed-09/x",
    ];
    for (const key of keys) await b().put(key, Buffer.from(key), { metadata: { k: "v" } });
    for (const key of keys) {
      t.equal((await readAll(await b().get(key))).toString(), key, `get ${key}`);
      t.equal((await b().head(key)).size, key.length);
    }
    t.same(
      (await collect(b().list("c1/"))).map((i) => i.key),
      [...keys].sort(),
    );
  });

  t.test(`${target.name}: AbortSignal cancels get and list`, async (t) => {
    const aborted = AbortSignal.abort();
    await t.rejects(b().get("rt/small.bin", { signal: aborted }), "get with an aborted signal rejects");
    await t.rejects(b().head("rt/small.bin", { signal: aborted }), "head with an aborted signal rejects");
    await t.rejects(collect(b().list("ls/", { signal: aborted })), "list with an aborted signal rejects");
    await t.rejects(
      b().put("abort/never", Buffer.from("x"), { signal: aborted }),
      "put with an aborted signal rejects",
    );
    await expectError(t, b().head("abort/never"), ObjectNotFoundError, "aborted put stored nothing");

    // Abort while the body is being consumed.
    const controller = new AbortController();
    const stream = await b().get("rt/big-stream.bin", { signal: controller.signal });
    let bytes = 0;
    const consumed = (async () => {
      for await (const chunk of stream) {
        bytes += (chunk as Buffer).length;
        if (bytes > 0 && !controller.signal.aborted) controller.abort();
      }
    })();
    await t.rejects(consumed, "reading a body after abort rejects");
    t.ok(bytes < 9 * 1024 * 1024, `stopped early (${bytes} bytes read)`);
  });

  target.additionalTests?.(t, b);

  t.test(`${target.name}: zz cleanup removes everything under the prefix`, async (t) => {
    const all = await collect(b().list(""));
    await mapLimit(all, 16, (info) => b().delete(info.key));
    t.same(await collect(b().list("")), [], "prefix is empty");
  });
}

/** A loopback port with nothing listening on it (bound, then released). */
export async function closedLoopbackPort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** A fresh prefix per run, so parallel or repeated runs never see each other's objects. */
export function uniquePrefix(): string {
  return `run-${new Date().toISOString().replace(/[-:.]/g, "")}-${randomBytes(4).toString("hex")}`;
}

export interface ErrorPathTarget {
  readonly name: string;
  /** Opens a backend (retries off) on the given URL with the given environment. */
  readonly open: (url: string, env: Record<string, string | undefined>) => Promise<Backend>;
  /** URL and env with rejected credentials, or a skip reason when the server does not check them. */
  readonly wrongCredentials: { url: string; env: Record<string, string | undefined> } | string;
  readonly missingBucket: { url: string; env: Record<string, string | undefined> };
  readonly unreachable: () => Promise<{ url: string; env: Record<string, string | undefined> }>;
}

/** Error paths against the real server: each must map to its documented class. */
export function runErrorPathTests(target: ErrorPathTarget): void {
  const ops = (b: Backend) =>
    [
      ["put", () => b.put("err/x", Buffer.from("x"))],
      ["head", () => b.head("err/x")],
      ["get", () => b.get("err/x")],
      ["list", () => collect(b.list("err/"))],
    ] as const;

  const denied = target.wrongCredentials;
  // A server that checks no credentials (fake-gcs-server) cannot exercise this case: not registered.
  if (typeof denied !== "string")
    t.test(`${target.name}: wrong credentials → AccessDeniedError`, async (t) => {
      const b = await target.open(denied.url, denied.env);
      for (const [op, fn] of ops(b)) {
        const err = await expectError(t, fn(), AccessDeniedError, op);
        t.notOk(isRetryable(err), `${op}: not retryable`);
        t.notMatch(String((err as Error)?.message), /secret|key=/i, `${op}: message carries no secret`);
      }
      await b.close();
    });

  t.test(`${target.name}: missing bucket → ArchiveMissingError`, async (t) => {
    const b = await target.open(target.missingBucket.url, target.missingBucket.env);
    for (const [op, fn] of ops(b)) {
      const err = await expectError(t, fn(), ArchiveMissingError, op);
      t.notOk(isRetryable(err), `${op}: not retryable`);
    }
    await b.close();
  });

  t.test(`${target.name}: unreachable endpoint → TransientStorageError`, async (t) => {
    const { url, env } = await target.unreachable();
    const b = await target.open(url, env);
    for (const [op, fn] of ops(b)) {
      const err = await expectError(t, fn(), TransientStorageError, op);
      t.ok(isRetryable(err), `${op}: retryable`);
    }
    await b.close();
  });
}
