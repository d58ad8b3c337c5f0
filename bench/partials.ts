/**
 * Partial segments (issue 14 item 6): what the agent uploads per hour on a quiet node and on a busy
 * one, against the bytes of the segments themselves, and the agent's CPU and memory while it does.
 *
 * No Cassandra node: a synthetic writer (this process) appends sync sections to a 32 MiB
 * memory-mapped-style segment file the way Cassandra's periodic sync does (entries first, then the
 * section's sync marker, every `syncMs`), switching to a new segment when one is full and deleting
 * segments two behind (as Cassandra does once they are archived and flushed). The entries are real:
 * every entry of the v7 and v8 segments in fixtures/commitlog/5.0.9 (mutations written by Cassandra
 * 5.0.9, 300-byte values), reused in turn, so the framing and CRCs are Cassandra's and the bytes
 * compress as real commit log does. The agent is the real one (`node dist/bin/cli.js agent`),
 * uploading to a file:// archive on the same disk.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, open, readdir, readFile, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { compress } from "zstd-napi";
import { classifySegment } from "../src/commitlog/classify.js";
import { serializeSegmentHeader } from "../src/commitlog/segment-header.js";
import { syncMarkerChecksum } from "../src/commitlog/sync-marker.js";
import { fmt, MiB } from "./measure.js";
import { cmd, type Table } from "./report.js";
import { listSegments } from "./segments.js";

const SEGMENT_BYTES = 32 * MiB;

/** Every entry (size, CRC, mutation, CRC) of the real fixture segments, in order. */
async function realEntries(repo: string): Promise<Buffer[]> {
  const entries: Buffer[] = [];
  for (const v of ["v7", "v8"]) {
    for (const path of await listSegments(join(repo, "fixtures/commitlog/5.0.9", v))) {
      const bytes = await readFile(path);
      const name = path.slice(path.lastIndexOf("/") + 1);
      const end = classifySegment(name, bytes).lastValidOffset;
      let p = parseHeaderLength(bytes);
      while (p + 8 <= end) {
        const next = bytes.readInt32BE(p);
        for (let q = p + 8; q + 12 <= next;) {
          const size = bytes.readInt32BE(q);
          if (size <= 0 || q + 12 + size > next) break;
          entries.push(bytes.subarray(q, q + 12 + size));
          q += 12 + size;
        }
        p = next;
      }
    }
  }
  if (entries.length === 0) throw new Error("no entries found in fixtures/commitlog/5.0.9");
  return entries;
}

function parseHeaderLength(bytes: Buffer): number {
  return 4 + 8 + 2 + bytes.readUInt16BE(12) + 4; // version, id, parameters length + parameters, CRC
}

/** A segment being written: entries are appended at `position`, a sync frames them with a marker. */
interface OpenSegment {
  readonly id: bigint;
  readonly file: FileHandle;
  /** Where the current (unsynced) section's marker goes. */
  markerAt: number;
  position: number;
}

/** The synthetic Cassandra: a write rate in entries per second, a sync every `syncMs`. */
class SyntheticWriter {
  private segment: OpenSegment | undefined;
  private nextId: bigint;
  private entry = 0;
  private owed = 0;
  /** Synced section bytes written (markers and entries), and zstd -1 bytes of the segments closed. */
  syncedBytes = 0;
  headerBytes = 0;
  closedSegments = 0;
  closedRaw = 0;
  closedZstd = 0;

  constructor(
    private readonly dir: string,
    private readonly entries: readonly Buffer[],
    private writesPerSecond: number,
    firstId: bigint,
  ) {
    this.nextId = firstId;
  }

  private async openSegment(): Promise<OpenSegment> {
    const id = this.nextId++;
    const file = await open(join(this.dir, `CommitLog-7-${id}.log`), "w+");
    await file.truncate(SEGMENT_BYTES); // memory-mapped segments are their full size from the start
    const header = serializeSegmentHeader(7, id);
    await file.write(header, 0, header.length, 0);
    this.headerBytes += header.length; // the first partial object of a segment carries its header
    return { id, file, markerAt: header.length, position: header.length + 8 };
  }

  /** One sync period: the writes of `ms` milliseconds appended, then framed by their marker. */
  async sync(ms: number): Promise<void> {
    this.segment ??= await this.openSegment();
    this.owed += (this.writesPerSecond * ms) / 1000;
    const chunks: Buffer[] = [];
    let pending = 0;
    while (this.owed >= 1) {
      const e = this.entries[this.entry++ % this.entries.length]!;
      this.owed--;
      if (this.segment.position + pending + e.length + 8 >= SEGMENT_BYTES) {
        await this.frame(chunks.splice(0));
        pending = 0;
        await this.close();
        this.segment = await this.openSegment();
      }
      chunks.push(e);
      pending += e.length;
    }
    if (chunks.length > 0) await this.frame(chunks);
  }

  /** Entries first, the marker last: what a reader sees mid-way is an unframed section, never a wrong one. */
  private async frame(chunks: Buffer[]): Promise<void> {
    const s = this.segment!;
    const body = Buffer.concat(chunks);
    await s.file.write(body, 0, body.length, s.position);
    const next = s.position + body.length;
    const marker = Buffer.alloc(8);
    marker.writeInt32BE(next, 0);
    marker.writeUInt32BE(syncMarkerChecksum(s.id, s.markerAt), 4);
    await s.file.write(marker, 0, 8, s.markerAt);
    this.syncedBytes += body.length + 8;
    s.markerAt = next;
    s.position = next + 8;
  }

  /** A full segment: closed, counted with what the archive hook would upload for it, and old ones removed. */
  private async close(): Promise<void> {
    const s = this.segment!;
    await s.file.close();
    const path = join(this.dir, `CommitLog-7-${s.id}.log`);
    const bytes = await readFile(path);
    this.closedSegments++;
    this.closedRaw += bytes.length;
    this.closedZstd += compress(bytes, { compressionLevel: 1 }).length;
    // Cassandra deletes a segment once it is archived and its data flushed; keep the last two.
    const old = join(this.dir, `CommitLog-7-${s.id - 1n}.log`);
    await rm(old, { force: true });
  }

  /** No more writes: syncs from now on find nothing to frame. */
  stop(): void {
    this.writesPerSecond = 0;
  }

  async finish(): Promise<void> {
    await this.segment?.file.close();
  }

  /** zstd -1 size of what the open segment holds so far, for the quiet node's estimate. */
  async openSegmentZstdRatio(): Promise<number | undefined> {
    if (!this.segment) return undefined;
    const bytes = (await readFile(join(this.dir, `CommitLog-7-${this.segment.id}.log`))).subarray(
      0,
      this.segment.markerAt,
    );
    return bytes.length / compress(bytes, { compressionLevel: 1 }).length;
  }
}

/** CPU seconds (user + system) and memory of a running process, from /proc. */
async function procFigures(pid: number): Promise<{ cpuS: number; rssMiB: number; hwmMiB: number }> {
  const statLine = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { cpuS: ticks / 100, rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
}

async function partialObjects(dir: string): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  for (const e of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    if (!String(e).endsWith(".part")) continue;
    objects++;
    bytes += (await stat(join(dir, String(e)))).size;
  }
  return { objects, bytes };
}

/** Partial objects the agent put, from its event log (one line per put). */
async function partialPuts(events: string): Promise<number> {
  const text = await readFile(events, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l.includes('"event":"partial-agent"')).length;
}

export interface PartialScenario {
  readonly name: string;
  readonly writesPerSecond: number;
  /** Writes during the warm-up only, then none: the agent's heartbeats are all it uploads. */
  readonly idle?: boolean;
}

interface ScenarioResult {
  readonly scenario: PartialScenario;
  readonly seconds: number;
  readonly syncedBytes: number;
  readonly objects: number;
  /** Partial puts (the agent's event log): an idle node's heartbeats overwrite one object. */
  readonly puts: number;
  readonly uploadedBytes: number;
  readonly hookBytesPerHour: number;
  readonly hookNote: string;
  readonly cpuS: number;
  readonly cpuSeconds: number;
  readonly rssMiB: number;
  readonly hwmMiB: number;
  readonly agentCommand: string;
}

async function runScenario(
  repo: string,
  work: string,
  scenario: PartialScenario,
  o: { seconds: number; syncMs: number; intervalS: number; log: (l: string) => void },
): Promise<ScenarioResult> {
  const root = join(work, `partials-${scenario.name}`);
  const commitlog = join(root, "commitlog");
  const archive = join(root, "archive");
  await rm(root, { recursive: true, force: true });
  for (const d of [commitlog, archive, join(root, "spool")]) await mkdir(d, { recursive: true });
  await writeFile(join(root, "config.yaml"), "cluster: bench\n");
  // The agent reads the node's cassandra.yaml for commitlog_disk_access_mode: unset means the
  // segments are memory-mapped (Cassandra's default), so its looks may prove an idle node idle.
  await mkdir(join(root, "conf"));
  await writeFile(
    join(root, "conf", "cassandra.yaml"),
    "commitlog_sync: periodic\ncommitlog_sync_period: 10000ms\n",
  );
  const events = join(root, "events.log");
  const writer = new SyntheticWriter(
    commitlog,
    await realEntries(repo),
    scenario.writesPerSecond,
    BigInt(Date.now()),
  );
  await writer.sync(0);
  const args = [
    "dist/bin/cli.js",
    "agent",
    `--partial-interval=${o.intervalS}s`,
    `--agent-interval=${o.intervalS}s`,
  ];
  const env = {
    ...process.env,
    CASSANDRA_PITR_CONFIG: join(root, "config.yaml"),
    CASSANDRA_PITR_ARCHIVE: `file://${archive}`,
    CASSANDRA_PITR_CLUSTER: "bench",
    CASSANDRA_PITR_NODE: "00000000-0000-0000-0000-00000000be7c",
    CASSANDRA_PITR_COMMITLOG_DIR: commitlog,
    CASSANDRA_PITR_SPOOL_DIR: join(root, "spool"),
    CASSANDRA_PITR_CASSANDRA_CONF: join(root, "conf"),
    CASSANDRA_PITR_LOG_FILE: events,
  };
  const agent: ChildProcess = spawn(process.execPath, args, {
    cwd: repo,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  agent.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  try {
    // Warm-up: the agent's start-up and its first pass are not what an hour of running costs.
    const warmupMs = o.intervalS * 1000 + 2000;
    for (let t = 0; t < warmupMs; t += o.syncMs) {
      await sleep(o.syncMs);
      await writer.sync(o.syncMs);
    }
    // Both ends of the span are taken with the archive caught up with the file (the writer pauses
    // until the agent has uploaded every synced byte), so the bytes uploaded in the span are exactly
    // those the agent uploaded for the sections synced in it.
    await caughtUp(archive, writer, o.intervalS);
    const start = await procFigures(agent.pid!);
    const startSynced = writer.syncedBytes + writer.headerBytes;
    const startObjects = await partialObjects(archive);
    const startPuts = await partialPuts(events);
    if (scenario.idle) writer.stop();
    const startClosed = { raw: writer.closedRaw, zstd: writer.closedZstd, n: writer.closedSegments };
    const began = Date.now();
    let rssSum = 0;
    let samples = 0;
    while (Date.now() - began < o.seconds * 1000) {
      await sleep(o.syncMs);
      await writer.sync(o.syncMs);
      rssSum += (await procFigures(agent.pid!)).rssMiB;
      samples++;
    }
    const seconds = (Date.now() - began) / 1000;
    await caughtUp(archive, writer, o.intervalS);
    const end = await procFigures(agent.pid!);
    const wallSeconds = (Date.now() - began) / 1000;
    const objects = await partialObjects(archive);
    const puts = (await partialPuts(events)) - startPuts;
    const closed = writer.closedSegments - startClosed.n;
    const ratio =
      closed > 0
        ? (writer.closedRaw - startClosed.raw) / (writer.closedZstd - startClosed.zstd)
        : await writer.openSegmentZstdRatio();
    const syncedBytes = writer.syncedBytes + writer.headerBytes - startSynced;
    const hookNote = scenario.idle
      ? "no write during the span: the agent's looks found nothing waiting, and each pass overwrote the segment's heartbeat object with a newer claim (0 bytes, one PUT)"
      : closed > 0
        ? `${closed} segment(s) of 32 MiB closed during the run; the hook's bytes are their zstd -1 size`
        : `no segment filled during the run (one fills every ${fmt(SEGMENT_BYTES / (syncedBytes / seconds) / 3600, 1)} h at this rate); the hook's bytes are the synced bytes at the zstd -1 ratio of the open segment (${fmt(ratio ?? NaN, 2)}), uploaded once the segment fills`;
    o.log(
      `partials ${scenario.name}: ${puts} puts, ${objects.objects - startObjects.objects} new objects, ${objects.bytes - startObjects.bytes} bytes in ${fmt(seconds, 0)} s`,
    );
    return {
      scenario,
      seconds,
      syncedBytes,
      objects: objects.objects - startObjects.objects,
      puts,
      uploadedBytes: objects.bytes - startObjects.bytes,
      hookBytesPerHour: scenario.idle
        ? 0
        : (closed > 0 ? writer.closedZstd - startClosed.zstd : syncedBytes / (ratio ?? NaN)) *
          (3600 / seconds),
      hookNote,
      cpuS: end.cpuS - start.cpuS,
      cpuSeconds: wallSeconds,
      rssMiB: samples > 0 ? rssSum / samples : end.rssMiB,
      hwmMiB: end.hwmMiB,
      agentCommand: `node ${args.join(" ")}`,
    };
  } finally {
    agent.kill("SIGTERM");
    await new Promise((r) => agent.once("close", r));
    await writer.finish();
    if (stderr.trim()) o.log(`agent stderr: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    await rm(root, { recursive: true, force: true });
  }
}

/** Waits (the writer paused) until the archive's partial bytes stop growing for one pass: the agent has caught up. */
async function caughtUp(archive: string, writer: SyntheticWriter, intervalS: number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 30; i++) {
    await sleep(intervalS * 1000 + 1000);
    const now = (await partialObjects(archive)).bytes;
    if (now === last) return;
    last = now;
  }
  throw new Error(`the agent did not catch up with the writer (${writer.syncedBytes} bytes synced)`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function benchPartials(o: {
  repo: string;
  work: string;
  seconds: number;
  log: (line: string) => void;
}): Promise<Table> {
  const syncMs = 10_000; // commitlog_sync: periodic, commitlog_sync_period 10000ms (Cassandra's default)
  const intervalS = 10; // partialInterval's default
  const scenarios: PartialScenario[] = [
    { name: "idle", writesPerSecond: 2, idle: true },
    { name: "quiet", writesPerSecond: 2 },
    { name: "busy", writesPerSecond: 2000 },
  ];
  const results: ScenarioResult[] = [];
  for (const s of scenarios)
    results.push(await runScenario(o.repo, o.work, s, { seconds: o.seconds, syncMs, intervalS, log: o.log }));
  const perHour = (r: ScenarioResult, v: number) => (v * 3600) / r.seconds;
  const mib = (b: number) => fmt(b / MiB, 2);
  return {
    title: "Partial segments: bytes uploaded per hour and the agent's cost (bench/partials.ts)",
    intro: [
      "Measured by `npm run bench -- --partials-only` (this subsection only) or the full `npm run bench`. No Cassandra node: a synthetic writer appends sync sections to a 32 MiB " +
        "memory-mapped-style segment file as Cassandra's periodic sync does (entries, then the section's marker, every 10 s, the default commitlog_sync_period), switching segments when one is full; " +
        "the entries are the real ones of fixtures/commitlog/5.0.9/{v7,v8} (mutations written by Cassandra 5.0.9, about 350 to 400 bytes each), reused in turn. The agent is the real one, " +
        `${cmd(results[0]!.agentCommand)} (partialInterval 10 s, the default), uploading to a file:// archive on the same disk. ` +
        `Each scenario writes for ${o.seconds} s after a warm-up of one interval (start-up and the first pass not counted); at both ends of that span the writer pauses until the agent has uploaded every synced byte, ` +
        "so the bytes counted are exactly what the agent uploaded for the sections synced in the span; per-hour figures are those times 3600 / the writing seconds. " +
        "CPU is the agent's user + system time from /proc/<pid>/stat over the span and the final catch-up (CPU s/h scaled to the writing seconds, % of one core over the wall time); RSS is sampled every sync (mean) and VmHWM is the peak of the whole run.",
    ],
    header: [
      "node",
      "writes/s",
      "commit log synced MiB/h",
      "partial PUTs/h",
      "partial MiB/h",
      "partial / synced",
      "hook MiB/h (zstd -1 segments)",
      "partial / hook",
      "agent CPU s/h",
      "agent CPU % of one core",
      "agent RSS MiB (mean / peak)",
    ],
    rows: results.map((r) => [
      r.scenario.name,
      r.scenario.idle ? "0" : String(r.scenario.writesPerSecond),
      mib(perHour(r, r.syncedBytes)),
      fmt(perHour(r, r.puts), 0),
      mib(perHour(r, r.uploadedBytes)),
      r.syncedBytes > 0 ? fmt(r.uploadedBytes / r.syncedBytes, 3) : "—",
      mib(r.hookBytesPerHour),
      r.hookBytesPerHour > 0 ? fmt(perHour(r, r.uploadedBytes) / r.hookBytesPerHour, 2) : "—",
      fmt(perHour(r, r.cpuS), 1),
      fmt((100 * r.cpuS) / r.cpuSeconds, 2),
      `${fmt(r.rssMiB, 1)} / ${fmt(r.hwmMiB, 1)}`,
    ]),
    notes: [
      ...results.map((r) => `- ${r.scenario.name}: ${r.hookNote}.`),
      "Partial objects hold the segment's bytes as they are on disk (not compressed: a restore assembles them byte for byte), and each byte is uploaded once (no prefix is re-uploaded), " +
        "so partial bytes per hour follow the synced bytes, not the segment size. When the segment is archived whole, its partials are superseded and `prune` removes them: " +
        "the lasting storage is the hook's; the partial uploads are extra transfer (the partial / hook column) and, until pruned, extra storage.",
    ],
  };
}
