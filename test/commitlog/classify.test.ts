import t from "tap";
import { readFile } from "node:fs/promises";
import { classifySegment } from "../../src/commitlog/classify.js";
import { decompressLz4Section } from "../../src/commitlog/lz4.js";
import {
  decompressDeflateSection,
  decompressSnappySection,
  decompressZstdSection,
  sectionDecoder,
} from "../../src/commitlog/section-codecs.js";
import { serializeSegmentHeader } from "../../src/commitlog/segment-header.js";
import { syncMarkerChecksum } from "../../src/commitlog/sync-marker.js";
import { segmentFixtures } from "../helpers/fixtures.js";
import { compressedSegment, entry, garbage, lz4Literals, uncompressedSegment } from "./helpers.js";

async function fixture(kind: string, index = 0): Promise<{ name: string; bytes: Buffer }> {
  const f = (await segmentFixtures(kind))[index]!;
  return { name: f.name, bytes: await readFile(f.path) };
}

t.test("real fixtures: closed segments complete, the crashed one torn-tail", async (t) => {
  const expected: Record<string, [string, number, number][]> = {
    v7: [
      ["complete", 1048373, 1048373],
      ["complete", 1048494, 1048494],
    ],
    v8: [["complete", 1048388, 1048388]],
    lz4: [
      ["complete", 268586, 1048564],
      ["complete", 266631, 1048509],
    ],
    zstd: [["complete", 169400, 1048549]],
    deflate: [["complete", 180268, 1048553]],
    snappy: [["complete", 293723, 1048542]],
    torn: [["torn-tail", 133141, 133141]],
  };
  for (const [kind, rows] of Object.entries(expected)) {
    const fixtures = await segmentFixtures(kind);
    t.equal(fixtures.length, rows.length);
    for (const [i, f] of fixtures.entries()) {
      const r = classifySegment(f.name, await readFile(f.path));
      const [status, lastValidOffset, dataEnd] = rows[i]!;
      t.equal(r.status, status, f.name);
      t.equal(r.lastValidOffset, lastValidOffset, f.name);
      t.equal(r.dataEnd, dataEnd, f.name);
      t.equal(r.error, undefined, f.name);
      t.ok(r.sections > 0);
      t.ok(r.largestEntry >= 353);
    }
  }
});

t.test("corrupted copies of fixtures", async (t) => {
  const { name, bytes } = await fixture("v7");

  const header = Buffer.from(bytes);
  header[16]! ^= 0xff;
  let r = classifySegment(name, header);
  t.match(r, { status: "corrupt", header: undefined, error: { code: "E_SEGMENT_CHECKSUM", offset: 16 } });

  r = classifySegment(name, bytes.subarray(0, 10));
  t.match(r, { status: "corrupt", error: { code: "E_SEGMENT_TRUNCATED", offset: 10 } });
  r = classifySegment(undefined, new Uint8Array(0));
  t.match(r, { status: "corrupt", error: { code: "E_SEGMENT_TRUNCATED", offset: 0 } });
  t.match(r.error?.message, /^segment "<unnamed>": truncated/);

  r = classifySegment(name, bytes.subarray(0, 500000));
  t.match(r, { status: "torn-tail", error: { code: "E_SEGMENT_TRUNCATED", offset: 500000 } });
  t.ok(r.lastValidOffset < 500000);

  r = classifySegment("CommitLog-7-1795250286999.log", bytes);
  t.match(r, { status: "corrupt", error: { code: "E_SEGMENT_NAME", offset: 4 } });
  r = classifySegment(name.replace("-7-", "-8-"), bytes);
  t.match(r, { status: "corrupt", error: { code: "E_SEGMENT_NAME", offset: 0 } });
  r = classifySegment("CommitLog-1795250286318.log", bytes);
  t.match(r, { status: "corrupt", error: { code: "E_SEGMENT_NAME", offset: 0 } });

  const v5 = Buffer.from(bytes);
  Buffer.from(serializeSegmentHeader(5, 1795250286318n)).copy(v5, 0);
  r = classifySegment(name, v5);
  t.match(r, { status: "unsupported", error: { code: "E_SEGMENT_VERSION", offset: 0 } });

  const random = garbage(4096);
  t.notOk([6, 7, 8, 9].includes(new DataView(random.buffer).getInt32(0)));
  r = classifySegment(undefined, random);
  t.match(r, { status: "unsupported", error: { code: "E_SEGMENT_VERSION", offset: 0 } });
  const body = Buffer.concat([bytes.subarray(0, 20), garbage(4096)]);
  r = classifySegment(name, body);
  t.match(r, {
    status: "corrupt",
    sections: 0,
    lastValidOffset: 20,
    error: { code: "E_SEGMENT_CHECKSUM", offset: 20 },
  });

  const marker = Buffer.from(bytes);
  marker[379 + 5]! ^= 0x10; // CRC of the second sync marker
  r = classifySegment(name, marker);
  t.match(r, {
    status: "corrupt",
    sections: 1,
    lastValidOffset: 379,
    error: { code: "E_SEGMENT_CHECKSUM", offset: 379 },
  });
  t.match(
    r.error?.message,
    new RegExp(`^segment "${name}": sync marker checksum mismatch .* at offset 379$`),
  );

  const backwards = Buffer.from(bytes);
  backwards.writeInt32BE(100, 379);
  r = classifySegment(name, backwards);
  t.match(r, { status: "corrupt", error: { code: "E_SEGMENT_HEADER", offset: 379 } });

  const payload = Buffer.from(bytes);
  payload[28 + 8 + 5]! ^= 0x01; // inside the first entry of the first section
  r = classifySegment(name, payload);
  t.match(r, { status: "corrupt", sections: 0, error: { code: "E_SEGMENT_CHECKSUM", offset: 28 } });
  const sizeCrc = Buffer.from(bytes);
  sizeCrc[28 + 4]! ^= 0x01;
  t.match(classifySegment(name, sizeCrc), {
    status: "corrupt",
    error: { code: "E_SEGMENT_CHECKSUM", offset: 28 },
  });

  const { name: tornName, bytes: tornBytes } = await fixture("torn");
  const unsynced = Buffer.from(tornBytes);
  unsynced[133141 + 20] = 1;
  r = classifySegment(tornName, unsynced);
  t.match(r, { status: "torn-tail", reason: /after the last sync/ });
  t.match(classifySegment(tornName, tornBytes, { segmentSize: 2 * 1048576 }), { status: "torn-tail" });
  r = classifySegment(name, bytes, { segmentSize: 2 * 1048576 });
  t.match(r, { status: "torn-tail", error: { code: "E_SEGMENT_TRUNCATED", offset: 1048576 } });
});

t.test("compressed fixtures cut or damaged", async (t) => {
  const { name, bytes } = await fixture("lz4", 1);
  let r = classifySegment(name, bytes.subarray(0, 100000));
  t.match(r, {
    status: "torn-tail",
    sections: 1,
    lastValidOffset: 1957,
    dataEnd: 7151,
    error: { code: "E_SEGMENT_TRUNCATED", offset: 100000 },
  });

  const block = Buffer.from(bytes);
  block[83 + 12 + 4]! ^= 0xff; // first LZ4 token of the first section
  r = classifySegment(name, block);
  t.equal(r.status, "corrupt");
  t.equal(r.error?.offset, 83);

  const length = Buffer.from(bytes);
  length.writeInt32BE(-5, 83 + 8);
  t.match(classifySegment(name, length), {
    status: "corrupt",
    error: { code: "E_SEGMENT_HEADER", offset: 91 },
  });
});

t.test("zstd, deflate and snappy fixtures: every section decoded, damage found at its section", async (t) => {
  for (const kind of ["zstd", "deflate", "snappy"]) {
    const { name, bytes } = await fixture(kind);
    const ok = classifySegment(name, bytes);
    t.equal(ok.status, "complete", `${kind}: complete`);
    t.ok(ok.largestEntry >= 353, `${kind}: entries were measured (largest ${ok.largestEntry})`);
    const first = ok.header!.headerLength; // the first section's sync marker
    const next = bytes.readInt32BE(first);
    // A byte in the middle of the first section's compressed body: the decoder refuses it, or it
    // decodes to other bytes and an entry CRC fails. Either way the section is named.
    const damaged = Buffer.from(bytes);
    damaged[first + 12 + Math.floor((next - first - 12) / 2)]! ^= 0x5a;
    const r = classifySegment(name, damaged);
    t.equal(r.status, "corrupt", `${kind}: damaged body is corrupt`);
    t.equal(r.error?.offset, first, `${kind}: at the section's marker`);
    t.match(r.error?.code, /^E_SEGMENT_(HEADER|CHECKSUM)$/, `${kind}: ${r.error?.code}: ${r.error?.message}`);
    // A stated length that disagrees with the body.
    const wrongLength = Buffer.from(bytes);
    wrongLength.writeInt32BE(bytes.readInt32BE(first + 8) + 1, first + 8);
    t.match(
      classifySegment(name, wrongLength),
      {
        status: "corrupt",
        error: {
          code: "E_SEGMENT_HEADER",
          offset: first,
          message: /does not decompress to its stated length/,
        },
      },
      `${kind}: wrong stated length`,
    );
    // Cut inside the second section: the first still verifies.
    const cut = classifySegment(name, bytes.subarray(0, next + 20));
    t.match(cut, { status: "torn-tail", sections: 1, lastValidOffset: next }, `${kind}: cut`);
  }
});

t.test("section decoders refuse what is not their format", async (t) => {
  const plain = Buffer.from("a commit log section, a commit log section, a commit log section");
  const { deflateSync } = await import("node:zlib");
  const { compress } = await import("zstd-napi");
  t.same(decompressDeflateSection(deflateSync(plain), plain.length), plain, "deflate round trip");
  t.equal(
    decompressDeflateSection(deflateSync(plain), plain.length - 1),
    undefined,
    "deflate: longer than stated",
  );
  t.equal(decompressDeflateSection(plain, plain.length), undefined, "deflate: not a zlib stream");
  t.same(decompressZstdSection(compress(plain), plain.length), plain, "zstd round trip");
  t.equal(decompressZstdSection(compress(plain), plain.length + 1), undefined, "zstd: shorter than stated");
  t.equal(
    decompressZstdSection(compress(plain).subarray(0, 10), plain.length),
    undefined,
    "zstd: torn frame",
  );
  // Snappy: varint length 12, literal "abc" (tag (3-1)<<2), copy of 9 at offset 3 (2-byte offset form).
  const snappy = Uint8Array.of(12, 2 << 2, 97, 98, 99, ((9 - 1) << 2) | 2, 3, 0);
  t.equal(
    Buffer.from(decompressSnappySection(snappy, 12)!).toString(),
    "abcabcabcabc",
    "snappy: literal + overlapping copy",
  );
  t.equal(decompressSnappySection(snappy, 11), undefined, "snappy: stated length differs");
  t.equal(
    decompressSnappySection(Uint8Array.of(12, 2 << 2, 97, 98, 99, ((9 - 1) << 2) | 2, 4, 0), 12),
    undefined,
    "snappy: offset before the start",
  );
  t.equal(
    decompressSnappySection(Uint8Array.of(12, 2 << 2, 97, 98), 12),
    undefined,
    "snappy: literal runs past the input",
  );
  t.equal(
    decompressSnappySection(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 0),
    undefined,
    "snappy: varint too long",
  );
  t.same(decompressSnappySection(Uint8Array.of(0), 0), new Uint8Array(0), "snappy: empty");
  t.equal(
    sectionDecoder("org.apache.cassandra.io.compress.SnappyCompressor"),
    decompressSnappySection,
    "qualified class name",
  );
  t.equal(sectionDecoder("com.example.MyCompressor"), undefined, "a custom compressor has no decoder");
});

t.test("synthetic segments", async (t) => {
  const id = 42n;
  const name = "CommitLog-7-42.log";
  const e = entry(new Uint8Array(40).fill(7));

  t.match(classifySegment(name, uncompressedSegment(id, [e, new Uint8Array(0)])), {
    status: "complete",
    sections: 2,
    reason: /empty section/,
  });
  t.match(classifySegment(name, uncompressedSegment(id, [])), {
    status: "torn-tail",
    sections: 0,
    lastValidOffset: 20,
  });
  t.match(classifySegment(name, uncompressedSegment(id, [e])), {
    status: "torn-tail",
    sections: 1,
    dataEnd: 20 + 8 + 52,
  });
  // the section runs to the end of the file: no room for a marker, the segment is full
  t.match(classifySegment(name, uncompressedSegment(id, [e], 20 + 8 + 52 + 4)), {
    status: "complete",
    lastValidOffset: 80,
  });
  // zero-padded tail inside a section, as readSection's end-of-segment marker
  t.match(classifySegment(name, uncompressedSegment(id, [new Uint8Array([...e, 0, 0, 0, 0])])), {
    sections: 1,
  });

  const small = new Uint8Array(12 + 5);
  new DataView(small.buffer).setInt32(0, 5);
  t.match(classifySegment(name, uncompressedSegment(id, [small])), {
    status: "corrupt",
    error: { code: "E_SEGMENT_HEADER", offset: 28 },
  });
  t.match(classifySegment(name, uncompressedSegment(id, [e.subarray(0, 30)])), {
    status: "corrupt",
    error: { code: "E_SEGMENT_HEADER", offset: 28 },
  });

  const tiny = uncompressedSegment(id, [], 64);
  new DataView(tiny.buffer).setInt32(20, 24);
  new DataView(tiny.buffer).setUint32(24, syncMarkerChecksum(id, 20));
  t.match(classifySegment(name, tiny), {
    status: "corrupt",
    error: { code: "E_SEGMENT_HEADER", offset: 20 },
  });

  const plain = new Uint8Array(e);
  const lz4 = compressedSegment(id, "LZ4Compressor", [
    { length: plain.length, body: lz4Literals(plain) },
    { length: 0, body: lz4Literals(new Uint8Array(0)) },
  ]);
  const lzName = "CommitLog-7-42.log";
  let r = classifySegment(lzName, lz4);
  t.match(r, { status: "complete", sections: 2, largestEntry: 52, reason: /empty section/ });
  r = classifySegment(
    lzName,
    compressedSegment(id, "org.apache.cassandra.io.compress.LZ4Compressor", [
      { length: plain.length, body: lz4Literals(plain) },
    ]),
  );
  t.match(r, { status: "torn-tail", sections: 1 });
  t.match(
    classifySegment(
      lzName,
      compressedSegment(id, "LZ4Compressor", [{ length: 99, body: lz4Literals(plain) }]),
    ),
    { status: "corrupt", error: { code: "E_SEGMENT_HEADER" } },
  );
  const badEntry = new Uint8Array(e);
  badEntry[20]! ^= 1;
  r = classifySegment(
    lzName,
    compressedSegment(id, "LZ4Compressor", [{ length: badEntry.length, body: lz4Literals(badEntry) }]),
  );
  t.match(r, { status: "corrupt", error: { code: "E_SEGMENT_CHECKSUM", offset: r.header!.headerLength } });
  // A compressor Cassandra does not ship has no decoder: sections are framed but entries unmeasured.
  const custom = "com.example.CustomCompressor";
  t.match(classifySegment(lzName, compressedSegment(id, custom, [{ length: 500, body: garbage(30) }])), {
    status: "torn-tail",
    largestEntry: 0,
  });
  const customHeader = serializeSegmentHeader(
    7,
    id,
    JSON.stringify({ compressionClass: custom, compressionParameters: null }),
  ).length;
  r = classifySegment(
    lzName,
    compressedSegment(id, custom, [{ length: 1048576 - customHeader - 8 - 4, body: garbage(30) }]),
  );
  t.match(r, { status: "complete", dataEnd: 1048572 });
  // Snappy has one: garbage is corrupt, at its section.
  t.match(
    classifySegment(lzName, compressedSegment(id, "SnappyCompressor", [{ length: 500, body: garbage(30) }])),
    {
      status: "corrupt",
      error: { code: "E_SEGMENT_HEADER", message: /SnappyCompressor section does not decompress/ },
    },
  );
  const noLength = compressedSegment(id, "SnappyCompressor", []);
  const withMarker = new Uint8Array(noLength.length + 8);
  withMarker.set(noLength);
  const dv = new DataView(withMarker.buffer);
  dv.setInt32(noLength.length, noLength.length + 8);
  dv.setUint32(noLength.length + 4, syncMarkerChecksum(id, noLength.length));
  t.match(classifySegment(lzName, withMarker), {
    status: "corrupt",
    error: { code: "E_SEGMENT_HEADER", offset: noLength.length },
  });
});

t.test("lz4 decoder rejects malformed blocks", async (t) => {
  const data = new TextEncoder().encode("abcabcabcabcabcabcabcabcabc-literal-tail-that-is-long");
  t.same(decompressLz4Section(lz4Literals(data)), data);
  // "abc" then a match of distance 3, length 12, then literals "xyz"
  const withMatch = Uint8Array.of(18, 0, 0, 0, 0x38, 97, 98, 99, 3, 0, 0x30, 120, 121, 122);
  t.equal(new TextDecoder().decode(decompressLz4Section(withMatch)), "abcabcabcabcabcxyz");
  t.same(decompressLz4Section(Uint8Array.of(40, 0, 0, 0, 0x1f, 97, 1, 0, 20)), new Uint8Array(40).fill(97));
  for (const bad of [
    Uint8Array.of(1, 0),
    Uint8Array.of(255, 255, 255, 255, 0),
    Uint8Array.of(5, 0, 0, 0, 0xf0),
    Uint8Array.of(5, 0, 0, 0, 0x50, 1, 2),
    Uint8Array.of(5, 0, 0, 0, 0x10, 1, 9),
    Uint8Array.of(5, 0, 0, 0, 0x10, 1, 9, 0),
    Uint8Array.of(9, 0, 0, 0, 0x1f, 1, 1, 0),
    Uint8Array.of(5, 0, 0, 0, 0x10, 1, 2, 0),
    Uint8Array.of(5, 0, 0, 0, 0x10, 1, 0, 0),
    Uint8Array.of(5, 0, 0, 0, 0x10, 1),
    Uint8Array.of(9, 0, 0, 0, 0x10, 1),
  ]) {
    t.equal(decompressLz4Section(bad), undefined, Buffer.from(bad).toString("hex"));
  }
});
