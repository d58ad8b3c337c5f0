import type { Readable } from "node:stream";
import { abortableBody } from "../abortable.js";
import { refuseLateMetadata } from "../body.js";
import { putInParts } from "../parts.js";
import type { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
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
import type { S3Location } from "../location.js";
import type { BucketLockState } from "../object-lock.js";
import type {
  Backend,
  Capabilities,
  LentChunks,
  ListOptions,
  ObjectInfo,
  OpOptions,
  PutBody,
  PutOptions,
  UnfinishedUpload,
  UnfinishedUploads,
} from "../types.js";
import { networkCode } from "../network.js";

/**
 * s3:// backend on AWS SDK v3, for AWS S3 and S3-compatible servers (MinIO, SeaweedFS, ...).
 *
 * - The SDK is imported on first use (this module itself is loaded lazily by registry.ts), after
 *   silencing its Node-version warning so the hooks stay quiet.
 * - Checksums are only computed/validated when an operation requires them: S3-compatible servers
 *   differ in their support for aws-chunked framing, and we verify sha256 ourselves.
 * - The SDK does not retry (maxAttempts 1): the retry decorator does.
 * - ifAbsent uses `If-None-Match: *` (PutObject and CompleteMultipartUpload). A server answering
 *   501 NotImplemented makes the backend fall back to head-then-put for the rest of the process
 *   (`capabilities.conditionalCreate` then reads false).
 * - Bodies: bytes and streams of known length (below 5 GiB) go in one PutObject; streams of unknown
 *   length (compressed segments) go through our own multipart upload from a fixed pool of part
 *   buffers (parts.ts), one PutObject when they fit in one part.
 * - Object Lock (location.objectLock): every put carries the retention mode and a retain-until date
 *   (write time + retention) and a CRC32 checksum, which S3 requires on locked writes. A locked
 *   bucket is versioned: an unconditional put would add a second version with other bytes, so the
 *   head-then-put fallback is refused there and ifAbsent must be enforced by the service.
 */
/**
 * A 32 MiB segment compresses to about 8 MiB: with 8 MiB parts it usually goes up in one PutObject
 * instead of three requests (create, part, complete), which is what a remote S3's round trips
 * charge for. Two buffers, one being sent while the next fills, bound the upload's memory at
 * 16 MiB whatever the body's size: BENCHMARKS.md's memory target compares 32 and 128 MiB segments.
 * 5 MiB parts (S3's smallest) would hold 10 MiB, at the cost of three requests per segment.
 */
const PART_SIZE = 8 * 1024 * 1024;
const PART_BUFFERS = 2;
const ABORT_UPLOAD_TIMEOUT_MS = 10_000;
const SINGLE_PUT_LIMIT = 5 * 1024 * 1024 * 1024;

type Sdk = typeof import("@aws-sdk/client-s3");

interface Clients {
  readonly sdk: Sdk;
  readonly client: S3Client;
}

const TRANSIENT_NAMES = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "ServiceUnavailable",
  "InternalError",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
]);
const DENIED_NAMES = new Set([
  "AccessDenied",
  "Forbidden",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidToken",
  "ExpiredToken",
  "AllAccessDisabled",
  "CredentialsProviderError",
]);

export class S3Backend implements Backend {
  readonly scheme = "s3" as const;
  readonly displayLocation: string;
  private conditionalSupported = true;
  private clients: Promise<Clients> | undefined;
  readonly unfinishedUploads: UnfinishedUploads;

  constructor(private readonly location: S3Location) {
    this.displayLocation = location.display;
    this.unfinishedUploads = {
      list: (prefix, options) => this.listUploads(prefix, options),
      lastPartAt: (upload, options) => this.lastPartAt(upload, options),
      abort: (upload, options) => this.abortUpload(upload, options),
    };
  }

  get capabilities(): Capabilities {
    return {
      conditionalCreate: this.conditionalSupported,
      maxConnections: 16,
      lateMetadata: false,
      retention: true,
    };
  }

  /** Builds the client once; a construction failure is cached and reported the same way each time. */
  private getClients(): Promise<Clients> {
    this.clients ??= (async () => {
      process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
      const sdk = await import("@aws-sdk/client-s3");
      const loc = this.location;
      const client = new sdk.S3Client({
        region: loc.region,
        ...(loc.endpoint === undefined ? {} : { endpoint: loc.endpoint }),
        forcePathStyle: loc.forcePathStyle,
        ...(loc.credentials === undefined
          ? {}
          : {
              credentials: {
                accessKeyId: loc.credentials.accessKeyId,
                secretAccessKey: loc.credentials.secretAccessKey,
                ...(loc.credentials.sessionToken === undefined
                  ? {}
                  : { sessionToken: loc.credentials.sessionToken }),
              },
            }),
        maxAttempts: 1,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
      });
      return { sdk, client };
    })();
    return this.clients;
  }

  /** The lock headers of a put, or none (no policy, or the put asked for none). */
  private lockParams(options: PutOptions): {
    ObjectLockMode?: "GOVERNANCE" | "COMPLIANCE";
    ObjectLockRetainUntilDate?: Date;
    ChecksumAlgorithm?: "CRC32";
  } {
    const lock = this.location.objectLock;
    if (lock === undefined || options.retain === false) return {};
    return {
      ObjectLockMode: lock.mode === "compliance" ? "COMPLIANCE" : "GOVERNANCE",
      ObjectLockRetainUntilDate: new Date(Date.now() + lock.retentionMs),
      ChecksumAlgorithm: "CRC32",
    };
  }

  private objectKey(key: string): string {
    return joinKey(this.location.prefix, key);
  }

  /** The one place SDK errors are interpreted. */
  private toStorageError(err: unknown, op: string, key: string, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof PitrError) return err;
    const e = err as Partial<S3ServiceException> & { name?: string; code?: string };
    const name = e.name ?? "";
    const status = e.$metadata?.httpStatusCode;
    const what = `${op} '${key}'`;
    const detail = `${what}: ${name || "error"}${status ? ` (HTTP ${status})` : ""}`;
    if (name === "AbortError") return err;
    if (name === "NoSuchBucket") {
      return new ArchiveMissingError(this.displayLocation, `bucket '${this.location.bucket}' not found`, {
        cause: err,
      });
    }
    if (name === "NoSuchKey" || name === "NotFound" || (status === 404 && name !== "NoSuchUpload")) {
      return new ObjectNotFoundError(this.displayLocation, key, { cause: err });
    }
    if (name === "ConditionalRequestConflict") {
      // AWS: a concurrent conditional write to the same key is in progress; a retry resolves it.
      return new TransientStorageError(this.displayLocation, detail, { cause: err });
    }
    if (name === "PreconditionFailed" || status === 412) {
      return new PreconditionFailedError(this.displayLocation, key, { cause: err });
    }
    if (/WORM protected|ObjectLocked/i.test(`${name} ${err instanceof Error ? err.message : ""}`)) {
      // MinIO answers 400 InvalidRequest, AWS 403 AccessDenied: either way the lock holds.
      return new AccessDeniedError(
        this.displayLocation,
        `${what}: the object is under object-lock retention`,
        {
          cause: err,
          hint: "locked objects can be removed only after their retain-until date (docs/least-privilege.md)",
        },
      );
    }
    if (
      name === "InvalidRequest" &&
      /ObjectLockConfiguration|object lock/i.test(err instanceof Error ? err.message : "")
    ) {
      return new StorageError(
        this.displayLocation,
        `${what}: the bucket '${this.location.bucket}' does not have object lock enabled`,
        {
          cause: err,
          hint: "create the bucket with object lock enabled, or set objectLock: none (cassandra-pitr check tells)",
        },
      );
    }
    if (DENIED_NAMES.has(name) || status === 403 || status === 401) {
      return new AccessDeniedError(this.displayLocation, detail, { cause: err });
    }
    const net = networkCode(err);
    if (net !== undefined)
      return new TransientStorageError(this.displayLocation, `${what}: ${net}`, { cause: err });
    if (
      TRANSIENT_NAMES.has(name) ||
      e.$retryable !== undefined ||
      (status !== undefined && (status >= 500 || status === 429))
    ) {
      return new TransientStorageError(this.displayLocation, detail, { cause: err });
    }
    if (status === undefined && e.$metadata === undefined && !(err instanceof Error && "$fault" in err)) {
      // Not a service answer: a client-side failure such as a dropped connection.
      const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
      return new TransientStorageError(this.displayLocation, `${what}: ${message}`, { cause: err });
    }
    return new StorageError(this.displayLocation, detail, { cause: err });
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    refuseLateMetadata(options, this.scheme);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const { sdk, client } = await this.getClients();
      const conditional = options.ifAbsent === true && this.conditionalSupported;
      if (options.ifAbsent === true && !conditional) await this.assertAbsent(key, signal);
      const params = {
        Bucket: this.location.bucket,
        Key: this.objectKey(key),
        Metadata: { ...(options.metadata ?? {}) },
        ...(conditional ? { IfNoneMatch: "*" } : {}),
        ...this.lockParams(options),
      };
      const sendOptions = signal ? { abortSignal: signal } : {};
      const length = body instanceof Uint8Array ? body.byteLength : options.contentLength;
      try {
        if (
          body instanceof Uint8Array ||
          (length !== undefined && length <= SINGLE_PUT_LIMIT && !("lent" in body))
        ) {
          // Bytes, or a stream of known length: one PutObject, streamed as it comes.
          await client.send(
            new sdk.PutObjectCommand({ ...params, Body: body, ContentLength: length }),
            sendOptions,
          );
        } else {
          await this.putMultipart(sdk, client, params, body, sendOptions);
        }
      } catch (err) {
        const name = (err as { name?: string }).name;
        const status = (err as Partial<S3ServiceException>).$metadata?.httpStatusCode;
        if (
          conditional &&
          (name === "NotImplemented" || status === 501) &&
          this.location.objectLock !== undefined
        ) {
          throw new StorageError(
            this.displayLocation,
            `put '${key}': the server does not support conditional writes (If-None-Match)`,
            {
              hint: "objectLock needs them: on a versioned bucket a second put would add a version with other bytes",
            },
          );
        }
        if (conditional && (name === "NotImplemented" || status === 501) && body instanceof Uint8Array) {
          // The server does not implement conditional writes: head-then-put from now on.
          this.conditionalSupported = false;
          return await this.put(key, body, options);
        }
        throw err;
      }
    } catch (err) {
      throw this.toStorageError(err, "put", key, signal);
    }
  }

  /**
   * A stream of unknown length (a compressed segment): parts from a fixed pool of buffers
   * (parts.ts), so memory does not grow with the object. A body that fits in one part is one
   * PutObject. `If-None-Match: *` goes on CompleteMultipartUpload; any failure aborts the upload so
   * no parts are left behind.
   */
  private async putMultipart(
    sdk: Sdk,
    client: S3Client,
    params: {
      Bucket: string;
      Key: string;
      Metadata: Record<string, string>;
      IfNoneMatch?: string;
      ChecksumAlgorithm?: "CRC32";
    },
    body: Readable | LentChunks,
    sendOptions: { abortSignal?: AbortSignal },
  ): Promise<void> {
    const { IfNoneMatch, ...create } = params;
    let uploadId: string | undefined;
    try {
      const parts = await putInParts(
        body,
        {
          single: async (bytes) => {
            await client.send(
              new sdk.PutObjectCommand({ ...params, Body: bytes, ContentLength: bytes.length }),
              sendOptions,
            );
          },
          begin: async () => {
            uploadId = (await client.send(new sdk.CreateMultipartUploadCommand(create), sendOptions))
              .UploadId;
            if (uploadId === undefined)
              throw new StorageError(
                this.displayLocation,
                `put '${params.Key}': CreateMultipartUpload returned no UploadId`,
              );
          },
          part: async (bytes, partNumber) => {
            const checksum =
              params.ChecksumAlgorithm === undefined ? {} : { ChecksumAlgorithm: params.ChecksumAlgorithm };
            const out = await client.send(
              new sdk.UploadPartCommand({
                Bucket: params.Bucket,
                Key: params.Key,
                UploadId: uploadId,
                PartNumber: partNumber,
                Body: bytes,
                ContentLength: bytes.length,
                ...checksum,
              }),
              sendOptions,
            );
            // A locked upload carries a checksum per part, which the completion must repeat.
            return {
              PartNumber: partNumber,
              ETag: out.ETag,
              ...(out.ChecksumCRC32 === undefined ? {} : { ChecksumCRC32: out.ChecksumCRC32 }),
            };
          },
        },
        { partSize: PART_SIZE, buffers: PART_BUFFERS, signal: sendOptions.abortSignal },
      );
      if (parts === undefined) return;
      await client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...(IfNoneMatch === undefined ? {} : { IfNoneMatch }),
        }),
        sendOptions,
      );
    } catch (err) {
      if (uploadId !== undefined) {
        // Bounded on its own: the caller's signal may be what failed the upload.
        const abort = new sdk.AbortMultipartUploadCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: uploadId,
        });
        await client
          .send(abort, { abortSignal: AbortSignal.timeout(ABORT_UPLOAD_TIMEOUT_MS) })
          .catch(() => undefined);
      }
      throw err;
    }
  }

  private async assertAbsent(key: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.head(key, signal ? { signal } : {});
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return;
      throw err;
    }
    throw new PreconditionFailedError(this.displayLocation, key);
  }

  async get(key: string, options: OpOptions = {}): Promise<Readable> {
    validateKey(key);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const { sdk, client } = await this.getClients();
      const out = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }),
        signal ? { abortSignal: signal } : {},
      );
      const body = out.Body as Readable | undefined;
      if (body === undefined)
        throw new StorageError(this.displayLocation, `get '${key}': empty response body`);
      return abortableBody(body, signal);
    } catch (err) {
      throw this.toStorageError(err, "get", key, signal);
    }
  }

  async head(key: string, options: OpOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const { sdk, client } = await this.getClients();
      let out;
      try {
        out = await client.send(
          new sdk.HeadObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (err) {
        // HEAD has no error body: a 404 may mean a missing bucket. Ask once, only on this path.
        if ((err as Partial<S3ServiceException>).$metadata?.httpStatusCode === 404)
          await this.assertBucket(signal);
        throw err;
      }
      const mode =
        out.ObjectLockMode === "COMPLIANCE"
          ? "compliance"
          : out.ObjectLockMode === "GOVERNANCE"
            ? "governance"
            : undefined;
      return {
        key,
        size: out.ContentLength ?? 0,
        modified: out.LastModified,
        metadata: { ...(out.Metadata ?? {}) },
        ...(mode !== undefined && out.ObjectLockRetainUntilDate !== undefined
          ? { retention: { mode, until: out.ObjectLockRetainUntilDate } }
          : {}),
        ...(out.VersionId !== undefined && out.VersionId !== "null" ? { versionId: out.VersionId } : {}),
      };
    } catch (err) {
      throw this.toStorageError(err, "head", key, signal);
    }
  }

  private async assertBucket(signal: AbortSignal | undefined): Promise<void> {
    const { sdk, client } = await this.getClients();
    try {
      await client.send(
        new sdk.HeadBucketCommand({ Bucket: this.location.bucket }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      if ((err as Partial<S3ServiceException>).$metadata?.httpStatusCode === 404) {
        throw new ArchiveMissingError(this.displayLocation, `bucket '${this.location.bucket}' not found`, {
          cause: err,
        });
      }
      // Anything else: report the original HEAD failure.
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const { signal, startAfter } = options;
    const base = this.location.prefix === "" ? "" : `${this.location.prefix}/`;
    let token: string | undefined;
    do {
      let page;
      try {
        if (signal?.aborted) throw signal.reason;
        const { sdk, client } = await this.getClients();
        page = await client.send(
          new sdk.ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: base + prefix,
            MaxKeys: 1000,
            ...(token !== undefined
              ? { ContinuationToken: token }
              : startAfter !== undefined
                ? { StartAfter: base + startAfter }
                : {}),
          }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (err) {
        throw this.toStorageError(err, "list", prefix, signal);
      }
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined || !item.Key.startsWith(base)) continue;
        const key = item.Key.slice(base.length);
        if (key === "" || key.endsWith("/")) continue; // "directory" markers made by other tools
        if (startAfter !== undefined && key <= startAfter) continue;
        yield { key, size: item.Size ?? 0, modified: item.LastModified, metadata: {} };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(key: string, options: OpOptions = {}): Promise<void> {
    validateKey(key);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const { sdk, client } = await this.getClients();
      await client.send(
        new sdk.DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      const mapped = this.toStorageError(err, "delete", key, signal);
      if (mapped instanceof ObjectNotFoundError) return;
      throw mapped;
    }
  }

  /**
   * Unfinished multipart uploads under `prefix`. They hold no object, so no lock applies to them:
   * aborting one is allowed on an Object Lock bucket too.
   *
   * Listed from a key marker, not with `Prefix`: MinIO answers a prefix that is not a whole key
   * with no uploads at all (it lists one key's uploads, or the whole bucket's, ignoring the
   * marker, in one answer that is not in key order). AWS starts after the marker and pages by 1000
   * in key order. Either way the keys outside `prefix` are skipped here, and no further page is
   * asked for once a page ends past the prefix.
   */
  private async *listUploads(prefix: string, options: OpOptions = {}): AsyncIterable<UnfinishedUpload> {
    validatePrefix(prefix);
    const { signal } = options;
    const base = this.location.prefix === "" ? "" : `${this.location.prefix}/`;
    const wanted = base + prefix;
    let marker: { KeyMarker?: string; UploadIdMarker?: string } = wanted === "" ? {} : { KeyMarker: wanted };
    for (;;) {
      let page;
      try {
        if (signal?.aborted) throw signal.reason;
        const { sdk, client } = await this.getClients();
        page = await client.send(
          new sdk.ListMultipartUploadsCommand({ Bucket: this.location.bucket, MaxUploads: 1000, ...marker }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (err) {
        throw this.toStorageError(err, "list unfinished uploads of", prefix, signal);
      }
      for (const u of page.Uploads ?? []) {
        // Without a start time an upload cannot be shown to be old: left alone.
        if (u.Key === undefined || u.UploadId === undefined || u.Initiated === undefined) continue;
        if (!u.Key.startsWith(wanted)) continue;
        yield { key: u.Key.slice(base.length), uploadId: u.UploadId, initiated: u.Initiated };
      }
      const last = page.Uploads?.at(-1)?.Key;
      if (!page.IsTruncated || page.NextKeyMarker === undefined) return;
      if (last !== undefined && last > wanted && !last.startsWith(wanted)) return;
      marker = {
        KeyMarker: page.NextKeyMarker,
        ...(page.NextUploadIdMarker === undefined ? {} : { UploadIdMarker: page.NextUploadIdMarker }),
      };
    }
  }

  /** The newest part's time (ListParts, at most 10 pages of 1000: S3 allows 10,000 parts); undefined: no part, or the upload is gone. */
  private async lastPartAt(upload: UnfinishedUpload, options: OpOptions = {}): Promise<Date | undefined> {
    const { signal } = options;
    let newest: Date | undefined;
    let marker: string | undefined;
    let pages = 0;
    try {
      const { sdk, client } = await this.getClients();
      do {
        if (signal?.aborted) throw signal.reason;
        const page = await client.send(
          new sdk.ListPartsCommand({
            Bucket: this.location.bucket,
            Key: this.objectKey(upload.key),
            UploadId: upload.uploadId,
            ...(marker === undefined ? {} : { PartNumberMarker: marker }),
          }),
          signal ? { abortSignal: signal } : {},
        );
        for (const part of page.Parts ?? [])
          if (part.LastModified && (newest === undefined || part.LastModified > newest))
            newest = part.LastModified;
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker !== undefined && ++pages < 10);
      return newest;
    } catch (err) {
      if ((err as { name?: string }).name === "NoSuchUpload") return undefined;
      throw this.toStorageError(err, "list the parts of the unfinished upload of", upload.key, signal);
    }
  }

  private async abortUpload(upload: UnfinishedUpload, options: OpOptions = {}): Promise<void> {
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const { sdk, client } = await this.getClients();
      await client.send(
        new sdk.AbortMultipartUploadCommand({
          Bucket: this.location.bucket,
          Key: this.objectKey(upload.key),
          UploadId: upload.uploadId,
        }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      if ((err as { name?: string }).name === "NoSuchUpload") return; // completed or aborted meanwhile
      throw this.toStorageError(err, "abort the unfinished upload of", upload.key, signal);
    }
  }

  /** Whether the bucket has object lock enabled, and its default retention (for `check`). */
  async bucketLockState(options: OpOptions = {}): Promise<BucketLockState> {
    const { signal } = options;
    try {
      const { sdk, client } = await this.getClients();
      const out = await client.send(
        new sdk.GetObjectLockConfigurationCommand({ Bucket: this.location.bucket }),
        signal ? { abortSignal: signal } : {},
      );
      const rule = out.ObjectLockConfiguration?.Rule?.DefaultRetention;
      const span =
        rule?.Days !== undefined
          ? `${rule.Days} days`
          : rule?.Years !== undefined
            ? `${rule.Years} years`
            : undefined;
      return {
        enabled: out.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled",
        defaultRetention: rule?.Mode !== undefined && span !== undefined ? `${rule.Mode} ${span}` : undefined,
      };
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === "ObjectLockConfigurationNotFoundError") return { enabled: false };
      throw this.toStorageError(err, "get object lock configuration of", this.location.bucket, signal);
    }
  }

  async close(): Promise<void> {
    const clients = this.clients;
    this.clients = undefined;
    if (clients) (await clients.catch(() => undefined))?.client.destroy();
  }
}

export function createBackend(location: S3Location): S3Backend {
  return new S3Backend(location);
}
