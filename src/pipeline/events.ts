import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { redactText } from "../errors/redact.js";

/**
 * Appends one JSON line to the hooks' event log, when one is configured. The hooks print almost
 * nothing (Cassandra reads their output only on failure), so this file is where an operator looks.
 * A failure to log never fails the hook. Lines go through the one redaction (errors/redact.ts), so a
 * secret in an error's text never reaches the file; the file is created 0600 all the same, and
 * opened non-blocking (a FIFO without a reader must not hold the hook).
 */
export async function appendEvent(
  logFile: string | undefined,
  event: Record<string, unknown>,
): Promise<void> {
  if (!logFile) return;
  const line =
    redactText(JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...event })) + "\n";
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK;
  const handle = await open(logFile, flags, 0o600).catch(() => undefined);
  if (!handle) return;
  try {
    if ((await handle.stat()).isFile()) await handle.write(line);
  } catch {
    // logging is best effort
  } finally {
    await handle.close().catch(() => undefined);
  }
}
