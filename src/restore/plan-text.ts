/** A restore plan as the CLI prints it: text for people, JSON (bigints as strings) for scripts. */
import type { RestorePlan } from "./plan.js";
import { formatInstant } from "./time.js";

export function renderPlanJson(plan: RestorePlan): string {
  return JSON.stringify(plan, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

export function renderPlanText(p: RestorePlan): string {
  const lines = [
    `restore plan for ${p.node.cluster}/${p.node.node} at ${formatInstant(p.at)} (Cassandra ${p.targetVersion}, precision ${p.precision})`,
    `scope: ${p.scope.kind === "node" ? "whole node" : p.scope.tables.map((t) => `${t.keyspace}.${t.table}`).join(", ")}`,
    `cutoff: ${p.cutoff.statement}`,
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
