/**
 * `verify --drill` on real Cassandra: a source node archives through the hook, is snapshotted and
 * written on; the drill restores its archive to a scratch node (the harness) at an instant T, checks
 * the row count against the rows with writetime <= T, and records evidence that `report` reads.
 */
import t from "tap";
import { readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { buffer } from "node:stream/consumers";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { CLI } from "../helpers/hooks.js";
import { nodePrefix } from "../../src/format/layout.js";
import { PlanRefusedError } from "../../src/restore/plan.js";
import { openBackend } from "../../src/storage/open.js";
import {
  countOf,
  jsonValue,
  parseExpectation,
  runDrill,
  splitStatements,
  type ScratchNode,
} from "../../src/verify/drill.js";
import { baseSnapshot, idsUpTo, pitrNode, writeRows } from "./restore-scenario.js";

interface Evidence {
  kind: string;
  ran_at: string;
  restore_point: string;
  status: string;
  details: string;
  plan: { snapshot: string; segments: number; replay_list: string | null; bytes: { total: number } };
  scratch: { cassandra_version: string; port_base: number; kept_at: string | null };
  checks: { cql: string; status: string; count: number | null; error: string | null }[];
  expectations: { expect: string; actual: number | null; status: string }[];
  timings_ms: Record<string, number>;
}

/** The CLI with a timeout long enough for two Cassandra starts (the shared helper allows 2 minutes). */
async function cli(configFile: string, args: string[]) {
  const r = await execa(process.execPath, [CLI, ...args, `--config=${configFile}`], {
    reject: false,
    timeout: 900_000,
    stdin: "ignore",
  });
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
    lines: [] as string[],
  };
}

async function evidenceDocs(archiveDir: string, prefix: string): Promise<{ file: string; doc: Evidence }[]> {
  const dir = join(archiveDir, prefix, "evidence");
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => f.endsWith("_drill.json"))
    .sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      doc: JSON.parse(await readFile(join(dir, file), "utf8")) as Evidence,
    })),
  );
}

async function reportDrillCheck(
  configFile: string,
  since: string,
): Promise<{ status: string; details: string } | undefined> {
  const r = await cli(configFile, ["report", "--format", "json", "--since", since]);
  const doc = JSON.parse(r.stdout) as {
    nodes: { checks: { id: string; status: string; details: string }[] }[];
  };
  return doc.nodes[0]?.checks.find((c) => c.id === "restore-drill");
}

t.test("drill parts: expectations, schema statements, counts, and a drill that stops early", async (t) => {
  t.same(
    parseExpectation(" shop.orders >= 12 "),
    { raw: "shop.orders >= 12", keyspace: "shop", table: "orders", op: ">=", value: 12 },
    "parses ks.table>=N",
  );
  t.equal(parseExpectation("a.b==3").op, "=", "== is =");
  t.throws(
    () => parseExpectation("orders>=1"),
    { code: "E_USAGE" },
    "a table without keyspace is a usage error",
  );
  t.same(
    splitStatements(
      "CREATE TYPE IF NOT EXISTS k.u (a int);\nCREATE TABLE IF NOT EXISTS k.t (id int PRIMARY KEY) WITH ID = 1 AND comment = 'a;b''c;';\n",
    ),
    [
      "CREATE TYPE IF NOT EXISTS k.u (a int)",
      "CREATE TABLE IF NOT EXISTS k.t (id int PRIMARY KEY) WITH ID = 1 AND comment = 'a;b''c;'",
    ],
    "schema.cql split at semicolons outside quotes",
  );
  t.equal(countOf([{ count: 7n }]), 7, "one integer cell is a count");
  t.equal(countOf([{ id: 1, v: "x" }]), undefined, "a row of two columns is not");
  t.same(
    jsonValue({ b: Buffer.from([1, 2]), d: new Date(0), big: 2n ** 70n }),
    { b: "0x0102", d: "1970-01-01T00:00:00.000Z", big: "1180591620717411303424" },
    "driver values as JSON",
  );

  const backend = await openBackend("mem://drill-early");
  const identity = { cluster: "c1", node: "n1" };
  let disposed: boolean | undefined;
  const scratch: ScratchNode = {
    dir: "/nonexistent/scratch",
    portBase: 19102,
    paths: { dataDir: "/nonexistent/d", commitlogDir: "/nonexistent/c", cassandraConf: "/nonexistent/conf" },
    cassandraVersion: "5.0.9",
    start: async () => {
      t.fail("no start after a refused plan");
    },
    stop: async () => undefined,
    isRunning: async () => false,
    connect: async () => t.fail("no CQL after a refused plan") as never,
    dispose: async (keep) => {
      disposed = keep;
    },
  };
  const outcome = await runDrill({
    backend,
    identity,
    archiveUrl: "mem://drill-early",
    at: 1_700_000_000_000_000n,
    checks: [],
    expectations: [],
    keepScratch: false,
    restoreCommand: "/x/restore-hook.js %from %to",
    parallelism: 2,
    plan: async () => {
      throw new PlanRefusedError("no-snapshot", "no complete snapshot at or before T");
    },
    createScratch: async () => scratch,
    now: () => Date.UTC(2026, 0, 31, 12),
    say: () => undefined,
  });
  t.equal(disposed, false, "the scratch node is disposed (not kept)");
  t.ok(outcome.error instanceof PlanRefusedError, "the error is returned for its exit status");
  t.equal(outcome.key, "c1/n1/evidence/20260131T120000.000Z_drill.json", "evidence key");
  const stored = JSON.parse((await buffer(await backend.get(outcome.key))).toString("utf8")) as Record<
    string,
    unknown
  >;
  t.match(
    stored,
    {
      kind: "restore-drill",
      status: "failed",
      restore_point: "2023-11-14T22:13:20.000000Z",
      error: { code: "E_PLAN_REFUSED" },
      plan: null,
    },
    "a drill that stopped early is recorded as failed",
  );
  await backend.close();
});

t.test("restore drill on a scratch node: count at T, evidence in the archive, report reads it", async (t) => {
  const since = new Date(Date.now() - 3_600_000).toISOString();
  const p = await pitrNode(t, "drill");
  t.teardown(() => rm(dirname(p.archiveDir), { recursive: true, force: true }));
  const { node } = p;
  const { rows, clock } = await baseSnapshot(t, p);
  rows.push(...(await writeRows(node, "orders", 1000, 600, clock)));
  const at = rows[rows.length - 1]!.writetime - 173n; // between the last two rows
  rows.push(...(await writeRows(node, "orders", 2000, 600, clock)));
  await node.stop();
  const expected = idsUpTo(rows, at).length;
  t.ok(
    expected > 300 && expected < rows.length,
    `T cuts the history after the snapshot (${expected} of ${rows.length} rows)`,
  );
  const prefix = nodePrefix(p.identity);

  const before = await reportDrillCheck(p.configFile, since);
  t.equal(before?.status, "warning", "before any drill, report warns that none is recorded");

  const ran = await cli(p.configFile, [
    "verify",
    "--drill",
    "--at",
    at.toString(),
    "--expect",
    `shop.orders>=${expected}`,
  ]);
  t.equal(
    ran.exitCode,
    0,
    `verify --drill: exit 0${ran.exitCode === 0 ? "" : `\n${ran.stdout}\n${ran.stderr}`}`,
  );
  t.match(ran.stdout, /restore drill passed/, "prints the outcome");

  const docs = await evidenceDocs(p.archiveDir, prefix);
  t.equal(docs.length, 1, "one evidence object under <node>/evidence/");
  const ev = docs[0]!.doc;
  t.match(docs[0]!.file, /^\d{8}T\d{6}\.\d{3}Z_drill\.json$/, "named <compact time>_drill.json");
  t.equal(ev.kind, "restore-drill", "kind restore-drill");
  t.equal(ev.status, "passed", "status passed");
  t.equal(Date.parse(ev.restore_point), Number(at / 1000n), "restore_point is T");
  t.ok(Number.isFinite(Date.parse(ev.ran_at)), "ran_at is a time");
  t.equal(ev.plan.snapshot, "base", "restored from the snapshot 'base'");
  t.ok(
    ev.plan.segments >= 1 && ev.plan.bytes.total > 0,
    `plan summary recorded (${ev.plan.segments} segments, ${ev.plan.bytes.total} B)`,
  );
  t.equal(
    ev.plan.replay_list,
    "shop.orders",
    "replay limited to the user table (no system mutations of the source node)",
  );
  t.equal(ev.scratch.cassandra_version, "5.0.9", "Cassandra version of the scratch node");
  t.equal(ev.scratch.kept_at, null, "scratch node not kept");
  t.same(
    ev.checks.map((c) => c.cql),
    ["SELECT count(*) FROM shop.orders"],
    "default check: count of each table in scope",
  );
  t.equal(ev.checks[0]!.count, expected, `restored count equals the rows with writetime <= T (${expected})`);
  t.same(
    ev.expectations.map((e) => [e.expect, e.actual, e.status]),
    [[`shop.orders>=${expected}`, expected, "passed"]],
    "expectation recorded",
  );
  t.ok(ev.timings_ms["total"]! > 0 && ev.timings_ms["replay_start"]! > 0, "timings recorded");
  const leftovers = (await readdir(tmpdir())).filter((d) =>
    d.startsWith(`cassandra-pitr-drill-${ev.scratch.port_base}-`),
  );
  t.same(leftovers, [], "scratch directory removed");

  const after = await reportDrillCheck(p.configFile, since);
  t.equal(after?.status, "ok", `report shows the restore-drill check ok (${after?.details})`);

  // A failing expectation and a failing query: exit 3, evidence status failed.
  const failing = await cli(p.configFile, [
    "verify",
    "--drill",
    "--at",
    at.toString(),
    "--check",
    "SELECT count(*) FROM shop.orders",
    "--check",
    "SELECT * FROM shop.no_such_table",
    "--expect",
    `shop.orders>${expected}`,
  ]);
  t.equal(
    failing.exitCode,
    3,
    `failing checks: exit 3${failing.exitCode === 3 ? "" : `\n${failing.stdout}\n${failing.stderr}`}`,
  );
  const docs2 = await evidenceDocs(p.archiveDir, prefix);
  t.equal(docs2.length, 2, "a second evidence object");
  const ev2 = docs2[1]!.doc;
  t.equal(ev2.status, "failed", "status failed");
  t.same(
    ev2.checks.map((c) => c.status),
    ["passed", "failed"],
    "the count passed, the query on a missing table failed",
  );
  t.equal(ev2.checks[0]!.count, expected, "the count is the same at the same T");
  t.ok(ev2.checks[1]!.error, "the failing query's error is recorded");
  t.same(
    ev2.expectations.map((e) => [e.actual, e.status]),
    [[expected, "failed"]],
    "the expectation failed with the actual count",
  );
  const last = await reportDrillCheck(p.configFile, since);
  t.equal(last?.status, "failure", "report now shows the newest drill failed");
});
