import { Readable } from "node:stream";
import { abortableBody } from "../abortable.js";
import { ownedStream, refuseLateMetadata } from "../body.js";
import { pipeline } from "node:stream/promises";
import type { Bucket, Storage } from "@google-cloud/storage";
import { PitrError } from "../../errors/base.js";
import {
  AccessDeniedError,
  ArchiveMissingError,
  ObjectNotFoundError,
  PreconditionFailedError,
  StorageError,
  TransientStorageError,
} from "../errors.js";
import { joinKey, validateKey, validatePrefix } from "../key.js";
import type { GcsLocation } from "../location.js";
import type {
  Backend,
  Capabilities,
  ListOptions,
  ObjectInfo,
  OpOptions,
  PutBody,
  PutOptions,
} from "../types.js";
import { networkCode } from "../network.js";

/**
 * gs:// backend on @google-cloud/storage.
 *
 * - The library's own retries are off (the retry decorator retries); uploads are single-request
 *   (resumable: false) and the library's crc32c/md5 validation is off (callers verify sha256).
 * - ifAbsent uses the precondition ifGenerationMatch=0, enforced by the service.
 * - STORAGE_EMULATOR_HOST (read into the location) points at an emulator such as fake-gcs-server;
 *   the library then sends no credentials. Otherwise Application Default Credentials apply.
 * - The library does not take AbortSignals: an abort rejects the pending call at once and destroys
 *   any stream; a request already sent may still complete on the server.
 */
function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  if (typeof e.code === "number") return e.code;
  if (typeof e.status === "number") return e.status;
  if (typeof e.response?.status === "number") return e.response.status;
  return undefined;
}

/** Rejects with the signal's reason as soon as it aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

export class GcsBackend implements Backend {
  readonly scheme = "gs" as const;
  readonly displayLocation: string;
  readonly capabilities: Capabilities = {
    conditionalCreate: true,
    maxConnections: 16,
    lateMetadata: false,
    retention: false,
  };
  private client: Promise<{ storage: Storage; bucket: Bucket }> | undefined;

  constructor(private readonly location: GcsLocation) {
    this.displayLocation = location.display;
  }

  private getBucket(): Promise<Bucket> {
    this.client ??= (async () => {
      const { Storage } = await import("@google-cloud/storage");
      const loc = this.location;
      // With STORAGE_EMULATOR_HOST in process.env the library uses that string verbatim as its JSON
      // API base (ignoring apiEndpoint); hide it during construction so the location decides.
      const saved = process.env["STORAGE_EMULATOR_HOST"];
      delete process.env["STORAGE_EMULATOR_HOST"];
      let storage: Storage;
      try {
        storage = new Storage({
          ...(loc.apiEndpoint === undefined ? {} : { apiEndpoint: loc.apiEndpoint }),
          ...(loc.projectId === undefined ? {} : { projectId: loc.projectId }),
          retryOptions: { autoRetry: false, maxRetries: 0 },
        });
      } finally {
        if (saved !== undefined) process.env["STORAGE_EMULATOR_HOST"] = saved;
      }
      return { storage, bucket: storage.bucket(loc.bucket) };
    })();
    return this.client.then((c) => c.bucket);
  }

  private name(key: string): string {
    return joinKey(this.location.prefix, key);
  }

  /** The one place library errors are interpreted. `missingMeans` says what a 404 is for this call. */
  private toStorageError(
    err: unknown,
    op: string,
    key: string,
    signal: AbortSignal | undefined,
    missingMeans: "object" | "bucket",
  ): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof PitrError) return err;
    if (err instanceof Error && err.name === "AbortError") return err;
    const status = statusOf(err);
    const what = `${op} '${key}'`;
    const message = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 200) : String(err);
    if (status === 404) {
      if (missingMeans === "bucket" || /bucket/i.test(message)) {
        return new ArchiveMissingError(this.displayLocation, `bucket '${this.location.bucket}' not found`, {
          cause: err,
        });
      }
      return new ObjectNotFoundError(this.displayLocation, key, { cause: err });
    }
    if (status === 412) return new PreconditionFailedError(this.displayLocation, key, { cause: err });
    if (status === 401 || status === 403)
      return new AccessDeniedError(this.displayLocation, `${what}: HTTP ${status}`, { cause: err });
    const net = networkCode(err);
    if (net !== undefined)
      return new TransientStorageError(this.displayLocation, `${what}: ${net}`, { cause: err });
    if (status !== undefined && (status >= 500 || status === 429 || status === 408)) {
      return new TransientStorageError(this.displayLocation, `${what}: HTTP ${status}`, { cause: err });
    }
    if (/Could not load the default credentials|invalid_grant|unauthorized/i.test(message)) {
      return new AccessDeniedError(this.displayLocation, `${what}: no usable Google credentials`, {
        cause: err,
      });
    }
    return new StorageError(this.displayLocation, `${what}: ${status ? `HTTP ${status}` : message}`, {
      cause: err,
    });
  }

  /** After a 404 on an object call, tells a missing bucket from a missing object (error path only). */
  private async missingBucket(bucket: Bucket): Promise<boolean> {
    try {
      const [exists] = await bucket.exists();
      return !exists;
    } catch {
      return false;
    }
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    refuseLateMetadata(options, this.scheme);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const bucket = await this.getBucket();
      const file = bucket.file(this.name(key));
      const writeOptions = {
        resumable: false,
        validation: false as const,
        metadata: { metadata: { ...(options.metadata ?? {}) } },
        ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      };
      const source =
        body instanceof Uint8Array
          ? Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)])
          : ownedStream(body);
      await pipeline(source, file.createWriteStream(writeOptions), signal ? { signal } : {});
    } catch (err) {
      // Uploads to a missing bucket answer 404.
      throw this.toStorageError(err, "put", key, signal, "bucket");
    }
  }

  async get(key: string, options: OpOptions = {}): Promise<Readable> {
    validateKey(key);
    const { signal } = options;
    let bucket: Bucket | undefined;
    try {
      if (signal?.aborted) throw signal.reason;
      bucket = await this.getBucket();
      const stream = bucket.file(this.name(key)).createReadStream({ validation: false, decompress: false });
      // The request starts on the first read; wait for a successful status before returning.
      await raceSignal(
        new Promise<void>((resolve, reject) => {
          const onError = (err: unknown) => reject(err);
          stream.once("error", onError);
          stream.once("response", (res: { statusCode?: number; status?: number }) => {
            const code = res.statusCode ?? res.status ?? 200;
            if (code < 300) {
              stream.off("error", onError);
              resolve();
            }
          });
          stream.read(0);
        }),
        signal,
      ).catch((err: unknown) => {
        stream.destroy();
        throw err;
      });
      return abortableBody(stream, signal);
    } catch (err) {
      if (statusOf(err) === 404 && bucket && (await this.missingBucket(bucket))) {
        throw this.toStorageError(err, "get", key, signal, "bucket");
      }
      throw this.toStorageError(err, "get", key, signal, "object");
    }
  }

  async head(key: string, options: OpOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    const { signal } = options;
    let bucket: Bucket | undefined;
    try {
      if (signal?.aborted) throw signal.reason;
      bucket = await this.getBucket();
      const [meta] = await raceSignal(bucket.file(this.name(key)).getMetadata(), signal);
      return {
        key,
        size: Number(meta.size ?? 0),
        modified: meta.updated ? new Date(meta.updated) : undefined,
        metadata: stringValues(meta.metadata),
      };
    } catch (err) {
      if (statusOf(err) === 404 && bucket && (await this.missingBucket(bucket))) {
        throw this.toStorageError(err, "head", key, signal, "bucket");
      }
      throw this.toStorageError(err, "head", key, signal, "object");
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const { signal, startAfter } = options;
    const base = this.location.prefix === "" ? "" : `${this.location.prefix}/`;
    let pageToken: string | undefined;
    do {
      let files;
      let next: { pageToken?: string } | null | undefined;
      try {
        if (signal?.aborted) throw signal.reason;
        const bucket = await this.getBucket();
        [files, next] = await raceSignal(
          bucket.getFiles({
            prefix: base + prefix,
            autoPaginate: false,
            maxResults: 1000,
            ...(pageToken !== undefined ? { pageToken } : {}),
            ...(startAfter !== undefined ? { startOffset: base + startAfter } : {}),
          }),
          signal,
        );
      } catch (err) {
        throw this.toStorageError(err, "list", prefix, signal, "bucket");
      }
      const page = files
        .map((f) => ({ key: f.name.slice(base.length), file: f }))
        .filter(
          ({ key, file }) =>
            file.name.startsWith(base) &&
            key !== "" &&
            !key.endsWith("/") &&
            (startAfter === undefined || key > startAfter),
        )
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const { key, file } of page) {
        const meta = file.metadata;
        yield {
          key,
          size: Number(meta.size ?? 0),
          modified: meta.updated ? new Date(meta.updated) : undefined,
          metadata: stringValues(meta.metadata),
        };
      }
      pageToken = next?.pageToken;
    } while (pageToken !== undefined);
  }

  async delete(key: string, options: OpOptions = {}): Promise<void> {
    validateKey(key);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const bucket = await this.getBucket();
      await raceSignal(bucket.file(this.name(key)).delete({ ignoreNotFound: true }), signal);
    } catch (err) {
      const mapped = this.toStorageError(err, "delete", key, signal, "object");
      if (mapped instanceof ObjectNotFoundError) return;
      throw mapped;
    }
  }

  async close(): Promise<void> {
    this.client = undefined;
  }
}

function stringValues(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (input && typeof input === "object") {
    for (const [k, v] of Object.entries(input as Record<string, unknown>))
      if (typeof v === "string") out[k] = v;
  }
  return out;
}

export function createBackend(location: GcsLocation): Backend {
  return new GcsBackend(location);
}
