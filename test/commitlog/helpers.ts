/** Builders for synthetic segments used by the commit-log tests. */
import { crc32, crc32Int } from "../../src/commitlog/crc32.js";
import { serializeSegmentHeader } from "../../src/commitlog/segment-header.js";
import { syncMarkerChecksum } from "../../src/commitlog/sync-marker.js";

/** One entry: size, CRC(size), payload, CRC continuing over size and payload. */
export function entry(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + payload.length);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, payload.length);
  const c = crc32Int(payload.length);
  dv.setUint32(4, c);
  out.set(payload, 8);
  dv.setUint32(8 + payload.length, crc32(payload, c));
  return out;
}

/** An uncompressed segment of `capacity` bytes whose sections hold the given contents, then a zeroed marker. */
export function uncompressedSegment(
  id: bigint,
  sections: Uint8Array[],
  capacity = 4096,
  version = 7,
): Uint8Array {
  const out = new Uint8Array(capacity);
  const header = serializeSegmentHeader(version, id);
  out.set(header);
  const dv = new DataView(out.buffer);
  let p = header.length;
  for (const s of sections) {
    const next = p + 8 + s.length;
    dv.setInt32(p, next);
    dv.setUint32(p + 4, syncMarkerChecksum(id, p));
    out.set(s, p + 8);
    p = next;
  }
  return out;
}

/** A compressed segment (file length = bytes written): each section is marker, int32 length, body. */
export function compressedSegment(
  id: bigint,
  compressor: string,
  sections: { length: number; body: Uint8Array }[],
): Uint8Array {
  const header = serializeSegmentHeader(
    7,
    id,
    JSON.stringify({ compressionClass: compressor, compressionParameters: null }),
  );
  const size = header.length + sections.reduce((n, s) => n + 12 + s.body.length, 0);
  const out = new Uint8Array(size);
  out.set(header);
  const dv = new DataView(out.buffer);
  let p = header.length;
  for (const s of sections) {
    const next = p + 12 + s.body.length;
    dv.setInt32(p, next);
    dv.setUint32(p + 4, syncMarkerChecksum(id, p));
    dv.setInt32(p + 8, s.length);
    out.set(s.body, p + 12);
    p = next;
  }
  return out;
}

/** LZ4Compressor output holding only literals: LE length + one literal-only sequence. */
export function lz4Literals(data: Uint8Array): Uint8Array {
  const parts: number[] = [
    data.length & 0xff,
    (data.length >>> 8) & 0xff,
    (data.length >>> 16) & 0xff,
    data.length >>> 24,
  ];
  if (data.length < 15) parts.push(data.length << 4);
  else {
    parts.push(0xf0);
    let rest = data.length - 15;
    while (rest >= 255) {
      parts.push(255);
      rest -= 255;
    }
    parts.push(rest);
  }
  return Uint8Array.from([...parts, ...data]);
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function garbage(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
