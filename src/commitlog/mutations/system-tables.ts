/**
 * Table ids of Cassandra's own keyspaces. TableId.forSystemTable(ks, t) (cassandra-all 5.0.9, the same
 * in 4.1) is `UUID.nameUUIDFromBytes(ks bytes ++ t bytes)`: an MD5 name-based (version 3) UUID, so
 * these ids are the same on every node. The replay filter passes their mutations through untouched
 * (Cassandra's own restore point check and replay filter apply to them).
 *
 * Table names: the String constants of SystemKeyspace, SchemaKeyspaceTables, AuthKeyspace,
 * SystemDistributedKeyspace and TraceKeyspace in cassandra-all 5.0.9 (javap -constants), plus
 * those 4.1 still had under legacy names. An extra name costs nothing: no user table id is an MD5
 * of a system keyspace's name.
 */
import { createHash } from "node:crypto";

export const SYSTEM_TABLES: Readonly<Record<string, readonly string[]>> = {
  system: [
    "batches",
    "paxos",
    "paxos_repair_history",
    "_paxos_repair_state",
    "IndexInfo",
    "local",
    "peers_v2",
    "peer_events_v2",
    "compaction_history",
    "sstable_activity_v2",
    "table_estimates",
    "available_ranges_v2",
    "transferred_ranges_v2",
    "view_builds_in_progress",
    "built_views",
    "prepared_statements",
    "repairs",
    "top_partitions",
    "peers",
    "peer_events",
    "transferred_ranges",
    "available_ranges",
    "size_estimates",
    "sstable_activity",
    "batchlog",
    "hints",
    "range_xfers",
    "schema_keyspaces",
  ],
  system_schema: [
    "keyspaces",
    "tables",
    "columns",
    "column_masks",
    "dropped_columns",
    "triggers",
    "views",
    "types",
    "functions",
    "aggregates",
    "indexes",
  ],
  system_auth: [
    "roles",
    "role_members",
    "role_permissions",
    "resource_role_permissons_index",
    "network_permissions",
    "cidr_permissions",
    "cidr_groups",
    "identity_to_role",
  ],
  system_distributed: [
    "repair_history",
    "parent_repair_history",
    "view_build_status",
    "partition_denylist",
    "auto_repair_history",
    "auto_repair_priority",
  ],
  system_traces: ["sessions", "events"],
};

/** UUID.nameUUIDFromBytes: MD5, then version 3 and the IETF variant. */
export function nameBasedUuid(bytes: Uint8Array): string {
  const md5 = createHash("md5").update(bytes).digest();
  md5[6] = (md5[6]! & 0x0f) | 0x30;
  md5[8] = (md5[8]! & 0x3f) | 0x80;
  const hex = md5.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** TableId.forSystemTable. */
export function systemTableId(keyspace: string, table: string): string {
  return nameBasedUuid(Buffer.concat([Buffer.from(keyspace, "utf8"), Buffer.from(table, "utf8")]));
}

let ids: ReadonlyMap<string, string> | undefined;

/** Every known system table id, to `keyspace.table`. */
export function systemTableIds(): ReadonlyMap<string, string> {
  ids ??= new Map(
    Object.entries(SYSTEM_TABLES).flatMap(([ks, tables]) =>
      tables.map((t) => [systemTableId(ks, t), `${ks}.${t}`] as const),
    ),
  );
  return ids;
}

/** A `passThrough` predicate for filterSegment: true for the tables of Cassandra's own keyspaces (4.1, 5.0). */
export function isSystemTableId(tableId: string): boolean {
  return systemTableIds().has(tableId);
}
