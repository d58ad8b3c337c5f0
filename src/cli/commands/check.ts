/**
 * `cassandra-pitr check`, in the spirit of pgBackRest's check: every precondition for archiving,
 * each reported as ok / warning / failure with what to do. Exit 3 when anything failed.
 */
import { randomBytes } from "node:crypto";
import { access, constants, mkdir, stat } from "node:fs/promises";
import { checkProbeKey, type NodeIdentity } from "../../format/layout.js";
import type { Config } from "../../config/schema.js";
import { defaultSpoolDir } from "../../pipeline/spool.js";
import { formatDuration } from "../../config/duration.js";
import { UsageError } from "../../errors/base.js";
import { parseLocation } from "../../storage/location.js";
import { loadEncryptionKeys } from "../../storage/decorators/encryption-keys.js";
import { openBackend } from "../../storage/open.js";
import { objectLockPolicy, readBucketLockState, type ObjectLockPolicy } from "../../storage/object-lock.js";
import type { Location } from "../../storage/location.js";
import { isPitrError } from "../../errors/base.js";
import { identityOf } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";
import { hookPaths } from "../hooks.js";
import { readBytes } from "../../storage/front.js";
import type { Check } from "../../report/model.js";

function parseSize(text: string): number {
  const m = /^(\d+)\s*(MiB|MB|M)?$/i.exec(text.trim());
  const mib = m ? Number(m[1]) : 0;
  if (!m || mib < 1 || mib > 2048) {
    throw new UsageError(`--segment-size '${text}' is not a commit log segment size`, {
      hint: "give commitlog_segment_size from cassandra.yaml, e.g. 32MiB (1 to 2048 MiB)",
    });
  }
  return mib;
}

/**
 * Warns when a file or directory holding secrets or the database's data is open to other users
 * (group or world bits set). A warning, not a failure: the operator may mean it, but should know.
 */
async function privacyCheck(id: string, path: string, what: string): Promise<Check> {
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch (err) {
    return {
      id,
      status: "warning",
      details: `cannot read the permissions of '${path}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    };
  }
  const octal = mode.toString(8).padStart(3, "0");
  return (mode & 0o077) === 0
    ? { id, status: "ok", details: `'${path}' is closed to other users (mode ${octal})` }
    : {
        id,
        status: "warning",
        details: `${what} '${path}' is open to other users (mode ${octal})`,
        hint: `chmod ${what.startsWith("archive") ? "700" : "600"} '${path}' (other local users could read it)`,
      };
}

/** With objectLock set: the bucket must have object lock enabled, or every archived put fails. */
async function objectLockCheck(location: Location, policy: ObjectLockPolicy): Promise<Check> {
  const wanted = `objectLock: ${policy.mode}, ${formatDuration(policy.retentionMs)}`;
  try {
    const state = await readBucketLockState(location, AbortSignal.timeout(30_000));
    if (state?.enabled) {
      return {
        id: "object-lock",
        status: "ok",
        details: `bucket of '${location.display}' has object lock enabled (${wanted}${state.defaultRetention ? `; bucket default ${state.defaultRetention}` : ""})`,
      };
    }
    return {
      id: "object-lock",
      status: "failure",
      details: `${wanted} is set, but the bucket of '${location.display}' does not have object lock enabled: every archived put would fail`,
      hint: "object lock can only be enabled when the bucket is created (ObjectLockEnabledForBucket): create a new bucket with it, or set objectLock: none (docs/least-privilege.md)",
    };
  } catch (err) {
    const e = err as Error & { hint?: string };
    return {
      id: "object-lock",
      status: "failure",
      details: `cannot read the object lock configuration: ${e.message}`,
      hint:
        e.hint ?? "grant s3:GetBucketObjectLockConfiguration to these credentials (docs/least-privilege.md)",
    };
  }
}

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const results: Check[] = [];
  const add = (r: Check) => results.push(r);
  const sizeText = ctx.args["segment-size"] as string | undefined;
  const sizeMiB = sizeText === undefined ? undefined : parseSize(sizeText); // bad input refused before any check runs
  const { config, file } = await ctx.config();
  add({
    id: "config",
    status: "ok",
    details: file ? `read '${file}'` : "no config file; settings from flags and environment",
  });
  if (file) add(await privacyCheck("config-mode", file, "config file"));
  const location = parseLocation(config.archive, ctx.env);
  if (location.scheme === "file") add(await privacyCheck("archive-mode", location.root, "archive directory"));
  let identity: NodeIdentity | undefined;
  try {
    identity = identityOf(config);
    add({ id: "identity", status: "ok", details: `cluster '${config.cluster}', node ${config.node}` });
  } catch (err) {
    add({
      id: "identity",
      status: "failure",
      details: (err as Error).message,
      hint: "run 'cassandra-pitr init'",
    });
  }
  const objectLock = objectLockPolicy(config);
  if (objectLock !== undefined) add(await objectLockCheck(location, objectLock));
  add(await storageCheck(ctx, config, identity, objectLock));
  add(await spoolCheck(config));
  add(pathsCheck(config));
  add(segmentSizeCheck(sizeMiB, config.targetRpo));
  const failed = results.some((r) => r.status === "failure");
  printChecks(ctx, results, failed);
  return failed ? "problems" : "ok";
}

/** Storage reachable and writable: a probe object written, read back and removed. */
async function storageCheck(
  ctx: CliContext,
  config: Config,
  identity: NodeIdentity | undefined,
  objectLock: ObjectLockPolicy | undefined,
): Promise<Check> {
  const backend = await openBackend(config.archive, {
    retry: { attempts: 1 },
    timeoutMs: 30_000,
    env: ctx.env,
    encryption: await loadEncryptionKeys(config, ctx.env),
    objectLock,
  });
  try {
    const probe = checkProbeKey(identity, Date.now(), randomBytes(4).toString("hex"));
    const body = randomBytes(64);
    await backend.put(probe, body, { ifAbsent: true, retain: false }); // never locked: it is removed at once
    const back = await readBytes(backend, probe);
    const removed = await backend.delete(probe).then(
      () => true,
      (err: unknown) => {
        if (isPitrError(err) && err.code === "E_ACCESS_DENIED") return false; // least-privilege credentials: no delete
        throw err;
      },
    );
    return {
      id: "storage",
      status: back.equals(body) ? "ok" : "failure",
      details: !back.equals(body)
        ? `'${backend.displayLocation}' returned other bytes than were written`
        : removed
          ? `'${backend.displayLocation}' is reachable and writable (probe written, read, removed)`
          : `'${backend.displayLocation}' is reachable and writable (probe written and read; these credentials may not delete, so '${probe}' stays)`,
    };
  } catch (err) {
    const e = err as Error & { hint?: string };
    return { id: "storage", status: "failure", details: e.message, hint: e.hint };
  } finally {
    await backend.close();
  }
}

/** The spool must be on the commit log's filesystem (hard links), and writable. */
async function spoolCheck(config: Config): Promise<Check> {
  if (!config.commitlogDir) {
    return {
      id: "spool",
      status: "warning",
      details: "commitlogDir is not set; the spool cannot be checked",
      hint: "set commitlogDir in the config",
    };
  }
  const spool = config.spoolDir ?? defaultSpoolDir(config.commitlogDir);
  try {
    await mkdir(spool, { recursive: true });
    await access(spool, constants.W_OK);
    const [a, b] = await Promise.all([stat(spool), stat(config.commitlogDir)]);
    return a.dev === b.dev
      ? { id: "spool", status: "ok", details: `'${spool}' is writable and on the commit log's filesystem` }
      : {
          id: "spool",
          status: "failure",
          details: `'${spool}' is not on the filesystem of '${config.commitlogDir}'`,
          hint: "hard links need the same filesystem; move spoolDir beside the commit log directory",
        };
  } catch (err) {
    return {
      id: "spool",
      status: "failure",
      details: (err as Error).message,
      hint: "create the directory and give the Cassandra user write access",
    };
  }
}

/** Paths Cassandra will split on spaces. */
function pathsCheck(config: Config): Check {
  const hooks = hookPaths();
  const spaced = [hooks.archive, config.commitlogDir, config.spoolDir].filter(
    (p): p is string => !!p && p.includes(" "),
  );
  return spaced.length === 0
    ? { id: "paths", status: "ok", details: "no spaces in the hook, commit log or spool paths" }
    : {
        id: "paths",
        status: "failure",
        details: `paths with spaces: ${spaced.join(", ")}`,
        hint: "Cassandra splits archive_command on single spaces; install without spaces",
      };
}

/** Segment size vs the RPO target: a segment is archived only when full (no timer in Cassandra). */
function segmentSizeCheck(sizeMiB: number | undefined, targetRpo: number): Check {
  if (sizeMiB === undefined) {
    return {
      id: "segment-size",
      status: "warning",
      details: "commitlog_segment_size unknown (pass --segment-size)",
      hint: "with a 15m RPO use 8-16 MiB segments",
    };
  }
  const rpo = formatDuration(targetRpo);
  return sizeMiB > 16 && targetRpo <= 15 * 60_000
    ? {
        id: "segment-size",
        status: "warning",
        details: `${sizeMiB} MiB segments fill slowly on a quiet node; the ${rpo} RPO target may be missed`,
        hint: "set commitlog_segment_size to 8MiB or 16MiB",
      }
    : { id: "segment-size", status: "ok", details: `${sizeMiB} MiB segments with a ${rpo} RPO target` };
}

function printChecks(ctx: CliContext, results: readonly Check[], failed: boolean): void {
  if (ctx.args["json"]) {
    ctx.out(JSON.stringify({ schema_version: 1, ok: !failed, checks: results }, null, 2));
    return;
  }
  for (const r of results) {
    ctx.out(`${r.status.padEnd(7)} ${r.id.padEnd(12)} ${r.details}`);
    if (r.hint && r.status !== "ok") ctx.out(`${"".padEnd(20)} hint: ${r.hint}`);
  }
}
