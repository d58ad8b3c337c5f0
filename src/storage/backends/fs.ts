import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { link, lstat, mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
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
import type { Backend, Capabilities, ListOptions, ObjectInfo, OpOptions, PutBody, PutOptions } from "../types.js";

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
 *   then link() the data. EEXIST on either → PreconditionFailedError. A sidecar with no data that is
 *   older than STALE_CLAIM_MS (left by a crash) is removed and the claim is retried once.
 * The directory is fsynced afterwards, so the object is durable when put resolves. Readers never see
 * a partial object: data only appears by an atomic link/rename of a complete, fsynced file.
 *
 * The root directory is never created (a missing root is ArchiveMissingError, likely a typo or an
 * unmounted volume); directories below it are created on put.
 */
const STALE_CLAIM_MS = 60_000;
const META_SUFFIX = ".meta";

interface Sidecar {
  readonly v: 1;
  readonly metadata: Record<string, string>;
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string"
    ? (err as { code: string }).code
    : undefined;
}

export class FsBackend implements Backend {
  readonly scheme = "file" as const;
  readonly displayLocation: string;
  readonly capabilities: Capabilities = { conditionalCreate: true, maxConnections: 8, lateMetadata: true };
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
  private async toStorageError(err: unknown, op: string, key: string, signal?: AbortSignal): Promise<unknown> {
    if (signal?.aborted) return signal.reason;
    if (err instanceof PitrError) return err;
    if (err instanceof Error && err.name === "AbortError") return err;
    const code = errnoOf(err);
    const what = `${op} '${key}'`;
    switch (code) {
      case "ENOENT":
        if (!(await this.rootExists())) return new ArchiveMissingError(this.displayLocation, `directory '${this.root}' not found`, { cause: err });
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
        return new StorageError(this.displayLocation, `${what}: ${code ?? (err instanceof Error ? err.message : String(err))}`, { cause: err });
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
    const created = await mkdir(dir, { recursive: true });
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
    const token = randomBytes(6).toString("hex");
    const tmpData = path.join(p.dir, `.${p.base}.${token}.tmp`);
    const tmpMeta = path.join(p.dir, `.${p.base}.${token}.meta.tmp`);
    try {
      if (signal?.aborted) throw signal.reason;
      await this.ensureRoot();
      await this.ensureDir(p.dir);
      await writeDurably(tmpData, body, signal);
      const sidecar: Sidecar = { v: 1, metadata: { ...(options.metadata ?? {}), ...(options.lateMetadata?.() ?? {}) } };
      await writeDurably(tmpMeta, Buffer.from(JSON.stringify(sidecar)), signal);
      if (signal?.aborted) throw signal.reason;
      if (options.ifAbsent) {
        await this.claim(key, p, tmpMeta);
        try {
          await link(tmpData, p.file);
        } catch (err) {
          if (errnoOf(err) === "EEXIST") {
            // Data without our claim: written without a sidecar. Give the sidecar slot back.
            await unlink(p.meta).catch(() => {});
            throw new PreconditionFailedError(this.displayLocation, key);
          }
          throw err;
        }
      } else {
        await rename(tmpMeta, p.meta);
        await rename(tmpData, p.file);
      }
      await fsyncDir(p.dir);
    } catch (err) {
      throw await this.toStorageError(err, "put", key, signal);
    } finally {
      await unlink(tmpData).catch(() => {});
      await unlink(tmpMeta).catch(() => {});
    }
  }

  /** Links the sidecar into place exclusively; the first to do so owns the key. */
  private async claim(key: string, p: { file: string; meta: string }, tmpMeta: string): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await link(tmpMeta, p.meta);
        return;
      } catch (err) {
        if (errnoOf(err) !== "EEXIST") throw err;
      }
      if (await exists(p.file)) throw new PreconditionFailedError(this.displayLocation, key);
      // A sidecar without data: another put is between its two links (it wins), or a crash left it.
      const age = await lstat(p.meta).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (tries > 0 || age < STALE_CLAIM_MS) throw new PreconditionFailedError(this.displayLocation, key);
      await unlink(p.meta).catch(() => {});
    }
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
  private async *walk(dirKey: string, prefix: string, startAfter: string | undefined, signal: AbortSignal | undefined): AsyncGenerator<ObjectInfo> {
    let entries;
    try {
      if (signal?.aborted) throw signal.reason;
      entries = await readdir(path.join(this.root, ...dirKey.split("/").filter(Boolean)), { withFileTypes: true });
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw await this.toStorageError(err, "list", dirKey || prefix, signal);
    }
    const items = entries
      .filter((e) => !e.name.startsWith(".") && (e.isFile() || e.isDirectory()))
      .map((e) => ({ name: e.name, dir: e.isDirectory(), sortKey: `${dirKey}${e.name}${e.isDirectory() ? "/" : ""}` }))
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
  const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
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
