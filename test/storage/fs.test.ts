import { chmod, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { AccessDeniedError, ArchiveMissingError } from "../../src/storage/errors.js";
import { openBackend } from "../../src/storage/open.js";
import { collect, expectError, readAll, runBackendConformance } from "./conformance.js";

let dir = "";
runBackendConformance({
  name: "fs",
  create: async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "pitr-fs-"));
    return {
      backend: await openBackend(pathToFileURL(dir).href),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  additionalTests: (t, b) => {
    t.test("fs: temp files and sidecars never show in listings or remain after put", async (t) => {
      await b().put("side/obj", Buffer.from("x"), { metadata: { a: "b" } });
      t.same((await readdir(path.join(dir, "side"))).sort(), [".obj.meta", "obj"]);
      t.same(
        (await collect(b().list("side/"))).map((i) => i.key),
        ["side/obj"],
      );
      await writeFile(path.join(dir, "side", "by-hand"), "y");
      t.same((await b().head("side/by-hand")).metadata, {}, "an object placed by hand has empty metadata");
    });
    t.test("fs: missing root → ArchiveMissingError, and the root is not created", async (t) => {
      const missing = path.join(dir, "no", "such", "root");
      const other = await openBackend(pathToFileURL(missing).href, { retry: false });
      await expectError(t, other.put("a/b", Buffer.from("x")), ArchiveMissingError, "put");
      await expectError(t, other.get("a/b"), ArchiveMissingError, "get");
      await expectError(t, other.head("a/b"), ArchiveMissingError, "head");
      await expectError(t, collect(other.list("")), ArchiveMissingError, "list");
      await expectError(t, readdir(missing), Error, "root still absent");
    });
    // As root, permission bits do not apply, so this case can only run for other users (CI runs as root).
    if (process.getuid?.() !== 0)
      t.test("fs: unwritable directory → AccessDeniedError", async (t) => {
        await b().put("ro/x", Buffer.from("x"));
        await chmod(path.join(dir, "ro"), 0o500);
        try {
          await expectError(t, b().put("ro/y", Buffer.from("y")), AccessDeniedError, "put");
        } finally {
          await chmod(path.join(dir, "ro"), 0o700);
        }
        t.equal((await readAll(await b().get("ro/x"))).toString(), "x");
      });
  },
});
