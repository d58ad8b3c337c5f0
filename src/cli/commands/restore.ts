/**
 * `cassandra-pitr restore --at T [scope] [--dry-run] [--replica-lost]` applies a plan to the stopped
 * node (or resumes an interrupted one to the same T), after the single-replica guard
 * (restore/replica-guard.ts); `cassandra-pitr restore finish` removes every restore setting
 * once the node has replayed; `cassandra-pitr restore abort` rolls back an interrupted restore.
 * With `--cluster [NAME]`: the whole cluster through its agents (cli/restore-cluster.ts).
 */
import { join, dirname } from "node:path";
import { compactTime } from "../../format/layout.js";
import { listNodes } from "../../catalog/nodes.js";
import { createNodetoolRunner, nodeAnswers, type NodetoolRunner } from "../../backup/nodetool.js";
import { SYSTEM_KEYSPACES } from "../../backup/local.js";
import type { Config } from "../../config/schema.js";
import type { Backend } from "../../storage/types.js";
import { ConfigError, PitrError, UsageError } from "../../errors/base.js";
import { recordBranch } from "../../restore/branches.js";
import { terminalProgress } from "../../restore/fetch-phase.js";
import { abortRestore, executeRestore, finishRestore } from "../../restore/executor.js";
import { renderPlanText } from "../../restore/plan-text.js";
import { checkReplicaGuard, loadCqlCredentials } from "../../restore/replica-guard.js";
import { DEFAULT_GRACE, preparePlan, type PlanRequestInput } from "../../restore/prepare.js";
import { readReplaceState, REPLACE_STATE_FILE } from "../../restore/replace.js";
import { parseInstant } from "../../restore/time.js";
import { durationArg, optionalString, strings } from "../args.js";
import { identityOf, openArchive } from "../context.js";
import { restoreCommandLine } from "../hooks.js";
import type { CliContext, CommandOutcome } from "../main.js";
import { runClusterRestore, wantsCluster } from "../restore-cluster.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    if (wantsCluster(ctx)) return await runClusterRestore(ctx, config, backend);
    if (ctx.args["action"] === "status" || ctx.args["action"] === "resume") {
      throw new UsageError(`'restore ${String(ctx.args["action"])}' is for a cluster restore`, {
        hint: "add --cluster",
      });
    }
    if (!config.cassandraConf)
      throw new ConfigError("cassandraConf (Cassandra's conf directory) is not set", {
        hint: "set it in the config file or pass --cassandra-conf",
      });
    const node: NodeAccess = {
      cassandraConf: config.cassandraConf,
      nodetool: createNodetoolRunner(config.nodetool, { timeoutMs: 120_000 }),
      dryRun: ctx.args["dryRun"] === true,
    };
    if (ctx.args["action"] === "finish") await finish(ctx, config, backend, node);
    else if (ctx.args["action"] === "abort") {
      await abortRestore({
        cassandraConf: node.cassandraConf,
        isNodeRunning: () => nodeAnswers(node.nodetool, ctx.signal),
        say: ctx.out,
        dryRun: node.dryRun,
      });
    } else await restore(ctx, config, backend, node);
    return "ok";
  } finally {
    await backend.close();
  }
}

/** The node a restore works on: its conf directory, how to ask whether it runs, and whether to change anything. */
interface NodeAccess {
  readonly cassandraConf: string;
  readonly nodetool: NodetoolRunner;
  readonly dryRun: boolean;
}

async function finish(ctx: CliContext, config: Config, backend: Backend, node: NodeAccess): Promise<void> {
  const identity = identityOf(config);
  await finishRestore({
    cassandraConf: node.cassandraConf,
    isNodeRunning: () => nodeAnswers(node.nodetool, ctx.signal),
    say: ctx.out,
    dryRun: node.dryRun,
    recordBranch: (branch, tables) => recordBranch(backend, identity, branch, tables, ctx.signal),
  });
}

/**
 * On a single-node replacement (restore/replace.ts) a whole-node restore covers the snapshot's user
 * tables only, replayed with -Dcassandra.replayList as a drill does: the node has a new host id,
 * and the dead node's system-table mutations (its system.local, peers, batchlog) are not its own.
 */
async function singleNodeScope(
  ctx: CliContext,
  node: NodeAccess,
  request: PlanRequestInput,
): Promise<PlanRequestInput> {
  if (request.keyspaces?.length || request.tables?.length) return request;
  if (!(await readReplaceState(node.cassandraConf))?.single_node) return request;
  const probe = await preparePlan(request);
  const tables = probe.scope.tables
    .filter((t) => !SYSTEM_KEYSPACES.has(t.keyspace))
    .map((t) => `${t.keyspace}.${t.table}`);
  if (tables.length === 0)
    throw new PitrError(
      "E_PLAN_REFUSED",
      `the snapshot a restore to ${probe.cutoff.value} starts from holds no user table to restore onto this new node`,
      { hint: "choose an instant after a snapshot of the user keyspaces ('cassandra-pitr list')" },
    );
  ctx.out(
    `a single-node replacement is prepared ('${join(node.cassandraConf, REPLACE_STATE_FILE)}'): the restore covers the snapshot's ${tables.length} user table(s), so that the dead node's system tables are not replayed into this node's own`,
  );
  return { ...request, tables };
}

/** The single-replica guard (restore/replica-guard.ts) for the plan's scope: its lines, or a refusal. */
async function guard(
  ctx: CliContext,
  config: Config,
  backend: Backend,
  node: NodeAccess,
  plan: Awaited<ReturnType<typeof preparePlan>>,
): Promise<string[]> {
  const replicaLost = ctx.args["replicaLost"] === true;
  return checkReplicaGuard({
    cassandraConf: node.cassandraConf,
    self: identityOf(config).node,
    scope:
      plan.scope.kind === "node"
        ? { kind: "node" }
        : { kind: "keyspaces", keyspaces: [...new Set(plan.scope.tables.map((t) => t.keyspace))] },
    replicaLost,
    ringFrom: strings(ctx.args, "ringFrom"),
    archivedNodes: () => listNodes(backend, identityOf(config).cluster, { signal: ctx.signal }),
    signal: ctx.signal,
    credentials: replicaLost ? undefined : await loadCqlCredentials(config, process.env),
  });
}

/** Plan, print the plan, pass the single-replica guard, then apply (or, with --dry-run, say what would be done). */
async function restore(ctx: CliContext, config: Config, backend: Backend, node: NodeAccess): Promise<void> {
  if (ctx.args["at"] === undefined)
    throw new UsageError("restore needs --at (or the action 'finish')", {
      hint: "cassandra-pitr plan --at T first, then restore --at T",
    });
  if (!config.dataDir || !config.commitlogDir)
    throw new ConfigError("dataDir and commitlogDir must be set for a restore", {
      hint: "cassandra-pitr init writes them",
    });
  const identity = identityOf(config);
  const restoreCommand = restoreCommandLine((await ctx.config()).file);
  const request: PlanRequestInput = {
    backend,
    identity,
    at: parseInstant(String(ctx.args["at"]), { now: Date.now() }),
    graceMs: durationArg(ctx.args, "grace", DEFAULT_GRACE),
    keyspaces: strings(ctx.args, "keyspace"),
    tables: strings(ctx.args, "table"),
    targetVersion: optionalString(ctx.args, "targetVersion") ?? config.cassandraVersion,
    restoreCommand,
    now: Date.now(),
    signal: ctx.signal,
  };
  const plan = await preparePlan(await singleNodeScope(ctx, node, request));
  ctx.out(renderPlanText(plan, ctx.args["acceptCassandraFilter"] === true));
  ctx.out("");
  for (const line of await guard(ctx, config, backend, node, plan)) ctx.out(line);
  const now = Date.now();
  const restoreDir =
    (ctx.args["restoreDir"] as string | undefined) ??
    join(dirname(config.commitlogDir), `cassandra-pitr-restore-${compactTime(now).replace(/\./g, "")}`);
  if (restoreDir.includes(" "))
    throw new UsageError(`restore directory '${restoreDir}' contains a space`, {
      hint: "Cassandra splits restore_directories on commas and the command on spaces",
    });
  await executeRestore({
    plan,
    backend,
    archiveUrl: config.archive,
    identity,
    paths: { dataDir: config.dataDir, commitlogDir: config.commitlogDir, cassandraConf: node.cassandraConf },
    restoreDir,
    restoreCommand,
    stubs: ctx.args["stubs"] === true,
    acceptCassandraFilter: ctx.args["acceptCassandraFilter"] === true,
    dryRun: node.dryRun,
    isNodeRunning: () => nodeAnswers(node.nodetool, ctx.signal),
    say: ctx.out,
    now,
    parallelism: config.parallelism,
    signal: ctx.signal,
    progress: node.dryRun ? undefined : terminalProgress(process.stderr),
  });
}
