/**
 * Moves across filesystems and the apply journal, on a real tmpfs (so rename gives EXDEV) beside the
 * ordinary temp directory. For every point at which an apply phase can stop (each step done or not,
 * the step in flight with its copy complete but its source not yet removed), rolling back gives the
 * tree as it was before, and resuming gives the tree of a run that never stopped.
 */
import t, { type Test } from "tap";
import { execa } from "execa";
import { copyFile, mkdir, readdir, readFile, rm, rmdir, stat, utimes, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { moveFile } from "../../src/restore/moves.js";
import {
  createJournal,
  readJournal,
  rollBack,
  runForward,
  StepFailedError,
  type JournalStep,
} from "../../src/restore/journal.js";
import { tempDir } from "../helpers/hooks.js";

async function tree(...roots: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (root: string, d: string): Promise<void> => {
    for (const e of await readdir(d).catch(() => [])) {
      const p = join(d, e);
      const s = await stat(p);
      if (s.isDirectory()) {
        out.push(`${root}:${relative(root, p)}/`);
        await walk(root, p);
      } else {
        // A written settings file gets a new time; a moved file keeps its own (the archive keys segments by it).
        const time = relative(root, p) === "conf/props" ? "" : Math.floor(s.mtimeMs);
        out.push(`${root}:${relative(root, p)}:${(await readFile(p)).toString("base64")}:${time}`);
      }
    }
  };
  for (const r of roots) await walk(r, r);
  return out.sort();
}

async function setup(t: Test) {
  const disk = await tempDir("journal");
  const other = await tempDir("journal-fs");
  await execa("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", other]);
  t.teardown(async () => {
    await execa("umount", ["-l", other]).catch(() => undefined);
    await rmdir(other).catch(() => undefined);
    await rm(disk, { recursive: true, force: true });
  });
  const commitlog = join(other, "commitlog");
  const table = join(disk, "data", "ks", "t-1");
  const staging = join(disk, "staging");
  const conf = join(disk, "conf");
  for (const d of [commitlog, table, staging, conf]) await mkdir(d, { recursive: true });
  const old = new Date("2026-11-20T10:00:00Z");
  for (const [dir, names] of [
    [commitlog, ["CommitLog-8-1.log", "CommitLog-8-2.log"]],
    [table, ["nb-1-big-Data.db", "nb-1-big-Index.db"]],
    [staging, ["nb-7-big-Data.db"]],
  ] as const) {
    for (const n of names) {
      await writeFile(join(dir, n), `${n} bytes`.repeat(1000));
      await utimes(join(dir, n), old, old);
    }
  }
  await writeFile(join(conf, "props"), "archive_command=x\n");
  const aside = join(disk, "aside");
  const steps: JournalStep[] = [
    { op: "move", from: join(table, "nb-1-big-Data.db"), to: join(aside, "data", "nb-1-big-Data.db") },
    { op: "move", from: join(table, "nb-1-big-Index.db"), to: join(aside, "data", "nb-1-big-Index.db") },
    { op: "move", from: join(staging, "nb-7-big-Data.db"), to: join(table, "nb-7-big-Data.db") },
    {
      op: "move",
      from: join(commitlog, "CommitLog-8-1.log"),
      to: join(aside, "commitlog", "CommitLog-8-1.log"),
    },
    {
      op: "move",
      from: join(commitlog, "CommitLog-8-2.log"),
      to: join(aside, "commitlog", "CommitLog-8-2.log"),
    },
    {
      op: "write",
      path: join(conf, "props"),
      backup: join(conf, "props.bak"),
      content: "archive_command=x\nrestore_point_in_time=T\n",
    },
  ];
  const header = {
    schema_version: 1 as const,
    at: "1",
    restore_point_in_time: "T",
    steps,
    created: {
      staging_dir: join(disk, "fetched"),
      restore_dir: join(disk, "restore"),
      restore_dir_created: true,
      aside_dir: aside,
    },
    state: { ok: true },
  };
  return { disk, other, commitlog, conf, steps, header, journalPath: join(conf, "journal") };
}

t.test("moveFile: rename on one filesystem, copy + fsync + remove across, file time kept", async (t) => {
  const s = await setup(t);
  const src = join(s.commitlog, "CommitLog-8-1.log");
  const before = await stat(src);
  const bytes = await readFile(src);
  t.equal(await moveFile(src, join(s.disk, "moved.log")), "copied", "across filesystems: copied");
  t.same(await readFile(join(s.disk, "moved.log")), bytes, "same bytes");
  t.equal(
    Math.floor((await stat(join(s.disk, "moved.log"))).mtimeMs),
    Math.floor(before.mtimeMs),
    "same file time",
  );
  await t.rejects(stat(src), "source removed");
  t.equal(
    await moveFile(join(s.disk, "moved.log"), join(s.disk, "again.log")),
    "renamed",
    "on one filesystem: renamed",
  );
});

t.test("a failing step rolls back to the exact tree; resume after every stop point completes", async (t) => {
  const s = await setup(t);
  const roots = [s.disk, s.other];
  const before = await tree(...roots);
  // The tree of an uninterrupted run.
  const j = await createJournal(s.journalPath, s.header);
  await runForward(j, () => undefined);
  await rm(s.journalPath);
  const after = await tree(...roots);
  t.not(after, before);
  await rollBack({ ...j, done: s.steps.length - 1 });
  t.same(await tree(...roots), before, "rolling back a fully applied journal restores the tree");

  for (let k = 0; k < s.steps.length; k++) {
    for (const partial of [false, true]) {
      const label = `stopped at step ${k}${partial ? " with its copy complete, source not removed" : ""}`;
      if (partial && s.steps[k]!.op !== "move") continue;
      for (const then of ["roll back", "resume"] as const) {
        const journal = await createJournal(s.journalPath, s.header);
        process.env["CASSANDRA_PITR_TEST_FAIL_AT_STEP"] = String(k);
        const err = await runForward(journal, () => undefined).catch((e: unknown) => e);
        delete process.env["CASSANDRA_PITR_TEST_FAIL_AT_STEP"];
        t.ok(err instanceof StepFailedError && err.index === k, `${label}: the step fails`);
        const step = s.steps[k]!;
        if (partial && step.op === "move") {
          await mkdir(join(step.to, ".."), { recursive: true });
          await copyFile(step.from, step.to);
        }
        const read = (await readJournal(s.journalPath))!;
        t.equal(read.done, k, `${label}: the journal says ${k} step(s) done`);
        if (then === "roll back") {
          await rollBack(read);
          t.same(await tree(...roots), before, `${label}: rolled back to the tree before`);
        } else {
          await runForward(read, () => undefined);
          await rm(s.journalPath);
          t.same(await tree(...roots), after, `${label}: resumed to the tree of an uninterrupted run`);
          await rollBack({ ...read, done: s.steps.length - 1, rollingBack: false });
          t.same(await tree(...roots), before, `${label}: and that rolls back too`);
        }
      }
    }
  }
});
