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
import { chainEnd, snapshotStartSegmentId, type Catalog, type CatalogSegment, type SnapshotEntry } from "../catalog/model.js";
import { abandonedBy, branchCutoffsFor, type Branch } from "./branches.js";
import { formatInstant, formatRestorePoint } from "./time.js";
import {
  PlanRefusedError,
  RESTORE_COMMAND,
  RESTORE_DIR_PLACEHOLDER,
  type IncrementalStep,
  type PlanRequest,
  type PlanStep,
  type RestorePlan,
  type BranchCutoff,
  type SegmentStep,
  type SkippedItem,
  type SnapshotStep,
  type TableRef,
} from "./plan.js";
import { laterIdsOf, refuseDroppedOrRecreated, schemaChanges, truncatedIncremental, truncationsAt } from "./table-history.js";
import { capabilitiesOf, effectiveCutoffMicros, isAppliedAt, releaseReading, type Precision } from "./versions.js";

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
    ...[...tables].filter((t) => !knownTables.has(t)).map((t) => (/^[^.]+\.[^.]+$/.test(t) ? `table '${t}'` : `table '${t}' (expected keyspace.table)`)),
  ];
  if (unknown.length > 0) {
    throw new PlanRefusedError("unknown-scope", `unknown ${unknown.join(", ")}: no snapshot of node ${catalog.identity.node} holds it`, {
      hint: `known tables: ${[...knownTables].sort().join(", ") || "none"}`,
    });
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
  const atText = formatInstant(at);
  const latestMs = latestRestorableMs(catalog);
  const latestText = latestMs === undefined ? "none (no snapshot with an archived segment chain)" : iso(latestMs);

  if (at > micros(request.now)) {
    throw new PlanRefusedError("in-future", `restore point ${atText} is in the future (now ${iso(request.now)}); the latest restorable instant is ${latestText}`, {
      nearest: latestMs === undefined ? undefined : micros(latestMs),
    });
  }

  const scope = resolveScope(catalog, request);
  const branches = request.branches ?? [];
  const abandonedSnapshots: SkippedItem[] = [];
  const complete = catalog.snapshots.filter((s) => {
    if (!s.complete || !holdsScope(s, scope)) return false;
    const b = s.tables.filter((t) => inScope(scope, t)).map((t) => abandonedBy(branches, at, t.tableId, s.snapshotTimeMs)).find((x) => x !== undefined);
    if (b) abandonedSnapshots.push({ kind: "snapshot", name: s.tag, reason: `taken on a history a restore abandoned (writes after ${b.restorePoint} undone on ${iso(b.restoredAtMs)})` });
    return b === undefined;
  });
  const snap = complete.filter((s) => micros(s.snapshotTimeMs) <= at).at(-1);
  if (!snap) {
    const next = complete.find((s) => micros(s.snapshotTimeMs) > at);
    throw new PlanRefusedError(
      "no-snapshot",
      `no complete snapshot at or before ${atText}` +
        (scope.kind === "node" ? "" : ` holding ${[...scope.keyspaces, ...scope.tables].join(", ")}`) +
        (next ? `; the earliest restorable instant is ${iso(next.snapshotTimeMs)} (snapshot '${next.tag}')` : "; there is no complete snapshot to restore from"),
      { nearest: next ? micros(next.snapshotTimeMs) : undefined, hint: "take a snapshot (cassandra-pitr snapshot) and keep segments archived from then on" },
    );
  }
  // Dropped and re-created tables: commit log mutations are keyed by table id (table-history.ts).
  // A table dropped at or before T and never re-created did not exist at T: a node or keyspace
  // restore leaves it out; naming it with --table is refused.
  const events = request.tableEvents ?? [];
  const goneTables: SkippedItem[] = [];
  const tables = snap.tables.filter((t) => {
    if (!inScope(scope, t)) return false;
    const gone = refuseDroppedOrRecreated(t, snap.tag, events, laterIdsOf(t, snap, complete, catalog.incrementals, request.currentTableIds?.[qualified(t)], request.now), at, scope.tables.has(qualified(t)));
    if (gone) goneTables.push({ kind: "snapshot", name: `${snap.tag} ${qualified(t)}`, reason: gone });
    return gone === undefined;
  });
  const truncations = truncationsAt(events, tables, at);
  const truncationOf = (tableId: string) => truncations.find((x) => x.tableId === tableId);
  const schema = schemaChanges(snap, tables, complete, events, at);

  const scopedNames = scope.kind === "node" ? undefined : new Set(tables.map(qualified));
  const startId = snapshotStartSegmentId(catalog, snap, scopedNames);
  const byId = new Map<bigint, CatalogSegment>(catalog.segments.map((s) => [s.segmentId, s]));
  const atMs = msOf(at);
  const fromStart = startId === undefined ? [] : catalog.segments.filter((s) => s.segmentId >= startId);
  const first = fromStart.find((s) => s.closeTimeMs >= atMs);
  if (!first || startId === undefined) {
    const end = startId === undefined ? undefined : chainEnd(catalog, startId);
    const endSeg = end === undefined ? undefined : byId.get(end);
    const nearestMs = endSeg && endSeg.closeTimeMs >= snap.snapshotTimeMs ? endSeg.closeTimeMs : latestMs;
    throw new PlanRefusedError(
      "after-latest",
      `restore point ${atText} is after the newest archived segment's close time; the latest restorable instant is ${nearestMs === undefined ? "none" : iso(nearestMs)}`,
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
  const graceEndMs = atMs + request.graceMs;
  let endId = first.segmentId;
  for (const s of fromStart) if (s.closeTimeMs <= graceEndMs && s.segmentId > endId) endId = s.segmentId;
  // A partial segment's claim vouches for the writes that went into it. If Cassandra had switched to
  // a newer segment before the claim (a rescued dead node often leaves two), writes stamped <= T may
  // be in that one: take the rest of the run too (the replay filter still withholds what is after T).
  if (first.partial) for (const s of fromStart) if (s.run === first.run && s.segmentId > endId) endId = s.segmentId;

  // Every id between start and end must be archived (run boundaries excepted).
  const missing = catalog.gaps.filter((g) => g.toId >= startId && g.fromId <= endId);
  if (!byId.has(startId) && !missing.some((g) => g.fromId <= startId && startId <= g.toId)) {
    missing.unshift({ fromId: startId, toId: startId, count: 1, afterId: startId, beforeId: startId, afterCloseMs: snap.snapshotTimeMs, kind: "inside-run", cause: "start segment not archived" });
  }
  if (missing.length > 0) {
    const before = missing[0]!;
    const beforeOk = byId.has(startId) && before.afterCloseMs >= snap.snapshotTimeMs ? before.afterCloseMs : undefined;
    const lastGap = missing[missing.length - 1]!;
    const nextSnap = complete.find((s) => catalog.ranges.some((r) => r.snapshotTag === s.tag && r.startSegmentId !== undefined && r.startSegmentId > lastGap.toId && r.toMs !== undefined));
    const options = [
      beforeOk !== undefined ? `the latest restorable instant before the gap is ${iso(beforeOk)}` : undefined,
      nextSnap ? `the earliest after it is ${iso(nextSnap.snapshotTimeMs)} (snapshot '${nextSnap.tag}')` : undefined,
    ].filter((x) => x !== undefined);
    throw new PlanRefusedError(
      "segment-missing",
      `segment(s) ${idList(missing)} missing between snapshot '${snap.tag}' and ${atText}; ${options.length > 0 ? options.join("; ") : "no restorable instant nearby"}`,
      {
        nearest: beforeOk !== undefined ? micros(beforeOk) : nextSnap ? micros(nextSnap.snapshotTimeMs) : undefined,
        hint: `look for the missing segment(s) on the node (commit log directory, spool) and archive them with the agent; cause: ${before.cause}`,
      },
    );
  }

  const selected = catalog.segments.filter((s) => s.segmentId >= startId && s.segmentId <= endId);
  const caps = capabilitiesOf(request.targetVersion ?? snap.cassandraVersion);
  const tooNew = selected.filter((s) => s.version > caps.maxCommitLogVersion);
  if (tooNew.length > 0) {
    const versions = [...new Set(tooNew.map((s) => s.version))].sort();
    throw new PlanRefusedError(
      "segment-version",
      `segment(s) ${tooNew.map((s) => s.segmentId).join(", ")} have commit log version ${versions.join("/")}, newer than Cassandra ${caps.version.text} reads (${caps.maxCommitLogVersion}); restore into ${releaseReading(Math.max(...versions))} or later`,
      { hint: "5.0 writes version 8 outside storage_compatibility_mode CASSANDRA_4" },
    );
  }

  const warnings: string[] = [];
  const skipped: SkippedItem[] = [...abandonedSnapshots, ...goneTables];
  const fractional = caps.fractionalRestorePoint;
  const precision = request.precision;
  const applied = (ts: bigint) => isAppliedAt(ts, at, fractional, precision);
  const cutoffMicros = effectiveCutoffMicros(at, fractional, precision);

  // Snapshot step. A table truncated after the snapshot and at or before T gets none of its sstables.
  const truncatedInSnap = (t: { tableId: string }) => {
    const tr = truncationOf(t.tableId);
    return tr !== undefined && snap.snapshotTimeMs <= tr.truncatedAtMs ? tr : undefined;
  };
  for (const t of tables) {
    const tr = truncatedInSnap(t);
    if (tr && t.sstables.length > 0) skipped.push({ kind: "snapshot", name: `${snap.tag} ${qualified(t)}`, reason: `${t.sstables.length} sstable(s) taken before the TRUNCATE at ${iso(tr.truncatedAtMs)}, which discarded them` });
  }
  const snapTables = tables.map((t) => {
    const kept = truncatedInSnap(t) ? [] : t.sstables;
    return { keyspace: t.keyspace, table: t.table, tableId: t.tableId, sstables: kept.map((s) => s.name), bytes: kept.reduce((n, s) => n + s.bytes, 0) };
  });
  for (const t of tables.filter((x) => !truncatedInSnap(x))) {
    const late = t.sstables.filter((s) => !applied(s.maxTimestamp));
    if (late.length > 0) warnings.push(`snapshot '${snap.tag}' table ${qualified(t)} holds writes stamped after the restore point (${late.map((s) => s.name).join(", ")}): client clocks ahead, or writes with future timestamps; they stay restored`);
  }
  const snapshotStep: SnapshotStep = {
    kind: "snapshot",
    tag: snap.tag,
    snapshotTimeMs: snap.snapshotTimeMs,
    tables: snapTables,
    bytes: snapTables.reduce((n, t) => n + t.bytes, 0),
    reason: `newest complete snapshot taken at or before ${atText} (${iso(snap.snapshotTimeMs)})`,
  };

  // Incrementals.
  const tableIds = new Map(tables.map((t) => [qualified(t), t] as const));
  const incrementalSteps: IncrementalStep[] = [];
  for (const inc of catalog.incrementals) {
    const t = tableIds.get(qualified(inc));
    if (!t || inc.foundTimeMs <= snap.snapshotTimeMs) continue;
    const name = `${qualified(inc)}/${inc.sstable}`;
    const truncated = inc.tableId === t.tableId ? truncatedIncremental(truncationOf(t.tableId), inc) : undefined;
    if (truncated) {
      skipped.push({ kind: "incremental", name, reason: truncated });
    } else if (inc.tableId !== t.tableId) {
      skipped.push({ kind: "incremental", name, reason: `table id ${inc.tableId} differs from the snapshot's ${t.tableId} (table re-created)` });
    } else if (abandonedIncremental(branches, at, inc)) {
      skipped.push({ kind: "incremental", name, reason: `holds writes of a history a restore abandoned (max timestamp ${inc.maxTimestamp}, flushed before that restore)` });
    } else if (t.sstables.some((s) => s.name === inc.sstable)) {
      skipped.push({ kind: "incremental", name, reason: `already in snapshot '${snap.tag}'` });
    } else if (!applied(inc.maxTimestamp)) {
      skipped.push({ kind: "incremental", name, reason: `holds writes after the restore point (max timestamp ${inc.maxTimestamp}); commit log replay restores its earlier rows` });
    } else {
      incrementalSteps.push({
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
  }

  // Segments.
  const hasBounds = tables.some((t) => t.sstables.some((s) => s.commitLogUpper));
  const segmentSteps: SegmentStep[] = selected.map((s) => ({
    kind: "segment",
    segmentId: s.segmentId,
    version: s.version,
    name: segmentNameOfKey(s),
    key: s.key,
    closeTimeMs: s.closeTimeMs,
    bytes: s.storedBytes,
    ...branchCutoffsOf(branches, at, s.closeTimeMs),
    reason:
      s.segmentId === startId
        ? hasBounds
          ? `holds the oldest commit log position not in the snapshot (sstable upper bound in segment ${startId})`
          : `active when the snapshot was taken (first segment closed at or after ${iso(snap.snapshotTimeMs)})`
        : s.segmentId === first.segmentId
          ? `active at the restore point (first segment closed at or after ${atText})`
          : s.closeTimeMs < atMs
            ? "written between the snapshot and the restore point"
            : `closed within the grace (${request.graceMs} ms) after the restore point: late writes with older timestamps`,
  }));
  for (const [i, step] of segmentSteps.entries()) {
    const partial = selected[i]!.partial;
    if (partial) segmentSteps[i] = { ...step, reason: `${step.reason}; ${describePartial(partial, step.closeTimeMs)}` };
  }
  for (const [i, step] of segmentSteps.entries()) {
    if (!step.branchCutoffs) continue;
    const undone = step.branchCutoffs.map((b) => `after ${formatInstant(b.cutoffMicros)}${b.tableIds ? ` in ${b.tableIds.length} table(s)` : ""} (undone by the restore applied ${iso(b.restoredAtMs)})`);
    segmentSteps[i] = { ...step, reason: `${step.reason}; a restore abandoned its history: writes stamped ${undone.join(", ")} stay withheld` };
  }
  for (const d of catalog.duplicates) {
    if (d.segmentId < startId || d.segmentId > endId) continue;
    for (const o of d.others) skipped.push({ kind: "segment-copy", name: o.key, reason: o.reason });
    if (d.others.some((o) => o.reason.startsWith("conflict"))) warnings.push(`segment ${d.segmentId} has a conflict copy with different bytes; the first copy is used`);
  }
  const newest = catalog.segments[catalog.segments.length - 1]!;
  if (request.graceMs > 0 && newest.closeTimeMs < graceEndMs) {
    warnings.push(`the grace reaches ${iso(graceEndMs)} but the archive ends at ${iso(newest.closeTimeMs)}: late writes after that are not in the plan`);
  }

  // Properties and JVM options.
  const value = formatRestorePoint(at, fractional);
  const properties = [
    `restore_command=${request.restoreCommand ?? RESTORE_COMMAND}`,
    `restore_directories=${RESTORE_DIR_PLACEHOLDER}`,
    `restore_point_in_time=${value}`,
    `precision=${precision}`,
  ];
  const scopeTables: TableRef[] = snapTables.map(({ keyspace, table, tableId }) => ({ keyspace, table, tableId }));
  const jvmOptions = scope.kind === "node" ? [] : [`-Dcassandra.replayList=${scopeTables.map(qualified).sort().join(",")}`];
  const statement = cutoffStatement(caps.version.text, at, fractional, precision, cutoffMicros);
  if (!fractional && at % 1_000_000n > cutoffMicros % 1_000_000n) {
    warnings.push(`Cassandra ${caps.version.text} ignores the fraction of the restore point: writes stamped after ${formatInstant(cutoffMicros)} up to ${atText} will not be restored`);
  }

  const steps: PlanStep[] = [snapshotStep, ...incrementalSteps, ...segmentSteps];
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
    steps,
    skipped,
    cutoff: { value, fractional, effectiveMicros: cutoffMicros, statement },
    properties,
    jvmOptions,
    bytes: { ...bytes, total: bytes.snapshot + bytes.incrementals + bytes.segments },
    warnings,
    ...(truncations.length > 0 ? { truncations } : {}),
    ...(schema.changes.length > 0 ? { schemaChanges: schema.changes } : {}),
    ...(schema.newest ? { schemaSnapshot: { tag: schema.newest.tag, snapshotTimeMs: schema.newest.snapshotTimeMs } } : {}),
  };
}

/** The cutoffs of the restores whose abandoned history this segment belongs to (none: no field). */
/** Says that a step is a partial segment, and what it holds. */
function describePartial(partial: NonNullable<CatalogSegment["partial"]>, claimMs: number): string {
  const who = partial.source === "rescue" ? "rescued from the node while it was down" : "uploaded by the agent while Cassandra wrote it";
  return `a partial segment (not closed by Cassandra; ${who}): its synced sections up to byte ${partial.endOffset}, every write before ${iso(claimMs)}, assembled and verified at restore and replayed like a crash-torn segment`;
}

function branchCutoffsOf(branches: readonly Branch[], at: bigint, closeTimeMs: number): { branchCutoffs?: BranchCutoff[] } {
  const cutoffs = branchCutoffsFor(branches, at, closeTimeMs).map((b) => ({ tableIds: b.tableIds, cutoffMicros: b.cutoffMicros, restoredAtMs: b.restoredAtMs }));
  return cutoffs.length > 0 ? { branchCutoffs: cutoffs } : {};
}

/** An incremental flushed before a restore that holds writes stamped after that restore's point. */
function abandonedIncremental(branches: readonly Branch[], at: bigint, inc: { tableId: string; foundTimeMs: number; maxTimestamp: bigint }): boolean {
  return branches.some(
    (b) => micros(b.restoredAtMs) <= at && (b.tableIds === undefined || b.tableIds.includes(inc.tableId)) && inc.foundTimeMs < b.restoredAtMs && inc.maxTimestamp > b.cutoffMicros,
  );
}

function cutoffStatement(version: string, at: bigint, fractional: boolean, precision: Precision, cutoff: bigint): string {
  const unit = precision === "MICROSECONDS" ? "µs" : "ms";
  if (fractional) {
    return `Cassandra ${version} honours sub-second restore points (CASSANDRA-19448; expected from 4.0.14, 4.1.7, 5.0.1): a mutation is skipped when ${precision}.toMicros(max timestamp) > ${formatInstant(at)}; writes stamped up to ${formatInstant(cutoff)} (client timestamps in ${unit}) are applied`;
  }
  const second = formatRestorePoint(at, false);
  return `Cassandra ${version} reads restore_point_in_time in whole seconds (before CASSANDRA-19448; any fraction is ignored) and skips a mutation when ${precision}.toMillis(max timestamp) > ${second}.000 UTC in ms: writes stamped up to ${formatInstant(cutoff)} (client timestamps in ${unit}) are applied, later ones are not`;
}
