/**
 * Archive side: the archive hook exactly as Cassandra runs it (a fresh `node` process per segment),
 * in spool mode and uploading to file://, s3 (MinIO), gs (fake-gcs-server) and az (Azurite), beside
 * baselines on the same segments; and zstd compression ratio and speed.
 */
import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { compress, decompress } from "zstd-napi";
import { SegmentScan } from "../src/pipeline/scan.js";
import { ZstdFileChunks } from "../src/pipeline/zstd-file.js";
import { decryptStream, encryptStream } from "../src/storage/decorators/encrypt.js";
import { openBackend } from "../src/storage/open.js";
import { cmd, type Table } from "./report.js";
import { fmt, median, MiB, runChild, summarize, type ChildRun, type Summary } from "./measure.js";

export interface SegmentSetInfo {
  readonly label: string;
  readonly files: readonly string[];
  readonly sizeMiB: number;
  readonly description: string;
  /** Measured rounds for this set, when not the run's default. */
  readonly runs?: number;
}

export interface ArchiveBenchOptions {
  readonly repo: string;
  readonly work: string;
  readonly runs: number;
  readonly warmup: number;
  /** scheme → archive URL base and env for the emulators; absent schemes are skipped with a note. */
  readonly remote: {
    readonly scheme: "s3" | "gs" | "az";
    readonly url: string;
    readonly env: Record<string, string>;
  }[];
  readonly remoteNote: string | undefined;
  readonly log: (line: string) => void;
}

interface Config {
  readonly name: string;
  readonly command: string;
  readonly kind: "baseline" | "hook";
  /** Runs once; `i` is the run number. Returns the measurement. */
  readonly run: (seg: string, i: number) => Promise<ChildRun>;
  readonly cleanup?: (() => Promise<void>) | undefined;
}

function hookEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CASSANDRA_PITR_")) env[k] = v;
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...extra };
}

/**
 * Runs every config once per round, round after round (interleaved), so that load from other work
 * on the machine drifts over all rows alike instead of landing on whichever row ran at the time.
 */
async function measureInterleaved(
  configs: readonly Config[],
  files: readonly string[],
  runs: number,
  warmup: number,
  log: (l: string) => void,
): Promise<Map<string, Summary>> {
  const out = new Map<string, ChildRun[]>(configs.map((c) => [c.name, []]));
  for (let i = 0; i < warmup + runs; i++) {
    if (i % 10 === 0) log(`    round ${i + 1}/${warmup + runs}`);
    for (const c of configs) {
      const r = await c.run(files[i % files.length]!, i);
      if (i >= warmup) out.get(c.name)!.push(r);
    }
  }
  for (const c of configs) await c.cleanup?.();
  return new Map([...out].map(([k, v]) => [k, summarize(v)]));
}

export async function benchArchive(
  set: SegmentSetInfo,
  o: ArchiveBenchOptions,
): Promise<{ table: Table; results: Map<string, Summary> }> {
  const w = join(o.work, `archive-${set.label}`);
  await rm(w, { recursive: true, force: true });
  await mkdir(w, { recursive: true });
  const scratch = w;
  const hook = join(o.repo, "dist/bin/archive-hook.js");
  const node = process.execPath;
  const out = (i: number) => join(w, `out-${i}`);
  const rmOut = async () => {
    await rm(w, { recursive: true, force: true });
    await mkdir(w, { recursive: true });
  };
  const base = { scratch, cwd: o.repo };
  const stamp = Date.now().toString(36);

  const configs: Config[] = [
    {
      name: "bare node start",
      kind: "baseline",
      command: `node -e ''`,
      run: () => runChild(node, ["-e", ""], base),
    },
    {
      name: "cp",
      kind: "baseline",
      command: `cp $SEG $OUT`,
      run: async (seg, i) => {
        const r = await runChild("cp", [seg, out(i)], base);
        await rm(out(i), { force: true });
        return r;
      },
    },
    {
      name: "cp + fsync",
      kind: "baseline",
      command: `sh -c 'cp $SEG $OUT && sync $OUT'`,
      run: async (seg, i) => {
        const r = await runChild("sh", ["-c", 'cp "$1" "$2" && sync "$2"', "sh", seg, out(i)], base);
        await rm(out(i), { force: true });
        return r;
      },
    },
    {
      name: "zstd -1 + write",
      kind: "baseline",
      command: `zstd -1 -q -f $SEG -o $OUT`,
      run: async (seg, i) => {
        const r = await runChild("zstd", ["-1", "-q", "-f", seg, "-o", out(i)], base);
        await rm(out(i), { force: true });
        return r;
      },
    },
    {
      name: "zstd -1 | cp",
      kind: "baseline",
      command: `sh -c 'zstd -1 -q -c $SEG | cp /dev/stdin $OUT'`,
      run: async (seg, i) => {
        const r = await runChild(
          "sh",
          ["-c", 'zstd -1 -q -c "$1" | cp /dev/stdin "$2"', "sh", seg, out(i)],
          base,
        );
        await rm(out(i), { force: true });
        return r;
      },
    },
    {
      name: "zstd -1 + write + fsync",
      kind: "baseline",
      command: `sh -c 'zstd -1 -q -f $SEG -o $OUT && sync $OUT'`,
      run: async (seg, i) => {
        const r = await runChild(
          "sh",
          ["-c", 'zstd -1 -q -f "$1" -o "$2" && sync "$2"', "sh", seg, out(i)],
          base,
        );
        await rm(out(i), { force: true });
        return r;
      },
    },
    {
      name: "hook, spool mode",
      kind: "hook",
      command: `CASSANDRA_PITR_HOOK_MODE=spool CASSANDRA_PITR_SPOOL_DIR=$W/spool-$i CASSANDRA_PITR_CLUSTER=bench CASSANDRA_PITR_NODE=run-$i node dist/bin/archive-hook.js $SEG $NAME`,
      run: async (seg, i) => {
        const spool = join(w, `spool-${i}`);
        const r = await runChild(node, [hook, seg, basename(seg)], {
          ...base,
          env: hookEnv({
            CASSANDRA_PITR_HOOK_MODE: "spool",
            CASSANDRA_PITR_SPOOL_DIR: spool,
            CASSANDRA_PITR_CLUSTER: "bench",
            CASSANDRA_PITR_NODE: `run-${i}`,
          }),
        });
        await rm(spool, { recursive: true, force: true });
        return r;
      },
    },
  ];

  const fileArchive = join(w, "archive");
  const uploadConfig = (
    scheme: string,
    url: string,
    env: Record<string, string>,
    prep?: () => Promise<void>,
    cleanup?: () => Promise<void>,
  ): Config => ({
    name: `hook, upload to ${scheme}`,
    kind: "hook",
    command:
      `CASSANDRA_PITR_ARCHIVE=${scheme === "file://" ? "file://$W/archive" : url.replace(/\/bench-[a-z0-9]+$/, "/bench-$RUN")} CASSANDRA_PITR_SPOOL_FALLBACK=false ` +
      `CASSANDRA_PITR_CLUSTER=bench CASSANDRA_PITR_NODE=run-$i node dist/bin/archive-hook.js $SEG $NAME`,
    run: async (seg, i) => {
      if (i === 0) await prep?.();
      return runChild(node, [hook, seg, basename(seg)], {
        ...base,
        env: hookEnv({
          ...env,
          CASSANDRA_PITR_ARCHIVE: url,
          CASSANDRA_PITR_SPOOL_FALLBACK: "false", // a failed upload must fail the run, not be timed as a spool
          CASSANDRA_PITR_SPOOL_DIR: join(w, "never-used-spool"),
          CASSANDRA_PITR_CLUSTER: "bench",
          CASSANDRA_PITR_NODE: `run-${i}`, // a new key every run: every run is a first upload
        }),
      });
    },
    cleanup,
  });
  configs.push(
    uploadConfig(
      "file://",
      `file://${fileArchive}`,
      {},
      () => mkdir(fileArchive, { recursive: true }).then(() => undefined),
      async () => {
        await rm(fileArchive, { recursive: true, force: true });
      },
    ),
  );
  for (const r of o.remote) {
    const url = `${r.url.replace(/\/+$/, "")}/bench-${stamp}-${set.label}`;
    configs.push(
      uploadConfig(`${r.scheme}:// (emulator)`, url, r.env, undefined, async () => {
        // Remove what the runs uploaded so the emulators' disks do not fill up.
        const saved = { ...process.env };
        Object.assign(process.env, r.env);
        try {
          const backend = await openBackend(url);
          const keys: string[] = [];
          for await (const info of backend.list("")) keys.push(info.key);
          for (const k of keys) await backend.delete(k);
          await backend.close();
        } catch (err) {
          o.log(`  cleanup of ${url} failed: ${(err as Error).message}`);
        } finally {
          for (const k of Object.keys(r.env))
            if (saved[k] === undefined) delete process.env[k];
            else process.env[k] = saved[k];
        }
      }),
    );
  }

  o.log(`  ${set.label}: ${configs.length} rows × ${o.runs} runs, interleaved`);
  await rmOut();
  const results = await measureInterleaved(configs, set.files, o.runs, o.warmup, o.log);

  const nodeP50 = results.get("bare node start")!.p50Ms;
  const zstdFsync = results.get("zstd -1 + write + fsync")!.p50Ms;
  const zstdPlain = results.get("zstd -1 + write")!.p50Ms;
  const rows = configs.map((c) => {
    const s = results.get(c.name)!;
    return [
      c.name,
      cmd(c.command),
      String(s.runs),
      fmt(s.p50Ms),
      fmt(s.p95Ms),
      fmt(s.cpuP50Ms),
      fmt(s.peakRssMiB),
      fmt(s.p50Ms / nodeP50, 2),
      fmt(s.p50Ms / zstdFsync, 2),
    ];
  });
  const table: Table = {
    title: `Archive hook per segment — ${set.description}`,
    intro: [
      `Segments: ${set.files.length} file(s) of ${set.sizeMiB} MiB used round-robin (${set.files.map((f) => "`" + basename(f) + "`").join(", ")}); ` +
        `${o.warmup} unmeasured warm-up round(s) then ${o.runs} measured rounds; each round runs every row once, in table order (interleaved, so drifting load from other work hits all rows alike). Files are in the page cache (warm reads). ` +
        `$W is a scratch directory on the same filesystem as the segments; every hook run writes a new key (CASSANDRA_PITR_NODE=run-$i) or a new spool directory, so no run is a re-archive. ` +
        `Wall time is measured by the runner from spawn to exit; peak RSS and CPU time (user + system, every thread, 10 ms steps) are the child's (\`/usr/bin/time -f '%M %U %S'\`, which wraps every row alike).`,
    ],
    header: [
      "what",
      "command (timed)",
      "runs",
      "p50 ms",
      "p95 ms",
      "CPU ms p50",
      "peak RSS MiB",
      "p50 / node start",
      "p50 / (zstd -1 + write + fsync)",
    ],
    rows,
    notes: [],
  };
  void zstdPlain;
  return { table, results };
}

const HOOK_THREADS = [0, 2] as const;

/**
 * The parts of a direct upload, timed in this process per segment (median of `repeats` after one
 * warm-up, so with a warm JIT, unlike the hook's single cold run): the validator alone (sha256 and
 * classification with every entry CRC, reading the file itself), the compressor alone, and both in
 * one pass as the file:// hook runs them (the validator observing the compressor's chunks while
 * zstd's workers compress). CPU time is this process's user + system time over the same runs.
 */
export async function benchHookParts(sets: readonly SegmentSetInfo[], repeats: number): Promise<Table> {
  const rows: string[][] = [];
  for (const set of sets) {
    const parts: { what: string; run: (fd: number, size: number, name: string) => Promise<void> }[] = [
      {
        what: "validator: `SegmentScan.finish()` (sha256 + sync markers + every entry CRC)",
        run: async (fd, size, name) => void new SegmentScan(name, fd, size).finish(),
      },
      ...HOOK_THREADS.map((threads) => ({
        what: `compressor: \`ZstdFileChunks\`, level 1, compressionThreads ${threads}, output discarded`,
        run: async (fd: number, size: number) => {
          for await (const chunk of new ZstdFileChunks(fd, size, { level: 1, threads })) void chunk;
        },
      })),
      {
        what: "compressor (2 threads) then aes-256-gcm: `encryptStream`, 64 KiB chunks, as the hook with `encryption: aes-256-gcm`",
        run: async (fd, size) => {
          for await (const chunk of encryptStream(
            BENCH_KEY,
            new ZstdFileChunks(fd, size, { level: 1, threads: 2 }),
          ))
            void chunk;
        },
      },
      {
        what: "aes-256-gcm alone, reading: `decryptStream` of the encrypted compressed segment (every chunk authenticated), as a restore",
        run: async (fd, size, name) => {
          const sealed = encryptedObjects.get(name) ?? (await sealedCopy(fd, size, name));
          for await (const chunk of decryptStream(Readable.from([sealed]), {
            location: "bench",
            key: name,
            keys: { current: BENCH_KEY, retired: [] },
          }))
            void chunk;
        },
      },
      {
        what: "one pass: compressor (2 threads) with the validator observing each chunk, as the file:// hook does",
        run: async (fd, size, name) => {
          const scan = new SegmentScan(name, fd, size);
          for await (const chunk of new ZstdFileChunks(fd, size, {
            level: 1,
            threads: 2,
            onInput: (b, o) => scan.observe(b, o),
          }))
            void chunk;
          scan.finish();
        },
      },
    ];
    for (const part of parts) {
      const wall: number[] = [];
      const cpu: number[] = [];
      for (const f of set.files) {
        const handle = await open(f, "r");
        try {
          const size = (await handle.stat()).size;
          for (let r = 0; r < repeats + 1; r++) {
            const c0 = process.cpuUsage();
            const t = process.hrtime.bigint();
            await part.run(handle.fd, size, basename(f));
            const ms = Number(process.hrtime.bigint() - t) / 1e6;
            const c = process.cpuUsage(c0);
            if (r > 0) {
              wall.push(ms);
              cpu.push((c.user + c.system) / 1000);
            }
          }
        } finally {
          await handle.close();
        }
      }
      const w = median(wall);
      rows.push([set.description, part.what, fmt(w), fmt(median(cpu)), fmt(set.sizeMiB / (w / 1000), 0)]);
    }
  }
  return {
    title: "The hook's per-segment work, in process",
    intro: [
      `Median per segment over ${repeats} repetitions on every segment of the set, after one warm-up each (warm JIT and page cache; the hook itself runs once, cold). ` +
        "CPU ms is user + system time of this process, all threads, over the same call. Produced by `benchHookParts` in bench/archive.ts.",
    ],
    header: ["data", "part", "wall ms p50", "CPU ms p50", "MiB/s"],
    rows,
    notes: [],
  };
}

/** A fixed key: the benchmark measures the cipher, not key handling. */
const BENCH_KEY = { id: "bench0000000000", key: Buffer.alloc(32, 7) };
/** Each segment compressed and encrypted once (in the warm-up round), for the decryption row. */
const encryptedObjects = new Map<string, Buffer>();

async function sealedCopy(fd: number, size: number, name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of encryptStream(BENCH_KEY, new ZstdFileChunks(fd, size, { level: 1, threads: 2 })))
    parts.push(chunk);
  const sealed = Buffer.concat(parts);
  encryptedObjects.set(name, sealed);
  return sealed;
}

/** Median wall time of the hook's compressor over one file (after one warm-up), and its output size. */
async function timeHookCompressor(
  file: string,
  threads: number,
  repeats: number,
): Promise<{ bytes: number; ms: number }> {
  const handle = await open(file, "r");
  try {
    const size = (await handle.stat()).size;
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < repeats + 1; r++) {
      const body = new ZstdFileChunks(handle.fd, size, { level: 1, threads });
      const t = process.hrtime.bigint();
      for await (const chunk of body) void chunk;
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      bytes = body.compressedBytes;
      if (r > 0) times.push(ms);
    }
    return { bytes, ms: median(times) };
  } finally {
    await handle.close();
  }
}

/** In-process zstd-napi level 1 (one call, and the hook's streaming compressor) vs the zstd CLI -1, on each segment set. */
export async function benchCompression(
  sets: readonly SegmentSetInfo[],
  work: string,
  repeats: number,
): Promise<Table> {
  const rows: string[][] = [];
  await mkdir(work, { recursive: true });
  for (const set of sets) {
    let orig = 0;
    let napiBytes = 0;
    let napiMs = 0;
    let napiDecMs = 0;
    // The hook's own compressor (ZstdFileChunks: 1 MiB reads from the file, lent output), per thread count.
    const hookRuns = HOOK_THREADS.map((threads) => ({ threads, bytes: 0, ms: 0 }));
    let cliBytes = 0;
    let cliMs = 0;
    let cliDecMs = 0;
    for (const f of set.files) {
      const bytes = await readFile(f);
      orig += bytes.length;
      const ct: number[] = [];
      const dt: number[] = [];
      let c: Buffer = Buffer.alloc(0);
      for (let r = 0; r < repeats + 1; r++) {
        let t = process.hrtime.bigint();
        c = compress(bytes, { compressionLevel: 1 });
        const cms = Number(process.hrtime.bigint() - t) / 1e6;
        t = process.hrtime.bigint();
        const d = decompress(c);
        const dms = Number(process.hrtime.bigint() - t) / 1e6;
        if (d.length !== bytes.length) throw new Error("zstd-napi round trip changed the size");
        if (r > 0) {
          ct.push(cms);
          dt.push(dms);
        }
      }
      napiBytes += c.length;
      napiMs += median(ct);
      napiDecMs += median(dt);
      for (const h of hookRuns) {
        const timed = await timeHookCompressor(f, h.threads, repeats);
        h.bytes += timed.bytes;
        h.ms += timed.ms;
      }
      const out = join(work, "cli.zst");
      const back = join(work, "cli.back");
      const cr: number[] = [];
      const dr: number[] = [];
      for (let r = 0; r < repeats + 1; r++) {
        const a = await runChild("zstd", ["-1", "-q", "-f", f, "-o", out], { scratch: work });
        const b = await runChild("zstd", ["-d", "-q", "-f", out, "-o", back], { scratch: work });
        if (r > 0) {
          cr.push(a.wallMs);
          dr.push(b.wallMs);
        }
      }
      cliBytes += (await stat(out)).size;
      cliMs += median(cr);
      cliDecMs += median(dr);
      await rm(out, { force: true });
      await rm(back, { force: true });
    }
    const mib = orig / MiB;
    // zstd's own in-memory benchmark (no process start, no file I/O): the codec speed of the CLI.
    const b = await runBench(set.files);
    rows.push(
      [
        set.description,
        "zstd-napi level 1, in process, one call (`compress`/`decompress`; restore decompresses this way)",
        fmt(orig / napiBytes, 2),
        fmt(mib / (napiMs / 1000), 0),
        fmt(mib / (napiDecMs / 1000), 0),
      ],
      ...hookRuns.map((h) => [
        set.description,
        `the hook's compressor, level 1, compressionThreads ${h.threads} (\`ZstdFileChunks\`: the file read 1 MiB at a time, output discarded)`,
        fmt(orig / h.bytes, 2),
        fmt(mib / (h.ms / 1000), 0),
        "—",
      ]),
      [
        set.description,
        "zstd CLI: " +
          cmd("zstd -1 -q -f $SEG -o $OUT") +
          " / " +
          cmd("zstd -d -q -f $OUT -o $BACK") +
          " (wall, includes process start and file write)",
        fmt(orig / cliBytes, 2),
        fmt(mib / (cliMs / 1000), 0),
        fmt(mib / (cliDecMs / 1000), 0),
      ],
    );
    if (b)
      rows.push([
        set.description,
        "zstd CLI in-memory benchmark: " + cmd("zstd -b1 -i3 $SEGS") + " (its MB/s converted to MiB/s)",
        fmt(b.ratio, 2),
        fmt(b.compress, 0),
        fmt(b.decompress, 0),
      ]);
  }
  return {
    title: "Compression on real segments",
    intro: [
      `Median of ${repeats} repetitions per segment (after one warm-up), summed over the segments of each set. MiB/s is original (uncompressed) MiB per second; ratio = original bytes / compressed bytes.`,
    ],
    header: ["data", "codec", "ratio", "compress MiB/s", "decompress MiB/s"],
    rows,
    notes: [],
  };
}

async function runBench(
  files: readonly string[],
): Promise<{ ratio: number; compress: number; decompress: number } | undefined> {
  const { execFile } = await import("node:child_process");
  const text = await new Promise<string>((done) => {
    execFile("zstd", ["-b1", "-i3", ...files], { maxBuffer: 1 << 20 }, (_err, stdout, stderr) =>
      done(`${stdout}\n${stderr}`),
    );
  });
  const lines = text.split(/[\r\n]+/).filter((l) => /MB\/s.*MB\/s/.test(l));
  const m = /\(x?([\d.]+)\),\s*([\d.]+) MB\/s,\s*([\d.]+) MB\/s/.exec(lines.at(-1) ?? "");
  if (!m) return undefined;
  const toMiB = 1e6 / MiB;
  return { ratio: Number(m[1]), compress: Number(m[2]) * toMiB, decompress: Number(m[3]) * toMiB };
}
