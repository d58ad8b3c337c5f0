/** `cassandra-pitr verify [--deep] [--node ID ...] [--since T] [--until T] [--json]` (src/verify). Exit 3 when a check fails. */
import { parseDuration } from "../../config/duration.js";
import { UsageError } from "../../errors/base.js";
import { EXIT } from "../../errors/codes.js";
import { parseInstant } from "../../restore/time.js";
import { verifyNode } from "../../verify/verify.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext } from "../main.js";

export async function run(ctx: CliContext): Promise<number> {
  if (ctx.args["drill"]) throw new UsageError("--drill is not implemented yet");
  const now = Date.now();
  const until = ctx.args["until"] ? parseInstant(String(ctx.args["until"]), { now }).epochMs : now;
  const since = ctx.args["since"] ? parseInstant(String(ctx.args["since"]), { now }).epochMs : until - 7 * 86_400_000;
  const { config, backend } = await openArchive(ctx);
  try {
    const identity = identityOf(config);
    const delayMs = ctx.args["delay"] !== undefined ? parseDuration(String(ctx.args["delay"]), "--delay") : config.targetRpo;
    const requested = ctx.args["node"] as string[] | undefined;
    const nodes = requested && requested.length > 0 ? requested.map(String) : [identity.node];
    const results = [];
    for (const node of nodes) {
      results.push(await verifyNode(backend, { cluster: identity.cluster, node }, { fromMs: since, toMs: until, nowMs: now, delayMs, deep: ctx.args["deep"] === true, signal: ctx.signal }));
    }
    if (ctx.args["json"]) ctx.out(JSON.stringify({ schema_version: 1, nodes: results }, null, 2));
    else {
      for (const r of results) {
        ctx.out(`node ${identity.cluster}/${r.node}: ${r.status}`);
        for (const c of r.checks) ctx.out(`  [${c.status}] ${c.id}: ${c.details}`);
        for (const s of r.segments) ctx.out(`  ${s.status.toUpperCase().padEnd(8)} ${s.fromId}..${s.toId} (${s.count})${s.status === "found" ? "" : `: ${s.details}`}`);
      }
    }
    return results.some((r) => r.status === "failure") ? EXIT.PROBLEMS_FOUND : EXIT.OK;
  } finally {
    await backend.close();
  }
}
