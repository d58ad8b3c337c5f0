/**
 * Reproduces an archived segment's original bytes at a path, atomically: decompress while hashing
 * into a temporary name outside Cassandra's commit log name pattern, fsync, check sha256, size and
 * header, rename into place, fsync the directory. A mismatch leaves nothing at the target.
 */
import { createHash } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DecompressStream } from "zstd-napi";
import { parseSegmentHeader } from "../commitlog/segment-header.js";
import { parseSegmentName } from "../commitlog/segment-name.js";
import { fsyncDir } from "../storage/durable.js";
import { PitrError } from "../errors/base.js";
import type { Backend } from "../storage/types.js";

export class ChecksumMismatchError extends PitrError {
  override name = "ChecksumMismatchError";
  constructor(what: string, detail: string) {
    super("E_CHECKSUM_MISMATCH", `${what}: ${detail}`, {
      hint: "the archived copy is damaged or is not this segment; run 'cassandra-pitr verify'",
    });
  }
}

export interface ExpectedSegment {
  readonly sha256?: string | undefined;
  readonly size?: number | undefined;
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
  const temp = join(dirname(target), `.cassandra-pitr-restore.${basename(target)}.${process.pid}.tmp`);
  const hash = createHash("sha256");
  let size = 0;
  let head = Buffer.alloc(0);
  const handle = await open(temp, "w", 0o644);
  let done = false;
  try {
    const meter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        hash.update(chunk);
        size += chunk.length;
        if (head.length < 65_536 + 18) head = Buffer.concat([head, chunk.subarray(0, 65_536 + 18 - head.length)]);
        callback(null, chunk);
      },
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, callback) {
        handle.write(chunk).then(() => callback(), callback);
      },
    });
    const stages: NodeJS.ReadWriteStream[] = options.compressed ? [new DecompressStream(), meter] : [meter];
    await pipeline([source, ...stages, sink], options.signal ? { signal: options.signal } : {});
    await handle.sync();
    await handle.close();
    done = true;
    const sha256 = hash.digest("hex");
    if (options.expected.size !== undefined && options.expected.size !== size) {
      throw new ChecksumMismatchError(options.what, `${size} bytes, expected ${options.expected.size}`);
    }
    if (options.expected.sha256 !== undefined && options.expected.sha256 !== sha256) {
      throw new ChecksumMismatchError(options.what, `sha256 ${sha256.slice(0, 16)}…, expected ${options.expected.sha256.slice(0, 16)}…`);
    }
    checkHeaderAgainstName(head, basename(target), options.what);
    await rename(temp, target);
    await fsyncDir(dirname(target));
    return { sha256, size };
  } catch (err) {
    if (!done) await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** Cassandra refuses a segment whose header disagrees with its name; so do we, before it does. */
function checkHeaderAgainstName(head: Buffer, targetName: string, what: string): void {
  let fromName;
  try {
    fromName = parseSegmentName(targetName);
  } catch {
    return; // not a commit log name (e.g. a scratch file): nothing to compare
  }
  const header = parseSegmentHeader(head, targetName);
  if (header.id !== fromName.id || header.version !== fromName.version) {
    throw new ChecksumMismatchError(
      what,
      `header says version ${header.version} id ${header.id}, but the target is '${targetName}'`,
    );
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
  const body = await backend.get(key, { signal });
  return writeSegmentAtomically(body, target, { compressed: true, expected, what: `archived segment '${key}'`, signal });
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
  const what = `archived segment '${key}'`;
  const chunks: Buffer[] = [];
  const hash = createHash("sha256");
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      chunks.push(chunk);
      callback();
    },
  });
  await pipeline([await backend.get(key, { signal }), new DecompressStream(), sink], signal ? { signal } : {});
  const bytes = Buffer.concat(chunks);
  const sha256 = hash.digest("hex");
  if (expected.size !== undefined && expected.size !== bytes.length) throw new ChecksumMismatchError(what, `${bytes.length} bytes, expected ${expected.size}`);
  if (expected.sha256 !== undefined && expected.sha256 !== sha256) {
    throw new ChecksumMismatchError(what, `sha256 ${sha256.slice(0, 16)}…, expected ${expected.sha256.slice(0, 16)}…`);
  }
  checkHeaderAgainstName(bytes.subarray(0, 65_536 + 18), name, what);
  return bytes;
}

/** Writes bytes already checked (a verified, possibly rewritten segment) to `target` atomically. */
export async function writeBytesAtomically(bytes: Uint8Array, target: string, what: string, signal?: AbortSignal): Promise<WriteResult> {
  return writeSegmentAtomically(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)]), target, {
    compressed: false,
    expected: { size: bytes.length },
    what,
    signal,
  });
}
