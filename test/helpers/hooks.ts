/** Runs the compiled hooks and CLI exactly as Cassandra or a user would: argv, no shell. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { REPO } from "./cassandra.js";

export const ARCHIVE_HOOK = join(REPO, "dist/bin/archive-hook.js");
export const RESTORE_HOOK = join(REPO, "dist/bin/restore-hook.js");
export const CLI = join(REPO, "dist/bin/cli.js");

export interface Ran {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Non-empty stdout+stderr lines. */
  readonly lines: string[];
}

/** An environment with nothing of the developer's cassandra-pitr settings leaking in. */
export function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CASSANDRA_PITR_")) env[k] = v;
  for (const [k, v] of Object.entries(extra))
    if (v === undefined) delete env[k];
    else env[k] = v;
  return env;
}

export async function runNode(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<Ran> {
  const r = await execa(process.execPath, [script, ...args], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 120_000,
    ...(input === undefined ? { stdin: "ignore" as const } : { input }),
  });
  const stdout = String(r.stdout ?? "");
  const stderr = String(r.stderr ?? "");
  const lines = (stdout + "\n" + stderr).split("\n").filter((l) => l.trim().length > 0);
  return { exitCode: r.exitCode ?? -1, stdout, stderr, lines };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `cassandra-pitr-${prefix}-`));
}
