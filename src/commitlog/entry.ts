/**
 * Entry framing inside a section (uncompressed coordinates), mirroring CommitLog.add (ENTRY_OVERHEAD_SIZE
 * = 12) and CommitLogReader.readSection (apache/cassandra@00bd117): int32 size (0 = end of the written
 * data, LEGACY_END_OF_SEGMENT_MARKER; < 10 invalid), int32 CRC32(size), `size` bytes of mutation, int32
 * CRC32 continuing over size and payload. The mutation bytes themselves are not decoded.
 */
import { crc32, crc32Int } from "./crc32.js";

export const ENTRY_OVERHEAD_SIZE = 12;
/** readSection: "Mutation must be at LEAST 10 bytes". */
export const MIN_MUTATION_SIZE = 10;

export type EntryScan =
  | {
      readonly ok: true;
      readonly entries: number;
      /** Largest entry, overhead included (0 when none). */
      readonly largest: number;
    }
  | {
      readonly ok: false;
      readonly problem: "invalid-size" | "overrun";
      /** Offset of the entry within the section content. */
      readonly offset: number;
      readonly detail: string;
    }
  | {
      readonly ok: false;
      readonly problem: "size-checksum" | "payload-checksum";
      readonly offset: number;
      readonly detail: string;
      /** The computed and the stored CRC. */
      readonly expected: number;
      readonly actual: number;
    };

/** Walks the entries of one section's content (the bytes after its sync marker). */
export function scanEntries(content: Uint8Array): EntryScan {
  const dv = new DataView(content.buffer, content.byteOffset, content.byteLength);
  let q = 0;
  let entries = 0;
  let largest = 0;
  while (q + 4 <= content.length) {
    const size = dv.getInt32(q);
    if (size === 0) break;
    if (size < MIN_MUTATION_SIZE) {
      return { ok: false, problem: "invalid-size", offset: q, detail: `invalid mutation size ${size}` };
    }
    if (q + ENTRY_OVERHEAD_SIZE + size > content.length) {
      return {
        ok: false,
        problem: "overrun",
        offset: q,
        detail: `entry of ${size} bytes runs past its section`,
      };
    }
    const sizeCrc = crc32Int(size);
    if (dv.getUint32(q + 4) !== sizeCrc) {
      return {
        ok: false,
        problem: "size-checksum",
        offset: q,
        detail: "entry size",
        expected: sizeCrc,
        actual: dv.getUint32(q + 4),
      };
    }
    const payloadCrc = crc32(content.subarray(q + 8, q + 8 + size), sizeCrc);
    if (dv.getUint32(q + 8 + size) !== payloadCrc) {
      return {
        ok: false,
        problem: "payload-checksum",
        offset: q,
        detail: "entry",
        expected: payloadCrc,
        actual: dv.getUint32(q + 8 + size),
      };
    }
    entries++;
    largest = Math.max(largest, ENTRY_OVERHEAD_SIZE + size);
    q += ENTRY_OVERHEAD_SIZE + size;
  }
  return { ok: true, entries, largest };
}
