/** `cassandra-pitr prune --keep DURATION|COUNT [--confirm] [--json]`: retention that keeps every kept restore point whole (src/prune). */
import { parseDuration } from "../../config/duration.js";
import { UsageError } from "../../errors/base.js";
import { applyPrune, parseKeep, readAndPlanPrune } from "../../prune/run.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const keepText = String(ctx.args["keep"] ?? "");
  let policy;
  try {
    policy = parseKeep(keepText, parseDuration);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--keep: '${keepText}' keeps nothing`, { hint: "use a count of at least 1 or a duration such as 30d" });
    throw e;
  }
  const confirm = ctx.args["confirm"] === true;
  const { config, backend } = await openArchive(ctx);
  try {
    const identity = identityOf(config);
    const plan = await readAndPlanPrune(backend, identity, policy, Date.now(), ctx.signal);
    const deleted = confirm && !plan.refused ? await applyPrune(backend, plan, ctx.signal) : 0;
    if (ctx.args["json"]) {
      ctx.out(JSON.stringify({ schema_version: 1, node: identity, dry_run: !confirm, refused: plan.refused ?? null, kept: plan.kept.map((k) => ({ tag: k.tag, time: new Date(k.at).toISOString() })), oldest_kept: plan.oldestKept ?? null, delete: plan.delete, deleted }, null, 2));
    } else {
      if (plan.refused) ctx.out(`prune: ${plan.refused}`);
      ctx.out(`keeping ${plan.kept.length} snapshot(s): ${plan.kept.map((k) => k.tag).join(", ") || "none"}`);
      if (plan.oldestKept) ctx.out(`everything from snapshot '${plan.oldestKept.tag}' (${new Date(plan.oldestKept.at).toISOString()}) and its start segment ${plan.oldestKept.startSegmentId} on is kept`);
      for (const item of plan.delete) ctx.out(`${confirm ? "deleted" : "would delete"} ${item.kind} ${item.key}: ${item.reason}`);
      const bytes = plan.delete.reduce((s, i) => s + i.bytes, 0);
      ctx.out(confirm ? `${deleted} object(s) deleted (${bytes} bytes)` : `${plan.delete.length} object(s), ${bytes} bytes would be deleted; run again with --confirm to delete`);
    }
    return "ok";
  } finally {
    await backend.close();
  }
}
