/** Shared knowledge about fixtures/ (made by scripts/make-fixtures.ts from real Cassandra nodes). */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "./cassandra.js";

export const FIXTURES = join(REPO, "fixtures");
export const FIXTURE_CASSANDRA_VERSION = "5.0.9";
export const COMMITLOG_FIXTURES = join(FIXTURES, "commitlog", FIXTURE_CASSANDRA_VERSION);

/** A unique 300-byte value derived from the row id, so the JSON files need not carry it. */
export function fixtureValue(prefix: string, id: number): string {
  const pad = createHash("sha256").update(`${prefix}${id}`).digest("hex");
  return `${prefix}-${String(id).padStart(6, "0")}-${(pad + pad + pad + pad + pad).slice(0, 284)}`;
}

export interface SegmentFixture {
  readonly kind: string;
  readonly name: string;
  readonly path: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  /** [id, writetime µs] pairs of the rows whose mutations the segment holds. */
  readonly rows: ReadonlyArray<readonly [number, bigint]>;
}

/** Every fixture segment of a kind: v7, v8, lz4, torn. */
export async function segmentFixtures(kind: string): Promise<SegmentFixture[]> {
  const dir = join(COMMITLOG_FIXTURES, kind);
  const names = (await readdir(dir)).filter((n) => n.endsWith(".log")).sort();
  return Promise.all(
    names.map(async (name) => {
      const meta = JSON.parse(await readFile(join(dir, `${name}.json`), "utf8")) as {
        segment: { sha256: string; sizeBytes: number };
        rows: [number, string][];
      };
      return {
        kind,
        name,
        path: join(dir, name),
        sha256: meta.segment.sha256,
        sizeBytes: meta.segment.sizeBytes,
        rows: meta.rows.map(([id, wt]) => [id, BigInt(wt)] as const),
      };
    }),
  );
}
