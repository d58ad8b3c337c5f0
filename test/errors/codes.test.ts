import t from "tap";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ERROR_CODES, EXIT, exitStatusFor } from "../../src/errors/codes.js";
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
  for (const [code, status] of Object.entries(ERROR_CODES)) t.ok(statuses.includes(status), `${code} → ${status}`);
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
