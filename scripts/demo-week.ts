/**
 * The demo's compliance report needs a history to report on: a week of a healthy node with one
 * storage outage. Replaying a week takes a week, so this writes the archive that week would have
 * left, with the product's own code: the snapshot is uploaded by uploadSnapshot (the fixture's real
 * snapshot, its creation time moved to the start of the week), every segment object is named by
 * the archive layout and described by the segment record, both stored through the file:// backend.
 *
 *   npx tsx scripts/demo-week.ts <archive dir> <scratch dir> <cluster> <node host id>
 *
 * The week (and the hour before it, when the snapshot was taken): a segment closes every 10 minutes and reaches the archive 15 s later, except on day 4
 * from 02:00 to 04:30, when storage was down: the hook spooled those segments and the agent
 * uploaded them when it came back (04:30). The segment bodies are small placeholders (zstd of a
 * line naming the segment), not commit log data: only `report` and `list` read this archive, and
 * they read keys and store times. A file:// object's modified time is its archive time (what
 * S3's LastModified is), so each object's is set to the moment it would have been stored.
 */
import { createHash } from "node:crypto";
import { cp, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compress } from "zstd-napi";
import { segmentKey, type NodeIdentity } from "../src/format/layout.js";
import { recordToMetadata } from "../src/format/segment-record.js";
import { uploadSnapshot } from "../src/backup/snapshot.js";
import { openBackend } from "../src/storage/open.js";
import type { Backend } from "../src/storage/types.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const EVERY = 10 * MIN;
const LAG = 15_000;

interface WeekSegment {
  readonly id: bigint;
  readonly closeMs: number;
  readonly archiveMs: number;
}

/**
 * The fixture snapshot's sstables end in this segment (their commit log upper bound), so a restore
 * from it replays from there: the week's segments continue the chain from this id.
 */
const SNAPSHOT_START_SEGMENT = 1795251672999n;
const VERSION = 7;

/** The week's segments: one every 10 min, archived 15 s later, or when the outage ended. */
export function weekSegments(
  startMs: number,
  endMs: number,
  outage: { fromMs: number; toMs: number },
): WeekSegment[] {
  const out: WeekSegment[] = [];
  let id = SNAPSHOT_START_SEGMENT;
  for (let close = startMs + EVERY; close <= endMs; close += EVERY, id++) {
    const down = close >= outage.fromMs && close < outage.toMs;
    out.push({ id, closeMs: close, archiveMs: down ? outage.toMs + Number(id % 60n) * 1000 : close + LAG });
  }
  return out;
}

async function uploadWeekStartSnapshot(
  archiveUrl: string,
  scratch: string,
  identity: NodeIdentity,
  atMs: number,
): Promise<void> {
  const dataDir = join(scratch, "data");
  await cp(new URL("../fixtures/pitr/5.0.9/data", import.meta.url), dataDir, { recursive: true });
  // nodetool snapshot -t demo left this tree; its manifest.json says when: the start of the week.
  for (const ks of await readdir(dataDir)) {
    for (const table of await readdir(join(dataDir, ks))) {
      const manifest = join(dataDir, ks, table, "snapshots/demo/manifest.json");
      const doc = JSON.parse(await readFile(manifest, "utf8")) as Record<string, unknown>;
      await writeFile(manifest, JSON.stringify({ ...doc, created_at: new Date(atMs).toISOString() }));
    }
  }
  const backend = await openBackend(archiveUrl);
  try {
    await uploadSnapshot({
      backend,
      identity,
      dataDir,
      tag: "demo",
      tokens: false,
      cassandraVersion: "5.0.9",
      now: () => atMs,
    });
  } finally {
    await backend.close();
  }
}

async function storeSegment(
  backend: Backend,
  archiveDir: string,
  identity: NodeIdentity,
  s: WeekSegment,
): Promise<void> {
  const name = `CommitLog-${VERSION}-${s.id}.log`;
  const original = Buffer.from(`placeholder for ${name} (demo week, not commit log data)\n`);
  const key = segmentKey(identity, { closeTimeMs: s.closeMs, segmentId: s.id, version: VERSION });
  const metadata = recordToMetadata({
    sha256: createHash("sha256").update(original).digest("hex"),
    size: original.length,
    compression: "zstd",
    encryption: "none",
    segmentId: s.id,
    version: VERSION,
    name,
    closeTimeMs: s.closeMs,
    archiveTimeMs: s.archiveMs,
    cluster: identity.cluster,
    hostId: identity.node,
    status: "complete",
    headerParameters: "{}",
    archivedBy: s.archiveMs - s.closeMs > LAG ? "agent" : "hook",
  });
  await backend.put(key, compress(original), { ifAbsent: true, metadata });
  const stored = new Date(s.archiveMs);
  await utimes(join(archiveDir, key), stored, stored);
}

async function main(): Promise<void> {
  const [archiveDir, scratch, cluster, node] = process.argv.slice(2);
  if (!archiveDir || !scratch || !cluster || !node)
    throw new Error("usage: demo-week.ts <archive dir> <scratch dir> <cluster> <node>");
  const identity: NodeIdentity = { cluster, node };
  const archiveUrl = `file://${archiveDir}`;
  // The history runs up to now (the last segment closed less than 10 minutes ago and is archived),
  // so the report, run right after, ends within target as a healthy node's would.
  const endMs = Date.now() - LAG;
  // The archive starts an hour before the reported week: by the week's first instant the
  // snapshot's start segment is archived, so the week opens restorable (as a running node's does).
  const startMs = Math.floor((endMs - 7 * DAY - HOUR) / EVERY) * EVERY;
  const day4 = Math.floor((startMs + 3 * DAY) / DAY) * DAY + DAY; // midnight (UTC) of the 4th day
  const outage = { fromMs: day4 + 2 * HOUR, toMs: day4 + 4 * HOUR + 30 * MIN };
  await uploadWeekStartSnapshot(archiveUrl, scratch, identity, startMs);
  const segments = weekSegments(startMs, endMs, outage);
  const backend = await openBackend(archiveUrl);
  try {
    for (const s of segments) await storeSegment(backend, archiveDir, identity, s);
  } finally {
    await backend.close();
  }
  const late = segments.filter((s) => s.archiveMs - s.closeMs > LAG);
  process.stdout.write(
    `${segments.length} segments closed ${new Date(segments[0]!.closeMs).toISOString()} .. ${new Date(segments.at(-1)!.closeMs).toISOString()}; ` +
      `storage outage ${new Date(outage.fromMs).toISOString()} .. ${new Date(outage.toMs).toISOString()}: ${late.length} segments spooled, uploaded when it ended\n`,
  );
}

await main();
