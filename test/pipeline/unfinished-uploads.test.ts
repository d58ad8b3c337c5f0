/**
 * Which unfinished uploads the agent aborts, with a scripted backend (the S3 side runs on MinIO in
 * test/storage/s3-unfinished-uploads.test.ts): only its own node's, only old ones without a recent
 * part, bounded per check, hourly, reported in the event log and the metrics.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { nodePrefix } from "../../src/format/layout.js";
import { runAgent } from "../../src/pipeline/agent.js";
import { setHealthMark } from "../../src/pipeline/health.js";
import { renderAgentMetrics } from "../../src/pipeline/metrics.js";
import {
  abortUnfinishedUploads,
  isOldEnough,
  unfinishedUploadMinAge,
} from "../../src/pipeline/unfinished-uploads.js";
import { withDryRun } from "../../src/storage/decorators/dry-run.js";
import { withRetry } from "../../src/storage/decorators/retry.js";
import { AccessDeniedError, TransientStorageError } from "../../src/storage/errors.js";
import { openBackend } from "../../src/storage/open.js";
import type { Backend, UnfinishedUpload, UnfinishedUploads } from "../../src/storage/types.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.parse("2026-11-28T12:00:00Z");
const identity = { cluster: "mp", node: "aaaaaaaa-0000-4000-8000-000000000001" };
const other = { cluster: "mp", node: "aaaaaaaa-0000-4000-8000-000000000002" };
const own = nodePrefix(identity);

interface Scripted extends UnfinishedUpload {
  readonly lastPart?: Date;
}

/** A backend whose unfinished uploads are a list; `sloppy` lists every upload whatever the prefix. */
function scripted(
  uploads: Scripted[],
  opts: { sloppy?: boolean; failAbort?: (u: UnfinishedUpload) => boolean } = {},
) {
  const live = new Map(uploads.map((u) => [u.uploadId, u]));
  const calls = { list: 0, lastPartAt: 0, abort: 0 };
  const api: UnfinishedUploads = {
    async *list(prefix) {
      calls.list++;
      const all = [...live.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
      for (const u of all) if (opts.sloppy || u.key.startsWith(prefix)) yield u;
    },
    async lastPartAt(u) {
      calls.lastPartAt++;
      return live.get(u.uploadId)?.lastPart;
    },
    async abort(u) {
      calls.abort++;
      if (opts.failAbort?.(u))
        throw new TransientStorageError("mem://scripted", `abort '${u.key}': HTTP 503`);
      live.delete(u.uploadId);
    },
  };
  return { api, live, calls };
}

async function backendWith(api: UnfinishedUploads): Promise<Backend> {
  const mem = await openBackend(`mem://unfinished-${Math.random()}`);
  return {
    scheme: mem.scheme,
    displayLocation: mem.displayLocation,
    capabilities: mem.capabilities,
    put: (k, b, o) => mem.put(k, b, o),
    get: (k, o) => mem.get(k, o),
    head: (k, o) => mem.head(k, o),
    list: (p, o) => mem.list(p, o),
    delete: (k, o) => mem.delete(k, o),
    close: () => mem.close(),
    unfinishedUploads: api,
  };
}

const upload = (key: string, id: string, agoMs: number, lastPartAgoMs?: number): Scripted => ({
  key,
  uploadId: id,
  initiated: new Date(NOW - agoMs),
  ...(lastPartAgoMs === undefined ? {} : { lastPart: new Date(NOW - lastPartAgoMs) }),
});

t.test("the safe age: an hour, or four hook budgets when that is longer", async (t) => {
  t.equal(unfinishedUploadMinAge(20_000), HOUR, "20 s hooks: 1 h");
  t.equal(unfinishedUploadMinAge(30 * MIN), 2 * HOUR, "30 min hooks: 2 h");
  t.ok(isOldEnough(upload(`${own}a`, "1", HOUR), NOW, HOUR), "exactly the age: old enough");
  t.notOk(isOldEnough(upload(`${own}a`, "1", HOUR - 1), NOW, HOUR), "a millisecond younger: not");
});

t.test("aborts only the node's own uploads that are old and have no recent part", async (t) => {
  const { api, live, calls } = scripted(
    [
      upload(`${own}segments/dead-no-part`, "dead", 2 * HOUR),
      upload(`${own}segments/dead-old-parts`, "dead-parts", 3 * HOUR, 2 * HOUR),
      upload(`${own}segments/young`, "young", 10 * MIN),
      upload(`${own}snapshots/live-big-sstable`, "live", 3 * HOUR, MIN),
      upload(`${nodePrefix(other)}segments/other-dead`, "other", 5 * HOUR),
    ],
    { sloppy: true },
  );
  const check = await abortUnfinishedUploads(await backendWith(api), identity, {
    nowMs: NOW,
    minAgeMs: HOUR,
  });
  t.same(
    check?.aborted.map((u) => u.uploadId).sort(),
    ["dead", "dead-parts"],
    "the two dead uploads of this node",
  );
  t.equal(check?.kept, 2, "the young one and the one still receiving parts are kept");
  t.equal(check?.more, false, "nothing left for later");
  t.same([...live.keys()].sort(), ["live", "other", "young"], "another node's upload is never touched");
  t.equal(calls.lastPartAt, 3, "parts looked up only for this node's uploads that are old enough");
});

t.test("a longer hook budget keeps an upload the default age would abort", async (t) => {
  const { api, live } = scripted([upload(`${own}segments/x`, "x", 90 * MIN)]);
  const check = await abortUnfinishedUploads(await backendWith(api), identity, {
    nowMs: NOW,
    minAgeMs: unfinishedUploadMinAge(30 * MIN),
  });
  t.equal(check?.aborted.length, 0, "90 min old with 30 min hooks: kept");
  t.ok(live.has("x"));
});

t.test("one check is bounded; the rest waits for the next", async (t) => {
  const { api, live } = scripted(
    Array.from({ length: 5 }, (_, i) => upload(`${own}segments/s${i}`, `s${i}`, 2 * HOUR)),
  );
  const backend = await backendWith(api);
  const first = await abortUnfinishedUploads(backend, identity, { nowMs: NOW, minAgeMs: HOUR, maxAborts: 2 });
  t.same(
    first?.aborted.map((u) => u.uploadId),
    ["s0", "s1"],
    "two aborted",
  );
  t.equal(first?.more, true, "and more left");
  const listedOnly = await abortUnfinishedUploads(backend, identity, {
    nowMs: NOW,
    minAgeMs: HOUR,
    maxListed: 1,
  });
  t.equal(listedOnly?.aborted.length, 1, "at most maxListed uploads read");
  t.equal(listedOnly?.more, true);
  const last = await abortUnfinishedUploads(backend, identity, { nowMs: NOW, minAgeMs: HOUR });
  t.equal(last?.aborted.length, 2, "the next checks take the rest");
  t.equal(last?.more, false);
  t.equal(live.size, 0);
});

t.test("a failed abort ends the check with the error; the aborts before it stand", async (t) => {
  const { api, live } = scripted(
    [upload(`${own}segments/a`, "a", 2 * HOUR), upload(`${own}segments/b`, "b", 2 * HOUR)],
    { failAbort: (u) => u.uploadId === "b" },
  );
  const check = await abortUnfinishedUploads(await backendWith(api), identity, {
    nowMs: NOW,
    minAgeMs: HOUR,
  });
  t.same(
    check?.aborted.map((u) => u.uploadId),
    ["a"],
  );
  t.type(check?.error, TransientStorageError, "the failure is returned");
  t.equal(check?.more, true);
  t.same([...live.keys()], ["b"]);
});

t.test("a backend without unfinished uploads (file, gs, az, mem): nothing to do", async (t) => {
  const mem = await openBackend("mem://no-uploads");
  t.equal(mem.unfinishedUploads, undefined, "mem has none");
  t.equal(await abortUnfinishedUploads(mem, identity, { nowMs: NOW, minAgeMs: HOUR }), undefined);
});

t.test("dry run records the abort and drops it; retry retries a transient one", async (t) => {
  const { api, live, calls } = scripted([upload(`${own}segments/a`, "a", 2 * HOUR)]);
  const dry = withDryRun(await backendWith(api));
  const check = await abortUnfinishedUploads(dry, identity, { nowMs: NOW, minAgeMs: HOUR });
  t.equal(check?.aborted.length, 1, "reported as it would be");
  t.same(dry.records, [{ op: "abort-upload", key: `${own}segments/a` }], "recorded");
  t.equal(calls.abort, 0, "never sent");
  t.ok(live.has("a"));

  let failures = 1;
  const flaky = scripted([upload(`${own}segments/b`, "b", 2 * HOUR)], { failAbort: () => failures-- > 0 });
  const retried = withRetry(await backendWith(flaky.api), {
    policy: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
  });
  const again = await abortUnfinishedUploads(retried, identity, { nowMs: NOW, minAgeMs: HOUR });
  t.equal(again?.aborted.length, 1, "aborted on the second try");
  t.equal(flaky.calls.abort, 2);
});

t.test("the agent checks hourly, logs each abort and counts it in its metrics", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pitr-unfinished-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const logFile = join(dir, "events.log");
  const { api, live, calls } = scripted([
    upload(`${own}segments/dead`, "dead", 2 * HOUR),
    upload(`${own}segments/young`, "young", 30 * MIN),
  ]);
  let clock = NOW;
  const stop = new AbortController();
  let passes = 0;
  const stats = await runAgent(
    {
      backend: await backendWith(api),
      identity,
      spoolDir: join(dir, "spool"),
      parallelism: 1,
      compressionLevel: 1,
      compressionThreads: 0,
      sweepMinAgeMs: 600_000,
      logFile,
      signal: stop.signal,
      now: () => clock,
    },
    {
      once: false,
      intervalMs: 1,
      onPass: () => {
        clock += 20 * MIN; // passes at 0, 20, ..., 120 min
        if (++passes === 7) stop.abort();
      },
    },
  );
  t.equal(calls.list, 3, "three checks in 120 minutes of passes: at 0, 60 and 120 min");
  t.equal(stats.uploadsAborted, 2, "the dead one at once, the young one once it was old (at 60 min)");
  t.equal(live.size, 0);
  const events = (await readFile(logFile, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const aborted = events.filter((e) => e["event"] === "unfinished-upload-aborted");
  t.same(
    aborted.map((e) => e["key"]),
    [`${own}segments/dead`, `${own}segments/young`],
    "one event line per aborted upload, with its key",
  );
  t.match(
    events.find((e) => e["event"] === "unfinished-uploads"),
    { aborted: 1, kept: 1, more: false },
  );
  t.match(
    renderAgentMetrics(stats, identity, { newestSegmentMs: undefined, restorable: undefined }, clock),
    /^cassandra_pitr_unfinished_uploads_aborted_total\{cluster="mp",node="[0-9a-f-]{36}"\} 2$/m,
    "the metrics count them",
  );
});

t.test("credentials without the actions: one failure line with a hint, counted, nothing else", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "pitr-unfinished-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const logFile = join(dir, "events.log");
  const denied: UnfinishedUploads = {
    // eslint-disable-next-line require-yield
    async *list() {
      throw new AccessDeniedError("s3://b/p", "list unfinished uploads of 'x': AccessDenied (HTTP 403)");
    },
    lastPartAt: async () => undefined,
    abort: async () => undefined,
  };
  const stats = await runAgent(
    {
      backend: await backendWith(denied),
      identity,
      spoolDir: join(dir, "spool"),
      parallelism: 1,
      compressionLevel: 1,
      compressionThreads: 0,
      sweepMinAgeMs: 600_000,
      logFile,
    },
    { once: true, intervalMs: 10_000 },
  );
  t.equal(stats.failures, 1, "counted as a failure (agent --once exits 3)");
  t.equal(stats.uploadsAborted, 0);
  const lines = (await readFile(logFile, "utf8")).trim().split("\n");
  t.equal(lines.length, 1, "one event line");
  t.match(JSON.parse(lines[0]!), {
    event: "unfinished-uploads-failed",
    error: /AccessDenied/,
    hint: /s3:ListBucketMultipartUploads.*docs\/policies\/s3-agent.json/,
  });
});

t.test(
  "while the storage health mark is set the check waits; it runs once storage answers again",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pitr-unfinished-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const spoolDir = join(dir, "spool");
    await setHealthMark(spoolDir, "connect ETIMEDOUT", "test");
    const { api, calls } = scripted([upload(`${own}segments/dead`, "dead", 2 * HOUR)]);
    const healthy = await backendWith(api);
    let down = true;
    const backend: Backend = {
      ...healthy,
      // The agent's probe: an outage while `down`, so the pass keeps the mark.
      head: (k, o) =>
        down
          ? Promise.reject(new TransientStorageError("mem://x", `head '${k}': ETIMEDOUT`))
          : healthy.head(k, o),
    };
    const options = {
      backend,
      identity,
      spoolDir,
      parallelism: 1,
      compressionLevel: 1,
      compressionThreads: 0,
      sweepMinAgeMs: 600_000,
      now: () => NOW,
    };
    const marked = await runAgent(options, { once: true, intervalMs: 10_000 });
    t.equal(calls.list, 0, "no listing while the mark says storage is down");
    t.equal(marked.uploadsAborted, 0);
    down = false;
    const back = await runAgent(options, { once: true, intervalMs: 10_000 });
    t.equal(back.uploadsAborted, 1, "the pass clears the mark, then the check aborts the dead upload");
  },
);
