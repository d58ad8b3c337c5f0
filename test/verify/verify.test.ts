import { createHash } from "node:crypto";
import t from "tap";
import { compress } from "zstd-napi";
import { segmentKey } from "../../src/format/layout.js";
import { recordToMetadata } from "../../src/format/segment-record.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { verifyChecks, verifyNode } from "../../src/verify/verify.js";
import { buildArchive, DAY, identity, T0 } from "../prune/archive.js";

/** Replace the window's segments with real zstd bodies and recorded checksums; lose two ids. */
async function realSegments(
  b: Backend,
  fromMs: number,
  toMs: number,
  lose: readonly bigint[],
): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of b.list(`prod/host-p/segments/`)) keys.push(info.key);
  const kept: string[] = [];
  for (const key of keys) {
    const m = /\/(\d{8}T\d{6}\.\d{3}Z)_(\d+)_v8\.log\.zst$/.exec(key)!;
    const id = BigInt(m[2]!);
    const closeMs = Date.parse(
      m[1]!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})/, "$1-$2-$3T$4:$5:$6"),
    );
    await b.delete(key);
    if (closeMs < fromMs || closeMs > toMs || lose.includes(id)) continue;
    const raw = Buffer.from(`segment ${id}`);
    const meta = recordToMetadata({
      sha256: createHash("sha256").update(raw).digest("hex"),
      size: raw.length,
      compression: "zstd",
      encryption: "none",
      segmentId: id,
      version: 8,
      name: `CommitLog-8-${id}.log`,
      closeTimeMs: closeMs,
      archiveTimeMs: closeMs + 1000,
      cluster: "prod",
      hostId: "host-p",
      status: "complete",
      headerParameters: "{}",
      archivedBy: "hook",
    });
    const k = segmentKey(identity, { closeTimeMs: closeMs, segmentId: id, version: 8 });
    await b.put(k, compress(raw), { metadata: meta });
    kept.push(k);
  }
  return kept;
}

t.test(
  "verify: complete snapshots, checksums remembered between runs, lost vs delayed segments, a corrupted object",
  async (t) => {
    const b = await openBackend("mem://verify-1");
    const { segmentIds } = await buildArchive(b, 2);
    const from = T0 + DAY;
    const to = T0 + 2 * DAY;
    const old = segmentIds[200]!; // closed long before now → lost
    const recent = segmentIds[segmentIds.length - 3]!; // neighbour closed just before now → delayed
    const segs = await realSegments(b, from, to, [old, recent]);
    const now = to + 60_000;
    const opts = { fromMs: from, toMs: to, nowMs: now, delayMs: 15 * 60_000, deep: false };

    const first = await verifyNode(b, identity, opts);
    t.same(
      first.checks.map((c) => [c.id, c.status]),
      [
        ["snapshots-complete", "ok"],
        ["checksums", "ok"],
        ["segment-chain", "failure"],
      ],
    );
    t.same(
      first.segments.map((s) => s.status),
      ["found", "lost", "found", "delayed", "found"],
    );
    t.equal(first.segments[1]!.fromId, old.toString());
    t.equal(first.segments[3]!.fromId, recent.toString());
    t.ok(first.objects.hashed >= segs.length, "first run hashes every object");

    const second = await verifyNode(b, identity, opts);
    t.equal(second.objects.hashed, 0, "second run re-reads nothing");
    t.equal(second.objects.skipped, first.objects.hashed + first.objects.skipped);
    const deep = await verifyNode(b, identity, { ...opts, deep: true });
    t.equal(deep.objects.hashed, first.objects.hashed + first.objects.skipped, "--deep re-reads everything");

    // corrupt one segment (same size so only the hash tells) and drop a TOC-listed component
    const victim = segs[10]!;
    const head = await b.head(victim);
    await b.put(
      victim,
      compress(Buffer.from("segment XXXXXXXXXXXXX".slice(0, `segment ${segmentIds[0]}`.length))),
      { metadata: { ...head.metadata } },
    );
    const third = await verifyNode(b, identity, { ...opts, deep: true });
    t.equal(third.checks.find((c) => c.id === "checksums")!.status, "failure");
    t.match(third.objects.mismatched[0]!, victim);
    t.equal(third.status, "failure");
  },
);

t.test("verify: a component listed in TOC.txt but not stored fails snapshot completeness", async (t) => {
  const b = await openBackend("mem://verify-2");
  await buildArchive(b, 1);
  // remove one Data.db component object
  for await (const info of b.list("prod/host-p/sstables/")) {
    await b.delete(info.key);
    break;
  }
  const r = await verifyNode(b, identity, {
    fromMs: T0,
    toMs: T0 + DAY,
    nowMs: T0 + DAY,
    delayMs: 60_000,
    deep: false,
  });
  t.equal(r.checks[0]!.status, "failure");
  t.match(r.checks[0]!.details, /missing object/);
});

t.test("verifyChecks (pure): one check per seam, the worst finding decides each", async (t) => {
  const clean = { mismatched: [], missing: [], hashed: 4, skipped: 2 };
  const range = (status: "found" | "lost" | "delayed") => ({
    status,
    fromId: "1",
    toId: "3",
    count: 3,
    details: "",
  });
  const ok = verifyChecks({
    snapshots: 1,
    problems: [],
    tally: clean,
    segments: [range("found")],
    segmentCount: 3,
  });
  t.same(
    ok.map((c) => [c.id, c.status]),
    [
      ["snapshots-complete", "ok"],
      ["checksums", "ok"],
      ["segment-chain", "ok"],
    ],
  );
  t.match(ok[1]!.details, "4 object(s) hashed, 2 verified before");
  const bad = verifyChecks({
    snapshots: 1,
    problems: ["snapshot 'a': nb-1-big has no TOC.txt"],
    tally: { ...clean, missing: ["k/x"], mismatched: ["k/y: sha256 …"] },
    segments: [range("delayed"), range("lost")],
    segmentCount: 6,
  });
  t.same(
    bad.map((c) => c.status),
    ["failure", "failure", "failure"],
    "lost outweighs delayed",
  );
  t.match(bad[0]!.details, "has no TOC.txt; missing object k/x");
  const late = verifyChecks({
    snapshots: 0,
    problems: [],
    tally: clean,
    segments: [range("delayed")],
    segmentCount: 3,
  });
  t.equal(late[2]!.status, "warning");
  t.match(late[2]!.details, "delayed: 1..3 (3)");
});
