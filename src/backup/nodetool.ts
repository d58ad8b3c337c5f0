/**
 * The one nodetool runner (snapshots, init's discovery, the restore's "is the node stopped" check):
 * the command is a string split on spaces (no shell, no quoting). A command that does not exist is
 * a configuration error (exit 2), never "the node is down": the restore relies on that difference.
 */
import { execa } from "execa";
import { ConfigError, PitrError, UsageError } from "../errors/base.js";
import { NodetoolError } from "./errors.js";

/** Runs nodetool with `args` and returns its stdout; throws NodetoolError on failure. */
export type NodetoolRunner = (args: readonly string[], signal?: AbortSignal) => Promise<string>;

export const DEFAULT_NODETOOL = "nodetool";

export interface NodetoolOptions {
  /** Kill a nodetool that has not answered by then (a JMX call to a hung node can block forever). */
  readonly timeoutMs?: number | undefined;
}

export function createNodetoolRunner(
  command: string = DEFAULT_NODETOOL,
  options: NodetoolOptions = {},
): NodetoolRunner {
  const parts = command.split(" ").filter((p) => p.length > 0);
  const file = parts[0];
  if (!file)
    throw new ConfigError("the nodetool command is empty", {
      hint: "set nodetool in the config file or pass --nodetool",
    });
  const prefix = parts.slice(1);
  return async (args, signal) => {
    let result;
    try {
      result = await execa(file, [...prefix, ...args], {
        reject: false,
        all: true,
        stdin: "ignore",
        ...(signal ? { cancelSignal: signal } : {}),
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      });
    } catch (e) {
      throw new NodetoolError(args, e instanceof Error ? e.message.split("\n")[0]! : String(e), { cause: e });
    }
    if ((result as { code?: string }).code === "ENOENT") {
      throw new ConfigError(`nodetool command '${file}' not found`, {
        hint: "set nodetool in the config file or pass --nodetool with the full path (e.g. /opt/cassandra/bin/nodetool)",
      });
    }
    if (result.timedOut) {
      // Not a NodetoolError: a node that does not answer in time may still be running.
      throw new PitrError(
        "E_NODE_STATE",
        `'nodetool ${args.join(" ")}' did not answer within ${Math.round((options.timeoutMs ?? 0) / 1000)} s`,
        {
          hint: "the node may be running but hung: check it, and stop it before a restore",
        },
      );
    }
    if (result.failed || result.exitCode !== 0) {
      const lines = String(result.all ?? "")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !/^\s*at /.test(l));
      const detail =
        lines.find((l) => /error|exception|not found|failed/i.test(l)) ?? lines[lines.length - 1];
      const status =
        result.exitCode === undefined
          ? result.signal
            ? `killed by ${result.signal}`
            : "failed"
          : `exit ${result.exitCode}`;
      throw new NodetoolError(args, detail === undefined ? `${status}, no output` : `${detail} (${status})`);
    }
    return String(result.stdout);
  };
}

/** One node of `nodetool status`: its state (UN, DN, UJ, ...), address and host id. */
export interface StatusNode {
  readonly state: string;
  readonly address: string;
  readonly hostId: string;
}

/** The nodes `nodetool status` lists, every datacenter. */
export function parseStatusNodes(text: string): StatusNode[] {
  const out: StatusNode[] = [];
  for (const m of text.matchAll(
    /^([UD][NLJM])\s+(\S+)\s.*?\s([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s/gm,
  )) {
    out.push({ state: m[1]!, address: m[2]!, hostId: m[3]! });
  }
  return out;
}

/** Tokens from `nodetool info -T` ("Token : <n>" lines); empty when none are printed. */
export function parseInfoTokens(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^Token\s*:\s*(-?\d+)\s*$/gm)) out.push(m[1]!);
  return out;
}

/** `nodetool snapshot` arguments for a tag and a scope (keyspaces and keyspace.table entries). */
export function snapshotArgs(tag: string, scope: readonly string[]): string[] {
  const tables = scope.filter((s) => s.includes("."));
  const keyspaces = scope.filter((s) => !s.includes("."));
  if (tables.length > 0 && keyspaces.length > 0) {
    throw new UsageError("a snapshot scope is either keyspaces or keyspace.table entries, not both", {
      hint: "run one snapshot per kind of scope, or name every table as keyspace.table",
    });
  }
  if (tables.length === 1) return ["snapshot", "-t", tag, "-kt", tables[0]!];
  if (tables.length > 1) return ["snapshot", "-t", tag, "--kt-list", tables.join(",")];
  return ["snapshot", "-t", tag, ...keyspaces];
}

/** What `init` learns from the running node: its identity and release. */
export interface DiscoveredNode {
  readonly cluster: string;
  readonly node: string;
  readonly datacenter: string | undefined;
  readonly cassandraVersion: string | undefined;
}

export function parseNodetoolInfo(info: string): { hostId: string; datacenter: string | undefined } {
  const hostId = /^ID\s*:\s*([0-9a-f-]{36})\s*$/m.exec(info)?.[1];
  if (!hostId)
    throw new PitrError("E_NODE_STATE", "nodetool info printed no host id", {
      hint: "has the node finished starting?",
    });
  return { hostId, datacenter: /^Data Center\s*:\s*(\S+)/m.exec(info)?.[1] };
}

export async function discoverNode(nodetool: NodetoolRunner, signal?: AbortSignal): Promise<DiscoveredNode> {
  const info = parseNodetoolInfo(await nodetool(["info"], signal));
  const cluster = /^\s*Name:\s*(.+?)\s*$/m.exec(await nodetool(["describecluster"], signal))?.[1];
  if (!cluster) throw new PitrError("E_NODE_STATE", "nodetool describecluster printed no cluster name");
  const version = /ReleaseVersion:\s*(\S+)/.exec(await nodetool(["version"], signal))?.[1];
  return { cluster, node: info.hostId, datacenter: info.datacenter, cassandraVersion: version };
}

/**
 * Whether the node answers nodetool (the restore refuses to touch a running node). A missing
 * nodetool rethrows: then we cannot tell, and we do not guess "stopped".
 */
export async function nodeAnswers(nodetool: NodetoolRunner, signal?: AbortSignal): Promise<boolean> {
  try {
    await nodetool(["info"], signal);
    return true;
  } catch (err) {
    // Only "nodetool ran and the node did not answer" means stopped; a missing command or a
    // timeout cannot tell, and a restore must not guess.
    if (err instanceof NodetoolError) return false;
    throw err;
  }
}
