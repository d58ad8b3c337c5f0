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
import { DateTime, FixedOffsetZone } from "luxon";
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

/** Java's ZoneOffset range (what Cassandra itself would accept): ±18:00, minutes below 60. */
const MAX_OFFSET_MINUTES = 18 * 60;

/** `Z`, `+HH:MM` or `+HHMM` as minutes east of UTC; an offset no clock uses is refused. */
function offsetMinutes(text: string, zone: string): number {
  if (zone.toUpperCase() === "Z") return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(-2));
  const total = hours * 60 + minutes;
  if (minutes > 59 || total > MAX_OFFSET_MINUTES) {
    throw new BadTimeError(text, `${zone} is not a UTC offset (at most ±18:00, minutes 00-59)`);
  }
  return zone.startsWith("-") ? -total : total;
}

/**
 * The calendar (leap years, month lengths) and the offset arithmetic are luxon's; the grammar and
 * the microseconds, which luxon does not keep, are ours.
 */
function fromParts(
  text: string,
  y: string,
  mo: string,
  d: string,
  h: string,
  mi: string,
  s: string,
  frac: string | undefined,
  offsetMin: number,
): Instant {
  const [hour, minute, second] = [+h, +mi, +s];
  // luxon reads 24:00 as the next midnight; a restore point must name one instant only.
  if (hour > 23 || minute > 59 || second > 59) throw new BadTimeError(text, "a field is out of range");
  if (frac !== undefined && frac.length > 6)
    throw new BadTimeError(text, "more than 6 fractional digits (Cassandra keeps µs)");
  const zone = offsetMin === 0 ? "utc" : FixedOffsetZone.instance(offsetMin);
  const dt = DateTime.fromObject({ year: +y, month: +mo, day: +d, hour, minute, second }, { zone });
  if (!dt.isValid)
    throw new BadTimeError(text, `no such date (${dt.invalidExplanation ?? dt.invalidReason ?? "invalid"})`);
  const micros = frac === undefined ? 0n : BigInt(frac.padEnd(6, "0"));
  const epochMicros = BigInt(dt.toMillis()) * 1000n + micros;
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
    return fromParts(input, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7], offsetMinutes(input, zone));
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

/** The microseconds within the second (0..999999), also for instants before 1970. */
function microsOfSecond(epochMicros: bigint): string {
  return String(((epochMicros % 1_000_000n) + 1_000_000n) % 1_000_000n).padStart(6, "0");
}

function utc(epochMicros: bigint): DateTime {
  // Floor division, so an instant before 1970 keeps its second and its micros stay positive.
  const floorMs = epochMicros >= 0n ? epochMicros / 1000n : -((-epochMicros + 999n) / 1000n);
  return DateTime.fromMillis(Number(floorMs), { zone: "utc" });
}

/** ISO-8601 UTC with microseconds: 2026-11-21T08:30:12.123456Z */
export function formatInstant(epochMicros: bigint): string {
  return `${utc(epochMicros).toFormat("yyyy-MM-dd'T'HH:mm:ss")}.${microsOfSecond(epochMicros)}Z`;
}

/**
 * Cassandra's restore_point_in_time text. With `fractional` (CASSANDRA-19448 releases), 6 digits;
 * without, whole seconds (older releases ignore any fraction and cut at the start of the second).
 */
export function formatRestorePoint(epochMicros: bigint, fractional: boolean): string {
  const base = utc(epochMicros).toFormat("yyyy:MM:dd HH:mm:ss");
  return fractional ? `${base}.${microsOfSecond(epochMicros)}` : base;
}
