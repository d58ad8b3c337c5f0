import t from "tap";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { listArchived } from "./archive-scenario.js";
import { openBackend } from "../../src/storage/open.js";
import {
  baseSnapshot,
  expectOk,
  idsIn,
  idsUpTo,
  pitrNode,
  propertiesOf,
  writeRows,
} from "./restore-scenario.js";

t.test(
  "whole-node point-in-time restore on real Cassandra: exactly the rows with writetime <= T",
  async (t) => {
    const p = await pitrNode(t, "restore-node");
    const { node } = p;
    const { rows, clock } = await baseSnapshot(t, p);

    rows.push(...(await writeRows(node, "orders", 1000, 600, clock)));
    await node.nodetool("flush", "shop", "orders");
    await expectOk(t, await p.cli("incremental"), "incremental after a flush");
    rows.push(...(await writeRows(node, "orders", 2000, 600, clock)));
    const at = rows[rows.length - 1]!.writetime - 173n; // between two rows written 400/1300 µs apart
    // Out-of-order client timestamps: written now, but one before T and one after T.
    rows.push(await node.writeRow("shop", "orders", 90_001, "late-but-before-T", at - 5_000n));
    rows.push(await node.writeRow("shop", "orders", 90_002, "early-but-after-T", at + 1n));
    rows.push(...(await writeRows(node, "orders", 3000, 800, clock)));
    await node.nodetool("flush", "shop", "orders");
    await expectOk(t, await p.cli("incremental"), "second incremental");
    await node.stop();

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
    const planJson = JSON.parse(plan.stdout) as { steps: { kind: string }[]; cutoff: { value: string } };
    t.ok(
      planJson.steps.some((s) => s.kind === "snapshot"),
      "the plan starts from the snapshot",
    );
    t.ok(
      planJson.steps.filter((s) => s.kind === "segment").length >= 5,
      "and replays the archived segments after it",
    );
    t.match(
      planJson.cutoff.value,
      /^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/,
      "restore_point_in_time with microseconds on 5.0.9",
    );

    const dry = await expectOk(
      t,
      await p.cli("restore", "--at", atText, "--grace", "1h", "--dry-run"),
      "restore --dry-run",
    );
    t.match(dry.stdout, /would place/, "dry run says what it would do");
    t.notMatch(await propertiesOf(node), /restore_point_in_time/, "dry run changed nothing");

    const applied = await expectOk(t, await p.cli("restore", "--at", atText, "--grace", "1h"), "restore");
    t.match(applied.stdout, /restore finish/, "restore prints the next steps");
    t.match(await propertiesOf(node), /restore_point_in_time=/, "the restore settings are written");
    const again = await expectOk(
      t,
      await p.cli("restore", "--at", atText, "--grace", "1h"),
      "restore again (idempotent)",
    );
    t.match(again.stdout, /already applied/, "the second run recognises the applied restore");

    await node.start();
    const got = await idsIn(node, "orders");
    t.equal(
      got.length,
      expected.length,
      `row count after restore equals rows with writetime <= T (${expected.length})`,
    );
    t.same(got, expected, "exactly the rows with writetime <= T");
    t.ok(got.includes(90_001), "a row written late with an older client timestamp is restored (grace)");
    t.notOk(got.includes(90_002), "a row with a timestamp after T is not");

    await expectOk(t, await p.cli("restore", "finish"), "restore finish");
    t.notMatch(
      await propertiesOf(node),
      /restore_point_in_time|restore_directories|restore_command/,
      "finish removed every restore setting",
    );
    t.match(await propertiesOf(node), /archive_command=/, "and kept archive_command");
    const finishedAgain = await expectOk(t, await p.cli("restore", "finish"), "finish again (idempotent)");
    t.match(finishedAgain.stdout, /nothing to finish/, "says there is nothing left to finish");

    // A segment removed from the archive inside the window: the planner refuses and names it.
    await node.stop();
    const backend = await openBackend(`file://${p.archiveDir}`);
    const archived = await listArchived(backend, p.identity);
    const victim = archived[Math.floor(archived.length / 2)]!;
    await rm(join(p.archiveDir, victim.key));
    const refused = await p.cli("plan", "--at", atText, "--grace", "1h");
    t.equal(refused.exitCode, 17, "plan refuses (exit 17) when a segment is missing from the archive");
    t.match(refused.stderr, new RegExp(String(victim.segmentId)), "and names the missing segment id");
    await backend.close();
  },
);
