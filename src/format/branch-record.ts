/**
 * The branch record, one JSON document per applied restore (docs/archive-layout.md, Branch points):
 *
 *   <cluster>/<host id>/branches/<compact time of the restore>.json
 *
 * Its key, its fields and its codec. What a branch means to a plan is in restore/branches.ts.
 */
import { compactTime, nodePrefix, parseCompactTime, type NodeIdentity } from "./layout.js";
import { PitrError } from "../errors/base.js";

export const BRANCHES_DIR = "branches";

/** A branch point as the planner uses it. */
export interface Branch {
  /** When the restore was applied (ms): segments closed before it belong to the old history. */
  readonly restoredAtMs: number;
  /** The restore's effective cutoff (µs): the old history's writes stamped after it stay undone. */
  readonly cutoffMicros: bigint;
  /** Table ids that restore covered; undefined for a whole-node restore. */
  readonly tableIds?: readonly string[] | undefined;
  /** `restore_point_in_time` as that restore wrote it, for messages. */
  readonly restorePoint: string;
  /** keyspace.table names the restore covered, as recorded (empty for a whole-node restore); for listings. */
  readonly tables?: readonly string[] | undefined;
}

interface BranchRecord {
  readonly schema_version: 1;
  readonly restored_at: string;
  readonly cutoff_micros: string;
  readonly restore_point_in_time: string;
  readonly table_ids: readonly string[] | null;
  readonly tables: readonly string[];
}

export function branchesPrefix(id: NodeIdentity): string {
  return `${nodePrefix(id)}${BRANCHES_DIR}/`;
}

export function branchKey(id: NodeIdentity, restoredAtMs: number): string {
  return `${branchesPrefix(id)}${compactTime(restoredAtMs)}.json`;
}

export class BranchRecordError extends PitrError {
  override name = "BranchRecordError";
  constructor(key: string, detail: string) {
    super("E_ARCHIVE_CONFLICT", `branch record '${key}' is invalid: ${detail}`, {
      hint: "it was written by 'cassandra-pitr restore'; restore it from a copy or remove it knowingly (later plans would then replay undone writes)",
    });
  }
}

export function renderBranch(b: Branch, tables: readonly string[]): Uint8Array {
  const record: BranchRecord = {
    schema_version: 1,
    restored_at: new Date(b.restoredAtMs).toISOString(),
    cutoff_micros: b.cutoffMicros.toString(),
    restore_point_in_time: b.restorePoint,
    table_ids: b.tableIds ? [...b.tableIds] : null,
    tables: [...tables],
  };
  return new Uint8Array(Buffer.from(JSON.stringify(record, null, 2) + "\n"));
}

export function parseBranch(text: string, key: string): Branch {
  let o: Partial<BranchRecord>;
  try {
    o = JSON.parse(text) as Partial<BranchRecord>;
  } catch {
    throw new BranchRecordError(key, "not JSON");
  }
  const restoredAtMs = typeof o.restored_at === "string" ? Date.parse(o.restored_at) : NaN;
  if (
    o.schema_version !== 1 ||
    !Number.isFinite(restoredAtMs) ||
    typeof o.cutoff_micros !== "string" ||
    !/^-?\d+$/.test(o.cutoff_micros)
  ) {
    throw new BranchRecordError(key, "it lacks schema_version 1, restored_at or cutoff_micros");
  }
  const named = parseCompactTime(key.slice(key.lastIndexOf("/") + 1).replace(/\.json$/, ""));
  if (named !== restoredAtMs)
    throw new BranchRecordError(key, `restored_at ${o.restored_at} does not match the key`);
  return {
    restoredAtMs,
    cutoffMicros: BigInt(o.cutoff_micros),
    tableIds: Array.isArray(o.table_ids) ? o.table_ids.map(String) : undefined,
    restorePoint: typeof o.restore_point_in_time === "string" ? o.restore_point_in_time : o.cutoff_micros,
    tables: Array.isArray(o.tables) ? o.tables.map(String) : undefined,
  };
}
