/**
 * The archive's cluster operations (docs/cluster-restore.md): requests a recovery engineer writes
 * once for the whole cluster, and the progress each node's agent writes back. The archive is the
 * only channel between them: no new network service, and any machine that reads the archive sees
 * every node's progress.
 *
 *   <cluster>/+ops/snapshots/<tag>.json                 a cluster snapshot request
 *   <cluster>/+ops/snapshots/<tag>/<host id>.json       one node's answer to it
 *   <cluster>/+ops/restore/current.json                 the cluster restore in progress (at most one)
 *   <cluster>/+ops/restore/<id>/<host id>.json          one node's progress in restore <id>
 *   <cluster>/+ops/restore/history/<id>.json            a finished or aborted restore request
 *
 * "+ops" can never be a node: encodeKeyPart writes "+" only before two hex digits.
 */
import { PitrError } from "../errors/base.js";
import { encodeKeyPart } from "./layout.js";

export const OPS_DIR = "+ops";

export function opsPrefix(cluster: string): string {
  return `${encodeKeyPart(cluster)}/${OPS_DIR}/`;
}

export function snapshotRequestsPrefix(cluster: string): string {
  return `${opsPrefix(cluster)}snapshots/`;
}

export function snapshotRequestKey(cluster: string, tag: string): string {
  return `${snapshotRequestsPrefix(cluster)}${encodeKeyPart(tag)}.json`;
}

export function snapshotAnswerKey(cluster: string, tag: string, node: string): string {
  return `${snapshotRequestsPrefix(cluster)}${encodeKeyPart(tag)}/${encodeKeyPart(node)}.json`;
}

export function currentRestoreKey(cluster: string): string {
  return `${opsPrefix(cluster)}restore/current.json`;
}

export function restoreProgressKey(cluster: string, id: string, node: string): string {
  return `${opsPrefix(cluster)}restore/${encodeKeyPart(id)}/${encodeKeyPart(node)}.json`;
}

export function restoreHistoryKey(cluster: string, id: string): string {
  return `${opsPrefix(cluster)}restore/history/${encodeKeyPart(id)}.json`;
}

/** A snapshot every node takes under one tag. */
export interface SnapshotRequest {
  readonly schema_version: 1;
  readonly tag: string;
  /** keyspace or keyspace.table; empty: every table. */
  readonly scope: readonly string[];
  readonly requested_at: string;
}

export interface SnapshotAnswer {
  readonly schema_version: 1;
  readonly node: string;
  readonly state: "done" | "failed";
  readonly at: string;
  readonly snapshot_time?: string | undefined;
  readonly error?: string | undefined;
}

/** What the engineer asked the cluster to do; rewritten as the operation moves on. */
export type RestorePhase = "restore" | "finish" | "abort";

export interface NodeTarget {
  /** The restore point for this node, µs (decimal): T, or the newest instant of an archive that ends before T. */
  readonly at_micros: string;
  /** Why the node's target is not T, when it is not. */
  readonly note?: string | undefined;
}

export interface RestoreRequest {
  readonly schema_version: 1;
  readonly id: string;
  readonly cluster: string;
  /** The cluster's restore point T, µs (decimal), and as text. */
  readonly at_micros: string;
  readonly at: string;
  readonly created: string;
  readonly phase: RestorePhase;
  /** Every node of the operation, by host id. */
  readonly nodes: Readonly<Record<string, NodeTarget>>;
  readonly keyspaces: readonly string[];
  readonly tables: readonly string[];
  readonly grace_ms: number;
}

/**
 * A node's states, in order. A node stops, restores and waits at "restored" until every node has
 * restored: none starts while another still runs, so no live node can send a restored one hints or
 * read repairs from after T.
 */
export const NODE_STATES = [
  "pending",
  "stopping",
  "restoring",
  "restored",
  "starting",
  "started",
  "finishing",
  "finished",
] as const;
export type NodeState = (typeof NODE_STATES)[number] | "failed" | "aborting" | "aborted";

export interface RestoreProgress {
  readonly schema_version: 1;
  readonly node: string;
  readonly request: string;
  readonly state: NodeState;
  readonly updated: string;
  /** What the node did, one line each (files placed, moved aside, commands run). */
  readonly done: readonly string[];
  readonly error?: string | undefined;
}

export class OpsRecordError extends PitrError {
  override name = "OpsRecordError";
  constructor(key: string, why: string) {
    super("E_NOT_FOUND", `cluster operation record '${key}' is unreadable: ${why}`, {
      hint: "it was written by another version or damaged; remove it after checking what it was",
    });
  }
}

export function encodeRecord(record: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record, null, 2) + "\n");
}

/** Parses a record and checks its version and the fields every reader relies on. */
export function parseRecord<T extends { schema_version: 1 }>(
  text: string,
  key: string,
  fields: readonly string[],
): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OpsRecordError(key, "not JSON");
  }
  if (
    typeof value !== "object" ||
    value === null ||
    (value as { schema_version?: unknown }).schema_version !== 1
  )
    throw new OpsRecordError(key, "schema_version is not 1");
  for (const f of fields) if (!(f in value)) throw new OpsRecordError(key, `field '${f}' is missing`);
  return value as T;
}
