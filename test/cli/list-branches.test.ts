/**
 * `list` shows the node's branches (restore/branches.ts: one record per finished restore), in text
 * and JSON, on the real pitr fixture's archive (file://).
 */
import t from "tap";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CLI, runNode } from "../helpers/hooks.js";
import { PITR, pitrArchive } from "../helpers/pitr-archive.js";
import { openBackend } from "../../src/storage/open.js";
import { recordBranch } from "../../src/restore/branches.js";

t.test("list: no branch, then a whole-node and a table restore's branches, text and JSON", async (t) => {
  const s = await pitrArchive();
  const list = (...args: string[]) =>
    runNode(CLI, ["list", "--since", "2000-01-01T00:00:00Z", ...args], s.env);

  const none = await list("--json");
  t.same(
    (JSON.parse(none.stdout) as { branches: unknown[] }).branches,
    [],
    "JSON: no branch before any restore",
  );
  t.match((await list()).stdout, /^ {2}branches: 0$/m, "text: branches: 0");

  const { hostId } = JSON.parse(await readFile(join(PITR, "rows.json"), "utf8")) as { hostId: string };
  const backend = await openBackend(`file://${s.archive}`);
  const identity = { cluster: "executor-test", node: hostId };
  const tableId = "0b5c4a10-c7f2-11f0-9a3e-111111111111";
  await recordBranch(
    backend,
    identity,
    {
      restoredAtMs: Date.parse("2026-11-22T10:00:00Z"),
      cutoffMicros: 1795250000000000n,
      restorePoint: "2026:11:21 08:33:20.000000",
    },
    [],
  );
  await recordBranch(
    backend,
    identity,
    {
      restoredAtMs: Date.parse("2026-11-23T10:00:00Z"),
      cutoffMicros: 1795340000000000n,
      restorePoint: "2026:11:22 09:33:20.000000",
      tableIds: [tableId],
    },
    ["pitr_fixture.events"],
  );
  await backend.close();

  const json = await list("--json");
  const branches = (JSON.parse(json.stdout) as { branches: unknown[] }).branches;
  t.same(
    branches,
    [
      {
        restored_at: "2026-11-22T10:00:00.000Z",
        restore_point_in_time: "2026:11:21 08:33:20.000000",
        cutoff_micros: "1795250000000000",
        table_ids: null,
        tables: [],
      },
      {
        restored_at: "2026-11-23T10:00:00.000Z",
        restore_point_in_time: "2026:11:22 09:33:20.000000",
        cutoff_micros: "1795340000000000",
        table_ids: [tableId],
        tables: ["pitr_fixture.events"],
      },
    ],
    "JSON: both branches, oldest first, as recorded",
  );
  const text = (await list()).stdout;
  t.match(text, /^ {2}branches: 2 /m, "text: the count");
  t.match(
    text,
    /^ {4}2026-11-22T10:00:00\.000Z {2}restored to 2026:11:21 08:33:20\.000000 UTC {2}whole node$/m,
    "text: the whole-node restore",
  );
  t.match(
    text,
    /^ {4}2026-11-23T10:00:00\.000Z {2}restored to 2026:11:22 09:33:20\.000000 UTC {2}pitr_fixture\.events$/m,
    "text: the table restore, by name",
  );
});
