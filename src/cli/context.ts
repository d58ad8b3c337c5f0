/** What most commands need from the configuration: the archive, opened, and the node identity. */
import { requireIdentity } from "../pipeline/hook.js";
import type { NodeIdentity } from "../format/layout.js";
import type { Config } from "../config/schema.js";
import { openBackend } from "../storage/open.js";
import { loadEncryptionKeys } from "../storage/decorators/encryption-keys.js";
import { objectLockPolicy } from "../storage/object-lock.js";
import type { Backend } from "../storage/types.js";
import { parseInstant } from "../restore/time.js";
import type { CliContext } from "./main.js";

export interface Opened {
  readonly config: Config;
  readonly backend: Backend;
}

export async function openArchive(ctx: CliContext, options: { dryRun?: boolean } = {}): Promise<Opened> {
  const { config } = await ctx.config();
  const backend = await openBackend(config.archive, {
    signal: ctx.signal,
    retry: { attempts: config.retryAttempts },
    dryRun: options.dryRun,
    env: ctx.env,
    encryption: await loadEncryptionKeys(config, ctx.env),
    objectLock: objectLockPolicy(config),
  });
  return { config, backend };
}

export function identityOf(config: Config): NodeIdentity {
  return requireIdentity(config);
}

/** `--since`/`--until` as epoch ms: until defaults to `now`, since to `defaultSpanMs` before until. */
export function windowArgs(
  ctx: CliContext,
  now: number,
  defaultSpanMs: number,
): { since: number; until: number } {
  const until = ctx.args["until"] ? parseInstant(String(ctx.args["until"]), { now }).epochMs : now;
  const since = ctx.args["since"]
    ? parseInstant(String(ctx.args["since"]), { now }).epochMs
    : until - defaultSpanMs;
  return { since, until };
}
