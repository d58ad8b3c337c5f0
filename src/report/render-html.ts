/**
 * One self-contained HTML page (no scripts, fonts, images or styles from elsewhere): per node the
 * figures, an inline SVG chart of the RPO over time against the target, and an SVG timeline of the
 * segments (count and archive lag per bucket) with gaps and snapshots marked.
 */
import { bytes, dur, exposureLine, iso, partialsLine, pct, STATUS_WORD } from "./format.js";
import type { NodeReport, ReportModel } from "./model.js";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const W = 1000;
const PAD_L = 64;
const PAD_R = 16;
const NICE_TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * 60_000);
const COLOR = { ok: "#1a7f37", warning: "#b35900", failure: "#c62828" } as const;

function slug(n: NodeReport): string {
  return `${n.cluster}-${n.node}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

function timeAxis(model: ReportModel, y: number): string {
  const { fromAt, toAt } = model.window;
  const x = (t: number) => PAD_L + ((t - fromAt) / (toAt - fromAt)) * (W - PAD_L - PAD_R);
  const ticks: string[] = [];
  for (let i = 0; i <= 6; i++) {
    const t = fromAt + ((toAt - fromAt) * i) / 6;
    const text = iso(t).slice(0, 16).replace("T", " ");
    ticks.push(
      `<line x1="${x(t).toFixed(1)}" y1="${y}" x2="${x(t).toFixed(1)}" y2="${y + 4}" stroke="#555"/><text x="${x(t).toFixed(1)}" y="${y + 16}" font-size="10" text-anchor="${i === 0 ? "start" : i === 6 ? "end" : "middle"}">${text}</text>`,
    );
  }
  return `<line x1="${PAD_L}" y1="${y}" x2="${W - PAD_R}" y2="${y}" stroke="#555"/>${ticks.join("")}`;
}

function rpoChart(model: ReportModel, n: NodeReport): string {
  const H = 240;
  const top = 12;
  const bottom = H - 28;
  const { fromAt, toAt, stepMs } = model.window;
  const x = (t: number) => PAD_L + ((t - fromAt) / (toAt - fromAt)) * (W - PAD_L - PAD_R);
  const finite = n.series.map((p) => p.maxRpoMs).filter((v): v is number => v !== null);
  const top0 = Math.max(n.rpo.targetMs * 2, ...finite) * 1.05;
  const tick = NICE_TICKS.find((t) => top0 / t <= 5) ?? Math.ceil(top0 / 5 / 86_400_000) * 86_400_000;
  const yMax = Math.ceil(top0 / tick) * tick;
  const y = (v: number) => bottom - (v / yMax) * (bottom - top);
  const parts: string[] = [];
  for (let v = 0; v <= yMax; v += tick) {
    parts.push(
      `<line x1="${PAD_L}" y1="${y(v).toFixed(1)}" x2="${W - PAD_R}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${PAD_L - 6}" y="${(y(v) + 3).toFixed(1)}" font-size="10" text-anchor="end">${dur(v)}</text>`,
    );
  }
  // buckets: nothing restorable (red band) and above target (shaded)
  for (const p of n.series) {
    const x0 = x(p.at);
    const x1 = x(Math.min(p.at + stepMs, toAt));
    if (p.maxRpoMs === null)
      parts.push(
        `<rect class="no-restore" x="${x0.toFixed(1)}" y="${top}" width="${Math.max(0.5, x1 - x0).toFixed(1)}" height="${bottom - top}" fill="#c62828" fill-opacity="0.25"/>`,
      );
  }
  // the RPO line (max per bucket), broken where nothing was restorable
  let path = "";
  let pen = false;
  for (const p of n.series) {
    if (p.maxRpoMs === null) {
      pen = false;
      continue;
    }
    const px = x(p.at + Math.min(stepMs, toAt - p.at) / 2);
    path += `${pen ? "L" : "M"}${px.toFixed(1)},${y(p.maxRpoMs).toFixed(1)}`;
    pen = true;
  }
  parts.push(`<path class="rpo-line" d="${path}" fill="none" stroke="#1f5fbf" stroke-width="1.5"/>`);
  parts.push(
    `<line class="target-line" x1="${PAD_L}" y1="${y(n.rpo.targetMs).toFixed(1)}" x2="${W - PAD_R}" y2="${y(n.rpo.targetMs).toFixed(1)}" stroke="#c62828" stroke-dasharray="6 4"/>`,
  );
  parts.push(
    `<text x="${W - PAD_R}" y="${(y(n.rpo.targetMs) - 4).toFixed(1)}" font-size="10" fill="#c62828" text-anchor="end">target ${dur(n.rpo.targetMs)}</text>`,
  );
  for (const w of n.rpo.worst) {
    const px = x(w.peakAt);
    parts.push(
      `<g class="worst-window"><circle cx="${px.toFixed(1)}" cy="${(w.peakRpoMs === null ? top + 6 : y(w.peakRpoMs)).toFixed(1)}" r="3.5" fill="#c62828"/><title>${esc(`${w.cause}: peak ${dur(w.peakRpoMs)} at ${iso(w.peakAt)}; ${w.details}`)}</title></g>`,
    );
  }
  parts.push(timeAxis(model, bottom));
  return `<svg class="rpo-chart" id="rpo-${slug(n)}" role="img" aria-label="RPO over time for ${esc(n.node)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

function timelineChart(model: ReportModel, n: NodeReport): string {
  const H = 120;
  const top = 18;
  const bottom = H - 28;
  const { fromAt, toAt, stepMs } = model.window;
  const x = (t: number) => PAD_L + ((t - fromAt) / (toAt - fromAt)) * (W - PAD_L - PAD_R);
  const maxCount = Math.max(1, ...n.timeline.map((b) => b.segments));
  const parts: string[] = [];
  parts.push(
    `<text x="${PAD_L - 6}" y="${(bottom - 2).toFixed(1)}" font-size="10" text-anchor="end">segments</text>`,
  );
  for (const b of n.timeline) {
    const x0 = x(b.at);
    const w = Math.max(0.5, x(Math.min(b.at + stepMs, toAt)) - x0 - 0.3);
    if (b.gap)
      parts.push(
        `<rect class="gap" x="${x0.toFixed(1)}" y="${top}" width="${w.toFixed(1)}" height="${bottom - top}" fill="#c62828"><title>gap (lost segments) around ${iso(b.at)}</title></rect>`,
      );
    if (b.segments > 0) {
      const h = Math.max(2, (b.segments / maxCount) * (bottom - top - 4));
      const color = b.maxLagMs > n.rpo.targetMs ? "#e08a00" : "#2e9e4f";
      parts.push(
        `<rect class="segments" x="${x0.toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${b.segments} segment(s) closed from ${iso(b.at)}, max archive lag ${dur(b.maxLagMs)}</title></rect>`,
      );
    }
  }
  for (const s of n.snapshots) {
    if (s.at < fromAt || s.at > toAt) continue;
    const px = x(s.at);
    parts.push(
      `<g class="snapshot"><path d="M${px.toFixed(1)},${top - 2}l-5,-9h10z" fill="#1f5fbf"/><line x1="${px.toFixed(1)}" y1="${top}" x2="${px.toFixed(1)}" y2="${bottom}" stroke="#1f5fbf" stroke-dasharray="2 2"/><title>snapshot '${esc(s.tag)}' ${iso(s.at)}</title></g>`,
    );
  }
  parts.push(timeAxis(model, bottom));
  return `<svg class="timeline-chart" id="timeline-${slug(n)}" role="img" aria-label="segment timeline for ${esc(n.node)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

function checksTable(checks: ReportModel["checks"]): string {
  return `<table class="checks"><tr><th>Check</th><th>Status</th><th>Details</th></tr>${checks
    .map(
      (c) =>
        `<tr data-check="${esc(c.id)}"><td>${esc(c.id)}</td><td class="status-${c.status}">${c.status}</td><td>${esc(c.details)}</td></tr>`,
    )
    .join("")}</table>`;
}

/** The segments on the node's disk that the archive lacks, one row each (only when the report ran on the node). */
function exposureTable(n: NodeReport): string {
  if (!n.exposure || n.exposure.segments.length === 0) return "";
  return `<h3>Exposure: on this node's disk, not in the archive</h3><table class="exposure"><tr><th>Segment</th><th>Bytes</th><th>Writes from</th><th>Writes until</th></tr>${n.exposure.segments
    .map(
      (e) =>
        `<tr><td>${esc(e.name)}</td><td>${bytes(e.bytes)}</td><td>${e.fromAt === null ? "any time" : iso(e.fromAt)}</td><td>${iso(e.toAt)}</td></tr>`,
    )
    .join("")}</table>`;
}

function nodeSection(model: ReportModel, n: NodeReport): string {
  const age = (ms: number | null) => (ms === null ? "none" : `${dur(ms)} ago`);
  const figures: [string, string, string][] = [
    ["within-target", "RPO within target", pct(n.rpo.withinTargetShare)],
    ["max-rpo", "Max RPO", dur(n.rpo.maxRpoMs)],
    ["end-rpo", "RPO at end of window", dur(n.rpo.endRpoMs)],
    ["breach", "Time above target", `${dur(n.rpo.breachMs)} in ${n.rpo.breachWindows} window(s)`],
    [
      "restorable",
      "Restorable window",
      n.restorable ? `${iso(n.restorable.earliestAt)} .. ${iso(n.restorable.latestAt)}` : "none",
    ],
    [
      "ages",
      "Newest snapshot / incremental / segment",
      `${age(n.ages.snapshotMs)} / ${age(n.ages.incrementalMs)} / ${age(n.ages.segmentMs)}`,
    ],
    [
      "lag",
      "Archive lag p50 / p95 / max",
      `${dur(n.archiveLag.p50Ms)} / ${dur(n.archiveLag.p95Ms)} / ${dur(n.archiveLag.maxMs)}`,
    ],
    [
      "storage",
      "Storage (segments, snapshots, incrementals)",
      `${bytes(n.storage.segmentBytes)} (+${bytes(n.storage.segmentBytesPerDay)}/day), ${bytes(n.storage.snapshotBytes)}, ${bytes(n.storage.incrementalBytes)}`,
    ],
    ...(n.partials
      ? [
          ["partials", "Partial uploads (counted in the RPO)", partialsLine(n.partials)] as [
            string,
            string,
            string,
          ],
        ]
      : []),
    ...(n.exposure
      ? [
          ["exposure", "On this node's disk, not in the archive", exposureLine(n.exposure)] as [
            string,
            string,
            string,
          ],
        ]
      : []),
    ...(n.storage.localSnapshots
      ? [
          [
            "local-snapshots",
            "Local disk held only by snapshots",
            `${bytes(n.storage.localSnapshots.onlySnapshotsBytes)} (shared: ${bytes(n.storage.localSnapshots.sharedBytes)})`,
          ] as [string, string, string],
        ]
      : []),
  ];
  const worst =
    n.rpo.worst.length === 0
      ? "<p>No breach of the target in the window.</p>"
      : `<table class="worst"><tr><th>From</th><th>To</th><th>Duration</th><th>Peak RPO</th><th>Cause</th><th>Details</th></tr>${n.rpo.worst
          .map(
            (w) =>
              `<tr><td>${iso(w.startAt)}</td><td>${iso(w.endAt)}</td><td>${dur(w.durationMs)}</td><td>${dur(w.peakRpoMs)}</td><td class="cause">${w.cause}</td><td>${esc(w.details)}</td></tr>`,
          )
          .join("")}</table>`;
  const drills =
    n.drills.length === 0
      ? ""
      : `<h3>Restore drills</h3><ul>${n.drills.map((d) => `<li>${iso(d.ranAt)}: restore to ${iso(d.restorePointAt)} <b>${d.status}</b>: ${esc(d.details)}</li>`).join("")}</ul>`;
  return `<section class="node" id="node-${slug(n)}"><h2>${esc(`${n.cluster}/${n.node}`)} <span class="badge status-${n.status}">${STATUS_WORD[n.status]}</span></h2>
<dl class="figures">${figures.map(([id, k, v]) => `<div data-figure="${id}"><dt>${k}</dt><dd>${esc(v)}</dd></div>`).join("")}</dl>
<h3>RPO over time</h3>${rpoChart(model, n)}
<p class="legend"><span style="color:#1f5fbf">━</span> highest RPO per ${dur(model.window.stepMs)} · <span style="color:#c62828">╌</span> target · <span style="background:#c6282840">&nbsp;&nbsp;</span> nothing restorable · ● worst windows</p>
<h3>Segment timeline</h3>${timelineChart(model, n)}
<p class="legend"><span style="color:#2e9e4f">■</span> segments closed (height: count) · <span style="color:#e08a00">■</span> archive lag above target · <span style="color:#c62828">■</span> gap · <span style="color:#1f5fbf">▼</span> snapshot</p>
${exposureTable(n)}<h3>Worst windows</h3>${worst}
<h3>Checks</h3>${checksTable(n.checks)}${drills}</section>`;
}

export function renderHtml(model: ReportModel): string {
  const e = model.evidence;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cassandra-pitr recovery point report ${iso(model.window.fromAt)} .. ${iso(model.window.toAt)}</title>
<meta name="generator" content="cassandra-pitr ${esc(e.toolVersion)}">
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1b1b;max-width:1060px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-top:1px solid #ddd;padding-top:16px}h3{font-size:14px;margin:16px 0 4px}
table{border-collapse:collapse;font-size:12px;width:100%}td,th{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f5f5f5}
.status-ok{color:${COLOR.ok};font-weight:600}.status-warning{color:${COLOR.warning};font-weight:600}.status-failure{color:${COLOR.failure};font-weight:600}
.badge{font-size:12px;border:1px solid currentColor;border-radius:4px;padding:1px 6px;margin-left:8px}
dl.figures{display:grid;grid-template-columns:repeat(4,1fr);gap:8px;margin:8px 0}dl.figures div{background:#f7f7f9;border-radius:6px;padding:6px 8px}
dt{font-size:11px;color:#555}dd{margin:2px 0 0;font-size:13px;font-weight:600}
svg{display:block;font-family:inherit;background:#fff}.legend{font-size:11px;color:#444;margin:2px 0 8px}
footer{margin-top:32px;font-size:11px;color:#555;border-top:1px solid #ddd;padding-top:8px}code{font-size:11px}
</style></head><body>
<h1>Recovery point report <span class="badge status-${model.status}" id="overall-status">${STATUS_WORD[model.status]}</span></h1>
<p>Window <b>${iso(model.window.fromAt)}</b> .. <b>${iso(model.window.toAt)}</b>, target RPO <b id="target-rpo">${dur(model.targetRpoMs)}</b>, ${model.nodes.length} node(s).
RPO(t) is t minus the newest instant restorable from what had reached the archive by t.</p>
<table class="summary"><tr><th>Node</th><th>Status</th><th>Within target</th><th>Max RPO</th><th>RPO at end</th><th>Restorable window</th></tr>${model.nodes
    .map(
      (n) =>
        `<tr><td><a href="#node-${slug(n)}">${esc(`${n.cluster}/${n.node}`)}</a></td><td class="status-${n.status}">${STATUS_WORD[n.status]}</td><td>${pct(n.rpo.withinTargetShare)}</td><td>${dur(n.rpo.maxRpoMs)}</td><td>${dur(n.rpo.endRpoMs)}</td><td>${n.restorable ? `${iso(n.restorable.earliestAt)} .. ${iso(n.restorable.latestAt)}` : "none"}</td></tr>`,
    )
    .join("")}</table>
<h3>Checks</h3>${checksTable(model.checks)}
${model.nodes.map((n) => nodeSection(model, n)).join("\n")}
<footer id="evidence">Generated ${iso(e.generatedAt)} by cassandra-pitr ${esc(e.toolVersion)} from ${esc(e.archive)}; inputs: ${esc(e.inputs.nodes.join(", "))}, ${e.inputs.segmentsRead} segments (${e.inputs.archiveTimesKnown} with archive times), ${e.inputs.snapshotsRead} snapshots, ${e.inputs.incrementalsRead} incrementals. Content sha256 <code id="digest">${e.digest}</code>.</footer>
</body></html>
`;
}
