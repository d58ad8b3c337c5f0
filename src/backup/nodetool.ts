/** Running nodetool for snapshots: the command is a string split on spaces (no shell, no quoting). */
import { execa } from "execa";
import { UsageError } from "../errors/base.js";
import { NodetoolError } from "./errors.js";

/** Runs nodetool with `args` and returns its stdout; throws NodetoolError on failure. */
export type NodetoolRunner = (args: readonly string[], signal?: AbortSignal) => Promise<string>;

export const DEFAULT_NODETOOL = "nodetool";

export function createNodetoolRunner(command: string = DEFAULT_NODETOOL): NodetoolRunner {
  const parts = command.split(" ").filter((p) => p.length > 0);
  const file = parts[0];
  if (!file) throw new NodetoolError([], "the nodetool command is empty");
  const prefix = parts.slice(1);
  return async (args, signal) => {
    let result;
    try {
      result = await execa(file, [...prefix, ...args], {
        reject: false,
        all: true,
        stdin: "ignore",
        ...(signal ? { cancelSignal: signal } : {}),
      });
    } catch (e) {
      throw new NodetoolError(args, e instanceof Error ? e.message.split("\n")[0]! : String(e), { cause: e });
    }
    if (result.failed || result.exitCode !== 0) {
      const lines = String(result.all ?? "")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !/^\s*at /.test(l));
      const detail = lines.find((l) => /error|exception|not found|failed/i.test(l)) ?? lines[lines.length - 1];
      const status = result.exitCode === undefined ? (result.signal ? `killed by ${result.signal}` : "failed") : `exit ${result.exitCode}`;
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
  for (const m of text.matchAll(/^([UD][NLJM])\s+(\S+)\s.*?\s([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s/gm)) {
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
