/**
 * `cassandra-pitr rescue`: on the host of a node that is down (crashed, or stopped and not to be
 * restarted), uploads the synced tail of every segment still in its commit log directory as partial
 * segments, so that its restorable window reaches its last synced write.
 */
import { rescueTail } from "../../pipeline/partial.js";
import { ConfigError } from "../../errors/base.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    if (!config.commitlogDir) {
      throw new ConfigError("rescue needs commitlogDir", {
        hint: "set it in the config file (cassandra-pitr init writes it) or pass --commitlog-dir",
      });
    }
    const pass = await rescueTail({
      backend,
      identity: identityOf(config),
      commitlogDir: config.commitlogDir,
      logFile: config.logFile,
      signal: ctx.signal,
    });
    const bytes = pass.uploads.reduce((n, u) => n + u.bytes, 0);
    if (pass.uploads.length === 0) {
      ctx.out(
        `nothing to rescue: every segment in '${config.commitlogDir}' is archived whole or holds no synced section`,
      );
      return "ok";
    }
    ctx.out(
      `rescued ${pass.uploads.length} partial object(s), ${bytes} bytes, from '${config.commitlogDir}'`,
    );
    for (const u of pass.uploads) ctx.out(`  ${u.key} (${u.bytes} bytes)`);
    return "ok";
  } finally {
    await backend.close();
  }
}
