/**
 * What the archive pipeline learns about a segment from its bytes: sha256 of the original file and
 * its classification (commitlog/classify.ts). One scan reads each byte from the file at most once
 * for both, and can be driven two ways:
 *
 * - `finish()` alone: read and classify the whole file now (the metadata-first path, for backends
 *   that send metadata with the upload's first request);
 * - `observe(chunk, offset)` for every chunk the compressor reads, then `finish()`: the hash takes
 *   the compressor's bytes and the classifier steps forward to the same offset, so validation runs
 *   on the main thread while zstd's workers compress, instead of before them (the one-pass path,
 *   for backends that take metadata after the body: `capabilities.lateMetadata`).
 *
 * Memory stays at the largest sync section plus one scratch buffer, whatever the segment size.
 */
import { createHash } from "node:crypto";
import { readSync } from "node:fs";
import { classifySteps, type SegmentClassification, type SegmentReader } from "../commitlog/classify.js";

const HASH_CHUNK = 1 << 20;

export interface ScanResult {
  readonly sha256: string;
  readonly classification: SegmentClassification;
}

export class SegmentScan {
  private readonly hash = createHash("sha256");
  /** Every byte below this went into the hash, in file order. */
  private hashedTo = 0;
  /** How far the classifier has read. */
  private classifiedTo = 0;
  private classification: SegmentClassification | undefined;
  private result: ScanResult | undefined;
  // One scratch buffer, grown to the largest read: bytes handed to the classifier are valid until
  // its next read (SegmentReader's contract), so RSS stays flat instead of waiting for GC.
  private scratch = Buffer.allocUnsafe(HASH_CHUNK);
  private readonly steps: Generator<number, SegmentClassification, void>;

  constructor(
    name: string,
    private readonly fd: number,
    private readonly size: number,
  ) {
    const reader: SegmentReader = {
      length: size,
      read: (offset, length) => this.readForClassifier(offset, length),
    };
    this.steps = classifySteps(name, reader);
  }

  /** The compressor read `bytes` at `offset` (in increasing order): hash them, classify as far. */
  observe(bytes: Uint8Array, offset: number): void {
    this.hashThrough(bytes, offset);
    this.classifyTo(offset + bytes.length);
  }

  /** Reads whatever was not observed, and returns the sha256 and classification. */
  finish(): ScanResult {
    if (this.result) return this.result;
    this.classifyTo(Number.POSITIVE_INFINITY);
    this.hashFromFile(this.size);
    this.result = { sha256: this.hash.digest("hex"), classification: this.classification! };
    return this.result;
  }

  private classifyTo(target: number): void {
    while (this.classification === undefined && this.classifiedTo < target) {
      const step = this.steps.next();
      if (step.done) this.classification = step.value;
      else this.classifiedTo = step.value;
    }
  }

  private readAt(offset: number, length: number): Buffer {
    const want = Math.max(0, Math.min(length, this.size - offset));
    if (want > this.scratch.length) this.scratch = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = readSync(this.fd, this.scratch, got, want - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return this.scratch.subarray(0, got);
  }

  /** Hashes the file from `hashedTo` up to `to`, reading it. */
  private hashFromFile(to: number): void {
    for (let at = this.hashedTo; at < to; at += HASH_CHUNK)
      this.hash.update(this.readAt(at, Math.min(HASH_CHUNK, to - at)));
    this.hashedTo = Math.max(this.hashedTo, to);
  }

  private readForClassifier(offset: number, length: number): Uint8Array {
    // Bytes the classifier reads past the hashed prefix are hashed from the same read, so the
    // metadata-first path reads the file once.
    if (offset > this.hashedTo) this.hashFromFile(offset);
    const bytes = this.readAt(offset, length);
    this.hashThrough(bytes, offset);
    this.classifiedTo = Math.max(this.classifiedTo, offset + bytes.length);
    return bytes;
  }

  /** Hashes the part of `bytes` (found at `offset`) beyond the hashed prefix, after any gap before it. */
  private hashThrough(bytes: Uint8Array, offset: number): void {
    if (offset > this.hashedTo) this.hashFromFile(offset);
    const end = offset + bytes.length;
    if (end > this.hashedTo) {
      this.hash.update(bytes.subarray(this.hashedTo - offset));
      this.hashedTo = end;
    }
  }
}
