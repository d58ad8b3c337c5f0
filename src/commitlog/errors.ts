/**
 * Errors raised while parsing commit-log segments. Each carries the segment name (when known) and the
 * byte offset of the defect, like walparser's errors; the messages follow style.md 5.5.
 */
import { PitrError, type PitrErrorOptions } from "../errors/base.js";
import type { ErrorCode } from "../errors/codes.js";

export interface SegmentErrorOptions extends PitrErrorOptions {
  /** Segment file name, when the caller knows it. */
  segment?: string | undefined;
}

/** How a segment is named in messages. */
export function quoteSegment(segment: string | undefined): string {
  return `"${segment ?? "<unnamed>"}"`;
}

/** Common shape: `segment "<name>": <what> at offset <n>`. */
export abstract class SegmentError extends PitrError {
  override name = "SegmentError";
  readonly segment: string | undefined;
  readonly offset: number;

  constructor(code: ErrorCode, what: string, offset: number, options: SegmentErrorOptions = {}) {
    super(code, `segment ${quoteSegment(options.segment)}: ${what} at offset ${offset}`, options);
    this.segment = options.segment;
    this.offset = offset;
  }
}

/** The descriptor header or a framing field (sync-marker pointer, section or entry length) is malformed. */
export class SegmentHeaderError extends SegmentError {
  override name = "SegmentHeaderError";
  constructor(what: string, offset: number, options?: SegmentErrorOptions) {
    super("E_SEGMENT_HEADER", what, offset, options);
  }
}

/** The descriptor version is outside 6..9 (CommitLogDescriptor.VERSION_30..VERSION_51). */
export class UnsupportedVersionError extends SegmentError {
  override name = "UnsupportedVersionError";
  readonly version: number;
  constructor(version: number, offset: number, options: SegmentErrorOptions = {}) {
    super("E_SEGMENT_VERSION", `unsupported commit log version ${version}`, offset, {
      hint: "this tool reads descriptor versions 6 to 9 (Cassandra 3.0 to trunk)",
      ...options,
    });
    this.version = version;
  }
}

/** A stored CRC32 (header, sync marker or entry) does not match the bytes it covers. */
export class SegmentChecksumError extends SegmentError {
  override name = "SegmentChecksumError";
  readonly expected: number;
  readonly actual: number;
  constructor(what: string, offset: number, expected: number, actual: number, options?: SegmentErrorOptions) {
    super(
      "E_SEGMENT_CHECKSUM",
      `${what} checksum mismatch (stored ${hex(actual)}, computed ${hex(expected)})`,
      offset,
      options,
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** The bytes end before a structure that must be there is complete; `offset` is where they end. */
export class TruncatedSegmentError extends SegmentError {
  override name = "TruncatedSegmentError";
  constructor(what: string, offset: number, options?: SegmentErrorOptions) {
    super("E_SEGMENT_TRUNCATED", `truncated: ${what}`, offset, options);
  }
}

/** The file name is not `CommitLog-<version>-<id>.log`, or disagrees with the header. */
export class SegmentNameError extends SegmentError {
  override name = "SegmentNameError";
  constructor(what: string, offset: number, options?: SegmentErrorOptions) {
    super("E_SEGMENT_NAME", what, offset, options);
  }
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}
