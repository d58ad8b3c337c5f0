/**
 * Encoders for a compressed section's body, in the framing each of Cassandra's compressors writes and
 * reads back (section-codecs.ts decodes the same framings):
 *
 * - LZ4Compressor: 4-byte little-endian uncompressed length, then one raw LZ4 block. We write a block
 *   of one literal-only sequence (lz4 block format: a sequence may end the block with literals only),
 *   which LZ4Compressor.uncompress (lz4-java fast decompressor, given the length) reads as any other.
 * - SnappyCompressor: a raw Snappy block, here the varint length then literal elements of 64 KiB.
 * - DeflateCompressor: one zlib stream (java.util.zip.Inflater with default wrapping reads it).
 * - ZstdCompressor: one zstd frame.
 *
 * Literal-only blocks are larger than the input by a few bytes per 64 KiB; only sections that hold a
 * withheld mutation are re-encoded.
 */
import { deflateSync } from "node:zlib";
import binding from "zstd-napi/binding.js";

export type SectionEncoder = (plain: Uint8Array) => Uint8Array;

const ENCODERS: ReadonlyArray<readonly [RegExp, SectionEncoder]> = [
  [/(^|\.)LZ4Compressor$/, encodeLz4Literals],
  [/(^|\.)ZstdCompressor$/, encodeZstd],
  [/(^|\.)DeflateCompressor$/, (plain) => deflateSync(plain)],
  [/(^|\.)SnappyCompressor$/, encodeSnappyLiterals],
];

/** The encoder for a header's `compressionClass`, if there is one. */
export function sectionEncoder(compressionClass: string): SectionEncoder | undefined {
  return ENCODERS.find(([pattern]) => pattern.test(compressionClass))?.[1];
}

export function encodeLz4Literals(plain: Uint8Array): Uint8Array {
  const n = plain.length;
  const extension = n >= 15 ? Math.floor((n - 15) / 255) + 1 : 0;
  const out = new Uint8Array(4 + 1 + extension + n);
  new DataView(out.buffer).setUint32(0, n, true);
  let o = 4;
  out[o++] = Math.min(n, 15) << 4;
  if (n >= 15) {
    let rest = n - 15;
    for (; rest >= 255; rest -= 255) out[o++] = 255;
    out[o++] = rest;
  }
  out.set(plain, o);
  return out;
}

const SNAPPY_LITERAL = 65536;

export function encodeSnappyLiterals(plain: Uint8Array): Uint8Array {
  const parts: number[] = [];
  for (let n = plain.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      parts.push(n);
      break;
    }
    parts.push((n & 0x7f) | 0x80);
  }
  const chunks = Math.ceil(plain.length / SNAPPY_LITERAL);
  const out = new Uint8Array(parts.length + chunks * 3 + plain.length);
  out.set(parts, 0);
  let o = parts.length;
  for (let at = 0; at < plain.length; at += SNAPPY_LITERAL) {
    const len = Math.min(SNAPPY_LITERAL, plain.length - at);
    if (len <= 60) out[o++] = (len - 1) << 2;
    else {
      // Tag 61: the length minus one follows in two little-endian bytes.
      out[o++] = 61 << 2;
      out[o++] = (len - 1) & 0xff;
      out[o++] = (len - 1) >>> 8;
    }
    out.set(plain.subarray(at, at + len), o);
    o += len;
  }
  return out.subarray(0, o);
}

let cctx: InstanceType<typeof binding.CCtx> | undefined;

export function encodeZstd(plain: Uint8Array): Uint8Array {
  cctx ??= new binding.CCtx();
  const out = Buffer.allocUnsafe(binding.compressBound(plain.length));
  // Level 3 is ZstdCompressor's default; any level reads back the same.
  const written = cctx.compress(out, plain, 3);
  return out.subarray(0, written);
}
