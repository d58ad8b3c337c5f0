/**
 * `cassandra-pitr snapshot [scope..] [--tag T] [--nodetool CMD] [--clear] [--no-tokens] [--json]`.
 * With `--cluster [NAME]`: a request that every node's agent takes (cli/restore-cluster.ts).
 */
import { uploadSnapshot, type SnapshotProgress } from "../../backup/snapshot.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";
import { runClusterSnapshot, wantsCluster } from "../restore-cluster.js";

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    const scope = Array.isArray(ctx.args["scope"]) ? ctx.args["scope"].map(String) : [];
    if (wantsCluster(ctx))
      return await runClusterSnapshot(
        ctx,
        config,
        backend,
        typeof ctx.args["tag"] === "string" ? ctx.args["tag"] : undefined,
        scope,
      );
    const identity = identityOf(config);
    const tty = process.stderr.isTTY === true && !ctx.args["json"];
    const progress = tty
      ? (p: SnapshotProgress) =>
          process.stderr.write(
            `\rsnapshot: ${p.filesDone}/${p.filesTotal} files, ${mib(p.bytesDone)} of ${mib(p.bytesTotal)}`,
          )
      : undefined;
    const summary = await uploadSnapshot({
      backend,
      identity,
      dataDir: config.dataDir,
      tag: typeof ctx.args["tag"] === "string" ? ctx.args["tag"] : undefined,
      scope,
      nodetool: config.nodetool,
      tokens: ctx.args["tokens"] !== false,
      // No node runs (a copied snapshot): nodetool can take neither the tokens nor the schema keyspace.
      schema: ctx.args["tokens"] !== false,
      clear: ctx.args["clear"] === true,
      datacenter: config.datacenter,
      cassandraVersion: config.cassandraVersion,
      parallelism: config.parallelism,
      signal: ctx.signal,
      progress,
    });
    if (tty) process.stderr.write("\n");
    for (const w of summary.warnings) ctx.err(`cassandra-pitr: warning: ${w}`);
    if (ctx.args["json"]) {
      ctx.out(JSON.stringify({ schema_version: 1, ...summary }, null, 2));
    } else {
      ctx.out(
        `snapshot '${summary.tag}' (${summary.snapshotTime}): ${summary.tables} table(s), ${summary.sstables} sstable(s), ` +
          `${summary.componentsUploaded} component(s) uploaded (${mib(summary.bytesUploaded)}), ${summary.componentsDeduplicated} already archived` +
          `${summary.cleared ? ", local snapshot cleared" : ""} -> ${summary.key}`,
      );
    }
    return "ok";
  } finally {
    await backend.close();
  }
}
