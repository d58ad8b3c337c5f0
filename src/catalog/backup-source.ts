/**
 * Where the catalog gets snapshots and incrementals. src/backup/ (listSnapshots, listIncrementals)
 * is not there yet: until it is, these loaders return nothing, so plans refuse with "no snapshot".
 * Wiring the real readers is one line each: `export const loadSnapshots: SnapshotLoader = listSnapshots;`.
 */
import type { IncrementalLoader, SnapshotLoader } from "./read.js";

export const loadSnapshots: SnapshotLoader = async () => [];
export const loadIncrementals: IncrementalLoader = async () => [];
