/**
 * RPO in seconds on real Cassandra 5.0.9 (issue 14): 32 MiB segments, commitlog_sync periodic (1 s,
 * scripts/cassandra-node.sh), a slow write load that never fills a segment, and the agent uploading
 * partial segments every 2 s. The archive's window follows the newest write within the sync period
 * plus the upload interval plus the claim margin; then the node is killed with SIGKILL and never
 * started again as it was: `rescue` uploads its synced tail, the window reaches its last synced
 * write, and a restore (the commit log moved aside, the data from the archive only) returns exactly
 * the rows stamped <= T. Uncompressed and LZ4-compressed commit logs.
 */
import t from "tap";
import { execa } from "execa";
import { cp } from "node:fs/promises";
import type { RowRecord } from "../helpers/cassandra.js";
import { CLI } from "../helpers/hooks.js";
import { listPartialSegments } from "../../src/catalog/partials.js";
import { PARTIAL_CLAIM_MARGIN_MS } from "../../src/pipeline/partial.js";
import { openBackend } from "../../src/storage/open.js";
import {
  Clock,
  KS,
  createTables,
  expectOk,
  idsIn,
  idsUpTo,
  pitrNode,
  writeRows,
} from "./restore-scenario.js";

const SYNC_MS = 1_000; // commitlog_sync_period of the test nodes
const UPLOAD_MS = 2_000;
const SLACK_MS = 1_500;

// The uncompressed run takes the 60 s of slow writes and restores twice; the LZ4 run proves
// the compressed framing with a shorter load and the rescue's restore only (the suite's time budget).
for (const compression of [undefined, "lz4"] as const) {
  const writes = compression ? 75 : 150;
  t.test(`partial segments and a dead node's tail (${compression ?? "uncompressed"})`, async (t) => {
    const p = await pitrNode(t, `partial-${compression ?? "plain"}`, {
      segmentSizeMiB: 32,
      ...(compression ? { commitlogCompression: compression } : {}),
    });
    const { node } = p;
    await createTables(node, ["orders"]);
    const clock = new Clock();
    const rows: RowRecord[] = await writeRows(node, "orders", 1, 100, clock, 200);
    await node.nodetool("flush", KS, "orders");
    await expectOk(t, await p.cli("snapshot", "-t", "base", KS), "snapshot");

    await new Promise((r) => setTimeout(r, SYNC_MS + 500));
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
    const agent = execa(
      process.execPath,
      [
        CLI,
        "agent",
        `--config=${p.configFile}`,
        `--partial-interval=${UPLOAD_MS / 1000}s`,
        "--agent-interval=10s",
      ],
      { reject: false },
    );
    t.teardown(() => void agent.kill("SIGTERM"));
    // A slow load: one row every 400 ms (for about 60 s uncompressed), never near 32 MiB.
    for (let i = 0; i < writes; i++) {
      rows.push(...(await writeRows(node, "orders", 1000 + i, 1, clock, 200)));
      await new Promise((r) => setTimeout(r, 400));
    }
    const lastWriteMs = Number(rows.at(-1)!.writetime / 1000n);
    await new Promise((r) => setTimeout(r, SYNC_MS + UPLOAD_MS + SLACK_MS));
    const backend = await openBackend(`file://${p.archiveDir}`);
    t.teardown(() => backend.close());
    const [partial] = await listPartialSegments(backend, p.identity, new Set());
    t.ok(partial, "the open segment is in the archive as a partial segment");
    const lag = lastWriteMs - partial!.closeTimeMs;
    t.ok(
      lag <= UPLOAD_MS + PARTIAL_CLAIM_MARGIN_MS + SYNC_MS,
      `the window ends ${lag} ms before the newest write (bound: sync + upload interval + margin)`,
    );
    const agentClaim = BigInt(partial!.closeTimeMs) * 1000n;
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
    const [tail] = await listPartialSegments(backend, p.identity, new Set());
    t.equal(tail!.partial?.source, "rescue", "the tail is flagged as rescued");
    t.ok(tail!.closeTimeMs >= lastWriteMs, "the window reaches the last synced write");
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

    // The restore replays the partial chain from the archive only: the commit log is moved aside.
    const at = rows.at(-1)!.writetime;
    await expectOk(t, await p.cli("restore", "--at", at.toString()), "restore to the newest write");
    await node.start();
    t.same(
      await idsIn(node, "orders"),
      idsUpTo(rows, at),
      "exactly the rows stamped <= T, the rescued tail included",
    );
    await expectOk(t, await p.cli("restore", "finish"), "restore finish");
    await node.stop();

    if (compression) return;
    // What the agent alone had uploaded before the kill: restorable to its claim, exactly.
    await expectOk(
      t,
      await p.cli("restore", "--at", agentClaim.toString(), `--archive=file://${agentArchive}`),
      "restore to the agent's claim, agent partials only",
    );
    await node.start();
    t.same(
      await idsIn(node, "orders"),
      idsUpTo(rows, agentClaim),
      "exactly the rows stamped <= the agent's claim",
    );
    await expectOk(t, await p.cli("restore", "finish", `--archive=file://${agentArchive}`), "restore finish");
    await node.stop();
  });
}
