/** `cassandra-pitr plan --at T [--keyspace ks] [--table ks.t] [--grace 3h] [--target-version V] [--json]`: changes nothing. */
import { loadIncrementals, loadSnapshots } from "../../catalog/backup-source.js";
import { requireKnownNode } from "../../catalog/nodes.js";
import { readCatalog } from "../../catalog/read.js";
import { parseDuration } from "../../config/duration.js";
import { EXIT } from "../../errors/codes.js";
import { listBranches } from "../../restore/branches.js";
import type { RestorePlan } from "../../restore/plan.js";
import { planRestore } from "../../restore/planner.js";
import { formatInstant, parseInstant } from "../../restore/time.js";
import type { Config } from "../../config/schema.js";
import type { Backend } from "../../storage/types.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext } from "../main.js";

/** Default late-arrival grace: Cassandra's default max_hint_window (3h). */
export const DEFAULT_GRACE = "3h";

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : undefined);

export async function run(ctx: CliContext): Promise<number> {
  const { config, backend } = await openArchive(ctx);
  try {
    const plan = await buildPlan(ctx, config, backend);
    ctx.out(ctx.args["json"] ? renderPlanJson(plan) : renderPlanText(plan, ctx.args["acceptCassandraFilter"] === true));
    return EXIT.OK;
  } finally {
    await backend.close();
  }
}

/** The plan for this invocation's --at and scope (shared by plan and restore). */
export async function buildPlan(ctx: CliContext, config: Config, backend: Backend, restoreCommand?: string): Promise<RestorePlan> {
    const identity = identityOf(config);
    const now = Date.now();
    const at = parseInstant(String(ctx.args["at"]), { now });
    const graceMs = parseDuration(String(ctx.args["grace"] ?? DEFAULT_GRACE), "--grace");
    await requireKnownNode(backend, identity, ctx.signal);
    // A restore point in the future is refused by the planner; the catalog is read up to now, so
    // that such a point never lists day folders up to a far year.
    const fromMs = Math.min(at.epochMs, now);
    const catalog = await readCatalog(backend, identity, { fromMs, toMs: fromMs + graceMs, loadSnapshots, loadIncrementals, signal: ctx.signal });
    const keyspaces = strings(ctx.args["keyspace"]);
    const tables = strings(ctx.args["table"]);
    const targetVersion = typeof ctx.args["targetVersion"] === "string" ? ctx.args["targetVersion"] : config.cassandraVersion;
    const branches = await listBranches(backend, identity, ctx.signal);
    return planRestore(catalog, {
      branches,
      at: at.epochMicros,
      now,
      graceMs,
      precision: "MICROSECONDS",
      archiveUrl: backend.displayLocation,
      scope: { ...(keyspaces ? { keyspaces } : {}), ...(tables ? { tables } : {}) },
      ...(targetVersion ? { targetVersion } : {}),
      ...(restoreCommand ? { restoreCommand } : {}),
    });
}

export function renderPlanJson(plan: RestorePlan): string {
  return JSON.stringify(plan, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** What the restore does to each segment's mutations, in the plan's words. */
export function replayFilterLine(p: RestorePlan, acceptCassandraFilter: boolean): string {
  const base = `replay filter: every mutation of every segment is read before Cassandra sees it; those with any timestamp after ${p.cutoff.value} UTC are withheld (row deletions included, which Cassandra's own filter would replay)`;
  return acceptCassandraFilter
    ? `${base}; --accept-cassandra-filter: mutations of tables the base snapshot does not describe are left to Cassandra's own filter`
    : `${base}; a segment holding mutations of a table the base snapshot does not describe makes the restore refuse`;
}

export function renderPlanText(p: RestorePlan, acceptCassandraFilter = false): string {
  const lines = [
    `restore plan for ${p.node.cluster}/${p.node.node} at ${formatInstant(p.at)} (Cassandra ${p.targetVersion}, precision ${p.precision})`,
    `scope: ${p.scope.kind === "node" ? "whole node" : p.scope.tables.map((t) => `${t.keyspace}.${t.table}`).join(", ")}`,
    `cutoff: ${p.cutoff.statement}`,
    replayFilterLine(p, acceptCassandraFilter),
    "",
    "steps:",
  ];
  for (const s of p.steps) {
    const what = s.kind === "snapshot" ? `snapshot ${s.tag}` : s.kind === "incremental" ? `incremental ${s.keyspace}.${s.table}/${s.sstable}` : `segment ${s.name}`;
    lines.push(`  ${what.padEnd(48)} ${String(s.bytes).padStart(12)} B  ${s.reason}`);
  }
  for (const s of p.skipped) lines.push(`  skip ${s.name}: ${s.reason}`);
  lines.push(`to fetch: ${p.bytes.total} B (snapshot ${p.bytes.snapshot}, incrementals ${p.bytes.incrementals}, segments ${p.bytes.segments})`, "");
  lines.push("commitlog_archiving.properties:", ...p.properties.map((l) => `  ${l}`));
  if (p.jvmOptions.length > 0) lines.push("JVM options:", ...p.jvmOptions.map((o) => `  ${o}`));
  for (const w of p.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
