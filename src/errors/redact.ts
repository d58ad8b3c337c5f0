/**
 * The one redaction used for every message, log line and file the tool writes (issue 13). Secrets
 * reach us in three shapes, and each is removed here and nowhere else:
 *
 * - credentials in a URL's userinfo: `s3://AKIA:se/cret@bucket`, `http://key:se/cret@host:9000`.
 *   AWS secret keys often contain `/`, so the userinfo runs to the last `@`, not to the first `/`;
 * - query strings: an Azure SAS token (`az://acct/cont?sv=..&sig=..`), presigned-URL signatures;
 * - the values of the secret environment variables themselves, wherever an SDK repeats them.
 *
 * Over-redacting a URL that merely has `:` and `@` in its path is accepted: a message that hides a
 * little too much is a nuisance, one that prints a secret is a leak.
 */

/** Environment variables whose values are secrets (never printed, logged or stored). */
export const SECRET_ENV = [
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AZURE_STORAGE_KEY",
  "AZURE_STORAGE_ACCESS_KEY",
  "AZURE_STORAGE_SAS_TOKEN",
  "AZURE_STORAGE_CONNECTION_STRING",
] as const;

/** Shorter values are not replaced: "y" or "true" would blank out ordinary words. */
const MIN_SECRET_LENGTH = 8;
const URL_TOKEN = /\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s'"<>`]*/g;
/** `key=value` pairs that carry secrets inside connection strings and signed URLs. */
const SECRET_PAIRS =
  /\b(AccountKey|SharedAccessSignature|sig|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=[^;&\s'"]*/gi;

/** The userinfo part of a URL's remainder (after `scheme://`), or undefined when there is none. */
function userinfoEnd(rest: string): number | undefined {
  const at = rest.lastIndexOf("@");
  if (at < 0) return undefined;
  const before = rest.slice(0, at);
  const cut = before.search(/[/?#]/);
  // `bucket/dir@x` is a path with an `@`; `key:se/cret@bucket` is userinfo whose secret holds a `/`.
  if (cut >= 0 && !before.slice(0, cut).includes(":")) return undefined;
  return at;
}

/** True when a URL carries credentials in its userinfo (even with `/`, `?` or `#` inside them). */
export function hasUserinfo(url: string): boolean {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(.*)$/s.exec(url.trim());
  return m !== null && userinfoEnd(m[1]!) !== undefined;
}

/** A URL with userinfo replaced by `***` and any query string by `?***` (fragments dropped). */
export function redactUrl(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(.*)$/s.exec(url);
  if (!m) return url;
  let rest = m[2]!;
  const at = userinfoEnd(rest);
  if (at !== undefined) rest = `***@${rest.slice(at + 1)}`;
  const q = rest.search(/[?#]/);
  if (q >= 0) rest = `${rest.slice(0, q)}${rest[q] === "?" ? "?***" : ""}`;
  return m[1]! + rest;
}

/**
 * The URL without anything that could be a credential (userinfo, query, fragment), still usable as
 * a location: what a restore stub or an evidence record may carry.
 */
export function stripCredentials(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(.*)$/s.exec(url.trim());
  if (!m) return url.trim();
  let rest = m[2]!;
  const at = userinfoEnd(rest);
  if (at !== undefined) rest = rest.slice(at + 1);
  const q = rest.search(/[?#]/);
  return m[1]! + (q >= 0 ? rest.slice(0, q) : rest);
}

/** Removes every secret from free text: URLs, secret key=value pairs, secret environment values. */
export function redactText(
  text: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  let out = text
    .replace(URL_TOKEN, (url) => redactUrl(url))
    .replace(SECRET_PAIRS, (_m, name: string) => `${name}=***`);
  for (const name of SECRET_ENV) {
    const value = env[name]?.trim();
    if (value && value.length >= MIN_SECRET_LENGTH) out = out.split(value).join("***");
  }
  return out;
}
