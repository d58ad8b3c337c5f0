/** Public API of the commit-log segment parser: pure functions over bytes, no I/O. */
export { crc32, crc32Int, crc32Table } from "./crc32.js";
export {
  DESCRIPTOR_VERSIONS,
  MAX_DESCRIPTOR_VERSION,
  MIN_DESCRIPTOR_VERSION,
  describeVersion,
  isSupportedVersion,
  type DescriptorVersion,
  type DescriptorVersionInfo,
} from "./descriptor.js";
export {
  SegmentChecksumError,
  SegmentError,
  SegmentHeaderError,
  SegmentNameError,
  TruncatedSegmentError,
  UnsupportedVersionError,
  type SegmentErrorOptions,
} from "./errors.js";
export { isSegmentName, parseSegmentName, segmentFileName, type SegmentName } from "./segment-name.js";
export {
  MAX_PARAMETERS_LENGTH,
  headerChecksum,
  parseSegmentHeader,
  serializeSegmentHeader,
  type SegmentCompression,
  type SegmentEncryption,
  type SegmentHeader,
} from "./segment-header.js";
export {
  SYNC_MARKER_SIZE,
  parseSyncMarker,
  syncMarkerChecksum,
  type SyncMarkerReading,
} from "./sync-marker.js";
export { ENTRY_OVERHEAD_SIZE, scanEntries, type EntryScan } from "./entry.js";
export { decompressLz4Section } from "./lz4.js";
export { sectionDecoder, type SectionDecoder } from "./section-codecs.js";
export {
  classifySegment,
  type ClassifyOptions,
  type SegmentClassification,
  type SegmentDefect,
  type SegmentStatus,
} from "./classify.js";
