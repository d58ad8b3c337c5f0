/** The README's first command must work: the demo runs on the fixtures with file:// only. */
import t from "tap";
import { execa } from "execa";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { REPO } from "./helpers/cassandra.js";

t.test("npm run demo: archive, list, restore byte for byte, snapshot, window, plan", async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, CASSANDRA_PITR_DEMO_NO_BUILD: "1" };
  for (const k of Object.keys(env))
    if (k.startsWith("CASSANDRA_PITR_") && k !== "CASSANDRA_PITR_DEMO_NO_BUILD") delete env[k];
  const r = await execa("bash", [join(REPO, "scripts/demo.sh")], { env, reject: false, all: true });
  t.equal(r.exitCode, 0, "the demo exits 0");
  const out = r.all ?? "";
  t.equal(
    (out.match(/exit 0 {2}\d+ ms/g) ?? []).length,
    4,
    "four real segments archived through the hook, each exit 0",
  );
  t.match(out, /again .*exit 0/, "re-archiving is a success");
  t.match(out, /4 segment\(s\) of pitr-demo\//, "the archive lists them");
  t.match(out, /byte-for-byte identical/, "the restored segment equals the original");
  t.match(out, /restorable window: \S+ \.\. \S+ \(from snapshot 'demo'\)/, "the restorable window is listed");
  t.match(
    out,
    /restore_point_in_time=\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}\.\d{6}/,
    "the plan states the exact restore_point_in_time",
  );
  t.match(
    out,
    /restore_command=\S+\/dist\/bin\/restore-hook\.js --config=\S+ %from %to/,
    "the plan shows the restore_command restore will write, not a placeholder",
  );
  t.match(
    out,
    /segments closed 2026-11-21T\S+ \.\. 2026-11-21T\S+ \(searched /,
    "list describes the segments it found, and names the searched window as such",
  );
  t.match(out, /4 segment\(s\) of \S+ closed 2026-11-21T\S+ \.\. 2026-11-21T\S+ \(searched /, "segments too");
  t.notMatch(out, /cassandra-pitr: warning|nodetool info -T/, "no warning noise");
  t.equal((out.match(/^ {3}proved: /gm) ?? []).length, 7, "each of the seven steps says what it proved");
  t.match(out, /compliance report .* target RPO 15m/, "the compliance report is printed");
  t.match(
    out,
    /RPO: 9\d\.\d\d% of the window within 15m; .* 1 breach window\(s\)/,
    "a healthy week with exactly one breach",
  );
  t.match(
    out,
    /2026-\S+ \.\. \S+ \(2h\d+m\d+s\), peak 2h\d+m\d+s: archive-lag: segment \d+ closed \S+ reached the archive/,
    "the breach is the outage, with its length, peak and cause",
  );
  t.match(
    out,
    /report exit status 3: 3 means the RPO target was breached, here once/,
    "the exit status is explained",
  );
  const html = await readFile(join(REPO, ".tmp/demo/report.html"), "utf8");
  t.match(html, /<svg/, "and written as an HTML page with charts");
  t.match(await readFile(join(REPO, ".tmp/demo/report.md"), "utf8"), /\| rpo-target \|/, "and as Markdown");
});
