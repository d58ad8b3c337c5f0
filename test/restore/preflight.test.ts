/**
 * The disk preflight on real filesystems: small tmpfs mounts for the commit log and the data
 * directory beside the ordinary temp directory. Demands are summed per filesystem, the commit log's
 * own files count as freed when they move to another filesystem, and a refusal names the path, the
 * MiB needed and free, and the hint that fits.
 */
import t, { type Test } from "tap";
import { execa } from "execa";
import { mkdir, rmdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkDiskSpace, DiskSpaceError, type PreflightInput } from "../../src/restore/preflight.js";
import { tempDir } from "../helpers/hooks.js";

const MiB = 1024 * 1024;

async function tmpfs(t: Test, mib: number): Promise<string> {
  const dir = await tempDir("preflight-fs");
  await execa("mount", ["-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", dir]);
  t.teardown(async () => {
    await execa("umount", ["-l", dir]).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  });
  return dir;
}

async function layout(t: Test, commitlogMiB: number, dataMiB?: number): Promise<PreflightInput> {
  const root = await tempDir("preflight");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const commitlog = join(await tmpfs(t, commitlogMiB), "commitlog");
  const data = dataMiB ? join(await tmpfs(t, dataMiB), "data") : join(root, "data");
  await mkdir(commitlog);
  await mkdir(data);
  return {
    commitlogDir: commitlog,
    dataDir: data,
    stagingDir: join(root, "staging"),
    restoreDir: join(root, "restore"),
    asideDir: join(root, "aside"),
    segmentBytes: [MiB, MiB, MiB],
    stubs: true,
    sstableBytes: 0,
    liveSstableBytes: 0,
    commitlogBytes: 0,
  };
}

t.test("a commit log filesystem smaller than the plan's segments: refused with the numbers", async (t) => {
  const input = await layout(t, 2);
  const err = await checkDiskSpace(input).catch((e: unknown) => e);
  t.ok(err instanceof DiskSpaceError, "refused");
  const e = err as DiskSpaceError;
  t.equal(e.code, "E_DISK_SPACE");
  t.match(e.message, `on the filesystem of '${input.commitlogDir}'`, "names the path");
  t.match(
    e.message,
    /needs 4\.0 MiB \(4\.0 MiB for 3 segment\(s\) of the plan uncompressed/,
    "three segments plus one of headroom",
  );
  t.match(e.message, /2\.0 MiB is free/, "the free space");
  t.match(e.hint, /bigger volume/, "hint: a bigger volume");
});

t.test("the commit log's own files moved to another filesystem are credited", async (t) => {
  const input = await layout(t, 5);
  await writeFile(join(input.commitlogDir, "CommitLog-8-1.log"), Buffer.alloc(2 * MiB));
  // 3 MiB free + nothing credited < 4 MiB: refused; with the 2 MiB moved aside counted, it fits.
  await t.rejects(checkDiskSpace(input), DiskSpaceError, "without the credit, refused");
  const lines = await checkDiskSpace({ ...input, commitlogBytes: 2 * MiB });
  t.ok(
    lines.some((l) => l.includes(input.commitlogDir)),
    "with it, accepted; one line per filesystem",
  );
});

t.test("a data filesystem too small for the sstables to place: refused with the scope hint", async (t) => {
  const input = await layout(t, 16, 2);
  const err = await checkDiskSpace({ ...input, sstableBytes: 3 * MiB }).catch((e: unknown) => e);
  t.ok(err instanceof DiskSpaceError, "refused");
  t.match((err as DiskSpaceError).message, `'${input.dataDir}'`, "names the data directory");
  t.match((err as DiskSpaceError).hint, /--table or --keyspace/, "hint: a narrower scope");
  t.ok(await checkDiskSpace({ ...input, sstableBytes: MiB }), "1 MiB of sstables fits");
});
