/**
 * Where the catalog gets snapshots and incrementals: the stored manifests and records of
 * src/backup, mapped to the catalog's own shapes (bigint timestamps, only what planning needs).
 * An sstable whose Statistics.db could not be read gets the widest bounds, so the planner treats
 * its data as possibly newer than any restore point rather than trusting a guess.
 */
import { listIncrementals, listSnapshots } from "../backup/read.js";
import type { ArchivedSstable } from "../backup/types.js";
import type { IncrementalLoader, SnapshotLoader } from "./read.js";
import type { SnapshotSstable } from "./model.js";

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

function sstableOf(s: ArchivedSstable): SnapshotSstable {
  const upper = s.commit_log_upper_bound;
  return {
    name: s.name,
    bytes: s.components.reduce((sum, c) => sum + c.size, 0),
    minTimestamp: s.min_timestamp === null ? MIN : BigInt(s.min_timestamp),
    maxTimestamp: s.max_timestamp === null ? MAX : BigInt(s.max_timestamp),
    commitLogUpper: upper ? { segmentId: BigInt(upper.segment_id), position: upper.position } : undefined,
  };
}

export const loadSnapshots: SnapshotLoader = async (backend, identity) =>
  (await listSnapshots(backend, identity)).map(({ manifest }) => ({
    tag: manifest.tag,
    snapshotTimeMs: Date.parse(manifest.snapshot_time),
    cassandraVersion: manifest.cassandra_version ?? "",
    complete: true,
    tables: manifest.tables.map((t) => ({
      keyspace: t.keyspace,
      table: t.table,
      tableId: t.table_id,
      sstables: t.sstables.map(sstableOf),
      schemaCql: t.schema_cql,
    })),
  }));

export const loadIncrementals: IncrementalLoader = async (backend, identity, fromMs, toMs) =>
  (await listIncrementals(backend, identity, fromMs, toMs)).map(({ record }) => {
    const s = sstableOf(record.sstable);
    return {
      keyspace: record.keyspace,
      table: record.table,
      tableId: record.table_id,
      sstable: record.sstable.name,
      bytes: s.bytes,
      foundTimeMs: Date.parse(record.flush_time),
      minTimestamp: s.minTimestamp,
      maxTimestamp: s.maxTimestamp,
    };
  });
