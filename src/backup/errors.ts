/** Errors of snapshot and incremental uploads; codes are stable (src/errors/codes.ts). */
import { ConfigError, PitrError, type PitrErrorOptions } from "../errors/base.js";

/** No `snapshots/<tag>/` directory for the tag (after nodetool snapshot, when it was run). */
export class SnapshotNotFoundError extends PitrError {
  override name = "SnapshotNotFoundError";
  constructor(
    readonly tag: string,
    dataDir: string,
    options?: PitrErrorOptions,
  ) {
    super("E_NOT_FOUND", `snapshot '${tag}' not found under '${dataDir}'`, {
      hint: "check the tag with 'nodetool listsnapshots' and that data_file_directories matches dataDir",
      ...options,
    });
  }
}

/** A local snapshot directory lacking a file Cassandra writes (manifest.json, schema.cql, a listed Data.db). */
export class SnapshotIncompleteError extends PitrError {
  override name = "SnapshotIncompleteError";
  constructor(
    readonly dir: string,
    detail: string,
    options?: PitrErrorOptions,
  ) {
    super("E_NOT_FOUND", `snapshot directory '${dir}' is incomplete: ${detail}`, {
      hint: "take a new snapshot (the tag may still be being written, or files were removed)",
      ...options,
    });
  }
}

/** nodetool exited non-zero or could not be started. */
export class NodetoolError extends PitrError {
  override name = "NodetoolError";
  constructor(
    readonly args: readonly string[],
    detail: string,
    options?: PitrErrorOptions,
  ) {
    super("E_NODE_STATE", `'nodetool ${args.join(" ")}' failed: ${detail}`, {
      hint: "check that Cassandra runs and that --nodetool names a working nodetool command",
      ...options,
    });
  }
}

export function dataDirMissingError(dataDir: string | undefined, options?: PitrErrorOptions): ConfigError {
  return dataDir === undefined
    ? new ConfigError("the Cassandra data directory is not configured (dataDir)", {
        hint: "set --data-dir, CASSANDRA_PITR_DATA_DIR or dataDir in the config file",
        ...options,
      })
    : new ConfigError(`the Cassandra data directory '${dataDir}' does not exist`, {
        hint: "set dataDir to Cassandra's data_file_directories entry",
        ...options,
      });
}

/** Different bytes already stored under a content-addressed key, or a manifest with other content. */
export class BackupConflictError extends PitrError {
  override name = "BackupConflictError";
  constructor(
    readonly key: string,
    detail: string,
    options?: PitrErrorOptions,
  ) {
    super("E_ARCHIVE_CONFLICT", `object '${key}' conflicts with what is archived: ${detail}`, options);
  }
}
