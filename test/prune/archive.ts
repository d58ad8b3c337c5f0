/** A small archive in a memory backend: segments every 10 minutes, daily snapshots sharing a component, incrementals. */
import { createHash } from "node:crypto";
import { segmentKey, type NodeIdentity } from "../../src/format/layout.js";
import { recordToMetadata } from "../../src/format/segment-record.js";
import { componentKey, incrementalKey, snapshotManifestKey } from "../../src/format/backup-layout.js";
import type {
  ArchivedComponent,
  ArchivedSstable,
  IncrementalRecord,
  SnapshotManifest,
} from "../../src/backup/types.js";
import type { Backend } from "../../src/storage/types.js";

export const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 1, 1);
export const identity: NodeIdentity = { cluster: "prod", node: "host-p" };

async function component(backend: Backend, file: string, text: string): Promise<ArchivedComponent> {
  const bytes = Buffer.from(text);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const key = componentKey(identity, sha256);
  // content-addressed: an existing component is not stored again (as src/backup does)
  if (
    !(await backend.head(key).then(
      () => true,
      () => false,
    ))
  )
    await backend.put(key, bytes);
  return { component: file.slice(file.lastIndexOf("-") + 1), file, size: bytes.length, sha256, key };
}

async function sstable(
  backend: Backend,
  name: string,
  content: string,
  upperSegment: bigint | null,
): Promise<ArchivedSstable> {
  const comps = [
    await component(backend, `${name}-Data.db`, content),
    await component(backend, `${name}-TOC.txt`, "Data.db\nTOC.txt\n"),
  ];
  return {
    name,
    version: "nb",
    id: name.split("-")[1]!,
    format: "big",
    id_time: null,
    min_timestamp: "0",
    max_timestamp: "1",
    commit_log_upper_bound:
      upperSegment === null ? null : { segment_id: upperSegment.toString(), position: 0 },
    commit_log_lower_bound: null,
    commit_log_intervals: null,
    originating_host_id: null,
    statistics_error: null,
    components: comps,
  };
}

/** `days` days of segments (one every 10 minutes, archived 5 s later) and a snapshot at 01:00 each day. */
export async function buildArchive(backend: Backend, days: number): Promise<{ segmentIds: bigint[] }> {
  const firstId = BigInt(T0 - 3_600_000);
  const ids: bigint[] = [];
  let id = firstId;
  for (let t = T0 + 600_000; t <= T0 + days * DAY; t += 600_000) {
    const meta = recordToMetadata({
      sha256: "0".repeat(64),
      size: 10,
      compression: "zstd",
      encryption: "none",
      segmentId: id,
      version: 8,
      name: `CommitLog-8-${id}.log`,
      closeTimeMs: t,
      archiveTimeMs: t + 5000,
      cluster: identity.cluster,
      hostId: identity.node,
      status: "complete",
      headerParameters: "{}",
      archivedBy: "hook",
    });
    await backend.put(
      segmentKey(identity, { closeTimeMs: t, segmentId: id, version: 8 }),
      new Uint8Array(10),
      { metadata: meta },
    );
    ids.push(id);
    id++;
  }
  for (let d = 0; d < days; d++) {
    const at = T0 + d * DAY + 3_600_000;
    // the segment active at the snapshot: closes at the next 10-minute mark
    const upper = firstId + BigInt(Math.ceil((at - T0) / 600_000)) - 1n;
    const manifest: SnapshotManifest = {
      schema_version: 1,
      kind: "snapshot",
      tag: `daily-${d}`,
      snapshot_time: new Date(at).toISOString(),
      snapshot_time_source: "upload",
      uploaded_at: new Date(at + 60_000).toISOString(),
      cluster: identity.cluster,
      host_id: identity.node,
      datacenter: null,
      cassandra_version: "5.0.9",
      tokens: null,
      tables: [
        {
          keyspace: "app",
          table: "t",
          table_id: "00000000-0000-0000-0000-000000000001",
          table_dir: "t-00000000000000000000000000000001",
          schema_cql:
            "CREATE TABLE IF NOT EXISTS app.t (\n    k int PRIMARY KEY\n) WITH ID = 00000000-0000-0000-0000-000000000001;",
          sstables: [
            await sstable(backend, "nb-1-big", "shared base data", upper),
            await sstable(backend, `nb-${d + 2}-big`, `day ${d} data`, upper),
          ],
        },
      ],
    };
    await backend.put(snapshotManifestKey(identity, at, manifest.tag), Buffer.from(JSON.stringify(manifest)));
    const flush = at + 6 * 3_600_000;
    const record: IncrementalRecord = {
      schema_version: 1,
      kind: "incremental",
      cluster: identity.cluster,
      host_id: identity.node,
      keyspace: "app",
      table: "t",
      table_id: "00000000-0000-0000-0000-000000000001",
      table_dir: "t-00000000000000000000000000000001",
      flush_time: new Date(flush).toISOString(),
      uploaded_at: new Date(flush + 1000).toISOString(),
      sstable: await sstable(backend, `nb-${100 + d}-big`, `incremental ${d}`, null),
    };
    await backend.put(
      incrementalKey(identity, {
        flushTimeMs: flush,
        keyspace: "app",
        table: "t",
        tableIdHex: "00000000000000000000000000000001",
        sstable: `nb-${100 + d}-big`,
      }),
      Buffer.from(JSON.stringify(record)),
    );
  }
  return { segmentIds: ids };
}
