import t from "tap";
import {
  capabilitiesOf,
  effectiveCutoffMicros,
  isAppliedAt,
  parseCassandraVersion,
  UnsupportedCassandraVersionError,
} from "../../src/restore/versions.js";

t.test("commit log versions read and CASSANDRA-19448 (expected fix releases)", async (t) => {
  const cases: [string, number, boolean][] = [
    ["3.11.17", 6, false],
    ["4.0.13", 7, false],
    ["4.0.14", 7, true],
    ["4.1.3", 7, false],
    ["4.1.7", 7, true],
    ["5.0.0", 8, false],
    ["5.0-rc1", 8, false],
    ["5.0.1", 8, true],
    ["5.0.9", 8, true],
    ["5.1-SNAPSHOT", 9, true],
    ["trunk", 9, true],
    ["6.0.0", 9, true],
  ];
  for (const [v, max, frac] of cases) {
    const c = capabilitiesOf(v);
    t.equal(c.maxCommitLogVersion, max, `${v} reads up to ${max}`);
    t.equal(c.fractionalRestorePoint, frac, `${v} fractional ${frac}`);
    t.equal(c.replayListEntries, "keyspace.table");
  }
  t.throws(() => parseCassandraVersion("2.2.19"), UnsupportedCassandraVersionError);
  t.throws(() => parseCassandraVersion("banana"), UnsupportedCassandraVersionError);
});

t.test("effective cutoff mirrors the replayer's comparison", async (t) => {
  const at = 1_795_250_400_250_000n; // .250000 s
  const second = 1_795_250_400_000_000n;
  t.equal(effectiveCutoffMicros(at, true, "MICROSECONDS"), at);
  t.equal(effectiveCutoffMicros(at + 7n, true, "MILLISECONDS"), at);
  t.equal(
    effectiveCutoffMicros(at, false, "MICROSECONDS"),
    second + 999n,
    "toMillis truncates: the first ms of the second is kept",
  );
  t.equal(effectiveCutoffMicros(at, false, "MILLISECONDS"), second);
  t.ok(isAppliedAt(second + 999n, at, false, "MICROSECONDS"));
  t.notOk(isAppliedAt(second + 1000n, at, false, "MICROSECONDS"));
  t.ok(isAppliedAt(1_795_250_400_000n, at, false, "MILLISECONDS"));
  t.notOk(isAppliedAt(1_795_250_400_001n, at, false, "MILLISECONDS"));
  t.ok(isAppliedAt(1_795_250_400_250n, at, true, "MILLISECONDS"));
  t.notOk(isAppliedAt(at + 1n, at, true, "MICROSECONDS"));
});
