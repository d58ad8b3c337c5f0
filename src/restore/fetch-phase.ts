/**
 * The fetch phase's segments: every segment of the plan is downloaded, verified against its recorded
 * sha256 and passed through the replay filter before anything of the node changes; the first ones
 * are staged whole in the restore directory while its filesystem has room, the rest get a stub that
 * the restore hook fetches when Cassandra asks.
 *
 * Speed. Verifying (zstd, sha256) and filtering (reading every mutation) cost CPU, about half a
 * second per 32 MiB segment; on one thread, more parallel downloads only interleave that work and
 * add memory and fsync contention (BENCHMARKS.md: 4 in-process fetches were slower than 1). So the
 * CPU work runs on worker threads, one per core up to `parallelism`, and the main thread keeps one
 * download ahead of each worker. The compressed bytes move to the worker without a copy.
 */
import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { Worker } from "node:worker_threads";
import { PitrError } from "../errors/base.js";
import type { SegmentRecord } from "../format/segment-record.js";
import { renderStub } from "../replay/stub.js";
import { isPartialSegmentKey } from "../format/partial-layout.js";
import { assemblePartialSegment } from "../replay/partial-segment.js";
import { addToTally, emptyTally, specDigest, type FilterTally } from "../replay/replay-filter.js";
import { ChecksumMismatchError } from "../replay/target.js";
import type { Backend } from "../storage/types.js";
import { PlanRefusedError, type SegmentStep } from "./plan.js";
import type { SegmentDone, SegmentJob } from "./segment-work.js";

export interface FetchProgress {
  /** Called after each segment: how many are done, of how many, and their original bytes. */
  (done: { segments: number; bytes: number }, total: { segments: number; bytes: number }): void;
}

export interface SegmentFetchInput {
  readonly backend: Backend;
  readonly segments: readonly SegmentStep[];
  readonly records: ReadonlyMap<string, SegmentRecord>;
  readonly restoreDir: string;
  /** How many of the segments, in order, are staged whole; the others get a stub. */
  readonly stagedCount: number;
  readonly specText: string;
  readonly specPath: string;
  /** The archive URL written into stubs (credentials stripped by renderStub). */
  readonly archiveUrl: string;
  readonly parallelism: number;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: FetchProgress | undefined;
}

/**
 * How many of the segments, in plan order, fit whole in `room` bytes; the rest become stubs. One
 * largest segment is kept free as a margin for whatever else writes there meanwhile.
 */
export function segmentsToStage(sizes: readonly number[], room: number): number {
  const margin = sizes.length > 0 ? Math.max(...sizes) : 0;
  let used = 0;
  for (let i = 0; i < sizes.length; i++) {
    used += sizes[i]!;
    if (used > room - margin) return i;
  }
  return sizes.length;
}

/** Worker threads: the compiled .js next to this file, or the .ts source under a TypeScript loader (tests). */
function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./segment-worker${ext}`, import.meta.url);
}

/** The error a worker reported, as the class the CLI maps to the documented exit status. */
function errorFrom(done: NonNullable<SegmentDone["error"]>, name: string): Error {
  if (done.code === undefined) return new Error(`${name}: ${done.message}`);
  if (done.stage === "filter") {
    // A segment whose mutations cannot be read refuses the restore (exit 17) with the reason.
    return new PlanRefusedError(
      "unreadable-mutations",
      `restore refused before changing anything: ${done.message}`,
      {
        hint: "restore from a snapshot that holds the table, or pass --accept-cassandra-filter to leave such mutations to Cassandra's own filter (which replays row deletions stamped after T)",
      },
    );
  }
  if (done.name === "ChecksumMismatchError") {
    const err = new ChecksumMismatchError("", "");
    err.message = done.message;
    return err;
  }
  return new PitrError(done.code as PitrError["code"], done.message, { hint: done.hint });
}

/**
 * Verifies, filters and stages (or stubs) every segment. On the first failure no new segment
 * starts; the error is thrown once the segments in flight have settled, so the caller's cleanup
 * never races a write.
 */
export async function fetchSegments(i: SegmentFetchInput): Promise<FilterTally> {
  const tally = emptyTally();
  const total = {
    segments: i.segments.length,
    bytes: i.segments.reduce((n, s) => n + i.records.get(s.key)!.size, 0),
  };
  const done = { segments: 0, bytes: 0 };
  const threads = Math.max(1, Math.min(i.parallelism, availableParallelism(), i.segments.length));
  const workers = Array.from({ length: i.segments.length > 0 ? threads : 0 }, () =>
    watched(new Worker(workerUrl())),
  );
  let next = 0;
  let failure: { error: unknown } | undefined;
  const stubFilter = { spec: i.specPath, sha256: specDigest(i.specText) };

  /** One worker's loop: download the next segment, hand it over, write its stub if it has one. */
  const drive = async (
    worker: WatchedWorker,
    first: Promise<Uint8Array> | undefined,
    firstIndex: number,
  ): Promise<void> => {
    let index = firstIndex;
    let download = first;
    while (download && !failure) {
      const s = i.segments[index]!;
      const record = i.records.get(s.key)!;
      let compressed: Uint8Array;
      try {
        compressed = await download;
      } catch (err) {
        failure ??= { error: err };
        return;
      }
      // Start the next download while this segment is verified and filtered.
      const nextIndex = next < i.segments.length && !failure ? next++ : -1;
      download = nextIndex >= 0 ? get(i.segments[nextIndex]!.key) : undefined;
      download?.catch(() => undefined); // awaited in the next turn; a failure is reported there
      const staged = index < i.stagedCount;
      const job: SegmentJob = {
        id: index,
        key: s.key,
        name: s.name,
        sha256: record.sha256,
        size: record.size,
        target: staged ? join(i.restoreDir, s.name) : null,
        compressed,
        assembled: isPartialSegmentKey(s.key),
        specText: i.specText,
        specPath: i.specPath,
      };
      const result = await run(worker, job, compressed);
      if (result.error) {
        failure ??= { error: errorFrom(result.error, `segment ${s.name}`) };
        break;
      }
      if (!staged) {
        const ref = {
          archive: i.archiveUrl,
          key: s.key,
          sha256: record.sha256,
          size: record.size,
          name: s.name,
          filter: stubFilter,
        };
        await stageStub(
          renderStub(record.version, record.segmentId, record.headerParameters, ref),
          join(i.restoreDir, s.name),
        ).catch((err: unknown) => {
          failure ??= { error: err };
        });
      }
      addToTally(tally, { bytes: new Uint8Array(0), kept: 0, withheldAt: [], ...result.counts! });
      done.segments++;
      done.bytes += record.size;
      i.progress?.(done, total);
      index = nextIndex;
    }
    // A download started before the failure must settle before the caller cleans up.
    await download?.catch(() => undefined);
  };
  // A partial segment (format/partial-layout.ts) is a chain of objects: assembled and verified here, sent as is.
  const get = async (key: string): Promise<Uint8Array> =>
    isPartialSegmentKey(key)
      ? assemblePartialSegment(i.backend, key, i.segments.find((s) => s.key === key)!.name, i.signal)
      : buffer(await i.backend.get(key, { signal: i.signal }));

  try {
    await Promise.all(
      workers.map((w) => {
        const index = next < i.segments.length ? next++ : -1;
        return drive(w, index >= 0 ? get(i.segments[index]!.key) : undefined, index);
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failure) throw failure.error;
  return tally;
}

/** A worker whose failure (it could not load, or it died) is kept, so no job waits on it forever. */
interface WatchedWorker extends Worker {
  failed?: Error;
}

function watched(worker: WatchedWorker): WatchedWorker {
  worker.on("error", (err: Error) => {
    worker.failed ??= err;
  });
  worker.on("exit", (code) => {
    worker.failed ??= new Error(`the fetch phase's worker thread stopped (exit ${code})`);
  });
  return worker;
}

/** Sends one job and waits for its answer; the compressed bytes are transferred, not copied. */
function run(worker: WatchedWorker, job: SegmentJob, compressed: Uint8Array): Promise<SegmentDone> {
  return new Promise((resolve) => {
    const failedWith = (err: Error): SegmentDone => ({
      id: job.id,
      error: { name: err.name, message: err.message, stage: "verify" },
    });
    if (worker.failed) return resolve(failedWith(worker.failed));
    const settle = (d: SegmentDone) => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      resolve(d);
    };
    const onMessage = (d: SegmentDone) => {
      if (d.id === job.id) settle(d);
    };
    const onError = (err: Error) => settle(failedWith(err));
    const onExit = (code: number) =>
      settle(failedWith(new Error(`the fetch phase's worker thread stopped (exit ${code})`)));
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
    const transferable =
      compressed.byteOffset === 0 &&
      compressed.byteLength === compressed.buffer.byteLength &&
      compressed.buffer instanceof ArrayBuffer;
    worker.postMessage(job, transferable ? [compressed.buffer as ArrayBuffer] : []);
  });
}

async function stageStub(bytes: Uint8Array, target: string): Promise<void> {
  await writeFile(target, bytes, { flag: "wx" });
}

/**
 * A progress line on a terminal, rewritten in place at most every 200 ms and cleared at the end;
 * nothing at all when the stream is not a terminal (logs and pipes stay clean).
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): FetchProgress | undefined {
  if (!stream.isTTY) return undefined;
  const started = Date.now();
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    const finished = done.segments === total.segments;
    if (!finished && now - last < 200) return;
    last = now;
    const mib = (b: number) => (b / 1048576).toFixed(0);
    const rate = done.bytes / 1048576 / Math.max(0.001, (now - started) / 1000);
    stream.write(
      `\r\x1b[Kfetch, verify, filter: ${done.segments}/${total.segments} segments, ${mib(done.bytes)}/${mib(total.bytes)} MiB, ${rate.toFixed(0)} MiB/s`,
    );
    if (finished) stream.write("\r\x1b[K");
  };
}
