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
export async function putInParts<T>(
  body: AsyncIterable<Uint8Array | string>,
  sink: PartSink<T>,
  options: PartOptions,
): Promise<T[] | undefined> {
  const upload = new PartUpload(sink, options.partSize, Math.max(2, options.buffers));
  try {
    for await (const raw of body) {
      if (options.signal?.aborted) throw options.signal.reason;
      upload.throwIfFailed();
      await upload.add(typeof raw === "string" ? Buffer.from(raw) : raw);
    }
    return await upload.finish();
  } catch (err) {
    await upload.settle();
    throw err;
  }
}

/** The pool of part buffers, the part being filled, and the parts in flight. */
class PartUpload<T> {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly results: T[] = [];
  private failure: { error: unknown } | undefined;
  private begun: Promise<void> | undefined;
  private sent = 0;
  private current: Buffer | undefined;
  private fill = 0;

  constructor(
    private readonly sink: PartSink<T>,
    private readonly partSize: number,
    private readonly maxBuffers: number,
  ) {}

  throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Copies `chunk` into parts, sending each part as it fills. */
  async add(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (this.current === undefined) {
        this.current = await this.take();
        this.fill = 0;
      }
      const n = Math.min(chunk.length - at, this.partSize - this.fill);
      this.current.set(chunk.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      if (this.fill === this.partSize) {
        this.send(this.current, this.fill);
        this.current = undefined;
      }
    }
  }

  /** The body ended: one request when no part was sent yet, else the last part, then every result. */
  async finish(): Promise<T[] | undefined> {
    if (this.sent === 0) {
      await this.sink.single(
        this.current === undefined ? Buffer.alloc(0) : this.current.subarray(0, this.fill),
      );
      return undefined;
    }
    if (this.current !== undefined && this.fill > 0) this.send(this.current, this.fill);
    await this.settle();
    this.throwIfFailed();
    return this.results;
  }

  /** Waits until no part is in flight. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** A free buffer, a new one while the pool is not full, or the first to come back from a part in flight. */
  private async take(): Promise<Buffer> {
    for (;;) {
      this.throwIfFailed();
      const buffer = this.free.pop();
      if (buffer) return buffer;
      if (this.allocated < this.maxBuffers) {
        this.allocated++;
        return Buffer.allocUnsafe(this.partSize);
      }
      await Promise.race(this.inFlight);
    }
  }

  private send(buffer: Buffer, length: number): void {
    const partNumber = ++this.sent;
    const done: Promise<void> = (async () => {
      await (this.begun ??= this.sink.begin());
      this.results[partNumber - 1] = await this.sink.part(buffer.subarray(0, length), partNumber);
    })()
      .then(
        () => {
          this.free.push(buffer);
        },
        (error: unknown) => {
          this.failure ??= { error };
        },
      )
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}
