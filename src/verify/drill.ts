/**
 * `verify --drill`: a restore drill. The archive is restored to a SCRATCH Cassandra node (the
 * project's own harness, scripts/cassandra-node.sh) at a chosen instant, configured CQL checks run
 * against it, and the result is stored as evidence in the archive
 * (`<node prefix>evidence/<compact time>_drill.json`, read by `report`).
 *
 * Order:
 *   1. a scratch node is reserved (free port base, own directory) and configured, not started;
 *   2. the plan (identity = the archived node) is always scoped to user tables (the snapshot's
 *      non-system tables, or --keyspace/--table), so Cassandra gets -Dcassandra.replayList: the
 *      scratch node has another host id, so its sstables' commit log intervals do not apply and
 *      every staged segment replays, and the source node's system-table mutations must not;
 *   3. the scratch node starts; every keyspace (SimpleStrategy, RF 1) and table in scope is created
 *      from the snapshot manifests' schema_cql (`WITH ID`, so replayed mutations match by table id);
 *   4. it is drained and stopped, and the restore executor applies the plan to its directories;
 *   5. it starts again (Cassandra calls our restore hook and replays up to the restore point), the
 *      checks run, `restore finish` removes the restore settings, the node stops and its directory
 *      is removed (unless kept).
 * Effects (planning, the scratch node, CQL) are injected, so the sequencing is testable alone.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeIdentity } from "../format/layout.js";
import { evidenceKey, type EvidenceSummaryFields } from "../format/evidence.js";
import { SYSTEM_KEYSPACES } from "../backup/local.js";
import { listSnapshots } from "../backup/read.js";
import { isPitrError, PitrError, UsageError } from "../errors/base.js";
import { stripCredentials } from "../errors/redact.js";
import { executeRestore, finishRestore, type NodePaths } from "../restore/executor.js";
import type { RestorePlan, SnapshotStep, TableRef } from "../restore/plan.js";
import { formatInstant } from "../restore/time.js";
import { toolVersion } from "../report/version.js";
import { jsonDocument, putDocumentIfAbsent } from "../storage/front.js";
import type { Backend } from "../storage/types.js";

export const EVIDENCE_SCHEMA_VERSION = 1;
/** Port bases for scratch nodes: 19102, 19106, ... (the test helpers' step, so their reservations exclude each other). */
export const SCRATCH_PORTS = { first: 19102, last: 19290, step: 4 } as const;
const MAX_ROWS_RECORDED = 100;

// ---------------------------------------------------------------------------------------------
// Checks and expectations (pure)

export type CompareOp = ">=" | "<=" | "=" | "!=" | ">" | "<";

export interface Expectation {
  readonly raw: string;
  readonly keyspace: string;
  readonly table: string;
  readonly op: CompareOp;
  readonly value: number;
}

/** `ks.table>=N` (also <=, =, ==, !=, >, <). */
export function parseExpectation(raw: string): Expectation {
  const m = /^\s*([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*(>=|<=|==|!=|=|>|<)\s*(\d+)\s*$/.exec(raw);
  if (!m)
    throw new UsageError(`--expect '${raw}' does not parse`, {
      hint: 'write keyspace.table OP N, e.g. --expect "shop.orders>=1000" (OP: >= <= = != > <)',
    });
  return {
    raw: raw.trim(),
    keyspace: m[1]!,
    table: m[2]!,
    op: (m[3] === "==" ? "=" : m[3]) as CompareOp,
    value: Number(m[4]),
  };
}

export function compare(actual: number, op: CompareOp, value: number): boolean {
  switch (op) {
    case ">=":
      return actual >= value;
    case "<=":
      return actual <= value;
    case "=":
      return actual === value;
    case "!=":
      return actual !== value;
    case ">":
      return actual > value;
    case "<":
      return actual < value;
  }
}

const ident = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);

export function countQuery(keyspace: string, table: string): string {
  return `SELECT count(*) FROM ${ident(keyspace)}.${ident(table)}`;
}

/** Statements of a schema.cql (split at `;` ending a line, outside quotes). */
export function splitStatements(cql: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote: string | undefined;
  for (let i = 0; i < cql.length; i++) {
    const c = cql[i]!;
    if (quote) {
      if (c === quote && cql[i + 1] === quote) {
        current += c + c; // an escaped quote inside the string
        i++;
        continue;
      }
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ";") {
      if (current.trim()) out.push(current.trim());
      current = "";
      continue;
    }
    current += c;
  }
  if (current.trim()) out.push(current.trim());
  return out.filter((s) => !/^(--|\/\/)[^\n]*$/.test(s));
}

/** A driver value as JSON (Long/BigInt as numbers when exact, else strings; blobs as hex). */
export function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (Buffer.isBuffer(v)) return `0x${v.toString("hex")}`;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), jsonValue(x)]));
  if (v instanceof Set) return [...v].map(jsonValue);
  const o = v as { constructor?: { name?: string }; toString?: () => string };
  if (o.constructor?.name === "Long") {
    const text = String(v);
    return Number.isSafeInteger(Number(text)) ? Number(text) : text;
  }
  if (typeof o.toString === "function" && o.toString !== Object.prototype.toString) return String(v);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonValue(x)]));
}

/** The count a query returned, when it returned exactly one row with one integer column. */
export function countOf(rows: readonly Record<string, unknown>[]): number | undefined {
  if (rows.length !== 1) return undefined;
  const values = Object.values(rows[0]!);
  if (values.length !== 1) return undefined;
  const v = jsonValue(values[0]);
  return typeof v === "number" && Number.isInteger(v) ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// Evidence

/** One `--check` CQL statement run on the scratch node, as the evidence records it (not a `Check`: a query and its rows). */
export interface CqlCheckResult {
  readonly cql: string;
  readonly status: "passed" | "failed";
  readonly row_count: number | null;
  readonly count: number | null;
  readonly rows: unknown[];
  readonly rows_truncated: boolean;
  readonly error: string | null;
  readonly ms: number;
}

export interface ExpectationResult {
  readonly expect: string;
  readonly cql: string;
  readonly actual: number | null;
  readonly status: "passed" | "failed";
  readonly error: string | null;
}

/** The evidence document; `kind`, `ran_at`, `restore_point`, `status`, `details` are what `report` reads. */
export interface DrillEvidenceDoc extends EvidenceSummaryFields {
  readonly schema_version: number;
  readonly node: NodeIdentity;
  readonly archive: string;
  readonly tool_version: string;
  readonly restore_point_in_time: string | null;
  readonly plan: {
    readonly snapshot: string | null;
    readonly snapshot_time: string | null;
    readonly scope: string[];
    readonly replay_list: string | null;
    readonly segments: number;
    readonly incrementals: number;
    readonly bytes: RestorePlan["bytes"] | null;
    readonly warnings: string[];
  } | null;
  readonly scratch: {
    readonly cassandra_version: string | null;
    readonly port_base: number | null;
    readonly kept_at: string | null;
  };
  readonly checks: CqlCheckResult[];
  readonly expectations: ExpectationResult[];
  readonly timings_ms: Record<string, number>;
  readonly finished_at: string;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export { evidenceKey } from "../format/evidence.js";

// ---------------------------------------------------------------------------------------------
// Effects

export interface CqlSession {
  execute(cql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export interface ScratchNode {
  readonly dir: string;
  readonly portBase: number;
  readonly paths: NodePaths;
  /** Cassandra release the harness runs (known before start). */
  readonly cassandraVersion: string;
  start(): Promise<void>;
  /** nodetool drain, then stop. */
  stop(): Promise<void>;
  /** nodetool answers. */
  isRunning(): Promise<boolean>;
  connect(): Promise<CqlSession>;
  /** Stops it if running, releases its ports, removes its directory unless `keep`. */
  dispose(keep: boolean): Promise<void>;
}

export interface PlanScopeRequest {
  readonly keyspaces?: string[] | undefined;
  readonly tables?: string[] | undefined;
  readonly targetVersion: string;
}

export interface DrillOptions {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly archiveUrl: string;
  /** The restore point, µs. */
  readonly at: bigint;
  readonly keyspaces?: string[] | undefined;
  readonly tables?: string[] | undefined;
  readonly checks: readonly string[];
  readonly expectations: readonly Expectation[];
  readonly keepScratch: boolean;
  /** restore_command as written on the scratch node (our restore hook). */
  readonly restoreCommand: string;
  readonly parallelism: number;
  readonly plan: (request: PlanScopeRequest) => Promise<RestorePlan>;
  readonly createScratch: () => Promise<ScratchNode>;
  readonly now: () => number;
  readonly say: (line: string) => void;
  readonly signal?: AbortSignal | undefined;
}

export interface DrillOutcome {
  readonly evidence: DrillEvidenceDoc;
  readonly key: string;
  /** The error that ended the drill early (already recorded in the evidence). */
  readonly error?: unknown;
}

const qualified = (t: { keyspace: string; table: string }) => `${t.keyspace}.${t.table}`;
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!;

async function runCheck(session: CqlSession, cql: string): Promise<CqlCheckResult> {
  const started = performance.now();
  try {
    const rows = await session.execute(cql);
    return {
      cql,
      status: "passed",
      row_count: rows.length,
      count: countOf(rows) ?? null,
      rows: rows.slice(0, MAX_ROWS_RECORDED).map((r) => jsonValue(r)),
      rows_truncated: rows.length > MAX_ROWS_RECORDED,
      error: null,
      ms: Math.round(performance.now() - started),
    };
  } catch (e) {
    return {
      cql,
      status: "failed",
      row_count: null,
      count: null,
      rows: [],
      rows_truncated: false,
      error: messageOf(e),
      ms: Math.round(performance.now() - started),
    };
  }
}

/** Runs the drill; always returns the evidence it stored (an early error is in `error`, status failed). */
export async function runDrill(o: DrillOptions): Promise<DrillOutcome> {
  const ranAt = o.now();
  const t0 = performance.now();
  const p: DrillProgress = { checks: [], expectations: [], timings: {} };
  let scratch: ScratchNode | undefined;
  let failure: unknown;
  let kept: string | null = null;
  try {
    scratch = await o.createScratch();
    o.say(
      `scratch node in '${scratch.dir}' (Cassandra ${scratch.cassandraVersion}, port base ${scratch.portBase})`,
    );
    await drillSteps(o, scratch, p);
  } catch (e) {
    failure = e;
  } finally {
    if (scratch) {
      const keep = o.keepScratch;
      await scratch
        .dispose(keep)
        .catch((e: unknown) => o.say(`warning: could not clean up the scratch node: ${messageOf(e)}`));
      if (keep) kept = scratch.dir;
    }
  }
  p.timings["total"] = Math.round(performance.now() - t0);
  const scratchDoc = {
    cassandra_version: scratch?.cassandraVersion ?? null,
    port_base: scratch?.portBase ?? null,
    kept_at: kept,
  };
  const evidence = drillEvidence(o, ranAt, p, scratchDoc, failure);
  const key = evidenceKey(o.identity, ranAt);
  await storeEvidence(o, key, evidence, failure);
  return failure === undefined ? { evidence, key } : { evidence, key, error: failure };
}

/** What the drill has done so far: kept when a step fails, for the evidence. */
interface DrillProgress {
  plan?: RestorePlan;
  readonly checks: CqlCheckResult[];
  readonly expectations: ExpectationResult[];
  readonly timings: Record<string, number>;
}

/** The drill's steps on the scratch node, each timed: plan, schema, restore, replay, checks, finish. */
async function drillSteps(o: DrillOptions, scratch: ScratchNode, p: DrillProgress): Promise<void> {
  const timed = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    const result = await step();
    p.timings[name] = Math.round(performance.now() - s);
    return result;
  };
  const plan = await timed("plan", () => drillPlan(o, scratch.cassandraVersion, p));
  const snapStep = plan.steps.find((x) => x.kind === "snapshot");
  if (!snapStep || snapStep.kind !== "snapshot")
    throw new PitrError("E_PLAN_REFUSED", "the plan has no snapshot to restore from");
  o.say(
    `plan: snapshot '${snapStep.tag}', ${plan.steps.filter((x) => x.kind === "segment").length} segment(s), ${plan.bytes.total} B; scope ${plan.scope.tables.map(qualified).join(", ")}`,
  );
  const schemas = await snapshotSchemas(o, plan, snapStep);

  // 3. Start the scratch node and create the schema.
  await timed("scratch_start", () => scratch.start());
  await timed("schema", () => createSchemas(scratch, schemas));
  o.say(`created ${schemas.length} table(s) from the snapshot's schema`);

  // 4. Drain, stop, apply the plan.
  await timed("scratch_stop", () => scratch.stop());
  await timed("restore", () => restoreScratch(o, scratch, plan));

  // 5. Replay (Cassandra starts), checks, finish.
  await timed("replay_start", () => scratch.start());
  o.say(`scratch node replayed to ${plan.cutoff.value} UTC and answers CQL`);
  await timed("checks", () => runChecks(o, scratch, plan, p));
  await timed("finish", async () => {
    await finishRestore({
      cassandraConf: scratch.paths.cassandraConf,
      isNodeRunning: () => scratch.isRunning(),
      say: (l) => o.say(`  ${l}`),
      dryRun: false,
    });
    await scratch.stop();
  });
}

/** 2. The plan, scoped to user tables so that the replay list keeps the source's system mutations out. */
async function drillPlan(o: DrillOptions, version: string, p: DrillProgress): Promise<RestorePlan> {
  let keyspaces = o.keyspaces;
  let tables = o.tables;
  if (!keyspaces?.length && !tables?.length) {
    const probe = await o.plan({ targetVersion: version });
    tables = probe.scope.tables.filter((t) => !SYSTEM_KEYSPACES.has(t.keyspace)).map(qualified);
    if (tables.length === 0)
      throw new PitrError(
        "E_PLAN_REFUSED",
        "the snapshot to restore from holds no user tables: nothing to drill",
        { hint: "snapshot user keyspaces (cassandra-pitr snapshot KEYSPACE), or name --keyspace/--table" },
      );
    keyspaces = undefined;
  }
  const plan = await o.plan({ keyspaces, tables, targetVersion: version });
  p.plan = plan;
  if (plan.scope.kind === "node" || plan.jvmOptions.length === 0)
    throw new PitrError("E_INTERNAL", "the drill plan has no replay list");
  return plan;
}

/** Each table's schema from the snapshot's manifest (WITH ID, so replayed mutations match the table). */
async function snapshotSchemas(
  o: DrillOptions,
  plan: RestorePlan,
  snapStep: SnapshotStep,
): Promise<(TableRef & { cql: string })[]> {
  const stored = (await listSnapshots(o.backend, o.identity, { signal: o.signal })).find(
    (x) =>
      x.manifest.tag === snapStep.tag && Date.parse(x.manifest.snapshot_time) === snapStep.snapshotTimeMs,
  );
  if (!stored)
    throw new PitrError("E_NOT_FOUND", `snapshot '${snapStep.tag}' has no manifest in the archive`);
  return plan.scope.tables.map((t) => {
    const entry = stored.manifest.tables.find((m) => m.keyspace === t.keyspace && m.table === t.table);
    if (!entry?.schema_cql)
      throw new PitrError("E_NOT_FOUND", `snapshot '${snapStep.tag}' records no schema for ${qualified(t)}`, {
        hint: "the drill creates each table from the snapshot's schema.cql",
      });
    if (!/WITH\s+ID\s*=/i.test(entry.schema_cql))
      throw new PitrError(
        "E_PLAN_REFUSED",
        `the schema of ${qualified(t)} in snapshot '${snapStep.tag}' has no WITH ID; replayed mutations would not match the table`,
      );
    return { ...t, cql: entry.schema_cql };
  });
}

async function createSchemas(
  scratch: ScratchNode,
  schemas: readonly (TableRef & { cql: string })[],
): Promise<void> {
  const session = await scratch.connect();
  try {
    for (const ks of [...new Set(schemas.map((t) => t.keyspace))]) {
      await session.execute(
        `CREATE KEYSPACE IF NOT EXISTS ${ident(ks)} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      );
    }
    for (const t of schemas) for (const stmt of splitStatements(t.cql)) await session.execute(stmt);
  } finally {
    await session.close();
  }
}

async function restoreScratch(o: DrillOptions, scratch: ScratchNode, plan: RestorePlan): Promise<void> {
  await executeRestore({
    plan,
    backend: o.backend,
    archiveUrl: o.archiveUrl,
    identity: o.identity,
    paths: scratch.paths,
    restoreDir: join(scratch.dir, "pitr-restore"),
    restoreCommand: o.restoreCommand,
    stubs: true,
    dryRun: false,
    isNodeRunning: () => scratch.isRunning(),
    say: (l) => o.say(`  ${l}`),
    now: o.now(),
    parallelism: o.parallelism,
    signal: o.signal,
  });
}

/** The CQL checks (default: a count of each table in scope), then the expectations on row counts. */
async function runChecks(
  o: DrillOptions,
  scratch: ScratchNode,
  plan: RestorePlan,
  p: DrillProgress,
): Promise<void> {
  const defaults = plan.scope.tables.map((t) => countQuery(t.keyspace, t.table));
  const session = await scratch.connect();
  try {
    for (const cql of o.checks.length > 0 ? o.checks : defaults) {
      const r = await runCheck(session, cql);
      p.checks.push(r);
      o.say(
        `  [${r.status}] ${cql}: ${r.error ?? (r.count !== null ? `count ${r.count}` : `${r.row_count} row(s)`)}`,
      );
    }
    for (const e of o.expectations) {
      const cql = countQuery(e.keyspace, e.table);
      const r = p.checks.find((c) => c.cql === cql && c.count !== null) ?? (await runCheck(session, cql));
      const ok = r.count !== null && compare(r.count, e.op, e.value);
      p.expectations.push({
        expect: e.raw,
        cql,
        actual: r.count,
        status: ok ? "passed" : "failed",
        error: r.error ?? (r.count === null ? "the query returned no count" : null),
      });
      o.say(`  [${ok ? "passed" : "failed"}] expect ${e.raw}: ${r.count ?? r.error}`);
    }
  } finally {
    await session.close();
  }
}

/** The evidence document of a drill run (pure): passed only when it completed and every check and expectation passed. */
export function drillEvidence(
  o: Pick<DrillOptions, "at" | "identity" | "archiveUrl" | "now">,
  ranAt: number,
  p: DrillProgress,
  scratch: DrillEvidenceDoc["scratch"],
  failure: unknown,
): DrillEvidenceDoc {
  const { checks, expectations, plan } = p;
  const failedChecks = checks.filter((c) => c.status === "failed");
  const failedExpect = expectations.filter((e) => e.status === "failed");
  const passed = failure === undefined && failedChecks.length === 0 && failedExpect.length === 0;
  const summary = [
    ...checks.map(
      (c) =>
        `${c.cql}: ${c.error ? `error ${c.error}` : c.count !== null ? `count ${c.count}` : `${c.row_count} row(s)`}`,
    ),
    ...expectations.map((e) => `expect ${e.expect}: ${e.actual ?? e.error} ${e.status}`),
  ];
  const version = scratch.cassandra_version;
  const details =
    failure !== undefined
      ? `drill did not complete: ${messageOf(failure)}`
      : passed
        ? `${checks.length} check(s) and ${expectations.length} expectation(s) passed on Cassandra ${version}: ${summary.join("; ")}`
        : `${failedChecks.length} check(s) and ${failedExpect.length} expectation(s) failed on Cassandra ${version}: ${summary.join("; ")}`;
  return {
    schema_version: EVIDENCE_SCHEMA_VERSION,
    kind: "restore-drill",
    ran_at: new Date(ranAt).toISOString(),
    restore_point: formatInstant(o.at),
    status: passed ? "passed" : "failed",
    details,
    node: { cluster: o.identity.cluster, node: o.identity.node },
    archive: stripCredentials(o.archiveUrl),
    tool_version: toolVersion(),
    restore_point_in_time: plan?.cutoff.value ?? null,
    plan: plan ? planSummary(plan) : null,
    scratch,
    checks,
    expectations,
    timings_ms: p.timings,
    finished_at: new Date(o.now()).toISOString(),
    error:
      failure === undefined
        ? null
        : { code: isPitrError(failure) ? failure.code : "E_INTERNAL", message: messageOf(failure) },
  };
}

function planSummary(plan: RestorePlan): NonNullable<DrillEvidenceDoc["plan"]> {
  const snapStep = plan.steps.find((x) => x.kind === "snapshot");
  return {
    snapshot: snapStep?.kind === "snapshot" ? snapStep.tag : null,
    snapshot_time: snapStep?.kind === "snapshot" ? new Date(snapStep.snapshotTimeMs).toISOString() : null,
    scope: plan.scope.tables.map(qualified),
    replay_list:
      plan.jvmOptions
        .find((j) => j.startsWith("-Dcassandra.replayList="))
        ?.slice("-Dcassandra.replayList=".length) ?? null,
    segments: plan.steps.filter((x) => x.kind === "segment").length,
    incrementals: plan.steps.filter((x) => x.kind === "incremental").length,
    bytes: plan.bytes,
    warnings: [...plan.warnings],
  };
}

/** Written once through the storage front, unless the drill was interrupted or never got past its own setup. */
async function storeEvidence(
  o: DrillOptions,
  key: string,
  evidence: DrillEvidenceDoc,
  failure: unknown,
): Promise<void> {
  const aborted = o.signal?.aborted === true;
  const setupError = isPitrError(failure) && ["E_USAGE", "E_CONFIG", "E_BAD_TIME"].includes(failure.code);
  if (aborted || setupError) return;
  await putDocumentIfAbsent(o.backend, key, jsonDocument(evidence), {
    signal: o.signal,
    // One key per drill run (its start time): a taken key is never another drill's to replace.
    conflict: (detail) =>
      new PitrError("E_ARCHIVE_CONFLICT", `drill evidence '${key}' was not recorded: ${detail}`, {
        hint: "run the drill again",
      }),
  });
  o.say(`evidence: ${key} (${evidence.status})`);
}

// ---------------------------------------------------------------------------------------------
// The harness-backed scratch node (scripts/cassandra-node.sh)

/** The harness next to the installed code (dist/../scripts), or `explicit`; a clear error when absent. */
export function findHarness(explicit?: string): string {
  const path = explicit
    ? resolve(explicit)
    : join(dirname(fileURLToPath(import.meta.url)), "../../scripts/cassandra-node.sh");
  if (!existsSync(path)) {
    throw new PitrError(
      "E_CONFIG",
      `the restore drill needs the Cassandra node harness, and '${path}' does not exist`,
      {
        hint: "run the drill from a source checkout of cassandra-pitr (scripts/cassandra-node.sh), or pass --harness PATH",
      },
    );
  }
  return path;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/** Reserves a port base (native, storage, JMX) by an atomic mkdir under `portsDir`, as the test helpers do. */
export async function reservePortBase(
  portsDir: string,
): Promise<{ base: number; release: () => Promise<void> }> {
  await mkdir(portsDir, { recursive: true });
  for (let base: number = SCRATCH_PORTS.first; base <= SCRATCH_PORTS.last; base += SCRATCH_PORTS.step) {
    const lock = join(portsDir, String(base));
    try {
      await mkdir(lock);
    } catch {
      continue;
    }
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) {
      return { base, release: () => rm(lock, { recursive: true, force: true }) };
    }
    await rm(lock, { recursive: true, force: true });
  }
  throw new PitrError(
    "E_NODE_STATE",
    `no free port base for the scratch node between ${SCRATCH_PORTS.first} and ${SCRATCH_PORTS.last}`,
    { hint: "stop other scratch or test nodes, then retry" },
  );
}

export interface HarnessOptions {
  readonly harness: string;
  readonly env: NodeJS.ProcessEnv;
  /** Parent of the scratch directory (default: the system temp directory). */
  readonly parentDir?: string | undefined;
  readonly say: (line: string) => void;
}

export async function createHarnessScratch(o: HarnessOptions): Promise<ScratchNode> {
  const ports = await reservePortBase(join(dirname(dirname(o.harness)), ".tmp/ports"));
  // Replay runs before CQL opens: give a long archive time to replay.
  const env = { ...o.env, CASSANDRA_START_TIMEOUT: o.env["CASSANDRA_START_TIMEOUT"] ?? "1800" };
  let dir: string;
  try {
    dir = await mkdtemp(join(o.parentDir ?? tmpdir(), `cassandra-pitr-drill-${ports.base}-`));
    if (dir.includes(" "))
      throw new UsageError(`scratch directory '${dir}' contains a space`, {
        hint: "Cassandra splits restore_directories and restore_command on spaces; set TMPDIR to a path without spaces",
      });
  } catch (e) {
    await ports.release();
    throw e;
  }
  const script = await harnessScript(o.harness, env, dir);
  try {
    await script("init", dir, "--port-base", String(ports.base));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    await ports.release();
    throw e;
  }
  const nodeEnv = await readFile(join(dir, "node.env"), "utf8");
  const sessions = new Set<{ shutdown(): Promise<void> }>();
  return {
    dir,
    portBase: ports.base,
    cassandraVersion: /^CASSANDRA_VERSION=(.+)$/m.exec(nodeEnv)?.[1]?.trim() ?? "5.0.9",
    paths: {
      dataDir: join(dir, "data"),
      commitlogDir: join(dir, "commitlog"),
      cassandraConf: join(dir, "conf"),
    },
    start: async () => {
      await script("start", dir);
    },
    stop: async () => {
      await script("stop", dir);
    },
    isRunning: async () =>
      await script("nodetool", dir, "info").then(
        () => true,
        () => false,
      ),
    connect: () => connectScratch(ports.base, sessions),
    dispose: async (keep: boolean) => {
      for (const s of sessions) await s.shutdown().catch(() => undefined);
      if ((await script("status", dir).catch(() => "")).startsWith("running"))
        await script("stop", dir).catch(() => script("kill", dir));
      await ports.release();
      if (!keep) await rm(dir, { recursive: true, force: true });
      else o.say(`scratch node kept in '${dir}'`);
    },
  };
}

/** Runs the harness with `args`; its stdout, or a failure naming the command and the tail of its output. */
async function harnessScript(
  harness: string,
  env: NodeJS.ProcessEnv,
  dir: string,
): Promise<(...args: string[]) => Promise<string>> {
  const { execa } = await import("execa");
  return async (...args) => {
    const r = await execa("bash", [harness, ...args], {
      env,
      extendEnv: false,
      reject: false,
      all: true,
      stdin: "ignore",
    });
    if (r.exitCode !== 0) {
      const tail = String(r.all ?? "")
        .split("\n")
        .filter((l) => l.trim())
        .slice(-8)
        .join("\n");
      throw new PitrError(
        "E_NODE_STATE",
        `scratch node: cassandra-node.sh ${args[0]} failed (exit ${r.exitCode}): ${tail}`,
        { hint: `see '${join(dir, "logs/system.log")}' (keep it with --keep-scratch)` },
      );
    }
    return String(r.stdout ?? "");
  };
}

/** A CQL session on the scratch node, remembered in `sessions` so that dispose can close it. */
async function connectScratch(
  port: number,
  sessions: Set<{ shutdown(): Promise<void> }>,
): Promise<CqlSession> {
  const { default: cassandra } = await import("cassandra-driver");
  const client = new cassandra.Client({
    contactPoints: [`127.0.0.1:${port}`],
    localDataCenter: "datacenter1",
    socketOptions: { readTimeout: 120_000 },
  });
  await client.connect();
  sessions.add(client);
  return {
    execute: async (cql: string) =>
      (await client.execute(cql, [], { prepare: false })).rows as unknown as Record<string, unknown>[],
    close: async () => {
      sessions.delete(client);
      await client.shutdown();
    },
  };
}
