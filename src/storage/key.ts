import { UsageError } from "../errors/base.js";

/**
 * Object key rules, checked before any I/O by every backend (FlyDrive's key normaliser, restic's
 * `Handle.Valid`). A key is a "/"-separated relative path below the location's prefix:
 * - not empty, no leading "/", no trailing "/", no empty segment ("a//b");
 * - no segment starting with "." (this rules out "." and ".." path traversal, and keeps the names
 *   the file backend uses for temp and metadata files out of the key space, so that every backend
 *   accepts and lists exactly the same keys);
 * - only the characters A-Z a-z 0-9 . _ = : + @ - and "/".
 */
const KEY_CHARS = /^[A-Za-z0-9._=:+@\-/]+$/;
export const MAX_KEY_LENGTH = 1024;

function describe(key: string): string {
  // Never echo control characters or a huge string into a message.
  const printable = key.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > 120 ? `${printable.slice(0, 117)}...` : printable;
}

function reject(key: string, why: string): never {
  throw new UsageError(`invalid object key '${describe(key)}': ${why}`, {
    hint: "keys are relative paths of [A-Za-z0-9._=:+@-] segments separated by '/'",
  });
}

/** Returns `key` unchanged when valid; throws UsageError (E_USAGE) otherwise. */
export function validateKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) reject(String(key), "empty key");
  if (key.length > MAX_KEY_LENGTH) reject(key, `longer than ${MAX_KEY_LENGTH} characters`);
  if (!KEY_CHARS.test(key)) reject(key, "contains a character outside [A-Za-z0-9._=:+@-/]");
  if (key.startsWith("/")) reject(key, "starts with '/'");
  if (key.endsWith("/")) reject(key, "ends with '/'");
  for (const segment of key.split("/")) {
    if (segment === "") reject(key, "contains an empty segment ('//')");
    if (segment === "." || segment === "..") reject(key, `contains a '${segment}' segment`);
    if (segment.startsWith(".")) reject(key, `segment '${describe(segment)}' starts with '.'`);
  }
  return key;
}

/**
 * A list prefix: "" (everything) or a string that would be a valid key prefix. Trailing "/" is
 * allowed ("a/" lists below "a"), and a partial segment is allowed ("seg" matches "segments/...").
 */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  if (!KEY_CHARS.test(prefix)) reject(prefix, "prefix contains a character outside [A-Za-z0-9._=:+@-/]");
  if (prefix.startsWith("/")) reject(prefix, "prefix starts with '/'");
  const segments = prefix.split("/");
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === "" && !last) reject(prefix, "prefix contains an empty segment ('//')");
    if (segment === ".." || (segment === "." && !last))
      reject(prefix, `prefix contains a '${segment}' segment`);
    if (segment.startsWith(".") && !(last && segment === "."))
      reject(prefix, `prefix segment '${describe(segment)}' starts with '.'`);
  });
  return prefix;
}

/** Joins a location prefix ("" or "a/b") and a key into the service-side name. */
export function joinKey(prefix: string, key: string): string {
  return prefix === "" ? key : `${prefix}/${key}`;
}
