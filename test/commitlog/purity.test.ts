import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "../helpers/cassandra.js";

t.test("src/commitlog imports no I/O module", async (t) => {
  const dir = join(REPO, "src/commitlog");
  // Recursive: src/commitlog/mutations (the replay filter) must stay pure too.
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".ts"));
  t.ok(files.includes(join("mutations", "filter.ts")), "sub-folders are checked");
  t.ok(files.length > 0);
  for (const f of files) {
    const src = await readFile(join(dir, f), "utf8");
    const imports = [...src.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    for (const spec of imports) {
      t.notMatch(
        spec,
        /^(node:)?(fs|fs\/promises|path|child_process|net|http|https|os|stream)$/,
        `${f} imports ${spec}`,
      );
    }
  }
});
