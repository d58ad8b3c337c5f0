/**
 * The one table from error code to process exit status. Only `src/bin/*` and `src/cli/main.ts` read it.
 * docs/exit-codes.md and the README repeat this table; test/errors/codes.test.ts keeps them equal.
 * New codes may appear; callers must treat any unknown non-zero status as failure.
 */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  PROBLEMS_FOUND: 3,
  ARCHIVE_MISSING: 10,
  ACCESS_DENIED: 12,
  ARCHIVE_CONFLICT: 13,
  NOT_FOUND: 14,
  SEGMENT_INVALID: 15,
  STORAGE_UNAVAILABLE: 16,
  PLAN_REFUSED: 17,
  NODE_STATE: 18,
  SPOOL_FAILED: 19,
  DISK_SPACE: 20,
  RESTORE_ROLLED_BACK: 21,
  RESTORE_INCOMPLETE: 22,
  SCHEMA_INVALID: 23,
  CLUSTER_BUSY: 26,
  NODE_UNRESPONSIVE: 27,
  NODE_FAILED: 28,
  ENCRYPTION_KEY: 31,
  DECRYPT_FAILED: 32,
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/**
 * What each status means, in the words of the help's exit table (generated from this, see
 * `exitStatusHelp`). Statuses without an error code are returned by the command itself (3: the
 * command ran and found problems) or come from a signal (130, 143).
 */
export const EXIT_MEANING: Readonly<Record<ExitStatus, string>> = {
  [EXIT.OK]: "success",
  [EXIT.INTERNAL]: "internal error",
  [EXIT.USAGE]: "usage or configuration error",
  [EXIT.PROBLEMS_FOUND]: "problems found",
  [EXIT.ARCHIVE_MISSING]: "archive location missing",
  [EXIT.ACCESS_DENIED]: "access denied",
  [EXIT.ARCHIVE_CONFLICT]: "archive conflict or target exists",
  [EXIT.NOT_FOUND]: "not found",
  [EXIT.SEGMENT_INVALID]: "segment invalid or checksum mismatch",
  [EXIT.STORAGE_UNAVAILABLE]: "storage unavailable",
  [EXIT.PLAN_REFUSED]: "restore plan refused",
  [EXIT.NODE_STATE]: "node in the wrong state",
  [EXIT.SPOOL_FAILED]: "spool failed",
  [EXIT.DISK_SPACE]: "not enough disk space",
  [EXIT.RESTORE_ROLLED_BACK]: "restore rolled back",
  [EXIT.RESTORE_INCOMPLETE]: "restore incomplete (resume or abort)",
  [EXIT.SCHEMA_INVALID]: "snapshot schema invalid",
  [EXIT.CLUSTER_BUSY]: "cluster operation in progress",
  [EXIT.NODE_UNRESPONSIVE]: "a node did not answer",
  [EXIT.NODE_FAILED]: "a node failed its part",
  [EXIT.ENCRYPTION_KEY]: "encryption key missing or unknown",
  [EXIT.DECRYPT_FAILED]: "encrypted object does not authenticate",
  [EXIT.INTERRUPTED]: "interrupted (SIGINT)",
  [EXIT.TERMINATED]: "terminated (SIGTERM)",
};

/** The exit table the CLI's help prints, one "status meaning" per entry, every status of `EXIT`. */
export function exitStatusHelp(): string {
  const statuses = [...new Set(Object.values(EXIT))].sort((a, b) => a - b);
  const entries = statuses.map((status) => `${status} ${EXIT_MEANING[status]}`);
  return `Exit status: ${entries.join("; ")}. Any other non-zero status means failure.`;
}

/** Every stable error code and the exit status it maps to. Codes never change once released. */
export const ERROR_CODES = {
  E_INTERNAL: EXIT.INTERNAL,
  E_USAGE: EXIT.USAGE,
  E_CONFIG: EXIT.USAGE,
  E_BAD_TIME: EXIT.USAGE,
  E_ARCHIVE_MISSING: EXIT.ARCHIVE_MISSING,
  E_ACCESS_DENIED: EXIT.ACCESS_DENIED,
  E_ARCHIVE_CONFLICT: EXIT.ARCHIVE_CONFLICT,
  E_TARGET_EXISTS: EXIT.ARCHIVE_CONFLICT,
  E_NOT_FOUND: EXIT.NOT_FOUND,
  E_SEGMENT_MISSING: EXIT.NOT_FOUND,
  E_SEGMENT_HEADER: EXIT.SEGMENT_INVALID,
  E_SEGMENT_VERSION: EXIT.SEGMENT_INVALID,
  E_SEGMENT_CHECKSUM: EXIT.SEGMENT_INVALID,
  E_SEGMENT_TRUNCATED: EXIT.SEGMENT_INVALID,
  E_SEGMENT_NAME: EXIT.SEGMENT_INVALID,
  E_NOT_A_FILE: EXIT.SEGMENT_INVALID,
  E_CHECKSUM_MISMATCH: EXIT.SEGMENT_INVALID,
  E_MUTATION_UNREADABLE: EXIT.SEGMENT_INVALID,
  E_SEGMENT_ENCRYPTED: EXIT.SEGMENT_INVALID,
  E_STORAGE_UNAVAILABLE: EXIT.STORAGE_UNAVAILABLE,
  E_STORAGE: EXIT.STORAGE_UNAVAILABLE,
  E_PRECONDITION_FAILED: EXIT.ARCHIVE_CONFLICT,
  E_PLAN_REFUSED: EXIT.PLAN_REFUSED,
  E_UNKNOWN_TABLE: EXIT.PLAN_REFUSED,
  E_REPLICAS_LIVE: EXIT.PLAN_REFUSED,
  E_NODE_STATE: EXIT.NODE_STATE,
  E_SPOOL: EXIT.SPOOL_FAILED,
  E_DISK_SPACE: EXIT.DISK_SPACE,
  E_RESTORE_ROLLED_BACK: EXIT.RESTORE_ROLLED_BACK,
  E_RESTORE_INCOMPLETE: EXIT.RESTORE_INCOMPLETE,
  E_SCHEMA_CQL: EXIT.SCHEMA_INVALID,
  E_CLUSTER_BUSY: EXIT.CLUSTER_BUSY,
  E_NODE_UNRESPONSIVE: EXIT.NODE_UNRESPONSIVE,
  E_NODE_FAILED: EXIT.NODE_FAILED,
  E_ENCRYPTION_KEY: EXIT.ENCRYPTION_KEY,
  E_DECRYPT_FAILED: EXIT.DECRYPT_FAILED,
  E_INTERRUPTED: EXIT.INTERRUPTED,
} as const satisfies Record<string, ExitStatus>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function exitStatusFor(code: string): ExitStatus {
  return (ERROR_CODES as Record<string, ExitStatus>)[code] ?? EXIT.INTERNAL;
}
