/**
 * Assembles a segment from its partial objects (format/partial-layout.ts) and verifies it before
 * anyone may use it: every object's size and sha256, the chain's sha256 against the last object's
 * prefix digest, the header against the segment's name, and a walk of every sync section (marker and
 * entry CRCs) that must end exactly at the last byte. The result is what Cassandra itself replays
 * after a crash: complete synced sections and nothing after them.
 */
import { createHash } from "node:crypto";
import { classifySegment } from "../commitlog/classify.js";
import { parseSegmentHeader } from "../commitlog/segment-header.js";
import {
  parsePartialKey,
  partialChain,
  partialFromMetadata,
  type PartialKeyParts,
  type PartialRecord,
} from "../format/partial-layout.js";
import { PitrError } from "../errors/base.js";
import type { SegmentRecord } from "../format/segment-record.js";
import type { Backend } from "../storage/types.js";
import { buffer } from "node:stream/consumers";
import { ChecksumMismatchError, SEGMENT_HEAD_BYTES } from "./target.js";

export interface PartialChainRecord {
  readonly keys: readonly string[];
  /** The last object's record: its end is the assembled size, its prefix digest the assembled sha256. */
  readonly last: PartialRecord;
}

/** The chain of partial objects under a segment's partial folder, with the last one's record. */
export async function readPartialChain(
  backend: Backend,
  folder: string,
  signal?: AbortSignal,
): Promise<PartialChainRecord> {
  const parts: (PartialKeyParts & { key: string })[] = [];
  for await (const info of backend.list(folder, { signal })) {
    const parsed = parsePartialKey(info.key);
    if (parsed) parts.push({ ...parsed, key: info.key });
  }
  const chain = partialChain(parts);
  if (chain.length === 0) {
    throw new PitrError("E_NOT_FOUND", `no partial objects starting at offset 0 under '${folder}'`, {
      hint: "retention or a manual delete removed them; plan the restore again ('cassandra-pitr plan')",
    });
  }
  const last = partialFromMetadata((await backend.head(chain.at(-1)!.key, { signal })).metadata);
  if (!last) throw new PitrError("E_NOT_FOUND", `object '${chain.at(-1)!.key}' carries no partial record`);
  return { keys: chain.map((c) => c.key), last };
}

/** The assembled, verified bytes of the segment `name` from its partial chain. */
export async function assemblePartialSegment(
  backend: Backend,
  folder: string,
  name: string,
  signal?: AbortSignal,
): Promise<Buffer> {
  const { keys, last } = await readPartialChain(backend, folder, signal);
  const pieces: Buffer[] = [];
  const whole = createHash("sha256");
  for (const key of keys) {
    const record = partialFromMetadata((await backend.head(key, { signal })).metadata);
    const bytes = await buffer(await backend.get(key, { signal }));
    const what = `partial segment object '${key}'`;
    if (!record) throw new PitrError("E_NOT_FOUND", `object '${key}' carries no partial record`);
    if (bytes.length !== record.end - record.start)
      throw new ChecksumMismatchError(what, `${bytes.length} bytes, expected ${record.end - record.start}`);
    if (createHash("sha256").update(bytes).digest("hex") !== record.sha256)
      throw new ChecksumMismatchError(what, "sha256 differs from its record");
    whole.update(bytes);
    pieces.push(bytes);
  }
  const bytes = Buffer.concat(pieces);
  const what = `partial segment '${folder}'`;
  if (bytes.length !== last.end || whole.digest("hex") !== last.prefixSha256) {
    throw new ChecksumMismatchError(what, "the assembled objects do not hash to the chain's recorded digest");
  }
  const header = parseSegmentHeader(bytes.subarray(0, SEGMENT_HEAD_BYTES), name);
  if (header.id !== last.segmentId)
    throw new ChecksumMismatchError(what, `header id ${header.id} is not segment ${last.segmentId}`);
  const walked = classifySegment(name, bytes);
  if (
    walked.status === "corrupt" ||
    walked.status === "unsupported" ||
    walked.lastValidOffset !== bytes.length
  ) {
    throw new ChecksumMismatchError(
      what,
      `sections verify only up to offset ${walked.lastValidOffset} of ${bytes.length} (${walked.reason})`,
    );
  }
  return bytes;
}

/**
 * The segment record of an assembled partial segment, for a restore that stages it (stubs need the
 * header's parameters): assembled and verified once here.
 */
export async function partialSegmentRecord(
  backend: Backend,
  folder: string,
  name: string,
  signal?: AbortSignal,
): Promise<SegmentRecord> {
  const { last } = await readPartialChain(backend, folder, signal);
  const bytes = await assemblePartialSegment(backend, folder, name, signal);
  const header = parseSegmentHeader(bytes.subarray(0, SEGMENT_HEAD_BYTES), name);
  return {
    sha256: last.prefixSha256,
    size: last.end,
    compression: "zstd",
    encryption: "none",
    segmentId: last.segmentId,
    version: last.version,
    name,
    closeTimeMs: last.syncedBeforeMs,
    archiveTimeMs: last.uploadTimeMs,
    cluster: "",
    hostId: "",
    status: "torn-tail",
    headerParameters: header.parametersJson,
    archivedBy: "agent",
  };
}
