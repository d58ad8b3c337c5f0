/**
 * Instants as users type them, to microsecond precision (Cassandra's client timestamps are µs):
 *
 *   2026-11-21T08:30:12.123456Z, 2026-11-21T09:30:12+01:00   ISO-8601 with a zone (Z or ±HH:MM)
 *   2026:11:21 08:30:12[.SSS[SSS]]                             Cassandra's restore_point_in_time (UTC)
 *   1795250400411 (13 digits: ms), 1795250400411000 (16: µs)   epoch numbers
 *   now, now-15m, now-2h30m                                    relative to the injected "now"
 *
 * A time without a zone is refused: at 3 a.m. nobody should have to guess which clock was meant.
 */
import { parseDuration } from "../config/duration.js";
import { PitrError } from "../errors/base.js";

export class BadTimeError extends PitrError {
  override name = "BadTimeError";
  constructor(text: string, detail: string) {
    super("E_BAD_TIME", `'${text}' is not a time I can use: ${detail}`, {
      hint: "use ISO-8601 with a zone (2026-11-21T08:30:12.5Z), Cassandra's 'yyyy:MM:dd HH:mm:ss[.SSSSSS]' (UTC), or epoch ms/µs",
    });
  }
}

export interface Instant {
  /** Microseconds since the epoch (UTC). */
  readonly epochMicros: bigint;
  /** Milliseconds since the epoch, truncated. */
  readonly epochMs: number;
  /** The finest unit the user wrote. */
  readonly precision: "s" | "ms" | "us";
}

function fromParts(text: string, y: string, mo: string, d: string, h: string, mi: string, s: string, frac: string | undefined, offsetMin: number): Instant {
  const year = +y, month = +mo, day = +d, hour = +h, minute = +mi, second = +s;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new BadTimeError(text, "a field is out of range");
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) throw new BadTimeError(text, "no such date");
  if (frac !== undefined && frac.length > 6) throw new BadTimeError(text, "more than 6 fractional digits (Cassandra keeps µs)");
  const micros = frac === undefined ? 0n : BigInt(frac.padEnd(6, "0"));
  const epochMicros = BigInt(ms - offsetMin * 60_000) * 1000n + micros;
  const precision = frac === undefined ? "s" : frac.length <= 3 ? "ms" : "us";
  return { epochMicros, epochMs: Number(epochMicros / 1000n), precision };
}

export function instantFromMicros(epochMicros: bigint): Instant {
  return { epochMicros, epochMs: Number(epochMicros / 1000n), precision: "us" };
}

export function parseInstant(input: string, options: { now: number }): Instant {
  const text = input.trim();
  let m = /^now(?:\s*-\s*(.+))?$/i.exec(text);
  if (m) {
    let back = 0;
    if (m[1]) {
      try {
        back = parseDuration(m[1], "time");
      } catch {
        throw new BadTimeError(input, `'${m[1]}' is not a duration`);
      }
    }
    return { ...instantFromMicros(BigInt(options.now - back) * 1000n), precision: "ms" };
  }
  m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  if (m) {
    const zone = m[8];
    if (!zone) throw new BadTimeError(input, "it has no zone; add Z for UTC or an offset such as +01:00");
    const sign = zone.startsWith("-") ? -1 : 1;
    const offset = zone.toUpperCase() === "Z" ? 0 : sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
    return fromParts(input, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7], offset);
  }
  m = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text);
  if (m) {
    if (m[7] !== undefined && m[7].length !== 3 && m[7].length !== 6) {
      throw new BadTimeError(input, "Cassandra's format takes exactly 0, 3 or 6 fractional digits");
    }
    return fromParts(input, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7], 0);
  }
  if (/^\d+$/.test(text)) {
    if (text.length === 13) return { ...instantFromMicros(BigInt(text) * 1000n), precision: "ms" };
    if (text.length === 16) return instantFromMicros(BigInt(text));
    throw new BadTimeError(input, "an epoch number must have 13 digits (ms) or 16 digits (µs)");
  }
  throw new BadTimeError(input, "unrecognised format");
}

function pad(n: number | bigint, w = 2): string {
  return String(n).padStart(w, "0");
}

/** ISO-8601 UTC with microseconds: 2026-11-21T08:30:12.123456Z */
export function formatInstant(epochMicros: bigint): string {
  const ms = Number(epochMicros / 1000n);
  const micros = ((epochMicros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 19)}.${pad(micros, 6)}Z`;
}

/**
 * Cassandra's restore_point_in_time text. With `fractional` (CASSANDRA-19448 releases), 6 digits;
 * without, whole seconds (older releases ignore any fraction and cut at the start of the second).
 */
export function formatRestorePoint(epochMicros: bigint, fractional: boolean): string {
  const ms = Number(epochMicros / 1000n);
  const d = new Date(ms);
  const base = `${d.getUTCFullYear()}:${pad(d.getUTCMonth() + 1)}:${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (!fractional) return base;
  const micros = ((epochMicros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  return `${base}.${pad(micros, 6)}`;
}
