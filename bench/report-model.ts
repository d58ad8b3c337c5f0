/**
 * Report benchmark: a year of segments for ten nodes (one segment every 5 minutes, archived 10 s
 * later, a daily snapshot, a few outages and a lost segment per node), built in memory (no
 * storage), then the model and every renderer. Measures wall time and heap growth.
 */
import { buildReport } from "../src/report/model.js";
import { render, FORMATS } from "../src/report/render.js";
import { syntheticNode, type SyntheticSegment } from "./synthetic.js";
import type { NodeInput } from "../src/report/model.js";

const DAY = 86_400_000;
const EVERY = 300_000;

function yearNode(i: number, from: number, to: number): NodeInput {
  const segments: SyntheticSegment[] = [];
  let k = 0;
  for (let c = from + EVERY; c <= to; c += EVERY, k++) {
    const outage = k % 20_000 > 19_970; // ~2.5 h outage every ~69 days
    segments.push({ closeMs: c, archiveMs: outage ? c + 3 * 3_600_000 : c + 10_000, lost: k === 50_000 + i });
  }
  const snapshots = [];
  for (let d = 0; d < 365; d++)
    snapshots.push({ tag: `daily-${d}`, atMs: from + d * DAY + 1000, uploadedMs: from + d * DAY + 600_000 });
  return syntheticNode({
    identity: { cluster: "bench", node: `node-${i}` },
    firstId: BigInt(from - 1000),
    segments,
    snapshots,
    listedFromMs: from,
    listedToMs: to,
  });
}

export async function benchReport(): Promise<
  { name: string; value: number; unit: string; command: string }[]
> {
  const from = Date.UTC(2025, 0, 1);
  const to = from + 365 * DAY;
  const nodes = Array.from({ length: 10 }, (_, i) => yearNode(i, from, to));
  const segments = nodes.reduce((s, n) => s + n.catalog.segments.length, 0);
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const model = buildReport({
    nodes,
    fromMs: from,
    toMs: to,
    nowMs: to,
    targetRpoMs: 15 * 60_000,
    toolVersion: "bench",
    archive: "mem://bench",
  });
  const t1 = performance.now();
  let bytes = 0;
  for (const f of FORMATS) bytes += render(model, f).length;
  const t2 = performance.now();
  const heapAfter = process.memoryUsage().heapUsed;
  const command = "npm run bench (bench/report-model.ts: 10 nodes × 1 year, a segment every 5 min)";
  return [
    {
      name: `report model, ${segments} segments on 10 nodes over a year`,
      value: Math.round(t1 - t0),
      unit: "ms",
      command,
    },
    { name: "report rendering, all 5 formats", value: Math.round(t2 - t1), unit: "ms", command },
    { name: "report rendered size, all 5 formats", value: Math.round(bytes / 1024), unit: "KiB", command },
    {
      name: "report heap growth during model + render",
      value: Math.round((heapAfter - heapBefore) / 2 ** 20),
      unit: "MiB",
      command,
    },
  ];
}
