/**
 * The report and partial segments (issue 14): the RPO model counts every partial upload, so a quiet
 * node whose segment stays open for hours keeps an RPO of seconds; and, run on the node, the report
 * shows what its disk holds that the archive does not (exposure) in every format.
 */
import t from "tap";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classifySegment } from "../../src/commitlog/classify.js";
import { main } from "../../src/cli/main.js";
import { openBackend } from "../../src/storage/open.js";
import { segmentFixtures } from "../helpers/fixtures.js";
import { buildArchive, DAY, T0 as A0 } from "../prune/archive.js";
import { buildCatalog, type ListedSegment } from "../../src/catalog/model.js";
import { segmentKey } from "../../src/format/layout.js";
import { partialSegmentPrefix } from "../../src/format/partial-layout.js";
import { PARTIAL_CLAIM_MARGIN_MS } from "../../src/pipeline/partial.js";
import { buildReport, type NodeInput, type PartialClaim } from "../../src/report/model.js";
import { renderHtml } from "../../src/report/render-html.js";
import { renderJson } from "../../src/report/render-json.js";
import { renderMarkdown } from "../../src/report/render-markdown.js";
import { renderText } from "../../src/report/render-text.js";

const identity = { cluster: "quiet", node: "node-q" };
const T0 = Date.UTC(2026, 10, 27, 0, 0, 0);
const S = 1000;
const H = 3_600_000;
const INTERVAL = 10 * S; // partialInterval
const LATENCY = 300; // from a pass's start to its object stored

/**
 * A quiet node: a snapshot, one segment closing a minute later, then a segment open for 6 hours with
 * the agent's pass every 10 s. Each pass finds new sections (a write every few seconds) and claims
 * the previous pass's start less the margin, as pipeline/partial.ts does.
 */
function quietNode(options: { withClaims: boolean }): NodeInput {
  const closed = T0 + 60 * S;
  const openId = 1_795_000_000_002n;
  const passes: number[] = [];
  for (let p = closed + INTERVAL; p <= T0 + 6 * H; p += INTERVAL) passes.push(p);
  const claims: PartialClaim[] = passes.slice(1).map((p, k) => ({
    segmentId: openId,
    syncedBeforeMs: passes[k]! - PARTIAL_CLAIM_MARGIN_MS,
    uploadedAtMs: p + LATENCY,
    bytes: 400,
    source: "agent",
  }));
  const newest = claims.at(-1)!;
  const segments: ListedSegment[] = [
    {
      key: segmentKey(identity, { closeTimeMs: closed, segmentId: openId - 1n, version: 8 }),
      closeTimeMs: closed,
      segmentId: openId - 1n,
      version: 8,
      storedBytes: 1_000_000,
    },
    {
      key: partialSegmentPrefix(identity, openId, 8),
      closeTimeMs: newest.syncedBeforeMs,
      segmentId: openId,
      version: 8,
      storedBytes: 400 * claims.length,
      partial: { endOffset: 400 * claims.length, source: "agent" },
    },
  ];
  const snapshot = { tag: "base", snapshotTimeMs: T0, cassandraVersion: "5.0.9", complete: true, tables: [] };
  const catalog = buildCatalog({
    identity,
    listedFromMs: T0 - 24 * H,
    listedToMs: T0 + 30 * H,
    segments,
    snapshots: [snapshot],
    incrementals: [],
  });
  const archiveTimes = new Map([
    [segments[0]!.key, closed + S],
    [segments[1]!.key, newest.uploadedAtMs],
  ]);
  return {
    catalog,
    archiveTimes,
    snapshotUploadedAt: new Map([["base", T0 + 30 * S]]),
    ...(options.withClaims ? { partials: claims } : {}),
  };
}

const window = {
  fromMs: T0 + 5 * 60 * S,
  toMs: T0 + 6 * H,
  nowMs: T0 + 6 * H + S,
  targetRpoMs: 60 * S,
  toolVersion: "test",
  archive: "mem://t",
};

t.test(
  "a quiet node with partial uploads: the RPO at every instant stays within two intervals plus the margin",
  async (t) => {
    const input = quietNode({ withClaims: true });
    const model = buildReport({ ...window, nodes: [input] });
    const n = model.nodes[0]!;
    const bound = 2 * INTERVAL + PARTIAL_CLAIM_MARGIN_MS + LATENCY;
    t.ok(
      n.rpo.maxRpoMs !== null && n.rpo.maxRpoMs <= bound,
      `max RPO ${n.rpo.maxRpoMs} ms <= ${bound} ms (2 x partialInterval + claim margin + upload time)`,
    );
    t.ok(
      n.rpo.maxRpoMs! > INTERVAL,
      "and no better than the upload interval allows (the figure is computed, not assumed)",
    );
    t.equal(n.rpo.breachMs, 0, "never above a 1-minute target");
    t.equal(n.partials?.objects, input.partials!.length, "the partial objects are counted");
    t.match(
      renderText(model),
      new RegExp(`partial uploads: ${input.partials!.length} object\\(s\\)`),
      "and the text report says so",
    );

    const without = buildReport({ ...window, nodes: [quietNode({ withClaims: false })] }).nodes[0]!;
    t.ok(
      without.rpo.maxRpoMs! > 5 * H,
      `the same archive without its partial uploads counted: max RPO ${without.rpo.maxRpoMs} ms, the open segment's whole life`,
    );
    t.equal(
      without.rpo.worst[0]?.cause,
      "quiet-segment",
      "a quiet segment, as the report said before partial uploads",
    );
  },
);

t.test("partial uploads that stop: the breach is found and explained", async (t) => {
  const input = quietNode({ withClaims: true });
  // The agent stopped for 20 minutes in the third hour: no claim was uploaded then.
  const stopped = input.partials!.filter(
    (c) => c.uploadedAtMs < T0 + 2 * H || c.uploadedAtMs > T0 + 2 * H + 20 * 60 * S,
  );
  const n = buildReport({ ...window, nodes: [{ ...input, partials: stopped }] }).nodes[0]!;
  t.equal(n.rpo.breachWindows, 1, "one breach window");
  t.ok(
    n.rpo.worst[0]!.peakRpoMs! >= 20 * 60 * S,
    `peak ${n.rpo.worst[0]!.peakRpoMs} ms: at least the agent's pause`,
  );
  t.equal(n.rpo.worst[0]!.cause, "archive-lag");
  t.match(
    n.rpo.worst[0]!.details,
    /partial uploads of segment 1795000000002 \(not closed yet\) vouched for writes up to/,
  );
});

t.test("an idle node: its heartbeat's record keeps the RPO of the hours it beat", async (t) => {
  const input = quietNode({ withClaims: true });
  // Writes stopped after the second hour; from then on the agent only beat, every 10 s, overwriting
  // one empty object: the archive holds the last beat, and its record says since when.
  const idleFrom = T0 + 2 * H;
  const written = input.partials!.filter((c) => c.uploadedAtMs < idleFrom);
  const lastBeat = T0 + 6 * H - 5 * S;
  const beat: PartialClaim = {
    segmentId: written[0]!.segmentId,
    syncedBeforeMs: lastBeat - LATENCY - PARTIAL_CLAIM_MARGIN_MS,
    uploadedAtMs: lastBeat,
    bytes: 0,
    source: "agent",
    beat: { sinceMs: idleFrom + LATENCY, maxGapMs: INTERVAL + 400, maxLagMs: PARTIAL_CLAIM_MARGIN_MS + 700 },
  };
  const withBeat = buildReport({ ...window, nodes: [{ ...input, partials: [...written, beat] }] }).nodes[0]!;
  const bound = 2 * INTERVAL + PARTIAL_CLAIM_MARGIN_MS + 700 + 400 + LATENCY;
  t.ok(
    withBeat.rpo.maxRpoMs !== null && withBeat.rpo.maxRpoMs <= bound,
    `max RPO ${withBeat.rpo.maxRpoMs} ms <= ${bound} ms over the idle hours too`,
  );
  t.equal(withBeat.rpo.breachMs, 0, "no breach while the node was idle and beating");
  const { beat: _dropped, ...once } = beat;
  void _dropped;
  const lastOnly = buildReport({ ...window, nodes: [{ ...input, partials: [...written, once] }] }).nodes[0]!;
  t.ok(
    lastOnly.rpo.maxRpoMs! > 3 * H,
    `without the record only the last beat counts: max RPO ${lastOnly.rpo.maxRpoMs} ms`,
  );
});

t.test("exposure, when the report runs on the node, in every format", async (t) => {
  const exposure = [
    {
      name: "CommitLog-8-1795000000002.log",
      bytes: 4096,
      sinceMs: T0 + 6 * H - 12 * S,
      untilMs: T0 + 6 * H - S,
    },
    { name: "CommitLog-8-1795000000003.log", bytes: 1_048_576, sinceMs: undefined, untilMs: T0 + 6 * H },
  ];
  const model = buildReport({ ...window, nodes: [{ ...quietNode({ withClaims: true }), exposure }] });
  const e = model.nodes[0]!.exposure!;
  t.same(
    [e.bytes, e.fromAt, e.toAt],
    [4096 + 1_048_576, null, T0 + 6 * H],
    "bytes summed; a segment with nothing archived before it exposes writes of any time",
  );
  t.match(
    renderText(model),
    /on this node's disk, not in the archive: 1\.0 MiB in 2 segment\(s\), writes of any time \.\. 2026-11-27T06:00:00\.000Z/,
  );
  t.match(
    renderText(model),
    /CommitLog-8-1795000000002\.log: 4\.0 KiB, writes 2026-11-27T05:59:48\.000Z \.\. 2026-11-27T05:59:59\.000Z/,
  );
  t.match(renderMarkdown(model), /- On this node's disk, not in the archive: 1\.0 MiB in 2 segment\(s\)/);
  t.match(renderMarkdown(model), /`CommitLog-8-1795000000003\.log`: 1\.0 MiB, writes of any time/);
  const html = renderHtml(model);
  t.match(html, /data-figure="exposure"/);
  t.match(
    html,
    /<table class="exposure">.*CommitLog-8-1795000000002\.log.*4\.0 KiB.*2026-11-27T05:59:48\.000Z/,
  );
  const doc = JSON.parse(renderJson(model)) as {
    nodes: {
      exposure: { bytes: number; segments: { name: string; from_at: string | null; to_at: string }[] };
      partials: { newest_claim_at: string };
    }[];
  };
  t.equal(doc.nodes[0]!.exposure.bytes, 1_052_672, "JSON: exposure bytes");
  t.same(
    doc.nodes[0]!.exposure.segments.map((s) => [s.name, s.from_at]),
    [
      ["CommitLog-8-1795000000002.log", "2026-11-27T05:59:48.000Z"],
      ["CommitLog-8-1795000000003.log", null],
    ],
    "JSON: per segment, ISO times",
  );
  t.match(doc.nodes[0]!.partials.newest_claim_at, /^2026-11-27T05:59:\d\d\.000Z$/, "JSON: the newest claim");

  const nothing = buildReport({ ...window, nodes: [{ ...quietNode({ withClaims: true }), exposure: [] }] });
  t.match(
    renderText(nothing),
    /on this node's disk, not in the archive: nothing/,
    "run on the node with nothing exposed: says so",
  );
  const elsewhere = buildReport({ ...window, nodes: [quietNode({ withClaims: true })] });
  t.notMatch(
    renderText(elsewhere),
    /on this node's disk/,
    "run elsewhere: no claim about a disk it did not read",
  );
  t.equal(
    (JSON.parse(renderJson(elsewhere)) as { nodes: Record<string, unknown>[] }).nodes[0]!["exposure"],
    undefined,
  );
});

t.test("report run on the node: the CLI reads its commit log directory for the exposure", async (t) => {
  await buildArchive(await openBackend("mem://report-exposure"), 2);
  const dir = await mkdtemp(join(tmpdir(), "pitr-report-exposure-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [seg] = await segmentFixtures("v7");
  await copyFile(seg!.path, join(dir, seg!.name));
  const synced = classifySegment(seg!.name, await readFile(seg!.path)).lastValidOffset;
  let out = "";
  const wo = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    const args = [
      "report",
      "--format",
      "json",
      "--since",
      new Date(A0 + DAY).toISOString(),
      "--until",
      new Date(A0 + 2 * DAY).toISOString(),
    ];
    await main(args, {
      CASSANDRA_PITR_ARCHIVE: "mem://report-exposure",
      CASSANDRA_PITR_CLUSTER: "prod",
      CASSANDRA_PITR_NODE: "host-p",
      CASSANDRA_PITR_COMMITLOG_DIR: dir,
    });
  } finally {
    process.stdout.write = wo;
  }
  const doc = JSON.parse(out) as {
    nodes: { node: string; exposure?: { bytes: number; segments: { name: string }[] } }[];
  };
  const node = doc.nodes.find((n) => n.node === "host-p")!;
  t.same(
    node.exposure?.segments.map((s) => s.name),
    [seg!.name],
    "the segment on disk that the archive lacks",
  );
  t.equal(node.exposure?.bytes, synced, "with its synced bytes");
});
