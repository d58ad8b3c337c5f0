/**
 * Prune I/O: read everything older than the kept range (snapshots, incrementals, segments), plan
 * with plan.ts, and delete in the plan's order only when confirmed.
 *
 * Listing cost: snapshots (one listing), incrementals and segments from the oldest stored day up to
 * the oldest kept snapshot (segment keys sort by close time, so the segment listing stops at the
 * first key closed after it); retention has to see what it deletes.
 */
import { segmentIdKey, segmentsPrefix, type NodeIdentity } from "../format/layout.js";
import { parsePartialKey, partialsPrefix } from "../format/partial-layout.js";
import { ObjectNotFoundError } from "../storage/errors.js";
import { listIncrementals, listSnapshots } from "../backup/read.js";
import { buildCatalog, listedSegmentOf, type ListedSegment } from "../catalog/model.js";
import { loadSnapshots } from "../catalog/backup-source.js";
import { headIfExists, mapLimit } from "../storage/front.js";
import type { Backend, ObjectInfo } from "../storage/types.js";
import { planPrune, supersededPartials, type KeepPolicy, type PruneItem, type PrunePlan } from "./plan.js";

export async function readAndPlanPrune(
  backend: Backend,
  identity: NodeIdentity,
  policy: KeepPolicy,
  nowMs: number,
  signal?: AbortSignal,
): Promise<PrunePlan> {
  const stored = await listSnapshots(backend, identity, { signal });
  const entries = await loadSnapshots(backend, identity);
  // the segments up to (and one day past) the newest snapshot a policy could make the oldest kept one
  const limit = Math.max(0, ...entries.map((s) => s.snapshotTimeMs)) + 86_400_000;
  const segments: ListedSegment[] = [];
  let after = 0;
  for await (const info of backend.list(segmentsPrefix(identity), { signal })) {
    const s = listedSegmentOf(info);
    if (!s) continue;
    segments.push(s);
    if (s.closeTimeMs > limit && ++after >= 2) break;
  }
  const oldest = Math.min(
    limit,
    ...segments.map((s) => s.closeTimeMs),
    ...entries.map((s) => s.snapshotTimeMs),
  );
  const incrementals = await listIncrementals(backend, identity, oldest - 86_400_000, limit, { signal });
  const catalog = buildCatalog({
    identity,
    listedFromMs: oldest,
    listedToMs: limit,
    segments,
    snapshots: entries,
    incrementals: [],
  });
  const plan = planPrune({ catalog, snapshots: stored, incrementals, policy, nowMs });
  if (plan.refused !== undefined) return plan;
  return { ...plan, delete: [...plan.delete, ...(await readSupersededPartials(backend, identity, signal))] };
}

/** Partial objects whose segment the id index says is archived whole (one HEAD per segment). */
async function readSupersededPartials(
  backend: Backend,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<PruneItem[]> {
  const partials: { key: string; size: number; segmentId: bigint; version: number }[] = [];
  for await (const info of backend.list(partialsPrefix(identity), { signal })) {
    const parts = parsePartialKey(info.key);
    if (parts)
      partials.push({ key: info.key, size: info.size, segmentId: parts.segmentId, version: parts.version });
  }
  const whole = new Set<bigint>();
  for (const id of new Set(partials.map((p) => `${p.segmentId}_v${p.version}`))) {
    const [segmentId, version] = id.split("_v") as [string, string];
    const archived = await backend
      .head(segmentIdKey(identity, BigInt(segmentId), Number(version)), { signal })
      .then(
        () => true,
        (err: unknown) => {
          if (err instanceof ObjectNotFoundError) return false;
          throw err;
        },
      );
    if (archived) whole.add(BigInt(segmentId));
  }
  return supersededPartials(partials, whole);
}

/** What `--confirm` did with each planned object. */
export interface PruneResult {
  /** Gone from the store (or already gone). */
  readonly deleted: readonly PruneItem[];
  /**
   * Versioned bucket: hidden by a delete marker, so no listing, catalog or plan sees it any more,
   * but its version stays in the bucket until a lifecycle rule (NoncurrentVersionExpiration) removes it.
   */
  readonly markedDeleted: readonly PruneItem[];
  /** Under object-lock retention, or used by an object that is: left alone, deletable from `until`. */
  readonly keptByLock: readonly {
    readonly item: PruneItem;
    readonly until: Date | undefined;
    readonly why: string;
  }[];
}

/**
 * Deletes the plan's objects in its order. Where the store can hold locks (S3), each object's
 * retention is read first: an object still locked is not touched (a plain delete there would only
 * add a delete marker and report as deleted an object that still exists), and while any snapshot
 * manifest or incremental record is locked no component is deleted (the locked record would list a
 * snapshot whose files are gone; a later prune takes them once its lock expires).
 */
export async function applyPrune(
  backend: Backend,
  plan: PrunePlan,
  nowMs: number,
  signal?: AbortSignal,
): Promise<PruneResult> {
  const infos = new Map<string, ObjectInfo | undefined>();
  if (backend.capabilities.retention) {
    // One HEAD per object, as many at once as the backend takes: a prune can cover thousands of segments.
    const heads = await mapLimit(plan.delete, backend.capabilities.maxConnections, (item) =>
      headIfExists(backend, item.key, signal),
    );
    plan.delete.forEach((item, i) => infos.set(item.key, heads[i]));
  }
  const lockedUntil = (key: string) => {
    const until = infos.get(key)?.retention?.until;
    return until !== undefined && until.getTime() > nowMs ? until : undefined;
  };
  const lockedRecord = plan.delete.find(
    (i) => (i.kind === "snapshot" || i.kind === "incremental") && lockedUntil(i.key) !== undefined,
  );
  const deleted: PruneItem[] = [];
  const markedDeleted: PruneItem[] = [];
  const keptByLock: { item: PruneItem; until: Date | undefined; why: string }[] = [];
  for (const item of plan.delete) {
    const until = lockedUntil(item.key);
    if (until !== undefined) {
      keptByLock.push({ item, until, why: `under ${infos.get(item.key)?.retention?.mode} retention` });
      continue;
    }
    if (item.kind === "component" && lockedRecord !== undefined) {
      keptByLock.push({
        item,
        until: lockedUntil(lockedRecord.key),
        why: `the locked ${lockedRecord.kind} '${lockedRecord.key}' may use it`,
      });
      continue;
    }
    if (infos.has(item.key) && infos.get(item.key) === undefined) {
      deleted.push(item); // already gone
      continue;
    }
    await backend.delete(item.key, { signal });
    (infos.get(item.key)?.versionId !== undefined ? markedDeleted : deleted).push(item);
  }
  return { deleted, markedDeleted, keptByLock };
}

/** "30d" / "12h" → duration; "7" → count. */
export function parseKeep(text: string, parseDuration: (t: string, what: string) => number): KeepPolicy {
  if (/^\d+$/.test(text.trim())) {
    const count = Number(text.trim());
    if (count < 1) throw new RangeError("count below 1");
    return { kind: "count", count };
  }
  return { kind: "duration", ms: parseDuration(text, "--keep") };
}
