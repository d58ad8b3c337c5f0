/**
 * The archive hook runs once per segment, so its start-up must stay cheap: its static import graph
 * (from dist/bin/archive-hook.js) must not reach any cloud SDK, the CLI framework, execa, the YAML
 * library, or the planner/report code. Backends are loaded with import() only when used.
 */
import t from "tap";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { REPO } from "../helpers/cassandra.js";

const STATIC_IMPORT =
  /^\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/gm;

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
      else if (!spec.startsWith("node:"))
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  };
  await visit(entry);
  return { files, packages };
}

for (const hook of ["archive-hook.js", "restore-hook.js"]) {
  t.test(`${hook}: static imports stay off the SDKs, the CLI and the planner`, async (t) => {
    // The entry itself uses a dynamic import; follow what it loads, and the entry's own static path.
    const loaded = join(
      REPO,
      "dist",
      hook === "archive-hook.js" ? "pipeline/hook.js" : "replay/restore-hook.js",
    );
    const entry = join(REPO, "dist/bin", hook);
    t.match(
      await readFile(entry, "utf8"),
      loaded.slice(join(REPO, "dist").length).replace(/^\//, "../"),
      "the entry loads that module",
    );
    const graphs = [await staticGraph(loaded), await staticGraph(entry)];
    const files = new Set(graphs.flatMap((g) => [...g.files]));
    const packages = new Set(graphs.flatMap((g) => [...g.packages]));
    // The restore hook loads zstd and the storage only for a stub: a staged segment is linked or copied.
    const expected: string[] = [];
    t.same([...packages].sort(), expected, `packages on the static path: ${expected.join(", ") || "none"}`);
    const banned = ["/cli/", "/restore/planner", "/report/", "/catalog/", "/storage/backends/"];
    // Spool mode must not load the upload pipeline: it is imported by the upload branch only.
    if (hook === "archive-hook.js")
      banned.push("/pipeline/push.js", "/storage/open.js", "/commitlog/classify.js");
    else
      banned.push("/storage/open.js", "/replay/fetch.js", "/replay/replay-filter.js", "/pipeline/spool.js");
    for (const b of banned) {
      t.notOk(
        [...files].some((f) => f.includes(b)),
        `no ${b} module on the static path`,
      );
    }
  });
}
