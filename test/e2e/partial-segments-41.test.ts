/**
 * RPO in seconds on real Cassandra 4.1.10 (issue 14), the same scenario as on 5.0.9
 * (partial-scenario.ts) with a shorter load: 4.1 maps its uncompressed segments too (it has no
 * commitlog_disk_access_mode), so the agent's looks prove an idle node idle, and its claims restore
 * exactly, from a copy taken mid-load as from the rescued tail.
 */
import t from "tap";
import { partialSegmentsScenario } from "./partial-scenario.js";

t.test("partial segments and a dead node's tail (Cassandra 4.1.10, uncompressed)", (t) =>
  partialSegmentsScenario(t, { name: "partial-41", version: "4.1.10", writes: 40, restores: "all" }),
);
