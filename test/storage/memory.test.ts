import { DryRunBackend } from "../../src/storage/decorators/dry-run.js";
import { ObjectNotFoundError } from "../../src/storage/errors.js";
import { openBackend } from "../../src/storage/open.js";
import { collect, expectError, readAll, runBackendConformance } from "./conformance.js";

runBackendConformance({
  name: "memory",
  create: async () => ({ backend: await openBackend(`mem://conformance-${process.pid}`) }),
  additionalTests: (t) => {
    t.test("dry run: reads pass through, writes and deletes are recorded and dropped", async (t) => {
      const real = await openBackend(`mem://dry-${process.pid}`);
      await real.put("kept", Buffer.from("real"));
      const dry = await openBackend(`mem://dry-${process.pid}`, { dryRun: true });
      t.equal((await readAll(await dry.get("kept"))).toString(), "real", "read passes through");
      await dry.put("new", Buffer.from("x"), { ifAbsent: true, metadata: { a: "b" } });
      await dry.delete("kept");
      await expectError(t, real.head("new"), ObjectNotFoundError, "put dropped");
      t.same(
        (await collect(real.list(""))).map((i) => i.key),
        ["kept"],
        "delete dropped",
      );
      const direct = new DryRunBackend(real);
      await direct.put("y", Buffer.from("y"));
      await direct.delete("kept");
      t.same(direct.records, [
        { op: "put", key: "y" },
        { op: "delete", key: "kept" },
      ]);
    });
  },
});
