/**
 * The cluster's plan for a restore point T: one plan per node of the cluster found in the archive,
 * each made by the same preparePlan as a single-node `plan`. Refused (exit 17) when any node cannot
 * reach T, naming each such node with its reason and the nearest instant to which every node can be
 * restored.
 *
 * One exception, on purpose: a node whose archive ends before T while other nodes reach T (it was
 * down at T, or not archiving) is planned to the newest instant its archive allows. Its replicas
 * hold what it missed; after the restore, `nodetool repair` brings it level from the restored
 * replicas. Hints are no answer: every node's hints are moved aside, because they carry writes
 * stamped after T.
 */
import { loadIncrementals, loadSnapshots } from "../catalog/backup-source.js";
import { buildClusterView, type Interval, type RingNode } from "../catalog/cluster.js";
import { listNodes } from "../catalog/nodes.js";
import { readCatalog } from "../catalog/read.js";
import type { Catalog } from "../catalog/model.js";
import { PitrError } from "../errors/base.js";
import { PlanRefusedError, type RestorePlan } from "../restore/plan.js";
import { preparePlan } from "../restore/prepare.js";
import { formatInstant, instantFromMicros, type Instant } from "../restore/time.js";
import type { Backend } from "../storage/types.js";

const iso = (ms: number) => new Date(ms).toISOString();
const WEEK_MS = 7 * 86_400_000;

export interface ClusterPlanInput {
  readonly backend: Backend;
  readonly cluster: string;
  readonly at: Instant;
  readonly graceMs: number;
  readonly keyspaces?: readonly string[] | undefined;
  readonly tables?: readonly string[] | undefined;
  readonly targetVersion?: string | undefined;
  /** The live ring (nodetool status), when known: a ring node with nothing archived refuses the plan. */
  readonly ring?: readonly RingNode[] | undefined;
  readonly now: number;
  readonly signal?: AbortSignal | undefined;
}

export interface NodePlan {
  readonly node: string;
  readonly plan: RestorePlan;
  /** The node's restore point, µs: T, or the end of an archive that stops before T. */
  readonly atMicros: bigint;
  /** Set when the node's restore point is not T: why, and what brings it level. */
  readonly note?: string | undefined;
}

export interface ClusterPlan {
  readonly cluster: string;
  readonly at: Instant;
  readonly nodes: readonly NodePlan[];
}

/** The cluster restore is refused; exit 17 as a single-node plan refusal. */
export class ClusterPlanRefusedError extends PitrError {
  override name = "ClusterPlanRefusedError";
  constructor(
    message: string,
    hint: string,
    readonly nodes: readonly string[],
    readonly nearestMicros: bigint | undefined,
  ) {
    super("E_PLAN_REFUSED", message, { hint });
  }
}

/** The instant of `intervals` nearest to `atMs` (undefined: none). */
export function nearestInstant(intervals: readonly Interval[], atMs: number): number | undefined {
  let best: number | undefined;
  for (const i of intervals) {
    const candidate = Math.min(Math.max(atMs, i.fromMs), i.toMs);
    if (best === undefined || Math.abs(candidate - atMs) < Math.abs(best - atMs)) best = candidate;
  }
  return best;
}

function downNote(endMicros: bigint, at: Instant): string {
  return (
    `its archive ends at ${formatInstant(endMicros)}, before ${formatInstant(at.epochMicros)} (the node was down or not archiving then): ` +
    "restored to that instant; after the cluster restore, run 'nodetool repair' on it so the restored replicas bring it level (hints are moved aside: they carry writes after T)"
  );
}

type Outcome = { node: string; plan: RestorePlan } | { node: string; refused: PlanRefusedError };

async function planEach(input: ClusterPlanInput, nodes: readonly string[], at: Instant): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const node of nodes) {
    try {
      const plan = await preparePlan({ ...input, identity: { cluster: input.cluster, node }, at });
      out.push({ node, plan });
    } catch (err) {
      if (!(err instanceof PlanRefusedError)) throw err;
      out.push({ node, refused: err });
    }
  }
  return out;
}

async function nearestCommon(input: ClusterPlanInput, nodes: readonly string[]): Promise<number | undefined> {
  const atMs = Math.min(input.at.epochMs, input.now);
  const catalogs: Catalog[] = [];
  for (const node of nodes) {
    catalogs.push(
      await readCatalog(
        input.backend,
        { cluster: input.cluster, node },
        { fromMs: atMs - WEEK_MS, toMs: input.now, loadSnapshots, loadIncrementals, signal: input.signal },
      ),
    );
  }
  const view = buildClusterView(input.cluster, catalogs, { stoppedAfterMs: Number.MAX_SAFE_INTEGER });
  return nearestInstant(view.common, input.at.epochMs);
}

function refusal(
  input: ClusterPlanInput,
  reasons: readonly { node: string; why: string }[],
  nearestMs: number | undefined,
): ClusterPlanRefusedError {
  const at = formatInstant(input.at.epochMicros);
  return new ClusterPlanRefusedError(
    `cluster restore of '${input.cluster}' to ${at} refused: ${reasons.map((r) => `node ${r.node}: ${r.why}`).join("; ")}`,
    nearestMs === undefined
      ? "there is no instant to which every node can be restored; 'cassandra-pitr list --cluster' shows each node's window"
      : `the nearest instant to which every node can be restored is ${iso(nearestMs)} ('cassandra-pitr list --cluster' shows the common restorable window)`,
    reasons.map((r) => r.node),
    nearestMs === undefined ? undefined : BigInt(nearestMs) * 1000n,
  );
}

export async function planCluster(input: ClusterPlanInput): Promise<ClusterPlan> {
  const nodes = await listNodes(input.backend, input.cluster, { signal: input.signal });
  if (nodes.length === 0) {
    throw new PitrError(
      "E_NOT_FOUND",
      `the archive ${input.backend.displayLocation} holds no node of cluster '${input.cluster}'`,
      {
        hint: "check --archive and --cluster; a node appears once its first segment or snapshot is stored",
      },
    );
  }
  const reasons: { node: string; why: string }[] = [];
  for (const r of input.ring ?? []) {
    if (!nodes.includes(r.hostId))
      reasons.push({
        node: r.hostId,
        why: `in the ring (${r.address}) but nothing archived: it cannot be restored`,
      });
  }
  const outcomes = await planEach(input, nodes, input.at);
  const reachT = outcomes.filter((o) => "plan" in o).length;
  const planned: NodePlan[] = [];
  for (const o of outcomes) {
    if ("plan" in o) {
      planned.push({ node: o.node, plan: o.plan, atMicros: input.at.epochMicros });
    } else if (o.refused.kind === "after-latest" && o.refused.nearest !== undefined && reachT > 0) {
      const end = instantFromMicros(o.refused.nearest);
      const [again] = await planEach(input, [o.node], end);
      if (again && "plan" in again)
        planned.push({
          node: o.node,
          plan: again.plan,
          atMicros: end.epochMicros,
          note: downNote(end.epochMicros, input.at),
        });
      else
        reasons.push({
          node: o.node,
          why: again && "refused" in again ? again.refused.message : o.refused.message,
        });
    } else if (o.refused.kind === "after-latest") {
      reasons.push({
        node: o.node,
        why: `its archive ends before the restore point (${o.refused.message.replace(/^restore point \S+ is after the newest archived segment's close time; /, "")})`,
      });
    } else {
      reasons.push({ node: o.node, why: o.refused.message });
    }
  }
  if (reasons.length > 0) throw refusal(input, reasons, await nearestCommon(input, nodes));
  return { cluster: input.cluster, at: input.at, nodes: planned };
}
