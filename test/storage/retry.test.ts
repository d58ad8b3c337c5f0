import { Readable } from "node:stream";
import t from "tap";
import { MemoryBackend } from "../../src/storage/backends/memory.js";
import { nextDelay, withRetry, type RetryPolicy } from "../../src/storage/decorators/retry.js";
import { ObjectNotFoundError, StorageError, TransientStorageError } from "../../src/storage/errors.js";
import type { Backend, ListOptions, ObjectInfo, OpOptions, PutOptions } from "../../src/storage/types.js";
import { collect, expectError, readAll } from "./conformance.js";

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 250 };

t.test("nextDelay: capped exponential growth with full jitter", async (t) => {
  const top = () => 0.999999;
  t.equal(nextDelay(1, policy, top), 99, "after the first failure: up to base");
  t.equal(nextDelay(2, policy, top), 199, "doubles");
  t.equal(nextDelay(3, policy, top), 249, "capped at maxDelayMs");
  t.equal(nextDelay(4, policy, top), undefined, "no more tries after `attempts`");
  t.equal(
    nextDelay(2, policy, () => 0),
    0,
    "jitter can go to zero",
  );
  t.equal(
    nextDelay(2, policy, () => 0.5),
    100,
    "uniform in [0, ceiling)",
  );
  t.equal(nextDelay(0, policy, top), undefined, "attempt < 1 is invalid");
  t.equal(nextDelay(Number.NaN, policy, top), undefined, "NaN is invalid");
  t.equal(nextDelay(1, { ...policy, attempts: 1 }, top), undefined, "attempts 1 = no retries");
  t.equal(
    nextDelay(40, { attempts: 100, baseDelayMs: 100, maxDelayMs: 5000 }, top),
    4999,
    "large attempts stay capped",
  );
});

/** Memory backend wrapper that fails the next N calls of an operation with a chosen error. */
class FlakyBackend implements Backend {
  readonly scheme = "mem" as const;
  readonly displayLocation = "mem://flaky";
  readonly capabilities = {
    conditionalCreate: true,
    maxConnections: 1,
    lateMetadata: false,
    retention: false,
  };
  readonly calls: Record<string, number> = {};
  private readonly failures = new Map<string, unknown[]>();
  /** list: fail after yielding this many items (once), instead of before the call. */
  listFailAfter: number | undefined;

  constructor(readonly inner: Backend) {}

  fail(op: string, ...errors: unknown[]): void {
    this.failures.set(op, [...(this.failures.get(op) ?? []), ...errors]);
  }

  private enter(op: string): void {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    const queue = this.failures.get(op);
    if (queue && queue.length > 0) throw queue.shift();
  }

  async put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<void> {
    this.enter("put");
    return this.inner.put(key, body, options);
  }
  async get(key: string, options?: OpOptions): Promise<Readable> {
    this.enter("get");
    return this.inner.get(key, options);
  }
  async head(key: string, options?: OpOptions): Promise<ObjectInfo> {
    this.enter("head");
    return this.inner.head(key, options);
  }
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    this.enter("list");
    let n = 0;
    for await (const info of this.inner.list(prefix, options)) {
      if (this.listFailAfter !== undefined && n === this.listFailAfter) {
        this.listFailAfter = undefined;
        throw transient();
      }
      n++;
      yield info;
    }
  }
  async delete(key: string, options?: OpOptions): Promise<void> {
    this.enter("delete");
    return this.inner.delete(key, options);
  }
  async close(): Promise<void> {}
}

const transient = () => new TransientStorageError("mem://flaky", "injected 503");
let counter = 0;
function setup(p: RetryPolicy = policy) {
  const flaky = new FlakyBackend(
    new MemoryBackend({ scheme: "mem", display: "mem://flaky", name: `retry-${counter++}` }),
  );
  const delays: number[] = [];
  const retries: string[] = [];
  const backend = withRetry(flaky, {
    policy: p,
    random: () => 0.5,
    sleep: async (ms) => {
      delays.push(ms);
    },
    onRetry: ({ op }) => retries.push(op),
  });
  return { flaky, backend, delays, retries };
}

t.test("transient failures are retried with the policy's delays", async (t) => {
  const { flaky, backend, delays } = setup();
  await flaky.inner.put("k", Buffer.from("v"));
  flaky.fail("get", transient(), transient());
  t.equal((await readAll(await backend.get("k"))).toString(), "v");
  t.equal(flaky.calls["get"], 3, "two failures, then success");
  t.same(delays, [50, 100], "delays from nextDelay with random 0.5");
});

t.test("gives up after `attempts` tries with the last transient error", async (t) => {
  const { flaky, backend } = setup();
  flaky.fail("head", transient(), transient(), transient(), transient(), transient());
  await expectError(t, backend.head("k"), TransientStorageError, "head");
  t.equal(flaky.calls["head"], 4);
});

t.test("permanent errors are not retried", async (t) => {
  const { flaky, backend, retries } = setup();
  await expectError(t, backend.head("missing"), ObjectNotFoundError, "missing key");
  t.equal(flaky.calls["head"], 1);
  flaky.fail("delete", new StorageError("mem://flaky", "bad request"));
  await expectError(t, backend.delete("k"), StorageError, "permanent storage error");
  t.equal(flaky.calls["delete"], 1);
  t.same(retries, []);
});

t.test("put is retried for bytes, tried once for a stream", async (t) => {
  const { flaky, backend } = setup();
  flaky.fail("put", transient());
  await backend.put("bytes", Buffer.from("b"));
  t.equal(flaky.calls["put"], 2, "bytes: retried");
  flaky.fail("put", transient());
  await expectError(
    t,
    backend.put("stream", Readable.from([Buffer.from("s")])),
    TransientStorageError,
    "stream",
  );
  t.equal(flaky.calls["put"], 3, "stream: one try");
});

t.test("list resumes after the last yielded key, without duplicates", async (t) => {
  const { flaky, backend, retries } = setup();
  const keys = Array.from({ length: 10 }, (_, i) => `l/${i}`);
  for (const key of keys) await flaky.inner.put(key, Buffer.from(key));
  flaky.listFailAfter = 4;
  t.same(
    (await collect(backend.list("l/"))).map((i) => i.key),
    keys,
  );
  t.same(retries, ["list"]);
  flaky.fail("list", transient(), transient(), transient(), transient());
  await expectError(t, collect(backend.list("l/")), TransientStorageError, "list exhausted");
});

t.test("an aborted signal stops retrying at once", async (t) => {
  const flaky = new FlakyBackend(new MemoryBackend({ scheme: "mem", display: "mem://flaky", name: "abort" }));
  const controller = new AbortController();
  const backend = withRetry(flaky, {
    policy: { attempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000 },
    random: () => 1,
  });
  flaky.fail("head", ...Array.from({ length: 10 }, transient));
  const pending = backend.head("k", { signal: controller.signal });
  setTimeout(() => controller.abort(new Error("budget spent")), 20);
  const started = Date.now();
  await t.rejects(pending, { message: "budget spent" }, "rejects with the abort reason");
  t.ok(Date.now() - started < 30_000, "did not wait for the 60 s backoff");
  t.equal(flaky.calls["head"], 1, "no further tries");
});

t.test("a backend-wide signal applies to every call", async (t) => {
  const flaky = new FlakyBackend(new MemoryBackend({ scheme: "mem", display: "mem://flaky", name: "wide" }));
  const backend = withRetry(flaky, { signal: AbortSignal.abort(new Error("closed")) });
  await t.rejects(backend.head("k"), { message: "closed" });
  t.equal(flaky.calls["head"], undefined, "never reached the backend");
});
