/**
 * Point-in-time restore on a real node: rows written with distinct client timestamps (some less
 * than a millisecond apart, some out of order), a snapshot in the middle, more writes across many
 * segments with incremental flushes, then a restore to an instant T and the exact set of rows
 * with writetime <= T checked.
 */
import type { Test } from "tap";
import { execa } from "execa";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CassandraNode, NodeOptions, RowRecord } from "../helpers/cassandra.js";
import { CLI, runNode, tempDir, type Ran } from "../helpers/hooks.js";
import { nodeWithHook } from "./archive-scenario.js";
import type { NodeIdentity } from "../../src/format/layout.js";

export const KS = "shop";

export interface PitrNode {
  node: CassandraNode;
  identity: NodeIdentity;
  configFile: string;
  archiveDir: string;
  cli: (...args: string[]) => Promise<Ran>;
}

export async function pitrNode(t: Test, name: string, nodeOptions: NodeOptions = {}): Promise<PitrNode> {
  const root = await tempDir(name);
  const archiveDir = join(root, "archive");
  await mkdir(archiveDir);
  const made = await nodeWithHook(t, name, `file://${archiveDir}`, {}, {}, nodeOptions);
  await appendFile(made.configFile, `cassandraConf: ${made.node.confDir}\n`);
  // snapshot and restore run nodetool: init kept the node's nodetool command in the config file.
  const cli = (...args: string[]) => runNode(CLI, [...args, `--config=${made.configFile}`], process.env);
  return { node: made.node, identity: made.identity, configFile: made.configFile, archiveDir, cli };
}

/**
 * Client timestamps (µs) that follow the wall clock, as a driver's would, but strictly increase by
 * at least `step`: rows written in one burst end up less than a millisecond apart.
 */
export class Clock {
  private last = 0n;
  tick(stepMicros: bigint): bigint {
    const now = BigInt(Date.now()) * 1000n;
    this.last = this.last + stepMicros > now ? this.last + stepMicros : now;
    return this.last;
  }
}

/**
 * The start every whole-node scenario shares: table shop.orders, 300 rows (ids 1..300) flushed, and
 * `cassandra-pitr snapshot -t base shop`. Returns the rows and the clock to write more with.
 */
export async function baseSnapshot(t: Test, p: PitrNode): Promise<{ rows: RowRecord[]; clock: Clock }> {
  await createTables(p.node, ["orders"]);
  const clock = new Clock();
  const rows = await writeRows(p.node, "orders", 1, 300, clock);
  await p.node.nodetool("flush", "shop", "orders");
  await expectOk(t, await p.cli("snapshot", "-t", "base", "shop"), "snapshot -t base shop");
  return { rows, clock };
}

export async function createTables(node: CassandraNode, tables: string[]): Promise<void> {
  for (const table of tables) await node.createTable(KS, table);
}

/** Writes `count` rows (ids from `firstId`) with ~2 KB values so that segments fill and close. */
export async function writeRows(
  node: CassandraNode,
  table: string,
  firstId: number,
  count: number,
  clock: Clock,
  filler = 2000,
): Promise<RowRecord[]> {
  const rows: RowRecord[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 50); j++) {
      // Alternate 400 µs and 1300 µs steps: many pairs are less than a millisecond apart.
      const wt = clock.tick(j % 2 === 0 ? 400n : 1300n);
      batch.push(node.writeRow(KS, table, firstId + j, `v${firstId + j}-${"p".repeat(filler)}`, wt));
    }
    rows.push(...(await Promise.all(batch)));
  }
  return rows;
}

/**
 * The client clock runs ahead of the wall clock when many rows are written fast (it steps at least
 * 400 µs per row), and a segment's close time is its file's last write: wait until the wall clock
 * passes the last client timestamp, then write once more, so the segment that the next drain closes
 * ends after every timestamp written, as it would on a live node.
 */
export async function letWallClockCatchUp(
  node: CassandraNode,
  table: string,
  rows: RowRecord[],
  clock: Clock,
): Promise<void> {
  await new Promise((r) =>
    setTimeout(r, Math.max(0, Number(rows[rows.length - 1]!.writetime / 1000n) - Date.now() + 50)),
  );
  rows.push(await node.writeRow(KS, table, 999_999, "after-the-wait", clock.tick(400n)));
}

export function idsUpTo(rows: RowRecord[], at: bigint): number[] {
  const latest = new Map<number, bigint>();
  for (const r of rows)
    if (r.writetime <= at && (latest.get(r.id) ?? -1n) < r.writetime) latest.set(r.id, r.writetime);
  return [...latest.keys()].sort((a, b) => a - b);
}

export async function idsIn(node: CassandraNode, table: string): Promise<number[]> {
  return (await node.readRows(KS, table)).map((r) => r.id);
}

export async function expectOk(t: Test, ran: Ran, what: string): Promise<Ran> {
  t.equal(ran.exitCode, 0, `${what}: exit 0${ran.exitCode === 0 ? "" : `\n${ran.stdout}\n${ran.stderr}`}`);
  return ran;
}

export async function propertiesOf(node: CassandraNode): Promise<string> {
  return readFile(join(node.confDir, "commitlog_archiving.properties"), "utf8");
}

/** `cassandra-pitr agent` on the node, uploading partial segments every `partialMs`; stopped at teardown. */
export function startAgent(t: Test, p: PitrNode, partialMs: number) {
  const agent = execa(
    process.execPath,
    [
      CLI,
      "agent",
      `--config=${p.configFile}`,
      `--partial-interval=${partialMs / 1000}s`,
      "--agent-interval=10s",
    ],
    { reject: false },
  );
  t.teardown(() => void agent.kill("SIGTERM"));
  return agent;
}
