/**
 * Readers for the catalog: snapshot manifests and incremental records, listed and parsed. Only
 * complete snapshots exist for readers: a snapshot folder without manifest.json is never listed.
 */
import type { NodeIdentity } from "../format/layout.js";
import { PitrError } from "../errors/base.js";
import type { Backend } from "../storage/types.js";
import { readText } from "../storage/front.js";
import { incrementalDayPrefixes, parseIncrementalKey, parseSnapshotManifestKey, snapshotsPrefix } from "../format/backup-layout.js";
import type {
  ArchivedComponent,
  ArchivedSstable,
  CommitLogPositionJson,
  IncrementalRecord,
  SnapshotManifest,
  SnapshotTable,
  StoredIncremental,
  StoredSnapshot,
} from "./types.js";

/** A stored JSON document that is not what its key says. */
export class BackupRecordError extends PitrError {
  override name = "BackupRecordError";
  constructor(readonly key: string, detail: string) {
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
    return { component: this.str(o, "component", path), file: this.str(o, "file", path), size: this.int(o, "size", path), sha256, key: this.str(o, "key", path) };
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
      components: this.arr(o, "components", path).map((c, i) => this.component(c, `${path}.components[${i}]`)),
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

function parseJson(text: string, key: string): unknown {
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
  if (rawSource !== "cassandra-manifest" && rawSource !== "upload") c.fail("$.snapshot_time_source", "expected 'cassandra-manifest' or 'upload'");
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
            if (typeof t !== "string" || !/^-?\d+$/.test(t)) c.fail(`$.tokens[${i}]`, "expected a decimal string");
            return t;
          }),
    tables: c.arr(o, "tables", "$").map((t, i) => c.table(t, `$.tables[${i}]`)),
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

export async function readSnapshotManifest(backend: Backend, key: string, signal?: AbortSignal): Promise<SnapshotManifest> {
  return parseSnapshotManifest(parseJson(await readText(backend, key, signal), key), key);
}

export async function readIncrementalRecord(backend: Backend, key: string, signal?: AbortSignal): Promise<IncrementalRecord> {
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

async function tolerant<T>(key: string, options: ListOptions, read: () => Promise<T>): Promise<T | undefined> {
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
export async function listSnapshots(backend: Backend, identity: NodeIdentity, options: ListOptions = {}): Promise<StoredSnapshot[]> {
  const out: StoredSnapshot[] = [];
  for await (const info of backend.list(snapshotsPrefix(identity), { signal: options.signal })) {
    if (!parseSnapshotManifestKey(info.key)) continue;
    const manifest = await tolerant(info.key, options, () => readSnapshotManifest(backend, info.key, options.signal));
    if (manifest) out.push({ key: info.key, manifest });
  }
  return out.sort((a, b) => Date.parse(a.manifest.snapshot_time) - Date.parse(b.manifest.snapshot_time) || (a.key < b.key ? -1 : 1));
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
      const record = await tolerant(info.key, options, () => readIncrementalRecord(backend, info.key, options.signal));
      if (record) out.push({ key: info.key, record });
    }
  }
  return out;
}
