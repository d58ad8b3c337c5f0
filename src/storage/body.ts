import { Readable } from "node:stream";
import type { LentChunks } from "./types.js";

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
