/**
 * `cassandra-pitr-restore %from %to`, run by Cassandra at startup for each file in
 * `restore_directories` (after it has read and CRC-checked that file's header). `%to` is the full
 * path of the target segment in the commit log directory.
 *
 * `%from` is either a stub (see stub.ts: fetch the archived object) or a staged segment file (copy
 * it). Either way the original bytes are reproduced exactly (sha256 and size checked when known,
 * header checked against the target name) and `%to` appears atomically. Any mismatch exits
 * non-zero, so Cassandra refuses to start rather than replay the wrong bytes.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { loadConfig } from "../config/load.js";
import { UsageError, isPitrError, renderError } from "../errors/base.js";
import { EXIT, exitStatusFor } from "../errors/codes.js";
import { openBackend } from "../storage/open.js";
import { appendEvent } from "./events.js";
import type { Backend } from "../storage/types.js";
import { ChecksumMismatchError, fetchSegment, readVerifiedSegment, writeBytesAtomically, writeSegmentAtomically } from "./fetch.js";
import { openSegment } from "./segment-file.js";
import { MAX_STUB_SIZE, parseStub, type StubReference } from "./stub.js";
import { splitHookArgs, type HookIo } from "./hook.js";

const PREFIX = "cassandra-pitr-restore";

async function readHead(path: string): Promise<{ head: Buffer; size: number }> {
  const { handle, size } = await openSegment(path);
  try {
    const length = Math.min(size, MAX_STUB_SIZE + 1);
    const head = Buffer.alloc(length);
    await handle.read(head, 0, length, 0);
    return { head, size };
  } finally {
    await handle.close();
  }
}

/**
 * Fetches and verifies the archived bytes (sha256), then writes them through the restore's replay
 * filter: the mutations stamped after the restore point are withheld before Cassandra reads them.
 */
async function fetchFiltered(backend: Backend, stub: StubReference, filter: { readonly spec: string; readonly sha256: string }, to: string): Promise<{ mutations: number; withheld: number }> {
  const { compileReplayFilter, parseSpec, specDigest } = await import("../restore/replay-filter.js");
  const text = await readFile(filter.spec, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`replay filter '${filter.spec}' named by the stub for ${stub.name} cannot be read (${err.code ?? err.message})`, {
      hint: "the restore's files were moved or removed; run 'cassandra-pitr restore' again",
    });
  });
  if (specDigest(text) !== filter.sha256) {
    throw new ChecksumMismatchError(`replay filter '${filter.spec}'`, "its sha256 is not the one the stub recorded");
  }
  const bytes = await readVerifiedSegment(backend, stub.key, stub.name, { sha256: stub.sha256, size: stub.size });
  const result = compileReplayFilter(parseSpec(text, filter.spec))(stub.name, bytes);
  await writeBytesAtomically(result.bytes, to, `segment ${stub.name} after the replay filter`);
  return { mutations: result.mutations, withheld: result.withheld };
}

export async function runRestoreHook(args: readonly string[], io: HookIo): Promise<number> {
  let logFile: string | undefined;
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
    const { head, size } = await readHead(from);
    const stub = size <= MAX_STUB_SIZE ? parseStub(head, from) : undefined;
    if (stub) {
      // The stub names the archive the plan chose; credentials and endpoints come from the environment.
      const backend = await openBackend(stub.archive, { retry: { attempts: config.retryAttempts } });
      try {
        if (stub.filter) {
          const counts = await fetchFiltered(backend, stub, stub.filter, to);
          await appendEvent(logFile, { event: "restored", from, to, key: stub.key, ...counts });
        } else {
          await fetchSegment(backend, stub.key, to, { sha256: stub.sha256, size: stub.size });
          await appendEvent(logFile, { event: "restored", from, to, key: stub.key });
        }
      } finally {
        await backend.close().catch(() => undefined);
      }
    } else {
      await writeSegmentAtomically(createReadStream(from), to, {
        compressed: false,
        expected: { size },
        what: `staged segment '${from}'`,
      });
      await appendEvent(logFile, { event: "restored", from, to });
    }
    return EXIT.OK;
  } catch (err) {
    io.stderr(renderError(err, PREFIX));
    await appendEvent(logFile, { event: "restore-failed", args: argv.join(" "), error: String(err) });
    return isPitrError(err) ? exitStatusFor(err.code) : EXIT.INTERNAL;
  }
}
