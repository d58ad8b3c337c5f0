/**
 * The workload behind fixtures/mutations/: one keyspace whose tables and statements cover every kind
 * of mutation the replay filter must read (fixtures/README.md lists them). Every statement carries its
 * own `USING TIMESTAMP`, strictly increasing and distinct, except where CQL forbids a client
 * timestamp: counter updates (the leader stamps them) and conditional writes (the Paxos ballot). For
 * those the log records what the node stamped: `writetime()` for the conditional write, and for a
 * counter the wall-clock window (µs) around the statement, since writetime() does not work on counters.
 * TTLs are years long (expiring before 2038, which CASSANDRA_4 mode requires), so the expiring cells a
 * test restores from these segments are still alive when it compares them with a fresh write.
 */
import type { CassandraNode } from "../test/helpers/cassandra.js";

export const MUTATION_KEYSPACE = "pitr_mut";

/** One logged statement. `timestamp` is exact; counters have only `window`. */
export interface StatementRecord {
  readonly seq: number;
  readonly table: string;
  /** What the statement does, in the filter's vocabulary (insert, row-delete, range-delete, ...). */
  readonly kind: string;
  readonly cql: string;
  readonly timestamp?: string;
  readonly window?: readonly [string, string];
}

const SCHEMA = [
  `CREATE KEYSPACE IF NOT EXISTS ${MUTATION_KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  `CREATE TYPE ${MUTATION_KEYSPACE}.addr (street text, zip int, tags frozen<set<text>>)`,
  `CREATE TABLE ${MUTATION_KEYSPACE}.all_types (pk int PRIMARY KEY, c_int int, c_bigint bigint, c_smallint smallint,
    c_tinyint tinyint, c_text text, c_ascii ascii, c_blob blob, c_boolean boolean, c_date date, c_time time,
    c_timestamp timestamp, c_uuid uuid, c_timeuuid timeuuid, c_inet inet, c_decimal decimal, c_varint varint,
    c_double double, c_float float, c_duration duration, c_vector vector<float, 3>, c_vtext vector<text, 2>, c_gone text)`,
  `CREATE TABLE ${MUTATION_KEYSPACE}.clustered (pk int, ck int, v text, s text static, PRIMARY KEY (pk, ck))
    WITH CLUSTERING ORDER BY (ck DESC)`,
  `CREATE TABLE ${MUTATION_KEYSPACE}.composite (pk1 text, pk2 int, ck1 timestamp, ck2 uuid, v int,
    PRIMARY KEY ((pk1, pk2), ck1, ck2)) WITH CLUSTERING ORDER BY (ck1 ASC, ck2 DESC)`,
  `CREATE TABLE ${MUTATION_KEYSPACE}.collections (pk int PRIMARY KEY, l list<text>, s set<int>, m map<text, int>,
    fl frozen<list<int>>, fs frozen<set<text>>, fm frozen<map<int, text>>, u addr, fu frozen<addr>,
    t tuple<int, text, boolean>, nested map<text, frozen<list<int>>>)`,
  `CREATE TABLE ${MUTATION_KEYSPACE}.counts (pk int PRIMARY KEY, hits counter, misses counter)`,
  `CREATE TABLE ${MUTATION_KEYSPACE}.conditional (pk int PRIMARY KEY, v text)`,
];

const ALL_TYPES_VALUES = `c_int, c_bigint, c_smallint, c_tinyint, c_text, c_ascii, c_blob, c_boolean, c_date, c_time,
  c_timestamp, c_uuid, c_timeuuid, c_inet, c_decimal, c_varint, c_double, c_float, c_duration, c_vector, c_vtext, c_gone`;
const allTypesRow = (pk: number, text: string) =>
  `INSERT INTO ${MUTATION_KEYSPACE}.all_types (pk, ${ALL_TYPES_VALUES}) VALUES (${pk}, -${pk}, 9000000000${pk}, -3${pk}, ${pk},
  '${text}', 'ascii-${pk}', 0xcafe${pk}0, true, '2026-11-2${pk % 10}', '12:34:56.78900${pk % 10}', '2026-11-27 10:00:0${pk % 10}.123+0000',
  5b6962dd-3f90-4c93-8f61-eabfa4a803e${pk % 10}, 50554d6e-29bb-11e5-b345-feff819cdc9${pk % 10}, '10.0.0.${pk}', 12345.678${pk},
  -98765432109876543210${pk}, ${pk}.5, -${pk}.25, 1h2m3s${pk}ms, [1.5, -2.5, ${pk}.0], ['a${pk}', 'b'], 'soon gone ${pk}')`;

/** [table, kind, statement without its USING clause, USING placement]; `TS` is replaced by the timestamp. */
type Step = readonly [table: string, kind: string, cql: string];

const K = MUTATION_KEYSPACE;
const STEPS: Step[] = [
  ["all_types", "insert", `${allTypesRow(1, "first")} USING TIMESTAMP TS`],
  ["all_types", "insert", `${allTypesRow(2, "")} USING TIMESTAMP TS`],
  ["all_types", "insert-ttl", `${allTypesRow(3, "expiring")} USING TTL 300000000 AND TIMESTAMP TS`],
  [
    "all_types",
    "insert-nulls",
    `INSERT INTO ${K}.all_types (pk, c_int, c_text, c_blob) VALUES (4, null, 'x', 0x) USING TIMESTAMP TS`,
  ],
  [
    "all_types",
    "empty-values",
    `INSERT INTO ${K}.all_types (pk, c_int, c_bigint, c_uuid) VALUES (5, blobAsInt(0x), blobAsBigint(0x), blobAsUuid(0x)) USING TIMESTAMP TS`,
  ],
  [
    "all_types",
    "update-ttl",
    `UPDATE ${K}.all_types USING TTL 250000000 AND TIMESTAMP TS SET c_text = 'updated', c_double = 2.5 WHERE pk = 1`,
  ],
  ["all_types", "cell-delete", `DELETE c_text, c_inet FROM ${K}.all_types USING TIMESTAMP TS WHERE pk = 1`],
  ["all_types", "partition-delete", `DELETE FROM ${K}.all_types USING TIMESTAMP TS WHERE pk = 2`],
  [
    "clustered",
    "insert",
    `INSERT INTO ${K}.clustered (pk, ck, v, s) VALUES (1, 1, 'one', 'static-a') USING TIMESTAMP TS`,
  ],
  ["clustered", "insert", `INSERT INTO ${K}.clustered (pk, ck, v) VALUES (1, 2, 'two') USING TIMESTAMP TS`],
  ["clustered", "insert", `INSERT INTO ${K}.clustered (pk, ck, v) VALUES (1, 3, 'three') USING TIMESTAMP TS`],
  ["clustered", "insert", `INSERT INTO ${K}.clustered (pk, ck, v) VALUES (1, 4, 'four') USING TIMESTAMP TS`],
  ["clustered", "insert", `INSERT INTO ${K}.clustered (pk, ck, v) VALUES (1, 5, 'five') USING TIMESTAMP TS`],
  ["clustered", "insert", `INSERT INTO ${K}.clustered (pk, ck, v) VALUES (1, 6, 'six') USING TIMESTAMP TS`],
  ["clustered", "insert", `INSERT INTO ${K}.clustered (pk, ck, v) VALUES (1, 7, 'seven') USING TIMESTAMP TS`],
  [
    "clustered",
    "insert",
    `INSERT INTO ${K}.clustered (pk, ck, v, s) VALUES (2, 1, 'p2', 'static-b') USING TIMESTAMP TS`,
  ],
  ["clustered", "static-update", `UPDATE ${K}.clustered USING TIMESTAMP TS SET s = 'static-c' WHERE pk = 1`],
  ["clustered", "row-delete", `DELETE FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 1 AND ck = 2`],
  ["clustered", "range-delete", `DELETE FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 1 AND ck > 6`],
  [
    "clustered",
    "range-delete",
    `DELETE FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 1 AND ck >= 4 AND ck < 6`,
  ],
  ["clustered", "static-delete", `DELETE s FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 2`],
  ["clustered", "row-delete", `DELETE FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 1 AND ck = 3`],
  [
    "composite",
    "insert",
    `INSERT INTO ${K}.composite (pk1, pk2, ck1, ck2, v) VALUES ('a', 1, '2026-01-01 00:00:00+0000', 11111111-1111-1111-1111-111111111111, 1) USING TIMESTAMP TS`,
  ],
  [
    "composite",
    "insert",
    `INSERT INTO ${K}.composite (pk1, pk2, ck1, ck2, v) VALUES ('a', 1, '2026-01-01 00:00:00+0000', 22222222-2222-2222-2222-222222222222, 2) USING TIMESTAMP TS`,
  ],
  [
    "composite",
    "insert",
    `INSERT INTO ${K}.composite (pk1, pk2, ck1, ck2, v) VALUES ('a', 1, '2026-02-01 00:00:00+0000', 33333333-3333-3333-3333-333333333333, 3) USING TIMESTAMP TS`,
  ],
  [
    "composite",
    "row-delete",
    `DELETE FROM ${K}.composite USING TIMESTAMP TS WHERE pk1 = 'a' AND pk2 = 1 AND ck1 = '2026-01-01 00:00:00+0000' AND ck2 = 22222222-2222-2222-2222-222222222222`,
  ],
  [
    "composite",
    "range-delete",
    `DELETE FROM ${K}.composite USING TIMESTAMP TS WHERE pk1 = 'a' AND pk2 = 1 AND ck1 = '2026-02-01 00:00:00+0000'`,
  ],
  [
    "collections",
    "insert",
    `INSERT INTO ${K}.collections (pk, l, s, m, fl, fs, fm, u, fu, t, nested) VALUES (1, ['a', 'b'], {1, 2, 3},
    {'x': 1, 'y': 2}, [1, 2], {'p', 'q'}, {1: 'one'}, {street: 'main', zip: 1000, tags: {'t1'}}, {street: 'frozen', zip: 2000, tags: {}},
    (7, 'seven', true), {'k': [1, 2, 3]}) USING TIMESTAMP TS`,
  ],
  [
    "collections",
    "collection-append",
    `UPDATE ${K}.collections USING TIMESTAMP TS SET l = l + ['c'], s = s + {4}, m['z'] = 26 WHERE pk = 1`,
  ],
  [
    "collections",
    "collection-overwrite",
    `UPDATE ${K}.collections USING TIMESTAMP TS SET l = ['only'], m = {'new': 1} WHERE pk = 1`,
  ],
  ["collections", "element-delete", `DELETE m['new'] FROM ${K}.collections USING TIMESTAMP TS WHERE pk = 1`],
  [
    "collections",
    "element-delete",
    `UPDATE ${K}.collections USING TIMESTAMP TS SET s = s - {2} WHERE pk = 1`,
  ],
  [
    "collections",
    "udt-field",
    `UPDATE ${K}.collections USING TIMESTAMP TS SET u.street = 'side', u.zip = null WHERE pk = 1`,
  ],
  [
    "collections",
    "frozen-update",
    `UPDATE ${K}.collections USING TIMESTAMP TS SET fu = {street: 'f2', zip: 3}, t = (8, null, false), nested['j'] = [9] WHERE pk = 1`,
  ],
  ["collections", "collection-delete", `DELETE l, u FROM ${K}.collections USING TIMESTAMP TS WHERE pk = 1`],
  [
    "collections",
    "insert-ttl",
    `INSERT INTO ${K}.collections (pk, l, m) VALUES (2, ['ttl'], {'a': 1}) USING TTL 200000000 AND TIMESTAMP TS`,
  ],
  [
    "batch",
    "logged-batch",
    `BEGIN BATCH USING TIMESTAMP TS
    INSERT INTO ${K}.all_types (pk, c_text) VALUES (7, 'batched');
    INSERT INTO ${K}.collections (pk, s) VALUES (7, {70});
    INSERT INTO ${K}.clustered (pk, ck, v) VALUES (7, 1, 'batched');
    DELETE FROM ${K}.clustered WHERE pk = 1 AND ck = 1;
    APPLY BATCH`,
  ],
  [
    "batch",
    "unlogged-batch",
    `BEGIN UNLOGGED BATCH USING TIMESTAMP TS
    INSERT INTO ${K}.clustered (pk, ck, v) VALUES (8, 1, 'u1');
    INSERT INTO ${K}.clustered (pk, ck, v) VALUES (8, 2, 'u2');
    APPLY BATCH`,
  ],
  ["clustered", "row-delete", `DELETE FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 8 AND ck = 2`],
  ["all_types", "insert", `${allTypesRow(6, "last")} USING TIMESTAMP TS`],
  ["clustered", "partition-delete", `DELETE FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 2`],
  ["clustered", "row-delete", `DELETE FROM ${K}.clustered USING TIMESTAMP TS WHERE pk = 1 AND ck = 5`],
];

/** Creates the schema, runs every step with a fresh timestamp, and returns the statement log. */
export async function runMutationWorkload(node: CassandraNode): Promise<StatementRecord[]> {
  for (const cql of SCHEMA) await node.execute(cql);
  const log: StatementRecord[] = [];
  let last = 0n;
  const wallMicros = () => BigInt(Date.now()) * 1000n;
  // Distinct, increasing and close to the node's clock, so the server-stamped statements interleave.
  const next = () => {
    const now = wallMicros();
    last = now > last + 1000n ? now : last + 1000n + BigInt(log.length % 7) * 13n;
    return last;
  };
  /** Waits until the wall clock is clear of every client timestamp so far, then runs `fn`. */
  const afterLast = async (fn: () => Promise<void>) => {
    while (wallMicros() <= last + 2000n) await new Promise((r) => setTimeout(r, 1));
    await fn();
    last = wallMicros() + 2000n;
    await new Promise((r) => setTimeout(r, 3));
  };
  const add = (table: string, kind: string, cql: string, stamp: Partial<StatementRecord>) =>
    log.push({ seq: log.length + 1, table, kind, cql: cql.replace(/\s+/g, " "), ...stamp });
  const counter = (cql: string) =>
    afterLast(async () => {
      const before = wallMicros();
      await node.execute(cql);
      add("counts", "counter-update", cql, { window: [before.toString(), (wallMicros() + 999n).toString()] });
    });

  for (const [i, [table, kind, template]] of STEPS.entries()) {
    const ts = next();
    const cql = template.replace("TS", ts.toString());
    await node.execute(cql);
    add(table, kind, cql, { timestamp: ts.toString() });
    if (i === 8) {
      await counter(`UPDATE ${K}.counts SET hits = hits + 1, misses = misses + 2 WHERE pk = 1`);
      await counter(`UPDATE ${K}.counts SET hits = hits + 5 WHERE pk = 2`);
      await afterLast(async () => {
        const lwt = `INSERT INTO ${K}.conditional (pk, v) VALUES (1, 'once') IF NOT EXISTS`;
        await node.execute(lwt);
        const rs = await node.execute(`SELECT writetime(v) AS wt FROM ${K}.conditional WHERE pk = 1`);
        add("conditional", "conditional-insert", lwt, { timestamp: String(rs.first()!["wt"]) });
      });
    }
    if (i === 24) await counter(`UPDATE ${K}.counts SET hits = hits - 3 WHERE pk = 1`);
  }
  // Dropped after its values were written: old mutations still carry c_gone.
  await node.execute(`ALTER TABLE ${K}.all_types DROP c_gone`);
  return log;
}
