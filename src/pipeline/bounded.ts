/**
 * The wall-time bound both hooks run under. Cassandra waits for a hook with no timeout (flushes are
 * blocked behind the archive hook, start-up behind the restore hook), so each run ends by itself:
 *
 * - a watchdog, armed at once with a default bound and re-armed when the configuration gives the
 *   real budget, reports failure when the work has not finished in time;
 * - SIGTERM or SIGINT aborts the work (so an upload removes its temporary object), waits a moment
 *   for that cleanup, and ends with 143 or 130.
 *
 * The entry points call process.exit with the result, so nothing left pending outlives the bound.
 */
import { EXIT } from "../errors/codes.js";
import { redactText } from "../errors/redact.js";

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

export async function runBounded(options: BoundOptions, work: (bound: Bound) => Promise<number>): Promise<number> {
  const io = redactedIo(options.io);
  let over = false;
  const workIo: HookIo = { env: io.env, stderr: (line) => (over ? undefined : io.stderr(line)) };
  const stopper = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let finish: (status: number) => void = () => undefined;
  const ended = new Promise<number>((resolve) => {
    finish = (status) => {
      over = true;
      resolve(status);
    };
  });
  const arm = (ms: number) => {
    clearTimeout(timer);
    const bounded = Math.min(Math.max(ms, 0), MAX_TIMER_MS);
    timer = setTimeout(() => {
      if (!over) io.stderr(options.giveUp(bounded));
      finish(EXIT.STORAGE_UNAVAILABLE);
    }, bounded);
  };
  let stopped: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stopped = signal === "SIGINT" ? EXIT.INTERRUPTED : EXIT.TERMINATED;
    if (!over) io.stderr(`${options.prefix}: stopped by ${signal}; temporary files removed, nothing reported as done`);
    over = true;
    stopper.abort(new Error(`stopped by ${signal}`));
    // The aborted work removes its temporary files; past the grace, exit regardless.
    const status = stopped;
    setTimeout(() => finish(status), STOP_GRACE_MS).unref();
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  arm(options.initialMs);
  work({ stop: stopper.signal, arm, io: workIo }).then(
    (status) => finish(stopped ?? status),
    (err: unknown) => {
      if (!over) io.stderr(`${options.prefix}: internal error: ${err instanceof Error ? err.message : String(err)}`);
      finish(stopped ?? EXIT.INTERNAL);
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
