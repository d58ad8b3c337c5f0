import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
  type FileHandle,
} from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { addAbortSignal, Readable } from "node:stream";
import { PitrError } from "../../errors/base.js";
import { fsyncDir } from "../durable.js";
import {
  AccessDeniedError,
  ArchiveMissingError,
  ObjectNotFoundError,
  PreconditionFailedError,
  StorageError,
  TransientStorageError,
} from "../errors.js";
import { validateKey, validatePrefix } from "../key.js";
import type { FileLocation } from "../location.js";
import type {
  Backend,
  Capabilities,
  ListOptions,
  ObjectInfo,
  OpOptions,
  PutBody,
  PutOptions,
} from "../types.js";

/**
 * file:// backend, the embedded default. Layout: the object key is the path below the root. For
 * each object `dir/name` there may be a metadata sidecar `dir/.name.meta` (JSON). Names starting
 * with "." are reserved for sidecars and temp files: key.ts forbids such segments, and list skips
 * them.
 *
 * put: the body goes to a temp file `.name.<random>.tmp` in the target directory and is fsynced;
 * the sidecar likewise. Then
 * - without ifAbsent: rename sidecar, rename data (an overwrite may briefly pair the old data with the
 *   new metadata);
 * - with ifAbsent: link() the sidecar into place first (link fails with EEXIST if it exists, which
 *   makes the sidecar the claim on the key, so a losing racer never touches the winner's metadata),
 *   then link() the data. EEXIST on either → PreconditionFailedError.
 * The directory is fsynced afterwards, so the object is durable when put resolves. Readers never see
 * a partial object: data only appears by an atomic link/rename of a complete, fsynced file.
 *
 * Claims a later run can take over (a writer killed between its two links must not leave the key
 * blocked, or the next hook for that segment finds neither a free key nor an object). The sidecar
 * names its owner's token, and the owner's data temp is complete and fsynced before it claims. So a
 * later put that finds a claim without data links the owner's temp into place itself (finishing the
 * object exactly as the owner would have); when that temp is gone too and the owner is dead (its pid
 * on this host) or the claim is older than STALE_CLAIM_MS, the claim is removed and taken.
 * Temps left by killed writers are swept by the next put of the same key, on the same rules.
 *
 * Objects are created 0600 and directories 0700 (as pgBackRest keeps its repository): the archive
 * holds every commit log segment and sstable of the database.
 *
 * The root directory is never created (a missing root is ArchiveMissingError, likely a typo or an
 * unmounted volume); directories below it are created on put.
 */
const STALE_CLAIM_MS = 60_000;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const HOST =
  hostname()
    .replace(/[^A-Za-z0-9]/g, "")
    .slice(0, 32) || "host";
const META_SUFFIX = ".meta";

interface Sidecar {
  readonly v: 1;
  readonly metadata: Record<string, string>;
  /** The token of the put that wrote it: `<host>-<pid>-<random>`, also in its temp file names. */
  readonly owner?: string;
}

/** A writer's token, in its temp names and its claim: the host and pid tell whether it still runs. */
function newToken(): string {
  return `${HOST}-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/** Whether the writer that made `token` may still be running: dead only when known dead. */
function ownerMayRun(token: string, ageMs: number): boolean {
  const m = /^([A-Za-z0-9]+)-(\d+)-[0-9a-f]+$/.exec(token);
  if (!m || m[1] !== HOST) return ageMs < STALE_CLAIM_MS; // another host (shared mount): by age only
  try {
    process.kill(Number(m[2]), 0);
    return ageMs < STALE_CLAIM_MS * 60; // a live pid may have been reused; an hour settles it
  } catch (err) {
    return errnoOf(err) === "EPERM"; // exists, owned by another user
  }
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string"
    ? (err as { code: string }).code
    : undefined;
}

export class FsBackend implements Backend {
  readonly scheme = "file" as const;
  readonly displayLocation: string;
  readonly capabilities: Capabilities = {
    conditionalCreate: true,
    maxConnections: 8,
    lateMetadata: true,
    retention: false,
  };
  private readonly root: string;

  constructor(location: FileLocation) {
    this.root = location.root;
    this.displayLocation = location.display;
  }

  /** key.ts already rules out segments starting with ".", which this backend reserves. */
  private checkKey(key: string): string {
    return validateKey(key);
  }

  private paths(key: string): { file: string; dir: string; base: string; meta: string } {
    const file = path.join(this.root, ...key.split("/"));
    const dir = path.dirname(file);
    const base = path.basename(file);
    return { file, dir, base, meta: path.join(dir, `.${base}${META_SUFFIX}`) };
  }

  /** Maps a Node error. ENOENT becomes ArchiveMissingError when the root itself is gone. */
  private async toStorageError(
    err: unknown,
    op: string,
    key: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (signal?.aborted) return signal.reason;
    if (err instanceof PitrError) return err;
    if (err instanceof Error && err.name === "AbortError") return err;
    const code = errnoOf(err);
    const what = `${op} '${key}'`;
    switch (code) {
      case "ENOENT":
        if (!(await this.rootExists()))
          return new ArchiveMissingError(this.displayLocation, `directory '${this.root}' not found`, {
            cause: err,
          });
        return new ObjectNotFoundError(this.displayLocation, key, { cause: err });
      case "EACCES":
      case "EPERM":
        return new AccessDeniedError(this.displayLocation, `${what}: permission denied`, {
          cause: err,
          hint: `check the permissions of '${this.root}' for the user running cassandra-pitr`,
        });
      case "EROFS":
        return new StorageError(this.displayLocation, `${what}: read-only file system`, { cause: err });
      case "ENOSPC":
      case "EDQUOT":
        return new StorageError(this.displayLocation, `${what}: no space left on device`, {
          cause: err,
          hint: `free space on the file system holding '${this.root}'`,
        });
      case "EAGAIN":
      case "EBUSY":
      case "EINTR":
      case "EMFILE":
      case "ENFILE":
      case "ETIMEDOUT":
      case "ESTALE":
        return new TransientStorageError(this.displayLocation, `${what}: ${code}`, { cause: err });
      default:
        return new StorageError(
          this.displayLocation,
          `${what}: ${code ?? (err instanceof Error ? err.message : String(err))}`,
          { cause: err },
        );
    }
  }

  private async rootExists(): Promise<boolean> {
    try {
      return (await stat(this.root)).isDirectory();
    } catch {
      return false;
    }
  }

  private async ensureRoot(): Promise<void> {
    let ok = false;
    try {
      ok = (await stat(this.root)).isDirectory();
    } catch (err) {
      if (errnoOf(err) !== "ENOENT" && errnoOf(err) !== "ENOTDIR") throw err;
    }
    if (!ok) throw new ArchiveMissingError(this.displayLocation, `directory '${this.root}' not found`);
  }

  /** mkdir -p below the root, fsyncing each parent whose entries changed. */
  private async ensureDir(dir: string): Promise<void> {
    const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (created === undefined) return;
    let current = path.dirname(created);
    const chain = [current];
    while (current !== dir) {
      const next = path.join(current, path.relative(current, dir).split(path.sep)[0]!);
      chain.push(next);
      current = next;
    }
    for (const d of chain.slice(0, -1)) await fsyncDir(d);
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    this.checkKey(key);
    const { signal } = options;
    const p = this.paths(key);
    const token = newToken();
    const tmpData = path.join(p.dir, `.${p.base}.${token}.tmp`);
    const tmpMeta = path.join(p.dir, `.${p.base}.${token}.meta.tmp`);
    let claimed = false;
    try {
      if (signal?.aborted) throw signal.reason;
      await this.ensureRoot();
      await this.ensureDir(p.dir);
      await sweepTemps(p.dir, p.base);
      await writeDurably(tmpData, body, signal);
      const sidecar: Sidecar = {
        v: 1,
        metadata: { ...(options.metadata ?? {}), ...(options.lateMetadata?.() ?? {}) },
        owner: token,
      };
      await writeDurably(tmpMeta, Buffer.from(JSON.stringify(sidecar)), signal);
      if (signal?.aborted) throw signal.reason;
      if (options.ifAbsent) {
        await this.claim(key, p, tmpMeta);
        claimed = true;
        await this.linkData(key, p, tmpData);
      } else {
        await rename(tmpMeta, p.meta);
        await rename(tmpData, p.file);
      }
      await fsyncDir(p.dir);
    } catch (err) {
      // A claim whose data never made it is given back, so the next put is not blocked by it.
      if (claimed && !(await exists(p.file).catch(() => true))) await releaseClaim(p.meta, token);
      throw await this.toStorageError(err, "put", key, signal);
    } finally {
      await unlink(tmpData).catch(() => {});
      await unlink(tmpMeta).catch(() => {});
    }
  }

  /** Links our data under the claimed key. Already there as the same file: a later put finished it for us. */
  private async linkData(key: string, p: { file: string; meta: string }, tmpData: string): Promise<void> {
    try {
      await link(tmpData, p.file);
    } catch (err) {
      if (errnoOf(err) !== "EEXIST") throw err;
      const [mine, there] = await Promise.all([lstat(tmpData), lstat(p.file)]);
      if (mine.ino === there.ino && mine.dev === there.dev) return;
      throw new PreconditionFailedError(this.displayLocation, key);
    }
  }

  /** Links the sidecar into place exclusively; the first to do so owns the key. */
  private async claim(
    key: string,
    p: { file: string; dir: string; base: string; meta: string },
    tmpMeta: string,
  ): Promise<void> {
    for (let tries = 0; tries < 3; tries++) {
      try {
        await link(tmpMeta, p.meta);
        return;
      } catch (err) {
        if (errnoOf(err) !== "EEXIST") throw err;
      }
      if (!(await this.takeOver(p))) throw new PreconditionFailedError(this.displayLocation, key);
    }
    throw new PreconditionFailedError(this.displayLocation, key);
  }

  /**
   * A claim is in the way. Finishes its owner's object when the owner's complete temp is still
   * there (false: the key now holds an object); removes a dead claim (true: claim again); leaves a
   * live one alone (false).
   */
  private async takeOver(p: { file: string; dir: string; base: string; meta: string }): Promise<boolean> {
    if (await exists(p.file)) return false;
    const claim = await readClaim(p.meta);
    if (claim === undefined) return true; // removed meanwhile: claim again
    if (claim.owner !== undefined) {
      try {
        await link(path.join(p.dir, `.${p.base}.${claim.owner}.tmp`), p.file);
        await fsyncDir(p.dir);
        return false;
      } catch (err) {
        if (errnoOf(err) === "EEXIST") return false;
        if (errnoOf(err) !== "ENOENT") throw err;
      }
      if (await exists(p.file)) return false; // the owner linked it between our two looks
    }
    if (ownerMayRun(claim.owner ?? "", claim.ageMs)) return false;
    await releaseClaim(p.meta, claim.owner);
    return true;
  }

  async get(key: string, options: OpOptions = {}): Promise<Readable> {
    this.checkKey(key);
    const { signal } = options;
    let fh: FileHandle;
    try {
      if (signal?.aborted) throw signal.reason;
      fh = await open(this.paths(key).file, fsConstants.O_RDONLY);
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        throw Object.assign(new Error("not a file"), { code: "ENOENT" });
      }
    } catch (err) {
      throw await this.toStorageError(err, "get", key, signal);
    }
    const stream = fh.createReadStream({ autoClose: true });
    return signal ? addAbortSignal(signal, stream) : stream;
  }

  async head(key: string, options: OpOptions = {}): Promise<ObjectInfo> {
    this.checkKey(key);
    const { signal } = options;
    const p = this.paths(key);
    try {
      if (signal?.aborted) throw signal.reason;
      const st = await stat(p.file);
      if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
      return { key, size: st.size, modified: st.mtime, metadata: await readSidecar(p.meta) };
    } catch (err) {
      throw await this.toStorageError(err, "head", key, signal);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const { signal, startAfter } = options;
    try {
      if (signal?.aborted) throw signal.reason;
      await this.ensureRoot();
    } catch (err) {
      throw await this.toStorageError(err, "list", prefix, signal);
    }
    // Start at the deepest directory the prefix names completely.
    const slash = prefix.lastIndexOf("/");
    const startDir = slash >= 0 ? prefix.slice(0, slash + 1) : "";
    yield* this.walk(startDir, prefix, startAfter, signal);
  }

  /** Depth-first walk in lexicographic key order: a directory sorts as its name plus "/". */
  private async *walk(
    dirKey: string,
    prefix: string,
    startAfter: string | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ObjectInfo> {
    let entries;
    try {
      if (signal?.aborted) throw signal.reason;
      entries = await readdir(path.join(this.root, ...dirKey.split("/").filter(Boolean)), {
        withFileTypes: true,
      });
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw await this.toStorageError(err, "list", dirKey || prefix, signal);
    }
    const items = entries
      .filter((e) => !e.name.startsWith(".") && (e.isFile() || e.isDirectory()))
      .map((e) => ({
        name: e.name,
        dir: e.isDirectory(),
        sortKey: `${dirKey}${e.name}${e.isDirectory() ? "/" : ""}`,
      }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const item of items) {
      const full = item.sortKey;
      if (item.dir) {
        if (!(full.startsWith(prefix) || prefix.startsWith(full))) continue;
        if (startAfter !== undefined && full < startAfter && !startAfter.startsWith(full)) continue;
        yield* this.walk(full, prefix, startAfter, signal);
      } else {
        if (!full.startsWith(prefix)) continue;
        if (startAfter !== undefined && full <= startAfter) continue;
        let st;
        try {
          st = await lstat(path.join(this.root, ...full.split("/")));
        } catch (err) {
          if (errnoOf(err) === "ENOENT") continue; // deleted while listing
          throw await this.toStorageError(err, "list", full, signal);
        }
        yield { key: full, size: st.size, modified: st.mtime, metadata: {} };
      }
    }
  }

  async delete(key: string, options: OpOptions = {}): Promise<void> {
    this.checkKey(key);
    const { signal } = options;
    const p = this.paths(key);
    try {
      if (signal?.aborted) throw signal.reason;
      await this.ensureRoot();
      // Data first: a crash in between leaves a stale sidecar (harmless), never data without metadata.
      await unlink(p.file).catch((err: unknown) => {
        if (errnoOf(err) !== "ENOENT" && errnoOf(err) !== "ENOTDIR") throw err;
      });
      await unlink(p.meta).catch((err: unknown) => {
        if (errnoOf(err) !== "ENOENT" && errnoOf(err) !== "ENOTDIR") throw err;
      });
    } catch (err) {
      throw await this.toStorageError(err, "delete", key, signal);
    }
  }

  async close(): Promise<void> {}
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return false;
    throw err;
  }
}

/** The claim at `file`: its owner token (undefined for sidecars written before owners) and age. */
async function readClaim(file: string): Promise<{ owner: string | undefined; ageMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(file, "utf8"), lstat(file)]);
    let owner: string | undefined;
    try {
      const parsed = JSON.parse(text) as Partial<Sidecar>;
      owner = typeof parsed.owner === "string" ? parsed.owner : undefined;
    } catch {
      owner = undefined; // a torn sidecar: judged by age alone
    }
    return { owner, ageMs: Date.now() - st.mtimeMs };
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    throw err;
  }
}

/** Removes the claim at `file` if it is still the one `owner` made (never a newer claim). */
async function releaseClaim(file: string, owner: string | undefined): Promise<void> {
  const claim = await readClaim(file).catch(() => undefined);
  if (claim !== undefined && claim.owner === owner) await unlink(file).catch(() => {});
}

/**
 * Removes temps of `base` (`.<base>.<token>.tmp`, `.<base>.<token>.meta.tmp`) whose writer is
 * dead: left by a writer killed mid-upload. A live writer's temps are left alone.
 */
async function sweepTemps(dir: string, base: string): Promise<void> {
  const lead = `.${base}.`;
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith(lead) && n.endsWith(".tmp"));
  } catch {
    return;
  }
  for (const name of names) {
    const token = name.slice(lead.length).replace(/(\.meta)?\.tmp$/, "");
    const st = await lstat(path.join(dir, name)).catch(() => undefined);
    if (st && !ownerMayRun(token, Date.now() - st.mtimeMs))
      await unlink(path.join(dir, name)).catch(() => {});
  }
}

async function readSidecar(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return {}; // object placed by hand, without metadata
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<Sidecar>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.metadata ?? {})) if (typeof v === "string") out[k] = v;
  return out;
}

/** Writes `body` to a new file (exclusive create) and fsyncs it. Each chunk is written before the next is asked for, so lent chunks need no copy. */
async function writeDurably(file: string, body: PutBody, signal: AbortSignal | undefined): Promise<void> {
  const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, FILE_MODE);
  try {
    if (body instanceof Uint8Array) {
      await fh.writeFile(body, signal ? { signal } : {});
    } else {
      for await (const chunk of body) {
        if (signal?.aborted) throw signal.reason;
        const bytes: Uint8Array = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
        let offset = 0;
        while (offset < bytes.byteLength) {
          const { bytesWritten } = await fh.write(bytes, offset, bytes.byteLength - offset);
          offset += bytesWritten;
        }
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function createBackend(location: FileLocation): Backend {
  return new FsBackend(location);
}
