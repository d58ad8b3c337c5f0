/** Renderer by format name (the CLI's --format). */
import type { ReportModel } from "./model.js";
import { renderHtml } from "./render-html.js";
import { renderJson } from "./render-json.js";
import { renderMarkdown } from "./render-markdown.js";
import { renderPrometheus } from "./render-prometheus.js";
import { renderText } from "./render-text.js";

export const FORMATS = ["text", "json", "markdown", "html", "prometheus"] as const;
export type Format = (typeof FORMATS)[number];

export function render(model: ReportModel, format: Format): string {
  switch (format) {
    case "text":
      return renderText(model);
    case "json":
      return renderJson(model);
    case "markdown":
      return renderMarkdown(model);
    case "html":
      return renderHtml(model);
    case "prometheus":
      return renderPrometheus(model);
  }
}
