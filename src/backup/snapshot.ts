/**
 * Snapshot upload: take (or reuse) `nodetool snapshot -t <tag>`, upload every sstable component of
 * every `<dataDir>/<ks>/<table>-<id>/snapshots/<tag>/` content-addressed, then write the snapshot
 * manifest last (docs/archive-layout.md, Snapshots). A snapshot folder without manifest.json is
 * incomplete and never used by readers. The manifest also records the node's tokens and, in
 * `schema_tables`, the schema keyspace's sstables (every keyspace, table and type definition with
 * its id), which rebuild a node whose disks were lost (restore/replace.ts).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { compactTime, type NodeIdentity } from "../format/layout.js";
import { isPitrError, UsageError } from "../errors/base.js";
import { groupSstableFiles, missingComponents, readToc, type SstableGroup } from "../sstable/name.js";
import { ANOTHER_OBJECT, jsonDocument, putDocumentIfAbsent } from "../storage/front.js";
import type { Backend } from "../storage/types.js";
import { mapLimit } from "./components.js";
import { BackupConflictError, SnapshotIncompleteError, SnapshotNotFoundError } from "./errors.js";
import { SCHEMA_KEYSPACE, snapshotManifestKey } from "../format/backup-layout.js";
import { findTableEvents, recordTableEvents } from "./table-events.js";
import {
  archiveSstable,
  inScope,
  listTableDirs,
  parseScope,
  requireDataDir,
  SYSTEM_KEYSPACES,
  type SstableUploadCounts,
  type TableDir,
} from "./local.js";
import { createNodetoolRunner, parseInfoTokens, snapshotArgs, type NodetoolRunner } from "./nodetool.js";
import { parseJson, parseSnapshotManifest } from "../format/backup-record.js";
import {
  BACKUP_SCHEMA_VERSION,
  type ArchivedSstable,
  type SnapshotManifest,
  type SnapshotTable,
} from "./types.js";

export interface SnapshotProgress {
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface UploadSnapshotOptions {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  /** Cassandra's data directory (one of data_file_directories). */
  readonly dataDir: string | undefined;
  /** Existing tag: uploaded as is. New tag (or none: `pitr-<compact time>`): `nodetool snapshot` first. */
  readonly tag?: string | undefined;
  /** Keyspaces and keyspace.table entries; empty = every non-system keyspace. */
  readonly scope?: readonly string[] | undefined;
  /** A nodetool command line (split on spaces; default `nodetool`) or a runner. */
  readonly nodetool?: string | NodetoolRunner | undefined;
  /** `nodetool clearsnapshot -t <tag>` after a verified upload. */
  readonly clear?: boolean | undefined;
  /** Also upload the schema keyspace's tables (default true; a failure only adds a warning). */
  readonly schema?: boolean | undefined;
  /** Ask nodetool for the node's tokens (default true; failures only add a warning). */
  readonly tokens?: boolean | undefined;
  readonly datacenter?: string | undefined;
  readonly cassandraVersion?: string | undefined;
  readonly parallelism?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ((p: SnapshotProgress) => void) | undefined;
  /** Clock (tests). */
  readonly now?: (() => number) | undefined;
}

export interface SnapshotSummary {
  readonly tag: string;
  /** Key of the snapshot manifest. */
  readonly key: string;
  readonly snapshotTime: string;
  /** Whether this run took the snapshot with nodetool. */
  readonly created: boolean;
  /** The manifest was already archived with the same content (an earlier upload of this snapshot). */
  readonly manifestExisted: boolean;
  readonly tables: number;
  readonly sstables: number;
  readonly componentsUploaded: number;
  readonly componentsDeduplicated: number;
  readonly bytesUploaded: number;
  readonly bytesTotal: number;
  readonly cleared: boolean;
  readonly warnings: string[];
}

interface LocalSnapshotTable {
  readonly dir: TableDir;
  readonly path: string;
  readonly tableId: string;
  readonly schemaCql: string | null;
  readonly createdAtMs: number | undefined;
  readonly sstables: SstableGroup[];
}

export function validateTag(tag: string): string {
  if (tag.length === 0 || tag === "." || tag === ".." || /[/\\\s]/.test(tag) || tag.length > 200) {
    throw new UsageError(`invalid snapshot tag '${tag}'`, { hint: "use letters, digits, '-', '_' and '.'" });
  }
  return tag;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Table directories holding `snapshots/<tag>/`. */
export async function findSnapshotDirs(
  dataDir: string,
  tag: string,
): Promise<{ dir: TableDir; path: string }[]> {
  const out: { dir: TableDir; path: string }[] = [];
  for (const dir of await listTableDirs(dataDir)) {
    const path = join(dir.path, "snapshots", tag);
    if (await isDirectory(path)) out.push({ dir, path });
  }
  return out;
}

/** The table id of `WITH ID = <uuid>` in schema.cql, if present. */
export function parseSchemaTableId(schemaCql: string): string | undefined {
  return /\bWITH\s+ID\s*=\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b/
    .exec(schemaCql)?.[1]
    ?.toLowerCase();
}

/** Reads and checks one local snapshot directory (nothing is uploaded). */
export async function readLocalSnapshotTable(dir: TableDir, path: string): Promise<LocalSnapshotTable> {
  const manifestText = await readOptional(join(path, "manifest.json"));
  if (manifestText === undefined) throw new SnapshotIncompleteError(path, "no manifest.json");
  let manifest: { files?: unknown; created_at?: unknown };
  try {
    manifest = JSON.parse(manifestText) as typeof manifest;
  } catch (e) {
    throw new SnapshotIncompleteError(path, "manifest.json is not JSON", { cause: e });
  }
  const listed = Array.isArray(manifest.files)
    ? manifest.files.filter((f): f is string => typeof f === "string")
    : [];
  const createdAtMs = typeof manifest.created_at === "string" ? Date.parse(manifest.created_at) : NaN;
  const schemaCql = (await readOptional(join(path, "schema.cql"))) ?? null;
  if (schemaCql === null && !SYSTEM_KEYSPACES.has(dir.keyspace))
    throw new SnapshotIncompleteError(path, "no schema.cql");
  const tableId = (schemaCql && parseSchemaTableId(schemaCql)) || dir.dirTableId;

  const entries = await readdir(path, { withFileTypes: true });
  const { sstables } = groupSstableFiles(entries.filter((e) => e.isFile()).map((e) => e.name));
  const present = new Set(sstables.flatMap((s) => [...s.files.values()]));
  for (const file of listed) {
    if (!present.has(file))
      throw new SnapshotIncompleteError(path, `'${file}' listed in manifest.json is missing`);
  }
  for (const s of sstables) {
    const toc = s.files.has("TOC.txt") ? await readToc(path, s.base) : undefined;
    const missing = missingComponents(s, toc);
    if (missing.length > 0)
      throw new SnapshotIncompleteError(path, `sstable '${s.base}' lacks ${missing.join(", ")}`);
  }
  return {
    dir,
    path,
    tableId,
    schemaCql,
    createdAtMs: Number.isFinite(createdAtMs) ? createdAtMs : undefined,
    sstables,
  };
}

function sameContent(a: SnapshotManifest, b: SnapshotManifest): boolean {
  const digest = (m: SnapshotManifest) =>
    JSON.stringify(
      m.tables.map((t) => [
        t.keyspace,
        t.table,
        t.table_id,
        t.sstables.map((s) => [s.name, s.components.map((c) => [c.file, c.sha256])]),
      ]),
    );
  return a.tag === b.tag && a.snapshot_time === b.snapshot_time && digest(a) === digest(b);
}

/** Finds the tag's directories, taking the snapshot with nodetool first when the tag is new. */
async function findOrTake(
  o: UploadSnapshotOptions,
  dataDir: string,
  tag: string,
  nodetool: () => NodetoolRunner,
): Promise<{ found: { dir: TableDir; path: string }[]; created: boolean }> {
  let found = await findSnapshotDirs(dataDir, tag);
  if (found.length > 0) return { found, created: false };
  await nodetool()(snapshotArgs(tag, o.scope ?? []), o.signal);
  found = await findSnapshotDirs(dataDir, tag);
  if (found.length === 0) throw new SnapshotNotFoundError(tag, dataDir);
  return { found, created: true };
}

/**
 * The schema keyspace's tables in the tag (keyspaces, tables, columns, types with their ids): what a
 * replacement node needs on disk before its first start (restore/replace.ts). A scoped snapshot
 * does not hold them, so they are snapshotted with the same tag; a failure only adds a warning.
 */
async function schemaTablesOf(
  o: UploadSnapshotOptions,
  dataDir: string,
  tag: string,
  found: { dir: TableDir; path: string }[],
  nodetool: () => NodetoolRunner,
  warnings: string[],
): Promise<LocalSnapshotTable[]> {
  let dirs = found.filter((f) => f.dir.keyspace === SCHEMA_KEYSPACE);
  if (dirs.length === 0 && o.schema !== false) {
    try {
      await nodetool()(["snapshot", "-t", tag, SCHEMA_KEYSPACE], o.signal);
      dirs = (await findSnapshotDirs(dataDir, tag)).filter((f) => f.dir.keyspace === SCHEMA_KEYSPACE);
      if (dirs.length === 0)
        warnings.push(
          `keyspace schema not recorded: 'nodetool snapshot -t ${tag} ${SCHEMA_KEYSPACE}' left no ${SCHEMA_KEYSPACE} directory under '${dataDir}'`,
        );
    } catch (e) {
      if (!isPitrError(e)) throw e;
      warnings.push(`keyspace schema not recorded: ${e.message}`);
    }
  }
  const tables: LocalSnapshotTable[] = [];
  for (const f of dirs) tables.push(await readLocalSnapshotTable(f.dir, f.path));
  return tables;
}

async function readTokens(
  o: UploadSnapshotOptions,
  nodetool: () => NodetoolRunner,
  warnings: string[],
): Promise<string[] | null> {
  if (o.tokens === false) return null;
  try {
    const parsed = parseInfoTokens(await nodetool()(["info", "-T"], o.signal));
    return parsed.length > 0 ? parsed : null;
  } catch (e) {
    if (!isPitrError(e)) throw e;
    warnings.push(`tokens not recorded: ${e.message}`);
    return null;
  }
}

/** Uploads every sstable of `tables`, content-addressed, and describes them for the manifest. */
async function uploadTables(
  o: UploadSnapshotOptions,
  tables: readonly LocalSnapshotTable[],
  counts: SstableUploadCounts,
): Promise<SnapshotTable[]> {
  const filesTotal = tables.reduce((n, t) => n + t.sstables.reduce((m, s) => m + s.files.size, 0), 0);
  let filesDone = 0;
  let bytesDone = 0;
  const bytesTotal = await totalBytes(tables);
  const parallelism = Math.max(1, o.parallelism ?? o.backend.capabilities.maxConnections);
  const archived: SnapshotTable[] = [];
  for (const t of tables) {
    const sstables: ArchivedSstable[] = await mapLimit(t.sstables, parallelism, (group) =>
      archiveSstable(o.backend, o.identity, t.path, group, {
        parallelism: 1,
        signal: o.signal,
        counts,
        onFile: (e) => {
          filesDone++;
          bytesDone += e.size;
          o.progress?.({ filesDone, filesTotal, bytesDone, bytesTotal });
        },
      }),
    );
    archived.push({
      keyspace: t.dir.keyspace,
      table: t.dir.table,
      table_id: t.tableId,
      table_dir: t.dir.dirName,
      schema_cql: t.schemaCql,
      sstables,
    });
  }
  return archived;
}

/**
 * Writes the manifest once through the storage front: a manifest already there that lists the same
 * sstables with the same sha256s is a success (true), another one a conflict; what was stored is
 * read back and compared byte for byte.
 */
async function putManifest(
  o: UploadSnapshotOptions,
  key: string,
  manifest: SnapshotManifest,
): Promise<boolean> {
  const put = await putDocumentIfAbsent(o.backend, key, jsonDocument(manifest), {
    metadata: { kind: "snapshot", tag: Buffer.from(manifest.tag).toString("base64url") },
    signal: o.signal,
    same: (stored) =>
      sameContent(parseSnapshotManifest(parseJson(stored.toString("utf8"), key), key), manifest),
    conflict: (detail) =>
      new BackupConflictError(
        key,
        detail === ANOTHER_OBJECT
          ? "a snapshot manifest with the same time and tag but other sstables is archived"
          : detail,
      ),
  });
  return put === "existed";
}

export async function uploadSnapshot(options: UploadSnapshotOptions): Promise<SnapshotSummary> {
  const { identity, signal } = options;
  const now = options.now ?? Date.now;
  const startedMs = now();
  const dataDir = await requireDataDir(options.dataDir);
  const tag = validateTag(options.tag ?? `pitr-${compactTime(startedMs)}`);
  const scopeEntries = options.scope ?? [];
  const scope = parseScope(scopeEntries);
  const warnings: string[] = [];
  let runner: NodetoolRunner | undefined;
  const nodetool = (): NodetoolRunner =>
    (runner ??=
      typeof options.nodetool === "function" ? options.nodetool : createNodetoolRunner(options.nodetool));

  const { found, created } = await findOrTake(options, dataDir, tag, nodetool);
  const chosen = found.filter((f) => inScope(scope, f.dir.keyspace, f.dir.table));
  if (chosen.length === 0) {
    throw new SnapshotNotFoundError(tag, dataDir, {
      hint:
        scopeEntries.length > 0
          ? `the tag exists, but not for ${scopeEntries.join(", ")}`
          : "the tag holds only system keyspaces; name them to upload them",
    });
  }

  // Check every directory before uploading anything.
  const tables: LocalSnapshotTable[] = [];
  for (const f of chosen) tables.push(await readLocalSnapshotTable(f.dir, f.path));

  // Truncations and drops since the last run (table-events.ts), as `incremental` records them.
  const tableDirs = (await listTableDirs(dataDir)).filter((d) => inScope(scope, d.keyspace, d.table));
  await recordTableEvents(
    options.backend,
    options.identity,
    await findTableEvents(tableDirs),
    options.signal,
  );

  const schemaTables = scope.keyspaces.includes(SCHEMA_KEYSPACE)
    ? []
    : await schemaTablesOf(options, dataDir, tag, found, nodetool, warnings);
  const tokens = await readTokens(options, nodetool, warnings);

  const counts: SstableUploadCounts = { uploaded: 0, deduplicated: 0, bytesUploaded: 0, bytesTotal: 0 };
  const archivedTables = await uploadTables(options, tables, counts);
  const archivedSchema = schemaTables.length > 0 ? await uploadTables(options, schemaTables, counts) : null;

  const manifest = snapshotManifest(options, tag, tables, startedMs, now(), {
    tokens,
    archivedTables,
    archivedSchema,
  });
  const key = snapshotManifestKey(identity, Date.parse(manifest.snapshot_time), tag);
  const manifestExisted = await putManifest(options, key, manifest);
  const cleared = options.clear ? await clearLocal(tag, nodetool, signal, warnings) : false;

  return {
    tag,
    key,
    snapshotTime: manifest.snapshot_time,
    created,
    manifestExisted,
    tables: archivedTables.length,
    sstables: archivedTables.reduce((n, t) => n + t.sstables.length, 0),
    componentsUploaded: counts.uploaded,
    componentsDeduplicated: counts.deduplicated,
    bytesUploaded: counts.bytesUploaded,
    bytesTotal: counts.bytesTotal,
    cleared,
    warnings,
  };
}

/**
 * The manifest (pure): the snapshot time is Cassandra's own (the oldest created_at of the tables'
 * manifest.json), else the upload's start.
 */
function snapshotManifest(
  o: UploadSnapshotOptions,
  tag: string,
  tables: readonly LocalSnapshotTable[],
  startedMs: number,
  uploadedMs: number,
  parts: {
    tokens: SnapshotManifest["tokens"];
    archivedTables: SnapshotTable[];
    archivedSchema: SnapshotTable[] | null;
  },
): SnapshotManifest {
  const createdTimes = tables.map((t) => t.createdAtMs).filter((x): x is number => x !== undefined);
  const snapshotTimeMs = createdTimes.length > 0 ? Math.min(...createdTimes) : startedMs;
  return {
    schema_version: BACKUP_SCHEMA_VERSION,
    kind: "snapshot",
    tag,
    snapshot_time: new Date(snapshotTimeMs).toISOString(),
    snapshot_time_source: createdTimes.length > 0 ? "cassandra-manifest" : "upload",
    uploaded_at: new Date(uploadedMs).toISOString(),
    cluster: o.identity.cluster,
    host_id: o.identity.node,
    datacenter: o.datacenter ?? null,
    cassandra_version: o.cassandraVersion ?? null,
    tokens: parts.tokens,
    tables: parts.archivedTables,
    ...(parts.archivedSchema ? { schema_tables: parts.archivedSchema } : {}),
  };
}

/** nodetool clearsnapshot after a verified upload; a failure is a warning, the upload stands. */
async function clearLocal(
  tag: string,
  nodetool: () => NodetoolRunner,
  signal: AbortSignal | undefined,
  warnings: string[],
): Promise<boolean> {
  try {
    await nodetool()(["clearsnapshot", "-t", tag], signal);
    return true;
  } catch (e) {
    if (!isPitrError(e)) throw e;
    warnings.push(`local snapshot not cleared: ${e.message}`);
    return false;
  }
}

async function totalBytes(tables: readonly LocalSnapshotTable[]): Promise<number> {
  let total = 0;
  for (const t of tables)
    for (const s of t.sstables)
      for (const file of s.files.values()) total += (await stat(join(t.path, file))).size;
  return total;
}
