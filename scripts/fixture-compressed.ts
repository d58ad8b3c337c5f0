/**
 * Finds which rows a compressed segment (commitlog_compression: LZ4, Zstd, Deflate or Snappy) holds,
 * for the fixture JSON. Used only by make-fixtures.ts; the section decoders are the product's
 * (src/commitlog/section-codecs.ts). Section layout (CompressedSegment, cassandra-internals.md 3.6):
 * sync marker (int32 next, int32 crc), int32 uncompressed length, then the compressor's output.
 */
import { parseSegmentHeader } from "../src/commitlog/segment-header.js";
import { sectionDecoder } from "../src/commitlog/section-codecs.js";
import type { RowRecord } from "../test/helpers/cassandra.js";

export function decompressSegment(bytes: Buffer): Buffer {
  const header = parseSegmentHeader(bytes.subarray(0, Math.min(bytes.length, 70_000)), undefined);
  const compressor = header.compression?.class;
  const decode = compressor === undefined ? undefined : sectionDecoder(compressor);
  if (decode === undefined) throw new Error(`no decoder for commitlog compressor '${compressor}'`);
  let pos = header.headerLength;
  const parts: Buffer[] = [];
  while (pos + 12 <= bytes.length) {
    const next = bytes.readInt32BE(pos);
    if (next <= pos || next > bytes.length) break;
    const uncompressed = bytes.readInt32BE(pos + 8);
    const plain = decode(bytes.subarray(pos + 12, next), uncompressed);
    if (!plain) throw new Error(`${compressor} section at ${pos} does not decode to ${uncompressed} bytes`);
    parts.push(Buffer.from(plain));
    pos = next;
  }
  return Buffer.concat(parts);
}

export function rowsInCompressed(bytes: Buffer, rows: RowRecord[]): RowRecord[] {
  const plain = decompressSegment(bytes);
  return rows.filter((r) => plain.includes(r.value));
}
