/**
 * Replacement node: a node whose disks were lost, rebuilt from its archive on new hardware at the
 * same address. What Cassandra requires, run on 5.0.9 (4.1.10's StorageService and
 * DatabaseDescriptor, read with javap, take the same path, not run):
 *
 *   - The schema must be on disk before the first start: Cassandra loads it from the local
 *     `system_schema` tables, then replays the commit log, and only then talks to the ring; a
 *     mutation of a table it does not know is skipped. So the base snapshot's `system_schema`
 *     sstables (keyspaces with their replication, tables with their original ids, columns, types)
 *     are placed first, and an empty directory `<table>-<id>` for every table of the snapshot, where
 *     the restore places the table's sstables.
 *   - The node takes over its old place with `-Dcassandra.replace_address_first_boot=<address>`: on
 *     its first start it reads the old node's tokens and host id from the ring (gossip), keeps the
 *     tokens, and, replacing the same address, takes the old host id (StorageService
 *     prepareForReplacement: SystemKeyspace.setLocalHostId), so its archive and the snapshot's
 *     sstables (originating host id) stay its own. Cassandra refuses a replacement that is already
 *     bootstrapped, hence empty disks.
 *   - No streaming: a replacement normally bootstraps from the live replicas, which would bring
 *     their data newer than the restore point. `-Dcassandra.auto_bootstrap=false` with
 *     `-Dcassandra.allow_unsafe_replace=true` (Cassandra's own name for a replacement without
 *     streaming) keeps the node to what the archive gives it; `nodetool repair` afterwards.
 *
 * `prepareReplacement` does the first two and writes the JVM options; `cassandra-pitr restore --at T
 * --replica-lost` then places the sstables and stages the segments as for any restore, and
 * `finishReplacement` removes the options once the node has joined with its old host id.
 *
 * A single-node cluster (`singleNode`) has no ring: the replacement's first start reads the old
 * node's tokens and host id from its peers by gossip, and there are none (Cassandra refuses: "Cannot
 * replace_address ... because it doesn't exist in gossip"); nor is a place needed, since one node
 * owns every token. So the schema is
 * placed without the JVM options, and the node starts as itself: a new host id, new tokens, the
 * schema and the data of the dead node's archive. Its restore covers the snapshot's user tables
 * only (`-Dcassandra.replayList`, as a drill does), so the dead node's system-table mutations
 * (its `system.local`, peers, batchlog) are not replayed into the new node's own.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { listSnapshots } from "../backup/read.js";
import type { SnapshotManifest, SnapshotTable } from "../backup/types.js";
import { PitrError } from "../errors/base.js";
import { SCHEMA_KEYSPACE } from "../format/backup-layout.js";
import type { NodeIdentity } from "../format/layout.js";
import type { Backend } from "../storage/types.js";
import { NodeStateError } from "./executor.js";
import type { RestorePlan } from "./plan.js";

export const REPLACE_STATE_FILE = "cassandra-pitr-replace.json";
const JVM_MARKER = "# cassandra-pitr replace: the next line is removed by 'cassandra-pitr replace finish'";

export interface ReplaceState {
  readonly host_id: string;
  readonly address: string;
  readonly snapshot: string;
  readonly tokens: string[] | null;
  readonly jvm_options_file: string | null;
  readonly jvm_options: string[];
  /** A single-node cluster: no replacement options; the node starts with a new host id. */
  readonly single_node?: boolean | undefined;
}

export interface ReplaceOptions {
  readonly plan: RestorePlan;
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly paths: { readonly dataDir: string; readonly commitlogDir: string; readonly cassandraConf: string };
  readonly address: string;
  readonly isNodeRunning: () => Promise<boolean>;
  /** The dead node was the whole cluster (see the module comment). */
  readonly singleNode?: boolean | undefined;
  /** Every node archived for the cluster (catalog/nodes.ts listNodes). */
  readonly clusterNodes?: (() => Promise<string[]>) | undefined;
  /** cassandra.yaml names no seed but this node: with no other node archived, a single-node cluster. */
  readonly ownSeedOnly?: boolean | undefined;
  readonly dryRun: boolean;
  readonly say: (line: string) => void;
  readonly signal?: AbortSignal | undefined;
}

export function replacementJvmOptions(address: string): string[] {
  return [
    `-Dcassandra.replace_address_first_boot=${address}`,
    "-Dcassandra.auto_bootstrap=false",
    "-Dcassandra.allow_unsafe_replace=true",
  ];
}

/** What a disk that is not empty holds: keyspace directories, commit log segments. */
async function leftovers(paths: ReplaceOptions["paths"]): Promise<string[]> {
  const data = (await readdir(paths.dataDir).catch(() => [] as string[])).map((e) => join(paths.dataDir, e));
  const segments = (await readdir(paths.commitlogDir).catch(() => [] as string[]))
    .filter((e) => e.endsWith(".log"))
    .map((e) => join(paths.commitlogDir, e));
  return [...data, ...segments];
}

async function checkNode(o: ReplaceOptions): Promise<void> {
  if (existsSync(join(o.paths.cassandraConf, REPLACE_STATE_FILE))) {
    throw new NodeStateError(
      `a replacement is already prepared ('${join(o.paths.cassandraConf, REPLACE_STATE_FILE)}')`,
      "run 'cassandra-pitr restore --at T --replica-lost', start the node, then 'cassandra-pitr replace finish'",
    );
  }
  if (await o.isNodeRunning())
    throw new NodeStateError(
      "the node is running; a replacement is prepared before its first start",
      "stop Cassandra and empty its data and commit log directories first",
    );
  const found = await leftovers(o.paths);
  if (found.length > 0) {
    throw new NodeStateError(
      `a replacement starts from empty disks, but ${found
        .slice(0, 3)
        .map((f) => `'${f}'`)
        .join(
          ", ",
        )}${found.length > 3 ? ` and ${found.length - 3} more` : ""} exist (Cassandra refuses to replace with a node that has started before)`,
      "move the data and commit log directories' contents aside, or restore this node with 'cassandra-pitr restore' if its disks were not lost",
    );
  }
}

/**
 * `--single-node` is refused when the archive holds other nodes of the cluster: they are its ring.
 * Without it, a node that is its own only seed with no other node archived is refused too: its
 * first start would fail on the replacement option, after the restore (Cassandra 5.0.9: "Cannot
 * replace_address ... because it doesn't exist in gossip").
 */
async function checkRing(o: ReplaceOptions): Promise<void> {
  const others = ((await o.clusterNodes?.()) ?? []).filter((n) => n !== o.identity.node);
  if (!o.singleNode) {
    if (!o.ownSeedOnly || others.length > 0) return;
    throw new PitrError(
      "E_PLAN_REFUSED",
      `a single-node cluster: cassandra.yaml names no seed but this node and the archive holds no other node of cluster '${o.identity.cluster}', so there is no ring to take the old place from (Cassandra would refuse to start: "Cannot replace_address ... because it doesn't exist in gossip")`,
      {
        hint: "add --single-node: the node then starts with a new host id and the dead node's schema and data",
      },
    );
  }
  if (others.length === 0) return;
  throw new PitrError(
    "E_PLAN_REFUSED",
    `--single-node, but the archive holds ${others.length} other node(s) of cluster '${o.identity.cluster}' (${others.slice(0, 3).join(", ")}${others.length > 3 ? ", ..." : ""}): the node is replaced in their ring`,
    { hint: "leave out --single-node: the node then takes over its old host id and tokens from the ring" },
  );
}

/** Reads the replacement prepared in the conf directory, if any. */
export async function readReplaceState(cassandraConf: string): Promise<ReplaceState | undefined> {
  const path = join(cassandraConf, REPLACE_STATE_FILE);
  if (!existsSync(path)) return undefined;
  return JSON.parse(await readFile(path, "utf8")) as ReplaceState;
}

/** The base snapshot of the plan, which must record the schema keyspace. */
async function baseManifest(o: ReplaceOptions): Promise<SnapshotManifest> {
  const step = o.plan.steps.find((s) => s.kind === "snapshot");
  if (!step || step.kind !== "snapshot")
    throw new PitrError("E_PLAN_REFUSED", "the plan has no base snapshot; a replacement starts from one", {
      hint: "choose an instant after a snapshot ('cassandra-pitr list')",
    });
  const stored = (await listSnapshots(o.backend, o.identity, { signal: o.signal })).find(
    (s) => s.manifest.tag === step.tag && Date.parse(s.manifest.snapshot_time) === step.snapshotTimeMs,
  );
  if (!stored)
    throw new PitrError("E_NOT_FOUND", `snapshot '${step.tag}' has no manifest in the archive`, {
      hint: "run 'cassandra-pitr list' to see complete snapshots",
    });
  if (!stored.manifest.schema_tables?.length) {
    throw new PitrError(
      "E_PLAN_REFUSED",
      `snapshot '${step.tag}' (${stored.manifest.snapshot_time}) records no keyspace schema (system_schema), which a replacement needs on disk before its first start`,
      {
        hint: "choose an instant after a snapshot taken by this version of 'cassandra-pitr snapshot' (it records the schema), or create the schema by hand on the node with each table's schema.cql (WITH ID) before restoring",
      },
    );
  }
  return stored.manifest;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Fetches each sstable of the schema tables (sha256 checked) into its table directory. */
async function placeSchema(o: ReplaceOptions, tables: readonly SnapshotTable[]): Promise<number> {
  let files = 0;
  for (const t of tables) {
    const dir = join(o.paths.dataDir, SCHEMA_KEYSPACE, t.table_dir);
    await mkdir(dir, { recursive: true });
    for (const s of t.sstables) {
      for (const c of s.components) {
        const bytes = await buffer(await o.backend.get(c.key, { signal: o.signal }));
        if (bytes.length !== c.size || sha256(bytes) !== c.sha256) {
          throw new PitrError(
            "E_CHECKSUM_MISMATCH",
            `archived schema component '${c.key}' has ${bytes.length} bytes with another sha256 than recorded`,
            { hint: "run 'cassandra-pitr verify'; choose an instant after another snapshot" },
          );
        }
        const partial = join(dir, `.${c.file}.partial`);
        await writeFile(partial, bytes, { flush: true });
        await rename(partial, join(dir, c.file));
        files++;
      }
    }
  }
  return files;
}

function jvmFileOf(cassandraConf: string): string | undefined {
  return ["jvm-server.options", "jvm-extra.options"]
    .map((f) => join(cassandraConf, f))
    .find((f) => existsSync(f));
}

async function addJvmOptions(file: string, options: readonly string[]): Promise<void> {
  const text = await readFile(file, "utf8");
  const body = text === "" || text.endsWith("\n") ? text : `${text}\n`;
  await writeFile(file, body + options.map((opt) => `${JVM_MARKER}\n${opt}\n`).join(""));
}

/**
 * Prepares a node with empty disks to take over its old place: schema keyspace from the plan's base
 * snapshot, empty table directories, the replacement JVM options. Changes nothing on a refusal.
 */
export async function prepareReplacement(o: ReplaceOptions): Promise<ReplaceState | undefined> {
  await checkNode(o);
  await checkRing(o);
  const manifest = await baseManifest(o);
  const schema = manifest.schema_tables!;
  const options = o.singleNode ? [] : replacementJvmOptions(o.address);
  const jvmFile = jvmFileOf(o.paths.cassandraConf);
  const verb = (now: string, would: string) => (o.dryRun ? would : now);
  o.say(
    `replacement of node ${o.identity.node} at ${o.address} from snapshot '${manifest.tag}' (${manifest.snapshot_time})`,
  );
  o.say(
    `${verb("place", "would place")} the schema keyspace (${schema.length} tables: every keyspace, table with its id, column and type of the snapshot) in '${join(o.paths.dataDir, SCHEMA_KEYSPACE)}'`,
  );
  o.say(
    `${verb("create", "would create")} ${manifest.tables.length} empty table directories: ${manifest.tables.map((t) => `${t.keyspace}/${t.table_dir}`).join(", ")}`,
  );
  if (o.singleNode)
    o.say(
      "single-node cluster: no ring to take the old place from, so no replacement JVM options; the node starts with a new host id and new tokens (it owns every token), and 'restore' covers the snapshot's user tables",
    );
  else {
    o.say(
      `tokens recorded in the snapshot: ${manifest.tokens ? `${manifest.tokens.length} (${manifest.tokens.join(", ")})` : "none (nodetool was not reachable); the node takes them from the ring"}`,
    );
    o.say(
      `${verb("add", "would add")} JVM options ${options.join(" ")} ${jvmFile ? `to '${jvmFile}'` : "(add them to JVM_OPTS by hand: no jvm-server.options found)"}`,
    );
  }
  const state: ReplaceState = {
    host_id: o.identity.node,
    address: o.address,
    snapshot: manifest.tag,
    tokens: manifest.tokens,
    jvm_options_file: options.length > 0 ? (jvmFile ?? null) : null,
    jvm_options: options,
    ...(o.singleNode ? { single_node: true } : {}),
  };
  if (o.dryRun) return undefined;
  try {
    const files = await placeSchema(o, schema);
    for (const t of manifest.tables)
      await mkdir(join(o.paths.dataDir, t.keyspace, t.table_dir), { recursive: true });
    if (jvmFile && options.length > 0) await addJvmOptions(jvmFile, options);
    await writeFile(join(o.paths.cassandraConf, REPLACE_STATE_FILE), JSON.stringify(state, null, 2) + "\n");
    o.say(`placed ${files} schema file(s)`);
  } catch (err) {
    // The disks were empty: putting them back to empty undoes everything but the JVM options, which are added last.
    for (const entry of await readdir(o.paths.dataDir).catch(() => [] as string[]))
      await rm(join(o.paths.dataDir, entry), { recursive: true, force: true });
    throw err;
  }
  return state;
}

/** Removes the replacement's JVM options once the node has joined with its old host id. */
export async function finishReplacement(o: {
  cassandraConf: string;
  hostId: () => Promise<string | undefined>;
  dryRun: boolean;
  say: (line: string) => void;
}): Promise<void> {
  const statePath = join(o.cassandraConf, REPLACE_STATE_FILE);
  if (!existsSync(statePath))
    throw new NodeStateError(
      `no replacement is prepared here ('${statePath}' does not exist)`,
      "run 'cassandra-pitr replace --at T' first",
    );
  const state = JSON.parse(await readFile(statePath, "utf8")) as ReplaceState;
  const hostId = await o.hostId();
  if (hostId === undefined)
    throw new NodeStateError(
      "the node does not answer nodetool; finish a replacement once the node has joined",
      "start Cassandra, wait until 'nodetool status' shows it UN, then run 'cassandra-pitr replace finish'",
    );
  if (state.single_node) return finishSingleNode(o, state, hostId, statePath);
  if (hostId !== state.host_id) {
    throw new NodeStateError(
      `the node runs with host id ${hostId}, not ${state.host_id} (the node replaced): it did not take over its old place`,
      "check the Cassandra log for 'replace_address'; stop it, empty its disks and prepare the replacement again",
    );
  }
  o.say(`node ${hostId} joined with its old host id`);
  if (state.jvm_options_file && existsSync(state.jvm_options_file)) {
    o.say(
      `${o.dryRun ? "would remove" : "remove"} ${state.jvm_options.join(" ")} from '${state.jvm_options_file}'`,
    );
    if (!o.dryRun) {
      const lines = (await readFile(state.jvm_options_file, "utf8")).split("\n");
      await writeFile(
        state.jvm_options_file,
        lines.filter((l, i) => l !== JVM_MARKER && lines[i - 1] !== JVM_MARKER).join("\n"),
      );
    }
  }
  if (!o.dryRun) await rm(statePath);
  o.say("run 'nodetool repair' on this node to bring it level with the live replicas");
}

/** A single-node replacement: nothing to remove; the node archives under its new host id from now on. */
async function finishSingleNode(
  o: { dryRun: boolean; say: (line: string) => void },
  state: ReplaceState,
  hostId: string,
  statePath: string,
): Promise<void> {
  o.say(
    `the node runs with host id ${hostId}; the archive of the dead node ${state.host_id} stays as it is, its history not continued`,
  );
  if (!o.dryRun) await rm(statePath);
  o.say(
    "next: 'cassandra-pitr init --force' (without --node: it asks the node) so that the hooks archive this node under its own host id, then the archive_command and 'cassandra-pitr snapshot'",
  );
}
