/** fixtures/mutations/5.0.9 (scripts/mutation-workload.ts) as the mutation tests use them. */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseSchemaCql, type TableSchema } from "../../src/commitlog/mutations/schema-cql.js";
import { sectionDecoder } from "../../src/commitlog/section-codecs.js";
import { parseSegmentHeader } from "../../src/commitlog/segment-header.js";
import { parseSyncMarker } from "../../src/commitlog/sync-marker.js";
import { FIXTURES, FIXTURE_CASSANDRA_VERSION } from "../helpers/fixtures.js";

export const MUTATION_FIXTURES = join(FIXTURES, "mutations", FIXTURE_CASSANDRA_VERSION);

export interface Statement {
  readonly seq: number;
  readonly table: string;
  readonly kind: string;
  readonly cql: string;
  /** Exact timestamp, or for a counter update the wall-clock window around it. */
  readonly timestamp?: bigint | undefined;
  readonly window?: readonly [bigint, bigint] | undefined;
}

export interface MutationSet {
  readonly kind: string;
  readonly dir: string;
  readonly segments: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  readonly tables: ReadonlyMap<string, TableSchema>;
  readonly schemaFiles: readonly { readonly name: string; readonly text: string }[];
  readonly statements: readonly Statement[];
}

export async function mutationSetKinds(): Promise<string[]> {
  return (await readdir(MUTATION_FIXTURES)).sort();
}

export async function loadMutationSet(kind: string): Promise<MutationSet> {
  const dir = join(MUTATION_FIXTURES, kind);
  const names = (await readdir(dir)).filter((n) => n.endsWith(".log")).sort();
  const segments = await Promise.all(
    names.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(join(dir, name))) })),
  );
  const schemaFiles = await Promise.all(
    (await readdir(join(dir, "schema")))
      .sort()
      .map(async (name) => ({ name, text: await readFile(join(dir, "schema", name), "utf8") })),
  );
  const tables = new Map<string, TableSchema>();
  for (const f of schemaFiles) for (const t of parseSchemaCql(f.text, f.name)) tables.set(t.id, t);
  const log = JSON.parse(await readFile(join(dir, "statements.json"), "utf8")) as {
    statements: {
      seq: number;
      table: string;
      kind: string;
      cql: string;
      timestamp?: string;
      window?: [string, string];
    }[];
  };
  const statements = log.statements.map((s) => ({
    ...s,
    timestamp: s.timestamp === undefined ? undefined : BigInt(s.timestamp),
    window: s.window === undefined ? undefined : ([BigInt(s.window[0]), BigInt(s.window[1])] as const),
  }));
  return { kind, dir, segments, tables, schemaFiles, statements };
}

export interface RawEntry {
  /** CommitLogPosition.position: the logical offset just after the entry. */
  readonly position: number;
  /** size, CRC, payload, CRC. */
  readonly raw: Uint8Array;
  readonly payload: Uint8Array;
}

/**
 * Every entry of a segment, walked independently of the filter: markers, sections (decoded when
 * compressed) and entry sizes only, no checks (the tests check what they need).
 */
export function rawEntries(name: string, bytes: Uint8Array): RawEntry[] {
  const header = parseSegmentHeader(bytes, name);
  const decode = header.compression ? sectionDecoder(header.compression.class) : undefined;
  const out: RawEntry[] = [];
  let offset = header.headerLength;
  let logical = header.headerLength;
  for (;;) {
    const m = parseSyncMarker(bytes, header.id, offset);
    if (m.kind !== "marker") return out;
    let content = bytes.subarray(offset + 8, m.next);
    if (decode) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + offset + 8, 4).getInt32(0);
      content = decode(bytes.subarray(offset + 12, m.next), length)!;
    }
    const dv = new DataView(content.buffer, content.byteOffset, content.byteLength);
    for (let q = 0; q + 4 <= content.length;) {
      const size = dv.getInt32(q);
      if (size === 0) break;
      out.push({
        position: logical + 8 + q + 12 + size,
        raw: content.slice(q, q + 12 + size),
        payload: content.slice(q + 8, q + 8 + size),
      });
      q += 12 + size;
    }
    logical += 8 + content.length;
    offset = m.next;
  }
}
