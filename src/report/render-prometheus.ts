/** Prometheus text exposition (0.0.4) of the report, for alerting (e.g. node_exporter's textfile collector). */
import type { CheckStatus, ReportModel } from "./model.js";

const STATUS_VALUE: Record<CheckStatus, number> = { ok: 0, warning: 1, failure: 2 };
const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export function renderPrometheus(model: ReportModel): string {
  const out: string[] = [];
  const metric = (name: string, help: string, rows: readonly [Record<string, string>, number | null][]) => {
    out.push(`# HELP cassandra_pitr_report_${name} ${help}`);
    out.push(`# TYPE cassandra_pitr_report_${name} gauge`);
    for (const [labels, value] of rows) {
      if (value === null) continue;
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${label(v)}"`)
        .join(",");
      out.push(
        `cassandra_pitr_report_${name}${l ? `{${l}}` : ""} ${Number.isInteger(value) ? value : value.toFixed(6)}`,
      );
    }
  };
  const per = <T>(f: (n: ReportModel["nodes"][number]) => T) =>
    model.nodes.map((n) => [{ cluster: n.cluster, node: n.node }, f(n)] as [Record<string, string>, T]);
  const s = (ms: number | null) => (ms === null ? null : ms / 1000);
  metric("status", "report status: 0 ok, 1 warning, 2 failure", [[{}, STATUS_VALUE[model.status]]]);
  metric("target_rpo_seconds", "the RPO target the report was computed against", [
    [{}, model.targetRpoMs / 1000],
  ]);
  metric("window_start_timestamp_seconds", "start of the reported window", [
    [{}, model.window.fromAt / 1000],
  ]);
  metric("window_end_timestamp_seconds", "end of the reported window", [[{}, model.window.toAt / 1000]]);
  metric("generated_timestamp_seconds", "when the report was generated", [
    [{}, model.evidence.generatedAt / 1000],
  ]);
  metric(
    "node_status",
    "node status: 0 ok, 1 warning, 2 failure",
    per((n) => STATUS_VALUE[n.status]),
  );
  metric(
    "rpo_within_target_ratio",
    "share of the window with RPO at or below the target",
    per((n) => n.rpo.withinTargetShare),
  );
  metric(
    "rpo_breach_seconds",
    "time in the window with RPO above the target",
    per((n) => n.rpo.breachMs / 1000),
  );
  metric(
    "rpo_max_seconds",
    "highest RPO in the window (absent: nothing restorable at some instant)",
    per((n) => s(n.rpo.maxRpoMs)),
  );
  metric(
    "rpo_end_seconds",
    "RPO at the end of the window",
    per((n) => s(n.rpo.endRpoMs)),
  );
  metric(
    "restorable_latest_timestamp_seconds",
    "newest restorable instant",
    per((n) => (n.restorable ? n.restorable.latestAt / 1000 : null)),
  );
  metric(
    "restorable_window_seconds",
    "length of the restorable window",
    per((n) => (n.restorable ? (n.restorable.latestAt - n.restorable.earliestAt) / 1000 : null)),
  );
  metric(
    "newest_snapshot_age_seconds",
    "age of the newest complete snapshot",
    per((n) => s(n.ages.snapshotMs)),
  );
  metric(
    "newest_incremental_age_seconds",
    "age of the newest incremental",
    per((n) => s(n.ages.incrementalMs)),
  );
  metric(
    "newest_segment_age_seconds",
    "age of the newest archived segment (by close time)",
    per((n) => s(n.ages.segmentMs)),
  );
  metric(
    "archive_lag_p95_seconds",
    "95th percentile of archive time minus close time",
    per((n) => n.archiveLag.p95Ms / 1000),
  );
  metric(
    "segment_gaps",
    "gaps (lost segments) in the segment chain",
    per((n) => n.counts.gaps),
  );
  metric(
    "segment_bytes",
    "stored bytes of listed segments",
    per((n) => n.storage.segmentBytes),
  );
  metric(
    "local_snapshot_only_bytes",
    "local disk held only by snapshots (report run on the node)",
    per((n) => n.storage.localSnapshots?.onlySnapshotsBytes ?? null),
  );
  metric(
    "check_status",
    "check status: 0 ok, 1 warning, 2 failure",
    model.nodes.flatMap((n) =>
      n.checks.map(
        (c) =>
          [{ cluster: n.cluster, node: n.node, check: c.id }, STATUS_VALUE[c.status]] as [
            Record<string, string>,
            number,
          ],
      ),
    ),
  );
  return out.join("\n") + "\n";
}
