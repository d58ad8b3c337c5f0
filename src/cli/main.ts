/**
 * `cassandra-pitr` — parse, dispatch, and turn errors into exit statuses. The only place in the CLI
 * that decides an exit status (through errors/codes.ts). Each sub-command lives in commands/<name>.ts
 * and is imported only when invoked, so `list` does not load report rendering and so on.
 */
import yargs, { type Argv } from "yargs";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import { SETTINGS, flagName, type Config } from "../config/schema.js";
import { isPitrError, renderError } from "../errors/base.js";
import { redactText } from "../errors/redact.js";
import { EXIT, exitStatusFor, exitStatusHelp } from "../errors/codes.js";

export type Args = Record<string, unknown> & { _: (string | number)[] };

export interface CliContext {
  readonly args: Args;
  readonly env: NodeJS.ProcessEnv;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /**
   * Loads the configuration with this invocation's flags applied. `missingFileOk`: a --config file
   * that does not exist yet reads as empty (init creates it) instead of failing.
   */
  readonly config: (options?: { missingFileOk?: boolean }) => Promise<LoadedConfig>;
  /** Stops long-running commands (agent) on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
}

/**
 * What a command tells the shell once it ran: "ok", or "problems" (it ran and found something to act
 * on: gaps, a breach, a failed check). Only `main` turns it into an exit status (3 for "problems");
 * a failure is a thrown `PitrError`, mapped through errors/codes.ts.
 */
export type CommandOutcome = "ok" | "problems";

export interface CommandModule {
  run(ctx: CliContext): Promise<CommandOutcome>;
}

const OUTCOME_STATUS: Readonly<Record<CommandOutcome, number>> = {
  ok: EXIT.OK,
  problems: EXIT.PROBLEMS_FOUND,
};

interface CommandSpec {
  readonly command: string;
  readonly describe: string;
  readonly builder?: (y: Argv) => Argv;
  readonly load: () => Promise<CommandModule>;
  readonly epilog?: string;
}

const EXIT_HELP = exitStatusHelp();

const COMMANDS: readonly CommandSpec[] = [
  {
    command: "init",
    describe:
      "discover the node identity (nodetool; or take it from --cluster and --node, for a node that is not running yet), write the config file, print the commitlog_archiving.properties lines",
    builder: (y) =>
      y
        .option("write", { type: "string", describe: "config file to write (default: the --config path)" })
        .option("force", { type: "boolean", default: false, describe: "overwrite an existing config file" }),
    load: () => import("./commands/init.js"),
  },
  {
    command: "check",
    describe:
      "check the setup: storage reachable and writable, spool on the commit log's filesystem, paths, segment size vs RPO",
    builder: (y) =>
      y
        .option("json", { type: "boolean", default: false })
        .option("segment-size", { type: "string", describe: "commitlog_segment_size (e.g. 32MiB)" }),
    load: () => import("./commands/check.js"),
  },
  {
    command: "agent",
    describe:
      "drain the spool with parallel uploads and sweep the commit log directory for left-behind segments",
    builder: (y) =>
      y.option("once", { type: "boolean", default: false, describe: "one pass, then exit (for cron/tests)" }),
    load: () => import("./commands/agent.js"),
  },
  {
    command: "rescue",
    describe:
      "on the host of a node that is down: upload the synced tail of every segment in its commit log directory (partial segments)",
    builder: (y) => y,
    load: () => import("./commands/rescue.js"),
  },
  {
    command: "segments",
    describe: "list archived segments of a node in a time window",
    builder: (y) =>
      y
        .option("since", { type: "string", describe: "start of the window (default: 24 hours ago)" })
        .option("until", { type: "string", describe: "end of the window (default: now)" })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/segments.js"),
  },
  {
    command: "snapshot [scope..]",
    describe:
      "take (or reuse with --tag) a snapshot and upload it; scope: keyspace or keyspace.table; with --cluster [NAME]: every node's agent takes it under one tag",
    builder: (y) =>
      y
        .option("tag", {
          alias: "t",
          type: "string",
          describe: "snapshot tag (existing tag: upload it; new: run nodetool snapshot)",
        })
        .option("clear", {
          type: "boolean",
          default: false,
          describe: "clear the local snapshot after a verified upload",
        })
        .option("tokens", {
          type: "boolean",
          default: true,
          describe:
            "record the node's tokens (nodetool info -T) and snapshot its schema keyspace; --no-tokens when no node runs, e.g. for a copied snapshot",
        })
        .option("wait", {
          type: "boolean",
          default: false,
          describe: "with --cluster: wait until every node has uploaded the snapshot",
        })
        .option("node-timeout", {
          type: "string",
          describe: "with --cluster --wait: a node silent this long fails the command (default 15m)",
        })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/snapshot.js"),
  },
  {
    command: "incremental",
    describe: "upload the sstables of the backups/ directories not yet archived",
    builder: (y) =>
      y
        .option("remove", {
          type: "boolean",
          default: false,
          describe: "remove local backups/ links after a verified upload",
        })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/incremental.js"),
  },
  {
    command: "list",
    describe:
      "per node: the restorable window, snapshots, incrementals and gaps; with --cluster [NAME]: every node of the cluster and the common restorable window",
    builder: (y) =>
      y
        .option("since", { type: "string", describe: "list from this time (default: 7 days before --until)" })
        .option("until", { type: "string", describe: "list up to this time (default: now)" })
        .option("nodetool", {
          type: "string",
          describe:
            "with --cluster: nodetool command whose 'status' gives the live ring (nodes in it with nothing archived are named)",
        })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/list.js"),
  },
  {
    command: "plan",
    describe:
      "plan a point-in-time restore (changes nothing); with --cluster [NAME]: a plan per node of the cluster",
    builder: (y) =>
      y
        .option("at", {
          type: "string",
          demandOption: true,
          describe: "restore point: ISO-8601 with zone, 'yyyy:MM:dd HH:mm:ss[.SSSSSS]' (UTC), or epoch ms/µs",
        })
        .option("keyspace", { type: "string", array: true, describe: "restore only these keyspaces" })
        .option("table", {
          type: "string",
          array: true,
          describe: "restore only these tables (keyspace.table)",
        })
        .option("grace", {
          type: "string",
          describe: "extra segments closed up to this long after the restore point (late writes)",
        })
        .option("target-version", {
          type: "string",
          describe: "Cassandra version of the node restored to (default: the node's)",
        })
        .option("accept-cassandra-filter", {
          type: "boolean",
          default: false,
          describe: "as for restore: name the filter the restore would use",
        })
        .option("nodetool", {
          type: "string",
          describe:
            "with --cluster: nodetool command whose 'status' gives the live ring (a ring node with nothing archived refuses the plan)",
        })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/plan.js"),
  },
  {
    command: "restore [action]",
    describe:
      "apply a plan to a stopped node (action 'finish' removes the restore settings after replay; 'abort' rolls back an interrupted restore); with --cluster [NAME]: every node, through its agent",
    builder: (y) =>
      y
        .positional("action", {
          choices: ["finish", "abort", "status", "resume"] as const,
          describe:
            "finish: after replay, remove every restore setting; abort: put back every file an interrupted restore moved; with --cluster also status (every node's progress) and resume (watch again)",
        })
        .option("node-timeout", {
          type: "string",
          describe:
            "with --cluster: a node whose agent writes no progress this long stops the command (exit 27; default 15m)",
        })
        .option("nodetool", {
          type: "string",
          describe:
            "with --cluster: nodetool command whose 'status' gives the live ring (a ring node with nothing archived refuses the restore)",
        })
        .option("at", { type: "string", describe: "restore point (as for plan)" })
        .option("keyspace", { type: "string", array: true })
        .option("table", { type: "string", array: true })
        .option("grace", { type: "string" })
        .option("target-version", { type: "string" })
        .option("restore-dir", {
          type: "string",
          describe: "staging directory for segments (must be empty or absent)",
        })
        .option("stubs", {
          type: "boolean",
          default: false,
          describe:
            "stage stubs (the restore hook fetches and filters each segment again at startup) instead of the filtered segments: for a restore directory too small to hold them",
        })
        .option("accept-cassandra-filter", {
          type: "boolean",
          default: false,
          describe:
            "leave mutations of tables the snapshot does not describe to Cassandra's own filter (it replays row deletions stamped after T) instead of refusing",
        })
        .option("ring-from", {
          type: "string",
          array: true,
          describe:
            "address of another node to read the ring from (default: the seeds of cassandra.yaml other than this node)",
        })
        .option("replica-lost", {
          type: "boolean",
          default: false,
          describe:
            "restore this node alone although other replicas of its data are up (its disks were lost and it is rebuilt); without it such a restore is refused (exit 17)",
        })
        .option("dry-run", {
          type: "boolean",
          default: false,
          describe: "print what would be done; change nothing",
        })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/restore.js"),
  },
  {
    command: "replace [action]",
    describe:
      "rebuild a node whose disks were lost at its old address: place its keyspace schema from the base snapshot and the replacement JVM options; then 'restore --at T --replica-lost' ('finish' removes the options). --single-node: a dead single-node cluster's archive onto a new node (schema only; then 'restore --at T')",
    builder: (y) =>
      y
        .positional("action", {
          choices: ["finish"] as const,
          describe: "finish: after the node joined, remove the replacement JVM options",
        })
        .option("at", {
          type: "string",
          describe:
            "restore point (as for plan): the schema is the one of the snapshot a restore to it starts from",
        })
        .option("address", {
          type: "string",
          describe: "the node's address (default: broadcast_address or listen_address of cassandra.yaml)",
        })
        .option("single-node", {
          type: "boolean",
          default: false,
          describe:
            "the dead node was the whole cluster: place the schema without the replacement options; the node starts with a new host id",
        })
        .option("grace", { type: "string" })
        .option("target-version", { type: "string" })
        .option("dry-run", {
          type: "boolean",
          default: false,
          describe: "print what would be done; change nothing",
        }),
    load: () => import("./commands/replace.js"),
  },
  {
    command: "report",
    describe:
      "recovery point report per node: RPO over time against the target, worst windows and causes, evidence (exit 3 on a breach)",
    builder: (y) =>
      y
        .option("since", { type: "string", describe: "start of the window (default: 7 days before --until)" })
        .option("until", { type: "string", describe: "end of the window (default: now)" })
        .option("target-rpo", {
          type: "string",
          describe: "RPO target, e.g. 15m (default: the targetRpo setting)",
        })
        .option("node", {
          type: "string",
          array: true,
          describe: "host id(s) to report (default: every node of the cluster)",
        })
        .option("format", {
          type: "string",
          default: "text",
          choices: ["text", "json", "markdown", "html", "prometheus"],
        })
        .option("step", {
          type: "string",
          describe: "chart bucket (default: at most 720 buckets over the window)",
        })
        .option("out", { type: "string", describe: "write the report to this file instead of stdout" }),
    load: () => import("./commands/report.js"),
  },
  {
    command: "verify",
    describe:
      "check snapshots (TOC components, schema, manifest), object checksums (incremental unless --deep) and the segment chain (found/delayed/lost)",
    builder: (y) =>
      y
        .option("since", {
          type: "string",
          describe: "segments from this time (default: 7 days before --until)",
        })
        .option("until", { type: "string", describe: "segments up to this time (default: now)" })
        .option("node", {
          type: "string",
          array: true,
          describe: "host id(s) (default: the configured node)",
        })
        .option("deep", {
          type: "boolean",
          default: false,
          describe: "re-read and re-hash every object, even those verified before",
        })
        .option("drill", {
          type: "boolean",
          default: false,
          describe:
            "restore drill: restore to a scratch Cassandra node at --at, run CQL checks, record evidence in the archive (exit 3 when a check fails)",
        })
        .option("at", { type: "string", describe: "drill: restore point (as for plan)" })
        .option("check", {
          type: "string",
          array: true,
          describe:
            "drill: CQL to run on the restored node (repeatable; default: SELECT count(*) of each table in scope)",
        })
        .option("expect", {
          type: "string",
          array: true,
          describe: 'drill: assertion on a table\'s row count, e.g. "shop.orders>=1000" (repeatable)',
        })
        .option("keyspace", {
          type: "string",
          array: true,
          describe: "drill: restore only these keyspaces (default: the snapshot's user tables)",
        })
        .option("table", {
          type: "string",
          array: true,
          describe: "drill: restore only these tables (keyspace.table)",
        })
        .option("grace", {
          type: "string",
          describe: "drill: extra segments closed up to this long after the restore point (as for plan)",
        })
        .option("keep-scratch", {
          type: "boolean",
          default: false,
          describe: "drill: keep the scratch node's directory (logs, data) afterwards",
        })
        .option("harness", {
          type: "string",
          describe: "drill: path to scripts/cassandra-node.sh (default: next to the installed code)",
        })
        .option("delay", {
          type: "string",
          describe: "a missing segment younger than this is 'delayed', not 'lost' (default: the target RPO)",
        })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/verify.js"),
  },
  {
    command: "prune",
    describe:
      "retention: delete snapshots, segments and incrementals no kept restore point needs (dry run unless --confirm)",
    builder: (y) =>
      y
        .option("keep", {
          type: "string",
          demandOption: true,
          describe:
            "a duration (keep restore points this far back, e.g. 30d) or a count (keep the newest N snapshots)",
        })
        .option("confirm", {
          type: "boolean",
          default: false,
          describe: "delete (without it: print what would be deleted and why)",
        })
        .option("json", { type: "boolean", default: false }),
    load: () => import("./commands/prune.js"),
  },
  {
    command: "stub <key> <dir>",
    describe: "write a restore stub for one archived segment into a directory (what restore stages)",
    load: () => import("./commands/stub.js"),
  },
];

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Everything printed goes through the one redaction (errors/redact.ts): a check detail or an SDK
  // message may quote a URL or a key.
  const print = (stream: NodeJS.WriteStream, raw: string) => {
    const text = redactText(raw, env);
    stream.write(text.endsWith("\n") ? text : text + "\n");
  };
  const out = (text: string) => print(process.stdout, text);
  const err = (text: string) => print(process.stderr, text);
  const controller = new AbortController();
  let interrupted: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig === "SIGINT" ? EXIT.INTERRUPTED : EXIT.TERMINATED;
    controller.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const chosen = await parseCommandLine(argv);
    if (chosen === "usage-error") return EXIT.USAGE;
    if (chosen === undefined) return EXIT.OK; // --help / --version printed
    const ctx: CliContext = {
      args: chosen.args,
      env,
      out,
      err,
      signal: controller.signal,
      config: configLoader(chosen.args, env),
    };
    const outcome = await (await chosen.spec.load()).run(ctx);
    return interrupted ?? OUTCOME_STATUS[outcome];
  } catch (e) {
    if (interrupted !== undefined) return interrupted;
    err(renderError(e, "cassandra-pitr"));
    if (!isPitrError(e) && env["CASSANDRA_PITR_DEBUG"]) err(redactText(String((e as Error)?.stack)));
    return isPitrError(e) ? exitStatusFor(e.code) : EXIT.INTERNAL;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  /** The command and its arguments; undefined after --help or --version; "usage-error" once said. */
  async function parseCommandLine(
    argv: readonly string[],
  ): Promise<{ spec: CommandSpec; args: Args } | undefined | "usage-error"> {
    let chosen: { spec: CommandSpec; args: Args } | undefined;
    try {
      await buildParser(argv, (spec, args) => (chosen = { spec, args })).parseAsync();
    } catch (e) {
      if (!(e instanceof UsageErrorWrapper)) throw e;
      err(`cassandra-pitr: ${e.message}\ncassandra-pitr: hint: see 'cassandra-pitr --help'`);
      return "usage-error";
    }
    return chosen;
  }
}

/** The yargs parser: global options, every setting as a flag, every command of `COMMANDS`. */
function buildParser(argv: readonly string[], onCommand: (spec: CommandSpec, args: Args) => void): Argv {
  let parser = yargs([...argv])
    .scriptName("cassandra-pitr")
    .usage("$0 <command> [options]")
    .option("config", {
      type: "string",
      describe: "config file (env CASSANDRA_PITR_CONFIG; default /etc/cassandra-pitr/config.yaml)",
    })
    .strict()
    .demandCommand(1, "name a command")
    .recommendCommands()
    .epilog(EXIT_HELP)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, e) => {
      throw e ?? new UsageErrorWrapper(msg);
    });
  for (const spec of SETTINGS) {
    parser = parser.option(flagName(spec.key), {
      type: "string",
      describe: spec.description,
      global: true,
      hidden: !["archive", "cluster", "node", "nodetool"].includes(spec.key),
    });
  }
  for (const spec of COMMANDS) {
    parser = parser.command(
      spec.command,
      spec.describe,
      (y) => (spec.builder ? spec.builder(y) : y).epilog(EXIT_HELP),
      (a) => onCommand(spec, a as Args),
    );
  }
  return parser;
}

/** The configuration with this invocation's setting flags applied over file and environment. */
function configLoader(args: Args, env: NodeJS.ProcessEnv): CliContext["config"] {
  const flags: Partial<Record<keyof Config, string>> = {};
  for (const spec of SETTINGS) {
    const value = args[flagName(spec.key)];
    // `list --cluster` without a name means the configured cluster, not an empty name.
    if (typeof value === "string" && !(spec.key === "cluster" && value === "")) flags[spec.key] = value;
  }
  return (options) =>
    loadConfig({
      configPath: args["config"] as string | undefined,
      env,
      flags,
      missingFileOk: options?.missingFileOk === true,
    });
}

class UsageErrorWrapper extends Error {}
