import t from "tap";
import { openBackend } from "../../src/storage/open.js";
import { ObjectNotFoundError, PreconditionFailedError, StorageError } from "../../src/storage/errors.js";
import { PitrError } from "../../src/errors/base.js";
import {
  exists,
  headIfExists,
  isNotFound,
  isPreconditionFailed,
  jsonDocument,
  mapLimit,
  putDocumentIfAbsent,
  readJson,
} from "../../src/storage/front.js";

const mem = () => openBackend(`mem://front-${process.pid}-${Math.random()}`);
const conflict = (detail: string) => new PitrError("E_ARCHIVE_CONFLICT", detail);

t.test("the predicates: not found and precondition failed, by class or by code", async (t) => {
  t.ok(isNotFound(new ObjectNotFoundError("mem://x", "k")));
  t.ok(isNotFound(new PitrError("E_NOT_FOUND", "from another module copy")));
  t.notOk(isNotFound(new StorageError("mem://x", "bad request")));
  t.ok(isPreconditionFailed(new PreconditionFailedError("mem://x", "k")));
  t.notOk(isPreconditionFailed(new ObjectNotFoundError("mem://x", "k")));
});

t.test("exists, headIfExists and readJson on a real (memory) backend", async (t) => {
  const b = await mem();
  t.equal(await exists(b, "a/b.json"), false);
  t.equal(await headIfExists(b, "a/b.json"), undefined);
  await b.put("a/b.json", jsonDocument({ x: 1 }));
  t.equal(await exists(b, "a/b.json"), true);
  t.equal((await headIfExists(b, "a/b.json"))?.size, Buffer.byteLength('{\n  "x": 1\n}\n'));
  t.same(await readJson(b, "a/b.json", conflict), { x: 1 });
  await b.put("a/bad.json", new Uint8Array(Buffer.from("{not json")));
  await t.rejects(
    readJson(b, "a/bad.json", (d) => new PitrError("E_STORAGE", `a/bad.json: ${d}`)),
    /a\/bad\.json: not JSON/,
  );
  await t.rejects(
    readJson(b, "a/none.json", conflict),
    ObjectNotFoundError,
    "a missing key stays a not-found",
  );
});

t.test("putDocumentIfAbsent: stored and verified, the same object again, or a conflict", async (t) => {
  const b = await mem();
  const doc = jsonDocument({ sstable: "nb-1", uploaded_at: "one" });
  // The kind's rule here: the same sstable, whatever the upload time.
  const sameSstable = (sstable: string) => (stored: Buffer) =>
    (JSON.parse(stored.toString()) as { sstable: string }).sstable === sstable;
  t.equal(await putDocumentIfAbsent(b, "r.json", doc, { same: sameSstable("nb-1"), conflict }), "stored");
  const again = jsonDocument({ sstable: "nb-1", uploaded_at: "two" });
  t.equal(
    await putDocumentIfAbsent(b, "r.json", again, { same: sameSstable("nb-1"), conflict }),
    "existed",
    "same by the kind's rule",
  );
  await t.rejects(
    putDocumentIfAbsent(b, "r.json", jsonDocument({ sstable: "nb-2" }), {
      same: sameSstable("nb-2"),
      conflict,
    }),
    { code: "E_ARCHIVE_CONFLICT" },
    "other content",
  );
  await t.rejects(
    putDocumentIfAbsent(b, "r.json", doc, { conflict }),
    { code: "E_ARCHIVE_CONFLICT" },
    "no rule: a taken key is a conflict even with the same bytes",
  );
  t.same(
    await readJson(b, "r.json", conflict),
    { sstable: "nb-1", uploaded_at: "one" },
    "nothing was overwritten",
  );
});

t.test("putDocumentIfAbsent refuses a store that does not read back what was put", async (t) => {
  const b = await mem();
  const lossy = Object.create(b) as typeof b;
  lossy.put = (key, _body, options) => b.put(key, new Uint8Array(Buffer.from("{}")), options);
  await t.rejects(
    putDocumentIfAbsent(lossy, "r.json", jsonDocument({ a: 1 }), { conflict }),
    /reads back as 2 other bytes/,
  );
});

t.test(
  "mapLimit: at most `limit` in flight, results in order, a failure waits for the running calls",
  async (t) => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10 + i;
    });
    t.same(results, [50, 11, 42, 23, 34]);
    t.equal(peak, 2);

    const started: number[] = [];
    let settled = 0;
    await t.rejects(
      mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        if (n === 1) throw new Error("first fails");
        await new Promise((r) => setTimeout(r, 20));
        settled++;
      }),
      /first fails/,
    );
    t.equal(settled, 1, "the call running beside the failure settled before the rejection");
    t.same(started, [1, 2], "no call started after the failure");
    t.same(await mapLimit([], 4, async () => 1), []);
  },
);
