import { readFile } from "node:fs/promises";
import { join } from "node:path";
import t from "tap";
import { parseStatistics, readStatistics, StatisticsError } from "../../src/sstable/statistics.js";
import { FIXTURES } from "../helpers/fixtures.js";

const ROOT = join(FIXTURES, "snapshot", "5.0.9");
const SNAPSHOT = join(
  ROOT,
  "data/pitr_fixture/events-233ad580e58711f1988fc5102cd29634/snapshots/fixture-tag",
);
const BACKUPS = join(ROOT, "data/pitr_fixture/events-233ad580e58711f1988fc5102cd29634/backups");

interface Rows {
  hostId: string;
  flushes: [number, string][][];
}

t.test("min/max timestamps equal the writetimes of each flush (nb, Cassandra 5.0.9)", async (t) => {
  const rows = JSON.parse(await readFile(join(ROOT, "rows.json"), "utf8")) as Rows;
  t.equal(rows.flushes.length, 2);
  for (const [i, flush] of rows.flushes.entries()) {
    const times = flush.map(([, wt]) => BigInt(wt));
    const min = times.reduce((a, b) => (b < a ? b : a));
    const max = times.reduce((a, b) => (b > a ? b : a));
    for (const dir of [SNAPSHOT, BACKUPS]) {
      const stats = await readStatistics(join(dir, `nb-${i + 1}-big-Statistics.db`), "nb");
      t.equal(stats.minTimestamp, min, `nb-${i + 1} minTimestamp`);
      t.equal(stats.maxTimestamp, max, `nb-${i + 1} maxTimestamp`);
      t.equal(stats.totalRows, BigInt(flush.length), `nb-${i + 1} rows`);
      t.equal(stats.originatingHostId, rows.hostId, "originating host id");
      t.equal(stats.repairedAt, 0n);
    }
  }
});

t.test("commit log bounds and intervals chain from the first flush to the second", async (t) => {
  const a = await readStatistics(join(SNAPSHOT, "nb-1-big-Statistics.db"), "nb");
  const b = await readStatistics(join(SNAPSHOT, "nb-2-big-Statistics.db"), "nb");
  t.same(a.commitLogIntervals, [{ lower: a.commitLogLowerBound, upper: a.commitLogUpperBound }]);
  t.same(b.commitLogIntervals, [{ lower: b.commitLogLowerBound, upper: b.commitLogUpperBound }]);
  t.same(b.commitLogLowerBound, a.commitLogUpperBound, "second flush starts where the first ended");
  t.ok(a.commitLogUpperBound.segmentId > 0n);
  t.ok(b.commitLogUpperBound.position > a.commitLogUpperBound.position);
});

t.test("nc/oa: fields past maxTimestamp are undefined, not guessed", async (t) => {
  const bytes = new Uint8Array(await readFile(join(SNAPSHOT, "nb-1-big-Statistics.db")));
  const stats = parseStatistics(bytes, "nc");
  t.equal(stats.minTimestamp, 1795250400411000n);
  t.equal(stats.commitLogIntervals, undefined);
  t.equal(stats.originatingHostId, undefined);
});

t.test("corruption and truncation are StatisticsError with an offset", async (t) => {
  const bytes = new Uint8Array(await readFile(join(SNAPSHOT, "nb-1-big-Statistics.db")));
  const flipped = bytes.slice();
  flipped[0xd0] = flipped[0xd0]! ^ 0xff; // inside the STATS component
  t.throws(() => parseStatistics(flipped, "nb"), StatisticsError);
  t.throws(() => parseStatistics(flipped, "nb"), /STATS component checksum mismatch/);
  const toc = bytes.slice();
  toc[0x14] = 9;
  t.throws(() => parseStatistics(toc, "nb"), /table of contents checksum mismatch/);
  t.throws(() => parseStatistics(bytes.subarray(0, 200), "nb"), StatisticsError);
  t.throws(() => parseStatistics(bytes, "la"), /older than 3.0/);
  const err = t.throws(() => parseStatistics(flipped, "nb")) as StatisticsError;
  t.equal(err.code, "E_CHECKSUM_MISMATCH");
});
