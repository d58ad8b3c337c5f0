/**
 * The fault matrix (issue 13 item 4), shared by one test file per backend: the compiled archive
 * hook and the agent against a real storage server (MinIO, fake-gcs-server, Azurite) through a real
 * fault proxy (Toxiproxy), one cell per fault. docs/fault-matrix.md has the printed tables.
 *
 * Cells: added latency, a bandwidth limit, a slow close, a connection reset in the middle of the
 * upload body, a connection that accepts and never answers (hung), the endpoint down (refused);
 * 5xx and throttling answers, which Toxiproxy (a TCP proxy) cannot make, from a small in-test HTTP
 * proxy in front of the same server; SIGKILL of the hook and of the agent at random points of an
 * upload; a full spool filesystem (a real tmpfs with no blocks and no inodes left when the tests
 * run as root, else ENOSPC injected into `link`); and concurrent hooks for the same segment.
 *
 * For each cell: the hooks' exit statuses, segments archived by the hook, spooled, lost (must be
 * 0: every segment in the archive with its original bytes after the heal and one agent pass), the
 * worst hook wall time against its bound (hookTimeout + 15 s grace), and what was left behind
 * (temporary objects, unfinished multipart uploads).
 */
import type { Test } from "tap";
import { createHash, randomInt } from "node:crypto";
import { once } from "node:events";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import { copyFile, mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, execaSync } from "execa";
import { decompress } from "zstd-napi";
import { segmentFixtures, type SegmentFixture } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, CLI, cleanEnv, runNode, tempDir, type Ran } from "../helpers/hooks.js";
import { startToxiproxy, type Proxy, type Toxic } from "../helpers/toxiproxy.js";
import { uniquePrefix } from "../storage/conformance.js";
import { HEALTH_MARK_FILE } from "../../src/pipeline/health.js";
import { WATCHDOG_GRACE_MS } from "../../src/pipeline/hook.js";
import { parseSegmentKey } from "../../src/format/layout.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend } from "../../src/storage/types.js";

/** Outage cells: a short budget keeps the hung cell quick. Slow cells: the default budget, so a loaded machine does not turn "slow" into "spooled". */
const OUTAGE_HOOK_TIMEOUT_MS = 3000;
const SLOW_HOOK_TIMEOUT_MS = 20_000;

/** One backend behind the proxies: its archive URL, its server, and how a client is pointed at a proxy. */
export interface MatrixTarget {
  readonly label: string;
  /** Base archive URL (a unique prefix is added per cell). */
  readonly url: string;
  /** host:port of the real server. */
  readonly upstream: string;
  /** The environment that sends the hook and the agent to `hostPort` instead of the server. */
  readonly via: (hostPort: string) => Record<string, string>;
  /** The body of an injected error answer, in the service's own format. */
  readonly errorBody: (status: number) => { type: string; body: string };
  /** Unfinished uploads the service keeps outside the listing (S3 multipart), as keys. */
  readonly pendingUploads?: (prefix: string) => Promise<string[]>;
  /** The Toxiproxy API port; the next three: the Toxiproxy proxy, the HTTP fault proxy, the agent's metrics. */
  readonly toxiproxyPort: number;
}

interface Row {
  cell: string;
  exits: string;
  archivedByHook: number;
  spooled: number;
  kept: number;
  lost: number;
  worstHookMs: number;
  boundMs: number;
  leftovers: number;
  note: string;
}

interface CellContext {
  readonly t: Test;
  readonly target: MatrixTarget;
  readonly toxic: Proxy;
  readonly http: HttpFaultProxy;
  readonly fixtures: readonly SegmentFixture[];
  readonly index: number;
}

interface Cell {
  readonly name: string;
  readonly run: (c: CellContext) => Promise<Row>;
}

const toxic = (
  type: Toxic["type"],
  attributes: Record<string, number>,
  stream: Toxic["stream"] = "downstream",
): Toxic => ({ type, attributes, stream });

/** Everything one cell works in: a commit log directory with the fixtures, a spool, a unique archive prefix. */
interface Bench {
  readonly root: string;
  readonly commitlog: string;
  readonly spool: string;
  readonly paths: string[];
  readonly prefix: string;
  readonly archiveUrl: string;
  readonly env: (endpoint: string, extra?: Record<string, string | undefined>) => NodeJS.ProcessEnv;
  readonly hookTimeoutMs: number;
}

async function bench(c: CellContext, hookTimeoutMs: number, root?: string): Promise<Bench> {
  const dir = root ?? (await tempDir("faults"));
  if (!root) c.t.teardown(() => rm(dir, { recursive: true, force: true }));
  const commitlog = join(dir, "commitlog");
  const spool = join(dir, "spool");
  await mkdir(commitlog, { recursive: true });
  const paths: string[] = [];
  for (const f of c.fixtures) {
    paths.push(join(commitlog, f.name));
    await copyFile(f.path, paths.at(-1)!);
  }
  const unique = uniquePrefix();
  const archiveUrl = `${c.target.url}/${unique}`;
  const node = `6b1e5a3c-0000-4000-8000-0000000fa${String(c.index).padStart(3, "0")}`;
  const env = (endpoint: string, extra: Record<string, string | undefined> = {}) =>
    cleanEnv({
      ...c.target.via(endpoint),
      CASSANDRA_PITR_ARCHIVE: archiveUrl,
      CASSANDRA_PITR_CLUSTER: "Fault Cluster",
      CASSANDRA_PITR_NODE: node,
      CASSANDRA_PITR_SPOOL_DIR: spool,
      CASSANDRA_PITR_HOOK_TIMEOUT: `${hookTimeoutMs}ms`,
      CASSANDRA_PITR_COMPRESSION_LEVEL: "-7", // little compression: the body is large enough to cut mid-way
      ...extra,
    });
  return { root: dir, commitlog, spool, paths, prefix: unique, archiveUrl, env, hookTimeoutMs };
}

/** Runs the hook on every fixture in turn (as Cassandra does: one at a time), timing each. */
async function hooks(
  c: CellContext,
  b: Bench,
  env: NodeJS.ProcessEnv,
): Promise<{ exits: number[]; lines: string[]; worst: number }> {
  const exits: number[] = [];
  const lines: string[] = [];
  let worst = 0;
  for (const [i, f] of c.fixtures.entries()) {
    const ran = await timed(() => runNode(ARCHIVE_HOOK, [b.paths[i]!, f.name], env));
    worst = Math.max(worst, ran.ms);
    exits.push(ran.ran.exitCode);
    lines.push(ran.ran.stderr);
    c.t.ok(ran.ran.lines.length <= 2, `${f.name}: at most one line and a hint`);
  }
  return { exits, lines, worst };
}

async function timed(run: () => Promise<Ran>): Promise<{ ran: Ran; ms: number }> {
  const started = process.hrtime.bigint();
  const ran = await run();
  return { ran, ms: Number((process.hrtime.bigint() - started) / 1_000_000n) };
}

const spooledIn = async (spool: string) =>
  (await readdir(spool).catch(() => [] as string[])).filter((n) => n.startsWith("CommitLog"));
const markIn = async (spool: string) =>
  stat(join(spool, HEALTH_MARK_FILE)).then(
    () => true,
    () => false,
  );

/** After the heal: one agent pass; every segment in the archive with its original bytes; what was left behind. */
async function settle(
  c: CellContext,
  b: Bench,
  endpoint: string,
  extra: Record<string, string | undefined> = {},
): Promise<{ lost: number; leftovers: string[] }> {
  const drained = await runNode(CLI, ["agent", "--once"], b.env(endpoint, extra));
  c.t.equal(drained.exitCode, 0, `healed: agent --once exits 0 ${drained.stderr.split("\n")[0] ?? ""}`);
  c.t.same(
    (await readdir(b.spool).catch(() => [] as string[])).filter(
      (n) => n.startsWith("CommitLog") || n === HEALTH_MARK_FILE,
    ),
    [],
    "spool drained and the mark cleared",
  );
  const direct = await openBackend(b.archiveUrl, { env: cleanEnv(c.target.via(c.target.upstream)) });
  try {
    const archived = await archivedShas(direct);
    const lost = c.fixtures.filter((f) => !archived.includes(f.sha256)).length;
    c.t.equal(lost, 0, "nothing lost: every segment in the archive with its original bytes");
    const leftovers = await leftoversOf(c.target, direct, b.prefix);
    c.t.same(leftovers, [], "no temporary object and no unfinished upload left");
    return { lost, leftovers };
  } finally {
    await direct.close();
  }
}

async function archivedShas(backend: Backend): Promise<string[]> {
  const out: string[] = [];
  for await (const info of backend.list("")) {
    if (!parseSegmentKey(info.key)) continue;
    const parts: Buffer[] = [];
    for await (const chunk of await backend.get(info.key)) parts.push(Buffer.from(chunk as Uint8Array));
    out.push(
      createHash("sha256")
        .update(decompress(Buffer.concat(parts)))
        .digest("hex"),
    );
  }
  return out;
}

async function leftoversOf(target: MatrixTarget, backend: Backend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list("")) if (/\.tmp|\.claim/.test(info.key)) keys.push(info.key); // (partials/ holds `.part` objects by design)
  return [...keys, ...((await target.pendingUploads?.(prefix)) ?? [])];
}

/** A fault that slows storage but leaves it working: the hooks upload, nothing is spooled. */
function slowCell(name: string, apply: (p: Proxy) => Promise<void>): Cell {
  return {
    name,
    run: async (c) => {
      const b = await bench(c, SLOW_HOOK_TIMEOUT_MS);
      await apply(c.toxic);
      const h = await hooks(c, b, b.env(c.toxic.listen));
      c.t.same(
        h.exits,
        c.fixtures.map(() => 0),
        "every hook exits 0",
      );
      const spooled = await spooledIn(b.spool);
      c.t.equal(spooled.length, 0, "slow but up: nothing spooled, the hooks uploaded");
      c.t.notOk(await markIn(b.spool), "no health mark");
      c.t.ok(h.worst <= b.hookTimeoutMs + WATCHDOG_GRACE_MS, `within the bound (worst ${h.worst} ms)`);
      await c.toxic.heal();
      const s = await settle(c, b, c.toxic.listen);
      return row(name, h, c.fixtures.length - spooled.length, spooled.length, 0, s, b, "");
    },
  };
}

/**
 * Storage out for the hook: every segment spooled, the health mark set by the first hook and the
 * later ones spooling at once; with spoolFallback false exit 16; the agent during the outage drops
 * nothing and stops on SIGTERM; after the heal one agent pass drains everything.
 */
function outageCell(
  name: string,
  apply: (c: CellContext) => Promise<{ endpoint: string; heal: () => Promise<void> }>,
): Cell {
  return {
    name,
    run: async (c) => {
      const b = await bench(c, OUTAGE_HOOK_TIMEOUT_MS);
      const fault = await apply(c);
      const env = b.env(fault.endpoint);
      const h = await hooks(c, b, env);
      c.t.same(
        h.exits,
        c.fixtures.map(() => 0),
        "every hook exits 0 (durably spooled)",
      );
      const spooled = await spooledIn(b.spool);
      c.t.equal(spooled.length, c.fixtures.length, "every segment spooled");
      c.t.ok(await markIn(b.spool), "the health mark is set");
      c.t.notMatch(h.lines[0]!, /storage marked unhealthy/, "the first hook tried storage");
      c.t.ok(
        h.lines.slice(1).every((l) => /storage marked unhealthy/.test(l)),
        "the later hooks spooled at once on the mark",
      );
      c.t.ok(h.worst <= b.hookTimeoutMs + WATCHDOG_GRACE_MS, `within the bound (worst ${h.worst} ms)`);
      const strict = await runNode(ARCHIVE_HOOK, [b.paths[0]!, c.fixtures[0]!.name], {
        ...env,
        CASSANDRA_PITR_SPOOL_FALLBACK: "false",
      });
      c.t.equal(strict.exitCode, 16, "spoolFallback false: exit 16 (storage unavailable), the mark ignored");
      const stopMs = await agentWhileFaulty(c.t, env, b.spool, c.fixtures.length, c.target.toxiproxyPort + 3);
      await fault.heal();
      const s = await settle(c, b, c.toxic.listen);
      return row(
        name,
        h,
        0,
        spooled.length,
        0,
        s,
        b,
        `mark set, later hooks spooled at once; agent stopped ${stopMs} ms after SIGTERM`,
      );
    },
  };
}

/** While the fault lasts, the agent makes no progress and drops nothing; SIGTERM stops it at once. */
async function agentWhileFaulty(
  t: Test,
  env: NodeJS.ProcessEnv,
  spool: string,
  count: number,
  metricsPort: number,
): Promise<number> {
  const metrics = `127.0.0.1:${metricsPort}`;
  // No forced SIGKILL behind the SIGTERM (execa's default after 5 s): how long the agent takes to stop is measured.
  const agent = execa(process.execPath, [CLI, "agent", "--agent-interval=1s"], {
    env: { ...env, CASSANDRA_PITR_METRICS_LISTEN: metrics },
    extendEnv: false,
    reject: false,
    forceKillAfterDelay: false,
  });
  await listening(metrics);
  await new Promise((r) => setTimeout(r, 1500)); // into its pass, against the faulty storage
  const signalled = process.hrtime.bigint();
  agent.kill("SIGTERM");
  const done = await agent;
  const stopMs = Number((process.hrtime.bigint() - signalled) / 1_000_000n);
  t.equal(
    done.exitCode,
    143,
    `agent during the fault: SIGTERM ends it with 143 (signal ${done.signal ?? "none"}, after ${stopMs} ms) ${done.stderr.split("\n")[0] ?? ""}`,
  );
  t.equal((await spooledIn(spool)).length, count, "agent during the fault: nothing dropped from the spool");
  t.ok(await markIn(spool), "agent during the fault: the mark stays");
  return stopMs;
}

/**
 * Waits until the agent listens on its metrics port: its signal handlers are in place by then (a
 * fixed sleep may end while the CLI is still loading on a loaded machine, and SIGTERM would then
 * kill it before it could stop cleanly, which is not what the test is about).
 */
async function listening(hostPort: string): Promise<void> {
  const [host, port] = hostPort.split(":") as [string, string];
  for (let i = 0; i < 600; i++) {
    const up = await new Promise<boolean>((done) => {
      const socket = connect(Number(port), host, () => {
        socket.destroy();
        done(true);
      });
      socket.on("error", () => done(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the agent never listened on ${hostPort}`);
}

/** SIGKILL of the hook at a random point of its upload; Cassandra runs it again for the segment (at its next start). */
const killHookCell: Cell = {
  name: "SIGKILL of the hook mid-upload",
  run: async (c) => {
    const b = await bench(c, SLOW_HOOK_TIMEOUT_MS);
    // Each answer 300 ms late, so the upload is long enough for random points to fall inside it.
    await c.toxic.addToxic("f", toxic("latency", { latency: 300 }));
    const env = b.env(c.toxic.listen);
    const delays: number[] = [];
    const exits: number[] = [];
    let worst = 0;
    for (const [i, f] of c.fixtures.entries()) {
      const delay = randomInt(300, 2500);
      delays.push(delay);
      const child = execa(process.execPath, [ARCHIVE_HOOK, b.paths[i]!, f.name], {
        env,
        extendEnv: false,
        reject: false,
      });
      await new Promise((r) => setTimeout(r, delay));
      child.kill("SIGKILL");
      await child;
      const again = await timed(() => runNode(ARCHIVE_HOOK, [b.paths[i]!, f.name], env));
      worst = Math.max(worst, again.ms);
      exits.push(again.ran.exitCode);
      c.t.equal(
        again.ran.exitCode,
        0,
        `${f.name}: killed after ${delay} ms, the next run for it exits 0 ${again.ran.stderr.split("\n")[0] ?? ""}`,
      );
    }
    const spooled = await spooledIn(b.spool);
    await c.toxic.heal();
    const s = await settle(c, b, c.toxic.listen);
    return row(
      killHookCell.name,
      { exits, worst },
      c.fixtures.length - spooled.length,
      spooled.length,
      0,
      s,
      b,
      `killed after ${delays.join(", ")} ms; the next run took over`,
    );
  },
};

/** SIGKILL of the agent at a random point of its drain; the next agent pass finishes the work. */
const killAgentCell: Cell = {
  name: "SIGKILL of the agent mid-upload",
  run: async (c) => {
    const b = await bench(c, SLOW_HOOK_TIMEOUT_MS);
    const spoolEnv = b.env(c.toxic.listen, { CASSANDRA_PITR_HOOK_MODE: "spool" });
    const h = await hooks(c, b, spoolEnv);
    c.t.equal((await spooledIn(b.spool)).length, c.fixtures.length, "spool mode: every segment spooled");
    // Each answer 400 ms late: one segment's upload (id lookup, put, verify, index) takes about 2 s.
    await c.toxic.addToxic("f", toxic("latency", { latency: 400 }));
    const delay = randomInt(0, 1200);
    const metrics = `127.0.0.1:${c.target.toxiproxyPort + 3}`;
    // The looping agent (`--once` serves no metrics): its first pass starts as it listens.
    const agent = execa(process.execPath, [CLI, "agent", "--agent-interval=1s"], {
      env: b.env(c.toxic.listen, { CASSANDRA_PITR_METRICS_LISTEN: metrics }),
      extendEnv: false,
      reject: false,
    });
    await listening(metrics);
    await new Promise((r) => setTimeout(r, delay));
    agent.kill("SIGKILL");
    await agent;
    const left = (await spooledIn(b.spool)).length;
    await c.toxic.heal();
    const s = await settle(c, b, c.toxic.listen);
    return row(
      killAgentCell.name,
      h,
      0,
      c.fixtures.length,
      0,
      s,
      b,
      `agent killed ${delay} ms into its pass with ${left} segment(s) still spooled`,
    );
  },
};

/** Storage down and the spool's filesystem full: the hook exits 19, Cassandra keeps the segment, the sweeper archives it after the heal. */
const fullSpoolCell: Cell = {
  name: "spool filesystem full (storage down)",
  run: async (c) => {
    const fs = await fullFilesystem(c.t);
    const b = await bench(c, OUTAGE_HOOK_TIMEOUT_MS, fs.dir);
    await fs.fill();
    await c.toxic.setEnabled(false);
    const env = b.env(c.toxic.listen, fs.env);
    const h = await hooks(c, b, env);
    c.t.same(
      h.exits,
      c.fixtures.map(() => 19),
      "every hook exits 19 (spool failed): Cassandra keeps the segment",
    );
    for (const l of h.lines)
      c.t.match(l, /upload failed .* then cannot spool .*ENOSPC/, "one line says both ways out failed");
    c.t.same(
      await Promise.all(
        b.paths.map((p) =>
          stat(p).then(
            () => true,
            () => false,
          ),
        ),
      ),
      b.paths.map(() => true),
      "the segments stay where Cassandra keeps them",
    );
    c.t.ok(h.worst <= b.hookTimeoutMs + WATCHDOG_GRACE_MS, `within the bound (worst ${h.worst} ms)`);
    await c.toxic.heal();
    await fs.free();
    // The sweeper takes what Cassandra left behind: the two newest files are the active and the pre-allocated segment.
    for (const f of await segmentFixtures("lz4")) await copyFile(f.path, join(b.commitlog, f.name));
    const s = await settle(c, b, c.toxic.listen, {
      ...fs.env,
      CASSANDRA_PITR_COMMITLOG_DIR: b.commitlog,
      CASSANDRA_PITR_SWEEP_MIN_AGE: "0s",
    });
    return row(
      fullSpoolCell.name,
      h,
      0,
      0,
      c.fixtures.length,
      s,
      b,
      `${fs.how}; swept by the agent after the heal`,
    );
  },
};

/** Four hooks at once for each segment (a retried archive_command racing the first): all exit 0, one object per segment. */
const concurrentCell: Cell = {
  name: "4 concurrent hooks per segment",
  run: async (c) => {
    const b = await bench(c, SLOW_HOOK_TIMEOUT_MS);
    const env = b.env(c.toxic.listen);
    const exits: number[] = [];
    let worst = 0;
    for (const [i, f] of c.fixtures.entries()) {
      const runs = await Promise.all(
        [0, 1, 2, 3].map(() => timed(() => runNode(ARCHIVE_HOOK, [b.paths[i]!, f.name], env))),
      );
      for (const r of runs) {
        exits.push(r.ran.exitCode);
        worst = Math.max(worst, r.ms);
      }
      c.t.same(
        runs.map((r) => r.ran.exitCode),
        [0, 0, 0, 0],
        `${f.name}: every concurrent hook exits 0 ${runs.map((r) => r.ran.stderr.split("\n")[0]).join(" | ")}`,
      );
    }
    const spooled = await spooledIn(b.spool);
    const direct = await openBackend(b.archiveUrl, { env: cleanEnv(c.target.via(c.target.upstream)) });
    const keys: string[] = [];
    for await (const info of direct.list("")) if (parseSegmentKey(info.key)) keys.push(info.key);
    await direct.close();
    c.t.equal(
      keys.length + spooled.length,
      c.fixtures.length,
      `one object (or one spooled link) per segment, no conflict copy (${keys.join(", ")})`,
    );
    const s = await settle(c, b, c.toxic.listen);
    return row(
      concurrentCell.name,
      { exits, worst },
      keys.length,
      spooled.length,
      0,
      s,
      b,
      "one object per segment",
    );
  },
};

function row(
  cell: string,
  h: { exits: number[]; worst: number },
  archivedByHook: number,
  spooled: number,
  kept: number,
  s: { lost: number; leftovers: string[] },
  b: Bench,
  note: string,
): Row {
  return {
    cell,
    exits: [...new Set(h.exits)].join(","),
    archivedByHook,
    spooled,
    kept,
    lost: s.lost,
    worstHookMs: h.worst,
    boundMs: b.hookTimeoutMs + WATCHDOG_GRACE_MS,
    leftovers: s.leftovers.length,
    note,
  };
}

export const CELLS: readonly Cell[] = [
  slowCell("latency 300 ms", (p) => p.addToxic("f", toxic("latency", { latency: 300, jitter: 50 }))),
  slowCell("bandwidth 256 KB/s", (p) => p.addToxic("f", toxic("bandwidth", { rate: 256 }, "upstream"))),
  slowCell("slow close (2 s)", (p) => p.addToxic("f", toxic("slow_close", { delay: 2000 }))),
  // Every connection is cut after 4 KB of request: mid-body for any segment upload, every retry.
  outageCell("reset mid-upload", async (c) => {
    await c.toxic.addToxic("f", toxic("limit_data", { bytes: 4096 }, "upstream"));
    return { endpoint: c.toxic.listen, heal: () => c.toxic.heal() };
  }),
  outageCell("hung (accepts, never answers)", async (c) => {
    await c.toxic.addToxic("f", toxic("timeout", { timeout: 0 }));
    return { endpoint: c.toxic.listen, heal: () => c.toxic.heal() };
  }),
  outageCell("down (refused)", async (c) => {
    await c.toxic.setEnabled(false);
    return { endpoint: c.toxic.listen, heal: () => c.toxic.heal() };
  }),
  outageCell("5xx (500 to every request; HTTP proxy)", async (c) => {
    c.http.fault = () => 500;
    return { endpoint: c.http.listen, heal: async () => void (c.http.fault = () => undefined) };
  }),
  outageCell("throttled (503/429 to every write; HTTP proxy)", async (c) => {
    c.http.fault = (req) =>
      req.method === "GET" || req.method === "HEAD" ? undefined : c.target.label === "gcs" ? 429 : 503;
    return { endpoint: c.http.listen, heal: async () => void (c.http.fault = () => undefined) };
  }),
  killHookCell,
  killAgentCell,
  fullSpoolCell,
  concurrentCell,
];

/** Runs every cell against one backend and prints the table (t.comment). */
export async function runMatrix(t: Test, target: MatrixTarget): Promise<void> {
  const toxiproxy = await startToxiproxy(target.toxiproxyPort);
  t.teardown(() => toxiproxy.stop());
  const toxicProxy = await toxiproxy.proxy(
    `fault-${target.label}`,
    target.upstream,
    target.toxiproxyPort + 1,
  );
  const http = await httpFaultProxy(target);
  t.teardown(() => http.close());
  const fixtures = await segmentFixtures("v7");
  const rows: Row[] = [];
  for (const [index, cell] of CELLS.entries()) {
    await t.test(cell.name, async (t) => {
      rows.push(await cell.run({ t, target, toxic: toxicProxy, http, fixtures, index }));
      await toxicProxy.heal();
      http.fault = () => undefined;
    });
  }
  t.comment(matrixTable(target.label, rows));
}

function matrixTable(label: string, rows: Row[]): string {
  const head =
    "| fault | hook exits | archived by hook | spooled | kept by Cassandra, swept | lost | worst hook ms (bound) | left behind | notes |";
  const sep = "|---|---|---|---|---|---|---|---|---|";
  const body = rows.map(
    (r) =>
      `| ${r.cell} | ${r.exits} | ${r.archivedByHook} | ${r.spooled} | ${r.kept} | ${r.lost} | ${r.worstHookMs} (${r.boundMs}) | ${r.leftovers} | ${r.note} |`,
  );
  return [`fault matrix (${label} behind Toxiproxy and the HTTP fault proxy):`, head, sep, ...body].join(
    "\n",
  );
}

/**
 * Toxiproxy works on TCP and cannot answer with an HTTP status: this proxy forwards every request
 * byte for byte (Host header included, so signatures still verify) unless `fault` says to answer
 * it with a status, in the service's own error format.
 */
export interface HttpFaultProxy {
  readonly listen: string;
  fault: (req: IncomingMessage) => number | undefined;
  close(): Promise<void>;
}

async function httpFaultProxy(target: MatrixTarget): Promise<HttpFaultProxy> {
  const [host, port] = target.upstream.split(":") as [string, string];
  const proxy: HttpFaultProxy = {
    listen: "",
    fault: () => undefined,
    close: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
  const server: Server = createServer((req, res) => {
    const status = proxy.fault(req);
    if (status !== undefined) {
      req.resume();
      const e = target.errorBody(status);
      res.writeHead(status, {
        "content-type": e.type,
        ...(status === 503 || status === 429 ? { "retry-after": "1" } : {}),
      });
      res.end(e.body);
      return;
    }
    const out = request({ host, port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  server.listen(target.toxiproxyPort + 2, "127.0.0.1");
  await once(server, "listening");
  return Object.assign(proxy, { listen: `127.0.0.1:${target.toxiproxyPort + 2}` });
}

/**
 * A filesystem for the commit log and the spool that can be filled: a 4 MiB tmpfs with 32 inodes
 * (a hard link into the spool needs an inode on tmpfs, so both are used up), mounted when the
 * tests run as root; elsewhere ENOSPC is injected into `link` by a preload module.
 */
async function fullFilesystem(t: Test): Promise<{
  dir: string;
  how: string;
  env: Record<string, string | undefined>;
  fill: () => Promise<void>;
  free: () => Promise<void>;
}> {
  const dir = await tempDir("full-spool");
  const mounted =
    process.getuid?.() === 0 &&
    execaSync("mount", ["-t", "tmpfs", "-o", "size=4m,nr_inodes=32", "tmpfs", dir], { reject: false })
      .exitCode === 0;
  t.teardown(async () => {
    if (mounted) execaSync("umount", [dir], { reject: false });
    await rm(dir, { recursive: true, force: true });
  });
  if (mounted) {
    const fillers = join(dir, "fillers");
    return {
      dir,
      how: "tmpfs 4 MiB, 32 inodes, filled",
      env: {},
      fill: async () => {
        await mkdir(join(dir, "spool"), { recursive: true });
        await mkdir(fillers, { recursive: true });
        await writeFile(join(fillers, "blocks"), Buffer.alloc(8 * 1024 * 1024)).catch(() => undefined); // until ENOSPC
        for (let i = 0; i < 64; i++)
          if (
            !(await writeFile(join(fillers, `inode-${i}`), "").then(
              () => true,
              () => false,
            ))
          )
            break;
      },
      free: () => rm(fillers, { recursive: true, force: true }),
    };
  }
  const preload = join(dir, "enospc.mjs");
  await writeFile(
    preload,
    `import fs from "node:fs/promises";\nimport { syncBuiltinESMExports } from "node:module";\nconst link = fs.link;\nfs.link = async (a, b) => { if (String(b).includes("/spool/")) { const e = new Error("ENOSPC: no space left on device, link"); e.code = "ENOSPC"; throw e; } return link(a, b); };\nsyncBuiltinESMExports();\n`,
  );
  let injected = true;
  return {
    dir,
    how: "ENOSPC injected into link (not root: no tmpfs)",
    get env() {
      return injected ? { NODE_OPTIONS: `--import=${preload}` } : {};
    },
    fill: async () => void (injected = true),
    free: async () => void (injected = false),
  };
}
