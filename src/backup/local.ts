/**
 * The local side: table directories under Cassandra's data directory, and turning one sstable of a
 * directory into an archived sstable (components uploaded content-addressed + Statistics.db fields).
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { NodeIdentity } from "../format/layout.js";
import { isPitrError } from "../errors/base.js";
import { sstableIdTime, type SstableGroup } from "../sstable/name.js";
import { readStatistics, type CommitLogPosition, type SstableStatistics } from "../sstable/statistics.js";
import type { Backend } from "../storage/types.js";
import { mapLimit, uploadComponent } from "./components.js";
import { dataDirMissingError } from "./errors.js";
import { dashedUuid } from "../format/backup-layout.js";
import type { ArchivedComponent, ArchivedSstable, CommitLogPositionJson } from "./types.js";

/** Keyspaces skipped unless named explicitly in a scope. */
export const SYSTEM_KEYSPACES: ReadonlySet<string> = new Set([
  "system",
  "system_schema",
  "system_auth",
  "system_distributed",
  "system_traces",
  "system_views",
  "system_virtual_schema",
  "system_cluster_metadata",
]);

export interface TableDir {
  readonly keyspace: string;
  readonly table: string;
  /** Dashed UUID from the directory name. */
  readonly dirTableId: string;
  readonly dirName: string;
  readonly path: string;
}

/** Parsed scope: keyspaces and keyspace.table entries; empty = every non-system keyspace. */
export interface Scope {
  readonly keyspaces: readonly string[];
  readonly tables: readonly string[];
}

export function parseScope(entries: readonly string[]): Scope {
  const keyspaces: string[] = [];
  const tables: string[] = [];
  for (const e of entries) (e.includes(".") ? tables : keyspaces).push(e);
  return { keyspaces, tables };
}

export function inScope(scope: Scope, keyspace: string, table: string): boolean {
  if (scope.keyspaces.length === 0 && scope.tables.length === 0) return !SYSTEM_KEYSPACES.has(keyspace);
  return scope.keyspaces.includes(keyspace) || scope.tables.includes(`${keyspace}.${table}`);
}

export async function requireDataDir(dataDir: string | undefined): Promise<string> {
  if (dataDir === undefined || dataDir === "") throw dataDirMissingError(undefined);
  try {
    if ((await stat(dataDir)).isDirectory()) return dataDir;
  } catch (e) {
    throw dataDirMissingError(dataDir, { cause: e });
  }
  throw dataDirMissingError(dataDir);
}

const TABLE_DIR = /^(.+)-([0-9a-f]{32})$/;

async function subdirs(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR")
      return [];
    throw e;
  }
}

/** Every `<dataDir>/<keyspace>/<table>-<id>/` directory, sorted. */
export async function listTableDirs(dataDir: string): Promise<TableDir[]> {
  const out: TableDir[] = [];
  for (const keyspace of await subdirs(dataDir)) {
    for (const dirName of await subdirs(join(dataDir, keyspace))) {
      const m = TABLE_DIR.exec(dirName);
      if (!m) continue;
      out.push({
        keyspace,
        table: m[1]!,
        dirTableId: dashedUuid(m[2]!),
        dirName,
        path: join(dataDir, keyspace, dirName),
      });
    }
  }
  return out;
}

export function positionJson(p: CommitLogPosition | undefined): CommitLogPositionJson | null {
  return p === undefined ? null : { segment_id: p.segmentId.toString(), position: p.position };
}

export interface SstableUploadCounts {
  uploaded: number;
  deduplicated: number;
  bytesUploaded: number;
  bytesTotal: number;
}

export interface UploadProgressEvent {
  readonly file: string;
  readonly uploaded: boolean;
  readonly size: number;
}

/**
 * Uploads every component of `group` (found in `dir`) and returns its archive description. The
 * Statistics.db fields are null with `statistics_error` set when the file cannot be parsed.
 */
export async function archiveSstable(
  backend: Backend,
  identity: NodeIdentity,
  dir: string,
  group: SstableGroup,
  options: {
    parallelism: number;
    signal?: AbortSignal | undefined;
    counts: SstableUploadCounts;
    onFile?: ((e: UploadProgressEvent) => void) | undefined;
  },
): Promise<ArchivedSstable> {
  let stats: SstableStatistics | undefined;
  let statisticsError: string | null = null;
  const statsFile = group.files.get("Statistics.db");
  if (statsFile === undefined) statisticsError = "no Statistics.db";
  else {
    try {
      stats = await readStatistics(join(dir, statsFile), group.version);
    } catch (e) {
      if (!isPitrError(e)) throw e;
      statisticsError = e.message;
    }
  }
  const files = [...group.files.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const components: ArchivedComponent[] = await mapLimit(
    files,
    options.parallelism,
    async ([component, file]) => {
      const r = await uploadComponent(backend, identity, join(dir, file), file, component, options.signal);
      options.counts.bytesTotal += r.component.size;
      if (r.uploaded) {
        options.counts.uploaded++;
        options.counts.bytesUploaded += r.component.size;
      } else options.counts.deduplicated++;
      options.onFile?.({ file, uploaded: r.uploaded, size: r.component.size });
      return r.component;
    },
  );
  const idTime = sstableIdTime(group.id);
  return {
    name: group.base,
    version: group.version,
    id: group.id,
    format: group.format,
    id_time: idTime === undefined ? null : new Date(idTime).toISOString(),
    min_timestamp: stats ? stats.minTimestamp.toString() : null,
    max_timestamp: stats ? stats.maxTimestamp.toString() : null,
    commit_log_upper_bound: positionJson(stats?.commitLogUpperBound),
    commit_log_lower_bound: positionJson(stats?.commitLogLowerBound),
    commit_log_intervals: stats?.commitLogIntervals
      ? stats.commitLogIntervals.map((i) => ({
          lower: positionJson(i.lower)!,
          upper: positionJson(i.upper)!,
        }))
      : null,
    originating_host_id: stats?.originatingHostId ?? null,
    statistics_error: statisticsError,
    components,
  };
}
