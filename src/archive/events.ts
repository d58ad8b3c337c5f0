import { appendFile } from "node:fs/promises";

/**
 * Appends one JSON line to the hooks' event log, when one is configured. The hooks print almost
 * nothing (Cassandra reads their output only on failure), so this file is where an operator looks.
 * A failure to log never fails the hook.
 */
export async function appendEvent(logFile: string | undefined, event: Record<string, unknown>): Promise<void> {
  if (!logFile) return;
  const line = JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...event }) + "\n";
  await appendFile(logFile, line).catch(() => undefined);
}
