/**
 * The fetch phase's segments (src/restore/fetch-phase.ts): verified and filtered on worker threads,
 * staged whole while the disk allows and stubbed beyond, with the very bytes and counts the replay
 * filter gives in-process; a damaged archived copy or unreadable mutations refuse.
 */
import t, { type Test } from "tap";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compress } from "zstd-napi";
import { pushSegment } from "../../src/pipeline/push.js";
import { recordFromMetadata, type SegmentRecord } from "../../src/format/segment-record.js";
import { openBackend } from "../../src/storage/open.js";
import { compileReplayFilter, renderSpec, type ReplayFilterSpec } from "../../src/replay/replay-filter.js";
import { parseStub } from "../../src/replay/stub.js";
import { fetchSegments, segmentsToStage } from "../../src/restore/fetch-phase.js";
import type { SegmentStep } from "../../src/restore/plan.js";
import { loadMutationSet } from "../commitlog/mutation-fixtures.js";

const identity = { cluster: "fetch-phase", node: "6b1e5a3c-0000-4000-8000-00000000f00d" };

async function archived(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), "pitr-fetch-phase-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const backend = await openBackend(
    `mem://fetch-phase-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  t.teardown(() => backend.close());
  const sets = await Promise.all(["v7", "v8", "lz4"].map(loadMutationSet));
  const segments: SegmentStep[] = [];
  const records = new Map<string, SegmentRecord>();
  const originals = new Map<string, Uint8Array>();
  for (const set of sets) {
    for (const seg of set.segments) {
      await writeFile(join(dir, seg.name), seg.bytes);
      const pushed = await pushSegment(backend, identity, {
        path: join(dir, seg.name),
        name: seg.name,
        archivedBy: "hook",
      });
      records.set(pushed.key, recordFromMetadata((await backend.head(pushed.key)).metadata)!);
      segments.push({ kind: "segment", key: pushed.key, name: seg.name } as SegmentStep);
      originals.set(seg.name, seg.bytes);
    }
  }
  // A cutoff in the middle of the statements: some of every set are withheld.
  const stamps = sets
    .flatMap((s) => s.statements.flatMap((st) => (st.timestamp === undefined ? [] : [st.timestamp])))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const spec: ReplayFilterSpec = {
    schema_version: 1,
    cutoff_micros: stamps[Math.floor(stamps.length / 2)]!.toString(),
    accept_cassandra_filter: false,
    scope_table_ids: null,
    schemas: sets.flatMap((s) => s.schemaFiles.map((f) => ({ source: `${s.kind}/${f.name}`, cql: f.text }))),
  };
  const restoreDir = join(dir, "restore");
  await mkdir(restoreDir);
  return { dir, backend, segments, records, originals, spec, restoreDir };
}

t.test(
  "segmentsToStage: whole segments while they fit with one segment of margin, stubs beyond",
  async (t) => {
    t.equal(segmentsToStage([10, 10, 10], 1000), 3, "room for all");
    t.equal(segmentsToStage([10, 10, 10], 35), 2, "35 bytes: two staged, one largest segment kept free");
    t.equal(segmentsToStage([10, 10, 10], 5), 0, "no room: all stubs");
    t.equal(segmentsToStage([], 0), 0, "no segments");
  },
);

t.test(
  "parallel verify + filter: staged bytes and counts equal the in-process filter's; stubs beyond the budget",
  async (t) => {
    const a = await archived(t);
    const specText = renderSpec(a.spec);
    const specPath = join(a.dir, "spec.json");
    await writeFile(specPath, specText);
    const filter = compileReplayFilter(a.spec);
    const expected = a.segments.map((s) => filter(s.name, a.originals.get(s.name)!));
    t.ok(
      expected.some((e) => e.withheld > 0) && expected.some((e) => e.mutations > e.withheld),
      "the cutoff withholds some mutations and keeps others",
    );
    const progress: number[] = [];
    const tally = await fetchSegments({
      backend: a.backend,
      segments: a.segments,
      records: a.records,
      restoreDir: a.restoreDir,
      stagedCount: a.segments.length - 1,
      specText,
      specPath,
      archiveUrl: "file:///archive",
      parallelism: 4,
      progress: (done) => progress.push(done.segments),
    });
    t.same(
      progress,
      a.segments.map((_, i) => i + 1),
      "progress after every segment",
    );
    t.equal(tally.segments, a.segments.length, "every segment counted");
    t.equal(
      tally.mutations,
      expected.reduce((n, e) => n + e.mutations, 0),
      "mutations read: as in-process",
    );
    t.equal(
      tally.withheld,
      expected.reduce((n, e) => n + e.withheld, 0),
      "mutations withheld: as in-process",
    );
    t.equal(
      tally.withheldBeyondCassandra,
      expected.reduce((n, e) => n + e.withheldBeyondCassandra, 0),
      "row deletions withheld: as in-process",
    );
    t.same(
      (await readdir(a.restoreDir)).sort(),
      a.segments.map((s) => s.name).sort(),
      "one file per segment, no temporary file left",
    );
    for (const [i, s] of a.segments.entries()) {
      const bytes = await readFile(join(a.restoreDir, s.name));
      if (i < a.segments.length - 1) {
        t.same(
          Buffer.compare(bytes, Buffer.from(expected[i]!.bytes)),
          0,
          `${s.name}: staged whole, the filtered bytes exactly`,
        );
      } else {
        const ref = parseStub(bytes, s.name);
        t.ok(ref, `${s.name}: beyond the budget, a stub`);
        t.equal(ref?.sha256, a.records.get(s.key)!.sha256, "naming the archived sha256");
        t.equal(ref?.filter?.spec, specPath, "and the replay filter");
      }
    }
  },
);

t.test("a damaged archived copy and unreadable mutations refuse with their own errors", async (t) => {
  const a = await archived(t);
  const specText = renderSpec(a.spec);
  const run = (over: Partial<Parameters<typeof fetchSegments>[0]>) =>
    fetchSegments({
      backend: a.backend,
      segments: a.segments,
      records: a.records,
      restoreDir: a.restoreDir,
      stagedCount: a.segments.length,
      specText,
      specPath: join(a.dir, "spec.json"),
      archiveUrl: "file:///a",
      parallelism: 2,
      ...over,
    });

  const noSchemas = renderSpec({ ...a.spec, schemas: [] });
  await t.rejects(
    run({ specText: noSchemas, restoreDir: await mkdtemp(join(a.dir, "r-")) }),
    { name: "PlanRefusedError", code: "E_PLAN_REFUSED", message: /restore refused before changing anything/ },
    "no schema for the tables: refused (exit 17)",
  );

  const victim = a.segments[1]!;
  const bytes = Buffer.from(a.originals.get(victim.name)!);
  bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
  const info = await a.backend.head(victim.key);
  await a.backend.delete(victim.key);
  await a.backend.put(victim.key, compress(bytes), { metadata: info.metadata });
  const target = await mkdtemp(join(a.dir, "r-"));
  await t.rejects(
    run({ restoreDir: target }),
    { name: "ChecksumMismatchError", code: "E_CHECKSUM_MISMATCH", message: /sha256/ },
    "a damaged copy: checksum mismatch (exit 15)",
  );
  t.notOk((await readdir(target)).includes(victim.name), "the damaged segment is not staged");
});
