/**
 * The cluster's view of an archive (pure): every node's restorable instants, the common
 * restorable window (the instants to which every node can be restored), the nodes whose archive
 * stopped, and the gaps per node. Built from one catalog per node; no I/O.
 *
 * A node can be restored to the instants of each complete snapshot's range (from the snapshot to
 * the end of its gap-free segment chain); with a gap, a node's restorable instants are several
 * intervals. The common restorable window is the intersection over the nodes, again a list of
 * intervals; its newest interval is the one a cluster restore normally targets.
 *
 * A node's archive has stopped when its newest archived segment closed more than `stoppedAfterMs`
 * before the newest segment of any node of the cluster (or it has no segment while others have):
 * every node of a cluster takes writes, so one whose segments stop arriving is down, or its hook or
 * agent is failing. A cluster that is quiet everywhere is not flagged here (`report` measures RPO
 * against the clock).
 *
 * Given the live ring (`nodetool status`), the view also names the nodes that are in the ring but
 * have nothing archived (their hook was never installed, or they archive elsewhere), and marks the
 * archived nodes that are no longer in the ring (a replaced or removed node).
 */
import type { Catalog, SegmentGap } from "./model.js";

/** Closed interval of instants, epoch ms. */
export interface Interval {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface ClusterNode {
  readonly node: string;
  /** The instants this node can be restored to, oldest first (empty: none). */
  readonly restorable: readonly Interval[];
  readonly segments: number;
  readonly snapshots: number;
  readonly newestCloseMs: number | undefined;
  /** Set when the node's archive stopped; lagMs is how far its newest segment is behind the cluster's. */
  readonly stopped: { readonly lagMs: number | undefined } | undefined;
  readonly gaps: readonly SegmentGap[];
  /** Whether the live ring lists this host id; undefined when no ring was given. */
  readonly inRing: boolean | undefined;
}

/** A node of the live ring, as `nodetool status` lists it. */
export interface RingNode {
  readonly hostId: string;
  readonly address: string;
  readonly state: string;
}

export interface ClusterView {
  readonly cluster: string;
  readonly nodes: readonly ClusterNode[];
  /** The instants to which every node can be restored, oldest first (empty: none). */
  readonly common: readonly Interval[];
  /** The newest interval of `common`. */
  readonly commonWindow: Interval | undefined;
  /** The newest segment close time over all nodes. */
  readonly newestCloseMs: number | undefined;
  readonly stoppedAfterMs: number;
  /** Nodes of the live ring with nothing archived (empty when no ring was given). */
  readonly ringWithoutArchive: readonly RingNode[];
}

export interface ClusterViewOptions {
  /** A node whose newest segment is further behind the cluster's newest than this has stopped. */
  readonly stoppedAfterMs: number;
  /** The live ring, when known. */
  readonly ring?: readonly RingNode[] | undefined;
}

/** Sorts and merges overlapping or touching intervals. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.fromMs - b.fromMs || a.toMs - b.toMs);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.fromMs <= last.toMs)
      out[out.length - 1] = { fromMs: last.fromMs, toMs: Math.max(last.toMs, i.toMs) };
    else out.push({ fromMs: i.fromMs, toMs: i.toMs });
  }
  return out;
}

/** The instants in both lists (each sorted and merged). */
export function intersectIntervals(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const fromMs = Math.max(x.fromMs, y.fromMs);
    const toMs = Math.min(x.toMs, y.toMs);
    if (fromMs <= toMs) out.push({ fromMs, toMs });
    if (x.toMs < y.toMs) i++;
    else j++;
  }
  return out;
}

/** The instants one node can be restored to: the union of its complete snapshots' ranges. */
export function restorableIntervals(catalog: Catalog): Interval[] {
  const ranges: Interval[] = [];
  for (const r of catalog.ranges) if (r.toMs !== undefined) ranges.push({ fromMs: r.fromMs, toMs: r.toMs });
  return mergeIntervals(ranges);
}

function newestClose(catalog: Catalog): number | undefined {
  return catalog.segments.reduce<number | undefined>(
    (m, s) => (m === undefined || s.closeTimeMs > m ? s.closeTimeMs : m),
    undefined,
  );
}

function stoppedOf(
  newest: number | undefined,
  clusterNewest: number | undefined,
  stoppedAfterMs: number,
): ClusterNode["stopped"] {
  if (clusterNewest === undefined) return undefined;
  if (newest === undefined) return { lagMs: undefined };
  const lagMs = clusterNewest - newest;
  return lagMs > stoppedAfterMs ? { lagMs } : undefined;
}

export function buildClusterView(
  cluster: string,
  catalogs: readonly Catalog[],
  options: ClusterViewOptions,
): ClusterView {
  const sorted = [...catalogs].sort((a, b) =>
    a.identity.node < b.identity.node ? -1 : a.identity.node > b.identity.node ? 1 : 0,
  );
  const newestByNode = sorted.map(newestClose);
  const newestCloseMs = newestByNode.reduce<number | undefined>(
    (m, n) => (n !== undefined && (m === undefined || n > m) ? n : m),
    undefined,
  );
  const nodes: ClusterNode[] = sorted.map((c, i) => ({
    node: c.identity.node,
    restorable: restorableIntervals(c),
    segments: c.segments.length,
    snapshots: c.snapshots.length,
    newestCloseMs: newestByNode[i],
    stopped: stoppedOf(newestByNode[i], newestCloseMs, options.stoppedAfterMs),
    gaps: c.gaps,
    inRing: options.ring ? options.ring.some((r) => r.hostId === c.identity.node) : undefined,
  }));
  const archived = new Set(sorted.map((c) => c.identity.node));
  const common =
    nodes.length === 0
      ? []
      : nodes
          .slice(1)
          .reduce((acc, n) => intersectIntervals(acc, n.restorable), nodes[0]!.restorable as Interval[]);
  return {
    cluster,
    nodes,
    common,
    commonWindow: common[common.length - 1],
    newestCloseMs,
    stoppedAfterMs: options.stoppedAfterMs,
    ringWithoutArchive: (options.ring ?? []).filter((r) => !archived.has(r.hostId)),
  };
}

/** What makes `list --cluster` exit 3: no common restorable window, a gap, a stopped archive. */
export function clusterProblems(view: ClusterView): string[] {
  const problems: string[] = [];
  if (view.commonWindow === undefined) problems.push("no instant to which every node can be restored");
  for (const r of view.ringWithoutArchive)
    problems.push(`node ${r.hostId} (${r.address}) is in the ring but has nothing archived`);
  for (const n of view.nodes) {
    if (n.restorable.length === 0) problems.push(`node ${n.node}: nothing restorable`);
    if (n.stopped) problems.push(`node ${n.node}: archive stopped`);
    if (n.gaps.length > 0) problems.push(`node ${n.node}: ${n.gaps.length} gap(s)`);
  }
  return problems;
}
