/**
 * Real 32 MiB (and 128 MiB) commit log segments for the bench, written by a real Cassandra node (the
 * same scripts/cassandra-node.sh the e2e tests use) whose archive_command copies every closed
 * segment into .cache/bench-segments (or bench-segments-128mib; git-ignored). Generated once; later
 * runs reuse them.
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SegmentSet {
  readonly dir: string;
  readonly files: readonly string[];
  readonly sizeBytes: number;
  readonly origin: string;
}

const SEGMENT = /^CommitLog-\d+-\d+\.log$/;

export async function listSegments(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => SEGMENT.test(n))
    .sort()
    .map((n) => join(dir, n));
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/** Same reservation scheme as test/helpers/cassandra.ts, so the bench never collides with a test node. */
async function reservePortBase(repo: string): Promise<number> {
  const ports = join(repo, ".tmp/ports");
  await mkdir(ports, { recursive: true });
  // PITR_TEST_PORT_BASE (as the tests use it) keeps engineers sharing a machine apart.
  const first = Number(process.env["PITR_TEST_PORT_BASE"] ?? 19042);
  for (let base = first; base < first + 200; base += 4) {
    try {
      await mkdir(join(ports, String(base)));
    } catch {
      continue;
    }
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) return base;
    await rm(join(ports, String(base)), { recursive: true, force: true });
  }
  throw new Error("no free port base for the bench Cassandra node");
}

/** Where segments of `sizeMiB` are cached (the 32 MiB folder keeps its historical name). */
export function segmentCacheDir(repo: string, sizeMiB: number): string {
  return join(repo, sizeMiB === 32 ? ".cache/bench-segments" : `.cache/bench-segments-${sizeMiB}mib`);
}

/**
 * Ensures at least `count` full segments of `sizeMiB` in segmentCacheDir. Throws when no Cassandra
 * node can be run here.
 */
export async function ensureSegments(
  repo: string,
  sizeMiB: number,
  count: number,
  log: (line: string) => void,
): Promise<SegmentSet> {
  const dir = segmentCacheDir(repo, sizeMiB);
  const bytes = sizeMiB * 1024 * 1024;
  const full = async () => {
    const out: string[] = [];
    for (const f of await listSegments(dir)) if ((await stat(f)).size === bytes) out.push(f);
    return out;
  };
  let files = await full();
  if (files.length >= count) return { dir, files: files.slice(0, count), sizeBytes: bytes, origin: "cached" };

  await mkdir(dir, { recursive: true });
  const script = join(repo, "scripts/cassandra-node.sh");
  const capture = join(repo, "test/helpers/capture-archive.sh");
  const base = await reservePortBase(repo);
  const nodeDir = join(repo, `.tmp/nodes/bench-segments-${base}-${process.pid}`);
  log(`generating ${count} real ${sizeMiB} MiB segments with Cassandra (port ${base}) into ${dir} ...`);
  const started = Date.now();
  try {
    await rm(nodeDir, { recursive: true, force: true });
    await run(
      "bash",
      [
        script,
        "init",
        nodeDir,
        "--port-base",
        String(base),
        "--segment-size",
        String(sizeMiB),
        "--heap",
        "1G",
        "--archive-command",
        `/bin/sh ${capture} ${dir} %path %name`,
      ],
      { maxBuffer: 1 << 24 },
    );
    await run("bash", [script, "start", nodeDir], { maxBuffer: 1 << 24 });
    const { default: cassandra } = await import("cassandra-driver");
    const client = new cassandra.Client({
      contactPoints: [`127.0.0.1:${base}`],
      localDataCenter: "datacenter1",
      socketOptions: { readTimeout: 60_000 },
    });
    await client.connect();
    await client.execute(
      "CREATE KEYSPACE IF NOT EXISTS bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    await client.execute(
      "CREATE TABLE IF NOT EXISTS bench.events (tenant text, day int, seq bigint, kind text, payload text, amount double, PRIMARY KEY ((tenant, day), seq))",
    );
    const insert =
      "INSERT INTO bench.events (tenant, day, seq, kind, payload, amount) VALUES (?, ?, ?, ?, ?, ?)";
    const kinds = ["login", "logout", "purchase", "refund", "view", "search", "click"];
    const words =
      "the quick brown fox jumps over lazy dog order item customer account status pending shipped delivered".split(
        " ",
      );
    let seq = 0;
    // Rows look like application events: repeated field names and words, random ids and numbers.
    const row = () => {
      seq++;
      const text = Array.from({ length: 40 }, () => words[Math.floor(Math.random() * words.length)]).join(
        " ",
      );
      const payload = JSON.stringify({
        id: Math.random().toString(36).slice(2),
        user: `user-${Math.floor(Math.random() * 100000)}`,
        note: text,
        at: Date.now(),
      });
      return [
        `tenant-${seq % 97}`,
        20261100 + (seq % 30),
        cassandra.types.Long.fromNumber(seq),
        kinds[seq % kinds.length],
        payload,
        Math.random() * 1000,
      ];
    };
    while ((await full()).length < count) {
      await Promise.all(Array.from({ length: 64 }, () => client.execute(insert, row(), { prepare: true })));
      if (Date.now() - started > 15 * 60_000) throw new Error("segment generation took over 15 minutes");
    }
    await client.shutdown();
  } finally {
    await run("bash", [script, "kill", nodeDir]).catch(() => undefined);
    await rm(nodeDir, { recursive: true, force: true });
    await rm(join(repo, ".tmp/ports", String(base)), { recursive: true, force: true });
  }
  files = await full();
  await writeFile(
    join(dir, "ORIGIN.txt"),
    `Cassandra 5.0.9, commitlog_segment_size ${sizeMiB}MiB, no commit log compression, generated ${new Date().toISOString()} by bench/segments.ts\n`,
  );
  log(`generated ${files.length} segments in ${Math.round((Date.now() - started) / 1000)} s`);
  return { dir, files: files.slice(0, count), sizeBytes: bytes, origin: "generated" };
}
