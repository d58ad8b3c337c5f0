/**
 * Measuring child processes: wall time from the runner (hrtime around spawn → exit), and the child's
 * peak RSS and CPU time (user + system, all threads) from GNU time (`/usr/bin/time -f '%M %U %S'`,
 * reported by wait4 for the child, not the runner). CPU time shows how much of the machine a row
 * uses: above its wall time, it ran on more than one core. GNU time gives it in 10 ms steps.
 * Every command, product or baseline, runs under the same wrapper, so its small cost is shared.
 */
import { spawn } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";

export const TIME_BIN = "/usr/bin/time";

export interface ChildRun {
  readonly wallMs: number;
  readonly peakRssKiB: number;
  readonly cpuMs: number;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly cwd?: string | undefined;
  /** Where GNU time writes the RSS figure. */
  readonly scratch: string;
  /** File to receive the child's stdout (default: discarded). */
  readonly stdoutFd?: number | undefined;
}

let seq = 0;

export async function runChild(cmd: string, args: readonly string[], options: RunOptions): Promise<ChildRun> {
  const rssFile = join(options.scratch, `.rss-${process.pid}-${seq++}`);
  const stderr: Buffer[] = [];
  const started = process.hrtime.bigint();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(TIME_BIN, ["-f", "%M %U %S", "-o", rssFile, cmd, ...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ["ignore", options.stdoutFd ?? "ignore", "pipe"],
    });
    child.stderr!.on("data", (c: Buffer) => stderr.push(c));
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const err = Buffer.concat(stderr).toString("utf8").trim();
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err}`);
  // The product's hooks must print nothing on success; anything on stderr is a failed measurement.
  if (err.length > 0) throw new Error(`${cmd} ${args.join(" ")} printed on stderr: ${err}`);
  const text = (await readFile(rssFile, "utf8")).trim().split("\n").at(-1) ?? "";
  await rm(rssFile, { force: true });
  const [rss, user, system] = text.split(" ").map(Number);
  if (
    rss === undefined ||
    user === undefined ||
    system === undefined ||
    ![rss, user, system].every(Number.isFinite)
  ) {
    throw new Error(`GNU time gave no RSS and CPU figures: '${text}'`);
  }
  return { wallMs, peakRssKiB: rss, cpuMs: (user + system) * 1000 };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // nearest-rank
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface Summary {
  readonly runs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly peakRssMiB: number;
  /** CPU time (user + system) of the median run by CPU. */
  readonly cpuP50Ms: number;
}

export function summarize(runs: readonly ChildRun[]): Summary {
  const wall = runs.map((r) => r.wallMs);
  return {
    runs: runs.length,
    p50Ms: percentile(wall, 50),
    p95Ms: percentile(wall, 95),
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssKiB)) / 1024,
    cpuP50Ms: percentile(
      runs.map((r) => r.cpuMs),
      50,
    ),
  };
}

export const MiB = 1024 * 1024;

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return "n/a";
  return n.toFixed(digits);
}
