/**
 * The archive hook and the agent against S3 (MinIO) through a real fault proxy (Toxiproxy), one
 * cell per fault: added latency, a bandwidth limit, a connection reset in the middle of the upload
 * body, a connection that accepts and never answers (hung), and the endpoint down (refused).
 *
 * For each cell: the hooks' exit statuses as documented (0: archived or spooled; 16 without the
 * spool fallback), each hook within its bound (hookTimeout + 15 s grace), the health mark set by an
 * outage so the next hook spools without trying storage, the agent stopping cleanly while the fault
 * lasts, and after the proxy heals one agent pass drains everything: every segment in the archive
 * with its original bytes, nothing lost, no temporary object or unfinished multipart upload left.
 * The matrix is printed as a table (docs/fault-matrix.md keeps a copy).
 */
import t, { type Test } from "tap";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { decompress } from "zstd-napi";
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { segmentFixtures } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, CLI, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";
import { startToxiproxy, toxiproxyPort, type Proxy, type Toxic } from "../helpers/toxiproxy.js";
import { requireTarget, uniquePrefix } from "../storage/conformance.js";
import { HEALTH_MARK_FILE } from "../../src/pipeline/health.js";
import { WATCHDOG_GRACE_MS } from "../../src/pipeline/hook.js";

const url = requireTarget("s3", "PITR_TEST_S3_URL");
/** Outage cells: a short budget keeps the hung cell quick. Slow cells: the default budget, so that
 * a loaded machine does not turn "slow" into "spooled" (the assertion is about behaviour). */
const OUTAGE_HOOK_TIMEOUT_MS = 3000;
const SLOW_HOOK_TIMEOUT_MS = 20_000;

interface Cell {
  readonly name: string;
  /** Applies the fault to the proxy. */
  readonly apply: (p: Proxy) => Promise<void>;
  /** Whether storage is out for the hook (it must spool and set the mark) or only slow. */
  readonly outage: boolean;
}

const toxic = (type: Toxic["type"], attributes: Record<string, number>, stream: Toxic["stream"] = "downstream"): Toxic => ({ type, attributes, stream });

const CELLS: Cell[] = [
  { name: "latency 300 ms", outage: false, apply: (p) => p.addToxic("f", toxic("latency", { latency: 300, jitter: 50 })) },
  { name: "bandwidth 256 KB/s", outage: false, apply: (p) => p.addToxic("f", toxic("bandwidth", { rate: 256 }, "upstream")) },
  // Every connection is cut after 4 KB of request: mid-body for any segment upload, every retry.
  { name: "reset mid-upload", outage: true, apply: (p) => p.addToxic("f", toxic("limit_data", { bytes: 4096 }, "upstream")) },
  { name: "hung (accepts, never answers)", outage: true, apply: (p) => p.addToxic("f", toxic("timeout", { timeout: 0 })) },
  { name: "down (refused)", outage: true, apply: (p) => p.setEnabled(false) },
];

interface Row {
  cell: string;
  exits: string;
  archivedByHook: number;
  spooled: number;
  markSet: boolean;
  atOnce: boolean;
  worstHookMs: number;
  archivedAfterHeal: number;
  lost: number;
  leftovers: number;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

if (url !== undefined) {
  const endpoint = process.env["CASSANDRA_PITR_S3_ENDPOINT"];
  if (!endpoint) throw new Error("CASSANDRA_PITR_S3_ENDPOINT is not set");
  const bucket = new URL(url).host;
  const s3 = new S3Client({ endpoint, forcePathStyle: true, region: process.env["AWS_REGION"] ?? "us-east-1" });
  const rows: Row[] = [];

  t.test("fault matrix: archive hook and agent on S3 through Toxiproxy", async (t) => {
    const toxiproxy = await startToxiproxy(toxiproxyPort());
    t.teardown(() => toxiproxy.stop());
    const proxy = await toxiproxy.proxy("minio", new URL(endpoint).host, toxiproxyPort() + 1);
    const fixtures = await segmentFixtures("v7");
    for (const [i, cell] of CELLS.entries()) {
      await t.test(cell.name, (t) => runCell(t, cell, i, proxy, fixtures));
    }
    t.comment(matrixTable(rows));
  });
  t.teardown(() => s3.destroy());

  async function runCell(t: Test, cell: Cell, index: number, proxy: Proxy, fixtures: Awaited<ReturnType<typeof segmentFixtures>>) {
    const root = await tempDir("faults");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const commitlog = join(root, "commitlog");
    const spool = join(root, "spool");
    await mkdir(commitlog);
    const prefix = `${new URL(url!).pathname.slice(1)}/${uniquePrefix()}`;
    const node = `6b1e5a3c-0000-4000-8000-0000000fa${String(index).padStart(3, "0")}`;
    const hookTimeoutMs = cell.outage ? OUTAGE_HOOK_TIMEOUT_MS : SLOW_HOOK_TIMEOUT_MS;
    const env = cleanEnv({
      CASSANDRA_PITR_ARCHIVE: `s3://${bucket}/${prefix}`,
      CASSANDRA_PITR_S3_ENDPOINT: `http://${proxy.listen}`,
      CASSANDRA_PITR_CLUSTER: "Fault Cluster",
      CASSANDRA_PITR_NODE: node,
      CASSANDRA_PITR_SPOOL_DIR: spool,
      CASSANDRA_PITR_HOOK_TIMEOUT: `${hookTimeoutMs}ms`,
      CASSANDRA_PITR_COMPRESSION_LEVEL: "-7", // little compression: the body is large enough to cut mid-way
    });
    const paths: string[] = [];
    for (const f of fixtures) {
      paths.push(join(commitlog, f.name));
      await copyFile(f.path, paths.at(-1)!);
    }

    await cell.apply(proxy);
    const exits: number[] = [];
    const lines: string[] = [];
    let worst = 0;
    for (const [i, f] of fixtures.entries()) {
      const started = process.hrtime.bigint();
      const ran = await runNode(ARCHIVE_HOOK, [paths[i]!, f.name], env);
      worst = Math.max(worst, Number((process.hrtime.bigint() - started) / 1_000_000n));
      exits.push(ran.exitCode);
      lines.push(ran.stderr);
      t.ok(ran.lines.length <= 1, `${f.name}: at most one line`);
    }
    t.same(exits, fixtures.map(() => 0), "every hook exits 0 (archived or durably spooled)");
    t.ok(worst <= hookTimeoutMs + WATCHDOG_GRACE_MS, `every hook within its bound (hookTimeout + grace; worst ${worst} ms)`);
    const spooledNames = (await readdir(spool).catch(() => [] as string[])).filter((n) => n.startsWith("CommitLog"));
    const markSet = await stat(join(spool, HEALTH_MARK_FILE)).then(() => true, () => false);
    const atOnce = lines.slice(1).every((l) => /storage marked unhealthy/.test(l));
    if (cell.outage) {
      t.equal(spooledNames.length, fixtures.length, "outage: every segment spooled");
      t.ok(markSet, "outage: the health mark is set");
      t.ok(atOnce, "outage: the hooks after the first spooled without trying storage");
      t.notMatch(lines[0]!, /storage marked unhealthy/, "the first hook tried storage");
      const strict = await runNode(ARCHIVE_HOOK, [paths[0]!, fixtures[0]!.name], { ...env, CASSANDRA_PITR_SPOOL_FALLBACK: "false" });
      t.equal(strict.exitCode, 16, "spoolFallback false: exit 16 (storage unavailable), the mark ignored");
      await agentWhileFaulty(t, env, spool, fixtures.length);
    } else {
      t.equal(spooledNames.length, 0, "slow but up: nothing spooled, the hooks uploaded");
      t.notOk(markSet, "no health mark");
    }

    await proxy.heal();
    const drained = await runNode(CLI, ["agent", "--once"], env);
    t.equal(drained.exitCode, 0, "healed: agent --once exits 0");
    t.same((await readdir(spool).catch(() => [] as string[])).filter((n) => n.startsWith("CommitLog") || n === HEALTH_MARK_FILE), [], "spool drained and the mark cleared");
    const archived = await archivedShas(prefix);
    const lost = fixtures.filter((f) => !archived.includes(f.sha256)).length;
    t.equal(lost, 0, "nothing lost: every segment in the archive with its original bytes");
    const leftovers = await leftoversUnder(prefix);
    t.same(leftovers, [], "no temporary object and no unfinished multipart upload");
    rows.push({
      cell: cell.name,
      exits: [...new Set(exits)].join(","),
      archivedByHook: fixtures.length - spooledNames.length,
      spooled: spooledNames.length,
      markSet,
      atOnce: cell.outage ? atOnce : false,
      worstHookMs: worst,
      archivedAfterHeal: archived.length,
      lost,
      leftovers: leftovers.length,
    });
  }

  /** While the fault lasts, the agent makes no progress and drops nothing; SIGTERM stops it at once. */
  async function agentWhileFaulty(t: Test, env: NodeJS.ProcessEnv, spool: string, count: number) {
    const agent = execa(process.execPath, [CLI, "agent", "--agent-interval=1s"], { env, extendEnv: false, reject: false });
    await new Promise((r) => setTimeout(r, 2500));
    agent.kill("SIGTERM");
    const done = await agent;
    t.equal(done.exitCode, 143, "agent during the fault: SIGTERM ends it with 143");
    const left = (await readdir(spool)).filter((n) => n.startsWith("CommitLog")).length;
    t.equal(left, count, "agent during the fault: nothing dropped from the spool");
    t.ok(await stat(join(spool, HEALTH_MARK_FILE)).then(() => true, () => false), "agent during the fault: the mark stays");
  }

  async function archivedShas(prefix: string): Promise<string[]> {
    const keys = await listKeys(prefix);
    const out: string[] = [];
    for (const key of keys.filter((k) => k.endsWith(".log.zst"))) {
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      out.push(sha256(decompress(Buffer.from(await body.Body!.transformToByteArray()))));
    }
    return out;
  }

  async function leftoversUnder(prefix: string): Promise<string[]> {
    const temps = (await listKeys(prefix)).filter((k) => /\.tmp|\.part|\.claim/.test(k));
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return [...temps, ...(uploads.Uploads ?? []).map((u) => `multipart:${u.Key}`)];
  }

  async function listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((c) => c.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys;
  }
}

function matrixTable(rows: Row[]): string {
  const head = "| fault | hook exits | archived by hook | spooled | mark set | later hooks spooled at once | worst hook ms | archived after heal | lost | left behind |";
  const sep = "|---|---|---|---|---|---|---|---|---|---|";
  const body = rows.map((r) =>
    `| ${r.cell} | ${r.exits} | ${r.archivedByHook} | ${r.spooled} | ${r.markSet ? "yes" : "no"} | ${r.atOnce ? "yes" : "-"} | ${r.worstHookMs} | ${r.archivedAfterHeal} | ${r.lost} | ${r.leftovers} |`,
  );
  return ["fault matrix (S3 = MinIO behind Toxiproxy):", head, sep, ...body].join("\n");
}
