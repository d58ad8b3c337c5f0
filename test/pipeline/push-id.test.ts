/**
 * A segment is recognised by its id and sha256 whatever its file time: a restore copies archived
 * segments back into the commit log directory with the restore's file time, and Cassandra archives
 * any still there at its next start. Those must not become new objects (duplicate ids in the
 * catalog, a phantom gap). Real fixtures from Cassandra 5.0.9, the file:// backend, both push paths.
 */
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { pushSegment } from "../../src/pipeline/push.js";
import { readCatalog } from "../../src/catalog/read.js";
import { parseSegmentKey, segmentIdKey, segmentsPrefix } from "../../src/format/layout.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { segmentFixtures } from "../helpers/fixtures.js";

const identity = { cluster: "push-id-test", node: "11111111-2222-3333-4444-555555555555" };

async function keys(backend: Backend): Promise<string[]> {
  const out: string[] = [];
  for await (const info of backend.list(segmentsPrefix(identity))) out.push(info.key);
  return out;
}

/** The same backend, claiming it needs metadata with the first request (S3, GCS). */
function metadataFirst(inner: Backend): Backend {
  return {
    ...inner,
    capabilities: { ...inner.capabilities, lateMetadata: false },
    put: (k, b, o) => inner.put(k, b, o),
    get: (k, o) => inner.get(k, o),
    head: (k, o) => inner.head(k, o),
    list: (p, o) => inner.list(p, o),
    delete: (k, o) => inner.delete(k, o),
    close: () => inner.close(),
  };
}

for (const path of ["one pass", "metadata first"] as const) {
  t.test(
    `${path}: a segment copied back with a new file time is already archived under its first key`,
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), "push-id-"));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      await mkdir(join(dir, "archive"));
      const fileBackend = await openBackend(`file://${join(dir, "archive")}`);
      const backend = path === "one pass" ? fileBackend : metadataFirst(fileBackend);
      const [fixture] = await segmentFixtures("v8");
      const live = join(dir, fixture!.name);
      await copyFile(fixture!.path, live);
      await utimes(live, new Date("2026-11-20T10:00:00Z"), new Date("2026-11-20T10:00:00Z"));
      const first = await pushSegment(backend, identity, {
        path: live,
        name: fixture!.name,
        archivedBy: "hook",
      });
      t.equal(first.outcome, "archived", "first archive stores it");

      // As a restore leaves it in the commit log directory: same bytes, the restore's file time.
      await utimes(live, new Date("2026-11-27T17:00:00Z"), new Date("2026-11-27T17:00:00Z"));
      const again = await pushSegment(backend, identity, {
        path: live,
        name: fixture!.name,
        archivedBy: "hook",
      });
      t.equal(
        again.outcome,
        "already-archived",
        "archived again after a restore: recognised by id and sha256",
      );
      t.equal(again.key, first.key, "under the key it was first stored with");
      t.same(await keys(backend), [first.key], "one object for the segment id, no second key");

      // Same id, other bytes, a later file time: what a node that failed to start archives when a
      // restore staged the segment through its replay filter. Kept (nothing lost), beside the original
      // as a conflict copy at the original's close time, so the catalog keeps the original.
      const other = Buffer.from(await readFile(fixture!.path));
      other.writeUInt8(other.readUInt8(other.length - 1) ^ 0xff, other.length - 1);
      await writeFile(live, other);
      await utimes(live, new Date("2026-11-27T18:00:00Z"), new Date("2026-11-27T18:00:00Z"));
      const changed = await pushSegment(backend, identity, {
        path: live,
        name: fixture!.name,
        archivedBy: "hook",
      });
      t.equal(
        changed.outcome,
        "conflict-kept",
        "other bytes under the same id are kept as a conflict copy, not taken for the first copy",
      );
      t.equal(changed.conflictsWith, first.key, "naming the original");
      const [orig, copy] = [parseSegmentKey(first.key)!, parseSegmentKey(changed.key)!];
      t.equal(copy.closeTimeMs, orig.closeTimeMs, "at the original's close time, not the file's");
      t.ok(copy.conflict, "marked as a conflict copy");
      t.same(
        (await keys(backend)).sort(),
        [first.key, changed.key].sort(),
        "beside the first copy, which is untouched",
      );
      const again2 = await pushSegment(backend, identity, {
        path: live,
        name: fixture!.name,
        archivedBy: "hook",
      });
      t.equal(again2.key, changed.key, "archived a third time: the same conflict copy, no new object");
      t.equal((await keys(backend)).length, 2, "still two objects");
      const c = await readCatalog(backend, identity, {
        fromMs: Date.parse("2026-11-19T00:00:00Z"),
        toMs: Date.parse("2026-11-28T00:00:00Z"),
        loadSnapshots: async () => [],
        loadIncrementals: async () => [],
      });
      t.same(
        c.segments.map((x) => x.key),
        [first.key],
        "the catalog uses the original",
      );
      t.equal(c.duplicates[0]?.others[0]?.key, changed.key, "and lists the rewrite as a duplicate");

      // An index entry whose object was pruned does not count: the segment is stored again.
      await copyFile(fixture!.path, live);
      await utimes(live, new Date("2026-11-27T19:00:00Z"), new Date("2026-11-27T19:00:00Z"));
      await backend.delete(first.key);
      const afterPrune = await pushSegment(backend, identity, {
        path: live,
        name: fixture!.name,
        archivedBy: "hook",
      });
      t.equal(afterPrune.outcome, "archived", "an entry pointing at a pruned object is ignored");
      const entry = (
        await backend.head(segmentIdKey(identity, afterPrune.record.segmentId, afterPrune.record.version))
      ).metadata;
      t.equal(entry["key"], afterPrune.key, "and the id index now names the copy stored after the prune");
      await backend.close();
    },
  );
}
