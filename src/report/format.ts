/** Small formatting helpers shared by the renderers. */
import { humanDuration } from "./model.js";

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
