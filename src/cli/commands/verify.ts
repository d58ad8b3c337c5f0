/**
 * `cassandra-pitr verify [--deep] [--node ID ...] [--since T] [--until T] [--json]` (src/verify). Exit 3 when a check fails.
 * `cassandra-pitr verify --drill --at T [--check CQL ...] [--expect ks.t>=N ...] [--keyspace K] [--table K.T]
 *   [--keep-scratch] [--harness PATH]`: restore drill on a scratch node (src/verify/drill.ts), recorded as evidence.
 *   Exit 0 when every check passed, 3 when one failed; an error that stopped the drill keeps its own status.
 */
import { parseDuration } from "../../config/duration.js";
import { UsageError } from "../../errors/base.js";
import { parseInstant } from "../../restore/time.js";
import { verifyNode } from "../../verify/verify.js";
import { createHarnessScratch, findHarness, parseExpectation, runDrill } from "../../verify/drill.js";
import { DEFAULT_GRACE, preparePlan } from "../../restore/prepare.js";
import { durationArg, strings } from "../args.js";
import { identityOf, openArchive, windowArgs } from "../context.js";
import { hookPaths, restoreCommandLine } from "../hooks.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  if (ctx.args["drill"]) return drill(ctx);
  for (const flag of ["at", "check", "expect", "keyspace", "table", "harness", "grace"]) {
    if (ctx.args[flag] !== undefined) throw new UsageError(`--${flag} applies only to verify --drill`);
  }
  if (ctx.args["keepScratch"] === true) throw new UsageError("--keep-scratch applies only to verify --drill");
  const now = Date.now();
  const { since, until } = windowArgs(ctx, now, 7 * 86_400_000);
  const { config, backend } = await openArchive(ctx);
  try {
    const identity = identityOf(config);
    const delayMs =
      ctx.args["delay"] !== undefined
        ? parseDuration(String(ctx.args["delay"]), "--delay")
        : config.targetRpo;
    const requested = ctx.args["node"] as string[] | undefined;
    const nodes = requested && requested.length > 0 ? requested.map(String) : [identity.node];
    const results = [];
    for (const node of nodes) {
      results.push(
        await verifyNode(
          backend,
          { cluster: identity.cluster, node },
          {
            fromMs: since,
            toMs: until,
            nowMs: now,
            delayMs,
            deep: ctx.args["deep"] === true,
            signal: ctx.signal,
          },
        ),
      );
    }
    if (ctx.args["json"]) ctx.out(JSON.stringify({ schema_version: 1, nodes: results }, null, 2));
    else {
      for (const r of results) {
        ctx.out(`node ${identity.cluster}/${r.node}: ${r.status}`);
        for (const c of r.checks) ctx.out(`  [${c.status}] ${c.id}: ${c.details}`);
        for (const s of r.segments)
          ctx.out(
            `  ${s.status.toUpperCase().padEnd(8)} ${s.fromId}..${s.toId} (${s.count})${s.status === "found" ? "" : `: ${s.details}`}`,
          );
      }
    }
    return results.some((r) => r.status === "failure") ? "problems" : "ok";
  } finally {
    await backend.close();
  }
}

async function drill(ctx: CliContext): Promise<CommandOutcome> {
  if (ctx.args["at"] === undefined)
    throw new UsageError("verify --drill needs --at (the instant to restore to)", {
      hint: "e.g. --at '2026-01-31T12:00:00Z'; 'cassandra-pitr list' shows the restorable window",
    });
  if (ctx.args["since"] !== undefined || ctx.args["until"] !== undefined)
    throw new UsageError("--since and --until do not apply to verify --drill (it restores to --at)");
  const nodes = strings(ctx.args, "node") ?? [];
  if (nodes.length > 1)
    throw new UsageError("verify --drill drills one node at a time", { hint: "run it once per --node" });
  const now = Date.now();
  const at = parseInstant(String(ctx.args["at"]), { now });
  const expectations = (strings(ctx.args, "expect") ?? []).map(parseExpectation);
  const checks = (strings(ctx.args, "check") ?? []).map((c) => c.trim()).filter((c) => c.length > 0);
  const harness = findHarness(ctx.args["harness"] as string | undefined);
  const { config, backend } = await openArchive(ctx);
  try {
    const drilled = nodes[0] ? { ...config, node: nodes[0] } : config;
    const identity = identityOf(drilled);
    const configFile = (await ctx.config()).file;
    const restoreCommand = restoreCommandLine(configFile);
    if ([hookPaths().restore, configFile ?? ""].some((p) => /\s/.test(p))) {
      throw new UsageError(`restore_command '${restoreCommand}' has a path with a space`, {
        hint: "Cassandra splits restore_command on spaces",
      });
    }
    const outcome = await runDrill({
      backend,
      identity,
      archiveUrl: config.archive,
      at: at.epochMicros,
      keyspaces: strings(ctx.args, "keyspace"),
      tables: strings(ctx.args, "table"),
      checks,
      expectations,
      keepScratch: ctx.args["keepScratch"] === true,
      restoreCommand,
      parallelism: config.parallelism,
      plan: (r) =>
        preparePlan({
          backend,
          identity,
          at,
          graceMs: durationArg(ctx.args, "grace", DEFAULT_GRACE),
          keyspaces: r.keyspaces,
          tables: r.tables,
          targetVersion: r.targetVersion,
          restoreCommand,
          now: Date.now(),
          signal: ctx.signal,
          scratch: true, // the drill creates every table from the snapshot's schema.cql WITH ID
        }),
      createScratch: () =>
        createHarnessScratch({ harness, env: ctx.env, say: ctx.args["json"] ? ctx.err : ctx.out }),
      now: () => Date.now(),
      say: ctx.args["json"] ? ctx.err : ctx.out,
      signal: ctx.signal,
    });
    if (ctx.args["json"]) ctx.out(JSON.stringify(outcome.evidence, null, 2));
    else ctx.out(`restore drill ${outcome.evidence.status}: ${outcome.evidence.details}`);
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.evidence.status === "passed" ? "ok" : "problems";
  } finally {
    await backend.close();
  }
}
