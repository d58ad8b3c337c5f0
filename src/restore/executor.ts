/**
 * Applies a RestorePlan to a stopped node, and undoes the restore settings once replay is done.
 *
 * Order matters so that a failure never leaves the node half-changed:
 *   1. checks (node stopped, commit log drained for scoped restores, restore dir empty, tables);
 *   2. fetch: every sstable component into a staging directory (sha256 checked) and every segment
 *      verified and filtered in parallel (fetch-phase.ts), staged whole while the restore
 *      directory's filesystem has room, a stub beyond — a bad object stops here, and what was
 *      created is removed, so nothing of the node changed;
 *   3. apply: live sstables of the restored tables and the commit log's files are moved aside
 *      (never deleted), the staged sstables moved into the table directories, the restore settings
 *      written, and a state file records all of it for `restore finish`. Every step is decided first
 *      and written to a journal (journal.ts); a failing step rolls all of them back, an interrupted
 *      run is resumed by `restore` with the same time or rolled back by `restore abort`. Moves work
 *      across filesystems (moves.ts).
 * Before phase 2, a disk preflight (preflight.ts) checks that every filesystem written to has room.
 * Every action is described before it runs; `dryRun` only describes.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { classifySegment } from "../commitlog/classify.js";
import { isSegmentName } from "../commitlog/segment-name.js";
import { compactTime, type NodeIdentity } from "../format/layout.js";
import { ChecksumMismatchError } from "../replay/fetch.js";
import { recordFromMetadata, type SegmentRecord } from "../format/segment-record.js";
import { isPartialSegmentKey } from "../format/partial-layout.js";
import { partialSegmentRecord } from "../replay/partial-segment.js";
import { listIncrementals, listSnapshots } from "../backup/read.js";
import type { ArchivedSstable } from "../backup/types.js";
import { undashedUuid } from "../format/backup-layout.js";
import { PitrError, UsageError } from "../errors/base.js";
import { mapLimit, readBytes } from "../storage/front.js";
import type { Backend } from "../storage/types.js";
import type { Branch } from "./branches.js";
import {
  PlanRefusedError,
  RESTORE_DIR_PLACEHOLDER,
  type IncrementalStep,
  type RestorePlan,
  type SegmentStep,
  type TableRef,
} from "./plan.js";
import {
  commitJournal,
  committedJournalPath,
  createJournal,
  JOURNAL_FILE,
  readJournal,
  rollBack,
  runForward,
  StepFailedError,
  type Journal,
  type JournalStep,
} from "./journal.js";
import { checkDiskSpace, roomForStaging, type PreflightInput } from "./preflight.js";
import { autoSnapshotWarning } from "./auto-snapshot.js";
import { scratchRecovery } from "./table-history.js";
import { fetchSegments, segmentsToStage, type FetchProgress } from "./fetch-phase.js";
import {
  REPLAY_FILTER_FILE,
  describeTally,
  renderSpec,
  type FilterTally,
  type ReplayFilterSpec,
} from "../replay/replay-filter.js";

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
  /** Leave mutations of tables no schema.cql describes to Cassandra's own filter instead of refusing. */
  readonly acceptCassandraFilter?: boolean | undefined;
  readonly dryRun: boolean;
  /** Resolves to true when the node answers (nodetool). */
  readonly isNodeRunning: () => Promise<boolean>;
  readonly say: (line: string) => void;
  readonly now: number;
  readonly parallelism: number;
  readonly signal?: AbortSignal | undefined;
  /** Progress of the fetch phase (a terminal line; fetch-phase.ts terminalProgress). */
  readonly progress?: FetchProgress | undefined;
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
  /** The options file as it was, removed by `restore finish` (absent in states written before it existed). */
  readonly jvm_options_backup?: string | null;
  readonly tables: {
    keyspace: string;
    table: string;
    dir: string;
    placed: string[];
    moved_aside: string[];
  }[];
  readonly segments: number;
  /** The effective cutoff (µs, decimal) and the restored table ids (null: whole node): the branch point finish records. */
  readonly cutoff_micros?: string | undefined;
  readonly table_ids?: readonly string[] | null | undefined;
  /** The replay filter's spec file (removed by finish) and what it withheld while staging. */
  readonly replay_filter?: { readonly spec: string; readonly tally: FilterTally } | undefined;
}

export class NodeStateError extends PitrError {
  override name = "NodeStateError";
  constructor(message: string, hint: string) {
    super("E_NODE_STATE", message, { hint });
  }
}

/** A restore's apply phase failed and every change was undone. */
export class RestoreRolledBackError extends PitrError {
  override name = "RestoreRolledBackError";
  constructor(message: string, hint: string) {
    super("E_RESTORE_ROLLED_BACK", message, { hint });
  }
}

/** A restore's apply phase stopped part-way and is still recorded in its journal. */
export class RestoreIncompleteError extends PitrError {
  override name = "RestoreIncompleteError";
  constructor(message: string, hint: string) {
    super("E_RESTORE_INCOMPLETE", message, { hint });
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Is this file in a table directory part of an sstable (as opposed to snapshots/, backups/, ...)? */
function isSstableFile(name: string): boolean {
  return /^[a-z]{2}-[0-9a-z_]+-[a-z]+-[A-Za-z0-9]+\.(db|txt|crc32)$/.test(name);
}

/**
 * The directory Cassandra reads for the table id. A directory that holds a `dropped-<ms>-<table>`
 * snapshot belongs to a dropped table (Cassandra keeps it for the snapshot) and is never written to;
 * two live-looking directories for one name are refused too, since only one of them is read.
 */
async function tableDirFor(
  dataDir: string,
  keyspace: string,
  table: string,
  tableId: string,
  at: bigint,
): Promise<string> {
  const ksDir = join(dataDir, keyspace);
  const wanted = `${table}-${undashedUuid(tableId)}`;
  const entries = await readdir(ksDir).catch(() => [] as string[]);
  const sameName = entries.filter(
    (e) => e.startsWith(`${table}-`) && /^[0-9a-f]{32}$/.test(e.slice(table.length + 1)),
  );
  const dropped = new Map<string, number | undefined>();
  for (const e of sameName) dropped.set(e, await dropTimeIn(join(ksDir, e), table));
  const live = sameName.filter((e) => dropped.get(e) === undefined);
  const idOf = (dir: string) => dir.slice(table.length + 1);
  const droppedAt = dropped.get(wanted);
  if (droppedAt !== undefined) {
    const now =
      live.length > 0
        ? `; the table now has id ${live.map(idOf).join(", ")}`
        : "; no table of that name exists now";
    throw new PlanRefusedError(
      "table-recreated",
      `table ${keyspace}.${table} id ${tableId} was dropped at ${new Date(droppedAt).toISOString()} (its directory '${wanted}' is no longer read by Cassandra)${now}`,
      {
        hint: `leave it out (--keyspace, --table); ${scratchRecovery(`${keyspace}.${table}`, tableId, at)}`,
      },
    );
  }
  const others = live.filter((e) => e !== wanted);
  if (others.length > 0) {
    throw new PlanRefusedError(
      "table-recreated",
      `table ${keyspace}.${table} was re-created since the snapshot (directory '${others.join("', '")}', the snapshot has id ${tableId}${sameName.includes(wanted) ? `, whose directory '${wanted}' is still there` : ""}); Cassandra reads only one of them and skips the old id's commit log mutations`,
      { hint: scratchRecovery(`${keyspace}.${table}`, tableId, at) },
    );
  }
  if (sameName.includes(wanted)) return join(ksDir, wanted);
  throw new PlanRefusedError(
    "unknown-scope",
    `table ${keyspace}.${table} (id ${tableId}) does not exist on this node`,
    {
      hint: "create it first from the snapshot's schema.cql (it carries WITH ID), then restore; on a new node with empty disks, 'cassandra-pitr replace --at T' places the snapshot's schema (add --single-node when the dead node was the whole cluster)",
    },
  );
}

/** When the table directory holds Cassandra's drop auto-snapshot, the drop time (ms). */
async function dropTimeIn(dir: string, table: string): Promise<number | undefined> {
  const names = await readdir(join(dir, "snapshots")).catch(() => [] as string[]);
  const times = names
    .map((n) => /^dropped-(\d+)-(.+)$/.exec(n))
    .filter((m) => m && m[2] === table)
    .map((m) => Number(m![1]));
  return times.length > 0 ? Math.max(...times) : undefined;
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

/** The replay filter for this plan: its cutoff, its scope, and the base snapshot's schemas. */
export function replayFilterSpec(
  plan: RestorePlan,
  schemas: ReplayFilterSpec["schemas"],
  acceptCassandraFilter: boolean,
): ReplayFilterSpec {
  return {
    schema_version: 1,
    cutoff_micros: plan.cutoff.effectiveMicros.toString(),
    accept_cassandra_filter: acceptCassandraFilter,
    scope_table_ids: plan.scope.kind === "node" ? null : plan.scope.tables.map((t) => t.tableId),
    schemas,
    ...(plan.truncations && plan.truncations.length > 0
      ? {
          truncation_floors: Object.fromEntries(
            plan.truncations.map((x) => [x.tableId, x.floorMicros.toString()]),
          ),
        }
      : {}),
    segment_cutoffs: Object.fromEntries(
      plan.steps.flatMap((s) =>
        s.kind === "segment" && s.branchCutoffs
          ? [
              [
                s.name,
                s.branchCutoffs.map((b) => ({
                  table_ids: b.tableIds ? [...b.tableIds] : null,
                  cutoff_micros: b.cutoffMicros.toString(),
                })),
              ],
            ]
          : [],
      ),
    ),
  };
}

function describeStaging(total: number, staged: number): string {
  if (staged === total) return `${total} segment file(s)`;
  if (staged === 0) return `${total} segment stub(s)`;
  return `${staged} segment file(s) and ${total - staged} stub(s)`;
}

/** Rewrites commitlog_archiving.properties: restore lines replaced, every other line kept. */
export function renderProperties(current: string, restoreLines: readonly string[]): string {
  const keep = current
    .split("\n")
    .filter(
      (l) =>
        !/^\s*(restore_command|restore_directories|restore_point_in_time|precision|snapshot_commitlog_position)\s*[=:]/.test(
          l,
        ),
    )
    .filter((l, i, all) => !(l === "" && i === all.length - 1));
  return (
    [
      ...keep,
      "# restore settings written by cassandra-pitr restore; 'cassandra-pitr restore finish' removes them",
      ...restoreLines,
    ].join("\n") + "\n"
  );
}

export async function executeRestore(o: ExecuteOptions): Promise<RestoreState | undefined> {
  const { plan, paths, say } = o;
  const statePath = join(paths.cassandraConf, STATE_FILE);
  const journalPath = join(paths.cassandraConf, JOURNAL_FILE);
  if (existsSync(statePath)) return alreadyApplied(o, statePath, journalPath);

  // 1. Checks.
  if (await o.isNodeRunning()) {
    throw new NodeStateError(
      "the node is running; a restore needs it stopped",
      "run 'nodetool drain' and stop Cassandra, then run restore again",
    );
  }
  const pending = await readJournal<RestoreState>(journalPath);
  if (pending) return resumeRestore(pending, plan, statePath, say, o.dryRun);
  await refuseBusyNode(o);
  const work = await prepareWork(o);
  await announce(o, work);
  if (o.dryRun) return undefined;

  // 2. Fetch everything; on any failure remove what this run created and change nothing else.
  const createdRestoreDir = !existsSync(o.restoreDir);
  const tally = await fetchAll(o, work, createdRestoreDir);

  // 3. Apply, through a journal: decided in full, then run step by step.
  const { tables, stagingDir, asideDir, restoreLines, jvmFile, segments, filterPath } = work;
  const applied = await applySteps({
    plan,
    paths,
    tables,
    stagingDir,
    asideDir,
    restoreDir: o.restoreDir,
    restoreLines,
    jvmFile,
    now: o.now,
    segments: segments.length,
  });
  const state: RestoreState = {
    ...applied.state,
    replay_filter: { spec: filterPath, tally },
    cutoff_micros: plan.cutoff.effectiveMicros.toString(),
    table_ids: plan.scope.kind === "node" ? null : plan.scope.tables.map((t) => t.tableId),
  };
  const journal = await createJournal<RestoreState>(journalPath, {
    schema_version: 1,
    at: plan.at.toString(),
    restore_point_in_time: plan.cutoff.value,
    steps: applied.steps,
    created: {
      staging_dir: stagingDir,
      restore_dir: o.restoreDir,
      restore_dir_created: createdRestoreDir,
      aside_dir: asideDir,
    },
    state,
  });
  await applyJournal(journal, statePath, say);
  say(
    `done. Next: start Cassandra; it fetches and replays ${segments.length} segment(s) up to ${plan.cutoff.value} UTC.`,
  );
  say(
    "Then run 'cassandra-pitr restore finish' BEFORE any further restart (left in place, the settings replay again and clear newer truncation records).",
  );
  return state;
}

/** A state file is there: this restore is applied already (its state), or another one is in progress. */
async function alreadyApplied(
  o: ExecuteOptions,
  statePath: string,
  journalPath: string,
): Promise<RestoreState> {
  const state = JSON.parse(await readFile(statePath, "utf8")) as RestoreState;
  // A journal beside a state file: the restore committed and stopped before removing it.
  if (!o.dryRun) await rm(journalPath, { force: true });
  if (state.at === o.plan.at.toString()) {
    o.say(
      `this restore (at ${o.plan.cutoff.value}) is already applied; start the node, then run 'cassandra-pitr restore finish'`,
    );
    return state;
  }
  throw new NodeStateError(
    `another restore is in progress ('${statePath}', restore point ${state.restore_point_in_time})`,
    "start the node and run 'cassandra-pitr restore finish' first",
  );
}

/** A table-scope restore over unflushed data would lose the other tables' writes; the restore directory must be empty. */
async function refuseBusyNode(o: ExecuteOptions): Promise<void> {
  if (o.plan.scope.kind !== "node") {
    const busy = await segmentsWithData(o.paths.commitlogDir);
    if (busy.length > 0) {
      throw new NodeStateError(
        `the commit log holds unflushed data (${busy.join(", ")}); a ${o.plan.scope.kind} restore replays only its tables and would lose the others' writes`,
        "start the node, run 'nodetool drain', stop it, and run restore again",
      );
    }
  }
  if (existsSync(o.restoreDir) && (await readdir(o.restoreDir)).length > 0) {
    throw new UsageError(`restore directory '${o.restoreDir}' is not empty`, {
      hint: "name an empty or new directory with --restore-dir",
    });
  }
}

/** Everything a restore decides before it changes anything: what goes where, and how much room it needs. */
interface RestoreWork {
  readonly tables: readonly (TableRef & { readonly dir: string })[];
  /** Table directory → the sstables placed in it. */
  readonly placements: ReadonlyMap<string, readonly ArchivedSstable[]>;
  readonly segments: readonly SegmentStep[];
  readonly records: ReadonlyMap<string, SegmentRecord>;
  readonly filterSpec: ReplayFilterSpec;
  readonly filterPath: string;
  readonly restoreLines: readonly string[];
  readonly asideDir: string;
  readonly stagingDir: string;
  readonly jvmFile: string | undefined;
  /** How many segments are staged whole (the rest get stubs). */
  readonly stagedCount: number;
  readonly diskLines: readonly string[];
}

async function prepareWork(o: ExecuteOptions): Promise<RestoreWork> {
  const { plan, paths } = o;
  const stamp = compactTime(o.now).replace(/[.]/g, "");
  const tables = await Promise.all(
    plan.scope.tables.map(async (t) => ({
      ...t,
      dir: await tableDirFor(paths.dataDir, t.keyspace, t.table, t.tableId, plan.at),
    })),
  );
  const { placements, baseSchemas } = await snapshotPlacements(o, tables);
  await addIncrementalPlacements(o, tables, placements);
  const segments = plan.steps.filter((s): s is SegmentStep => s.kind === "segment");
  const asideDir = join(dirname(paths.dataDir), `cassandra-pitr-aside-${stamp}`);
  const stagingDir = join(dirname(paths.dataDir), `cassandra-pitr-staging-${stamp}`);
  // One HEAD per segment: the preflight needs the original sizes, the fetch phase the records.
  const records = await segmentRecords(o, segments);
  const preflight: PreflightInput = {
    commitlogDir: paths.commitlogDir,
    dataDir: paths.dataDir,
    stagingDir,
    restoreDir: o.restoreDir,
    asideDir,
    segmentBytes: [...records.values()].map((r) => r.size),
    stubs: o.stubs,
    sstableBytes: [...placements.values()]
      .flat()
      .reduce((n, s) => n + s.components.reduce((m, c) => m + c.size, 0), 0),
    liveSstableBytes: (await Promise.all(tables.map((t) => bytesIn(t.dir, isSstableFile)))).reduce(
      (n, b) => n + b,
      0,
    ),
    commitlogBytes: await bytesIn(paths.commitlogDir, () => true),
  };
  // Whole segments are staged while the restore directory's filesystem has room; stubs beyond.
  const sizes = segments.map((s) => records.get(s.key)!.size);
  const stagedCount = o.stubs ? 0 : segmentsToStage(sizes, await roomForStaging(preflight));
  return {
    tables,
    placements,
    segments,
    records,
    filterSpec: replayFilterSpec(plan, baseSchemas, o.acceptCassandraFilter === true),
    filterPath: join(paths.cassandraConf, REPLAY_FILTER_FILE),
    restoreLines: plan.properties.map((l) =>
      l
        .replace(RESTORE_DIR_PLACEHOLDER, o.restoreDir)
        .replace(/^restore_command=.*$/, `restore_command=${o.restoreCommand}`),
    ),
    asideDir,
    stagingDir,
    jvmFile: ["jvm-server.options", "jvm-extra.options"]
      .map((f) => join(paths.cassandraConf, f))
      .find((f) => existsSync(f)),
    stagedCount,
    diskLines: await checkDiskSpace({ ...preflight, stagedCount }),
  };
}

/** The snapshot step's sstables per table directory (only those the plan names), and the schemas the replay filter reads. */
async function snapshotPlacements(
  o: ExecuteOptions,
  tables: RestoreWork["tables"],
): Promise<{
  placements: Map<string, ArchivedSstable[]>;
  baseSchemas: ReplayFilterSpec["schemas"][number][];
}> {
  const placements = new Map<string, ArchivedSstable[]>();
  const baseSchemas: ReplayFilterSpec["schemas"][number][] = [];
  const snapshotStep = o.plan.steps.find((s) => s.kind === "snapshot");
  if (!snapshotStep || snapshotStep.kind !== "snapshot") return { placements, baseSchemas };
  const stored = (await listSnapshots(o.backend, o.identity, { signal: o.signal })).find(
    (s) =>
      s.manifest.tag === snapshotStep.tag &&
      Date.parse(s.manifest.snapshot_time) === snapshotStep.snapshotTimeMs,
  );
  if (!stored)
    throw new PitrError("E_NOT_FOUND", `snapshot '${snapshotStep.tag}' has no manifest in the archive`, {
      hint: "run 'cassandra-pitr list' to see complete snapshots",
    });
  for (const m of stored.manifest.tables) {
    if (m.schema_cql)
      baseSchemas.push({
        source: `snapshot ${snapshotStep.tag} ${m.keyspace}.${m.table} schema.cql`,
        cql: m.schema_cql,
      });
  }
  baseSchemas.push(...(await newerSchemas(o, o.plan)));
  for (const t of tables) {
    const entry = stored.manifest.tables.find((m) => m.keyspace === t.keyspace && m.table === t.table);
    // Only the sstables the plan names: it leaves out those a TRUNCATE discarded.
    const planned = new Set(
      snapshotStep.tables.find((x) => x.keyspace === t.keyspace && x.table === t.table)?.sstables ?? [],
    );
    placements.set(
      t.dir,
      (entry?.sstables ?? []).filter((s) => planned.has(s.name)),
    );
  }
  return { placements, baseSchemas };
}

/** The incremental steps' sstables, added to their tables' placements. */
async function addIncrementalPlacements(
  o: ExecuteOptions,
  tables: RestoreWork["tables"],
  placements: Map<string, ArchivedSstable[]>,
): Promise<void> {
  const incSteps = o.plan.steps.filter((s): s is IncrementalStep => s.kind === "incremental");
  if (incSteps.length === 0) return;
  const found = incSteps.map((s) => s.foundTimeMs);
  const records = await listIncrementals(
    o.backend,
    o.identity,
    Math.min(...found) - 1,
    Math.max(...found) + 1,
    { signal: o.signal },
  );
  for (const step of incSteps) {
    const rec = records.find(
      (r) =>
        r.record.keyspace === step.keyspace &&
        r.record.table === step.table &&
        r.record.sstable.name === step.sstable,
    );
    const t = tables.find((x) => x.keyspace === step.keyspace && x.table === step.table);
    if (!rec || !t)
      throw new PitrError(
        "E_NOT_FOUND",
        `incremental ${step.keyspace}.${step.table}/${step.sstable} is not in the archive`,
      );
    placements.get(t.dir)?.push(rec.record.sstable) ?? placements.set(t.dir, [rec.record.sstable]);
  }
}

/** Says what the restore will do (or, with --dry-run, would do). */
async function announce(o: ExecuteOptions, w: RestoreWork): Promise<void> {
  const { plan, paths, say } = o;
  const verb = (done: string, would: string) => (o.dryRun ? would : done);
  const segments = w.segments.length;
  say(
    `restore to ${plan.cutoff.value} UTC (${plan.scope.kind === "node" ? "whole node" : plan.scope.tables.map((t) => `${t.keyspace}.${t.table}`).join(", ")})`,
  );
  for (const [dir, list] of w.placements)
    say(
      `${verb("place", "would place")} ${list.length} sstable(s) in '${dir}' (live sstables moved to '${w.asideDir}')`,
    );
  say(
    `${verb("stage", "would stage")} ${describeStaging(segments, w.stagedCount)} in '${o.restoreDir}', each read mutation by mutation: every mutation stamped after ${plan.cutoff.value} UTC is withheld (row deletions included, which Cassandra's own filter would replay)`,
  );
  if (!o.stubs && w.stagedCount < segments)
    say(
      `the restore directory's filesystem has room for ${w.stagedCount} whole segment(s): the other ${segments - w.stagedCount} get a stub, fetched by the restore hook when Cassandra asks`,
    );
  if (w.filterSpec.accept_cassandra_filter)
    say(
      "--accept-cassandra-filter: mutations of tables the snapshot does not describe are left to Cassandra's own filter (a row deletion after T in them would be replayed)",
    );
  say(`${verb("move", "would move")} the commit log directory's files to '${join(w.asideDir, "commitlog")}'`);
  say(
    `${verb("write", "would write")} ${join(paths.cassandraConf, PROPERTIES)}: ${w.restoreLines.join("; ")}`,
  );
  if (plan.jvmOptions.length > 0)
    say(
      `${verb("add", "would add")} JVM option(s) ${plan.jvmOptions.join(" ")} ${w.jvmFile ? `to '${w.jvmFile}'` : "(add them to JVM_OPTS by hand: no jvm-server.options found)"}`,
    );
  for (const line of w.diskLines) say(line);
  const noAutoSnapshot = await autoSnapshotWarning(paths.cassandraConf);
  if (noAutoSnapshot) say(noAutoSnapshot);
}

/** The fetch phase: sstables staged and verified, segments verified, filtered and staged; on failure, what it created is removed. */
async function fetchAll(o: ExecuteOptions, w: RestoreWork, createdRestoreDir: boolean): Promise<FilterTally> {
  try {
    await mkdir(o.restoreDir, { recursive: true });
    await mkdir(w.stagingDir, { recursive: true });
    await stageSstables(o, w);
    const specText = renderSpec(w.filterSpec);
    await writeFile(w.filterPath, specText);
    const tally = await fetchSegments({
      backend: o.backend,
      segments: w.segments,
      records: w.records,
      restoreDir: o.restoreDir,
      stagedCount: w.stagedCount,
      specText,
      specPath: w.filterPath,
      archiveUrl: o.archiveUrl,
      parallelism: o.parallelism,
      signal: o.signal,
      progress: o.progress,
    });
    o.say(describeTally(tally, o.plan.cutoff.value));
    return tally;
  } catch (err) {
    await rm(w.filterPath, { force: true });
    await rm(w.stagingDir, { recursive: true, force: true });
    if (createdRestoreDir) await rm(o.restoreDir, { recursive: true, force: true });
    else
      for (const f of await readdir(o.restoreDir).catch(() => [] as string[]))
        await rm(join(o.restoreDir, f), { force: true });
    throw err;
  }
}

/** Every placed sstable component, read, checked against its recorded size and sha256, and written to the staging directory. */
async function stageSstables(o: ExecuteOptions, w: RestoreWork): Promise<void> {
  const jobs: { key: string; sha256: string; size: number; target: string }[] = [];
  for (const [dir, list] of w.placements) {
    const stage = stageDirOf(w.stagingDir, o.paths.dataDir, dir);
    await mkdir(stage, { recursive: true });
    for (const s of list)
      for (const c of s.components)
        jobs.push({ key: c.key, sha256: c.sha256, size: c.size, target: join(stage, c.file) });
  }
  await mapLimit(jobs, o.parallelism, async (j) => {
    const bytes = await readBytes(o.backend, j.key, o.signal);
    if (bytes.length !== j.size || sha256(bytes) !== j.sha256) {
      throw new ChecksumMismatchError(
        `archived sstable component '${j.key}'`,
        `${bytes.length} bytes with another sha256 than recorded`,
      );
    }
    await writeFile(j.target, bytes);
  });
}

/**
 * The schema.cql of the restored tables in the plan's newer schema snapshot (a column added after
 * the base snapshot): read after the base's, so their columns, dropped ones included, are known.
 */
async function newerSchemas(
  o: ExecuteOptions,
  plan: RestorePlan,
): Promise<ReplayFilterSpec["schemas"][number][]> {
  const wanted = plan.schemaSnapshot;
  if (!wanted) return [];
  const stored = (await listSnapshots(o.backend, o.identity, { signal: o.signal })).find(
    (s) => s.manifest.tag === wanted.tag && Date.parse(s.manifest.snapshot_time) === wanted.snapshotTimeMs,
  );
  if (!stored)
    throw new PitrError("E_NOT_FOUND", `snapshot '${wanted.tag}' has no manifest in the archive`, {
      hint: "run 'cassandra-pitr list' to see complete snapshots",
    });
  const ids = new Set(plan.scope.tables.map((t) => t.tableId));
  return stored.manifest.tables
    .filter((m) => m.schema_cql && ids.has(m.table_id))
    .map((m) => ({
      source: `snapshot ${wanted.tag} ${m.keyspace}.${m.table} schema.cql`,
      cql: m.schema_cql!,
    }));
}

/** The segment record of each of the plan's segments, by key (one HEAD each). */
async function segmentRecords(
  o: ExecuteOptions,
  segments: readonly SegmentStep[],
): Promise<Map<string, SegmentRecord>> {
  const records = new Map<string, SegmentRecord>();
  await mapLimit(segments, o.parallelism, async (s) => {
    // A partial segment (format/partial-layout.ts) is assembled and verified to learn its record.
    const record = isPartialSegmentKey(s.key)
      ? await partialSegmentRecord(o.backend, s.key, s.name, o.signal)
      : recordFromMetadata((await o.backend.head(s.key, { signal: o.signal })).metadata);
    if (!record) throw new PitrError("E_NOT_FOUND", `object '${s.key}' carries no segment record`);
    records.set(s.key, record);
  });
  return records;
}

async function bytesIn(dir: string, wanted: (name: string) => boolean): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isFile() && wanted(e.name)) total += (await stat(join(dir, e.name))).size;
  }
  return total;
}

/** Where the fetch phase stages one table directory's sstables. */
function stageDirOf(stagingDir: string, dataDir: string, tableDir: string): string {
  return join(stagingDir, tableDir.slice(dataDir.length).replace(/\//g, "_"));
}

interface ApplyInput {
  readonly plan: RestorePlan;
  readonly paths: NodePaths;
  readonly tables: readonly { keyspace: string; table: string; dir: string }[];
  readonly stagingDir: string;
  readonly asideDir: string;
  readonly restoreDir: string;
  readonly restoreLines: readonly string[];
  readonly jvmFile: string | undefined;
  readonly now: number;
  readonly segments: number;
}

/**
 * Every change of the apply phase, in order, and the state file that records them: live sstables
 * aside, staged sstables in, the commit log's files aside, then the settings (each with a backup).
 */
async function applySteps(a: ApplyInput): Promise<{ steps: JournalStep[]; state: RestoreState }> {
  const steps: JournalStep[] = [];
  const stateTables: RestoreState["tables"] = [];
  for (const t of a.tables) {
    const aside = join(a.asideDir, "data", t.keyspace, basename(t.dir));
    const live = (await readdir(t.dir)).filter(isSstableFile);
    const stage = stageDirOf(a.stagingDir, a.paths.dataDir, t.dir);
    const staged = await readdir(stage).catch(() => [] as string[]);
    steps.push(...live.map((f) => ({ op: "move" as const, from: join(t.dir, f), to: join(aside, f) })));
    steps.push(...staged.map((f) => ({ op: "move" as const, from: join(stage, f), to: join(t.dir, f) })));
    stateTables.push({ keyspace: t.keyspace, table: t.table, dir: t.dir, placed: staged, moved_aside: live });
  }
  const commitAside = join(a.asideDir, "commitlog");
  for (const f of await readdir(a.paths.commitlogDir))
    steps.push({ op: "move", from: join(a.paths.commitlogDir, f), to: join(commitAside, f) });

  const propsPath = join(a.paths.cassandraConf, PROPERTIES);
  const current = existsSync(propsPath) ? await readFile(propsPath, "utf8") : "";
  const propsBackup = existsSync(propsPath) ? join(a.paths.cassandraConf, PROPERTIES_BACKUP) : null;
  steps.push({
    op: "write",
    path: propsPath,
    backup: propsBackup,
    content: renderProperties(current, a.restoreLines),
  });
  let jvmBackup: string | null = null;
  if (a.jvmFile && a.plan.jvmOptions.length > 0) {
    const text = await readFile(a.jvmFile, "utf8");
    jvmBackup = `${a.jvmFile}.before-cassandra-pitr`;
    // Cassandra's options files allow whole-line comments only: a marker line precedes each option.
    const content =
      (text.endsWith("\n") || text === "" ? text : text + "\n") +
      a.plan.jvmOptions.map((o) => `${JVM_MARKER}\n${o}`).join("\n") +
      "\n";
    steps.push({ op: "write", path: a.jvmFile, backup: jvmBackup, content });
  }
  const state: RestoreState = {
    schema_version: 1,
    at: a.plan.at.toString(),
    restore_point_in_time: a.plan.cutoff.value,
    scope: a.plan.scope.tables.map((t) => `${t.keyspace}.${t.table}`),
    started: new Date(a.now).toISOString(),
    restore_dir: a.restoreDir,
    aside_dir: a.asideDir,
    properties_file: propsPath,
    properties_backup: propsBackup,
    jvm_options_file: a.jvmFile ?? null,
    jvm_options: [...a.plan.jvmOptions],
    jvm_options_backup: jvmBackup,
    tables: stateTables,
    segments: a.segments,
  };
  return { steps, state };
}

/**
 * Runs the journal's remaining steps and commits. A failing step rolls everything back; if that
 * fails too, the journal stays for `restore abort`. Either way the error says which happened.
 */
async function applyJournal(
  journal: Journal<RestoreState>,
  statePath: string,
  say: (line: string) => void,
): Promise<void> {
  try {
    await runForward(journal, say);
  } catch (err) {
    if (!(err instanceof StepFailedError)) throw err;
    const current = (await readJournal<RestoreState>(journal.path)) ?? journal;
    try {
      const left = await rollBack(current);
      await rm(join(dirname(statePath), REPLAY_FILTER_FILE), { force: true });
      const kept =
        left > 0 ? ` (${left} file(s) found in '${current.header.created.aside_dir}' were kept there)` : "";
      throw new RestoreRolledBackError(
        `restore failed at ${err.message}; every change was rolled back, the node holds its live data${kept}`,
        "fix the cause (disk space, permissions), then run restore again",
      );
    } catch (undoErr) {
      if (undoErr instanceof RestoreRolledBackError) throw undoErr;
      throw new RestoreIncompleteError(
        `restore failed at ${err.message}, and rolling it back failed too: ${undoErr instanceof Error ? undoErr.message : String(undoErr)}; '${journal.path}' records every step`,
        "fix the cause, then run 'cassandra-pitr restore abort' to put every file back (do not start Cassandra before)",
      );
    }
  }
  await commitJournal(journal, statePath);
}

/** `restore` again after an interrupted apply phase: the same restore point resumes it. */
async function resumeRestore(
  journal: Journal<RestoreState>,
  plan: RestorePlan,
  statePath: string,
  say: (line: string) => void,
  dryRun: boolean,
): Promise<RestoreState | undefined> {
  const where = `step ${journal.done + 1} of ${journal.header.steps.length}`;
  if (journal.rollingBack) {
    throw new RestoreIncompleteError(
      `a rollback of the restore to ${journal.header.restore_point_in_time} was interrupted ('${journal.path}')`,
      "run 'cassandra-pitr restore abort' to finish putting every file back",
    );
  }
  if (journal.header.at !== plan.at.toString()) {
    throw new RestoreIncompleteError(
      `a restore to ${journal.header.restore_point_in_time} was interrupted at ${where} ('${journal.path}'); it must be resumed or rolled back first`,
      `run 'cassandra-pitr restore --at ${journal.header.at}' to resume it, or 'cassandra-pitr restore abort' to put every file back`,
    );
  }
  say(
    `${dryRun ? "would resume" : "resuming"} the interrupted restore to ${journal.header.restore_point_in_time} at ${where} (journal '${journal.path}')`,
  );
  if (dryRun) return undefined;
  await applyJournal(journal, statePath, say);
  say(
    `done. Next: start Cassandra; it fetches and replays ${journal.header.state.segments} segment(s) up to ${journal.header.restore_point_in_time} UTC.`,
  );
  say(
    "Then run 'cassandra-pitr restore finish' BEFORE any further restart (left in place, the settings replay again and clear newer truncation records).",
  );
  return journal.header.state;
}

/** `restore abort`: rolls back an interrupted apply phase, so the node holds its live data again. */
export async function abortRestore(o: {
  cassandraConf: string;
  isNodeRunning: () => Promise<boolean>;
  say: (l: string) => void;
  dryRun: boolean;
}): Promise<boolean> {
  const journal = await readJournal<RestoreState>(join(o.cassandraConf, JOURNAL_FILE));
  if (!journal) {
    o.say("no interrupted restore: nothing to abort");
    return false;
  }
  if (await o.isNodeRunning()) {
    throw new NodeStateError(
      "the node is running; rolling back a restore needs it stopped",
      "stop Cassandra, then run 'cassandra-pitr restore abort' again",
    );
  }
  o.say(
    `${o.dryRun ? "would roll back" : "rolling back"} the interrupted restore to ${journal.header.restore_point_in_time} (${journal.done} of ${journal.header.steps.length} step(s) done)`,
  );
  if (o.dryRun) return true;
  const left = await rollBack(journal);
  await rm(join(o.cassandraConf, REPLAY_FILTER_FILE), { force: true });
  o.say(
    left > 0
      ? `rolled back; ${left} file(s) found in '${journal.header.created.aside_dir}' were kept there`
      : "rolled back: every file is where it was before the restore",
  );
  return true;
}

/**
 * After the node started (replay completes before Cassandra opens CQL): remove every restore
 * setting, restoring the properties file as it was and dropping our JVM option lines.
 */
/** A line of a .properties file that sets something (not blank, not a comment). */
function isPropertyLine(line: string): boolean {
  const l = line.trim();
  return l !== "" && !l.startsWith("#") && !l.startsWith("!");
}

export async function finishRestore(o: {
  cassandraConf: string;
  isNodeRunning: () => Promise<boolean>;
  say: (l: string) => void;
  dryRun: boolean;
  /** Records the branch point in the archive (branches.ts); returns the object key. */
  recordBranch?: ((branch: Branch, tables: readonly string[]) => Promise<string>) | undefined;
}): Promise<boolean> {
  const statePath = join(o.cassandraConf, STATE_FILE);
  if (!existsSync(statePath) && existsSync(join(o.cassandraConf, JOURNAL_FILE))) {
    throw new RestoreIncompleteError(
      `a restore was interrupted part-way ('${join(o.cassandraConf, JOURNAL_FILE)}'): there is nothing to finish yet`,
      "run 'cassandra-pitr restore --at T' with the same time to resume it, or 'cassandra-pitr restore abort' to roll it back",
    );
  }
  if (!existsSync(statePath)) {
    o.say("no restore in progress: nothing to finish");
    return false;
  }
  const state = JSON.parse(await readFile(statePath, "utf8")) as RestoreState;
  if (existsSync(join(o.cassandraConf, JOURNAL_FILE)))
    await rm(join(o.cassandraConf, JOURNAL_FILE), { force: true }); // committed; left by a stop before its removal
  if (!(await o.isNodeRunning())) {
    throw new NodeStateError(
      "the node is not running, so replay has not completed",
      "start Cassandra (it replays the restored segments first), then run 'cassandra-pitr restore finish'",
    );
  }
  o.say(`${o.dryRun ? "would remove" : "remove"} the restore settings from '${state.properties_file}'`);
  if (state.jvm_options_file && state.jvm_options.length > 0)
    o.say(
      `${o.dryRun ? "would remove" : "remove"} ${state.jvm_options.join(" ")} from '${state.jvm_options_file}'`,
    );
  o.say(
    `${o.dryRun ? "would remove" : "remove"} the staged segments in '${state.restore_dir}'; the moved-aside files stay in '${state.aside_dir}'`,
  );
  if (o.dryRun) return true;
  if (o.recordBranch && state.cutoff_micros !== undefined) {
    // Replay is done: from here on the node's history is the restored one. A later restore must not
    // bring back what this one undid; the branch point in the archive tells its planner.
    const key = await o.recordBranch(
      {
        restoredAtMs: Date.parse(state.started),
        cutoffMicros: BigInt(state.cutoff_micros),
        tableIds: state.table_ids ?? undefined,
        restorePoint: state.restore_point_in_time,
      },
      state.scope,
    );
    o.say(
      `recorded the branch point in the archive ('${key}'): later restores keep the writes this one undid undone`,
    );
  }
  const current = existsSync(state.properties_file) ? await readFile(state.properties_file, "utf8") : "";
  const kept = current
    .split("\n")
    .filter(
      (l) =>
        !/^\s*(restore_command|restore_directories|restore_point_in_time|precision)\s*[=:]/.test(l) &&
        !l.startsWith("# restore settings written by cassandra-pitr"),
    );
  if (kept.some(isPropertyLine))
    await writeFile(state.properties_file, kept.join("\n").replace(/\n+$/, "") + "\n");
  else {
    // Cassandra 4.1 and 5.0 assert that the file, when present, sets something (CommitLogArchiver,
    // with -ea as shipped): a node without archiving (a drill's scratch node) would not start again.
    await rm(state.properties_file, { force: true });
    o.say(
      `removed '${state.properties_file}': no setting is left in it, and Cassandra refuses to start with an empty one`,
    );
  }
  if (state.properties_backup) await rm(state.properties_backup, { force: true });
  if (state.jvm_options_backup) await rm(state.jvm_options_backup, { force: true });
  if (state.jvm_options_file && existsSync(state.jvm_options_file)) {
    const text = await readFile(state.jvm_options_file, "utf8");
    const lines = text.split("\n");
    await writeFile(
      state.jvm_options_file,
      lines.filter((l, i) => l !== JVM_MARKER && lines[i - 1] !== JVM_MARKER).join("\n"),
    );
  }
  await rm(state.restore_dir, { recursive: true, force: true });
  if (state.replay_filter) await rm(state.replay_filter.spec, { force: true });
  await rm(committedJournalPath(join(o.cassandraConf, JOURNAL_FILE)), { force: true }); // replayed: nothing to undo any more
  await rename(statePath, `${statePath}.finished-${Date.now()}`);
  o.say(
    "restore finished: the node will not replay again on restart. Run 'nodetool repair' for the restored tables as appropriate.",
  );
  return true;
}
