/**
 * A real Cassandra node for tests, demos and fixture generation: a thin wrapper around
 * scripts/cassandra-node.sh (which owns download, configuration, start, drain and kill) plus a CQL
 * session from the DataStax driver.
 *
 * Each node gets its own directory under .tmp/nodes and its own port base, reserved with an atomic
 * mkdir so that test files running in parallel never collide.
 */
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import cassandra from "cassandra-driver";

/** The repository: two levels up, or four from the bench's compiled copy (build/bench/test/helpers). */
export const REPO = repositoryOf(resolve(fileURLToPath(new URL("../..", import.meta.url))));

function repositoryOf(dir: string): string {
  return basename(dir) === "bench" && basename(dirname(dir)) === "build" ? dirname(dirname(dir)) : dir;
}
export const NODE_SCRIPT = join(REPO, "scripts/cassandra-node.sh");
export const PORTS_DIR = join(REPO, ".tmp/ports");
const NODES_DIR = join(REPO, ".tmp/nodes");

/** The Cassandra release the harness runs when a test names none (scripts/cassandra-node.sh's default). */
export const DEFAULT_CASSANDRA_VERSION = "5.0.9";

export interface NodeOptions {
  /** Cassandra release, e.g. "4.1.10"; fixed at create (the node's directory records it). */
  version?: string;
  /** storage_compatibility_mode: a 5.0 setting, refused for 4.x. */
  compat?: "CASSANDRA_4" | "NONE";
  commitlogCompression?: "lz4" | "zstd" | "deflate" | "snappy";
  segmentSizeMiB?: number;
  heap?: string;
  archiveCommand?: string;
  restoreCommand?: string;
  restoreDirectories?: string;
  restorePointInTime?: string;
  precision?: string;
  jvmOpts?: string[];
  /** auto_bootstrap (cassandra-node.sh's default for a single node; a cluster sets false). */
  autoBootstrap?: boolean;
  /** PasswordAuthenticator turns CQL logins on (role cassandra/cassandra); the harness's own session then cannot connect. */
  authenticator?: "AllowAllAuthenticator" | "PasswordAuthenticator";
}

export interface RowRecord {
  readonly id: number;
  readonly value: string;
  /** Client timestamp in microseconds since the epoch, as written with USING TIMESTAMP. */
  readonly writetime: bigint;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/**
 * Reserves `blocks` consecutive blocks of 4 ports (a node uses three: native, storage, JMX; a
 * cluster more, see test/helpers/cluster.ts), from 19042 up to 19300, or from PITR_TEST_PORT_BASE
 * (200 ports) so that two checkouts can run their suites side by side.
 */
export async function reservePortBase(blocks = 1): Promise<number> {
  await mkdir(PORTS_DIR, { recursive: true });
  const first = Number(process.env.PITR_TEST_PORT_BASE ?? 19042);
  const last = process.env.PITR_TEST_PORT_BASE ? first + 200 : 19300;
  for (let base = first; base + 4 * blocks - 1 < last; base += 4) {
    if (!(await reserveBlocks(base, blocks))) continue; // reserveBlocks released what it made; the rest is another node's
    if (await portsFree(base, blocks)) return base;
    await releasePortBase(base, blocks);
  }
  throw new Error(`no ${blocks} free port block(s) for test Cassandra nodes between ${first} and ${last}`);
}

/** mkdir is atomic: a block is ours when we created its directory (all or none of them). */
async function reserveBlocks(base: number, blocks: number): Promise<boolean> {
  for (let i = 0; i < blocks; i++) {
    try {
      await mkdir(join(PORTS_DIR, String(base + 4 * i)));
    } catch {
      await releasePortBase(base, i);
      return false;
    }
  }
  return true;
}

async function portsFree(base: number, blocks: number): Promise<boolean> {
  for (let port = base; port < base + 4 * blocks - 1; port++) if (!(await portFree(port))) return false;
  return true;
}

export async function releasePortBase(base: number, blocks = 1): Promise<void> {
  for (let i = 0; i < blocks; i++)
    await rm(join(PORTS_DIR, String(base + 4 * i)), { recursive: true, force: true });
}

export class CassandraNode {
  private session: cassandra.Client | undefined;

  protected constructor(
    readonly dir: string,
    readonly portBase: number,
    readonly version: string,
    /** The node's listen and rpc address (a cluster's nodes each have their own loopback address). */
    readonly address = "127.0.0.1",
  ) {}

  /** Creates (but does not start) a node with a fresh directory and reserved ports. */
  static async create(name: string, options: NodeOptions = {}): Promise<CassandraNode> {
    const portBase = await reservePortBase();
    const dir = join(NODES_DIR, `${name}-${portBase}-${process.pid}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const node = new CassandraNode(dir, portBase, options.version ?? DEFAULT_CASSANDRA_VERSION);
    await node.script("init", dir, ...node.initArgs(options));
    return node;
  }

  get commitlogDir(): string {
    return join(this.dir, "commitlog");
  }
  get dataDir(): string {
    return join(this.dir, "data");
  }
  get confDir(): string {
    return join(this.dir, "conf");
  }
  /** The nodetool command line for --nodetool flags (split on spaces). */
  get nodetoolCommand(): string {
    return `bash ${NODE_SCRIPT} nodetool ${this.dir}`;
  }
  get nativePort(): number {
    return this.portBase;
  }

  private initArgs(o: NodeOptions): string[] {
    return ["--port-base", String(this.portBase), ...nodeOptionArgs(o)];
  }

  /** Extra environment for the Cassandra process (and so for its archive/restore commands). */
  env: Record<string, string> = {};

  protected async script(...args: string[]): Promise<string> {
    const env = { ...this.env, CASSANDRA_VERSION: this.version };
    const result = await execa("bash", [NODE_SCRIPT, ...args], { reject: false, all: true, env });
    if (result.exitCode !== 0) {
      throw new Error(`cassandra-node.sh ${args[0]} failed (${result.exitCode}):\n${result.all}`);
    }
    return result.stdout;
  }

  /** Rewrites the node's configuration (keeps its data and its version); use between stop and start. */
  async reconfigure(options: NodeOptions): Promise<void> {
    if (options.version !== undefined && options.version !== this.version) {
      throw new Error(
        `node ${this.dir} runs Cassandra ${this.version}; reconfigure cannot change it to ${options.version}`,
      );
    }
    await this.script("init", this.dir, ...this.initArgs(options));
  }

  async start(): Promise<void> {
    await this.script("start", this.dir);
  }

  /** Drains (flushes memtables, archives the active segment) and stops. */
  async stop(): Promise<void> {
    await this.closeSession();
    await this.script("stop", this.dir);
  }

  /** SIGKILL: the active segment stays behind, torn, with unflushed data. */
  async kill(): Promise<void> {
    await this.closeSession();
    await this.script("kill", this.dir);
  }

  async isRunning(): Promise<boolean> {
    return (await this.script("status", this.dir)).startsWith("running");
  }

  async nodetool(...args: string[]): Promise<string> {
    return this.script("nodetool", this.dir, ...args);
  }

  async hostId(): Promise<string> {
    const out = await this.nodetool("info");
    const match = /^ID\s*:\s*([0-9a-f-]{36})/m.exec(out);
    if (!match?.[1]) throw new Error(`no host id in nodetool info:\n${out}`);
    return match[1];
  }

  /**
   * A session pinned to this node: the driver would otherwise discover a cluster's other nodes and
   * send queries to them, so a read at ONE would not say what this node holds.
   */
  async cql(): Promise<cassandra.Client> {
    if (!this.session) {
      const self = `${this.address}:${this.nativePort}`;
      const { AllowListPolicy, DCAwareRoundRobinPolicy } = cassandra.policies.loadBalancing;
      this.session = new cassandra.Client({
        contactPoints: [self],
        localDataCenter: "datacenter1",
        socketOptions: { readTimeout: 60_000 },
        policies: { loadBalancing: new AllowListPolicy(new DCAwareRoundRobinPolicy("datacenter1"), [self]) },
      });
      await this.session.connect();
    }
    return this.session;
  }

  async execute(
    query: string,
    params: unknown[] = [],
    options: cassandra.QueryOptions = {},
  ): Promise<cassandra.types.ResultSet> {
    return (await this.cql()).execute(query, params, { prepare: params.length > 0, ...options });
  }

  async createTable(keyspace: string, table: string): Promise<void> {
    await this.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await this.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.${table} (id int PRIMARY KEY, value text)`);
  }

  /** Writes one row with an explicit client timestamp (µs) and returns what was written. */
  async writeRow(
    keyspace: string,
    table: string,
    id: number,
    value: string,
    writetime: bigint,
  ): Promise<RowRecord> {
    await this.execute(`INSERT INTO ${keyspace}.${table} (id, value) VALUES (?, ?) USING TIMESTAMP ?`, [
      id,
      value,
      cassandra.types.Long.fromString(writetime.toString()),
    ]);
    return { id, value, writetime };
  }

  /** Every row, all pages (the driver returns 5000 rows a page). */
  async readRows(keyspace: string, table: string): Promise<RowRecord[]> {
    const all: cassandra.types.Row[] = [];
    let pageState: string | undefined;
    do {
      const rs = await this.execute(
        `SELECT id, value, writetime(value) AS wt FROM ${keyspace}.${table}`,
        [],
        { fetchSize: 5000, ...(pageState ? { pageState } : {}) },
      );
      all.push(...rs.rows);
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return all
      .map((r) => ({
        id: r["id"] as number,
        value: r["value"] as string,
        writetime: BigInt(String(r["wt"])),
      }))
      .sort((a, b) => a.id - b.id);
  }

  /** Segment file names currently in the commit log directory, sorted by id. */
  async segmentsOnDisk(): Promise<string[]> {
    const names = (await readdir(this.commitlogDir)).filter((n) => /^CommitLog-\d+-\d+\.log$/.test(n));
    return names.sort((a, b) => (segmentIdOf(a) < segmentIdOf(b) ? -1 : 1));
  }

  /** The table's directory under data/ (name-<table id>). */
  async tableDir(keyspace: string, table: string): Promise<string> {
    const entries = await readdir(join(this.dataDir, keyspace));
    const found = entries.find((e) => e.startsWith(`${table}-`));
    if (!found) throw new Error(`no directory for ${keyspace}.${table} in ${this.dataDir}`);
    return join(this.dataDir, keyspace, found);
  }

  async systemLog(): Promise<string> {
    return readFile(join(this.dir, "logs/system.log"), "utf8").catch(() => "");
  }

  protected async closeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await session.shutdown().catch(() => undefined);
  }

  /** Stops the node if it runs, releases its ports and removes its directory unless `keep`. */
  async destroy(keep = false): Promise<void> {
    await this.closeSession();
    if (await this.isRunning().catch(() => false)) await this.script("kill", this.dir).catch(() => undefined);
    await releasePortBase(this.portBase);
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }
}

/** The cassandra-node.sh init options for `o` (everything but the ports). */
export function nodeOptionArgs(o: NodeOptions): string[] {
  const args: string[] = [];
  const add = (flag: string, value: string | number | undefined) => {
    if (value !== undefined) args.push(flag, String(value));
  };
  add("--compat", o.compat);
  add("--commitlog-compression", o.commitlogCompression);
  add("--segment-size", o.segmentSizeMiB);
  add("--heap", o.heap);
  add("--archive-command", o.archiveCommand);
  add("--restore-command", o.restoreCommand);
  add("--restore-directories", o.restoreDirectories);
  add("--restore-point-in-time", o.restorePointInTime);
  add("--precision", o.precision);
  add("--auto-bootstrap", o.autoBootstrap === undefined ? undefined : String(o.autoBootstrap));
  add("--authenticator", o.authenticator);
  for (const opt of o.jvmOpts ?? []) args.push("--jvm-opt", opt);
  return args;
}

export function segmentIdOf(name: string): bigint {
  const match = /^CommitLog-\d+-(\d+)\.log$/.exec(name);
  if (!match?.[1]) throw new Error(`not a segment name: ${name}`);
  return BigInt(match[1]);
}

/** Current time in microseconds since the epoch. */
export function nowMicros(): bigint {
  return BigInt(Date.now()) * 1000n;
}

/** Waits until `predicate` holds, polling; throws with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
