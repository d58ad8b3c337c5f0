/**
 * The archive pipeline for one segment: validate → compress (zstd) → upload with checksum metadata →
 * verify. Used by the archive hook, the agent (spool drain) and the sweeper; each decides what to do
 * with failures, this module only stores or throws.
 *
 * Idempotency (architecture.md): the key is a function of the node, the segment's close time (its
 * mtime), id and version, so archiving the same file again lands on the same key. Same sha256 there
 * = success; different sha256 = the new bytes are kept beside the first under a conflict key, and the
 * outcome says so; nothing is overwritten. A segment whose file time changed (a restore copied it
 * back into the commit log directory) is recognised by the id index (layout.ts segmentIdKey): same
 * id and same sha256 as the stored copy = already archived, under the stored key. Same id, other
 * bytes, and the stored copy complete: a rewrite of that segment (a restore stages segments through
 * its replay filter, so a node that failed to start archives those at its next start), never a later
 * state of it. It is kept as a conflict copy at the stored copy's close time, so the catalog keeps
 * using the original and lists the other as a duplicate, and the outcome says so (the hook warns).
 */
import { parseSegmentName, type SegmentName } from "../commitlog/segment-name.js";
import { PitrError, isPitrError } from "../errors/base.js";
import { StorageError, TransientStorageError } from "../storage/errors.js";
import { isNotFound, isPreconditionFailed } from "../storage/front.js";
import type { Backend } from "../storage/types.js";
import { segmentIdKey, segmentKey, type NodeIdentity } from "../format/layout.js";
import { SegmentScan, type ScanResult } from "./scan.js";
import { openSegment } from "./segment-file.js";
import { ZstdFileChunks } from "./zstd-file.js";
import {
  recordFromMetadata,
  recordToMetadata,
  type SegmentRecord,
  type SegmentStatus,
} from "../format/segment-record.js";

export interface PushRequest {
  /** Full path of the segment file (Cassandra's %path, or a spooled hard link). */
  readonly path: string;
  /** Cassandra's file name (%name). */
  readonly name: string;
  readonly archivedBy: SegmentRecord["archivedBy"];
  readonly compressionLevel?: number | undefined;
  /** zstd worker threads (config compressionThreads); 0 compresses on the calling thread. */
  readonly compressionThreads?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Injected clock for tests. */
  readonly now?: (() => number) | undefined;
}

export type PushOutcome = "archived" | "already-archived" | "conflict-kept";

export interface PushResult {
  readonly outcome: PushOutcome;
  readonly key: string;
  /** The key of the first copy, when `outcome` is conflict-kept. */
  readonly conflictsWith?: string | undefined;
  readonly record: SegmentRecord;
  readonly compressedSize: number;
}

export class VerificationError extends PitrError {
  override name = "VerificationError";
  constructor(key: string, detail: string) {
    super("E_STORAGE", `uploaded object '${key}' failed verification: ${detail}`, {
      hint: "the storage did not keep what was sent; the segment was not counted as archived",
    });
  }
}

/** The record stored with a segment. Never throws for bad content: the scan flags it. */
function recordOf(
  name: string,
  fromName: SegmentName,
  file: { size: number; mtimeMs: number },
  scan: ScanResult,
  identity: NodeIdentity,
  archivedBy: SegmentRecord["archivedBy"],
  nowMs: number,
): SegmentRecord {
  const c = scan.classification;
  const status: SegmentStatus = c.status;
  return {
    sha256: scan.sha256,
    size: file.size,
    compression: "zstd",
    encryption: "none",
    segmentId: fromName.id,
    version: fromName.version,
    name,
    closeTimeMs: file.mtimeMs,
    archiveTimeMs: nowMs,
    cluster: identity.cluster,
    hostId: identity.node,
    status,
    headerParameters: c.header?.parametersJson ?? "",
    archivedBy,
    problem: c.error ? `${c.error.code} at offset ${c.error.offset}: ${c.error.message}` : undefined,
  };
}

/**
 * Stores one segment and verifies it. Throws SegmentNameError for a name that is not a segment,
 * SegmentMissingError when the file is gone, storage errors as the backend raises them.
 *
 * Where the backend takes metadata after the body (`capabilities.lateMetadata`: file://, az://,
 * mem://), one pass: each 1 MiB the compressor reads is hashed and validated while zstd's workers
 * compress it, and the record (sha256, status) is computed when the body ends. Elsewhere (S3 and GCS
 * send metadata with the first request) two passes, the second from the page cache: classify and
 * hash, then compress into the upload. Either way the body is lent chunks, and neither the pipeline
 * nor the backends keep memory per byte of the segment (BENCHMARKS.md, 32 → 128 MiB).
 */
export async function pushSegment(
  backend: Backend,
  identity: NodeIdentity,
  request: PushRequest,
): Promise<PushResult> {
  const fromName = parseSegmentName(request.name); // a name Cassandra would not write: refuse before any I/O
  const file = await openSegment(request.path);
  try {
    const nowMs = (request.now ?? Date.now)();
    const fd = file.handle.fd;
    const zstd = { level: request.compressionLevel ?? 1, threads: request.compressionThreads ?? 0 };
    const key = segmentKey(identity, {
      closeTimeMs: file.mtimeMs,
      segmentId: fromName.id,
      version: fromName.version,
    });
    const scan = new SegmentScan(request.name, fd, file.size);
    let described: SegmentRecord | undefined;
    // Reads whatever the scan has not seen yet, once; after a one-pass body that is nothing.
    const record = (): SegmentRecord =>
      (described ??= recordOf(
        request.name,
        fromName,
        file,
        scan.finish(),
        identity,
        request.archivedBy,
        nowMs,
      ));
    const sha256 = () => record().sha256;

    const known = await storedUnderId(backend, identity, fromName, sha256, request.signal);
    if (known?.same)
      return {
        outcome: "already-archived",
        key: known.key,
        record: asStored(record(), known.stored),
        compressedSize: 0,
      };
    if (known && known.stored.status === "complete") {
      // Keyed beside the original (its close time), whatever this file's time: never a newer copy.
      const beside = { ...record(), closeTimeMs: known.stored.closeTimeMs };
      const kept = await storeConflictCopy(
        backend,
        identity,
        known.key,
        beside,
        () => new ZstdFileChunks(fd, file.size, zstd),
        request.signal,
      );
      return { ...kept, conflictsWith: known.key };
    }
    const first = backend.capabilities.lateMetadata
      ? await putOnce(
          backend,
          key,
          new ZstdFileChunks(fd, file.size, {
            ...zstd,
            onInput: (bytes, offset) => scan.observe(bytes, offset),
          }),
          { late: () => recordToMetadata(record()) },
          sha256,
          request.signal,
        )
      : await putOnce(
          backend,
          key,
          new ZstdFileChunks(fd, file.size, zstd),
          { now: recordToMetadata(record()) },
          sha256,
          request.signal,
        );
    if (first.kind !== "different") {
      await indexId(backend, identity, key, record(), request.signal);
      return {
        outcome: first.kind === "stored" ? "archived" : "already-archived",
        key,
        record: asStored(record(), first.stored),
        compressedSize: first.compressedSize,
      };
    }
    return await storeConflictCopy(
      backend,
      identity,
      key,
      record(),
      () => new ZstdFileChunks(fd, file.size, zstd),
      request.signal,
    );
  } finally {
    await file.handle.close();
  }
}

/**
 * The stored copy the id index names for this segment id, if its object still exists, and whether
 * it holds these bytes (`same`); undefined when there is none. The common case (no entry) costs one
 * head and no read of the file; the file is hashed only when an entry exists. An entry whose
 * object was pruned does not count (and is removed).
 */
async function storedUnderId(
  backend: Backend,
  identity: NodeIdentity,
  name: SegmentName,
  sha256: () => string,
  signal: AbortSignal | undefined,
): Promise<{ key: string; same: boolean; stored: SegmentRecord } | undefined> {
  let entry;
  try {
    entry = (await backend.head(segmentIdKey(identity, name.id, name.version), { signal })).metadata;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const key = entry["key"];
  if (!key) return undefined;
  try {
    const stored = recordFromMetadata((await backend.head(key, { signal })).metadata);
    return stored ? { key, same: stored.sha256 === sha256(), stored } : undefined;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // The object was pruned: the entry goes, so the copy stored now is indexed instead. Credentials
    // without delete (docs/least-privilege.md) leave it: the first entry then names a missing object,
    // which this function already reads as no entry.
    await backend.delete(segmentIdKey(identity, name.id, name.version), { signal }).catch((e: unknown) => {
      if (!(isPitrError(e) && e.code === "E_ACCESS_DENIED")) throw e;
    });
    return undefined;
  }
}

/** Records the first stored copy of a segment id; an existing entry is kept (the first copy wins). */
async function indexId(
  backend: Backend,
  identity: NodeIdentity,
  key: string,
  record: SegmentRecord,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await backend.put(segmentIdKey(identity, record.segmentId, record.version), new Uint8Array(0), {
      ifAbsent: true,
      signal,
      metadata: { key, sha256: record.sha256 },
    });
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err;
  }
}

async function storeConflictCopy(
  backend: Backend,
  identity: NodeIdentity,
  key: string,
  record: SegmentRecord,
  body: () => ZstdFileChunks,
  signal: AbortSignal | undefined,
): Promise<PushResult> {
  const conflictKey = segmentKey(identity, {
    closeTimeMs: record.closeTimeMs,
    segmentId: record.segmentId,
    version: record.version,
    conflict: record.sha256.slice(0, 16),
  });
  const second = await putOnce(
    backend,
    conflictKey,
    body(),
    { now: recordToMetadata(record) },
    () => record.sha256,
    signal,
  );
  if (second.kind === "different") {
    throw new StorageError(backend.displayLocation, `'${conflictKey}' holds bytes that match neither copy`);
  }
  return {
    outcome: "conflict-kept",
    key: conflictKey,
    conflictsWith: key,
    record,
    compressedSize: second.compressedSize,
  };
}

interface PutOutcome {
  readonly kind: "stored" | "same" | "different";
  readonly compressedSize: number;
  /** The record as the storage holds it (its encryption is the decorator's, not the pipeline's). */
  readonly stored?: SegmentRecord | undefined;
}

/** Our record with the storage's word on how the object is stored (encrypted or not, and under which key). */
function asStored(record: SegmentRecord, stored: SegmentRecord | undefined): SegmentRecord {
  if (!stored || stored.encryption === "none") return record;
  return { ...record, encryption: stored.encryption, encryptionKey: stored.encryptionKey };
}

/**
 * Puts a compressed body under `key` only if absent, then verifies what the storage holds.
 * "stored": written and verified; "same": already there with this sha256; "different": already
 * there with other bytes. `sha256` is asked for only once the body has been read (or refused).
 */
async function putOnce(
  backend: Backend,
  key: string,
  body: ZstdFileChunks,
  metadata: { now: Record<string, string> } | { late: () => Record<string, string> },
  sha256: () => string,
  signal: AbortSignal | undefined,
): Promise<PutOutcome> {
  try {
    await backend.put(key, body, {
      ifAbsent: true,
      signal,
      ...("now" in metadata ? { metadata: metadata.now } : { lateMetadata: metadata.late }),
    });
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err;
    const existing = recordFromMetadata((await headClaimed(backend, key, signal)).metadata);
    return {
      kind: existing?.sha256 === sha256() ? "same" : "different",
      compressedSize: 0,
      stored: existing,
    };
  }
  // A backend that returned before reading the whole body stored a truncated frame: not archived.
  if (!body.finished)
    throw new VerificationError(key, "the storage returned before reading the whole segment");
  const compressedSize = body.compressedBytes;
  const stored = await verifyStored(backend, key, compressedSize, sha256(), signal);
  return { kind: "stored", compressedSize, stored };
}

/**
 * The object that refused our put. Not found means another upload of the key holds its claim and
 * has not finished: storage is busy, not the segment missing (so the hook spools, never exits 14).
 */
async function headClaimed(backend: Backend, key: string, signal: AbortSignal | undefined) {
  try {
    return await backend.head(key, { signal });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    throw new TransientStorageError(backend.displayLocation, `another upload of '${key}' is in progress`, {
      hint: "the segment is spooled and retried by the agent",
    });
  }
}

async function verifyStored(
  backend: Backend,
  key: string,
  size: number,
  sha256: string,
  signal: AbortSignal | undefined,
): Promise<SegmentRecord> {
  let info;
  try {
    info = await backend.head(key, { signal });
  } catch (err) {
    if (isNotFound(err)) throw new VerificationError(key, "object missing right after upload");
    throw err;
  }
  if (info.size !== size) throw new VerificationError(key, `size ${info.size}, expected ${size}`);
  const stored = recordFromMetadata(info.metadata);
  if (stored?.sha256 !== sha256) throw new VerificationError(key, "recorded sha256 differs");
  return stored;
}
