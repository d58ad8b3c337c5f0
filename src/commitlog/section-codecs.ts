/**
 * Decoders for the compressed sections of a segment written with `commitlog_compression`, one per
 * compressor Cassandra ships (org.apache.cassandra.io.compress). A section on disk is sync marker,
 * int32 uncompressed length, then the compressor's output for the section's plain bytes
 * (CompressedSegment.write, cassandra-internals.md 3.6). What that output is, confirmed on real
 * segments from Cassandra 5.0.9 (fixtures/commitlog/5.0.9/{lz4,zstd,deflate,snappy}):
 *
 * - LZ4Compressor: 4-byte little-endian length, then one raw LZ4 block (lz4.ts);
 * - ZstdCompressor: one zstd frame (zstd-jni `Zstd.compress`);
 * - DeflateCompressor: one zlib stream (java.util.zip.Deflater, default wrapping);
 * - SnappyCompressor: one raw Snappy block (snappy-java `Snappy.compress`): varint length, then
 *   literal and copy elements (google/snappy format_description.txt).
 *
 * Each returns undefined for input that does not decode to exactly `length` bytes, so the classifier
 * can report the section as corrupt instead of throwing. A compressor not listed (a custom class)
 * has no decoder: its entries are not checked (classify.ts says so in the status reason).
 */
import { inflateSync } from "node:zlib";
import binding from "zstd-napi/binding.js";
import { decompressLz4Section } from "./lz4.js";

export type SectionDecoder = (compressed: Uint8Array, length: number) => Uint8Array | undefined;

const DECODERS: ReadonlyArray<readonly [RegExp, SectionDecoder]> = [
  [
    /(^|\.)LZ4Compressor$/,
    (compressed, length) => {
      const out = decompressLz4Section(compressed);
      return out?.length === length ? out : undefined;
    },
  ],
  [/(^|\.)ZstdCompressor$/, decompressZstdSection],
  [/(^|\.)DeflateCompressor$/, decompressDeflateSection],
  [/(^|\.)SnappyCompressor$/, decompressSnappySection],
];

/** The decoder for a header's `compressionClass` (short or fully qualified), if there is one. */
export function sectionDecoder(compressionClass: string): SectionDecoder | undefined {
  return DECODERS.find(([pattern]) => pattern.test(compressionClass))?.[1];
}

let dctx: InstanceType<typeof binding.DCtx> | undefined;

/** Frames that decompress to exactly `length` bytes, and nothing after them. */
export function decompressZstdSection(compressed: Uint8Array, length: number): Uint8Array | undefined {
  const out = Buffer.allocUnsafe(length);
  try {
    dctx ??= new binding.DCtx();
    // Throws for a torn or corrupt frame, for trailing bytes, and for output larger than `length`.
    return dctx.decompress(out, compressed) === length ? out : undefined;
  } catch {
    return undefined;
  }
}

export function decompressDeflateSection(compressed: Uint8Array, length: number): Uint8Array | undefined {
  // The empty final section a close writes has no deflate body at all (fixtures/mutations/5.0.9/deflate).
  if (compressed.length === 0) return length === 0 ? new Uint8Array(0) : undefined;
  try {
    const out = inflateSync(compressed, { maxOutputLength: Math.max(1, length) });
    return out.length === length ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Raw Snappy block. Checks every length and offset against the bounds instead of trusting them. */
export function decompressSnappySection(src: Uint8Array, length: number): Uint8Array | undefined {
  let s = 0;
  let stated = 0;
  for (let shift = 0; ; shift += 7) {
    if (s >= src.length || shift > 28) return undefined;
    const b = src[s++]!;
    stated += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  if (stated !== length) return undefined;
  const out = new Uint8Array(length);
  let d = 0;
  while (s < src.length) {
    const tag = src[s++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        if (s + bytes > src.length) return undefined;
        n = 0;
        for (let i = 0; i < bytes; i++) n += src[s + i]! * 2 ** (8 * i);
        s += bytes;
      }
      n += 1;
      if (s + n > src.length || d + n > length) return undefined;
      out.set(src.subarray(s, s + n), d);
      s += n;
      d += n;
      continue;
    }
    let n: number;
    let offset: number;
    if (kind === 1) {
      if (s >= src.length) return undefined;
      n = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | src[s++]!;
    } else if (kind === 2) {
      if (s + 2 > src.length) return undefined;
      n = (tag >>> 2) + 1;
      offset = src[s]! | (src[s + 1]! << 8);
      s += 2;
    } else {
      if (s + 4 > src.length) return undefined;
      n = (tag >>> 2) + 1;
      offset = (src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16) | (src[s + 3]! << 24)) >>> 0;
      s += 4;
    }
    if (offset === 0 || offset > d || d + n > length) return undefined;
    // Byte by byte: a copy may overlap its own output (offset < n repeats a pattern).
    for (let i = 0; i < n; i++, d++) out[d] = out[d - offset]!;
  }
  return d === length ? out : undefined;
}
