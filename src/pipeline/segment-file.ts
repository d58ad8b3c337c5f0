/**
 * Opening a segment file named by Cassandra (%path) or by a stub (%from), for the archive pipeline
 * and the restore hook alike. Kept apart from push.ts so the restore hook does not load the archive
 * pipeline (validator, compressor) to read a file's first bytes.
 *
 * Every open is non-blocking: a FIFO opened for reading blocks until a writer appears, and a hook
 * blocked there (in a thread no timer can interrupt) would hold Cassandra's flushes or start-up
 * forever. O_NONBLOCK changes nothing for a regular file; anything else is refused after one fstat.
 */
import { constants } from "node:fs";
import { access, lstat, open, type FileHandle } from "node:fs/promises";
import { PitrError } from "../errors/base.js";

/** Whose argument the file is: the hints differ (archive_command vs restore_command). */
export type SegmentRole = "archive" | "restore";

const HINTS: Record<SegmentRole, string> = {
  archive: "archive_command must be '<hook> %path %name'; check the commit log directory",
  restore:
    "restore_command must be '<hook> %from %to'; %from is a file in restore_directories: re-create them with 'cassandra-pitr restore'",
};

export class SegmentMissingError extends PitrError {
  override name = "SegmentMissingError";
  constructor(
    readonly path: string,
    role: SegmentRole = "archive",
    detail = "does not exist",
  ) {
    super("E_SEGMENT_MISSING", `segment '${path}' ${detail}`, { hint: HINTS[role] });
  }
}

/** The segment exists but the hook's user may not read it: not storage trouble, so never spooled. */
export class SegmentAccessError extends PitrError {
  override name = "SegmentAccessError";
  constructor(path: string) {
    super("E_ACCESS_DENIED", `cannot read segment '${path}': permission denied`, {
      hint: "the hooks run as the Cassandra user, which must be able to read this file and its directory",
    });
  }
}

/** A directory, FIFO, socket or device where a segment file was expected. */
export class NotAFileError extends PitrError {
  override name = "NotAFileError";
  constructor(path: string, kind: string, role: SegmentRole) {
    super("E_NOT_A_FILE", `'${path}' is ${kind}, not a segment file; refused without reading it`, {
      hint: HINTS[role],
    });
  }
}

/** What a non-regular file is, in words. */
export function fileKind(stat: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSymbolicLink(): boolean;
}): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isSocket()) return "a socket";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

/** Maps the errno of opening a segment to the error a user can act on; others pass through. */
export function segmentOpenError(err: unknown, path: string, role: SegmentRole): unknown {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return new SegmentMissingError(path, role);
    case "ENOTDIR":
      return new SegmentMissingError(
        path,
        role,
        "does not exist (a parent of it is a file, not a directory)",
      );
    case "EACCES":
    case "EPERM":
      return new SegmentAccessError(path);
    default:
      return err;
  }
}

/** An open segment file: size and close time (mtime) from one fstat. */
export async function openSegment(
  path: string,
  role: SegmentRole = "archive",
): Promise<{ handle: FileHandle; size: number; mtimeMs: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw segmentOpenError(err, path, role);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new NotAFileError(path, fileKind(stat), role);
  }
  return { handle, size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) };
}

/**
 * Refuses a path that is not a readable regular file, without opening it (for the spool's hard
 * link: a link to a FIFO, or to a file the agent cannot read, would be spooled and never archived).
 */
export async function requireRegularFile(path: string, role: SegmentRole): Promise<void> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    throw segmentOpenError(err, path, role);
  }
  if (!stat.isFile()) throw new NotAFileError(path, fileKind(stat), role);
  await access(path, constants.R_OK).catch((err: unknown) => {
    throw segmentOpenError(err, path, role);
  });
}
