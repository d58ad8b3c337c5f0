/**
 * planRestore: a pure function of (Catalog, request) → RestorePlan, or a PlanRefusedError. No clock,
 * no I/O: `now` is an input. Rules: cassandra-internals.md "Restore planner" and §1.6, §2.2.
 *
 * - Base: the newest complete snapshot taken at or before T that holds every table in scope.
 * - Incrementals found after the snapshot whose data Cassandra would apply in full at T.
 * - Segments: from the one holding the oldest commit log position not in the snapshot (min over the
 *   tables of their newest sstable upper bound; else the first segment closed at or after the
 *   snapshot time) through the first segment closed at or after T, plus every segment closed up to
 *   T + grace. Over-supplying is safe (Cassandra filters per mutation); under-supplying loses data.
 */
import { segmentNameOfKey } from "../format/layout.js";
import {
  chainEnd,
  snapshotStartSegmentId,
  type Catalog,
  type CatalogSegment,
  type SnapshotEntry,
} from "../catalog/model.js";
import { abandonedBy, branchCutoffsFor, type Branch } from "./branches.js";
import { formatInstant, formatRestorePoint } from "./time.js";
import {
  PlanRefusedError,
  RESTORE_COMMAND,
  RESTORE_DIR_PLACEHOLDER,
  type IncrementalStep,
  type PlanRequest,
  type PlanTruncation,
  type RestorePlan,
  type BranchCutoff,
  type SegmentStep,
  type SkippedItem,
  type SnapshotStep,
  type TableRef,
} from "./plan.js";
import {
  laterIdsOf,
  refuseDroppedOrRecreated,
  schemaChanges,
  truncatedIncremental,
  truncationsAt,
} from "./table-history.js";
import {
  capabilitiesOf,
  effectiveCutoffMicros,
  isAppliedAt,
  releaseReading,
  type Precision,
} from "./versions.js";

const iso = (ms: number) => new Date(ms).toISOString();
const micros = (ms: number) => BigInt(ms) * 1000n;
const msOf = (us: bigint) => Number(us / 1000n);
const qualified = (t: { keyspace: string; table: string }) => `${t.keyspace}.${t.table}`;

interface ResolvedScope {
  readonly kind: "node" | "keyspaces" | "tables";
  readonly keyspaces: ReadonlySet<string>;
  readonly tables: ReadonlySet<string>;
}

function resolveScope(catalog: Catalog, request: PlanRequest): ResolvedScope {
  const keyspaces = new Set(request.scope?.keyspaces ?? []);
  const tables = new Set(request.scope?.tables ?? []);
  const knownTables = new Set<string>(Object.keys(request.currentTableIds ?? {}));
  for (const s of catalog.snapshots) for (const t of s.tables) knownTables.add(qualified(t));
  const knownKeyspaces = new Set([...knownTables].map((t) => t.slice(0, t.indexOf("."))));
  const unknown = [
    ...[...keyspaces].filter((k) => !knownKeyspaces.has(k)).map((k) => `keyspace '${k}'`),
    ...[...tables]
      .filter((t) => !knownTables.has(t))
      .map((t) => (/^[^.]+\.[^.]+$/.test(t) ? `table '${t}'` : `table '${t}' (expected keyspace.table)`)),
  ];
  if (unknown.length > 0) {
    throw new PlanRefusedError(
      "unknown-scope",
      `unknown ${unknown.join(", ")}: no snapshot of node ${catalog.identity.node} holds it`,
      {
        hint: `known tables: ${[...knownTables].sort().join(", ") || "none"}`,
      },
    );
  }
  const kind = tables.size > 0 ? "tables" : keyspaces.size > 0 ? "keyspaces" : "node";
  return { kind, keyspaces, tables };
}

function inScope(scope: ResolvedScope, t: { keyspace: string; table: string }): boolean {
  return scope.kind === "node" || scope.keyspaces.has(t.keyspace) || scope.tables.has(qualified(t));
}

function holdsScope(snap: SnapshotEntry, scope: ResolvedScope): boolean {
  const names = new Set(snap.tables.map(qualified));
  const keyspaces = new Set(snap.tables.map((t) => t.keyspace));
  return [...scope.tables].every((t) => names.has(t)) && [...scope.keyspaces].every((k) => keyspaces.has(k));
}

function idList(ids: readonly { fromId: bigint; toId: bigint }[]): string {
  return ids.map((g) => (g.fromId === g.toId ? `${g.fromId}` : `${g.fromId}..${g.toId}`)).join(", ");
}

function latestRestorableMs(catalog: Catalog): number | undefined {
  return catalog.restorable?.latestMs;
}

export function planRestore(catalog: Catalog, request: PlanRequest): RestorePlan {
  const at = request.at;
  refuseFuture(catalog, request);
  const scope = resolveScope(catalog, request);
  const branches = request.branches ?? [];
  const base = chooseSnapshot(catalog, scope, branches, at);
  const { snap, complete } = base;
  const { tables, goneTables } = tablesAtT(catalog, request, scope, base);
  const truncations = truncationsAt(request.tableEvents ?? [], tables, at);
  const schema = schemaChanges(snap, tables, complete, request.tableEvents ?? [], at);
  const range = segmentRange(catalog, request, scope, base, tables);
  const caps = capabilitiesOf(request.targetVersion ?? snap.cassandraVersion);
  refuseTooNew(range.selected, caps);

  const fractional = caps.fractionalRestorePoint;
  const precision = request.precision;
  const rules: StepRules = {
    at,
    snap,
    branches,
    applied: (ts) => isAppliedAt(ts, at, fractional, precision),
    truncationOf: (tableId) => truncations.find((x) => x.tableId === tableId),
  };
  const warnings: string[] = [];
  const skipped: SkippedItem[] = [...base.abandonedSnapshots, ...goneTables];
  const snapshotStep = snapshotStepOf(rules, tables, skipped, warnings);
  const incrementalSteps = incrementalStepsOf(rules, tables, catalog.incrementals, skipped);
  const segmentSteps = segmentStepsOf(rules, tables, range, request.graceMs);
  segmentWarnings(catalog, range, request.graceMs, skipped, warnings);

  const cutoffMicros = effectiveCutoffMicros(at, fractional, precision);
  const value = formatRestorePoint(at, fractional);
  const scopeTables: TableRef[] = snapshotStep.tables.map(({ keyspace, table, tableId }) => ({
    keyspace,
    table,
    tableId,
  }));
  if (!fractional && at % 1_000_000n > cutoffMicros % 1_000_000n) {
    warnings.push(
      `Cassandra ${caps.version.text} ignores the fraction of the restore point: writes stamped after ${formatInstant(cutoffMicros)} up to ${formatInstant(at)} will not be restored`,
    );
  }
  const bytes = {
    snapshot: snapshotStep.bytes,
    incrementals: incrementalSteps.reduce((n, s) => n + s.bytes, 0),
    segments: segmentSteps.reduce((n, s) => n + s.bytes, 0),
  };
  return {
    schemaVersion: 1,
    node: catalog.identity,
    archive: request.archiveUrl,
    at,
    targetVersion: caps.version.text,
    precision,
    graceMs: request.graceMs,
    scope: { kind: scope.kind, tables: scopeTables },
    steps: [snapshotStep, ...incrementalSteps, ...segmentSteps],
    skipped,
    cutoff: {
      value,
      fractional,
      effectiveMicros: cutoffMicros,
      statement: cutoffStatement(caps.version.text, at, fractional, precision, cutoffMicros),
    },
    properties: restoreProperties(request, value),
    jvmOptions:
      scope.kind === "node" ? [] : [`-Dcassandra.replayList=${scopeTables.map(qualified).sort().join(",")}`],
    bytes: { ...bytes, total: bytes.snapshot + bytes.incrementals + bytes.segments },
    warnings,
    ...(truncations.length > 0 ? { truncations } : {}),
    ...(schema.changes.length > 0 ? { schemaChanges: schema.changes } : {}),
    ...(schema.newest
      ? { schemaSnapshot: { tag: schema.newest.tag, snapshotTimeMs: schema.newest.snapshotTimeMs } }
      : {}),
  };
}

/** The newest instant the catalog can restore to, for messages. */
function latestText(catalog: Catalog): string {
  const latestMs = latestRestorableMs(catalog);
  return latestMs === undefined ? "none (no snapshot with an archived segment chain)" : iso(latestMs);
}

function refuseFuture(catalog: Catalog, request: PlanRequest): void {
  if (request.at <= micros(request.now)) return;
  const latestMs = latestRestorableMs(catalog);
  throw new PlanRefusedError(
    "in-future",
    `restore point ${formatInstant(request.at)} is in the future (now ${iso(request.now)}); the latest restorable instant is ${latestText(catalog)}`,
    {
      nearest: latestMs === undefined ? undefined : micros(latestMs),
    },
  );
}

/** The base: the newest complete snapshot at or before T holding the scope, not taken on an abandoned history. */
interface BaseSnapshot {
  readonly snap: SnapshotEntry;
  /** Every complete snapshot holding the scope on the history in force, oldest first. */
  readonly complete: readonly SnapshotEntry[];
  readonly abandonedSnapshots: readonly SkippedItem[];
}

function chooseSnapshot(
  catalog: Catalog,
  scope: ResolvedScope,
  branches: readonly Branch[],
  at: bigint,
): BaseSnapshot {
  const abandonedSnapshots: SkippedItem[] = [];
  const complete = catalog.snapshots.filter((s) => {
    if (!s.complete || !holdsScope(s, scope)) return false;
    const b = s.tables
      .filter((t) => inScope(scope, t))
      .map((t) => abandonedBy(branches, at, t.tableId, s.snapshotTimeMs))
      .find((x) => x !== undefined);
    if (b)
      abandonedSnapshots.push({
        kind: "snapshot",
        name: s.tag,
        reason: `taken on a history a restore abandoned (writes after ${b.restorePoint} undone on ${iso(b.restoredAtMs)})`,
      });
    return b === undefined;
  });
  const snap = complete.filter((s) => micros(s.snapshotTimeMs) <= at).at(-1);
  if (snap) return { snap, complete, abandonedSnapshots };
  const next = complete.find((s) => micros(s.snapshotTimeMs) > at);
  throw new PlanRefusedError(
    "no-snapshot",
    `no complete snapshot at or before ${formatInstant(at)}` +
      (scope.kind === "node" ? "" : ` holding ${[...scope.keyspaces, ...scope.tables].join(", ")}`) +
      (next
        ? `; the earliest restorable instant is ${iso(next.snapshotTimeMs)} (snapshot '${next.tag}')`
        : "; there is no complete snapshot to restore from"),
    {
      nearest: next ? micros(next.snapshotTimeMs) : undefined,
      hint: "take a snapshot (cassandra-pitr snapshot) and keep segments archived from then on",
    },
  );
}

type SnapshotTableEntry = SnapshotEntry["tables"][number];

/**
 * The base's tables in scope that existed at T. Commit log mutations are keyed by table id
 * (table-history.ts): a table dropped at or before T and never re-created did not exist at T, so a
 * node or keyspace restore leaves it out; naming it with --table is refused.
 */
function tablesAtT(
  catalog: Catalog,
  request: PlanRequest,
  scope: ResolvedScope,
  base: BaseSnapshot,
): { tables: SnapshotTableEntry[]; goneTables: SkippedItem[] } {
  const { snap, complete } = base;
  const events = request.tableEvents ?? [];
  const goneTables: SkippedItem[] = [];
  const tables = snap.tables.filter((t) => {
    if (!inScope(scope, t)) return false;
    const laterIds = laterIdsOf(
      t,
      snap,
      complete,
      catalog.incrementals,
      request.currentTableIds?.[qualified(t)],
      request.now,
    );
    const gone = refuseDroppedOrRecreated(
      t,
      snap.tag,
      events,
      laterIds,
      request.at,
      scope.tables.has(qualified(t)),
      request.scratch === true,
    );
    if (gone) goneTables.push({ kind: "snapshot", name: `${snap.tag} ${qualified(t)}`, reason: gone });
    return gone === undefined;
  });
  return { tables, goneTables };
}

/** The segments a plan replays: from the snapshot's start segment to the end of the grace, gapless. */
interface SegmentRange {
  readonly startId: bigint;
  /** The first segment closed at or after T. */
  readonly firstId: bigint;
  readonly endId: bigint;
  readonly selected: readonly CatalogSegment[];
  readonly graceEndMs: number;
}

function segmentRange(
  catalog: Catalog,
  request: PlanRequest,
  scope: ResolvedScope,
  base: BaseSnapshot,
  tables: readonly SnapshotTableEntry[],
): SegmentRange {
  const { snap } = base;
  const scopedNames = scope.kind === "node" ? undefined : new Set(tables.map(qualified));
  const startId = snapshotStartSegmentId(catalog, snap, scopedNames);
  const atMs = msOf(request.at);
  const fromStart = startId === undefined ? [] : catalog.segments.filter((s) => s.segmentId >= startId);
  const first = fromStart.find((s) => s.closeTimeMs >= atMs);
  if (!first || startId === undefined) refuseAfterLatest(catalog, request.at, snap, startId);
  const graceEndMs = atMs + request.graceMs;
  let endId = first.segmentId;
  for (const s of fromStart) if (s.closeTimeMs <= graceEndMs && s.segmentId > endId) endId = s.segmentId;
  // A partial segment's claim vouches for the writes that went into it. If Cassandra had switched to
  // a newer segment before the claim (a rescued dead node often leaves two), writes stamped <= T may
  // be in that one: take the rest of the run too (the replay filter still withholds what is after T).
  if (first.partial)
    for (const s of fromStart) if (s.run === first.run && s.segmentId > endId) endId = s.segmentId;
  refuseGaps(catalog, request.at, base, startId, endId);
  const selected = catalog.segments.filter((s) => s.segmentId >= startId && s.segmentId <= endId);
  return { startId, firstId: first.segmentId, endId, selected, graceEndMs };
}

function refuseAfterLatest(
  catalog: Catalog,
  at: bigint,
  snap: SnapshotEntry,
  startId: bigint | undefined,
): never {
  const end = startId === undefined ? undefined : chainEnd(catalog, startId);
  const endSeg = end === undefined ? undefined : catalog.segments.find((s) => s.segmentId === end);
  const nearestMs =
    endSeg && endSeg.closeTimeMs >= snap.snapshotTimeMs ? endSeg.closeTimeMs : latestRestorableMs(catalog);
  throw new PlanRefusedError(
    "after-latest",
    `restore point ${formatInstant(at)} is after the newest archived segment's close time; the latest restorable instant is ${nearestMs === undefined ? "none" : iso(nearestMs)}`,
    {
      nearest: nearestMs === undefined ? undefined : micros(nearestMs),
      // Two causes look alike from one node's archive: the node was down (or not archiving) from
      // then on, or its newer writes sit in the segment still open. `plan --cluster` tells them apart.
      hint:
        "the node archived nothing closed at or after that instant: either it was down or not archiving from then on ('cassandra-pitr plan --cluster' plans such a node to its newest instant and says how to bring it level), " +
        "or its newer writes are in a segment Cassandra has not closed yet (no time-based switch; see commitlog_segment_size)",
    },
  );
}

/** Every id between start and end must be archived (run boundaries excepted). */
function refuseGaps(catalog: Catalog, at: bigint, base: BaseSnapshot, startId: bigint, endId: bigint): void {
  const { snap, complete } = base;
  const archived = (id: bigint) => catalog.segments.some((s) => s.segmentId === id);
  const missing = catalog.gaps.filter((g) => g.toId >= startId && g.fromId <= endId);
  if (!archived(startId) && !missing.some((g) => g.fromId <= startId && startId <= g.toId)) {
    missing.unshift({
      fromId: startId,
      toId: startId,
      count: 1,
      afterId: startId,
      beforeId: startId,
      afterCloseMs: snap.snapshotTimeMs,
      kind: "inside-run",
      cause: "start segment not archived",
    });
  }
  if (missing.length === 0) return;
  const before = missing[0]!;
  const beforeOk =
    archived(startId) && before.afterCloseMs >= snap.snapshotTimeMs ? before.afterCloseMs : undefined;
  const lastGap = missing[missing.length - 1]!;
  const nextSnap = complete.find((s) =>
    catalog.ranges.some(
      (r) =>
        r.snapshotTag === s.tag &&
        r.startSegmentId !== undefined &&
        r.startSegmentId > lastGap.toId &&
        r.toMs !== undefined,
    ),
  );
  const options = [
    beforeOk !== undefined ? `the latest restorable instant before the gap is ${iso(beforeOk)}` : undefined,
    nextSnap
      ? `the earliest after it is ${iso(nextSnap.snapshotTimeMs)} (snapshot '${nextSnap.tag}')`
      : undefined,
  ].filter((x) => x !== undefined);
  throw new PlanRefusedError(
    "segment-missing",
    `segment(s) ${idList(missing)} missing between snapshot '${snap.tag}' and ${formatInstant(at)}; ${options.length > 0 ? options.join("; ") : "no restorable instant nearby"}`,
    {
      nearest:
        beforeOk !== undefined ? micros(beforeOk) : nextSnap ? micros(nextSnap.snapshotTimeMs) : undefined,
      hint: `look for the missing segment(s) on the node (commit log directory, spool) and archive them with the agent; cause: ${before.cause}`,
    },
  );
}

function refuseTooNew(selected: readonly CatalogSegment[], caps: ReturnType<typeof capabilitiesOf>): void {
  const tooNew = selected.filter((s) => s.version > caps.maxCommitLogVersion);
  if (tooNew.length === 0) return;
  const versions = [...new Set(tooNew.map((s) => s.version))].sort();
  throw new PlanRefusedError(
    "segment-version",
    `segment(s) ${tooNew.map((s) => s.segmentId).join(", ")} have commit log version ${versions.join("/")}, newer than Cassandra ${caps.version.text} reads (${caps.maxCommitLogVersion}); restore into ${releaseReading(Math.max(...versions))} or later`,
    { hint: "5.0 writes version 8 outside storage_compatibility_mode CASSANDRA_4" },
  );
}

/** What the step builders share: the restore point, the base, and the rules Cassandra applies at T. */
interface StepRules {
  readonly at: bigint;
  readonly snap: SnapshotEntry;
  readonly branches: readonly Branch[];
  /** Whether Cassandra applies a write stamped `ts` at this restore point. */
  readonly applied: (ts: bigint) => boolean;
  readonly truncationOf: (tableId: string) => PlanTruncation | undefined;
}

/** A table truncated after the snapshot and at or before T gets none of its sstables. */
function truncatedInSnap(r: StepRules, t: { tableId: string }) {
  const tr = r.truncationOf(t.tableId);
  return tr !== undefined && r.snap.snapshotTimeMs <= tr.truncatedAtMs ? tr : undefined;
}

function snapshotStepOf(
  r: StepRules,
  tables: readonly SnapshotTableEntry[],
  skipped: SkippedItem[],
  warnings: string[],
): SnapshotStep {
  const { snap } = r;
  for (const t of tables) {
    const tr = truncatedInSnap(r, t);
    if (tr && t.sstables.length > 0)
      skipped.push({
        kind: "snapshot",
        name: `${snap.tag} ${qualified(t)}`,
        reason: `${t.sstables.length} sstable(s) taken before the TRUNCATE at ${iso(tr.truncatedAtMs)}, which discarded them`,
      });
  }
  const snapTables = tables.map((t) => {
    const kept = truncatedInSnap(r, t) ? [] : t.sstables;
    return {
      keyspace: t.keyspace,
      table: t.table,
      tableId: t.tableId,
      sstables: kept.map((s) => s.name),
      bytes: kept.reduce((n, s) => n + s.bytes, 0),
    };
  });
  for (const t of tables.filter((x) => !truncatedInSnap(r, x))) {
    const late = t.sstables.filter((s) => !r.applied(s.maxTimestamp));
    if (late.length > 0)
      warnings.push(
        `snapshot '${snap.tag}' table ${qualified(t)} holds writes stamped after the restore point (${late.map((s) => s.name).join(", ")}): client clocks ahead, or writes with future timestamps; they stay restored`,
      );
  }
  return {
    kind: "snapshot",
    tag: snap.tag,
    snapshotTimeMs: snap.snapshotTimeMs,
    tables: snapTables,
    bytes: snapTables.reduce((n, t) => n + t.bytes, 0),
    reason: `newest complete snapshot taken at or before ${formatInstant(r.at)} (${iso(snap.snapshotTimeMs)})`,
  };
}

function incrementalStepsOf(
  r: StepRules,
  tables: readonly SnapshotTableEntry[],
  incrementals: Catalog["incrementals"],
  skipped: SkippedItem[],
): IncrementalStep[] {
  const byName = new Map(tables.map((t) => [qualified(t), t] as const));
  const steps: IncrementalStep[] = [];
  for (const inc of incrementals) {
    const t = byName.get(qualified(inc));
    if (!t || inc.foundTimeMs <= r.snap.snapshotTimeMs) continue;
    const reason = incrementalSkipReason(r, t, inc);
    if (reason !== undefined) {
      skipped.push({ kind: "incremental", name: `${qualified(inc)}/${inc.sstable}`, reason });
      continue;
    }
    steps.push({
      kind: "incremental",
      keyspace: inc.keyspace,
      table: inc.table,
      sstable: inc.sstable,
      foundTimeMs: inc.foundTimeMs,
      maxTimestamp: inc.maxTimestamp,
      bytes: inc.bytes,
      reason: `flushed after the snapshot (found ${iso(inc.foundTimeMs)}); all its writes are at or before the restore point (max timestamp ${inc.maxTimestamp})`,
    });
  }
  return steps;
}

/** Why an incremental flushed after the base is not applied, or undefined when it is. */
function incrementalSkipReason(
  r: StepRules,
  t: SnapshotTableEntry,
  inc: Catalog["incrementals"][number],
): string | undefined {
  const truncated =
    inc.tableId === t.tableId ? truncatedIncremental(r.truncationOf(t.tableId), inc) : undefined;
  if (truncated) return truncated;
  if (inc.tableId !== t.tableId)
    return `table id ${inc.tableId} differs from the snapshot's ${t.tableId} (table re-created)`;
  if (abandonedIncremental(r.branches, r.at, inc))
    return `holds writes of a history a restore abandoned (max timestamp ${inc.maxTimestamp}, flushed before that restore)`;
  if (t.sstables.some((s) => s.name === inc.sstable)) return `already in snapshot '${r.snap.tag}'`;
  if (!r.applied(inc.maxTimestamp))
    return `holds writes after the restore point (max timestamp ${inc.maxTimestamp}); commit log replay restores its earlier rows`;
  return undefined;
}

function segmentStepsOf(
  r: StepRules,
  tables: readonly SnapshotTableEntry[],
  range: SegmentRange,
  graceMs: number,
): SegmentStep[] {
  const hasBounds = tables.some((t) => t.sstables.some((s) => s.commitLogUpper));
  return range.selected.map((s) => {
    const step: SegmentStep = {
      kind: "segment",
      segmentId: s.segmentId,
      version: s.version,
      name: segmentNameOfKey(s),
      key: s.key,
      closeTimeMs: s.closeTimeMs,
      bytes: s.storedBytes,
      ...branchCutoffsOf(r.branches, r.at, s.closeTimeMs),
      reason: segmentReason(r, s, range, hasBounds, graceMs),
    };
    const partial = s.partial ? `; ${describePartial(s.partial, step.closeTimeMs)}` : "";
    return { ...step, reason: `${step.reason}${partial}${abandonedNote(step)}` };
  });
}

function segmentReason(
  r: StepRules,
  s: CatalogSegment,
  range: SegmentRange,
  hasBounds: boolean,
  graceMs: number,
): string {
  if (s.segmentId === range.startId) {
    return hasBounds
      ? `holds the oldest commit log position not in the snapshot (sstable upper bound in segment ${range.startId})`
      : `active when the snapshot was taken (first segment closed at or after ${iso(r.snap.snapshotTimeMs)})`;
  }
  if (s.segmentId === range.firstId)
    return `active at the restore point (first segment closed at or after ${formatInstant(r.at)})`;
  if (s.closeTimeMs < msOf(r.at)) return "written between the snapshot and the restore point";
  return `closed within the grace (${graceMs} ms) after the restore point: late writes with older timestamps`;
}

/** The reason's tail for a segment of a history a restore abandoned. */
function abandonedNote(step: SegmentStep): string {
  if (!step.branchCutoffs) return "";
  const undone = step.branchCutoffs.map(
    (b) =>
      `after ${formatInstant(b.cutoffMicros)}${b.tableIds ? ` in ${b.tableIds.length} table(s)` : ""} (undone by the restore applied ${iso(b.restoredAtMs)})`,
  );
  return `; a restore abandoned its history: writes stamped ${undone.join(", ")} stay withheld`;
}

/** Duplicate copies in the range (skipped, a conflict copy warned about) and a grace beyond the archive. */
function segmentWarnings(
  catalog: Catalog,
  range: SegmentRange,
  graceMs: number,
  skipped: SkippedItem[],
  warnings: string[],
): void {
  for (const d of catalog.duplicates) {
    if (d.segmentId < range.startId || d.segmentId > range.endId) continue;
    for (const o of d.others) skipped.push({ kind: "segment-copy", name: o.key, reason: o.reason });
    if (d.others.some((o) => o.reason.startsWith("conflict")))
      warnings.push(
        `segment ${d.segmentId} has a conflict copy with different bytes; the first copy is used`,
      );
  }
  const newest = catalog.segments[catalog.segments.length - 1]!;
  if (graceMs > 0 && newest.closeTimeMs < range.graceEndMs) {
    warnings.push(
      `the grace reaches ${iso(range.graceEndMs)} but the archive ends at ${iso(newest.closeTimeMs)}: late writes after that are not in the plan`,
    );
  }
}

/** The commitlog_archiving.properties lines of the restore. */
function restoreProperties(request: PlanRequest, value: string): string[] {
  return [
    `restore_command=${request.restoreCommand ?? RESTORE_COMMAND}`,
    `restore_directories=${RESTORE_DIR_PLACEHOLDER}`,
    `restore_point_in_time=${value}`,
    `precision=${request.precision}`,
  ];
}

/** The cutoffs of the restores whose abandoned history this segment belongs to (none: no field). */
/** Says that a step is a partial segment, and what it holds. */
function describePartial(partial: NonNullable<CatalogSegment["partial"]>, claimMs: number): string {
  const who =
    partial.source === "rescue"
      ? "rescued from the node while it was down"
      : "uploaded by the agent while Cassandra wrote it";
  return `a partial segment (not closed by Cassandra; ${who}): its synced sections up to byte ${partial.endOffset}, every write before ${iso(claimMs)}, assembled and verified at restore and replayed like a crash-torn segment`;
}

function branchCutoffsOf(
  branches: readonly Branch[],
  at: bigint,
  closeTimeMs: number,
): { branchCutoffs?: BranchCutoff[] } {
  const cutoffs = branchCutoffsFor(branches, at, closeTimeMs).map((b) => ({
    tableIds: b.tableIds,
    cutoffMicros: b.cutoffMicros,
    restoredAtMs: b.restoredAtMs,
  }));
  return cutoffs.length > 0 ? { branchCutoffs: cutoffs } : {};
}

/** An incremental flushed before a restore that holds writes stamped after that restore's point. */
function abandonedIncremental(
  branches: readonly Branch[],
  at: bigint,
  inc: { tableId: string; foundTimeMs: number; maxTimestamp: bigint },
): boolean {
  return branches.some(
    (b) =>
      micros(b.restoredAtMs) <= at &&
      (b.tableIds === undefined || b.tableIds.includes(inc.tableId)) &&
      inc.foundTimeMs < b.restoredAtMs &&
      inc.maxTimestamp > b.cutoffMicros,
  );
}

function cutoffStatement(
  version: string,
  at: bigint,
  fractional: boolean,
  precision: Precision,
  cutoff: bigint,
): string {
  const unit = precision === "MICROSECONDS" ? "µs" : "ms";
  if (fractional) {
    return `Cassandra ${version} honours sub-second restore points (CASSANDRA-19448; expected from 4.0.14, 4.1.7, 5.0.1): a mutation is skipped when ${precision}.toMicros(max timestamp) > ${formatInstant(at)}; writes stamped up to ${formatInstant(cutoff)} (client timestamps in ${unit}) are applied`;
  }
  const second = formatRestorePoint(at, false);
  return `Cassandra ${version} reads restore_point_in_time in whole seconds (before CASSANDRA-19448; any fraction is ignored) and skips a mutation when ${precision}.toMillis(max timestamp) > ${second}.000 UTC in ms: writes stamped up to ${formatInstant(cutoff)} (client timestamps in ${unit}) are applied, later ones are not`;
}
