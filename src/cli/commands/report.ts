/**
 * `cassandra-pitr report [--since T] [--until T] [--target-rpo D] [--node ID ...] [--format F] [--out FILE]`:
 * the recovery point report (src/report). The default window is the week before --until, or less:
 * it starts when the reported nodes' archive starts (their oldest segment or snapshot), so a new
 * cluster is not reported as unprotected for the days before it existed. Exit 3 when a check fails (target breached, gap, nothing
 * restorable); 14 for unknown nodes, an archive without nodes or a window without data; 2 for bad input.
 */
import { writeOutputFile } from "../output-file.js";
import { ConfigError, PitrError, UsageError } from "../../errors/base.js";
import { parseDuration } from "../../config/duration.js";
import { buildReport, humanDuration, reportBreached } from "../../report/model.js";
import { scanLocalSnapshots } from "../../report/local-snapshots.js";
import { exposureOf } from "../../catalog/exposure.js";
import { segmentsOnDisk } from "../../pipeline/partial.js";
import { archiveStart, listNodes, nodeExists, readNodeInput } from "../../report/read.js";
import { parseInstant } from "../../restore/time.js";
import { FORMATS, render, type Format } from "../../report/render.js";
import { toolVersion } from "../../report/version.js";
import type { Backend } from "../../storage/types.js";
import { openArchive } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";

const iso = (ms: number) => new Date(ms).toISOString();

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const now = Date.now();
  const format = String(ctx.args["format"] ?? "text") as Format;
  if (!FORMATS.includes(format))
    throw new UsageError(`--format: '${format}' is not one of ${FORMATS.join(", ")}`);
  const until = ctx.args["until"] ? parseInstant(String(ctx.args["until"]), { now }).epochMs : now;
  const givenSince = ctx.args["since"] ? parseInstant(String(ctx.args["since"]), { now }).epochMs : undefined;
  if (givenSince !== undefined && !(givenSince < until))
    throw new UsageError(
      `the window is empty: --since ${iso(givenSince)} is not before --until ${iso(until)}`,
    );
  const { config, backend } = await openArchive(ctx);
  try {
    const targetRpoMs =
      ctx.args["target-rpo"] !== undefined
        ? parseDuration(String(ctx.args["target-rpo"]), "--target-rpo")
        : config.targetRpo;
    if (!(targetRpoMs > 0)) throw new ConfigError(`--target-rpo: must be more than 0`);
    const stepMs =
      ctx.args["step"] !== undefined ? parseDuration(String(ctx.args["step"]), "--step") : undefined;
    if (!config.cluster)
      throw new ConfigError("the cluster is not configured", {
        hint: "set --cluster, CASSANDRA_PITR_CLUSTER or run 'cassandra-pitr init'",
      });
    const cluster = config.cluster;
    const requested = ((ctx.args["node"] as string[] | string | undefined) ?? []) as string[] | string;
    let nodes = (Array.isArray(requested) ? requested : [requested]).map(String).filter((n) => n.length > 0);
    if (nodes.length > 0) {
      const unknown: string[] = [];
      for (const node of nodes)
        if (!(await nodeExists(backend, { cluster, node }, ctx.signal))) unknown.push(node);
      if (unknown.length > 0) {
        throw new PitrError(
          "E_NOT_FOUND",
          `unknown node(s) ${unknown.map((n) => `'${n}'`).join(", ")}: nothing stored under cluster '${cluster}' in ${backend.displayLocation}`,
          {
            hint: `nodes in the archive: ${(await listNodes(backend, cluster, { signal: ctx.signal, max: 20 })).join(", ") || "none"}`,
          },
        );
      }
    } else {
      nodes = await listNodes(backend, cluster, { signal: ctx.signal });
      if (nodes.length === 0) {
        throw new PitrError(
          "E_NOT_FOUND",
          `the archive ${backend.displayLocation} holds no node of cluster '${cluster}'`,
          {
            hint: "check --archive and --cluster; a node appears once its first segment or snapshot is stored",
          },
        );
      }
    }
    const since = givenSince ?? (await defaultSince(backend, cluster, nodes, until, ctx.signal));
    const inputs = [];
    for (const node of nodes) {
      const input = await readNodeInput(
        backend,
        { cluster, node },
        { fromMs: since, toMs: until, signal: ctx.signal },
      );
      // On the node itself: the local disk held only by snapshots (data directory configured), and the
      // segments on its disk that the archive does not hold (commit log directory configured).
      const onNode = node === config.node;
      const local = onNode && config.dataDir ? await scanLocalSnapshots(config.dataDir) : undefined;
      const exposure =
        onNode && config.commitlogDir
          ? exposureOf(input.catalog, await segmentsOnDisk(config.commitlogDir))
          : undefined;
      inputs.push({
        ...input,
        ...(local ? { localSnapshots: local } : {}),
        ...(exposure ? { exposure } : {}),
      });
    }
    const hasData = inputs.some(
      (n) =>
        n.catalog.segments.some((s) => s.closeTimeMs <= until + 86_400_000) ||
        n.catalog.snapshots.some((s) => s.snapshotTimeMs <= until),
    );
    if (!hasData) {
      throw new PitrError(
        "E_NOT_FOUND",
        `no data for ${iso(since)} .. ${iso(until)}: no segment closed and no snapshot taken by then on ${nodes.length} node(s) of cluster '${cluster}'`,
        {
          hint: "choose a window with --since/--until that the archive covers ('cassandra-pitr list')",
        },
      );
    }
    const model = buildReport({
      nodes: inputs,
      fromMs: since,
      toMs: until,
      nowMs: now,
      targetRpoMs,
      stepMs,
      toolVersion: toolVersion(),
      archive: backend.displayLocation,
    });
    const text = render(model, format);
    const out = ctx.args["out"];
    if (typeof out === "string" && out.length > 0) {
      await writeOutputFile(out, text);
      ctx.out(
        `${model.status}: ${model.nodes.length} node(s), target RPO ${humanDuration(targetRpoMs)}, ${iso(since)} .. ${iso(until)}; ${format} written to ${out}`,
      );
    } else ctx.out(text);
    return reportBreached(model) ? "problems" : "ok";
  } finally {
    await backend.close();
  }
}

const WEEK_MS = 7 * 86_400_000;

/** The week before `until`, cut to when the oldest of these nodes' archives starts. */
async function defaultSince(
  backend: Backend,
  cluster: string,
  nodes: readonly string[],
  until: number,
  signal: AbortSignal,
): Promise<number> {
  const starts: number[] = [];
  for (const node of nodes) {
    const start = await archiveStart(backend, { cluster, node }, signal);
    if (start !== undefined) starts.push(start);
  }
  const start = starts.length > 0 ? Math.min(...starts) : undefined;
  // A window must not be empty: an archive that starts at or after --until keeps the week.
  return start !== undefined && start > until - WEEK_MS && start < until ? start : until - WEEK_MS;
}
