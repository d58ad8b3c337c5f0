/**
 * RPO in seconds on real Cassandra 5.0.9, uncompressed and LZ4 (issue 14): the scenario is
 * partial-scenario.ts. The uncompressed run takes the 60 s of slow writes and restores three
 * times; the LZ4 run proves the compressed framing with a shorter load and the rescue's restore only
 * (the suite's time budget).
 */
import t from "tap";
import { partialSegmentsScenario } from "./partial-scenario.js";

t.test("partial segments and a dead node's tail (uncompressed)", (t) =>
  partialSegmentsScenario(t, { name: "partial-plain", writes: 150, restores: "all" }),
);
t.test("partial segments and a dead node's tail (lz4)", (t) =>
  partialSegmentsScenario(t, {
    name: "partial-lz4",
    compression: "lz4",
    writes: 75,
    restores: "rescued tail",
  }),
);
