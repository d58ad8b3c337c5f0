import { Readable } from "node:stream";
import { abortableBody } from "../abortable.js";
import { ObjectNotFoundError, PreconditionFailedError } from "../errors.js";
import { validateKey, validatePrefix } from "../key.js";
import type { MemoryLocation } from "../location.js";
import type {
  Backend,
  Capabilities,
  ListOptions,
  ObjectInfo,
  OpOptions,
  PutBody,
  PutOptions,
} from "../types.js";

/**
 * In-process backend for unit tests. Stores with the same name (mem://name) share their objects
 * within one process, so a test can open a location twice and see the same data.
 */
interface Entry {
  readonly bytes: Uint8Array;
  readonly metadata: Readonly<Record<string, string>>;
  readonly modified: Date;
}

const CHUNK = 64 * 1024;
interface Store {
  readonly objects: Map<string, Entry>;
  /** Keys in order, rebuilt lazily after a put of a new key or a delete: listing a prefix seeks, as object stores do. */
  sorted: string[] | undefined;
}

const stores = new Map<string, Store>();

/** Forgets every memory store (tests). */
export function resetMemoryStores(): void {
  stores.clear();
}

function checkSignal(options: OpOptions | undefined): void {
  if (options?.signal?.aborted) throw options.signal.reason;
}

async function readAll(body: PutBody, signal: AbortSignal | undefined): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return new Uint8Array(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    if (signal?.aborted) throw signal.reason;
    // Copied: a lent chunk is reused by its producer as soon as the next one is asked for.
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export class MemoryBackend implements Backend {
  readonly scheme = "mem" as const;
  readonly displayLocation: string;
  readonly capabilities: Capabilities = {
    conditionalCreate: true,
    maxConnections: 16,
    lateMetadata: true,
    retention: false,
  };
  private readonly store: Store;

  constructor(location: MemoryLocation) {
    this.displayLocation = location.display;
    let store = stores.get(location.name);
    if (store === undefined) {
      store = { objects: new Map(), sorted: undefined };
      stores.set(location.name, store);
    }
    this.store = store;
  }

  private get objects(): Map<string, Entry> {
    return this.store.objects;
  }

  private sortedKeys(): string[] {
    this.store.sorted ??= [...this.store.objects.keys()].sort();
    return this.store.sorted;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    checkSignal(options);
    const bytes = await readAll(body, options.signal);
    checkSignal(options);
    // The existence check and the store happen in one synchronous step: atomic within the process.
    if (options.ifAbsent && this.objects.has(key))
      throw new PreconditionFailedError(this.displayLocation, key);
    if (!this.objects.has(key)) this.store.sorted = undefined;
    const metadata = { ...(options.metadata ?? {}), ...(options.lateMetadata?.() ?? {}) };
    this.objects.set(key, { bytes, metadata, modified: new Date() });
  }

  private entry(key: string): Entry {
    validateKey(key);
    const entry = this.objects.get(key);
    if (entry === undefined) throw new ObjectNotFoundError(this.displayLocation, key);
    return entry;
  }

  async get(key: string, options: OpOptions = {}): Promise<Readable> {
    checkSignal(options);
    const entry = this.entry(key);
    const bytes = Buffer.from(entry.bytes);
    const chunks = Array.from({ length: Math.ceil(bytes.length / CHUNK) }, (_, i) =>
      bytes.subarray(i * CHUNK, (i + 1) * CHUNK),
    );
    const stream = Readable.from(chunks, { objectMode: false });
    return abortableBody(stream, options.signal);
  }

  async head(key: string, options: OpOptions = {}): Promise<ObjectInfo> {
    checkSignal(options);
    const entry = this.entry(key);
    return { key, size: entry.bytes.byteLength, modified: entry.modified, metadata: { ...entry.metadata } };
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    checkSignal(options);
    const keys = this.sortedKeys();
    const from =
      options.startAfter !== undefined && options.startAfter >= prefix ? options.startAfter : undefined;
    // First index whose key is > startAfter (or >= prefix): binary search.
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid]!;
      if (from !== undefined ? k <= from : k < prefix) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < keys.length; i++) {
      const key = keys[i]!;
      if (!key.startsWith(prefix)) {
        if (key > prefix) break;
        continue;
      }
      checkSignal(options);
      const entry = this.objects.get(key);
      if (entry === undefined) continue; // deleted while listing
      yield { key, size: entry.bytes.byteLength, modified: entry.modified, metadata: { ...entry.metadata } };
    }
  }

  async delete(key: string, options: OpOptions = {}): Promise<void> {
    validateKey(key);
    checkSignal(options);
    if (this.objects.delete(key)) this.store.sorted = undefined;
  }

  async close(): Promise<void> {}
}

export function createBackend(location: MemoryLocation): Backend {
  return new MemoryBackend(location);
}
