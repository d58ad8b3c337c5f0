/**
 * What a Cassandra release can do with a restore, decided from its version string alone (pure).
 * Sources: docs/../cassandra-internals.md sections 0, 1.6 and 2.2.
 *
 * - Commit log descriptor versions read: 3.x → 6, 4.0/4.1 → 7, 5.0 → 8, trunk (5.1/6.0) → 9.
 * - restore_point_in_time sub-second digits (CASSANDRA-19448): honoured from 4.0.14, 4.1.7, 5.0.1 and
 *   5.1/trunk. These release numbers are the EXPECTED fix versions (not verified against release
 *   notes); older releases parse whole seconds only. Checked on real nodes for 4.1.10 and 5.0.9: both
 *   restore to an instant between two writes less than a millisecond apart (test/e2e).
 * - `-Dcassandra.replayList`: always `ks.table` entries (a bare keyspace is accepted only by newer
 *   code; we never rely on it).
 */
import { PitrError } from "../errors/base.js";

export type Precision = "MICROSECONDS" | "MILLISECONDS";

export interface CassandraVersion {
  readonly text: string;
  readonly major: number;
  readonly minor: number;
  /** 0 when absent ("5.0", "5.0-rc1"); trunk/snapshot builds count as the newest patch. */
  readonly patch: number;
  /** A pre-release (alpha/beta/rc) of major.minor.patch. */
  readonly preRelease: boolean;
}

export class UnsupportedCassandraVersionError extends PitrError {
  override name = "UnsupportedCassandraVersionError";
  constructor(text: string, detail: string) {
    super("E_USAGE", `cassandra version '${text}' ${detail}`, {
      hint: "give the release as major.minor.patch, e.g. 5.0.9 or 4.1.3",
    });
  }
}

export function parseCassandraVersion(text: string): CassandraVersion {
  const t = text.trim();
  if (/^trunk$/i.test(t))
    return { text: t, major: 5, minor: 1, patch: Number.MAX_SAFE_INTEGER, preRelease: false };
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:[-~.]?((?:alpha|beta|rc)\d*|SNAPSHOT))?$/i.exec(t);
  if (!m) throw new UnsupportedCassandraVersionError(text, "is not a version I can read");
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const suffix = m[4]?.toUpperCase();
  const snapshot = suffix === "SNAPSHOT";
  const patch = m[3] !== undefined ? Number(m[3]) : snapshot ? Number.MAX_SAFE_INTEGER : 0;
  if (major < 3) throw new UnsupportedCassandraVersionError(text, "is older than 3.0 and not supported");
  return { text: t, major, minor, patch, preRelease: suffix !== undefined && !snapshot };
}

function atLeast(v: CassandraVersion, major: number, minor: number, patch = 0): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  if (v.patch !== patch) return v.patch > patch;
  return !v.preRelease;
}

/** The newest commit log descriptor version the release reads (CommitLogDescriptor.current_version). */
export function maxCommitLogVersion(v: CassandraVersion): number {
  if (v.major === 3) return 6;
  if (v.major === 4) return 7;
  if (v.major === 5 && v.minor === 0) return 8;
  return 9;
}

/** The oldest release line that reads a descriptor version (for messages). */
export function releaseReading(commitLogVersion: number): string {
  return commitLogVersion <= 6
    ? "3.0"
    : commitLogVersion === 7
      ? "4.0"
      : commitLogVersion === 8
        ? "5.0"
        : "5.1 (trunk)";
}

/** CASSANDRA-19448: restore_point_in_time takes 0, 3 or 6 fractional digits. Expected fix versions. */
export function honoursFractionalRestorePoint(v: CassandraVersion): boolean {
  if (v.major > 5 || (v.major === 5 && v.minor >= 1)) return true;
  if (v.major === 5) return atLeast(v, 5, 0, 1);
  if (v.major === 4 && v.minor === 1) return atLeast(v, 4, 1, 7);
  if (v.major === 4 && v.minor === 0) return atLeast(v, 4, 0, 14);
  return false;
}

const US_PER_S = 1_000_000n;

/**
 * Mirrors CommitLogReplayer.pointInTimeExceeded for one update's max timestamp (client units given
 * by `precision`): true when Cassandra would APPLY it for restore point `atMicros`.
 *
 * - 19448 releases: restore point parsed to µs; skip when `precision.toMicros(maxTs) > rpit_us`.
 * - older: restore point parsed at whole seconds (fraction ignored) into ms; skip when
 *   `precision.toMillis(maxTs) > rpit_ms` (toMillis truncates).
 */
export function isAppliedAt(
  maxTimestamp: bigint,
  atMicros: bigint,
  fractional: boolean,
  precision: Precision,
): boolean {
  if (fractional) {
    const tsMicros = precision === "MICROSECONDS" ? maxTimestamp : maxTimestamp * 1000n;
    return tsMicros <= atMicros;
  }
  const rpitMs = floorDiv(atMicros, US_PER_S) * 1000n;
  const tsMs = precision === "MICROSECONDS" ? floorDiv(maxTimestamp, 1000n) : maxTimestamp;
  return tsMs <= rpitMs;
}

/**
 * The latest client timestamp (in µs, whatever the precision) whose writes are still applied: the
 * effective, inclusive cutoff.
 */
export function effectiveCutoffMicros(atMicros: bigint, fractional: boolean, precision: Precision): bigint {
  if (fractional) return precision === "MICROSECONDS" ? atMicros : floorDiv(atMicros, 1000n) * 1000n;
  const second = floorDiv(atMicros, US_PER_S) * US_PER_S;
  // toMillis(ts) <= second_ms: with µs timestamps that keeps the whole first millisecond of the second.
  return precision === "MICROSECONDS" ? second + 999n : second;
}

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

export interface VersionCapabilities {
  readonly version: CassandraVersion;
  readonly maxCommitLogVersion: number;
  readonly fractionalRestorePoint: boolean;
  /** We always write `ks.table` entries; bare keyspaces are not relied upon. */
  readonly replayListEntries: "keyspace.table";
}

export function capabilitiesOf(text: string): VersionCapabilities {
  const version = parseCassandraVersion(text);
  return {
    version,
    maxCommitLogVersion: maxCommitLogVersion(version),
    fractionalRestorePoint: honoursFractionalRestorePoint(version),
    replayListEntries: "keyspace.table",
  };
}
