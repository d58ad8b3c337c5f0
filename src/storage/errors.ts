import { PitrError, type PitrErrorOptions } from "../errors/base.js";

/** A missing object: a designed outcome for callers, never retried. */
export class ObjectNotFoundError extends PitrError {
  override name = "ObjectNotFoundError";
  constructor(
    readonly location: string,
    readonly key: string,
    options?: PitrErrorOptions,
  ) {
    super("E_NOT_FOUND", `object '${key}' not found in '${location}'`, options);
  }
}

/** `put` with ifAbsent found the key already there. */
export class PreconditionFailedError extends PitrError {
  override name = "PreconditionFailedError";
  constructor(
    readonly location: string,
    readonly key: string,
    options?: PitrErrorOptions,
  ) {
    super("E_PRECONDITION_FAILED", `object '${key}' already exists in '${location}'`, options);
  }
}

/** Credentials missing or rejected, or the principal lacks permission. Never retried. */
export class AccessDeniedError extends PitrError {
  override name = "AccessDeniedError";
  constructor(
    readonly location: string,
    detail: string,
    options?: PitrErrorOptions,
  ) {
    super("E_ACCESS_DENIED", `access denied to '${location}': ${detail}`, {
      hint: "check the credentials in the environment or config file",
      ...options,
    });
  }
}

/** The bucket, container or directory named by the location does not exist. Never retried. */
export class ArchiveMissingError extends PitrError {
  override name = "ArchiveMissingError";
  constructor(
    readonly location: string,
    detail: string,
    options?: PitrErrorOptions,
  ) {
    super("E_ARCHIVE_MISSING", `archive location '${location}' does not exist: ${detail}`, {
      hint: "create the bucket/container/directory, or fix the archive URL",
      ...options,
    });
  }
}

/** A failure that may pass on retry: network errors, timeouts, throttling, 5xx. */
export class TransientStorageError extends PitrError {
  override name = "TransientStorageError";
  constructor(
    readonly location: string,
    detail: string,
    options?: PitrErrorOptions,
  ) {
    super("E_STORAGE_UNAVAILABLE", `storage '${location}' unavailable: ${detail}`, {
      hint: "check that the storage endpoint is reachable",
      ...options,
    });
  }
}

/** Any other storage failure that retrying will not fix (bad request, invalid key, ...). */
export class StorageError extends PitrError {
  override name = "StorageError";
  constructor(
    readonly location: string,
    detail: string,
    options?: PitrErrorOptions,
  ) {
    super("E_STORAGE", `storage '${location}': ${detail}`, options);
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof TransientStorageError;
}
