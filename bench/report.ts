/** The shape of what each bench part returns; main.ts renders these into BENCHMARKS.md. */
export interface Table {
  readonly title: string;
  /** Paragraphs shown before the table (method, data). */
  readonly intro: readonly string[];
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Lines shown after the table (targets, verdicts, caveats). */
  readonly notes: readonly string[];
}

export function renderTable(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const lines = [`### ${t.title}`, ""];
  for (const p of t.intro) lines.push(p, "");
  lines.push(`| ${t.header.map(esc).join(" | ")} |`, `|${t.header.map(() => "---").join("|")}|`);
  for (const r of t.rows) lines.push(`| ${r.map(esc).join(" | ")} |`);
  lines.push("");
  for (const n of t.notes) lines.push(n, "");
  return lines.join("\n");
}

/** `code` for a command inside a table cell. */
export function cmd(text: string): string {
  return "`" + text + "`";
}
