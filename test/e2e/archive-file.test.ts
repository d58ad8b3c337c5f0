import t from "tap";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { openBackend } from "../../src/storage/open.js";
import { CLI, runNode, tempDir } from "../helpers/hooks.js";
import {
  archiveScenario,
  checkArchive,
  listArchived,
  missingIds,
  nodeWithHook,
  readEvents,
  writeUntilArchived,
} from "./archive-scenario.js";

t.test("real Cassandra archives through the hook into file:// (the default backend)", async (t) => {
  const root = await tempDir("e2e-file");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "archive"));
  await archiveScenario(t, "file", `file://${join(root, "archive")}`, {});
});

t.test(
  "storage down mid-run: segments go to the spool, nothing is lost, the agent uploads them",
  async (t) => {
    const root = await tempDir("e2e-outage");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const archiveDir = join(root, "archive");
    await mkdir(archiveDir);
    const url = `file://${archiveDir}`;
    const { node, identity, configFile, logFile } = await nodeWithHook(t, "outage", url, {});
    const backend = await openBackend(url);
    await writeUntilArchived(node, backend, identity, 3, "before");

    // The archive disappears (an unmounted volume, a deleted bucket): the hook must spool.
    await rename(archiveDir, `${archiveDir}.away`);
    const spool = join(node.dir, "cassandra-pitr-spool");
    await node.createTable("arch", "during");
    const filler = "z".repeat(2000);
    let id = 0;
    while (
      (await readdir(spool).catch(() => [] as string[])).filter((n) => n.startsWith("CommitLog")).length < 3
    ) {
      const batch = [];
      for (let i = 0; i < 100; i++, id++)
        batch.push(node.writeRow("arch", "during", id, filler, BigInt(Date.now()) * 1000n));
      await Promise.all(batch);
    }
    const spooledNames = (await readdir(spool)).filter((n) => n.startsWith("CommitLog"));
    t.ok(
      spooledNames.length >= 3,
      `segments closed during the outage are in the spool (${spooledNames.length})`,
    );
    const events = await readEvents(logFile);
    t.ok(
      events.some((e) => e.event === "spooled"),
      "the hook logged that it spooled",
    );
    t.notOk(
      events.some((e) => e.event === "failed"),
      "the hook never failed (Cassandra keeps flushing)",
    );

    // Storage returns; the agent drains the spool.
    await rename(`${archiveDir}.away`, archiveDir);
    const agent = await runNode(CLI, ["agent", "--once", `--config=${configFile}`], process.env);
    t.equal(agent.exitCode, 0, "agent --once: exit 0");
    t.same(
      (await readdir(spool)).filter((n) => n.startsWith("CommitLog")),
      [],
      "the spool is empty",
    );
    await node.stop();
    const all = await listArchived(backend, identity);
    for (const name of spooledNames)
      t.ok(
        all.some((a) => a.record.name === name),
        `${name} reached the archive`,
      );
    t.same(missingIds(all.map((a) => a.segmentId)), [], "no gap across the outage");
    t.ok(
      all.some((a) => a.record.archivedBy === "agent"),
      "some segments were uploaded by the agent",
    );
    await checkArchive(t, backend, all, "outage");
    await backend.close();
  },
);
