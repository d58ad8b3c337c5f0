/**
 * The archive hook under a real Cassandra node, for one backend: `cassandra-pitr init` discovers the
 * node, Cassandra itself runs the compiled hook for every closed segment, and the archive is then
 * checked object by object: every segment present, consecutive ids, original bytes (sha256), and
 * after SIGKILL + restart the segments Cassandra archives again are recognised as duplicates.
 */
import type { Test } from "tap";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { decompress } from "zstd-napi";
import { nodePrefix, parseSegmentKey, type NodeIdentity } from "../../src/format/layout.js";
import { recordFromMetadata, type SegmentRecord } from "../../src/format/segment-record.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { CassandraNode, nowMicros, waitFor, type NodeOptions } from "../helpers/cassandra.js";
import { ARCHIVE_HOOK, CLI, runNode } from "../helpers/hooks.js";

export interface ArchivedSegment {
  readonly key: string;
  readonly record: SegmentRecord;
  readonly segmentId: bigint;
}

export async function listArchived(backend: Backend, identity: NodeIdentity): Promise<ArchivedSegment[]> {
  const out: ArchivedSegment[] = [];
  for await (const info of backend.list(`${nodePrefix(identity)}segments/`)) {
    const parts = parseSegmentKey(info.key);
    if (!parts) continue;
    const record = recordFromMetadata((await backend.head(info.key)).metadata);
    if (record) out.push({ key: info.key, record, segmentId: parts.segmentId });
  }
  return out.sort((a, b) => (a.segmentId < b.segmentId ? -1 : a.segmentId > b.segmentId ? 1 : 0));
}

export async function readEvents(logFile: string): Promise<{ event: string; name?: string }[]> {
  const text = await readFile(logFile, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { event: string; name?: string });
}

/** Starts a node, runs `init` against it, and restarts it with our hook as archive_command. */
export async function nodeWithHook(
  t: Test,
  name: string,
  archiveUrl: string,
  env: Record<string, string>,
  extraConfig: Record<string, string> = {},
  nodeOptions: NodeOptions = {},
): Promise<{ node: CassandraNode; identity: NodeIdentity; configFile: string; logFile: string }> {
  const node = await CassandraNode.create(name, nodeOptions);
  t.teardown(() => node.destroy());
  node.env = env;
  await node.start();
  const configFile = join(node.dir, "cassandra-pitr.yaml");
  const logFile = join(node.dir, "logs/cassandra-pitr.log");
  const init = await runNode(
    CLI,
    [
      "init",
      // --config names the file init writes (it does not exist yet); --nodetool is kept in it.
      `--config=${configFile}`,
      `--nodetool=${node.nodetoolCommand}`,
      `--archive=${archiveUrl}`,
      `--commitlog-dir=${node.commitlogDir}`,
      `--data-dir=${node.dataDir}`,
      `--log-file=${logFile}`,
    ],
    { ...process.env, ...env },
  );
  t.equal(init.exitCode, 0, "cassandra-pitr init against the running node: exit 0");
  t.match(
    init.stdout,
    /archive_command=\S+archive-hook\.js --config=\S+ %path %name/,
    "init prints the archive_command line",
  );
  const hostId = await node.hostId();
  const written = await readFile(configFile, "utf8");
  t.match(written, new RegExp(`node: ${hostId}`), "init wrote the node's host id");
  t.ok(
    written.includes(`nodetool: ${JSON.stringify(node.nodetoolCommand)}`),
    "and the nodetool command, so later commands need no --nodetool",
  );
  const { stat } = await import("node:fs/promises");
  t.equal(
    (await stat(configFile)).mode & 0o777,
    0o600,
    "init wrote the config file 0600 (it can hold credentials)",
  );
  const extra = Object.entries(extraConfig)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
  if (extra) await import("node:fs/promises").then((fs) => fs.appendFile(configFile, extra + "\n"));
  await node.stop();
  await node.reconfigure({
    ...nodeOptions,
    archiveCommand: `${ARCHIVE_HOOK} --config=${configFile} %path %name`,
  });
  await node.start();
  return { node, identity: { cluster: "pitr-test", node: hostId }, configFile, logFile };
}

/** Writes ~2 KB rows until `count` segments of this node are in the archive. */
export async function writeUntilArchived(
  node: CassandraNode,
  backend: Backend,
  identity: NodeIdentity,
  count: number,
  table = "t",
): Promise<void> {
  await node.createTable("arch", table);
  const filler = "y".repeat(2000);
  let id = 0;
  await waitFor(
    `${count} archived segments`,
    async () => {
      const batch = [];
      for (let i = 0; i < 100; i++, id++) batch.push(node.writeRow("arch", table, id, filler, nowMicros()));
      await Promise.all(batch);
      return (await listArchived(backend, identity)).length >= count;
    },
    240_000,
  );
}

export async function checkArchive(
  t: Test,
  backend: Backend,
  archived: ArchivedSegment[],
  label: string,
): Promise<void> {
  for (const a of archived) {
    const body = await buffer(await backend.get(a.key));
    const original = decompress(body);
    t.equal(
      createHash("sha256").update(original).digest("hex"),
      a.record.sha256,
      `${label}: ${a.record.name} has the recorded sha256`,
    );
    t.equal(original.length, a.record.size, `${label}: ${a.record.name} has the recorded size`);
    t.equal(
      original.readBigInt64BE(4),
      a.segmentId,
      `${label}: ${a.record.name} header id equals the key's id`,
    );
  }
}

/**
 * Ids of one JVM run are consecutive; a new run starts near the wall clock in ms, far above the
 * last id. Returns the ids missing inside runs (a jump of more than 1000 is a run boundary here).
 */
export function missingIds(ids: bigint[]): bigint[] {
  const sorted = [...new Set(ids)].sort((a, b) => (a < b ? -1 : 1));
  const missing: bigint[] = [];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]! - sorted[i - 1]! > 1000n) continue;
    for (let x = sorted[i - 1]! + 1n; x < sorted[i]!; x++) missing.push(x);
  }
  return missing;
}

export async function archiveScenario(
  t: Test,
  label: string,
  archiveUrl: string,
  env: Record<string, string>,
): Promise<void> {
  const { node, identity, logFile } = await nodeWithHook(t, `archive-${label}`, archiveUrl, env);
  const backend = await openBackend(archiveUrl, { env: { ...process.env, ...env } });
  t.teardown(() => backend.close());

  await writeUntilArchived(node, backend, identity, 10);
  const before = await listArchived(backend, identity);
  t.ok(
    before.length >= 10,
    `${label}: Cassandra ran the hook for at least ten closed segments (${before.length})`,
  );
  t.same(missingIds(before.map((a) => a.segmentId)), [], `${label}: no gap in the segment ids`);
  t.ok(
    before.every((a) => a.record.hostId === identity.node && a.record.archivedBy === "hook"),
    `${label}: every object records the host id and the hook`,
  );
  await checkArchive(t, backend, before, label);

  // SIGKILL: the active segment (and closed segments still holding unflushed data) stay on disk;
  // Cassandra archives each of them again at the next start.
  await node.kill();
  const leftBehind = await node.segmentsOnDisk();
  await node.start();
  const events = await readEvents(logFile);
  const startup = events.filter((e) => e.name !== undefined && leftBehind.includes(e.name));
  t.ok(
    startup.length >= leftBehind.length,
    `${label}: every segment left by the crash went through the hook at startup`,
  );
  const dupes = startup.filter((e) => e.event === "already-archived");
  t.ok(
    dupes.length >= 1,
    `${label}: segments archived before the crash are recognised as duplicates (${dupes.length})`,
  );
  t.notOk(
    events.some((e) => e.event === "conflict-kept" || e.event === "failed"),
    `${label}: no conflicts, no failures`,
  );
  const after = await listArchived(backend, identity);
  for (const name of leftBehind) {
    const id = BigInt(/-(\d+)\.log$/.exec(name)![1]!);
    t.ok(
      after.some((a) => a.segmentId === id),
      `${label}: ${name} (left by the crash) is in the archive`,
    );
  }
  t.equal(new Set(after.map((a) => a.key)).size, after.length, `${label}: no key stored twice`);
  await node.stop();
}
