/**
 * Partial uploads over real segments (fixtures made by Cassandra 5.0.9), emulating a segment being
 * written: the file is cut mid-section, uploaded, then grown to its full content and uploaded again.
 * Checks what reaches the archive (only verified sections, one object per new run, no prefix
 * re-upload), that the assembled chain is the segment's synced bytes, and that damage is refused.
 */
import t from "tap";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classifySegment } from "../../src/commitlog/classify.js";
import { segmentIdKey } from "../../src/format/layout.js";
import { parsePartialKey, partialSegmentPrefix } from "../../src/format/partial-layout.js";
import { newPartialState, uploadPartials, PARTIAL_CLAIM_MARGIN_MS } from "../../src/pipeline/partial.js";
import { assemblePartialSegment } from "../../src/replay/partial-segment.js";
import { openBackend } from "../../src/storage/open.js";
import { segmentFixtures } from "../helpers/fixtures.js";

const identity = { cluster: "partial-test", node: "11111111-2222-3333-4444-555555555555" };

/** The segment as a writer mid-section leaves it: bytes after `cut` not written yet. */
function cutAt(full: Buffer, cut: number, compressed: boolean): Buffer {
  if (compressed) return full.subarray(0, cut); // a compressed segment's file grows as sections are written
  const out = Buffer.alloc(full.length); // a memory-mapped one is its full size from the start
  full.copy(out, 0, 0, cut);
  return out;
}

for (const kind of ["v7", "lz4", "zstd"]) {
  t.test(`partial uploads of a ${kind} segment being written`, async (t) => {
    const [fixture] = await segmentFixtures(kind);
    const full = await readFile(fixture!.path);
    const synced = classifySegment(fixture!.name, full).lastValidOffset;
    const compressed = kind !== "v7";
    const dir = await mkdtemp(join(tmpdir(), "pitr-partial-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const backend = await openBackend(`mem://partial-${kind}-${process.pid}`);
    let clock = Date.parse("2026-11-27T10:00:00Z");
    const options = { backend, identity, commitlogDir: dir, source: "agent" as const, now: () => clock };
    const state = newPartialState();
    const path = join(dir, fixture!.name);

    await writeFile(path, cutAt(full, Math.floor(synced / 2), compressed));
    const first = await uploadPartials(options, state);
    t.equal(first.uploads.length, 1, "first pass: one object");
    const firstEnd = parsePartialKey(first.uploads[0]!.key)!.end;
    t.ok(firstEnd > 0 && firstEnd <= Math.floor(synced / 2), "it stops at a section boundary before the cut");
    t.same(
      classifySegment(fixture!.name, full.subarray(0, firstEnd)).lastValidOffset,
      firstEnd,
      "and the prefix verifies",
    );
    t.equal(first.newestSyncedBeforeMs, 0, "no claim before a second pass has seen a sync");

    clock += 10_000;
    t.equal((await uploadPartials(options, state)).uploads.length, 0, "nothing new synced: nothing uploaded");
    clock += 10_000;
    await writeFile(path, full);
    const second = await uploadPartials(options, state);
    t.equal(second.uploads.length, 1, "second run of sections: one more object");
    const key = parsePartialKey(second.uploads[0]!.key)!;
    t.same([key.start, key.end], [firstEnd, synced], "holding only the new bytes");
    t.equal(
      second.newestSyncedBeforeMs,
      clock - 10_000 - PARTIAL_CLAIM_MARGIN_MS,
      "claim: the previous pass's start, less the margin",
    );

    const folder = partialSegmentPrefix(identity, key.segmentId, key.version);
    const assembled = await assemblePartialSegment(backend, folder, fixture!.name);
    t.ok(assembled.equals(full.subarray(0, synced)), "assembled: the segment's synced bytes, exactly");

    const resumed = newPartialState();
    t.equal(
      (await uploadPartials(options, resumed)).uploads.length,
      0,
      "a restarted agent resumes after the uploaded chain",
    );

    await backend.put(segmentIdKey(identity, key.segmentId, key.version), new Uint8Array(0));
    clock += 10_000;
    const archived = newPartialState();
    await writeFile(path, Buffer.concat([full, Buffer.alloc(0)]));
    t.equal(
      (await uploadPartials(options, archived)).uploads.length,
      0,
      "archived whole: not uploaded again",
    );

    const objects: string[] = [];
    for await (const o of backend.list(folder)) objects.push(o.key);
    const damaged = Buffer.from(full.subarray(firstEnd, synced));
    damaged[damaged.length >> 1]! ^= 0xff;
    const meta = (await backend.head(objects[1]!)).metadata;
    await backend.put(objects[1]!, damaged, { metadata: { ...meta } });
    await t.rejects(
      assemblePartialSegment(backend, folder, fixture!.name),
      { code: "E_CHECKSUM_MISMATCH" },
      "a damaged object is refused",
    );
  });
}

t.test(
  "catalog and retention: a chain joins the catalog with its claim; archived whole, it is superseded",
  async (t) => {
    const { listPartialSegments } = await import("../../src/catalog/partials.js");
    const { supersededPartials } = await import("../../src/prune/plan.js");
    const [fixture] = await segmentFixtures("v7");
    const full = await readFile(fixture!.path);
    const dir = await mkdtemp(join(tmpdir(), "pitr-partial-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const backend = await openBackend(`mem://partial-catalog-${process.pid}`);
    let clock = Date.parse("2026-11-27T10:00:00Z");
    const options = { backend, identity, commitlogDir: dir, source: "agent" as const, now: () => clock };
    const state = newPartialState();
    await writeFile(join(dir, fixture!.name), cutAt(full, 4096, false));
    await uploadPartials(options, state);
    t.same(
      await listPartialSegments(backend, identity, new Set()),
      [],
      "a chain that claims nothing is not restorable yet",
    );
    clock += 10_000;
    await writeFile(join(dir, fixture!.name), full);
    await uploadPartials(options, state);
    const [listed] = await listPartialSegments(backend, identity, new Set());
    t.equal(
      listed?.closeTimeMs,
      clock - 10_000 - PARTIAL_CLAIM_MARGIN_MS,
      "listed with the chain's claim as its close time",
    );
    t.equal(listed?.partial?.source, "agent", "flagged as a partial uploaded by the agent");
    t.same(
      await listPartialSegments(backend, identity, new Set([listed!.segmentId])),
      [],
      "a full segment of the same id wins",
    );
    clock += 60_000;
    const rescue = await uploadPartials({ ...options, source: "rescue" }, newPartialState());
    t.same(
      rescue.uploads.map((u) => u.bytes),
      [0],
      "a rescue with nothing new seals the chain with an empty object",
    );
    const [sealed] = await listPartialSegments(backend, identity, new Set());
    t.same(
      [sealed?.closeTimeMs, sealed?.partial?.source],
      [clock, "rescue"],
      "which claims the rescue's time",
    );
    const folder = partialSegmentPrefix(identity, sealed!.segmentId, sealed!.version);
    t.ok(
      (await assemblePartialSegment(backend, folder, fixture!.name)).equals(
        full.subarray(0, classifySegment(fixture!.name, full).lastValidOffset),
      ),
      "the sealed chain assembles to the synced bytes",
    );
    const objects = [
      { key: "a", size: 1, segmentId: listed!.segmentId },
      { key: "b", size: 1, segmentId: listed!.segmentId + 1n },
    ];
    t.same(
      supersededPartials(objects, new Set([listed!.segmentId])).map((p) => p.key),
      ["a"],
      "retention removes only partials of segments archived whole",
    );
  },
);

t.test("exposure: synced bytes on disk that no archived object holds", async (t) => {
  const { exposureOf } = await import("../../src/catalog/exposure.js");
  const seg = (
    id: bigint,
    closeTimeMs: number,
    partial?: { endOffset: number; source: "agent" | "rescue" },
  ) => ({
    key: `k${id}`,
    closeTimeMs,
    segmentId: id,
    version: 7,
    storedBytes: 1,
    run: 0,
    ...(partial ? { partial } : {}),
  });
  const catalog = {
    segments: [seg(1n, 1000), seg(2n, 2000, { endOffset: 500, source: "agent" })],
    unarchivedTail: { afterId: 2n, sinceMs: 2000 },
  };
  const disk = (id: bigint, syncedEnd: number) => ({
    name: `CommitLog-7-${id}.log`,
    segmentId: id,
    syncedEnd,
    modifiedMs: 9000,
  });
  t.same(
    exposureOf(catalog, [disk(1n, 900), disk(2n, 800), disk(3n, 300), disk(4n, 0)]).map((e) => [
      e.segmentId,
      e.bytes,
      e.sinceMs,
      e.untilMs,
    ]),
    [
      [2n, 300, 2000, 9000],
      [3n, 300, 2000, 9000],
    ],
    "archived whole: none; past the partial's end: the rest; not archived: all synced bytes; nothing synced: none",
  );
  t.same(exposureOf(catalog, [disk(2n, 500)]), [], "a partial chain that reaches the synced end: none");
});
