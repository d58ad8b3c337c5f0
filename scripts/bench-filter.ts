/**
 * Throughput of the replay filter on a real 32 MiB segment:
 *
 *   PITR_TEST_PORT_BASE=20000 npx tsx scripts/bench-filter.ts [--runs N] [--compression lz4]
 *
 * The first run starts a Cassandra 5.0.9 node with 32 MiB segments, runs the mutation workload
 * (scripts/mutation-workload.ts) for the schema, then writes a mix of inserts, updates, TTLs, cell,
 * element and row deletes into its tables until one segment closes; the segment and the tables'
 * schema.cql are kept in .tmp/bench-filter/<kind>/ and reused. Each run filters the whole segment
 * with a cutoff that withholds about half of its mutations and prints MiB/s of segment file bytes
 * (median of the runs), and the same with nothing withheld.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { filterSegment } from "../src/commitlog/mutations/filter.js";
import { parseSchemaCql, type TableSchema } from "../src/commitlog/mutations/schema-cql.js";
import { isSystemTableId } from "../src/commitlog/mutations/system-tables.js";
import { CassandraNode, REPO, type NodeOptions } from "../test/helpers/cassandra.js";
import { MUTATION_KEYSPACE, runMutationWorkload } from "./mutation-workload.js";

const argv = process.argv.slice(2);
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const runs = Number(arg("--runs") ?? 9);
const compression = arg("--compression") as NodeOptions["commitlogCompression"];
const dir = join(REPO, ".tmp/bench-filter", compression ?? "uncompressed");
const K = MUTATION_KEYSPACE;

async function makeSegment(): Promise<void> {
  const options: NodeOptions = {
    segmentSizeMiB: 32,
    heap: "1G",
    ...(compression ? { commitlogCompression: compression } : {}),
  };
  const node = await CassandraNode.create("bench-filter", options);
  const capture = join(node.dir, "capture");
  await mkdir(capture);
  await node.reconfigure({
    ...options,
    archiveCommand: `${join(REPO, "test/helpers/capture-archive.sh")} ${capture} %path %name`,
  });
  try {
    await node.start();
    await runMutationWorkload(node);
    const first = new Set(await readdir(capture));
    let ts = BigInt(Date.now()) * 1000n;
    let written = 0;
    const stamps: bigint[] = [];
    while ((await readdir(capture)).filter((n) => n.endsWith(".log") && !first.has(n)).length < 2) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 64; i++, written++) {
        ts += 7n;
        stamps.push(ts);
        batch.push(node.execute(fillStatement(written, ts)));
      }
      await Promise.all(batch);
    }
    await node.nodetool("snapshot", "-t", "bench", K);
    await mkdir(dir, { recursive: true });
    let schema = "";
    for (const t of await readdir(join(node.dataDir, K)))
      schema += await readFile(join(node.dataDir, K, t, "snapshots/bench/schema.cql"), "utf8");
    await writeFile(join(dir, "schema.cql"), schema);
    // The second segment that closed after the workload: full of the mix, none of the schema set-up.
    const name = (await readdir(capture)).filter((n) => n.endsWith(".log") && !first.has(n)).sort()[1]!;
    await copyFile(join(capture, name), join(dir, name));
    await writeFile(
      join(dir, "stamps.json"),
      JSON.stringify({ first: stamps[0]!.toString(), last: stamps.at(-1)!.toString(), written }),
    );
    await node.stop();
  } finally {
    await node.destroy();
  }
}

function fillStatement(i: number, ts: bigint): string {
  const pk = i % 5000;
  switch (i % 8) {
    case 0:
      return `INSERT INTO ${K}.all_types (pk, c_int, c_bigint, c_text, c_uuid, c_double, c_vector) VALUES (${pk}, ${i}, ${i * 3}, 'text ${i} ${"x".repeat(i % 120)}', 5b6962dd-3f90-4c93-8f61-eabfa4a803e1, ${i}.5, [1.0, 2.0, ${i}.0]) USING TIMESTAMP ${ts}`;
    case 1:
      return `INSERT INTO ${K}.clustered (pk, ck, v) VALUES (${pk}, ${i % 97}, '${"v".repeat(40 + (i % 200))}') USING TIMESTAMP ${ts}`;
    case 2:
      return `DELETE FROM ${K}.clustered USING TIMESTAMP ${ts} WHERE pk = ${pk} AND ck = ${(i + 3) % 97}`;
    case 3:
      return `UPDATE ${K}.collections USING TIMESTAMP ${ts} SET l = l + ['e${i}'], s = s + {${i}}, m['k${i % 10}'] = ${i} WHERE pk = ${pk}`;
    case 4:
      return `UPDATE ${K}.all_types USING TTL 100000000 AND TIMESTAMP ${ts} SET c_text = 'ttl ${i}' WHERE pk = ${pk}`;
    case 5:
      return `DELETE m['k${i % 10}'] FROM ${K}.collections USING TIMESTAMP ${ts} WHERE pk = ${pk}`;
    case 6:
      return `DELETE FROM ${K}.clustered USING TIMESTAMP ${ts} WHERE pk = ${pk} AND ck > ${i % 50}`;
    default:
      return `INSERT INTO ${K}.composite (pk1, pk2, ck1, ck2, v) VALUES ('p${pk}', ${i % 7}, ${1700000000000 + i}, 11111111-1111-1111-1111-111111111111, ${i}) USING TIMESTAMP ${ts}`;
  }
}

const existing = await readdir(dir).catch((): string[] => []);
if (!existing.some((n) => n.endsWith(".log"))) await makeSegment();
const name = (await readdir(dir)).find((n) => n.endsWith(".log"))!;
const bytes = new Uint8Array(await readFile(join(dir, name)));
const tables = new Map<string, TableSchema>(
  parseSchemaCql(await readFile(join(dir, "schema.cql"), "utf8"), "schema.cql").map((t) => [t.id, t]),
);
const stamps = JSON.parse(await readFile(join(dir, "stamps.json"), "utf8")) as {
  first: string;
  last: string;
};
const middle = halfway(BigInt(stamps.first), BigInt(stamps.last));

/** A cutoff that withholds about half of the segment's user mutations (bisection over the written stamps). */
function halfway(lo: bigint, hi: bigint): bigint {
  const withheldAt = (cutoff: bigint) =>
    filterSegment(name, bytes, { cutoffMicros: cutoff, tables, passThrough: isSystemTableId });
  const all = withheldAt(lo - 1n);
  const target = all.withheld / 2;
  for (let i = 0; i < 40 && lo < hi; i++) {
    const mid = (lo + hi) / 2n;
    if (withheldAt(mid).withheld > target) lo = mid + 1n;
    else hi = mid;
  }
  return lo;
}
const mib = bytes.length / (1 << 20);

/** Wall and CPU time (ms) of each run; CPU time shows the cost when the machine is shared. */
function measure(cutoff: bigint) {
  const times: number[] = [];
  const cpu: number[] = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    last = filterSegment(name, bytes, { cutoffMicros: cutoff, tables, passThrough: isSystemTableId });
    const used = process.cpuUsage(cpu0);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    cpu.push((used.user + used.system) / 1000);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { median: median(times), min: Math.min(...times), cpu: median(cpu), result: last! };
}

for (const [label, cutoff] of [
  ["half withheld", middle],
  ["nothing withheld", 2n ** 62n],
] as const) {
  const { median, min, cpu, result } = measure(cutoff);
  console.log(
    `${name} (${mib.toFixed(1)} MiB${compression ? `, ${compression}` : ""}), ${label}: ${result.mutations} mutations, ${result.withheld} withheld ` +
      `(${result.withheldBeyondCassandra} beyond Cassandra), median ${median.toFixed(1)} ms = ${(mib / (median / 1000)).toFixed(1)} MiB/s ` +
      `(best ${min.toFixed(1)} ms; CPU ${cpu.toFixed(1)} ms = ${(mib / (cpu / 1000)).toFixed(1)} MiB/s; ${runs} runs)`,
  );
}
