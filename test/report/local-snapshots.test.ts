import t from "tap";
import { link, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { scanLocalSnapshots } from "../../src/report/local-snapshots.js";
import { tempDir } from "../helpers/hooks.js";

t.test("local disk held only by snapshots: hard links whose live sstable is gone", async (t) => {
  const data = await tempDir("local-snapshots");
  t.teardown(() => rm(data, { recursive: true, force: true }));
  const table = join(data, "ks", "t-0123456789abcdef0123456789abcdef");
  await mkdir(join(table, "snapshots", "daily"), { recursive: true });
  await mkdir(join(table, "snapshots", "weekly"), { recursive: true });
  // live + daily: shared, costs nothing extra
  await writeFile(join(table, "nb-3-big-Data.db"), Buffer.alloc(1000));
  await link(join(table, "nb-3-big-Data.db"), join(table, "snapshots/daily/nb-3-big-Data.db"));
  // daily only: compacted away from the live directory
  await writeFile(join(table, "snapshots/daily/nb-1-big-Data.db"), Buffer.alloc(300));
  // daily + weekly, not live: held only by snapshots, but clearing one tag frees nothing
  await writeFile(join(table, "snapshots/daily/nb-2-big-Data.db"), Buffer.alloc(50));
  await link(
    join(table, "snapshots/daily/nb-2-big-Data.db"),
    join(table, "snapshots/weekly/nb-2-big-Data.db"),
  );

  const usage = await scanLocalSnapshots(data);
  t.equal(usage.onlySnapshotsBytes, 350, "300 + 50 bytes are kept on disk only by snapshots");
  t.equal(usage.sharedBytes, 1000, "1000 bytes are shared with a live sstable");
  t.same(
    usage.tags.map((x) => [x.tag, x.freedIfClearedBytes, x.linkedBytes]),
    [
      ["daily", 300, 1350],
      ["weekly", 0, 50],
    ],
    "clearing 'daily' alone frees 300 bytes; 'weekly' alone frees nothing",
  );
  t.same(
    (await scanLocalSnapshots(join(data, "missing"))).tags,
    [],
    "a missing data directory holds nothing",
  );
});
