import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { abortableBody } from "../abortable.js";
import { putInParts } from "../parts.js";
import type { ContainerClient, RestError } from "@azure/storage-blob";
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
import type { AzureLocation } from "../location.js";
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
 * az:// backend on @azure/storage-blob (block blobs).
 *
 * - Credentials, in order: AZURE_STORAGE_CONNECTION_STRING (carries its own endpoint), else
 *   AZURE_STORAGE_KEY (shared key for the URL's account), else a SAS token, else anonymous.
 *   CASSANDRA_PITR_AZURE_ENDPOINT replaces https://<account>.blob.core.windows.net (Azurite).
 * - The SDK tries each request once (our retry decorator retries).
 * - ifAbsent uses `If-None-Match: *`; for streamed uploads it applies to the final block commit,
 *   which also carries the metadata (so `lateMetadata` is supported).
 * - Metadata names must be C# identifiers: our lowercase [a-z0-9_] names starting with a letter.
 */
/**
 * Streamed bodies are staged in blocks from a pool of two 4 MiB buffers (parts.ts), then committed
 * with the metadata, so memory does not grow with the object; a body that fits in one block is one
 * Put Blob. A 32 MiB segment compresses to about 8 MiB, two blocks. 8 MiB blocks would make that one
 * request, but the Azure SDK keeps more per request than S3's: in a one-off run with 8 MiB blocks
 * peak RSS grew 13 MiB from a 32 to a 128 MiB segment, over BENCHMARKS.md's 8 MiB bound.
 */
const BLOCK_SIZE = 4 * 1024 * 1024;
const BLOCK_BUFFERS = 2;

export class AzureBackend implements Backend {
  readonly scheme = "az" as const;
  readonly displayLocation: string;
  readonly capabilities: Capabilities = {
    conditionalCreate: true,
    maxConnections: 16,
    lateMetadata: true,
    retention: false,
  };
  private container: Promise<ContainerClient> | undefined;

  constructor(private readonly location: AzureLocation) {
    this.displayLocation = location.display;
  }

  /** Builds the client once; a construction failure is cached and reported the same way each time. */
  private getContainer(): Promise<ContainerClient> {
    this.container ??= (async () => {
      const sdk = await import("@azure/storage-blob");
      const loc = this.location;
      const pipelineOptions = {
        retryOptions: { maxTries: 1 },
        userAgentOptions: { userAgentPrefix: "cassandra-pitr" },
      };
      let service;
      if (loc.connectionString !== undefined) {
        service = sdk.BlobServiceClient.fromConnectionString(loc.connectionString, pipelineOptions);
      } else if (loc.accountKey !== undefined) {
        const credential = new sdk.StorageSharedKeyCredential(loc.account, loc.accountKey);
        service = new sdk.BlobServiceClient(loc.serviceUrl, credential, pipelineOptions);
      } else {
        const url = loc.sasToken === undefined ? loc.serviceUrl : `${loc.serviceUrl}?${loc.sasToken}`;
        service = new sdk.BlobServiceClient(url, new sdk.AnonymousCredential(), pipelineOptions);
      }
      return service.getContainerClient(loc.container);
    })();
    return this.container;
  }

  private name(key: string): string {
    return joinKey(this.location.prefix, key);
  }

  /** The one place SDK errors are interpreted. */
  private toStorageError(err: unknown, op: string, key: string, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof PitrError) return err;
    const e = err as Partial<RestError> & { name?: string; code?: string; details?: { errorCode?: string } };
    if (e.name === "AbortError") return err;
    const status = e.statusCode;
    const code = e.code ?? e.details?.errorCode ?? "";
    const what = `${op} '${key}'`;
    const detail = `${what}: ${code || "error"}${status ? ` (HTTP ${status})` : ""}`;
    if (code === "ContainerNotFound") {
      return new ArchiveMissingError(
        this.displayLocation,
        `container '${this.location.container}' not found`,
        { cause: err },
      );
    }
    if (code === "BlobNotFound" || status === 404)
      return new ObjectNotFoundError(this.displayLocation, key, { cause: err });
    if (code === "BlobAlreadyExists" || code === "ConditionNotMet" || status === 409 || status === 412) {
      return new PreconditionFailedError(this.displayLocation, key, { cause: err });
    }
    if (
      status === 401 ||
      status === 403 ||
      /^Authentication|^Authorization|InvalidAuthenticationInfo/.test(code)
    ) {
      return new AccessDeniedError(this.displayLocation, detail, { cause: err });
    }
    const net = networkCode(err);
    if (net !== undefined)
      return new TransientStorageError(this.displayLocation, `${what}: ${net}`, { cause: err });
    if (status !== undefined && (status >= 500 || status === 429 || status === 408)) {
      return new TransientStorageError(this.displayLocation, detail, { cause: err });
    }
    if (status === undefined) {
      const message = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 200) : String(err);
      return new TransientStorageError(this.displayLocation, `${what}: ${message}`, { cause: err });
    }
    return new StorageError(this.displayLocation, detail, { cause: err });
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const blob = (await this.getContainer()).getBlockBlobClient(this.name(key));
      // Asked for only once the body is read: the metadata goes with the last request either way.
      const common = () => ({
        metadata: { ...(options.metadata ?? {}), ...(options.lateMetadata?.() ?? {}) },
        ...(options.ifAbsent ? { conditions: { ifNoneMatch: "*" } } : {}),
        ...(signal ? { abortSignal: signal } : {}),
      });
      if (body instanceof Uint8Array) {
        await blob.upload(body, body.byteLength, common());
        return;
      }
      // Block ids are unique per upload (two racing puts of one key must not stage over each other's
      // blocks) and as long as the SDK's own (48 characters before base64): all of a blob's block
      // ids must have one length, and a failed upload's uncommitted blocks linger for a week.
      const upload = randomUUID();
      const ids: string[] = [];
      const staged = await putInParts(
        body,
        {
          single: async (bytes) => {
            await blob.upload(bytes, bytes.length, common());
          },
          begin: async () => undefined,
          part: async (bytes, n) => {
            const id = Buffer.from(`${upload}${String(n).padStart(12, "0")}`).toString("base64");
            await blob.stageBlock(id, bytes, bytes.length, signal ? { abortSignal: signal } : {});
            ids[n - 1] = id;
          },
        },
        { partSize: BLOCK_SIZE, buffers: BLOCK_BUFFERS, signal },
      );
      if (staged !== undefined) await blob.commitBlockList(ids, common());
    } catch (err) {
      throw this.toStorageError(err, "put", key, signal);
    }
  }

  async get(key: string, options: OpOptions = {}): Promise<Readable> {
    validateKey(key);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const blob = (await this.getContainer()).getBlockBlobClient(this.name(key));
      const res = await blob.download(0, undefined, {
        ...(signal ? { abortSignal: signal } : {}),
        maxRetryRequests: 0,
      });
      const body = res.readableStreamBody as Readable | undefined;
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
      const blob = (await this.getContainer()).getBlockBlobClient(this.name(key));
      const props = await blob.getProperties(signal ? { abortSignal: signal } : {});
      return {
        key,
        size: props.contentLength ?? 0,
        modified: props.lastModified,
        metadata: { ...(props.metadata ?? {}) },
      };
    } catch (err) {
      throw this.toStorageError(err, "head", key, signal);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const { signal, startAfter } = options;
    const base = this.location.prefix === "" ? "" : `${this.location.prefix}/`;
    let pages;
    try {
      if (signal?.aborted) throw signal.reason;
      const container = await this.getContainer();
      pages = container
        .listBlobsFlat({
          prefix: base + prefix,
          includeMetadata: true,
          ...(signal ? { abortSignal: signal } : {}),
        })
        .byPage({ maxPageSize: 1000 });
    } catch (err) {
      throw this.toStorageError(err, "list", prefix, signal);
    }
    for (;;) {
      let page;
      try {
        if (signal?.aborted) throw signal.reason;
        page = await pages.next();
      } catch (err) {
        throw this.toStorageError(err, "list", prefix, signal);
      }
      if (page.done) return;
      for (const item of page.value.segment.blobItems) {
        if (!item.name.startsWith(base)) continue;
        const key = item.name.slice(base.length);
        if (key === "" || key.endsWith("/") || (startAfter !== undefined && key <= startAfter)) continue;
        yield {
          key,
          size: item.properties.contentLength ?? 0,
          modified: item.properties.lastModified,
          metadata: { ...(item.metadata ?? {}) },
        };
      }
    }
  }

  async delete(key: string, options: OpOptions = {}): Promise<void> {
    validateKey(key);
    const { signal } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      const blob = (await this.getContainer()).getBlockBlobClient(this.name(key));
      await blob.deleteIfExists(signal ? { abortSignal: signal } : {});
    } catch (err) {
      throw this.toStorageError(err, "delete", key, signal);
    }
  }

  async close(): Promise<void> {
    this.container = undefined;
  }
}

export function createBackend(location: AzureLocation): Backend {
  return new AzureBackend(location);
}
