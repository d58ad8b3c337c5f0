/**
 * Which nodes an archive holds, without listing it: one short listing per node (a skip scan that
 * seeks past each `<cluster>/<host id>/` prefix). The operations folder `<cluster>/+ops/` is no node.
 */
import { decodeKeyPart, encodeKeyPart, nodePrefix, type NodeIdentity } from "../format/layout.js";
import { OPS_DIR } from "../format/cluster-ops.js";
import { PitrError } from "../errors/base.js";
import type { Backend } from "../storage/types.js";

const KEY_END = "~";

/** The host ids under `<cluster>/`, one short listing per node (skip scan). */
export async function listNodes(
  backend: Backend,
  cluster: string,
  options: { signal?: AbortSignal | undefined; max?: number } = {},
): Promise<string[]> {
  const prefix = `${encodeKeyPart(cluster)}/`;
  const nodes: string[] = [];
  let startAfter: string | undefined;
  for (;;) {
    let found: string | undefined;
    for await (const info of backend.list(prefix, { signal: options.signal, startAfter })) {
      const rest = info.key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash <= 0) continue;
      found = rest.slice(0, slash);
      break;
    }
    if (found === undefined) return nodes;
    // The cluster's operation records (cluster restores and snapshots) sit beside the nodes.
    if (found !== OPS_DIR) nodes.push(decodeKeyPart(found));
    if (nodes.length >= (options.max ?? 10_000)) return nodes;
    startAfter = `${prefix}${found}/${KEY_END}`;
  }
}

/** True when anything is stored under the node's prefix. */
export async function nodeExists(
  backend: Backend,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<boolean> {
  for await (const _ of backend.list(nodePrefix(identity), { signal })) return true;
  return false;
}

/** Throws a clear not-found error, naming the nodes that do exist, when the node has nothing archived. */
export async function requireKnownNode(
  backend: Backend,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<void> {
  if (await nodeExists(backend, identity, signal)) return;
  const known = await listNodes(backend, identity.cluster, { signal, max: 20 });
  throw new PitrError(
    "E_NOT_FOUND",
    `node '${identity.node}' of cluster '${identity.cluster}' has nothing in archive '${backend.displayLocation}'`,
    {
      hint:
        known.length > 0
          ? `nodes archived for this cluster: ${known.join(", ")}`
          : "no node of this cluster is archived here; check --archive and --cluster",
    },
  );
}
