/**
 * `plan --cluster --at T`, `restore --cluster --at T`, `restore status|resume|finish|abort --cluster`
 * and `snapshot --cluster`: the cluster operations (docs/cluster-restore.md). Shared by the plan,
 * restore and snapshot commands, which stay thin (a command never imports another).
 */
import type { ClusterPlan } from "../cluster/plan.js";
import { ConfigError, UsageError } from "../errors/base.js";
import type { Config } from "../config/schema.js";
import { renderPlanJson, renderPlanText } from "../restore/plan-text.js";
import { DEFAULT_GRACE } from "../restore/prepare.js";
import { formatInstant, parseInstant } from "../restore/time.js";
import type { Backend } from "../storage/types.js";
import { durationArg, optionalString, strings } from "./args.js";
import { readRing } from "./list-cluster.js";
import type { CliContext, CommandOutcome } from "./main.js";

/** `--cluster` without `--node`: the command acts on the whole cluster. */
export function wantsCluster(ctx: CliContext): boolean {
  return ctx.args["cluster"] !== undefined && ctx.args["node"] === undefined;
}

function clusterOf(config: Config): string {
  if (!config.cluster)
    throw new ConfigError("the cluster is not configured", {
      hint: "name it: '--cluster NAME', CASSANDRA_PITR_CLUSTER or 'cassandra-pitr init'",
    });
  return config.cluster;
}

async function makePlan(ctx: CliContext, config: Config, backend: Backend): Promise<ClusterPlan> {
  const { planCluster } = await import("../cluster/plan.js");
  if (ctx.args["at"] === undefined)
    throw new UsageError("a cluster restore needs --at", {
      hint: "cassandra-pitr plan --cluster --at T first, then restore --cluster --at T",
    });
  const now = Date.now();
  return planCluster({
    backend,
    cluster: clusterOf(config),
    at: parseInstant(String(ctx.args["at"]), { now }),
    graceMs: durationArg(ctx.args, "grace", DEFAULT_GRACE),
    keyspaces: strings(ctx.args, "keyspace"),
    tables: strings(ctx.args, "table"),
    targetVersion: optionalString(ctx.args, "targetVersion"),
    ring: await readRing(ctx),
    now,
    signal: ctx.signal,
  });
}

function renderClusterPlan(plan: ClusterPlan): string {
  const lines = [
    `cluster restore plan for '${plan.cluster}' at ${formatInstant(plan.at.epochMicros)}: ${plan.nodes.length} node(s)`,
  ];
  for (const n of plan.nodes)
    lines.push(
      `  node ${n.node}: ${n.note ? `restored to ${formatInstant(n.atMicros)}: ${n.note}` : "restored to T"}`,
    );
  lines.push(
    "  on every node, before it starts: hints, batchlog (system.batches) and Paxos state (system.paxos) are moved aside, never deleted: they carry writes stamped after T",
    "  no node starts until every node has restored",
  );
  for (const n of plan.nodes) lines.push("", renderPlanText(n.plan));
  return lines.join("\n");
}

export async function runClusterPlan(
  ctx: CliContext,
  config: Config,
  backend: Backend,
): Promise<CommandOutcome> {
  const plan = await makePlan(ctx, config, backend);
  if (ctx.args["json"]) {
    const nodes = plan.nodes.map((n) => ({
      node: n.node,
      at_micros: n.atMicros.toString(),
      note: n.note ?? null,
      plan: JSON.parse(renderPlanJson(n.plan)) as unknown,
    }));
    ctx.out(
      JSON.stringify(
        { schema_version: 1, cluster: plan.cluster, at: formatInstant(plan.at.epochMicros), nodes },
        null,
        2,
      ),
    );
  } else {
    ctx.out(renderClusterPlan(plan));
  }
  return "ok";
}

export async function runClusterRestore(
  ctx: CliContext,
  config: Config,
  backend: Backend,
): Promise<CommandOutcome> {
  const op = await import("../cluster/operation.js");
  const cluster = clusterOf(config);
  const watch = {
    backend,
    cluster,
    nodeTimeoutMs: durationArg(ctx.args, "nodeTimeout", "15m"),
    pollMs: durationArg(ctx.args, "poll", "2s"),
    say: ctx.out,
    signal: ctx.signal,
  };
  const action = ctx.args["action"];
  if (action === "status") {
    const { readRestoreRequest, readAllProgress } = await import("../cluster/store.js");
    const request = await readRestoreRequest(backend, cluster, ctx.signal);
    if (!request) {
      ctx.out(`no cluster restore in progress in cluster '${cluster}'`);
      return "ok";
    }
    ctx.out(
      `cluster restore ${request.id} of '${cluster}' to ${request.at} UTC, phase ${request.phase}, created ${request.created}`,
    );
    for (const [node, p] of await readAllProgress(backend, request, ctx.signal)) {
      ctx.out(op.progressLine(node, p));
      for (const line of p?.done ?? []) ctx.out(`    ${line}`);
    }
    return "ok";
  }
  if (action === "finish" || action === "abort") {
    const request = await op.changePhase(backend, cluster, action, ctx.signal);
    ctx.out(
      `cluster restore ${request.id}: ${action} requested of ${Object.keys(request.nodes).length} node(s)`,
    );
    const all = await op.watchRequest(watch, action);
    const kept = action === "abort" ? [...all].filter(([, p]) => p?.state !== "aborted").map(([n]) => n) : [];
    const key = await op.endClusterRestore(backend, request, ctx.signal);
    if (kept.length > 0)
      ctx.out(
        `node(s) ${kept.join(", ")} had already started restored: they keep the restored data (run 'restore finish' on them)`,
      );
    ctx.out(
      `cluster restore ${request.id} ${action === "finish" ? "finished" : "aborted"}; the request is kept in '${key}'`,
    );
    if (action === "finish")
      ctx.out(
        "next: 'nodetool repair' on any node the plan restored to an earlier instant (it was down at T)",
      );
    return "ok";
  }
  if (action === "resume") {
    await op.watchRequest(watch, "restore");
    ctx.out(
      "every node restored and started; check the data, then 'cassandra-pitr restore finish --cluster'",
    );
    return "ok";
  }
  const plan = await makePlan(ctx, config, backend);
  ctx.out(renderClusterPlan(plan).split("\n\n")[0]!);
  if (ctx.args["dryRun"] === true) return "ok";
  const request = op.requestOf(plan, {
    now: Date.now(),
    graceMs: durationArg(ctx.args, "grace", DEFAULT_GRACE),
    keyspaces: strings(ctx.args, "keyspace") ?? [],
    tables: strings(ctx.args, "table") ?? [],
  });
  await op.beginClusterRestore(backend, request, ctx.signal);
  ctx.out(
    `cluster restore ${request.id} requested; each node's agent stops its node, restores it and starts it once every node has restored`,
  );
  await op.watchRequest(watch, "restore");
  ctx.out("every node restored and started; check the data, then 'cassandra-pitr restore finish --cluster'");
  return "ok";
}

export async function runClusterSnapshot(
  ctx: CliContext,
  config: Config,
  backend: Backend,
  tag: string | undefined,
  scope: readonly string[],
): Promise<CommandOutcome> {
  const { createSnapshotRequest, readSnapshotAnswer } = await import("../cluster/store.js");
  const { listNodes } = await import("../catalog/nodes.js");
  const { NodeFailedError, NodeUnresponsiveError } = await import("../cluster/operation.js");
  const cluster = clusterOf(config);
  const now = Date.now();
  const name =
    tag ??
    `cluster-${new Date(now)
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z")}`;
  await createSnapshotRequest(
    backend,
    cluster,
    { schema_version: 1, tag: name, scope: [...scope], requested_at: new Date(now).toISOString() },
    ctx.signal,
  );
  ctx.out(
    `cluster snapshot '${name}' requested of every node of '${cluster}' (each node's agent takes and uploads it)`,
  );
  if (ctx.args["wait"] !== true) return "ok";
  const nodes = await listNodes(backend, cluster, { signal: ctx.signal });
  const timeoutMs = durationArg(ctx.args, "nodeTimeout", "15m");
  const pending = new Set(nodes);
  while (pending.size > 0) {
    for (const node of [...pending]) {
      const answer = await readSnapshotAnswer(backend, cluster, name, node, ctx.signal);
      if (answer?.state === "failed")
        throw new NodeFailedError(
          `cluster snapshot '${name}': node ${node} failed: ${answer.error ?? "no detail"}`,
          "fix the cause on the node and request another snapshot",
        );
      if (answer) {
        ctx.out(`node ${node}: snapshot '${name}' uploaded (${answer.snapshot_time})`);
        pending.delete(node);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() - now > timeoutMs) {
      throw new NodeUnresponsiveError(
        `cluster snapshot '${name}': node(s) ${[...pending].join(", ")} did not answer within ${Math.round(timeoutMs / 1000)} s`,
        "start 'cassandra-pitr agent' on them; they take the snapshot on their next pass",
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  return "ok";
}
