import { exitStatusFor, type ErrorCode, type ExitStatus } from "./codes.js";
import { redactText } from "./redact.js";

const BRAND = Symbol.for("cassandra-pitr.error");

export interface PitrErrorOptions {
  /** One short line telling the user what to do next. */
  hint?: string | undefined;
  cause?: unknown;
}

/**
 * Base of every error the tool raises on purpose. `code` is stable; the exit status comes from the
 * table in codes.ts, never from the throw site. Messages are lowercase, name the object in quotes,
 * and never contain secrets.
 */
export class PitrError extends Error {
  override name = "PitrError";
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: PitrErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  get exitStatus(): ExitStatus {
    return exitStatusFor(this.code);
  }
}

/** Survives duplicate module copies, where `instanceof` would not. */
export function isPitrError(value: unknown): value is PitrError {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

export class UsageError extends PitrError {
  override name = "UsageError";
  constructor(message: string, options?: PitrErrorOptions) {
    super("E_USAGE", message, options);
  }
}

export class ConfigError extends PitrError {
  override name = "ConfigError";
  constructor(message: string, options?: PitrErrorOptions) {
    super("E_CONFIG", message, options);
  }
}

/**
 * Formats an error as the one or two lines a user sees on stderr, with secrets redacted (an SDK's
 * message may quote a URL or a key it was given).
 */
export function renderError(err: unknown, prefix: string): string {
  if (isPitrError(err)) {
    return redactText(`${prefix}: ${err.message}` + (err.hint ? `\n${prefix}: hint: ${err.hint}` : ""));
  }
  const message = err instanceof Error ? err.message : String(err);
  return redactText(`${prefix}: internal error: ${message.split("\n")[0]}`);
}
