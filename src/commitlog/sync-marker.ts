/**
 * Sync markers, mirroring CommitLogSegment.writeSyncMarker (SYNC_MARKER_SIZE = 8) and
 * CommitLogSegmentReader.readSyncMarker (apache/cassandra@05660a5). At file offset P: int32 `next` (file
 * offset of the next marker, i.e. the end of this section) and int32 CRC32 over [id low 32, id high 32, P].
 */
import { crc32Int } from "./crc32.js";

export const SYNC_MARKER_SIZE = 8;

export function syncMarkerChecksum(id: bigint, position: number): number {
  let crc = crc32Int(Number(BigInt.asIntN(32, id)));
  crc = crc32Int(Number(BigInt.asIntN(32, id >> 32n)), crc);
  return crc32Int(position, crc);
}

/** What the reader finds at a marker position, following readSyncMarker's rules. */
export type SyncMarkerReading =
  /** Fewer than 8 bytes left (P > length - 8): the reader stops. */
  | { readonly kind: "end-of-file"; readonly offset: number }
  /** next == 0 and crc == 0: the slot zeroed at each sync (MemoryMappedSegment.write), clean end of data. */
  | { readonly kind: "zeroed"; readonly offset: number }
  /** Any other CRC mismatch: corruption at `offset`. */
  | {
      readonly kind: "bad-checksum";
      readonly offset: number;
      readonly next: number;
      readonly stored: number;
      readonly expected: number;
    }
  /** Valid CRC but `next` does not leave room for the marker itself: corruption. */
  | { readonly kind: "bad-pointer"; readonly offset: number; readonly next: number }
  /** Valid CRC, `next` beyond the end of the bytes: the reader clips the section (torn tail). */
  | { readonly kind: "clipped"; readonly offset: number; readonly next: number }
  | { readonly kind: "marker"; readonly offset: number; readonly next: number };

export function parseSyncMarker(bytes: Uint8Array, id: bigint, offset: number): SyncMarkerReading {
  return parseSyncMarkerSlot(bytes.subarray(offset, offset + SYNC_MARKER_SIZE), id, offset, bytes.length);
}

/**
 * The same rules given only the 8 bytes at `offset` (fewer at the end of the file) and the file's
 * length, for readers that do not hold the whole segment in memory.
 */
export function parseSyncMarkerSlot(
  slot: Uint8Array,
  id: bigint,
  offset: number,
  fileLength: number,
): SyncMarkerReading {
  if (offset > fileLength - SYNC_MARKER_SIZE || slot.length < SYNC_MARKER_SIZE)
    return { kind: "end-of-file", offset };
  const dv = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  const next = dv.getInt32(0);
  const stored = dv.getUint32(4);
  const expected = syncMarkerChecksum(id, offset);
  if (stored !== expected) {
    if (next === 0 && stored === 0) return { kind: "zeroed", offset };
    return { kind: "bad-checksum", offset, next, stored, expected };
  }
  if (next < offset + SYNC_MARKER_SIZE) return { kind: "bad-pointer", offset, next };
  if (next > fileLength) return { kind: "clipped", offset, next };
  return { kind: "marker", offset, next };
}
