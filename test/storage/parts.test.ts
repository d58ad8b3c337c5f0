/** putInParts: part boundaries, the fixed buffer pool, the one-request path, and failures. */
import { createHash, randomBytes } from "node:crypto";
import t from "tap";
import { putInParts, type PartSink } from "../../src/storage/parts.js";
import type { LentChunks } from "../../src/storage/types.js";

/** `size` random bytes as lent chunks of `chunk` bytes from one buffer scribbled over after each. */
function lent(bytes: Buffer, chunk: number): LentChunks {
  return {
    lent: true,
    async *[Symbol.asyncIterator]() {
      const shared = Buffer.alloc(chunk);
      for (let at = 0; at < bytes.length; at += chunk) {
        const n = bytes.copy(shared, 0, at, Math.min(at + chunk, bytes.length));
        yield shared.subarray(0, n);
        shared.fill(0xee);
      }
    },
  };
}

interface Recorder extends PartSink<number> {
  readonly parts: Buffer[];
  readonly pools: Set<ArrayBufferLike>;
  single_: Buffer | undefined;
  begun: number;
  maxInFlight: number;
}

function recorder(delayMs = 1, failAt?: number): Recorder {
  let inFlight = 0;
  const r: Recorder = {
    parts: [],
    pools: new Set(),
    single_: undefined,
    begun: 0,
    maxInFlight: 0,
    single: async (bytes) => {
      r.single_ = Buffer.from(bytes);
    },
    begin: async () => {
      r.begun++;
    },
    part: async (bytes, n) => {
      inFlight++;
      r.maxInFlight = Math.max(r.maxInFlight, inFlight);
      r.pools.add(bytes.buffer);
      const copy = Buffer.from(bytes); // taken at once, as a request would
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      inFlight--;
      if (n === failAt) throw new Error(`part ${n} failed`);
      r.parts[n - 1] = copy;
      return n * 10;
    },
  };
  return r;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

t.test(
  "a body larger than a part: parts in order, every part full but the last, two buffers reused",
  async (t) => {
    const body = randomBytes(10 * 1000 + 123);
    const r = recorder();
    const results = await putInParts(lent(body, 333), r, { partSize: 1000, buffers: 2 });
    t.same(
      results,
      Array.from({ length: 11 }, (_, i) => (i + 1) * 10),
      "what part returned, in part order",
    );
    t.equal(r.begun, 1, "begin called once");
    t.same(
      r.parts.map((p) => p.length),
      [...Array(10).fill(1000), 123],
      "part sizes",
    );
    t.equal(sha(Buffer.concat(r.parts)), sha(body), "the parts are the body");
    t.ok(r.pools.size <= 2, `at most two part buffers (${r.pools.size})`);
    t.ok(r.maxInFlight <= 2, "never more parts in flight than buffers");
    t.equal(r.single_, undefined, "not sent as one request");
  },
);

t.test("a body that fits in one part goes in one request; an empty body too", async (t) => {
  const body = randomBytes(999);
  const r = recorder();
  t.equal(await putInParts(lent(body, 100), r, { partSize: 1000, buffers: 2 }), undefined);
  t.ok(r.single_?.equals(body), "single got the whole body");
  t.equal(r.begun, 0, "no multipart upload begun");
  const e = recorder();
  t.equal(await putInParts(lent(Buffer.alloc(0), 100), e, { partSize: 1000, buffers: 2 }), undefined);
  t.equal(e.single_?.length, 0, "empty body: one empty request");
});

t.test("a body of exactly one part is a one-part upload", async (t) => {
  const body = randomBytes(1000);
  const r = recorder();
  t.same(await putInParts(lent(body, 250), r, { partSize: 1000, buffers: 2 }), [10]);
  t.ok(r.parts[0]?.equals(body));
});

t.test("more buffers allow more parts in flight, never more than there are buffers", async (t) => {
  const r = recorder(5);
  await putInParts(lent(randomBytes(20_000), 500), r, { partSize: 1000, buffers: 4 });
  t.ok(r.maxInFlight >= 3 && r.maxInFlight <= 4, `in flight: ${r.maxInFlight}`);
  t.ok(r.pools.size <= 4, `buffers: ${r.pools.size}`);
});

t.test(
  "a failed part: rejects with its error after the others settled, and stops reading the body",
  async (t) => {
    let read = 0;
    const body = randomBytes(50_000);
    const counting: LentChunks = {
      lent: true,
      async *[Symbol.asyncIterator]() {
        for await (const c of lent(body, 500)) {
          read += c.length;
          yield c;
        }
      },
    };
    const r = recorder(2, 3);
    await t.rejects(putInParts(counting, r, { partSize: 1000, buffers: 3 }), /part 3 failed/);
    t.ok(read < body.length, `stopped reading (${read} of ${body.length} bytes)`);
  },
);

t.test("an aborted signal stops the upload", async (t) => {
  const ac = new AbortController();
  ac.abort(new Error("budget ran out"));
  await t.rejects(
    putInParts(lent(randomBytes(5000), 100), recorder(), { partSize: 1000, buffers: 2, signal: ac.signal }),
    /budget ran out/,
  );
});
