/** The tool version (package.json), for evidence. Same relative path from src/ and dist/. */
import { readFileSync } from "node:fs";

export function toolVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version;
  } catch {
    return "unknown";
  }
}
