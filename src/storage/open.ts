import { withDryRun } from "./decorators/dry-run.js";
import { withEncryption, type EncryptionKeys } from "./decorators/encrypt.js";
import { DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from "./decorators/retry.js";
import { parseLocation, type Env, type Location } from "./location.js";
import { requireLockableLocation, type ObjectLockPolicy } from "./object-lock.js";
import { createBackendFor } from "./registry.js";
import type { Backend } from "./types.js";

export interface OpenOptions {
  /** Retry policy (defaults to DEFAULT_RETRY_POLICY); `false` = one try per operation. */
  retry?: Partial<RetryPolicy> | false | undefined;
  /** Aborts every operation (and any retry wait) on this backend. */
  signal?: AbortSignal | undefined;
  /** Time budget in ms for all operations on this backend, counted from open (e.g. the hook's bound). */
  timeoutMs?: number | undefined;
  /** Reads pass through; writes and deletes are recorded and dropped. */
  dryRun?: boolean | undefined;
  /** Client-side encryption keys; undefined: writes in clear, reads refuse encrypted objects clearly. */
  encryption?: EncryptionKeys | undefined;
  /** S3 Object Lock on every put (storage/object-lock.ts); refused on other schemes. */
  objectLock?: ObjectLockPolicy | undefined;
  /** Environment to read settings from; defaults to process.env. */
  env?: Env | undefined;
  /** Injected for tests: called before each retry. */
  onRetry?:
    | ((info: { op: string; key: string; attempt: number; delayMs: number; error: unknown }) => void)
    | undefined;
}

/**
 * Opens the archive at `url`. The only place decorators are composed; the order, outermost first:
 *
 *   retry  →  encryption  →  dry-run  →  backend
 *
 * - retry is outermost so that it sees every error the layers below raise and owns the time budget
 *   (`signal`/`timeoutMs` are merged into each call's signal there, so they reach the SDK calls too);
 * - encryption sees plaintext above and sends only ciphertext below; a retried put encrypts again
 *   from the start (fresh nonces), a retried get authenticates again;
 * - dry-run sits directly on the backend: dropped writes never reach the service, reads do.
 *
 * Opening does no I/O beyond importing the backend module: the first error (missing bucket,
 * credentials) surfaces from the first operation.
 */
export async function openBackend(url: string, options: OpenOptions = {}): Promise<Backend> {
  return openLocation(parseLocation(url, options.env ?? process.env), options);
}

export async function openLocation(location: Location, options: OpenOptions = {}): Promise<Backend> {
  requireLockableLocation(location, options.objectLock);
  const located =
    location.scheme === "s3" && options.objectLock !== undefined
      ? { ...location, objectLock: options.objectLock }
      : location;
  let backend = await createBackendFor(located);
  if (options.dryRun) backend = withDryRun(backend);
  backend = withEncryption(backend, options.encryption);
  const policy: RetryPolicy =
    options.retry === false
      ? { ...DEFAULT_RETRY_POLICY, attempts: 1 }
      : { ...DEFAULT_RETRY_POLICY, ...(options.retry ?? {}) };
  const signals = [
    options.signal,
    options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
  ].filter((s): s is AbortSignal => s !== undefined);
  const signal =
    signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  return withRetry(backend, { policy, signal, onRetry: options.onRetry });
}
