import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ERROR_CODES, EXIT, EXIT_MEANING, exitStatusFor, exitStatusHelp } from "../../src/errors/codes.js";
import { SETTINGS, envName, flagName } from "../../src/config/schema.js";
import { REPO } from "../helpers/cassandra.js";

function tableStatuses(markdown: string): number[] {
  return markdown
    .split("\n")
    .map((l) => /^\| (\d+) \|/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

const statuses = [...new Set(Object.values(EXIT))].sort((a, b) => a - b);

t.test("README and docs/exit-codes.md list exactly the exit statuses of src/errors/codes.ts", async (t) => {
  t.same(tableStatuses(await readFile(join(REPO, "README.md"), "utf8")), statuses, "README table");
  const doc = await readFile(join(REPO, "docs/exit-codes.md"), "utf8");
  t.same(tableStatuses(doc), statuses, "docs/exit-codes.md table");
  for (const code of Object.keys(ERROR_CODES)) t.match(doc, code, `docs/exit-codes.md names ${code}`);
});

t.test("every error code maps to a documented status; unknown codes are internal errors", async (t) => {
  for (const [code, status] of Object.entries(ERROR_CODES))
    t.ok(statuses.includes(status), `${code} → ${status}`);
  t.equal(exitStatusFor("E_NO_SUCH_CODE"), EXIT.INTERNAL);
});

t.test("docs/configuration.md documents every setting in its three forms", async (t) => {
  const doc = await readFile(join(REPO, "docs/configuration.md"), "utf8");
  for (const s of SETTINGS) {
    t.match(doc, `\`${s.key}\``, `${s.key}: config key`);
    t.match(doc, `--${flagName(s.key)}`, `${s.key}: flag`);
    t.match(doc, envName(s.key), `${s.key}: environment variable`);
  }
});

/** Every .ts file under src/ but the table itself, concatenated. */
async function sourceOutsideTable(): Promise<string> {
  const files = (await readdir(join(REPO, "src"), { recursive: true })).filter(
    (f) => f.endsWith(".ts") && f !== join("errors", "codes.ts"),
  );
  return (await Promise.all(files.map((f) => readFile(join(REPO, "src", f), "utf8")))).join("\n");
}

t.test("every error code and every exit status of the table is raised somewhere in src/", async (t) => {
  const src = await sourceOutsideTable();
  for (const code of Object.keys(ERROR_CODES)) t.match(src, `"${code}"`, `${code} is raised`);
  const raisedCodes = Object.keys(ERROR_CODES).filter((code) => src.includes(`"${code}"`));
  for (const [name, status] of Object.entries(EXIT)) {
    const byCode = raisedCodes.some((code) => (ERROR_CODES as Record<string, number>)[code] === status);
    t.ok(
      byCode || src.includes(`EXIT.${name}`),
      `${status} (${name}) is raised by a code or returned as EXIT.${name}`,
    );
  }
});

t.test("the exit line of the help is generated from the table: every status, with its meaning", async (t) => {
  const help = exitStatusHelp();
  for (const status of statuses) t.match(help, `${status} ${EXIT_MEANING[status]}`, `help names ${status}`);
  const listed = [...help.matchAll(/(?:: |; )(\d+) /g)].map((m) => Number(m[1]));
  t.same(listed, statuses, "exactly the statuses of EXIT, in order");
});

t.test("cassandra-pitr --help prints that generated exit line", async (t) => {
  const { main } = await import("../../src/cli/main.js");
  let printed = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => (
    (printed += String(chunk)),
    true
  )) as typeof process.stdout.write;
  let status: number;
  try {
    status = await main(["--help"]);
  } finally {
    process.stdout.write = write;
  }
  t.equal(status, EXIT.OK);
  const words = (s: string) => s.replace(/\s+/g, " ").trim();
  t.match(words(printed), words(exitStatusHelp()), "the help's epilog is the table's exit line");
});
