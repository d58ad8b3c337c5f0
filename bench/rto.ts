/**
 * End-to-end recovery time on a real Cassandra 5.0.9 node. Not part of `npm test`; run on demand by
 * `npm run bench -- --rto` (after the other figures) or `npm run bench -- --rto-only`, or alone:
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node build/bench/bench/rto.js [--mib 1024] [--out BENCHMARKS.md]
 *
 * (PITR_TEST_PORT_BASE=<base> picks the node's ports, as in the tests.) A node with 32 MiB segments
 * archives through our hook to a file:// archive; after a snapshot, rows of ~20 KB of random text
 * (so the archive is as large as the commit log: compression does not hide the transfer) are
 * written until `--mib` of commit log has been archived; the node is stopped and restored to the
 * last write. Timed: the `cassandra-pitr restore` command (fetch, verify, filter, stage, apply),
 * then the node's start split by its own log (start-up and restore hooks until the first
 * "Replaying", replay until "Log replay complete", then until CQL is up), and for comparison a plain
 * restart of the same node. The restored row count is checked against the rows written. The figures
 * replace the RTO subsection of BENCHMARKS.md.
 */
import t from "tap";
import os from "node:os";
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { REPO, type CassandraNode, type RowRecord } from "../test/helpers/cassandra.js";
import { KS, baseSnapshot, expectOk, pitrNode, type Clock } from "../test/e2e/restore-scenario.js";

const argv = process.argv.slice(2);
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const targetMiB = Number(arg("--mib") ?? 1024);
const outFile = resolve(REPO, arg("--out") ?? "BENCHMARKS.md");
const HEADING = "### End-to-end recovery time (RTO) on a real node";
const loadAtStart = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(" ");

/** Milliseconds since the epoch of a Cassandra log line (`INFO  [main] 2026-11-27 20:22:13,723 ...`), in the JVM's zone (UTC here). */
function lineTime(line: string): number | undefined {
  const m = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}),(\d{3})/.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}.${m[3]}Z`) : undefined;
}

function firstTime(log: string, pattern: RegExp, last = false): number | undefined {
  const lines = log.split("\n").filter((l) => pattern.test(l));
  const line = last ? lines.at(-1) : lines[0];
  return line ? lineTime(line) : undefined;
}

async function archivedBytes(dir: string): Promise<{ segments: number; bytes: number }> {
  let segments = 0;
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith(".log.zst")) {
        segments++;
        bytes += (await stat(join(d, e.name))).size;
      }
    }
  };
  await walk(dir);
  return { segments, bytes };
}

t.setTimeout(3_600_000); // a real node writing and replaying a GiB on a shared machine
void t.test(`RTO: ${targetMiB} MiB of commit log after a snapshot, restored on a real node`, async (t) => {
  const p = await pitrNode(t, "rto", { segmentSizeMiB: 32, heap: "1G" });
  const { node } = p;
  const { rows, clock } = await baseSnapshot(t, p);
  let next = 10_000;
  const writeStart = Date.now();
  // Segments are archived as they close: write until the window holds the wanted size.
  while ((await archivedBytes(p.archiveDir)).segments * 32 < targetMiB) {
    rows.push(...(await writeRandomRows(node, next, 500, clock)));
    next += 500;
  }
  const at = rows.at(-1)!.writetime;
  // The client clock may run ahead of the wall clock: wait past T and write once more, so the last
  // segment drained at the stop closes (its file time) after T and T is restorable.
  while (BigInt(Date.now()) * 1000n <= at + 1000n) await new Promise((r) => setTimeout(r, 5));
  await node.writeRow("shop", "orders", 1, "after T", clock.tick(1000n));
  await node.stop();
  const writeMs = Date.now() - writeStart;
  const archived = await archivedBytes(p.archiveDir);
  const expected = new Set(rows.filter((r) => r.writetime <= at).map((r) => r.id)).size;

  const logBefore = (await node.systemLog()).length;
  const t0 = Date.now();
  const restored = await expectOk(
    t,
    await p.cli("restore", "--at", at.toString(), "--grace", "1h"),
    "restore",
  );
  const t1 = Date.now();
  await node.start();
  const t2 = Date.now();
  const log = (await node.systemLog()).slice(logBefore);
  const replayStart = firstTime(log, /Replaying \//);
  const replayEnd = firstTime(log, /Log replay complete/);
  const cqlUp = firstTime(log, /Starting listening for CQL clients|Startup complete/);
  // Every id, page by page (one page of a million rows exhausts a small test heap).
  const got = await distinctIds(await node.cql());
  t.equal(got, expected, `every row written up to T is back (${expected})`);
  await expectOk(t, await p.cli("restore", "finish"), "restore finish");
  const plain = await plainRestart(node);
  const hookEvents = (await readFile(join(node.dir, "logs/cassandra-pitr.log"), "utf8").catch(() => ""))
    .split("\n")
    .filter((l) => l.includes('"event":"restored"')).length;
  const segmentsLine = /stage (\d+) segment/.exec(restored.stdout)?.[1] ?? "?";

  const s = (ms: number | undefined) => (ms === undefined ? "?" : (ms / 1000).toFixed(1));
  const rowsOut: [string, string, string][] = [
    [
      "`cassandra-pitr restore --at T` (fetch, verify, filter, stage, apply)",
      s(t1 - t0),
      `${segmentsLine} segments staged` +
        (segmentsLine === "?"
          ? ""
          : ` (${Number(segmentsLine) * 32} MiB, ${((Number(segmentsLine) * 32) / ((t1 - t0) / 1000)).toFixed(0)} MiB/s)`),
    ],
    [
      'node start until the first "Replaying" (JVM, schema, restore hooks)',
      s(replayStart === undefined ? undefined : replayStart - t1),
      `${hookEvents} restore hook call(s)`,
    ],
    [
      'replay ("Replaying" … "Log replay complete")',
      s(replayStart !== undefined && replayEnd !== undefined ? replayEnd - replayStart : undefined),
      "",
    ],
    [
      "after replay until CQL is up (its log line)",
      s(replayEnd !== undefined ? (cqlUp ?? t2) - replayEnd : undefined),
      "",
    ],
    [
      "**total: restore command to CQL up**",
      `**${s((cqlUp ?? t2) - t0)}**`,
      `${got} of ${expected} rows written up to T back`,
    ],
    [
      "for comparison: a plain restart of the same node after the restore, start command to CQL up",
      s(plain),
      "no restore settings, nothing to replay",
    ],
  ];
  const section = [
    HEADING,
    "",
    `Measured by \`node build/bench/bench/rto.js --mib ${targetMiB}\` (\`npm run bench -- --rto-only --mib ${targetMiB}\`) on ${new Date().toISOString()}, one run, on ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM) shared with other work: load average at start ${loadAtStart}, at end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}. ` +
      `A Cassandra 5.0.9 node (32 MiB segments, 1 GiB heap) archiving through the hook to a file:// archive on the same disk; a snapshot, then rows of ~20 KB of random text written for ${s(writeMs)} s until ${archived.segments} segments were archived (${(archived.bytes / 1048576).toFixed(0)} MiB as stored, zstd level 1: random text barely compresses, so the restore moves the whole GiB); the node stopped and restored to the last write. ` +
      "Phase boundaries come from the node's system.log (the total ends at its \"Starting listening for CQL clients\" line); the restore hook calls are counted in the hook's event log. " +
      "Cassandra's restore hook runs once: it links every staged segment into the commit log directory on its first call, and Cassandra skips the hook for a target that exists.",
    "",
    "| phase | seconds | note |",
    "|---|---|---|",
    ...rowsOut.map((r) => `| ${r.join(" | ")} |`),
    "",
  ].join("\n");
  process.stderr.write(section + "\n");
  const current = await readFile(outFile, "utf8");
  const from = current.indexOf(HEADING);
  const other = current.indexOf("## Other parts");
  const after = from >= 0 ? /\n##+ /.exec(current.slice(from + HEADING.length)) : null;
  const to = after ? from + HEADING.length + after.index + 1 : other;
  await writeFile(
    outFile,
    from >= 0
      ? current.slice(0, from) + section + current.slice(to)
      : current.slice(0, other) + section + "\n" + current.slice(other),
  );
});

/** Distinct ids of shop.orders, read in pages of 5000. */
async function distinctIds(session: {
  execute: (
    q: string,
    p: unknown[],
    o: Record<string, unknown>,
  ) => Promise<{ rows: Record<string, unknown>[]; pageState?: string | null }>;
}): Promise<number> {
  const ids = new Set<number>();
  let pageState: string | undefined;
  do {
    const rs = await session.execute("SELECT id FROM shop.orders", [], {
      fetchSize: 5000,
      readTimeout: 120_000,
      ...(pageState ? { pageState } : {}),
    });
    for (const r of rs.rows) ids.add(r["id"] as number);
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return ids.size;
}

/** Writes `count` rows of ~20 KB of random text (ids from `firstId`), 50 at a time; keeps ids and timestamps only. */
async function writeRandomRows(
  node: CassandraNode,
  firstId: number,
  count: number,
  clock: Clock,
): Promise<RowRecord[]> {
  const rows: RowRecord[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch: Promise<RowRecord>[] = [];
    for (let j = i; j < Math.min(count, i + 50); j++) {
      const value = randomBytes(15_000).toString("base64");
      batch.push(node.writeRow(KS, "orders", firstId + j, value, clock.tick(j % 2 === 0 ? 400n : 1300n)));
    }
    for (const r of await Promise.all(batch)) rows.push({ id: r.id, value: "", writetime: r.writetime });
  }
  return rows;
}

/** Stop, then start with nothing to restore: milliseconds from the start command to the node's CQL line. */
async function plainRestart(node: CassandraNode): Promise<number | undefined> {
  await node.stop();
  const logBefore = (await node.systemLog()).length;
  const started = Date.now();
  await node.start();
  const up = firstTime(
    (await node.systemLog()).slice(logBefore),
    /Starting listening for CQL clients|Startup complete/,
  );
  await node.stop();
  return up === undefined ? undefined : up - started;
}
