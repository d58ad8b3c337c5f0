/** The cluster's view (pure): restorable instants per node, their intersection, stopped archives, gaps. */
import t from "tap";
import { segmentKey } from "../../src/format/layout.js";
import { parseStatusNodes } from "../../src/backup/nodetool.js";
import {
  buildClusterView,
  clusterProblems,
  intersectIntervals,
  mergeIntervals,
  restorableIntervals,
} from "../../src/catalog/cluster.js";
import {
  buildCatalog,
  type Catalog,
  type ListedSegment,
  type SnapshotEntry,
} from "../../src/catalog/model.js";

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 1);
const FIRST_ID = BigInt(T0 - 3_600_000);

/** A node with a snapshot at each of `snapshots` (minutes after T0) and a segment closing at each of `closes`; `lost` ids are missing. */
function node(name: string, o: { snapshots: number[]; closes: number[]; lost?: number[] }): Catalog {
  const identity = { cluster: "prod", node: name };
  const segments: ListedSegment[] = [];
  o.closes.forEach((minute, i) => {
    if (o.lost?.includes(i)) return;
    const closeTimeMs = T0 + minute * MIN;
    const segmentId = FIRST_ID + BigInt(i);
    segments.push({
      key: segmentKey(identity, { closeTimeMs, segmentId, version: 7 }),
      closeTimeMs,
      segmentId,
      version: 7,
      storedBytes: 10,
    });
  });
  const snapshots: SnapshotEntry[] = o.snapshots.map((m, i) => ({
    tag: `s${i}`,
    snapshotTimeMs: T0 + m * MIN,
    cassandraVersion: "5.0.9",
    tables: [],
    complete: true,
  }));
  return buildCatalog({
    identity,
    listedFromMs: T0 - 86_400_000,
    listedToMs: T0 + 86_400_000,
    segments,
    snapshots,
    incrementals: [],
  });
}

const every10 = (from: number, to: number) =>
  Array.from({ length: (to - from) / 10 + 1 }, (_, i) => from + i * 10);
const at = (minute: number) => T0 + minute * MIN;

t.test("intervals: merge and intersect", async (t) => {
  t.same(
    mergeIntervals([
      { fromMs: 5, toMs: 9 },
      { fromMs: 1, toMs: 3 },
      { fromMs: 3, toMs: 4 },
    ]),
    [
      { fromMs: 1, toMs: 4 },
      { fromMs: 5, toMs: 9 },
    ],
    "touching intervals merge; separate ones stay apart",
  );
  const a = [
    { fromMs: 0, toMs: 10 },
    { fromMs: 20, toMs: 30 },
  ];
  const b = [{ fromMs: 5, toMs: 25 }];
  t.same(
    intersectIntervals(a, b),
    [
      { fromMs: 5, toMs: 10 },
      { fromMs: 20, toMs: 25 },
    ],
    "one interval across a gap of the other: two pieces",
  );
  t.same(
    intersectIntervals(a, [{ fromMs: 10, toMs: 20 }]),
    [
      { fromMs: 10, toMs: 10 },
      { fromMs: 20, toMs: 20 },
    ],
    "closed intervals: a shared end is an instant",
  );
  t.same(intersectIntervals(a, [{ fromMs: 11, toMs: 19 }]), [], "disjoint: nothing");
  t.same(intersectIntervals(a, []), [], "with no interval: nothing");
});

t.test(
  "three nodes: each node's window and the common restorable window is their intersection",
  async (t) => {
    const a = node("host-a", { snapshots: [5], closes: every10(10, 120) });
    const b = node("host-b", { snapshots: [15], closes: every10(10, 100) });
    const c = node("host-c", { snapshots: [25], closes: every10(10, 110) });
    t.same(
      restorableIntervals(a),
      [{ fromMs: at(5), toMs: at(120) }],
      "a node: from its snapshot to its newest chained segment",
    );
    const view = buildClusterView("prod", [c, a, b], { stoppedAfterMs: 60 * MIN });
    t.same(
      view.nodes.map((n) => n.node),
      ["host-a", "host-b", "host-c"],
      "nodes in host id order",
    );
    t.same(
      view.commonWindow,
      { fromMs: at(25), toMs: at(100) },
      "common window: the latest snapshot to the earliest newest segment",
    );
    t.same(view.common, [view.commonWindow], "one interval");
    t.equal(view.newestCloseMs, at(120));
    t.ok(
      view.nodes.every((n) => n.stopped === undefined),
      "20 minutes behind within a 60-minute threshold: none stopped",
    );
    t.same(clusterProblems(view), [], "no problems");
  },
);

t.test("a gap on one node splits the common window; the gap is listed for that node", async (t) => {
  const a = node("host-a", { snapshots: [5, 65], closes: every10(10, 120), lost: [5] }); // segment closing at 60 lost
  const b = node("host-b", { snapshots: [5], closes: every10(10, 120) });
  t.same(
    restorableIntervals(a),
    [
      { fromMs: at(5), toMs: at(50) },
      { fromMs: at(65), toMs: at(120) },
    ],
    "host-a: up to the gap, then from the snapshot after it",
  );
  const view = buildClusterView("prod", [a, b], { stoppedAfterMs: 60 * MIN });
  t.same(
    view.common,
    [
      { fromMs: at(5), toMs: at(50) },
      { fromMs: at(65), toMs: at(120) },
    ],
    "common: two intervals",
  );
  t.same(view.commonWindow, { fromMs: at(65), toMs: at(120) }, "the common window is the newest one");
  t.equal(view.nodes[0]!.gaps.length, 1, "host-a has one gap");
  t.equal(view.nodes[0]!.gaps[0]!.fromId, FIRST_ID + 5n, "the lost segment's id");
  t.same(clusterProblems(view), ["node host-a: 1 gap(s)"]);
});

t.test(
  "a node whose archive stopped: flagged with its lag; the common window ends where it stopped",
  async (t) => {
    const a = node("host-a", { snapshots: [5], closes: every10(10, 300) });
    const b = node("host-b", { snapshots: [5], closes: every10(10, 100) }); // nothing after minute 100
    const view = buildClusterView("prod", [a, b], { stoppedAfterMs: 15 * MIN });
    const stopped = view.nodes.find((n) => n.node === "host-b")!;
    t.same(stopped.stopped, { lagMs: 200 * MIN }, "host-b: stopped, 200 minutes behind host-a");
    t.equal(view.nodes.find((n) => n.node === "host-a")!.stopped, undefined, "host-a is not");
    t.same(
      view.commonWindow,
      { fromMs: at(5), toMs: at(100) },
      "every node can be restored only up to host-b's newest segment",
    );
    t.same(clusterProblems(view), ["node host-b: archive stopped"]);
    const exactly = buildClusterView("prod", [a, b], { stoppedAfterMs: 200 * MIN });
    t.equal(
      exactly.nodes.find((n) => n.node === "host-b")!.stopped,
      undefined,
      "a lag equal to the threshold is not stopped",
    );
  },
);

t.test("a node with no snapshot or no segment: no common window", async (t) => {
  const a = node("host-a", { snapshots: [5], closes: every10(10, 100) });
  const noSnapshot = node("host-b", { snapshots: [], closes: every10(10, 100) });
  const view = buildClusterView("prod", [a, noSnapshot], { stoppedAfterMs: 15 * MIN });
  t.same(view.common, [], "nothing common");
  t.equal(view.commonWindow, undefined);
  t.same(clusterProblems(view), [
    "no instant to which every node can be restored",
    "node host-b: nothing restorable",
  ]);
  const noSegment = node("host-c", { snapshots: [5], closes: [] });
  const v2 = buildClusterView("prod", [a, noSegment], { stoppedAfterMs: 15 * MIN });
  t.same(
    v2.nodes.find((n) => n.node === "host-c")!.stopped,
    { lagMs: undefined },
    "no segment while another node has some: stopped",
  );
  t.equal(buildClusterView("prod", [], { stoppedAfterMs: 1 }).commonWindow, undefined, "no nodes: no window");
});

t.test("disjoint windows: nodes restorable at different times have no common instant", async (t) => {
  const a = node("host-a", { snapshots: [5], closes: every10(10, 50) });
  const b = node("host-b", { snapshots: [200], closes: every10(210, 260) });
  const view = buildClusterView("prod", [a, b], { stoppedAfterMs: 24 * 60 * MIN });
  t.same(
    view.nodes.map((n) => n.restorable.length),
    [1, 1],
    "each node alone is restorable",
  );
  t.equal(view.commonWindow, undefined, "but to no common instant");
});

// `nodetool status` of this project's 3-node harness cluster (Cassandra 5.0.9), one node down.
const STATUS = `Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load       Tokens  Owns (effective)  Host ID                               Rack 
UN  127.0.0.23  25.94 KiB  4       81.7%             5f3846ca-1738-4039-bef1-3fa9ec67cbce  rack1
DN  127.0.0.21  79.85 KiB  4       69.3%             537ca52d-11bf-4019-869c-3990c1c4c02b  rack1
UN  127.0.0.22  97.9 KiB   4       49.0%             9514e4c9-66ea-4c4b-9115-7550980445da  rack1
`;

t.test(
  "the live ring: nodetool status parsed; ring nodes with nothing archived, archived nodes not in the ring",
  async (t) => {
    const ring = parseStatusNodes(STATUS);
    t.same(
      ring,
      [
        { state: "UN", address: "127.0.0.23", hostId: "5f3846ca-1738-4039-bef1-3fa9ec67cbce" },
        { state: "DN", address: "127.0.0.21", hostId: "537ca52d-11bf-4019-869c-3990c1c4c02b" },
        { state: "UN", address: "127.0.0.22", hostId: "9514e4c9-66ea-4c4b-9115-7550980445da" },
      ],
      "every node, up or down, with address and host id",
    );
    const a = node("5f3846ca-1738-4039-bef1-3fa9ec67cbce", { snapshots: [5], closes: every10(10, 100) });
    const b = node("9514e4c9-66ea-4c4b-9115-7550980445da", { snapshots: [5], closes: every10(10, 100) });
    const gone = node("00000000-0000-4000-8000-0000000000aa", { snapshots: [5], closes: every10(10, 100) });
    const view = buildClusterView("prod", [a, b, gone], { stoppedAfterMs: 15 * MIN, ring });
    t.same(view.ringWithoutArchive, [ring[1]], "127.0.0.21 is in the ring and has nothing archived");
    t.same(
      view.nodes.map((n) => n.inRing),
      [false, true, true],
      "the archived node missing from the ring is marked",
    );
    t.same(clusterProblems(view), [
      "node 537ca52d-11bf-4019-869c-3990c1c4c02b (127.0.0.21) is in the ring but has nothing archived",
    ]);
    t.same(
      buildClusterView("prod", [a], { stoppedAfterMs: 1 }).nodes[0]!.inRing,
      undefined,
      "no ring given: unknown",
    );
    t.same(parseStatusNodes("nothing here"), [], "no node lines: none");
  },
);
