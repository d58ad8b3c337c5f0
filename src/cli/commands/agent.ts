import { runAgent, type AgentStats } from "../../pipeline/agent.js";
import { unfinishedUploadMinAge } from "../../pipeline/unfinished-uploads.js";
import type { Config } from "../../config/schema.js";
import type { NodeIdentity } from "../../format/layout.js";
import type { Backend } from "../../storage/types.js";
import { appendEvent } from "../../pipeline/events.js";
import { defaultSpoolDir } from "../../pipeline/spool.js";
import { ConfigError } from "../../errors/base.js";
import { readCassandraYaml } from "../../backup/cassandra-yaml.js";
import { identityOf, openArchive } from "../context.js";
import { restoreCommandLine } from "../hooks.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  const identity = identityOf(config);
  const spoolDir =
    config.spoolDir ?? (config.commitlogDir ? defaultSpoolDir(config.commitlogDir) : undefined);
  if (!spoolDir) {
    throw new ConfigError("the agent needs spoolDir or commitlogDir", {
      hint: "set them in the config file (cassandra-pitr init writes both)",
    });
  }
  const once = ctx.args["once"] === true;
  const metrics =
    config.metricsListen && !once ? await startMetrics(config.metricsListen, backend, identity) : undefined;
  const incrementals = incrementalSchedule(ctx, config, backend, identity, once);
  const passTasks = await clusterPassTasks(ctx, config, backend, identity);
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
        unfinishedUploadMinAgeMs: unfinishedUploadMinAge(config.hookTimeout),
        partialIntervalMs: config.partialInterval,
        visibleTail: await mappedSegments(config),
        logFile: config.logFile,
        signal: ctx.signal,
        passTasks,
      },
      {
        once,
        intervalMs: config.agentInterval,
        onPass: (s) => {
          metrics?.update(s);
          void incrementals.maybe();
        },
      },
    );
    await incrementals.running();
    if (!once) return "ok";
    ctx.out(
      `uploaded ${stats.uploaded}, swept ${stats.swept}, failed ${stats.failures}, still spooled ${stats.spoolCount}` +
        (stats.uploadsAborted > 0 ? `, unfinished uploads aborted ${stats.uploadsAborted}` : ""),
    );
    return stats.spoolCount > 0 || stats.failures > 0 ? "problems" : "ok";
  } finally {
    await metrics?.close();
    await backend.close();
  }
}

async function startMetrics(
  listen: string,
  backend: Backend,
  identity: NodeIdentity,
): Promise<{ close: () => Promise<void>; update: (s: AgentStats) => void }> {
  const { startMetricsServer } = await import("../../pipeline/metrics.js");
  const { restorableFigures } = await import("../../catalog/figures.js");
  return startMetricsServer(listen, identity, (nowMs) => restorableFigures(backend, identity, nowMs));
}

/** Incremental backups on their own interval, one run at a time, never failing the agent. */
function incrementalSchedule(
  ctx: CliContext,
  config: Config,
  backend: Backend,
  identity: NodeIdentity,
  once: boolean,
): { maybe: () => Promise<void>; running: () => Promise<void> | undefined } {
  let lastIncremental = 0;
  let incrementalRunning: Promise<void> | undefined;
  const maybe = async () => {
    const every = config.incrementalInterval;
    if (!every || !config.dataDir || incrementalRunning || Date.now() - lastIncremental < every) return;
    lastIncremental = Date.now();
    const { uploadIncrementals } = await import("../../backup/incremental.js");
    incrementalRunning = uploadIncrementals({
      backend,
      identity,
      dataDir: config.dataDir,
      parallelism: config.parallelism,
      signal: ctx.signal,
    })
      .then(
        (r) => appendEvent(config.logFile, { event: "incrementals", uploaded: r.sstablesUploaded }),
        (err: unknown) =>
          appendEvent(config.logFile, {
            event: "incrementals-failed",
            error: err instanceof Error ? err.message : String(err),
          }),
      )
      .finally(() => {
        incrementalRunning = undefined;
      });
    if (once) await incrementalRunning;
  };
  return { maybe, running: () => incrementalRunning };
}

/** Cluster snapshots and restores requested through the archive (docs/cluster-restore.md), run in each pass. */
async function clusterPassTasks(
  ctx: CliContext,
  config: Config,
  backend: Backend,
  identity: NodeIdentity,
): Promise<() => Promise<void>> {
  const { createNodeActions } = await import("../../cluster/node-actions.js");
  const { stepClusterRestore, stepClusterSnapshots } = await import("../../cluster/node-agent.js");
  const nodeAgent = {
    backend,
    identity,
    signal: ctx.signal,
    actions: createNodeActions({
      config,
      backend,
      identity,
      restoreCommand: restoreCommandLine((await ctx.config()).file),
      signal: ctx.signal,
    }),
  };
  return async () => {
    for (const tag of await stepClusterSnapshots(nodeAgent))
      await appendEvent(config.logFile, { event: "cluster-snapshot", tag });
    const state = await stepClusterRestore(nodeAgent);
    if (state) await appendEvent(config.logFile, { event: "cluster-restore", state });
  };
}

/**
 * Whether the node memory-maps its uncompressed segments, so that a mutation not yet synced shows in
 * the file (pipeline/sync-watch.ts): commitlog_disk_access_mode unset, `legacy` or `mmap`. Unknown
 * (no cassandraConf, unreadable cassandra.yaml) counts as no: the watch then proves less, never more.
 */
async function mappedSegments(config: Config): Promise<boolean> {
  if (!config.cassandraConf) return false;
  const yaml = await readCassandraYaml(config.cassandraConf).catch(() => undefined);
  const mode = yaml?.commitlogDiskAccessMode;
  return yaml !== undefined && (mode === undefined || mode === "legacy" || mode === "mmap");
}
