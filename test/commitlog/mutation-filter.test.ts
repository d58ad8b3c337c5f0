/**
 * The replay filter on real segments of Cassandra 5.0.9 (fixtures/mutations), for cutoffs before all
 * statements, between two, equal to one, and after all. The oracle is the statement log: a statement
 * is withheld exactly when its timestamp is after the cutoff.
 */
import t, { type Test } from "tap";
import { classifySegment } from "../../src/commitlog/classify.js";
import { crc32, crc32Int } from "../../src/commitlog/crc32.js";
import { describeVersion } from "../../src/commitlog/descriptor.js";
import { filterSegment, WITHHELD_TABLE_ID } from "../../src/commitlog/mutations/filter.js";
import { firstTableId, readMutation } from "../../src/commitlog/mutations/reader.js";
import { isSystemTableId } from "../../src/commitlog/mutations/system-tables.js";
import { parseSegmentHeader } from "../../src/commitlog/segment-header.js";
import {
  loadMutationSet,
  mutationSetKinds,
  rawEntries,
  type MutationSet,
  type Statement,
} from "./mutation-fixtures.js";

const WITHHELD_BYTES = Buffer.from(WITHHELD_TABLE_ID.replace(/-/g, ""), "hex");

function firstStamp(s: Statement): bigint {
  return s.timestamp ?? s.window![0];
}

function isAfter(s: Statement, cutoff: bigint): boolean {
  return firstStamp(s) > cutoff;
}

/** Named cutoffs from the statement log; none falls inside a counter's window. */
function cutoffs(set: MutationSet): [string, bigint][] {
  const exact = set.statements.filter((s) => s.timestamp !== undefined).map((s) => s.timestamp!);
  const firstRowDelete = set.statements.find((s) => s.kind === "row-delete")!;
  const batch = set.statements.find((s) => s.kind === "logged-batch")!;
  const beforeBatch = set.statements[set.statements.indexOf(batch) - 1]!;
  return [
    ["before every statement", exact.reduce((a, b) => (a < b ? a : b)) - 1_000_000n],
    ["equal to the first row delete's timestamp", firstRowDelete.timestamp!],
    [
      "between the statement before the logged batch and the batch",
      (firstStamp(beforeBatch) + batch.timestamp!) / 2n,
    ],
    ["one µs before the last statement", set.statements[set.statements.length - 1]!.timestamp! - 1n],
    ["after every statement", exact.reduce((a, b) => (a > b ? a : b)) + 1n],
  ];
}

/** Withheld mutations Cassandra itself would replay: the row deletes (one each, and one in the logged batch). */
function expectedBeyondCassandra(set: MutationSet, cutoff: bigint): number {
  return set.statements.filter(
    (s) => isAfter(s, cutoff) && (s.kind === "row-delete" || s.kind === "logged-batch"),
  ).length;
}

function checkCutoff(t: Test, set: MutationSet, cutoff: bigint): void {
  for (const s of set.statements) {
    if (s.window)
      t.ok(cutoff < s.window[0] || cutoff >= s.window[1], `cutoff outside the window of statement ${s.seq}`);
  }
  for (const { name, bytes } of set.segments) {
    const before = Buffer.from(bytes).toString("base64");
    // A Buffer, as readFile gives: its slice() is a view, so a careless copy would write into the input.
    const input = Buffer.from(bytes);
    const result = filterSegment(name, input, {
      cutoffMicros: cutoff,
      tables: set.tables,
      passThrough: isSystemTableId,
    });
    t.equal(input.toString("base64"), before, "the input is not modified");
    const original = classifySegment(name, bytes);
    // deflate/ ends with the empty section of a close, which has no deflate body at all.
    t.equal(original.status, "complete", `the fixture itself classifies complete (${original.reason})`);
    const rewritten = classifySegment(name, result.bytes);
    t.equal(rewritten.status, "complete", `rewritten segment classifies complete (${rewritten.reason})`);
    t.equal(
      rewritten.sections,
      original.sections,
      "same number of sections, every sync marker and entry CRC valid",
    );
    t.equal(rewritten.dataEnd, original.dataEnd, "same logical end of data");
    if (!parseSegmentHeader(bytes, name).compression)
      t.equal(result.bytes.length, bytes.length, "uncompressed: same length");
    if (result.withheld === 0) t.equal(result.bytes, input, "nothing withheld: the input itself comes back");

    const mv = describeVersion(parseSegmentHeader(bytes, name).version)!.messagingVersion;
    const olds = rawEntries(name, bytes);
    const news = rawEntries(name, new Uint8Array(result.bytes));
    t.same(
      news.map((e) => [e.position, e.raw.length]),
      olds.map((e) => [e.position, e.raw.length]),
      "every entry keeps its position and size",
    );
    const withheldSeqs = new Set<number>();
    let withheld = 0;
    let system = 0;
    olds.forEach((old, i) => {
      const now = news[i]!;
      if (isSystemTableId(firstTableId(old.payload))) {
        system++;
        t.same(now.raw, old.raw, `system mutation at ${old.position} unchanged`);
        return;
      }
      const reading = readMutation(old.payload, mv, (id) => set.tables.get(id));
      if (reading.maxTimestamp! <= cutoff) {
        t.same(now.raw, old.raw, `kept mutation at ${old.position} byte-identical`);
        return;
      }
      withheld++;
      for (const s of set.statements)
        if (
          reading.maxTimestamp === s.timestamp ||
          (s.window && reading.maxTimestamp! >= s.window[0] && reading.maxTimestamp! <= s.window[1])
        )
          withheldSeqs.add(s.seq);
      const expected = Buffer.from(old.payload);
      for (const u of reading.updates) expected.set(WITHHELD_BYTES, u.tableIdOffset);
      t.same(
        Buffer.from(now.payload),
        expected,
        `withheld mutation at ${old.position}: only its table ids changed`,
      );
      t.equal(firstTableId(now.payload), WITHHELD_TABLE_ID, "it carries WITHHELD_TABLE_ID");
      const dv = new DataView(now.raw.buffer, now.raw.byteOffset, now.raw.byteLength);
      t.equal(
        dv.getUint32(now.raw.length - 4),
        crc32(now.payload, crc32Int(now.payload.length)),
        "its trailing CRC is valid",
      );
    });
    const expectedSeqs = set.statements.filter((s) => isAfter(s, cutoff)).map((s) => s.seq);
    t.same(
      [...withheldSeqs].sort((a, b) => a - b),
      expectedSeqs,
      `withheld statements are exactly those after the cutoff (${expectedSeqs.length})`,
    );
    t.equal(result.withheld, withheld, "withheld count");
    t.equal(result.withheldAt.length, withheld, "one position per withheld mutation");
    t.equal(result.passedThrough, system, "system mutations passed through");
    t.equal(result.mutations, olds.length, "every mutation counted");
    t.equal(
      result.kept + result.withheld + result.passedThrough,
      result.mutations,
      "kept + withheld + passed through",
    );
    t.equal(
      result.withheldBeyondCassandra,
      expectedBeyondCassandra(set, cutoff),
      "row tombstones after the cutoff are withheld beyond Cassandra's own check",
    );
  }
}

for (const kind of await mutationSetKinds()) {
  t.test(
    `fixtures/mutations/5.0.9/${kind}: the filter withholds exactly the statements after the cutoff`,
    async (t) => {
      const set = await loadMutationSet(kind);
      for (const [label, cutoff] of cutoffs(set)) {
        await t.test(`${label} (${cutoff})`, async (t) => checkCutoff(t, set, cutoff));
      }
    },
  );
}

t.test(
  "a truncation floor withholds a table's mutations stamped before it, and refuses a mutation that mixes it with another table",
  async (t) => {
    const set = await loadMutationSet("v7");
    const idOf = (table: string) => [...set.tables.values()].find((x) => x.table === table)!.id;
    const composite = set.statements.filter((s) => s.table === "composite");
    const floor = composite[2]!.timestamp!;
    const last = set.statements.reduce(
      (a, s) => (s.timestamp !== undefined && s.timestamp > a ? s.timestamp : a),
      0n,
    );
    let withheld = 0;
    let truncated = 0;
    for (const { name, bytes } of set.segments) {
      const r = filterSegment(name, bytes, {
        cutoffMicros: last,
        tables: set.tables,
        passThrough: isSystemTableId,
        floorFor: (id) => (id === idOf("composite") ? floor : undefined),
      });
      withheld += r.withheld;
      truncated += r.withheldTruncated;
      const rewritten = classifySegment(name, r.bytes);
      t.equal(rewritten.status, "complete", "the rewritten segment classifies complete");
    }
    t.equal(
      truncated,
      composite.filter((s) => s.timestamp! < floor).length,
      `withheld exactly the composite statements stamped before the floor (${truncated})`,
    );
    t.equal(withheld, truncated, "and nothing else at a cutoff after every statement");

    const batch = set.statements.find((s) => s.kind === "logged-batch")!;
    t.throws(
      () => {
        for (const { name, bytes } of set.segments)
          filterSegment(name, bytes, {
            cutoffMicros: last,
            tables: set.tables,
            passThrough: isSystemTableId,
            floorFor: (id) => (id === idOf("all_types") ? batch.timestamp! + 1n : undefined),
          });
      },
      { code: "E_PLAN_REFUSED", message: /truncated after it, together with other tables/ },
      "a batch over the truncated table and others is refused: Cassandra withholds a mutation whole",
    );
  },
);
