/**
 * The restore executor through the CLI, on the real pitr fixture (snapshot + the segments closed
 * after it) and the file:// backend, with a node directory laid out as Cassandra's. The running
 * check goes through --nodetool: `true` answers (node up), `false` fails (node down).
 * Bad input must change nothing on disk.
 */
import t from "tap";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CLI, RESTORE_HOOK, runNode } from "../helpers/hooks.js";
import { PITR, pitrArchive as setup, fileTree as tree } from "../helpers/pitr-archive.js";

t.test(
  "restore: bad input changes nothing; a good restore places, stages and writes the settings; finish removes them",
  async (t) => {
    const s = await setup();
    const cli = (...args: string[]) => runNode(CLI, args, s.env);
    const before = await tree(s.node);

    const cases: [string, string[], number, RegExp][] = [
      [
        "a time that does not parse",
        ["restore", "--at", "yesterday-ish", "--nodetool=false"],
        2,
        /not a time/,
      ],
      ["a time without a zone", ["restore", "--at", "2026-11-21T09:00:00", "--nodetool=false"], 2, /no zone/],
      ["a time in the future", ["restore", "--at", "2999-01-01T00:00:00Z", "--nodetool=false"], 17, /future/],
      [
        "a time before any snapshot",
        ["restore", "--at", "2001-01-01T00:00:00Z", "--nodetool=false"],
        17,
        /no complete snapshot/,
      ],
      [
        "an unknown node",
        ["restore", "--at", s.at, "--node", "00000000-0000-4000-8000-000000000000", "--nodetool=false"],
        14,
        /has nothing in archive/,
      ],
      [
        "an unknown table",
        ["restore", "--at", s.at, "--table", "pitr_fixture.nope", "--nodetool=false"],
        17,
        /nope/,
      ],
      [
        "a running node",
        ["restore", "--at", s.at, "--grace", "0s", "--nodetool=true"],
        18,
        /node is running/,
      ],
      [
        "no nodetool at all",
        ["restore", "--at", s.at, "--grace", "0s", "--nodetool=/nonexistent/nodetool"],
        2,
        /not found/,
      ],
    ];
    for (const [title, args, exit, line] of cases) {
      const r = await cli(...args);
      t.equal(r.exitCode, exit, `${title}: exit ${exit}`);
      t.match(r.stderr, line, `${title}: says why`);
      t.ok(r.stderr.trim().split("\n").length <= 2, `${title}: one line (plus a hint)`);
    }
    const busyDir = join(s.root, "busy");
    await mkdir(busyDir);
    await writeFile(join(busyDir, "something"), "x");
    const busy = await cli(
      "restore",
      "--at",
      s.at,
      "--grace",
      "0s",
      "--nodetool=false",
      `--restore-dir=${busyDir}`,
    );
    t.equal(busy.exitCode, 2, "a restore directory that is not empty: exit 2");
    t.match(busy.stderr, /not empty/);

    const dry = await cli("restore", "--at", s.at, "--grace", "0s", "--nodetool=false", "--dry-run");
    t.equal(dry.exitCode, 0, "dry run: exit 0");
    t.match(dry.stdout, /would place 1 sstable/, "dry run describes the placement");
    t.same(await tree(s.node), before, "nothing changed on disk after bad input and the dry run");

    // A damaged sstable component in the archive: refused, nothing changed.
    const manifestFile = (await tree(s.archive))
      .map((l) => l.split(":")[0]!)
      .find((p) => p.endsWith("manifest.json"))!;
    const manifest = JSON.parse(await readFile(join(s.archive, manifestFile), "utf8")) as {
      tables: { sstables: { components: { key: string; file: string }[] }[] }[];
    };
    const dataKey = manifest.tables[0]!.sstables[0]!.components.find((c) => c.file.endsWith("Data.db"))!.key;
    const original = await readFile(join(s.archive, dataKey));
    const damaged = Buffer.from(original);
    damaged[10] = damaged[10]! ^ 0xff;
    await writeFile(join(s.archive, dataKey), damaged);
    const bad = await cli(
      "restore",
      "--at",
      s.at,
      "--grace",
      "0s",
      "--nodetool=false",
      `--restore-dir=${join(s.root, "rd-bad")}`,
    );
    t.equal(bad.exitCode, 15, `checksum mismatch in an archived sstable: exit 15 ${bad.stderr}`);
    t.same(await tree(s.node), before, "and nothing changed on the node");
    t.notOk((await readdir(s.root)).includes("rd-bad"), "the restore directory it created is gone");
    await writeFile(join(s.archive, dataKey), original);

    // nodetool may live in the config file instead of on every command line.
    const nodetoolConfig = join(s.root, "nodetool-config.yaml");
    await writeFile(
      nodetoolConfig,
      (await readFile(s.configFile, "utf8")) + "nodetool: /nonexistent/bin/nodetool -h 127.0.0.1\n",
    );
    const fromConfig = await cli("restore", "--at", s.at, "--grace", "0s", `--config=${nodetoolConfig}`);
    t.equal(
      fromConfig.exitCode,
      2,
      "the config's nodetool is the one run: a missing one is exit 2, never 'node stopped'",
    );
    t.match(
      fromConfig.stderr,
      /nodetool command '\/nonexistent\/bin\/nodetool' not found/,
      "naming the configured command",
    );
    t.same(await tree(s.node), before, "and nothing changed on disk");

    const planned = await cli("plan", "--at", s.at, "--grace", "0s");
    t.equal(planned.exitCode, 0, "plan: exit 0");
    const plannedCommand = /restore_command=(.*)$/m.exec(planned.stdout)?.[1];
    t.equal(
      plannedCommand,
      `${RESTORE_HOOK} --config=${s.configFile} %from %to`,
      "plan prints the restore_command restore will write",
    );

    const restoreDir = join(s.root, "restore-here");
    const ok = await cli(
      "restore",
      "--at",
      s.at,
      "--grace",
      "0s",
      "--nodetool=false",
      `--restore-dir=${restoreDir}`,
    );
    t.equal(ok.exitCode, 0, `restore: exit 0 ${ok.stderr}`);
    const files = await readdir(s.tableDir);
    t.ok(files.includes("nb-1-big-Data.db"), "the snapshot's sstable is placed in the table directory");
    t.notOk(files.includes("nb-7-big-Data.db"), "the live sstable is no longer there");
    const aside = (await readdir(join(s.node))).find((d) => d.startsWith("cassandra-pitr-aside-"));
    t.ok(aside, "a moved-aside directory beside the data directory");
    t.ok(
      (await tree(join(s.node, aside!))).some((l) => l.includes("nb-7-big-Data.db")),
      "the live sstable was moved aside, not deleted",
    );
    t.ok(
      (await tree(join(s.node, aside!))).some((l) => l.includes("CommitLog-7-99.log")),
      "the live commit log files too",
    );
    t.same(await readdir(join(s.node, "commitlog")), [], "the commit log directory is empty for the replay");
    const stubs = await readdir(restoreDir);
    t.ok(
      stubs.length >= 2 && stubs.every((n) => /^CommitLog-7-\d+\.log$/.test(n)),
      `segments staged as stubs (${stubs.length})`,
    );
    const props = await readFile(join(s.node, "conf/commitlog_archiving.properties"), "utf8");
    t.match(
      props,
      /^archive_command=\/usr\/bin\/cassandra-pitr-archive %path %name$/m,
      "archive_command kept",
    );
    t.match(
      props,
      new RegExp(`^restore_directories=${restoreDir}$`, "m"),
      "restore_directories names the staging directory",
    );
    t.match(
      props,
      /^restore_command=\S+restore-hook\.js --config=\S+ %from %to$/m,
      "restore_command is our hook with this config",
    );
    t.equal(/^restore_command=(.*)$/m.exec(props)?.[1], plannedCommand, "the very line plan printed");
    t.match(
      props,
      /^restore_point_in_time=\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/m,
      "restore point with microseconds",
    );

    // What Cassandra will do with a stub: call the restore hook with %from %to.
    const target = join(s.node, "commitlog", stubs[0]!);
    const fetched = await runNode(
      RESTORE_HOOK,
      [`--config=${s.configFile}`, join(restoreDir, stubs[0]!), target],
      s.env,
    );
    t.equal(fetched.exitCode, 0, "the restore hook fetches a staged stub");
    t.equal(
      (await readFile(target)).length,
      (await stat(join(PITR, "segments", stubs[0]!))).size,
      "into the whole segment",
    );

    const notYet = await cli("restore", "finish", "--nodetool=false");
    t.equal(notYet.exitCode, 18, "finish while the node is down: exit 18 (replay has not run)");
    const finished = await cli("restore", "finish", "--nodetool=true");
    t.equal(finished.exitCode, 0, "finish once the node is up: exit 0");
    t.notMatch(
      finished.stdout,
      /JVM|jvm|remove +from/,
      "a whole-node restore added no JVM option, and finish says nothing about any",
    );
    const after = await readFile(join(s.node, "conf/commitlog_archiving.properties"), "utf8");
    t.notMatch(after, /restore_/, "every restore setting removed");
    t.match(after, /archive_command=/, "archive_command still there");
    t.equal(
      await readFile(join(s.node, "conf/jvm-server.options"), "utf8"),
      "-Xss256k\n",
      "jvm-server.options as before",
    );
  },
);
