/**
 * `npm run bench`: measured speed of the archive and restore paths against baselines on the same
 * data, written to BENCHMARKS.md. Separate from the test suite; nothing here asserts a time.
 *
 *   node build/bench/bench/main.js [--quick] [--runs N] [--out FILE] [--no-remote] [--no-32mib] [--no-128mib]
 *   node build/bench/bench/main.js --restore-only [--window N]   (npm run bench -- --restore-only)
 *   node build/bench/bench/main.js [--rto | --rto-only] [--mib N]  (npm run bench -- --rto)
 *
 * --restore-only measures the restore fetch throughput alone (a window of N real 32 MiB segments,
 * default 16) and replaces that subsection of the existing BENCHMARKS.md, saying when it ran.
 * --rto adds, after everything else, the end-to-end recovery time on a real Cassandra node
 * (bench/rto.ts: N MiB of commit log after a snapshot, default 1024; several minutes); --rto-only
 * runs that alone. Without either, a full run keeps the RTO subsection of the previous file.
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { benchArchive, benchCompression, benchHookParts, type SegmentSetInfo } from "./archive.js";
import { fmt, type Summary } from "./measure.js";
import { renderTable, type Table } from "./report.js";
import { benchReport } from "./report-model.js";
import { benchFetch, benchPlanning } from "./restore.js";
import { benchPartials } from "./partials.js";
import { ensureSegments, listSegments } from "./segments.js";

const run = promisify(execFile);
// Compiled by bench/tsconfig.json to build/bench/bench/main.js: the repository is three levels up.
const REPO = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const value = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag("--quick");
const runs = Number(value("--runs") ?? (quick ? 5 : 30));
const outFile = resolve(REPO, value("--out") ?? "BENCHMARKS.md");
const log = (line: string) => process.stderr.write(line + "\n");

async function sh(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(file, args, { cwd: REPO, maxBuffer: 1 << 24 });
}

async function machine(): Promise<string[]> {
  const zstd = (await sh("zstd", ["-V"]).catch(() => ({ stdout: "zstd: not found" }))).stdout.trim();
  const napi = JSON.parse(
    (await import("node:fs")).readFileSync(join(REPO, "node_modules/zstd-napi/package.json"), "utf8"),
  ) as { version: string };
  const fs =
    (await sh("df", ["-T", REPO]).catch(() => ({ stdout: "" }))).stdout
      .trim()
      .split("\n")
      .at(-1)
      ?.split(/\s+/)[1] ?? "?";
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.availableParallelism()} CPUs (nproc), ${os.cpus()[0]?.model ?? "?"}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB RAM, Linux ${os.release()}, repo on ${fs}`,
    `- node ${process.version}; zstd-napi ${napi.version}; ${zstd}`,
    `- load average at start: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} (other work on the machine shows up in these figures)`,
  ];
}

async function emulators(): Promise<{
  remote: { scheme: "s3" | "gs" | "az"; url: string; env: Record<string, string> }[];
  startedByUs: boolean;
  note: string | undefined;
}> {
  if (flag("--no-remote"))
    return { remote: [], startedByUs: false, note: "s3/gs/az rows skipped (--no-remote)" };
  const status = await sh("bash", ["scripts/emulators.sh", "status"]).catch((e: { stderr?: string }) => ({
    stdout: "",
    stderr: e.stderr ?? "",
  }));
  const running = (status.stderr.match(/ running /g) ?? []).length;
  let startedByUs = false;
  if (running < 3) {
    log("starting the storage emulators (scripts/emulators.sh start) ...");
    try {
      await sh("bash", ["scripts/emulators.sh", "start"]);
      startedByUs = true;
    } catch (err) {
      return {
        remote: [],
        startedByUs: false,
        note: `s3/gs/az rows skipped: scripts/emulators.sh start failed: ${String(
          (err as { stderr?: string }).stderr ?? err,
        )
          .split("\n")
          .slice(-3)
          .join(" ")}`,
      };
    }
  }
  const env: Record<string, string> = {};
  for (const line of (await sh("bash", ["scripts/emulators.sh", "env"])).stdout.split("\n")) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  const remote = [
    { scheme: "s3" as const, url: env["PITR_TEST_S3_URL"]!, env },
    { scheme: "gs" as const, url: env["PITR_TEST_GCS_URL"]!, env },
    { scheme: "az" as const, url: env["PITR_TEST_AZURE_URL"]!, env },
  ];
  return { remote, startedByUs, note: undefined };
}

function verdict(ok: boolean): string {
  return ok ? "**met**" : "**missed**";
}

function targets(results: Map<string, Map<string, Summary>>, sets: readonly SegmentSetInfo[]): string[] {
  const lines: string[] = [];
  for (const set of sets) {
    const r = results.get(set.label)!;
    const node = r.get("bare node start")!;
    const spool = r.get("hook, spool mode")!;
    const file = r.get("hook, upload to file://")!;
    const zf = r.get("zstd -1 + write + fsync")!;
    const z = r.get("zstd -1 + write")!;
    const limit = 1.5 * node.p50Ms;
    lines.push(
      `- ${set.description}: spool mode p50 ${fmt(spool.p50Ms)} ms vs 1.5 × bare node start (${fmt(node.p50Ms)} ms) = ${fmt(limit)} ms: ${verdict(spool.p50Ms <= limit)}` +
        (spool.p50Ms <= limit
          ? ""
          : ` (${fmt(spool.p50Ms / node.p50Ms, 2)}× node start, ${fmt(spool.p50Ms - limit)} ms over)`) +
        `; peak RSS ${fmt(spool.peakRssMiB)} MiB vs 80 MiB: ${verdict(spool.peakRssMiB < 80)}.`,
      `- ${set.description}: upload to file:// p50 ${fmt(file.p50Ms)} ms vs 1.5 × (zstd -1 + write + fsync) = ${fmt(1.5 * zf.p50Ms)} ms: ${verdict(file.p50Ms <= 1.5 * zf.p50Ms)}` +
        (file.p50Ms <= 1.5 * zf.p50Ms ? "" : ` (${fmt(file.p50Ms / zf.p50Ms, 2)}×)`) +
        `; vs 1.5 × (zstd -1 + write, no fsync) = ${fmt(1.5 * z.p50Ms)} ms: ${verdict(file.p50Ms <= 1.5 * z.p50Ms)}` +
        (file.p50Ms <= 1.5 * z.p50Ms ? "" : ` (${fmt(file.p50Ms / z.p50Ms, 2)}×)`) +
        `. CPU time p50: hook ${fmt(file.cpuP50Ms)} ms (${fmt(file.cpuP50Ms / file.p50Ms, 2)} cores over its wall time), of which a bare node start is ${fmt(node.cpuP50Ms)} ms; zstd -1 + write + fsync ${fmt(zf.cpuP50Ms)} ms.`,
    );
  }
  // Memory: the hook rows' peak RSS from one segment size to the next.
  for (let i = 1; i < sets.length; i++) {
    const [small, big] = [results.get(sets[i - 1]!.label)!, results.get(sets[i]!.label)!];
    const names = [...big.keys()].filter((n) => n.startsWith("hook"));
    const deltas = names.map((n) => ({ n, d: big.get(n)!.peakRssMiB - (small.get(n)?.peakRssMiB ?? NaN) }));
    const worst = deltas.reduce((a, b) => (b.d > a.d ? b : a));
    lines.push(
      `- Memory independent of segment size (streaming), taken as: peak RSS with ${sets[i]!.sizeMiB} MiB segments within 8 MiB of that with ${sets[i - 1]!.sizeMiB} MiB segments, for every hook row: ${verdict(worst.d <= 8)}. ` +
        `Growth per row: ${deltas.map((x) => `${x.n.replace("hook, ", "")} ${x.d >= 0 ? "+" : ""}${fmt(x.d)} MiB`).join("; ")}.`,
    );
  }
  return lines;
}

const WINDOW = Number(value("--window") ?? 16);
const FETCH_HEADING = "### Restore fetch throughput";

/** The restore fetch table alone, written into the existing file in place of the previous one. */
async function restoreOnly(): Promise<void> {
  const started = Date.now();
  const work = join(REPO, ".tmp/bench");
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const header = await machine();
  const window = await ensureSegments(REPO, 32, WINDOW, log);
  const set: SegmentSetInfo = {
    label: "32mib",
    files: window.files,
    sizeMiB: 32,
    description: `a window of ${window.files.length} 32 MiB segments (real Cassandra 5.0.9, .cache/bench-segments)`,
  };
  log("restore fetch ...");
  const table = await benchFetch(set, { repo: REPO, work, repeats: quick ? 1 : 3, parallelism: 4, log });
  await rm(work, { recursive: true, force: true });
  const minutes = (Date.now() - started) / 60_000;
  const section =
    [
      renderTable({
        ...table,
        intro: [
          `Measured by \`npm run bench -- --restore-only --window ${WINDOW}\` (this subsection only; the rest of the file comes from the last full run). ` +
            header.map((l) => l.replace(/^- /, "")).join("; ") +
            `; load average at end: ${os
              .loadavg()
              .map((l) => l.toFixed(2))
              .join(" ")}; ${fmt(minutes, 1)} min.`,
          ...table.intro,
        ],
      }),
    ].join("\n") + "\n";
  const current = await readFile(outFile, "utf8");
  const from = current.indexOf(FETCH_HEADING);
  // Up to the next heading: the RTO subsection (bench/rto.ts) that may follow is kept.
  const next = /\n##+ /.exec(current.slice(from + FETCH_HEADING.length));
  const to = next ? from + FETCH_HEADING.length + next.index + 1 : -1;
  if (from < 0 || to < from)
    throw new Error(
      `${outFile} has no '${FETCH_HEADING}' subsection before '## Other parts': run the full bench`,
    );
  await writeFile(outFile, current.slice(0, from) + section + current.slice(to));
  log(`replaced the restore fetch subsection of ${outFile} in ${fmt(minutes, 1)} min`);
}

const PARTIALS_HEADING = "### Partial segments";
const partialSeconds = Number(value("--partial-seconds") ?? (quick ? 60 : 180));

/** The partial segments table alone, written in place of the previous one (or before "## Other parts"). */
async function partialsOnly(): Promise<void> {
  const work = join(REPO, ".tmp/bench");
  await mkdir(work, { recursive: true });
  const table = await benchPartials({ repo: REPO, work, seconds: partialSeconds, log });
  const header = (await machine()).map((l) => l.replace(/^- /, "")).join("; ");
  const section = renderTable({ ...table, intro: [`Run: ${header}.`, ...table.intro] });
  const current = await readFile(outFile, "utf8");
  const from = current.indexOf(PARTIALS_HEADING);
  const next = from < 0 ? null : /\n##+ /.exec(current.slice(from + PARTIALS_HEADING.length));
  const updated =
    from >= 0
      ? current.slice(0, from) +
        section +
        (next ? current.slice(from + PARTIALS_HEADING.length + next.index + 1) : "")
      : current.replace("## Restore\n", `${section}## Restore\n`);
  await writeFile(outFile, updated);
  log(`wrote the partial segments subsection of ${outFile}`);
}

async function main(): Promise<void> {
  if (flag("--restore-only")) return restoreOnly();
  if (flag("--partials-only")) return partialsOnly();
  const started = Date.now();
  const work = join(REPO, ".tmp/bench"); // same filesystem as the segments: the spool hard-links them
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const header = await machine();

  const fixtureFiles: string[] = [];
  for (const v of ["v7", "v8"]) {
    for (const f of await listSegments(join(REPO, "fixtures/commitlog/5.0.9", v)))
      if ((await stat(f)).size === 1024 * 1024) fixtureFiles.push(f);
  }
  const sets: SegmentSetInfo[] = [
    {
      label: "1mib",
      files: fixtureFiles,
      sizeMiB: 1,
      description: "1 MiB segments (fixtures/commitlog/5.0.9/{v7,v8}, real Cassandra 5.0.9)",
    },
  ];
  const dataNotes: string[] = [];
  if (!flag("--no-32mib")) {
    const big = await ensureSegments(REPO, 32, 6, log).catch((err: unknown) => {
      dataNotes.push(
        `32 MiB segments could not be generated (${(err as Error).message.split("\n")[0]}); only the 1 MiB fixtures were measured.`,
      );
      return undefined;
    });
    if (big) {
      sets.push({
        label: "32mib",
        files: big.files,
        sizeMiB: 32,
        description: "32 MiB segments (real Cassandra 5.0.9, .cache/bench-segments)",
      });
      dataNotes.push(
        `32 MiB segments: written by a real Cassandra 5.0.9 node (commitlog_segment_size 32MiB, no commit log compression) under an insert load of JSON-like event rows, ` +
          `each closed segment copied out by its archive_command (bench/segments.ts, cached in git-ignored .cache/bench-segments; delete it to regenerate). ` +
          `Files: ${big.files.map((f) => "`" + basename(f) + "`").join(", ")}.`,
      );
    }
    // Whether memory follows the segment size is only visible past the sizes where fixed buffers fill
    // up (zstd's worker jobs, one S3 part): 128 MiB against 32 MiB shows it; fewer rounds, same rows.
    const huge = flag("--no-128mib")
      ? undefined
      : await ensureSegments(REPO, 128, 2, log).catch((err: unknown) => {
          dataNotes.push(
            `128 MiB segments could not be generated (${(err as Error).message.split("\n")[0]}).`,
          );
          return undefined;
        });
    if (huge) {
      sets.push({
        label: "128mib",
        files: huge.files,
        sizeMiB: 128,
        runs: Math.max(3, Math.round(runs / 3)),
        description: "128 MiB segments (real Cassandra 5.0.9, .cache/bench-segments-128mib)",
      });
      dataNotes.push(
        `128 MiB segments: the same load on a node with commitlog_segment_size 128MiB (.cache/bench-segments-128mib). Files: ${huge.files.map((f) => "`" + basename(f) + "`").join(", ")}.`,
      );
    }
  } else dataNotes.push("32 MiB segments skipped (--no-32mib).");

  const emu = await emulators();
  const tables: Table[] = [];
  const results = new Map<string, Map<string, Summary>>();
  let targetLines: string[] = [];
  try {
    log("archive hook ...");
    for (const set of sets) {
      const { table, results: r } = await benchArchive(set, {
        repo: REPO,
        work,
        runs: set.runs ?? runs,
        warmup: 2,
        remote: emu.remote,
        remoteNote: emu.note,
        log,
      });
      results.set(set.label, r);
      tables.push(emu.note ? { ...table, notes: [...table.notes, emu.note] } : table);
    }
    targetLines = targets(results, sets);
  } finally {
    if (emu.startedByUs) {
      log("stopping the storage emulators this run started ...");
      await sh("bash", ["scripts/emulators.sh", "stop"]).catch(() => undefined);
    }
  }

  log("compression ...");
  tables.push(await benchCompression(sets, join(work, "compression"), quick ? 2 : 5));
  tables.push(await benchHookParts(sets, quick ? 2 : 5));
  log("partial segments ...");
  tables.push(await benchPartials({ repo: REPO, work, seconds: partialSeconds, log }));

  log("planning ...");
  const planning = await benchPlanning({
    segments: quick ? 100_000 : 1_000_000,
    repeats: quick ? 2 : 5,
    log,
  });

  log("restore fetch ...");
  const windowSet = flag("--no-32mib")
    ? undefined
    : await ensureSegments(REPO, 32, WINDOW, log).catch(() => undefined);
  const fetchSet = windowSet
    ? {
        label: "32mib",
        files: windowSet.files,
        sizeMiB: 32,
        description: `a window of ${windowSet.files.length} 32 MiB segments (real Cassandra 5.0.9, .cache/bench-segments)`,
      }
    : (sets.find((s) => s.label === "32mib") ?? sets.at(-1)!);
  const fetchTable = await benchFetch(fetchSet, {
    repo: REPO,
    work,
    repeats: quick ? 1 : 3,
    parallelism: 4,
    log,
  });

  log("report bench ...");
  const rows = await benchReport();
  const extra = renderTable({
    title: "Compliance reporting (bench/report-model.ts)",
    intro: ["Figures supplied by `benchReport()` of bench/report-model.ts, run in the same process."],
    header: ["what", "value", "unit", "command"],
    rows: rows.map((r) => [r.name, fmt(r.value, 1), r.unit, "`" + r.command + "`"]),
    notes: [],
  });

  await rm(work, { recursive: true, force: true });
  const minutes = (Date.now() - started) / 60_000;
  const keptRto = await previousRto(); // measured on its own date (its text says when); --rto measures it again
  const md = [
    "# Benchmarks",
    "",
    "Generated by `npm run bench` (bench/main.ts; method in docs/benchmarks.md). Every figure below comes from that one command; " +
      "each row also shows the exact command (or call) that was timed, with `$SEG` the segment file, `$NAME` its file name, `$W`/`$OUT`/`$TARGET` scratch paths " +
      "under .tmp/bench on the same filesystem, and `$i` the run number. Tests never assert times; this is separate from `npm test`.",
    "",
    ...header,
    `- load average at end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(
        " ",
      )}; whole run ${fmt(minutes, 1)} min${quick ? " (--quick: fewer runs, 100,000-key planning archive)" : ""}`,
    "",
    "## Data",
    "",
    `- 1 MiB segments: the ${fixtureFiles.length} full-size real segments of fixtures/commitlog/5.0.9/v7 and v8 (Cassandra 5.0.9).`,
    ...dataNotes.map((n) => `- ${n}`),
    "",
    "## Targets (issue 3 item 8, issue 4 item 7)",
    "",
    ...targetLines,
    ...planning.notes.filter((n) => n.includes("target")).map((n) => `- Planning, ${n}`),
    "",
    "## Archive",
    "",
    ...tables.map(renderTable),
    "## Restore",
    "",
    renderTable({ ...planning, notes: planning.notes.filter((n) => !n.includes("target")) }),
    renderTable(fetchTable),
    ...(keptRto ? [keptRto] : []),
    "## Other parts",
    "",
    extra,
  ].join("\n");
  await writeFile(outFile, md);
  log(`wrote ${outFile} in ${fmt(minutes, 1)} min`);
}

const RTO_HEADING = "### End-to-end recovery time (RTO) on a real node";

/** The RTO subsection of the file as it is (up to the next heading), or "" when it has none. */
async function previousRto(): Promise<string> {
  const current = await readFile(outFile, "utf8").catch(() => "");
  const from = current.indexOf(RTO_HEADING);
  if (from < 0) return "";
  const next = /\n##+ /.exec(current.slice(from + RTO_HEADING.length));
  return current.slice(from, next ? from + RTO_HEADING.length + next.index + 1 : undefined);
}

/** bench/rto.ts in its own process (it is a tap test on a real node); it rewrites its subsection of `outFile`. */
async function rto(): Promise<void> {
  log("end-to-end RTO on a real Cassandra node (bench/rto.ts) ...");
  const child = spawn(
    process.execPath,
    [join(REPO, "build/bench/bench/rto.js"), "--mib", value("--mib") ?? "1024", "--out", outFile],
    { cwd: REPO, stdio: ["ignore", "inherit", "inherit"] },
  );
  const code = await new Promise<number | null>((done) => child.on("exit", done));
  if (code !== 0) throw new Error(`bench/rto.ts failed (exit ${code})`);
}

if (flag("--rto-only")) await rto();
else {
  await main();
  if (flag("--rto")) await rto();
}
