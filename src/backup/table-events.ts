/**
 * Truncations and drops of tables, as Cassandra's own auto-snapshots show them, recorded in the
 * archive so that a restore plan knows them (docs/restore.md, "Truncations and dropped tables").
 *
 * With `auto_snapshot: true` (Cassandra's default) `TRUNCATE` and `DROP TABLE` snapshot the table
 * first into `<table dir>/snapshots/truncated-<millis>-<table>/` and `dropped-<millis>-<table>/`
 * (ColumnFamilyStore.truncateBlocking, SNAPSHOT_TRUNCATE_PREFIX / SNAPSHOT_DROP_PREFIX; the millis are
 * read just after the truncation time Cassandra records in system.local). The directory outlives
 * the drop, so the table id (from the directory name) and the time are both known. One empty
 * object per event, everything in its key, so listing them reads no object:
 *
 *   <node prefix>table-events/<compact time>_<truncate|drop>_<keyspace>.<table>_<table id hex>.json
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  compactTime,
  decodeKeyPart,
  encodeKeyPart,
  nodePrefix,
  parseCompactTime,
  type NodeIdentity,
} from "../format/layout.js";
import { dashedUuid, undashedUuid } from "../format/backup-layout.js";
import { isPitrError } from "../errors/base.js";
import { PreconditionFailedError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";
import type { TableDir } from "./local.js";

export const TABLE_EVENTS_DIR = "table-events";

export interface TableEvent {
  readonly kind: "truncate" | "drop";
  readonly keyspace: string;
  readonly table: string;
  /** Dashed UUID of the table truncated or dropped. */
  readonly tableId: string;
  /** Cassandra's wall clock (ms) when it took the auto-snapshot. */
  readonly timeMs: number;
}

const AUTO_SNAPSHOT = /^(truncated|dropped)-(\d{10,16})-(.+)$/;

/** The event an auto-snapshot directory name records, if it is one. */
export function eventOfSnapshotDir(
  dir: Pick<TableDir, "keyspace" | "table" | "dirTableId">,
  name: string,
): TableEvent | undefined {
  const m = AUTO_SNAPSHOT.exec(name);
  if (!m || m[3] !== dir.table) return undefined;
  return {
    kind: m[1] === "truncated" ? "truncate" : "drop",
    keyspace: dir.keyspace,
    table: dir.table,
    tableId: dir.dirTableId,
    timeMs: Number(m[2]),
  };
}

export function tableEventsPrefix(id: NodeIdentity): string {
  return `${nodePrefix(id)}${TABLE_EVENTS_DIR}/`;
}

export function tableEventKey(id: NodeIdentity, e: TableEvent): string {
  return `${tableEventsPrefix(id)}${compactTime(e.timeMs)}_${e.kind}_${encodeKeyPart(e.keyspace)}.${encodeKeyPart(e.table)}_${undashedUuid(e.tableId)}.json`;
}

export function parseTableEventKey(key: string): TableEvent | undefined {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const m =
    /^(\d{8}T\d{6}\.\d{3}Z)_(truncate|drop)_([A-Za-z0-9_+-]+)\.([A-Za-z0-9_+-]+)_([0-9a-f]{32})\.json$/.exec(
      name,
    );
  const timeMs = m ? parseCompactTime(m[1]!) : undefined;
  if (!m || timeMs === undefined) return undefined;
  return {
    kind: m[2] as TableEvent["kind"],
    keyspace: decodeKeyPart(m[3]!),
    table: decodeKeyPart(m[4]!),
    tableId: dashedUuid(m[5]!),
    timeMs,
  };
}

/** Every truncation and drop auto-snapshot in the given table directories. */
export async function findTableEvents(dirs: readonly TableDir[]): Promise<TableEvent[]> {
  const out: TableEvent[] = [];
  for (const dir of dirs) {
    const names = await readdir(join(dir.path, "snapshots")).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT" || e.code === "ENOTDIR") return [] as string[];
      throw e;
    });
    for (const name of names) {
      const event = eventOfSnapshotDir(dir, name);
      if (event) out.push(event);
    }
  }
  return out.sort((a, b) => a.timeMs - b.timeMs);
}

/** Records each event once (an existing key is the same event); returns the keys written now. */
export async function recordTableEvents(
  backend: Backend,
  identity: NodeIdentity,
  events: readonly TableEvent[],
  signal?: AbortSignal,
): Promise<string[]> {
  const written: string[] = [];
  for (const e of events) {
    const key = tableEventKey(identity, e);
    const body =
      JSON.stringify({
        schema_version: 1,
        kind: e.kind,
        keyspace: e.keyspace,
        table: e.table,
        table_id: e.tableId,
        time: new Date(e.timeMs).toISOString(),
      }) + "\n";
    try {
      await backend.put(key, new Uint8Array(Buffer.from(body)), {
        ifAbsent: true,
        metadata: { kind: "table-event" },
        signal,
      });
      written.push(key);
    } catch (err) {
      if (!(
        err instanceof PreconditionFailedError ||
        (isPitrError(err) && err.code === "E_PRECONDITION_FAILED")
      ))
        throw err;
    }
  }
  return written;
}

/** Every recorded truncation and drop of the node, oldest first. */
export async function listTableEvents(
  backend: Backend,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<TableEvent[]> {
  const out: TableEvent[] = [];
  for await (const info of backend.list(tableEventsPrefix(identity), { signal })) {
    const e = parseTableEventKey(info.key);
    if (e) out.push(e);
  }
  return out.sort((a, b) => a.timeMs - b.timeMs);
}
