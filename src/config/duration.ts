import { ConfigError } from "../errors/base.js";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses "500ms", "20s", "15m", "1h30m", "7d", "2w" into milliseconds. A bare number is seconds.
 * `what` names the setting in the error.
 */
export function parseDuration(text: string, what: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = re.exec(s); match; match = re.exec(s)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    consumed = re.lastIndex;
  }
  if (s.length === 0 || consumed !== s.length) {
    throw new ConfigError(`${what}: '${text}' is not a duration`, {
      hint: "use e.g. 500ms, 20s, 15m, 1h30m, 7d",
    });
  }
  return Math.round(total);
}

/** 90061000 → "1d1h1m1s"; 0 → "0s"; sub-second values keep their milliseconds. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(Math.round(ms));
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return sign + out;
}
