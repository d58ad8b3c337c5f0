/**
 * The archive pipeline for one segment: validate → compress (zstd) → upload with checksum metadata →
 * verify. Used by the archive hook, the agent (spool drain) and the sweeper; each decides what to do
 * with failures, this module only stores or throws.
 *
 * Idempotency (architecture.md): the key is a function of the node, the segment's close time (its
 * mtime), id and version, so archiving the same file again lands on the same key. Same sha256 there
 * = success; different sha256 = the new bytes are kept beside the first under a conflict key, and the
 * outcome says so; nothing is overwritten.
 */
import { createHash } from "node:crypto";
import { readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { classifySegmentFrom, type SegmentReader } from "../commitlog/classify.js";
import { parseSegmentName } from "../commitlog/segment-name.js";
import { PitrError } from "../errors/base.js";
import { ObjectNotFoundError, PreconditionFailedError, StorageError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";
import { segmentKey, type NodeIdentity } from "./layout.js";
import { ZstdFileChunks } from "./zstd-file.js";
import { recordFromMetadata, recordToMetadata, type SegmentRecord, type SegmentStatus } from "./record.js";

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

export class SegmentMissingError extends PitrError {
  override name = "SegmentMissingError";
  constructor(readonly path: string) {
    super("E_SEGMENT_MISSING", `segment '${path}' does not exist`, {
      hint: "archive_command must be '<hook> %path %name'; check the commit log directory",
    });
  }
}

export class VerificationError extends PitrError {
  override name = "VerificationError";
  constructor(key: string, detail: string) {
    super("E_STORAGE", `uploaded object '${key}' failed verification: ${detail}`, {
      hint: "the storage did not keep what was sent; the segment was not counted as archived",
    });
  }
}

/** An open segment file: size and close time (mtime) from one fstat. */
export async function openSegment(path: string): Promise<{ handle: FileHandle; size: number; mtimeMs: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new SegmentMissingError(path);
    throw err;
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new SegmentMissingError(path);
  }
  return { handle, size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) };
}

/**
 * A SegmentReader over an open file that also hashes: the classifier reads in increasing offset
 * order, so every byte it reads for the first time goes into sha256, and `finish` reads whatever it
 * never reached. Memory stays at the largest sync section, whatever the segment size.
 */
function hashingReader(fd: number, size: number): SegmentReader & { finish(): string } {
  const hash = createHash("sha256");
  let hashedTo = 0;
  // One scratch buffer, grown to the largest read: bytes handed out are valid until the next read
  // (SegmentReader's contract), so RSS stays flat instead of waiting for GC to free each section.
  let scratch = Buffer.allocUnsafe(1 << 20);
  const readAt = (offset: number, length: number): Buffer => {
    const want = Math.max(0, Math.min(length, size - offset));
    if (want > scratch.length) scratch = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, scratch, got, want - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return scratch.subarray(0, got);
  };
  const advance = (to: number) => {
    for (let at = hashedTo; at < to; at += HASH_CHUNK) hash.update(readAt(at, Math.min(HASH_CHUNK, to - at)));
    hashedTo = Math.max(hashedTo, to);
  };
  return {
    length: size,
    read(offset, length) {
      if (offset > hashedTo) advance(offset);
      const bytes = readAt(offset, length);
      const end = offset + bytes.length;
      if (end > hashedTo) {
        hash.update(bytes.subarray(hashedTo - offset));
        hashedTo = end;
      }
      return bytes;
    },
    finish() {
      advance(size);
      return hash.digest("hex");
    },
  };
}

const HASH_CHUNK = 1 << 20;

/** Builds the record for a segment (one pass over the file). Never throws for bad content: it flags it. */
export function describeSegment(
  name: string,
  file: { fd: number; size: number; mtimeMs: number },
  identity: NodeIdentity,
  archivedBy: SegmentRecord["archivedBy"],
  nowMs: number,
): SegmentRecord {
  const fromName = parseSegmentName(name);
  const reader = hashingReader(file.fd, file.size);
  const c = classifySegmentFrom(name, reader);
  const status: SegmentStatus = c.status;
  return {
    sha256: reader.finish(),
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
 * Two passes over the file (the second from the page cache): the first classifies and hashes it,
 * because the object's metadata (sha256, status) goes out with the upload's first request; the
 * second streams it through zstd into the upload as lent chunks. The pipeline's own memory does not
 * grow with the segment size; the S3, GCS and Azure SDKs still buffer copies (BENCHMARKS.md).
 */
export async function pushSegment(backend: Backend, identity: NodeIdentity, request: PushRequest): Promise<PushResult> {
  parseSegmentName(request.name); // a name Cassandra would not write: refuse before any I/O
  const file = await openSegment(request.path);
  try {
    const record = describeSegment(request.name, { fd: file.handle.fd, size: file.size, mtimeMs: file.mtimeMs }, identity, request.archivedBy, (request.now ?? Date.now)());
    const metadata = recordToMetadata(record);
    const zstd = { level: request.compressionLevel ?? 1, threads: request.compressionThreads ?? 0 };
    const body = (): ZstdFileChunks => new ZstdFileChunks(file.handle.fd, file.size, zstd);
    const key = segmentKey(identity, { closeTimeMs: record.closeTimeMs, segmentId: record.segmentId, version: record.version });
    const first = await putOnce(backend, key, body, metadata, record.sha256, request.signal);
    if (first.kind !== "different") {
      return { outcome: first.kind === "stored" ? "archived" : "already-archived", key, record, compressedSize: first.compressedSize };
    }
    return await storeConflictCopy(backend, identity, key, record, body, metadata, request.signal);
  } finally {
    await file.handle.close();
  }
}

async function storeConflictCopy(
  backend: Backend,
  identity: NodeIdentity,
  key: string,
  record: SegmentRecord,
  body: () => ZstdFileChunks,
  metadata: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<PushResult> {
  const conflictKey = segmentKey(identity, {
    closeTimeMs: record.closeTimeMs,
    segmentId: record.segmentId,
    version: record.version,
    conflict: record.sha256.slice(0, 16),
  });
  const second = await putOnce(backend, conflictKey, body, metadata, record.sha256, signal);
  if (second.kind === "different") {
    throw new StorageError(backend.displayLocation, `'${conflictKey}' holds bytes that match neither copy`);
  }
  return { outcome: "conflict-kept", key: conflictKey, conflictsWith: key, record, compressedSize: second.compressedSize };
}

/**
 * Puts a fresh compressed body under `key` only if absent, then verifies what the storage holds.
 * "stored": written and verified; "same": already there with this sha256; "different": already
 * there with other bytes.
 */
async function putOnce(
  backend: Backend,
  key: string,
  makeBody: () => ZstdFileChunks,
  metadata: Record<string, string>,
  sha256: string,
  signal: AbortSignal | undefined,
): Promise<{ kind: "stored" | "same" | "different"; compressedSize: number }> {
  const body = makeBody();
  try {
    await backend.put(key, body, { ifAbsent: true, metadata, signal });
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    const existing = recordFromMetadata((await backend.head(key, { signal })).metadata);
    return { kind: existing?.sha256 === sha256 ? "same" : "different", compressedSize: 0 };
  }
  // A backend that returned before reading the whole body stored a truncated frame: not archived.
  if (!body.finished) throw new VerificationError(key, "the storage returned before reading the whole segment");
  const compressedSize = body.compressedBytes;
  await verifyStored(backend, key, compressedSize, sha256, signal);
  return { kind: "stored", compressedSize };
}

async function verifyStored(backend: Backend, key: string, size: number, sha256: string, signal: AbortSignal | undefined) {
  let info;
  try {
    info = await backend.head(key, { signal });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new VerificationError(key, "object missing right after upload");
    throw err;
  }
  if (info.size !== size) throw new VerificationError(key, `size ${info.size}, expected ${size}`);
  const stored = recordFromMetadata(info.metadata);
  if (stored?.sha256 !== sha256) throw new VerificationError(key, "recorded sha256 differs");
}
