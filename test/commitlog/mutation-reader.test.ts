/**
 * The mutation reader on real segments of Cassandra 5.0.9. The oracle is what the client wrote: the
 * statement log of fixtures/mutations (every statement's timestamp) and the rows.json / segment JSON
 * of fixtures/commitlog and fixtures/pitr, never a list made from the reader's own output.
 */
import t, { type Test } from "tap";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { firstTableId, readMutation, type MutationReading } from "../../src/commitlog/mutations/reader.js";
import { parseSchemaCql, type TableSchema } from "../../src/commitlog/mutations/schema-cql.js";
import { isSystemTableId, systemTableId } from "../../src/commitlog/mutations/system-tables.js";
import { describeVersion } from "../../src/commitlog/descriptor.js";
import { parseSegmentHeader } from "../../src/commitlog/segment-header.js";
import { COMMITLOG_FIXTURES, FIXTURES, FIXTURE_CASSANDRA_VERSION } from "../helpers/fixtures.js";
import { loadMutationSet, mutationSetKinds, rawEntries, type Statement } from "./mutation-fixtures.js";

interface UserMutation {
  readonly position: number;
  readonly reading: MutationReading;
  readonly table: string;
}

/** Every mutation of the segments: the user ones read, the others required to be system tables. */
function readAll(
  t: Test,
  segments: readonly { name: string; bytes: Uint8Array }[],
  lookup: (id: string) => TableSchema | undefined,
) {
  const user: UserMutation[] = [];
  let system = 0;
  for (const { name, bytes } of segments) {
    const mv = describeVersion(parseSegmentHeader(bytes, name).version)!.messagingVersion;
    for (const e of rawEntries(name, bytes)) {
      const id = firstTableId(e.payload);
      if (isSystemTableId(id)) {
        system++;
        continue;
      }
      const table = lookup(id);
      if (!table) {
        t.fail(`${name}: mutation at ${e.position} of table ${id}, neither in the schema nor a system table`);
        continue;
      }
      user.push({ position: e.position, reading: readMutation(e.payload, mv, lookup), table: table.table });
    }
  }
  return { user, system };
}

function matches(s: Statement, m: UserMutation): boolean {
  const ts = m.reading.maxTimestamp;
  if (ts === undefined) return false;
  if (s.timestamp !== undefined) return ts === s.timestamp;
  return m.table === s.table && ts >= s.window![0] && ts <= s.window![1];
}

t.test("TableId.forSystemTable: the name-based ids Cassandra gives its own tables", async (t) => {
  // The ids in these tables' data directory names (local-7ad54392..., tables-afddfb9d...); test/e2e/replay-filter.test.ts checks every system table of a live node.
  t.equal(systemTableId("system", "local"), "7ad54392-bcdd-35a6-8417-4e047860b377");
  t.equal(systemTableId("system_schema", "tables"), "afddfb9d-bc1e-3068-8056-eed6c302ba09");
  t.ok(isSystemTableId("7ad54392-bcdd-35a6-8417-4e047860b377"));
  t.notOk(isSystemTableId("8b152f00-ea84-11f1-b00a-2b88d1a226b2"), "a user table's time-based id is not");
});

for (const kind of await mutationSetKinds()) {
  t.test(
    `fixtures/mutations/${FIXTURE_CASSANDRA_VERSION}/${kind}: every statement's mutation carries its timestamp`,
    async (t) => {
      const set = await loadMutationSet(kind);
      const { user, system } = readAll(t, set.segments, (id) => set.tables.get(id));
      t.ok(system > 100, `schema and system mutations pass as system tables (${system})`);
      for (const s of set.statements) {
        const found = user.filter((m) => matches(s, m));
        t.ok(found.length >= 1, `statement ${s.seq} (${s.kind} on ${s.table}) has its mutation`);
        checkKind(t, s, found);
      }
      for (const m of user) {
        const owners = set.statements.filter((s) => matches(s, m));
        t.equal(
          owners.length,
          1,
          `the mutation at ${m.position} (${m.table}, max ${m.reading.maxTimestamp}) belongs to exactly one statement`,
        );
      }
      t.equal(
        user.filter((m) => m.reading.updates.length === 3).length,
        1,
        "the logged batch's three tables of partition 7 are one mutation",
      );
    },
  );
}

/** What each kind of statement must have produced, beyond its timestamp. */
function checkKind(t: Test, s: Statement, found: readonly UserMutation[]): void {
  const kinds = new Set(found.flatMap((m) => m.reading.updates.flatMap((u) => u.kinds)));
  const expect: Record<string, string> = {
    "row-delete": "row-deletion",
    "range-delete": "range-tombstone",
    "partition-delete": "partition-deletion",
    "cell-delete": "cell-tombstone",
    "element-delete": "cell-tombstone",
    "collection-overwrite": "complex-deletion",
    "collection-delete": "complex-deletion",
    "insert-ttl": "expiring",
    "update-ttl": "expiring",
    "static-update": "static-row",
    "static-delete": "static-row",
    "insert-nulls": "cell-tombstone",
  };
  const want = expect[s.kind];
  if (want) t.ok(kinds.has(want as never), `statement ${s.seq} (${s.kind}) reads as ${want}`);
  if (s.kind === "row-delete") {
    for (const m of found) {
      t.equal(
        m.reading.cassandraMaxTimestamp,
        undefined,
        `statement ${s.seq}: Cassandra's maxTimestamp() sees nothing in a row tombstone`,
      );
    }
  } else if (s.kind !== "logged-batch") {
    for (const m of found)
      t.equal(
        m.reading.cassandraMaxTimestamp,
        m.reading.maxTimestamp,
        `statement ${s.seq}: Cassandra sees the same maximum`,
      );
  }
}

/** pitr_fixture.events, the one user table of the older fixtures, under whatever id a segment gives it. */
function eventsTable(): (id: string) => TableSchema | undefined {
  const cache = new Map<string, TableSchema>();
  return (id) => {
    if (isSystemTableId(id)) return undefined;
    let table = cache.get(id);
    if (!table) {
      table = parseSchemaCql(
        `CREATE TABLE pitr_fixture.events (id int PRIMARY KEY, value text) WITH ID = ${id};`,
        "events",
      )[0]!;
      cache.set(id, table);
    }
    return table;
  };
}

function rowsOf(user: readonly UserMutation[]): string[] {
  return user
    .map((m) => {
      const key = m.reading.updates[0]!.partitionKey;
      return `${new DataView(key.buffer, key.byteOffset, 4).getInt32(0)}@${m.reading.maxTimestamp}`;
    })
    .sort();
}

t.test(
  "fixtures/commitlog and fixtures/pitr: each row's mutation, with its writetime, as the JSON records",
  async (t) => {
    const lookup = eventsTable();
    const dirs = [
      ...(await readdir(COMMITLOG_FIXTURES)).map((k) => join(COMMITLOG_FIXTURES, k)),
      join(FIXTURES, "pitr", FIXTURE_CASSANDRA_VERSION, "segments"),
    ];
    for (const dir of dirs) {
      for (const name of (await readdir(dir)).filter((n) => n.endsWith(".log"))) {
        const bytes = new Uint8Array(await readFile(join(dir, name)));
        const meta = JSON.parse(await readFile(join(dir, `${name}.json`), "utf8")) as {
          rows: [number, string][];
        };
        const { user } = readAll(t, [{ name, bytes }], lookup);
        const expected = meta.rows.map(([id, wt]) => `${id}@${wt}`).sort();
        t.same(rowsOf(user), expected, `${dir.split("/").slice(-1)[0]}/${name}: ${expected.length} rows`);
      }
    }
  },
);
