/**
 * Exactness against an oracle on a real Cassandra 5.0.9 node: the whole-node scenario of
 * exact-scenario.ts (every kind of mutation before and after T, counters, compared in full with a
 * reference keyspace), then a table-scope restore to an earlier instant and a keyspace restore to an
 * instant after the first restore (what the first restore undid stays undone). cassandra-41.test.ts
 * runs the same scenario on 4.1.10.
 */
import t from "tap";
import { pitrNode } from "./restore-scenario.js";
import { exactWholeNodeRestore, laterRestores } from "./exact-scenario.js";

t.test(
  "whole-node restore to T holds exactly the writes stamped <= T, for every mutation kind (oracle)",
  async (t) => {
    const p = await pitrNode(t, "restore-exact");
    await laterRestores(t, p, await exactWholeNodeRestore(t, p));
  },
);
