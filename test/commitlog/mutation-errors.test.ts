/**
 * Bad input to the replay filter: each is refused with a typed error, one line naming the file or
 * segment and where, a documented exit status, and the input left as it was.
 */
import t, { type Test } from "tap";
import { createHash } from "node:crypto";
import { crc32, crc32Int } from "../../src/commitlog/crc32.js";
import { filterSegment } from "../../src/commitlog/mutations/filter.js";
import { parseSchemaCql } from "../../src/commitlog/mutations/schema-cql.js";
import { isSystemTableId } from "../../src/commitlog/mutations/system-tables.js";
import { parseSegmentHeader, serializeSegmentHeader } from "../../src/commitlog/segment-header.js";
import { isPitrError, renderError } from "../../src/errors/base.js";
import { EXIT } from "../../src/errors/codes.js";
import { loadMutationSet, rawEntries, type MutationSet } from "./mutation-fixtures.js";

const ID = "8b152f00-ea84-11f1-b00a-2b88d1a226b2";

function refused(t: Test, fn: () => unknown, code: string, exit: number, pattern: RegExp): void {
  try {
    fn();
    t.fail(`expected ${code}`);
  } catch (err) {
    t.ok(isPitrError(err), "a typed error, not an internal one");
    if (!isPitrError(err)) return;
    t.equal(err.code, code, code);
    t.equal(err.exitStatus, exit, `exit status ${exit}`);
    t.notMatch(err.message, /\n/, "one line");
    t.match(err.message, pattern);
    t.notMatch(renderError(err, "cassandra-pitr"), /internal error/);
  }
}

t.test("schema.cql that does not parse names the file and the line", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "unknown type",
      `CREATE TABLE IF NOT EXISTS ks.t (\n    pk int PRIMARY KEY,\n    v strnig\n) WITH ID = ${ID};`,
      /schema "a\/schema.cql" line 3: unknown type "strnig"/,
    ],
    [
      "unclosed column list",
      `CREATE TABLE ks.t (\n    pk int PRIMARY KEY,\n    v text\n`,
      /line 3: expected "," but found "end of statement"/,
    ],
    ["no table id", "CREATE TABLE ks.t (pk int PRIMARY KEY);", /ks\.t has no "WITH ID ="/],
    [
      "bad table id",
      "CREATE TABLE ks.t (pk int PRIMARY KEY) WITH ID = 1234;",
      /table id "1234" is not a UUID/,
    ],
    [
      "drop of a column the table never had",
      `CREATE TABLE ks.t (pk int PRIMARY KEY) WITH ID = ${ID};\nALTER TABLE ks.t DROP nope USING TIMESTAMP 1;`,
      /line 2: DROP of unknown column "nope"/,
    ],
    [
      "some other statement",
      "\n\nINSERT INTO ks.t (pk) VALUES (1);",
      /line 3: unsupported statement "INSERT INTO ks.t"/,
    ],
    [
      "vector without dimension",
      `CREATE TABLE ks.t (pk int PRIMARY KEY, v vector<float>) WITH ID = ${ID};`,
      /vector needs an element type and a positive dimension/,
    ],
  ];
  for (const [label, text, pattern] of cases) {
    await t.test(label, async (t) =>
      refused(t, () => parseSchemaCql(text, "a/schema.cql"), "E_SCHEMA_CQL", EXIT.SCHEMA_INVALID, pattern),
    );
  }
});

function sha(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** filterSegment must refuse `bytes` and leave them as they were. */
function refusesSegment(
  t: Test,
  set: MutationSet,
  name: string,
  bytes: Uint8Array,
  code: string,
  exit: number,
  pattern: RegExp,
  tables = set.tables,
) {
  const before = sha(bytes);
  refused(
    t,
    () => filterSegment(name, bytes, { cutoffMicros: 0n, tables, passThrough: isSystemTableId }),
    code,
    exit,
    pattern,
  );
  t.equal(sha(bytes), before, "the input bytes are unchanged");
}

/** The file offset where the first mutation of `table` starts in an uncompressed segment. */
function firstEntryOf(set: MutationSet, bytes: Uint8Array, table: string): number {
  const seg = set.segments[0]!;
  const id = [...set.tables.values()].find((x) => x.table === table)!.id.replace(/-/g, "");
  const e = rawEntries(seg.name, bytes).find(
    (x) => Buffer.from(x.payload.subarray(1, 17)).toString("hex") === id,
  )!;
  return e.position - e.raw.length;
}

t.test("segments the filter refuses", async (t) => {
  const v7 = await loadMutationSet("v7");
  const lz4 = await loadMutationSet("lz4");
  const seg = v7.segments[0]!;

  await t.test("a mutation of a table the schema does not have", async (t) => {
    const tables = new Map([...v7.tables].filter(([, s]) => s.table !== "clustered"));
    const clustered = [...v7.tables.values()].find((s) => s.table === "clustered")!.id;
    refusesSegment(
      t,
      v7,
      seg.name,
      seg.bytes,
      "E_UNKNOWN_TABLE",
      EXIT.PLAN_REFUSED,
      new RegExp(
        `segment "${seg.name}": mutation of unknown table id ${clustered} \\(entry at \\d+\\) at offset \\d+`,
      ),
      tables,
    );
  });

  await t.test("an entry whose CRCs verify but whose mutation does not read", async (t) => {
    const bytes = seg.bytes.slice();
    const at = firstEntryOf(v7, bytes, "all_types");
    const dv = new DataView(bytes.buffer);
    const size = dv.getInt32(at);
    bytes[at + 8] = 2; // two partition updates announced, one present
    dv.setUint32(at + 8 + size, crc32(bytes.subarray(at + 8, at + 8 + size), crc32Int(size)));
    refusesSegment(
      t,
      v7,
      seg.name,
      bytes,
      "E_MUTATION_UNREADABLE",
      EXIT.SEGMENT_INVALID,
      new RegExp(
        `mutation unreadable: 16 bytes needed, 0 left at byte ${size} of the payload \\(entry at ${at}\\) at offset ${at}`,
      ),
    );
  });

  await t.test("a garbled entry", async (t) => {
    const bytes = seg.bytes.slice();
    const at = firstEntryOf(v7, bytes, "collections");
    bytes[at + 30] = bytes[at + 30]! ^ 0xff;
    refusesSegment(
      t,
      v7,
      seg.name,
      bytes,
      "E_SEGMENT_CHECKSUM",
      EXIT.SEGMENT_INVALID,
      new RegExp(`entry checksum mismatch .* at offset ${at}`),
    );
  });

  await t.test("a segment cut in the middle of a section", async (t) => {
    const cutAt = firstEntryOf(v7, seg.bytes, "composite") + 20;
    refusesSegment(
      t,
      v7,
      seg.name,
      seg.bytes.slice(0, cutAt),
      "E_SEGMENT_TRUNCATED",
      EXIT.SEGMENT_INVALID,
      /truncated: section at \d+ should end at \d+/,
    );
    const l = lz4.segments[0]!;
    refusesSegment(
      t,
      lz4,
      l.name,
      l.bytes.slice(0, Math.floor(l.bytes.length / 2)),
      "E_SEGMENT_TRUNCATED",
      EXIT.SEGMENT_INVALID,
      /truncated/,
    );
  });

  await t.test("an encrypted segment", async (t) => {
    const header = parseSegmentHeader(seg.bytes, seg.name);
    const encrypted = serializeSegmentHeader(
      header.version,
      header.id,
      JSON.stringify({ encCipher: "AES/CBC/PKCS5Padding", encIV: "00", encKeyAlias: "testing:1" }),
    );
    const bytes = new Uint8Array(encrypted.length + seg.bytes.length - header.headerLength);
    bytes.set(encrypted);
    bytes.set(seg.bytes.subarray(header.headerLength), encrypted.length);
    refusesSegment(
      t,
      v7,
      seg.name,
      bytes,
      "E_SEGMENT_ENCRYPTED",
      EXIT.SEGMENT_INVALID,
      /encrypted with AES\/CBC\/PKCS5Padding, so its mutations cannot be filtered at offset 0/,
    );
  });
});
