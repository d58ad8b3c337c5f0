/**
 * Restore branches (PostgreSQL calls them timelines). Each applied restore starts a new history of
 * the node: the writes of the old history stamped after the restore point were undone, and a later
 * restore must never bring them back. `restore` records the branch point in the archive:
 *
 *   <cluster>/<host id>/branches/<compact time of the restore>.json
 *
 * The planner (pure) then gives every segment of the old history (closed before the restore ran) the
 * old restore point as a cutoff for the restored tables, on top of the new target, and never bases a
 * plan on a snapshot or incremental that holds writes of the abandoned history.
 */
import type { NodeIdentity } from "../format/layout.js";
import { PitrError } from "../errors/base.js";
import { putDocumentIfAbsent, readText } from "../storage/front.js";
import type { Backend } from "../storage/types.js";
import {
  branchKey,
  branchesPrefix,
  parseBranch,
  renderBranch,
  type Branch,
} from "../format/branch-record.js";

export {
  BRANCHES_DIR,
  BranchRecordError,
  branchKey,
  branchesPrefix,
  parseBranch,
  renderBranch,
  type Branch,
} from "../format/branch-record.js";

/**
 * Records a branch point through the storage front and reads it back. The key is unique per
 * restore, so a taken key is a conflict (docs/archive-layout.md, "Writing an object once"): an
 * existing record is never replaced.
 */
export async function recordBranch(
  backend: Backend,
  id: NodeIdentity,
  b: Branch,
  tables: readonly string[],
  signal?: AbortSignal,
): Promise<string> {
  const key = branchKey(id, b.restoredAtMs);
  await putDocumentIfAbsent(backend, key, renderBranch(b, tables), {
    metadata: { kind: "branch" },
    signal,
    conflict: (detail) =>
      new PitrError("E_ARCHIVE_CONFLICT", `branch record '${key}' was not recorded: ${detail}`, {
        hint: "each restore records its branch once; compare it with 'cassandra-pitr list' before removing anything",
      }),
  });
  return key;
}

/** Every branch point of the node, oldest first. */
export async function listBranches(
  backend: Backend,
  id: NodeIdentity,
  signal?: AbortSignal,
): Promise<Branch[]> {
  const out: Branch[] = [];
  for await (const info of backend.list(branchesPrefix(id), { signal })) {
    if (!info.key.endsWith(".json")) continue;
    out.push(parseBranch(await readText(backend, info.key, signal), info.key));
  }
  return out.sort((a, b) => a.restoredAtMs - b.restoredAtMs);
}

/**
 * The cutoffs the branches in force at `atMicros` put on a segment closed at `closeTimeMs`: one per
 * branch created after the segment closed and at or before the target. Pure.
 */
export function branchCutoffsFor(
  branches: readonly Branch[],
  atMicros: bigint,
  closeTimeMs: number,
): Branch[] {
  return branches.filter(
    (b) =>
      BigInt(b.restoredAtMs) * 1000n <= atMicros && closeTimeMs < b.restoredAtMs && b.cutoffMicros < atMicros,
  );
}

/** Does `[fromMs, toMs]` (a snapshot or flush time) fall inside a branch's abandoned stretch for a table? */
export function abandonedBy(
  branches: readonly Branch[],
  atMicros: bigint,
  tableId: string,
  timeMs: number,
): Branch | undefined {
  return branches.find(
    (b) =>
      BigInt(b.restoredAtMs) * 1000n <= atMicros &&
      (b.tableIds === undefined || b.tableIds.includes(tableId)) &&
      BigInt(timeMs) * 1000n > b.cutoffMicros &&
      timeMs < b.restoredAtMs,
  );
}
