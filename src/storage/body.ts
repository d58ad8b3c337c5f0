import { Readable } from "node:stream";
import type { LentChunks, PutOptions } from "./types.js";

/**
 * A stream body a consumer may keep chunks of (an SDK buffering parts, an HTTP request queueing
 * writes): lent chunks are copied one by one, a Readable passes through.
 */
export function ownedStream(body: Readable | LentChunks): Readable {
  if (body instanceof Readable) return body;
  return Readable.from(copies(body), { objectMode: false });
}

async function* copies(body: LentChunks): AsyncGenerator<Buffer> {
  for await (const chunk of body) yield Buffer.from(chunk);
}

/** For backends without `capabilities.lateMetadata`: a caller passing it has a bug, not bad input. */
export function refuseLateMetadata(options: PutOptions, scheme: string): void {
  if (options.lateMetadata !== undefined) throw new Error(`${scheme}:// backend cannot store metadata after the body (capabilities.lateMetadata is false)`);
}
