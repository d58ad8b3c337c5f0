/**
 * The HTML report in a real browser: headless Chromium loads the page from a file:// URL, and the
 * DOM it builds must hold the SVG charts and the figures; a screenshot is written for a person to look
 * at (.tmp/report-screenshot.png). Needs Debian's `chromium` package (apt-get install -y chromium);
 * without it the test skips locally and FAILS when CI is set.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { buildReport } from "../../src/report/model.js";
import { renderHtml } from "../../src/report/render-html.js";
import { scenarioInput } from "./scenario.js";

const run = promisify(execFile);

function findChromium(): string | undefined {
  const env = process.env["CHROMIUM"];
  if (env && existsSync(env)) return env;
  for (const p of [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
  ])
    if (existsSync(p)) return p;
  return undefined;
}

const chromium = findChromium();
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

t.test(
  "HTML report in headless Chromium: charts and figures in the DOM, screenshot",
  { skip: !chromium && !process.env["CI"] ? "chromium not installed (apt-get install -y chromium)" : false },
  async (t) => {
    if (!chromium) {
      t.fail("chromium is required when CI is set: apt-get install -y chromium");
      return;
    }
    const model = buildReport(scenarioInput());
    const html = renderHtml(model);
    t.notMatch(
      html,
      /<script|<link|src=|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/,
      "self-contained: no scripts, links or external resources",
    );
    const dir = await mkdtemp(join(tmpdir(), "pitr-report-html-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "report.html");
    await writeFile(file, html);
    const profile = join(dir, "profile");
    const { stdout: dom } = await run(
      chromium,
      [...FLAGS, `--user-data-dir=${profile}`, "--dump-dom", `file://${file}`],
      { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
    );
    t.equal((dom.match(/<svg class="rpo-chart"/g) ?? []).length, 3, "one RPO chart per node");
    t.equal((dom.match(/<svg class="timeline-chart"/g) ?? []).length, 3, "one segment timeline per node");
    t.match(dom, /id="rpo-prod-node-a"/);
    t.match(dom, /class="target-line"/);
    t.match(dom, /class="rpo-line" d="M/);
    t.equal((dom.match(/class="worst-window"/g) ?? []).length, 5, "3 + 1 + 1 worst windows marked");
    t.ok((dom.match(/class="gap"/g) ?? []).length >= 1, "the lost segment is drawn on the timeline");
    t.ok((dom.match(/class="no-restore"/g) ?? []).length >= 1, "node-b: nothing restorable is drawn");
    t.match(dom, /<dd>75\.94%<\/dd>/, "node-a share within target");
    t.match(dom, /<dd>1h30m<\/dd>/, "node-a max RPO");
    t.match(dom, /archive-lag<\/td>/);
    t.match(dom, /quiet-segment<\/td>/);
    t.match(dom, /no-snapshot<\/td>/);
    t.match(dom, /node-silent<\/td>/);
    t.match(dom, new RegExp(`<code id="digest">${model.evidence.digest}</code>`));

    await mkdir(resolve(".tmp"), { recursive: true });
    const png = resolve(".tmp/report-screenshot.png");
    await run(
      chromium,
      [
        ...FLAGS,
        `--user-data-dir=${profile}`,
        `--screenshot=${png}`,
        "--window-size=1280,2000",
        `file://${file}`,
      ],
      { timeout: 120_000 },
    );
    t.ok((await stat(png)).size > 20_000, `screenshot written to ${png}`);
  },
);
