/**
 * Partial segments (docs/archive-layout.md, "partials/"): the synced sections of a segment Cassandra
 * has not closed yet, uploaded as they appear. One object per new run of sections, keyed by the
 * segment and the byte range it holds:
 *
 *   <cluster>/<host id>/partials/<segment id>_v<version>/<start>-<end>.part
 *
 * with <start> and <end> file offsets, zero-padded to 12 digits so that keys sort by offset. The
 * object holds the segment's bytes [start, end) as they are on disk (the first one starts at 0 and
 * carries the header). An empty object (<start> = <end>) is a rescue's seal: no new bytes, only its
 * claim for the chain that ends there, or the agent's heartbeat: an idle node's claim moving on
 * without new bytes (overwritten at each beat; its record says since when it beat). Every range ends at a sync section boundary whose sections verified, so the
 * concatenation of a contiguous chain from 0 is a segment Cassandra replays like a crash-torn one.
 * A full segment of the same id, once archived, supersedes the chain (retention removes it).
 */
import { nodePrefix, type NodeIdentity } from "./layout.js";

export const PARTIALS_DIR = "partials";
export const PARTIAL_SUFFIX = ".part";
const OFFSET_DIGITS = 12;

export function partialsPrefix(id: NodeIdentity): string {
  return `${nodePrefix(id)}${PARTIALS_DIR}/`;
}

/** The folder of one segment's partial objects; also the key a plan names the assembled segment by. */
export function partialSegmentPrefix(id: NodeIdentity, segmentId: bigint, version: number): string {
  return `${partialsPrefix(id)}${segmentId}_v${version}/`;
}

export function partialKey(
  id: NodeIdentity,
  segmentId: bigint,
  version: number,
  start: number,
  end: number,
): string {
  const pad = (n: number) => String(n).padStart(OFFSET_DIGITS, "0");
  return `${partialSegmentPrefix(id, segmentId, version)}${pad(start)}-${pad(end)}${PARTIAL_SUFFIX}`;
}

export interface PartialKeyParts {
  readonly segmentId: bigint;
  readonly version: number;
  readonly start: number;
  readonly end: number;
}

const PARTIAL_KEY = /(?:^|\/)partials\/(\d+)_v(\d+)\/(\d{12})-(\d{12})\.part$/;

/** Parses a partial object's key; undefined for anything else. */
export function parsePartialKey(key: string): PartialKeyParts | undefined {
  const m = PARTIAL_KEY.exec(key);
  if (!m) return undefined;
  const start = Number(m[3]);
  const end = Number(m[4]);
  if (end < start) return undefined;
  return { segmentId: BigInt(m[1]!), version: Number(m[2]), start, end };
}

const SEGMENT_PREFIX = /(?:^|\/)partials\/(\d+)_v(\d+)\/$/;

/** True for the key a plan gives an assembled partial segment (its folder). */
export function isPartialSegmentKey(key: string): boolean {
  return SEGMENT_PREFIX.test(key);
}

/** The segment id and version of a partial segment's folder key; undefined for any other key. */
export function parsePartialFolder(
  key: string,
): { readonly segmentId: bigint; readonly version: number } | undefined {
  const m = SEGMENT_PREFIX.exec(key);
  return m ? { segmentId: BigInt(m[1]!), version: Number(m[2]) } : undefined;
}

/** Who uploaded a partial: the agent while the node ran, or a rescue of a node that is down. */
export type PartialSource = "agent" | "rescue";

/** What each partial object records about itself, as object metadata (see segment-record.ts). */
export interface PartialRecord {
  readonly segmentId: bigint;
  readonly version: number;
  readonly start: number;
  readonly end: number;
  /** Logical (CommitLogPosition) end of the data, which differs from `end` for compressed segments. */
  readonly logicalEnd: number;
  /** sha256 of this object's bytes. */
  readonly sha256: string;
  /** sha256 of the segment's bytes [0, end): what the assembled chain must hash to. */
  readonly prefixSha256: string;
  /**
   * Every write Cassandra allocated before this instant is in [0, end): a sync was seen after it
   * (agent), or the node was down when the tail was read (rescue). The restorable window ends here.
   */
  readonly syncedBeforeMs: number;
  readonly uploadTimeMs: number;
  readonly source: PartialSource;
  /**
   * A heartbeat (an empty object the agent overwrites while the node is idle): since when it has
   * beaten at this key, the longest time between two beats, and the longest delay of a beat's claim
   * behind its upload. The report takes the claims in between from these (report/read.ts).
   */
  readonly beat?: HeartbeatRecord | undefined;
}

export interface HeartbeatRecord {
  readonly sinceMs: number;
  readonly maxGapMs: number;
  readonly maxLagMs: number;
}

export function partialToMetadata(r: PartialRecord): Record<string, string> {
  return {
    segment_id: r.segmentId.toString(),
    version: String(r.version),
    start: String(r.start),
    end: String(r.end),
    logical_end: String(r.logicalEnd),
    sha256: r.sha256,
    prefix_sha256: r.prefixSha256,
    synced_before: new Date(r.syncedBeforeMs).toISOString(),
    upload_time: new Date(r.uploadTimeMs).toISOString(),
    source: r.source,
    ...(r.beat
      ? {
          beat_since: new Date(r.beat.sinceMs).toISOString(),
          beat_max_gap_ms: String(r.beat.maxGapMs),
          beat_max_lag_ms: String(r.beat.maxLagMs),
        }
      : {}),
  };
}

/** Reads a record back; undefined when the metadata is not a partial's. */
export function partialFromMetadata(meta: Readonly<Record<string, string>>): PartialRecord | undefined {
  const num = (k: string) => (meta[k] !== undefined && /^\d+$/.test(meta[k]) ? Number(meta[k]) : undefined);
  const start = num("start");
  const end = num("end");
  const logicalEnd = num("logical_end");
  const version = num("version");
  const syncedBeforeMs = Date.parse(meta["synced_before"] ?? "");
  const { segment_id: segmentId, sha256, prefix_sha256: prefixSha256 } = meta;
  if (start === undefined || end === undefined || logicalEnd === undefined || version === undefined)
    return undefined;
  if (!segmentId || !/^\d+$/.test(segmentId) || !sha256 || !prefixSha256 || Number.isNaN(syncedBeforeMs))
    return undefined;
  return {
    segmentId: BigInt(segmentId),
    version,
    start,
    end,
    logicalEnd,
    sha256,
    prefixSha256,
    syncedBeforeMs,
    uploadTimeMs: Date.parse(meta["upload_time"] ?? "") || syncedBeforeMs,
    source: meta["source"] === "rescue" ? "rescue" : "agent",
    ...heartbeatFromMetadata(meta),
  };
}

function heartbeatFromMetadata(meta: Readonly<Record<string, string>>): { beat?: HeartbeatRecord } {
  const sinceMs = Date.parse(meta["beat_since"] ?? "");
  const gap = meta["beat_max_gap_ms"];
  const lag = meta["beat_max_lag_ms"];
  if (Number.isNaN(sinceMs) || !gap || !/^\d+$/.test(gap) || !lag || !/^\d+$/.test(lag)) return {};
  return { beat: { sinceMs, maxGapMs: Number(gap), maxLagMs: Number(lag) } };
}

/**
 * The contiguous run of a segment's partial objects from offset 0: at each offset the object that
 * reaches furthest (an agent's and a rescue's objects may overlap after a restart). Objects off the
 * chain are not used.
 */
export function partialChain<T extends { readonly start: number; readonly end: number }>(
  parts: readonly T[],
): T[] {
  const byStart = new Map<number, T>();
  for (const p of parts) if ((byStart.get(p.start)?.end ?? -1) < p.end) byStart.set(p.start, p);
  const chain: T[] = [];
  for (let at = byStart.get(0); at; at = byStart.get(at.end)) {
    chain.push(at);
    if (at.end === at.start) break; // a seal ends the chain
  }
  return chain;
}
