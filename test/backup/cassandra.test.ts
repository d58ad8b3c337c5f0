/** One real Cassandra node: snapshot and incremental upload through nodetool, checked in the archive. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { uploadIncrementals } from "../../src/backup/incremental.js";
import { listIncrementals, listSnapshots } from "../../src/backup/read.js";
import { uploadSnapshot } from "../../src/backup/snapshot.js";
import { openBackend } from "../../src/storage/open.js";
import { CassandraNode, NODE_SCRIPT, nowMicros } from "../helpers/cassandra.js";

t.test("snapshot and incrementals of a real node", async (t) => {
  const node = await CassandraNode.create("backup");
  t.teardown(async () => {
    await node.stop().catch(() => undefined);
    await node.destroy();
  });
  const archiveDir = await mkdtemp(join(tmpdir(), "pitr-backup-archive-"));
  t.teardown(() => rm(archiveDir, { recursive: true, force: true }));
  await node.start();
  const hostId = await node.hostId();
  const identity = { cluster: "Test Cluster", node: hostId };
  const backend = await openBackend(`file://${archiveDir}`);
  const nodetool = `bash ${NODE_SCRIPT} nodetool ${node.dir}`;

  await node.createTable("pitr_it", "events");
  const base = nowMicros();
  const flushes: bigint[][] = [];
  let id = 0;
  for (const count of [5, 3]) {
    const times: bigint[] = [];
    for (let i = 0; i < count; i++)
      times.push(
        (await node.writeRow("pitr_it", "events", ++id, `v${id}`, base + BigInt(id) * 1000n)).writetime,
      );
    await node.nodetool("flush", "pitr_it", "events");
    flushes.push(times);
  }

  const summary = await uploadSnapshot({
    backend,
    identity,
    dataDir: node.dataDir,
    tag: "it-tag",
    scope: ["pitr_it"],
    nodetool,
  });
  t.equal(summary.created, true, "nodetool snapshot was run");
  t.equal(summary.tables, 1);
  t.equal(summary.sstables, 2);
  t.same(summary.warnings, []);
  const [snap] = await listSnapshots(backend, identity);
  t.ok(snap, "manifest listed");
  const manifest = snap!.manifest;
  t.ok(manifest.tokens && manifest.tokens.length > 0, "tokens from nodetool info -T");
  const table = manifest.tables[0]!;
  t.equal(table.keyspace, "pitr_it");
  t.equal(
    table.table_id.replace(/-/g, ""),
    (await node.tableDir("pitr_it", "events")).slice(-32),
    "table id",
  );
  const ranges = table.sstables
    .map((s) => [s.min_timestamp, s.max_timestamp])
    .sort((a, b) => (BigInt(a[0]!) < BigInt(b[0]!) ? -1 : 1));
  t.same(
    ranges,
    flushes.map((f) => [f[0]!.toString(), f[f.length - 1]!.toString()]),
    "min/max timestamps per flushed sstable",
  );
  t.ok(table.sstables.every((s) => s.originating_host_id === hostId && s.commit_log_upper_bound !== null));

  const more: bigint[] = [];
  for (let i = 0; i < 4; i++)
    more.push(
      (await node.writeRow("pitr_it", "events", ++id, `v${id}`, base + BigInt(id) * 1000n)).writetime,
    );
  await node.nodetool("flush", "pitr_it", "events");
  const inc = await uploadIncrementals({ backend, identity, dataDir: node.dataDir, scope: ["pitr_it"] });
  t.equal(inc.sstablesUploaded, 3, "all three flushed sstables are in backups/");
  t.ok(inc.componentsDeduplicated >= 16, "the snapshot's sstables are not uploaded again");
  const listed = await listIncrementals(backend, identity, Date.now() - 3_600_000, Date.now() + 60_000);
  t.equal(listed.length, 3);
  const newest = listed.map((l) => l.record.sstable).find((s) => s.min_timestamp === more[0]!.toString());
  t.ok(newest, "the third flush is archived");
  t.equal(newest?.max_timestamp, more[more.length - 1]!.toString());
  const again = await uploadIncrementals({ backend, identity, dataDir: node.dataDir, scope: ["pitr_it"] });
  t.equal(again.sstablesUploaded, 0);
  t.equal(again.sstablesAlreadyArchived, 3);
  await backend.close();
});
