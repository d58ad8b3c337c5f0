/**
 * Readers for the catalog: snapshot manifests and incremental records, listed and parsed. Only
 * complete snapshots exist for readers: a snapshot folder without manifest.json is never listed.
 */
import type { NodeIdentity } from "../format/layout.js";
import type { Backend } from "../storage/types.js";
import { readText } from "../storage/front.js";
import {
  incrementalDayPrefixes,
  parseIncrementalKey,
  parseSnapshotManifestKey,
  snapshotsPrefix,
} from "../format/backup-layout.js";
import type { IncrementalRecord, SnapshotManifest, StoredIncremental, StoredSnapshot } from "./types.js";
import {
  BackupRecordError,
  parseIncrementalRecord,
  parseJson,
  parseSnapshotManifest,
} from "../format/backup-record.js";

export { BackupRecordError, parseIncrementalRecord, parseSnapshotManifest } from "../format/backup-record.js";

export async function readSnapshotManifest(
  backend: Backend,
  key: string,
  signal?: AbortSignal,
): Promise<SnapshotManifest> {
  return parseSnapshotManifest(parseJson(await readText(backend, key, signal), key), key);
}

export async function readIncrementalRecord(
  backend: Backend,
  key: string,
  signal?: AbortSignal,
): Promise<IncrementalRecord> {
  return parseIncrementalRecord(parseJson(await readText(backend, key, signal), key), key);
}

export interface ListOptions {
  readonly signal?: AbortSignal | undefined;
  /**
   * Called for a record that exists but does not parse; without it such a record throws
   * BackupRecordError.
   */
  readonly onInvalid?: ((key: string, error: BackupRecordError) => void) | undefined;
}

async function tolerant<T>(
  key: string,
  options: ListOptions,
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof BackupRecordError && options.onInvalid) {
      options.onInvalid(key, e);
      return undefined;
    }
    throw e;
  }
}

/** Every complete snapshot of the node (folders without manifest.json are skipped), oldest first. */
export async function listSnapshots(
  backend: Backend,
  identity: NodeIdentity,
  options: ListOptions = {},
): Promise<StoredSnapshot[]> {
  const out: StoredSnapshot[] = [];
  for await (const info of backend.list(snapshotsPrefix(identity), { signal: options.signal })) {
    if (!parseSnapshotManifestKey(info.key)) continue;
    const manifest = await tolerant(info.key, options, () =>
      readSnapshotManifest(backend, info.key, options.signal),
    );
    if (manifest) out.push({ key: info.key, manifest });
  }
  return out.sort(
    (a, b) =>
      Date.parse(a.manifest.snapshot_time) - Date.parse(b.manifest.snapshot_time) || (a.key < b.key ? -1 : 1),
  );
}

/** Incrementals of the node whose flush time (Data.db mtime) lies in [fromMs, toMs], oldest first. */
export async function listIncrementals(
  backend: Backend,
  identity: NodeIdentity,
  fromMs: number,
  toMs: number,
  options: ListOptions = {},
): Promise<StoredIncremental[]> {
  const out: StoredIncremental[] = [];
  for (const prefix of incrementalDayPrefixes(identity, fromMs, toMs)) {
    for await (const info of backend.list(prefix, { signal: options.signal })) {
      const parts = parseIncrementalKey(info.key);
      if (!parts || parts.flushTimeMs < fromMs || parts.flushTimeMs > toMs) continue;
      const record = await tolerant(info.key, options, () =>
        readIncrementalRecord(backend, info.key, options.signal),
      );
      if (record) out.push({ key: info.key, record });
    }
  }
  return out;
}
