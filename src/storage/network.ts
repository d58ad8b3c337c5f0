/**
 * The one network-error classifier of the SDK backends (s3, gs, az): does this error, or one it
 * wraps, say the connection failed? Such a failure may pass on retry, so each backend maps it to a
 * TransientStorageError. The SDKs wrap the socket's error differently (S3: `cause` chains and
 * AggregateError `errors`; GCS: `errno`, or only the message; Azure: `REQUEST_SEND_ERROR`), so the
 * union of what each of them showed is looked for in every backend.
 */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET", // undici (fetch) closing the socket
  "REQUEST_SEND_ERROR", // @azure/core-rest-pipeline's wrapper of a socket error
]);

/** How deep a `cause` chain is followed (the SDKs wrap two or three times). */
const MAX_DEPTH = 5;

/** The network error code `err` carries, or undefined when it is not a network error. */
export function networkCode(err: unknown): string | undefined {
  return codeIn(err, 0) ?? codeInMessage(err);
}

function codeIn(err: unknown, depth: number): string | undefined {
  for (let e: unknown = err, d = depth; e && d < MAX_DEPTH; e = (e as { cause?: unknown }).cause, d++) {
    for (const field of [(e as { code?: unknown }).code, (e as { errno?: unknown }).errno]) {
      if (typeof field === "string" && NETWORK_CODES.has(field)) return field;
    }
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner)) {
      for (const one of inner) {
        const code = codeIn(one, d + 1);
        if (code) return code;
      }
    }
  }
  return undefined;
}

/** The GCS library sometimes keeps only the message of the socket's error ("... ECONNREFUSED ..."). */
function codeInMessage(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : "";
  for (const code of NETWORK_CODES) if (message.includes(code)) return code;
  return undefined;
}
