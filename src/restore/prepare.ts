/**
 * The plan for one restore request, read from the archive: catalog (around the restore point) +
 * the pure planner. Shared by `plan`, `restore` and the drill, so all three plan the same way.
 */
import { loadIncrementals, loadSnapshots } from "../catalog/backup-source.js";
import { requireKnownNode } from "../catalog/nodes.js";
import { readCatalog } from "../catalog/read.js";
import type { NodeIdentity } from "../format/layout.js";
import type { Backend } from "../storage/types.js";
import { listBranches } from "./branches.js";
import { listTableEvents } from "../backup/table-events.js";
import type { RestorePlan } from "./plan.js";
import { planRestore } from "./planner.js";
import type { Instant } from "./time.js";

/** Default late-arrival grace: Cassandra's default max_hint_window (3h). */
export const DEFAULT_GRACE = "3h";

export interface PlanRequestInput {
  readonly backend: Backend;
  readonly identity: NodeIdentity;
  readonly at: Instant;
  readonly graceMs: number;
  readonly keyspaces?: readonly string[] | undefined;
  readonly tables?: readonly string[] | undefined;
  /** Cassandra release restored to; the planner's default when unset. */
  readonly targetVersion?: string | undefined;
  /** The restore_command line the plan states (what `restore` writes). */
  readonly restoreCommand?: string | undefined;
  readonly now: number;
  readonly signal?: AbortSignal | undefined;
  /** Into a scratch node that creates the tables with their snapshot ids (the drill): see PlanRequest.scratch. */
  readonly scratch?: boolean | undefined;
}

export async function preparePlan(input: PlanRequestInput): Promise<RestorePlan> {
  const { backend, identity, at, graceMs, signal } = input;
  await requireKnownNode(backend, identity, signal);
  // Nothing is archived after now: a restore point in the future (which the planner refuses, naming
  // the latest restorable instant) must not make the catalog list one day prefix per day until then.
  const fromMs = Math.min(at.epochMs, input.now);
  const toMs = Math.min(at.epochMs + graceMs, input.now);
  const catalog = await readCatalog(backend, identity, {
    fromMs,
    toMs,
    loadSnapshots,
    loadIncrementals,
    signal,
  });
  const branches = await listBranches(backend, identity, signal);
  const tableEvents = await listTableEvents(backend, identity, signal);
  return planRestore(catalog, {
    branches,
    tableEvents,
    at: at.epochMicros,
    now: input.now,
    graceMs,
    precision: "MICROSECONDS",
    archiveUrl: backend.displayLocation,
    scope: {
      ...(input.keyspaces ? { keyspaces: [...input.keyspaces] } : {}),
      ...(input.tables ? { tables: [...input.tables] } : {}),
    },
    ...(input.targetVersion ? { targetVersion: input.targetVersion } : {}),
    ...(input.restoreCommand ? { restoreCommand: input.restoreCommand } : {}),
    ...(input.scratch ? { scratch: true } : {}),
  });
}
