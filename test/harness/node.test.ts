/**
 * Proves the real-Cassandra harness: a node starts, takes writes with client timestamps, flushes,
 * snapshots, closes segments, writes incremental backups, runs an archive_command for every closed
 * segment with %path %name, survives SIGKILL, and stops cleanly.
 */
import t from "tap";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { CassandraNode, REPO, nowMicros, segmentIdOf, waitFor } from "../helpers/cassandra.js";

const KS = "harness";
const CAPTURE = join(REPO, "test/helpers/capture-archive.sh");

t.test(
  "a real node: writes, flush, snapshot, closed segments, incremental backups, archive_command",
  async (t) => {
    const node = await CassandraNode.create("harness");
    t.teardown(() => node.destroy());
    const capture = join(node.dir, "capture");
    await mkdir(capture);
    await node.reconfigure({ archiveCommand: `${CAPTURE} ${capture} %path %name` });

    await node.start();
    t.ok(await node.isRunning(), "the node runs after start");
    const status = await node.nodetool("status");
    t.match(status, /^UN\s+127\.0\.0\.1/m, "nodetool status shows the node Up/Normal");
    const hostId = await node.hostId();
    t.match(hostId, /^[0-9a-f-]{36}$/, "nodetool info gives the host id");

    await node.createTable(KS, "t1");
    const base = nowMicros();
    const written = [];
    for (let i = 0; i < 20; i++)
      written.push(await node.writeRow(KS, "t1", i, `v${i}`, base + BigInt(i * 300)));
    const read = await node.readRows(KS, "t1");
    t.same(
      read.map((r) => [r.id, r.value, r.writetime]),
      written.map((r) => [r.id, r.value, r.writetime]),
      "rows read back carry exactly the client timestamps written (some < 1 ms apart)",
    );

    await node.nodetool("flush", KS, "t1");
    const tableDir = await node.tableDir(KS, "t1");
    const backups = await readdir(join(tableDir, "backups"));
    t.ok(
      backups.some((n) => n.endsWith("-Data.db")),
      "incremental_backups links the flushed sstable into backups/",
    );

    await node.nodetool("snapshot", "-t", "harness-tag", KS);
    const snapshot = await readdir(join(tableDir, "snapshots/harness-tag"));
    t.ok(
      snapshot.includes("manifest.json") && snapshot.includes("schema.cql"),
      "the snapshot has manifest.json and schema.cql",
    );
    const manifest = JSON.parse(
      await readFile(join(tableDir, "snapshots/harness-tag/manifest.json"), "utf8"),
    ) as { files: string[] };
    t.ok(
      manifest.files.length > 0 && manifest.files.every((f) => snapshot.includes(f)),
      "every manifest file is in the snapshot",
    );

    // Fill at least three 1 MiB segments so that Cassandra switches segments and archives them.
    const filler = "x".repeat(2000);
    let id = 1000;
    await waitFor(
      "three archived segments",
      async () => {
        const batch = [];
        for (let i = 0; i < 100; i++, id++) batch.push(node.writeRow(KS, "t1", id, filler, nowMicros()));
        await Promise.all(batch);
        return (await readdir(capture)).filter((n) => n.endsWith(".log")).length >= 3;
      },
      120_000,
    );

    const calls = (await readFile(join(capture, "calls.txt"), "utf8")).trim().split("\n");
    t.ok(calls.length >= 3, `archive_command ran for each closed segment (${calls.length} calls)`);
    const ids = calls.map(segmentIdOf);
    t.same(
      [...ids].sort((a, b) => (a < b ? -1 : 1)),
      ids,
      "segments arrive in id order (single FIFO archiver)",
    );
    for (let i = 1; i < ids.length; i++)
      t.equal(ids[i], ids[i - 1]! + 1n, `segment ids are consecutive (${ids[i]})`);
    for (const name of calls) {
      const bytes = await readFile(join(capture, name));
      t.equal(bytes.length, 1024 * 1024, `${name} arrives whole (1 MiB, the configured segment size)`);
      t.equal(bytes.readInt32BE(0), 7, `${name}: header version 7 (storage_compatibility_mode CASSANDRA_4)`);
      t.equal(bytes.readBigInt64BE(4), segmentIdOf(name), `${name}: header id equals the %name id`);
    }
    const live = (await node.segmentsOnDisk()).map(segmentIdOf);

    // Bytes arriving at the hook equal what Cassandra had on disk when it ran the command: a segment
    // that is archived but still holds unflushed data is still in the commit log directory.
    const stillThere = calls.filter((n) => live.includes(segmentIdOf(n)));
    for (const name of stillThere) {
      const a = createHash("sha256")
        .update(await readFile(join(capture, name)))
        .digest("hex");
      const b = createHash("sha256")
        .update(await readFile(join(node.commitlogDir, name)))
        .digest("hex");
      t.equal(a, b, `${name}: archived bytes equal the segment Cassandra keeps`);
    }

    await node.stop();
    t.notOk(await node.isRunning(), "drain + stop ends the process");
    const afterDrain = (await readFile(join(capture, "calls.txt"), "utf8")).trim().split("\n");
    t.ok(afterDrain.length > calls.length, "drain switches segments and archives the previously active one");
  },
);

t.test("SIGKILL leaves the active segment; the next start archives it again (CASSANDRA-6904)", async (t) => {
  const node = await CassandraNode.create("harness-kill");
  t.teardown(() => node.destroy());
  const capture = join(node.dir, "capture");
  await mkdir(capture);
  await node.reconfigure({ archiveCommand: `${CAPTURE} ${capture} %path %name` });
  await node.start();
  await node.createTable(KS, "t2");
  for (let i = 0; i < 50; i++) await node.writeRow(KS, "t2", i, `k${i}`, nowMicros());
  await new Promise((r) => setTimeout(r, 2500)); // one periodic commit log sync (1000 ms)
  await node.kill();
  t.notOk(await node.isRunning(), "SIGKILL ends the process");
  const leftBehind = await node.segmentsOnDisk();
  t.ok(leftBehind.length >= 1, "the killed node's segments remain in the commit log directory");
  const sizeBefore = (await stat(join(node.commitlogDir, leftBehind[0]!))).size;
  t.equal(sizeBefore, 1024 * 1024, "a memory-mapped segment keeps its full size");

  await node.start();
  const calls = (await readFile(join(capture, "calls.txt"), "utf8")).trim().split("\n");
  for (const name of leftBehind)
    t.ok(calls.includes(name), `${name} left by the crash is archived at startup`);
  const rows = await node.readRows(KS, "t2");
  t.equal(rows.length, 50, "the rows synced before the crash are replayed");
  await node.stop();
});
