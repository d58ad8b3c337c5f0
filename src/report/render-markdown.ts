/** Markdown rendering, for tickets and audit records. */
import { bytes, dur, exposureLine, iso, partialsLine, pct, STATUS_WORD } from "./format.js";
import type { NodeReport, ReportModel } from "./model.js";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const age = (ms: number | null) => (ms === null ? "none" : `${dur(ms)} ago`);

export function renderMarkdown(model: ReportModel): string {
  const out: string[] = [];
  out.push(`# Recovery point report: ${STATUS_WORD[model.status]}`);
  out.push("");
  out.push(
    `Window ${iso(model.window.fromAt)} .. ${iso(model.window.toAt)}, target RPO **${dur(model.targetRpoMs)}**, ${model.nodes.length} node(s).`,
  );
  out.push("");
  out.push("| Node | Status | Within target | Max RPO | RPO at end | Breach windows | Restorable window |");
  out.push("|---|---|---|---|---|---|---|");
  for (const n of model.nodes) {
    const window = n.restorable ? `${iso(n.restorable.earliestAt)} .. ${iso(n.restorable.latestAt)}` : "none";
    out.push(
      `| ${cell(`${n.cluster}/${n.node}`)} | ${STATUS_WORD[n.status]} | ${pct(n.rpo.withinTargetShare)} | ${dur(n.rpo.maxRpoMs)} | ${dur(n.rpo.endRpoMs)} | ${n.rpo.breachWindows} | ${window} |`,
    );
  }
  for (const c of model.clusters) {
    out.push("");
    out.push(
      `Cluster **${cell(c.cluster)}** (${c.nodes.length} nodes; its RPO at each instant is the worst node's, since a cluster restore needs every node): ${pct(c.withinTargetShare)} of the window within target, max ${dur(c.maxRpoMs)}, at the end ${dur(c.endRpoMs)}, ${c.breachWindows.length} breach window(s) (${dur(c.breachMs)}).`,
    );
  }
  out.push("");
  out.push("## Checks");
  out.push("");
  out.push("| Check | Status | Details |");
  out.push("|---|---|---|");
  for (const c of model.checks) out.push(`| ${c.id} | ${c.status} | ${cell(c.details)} |`);
  for (const n of model.nodes) out.push(...nodeSection(n));
  out.push("");
  out.push("## Evidence");
  out.push("");
  out.push(`- Tool: cassandra-pitr ${model.evidence.toolVersion}`);
  out.push(`- Generated: ${iso(model.evidence.generatedAt)}`);
  out.push(`- Archive: ${model.evidence.archive}`);
  const i = model.evidence.inputs;
  out.push(
    `- Inputs: ${i.nodes.join(", ")}; ${i.segmentsRead} segments (${i.archiveTimesKnown} with archive times), ${i.snapshotsRead} snapshots, ${i.incrementalsRead} incrementals`,
  );
  out.push(`- Content sha256: \`${model.evidence.digest}\``);
  return out.join("\n") + "\n";
}

/** One node's section: its figures, worst windows, checks and drills. */
/** Partial uploads, and (run on the node) the segments on its disk that the archive lacks. */
function partialAndExposureLines(n: NodeReport): string[] {
  const out: string[] = [];
  if (n.partials) out.push(`- Partial uploads: ${cell(partialsLine(n.partials))}`);
  if (n.exposure) {
    out.push(`- On this node's disk, not in the archive: ${exposureLine(n.exposure)}`);
    for (const e of n.exposure.segments)
      out.push(
        `  - \`${cell(e.name)}\`: ${bytes(e.bytes)}, writes ${e.fromAt === null ? "of any time" : iso(e.fromAt)} .. ${iso(e.toAt)}`,
      );
  }
  return out;
}

function nodeSection(n: NodeReport): string[] {
  const out: string[] = [];
  out.push("");
  out.push(`## Node ${cell(`${n.cluster}/${n.node}`)}: ${STATUS_WORD[n.status]}`);
  out.push("");
  out.push(
    `- RPO within ${dur(n.rpo.targetMs)}: ${pct(n.rpo.withinTargetShare)} of the window (${dur(n.rpo.breachMs)} above target)`,
  );
  out.push(
    `- Newest snapshot ${age(n.ages.snapshotMs)}, incremental ${age(n.ages.incrementalMs)}, segment ${age(n.ages.segmentMs)}`,
  );
  out.push(
    `- Archive lag p50 ${dur(n.archiveLag.p50Ms)}, p95 ${dur(n.archiveLag.p95Ms)}, max ${dur(n.archiveLag.maxMs)} (${n.archiveLag.segments} segments)`,
  );
  out.push(
    `- Storage: segments ${bytes(n.storage.segmentBytes)} (+${bytes(n.storage.segmentBytesPerDay)}/day), snapshots ${bytes(n.storage.snapshotBytes)}, incrementals ${bytes(n.storage.incrementalBytes)}`,
  );
  const local = n.storage.localSnapshots;
  if (local)
    out.push(
      `- Local disk held only by snapshots: ${bytes(local.onlySnapshotsBytes)} (shared with live sstables: ${bytes(local.sharedBytes)})${local.tags.map((t) => `; clearing '${t.tag}' frees ${bytes(t.freedIfClearedBytes)}`).join("")}`,
    );
  out.push(...partialAndExposureLines(n));
  out.push(
    `- ${n.counts.segments} segments in ${n.counts.runs} run(s), ${n.counts.gaps} gap(s), ${n.counts.snapshots} snapshot(s), ${n.counts.incrementals} incremental(s)`,
  );
  if (n.rpo.worst.length > 0) {
    out.push("");
    out.push("Worst windows:");
    out.push("");
    out.push("| From | To | Duration | Peak RPO | Cause | Details |");
    out.push("|---|---|---|---|---|---|");
    for (const w of n.rpo.worst)
      out.push(
        `| ${iso(w.startAt)} | ${iso(w.endAt)} | ${dur(w.durationMs)} | ${dur(w.peakRpoMs)} | ${w.cause} | ${cell(w.details)} |`,
      );
  }
  out.push("");
  out.push("| Check | Status | Details |");
  out.push("|---|---|---|");
  for (const c of n.checks) out.push(`| ${c.id} | ${c.status} | ${cell(c.details)} |`);
  if (n.drills.length > 0) {
    out.push("");
    out.push("Restore drills:");
    out.push("");
    for (const d of n.drills)
      out.push(`- ${iso(d.ranAt)}: restore to ${iso(d.restorePointAt)} ${d.status} (${cell(d.details)})`);
  }
  return out;
}
