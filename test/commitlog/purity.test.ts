import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "../helpers/cassandra.js";

t.test("src/commitlog imports no I/O module", async (t) => {
  const dir = join(REPO, "src/commitlog");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".ts"));
  t.ok(files.length > 0);
  for (const f of files) {
    const src = await readFile(join(dir, f), "utf8");
    const imports = [...src.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    for (const spec of imports) {
      t.notMatch(spec, /^(node:)?(fs|fs\/promises|path|child_process|net|http|https|os|stream)$/, `${f} imports ${spec}`);
    }
  }
});
