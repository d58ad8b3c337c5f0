/**
 * `cassandra-pitr-archive %path %name`, run by Cassandra once per finished segment.
 *
 * Cassandra waits for it with no timeout while memtable flushes are blocked, never retries a
 * failure, and hangs if the child fills a pipe buffer. So: exit 0 only when the segment is durably
 * stored (verified upload) or durably spooled (hard link + fsync); print nothing on success and at
 * most two lines otherwise; never move or delete %path; stay inside the configured time budget.
 *
 * Its import graph is kept small on purpose (test/pipeline/import-graph.test.ts): no CLI framework,
 * no SDK until the configured backend is opened, no planner or report code; the upload pipeline
 * itself is imported only in upload mode.
 */
import { basename, dirname } from "node:path";
import { loadConfig } from "../config/load.js";
import { objectLockPolicy, type ObjectLockPolicy } from "../storage/object-lock.js";
import type { Config } from "../config/schema.js";
import { ConfigError, PitrError, UsageError, isPitrError, renderError } from "../errors/base.js";
import { HOOK_DONE, hookFailed, runBounded, type Bound, type HookIo, type HookResult } from "./bounded.js";
import { requireRegularFile, SegmentAccessError } from "./segment-file.js";
import { appendEvent } from "./events.js";
import { defaultSpoolDir, SpoolError, spoolSegment } from "./spool.js";
import { freshHealthMark, isOutage, setHealthMark } from "./health.js";
import { parseSegmentName } from "../commitlog/segment-name.js";

const PREFIX = "cassandra-pitr-archive";

export type { HookIo, HookResult } from "./bounded.js";

export function requireIdentity(config: Config): { cluster: string; node: string } {
  if (!config.cluster || !config.node) {
    throw new ConfigError("the node identity is not configured (cluster and node)", {
      hint: "run 'cassandra-pitr init' or set CASSANDRA_PITR_CLUSTER and CASSANDRA_PITR_NODE",
    });
  }
  return { cluster: config.cluster, node: config.node };
}

/**
 * The hooks take an optional `--config=FILE` before Cassandra's placeholders (one token: Cassandra
 * splits the command on spaces), for hosts with more than one node or a non-default config path.
 */
export { splitHookArgs } from "./hook-args.js";
import { splitHookArgs } from "./hook-args.js";

/** Past the time budget, the spool fallback gets this long before the hook gives up. */
export const WATCHDOG_GRACE_MS = 15_000;
/** The bound before the configuration is read (the default hookTimeout plus the grace). */
const INITIAL_BOUND_MS = 20_000 + WATCHDOG_GRACE_MS;

/**
 * Runs the hook with a hard bound: if the work (including the spool fallback) has not finished
 * `hookTimeout + WATCHDOG_GRACE_MS` after start, it reports failure (the segment stays where
 * Cassandra keeps it, and the sweeper takes it later) instead of blocking Cassandra's flushes.
 * SIGTERM aborts the upload (its temporary object is removed) and exits 143.
 */
export async function runArchiveHookBounded(args: readonly string[], io: HookIo): Promise<HookResult> {
  return runBounded(
    {
      io,
      prefix: PREFIX,
      initialMs: INITIAL_BOUND_MS,
      giveUp: (ms) =>
        `${PREFIX}: gave up after ${ms} ms (storage and spool both stuck); Cassandra keeps the segment, the agent's sweeper will archive it`,
    },
    (bound) => runArchiveHook(args, bound.io, bound),
  );
}

export async function runArchiveHook(
  args: readonly string[],
  io: HookIo,
  bound?: Pick<Bound, "arm" | "stop">,
): Promise<HookResult> {
  let config: Config | undefined;
  const { configPath, argv } = splitHookArgs(args);
  try {
    const { path, name } = hookTarget(argv);
    config = (await loadConfig({ env: io.env, configPath })).config;
    const identity = requireIdentity(config);
    const objectLock = objectLockPolicy(config); // a lock without a retention is refused before anything is spooled
    const seg: HookSegment = {
      config,
      path,
      name,
      spoolDir: config.spoolDir ?? defaultSpoolDir(config.commitlogDir ?? dirname(path)),
      objectLock,
    };
    if (await spoolWithoutTrying(seg, io)) return HOOK_DONE;

    bound?.arm(config.hookTimeout + WATCHDOG_GRACE_MS);
    const budget = AbortSignal.timeout(config.hookTimeout);
    const deadline = bound ? AbortSignal.any([budget, bound.stop]) : budget;
    try {
      await uploadSegment(seg, identity, io, deadline);
    } catch (err) {
      // Stopped by a signal: the upload cleaned up after itself; the segment stays with Cassandra.
      if (bound?.stop.aborted) throw err;
      await spoolAfterFailure(seg, io, err, { budget, deadline });
    }
    return HOOK_DONE;
  } catch (err) {
    io.stderr(renderError(err, PREFIX));
    await appendEvent(config?.logFile, {
      event: "failed",
      args: argv.join(" "),
      error: firstLine(err),
    }).catch(() => undefined);
    return hookFailed(err);
  }
}

/** The segment a hook run archives, with the settings it needs. */
interface HookSegment {
  readonly config: Config;
  readonly path: string;
  readonly name: string;
  readonly spoolDir: string;
  readonly objectLock: ObjectLockPolicy | undefined;
}

/** %path and %name, checked before anything is read: two arguments, a segment name, the name of the path. */
function hookTarget(argv: readonly string[]): { path: string; name: string } {
  if (argv.length !== 2 || !argv[0] || !argv[1]) {
    throw new UsageError(`expected 2 arguments (%path %name), got ${argv.length}`, {
      hint: "archive_command=/usr/bin/cassandra-pitr-archive %path %name (no spaces in paths)",
    });
  }
  const [path, name] = argv as [string, string];
  parseSegmentName(name);
  requireNameOfPath(path, name);
  return { path, name };
}

/** Spool mode, or a fresh mark that storage is unhealthy: the segment goes to the spool without an upload. */
async function spoolWithoutTrying(seg: HookSegment, io: HookIo): Promise<boolean> {
  const { config, path, name, spoolDir } = seg;
  if (config.hookMode === "spool") {
    await requireRegularFile(path, "archive"); // never link a FIFO or a directory into the spool
    await spoolSegment(spoolDir, path, name);
    await appendEvent(config.logFile, { event: "spooled", name, reason: "spool mode" });
    return true;
  }
  if (!config.spoolFallback) return false;
  // Storage met an outage lately: waiting out the budget again would only hold Cassandra back.
  const mark = await freshHealthMark(spoolDir, config.healthMarkLifetime);
  if (!mark) return false;
  await requireRegularFile(path, "archive");
  await spoolSegment(spoolDir, path, name);
  const reason = `storage marked unhealthy at ${new Date(mark.markedAtMs).toISOString()}`;
  await appendEvent(config.logFile, { event: "spooled", name, reason });
  io.stderr(`${PREFIX}: '${name}' spooled for the agent (${reason})`);
  return true;
}

async function uploadSegment(
  seg: HookSegment,
  identity: ReturnType<typeof requireIdentity>,
  io: HookIo,
  deadline: AbortSignal,
): Promise<void> {
  const { config, path, name } = seg;
  // Loaded only here: spool mode never pays for zstd, the segment parser or the storage layer.
  const [{ openBackend }, { pushSegment }, { loadEncryptionKeys }] = await Promise.all([
    import("../storage/open.js"),
    import("./push.js"),
    import("../storage/decorators/encryption-keys.js"),
  ]);
  const backend = await openBackend(config.archive, {
    encryption: await loadEncryptionKeys(config, io.env),
    objectLock: seg.objectLock,
    signal: deadline,
    retry: { attempts: config.retryAttempts },
  });
  try {
    const result = await pushSegment(backend, identity, {
      path,
      name,
      archivedBy: "hook",
      compressionLevel: config.compressionLevel,
      compressionThreads: config.compressionThreads,
      signal: deadline,
    });
    await appendEvent(config.logFile, {
      event: result.outcome,
      name,
      key: result.key,
      status: result.record.status,
    });
    if (result.outcome === "conflict-kept") {
      io.stderr(
        `${PREFIX}: warning: '${name}' was already archived with different content; kept both ('${result.key}')`,
      );
    } else if (result.record.status === "torn-tail" && result.outcome === "archived") {
      // Normal for the active segment of a crashed node (archived at the next start); said once.
      io.stderr(
        `${PREFIX}: '${name}' archived, flagged torn-tail (its data ends before the segment is full)`,
      );
    } else if (result.record.status !== "complete" && result.record.status !== "torn-tail") {
      io.stderr(
        `${PREFIX}: warning: '${name}' archived but flagged ${result.record.status}: ${result.record.problem ?? ""}`,
      );
    }
  } finally {
    await backend.close().catch(() => undefined);
  }
}

/**
 * The upload failed. A segment that is missing or not a segment cannot be spooled usefully, so
 * that failure stands; storage trouble (with spoolFallback) sends the segment to the spool.
 */
async function spoolAfterFailure(
  seg: HookSegment,
  io: HookIo,
  err: unknown,
  signals: { budget: AbortSignal; deadline: AbortSignal },
): Promise<void> {
  const { config, path, name, spoolDir } = seg;
  const { budget, deadline } = signals;
  if (!config.spoolFallback || !isStorageTrouble(err, deadline))
    throw budget.aborted ? budgetSpent(name, config.hookTimeout, err) : err;
  const cause = deadline.aborted ? `time budget of ${config.hookTimeout} ms ran out` : firstLine(err);
  try {
    await requireRegularFile(path, "archive");
    await spoolSegment(spoolDir, path, name);
  } catch (spoolErr) {
    // Both ways out failed: say why for each, on one line (the hint follows on the second).
    if (!(spoolErr instanceof SpoolError)) throw spoolErr;
    throw new SpoolError(
      `upload failed (${cause}), then ${spoolErr.message}`,
      spoolErr.hint ?? "check the spool directory",
      spoolErr,
    );
  }
  // Tell the next hooks not to wait for storage (a mark that cannot be written costs only time).
  if (deadline.aborted || isOutage(err))
    await setHealthMark(spoolDir, cause, "archive hook").catch(() => undefined);
  await appendEvent(config.logFile, { event: "spooled", name, reason: cause });
  io.stderr(`${PREFIX}: '${name}' spooled for the agent (${cause})`);
}

/**
 * Cassandra passes %name = basename(%path). Anything else is a misconfigured archive_command, and
 * storing the bytes under %name's segment id would record as archived a segment no object holds.
 */
function requireNameOfPath(path: string, name: string): void {
  if (basename(path) !== name) {
    throw new UsageError(`%name '${name}' is not the file name of %path '${path}'`, {
      hint: "archive_command must be '<hook> %path %name', in that order",
    });
  }
}

/** The budget ran out with no spool to fall back on: storage too slow or not answering (16). */
function budgetSpent(name: string, ms: number, cause: unknown): PitrError {
  return new PitrError(
    "E_STORAGE_UNAVAILABLE",
    `'${name}' was not archived within the time budget of ${ms} ms`,
    {
      hint: "storage is slow or not answering; Cassandra keeps the segment and the agent's sweeper archives it later",
      cause,
    },
  );
}

function isStorageTrouble(err: unknown, deadline: AbortSignal): boolean {
  if (deadline.aborted) return true;
  if (err instanceof SegmentAccessError) return false; // the segment's own permissions: spooling cannot help
  if (!isPitrError(err)) return (err as Error)?.name === "AbortError";
  return [
    "E_STORAGE_UNAVAILABLE",
    "E_STORAGE",
    "E_ACCESS_DENIED",
    "E_ARCHIVE_MISSING",
    "E_PRECONDITION_FAILED",
  ].includes(err.code);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
