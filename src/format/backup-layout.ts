/**
 * Object keys of snapshots, incrementals and content-addressed sstable components
 * (docs/archive-layout.md, sections Snapshots and Incrementals):
 *
 *   <node prefix>sstables/<sha256[0..2]>/<sha256>
 *   <node prefix>snapshots/<compact time>_<tag>/manifest.json
 *   <node prefix>incrementals/<YYYY>/<MM>/<DD>/<compact time>_<keyspace>.<table>_<table id hex>_<sstable>.json
 */
import {
  compactTime,
  dayFolder,
  daysCovering,
  decodeKeyPart,
  encodeKeyPart,
  nodePrefix,
  parseCompactTime,
  type NodeIdentity,
} from "./layout.js";

export const SSTABLES_DIR = "sstables";
export const SNAPSHOTS_DIR = "snapshots";
export const INCREMENTALS_DIR = "incrementals";
export const MANIFEST_NAME = "manifest.json";
/**
 * The keyspace whose tables hold the schema (keyspaces with their replication, tables with their
 * ids, columns, types). A snapshot manifest records its sstables as `schema_tables`; their table
 * directories (`<name>-<id>`) are the same on every node of a release.
 */
export const SCHEMA_KEYSPACE = "system_schema";

export function componentsPrefix(id: NodeIdentity): string {
  return `${nodePrefix(id)}${SSTABLES_DIR}/`;
}

export function componentKey(id: NodeIdentity, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return `${componentsPrefix(id)}${sha256.slice(0, 2)}/${sha256}`;
}

export function snapshotsPrefix(id: NodeIdentity): string {
  return `${nodePrefix(id)}${SNAPSHOTS_DIR}/`;
}

export function snapshotManifestKey(id: NodeIdentity, snapshotTimeMs: number, tag: string): string {
  return `${snapshotsPrefix(id)}${compactTime(snapshotTimeMs)}_${encodeKeyPart(tag)}/${MANIFEST_NAME}`;
}

/** Parses `.../snapshots/<compact time>_<encoded tag>/manifest.json`; undefined for other keys. */
export function parseSnapshotManifestKey(
  key: string,
): { snapshotTimeMs: number; encodedTag: string } | undefined {
  const m = /\/snapshots\/(\d{8}T\d{6}\.\d{3}Z)_([^/]+)\/manifest\.json$/.exec(key);
  if (!m) return undefined;
  const snapshotTimeMs = parseCompactTime(m[1]!);
  return snapshotTimeMs === undefined ? undefined : { snapshotTimeMs, encodedTag: m[2]! };
}

export function incrementalsPrefix(id: NodeIdentity): string {
  return `${nodePrefix(id)}${INCREMENTALS_DIR}/`;
}

export function incrementalDayPrefix(id: NodeIdentity, ms: number): string {
  return `${incrementalsPrefix(id)}${dayFolder(ms)}`;
}

/** Day prefixes covering [fromMs, toMs], oldest first. */
export function incrementalDayPrefixes(id: NodeIdentity, fromMs: number, toMs: number): string[] {
  return daysCovering(fromMs, toMs).map((t) => incrementalDayPrefix(id, t));
}

export interface IncrementalKeyParts {
  readonly flushTimeMs: number;
  readonly keyspace: string;
  readonly table: string;
  /** 32 hex characters (no dashes). */
  readonly tableIdHex: string;
  /** `<version>-<id>-<format>`. */
  readonly sstable: string;
}

export function incrementalKey(id: NodeIdentity, p: IncrementalKeyParts): string {
  return (
    `${incrementalDayPrefix(id, p.flushTimeMs)}${compactTime(p.flushTimeMs)}_` +
    `${encodeKeyPart(p.keyspace)}.${encodeKeyPart(p.table)}_${p.tableIdHex}_${encodeKeyPart(p.sstable)}.json`
  );
}

/** Parses the last element of an incremental key; undefined for anything else. */
export function parseIncrementalKey(key: string): IncrementalKeyParts | undefined {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const m =
    /^(\d{8}T\d{6}\.\d{3}Z)_([A-Za-z0-9_+]+)\.([A-Za-z0-9_+]+)_([0-9a-f]{32})_([a-z]{2}-[0-9a-z_]+-[a-z]+)\.json$/.exec(
      name,
    );
  if (!m) return undefined;
  const flushTimeMs = parseCompactTime(m[1]!);
  if (flushTimeMs === undefined) return undefined;
  return {
    flushTimeMs,
    keyspace: decodeKeyPart(m[2]!),
    table: decodeKeyPart(m[3]!),
    tableIdHex: m[4]!,
    sstable: m[5]!,
  };
}

/** `233ad580e58711f1988fc5102cd29634` ↔ `233ad580-e587-11f1-988f-c5102cd29634`. */
export function dashedUuid(hex: string): string {
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function undashedUuid(uuid: string): string {
  return uuid.toLowerCase().replace(/-/g, "");
}
