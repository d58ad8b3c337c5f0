/**
 * Classifies one segment as complete, torn-tail, corrupt or unsupported, from its bytes alone. Pure: no
 * I/O. Never throws for bad content; the defect is returned in `error`.
 *
 * How a closed segment differs from the active segment of a killed JVM (CommitLogSegment.sync/close/
 * discardUnusedTail, driftx/cassandra@aa722fe; MemoryMappedSegment.write, apache/cassandra@c3a1a4f;
 * CompressedSegment.write, apache/cassandra@05cb556; CommitLogSegmentReader, apache/cassandra@05660a5):
 *
 * - Every sync writes the section's marker and, for memory-mapped segments, zeroes the next marker slot.
 *   A close (segment switch, drain) goes through the same sync: discardUnusedTail() freezes
 *   endOfBuffer at the allocation position, the final section ends there and the slot after it is zeroed
 *   too. There is no end-of-segment entry in 4.0+ (size 0 is only LEGACY_END_OF_SEGMENT_MARKER). So a
 *   closed segment and a crashed one whose data was all synced have the same framing; only where the
 *   data stops can tell them apart.
 * - A segment is switched when allocate() fails: `position + size >= endOfBuffer`. A segment closed for
 *   being full therefore ends less than one entry before its capacity. We take the largest entry found
 *   in the segment as that entry's size: complete when `dataEnd + largest >= capacity`.
 * - sync() only writes a section when a mutation was allocated since the last marker, except on close
 *   ("Even if the very first allocation of this sync section failed, we still want to enter this to
 *   ensure the segment is closed"), which then writes an empty section (next == P + 8; for compressed
 *   segments an uncompressed length of 0). An empty final section proves a close.
 * - Mutations allocated after the last sync are written into the mapping but not framed: nonzero bytes
 *   after the final zeroed marker prove a torn tail.
 *
 * Evidence (fixtures/commitlog/5.0.9, commitlog_segment_size 1 MiB): v7/ ends 203 and 82 bytes before
 * the end of the 1048576-byte file, v8/ 188, lz4/ (logical positions) 12 and 67 bytes before 1 MiB,
 * zstd/ 27, deflate/ 23, snappy/ 34, all with entries of 353 bytes or more; torn/ ends at 133141
 * with a zero tail. Compressed sections are decoded for every compressor Cassandra ships (LZ4, Zstd,
 * Deflate, Snappy: section-codecs.ts) and their entries checked like uncompressed ones. Limits: a
 * segment closed early by a forced switch (drain, forceRecycleAllSegments) with data since its last
 * sync is reported as torn-tail; so is a closed segment whose compressor is a custom class or that
 * is encrypted (entries cannot be measured), unless its final section is empty.
 *
 * Capacity: an uncompressed (memory-mapped) file is the whole buffer, so its length; compressed and
 * encrypted files hold only what was written, so `options.segmentSize` or else the next multiple of
 * 1 MiB above the logical end (commitlog_segment_size is a whole number of MiB).
 */
import type { ErrorCode } from "../errors/codes.js";
import { scanEntries } from "./entry.js";
import {
  SegmentChecksumError,
  SegmentError,
  SegmentHeaderError,
  SegmentNameError,
  TruncatedSegmentError,
} from "./errors.js";
import { sectionDecoder } from "./section-codecs.js";
import {
  HEADER_CRC_SIZE,
  MAX_PARAMETERS_LENGTH,
  PARAMETERS_OFFSET,
  parseSegmentHeader,
  type SegmentHeader,
} from "./segment-header.js";
import { parseSegmentName } from "./segment-name.js";
import { parseSyncMarkerSlot, SYNC_MARKER_SIZE } from "./sync-marker.js";

export type SegmentStatus = "complete" | "torn-tail" | "corrupt" | "unsupported";

export interface SegmentDefect {
  readonly code: ErrorCode;
  readonly offset: number;
  readonly message: string;
}

export interface SegmentClassification {
  readonly status: SegmentStatus;
  readonly header: SegmentHeader | undefined;
  /** Sections whose sync marker (and, where readable, entries) verified. */
  readonly sections: number;
  /** File offset up to which the segment verified: the end of the last good section. */
  readonly lastValidOffset: number;
  /** Logical position (CommitLogPosition coordinates) where the replayable data ends; equals lastValidOffset for uncompressed segments. */
  readonly dataEnd: number;
  /** Largest entry seen, overhead included (0 when entries could not be read). */
  readonly largestEntry: number;
  /** One line: why this status. */
  readonly reason: string;
  readonly error?: SegmentDefect;
}

export interface ClassifyOptions {
  /** commitlog_segment_size in bytes, when known. */
  readonly segmentSize?: number;
  /**
   * Resume the walk at a section boundary found by an earlier walk (file offset and logical position)
   * and stop after the last verified section, without judging the rest of the file: what a reader of
   * an open segment needs to learn which new sections Cassandra has synced (pipeline/partial.ts).
   */
  readonly sectionsFrom?: { readonly offset: number; readonly logical: number };
}

const MIB = 1024 * 1024;

function defect(err: SegmentError): SegmentDefect {
  return { code: err.code, offset: err.offset, message: err.message };
}

/**
 * Random access to a segment's bytes. classifySegmentFrom reads through it in increasing offset
 * order, one sync section at a time, so a reader over a file needs memory for the largest section
 * only, never the whole segment.
 */
export interface SegmentReader {
  readonly length: number;
  /**
   * `length` bytes at `offset` (fewer at the end of the segment). The bytes need only stay valid
   * until the next read: the classifier is done with them by then, so a reader may reuse a buffer.
   */
  read(offset: number, length: number): Uint8Array;
}

export function bytesReader(bytes: Uint8Array): SegmentReader {
  return { length: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** Enough bytes for any header: 14 + at most 65535 bytes of parameters + 4. */
const MAX_HEADER_LENGTH = PARAMETERS_OFFSET + MAX_PARAMETERS_LENGTH + HEADER_CRC_SIZE;
const TAIL_CHUNK = 1 << 20;

export function classifySegment(
  name: string | undefined,
  bytes: Uint8Array,
  options: ClassifyOptions = {},
): SegmentClassification {
  return classifySegmentFrom(name, bytesReader(bytes), options);
}

export function classifySegmentFrom(
  name: string | undefined,
  reader: SegmentReader,
  options: ClassifyOptions = {},
): SegmentClassification {
  const steps = classifySteps(name, reader, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * classifySegmentFrom one sync section at a time: each step yields the offset up to which the
 * reader has been read so far, and the generator returns the classification. The archive pipeline
 * interleaves these steps with feeding zstd's worker threads, so validation runs on the main thread
 * while the workers compress, instead of before them (pipeline/scan.ts).
 */
export function* classifySteps(
  name: string | undefined,
  reader: SegmentReader,
  options: ClassifyOptions = {},
): Generator<number, SegmentClassification, void> {
  const empty = { header: undefined, sections: 0, lastValidOffset: 0, dataEnd: 0, largestEntry: 0 };
  let header: SegmentHeader;
  try {
    header = parseSegmentHeader(reader.read(0, Math.min(reader.length, MAX_HEADER_LENGTH)), name);
  } catch (err) {
    const e = err as SegmentError;
    const status = e.code === "E_SEGMENT_VERSION" ? "unsupported" : "corrupt";
    return { status, ...empty, reason: "segment header unreadable", error: defect(e) };
  }
  if (name !== undefined) {
    const bad = nameMismatch(name, header);
    if (bad !== undefined) {
      return { status: "corrupt", ...empty, header, reason: "name and header disagree", error: defect(bad) };
    }
  }
  return yield* walkSections(name, reader, header, options);
}

function nameMismatch(name: string, header: SegmentHeader): SegmentError | undefined {
  let parsed;
  try {
    parsed = parseSegmentName(name);
  } catch (err) {
    return err as SegmentError;
  }
  if (parsed.version !== header.version) {
    return new SegmentNameError(
      `name says version ${parsed.version} but the header says ${header.version}`,
      0,
      { segment: name },
    );
  }
  if (parsed.id !== header.id) {
    return new SegmentNameError(`name says id ${parsed.id} but the header says ${header.id}`, 4, {
      segment: name,
    });
  }
  return undefined;
}

function* walkSections(
  segment: string | undefined,
  reader: SegmentReader,
  header: SegmentHeader,
  options: ClassifyOptions,
): Generator<number, SegmentClassification, void> {
  const framing = framingOf(header);
  const { framed } = framing;
  const fileLength = reader.length;
  const opts = { segment };
  let offset = options.sectionsFrom?.offset ?? header.headerLength;
  let logical = options.sectionsFrom?.logical ?? header.headerLength;
  let sections = 0;
  let largest = 0;
  let lastEmpty = false;
  const result = (status: SegmentStatus, reason: string, error?: SegmentError): SegmentClassification => ({
    status,
    header,
    sections,
    lastValidOffset: offset,
    dataEnd: logical,
    largestEntry: largest,
    reason,
    ...(error === undefined ? {} : { error: defect(error) }),
  });

  for (;;) {
    const m = parseSyncMarkerSlot(reader.read(offset, SYNC_MARKER_SIZE), header.id, offset, fileLength);
    if (m.kind === "bad-checksum") {
      return result(
        "corrupt",
        "sync marker checksum mismatch",
        new SegmentChecksumError("sync marker", m.offset, m.expected, m.stored, opts),
      );
    }
    if (m.kind === "bad-pointer") {
      return result(
        "corrupt",
        "sync marker points backwards",
        new SegmentHeaderError(`sync marker points to ${m.next}, before its own end`, m.offset, opts),
      );
    }
    if (m.kind === "clipped") {
      return result(
        "torn-tail",
        "last section is cut short",
        new TruncatedSegmentError(`section at ${m.offset} should end at ${m.next}`, fileLength, opts),
      );
    }
    if (m.kind === "end-of-file" || m.kind === "zeroed") break;

    // A verified marker: check the section's content where it can be read.
    const section = readSection(reader, m, framing, opts);
    if ("refused" in section) return result(...section.refused);
    if (section.content !== undefined) {
      const scan = scanEntries(section.content);
      if (!scan.ok)
        return result("corrupt", "bad entry framing", entryError(scan, m.offset, framing.framed, opts));
      largest = Math.max(largest, scan.largest);
    }
    const length = section.length;
    sections++;
    lastEmpty = length === 0;
    logical += SYNC_MARKER_SIZE + length;
    offset = m.next;
    yield offset;
  }

  if (options.sectionsFrom !== undefined) return result("torn-tail", "synced sections walked");
  if (sections === 0) {
    return result("torn-tail", "no section was ever synced");
  }
  for (let at = offset; at < fileLength; at += TAIL_CHUNK) {
    if (reader.read(at, Math.min(TAIL_CHUNK, fileLength - at)).some((b) => b !== 0)) {
      return result("torn-tail", "bytes written after the last sync");
    }
    yield Math.min(at + TAIL_CHUNK, fileLength);
  }
  if (lastEmpty) return result("complete", "final empty section written by close");
  return result(
    ...fullOrTorn({ fileLength, logical, largest, framed, segmentSize: options.segmentSize }, opts),
  );
}

/** How a segment's sections are framed: a length field when compressed or encrypted; the decoder when it can be read. */
interface Framing {
  readonly framed: boolean;
  readonly compressor: string | undefined;
  readonly decode: ReturnType<typeof sectionDecoder> | undefined;
}

function framingOf(header: SegmentHeader): Framing {
  const compressor = header.encryption === undefined ? header.compression?.class : undefined;
  return {
    framed: header.compression !== undefined || header.encryption !== undefined,
    compressor,
    decode: compressor === undefined ? undefined : sectionDecoder(compressor),
  };
}

type Verdict = [SegmentStatus, string, SegmentError?];

/**
 * The section after a verified sync marker: its length, and its content when it can be read (plain,
 * or compressed with a known codec; not encrypted). A framing defect is a "corrupt" verdict.
 */
function readSection(
  reader: SegmentReader,
  m: { offset: number; next: number },
  f: Framing,
  opts: { segment: string | undefined },
): { length: number; content: Uint8Array | undefined } | { refused: Verdict } {
  if (!f.framed)
    return {
      length: m.next - m.offset - SYNC_MARKER_SIZE,
      content: reader.read(m.offset + SYNC_MARKER_SIZE, m.next - m.offset - SYNC_MARKER_SIZE),
    };
  if (m.next < m.offset + SYNC_MARKER_SIZE + 4) {
    return {
      refused: [
        "corrupt",
        "compressed section too short",
        new SegmentHeaderError("compressed section has no length field", m.offset, opts),
      ],
    };
  }
  const field = reader.read(m.offset + SYNC_MARKER_SIZE, 4);
  const length = new DataView(field.buffer, field.byteOffset, field.byteLength).getInt32(0);
  if (length < 0) {
    return {
      refused: [
        "corrupt",
        "negative section length",
        new SegmentHeaderError(`section length ${length} is negative`, m.offset + SYNC_MARKER_SIZE, opts),
      ],
    };
  }
  if (!f.decode) return { length, content: undefined };
  const content = f.decode(
    reader.read(m.offset + SYNC_MARKER_SIZE + 4, m.next - m.offset - SYNC_MARKER_SIZE - 4),
    length,
  );
  if (content === undefined) {
    const what = f.compressor!.replace(/^.*\./, "");
    return {
      refused: [
        "corrupt",
        "section does not decompress",
        new SegmentHeaderError(
          `${what} section does not decompress to its stated length ${length}`,
          m.offset,
          opts,
        ),
      ],
    };
  }
  return { length, content };
}

/** The error of an entry that does not frame; inside a compressed section the offset can only point at the section. */
function entryError(
  scan: Extract<ReturnType<typeof scanEntries>, { ok: false }>,
  markerOffset: number,
  framed: boolean,
  opts: { segment: string | undefined },
): SegmentError {
  const at = framed ? markerOffset : markerOffset + SYNC_MARKER_SIZE + scan.offset;
  return "expected" in scan
    ? new SegmentChecksumError(scan.detail, at, scan.expected, scan.actual, opts)
    : new SegmentHeaderError(scan.detail, at, opts);
}

/**
 * A segment whose synced data ends cleanly (zeros after the last section, no final empty section):
 * complete when the next entry could not have been allocated, torn-tail when there was room. Pure.
 */
export function fullOrTorn(
  e: {
    fileLength: number;
    logical: number;
    largest: number;
    framed: boolean;
    segmentSize: number | undefined;
  },
  opts: { segment: string | undefined },
): Verdict {
  const capacity = e.segmentSize ?? (e.framed ? Math.ceil(e.logical / MIB) * MIB : e.fileLength);
  if (!e.framed && e.fileLength < capacity) {
    return [
      "torn-tail",
      "file shorter than the segment size",
      new TruncatedSegmentError(`file shorter than the segment size ${capacity}`, e.fileLength, opts),
    ];
  }
  if (e.logical + Math.max(e.largest, SYNC_MARKER_SIZE) >= capacity)
    return ["complete", "segment full: the next entry could not be allocated"];
  return [
    "torn-tail",
    `data ends ${capacity - e.logical} bytes before the segment size with room for more entries`,
  ];
}
