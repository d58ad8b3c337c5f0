/** `cassandra-pitr incremental [--remove] [--json]`. */
import { uploadIncrementals } from "../../backup/incremental.js";
import { identityOf, openArchive } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    const identity = identityOf(config);
    const summary = await uploadIncrementals({
      backend,
      identity,
      dataDir: config.dataDir,
      remove: ctx.args["remove"] === true,
      parallelism: config.parallelism,
      signal: ctx.signal,
    });
    if (ctx.args["json"]) {
      ctx.out(JSON.stringify({ schema_version: 1, ...summary }, null, 2));
    } else {
      ctx.out(
        `incremental: ${summary.sstablesUploaded} sstable(s) archived, ${summary.sstablesAlreadyArchived} already archived, ` +
          `${summary.sstablesIncomplete} incomplete skipped; ${summary.componentsUploaded} component(s) uploaded ` +
          `(${(summary.bytesUploaded / 1048576).toFixed(1)} MiB), ${summary.componentsDeduplicated} deduplicated` +
          `${ctx.args["remove"] ? `; ${summary.filesRemoved} local file(s) removed` : ""}` +
          `${summary.tableEventsRecorded > 0 ? `; ${summary.tableEventsRecorded} truncation(s)/drop(s) recorded` : ""}`,
      );
    }
    return "ok";
  } finally {
    await backend.close();
  }
}
