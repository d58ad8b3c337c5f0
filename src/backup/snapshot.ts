/**
 * Snapshot upload: take (or reuse) `nodetool snapshot -t <tag>`, upload every sstable component of
 * every `<dataDir>/<ks>/<table>-<id>/snapshots/<tag>/` content-addressed, then write the snapshot
 * manifest last (docs/archive-layout.md, Snapshots). A snapshot folder without manifest.json is
 * incomplete and never used by readers.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { compactTime, type NodeIdentity } from "../format/layout.js";
import { isPitrError, UsageError } from "../errors/base.js";
import { groupSstableFiles, missingComponents, readToc, type SstableGroup } from "../sstable/name.js";
import { PreconditionFailedError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";
import { mapLimit } from "./components.js";
import { BackupConflictError, SnapshotIncompleteError, SnapshotNotFoundError } from "./errors.js";
import { snapshotManifestKey } from "../format/backup-layout.js";
import { findTableEvents, recordTableEvents } from "./table-events.js";
import { archiveSstable, inScope, listTableDirs, parseScope, requireDataDir, SYSTEM_KEYSPACES, type SstableUploadCounts, type TableDir } from "./local.js";
import { createNodetoolRunner, parseInfoTokens, snapshotArgs, type NodetoolRunner } from "./nodetool.js";
import { readSnapshotManifest } from "./read.js";
import { BACKUP_SCHEMA_VERSION, type ArchivedSstable, type SnapshotManifest, type SnapshotTable } from "./types.js";

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
export async function findSnapshotDirs(dataDir: string, tag: string): Promise<{ dir: TableDir; path: string }[]> {
  const out: { dir: TableDir; path: string }[] = [];
  for (const dir of await listTableDirs(dataDir)) {
    const path = join(dir.path, "snapshots", tag);
    if (await isDirectory(path)) out.push({ dir, path });
  }
  return out;
}

/** The table id of `WITH ID = <uuid>` in schema.cql, if present. */
export function parseSchemaTableId(schemaCql: string): string | undefined {
  return /\bWITH\s+ID\s*=\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b/.exec(schemaCql)?.[1]?.toLowerCase();
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
  const listed = Array.isArray(manifest.files) ? manifest.files.filter((f): f is string => typeof f === "string") : [];
  const createdAtMs = typeof manifest.created_at === "string" ? Date.parse(manifest.created_at) : NaN;
  const schemaCql = (await readOptional(join(path, "schema.cql"))) ?? null;
  if (schemaCql === null && !SYSTEM_KEYSPACES.has(dir.keyspace)) throw new SnapshotIncompleteError(path, "no schema.cql");
  const tableId = (schemaCql && parseSchemaTableId(schemaCql)) || dir.dirTableId;

  const entries = await readdir(path, { withFileTypes: true });
  const { sstables } = groupSstableFiles(entries.filter((e) => e.isFile()).map((e) => e.name));
  const present = new Set(sstables.flatMap((s) => [...s.files.values()]));
  for (const file of listed) {
    if (!present.has(file)) throw new SnapshotIncompleteError(path, `'${file}' listed in manifest.json is missing`);
  }
  for (const s of sstables) {
    const toc = s.files.has("TOC.txt") ? await readToc(path, s.base) : undefined;
    const missing = missingComponents(s, toc);
    if (missing.length > 0) throw new SnapshotIncompleteError(path, `sstable '${s.base}' lacks ${missing.join(", ")}`);
  }
  return { dir, path, tableId, schemaCql, createdAtMs: Number.isFinite(createdAtMs) ? createdAtMs : undefined, sstables };
}

function sameContent(a: SnapshotManifest, b: SnapshotManifest): boolean {
  const digest = (m: SnapshotManifest) =>
    JSON.stringify(
      m.tables.map((t) => [t.keyspace, t.table, t.table_id, t.sstables.map((s) => [s.name, s.components.map((c) => [c.file, c.sha256])])]),
    );
  return a.tag === b.tag && a.snapshot_time === b.snapshot_time && digest(a) === digest(b);
}

export async function uploadSnapshot(options: UploadSnapshotOptions): Promise<SnapshotSummary> {
  const { backend, identity, signal } = options;
  const now = options.now ?? Date.now;
  const startedMs = now();
  const dataDir = await requireDataDir(options.dataDir);
  const tag = validateTag(options.tag ?? `pitr-${compactTime(startedMs)}`);
  const scopeEntries = options.scope ?? [];
  const scope = parseScope(scopeEntries);
  const warnings: string[] = [];
  let runner: NodetoolRunner | undefined;
  const nodetool = (): NodetoolRunner =>
    (runner ??= typeof options.nodetool === "function" ? options.nodetool : createNodetoolRunner(options.nodetool));

  let found = await findSnapshotDirs(dataDir, tag);
  let created = false;
  if (found.length === 0) {
    await nodetool()(snapshotArgs(tag, scopeEntries), signal);
    created = true;
    found = await findSnapshotDirs(dataDir, tag);
    if (found.length === 0) throw new SnapshotNotFoundError(tag, dataDir);
  }
  const chosen = found.filter((f) => inScope(scope, f.dir.keyspace, f.dir.table));
  if (chosen.length === 0) {
    throw new SnapshotNotFoundError(tag, dataDir, {
      hint: scopeEntries.length > 0 ? `the tag exists, but not for ${scopeEntries.join(", ")}` : "the tag holds only system keyspaces; name them to upload them",
    });
  }

  // Check every directory before uploading anything.
  const tables: LocalSnapshotTable[] = [];
  for (const f of chosen) tables.push(await readLocalSnapshotTable(f.dir, f.path));

  // Truncations and drops since the last run (table-events.ts), as `incremental` records them.
  const tableDirs = (await listTableDirs(dataDir)).filter((d) => inScope(scope, d.keyspace, d.table));
  await recordTableEvents(backend, identity, await findTableEvents(tableDirs), signal);

  let tokens: string[] | null = null;
  if (options.tokens !== false) {
    try {
      const parsed = parseInfoTokens(await nodetool()(["info", "-T"], signal));
      tokens = parsed.length > 0 ? parsed : null;
    } catch (e) {
      if (!isPitrError(e)) throw e;
      warnings.push(`tokens not recorded: ${e.message}`);
    }
  }

  const counts: SstableUploadCounts = { uploaded: 0, deduplicated: 0, bytesUploaded: 0, bytesTotal: 0 };
  const filesTotal = tables.reduce((n, t) => n + t.sstables.reduce((m, s) => m + s.files.size, 0), 0);
  let filesDone = 0;
  let bytesDone = 0;
  const bytesTotal = await totalBytes(tables);
  const parallelism = Math.max(1, options.parallelism ?? backend.capabilities.maxConnections);
  const archivedTables: SnapshotTable[] = [];
  for (const t of tables) {
    const sstables: ArchivedSstable[] = await mapLimit(t.sstables, parallelism, (group) =>
      archiveSstable(backend, identity, t.path, group, {
        parallelism: 1,
        signal,
        counts,
        onFile: (e) => {
          filesDone++;
          bytesDone += e.size;
          options.progress?.({ filesDone, filesTotal, bytesDone, bytesTotal });
        },
      }),
    );
    archivedTables.push({
      keyspace: t.dir.keyspace,
      table: t.dir.table,
      table_id: t.tableId,
      table_dir: t.dir.dirName,
      schema_cql: t.schemaCql,
      sstables,
    });
  }

  const createdTimes = tables.map((t) => t.createdAtMs).filter((x): x is number => x !== undefined);
  const snapshotTimeMs = createdTimes.length > 0 ? Math.min(...createdTimes) : startedMs;
  const manifest: SnapshotManifest = {
    schema_version: BACKUP_SCHEMA_VERSION,
    kind: "snapshot",
    tag,
    snapshot_time: new Date(snapshotTimeMs).toISOString(),
    snapshot_time_source: createdTimes.length > 0 ? "cassandra-manifest" : "upload",
    uploaded_at: new Date(now()).toISOString(),
    cluster: identity.cluster,
    host_id: identity.node,
    datacenter: options.datacenter ?? null,
    cassandra_version: options.cassandraVersion ?? null,
    tokens,
    tables: archivedTables,
  };
  const key = snapshotManifestKey(identity, snapshotTimeMs, tag);
  let manifestExisted = false;
  try {
    await backend.put(key, new Uint8Array(Buffer.from(JSON.stringify(manifest, null, 2) + "\n")), {
      ifAbsent: true,
      metadata: { kind: "snapshot", tag: Buffer.from(tag).toString("base64url") },
      signal,
    });
  } catch (e) {
    if (!(e instanceof PreconditionFailedError || (isPitrError(e) && e.code === "E_PRECONDITION_FAILED"))) throw e;
    const existing = await readSnapshotManifest(backend, key, signal);
    if (!sameContent(existing, manifest)) {
      throw new BackupConflictError(key, "a snapshot manifest with the same time and tag but other sstables is archived");
    }
    manifestExisted = true;
  }
  await readSnapshotManifest(backend, key, signal); // verify it reads back

  let cleared = false;
  if (options.clear) {
    try {
      await nodetool()(["clearsnapshot", "-t", tag], signal);
      cleared = true;
    } catch (e) {
      if (!isPitrError(e)) throw e;
      warnings.push(`local snapshot not cleared: ${e.message}`);
    }
  }

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

async function totalBytes(tables: readonly LocalSnapshotTable[]): Promise<number> {
  let total = 0;
  for (const t of tables) for (const s of t.sstables) for (const file of s.files.values()) total += (await stat(join(t.path, file))).size;
  return total;
}
