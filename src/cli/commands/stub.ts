import { join } from "node:path";
import { recordFromMetadata } from "../../format/segment-record.js";
import { renderStub } from "../../replay/stub.js";
import { partialSegmentRecord } from "../../replay/partial-segment.js";
import { parsePartialFolder } from "../../format/partial-layout.js";
import { PitrError } from "../../errors/base.js";
import { openArchive } from "../context.js";
import { writeOutputFile } from "../output-file.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    const key = String(ctx.args["key"]);
    // A partial segment's key is its folder: its record comes from the assembled, verified chain.
    const partial = parsePartialFolder(key);
    const record = partial
      ? await partialSegmentRecord(
          backend,
          key,
          `CommitLog-${partial.version}-${partial.segmentId}.log`,
          ctx.signal,
        )
      : recordFromMetadata((await backend.head(key, { signal: ctx.signal })).metadata);
    if (!record)
      throw new PitrError("E_NOT_FOUND", `object '${key}' is not an archived segment (no segment metadata)`);
    const path = join(String(ctx.args["dir"]), record.name);
    const stub = renderStub(record.version, record.segmentId, record.headerParameters, {
      archive: config.archive,
      key,
      sha256: record.sha256,
      size: record.size,
      name: record.name,
    });
    await writeOutputFile(path, stub, { exclusive: true });
    ctx.out(path);
    return "ok";
  } finally {
    await backend.close();
  }
}
