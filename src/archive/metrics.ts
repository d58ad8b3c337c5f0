/**
 * The agent's Prometheus endpoint (GET /metrics). Figures come from the agent's own passes and,
 * for the newest archived segment, from listing the last two day prefixes of the node (cheap: the
 * layout sorts keys by close time).
 */
import { createServer } from "node:http";
import { ConfigError } from "../errors/base.js";
import type { Backend } from "../storage/types.js";
import type { AgentStats } from "./agent.js";
import { dayPrefixes, parseSegmentKey, type NodeIdentity } from "./layout.js";

export async function newestArchivedCloseTime(backend: Backend, identity: NodeIdentity, nowMs: number): Promise<number | undefined> {
  let newest: number | undefined;
  for (const prefix of dayPrefixes(identity, nowMs - 86_400_000, nowMs)) {
    for await (const info of backend.list(prefix)) {
      const parts = parseSegmentKey(info.key);
      if (parts && (newest === undefined || parts.closeTimeMs > newest)) newest = parts.closeTimeMs;
    }
  }
  return newest;
}

export function renderAgentMetrics(stats: AgentStats, identity: NodeIdentity, newestMs: number | undefined, nowMs: number): string {
  const labels = `cluster="${identity.cluster.replace(/"/g, '\\"')}",node="${identity.node}"`;
  const lines = [
    "# HELP cassandra_pitr_spool_segments Segments waiting in the spool.",
    "# TYPE cassandra_pitr_spool_segments gauge",
    `cassandra_pitr_spool_segments{${labels}} ${stats.spoolCount}`,
    "# HELP cassandra_pitr_spool_bytes Bytes waiting in the spool.",
    "# TYPE cassandra_pitr_spool_bytes gauge",
    `cassandra_pitr_spool_bytes{${labels}} ${stats.spoolBytes}`,
    "# HELP cassandra_pitr_archive_failures_total Uploads or sweeps that failed (and will be retried).",
    "# TYPE cassandra_pitr_archive_failures_total counter",
    `cassandra_pitr_archive_failures_total{${labels}} ${stats.failures}`,
    "# HELP cassandra_pitr_uploaded_total Segments the agent uploaded from the spool.",
    "# TYPE cassandra_pitr_uploaded_total counter",
    `cassandra_pitr_uploaded_total{${labels}} ${stats.uploaded}`,
    "# HELP cassandra_pitr_swept_total Left-behind segments the sweeper archived.",
    "# TYPE cassandra_pitr_swept_total counter",
    `cassandra_pitr_swept_total{${labels}} ${stats.swept}`,
  ];
  if (newestMs !== undefined) {
    lines.push(
      "# HELP cassandra_pitr_newest_segment_age_seconds Age of the newest archived segment (by close time).",
      "# TYPE cassandra_pitr_newest_segment_age_seconds gauge",
      `cassandra_pitr_newest_segment_age_seconds{${labels}} ${((nowMs - newestMs) / 1000).toFixed(3)}`,
    );
  }
  return lines.join("\n") + "\n";
}

export async function startMetricsServer(listen: string, backend: Backend, identity: NodeIdentity) {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new ConfigError(`metricsListen '${listen}' is not host:port`, { hint: "e.g. 127.0.0.1:9465" });
  let stats: AgentStats = { spoolCount: 0, spoolBytes: 0, uploaded: 0, failures: 0, swept: 0, lastPassMs: 0 };
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    const now = Date.now();
    newestArchivedCloseTime(backend, identity, now).then(
      (newest) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(renderAgentMetrics(stats, identity, newest, now)),
      (err: unknown) => res.writeHead(503).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(m[2]), m[1] || "127.0.0.1", resolve);
  });
  return {
    update: (s: AgentStats) => {
      stats = { ...s };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
