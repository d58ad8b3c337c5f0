/**
 * What every archived segment object records about itself, as object metadata (lowercase keys with
 * underscores, ASCII values: the common subset of S3, GCS, Azure and the file backend).
 */
export type SegmentStatus = "complete" | "torn-tail" | "corrupt" | "unsupported";
export type SegmentEncryption = "none" | "aes-256-gcm";

export interface SegmentRecord {
  /** sha256 (hex) of the original segment bytes, before compression. */
  readonly sha256: string;
  /** Size of the original segment in bytes. */
  readonly size: number;
  readonly compression: "zstd";
  /**
   * How the object is stored: in clear, or encrypted client-side (docs/encryption.md). The pipeline
   * writes "none"; the encryption decorator sets the stored metadata to the algorithm and the key id
   * whatever the pipeline said, so a record read back from storage tells how its object is stored.
   */
  readonly encryption: SegmentEncryption;
  /** The id of the key an encrypted object needs (the first 16 hex digits of its sha256); absent in clear. */
  readonly encryptionKey?: string | undefined;
  readonly segmentId: bigint;
  readonly version: number;
  /** Cassandra's file name, CommitLog-<version>-<id>.log */
  readonly name: string;
  /** The segment's close time (file mtime), ms since the epoch. */
  readonly closeTimeMs: number;
  readonly archiveTimeMs: number;
  readonly cluster: string;
  readonly hostId: string;
  readonly status: SegmentStatus;
  /** The descriptor's parameters JSON exactly as in the header (compression/encryption settings). */
  readonly headerParameters: string;
  /** What stored it: the hook, the agent draining the spool, or the sweeper. */
  readonly archivedBy: "hook" | "agent" | "sweeper" | "import";
  /** Detail of a corrupt/unsupported segment (code and offset). */
  readonly problem?: string | undefined;
}

export function recordToMetadata(r: SegmentRecord): Record<string, string> {
  const meta: Record<string, string> = {
    sha256: r.sha256,
    size: String(r.size),
    compression: r.compression,
    encryption: r.encryption,
    segment_id: r.segmentId.toString(),
    version: String(r.version),
    name: r.name,
    close_time: new Date(r.closeTimeMs).toISOString(),
    archive_time: new Date(r.archiveTimeMs).toISOString(),
    cluster: Buffer.from(r.cluster, "utf8").toString("base64url"),
    host_id: r.hostId,
    status: r.status,
    header: Buffer.from(r.headerParameters, "utf8").toString("base64url"),
    archived_by: r.archivedBy,
  };
  if (r.encryptionKey) meta["encryption_key"] = r.encryptionKey;
  if (r.problem) meta["problem"] = Buffer.from(r.problem, "utf8").toString("base64url");
  return meta;
}

/** Reads a record back from metadata; undefined when the object does not carry one. */
export function recordFromMetadata(meta: Readonly<Record<string, string>>): SegmentRecord | undefined {
  const get = (k: string) => meta[k];
  const sha256 = get("sha256");
  const size = get("size");
  const segmentId = get("segment_id");
  const version = get("version");
  if (!sha256 || !size || !segmentId || !version) return undefined;
  const b64 = (k: string) => Buffer.from(get(k) ?? "", "base64url").toString("utf8");
  return {
    sha256,
    size: Number(size),
    compression: "zstd",
    ...encryptionOf(meta),
    segmentId: BigInt(segmentId),
    version: Number(version),
    name: get("name") ?? `CommitLog-${version}-${segmentId}.log`,
    closeTimeMs: Date.parse(get("close_time") ?? ""),
    archiveTimeMs: Date.parse(get("archive_time") ?? ""),
    cluster: b64("cluster"),
    hostId: get("host_id") ?? "",
    status: (get("status") as SegmentStatus | undefined) ?? "complete",
    headerParameters: b64("header"),
    archivedBy: (get("archived_by") as SegmentRecord["archivedBy"] | undefined) ?? "hook",
    problem: get("problem") ? b64("problem") : undefined,
  };
}

/** The stored encryption fields (the decorator writes the algorithm and the key id together). */
function encryptionOf(meta: Readonly<Record<string, string>>): {
  encryption: SegmentEncryption;
  encryptionKey?: string;
} {
  const key = meta["encryption_key"];
  return meta["encryption"] === "aes-256-gcm" && key
    ? { encryption: "aes-256-gcm", encryptionKey: key }
    : { encryption: "none" };
}
