/**
 * The recovery engineer's side of a cluster restore: one request written to the archive, then every
 * node's progress watched in one place until the phase is done, a node fails (exit 28) or a node
 * stays silent for the node timeout (exit 27). The request stays in the archive either way, so the
 * operation can be watched again (`restore resume --cluster`) or aborted.
 */
import { randomBytes } from "node:crypto";
import { PitrError } from "../errors/base.js";
import {
  NODE_STATES,
  type NodeState,
  type RestorePhase,
  type RestoreProgress,
  type RestoreRequest,
} from "../format/cluster-ops.js";
import { formatInstant } from "../restore/time.js";
import type { Backend } from "../storage/types.js";
import type { ClusterPlan } from "./plan.js";
import {
  closeRestoreRequest,
  createRestoreRequest,
  readAllProgress,
  readRestoreRequest,
  writeRestoreRequest,
} from "./store.js";

export class NodeUnresponsiveError extends PitrError {
  override name = "NodeUnresponsiveError";
  constructor(message: string, hint: string) {
    super("E_NODE_UNRESPONSIVE", message, { hint });
  }
}

export class NodeFailedError extends PitrError {
  override name = "NodeFailedError";
  constructor(message: string, hint: string) {
    super("E_NODE_FAILED", message, { hint });
  }
}

export function newRequestId(now: number): string {
  return `${new Date(now)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

export function requestOf(
  plan: ClusterPlan,
  options: { now: number; graceMs: number; keyspaces: readonly string[]; tables: readonly string[] },
): RestoreRequest {
  return {
    schema_version: 1,
    id: newRequestId(options.now),
    cluster: plan.cluster,
    at_micros: plan.at.epochMicros.toString(),
    at: formatInstant(plan.at.epochMicros),
    created: new Date(options.now).toISOString(),
    phase: "restore",
    nodes: Object.fromEntries(
      plan.nodes.map((n) => [
        n.node,
        { at_micros: n.atMicros.toString(), ...(n.note ? { note: n.note } : {}) },
      ]),
    ),
    keyspaces: [...options.keyspaces],
    tables: [...options.tables],
    grace_ms: options.graceMs,
  };
}

const rank = (s: NodeState | undefined) =>
  s === undefined ? -1 : NODE_STATES.indexOf(s as (typeof NODE_STATES)[number]);

/** Whether a node has done its part of the phase. */
export function nodeDone(phase: RestorePhase, state: NodeState | undefined): boolean {
  if (phase === "restore") return state === "started" || rank(state) > rank("started");
  if (phase === "finish") return state === "finished";
  return state === "aborted" || rank(state) >= rank("started"); // a started node is not undone: abort leaves it
}

export interface WatchOptions {
  readonly backend: Backend;
  readonly cluster: string;
  readonly nodeTimeoutMs: number;
  readonly pollMs: number;
  readonly say: (line: string) => void;
  readonly signal?: AbortSignal | undefined;
  readonly now?: (() => number) | undefined;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

export function progressLine(node: string, p: RestoreProgress | undefined): string {
  if (!p) return `node ${node}: no answer yet`;
  const last = p.error ?? p.done.at(-1);
  return `node ${node}: ${p.state}${last ? ` (${last})` : ""}`;
}

/** Watches the current request until every node has done its part of `phase`. */
export async function watchRequest(
  o: WatchOptions,
  phase: RestorePhase,
): Promise<Map<string, RestoreProgress | undefined>> {
  const clock = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const seen = new Map<string, { line: string; sinceMs: number }>();
  for (;;) {
    const request = await readRestoreRequest(o.backend, o.cluster, o.signal);
    if (!request)
      throw new PitrError("E_NOT_FOUND", `no cluster restore is in progress in cluster '${o.cluster}'`, {
        hint: "start one with 'cassandra-pitr restore --cluster --at T'",
      });
    const all = await readAllProgress(o.backend, request, o.signal);
    const now = clock();
    for (const [node, p] of all) {
      const line = progressLine(node, p);
      const before = seen.get(node);
      if (before?.line !== line) {
        o.say(line);
        seen.set(node, { line, sinceMs: now });
      }
    }
    const failed = [...all].filter(([, p]) => p?.state === "failed");
    if (failed.length > 0 && phase !== "abort") {
      throw new NodeFailedError(
        `cluster restore ${request.id}: ${failed.map(([n, p]) => `node ${n} failed: ${p?.error ?? "no detail"}`).join("; ")}`,
        "fix the cause on the node, then 'cassandra-pitr restore resume --cluster'; or 'cassandra-pitr restore abort --cluster' to put back every node that has not started",
      );
    }
    if ([...all].every(([, p]) => nodeDone(phase, p?.state))) return all;
    // The barrier: a restored node waits for the others, and is not silent while it does (once
    // every node has restored, it has to start).
    const barrierOpen = [...all.values()].every((p) => rank(p?.state) >= rank("restored"));
    const waiting = (p: RestoreProgress | undefined) =>
      phase === "restore" && p?.state === "restored" && !barrierOpen;
    const silent = [...all].filter(
      ([n, p]) => !nodeDone(phase, p?.state) && !waiting(p) && now - seen.get(n)!.sinceMs > o.nodeTimeoutMs,
    );
    if (silent.length > 0) {
      throw new NodeUnresponsiveError(
        `cluster restore ${request.id}: ${silent.map(([n, p]) => `node ${n} has not answered for ${Math.round(o.nodeTimeoutMs / 1000)} s (${p ? `last state ${p.state}` : "no progress at all"})`).join("; ")}`,
        "its agent is down or cannot reach the archive: start 'cassandra-pitr agent' on it and run 'cassandra-pitr restore resume --cluster', or 'cassandra-pitr restore abort --cluster' to put back every node that has not started",
      );
    }
    await sleep(o.pollMs);
  }
}

/** Creates the request (exit 26 when one is in progress). */
export async function beginClusterRestore(
  backend: Backend,
  request: RestoreRequest,
  signal?: AbortSignal,
): Promise<void> {
  await createRestoreRequest(backend, request, signal);
}

/** Moves the request to `phase`; finish needs every node started. */
export async function changePhase(
  backend: Backend,
  cluster: string,
  phase: RestorePhase,
  signal?: AbortSignal,
): Promise<RestoreRequest> {
  const request = await readRestoreRequest(backend, cluster, signal);
  if (!request)
    throw new PitrError("E_NOT_FOUND", `no cluster restore is in progress in cluster '${cluster}'`, {
      hint: "nothing to finish or abort",
    });
  if (phase === "finish") {
    const all = await readAllProgress(backend, request, signal);
    const notStarted = [...all]
      .filter(([, p]) => !nodeDone("restore", p?.state))
      .map(([n, p]) => `${n} (${p?.state ?? "no answer"})`);
    if (notStarted.length > 0) {
      throw new PitrError(
        "E_NODE_STATE",
        `cluster restore ${request.id} cannot finish: node(s) ${notStarted.join(", ")} have not started after their restore`,
        {
          hint: "'cassandra-pitr restore resume --cluster' to watch the restore through, or 'restore abort --cluster'",
        },
      );
    }
  }
  const next = { ...request, phase };
  if (request.phase !== phase) await writeRestoreRequest(backend, next, signal);
  return next;
}

/** Ends the operation once its last phase is done; the request is kept in the history. */
export async function endClusterRestore(
  backend: Backend,
  request: RestoreRequest,
  signal?: AbortSignal,
): Promise<string> {
  return closeRestoreRequest(backend, request, signal);
}
