/**
 * A restore whose target table directory is on a read-only filesystem (a bind mount remounted
 * read-only; the tests run as root): it stops with one clear line and a documented exit code, and
 * the node's files are exactly as before.
 */
import t from "tap";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { CLI, runNode } from "../helpers/hooks.js";
import { pitrArchive as setup, fileTree as tree } from "../helpers/pitr-archive.js";

t.test(
  "a table directory on a read-only filesystem: refused or rolled back with one line, nothing changed",
  async (t) => {
    const s = await setup();
    const before = await tree(s.node);
    execFileSync("mount", ["--bind", s.tableDir, s.tableDir]);
    t.teardown(() => execFileSync("umount", [s.tableDir]));
    execFileSync("mount", ["-o", "remount,ro,bind", s.tableDir]);
    const r = await runNode(
      CLI,
      ["restore", "--at", s.at, "--grace", "0s", "--nodetool=false", `--restore-dir=${join(s.root, "rd")}`],
      s.env,
    );
    t.equal(r.exitCode, 21, `exit 21 (rolled back)\n${r.stdout}\n${r.stderr}`);
    t.match(r.stderr, /read-only file system/i, "the line names the cause");
    t.match(r.stderr, new RegExp(s.tableDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), "and the directory");
    t.ok(r.stderr.trim().split("\n").length <= 2, "one line (plus a hint)");
    t.same(await tree(s.node), before, "every file of the node is as before");
    t.notOk((await readdir(s.root)).includes("rd"), "the restore directory it created is gone");
  },
);
