/**
 * `cassandra-pitr list [--since T] [--until T] [--json]`: the node's restorable window, snapshots,
 * gaps, segment counts, and its branches (one per finished restore, restore/branches.ts; all of
 * them, whatever the searched window, since each still shapes later plans). It describes what it found (the first and last segment close times), and
 * names the searched window as such. With `--cluster [NAME]` (and no `--node`): every node of the
 * cluster, see cli/list-cluster.ts.
 */
import { loadIncrementals, loadSnapshots } from "../../catalog/backup-source.js";
import { requireKnownNode } from "../../catalog/nodes.js";
import { readCatalog } from "../../catalog/read.js";
import { exposureOf } from "../../catalog/exposure.js";
import type { Catalog } from "../../catalog/model.js";
import { segmentsOnDisk } from "../../pipeline/partial.js";
import { listBranches, type Branch } from "../../restore/branches.js";
import { identityOf, openArchive, windowArgs } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";
import { gapJson, iso } from "../catalog-json.js";

/** Segments on this node's disk that the archive does not hold (bytes and time range at risk). */
async function exposureOnDisk(c: Catalog, commitlogDir: string) {
  const onDisk = await segmentsOnDisk(commitlogDir);
  return exposureOf(c, onDisk).map((e) => ({
    segment: e.name,
    bytes: e.bytes,
    since: iso(e.sinceMs),
    until: iso(e.untilMs),
  }));
}

/** A branch point as `list` shows it (JSON field names as in the branch record). */
function branchSummary(b: Branch) {
  return {
    restored_at: iso(b.restoredAtMs),
    restore_point_in_time: b.restorePoint,
    cutoff_micros: b.cutoffMicros.toString(),
    table_ids: b.tableIds ? [...b.tableIds] : null,
    tables: [...(b.tables ?? [])],
  };
}

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    const now = Date.now();
    const { since, until } = windowArgs(ctx, now, 7 * 86_400_000);
    if (ctx.args["cluster"] !== undefined && ctx.args["node"] === undefined) {
      const { runClusterList } = await import("../list-cluster.js");
      return await runClusterList(ctx, config, backend, since, until);
    }
    const identity = identityOf(config);
    await requireKnownNode(backend, identity, ctx.signal);
    const c = await readCatalog(backend, identity, {
      fromMs: since,
      toMs: until,
      loadSnapshots,
      loadIncrementals,
      signal: ctx.signal,
    });
    const branches = await listBranches(backend, identity, ctx.signal);
    const closes = c.segments.map((s) => s.closeTimeMs);
    const found =
      closes.length > 0 ? { first: iso(Math.min(...closes)), last: iso(Math.max(...closes)) } : undefined;
    const summary = {
      schema_version: 1,
      node: identity,
      listed: { from: iso(c.listedFromMs), to: iso(c.listedToMs) },
      window: c.restorable
        ? {
            earliest: iso(c.restorable.earliestMs),
            latest: iso(c.restorable.latestMs),
            snapshot: c.restorable.snapshotTag,
          }
        : null,
      searched: { from: iso(since), to: iso(until) },
      segments: {
        count: c.segments.length,
        first_close: found?.first ?? null,
        last_close: found?.last ?? null,
        runs: c.runs.length,
        duplicates: c.duplicates.length,
        newest_close: iso(c.unarchivedTail?.sinceMs),
      },
      snapshots: c.snapshots.map((s) => ({
        tag: s.tag,
        time: iso(s.snapshotTimeMs),
        complete: s.complete,
        cassandra_version: s.cassandraVersion,
        tables: s.tables.length,
      })),
      incrementals: c.incrementals.length,
      gaps: c.gaps.map(gapJson),
      ranges: c.ranges.map((r) => ({ snapshot: r.snapshotTag, from: iso(r.fromMs), to: iso(r.toMs) })),
      branches: branches.map(branchSummary),
    };
    const exposure = config.commitlogDir ? await exposureOnDisk(c, config.commitlogDir) : undefined;
    if (ctx.args["json"]) {
      ctx.out(JSON.stringify({ ...summary, ...(exposure ? { exposure } : {}) }, null, 2));
    } else {
      ctx.out(
        `node ${identity.cluster}/${identity.node}: ${found ? `segments closed ${found.first} .. ${found.last}` : "no segment"} (searched ${summary.searched.from} .. ${summary.searched.to})`,
      );
      ctx.out(
        `  restorable window: ${summary.window ? `${summary.window.earliest} .. ${summary.window.latest} (from snapshot '${summary.window.snapshot}')` : "none"}`,
      );
      ctx.out(
        `  segments: ${c.segments.length} in ${c.runs.length} run(s), ${c.duplicates.length} duplicate id(s); newest closed ${summary.segments.newest_close}`,
      );
      ctx.out(`  snapshots: ${c.snapshots.length}`);
      for (const s of summary.snapshots)
        ctx.out(
          `    ${s.time}  ${s.tag}  ${s.complete ? "complete" : "INCOMPLETE"}  ${s.tables} table(s)  Cassandra ${s.cassandra_version}`,
        );
      ctx.out(`  incrementals: ${c.incrementals.length}`);
      ctx.out(`  gaps: ${c.gaps.length}`);
      for (const g of summary.gaps)
        ctx.out(
          `    ids ${g.from_id}..${g.to_id} (${g.count}) after the segment closed ${g.after_close}: ${g.cause}`,
        );
      ctx.out(
        `  branches: ${branches.length}${branches.length > 0 ? " (each restore's writes after its restore point stay undone in later plans)" : ""}`,
      );
      for (const b of summary.branches)
        ctx.out(
          `    ${b.restored_at}  restored to ${b.restore_point_in_time} UTC  ${b.table_ids === null ? "whole node" : (b.tables.length > 0 ? b.tables : b.table_ids).join(", ")}`,
        );
      if (exposure) {
        ctx.out(
          `  on this node's disk, not in the archive: ${exposure.length === 0 ? "nothing" : `${exposure.reduce((n, e) => n + e.bytes, 0)} bytes in ${exposure.length} segment(s)`}`,
        );
        for (const e of exposure)
          ctx.out(
            `    ${e.segment}: ${e.bytes} synced bytes, writes ${e.since ?? "of any time"} .. ${e.until}`,
          );
      }
    }
    return c.gaps.length > 0 ? "problems" : "ok";
  } finally {
    await backend.close();
  }
}
