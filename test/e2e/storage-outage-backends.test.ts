/**
 * A hung storage endpoint under a steady write load on a real Cassandra node, for GCS
 * (fake-gcs-server) and Azure Blob (Azurite), each behind Toxiproxy (issue 13 item 4; S3 is in
 * storage-outage.test.ts). One node for both: its hook reads the config file at every run, so the
 * archive setting moves from the GCS archive to the Azure one between the two rounds (the agent is
 * restarted with it). Each round: steady writes with storage normal, then with the endpoint hung
 * (Toxiproxy's `timeout` toxic: accepts, never answers), then the heal and the agent's drain.
 *
 * Asserted (behaviour, not wall clock): during the hung phase at most one hook tried storage and the
 * others spooled at once on the health mark; the agent drained the spool and cleared the mark after
 * the heal; no segment id is missing from the round's archive. The write throughput of each phase
 * is measured and printed (docs/fault-matrix.md), never asserted.
 */
import t, { type Test } from "tap";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { CLI } from "../helpers/hooks.js";
import { startToxiproxy, toxiproxyPort, type Proxy } from "../helpers/toxiproxy.js";
import { requireTarget, uniquePrefix } from "../storage/conformance.js";
import { openBackend } from "../../src/storage/open.js";
import { HEALTH_MARK_FILE } from "../../src/pipeline/health.js";
import { waitFor, type CassandraNode } from "../helpers/cassandra.js";
import { listArchived, missingIds, nodeWithHook, readEvents } from "./archive-scenario.js";
import { Clock, KS, createTables } from "./restore-scenario.js";
import type { NodeIdentity } from "../../src/format/layout.js";

const gcsUrl = requireTarget("gcs", "PITR_TEST_GCS_URL");
const azureUrl = requireTarget("azure", "PITR_TEST_AZURE_URL");
const PHASE_MS = 15_000;

interface Round {
  readonly label: string;
  readonly archiveUrl: string;
  readonly proxy: Proxy;
}

interface Measured {
  label: string;
  normal: number;
  hung: number;
  timeouts: number;
  spooled: number;
  tried: number;
}

if (gcsUrl !== undefined && azureUrl !== undefined) {
  t.test(
    "hung endpoint under steady writes on GCS and Azure: hooks spool at once, nothing lost, throughput kept",
    async (t) => {
      const gcsHost = new URL(process.env["STORAGE_EMULATOR_HOST"]!).host;
      const azureEndpoint = new URL(process.env["CASSANDRA_PITR_AZURE_ENDPOINT"]!);
      // Ports apart from the fault matrices' and storage-outage's, which may run at the same time.
      const toxiproxy = await startToxiproxy(toxiproxyPort() + 15);
      t.teardown(() => toxiproxy.stop());
      const gcsProxy = await toxiproxy.proxy("gcs-outage", gcsHost, toxiproxyPort() + 16);
      const azureProxy = await toxiproxy.proxy("azure-outage", azureEndpoint.host, toxiproxyPort() + 17);
      const env = {
        STORAGE_EMULATOR_HOST: `http://${gcsProxy.listen}`,
        CASSANDRA_PITR_AZURE_ENDPOINT: `http://${azureProxy.listen}${azureEndpoint.pathname}`,
      };
      const rounds: Round[] = [
        { label: "gcs", archiveUrl: `${gcsUrl}/outage-${uniquePrefix()}`, proxy: gcsProxy },
        { label: "azure", archiveUrl: `${azureUrl}/outage-${uniquePrefix()}`, proxy: azureProxy },
      ];
      const made = await nodeWithHook(
        t,
        "outage-backends",
        rounds[0]!.archiveUrl,
        env,
        { hookTimeout: "2s" },
        { segmentSizeMiB: 1 },
      );
      const processEnv = { ...process.env, ...env };
      await createTables(made.node, ["orders"]);
      const writer = new SteadyWriter(made.node);
      const results: Measured[] = [];
      for (const round of rounds) {
        await useArchive(made.configFile, round.archiveUrl);
        results.push(await hungRound(t, round, made, processEnv, writer));
      }
      await made.node.stop();
      t.comment(
        [
          "write throughput under a hung endpoint (rows/s, 50 concurrent ~2 KB inserts, 1 MiB segments, hookTimeout 2s):",
          "| backend | normal rows/s | hung rows/s | share of normal | write timeouts (retried) | segments spooled | hooks that tried storage |",
          "|---|---|---|---|---|---|---|",
          ...results.map(
            (r) =>
              `| ${r.label} | ${r.normal.toFixed(0)} | ${r.hung.toFixed(0)} | ${((100 * r.hung) / r.normal).toFixed(0)} % | ${r.timeouts} | ${r.spooled} | ${r.tried} |`,
          ),
        ].join("\n"),
      );
    },
  );
}

/** The hook reads the config at every run: pointing `archive` elsewhere moves the next segments there. */
async function useArchive(configFile: string, url: string): Promise<void> {
  const text = await readFile(configFile, "utf8");
  if (!/^archive: .*$/m.test(text)) throw new Error(`${configFile} has no archive line`);
  await writeFile(configFile, text.replace(/^archive: .*$/m, `archive: ${url}`));
}

async function hungRound(
  t: Test,
  round: Round,
  made: { node: CassandraNode; identity: NodeIdentity; configFile: string; logFile: string },
  processEnv: NodeJS.ProcessEnv,
  writer: SteadyWriter,
): Promise<Measured> {
  const spoolDir = join(dirname(made.node.commitlogDir), "cassandra-pitr-spool");
  const agent = execa(
    process.execPath,
    [CLI, "agent", "--agent-interval=1s", `--config=${made.configFile}`],
    { env: processEnv, extendEnv: false, reject: false },
  );
  const firstId = writer.nextId;
  const normal = await writer.steady(t, `${round.label} normal`, PHASE_MS);
  const from = (await readEvents(made.logFile)).length;
  await round.proxy.addToxic("hung", { type: "timeout", attributes: { timeout: 0 } });
  const hung = await writer.steady(t, `${round.label} hung`, PHASE_MS);
  const spools = (await readEvents(made.logFile)).slice(from).filter((e) => e.event === "spooled") as {
    reason?: string;
  }[];
  const tried = spools.filter((e) => !/storage marked unhealthy/.test(e.reason ?? "")).length;
  t.ok(
    spools.length >= 3,
    `${round.label}: Cassandra ran the hook for several segments during the outage (${spools.length} spooled)`,
  );
  t.ok(tried <= 1, `${round.label}: at most the first hook tried storage (${tried})`);
  await round.proxy.heal();
  for (let i = 0; i < 8; i++) await writer.batch(); // the segment open at the heal closes and is archived
  await waitFor(
    `${round.label}: the agent drains the spool after the heal and clears the mark`,
    async () => {
      const left = (await readdir(spoolDir).catch(() => [] as string[])).filter(
        (n) => n.startsWith("CommitLog") || n === HEALTH_MARK_FILE,
      );
      return left.length === 0;
    },
    240_000,
  );
  agent.kill("SIGTERM");
  await agent;
  const backend = await openBackend(round.archiveUrl, { env: processEnv });
  try {
    const archived = await listArchived(backend, made.identity);
    t.ok(
      archived.length >= 5,
      `${round.label}: segments archived in this round (${archived.length}, rows from id ${firstId})`,
    );
    t.same(
      missingIds(archived.map((a) => a.segmentId)),
      [],
      `${round.label}: nothing lost: no gap in the archived segment ids`,
    );
    t.ok(
      archived.some((a) => a.record.archivedBy === "agent"),
      `${round.label}: some segments were archived by the agent from the spool`,
    );
  } finally {
    await backend.close();
  }
  return {
    label: round.label,
    normal: normal.rate,
    hung: hung.rate,
    timeouts: normal.timeouts + hung.timeouts,
    spooled: spools.length,
    tried,
  };
}

/** Batches of 50 concurrent ~2 KB inserts with explicit client timestamps; a write timeout is retried with the same id, value and timestamp. */
class SteadyWriter {
  nextId = 1;
  private timeouts = 0;
  private readonly clock = new Clock();
  constructor(private readonly node: CassandraNode) {}

  private async writeOne(id: number, writetime: bigint): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.node.writeRow(KS, "orders", id, `v${id}-${"p".repeat(2000)}`, writetime);
        return;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (attempt >= 20 || (code !== 0x1100 && code !== 0x1000 && code !== 0x1001)) throw err; // write timeout, unavailable, overloaded
        this.timeouts++;
      }
    }
  }

  async batch(): Promise<number> {
    const writes = [];
    for (let j = 0; j < 50; j++)
      writes.push(this.writeOne(this.nextId++, this.clock.tick(j % 2 === 0 ? 400n : 1300n)));
    await Promise.all(writes);
    return 50;
  }

  /** Rows/s over `ms` of steady batches, and the write timeouts met. */
  async steady(t: Test, label: string, ms: number): Promise<{ rate: number; timeouts: number }> {
    const started = Date.now();
    const before = this.timeouts;
    let written = 0;
    while (Date.now() - started < ms) written += await this.batch();
    t.comment(
      `${label}: ${written} rows in ${Date.now() - started} ms, ${this.timeouts - before} write timeouts`,
    );
    return { rate: (written * 1000) / (Date.now() - started), timeouts: this.timeouts - before };
  }
}
