/**
 * The restore hook's path for a staged segment: a file that `restore` fetched, verified against the
 * recorded sha256, passed through the replay filter and fsynced in the restore directory. Placing it
 * at %to must cost about what a copy costs, since Cassandra calls the hook once per segment, one
 * after another, before it replays anything.
 *
 * - Same filesystem: a hard link. No byte moves; the file's own fsync finds nothing dirty, and only
 *   the commit log directory is fsynced. Cassandra only reads a restored segment and then unlinks
 *   its name (cassandra-internals.md 1.5), so the staged copy in the restore directory stays intact
 *   for a second start.
 * - Otherwise (another filesystem, or protected_hardlinks refusing a file the hook's user does not
 *   own): an in-kernel copy (fs.copyFile: copy_file_range) to a temporary name outside the commit log
 *   pattern, one fsync, a link into place (which never replaces), the directory fsynced.
 * Either way %to appears whole or not at all, its header agrees with its name, and its size is the
 * staged file's; the file linked or copied is the one the hook opened (same device and inode).
 *
 * Ahead of Cassandra. A hook process costs more than linking a file (Node's start-up alone is about
 * a 32 MiB copy), so once %to is linked, the hook links the restore directory's other staged
 * segments as well (placeStagedAhead). Cassandra reads and checks every restore file's header, then
 * skips the restore command for a target that already exists (cassandra-internals.md 1.5 step 5):
 * it replays the same files, and the hook runs once instead of once per segment. Stubs are left to
 * their own calls, and nothing is copied ahead (a copy costs what the call saves, within one time budget).
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, link, lstat, open, readdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsyncDir } from "../storage/durable.js";
import { ChecksumMismatchError, TargetExistsError, checkHeaderAgainstName, tempOpenError } from "./target.js";

/** link(2) errors after which a copy can still place the segment. */
const COPY_INSTEAD = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

export type Placement = "linked" | "copied";

/**
 * Places the staged segment open as `handle` (named `from`, `head` its first bytes) at `to`.
 * Returns how. Throws TargetExistsError when %to exists, ChecksumMismatchError when the header
 * disagrees with the name or the file changed under the hook.
 */
export async function placeStagedSegment(
  handle: FileHandle,
  from: string,
  to: string,
  head: Buffer,
): Promise<Placement> {
  const what = `staged segment '${from}'`;
  checkHeaderAgainstName(head, basename(to), what);
  const opened = await handle.stat();
  await sameFile(from, opened, what);
  await handle.sync(); // a no-op for the files restore staged (already fsynced); not for one copied in by hand
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") throw new TargetExistsError(to, "it appeared during the restore");
    if (!COPY_INSTEAD.has(code)) throw tempOpenError(err, to);
    await copyIntoPlace(from, to, opened, what);
    return "copied";
  }
  const placed = await lstat(to);
  if (placed.ino !== opened.ino || placed.dev !== opened.dev) {
    await unlink(to).catch(() => undefined);
    throw new ChecksumMismatchError(
      what,
      "it was replaced while the hook placed it; nothing left at the target",
    );
  }
  await fsyncDir(dirname(to));
  return "linked";
}

/** The name still refers to the file the hook opened (the copy and the link go by name). */
async function sameFile(from: string, opened: { ino: number; dev: number }, what: string): Promise<void> {
  const now = await stat(from);
  if (now.ino !== opened.ino || now.dev !== opened.dev)
    throw new ChecksumMismatchError(what, "it was replaced while the hook read it");
}

async function copyIntoPlace(
  from: string,
  to: string,
  opened: { ino: number; dev: number; size: number },
  what: string,
): Promise<void> {
  const temp = join(
    dirname(to),
    `.cassandra-pitr-restore.${basename(to)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    await copyFile(from, temp, constants.COPYFILE_EXCL).catch((err: unknown) => {
      throw tempOpenError(err, to);
    });
    await sameFile(from, opened, what);
    const copy = await open(temp, "r+");
    try {
      const size = (await copy.stat()).size;
      if (size !== opened.size)
        throw new ChecksumMismatchError(what, `copied ${size} bytes, the staged file has ${opened.size}`);
      await copy.sync();
    } finally {
      await copy.close();
    }
    await link(temp, to).catch((err: unknown) => {
      throw (err as NodeJS.ErrnoException).code === "EEXIST"
        ? new TargetExistsError(to, "it appeared during the restore")
        : err;
    });
    await fsyncDir(dirname(to));
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

const SEGMENT_NAME = /^CommitLog-\d+-\d+\.log$/;

/**
 * Links every other staged segment of `fromDir` into `toDir` (see above); returns how many. A file
 * that is a stub, not a regular file, not yet whole by name and header, or whose target exists is
 * left for Cassandra's own call; the first link that cannot be made (another filesystem) ends it.
 */
export async function placeStagedAhead(
  fromDir: string,
  toDir: string,
  isStub: (head: Buffer) => boolean,
  headBytes: number,
): Promise<number> {
  let placed = 0;
  for (const name of (await readdir(fromDir)).filter((n) => SEGMENT_NAME.test(n)).sort()) {
    const from = join(fromDir, name);
    const to = join(toDir, name);
    const handle = await open(from, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    if (!handle) continue;
    try {
      const st = await handle.stat();
      if (!st.isFile()) continue;
      const head = Buffer.alloc(Math.min(st.size, headBytes));
      await handle.read(head, 0, head.length, 0);
      if (isStub(head)) continue;
      try {
        checkHeaderAgainstName(head, name, from);
      } catch {
        continue; // Cassandra refuses it itself, with its own message
      }
      await handle.sync();
      await link(from, to);
      placed++;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST") continue;
      if (COPY_INSTEAD.has(code)) break;
      throw err;
    } finally {
      await handle.close();
    }
  }
  if (placed > 0) await fsyncDir(toDir);
  return placed;
}
