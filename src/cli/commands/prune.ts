/** `cassandra-pitr prune --keep DURATION|COUNT [--confirm] [--json]`: retention that keeps every kept restore point whole (src/prune). */
import { parseDuration } from "../../config/duration.js";
import { UsageError } from "../../errors/base.js";
import { applyPrune, parseKeep, readAndPlanPrune, type PruneResult } from "../../prune/run.js";
import type { PruneItem } from "../../prune/plan.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";

function printDryRun(ctx: CliContext, items: readonly PruneItem[]): void {
  for (const item of items) ctx.out(`would delete ${item.kind} ${item.key}: ${item.reason}`);
  const bytes = items.reduce((s, i) => s + i.bytes, 0);
  ctx.out(`${items.length} object(s), ${bytes} bytes would be deleted; run again with --confirm to delete`);
}

function printResult(ctx: CliContext, result: PruneResult): void {
  for (const item of result.deleted) ctx.out(`deleted ${item.kind} ${item.key}: ${item.reason}`);
  for (const item of result.markedDeleted) ctx.out(`delete-marked ${item.kind} ${item.key}: ${item.reason}`);
  for (const k of result.keptByLock)
    ctx.out(
      `kept by lock ${k.item.kind} ${k.item.key}: ${k.why}, deletable from ${k.until?.toISOString() ?? "when that lock expires"}`,
    );
  const bytes = [...result.deleted, ...result.markedDeleted].reduce((s, i) => s + i.bytes, 0);
  ctx.out(
    `${result.deleted.length} object(s) deleted, ${result.markedDeleted.length} delete-marked (${bytes} bytes), ${result.keptByLock.length} kept by lock`,
  );
  if (result.markedDeleted.length > 0) {
    ctx.out(
      "the bucket is versioned: a delete only adds a delete marker; the versions stay until a lifecycle rule (NoncurrentVersionExpiration) removes them (docs/least-privilege.md)",
    );
  }
  if (result.keptByLock.length > 0)
    ctx.out("objects kept by lock are deleted by a later prune once their retention has passed");
}

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const keepText = String(ctx.args["keep"] ?? "");
  let policy;
  try {
    policy = parseKeep(keepText, parseDuration);
  } catch (e) {
    if (e instanceof RangeError)
      throw new UsageError(`--keep: '${keepText}' keeps nothing`, {
        hint: "use a count of at least 1 or a duration such as 30d",
      });
    throw e;
  }
  const confirm = ctx.args["confirm"] === true;
  const { config, backend } = await openArchive(ctx);
  try {
    const identity = identityOf(config);
    const now = Date.now();
    const plan = await readAndPlanPrune(backend, identity, policy, now, ctx.signal);
    const result = confirm && !plan.refused ? await applyPrune(backend, plan, now, ctx.signal) : undefined;
    if (ctx.args["json"]) {
      ctx.out(
        JSON.stringify(
          {
            schema_version: 1,
            node: identity,
            dry_run: !confirm,
            refused: plan.refused ?? null,
            kept: plan.kept.map((k) => ({ tag: k.tag, time: new Date(k.at).toISOString() })),
            oldest_kept: plan.oldestKept ?? null,
            delete: plan.delete,
            deleted: result?.deleted.length ?? 0,
            delete_marked: result?.markedDeleted.map((i) => i.key) ?? [],
            kept_by_lock:
              result?.keptByLock.map((k) => ({
                key: k.item.key,
                until: k.until?.toISOString() ?? null,
                why: k.why,
              })) ?? [],
          },
          null,
          2,
        ),
      );
    } else {
      if (plan.refused) ctx.out(`prune: ${plan.refused}`);
      ctx.out(`keeping ${plan.kept.length} snapshot(s): ${plan.kept.map((k) => k.tag).join(", ") || "none"}`);
      if (plan.oldestKept)
        ctx.out(
          `everything from snapshot '${plan.oldestKept.tag}' (${new Date(plan.oldestKept.at).toISOString()}) and its start segment ${plan.oldestKept.startSegmentId} on is kept`,
        );
      if (result === undefined) printDryRun(ctx, plan.delete);
      else printResult(ctx, result);
    }
    return "ok";
  } finally {
    await backend.close();
  }
}
