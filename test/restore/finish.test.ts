/**
 * `restore finish` on the properties file: the restore settings go, every other line stays, and a
 * file left with no setting at all is removed (Cassandra 4.1 and 5.0 assert at start-up that the
 * file, when present, sets something; a drill's kept scratch node, which has no archive_command,
 * would not start again).
 */
import t from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  finishRestore,
  renderProperties,
  STATE_FILE,
  type RestoreState,
} from "../../src/restore/executor.js";

const RESTORE_LINES = [
  "restore_command=/usr/bin/cassandra-pitr-restore %from %to",
  "restore_directories=/r",
  "restore_point_in_time=2026:11:27 21:14:03.120000",
  "precision=MICROSECONDS",
];

async function finishWith(before: string): Promise<{ propsPath: string; said: string[] }> {
  const conf = await mkdtemp(join(tmpdir(), "pitr-finish-"));
  const propsPath = join(conf, "commitlog_archiving.properties");
  await writeFile(propsPath, renderProperties(before, RESTORE_LINES));
  const state: RestoreState = {
    schema_version: 1,
    at: "1",
    restore_point_in_time: "2026:11:27 21:14:03.120000",
    scope: [],
    started: new Date(0).toISOString(),
    restore_dir: join(conf, "restore"),
    aside_dir: join(conf, "aside"),
    properties_file: propsPath,
    properties_backup: null,
    jvm_options_file: null,
    jvm_options: [],
    tables: [],
    segments: 0,
  };
  await writeFile(join(conf, STATE_FILE), JSON.stringify(state));
  const said: string[] = [];
  t.ok(
    await finishRestore({
      cassandraConf: conf,
      isNodeRunning: async () => true,
      say: (l) => said.push(l),
      dryRun: false,
    }),
    "finish ran",
  );
  return { propsPath, said };
}

t.test("finish keeps the archive settings and removes the restore ones", async (t) => {
  const { propsPath } = await finishWith(
    "# Written by scripts/cassandra-node.sh\narchive_command=/usr/bin/cassandra-pitr-archive %path %name\n",
  );
  t.equal(
    await readFile(propsPath, "utf8"),
    "# Written by scripts/cassandra-node.sh\narchive_command=/usr/bin/cassandra-pitr-archive %path %name\n",
  );
});

t.test("finish removes a file that would be left with comments only", async (t) => {
  const { propsPath, said } = await finishWith("# Written by scripts/cassandra-node.sh\n");
  t.notOk(existsSync(propsPath), "no empty properties file is left for Cassandra to refuse");
  t.ok(
    said.some((l) => l.includes("no setting is left in it")),
    "and finish says why it removed it",
  );
});
