import { cp, mkdtemp, readFile, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { listIncrementals, listSnapshots } from "../../src/backup/read.js";
import { uploadIncrementals } from "../../src/backup/incremental.js";
import { uploadSnapshot } from "../../src/backup/snapshot.js";
import type { NodetoolRunner } from "../../src/backup/nodetool.js";
import { NodetoolError } from "../../src/backup/errors.js";
import { jsonDocument, readBytes } from "../../src/storage/front.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { FIXTURES } from "../helpers/fixtures.js";

const ROOT = join(FIXTURES, "snapshot", "5.0.9");
const TABLE_DIR = "pitr_fixture/events-233ad580e58711f1988fc5102cd29634";
const identity = { cluster: "Test Cluster", node: "9b496c4e-d046-488f-97af-e896b46e0402" };

async function dataDirCopy(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pitr-data-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(join(ROOT, "data"), dir, { recursive: true, preserveTimestamps: true });
  return dir;
}

/** Records the order of puts. */
function recording(inner: Backend): { backend: Backend; puts: string[] } {
  const puts: string[] = [];
  const backend: Backend = Object.create(inner) as Backend;
  backend.put = (key, body, options) => {
    puts.push(key);
    return inner.put(key, body, options);
  };
  return { backend, puts };
}

const fakeNodetool =
  (calls: string[][]): NodetoolRunner =>
  async (args) => {
    calls.push([...args]);
    if (args[0] === "info")
      return "ID                     : x\nToken                  : -3074457345618258603\nToken                  : 3074457345618258602\n";
    return "";
  };

async function backends(t: Test): Promise<[string, Backend][]> {
  const root = await mkdtemp(join(tmpdir(), "pitr-archive-"));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return [
    ["file", await openBackend(`file://${root}`)],
    ["mem", await openBackend(`mem://snapshot-test-${process.pid}-${Math.random()}`)],
  ];
}

t.test("snapshot upload over the fixture tree", async (t) => {
  const rows = JSON.parse(await readFile(join(ROOT, "rows.json"), "utf8")) as {
    flushes: [number, string][][];
  };
  for (const [scheme, inner] of await backends(t)) {
    t.test(scheme, async (t) => {
      const dataDir = await dataDirCopy(t);
      const { backend, puts } = recording(inner);
      const calls: string[][] = [];
      const summary = await uploadSnapshot({
        backend,
        identity,
        dataDir,
        tag: "fixture-tag",
        nodetool: fakeNodetool(calls),
        datacenter: "dc1",
        cassandraVersion: "5.0.9",
      });
      t.same(
        calls,
        [
          ["snapshot", "-t", "fixture-tag", "system_schema"],
          ["info", "-T"],
        ],
        "existing tag: no nodetool snapshot of its tables; the schema keyspace under the same tag, and the tokens",
      );
      t.match(
        summary.warnings,
        [/keyspace schema not recorded: .* left no system_schema directory/],
        "the fixture tree has no schema keyspace: said, not fatal",
      );
      t.equal(summary.created, false);
      t.equal(summary.tables, 1);
      t.equal(summary.sstables, 2);
      // The two TOC.txt files are byte-identical: stored once.
      t.equal(summary.componentsUploaded, 15);
      t.equal(summary.componentsDeduplicated, 1);
      t.equal(summary.snapshotTime, "2026-11-21T08:40:04.495Z", "created_at of Cassandra's manifest.json");
      t.equal(
        summary.key,
        "Test+20Cluster/9b496c4e-d046-488f-97af-e896b46e0402/snapshots/20261121T084004.495Z_fixture-tag/manifest.json",
      );
      t.equal(puts[puts.length - 1], summary.key, "manifest written last");
      t.equal(new Set(puts.filter((k) => k.includes("/sstables/"))).size, 15);

      const listed = await listSnapshots(inner, identity);
      t.equal(listed.length, 1);
      const m = listed[0]!.manifest;
      t.equal(m.tag, "fixture-tag");
      t.same(m.tokens, ["-3074457345618258603", "3074457345618258602"]);
      t.equal(m.tables[0]?.table_id, "233ad580-e587-11f1-988f-c5102cd29634");
      t.match(m.tables[0]?.schema_cql, /WITH ID = 233ad580/);
      const sst = m.tables[0]!.sstables;
      t.same(
        sst.map((s) => s.name),
        ["nb-1-big", "nb-2-big"],
      );
      for (const [i, flush] of rows.flushes.entries()) {
        t.equal(sst[i]?.min_timestamp, flush[0]![1]);
        t.equal(sst[i]?.max_timestamp, flush[flush.length - 1]![1]);
        t.equal(sst[i]?.originating_host_id, identity.node);
        t.equal(sst[i]?.components.length, 8);
      }
      t.same(sst[1]?.commit_log_lower_bound, sst[0]?.commit_log_upper_bound);
      for (const c of sst.flatMap((s) => s.components))
        t.equal((await inner.head(c.key)).size, c.size, c.file);

      // Second upload of the same tag: nothing uploaded, same manifest accepted.
      const again = await uploadSnapshot({
        backend: inner,
        identity,
        dataDir,
        tag: "fixture-tag",
        tokens: false,
      });
      t.equal(again.componentsUploaded, 0);
      t.equal(again.componentsDeduplicated, 16);
      t.equal(again.manifestExisted, true);
      t.equal((await listSnapshots(inner, identity)).length, 1);

      // A manifest under the same key that lists other bytes: a conflict, the stored one kept.
      const other = JSON.parse((await readBytes(inner, summary.key)).toString("utf8"));
      other.tables[0].sstables[0].components[0].sha256 = "0".repeat(64);
      const otherBytes = jsonDocument(other);
      await inner.delete(summary.key);
      await inner.put(summary.key, otherBytes, {});
      await t.rejects(
        uploadSnapshot({ backend: inner, identity, dataDir, tag: "fixture-tag", tokens: false }),
        {
          code: "E_ARCHIVE_CONFLICT",
          message: `object '${summary.key}' conflicts with what is archived: a snapshot manifest with the same time and tag but other sstables is archived`,
        },
        "another manifest under the key: refused",
      );
      t.ok((await readBytes(inner, summary.key)).equals(otherBytes), "the stored manifest is not replaced");
    });
  }
});

t.test("a snapshot folder without manifest.json is not listed", async (t) => {
  const backend = await openBackend(`mem://partial-${process.pid}`);
  await backend.put(
    "Test+20Cluster/9b496c4e-d046-488f-97af-e896b46e0402/snapshots/20261121T084004.495Z_x/other.json",
    new Uint8Array([1]),
  );
  t.same(await listSnapshots(backend, identity), []);
});

t.test("incremental upload is idempotent and --remove unlinks after upload", async (t) => {
  for (const [scheme, inner] of await backends(t)) {
    t.test(scheme, async (t) => {
      const dataDir = await dataDirCopy(t);
      // The snapshot and the incrementals share sstables: after a snapshot nothing is uploaded twice.
      await uploadSnapshot({ backend: inner, identity, dataDir, tag: "fixture-tag", tokens: false });
      const first = await uploadIncrementals({ backend: inner, identity, dataDir });
      t.equal(first.tables, 1);
      t.equal(first.sstablesUploaded, 2);
      t.equal(first.componentsUploaded, 0, "components deduplicated against the snapshot");
      t.equal(first.componentsDeduplicated, 16);
      const second = await uploadIncrementals({ backend: inner, identity, dataDir });
      t.equal(second.sstablesUploaded, 0);
      t.equal(second.sstablesAlreadyArchived, 2);
      const listed = await listIncrementals(inner, identity, 0, Date.now() + 86_400_000 * 400);
      t.equal(listed.length, 2);
      t.same(listed.map((l) => l.record.sstable.name).sort(), ["nb-1-big", "nb-2-big"]);
      t.equal(listed[0]?.record.table_id, "233ad580-e587-11f1-988f-c5102cd29634");
      t.ok(
        listed.every(
          (l) => l.record.sstable.min_timestamp !== null && l.record.sstable.max_timestamp !== null,
        ),
      );

      // An incomplete sstable (a TOC component not linked yet) is skipped.
      await unlink(join(dataDir, TABLE_DIR, "backups", "nb-2-big-Index.db"));
      const removed = await uploadIncrementals({ backend: inner, identity, dataDir, remove: true });
      t.equal(removed.sstablesIncomplete, 1);
      t.equal(removed.sstablesAlreadyArchived, 1);
      t.equal(removed.filesRemoved, 8);
    });
  }
});

t.test("bad input: one PitrError with a stable code", async (t) => {
  const backend = await openBackend(`mem://bad-${process.pid}`);
  await t.rejects(uploadSnapshot({ backend, identity, dataDir: undefined, tag: "x" }), { code: "E_CONFIG" });
  await t.rejects(uploadSnapshot({ backend, identity, dataDir: "/nonexistent/data", tag: "x" }), {
    code: "E_CONFIG",
    message: /'\/nonexistent\/data' does not exist/,
  });
  await t.rejects(uploadIncrementals({ backend, identity, dataDir: "/nonexistent/data" }), {
    code: "E_CONFIG",
  });
  const dataDir = await dataDirCopy(t);
  const failing: NodetoolRunner = async (args) => {
    throw new NodetoolError(args, "Connection refused");
  };
  await t.rejects(uploadSnapshot({ backend, identity, dataDir, tag: "new-tag", nodetool: failing }), {
    code: "E_NODE_STATE",
    message: /nodetool snapshot -t new-tag' failed: Connection refused/,
  });
  // A nodetool that does not exist is a configuration error (exit 2), not a node in the wrong state.
  await t.rejects(
    uploadSnapshot({ backend, identity, dataDir, tag: "new-tag", nodetool: "/nonexistent/nodetool" }),
    { code: "E_CONFIG", message: /nodetool command .\/nonexistent\/nodetool. not found/ },
  );
  await t.rejects(uploadSnapshot({ backend, identity, dataDir, tag: "new-tag", nodetool: "true" }), {
    code: "E_NOT_FOUND",
    message: /snapshot 'new-tag' not found/,
  });
  await t.rejects(
    uploadSnapshot({ backend, identity, dataDir, tag: "fixture-tag", scope: ["other_ks"], tokens: false }),
    { code: "E_NOT_FOUND" },
  );
  await unlink(join(dataDir, TABLE_DIR, "snapshots/fixture-tag/schema.cql"));
  await t.rejects(uploadSnapshot({ backend, identity, dataDir, tag: "fixture-tag", tokens: false }), {
    code: "E_NOT_FOUND",
    message: /incomplete: no schema.cql/,
  });
  await unlink(join(dataDir, TABLE_DIR, "snapshots/fixture-tag/manifest.json"));
  await t.rejects(uploadSnapshot({ backend, identity, dataDir, tag: "fixture-tag", tokens: false }), {
    code: "E_NOT_FOUND",
    message: /incomplete: no manifest.json/,
  });
  t.same(await listSnapshots(backend, identity), [], "nothing written");
});

t.test(
  "the schema keyspace in the tag is recorded as schema_tables, apart from the tables restored",
  async (t) => {
    const dataDir = await dataDirCopy(t);
    // Stand-in sstables under the schema keyspace's directory name (any valid sstable serves).
    const schemaDir = join(
      dataDir,
      "system_schema",
      "keyspaces-abac5682dea631c5b535b3d6cffd0fb6",
      "snapshots",
      "fixture-tag",
    );
    await cp(
      join(dataDir, "pitr_fixture", "events-233ad580e58711f1988fc5102cd29634", "snapshots", "fixture-tag"),
      schemaDir,
      { recursive: true },
    );
    const backend = await openBackend(`mem://snapshot-schema-${process.pid}`);
    const calls: string[][] = [];
    const summary = await uploadSnapshot({
      backend,
      identity,
      dataDir,
      tag: "fixture-tag",
      nodetool: fakeNodetool(calls),
    });
    t.same(calls, [["info", "-T"]], "the tag holds the schema keyspace: no second nodetool snapshot");
    t.same(summary.warnings, []);
    const m = (await listSnapshots(backend, identity))[0]!.manifest;
    t.same(
      m.tables.map((x) => `${x.keyspace}.${x.table}`),
      ["pitr_fixture.events"],
      "restorable tables unchanged",
    );
    t.same(
      m.schema_tables?.map((x) => [x.keyspace, x.table, x.table_dir, x.sstables.length]),
      [["system_schema", "keyspaces", "keyspaces-abac5682dea631c5b535b3d6cffd0fb6", 2]],
    );
    t.ok(
      m.schema_tables![0]!.sstables.every((s) => s.components.every((c) => c.key.includes("/sstables/"))),
      "components content-addressed like any sstable",
    );
  },
);
