/** The JSON shapes `list` and `list --cluster` share for what the catalog found. */
import type { SegmentGap } from "../catalog/model.js";

/** An instant as ISO-8601, or "-" when there is none. */
export const iso = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString());

export function gapJson(g: SegmentGap) {
  return {
    from_id: g.fromId.toString(),
    to_id: g.toId.toString(),
    count: g.count,
    after_close: iso(g.afterCloseMs),
    kind: g.kind,
    cause: g.cause,
  };
}
