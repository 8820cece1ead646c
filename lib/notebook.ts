/**
 * Jupyter notebooks (nbformat 4) as data: read and check, write atomically, find and override
 * the papermill-style `parameters` cell. Used by moe-lab's runner and exporter.
 */
import { readFileSync, writeFileSync, renameSync, mkdirSync, existsSync, statSync, unlinkSync } from "fs";
import { basename, dirname, join } from "path";
import { describeValue } from "./validate";

/** One output of a code cell (nbformat 4). */
export type Output =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: string | string[] }
  | { output_type: "display_data"; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: "execute_result"; data: Record<string, unknown>; metadata: Record<string, unknown>; execution_count: number | null }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

/** One cell (nbformat 4.5: cells carry an `id`). */
export interface Cell {
  id?: string;
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: Record<string, unknown> & { tags?: string[] };
  outputs?: Output[];
  execution_count?: number | null;
  attachments?: Record<string, unknown>;
}

/** A notebook (nbformat 4). */
export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

/** A notebook file that cannot be used: names the file and what is wrong. */
export class NotebookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotebookError";
  }
}

/** A cell's source as one string (nbformat allows a string or a list of lines). */
export function cellSource(cell: Pick<Cell, "source">): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Splits text into nbformat's list-of-lines form (each line keeps its newline). */
export function toLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.length === 1 && lines[0] === "" ? [] : lines;
}

/**
 * Checks that parsed JSON is an nbformat-4 notebook; `file` names it in errors.
 * @throws {NotebookError} naming the file and the problem.
 */
export function checkNotebook(value: unknown, file: string): Notebook {
  const nb = value as Notebook;
  if (!nb || typeof nb !== "object" || Array.isArray(nb)) throw new NotebookError(`${file}: not a notebook (expected a JSON object)`);
  if (nb.nbformat !== 4) throw new NotebookError(`${file}: nbformat must be 4, got ${describeValue(nb.nbformat)}`);
  if (!Array.isArray(nb.cells)) throw new NotebookError(`${file}: "cells" must be an array`);
  nb.cells.forEach((c, i) => {
    if (!c || !["code", "markdown", "raw"].includes(c.cell_type)) {
      throw new NotebookError(`${file}: cell ${i + 1} has an unknown cell_type ${describeValue(c?.cell_type)}`);
    }
    if (typeof c.source !== "string" && !Array.isArray(c.source)) throw new NotebookError(`${file}: cell ${i + 1} has no source`);
  });
  return nb;
}

/**
 * Reads a notebook file and checks it.
 * @throws {NotebookError} when the file is missing, not JSON, or not nbformat 4.
 */
export function readNotebook(file: string): Notebook {
  if (!existsSync(file)) throw new NotebookError(`${file}: no such notebook`);
  if (statSync(file).isDirectory()) throw new NotebookError(`${file}: is a folder, not a notebook`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new NotebookError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return checkNotebook(parsed, file);
}

/** Serialises a notebook the way Jupyter does (1-space indent, trailing newline): stable bytes. */
export function serializeNotebook(nb: Notebook): string {
  return JSON.stringify(nb, null, 1) + "\n";
}

/**
 * Writes `text` to `file` atomically: a temp file beside it, then a rename. A crash or error
 * leaves the previous file intact; the temp file is removed on failure.
 */
export function writeFileAtomic(file: string, text: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw e;
  }
}

/** A copy of the notebook with every output and execution count removed (the committed form). */
export function stripOutputs(nb: Notebook): Notebook {
  return {
    ...nb,
    cells: nb.cells.map((c) => (c.cell_type === "code" ? { ...c, outputs: [], execution_count: null } : { ...c })),
  };
}

/** The notebook's title (first `# ` heading) and one-line purpose (the paragraph after it). */
export function notebookSummary(nb: Notebook): { title: string; purpose: string } {
  const md = nb.cells.find((c) => c.cell_type === "markdown");
  const text = md ? cellSource(md) : "";
  const lines = text.split("\n");
  const h = lines.findIndex((l) => /^#\s+/.test(l));
  const title = h >= 0 ? lines[h].replace(/^#\s+/, "").trim() : "Untitled notebook";
  const rest = lines.slice(h + 1);
  const start = rest.findIndex((l) => l.trim() !== "");
  const para: string[] = [];
  for (let i = Math.max(start, 0); start >= 0 && i < rest.length && rest[i].trim() !== ""; i++) para.push(rest[i].trim());
  return { title, purpose: para.join(" ") };
}

// ---------------------------------------------------------------------------------------------
// Parameters (papermill convention: one cell tagged `parameters`, literals only)

/** A parameter value: what a literal in the parameters cell can be. */
export type ParamValue = number | string | boolean | ParamValue[];

/** One parameter of a notebook: its name, default and the comment beside it. */
export interface NotebookParameter {
  name: string;
  defaultValue: ParamValue;
  /** `number`, `string`, `boolean` or `array` (`parameterType` says more: `integer`, `number[]`...). */
  type: "number" | "string" | "boolean" | "array";
  /**
   * Whether the default is written as an integer literal (`42`, `[16, 64]`; not `2.0` or `1e3`):
   * a value given for it must then be an integer too (a seed of 1.5 is no seed). Absent: false.
   */
  integer?: boolean;
  comment: string;
}

/** Index of the cell tagged `parameters`, or -1. */
export function findTaggedCell(nb: Notebook, tag: string): number {
  return nb.cells.findIndex((c) => Array.isArray(c.metadata?.tags) && c.metadata.tags.includes(tag));
}

function typeOf(v: ParamValue): NotebookParameter["type"] {
  return Array.isArray(v) ? "array" : (typeof v as "number" | "string" | "boolean");
}

/** Whether a literal's numbers are all written as integers (digits only): `42`, `[1, 8]`, not `2.0`, `1e3`. */
function integerLiteral(literal: string, value: ParamValue): boolean {
  const leaves = (v: ParamValue): ParamValue[] => (Array.isArray(v) ? v.flatMap(leaves) : [v]);
  const xs = leaves(value);
  // All leaves are numbers, so the literal holds no strings: any `.`, `e` or `E` is in a number.
  return xs.length > 0 && xs.every((x) => typeof x === "number" && Number.isSafeInteger(x)) && !/[.eE]/.test(literal);
}

function valueType(v: ParamValue, integer: boolean): string {
  if (!Array.isArray(v)) return typeof v === "number" ? (integer ? "integer" : "number") : typeof v;
  const kinds = [...new Set(v.map((x) => valueType(x, integer)))];
  return kinds.length === 1 ? `${kinds[0]}[]` : "array";
}

/**
 * The type a value for the parameter must have, from its default: `integer` (the default is an
 * integer literal), `number`, `string`, `boolean`, or a list of one of them (`integer[]`,
 * `number[][]`); `array` when the default is an empty or mixed list.
 * @throws {TypeError} when p is not a parameter from `listParameters`.
 * @example parameterType({ name: "seed", defaultValue: 42, type: "number", integer: true, comment: "" }) // => "integer"
 */
export function parameterType(p: NotebookParameter): string {
  if (!p || typeof p !== "object" || !("defaultValue" in p)) throw new TypeError(`p must be a parameter from listParameters, got ${describeValue(p)}`);
  return valueType(p.defaultValue, p.integer === true);
}

/** Whether `v` has type `t` (as `parameterType` writes types). */
function fitsType(v: ParamValue, t: string): boolean {
  if (t.endsWith("[]")) return Array.isArray(v) && v.every((x) => fitsType(x, t.slice(0, -2)));
  if (t === "array") return Array.isArray(v);
  if (t === "integer") return typeof v === "number" && Number.isSafeInteger(v);
  if (t === "number") return typeof v === "number" && Number.isFinite(v);
  return typeof v === t;
}

const SCALAR_WORDS: Record<string, [string, string]> = {
  integer: ["an integer", "integers"],
  number: ["a number", "numbers"],
  string: ["a string", "strings"],
  boolean: ["true or false", "booleans"],
};
const LIST_EXAMPLES: Record<string, string> = { integer: "1,2 or [1]", number: "0.5,1 or [0.5]", string: 'a,b or ["a"]', boolean: "true,false or [true]" };

/** What a value of type `t` must be, in words: "an integer", "a list of integers (integer[]), like 1,2 or [1] for one value". */
function typeWords(t: string): string {
  if (!t.endsWith("[]")) return t === "array" ? "a list in brackets, like [1, \"a\"]" : SCALAR_WORDS[t]?.[0] ?? `a ${t}`;
  const el = t.slice(0, -2);
  if (SCALAR_WORDS[el]) return `a list of ${SCALAR_WORDS[el][1]} (${t}), like ${LIST_EXAMPLES[el]} for one value`;
  return `a list of lists in brackets (${t}), like [[1, 2]]`;
}

/** Parses a TypeScript literal of the kinds allowed in a parameters cell. */
export function parseLiteral(text: string): ParamValue {
  const t = text.trim();
  // Single-quoted strings become JSON strings; everything else must already be JSON.
  const json = t.replace(/'((?:[^'\\]|\\.)*)'/g, (_m, s: string) => JSON.stringify(s.replace(/\\'/g, "'")));
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw new SyntaxError(`not a literal (number, string, boolean or array of them): ${t}`);
  }
  const ok = (x: unknown): boolean =>
    typeof x === "number" || typeof x === "string" || typeof x === "boolean" || (Array.isArray(x) && x.every(ok));
  if (!ok(v)) throw new SyntaxError(`not a literal (number, string, boolean or array of them): ${t}`);
  return v as ParamValue;
}

/**
 * Lists the parameters of a notebook: every `const name = literal;` line of its cell tagged
 * `parameters`.
 * @throws {NotebookError} when that cell holds anything else than such lines and comments.
 */
export function listParameters(nb: Notebook, file = "notebook"): NotebookParameter[] {
  const i = findTaggedCell(nb, "parameters");
  if (i < 0) return [];
  const out: NotebookParameter[] = [];
  for (const raw of cellSource(nb.cells[i]).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("//")) continue;
    const m = /^(?:const|let)\s+([A-Za-z_$][\w$]*)\s*(?::\s*[^=]+)?=\s*(.+?);?\s*(?:\/\/\s*(.*))?$/.exec(line);
    if (!m) throw new NotebookError(`${file}: the parameters cell may hold only "const name = literal;" lines, got: ${line}`);
    let value: ParamValue;
    try {
      value = parseLiteral(m[2]);
    } catch (e) {
      throw new NotebookError(`${file}: parameter ${m[1]}: ${(e as Error).message}`);
    }
    out.push({ name: m[1], defaultValue: value, type: typeOf(value), integer: integerLiteral(m[2], value), comment: (m[3] ?? "").trim() });
  }
  return out;
}

/**
 * Types a command-line value (`"32"`, `"true"`, `"a,b"`, `"[1,2]"`) from the parameter's default
 * (`parameterType`): an integer default takes integers only; a list takes a comma-separated list
 * (`4,5`) or a bracketed one (`[4]`), never a bare scalar (`4` is refused: write `[4]`).
 * @throws {RangeError} naming the parameter, the expected type, its default and the value when
 *   the value does not fit.
 * @example coerceParameter(listParameters(nb)[0], "7") // => 7
 */
export function coerceParameter(p: NotebookParameter, raw: string): ParamValue {
  const t = parameterType(p);
  if (typeof raw !== "string") throw new TypeError(`raw must be a string, got ${describeValue(raw)}`);
  const bad = (): never => {
    throw new RangeError(`parameter ${p.name} must be ${typeWords(t)} (default ${JSON.stringify(p.defaultValue)}), got ${JSON.stringify(raw)}`);
  };
  const scalar = (s: string, st: string): ParamValue => {
    if (st === "integer" || st === "number") {
      const x = s.trim() === "" ? NaN : Number(s);
      return fitsType(x, st) ? x : bad();
    }
    if (st === "boolean") return s.trim() === "true" ? true : s.trim() === "false" ? false : bad();
    if (st === "string") return s;
    return bad(); // a list of lists has no comma-separated form
  };
  if (p.type !== "array") return scalar(raw, t);
  let v: ParamValue;
  if (raw.trim().startsWith("[")) {
    try {
      v = parseLiteral(raw);
    } catch {
      return bad();
    }
  } else {
    // A bare value is a scalar, not a list of one: `batchSizes=5` is refused rather than guessed.
    if (!raw.includes(",") || !t.endsWith("[]")) return bad();
    const el = t.slice(0, -2);
    v = raw.split(",").map((s) => scalar(el === "string" ? s.trim() : s, el));
  }
  return fitsType(v, t) ? v : bad();
}

/** Whether a cell is the one `injectParameters` added (it is not in the source notebook). */
function isInjected(c: Cell): boolean {
  return Array.isArray(c.metadata?.tags) && c.metadata.tags.includes("injected-parameters");
}

/** Where a cell of an executed notebook is in its source notebook (see `cellPosition`). */
export interface CellPosition {
  /** 1-based among all cells of the source notebook, markdown included. */
  cellNumber: number;
  /** 1-based among the code cells of the source notebook; null for a markdown or raw cell. */
  codeCellNumber: number | null;
  /** Whether it is the cell `injectParameters` added (then `cellNumber` is the parameters cell's). */
  injected: boolean;
}

/**
 * Finds a cell of an executed notebook as its author finds it in the source notebook: its number
 * among all cells and among the code cells, neither counting the cell `injectParameters` added.
 * @param nb the notebook as executed (with any injected parameters cell)
 * @param cellNumber 1-based index into `nb.cells` (what lib/runner reports)
 * @throws {TypeError} when nb is not a notebook; {RangeError} when cellNumber is not one of its cells.
 * @example cellPosition(injectParameters(nb, { seed: 1 }), 7) // => { cellNumber: 6, codeCellNumber: 3, injected: false }
 */
export function cellPosition(nb: Notebook, cellNumber: number): CellPosition {
  if (!nb || typeof nb !== "object" || !Array.isArray(nb.cells)) throw new TypeError(`nb must be a notebook, got ${describeValue(nb)}`);
  if (!Number.isSafeInteger(cellNumber) || cellNumber < 1 || cellNumber > nb.cells.length) {
    throw new RangeError(`cellNumber must be an integer from 1 to ${nb.cells.length}, got ${describeValue(cellNumber)}`);
  }
  const cell = nb.cells[cellNumber - 1];
  const before = nb.cells.slice(0, cellNumber - 1).filter((c) => !isInjected(c));
  if (isInjected(cell)) return { cellNumber: before.length, codeCellNumber: null, injected: true };
  const code = before.filter((c) => c.cell_type === "code").length + 1;
  return { cellNumber: before.length + 1, codeCellNumber: cell.cell_type === "code" ? code : null, injected: false };
}

/**
 * Names a cell of an executed notebook for a message, numbered as in the source notebook
 * (`cellPosition`), saying what is counted.
 * @example cellLabel(injectParameters(nb, { seed: 1 }), 7) // => "code cell 3 (cell 6, counting markdown cells)"
 * @throws {TypeError}/{RangeError} as `cellPosition`.
 */
export function cellLabel(nb: Notebook, cellNumber: number): string {
  const p = cellPosition(nb, cellNumber);
  if (p.injected) return `the --param cell (injected after cell ${p.cellNumber}, the parameters cell)`;
  if (p.codeCellNumber === null) return `cell ${p.cellNumber} (counting markdown cells)`;
  return `code cell ${p.codeCellNumber} (cell ${p.cellNumber}, counting markdown cells)`;
}

/** The widened TypeScript type of a parameter value (`number`, `string[]`...): injected values
 * must not carry literal types, or comparisons with other literals fail to compile. */
function tsType(v: ParamValue): string {
  if (Array.isArray(v)) {
    const kinds = [...new Set(v.map((x) => tsType(x)))];
    return kinds.length === 1 ? `${kinds[0]}[]` : kinds.length === 0 ? "never[]" : `(${kinds.join(" | ")})[]`;
  }
  return typeof v;
}

/**
 * Returns a copy of `nb` with a cell tagged `injected-parameters` right after the `parameters`
 * cell, overriding the given values, and the overrides recorded in `metadata.moe_lab.parameters`.
 * @throws {NotebookError} when the notebook has no parameters cell or a name is unknown.
 */
export function injectParameters(nb: Notebook, overrides: Record<string, ParamValue>, file = "notebook"): Notebook {
  const names = Object.keys(overrides);
  if (names.length === 0) return nb;
  const at = findTaggedCell(nb, "parameters");
  const params = listParameters(nb, file);
  if (at < 0) throw new NotebookError(`${file}: has no cell tagged "parameters", so it takes no parameters`);
  for (const n of names) {
    if (!params.some((p) => p.name === n)) {
      throw new NotebookError(`${file}: unknown parameter ${n}; valid: ${params.map((p) => `${p.name}=${JSON.stringify(p.defaultValue)}`).join(", ")}`);
    }
  }
  const lines = ["// Injected by moe-lab run --param (overrides the parameters cell above)"];
  for (const n of names) lines.push(`const ${n}: ${tsType(overrides[n])} = ${JSON.stringify(overrides[n])};`);
  // Tells lib/checks.ts that the prose's numbers (which describe the defaults) may not hold.
  lines.push(`(globalThis as Record<string, unknown>).moeLabOverrides = ${JSON.stringify(overrides)};`);
  const injected: Cell = {
    id: "injected-parameters",
    cell_type: "code",
    source: toLines(lines.join("\n")),
    metadata: { tags: ["injected-parameters"] },
    outputs: [],
    execution_count: null,
  };
  const cells = nb.cells.filter((c) => !isInjected(c));
  const pos = cells.findIndex((c) => Array.isArray(c.metadata?.tags) && c.metadata.tags.includes("parameters"));
  cells.splice(pos + 1, 0, injected);
  const meta = { ...(nb.metadata ?? {}) } as Record<string, unknown>;
  meta.moe_lab = { ...((meta.moe_lab as Record<string, unknown>) ?? {}), parameters: { ...overrides } };
  return { ...nb, metadata: meta, cells };
}
