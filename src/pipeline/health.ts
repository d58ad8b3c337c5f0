/**
 * The storage health mark: a file in the spool that says "storage did not answer lately".
 *
 * Cassandra runs one archive hook at a time and blocks flushes behind it. Without the mark, every
 * hook during an outage first waits out its whole time budget (a hung endpoint) or its retries (a
 * refused one) before it spools, and the database slows to the pace of the budget. With it, the
 * first hook that meets the outage sets the mark and every later hook spools at once.
 *
 * Who clears it: the agent, as soon as storage answers again (an upload or a probe succeeded).
 * Who refreshes it: a hook or the agent that met the outage again. The mark is fresh only for
 * `healthMarkLifetime` after its last write, so a mark that nobody clears (no agent running) stops
 * diverting segments: the next hook tries storage again and sets it anew if storage is still down.
 */
import { mkdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isPitrError } from "../errors/base.js";

export const HEALTH_MARK_FILE = ".storage-unhealthy";

export interface HealthMark {
  /** When the mark was last written (ms since the epoch). */
  readonly markedAtMs: number;
}

export function healthMarkPath(spoolDir: string): string {
  return join(spoolDir, HEALTH_MARK_FILE);
}

/** The mark if it is fresh (written less than `lifetimeMs` ago), otherwise undefined. One stat. */
export async function freshHealthMark(
  spoolDir: string,
  lifetimeMs: number,
  now: number = Date.now(),
): Promise<HealthMark | undefined> {
  const s = await stat(healthMarkPath(spoolDir)).catch(() => undefined);
  if (!s?.isFile()) return undefined;
  const age = now - s.mtimeMs;
  // A mark from the future (clock stepped back) counts as fresh only within one lifetime too.
  return Math.abs(age) < lifetimeMs ? { markedAtMs: Math.floor(s.mtimeMs) } : undefined;
}

/**
 * Writes (or refreshes) the mark. Written whole under a temporary name and renamed, so a reader
 * never sees half a file; not fsynced, because losing it in a crash only costs one slow hook.
 */
export async function setHealthMark(spoolDir: string, reason: string, by: string): Promise<void> {
  await mkdir(spoolDir, { recursive: true });
  const path = healthMarkPath(spoolDir);
  const temp = `${path}.${process.pid}.tmp`;
  const body = JSON.stringify({ markedAt: new Date().toISOString(), by, reason }) + "\n";
  await writeFile(temp, body, { mode: 0o600 });
  await rename(temp, path);
}

/** Removes the mark; true when there was one. */
export async function clearHealthMark(spoolDir: string): Promise<boolean> {
  try {
    await unlink(healthMarkPath(spoolDir));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** A failure that says storage is not answering (network, refused, timeout, 5xx, throttling). */
export function isOutage(err: unknown): boolean {
  return isPitrError(err) && err.code === "E_STORAGE_UNAVAILABLE";
}
