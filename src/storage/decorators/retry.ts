import type { Readable } from "node:stream";
import { isRetryable } from "../errors.js";
import type {
  Backend,
  ListOptions,
  ObjectInfo,
  OpOptions,
  PutBody,
  PutOptions,
  UnfinishedUploads,
} from "../types.js";

/**
 * Retries TransientStorageError (the only retryable class) with capped exponential backoff and full
 * jitter. Every other error, and every error after the signal is aborted, is passed through at once.
 *
 * What is retried:
 * - get, head, delete: the whole call. An error while the caller consumes a returned stream is not
 *   retried (the caller owns the stream; store.ts verifies checksums and re-reads if it wants).
 * - put: only when the body is a Uint8Array. A Readable body is consumed by the first attempt and
 *   cannot be replayed, so a streamed put is tried once; callers that need retries on large objects
 *   pass bytes or retry above this layer with a fresh stream.
 * - list: a failure mid-listing resumes after the last key already yielded (`startAfter`), so the
 *   caller sees every key exactly once and in order.
 */
export interface RetryPolicy {
  /** Total tries including the first; 1 disables retrying. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5_000 };

/**
 * The delay before the next try, after `attempt` tries have failed (1 = the first try failed), or
 * undefined when the policy allows no more tries. Full jitter: uniform in [0, min(max, base·2^(attempt-1))].
 * `random` returns a number in [0, 1); pure, so tests pass a fixed function.
 */
export function nextDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number | undefined {
  if (!Number.isFinite(attempt) || attempt < 1 || attempt >= policy.attempts) return undefined;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(ceiling * r);
}

export interface RetryOptions {
  readonly policy?: RetryPolicy | undefined;
  /** Applies to every operation in addition to the per-call signal (e.g. the hook's time budget). */
  readonly signal?: AbortSignal | undefined;
  readonly random?: (() => number) | undefined;
  /** Injected for tests; resolves after `ms` or rejects with the signal's reason. */
  readonly sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
  /** Called before each retry; for logging. */
  readonly onRetry?:
    | ((info: { op: string; key: string; attempt: number; delayMs: number; error: unknown }) => void)
    | undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function mergeSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return AbortSignal.any([a, b]);
}

export class RetryBackend implements Backend {
  private readonly policy: RetryPolicy;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;

  constructor(
    private readonly inner: Backend,
    private readonly options: RetryOptions = {},
  ) {
    this.policy = options.policy ?? DEFAULT_RETRY_POLICY;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? sleep;
  }

  get scheme() {
    return this.inner.scheme;
  }
  get displayLocation() {
    return this.inner.displayLocation;
  }
  get capabilities() {
    return this.inner.capabilities;
  }

  /**
   * The part lookup and the abort are retried like head and delete; a listing that fails is not
   * resumed (its caller, the agent, lists again on its next check).
   */
  get unfinishedUploads(): UnfinishedUploads | undefined {
    const inner = this.inner.unfinishedUploads;
    if (inner === undefined) return undefined;
    return {
      list: (prefix, options) => inner.list(prefix, { ...options, signal: this.signalFor(options) }),
      lastPartAt: (upload, options) => {
        const signal = this.signalFor(options);
        return this.run("list parts", upload.key, signal, () => inner.lastPartAt(upload, { signal }));
      },
      abort: (upload, options) => {
        const signal = this.signalFor(options);
        return this.run("abort upload", upload.key, signal, () => inner.abort(upload, { signal }));
      },
    };
  }

  private signalFor(options: OpOptions | undefined): AbortSignal | undefined {
    return mergeSignals(this.options.signal, options?.signal);
  }

  /** Runs `fn` until it succeeds, fails permanently, the policy is exhausted, or `signal` aborts. */
  private async run<T>(
    op: string,
    key: string,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
    retryable = true,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw signal.reason;
      try {
        return await fn();
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const delayMs =
          retryable && isRetryable(error) ? nextDelay(attempt, this.policy, this.random) : undefined;
        if (delayMs === undefined) throw error;
        this.options.onRetry?.({ op, key, attempt, delayMs, error });
        await this.sleep(delayMs, signal);
      }
    }
  }

  put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    const signal = this.signalFor(options);
    const opts: PutOptions = { ...options, signal };
    return this.run("put", key, signal, () => this.inner.put(key, body, opts), body instanceof Uint8Array);
  }

  get(key: string, options: OpOptions = {}): Promise<Readable> {
    const signal = this.signalFor(options);
    return this.run("get", key, signal, () => this.inner.get(key, { ...options, signal }));
  }

  head(key: string, options: OpOptions = {}): Promise<ObjectInfo> {
    const signal = this.signalFor(options);
    return this.run("head", key, signal, () => this.inner.head(key, { ...options, signal }));
  }

  delete(key: string, options: OpOptions = {}): Promise<void> {
    const signal = this.signalFor(options);
    return this.run("delete", key, signal, () => this.inner.delete(key, { ...options, signal }));
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const signal = this.signalFor(options);
    let after = options.startAfter;
    let failures = 0;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      try {
        for await (const info of this.inner.list(prefix, { ...options, signal, startAfter: after })) {
          // Backends that cannot seek filter client-side; guard anyway so a resume never repeats a key.
          if (after !== undefined && info.key <= after) continue;
          after = info.key;
          failures = 0; // progress: the next failure starts a fresh backoff sequence
          yield info;
        }
        return;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        failures++;
        const delayMs = isRetryable(error) ? nextDelay(failures, this.policy, this.random) : undefined;
        if (delayMs === undefined) throw error;
        this.options.onRetry?.({ op: "list", key: prefix, attempt: failures, delayMs, error });
        await this.sleep(delayMs, signal);
      }
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export function withRetry(backend: Backend, options?: RetryOptions): RetryBackend {
  return new RetryBackend(backend, options);
}
