/**
 * What happened to the restored tables between the base snapshot and now, as the planner needs it
 * (pure; docs/restore.md "Truncations, dropped and re-created tables, schema changes"):
 *
 * - Truncations at or before T (recorded from Cassandra's `truncated-<ms>-<table>` auto-snapshots,
 *   src/backup/table-events.ts): Cassandra discarded every sstable that existed then and the
 *   memtable, so nothing older may come back: the snapshot's sstables of that table when the
 *   snapshot is older, incrementals flushed before it or holding only older writes, and commit log
 *   mutations of the table stamped before it (the replay filter's floor).
 * - Drops: a table id dropped at or before T, or re-created under another id, is refused with both
 *   ids, the drop time and the way out, never restored into a directory Cassandra does not read.
 *   Into a scratch node (the drill), whose tables are created from the snapshot's schema.cql with
 *   their ids, a table re-created after T restores as it was at T: its id at T is the snapshot's.
 * - Schema: the base snapshot's schema.cql against the newest schema.cql the archive holds for the
 *   table: columns added, columns dropped after T (their values at T cannot come back in place),
 *   tables dropped after T.
 */
import { parseSchemaCql, type TableSchema } from "../commitlog/mutations/schema-cql.js";
import type { IncrementalEntry, SnapshotEntry, SnapshotTable } from "../catalog/model.js";
import type { TableEvent } from "../backup/table-events.js";
import { formatInstant } from "./time.js";
import { PlanRefusedError, type PlanTruncation, type SchemaChange } from "./plan.js";

const iso = (ms: number) => new Date(ms).toISOString();
const micros = (ms: number) => BigInt(ms) * 1000n;
const qualified = (t: { keyspace: string; table: string }) => `${t.keyspace}.${t.table}`;

/** The latest truncation at or before T of each restored table (by table id). */
export function truncationsAt(
  events: readonly TableEvent[],
  tables: readonly SnapshotTable[],
  at: bigint,
): PlanTruncation[] {
  const out: PlanTruncation[] = [];
  for (const t of tables) {
    const last = events
      .filter((e) => e.kind === "truncate" && e.tableId === t.tableId && micros(e.timeMs) <= at)
      .at(-1);
    if (last)
      out.push({
        keyspace: t.keyspace,
        table: t.table,
        tableId: t.tableId,
        truncatedAtMs: last.timeMs,
        floorMicros: micros(last.timeMs),
      });
  }
  return out;
}

/** Why an incremental of a truncated table must not be placed; undefined when it may. */
export function truncatedIncremental(
  tr: PlanTruncation | undefined,
  inc: Pick<IncrementalEntry, "foundTimeMs" | "maxTimestamp">,
): string | undefined {
  if (!tr) return undefined;
  if (inc.foundTimeMs <= tr.truncatedAtMs)
    return `flushed before the TRUNCATE at ${iso(tr.truncatedAtMs)} (it existed then, so Cassandra discarded it)`;
  if (inc.maxTimestamp < tr.floorMicros)
    return `every write in it is stamped before the TRUNCATE at ${iso(tr.truncatedAtMs)} (max timestamp ${inc.maxTimestamp})`;
  return undefined;
}

/**
 * Refuses (exit 17) a table whose id at T is not the snapshot's, or which did not exist at T: both
 * ids, the drop time and what to do. `laterIds` are the ids the same name has in later snapshots,
 * incrementals or the live schema. A table dropped at or before T and never re-created did not
 * exist at T: unless it is named, the reason to leave it out is returned instead. `scratch`: the
 * restore goes to a scratch node that creates the table with the snapshot's id, so a later id
 * (T before the drop) is no obstacle.
 */
export function refuseDroppedOrRecreated(
  t: SnapshotTable,
  snapTag: string,
  events: readonly TableEvent[],
  laterIds: readonly { id: string; whereMs: number; where: string }[],
  at: bigint,
  named: boolean,
  scratch = false,
): string | undefined {
  const drop = events.find((e) => e.kind === "drop" && e.tableId === t.tableId);
  const other = laterIds.find((l) => l.id !== t.tableId);
  const name = qualified(t);
  if (drop && micros(drop.timeMs) <= at && !other && !named)
    return `dropped at ${iso(drop.timeMs)}, at or before the restore point, and not re-created: it did not exist at T, so it is left out`;
  if (drop && micros(drop.timeMs) <= at) {
    const recreated = other
      ? `; it was re-created as id ${other.id} (seen ${iso(other.whereMs)}, ${other.where})`
      : "";
    const inGap = !other || micros(other.whereMs) > at;
    throw new PlanRefusedError(
      inGap ? "table-gap" : "table-recreated",
      inGap
        ? `restore point ${formatInstant(at)} falls after table '${name}' (id ${t.tableId}) was dropped at ${iso(drop.timeMs)}${other ? " and before it was re-created" : ""}: the table did not exist at T${recreated}`
        : `table '${name}' was dropped at ${iso(drop.timeMs)} (id ${t.tableId}, snapshot '${snapTag}') and re-created as id ${other!.id} before ${formatInstant(at)}: no snapshot of the new id is at or before T, and the archived mutations of the old id are not the new table's`,
      {
        nearest: micros(drop.timeMs - 1),
        hint: inGap
          ? `choose a restore point before ${iso(drop.timeMs)} (the old table) or after a snapshot of the re-created table`
          : "take a snapshot of the re-created table and restore to a point after it, or restore a point before the drop",
      },
    );
  }
  if (other && !scratch) {
    throw new PlanRefusedError(
      "table-recreated",
      `table '${name}' has id ${t.tableId} in snapshot '${snapTag}' but id ${other.id} since ${iso(other.whereMs)} (${other.where})` +
        (drop ? `; id ${t.tableId} was dropped at ${iso(drop.timeMs)}` : "") +
        `: Cassandra reads only the directory and mutations of id ${other.id}, so the table at ${formatInstant(at)} cannot be restored in place`,
      { hint: scratchRecovery(name, t.tableId, at) },
    );
  }
  return undefined;
}

/**
 * The way to the table as it was at T when its id at T is no longer the live one: a drill restores
 * it into a scratch node that creates it from the snapshot's schema.cql WITH ID = the old id.
 */
export function scratchRecovery(name: string, oldId: string, at: bigint): string {
  return (
    `to get ${name} as it was at T, restore it into a scratch node that creates it WITH ID = ${oldId}: ` +
    `'cassandra-pitr verify --drill --at ${formatInstant(at)} --table ${name} --keep-scratch', then start the kept node ` +
    `('scripts/cassandra-node.sh start <its directory>') and copy the rows you need into the live table (docs/restore.md, "Re-created tables")`
  );
}

/** The same table name under other ids after the snapshot: later snapshots, incrementals, the live schema. */
export function laterIdsOf(
  t: SnapshotTable,
  snap: SnapshotEntry,
  snapshots: readonly SnapshotEntry[],
  incrementals: readonly IncrementalEntry[],
  current: string | undefined,
  nowMs: number,
) {
  const out: { id: string; whereMs: number; where: string }[] = [];
  for (const s of snapshots) {
    if (s.snapshotTimeMs <= snap.snapshotTimeMs) continue;
    const x = s.tables.find((y) => qualified(y) === qualified(t) && y.tableId !== t.tableId);
    if (x) out.push({ id: x.tableId, whereMs: s.snapshotTimeMs, where: `snapshot '${s.tag}'` });
  }
  for (const inc of incrementals) {
    if (qualified(inc) === qualified(t) && inc.tableId !== t.tableId && inc.foundTimeMs > snap.snapshotTimeMs)
      out.push({ id: inc.tableId, whereMs: inc.foundTimeMs, where: `incremental ${inc.sstable}` });
  }
  if (current !== undefined && current !== t.tableId)
    out.push({ id: current, whereMs: nowMs, where: "the live schema" });
  return out.sort((a, b) => a.whereMs - b.whereMs);
}

function schemaOf(t: SnapshotTable, source: string): TableSchema | undefined {
  if (!t.schemaCql) return undefined;
  return parseSchemaCql(t.schemaCql, source).find((x) => x.id === t.tableId);
}

/**
 * The differences between the schema at T (the base snapshot's schema.cql) and the newest one the
 * archive holds for each restored table, each stated for the operator. Parsing the base schema here
 * also makes `plan` refuse a schema.cql that does not parse (E_SCHEMA_CQL, file and line).
 */
export function schemaChanges(
  snap: SnapshotEntry,
  tables: readonly SnapshotTable[],
  snapshots: readonly SnapshotEntry[],
  events: readonly TableEvent[],
  at: bigint,
): { changes: SchemaChange[]; newest: SnapshotEntry | undefined } {
  const changes: SchemaChange[] = [];
  const later = snapshots.filter((s) => s.complete && s.snapshotTimeMs > snap.snapshotTimeMs);
  let newestUsed: SnapshotEntry | undefined;
  for (const t of tables) {
    const base = schemaOf(t, `snapshot '${snap.tag}' ${qualified(t)} schema.cql`);
    const drop = events.find((e) => e.kind === "drop" && e.tableId === t.tableId && micros(e.timeMs) > at);
    if (drop) {
      changes.push({
        keyspace: t.keyspace,
        table: t.table,
        kind: "table-dropped-after",
        at: iso(drop.timeMs),
        statement: `table ${qualified(t)} (id ${t.tableId}) was dropped at ${iso(drop.timeMs)}, after the restore point: Cassandra no longer reads it, so it cannot be restored in place; restore into a scratch node that creates it from the snapshot's schema.cql`,
      });
      continue;
    }
    const newestSnap = [...later]
      .reverse()
      .find((s) => s.tables.some((x) => x.tableId === t.tableId && x.schemaCql));
    if (!base || !newestSnap) continue;
    const newest = schemaOf(
      newestSnap.tables.find((x) => x.tableId === t.tableId)!,
      `snapshot '${newestSnap.tag}' ${qualified(t)} schema.cql`,
    );
    if (!newest) continue;
    newestUsed = newestSnap;
    changes.push(...columnChanges(t, base, newest, newestSnap, at));
  }
  return { changes, newest: newestUsed };
}

function columnChanges(
  t: SnapshotTable,
  base: TableSchema,
  newest: TableSchema,
  newestSnap: SnapshotEntry,
  at: bigint,
): SchemaChange[] {
  const out: SchemaChange[] = [];
  const live = (s: TableSchema) =>
    new Map(s.columns.filter((c) => c.droppedAt === undefined).map((c) => [c.name, c]));
  const before = live(base);
  const where = `snapshot '${newestSnap.tag}' (${iso(newestSnap.snapshotTimeMs)})`;
  for (const c of newest.columns) {
    if (c.droppedAt === undefined && !before.has(c.name)) {
      out.push({
        keyspace: t.keyspace,
        table: t.table,
        kind: "column-added",
        column: c.name,
        statement: `column ${qualified(t)}.${c.name} was added after the base snapshot (it is in ${where}): harmless, the restore keeps it and restores the values it had at T`,
      });
    } else if (c.droppedAt !== undefined && before.has(c.name) && c.droppedAt > at) {
      out.push({
        keyspace: t.keyspace,
        table: t.table,
        kind: "column-dropped-after",
        column: c.name,
        at: formatInstant(c.droppedAt),
        statement: `column ${qualified(t)}.${c.name} was dropped at ${formatInstant(c.droppedAt)}, after the restore point: its values at T cannot come back in place (Cassandra hides every cell of a dropped column written before the drop); to recover them, restore into a scratch node with the schema at T (the base snapshot's schema.cql, e.g. 'cassandra-pitr verify --drill') and copy them from there`,
      });
    } else if (c.droppedAt !== undefined && before.has(c.name)) {
      out.push({
        keyspace: t.keyspace,
        table: t.table,
        kind: "column-dropped-before",
        column: c.name,
        at: formatInstant(c.droppedAt),
        statement: `column ${qualified(t)}.${c.name} was dropped at ${formatInstant(c.droppedAt)}, at or before the restore point: it had no values at T, as after the restore`,
      });
    }
  }
  return out;
}
