/**
 * Disk preflight: before a restore changes anything, every filesystem it writes to must hold what
 * it will write there. Demands are summed per filesystem (device id), since the data, commit log,
 * restore and set-aside directories may share one or sit on four:
 *   - the commit log's filesystem: every segment of the plan at its original (uncompressed) size,
 *     because Cassandra copies each restored segment into the commit log directory before it replays
 *     any, plus one segment of headroom for the segment Cassandra opens; the commit log files the
 *     restore moves to another filesystem first are credited (they leave before Cassandra starts);
 *   - the staging directory's and the data directory's filesystems: the sstables to place;
 *   - the restore directory's: what is staged there (whole segments, or one small stub each);
 *   - the set-aside directory's, when it is not the source's: the copies of what is moved aside.
 */
import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { PitrError } from "../errors/base.js";
import { deviceOf } from "./moves.js";

/** What a staged stub may take on disk (one block; stubs are a few hundred bytes). */
export const STUB_BYTES = 4096;

export interface PreflightInput {
  readonly commitlogDir: string;
  readonly dataDir: string;
  readonly stagingDir: string;
  readonly restoreDir: string;
  readonly asideDir: string;
  /** Original sizes of the plan's segments. */
  readonly segmentBytes: readonly number[];
  readonly stubs: boolean;
  /**
   * With `stubs` false: how many of the plan's segments (the first ones) are staged whole; the rest
   * get a stub each (fetch-phase.ts stages while the disk allows). Absent: all of them.
   */
  readonly stagedCount?: number | undefined;
  /** Sstable components to fetch and place. */
  readonly sstableBytes: number;
  /** Live sstables of the restored tables, moved aside. */
  readonly liveSstableBytes: number;
  /** Files in the commit log directory, moved aside. */
  readonly commitlogBytes: number;
}

interface Demand {
  readonly path: string;
  readonly what: string;
  readonly bytes: number;
  readonly hint: string;
}

export class DiskSpaceError extends PitrError {
  override name = "DiskSpaceError";
  constructor(message: string, hint: string) {
    super("E_DISK_SPACE", message, { hint });
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

const BIGGER_COMMITLOG =
  "give the commit log a bigger volume, or restore to a point closer after a snapshot (fewer segments); a table scope does not reduce the segments replayed";
const BIGGER_DATA =
  "restore a narrower scope (--table or --keyspace), or give the data directory a bigger volume";

function demandsOf(i: PreflightInput): Demand[] {
  const segments = i.segmentBytes.reduce((n, b) => n + b, 0);
  const headroom = i.segmentBytes.length > 0 ? Math.max(...i.segmentBytes) : 0;
  const staged = i.stubs ? 0 : (i.stagedCount ?? i.segmentBytes.length);
  const stagedBytes = i.segmentBytes.slice(0, staged).reduce((n, b) => n + b, 0);
  const stubs = i.segmentBytes.length - staged;
  return [
    {
      path: i.commitlogDir,
      what: `${i.segmentBytes.length} segment(s) of the plan uncompressed, which Cassandra copies into the commit log directory before it replays, plus one segment of headroom`,
      bytes: segments + headroom,
      hint: BIGGER_COMMITLOG,
    },
    {
      path: i.restoreDir,
      what:
        [staged > 0 ? `${staged} segment(s) staged` : "", stubs > 0 ? `${stubs} stub(s)` : ""]
          .filter(Boolean)
          .join(" and ") + " in the restore directory",
      bytes: stagedBytes + stubs * STUB_BYTES,
      hint:
        staged === 0
          ? BIGGER_COMMITLOG
          : "stage stubs instead of whole segments (--stubs), or name a restore directory on a bigger volume with --restore-dir",
    },
    { path: i.stagingDir, what: "the sstables to place, staged", bytes: i.sstableBytes, hint: BIGGER_DATA },
  ];
}

/** Demands that exist only when a move crosses filesystems (a copy lands there), and credits for what leaves. */
async function crossingDemands(
  i: PreflightInput,
): Promise<{ demands: Demand[]; credits: Map<number, number> }> {
  const [data, staging, commitlog, aside] = (await Promise.all(
    [i.dataDir, i.stagingDir, i.commitlogDir, i.asideDir].map(deviceOf),
  )) as [number, number, number, number];
  const demands: Demand[] = [];
  const credits = new Map<number, number>();
  if (data !== staging)
    demands.push({
      path: i.dataDir,
      what: "the sstables to place",
      bytes: i.sstableBytes,
      hint: BIGGER_DATA,
    });
  if (aside !== data)
    demands.push({
      path: dirname(i.asideDir),
      what: "the live sstables moved aside",
      bytes: i.liveSstableBytes,
      hint: BIGGER_DATA,
    });
  if (aside !== commitlog) {
    demands.push({
      path: dirname(i.asideDir),
      what: "the commit log's files moved aside",
      bytes: i.commitlogBytes,
      hint: "free space beside the data directory, where the moved-aside files are kept",
    });
    credits.set(commitlog, i.commitlogBytes);
  }
  return { demands, credits };
}

async function freeBytes(path: string): Promise<number> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dirname(p) === p) throw err;
    }
  }
}

/**
 * Bytes the restore directory's filesystem has left once every other demand of the restore on it is
 * met, with every segment a stub: what whole staged segments may use (fetch-phase.ts).
 */
export async function roomForStaging(input: PreflightInput): Promise<number> {
  const asStubs = { ...input, stubs: true };
  const { demands: crossing, credits } = await crossingDemands(asStubs);
  const dev = await deviceOf(input.restoreDir);
  let needed = 0;
  for (const d of [...demandsOf(asStubs), ...crossing])
    if (d.bytes > 0 && (await deviceOf(d.path)) === dev) needed += d.bytes;
  return (await freeBytes(input.restoreDir)) + (credits.get(dev) ?? 0) - needed;
}

/**
 * Throws DiskSpaceError naming the first filesystem that cannot hold its share: the bytes needed and
 * what they are, the bytes free, the path, and what to do. Returns one line per filesystem otherwise.
 */
export async function checkDiskSpace(input: PreflightInput): Promise<string[]> {
  const { demands: crossing, credits } = await crossingDemands(input);
  const byDevice = new Map<number, Demand[]>();
  for (const d of [...demandsOf(input), ...crossing]) {
    if (d.bytes === 0) continue;
    const dev = await deviceOf(d.path);
    byDevice.set(dev, [...(byDevice.get(dev) ?? []), d]);
  }
  const lines: string[] = [];
  for (const [dev, demands] of byDevice) {
    const needed = demands.reduce((n, d) => n + d.bytes, 0);
    const credit = credits.get(dev) ?? 0;
    const free = await freeBytes(demands[0]!.path);
    const parts = demands.map((d) => `${mib(d.bytes)} for ${d.what}`).join(", ");
    if (needed > free + credit) {
      const largest = demands.reduce((a, b) => (b.bytes > a.bytes ? b : a));
      throw new DiskSpaceError(
        `not enough disk space on the filesystem of '${demands[0]!.path}': the restore needs ${mib(needed)} (${parts}), ${mib(free)} is free${credit ? ` and ${mib(credit)} is freed by moving the commit log aside` : ""}; nothing was changed`,
        largest.hint,
      );
    }
    lines.push(
      `disk: '${demands[0]!.path}' needs ${mib(needed)}, ${mib(free + credit)} available (${parts})`,
    );
  }
  return lines;
}
