/**
 * Reading and writing the cluster operation records (format/cluster-ops.ts) through a backend.
 * Progress records are rewritten in place (each node writes only its own); the request is created
 * with a conditional put, which is what refuses a second request while one is in progress.
 */
import { text } from "node:stream/consumers";
import { PitrError } from "../errors/base.js";
import {
  currentRestoreKey,
  encodeRecord,
  parseRecord,
  restoreHistoryKey,
  restoreProgressKey,
  snapshotAnswerKey,
  snapshotRequestKey,
  snapshotRequestsPrefix,
  type RestoreProgress,
  type RestoreRequest,
  type SnapshotAnswer,
  type SnapshotRequest,
} from "../format/cluster-ops.js";
import { ObjectNotFoundError, PreconditionFailedError } from "../storage/errors.js";
import type { Backend } from "../storage/types.js";

/** A second cluster operation while one is in progress. */
export class ClusterBusyError extends PitrError {
  override name = "ClusterBusyError";
  constructor(message: string, hint: string) {
    super("E_CLUSTER_BUSY", message, { hint });
  }
}

async function readText(backend: Backend, key: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return await text(await backend.get(key, { signal }));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

const REQUEST_FIELDS = ["id", "cluster", "at_micros", "phase", "nodes"] as const;
const PROGRESS_FIELDS = ["node", "request", "state", "done"] as const;

export async function readRestoreRequest(
  backend: Backend,
  cluster: string,
  signal?: AbortSignal,
): Promise<RestoreRequest | undefined> {
  const key = currentRestoreKey(cluster);
  const body = await readText(backend, key, signal);
  return body === undefined ? undefined : parseRecord<RestoreRequest>(body, key, REQUEST_FIELDS);
}

/** Creates the request; refuses when one is in progress (conditional create: no two at once). */
export async function createRestoreRequest(
  backend: Backend,
  request: RestoreRequest,
  signal?: AbortSignal,
): Promise<void> {
  const key = currentRestoreKey(request.cluster);
  try {
    await backend.put(key, encodeRecord(request), { ifAbsent: true, signal });
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    const other = await readRestoreRequest(backend, request.cluster, signal);
    throw new ClusterBusyError(
      `a cluster restore is already in progress in cluster '${request.cluster}' (request ${other?.id ?? "?"}, restore point ${other?.at ?? "?"}, phase ${other?.phase ?? "?"})`,
      "watch it with 'cassandra-pitr restore status --cluster', then 'restore finish --cluster' or 'restore abort --cluster' it before asking for another",
    );
  }
}

/** Moves the request on to another phase (only the engineer's CLI writes the request). */
export async function writeRestoreRequest(
  backend: Backend,
  request: RestoreRequest,
  signal?: AbortSignal,
): Promise<void> {
  await backend.put(currentRestoreKey(request.cluster), encodeRecord(request), { signal });
}

/** Ends the operation: the request goes to the history, and a new one may be created. */
export async function closeRestoreRequest(
  backend: Backend,
  request: RestoreRequest,
  signal?: AbortSignal,
): Promise<string> {
  const key = restoreHistoryKey(request.cluster, request.id);
  await backend.put(key, encodeRecord(request), { signal });
  await backend.delete(currentRestoreKey(request.cluster), { signal });
  return key;
}

export async function readProgress(
  backend: Backend,
  request: RestoreRequest,
  node: string,
  signal?: AbortSignal,
): Promise<RestoreProgress | undefined> {
  const key = restoreProgressKey(request.cluster, request.id, node);
  const body = await readText(backend, key, signal);
  return body === undefined ? undefined : parseRecord<RestoreProgress>(body, key, PROGRESS_FIELDS);
}

export async function readAllProgress(
  backend: Backend,
  request: RestoreRequest,
  signal?: AbortSignal,
): Promise<Map<string, RestoreProgress | undefined>> {
  const out = new Map<string, RestoreProgress | undefined>();
  for (const node of Object.keys(request.nodes).sort())
    out.set(node, await readProgress(backend, request, node, signal));
  return out;
}

export async function writeProgress(
  backend: Backend,
  cluster: string,
  progress: RestoreProgress,
  signal?: AbortSignal,
): Promise<void> {
  await backend.put(restoreProgressKey(cluster, progress.request, progress.node), encodeRecord(progress), {
    signal,
  });
}

export async function createSnapshotRequest(
  backend: Backend,
  cluster: string,
  request: SnapshotRequest,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await backend.put(snapshotRequestKey(cluster, request.tag), encodeRecord(request), {
      ifAbsent: true,
      signal,
    });
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    throw new ClusterBusyError(
      `a cluster snapshot tagged '${request.tag}' was already requested in cluster '${cluster}'`,
      "choose another --tag",
    );
  }
}

/** Every snapshot request of the cluster (the request objects, not the answers under them). */
export async function listSnapshotRequests(
  backend: Backend,
  cluster: string,
  signal?: AbortSignal,
): Promise<SnapshotRequest[]> {
  const prefix = snapshotRequestsPrefix(cluster);
  const out: SnapshotRequest[] = [];
  for await (const info of backend.list(prefix, { signal })) {
    const rest = info.key.slice(prefix.length);
    if (rest.includes("/") || !rest.endsWith(".json")) continue;
    const body = await readText(backend, info.key, signal);
    if (body !== undefined)
      out.push(parseRecord<SnapshotRequest>(body, info.key, ["tag", "scope", "requested_at"]));
  }
  return out;
}

export async function readSnapshotAnswer(
  backend: Backend,
  cluster: string,
  tag: string,
  node: string,
  signal?: AbortSignal,
): Promise<SnapshotAnswer | undefined> {
  const key = snapshotAnswerKey(cluster, tag, node);
  const body = await readText(backend, key, signal);
  return body === undefined ? undefined : parseRecord<SnapshotAnswer>(body, key, ["node", "state"]);
}

export async function writeSnapshotAnswer(
  backend: Backend,
  cluster: string,
  tag: string,
  answer: SnapshotAnswer,
  signal?: AbortSignal,
): Promise<void> {
  await backend.put(snapshotAnswerKey(cluster, tag, answer.node), encodeRecord(answer), { signal });
}
