/**
 * Reads one node's catalog from the archive (I/O only; the model is built by model.ts).
 *
 * Listing cost is bounded by the window, never by the archive: one `list` per day prefix of
 * [start − 1 day, toMs + 1 day], where start is fromMs or, when earlier, the time of the newest
 * complete snapshot at or before fromMs (so the chain from that snapshot is known), plus one
 * `list` that seeks past the window (`startAfter`) and stops at the first later segment (the
 * segment active at the end of the window may close days later).
 */
import { dayPrefixes, segmentsPrefix, type NodeIdentity } from "../format/layout.js";
import type { Backend } from "../storage/types.js";
import { listPartialSegments } from "./partials.js";
import {
  buildCatalog,
  listedSegmentOf,
  type Catalog,
  type IncrementalEntry,
  type ListedSegment,
  type SnapshotEntry,
} from "./model.js";

/** Same shape as src/backup's `listSnapshots(backend, identity)`. */
export type SnapshotLoader = (backend: Backend, identity: NodeIdentity) => Promise<readonly SnapshotEntry[]>;
/** Same shape as src/backup's `listIncrementals(backend, identity, fromMs, toMs)`. */
export type IncrementalLoader = (
  backend: Backend,
  identity: NodeIdentity,
  fromMs: number,
  toMs: number,
) => Promise<readonly IncrementalEntry[]>;

export interface ReadCatalogOptions {
  readonly fromMs: number;
  readonly toMs: number;
  readonly loadSnapshots: SnapshotLoader;
  readonly loadIncrementals: IncrementalLoader;
  /** Look past the window for the first later segment (default true). */
  readonly findNextSegment?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
}

export const DAY_MS = 86_400_000;

/** Sorts after every key character ([A-Za-z0-9._+-/]): `prefix + KEY_END` is past every key under prefix. */
const KEY_END = "~";

export async function readCatalog(
  backend: Backend,
  identity: NodeIdentity,
  options: ReadCatalogOptions,
): Promise<Catalog> {
  const snapshots = await options.loadSnapshots(backend, identity);
  const base = snapshots
    .filter((s) => s.complete && s.snapshotTimeMs <= options.fromMs)
    .reduce<SnapshotEntry | undefined>(
      (best, s) => (best === undefined || s.snapshotTimeMs > best.snapshotTimeMs ? s : best),
      undefined,
    );
  const listedFromMs = Math.min(options.fromMs, base?.snapshotTimeMs ?? options.fromMs) - DAY_MS;
  const listedToMs = options.toMs + DAY_MS;
  const listOptions = options.signal ? { signal: options.signal } : {};

  const segments: ListedSegment[] = [];
  const prefixes = dayPrefixes(identity, listedFromMs, listedToMs);
  for (const prefix of prefixes) {
    for await (const info of backend.list(prefix, listOptions)) {
      const s = listedSegmentOf(info);
      if (s) segments.push(s);
    }
  }
  if (options.findNextSegment !== false && prefixes.length > 0) {
    const startAfter = prefixes[prefixes.length - 1]! + KEY_END;
    let first: ListedSegment | undefined;
    for await (const info of backend.list(segmentsPrefix(identity), { ...listOptions, startAfter })) {
      const s = listedSegmentOf(info);
      if (!s) continue;
      // A conflict copy sorts before its original: keep every copy of the first later segment.
      if (first !== undefined && (s.segmentId !== first.segmentId || s.closeTimeMs !== first.closeTimeMs))
        break;
      first ??= s;
      segments.push(s);
    }
  }
  const fullIds = new Set(segments.map((s) => s.segmentId));
  for (const p of await listPartialSegments(backend, identity, fullIds, options.signal)) {
    if (p.closeTimeMs >= listedFromMs) segments.push(p);
  }
  const incrementals = await options.loadIncrementals(backend, identity, listedFromMs, listedToMs);
  return buildCatalog({ identity, listedFromMs, listedToMs, segments, snapshots, incrementals });
}
