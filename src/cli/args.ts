/** Typed readers of parsed command-line arguments (yargs gives `unknown`). */
import { parseDuration } from "../config/duration.js";
import type { Args } from "./main.js";

/** A repeatable option: undefined when absent, else every value as a string. */
export function strings(args: Args, name: string): string[] | undefined {
  const v = args[name];
  return Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : undefined;
}

export function optionalString(args: Args, name: string): string | undefined {
  const v = args[name];
  return typeof v === "string" ? v : undefined;
}

/** A duration option in ms, or `fallback` (a duration text) when absent. */
export function durationArg(args: Args, name: string, fallback: string): number {
  return parseDuration(String(args[name] ?? fallback), `--${name}`);
}
