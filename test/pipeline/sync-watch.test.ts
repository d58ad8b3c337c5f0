/**
 * The sync watch and the claims it gives (pipeline/sync-watch.ts, pipeline/partial.ts), over real
 * segments made by Cassandra 5.0.9, cut at sync section boundaries the way the mapped file looks
 * between syncs: a zeroed marker slot after the last synced section, and either nothing after it
 * (nothing waiting) or the first entry of a mutation serialized but not synced yet.
 */
import t, { type Test } from "tap";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSegmentHeader } from "../../src/commitlog/segment-header.js";
import { parseSyncMarker } from "../../src/commitlog/sync-marker.js";
import { parseSegmentName } from "../../src/commitlog/segment-name.js";
import { listPartialSegments } from "../../src/catalog/partials.js";
import {
  parsePartialKey,
  partialFromMetadata,
  partialSegmentPrefix,
} from "../../src/format/partial-layout.js";
import { newPartialState, uploadPartials, PARTIAL_CLAIM_MARGIN_MS } from "../../src/pipeline/partial.js";
import { lookAtSyncs } from "../../src/pipeline/sync-watch.js";
import { assemblePartialSegment } from "../../src/replay/partial-segment.js";
import { openBackend } from "../../src/storage/open.js";
import { segmentFixtures } from "../helpers/fixtures.js";

const identity = { cluster: "watch-test", node: "11111111-2222-3333-4444-555555555555" };
const MARGIN = PARTIAL_CLAIM_MARGIN_MS;

/** File offsets of the segment's sync markers, in order (each one is a section boundary). */
function boundaries(name: string, full: Buffer): number[] {
  const id = parseSegmentName(name).id;
  const out: number[] = [];
  let at = parseSegmentHeader(full, name).headerLength;
  for (;;) {
    const m = parseSyncMarker(full, id, at);
    if (m.kind !== "marker") return out;
    out.push(at);
    at = m.next;
  }
}

/** The mapped file synced up to boundary `end`; `waiting`: the next mutation's entry already serialized. */
function mappedAt(full: Buffer, end: number, waiting = false): Buffer {
  const out = Buffer.alloc(full.length);
  full.copy(out, 0, 0, end);
  if (waiting) full.copy(out, end + 8, end + 8, end + 20);
  return out;
}

async function setup(t: Test, visibleTail: boolean) {
  const [fixture, second] = await segmentFixtures("v7");
  const full = await readFile(fixture!.path);
  const dir = await mkdtemp(join(tmpdir(), "pitr-watch-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const backend = await openBackend(`mem://watch-${visibleTail}-${Math.random()}`);
  const clock = { now: Date.parse("2026-11-28T10:00:00Z") };
  const options = {
    backend,
    identity,
    commitlogDir: dir,
    source: "agent" as const,
    now: () => clock.now,
  };
  const state = newPartialState({ visibleTail });
  const look = async (atMs: number) => {
    clock.now = atMs;
    await lookAtSyncs(dir, state.watch!, atMs);
  };
  const pass = async (atMs: number) => {
    clock.now = atMs;
    return uploadPartials(options, state);
  };
  const b = boundaries(fixture!.name, full);
  return { fixture: fixture!, second: second!, full, dir, backend, state, look, pass, b };
}

t.test("a memory-mapped node: a sync seen by the watch, then an idle node keeps up", async (t) => {
  const { fixture, full, dir, backend, look, pass, b } = await setup(t, true);
  const path = join(dir, fixture.name);
  const T = Date.parse("2026-11-28T10:00:00Z");
  t.ok(b.length >= 5, `the fixture has sections to cut at (${b.length})`);

  await writeFile(path, mappedAt(full, b[2]!));
  await look(T);
  const first = await pass(T + 500);
  t.equal(
    first.uploads[0]?.syncedBeforeMs,
    T - MARGIN,
    "nothing was waiting at the look: every write allocated before it is claimed (less the margin)",
  );

  await look(T + 10_000);
  const idle = await pass(T + 10_500);
  t.same(
    idle.uploads.map((u) => [parsePartialKey(u.key)?.start, parsePartialKey(u.key)?.end, u.bytes]),
    [[b[2], b[2], 0]],
    "idle: an empty object at the chain's end carries the claim (a heartbeat)",
  );
  t.equal(idle.uploads[0]!.syncedBeforeMs, T + 10_000 - MARGIN, "claiming the latest look");
  const [listed] = await listPartialSegments(backend, identity, new Set());
  t.equal(listed?.closeTimeMs, T + 10_000 - MARGIN, "the catalog's window follows the heartbeat");

  await look(T + 15_000);
  const again = await pass(T + 15_500);
  t.same(
    again.uploads.map((u) => u.key),
    idle.uploads.map((u) => u.key),
    "the next beat overwrites the same key",
  );
  t.same(
    partialFromMetadata((await backend.head(again.uploads[0]!.key)).metadata)?.beat,
    { sinceMs: T + 10_500, maxGapMs: 5_000, maxLagMs: 2_500 },
    "its record: since the first beat, the longest gap between beats, the longest claim lag",
  );

  await writeFile(path, mappedAt(full, b[2]!, true));
  await look(T + 20_000);
  t.same((await pass(T + 20_500)).uploads, [], "a mutation waits for its sync: no claim moves on");

  await writeFile(path, mappedAt(full, b[4]!, true));
  await look(T + 30_000);
  const synced = await pass(T + 30_500);
  t.same(
    synced.uploads.map((u) => [parsePartialKey(u.key)?.start, parsePartialKey(u.key)?.end]),
    [[b[2], b[4]]],
    "the new sections go up, after the heartbeat's offset",
  );
  t.equal(
    synced.uploads[0]!.syncedBeforeMs,
    T + 20_500 - MARGIN,
    "claim: the previous pass (the watch's marker gives the look before the sync, earlier here)",
  );
  const folder = partialSegmentPrefix(identity, listed!.segmentId, listed!.version);
  t.ok(
    (await assemblePartialSegment(backend, folder, fixture.name)).equals(full.subarray(0, b[4])),
    "the chain, heartbeat included, assembles to the synced bytes",
  );
});

t.test("a sync between two looks claims the earlier look, before the next pass", async (t) => {
  const { fixture, full, dir, look, pass, b } = await setup(t, true);
  const path = join(dir, fixture.name);
  const T = Date.parse("2026-11-28T11:00:00Z");
  await writeFile(path, mappedAt(full, b[1]!, true));
  await pass(T);
  await look(T + 1_000);
  await look(T + 8_000); // still waiting
  await writeFile(path, mappedAt(full, b[3]!, true));
  await look(T + 9_000);
  const next = await pass(T + 10_000);
  t.equal(
    next.uploads[0]?.syncedBeforeMs,
    T + 8_000 - MARGIN,
    "the marker was not there at 8 s: the sync started after, so every write before 8 s is in",
  );
});

t.test("without visible unsynced writes the watch never proves an idle node", async (t) => {
  const { fixture, full, dir, look, pass, b } = await setup(t, false);
  const path = join(dir, fixture.name);
  const T = Date.parse("2026-11-28T12:00:00Z");
  await writeFile(path, mappedAt(full, b[2]!));
  await look(T);
  const first = await pass(T + 500);
  t.equal(first.uploads[0]?.syncedBeforeMs, 0, "first upload: nothing claimed");
  await look(T + 10_000);
  t.same(
    (await pass(T + 10_500)).uploads,
    [],
    "idle: no heartbeat (compressed or direct I/O may hide writes)",
  );
  await writeFile(path, mappedAt(full, b[3]!));
  await look(T + 15_000);
  t.equal(
    (await pass(T + 20_500)).uploads[0]?.syncedBeforeMs,
    T + 10_500 - MARGIN,
    "a new section still claims the previous pass",
  );
});

t.test("the claim goes on the newest segment only, after the older one's bytes", async (t) => {
  const { fixture, second, full, dir, look, pass, b } = await setup(t, true);
  const T = Date.parse("2026-11-28T13:00:00Z");
  const older = join(dir, fixture.name);
  const newer = join(dir, second.name);
  const fullNewer = await readFile(second.path);
  const bn = boundaries(second.name, fullNewer);
  await writeFile(older, mappedAt(full, b[1]!));
  await pass(T);
  await writeFile(older, mappedAt(full, b[3]!));
  await writeFile(newer, mappedAt(fullNewer, bn[1]!));
  await look(T + 5_000);
  const both = await pass(T + 10_000);
  const claims = new Map(both.uploads.map((u) => [parsePartialKey(u.key)!.segmentId, u.syncedBeforeMs]));
  t.equal(
    claims.get(parseSegmentName(fixture.name).id),
    0,
    "the older segment's new bytes keep its old claim",
  );
  t.equal(
    claims.get(parseSegmentName(second.name).id),
    T + 5_000 - MARGIN,
    "the newest one carries the pass's claim",
  );
  t.same(
    both.uploads.map((u) => parsePartialKey(u.key)!.segmentId),
    [parseSegmentName(fixture.name).id, parseSegmentName(second.name).id],
    "uploaded oldest first",
  );
});

t.test("an older segment the pass could not read to its watched end: no claim moves on", async (t) => {
  const { fixture, second, full, dir, look, pass, b } = await setup(t, true);
  const T = Date.parse("2026-11-28T14:00:00Z");
  const fullNewer = await readFile(second.path);
  const bn = boundaries(second.name, fullNewer);
  const damaged = mappedAt(full, b[3]!);
  damaged[b[2]! + 8 + 20]! ^= 0xff; // inside the first entry of the section [b2, b3): its CRC fails
  await writeFile(join(dir, fixture.name), damaged);
  await writeFile(join(dir, second.name), mappedAt(fullNewer, bn[1]!));
  await look(T);
  await look(T + 1_000);
  const p1 = await pass(T + 2_000);
  const ends = new Map(
    p1.uploads.map((u) => [parsePartialKey(u.key)!.segmentId, parsePartialKey(u.key)!.end]),
  );
  t.equal(
    ends.get(parseSegmentName(fixture.name).id),
    b[2],
    "the older segment goes up to the section that verifies",
  );
  t.same(
    p1.uploads.map((u) => u.syncedBeforeMs),
    [0, 0],
    "and nothing is claimed: the watch saw a marker past what the archive holds",
  );
  await writeFile(join(dir, fixture.name), mappedAt(full, b[3]!));
  await look(T + 3_000);
  const p2 = await pass(T + 4_000);
  t.equal(p2.uploads.at(-1)?.syncedBeforeMs, T + 3_000 - MARGIN, "once it is up, the head's claim follows");
});
