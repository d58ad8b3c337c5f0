/**
 * A node directory another process made with scripts/cassandra-node.sh (a drill's kept scratch
 * node), started again so a test can read it: only what the oracle's dumpTable needs.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import cassandra from "cassandra-driver";
import { NODE_SCRIPT } from "./cassandra.js";
import type { CqlNode } from "./oracle.js";

export class ScratchCassandra {
  private constructor(
    readonly dir: string,
    private readonly client: cassandra.Client,
  ) {}

  /** Starts the node of `dir` on the ports its node.env records and connects to it. */
  static async open(dir: string): Promise<ScratchCassandra> {
    const port = /^NATIVE_PORT=(\d+)$/m.exec(await readFile(join(dir, "node.env"), "utf8"))?.[1];
    if (!port) throw new Error(`no NATIVE_PORT in ${dir}/node.env`);
    await execa("bash", [NODE_SCRIPT, "start", dir]);
    const client = new cassandra.Client({
      contactPoints: [`127.0.0.1:${port}`],
      localDataCenter: "datacenter1",
      socketOptions: { readTimeout: 60_000 },
    });
    await client.connect();
    return new ScratchCassandra(dir, client);
  }

  asNode(): CqlNode {
    return {
      execute: (query, params = [], options = {}) =>
        this.client.execute(query, params, { prepare: params.length > 0, ...options }),
      cql: async () => this.client,
    };
  }

  /** Disconnects, kills the node and removes its directory. */
  async destroy(): Promise<void> {
    await this.client.shutdown().catch(() => undefined);
    await execa("bash", [NODE_SCRIPT, "kill", this.dir], { reject: false });
    await rm(this.dir, { recursive: true, force: true });
  }
}
