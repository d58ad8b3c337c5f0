/**
 * The compliance report over an archive a real node produced: a healthy stretch, a quiet period (no
 * writes, so the open segment is not archived), an archive outage (segments spooled, uploaded later
 * by the agent), and a deliberate gap (a segment object removed). The report must find each, with
 * its cause, and RPO figures at least as large as what the test did.
 */
import t from "tap";
import { readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { CLI, runNode } from "../helpers/hooks.js";
import { listArchived } from "./archive-scenario.js";
import { Clock, KS, createTables, expectOk, pitrNode, writeRows } from "./restore-scenario.js";

interface Worst {
  start_at: string;
  end_at: string;
  duration_ms: number;
  peak_rpo_ms: number | null;
  cause: string;
}

let nextId = 1000;
/** Writes rows until `count()` reaches `want` (segments archived, or spooled). */
async function fillSegments(
  p: Awaited<ReturnType<typeof pitrNode>>,
  count: () => Promise<number>,
  want: number,
  clock: Clock,
  table: string,
) {
  while ((await count()) < want) {
    await writeRows(p.node, table, nextId, 100, clock);
    nextId += 100;
  }
}

/**
 * Writes until the node is verifiably under the 10 s target: the newest archived segment closed less
 * than 4 s ago, and the one before it less than 4 s before that. A window boundary then falls
 * between two incidents however slow the machine is (under load a segment can take longer than the
 * target to fill, and two incidents would merge into one window with one cause).
 */
async function settle(
  p: Awaited<ReturnType<typeof pitrNode>>,
  backend: Backend,
  clock: Clock,
  table: string,
): Promise<void> {
  for (let round = 0; round < 40; round++) {
    await writeRows(p.node, table, nextId, 100, clock);
    nextId += 100;
    const all = await listArchived(backend, p.identity);
    const [prev, last] = all.slice(-2).map((a) => a.record.closeTimeMs);
    if (prev !== undefined && last !== undefined && Date.now() - last < 4_000 && last - prev < 4_000) return;
  }
  throw new Error(
    "the node never reached a steady archive (segments closing and archived within 4 s) after 40 rounds of writes",
  );
}

t.test("report on a real archive: quiet period, archive outage and gap, each with its cause", async (t) => {
  const p = await pitrNode(t, "report-real");
  const backend = await openBackend(`file://${p.archiveDir}`);
  t.teardown(() => backend.close());
  await createTables(p.node, ["ev"]);
  const clock = new Clock();
  await writeRows(p.node, "ev", 1, 50, clock);
  await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot");
  const since = new Date(Date.now() - 60_000).toISOString();
  const archived = async () => (await listArchived(backend, p.identity)).length;
  await fillSegments(p, archived, (await archived()) + 3, clock, "ev");
  await settle(p, backend, clock, "ev");

  // Quiet: no writes for 25 s; the active segment stays open and unarchived.
  const quietMs = 25_000;
  const quietFrom = Date.now();
  await new Promise((r) => setTimeout(r, quietMs));

  // Healthy again long enough for the RPO to drop under the target between the two incidents.
  await fillSegments(p, archived, (await archived()) + 3, clock, "ev");
  await settle(p, backend, clock, "ev");

  // Outage: the archive vanishes; the hook spools; the agent uploads 20 s later.
  const outageFrom = Date.now();
  await rename(p.archiveDir, `${p.archiveDir}.away`);
  const spool = join(p.node.dir, "cassandra-pitr-spool");
  const spooled = async () =>
    (await readdir(spool).catch(() => [] as string[])).filter((n) => n.startsWith("CommitLog")).length;
  await fillSegments(p, spooled, 2, clock, "ev");
  const outageMs = 20_000;
  await new Promise((r) => setTimeout(r, outageMs));
  await rename(`${p.archiveDir}.away`, p.archiveDir);
  const outageTo = Date.now();
  await expectOk(
    t,
    await runNode(CLI, ["agent", "--once", `--config=${p.configFile}`], process.env),
    "agent uploads the spooled segments",
  );

  // More healthy segments, then a deliberate gap: one of them removed from the archive.
  const before = await archived();
  await fillSegments(p, archived, before + 3, clock, "ev");
  await settle(p, backend, clock, "ev");
  await p.node.stop();
  const all = await listArchived(backend, p.identity);
  const victim = all[all.length - 3]!;
  await rm(join(p.archiveDir, victim.key));
  // Nothing after the gap is restorable: let that last longer than the 10 s target.
  await new Promise((r) => setTimeout(r, 15_000));

  const ran = await p.cli("report", "--since", since, "--target-rpo", "10s", "--format", "json");
  t.equal(ran.exitCode, 3, "the target is breached: exit 3");
  const report = JSON.parse(ran.stdout) as {
    nodes: {
      node: string;
      rpo: { worst: Worst[]; max_rpo_ms: number | null };
      checks: { id: string; status: string; details: string }[];
    }[];
  };
  const node = report.nodes.find((n) => n.node === p.identity.node)!;
  t.ok(node, "the report covers the node");
  const causes = node.rpo.worst.map((w) => w.cause);
  t.comment(JSON.stringify(node.rpo.worst));
  t.ok(causes.includes("quiet-segment"), `a quiet-segment window (causes: ${causes.join(", ")})`);
  t.ok(causes.includes("archive-lag"), "an archive-lag window");
  t.ok(causes.includes("gap"), "a gap window");
  const overlapping = (cause: string, from: number, to: number) =>
    node.rpo.worst.find(
      (w) => w.cause === cause && Date.parse(w.start_at) <= to && Date.parse(w.end_at) >= from,
    );
  const quiet = overlapping("quiet-segment", quietFrom, quietFrom + quietMs);
  t.ok(quiet, "a quiet-segment window overlaps the quiet period");
  t.ok(
    quiet?.peak_rpo_ms !== null && (quiet?.peak_rpo_ms ?? 0) >= quietMs,
    `its peak RPO (${quiet?.peak_rpo_ms} ms) is at least the quiet period (${quietMs} ms)`,
  );
  const lag = overlapping("archive-lag", outageFrom, outageTo);
  t.ok(lag, "an archive-lag window overlaps the outage");
  t.ok(
    lag?.peak_rpo_ms !== null && (lag?.peak_rpo_ms ?? 0) >= outageMs,
    `its peak RPO (${lag?.peak_rpo_ms} ms) is at least the outage (${outageMs} ms)`,
  );
  const chain = node.checks.find((c) => c.id === "segment-chain")!;
  t.equal(chain.status, "failure", "the segment-chain check fails");
  t.match(chain.details, String(victim.segmentId), "and names the removed segment");

  const md = await p.cli(
    "report",
    "--since",
    since,
    "--target-rpo",
    "10s",
    "--format",
    "markdown",
    `--out=${join(p.node.dir, "report.md")}`,
  );
  t.equal(md.exitCode, 3, "markdown report: exit 3 too");
});
