import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Notebook,
  readNotebook,
  listParameters,
  coerceParameter,
  injectParameters,
  notebookSummary,
  writeFileAtomic,
  stripOutputs,
  parseLiteral,
  NotebookError,
} from "../lib/notebook";

function nb(cells: Array<[string, string, string[]?]>): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map(([t, s, tags], i) => ({
      id: `c${i}`,
      cell_type: t as "code" | "markdown",
      source: s,
      metadata: tags ? { tags } : {},
      ...(t === "code" ? { outputs: [], execution_count: null } : {}),
    })),
  };
}

const SAMPLE = nb([
  ["markdown", "# 09 · Sample\n\nA one-line purpose\nthat wraps.\n\nMore."],
  ["code", 'const seed = 42; // the seed\nconst model = "deepseek-v3";\n// a comment\nconst fast = true;\nconst sizes = [1, 2, 3]; // sizes\nconst names = [\'a\', "b"];', ["parameters"]],
  ["code", "console.log(seed)"],
]);

test("parameters: listed with types, defaults and comments", () => {
  const ps = listParameters(SAMPLE);
  assert.deepEqual(
    ps.map((p) => [p.name, p.type, p.defaultValue, p.comment]),
    [
      ["seed", "number", 42, "the seed"],
      ["model", "string", "deepseek-v3", ""],
      ["fast", "boolean", true, ""],
      ["sizes", "array", [1, 2, 3], "sizes"],
      ["names", "array", ["a", "b"], ""],
    ],
  );
  assert.deepEqual(listParameters(nb([["code", "const x = 1;"]])), []);
  assert.throws(() => listParameters(nb([["code", "const x = f(1);", ["parameters"]]]), "n.ipynb"), NotebookError);
  assert.throws(() => parseLiteral("{a: 1}"), SyntaxError);
});

test("parameters: values typed from the defaults; wrong types refused naming the parameter", () => {
  const [seed, model, fast, sizes] = listParameters(SAMPLE);
  assert.equal(coerceParameter(seed, "7"), 7);
  assert.equal(coerceParameter(model, "kimi-k2"), "kimi-k2");
  assert.equal(coerceParameter(fast, "false"), false);
  assert.deepEqual(coerceParameter(sizes, "4,5"), [4, 5]);
  assert.deepEqual(coerceParameter(sizes, "[6]"), [6]);
  assert.throws(() => coerceParameter(seed, "x"), { name: "RangeError", message: /^parameter seed must be a number \(default 42\), got "x"$/ });
  assert.throws(() => coerceParameter(fast, "yes"), { name: "RangeError", message: /parameter fast/ });
  assert.throws(() => coerceParameter(sizes, "a,b"), { name: "RangeError", message: /parameter sizes/ });
});

test("injectParameters: a tagged cell right after the parameters cell, recorded in metadata; input untouched", () => {
  const before = JSON.stringify(SAMPLE);
  const out = injectParameters(SAMPLE, { seed: 7, sizes: [9] });
  assert.equal(JSON.stringify(SAMPLE), before);
  assert.equal(out.cells.length, 4);
  assert.deepEqual(out.cells[2].metadata.tags, ["injected-parameters"]);
  assert.match(String((out.cells[2].source as string[]).join("")), /const seed: number = 7;\nconst sizes: number\[\] = \[9\];/);
  assert.deepEqual((out.metadata.moe_lab as { parameters: unknown }).parameters, { seed: 7, sizes: [9] });
  // Injecting again replaces the previous injected cell.
  assert.equal(injectParameters(out, { seed: 8 }).cells.length, 4);
  assert.throws(() => injectParameters(SAMPLE, { nope: 1 }), /unknown parameter nope; valid: seed=42/);
  assert.throws(() => injectParameters(nb([["code", "1"]]), { a: 1 }), /has no cell tagged "parameters"/);
});

test("notebookSummary: title and one-line purpose", () => {
  assert.deepEqual(notebookSummary(SAMPLE), { title: "09 · Sample", purpose: "A one-line purpose that wraps." });
});

test("readNotebook refuses bad files naming them", () => {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-nb-"));
  const bad = join(dir, "bad.ipynb");
  writeFileSync(bad, "{not json");
  assert.throws(() => readNotebook(bad), /bad.ipynb: not valid JSON/);
  const v3 = join(dir, "v3.ipynb");
  writeFileSync(v3, JSON.stringify({ nbformat: 3, cells: [] }));
  assert.throws(() => readNotebook(v3), /v3.ipynb: nbformat must be 4, got 3/);
  assert.throws(() => readNotebook(join(dir, "missing.ipynb")), /missing.ipynb: no such notebook/);
  assert.throws(() => readNotebook(dir), /is a folder/);
});

test("writeFileAtomic: replaces whole files, leaves the old one when the write fails", () => {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-atomic-"));
  const f = join(dir, "out.txt");
  writeFileAtomic(f, "one");
  writeFileAtomic(f, "two");
  assert.equal(readFileSync(f, "utf8"), "two");
  assert.deepEqual(readdirSync(dir), ["out.txt"], "no temp file left behind");
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o500);
    assert.throws(() => writeFileAtomic(f, "three"));
    chmodSync(dir, 0o700);
    assert.equal(readFileSync(f, "utf8"), "two");
  }
  assert.throws(() => writeFileAtomic(join(f, "x"), "y"));
  assert.equal(readFileSync(f, "utf8"), "two");
});

test("stripOutputs clears outputs and counts only", () => {
  const run: Notebook = { ...SAMPLE, cells: SAMPLE.cells.map((c) => (c.cell_type === "code" ? { ...c, outputs: [{ output_type: "stream", name: "stdout", text: "x" }], execution_count: 3 } : c)) };
  const s = stripOutputs(run);
  assert.ok(s.cells.every((c) => c.cell_type !== "code" || (c.outputs?.length === 0 && c.execution_count === null)));
  assert.equal(s.cells[1].source, SAMPLE.cells[1].source);
});
