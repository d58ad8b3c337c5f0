/**
 * The cluster restore protocol through the archive, with each node's agent given fake actions (the
 * real ones stop and start Cassandra; test/e2e/restore-cluster.test.ts runs those): the barrier (no
 * node starts before every node restored), hints, batchlog and Paxos files moved aside and never
 * deleted, two requests at once refused (26), a silent node named (27), a failed node named (28),
 * abort putting back a node that never started, finish, and cluster snapshot requests.
 */
import t from "tap";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stepClusterRestore, stepClusterSnapshots, type NodeActions } from "../../src/cluster/node-agent.js";
import {
  beginClusterRestore,
  changePhase,
  NodeFailedError,
  NodeUnresponsiveError,
  requestOf,
  watchRequest,
} from "../../src/cluster/operation.js";
import type { ClusterPlan } from "../../src/cluster/plan.js";
import {
  ClusterBusyError,
  createSnapshotRequest,
  readAllProgress,
  readSnapshotAnswer,
} from "../../src/cluster/store.js";
import { exitStatusFor } from "../../src/errors/codes.js";
import type { RestorePlan } from "../../src/restore/plan.js";
import { instantFromMicros } from "../../src/restore/time.js";
import { MemoryBackend } from "../../src/storage/backends/memory.js";
import { tempDir } from "../helpers/hooks.js";

const NODES = ["n1", "n2", "n3"] as const;
const T = instantFromMicros(1_800_000_000_000_000n);

interface Fake extends NodeActions {
  calls: string[];
}

/** A node directory with a hint file, a batchlog sstable and a Paxos sstable, and fake actions on it. */
async function fakeNode(root: string, name: string, fail?: string): Promise<Fake> {
  const dir = join(root, name);
  const dataDir = join(dir, "data");
  const hintsDir = join(dir, "hints");
  await mkdir(join(dataDir, "system", "batches-919a4bc57a333573b03e13fc3f68b465", "snapshots"), {
    recursive: true,
  });
  await mkdir(join(dataDir, "system", "paxos-b7b7f0c2fd0a34108c053ef614bb7c2d"), { recursive: true });
  await mkdir(join(dataDir, "system", "local-7ad54392bcdd35a684174e047860b377"), { recursive: true });
  await mkdir(hintsDir, { recursive: true });
  await writeFile(join(hintsDir, "0b5e-1700000000000-2.hints"), "hint");
  await writeFile(
    join(dataDir, "system", "batches-919a4bc57a333573b03e13fc3f68b465", "nb-1-big-Data.db"),
    "batch",
  );
  await writeFile(
    join(dataDir, "system", "paxos-b7b7f0c2fd0a34108c053ef614bb7c2d", "nb-1-big-Data.db"),
    "paxos",
  );
  await writeFile(
    join(dataDir, "system", "local-7ad54392bcdd35a684174e047860b377", "nb-1-big-Data.db"),
    "local",
  );
  const calls: string[] = [];
  return {
    calls,
    dataDir,
    hintsDir,
    stop: async () => (calls.push("stop"), "stopped"),
    start: async () => (calls.push("start"), "started"),
    restore: async (at) => {
      calls.push(`restore ${at.epochMicros}`);
      if (fail) throw new Error(fail);
      return ["placed 1 sstable(s)"];
    },
    finish: async () => (calls.push("finish"), ["finished"]),
    undo: async () => (calls.push("undo"), ["undid the restore"]),
    snapshot: async (tag) => (calls.push(`snapshot ${tag}`), "2026-11-27T00:00:00.000Z"),
  };
}

function planOf(nodes: readonly string[]): ClusterPlan {
  return {
    cluster: "prod",
    at: T,
    nodes: nodes.map((node) => ({ node, plan: {} as RestorePlan, atMicros: T.epochMicros })),
  };
}

const agentOf = (backend: MemoryBackend, node: string, actions: NodeActions) => ({
  backend,
  identity: { cluster: "prod", node },
  actions,
});
const watchOptions = (
  backend: MemoryBackend,
  lines: string[],
  onSleep: () => Promise<void>,
  clock: { now: number },
) => ({
  backend,
  cluster: "prod",
  nodeTimeoutMs: 60_000,
  pollMs: 10_000,
  say: (l: string) => lines.push(l),
  now: () => clock.now,
  sleep: async (ms: number) => {
    clock.now += ms;
    await onSleep();
  },
});

t.test(
  "a restore runs through the barrier; replay state is moved aside, never deleted; finish",
  async (t) => {
    const root = await tempDir("node-agent");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const backend = new MemoryBackend({ scheme: "mem", display: "mem://ops", name: "ops-barrier" });
    const fakes = await Promise.all(NODES.map((n) => fakeNode(root, n)));
    const request = requestOf(planOf(NODES), { now: Date.now(), graceMs: 0, keyspaces: [], tables: [] });
    await beginClusterRestore(backend, request);

    const again = await beginClusterRestore(
      backend,
      requestOf(planOf(NODES), { now: Date.now(), graceMs: 0, keyspaces: [], tables: [] }),
    ).catch((e: unknown) => e);
    t.type(again, ClusterBusyError, "two requests at once: refused");
    t.equal(exitStatusFor((again as ClusterBusyError).code), 26, "exit 26");
    t.match((again as Error).message, `request ${request.id}`, "names the request in progress");

    t.equal(
      await stepClusterRestore(agentOf(backend, "n1", fakes[0]!)),
      "restored",
      "n1 restores, then waits",
    );
    t.equal(
      await stepClusterRestore(agentOf(backend, "n1", fakes[0]!)),
      "restored",
      "and keeps waiting while the others run",
    );
    t.same(fakes[0]!.calls, ["stop", `restore ${T.epochMicros}`], "n1 never started");
    t.equal(await stepClusterRestore(agentOf(backend, "n2", fakes[1]!)), "restored");
    t.equal(
      await stepClusterRestore(agentOf(backend, "n3", fakes[2]!)),
      "started",
      "the last node to restore finds every node restored and starts",
    );
    t.equal(await stepClusterRestore(agentOf(backend, "n1", fakes[0]!)), "started", "then n1 starts");
    t.same(fakes[0]!.calls, ["stop", `restore ${T.epochMicros}`, "start"]);
    const silent = await watchRequest(
      watchOptions(backend, [], async () => undefined, { now: 0 }),
      "restore",
    ).catch((e: unknown) => e);
    t.match(
      (silent as Error).message,
      /node n2 has not answered for 60 s \(last state restored\)/,
      "past the barrier, a restored node that does not start is silent",
    );
    t.equal(
      await stepClusterRestore(agentOf(backend, "n2", fakes[1]!)),
      "started",
      "n2 starts on its next pass",
    );

    const n1 = fakes[0]!;
    t.same(await readdir(n1.hintsDir), [], "no hint left where Cassandra delivers from");
    t.same(
      await readdir(join(n1.dataDir, "system", "batches-919a4bc57a333573b03e13fc3f68b465")),
      ["snapshots"],
      "batchlog sstables gone from the table; snapshots/ stays",
    );
    t.same(
      await readdir(join(n1.dataDir, "system", "paxos-b7b7f0c2fd0a34108c053ef614bb7c2d")),
      [],
      "Paxos sstables gone from the table",
    );
    t.same(
      await readdir(join(n1.dataDir, "system", "local-7ad54392bcdd35a684174e047860b377")),
      ["nb-1-big-Data.db"],
      "other system tables untouched",
    );
    const aside = join(n1.dataDir, "..", `cassandra-pitr-aside-cluster-${request.id}`);
    t.same(await readdir(join(aside, "hints")), ["0b5e-1700000000000-2.hints"], "the hint file kept aside");
    t.same((await readdir(join(aside, "system"))).sort(), [
      "batches-919a4bc57a333573b03e13fc3f68b465",
      "paxos-b7b7f0c2fd0a34108c053ef614bb7c2d",
    ]);

    const lines: string[] = [];
    const clock = { now: 0 };
    await watchRequest(
      watchOptions(backend, lines, async () => undefined, clock),
      "restore",
    );
    t.equal(lines.length, 3, "one line per node");
    for (const n of NODES) t.match(lines.join("\n"), `node ${n}: started`);
    const progress = await readAllProgress(backend, request);
    t.match(
      progress.get("n2")?.done.join("\n"),
      /moved aside hints: 1 file\(s\)[^]*moved aside system\.batches: 1 file[^]*moved aside system\.paxos: 1 file/,
      "what each node did is listed",
    );

    await changePhase(backend, "prod", "finish");
    for (const [i, n] of NODES.entries())
      t.equal(await stepClusterRestore(agentOf(backend, n, fakes[i]!)), "finished");
    await watchRequest(
      watchOptions(backend, lines, async () => undefined, clock),
      "finish",
    );
  },
);

t.test(
  "a node that does not answer stops the watch with its name (27); abort puts back the nodes that never started",
  async (t) => {
    const root = await tempDir("node-agent-silent");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const backend = new MemoryBackend({ scheme: "mem", display: "mem://ops", name: "ops-silent" });
    const fakes = await Promise.all(NODES.map((n) => fakeNode(root, n)));
    const request = requestOf(planOf(NODES), { now: Date.now(), graceMs: 0, keyspaces: [], tables: [] });
    await beginClusterRestore(backend, request);
    // n1 and n2's agents run; n3's agent is down.
    const step12 = async () => {
      for (const i of [0, 1]) await stepClusterRestore(agentOf(backend, NODES[i]!, fakes[i]!));
    };
    const lines: string[] = [];
    const err = await watchRequest(watchOptions(backend, lines, step12, { now: 0 }), "restore").catch(
      (e: unknown) => e,
    );
    t.type(err, NodeUnresponsiveError, "stops");
    t.equal(exitStatusFor((err as NodeUnresponsiveError).code), 27, "exit 27");
    t.match(
      (err as Error).message,
      "node n3 has not answered for 60 s (no progress at all)",
      "names the silent node",
    );
    t.notMatch((err as Error).message, /node n[12]/, "not the nodes waiting at the barrier");
    t.same(fakes[0]!.calls, ["stop", `restore ${T.epochMicros}`], "n1 restored and did not start");

    await changePhase(backend, "prod", "abort");
    for (const i of [0, 1, 2]) await stepClusterRestore(agentOf(backend, NODES[i]!, fakes[i]!));
    const all = await readAllProgress(backend, request);
    t.same(
      [...all.values()].map((p) => p?.state),
      ["aborted", "aborted", "aborted"],
    );
    t.same(
      fakes[0]!.calls,
      ["stop", `restore ${T.epochMicros}`, "undo", "start"],
      "n1: its restore undone, then started",
    );
    t.same(fakes[2]!.calls, [], "n3 had done nothing: nothing to undo");
    t.same(await readdir(fakes[0]!.hintsDir), ["0b5e-1700000000000-2.hints"], "n1's hints are back");
    t.same(
      await readdir(join(fakes[0]!.dataDir, "system", "paxos-b7b7f0c2fd0a34108c053ef614bb7c2d")),
      ["nb-1-big-Data.db"],
      "and its Paxos sstable",
    );
    await watchRequest(
      watchOptions(backend, lines, async () => undefined, { now: 0 }),
      "abort",
    );
  },
);

t.test("a node whose restore fails is named with its error (28)", async (t) => {
  const root = await tempDir("node-agent-failed");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const backend = new MemoryBackend({ scheme: "mem", display: "mem://ops", name: "ops-failed" });
  const fakes = [
    await fakeNode(root, "n1"),
    await fakeNode(root, "n2", "restore plan refused: segment(s) 7 missing"),
  ];
  await beginClusterRestore(
    backend,
    requestOf(planOf(["n1", "n2"]), { now: Date.now(), graceMs: 0, keyspaces: [], tables: [] }),
  );
  const steps = async () => {
    for (const [i, n] of ["n1", "n2"].entries()) await stepClusterRestore(agentOf(backend, n, fakes[i]!));
  };
  const err = await watchRequest(watchOptions(backend, [], steps, { now: 0 }), "restore").catch(
    (e: unknown) => e,
  );
  t.type(err, NodeFailedError);
  t.equal(exitStatusFor((err as NodeFailedError).code), 28, "exit 28");
  t.match((err as Error).message, "node n2 failed: restore plan refused: segment(s) 7 missing");
  const finish = await changePhase(backend, "prod", "finish").catch((e: unknown) => e);
  t.match(
    (finish as Error).message,
    /cannot finish: node\(s\) n1 \(restored\), n2 \(failed\)/,
    "finish refused while nodes have not started",
  );
});

t.test("a cluster snapshot: every agent takes the tag once", async (t) => {
  const root = await tempDir("node-agent-snap");
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const backend = new MemoryBackend({ scheme: "mem", display: "mem://ops", name: "ops-snap" });
  const fake = await fakeNode(root, "n1");
  await createSnapshotRequest(backend, "prod", {
    schema_version: 1,
    tag: "nightly",
    scope: ["ks"],
    requested_at: new Date().toISOString(),
  });
  const dup = await createSnapshotRequest(backend, "prod", {
    schema_version: 1,
    tag: "nightly",
    scope: [],
    requested_at: new Date().toISOString(),
  }).catch((e: unknown) => e);
  t.type(dup, ClusterBusyError, "the same tag twice: refused");
  t.same(await stepClusterSnapshots(agentOf(backend, "n1", fake)), ["nightly"]);
  t.same(await stepClusterSnapshots(agentOf(backend, "n1", fake)), [], "not twice");
  t.same(fake.calls, ["snapshot nightly"]);
  t.equal((await readSnapshotAnswer(backend, "prod", "nightly", "n1"))?.state, "done");
  const old = await stepClusterSnapshots({
    ...agentOf(backend, "n2", fake),
    now: () => Date.now() + 2 * 86_400_000,
  });
  t.same(old, [], "a request older than a day is not taken by a node that comes later");
});
