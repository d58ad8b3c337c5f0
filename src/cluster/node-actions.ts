/**
 * The real NodeActions of a node's agent: Cassandra is stopped and started by the configured
 * commands (whatever runs it there: systemd, a container runtime, a test harness), whether it runs
 * is asked of nodetool, and the restore itself is the single-node executor.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createNodetoolRunner, nodeAnswers } from "../backup/nodetool.js";
import { uploadSnapshot } from "../backup/snapshot.js";
import type { Config } from "../config/schema.js";
import { ConfigError, PitrError } from "../errors/base.js";
import { compactTime, type NodeIdentity } from "../format/layout.js";
import { recordBranch } from "../restore/branches.js";
import { abortRestore, executeRestore, finishRestore } from "../restore/executor.js";
import { preparePlan } from "../restore/prepare.js";
import type { Backend } from "../storage/types.js";
import type { NodeActions } from "./node-agent.js";
import { undoUnstartedRestore } from "./undo.js";

export interface NodeActionsInput {
  readonly config: Config;
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  /** restore_command as the node's restore writes it. */
  readonly restoreCommand: string;
  readonly signal?: AbortSignal | undefined;
}

/** Runs a configured command with sh -c; rejects with its exit status and last output lines. */
function runCommand(name: string, command: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"], signal });
    let tail = "";
    const keep = (b: Buffer) => (tail = (tail + b.toString()).slice(-600));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else
        reject(
          new PitrError(
            "E_NODE_STATE",
            `${name} '${command}' exited with status ${code}: ${tail.trim().split("\n").slice(-2).join(" | ")}`,
          ),
        );
    });
  });
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  signal?: AbortSignal,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end)
      throw new PitrError("E_NODE_STATE", `the node ${what} within ${Math.round(timeoutMs / 1000)} s`);
    if (signal?.aborted) throw new PitrError("E_INTERRUPTED", "interrupted");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function required(value: string | undefined, key: string): string {
  if (!value)
    throw new ConfigError(`${key} is not set: the agent cannot carry out a cluster restore on this node`, {
      hint: `set ${key} in the node's config file (e.g. 'systemctl ${key === "stopCommand" ? "stop" : "start"} cassandra')`,
    });
  return value;
}

export function createNodeActions(input: NodeActionsInput): NodeActions {
  const { config, backend, identity, signal } = input;
  const nodetool = createNodetoolRunner(config.nodetool, { timeoutMs: 120_000 });
  const running = () => nodeAnswers(nodetool, signal);
  const commitlogDir = config.commitlogDir;
  const dataDir = config.dataDir ?? "";
  const conf = () => required(config.cassandraConf, "cassandraConf");
  return {
    dataDir,
    hintsDir:
      config.hintsDir ?? (commitlogDir ? join(dirname(commitlogDir), "hints") : join(dataDir, "..", "hints")),
    async stop() {
      if (await running()) {
        await runCommand("stopCommand", required(config.stopCommand, "stopCommand"), signal);
        await waitUntil("did not stop", config.nodeCommandTimeout, async () => !(await running()), signal);
        return `stopped Cassandra ('${config.stopCommand}')`;
      }
      return "Cassandra was not running";
    },
    async start() {
      if (await running()) return "Cassandra was running already";
      const attempts = await startWithRetries(
        () => runCommand("startCommand", required(config.startCommand, "startCommand"), signal),
        signal,
      );
      await waitUntil("did not answer", config.nodeCommandTimeout, running, signal);
      return `started Cassandra ('${config.startCommand}'${attempts > 1 ? `, attempt ${attempts}` : ""}); it replayed the restored segments before answering`;
    },
    async restore(at, request) {
      if (!config.dataDir || !commitlogDir)
        throw new ConfigError("dataDir and commitlogDir must be set for a restore", {
          hint: "cassandra-pitr init writes them",
        });
      const now = Date.now();
      const lines: string[] = [];
      const plan = await preparePlan({
        backend,
        identity,
        at,
        graceMs: request.grace_ms,
        keyspaces: request.keyspaces,
        tables: request.tables,
        targetVersion: config.cassandraVersion,
        restoreCommand: input.restoreCommand,
        now,
        signal,
      });
      await executeRestore({
        plan,
        backend,
        archiveUrl: config.archive,
        identity,
        paths: { dataDir: config.dataDir, commitlogDir, cassandraConf: conf() },
        restoreDir: join(
          dirname(commitlogDir),
          `cassandra-pitr-restore-${compactTime(now).replace(/\./g, "")}`,
        ),
        restoreCommand: input.restoreCommand,
        stubs: false,
        dryRun: false,
        isNodeRunning: running,
        say: (l) => lines.push(l),
        now,
        parallelism: config.parallelism,
        signal,
      });
      return lines;
    },
    async finish() {
      const lines: string[] = [];
      await finishRestore({
        cassandraConf: conf(),
        isNodeRunning: running,
        say: (l) => lines.push(l),
        dryRun: false,
        recordBranch: (b, t) => recordBranch(backend, identity, b, t, signal),
      });
      return lines;
    },
    async undo() {
      const lines: string[] = [];
      await abortRestore({
        cassandraConf: conf(),
        isNodeRunning: running,
        say: (l) => lines.push(l),
        dryRun: false,
      });
      const undone = await undoUnstartedRestore(conf());
      if (undone) lines.push(undone);
      return lines;
    },
    async snapshot(tag, scope) {
      const summary = await uploadSnapshot({
        backend,
        identity,
        dataDir: config.dataDir,
        tag,
        scope,
        nodetool: config.nodetool,
        datacenter: config.datacenter,
        cassandraVersion: config.cassandraVersion,
        parallelism: config.parallelism,
        signal,
      });
      return summary.snapshotTime;
    },
  };
}

const START_ATTEMPTS = 3;
const START_RETRY_MS = 10_000;

/**
 * Every node of a cluster restore starts at the same moment (after the barrier), so a node that is
 * no seed can exit during startup because no seed answers its gossip shadow round yet ("Unable to
 * gossip with any peers"); a later attempt finds the seeds up. Returns the attempt that succeeded.
 */
async function startWithRetries(
  start: () => Promise<unknown>,
  signal: AbortSignal | undefined,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      return attempt;
    } catch (err) {
      if (attempt >= START_ATTEMPTS || signal?.aborted) throw err;
      await new Promise((resolve) => setTimeout(resolve, START_RETRY_MS));
    }
  }
}
