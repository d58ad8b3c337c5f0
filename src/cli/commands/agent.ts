import { runAgent } from "../../archive/agent.js";
import { defaultSpoolDir } from "../../archive/spool.js";
import { ConfigError } from "../../errors/base.js";
import { EXIT } from "../../errors/codes.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext } from "../main.js";

export async function run(ctx: CliContext): Promise<number> {
  const { config, backend } = await openArchive(ctx);
  const identity = identityOf(config);
  const spoolDir = config.spoolDir ?? (config.commitlogDir ? defaultSpoolDir(config.commitlogDir) : undefined);
  if (!spoolDir) {
    throw new ConfigError("the agent needs spoolDir or commitlogDir", { hint: "set them in the config file (cassandra-pitr init writes both)" });
  }
  const once = ctx.args["once"] === true;
  let metrics: { close: () => Promise<void>; update: (s: import("../../archive/agent.js").AgentStats) => void } | undefined;
  if (config.metricsListen && !once) {
    const { startMetricsServer } = await import("../../archive/metrics.js");
    metrics = await startMetricsServer(config.metricsListen, backend, identity);
  }
  try {
    const stats = await runAgent(
      {
        backend,
        identity,
        spoolDir,
        commitlogDir: config.commitlogDir,
        parallelism: config.parallelism,
        compressionLevel: config.compressionLevel,
        sweepMinAgeMs: config.sweepMinAge,
        logFile: config.logFile,
        signal: ctx.signal,
      },
      { once, intervalMs: config.agentInterval, onPass: (s) => metrics?.update(s) },
    );
    if (once) {
      ctx.out(`uploaded ${stats.uploaded}, swept ${stats.swept}, failed ${stats.failures}, still spooled ${stats.spoolCount}`);
      return stats.spoolCount > 0 || stats.failures > 0 ? EXIT.PROBLEMS_FOUND : EXIT.OK;
    }
    return EXIT.OK;
  } finally {
    await metrics?.close();
    await backend.close();
  }
}
