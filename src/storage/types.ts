import type { Readable } from "node:stream";

/**
 * The storage backend contract. Every backend (file, s3, gs, az, mem) implements exactly this, and
 * test/storage/conformance.ts checks every clause below against each of them on a real server.
 *
 * Keys are "/"-separated relative paths below the location's prefix, validated by key.ts. Above the
 * backend nothing inspects SDK errors: each backend maps them to the classes in errors.ts.
 */
export interface Backend {
  readonly scheme: Scheme;
  /** The location URL with any secret removed; safe to print. */
  readonly displayLocation: string;
  readonly capabilities: Capabilities;

  /**
   * Stores `body` under `key`. With `ifAbsent`, throws PreconditionFailedError when the key exists
   * (enforced by the service when `capabilities.conditionalCreate`, else best effort). Readers never
   * observe a partial object. `metadata` keys are lowercase [a-z0-9_]; values are ASCII.
   */
  put(key: string, body: PutBody, options?: PutOptions): Promise<void>;
  /** Streams the object. A missing key throws ObjectNotFoundError (never retried). */
  get(key: string, options?: OpOptions): Promise<Readable>;
  /** Size and metadata of one object, a point lookup. A missing key throws ObjectNotFoundError. */
  head(key: string, options?: OpOptions): Promise<ObjectInfo>;
  /**
   * Every object whose key starts with `prefix` (a plain string prefix, not a folder), in
   * lexicographic key order, paging internally. Missing prefix = empty. `metadata` may be empty in
   * listings (S3 does not return it); call head for it.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Removes the object; a missing key is success. */
  delete(key: string, options?: OpOptions): Promise<void>;
  close(): Promise<void>;
  /**
   * Only where an upload can be left unfinished and keep costing (S3 multipart uploads of a writer
   * killed mid-upload); undefined on the others (file://, gs://, az://, mem: docs/backends.md says
   * what each does instead).
   */
  readonly unfinishedUploads?: UnfinishedUploads | undefined;
}

/** An upload begun and neither completed nor aborted: its parts are stored (and billed) but no object. */
export interface UnfinishedUpload {
  /** The object key it would create, relative to the location's prefix like every other key. */
  readonly key: string;
  readonly uploadId: string;
  /** When the service says the upload began. */
  readonly initiated: Date;
}

export interface UnfinishedUploads {
  /** Every unfinished upload whose key starts with `prefix`, paging internally. */
  list(prefix: string, options?: OpOptions): AsyncIterable<UnfinishedUpload>;
  /** When its newest part arrived; undefined when it has none yet. */
  lastPartAt(upload: UnfinishedUpload, options?: OpOptions): Promise<Date | undefined>;
  /** Removes the upload and its parts; one already gone is success. */
  abort(upload: UnfinishedUpload, options?: OpOptions): Promise<void>;
}

/**
 * A streamed body whose chunks are lent, not given: a chunk stays valid only until the iterator is
 * asked for the next one, so the producer can hand out one reused buffer. A backend that writes each
 * chunk before it asks for the next (file://) takes them as they are; the others copy them
 * (body.ts ownedStream). The archive pipeline uses this for compressed segments: every copy handed
 * to a consumer is garbage until the next GC, which made peak RSS grow with the segment size.
 */
export interface LentChunks {
  readonly lent: true;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>;
}

export type PutBody = Readable | Uint8Array | LentChunks;

export type Scheme = "file" | "s3" | "gs" | "az" | "mem";

export interface Capabilities {
  /** `put(..., {ifAbsent: true})` is enforced atomically by the service. */
  readonly conditionalCreate: boolean;
  /** A sensible number of parallel requests. */
  readonly maxConnections: number;
  /**
   * `put` accepts `lateMetadata`: the metadata is stored after the body (file:// writes its sidecar
   * after the data; mem stores both at once). S3 and GCS send metadata with the upload's first
   * request, so the archive pipeline reads a segment once before uploading to them, and only once
   * in all when this is true (pipeline/scan.ts).
   */
  readonly lateMetadata: boolean;
  /**
   * `head` reports object-lock retention and versioning (`ObjectInfo.retention`, `versionId`): the
   * store may keep an object a delete was asked for (S3 with Object Lock or versioning).
   */
  readonly retention: boolean;
}

export interface OpOptions {
  signal?: AbortSignal | undefined;
}

export interface PutOptions extends OpOptions {
  ifAbsent?: boolean | undefined;
  metadata?: Record<string, string> | undefined;
  /**
   * Only where `capabilities.lateMetadata`: called once after the whole body was read, before the
   * object becomes visible; what it returns is added to `metadata`. A backend without the capability
   * refuses the put (a programming error, LateMetadataUnsupported).
   */
  lateMetadata?: (() => Record<string, string>) | undefined;
  /** Known length of a streamed body, when the caller has it (lets S3 avoid buffering). */
  contentLength?: number | undefined;
  /**
   * false: written without the location's object-lock retention (the check probe, removed at once).
   * Every other put of an archive opened with objectLock is locked.
   */
  retain?: false | undefined;
}

export interface ListOptions extends OpOptions {
  /** Only keys strictly greater than this (lexicographic), when the backend can seek there. */
  startAfter?: string | undefined;
}

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly modified?: Date | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** From `head` where `capabilities.retention`: the object's lock, when it has one. */
  readonly retention?: { readonly mode: "governance" | "compliance"; readonly until: Date } | undefined;
  /**
   * From `head` where `capabilities.retention`: the version id on a versioned bucket (a delete there
   * only adds a delete marker; the version stays until a lifecycle rule removes it).
   */
  readonly versionId?: string | undefined;
}
