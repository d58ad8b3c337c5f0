import t from "tap";
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

t.test("restore after SIGKILL and restart: the tail segments archived at startup are used", async (t) => {
  const p = await pitrNode(t, "restore-crash");
  const { node } = p;
  await createTables(node, ["events"]);
  const clock = new Clock();
  const rows = await writeRows(node, "events", 1, 200, clock);
  await expectOk(t, await p.cli("snapshot", "-t", "first", KS), "an older snapshot, pruned later");
  rows.push(...(await writeRows(node, "events", 500, 300, clock)));
  await expectOk(t, await p.cli("snapshot", "-t", "before-crash", KS), "snapshot");
  rows.push(...(await writeRows(node, "events", 1000, 700, clock)));
  // The last rows before the crash: they sit in the active segment, which only the next start archives.
  const tail = await writeRows(node, "events", 9000, 40, clock, 100);
  rows.push(...tail);
  const at = tail[29]!.writetime;
  await new Promise((r) => setTimeout(r, 2500)); // past one periodic commit log sync
  await node.kill();
  await node.start(); // archives the crashed run's segments, replays them locally
  rows.push(...(await writeRows(node, "events", 20_000, 300, clock)));
  await node.stop();

  // Retention keeps one snapshot: the older one and the segments only it needs go; T stays restorable.
  const dry = await expectOk(t, await p.cli("prune", "--keep", "1"), "prune --keep 1 (dry run by default)");
  t.match(dry.stdout, /first/, "the dry run names the older snapshot");
  await expectOk(t, await p.cli("prune", "--keep", "1", "--confirm"), "prune --keep 1 --confirm");
  const list = await expectOk(t, await p.cli("list", "--json"), "list --json");
  t.notMatch(list.stdout, /"tag": "first"/, "the pruned snapshot is gone from the catalog");
  t.match(list.stdout, /"tag": "before-crash"/, "the kept one is there");
  t.match(list.stdout, /"segments"|"runs"|"restorable"/, "list reports the archive");
  await expectOk(
    t,
    await p.cli("restore", "--at", at.toString(), "--grace", "1h"),
    "restore to an instant inside the crashed tail",
  );
  await node.start();
  t.same(
    await idsIn(node, "events"),
    idsUpTo(rows, at),
    "exactly the rows with writetime <= T, including the tail archived at startup",
  );
  await expectOk(t, await p.cli("restore", "finish"), "restore finish");
  await node.stop();
});
