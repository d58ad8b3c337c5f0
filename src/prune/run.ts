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
import type { Backend } from "../storage/types.js";
import { planPrune, supersededPartials, type KeepPolicy, type PruneItem, type PrunePlan } from "./plan.js";

export async function readAndPlanPrune(backend: Backend, identity: NodeIdentity, policy: KeepPolicy, nowMs: number, signal?: AbortSignal): Promise<PrunePlan> {
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
  const oldest = Math.min(limit, ...segments.map((s) => s.closeTimeMs), ...entries.map((s) => s.snapshotTimeMs));
  const incrementals = await listIncrementals(backend, identity, oldest - 86_400_000, limit, { signal });
  const catalog = buildCatalog({ identity, listedFromMs: oldest, listedToMs: limit, segments, snapshots: entries, incrementals: [] });
  const plan = planPrune({ catalog, snapshots: stored, incrementals, policy, nowMs });
  if (plan.refused !== undefined) return plan;
  return { ...plan, delete: [...plan.delete, ...(await readSupersededPartials(backend, identity, signal))] };
}

/** Partial objects whose segment the id index says is archived whole (one HEAD per segment). */
async function readSupersededPartials(backend: Backend, identity: NodeIdentity, signal?: AbortSignal): Promise<PruneItem[]> {
  const partials: { key: string; size: number; segmentId: bigint; version: number }[] = [];
  for await (const info of backend.list(partialsPrefix(identity), { signal })) {
    const parts = parsePartialKey(info.key);
    if (parts) partials.push({ key: info.key, size: info.size, segmentId: parts.segmentId, version: parts.version });
  }
  const whole = new Set<bigint>();
  for (const id of new Set(partials.map((p) => `${p.segmentId}_v${p.version}`))) {
    const [segmentId, version] = id.split("_v") as [string, string];
    const archived = await backend.head(segmentIdKey(identity, BigInt(segmentId), Number(version)), { signal }).then(() => true, (err: unknown) => {
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    });
    if (archived) whole.add(BigInt(segmentId));
  }
  return supersededPartials(partials, whole);
}

export async function applyPrune(backend: Backend, plan: PrunePlan, signal?: AbortSignal): Promise<number> {
  let n = 0;
  for (const item of plan.delete) {
    await backend.delete(item.key, { signal });
    n++;
  }
  return n;
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
