import type { Readable } from "node:stream";

/**
 * Ties a downloaded body to the caller's AbortSignal: aborting destroys the stream with the abort
 * reason, and the listener goes away when the stream closes. Every backend's `get` uses this, so a
 * cancelled read behaves the same everywhere (the conformance suite checks it).
 */
export function abortableBody<T extends Readable>(body: T, signal: AbortSignal | undefined): T {
  if (!signal) return body;
  const onAbort = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
  signal.addEventListener("abort", onAbort, { once: true });
  body.once("close", () => signal.removeEventListener("abort", onAbort));
  return body;
}
