/**
 * Incremental upload: every complete sstable in a table's `backups/` directory (every component
 * named by its TOC.txt present) is uploaded content-addressed, then one JSON record per sstable
 * (docs/archive-layout.md, Incrementals).
 *
 * Idempotent without local state: the record key is deterministic — the Data.db mtime (when
 * Cassandra finished writing the sstable; hard links share it, and it does not change on later
 * runs), keyspace, table, table id and sstable name. A record that exists (head) means the sstable is
 * archived, because records are written only after their components were verified.
 */
import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { NodeIdentity } from "../format/layout.js";
import { groupSstableFiles, missingComponents, readToc, type SstableGroup } from "../sstable/name.js";
import { exists, jsonDocument, putDocumentIfAbsent } from "../storage/front.js";
import type { Backend } from "../storage/types.js";
import { mapLimit } from "./components.js";
import { incrementalKey, undashedUuid } from "../format/backup-layout.js";
import {
  archiveSstable,
  inScope,
  listTableDirs,
  parseScope,
  requireDataDir,
  type SstableUploadCounts,
  type TableDir,
} from "./local.js";
import { parseIncrementalRecord } from "./read.js";
import { BackupConflictError } from "./errors.js";
import { findTableEvents, recordTableEvents } from "./table-events.js";
import { BACKUP_SCHEMA_VERSION, type ArchivedSstable, type IncrementalRecord } from "./types.js";

export interface UploadIncrementalsOptions {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly dataDir: string | undefined;
  /** Keyspaces and keyspace.table entries; empty = every non-system keyspace. */
  readonly scope?: readonly string[] | undefined;
  /** Unlink the local backups/ files of each sstable once its record is archived and verified. */
  readonly remove?: boolean | undefined;
  readonly parallelism?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly now?: (() => number) | undefined;
}

export interface IncrementalsSummary {
  readonly tables: number;
  /** sstables archived by this run. */
  readonly sstablesUploaded: number;
  /** sstables whose record was already archived. */
  readonly sstablesAlreadyArchived: number;
  /** sstables skipped because a component listed in TOC.txt is not linked (yet). */
  readonly sstablesIncomplete: number;
  readonly componentsUploaded: number;
  readonly componentsDeduplicated: number;
  readonly bytesUploaded: number;
  readonly filesRemoved: number;
  /** Keys of the records written by this run. */
  readonly keys: string[];
  /** Truncations and drops (Cassandra's auto-snapshots) recorded by this run (table-events.ts). */
  readonly tableEventsRecorded: number;
}

/**
 * The conflict rule of incremental records: a record already under the key is the same when it
 * describes the same sstable (the same components, by sha256); its upload time may differ, since
 * another run may have written it meanwhile.
 */
export function sameIncremental(stored: Buffer, key: string, record: IncrementalRecord): boolean {
  let existing: IncrementalRecord;
  try {
    existing = parseIncrementalRecord(JSON.parse(stored.toString("utf8")) as unknown, key);
  } catch {
    return false; // not a record at all: a conflict
  }
  const components = (r: IncrementalRecord) => JSON.stringify(r.sstable);
  return (
    components(existing) === components(record) &&
    existing.table_id === record.table_id &&
    existing.flush_time === record.flush_time
  );
}

export async function uploadIncrementals(options: UploadIncrementalsOptions): Promise<IncrementalsSummary> {
  const { backend, identity, signal } = options;
  const dataDir = await requireDataDir(options.dataDir);
  const scope = parseScope(options.scope ?? []);
  const parallelism = Math.max(1, options.parallelism ?? backend.capabilities.maxConnections);
  const counts: SstableUploadCounts = { uploaded: 0, deduplicated: 0, bytesUploaded: 0, bytesTotal: 0 };
  const tally = { tables: 0, stored: 0, existed: 0, incomplete: 0, filesRemoved: 0 };
  const keys: string[] = [];

  const dirs = (await listTableDirs(dataDir)).filter((dir) => inScope(scope, dir.keyspace, dir.table));
  // Before the sstables: a plan must never see an incremental flushed for a TRUNCATE without the truncation.
  const tableEvents = await recordTableEvents(backend, identity, await findTableEvents(dirs), signal);
  for (const dir of dirs) {
    const backups = join(dir.path, "backups");
    const names = await filesIn(backups);
    const { sstables } = groupSstableFiles(names ?? []);
    if (sstables.length === 0) continue;
    tally.tables++;
    await mapLimit(sstables, parallelism, async (group) => {
      const done = await archiveIncremental(options, counts, dir, backups, group);
      if (done.outcome === "incomplete") return void tally.incomplete++;
      if (done.outcome === "stored") keys.push(done.key);
      tally[done.outcome]++;
      if (options.remove) tally.filesRemoved += await removeLocal(backups, group);
    });
  }
  return {
    tables: tally.tables,
    sstablesUploaded: tally.stored,
    sstablesAlreadyArchived: tally.existed,
    sstablesIncomplete: tally.incomplete,
    componentsUploaded: counts.uploaded,
    componentsDeduplicated: counts.deduplicated,
    bytesUploaded: counts.bytesUploaded,
    filesRemoved: tally.filesRemoved,
    keys: keys.sort(),
    tableEventsRecorded: tableEvents.length,
  };
}

/** The files of a table's backups/ directory; undefined when it has none. */
async function filesIn(dir: string): Promise<string[] | undefined> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR")
      return undefined;
    throw e;
  }
}

type IncrementalOutcome = { outcome: "incomplete" } | { outcome: "stored" | "existed"; key: string };

/**
 * One sstable of backups/: skipped while a component its TOC names is not linked yet; else its
 * components uploaded and its record written once ("existed": this or another run archived it).
 */
async function archiveIncremental(
  o: UploadIncrementalsOptions,
  counts: SstableUploadCounts,
  dir: TableDir,
  backups: string,
  group: SstableGroup,
): Promise<IncrementalOutcome> {
  const { backend, identity, signal } = o;
  const toc = group.files.has("TOC.txt")
    ? await readToc(backups, group.base).catch(() => undefined)
    : undefined;
  const dataFile = group.files.get("Data.db");
  if (missingComponents(group, toc).length > 0 || dataFile === undefined) return { outcome: "incomplete" };
  const flushTimeMs = Math.floor((await stat(join(backups, dataFile))).mtimeMs);
  const key = incrementalKey(identity, {
    flushTimeMs,
    keyspace: dir.keyspace,
    table: dir.table,
    tableIdHex: undashedUuid(dir.dirTableId),
    sstable: group.base,
  });
  if (await exists(backend, key, signal)) return { outcome: "existed", key };
  const sstable = await archiveSstable(backend, identity, backups, group, { parallelism: 1, signal, counts });
  const record = incrementalRecord(identity, dir, flushTimeMs, (o.now ?? Date.now)(), sstable);
  const put = await putDocumentIfAbsent(backend, key, jsonDocument(record), {
    metadata: { kind: "incremental" },
    signal,
    same: (stored) => sameIncremental(stored, key, record),
    conflict: (detail) =>
      new BackupConflictError(key, `${detail}: an incremental record of other sstable components`),
  });
  return { outcome: put, key };
}

export function incrementalRecord(
  identity: NodeIdentity,
  dir: TableDir,
  flushTimeMs: number,
  uploadedAtMs: number,
  sstable: ArchivedSstable,
): IncrementalRecord {
  return {
    schema_version: BACKUP_SCHEMA_VERSION,
    kind: "incremental",
    cluster: identity.cluster,
    host_id: identity.node,
    keyspace: dir.keyspace,
    table: dir.table,
    table_id: dir.dirTableId,
    table_dir: dir.dirName,
    flush_time: new Date(flushTimeMs).toISOString(),
    uploaded_at: new Date(uploadedAtMs).toISOString(),
    sstable,
  };
}

/** Unlinks an archived sstable's backups/ links (one already gone counts all the same); how many. */
async function removeLocal(backups: string, group: SstableGroup): Promise<number> {
  let removed = 0;
  for (const file of group.files.values()) {
    await unlink(join(backups, file)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    removed++;
  }
  return removed;
}
