/**
 * Restore side: planning over a synthetic year of segment keys (list calls counted), and fetch
 * throughput beside plain copies of the same bytes: the fetch phase of `restore` (download, verify,
 * replay filter, stage) at several parallelisms, the restore hook on staged segments called the way
 * Cassandra calls it, and the older paths (hook over stubs, fetchSegment) for comparison.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { segmentKey, type NodeIdentity } from "../src/format/layout.js";
import { fetchSegment } from "../src/replay/fetch.js";
import { filterSegment } from "../src/commitlog/mutations/filter.js";
import { isSystemTableId } from "../src/commitlog/mutations/system-tables.js";
import { renderSpec, type ReplayFilterSpec } from "../src/replay/replay-filter.js";
import { fetchSegments } from "../src/restore/fetch-phase.js";
import type { SegmentStep } from "../src/restore/plan.js";
import { pushSegment } from "../src/pipeline/push.js";
import { recordFromMetadata } from "../src/format/segment-record.js";
import { readCatalog } from "../src/catalog/read.js";
import type { SnapshotEntry } from "../src/catalog/model.js";
import { planRestore } from "../src/restore/planner.js";
import { openBackend } from "../src/storage/open.js";
import type { Backend, ListOptions, ObjectInfo } from "../src/storage/types.js";
import { cmd, type Table } from "./report.js";
import { fmt, median, MiB, percentile, runChild, type ChildRun } from "./measure.js";
import type { SegmentSetInfo } from "./archive.js";

const DAY = 86_400_000;

interface Counts {
  list: number;
  listed: number;
  head: number;
  get: number;
}

/** Counts every backend call made through it. */
function counting(inner: Backend, counts: Counts): Backend {
  return {
    scheme: inner.scheme,
    displayLocation: inner.displayLocation,
    capabilities: inner.capabilities,
    put: (k, b, o) => inner.put(k, b, o),
    get: (k, o) => {
      counts.get++;
      return inner.get(k, o);
    },
    head: (k, o) => {
      counts.head++;
      return inner.head(k, o);
    },
    async *list(prefix: string, options?: ListOptions) {
      counts.list++;
      for await (const info of inner.list(prefix, options)) {
        counts.listed++;
        yield info;
      }
    },
    delete: (k, o) => inner.delete(k, o),
    close: () => inner.close(),
  };
}

/**
 * A read-only listing over a sorted key array with a binary-search seek: how an object store's
 * index answers a prefix/startAfter listing (the stock memory backend filters and sorts every key
 * on each call, which makes its cost proportional to the archive whatever the caller does).
 */
function sortedIndex(keys: readonly string[], size: number): Backend {
  const lowerBound = (s: string) => {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < s) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const no = () => Promise.reject(new Error("read-only bench index"));
  return {
    scheme: "mem",
    displayLocation: "sorted-index://bench",
    capabilities: { conditionalCreate: false, maxConnections: 16, lateMetadata: false, retention: false },
    put: no,
    get: no,
    head: no,
    delete: no,
    close: async () => undefined,
    async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
      let i = lowerBound(
        options?.startAfter !== undefined && options.startAfter > prefix ? options.startAfter : prefix,
      );
      if (options?.startAfter !== undefined && keys[i] === options.startAfter) i++;
      for (; i < keys.length && keys[i]!.startsWith(prefix); i++) yield { key: keys[i]!, size, metadata: {} };
    },
  };
}

export interface PlanningOptions {
  readonly segments: number;
  readonly repeats: number;
  readonly log: (line: string) => void;
}

export async function benchPlanning(o: PlanningOptions): Promise<Table> {
  const identity: NodeIdentity = { cluster: "bench", node: "3f1c2a9e-0000-4000-8000-000000000001" };
  const yearStart = Date.UTC(2025, 10, 21);
  const interval = Math.floor((365 * DAY) / o.segments); // one segment closes every ~31.5 s
  const firstId = BigInt(yearStart - 3_600_000); // ids of one JVM run, behind the clock (the normal case)
  const segmentBytes = 1;
  o.log(`  putting ${o.segments} segment keys into mem://bench ...`);
  const mem = await openBackend(`mem://bench-${process.pid}`, { retry: false });
  const keys: string[] = new Array(o.segments);
  const body = new Uint8Array(segmentBytes);
  const putStart = Date.now();
  for (let i = 0; i < o.segments; i++) {
    const key = segmentKey(identity, {
      closeTimeMs: yearStart + (i + 1) * interval,
      segmentId: firstId + BigInt(i),
      version: 8,
    });
    keys[i] = key;
    await mem.put(key, body);
  }
  keys.sort();
  o.log(`  put in ${((Date.now() - putStart) / 1000).toFixed(1)} s`);

  const now = yearStart + 366 * DAY;
  const grace = 3 * 3_600_000; // the plan command's default (max_hint_window)
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const windowDays of [1, 7, 30]) {
    // Restore to the end of day 200 from a snapshot taken windowDays earlier.
    const atMs = yearStart + 200 * DAY + DAY - 60_000;
    const snapshot: SnapshotEntry = {
      tag: "bench",
      snapshotTimeMs: atMs - windowDays * DAY + 60_000,
      cassandraVersion: "5.0.9",
      complete: true,
      tables: [
        {
          keyspace: "bench",
          table: "events",
          tableId: "fe4549b0e58911f1949f239b38ac9aa0",
          sstables: [
            {
              name: "nb-1-big-Data.db",
              bytes: 1_000_000,
              minTimestamp: 0n,
              maxTimestamp: BigInt(atMs - windowDays * DAY) * 1000n,
            },
          ],
        },
      ],
    };
    for (const [label, make] of [
      ["mem:// (stock memory backend)", () => mem],
      ["sorted index (object-store-like listing)", () => sortedIndex(keys, segmentBytes)],
    ] as const) {
      const times: number[] = [];
      let counts: Counts = { list: 0, listed: 0, head: 0, get: 0 };
      let planned = 0;
      const repeats = label.startsWith("mem://") ? Math.min(o.repeats, 3) : o.repeats;
      for (let r = 0; r < repeats + 1; r++) {
        counts = { list: 0, listed: 0, head: 0, get: 0 };
        const backend = counting(make(), counts);
        const t = process.hrtime.bigint();
        const catalog = await readCatalog(backend, identity, {
          fromMs: atMs,
          toMs: atMs + grace,
          loadSnapshots: async () => [snapshot],
          loadIncrementals: async () => [],
        });
        const plan = planRestore(catalog, {
          at: BigInt(atMs) * 1000n,
          now,
          graceMs: grace,
          precision: "MICROSECONDS",
          archiveUrl: "mem://bench",
        });
        const ms = Number(process.hrtime.bigint() - t) / 1e6;
        planned = plan.steps.filter((s) => s.kind === "segment").length;
        if (r > 0) times.push(ms);
      }
      const p50 = median(times);
      rows.push([
        `${windowDays} day${windowDays > 1 ? "s" : ""}`,
        label,
        o.segments.toLocaleString("en-US"),
        fmt(p50, 0),
        fmt(Math.max(...times), 0),
        String(counts.list),
        counts.listed.toLocaleString("en-US"),
        String(counts.head + counts.get),
        planned.toLocaleString("en-US"),
      ]);
      if (windowDays === 1)
        verdicts.push(
          `${label}: ${fmt(p50, 0)} ms for a one-day window — target under 1 s ${p50 < 1000 ? "**met**" : "**missed**"}.`,
        );
    }
  }
  await mem.close();
  return {
    title: "Planning over one year of segments",
    intro: [
      `Synthetic archive: ${o.segments.toLocaleString("en-US")} segment keys of one node (one JVM run, consecutive ids, one segment closing every ${(interval / 1000).toFixed(1)} s for 365 days), put into the memory backend with 1-byte bodies. ` +
        `The restore point is the end of day 200; a synthetic complete snapshot is taken 1, 7 or 30 days earlier (supplied through readCatalog's injectable \`loadSnapshots\`; \`loadIncrementals\` returns none). ` +
        `Timed: \`readCatalog\` (fromMs = T, toMs = T + 3 h grace, as \`cassandra-pitr plan\` calls it) + \`planRestore\`, median of ${o.repeats} runs (3 on the stock memory backend) after one warm-up, in one process. ` +
        `Calls are counted by a wrapper around the backend; "objects listed" is what the listings returned to the catalog.`,
    ],
    header: [
      "window",
      "backend",
      "keys in archive",
      "p50 ms",
      "max ms",
      "list calls",
      "objects listed",
      "head/get calls",
      "segments in plan",
    ],
    rows,
    notes: [
      ...verdicts,
      "List calls grow with the window (one per day prefix of [snapshot − 1 day, T + grace + 1 day], plus one seek past the window), not with the archive: " +
        "the rows for 1, 7 and 30 days differ only by the days listed. The stock memory backend, however, scans and sorts all of its keys on every `list` call (src/storage/backends/memory.ts), " +
        "so its time is dominated by the archive size; the sorted-index rows show the catalog and planner cost alone, as with a real object store that seeks by prefix.",
    ],
  };
}

export interface FetchOptions {
  readonly repo: string;
  readonly work: string;
  readonly repeats: number;
  readonly parallelism: number;
  readonly log: (line: string) => void;
}

function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CASSANDRA_PITR_")) env[k] = v;
  return { ...env, ...extra };
}

async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * schema.cql of bench.events for the replay filter: the cached one if the segments' folder has it,
 * else the table bench/segments.ts creates, with the id its mutations carry (read from the filter's
 * refusal of an unknown table: the generator's node is gone by now).
 */
async function benchSchema(segment: string): Promise<string> {
  const cached = join(segment, "..", "schema.cql");
  if (existsSync(cached)) return readFile(cached, "utf8");
  let id = "";
  try {
    filterSegment(basename(segment), new Uint8Array(await readFile(segment)), {
      cutoffMicros: 0n,
      tables: new Map(),
      passThrough: isSystemTableId,
    });
  } catch (err) {
    id = /unknown table id ([0-9a-f-]{36})/.exec((err as Error).message)?.[1] ?? "";
  }
  if (!id) throw new Error(`no table id found in ${segment}`);
  const cql = `CREATE TABLE IF NOT EXISTS bench.events (\n    tenant text,\n    day int,\n    seq bigint,\n    amount double,\n    kind text,\n    payload text,\n    PRIMARY KEY ((tenant, day), seq)\n) WITH ID = ${id}\n    AND CLUSTERING ORDER BY (seq ASC);\n`;
  await writeFile(cached, cql);
  return cql;
}

export async function benchFetch(set: SegmentSetInfo, o: FetchOptions): Promise<Table> {
  const w = join(o.work, `restore-${set.label}`);
  await rm(w, { recursive: true, force: true });
  const archiveDir = join(w, "archive");
  const stubs = join(w, "stubs");
  await mkdir(archiveDir, { recursive: true });
  await mkdir(stubs, { recursive: true });
  const url = `file://${archiveDir}`;
  const identity = { cluster: "bench", node: "restore" };
  const backend = await openBackend(url);
  const env = envWith({
    CASSANDRA_PITR_ARCHIVE: url,
    CASSANDRA_PITR_CLUSTER: identity.cluster,
    CASSANDRA_PITR_NODE: identity.node,
  });
  const cli = join(o.repo, "dist/bin/cli.js");
  const restoreHook = join(o.repo, "dist/bin/restore-hook.js");
  const items: { key: string; name: string; sha256: string; size: number; seg: string }[] = [];
  o.log(`  ${set.label}: archiving ${set.files.length} segments and writing stubs (not timed)`);
  for (const seg of set.files) {
    const r = await pushSegment(backend, identity, { path: seg, name: basename(seg), archivedBy: "hook" });
    const record = recordFromMetadata((await backend.head(r.key)).metadata)!;
    items.push({ key: r.key, name: record.name, sha256: record.sha256, size: record.size, seg });
    await runChild(process.execPath, [cli, "stub", r.key, stubs], { scratch: w, env, cwd: o.repo });
  }
  const stubFiles = (await readdir(stubs)).filter((n) => n.startsWith("CommitLog-")).sort();
  if (stubFiles.length !== items.length)
    throw new Error(`expected ${items.length} stubs, found ${stubFiles.length}`);
  const totalMiB = items.reduce((a, i) => a + i.size, 0) / MiB;
  const fresh = async (name: string) => {
    const d = join(w, name);
    await rm(d, { recursive: true, force: true });
    await mkdir(d, { recursive: true });
    return d;
  };

  interface Row {
    what: string;
    command: string;
    totals: number[];
    calls: ChildRun[];
    /** Restores every item into `target` once; returns the child runs (none for in-process rows). */
    pass: (target: string) => Promise<ChildRun[]>;
  }
  const each =
    (one: (item: (typeof items)[number], target: string) => Promise<ChildRun>) => async (target: string) => {
      const calls: ChildRun[] = [];
      for (const item of items) calls.push(await one(item, target));
      return calls;
    };
  const inProcess = (parallelism: number) => async (target: string) => {
    await pool(items, parallelism, async (i) => {
      await fetchSegment(backend, i.key, join(target, i.name), { sha256: i.sha256, size: i.size });
    });
    return [];
  };
  // The fetch phase's replay filter reads every mutation; a cutoff after all of them withholds none,
  // so what it stages is byte for byte the original segments (the same bytes cp copies).
  const spec: ReplayFilterSpec = {
    schema_version: 1,
    cutoff_micros: (BigInt(Date.now()) * 1000n + 86_400_000_000n).toString(),
    accept_cassandra_filter: false,
    scope_table_ids: null,
    schemas: [{ source: "bench.events", cql: await benchSchema(set.files[0]!) }],
  };
  const specText = renderSpec(spec);
  const specPath = join(w, "replay-filter.json");
  await writeFile(specPath, specText);
  const records = new Map(
    await Promise.all(
      items.map(async (i) => [i.key, recordFromMetadata((await backend.head(i.key)).metadata)!] as const),
    ),
  );
  const steps = items.map((i) => ({ kind: "segment", key: i.key, name: i.name }) as SegmentStep);
  const fetchPhase = (parallelism: number) => async (target: string) => {
    await fetchSegments({
      backend,
      segments: steps,
      records,
      restoreDir: target,
      stagedCount: steps.length,
      specText,
      specPath,
      archiveUrl: url,
      parallelism,
    });
    return [];
  };
  // Staged once by the fetch phase (not timed): what Cassandra's restore directory holds.
  const staged = await fresh("staged");
  const tally = await fetchSegments({
    backend,
    segments: steps,
    records,
    restoreDir: staged,
    stagedCount: steps.length,
    specText,
    specPath,
    archiveUrl: url,
    parallelism: o.parallelism,
  });
  o.log(
    `  ${set.label}: staged ${tally.segments} segments, ${tally.mutations} mutations read, ${tally.withheld} withheld`,
  );
  // Cassandra's loop (cassandra-internals.md 1.5): for each restore file, skip it when its target
  // exists, else run restore_command %from %to and wait.
  const asCassandra = async (target: string) => {
    const calls: ChildRun[] = [];
    for (const item of items) {
      if (existsSync(join(target, item.name))) continue;
      calls.push(
        await runChild(process.execPath, [restoreHook, join(staged, item.name), join(target, item.name)], {
          scratch: w,
          env,
          cwd: o.repo,
        }),
      );
    }
    return calls;
  };
  const shm = existsSync("/dev/shm") ? await mkdtemp("/dev/shm/pitr-bench-") : undefined;
  const onShm = (pass: (target: string) => Promise<ChildRun[]>) => async () => {
    const target = join(shm!, "target");
    await rm(target, { recursive: true, force: true });
    await mkdir(target);
    return pass(target);
  };
  const rows: Row[] = [
    {
      what: "cp (original segments)",
      command: "cp $SEG $TARGET/$NAME",
      pass: each((i, target) => runChild("cp", [i.seg, join(target, i.name)], { scratch: w })),
    },
    {
      what: "cp + fsync (original segments)",
      command: "sh -c 'cp $SEG $TARGET/$NAME && sync $TARGET/$NAME'",
      pass: each((i, target) =>
        runChild("sh", ["-c", 'cp "$1" "$2" && sync "$2"', "sh", i.seg, join(target, i.name)], {
          scratch: w,
        }),
      ),
    },
    {
      what: "zstd -d of the archived objects",
      command: "zstd -d -q -f $ARCHIVE/$KEY -o $TARGET/$NAME",
      pass: each((i, target) =>
        runChild("zstd", ["-d", "-q", "-f", join(archiveDir, i.key), "-o", join(target, i.name)], {
          scratch: w,
        }),
      ),
    },
    {
      what: "restore hook over stubs, sequential (as Cassandra calls it)",
      command: "node dist/bin/restore-hook.js $STUBS/$NAME $TARGET/$NAME",
      pass: each((i, target) =>
        runChild(process.execPath, [restoreHook, join(stubs, i.name), join(target, i.name)], {
          scratch: w,
          env,
          cwd: o.repo,
        }),
      ),
    },
    {
      what: "fetchSegment in one process, parallelism 1",
      command: `fetchSegment(backend, key, target, {sha256, size}) × ${items.length}, 1 at a time (bench/restore.ts)`,
      pass: inProcess(1),
    },
    {
      what: `fetchSegment in one process, parallelism ${o.parallelism}`,
      command: `fetchSegment(backend, key, target, {sha256, size}) × ${items.length}, ${o.parallelism} at a time (bench/restore.ts)`,
      pass: inProcess(o.parallelism),
    },
    ...[1, 2, o.parallelism].map((p) => ({
      what: `fetch phase of restore: download, verify, replay filter, stage; parallelism ${p}`,
      command: `fetchSegments({..., parallelism: ${p}}) (src/restore/fetch-phase.ts; worker threads: min(${p}, cores))`,
      pass: fetchPhase(p),
    })),
    {
      what: "restore hook on staged segments, as Cassandra calls it (restore directory on the commit log's filesystem)",
      command:
        "for each $NAME: [ -e $TARGET/$NAME ] || node dist/bin/restore-hook.js $STAGED/$NAME $TARGET/$NAME",
      pass: asCassandra,
    },
    ...(shm
      ? [
          {
            what: "cp + fsync to another filesystem (/dev/shm, tmpfs)",
            command: "sh -c 'cp $SEG $SHM/$NAME && sync $SHM/$NAME'",
            pass: onShm(
              each((i, target) =>
                runChild("sh", ["-c", 'cp "$1" "$2" && sync "$2"', "sh", i.seg, join(target, i.name)], {
                  scratch: w,
                }),
              ),
            ),
          },
          {
            what: "restore hook on staged segments, as Cassandra calls it, commit log on another filesystem (/dev/shm: a copy per call)",
            command:
              "for each $NAME: [ -e $SHM/$NAME ] || node dist/bin/restore-hook.js $STAGED/$NAME $SHM/$NAME",
            pass: onShm(asCassandra),
          },
        ]
      : []),
  ].map((r) => ({ ...r, totals: [], calls: [] }));
  // Rounds: every row once per round (interleaved), so drifting load hits all rows alike.
  for (let r = 0; r < o.repeats + 1; r++) {
    o.log(`  ${set.label}: fetch round ${r + 1}/${o.repeats + 1}`);
    for (const row of rows) {
      const target = await fresh("target");
      const t = process.hrtime.bigint();
      const calls = await row.pass(target);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (r > 0) {
        row.totals.push(ms);
        row.calls.push(...calls);
      }
    }
  }
  await backend.close();
  await rm(w, { recursive: true, force: true });
  if (shm) await rm(shm, { recursive: true, force: true });

  const cpMs = median(rows[0]!.totals);
  const cpSyncMs = median(rows[1]!.totals);
  const hookRow = rows.find((r) =>
    r.what.startsWith("restore hook on staged segments, as Cassandra calls it (restore"),
  )!;
  const hookMs = median(hookRow.totals);
  const share = cpSyncMs / hookMs;
  const verdict =
    `Target (issue 10 item 6): restoring the window through the path Cassandra uses (the restore hook on staged segments, called as Cassandra calls it) at >= 90 % of the throughput of cp + fsync of the same bytes: ` +
    `${fmt(totalMiB / (hookMs / 1000), 0)} MiB/s vs ${fmt(totalMiB / (cpSyncMs / 1000), 0)} MiB/s = ${fmt(share * 100, 0)} % — ${share >= 0.9 ? "**met**" : "**missed**"}.`;
  return {
    title: `Restore fetch throughput — ${set.description}`,
    intro: [
      `${items.length} segment(s), ${fmt(totalMiB, 0)} MiB in total, archived once to a file:// archive on the same disk (zstd level 1, not timed), a restore stub written for each by ${cmd("node dist/bin/cli.js stub $KEY $STUBS")}. ` +
        `Each row restores all of them into an empty directory; median total of ${o.repeats} rounds after one warm-up round, every row once per round (interleaved). The restore hook and fetchSegment decompress, sha256-check, fsync and rename; \`cp\` does none of that.`,
    ],
    header: [
      "what",
      "command",
      "total ms (p50)",
      "MiB/s",
      "per segment p50 / p95 ms",
      "peak RSS MiB (per process)",
      "vs cp",
    ],
    rows: rows.map((r) => {
      const total = median(r.totals);
      const perCall =
        r.calls.length > 0
          ? `${fmt(
              percentile(
                r.calls.map((c) => c.wallMs),
                50,
              ),
            )} / ${fmt(
              percentile(
                r.calls.map((c) => c.wallMs),
                95,
              ),
            )}`
          : "—";
      const rss = r.calls.length > 0 ? fmt(Math.max(...r.calls.map((c) => c.peakRssKiB)) / 1024) : "—";
      return [
        r.what,
        cmd(r.command),
        fmt(total, 0),
        fmt(totalMiB / (total / 1000), 0),
        perCall,
        rss,
        `${fmt(total / cpMs, 2)}×`,
      ];
    }),
    notes: [
      verdict,
      "The restore hook on a staged segment hard-links it into the commit log directory, then links the directory's other staged segments too (one directory fsync); Cassandra checks each restore file's header and skips the hook for a target that exists, so it runs the hook once for the window. On another filesystem each call copies in the kernel (copy_file_range) and fsyncs once.",
      "The fetch phase is CPU work (zstd, sha256, and the replay filter reading every mutation); it runs before the node starts, on worker threads. fetchSegment's rows run on one thread: parallel calls there only interleave the same CPU work, which is why 4 were no faster than 1.",
    ],
  };
}
