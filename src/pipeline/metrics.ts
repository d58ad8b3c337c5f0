/**
 * The agent's Prometheus endpoint (GET /metrics). Spool and failure figures come from the agent's
 * own passes; the newest segment and the restorable window from the reader the caller passes
 * (catalog/figures.ts: the node's catalog of the last week), refreshed at most once a minute.
 */
import { createServer } from "node:http";
import { ConfigError } from "../errors/base.js";
import { emptyAgentStats, type AgentStats } from "./agent.js";
import type { NodeIdentity } from "../format/layout.js";

export interface RestorableFigures {
  readonly newestSegmentMs: number | undefined;
  /** The restorable window of the recent past (catalog/figures.ts: the last week). */
  readonly restorable: { earliestMs: number; latestMs: number } | undefined;
}

/** Reads the figures from the archive; the caller supplies it (the catalog is a layer above this one). */
export type FiguresReader = (nowMs: number) => Promise<RestorableFigures>;

export function renderAgentMetrics(
  stats: AgentStats,
  identity: NodeIdentity,
  figures: RestorableFigures,
  nowMs: number,
): string {
  const newestMs = figures.newestSegmentMs;
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
    "# HELP cassandra_pitr_unfinished_uploads_aborted_total Unfinished multipart uploads of this node the agent aborted (left by a writer killed mid-upload).",
    "# TYPE cassandra_pitr_unfinished_uploads_aborted_total counter",
    `cassandra_pitr_unfinished_uploads_aborted_total{${labels}} ${stats.uploadsAborted}`,
  ];
  if (stats.newestPartialSyncedMs !== undefined) {
    lines.push(
      "# HELP cassandra_pitr_newest_uploaded_write_age_seconds Age of the newest instant before which every write is archived (partial uploads).",
      "# TYPE cassandra_pitr_newest_uploaded_write_age_seconds gauge",
      `cassandra_pitr_newest_uploaded_write_age_seconds{${labels}} ${((nowMs - stats.newestPartialSyncedMs) / 1000).toFixed(3)}`,
      "# HELP cassandra_pitr_partials_uploaded_total Partial segment objects the agent uploaded.",
      "# TYPE cassandra_pitr_partials_uploaded_total counter",
      `cassandra_pitr_partials_uploaded_total{${labels}} ${stats.partials}`,
    );
  }
  if (newestMs !== undefined) {
    lines.push(
      "# HELP cassandra_pitr_newest_segment_age_seconds Age of the newest archived segment (by close time).",
      "# TYPE cassandra_pitr_newest_segment_age_seconds gauge",
      `cassandra_pitr_newest_segment_age_seconds{${labels}} ${((nowMs - newestMs) / 1000).toFixed(3)}`,
    );
  }
  if (figures.restorable) {
    lines.push(
      "# HELP cassandra_pitr_newest_restorable_timestamp_seconds Newest instant restorable from the archive (unix seconds).",
      "# TYPE cassandra_pitr_newest_restorable_timestamp_seconds gauge",
      `cassandra_pitr_newest_restorable_timestamp_seconds{${labels}} ${(figures.restorable.latestMs / 1000).toFixed(3)}`,
      "# HELP cassandra_pitr_restorable_window_seconds Length of the restorable window (within the last 7 days).",
      "# TYPE cassandra_pitr_restorable_window_seconds gauge",
      `cassandra_pitr_restorable_window_seconds{${labels}} ${((figures.restorable.latestMs - figures.restorable.earliestMs) / 1000).toFixed(3)}`,
    );
  }
  return lines.join("\n") + "\n";
}

export async function startMetricsServer(listen: string, identity: NodeIdentity, readFigures: FiguresReader) {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m)
    throw new ConfigError(`metricsListen '${listen}' is not host:port`, { hint: "e.g. 127.0.0.1:9465" });
  let stats = emptyAgentStats();
  let cached: { at: number; figures: Promise<RestorableFigures> } | undefined;
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    const now = Date.now();
    // Scrapes come every few seconds; the archive is listed at most once a minute.
    if (!cached || now - cached.at > 60_000) cached = { at: now, figures: readFigures(now) };
    cached.figures.then(
      (figures) =>
        res
          .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
          .end(renderAgentMetrics(stats, identity, figures, now)),
      (err: unknown) => {
        cached = undefined;
        res.writeHead(503).end(String(err));
      },
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
