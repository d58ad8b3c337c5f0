/**
 * Restore drill evidence, one JSON document per `verify --drill` run (docs/archive-layout.md,
 * Drill evidence):
 *
 *   <cluster>/<host id>/evidence/<compact time of the run>_drill.json
 *
 * The drill writes the whole document (verify/drill.ts, DrillEvidenceDoc); `report` reads only the
 * fields below, so those are the format's promise to readers.
 */
import { compactTime, nodePrefix, type NodeIdentity } from "./layout.js";

export const EVIDENCE_DIR = "evidence";

export function evidencePrefix(identity: NodeIdentity): string {
  return `${nodePrefix(identity)}${EVIDENCE_DIR}/`;
}

export function evidenceKey(identity: NodeIdentity, ranAtMs: number): string {
  return `${evidencePrefix(identity)}${compactTime(ranAtMs)}_drill.json`;
}

/** The fields of an evidence document that readers rely on. */
export interface EvidenceSummaryFields {
  readonly kind: "restore-drill";
  readonly ran_at: string;
  readonly restore_point: string;
  readonly status: "passed" | "failed";
  readonly details: string;
}

export interface EvidenceSummary {
  readonly ranAt: number;
  readonly restorePointAt: number;
  readonly status: "passed" | "failed";
  readonly details: string;
}

/** The summary of one evidence document; undefined for anything this version does not understand. */
export function parseEvidence(text: string): EvidenceSummary | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null || doc["kind"] !== "restore-drill") return undefined;
  const ranAt = Date.parse(String(doc["ran_at"]));
  const restorePointAt = Date.parse(String(doc["restore_point"]));
  if (!Number.isFinite(ranAt) || !Number.isFinite(restorePointAt)) return undefined;
  return {
    ranAt,
    restorePointAt,
    status: doc["status"] === "passed" ? "passed" : "failed",
    details: String(doc["details"] ?? ""),
  };
}
