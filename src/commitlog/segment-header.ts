/**
 * The descriptor header at the start of every segment, mirroring CommitLogDescriptor.writeHeader /
 * readHeader (Mmuzaf/cassandra@209df29; unchanged in 5.0 and trunk) and the parameter keys of
 * CommitLogDescriptor (compressionClass, compressionParameters) and EncryptionContext (encCipher,
 * encKeyAlias, encIV). All integers big-endian:
 *
 *   0  int32   version
 *   4  int64   segment id
 *   12 uint16  L, length of the parameters JSON
 *   14 L bytes UTF-8 JSON object
 *   14+L int32 CRC32 over: version, id low 32 bits, id high 32 bits, L as a 4-byte int, the JSON bytes
 */
import { crc32, crc32Int } from "./crc32.js";
import { isSupportedVersion } from "./descriptor.js";
import {
  SegmentChecksumError,
  SegmentHeaderError,
  TruncatedSegmentError,
  UnsupportedVersionError,
} from "./errors.js";

export const PARAMETERS_OFFSET = 14;
export const HEADER_CRC_SIZE = 4;
/** CommitLogDescriptor.MAX_PARAMETERS_LENGTH (the length is stored as an unsigned short). */
export const MAX_PARAMETERS_LENGTH = 0xffff;

export interface SegmentCompression {
  /** compressionClass as written, e.g. "LZ4Compressor" or a fully qualified class name. */
  readonly class: string;
  /** compressionParameters; Cassandra writes null when there are none, given here as {}. */
  readonly parameters: Readonly<Record<string, unknown>>;
}

export interface SegmentEncryption {
  readonly cipher: string;
  readonly keyAlias: string;
  /** Hex IV added by EncryptedSegment. */
  readonly iv?: string;
}

export interface SegmentHeader {
  readonly version: number;
  readonly id: bigint;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly parametersJson: string;
  /** 18 + L: offset of the first sync marker. */
  readonly headerLength: number;
  readonly crc: number;
  readonly compression?: SegmentCompression;
  readonly encryption?: SegmentEncryption;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The header CRC exactly as CommitLogDescriptor computes it. */
export function headerChecksum(version: number, id: bigint, parametersBytes: Uint8Array): number {
  let crc = crc32Int(version);
  crc = crc32Int(Number(BigInt.asIntN(32, id)), crc);
  crc = crc32Int(Number(BigInt.asIntN(32, id >> 32n)), crc);
  crc = crc32Int(parametersBytes.length, crc);
  return crc32(parametersBytes, crc);
}

/**
 * Parses and verifies the header. Throws TruncatedSegmentError (offset = where the bytes end),
 * UnsupportedVersionError (offset 0), SegmentChecksumError (offset 14+L) or SegmentHeaderError (offset 14,
 * for parameters that are not a JSON object). `segment` only names the segment in messages.
 */
export function parseSegmentHeader(bytes: Uint8Array, segment?: string): SegmentHeader {
  const opts = { segment };
  const dv = view(bytes);
  if (bytes.length < 4) throw new TruncatedSegmentError("too short for a segment header", bytes.length, opts);
  const version = dv.getInt32(0);
  if (!isSupportedVersion(version)) throw new UnsupportedVersionError(version, 0, opts);
  if (bytes.length < PARAMETERS_OFFSET) {
    throw new TruncatedSegmentError("too short for a segment header", bytes.length, opts);
  }
  const id = dv.getBigInt64(4);
  const length = dv.getUint16(12);
  const crcOffset = PARAMETERS_OFFSET + length;
  if (bytes.length < crcOffset + HEADER_CRC_SIZE) {
    throw new TruncatedSegmentError(
      `too short for a segment header with ${length} bytes of parameters`,
      bytes.length,
      opts,
    );
  }
  const parametersBytes = bytes.subarray(PARAMETERS_OFFSET, crcOffset);
  const stored = dv.getUint32(crcOffset);
  const computed = headerChecksum(version, id, parametersBytes);
  if (stored !== computed) throw new SegmentChecksumError("header", crcOffset, computed, stored, opts);

  let parametersJson: string;
  let parameters: unknown;
  try {
    parametersJson = new TextDecoder("utf-8", { fatal: true }).decode(parametersBytes);
    parameters = JSON.parse(parametersJson);
  } catch (cause) {
    throw new SegmentHeaderError("header parameters are not valid JSON", PARAMETERS_OFFSET, {
      ...opts,
      cause,
    });
  }
  if (!isObject(parameters)) {
    throw new SegmentHeaderError("header parameters are not a JSON object", PARAMETERS_OFFSET, opts);
  }
  return {
    version,
    id,
    parameters,
    parametersJson,
    headerLength: crcOffset + HEADER_CRC_SIZE,
    crc: stored,
    ...compressionOf(parameters, segment),
    ...encryptionOf(parameters, segment),
  };
}

/** CommitLogDescriptor.writeHeader; throws SegmentHeaderError when the JSON exceeds 65535 bytes. */
export function serializeSegmentHeader(version: number, id: bigint, parametersJson = "{}"): Uint8Array {
  const parametersBytes = new TextEncoder().encode(parametersJson);
  if (parametersBytes.length > MAX_PARAMETERS_LENGTH) {
    throw new SegmentHeaderError(
      `header parameters are ${parametersBytes.length} bytes, more than ${MAX_PARAMETERS_LENGTH}`,
      PARAMETERS_OFFSET,
    );
  }
  const out = new Uint8Array(PARAMETERS_OFFSET + parametersBytes.length + HEADER_CRC_SIZE);
  const dv = view(out);
  dv.setInt32(0, version);
  dv.setBigInt64(4, BigInt.asIntN(64, id));
  dv.setUint16(12, parametersBytes.length);
  out.set(parametersBytes, PARAMETERS_OFFSET);
  dv.setUint32(PARAMETERS_OFFSET + parametersBytes.length, headerChecksum(version, id, parametersBytes));
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function compressionOf(
  p: Record<string, unknown>,
  segment: string | undefined,
): { compression?: SegmentCompression } {
  const cls = p["compressionClass"];
  if (cls === undefined || cls === null) return {};
  const params = p["compressionParameters"] ?? {};
  if (typeof cls !== "string" || !isObject(params)) {
    throw new SegmentHeaderError("header compression parameters are malformed", PARAMETERS_OFFSET, {
      segment,
    });
  }
  return { compression: { class: cls, parameters: params } };
}

function encryptionOf(
  p: Record<string, unknown>,
  segment: string | undefined,
): { encryption?: SegmentEncryption } {
  const cipher = p["encCipher"];
  if (cipher === undefined) return {};
  const keyAlias = p["encKeyAlias"];
  const iv = p["encIV"];
  if (
    typeof cipher !== "string" ||
    typeof keyAlias !== "string" ||
    (iv !== undefined && typeof iv !== "string")
  ) {
    throw new SegmentHeaderError("header encryption parameters are malformed", PARAMETERS_OFFSET, {
      segment,
    });
  }
  return { encryption: iv === undefined ? { cipher, keyAlias } : { cipher, keyAlias, iv } };
}
