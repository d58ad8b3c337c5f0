/**
 * What would bring writes stamped after T back to a restored node, moved aside before it starts
 * (never deleted, so an engineer can look at them): cassandra-internals.md §1.14.
 *
 * - the hints directory: hints are stored writes for a replica that was down, with their original
 *   timestamps, delivered when it is seen up again (the issue measured 1210 rows after T come back);
 * - system.batches: the batchlog replays a logged batch whose mutations were not all acknowledged;
 * - system.paxos: an accepted proposal that was not committed is completed by the next lightweight
 *   transaction on its partition, with its original ballot (after T).
 *   system.paxos_repair_history (5.0) stays: it records ballot low bounds, no writes, and new
 *   ballots are taken from the clock, above any bound it holds.
 *
 * Only the files directly in each directory move (sstables, hint files); `snapshots/` and
 * `backups/` subdirectories stay where Cassandra keeps them.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { exists, moveIdempotent } from "../restore/moves.js";

/** system tables whose sstables are moved aside, by the prefix of their directory name. */
export const ASIDE_SYSTEM_TABLES = ["batches-", "paxos-"] as const;

export interface AsidePaths {
  readonly dataDir: string;
  readonly hintsDir: string;
}

export interface MovedAside {
  readonly what: string;
  readonly from: string;
  readonly to: string;
  readonly files: number;
}

async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

async function moveFiles(from: string, to: string, what: string): Promise<MovedAside> {
  const names = await filesIn(from);
  if (names.length > 0) await mkdir(to, { recursive: true });
  for (const name of names) await moveIdempotent(join(from, name), join(to, name));
  return { what, from, to, files: names.length };
}

/** The system table directories to move aside, in the data directory. */
async function systemTableDirs(dataDir: string): Promise<string[]> {
  const system = join(dataDir, "system");
  const names = (await readdir(system).catch(() => [] as string[])).filter((n) =>
    ASIDE_SYSTEM_TABLES.some((p) => n.startsWith(p)),
  );
  return names.sort().map((n) => join(system, n));
}

/**
 * Moves hints, batchlog and Paxos state into `asideDir` (the node must be stopped). Repeatable: a
 * second run after an interruption finishes the moves and finds nothing left to move.
 */
export async function moveAsideReplayState(paths: AsidePaths, asideDir: string): Promise<MovedAside[]> {
  const moved: MovedAside[] = [];
  if (await exists(paths.hintsDir))
    moved.push(await moveFiles(paths.hintsDir, join(asideDir, "hints"), "hints"));
  for (const dir of await systemTableDirs(paths.dataDir)) {
    const table = dir.slice(dir.lastIndexOf("/") + 1);
    moved.push(
      await moveFiles(dir, join(asideDir, "system", table), `system.${table.slice(0, table.indexOf("-"))}`),
    );
  }
  return moved;
}

/** Puts back what moveAsideReplayState moved into `asideDir` (a cluster restore aborted before its node started). */
export async function putBackReplayState(paths: AsidePaths, asideDir: string): Promise<number> {
  const moves = [{ from: join(asideDir, "hints"), to: paths.hintsDir }];
  for (const table of await readdir(join(asideDir, "system")).catch(() => [] as string[])) {
    moves.push({ from: join(asideDir, "system", table), to: join(paths.dataDir, "system", table) });
  }
  let n = 0;
  for (const m of moves) {
    for (const name of await filesIn(m.from)) {
      await moveIdempotent(join(m.from, name), join(m.to, name));
      n++;
    }
  }
  return n;
}

export function describeAside(m: MovedAside): string {
  return `moved aside ${m.what}: ${m.files} file(s) from '${m.from}' to '${m.to}'`;
}
