/**
 * Finds which rows a compressed (LZ4Compressor) segment holds, for the fixture JSON. Used only by
 * make-fixtures.ts. Section layout (CompressedSegment, cassandra-internals.md 3.6): sync marker
 * (int32 next, int32 crc), int32 uncompressed length, then LZ4Compressor output: 4-byte little-endian
 * length followed by one raw LZ4 block.
 */
import type { RowRecord } from "../test/helpers/cassandra.js";

function lz4BlockDecode(src: Buffer, outLength: number): Buffer {
  const out = Buffer.alloc(outLength);
  let s = 0;
  let d = 0;
  while (s < src.length) {
    const token = src[s++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do { b = src[s++]!; literals += b; } while (b === 255);
    }
    src.copy(out, d, s, s + literals);
    s += literals;
    d += literals;
    if (s >= src.length) break;
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    let match = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do { b = src[s++]!; match += b; } while (b === 255);
    }
    for (let i = 0; i < match; i++, d++) out[d] = out[d - offset]!;
  }
  return out.subarray(0, d);
}

export function decompressSegment(bytes: Buffer): Buffer {
  const paramsLength = bytes.readUInt16BE(12);
  let pos = 18 + paramsLength;
  const parts: Buffer[] = [];
  while (pos + 12 <= bytes.length) {
    const next = bytes.readInt32BE(pos);
    if (next <= pos || next > bytes.length) break;
    const uncompressed = bytes.readInt32BE(pos + 8);
    const body = bytes.subarray(pos + 12, next);
    const rawLength = body.readUInt32LE(0);
    if (rawLength !== uncompressed) throw new Error(`lz4 length ${rawLength} != section length ${uncompressed} at ${pos}`);
    parts.push(lz4BlockDecode(body.subarray(4), rawLength));
    pos = next;
  }
  return Buffer.concat(parts);
}

export function rowsInCompressed(bytes: Buffer, rows: RowRecord[]): RowRecord[] {
  const plain = decompressSegment(bytes);
  return rows.filter((r) => plain.includes(r.value));
}
