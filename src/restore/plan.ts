/**
 * What a point-in-time restore will do, as data (built by planner.ts, printed by `plan`, executed
 * by `restore`). Every step carries the reason it is there and the bytes it fetches.
 */
import type { NodeIdentity } from "../format/layout.js";
import { PitrError } from "../errors/base.js";
import type { Branch } from "./branches.js";
import type { TableEvent } from "../backup/table-events.js";
import type { Precision } from "./versions.js";

export interface PlanScope {
  /** Whole keyspaces. */
  readonly keyspaces?: readonly string[] | undefined;
  /** `keyspace.table` names. */
  readonly tables?: readonly string[] | undefined;
}

export interface PlanRequest {
  /** The restore point, µs since the epoch. */
  readonly at: bigint;
  /** The caller's clock (ms); the planner never reads one. */
  readonly now: number;
  readonly scope?: PlanScope | undefined;
  /** Also take segments closed up to at + graceMs (late hints/batchlog writes with old timestamps). */
  readonly graceMs: number;
  /** Cassandra release of the node restored to; default: the base snapshot's. */
  readonly targetVersion?: string | undefined;
  readonly precision: Precision;
  readonly archiveUrl: string;
  /**
   * The restore goes to a scratch node whose tables are created from the snapshot's schema.cql with
   * their ids (the drill): a table re-created after T is restored as it was at T instead of refused.
   */
  readonly scratch?: boolean | undefined;
  /** Current `keyspace.table` → table id, when known: a different id means the table was re-created. */
  readonly currentTableIds?: Readonly<Record<string, string>> | undefined;
  /** restore_command value (default: RESTORE_COMMAND). */
  readonly restoreCommand?: string | undefined;
  /** Branch points of earlier restores (branches.ts): their undone writes never come back. */
  readonly branches?: readonly Branch[] | undefined;
  /** Truncations and drops recorded from Cassandra's auto-snapshots (src/backup/table-events.ts). */
  readonly tableEvents?: readonly TableEvent[] | undefined;
}

export const RESTORE_COMMAND = "/usr/bin/cassandra-pitr-restore %from %to";
/** Replaced by `restore` with the staging directory it creates. */
export const RESTORE_DIR_PLACEHOLDER = "<restore-dir>";

export interface TableRef {
  readonly keyspace: string;
  readonly table: string;
  readonly tableId: string;
}

export interface SnapshotStep {
  readonly kind: "snapshot";
  readonly tag: string;
  readonly snapshotTimeMs: number;
  readonly tables: readonly (TableRef & { readonly sstables: readonly string[]; readonly bytes: number })[];
  readonly bytes: number;
  readonly reason: string;
}

export interface IncrementalStep {
  readonly kind: "incremental";
  readonly keyspace: string;
  readonly table: string;
  readonly sstable: string;
  readonly foundTimeMs: number;
  readonly maxTimestamp: bigint;
  readonly bytes: number;
  readonly reason: string;
}

export interface SegmentStep {
  readonly kind: "segment";
  readonly segmentId: bigint;
  readonly version: number;
  /** Cassandra's file name, as restored. */
  readonly name: string;
  readonly key: string;
  readonly closeTimeMs: number;
  readonly bytes: number;
  readonly reason: string;
  /**
   * Cutoffs earlier restores put on this segment (it belongs to a history they abandoned): its
   * mutations of those tables stamped after the cutoff are withheld as well. Absent when none.
   */
  readonly branchCutoffs?: readonly BranchCutoff[] | undefined;
}

export interface BranchCutoff {
  /** Table ids the earlier restore covered; undefined: every table. */
  readonly tableIds?: readonly string[] | undefined;
  readonly cutoffMicros: bigint;
  readonly restoredAtMs: number;
}

/** A TRUNCATE at or before T of a restored table: nothing older than it is placed or replayed. */
export interface PlanTruncation {
  readonly keyspace: string;
  readonly table: string;
  readonly tableId: string;
  readonly truncatedAtMs: number;
  /** Mutations of the table stamped before this (µs) are withheld by the replay filter. */
  readonly floorMicros: bigint;
}

/** One difference between the schema at T and the newest schema the archive holds. */
export interface SchemaChange {
  readonly keyspace: string;
  readonly table: string;
  readonly kind: "column-added" | "column-dropped-after" | "column-dropped-before" | "table-dropped-after";
  readonly column?: string | undefined;
  /** When it was dropped, when known. */
  readonly at?: string | undefined;
  readonly statement: string;
}

export type PlanStep = SnapshotStep | IncrementalStep | SegmentStep;

export interface SkippedItem {
  readonly kind: "incremental" | "segment-copy" | "snapshot";
  readonly name: string;
  readonly reason: string;
}

export interface RestorePlan {
  readonly schemaVersion: 1;
  readonly node: NodeIdentity;
  readonly archive: string;
  /** The requested restore point, µs. */
  readonly at: bigint;
  readonly targetVersion: string;
  readonly precision: Precision;
  readonly graceMs: number;
  /** Tables restored; replayList lists them when the scope is narrower than the node. */
  readonly scope: { readonly kind: "node" | "keyspaces" | "tables"; readonly tables: readonly TableRef[] };
  readonly steps: readonly PlanStep[];
  readonly skipped: readonly SkippedItem[];
  readonly cutoff: {
    /** restore_point_in_time exactly as written. */
    readonly value: string;
    readonly fractional: boolean;
    /** The newest client timestamp (µs) replay still applies. */
    readonly effectiveMicros: bigint;
    readonly statement: string;
  };
  /** commitlog_archiving.properties lines, in order. */
  readonly properties: readonly string[];
  readonly jvmOptions: readonly string[];
  readonly bytes: {
    readonly snapshot: number;
    readonly incrementals: number;
    readonly segments: number;
    readonly total: number;
  };
  readonly warnings: readonly string[];
  /** Truncations at or before T of restored tables (absent: none). */
  readonly truncations?: readonly PlanTruncation[] | undefined;
  /** Schema differences between T and the newest schema.cql archived (absent: none). */
  readonly schemaChanges?: readonly SchemaChange[] | undefined;
  /** The snapshot whose schema.cql (newer than the base's) the replay filter also reads columns from. */
  readonly schemaSnapshot?: { readonly tag: string; readonly snapshotTimeMs: number } | undefined;
}

export type RefusalKind =
  | "no-snapshot"
  | "segment-missing"
  | "after-latest"
  | "in-future"
  | "table-recreated"
  | "table-gap"
  | "segment-version"
  | "unknown-scope"
  | "unreadable-mutations";

/** The planner will not produce a plan; the message names the nearest instant that would work, when there is one. */
export class PlanRefusedError extends PitrError {
  override name = "PlanRefusedError";
  readonly kind: RefusalKind;
  /** The nearest restorable instant (µs), when one exists. */
  readonly nearest: bigint | undefined;
  constructor(
    kind: RefusalKind,
    message: string,
    options: { nearest?: bigint | undefined; hint?: string | undefined } = {},
  ) {
    super("E_PLAN_REFUSED", message, { hint: options.hint });
    this.kind = kind;
    this.nearest = options.nearest;
  }
}
