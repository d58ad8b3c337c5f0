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
import { open } from "node:fs/promises";
import { compress } from "zstd-napi";
import { classifySegment } from "../commitlog/classify.js";
import { parseSegmentName } from "../commitlog/segment-name.js";
import { PitrError } from "../errors/base.js";
import { ObjectNotFoundError, PreconditionFailedError, StorageError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";
import { segmentKey, type NodeIdentity } from "./layout.js";
import { recordFromMetadata, recordToMetadata, type SegmentRecord, type SegmentStatus } from "./record.js";

export interface PushRequest {
  /** Full path of the segment file (Cassandra's %path, or a spooled hard link). */
  readonly path: string;
  /** Cassandra's file name (%name). */
  readonly name: string;
  readonly archivedBy: SegmentRecord["archivedBy"];
  readonly compressionLevel?: number | undefined;
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

/** Reads the segment, whole: segments are bounded by commitlog_segment_size (32 MiB by default). */
export async function readSegmentFile(path: string): Promise<{ bytes: Buffer; mtimeMs: number }> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new SegmentMissingError(path);
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new SegmentMissingError(path);
    const bytes = await handle.readFile();
    return { bytes, mtimeMs: Math.floor(stat.mtimeMs) };
  } finally {
    await handle.close();
  }
}

/** Builds the record for a segment's bytes. Never throws for bad content: it flags it. */
export function describeSegment(
  name: string,
  bytes: Uint8Array,
  mtimeMs: number,
  identity: NodeIdentity,
  archivedBy: SegmentRecord["archivedBy"],
  nowMs: number,
): SegmentRecord {
  const fromName = parseSegmentName(name);
  const c = classifySegment(name, bytes);
  const status: SegmentStatus = c.status;
  return {
    sha256: createHash("sha256").update(bytes).digest("hex"),
    size: bytes.length,
    compression: "zstd",
    encryption: "none",
    segmentId: fromName.id,
    version: fromName.version,
    name,
    closeTimeMs: mtimeMs,
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
 */
export async function pushSegment(backend: Backend, identity: NodeIdentity, request: PushRequest): Promise<PushResult> {
  parseSegmentName(request.name); // a name Cassandra would not write: refuse before any I/O
  const { bytes, mtimeMs } = await readSegmentFile(request.path);
  const record = describeSegment(request.name, bytes, mtimeMs, identity, request.archivedBy, (request.now ?? Date.now)());
  const body = compress(bytes, { compressionLevel: request.compressionLevel ?? 1 });
  const metadata = recordToMetadata(record);
  const key = segmentKey(identity, { closeTimeMs: record.closeTimeMs, segmentId: record.segmentId, version: record.version });
  const opts = { signal: request.signal };

  const first = await putOnce(backend, key, body, metadata, record.sha256, opts.signal);
  if (first !== "different") {
    return { outcome: first === "stored" ? "archived" : "already-archived", key, record, compressedSize: body.length };
  }
  const conflictKey = segmentKey(identity, {
    closeTimeMs: record.closeTimeMs,
    segmentId: record.segmentId,
    version: record.version,
    conflict: record.sha256.slice(0, 16),
  });
  const second = await putOnce(backend, conflictKey, body, metadata, record.sha256, opts.signal);
  if (second === "different") {
    throw new StorageError(backend.displayLocation, `'${conflictKey}' holds bytes that match neither copy`);
  }
  return { outcome: "conflict-kept", key: conflictKey, conflictsWith: key, record, compressedSize: body.length };
}

/**
 * Puts `body` under `key` only if absent, then verifies what the storage holds.
 * "stored": written and verified; "same": already there with this sha256; "different": already
 * there with other bytes.
 */
async function putOnce(
  backend: Backend,
  key: string,
  body: Buffer,
  metadata: Record<string, string>,
  sha256: string,
  signal: AbortSignal | undefined,
): Promise<"stored" | "same" | "different"> {
  try {
    await backend.put(key, body, { ifAbsent: true, metadata, contentLength: body.length, signal });
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    const existing = recordFromMetadata((await backend.head(key, { signal })).metadata);
    return existing?.sha256 === sha256 ? "same" : "different";
  }
  await verifyStored(backend, key, body.length, sha256, signal);
  return "stored";
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
