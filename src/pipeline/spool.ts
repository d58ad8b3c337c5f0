/**
 * The spool: hard links of segments that still have to reach the archive. A hard link costs no
 * data copy and keeps the segment's bytes and mtime (its close time) even after Cassandra deletes
 * %path, but it only works on the commit log's own filesystem. Durability: the link is made, then
 * the spool directory is fsynced, before the hook reports success.
 */
import { link, mkdir, readdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDir } from "../storage/durable.js";
import { PitrError } from "../errors/base.js";

export class SpoolError extends PitrError {
  override name = "SpoolError";
  constructor(message: string, hint: string, cause?: unknown) {
    super("E_SPOOL", message, { hint, cause });
  }
}

/** The default spool: beside the commit log directory, so on the same filesystem in the usual layouts. */
export function defaultSpoolDir(commitlogDir: string): string {
  return join(dirname(commitlogDir), "cassandra-pitr-spool");
}

/**
 * Links `path` into the spool as `name`. Linking the same file twice is a success (same inode);
 * a different file under the same name is kept under `name.<n>` (never replaced).
 */
export async function spoolSegment(spoolDir: string, path: string, name: string): Promise<string> {
  try {
    await mkdir(spoolDir, { recursive: true });
  } catch (err) {
    throw spoolFailure(err, spoolDir, path);
  }
  const source = await stat(path).catch((err: unknown) => {
    throw spoolFailure(err, spoolDir, path);
  });
  for (let n = 0; n < 100; n++) {
    const target = join(spoolDir, n === 0 ? name : `${name}.${n}`);
    try {
      await link(path, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw spoolFailure(err, spoolDir, path);
      const existing = await stat(target);
      if (existing.ino === source.ino && existing.dev === source.dev) return target;
      continue;
    }
    try {
      await fsyncDir(spoolDir);
    } catch (err) {
      throw spoolFailure(err, spoolDir, path);
    }
    return target;
  }
  throw new SpoolError(
    `spool '${spoolDir}' already holds 100 different files named '${name}'`,
    "run the agent to drain the spool",
  );
}

function spoolFailure(err: unknown, spoolDir: string, path: string): SpoolError {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const hints: Record<string, string> = {
    EXDEV: "the spool must be on the commit log's filesystem; set spoolDir beside the commit log directory",
    ENOSPC: "the spool's filesystem is full; free space (the commit log's disk) and run the agent",
    EACCES: "the Cassandra user must be able to write the spool directory",
    EPERM: "the Cassandra user must be able to write the spool directory",
    EROFS: "the spool's filesystem is read-only",
    ENOENT: "the segment or the spool directory vanished",
  };
  return new SpoolError(
    `cannot spool '${path}' into '${spoolDir}': ${code || String(err)}`,
    hints[code] ?? "check the spool directory",
    err,
  );
}

export interface SpooledSegment {
  /** Cassandra's segment name. */
  readonly name: string;
  /** The link's path in the spool. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Everything waiting in the spool, oldest segment id first. A missing spool is empty. */
export async function listSpool(spoolDir: string): Promise<SpooledSegment[]> {
  let names: string[];
  try {
    names = await readdir(spoolDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: SpooledSegment[] = [];
  for (const file of names) {
    const m = /^(CommitLog-\d+-(\d+)\.log)(?:\.\d+)?$/.exec(file);
    if (!m) continue;
    const path = join(spoolDir, file);
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile()) out.push({ name: m[1]!, path, size: s.size, mtimeMs: Math.floor(s.mtimeMs) });
  }
  return out.sort((a, b) =>
    idOf(a.name) < idOf(b.name) ? -1 : idOf(a.name) > idOf(b.name) ? 1 : a.path < b.path ? -1 : 1,
  );
}

function idOf(name: string): bigint {
  return BigInt(/-(\d+)\.log$/.exec(name)![1]!);
}

/** Removes a spooled link after its segment is verified in the archive. */
export async function releaseSpooled(spooled: SpooledSegment): Promise<void> {
  await unlink(spooled.path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  });
  await fsyncDir(dirname(spooled.path));
}
