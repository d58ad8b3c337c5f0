/**
 * A restore stub: a small file that stands in for an archived segment in `restore_directories`.
 *
 * Cassandra reads only the descriptor header of each file in a restore directory (and checks its
 * CRC, and that it agrees with the file name) before it runs `restore_command %from %to`. A stub is
 * therefore the segment's exact header (rebuilt from the recorded parameters, CRC recomputed) followed
 * by a marker line and a JSON reference to the archived object. A directory of stubs costs a few
 * hundred bytes per segment; the restore hook fetches the real bytes when Cassandra asks.
 */
import { parseSegmentHeader, serializeSegmentHeader } from "../commitlog/segment-header.js";
import { PitrError } from "../errors/base.js";
import { stripCredentials } from "../errors/redact.js";

export const STUB_MARKER = "\n#cassandra-pitr-stub v1\n";
/** Stubs are small; anything larger is a staged segment file. */
export const MAX_STUB_SIZE = 128 * 1024;

export interface StubReference {
  /** The archive location URL (no secrets: credentials come from the environment or config). */
  readonly archive: string;
  readonly key: string;
  /** sha256 and size of the original segment bytes. */
  readonly sha256: string;
  readonly size: number;
  /** Cassandra's file name of the segment. */
  readonly name: string;
  /**
   * The restore's replay filter (src/replay/replay-filter.ts): the hook rewrites the verified bytes
   * through it, withholding mutations stamped after the restore point. `sha256` is the spec file's.
   */
  readonly filter?: { readonly spec: string; readonly sha256: string } | undefined;
}

export function renderStub(
  version: number,
  segmentId: bigint,
  headerParameters: string,
  ref: StubReference,
): Uint8Array {
  const header = serializeSegmentHeader(version, segmentId, headerParameters || "{}");
  // Credentials never land in a stub (it sits in restore_directories, readable by the node's users):
  // a SAS token or userinfo is cut here, for every caller; the restore hook takes them from its config.
  const tail = new TextEncoder().encode(
    STUB_MARKER + JSON.stringify({ ...ref, archive: stripCredentials(ref.archive) }) + "\n",
  );
  const out = new Uint8Array(header.length + tail.length);
  out.set(header, 0);
  out.set(tail, header.length);
  return out;
}

export class StubError extends PitrError {
  override name = "StubError";
  constructor(path: string, detail: string) {
    super("E_SEGMENT_HEADER", `restore stub '${path}' is invalid: ${detail}`, {
      hint: "re-create the restore directory with 'cassandra-pitr restore'",
    });
  }
}

/** The reference inside `bytes` when they are a stub, else undefined (a staged segment file). */
export function parseStub(bytes: Uint8Array, path: string): StubReference | undefined {
  if (bytes.length > MAX_STUB_SIZE) return undefined;
  let header;
  try {
    header = parseSegmentHeader(bytes, path);
  } catch {
    return undefined;
  }
  const rest = Buffer.from(bytes.subarray(header.headerLength)).toString("utf8");
  if (!rest.startsWith(STUB_MARKER)) return undefined;
  let ref: unknown;
  try {
    ref = JSON.parse(rest.slice(STUB_MARKER.length));
  } catch {
    throw new StubError(path, "its reference is not JSON");
  }
  const r = ref as Partial<StubReference>;
  if (
    typeof r.archive !== "string" ||
    typeof r.key !== "string" ||
    typeof r.sha256 !== "string" ||
    typeof r.size !== "number" ||
    typeof r.name !== "string"
  ) {
    throw new StubError(path, "its reference lacks archive, key, sha256, size or name");
  }
  if (
    r.filter !== undefined &&
    (typeof r.filter !== "object" ||
      r.filter === null ||
      typeof r.filter.spec !== "string" ||
      typeof r.filter.sha256 !== "string")
  ) {
    throw new StubError(path, "its filter lacks spec or sha256");
  }
  return r as StubReference;
}
