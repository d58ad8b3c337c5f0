/**
 * Client-side encryption (aes-256-gcm) as a storage decorator: every object is encrypted before
 * it leaves the node and decrypted (and authenticated) as it is read. docs/encryption.md.
 *
 * Object format, streamed in chunks so memory stays flat whatever the object's size:
 *
 *   header  "PITRENC1" | id length (1 byte) | key id (ASCII) | nonce prefix (8 random bytes)
 *   chunk*  length (4 bytes, big endian; top bit set on the last chunk) | ciphertext | tag (16)
 *
 * Chunk i uses the nonce (prefix | i as 4 bytes) and authenticates, besides its ciphertext, the
 * header, its index and its length field: a flipped byte anywhere, chunks swapped, dropped or
 * replayed from another object, or an object cut after any chunk (no chunk flagged last) fails
 * before the bytes of the chunk in question are handed on. The key id is also in the object's
 * metadata (`encryption_key`) so an operator can see which key an object needs without reading it.
 *
 * Reading: an object without the header was written before encryption was turned on and passes
 * through as it is. Without keys configured, an encrypted object is refused with a clear line
 * instead of reaching zstd as garbage.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { PitrError } from "../../errors/base.js";
import type { Backend, ListOptions, ObjectInfo, OpOptions, PutBody, PutOptions } from "../types.js";

export const ENCRYPTION_ALGORITHM = "aes-256-gcm";
const MAGIC = Buffer.from("PITRENC1", "ascii");
const CHUNK = 64 * 1024;
const TAG = 16;
const LAST = 0x8000_0000;

export interface EncryptionKey {
  /** A short public name of the key (docs/encryption.md: the first 16 hex of its sha256). */
  readonly id: string;
  readonly key: Buffer;
}

export interface EncryptionKeys {
  /** New objects are encrypted with this one. */
  readonly current: EncryptionKey;
  /** Still accepted for reading (rotation). */
  readonly retired: readonly EncryptionKey[];
  /** Encryption turned off with retired keys listed: new objects are written in clear, old ones read. */
  readonly readOnly?: boolean;
}

/** A key is missing, unknown or unusable (exit 31). */
export class EncryptionKeyError extends PitrError {
  override name = "EncryptionKeyError";
  constructor(message: string, hint: string) {
    super("E_ENCRYPTION_KEY", message, { hint });
  }
}

/** An encrypted object did not authenticate: altered, truncated, or a different key under the same id (exit 32). */
export class DecryptionError extends PitrError {
  override name = "DecryptionError";
  constructor(location: string, key: string, detail: string) {
    super("E_DECRYPT_FAILED", `object '${key}' in '${location}' does not authenticate: ${detail}`, {
      hint: "the object was altered or truncated, or its key id names a different key; run 'cassandra-pitr verify'",
    });
  }
}

/** The total encrypted size of `plain` bytes under key id `id`. */
export function encryptedLength(plain: number, id: string): number {
  const chunks = Math.max(1, Math.ceil(plain / CHUNK));
  return MAGIC.length + 1 + Buffer.byteLength(id, "ascii") + 8 + chunks * (4 + TAG) + plain;
}

/** The plaintext size of an object stored encrypted under key id `id` (the inverse of encryptedLength). */
export function plainLength(stored: number, id: string): number {
  const body = stored - (MAGIC.length + 1 + Buffer.byteLength(id, "ascii") + 8);
  const chunks = Math.max(1, Math.ceil(body / (CHUNK + 4 + TAG)));
  return body - chunks * (4 + TAG);
}

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, 8);
  return n;
}

function aad(header: Buffer, index: number, lengthField: Buffer): Buffer {
  const i = Buffer.alloc(4);
  i.writeUInt32BE(index, 0);
  return Buffer.concat([header, i, lengthField]);
}

function sealChunk(
  k: EncryptionKey,
  header: Buffer,
  prefix: Buffer,
  index: number,
  plain: Buffer,
  last: boolean,
): Buffer {
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32BE((plain.length | (last ? LAST : 0)) >>> 0, 0);
  const cipher = createCipheriv("aes-256-gcm", k.key, nonce(prefix, index));
  cipher.setAAD(aad(header, index, lengthField));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([lengthField, body, cipher.getAuthTag()]);
}

async function* chunksOf(body: PutBody): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) yield body;
  else for await (const c of body as AsyncIterable<Uint8Array>) yield c;
}

/** Encrypts a body chunk by chunk; a chunk is sealed only once it is known whether more follows. */
export async function* encryptStream(k: EncryptionKey, body: PutBody): AsyncGenerator<Buffer> {
  const id = Buffer.from(k.id, "ascii");
  const prefix = randomBytes(8);
  const header = Buffer.concat([MAGIC, Buffer.from([id.length]), id, prefix]);
  yield header;
  let pending = Buffer.alloc(0);
  let index = 0;
  for await (const c of chunksOf(body)) {
    pending = Buffer.concat([pending, c]); // copies: lent chunks are reused by their producer
    while (pending.length > CHUNK) {
      yield sealChunk(k, header, prefix, index++, pending.subarray(0, CHUNK), false);
      pending = pending.subarray(CHUNK);
    }
  }
  yield sealChunk(k, header, prefix, index, pending, true);
}

/** Reads exactly what it is asked for from a byte stream, across chunk boundaries. */
class Bytes {
  private buf = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer | Uint8Array>) {}
  /** `n` bytes, or undefined when the stream ends first (what was read stays for `rest`). */
  async take(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = Buffer.concat([this.buf, r.value]);
    }
    if (this.buf.length < n) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Everything not yet taken, as it comes. */
  async *rest(): AsyncGenerator<Buffer> {
    if (this.buf.length > 0) yield this.buf;
    this.buf = Buffer.alloc(0);
    while (!this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else yield Buffer.from(r.value);
    }
  }
}

export interface DecryptContext {
  readonly location: string;
  readonly key: string;
  readonly keys: EncryptionKeys | undefined;
}

/** The plaintext of a stored object: authenticated chunk by chunk, or passed through if not encrypted. */
export async function* decryptStream(
  source: AsyncIterable<Buffer | Uint8Array>,
  ctx: DecryptContext,
): AsyncGenerator<Buffer> {
  const bytes = new Bytes(source[Symbol.asyncIterator]());
  const magic = await bytes.take(MAGIC.length);
  if (!magic || !magic.equals(MAGIC)) {
    // Not encrypted (written before encryption was turned on): the bytes as stored.
    if (magic) yield Buffer.from(magic);
    yield* bytes.rest();
    return;
  }
  const idLength = (await bytes.take(1))?.[0];
  const idBytes = idLength === undefined ? undefined : await bytes.take(idLength);
  const prefix = await bytes.take(8);
  if (!idBytes || !prefix) throw new DecryptionError(ctx.location, ctx.key, "cut inside its header");
  const id = idBytes.toString("ascii");
  const k = keyFor(id, ctx);
  const header = Buffer.concat([MAGIC, Buffer.from([idLength!]), idBytes, prefix]);
  for (let index = 0; ; index++) {
    const lengthField = await bytes.take(4);
    if (!lengthField) throw new DecryptionError(ctx.location, ctx.key, `truncated after ${index} chunk(s)`);
    const field = lengthField.readUInt32BE(0);
    const length = field & ~LAST & 0x7fff_ffff;
    if (length > CHUNK)
      throw new DecryptionError(ctx.location, ctx.key, `chunk ${index} claims ${length} bytes`);
    const sealed = await bytes.take(length + TAG);
    if (!sealed) throw new DecryptionError(ctx.location, ctx.key, `truncated inside chunk ${index}`);
    const decipher = createDecipheriv("aes-256-gcm", k.key, nonce(prefix, index));
    decipher.setAAD(aad(header, index, Buffer.from(lengthField)));
    decipher.setAuthTag(sealed.subarray(length));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(sealed.subarray(0, length)), decipher.final()]);
    } catch {
      throw new DecryptionError(
        ctx.location,
        ctx.key,
        `chunk ${index} fails authentication with key '${id}'`,
      );
    }
    yield plain;
    if ((field & LAST) !== 0) {
      if ((await bytes.take(1)) !== undefined)
        throw new DecryptionError(ctx.location, ctx.key, "bytes after its last chunk");
      return;
    }
  }
}

function keyFor(id: string, ctx: DecryptContext): EncryptionKey {
  if (!ctx.keys) {
    throw new EncryptionKeyError(
      `object '${ctx.key}' in '${ctx.location}' is encrypted (key '${id}') and no encryption key is configured`,
      "set encryption: aes-256-gcm with encryptionKeyFile or encryptionKeyEnv (docs/encryption.md)",
    );
  }
  const k = [ctx.keys.current, ...ctx.keys.retired].find((c) => c.id === id);
  if (!k) {
    throw new EncryptionKeyError(
      `object '${ctx.key}' in '${ctx.location}' needs encryption key '${id}', which is not configured`,
      "list the old key in encryptionRetiredKeyFiles (docs/encryption.md: rotation)",
    );
  }
  return k;
}

/**
 * The decorator. `keys` undefined: writes pass through, reads refuse encrypted objects clearly.
 * `head` gives the plaintext's size (from the key id in the metadata); `list`, which has no
 * metadata on S3, gives the stored size. The sha256 the pipeline records is of the plaintext.
 */
export class EncryptingBackend implements Backend {
  constructor(
    private readonly inner: Backend,
    private readonly keys: EncryptionKeys | undefined,
  ) {}

  get scheme() {
    return this.inner.scheme;
  }
  get displayLocation() {
    return this.inner.displayLocation;
  }
  get capabilities() {
    return this.inner.capabilities;
  }
  /** An unfinished upload holds no readable object: nothing to encrypt or decrypt. */
  get unfinishedUploads() {
    return this.inner.unfinishedUploads;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    if (!this.keys || this.keys.readOnly) return this.inner.put(key, body, options);
    const k = this.keys.current;
    const plainLength = body instanceof Uint8Array ? body.length : options.contentLength;
    // Last, so that a record's own "encryption: none" (late or not) cannot hide how the object is stored.
    const mark = { encryption: ENCRYPTION_ALGORITHM, encryption_key: k.id };
    const late = options.lateMetadata;
    await this.inner.put(key, Readable.from(encryptStream(k, body)), {
      ...options,
      metadata: { ...options.metadata, ...mark },
      lateMetadata: late === undefined ? undefined : () => ({ ...late(), ...mark }),
      contentLength: plainLength === undefined ? undefined : encryptedLength(plainLength, k.id),
    });
  }

  async get(key: string, options: OpOptions = {}): Promise<Readable> {
    const stored = await this.inner.get(key, options);
    return Readable.from(
      decryptStream(stored, { location: this.inner.displayLocation, key, keys: this.keys }),
      { objectMode: false },
    );
  }

  /** With the plaintext's size, as `get` returns it (the upload's verification compares sizes). */
  async head(key: string, options?: OpOptions): Promise<ObjectInfo> {
    const info = await this.inner.head(key, options);
    const id = info.metadata["encryption_key"];
    if (info.metadata["encryption"] !== ENCRYPTION_ALGORITHM || id === undefined) return info;
    return { ...info, size: plainLength(info.size, id) };
  }
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options);
  }
  delete(key: string, options?: OpOptions): Promise<void> {
    return this.inner.delete(key, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export function withEncryption(inner: Backend, keys: EncryptionKeys | undefined): Backend {
  return new EncryptingBackend(inner, keys);
}
