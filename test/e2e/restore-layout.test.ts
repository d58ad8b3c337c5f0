/**
 * A whole-node restore on real Cassandra 5.0.9 with the commit log on its own filesystem (a tmpfs),
 * the layout Cassandra's docs recommend for production. Every move of the commit log's files crosses
 * filesystems (copy + fsync + remove). On that node:
 *   - a commit log filesystem too small for the plan's segments: refused with the numbers, exit 20,
 *     nothing changed on disk;
 *   - a failure injected at the last step of the apply phase: every change rolled back (exit 21), the
 *     node's files exactly as before (names, sizes, file times), and the node starts with its live data;
 *   - a crash (SIGKILL) part-way: `restore abort` puts every file back; after another crash, `restore
 *     finish` refuses (exit 22) and `restore` with the same time resumes and completes;
 *   - Cassandra's start stopped part-way (some segments already copied back into the commit log
 *     directory, as after the ENOSPC of issue 10): the next start archives them again, and the archive
 *     recognises them by id and sha256, so `list` shows no duplicate ids and no gap;
 *   - the restored node holds exactly the rows with writetime <= T.
 * Fault injection uses the test-only variables of docs/restore.md.
 */
import t, { type Test } from "tap";
import { execa } from "execa";
import { cp, lstat, readdir, readFile, rm, rmdir, stat, symlink } from "node:fs/promises";
import { join, relative } from "node:path";
import { CLI, RESTORE_HOOK, runNode, tempDir, type Ran } from "../helpers/hooks.js";
import { listArchived } from "./archive-scenario.js";
import { openBackend } from "../../src/storage/open.js";
import {
  baseSnapshot,
  expectOk,
  idsIn,
  idsUpTo,
  letWallClockCatchUp,
  pitrNode,
  propertiesOf,
  writeRows,
  type PitrNode,
} from "./restore-scenario.js";

/** A tmpfs of `mib` MiB, unmounted (lazily, so a process still inside cannot block it) at teardown. */
async function tmpfs(tt: Test, mib: number): Promise<string> {
  const dir = await tempDir("commitlog-fs");
  await execa("mount", ["-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", dir]);
  tt.teardown(async () => {
    await execa("umount", ["-l", dir]).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  });
  return dir;
}

async function resize(dir: string, mib: number): Promise<void> {
  await execa("mount", ["-o", `remount,size=${mib}m`, dir]);
}

/** Every file under the node's directory (the commit log through its link): path, size, file time. */
async function nodeFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d)) {
      const p = join(d, e);
      const rel = relative(root, p);
      if (rel === "logs" || rel === "cassandra-pitr.yaml" || rel === ".cassandra") continue; // logs and nodetool's history
      const s = await stat(p);
      if (s.isDirectory()) {
        out.push(`${rel}/`);
        await walk(p);
      } else out.push(`${rel}:${s.size}:${Math.floor(s.mtimeMs)}`);
    }
  };
  await walk(root);
  return out.sort();
}

function cli(p: PitrNode, env: Record<string, string>, ...args: string[]): Promise<Ran> {
  return runNode(CLI, [...args, `--config=${p.configFile}`, `--nodetool=${p.node.nodetoolCommand}`], {
    ...process.env,
    ...env,
  });
}

t.test(
  "restore with the commit log on its own filesystem: preflight, rollback, resume, no re-archived segments",
  async (t) => {
    const p = await pitrNode(t, "restore-layout");
    const { node } = p;
    // Move the commit log onto its own filesystem: the directory becomes a link to a tmpfs mount.
    await node.stop();
    const fs = await tmpfs(t, 64);
    await cp(node.commitlogDir, fs, { recursive: true, preserveTimestamps: true });
    await rm(node.commitlogDir, { recursive: true });
    await symlink(fs, node.commitlogDir);
    await node.start();

    const { rows, clock } = await baseSnapshot(t, p);
    rows.push(...(await writeRows(node, "orders", 1000, 600, clock)));
    await node.nodetool("flush", "shop", "orders");
    await expectOk(t, await p.cli("incremental"), "incremental after a flush");
    rows.push(...(await writeRows(node, "orders", 2000, 1500, clock)));
    const at = rows[rows.length - 1]!.writetime - 173n;
    // On tmpfs a segment's file time stays at its creation (memory-mapped writes do not move it), and
    // Cassandra creates each segment ahead as a spare: only after two switches past T is an archived
    // segment sure to carry a close time after T (about 3 MiB of 1 MiB segments).
    rows.push(...(await writeRows(node, "orders", 5000, 1500, clock)));
    await letWallClockCatchUp(node, "orders", rows, clock);
    await node.stop();
    const atText = at.toString();
    const restore = (env: Record<string, string> = {}) =>
      cli(p, env, "restore", "--at", atText, "--grace", "1h");
    const liveIds = [...new Set(rows.map((r) => r.id))].sort((a, b) => a - b);
    t.ok(
      (await lstat(node.commitlogDir)).isSymbolicLink() &&
        (await stat(node.commitlogDir)).dev !== (await stat(node.dir)).dev,
      "the commit log is on another filesystem than the data",
    );

    await t.test(
      "a commit log filesystem smaller than the plan's segments: refused, nothing changed",
      async (t) => {
        const plan = JSON.parse(
          (await expectOk(t, await p.cli("plan", "--at", atText, "--grace", "1h", "--json"), "plan --json"))
            .stdout,
        ) as { steps: { kind: string }[] };
        const segments = plan.steps.filter((s) => s.kind === "segment").length;
        t.ok(segments >= 4, `the plan replays ${segments} segments of 1 MiB`);
        await resize(fs, 3); // a few MiB: less than the segments Cassandra would copy in
        const before = await nodeFiles(node.dir);
        const refused = await restore();
        t.equal(
          refused.exitCode,
          20,
          `exit 20 (not enough disk space)${refused.exitCode === 20 ? "" : `\n${refused.stdout}\n${refused.stderr}`}`,
        );
        t.match(
          refused.stderr,
          new RegExp(`not enough disk space on the filesystem of '${node.commitlogDir}'`),
          "names the commit log's path",
        );
        t.match(
          refused.stderr,
          /needs \d+\.\d MiB \(\d+\.\d MiB for \d+ segment\(s\) of the plan uncompressed/,
          "gives the bytes needed and why",
        );
        t.match(refused.stderr, /\d+\.\d MiB is free/, "and the bytes free");
        t.match(refused.stderr, /hint: .*bigger volume/, "and a hint");
        t.same(await nodeFiles(node.dir), before, "nothing changed on disk");
        await resize(fs, 64);
      },
    );

    await t.test(
      "a failure at the last step: everything rolled back, the node starts with its live data",
      async (t) => {
        const before = await nodeFiles(node.dir);
        const propsBefore = await propertiesOf(node);
        const failed = await restore({ CASSANDRA_PITR_TEST_FAIL_AT_STEP: "-1" });
        t.equal(
          failed.exitCode,
          21,
          `exit 21 (rolled back)${failed.exitCode === 21 ? "" : `\n${failed.stdout}\n${failed.stderr}`}`,
        );
        t.match(
          failed.stderr,
          /restore failed at step \d+ of \d+ .*every change was rolled back, the node holds its live data/,
          "says it failed and was rolled back",
        );
        t.same(
          await nodeFiles(node.dir),
          before,
          "every file back in place with its size and file time; no directory left behind",
        );
        t.equal(await propertiesOf(node), propsBefore, "commitlog_archiving.properties as before");
        await node.start();
        t.same(await idsIn(node, "orders"), liveIds, "the node serves exactly its live data");
        await node.stop();
      },
    );

    await t.test(
      "a crash part-way: abort puts everything back; after another crash, restore resumes",
      async (t) => {
        const before = await nodeFiles(node.dir);
        const crashed = await restore({ CASSANDRA_PITR_TEST_CRASH_AT_STEP: "-2" });
        t.not(crashed.exitCode, 0, "the restore was killed");
        t.not(await nodeFiles(node.dir), before, "and left the node half changed");
        const aborted = await expectOk(t, await cli(p, {}, "restore", "abort"), "restore abort");
        t.match(aborted.stdout, /rolled back: every file is where it was/, "abort says everything is back");
        t.same(await nodeFiles(node.dir), before, "every file back in place after abort");

        await restore({ CASSANDRA_PITR_TEST_CRASH_AT_STEP: "-2" });
        const finish = await cli(p, {}, "restore", "finish");
        t.equal(finish.exitCode, 22, "restore finish refuses an interrupted restore (exit 22)");
        t.match(finish.stderr, /interrupted part-way/);
        const other = await cli(p, {}, "restore", "--at", (at - 1_000_000n).toString(), "--grace", "1h");
        t.equal(other.exitCode, 22, "a restore to another time refuses while one is interrupted (exit 22)");
        t.match(
          other.stderr,
          new RegExp(`restore --at ${atText}' to resume it`),
          "and says how to resume or abort",
        );
        const resumed = await expectOk(t, await restore(), "restore again with the same time");
        t.match(resumed.stdout, /resuming the interrupted restore/, "says it resumes");
        t.match(await propertiesOf(node), /restore_point_in_time=/, "the restore settings are written");
      },
    );

    await t.test(
      "segments copied back before a failed start are not archived again; the data is exact",
      async (t) => {
        // As Cassandra does at start: the restore hook copies stubs into the commit log directory. Three
        // of them, then the start "fails" (ENOSPC in issue 10); the next start archives what is there.
        const props = await propertiesOf(node);
        const restoreDir = /^restore_directories=(.*)$/m.exec(props)![1]!;
        const command = /^restore_command=(.*)$/m.exec(props)![1]!.split(" ");
        const stubs = (await readdir(restoreDir)).sort().slice(0, 3);
        for (const name of stubs) {
          await expectOk(
            t,
            await runNode(
              RESTORE_HOOK,
              [...command.slice(1, -2), join(restoreDir, name), join(node.commitlogDir, name)],
              process.env,
            ),
            `restore hook for ${name}`,
          );
        }
        const backend = await openBackend(`file://${p.archiveDir}`);
        const archivedBefore = (await listArchived(backend, p.identity)).length;
        await node.start();
        t.same(await idsIn(node, "orders"), idsUpTo(rows, at), "exactly the rows with writetime <= T");
        await expectOk(t, await cli(p, {}, "restore", "finish"), "restore finish");
        const archived = await listArchived(backend, p.identity);
        const ids = archived.map((a) => a.segmentId.toString());
        t.equal(new Set(ids).size, ids.length, "no segment id is archived twice");
        t.ok(archived.length >= archivedBefore, "nothing was lost from the archive");
        const log = await readFile(join(node.dir, "logs/cassandra-pitr.log"), "utf8").catch(() => "");
        for (const name of stubs)
          t.match(
            log,
            new RegExp(`"already-archived"[^\\n]*${name}|${name}[^\\n]*"already-archived"`),
            `${name} archived again at start, recognised as already archived`,
          );
        const list = await p.cli("list", "--json");
        t.equal(list.exitCode, 0, `list: exit 0 (no gaps)${list.exitCode === 0 ? "" : `\n${list.stdout}`}`);
        const summary = JSON.parse(list.stdout) as
          | { segments?: { duplicates: number }; gaps?: unknown[] }[]
          | { segments: { duplicates: number }; gaps: unknown[] };
        const nodeSummary = Array.isArray(summary) ? summary[0]! : summary;
        t.equal(nodeSummary.segments?.duplicates, 0, "list shows no duplicate ids");
        t.same(nodeSummary.gaps, [], "and no gap");
        await backend.close();
        await node.stop();
      },
    );
  },
);
