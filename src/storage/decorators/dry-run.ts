import { Readable } from "node:stream";
import type {
  Backend,
  ListOptions,
  ObjectInfo,
  OpOptions,
  PutBody,
  PutOptions,
  UnfinishedUploads,
} from "../types.js";

export interface DryRunRecord {
  readonly op: "put" | "delete" | "abort-upload";
  readonly key: string;
  readonly ifAbsent?: boolean;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Reads pass through to the wrapped backend; `put`, `delete` and aborts of unfinished uploads are recorded in `records` and
 * dropped (restic's dry backend). A streamed put body is drained so producers do not stall.
 */
export class DryRunBackend implements Backend {
  readonly records: DryRunRecord[] = [];

  constructor(private readonly inner: Backend) {}

  get scheme() {
    return this.inner.scheme;
  }
  get displayLocation() {
    return this.inner.displayLocation;
  }
  get capabilities() {
    return this.inner.capabilities;
  }
  /** Listed as they are; an abort is recorded and dropped like a delete. */
  get unfinishedUploads(): UnfinishedUploads | undefined {
    const inner = this.inner.unfinishedUploads;
    if (inner === undefined) return undefined;
    return {
      list: (prefix, options) => inner.list(prefix, options),
      lastPartAt: (upload, options) => inner.lastPartAt(upload, options),
      abort: async (upload) => {
        this.records.push({ op: "abort-upload", key: upload.key });
      },
    };
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    if (!(body instanceof Uint8Array)) {
      for await (const _chunk of body) {
        if (options.signal?.aborted) throw options.signal.reason;
      }
    }
    this.records.push({
      op: "put",
      key,
      ...(options.ifAbsent === undefined ? {} : { ifAbsent: options.ifAbsent }),
      ...(options.metadata === undefined && options.lateMetadata === undefined
        ? {}
        : { metadata: { ...options.metadata, ...options.lateMetadata?.() } }),
    });
  }

  get(key: string, options?: OpOptions): Promise<Readable> {
    return this.inner.get(key, options);
  }

  head(key: string, options?: OpOptions): Promise<ObjectInfo> {
    return this.inner.head(key, options);
  }

  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options);
  }

  async delete(key: string, _options?: OpOptions): Promise<void> {
    this.records.push({ op: "delete", key });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export function withDryRun(backend: Backend): DryRunBackend {
  return new DryRunBackend(backend);
}
