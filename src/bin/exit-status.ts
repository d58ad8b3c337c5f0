/**
 * Where the executables turn an outcome into a process exit status: a `PitrError`'s code through the
 * table in errors/codes.ts, anything else as an internal error, a signal as 130 or 143.
 * Only src/bin/ and src/cli/main.ts decide exit statuses (docs/architecture.md).
 */
import { isPitrError } from "../errors/base.js";
import { EXIT, exitStatusFor, type ExitStatus } from "../errors/codes.js";
import type { HookResult } from "../pipeline/bounded.js";

export function errorExitStatus(err: unknown): ExitStatus {
  return isPitrError(err) ? exitStatusFor(err.code) : EXIT.INTERNAL;
}

export function signalExitStatus(signal: "SIGINT" | "SIGTERM"): ExitStatus {
  return signal === "SIGINT" ? EXIT.INTERRUPTED : EXIT.TERMINATED;
}

export function hookExitStatus(result: HookResult): ExitStatus {
  switch (result.kind) {
    case "done":
      return EXIT.OK;
    case "failed":
      return errorExitStatus(result.error);
    case "stopped":
      return signalExitStatus(result.signal);
  }
}
