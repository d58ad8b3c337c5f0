/**
 * `cassandra-pitr init`: discover the node identity once with nodetool (or take it from --node and
 * --cluster for a node that is not running yet), write the config file, and
 * print the exact commitlog_archiving.properties lines. The hooks never run nodetool themselves.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  createNodetoolRunner,
  DEFAULT_NODETOOL,
  discoverNode,
  type DiscoveredNode,
} from "../../backup/nodetool.js";
import { DEFAULT_CONFIG_PATH, type Config } from "../../config/schema.js";
import { ConfigError } from "../../errors/base.js";
import { optionalString } from "../args.js";
import { hookPaths } from "../hooks.js";
import type { CliContext, CommandOutcome } from "../main.js";

function quoteYaml(value: string): string {
  return /^[A-Za-z0-9_./:@+-]+$/.test(value) ? value : JSON.stringify(value);
}

export function renderConfigFile(values: Record<string, string | undefined>): string {
  const lines = [
    "# cassandra-pitr configuration, written by 'cassandra-pitr init'.",
    "# Every setting can also come from --flag or CASSANDRA_PITR_<SETTING> (see docs/configuration.md).",
  ];
  for (const [key, value] of Object.entries(values))
    if (value !== undefined) lines.push(`${key}: ${quoteYaml(value)}`);
  return lines.join("\n") + "\n";
}

/**
 * The node's identity: from nodetool on the running node; or, for a node that is not running yet
 * (a replacement rebuilt from its archive keeps its old host id), from --node and --cluster.
 */
async function identityFor(ctx: CliContext, config: Config): Promise<DiscoveredNode> {
  if (ctx.args["node"] === undefined)
    return discoverNode(createNodetoolRunner(config.nodetool, { timeoutMs: 120_000 }), ctx.signal);
  if (!config.cluster || !config.node)
    throw new ConfigError("--node needs --cluster: an identity given by hand has both", {
      hint: "the cluster's name and the node's host id are in 'cassandra-pitr list --cluster' and 'nodetool status' on a live node",
    });
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(config.node))
    throw new ConfigError(`--node '${config.node}' is not a host id (a UUID)`, {
      hint: "copy it from 'nodetool status' on a live node (the dead node's line) or 'cassandra-pitr list --cluster'",
    });
  return {
    cluster: config.cluster,
    node: config.node,
    datacenter: config.datacenter,
    cassandraVersion: config.cassandraVersion,
  };
}

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  // The file init is asked to write may not exist yet: that is the normal case, not an error.
  const { config } = await ctx.config({ missingFileOk: true });
  const target =
    optionalString(ctx.args, "write") ??
    optionalString(ctx.args, "config") ??
    ctx.env["CASSANDRA_PITR_CONFIG"] ??
    DEFAULT_CONFIG_PATH;
  if (existsSync(target) && ctx.args["force"] !== true) {
    const current = await readFile(target, "utf8");
    throw new ConfigError(`config file '${target}' already exists (${current.split("\n").length} lines)`, {
      hint: "pass --force to overwrite it",
    });
  }
  for (const [what, path] of [
    ["commitlogDir", config.commitlogDir],
    ["spoolDir", config.spoolDir],
  ] as const) {
    if (path?.includes(" "))
      throw new ConfigError(`${what} '${path}' contains a space; Cassandra splits archive_command on spaces`);
  }
  const found = await identityFor(ctx, config);
  const text = renderConfigFile({
    archive: config.archive,
    cluster: found.cluster,
    node: found.node,
    datacenter: found.datacenter,
    cassandraVersion: found.cassandraVersion,
    // Kept when it is not the default, so later commands need no --nodetool.
    nodetool: config.nodetool === DEFAULT_NODETOOL ? undefined : config.nodetool,
    commitlogDir: config.commitlogDir,
    dataDir: config.dataDir,
    cassandraConf: config.cassandraConf,
    spoolDir: config.spoolDir,
    logFile: config.logFile,
  });
  await mkdir(dirname(target), { recursive: true });
  // 0600: the file may hold credentials (an az:// SAS token); chmod too, as --force keeps the old mode.
  await writeFile(target, text, { mode: 0o600 });
  await chmod(target, 0o600);
  const hooks = hookPaths();
  const configArg = target === DEFAULT_CONFIG_PATH ? "" : ` --config=${target}`;
  ctx.out(
    `wrote ${target}: cluster '${found.cluster}', node ${found.node}${found.datacenter ? `, dc ${found.datacenter}` : ""}${found.cassandraVersion ? `, Cassandra ${found.cassandraVersion}` : ""}`,
  );
  ctx.out("");
  ctx.out("Put these lines in Cassandra's conf/commitlog_archiving.properties and restart the node:");
  ctx.out(`archive_command=${hooks.archive}${configArg} %path %name`);
  ctx.out("");
  ctx.out("Then run 'cassandra-pitr check' and start 'cassandra-pitr agent' (docs/agent.md).");
  if ([hooks.archive, target].some((p) => p.includes(" "))) {
    ctx.err(
      "cassandra-pitr: warning: a path above contains a space; Cassandra splits archive_command on single spaces",
    );
    return "problems";
  }
  return "ok";
}
