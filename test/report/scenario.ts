/**
 * The report's reference scenario (synthetic, built in code): a 12-hour window, target 15m.
 * - node-a: snapshot the day before, a segment every 5 minutes archived 10 s after closing, then
 *   an archive outage (segments closed 03:05..04:00 all arrive 04:30), a lost segment (06:00) with a
 *   new snapshot at 07:00 (uploaded 07:03), and a quiet hour (no segment closes 09:00..10:00).
 * - node-b: segments, but no snapshot ever.
 * - node-c: healthy until 10:00, then the node is down and restarts (new run) at 11:00.
 */
import type { NodeInput, ReportInput } from "../../src/report/model.js";
import { every, syntheticNode, type SyntheticSegment } from "../../bench/synthetic.js";

export const T0 = Date.UTC(2026, 2, 1);
export const H = 3_600_000;
export const M = 60_000;
export const FROM = T0;
export const TO = T0 + 12 * H;
export const NOW = TO + 5 * M;

const at = (h: number, m = 0) => T0 + h * H + m * M;

export function nodeA(): NodeInput {
  const segments: SyntheticSegment[] = every(at(-1, 5), at(12, 5), 5 * M)
    .filter((c) => !(c > at(9) && c < at(10)))
    .map((c) => ({
      closeMs: c,
      lost: c === at(6),
      archiveMs: c > at(3) && c <= at(4) ? at(4, 30) : undefined,
    }));
  return syntheticNode({
    identity: { cluster: "prod", node: "node-a" },
    firstId: BigInt(at(-2)),
    segments,
    snapshots: [
      { tag: "daily-1", atMs: at(-1), uploadedMs: at(-1, 2) },
      { tag: "after-gap", atMs: at(7), uploadedMs: at(7, 3) },
    ],
    listedFromMs: at(-25),
    listedToMs: at(36),
  });
}

export function nodeB(): NodeInput {
  return syntheticNode({
    identity: { cluster: "prod", node: "node-b" },
    firstId: BigInt(at(-2)),
    segments: every(at(-1, 5), at(12, 5), 5 * M).map((c) => ({ closeMs: c })),
    snapshots: [],
    listedFromMs: at(-25),
    listedToMs: at(36),
  });
}

export function nodeC(): NodeInput {
  const before = every(at(-1, 5), at(10), 5 * M).map((c) => ({ closeMs: c }));
  const after = every(at(11, 5), at(12, 5), 5 * M).map((c, i) =>
    i === 0 ? { closeMs: c, restartId: BigInt(at(11)) } : { closeMs: c },
  );
  return syntheticNode({
    identity: { cluster: "prod", node: "node-c" },
    firstId: BigInt(at(-2)),
    segments: [...before, ...after],
    snapshots: [{ tag: "daily-1", atMs: at(-1), uploadedMs: at(-1, 2) }],
    listedFromMs: at(-25),
    listedToMs: at(36),
  });
}

export function scenarioInput(): ReportInput {
  return {
    nodes: [nodeA(), nodeB(), nodeC()],
    fromMs: FROM,
    toMs: TO,
    nowMs: NOW,
    targetRpoMs: 15 * M,
    toolVersion: "0.1.0",
    archive: "mem://report-scenario",
  };
}
