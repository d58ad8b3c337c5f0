/**
 * The oracle for exact restores: a log of every statement written to a node, each with its explicit
 * `USING TIMESTAMP`, over tables that exercise every kind of mutation (inserts, updates, TTLs, cell,
 * collection element, row, range and partition deletions, static columns, collections, UDTs, tuples,
 * batches; counters separately, since Cassandra stamps them itself: a counter update is logged with
 * the wall-clock window it ran in, counts as written at or before T when its window ends by T, and
 * a test must write none whose window contains T (`counterAmbiguity`).
 *
 * After a restore to T, `replayInto` writes the statements stamped <= T into a fresh keyspace with
 * the same schema, and `dumpTable` reads both keyspaces in full (every column, `writetime()` of every
 * simple column, whether a TTL is set), so the test compares what Cassandra holds, not a hand-made
 * list. Statements never depend on the state they meet (no list index operations, no
 * read-before-write), so replaying a subset in log order gives the state at T.
 */
import { createHash } from "node:crypto";
import cassandra from "cassandra-driver";
import type { CassandraNode } from "./cassandra.js";

/** What reading a node takes: a test node, or a scratch node another process made (helpers/scratch.ts). */
export type CqlNode = Pick<CassandraNode, "execute" | "cql">;

/** `{ks}` in a statement or schema line stands for the keyspace. */
export const EXACT_SCHEMA = [
  "CREATE TYPE {ks}.address (street text, zip int)",
  "CREATE TABLE {ks}.kv (pk int PRIMARY KEY, v text, n bigint, tags set<text>, attrs map<text, int>, hist list<int>, home frozen<address>, loc address, pair tuple<int, text>, raw blob)",
  "CREATE TABLE {ks}.events (pk int, ck int, v text, s text static, PRIMARY KEY (pk, ck)) WITH CLUSTERING ORDER BY (ck DESC)",
  "CREATE TABLE {ks}.wide (a int, b text, c int, d int, v text, PRIMARY KEY ((a, b), c, d))",
  "CREATE TABLE {ks}.hits (pk int PRIMARY KEY, c counter, d counter)",
];

/** Simple (single-cell) columns per table: their writetime() and ttl() are compared too. */
const SIMPLE_COLUMNS: Record<string, string[]> = {
  kv: ["v", "n", "home", "pair", "raw"],
  events: ["v", "s"],
  wide: ["v"],
  hits: [], // counters have no writetime()
};
export const EXACT_TABLES = Object.keys(SIMPLE_COLUMNS);
/** The tables written with `USING TIMESTAMP`: all but the counter table, which only `Workload.counter` writes. */
export const STAMPED_TABLES = EXACT_TABLES.filter((t) => t !== "hits");

export interface Statement {
  /** CQL with `{ks}` for the keyspace and `{ts}` for the timestamp. */
  readonly cql: string;
  readonly ts: bigint;
  readonly kind: string;
  /** A counter update: the wall-clock µs before and after it ran (Cassandra stamps it in between); `ts` is the end. */
  readonly window?: readonly [bigint, bigint] | undefined;
}

const nowMicros = () => BigInt(Date.now()) * 1000n;

/** A small deterministic generator (mulberry32), so a failing run can be repeated. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * Generates statements of every kind. `filler` pads some text values so that segments fill and
 * close. Keys come from small ranges so that later statements overwrite and delete earlier ones.
 */
export class Workload {
  readonly log: Statement[] = [];
  private readonly rnd: () => number;
  constructor(
    seed: number,
    private readonly filler = 600,
  ) {
    this.rnd = seeded(seed);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }
  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  private text(tag: string): string {
    return `${tag}-${this.int(1e6)}-${"x".repeat(this.int(this.filler))}`;
  }

  /** One statement of a kind drawn at random (or the kind named), stamped `ts`. */
  next(ts: bigint, kind?: string): Statement {
    const kinds = Object.keys(this.makers);
    const k = kind ?? this.pick(kinds);
    const cql = this.makers[k]!();
    const s = { cql, ts, kind: k };
    this.log.push(s);
    return s;
  }

  private readonly makers: Record<string, () => string> = {
    insert: () =>
      `INSERT INTO {ks}.kv (pk, v, n, raw) VALUES (${this.int(40)}, ${q(this.text("v"))}, ${this.int(1e9)}, 0x${this.int(1e6).toString(16).padStart(6, "0")}) USING TIMESTAMP {ts}`,
    "insert-ttl": () =>
      `INSERT INTO {ks}.kv (pk, v) VALUES (${this.int(40)}, ${q(this.text("ttl"))}) USING TIMESTAMP {ts} AND TTL 86400`,
    update: () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET n = ${this.int(1e9)}, pair = (${this.int(100)}, ${q(this.text("p"))}) WHERE pk = ${this.int(40)}`,
    "update-udt": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET home = {street: ${q(this.text("st"))}, zip: ${this.int(99999)}} WHERE pk = ${this.int(40)}`,
    "update-udt-field": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET loc.zip = ${this.int(99999)} WHERE pk = ${this.int(40)}`,
    "set-add": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET tags = tags + {${q(`t${this.int(8)}`)}} WHERE pk = ${this.int(40)}`,
    "set-remove": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET tags = tags - {${q(`t${this.int(8)}`)}} WHERE pk = ${this.int(40)}`,
    "set-overwrite": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET tags = {${q(`t${this.int(8)}`)}, ${q(`t${this.int(8)}`)}} WHERE pk = ${this.int(40)}`,
    "map-put": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET attrs[${q(`k${this.int(6)}`)}] = ${this.int(1000)} WHERE pk = ${this.int(40)}`,
    "map-delete": () =>
      `DELETE attrs[${q(`k${this.int(6)}`)}] FROM {ks}.kv USING TIMESTAMP {ts} WHERE pk = ${this.int(40)}`,
    "list-append": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET hist = hist + [${this.int(1000)}] WHERE pk = ${this.int(40)}`,
    "list-overwrite": () =>
      `UPDATE {ks}.kv USING TIMESTAMP {ts} SET hist = [${this.int(1000)}, ${this.int(1000)}] WHERE pk = ${this.int(40)}`,
    "cell-delete": () => `DELETE v FROM {ks}.kv USING TIMESTAMP {ts} WHERE pk = ${this.int(40)}`,
    "collection-delete": () => `DELETE tags FROM {ks}.kv USING TIMESTAMP {ts} WHERE pk = ${this.int(40)}`,
    "kv-row-delete": () => `DELETE FROM {ks}.kv USING TIMESTAMP {ts} WHERE pk = ${this.int(40)}`,
    "clustered-insert": () =>
      `INSERT INTO {ks}.events (pk, ck, v) VALUES (${this.int(12)}, ${this.int(30)}, ${q(this.text("e"))}) USING TIMESTAMP {ts}`,
    "static-update": () =>
      `UPDATE {ks}.events USING TIMESTAMP {ts} SET s = ${q(this.text("s"))} WHERE pk = ${this.int(12)}`,
    "row-delete": () =>
      `DELETE FROM {ks}.events USING TIMESTAMP {ts} WHERE pk = ${this.int(12)} AND ck = ${this.int(30)}`,
    "range-delete": () => {
      const lo = this.int(25);
      return `DELETE FROM {ks}.events USING TIMESTAMP {ts} WHERE pk = ${this.int(12)} AND ck > ${lo} AND ck <= ${lo + 1 + this.int(6)}`;
    },
    "partition-delete": () => `DELETE FROM {ks}.events USING TIMESTAMP {ts} WHERE pk = ${this.int(12)}`,
    "composite-insert": () =>
      `INSERT INTO {ks}.wide (a, b, c, d, v) VALUES (${this.int(5)}, ${q(`b${this.int(3)}`)}, ${this.int(10)}, ${this.int(4)}, ${q(this.text("w"))}) USING TIMESTAMP {ts}`,
    "composite-range-delete": () =>
      `DELETE FROM {ks}.wide USING TIMESTAMP {ts} WHERE a = ${this.int(5)} AND b = ${q(`b${this.int(3)}`)} AND c = ${this.int(10)}`,
    "logged-batch": () =>
      `BEGIN BATCH USING TIMESTAMP {ts} INSERT INTO {ks}.events (pk, ck, v) VALUES (${this.int(12)}, ${this.int(30)}, ${q(this.text("b"))}); UPDATE {ks}.kv SET n = ${this.int(1e9)} WHERE pk = ${this.int(40)}; DELETE FROM {ks}.events WHERE pk = ${this.int(12)} AND ck = ${this.int(30)}; APPLY BATCH`,
    "unlogged-batch": () => {
      const pk = this.int(12);
      return `BEGIN UNLOGGED BATCH USING TIMESTAMP {ts} INSERT INTO {ks}.events (pk, ck, v) VALUES (${pk}, ${this.int(30)}, ${q(this.text("u"))}); DELETE FROM {ks}.events WHERE pk = ${pk} AND ck = ${this.int(30)}; APPLY BATCH`;
    },
  };

  static readonly kinds = (): string[] => Object.keys(new Workload(1).makers);

  /**
   * Runs one counter update (increments and decrements of one or two counters of a row) on `node`
   * and logs it with the wall-clock window it ran in.
   */
  async counter(node: CassandraNode, keyspace: string): Promise<Statement> {
    const pk = this.int(10);
    const set =
      this.rnd() < 0.5
        ? `c = c + ${1 + this.int(100)}`
        : `c = c - ${1 + this.int(50)}, d = d + ${1 + this.int(1000)}`;
    const cql = `UPDATE {ks}.hits SET ${set} WHERE pk = ${pk}`;
    const lo = nowMicros();
    await node.execute(cql.replaceAll("{ks}", keyspace));
    const hi = nowMicros() + 1000n; // Date.now() has ms steps: the server's µs stamp may be up to 1 ms past it
    const s: Statement = { cql, ts: hi, kind: "counter-update", window: [lo, hi] };
    this.log.push(s);
    return s;
  }
}

/** Counter updates whose window contains `at`: the oracle cannot say whether they are before T. */
export function counterAmbiguity(log: readonly Statement[], at: bigint): Statement[] {
  return log.filter((s) => s.window !== undefined && s.window[0] <= at && at < s.window[1]);
}

export function render(s: Statement, keyspace: string): string {
  return s.cql.replaceAll("{ks}", keyspace).replaceAll("{ts}", s.ts.toString());
}

export async function createExactKeyspace(node: CassandraNode, keyspace: string): Promise<void> {
  await node.execute(
    `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  for (const line of EXACT_SCHEMA)
    await node.execute(
      line.replaceAll("{ks}", keyspace).replace(/^CREATE (TYPE|TABLE) /, "CREATE $1 IF NOT EXISTS "),
    );
}

export async function apply(node: CassandraNode, s: Statement, keyspace: string): Promise<void> {
  await node.execute(render(s, keyspace));
}

/** Writes the statements stamped <= `at` into `keyspace` (created fresh), in log order. */
export async function replayInto(
  node: CassandraNode,
  log: readonly Statement[],
  at: bigint,
  keyspace: string,
): Promise<number> {
  await createExactKeyspace(node, keyspace);
  let n = 0;
  for (const s of log) {
    if (s.ts > at) continue;
    await apply(node, s, keyspace);
    n++;
  }
  return n;
}

/** Long text values (the filler) are compared by length and digest, so that a diff stays readable. */
function short(v: string): string {
  return v.length <= 48
    ? v
    : `${v.slice(0, 16)}…[${v.length} chars, sha256 ${createHash("sha256").update(v).digest("hex").slice(0, 12)}]`;
}

function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return short(v);
  if (cassandra.types.Long.isLong(v)) return v.toString();
  if (Buffer.isBuffer(v)) return `0x${v.toString("hex")}`;
  if (v instanceof cassandra.types.Tuple) return v.values().map(plain);
  if (v instanceof Map)
    return [...v.entries()]
      .map(([k, x]) => [plain(k), plain(x)])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = plain((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/**
 * Every row of `keyspace.table` as sorted JSON lines: all columns, writetime() of each simple
 * column, and whether it carries a TTL. Sets come back as arrays from the driver; they are sorted.
 * `omit` leaves columns out (one dropped on one side of a comparison).
 */
export async function dumpTable(
  node: CqlNode,
  keyspace: string,
  table: string,
  omit: readonly string[] = [],
): Promise<string[]> {
  const simple = (SIMPLE_COLUMNS[table] ?? []).filter((c) => !omit.includes(c));
  const columns = (
    await node.execute(
      "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
      [keyspace, table],
    )
  ).rows
    .map((r) => r["column_name"] as string)
    .filter((c) => !omit.includes(c));
  const extra = simple.flatMap((c) => [`writetime(${c}) AS wt_${c}`, `ttl(${c}) AS ttl_${c}`]);
  const rs = await (
    await node.cql()
  ).execute(`SELECT ${[...columns, ...extra].join(", ")} FROM ${keyspace}.${table}`, [], {
    fetchSize: 100_000,
  });
  const lines = rs.rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(row).sort()) {
      const value = row[key];
      if (key.startsWith("ttl_")) out[key] = value === null || value === undefined ? null : "set";
      else out[key] = plain(value);
    }
    for (const c of ["tags"]) if (Array.isArray(out[c])) (out[c] as unknown[]).sort();
    return JSON.stringify(out);
  });
  return lines.sort();
}

/** Line-level difference of two dumps, for a readable failure. */
export function dumpDiff(got: readonly string[], want: readonly string[], limit = 8): string {
  const g = new Set(got);
  const w = new Set(want);
  const extra = got.filter((l) => !w.has(l)).slice(0, limit);
  const missing = want.filter((l) => !g.has(l)).slice(0, limit);
  return [...extra.map((l) => `+ restored ${l}`), ...missing.map((l) => `- expected ${l}`)].join("\n");
}
