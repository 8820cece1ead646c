/**
 * Every committed notebook: stored clean, shaped as the style guide says, and executed end to
 * end through the in-process runner (its Checks cells assert the numbers its prose quotes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, existsSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../lib/paths";
import { readNotebook, cellSource, listParameters, findTaggedCell } from "../lib/notebook";
import { runCli, hasCommand, missing, pythonWith } from "./helpers";
import { inspectPages, inspectPagesWithoutJs, chromiumAvailable, CHROMIUM, StaticPageReport } from "./browser";

const dir = join(repoRoot(), "notebooks");
const files = readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort();

test("notebooks are committed clean and follow the notebook anatomy", () => {
  assert.ok(files.length >= 1, "at least one notebook");
  for (const f of files) {
    const nb = readNotebook(join(dir, f));
    assert.equal(nb.nbformat, 4, f);
    const ids = nb.cells.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, `${f}: cell ids unique`);
    for (const c of nb.cells) {
      if (c.cell_type !== "code") continue;
      assert.deepEqual(c.outputs, [], `${f}: committed without outputs`);
      assert.equal(c.execution_count, null, `${f}: no execution counts`);
    }
    assert.ok(findTaggedCell(nb, "parameters") >= 0, `${f}: has a cell tagged "parameters"`);
    assert.ok(listParameters(nb, f).length >= 1, `${f}: parameters cell holds literals`);
    const md = nb.cells.filter((c) => c.cell_type === "markdown").map(cellSource).join("\n");
    assert.match(md, /^# \d\d · /m, `${f}: numbered title`);
    for (const h of ["Checks", "Summary", "Exercises"]) assert.match(md, new RegExp(`^## ${h}`, "m"), `${f}: has a ${h} section`);
    const code = nb.cells.filter((c) => c.cell_type === "code").map(cellSource).join("\n");
    assert.match(code, /assert/, `${f}: Checks assert something`);
    assert.doesNotMatch(code, /Math\.random/, `${f}: no unseeded randomness`);
  }
});

const out = mkdtempSync(join(tmpdir(), "moe-lab-notebooks-"));

test("every notebook executes through the in-process runner, with charts in its HTML page", () => {
  const r = runCli(["run", "--all", "--out", out, "--quiet"], repoRoot(), 1_500_000);
  assert.equal(r.status, 0, `moe-lab run --all failed:\n${r.stderr}`);
  for (const f of files) {
    const page = join(out, f.replace(/\.ipynb$/, ".html"));
    assert.ok(existsSync(page), `${page} written`);
    const html = readFileSync(page, "utf8");
    assert.ok((html.match(/<div class="chart"/g) ?? []).length >= 1, `${f}: at least one chart`);
    assert.match(html, /all checks passed|Checks/);
  }
  assert.ok(existsSync(join(out, "index.html")));
});

/**
 * One override per notebook, chosen to change what it computes (another seed, model, GPU, sweep),
 * and a pattern its outputs must then show. Every notebook must be listed.
 */
const OVERRIDES: Record<string, { params: string[]; shows: RegExp }> = {
  "01-baseline-skew.ipynb": { params: ["seed=7", "sweepSeeds=50"], shows: /Baseline imbalance over 50 seeds/ },
  "02-routing-models.ipynb": { params: ["seed=5", "numExperts=64"], shows: /busiest first[^"]*\\n  lab note \(hot set\) \(scatter\): 64 points/ },
  "03-eplb.ipynb": { params: ["gpuCounts=[4,8]", "seed=7"], shows: /without redundancy, balance worsens from the first to the third GPU count \(could not be evaluated/ },
  "04-eplb-over-time.ipynb": { params: ["numSteps=4000", "modelId=qwen3-235b-a22b"], shows: /GB copied \(bar\): 1 points/ },
  "05-throughput-model.ipynb": { params: ["gpuId=h200", "contextTokens=1024"], shows: /H200/ },
  "06-active-vs-total.ipynb": { params: ["model=qwen3-235b-a22b", "compareWith=mixtral-8x7b"], shows: /Mixtral 8x7B/ },
  "07-operations-and-incidents.ipynb": { params: ["model=llama-4-maverick", "gpuId=h800"], shows: /field: 'gpu', healthy: 'h800'/ },
  "08-study-cards.ipynb": { params: ["model=kimi-k2"], shows: /Kimi K2/ },
};

/** The text of every output of a notebook's code cells, keyed by cell id. */
function outputTexts(file: string): Map<string, string> {
  const nb = readNotebook(file);
  return new Map(nb.cells.filter((c) => c.cell_type === "code").map((c) => [String(c.id), JSON.stringify(c.outputs ?? [])]));
}

test("every notebook runs with parameter overrides, and its outputs change", async () => {
  assert.deepEqual(Object.keys(OVERRIDES).sort(), files, "one override entry per notebook");
  const base = mkdtempSync(join(tmpdir(), "moe-lab-overrides-"));
  const runOne = (f: string): Promise<{ f: string; status: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const args = [join(repoRoot(), "bin", "moe-lab.js"), "run", join("notebooks", f), "--out", join(base, f), "--no-html", "--quiet"];
      for (const p of OVERRIDES[f].params) args.push("--param", p);
      const child = spawn(process.execPath, args, { cwd: repoRoot() });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (status) => resolve({ f, status, stderr }));
    });
  const results: { f: string; status: number | null; stderr: string }[] = [];
  const queue = [...files];
  await Promise.all([0, 1].map(async () => {
    for (let f = queue.shift(); f; f = queue.shift()) results.push(await runOne(f));
  }));
  for (const { f, status, stderr } of results) {
    assert.equal(status, 0, `${f} with ${OVERRIDES[f].params.join(" ")} failed:\n${stderr}`);
    const file = join(base, f, f);
    const nb = readNotebook(file);
    const injected = nb.cells.find((c) => Array.isArray(c.metadata?.tags) && (c.metadata.tags as string[]).includes("injected-parameters"));
    assert.ok(injected, `${f}: injected-parameters cell`);
    const recorded = (nb.metadata.moe_lab as { parameters: Record<string, unknown> }).parameters;
    for (const p of OVERRIDES[f].params) {
      const name = p.split("=")[0];
      assert.match(cellSource(injected), new RegExp(`^const ${name}\\b`, "m"), `${f}: ${name} injected`);
      assert.ok(name in recorded, `${f}: ${name} recorded in metadata`);
    }
    const text = [...outputTexts(file).values()].join("\n");
    assert.match(text, OVERRIDES[f].shows, `${f}: outputs show the override`);
    // Against the default run of the previous test: some outputs differ.
    const defaults = outputTexts(join(out, f));
    const changed = [...outputTexts(file)].filter(([id, t]) => defaults.has(id) && defaults.get(id) !== t).length;
    assert.ok(changed >= 1, `${f}: at least one output differs from the default run (${changed})`);
  }
});

test("browser: every exported page renders its charts in headless Chromium, without console errors", async (t) => {
  if (!chromiumAvailable()) return missing(t, `chromium not found at ${CHROMIUM}: browser test skipped`);
  const pages = files.map((f) => join(out, f.replace(/\.ipynb$/, ".html"))).filter((p) => existsSync(p));
  assert.equal(pages.length, files.length, "pages were exported by the previous test");
  const shots = join(repoRoot(), "build", "screenshots");
  const reports = await inspectPages([...pages, join(out, "index.html")], shots);
  for (const r of reports) {
    assert.deepEqual(r.consoleErrors, [], `${r.page}: console errors`);
    for (const c of r.charts) {
      assert.ok(c.svg, `${r.page}: chart ${c.id} drew an SVG`);
      assert.equal(c.drawn, c.expected, `${r.page}: chart ${c.id} traces`);
    }
    t.diagnostic(`${r.page.split("/").pop()}: ${r.charts.length} charts rendered; screenshot build/screenshots/${r.screenshot.split("/").pop()}`);
  }
});

/** Where the interactive charts cannot run, every page must show one drawn static SVG per chart and no empty box. */
async function assertStaticCharts(mode: "no-js" | "no-decompression"): Promise<StaticPageReport[]> {
  const pages = files.map((f) => join(out, f.replace(/\.ipynb$/, ".html"))).filter((p) => existsSync(p));
  assert.equal(pages.length, files.length, "pages were exported by an earlier test");
  const reports = await inspectPagesWithoutJs(pages, join(repoRoot(), "build", "screenshots"), mode);
  for (const r of reports) {
    const name = r.page.split(/[\\/]/).pop();
    assert.ok(r.chartDivs >= 1, `${name}: has charts`);
    assert.equal(r.staticHeights.length, r.chartDivs, `${name}: one static SVG per chart`);
    assert.ok(r.staticHeights.every((h) => h >= 100), `${name}: static SVGs are drawn (${r.staticHeights.join(", ")} px)`);
    assert.equal(r.visibleChartDivs, 0, `${name}: no empty interactive chart boxes`);
  }
  return reports;
}

test("browser, JavaScript off: every chart shows as its static SVG, the empty interactive boxes are hidden", async (t) => {
  if (!chromiumAvailable()) return missing(t, `chromium not found at ${CHROMIUM}: browser test skipped`);
  const reports = await assertStaticCharts("no-js");
  t.diagnostic(`no-JS screenshot: build/screenshots/${reports[0].screenshot.split(/[\\/]/).pop()}`);
});

test("browser without DecompressionStream: the deflated plotly.js cannot load, so every chart falls back to its static SVG", async (t) => {
  if (!chromiumAvailable()) return missing(t, `chromium not found at ${CHROMIUM}: browser test skipped`);
  await assertStaticCharts("no-decompression");
});

test("real kernel: Jupyter's own executor (nbconvert/nbclient) runs every notebook through the repo's tslab kernelspec", (t) => {
  if (!hasCommand("jupyter-nbconvert")) return missing(t, "jupyter-nbconvert not installed: real-kernel test skipped");
  const outDir = mkdtempSync(join(tmpdir(), "moe-lab-nbconvert-"));
  const r = spawnSync(
    "jupyter-nbconvert",
    [
      "--to", "notebook", "--execute", "--output-dir", outDir,
      "--ExecutePreprocessor.kernel_name=tslab", "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.record_timing=False",
      ...files.map((f) => join(dir, f)),
    ],
    { cwd: repoRoot(), encoding: "utf8", env: { ...process.env, JUPYTER_PATH: repoRoot() }, timeout: 1_500_000 },
  );
  assert.equal(r.status, 0, `nbconvert failed:\n${(r.stderr ?? "").split("\n").slice(-40).join("\n")}`);
  for (const f of files) {
    const nb = JSON.parse(readFileSync(join(outDir, f), "utf8")) as { cells: Array<{ cell_type: string; outputs?: Array<{ name?: string; text?: string | string[] }> }> };
    const code = nb.cells.filter((c) => c.cell_type === "code");
    assert.ok(code.some((c) => (c.outputs ?? []).length > 0), `${f}: the real kernel produced outputs`);
  }
});

test("real kernel: a sweep's progress display updates while the cell runs, not only at its end", (t) => {
  if (!hasCommand("jupyter-nbconvert")) return missing(t, "jupyter-nbconvert (and its jupyter_client) not installed: live-progress test skipped");
  const py = pythonWith("jupyter_client");
  if (!py) return missing(t, "no Python with jupyter_client: live-progress test skipped");
  const r = spawnSync(py, [join(repoRoot(), "test", "live_progress.py"), repoRoot()], { encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const events = JSON.parse(r.stdout) as Array<{ t: number; type: string; text: string }>;
  assert.deepEqual(events.map((e) => e.text), [...Array.from({ length: 10 }, (_, i) => `live test: ${i}/10`), "live test: 10/10 done"]);
  assert.deepEqual(events.map((e) => e.type), ["display_data", ...Array(10).fill("update_display_data")]);
  // Ten items of 200 ms each: live updates arrive spread over ~2 s; bunched ones would arrive together.
  const spread = events[events.length - 1].t - events[1].t;
  assert.ok(spread >= 1.2, `updates arrived over ${spread.toFixed(2)} s (${events.map((e) => e.t).join(", ")})`);
});

test("npm start's command line is valid (its options parse; --list-params runs nothing)", () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { scripts: Record<string, string> };
  const m = /node bin\/moe-lab\.js (.+)$/.exec(pkg.scripts.start);
  assert.ok(m, `start script runs the moe-lab CLI: ${pkg.scripts.start}`);
  const r = runCli([...m[1].split(/\s+/), "--list-params"]);
  assert.equal(r.status, 0, r.stderr);
  for (const f of files) assert.match(r.stdout, new RegExp(`${f.replace(/\./g, "\\.")}:`));
});
