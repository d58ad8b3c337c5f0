/**
 * A real Cassandra cluster for tests: N nodes on one machine, laid out by scripts/cassandra-cluster.sh
 * (one loopback address per node, the same native and storage ports on each, one JMX port per node
 * on 127.0.0.1, node 1 the seed, hinted handoff on) and driven node by node through CassandraNode.
 *
 * A cluster reserves its ports like a single node does (blocks under .tmp/ports), so cluster and
 * single-node tests running side by side never collide. Its addresses are 127.<hi>.<lo>.<n> derived
 * from its first port, so they are as unique as the port; PITR_TEST_CLUSTER_ADDRESSES (a comma
 * list) overrides them. Every JVM a cluster started is killed in teardown, and also when the test
 * process exits or is terminated without running its teardown.
 */
import { readFileSync, rmSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import t from "tap";
import cassandra from "cassandra-driver";
import {
  CassandraNode,
  DEFAULT_CASSANDRA_VERSION,
  PORTS_DIR,
  REPO,
  nodeOptionArgs,
  releasePortBase,
  reservePortBase,
  type NodeOptions,
} from "./cassandra.js";

export const CLUSTER_SCRIPT = join(REPO, "scripts/cassandra-cluster.sh");
const CLUSTERS_DIR = join(REPO, ".tmp/clusters");

export interface ClusterOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** hinted_handoff_enabled (default true). */
  hintedHandoff?: boolean;
  /** Heap per node (default 384M). */
  heap?: string;
  /** Options for every node; @NODE@ becomes the node's number and @NODE_DIR@ its directory. */
  node?: NodeOptions;
}

/** One node of a cluster: a CassandraNode whose configuration the cluster owns. */
export class ClusterMember extends CassandraNode {
  constructor(
    readonly cluster: CassandraCluster,
    /** 1-based, as in scripts/cassandra-cluster.sh (node 1 is the seed). */
    readonly index: number,
    dir: string,
    nativePort: number,
    address: string,
  ) {
    super(dir, nativePort, DEFAULT_CASSANDRA_VERSION, address);
  }

  /** Rewrites this node's configuration with the cluster's settings plus `options` (node stopped). */
  override async reconfigure(options: NodeOptions): Promise<void> {
    await this.cluster.script("reconfigure", String(this.index), ...nodeOptionArgs(options));
  }

  /** Starts this node and waits until every running node sees every running node UN. */
  override async start(): Promise<void> {
    await super.start();
    await this.cluster.waitAllUp();
  }

  /** Kills the JVM if it runs; the cluster releases the ports and the directory. */
  override async destroy(): Promise<void> {
    await this.closeSession();
    if (await this.isRunning().catch(() => false)) await this.script("kill", this.dir).catch(() => undefined);
  }
}

export class CassandraCluster {
  readonly nodes: ClusterMember[] = [];
  private session: cassandra.Client | undefined;

  private constructor(
    readonly dir: string,
    readonly portBase: number,
    readonly blocks: number,
    readonly addresses: readonly string[],
  ) {}

  /** Creates (but does not start) a cluster with fresh directories, reserved ports and addresses. */
  static async create(name: string, options: ClusterOptions = {}): Promise<CassandraCluster> {
    const count = options.nodes ?? 3;
    // Native and storage ports, then one JMX port per node: count + 2 ports in blocks of 4.
    const blocks = Math.ceil((count + 2) / 4);
    const portBase = await reservePortBase(blocks);
    const cluster = new CassandraCluster(
      join(CLUSTERS_DIR, `${name}-${portBase}-${process.pid}`),
      portBase,
      blocks,
      clusterAddresses(portBase, count),
    );
    liveClusters.add(cluster);
    try {
      await cluster.init(name, count, options);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  private async init(name: string, count: number, options: ClusterOptions): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
    const args = ["--nodes", String(count), "--port-base", String(this.portBase)];
    args.push("--addresses", this.addresses.join(","), "--cluster-name", `pitr-${name}`);
    if (options.hintedHandoff === false) args.push("--no-hints");
    if (options.heap) args.push("--heap", options.heap);
    await this.script("init", ...args, ...nodeOptionArgs(options.node ?? {}));
    for (let i = 1; i <= count; i++) {
      this.nodes.push(
        new ClusterMember(this, i, join(this.dir, `node${i}`), this.portBase, this.addresses[i - 1]!),
      );
    }
  }

  /** Node `index`, 1-based as in nodetool-free talk about "node 2". */
  node(index: number): ClusterMember {
    const member = this.nodes[index - 1];
    if (!member) throw new Error(`no node ${index} in a cluster of ${this.nodes.length}`);
    return member;
  }

  /** Starts every stopped node, node 1 (the seed) first, one after another, until all are UN. */
  async start(): Promise<void> {
    for (const member of this.nodes) if (!(await member.isRunning())) await member.start();
  }

  /** Drains and stops every node, the seed last. */
  async stop(): Promise<void> {
    await this.closeSession();
    for (const member of [...this.nodes].reverse()) await member.stop();
  }

  /** Rewrites every node's configuration with the cluster's settings plus `options` (nodes stopped). */
  async reconfigure(options: NodeOptions): Promise<void> {
    await this.script("reconfigure", "all", ...nodeOptionArgs(options));
  }

  /** Until every running node lists every running node as UN (gossip has converged everywhere). */
  async waitAllUp(): Promise<void> {
    await this.script("wait");
  }

  /** A session to the whole cluster (token-aware, round robin over every node). */
  async cql(): Promise<cassandra.Client> {
    if (!this.session) {
      this.session = new cassandra.Client({
        contactPoints: this.addresses.map((a) => `${a}:${this.portBase}`),
        localDataCenter: "datacenter1",
        socketOptions: { readTimeout: 60_000 },
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

  /** Runs scripts/cassandra-cluster.sh COMMAND on this cluster; throws with its output on failure. */
  async script(command: string, ...args: string[]): Promise<string> {
    const result = await execa("bash", [CLUSTER_SCRIPT, command, this.dir, ...args], {
      reject: false,
      all: true,
    });
    if (result.exitCode !== 0) {
      throw new Error(`cassandra-cluster.sh ${command} failed (${result.exitCode}):\n${result.all}`);
    }
    return result.stdout;
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await session.shutdown().catch(() => undefined);
  }

  /** Kills every node that runs, releases the ports and removes the directory unless `keep`. */
  async destroy(keep = false): Promise<void> {
    await this.closeSession();
    for (const member of this.nodes) await member.destroy();
    liveClusters.delete(this);
    await releasePortBase(this.portBase, this.blocks);
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }
}

/** PITR_TEST_CLUSTER_ADDRESSES, or 127.<hi>.<lo>.<n> from the reserved first port. */
function clusterAddresses(portBase: number, count: number): string[] {
  const given = process.env.PITR_TEST_CLUSTER_ADDRESSES?.split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  if (given) {
    if (given.length < count)
      throw new Error(
        `PITR_TEST_CLUSTER_ADDRESSES names ${given.length} addresses; a cluster of ${count} needs ${count}`,
      );
    return given.slice(0, count);
  }
  return Array.from({ length: count }, (_, i) => `127.${(portBase >> 8) & 255}.${portBase & 255}.${i + 1}`);
}

// Nodes run in their own sessions (setsid), so a test process that dies without its teardown would
// leave them running: kill them synchronously on exit and on SIGINT/SIGTERM (tap's timeout).
const liveClusters = new Set<CassandraCluster>();

function killSync(cluster: CassandraCluster): void {
  for (const member of cluster.nodes) {
    try {
      const pid = Number(readFileSync(join(member.dir, "node.pid"), "utf8").trim());
      // Only a JVM of this node: a stale pid file must never kill an unrelated process.
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(member.dir)) process.kill(pid, "SIGKILL");
    } catch {
      // not running
    }
  }
}

/** Kills the JVMs and frees the port blocks (the directory stays, with its logs). */
function killAll(): void {
  for (const cluster of liveClusters) {
    killSync(cluster);
    for (let i = 0; i < cluster.blocks; i++)
      rmSync(join(PORTS_DIR, String(cluster.portBase + 4 * i)), { recursive: true, force: true });
  }
}

process.once("exit", killAll);
// Once every test of a file that runs clusters has ended, leave: a timer left behind after the nodes
// died (seen once in restore-cluster: its results were all in, yet the process waited for its
// 45-minute timeout) must not hold the suite for the rest of that time. tap has written every result.
t.teardown(() => void setTimeout(() => process.exit(), 10_000).unref());
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(code);
  });
}
