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
  LOCKED: 11,
  ACCESS_DENIED: 12,
  ARCHIVE_CONFLICT: 13,
  NOT_FOUND: 14,
  SEGMENT_INVALID: 15,
  STORAGE_UNAVAILABLE: 16,
  PLAN_REFUSED: 17,
  NODE_STATE: 18,
  SPOOL_FAILED: 19,
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** Every stable error code and the exit status it maps to. Codes never change once released. */
export const ERROR_CODES = {
  E_INTERNAL: EXIT.INTERNAL,
  E_USAGE: EXIT.USAGE,
  E_CONFIG: EXIT.USAGE,
  E_BAD_TIME: EXIT.USAGE,
  E_PROBLEMS_FOUND: EXIT.PROBLEMS_FOUND,
  E_ARCHIVE_MISSING: EXIT.ARCHIVE_MISSING,
  E_LOCKED: EXIT.LOCKED,
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
  E_STORAGE_UNAVAILABLE: EXIT.STORAGE_UNAVAILABLE,
  E_STORAGE: EXIT.STORAGE_UNAVAILABLE,
  E_PRECONDITION_FAILED: EXIT.ARCHIVE_CONFLICT,
  E_PLAN_REFUSED: EXIT.PLAN_REFUSED,
  E_NODE_STATE: EXIT.NODE_STATE,
  E_SPOOL: EXIT.SPOOL_FAILED,
  E_INTERRUPTED: EXIT.INTERRUPTED,
} as const satisfies Record<string, ExitStatus>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function exitStatusFor(code: string): ExitStatus {
  return (ERROR_CODES as Record<string, ExitStatus>)[code] ?? EXIT.INTERNAL;
}
