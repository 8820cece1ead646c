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
  /** `number`, `string`, `boolean` or `array`. */
  type: "number" | "string" | "boolean" | "array";
  comment: string;
}

/** Index of the cell tagged `parameters`, or -1. */
export function findTaggedCell(nb: Notebook, tag: string): number {
  return nb.cells.findIndex((c) => Array.isArray(c.metadata?.tags) && c.metadata.tags.includes(tag));
}

function typeOf(v: ParamValue): NotebookParameter["type"] {
  return Array.isArray(v) ? "array" : (typeof v as "number" | "string" | "boolean");
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
    out.push({ name: m[1], defaultValue: value, type: typeOf(value), comment: (m[3] ?? "").trim() });
  }
  return out;
}

/**
 * Types a command-line value (`"32"`, `"true"`, `"a,b"`, `"[1,2]"`) from the parameter's default.
 * @throws {RangeError} naming the parameter when the value does not fit its type.
 */
export function coerceParameter(p: NotebookParameter, raw: string): ParamValue {
  const bad = (): never => {
    throw new RangeError(`parameter ${p.name} must be a ${p.type} (default ${JSON.stringify(p.defaultValue)}), got ${JSON.stringify(raw)}`);
  };
  switch (p.type) {
    case "number": {
      const x = raw.trim() === "" ? NaN : Number(raw);
      return Number.isFinite(x) ? x : bad();
    }
    case "boolean":
      return raw === "true" ? true : raw === "false" ? false : bad();
    case "string":
      return raw;
    case "array": {
      let v: ParamValue;
      try {
        v = raw.trim().startsWith("[") ? parseLiteral(raw) : raw.split(",").map((s) => {
          const el = (p.defaultValue as ParamValue[])[0];
          return typeof el === "number" ? (Number.isFinite(Number(s)) && s.trim() !== "" ? Number(s) : bad()) : s.trim();
        });
      } catch (e) {
        if (e instanceof RangeError) throw e;
        return bad();
      }
      if (!Array.isArray(v)) return bad();
      const el = (p.defaultValue as ParamValue[])[0];
      if (el !== undefined && !(v as ParamValue[]).every((x) => typeof x === typeof el)) return bad();
      return v;
    }
  }
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
  const cells = nb.cells.filter((c) => !(Array.isArray(c.metadata?.tags) && c.metadata.tags.includes("injected-parameters")));
  const pos = cells.findIndex((c) => Array.isArray(c.metadata?.tags) && c.metadata.tags.includes("parameters"));
  cells.splice(pos + 1, 0, injected);
  const meta = { ...(nb.metadata ?? {}) } as Record<string, unknown>;
  meta.moe_lab = { ...((meta.moe_lab as Record<string, unknown>) ?? {}), parameters: { ...overrides } };
  return { ...nb, metadata: meta, cells };
}
