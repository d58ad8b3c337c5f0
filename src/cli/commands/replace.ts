/**
 * `cassandra-pitr replace --at T [--address A]` prepares a node whose disks were lost to take over its
 * old place (restore/replace.ts); `cassandra-pitr replace finish` removes the replacement's JVM
 * options once the node has joined with its old host id.
 */
import { readCassandraYaml } from "../../backup/cassandra-yaml.js";
import {
  createNodetoolRunner,
  nodeAnswers,
  parseNodetoolInfo,
  type NodetoolRunner,
} from "../../backup/nodetool.js";
import type { Config } from "../../config/schema.js";
import type { Backend } from "../../storage/types.js";
import { ConfigError, UsageError } from "../../errors/base.js";
import { listNodes } from "../../catalog/nodes.js";
import { contactPointsOf } from "../../restore/replica-guard.js";
import { DEFAULT_GRACE, preparePlan } from "../../restore/prepare.js";
import { finishReplacement, prepareReplacement } from "../../restore/replace.js";
import { parseInstant } from "../../restore/time.js";
import { durationArg, optionalString } from "../args.js";
import { identityOf, openArchive } from "../context.js";
import { restoreCommandLine } from "../hooks.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  const nodetool = createNodetoolRunner(config.nodetool, { timeoutMs: 120_000 });
  try {
    const cassandraConf = config.cassandraConf;
    if (!cassandraConf)
      throw new ConfigError("cassandraConf (Cassandra's conf directory) is not set", {
        hint: "set it in the config file or pass --cassandra-conf",
      });
    if (ctx.args["action"] === "finish") {
      const hostId = async () =>
        (await nodeAnswers(nodetool, ctx.signal))
          ? parseNodetoolInfo(await nodetool(["info"], ctx.signal)).hostId
          : undefined;
      await finishReplacement({ cassandraConf, hostId, dryRun: ctx.args["dryRun"] === true, say: ctx.out });
      return "ok";
    }
    await prepare(ctx, config, backend, nodetool, cassandraConf);
    return "ok";
  } finally {
    await backend.close();
  }
}

/** `replace --at T`: plans the restore to T and places the schema of its base snapshot. */
async function prepare(
  ctx: CliContext,
  config: Config,
  backend: Backend,
  nodetool: NodetoolRunner,
  cassandraConf: string,
): Promise<void> {
  const dryRun = ctx.args["dryRun"] === true;
  if (ctx.args["at"] === undefined)
    throw new UsageError("replace needs --at (the instant the node is rebuilt to)", {
      hint: "the schema placed is the one of the snapshot a restore to that instant starts from",
    });
  if (!config.dataDir || !config.commitlogDir)
    throw new ConfigError("dataDir and commitlogDir must be set for a replacement", {
      hint: "cassandra-pitr init --node <host id> --cluster <name> writes them",
    });
  const singleNode = ctx.args["singleNode"] === true;
  const yaml = await readCassandraYaml(cassandraConf);
  const address = optionalString(ctx.args, "address") ?? yaml.address ?? "";
  // A single-node replacement writes no replace_address option, so it needs no address.
  if (!address && !singleNode)
    throw new ConfigError(
      "the node's address is unknown: cassandra.yaml sets neither broadcast_address nor listen_address",
      { hint: "pass --address, the address the dead node had" },
    );
  const identity = identityOf(config);
  const plan = await preparePlan({
    backend,
    identity,
    at: parseInstant(String(ctx.args["at"]), { now: Date.now() }),
    graceMs: durationArg(ctx.args, "grace", DEFAULT_GRACE),
    keyspaces: [],
    tables: [],
    targetVersion: optionalString(ctx.args, "targetVersion") ?? config.cassandraVersion,
    restoreCommand: restoreCommandLine((await ctx.config()).file),
    now: Date.now(),
    signal: ctx.signal,
  });
  await prepareReplacement({
    plan,
    backend,
    identity,
    paths: { dataDir: config.dataDir, commitlogDir: config.commitlogDir, cassandraConf },
    address,
    isNodeRunning: () => nodeAnswers(nodetool, ctx.signal),
    singleNode,
    ownSeedOnly: contactPointsOf(yaml).length === 0,
    clusterNodes: () => listNodes(backend, identity.cluster, { signal: ctx.signal }),
    dryRun,
    say: ctx.out,
    signal: ctx.signal,
  });
  if (!dryRun)
    ctx.out(
      `next: cassandra-pitr restore --at ${String(ctx.args["at"])}${singleNode ? "" : " --replica-lost"}, start Cassandra, cassandra-pitr restore finish, cassandra-pitr replace finish`,
    );
}
