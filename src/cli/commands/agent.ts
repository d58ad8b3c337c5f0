import { runAgent } from "../../pipeline/agent.js";
import { appendEvent } from "../../pipeline/events.js";
import { defaultSpoolDir } from "../../pipeline/spool.js";
import { ConfigError } from "../../errors/base.js";
import { identityOf, openArchive } from "../context.js";
import { restoreCommandLine } from "../hooks.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  const identity = identityOf(config);
  const spoolDir = config.spoolDir ?? (config.commitlogDir ? defaultSpoolDir(config.commitlogDir) : undefined);
  if (!spoolDir) {
    throw new ConfigError("the agent needs spoolDir or commitlogDir", { hint: "set them in the config file (cassandra-pitr init writes both)" });
  }
  const once = ctx.args["once"] === true;
  let metrics: { close: () => Promise<void>; update: (s: import("../../pipeline/agent.js").AgentStats) => void } | undefined;
  if (config.metricsListen && !once) {
    const { startMetricsServer } = await import("../../pipeline/metrics.js");
    const { restorableFigures } = await import("../../catalog/figures.js");
    metrics = await startMetricsServer(config.metricsListen, identity, (nowMs) => restorableFigures(backend, identity, nowMs));
  }
  // Incremental backups on their own interval, one run at a time, never failing the agent.
  let lastIncremental = 0;
  let incrementalRunning: Promise<void> | undefined;
  const maybeIncrementals = async () => {
    const every = config.incrementalInterval;
    if (!every || !config.dataDir || incrementalRunning || Date.now() - lastIncremental < every) return;
    lastIncremental = Date.now();
    const { uploadIncrementals } = await import("../../backup/incremental.js");
    incrementalRunning = uploadIncrementals({ backend, identity, dataDir: config.dataDir, parallelism: config.parallelism, signal: ctx.signal })
      .then(
        (r) => appendEvent(config.logFile, { event: "incrementals", uploaded: r.sstablesUploaded }),
        (err: unknown) => appendEvent(config.logFile, { event: "incrementals-failed", error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => {
        incrementalRunning = undefined;
      });
    if (once) await incrementalRunning;
  };
  // Cluster snapshots and restores requested through the archive (docs/cluster-restore.md).
  const { createNodeActions } = await import("../../cluster/node-actions.js");
  const { stepClusterRestore, stepClusterSnapshots } = await import("../../cluster/node-agent.js");
  const nodeAgent = {
    backend,
    identity,
    signal: ctx.signal,
    actions: createNodeActions({ config, backend, identity, restoreCommand: restoreCommandLine((await ctx.config()).file), signal: ctx.signal }),
  };
  const passTasks = async () => {
    for (const tag of await stepClusterSnapshots(nodeAgent)) await appendEvent(config.logFile, { event: "cluster-snapshot", tag });
    const state = await stepClusterRestore(nodeAgent);
    if (state) await appendEvent(config.logFile, { event: "cluster-restore", state });
  };
  try {
    const stats = await runAgent(
      {
        backend,
        identity,
        spoolDir,
        commitlogDir: config.commitlogDir,
        parallelism: config.parallelism,
        compressionLevel: config.compressionLevel,
        compressionThreads: config.compressionThreads,
        sweepMinAgeMs: config.sweepMinAge,
        partialIntervalMs: config.partialInterval,
        logFile: config.logFile,
        signal: ctx.signal,
        passTasks,
      },
      {
        once,
        intervalMs: config.agentInterval,
        onPass: (s) => {
          metrics?.update(s);
          void maybeIncrementals();
        },
      },
    );
    await incrementalRunning;
    if (once) {
      ctx.out(`uploaded ${stats.uploaded}, swept ${stats.swept}, failed ${stats.failures}, still spooled ${stats.spoolCount}`);
      return stats.spoolCount > 0 || stats.failures > 0 ? "problems" : "ok";
    }
    return "ok";
  } finally {
    await metrics?.close();
    await backend.close();
  }
}
