/**
 * Lists a node's partial segments (format/partial-layout.ts) as catalog segments: for each segment
 * id, the contiguous chain of objects from offset 0, named by its folder, with the chain's claim
 * (every write allocated before it is in the chain) as its close time. A chain whose segment is
 * archived whole is left out (the full segment always wins), and so is one that claims nothing yet.
 */
import {
  parsePartialKey,
  partialChain,
  partialFromMetadata,
  partialSegmentPrefix,
  partialsPrefix,
  type PartialKeyParts,
} from "../format/partial-layout.js";
import type { NodeIdentity } from "../format/layout.js";
import type { Backend } from "../storage/types.js";
import type { ListedSegment } from "./model.js";

export async function listPartialSegments(
  backend: Backend,
  identity: NodeIdentity,
  fullIds: ReadonlySet<bigint>,
  signal?: AbortSignal,
): Promise<ListedSegment[]> {
  const bySegment = new Map<string, (PartialKeyParts & { key: string; size: number })[]>();
  for await (const info of backend.list(partialsPrefix(identity), signal ? { signal } : {})) {
    const parts = parsePartialKey(info.key);
    if (!parts || fullIds.has(parts.segmentId)) continue;
    const folder = partialSegmentPrefix(identity, parts.segmentId, parts.version);
    bySegment.set(folder, [...(bySegment.get(folder) ?? []), { ...parts, key: info.key, size: info.size }]);
  }
  const out: ListedSegment[] = [];
  for (const [folder, parts] of bySegment) {
    const chain = partialChain(parts);
    const last = chain.at(-1);
    if (!last) continue;
    const record = partialFromMetadata((await backend.head(last.key, signal ? { signal } : {})).metadata);
    if (!record || record.syncedBeforeMs <= 0) continue;
    out.push({
      key: folder,
      closeTimeMs: record.syncedBeforeMs,
      segmentId: last.segmentId,
      version: last.version,
      storedBytes: chain.reduce((n, p) => n + p.size, 0),
      partial: { endOffset: last.end, source: record.source },
    });
  }
  return out;
}
