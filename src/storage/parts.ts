/**
 * Streams a body of unknown length into an object in parts (S3 multipart upload, Azure staged
 * blocks) through a fixed pool of part buffers. Each chunk is copied into the part being filled; a
 * full part is sent while the next one fills; a buffer is reused once its part has been sent. So
 * the upload holds `buffers × partSize` bytes at most, whatever the body's size, and leaves nothing
 * per chunk or per part for the GC. Handing the SDKs a stream instead (lib-storage's Upload, the
 * Azure SDK's uploadStream) made peak RSS grow with the segment size: their part buffers and our
 * chunk copies stayed allocated until the next collection (+35 MiB from a 32 to a 128 MiB segment).
 *
 * Chunks may be lent (types.ts LentChunks): they are copied before the next one is asked for.
 */

export interface PartSink<T> {
  /** The whole body fits in the first part: store it in one request instead. */
  single(bytes: Buffer): Promise<void>;
  /** Called once, before the first part is sent (S3 CreateMultipartUpload). */
  begin(): Promise<void>;
  /** Sends one part (numbered from 1). `bytes` is valid only until the returned promise settles. */
  part(bytes: Buffer, partNumber: number): Promise<T>;
}

export interface PartOptions {
  readonly partSize: number;
  /** Buffers in the pool, so also the most parts in flight; the next part fills while others are sent. At least 2. */
  readonly buffers: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Returns what `part` returned for each part, in order, or undefined when the body went through
 * `single`. On failure, every part in flight has settled before this rejects, so the caller can
 * abort the multipart upload knowing nothing more will be sent.
 */
export async function putInParts<T>(body: AsyncIterable<Uint8Array | string>, sink: PartSink<T>, options: PartOptions): Promise<T[] | undefined> {
  const { partSize, signal } = options;
  const maxBuffers = Math.max(2, options.buffers);
  const free: Buffer[] = [];
  let allocated = 0;
  const inFlight = new Set<Promise<void>>();
  const results: T[] = [];
  let failure: { error: unknown } | undefined;
  let begun: Promise<void> | undefined;
  let sent = 0;
  let current: Buffer | undefined;
  let fill = 0;

  const take = async (): Promise<Buffer> => {
    for (;;) {
      if (failure) throw failure.error;
      const buffer = free.pop();
      if (buffer) return buffer;
      if (allocated < maxBuffers) {
        allocated++;
        return Buffer.allocUnsafe(partSize);
      }
      await Promise.race(inFlight);
    }
  };
  const send = (buffer: Buffer, length: number): void => {
    const partNumber = ++sent;
    const done: Promise<void> = (async () => {
      await (begun ??= sink.begin());
      results[partNumber - 1] = await sink.part(buffer.subarray(0, length), partNumber);
    })().then(
      () => {
        free.push(buffer);
      },
      (error: unknown) => {
        failure ??= { error };
      },
    ).finally(() => inFlight.delete(done));
    inFlight.add(done);
  };
  const settle = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.all(inFlight);
  };

  try {
    for await (const raw of body) {
      if (signal?.aborted) throw signal.reason;
      if (failure) throw failure.error;
      const chunk = typeof raw === "string" ? Buffer.from(raw) : raw;
      let at = 0;
      while (at < chunk.length) {
        if (current === undefined) {
          current = await take();
          fill = 0;
        }
        const n = Math.min(chunk.length - at, partSize - fill);
        current.set(chunk.subarray(at, at + n), fill);
        fill += n;
        at += n;
        if (fill === partSize) {
          send(current, fill);
          current = undefined;
        }
      }
    }
    if (sent === 0) {
      await sink.single(current === undefined ? Buffer.alloc(0) : current.subarray(0, fill));
      return undefined;
    }
    if (current !== undefined && fill > 0) send(current, fill);
    await settle();
    if (failure) throw failure.error;
    return results;
  } catch (err) {
    await settle();
    throw err;
  }
}
