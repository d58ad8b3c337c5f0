/** A restore plan as the CLI prints it: text for people, JSON (bigints as strings) for scripts. */
import type { RestorePlan } from "./plan.js";
import { formatInstant } from "./time.js";

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
    const what =
      s.kind === "snapshot"
        ? `snapshot ${s.tag}`
        : s.kind === "incremental"
          ? `incremental ${s.keyspace}.${s.table}/${s.sstable}`
          : `segment ${s.name}`;
    lines.push(`  ${what.padEnd(48)} ${String(s.bytes).padStart(12)} B  ${s.reason}`);
  }
  for (const s of p.skipped) lines.push(`  skip ${s.name}: ${s.reason}`);
  for (const tr of p.truncations ?? []) {
    lines.push(
      `truncated: ${tr.keyspace}.${tr.table} (id ${tr.tableId}) at ${new Date(tr.truncatedAtMs).toISOString()}, at or before the restore point: no sstable from before it is placed, and its mutations stamped before ${formatInstant(tr.floorMicros)} are withheld`,
    );
  }
  for (const c of p.schemaChanges ?? []) lines.push(`schema: ${c.statement}`);
  lines.push(
    `to fetch: ${p.bytes.total} B (snapshot ${p.bytes.snapshot}, incrementals ${p.bytes.incrementals}, segments ${p.bytes.segments})`,
    "",
  );
  lines.push("commitlog_archiving.properties:", ...p.properties.map((l) => `  ${l}`));
  if (p.jvmOptions.length > 0) lines.push("JVM options:", ...p.jvmOptions.map((o) => `  ${o}`));
  for (const w of p.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
