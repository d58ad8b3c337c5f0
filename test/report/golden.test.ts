/**
 * Golden files: the reference scenario rendered as JSON and Markdown must equal
 * fixtures/reports/scenario.json and scenario.md byte for byte.
 * Regenerate after an intended change: UPDATE_GOLDEN=1 npx tap --disable-coverage test/report/golden.test.ts
 * (then review the diff: it is the visible change to the report's contract).
 */
import { readFile, writeFile } from "node:fs/promises";
import t from "tap";
import { buildReport } from "../../src/report/model.js";
import { renderJson } from "../../src/report/render-json.js";
import { renderMarkdown } from "../../src/report/render-markdown.js";
import { renderPrometheus } from "../../src/report/render-prometheus.js";
import { renderText } from "../../src/report/render-text.js";
import { M, scenarioInput } from "./scenario.js";

const dir = new URL("../../fixtures/reports/", import.meta.url);
const model = buildReport({ ...scenarioInput(), stepMs: 30 * M });

for (const [name, text] of [
  ["scenario.json", renderJson(model)],
  ["scenario.md", renderMarkdown(model)],
] as const) {
  t.test(`golden ${name}`, async (t) => {
    const file = new URL(name, dir);
    if (process.env["UPDATE_GOLDEN"]) await writeFile(file, text);
    t.equal(
      text,
      await readFile(file, "utf8"),
      `matches fixtures/reports/${name} (UPDATE_GOLDEN=1 regenerates)`,
    );
  });
}

t.test("JSON: schema_version, snake_case, ISO times", async (t) => {
  const doc = JSON.parse(renderJson(model)) as Record<string, unknown>;
  t.equal(doc["schema_version"], 1);
  t.equal(doc["message_type"], "report");
  const nodes = doc["nodes"] as Record<string, unknown>[];
  const rpo = nodes[0]!["rpo"] as Record<string, unknown>;
  t.equal(rpo["within_target_share"], 0.759491);
  const worst = rpo["worst"] as Record<string, unknown>[];
  t.equal(worst[0]!["start_at"], "2026-03-01T03:15:00.000Z");
  t.equal(worst[0]!["peak_rpo_ms"], 5_400_000);
});

t.test("Prometheus and text carry the figures", async (t) => {
  const prom = renderPrometheus(model);
  t.match(prom, /cassandra_pitr_report_rpo_within_target_ratio\{cluster="prod",node="node-a"\} 0\.759491/);
  t.match(prom, /cassandra_pitr_report_rpo_max_seconds\{cluster="prod",node="node-a"\} 5400\n/);
  t.notMatch(
    prom,
    /rpo_max_seconds\{cluster="prod",node="node-b"\}/,
    "an unbounded RPO is absent, not a number",
  );
  t.match(prom, /cassandra_pitr_report_status 2\n/);
  const text = renderText(model);
  t.match(text, /75\.94% of the window within 15m; max 1h30m/);
});
