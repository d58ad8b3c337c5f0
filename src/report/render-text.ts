/** Plain text rendering for a terminal. */
import { bytes, dur, exposureLine, iso, partialsLine, pct, STATUS_WORD } from "./format.js";
import type { ReportModel } from "./model.js";

export function renderText(model: ReportModel): string {
  const lines: string[] = [];
  lines.push(
    `compliance report ${iso(model.window.fromAt)} .. ${iso(model.window.toAt)}, target RPO ${dur(model.targetRpoMs)}: ${STATUS_WORD[model.status]}`,
  );
  for (const c of model.checks) lines.push(`  [${c.status}] ${c.id}: ${c.details}`);
  for (const c of model.clusters) {
    lines.push("");
    lines.push(
      `cluster ${c.cluster} (${c.nodes.length} nodes; a cluster restore needs every node, so its RPO is the worst node's at each instant):`,
    );
    lines.push(
      `  RPO: ${pct(c.withinTargetShare)} of the window within ${dur(model.targetRpoMs)}; max ${dur(c.maxRpoMs)}; at the end ${dur(c.endRpoMs)}; ${c.breachWindows.length} breach window(s), ${dur(c.breachMs)} in total`,
    );
    for (const w of c.breachWindows.slice(0, 5))
      lines.push(
        `    ${iso(w.startAt)} .. ${iso(w.endAt)} (${dur(w.durationMs)}): above target on ${w.nodes.join(", ")}`,
      );
  }
  for (const n of model.nodes) {
    lines.push("");
    lines.push(`node ${n.cluster}/${n.node}: ${STATUS_WORD[n.status]}`);
    lines.push(
      `  RPO: ${pct(n.rpo.withinTargetShare)} of the window within ${dur(n.rpo.targetMs)}; max ${dur(n.rpo.maxRpoMs)}; at the end ${dur(n.rpo.endRpoMs)}; ${n.rpo.breachWindows} breach window(s), ${dur(n.rpo.breachMs)} in total`,
    );
    for (const w of n.rpo.worst)
      lines.push(
        `    ${iso(w.startAt)} .. ${iso(w.endAt)} (${dur(w.durationMs)}), peak ${dur(w.peakRpoMs)}: ${w.cause}: ${w.details}`,
      );
    lines.push(
      `  restorable: ${n.restorable ? `${iso(n.restorable.earliestAt)} .. ${iso(n.restorable.latestAt)} (snapshot '${n.restorable.snapshot}')` : "nothing"}`,
    );
    if (n.partials) lines.push(`  partial uploads: ${partialsLine(n.partials)}`);
    if (n.exposure) {
      lines.push(`  on this node's disk, not in the archive: ${exposureLine(n.exposure)}`);
      for (const e of n.exposure.segments)
        lines.push(
          `    ${e.name}: ${bytes(e.bytes)}, writes ${e.fromAt === null ? "of any time" : iso(e.fromAt)} .. ${iso(e.toAt)}`,
        );
    }
    lines.push(
      `  newest: snapshot ${age(n.ages.snapshotMs)}, incremental ${age(n.ages.incrementalMs)}, segment ${age(n.ages.segmentMs)}`,
    );
    lines.push(
      `  archive lag: p50 ${dur(n.archiveLag.p50Ms)}, p95 ${dur(n.archiveLag.p95Ms)}, max ${dur(n.archiveLag.maxMs)} over ${n.archiveLag.segments} segment(s)`,
    );
    lines.push(
      `  storage: segments ${bytes(n.storage.segmentBytes)} (+${bytes(n.storage.segmentBytesPerDay)}/day), snapshots ${bytes(n.storage.snapshotBytes)}, incrementals ${bytes(n.storage.incrementalBytes)}`,
    );
    const local = n.storage.localSnapshots;
    if (local)
      lines.push(
        `  local disk held only by snapshots: ${bytes(local.onlySnapshotsBytes)} (shared with live sstables: ${bytes(local.sharedBytes)})${local.tags[0] ? `; clearing '${local.tags[0].tag}' frees ${bytes(local.tags[0].freedIfClearedBytes)}` : ""}`,
      );
    for (const c of n.checks) lines.push(`  [${c.status}] ${c.id}: ${c.details}`);
  }
  lines.push("");
  lines.push(
    `tool ${model.evidence.toolVersion}, generated ${iso(model.evidence.generatedAt)}, archive ${model.evidence.archive}, sha256 ${model.evidence.digest}`,
  );
  return lines.join("\n") + "\n";
}

function age(ms: number | null): string {
  return ms === null ? "none" : `${dur(ms)} ago`;
}
