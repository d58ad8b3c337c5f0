/**
 * The replay filter of a restore: every mutation of every restored segment is read, and those that
 * carry any timestamp after the cutoff are withheld before Cassandra sees them.
 *
 * Cassandra's own filter (`restore_point_in_time`) skips a mutation by `PartitionUpdate.maxTimestamp()`,
 * which in 4.0 to 5.0.9 ignores row deletions: a `DELETE ... WHERE pk = ? AND ck = ?` written after T
 * would be replayed. So the restore never relies on it for the tables it restores. The filter needs
 * each table's columns: they come from the base snapshot's schema.cql files. A mutation of a table
 * the snapshot does not describe makes the restore refuse, unless the user accepts Cassandra's own
 * filter for such tables (`--accept-cassandra-filter`), which the plan then names.
 *
 * The spec is a JSON file written by `restore` beside the restore state: the restore hook reads it
 * when it rewrites a stub's segment at Cassandra's startup, and the fetch phase uses the same one.
 */
import { createHash } from "node:crypto";
import { filterSegment, WITHHELD_TABLE_ID, type ReplayFilterResult } from "../commitlog/mutations/filter.js";
import { parseSchemaCql, type TableSchema } from "../commitlog/mutations/schema-cql.js";
import { isSystemTableId } from "../commitlog/mutations/system-tables.js";
import { PitrError } from "../errors/base.js";

export const REPLAY_FILTER_FILE = "cassandra-pitr-replay-filter.json";
export { WITHHELD_TABLE_ID };

export interface ReplayFilterSpec {
  readonly schema_version: 1;
  /** Every mutation with a timestamp after this (µs, decimal) is withheld. */
  readonly cutoff_micros: string;
  /** Mutations of tables no schema.cql describes are left to Cassandra's own filter instead of refused. */
  readonly accept_cassandra_filter: boolean;
  /** Table ids restored; mutations of other tables are left as they are (replayList drops them). Null: the whole node. */
  readonly scope_table_ids: readonly string[] | null;
  /** schema.cql of each table of the base snapshot, with where it came from. */
  readonly schemas: readonly { readonly source: string; readonly cql: string }[];
  /**
   * Table id → µs (decimal): a TRUNCATE at or before the restore point; the table's mutations stamped
   * before it are withheld (Cassandra discarded them). Absent: no truncation.
   */
  /**
   * Segments of a history an earlier restore abandoned, by file name: their mutations of those
   * tables (null: every table) stamped after `cutoff_micros` are withheld as well.
   */
  readonly truncation_floors?: Readonly<Record<string, string>> | undefined;
  readonly segment_cutoffs?:
    | Readonly<
        Record<
          string,
          readonly { readonly table_ids: readonly string[] | null; readonly cutoff_micros: string }[]
        >
      >
    | undefined;
}

export interface FilterTally {
  segments: number;
  mutations: number;
  withheld: number;
  withheldBeyondCassandra: number;
  withheldTruncated: number;
  passedThrough: number;
}

export function emptyTally(): FilterTally {
  return {
    segments: 0,
    mutations: 0,
    withheld: 0,
    withheldBeyondCassandra: 0,
    withheldTruncated: 0,
    passedThrough: 0,
  };
}

export function addToTally(tally: FilterTally, r: ReplayFilterResult): void {
  tally.segments++;
  tally.mutations += r.mutations;
  tally.withheld += r.withheld;
  tally.withheldBeyondCassandra += r.withheldBeyondCassandra;
  tally.withheldTruncated += r.withheldTruncated;
  tally.passedThrough += r.passedThrough;
}

/** One line for the operator: what was withheld and why. */
export function describeTally(t: FilterTally, cutoff: string): string {
  const beyond =
    t.withheldBeyondCassandra > 0
      ? `, ${t.withheldBeyondCassandra} of them row deletions Cassandra's own filter would have replayed`
      : "";
  const truncated =
    t.withheldTruncated > 0
      ? `; withheld ${t.withheldTruncated} of truncated tables stamped before their TRUNCATE`
      : "";
  const passed =
    t.passedThrough > 0
      ? `; ${t.passedThrough} mutation(s) of system or out-of-scope tables left to Cassandra`
      : "";
  return `replay filter: read ${t.mutations} mutation(s) in ${t.segments} segment(s); withheld ${t.withheld} stamped after ${cutoff} UTC${beyond}${truncated}${passed}`;
}

export function renderSpec(spec: ReplayFilterSpec): string {
  return JSON.stringify(spec, null, 2) + "\n";
}

export function specDigest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export class ReplayFilterSpecError extends PitrError {
  override name = "ReplayFilterSpecError";
  constructor(path: string, detail: string) {
    super("E_USAGE", `replay filter '${path}' is invalid: ${detail}`, {
      hint: "re-create the restore with 'cassandra-pitr restore' (it writes this file)",
    });
  }
}

export function parseSpec(text: string, path: string): ReplayFilterSpec {
  let o: Partial<ReplayFilterSpec>;
  try {
    o = JSON.parse(text) as Partial<ReplayFilterSpec>;
  } catch {
    throw new ReplayFilterSpecError(path, "not JSON");
  }
  if (
    o.schema_version !== 1 ||
    typeof o.cutoff_micros !== "string" ||
    !/^-?\d+$/.test(o.cutoff_micros) ||
    typeof o.accept_cassandra_filter !== "boolean" ||
    !Array.isArray(o.schemas)
  ) {
    throw new ReplayFilterSpecError(
      path,
      "it lacks schema_version 1, cutoff_micros, accept_cassandra_filter or schemas",
    );
  }
  return o as ReplayFilterSpec;
}

export type SegmentFilter = (name: string, bytes: Uint8Array) => ReplayFilterResult;

/** Parses the schemas once and returns the filter for each segment. */
export function compileReplayFilter(spec: ReplayFilterSpec): SegmentFilter {
  const tables = new Map<string, TableSchema>();
  for (const s of spec.schemas) for (const t of parseSchemaCql(s.cql, s.source)) tables.set(t.id, t);
  const scope = spec.scope_table_ids ? new Set(spec.scope_table_ids) : undefined;
  const passThrough = (tableId: string): boolean =>
    isSystemTableId(tableId) ||
    (scope !== undefined && !scope.has(tableId)) ||
    (spec.accept_cassandra_filter && !tables.has(tableId));
  const cutoffMicros = BigInt(spec.cutoff_micros);
  const floors = new Map(Object.entries(spec.truncation_floors ?? {}).map(([id, us]) => [id, BigInt(us)]));
  const floorFor = floors.size > 0 ? (tableId: string) => floors.get(tableId) : undefined;
  return (name, bytes) =>
    filterSegment(name, bytes, {
      cutoffMicros,
      tables,
      passThrough,
      cutoffFor: cutoffsOf(spec, name, cutoffMicros),
      floorFor,
    });
}

/** The cutoff per table for one segment: the restore point, lowered by earlier restores' branch points. */
function cutoffsOf(
  spec: ReplayFilterSpec,
  name: string,
  cutoffMicros: bigint,
): ((tableId: string) => bigint) | undefined {
  const branches = spec.segment_cutoffs?.[name];
  if (!branches || branches.length === 0) return undefined;
  const parsed = branches.map((b) => ({
    tables: b.table_ids ? new Set(b.table_ids) : undefined,
    micros: BigInt(b.cutoff_micros),
  }));
  return (tableId) =>
    parsed.reduce(
      (min, b) => (b.micros < min && (!b.tables || b.tables.has(tableId)) ? b.micros : min),
      cutoffMicros,
    );
}
