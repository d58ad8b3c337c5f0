/**
 * Opening a segment file named by Cassandra (%path) or by a stub, for the archive pipeline and the
 * restore hook alike. Kept apart from push.ts so the restore hook does not load the archive
 * pipeline (validator, compressor) to read a file's first bytes.
 */
import { open, type FileHandle } from "node:fs/promises";
import { PitrError } from "../errors/base.js";

export class SegmentMissingError extends PitrError {
  override name = "SegmentMissingError";
  constructor(readonly path: string) {
    super("E_SEGMENT_MISSING", `segment '${path}' does not exist`, {
      hint: "archive_command must be '<hook> %path %name'; check the commit log directory",
    });
  }
}

/** An open segment file: size and close time (mtime) from one fstat. */
export async function openSegment(path: string): Promise<{ handle: FileHandle; size: number; mtimeMs: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new SegmentMissingError(path);
    throw err;
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new SegmentMissingError(path);
  }
  return { handle, size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) };
}
