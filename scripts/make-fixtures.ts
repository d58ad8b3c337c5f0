/**
 * Regenerates fixtures/ from real Cassandra nodes started by scripts/cassandra-node.sh.
 *
 *   npx tsx scripts/make-fixtures.ts          (about twelve minutes with the mutation sets; needs Java 17 and Maven)
 *
 * Every artefact is what a real node wrote; nothing is synthesised. fixtures/README.md says how
 * each one was made; this script is the exact recipe.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rm, writeFile, cp } from "node:fs/promises";
import { join } from "node:path";
import { fixtureValue } from "../test/helpers/fixtures.js";
import {
  CassandraNode,
  REPO,
  nowMicros,
  waitFor,
  type NodeOptions,
  type RowRecord,
} from "../test/helpers/cassandra.js";
import { MUTATION_KEYSPACE, runMutationWorkload } from "./mutation-workload.js";

const OUT = join(REPO, "fixtures");
const CAPTURE_SCRIPT = join(REPO, "test/helpers/capture-archive.sh");
const KS = "pitr_fixture";
const TABLE = "events";
const VERSION = process.env["CASSANDRA_VERSION"] ?? "5.0.9";

interface SegmentRecord {
  name: string;
  sizeBytes: number;
  sha256: string;
  rows: RowRecord[];
}

/** JSON with one line per row pair, so the files stay small and diffable. */
function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/\[\n\s*(\d+),\n\s*("\d+")\n\s*\]/g, "[$1, $2]") + "\n";
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Rows as compact [id, writetime µs as a string] pairs; values follow from the id (fixtureValue). */
function jsonRows(rows: RowRecord[]) {
  return rows.map((r) => [r.id, r.writetime.toString()]);
}

/**
 * Writes rows until `segments` segments have been archived into `capture`. Values are unique
 * 300-byte strings, so each row can later be found in an uncompressed segment by its bytes.
 */
async function writeUntilArchived(node: CassandraNode, capture: string, segments: number, startId: number) {
  const rows: RowRecord[] = [];
  let id = startId;
  const archived = async () => (await readdir(capture)).filter((n) => n.endsWith(".log")).length;
  while ((await archived()) < segments) {
    const base = nowMicros();
    const batch: Promise<RowRecord>[] = [];
    for (let i = 0; i < 50; i++, id++) {
      // Some timestamps less than a millisecond apart (i*137 µs), all distinct.
      const value = fixtureValue("row", id);
      batch.push(node.writeRow(KS, TABLE, id, value, base + BigInt(i * 137)));
    }
    rows.push(...(await Promise.all(batch)));
  }
  return rows;
}

/** Rows whose value bytes occur in the (uncompressed) segment. */
function rowsIn(bytes: Buffer, rows: RowRecord[]): RowRecord[] {
  return rows.filter((r) => bytes.includes(r.value));
}

async function writeSegmentFixtures(
  dirName: string,
  options: NodeOptions,
  segments: number,
  description: string,
  findRows: (bytes: Buffer, rows: RowRecord[]) => RowRecord[],
): Promise<void> {
  const node = await CassandraNode.create(`fixture-${dirName}`, options);
  const capture = join(node.dir, "capture");
  await mkdir(capture);
  await node.reconfigure({ ...options, archiveCommand: `${CAPTURE_SCRIPT} ${capture} %path %name` });
  const out = join(OUT, "commitlog", VERSION, dirName);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  try {
    await node.start();
    await node.createTable(KS, TABLE);
    // Schema changes land in the first segment(s); start counting segments after them.
    const before = (await readdir(capture)).filter((n) => n.endsWith(".log")).length;
    const rows = await writeUntilArchived(node, capture, before + segments + 1, 1);
    const names = (await readdir(capture)).filter((n) => n.endsWith(".log")).sort();
    // Keep `segments` consecutive segments that hold rows (skip the schema-only first ones).
    const picked: string[] = [];
    for (const name of names) {
      const bytes = await readFile(join(capture, name));
      if (findRows(bytes, rows).length > 0 && picked.length < segments) picked.push(name);
    }
    for (const name of picked) {
      const bytes = await readFile(join(capture, name));
      const record: SegmentRecord = {
        name,
        sizeBytes: bytes.length,
        sha256: sha256(bytes),
        rows: findRows(bytes, rows),
      };
      await copyFile(join(capture, name), join(out, name));
      await writeFile(
        join(out, `${name}.json`),
        renderJson({
          description,
          cassandraVersion: VERSION,
          settings: settingsOf(options),
          keyspace: KS,
          table: TABLE,
          segment: { name, sizeBytes: record.sizeBytes, sha256: record.sha256 },
          rowCount: record.rows.length,
          minWritetime: record.rows.length
            ? record.rows
                .map((r) => r.writetime)
                .reduce((a, b) => (a < b ? a : b))
                .toString()
            : null,
          maxWritetime: record.rows.length
            ? record.rows
                .map((r) => r.writetime)
                .reduce((a, b) => (a > b ? a : b))
                .toString()
            : null,
          rows: jsonRows(record.rows),
        }),
      );
    }
    await node.stop();
  } finally {
    await node.destroy();
  }
}

const COMPRESSOR_CLASS = {
  lz4: "LZ4Compressor",
  zstd: "ZstdCompressor",
  deflate: "DeflateCompressor",
  snappy: "SnappyCompressor",
} as const;

function settingsOf(o: NodeOptions) {
  return {
    storage_compatibility_mode: o.compat ?? "CASSANDRA_4",
    commitlog_segment_size: `${o.segmentSizeMiB ?? 1}MiB`,
    commitlog_compression: o.commitlogCompression ? COMPRESSOR_CLASS[o.commitlogCompression] : null,
    commitlog_sync: "periodic",
    commitlog_sync_period: "1000ms",
  };
}

/** Writes rows, waits past one periodic sync, SIGKILLs the node and copies the active segment. */
async function writeTornFixture(): Promise<void> {
  const node = await CassandraNode.create("fixture-torn", {});
  const out = join(OUT, "commitlog", VERSION, "torn");
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  try {
    await node.start();
    await node.createTable(KS, TABLE);
    const rows: RowRecord[] = [];
    const base = nowMicros();
    for (let i = 0; i < 200; i++)
      rows.push(await node.writeRow(KS, TABLE, i + 1, fixtureValue("torn", i + 1), base + BigInt(i * 250)));
    await new Promise((r) => setTimeout(r, 2500)); // commitlog_sync_period is 1000ms
    await node.kill();
    let found = false;
    for (const name of await node.segmentsOnDisk()) {
      const bytes = await readFile(join(node.commitlogDir, name));
      const inside = rowsIn(bytes, rows);
      if (inside.length === 0) continue;
      found = true;
      await writeFile(join(out, name), bytes);
      await writeFile(
        join(out, `${name}.json`),
        renderJson({
          description:
            "the active segment copied right after the node was killed with SIGKILL (no drain): no end-of-segment marker, zero tail",
          cassandraVersion: VERSION,
          settings: settingsOf({}),
          keyspace: KS,
          table: TABLE,
          segment: { name, sizeBytes: bytes.length, sha256: sha256(bytes) },
          rowCount: inside.length,
          rows: jsonRows(inside),
        }),
      );
    }
    if (!found) throw new Error("no segment with the written rows after SIGKILL");
  } finally {
    await node.destroy();
  }
}

/** A snapshot tree exactly as `nodetool snapshot -t TAG` leaves it, and the backups/ directory. */
async function writeSnapshotFixture(): Promise<void> {
  const node = await CassandraNode.create("fixture-snapshot", {});
  const out = join(OUT, "snapshot", VERSION);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  try {
    await node.start();
    await node.createTable(KS, TABLE);
    const base = nowMicros();
    const snapshotRows: RowRecord[] = [];
    for (let i = 1; i <= 20; i++)
      snapshotRows.push(await node.writeRow(KS, TABLE, i, fixtureValue("snap", i), base + BigInt(i * 1000)));
    await node.nodetool("flush", KS, TABLE);
    const moreRows: RowRecord[] = [];
    for (let i = 21; i <= 30; i++)
      moreRows.push(await node.writeRow(KS, TABLE, i, fixtureValue("snap", i), base + BigInt(i * 1000)));
    await node.nodetool("flush", KS, TABLE);
    await node.nodetool("snapshot", "-t", "fixture-tag", KS);
    const tableDir = await node.tableDir(KS, TABLE);
    const tableDirName = tableDir.split("/").pop()!;
    await waitFor("snapshot manifest", async () =>
      (await readdir(join(tableDir, "snapshots/fixture-tag")).catch((): string[] => [])).includes(
        "manifest.json",
      ),
    );
    const dest = join(out, "data", KS, tableDirName);
    await mkdir(dest, { recursive: true });
    await cp(join(tableDir, "snapshots"), join(dest, "snapshots"), { recursive: true });
    await cp(join(tableDir, "backups"), join(dest, "backups"), { recursive: true });
    await writeFile(
      join(out, "rows.json"),
      renderJson({
        description:
          "keyspace pitr_fixture, table events; 20 rows written and flushed (first sstable), 10 more written and flushed (second sstable), then `nodetool snapshot -t fixture-tag pitr_fixture`. backups/ holds the incremental hard links of both flushed sstables.",
        cassandraVersion: VERSION,
        keyspace: KS,
        table: TABLE,
        tableDir: tableDirName,
        hostId: await node.hostId(),
        snapshotTag: "fixture-tag",
        flushes: [jsonRows(snapshotRows), jsonRows(moreRows)],
      }),
    );
    await node.stop();
  } finally {
    await node.destroy();
  }
}

/**
 * One node's whole story for the demo and restore tests: a snapshot, then LZ4-compressed segments
 * closed after it (so the snapshot plus these segments form a restorable chain), and the rows with
 * their client timestamps. Each segment's JSON records its close time (the file's mtime when
 * Cassandra handed it to archive_command).
 */
async function writePitrFixture(): Promise<void> {
  const options: NodeOptions = { commitlogCompression: "lz4" };
  const node = await CassandraNode.create("fixture-pitr", options);
  const capture = join(node.dir, "capture");
  await mkdir(capture);
  await node.reconfigure({ ...options, archiveCommand: `${CAPTURE_SCRIPT} ${capture} %path %name` });
  const out = join(OUT, "pitr", VERSION);
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, "segments"), { recursive: true });
  try {
    await node.start();
    await node.createTable(KS, TABLE);
    const base = nowMicros();
    const before: RowRecord[] = [];
    for (let i = 1; i <= 50; i++)
      before.push(await node.writeRow(KS, TABLE, i, fixtureValue("pitr", i), base + BigInt(i * 997)));
    await node.nodetool("flush", KS, TABLE);
    await node.nodetool("snapshot", "-t", "demo", KS);
    const archivedAtSnapshot = new Set((await readdir(capture)).filter((n) => n.endsWith(".log")));
    const rows = await writeUntilArchived(node, capture, archivedAtSnapshot.size + 3, 1000);
    const hostId = await node.hostId();
    await node.stop();
    const tableDir = await node.tableDir(KS, TABLE);
    const tableDirName = tableDir.split("/").pop()!;
    await cp(join(tableDir, "snapshots"), join(out, "data", KS, tableDirName, "snapshots"), {
      recursive: true,
    });
    const all = [...before, ...rows];
    for (const name of (await readdir(capture))
      .filter((n) => n.endsWith(".log") && !archivedAtSnapshot.has(n))
      .sort()) {
      const path = join(capture, name);
      const bytes = await readFile(path);
      const { mtimeMs } = await import("node:fs/promises").then((fs) => fs.stat(path));
      await copyFile(path, join(out, "segments", name));
      const inside = (await import("./fixture-compressed.js")).rowsInCompressed(bytes, all);
      await writeFile(
        join(out, "segments", `${name}.json`),
        renderJson({
          description:
            "segment closed after the snapshot (LZ4 commitlog_compression), copied by archive_command",
          cassandraVersion: VERSION,
          settings: settingsOf(options),
          segment: {
            name,
            sizeBytes: bytes.length,
            sha256: sha256(bytes),
            closeTime: new Date(Math.floor(mtimeMs)).toISOString(),
          },
          rowCount: inside.length,
          rows: jsonRows(inside),
        }),
      );
    }
    await writeFile(
      join(out, "rows.json"),
      renderJson({
        description:
          "pitr_fixture.events: 50 rows written and flushed, `nodetool snapshot -t demo pitr_fixture`, then rows written until three more segments closed, then drain. Every row with its client timestamp (µs).",
        cassandraVersion: VERSION,
        keyspace: KS,
        table: TABLE,
        tableDir: tableDirName,
        hostId,
        snapshotTag: "demo",
        rows: jsonRows(all),
      }),
    );
  } finally {
    await node.destroy();
  }
}

/**
 * Every segment a node archived while it ran the mutation workload (scripts/mutation-workload.ts),
 * its statement log, and the schema.cql of each table from a snapshot taken at the end.
 */
async function writeMutationFixture(dirName: string, options: NodeOptions): Promise<void> {
  const node = await CassandraNode.create(`fixture-mut-${dirName}`, options);
  const capture = join(node.dir, "capture");
  await mkdir(capture);
  await node.reconfigure({ ...options, archiveCommand: `${CAPTURE_SCRIPT} ${capture} %path %name` });
  const out = join(OUT, "mutations", VERSION, dirName);
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, "schema"), { recursive: true });
  try {
    await node.start();
    const statements = await runMutationWorkload(node);
    await node.nodetool("snapshot", "-t", "mutations", MUTATION_KEYSPACE);
    for (const dir of await readdir(join(node.dataDir, MUTATION_KEYSPACE))) {
      const schema = join(node.dataDir, MUTATION_KEYSPACE, dir, "snapshots/mutations/schema.cql");
      await waitFor(
        `schema.cql of ${dir}`,
        async () => (await readFile(schema).catch(() => undefined)) !== undefined,
      );
      await copyFile(schema, join(out, "schema", `${dir.replace(/-[0-9a-f]{32}$/, "")}.cql`));
    }
    await node.stop(); // drain: the active segment is archived too
    const segments = [];
    for (const name of (await readdir(capture)).filter((n) => n.endsWith(".log")).sort()) {
      const bytes = await readFile(join(capture, name));
      await copyFile(join(capture, name), join(out, name));
      segments.push({ name, sizeBytes: bytes.length, sha256: sha256(bytes) });
    }
    await writeFile(
      join(out, "statements.json"),
      JSON.stringify(
        {
          description:
            "every statement of scripts/mutation-workload.ts with the timestamp (µs) it was written with; counters have the wall-clock window around the update instead",
          cassandraVersion: VERSION,
          settings: settingsOf(options),
          keyspace: MUTATION_KEYSPACE,
          segments,
          statements,
        },
        null,
        1,
      ) + "\n",
    );
  } finally {
    await node.destroy();
  }
}

const which = process.argv.slice(2);
const want = (name: string) => which.length === 0 || which.includes(name);
if (want("v7"))
  await writeSegmentFixtures(
    "v7",
    { compat: "CASSANDRA_4" },
    2,
    "closed uncompressed segments, storage_compatibility_mode CASSANDRA_4 (descriptor version 7)",
    rowsIn,
  );
if (want("v8"))
  await writeSegmentFixtures(
    "v8",
    { compat: "NONE" },
    1,
    "closed uncompressed segment, storage_compatibility_mode NONE",
    rowsIn,
  );
for (const [dir, compressor] of [
  ["lz4", "LZ4Compressor"],
  ["zstd", "ZstdCompressor"],
  ["deflate", "DeflateCompressor"],
  ["snappy", "SnappyCompressor"],
] as const) {
  if (!want(dir)) continue;
  const { rowsInCompressed } = await import("./fixture-compressed.js");
  await writeSegmentFixtures(
    dir,
    { compat: "CASSANDRA_4", commitlogCompression: dir },
    dir === "lz4" ? 2 : 1,
    `closed segments written with commitlog_compression ${compressor}`,
    rowsInCompressed,
  );
}
if (want("torn")) await writeTornFixture();
if (want("snapshot")) await writeSnapshotFixture();
if (want("pitr")) await writePitrFixture();
const MUTATION_SETS: ReadonlyArray<readonly [string, NodeOptions]> = [
  ["v7", { compat: "CASSANDRA_4" }],
  ["v8", { compat: "NONE" }],
  ["lz4", { compat: "CASSANDRA_4", commitlogCompression: "lz4" }],
  ["zstd", { compat: "CASSANDRA_4", commitlogCompression: "zstd" }],
  ["deflate", { compat: "CASSANDRA_4", commitlogCompression: "deflate" }],
  ["snappy", { compat: "CASSANDRA_4", commitlogCompression: "snappy" }],
];
for (const [dir, options] of MUTATION_SETS) {
  if (which.length === 0 || which.includes("mutations") || which.includes(`mutations-${dir}`))
    await writeMutationFixture(dir, options);
}
