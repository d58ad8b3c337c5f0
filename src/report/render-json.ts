/**
 * JSON rendering of the report model: snake_case keys, times (`...At`) as ISO-8601 UTC strings,
 * durations in milliseconds (`..._ms`), and `schema_version` first. Fields are only ever added.
 */
import type { ReportModel } from "./model.js";

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The model as the JSON document (plain data). */
export function toJsonDocument(model: ReportModel): unknown {
  const convert = (value: unknown, key: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => convert(v, ""));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[snake(k)] = convert(v, k);
      return out;
    }
    if (typeof value === "number" && /At$/.test(key)) return new Date(value).toISOString();
    return value;
  };
  return { message_type: "report", ...(convert(model, "") as Record<string, unknown>) };
}

export function renderJson(model: ReportModel): string {
  return JSON.stringify(toJsonDocument(model), null, 2) + "\n";
}
