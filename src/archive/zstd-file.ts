/**
 * A segment file compressed with zstd as a stream, with flat memory: the file is read 1 MiB at a
 * time into one reused buffer and fed to ZSTD_compressStream2 directly, which writes into one
 * reused output buffer; only the bytes it produced are copied out. (zstd-napi's own CompressStream
 * fed from fs.createReadStream left every input chunk and every 128 KiB output buffer as garbage
 * until the next GC, so peak RSS grew with the segment size.)
 *
 * `threads` > 0 hands compression to zstd's own worker threads (ZSTD_c_nbWorkers): on a 32 MiB
 * segment two workers take the compression from about 75 ms to about 45 ms on two cores, and the
 * hook is what Cassandra waits for before it can recycle the segment. The output of a multi-threaded
 * frame differs from a single-threaded one but decompresses the same.
 */
import { readSync } from "node:fs";
import { Readable } from "node:stream";
import binding from "zstd-napi/binding.js";

const INPUT_CHUNK = 1 << 20;

export interface ZstdFileOptions {
  readonly level: number;
  /** zstd worker threads; 0 compresses on the calling thread. */
  readonly threads: number;
}

export class ZstdFileStream extends Readable {
  private readonly cctx = new binding.CCtx();
  private readonly input = Buffer.allocUnsafe(INPUT_CHUNK);
  private readonly output = Buffer.allocUnsafe(binding.cStreamOutSize());
  private position = 0;
  /** Bytes of compressed output pushed so far. */
  compressedBytes = 0;

  constructor(
    private readonly fd: number,
    private readonly size: number,
    options: ZstdFileOptions,
  ) {
    super();
    this.cctx.setParameter(binding.CParameter.compressionLevel, options.level);
    if (options.threads > 0) this.cctx.setParameter(binding.CParameter.nbWorkers, options.threads);
  }

  override _read(): void {
    try {
      for (;;) {
        let n = 0;
        const want = Math.min(INPUT_CHUNK, this.size - this.position);
        while (n < want) {
          const got = readSync(this.fd, this.input, n, want - n, this.position + n);
          if (got === 0) break;
          n += got;
        }
        this.position += n;
        const last = n < INPUT_CHUNK || this.position >= this.size;
        const more = this.compress(this.input.subarray(0, n), last ? binding.EndDirective.end : binding.EndDirective.continue);
        if (last) {
          this.push(null);
          return;
        }
        if (!more) return; // the consumer is full: wait for the next _read
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  /** Feeds one chunk; returns false when the consumer asked to stop for now. */
  private compress(chunk: Buffer, end: number): boolean {
    let more = true;
    let rest = chunk;
    for (;;) {
      const [remaining, produced, consumed] = this.cctx.compressStream2(this.output, rest, end);
      if (produced > 0) {
        this.compressedBytes += produced;
        more = this.push(Buffer.from(this.output.subarray(0, produced))) && more;
      }
      rest = rest.subarray(consumed);
      if (rest.length === 0 && (end === binding.EndDirective.continue || remaining === 0)) return more;
    }
  }
}
