/**
 * The wall-time bound both hooks run under. Cassandra waits for a hook with no timeout (flushes are
 * blocked behind the archive hook, start-up behind the restore hook), so each run ends by itself:
 *
 * - a watchdog, armed at once with a default bound and re-armed when the configuration gives the
 *   real budget, reports failure when the work has not finished in time;
 * - SIGTERM or SIGINT aborts the work (so an upload removes its temporary object), waits a moment
 *   for that cleanup, and ends the run as stopped.
 *
 * A run ends with a `HookResult`, never an exit status: the executables (src/bin/) turn it into one
 * and call process.exit at once, so nothing left pending outlives the bound.
 */
import { PitrError } from "../errors/base.js";
import { redactText } from "../errors/redact.js";

/** How a hook run ended. The failure has already been reported on stderr. */
export type HookResult =
  | { readonly kind: "done" }
  | { readonly kind: "failed"; readonly error: unknown }
  | { readonly kind: "stopped"; readonly signal: "SIGINT" | "SIGTERM" };

export const HOOK_DONE: HookResult = { kind: "done" };

export function hookFailed(error: unknown): HookResult {
  return { kind: "failed", error };
}

export interface HookIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stderr: (line: string) => void;
}

export interface Bound {
  /** Aborted when the process is asked to stop (SIGTERM, SIGINT). */
  readonly stop: AbortSignal;
  /** (Re)arms the hard bound, counted from now. */
  arm(ms: number): void;
  /** The io for the work: redacted, and silent once the run has ended (so at most two lines). */
  readonly io: HookIo;
}

export interface BoundOptions {
  readonly io: HookIo;
  /** The hook's name, first on every line. */
  readonly prefix: string;
  /** Bound until the work arms its own (the configuration is not read yet). */
  readonly initialMs: number;
  /** The line printed when the bound is reached. */
  readonly giveUp: (ms: number) => string;
}

/** How long a signalled run gets to remove its temporary files before it exits anyway. */
export const STOP_GRACE_MS = 3000;

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); longer values fire after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Every line a hook prints goes through the one redaction. */
export function redactedIo(io: HookIo): HookIo {
  return { env: io.env, stderr: (line) => io.stderr(redactText(line, io.env)) };
}

export async function runBounded(
  options: BoundOptions,
  work: (bound: Bound) => Promise<HookResult>,
): Promise<HookResult> {
  const io = redactedIo(options.io);
  let over = false;
  const workIo: HookIo = { env: io.env, stderr: (line) => (over ? undefined : io.stderr(line)) };
  const stopper = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let finish: (result: HookResult) => void = () => undefined;
  const ended = new Promise<HookResult>((resolve) => {
    finish = (result) => {
      over = true;
      resolve(result);
    };
  });
  const arm = (ms: number) => {
    clearTimeout(timer);
    const bounded = Math.min(Math.max(ms, 0), MAX_TIMER_MS);
    timer = setTimeout(() => {
      const line = options.giveUp(bounded);
      if (!over) io.stderr(line);
      // Storage that does not answer in time, as the documented exit table says of a hook past its bound.
      finish(hookFailed(new PitrError("E_STORAGE_UNAVAILABLE", line)));
    }, bounded);
  };
  let stopped: HookResult | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stopped = { kind: "stopped", signal: signal === "SIGINT" ? "SIGINT" : "SIGTERM" };
    if (!over)
      io.stderr(`${options.prefix}: stopped by ${signal}; temporary files removed, nothing reported as done`);
    over = true;
    stopper.abort(new Error(`stopped by ${signal}`));
    // The aborted work removes its temporary files; past the grace, exit regardless.
    const result = stopped;
    setTimeout(() => finish(result), STOP_GRACE_MS).unref();
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  arm(options.initialMs);
  work({ stop: stopper.signal, arm, io: workIo }).then(
    (result) => finish(stopped ?? result),
    (err: unknown) => {
      if (!over)
        io.stderr(`${options.prefix}: internal error: ${err instanceof Error ? err.message : String(err)}`);
      finish(stopped ?? hookFailed(err));
    },
  );
  try {
    return await ended;
  } finally {
    clearTimeout(timer);
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}
