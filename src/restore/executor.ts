/**
 * Applies a RestorePlan to a stopped node, and undoes the restore settings once replay is done.
 *
 * Order matters so that a failure never leaves the node half-changed:
 *   1. checks (node stopped, commit log drained for scoped restores, restore dir empty, tables);
 *   2. fetch: every sstable component into a staging directory (sha256 checked) and every segment
 *      (or stub) into the restore directory — a bad object stops here, and what was created is
 *      removed, so nothing of the node changed;
 *   3. apply: live sstables of the restored tables and the commit log's files are moved aside
 *      (never deleted), the staged sstables moved into the table directories, the restore settings
 *      written, and a state file records all of it for `restore finish`.
 * Every action is described before it runs; `dryRun` only describes.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buffer } from "node:stream/consumers";
import { classifySegment } from "../commitlog/classify.js";
import { isSegmentName } from "../commitlog/segment-name.js";
import { compactTime, type NodeIdentity } from "../archive/layout.js";
import { fetchSegment, ChecksumMismatchError } from "../archive/fetch.js";
import { recordFromMetadata } from "../archive/record.js";
import { renderStub } from "../archive/stub.js";
import { listIncrementals, listSnapshots } from "../backup/read.js";
import type { ArchivedSstable } from "../backup/types.js";
import { undashedUuid } from "../backup/layout.js";
import { PitrError, UsageError } from "../errors/base.js";
import type { Backend } from "../storage/types.js";
import { PlanRefusedError, RESTORE_DIR_PLACEHOLDER, type RestorePlan } from "./plan.js";

export const STATE_FILE = "cassandra-pitr-restore.json";
const PROPERTIES = "commitlog_archiving.properties";
const JVM_MARKER = "# cassandra-pitr restore: the next line is removed by 'cassandra-pitr restore finish'";
const PROPERTIES_BACKUP = "commitlog_archiving.properties.before-cassandra-pitr";

export interface NodePaths {
  readonly dataDir: string;
  readonly commitlogDir: string;
  readonly cassandraConf: string;
}

export interface ExecuteOptions {
  readonly plan: RestorePlan;
  readonly backend: Backend;
  /** The archive URL written into stubs (credentials come from the environment). */
  readonly archiveUrl: string;
  readonly identity: NodeIdentity;
  readonly paths: NodePaths;
  readonly restoreDir: string;
  /** restore_command as it will be written (our hook, with --config when needed). */
  readonly restoreCommand: string;
  readonly stubs: boolean;
  readonly dryRun: boolean;
  /** Resolves to true when the node answers (nodetool). */
  readonly isNodeRunning: () => Promise<boolean>;
  readonly say: (line: string) => void;
  readonly now: number;
  readonly parallelism: number;
  readonly signal?: AbortSignal | undefined;
}

export interface RestoreState {
  readonly schema_version: 1;
  readonly at: string;
  readonly restore_point_in_time: string;
  readonly scope: string[];
  readonly started: string;
  readonly restore_dir: string;
  readonly aside_dir: string;
  readonly properties_file: string;
  readonly properties_backup: string | null;
  readonly jvm_options_file: string | null;
  readonly jvm_options: string[];
  readonly tables: { keyspace: string; table: string; dir: string; placed: string[]; moved_aside: string[] }[];
  readonly segments: number;
}

export class NodeStateError extends PitrError {
  override name = "NodeStateError";
  constructor(message: string, hint: string) {
    super("E_NODE_STATE", message, { hint });
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Runs `fn` over `items`, `limit` at a time. On the first failure no new item starts, and the error
 * is thrown only once every running call has settled, so cleanup never races a write in flight.
 */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length && !failure) {
        try {
          await fn(items[next++]!);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;
}

/** Is this file in a table directory part of an sstable (as opposed to snapshots/, backups/, ...)? */
function isSstableFile(name: string): boolean {
  return /^[a-z]{2}-[0-9a-z_]+-[a-z]+-[A-Za-z0-9]+\.(db|txt|crc32)$/.test(name);
}

async function tableDirFor(dataDir: string, keyspace: string, table: string, tableId: string): Promise<string> {
  const ksDir = join(dataDir, keyspace);
  const wanted = `${table}-${undashedUuid(tableId)}`;
  const entries = await readdir(ksDir).catch(() => [] as string[]);
  if (entries.includes(wanted)) return join(ksDir, wanted);
  const other = entries.find((e) => e.startsWith(`${table}-`) && /^[0-9a-f]{32}$/.test(e.slice(table.length + 1)));
  if (other) {
    throw new PlanRefusedError(
      "table-recreated",
      `table ${keyspace}.${table} was re-created since the snapshot (directory '${other}', the snapshot has id ${tableId}); commit log mutations of the old table would be skipped`,
      { hint: "recreate the table with the snapshot's schema.cql (it carries WITH ID) on a scratch node, or restore the old table id" },
    );
  }
  throw new PlanRefusedError("unknown-scope", `table ${keyspace}.${table} (id ${tableId}) does not exist on this node`, {
    hint: "create it first from the snapshot's schema.cql (it carries WITH ID), then restore",
  });
}

/** Segments in the commit log directory that hold data (a drained node has only empty ones). */
async function segmentsWithData(commitlogDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(commitlogDir).catch(() => [] as string[])).filter(isSegmentName)) {
    const c = classifySegment(name, await readFile(join(commitlogDir, name)));
    if (c.sections > 0 && c.dataEnd > (c.header?.headerLength ?? 0) + 8) out.push(name);
  }
  return out;
}

/** Rewrites commitlog_archiving.properties: restore lines replaced, every other line kept. */
export function renderProperties(current: string, restoreLines: readonly string[]): string {
  const keep = current
    .split("\n")
    .filter((l) => !/^\s*(restore_command|restore_directories|restore_point_in_time|precision|snapshot_commitlog_position)\s*[=:]/.test(l))
    .filter((l, i, all) => !(l === "" && i === all.length - 1));
  return [...keep, "# restore settings written by cassandra-pitr restore; 'cassandra-pitr restore finish' removes them", ...restoreLines].join("\n") + "\n";
}

export async function executeRestore(o: ExecuteOptions): Promise<RestoreState | undefined> {
  const { plan, paths, say } = o;
  const stamp = compactTime(o.now).replace(/[.]/g, "");
  const statePath = join(paths.cassandraConf, STATE_FILE);
  if (existsSync(statePath)) {
    const state = JSON.parse(await readFile(statePath, "utf8")) as RestoreState;
    if (state.at === plan.at.toString()) {
      say(`this restore (at ${plan.cutoff.value}) is already applied; start the node, then run 'cassandra-pitr restore finish'`);
      return state;
    }
    throw new NodeStateError(`another restore is in progress ('${statePath}', restore point ${state.restore_point_in_time})`, "start the node and run 'cassandra-pitr restore finish' first");
  }

  // 1. Checks.
  if (await o.isNodeRunning()) {
    throw new NodeStateError("the node is running; a restore needs it stopped", "run 'nodetool drain' and stop Cassandra, then run restore again");
  }
  if (plan.scope.kind !== "node") {
    const busy = await segmentsWithData(paths.commitlogDir);
    if (busy.length > 0) {
      throw new NodeStateError(
        `the commit log holds unflushed data (${busy.join(", ")}); a ${plan.scope.kind} restore replays only its tables and would lose the others' writes`,
        "start the node, run 'nodetool drain', stop it, and run restore again",
      );
    }
  }
  if (existsSync(o.restoreDir) && (await readdir(o.restoreDir)).length > 0) {
    throw new UsageError(`restore directory '${o.restoreDir}' is not empty`, { hint: "name an empty or new directory with --restore-dir" });
  }
  const tables = await Promise.all(
    plan.scope.tables.map(async (t) => ({ ...t, dir: await tableDirFor(paths.dataDir, t.keyspace, t.table, t.tableId) })),
  );

  // What to place per table: sstables of the snapshot and incremental steps, with their archive keys.
  const snapshotStep = plan.steps.find((s) => s.kind === "snapshot");
  const placements = new Map<string, ArchivedSstable[]>(); // table dir → sstables
  if (snapshotStep && snapshotStep.kind === "snapshot") {
    const stored = (await listSnapshots(o.backend, o.identity, { signal: o.signal })).find(
      (s) => s.manifest.tag === snapshotStep.tag && Date.parse(s.manifest.snapshot_time) === snapshotStep.snapshotTimeMs,
    );
    if (!stored) throw new PitrError("E_NOT_FOUND", `snapshot '${snapshotStep.tag}' has no manifest in the archive`, { hint: "run 'cassandra-pitr list' to see complete snapshots" });
    for (const t of tables) {
      const entry = stored.manifest.tables.find((m) => m.keyspace === t.keyspace && m.table === t.table);
      placements.set(t.dir, [...(entry?.sstables ?? [])]);
    }
  }
  const incSteps = plan.steps.filter((s) => s.kind === "incremental");
  if (incSteps.length > 0) {
    const from = Math.min(...incSteps.map((s) => (s.kind === "incremental" ? s.foundTimeMs : 0)));
    const records = await listIncrementals(o.backend, o.identity, from - 1, Math.max(...incSteps.map((s) => (s.kind === "incremental" ? s.foundTimeMs : 0))) + 1, { signal: o.signal });
    for (const step of incSteps) {
      if (step.kind !== "incremental") continue;
      const rec = records.find((r) => r.record.keyspace === step.keyspace && r.record.table === step.table && r.record.sstable.name === step.sstable);
      const t = tables.find((x) => x.keyspace === step.keyspace && x.table === step.table);
      if (!rec || !t) throw new PitrError("E_NOT_FOUND", `incremental ${step.keyspace}.${step.table}/${step.sstable} is not in the archive`);
      placements.get(t.dir)?.push(rec.record.sstable) ?? placements.set(t.dir, [rec.record.sstable]);
    }
  }
  const segments = plan.steps.filter((s) => s.kind === "segment");
  const restoreLines = plan.properties.map((l) => l.replace(RESTORE_DIR_PLACEHOLDER, o.restoreDir).replace(/^restore_command=.*$/, `restore_command=${o.restoreCommand}`));
  const asideDir = join(dirname(paths.dataDir), `cassandra-pitr-aside-${stamp}`);
  const stagingDir = join(dirname(paths.dataDir), `cassandra-pitr-staging-${stamp}`);
  const jvmFile = ["jvm-server.options", "jvm-extra.options"].map((f) => join(paths.cassandraConf, f)).find((f) => existsSync(f));

  say(`restore to ${plan.cutoff.value} UTC (${plan.scope.kind === "node" ? "whole node" : plan.scope.tables.map((t) => `${t.keyspace}.${t.table}`).join(", ")})`);
  for (const [dir, list] of placements) say(`${o.dryRun ? "would place" : "place"} ${list.length} sstable(s) in '${dir}' (live sstables moved to '${asideDir}')`);
  say(`${o.dryRun ? "would stage" : "stage"} ${segments.length} segment ${o.stubs ? "stub(s)" : "file(s)"} in '${o.restoreDir}'`);
  say(`${o.dryRun ? "would move" : "move"} the commit log directory's files to '${join(asideDir, "commitlog")}'`);
  say(`${o.dryRun ? "would write" : "write"} ${join(paths.cassandraConf, PROPERTIES)}: ${restoreLines.join("; ")}`);
  if (plan.jvmOptions.length > 0) say(`${o.dryRun ? "would add" : "add"} JVM option(s) ${plan.jvmOptions.join(" ")} ${jvmFile ? `to '${jvmFile}'` : "(add them to JVM_OPTS by hand: no jvm-server.options found)"}`);
  if (o.dryRun) return undefined;

  // 2. Fetch everything; on any failure remove what this run created and change nothing else.
  const createdRestoreDir = !existsSync(o.restoreDir);
  try {
    await mkdir(o.restoreDir, { recursive: true });
    await mkdir(stagingDir, { recursive: true });
    const jobs: { key: string; sha256: string; size: number; target: string }[] = [];
    for (const [dir, list] of placements) {
      const stage = join(stagingDir, dir.slice(paths.dataDir.length).replace(/\//g, "_"));
      await mkdir(stage, { recursive: true });
      for (const s of list) for (const c of s.components) jobs.push({ key: c.key, sha256: c.sha256, size: c.size, target: join(stage, c.file) });
    }
    await mapLimit(jobs, o.parallelism, async (j) => {
      const bytes = await buffer(await o.backend.get(j.key, { signal: o.signal }));
      if (bytes.length !== j.size || sha256(bytes) !== j.sha256) {
        throw new ChecksumMismatchError(`archived sstable component '${j.key}'`, `${bytes.length} bytes with another sha256 than recorded`);
      }
      await writeFile(j.target, bytes);
    });
    await mapLimit(segments, o.parallelism, async (s) => {
      if (s.kind !== "segment") return;
      const record = recordFromMetadata((await o.backend.head(s.key, { signal: o.signal })).metadata);
      if (!record) throw new PitrError("E_NOT_FOUND", `object '${s.key}' carries no segment record`);
      const target = join(o.restoreDir, s.name);
      if (o.stubs) {
        await writeFile(target, renderStub(record.version, record.segmentId, record.headerParameters, { archive: o.archiveUrl, key: s.key, sha256: record.sha256, size: record.size, name: s.name }));
      } else {
        await fetchSegment(o.backend, s.key, target, { sha256: record.sha256, size: record.size }, o.signal);
      }
    });
  } catch (err) {
    await rm(stagingDir, { recursive: true, force: true });
    if (createdRestoreDir) await rm(o.restoreDir, { recursive: true, force: true });
    else for (const f of await readdir(o.restoreDir).catch(() => [] as string[])) await rm(join(o.restoreDir, f), { force: true });
    throw err;
  }

  // 3. Apply.
  const stateTables: RestoreState["tables"] = [];
  for (const t of tables) {
    const aside = join(asideDir, "data", t.keyspace, t.dir.split("/").pop()!);
    await mkdir(aside, { recursive: true });
    const moved: string[] = [];
    for (const f of (await readdir(t.dir)).filter(isSstableFile)) {
      await rename(join(t.dir, f), join(aside, f));
      moved.push(f);
    }
    const stage = join(stagingDir, t.dir.slice(paths.dataDir.length).replace(/\//g, "_"));
    const placed: string[] = [];
    for (const f of await readdir(stage).catch(() => [] as string[])) {
      await rename(join(stage, f), join(t.dir, f));
      placed.push(f);
    }
    stateTables.push({ keyspace: t.keyspace, table: t.table, dir: t.dir, placed, moved_aside: moved });
  }
  await rm(stagingDir, { recursive: true, force: true });
  const commitAside = join(asideDir, "commitlog");
  await mkdir(commitAside, { recursive: true });
  for (const f of await readdir(paths.commitlogDir)) await rename(join(paths.commitlogDir, f), join(commitAside, f));

  const propsPath = join(paths.cassandraConf, PROPERTIES);
  const backupPath = join(paths.cassandraConf, PROPERTIES_BACKUP);
  const current = existsSync(propsPath) ? await readFile(propsPath, "utf8") : "";
  if (existsSync(propsPath)) await copyFile(propsPath, backupPath);
  await writeFile(propsPath, renderProperties(current, restoreLines));
  if (jvmFile && plan.jvmOptions.length > 0) {
    const text = await readFile(jvmFile, "utf8");
    // Cassandra's options files allow whole-line comments only: a marker line precedes each option.
    await writeFile(jvmFile, (text.endsWith("\n") || text === "" ? text : text + "\n") + plan.jvmOptions.map((o) => `${JVM_MARKER}\n${o}`).join("\n") + "\n");
  }
  const state: RestoreState = {
    schema_version: 1,
    at: plan.at.toString(),
    restore_point_in_time: plan.cutoff.value,
    scope: plan.scope.tables.map((t) => `${t.keyspace}.${t.table}`),
    started: new Date(o.now).toISOString(),
    restore_dir: o.restoreDir,
    aside_dir: asideDir,
    properties_file: propsPath,
    properties_backup: current ? backupPath : null,
    jvm_options_file: jvmFile ?? null,
    jvm_options: [...plan.jvmOptions],
    tables: stateTables,
    segments: segments.length,
  };
  await writeFile(statePath, JSON.stringify(state, null, 2) + "\n");
  say(`done. Next: start Cassandra; it fetches and replays ${segments.length} segment(s) up to ${plan.cutoff.value} UTC.`);
  say("Then run 'cassandra-pitr restore finish' BEFORE any further restart (left in place, the settings replay again and clear newer truncation records).");
  return state;
}

/**
 * After the node started (replay completes before Cassandra opens CQL): remove every restore
 * setting, restoring the properties file as it was and dropping our JVM option lines.
 */
export async function finishRestore(o: { cassandraConf: string; isNodeRunning: () => Promise<boolean>; say: (l: string) => void; dryRun: boolean }): Promise<boolean> {
  const statePath = join(o.cassandraConf, STATE_FILE);
  if (!existsSync(statePath)) {
    o.say("no restore in progress: nothing to finish");
    return false;
  }
  const state = JSON.parse(await readFile(statePath, "utf8")) as RestoreState;
  if (!(await o.isNodeRunning())) {
    throw new NodeStateError("the node is not running, so replay has not completed", "start Cassandra (it replays the restored segments first), then run 'cassandra-pitr restore finish'");
  }
  o.say(`${o.dryRun ? "would remove" : "remove"} the restore settings from '${state.properties_file}'`);
  if (state.jvm_options_file && state.jvm_options.length > 0) o.say(`${o.dryRun ? "would remove" : "remove"} ${state.jvm_options.join(" ")} from '${state.jvm_options_file}'`);
  o.say(`${o.dryRun ? "would remove" : "remove"} the staged segments in '${state.restore_dir}'; the moved-aside files stay in '${state.aside_dir}'`);
  if (o.dryRun) return true;
  const current = existsSync(state.properties_file) ? await readFile(state.properties_file, "utf8") : "";
  const kept = current
    .split("\n")
    .filter((l) => !/^\s*(restore_command|restore_directories|restore_point_in_time|precision)\s*[=:]/.test(l) && !l.startsWith("# restore settings written by cassandra-pitr"));
  await writeFile(state.properties_file, kept.join("\n").replace(/\n+$/, "") + "\n");
  if (state.properties_backup) await rm(state.properties_backup, { force: true });
  if (state.jvm_options_file && existsSync(state.jvm_options_file)) {
    const text = await readFile(state.jvm_options_file, "utf8");
    const lines = text.split("\n");
    await writeFile(state.jvm_options_file, lines.filter((l, i) => l !== JVM_MARKER && lines[i - 1] !== JVM_MARKER).join("\n"));
  }
  await rm(state.restore_dir, { recursive: true, force: true });
  await rename(statePath, `${statePath}.finished-${Date.now()}`);
  o.say("restore finished: the node will not replay again on restart. Run 'nodetool repair' for the restored tables as appropriate.");
  return true;
}
