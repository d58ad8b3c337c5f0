import { UsageError } from "../errors/base.js";

/**
 * Object key rules, checked before any I/O by every backend (FlyDrive's key normaliser, restic's
 * `Handle.Valid`). A key is a "/"-separated relative path below the location's prefix:
 * - not empty, no leading "/", no trailing "/", no empty segment ("a//b");
 * - no "." or ".." segment (no path traversal on the file backend);
 * - only the characters A-Z a-z 0-9 . _ = : + @ - and "/".
 * Segments starting with "." are allowed by these rules, but the file backend reserves them for
 * its temp and metadata files, so it rejects them itself.
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
    if (segment === ".." || (segment === "." && !last)) reject(prefix, `prefix contains a '${segment}' segment`);
  });
  return prefix;
}

/** Joins a location prefix ("" or "a/b") and a key into the service-side name. */
export function joinKey(prefix: string, key: string): string {
  return prefix === "" ? key : `${prefix}/${key}`;
}
