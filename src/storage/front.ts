/**
 * The storage front: the few things every layer above does with a `Backend`, written once. Callers
 * use these instead of catching SDK-shaped errors or looping over streams themselves.
 *
 * Store-if-absent has one conflict rule per object kind (docs/archive-layout.md, "Writing an
 * object once"): the key is claimed with `ifAbsent`, and when it is already taken the stored object
 * is compared by the kind's rule; the same object is success, anything else a conflict.
 */
import type { Readable } from "node:stream";
import { isPitrError } from "../errors/base.js";
import { ObjectNotFoundError, PreconditionFailedError } from "./errors.js";
import type { Backend, ObjectInfo } from "./types.js";

/** A missing object (also through a module copy where `instanceof` fails). */
export function isNotFound(err: unknown): boolean {
  return err instanceof ObjectNotFoundError || (isPitrError(err) && err.code === "E_NOT_FOUND");
}

/** `put` with `ifAbsent` found the key taken. */
export function isPreconditionFailed(err: unknown): boolean {
  return err instanceof PreconditionFailedError || (isPitrError(err) && err.code === "E_PRECONDITION_FAILED");
}

/** The object's size and metadata, or undefined when there is none under `key`. */
export async function headIfExists(
  backend: Backend,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectInfo | undefined> {
  try {
    return await backend.head(key, { signal });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function exists(backend: Backend, key: string, signal?: AbortSignal): Promise<boolean> {
  return (await headIfExists(backend, key, signal)) !== undefined;
}

/** All of a stream's bytes in one buffer. For small objects only (documents, records). */
export async function readToBuffer(stream: Readable | AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** The whole object; a missing key throws ObjectNotFoundError. */
export async function readBytes(backend: Backend, key: string, signal?: AbortSignal): Promise<Buffer> {
  return readToBuffer(await backend.get(key, { signal }));
}

export async function readText(backend: Backend, key: string, signal?: AbortSignal): Promise<string> {
  return (await readBytes(backend, key, signal)).toString("utf8");
}

/** The object parsed as JSON; text that does not parse throws `invalid(detail)` (the kind's error). */
export async function readJson(
  backend: Backend,
  key: string,
  invalid: (detail: string) => Error,
  signal?: AbortSignal,
): Promise<unknown> {
  const text = await readText(backend, key, signal);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalid(`not JSON (${(err as Error).message})`);
  }
}

/** A JSON document as every writer of the archive stores it: two-space indent, one final newline. */
export function jsonDocument(value: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(value, null, 2) + "\n"));
}

/** The `detail` `putDocumentIfAbsent` gives `conflict` when the key holds another object. */
export const ANOTHER_OBJECT = "another object is stored under this key";

export interface DocumentPut {
  readonly metadata?: Record<string, string> | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * The kind's conflict rule for a key already taken: true when the stored bytes are the same
   * object. Omitted: the key is unique per writer, so a taken key is always a conflict.
   */
  readonly same?: ((stored: Buffer) => boolean) | undefined;
  /** The kind's conflict error, naming the key and `detail`. */
  readonly conflict: (detail: string) => Error;
}

/**
 * Stores a small document (manifest, record, evidence) under `key` if absent, then reads it back
 * and checks the storage holds exactly those bytes. "stored": written and verified; "existed": the
 * key already held the same object by `same`. Anything else throws `conflict`.
 */
export async function putDocumentIfAbsent(
  backend: Backend,
  key: string,
  bytes: Uint8Array,
  options: DocumentPut,
): Promise<"stored" | "existed"> {
  const { signal } = options;
  try {
    await backend.put(key, bytes, { ifAbsent: true, metadata: options.metadata, signal });
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err;
    const stored = await readBytes(backend, key, signal);
    if (options.same?.(stored)) return "existed";
    throw options.conflict(ANOTHER_OBJECT);
  }
  const readBack = await readBytes(backend, key, signal);
  if (!readBack.equals(bytes))
    throw options.conflict(`reads back as ${readBack.length} other bytes right after it was stored`);
  return "stored";
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results in input order. On the first
 * failure no new call starts, and that failure is thrown once every running call has settled, so a
 * caller's cleanup never races a write still in flight.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
