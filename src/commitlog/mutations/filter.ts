/**
 * The mutation-exact replay filter: reads every mutation of a segment and withholds each one that
 * carries any timestamp after the cutoff, before Cassandra replays the segment. Cassandra's own check
 * (PartitionUpdate.maxTimestamp() > restore point, 4.0 to 5.0.9) misses row tombstones
 * (cassandra-internals.md 6, item 13); this one counts every timestamp (reader.ts).
 *
 * Nothing moves: sstables record flushed commit log positions and replay skips by position, so a
 * withheld entry keeps its size and place. Its partition updates' table ids become WITHHELD_TABLE_ID
 * and its trailing CRC (which continues over the size and the payload, entry.ts) is recomputed.
 * Cassandra then meets an unknown table id while deserialising: CommitLogReader.readMutation catches
 * UnknownTableException for the whole mutation (the first unknown id ends its deserialisation), counts
 * it and logs "Skipped N mutations from unknown (probably removed) CF with id <WITHHELD_TABLE_ID>"
 * (read in cassandra-all 5.0.9 with javap; every id is replaced anyway).
 *
 * - Uncompressed segments are patched in a copy, made only when something is withheld: sync markers
 *   and length unchanged. The input is never modified.
 * - Compressed segments: a section holding a withheld entry is decoded, patched and encoded again with
 *   the same compressor and the same uncompressed length (section-encoders.ts). Its compressed length
 *   changes, so every sync marker from there on is rewritten: a compressed segment's marker holds the
 *   file offset of the next one and its CRC covers its own file offset (sync-marker.ts). Logical
 *   positions (8 + uncompressed length per section) do not change.
 * - Encrypted segments, sections or entries that do not verify, and mutations that do not read are
 *   refused with a typed error naming the segment and offset; so is a mutation of a table that is
 *   neither in `tables` nor passed through.
 *
 * A mutation belongs to one keyspace (Mutation.keyspaceName), so `passThrough` is asked about the
 * first partition update's table id only; pass isSystemTableId (system-tables.ts) for Cassandra's own
 * keyspaces.
 */
import { crc32, crc32Int } from "../crc32.js";
import { describeVersion } from "../descriptor.js";
import { ENTRY_OVERHEAD_SIZE, MIN_MUTATION_SIZE } from "../entry.js";
import { SegmentChecksumError, SegmentHeaderError, TruncatedSegmentError } from "../errors.js";
import { sectionDecoder } from "../section-codecs.js";
import { parseSegmentHeader, type SegmentHeader } from "../segment-header.js";
import { parseSyncMarkerSlot, SYNC_MARKER_SIZE, syncMarkerChecksum } from "../sync-marker.js";
import {
  MixedTruncationError,
  MutationUnreadableError,
  SegmentEncryptedError,
  UnknownTableInSegmentError,
} from "./errors.js";
import {
  firstTableId,
  MutationReadError,
  readMutation,
  UnknownTableError,
  type MutationReading,
} from "./reader.js";
import type { TableSchema } from "./schema-cql.js";
import { sectionEncoder, type SectionEncoder } from "./section-encoders.js";

/**
 * The table id a withheld mutation is given: a fixed random (version 4) UUID of this project, never
 * the id of a real table. It shows in Cassandra's log as the id of the skipped "unknown CF".
 */
export const WITHHELD_TABLE_ID = "a6d0a4b9-eb87-4c49-8c6f-fcd22c1b9a3a";
const WITHHELD_ID_BYTES = Uint8Array.from(
  WITHHELD_TABLE_ID.replace(/-/g, "")
    .match(/../g)!
    .map((h) => parseInt(h, 16)),
);

export interface ReplayFilterOptions {
  /** Withhold mutations with any timestamp strictly greater than this (in the writes' unit, µs by default). */
  readonly cutoffMicros: bigint;
  /** The tables of the restored keyspaces by table id (parseSchemaCql). */
  readonly tables: ReadonlyMap<string, TableSchema>;
  /** Mutations whose (first) table id this accepts are left as they are, unread. */
  readonly passThrough?: (tableId: string) => boolean;
  /**
   * A lower cutoff for some tables (an earlier restore undid their later writes in this segment's
   * history): a mutation is withheld when any of its updates is stamped after its table's cutoff.
   */
  readonly cutoffFor?: ((tableId: string) => bigint) | undefined;
  /**
   * A lower bound for some tables (a TRUNCATE at or before the restore point discarded everything
   * older): a mutation whose updates are all stamped before their table's floor is withheld.
   */
  readonly floorFor?: ((tableId: string) => bigint | undefined) | undefined;
}

export interface ReplayFilterResult {
  /** The rewritten segment, or the input itself when nothing was withheld. */
  readonly bytes: Uint8Array;
  readonly mutations: number;
  readonly kept: number;
  readonly withheld: number;
  /** Withheld although Cassandra's own maxTimestamp() check would have replayed them (the row tombstone bug). */
  readonly withheldBeyondCassandra: number;
  /** Withheld because a TRUNCATE at or before the restore point came after them (floorFor). */
  readonly withheldTruncated: number;
  readonly passedThrough: number;
  /** CommitLogPosition.position (the logical offset just after the entry) of each withheld mutation. */
  readonly withheldAt: readonly number[];
}

interface Section {
  readonly marker: number;
  readonly next: number;
  /** Decoded (compressed segments) or a view of the file (uncompressed). */
  readonly content: Uint8Array;
  /** Logical position of the section's first content byte. */
  readonly logical: number;
  changed: boolean;
}

interface Counts {
  mutations: number;
  kept: number;
  withheld: number;
  withheldBeyondCassandra: number;
  withheldTruncated: number;
  passedThrough: number;
  withheldAt: number[];
}

export function filterSegment(name: string, bytes: Uint8Array, o: ReplayFilterOptions): ReplayFilterResult {
  const header = parseSegmentHeader(bytes, name);
  const opts = { segment: name };
  if (header.encryption) throw new SegmentEncryptedError(header.encryption.cipher, opts);
  const messagingVersion = describeVersion(header.version)!.messagingVersion;
  const codec = codecOf(header, name);
  const counts: Counts = {
    mutations: 0,
    kept: 0,
    withheld: 0,
    withheldBeyondCassandra: 0,
    withheldTruncated: 0,
    passedThrough: 0,
    withheldAt: [],
  };
  const sections = readSections(name, bytes, header, codec?.decode);
  const patches: Patch[] = [];
  const context = {
    name,
    messagingVersion,
    options: o,
    counts,
    compressed: codec !== undefined,
    lookup: (id: string) => o.tables.get(id),
  };
  for (const s of sections) filterEntries(s, context, patches);
  const result = { ...counts, bytes };
  if (patches.length === 0) return result;
  if (!codec) return { ...result, bytes: patchedCopy(bytes, patches) };
  for (const p of patches) apply(p.section.content, p);
  return { ...result, bytes: rewriteCompressed(name, bytes, header.id, sections, codec.encode) };
}

/** A withheld entry: `at` is its offset in its section's content, `idOffsets` where its table ids are in the payload. */
interface Patch {
  readonly section: Section;
  readonly at: number;
  readonly size: number;
  readonly sizeCrc: number;
  readonly idOffsets: readonly number[];
}

/** Writes WITHHELD_TABLE_ID over the entry's table ids in `content` and recomputes its trailing CRC. */
function apply(content: Uint8Array, p: Patch): void {
  const payload = content.subarray(p.at + 8, p.at + 8 + p.size);
  for (const offset of p.idOffsets) payload.set(WITHHELD_ID_BYTES, offset);
  new DataView(content.buffer, content.byteOffset, content.byteLength).setUint32(
    p.at + 8 + p.size,
    crc32(payload, p.sizeCrc),
  );
  p.section.changed = true;
}

/** An uncompressed segment: a copy with each patch written at its entry's file offset. */
function patchedCopy(bytes: Uint8Array, patches: readonly Patch[]): Uint8Array {
  const out = new Uint8Array(bytes); // a copy: Buffer.slice would be a view of the input
  for (const p of patches) apply(out.subarray(p.section.marker + SYNC_MARKER_SIZE, p.section.next), p);
  return out;
}

interface Codec {
  readonly decode: (compressed: Uint8Array, length: number) => Uint8Array | undefined;
  readonly encode: SectionEncoder;
}

function codecOf(header: SegmentHeader, name: string): Codec | undefined {
  if (!header.compression) return undefined;
  const decode = sectionDecoder(header.compression.class);
  const encode = sectionEncoder(header.compression.class);
  if (!decode || !encode) {
    throw new MutationUnreadableError(
      `compressor ${header.compression.class} has no codec here, so its mutations cannot be read`,
      0,
      { segment: name },
    );
  }
  return { decode, encode };
}

/** Every section up to the end of the written data, verified like classify.ts does. */
function readSections(
  name: string,
  bytes: Uint8Array,
  header: SegmentHeader,
  decode: Codec["decode"] | undefined,
): Section[] {
  const opts = { segment: name };
  const sections: Section[] = [];
  let offset = header.headerLength;
  let logical = header.headerLength;
  for (;;) {
    const m = parseSyncMarkerSlot(
      bytes.subarray(offset, offset + SYNC_MARKER_SIZE),
      header.id,
      offset,
      bytes.length,
    );
    if (m.kind === "end-of-file" || m.kind === "zeroed") return sections;
    if (m.kind === "bad-checksum")
      throw new SegmentChecksumError("sync marker", offset, m.expected, m.stored, opts);
    if (m.kind === "bad-pointer")
      throw new SegmentHeaderError(`sync marker points to ${m.next}, before its own end`, offset, opts);
    if (m.kind === "clipped")
      throw new TruncatedSegmentError(`section at ${offset} should end at ${m.next}`, bytes.length, opts);
    let content: Uint8Array;
    if (decode) {
      if (m.next < offset + SYNC_MARKER_SIZE + 4)
        throw new SegmentHeaderError("compressed section has no length field", offset, opts);
      const length = new DataView(bytes.buffer, bytes.byteOffset + offset + SYNC_MARKER_SIZE, 4).getInt32(0);
      const decoded =
        length < 0 ? undefined : decode(bytes.subarray(offset + SYNC_MARKER_SIZE + 4, m.next), length);
      if (!decoded)
        throw new SegmentHeaderError(
          `section does not decompress to its stated length ${length}`,
          offset,
          opts,
        );
      content = decoded;
    } else {
      content = bytes.subarray(offset + SYNC_MARKER_SIZE, m.next);
    }
    sections.push({
      marker: offset,
      next: m.next,
      content,
      logical: logical + SYNC_MARKER_SIZE,
      changed: false,
    });
    logical += SYNC_MARKER_SIZE + content.length;
    offset = m.next;
  }
}

interface EntryContext {
  readonly name: string;
  readonly messagingVersion: number;
  readonly options: ReplayFilterOptions;
  readonly counts: Counts;
  readonly compressed: boolean;
  readonly lookup: (tableId: string) => TableSchema | undefined;
}

/** Reads each entry of a section; a withheld one adds its patch to `patches` (applied once all verified). */
function filterEntries(s: Section, c: EntryContext, patches: Patch[]): void {
  const content = s.content;
  const dv = new DataView(content.buffer, content.byteOffset, content.byteLength);
  for (let q = 0; q + 4 <= content.length;) {
    const size = dv.getInt32(q);
    if (size === 0) break;
    const where = new EntryWhere(s, q, c.compressed);
    if (size < MIN_MUTATION_SIZE || q + ENTRY_OVERHEAD_SIZE + size > content.length) {
      throw new MutationUnreadableError(
        `entry of ${size} bytes does not fit its section (${where.text})`,
        where.offset,
        { segment: c.name },
      );
    }
    const sizeCrc = crc32Int(size);
    const payload = content.subarray(q + 8, q + 8 + size);
    checkCrc(dv.getUint32(q + 4), sizeCrc, "entry size", where, c.name);
    checkCrc(dv.getUint32(q + 8 + size), crc32(payload, sizeCrc), "entry", where, c.name);
    const idOffsets = decide(payload, s.logical + q + ENTRY_OVERHEAD_SIZE + size, where, c);
    if (idOffsets) patches.push({ section: s, at: q, size, sizeCrc, idOffsets });
    q += ENTRY_OVERHEAD_SIZE + size;
  }
}

function checkCrc(stored: number, computed: number, what: string, where: EntryWhere, name: string): void {
  if (stored !== computed)
    throw new SegmentChecksumError(what, where.offset, computed, stored, { segment: name });
}

/** Where an entry is, for messages: a file offset when uncompressed, else the section and the logical position. */
class EntryWhere {
  constructor(
    private readonly s: Section,
    private readonly q: number,
    private readonly compressed: boolean,
  ) {}
  get offset(): number {
    return this.compressed ? this.s.marker : this.s.marker + SYNC_MARKER_SIZE + this.q;
  }
  get text(): string {
    return this.compressed
      ? `compressed section at ${this.s.marker}, entry at logical position ${this.s.logical + this.q}`
      : `entry at ${this.offset}`;
  }
}

/** Counts the entry; when it is withheld, returns where its table ids are in the payload. */
function decide(
  payload: Uint8Array,
  position: number,
  where: EntryWhere,
  c: EntryContext,
): readonly number[] | undefined {
  const counts = c.counts;
  counts.mutations++;
  const reading = readEntry(payload, where, c);
  if (reading === undefined) {
    counts.passedThrough++;
    return undefined;
  }
  const cutoff = c.options.cutoffMicros;
  const after = isWithheld(reading, c.options);
  const truncated = !after && isTruncated(reading, c.options, where, c.name);
  if (!after && !truncated) {
    counts.kept++;
    return undefined;
  }
  counts.withheld++;
  counts.withheldAt.push(position);
  if (truncated) counts.withheldTruncated++;
  else if (reading.cassandraMaxTimestamp === undefined || reading.cassandraMaxTimestamp <= cutoff)
    counts.withheldBeyondCassandra++;
  return reading.updates.map((u) => u.tableIdOffset);
}

/** Every update is stamped before its table's truncation floor; a mutation only partly so is refused. */
function isTruncated(
  reading: MutationReading,
  o: ReplayFilterOptions,
  where: EntryWhere,
  name: string,
): boolean {
  const floorFor = o.floorFor;
  if (!floorFor) return false;
  const below = reading.updates.filter((u) => {
    const floor = floorFor(u.tableId);
    return floor !== undefined && (u.maxTimestamp === undefined || u.maxTimestamp < floor);
  });
  if (below.length > 0 && below.length < reading.updates.length)
    throw new MixedTruncationError(below[0]!.tableId, where.text, where.offset, { segment: name });
  return below.length > 0;
}

function isWithheld(reading: MutationReading, o: ReplayFilterOptions): boolean {
  const cutoffFor = o.cutoffFor;
  if (!cutoffFor) return reading.maxTimestamp !== undefined && reading.maxTimestamp > o.cutoffMicros;
  return reading.updates.some((u) => u.maxTimestamp !== undefined && u.maxTimestamp > cutoffFor(u.tableId));
}

/** The reading of an entry, or undefined when it is passed through; reader errors gain the segment and offset. */
function readEntry(payload: Uint8Array, where: EntryWhere, c: EntryContext): MutationReading | undefined {
  try {
    if (c.options.passThrough?.(firstTableId(payload))) return undefined;
    return readMutation(payload, c.messagingVersion, c.lookup);
  } catch (err) {
    throw located(err, where, c.name);
  }
}

function located(err: unknown, where: EntryWhere, name: string): unknown {
  if (err instanceof UnknownTableError)
    return new UnknownTableInSegmentError(err.tableId, `(${where.text})`, where.offset, { segment: name });
  if (err instanceof MutationReadError) {
    return new MutationUnreadableError(
      `mutation unreadable: ${err.what} at byte ${err.offset} of the payload (${where.text})`,
      where.offset,
      { segment: name },
    );
  }
  return err;
}

/**
 * A compressed segment with its changed sections encoded again and every marker from the first
 * changed section on rewritten for its new file offset. What follows the last section must be zeros
 * (the zeroed slot of a clean end): moved elsewhere, anything else would no longer verify.
 */
function rewriteCompressed(
  name: string,
  bytes: Uint8Array,
  id: bigint,
  sections: readonly Section[],
  encode: SectionEncoder,
): Uint8Array {
  const first = sections.findIndex((s) => s.changed);
  const dataEnd = sections[sections.length - 1]!.next;
  if (bytes.subarray(dataEnd).some((b) => b !== 0)) {
    throw new TruncatedSegmentError(
      "bytes after the last section would move when a section is rewritten",
      dataEnd,
      { segment: name },
    );
  }
  const parts: Uint8Array[] = [bytes.subarray(0, sections[first]!.marker)];
  let position = sections[first]!.marker;
  for (const s of sections.slice(first)) {
    const body = s.changed ? encode(s.content) : bytes.subarray(s.marker + SYNC_MARKER_SIZE + 4, s.next);
    const head = new Uint8Array(SYNC_MARKER_SIZE + 4);
    const dv = new DataView(head.buffer);
    const next = position + head.length + body.length;
    dv.setInt32(0, next);
    dv.setUint32(4, syncMarkerChecksum(id, position));
    dv.setInt32(8, s.content.length);
    parts.push(head, body);
    position = next;
  }
  parts.push(bytes.subarray(dataEnd));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
