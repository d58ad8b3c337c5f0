/** `report` through the CLI entry point: bad input gives one clear line and a documented exit status. */
import t from "tap";
import { main } from "../../src/cli/main.js";
import { openBackend } from "../../src/storage/open.js";
import { buildArchive, DAY, T0 } from "../prune/archive.js";

async function cli(args: string[], archive: string): Promise<{ status: number; err: string; out: string }> {
  let err = "";
  let out = "";
  const we = process.stderr.write.bind(process.stderr);
  const wo = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    const status = await main(args, {
      CASSANDRA_PITR_ARCHIVE: archive,
      CASSANDRA_PITR_CLUSTER: "prod",
      CASSANDRA_PITR_NODE: "host-p",
    });
    return { status, err, out };
  } finally {
    process.stderr.write = we;
    process.stdout.write = wo;
  }
}

t.test("report: bad input and empty archives", async (t) => {
  const b = await openBackend("mem://report-cli");
  await buildArchive(b, 2);
  const since = new Date(T0 + DAY).toISOString();
  const until = new Date(T0 + 2 * DAY).toISOString();

  let r = await cli(
    ["report", "--target-rpo", "soon", "--since", since, "--until", until],
    "mem://report-cli",
  );
  t.equal(r.status, 2);
  t.match(r.err, /'soon' is not a duration/, r.err);

  r = await cli(["report", "--node", "nope", "--since", since, "--until", until], "mem://report-cli");
  t.equal(r.status, 14);
  t.match(r.err, /unknown node\(s\) 'nope'.*\n.*nodes in the archive: host-p/);

  r = await cli(["report", "--since", since, "--until", until], "mem://report-cli-empty");
  t.equal(r.status, 14);
  t.match(r.err, /holds no node of cluster 'prod'/);

  r = await cli(
    ["report", "--since", "2020-01-01T00:00:00Z", "--until", "2020-01-02T00:00:00Z"],
    "mem://report-cli",
  );
  t.equal(r.status, 14);
  t.match(r.err, /no data for 2020-01-01/);

  r = await cli(["report", "--since", until, "--until", since], "mem://report-cli");
  t.equal(r.status, 2);
  t.match(r.err, /the window is empty/);

  r = await cli(
    ["report", "--since", since, "--until", until, "--target-rpo", "15m", "--format", "json"],
    "mem://report-cli",
  );
  t.ok([0, 3].includes(r.status), `exit ${r.status}: 3 only when a check failed`);
  const doc = JSON.parse(r.out) as {
    schema_version: number;
    nodes: { node: string; rpo: { within_target_share: number } }[];
  };
  t.equal(doc.schema_version, 1);
  t.equal(doc.nodes[0]!.node, "host-p");
});

t.test(
  "report: the default window starts when the node's archive starts, not a week before --until",
  async (t) => {
    const b = await openBackend("mem://report-cli-start");
    await buildArchive(b, 2); // segments every 10 min from T0 + 10 min, a daily snapshot at T0 + 1 h
    const until = new Date(T0 + 2 * DAY).toISOString();
    const r = await cli(["report", "--until", until, "--format", "json"], "mem://report-cli-start");
    t.ok([0, 3].includes(r.status), `exit ${r.status}`);
    const doc = JSON.parse(r.out) as { window: { from_at: string; to_at: string } };
    t.equal(
      doc.window.from_at,
      new Date(T0 + 600_000).toISOString(),
      "from the first archived segment's close time",
    );
    t.equal(doc.window.to_at, until);

    const older = await cli(
      ["report", "--until", new Date(T0 + 20 * DAY).toISOString(), "--format", "json"],
      "mem://report-cli-start",
    );
    const week = JSON.parse(older.out) as { window: { from_at: string } };
    t.equal(
      week.window.from_at,
      new Date(T0 + 13 * DAY).toISOString(),
      "an archive older than a week: the week before --until",
    );

    const given = await cli(
      ["report", "--since", new Date(T0 - DAY).toISOString(), "--until", until, "--format", "json"],
      "mem://report-cli-start",
    );
    t.equal(
      (JSON.parse(given.out) as { window: { from_at: string } }).window.from_at,
      new Date(T0 - DAY).toISOString(),
      "--since is taken as given",
    );
  },
);
