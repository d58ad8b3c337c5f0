/**
 * The apply phase of a restore as a journal, so that a node is never left half-restored.
 *
 * Every change the apply phase makes is decided before the first one runs and written, fsynced, as
 * the journal's first line: file moves (live sstables and commit log files aside, staged sstables into
 * the table directories) and file writes (the restore settings, each with a backup of the original).
 * After each step a line `{"done": i}` is appended and fsynced. Each step can be repeated and undone
 * whatever an interrupted attempt got to (moves.ts), so from the journal alone:
 *   - forwards: `restore` run again with the same restore point finishes the remaining steps;
 *   - backwards: the started steps are undone newest first and every file is back where it was.
 * The restore commits by writing its state file; the journal is removed after that. A rollback first
 * appends `{"rollback": true}`: from then on only a rollback may continue, never a resume, because
 * some done steps may already be undone.
 */
import { existsSync } from "node:fs";
import { appendFile, mkdir, open, readdir, readFile, rename, rm, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDir } from "../storage/durable.js";
import { copyDurably, exists, moveFile, moveIdempotent, partialName } from "./moves.js";

export const JOURNAL_FILE = "cassandra-pitr-restore.journal";

export type JournalStep =
  | { readonly op: "move"; readonly from: string; readonly to: string }
  /** `backup` null: the file did not exist, so undoing the write removes it. */
  | { readonly op: "write"; readonly path: string; readonly backup: string | null; readonly content: string };

export interface JournalHeader<S> {
  readonly schema_version: 1;
  /** The restore point (µs) the journal applies: only a restore to the same point may resume it. */
  readonly at: string;
  readonly restore_point_in_time: string;
  readonly steps: readonly JournalStep[];
  /** Directories the restore created and a rollback removes (staged copies of archived objects). */
  readonly created: {
    readonly staging_dir: string;
    readonly restore_dir: string;
    /** false: the restore directory existed (empty) before, so only its contents go. */
    readonly restore_dir_created: boolean;
    readonly aside_dir: string;
  };
  /** What the state file holds once the restore commits. */
  readonly state: S;
}

export interface Journal<S> {
  readonly path: string;
  readonly header: JournalHeader<S>;
  /** Steps 0..done-1 completed. */
  readonly done: number;
  readonly rollingBack: boolean;
}

/**
 * Test-only fault injection, documented in docs/restore.md: CASSANDRA_PITR_TEST_FAIL_AT_STEP=N makes
 * step N (from 0; negative counts from the end, -1 is the last) fail before it runs, as a full or
 * read-only disk would; CASSANDRA_PITR_TEST_CRASH_AT_STEP=N kills the process with SIGKILL right after
 * step N ran, before its journal line, as a power loss would.
 */
export function describeStep(step: JournalStep): string {
  return step.op === "move" ? `move '${step.from}' to '${step.to}'` : `write '${step.path}'`;
}

/** A step of the journal failed; `index` counts from 0. */
export class StepFailedError extends Error {
  override name = "StepFailedError";
  constructor(
    readonly index: number,
    readonly total: number,
    readonly step: JournalStep,
    override readonly cause: unknown,
  ) {
    super(
      `step ${index + 1} of ${total} (${describeStep(step)}) failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

function injected(name: string, step: number, total: number): boolean {
  const v = process.env[name];
  if (v === undefined || v === "") return false;
  const n = Number(v);
  return n === step || (n < 0 && total + n === step); // -1: the last step
}

async function writeAtomically(path: string, content: string): Promise<void> {
  const partial = partialName(path);
  const handle = await open(partial, "w");
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, path);
  await fsyncDir(dirname(path));
}

async function appendLine(path: string, line: object): Promise<void> {
  await appendFile(path, JSON.stringify(line) + "\n");
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function createJournal<S>(path: string, header: JournalHeader<S>): Promise<Journal<S>> {
  await writeAtomically(path, JSON.stringify(header) + "\n");
  return { path, header, done: 0, rollingBack: false };
}

export async function readJournal<S>(path: string): Promise<Journal<S> | undefined> {
  if (!existsSync(path)) return undefined;
  const lines = (await readFile(path, "utf8")).split("\n").filter((l) => l.trim() !== "");
  const header = JSON.parse(lines[0]!) as JournalHeader<S>;
  let done = 0;
  let rollingBack = false;
  // A torn last line (power loss during an append) is ignored: that step counts as in flight.
  for (const line of lines.slice(1)) {
    try {
      const entry = JSON.parse(line) as { done?: number; rollback?: boolean };
      if (entry.rollback) rollingBack = true;
      if (typeof entry.done === "number") done = Math.max(done, entry.done + 1);
    } catch {
      break;
    }
  }
  return { path, header, done, rollingBack };
}

async function doStep(step: JournalStep): Promise<void> {
  if (step.op === "move") {
    await mkdir(dirname(step.to), { recursive: true });
    await moveIdempotent(step.from, step.to);
    return;
  }
  if (step.backup !== null && !(await exists(step.backup))) await copyDurably(step.path, step.backup);
  await writeAtomically(step.path, step.content);
}

/** Undoes one step whatever part of it ran; safe to repeat. */
async function undoStep(step: JournalStep): Promise<void> {
  if (step.op === "move") {
    await rm(partialName(step.to), { force: true });
    await rm(partialName(step.from), { force: true });
    const [src, dst] = await Promise.all([exists(step.from), exists(step.to)]);
    // Both present: a complete copy whose source was not yet removed; the source is the original.
    if (src && dst) await rm(step.to);
    else if (dst) await moveFile(step.to, step.from);
    return;
  }
  await rm(partialName(step.path), { force: true });
  if (step.backup === null) {
    await rm(step.path, { force: true });
  } else if (await exists(step.backup)) {
    await copyDurably(step.backup, step.path);
    await rm(step.backup);
  }
}

/** Runs the steps not yet done, marking each; returns once all are. */
export async function runForward<S>(journal: Journal<S>, say: (line: string) => void): Promise<void> {
  const steps = journal.header.steps;
  if (journal.done > 0)
    say(`resuming the interrupted restore at step ${journal.done + 1} of ${steps.length}`);
  for (let i = journal.done; i < steps.length; i++) {
    try {
      if (injected("CASSANDRA_PITR_TEST_FAIL_AT_STEP", i, steps.length))
        throw new Error("injected failure (CASSANDRA_PITR_TEST_FAIL_AT_STEP)");
      await doStep(steps[i]!);
    } catch (err) {
      throw new StepFailedError(i, steps.length, steps[i]!, err);
    }
    if (injected("CASSANDRA_PITR_TEST_CRASH_AT_STEP", i, steps.length)) process.kill(process.pid, "SIGKILL");
    await appendLine(journal.path, { done: i });
  }
}

/** Removes a directory tree's empty directories; files are never removed. Returns how many files remain. */
async function pruneEmptyDirs(dir: string): Promise<number> {
  let files = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) files += await pruneEmptyDirs(join(dir, e.name));
    else files++;
  }
  if (files === 0) await rmdir(dir).catch(() => undefined);
  return files;
}

/**
 * Undoes every started step, newest first, then removes what the restore created (staged copies of
 * archived objects, empty set-aside directories). Returns the files that remain in the set-aside
 * directory (0 after a complete rollback).
 */
export async function rollBack<S>(journal: Journal<S>): Promise<number> {
  if (!journal.rollingBack) await appendLine(journal.path, { rollback: true });
  const steps = journal.header.steps;
  // The step in flight (index done) may have run in part; later ones never started.
  for (let i = Math.min(journal.done, steps.length - 1); i >= 0; i--) await undoStep(steps[i]!);
  const { staging_dir, restore_dir, restore_dir_created, aside_dir } = journal.header.created;
  await rm(staging_dir, { recursive: true, force: true });
  if (restore_dir_created) await rm(restore_dir, { recursive: true, force: true });
  else
    for (const f of await readdir(restore_dir).catch(() => [] as string[]))
      await rm(join(restore_dir, f), { recursive: true, force: true });
  const left = await pruneEmptyDirs(aside_dir);
  await rm(journal.path, { force: true });
  await fsyncDir(dirname(journal.path));
  return left;
}

/** Where a committed journal is kept until `restore finish`: a cluster restore aborted before its node started rolls it back. */
export function committedJournalPath(journalPath: string): string {
  return `${journalPath}.committed`;
}

/**
 * Commits: the state file is written (the restore is applied from here on), then the journal is
 * kept under its committed name (so a restore whose node never started can still be undone) and
 * the working journal goes.
 */
export async function commitJournal<S>(journal: Journal<S>, statePath: string): Promise<void> {
  await writeAtomically(statePath, JSON.stringify(journal.header.state, null, 2) + "\n");
  await rm(journal.header.created.staging_dir, { recursive: true, force: true });
  await copyDurably(journal.path, committedJournalPath(journal.path));
  await rm(journal.path, { force: true });
  await fsyncDir(dirname(journal.path));
}
