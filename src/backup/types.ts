/**
 * The JSON documents the archive holds for snapshots and incrementals (docs/archive-layout.md).
 * These types are the exact stored shape (snake_case). They are stable: fields are only ever added.
 *
 * Numbers that may exceed 2^53 (client timestamps in µs, commit log segment ids) are decimal
 * strings; convert with BigInt().
 */

export const BACKUP_SCHEMA_VERSION = 1;

/** A commit log position as Cassandra stores it (CommitLogPosition). */
export interface CommitLogPositionJson {
  /** Decimal string of the int64 segment id. */
  readonly segment_id: string;
  readonly position: number;
}

export interface CommitLogIntervalJson {
  readonly lower: CommitLogPositionJson;
  readonly upper: CommitLogPositionJson;
}

/** One file of an sstable, stored content-addressed at `key` (`<node prefix>sstables/<sha[0..2]>/<sha>`). */
export interface ArchivedComponent {
  /** `Data.db`, `Statistics.db`, `TOC.txt`, ... */
  readonly component: string;
  /** The original file name, e.g. `nb-1-big-Data.db`. */
  readonly file: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
  /** Object key, relative to the archive location. */
  readonly key: string;
}

/** One sstable with what its Statistics.db says (null = not present / not readable for this version). */
export interface ArchivedSstable {
  /** `<version>-<id>-<format>`, e.g. `nb-1-big`. */
  readonly name: string;
  readonly version: string;
  readonly id: string;
  readonly format: string;
  /** Creation time decoded from a UUID id (ISO); null for sequential ids. */
  readonly id_time: string | null;
  /** µs, decimal strings. */
  readonly min_timestamp: string | null;
  readonly max_timestamp: string | null;
  readonly commit_log_upper_bound: CommitLogPositionJson | null;
  readonly commit_log_lower_bound: CommitLogPositionJson | null;
  readonly commit_log_intervals: CommitLogIntervalJson[] | null;
  readonly originating_host_id: string | null;
  /** Why the Statistics.db fields are null, when they are because reading failed. */
  readonly statistics_error: string | null;
  readonly components: ArchivedComponent[];
}

export interface SnapshotTable {
  readonly keyspace: string;
  readonly table: string;
  /** Dashed UUID: from schema.cql `WITH ID`, else from the table directory name. */
  readonly table_id: string;
  /** The table directory name, `<table>-<id hex>`. */
  readonly table_dir: string;
  /** schema.cql of the snapshot; null for system keyspaces (Cassandra writes none). */
  readonly schema_cql: string | null;
  readonly sstables: ArchivedSstable[];
}

/** `<node prefix>snapshots/<compact time>_<tag>/manifest.json`, written after every component. */
export interface SnapshotManifest {
  readonly schema_version: number;
  readonly kind: "snapshot";
  readonly tag: string;
  /** ISO. Cassandra's manifest.json `created_at` (4.1+), else the upload start. */
  readonly snapshot_time: string;
  readonly snapshot_time_source: "cassandra-manifest" | "upload";
  readonly uploaded_at: string;
  readonly cluster: string;
  readonly host_id: string;
  readonly datacenter: string | null;
  readonly cassandra_version: string | null;
  /** The node's tokens (decimal strings) from nodetool; null when nodetool was not reachable. */
  readonly tokens: string[] | null;
  readonly tables: SnapshotTable[];
  /**
   * The `system_schema` keyspace's tables in the same snapshot: every keyspace (with its replication),
   * table (with its id), column and type definition of the node. Absent in manifests written before
   * it was recorded, and when nodetool could not snapshot it.
   */
  readonly schema_tables?: SnapshotTable[];
}

/**
 * `<node prefix>incrementals/<YYYY>/<MM>/<DD>/<compact time>_<keyspace>.<table>_<table id hex>_<sstable>.json`,
 * one per incremental sstable, written after its components.
 */
export interface IncrementalRecord {
  readonly schema_version: number;
  readonly kind: "incremental";
  readonly cluster: string;
  readonly host_id: string;
  readonly keyspace: string;
  readonly table: string;
  readonly table_id: string;
  readonly table_dir: string;
  /** ISO; the Data.db mtime (when Cassandra finished writing the sstable), also the key's time. */
  readonly flush_time: string;
  readonly uploaded_at: string;
  readonly sstable: ArchivedSstable;
}

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
