/**
 * Statistics.db of BIG-format sstables, read far enough for point-in-time recovery: the commit log
 * bounds and intervals, min/max client timestamps, and the originating host id.
 *
 * Mirrors org.apache.cassandra.io.sstable.metadata.MetadataSerializer (container) and
 * StatsMetadata.StatsMetadataSerializer (the STATS component), Cassandra 4.0/4.1/5.0:
 *
 *   container (na+): int32 count | crc32 | count × (int32 type ordinal, int32 offset) | crc32 |
 *                    each component's bytes followed by its crc32
 *   container (< na): the same without the three kinds of crc32
 *   STATS: EstimatedHistogram partition sizes, EstimatedHistogram cells per partition,
 *          commit log upper bound (int64 segment id, int32 position), int64 minTimestamp,
 *          int64 maxTimestamp, int32×2 local deletion times, int32×2 TTLs, float64 compression
 *          ratio, tombstone histogram (int32 max bins, int32 n, n × (float64, int64)), int32 level,
 *          int64 repairedAt, legacy min/max clustering (int32 n, n × short-length blob; twice),
 *          bool hasLegacyCounterShards, int64 totalColumnsSet, int64 totalRows,
 *          commit log lower bound (mb+), commit log intervals (mc+: int32 n, n × (pos, pos)),
 *          pending repair (na+: byte flag, 16-byte UUID), isTransient (na+: bool),
 *          originating host id (me, nb+: byte flag, 16-byte UUID).
 *
 * For `nc`/`oa` (5.0 improved min/max) the clustering bounds need the table's clustering types, so
 * only the fields up to maxTimestamp are read and the rest is reported as undefined.
 * All integers are big-endian.
 */
import { readFile } from "node:fs/promises";
import { crc32 } from "../commitlog/crc32.js";
import { PitrError } from "../errors/base.js";

export interface CommitLogPosition {
  readonly segmentId: bigint;
  readonly position: number;
}

export interface CommitLogInterval {
  readonly lower: CommitLogPosition;
  readonly upper: CommitLogPosition;
}

export interface SstableStatistics {
  readonly version: string;
  /** Highest commit log position covered by the sstable (NONE = segment id -1 / 0 for streamed ones). */
  readonly commitLogUpperBound: CommitLogPosition;
  /** Client timestamps in µs. */
  readonly minTimestamp: bigint;
  readonly maxTimestamp: bigint;
  /** mb+ legacy-clustering versions; undefined when not reachable. */
  readonly commitLogLowerBound: CommitLogPosition | undefined;
  /** mc+ legacy-clustering versions; undefined when not reachable. */
  readonly commitLogIntervals: CommitLogInterval[] | undefined;
  readonly repairedAt: bigint | undefined;
  readonly totalRows: bigint | undefined;
  /** me, nb+ (legacy clustering); undefined when not reachable, null when the sstable has none. */
  readonly originatingHostId: string | null | undefined;
}

export class StatisticsError extends PitrError {
  override name = "StatisticsError";
  constructor(
    readonly file: string,
    detail: string,
    readonly offset?: number,
  ) {
    super(
      "E_CHECKSUM_MISMATCH",
      `cannot read statistics '${file}': ${detail}${offset === undefined ? "" : ` at offset ${offset}`}`,
    );
  }
}

const STATS_TYPE = 2;

function atLeast(version: string, min: string): boolean {
  return version >= min;
}

/** What a Statistics.db of this version contains (BigFormat.BigVersion). */
export function statisticsFeatures(version: string) {
  return {
    metadataChecksum: atLeast(version, "na"),
    commitLogLowerBound: atLeast(version, "mb"),
    commitLogIntervals: atLeast(version, "mc"),
    pendingRepair: atLeast(version, "na"),
    isTransient: atLeast(version, "na"),
    originatingHostId: /^(m[e-z]|n[b-z]|[o-z][a-z])$/.test(version),
    improvedMinMax: atLeast(version, "nc"),
  };
}

class Reader {
  private pos: number;
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get offset(): number {
    return this.pos;
  }
  private need(n: number): number {
    if (n < 0 || this.pos + n > this.end)
      throw new StatisticsError(
        this.file,
        `needs ${n} more byte(s), component ends at ${this.end}`,
        this.pos,
      );
    const at = this.pos;
    this.pos += n;
    return at;
  }
  int32(): number {
    return this.view.getInt32(this.need(4));
  }
  int64(): bigint {
    return this.view.getBigInt64(this.need(8));
  }
  int16u(): number {
    return this.view.getUint16(this.need(2));
  }
  byte(): number {
    return this.view.getUint8(this.need(1));
  }
  skip(n: number): void {
    this.need(n);
  }
  count(what: string, max = 10_000_000): number {
    const at = this.pos;
    const n = this.int32();
    if (n < 0 || n > max) throw new StatisticsError(this.file, `implausible ${what} count ${n}`, at);
    return n;
  }
  position(): CommitLogPosition {
    const segmentId = this.int64();
    return { segmentId, position: this.int32() };
  }
  uuid(): string {
    const at = this.need(16);
    const hex = Buffer.from(this.bytes.subarray(at, at + 16)).toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

/** Locates the STATS component: [start, end) without its trailing checksum. Verifies checksums (na+). */
function locateStats(bytes: Uint8Array, version: string, file: string): { start: number; end: number } {
  const checksummed = statisticsFeatures(version).metadataChecksum;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new StatisticsError(file, "file too short", 0);
  const count = view.getInt32(0);
  if (count < 1 || count > 16) throw new StatisticsError(file, `implausible component count ${count}`, 0);
  const tocStart = checksummed ? 8 : 4;
  const tocEnd = tocStart + count * 8;
  const headerEnd = tocEnd + (checksummed ? 4 : 0);
  if (bytes.length < headerEnd)
    throw new StatisticsError(file, "file too short for its table of contents", 0);
  if (checksummed) {
    const first = crc32(bytes.subarray(0, 4));
    if (first !== view.getUint32(4)) throw new StatisticsError(file, "component count checksum mismatch", 4);
    const second = crc32(bytes.subarray(8, tocEnd), first);
    if (second !== view.getUint32(tocEnd))
      throw new StatisticsError(file, "table of contents checksum mismatch", tocEnd);
  }
  const entries: { type: number; offset: number }[] = [];
  for (let i = 0; i < count; i++)
    entries.push({ type: view.getInt32(tocStart + i * 8), offset: view.getInt32(tocStart + i * 8 + 4) });
  const index = entries.findIndex((e) => e.type === STATS_TYPE);
  const entry = entries[index];
  if (!entry) throw new StatisticsError(file, "no STATS component");
  const next = entries.filter((e) => e.offset > entry.offset).map((e) => e.offset);
  const limit = next.length > 0 ? Math.min(...next) : bytes.length;
  if (entry.offset < headerEnd || limit > bytes.length)
    throw new StatisticsError(file, "STATS component outside the file", entry.offset);
  const end = checksummed ? limit - 4 : limit;
  if (end < entry.offset) throw new StatisticsError(file, "STATS component too short", entry.offset);
  if (checksummed) {
    const computed = crc32(bytes.subarray(entry.offset, end));
    if (computed !== view.getUint32(end))
      throw new StatisticsError(file, "STATS component checksum mismatch", end);
  }
  return { start: entry.offset, end };
}

function skipEstimatedHistogram(r: Reader): void {
  const n = r.count("histogram bucket");
  r.skip(n * 16);
}

/** Parses Statistics.db bytes of an sstable of `version` (the two letters of its name). */
export function parseStatistics(
  bytes: Uint8Array,
  version: string,
  file = "Statistics.db",
): SstableStatistics {
  if (!/^[a-z]{2}$/.test(version)) throw new StatisticsError(file, `unknown sstable version '${version}'`);
  if (version < "ma") throw new StatisticsError(file, `sstable version '${version}' is older than 3.0 (ma)`);
  const features = statisticsFeatures(version);
  const { start, end } = locateStats(bytes, version, file);
  const r = new Reader(bytes, file, start, end);
  skipEstimatedHistogram(r);
  skipEstimatedHistogram(r);
  const commitLogUpperBound = r.position();
  const minTimestamp = r.int64();
  const maxTimestamp = r.int64();
  const base = { version, commitLogUpperBound, minTimestamp, maxTimestamp };
  if (features.improvedMinMax) {
    return {
      ...base,
      commitLogLowerBound: undefined,
      commitLogIntervals: undefined,
      repairedAt: undefined,
      totalRows: undefined,
      originatingHostId: undefined,
    };
  }
  r.skip(4 * 4 + 8); // local deletion times, TTLs, compression ratio
  r.int32(); // max bin size (legacy)
  r.skip(r.count("tombstone histogram bin") * 16);
  r.int32(); // sstable level
  const repairedAt = r.int64();
  for (let list = 0; list < 2; list++) {
    const n = r.count("clustering value", 65_535);
    for (let i = 0; i < n; i++) r.skip(r.int16u());
  }
  r.byte(); // hasLegacyCounterShards
  r.int64(); // totalColumnsSet
  const totalRows = r.int64();
  const commitLogLowerBound = features.commitLogLowerBound ? r.position() : undefined;
  let commitLogIntervals: CommitLogInterval[] | undefined;
  if (features.commitLogIntervals) {
    const n = r.count("commit log interval", 1_000_000);
    commitLogIntervals = [];
    for (let i = 0; i < n; i++) commitLogIntervals.push({ lower: r.position(), upper: r.position() });
  }
  if (features.pendingRepair && r.byte() !== 0) r.skip(16);
  if (features.isTransient) r.byte();
  let originatingHostId: string | null | undefined;
  if (features.originatingHostId) originatingHostId = r.byte() !== 0 ? r.uuid() : null;
  return { ...base, commitLogLowerBound, commitLogIntervals, repairedAt, totalRows, originatingHostId };
}

/** Reads and parses `path` (a `<version>-<id>-<format>-Statistics.db` file). */
export async function readStatistics(path: string, version: string): Promise<SstableStatistics> {
  return parseStatistics(new Uint8Array(await readFile(path)), version, path);
}
