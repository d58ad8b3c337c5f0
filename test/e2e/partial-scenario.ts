/**
 * RPO in seconds on a real node (issue 14; partial-segments.test.ts runs it on 5.0.9,
 * partial-segments-41.test.ts on 4.1.10): 32 MiB segments, commitlog_sync periodic (1 s,
 * scripts/cassandra-node.sh), a slow load of every stamped mutation kind that never fills a
 * segment, and the agent uploading partial segments every 2 s while it looks at the syncs every
 * second. Proven against the oracle (statements with USING TIMESTAMP replayed into a reference
 * keyspace, full dumps with writetime compared):
 * - the RPO the report computes from the archive over the load stays within the sync period plus
 *   the upload interval plus the margins;
 * - a copy of the archive taken mid-load restores exactly the statements stamped <= its newest claim
 *   (the claims are sound while Cassandra is writing);
 * - idle after the load, the window moves past the newest write on memory-mapped segments
 *   (heartbeats), and the agent's archive alone restores it;
 * - the node killed with SIGKILL and never started again as it was: `rescue` uploads its synced
 *   tail, the window reaches its last synced write, and a restore returns exactly the statements
 *   stamped <= T. (A restore of the rescued archive onto a separate fresh node: dead-node-fresh.)
 * Uncompressed and LZ4-compressed commit logs.
 */
import type { Test } from "tap";
import { cp } from "node:fs/promises";
import { listPartialSegments } from "../../src/catalog/partials.js";
import { PARTIAL_CLAIM_MARGIN_MS } from "../../src/pipeline/partial.js";
import { SYNC_WATCH_INTERVAL_MS } from "../../src/pipeline/sync-watch.js";
import { openBackend } from "../../src/storage/open.js";
import { Clock, expectOk, pitrNode, startAgent, type PitrNode } from "./restore-scenario.js";
import {
  STAMPED_TABLES,
  Workload,
  apply,
  createExactKeyspace,
  dumpDiff,
  dumpTable,
  replayInto,
  type Statement,
} from "../helpers/oracle.js";

const KS = "slow";
const SYNC_MS = 1_000; // commitlog_sync_period of the test nodes
const UPLOAD_MS = 2_000;
/** A pass's own time (listing, reading, the put) and the scheduling of a loaded machine. */
const SLACK_MS = 1_500;
const BOUND_MS = SYNC_MS + UPLOAD_MS + SYNC_WATCH_INTERVAL_MS + PARTIAL_CLAIM_MARGIN_MS + SLACK_MS;

let refs = 0;
/** Restores `p`'s node to `at` from `archive`, starts it and compares KS with the oracle. */
async function restoreAndCompare(
  t: Test,
  p: PitrNode,
  log: readonly Statement[],
  at: bigint,
  what: string,
  archive?: string,
): Promise<void> {
  const from = archive ? [`--archive=file://${archive}`] : [];
  await expectOk(t, await p.cli("restore", "--at", at.toString(), ...from), `restore ${what}`);
  await p.node.start();
  const ref = `slow_ref${++refs}`;
  const replayed = await replayInto(p.node, log, at, ref);
  t.ok(replayed > 0 && replayed < log.length + 1, `${what}: ${replayed} of ${log.length} statements <= T`);
  for (const table of STAMPED_TABLES) {
    const got = await dumpTable(p.node, KS, table);
    const want = await dumpTable(p.node, ref, table);
    t.ok(got.join("\n") === want.join("\n"), `${what}: ${table} equals the oracle\n${dumpDiff(got, want)}`);
  }
  await expectOk(t, await p.cli("restore", "finish", ...from), `restore finish (${what})`);
  await p.node.stop();
}

async function newestClaim(archiveDir: string, p: PitrNode): Promise<{ ms: number; source?: string }> {
  const backend = await openBackend(`file://${archiveDir}`);
  try {
    const listed = await listPartialSegments(backend, p.identity, new Set());
    const newest = listed.reduce((a, s) => (s.closeTimeMs > a.closeTimeMs ? s : a), listed[0]!);
    return { ms: newest.closeTimeMs, ...(newest.partial ? { source: newest.partial.source } : {}) };
  } finally {
    await backend.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PartialRun {
  readonly name: string;
  readonly version?: string | undefined;
  readonly compression?: "lz4" | undefined;
  /** Statements of the slow load, one every 400 ms. */
  readonly writes: number;
  /** `all`: also from the idle agent's objects alone and from a copy taken mid-load. */
  readonly restores: "all" | "rescued tail";
}

export async function partialSegmentsScenario(t: Test, run: PartialRun): Promise<void> {
  const { compression, writes, restores } = run;
  const p = await pitrNode(t, run.name, {
    segmentSizeMiB: 32,
    ...(compression ? { commitlogCompression: compression } : {}),
    ...(run.version ? { version: run.version } : {}),
  });
  const { node } = p;
  await createExactKeyspace(node, KS);
  const w = new Workload(20261128, 300);
  const clock = new Clock();
  const write = async (kind?: string) => apply(node, w.next(clock.tick(400n), kind), KS);
  for (const kind of Workload.kinds()) await write(kind);
  for (let i = 0; i < 60; i++) await write();
  await node.nodetool("flush", KS);
  await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot");

  await sleep(SYNC_MS + 500);
  const before = JSON.parse(
    (await expectOk(t, await p.cli("list", "--json"), "list on the node")).stdout,
  ) as { exposure: { bytes: number }[] };
  t.ok(
    before.exposure.length === 1 && before.exposure[0]!.bytes > 0,
    "list shows the open segment's synced bytes as exposure",
  );
  const reported = JSON.parse((await p.cli("report", "--format=json")).stdout) as {
    nodes: { exposure?: { bytes: number; segments: unknown[] } }[];
  };
  t.same(
    [reported.nodes[0]!.exposure?.segments.length, reported.nodes[0]!.exposure?.bytes],
    [1, before.exposure[0]!.bytes],
    "report, run on the node, shows the same exposure",
  );
  const agent = startAgent(t, p, UPLOAD_MS);

  // A slow load: one statement every 400 ms (for about 60 s uncompressed), never near 32 MiB.
  await sleep(UPLOAD_MS + 1_000); // the agent's first pass and look
  const loadFromMs = Date.now();
  const midArchive = `${p.archiveDir}-mid`;
  for (let i = 0; i < writes; i++) {
    await write(i < Workload.kinds().length ? Workload.kinds()[i] : undefined);
    if (restores === "all" && i === Math.floor(writes / 2))
      await cp(p.archiveDir, midArchive, { recursive: true });
    await sleep(400);
  }
  const loadToMs = Date.now();
  const lastWriteMs = Number(w.log.at(-1)!.ts / 1000n);

  const achieved = JSON.parse(
    (
      await expectOk(
        t,
        await p.cli(
          "report",
          "--format=json",
          `--since=${new Date(loadFromMs + UPLOAD_MS * 3).toISOString()}`,
          `--until=${new Date(loadToMs).toISOString()}`,
        ),
        "report over the load",
      )
    ).stdout,
  ) as { nodes: { rpo: { max_rpo_ms: number | null } }[] };
  const maxRpo = achieved.nodes[0]!.rpo.max_rpo_ms;
  t.ok(
    maxRpo !== null && maxRpo <= BOUND_MS,
    `the report's RPO over the load: at most ${maxRpo} ms (bound ${BOUND_MS} ms: sync period + upload interval + a look + the claim margin + a pass's time)`,
  );

  // Idle: no write at all for a few passes.
  await sleep(SYNC_MS + 3 * UPLOAD_MS + SLACK_MS);
  const idle = await newestClaim(p.archiveDir, p);
  if (compression)
    t.ok(
      lastWriteMs - idle.ms <= BOUND_MS,
      `LZ4 hides unsynced writes, so no heartbeat: the window ends ${lastWriteMs - idle.ms} ms before the newest write`,
    );
  else
    t.ok(
      idle.ms > lastWriteMs,
      `idle, memory-mapped: heartbeats carry the window ${idle.ms - lastWriteMs} ms past the newest write`,
    );
  const agentClaim = BigInt(idle.ms) * 1000n;
  const plan = await expectOk(
    t,
    await p.cli("plan", "--at", agentClaim.toString()),
    "plan to the agent's claim",
  );
  t.match(plan.stdout, /partial segment/, "the plan says it uses a partial segment");

  await node.kill(); // SIGKILL: never started again as it was
  agent.kill("SIGTERM");
  await agent;
  const agentArchive = `${p.archiveDir}-agent`;
  await cp(p.archiveDir, agentArchive, { recursive: true });
  const rescued = await expectOk(t, await p.cli("rescue"), "rescue on the dead node's host");
  t.match(rescued.stdout, /rescued \d+ partial object/, "rescue reports what it uploaded");
  const tail = await newestClaim(p.archiveDir, p);
  t.equal(tail.source, "rescue", "the tail is flagged as rescued");
  t.ok(tail.ms >= lastWriteMs, "the window reaches the last synced write");
  const after = JSON.parse((await p.cli("list", "--json")).stdout) as { exposure: unknown[] };
  t.same(after.exposure, [], "after the rescue nothing on the dead node's disk is exposed");
  const rescuedReport = JSON.parse((await p.cli("report", "--format=json")).stdout) as {
    nodes: { exposure?: { bytes: number }; partials?: { rescued: number; newest_claim_at: string } }[];
  };
  t.equal(rescuedReport.nodes[0]!.exposure?.bytes, 0, "report: nothing exposed either");
  t.ok(
    (rescuedReport.nodes[0]!.partials?.rescued ?? 0) > 0 &&
      Date.parse(rescuedReport.nodes[0]!.partials!.newest_claim_at) >= lastWriteMs,
    "report: the rescued tail counted, its claim past the last write",
  );

  // The restores replay the partial chains from the archive only: the commit log is moved aside.
  await restoreAndCompare(t, p, w.log, w.log.at(-1)!.ts, "to the newest write, the rescued tail included");
  if (restores === "rescued tail") return;
  await restoreAndCompare(
    t,
    p,
    w.log,
    agentClaim,
    "to the idle agent's claim, agent objects only",
    agentArchive,
  );
  const mid = BigInt((await newestClaim(midArchive, p)).ms) * 1000n;
  t.ok(
    w.log.some((s) => s.ts > mid && s.ts <= w.log.at(-1)!.ts),
    "the mid-load copy's claim cuts the load (writes came after it)",
  );
  await restoreAndCompare(t, p, w.log, mid, "to the claim of a copy taken mid-load", midArchive);
}
