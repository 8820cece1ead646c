/**
 * A real Jupyter front end: Debian's classic Notebook server (jupyter-notebook) with the repo's
 * tslab kernelspec, driven in headless Chromium. It checks what a user sees, which the other
 * tests cannot: an inline interactive chart, a progress display that moves while its cell runs,
 * charts that still draw after the page is reloaded while the kernel keeps running, and a
 * notebook executed by moe-lab's runner that shows its charts as pictures when opened untrusted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { repoRoot } from "../lib/paths";
import { serializeNotebook } from "../lib/notebook";
import { executeNotebook } from "../lib/runner";
import { CHROMIUM, chromiumAvailable, launch } from "./browser";
import { hasCommand, missing } from "./helpers";

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForServer(url: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`jupyter-notebook exited (${server.exitCode}):\n${log()}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`jupyter-notebook did not answer ${url.replace(/token=\w+/, "token=…")} within 60 s:\n${log()}`);
}

const CELLS = [
  'import { figure, show } from "./lib/charts";\nshow(figure([{ type: "bar", x: ["a", "b", "c"], y: [1, 3, 2] }], { title: "front-end test" }));',
  'import { sweep } from "./lib/progress";\nconst xs = await sweep("live test", Array.from({ length: 10 }, (_, i) => i), (x) => { const t = Date.now(); while (Date.now() - t < 250); return x; });\nxs.length',
];

test("front end: in Jupyter Notebook a chart draws inline, progress moves live, charts survive a page reload, and an executed notebook shows its charts untrusted", { timeout: 300_000 }, async (t) => {
  if (!hasCommand("jupyter-notebook")) return missing(t, "jupyter-notebook (Debian's jupyter-notebook package) not installed: front-end test skipped");
  if (!chromiumAvailable()) return missing(t, `chromium not found at ${CHROMIUM}: front-end test skipped`);
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-frontend-"));
  const nbDir = join(dir, "nb");
  mkdirSync(nbDir);
  // The layout of notebooks/: ./lib is the library; node_modules for tslab's compiler.
  symlinkSync(join(repoRoot(), "lib"), join(nbDir, "lib"));
  symlinkSync(join(repoRoot(), "node_modules"), join(nbDir, "node_modules"));
  writeFileSync(
    join(nbDir, "frontend.ipynb"),
    JSON.stringify({
      cells: CELLS.map((src, i) => ({ cell_type: "code", execution_count: null, id: `c${i}`, metadata: {}, outputs: [], source: src })),
      metadata: { kernelspec: { display_name: "TypeScript", language: "typescript", name: "tslab" } },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
  const port = await freePort();
  const token = randomBytes(12).toString("hex");
  let serverLog = "";
  const server = spawn(
    "jupyter-notebook",
    ["--no-browser", "--allow-root", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", `--NotebookApp.token=${token}`, `--notebook-dir=${nbDir}`],
    {
      env: { ...process.env, JUPYTER_PATH: repoRoot(), JUPYTER_CONFIG_DIR: join(dir, "config"), JUPYTER_DATA_DIR: join(dir, "data"), JUPYTER_RUNTIME_DIR: join(dir, "runtime") },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  server.stdout?.on("data", (d) => (serverLog += d));
  server.stderr?.on("data", (d) => (serverLog += d));
  const base = `http://127.0.0.1:${port}`;
  const browser = await launch();
  try {
    await waitForServer(`${base}/api/kernelspecs?token=${token}`, server, () => serverLog.slice(-3000));
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const pageErrors: string[] = [];
    const failed: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("response", (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    type J = { Jupyter: any };
    const kernelReady = () => page.waitForFunction(() => { const j = (globalThis as unknown as J).Jupyter; return !!(j && j.notebook && j.notebook.kernel && j.notebook.kernel.is_connected()); }, null, { timeout: 90_000 });
    // What the reader sees in a cell's output area (rendered text: no script sources).
    const cellText = (i: number) => page.evaluate((n) => (globalThis as unknown as J).Jupyter.notebook.get_cell(n).output_area.element[0].innerText as string, i);
    const chartDrawn = async (when: string) => {
      try {
        await page.waitForFunction(() => {
          const el = (globalThis as unknown as J).Jupyter.notebook.get_cell(0).output_area.element[0] as { querySelectorAll(s: string): { length: number } };
          return el.querySelectorAll(".js-plotly-plot .point").length === 3;
        }, null, { timeout: 30_000 });
      } catch {
        assert.fail(`${when}: the chart's 3 bars were not drawn within 30 s; the output shows: ${JSON.stringify((await cellText(0)).slice(0, 300))}`);
      }
    };

    await page.goto(`${base}/notebooks/frontend.ipynb?token=${token}`);
    await kernelReady();
    const kernelId = await page.evaluate(() => (globalThis as unknown as J).Jupyter.notebook.kernel.id as string);
    // Cell by cell, as a reader steps through: the chart first. (With "Run All" in a fresh kernel the
    // server's relay of the 4.8 MB plotly.js output holds back the next outputs for a few seconds.)
    await page.evaluate(() => (globalThis as unknown as J).Jupyter.notebook.execute_cells([0]));
    await chartDrawn("first run");
    const t0 = Date.now();
    await page.evaluate(() => (globalThis as unknown as J).Jupyter.notebook.execute_cells([1]));
    // Poll the progress cell's output as the browser shows it.
    const states: Array<{ ms: number; text: string }> = [];
    let last = "";
    while (Date.now() - t0 < 120_000) {
      const text = (await cellText(1)).trim();
      if (text !== last) {
        states.push({ ms: Date.now() - t0, text });
        last = text;
      }
      if (/10\/10 done/.test(text)) break;
      await page.waitForTimeout(50);
    }
    const partial = states.filter((s) => /live test: [1-9]\/10$/.test(s.text));
    assert.ok(/live test: 10\/10 done/.test(last), `the progress display reached 10/10 (states: ${JSON.stringify(states)})`);
    assert.ok(partial.length >= 5, `the browser showed at least 5 intermediate states while the cell ran, got ${partial.length}: ${JSON.stringify(states)}`);
    const final = states[states.length - 1].ms;
    assert.ok(final - partial[0].ms >= 1000, `intermediate states appeared at least 1 s before the end (first ${partial[0].ms} ms, final ${final} ms)`);
    assert.doesNotMatch(await cellText(0), /plotly\.js is not loaded/);
    t.diagnostic(`progress states seen in the browser: ${states.map((s) => `${s.text.replace("live test: ", "")} @${s.ms}ms`).join(", ")}`);

    // Reload the page: same kernel, but the new page has no plotly.js until the kernel sends it again.
    await page.reload();
    await kernelReady();
    assert.equal(await page.evaluate(() => (globalThis as unknown as J).Jupyter.notebook.kernel.id as string), kernelId, "the reloaded page talks to the same kernel");
    await page.evaluate(() => (globalThis as unknown as J).Jupyter.notebook.execute_all_cells());
    await chartDrawn("after a page reload, same kernel");
    assert.doesNotMatch(await cellText(0), /plotly\.js is not loaded/);

    // A notebook executed by moe-lab's runner (as `npm start` writes them) opened as a colleague
    // would: untrusted, so no script runs. Its charts must still show, as their static pictures.
    const executed = await executeNotebook(
      {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { display_name: "TypeScript", language: "typescript", name: "tslab" } },
        cells: [
          { id: "s0", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: CELLS[0] },
          { id: "s1", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: 'show(figure([{ type: "scatter", mode: "lines", x: [1, 2, 3], y: [2, 1, 3] }], { title: "second chart" }));' },
        ],
      },
      { cwd: nbDir },
    );
    assert.equal(executed.failure, null, executed.failure?.message);
    writeFileSync(join(nbDir, "executed.ipynb"), serializeNotebook(executed.notebook));
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    viewer.on("pageerror", (e) => pageErrors.push(String(e)));
    await viewer.goto(`${base}/notebooks/executed.ipynb?token=${token}`);
    await viewer.waitForFunction(() => { const j = (globalThis as unknown as J).Jupyter; return !!(j && j.notebook && j.notebook._fully_loaded); }, null, { timeout: 60_000 });
    const pictures = await viewer.evaluate(() => {
      const j = (globalThis as unknown as J).Jupyter;
      type Img = { naturalWidth: number; alt: string };
      return {
        trusted: j.notebook.trusted as boolean,
        perCell: [0, 1].map((n) => Array.from(j.notebook.get_cell(n).output_area.element[0].querySelectorAll("img") as ArrayLike<Img>).map((i) => ({ width: i.naturalWidth, alt: i.alt }))),
        interactive: (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll(".js-plotly-plot").length,
      };
    });
    assert.equal(pictures.trusted, false, "the executed notebook opens untrusted");
    assert.deepEqual(pictures.perCell, [[{ width: 900, alt: "front-end test" }], [{ width: 900, alt: "second chart" }]], "each chart shows its static picture");
    assert.equal(pictures.interactive, 0, "no script ran in the untrusted notebook");
    const shotDir = join(repoRoot(), "build", "screenshots");
    mkdirSync(shotDir, { recursive: true });
    await viewer.screenshot({ path: join(shotDir, "frontend-untrusted-notebook.png"), fullPage: true });
    await viewer.close();

    await page.screenshot({ path: join(shotDir, "frontend-classic-notebook.png"), fullPage: true });
    t.diagnostic("screenshots: build/screenshots/frontend-classic-notebook.png, frontend-untrusted-notebook.png");
    assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
    // The Debian server asks for optional front-end extensions it does not ship; anything else failing is ours.
    assert.deepEqual(failed.filter((f) => !/ \/(nbextensions|custom)\//.test(f)), [], "no failed requests besides the server's optional extensions");
  } finally {
    await browser.close();
    server.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    if (server.exitCode === null) server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
