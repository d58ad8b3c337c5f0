import t from "tap";
import { buildReport, digestOf, type ReportInput } from "../../src/report/model.js";
import { every, syntheticNode } from "../../bench/synthetic.js";
import { FROM, H, M, NOW, T0, TO, nodeA, scenarioInput } from "./scenario.js";

const at = (h: number, m = 0, s = 0) => T0 + h * H + m * M + s * 1000;

t.test("node-a: archive outage, lost segment, quiet hour: exact RPO figures and causes", async (t) => {
  const model = buildReport(scenarioInput());
  const a = model.nodes.find((n) => n.node === "node-a")!;
  // steady state: a segment every 5m archived 10s later → RPO peaks at 5m10s, below the 15m target
  // outage: R = 03:00 from 03:00:10 until 04:30 → above target 03:15..04:30, peak 1h30m
  // gap: R = 05:55 until the snapshot after the gap (07:00, uploaded 07:03) → above target 06:10..07:03, peak 1h8m
  // quiet: R = 09:00 until the 10:00 segment arrives at 10:00:10 → above target 09:15..10:00:10, peak 1h0m10s
  t.same(
    a.rpo.worst.map((w) => [w.startAt, w.endAt, w.peakRpoMs, w.cause]),
    [
      [at(3, 15), at(4, 30), 90 * M, "archive-lag"],
      [at(6, 10), at(7, 3), 68 * M, "gap"],
      [at(9, 15), at(10, 0, 10), 60 * M + 10_000, "quiet-segment"],
    ],
  );
  t.equal(a.rpo.breachMs, 75 * M + 53 * M + 45 * M + 10_000);
  t.equal(a.rpo.withinTargetShare, Math.round((1 - (173 * M + 10_000) / (12 * H)) * 1e6) / 1e6);
  t.equal(a.rpo.maxRpoMs, 90 * M);
  t.equal(a.rpo.endRpoMs, 5 * M, "at 12:00 the 11:55 segment is the newest arrived");
  t.match(
    a.rpo.worst[0]!.details,
    /closed 2026-03-01T03:05:00.000Z reached the archive 2026-03-01T04:30:00.000Z \(lag 1h25m\)/,
  );
  t.match(a.rpo.worst[1]!.details, /missing after the segment closed 2026-03-01T05:55:00.000Z/);
  t.match(a.rpo.worst[2]!.details, /stayed open 1h/);
  t.same(
    a.checks.map((c) => [c.id, c.status]),
    [
      ["rpo-target", "failure"],
      ["segment-chain", "failure"],
      ["snapshot", "ok"],
      ["archive-lag", "warning"],
      ["restore-drill", "warning"],
    ],
  );
  t.same(
    a.coverage.map((c) => c.status),
    ["found", "lost", "found"],
  );
});

t.test("node-b: no snapshot → nothing restorable for the whole window", async (t) => {
  const b = buildReport(scenarioInput()).nodes.find((n) => n.node === "node-b")!;
  t.equal(b.rpo.breachMs, 12 * H);
  t.equal(b.rpo.withinTargetShare, 0);
  t.equal(b.rpo.maxRpoMs, null);
  t.same(
    b.rpo.worst.map((w) => [w.startAt, w.endAt, w.peakRpoMs, w.cause]),
    [[FROM, TO, null, "no-snapshot"]],
  );
  t.ok(b.series.every((p) => p.maxRpoMs === null));
});

t.test("node-c: node down 10:00..11:00 (new JVM run) → node-silent", async (t) => {
  const c = buildReport(scenarioInput()).nodes.find((n) => n.node === "node-c")!;
  t.same(
    c.rpo.worst.map((w) => [w.startAt, w.endAt, w.peakRpoMs, w.cause]),
    [[at(10, 15), at(11, 5, 10), 65 * M + 10_000, "node-silent"]],
  );
  t.equal(c.counts.runs, 2);
  t.equal(c.counts.gaps, 0);
});

t.test("a healthy node: within target all the time, status not failure", async (t) => {
  const n = syntheticNode({
    identity: { cluster: "prod", node: "ok" },
    firstId: BigInt(T0 - 2 * H),
    segments: every(T0 - H, TO + 5 * M, 5 * M).map((c) => ({ closeMs: c })),
    snapshots: [{ tag: "s", atMs: T0 - H - M }],
    listedFromMs: T0 - 25 * H,
    listedToMs: TO + 24 * H,
  });
  const model = buildReport({ ...scenarioInput(), nodes: [n], stepMs: 15 * M });
  const r = model.nodes[0]!;
  t.equal(r.rpo.breachMs, 0);
  t.equal(r.rpo.withinTargetShare, 1);
  t.equal(r.rpo.maxRpoMs, 5 * M + 10_000);
  t.equal(model.status, "warning", "only the missing restore drill warns");
  t.equal(r.series.length, 48);
  t.ok(r.series.every((p) => p.maxRpoMs === 5 * M + 10_000));
});

t.test(
  "a later snapshot shortens the chain: late segments before it no longer hold the restore point back",
  async (t) => {
    // segment closed 01:00 never arrives until 05:00; a snapshot at 02:00 (uploaded 02:01) restarts the chain
    const n = syntheticNode({
      identity: { cluster: "prod", node: "late" },
      firstId: BigInt(T0 - 2 * H),
      segments: every(T0 - H, TO, 5 * M).map((c) => ({
        closeMs: c,
        archiveMs: c === at(1) ? at(5) : undefined,
      })),
      snapshots: [
        { tag: "a", atMs: T0 - H - M },
        { tag: "b", atMs: at(2), uploadedMs: at(2, 1) },
      ],
      listedFromMs: T0 - 25 * H,
      listedToMs: TO + 24 * H,
    });
    const r = buildReport({ ...scenarioInput(), nodes: [n] }).nodes[0]!;
    // R = 00:55 from 00:55:10; the chain from snapshot b (start: the 02:00 segment, arrived 02:00:10) counts from 02:01
    t.same(
      r.rpo.worst.map((w) => [w.startAt, w.endAt, w.peakRpoMs, w.cause]),
      [[at(1, 10), at(2, 1), 66 * M, "archive-lag"]],
    );
  },
);

t.test(
  "pure and deterministic: same input, same model and digest; the digest covers the content",
  async (t) => {
    const input: ReportInput = scenarioInput();
    const one = buildReport(input);
    const two = buildReport(scenarioInput());
    t.same(one, two);
    t.equal(one.evidence.digest, digestOf(one));
    t.match(one.evidence.digest, /^[0-9a-f]{64}$/);
    const other = buildReport({ ...scenarioInput(), targetRpoMs: 16 * M });
    t.not(other.evidence.digest, one.evidence.digest);
    t.equal(one.evidence.generatedAt, NOW);
    t.equal(one.evidence.toolVersion, "0.1.0");
    t.equal(one.status, "failure");
  },
);

t.test("the window is required to be non-empty", async (t) => {
  t.throws(() => buildReport({ ...scenarioInput(), toMs: FROM }), RangeError);
  t.ok(nodeA());
});

t.test(
  "the cluster's RPO is the worst node's at each instant: breach windows are the union of the nodes'",
  async (t) => {
    const { nodeC } = await import("./scenario.js");
    const model = buildReport({ ...scenarioInput(), nodes: [nodeA(), nodeC()] });
    t.equal(model.clusters.length, 1, "one cluster with two nodes");
    const c = model.clusters[0]!;
    t.same(c.nodes, ["node-a", "node-c"]);
    // The union of the nodes' breach windows, computed here from the node reports (each has fewer than 5 windows).
    const all = model.nodes
      .flatMap((n) => n.rpo.worst.map((w) => [w.startAt, w.endAt] as const))
      .sort((x, y) => x[0] - y[0]);
    t.ok(
      model.nodes.every((n) => n.rpo.breachWindows === n.rpo.worst.length),
      "every node window is listed",
    );
    let union = 0;
    let end = -Infinity;
    for (const [a, b] of all) {
      if (b <= end) continue;
      union += b - Math.max(a, end);
      end = b;
    }
    t.ok(union > 0, "the scenario has breaches");
    t.equal(c.breachMs, union, "cluster breach time = the union of the nodes' breach windows");
    t.equal(c.withinTargetShare, 1 - union / (TO - FROM));
    t.ok(
      c.withinTargetShare <= Math.min(...model.nodes.map((n) => n.rpo.withinTargetShare)),
      "never better than the worst node",
    );
    const peaks = model.nodes.map((n) => n.rpo.maxRpoMs);
    t.equal(c.maxRpoMs, peaks.includes(null) ? null : Math.max(...(peaks as number[])));
    for (const [i, p] of c.series.entries()) {
      const values = model.nodes.map((n) => n.series[i]!.maxRpoMs);
      t.equal(
        p.maxRpoMs,
        values.includes(null) ? null : Math.max(...(values as number[])),
        `bucket ${i}: the worst node's`,
      );
    }
    t.ok(
      c.breachWindows.every((w) => w.nodes.length > 0),
      "each window names its nodes",
    );
    t.same(
      buildReport({ ...scenarioInput(), nodes: [nodeA()] }).clusters,
      [],
      "a single node is no cluster section",
    );
  },
);
