import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import {
  groupSstableFiles,
  missingComponents,
  parseSstableBase,
  parseSstableFileName,
  readToc,
  sstableIdTime,
} from "../../src/sstable/name.js";

t.test("sequential id", async (t) => {
  t.same(parseSstableFileName("nb-12-big-Data.db"), {
    version: "nb",
    id: "12",
    idKind: "sequential",
    format: "big",
    base: "nb-12-big",
    component: "Data.db",
    file: "nb-12-big-Data.db",
  });
  t.equal(parseSstableFileName("nb-1-big-TOC.txt")?.component, "TOC.txt");
  t.equal(parseSstableFileName("nb-1-big-Digest.crc32")?.component, "Digest.crc32");
  t.equal(parseSstableFileName("da-3-bti-Partitions.db")?.format, "bti");
  for (const bad of ["manifest.json", "schema.cql", "nb-big-Data.db", "NB-1-big-Data.db", "nb-1-big-"]) {
    t.equal(parseSstableFileName(bad), undefined, bad);
  }
});

t.test("UUID id (base-36 TimeUUID) and its creation time", async (t) => {
  const name = parseSstableFileName("nb-3fw2_0tsr_1bm3k2hmb9wbp4qnt9-big-Data.db");
  t.equal(name?.idKind, "uuid");
  t.equal(name?.id, "3fw2_0tsr_1bm3k2hmb9wbp4qnt9");
  t.equal(name?.base, "nb-3fw2_0tsr_1bm3k2hmb9wbp4qnt9-big");
  // days 0x3fw2 (base 36) after 1582-10-15, seconds 0tsr in the day, 100-ns part 1bm3k
  const days = parseInt("3fw2", 36);
  const secs = parseInt("0tsr", 36);
  const expected =
    Date.UTC(1582, 9, 15) + days * 86_400_000 + secs * 1000 + Math.floor(parseInt("1bm3k", 36) / 10_000);
  t.equal(sstableIdTime("3fw2_0tsr_1bm3k2hmb9wbp4qnt9"), expected);
  t.equal(new Date(expected).toISOString(), "2022-05-23T10:43:39.222Z", "Cassandra 4.1 development time");
  t.equal(sstableIdTime("12"), undefined);
  t.same(parseSstableBase("oa-3fw2_0tsr_1bm3k2hmb9wbp4qnt9-big")?.version, "oa");
});

t.test("grouping a listing and TOC completeness", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "sstable-name-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const listing = [
    "nb-2-big-Data.db",
    "nb-10-big-Data.db",
    "nb-2-big-TOC.txt",
    "nb-2-big-Statistics.db",
    "manifest.json",
    "nb-10-big-TOC.txt",
  ];
  const { sstables, other } = groupSstableFiles(listing);
  t.same(
    sstables.map((s) => s.base),
    ["nb-2-big", "nb-10-big"],
    "numeric order",
  );
  t.same(other, ["manifest.json"]);
  await writeFile(join(dir, "nb-2-big-TOC.txt"), "Data.db\nStatistics.db\nTOC.txt\n");
  await writeFile(join(dir, "nb-10-big-TOC.txt"), "Data.db\r\nIndex.db\r\nTOC.txt\r\n");
  t.same(missingComponents(sstables[0]!, await readToc(dir, "nb-2-big")), []);
  t.same(missingComponents(sstables[1]!, await readToc(dir, "nb-10-big")), ["Index.db"]);
  t.same(missingComponents(groupSstableFiles(["nb-3-big-Data.db"]).sstables[0]!, undefined), ["TOC.txt"]);
});
