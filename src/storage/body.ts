import { Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { LentChunks, PutOptions } from "./types.js";

/**
 * A stream body a consumer may keep chunks of (an HTTP request queueing writes): lent chunks are
 * copied one by one, a Readable passes through. Only gs:// still needs this: s3:// and az:// copy
 * lent chunks into pooled part buffers (parts.ts); the GCS SDK takes the body as one stream.
 *
 * Each copy is garbage once the request has written it, but V8 collects Buffers only when its own
 * heap asks for it, so a 128 MiB segment's copies (about 30 MiB) used to stay allocated and peak
 * RSS grew 23 MiB from a 32 to a 128 MiB segment. A young-generation collection after every
 * COLLECT_EVERY bytes copied frees the copies already written: the gs:// row of BENCHMARKS.md's
 * 32 → 128 MiB memory target. A scavenge of the hook's small heap takes about a millisecond.
 */
export function ownedStream(body: Readable | LentChunks): Readable {
  if (body instanceof Readable) return body;
  return Readable.from(copies(body), { objectMode: false });
}

const COLLECT_EVERY = 8 * 1024 * 1024;

async function* copies(body: LentChunks): AsyncGenerator<Buffer> {
  const collect = youngGenerationGc();
  let since = 0;
  for await (const chunk of body) {
    since += chunk.length;
    if (since >= COLLECT_EVERY) {
      since = 0;
      collect();
    }
    yield Buffer.from(chunk);
  }
}

let gc: (() => void) | undefined;

/** V8's gc() without starting node with --expose-gc: the flag is honoured for contexts made after it is set. */
function youngGenerationGc(): () => void {
  if (gc === undefined) {
    gc = () => undefined; // if V8 refuses, the copies wait for a collection as before: only memory is at stake
    try {
      setFlagsFromString("--expose-gc");
      const exposed: unknown = runInNewContext("gc");
      if (typeof exposed === "function")
        gc = () => (exposed as (options: { type: "minor" }) => void)({ type: "minor" });
    } catch {
      // keep the no-op
    }
  }
  return gc;
}

/** For backends without `capabilities.lateMetadata`: a caller passing it has a bug, not bad input. */
export function refuseLateMetadata(options: PutOptions, scheme: string): void {
  if (options.lateMetadata !== undefined)
    throw new Error(
      `${scheme}:// backend cannot store metadata after the body (capabilities.lateMetadata is false)`,
    );
}
