/**
 * The JSON documents the archive holds for snapshots and incrementals (docs/archive-layout.md,
 * Snapshots and Incrementals): their exact stored shape (snake_case) and their codec. They are
 * stable: fields are only ever added.
 *
 * Numbers that may exceed 2^53 (client timestamps in µs, commit log segment ids) are decimal
 * strings; convert with BigInt().
 */
import { PitrError } from "../errors/base.js";

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

/** A stored JSON document that is not what its key says. */
export class BackupRecordError extends PitrError {
  override name = "BackupRecordError";
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super("E_CHECKSUM_MISMATCH", `archived record '${key}' is invalid: ${detail}`);
  }
}

type Obj = Record<string, unknown>;

class Check {
  constructor(private readonly key: string) {}
  fail(path: string, what: string): never {
    throw new BackupRecordError(this.key, `${path}: ${what}`);
  }
  obj(v: unknown, path: string): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "expected an object");
    return v as Obj;
  }
  str(o: Obj, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== "string") this.fail(`${path}.${k}`, "expected a string");
    return v;
  }
  strOrNull(o: Obj, k: string, path: string): string | null {
    const v = o[k];
    if (v === null || v === undefined) return null;
    if (typeof v !== "string") this.fail(`${path}.${k}`, "expected a string or null");
    return v;
  }
  int(o: Obj, k: string, path: string): number {
    const v = o[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v)) this.fail(`${path}.${k}`, "expected an integer");
    return v;
  }
  decimal(o: Obj, k: string, path: string): string | null {
    const v = this.strOrNull(o, k, path);
    if (v !== null && !/^-?\d+$/.test(v)) this.fail(`${path}.${k}`, "expected a decimal string");
    return v;
  }
  arr(o: Obj, k: string, path: string): unknown[] {
    const v = o[k];
    if (!Array.isArray(v)) this.fail(`${path}.${k}`, "expected an array");
    return v;
  }
  time(o: Obj, k: string, path: string): string {
    const v = this.str(o, k, path);
    if (!Number.isFinite(Date.parse(v))) this.fail(`${path}.${k}`, "expected an ISO time");
    return v;
  }
  position(v: unknown, path: string): CommitLogPositionJson | null {
    if (v === null || v === undefined) return null;
    const o = this.obj(v, path);
    const segment_id = this.decimal(o, "segment_id", path);
    if (segment_id === null) this.fail(`${path}.segment_id`, "missing");
    return { segment_id, position: this.int(o, "position", path) };
  }
  component(v: unknown, path: string): ArchivedComponent {
    const o = this.obj(v, path);
    const sha256 = this.str(o, "sha256", path);
    if (!/^[0-9a-f]{64}$/.test(sha256)) this.fail(`${path}.sha256`, "expected 64 hex characters");
    return {
      component: this.str(o, "component", path),
      file: this.str(o, "file", path),
      size: this.int(o, "size", path),
      sha256,
      key: this.str(o, "key", path),
    };
  }
  sstable(v: unknown, path: string): ArchivedSstable {
    const o = this.obj(v, path);
    const intervals = o["commit_log_intervals"];
    return {
      name: this.str(o, "name", path),
      version: this.str(o, "version", path),
      id: this.str(o, "id", path),
      format: this.str(o, "format", path),
      id_time: this.strOrNull(o, "id_time", path),
      min_timestamp: this.decimal(o, "min_timestamp", path),
      max_timestamp: this.decimal(o, "max_timestamp", path),
      commit_log_upper_bound: this.position(o["commit_log_upper_bound"], `${path}.commit_log_upper_bound`),
      commit_log_lower_bound: this.position(o["commit_log_lower_bound"], `${path}.commit_log_lower_bound`),
      commit_log_intervals:
        intervals === null || intervals === undefined
          ? null
          : this.arr(o, "commit_log_intervals", path).map((iv, i) => {
              const p = `${path}.commit_log_intervals[${i}]`;
              const io = this.obj(iv, p);
              const lower = this.position(io["lower"], `${p}.lower`);
              const upper = this.position(io["upper"], `${p}.upper`);
              if (!lower || !upper) this.fail(p, "expected lower and upper");
              return { lower, upper };
            }),
      originating_host_id: this.strOrNull(o, "originating_host_id", path),
      statistics_error: this.strOrNull(o, "statistics_error", path),
      components: this.arr(o, "components", path).map((c, i) =>
        this.component(c, `${path}.components[${i}]`),
      ),
    };
  }
  table(v: unknown, path: string): SnapshotTable {
    const o = this.obj(v, path);
    return {
      keyspace: this.str(o, "keyspace", path),
      table: this.str(o, "table", path),
      table_id: this.str(o, "table_id", path),
      table_dir: this.str(o, "table_dir", path),
      schema_cql: this.strOrNull(o, "schema_cql", path),
      sstables: this.arr(o, "sstables", path).map((s, i) => this.sstable(s, `${path}.sstables[${i}]`)),
    };
  }
}

export function parseJson(text: string, key: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BackupRecordError(key, "not JSON");
  }
}

/** Validates a snapshot manifest document (as stored); `key` only names it in errors. */
export function parseSnapshotManifest(json: unknown, key = "manifest.json"): SnapshotManifest {
  const c: Check = new Check(key);
  const o = c.obj(json, "$");
  if (o["kind"] !== "snapshot") c.fail("$.kind", "expected 'snapshot'");
  const schemaVersion = c.int(o, "schema_version", "$");
  if (schemaVersion < 1) c.fail("$.schema_version", "expected ≥ 1");
  const rawSource = o["snapshot_time_source"];
  if (rawSource !== "cassandra-manifest" && rawSource !== "upload")
    c.fail("$.snapshot_time_source", "expected 'cassandra-manifest' or 'upload'");
  const source: "cassandra-manifest" | "upload" = rawSource;
  const tokens = o["tokens"];
  return {
    schema_version: schemaVersion,
    kind: "snapshot",
    tag: c.str(o, "tag", "$"),
    snapshot_time: c.time(o, "snapshot_time", "$"),
    snapshot_time_source: source,
    uploaded_at: c.time(o, "uploaded_at", "$"),
    cluster: c.str(o, "cluster", "$"),
    host_id: c.str(o, "host_id", "$"),
    datacenter: c.strOrNull(o, "datacenter", "$"),
    cassandra_version: c.strOrNull(o, "cassandra_version", "$"),
    tokens:
      tokens === null || tokens === undefined
        ? null
        : c.arr(o, "tokens", "$").map((t, i): string => {
            if (typeof t !== "string" || !/^-?\d+$/.test(t))
              c.fail(`$.tokens[${i}]`, "expected a decimal string");
            return t;
          }),
    tables: c.arr(o, "tables", "$").map((t, i) => c.table(t, `$.tables[${i}]`)),
    ...(o["schema_tables"] === undefined
      ? {}
      : { schema_tables: c.arr(o, "schema_tables", "$").map((t, i) => c.table(t, `$.schema_tables[${i}]`)) }),
  };
}

/** Validates an incremental record document (as stored). */
export function parseIncrementalRecord(json: unknown, key = "incremental.json"): IncrementalRecord {
  const c: Check = new Check(key);
  const o = c.obj(json, "$");
  if (o["kind"] !== "incremental") c.fail("$.kind", "expected 'incremental'");
  const schemaVersion = c.int(o, "schema_version", "$");
  if (schemaVersion < 1) c.fail("$.schema_version", "expected ≥ 1");
  return {
    schema_version: schemaVersion,
    kind: "incremental",
    cluster: c.str(o, "cluster", "$"),
    host_id: c.str(o, "host_id", "$"),
    keyspace: c.str(o, "keyspace", "$"),
    table: c.str(o, "table", "$"),
    table_id: c.str(o, "table_id", "$"),
    table_dir: c.str(o, "table_dir", "$"),
    flush_time: c.time(o, "flush_time", "$"),
    uploaded_at: c.time(o, "uploaded_at", "$"),
    sstable: c.sstable(o["sstable"], "$.sstable"),
  };
}
