/**
 * Truncations and drops are known only from Cassandra's auto-snapshots (src/backup/table-events.ts).
 * A node with `auto_snapshot: false` in cassandra.yaml takes none, so `restore` says that a TRUNCATE
 * in the window would not be seen (docs/restore.md).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export async function autoSnapshotWarning(cassandraConf: string): Promise<string | undefined> {
  const yaml = await readFile(join(cassandraConf, "cassandra.yaml"), "utf8").catch(() => "");
  if (!/^auto_snapshot:\s*false\s*(#.*)?$/m.test(yaml)) return undefined;
  return `warning: auto_snapshot is false in '${join(cassandraConf, "cassandra.yaml")}': Cassandra takes no snapshot on TRUNCATE or DROP TABLE, so the archive records none, and a TRUNCATE in the window is not seen by this plan (set auto_snapshot: true)`;
}
