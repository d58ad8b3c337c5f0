/**
 * A segment file compressed with zstd as a body of lent chunks (storage/types.ts LentChunks), with
 * flat memory: the file is read 1 MiB at a time into one reused buffer, ZSTD_compressStream2 writes
 * into one reused output buffer, and that buffer is what the consumer gets, valid until it asks for
 * the next chunk. Nothing per chunk is left for the GC: handing out a copy of each chunk made peak
 * RSS grow by the compressed size (+30 MiB for a 128 MiB segment) until the next collection.
 *
 * `threads` > 0 hands compression to zstd's own worker threads (ZSTD_c_nbWorkers): on a 32 MiB
 * segment two workers take the compression from about 80 ms to about 60 ms on two cores (the
 * "hook's compressor" rows of BENCHMARKS.md), and the hook is what Cassandra waits for. Their
 * buffers are bounded (about 5 MiB with two workers and 1 MiB jobs). A multi-threaded frame differs
 * from a single-threaded one but decompresses to the same bytes.
 */
import { readSync } from "node:fs";
import binding from "zstd-napi/binding.js";
import type { LentChunks } from "../storage/types.js";

const INPUT_CHUNK = 1 << 20;
/**
 * Output handed out per chunk. zstd suggests 128 KiB (ZSTD_CStreamOutSize); 1 MiB means an eighth as
 * many chunks, so an eighth as many awaited writes by the consumer, during which nothing feeds the
 * workers (about 3% off a 32 MiB upload to file:// in an A/B run of two builds, not a bench row).
 */
const OUTPUT_CHUNK = 1 << 20;
const EMPTY = Buffer.alloc(0);

export interface ZstdFileOptions {
  readonly level: number;
  /** zstd worker threads; 0 compresses on the calling thread. */
  readonly threads: number;
  /**
   * Sees every input chunk right after it went to zstd, valid only during the call. With worker
   * threads the call runs while they compress (the one-pass path's hashing and validation).
   */
  readonly onInput?: ((bytes: Uint8Array, offset: number) => void) | undefined;
}

export class ZstdFileChunks implements LentChunks {
  readonly lent = true as const;
  /** Bytes of compressed output handed out so far. */
  compressedBytes = 0;
  /** True once the whole file went through and the frame is closed. */
  finished = false;
  private started = false;

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly options: ZstdFileOptions,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    if (this.started) throw new Error("a compressed segment body can be read once");
    this.started = true;
    const cctx = new binding.CCtx();
    cctx.setParameter(binding.CParameter.compressionLevel, this.options.level);
    // A segment of one job has nothing to spread over workers: starting them only costs time (1 MiB
    // segments: 1.9 ms on the calling thread, 2.3 ms with two workers, BENCHMARKS.md "per-segment work").
    if (this.options.threads > 0 && this.size > INPUT_CHUNK) {
      cctx.setParameter(binding.CParameter.nbWorkers, this.options.threads);
      // 1 MiB jobs (zstd's default at level 1 is 2 MiB): one job per input chunk, and the job pool's
      // buffers about halve (peak RSS 57 → 51 MiB compressing a 32 MiB segment, same speed).
      cctx.setParameter(binding.CParameter.jobSize, INPUT_CHUNK);
    }
    const input = Buffer.allocUnsafe(INPUT_CHUNK);
    const output = Buffer.allocUnsafe(OUTPUT_CHUNK);
    let position = 0;
    for (;;) {
      let n = 0;
      const want = Math.min(INPUT_CHUNK, this.size - position);
      while (n < want) {
        const got = readSync(this.fd, input, n, want - n, position + n);
        if (got === 0) break;
        n += got;
      }
      position += n;
      const last = n < INPUT_CHUNK || position >= this.size;
      let rest = input.subarray(0, n);
      while (rest.length > 0) {
        const [, produced, consumed] = cctx.compressStream2(output, rest, binding.EndDirective.continue);
        rest = rest.subarray(consumed);
        if (produced > 0) {
          this.compressedBytes += produced;
          yield output.subarray(0, produced);
        }
      }
      // The chunk is with zstd now (copied into its job buffers): look at it while workers compress.
      this.options.onInput?.(input.subarray(0, n), position - n);
      if (!last) continue;
      for (;;) {
        const [remaining, produced] = cctx.compressStream2(output, EMPTY, binding.EndDirective.end);
        if (produced > 0) {
          this.compressedBytes += produced;
          yield output.subarray(0, produced);
        }
        if (remaining === 0) break;
      }
      this.finished = true;
      return;
    }
  }
}
