/**
 * Every setting, declared once. Each has three mirrored forms: the config-file key (camelCase), the
 * flag (--kebab-case) and the environment variable CASSANDRA_PITR_<UPPER_SNAKE>. Precedence:
 * flag > environment > config file > default.
 */
export interface SettingSpec {
  readonly key: keyof Config;
  readonly type: "string" | "duration" | "integer" | "boolean" | "enum";
  readonly values?: readonly string[];
  /** Inclusive bounds of an integer setting, or of a duration setting in milliseconds. */
  readonly min?: number;
  readonly max?: number;
  readonly default?: string;
  readonly description: string;
}

export interface Config {
  /** Archive location URL: file:///path, s3://bucket/prefix, gs://bucket/prefix, az://account/container/prefix. */
  archive: string;
  /** Cluster name (from `nodetool describecluster`), the first level of the node prefix. */
  cluster: string | undefined;
  /** The node's host id (from `nodetool info`), the second level of the node prefix. */
  node: string | undefined;
  datacenter: string | undefined;
  cassandraVersion: string | undefined;
  /** The nodetool command line (split on spaces, no shell) for init, snapshot and restore. */
  nodetool: string;
  /** Cassandra's commit log directory (the hook derives it from %path when unset). */
  commitlogDir: string | undefined;
  /** Cassandra's conf directory (where commitlog_archiving.properties lives). */
  cassandraConf: string | undefined;
  /** Cassandra's data directory (for snapshots, incremental backups and restores). */
  dataDir: string | undefined;
  /** The spool: hard links of segments waiting for upload; must be on the commit log's filesystem. */
  spoolDir: string | undefined;
  /** `upload`: upload within the budget, spool on failure. `spool`: only link into the spool (the agent uploads). */
  hookMode: "upload" | "spool";
  /** Wall-clock budget of one archive hook run, after which it spools. */
  hookTimeout: number;
  /** Wall-clock budget of one restore hook run (Cassandra's start-up waits for it). */
  restoreTimeout: number;
  /** Whether the hook may fall back to the spool (false: a failed upload exits non-zero). */
  spoolFallback: boolean;
  /** How long a storage health mark diverts hooks to the spool unless refreshed (pipeline/health.ts). */
  healthMarkLifetime: number;
  /** zstd level for archived segments. */
  compressionLevel: number;
  compressionThreads: number;
  /** Attempts per storage call for transient errors. */
  retryAttempts: number;
  /** Parallel uploads/downloads in the agent and restores. */
  parallelism: number;
  /** Recovery point objective target, used by check and report. */
  targetRpo: number;
  /** A file the hooks append one line per event to (the hooks print almost nothing). */
  logFile: string | undefined;
  /** Agent: seconds between spool drains and commit log sweeps. */
  agentInterval: number;
  /** Agent: upload the newly synced sections of open segments this often (partial segments). */
  partialInterval: number;
  /** Agent: a leftover segment must be unchanged this long before the sweeper archives it. */
  sweepMinAge: number;
  /** Agent: Prometheus metrics listen address (host:port), off when unset. */
  metricsListen: string | undefined;
  /** Agent: upload incremental backups this often (off when unset). */
  incrementalInterval: number | undefined;
  /** Cassandra's hints directory (a cluster restore moves its files aside); default beside the commit log. */
  hintsDir: string | undefined;
  /** Agent, cluster restore: the command that stops Cassandra (run with sh -c), e.g. `systemctl stop cassandra`. */
  stopCommand: string | undefined;
  /** Agent, cluster restore: the command that starts Cassandra (run with sh -c), e.g. `systemctl start cassandra`. */
  startCommand: string | undefined;
  /** Agent, cluster restore: how long stopCommand or startCommand may take to bring the node down or up. */
  nodeCommandTimeout: number;
  /** Client-side encryption of every archived object (docs/encryption.md). */
  encryption: "none" | "aes-256-gcm";
  /** A file holding the current key (never the key itself in the config file). */
  encryptionKeyFile: string | undefined;
  /** The name of an environment variable holding the current key. */
  encryptionKeyEnv: string | undefined;
  /** Comma-separated files of retired keys, still used to read older objects. */
  encryptionRetiredKeyFiles: string | undefined;
  /** CQL user for the reads the CLI makes of a live ring (the replica guard), when authentication is on. */
  cqlUsername: string | undefined;
  /** A file holding that user's password (never the password itself in the config file). */
  cqlPasswordFile: string | undefined;
  /** The name of an environment variable holding that user's password. */
  cqlPasswordEnv: string | undefined;
  /** S3 Object Lock (WORM) on every archived object: `none`, or the retention mode (docs/least-privilege.md). */
  objectLock: "none" | "governance" | "compliance";
  /** How long each archived object stays locked from the moment it is written. */
  objectLockRetention: number | undefined;
}

/**
 * The longest duration a timer can wait: Node's timers hold 2^31-1 ms (about 24.8 days) and fire
 * after 1 ms beyond it. 24 days leaves room for the hooks' grace periods on top.
 */
export const MAX_TIMER_DURATION_MS = 24 * 86_400_000;
/** Durations that are only compared, never waited for: 100 years is beyond any sensible setting. */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

export const DEFAULT_ARCHIVE = "file:///var/lib/cassandra-pitr/archive";
export const DEFAULT_CONFIG_PATH = "/etc/cassandra-pitr/config.yaml";

export const SETTINGS: readonly SettingSpec[] = [
  { key: "archive", type: "string", default: DEFAULT_ARCHIVE, description: "archive location URL" },
  { key: "cluster", type: "string", description: "cluster name (node identity, part 1)" },
  { key: "node", type: "string", description: "the node's host id (node identity, part 2)" },
  { key: "datacenter", type: "string", description: "the node's data centre" },
  { key: "cassandraVersion", type: "string", description: "Cassandra release of the node, e.g. 5.0.9" },
  {
    key: "nodetool",
    type: "string",
    default: "nodetool",
    description: "nodetool command line, split on spaces (e.g. '/opt/cassandra/bin/nodetool -h 127.0.0.1')",
  },
  { key: "commitlogDir", type: "string", description: "Cassandra's commit log directory" },
  { key: "cassandraConf", type: "string", description: "Cassandra's conf directory" },
  { key: "dataDir", type: "string", description: "Cassandra's data directory" },
  {
    key: "spoolDir",
    type: "string",
    description: "spool directory (default: <commit log dir>/../cassandra-pitr-spool)",
  },
  {
    key: "hookMode",
    type: "enum",
    values: ["upload", "spool"],
    default: "upload",
    description: "archive hook mode",
  },
  {
    key: "hookTimeout",
    type: "duration",
    max: MAX_TIMER_DURATION_MS,
    default: "20s",
    description: "archive hook time budget before it spools",
  },
  {
    key: "restoreTimeout",
    type: "duration",
    max: MAX_TIMER_DURATION_MS,
    default: "5m",
    description: "restore hook time budget for one segment",
  },
  {
    key: "spoolFallback",
    type: "boolean",
    default: "true",
    description: "spool when an upload fails or runs out of time",
  },
  {
    key: "healthMarkLifetime",
    type: "duration",
    max: MAX_DURATION_MS,
    default: "5m",
    description:
      "how long the spool's storage health mark sends hooks straight to the spool unless refreshed",
  },
  {
    key: "compressionLevel",
    type: "integer",
    min: -7,
    max: 22,
    default: "1",
    description: "zstd compression level",
  },
  {
    key: "compressionThreads",
    type: "integer",
    min: 0,
    max: 64,
    default: "2",
    description: "zstd worker threads per segment (0: compress on the hook's own thread)",
  },
  {
    key: "retryAttempts",
    type: "integer",
    default: "3",
    description: "attempts per storage call on transient errors",
  },
  { key: "parallelism", type: "integer", default: "4", description: "parallel transfers (agent, restore)" },
  {
    key: "targetRpo",
    type: "duration",
    max: MAX_DURATION_MS,
    default: "15m",
    description: "recovery point objective target",
  },
  { key: "logFile", type: "string", description: "file the hooks append event lines to" },
  {
    key: "agentInterval",
    type: "duration",
    max: MAX_TIMER_DURATION_MS,
    default: "10s",
    description: "agent loop interval",
  },
  {
    key: "partialInterval",
    type: "duration",
    max: MAX_TIMER_DURATION_MS,
    default: "10s",
    description: "agent: upload newly synced commit log sections this often (partial segments)",
  },
  {
    key: "sweepMinAge",
    type: "duration",
    max: MAX_DURATION_MS,
    default: "10m",
    description: "age before the sweeper takes a leftover segment",
  },
  { key: "metricsListen", type: "string", description: "agent metrics address host:port" },
  {
    key: "incrementalInterval",
    type: "duration",
    max: MAX_TIMER_DURATION_MS,
    description: "agent: upload incremental backups this often (off when unset)",
  },
  {
    key: "hintsDir",
    type: "string",
    description: "Cassandra's hints directory (default: <commit log dir>/../hints)",
  },
  {
    key: "stopCommand",
    type: "string",
    description:
      "agent: command that stops Cassandra for a cluster restore (sh -c), e.g. 'systemctl stop cassandra'",
  },
  {
    key: "startCommand",
    type: "string",
    description:
      "agent: command that starts Cassandra after a cluster restore (sh -c), e.g. 'systemctl start cassandra'",
  },
  {
    key: "nodeCommandTimeout",
    type: "duration",
    max: MAX_TIMER_DURATION_MS,
    default: "10m",
    description: "agent: time for the node to stop or start after stopCommand/startCommand",
  },
  {
    key: "encryption",
    type: "enum",
    values: ["none", "aes-256-gcm"],
    default: "none",
    description: "client-side encryption of every archived object",
  },
  {
    key: "encryptionKeyFile",
    type: "string",
    description: "file holding the current encryption key (64 hex digits or base64)",
  },
  {
    key: "encryptionKeyEnv",
    type: "string",
    description: "name of the environment variable holding the current encryption key",
  },
  {
    key: "encryptionRetiredKeyFiles",
    type: "string",
    description: "comma-separated files of retired keys, to read older objects",
  },
  {
    key: "cqlUsername",
    type: "string",
    description: "CQL user for reading the live ring (replica guard) when Cassandra's authentication is on",
  },
  { key: "cqlPasswordFile", type: "string", description: "file holding the CQL user's password" },
  {
    key: "cqlPasswordEnv",
    type: "string",
    description: "name of the environment variable holding the CQL user's password",
  },
  {
    key: "objectLock",
    type: "enum",
    values: ["none", "governance", "compliance"],
    default: "none",
    description:
      "S3 Object Lock retention mode on every archived object (s3:// only; the bucket needs object lock enabled)",
  },
  {
    key: "objectLockRetention",
    type: "duration",
    min: 86_400_000,
    max: MAX_DURATION_MS,
    description:
      "how long each archived object stays locked after it is written (at least 1d; required with objectLock)",
  },
];

/** camelCase → CASSANDRA_PITR_UPPER_SNAKE */
export function envName(key: string): string {
  return "CASSANDRA_PITR_" + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** camelCase → kebab-case flag name (without the dashes). */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
