/**
 * Local disk held only by snapshots (the "snapshot storage calculator" idea): a snapshot is hard
 * links to sstables; while the live sstable exists the snapshot costs nothing, but once compaction
 * removes it, the snapshot's link is what keeps those bytes on disk. An inode is held only by
 * snapshots when every one of its links lies in a `snapshots/` directory. Run on the node itself
 * (it reads the data directory, not the archive).
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface LocalSnapshotUsage {
  readonly dataDir: string;
  /** Bytes that only snapshots keep on disk (freed if every snapshot holding them were cleared). */
  readonly onlySnapshotsBytes: number;
  /** Bytes of snapshot files still shared with live sstables (cost nothing extra). */
  readonly sharedBytes: number;
  /** Per tag: bytes that clearing this tag alone would free, and its total linked bytes. */
  readonly tags: readonly {
    readonly tag: string;
    readonly freedIfClearedBytes: number;
    readonly linkedBytes: number;
  }[];
}

async function dirs(path: string): Promise<string[]> {
  return (await readdir(path, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
}

export async function scanLocalSnapshots(dataDir: string): Promise<LocalSnapshotUsage> {
  const inodes = new Map<string, { size: number; nlink: number; tags: string[] }>();
  for (const ks of await dirs(dataDir)) {
    for (const table of await dirs(join(dataDir, ks))) {
      const snapshotsDir = join(dataDir, ks, table, "snapshots");
      for (const tag of await dirs(snapshotsDir)) {
        for (const file of await readdir(join(snapshotsDir, tag)).catch(() => [] as string[])) {
          const s = await stat(join(snapshotsDir, tag, file)).catch(() => undefined);
          if (!s?.isFile()) continue;
          const id = `${s.dev}:${s.ino}`;
          const entry = inodes.get(id) ?? { size: s.size, nlink: s.nlink, tags: [] };
          entry.tags.push(tag);
          inodes.set(id, entry);
        }
      }
    }
  }
  let only = 0;
  let shared = 0;
  const perTag = new Map<string, { freed: number; linked: number }>();
  for (const { size, nlink, tags } of inodes.values()) {
    const onlySnapshots = tags.length >= nlink;
    if (onlySnapshots) only += size;
    else shared += size;
    for (const tag of new Set(tags)) {
      const t = perTag.get(tag) ?? { freed: 0, linked: 0 };
      t.linked += size;
      if (onlySnapshots && new Set(tags).size === 1) t.freed += size;
      perTag.set(tag, t);
    }
  }
  return {
    dataDir,
    onlySnapshotsBytes: only,
    sharedBytes: shared,
    tags: [...perTag]
      .map(([tag, t]) => ({ tag, freedIfClearedBytes: t.freed, linkedBytes: t.linked }))
      .sort((a, b) => b.freedIfClearedBytes - a.freedIfClearedBytes),
  };
}
