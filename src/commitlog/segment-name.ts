/**
 * Segment file names, mirroring CommitLogDescriptor.fromFileName / isValid / fileName
 * (regex `CommitLog-((\d+)(-\d+)?)\.log`; the legacy `CommitLog-<id>.log` form is rejected).
 */
import { SegmentNameError } from "./errors.js";

const NAME = /^CommitLog-(\d+)-(\d+)\.log$/;
const LEGACY = /^CommitLog-\d+\.log$/;
const CDC_INDEX = /^CommitLog-\d+-\d+(_cdc|-CDC)\.idx$/;
const MAX_INT64 = (1n << 63n) - 1n;
const MAX_INT32 = 2 ** 31 - 1;

export interface SegmentName {
  readonly version: number;
  readonly id: bigint;
}

/** Parses `CommitLog-<version>-<id>.log`; throws SegmentNameError for anything else. */
export function parseSegmentName(name: string): SegmentName {
  const m = NAME.exec(name);
  if (m === null) {
    let what = "not a commit log segment name (expected CommitLog-<version>-<id>.log)";
    if (LEGACY.test(name)) what = "legacy segment name without a version (written before Cassandra 1.2.5)";
    else if (CDC_INDEX.test(name)) what = "cdc index file, not a segment";
    throw new SegmentNameError(what, 0, { segment: name });
  }
  const version = Number(m[1]);
  const id = BigInt(m[2]!);
  if (version > MAX_INT32 || id > MAX_INT64) {
    throw new SegmentNameError("version or id out of range", 0, { segment: name });
  }
  return { version, id };
}

export function isSegmentName(name: string): boolean {
  try {
    parseSegmentName(name);
    return true;
  } catch {
    return false;
  }
}

/** CommitLogDescriptor.fileName(): `CommitLog-<version>-<id>.log`. */
export function segmentFileName(version: number, id: bigint): string {
  if (!Number.isInteger(version) || version < 0 || version > MAX_INT32 || id < 0n || id > MAX_INT64) {
    throw new RangeError(`invalid segment version ${version} or id ${id}`);
  }
  return `CommitLog-${version}-${id}.log`;
}
