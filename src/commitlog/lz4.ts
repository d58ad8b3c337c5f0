/**
 * Decoder for the output of Cassandra's LZ4Compressor (org.apache.cassandra.io.compress.LZ4Compressor,
 * fast compressor of lz4-java): a 4-byte little-endian uncompressed length followed by one raw LZ4 block
 * (block format of lz4/lz4 doc/lz4_Block_format.md). Layout confirmed on the fixtures by
 * scripts/fixture-compressed.ts. Returns undefined for input that is not a well-formed block of that length.
 */
export function decompressLz4Section(src: Uint8Array): Uint8Array | undefined {
  if (src.length < 4) return undefined;
  const outLength = (src[0]! | (src[1]! << 8) | (src[2]! << 16) | (src[3]! << 24)) >>> 0;
  if (outLength > 0x7fffffff) return undefined;
  const out = new Uint8Array(outLength);
  let s = 4;
  let d = 0;
  while (s < src.length) {
    const token = src[s++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (s >= src.length) return undefined;
        b = src[s++]!;
        literals += b;
      } while (b === 255);
    }
    if (s + literals > src.length || d + literals > outLength) return undefined;
    out.set(src.subarray(s, s + literals), d);
    s += literals;
    d += literals;
    if (s === src.length) break; // the last sequence has literals only
    if (s + 2 > src.length) return undefined;
    const distance = src[s]! | (src[s + 1]! << 8);
    s += 2;
    let match = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (s >= src.length) return undefined;
        b = src[s++]!;
        match += b;
      } while (b === 255);
    }
    if (distance === 0 || distance > d || d + match > outLength) return undefined;
    for (let i = 0; i < match; i++, d++) out[d] = out[d - distance]!;
  }
  return d === outLength ? out : undefined;
}
