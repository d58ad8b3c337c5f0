/**
 * Reads one commit log entry's payload (Mutation.serializer at the segment's messaging version) far
 * enough to know every timestamp in it. Each step mirrors a serializer of cassandra-all 5.0.9, read
 * with `javap -c -p` (cassandra-internals.md 3.9):
 *
 * - Mutation: unsigned vint count of partition updates, then each PartitionUpdate: the 16-byte table
 *   id (TableId.serialize), then UnfilteredRowIteratorSerializer: partition key (vint length + bytes),
 *   flags (0x01 empty: nothing follows; 0x04 partition deletion; 0x08 static row; 0x10 row estimate),
 *   SerializationHeader.serializeForMessaging (EncodingStats: minTimestamp - TIMESTAMP_EPOCH,
 *   minLocalDeletionTime, minTTL as vints; then the static columns when there is a static row, then
 *   the regular columns, each list a vint count of vint-length names), the partition deletion, the
 *   static row, the row estimate, the rows and range tombstone markers, and an end-of-partition byte.
 * - Timestamps are unsigned vint deltas from EncodingStats.minTimestamp (SerializationHeader.
 *   writeTimestamp), local deletion times and TTLs vint deltas too; a DeletionTime is a timestamp then
 *   a local deletion time.
 * - UnfilteredSerializer: flags (0x01 end of partition, 0x02 range tombstone marker, 0x04 liveness
 *   timestamp, 0x08 TTL, 0x10 row deletion, 0x20 all columns, 0x40 complex deletions, 0x80 extended
 *   flags follow: 0x01 static, 0x02 shadowable deletion); the clustering (none for the static row);
 *   no row size outside sstables; then liveness, deletion, the column subset (Columns.serializeSubset)
 *   unless all columns, then the cells in header order. A complex column: its deletion (when the row
 *   flag says so, LIVE included), a vint cell count, the cells.
 * - Cell.Serializer: flags (0x01 tombstone, 0x02 expiring, 0x04 empty value, 0x08 row timestamp,
 *   0x10 row TTL); timestamp unless 0x08; local deletion time and TTL unless 0x10; the cell path of a
 *   complex column (vint length + bytes); the value (types.ts).
 * - Markers: flags 0x02, bound kind ordinal, int16 size, the clustering values, then one deletion
 *   time (bound) or two (boundary: kinds 2 and 5).
 * - Clustering values (ClusteringPrefix.serializeValuesWithoutSize): per block of 32 values a vint
 *   header with two bits per value (empty, null), then each non-null non-empty value.
 *
 * The reader must consume the payload exactly; anything else is an error, never a guess.
 */
import { PitrError } from "../../errors/base.js";
import type { ColumnSchema, TableSchema } from "./schema-cql.js";
import type { ValueType } from "./types.js";

/** What a partition update contained, by the name the filter reports. */
export type MutationKind =
  | "row-liveness"
  | "cell"
  | "cell-tombstone"
  | "expiring"
  | "row-deletion"
  | "range-tombstone"
  | "partition-deletion"
  | "complex-deletion"
  | "static-row";

const KIND_BITS: readonly MutationKind[] = [
  "row-liveness",
  "cell",
  "cell-tombstone",
  "expiring",
  "row-deletion",
  "range-tombstone",
  "partition-deletion",
  "complex-deletion",
  "static-row",
];
const K = Object.fromEntries(KIND_BITS.map((k, i) => [k, 1 << i])) as Record<MutationKind, number>;

export interface PartitionUpdateReading {
  /** Dashed lowercase UUID. */
  readonly tableId: string;
  /** Offset of the 16 table id bytes in the payload. */
  readonly tableIdOffset: number;
  readonly partitionKey: Uint8Array;
  /** Largest timestamp of any kind in the update; undefined when it has none. */
  readonly maxTimestamp: bigint | undefined;
  /**
   * What Cassandra's PartitionUpdate.maxTimestamp() reports for it (4.0 to 5.0.9): the same without
   * row deletions (cassandra-internals.md 6, item 13).
   */
  readonly cassandraMaxTimestamp: bigint | undefined;
  readonly kinds: readonly MutationKind[];
}

export interface MutationReading {
  readonly updates: readonly PartitionUpdateReading[];
  readonly maxTimestamp: bigint | undefined;
  readonly cassandraMaxTimestamp: bigint | undefined;
}

export type TableLookup = (tableId: string) => TableSchema | undefined;

/** The payload does not read as a mutation of the given schema. `offset` is within the payload. */
export class MutationReadError extends PitrError {
  override name = "MutationReadError";
  constructor(
    readonly what: string,
    readonly offset: number,
  ) {
    super("E_MUTATION_UNREADABLE", `mutation unreadable: ${what} at payload offset ${offset}`);
  }
}

/** A partition update of a table the lookup does not know. */
export class UnknownTableError extends PitrError {
  override name = "UnknownTableError";
  constructor(readonly tableId: string) {
    super("E_UNKNOWN_TABLE", `mutation of unknown table id ${tableId}`, {
      hint: "give the schema.cql of every table in the restored segments (a table dropped or re-created after the snapshot cannot be filtered)",
    });
  }
}

/** The messaging versions whose format was checked against cassandra-all 5.0.9 (VERSION_40, VERSION_50). */
export const READABLE_MESSAGING_VERSIONS: readonly number[] = [12, 13];

/** 2015-09-22T00:00:00Z in µs (EncodingStats.TIMESTAMP_EPOCH). */
const TIMESTAMP_EPOCH = 1442880000000000n;
const NO_TIMESTAMP = -(2n ** 63n);

export function readMutation(
  payload: Uint8Array,
  messagingVersion: number,
  lookup: TableLookup,
): MutationReading {
  if (!READABLE_MESSAGING_VERSIONS.includes(messagingVersion)) {
    throw new MutationReadError(`messaging version ${messagingVersion} is not one this reader knows`, 0);
  }
  const r = new ByteReader(payload);
  const count = r.vint();
  if (count < 1) throw new MutationReadError("a mutation without partition updates", 0);
  const updates: PartitionUpdateReading[] = [];
  for (let i = 0; i < count; i++) updates.push(readPartitionUpdate(r, lookup));
  if (r.pos !== payload.length)
    throw new MutationReadError(
      `${payload.length - r.pos} bytes left after the last partition update`,
      r.pos,
    );
  return {
    updates,
    maxTimestamp: maxOf(updates.map((u) => u.maxTimestamp)),
    cassandraMaxTimestamp: maxOf(updates.map((u) => u.cassandraMaxTimestamp)),
  };
}

/** The table id (dashed UUID) of the first partition update, read without the schema. */
export function firstTableId(payload: Uint8Array): string {
  const r = new ByteReader(payload);
  r.vint();
  return r.uuid();
}

function maxOf(values: readonly (bigint | undefined)[]): bigint | undefined {
  let max: bigint | undefined;
  for (const v of values) if (v !== undefined && (max === undefined || v > max)) max = v;
  return max;
}

interface TableColumns {
  readonly clustering: readonly ValueType[];
  readonly byName: ReadonlyMap<string, ColumnSchema>;
  /** Resolved header column lists with their raw bytes (headers repeat from mutation to mutation). */
  readonly headers: { readonly raw: Uint8Array; readonly columns: readonly ColumnSchema[] }[];
}

const tableCache = new WeakMap<TableSchema, TableColumns>();

function columnsOf(table: TableSchema): TableColumns {
  let c = tableCache.get(table);
  if (!c) {
    const byName = new Map<string, ColumnSchema>();
    // A live column wins over a dropped one of the same name (TableMetadata.getColumn before getDroppedColumn).
    for (const col of table.columns) if (col.droppedAt !== undefined) byName.set(col.name, col);
    for (const col of table.columns) if (col.droppedAt === undefined) byName.set(col.name, col);
    const clustering = table.columns
      .filter((x) => x.kind === "clustering" && x.droppedAt === undefined)
      .map((x) => x.type);
    c = { clustering, byName, headers: [] };
    tableCache.set(table, c);
  }
  return c;
}

/**
 * A timestamp as read: its delta from EncodingStats.minTimestamp when the delta fits a double exactly
 * (the usual case: a vint of at most 7 bytes), else the timestamp itself. Keeping deltas as numbers
 * spares a BigInt per timestamp; the maxima become timestamps once per update.
 */
type Stamp = number | bigint;

/** Per-update state: the encoding stats and the running maxima. */
class UpdateState {
  /** Largest small delta (-1: none), and largest timestamp read whole. */
  private maxDelta = -1;
  private maxDeltaCassandra = -1;
  private maxWhole = NO_TIMESTAMP;
  private maxWholeCassandra = NO_TIMESTAMP;
  kinds = 0;
  minTimestamp = TIMESTAMP_EPOCH;

  constructor(
    readonly table: TableSchema,
    readonly columns: TableColumns,
  ) {}

  /** Reads a delta-encoded timestamp; `cassandra` says whether maxTimestamp() counts it. */
  timestamp(r: ByteReader, kind: number, cassandra: boolean): Stamp {
    const delta = r.vintSmall();
    const stamp = delta >= 0 ? delta : BigInt.asIntN(64, this.minTimestamp + r.lastBig);
    this.note(stamp, kind, cassandra);
    return stamp;
  }

  note(stamp: Stamp, kind: number, cassandra: boolean): void {
    if (typeof stamp === "number") {
      this.kinds |= kind;
      if (stamp > this.maxDelta) this.maxDelta = stamp;
      if (cassandra && stamp > this.maxDeltaCassandra) this.maxDeltaCassandra = stamp;
      return;
    }
    if (stamp === NO_TIMESTAMP) return; // DeletionTime.LIVE, written for complex columns without a deletion
    this.kinds |= kind;
    if (stamp > this.maxWhole) this.maxWhole = stamp;
    if (cassandra && stamp > this.maxWholeCassandra) this.maxWholeCassandra = stamp;
  }

  deletionTime(r: ByteReader, kind: number, cassandra: boolean): void {
    this.timestamp(r, kind, cassandra);
    r.skipVint(); // local deletion time
  }

  /** The largest timestamp of any kind, and the largest Cassandra's maxTimestamp() counts; undefined for none. */
  maxima(): [bigint | undefined, bigint | undefined] {
    return [this.max(this.maxDelta, this.maxWhole), this.max(this.maxDeltaCassandra, this.maxWholeCassandra)];
  }

  private max(delta: number, whole: bigint): bigint | undefined {
    // min + delta (< 2^49) wraps only for a minTimestamp within 2^49 of 2^63, which no clock writes.
    const fromDelta = delta < 0 ? NO_TIMESTAMP : BigInt.asIntN(64, this.minTimestamp + BigInt(delta));
    const max = fromDelta > whole ? fromDelta : whole;
    return max === NO_TIMESTAMP ? undefined : max;
  }
}

function readPartitionUpdate(r: ByteReader, lookup: TableLookup): PartitionUpdateReading {
  const tableIdOffset = r.pos;
  const tableId = r.uuid();
  const table = lookup(tableId);
  if (!table) throw new UnknownTableError(tableId);
  const keyLength = r.vint();
  const partitionKey = r.take(keyLength);
  const state = new UpdateState(table, columnsOf(table));
  const flags = r.u8();
  if ((flags & 0x01) === 0) readPartitionBody(r, state, flags);
  const [maxTimestamp, cassandraMaxTimestamp] = state.maxima();
  return {
    tableId,
    tableIdOffset,
    partitionKey,
    maxTimestamp,
    cassandraMaxTimestamp,
    kinds: KIND_BITS.filter((k) => (state.kinds & K[k]) !== 0),
  };
}

function readPartitionBody(r: ByteReader, s: UpdateState, flags: number): void {
  const hasStatic = (flags & 0x08) !== 0;
  s.minTimestamp = BigInt.asIntN(64, TIMESTAMP_EPOCH + r.vintBig());
  r.skipVint(); // min local deletion time
  r.skipVint(); // min TTL
  const statics = hasStatic ? readHeaderColumns(r, s) : [];
  const regulars = readHeaderColumns(r, s);
  if ((flags & 0x04) !== 0) s.deletionTime(r, K["partition-deletion"], true);
  if (hasStatic) {
    const rowFlags = r.u8();
    const extended = (rowFlags & 0x80) !== 0 ? r.u8() : 0;
    if ((extended & 0x01) === 0) throw new MutationReadError("the static row is not flagged static", r.pos);
    s.kinds |= K["static-row"];
    readRowBody(r, s, rowFlags, statics);
  }
  if ((flags & 0x10) !== 0) r.vint(); // row estimate
  for (;;) {
    const at = r.pos;
    const rowFlags = r.u8();
    if ((rowFlags & 0x01) !== 0) return; // end of partition
    if ((rowFlags & 0x02) !== 0) {
      readMarker(r, s);
      continue;
    }
    const extended = (rowFlags & 0x80) !== 0 ? r.u8() : 0;
    if ((extended & 0x01) !== 0) throw new MutationReadError("a static row among the rows", at);
    readClusteringValues(r, s.columns.clustering, s.columns.clustering.length);
    readRowBody(r, s, rowFlags, regulars);
  }
}

/** Columns.serializer: vint count, then vint-length names; resolved against the table (live, then dropped). */
function readHeaderColumns(r: ByteReader, s: UpdateState): readonly ColumnSchema[] {
  const start = r.pos;
  const count = r.vint();
  for (let i = 0; i < count; i++) r.skip(r.vint());
  const raw = r.bytes.subarray(start, r.pos);
  const known = s.columns.headers.find((h) => sameBytes(h.raw, raw));
  if (known) return known.columns;
  const columns = resolveColumns(raw, s, start);
  s.columns.headers.push({ raw: new Uint8Array(raw), columns });
  return columns;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const UTF8 = new TextDecoder("utf-8");

function resolveColumns(raw: Uint8Array, s: UpdateState, offset: number): ColumnSchema[] {
  const r = new ByteReader(raw);
  const count = r.vint();
  const out: ColumnSchema[] = [];
  for (let i = 0; i < count; i++) {
    const name = UTF8.decode(r.take(r.vint()));
    const col = s.columns.byName.get(name);
    if (!col)
      throw new MutationReadError(
        `column "${name}" is not in the schema of ${s.table.keyspace}.${s.table.table}`,
        offset,
      );
    out.push(col);
  }
  return out;
}

function readRowBody(r: ByteReader, s: UpdateState, flags: number, header: readonly ColumnSchema[]): void {
  let rowTimestamp: Stamp | undefined;
  if ((flags & 0x04) !== 0) rowTimestamp = s.timestamp(r, K["row-liveness"], true);
  if ((flags & 0x08) !== 0) {
    s.kinds |= K["expiring"];
    r.skipVint(); // TTL
    r.skipVint(); // local expiration time
  }
  // Row.deletion() is the one timestamp PartitionUpdate.maxTimestamp() leaves out.
  if ((flags & 0x10) !== 0) s.deletionTime(r, K["row-deletion"], false);
  const columns = (flags & 0x20) !== 0 ? header : readColumnSubset(r, header);
  const complexDeletions = (flags & 0x40) !== 0;
  for (const col of columns) {
    if (!col.type.multiCell) {
      readCell(r, s, col.type, false, rowTimestamp);
      continue;
    }
    if (complexDeletions) s.deletionTime(r, K["complex-deletion"], true);
    const cells = r.vint();
    for (let i = 0; i < cells; i++) readCell(r, s, col.type, true, rowTimestamp);
  }
}

function readCell(
  r: ByteReader,
  s: UpdateState,
  type: ValueType,
  complex: boolean,
  rowTimestamp: Stamp | undefined,
): void {
  const flags = r.u8();
  const deleted = (flags & 0x01) !== 0;
  const expiring = (flags & 0x02) !== 0;
  const kind = deleted ? K["cell-tombstone"] : expiring ? K["expiring"] | K["cell"] : K["cell"];
  if ((flags & 0x08) !== 0) {
    if (rowTimestamp === undefined)
      throw new MutationReadError("a cell uses the row timestamp of a row without one", r.pos - 1);
    s.note(rowTimestamp, kind, true);
  } else s.timestamp(r, kind, true);
  if ((flags & 0x10) === 0) {
    if (deleted || expiring) r.skipVint(); // local deletion time
    if (expiring) r.skipVint(); // TTL
  }
  if (complex) r.skip(r.vint()); // cell path
  if ((flags & 0x04) === 0) readValue(r, type.multiCell ? -1 : type.fixedLength);
}

function readValue(r: ByteReader, fixedLength: number): void {
  r.skip(fixedLength >= 0 ? fixedLength : r.vint());
}

/** Columns.deserializeSubset: 0 = all; below 64 columns a bitmap of the missing ones; else counts and indexes. */
function readColumnSubset(r: ByteReader, header: readonly ColumnSchema[]): readonly ColumnSchema[] {
  const at = r.pos;
  const encoded = r.vintBig();
  if (encoded === 0n) return header;
  if (header.length < 64) {
    const out = header.filter((_, i) => ((encoded >> BigInt(i)) & 1n) === 0n);
    if (encoded >> BigInt(header.length) !== 0n)
      throw new MutationReadError("column subset names columns beyond the header", at);
    return out;
  }
  const missing = Number(encoded);
  const present = header.length - missing;
  if (missing > header.length) throw new MutationReadError("column subset larger than the header", at);
  if (present < header.length / 2) {
    const out: ColumnSchema[] = [];
    for (let i = 0; i < present; i++) out.push(columnAt(header, r.vint(), at));
    return out;
  }
  const skipped = new Set<number>();
  for (let i = 0; i < missing; i++) skipped.add(r.vint());
  return header.filter((_, i) => !skipped.has(i));
}

function columnAt(header: readonly ColumnSchema[], index: number, at: number): ColumnSchema {
  const col = header[index];
  if (!col) throw new MutationReadError(`column index ${index} outside the header`, at);
  return col;
}

function readMarker(r: ByteReader, s: UpdateState): void {
  const kind = r.u8();
  const size = r.u16();
  if (kind > 7 || size > s.columns.clustering.length)
    throw new MutationReadError(`range tombstone bound kind ${kind} size ${size}`, r.pos - 3);
  readClusteringValues(r, s.columns.clustering, size);
  // ClusteringPrefix.Kind: EXCL_END_INCL_START_BOUNDARY = 2, INCL_END_EXCL_START_BOUNDARY = 5 carry two deletion times.
  const boundary = kind === 2 || kind === 5;
  s.deletionTime(r, K["range-tombstone"], true);
  if (boundary) s.deletionTime(r, K["range-tombstone"], true);
}

function readClusteringValues(r: ByteReader, types: readonly ValueType[], size: number): void {
  for (let block = 0; block < size; block += 32) {
    const header = r.vintBig();
    const limit = Math.min(size, block + 32);
    for (let i = block; i < limit; i++) {
      const bits = Number((header >> BigInt((i - block) * 2)) & 3n);
      if (bits !== 0) continue; // empty (1) or null (2): no bytes
      readValue(r, types[i]!.fixedLength);
    }
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * The same few table ids come back in every mutation: handing out one string per id (matched by its
 * bytes) spares building it, and lets Map lookups reuse the string's cached hash.
 */
const recentIds: { readonly bytes: Uint8Array; readonly text: string }[] = [];
const RECENT_IDS = 64;

function uuidText(b: Uint8Array): string {
  for (const known of recentIds) if (sameBytes(known.bytes, b)) return known.text;
  let text = "";
  for (let i = 0; i < 16; i++) text += (i === 4 || i === 6 || i === 8 || i === 10 ? "-" : "") + HEX[b[i]!]!;
  if (recentIds.length >= RECENT_IDS) recentIds.shift();
  recentIds.push({ bytes: new Uint8Array(b), text }); // a copy even when b is a Buffer
  return text;
}

/** Bounds-checked big-endian reads; every overrun is a MutationReadError. */
class ByteReader {
  pos = 0;

  constructor(readonly bytes: Uint8Array) {}

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length)
      throw new MutationReadError(`${n} bytes needed, ${this.bytes.length - this.pos} left`, this.pos);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = (this.bytes[this.pos]! << 8) | this.bytes[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  uuid(): string {
    return uuidText(this.take(16));
  }

  /** The value of the last vintSmall that did not fit a double. */
  lastBig = 0n;

  /** An unsigned vint as a number when it has at most 7 bytes (< 2^49), else -1 with the value in lastBig. */
  vintSmall(): number {
    const first = this.bytes[this.pos];
    if (first !== undefined && first < 0x80) {
      this.pos++;
      return first;
    }
    const extra = first === undefined ? 0 : Math.clz32(~first & 0xff) - 24;
    if (extra > 6) {
      this.lastBig = this.vintBig();
      return -1;
    }
    this.need(1 + extra);
    let value = first! & (0xff >> extra);
    this.pos++;
    for (let i = 0; i < extra; i++) value = value * 256 + this.bytes[this.pos++]!;
    return value;
  }

  skipVint(): void {
    const first = this.u8();
    if (first >= 0x80) this.skip(Math.clz32(~first & 0xff) - 24);
  }

  /** An unsigned vint used as a length or count: at most 2^31 - 1. */
  vint(): number {
    const at = this.pos;
    const v = this.vintBig();
    if (v > 0x7fffffffn) throw new MutationReadError(`length ${v} out of range`, at);
    return Number(v);
  }

  /** VIntCoding.readUnsignedVInt: the leading one bits of the first byte count the extra bytes. */
  vintBig(): bigint {
    const first = this.u8();
    if (first < 0x80) return BigInt(first);
    const extra = Math.clz32(~first & 0xff) - 24;
    this.need(extra);
    let value = first & (0xff >> extra);
    if (extra <= 6) {
      for (let i = 0; i < extra; i++) value = value * 256 + this.bytes[this.pos++]!;
      return BigInt(value);
    }
    let big = BigInt(value);
    for (let i = 0; i < extra; i++) big = (big << 8n) | BigInt(this.bytes[this.pos++]!);
    return big;
  }
}
