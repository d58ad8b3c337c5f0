/**
 * One segment's work in the fetch phase, run on a worker thread (segment-worker.ts) so that segments
 * are verified and filtered on every core while the main thread downloads the next ones:
 * decompress the archived object, check size, sha256 and header against the recorded values (the
 * filter only ever reads verified bytes), pass the mutations through the replay filter, and stage
 * the result in the restore directory (written once, fsynced, linked into place) unless the segment
 * gets a stub.
 */
import { randomBytes } from "node:crypto";
import { link, open, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { decompress } from "zstd-napi";
import { isPitrError } from "../errors/base.js";
import { fsyncDir } from "../storage/durable.js";
import { compileReplayFilter, parseSpec, type SegmentFilter } from "../replay/replay-filter.js";
import { ChecksumMismatchError, TargetExistsError, checkSegmentBytes } from "../replay/target.js";

export interface SegmentJob {
  readonly id: number;
  readonly key: string;
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
  /** Where to stage the filtered segment; null when it gets a stub (verified and filtered all the same). */
  readonly target: string | null;
  /** The archived object as stored (zstd), or, for a partial segment, its assembled and verified bytes. */
  readonly compressed: Uint8Array;
  /** True when `compressed` holds the segment's own bytes already (a partial segment, assembled by the main thread). */
  readonly assembled?: boolean;
  readonly specText: string;
  readonly specPath: string;
}

export interface SegmentDone {
  readonly id: number;
  readonly counts?: {
    mutations: number;
    withheld: number;
    withheldBeyondCassandra: number;
    withheldTruncated: number;
    passedThrough: number;
  };
  /** A failure, as plain data (it crosses the thread boundary); `stage` says which check raised it. */
  readonly error?:
    | { name: string; code?: string; message: string; hint?: string; stage: "verify" | "filter" | "write" }
    | undefined;
}

let compiled: { text: string; filter: SegmentFilter } | undefined;

function filterFor(specText: string, specPath: string): SegmentFilter {
  if (compiled?.text !== specText)
    compiled = { text: specText, filter: compileReplayFilter(parseSpec(specText, specPath)) };
  return compiled.filter;
}

/** Decompresses and checks the archived bytes against the segment record. */
export function verifySegment(
  job: Pick<SegmentJob, "key" | "name" | "sha256" | "size" | "compressed" | "assembled">,
): Buffer {
  const what = `archived segment '${job.key}'`;
  let bytes: Buffer;
  try {
    bytes = job.assembled
      ? Buffer.from(job.compressed.buffer, job.compressed.byteOffset, job.compressed.length)
      : decompress(job.compressed);
  } catch (err) {
    throw new ChecksumMismatchError(what, `does not decompress (${(err as Error).message.split("\n")[0]})`);
  }
  return checkSegmentBytes(bytes, { size: job.size, sha256: job.sha256 }, job.name, what);
}

/** Writes `bytes` at `target` whole or not at all: a temporary name, one write, fsync, link, directory fsync. */
export async function stageBytes(bytes: Uint8Array, target: string): Promise<void> {
  const temp = join(
    dirname(target),
    `.cassandra-pitr-restore.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  const handle = await open(temp, "wx", 0o644);
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, target).catch((err: unknown) => {
      throw (err as NodeJS.ErrnoException).code === "EEXIST"
        ? new TargetExistsError(target, "it appeared during the restore")
        : err;
    });
    await fsyncDir(dirname(target));
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

export async function runSegmentJob(job: SegmentJob): Promise<SegmentDone> {
  let stage: "verify" | "filter" | "write" = "verify";
  try {
    const bytes = verifySegment(job);
    stage = "filter";
    const result = filterFor(job.specText, job.specPath)(job.name, bytes);
    stage = "write";
    if (job.target !== null) await stageBytes(result.bytes, job.target);
    const { mutations, withheld, withheldBeyondCassandra, withheldTruncated, passedThrough } = result;
    return {
      id: job.id,
      counts: { mutations, withheld, withheldBeyondCassandra, withheldTruncated, passedThrough },
    };
  } catch (err) {
    const e = err as Error;
    return {
      id: job.id,
      error: {
        name: e?.name ?? "Error",
        message: e?.message ?? String(err),
        stage,
        ...(isPitrError(err) ? { code: err.code, ...(err.hint ? { hint: err.hint } : {}) } : {}),
      },
    };
  }
}
