/**
 * `cassandra-pitr plan --at T [--keyspace ks] [--table ks.t] [--grace 3h] [--target-version V] [--json]`:
 * changes nothing. With `--cluster [NAME]`: a plan per node of the cluster (cli/restore-cluster.ts).
 */
import { renderPlanJson, renderPlanText } from "../../restore/plan-text.js";
import { DEFAULT_GRACE, preparePlan } from "../../restore/prepare.js";
import { parseInstant } from "../../restore/time.js";
import { durationArg, optionalString, strings } from "../args.js";
import { identityOf, openArchive } from "../context.js";
import { restoreCommandLine } from "../hooks.js";
import type { CliContext, CommandOutcome } from "../main.js";
import { runClusterPlan, wantsCluster } from "../restore-cluster.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    if (wantsCluster(ctx)) return await runClusterPlan(ctx, config, backend);
    const now = Date.now();
    const plan = await preparePlan({
      backend,
      identity: identityOf(config),
      at: parseInstant(String(ctx.args["at"]), { now }),
      graceMs: durationArg(ctx.args, "grace", DEFAULT_GRACE),
      keyspaces: strings(ctx.args, "keyspace"),
      tables: strings(ctx.args, "table"),
      targetVersion: optionalString(ctx.args, "targetVersion") ?? config.cassandraVersion,
      // The line `restore` will write, with the same config file, so the plan shows it exactly.
      restoreCommand: restoreCommandLine((await ctx.config()).file),
      now,
      signal: ctx.signal,
    });
    ctx.out(
      ctx.args["json"]
        ? renderPlanJson(plan)
        : renderPlanText(plan, ctx.args["acceptCassandraFilter"] === true),
    );
    return "ok";
  } finally {
    await backend.close();
  }
}
