/** `list --cluster` through the compiled CLI on a file:// archive of three nodes. */
import t from "tap";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { segmentKey, type NodeIdentity } from "../../src/format/layout.js";
import { snapshotManifestKey } from "../../src/format/backup-layout.js";
import type { SnapshotManifest } from "../../src/backup/types.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";
import { CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";

const MIN = 60_000;
const T0 = Date.now() - 6 * 3_600_000;
const iso = (minute: number) => new Date(T0 + minute * MIN).toISOString();

/** Segments closing every 10 minutes from minute 10 to `lastMinute`, one snapshot at `snapshotMinute`. */
async function archiveNode(
  backend: Backend,
  identity: NodeIdentity,
  snapshotMinute: number,
  lastMinute: number,
): Promise<void> {
  const firstId = BigInt(T0 - 3_600_000);
  for (let m = 10, i = 0; m <= lastMinute; m += 10, i++) {
    await backend.put(
      segmentKey(identity, { closeTimeMs: T0 + m * MIN, segmentId: firstId + BigInt(i), version: 7 }),
      new Uint8Array(1),
    );
  }
  const at = T0 + snapshotMinute * MIN;
  const manifest: SnapshotManifest = {
    schema_version: 1,
    kind: "snapshot",
    tag: "daily",
    snapshot_time: new Date(at).toISOString(),
    snapshot_time_source: "upload",
    uploaded_at: new Date(at).toISOString(),
    cluster: identity.cluster,
    host_id: identity.node,
    datacenter: null,
    cassandra_version: "5.0.9",
    tokens: null,
    tables: [],
  };
  await backend.put(snapshotManifestKey(identity, at, manifest.tag), Buffer.from(JSON.stringify(manifest)));
}

t.test(
  "list --cluster: every node, the common restorable window, a stopped archive; --json; bad input",
  async (t) => {
    const root = await tempDir("list-cluster");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const archive = `file://${join(root, "archive")}`;
    await mkdir(join(root, "archive"));
    const backend = await openBackend(archive);
    const ids = [
      "11111111-0000-4000-8000-000000000001",
      "22222222-0000-4000-8000-000000000002",
      "33333333-0000-4000-8000-000000000003",
    ];
    await archiveNode(backend, { cluster: "prod", node: ids[0]! }, 5, 300);
    await archiveNode(backend, { cluster: "prod", node: ids[1]! }, 15, 300);
    await archiveNode(backend, { cluster: "prod", node: ids[2]! }, 25, 100); // stopped 200 minutes before the others
    await archiveNode(backend, { cluster: "other", node: "44444444-0000-4000-8000-000000000004" }, 5, 300);
    await backend.close();
    const env = cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive, CASSANDRA_PITR_CLUSTER: "prod" });

    const text = await runNode(CLI, ["list", "--cluster"], env);
    t.equal(text.exitCode, 3, "a stopped archive is a problem: exit 3");
    t.match(
      text.stdout,
      /^cluster prod: 3 node\(s\) in /m,
      "the configured cluster, three nodes (not the other cluster's)",
    );
    t.match(
      text.stdout,
      `common restorable window: ${iso(25)} .. ${iso(100)}`,
      "the intersection of the three windows",
    );
    for (const id of ids) t.match(text.stdout, `node ${id}: restorable`, `lists ${id}`);
    t.match(
      text.stdout,
      new RegExp(
        `node ${ids[2]}: restorable ${iso(25)} \\.\\. ${iso(100)}[^]*ARCHIVE STOPPED: 3h 20m behind`,
      ),
      "the stopped node, with its lag",
    );
    t.equal(text.stdout.match(/ARCHIVE STOPPED/g)?.length, 1, "only that one");

    const json = await runNode(
      CLI,
      ["list", "--cluster", "prod", "--json"],
      cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive }),
    );
    t.equal(json.exitCode, 3, "--cluster NAME --json: same exit");
    const view = JSON.parse(json.stdout) as {
      cluster: string;
      common_window: { from: string; to: string };
      nodes: {
        node: string;
        restorable: { from: string; to: string }[];
        archive_stopped: boolean;
        lag_ms: number | null;
      }[];
      problems: string[];
    };
    t.equal(view.cluster, "prod");
    t.same(view.common_window, { from: iso(25), to: iso(100) });
    t.same(
      view.nodes.map((n) => [n.node, n.restorable, n.archive_stopped, n.lag_ms]),
      [
        [ids[0], [{ from: iso(5), to: iso(300) }], false, null],
        [ids[1], [{ from: iso(15), to: iso(300) }], false, null],
        [ids[2], [{ from: iso(25), to: iso(100) }], true, 200 * MIN],
      ],
    );
    t.same(view.problems, [`node ${ids[2]}: archive stopped`]);

    const single = await runNode(
      CLI,
      ["list", "--cluster", "prod", "--node", ids[0]!],
      cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive }),
    );
    t.equal(single.exitCode, 0, "with --node: the single-node view, as before");
    t.match(single.stdout, `node prod/${ids[0]}`);

    const healthy = await runNode(
      CLI,
      ["list", "--cluster", "other"],
      cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive }),
    );
    t.equal(healthy.exitCode, 0, "a cluster without problems: exit 0");

    const unknown = await runNode(
      CLI,
      ["list", "--cluster", "nope"],
      cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive }),
    );
    t.equal(unknown.exitCode, 14, "a cluster with nothing archived: exit 14");
    t.same(unknown.lines.length, 2, "one line and a hint");
    t.match(unknown.lines[0], /holds no node of cluster 'nope'/);

    const missingNodetool = await runNode(
      CLI,
      ["list", "--cluster", "other", "--nodetool", join(root, "no-such-nodetool")],
      cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive }),
    );
    t.equal(missingNodetool.exitCode, 2, "a nodetool command that does not exist: exit 2 (configuration)");
    t.match(missingNodetool.lines[0], /nodetool command .*no-such-nodetool' not found/, "names the command");
    const badNodetool = await runNode(
      CLI,
      ["list", "--cluster", "other", "--nodetool", "false"],
      cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive }),
    );
    t.equal(badNodetool.exitCode, 18, "a nodetool that runs and fails: exit 18 (node state)");
    t.match(badNodetool.lines[0], /nodetool/, "names the nodetool call");

    const unnamed = await runNode(CLI, ["list", "--cluster"], cleanEnv({ CASSANDRA_PITR_ARCHIVE: archive }));
    t.equal(unnamed.exitCode, 2, "--cluster without a name and none configured: exit 2");
    t.match(unnamed.stdout + unnamed.stderr, /cluster is not configured/);
  },
);
