/**
 * Unfinished uploads of this node: what a writer killed in the middle of an S3 multipart upload
 * (SIGKILL of a hook, the agent, a snapshot) leaves behind. Its parts are stored and billed, but no
 * object ever appears, so nothing else that reads the archive notices them. The agent aborts them,
 * under its own node's prefix only, once no writer can still be using them:
 *
 * - the upload began at least `minAgeMs` ago: longer than any hook may run (max(1 h, 4 ×
 *   hookTimeout)), so a hook uploading right now is never touched; and
 * - no part arrived within `minAgeMs` either: a snapshot sending a sstable of many GiB can outlive
 *   that age, but its parts keep arriving.
 *
 * Ages compare the agent's clock with the service's upload times; SigV4 refuses requests from a
 * clock more than 15 minutes off, well inside the hour.
 *
 * One check is bounded: at most MAX_LISTED uploads read, MAX_ABORTS aborted (each after one part
 * lookup), within CHECK_BUDGET_MS; what is left waits for the next check (`more`).
 */
import { nodePrefix, type NodeIdentity } from "../format/layout.js";
import type { Backend, UnfinishedUpload } from "../storage/types.js";

const HOUR_MS = 3_600_000;
export const MAX_LISTED = 10_000;
export const MAX_ABORTS = 100;
export const CHECK_BUDGET_MS = 60_000;

/** How old an upload must be before the agent may abort it, for hooks bounded by `hookTimeoutMs`. */
export function unfinishedUploadMinAge(hookTimeoutMs: number): number {
  return Math.max(HOUR_MS, 4 * hookTimeoutMs);
}

/** Began `minAgeMs` or more before `nowMs`. Pure: the first of the two tests, on the listing alone. */
export function isOldEnough(upload: UnfinishedUpload, nowMs: number, minAgeMs: number): boolean {
  return nowMs - upload.initiated.getTime() >= minAgeMs;
}

export interface UnfinishedUploadCheck {
  readonly aborted: UnfinishedUpload[];
  /** Listed under the node's prefix and left alone: too young, or a part arrived lately. */
  readonly kept: number;
  /** A bound was reached, or a call failed: the rest waits for the next check. */
  readonly more: boolean;
  /** The call that failed (the aborts before it stand). */
  readonly error?: unknown;
}

export interface UnfinishedUploadOptions {
  readonly nowMs: number;
  readonly minAgeMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Tests lower them. */
  readonly maxListed?: number | undefined;
  readonly maxAborts?: number | undefined;
  readonly budgetMs?: number | undefined;
}

/**
 * Aborts the node's dead unfinished uploads. Undefined when the backend has no such thing (file://,
 * gs://, az://). The caller's own abort (the agent stopping) is thrown; running out of the check's
 * budget ends the check with `more`, a failed call with `more` and `error`.
 */
export async function abortUnfinishedUploads(
  backend: Backend,
  identity: NodeIdentity,
  options: UnfinishedUploadOptions,
): Promise<UnfinishedUploadCheck | undefined> {
  const uploads = backend.unfinishedUploads;
  if (uploads === undefined) return undefined;
  const budget = AbortSignal.timeout(options.budgetMs ?? CHECK_BUDGET_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, budget]) : budget;
  const prefix = nodePrefix(identity);
  const aborted: UnfinishedUpload[] = [];
  let kept = 0;
  let listed = 0;
  try {
    for await (const upload of uploads.list(prefix, { signal })) {
      if (!upload.key.startsWith(prefix)) continue; // never another node's, whatever a listing returns
      if (++listed > (options.maxListed ?? MAX_LISTED) || aborted.length >= (options.maxAborts ?? MAX_ABORTS))
        return { aborted, kept, more: true };
      if (!isOldEnough(upload, options.nowMs, options.minAgeMs)) {
        kept++;
        continue;
      }
      const lastPart = await uploads.lastPartAt(upload, { signal });
      if (lastPart !== undefined && options.nowMs - lastPart.getTime() < options.minAgeMs) {
        kept++;
        continue;
      }
      await uploads.abort(upload, { signal });
      aborted.push(upload);
    }
  } catch (err) {
    if (options.signal?.aborted) throw err;
    return { aborted, kept, more: true, ...(budget.aborted ? {} : { error: err }) };
  }
  return { aborted, kept, more: false };
}
