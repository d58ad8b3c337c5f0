/**
 * Toxiproxy (github.com/Shopify/toxiproxy, built by scripts/emulators.sh install into
 * .cache/bin/toxiproxy-server): a real TCP fault proxy the tests put between the hooks and a storage
 * server. Each test file starts its own server (port PITR_TEST_TOXIPROXY_PORT, else 19310, below the ephemeral port range that outgoing connections take their local ports from) and stops
 * it in teardown; proxies listen on the following ports.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./cassandra.js";

export const TOXIPROXY_BIN = join(REPO, ".cache/bin/toxiproxy-server");

export type ToxicType =
  "latency" | "bandwidth" | "timeout" | "reset_peer" | "slow_close" | "limit_data" | "slicer";

export interface Toxic {
  readonly type: ToxicType;
  readonly stream?: "upstream" | "downstream";
  readonly attributes: Record<string, number>;
}

export interface Proxy {
  readonly name: string;
  /** host:port the clients connect to. */
  readonly listen: string;
  addToxic(name: string, toxic: Toxic): Promise<void>;
  removeToxic(name: string): Promise<void>;
  /** Disabled: the listener is closed and open connections are cut (connection refused). */
  setEnabled(enabled: boolean): Promise<void>;
  /** Removes every toxic and enables the proxy. */
  heal(): Promise<void>;
}

export interface Toxiproxy {
  readonly api: string;
  proxy(name: string, upstream: string, listenPort: number): Promise<Proxy>;
  stop(): Promise<void>;
}

export function toxiproxyPort(): number {
  return Number(process.env["PITR_TEST_TOXIPROXY_PORT"] ?? 19310);
}

async function call(api: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const init: RequestInit = { method };
  if (body !== undefined)
    Object.assign(init, { headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const res = await fetch(`${api}${path}`, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export async function startToxiproxy(port = toxiproxyPort()): Promise<Toxiproxy> {
  if (!existsSync(TOXIPROXY_BIN))
    throw new Error(`${TOXIPROXY_BIN} is missing: run 'bash scripts/emulators.sh install'`);
  const child: ChildProcess = spawn(TOXIPROXY_BIN, ["-host", "127.0.0.1", "-port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const api = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`toxiproxy-server exited (${child.exitCode}): ${log}`);
    const up = await fetch(`${api}/version`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 100) throw new Error(`toxiproxy-server did not answer on ${api}: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const proxies: string[] = [];
  return {
    api,
    async proxy(name, upstream, listenPort) {
      const listen = `127.0.0.1:${listenPort}`;
      // A server left by an interrupted run may still hold a proxy of this name: start from a clean one.
      await fetch(`${api}/proxies/${name}`, { method: "DELETE" }).catch(() => undefined);
      await call(api, "POST", "/proxies", { name, listen, upstream, enabled: true });
      proxies.push(name);
      const toxics = new Set<string>();
      const self: Proxy = {
        name,
        listen,
        async addToxic(toxicName, toxic) {
          await call(api, "POST", `/proxies/${name}/toxics`, {
            name: toxicName,
            type: toxic.type,
            stream: toxic.stream ?? "downstream",
            toxicity: 1,
            attributes: toxic.attributes,
          });
          toxics.add(toxicName);
        },
        async removeToxic(toxicName) {
          await call(api, "DELETE", `/proxies/${name}/toxics/${toxicName}`);
          toxics.delete(toxicName);
        },
        async setEnabled(enabled) {
          await call(api, "POST", `/proxies/${name}`, { enabled });
        },
        async heal() {
          for (const t of [...toxics]) await self.removeToxic(t);
          await self.setEnabled(true);
        },
      };
      return self;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}
