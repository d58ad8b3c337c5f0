/** The agent's metrics figures from the node's catalog: the newest segment and the restorable window. */
import type { NodeIdentity } from "../format/layout.js";
import type { RestorableFigures } from "../pipeline/metrics.js";
import type { Backend } from "../storage/types.js";
import { loadIncrementals, loadSnapshots } from "./backup-source.js";
import { readCatalog } from "./read.js";

/** How far back the agent's metrics look for the restorable window (a week of day prefixes). */
export const RESTORABLE_LOOKBACK_MS = 7 * 86_400_000;

export async function restorableFigures(
  backend: Backend,
  identity: NodeIdentity,
  nowMs: number,
): Promise<RestorableFigures> {
  const catalog = await readCatalog(backend, identity, {
    fromMs: nowMs - RESTORABLE_LOOKBACK_MS,
    toMs: nowMs,
    loadSnapshots,
    loadIncrementals,
  });
  const newest = catalog.segments.reduce<number | undefined>(
    (m, s) => (m === undefined || s.closeTimeMs > m ? s.closeTimeMs : m),
    undefined,
  );
  return {
    newestSegmentMs: newest,
    restorable: catalog.restorable
      ? { earliestMs: catalog.restorable.earliestMs, latestMs: catalog.restorable.latestMs }
      : undefined,
  };
}
