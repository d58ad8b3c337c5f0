/**
 * `cassandra-pitr init`: discover the node identity once with nodetool, write the config file, and
 * print the exact commitlog_archiving.properties lines. The hooks never run nodetool themselves.
 */
import { existsSync, realpathSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { DEFAULT_CONFIG_PATH } from "../../config/schema.js";
import { ConfigError, PitrError } from "../../errors/base.js";
import { EXIT } from "../../errors/codes.js";
import type { CliContext } from "../main.js";

export interface DiscoveredNode {
  cluster: string;
  node: string;
  datacenter: string | undefined;
  cassandraVersion: string | undefined;
}

export async function runNodetool(command: string, args: string[]): Promise<string> {
  const [file, ...pre] = command.split(" ").filter((p) => p.length > 0);
  if (!file) throw new ConfigError("empty --nodetool command");
  const result = await execa(file, [...pre, ...args], { reject: false, all: true, timeout: 120_000 });
  if ((result as { code?: string }).code === "ENOENT") {
    throw new ConfigError(`nodetool command '${file}' not found`, { hint: "pass --nodetool with the full path (e.g. /opt/cassandra/bin/nodetool)" });
  }
  if (result.exitCode !== 0) {
    const detail = (result.all ?? "").split("\n").find((l) => l.trim().length > 0) ?? `exit ${result.exitCode}`;
    throw new PitrError("E_NODE_STATE", `nodetool ${args.join(" ")} failed: ${detail}`, {
      hint: "is the node running, and is --nodetool right (e.g. '/opt/cassandra/bin/nodetool -h 127.0.0.1')?",
    });
  }
  return result.stdout;
}

export function parseNodetoolInfo(info: string): { hostId: string; datacenter: string | undefined } {
  const hostId = /^ID\s*:\s*([0-9a-f-]{36})\s*$/m.exec(info)?.[1];
  if (!hostId) throw new PitrError("E_NODE_STATE", "nodetool info printed no host id", { hint: "has the node finished starting?" });
  return { hostId, datacenter: /^Data Center\s*:\s*(\S+)/m.exec(info)?.[1] };
}

export async function discoverNode(nodetool: string): Promise<DiscoveredNode> {
  const info = parseNodetoolInfo(await runNodetool(nodetool, ["info"]));
  const cluster = /^\s*Name:\s*(.+?)\s*$/m.exec(await runNodetool(nodetool, ["describecluster"]))?.[1];
  if (!cluster) throw new PitrError("E_NODE_STATE", "nodetool describecluster printed no cluster name");
  const version = /ReleaseVersion:\s*(\S+)/.exec(await runNodetool(nodetool, ["version"]))?.[1];
  return { cluster, node: info.hostId, datacenter: info.datacenter, cassandraVersion: version };
}

/** Where the installed hook executables are: beside this CLI's own entry point. */
export function hookPaths(): { archive: string; restore: string } {
  const binDir = join(dirname(fileURLToPath(import.meta.url)), "../../bin");
  const resolved = existsSync(binDir) ? realpathSync(binDir) : binDir;
  return { archive: join(resolved, "archive-hook.js"), restore: join(resolved, "restore-hook.js") };
}

function quoteYaml(value: string): string {
  return /^[A-Za-z0-9_./:@+-]+$/.test(value) ? value : JSON.stringify(value);
}

export function renderConfigFile(values: Record<string, string | undefined>): string {
  const lines = ["# cassandra-pitr configuration, written by 'cassandra-pitr init'.", "# Every setting can also come from --flag or CASSANDRA_PITR_<SETTING> (see docs/configuration.md)."];
  for (const [key, value] of Object.entries(values)) if (value !== undefined) lines.push(`${key}: ${quoteYaml(value)}`);
  return lines.join("\n") + "\n";
}

export async function run(ctx: CliContext): Promise<number> {
  const { config } = await ctx.config();
  const nodetool = (ctx.args["nodetool"] as string | undefined) ?? "nodetool";
  const target = (ctx.args["write"] as string | undefined) ?? (ctx.args["config"] as string | undefined) ?? ctx.env["CASSANDRA_PITR_CONFIG"] ?? DEFAULT_CONFIG_PATH;
  if (existsSync(target) && ctx.args["force"] !== true) {
    const current = await readFile(target, "utf8");
    throw new ConfigError(`config file '${target}' already exists (${current.split("\n").length} lines)`, { hint: "pass --force to overwrite it" });
  }
  const found = await discoverNode(nodetool);
  for (const [what, path] of [["commitlogDir", config.commitlogDir], ["spoolDir", config.spoolDir]] as const) {
    if (path?.includes(" ")) throw new ConfigError(`${what} '${path}' contains a space; Cassandra splits archive_command on spaces`);
  }
  const text = renderConfigFile({
    archive: config.archive,
    cluster: found.cluster,
    node: found.node,
    datacenter: found.datacenter,
    cassandraVersion: found.cassandraVersion,
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
  ctx.out(`wrote ${target}: cluster '${found.cluster}', node ${found.node}${found.datacenter ? `, dc ${found.datacenter}` : ""}${found.cassandraVersion ? `, Cassandra ${found.cassandraVersion}` : ""}`);
  ctx.out("");
  ctx.out("Put these lines in Cassandra's conf/commitlog_archiving.properties and restart the node:");
  ctx.out(`archive_command=${hooks.archive}${configArg} %path %name`);
  ctx.out("");
  ctx.out("Then run 'cassandra-pitr check' and start 'cassandra-pitr agent' (docs/agent.md).");
  if ([hooks.archive, target].some((p) => p.includes(" "))) {
    ctx.err("cassandra-pitr: warning: a path above contains a space; Cassandra splits archive_command on single spaces");
    return EXIT.PROBLEMS_FOUND;
  }
  return EXIT.OK;
}
