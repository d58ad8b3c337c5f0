/**
 * Content-addressed upload of sstable components: `<node prefix>sstables/<sha[0..2]>/<sha>`. The
 * conflict rule of this kind (docs/archive-layout.md): a stored object with the same size and the
 * same sha256 in its metadata is the same content and is not uploaded again; every stored object is
 * verified the same way with head after the put.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { NodeIdentity } from "../format/layout.js";
import { isRetryable } from "../storage/errors.js";
import { headIfExists, isPreconditionFailed } from "../storage/front.js";
import type { Backend } from "../storage/types.js";
import { BackupConflictError } from "./errors.js";
import { componentKey } from "../format/backup-layout.js";
import type { ArchivedComponent } from "./types.js";

const IN_MEMORY_LIMIT = 8 * 1024 * 1024;
const STREAM_ATTEMPTS = 3;

export async function sha256File(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number }> {
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

/**
 * Why the object stored under a component's key is not that component, or undefined when it is:
 * the size and the sha256 recorded with it must both match (the key alone names only the sha256).
 */
export function componentMismatch(
  stored: { size: number; metadata: Readonly<Record<string, string>> },
  expected: { size: number; sha256: string },
): string | undefined {
  if (stored.size !== expected.size) return `stored size ${stored.size}, expected ${expected.size}`;
  const sha256 = stored.metadata["sha256"];
  if (sha256 !== expected.sha256)
    return sha256 === undefined
      ? "stored without its sha256"
      : `stored sha256 ${sha256}, expected ${expected.sha256}`;
  return undefined;
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
  const before = await headIfExists(backend, key, signal);
  if (before !== undefined) {
    const mismatch = componentMismatch(before, { size, sha256 });
    if (mismatch) throw new BackupConflictError(key, `${mismatch} (local '${path}')`);
    return { component: described, uploaded: false };
  }
  let uploaded = true;
  const options = {
    ifAbsent: true,
    contentLength: size,
    metadata: { sha256, size: String(size), name: file },
    signal,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      // Small bodies as bytes (the retry layer replays them); large ones streamed, retried here with a fresh stream.
      const body =
        size <= IN_MEMORY_LIMIT
          ? new Uint8Array(await readFile(path))
          : createReadStream(path, signal ? { signal } : {});
      await backend.put(key, body, options);
      break;
    } catch (e) {
      if (isPreconditionFailed(e)) {
        uploaded = false; // stored meanwhile by someone else; verified below
        break;
      }
      if (size > IN_MEMORY_LIMIT && isRetryable(e) && attempt < STREAM_ATTEMPTS && !signal?.aborted) continue;
      throw e;
    }
  }
  const after = await headIfExists(backend, key, signal);
  const mismatch =
    after === undefined ? "missing right after upload" : componentMismatch(after, { size, sha256 });
  if (mismatch) throw new BackupConflictError(key, mismatch);
  // The file must not have changed while it was read twice (sstables are immutable; a changed file is not one).
  const now = await stat(path);
  if (now.size !== size) throw new BackupConflictError(key, `'${path}' changed size during upload`);
  return { component: described, uploaded };
}

/** The one limiter (storage/front.ts), re-exported for the callers that import it from here. */
export { mapLimit } from "../storage/front.js";
