/**
 * The archive hook runs once per segment, so its start-up must stay cheap: its static import graph
 * (from dist/bin/archive-hook.js) must not reach any cloud SDK, the CLI framework, execa, the YAML
 * library, or the planner/report code. Backends are loaded with import() only when used.
 */
import t from "tap";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { REPO } from "../helpers/cassandra.js";

const STATIC_IMPORT = /^\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/gm;

async function staticGraph(entry: string): Promise<{ files: Set<string>; packages: Set<string> }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (files.has(file)) return;
    files.add(file);
    const text = await readFile(file, "utf8");
    for (const m of text.matchAll(STATIC_IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith(".")) await visit(resolve(dirname(file), spec));
      else if (!spec.startsWith("node:")) packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  };
  await visit(entry);
  return { files, packages };
}

for (const hook of ["archive-hook.js", "restore-hook.js"]) {
  t.test(`${hook}: static imports stay off the SDKs, the CLI and the planner`, async (t) => {
    // The entry itself uses a dynamic import; follow what it loads.
    const { files, packages } = await staticGraph(join(REPO, "dist/archive", hook === "archive-hook.js" ? "hook.js" : "restore-hook.js"));
    t.same([...packages].sort(), ["zstd-napi"], "the only package on the static path is zstd-napi");
    for (const banned of ["/cli/", "/restore/planner", "/report/", "/catalog/", "/storage/backends/"]) {
      t.notOk([...files].some((f) => f.includes(banned)), `no ${banned} module on the static path`);
    }
  });
}
