/**
 * The one check of a segment's bytes against its record (replay/target.ts checkSegmentBytes), on a
 * real segment of fixtures/commitlog: the record's size and sha256 pass; one byte changed, one byte
 * missing, or a name whose id disagrees with the header each refuse with E_CHECKSUM_MISMATCH; and
 * the streaming writer (writeSegmentAtomically), the in-memory reader (readVerifiedSegment) and the
 * fetch phase's worker check (verifySegment) refuse the same damage with the same message.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import t from "tap";
import { compress } from "zstd-napi";
import { checkSegmentBytes } from "../../src/replay/target.js";
import { readVerifiedSegment, writeSegmentAtomically } from "../../src/replay/fetch.js";
import { verifySegment } from "../../src/restore/segment-work.js";
import { openBackend } from "../../src/storage/open.js";

const DIR = "fixtures/commitlog/5.0.9/v8";

async function fixture(): Promise<{ name: string; bytes: Buffer; sha256: string }> {
  const name = (await readdir(DIR)).filter((f) => /^CommitLog-\d+-\d+\.log$/.test(f)).sort()[0]!;
  const bytes = await readFile(join(DIR, name));
  return { name, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** The same segment's name with another id: the header no longer agrees with it. */
const otherId = (name: string) => name.replace(/-(\d+)\.log$/, (_m, id: string) => `-${BigInt(id) + 1n}.log`);

t.test("checkSegmentBytes: the record passes, any disagreement refuses", async (t) => {
  const { name, bytes, sha256 } = await fixture();
  const record = { size: bytes.length, sha256 };
  t.equal(checkSegmentBytes(bytes, record, name, "seg"), bytes, "the recorded bytes pass and come back");
  t.equal(checkSegmentBytes(bytes, {}, name, "seg"), bytes, "nothing recorded: only the header is checked");
  const flipped = Buffer.from(bytes);
  flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 0xff, flipped.length - 1);
  t.throws(
    () => checkSegmentBytes(flipped, record, name, "seg"),
    { code: "E_CHECKSUM_MISMATCH", message: /^seg: sha256 [0-9a-f]{16}…, expected / },
    "one byte changed",
  );
  t.throws(
    () => checkSegmentBytes(bytes.subarray(0, -1), record, name, "seg"),
    { code: "E_CHECKSUM_MISMATCH", message: `seg: ${bytes.length - 1} bytes, expected ${bytes.length}` },
    "one byte missing: the size speaks first",
  );
  t.throws(
    () => checkSegmentBytes(bytes, record, otherId(name), "seg"),
    { code: "E_CHECKSUM_MISMATCH", message: /header says version \d+ id \d+/ },
    "a name the header disagrees with",
  );
  t.equal(
    checkSegmentBytes(bytes, record, "scratch.bin", "seg"),
    bytes,
    "a name that is no commit log name: no header to compare",
  );
});

t.test("the streaming writer, the in-memory reader and the worker's check agree", async (t) => {
  const { name, bytes, sha256 } = await fixture();
  const dir = await mkdtemp(join(tmpdir(), "pitr-segment-check-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, "archive"));
  const backend = await openBackend(`file://${dir}/archive`);
  t.teardown(() => backend.close());
  const zst = compress(bytes);
  await backend.put("seg.zst", Readable.from([zst]), {});
  const wrong = { size: bytes.length, sha256: "0".repeat(64) };
  const message = /^archived segment 'seg\.zst': sha256 [0-9a-f]{16}…, expected 0000000000000000…$/;

  const read = await readVerifiedSegment(backend, "seg.zst", name, { size: bytes.length, sha256 });
  t.ok(read.equals(bytes), "reader: the verified bytes");
  await t.rejects(
    readVerifiedSegment(backend, "seg.zst", name, wrong),
    { code: "E_CHECKSUM_MISMATCH", message },
    "reader: a wrong record refuses",
  );

  const target = join(dir, name);
  const written = await writeSegmentAtomically(Readable.from([zst]), target, {
    compressed: true,
    expected: { size: bytes.length, sha256 },
    what: "archived segment 'seg.zst'",
  });
  t.same(written, { size: bytes.length, sha256 }, "writer: the measured size and sha256");
  t.equal((await stat(target)).size, bytes.length, "writer: the segment is in place");
  const target2 = join(dir, otherId(name));
  await t.rejects(
    writeSegmentAtomically(Readable.from([zst]), target2, {
      compressed: true,
      expected: wrong,
      what: "archived segment 'seg.zst'",
    }),
    { code: "E_CHECKSUM_MISMATCH", message },
    "writer: a wrong record refuses",
  );
  await t.rejects(stat(target2), { code: "ENOENT" }, "writer: nothing left at the refused target");

  const job = { key: "seg.zst", name, compressed: zst };
  t.ok(
    verifySegment({ ...job, ...{ size: bytes.length, sha256 } }).equals(bytes),
    "worker: the verified bytes",
  );
  t.throws(
    () => verifySegment({ ...job, ...wrong }),
    { code: "E_CHECKSUM_MISMATCH", message },
    "worker: a wrong record refuses",
  );
});
