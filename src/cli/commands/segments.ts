/** `cassandra-pitr segments [--since T] [--until T] [--json]`: the archived segments of the node closed in a window, oldest first. */
import { dayPrefixes, parseSegmentKey, segmentNameOfKey } from "../../format/layout.js";
import { identityOf, openArchive, windowArgs } from "../context.js";
import type { CliContext, CommandOutcome } from "../main.js";

export async function run(ctx: CliContext): Promise<CommandOutcome> {
  const { config, backend } = await openArchive(ctx);
  try {
    const identity = identityOf(config);
    const now = Date.now();
    const { since, until } = windowArgs(ctx, now, 86_400_000);
    const rows = [];
    for (const prefix of dayPrefixes(identity, since, until)) {
      for await (const info of backend.list(prefix, { signal: ctx.signal })) {
        const parts = parseSegmentKey(info.key);
        if (!parts || parts.closeTimeMs < since || parts.closeTimeMs > until) continue;
        rows.push({
          closeTime: new Date(parts.closeTimeMs).toISOString(),
          segment: segmentNameOfKey(parts),
          id: parts.segmentId.toString(),
          version: parts.version,
          storedBytes: info.size,
          conflict: parts.conflict ?? null,
          key: info.key,
        });
      }
    }
    if (ctx.args["json"]) {
      ctx.out(
        JSON.stringify(
          {
            schema_version: 1,
            node: identity,
            since: new Date(since).toISOString(),
            until: new Date(until).toISOString(),
            segments: rows,
          },
          null,
          2,
        ),
      );
    } else {
      // What was found, then the window searched: never the window as if it were the data's range.
      const searched = `${new Date(since).toISOString()} .. ${new Date(until).toISOString()}`;
      const found =
        rows.length > 0 ? `closed ${rows[0]!.closeTime} .. ${rows[rows.length - 1]!.closeTime}` : "closed";
      ctx.out(
        `${rows.length} segment(s) of ${identity.cluster}/${identity.node} ${found} (searched ${searched})`,
      );
      for (const r of rows)
        ctx.out(
          `${r.closeTime}  ${r.segment.padEnd(34)} ${String(r.storedBytes).padStart(10)} B${r.conflict ? "  CONFLICT COPY" : ""}`,
        );
    }
    return "ok";
  } finally {
    await backend.close();
  }
}
