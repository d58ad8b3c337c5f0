/**
 * A node directory and a file:// archive holding the real pitr fixture: its segments archived
 * through the hook with their recorded close times, and its snapshot uploaded.
 */
import { cp, mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { FIXTURES } from "./fixtures.js";
import { ARCHIVE_HOOK, CLI, cleanEnv, runNode, tempDir } from "./hooks.js";

export const PITR = join(FIXTURES, "pitr/5.0.9");

/**
 * `shiftToNow`: move the fixture's history (segment close times, the snapshot's created_at) so it
 * ends an hour ago, for checks that look at a recent window (the row timestamps are not moved).
 */
export async function pitrArchive(options: { shiftToNow?: boolean } = {}) {
  const root = await tempDir("executor");
  const node = join(root, "node");
  const archive = join(root, "archive");
  for (const d of ["archive", "node/data", "node/commitlog", "node/conf", "node/incoming"])
    await mkdir(join(root, d), { recursive: true });
  const rows = JSON.parse(await readFile(join(PITR, "rows.json"), "utf8")) as {
    hostId: string;
    tableDir: string;
    rows: [number, string][];
  };
  const configFile = join(node, "conf/cassandra-pitr.yaml");
  await writeFile(
    configFile,
    [
      `archive: file://${archive}`,
      "cluster: executor-test",
      `node: ${rows.hostId}`,
      "cassandraVersion: 5.0.9",
      `commitlogDir: ${join(node, "commitlog")}`,
      `dataDir: ${join(node, "data")}`,
      `cassandraConf: ${join(node, "conf")}`,
    ].join("\n") + "\n",
  );
  await writeFile(
    join(node, "conf/commitlog_archiving.properties"),
    "archive_command=/usr/bin/cassandra-pitr-archive %path %name\n",
  );
  await writeFile(join(node, "conf/jvm-server.options"), "-Xss256k\n");
  // A single-node cluster (its only seed is itself), as the single-replica guard reads it.
  await writeFile(
    join(node, "conf/cassandra.yaml"),
    'cluster_name: executor-test\nlisten_address: 127.0.0.1\nseed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    parameters:\n      - seeds: "127.0.0.1"\n',
  );
  const env = cleanEnv({ CASSANDRA_PITR_CONFIG: configFile });
  const manifestPath = join(node, "data/pitr_fixture", rows.tableDir, "snapshots/demo/manifest.json");
  await cp(join(PITR, "data"), join(node, "data"), { recursive: true });
  const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { created_at: string };
  const shift = options.shiftToNow ? Date.now() - 3_600_000 - Date.parse(manifest.created_at) : 0;
  if (shift)
    await writeFile(
      manifestPath,
      JSON.stringify({
        ...manifest,
        created_at: new Date(Date.parse(manifest.created_at) + shift).toISOString(),
      }),
    );
  // Archive the fixture's segments through the hook, with their recorded close times.
  const segDir = join(PITR, "segments");
  for (const name of (await readdir(segDir)).filter((n) => n.endsWith(".log"))) {
    const meta = JSON.parse(await readFile(join(segDir, `${name}.json`), "utf8")) as {
      segment: { closeTime: string };
    };
    const path = join(node, "incoming", name);
    await cp(join(segDir, name), path);
    const closed = new Date(Date.parse(meta.segment.closeTime) + shift);
    await utimes(path, closed, closed);
    const r = await runNode(ARCHIVE_HOOK, [path, name], env);
    if (r.exitCode !== 0) throw new Error(`archive ${name}: ${r.stderr}`);
  }
  // The node's live table: the snapshot tree (as nodetool snapshot left it) plus a "live" sstable.
  const tableDir = join(node, "data/pitr_fixture", rows.tableDir);
  const snap = await runNode(CLI, ["snapshot", "-t", "demo"], env);
  if (snap.exitCode !== 0) throw new Error(`snapshot: ${snap.stderr}`);
  await writeFile(join(tableDir, "nb-7-big-Data.db"), "live data written after the restore point");
  await writeFile(join(node, "commitlog/CommitLog-7-99.log"), "a live segment");
  const at = rows.rows[Math.floor(rows.rows.length * 0.6)]![1];
  return { root, node, archive, env, tableDir, at, configFile };
}

/** Every file under `dir` as `path:size`, sorted: two calls compare to "nothing changed on disk". */
export async function fileTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${relative(dir, p)}:${(await stat(p)).size}`);
    }
  };
  await walk(dir);
  return out.sort();
}
