/** The fixture catalogs (fixtures/catalogs/*.json) as Catalog values, shared by the planner tests. */
import { segmentKey } from "../../src/format/layout.js";
import {
  buildCatalog,
  listedSegmentOf,
  type Catalog,
  type IncrementalEntry,
  type SnapshotEntry,
} from "../../src/catalog/model.js";

export interface FixtureSegment {
  id: string;
  close: number;
  version: number;
  bytes: number;
  conflict?: string;
}
export interface Fixture {
  description: string;
  identity: { cluster: string; node: string };
  segments: FixtureSegment[];
  snapshots: unknown[];
  incrementals: unknown[];
  request: {
    at: string;
    now: number;
    graceMs: number;
    precision: "MICROSECONDS" | "MILLISECONDS";
    archiveUrl: string;
    targetVersion?: string;
    scope?: { keyspaces?: string[]; tables?: string[] };
    currentTableIds?: Record<string, string>;
  };
  expected: Record<string, unknown>;
}

/** JSON numbers above 2^53 are strings in fixtures; turn id/timestamp fields into bigints. */
export function bigints(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(bigints);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        ["segmentId", "minTimestamp", "maxTimestamp"].includes(k) && typeof v === "string"
          ? BigInt(v)
          : bigints(v),
      ]),
    );
  }
  return value;
}

export function catalogOf(f: Fixture): Catalog {
  const listed = f.segments.map((s) => {
    const key = segmentKey(f.identity, {
      closeTimeMs: s.close,
      segmentId: BigInt(s.id),
      version: s.version,
      conflict: s.conflict,
    });
    return listedSegmentOf({ key, size: s.bytes })!;
  });
  return buildCatalog({
    identity: f.identity,
    listedFromMs: 0,
    listedToMs: f.request.now,
    segments: listed,
    snapshots: bigints(f.snapshots) as SnapshotEntry[],
    incrementals: bigints(f.incrementals) as IncrementalEntry[],
  });
}
