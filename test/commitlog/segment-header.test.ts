import t from "tap";
import { readFile } from "node:fs/promises";
import { describeVersion, isSupportedVersion } from "../../src/commitlog/descriptor.js";
import {
  SegmentChecksumError,
  SegmentHeaderError,
  TruncatedSegmentError,
  UnsupportedVersionError,
} from "../../src/commitlog/errors.js";
import {
  headerChecksum,
  parseSegmentHeader,
  serializeSegmentHeader,
} from "../../src/commitlog/segment-header.js";
import { parseSegmentName } from "../../src/commitlog/segment-name.js";
import { segmentFixtures } from "../helpers/fixtures.js";

t.test("real fixtures: version, id, parameters", async (t) => {
  const compressed: Record<string, [string, number]> = {
    lz4: ["LZ4Compressor", 83],
    zstd: ["ZstdCompressor", 84],
    deflate: ["DeflateCompressor", 87],
    snappy: ["SnappyCompressor", 86],
  };
  for (const kind of ["v7", "v8", "lz4", "zstd", "deflate", "snappy", "torn"]) {
    for (const f of await segmentFixtures(kind)) {
      const h = parseSegmentHeader(await readFile(f.path), f.name);
      t.equal(h.version, kind === "v8" ? 8 : 7, f.name);
      t.equal(h.id, parseSegmentName(f.name).id, f.name);
      const c = compressed[kind];
      if (c !== undefined) {
        t.equal(h.parametersJson, `{"compressionClass":"${c[0]}","compressionParameters":null}`);
        t.same(h.compression, { class: c[0], parameters: {} });
        t.equal(h.headerLength, c[1]);
      } else {
        t.equal(h.parametersJson, "{}");
        t.same(h.parameters, {});
        t.equal(h.compression, undefined);
        t.equal(h.headerLength, 20);
      }
      t.equal(h.encryption, undefined);
    }
  }
});

t.test("serialize and parse round-trip, CRC order as CommitLogDescriptor", async (t) => {
  const id = 0x0123456789abcdefn;
  const bytes = serializeSegmentHeader(
    8,
    id,
    '{"encCipher":"AES/CBC/PKCS5Padding","encIV":"00ff","encKeyAlias":"k"}',
  );
  const h = parseSegmentHeader(bytes);
  t.equal(h.id, id);
  t.same(h.encryption, { cipher: "AES/CBC/PKCS5Padding", keyAlias: "k", iv: "00ff" });
  t.same(
    parseSegmentHeader(serializeSegmentHeader(7, 1n, '{"encCipher":"c","encKeyAlias":"k"}')).encryption,
    { cipher: "c", keyAlias: "k" },
  );
  // version, id low 32, id high 32, L as int, JSON
  const json = new TextEncoder().encode("{}");
  const manual = Uint8Array.of(
    0,
    0,
    0,
    7,
    0x89,
    0xab,
    0xcd,
    0xef,
    0x01,
    0x23,
    0x45,
    0x67,
    0,
    0,
    0,
    2,
    ...json,
  );
  const { crc32 } = await import("../../src/commitlog/crc32.js");
  t.equal(headerChecksum(7, id, json), crc32(manual));
  t.same(describeVersion(8), { constant: "VERSION_50", release: "5.0", messagingVersion: 13 });
  t.equal(describeVersion(5), undefined);
  t.notOk(isSupportedVersion(10));
});

t.test("errors carry the class, code and exact offset", async (t) => {
  const [fixture] = await segmentFixtures("v7");
  const real = await readFile(fixture!.path);
  const name = fixture!.name;

  const flipped = Buffer.from(real);
  flipped[17]! ^= 0x01; // CRC at 14 + L = 16
  let err: SegmentChecksumError | SegmentHeaderError = t.throws(() =>
    parseSegmentHeader(flipped, name),
  ) as SegmentChecksumError;
  t.ok(err instanceof SegmentChecksumError);
  t.equal(err.code, "E_SEGMENT_CHECKSUM");
  t.equal(err.offset, 16);
  t.equal(err.segment, name);
  t.match(err.message, new RegExp(`^segment "${name}": header checksum mismatch .* at offset 16$`));

  for (const [length, offset] of [
    [0, 0],
    [3, 3],
    [10, 10],
    [17, 17],
  ] as const) {
    const e = t.throws(() => parseSegmentHeader(real.subarray(0, length))) as TruncatedSegmentError;
    t.ok(e instanceof TruncatedSegmentError, `length ${length}`);
    t.equal(e.code, "E_SEGMENT_TRUNCATED");
    t.equal(e.offset, offset);
    t.match(e.message, /^segment "<unnamed>": truncated/);
  }

  const v5 = Buffer.from(real);
  Buffer.from(serializeSegmentHeader(5, parseSegmentName(name).id)).copy(v5, 0);
  const ve = t.throws(() => parseSegmentHeader(v5, name)) as UnsupportedVersionError;
  t.ok(ve instanceof UnsupportedVersionError);
  t.equal(ve.code, "E_SEGMENT_VERSION");
  t.equal(ve.offset, 0);
  t.equal(ve.version, 5);
  t.ok(ve.hint);
  t.equal(
    (t.throws(() => parseSegmentHeader(serializeSegmentHeader(10, 1n))) as UnsupportedVersionError).version,
    10,
  );

  for (const json of [
    "{",
    "[]",
    "null",
    '{"compressionClass":5}',
    '{"compressionClass":"X","compressionParameters":[]}',
    '{"encCipher":"c"}',
    '{"encCipher":"c","encKeyAlias":"k","encIV":1}',
  ]) {
    err = t.throws(() => parseSegmentHeader(serializeSegmentHeader(7, 1n, json))) as SegmentHeaderError;
    t.ok(err instanceof SegmentHeaderError, json);
    t.equal(err.code, "E_SEGMENT_HEADER");
    t.equal(err.offset, 14);
  }
  const invalidUtf8 = serializeSegmentHeader(7, 1n, "{}");
  invalidUtf8[14] = 0xff;
  const dv = new DataView(invalidUtf8.buffer);
  dv.setUint32(16, headerChecksum(7, 1n, invalidUtf8.subarray(14, 16)));
  t.equal((t.throws(() => parseSegmentHeader(invalidUtf8)) as SegmentHeaderError).offset, 14);

  err = t.throws(() =>
    serializeSegmentHeader(7, 1n, JSON.stringify({ k: "x".repeat(70000) })),
  ) as SegmentHeaderError;
  t.ok(err instanceof SegmentHeaderError);
  t.equal(err.offset, 14);
});
