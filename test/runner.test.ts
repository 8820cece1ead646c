import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, symlinkSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../lib/paths";
import { executeNotebook, shorthandHint } from "../lib/runner";
import { Notebook, serializeNotebook } from "../lib/notebook";
import { PLOTLY_MIME } from "../lib/charts";
import { runCli } from "./helpers";

/** A scratch notebooks folder with `lib -> <repo>/lib` (as notebooks/ has) and the repo's node_modules. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-run-"));
  symlinkSync(join(repoRoot(), "lib"), join(dir, "lib"));
  symlinkSync(join(repoRoot(), "node_modules"), join(dir, "node_modules"));
  return dir;
}

function nb(sources: string[], paramsCell?: string): Notebook {
  const cells = sources.map((s, i) => ({ id: `c${i}`, cell_type: "code" as const, source: s, metadata: {}, outputs: [], execution_count: null }));
  if (paramsCell) cells.unshift({ id: "p", cell_type: "code", source: paramsCell, metadata: { tags: ["parameters"] } as never, outputs: [], execution_count: null });
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ id: "m", cell_type: "markdown", source: "# T\n\nPurpose.", metadata: {} } as never, ...cells] };
}

const CHART_NB = nb(
  [
    'import { figure, show } from "./lib/charts";\nimport { createRng } from "./lib/rng";\nconst r = createRng(seed);',
    'console.log("hello");\nconsole.error("careful");\nshow(figure([{ type: "bar", y: [r.random(), 2] }], { title: "T" }));',
    'import * as tslab from "tslab";\nconst d = tslab.newDisplay();\nfor (let i = 0; i < 3; i++) d.text(`step ${i}`);\n6 * 7',
  ],
  "const seed = 1; // seed",
);

test("executeNotebook: stdout, stderr, last expression, charts and updated displays become outputs", async () => {
  const dir = scratch();
  const { notebook, failure } = await executeNotebook(CHART_NB, { cwd: dir });
  assert.equal(failure, null);
  const code = notebook.cells.filter((c) => c.cell_type === "code");
  assert.deepEqual(code.map((c) => c.execution_count), [1, 2, 3, 4]);
  const outs = code[2].outputs ?? [];
  assert.deepEqual(outs[0], { output_type: "stream", name: "stdout", text: "hello\n" });
  assert.deepEqual(outs[1], { output_type: "stream", name: "stderr", text: "careful\n" });
  assert.equal(outs.length, 3, "plotly.js loader output dropped, one chart output kept");
  const chart = outs[2] as { output_type: string; data: Record<string, unknown> };
  assert.equal(chart.output_type, "display_data");
  assert.deepEqual(Object.keys(chart.data).sort(), [PLOTLY_MIME, "text/html", "text/plain"].sort());
  const last = code[3].outputs ?? [];
  assert.deepEqual(last[0], { output_type: "display_data", data: { "text/plain": "step 2" }, metadata: {} });
  assert.deepEqual(last[1], { output_type: "stream", name: "stdout", text: "42\n" });
});

test("executeNotebook: same notebook, same bytes", async () => {
  const dir = scratch();
  const a = await executeNotebook(CHART_NB, { cwd: dir });
  const b = await executeNotebook(CHART_NB, { cwd: dir });
  assert.equal(serializeNotebook(a.notebook), serializeNotebook(b.notebook));
});

test("executeNotebook: a failing cell stops the notebook and says which cell and why", async () => {
  const dir = scratch();
  const r = await executeNotebook(nb(["const a = 1;", 'throw new RangeError("numGpus must be >= 1, got 0");', "console.log('never')"]), { cwd: dir });
  assert.equal(r.failure?.cellNumber, 3);
  const message = r.failure?.message ?? "";
  assert.ok(message.startsWith("RangeError: numGpus must be >= 1, got 0\n"), message);
  assert.equal(message.split("RangeError: numGpus must be >= 1, got 0").length - 1, 1, `the error line once, not twice:\n${message}`);
  assert.match(message, /throw new RangeError/, "the code excerpt stays");
  assert.deepEqual(r.notebook.cells[3].outputs, []);
  const typeErr = await executeNotebook(nb(['const x: number = "s";']), { cwd: dir });
  assert.match(typeErr.failure?.message ?? "", /Type 'string' is not assignable to type 'number'/);
});

test("executeNotebook: tslab's shorthand-property quirk fails with a hint that says what to write", async () => {
  const dir = scratch();
  const r = await executeNotebook(nb(["const seed = 3;", "const o = { seed };\no"]), { cwd: dir });
  assert.equal(r.failure?.cellNumber, 3);
  assert.match(r.failure?.message ?? "", /ReferenceError: seed is not defined/);
  assert.match(r.failure?.message ?? "", /hint: tslab does not resolve a shorthand property \(\{ seed \}\) to a variable from an earlier cell; write \{ seed: seed \}/);
  // The suggested spelling works.
  const ok = await executeNotebook(nb(["const seed = 3;", "const o = { seed: seed };\no.seed"]), { cwd: dir });
  assert.equal(ok.failure, null);
});

test("shorthandHint: only for a ReferenceError whose name is used as a shorthand property", () => {
  assert.match(shorthandHint("ReferenceError: seed is not defined", "f({ a: 1, seed, b })") ?? "", /write \{ seed: seed \}/);
  assert.match(shorthandHint("ReferenceError: $x is not defined", "f({ $x })") ?? "", /write \{ \$x: \$x \}/);
  assert.equal(shorthandHint("ReferenceError: seed is not defined", "f({ seed: 3 }); seed"), null);
  assert.equal(shorthandHint("ReferenceError: seed is not defined", "f({ seeds })"), null);
  assert.equal(shorthandHint("TypeError: seed is not a function", "f({ seed })"), null);
  assert.throws(() => shorthandHint(undefined as never, ""), /error must be a string, got undefined/);
  assert.throws(() => shorthandHint("", 3 as never), /source must be a string, got 3/);
});

test("executeNotebook: a runaway cell is stopped by the per-cell timeout", async () => {
  const dir = scratch();
  const t0 = Date.now();
  const r = await executeNotebook(nb(["1", "while (true) {}"]), { cwd: dir, cellTimeoutSeconds: 2 });
  assert.equal(r.failure?.cellNumber, 3);
  assert.match(r.failure?.message ?? "", /timed out after 2 s/);
  assert.ok(Date.now() - t0 < 20_000);
});

test("moe-lab run: writes notebook + HTML + index; --check reproduces; --param injects; failures keep old outputs", () => {
  const dir = scratch();
  const file = join(dir, "t.ipynb");
  writeFileSync(file, serializeNotebook(CHART_NB));
  const source = readFileSync(file, "utf8");
  const out = join(dir, "out");
  const r = runCli(["run", file, "--out", out, "--quiet"], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(file, "utf8"), source, "the source notebook is never written");
  const html = readFileSync(join(out, "t.html"), "utf8");
  assert.match(html, /<div class="chart" id="chart-4-3"/);
  assert.ok(existsSync(join(out, "index.html")));
  assert.doesNotMatch(readFileSync(join(out, "t.ipynb"), "utf8"), /\/tmp\/|"timestamp"|"execution":/);
  const check = runCli(["run", file, "--out", out, "--check", "--quiet"], dir);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /check passed/);

  const p = runCli(["run", file, "--out", join(dir, "p"), "--param", "seed=5", "--quiet"], dir);
  assert.equal(p.status, 0, p.stderr);
  const executed = JSON.parse(readFileSync(join(dir, "p", "t.ipynb"), "utf8")) as Notebook;
  assert.deepEqual((executed.metadata.moe_lab as { parameters: unknown }).parameters, { seed: 5 });
  assert.match(readFileSync(join(dir, "p", "t.html"), "utf8"), /Parameters overridden/);
  const differs = runCli(["run", file, "--out", out, "--check", "--param", "seed=5", "--quiet"], dir);
  assert.equal(differs.status, 1);
  assert.match(differs.stderr, /outputs differ/);

  const before = readFileSync(join(out, "t.html"), "utf8");
  const broken = join(dir, "t2.ipynb");
  writeFileSync(broken, serializeNotebook(nb(['throw new Error("boom")'])));
  mkdirSync(join(dir, "o2"));
  writeFileSync(join(dir, "o2", "t2.html"), "previous");
  const f = runCli(["run", broken, "--out", join(dir, "o2"), "--quiet"], dir);
  assert.equal(f.status, 1);
  assert.match(f.stderr, /^moe-lab run: t2\.ipynb: code cell 1 \(cell 2, counting markdown cells\) failed:\n    Error: boom\n/);
  assert.equal(readFileSync(join(dir, "o2", "t2.html"), "utf8"), "previous");
  assert.equal(readFileSync(join(out, "t.html"), "utf8"), before);
});

test("moe-lab run: bad input is one clear line, non-zero exit, nothing written", () => {
  const dir = scratch();
  const file = join(dir, "t.ipynb");
  writeFileSync(file, serializeNotebook(CHART_NB));
  writeFileSync(join(dir, "bad.ipynb"), "{");
  writeFileSync(join(dir, "v3.ipynb"), JSON.stringify({ nbformat: 3, cells: [] }));
  writeFileSync(join(dir, "afile"), "x");
  writeFileSync(join(dir, "noparams.ipynb"), serializeNotebook(nb(["1"])));
  writeFileSync(join(dir, "arr.ipynb"), serializeNotebook(nb(["1"], "const sizes = [1, 2]; // sizes\nconst rate = 0.5;")));
  const cases: Array<[string[], RegExp]> = [
    [["run", "missing.ipynb"], /missing.ipynb: no such notebook/],
    [["run", "bad.ipynb"], /bad.ipynb: not valid JSON/],
    [["run", "v3.ipynb"], /v3.ipynb: nbformat must be 4, got 3/],
    [["run", "t.ipynb", "--out", "afile"], /--out afile is a file, not a folder/],
    [["run", "noparams.ipynb", "--param", "a=1"], /has no cell tagged "parameters"/],
    [["run", "t.ipynb", "--param", "nope=1"], /unknown parameter nope for t.ipynb; valid: seed=1/],
    [["run", "t.ipynb", "--param", "seed=abc"], /^moe-lab run: parameter seed must be an integer \(default 1\), got "abc"; valid: seed=1\n$/],
    [["run", "t.ipynb", "--param", "seed=1.5"], /^moe-lab run: parameter seed must be an integer \(default 1\), got "1\.5"; valid: seed=1\n$/],
    [["run", "arr.ipynb", "--param", "sizes=5"], /^moe-lab run: parameter sizes must be a list of integers \(integer\[\]\), like 1,2 or \[1\] for one value \(default \[1,2\]\), got "5"; valid: sizes=\[1,2\], rate=0\.5\n$/],
    [["run", "arr.ipynb", "--param", "sizes=4,2.5"], /^moe-lab run: parameter sizes must be a list of integers .*got "4,2\.5"/],
  ];
  for (const [args, re] of cases) {
    const r = runCli([...args, "--quiet"], dir);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!existsSync(join(dir, "build")), "nothing written");
  }
  const list = runCli(["run", "--list-params", "t.ipynb"], dir);
  assert.equal(list.status, 0);
  assert.match(list.stdout, /seed\s+integer\s+default 1\s+\/\/ seed/);
  const arr = runCli(["run", "--list-params", "arr.ipynb"], dir);
  assert.equal(arr.stdout, "arr.ipynb: \n  sizes                integer[] default [1,2]  // sizes\n  rate                 number    default 0.5\n");
});

test("moe-lab run: a failing cell is named as the source notebook numbers it, with --param too", () => {
  const dir = scratch();
  writeFileSync(join(dir, "p.ipynb"), serializeNotebook(nb(["const a = 1;", "if (seed > 3) throw new RangeError(`seed must be <= 3, got ${seed}`);"], "const seed = 1;")));
  // Source: 1 markdown, 2 parameters (code cell 1), 3 code cell 2, 4 code cell 3. Executed with
  // --param, an injected cell sits at 3; the failing cell is still code cell 3, cell 4.
  const r = runCli(["run", "p.ipynb", "--out", "o", "--param", "seed=5"], dir);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^\[p\] running \(3 code cells \+ the --param cell\)\n/);
  assert.match(r.stderr, /\nmoe-lab run: p\.ipynb: code cell 3 \(cell 4, counting markdown cells\) failed:\n    RangeError: seed must be <= 3, got 5\n/);
  assert.equal(r.stderr.split("RangeError: seed must be <= 3, got 5").length - 1, 1, `the error line once:\n${r.stderr}`);
});

test("moe-lab run --check: missing outputs are named apart from differing ones", () => {
  const dir = scratch();
  writeFileSync(join(dir, "t.ipynb"), serializeNotebook(CHART_NB));
  const none = runCli(["run", "t.ipynb", "--check", "--out", "nothere", "--quiet"], dir);
  assert.deepEqual([none.status, none.stderr], [1, "moe-lab run --check: nothing to compare with: nothere does not exist (run without --check first)\n"]);
  mkdirSync(join(dir, "empty"));
  const empty = runCli(["run", "t.ipynb", "--check", "--out", "empty", "--quiet"], dir);
  assert.deepEqual([empty.status, empty.stderr], [1, "moe-lab run --check: missing in empty: empty/t.ipynb, empty/t.html (run without --check first)\n"]);
  assert.equal(runCli(["run", "t.ipynb", "--out", "out", "--quiet"], dir).status, 0);
  const svg = runCli(["run", "t.ipynb", "--check", "--svg", "--out", "out", "--quiet"], dir);
  assert.deepEqual([svg.status, svg.stderr], [1, "moe-lab run --check: missing in out: out/svg/t/ (1 SVG) (run without --check first, with --svg)\n"]);
  writeFileSync(join(dir, "out", "t.html"), "edited");
  rmSync(join(dir, "out", "t.ipynb"));
  const both = runCli(["run", "t.ipynb", "--check", "--out", "out", "--quiet"], dir);
  assert.deepEqual([both.status, both.stderr], [
    1,
    "moe-lab run --check: missing in out: out/t.ipynb (run without --check first)\nmoe-lab run --check: outputs differ from out: out/t.html\n",
  ]);
});
