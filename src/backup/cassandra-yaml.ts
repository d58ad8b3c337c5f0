/**
 * What a stopped node's cassandra.yaml says about where the node and its cluster are: its own
 * addresses, the seeds and the native (CQL) port. The restore of a stopped node learns the ring from
 * the other nodes through these (restore/replica-guard.ts), and a replacement node takes its address
 * from them (restore/replace.ts).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { ConfigError } from "../errors/base.js";

export interface CassandraYaml {
  readonly file: string;
  readonly clusterName: string | undefined;
  /** broadcast_address, else listen_address: the address the other nodes know this node by. */
  readonly address: string | undefined;
  /** Every address this node answers on (listen, broadcast, rpc, broadcast_rpc). */
  readonly ownAddresses: readonly string[];
  /** Seed hosts, without their storage ports. */
  readonly seeds: readonly string[];
  /** native_transport_port (default 9042): the cluster's CQL port, the same on every node. */
  readonly nativePort: number;
  /** commitlog_disk_access_mode (5.0+; unset means `legacy`: uncompressed segments are memory-mapped). */
  readonly commitlogDiskAccessMode: string | undefined;
}

type Doc = Record<string, unknown>;

function stringAt(doc: Doc, key: string): string | undefined {
  const v = doc[key];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/** `seed_provider[0].parameters[0].seeds`, a comma list of `host[:port]`. */
function seedsOf(doc: Doc): string[] {
  const provider = (doc["seed_provider"] as Doc[] | undefined)?.[0];
  const params = (provider?.["parameters"] as Doc[] | undefined)?.[0];
  const text = typeof params?.["seeds"] === "string" ? params["seeds"] : "";
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s.startsWith("[") ? s.slice(1, s.indexOf("]")) : s.split(":")[0]!));
}

export function parseCassandraYaml(text: string, file: string): CassandraYaml {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(`'${file}' does not parse: ${(err as Error).message.split("\n")[0]}`, {
      hint: "give cassandraConf the conf directory of the node's Cassandra",
    });
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError(`'${file}' is not a YAML mapping`, {
      hint: "give cassandraConf the conf directory of the node's Cassandra",
    });
  const d = doc as Doc;
  const listen = stringAt(d, "listen_address");
  const broadcast = stringAt(d, "broadcast_address");
  const port = d["native_transport_port"];
  return {
    file,
    clusterName: stringAt(d, "cluster_name"),
    address: broadcast ?? listen,
    ownAddresses: [
      listen,
      broadcast,
      stringAt(d, "rpc_address"),
      stringAt(d, "broadcast_rpc_address"),
    ].filter((a): a is string => a !== undefined),
    seeds: seedsOf(d),
    nativePort:
      typeof port === "number" ? port : typeof port === "string" && /^\d+$/.test(port) ? Number(port) : 9042,
    commitlogDiskAccessMode: stringAt(d, "commitlog_disk_access_mode"),
  };
}

/** Reads `<cassandraConf>/cassandra.yaml`. */
export async function readCassandraYaml(cassandraConf: string): Promise<CassandraYaml> {
  const file = join(cassandraConf, "cassandra.yaml");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { hint: "set cassandraConf to the conf directory of the node's Cassandra" },
    );
  }
  return parseCassandraYaml(text, file);
}
