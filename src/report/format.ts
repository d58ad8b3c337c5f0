/** Small formatting helpers shared by the renderers. */
import { humanDuration, type NodeReport } from "./model.js";

export const iso = (ms: number) => new Date(ms).toISOString();
export const dur = (ms: number | null) => (ms === null ? "unbounded" : humanDuration(ms));
export const pct = (share: number) => `${(Math.floor(share * 10_000) / 100).toFixed(2)}%`;

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export const STATUS_WORD = { ok: "OK", warning: "WARNING", failure: "FAILURE" } as const;

/** The partial uploads in one phrase (text, Markdown, HTML alike). */
export function partialsLine(p: NonNullable<NodeReport["partials"]>): string {
  return `${p.objects} object(s), ${bytes(p.bytes)}${p.rescued > 0 ? ` (${p.rescued} rescued from the node while it was down)` : ""}; newest claim ${iso(p.newestClaimAt)} (uploaded ${iso(p.newestUploadAt)}): every write before it is archived`;
}

/** The exposure in one phrase: how much a lost disk would cost, and which writes. */
export function exposureLine(e: NonNullable<NodeReport["exposure"]>): string {
  if (e.segments.length === 0) return "nothing";
  return `${bytes(e.bytes)} in ${e.segments.length} segment(s), writes ${e.fromAt === null ? "of any time" : iso(e.fromAt)} .. ${e.toAt === null ? "-" : iso(e.toAt)}`;
}
