/**
 * SSTable file names: `<version>-<id>-<format>-<Component>`, e.g. `nb-1-big-Data.db` (sequential
 * generation) or `nb-3fw2_0tsr_1bm3k2hmb9wbp4qnt9-big-Data.db` (4.1+ `uuid_sstable_identifiers_enabled`).
 * Mirrors org.apache.cassandra.io.sstable.Descriptor and UUIDBasedSSTableId (Cassandra 4.1/5.0).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** The UUID epoch (1582-10-15) in Unix milliseconds. */
const UUID_EPOCH_MS = -12219292800000;

export interface SstableName {
  /** Two lower-case letters: ma..md (3.0), me, na, nb (4.0), nc, oa (5.0), da (BTI). */
  readonly version: string;
  /** The generation as written: decimal digits, or the 28-char base-36 UUID form. */
  readonly id: string;
  readonly idKind: "sequential" | "uuid";
  /** `big` or `bti`. */
  readonly format: string;
  /** `<version>-<id>-<format>`: what all components of one sstable share. */
  readonly base: string;
}

export interface SstableFileName extends SstableName {
  /** `Data.db`, `Statistics.db`, `TOC.txt`, ... */
  readonly component: string;
  readonly file: string;
}

const UUID_ID = /^[0-9a-z]{4}_[0-9a-z]{4}_[0-9a-z]{18}$/;
const FILE = /^([a-z]{2})-([0-9]+|[0-9a-z]{4}_[0-9a-z]{4}_[0-9a-z]{18})-([a-z]+)-([A-Za-z0-9_.+-]+)$/;

/** Parses one sstable component file name; undefined for anything else (manifest.json, schema.cql, ...). */
export function parseSstableFileName(file: string): SstableFileName | undefined {
  const m = FILE.exec(file);
  if (!m) return undefined;
  const [, version, id, format, component] = m as unknown as [string, string, string, string, string];
  return {
    version,
    id,
    idKind: UUID_ID.test(id) ? "uuid" : "sequential",
    format,
    base: `${version}-${id}-${format}`,
    component,
    file,
  };
}

/** Parses `<version>-<id>-<format>` (the base shared by an sstable's components). */
export function parseSstableBase(base: string): SstableName | undefined {
  const parsed = parseSstableFileName(`${base}-Data.db`);
  if (!parsed) return undefined;
  const { component: _c, file: _f, ...name } = parsed;
  return name;
}

/**
 * The creation time (Unix ms) encoded in a UUID sstable id (a TimeUUID rendered as
 * `<days since 1582-10-15 (4)>_<seconds in day (4)>_<100-ns part (5)><lsb (13)>`, all base 36);
 * undefined for sequential ids.
 */
export function sstableIdTime(id: string): number | undefined {
  if (!UUID_ID.test(id)) return undefined;
  const days = parseInt(id.slice(0, 4), 36);
  const seconds = parseInt(id.slice(5, 9), 36);
  const hundredNanos = parseInt(id.slice(10, 15), 36);
  if (!Number.isFinite(days) || !Number.isFinite(seconds) || !Number.isFinite(hundredNanos)) return undefined;
  if (seconds >= 86_400 || hundredNanos >= 10_000_000) return undefined;
  return UUID_EPOCH_MS + (days * 86_400 + seconds) * 1000 + Math.floor(hundredNanos / 10_000);
}

export interface SstableGroup extends SstableName {
  /** Component name → file name, for the files present in the directory. */
  readonly files: ReadonlyMap<string, string>;
}

export interface GroupedListing {
  /** Sorted by base name. */
  readonly sstables: SstableGroup[];
  /** Entries that are not sstable components (manifest.json, schema.cql, sub-directories, ...). */
  readonly other: string[];
}

/** Groups a directory listing into sstables with their components. */
export function groupSstableFiles(names: readonly string[]): GroupedListing {
  const groups = new Map<string, { name: SstableName; files: Map<string, string> }>();
  const other: string[] = [];
  for (const file of names) {
    const parsed = parseSstableFileName(file);
    if (!parsed) {
      other.push(file);
      continue;
    }
    let group = groups.get(parsed.base);
    if (!group) {
      const { component: _c, file: _f, ...name } = parsed;
      group = { name, files: new Map() };
      groups.set(parsed.base, group);
    }
    group.files.set(parsed.component, file);
  }
  const sstables = [...groups.values()]
    .map((g) => ({ ...g.name, files: g.files }))
    .sort((a, b) => compareBases(a, b));
  return { sstables, other: other.sort() };
}

/** Sequential ids numerically, UUID ids by creation time, then by text. */
function compareBases(a: SstableName, b: SstableName): number {
  if (a.idKind === "sequential" && b.idKind === "sequential" && a.id !== b.id) {
    const x = BigInt(a.id);
    const y = BigInt(b.id);
    return x < y ? -1 : 1;
  }
  return a.base < b.base ? -1 : a.base > b.base ? 1 : 0;
}

/** Parses TOC.txt: one component name per line. */
export function parseToc(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** Reads `<dir>/<base>-TOC.txt`. */
export async function readToc(dir: string, base: string): Promise<string[]> {
  return parseToc(await readFile(join(dir, `${base}-TOC.txt`), "utf8"));
}

/**
 * Components listed in TOC.txt that are missing from the group (TOC.txt itself counts). An sstable
 * without TOC.txt is incomplete: `["TOC.txt"]`.
 */
export function missingComponents(group: SstableGroup, toc: readonly string[] | undefined): string[] {
  if (toc === undefined || !group.files.has("TOC.txt")) return ["TOC.txt"];
  return [...new Set([...toc, "TOC.txt"])].filter((c) => !group.files.has(c));
}
