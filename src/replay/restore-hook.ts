/**
 * `cassandra-pitr-restore %from %to`, run by Cassandra at startup for each file in
 * `restore_directories` (after it has read and CRC-checked that file's header). `%to` is the full
 * path of the target segment in the commit log directory.
 *
 * `%from` is either a stub (see stub.ts: fetch the archived object) or a staged segment file (hard
 * link or in-kernel copy, place-staged.ts). Either way the original bytes are reproduced exactly (sha256 and size checked when known,
 * header checked against the target name) and `%to` appears atomically. Any mismatch exits
 * non-zero, so Cassandra refuses to start rather than replay the wrong bytes.
 *
 * `%to` is never replaced: Cassandra skips a target that already exists, so an existing one was
 * written by someone else and is refused. Cassandra's start-up waits for this hook, so the whole run
 * is bounded by `restoreTimeout` (bounded.ts), and %from is never opened in a way that can block.
 */
import { readFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { loadConfig } from "../config/load.js";
import { PitrError, UsageError, renderError } from "../errors/base.js";
import { stripCredentials } from "../errors/redact.js";
import {
  HOOK_DONE,
  hookFailed,
  runBounded,
  type Bound,
  type HookIo,
  type HookResult,
} from "../pipeline/bounded.js";
import { appendEvent } from "../pipeline/events.js";
import type { Backend } from "../storage/types.js";
import { ChecksumMismatchError, requireNewTarget } from "./target.js";
import { splitHookArgs } from "../pipeline/hook-args.js";
import { openSegment } from "../pipeline/segment-file.js";
import { placeStagedAhead, placeStagedSegment } from "./place-staged.js";
import { MAX_STUB_SIZE, parseStub, type StubReference } from "./stub.js";

const PREFIX = "cassandra-pitr-restore";
/** The bound before the configuration is read: the default restoreTimeout plus a grace. */
const INITIAL_BOUND_MS = 5 * 60_000 + 15_000;
/** Past restoreTimeout, the cleanup of an aborted fetch gets this long. */
const GRACE_MS = 15_000;

async function readHead(handle: FileHandle, size: number): Promise<Buffer> {
  const length = Math.min(size, MAX_STUB_SIZE + 1);
  const head = Buffer.alloc(length);
  await handle.read(head, 0, length, 0);
  return head;
}

/**
 * Fetches and verifies the archived bytes (sha256), then writes them through the restore's replay
 * filter: the mutations stamped after the restore point are withheld before Cassandra reads them.
 */
async function fetchFiltered(
  backend: Backend,
  stub: StubReference,
  filter: { readonly spec: string; readonly sha256: string },
  to: string,
  signal: AbortSignal,
): Promise<{ mutations: number; withheld: number }> {
  const { compileReplayFilter, parseSpec, specDigest } = await import("./replay-filter.js");
  const { readVerifiedSegment, writeBytesAtomically } = await import("./fetch.js");
  const text = await readFile(filter.spec, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(
      `replay filter '${filter.spec}' named by the stub for ${stub.name} cannot be read (${err.code ?? err.message})`,
      {
        hint: "the restore's files were moved or removed; run 'cassandra-pitr restore' again",
      },
    );
  });
  if (specDigest(text) !== filter.sha256) {
    throw new ChecksumMismatchError(
      `replay filter '${filter.spec}'`,
      "its sha256 is not the one the stub recorded",
    );
  }
  const bytes = await readVerifiedSegment(
    backend,
    stub.key,
    stub.name,
    { sha256: stub.sha256, size: stub.size },
    signal,
  );
  const result = compileReplayFilter(parseSpec(text, filter.spec))(stub.name, bytes);
  await writeBytesAtomically(result.bytes, to, `segment ${stub.name} after the replay filter`, signal);
  return { mutations: result.mutations, withheld: result.withheld };
}

/** Is this head a stub's? A stub that does not parse is still one: its own call reports it. */
function parseStubQuietly(head: Buffer, path: string): boolean {
  try {
    return parseStub(head, path) !== undefined;
  } catch {
    return true;
  }
}

/**
 * The archive URL to open for a stub. A stub carries the URL without credentials (stub.ts); when it
 * names the configured archive, the configured URL (with its SAS token, if any) is used.
 */
export function archiveForStub(stub: StubReference, configured: string | undefined): string {
  return configured !== undefined && stripCredentials(configured) === stub.archive
    ? configured
    : stub.archive;
}

export async function runRestoreHookBounded(args: readonly string[], io: HookIo): Promise<HookResult> {
  return runBounded(
    {
      io,
      prefix: PREFIX,
      initialMs: INITIAL_BOUND_MS,
      giveUp: (ms) =>
        `${PREFIX}: gave up after ${ms} ms (restoreTimeout plus grace); nothing written at %to, Cassandra's start-up stops here: check the storage and start again`,
    },
    (bound) => runRestoreHook(args, bound.io, bound),
  );
}

export async function runRestoreHook(
  args: readonly string[],
  io: HookIo,
  bound?: Pick<Bound, "arm" | "stop">,
): Promise<HookResult> {
  let logFile: string | undefined;
  let budget: { signal: AbortSignal; ms: number } | undefined;
  const { configPath, argv } = splitHookArgs(args);
  try {
    if (argv.length !== 2 || !argv[0] || !argv[1]) {
      throw new UsageError(`expected 2 arguments (%from %to), got ${argv.length}`, {
        hint: "restore_command=/usr/bin/cassandra-pitr-restore %from %to",
      });
    }
    const [from, to] = argv as [string, string];
    const config = (await loadConfig({ env: io.env, configPath })).config;
    logFile = config.logFile;
    bound?.arm(config.restoreTimeout + GRACE_MS);
    budget = { signal: AbortSignal.timeout(config.restoreTimeout), ms: config.restoreTimeout };
    const signal = bound ? AbortSignal.any([budget.signal, bound.stop]) : budget.signal;
    await requireNewTarget(to);
    const { handle, size } = await openSegment(from, "restore");
    let stub: StubReference | undefined;
    let counts: { mutations: number; withheld: number } | undefined;
    let placed: string | undefined;
    try {
      const head = await readHead(handle, size);
      stub = size <= MAX_STUB_SIZE ? parseStub(head, from) : undefined;
      // A staged segment is linked or copied in the kernel (place-staged.ts); the file placed is
      // the one opened here (same inode), never whatever the name points at later.
      if (!stub) placed = await placeStagedSegment(handle, from, to, head);
    } finally {
      await handle.close();
    }
    let ahead = 0;
    if (placed === "linked") {
      ahead = await placeStagedAhead(
        dirname(from),
        dirname(to),
        (h) => h.length <= MAX_STUB_SIZE && parseStubQuietly(h, from),
        MAX_STUB_SIZE + 1,
      );
    }
    if (stub) {
      // Storage and zstd are loaded only for stubs: a staged segment's hook stays a small process.
      const { openBackend } = await import("../storage/open.js");
      const { fetchSegment } = await import("./fetch.js");
      const { loadEncryptionKeys } = await import("../storage/decorators/encryption-keys.js");
      const encryption = await loadEncryptionKeys(config, io.env);
      const backend = await openBackend(archiveForStub(stub, config.archive), {
        retry: { attempts: config.retryAttempts },
        signal,
        encryption,
      });
      try {
        if (stub.filter) {
          counts = await fetchFiltered(backend, stub, stub.filter, to, signal);
        } else {
          await fetchSegment(backend, stub.key, to, { sha256: stub.sha256, size: stub.size }, signal);
        }
      } finally {
        await backend.close().catch(() => undefined);
      }
    }
    await appendEvent(logFile, {
      event: "restored",
      from,
      to,
      ...(stub ? { key: stub.key } : { placed, ...(ahead > 0 ? { placed_ahead: ahead } : {}) }),
      ...counts,
    });
    return HOOK_DONE;
  } catch (caught) {
    const err = budget?.signal.aborted ? outOfTime(argv[1] ?? "", budget.ms, caught) : caught;
    io.stderr(renderError(err, PREFIX));
    await appendEvent(logFile, { event: "restore-failed", args: argv.join(" "), error: String(err) });
    return hookFailed(err);
  }
}

function outOfTime(to: string, ms: number, cause: unknown): PitrError {
  return new PitrError(
    "E_STORAGE_UNAVAILABLE",
    `restoring '${to}' ran out of its time budget of ${ms} ms; nothing written at %to`,
    {
      hint: "check the storage; raise restoreTimeout for very slow storage",
      cause,
    },
  );
}
