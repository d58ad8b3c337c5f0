/**
 * CRC32 (IEEE 802.3, the polynomial of java.util.zip.CRC32) with a running value, so that a checksum can be
 * continued the way Cassandra does it (FBUtilities.updateChecksumInt, CommitLogDescriptor.writeHeader,
 * CommitLogSegment.writeSyncMarker).
 */
import * as zlib from "node:zlib";

/** zlib.crc32 exists from Node 20.15 / 22.2; older Node 20 releases use the table below. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  return table;
}

/** Table implementation; exported so that tests can hold it against zlib's. */
export function crc32Table(data: Uint8Array, previous = 0): number {
  const t = crcTable();
  let c = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/* c8 ignore next */
const impl: (data: Uint8Array, previous: number) => number =
  typeof nativeCrc32 === "function" ? nativeCrc32 : crc32Table;

/** CRC32 of `data`, continuing from `previous` (the value of an earlier call; 0 to start). Unsigned result. */
export function crc32(data: Uint8Array, previous = 0): number {
  return impl(data, previous) >>> 0;
}

/**
 * FBUtilities.updateChecksumInt: continue the CRC over the 4 big-endian bytes of a 32-bit int.
 * Four table steps inline: the entry scan calls this once per mutation (tens of thousands per
 * segment), where a native call on a fresh 4-byte array cost more than the payload's own CRC.
 */
export function crc32Int(value: number, previous = 0): number {
  const t = crcTable();
  let c = ~previous >>> 0;
  c = t[(c ^ (value >>> 24)) & 0xff]! ^ (c >>> 8);
  c = t[(c ^ (value >>> 16)) & 0xff]! ^ (c >>> 8);
  c = t[(c ^ (value >>> 8)) & 0xff]! ^ (c >>> 8);
  c = t[(c ^ value) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
