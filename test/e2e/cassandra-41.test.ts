/**
 * Cassandra 4.1.10 (Java 11) as well as 5.0.9: the hook archives a 4.1 node's segments (descriptor
 * version 7, whose mutations 4.1 serialises at messaging version 12), a whole-node restore on 4.1 is
 * exact to the microsecond, the oracle scenario of restore-exact.test.ts (every mutation kind,
 * counters, table and keyspace scope, a second restore after a first) holds on 4.1 as on 5.0, and
 * an archive of 5.0 segments written at version 8 is refused for a 4.1 target before anything is
 * staged.
 */
import t, { type Test } from "tap";
import { readFile } from "node:fs/promises";
import { describeVersion } from "../../src/commitlog/descriptor.js";
import { openBackend } from "../../src/storage/open.js";
import type { RowRecord } from "../helpers/cassandra.js";
import { checkArchive, listArchived, missingIds } from "./archive-scenario.js";
import { exactWholeNodeRestore, laterRestores } from "./exact-scenario.js";
import {
  baseSnapshot,
  expectOk,
  idsIn,
  idsUpTo,
  pitrNode,
  propertiesOf,
  writeRows,
  type Clock,
  type PitrNode,
} from "./restore-scenario.js";

const V41 = "4.1.10";

/** Writes after the base snapshot across several segments, with an incremental after each flush. */
async function history(t: Test, p: PitrNode, rows: RowRecord[], clock: Clock): Promise<bigint> {
  rows.push(...(await writeRows(p.node, "orders", 1000, 600, clock)));
  await p.node.nodetool("flush", "shop", "orders");
  await expectOk(t, await p.cli("incremental"), "incremental after a flush");
  rows.push(...(await writeRows(p.node, "orders", 2000, 600, clock)));
  const at = rows[rows.length - 1]!.writetime - 173n; // between two rows written 400/1300 µs apart
  rows.push(await p.node.writeRow("shop", "orders", 90_001, "late-but-before-T", at - 5_000n));
  rows.push(await p.node.writeRow("shop", "orders", 90_002, "early-but-after-T", at + 1n));
  rows.push(...(await writeRows(p.node, "orders", 3000, 800, clock)));
  await p.node.nodetool("flush", "shop", "orders");
  await expectOk(t, await p.cli("incremental"), "second incremental");
  return at;
}

t.test(
  `Cassandra ${V41}: the hook archives version 7 segments and a whole-node restore is exact`,
  async (t) => {
    const p = await pitrNode(t, "c41-restore", { version: V41 });
    const { node } = p;
    t.match(
      await node.nodetool("version"),
      new RegExp(`ReleaseVersion: ${V41.replace(/\./g, "\\.")}`),
      `the node runs ${V41}`,
    );
    t.match(
      await readFile(p.configFile, "utf8"),
      new RegExp(`cassandraVersion: ${V41}`),
      "init recorded the release",
    );

    const { rows, clock } = await baseSnapshot(t, p);
    const at = await history(t, p, rows, clock);
    await node.stop();

    const backend = await openBackend(`file://${p.archiveDir}`);
    t.teardown(() => backend.close());
    const archived = await listArchived(backend, p.identity);
    t.ok(archived.length >= 5, `Cassandra ${V41} ran the hook for the closed segments (${archived.length})`);
    t.ok(
      archived.every((a) => a.record.version === 7 && a.record.name.startsWith("CommitLog-7-")),
      "every segment has descriptor version 7",
    );
    t.equal(
      describeVersion(7)?.messagingVersion,
      12,
      "version 7 is read at messaging version 12 (4.1's CommitLogDescriptor.getMessagingVersion)",
    );
    t.same(
      archived
        .filter((a) => a.record.status !== "complete")
        .map((a) => `${a.record.name}: ${a.record.status}`),
      [],
      "the hook classified every 4.1 segment complete",
    );
    t.same(missingIds(archived.map((a) => a.segmentId)), [], "no gap in the segment ids");
    await checkArchive(t, backend, archived, V41);

    const expected = idsUpTo(rows, at);
    t.ok(
      expected.length > 1000 && expected.length < rows.length - 500,
      `T cuts the history (${expected.length} of ${rows.length} rows)`,
    );
    const atText = at.toString();
    const plan = await expectOk(
      t,
      await p.cli("plan", "--at", atText, "--grace", "1h", "--json"),
      "plan --json",
    );
    const planJson = JSON.parse(plan.stdout) as {
      targetVersion: string;
      steps: { kind: string }[];
      cutoff: { value: string };
    };
    t.equal(planJson.targetVersion, V41, "the plan targets the node's release");
    t.ok(
      planJson.steps.filter((s) => s.kind === "segment").length >= 5,
      "and replays the archived segments after the snapshot",
    );
    t.match(
      planJson.cutoff.value,
      /^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/,
      `restore_point_in_time with microseconds on ${V41} (CASSANDRA-19448)`,
    );

    await expectOk(t, await p.cli("restore", "--at", atText, "--grace", "1h"), "restore");
    t.match(await propertiesOf(node), /restore_point_in_time=/, "the restore settings are written");
    await node.start();
    const got = await idsIn(node, "orders");
    t.equal(
      got.length,
      expected.length,
      `row count after restore equals rows with writetime <= T (${expected.length})`,
    );
    t.same(got, expected, "exactly the rows with writetime <= T");
    t.ok(got.includes(90_001), "a row written late with an older client timestamp is restored");
    t.notOk(got.includes(90_002), "a row stamped 1 µs after T is not");
    t.match(await node.systemLog(), /Log replay complete/, "Cassandra replayed the restored segments");

    await expectOk(t, await p.cli("restore", "finish"), "restore finish");
    t.notMatch(
      await propertiesOf(node),
      /restore_point_in_time|restore_directories|restore_command/,
      "finish removed every restore setting",
    );
    await node.stop();
  },
);

t.test(
  `Cassandra ${V41}: every mutation kind, counters included, restored exactly (oracle), whole node then table and keyspace scope`,
  async (t) => {
    const p = await pitrNode(t, "c41-exact", { version: V41 });
    t.match(
      await p.node.nodetool("version"),
      new RegExp(`ReleaseVersion: ${V41.replace(/\./g, "\\.")}`),
      `the node runs ${V41}`,
    );
    await laterRestores(t, p, await exactWholeNodeRestore(t, p));
  },
);

t.test(
  `5.0 segments of version 8 are refused for a ${V41} target; the same archive plans for 5.0.9`,
  async (t) => {
    const p = await pitrNode(t, "c41-v8", { compat: "NONE" });
    const { rows, clock } = await baseSnapshot(t, p);
    rows.push(...(await writeRows(p.node, "orders", 1000, 1200, clock)));
    const at = rows[rows.length - 300]!.writetime;
    // The client clock runs ahead of the wall clock on a fast machine (it steps at least 400 µs per
    // row), and a segment's close time is its file's last write: wait until the wall clock passes the
    // last client timestamp, then write once more, so the segment that drain closes ends after T, as
    // it would on a live node.
    await new Promise((r) =>
      setTimeout(r, Math.max(0, Number(rows[rows.length - 1]!.writetime / 1000n) - Date.now() + 50)),
    );
    rows.push(await p.node.writeRow("shop", "orders", 999_999, "after-the-wait", clock.tick(400n)));
    await p.node.stop();

    const backend = await openBackend(`file://${p.archiveDir}`);
    t.teardown(() => backend.close());
    const archived = await listArchived(backend, p.identity);
    t.ok(
      archived.length >= 2 && archived.every((a) => a.record.version === 8),
      `5.0.9 outside CASSANDRA_4 mode archived version 8 segments (${archived.length})`,
    );

    const atText = at.toString();
    await expectOk(
      t,
      await p.cli("plan", "--at", atText, "--grace", "1h", "--target-version", "5.0.9"),
      "plan for 5.0.9",
    );
    const refused = await p.cli("plan", "--at", atText, "--grace", "1h", "--target-version", V41);
    t.equal(refused.exitCode, 17, `plan for ${V41} refuses (exit 17)`);
    t.match(
      refused.stderr,
      new RegExp(`commit log version 8, newer than Cassandra ${V41.replace(/\./g, "\\.")} reads \\(7\\)`),
      "and says which version the target cannot read",
    );
    const before = await propertiesOf(p.node);
    const restore = await p.cli("restore", "--at", atText, "--grace", "1h", "--target-version", V41);
    t.equal(restore.exitCode, 17, `restore into ${V41} refuses too (exit 17)`);
    t.equal(await propertiesOf(p.node), before, "and changes nothing on the node");
  },
);
