/**
 * The single-replica guard: a restore of one node of a cluster whose other replicas stay live is
 * undone, or worse, spread. Read repair (a read at a consistency level above ONE) and `nodetool
 * repair` copy the other replicas' newer data back onto the restored node, and copy its older
 * data (rows deleted after T) back to them. So a per-node restore is refused unless this node holds
 * the only replica of everything restored (a single-node cluster, RF=1 keyspaces), or the user says
 * it is meant (`--replica-lost`: the node's disks were lost and it is being rebuilt, the live
 * replicas being the ones that are right).
 *
 * The node being restored is stopped, so the ring is read from the other nodes: the CQL driver to the
 * seeds of the node's cassandra.yaml (not itself), which reads system.local, system.peers and the
 * keyspaces' replication, and reports which nodes are up. CQL rather than nodetool, because JMX
 * listens on the loopback address only by default (nodetool cannot reach a peer), while every node
 * serves CQL to the network.
 */
import { readCassandraYaml, type CassandraYaml } from "../backup/cassandra-yaml.js";
import { SYSTEM_KEYSPACES } from "../backup/local.js";
import { readFile } from "node:fs/promises";
import { ConfigError, PitrError } from "../errors/base.js";

export interface RingNode {
  readonly hostId: string;
  readonly address: string;
  readonly up: boolean;
}

export interface RingKeyspace {
  readonly name: string;
  /** Replicas of each partition in the whole cluster (SimpleStrategy's factor, or the sum over data centers). */
  readonly replicas: number;
}

export interface RingView {
  /** The node that answered. */
  readonly via: string;
  readonly nodes: readonly RingNode[];
  readonly keyspaces: readonly RingKeyspace[];
}

/** The keyspaces a restore touches: every user keyspace of the ring (a node restore) or the named ones. */
export type GuardScope =
  { readonly kind: "node" } | { readonly kind: "keyspaces"; readonly keyspaces: readonly string[] };

export class ReplicasLiveError extends PitrError {
  override name = "ReplicasLiveError";
  constructor(message: string, hint: string) {
    super("E_REPLICAS_LIVE", message, { hint });
  }
}

const WHY =
  "read repair and 'nodetool repair' would copy their newer data back onto this node, and this node's older data (rows deleted after the instant) back to them";
const HINT =
  "restore every node of the cluster to the instant together (a cluster restore); or, when this node's disks were lost and it is being rebuilt, pass --replica-lost and run 'nodetool repair' on it afterwards";

/** Replicas of each partition for a `replication` map as system_schema.keyspaces stores it. */
export function replicasOf(replication: Readonly<Record<string, string>>): number {
  const cls = replication["class"] ?? "";
  if (/LocalStrategy$/.test(cls)) return 1;
  if (/SimpleStrategy$/.test(cls)) return Number.parseInt(replication["replication_factor"] ?? "1", 10);
  // NetworkTopologyStrategy: one entry per data center, "3" or "3/1" (transient replicas).
  return Object.entries(replication)
    .filter(([k]) => k !== "class" && k !== "replication_factor")
    .reduce((n, [, v]) => n + Number.parseInt(v, 10), 0);
}

/**
 * The guard's decision, pure. Returns the lines to print when the restore may go on; throws
 * ReplicasLiveError when another live node holds replicas of what is restored.
 */
export function decideReplicaGuard(view: RingView, self: string, scope: GuardScope): string[] {
  const others = view.nodes.filter((n) => n.hostId !== self);
  const live = others.filter((n) => n.up);
  const named = scope.kind === "keyspaces" ? new Set(scope.keyspaces) : undefined;
  const touched = view.keyspaces.filter((k) => (named ? named.has(k.name) : !SYSTEM_KEYSPACES.has(k.name)));
  const replicated = touched.filter((k) => k.replicas > 1);
  const ring = `ring read through ${view.via}: ${view.nodes.length} node(s), ${live.length} other(s) up`;
  if (live.length === 0 || replicated.length === 0) {
    const why =
      live.length === 0
        ? "no other node is up"
        : `every keyspace restored has one replica (${touched.map((k) => k.name).join(", ") || "none"})`;
    return [`${ring}; a per-node restore is safe here: ${why}`];
  }
  throw new ReplicasLiveError(
    `restoring node ${self} alone is refused: ${live.length} other node(s) of its cluster are up (${live.map((n) => n.address).join(", ")}) and hold replicas of ` +
      `${replicated.map((k) => `${k.name} (${k.replicas} replicas)`).join(", ")}; ${WHY}`,
    HINT,
  );
}

/** Where to ask: the seeds of cassandra.yaml that are not this node. */
export function contactPointsOf(yaml: CassandraYaml): string[] {
  const own = new Set(yaml.ownAddresses);
  return yaml.seeds.filter((s) => !own.has(s));
}

/** A CQL user and password, for clusters whose `authenticator` is on. */
export interface CqlCredentials {
  readonly username: string;
  readonly password: string;
}

export interface CqlCredentialSettings {
  readonly cqlUsername: string | undefined;
  readonly cqlPasswordFile: string | undefined;
  readonly cqlPasswordEnv: string | undefined;
}

/**
 * The CQL credentials the settings name, or undefined when no user is set. The password comes from a
 * file or an environment variable, never the config file or the command line (which `ps` shows).
 */
export async function loadCqlCredentials(
  s: CqlCredentialSettings,
  env: NodeJS.ProcessEnv,
): Promise<CqlCredentials | undefined> {
  if (!s.cqlUsername) {
    if (s.cqlPasswordFile || s.cqlPasswordEnv)
      throw new ConfigError("a CQL password is set but no cqlUsername", {
        hint: "set cqlUsername to the role the password belongs to",
      });
    return undefined;
  }
  if (s.cqlPasswordFile) {
    try {
      return {
        username: s.cqlUsername,
        password: (await readFile(s.cqlPasswordFile, "utf8")).replace(/\r?\n$/, ""),
      };
    } catch (err) {
      throw new ConfigError(
        `cannot read the CQL password file '${s.cqlPasswordFile}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        {
          hint: "check the path and that this user may read it (keep it mode 0600)",
        },
      );
    }
  }
  const fromEnv = s.cqlPasswordEnv ? env[s.cqlPasswordEnv] : undefined;
  if (s.cqlPasswordEnv && !fromEnv)
    throw new ConfigError(`the environment variable ${s.cqlPasswordEnv} (cqlPasswordEnv) is not set`, {
      hint: "export the password in the CLI's environment",
    });
  if (fromEnv === undefined)
    throw new ConfigError(`cqlUsername '${s.cqlUsername}' is set but no password`, {
      hint: "set cqlPasswordFile or cqlPasswordEnv",
    });
  return { username: s.cqlUsername, password: fromEnv };
}

interface DriverHost {
  readonly address: string;
  readonly hostId: { toString(): string } | null;
  isUp(): boolean;
}

/**
 * Reads the ring through the CQL driver from the given hosts (the first that answers) on the
 * cluster's native port, which is the same on every node (system.peers holds no port).
 */
export async function readRing(
  contactPoints: readonly string[],
  port: number,
  signal?: AbortSignal,
  credentials?: CqlCredentials,
): Promise<RingView> {
  const { default: cassandra } = await import("cassandra-driver");
  const client = new cassandra.Client({
    contactPoints: [...contactPoints],
    ...(credentials
      ? { authProvider: new cassandra.auth.PlainTextAuthProvider(credentials.username, credentials.password) }
      : {}),
    protocolOptions: { port },
    policies: { loadBalancing: new cassandra.policies.loadBalancing.RoundRobinPolicy() },
    socketOptions: { connectTimeout: 10_000, readTimeout: 30_000 },
    // Connect to every node of the ring at once: a node is "up" when it accepts a connection from
    // here, not merely listed in system.peers.
    pooling: { warmup: true },
  });
  const abort = () => void client.shutdown().catch(() => undefined);
  signal?.addEventListener("abort", abort, { once: true });
  try {
    await client.connect();
    const rows = (await client.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces"))
      .rows;
    const keyspaces = rows.map((r) => ({
      name: String(r["keyspace_name"]),
      replicas: replicasOf(r["replication"] as Record<string, string>),
    }));
    const hosts = client.hosts.values() as DriverHost[];
    const nodes = hosts.map((h) => ({
      hostId: String(h.hostId ?? ""),
      address: h.address.replace(/:\d+$/, ""),
      up: h.isUp(),
    }));
    return { via: contactPoints.map((c) => `${c}:${port}`).join(", "), nodes, keyspaces };
  } finally {
    signal?.removeEventListener("abort", abort);
    await client.shutdown().catch(() => undefined);
  }
}

export interface GuardOptions {
  readonly cassandraConf: string;
  /** The host id of the node restored. */
  readonly self: string;
  readonly scope: GuardScope;
  /** `--replica-lost`: the user says a per-node restore is meant. */
  readonly replicaLost: boolean;
  /** `--ring-from`: addresses of other nodes to read the ring from, instead of the seeds. */
  readonly ringFrom?: readonly string[] | undefined;
  /** Host ids of the cluster's nodes found in the archive (all of them, this one included). */
  readonly archivedNodes: () => Promise<readonly string[]>;
  readonly signal?: AbortSignal | undefined;
  /** The ring reader (tests give a fixed view). */
  readonly read?:
    | ((
        contactPoints: readonly string[],
        port: number,
        signal?: AbortSignal,
        credentials?: CqlCredentials,
      ) => Promise<RingView>)
    | undefined;
  /** For a ring whose `authenticator` is on. */
  readonly credentials?: CqlCredentials | undefined;
}

/**
 * Runs the guard before a per-node restore changes anything. Returns the lines to print; throws
 * ReplicasLiveError (exit 17) when the restore would be undone by the live replicas.
 */
export async function checkReplicaGuard(o: GuardOptions): Promise<string[]> {
  if (o.replicaLost)
    return [
      "--replica-lost: a per-node restore is meant (the live replicas stay as they are; run 'nodetool repair' on this node once it is up)",
    ];
  const yaml = await readCassandraYaml(o.cassandraConf);
  const contactPoints = o.ringFrom?.length ? [...o.ringFrom] : contactPointsOf(yaml);
  if (contactPoints.length === 0) {
    // This node is the only seed: the ring is unknown, but the archive knows the cluster's other nodes.
    const others = (await o.archivedNodes()).filter((n) => n !== o.self);
    if (others.length === 0)
      return [
        `${yaml.file} names no seed but this node and the archive holds no other node of its cluster: a single-node cluster, whose restore is a per-node restore`,
      ];
    throw new ReplicasLiveError(
      `restoring node ${o.self} alone is refused: whether its other replicas are up is unknown (${yaml.file} names no seed but this node, and the archive holds ${others.length} other node(s) of its cluster: ${others.join(", ")})`,
      "pass --ring-from ADDRESS (another node's address) so the ring can be read; or, when this node's disks were lost and it is being rebuilt, --replica-lost",
    );
  }
  let view: RingView;
  try {
    view = await (o.read ?? readRing)(contactPoints, yaml.nativePort, o.signal, o.credentials);
  } catch (err) {
    const why = (err as Error).message.split("\n")[0] ?? "";
    const auth = /authenticat|credentials|password/i.test(`${(err as Error).name} ${why}`);
    throw new ReplicasLiveError(
      `restoring node ${o.self} alone is refused: ${auth ? "the ring refused the CQL login" : "no other node answered"} at ${contactPoints.join(", ")} (${o.ringFrom?.length ? "--ring-from" : `the seeds of ${yaml.file}`}), so whether its other replicas are up is unknown: ${why}`,
      auth
        ? "set cqlUsername and cqlPasswordFile (or cqlPasswordEnv) to a role that may log in (docs/configuration.md)"
        : "start a seed or check the network; if the whole cluster is down for a restore of every node, or this node's disks were lost, pass --replica-lost",
    );
  }
  return decideReplicaGuard(view, o.self, o.scope);
}
