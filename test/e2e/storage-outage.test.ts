/**
 * A storage outage under a steady write load on a real Cassandra node (issue 13): the archive
 * hook talks to S3 (MinIO) through Toxiproxy, with `hookTimeout: 2s` and 1 MiB segments so that
 * Cassandra runs it often. Three phases of steady writes: normal, the endpoint hung (accepts,
 * never answers: Toxiproxy's `timeout` toxic), and the endpoint refused (proxy disabled), with a
 * heal and a drain by the agent after each outage.
 *
 * Asserted (behaviour, not wall clock): during each outage only the first hook tries storage; every
 * later hook spools at once because of the health mark; the agent drains the spool when the proxy
 * heals and clears the mark; nothing is lost (no gap in the archived segment ids); and a
 * point-in-time restore to an instant inside the last outage is exact. The write throughput of each
 * phase is measured and printed (docs/fault-matrix.md), never asserted.
 */
import t from "tap";
import { appendFile, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { CLI, runNode } from "../helpers/hooks.js";
import { startToxiproxy, toxiproxyPort } from "../helpers/toxiproxy.js";
import { requireTarget, uniquePrefix } from "../storage/conformance.js";
import { openBackend } from "../../src/storage/open.js";
import { HEALTH_MARK_FILE } from "../../src/pipeline/health.js";
import { waitFor, type RowRecord } from "../helpers/cassandra.js";
import { listArchived, missingIds, nodeWithHook, readEvents } from "./archive-scenario.js";
import { Clock, KS, createTables, expectOk, idsUpTo, writeRows } from "./restore-scenario.js";

const url = requireTarget("s3", "PITR_TEST_S3_URL");
const PHASE_MS = 15_000;

if (url !== undefined) {
  t.test(
    "storage outage (hung, then refused) under steady writes: hooks spool at once, nothing lost, restore exact",
    async (t) => {
      const endpoint = process.env["CASSANDRA_PITR_S3_ENDPOINT"]!;
      // Ports apart from the fault matrix's, which may run at the same time.
      const toxiproxy = await startToxiproxy(toxiproxyPort() + 5);
      t.teardown(() => toxiproxy.stop());
      const proxy = await toxiproxy.proxy("minio-outage", new URL(endpoint).host, toxiproxyPort() + 6);
      const archiveUrl = `${url}/outage-${uniquePrefix()}`;
      const env = { CASSANDRA_PITR_S3_ENDPOINT: `http://${proxy.listen}` };
      const made = await nodeWithHook(
        t,
        "storage-outage",
        archiveUrl,
        env,
        { hookTimeout: "2s" },
        { segmentSizeMiB: 1 },
      );
      const { node, identity, configFile, logFile } = made;
      await appendFile(configFile, `cassandraConf: ${node.confDir}\n`);
      const processEnv = { ...process.env, ...env };
      const cli = (...args: string[]) => runNode(CLI, [...args, `--config=${configFile}`], processEnv);
      const spoolDir = join(dirname(node.commitlogDir), "cassandra-pitr-spool");
      const backend = await openBackend(archiveUrl, { env: processEnv });
      t.teardown(() => backend.close());

      await createTables(node, ["orders"]);
      const clock = new Clock();
      const rows: RowRecord[] = await writeRows(node, "orders", 1, 300, clock);
      await node.nodetool("flush", KS, "orders");
      await expectOk(t, await cli("snapshot", "-t", "base", KS), "snapshot -t base shop");

      const agent = execa(process.execPath, [CLI, "agent", "--agent-interval=1s", `--config=${configFile}`], {
        env: processEnv,
        extendEnv: false,
        reject: false,
      });
      t.teardown(() => {
        agent.kill("SIGTERM");
        return agent.then(() => undefined);
      });

      let nextId = 1000;
      let timeouts = 0;
      /**
       * One row, written again on a write timeout: the same id, value and client timestamp, so the
       * row is in the oracle exactly once whether or not the timed-out attempt was applied.
       */
      const writeOne = async (id: number, writetime: bigint): Promise<RowRecord> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await node.writeRow(KS, "orders", id, `v${id}-${"p".repeat(2000)}`, writetime);
          } catch (err) {
            const code = (err as { code?: number }).code;
            if (attempt >= 20 || (code !== 0x1100 && code !== 0x1000 && code !== 0x1001)) throw err; // write timeout, unavailable, overloaded
            timeouts++;
          }
        }
      };
      const writeBatch = async (count: number): Promise<number> => {
        const batch = [];
        for (let j = 0; j < count; j++)
          batch.push(writeOne(nextId++, clock.tick(j % 2 === 0 ? 400n : 1300n)));
        rows.push(...(await Promise.all(batch)));
        return count;
      };
      /** Steady writes (batches of 50 concurrent ~2 KB rows) for PHASE_MS; rows/s and write timeouts. */
      const steady = async (label: string): Promise<{ rate: number; timeouts: number }> => {
        const started = Date.now();
        const timeoutsBefore = timeouts;
        let written = 0;
        while (Date.now() - started < PHASE_MS) written += await writeBatch(50);
        t.comment(
          `${label}: ${written} rows in ${Date.now() - started} ms, ${timeouts - timeoutsBefore} write timeouts`,
        );
        return { rate: (written * 1000) / (Date.now() - started), timeouts: timeouts - timeoutsBefore };
      };
      const eventsSoFar = async () => (await readEvents(logFile)).length;
      const spooledSince = async (from: number) =>
        (await readEvents(logFile)).slice(from).filter((e) => e.event === "spooled") as {
          event: string;
          reason?: string;
        }[];
      const drained = async (what: string) =>
        waitFor(
          what,
          async () => {
            const left = (await readdir(spoolDir).catch(() => [] as string[])).filter(
              (n) => n.startsWith("CommitLog") || n === HEALTH_MARK_FILE,
            );
            return left.length === 0;
          },
          240_000,
        );

      const normal = await steady("normal");

      let from = await eventsSoFar();
      await proxy.addToxic("hung", { type: "timeout", attributes: { timeout: 0 } });
      const hung = await steady("hung");
      const hungSpools = await spooledSince(from);
      await proxy.heal();
      await drained("the agent drains the spool after the hung endpoint heals, and clears the mark");

      from = await eventsSoFar();
      await proxy.setEnabled(false);
      const refused = await steady("refused");
      const at = rows[rows.length - 1]!.writetime; // inside the refused outage: restored from spooled segments
      const refusedSpools = await spooledSince(from);

      for (const [label, spools] of [
        ["hung", hungSpools],
        ["refused", refusedSpools],
      ] as const) {
        const tried = spools.filter((e) => !/storage marked unhealthy/.test(e.reason ?? ""));
        t.ok(
          spools.length >= 3,
          `${label}: Cassandra ran the hook for several segments during the outage (${spools.length} spooled)`,
        );
        t.ok(
          tried.length <= 1,
          `${label}: only the first hook tried storage (${tried.length}: ${tried.map((e) => e.reason).join("; ")})`,
        );
        t.ok(
          spools.length - tried.length >= 2,
          `${label}: the others spooled at once on the health mark (${spools.length - tried.length})`,
        );
      }

      // After T: more rows so that T's segment closes and is archived, then heal and drain.
      for (let i = 0; i < 16; i++) await writeBatch(50);
      await node.nodetool("flush", KS, "orders");
      await proxy.heal();
      await drained("the agent drains the spool after the refused endpoint heals, and clears the mark");
      await expectOk(t, await cli("incremental"), "incremental after the outages");
      await node.stop();

      const archived = await listArchived(backend, identity);
      t.same(
        missingIds(archived.map((a) => a.segmentId)),
        [],
        `nothing lost: no gap in the ${archived.length} archived segment ids`,
      );
      t.ok(
        archived.some((a) => a.record.archivedBy === "agent"),
        "some segments were archived by the agent from the spool",
      );

      const expected = idsUpTo(rows, at);
      await expectOk(
        t,
        await cli("restore", "--at", at.toString(), "--grace", "1h"),
        "restore to an instant inside the refused outage",
      );
      await node.start();
      // The oracle: each id's newest client timestamp <= T, compared with writetime() as restored.
      const want = new Map<number, bigint>();
      for (const r of rows)
        if (r.writetime <= at && (want.get(r.id) ?? -1n) < r.writetime) want.set(r.id, r.writetime);
      const got = await node.readRows(KS, "orders");
      t.equal(
        got.length,
        expected.length,
        `row count after restore equals rows with writetime <= T (${expected.length})`,
      );
      t.same(
        got.map((r) => r.id),
        expected,
        "exactly the rows with writetime <= T",
      );
      t.same(
        got.filter((r) => r.writetime !== want.get(r.id)).map((r) => r.id),
        [],
        "each with the writetime written",
      );
      await expectOk(t, await cli("restore", "finish"), "restore finish");

      const share = (x: { rate: number }) => `${((100 * x.rate) / normal.rate).toFixed(0)} %`;
      const tried = (spools: { reason?: string }[]) =>
        spools.filter((e) => !/marked unhealthy/.test(e.reason ?? "")).length;
      t.comment(
        [
          "write throughput (rows/s, 50 concurrent ~2 KB inserts, 1 MiB segments, hookTimeout 2s):",
          `| phase | rows/s | share of normal | write timeouts (retried) | segments spooled | hooks that tried storage |`,
          `|---|---|---|---|---|---|`,
          `| normal | ${normal.rate.toFixed(0)} | 100 % | ${normal.timeouts} | - | - |`,
          `| hung (timeout toxic) | ${hung.rate.toFixed(0)} | ${share(hung)} | ${hung.timeouts} | ${hungSpools.length} | ${tried(hungSpools)} |`,
          `| refused (proxy down) | ${refused.rate.toFixed(0)} | ${share(refused)} | ${refused.timeouts} | ${refusedSpools.length} | ${tried(refusedSpools)} |`,
        ].join("\n"),
      );
    },
  );
}
