/**
 * docs/architecture.md's layer table, checked against every import under src/ (static, dynamic
 * and re-exports): no file imports a higher layer or another folder of its own layer, no CLI
 * command imports another command, src/ never imports tooling (bench/, scripts/) or tests, and
 * every folder under src/ has a layer. The table is read from the document, so the document
 * cannot drift from the code.
 */
import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { REPO } from "../helpers/cassandra.js";

interface Layers {
  /** `folder/` or `folder/file.ts` → layer. */
  readonly byEntry: ReadonlyMap<string, number>;
}

/** Rows `| <n> | \`a/\`, \`b/c.ts\` | ... |` of the "Layers" table. */
export function parseLayers(markdown: string): Layers {
  const byEntry = new Map<string, number>();
  for (const m of markdown.matchAll(/^\|\s*(\d+)\s*\|([^|]+)\|/gm)) {
    for (const e of m[2]!.matchAll(/`([^`]+)`/g)) byEntry.set(e[1]!, Number(m[1]));
  }
  return { byEntry };
}

/** The layer entry a src-relative path belongs to: its file row if any, else its folder's. */
function entryOf(layers: Layers, path: string): string | undefined {
  if (layers.byEntry.has(path)) return path;
  const folder = `${path.split("/")[0]}/`;
  return layers.byEntry.has(folder) ? folder : undefined;
}

const IMPORT =
  /(?:^|\s)(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;

export function importsOf(source: string): string[] {
  return [...source.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3]!).filter((s) => s.startsWith("."));
}

const isCommand = (p: string) => p.startsWith("cli/commands/");

/** Every violation of the layer rules in `files` (src-relative path → its relative import specifiers). */
export function violations(layers: Layers, files: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [from, specs] of files) {
    const fromEntry = entryOf(layers, from);
    if (fromEntry === undefined) {
      out.push(`${from}: its folder has no layer in docs/architecture.md (add a row to the table)`);
      continue;
    }
    const fromLayer = layers.byEntry.get(fromEntry)!;
    for (const spec of specs) {
      const to = relative("src", join("src", dirname(from), spec)).replace(/\.js$/, ".ts");
      if (to.startsWith("..")) {
        out.push(`${from} imports ${spec}: outside src/ (tooling and tests are never product code)`);
        continue;
      }
      if (isCommand(from) && isCommand(to) && to !== from) {
        out.push(
          `${from} imports ${to}: a CLI command imports another command (move the shared code down a layer)`,
        );
        continue;
      }
      const toEntry = entryOf(layers, to);
      if (toEntry === undefined || toEntry === fromEntry) continue; // unknown target: reported as its own file
      const toLayer = layers.byEntry.get(toEntry)!;
      const sameFolder = to.split("/")[0] === from.split("/")[0];
      if (toLayer > fromLayer)
        out.push(
          `${from} (layer ${fromLayer}) imports ${to} (layer ${toLayer}): a lower layer imports a higher one`,
        );
      else if (toLayer === fromLayer && !sameFolder)
        out.push(
          `${from} imports ${to}: both are in layer ${fromLayer}; a layer's folders do not import each other`,
        );
    }
  }
  return out;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Files allowed to turn outcomes into exit statuses (docs/architecture.md, "Exit codes"). */
const decidesExitStatus = (p: string) => p.startsWith("bin/") || p === "cli/main.ts";

/** Files outside bin/ and cli/main.ts that read exit statuses (a value import of EXIT or exitStatusFor). */
export function exitStatusReaders(sources: ReadonlyMap<string, string>): string[] {
  const reads = /^import\s+\{([^}]*)\}\s+from\s+["'][./]*errors\/codes\.js["']/gm;
  const out: string[] = [];
  for (const [path, source] of sources) {
    if (decidesExitStatus(path) || path.startsWith("errors/")) continue;
    for (const m of source.matchAll(reads)) {
      const names = m[1]!
        .split(",")
        .map((n) => n.trim())
        .filter((n) => n !== "" && !n.startsWith("type "));
      if (names.some((n) => /^(EXIT|exitStatusFor|ERROR_CODES)\b/.test(n)))
        out.push(
          `${path}: reads exit statuses (only bin/ and cli/main.ts decide them; return an outcome or throw a PitrError)`,
        );
    }
  }
  return out;
}

const doc = () => readFile(join(REPO, "docs/architecture.md"), "utf8");

t.test("src/ follows the layers of docs/architecture.md", async (t) => {
  const layers = parseLayers(await doc());
  t.ok(layers.byEntry.size >= 10, "the document's layer table was read");
  const files = new Map<string, string[]>();
  const sources = new Map<string, string>();
  for (const f of await sourceFiles(join(REPO, "src"))) {
    const source = await readFile(f, "utf8");
    sources.set(relative(join(REPO, "src"), f), source);
    files.set(relative(join(REPO, "src"), f), importsOf(source));
  }
  t.ok(files.size > 50, `${files.size} source files read`);
  t.same(violations(layers, files), [], "no import breaks the layer rules");
  t.same(exitStatusReaders(sources), [], "exit statuses are decided only in bin/ and cli/main.ts");
  const folders = (await readdir(join(REPO, "src"), { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => `${e.name}/`);
  t.same(
    folders.filter((f) => !layers.byEntry.has(f)),
    [],
    "every folder under src/ has a row in the table",
  );
  for (const entry of layers.byEntry.keys()) {
    const known = entry.endsWith("/") ? folders.includes(entry) : files.has(entry);
    t.ok(known, `the table's entry ${entry} exists under src/`);
  }
});

t.test("the checker reports each kind of violation", async (t) => {
  const layers = parseLayers(await doc());
  const report = violations(
    layers,
    new Map([
      ["storage/x.ts", ["../catalog/read.js"]],
      ["cli/commands/a.ts", ["./plan.js"]],
      ["report/y.ts", ["../restore/planner.js"]],
      ["format/layout.ts", ["../pipeline/push.js"]],
      ["pipeline/push.ts", ["../format/layout.js", "../storage/types.js"]],
      ["restore/z.ts", ["../../bench/synthetic.js"]],
      ["newfolder/q.ts", []],
      ["catalog/m.ts", ["./model.js", "../format/layout.js"]],
      ["format/segment-record.ts", ["./layout.js"]],
    ]),
  );
  t.match(
    report.find((v) => v.startsWith("storage/x.ts")),
    /lower layer imports a higher one/,
    "a lower layer importing a higher one",
  );
  t.match(
    report.find((v) => v.startsWith("cli/commands/a.ts")),
    /a CLI command imports another command/,
    "a command importing a command",
  );
  t.match(
    report.find((v) => v.startsWith("report/y.ts")),
    /both are in layer 6/,
    "a sideways import within a layer",
  );
  t.match(
    report.find((v) => v.startsWith("format/layout.ts")),
    /lower layer imports a higher one/,
    "the format importing the segment pipeline",
  );
  t.match(
    report.find((v) => v.startsWith("restore/z.ts")),
    /outside src/,
    "product code importing tooling",
  );
  t.match(
    report.find((v) => v.startsWith("newfolder/")),
    /no layer/,
    "a folder missing from the table",
  );
  t.notOk(
    report.some(
      (v) =>
        v.startsWith("pipeline/push.ts") ||
        v.startsWith("catalog/m.ts") ||
        v.startsWith("format/segment-record.ts"),
    ),
    "downward and same-folder imports are fine",
  );
  t.same(
    importsOf(
      'import a from "./a.js";\nexport { b } from "../b/b.js";\nconst c = await import("../c/c.js");\nimport "./side.js";',
    ),
    ["./a.js", "../b/b.js", "../c/c.js", "./side.js"],
    "static, re-export, dynamic and bare imports are all seen",
  );
});

t.test("the exit-status rule sees a command that decides its own status", async (t) => {
  const sources = new Map([
    ["cli/commands/list.ts", 'import { EXIT } from "../../errors/codes.js";\n'],
    [
      "restore/x.ts",
      'import { type ErrorCode } from "../errors/codes.js";\nimport type { ExitStatus } from "../errors/codes.js";\n',
    ],
    ["cli/main.ts", 'import { EXIT, exitStatusFor } from "../errors/codes.js";\n'],
    ["bin/exit-status.ts", 'import { EXIT } from "../errors/codes.js";\n'],
  ]);
  const report = exitStatusReaders(sources);
  t.equal(report.length, 1, "one file reported");
  t.match(report[0], /^cli\/commands\/list\.ts: reads exit statuses/, "the command that imports EXIT");
});
