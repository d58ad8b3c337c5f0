/**
 * Finds which rows a compressed (LZ4Compressor) segment holds, for the fixture JSON. Used only by
 * make-fixtures.ts; the block decoder is the product's (src/commitlog/lz4.ts). Section layout (CompressedSegment, cassandra-internals.md 3.6): sync marker
 * (int32 next, int32 crc), int32 uncompressed length, then LZ4Compressor output: 4-byte little-endian
 * length followed by one raw LZ4 block.
 */
import { decompressLz4Section } from "../src/commitlog/lz4.js";
import type { RowRecord } from "../test/helpers/cassandra.js";

export function decompressSegment(bytes: Buffer): Buffer {
  const paramsLength = bytes.readUInt16BE(12);
  let pos = 18 + paramsLength;
  const parts: Buffer[] = [];
  while (pos + 12 <= bytes.length) {
    const next = bytes.readInt32BE(pos);
    if (next <= pos || next > bytes.length) break;
    const uncompressed = bytes.readInt32BE(pos + 8);
    const plain = decompressLz4Section(bytes.subarray(pos + 12, next));
    if (!plain || plain.length !== uncompressed) throw new Error(`LZ4 section at ${pos} does not decode to ${uncompressed} bytes`);
    parts.push(Buffer.from(plain));
    pos = next;
  }
  return Buffer.concat(parts);
}

export function rowsInCompressed(bytes: Buffer, rows: RowRecord[]): RowRecord[] {
  const plain = decompressSegment(bytes);
  return rows.filter((r) => plain.includes(r.value));
}
