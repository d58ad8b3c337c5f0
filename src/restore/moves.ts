/**
 * Moving a node's files between directories that may sit on different filesystems (the commit log on
 * its own disk is the layout Cassandra's docs recommend). A rename is used when it can be; when it
 * gives EXDEV the file is copied under a temporary name, fsynced, renamed into place, the directory
 * fsynced, and only then is the source removed. So at every instant at least one complete copy
 * exists under a real name, and a crash leaves either the source, or both, never neither.
 *
 * The modification time is carried over: the archive keys a commit log segment by its file time, so
 * a segment moved aside and back must keep it.
 */
import { constants } from "node:fs";
import { copyFile, lstat, open, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsyncDir } from "../storage/durable.js";

/** The temporary name a cross-filesystem copy is written under: no sstable or segment pattern matches it. */
export function partialName(target: string): string {
  return join(dirname(target), `.${basename(target)}.cassandra-pitr-partial`);
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * A file time for utimes (seconds, a double) that reads back in the same millisecond: the archive
 * keys a segment by its mtime in ms, and seconds as a double cannot carry nanoseconds exactly, so the
 * middle of the millisecond is written rather than its edge.
 */
function keptMs(ms: number): number {
  return (Math.floor(ms) + 0.5) / 1000;
}

/** Copies `from` to `to` durably (temp name, fsync, rename, directory fsync), keeping its times. */
export async function copyDurably(from: string, to: string): Promise<void> {
  const partial = partialName(to);
  const times = await stat(from);
  await copyFile(from, partial);
  await utimes(partial, keptMs(times.atimeMs), keptMs(times.mtimeMs));
  await fsyncFile(partial);
  await rename(partial, to);
  await fsyncDir(dirname(to));
}

/**
 * Moves one file; "renamed" or "copied" says how. Both directories exist already. The target must not
 * exist (the callers move into new or emptied directories); a complete copy left by an earlier,
 * interrupted move is recognised by the source still being there and simply replaced.
 */
export async function moveFile(from: string, to: string): Promise<"renamed" | "copied"> {
  try {
    await rename(from, to);
    await fsyncDir(dirname(to));
    if (dirname(from) !== dirname(to)) await fsyncDir(dirname(from));
    return "renamed";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
  }
  await rm(partialName(to), { force: true });
  await copyDurably(from, to);
  await unlink(from);
  await fsyncDir(dirname(from));
  return "copied";
}

/**
 * Finishes or repeats a move whatever an earlier attempt got to: the source alone (not started),
 * both (copy complete, source not yet removed), or the target alone (done).
 */
export async function moveIdempotent(from: string, to: string): Promise<void> {
  const [src, dst] = await Promise.all([exists(from), exists(to)]);
  if (!src && dst) return;
  if (src && dst) await rm(to, { force: true });
  await moveFile(from, to);
}

/** The device id of a path, or of its nearest existing ancestor when it does not exist yet. */
export async function deviceOf(path: string): Promise<number> {
  for (let p = path; ; p = dirname(p)) {
    try {
      return (await stat(p)).dev;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dirname(p) === p) throw err;
    }
  }
}
