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
  parameterType,
  cellPosition,
  cellLabel,
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
  assert.throws(() => coerceParameter(seed, "x"), { name: "RangeError", message: 'parameter seed must be an integer (default 42), got "x"' });
  assert.throws(() => coerceParameter(fast, "yes"), { name: "RangeError", message: 'parameter fast must be true or false (default true), got "yes"' });
  assert.throws(() => coerceParameter(sizes, "a,b"), { name: "RangeError", message: /parameter sizes/ });
});

test("parameters: an integer default takes integers only; a list takes a list, never a bare scalar", () => {
  const ps = listParameters(nb([["code", "const seed = 0;\nconst temperature = 2.0;\nconst big = 1e3;\nconst rate = 0.05;\nconst sizes = [16, 64];\nconst factors = [0.5, 1];\nconst names = ['a'];\nconst pairs = [[1, 2]];\nconst empty = [];", ["parameters"]]]));
  const by = new Map(ps.map((p) => [p.name, p]));
  const get = (n: string) => by.get(n)!;
  // The declared literal decides: digits only is an integer; 2.0 and 1e3 are numbers.
  assert.deepEqual(ps.map((p) => [p.name, parameterType(p)]), [
    ["seed", "integer"], ["temperature", "number"], ["big", "number"], ["rate", "number"], ["sizes", "integer[]"],
    ["factors", "number[]"], ["names", "string[]"], ["pairs", "integer[][]"], ["empty", "array"],
  ]);
  assert.deepEqual(ps.map((p) => p.type), ["number", "number", "number", "number", "array", "array", "array", "array", "array"], "type keeps its four kinds");
  assert.equal(coerceParameter(get("seed"), "-3"), -3);
  assert.throws(() => coerceParameter(get("seed"), "1.5"), { name: "RangeError", message: 'parameter seed must be an integer (default 0), got "1.5"' });
  assert.equal(coerceParameter(get("temperature"), "1.5"), 1.5);
  assert.equal(coerceParameter(get("big"), "2.5"), 2.5);
  const listOfIntegers = 'parameter sizes must be a list of integers (integer[]), like 1,2 or [1] for one value (default [16,64])';
  assert.throws(() => coerceParameter(get("sizes"), "5"), { name: "RangeError", message: `${listOfIntegers}, got "5"` });
  assert.throws(() => coerceParameter(get("sizes"), "5,1.5"), { name: "RangeError", message: `${listOfIntegers}, got "5,1.5"` });
  assert.throws(() => coerceParameter(get("sizes"), "[5.5]"), { name: "RangeError", message: `${listOfIntegers}, got "[5.5]"` });
  assert.throws(() => coerceParameter(get("sizes"), "5,"), { name: "RangeError", message: `${listOfIntegers}, got "5,"` });
  assert.deepEqual(coerceParameter(get("sizes"), "[5]"), [5]);
  assert.deepEqual(coerceParameter(get("sizes"), "5, 6"), [5, 6]);
  assert.throws(() => coerceParameter(get("factors"), "1"), {
    name: "RangeError", message: 'parameter factors must be a list of numbers (number[]), like 0.5,1 or [0.5] for one value (default [0.5,1]), got "1"',
  });
  assert.deepEqual(coerceParameter(get("factors"), "0.25,1"), [0.25, 1]);
  assert.throws(() => coerceParameter(get("names"), "b"), { name: "RangeError", message: /^parameter names must be a list of strings \(string\[\]\), like a,b or \["a"\] for one value/ });
  assert.deepEqual(coerceParameter(get("names"), "['b']"), ["b"]);
  assert.throws(() => coerceParameter(get("pairs"), "1,2"), { name: "RangeError", message: 'parameter pairs must be a list of lists in brackets (integer[][]), like [[1, 2]] (default [[1,2]]), got "1,2"' });
  assert.throws(() => coerceParameter(get("pairs"), "[1,2]"), { name: "RangeError", message: /^parameter pairs must be a list of lists/ });
  assert.deepEqual(coerceParameter(get("pairs"), "[[3, 4], [5, 6]]"), [[3, 4], [5, 6]]);
  assert.deepEqual(coerceParameter(get("empty"), "[1, 2]"), [1, 2]);
  assert.throws(() => parameterType(null as never), { name: "TypeError", message: "p must be a parameter from listParameters, got null" });
  assert.throws(() => coerceParameter(get("seed"), 3 as never), { name: "TypeError", message: "raw must be a string, got 3" });
});

test("cellPosition and cellLabel number cells as the source notebook does (the --param cell not counted)", () => {
  const injected = injectParameters(SAMPLE, { seed: 7 });
  // Executed: 1 markdown, 2 parameters, 3 injected, 4 code. Source: 1 markdown, 2 parameters, 3 code.
  assert.deepEqual(cellPosition(injected, 4), { cellNumber: 3, codeCellNumber: 2, injected: false });
  assert.equal(cellLabel(injected, 4), "code cell 2 (cell 3, counting markdown cells)");
  assert.deepEqual(cellPosition(injected, 3), { cellNumber: 2, codeCellNumber: null, injected: true });
  assert.equal(cellLabel(injected, 3), "the --param cell (injected after cell 2, the parameters cell)");
  assert.equal(cellLabel(injected, 1), "cell 1 (counting markdown cells)");
  assert.equal(cellLabel(SAMPLE, 3), "code cell 2 (cell 3, counting markdown cells)", "without an injected cell the numbers are the same");
  assert.throws(() => cellPosition(injected, 5), { name: "RangeError", message: "cellNumber must be an integer from 1 to 4, got 5" });
  assert.throws(() => cellPosition(injected, 0), { name: "RangeError", message: "cellNumber must be an integer from 1 to 4, got 0" });
  assert.throws(() => cellPosition({} as never, 1), { name: "TypeError", message: "nb must be a notebook, got an object" });
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
