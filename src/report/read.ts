/**
 * Reads what the report model needs from the archive (I/O only).
 *
 * - Nodes: `--node` ids, else every node of the cluster, found by a skip scan: list `<cluster>/`
 *   and take only the first key, then list again starting after `<cluster>/<that node>/~` (past
 *   every key of that node), and so on. One short listing per node, never the whole archive.
 * - Per node, the catalog through catalog/read.ts (day prefixes of the window only). The listings
 *   it makes are recorded on the way, so archive times cost no extra request: a segment's archive
 *   time is its `archive_time` metadata when the listing carries metadata (memory backend), else the
 *   object's modified time (S3 LastModified, GCS/Azure update time, file mtime: the moment the
 *   object was stored, which is what archive_time records).
 * - Snapshot upload times: the manifests' `uploaded_at` (one more GET per snapshot; the manifest is
 *   written last, so a snapshot exists for a restore from then on).
 * - Restore drills: the JSON documents under `<node prefix>evidence/`.
 */
import { parseSegmentKey, segmentsPrefix, type NodeIdentity } from "../format/layout.js";
import { parseSnapshotManifestKey, snapshotManifestKey, snapshotsPrefix } from "../format/backup-layout.js";
import { readSnapshotManifest } from "../backup/read.js";
import { loadIncrementals, loadSnapshots } from "../catalog/backup-source.js";
import { readCatalog } from "../catalog/read.js";
import type { Backend, ObjectInfo } from "../storage/types.js";
import type { DrillEvidence, NodeInput, PartialClaim } from "./model.js";
import { mapLimit, readText } from "../storage/front.js";
import {
  parsePartialKey,
  partialFromMetadata,
  partialsPrefix,
  type PartialRecord,
} from "../format/partial-layout.js";
import { evidencePrefix, parseEvidence } from "../format/evidence.js";

export { listNodes, nodeExists } from "../catalog/nodes.js";

export { EVIDENCE_DIR, evidencePrefix } from "../format/evidence.js";

/** A backend that remembers every object a listing returned. */
function recording(backend: Backend): { backend: Backend; seen: Map<string, ObjectInfo> } {
  const seen = new Map<string, ObjectInfo>();
  const wrapped = Object.create(backend) as Backend;
  wrapped.list = async function* (prefix, options) {
    for await (const info of backend.list(prefix, options)) {
      seen.set(info.key, info);
      yield info;
    }
  };
  return { backend: wrapped, seen };
}

export async function readDrills(
  backend: Backend,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<DrillEvidence[]> {
  const out: DrillEvidence[] = [];
  for await (const info of backend.list(evidencePrefix(identity), { signal })) {
    if (!info.key.endsWith(".json")) continue;
    const summary = parseEvidence(await readText(backend, info.key, signal));
    if (summary) out.push({ key: info.key, ...summary }); // else not a drill record this version understands
  }
  return out;
}

/** The first key under `prefix` that `parse` accepts (keys sort by time, so the oldest). */
async function firstTime(
  backend: Backend,
  prefix: string,
  parse: (key: string) => number | undefined,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
  for await (const info of backend.list(prefix, { signal })) {
    const at = parse(info.key);
    if (at !== undefined) return at;
  }
  return undefined;
}

/**
 * When the node's archive starts: its oldest segment (close time) or snapshot, whichever is first;
 * undefined for a node with nothing archived. Two short listings: segment and snapshot keys sort by
 * time, so the first key of each is the oldest.
 */
export async function archiveStart(
  backend: Backend,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const segment = await firstTime(
    backend,
    segmentsPrefix(identity),
    (k) => parseSegmentKey(k)?.closeTimeMs,
    signal,
  );
  const snapshot = await firstTime(
    backend,
    snapshotsPrefix(identity),
    (k) => parseSnapshotManifestKey(k)?.snapshotTimeMs,
    signal,
  );
  const times = [segment, snapshot].filter((t): t is number => t !== undefined);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/**
 * Every partial object still in the archive (the agent's uploads while segments were open, a rescue's
 * tail), with its record: one listing, then one HEAD per object (listings carry no metadata). Prune
 * removes the objects of segments archived whole, so what is read is the recent past.
 */
export async function readPartialClaims(
  backend: Backend,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<PartialClaim[]> {
  const keys: string[] = [];
  for await (const info of backend.list(partialsPrefix(identity), { signal }))
    if (parsePartialKey(info.key)) keys.push(info.key);
  const records = await mapLimit(keys, 8, async (key) =>
    partialFromMetadata((await backend.head(key, { signal })).metadata),
  );
  return records
    .filter((r): r is PartialRecord => r !== undefined)
    .map((r) => ({
      segmentId: r.segmentId,
      syncedBeforeMs: r.syncedBeforeMs,
      uploadedAtMs: r.uploadTimeMs,
      bytes: r.end - r.start,
      source: r.source,
      ...(r.beat ? { beat: r.beat } : {}),
    }));
}

export async function readNodeInput(
  backend: Backend,
  identity: NodeIdentity,
  options: { fromMs: number; toMs: number; signal?: AbortSignal | undefined },
): Promise<NodeInput> {
  const { backend: rec, seen } = recording(backend);
  const catalog = await readCatalog(rec, identity, {
    fromMs: options.fromMs,
    toMs: options.toMs,
    loadSnapshots,
    loadIncrementals,
    signal: options.signal,
  });
  const archiveTimes = new Map<string, number>();
  for (const s of catalog.segments) {
    const info = seen.get(s.key);
    const meta = info?.metadata["archive_time"];
    const at = meta !== undefined ? Date.parse(meta) : info?.modified?.getTime();
    if (at !== undefined && Number.isFinite(at)) archiveTimes.set(s.key, at);
  }
  const snapshotUploadedAt = new Map<string, number>();
  for (const snap of catalog.snapshots) {
    const key = snapshotManifestKey(identity, snap.snapshotTimeMs, snap.tag);
    if (!seen.has(key)) continue;
    const uploaded = Date.parse((await readSnapshotManifest(backend, key, options.signal)).uploaded_at);
    if (Number.isFinite(uploaded)) snapshotUploadedAt.set(snap.tag, uploaded);
  }
  const drills = await readDrills(backend, identity, options.signal);
  const partials = await readPartialClaims(backend, identity, options.signal);
  // A partial segment in the catalog reached the archive with the upload of its newest claim.
  for (const s of catalog.segments) {
    if (!s.partial) continue;
    const uploads = partials
      .filter((p) => p.segmentId === s.segmentId && p.syncedBeforeMs === s.closeTimeMs)
      .map((p) => p.uploadedAtMs);
    if (uploads.length > 0) archiveTimes.set(s.key, Math.min(...uploads));
  }
  return { catalog, archiveTimes, snapshotUploadedAt, drills, ...(partials.length > 0 ? { partials } : {}) };
}
