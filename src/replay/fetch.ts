/**
 * Reproduces an archived segment's original bytes at a path, atomically: decompress while hashing
 * into a temporary name outside Cassandra's commit log name pattern, fsync, check sha256, size and
 * header, link into place (never replacing: link fails if the target exists), fsync the directory.
 * A mismatch leaves nothing at the target.
 */
import { createHash, randomBytes } from "node:crypto";
import { link, open, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DecompressStream } from "zstd-napi";
import { fsyncDir } from "../storage/durable.js";
import { PitrError } from "../errors/base.js";
import { isPartialSegmentKey } from "../format/partial-layout.js";
import { assemblePartialSegment } from "./partial-segment.js";
import type { Backend } from "../storage/types.js";
import {
  ChecksumMismatchError,
  SEGMENT_HEAD_BYTES,
  TargetExistsError,
  checkMeasuredSegment,
  checkSegmentBytes,
  tempOpenError,
  type ExpectedSegment,
} from "./target.js";

// Light helpers live in target.ts so the restore hook's path for staged segments loads no zstd.
export {
  ChecksumMismatchError,
  TargetDirectoryError,
  TargetExistsError,
  requireNewTarget,
  type ExpectedSegment,
} from "./target.js";

/** A body that does not decompress (truncated, or not zstd at all) is a damaged archived copy. */
function decompressError(err: unknown, what: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted || err instanceof PitrError) return err;
  const name = (err as Error)?.name;
  if (name === "AbortError") return err;
  const message = (err as Error)?.message ?? String(err);
  // zstd-napi reports damaged frames as plain Errors; the stream's own end check says "truncated".
  return new ChecksumMismatchError(what, `does not decompress (${message.split("\n")[0]})`);
}

export interface WriteResult {
  readonly sha256: string;
  readonly size: number;
}

/**
 * Writes `source` (optionally zstd-compressed) to `target` atomically, checking the result against
 * `expected` and that its header agrees with the target's segment name when it has one.
 */
export async function writeSegmentAtomically(
  source: Readable,
  target: string,
  options: { compressed: boolean; expected: ExpectedSegment; what: string; signal?: AbortSignal | undefined },
): Promise<WriteResult> {
  const temp = join(
    dirname(target),
    `.cassandra-pitr-restore.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  const hash = createHash("sha256");
  let size = 0;
  let head = Buffer.alloc(0);
  let handle;
  try {
    handle = await open(temp, "wx", 0o644);
  } catch (err) {
    throw tempOpenError(err, target);
  }
  let done = false;
  try {
    const meter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        hash.update(chunk);
        size += chunk.length;
        if (head.length < SEGMENT_HEAD_BYTES)
          head = Buffer.concat([head, chunk.subarray(0, SEGMENT_HEAD_BYTES - head.length)]);
        callback(null, chunk);
      },
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, callback) {
        handle.write(chunk).then(() => callback(), callback);
      },
    });
    const stages: NodeJS.ReadWriteStream[] = options.compressed ? [new DecompressStream(), meter] : [meter];
    try {
      await pipeline([source, ...stages, sink], options.signal ? { signal: options.signal } : {});
    } catch (err) {
      throw options.compressed ? decompressError(err, options.what, options.signal) : err;
    }
    await handle.sync();
    await handle.close();
    done = true;
    const sha256 = hash.digest("hex");
    checkMeasuredSegment({ size, sha256, head }, options.expected, basename(target), options.what);
    // link, not rename: rename would replace a %to that appeared meanwhile.
    await link(temp, target).catch((err: unknown) => {
      throw (err as NodeJS.ErrnoException).code === "EEXIST"
        ? new TargetExistsError(target, "it appeared during the restore")
        : err;
    });
    await fsyncDir(dirname(target));
    return { sha256, size };
  } catch (err) {
    if (!done) await handle.close().catch(() => undefined);
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Fetches an archived segment object into `target`. */
export async function fetchSegment(
  backend: Backend,
  key: string,
  target: string,
  expected: ExpectedSegment,
  signal?: AbortSignal,
): Promise<WriteResult> {
  if (isPartialSegmentKey(key)) {
    const bytes = await readVerifiedSegment(backend, key, basename(target), expected, signal);
    return writeBytesAtomically(bytes, target, `partial segment '${key}'`, signal);
  }
  const body = await backend.get(key, { signal });
  return writeSegmentAtomically(body, target, {
    compressed: true,
    expected,
    what: `archived segment '${key}'`,
    signal,
  });
}

/**
 * Reads an archived segment into memory and checks it (size, sha256, header against `name`) before
 * anyone may look at its bytes: the restore filters what it has verified, never what it merely read.
 */
export async function readVerifiedSegment(
  backend: Backend,
  key: string,
  name: string,
  expected: ExpectedSegment,
  signal?: AbortSignal,
): Promise<Buffer> {
  if (isPartialSegmentKey(key))
    return checkSegmentBytes(
      await assemblePartialSegment(backend, key, name, signal),
      expected,
      name,
      `partial segment '${key}'`,
    );
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  await pipeline(
    [await backend.get(key, { signal }), new DecompressStream(), sink],
    signal ? { signal } : {},
  );
  return checkSegmentBytes(Buffer.concat(chunks), expected, name, `archived segment '${key}'`);
}

/** Writes bytes already checked (a verified, possibly rewritten segment) to `target` atomically. */
export async function writeBytesAtomically(
  bytes: Uint8Array,
  target: string,
  what: string,
  signal?: AbortSignal,
): Promise<WriteResult> {
  return writeSegmentAtomically(
    Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)]),
    target,
    {
      compressed: false,
      expected: { size: bytes.length },
      what,
      signal,
    },
  );
}
