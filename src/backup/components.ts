/**
 * Content-addressed upload of sstable components: `<node prefix>sstables/<sha[0..2]>/<sha>`. A key
 * that already exists with the same size is the same content (sha256 in the key) and is not uploaded
 * again; every stored object is verified by size with head after the put.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { NodeIdentity } from "../format/layout.js";
import { isPitrError } from "../errors/base.js";
import { isRetryable, ObjectNotFoundError, PreconditionFailedError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";
import { BackupConflictError } from "./errors.js";
import { componentKey } from "../format/backup-layout.js";
import type { ArchivedComponent } from "./types.js";

const IN_MEMORY_LIMIT = 8 * 1024 * 1024;
const STREAM_ATTEMPTS = 3;

export async function sha256File(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const stream = createReadStream(path, signal ? { signal } : {});
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

export interface ComponentUploadResult {
  readonly component: ArchivedComponent;
  readonly uploaded: boolean;
}

async function existingSize(backend: Backend, key: string, signal: AbortSignal | undefined): Promise<number | undefined> {
  try {
    return (await backend.head(key, { signal })).size;
  } catch (e) {
    if (e instanceof ObjectNotFoundError || (isPitrError(e) && e.code === "E_NOT_FOUND")) return undefined;
    throw e;
  }
}

/** Hashes `path` and stores it content-addressed unless the same content is archived already. */
export async function uploadComponent(
  backend: Backend,
  identity: NodeIdentity,
  path: string,
  file: string,
  component: string,
  signal?: AbortSignal,
): Promise<ComponentUploadResult> {
  const { sha256, size } = await sha256File(path, signal);
  const key = componentKey(identity, sha256);
  const described: ArchivedComponent = { component, file, size, sha256, key };
  const before = await existingSize(backend, key, signal);
  if (before !== undefined) {
    if (before !== size) throw new BackupConflictError(key, `stored size ${before}, local '${path}' has ${size} bytes with the same sha256`);
    return { component: described, uploaded: false };
  }
  let uploaded = true;
  const options = { ifAbsent: true, contentLength: size, metadata: { sha256, size: String(size), name: file }, signal };
  for (let attempt = 1; ; attempt++) {
    try {
      // Small bodies as bytes (the retry layer replays them); large ones streamed, retried here with a fresh stream.
      const body = size <= IN_MEMORY_LIMIT ? new Uint8Array(await readFile(path)) : createReadStream(path, signal ? { signal } : {});
      await backend.put(key, body, options);
      break;
    } catch (e) {
      if (e instanceof PreconditionFailedError || (isPitrError(e) && e.code === "E_PRECONDITION_FAILED")) {
        uploaded = false; // stored meanwhile by someone else; verified below
        break;
      }
      if (size > IN_MEMORY_LIMIT && isRetryable(e) && attempt < STREAM_ATTEMPTS && !signal?.aborted) continue;
      throw e;
    }
  }
  const after = await existingSize(backend, key, signal);
  if (after !== size) {
    throw new BackupConflictError(key, after === undefined ? "missing right after upload" : `stored size ${after}, expected ${size}`);
  }
  // The file must not have changed while it was read twice (sstables are immutable; a changed file is not one).
  const now = await stat(path);
  if (now.size !== size) throw new BackupConflictError(key, `'${path}' changed size during upload`);
  return { component: described, uploaded };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. Stops at the first error. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
