/**
 * `cassandra-pitr list --cluster [--since T] [--until T] [--json]`: every node of the cluster found
 * in the archive with its restorable instants, the common restorable window (the instants to which
 * every node can be restored), nodes whose archive stopped, and gaps per node. The model is
 * src/catalog/cluster.ts; this file reads the catalogs and renders.
 */
import { createNodetoolRunner, parseStatusNodes } from "../backup/nodetool.js";
import { loadIncrementals, loadSnapshots } from "../catalog/backup-source.js";
import {
  buildClusterView,
  clusterProblems,
  type ClusterView,
  type Interval,
  type RingNode,
} from "../catalog/cluster.js";
import type { Catalog } from "../catalog/model.js";
import { listNodes } from "../catalog/nodes.js";
import { readCatalog } from "../catalog/read.js";
import type { Config } from "../config/schema.js";
import { ConfigError, PitrError } from "../errors/base.js";
import type { Backend } from "../storage/types.js";
import type { CliContext, CommandOutcome } from "./main.js";
import { gapJson, iso } from "./catalog-json.js";

const span = (i: Interval) => `${iso(i.fromMs)} .. ${iso(i.toMs)}`;

/** 2h 5m, 40m 3s, 12s: enough to read a lag at a glance. */
export function shortDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86_400), Math.floor((s % 86_400) / 3600), Math.floor((s % 3600) / 60)];
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

async function readCatalogs(
  ctx: CliContext,
  backend: Backend,
  cluster: string,
  since: number,
  until: number,
): Promise<Catalog[]> {
  const nodes = await listNodes(backend, cluster, { signal: ctx.signal });
  if (nodes.length === 0) {
    throw new PitrError(
      "E_NOT_FOUND",
      `the archive ${backend.displayLocation} holds no node of cluster '${cluster}'`,
      {
        hint: "check --archive and --cluster; a node appears once its first segment or snapshot is stored",
      },
    );
  }
  const catalogs: Catalog[] = [];
  for (const node of nodes) {
    catalogs.push(
      await readCatalog(
        backend,
        { cluster, node },
        { fromMs: since, toMs: until, loadSnapshots, loadIncrementals, signal: ctx.signal },
      ),
    );
  }
  return catalogs;
}

function toJson(view: ClusterView, archive: string, since: number, until: number): unknown {
  const interval = (i: Interval) => ({ from: iso(i.fromMs), to: iso(i.toMs) });
  return {
    schema_version: 1,
    cluster: view.cluster,
    archive,
    listed: { from: iso(since), to: iso(until) },
    common_window: view.commonWindow ? interval(view.commonWindow) : null,
    common: view.common.map(interval),
    newest_close: iso(view.newestCloseMs),
    stopped_after_ms: view.stoppedAfterMs,
    nodes: view.nodes.map((n) => ({
      node: n.node,
      restorable: n.restorable.map(interval),
      segments: n.segments,
      snapshots: n.snapshots,
      newest_close: iso(n.newestCloseMs),
      in_ring: n.inRing ?? null,
      archive_stopped: n.stopped !== undefined,
      lag_ms: n.stopped?.lagMs ?? null,
      gaps: n.gaps.map(gapJson),
    })),
    ring_without_archive: view.ringWithoutArchive.map((r) => ({
      node: r.hostId,
      address: r.address,
      state: r.state,
    })),
    problems: clusterProblems(view),
  };
}

function renderText(view: ClusterView, archive: string, out: (line: string) => void): void {
  out(`cluster ${view.cluster}: ${view.nodes.length} node(s) in ${archive}`);
  out(
    `  common restorable window: ${view.commonWindow ? `${span(view.commonWindow)} (every node can be restored to any instant in it)` : "none (no instant to which every node can be restored)"}`,
  );
  for (const earlier of view.common.slice(0, -1)) out(`    also, before a gap: ${span(earlier)}`);
  for (const n of view.nodes) {
    const restorable = n.restorable.length > 0 ? n.restorable.map(span).join(", ") : "none";
    out(`  node ${n.node}${n.inRing === false ? " (not in the ring)" : ""}: restorable ${restorable}`);
    out(
      `    ${n.segments} segment(s), ${n.snapshots} snapshot(s), newest segment closed ${iso(n.newestCloseMs)}; gaps: ${n.gaps.length}`,
    );
    if (n.stopped) {
      const behind =
        n.stopped.lagMs === undefined
          ? "no segment archived while other nodes have"
          : `${shortDuration(n.stopped.lagMs)} behind the newest segment of the cluster`;
      out(
        `    ARCHIVE STOPPED: ${behind}; hint: is the node down, or its archive hook or agent failing? (its log, 'cassandra-pitr check' on it)`,
      );
    }
    for (const g of n.gaps)
      out(
        `    gap: ids ${g.fromId}..${g.toId} (${g.count}) after the segment closed ${iso(g.afterCloseMs)}: ${g.cause}`,
      );
  }
  for (const r of view.ringWithoutArchive) {
    out(
      `  node ${r.hostId} (${r.address}, ${r.state}): IN THE RING, NOTHING ARCHIVED; hint: install the hook on it ('cassandra-pitr init' there) or check its archive setting`,
    );
  }
}

/** The live ring from `nodetool status` when --nodetool is given. */
export async function readRing(ctx: CliContext): Promise<RingNode[] | undefined> {
  const command = ctx.args["nodetool"];
  if (typeof command !== "string" || command.length === 0) return undefined;
  return parseStatusNodes(await createNodetoolRunner(command)(["status"], ctx.signal));
}

export async function runClusterList(
  ctx: CliContext,
  config: Config,
  backend: Backend,
  since: number,
  until: number,
): Promise<CommandOutcome> {
  if (!config.cluster)
    throw new ConfigError("the cluster is not configured", {
      hint: "name it: 'list --cluster NAME', CASSANDRA_PITR_CLUSTER or 'cassandra-pitr init'",
    });
  const catalogs = await readCatalogs(ctx, backend, config.cluster, since, until);
  const ring = await readRing(ctx);
  const view = buildClusterView(config.cluster, catalogs, { stoppedAfterMs: config.targetRpo, ring });
  if (ctx.args["json"]) ctx.out(JSON.stringify(toJson(view, backend.displayLocation, since, until), null, 2));
  else renderText(view, backend.displayLocation, ctx.out);
  return clusterProblems(view).length > 0 ? "problems" : "ok";
}
