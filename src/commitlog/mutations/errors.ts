/** Why the replay filter refuses a segment. Each names the segment and the file offset. */
import { SegmentError, type SegmentErrorOptions } from "../errors.js";

/** A mutation that cannot be read: garbled, truncated, or not of the schema given. */
export class MutationUnreadableError extends SegmentError {
  override name = "MutationUnreadableError";
  constructor(what: string, offset: number, options?: SegmentErrorOptions) {
    super("E_MUTATION_UNREADABLE", what, offset, options);
  }
}

/** A mutation of a table that is neither in the schema nor passed through. */
export class UnknownTableInSegmentError extends SegmentError {
  override name = "UnknownTableInSegmentError";
  constructor(
    readonly tableId: string,
    where: string,
    offset: number,
    options?: SegmentErrorOptions,
  ) {
    super("E_UNKNOWN_TABLE", `mutation of unknown table id ${tableId} ${where}`, offset, {
      hint: "give the schema.cql of every table in the restored segments; a table dropped or re-created after the snapshot cannot be filtered",
      ...options,
    });
  }
}

/** An encrypted segment: its mutations cannot be read without the node's keystore. */
export class SegmentEncryptedError extends SegmentError {
  override name = "SegmentEncryptedError";
  constructor(cipher: string, options?: SegmentErrorOptions) {
    super("E_SEGMENT_ENCRYPTED", `encrypted with ${cipher}, so its mutations cannot be filtered`, 0, {
      hint: "restore encrypted commit logs without the replay filter, or decrypt them first",
      ...options,
    });
  }
}

/**
 * A mutation that mixes a table truncated after it with another table: Cassandra withholds a
 * mutation whole (the first unknown table id ends it), so neither withholding nor keeping it is exact.
 */
export class MixedTruncationError extends SegmentError {
  override name = "MixedTruncationError";
  constructor(tableId: string, where: string, offset: number, options?: SegmentErrorOptions) {
    super(
      "E_PLAN_REFUSED",
      `mutation ${where} writes table id ${tableId}, truncated after it, together with other tables`,
      offset,
      {
        hint: "restore the truncated table alone (--table), or choose a restore point before the TRUNCATE",
        ...options,
      },
    );
  }
}
