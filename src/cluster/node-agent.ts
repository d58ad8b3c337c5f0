/**
 * One node's part in the cluster operations, run by its agent once per pass: it reads the cluster's
 * request from the archive and moves its own node one step on, writing its progress back. Every
 * step is repeatable, so an agent that was stopped part-way picks up where it was on its next pass.
 *
 * Restore: stop Cassandra (stopCommand), restore to the node's target (the executor: snapshot,
 * segments, settings), move hints, batchlog and Paxos state aside, then wait at "restored" until
 * every node of the request has restored; only then start (startCommand). No restored node runs
 * while another still runs with data from after T. Finish: `restore finish` on the node. Abort: a
 * node that never started is put back as it was (journal rollback, replay state back) and started.
 */
import { join } from "node:path";
import {
  NODE_STATES,
  type NodeState,
  type RestoreProgress,
  type RestoreRequest,
  type SnapshotRequest,
} from "../format/cluster-ops.js";
import type { NodeIdentity } from "../format/layout.js";
import { instantFromMicros, type Instant } from "../restore/time.js";
import type { Backend } from "../storage/types.js";
import { describeAside, moveAsideReplayState, putBackReplayState } from "./aside.js";
import {
  listSnapshotRequests,
  readAllProgress,
  readProgress,
  readRestoreRequest,
  readSnapshotAnswer,
  writeProgress,
  writeSnapshotAnswer,
} from "./store.js";

/** What the node agent does to its node; the real ones are in node-actions.ts, tests pass fakes. */
export interface NodeActions {
  /** Runs stopCommand and waits until the node no longer answers. */
  stop(): Promise<string>;
  /** Runs startCommand and waits until the node answers. */
  start(): Promise<string>;
  /** Plans and applies the restore to `at` (resumes an interrupted one); lines of what it did. */
  restore(at: Instant, request: RestoreRequest): Promise<string[]>;
  /** `restore finish` on the node. */
  finish(): Promise<string[]>;
  /** Rolls back a restore whose node never started (interrupted or committed); lines of what it did. */
  undo(): Promise<string[]>;
  /** Takes and uploads a snapshot with this tag; returns the snapshot time. */
  snapshot(tag: string, scope: readonly string[]): Promise<string>;
  readonly dataDir: string;
  readonly hintsDir: string;
}

export interface NodeAgentOptions {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly actions: NodeActions;
  readonly now?: (() => number) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Snapshot requests older than this are not taken any more (a node added later takes its own). */
  readonly snapshotRequestMaxAgeMs?: number | undefined;
}

const rank = (s: NodeState | undefined) =>
  s === undefined ? -1 : NODE_STATES.indexOf(s as (typeof NODE_STATES)[number]);

function asideDirOf(dataDir: string, request: RestoreRequest): string {
  return join(dataDir, "..", `cassandra-pitr-aside-cluster-${request.id}`);
}

class Reporter {
  private done: string[];
  constructor(
    private readonly o: NodeAgentOptions,
    private readonly request: RestoreRequest,
    previous: RestoreProgress | undefined,
  ) {
    this.done = [...(previous?.done ?? [])];
  }
  async set(state: NodeState, lines: readonly string[] = [], error?: string): Promise<void> {
    this.done.push(...lines);
    const now = (this.o.now ?? Date.now)();
    const progress: RestoreProgress = {
      schema_version: 1,
      node: this.o.identity.node,
      request: this.request.id,
      state,
      updated: new Date(now).toISOString(),
      done: this.done,
      ...(error === undefined ? {} : { error }),
    };
    await writeProgress(this.o.backend, this.request.cluster, progress, this.o.signal);
  }
}

async function everyNodeRestored(o: NodeAgentOptions, request: RestoreRequest): Promise<boolean> {
  const all = await readAllProgress(o.backend, request, o.signal);
  return [...all.values()].every((p) => rank(p?.state) >= rank("restored"));
}

async function stepRestore(
  o: NodeAgentOptions,
  request: RestoreRequest,
  state: NodeState,
  r: Reporter,
): Promise<void> {
  const a = o.actions;
  if (rank(state) < rank("restored")) {
    await r.set("stopping");
    const stopped = await a.stop();
    await r.set("restoring", [stopped]);
    const target = request.nodes[o.identity.node]!;
    const lines = await a.restore(instantFromMicros(BigInt(target.at_micros)), request);
    const moved = await moveAsideReplayState(
      { dataDir: a.dataDir, hintsDir: a.hintsDir },
      asideDirOf(a.dataDir, request),
    );
    await r.set("restored", [...lines, ...moved.map(describeAside)]);
    state = "restored";
  }
  if (state === "restored" && !(await everyNodeRestored(o, request))) return; // the barrier: others still run
  if (state === "restored" || state === "starting") {
    await r.set("starting");
    await r.set("started", [await a.start()]);
  }
}

async function stepAbort(
  o: NodeAgentOptions,
  request: RestoreRequest,
  state: NodeState,
  r: Reporter,
): Promise<void> {
  if (state === "aborted" || rank(state) >= rank("starting")) return; // started: a restore that ran is not undone
  if (state === "pending") return r.set("aborted", ["nothing was done on this node"]);
  await r.set("aborting");
  const a = o.actions;
  const lines = await a.undo();
  const putBack = await putBackReplayState(
    { dataDir: a.dataDir, hintsDir: a.hintsDir },
    asideDirOf(a.dataDir, request),
  );
  await r.set("aborted", [
    ...lines,
    `put back ${putBack} file(s) of hints, batchlog and Paxos state`,
    await a.start(),
  ]);
}

/** One step of the cluster restore for this node, if a request names it. Returns its state after. */
export async function stepClusterRestore(o: NodeAgentOptions): Promise<NodeState | undefined> {
  const request = await readRestoreRequest(o.backend, o.identity.cluster, o.signal);
  if (!request || !(o.identity.node in request.nodes)) return undefined;
  const previous = await readProgress(o.backend, request, o.identity.node, o.signal);
  const state: NodeState = previous?.state ?? "pending";
  const r = new Reporter(o, request, previous);
  try {
    if (request.phase === "abort") await stepAbort(o, request, state, r);
    else if (state === "failed" || state === "aborted")
      return state; // the engineer decides: abort, or resume after fixing
    else if (request.phase === "restore") await stepRestore(o, request, state, r);
    else if (request.phase === "finish" && (state === "started" || state === "finishing")) {
      await r.set("finishing");
      await r.set("finished", await o.actions.finish());
    }
  } catch (err) {
    await r.set("failed", [], err instanceof Error ? err.message : String(err));
  }
  return (await readProgress(o.backend, request, o.identity.node, o.signal))?.state;
}

/** Takes every recent cluster snapshot this node has not answered yet. Returns the tags taken. */
export async function stepClusterSnapshots(o: NodeAgentOptions): Promise<string[]> {
  const now = (o.now ?? Date.now)();
  const maxAge = o.snapshotRequestMaxAgeMs ?? 86_400_000;
  const taken: string[] = [];
  const requests = await listSnapshotRequests(o.backend, o.identity.cluster, o.signal);
  for (const req of requests.filter((q: SnapshotRequest) => now - Date.parse(q.requested_at) <= maxAge)) {
    if (await readSnapshotAnswer(o.backend, o.identity.cluster, req.tag, o.identity.node, o.signal)) continue;
    const at = () => new Date((o.now ?? Date.now)()).toISOString();
    try {
      const snapshotTime = await o.actions.snapshot(req.tag, req.scope);
      await writeSnapshotAnswer(
        o.backend,
        o.identity.cluster,
        req.tag,
        { schema_version: 1, node: o.identity.node, state: "done", at: at(), snapshot_time: snapshotTime },
        o.signal,
      );
      taken.push(req.tag);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      await writeSnapshotAnswer(
        o.backend,
        o.identity.cluster,
        req.tag,
        { schema_version: 1, node: o.identity.node, state: "failed", at: at(), error },
        o.signal,
      );
    }
  }
  return taken;
}
