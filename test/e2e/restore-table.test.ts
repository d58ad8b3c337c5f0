import t from "tap";
import {
  Clock,
  KS,
  createTables,
  expectOk,
  idsIn,
  idsUpTo,
  pitrNode,
  propertiesOf,
  writeRows,
} from "./restore-scenario.js";

t.test(
  "single-table restore after an accidental TRUNCATE; the other table keeps its newer rows",
  async (t) => {
    const p = await pitrNode(t, "restore-table");
    const { node } = p;
    await createTables(node, ["orders", "audit"]);
    const clock = new Clock();
    const orders = await writeRows(node, "orders", 1, 200, clock);
    const audit = await writeRows(node, "audit", 1, 200, clock);
    await expectOk(t, await p.cli("snapshot", "-t", "nightly", KS), "snapshot");
    orders.push(...(await writeRows(node, "orders", 1000, 500, clock)));
    audit.push(...(await writeRows(node, "audit", 1000, 300, clock)));
    const at = orders[orders.length - 1]!.writetime;
    orders.push(...(await writeRows(node, "orders", 5000, 500, clock)));
    audit.push(...(await writeRows(node, "audit", 5000, 300, clock)));
    await node.execute(`TRUNCATE ${KS}.orders`);
    t.same(await idsIn(node, "orders"), [], "the accidental TRUNCATE emptied orders");
    await node.stop();

    const refusedScope = await p.cli("plan", "--at", at.toString(), "--table", "shop.nope", "--grace", "1h");
    t.equal(refusedScope.exitCode, 17, "an unknown table in the scope is refused (exit 17)");

    await expectOk(
      t,
      await p.cli("restore", "--at", at.toString(), "--table", "shop.orders", "--grace", "1h"),
      "restore --table shop.orders",
    );
    t.match(await propertiesOf(node), /restore_point_in_time=/, "restore settings written");
    await node.start();
    t.same(
      await idsIn(node, "orders"),
      idsUpTo(orders, at),
      "orders holds exactly its rows with writetime <= T (the TRUNCATE undone)",
    );
    t.same(
      await idsIn(node, "audit"),
      idsUpTo(audit, 2n ** 62n),
      "audit keeps every row, including those written after T",
    );
    await expectOk(t, await p.cli("restore", "finish"), "restore finish");
    await node.stop();
  },
);
