/**
 * The stored documents' types live with their codec in format/backup-record.ts (re-exported here
 * for the backup code); this file adds what listing the archive returns.
 */
import type { IncrementalRecord, SnapshotManifest } from "../format/backup-record.js";

export {
  BACKUP_SCHEMA_VERSION,
  type ArchivedComponent,
  type ArchivedSstable,
  type CommitLogIntervalJson,
  type CommitLogPositionJson,
  type IncrementalRecord,
  type SnapshotManifest,
  type SnapshotTable,
} from "../format/backup-record.js";

/** A snapshot as listed from the archive. */
export interface StoredSnapshot {
  /** Key of manifest.json. */
  readonly key: string;
  readonly manifest: SnapshotManifest;
}

/** An incremental as listed from the archive. */
export interface StoredIncremental {
  readonly key: string;
  readonly record: IncrementalRecord;
}
