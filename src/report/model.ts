/**
 * The compliance report model (pure): per node, the recovery point over time against a target, the
 * worst windows and their causes, the restorable window, ages, storage and archive lag, and checks
 * `{id, status, details}`. No clock, no I/O: `now` and every input are arguments, so the same inputs
 * give the same model (and the same digest) every time. Renderers (render-*.ts) only format it.
 *
 * RPO (issue 5): at each instant t, RPO(t) = t − R(t), where R(t) is the newest instant restorable
 * from what had reached the archive by t.
 *
 * - A segment closed at c and archived at a makes data up to c restorable from a on, provided every
 *   segment of the chain from a complete snapshot's start segment up to it had arrived too, and the
 *   snapshot itself had been uploaded (manifest written).
 * - So R is a non-decreasing step function with one candidate event per segment: for segment j in a
 *   gap-free stretch, the event time is max(arrival(j), min over snapshots S starting at or before j
 *   in the stretch of max(uploaded(S), arrivals of S's chain up to j)). One pass in id order computes
 *   it: B_j = max(arrival_j, min(B_{j−1}, uploaded of snapshots starting at j)); a gap resets B.
 * - RPO is then exact between events (it grows linearly), so breach intervals and the share of time
 *   within target are computed exactly, not sampled. Charts get a bounded series: the maximum RPO
 *   in each bucket of `stepMs`.
 * - Cause of a breach window, read at its worst instant T, from the segment s that ends the
 *   restorable chain and the one after it (n): no restore point and no snapshot uploaded by T →
 *   `no-snapshot`; a gap after s → `gap`; no n in the archive → `node-silent`. Otherwise RPO(T) is
 *   (how long n stayed open: min(close(n), T) − close(s)) + (how long it then waited for the archive:
 *   T − close(n) when positive); the larger part names the cause: `archive-lag`, or the open segment:
 *   `quiet-segment` in the same JVM run, `node-silent` when n starts a new run (the node restarted).
 */
import type { LocalSnapshotUsage } from "./local-snapshots.js";
import { createHash } from "node:crypto";
import type { HeartbeatRecord } from "../format/partial-layout.js";
import {
  snapshotStartSegmentId,
  type Catalog,
  type CatalogSegment,
  type SnapshotEntry,
} from "../catalog/model.js";

export const REPORT_SCHEMA_VERSION = 1;

export type CheckStatus = "ok" | "warning" | "failure";

/**
 * One check, the same type for `check` (the installation), `verify` (the archive) and `report`
 * (the recovery point): an id, a status, what was found, and for a problem what to do next.
 */
export interface Check {
  readonly id: string;
  readonly status: CheckStatus;
  readonly details: string;
  readonly hint?: string | undefined;
}

export type BreachCause = "gap" | "archive-lag" | "quiet-segment" | "no-snapshot" | "node-silent";

/** A restore drill recorded by `verify --drill` (`<node prefix>evidence/<time>.json`). */
export interface DrillEvidence {
  readonly key: string;
  readonly ranAt: number;
  /** The restore point drilled. */
  readonly restorePointAt: number;
  readonly status: "passed" | "failed";
  readonly details: string;
}

export interface NodeInput {
  readonly catalog: Catalog;
  /** Segment key → when it reached the archive (object metadata archive_time, else the object's modified time). */
  readonly archiveTimes: ReadonlyMap<string, number>;
  /** Snapshot tag → when its manifest was written (default: the snapshot time). */
  readonly snapshotUploadedAt?: ReadonlyMap<string, number> | undefined;
  readonly drills?: readonly DrillEvidence[] | undefined;
  /** The node's local disk held only by snapshots, when the report runs on the node (--data-dir). */
  readonly localSnapshots?: LocalSnapshotUsage | undefined;
  /**
   * Every partial object still in the archive (format/partial-layout.ts), superseded or not: each
   * made the writes before its claim restorable from its upload on (given the segments before it).
   */
  readonly partials?: readonly PartialClaim[] | undefined;
  /** Segments on the node's disk that the archive does not hold, when the report runs on the node. */
  readonly exposure?: readonly ExposedSegmentInput[] | undefined;
}

export interface PartialClaim {
  readonly segmentId: bigint;
  /** Every write allocated before this instant is in the chain up to this object. */
  readonly syncedBeforeMs: number;
  readonly uploadedAtMs: number;
  readonly bytes: number;
  readonly source: "agent" | "rescue";
  /** A heartbeat's record: the claims it made while it beat (format/partial-layout.ts). */
  readonly beat?: HeartbeatRecord | undefined;
}

export interface ExposedSegmentInput {
  readonly name: string;
  readonly bytes: number;
  /** Writes from this instant on may be among the bytes (undefined: of any time). */
  readonly sinceMs: number | undefined;
  readonly untilMs: number;
}

export interface ReportInput {
  readonly nodes: readonly NodeInput[];
  readonly fromMs: number;
  readonly toMs: number;
  readonly nowMs: number;
  readonly targetRpoMs: number;
  /** Chart bucket; default: the smallest of 1m, 5m, 15m, 1h, 6h, 1d giving at most 720 buckets. */
  readonly stepMs?: number | undefined;
  readonly toolVersion: string;
  /** Where the data came from (display location, no secrets). */
  readonly archive: string;
  /** How many worst windows to keep per node (default 5). */
  readonly worstWindows?: number | undefined;
}

export interface BreachWindow {
  readonly startAt: number;
  readonly endAt: number;
  readonly durationMs: number;
  /** Highest RPO in the window; null when no instant was restorable at its worst moment. */
  readonly peakRpoMs: number | null;
  readonly peakAt: number;
  readonly cause: BreachCause;
  readonly details: string;
}

export interface SeriesPoint {
  readonly at: number;
  /** Maximum RPO in the bucket starting at `at`; null: nothing restorable at some instant of it. */
  readonly maxRpoMs: number | null;
}

export interface TimelineBucket {
  readonly at: number;
  readonly segments: number;
  /** Largest archive lag (archive time − close time) of the segments closed in the bucket. */
  readonly maxLagMs: number;
  readonly gap: boolean;
}

export interface CoverageRange {
  readonly fromId: string;
  readonly toId: string;
  readonly fromCloseAt: number | null;
  readonly toCloseAt: number | null;
  readonly count: number;
  readonly status: "found" | "lost";
  readonly details: string;
}

export interface NodeReport {
  readonly cluster: string;
  readonly node: string;
  readonly status: CheckStatus;
  readonly checks: readonly Check[];
  readonly rpo: {
    readonly targetMs: number;
    readonly withinTargetShare: number;
    readonly breachMs: number;
    readonly maxRpoMs: number | null;
    /** RPO at the end of the window. */
    readonly endRpoMs: number | null;
    readonly worst: readonly BreachWindow[];
    readonly breachWindows: number;
  };
  readonly restorable: {
    readonly earliestAt: number;
    readonly latestAt: number;
    readonly snapshot: string;
  } | null;
  readonly ages: {
    readonly snapshotMs: number | null;
    readonly incrementalMs: number | null;
    readonly segmentMs: number | null;
  };
  readonly storage: {
    readonly segmentBytes: number;
    readonly snapshotBytes: number;
    readonly incrementalBytes: number;
    /** Segment bytes closed in the window, per day of window. */
    readonly segmentBytesPerDay: number;
    /** Local disk held only by snapshots; null when the report did not run on the node. */
    readonly localSnapshots: LocalSnapshotUsage | null;
  };
  readonly archiveLag: {
    readonly segments: number;
    readonly unknown: number;
    readonly p50Ms: number;
    readonly p95Ms: number;
    readonly maxMs: number;
  };
  readonly counts: {
    readonly segments: number;
    readonly snapshots: number;
    readonly incrementals: number;
    readonly gaps: number;
    readonly runs: number;
  };
  readonly coverage: readonly CoverageRange[];
  readonly series: readonly SeriesPoint[];
  readonly timeline: readonly TimelineBucket[];
  readonly snapshots: readonly { readonly tag: string; readonly at: number; readonly uploadedAt: number }[];
  readonly gaps: readonly {
    readonly fromId: string;
    readonly toId: string;
    readonly count: number;
    readonly fromAt: number;
    readonly toAt: number | null;
    readonly cause: string;
  }[];
  readonly drills: readonly DrillEvidence[];
  /** Partial uploads in the archive (absent when there are none): the RPO above counts them. */
  readonly partials?: {
    readonly objects: number;
    readonly bytes: number;
    readonly rescued: number;
    /** The newest claim: every write allocated before it is archived. */
    readonly newestClaimAt: number;
    readonly newestUploadAt: number;
  };
  /** What the node's disk holds that the archive does not (only when the report ran on the node). */
  readonly exposure?: {
    readonly bytes: number;
    /** Writes from here on may be lost with the disk (null: of any time, nothing archived yet). */
    readonly fromAt: number | null;
    readonly toAt: number | null;
    readonly segments: readonly {
      readonly name: string;
      readonly bytes: number;
      readonly fromAt: number | null;
      readonly toAt: number;
    }[];
  };
}

/**
 * A cluster's RPO: a cluster restore brings every node to one instant, so the cluster can be restored
 * to T only when every node can, and its RPO at each instant is the worst node's. A node with nothing
 * restorable makes the cluster's RPO unbounded (null) for as long as that lasts.
 */
export interface ClusterRpo {
  readonly cluster: string;
  readonly nodes: readonly string[];
  readonly withinTargetShare: number;
  /** Time during which at least one node was above target (the union of the nodes' breach windows). */
  readonly breachMs: number;
  readonly maxRpoMs: number | null;
  readonly endRpoMs: number | null;
  /** The merged breach windows, each with the nodes above target in it. */
  readonly breachWindows: readonly {
    readonly startAt: number;
    readonly endAt: number;
    readonly durationMs: number;
    readonly nodes: readonly string[];
  }[];
  /** Per chart bucket, the worst node's maximum RPO (null when some node had nothing restorable). */
  readonly series: readonly SeriesPoint[];
}

export interface ReportModel {
  readonly schemaVersion: number;
  readonly status: CheckStatus;
  readonly checks: readonly Check[];
  readonly window: { readonly fromAt: number; readonly toAt: number; readonly stepMs: number };
  readonly targetRpoMs: number;
  readonly nodes: readonly NodeReport[];
  /** One per cluster with two or more nodes in the report. */
  readonly clusters: readonly ClusterRpo[];
  readonly evidence: {
    readonly toolVersion: string;
    readonly generatedAt: number;
    readonly archive: string;
    readonly inputs: {
      readonly nodes: readonly string[];
      readonly segmentsRead: number;
      readonly snapshotsRead: number;
      readonly incrementalsRead: number;
      readonly archiveTimesKnown: number;
    };
    /** sha256 of the model's canonical JSON with this field empty. */
    readonly digest: string;
  };
}

const NICE_STEPS = [60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000];
const MAX_BUCKETS = 720;

export function defaultStepMs(fromMs: number, toMs: number): number {
  const span = Math.max(1, toMs - fromMs);
  return (
    NICE_STEPS.find((s) => Math.ceil(span / s) <= MAX_BUCKETS) ??
    Math.ceil(span / MAX_BUCKETS / 86_400_000) * 86_400_000
  );
}

const WORST: Record<CheckStatus, number> = { ok: 0, warning: 1, failure: 2 };
export function worstStatus(statuses: readonly CheckStatus[]): CheckStatus {
  return statuses.reduce<CheckStatus>((w, s) => (WORST[s] > WORST[w] ? s : w), "ok");
}

/** d h m s, for details strings (same spelling as config/duration.ts, rounded to seconds). */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One step of R(t): from `at` on, data up to `value` is restorable (segment index `seg` ends the chain). */
interface Step {
  readonly at: number;
  readonly value: number;
  readonly seg: number;
}

/** At most this many claims are taken from one heartbeat's record. */
const MAX_BEAT_CLAIMS = 100_000;

/**
 * The claims one partial object made: its own, and for a heartbeat the ones it made while it beat,
 * as low as its record allows: at any instant after the first beat, the latest beat came at most
 * `maxGapMs` before and claimed at most `maxLagMs` behind its upload.
 */
export function claimsMade(c: PartialClaim): { at: number; value: number }[] {
  const own = { at: c.uploadedAtMs, value: c.syncedBeforeMs };
  if (!c.beat) return [own];
  const { sinceMs, maxGapMs, maxLagMs } = c.beat;
  const step = Math.max(1_000, maxGapMs / 2, (c.uploadedAtMs - sinceMs) / MAX_BEAT_CLAIMS);
  const made: { at: number; value: number }[] = [];
  for (let at = sinceMs; at < c.uploadedAtMs; at += step)
    made.push({ at, value: Math.min(at - maxGapMs - maxLagMs, c.syncedBeforeMs) });
  return [...made, own];
}

/** R(t) as a step function, strictly increasing values, ordered by time. */
export function restorableSteps(
  catalog: Catalog,
  arrival: (s: CatalogSegment) => number,
  uploaded: (s: SnapshotEntry) => number,
  claims: readonly PartialClaim[] = [],
): Step[] {
  const segs = catalog.segments;
  const indexOf = new Map<bigint, number>();
  segs.forEach((s, i) => indexOf.set(s.segmentId, i));
  const startsAt = new Map<number, number>();
  // Same rule as snapshotStartSegmentId (the tables' commit log upper bounds, else the first segment in
  // id order closed at or after the snapshot time), with the fallback found by one sweep over
  // snapshots in time order: that first index never decreases as the snapshot time grows.
  const noSegments = { segments: [], gaps: [] };
  let sweep = 0;
  for (const snap of [...catalog.snapshots].sort((x, y) => x.snapshotTimeMs - y.snapshotTimeMs)) {
    if (!snap.complete) continue;
    let i: number | undefined;
    const bound = snapshotStartSegmentId(noSegments, snap, undefined);
    if (bound !== undefined) i = indexOf.get(bound);
    else {
      while (sweep < segs.length && segs[sweep]!.closeTimeMs < snap.snapshotTimeMs) sweep++;
      i = sweep < segs.length ? sweep : undefined;
    }
    if (i === undefined) continue;
    startsAt.set(i, Math.min(startsAt.get(i) ?? Infinity, uploaded(snap)));
  }
  const gapAfter = new Set(catalog.gaps.map((g) => g.afterId));
  const events: Step[] = [];
  let b = Infinity;
  const claimsOf = new Map<bigint, PartialClaim[]>();
  for (const c of claims) claimsOf.set(c.segmentId, [...(claimsOf.get(c.segmentId) ?? []), c]);
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (i > 0 && gapAfter.has(segs[i - 1]!.segmentId)) b = Infinity;
    b = Math.min(b, startsAt.get(i) ?? Infinity);
    if (b === Infinity) continue;
    // While the segment was open, each partial upload made the writes before its claim restorable.
    for (const c of claimsOf.get(s.segmentId) ?? [])
      for (const made of claimsMade(c))
        if (made.value > 0)
          events.push({ at: Math.max(b, made.at), value: Math.min(made.value, s.closeTimeMs), seg: i });
    b = Math.max(b, arrival(s));
    events.push({ at: b, value: s.closeTimeMs, seg: i });
  }
  events.sort((x, y) => x.at - y.at || x.value - y.value);
  const steps: Step[] = [];
  for (const e of events) {
    const last = steps[steps.length - 1];
    if (last && e.value <= last.value) continue;
    if (last && last.at === e.at) steps[steps.length - 1] = e;
    else steps.push(e);
  }
  return steps;
}

/** A stretch [a, b) of the window during which R is constant (undefined: nothing restorable). */
interface Piece {
  readonly a: number;
  readonly b: number;
  readonly r: number | undefined;
  readonly seg: number | undefined;
}

function piecesOf(steps: readonly Step[], fromMs: number, toMs: number): Piece[] {
  const pieces: Piece[] = [];
  let k = 0;
  let r: number | undefined;
  let seg: number | undefined;
  while (k < steps.length && steps[k]!.at <= fromMs) {
    r = steps[k]!.value;
    seg = steps[k]!.seg;
    k++;
  }
  let a = fromMs;
  for (; k < steps.length && steps[k]!.at < toMs; k++) {
    const st = steps[k]!;
    if (st.at > a) pieces.push({ a, b: st.at, r, seg });
    a = st.at;
    r = st.value;
    seg = st.seg;
  }
  if (toMs > a) pieces.push({ a, b: toMs, r, seg });
  return pieces;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function causeAt(
  catalog: Catalog,
  piece: Piece,
  at: number,
  arrival: (s: CatalogSegment) => number,
  uploaded: (s: SnapshotEntry) => number,
): { cause: BreachCause; details: string } {
  const segs = catalog.segments;
  if (piece.seg === undefined) {
    const snaps = catalog.snapshots.filter((s) => s.complete && uploaded(s) <= at);
    if (snaps.length === 0)
      return { cause: "no-snapshot", details: `no complete snapshot had been uploaded by ${iso(at)}` };
    const snap = snaps[snaps.length - 1]!;
    const start = snapshotStartSegmentId(catalog, snap, undefined);
    const seg = start === undefined ? undefined : segs.find((s) => s.segmentId === start);
    if (!seg) {
      return start === undefined
        ? {
            cause: "node-silent",
            details: `no segment closed after snapshot '${snap.tag}' (${iso(snap.snapshotTimeMs)}) is in the archive`,
          }
        : {
            cause: "gap",
            details: `the start segment ${start} of snapshot '${snap.tag}' is not in the archive`,
          };
    }
    return {
      cause: "archive-lag",
      details: `the start segment ${seg.segmentId} of snapshot '${snap.tag}' closed ${iso(seg.closeTimeMs)} reached the archive ${iso(arrival(seg))}`,
    };
  }
  const s = segs[piece.seg]!;
  if (s.partial || (piece.r !== undefined && piece.r < s.closeTimeMs)) {
    return {
      cause: "archive-lag",
      details: `partial uploads of segment ${s.segmentId} (not closed yet) vouched for writes up to ${iso(piece.r ?? s.closeTimeMs)}; no newer claim or segment had reached the archive by ${iso(at)}`,
    };
  }
  const gap = catalog.gaps.find((g) => g.afterId === s.segmentId);
  if (gap) {
    return {
      cause: "gap",
      details: `${gap.count === 1 ? `segment id ${gap.fromId} is` : `segment ids ${gap.fromId}..${gap.toId} (${gap.count}) are`} missing after the segment closed ${iso(s.closeTimeMs)}: ${gap.cause}`,
    };
  }
  const n = segs[piece.seg + 1];
  if (!n)
    return {
      cause: "node-silent",
      details: `no segment closed after ${iso(s.closeTimeMs)} is in the archive`,
    };
  // RPO at T = (time the next segment stayed open) + (time it waited for the archive): the larger names the cause
  const openPart = Math.min(n.closeTimeMs, at) - s.closeTimeMs;
  const lagPart = at - Math.min(n.closeTimeMs, at);
  if (lagPart > openPart) {
    return {
      cause: "archive-lag",
      details: `segment ${n.segmentId} closed ${iso(n.closeTimeMs)} reached the archive ${iso(arrival(n))} (lag ${humanDuration(arrival(n) - n.closeTimeMs)})`,
    };
  }
  if (n.run !== s.run) {
    return {
      cause: "node-silent",
      details: `no segment closed between ${iso(s.closeTimeMs)} and ${iso(n.closeTimeMs)} (the node restarted: a new commit log run begins)`,
    };
  }
  return {
    cause: "quiet-segment",
    details: `segment ${n.segmentId} stayed open ${humanDuration(n.closeTimeMs - s.closeTimeMs)} (${iso(s.closeTimeMs)} .. ${iso(n.closeTimeMs)}): a quiet node fills segments slowly`,
  };
}

interface BreachOpen {
  startAt: number;
  endAt: number;
  peak: number;
  peakAt: number;
  piece: Piece;
}

/** Breach intervals (RPO above target), merged when adjacent, each with its worst instant. Pure. */
function breachWindows(
  pieces: readonly Piece[],
  targetRpoMs: number,
): { windows: BreachOpen[]; breachMs: number; maxRpo: number | null } {
  const windows: BreachOpen[] = [];
  let breachMs = 0;
  let maxRpo: number | null = 0;
  for (const p of pieces) {
    const start = p.r === undefined ? p.a : Math.max(p.a, p.r + targetRpoMs);
    const rpoAtEnd = p.r === undefined ? Infinity : p.b - p.r;
    if (maxRpo !== null) maxRpo = rpoAtEnd === Infinity ? null : Math.max(maxRpo, rpoAtEnd);
    if (start >= p.b) continue;
    breachMs += p.b - start;
    const last = windows[windows.length - 1];
    if (last && last.endAt === start) {
      last.endAt = p.b;
      if (rpoAtEnd > last.peak) Object.assign(last, { peak: rpoAtEnd, peakAt: p.b, piece: p });
    } else windows.push({ startAt: start, endAt: p.b, peak: rpoAtEnd, peakAt: p.b, piece: p });
  }
  return { windows, breachMs, maxRpo };
}

/** The chart series: the worst RPO in each bucket of `stepMs` (null: nothing restorable). Pure. */
function rpoSeries(pieces: readonly Piece[], fromMs: number, toMs: number, stepMs: number): SeriesPoint[] {
  const series: SeriesPoint[] = [];
  let pi = 0;
  for (let at = fromMs; at < toMs; at += stepMs) {
    const end = Math.min(at + stepMs, toMs);
    while (pi < pieces.length && pieces[pi]!.b <= at) pi++;
    let m: number | null = 0;
    for (let k = pi; k < pieces.length && pieces[k]!.a < end; k++) {
      const p = pieces[k]!;
      if (p.r === undefined) {
        m = null;
        break;
      }
      m = Math.max(m, Math.min(p.b, end) - p.r);
    }
    series.push({ at, maxRpoMs: m });
  }
  return series;
}

/** Segments closed in the window: archive lags (sorted), those of unknown arrival, and the timeline buckets. Pure. */
function segmentLags(input: NodeInput, series: readonly SeriesPoint[], r: ReportInput, stepMs: number) {
  const inWindow = input.catalog.segments.filter((s) => s.closeTimeMs >= r.fromMs && s.closeTimeMs <= r.toMs);
  const lags: number[] = [];
  let unknown = 0;
  const buckets = series.map((p) => ({ at: p.at, segments: 0, maxLagMs: 0, gap: false }));
  for (const s of inWindow) {
    const a = input.archiveTimes.get(s.key);
    if (a === undefined) unknown++;
    const lag = Math.max(0, (a ?? s.closeTimeMs) - s.closeTimeMs);
    lags.push(lag);
    const bucket = buckets[Math.min(buckets.length - 1, Math.floor((s.closeTimeMs - r.fromMs) / stepMs))];
    if (bucket) {
      bucket.segments++;
      bucket.maxLagMs = Math.max(bucket.maxLagMs, lag);
    }
  }
  lags.sort((x, y) => x - y);
  return { inWindow, lags, unknown, buckets };
}

/** The catalog's gaps as the report shows them, with the close times around each. Pure. */
function gapSummaries(catalog: Catalog) {
  const byId = new Map(catalog.segments.map((s) => [s.segmentId, s]));
  return catalog.gaps.map((g) => ({
    fromId: g.fromId.toString(),
    toId: g.toId.toString(),
    count: g.count,
    fromAt: g.afterCloseMs,
    toAt: byId.get(g.beforeId)?.closeTimeMs ?? null,
    cause: g.cause,
  }));
}

function markGaps(
  buckets: { at: number; gap: boolean }[],
  gaps: readonly { fromAt: number; toAt: number | null }[],
  stepMs: number,
): void {
  for (const g of gaps) {
    const end = g.toAt ?? g.fromAt;
    for (const b of buckets) if (b.at + stepMs > g.fromAt && b.at <= end) b.gap = true;
  }
}

/** Coverage ranges (wal-verify style): found stretches between gaps, and the lost ranges. Pure. */
export function coverageRanges(catalog: Catalog): CoverageRange[] {
  const coverage: CoverageRange[] = [];
  const segs = catalog.segments;
  let runStart = 0;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const gap = catalog.gaps.find((g) => g.afterId === s.segmentId);
    if (gap || i === segs.length - 1) {
      const first = segs[runStart]!;
      coverage.push({
        fromId: first.segmentId.toString(),
        toId: s.segmentId.toString(),
        fromCloseAt: first.closeTimeMs,
        toCloseAt: s.closeTimeMs,
        count: i - runStart + 1,
        status: "found",
        details: "archived, consecutive",
      });
      if (gap) {
        coverage.push({
          fromId: gap.fromId.toString(),
          toId: gap.toId.toString(),
          fromCloseAt: null,
          toCloseAt: null,
          count: gap.count,
          status: "lost",
          details: gap.cause,
        });
      }
      runStart = i + 1;
    }
  }
  return coverage;
}

/** A node's RPO pieces over the report's window. Pure. */
function nodePieces(input: NodeInput, r: ReportInput): Piece[] {
  const arrival = (s: CatalogSegment) => input.archiveTimes.get(s.key) ?? s.closeTimeMs;
  const uploaded = (s: SnapshotEntry) => input.snapshotUploadedAt?.get(s.tag) ?? s.snapshotTimeMs;
  return piecesOf(restorableSteps(input.catalog, arrival, uploaded, input.partials), r.fromMs, r.toMs);
}

/** The RPO of each cluster with two or more nodes in the report: at every instant, the worst node's. Pure. */
export function clusterRpos(r: ReportInput, nodes: readonly NodeReport[]): ClusterRpo[] {
  const byCluster = new Map<string, NodeInput[]>();
  for (const n of r.nodes)
    byCluster.set(n.catalog.identity.cluster, [...(byCluster.get(n.catalog.identity.cluster) ?? []), n]);
  const out: ClusterRpo[] = [];
  for (const [cluster, inputs] of [...byCluster].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (inputs.length < 2) continue;
    const reports = nodes.filter((n) => n.cluster === cluster);
    const windows = inputs.flatMap((n) =>
      breachWindows(nodePieces(n, r), r.targetRpoMs).windows.map((w) => ({
        startAt: w.startAt,
        endAt: w.endAt,
        node: n.catalog.identity.node,
      })),
    );
    const merged = mergeWindows(windows);
    const breachMs = merged.reduce((sum, w) => sum + w.durationMs, 0);
    const worst = (values: readonly (number | null)[]): number | null =>
      values.some((v) => v === null) ? null : Math.max(...(values as number[]));
    out.push({
      cluster,
      nodes: reports.map((n) => n.node),
      withinTargetShare: 1 - breachMs / Math.max(1, r.toMs - r.fromMs),
      breachMs,
      maxRpoMs: worst(reports.map((n) => n.rpo.maxRpoMs)),
      endRpoMs: worst(reports.map((n) => n.rpo.endRpoMs)),
      breachWindows: merged,
      series: reports[0]!.series.map((p, i) => ({
        at: p.at,
        maxRpoMs: worst(reports.map((n) => n.series[i]?.maxRpoMs ?? null)),
      })),
    });
  }
  return out;
}

/** Overlapping or touching [startAt, endAt) windows merged, each naming the nodes in it. Pure. */
function mergeWindows(
  windows: readonly { startAt: number; endAt: number; node: string }[],
): ClusterRpo["breachWindows"] {
  const sorted = [...windows].sort((a, b) => a.startAt - b.startAt || a.endAt - b.endAt);
  const merged: { startAt: number; endAt: number; nodes: Set<string> }[] = [];
  for (const w of sorted) {
    const last = merged[merged.length - 1];
    if (last && w.startAt <= last.endAt) {
      last.endAt = Math.max(last.endAt, w.endAt);
      last.nodes.add(w.node);
    } else merged.push({ startAt: w.startAt, endAt: w.endAt, nodes: new Set([w.node]) });
  }
  return merged.map((w) => ({
    startAt: w.startAt,
    endAt: w.endAt,
    durationMs: w.endAt - w.startAt,
    nodes: [...w.nodes].sort(),
  }));
}

function nodeReport(input: NodeInput, r: ReportInput, stepMs: number): NodeReport {
  const { catalog } = input;
  const { fromMs, toMs, nowMs, targetRpoMs } = r;
  const arrival = (s: CatalogSegment) => input.archiveTimes.get(s.key) ?? s.closeTimeMs;
  const uploaded = (s: SnapshotEntry) => input.snapshotUploadedAt?.get(s.tag) ?? s.snapshotTimeMs;
  const pieces = nodePieces(input, r);

  const { windows, breachMs, maxRpo } = breachWindows(pieces, targetRpoMs);
  const worst = worstWindows(windows, r.worstWindows ?? 5, (w) =>
    causeAt(catalog, w.piece, w.peakAt - 1, arrival, uploaded),
  );
  const lastPiece = pieces[pieces.length - 1];
  const endRpoMs = lastPiece === undefined || lastPiece.r === undefined ? null : toMs - lastPiece.r;
  const span = Math.max(1, toMs - fromMs);

  const series = rpoSeries(pieces, fromMs, toMs, stepMs);

  const { inWindow, lags, unknown, buckets } = segmentLags(input, series, r, stepMs);
  const gaps = gapSummaries(catalog);
  markGaps(buckets, gaps, stepMs);

  const coverage = coverageRanges(catalog);
  const segs = catalog.segments;

  const snapshots = catalog.snapshots.filter((s) => s.complete);
  const newestSnap = snapshots.filter((s) => s.snapshotTimeMs <= nowMs).at(-1);
  const newestInc = catalog.incrementals.filter((s) => s.foundTimeMs <= nowMs).at(-1);
  const newestSeg = segs.filter((s) => s.closeTimeMs <= nowMs).at(-1);

  const share = 1 - breachMs / span;
  const p95 = percentile(lags, 0.95);
  const drills = [...(input.drills ?? [])].sort((x, y) => x.ranAt - y.ranAt);
  const checks: Check[] = [
    rpoCheck(targetRpoMs, { breachMs, maxRpo, windows: windows.length, share, worst: worst[0], toMs }),
    chainCheck(catalog, gaps),
    snapshotCheck(newestSnap, nowMs),
    lagCheck(lags, p95, targetRpoMs),
    drillCheck(drills.at(-1)),
  ];

  return {
    cluster: catalog.identity.cluster,
    node: catalog.identity.node,
    status: worstStatus(checks.map((c) => c.status)),
    checks,
    rpo: {
      targetMs: targetRpoMs,
      withinTargetShare: Math.round(share * 1e6) / 1e6,
      breachMs,
      maxRpoMs: maxRpo,
      endRpoMs,
      worst,
      breachWindows: windows.length,
    },
    restorable: catalog.restorable
      ? {
          earliestAt: catalog.restorable.earliestMs,
          latestAt: catalog.restorable.latestMs,
          snapshot: catalog.restorable.snapshotTag,
        }
      : null,
    ages: {
      snapshotMs: newestSnap ? nowMs - newestSnap.snapshotTimeMs : null,
      incrementalMs: newestInc ? nowMs - newestInc.foundTimeMs : null,
      segmentMs: newestSeg ? nowMs - newestSeg.closeTimeMs : null,
    },
    storage: {
      segmentBytes: segs.reduce((sum, s) => sum + s.storedBytes, 0),
      snapshotBytes: snapshots.reduce((sum, s) => sum + snapshotBytes(s), 0),
      incrementalBytes: catalog.incrementals.reduce((sum, i) => sum + i.bytes, 0),
      segmentBytesPerDay: Math.round(
        (inWindow.reduce((sum, s) => sum + s.storedBytes, 0) * 86_400_000) / span,
      ),
      localSnapshots: input.localSnapshots ?? null,
    },
    archiveLag: {
      segments: lags.length,
      unknown,
      p50Ms: percentile(lags, 0.5),
      p95Ms: p95,
      maxMs: lags[lags.length - 1] ?? 0,
    },
    counts: {
      segments: segs.length,
      snapshots: snapshots.length,
      incrementals: catalog.incrementals.length,
      gaps: catalog.gaps.length,
      runs: catalog.runs.length,
    },
    coverage,
    series,
    timeline: buckets,
    snapshots: snapshots.map((s) => ({ tag: s.tag, at: s.snapshotTimeMs, uploadedAt: uploaded(s) })),
    gaps,
    drills,
    ...partialSummary(input.partials),
    ...exposureSummary(input.exposure),
  };
}

/** The partial uploads as the report shows them; nothing when there are none. Pure. */
function partialSummary(claims: readonly PartialClaim[] | undefined): Pick<NodeReport, "partials"> {
  if (!claims || claims.length === 0) return {};
  const newest = claims.reduce((a, c) => (c.syncedBeforeMs > a.syncedBeforeMs ? c : a));
  return {
    partials: {
      objects: claims.length,
      bytes: claims.reduce((n, c) => n + c.bytes, 0),
      rescued: claims.filter((c) => c.source === "rescue").length,
      newestClaimAt: newest.syncedBeforeMs,
      newestUploadAt: Math.max(...claims.map((c) => c.uploadedAtMs)),
    },
  };
}

/** The node's exposure: bytes on its disk the archive lacks and the time range of writes they may hold. Pure. */
function exposureSummary(exposed: readonly ExposedSegmentInput[] | undefined): Pick<NodeReport, "exposure"> {
  if (!exposed) return {};
  const segments = exposed.map((e) => ({
    name: e.name,
    bytes: e.bytes,
    fromAt: e.sinceMs ?? null,
    toAt: e.untilMs,
  }));
  const froms = segments.map((e) => e.fromAt);
  return {
    exposure: {
      bytes: segments.reduce((n, e) => n + e.bytes, 0),
      fromAt: segments.length === 0 || froms.includes(null) ? null : Math.min(...(froms as number[])),
      toAt: segments.length === 0 ? null : Math.max(...segments.map((e) => e.toAt)),
      segments,
    },
  };
}

/**
 * The `limit` worst breach windows: highest peak first, then the longest, then the earliest. The
 * worst instant is the end of the piece (exclusive), so `causeOf` reads the cause just before it.
 */
function worstWindows<W extends { startAt: number; endAt: number; peak: number; peakAt: number }>(
  windows: readonly W[],
  limit: number,
  causeOf: (w: W) => { cause: BreachWindow["cause"]; details: string },
): BreachWindow[] {
  const ranked = [...windows].sort(
    (x, y) => y.peak - x.peak || y.endAt - y.startAt - (x.endAt - x.startAt) || x.startAt - y.startAt,
  );
  return ranked.slice(0, limit).map((w) => {
    const { cause, details } = causeOf(w);
    return {
      startAt: w.startAt,
      endAt: w.endAt,
      durationMs: w.endAt - w.startAt,
      peakRpoMs: w.peak === Infinity ? null : w.peak,
      peakAt: w.peakAt,
      cause,
      details,
    };
  });
}

const snapshotBytes = (s: SnapshotEntry) =>
  s.tables.reduce((sum, t) => sum + t.sstables.reduce((x, y) => x + y.bytes, 0), 0);

const pct = (x: number) => `${(Math.floor(x * 10_000) / 100).toFixed(2)}%`;

function rpoCheck(
  targetRpoMs: number,
  b: {
    breachMs: number;
    maxRpo: number | null;
    windows: number;
    share: number;
    worst: BreachWindow | undefined;
    toMs: number;
  },
): Check {
  if (b.breachMs === 0) {
    return {
      id: "rpo-target",
      status: "ok",
      details: `RPO within ${humanDuration(targetRpoMs)} for the whole window (max ${b.maxRpo === null ? "unbounded" : humanDuration(b.maxRpo)})`,
    };
  }
  return {
    id: "rpo-target",
    status: "failure",
    details:
      `RPO above ${humanDuration(targetRpoMs)} for ${humanDuration(b.breachMs)} in ${b.windows} window(s) (${pct(b.share)} within target); ` +
      `worst ${b.worst?.peakRpoMs === null ? "unbounded (nothing restorable)" : humanDuration(b.worst?.peakRpoMs ?? 0)} at ${iso(b.worst?.peakAt ?? b.toMs)} (${b.worst?.cause})`,
  };
}

function chainCheck(catalog: Catalog, gaps: ReturnType<typeof gapSummaries>): Check {
  return catalog.gaps.length === 0
    ? {
        id: "segment-chain",
        status: "ok",
        details: `${catalog.segments.length} segment(s) in ${catalog.runs.length} run(s), no gap`,
      }
    : {
        id: "segment-chain",
        status: "failure",
        details: `${catalog.gaps.length} gap(s), ${catalog.gaps.reduce((n, g) => n + g.count, 0)} segment(s) lost: ids ${gaps.map((g) => (g.fromId === g.toId ? g.fromId : `${g.fromId}..${g.toId}`)).join(", ")}`,
      };
}

function snapshotCheck(newestSnap: SnapshotEntry | undefined, nowMs: number): Check {
  return newestSnap
    ? {
        id: "snapshot",
        status: "ok",
        details: `newest complete snapshot '${newestSnap.tag}' taken ${iso(newestSnap.snapshotTimeMs)} (${humanDuration(nowMs - newestSnap.snapshotTimeMs)} ago)`,
      }
    : { id: "snapshot", status: "failure", details: "no complete snapshot: nothing is restorable" };
}

function lagCheck(lags: readonly number[], p95: number, targetRpoMs: number): Check {
  return p95 <= targetRpoMs
    ? {
        id: "archive-lag",
        status: "ok",
        details: `p95 archive lag ${humanDuration(p95)} over ${lags.length} segment(s) closed in the window`,
      }
    : {
        id: "archive-lag",
        status: "warning",
        details: `p95 archive lag ${humanDuration(p95)} exceeds the target ${humanDuration(targetRpoMs)} (max ${humanDuration(lags[lags.length - 1] ?? 0)})`,
      };
}

function drillCheck(lastDrill: DrillEvidence | undefined): Check {
  if (!lastDrill)
    return {
      id: "restore-drill",
      status: "warning",
      details: "no restore drill recorded (cassandra-pitr verify --drill)",
    };
  return lastDrill.status === "passed"
    ? {
        id: "restore-drill",
        status: "ok",
        details: `restore drill at ${iso(lastDrill.ranAt)} to ${iso(lastDrill.restorePointAt)} passed`,
      }
    : {
        id: "restore-drill",
        status: "failure",
        details: `restore drill at ${iso(lastDrill.ranAt)} failed: ${lastDrill.details}`,
      };
}

/** Canonical JSON of a model (bigint-free by construction), used for the digest. */
function canonical(value: unknown): string {
  return JSON.stringify(value);
}

export function buildReport(input: ReportInput): ReportModel {
  if (!(input.toMs > input.fromMs))
    throw new RangeError(`empty window ${iso(input.fromMs)} .. ${iso(input.toMs)}`);
  const stepMs = input.stepMs ?? defaultStepMs(input.fromMs, input.toMs);
  const nodes = input.nodes
    .map((n) => nodeReport(n, input, stepMs))
    .sort((a, b) => (a.cluster + "/" + a.node < b.cluster + "/" + b.node ? -1 : 1));
  const breached = nodes.filter((n) => n.rpo.breachMs > 0);
  const checks: Check[] = [
    breached.length === 0
      ? {
          id: "rpo-target",
          status: "ok",
          details: `all ${nodes.length} node(s) within ${humanDuration(input.targetRpoMs)} for the whole window`,
        }
      : {
          id: "rpo-target",
          status: "failure",
          details: `${breached.length} of ${nodes.length} node(s) above ${humanDuration(input.targetRpoMs)}: ${breached.map((n) => n.node).join(", ")}`,
        },
  ];
  for (const id of ["segment-chain", "snapshot", "archive-lag", "restore-drill"]) {
    const per = nodes.map((n) => ({ node: n.node, check: n.checks.find((c) => c.id === id)! }));
    const status = worstStatus(per.map((p) => p.check.status));
    const bad = per.filter((p) => p.check.status !== "ok");
    checks.push({
      id,
      status,
      details:
        bad.length === 0
          ? `ok on all ${nodes.length} node(s)`
          : bad.map((p) => `${p.node}: ${p.check.details}`).join("; "),
    });
  }
  const draft: ReportModel = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    status: worstStatus(checks.map((c) => c.status)),
    checks,
    window: { fromAt: input.fromMs, toAt: input.toMs, stepMs },
    targetRpoMs: input.targetRpoMs,
    nodes,
    clusters: clusterRpos(input, nodes),
    evidence: {
      toolVersion: input.toolVersion,
      generatedAt: input.nowMs,
      archive: input.archive,
      inputs: {
        nodes: nodes.map((n) => `${n.cluster}/${n.node}`),
        segmentsRead: input.nodes.reduce((s, n) => s + n.catalog.segments.length, 0),
        snapshotsRead: input.nodes.reduce((s, n) => s + n.catalog.snapshots.length, 0),
        incrementalsRead: input.nodes.reduce((s, n) => s + n.catalog.incrementals.length, 0),
        archiveTimesKnown: input.nodes.reduce(
          (s, n) => s + n.catalog.segments.filter((x) => n.archiveTimes.has(x.key)).length,
          0,
        ),
      },
      digest: "",
    },
  };
  const digest = createHash("sha256").update(canonical(draft)).digest("hex");
  return { ...draft, evidence: { ...draft.evidence, digest } };
}

/** Recomputes the digest of a model (for `verify` of a stored report and the tests). */
export function digestOf(model: ReportModel): string {
  return createHash("sha256")
    .update(canonical({ ...model, evidence: { ...model.evidence, digest: "" } }))
    .digest("hex");
}

/** Exit status of a report: 3 when any check failed (target breached, gap, nothing restorable). */
export function reportBreached(model: ReportModel): boolean {
  return model.status === "failure";
}
