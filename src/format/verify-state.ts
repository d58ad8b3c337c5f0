/**
 * What `verify` remembers between runs, one document per node (docs/archive-layout.md, Verify
 * state): the objects it hashed and found intact, so a later run re-reads only what changed.
 *
 *   <cluster>/<host id>/verify/state.json
 */
import { nodePrefix, type NodeIdentity } from "./layout.js";

export interface VerifiedObject {
  readonly sha256: string;
  readonly size: number;
  /** When it was hashed (ISO). */
  readonly at: string;
}

export interface VerifyState {
  readonly schema_version: 1;
  readonly verified: Record<string, VerifiedObject>;
}

export function verifyStateKey(identity: NodeIdentity): string {
  return `${nodePrefix(identity)}verify/state.json`;
}

export function emptyVerifyState(): VerifyState {
  return { schema_version: 1, verified: {} };
}

/** The state in `text`; anything unreadable is an empty state (the next run hashes everything). */
export function parseVerifyState(text: string): VerifyState {
  try {
    const doc = JSON.parse(text) as VerifyState;
    return doc && typeof doc.verified === "object" && doc.verified !== null ? doc : emptyVerifyState();
  } catch {
    return emptyVerifyState();
  }
}

export function renderVerifyState(verified: Record<string, VerifiedObject>): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify({ schema_version: 1, verified } satisfies VerifyState)));
}
