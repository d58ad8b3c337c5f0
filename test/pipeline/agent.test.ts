/** The agent as a process: metrics on /metrics from the real archive, and a clean stop on SIGTERM. */
import t from "tap";
import { execa } from "execa";
import { createServer } from "node:net";
import { CLI } from "../helpers/hooks.js";
import { pitrArchive } from "../helpers/pitr-archive.js";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

t.test("agent: Prometheus metrics with the restorable window; SIGTERM stops it cleanly", async (t) => {
  const s = await pitrArchive({ shiftToNow: true }); // the metrics look at the last week
  const port = await freePort();
  const agent = execa(
    process.execPath,
    [CLI, "agent", `--metrics-listen=127.0.0.1:${port}`, "--agent-interval=1s"],
    { env: s.env, extendEnv: false, reject: false },
  );
  let body = "";
  for (let i = 0; i < 100 && !body.includes("restorable"); i++) {
    await new Promise((r) => setTimeout(r, 200));
    body = await fetch(`http://127.0.0.1:${port}/metrics`).then(
      (r) => r.text(),
      () => "",
    );
  }
  t.match(
    body,
    /^cassandra_pitr_spool_segments\{cluster="executor-test",node="[0-9a-f-]{36}"\} 0$/m,
    "spool backlog (count)",
  );
  t.match(body, /^cassandra_pitr_spool_bytes\{.*\} 0$/m, "spool backlog (bytes)");
  t.match(body, /^cassandra_pitr_archive_failures_total\{.*\} 0$/m, "archive failures");
  t.match(
    body,
    /^cassandra_pitr_newest_segment_age_seconds\{.*\} \d+(\.\d+)?$/m,
    "newest archived segment age",
  );
  t.match(
    body,
    /^cassandra_pitr_newest_restorable_timestamp_seconds\{.*\} \d{10}\.\d{3}$/m,
    "newest restorable instant",
  );
  t.match(body, /^cassandra_pitr_restorable_window_seconds\{.*\} \d+\.\d{3}$/m, "restorable window length");
  agent.kill("SIGTERM");
  const done = await agent;
  t.equal(done.exitCode, 143, "SIGTERM: exit 143");
  t.equal(String(done.stderr ?? ""), "", "and nothing on stderr");
});
