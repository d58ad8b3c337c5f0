/**
 * The archive layout (docs/archive-layout.md is the specification). Within the archive location:
 *
 *   <cluster>/<host id>/segments/<YYYY>/<MM>/<DD>/<YYYYMMDD>T<HHMMSS>.<mmm>Z_<segment id>_v<version>.log.zst
 *
 * Keys of one node sort by the segment's close time (UTC, the segment file's mtime, which stays the
 * same when Cassandra archives the same file again after a restart, so re-archiving maps to the
 * same key). A time window is listed by day prefixes without listing the whole archive. A segment
 * that arrives with the same name and close time but different bytes is kept beside the first as
 * `..._v<version>.conflict-<sha256 prefix>.log.zst`; nothing is ever overwritten.
 */
export interface NodeIdentity {
  readonly cluster: string;
  /** The node's host id. */
  readonly node: string;
}

export const SEGMENTS_DIR = "segments";
export const SEGMENT_IDS_DIR = "segment-ids";
export const SEGMENT_SUFFIX = ".log.zst";

/**
 * Keeps [A-Za-z0-9._-]; anything else becomes +XX (hex of each UTF-8 byte), so names stay distinct.
 * A leading "." is encoded too: key segments starting with "." are reserved (key.ts, the file://
 * backend's sidecars and temps), and a cluster named ".prod" must archive like any other.
 */
export function encodeKeyPart(text: string): string {
  if (text.length === 0) throw new Error("empty key part");
  return Array.from(Buffer.from(text, "utf8"))
    .map((b, i) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9._-]/.test(c) && !(c === "." && (i === 0 || text === ".."))
        ? c
        : `+${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

/** Inverse of encodeKeyPart. */
export function decodeKeyPart(text: string): string {
  if (!text.includes("+")) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "+" && /^[0-9a-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

export function nodePrefix(id: NodeIdentity): string {
  return `${encodeKeyPart(id.cluster)}/${encodeKeyPart(id.node)}/`;
}

export function segmentsPrefix(id: NodeIdentity): string {
  return `${nodePrefix(id)}${SEGMENTS_DIR}/`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** 2026-11-21T08:30:12.123Z → "20261121T083012.123Z" */
export function compactTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`
  );
}

export function parseCompactTime(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(text);
  if (!m) return undefined;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
}

/** "YYYY/MM/DD/" of an instant (UTC): the date folders segments and incrementals are listed by. */
export function dayFolder(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/`;
}

/** The start of every UTC day that [fromMs, toMs] touches, oldest first. */
export function daysCovering(fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  const day = 86_400_000;
  for (let t = Math.floor(fromMs / day) * day; t <= toMs; t += day) out.push(t);
  return out;
}

export function dayPrefix(id: NodeIdentity, ms: number): string {
  return `${segmentsPrefix(id)}${dayFolder(ms)}`;
}

/** Day prefixes covering [fromMs, toMs], oldest first. */
export function dayPrefixes(id: NodeIdentity, fromMs: number, toMs: number): string[] {
  return daysCovering(fromMs, toMs).map((t) => dayPrefix(id, t));
}

export interface SegmentKeyParts {
  readonly closeTimeMs: number;
  readonly segmentId: bigint;
  readonly version: number;
  /** Set for the second copy kept when different bytes arrived under the same name and time. */
  readonly conflict?: string | undefined;
}

export function segmentKey(id: NodeIdentity, parts: SegmentKeyParts): string {
  const variant = parts.conflict ? `.conflict-${parts.conflict}` : "";
  return `${dayPrefix(id, parts.closeTimeMs)}${compactTime(parts.closeTimeMs)}_${parts.segmentId}_v${parts.version}${variant}${SEGMENT_SUFFIX}`;
}

const KEY_NAME = /^(\d{8}T\d{6}\.\d{3}Z)_(\d+)_v(\d+)(?:\.conflict-([0-9a-f]+))?\.log\.zst$/;

/** Parses the last path element of a segment key; undefined for anything else. */
export function parseSegmentKey(key: string): SegmentKeyParts | undefined {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const m = KEY_NAME.exec(name);
  if (!m) return undefined;
  const closeTimeMs = parseCompactTime(m[1]!);
  if (closeTimeMs === undefined) return undefined;
  return { closeTimeMs, segmentId: BigInt(m[2]!), version: Number(m[3]), conflict: m[4] };
}

/** The Cassandra file name a segment key restores to. */
export function segmentNameOfKey(parts: SegmentKeyParts): string {
  return `CommitLog-${parts.version}-${parts.segmentId}.log`;
}

/**
 * The id index entry of a segment: `<cluster>/<host id>/segment-ids/<segment id>_v<version>`, an empty
 * object whose metadata names the key the segment is stored under and its sha256. It lets the archive
 * recognise a segment by its id and checksum whatever its file time (a segment that a restore copied
 * back into the commit log directory has the restore's file time, and Cassandra archives it again at
 * the next start if it is still there).
 */
export function segmentIdKey(id: NodeIdentity, segmentId: bigint, version: number): string {
  return `${nodePrefix(id)}${SEGMENT_IDS_DIR}/${segmentId}_v${version}`;
}

/**
 * The probe `check` writes, reads back and removes to prove the archive writable:
 * `<node prefix>_check/<ms>-<random hex>`, or `_check/...` at the root before the node is known.
 */
export function checkProbeKey(id: NodeIdentity | undefined, nowMs: number, randomHex: string): string {
  return `${id ? nodePrefix(id) : ""}_check/${nowMs}-${randomHex}`;
}
