import t from "tap";
import { dayPrefixes, segmentKey, segmentsPrefix } from "../../src/format/layout.js";
import { partialsPrefix } from "../../src/format/partial-layout.js";
import type { SnapshotEntry } from "../../src/catalog/model.js";
import { DAY_MS, readCatalog } from "../../src/catalog/read.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";

const identity = { cluster: "prod", node: "host-a" };
const START = Date.UTC(2026, 0, 1);

/** Counts list calls and their prefixes. */
function counting(b: Backend): { backend: Backend; calls: string[] } {
  const calls: string[] = [];
  const backend = Object.create(b) as Backend;
  backend.list = (prefix, options) => {
    calls.push(prefix);
    return b.list(prefix, options);
  };
  return { backend, calls };
}

t.test(
  "a year of segments: only the window's day prefixes (+1 day margin) and one seek past it are listed",
  async (t) => {
    const mem = await openBackend("mem://catalog-read-year");
    const base = START;
    // one segment every 6 hours for a year, one run
    for (let i = 0; i < 365 * 4; i++) {
      await mem.put(
        segmentKey(identity, {
          closeTimeMs: base + (i + 1) * 6 * 3_600_000,
          segmentId: BigInt(base + 1 + i),
          version: 7,
        }),
        new Uint8Array(10),
      );
    }
    const { backend, calls } = counting(mem);
    const snapshot: SnapshotEntry = {
      tag: "s",
      snapshotTimeMs: base + 200 * DAY_MS,
      cassandraVersion: "5.0.9",
      tables: [],
      complete: true,
    };
    const fromMs = base + 201 * DAY_MS + 3_600_000;
    const toMs = fromMs + 3 * 3_600_000;
    let incWindow: [number, number] | undefined;
    const c = await readCatalog(backend, identity, {
      fromMs,
      toMs,
      loadSnapshots: async () => [snapshot],
      loadIncrementals: async (_b, _i, f, to) => {
        incWindow = [f, to];
        return [];
      },
    });
    const expected = dayPrefixes(identity, snapshot.snapshotTimeMs - DAY_MS, toMs + DAY_MS);
    t.same(
      calls.slice(0, -2),
      expected,
      "day prefixes from the base snapshot's day − 1 to the window's end + 1",
    );
    t.equal(
      calls.length,
      expected.length + 2,
      "plus one seek past the window and one listing of partial segments",
    );
    t.equal(calls.at(-2), segmentsPrefix(identity));
    t.equal(calls.at(-1), partialsPrefix(identity));
    t.ok(calls.length <= 6, `${calls.length} list calls for a year of segments`);
    t.same(incWindow, [c.listedFromMs, c.listedToMs]);
    t.equal(c.gaps.length, 0);
    t.ok(c.segments.at(-1)!.closeTimeMs > c.listedToMs, "the first segment after the window is known");
    const lastDayEnd = (Math.floor(c.listedToMs / DAY_MS) + 1) * DAY_MS;
    t.equal(
      c.segments.filter((s) => s.closeTimeMs >= lastDayEnd).length,
      1,
      "and only that one beyond the listed days",
    );
    t.equal(c.restorable?.earliestMs, snapshot.snapshotTimeMs);
  },
);

t.test("findNextSegment false: no seek; conflict copies of the next segment are all kept", async (t) => {
  const mem = await openBackend("mem://catalog-read-next");
  const close = START + 5 * DAY_MS;
  await mem.put(
    segmentKey(identity, { closeTimeMs: START + 3_600_000, segmentId: BigInt(START + 1), version: 7 }),
    new Uint8Array(1),
  );
  await mem.put(
    segmentKey(identity, { closeTimeMs: close, segmentId: BigInt(START + 2), version: 7 }),
    new Uint8Array(2),
  );
  await mem.put(
    segmentKey(identity, { closeTimeMs: close, segmentId: BigInt(START + 2), version: 7, conflict: "00aa" }),
    new Uint8Array(3),
  );
  await mem.put(
    segmentKey(identity, { closeTimeMs: close + 1000, segmentId: BigInt(START + 3), version: 7 }),
    new Uint8Array(4),
  );
  const opts = {
    fromMs: START,
    toMs: START + 3_600_000,
    loadSnapshots: async () => [],
    loadIncrementals: async () => [],
  };
  const a = counting(mem);
  const without = await readCatalog(a.backend, identity, { ...opts, findNextSegment: false });
  t.equal(without.segments.length, 1);
  t.equal(a.calls.length, 4, "day before, the day, day after, and the partial segments");
  const withNext = await readCatalog(mem, identity, opts);
  t.same(
    withNext.segments.map((s) => s.segmentId),
    [BigInt(START + 1), BigInt(START + 2)],
  );
  t.equal(withNext.duplicates.length, 1, "the conflict copy is recorded");
  t.equal(withNext.segments[1]!.conflict, undefined, "the original is used");
});
