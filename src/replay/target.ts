/**
 * What every way of writing %to shares, kept free of zstd and storage so the restore hook's path
 * for staged segments loads little: the errors, the refusal of an existing target, the temporary
 * name's errors, the check that a segment's header agrees with the target's name, and the one check
 * of a segment's bytes against its record (`checkSegmentBytes`), used by the restore hook's fetch,
 * its atomic writes and the restore's fetch phase alike.
 */
import { createHash } from "node:crypto";
import { lstat, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { parseSegmentHeader } from "../commitlog/segment-header.js";
import { parseSegmentName } from "../commitlog/segment-name.js";
import { PitrError } from "../errors/base.js";

export class ChecksumMismatchError extends PitrError {
  override name = "ChecksumMismatchError";
  constructor(what: string, detail: string) {
    super("E_CHECKSUM_MISMATCH", `${what}: ${detail}`, {
      hint: "the archived copy is damaged or is not this segment; run 'cassandra-pitr verify'",
    });
  }
}

/** %to exists already (Cassandra skips such targets, so someone else wrote it): never replaced. */
export class TargetExistsError extends PitrError {
  override name = "TargetExistsError";
  constructor(target: string, kind: string) {
    super("E_TARGET_EXISTS", `target '${target}' already exists (${kind}); refused, nothing replaced`, {
      hint: "Cassandra does not restore over an existing file: find out what wrote it, move it away, and start again",
    });
  }
}

/** The target's directory is missing or not a directory. */
export class TargetDirectoryError extends PitrError {
  override name = "TargetDirectoryError";
  constructor(target: string, detail: string) {
    super("E_NOT_FOUND", `cannot write '${target}': ${detail}`, {
      hint: "%to must name a file in an existing directory (Cassandra passes its commit log directory)",
    });
  }
}

/** Refuses an existing %to (of any kind) and a %to whose directory is missing, before any work. */
export async function requireNewTarget(target: string): Promise<void> {
  try {
    const st = await lstat(target);
    throw new TargetExistsError(
      target,
      st.isDirectory() ? "a directory" : st.isFile() ? `a file of ${st.size} bytes` : "not a regular file",
    );
  } catch (err) {
    if (err instanceof PitrError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      // stat, not lstat: the commit log directory is often a symlink to its own volume.
      const dir = await stat(dirname(target)).catch(() => undefined);
      if (dir?.isDirectory()) return;
      throw new TargetDirectoryError(
        target,
        dir ? `'${dirname(target)}' is not a directory` : `directory '${dirname(target)}' does not exist`,
      );
    }
    if (code === "ENOTDIR")
      throw new TargetDirectoryError(target, "a parent of it is a file, not a directory");
    throw err;
  }
}

/** Maps errors of creating the temporary file beside %to. */
export function tempOpenError(err: unknown, target: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT")
    return new TargetDirectoryError(target, `directory '${dirname(target)}' does not exist`);
  if (code === "ENOTDIR") return new TargetDirectoryError(target, `'${dirname(target)}' is not a directory`);
  if (code === "EACCES" || code === "EPERM") {
    return new PitrError("E_ACCESS_DENIED", `cannot write in '${dirname(target)}': permission denied`, {
      hint: "the restore hook runs as the Cassandra user, which must be able to write its commit log directory",
    });
  }
  return err;
}

/** Cassandra refuses a segment whose header disagrees with its name; so do we, before it does. */
export function checkHeaderAgainstName(head: Buffer, targetName: string, what: string): void {
  let fromName;
  try {
    fromName = parseSegmentName(targetName);
  } catch {
    return; // not a commit log name (e.g. a scratch file): nothing to compare
  }
  const header = parseSegmentHeader(head, targetName);
  if (header.id !== fromName.id || header.version !== fromName.version) {
    throw new ChecksumMismatchError(
      what,
      `header says version ${header.version} id ${header.id}, but the target is '${targetName}'`,
    );
  }
}

/** How many leading bytes hold any segment header (the descriptor's parameters may run to 64 KiB). */
export const SEGMENT_HEAD_BYTES = 65_536 + 18;

/** What the segment record says the bytes are; an absent field is not checked. */
export interface ExpectedSegment {
  readonly sha256?: string | undefined;
  readonly size?: number | undefined;
}

/** What was measured of a segment's bytes, in memory or while streaming them. */
export interface MeasuredSegment {
  readonly size: number;
  readonly sha256: string;
  /** The first `SEGMENT_HEAD_BYTES` (or fewer, for a shorter file). */
  readonly head: Buffer;
}

export function measureSegmentBytes(bytes: Buffer): MeasuredSegment {
  return {
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    head: bytes.subarray(0, SEGMENT_HEAD_BYTES),
  };
}

/**
 * The one check of a segment's bytes before anyone uses them: size, then sha256, against the record
 * (`expected`), then the header against `name` when it is a commit log name. Throws
 * `ChecksumMismatchError` naming `what`.
 */
export function checkMeasuredSegment(
  measured: MeasuredSegment,
  expected: ExpectedSegment,
  name: string,
  what: string,
): void {
  if (expected.size !== undefined && expected.size !== measured.size)
    throw new ChecksumMismatchError(what, `${measured.size} bytes, expected ${expected.size}`);
  if (expected.sha256 !== undefined && expected.sha256 !== measured.sha256) {
    throw new ChecksumMismatchError(
      what,
      `sha256 ${measured.sha256.slice(0, 16)}…, expected ${expected.sha256.slice(0, 16)}…`,
    );
  }
  checkHeaderAgainstName(measured.head, name, what);
}

/** `checkMeasuredSegment` for bytes in memory; returns them for chaining. */
export function checkSegmentBytes(
  bytes: Buffer,
  expected: ExpectedSegment,
  name: string,
  what: string,
): Buffer {
  checkMeasuredSegment(measureSegmentBytes(bytes), expected, name, what);
  return bytes;
}
