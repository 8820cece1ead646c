/**
 * Checks the `@example` lines of lib/'s JSDoc against the compiled library.
 *
 * Forms understood, inside one `@example` block (the tag's line and the comment lines after it, up
 * to the next `@tag` or the end of the comment):
 *   - `expr // => value`, or `expr` on one line and `// => value` on the next;
 *   - `expr // throws TypeError "message"`;
 *   - lines of code ending with `;` (`const r = ...;`): setup, run before the checks below them;
 *   - other `// ...` lines: comments.
 * `value` is a JS literal (numbers, strings, booleans, null, undefined, arrays, objects, and
 * `Float64Array [..]` for typed arrays), optionally followed by a parenthetical comment:
 * `77 (context 4096)`. A number ending in `...` is truncated (`0.8333...`: equal to the digits
 * shown); `(to 1e-6)` gives an absolute tolerance; otherwise a number may differ from the actual
 * one only by floating-point noise (relative 1e-9) when it is written with fewer digits.
 *
 * Each block runs as the body of an async function whose parameters are every export of lib/
 * (compiled, next to this test in dist/lib), the file's own exports taking precedence, with the
 * working directory at the repository root. A block that needs a name nothing defines (`model`,
 * `nb`) is not self-contained: it is listed, not failed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { inspect } from "node:util";
import { repoRoot } from "../lib/paths";

/** Modules that are programs rather than library code: not loaded. */
const NOT_LIBRARY = new Set(["runner-worker.ts"]);
/** Examples that write files run in a fresh temporary folder instead of the repository root. */
const WRITES_FILES = /\bwrite[A-Z]\w*\(/;
/** At least this many checks must actually be evaluated (guards against extraction breaking). */
const MIN_EVALUATED = 170;

// ---------------------------------------------------------------- expected values

class Num {
  constructor(readonly value: number, readonly text: string, readonly truncated: boolean) {}
}

class Typed {
  constructor(readonly name: string, readonly items: unknown[]) {}
}

interface ParsedValue {
  value: unknown;
  /** Absolute tolerance for numbers, from a `(to 1e-6)` comment. */
  tolerance?: number;
}

const TYPED_ARRAYS = new Set([
  "Float64Array",
  "Float32Array",
  "Int32Array",
  "Uint32Array",
  "Int16Array",
  "Uint16Array",
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
]);

/** Parses `text` as one JS literal, then an optional parenthetical comment; throws on anything else. */
function parseExpected(text: string): ParsedValue {
  let pos = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at column ${pos + 1} of ${JSON.stringify(text)}`);
  };
  const ws = (): void => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const ident = (): string => {
    const m = /^[A-Za-z_$][\w$]*/.exec(text.slice(pos));
    if (!m) return "";
    pos += m[0].length;
    return m[0];
  };
  const str = (): string => {
    const quote = text[pos++];
    let out = "";
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text[pos++];
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = text[pos++];
      const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", "0": "\0" };
      if (e === "u") {
        const hex = text.slice(pos, pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
        out += String.fromCharCode(parseInt(hex, 16));
        pos += 4;
      } else out += simple[e] ?? e;
    }
  };
  const num = (): Num => {
    const m = /^[-+]?(?:Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/.exec(text.slice(pos));
    if (!m) return fail("expected a number");
    pos += m[0].length;
    const truncated = text.startsWith("...", pos);
    if (truncated) pos += 3;
    return new Num(Number(m[0]), m[0], truncated);
  };
  const list = (): unknown[] => {
    pos++; // [
    const items: unknown[] = [];
    for (;;) {
      ws();
      if (text[pos] === "]") {
        pos++;
        return items;
      }
      items.push(value());
      ws();
      if (text[pos] === ",") pos++;
      else if (text[pos] !== "]") fail("expected , or ]");
    }
  };
  const object = (): Record<string, unknown> => {
    pos++; // {
    const out: Record<string, unknown> = {};
    for (;;) {
      ws();
      if (text[pos] === "}") {
        pos++;
        return out;
      }
      const c = text[pos];
      const key = c === '"' || c === "'" ? str() : /[\d]/.test(c) ? String(num().value) : ident();
      if (key === "") fail("expected a key");
      ws();
      if (text[pos] !== ":") fail("expected :");
      pos++;
      out[key] = value();
      ws();
      if (text[pos] === ",") pos++;
      else if (text[pos] !== "}") fail("expected , or }");
    }
  };
  const value = (): unknown => {
    ws();
    const c = text[pos];
    if (c === "[") return list();
    if (c === "{") return object();
    if (c === '"' || c === "'") return str();
    if (c !== undefined && /[-+\d.]/.test(c)) return num();
    const start = pos;
    const word = ident();
    switch (word) {
      case "true":
        return true;
      case "false":
        return false;
      case "null":
        return null;
      case "undefined":
        return undefined;
      case "NaN":
      case "Infinity":
        pos = start;
        return num();
    }
    if (TYPED_ARRAYS.has(word)) {
      ws();
      if (text[pos] !== "[") fail(`expected [ after ${word}`);
      return new Typed(word, list());
    }
    pos = start;
    return fail("expected a literal");
  };

  const parsed: ParsedValue = { value: value() };
  ws();
  const rest = text.slice(pos);
  if (rest !== "") {
    let depth = 0;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === "(") depth++;
      else if (rest[i] === ")") depth--;
      if (depth === 0 && i < rest.length - 1) fail("unexpected text after the value");
      if (depth < 0) fail("unbalanced )");
    }
    if (!rest.startsWith("(") || depth !== 0) fail("unexpected text after the value");
    const tol = /^\(to ([-+]?\d*\.?\d+(?:e[-+]?\d+)?)\)$/i.exec(rest);
    if (tol) parsed.tolerance = Number(tol[1]);
  }
  return parsed;
}

function significantDigits(numberText: string): number {
  const mantissa = numberText.replace(/^[-+]/, "").replace(/e.*$/i, "").replace(".", "");
  return mantissa.replace(/^0+/, "").length;
}

function numberMatches(e: Num, actual: number, tolerance: number | undefined): boolean {
  if (actual === e.value || (Number.isNaN(actual) && Number.isNaN(e.value))) return true;
  if (!Number.isFinite(actual) || !Number.isFinite(e.value)) return false;
  if (tolerance !== undefined) return Math.abs(actual - e.value) <= tolerance;
  if (e.truncated) {
    const decimals = (/\.(\d+)/.exec(e.text)?.[1].length ?? 0) - Number(/e([-+]?\d+)/i.exec(e.text)?.[1] ?? 0);
    return Math.abs(actual - e.value) < 10 ** -decimals;
  }
  return significantDigits(e.text) < significantDigits(String(actual)) && Math.abs(actual - e.value) <= 1e-9 * Math.abs(e.value);
}

/** Why `actual` differs from `expected`, or null when it does not. */
function mismatch(expected: unknown, actual: unknown, tolerance: number | undefined, path = "value"): string | null {
  if (expected instanceof Num) {
    if (typeof actual !== "number") return `${path}: expected a number, got ${inspect(actual)}`;
    return numberMatches(expected, actual, tolerance) ? null : `${path}: expected ${expected.text}, got ${actual}`;
  }
  if (expected instanceof Typed) {
    const tag = Object.prototype.toString.call(actual).slice(8, -1);
    if (tag !== expected.name) return `${path}: expected a ${expected.name}, got ${inspect(actual)}`;
    return mismatch(expected.items, Array.from(actual as ArrayLike<unknown>), tolerance, path);
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${inspect(actual)}`;
    if (actual.length !== expected.length) return `${path}: expected ${expected.length} items, got ${actual.length}`;
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(expected[i], actual[i], tolerance, `${path}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return `${path}: expected an object, got ${inspect(actual)}`;
    const ek = Object.keys(expected).sort();
    const ak = Object.keys(actual).sort();
    if (ek.join() !== ak.join()) return `${path}: expected keys [${ek.join(", ")}], got [${ak.join(", ")}]`;
    for (const k of ek) {
      const m = mismatch((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k], tolerance, `${path}.${k}`);
      if (m) return m;
    }
    return null;
  }
  return Object.is(expected, actual) ? null : `${path}: expected ${inspect(expected)}, got ${inspect(actual)}`;
}

// ---------------------------------------------------------------- extraction

interface Check {
  line: number;
  expr: string;
  /** The raw text after `// =>` or `// throws`. */
  expectedText: string;
  throws: boolean;
}

interface Block {
  file: string;
  line: number;
  /** Setup statements and checks, in order. */
  steps: ({ setup: string } | { check: Check })[];
  problems: string[];
}

/** Strips TypeScript-only syntax that a plain-JS evaluation cannot take. */
function stripTypes(code: string): string {
  return code
    .replace(/\s+as\s+(?:const|never|unknown|any)\b/g, "")
    .replace(/\s+satisfies\s+[A-Z][\w.]*(?:<[^>]*>)?/g, "")
    .replace(/\b([A-Za-z_$][\w$]*)<[A-Z][\w$<>, [\]|"]*>\(/g, "$1(");
}

function extractBlocks(root: string, file: string): Block[] {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const blocks: Block[] = [];
  let inComment = false;
  let block: Block | null = null;
  let pending: { line: number; expr: string } | null = null;
  const close = (): void => {
    if (block && pending) block.problems.push(`line ${pending.line}: no \`// =>\` after ${pending.expr}`);
    if (block && !block.steps.some((s) => "check" in s)) block.problems.push("no `// =>` or `// throws` in the example");
    block = null;
    pending = null;
  };
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    if (!inComment) {
      if (!/^\s*\/\*\*/.test(raw)) return;
      inComment = true;
    }
    const ends = raw.includes("*/");
    const body = raw
      .replace(/^\s*\/\*\*\s?/, "")
      .replace(/^\s*\*(?!\/)\s?/, "")
      .replace(/\s*\*\/.*$/, "")
      .trim();
    const tag = /^@(\w+)\s*(.*)$/.exec(body);
    let content: string | null = null;
    if (tag) {
      close();
      if (tag[1] === "example") {
        block = { file, line: lineNo, steps: [], problems: [] };
        blocks.push(block);
        content = tag[2];
      }
    } else if (block) content = body;
    if (block && content !== null && content !== "") {
      const b: Block = block;
      const arrow = content.indexOf("// =>");
      const throwsAt = content.search(/\/\/ throws\b/);
      if (arrow >= 0 || throwsAt >= 0) {
        const at = arrow >= 0 ? arrow : throwsAt;
        const code = content.slice(0, at).trim();
        const expectedText = content.slice(at + (arrow >= 0 ? 5 : "// throws".length)).trim();
        const expr = code !== "" ? code : pending?.expr;
        if (!expr) b.problems.push(`line ${lineNo}: \`// =>\` with no expression before it`);
        else b.steps.push({ check: { line: code !== "" ? lineNo : pending!.line, expr: stripTypes(expr), expectedText, throws: arrow < 0 } });
        pending = null;
      } else if (content.startsWith("//")) {
        // a comment inside the example
      } else if (/;\s*$/.test(content)) {
        if (pending) b.problems.push(`line ${pending.line}: no \`// =>\` after ${pending.expr}`);
        pending = null;
        b.steps.push({ setup: stripTypes(content) });
      } else {
        if (pending) b.problems.push(`line ${pending.line}: no \`// =>\` after ${pending.expr}`);
        pending = { line: lineNo, expr: content };
      }
    }
    if (ends) {
      close();
      inComment = false;
    }
  });
  close();
  return blocks;
}

function listSources(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listSources(dir, rel));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

// ---------------------------------------------------------------- evaluation

const RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends false finally for function if import in " +
    "instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface " +
    "package private protected public await arguments eval").split(" "),
);

type Exports = Record<string, unknown>;

function loadExports(distLib: string, sourceFile: string): Exports {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const mod = require(join(distLib, sourceFile.replace(/\.ts$/, ".js"))) as Exports;
  const out: Exports = {};
  for (const [k, v] of Object.entries(mod)) if (/^[A-Za-z_$][\w$]*$/.test(k) && !RESERVED.has(k)) out[k] = v;
  return out;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

// eslint-disable-next-line @typescript-eslint/no-empty-function
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor as new (...args: string[]) => (...args: unknown[]) => Promise<void>;

/** Runs a block; one outcome per check, in order (a throwing setup statement fails the checks after it). */
async function runBlock(block: Block, scope: Exports): Promise<Outcome[]> {
  const names = Object.keys(scope);
  const checks = block.steps.filter((s): s is { check: Check } => "check" in s);
  const body = block.steps
    .map((s) =>
      "setup" in s
        ? s.setup
        : `try { __out.push({ ok: true, value: await (${s.check.expr}\n) }); } catch (__e) { __out.push({ ok: false, error: __e }); }`,
    )
    .join("\n");
  const out: Outcome[] = [];
  try {
    // The inner block lets an example declare a name that is also an export (`const { imbalance } = ...`).
    const fn = new AsyncFunction("__out", ...names, `"use strict";\n{\n${body}\n}`);
    await fn(out, ...names.map((n) => scope[n]));
  } catch (e) {
    while (out.length < checks.length) out.push({ ok: false, error: e });
  }
  return out;
}

/** The name an example uses that nothing defines, or null when the error is something else. */
function undefinedName(error: unknown, scope: Exports, block: Block): string | null {
  if (!(error instanceof ReferenceError)) return null;
  const m = /^(\S+) is not defined$/.exec(error.message);
  if (!m || m[1] in scope) return null;
  const code = block.steps.map((s) => ("setup" in s ? s.setup : s.check.expr)).join("\n");
  return new RegExp(`(^|[^\\w$.])${m[1].replace(/\$/g, "\\$")}\\b`).test(code) ? m[1] : null;
}

/**
 * The file an example reads from build/ (the gitignored output folder, filled by running the CLI
 * or the notebooks) when it is not there: such an example is not self-contained either.
 */
function missingBuildFile(error: unknown, block: Block): string | null {
  const e = error as NodeJS.ErrnoException | null;
  if (e?.code !== "ENOENT" || typeof e.path !== "string" || !/^build\//.test(e.path)) return null;
  return block.steps.some((s) => ("setup" in s ? s.setup : s.check.expr).includes(e.path!)) ? e.path : null;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : inspect(e);
}

test("every self-contained @example in lib/ gives the value it states", async (t) => {
  const root = repoRoot();
  const distLib = join(__dirname, "..", "lib");
  const sources = listSources(join(root, "lib"), "").filter((f) => !NOT_LIBRARY.has(f));
  const exportsOf = new Map(sources.map((f) => [f, loadExports(distLib, f)]));
  const everything: Exports = {};
  for (const ex of exportsOf.values()) for (const [k, v] of Object.entries(ex)) if (!(k in everything)) everything[k] = v;

  const failures: string[] = [];
  const notSelfContained: string[] = [];
  let blocks = 0;
  let found = 0;
  let evaluated = 0;
  const cwd = process.cwd();
  const started = Date.now();
  try {
    for (const source of sources) {
      const file = relative(root, join(root, "lib", source));
      for (const block of extractBlocks(root, file)) {
        blocks++;
        const checks = block.steps.filter((s): s is { check: Check } => "check" in s).map((s) => s.check);
        found += checks.length;
        for (const p of block.problems) failures.push(`${file}:${block.line}: ${p}`);
        if (block.problems.length > 0) continue;
        const expected = checks.map((c) => {
          if (c.throws) {
            const m = /^(\w*Error)(?:\s+("(?:[^"\\]|\\.)*"))?$/.exec(c.expectedText);
            if (!m) failures.push(`${file}:${c.line}: cannot parse \`// throws ${c.expectedText}\` (want: // throws TypeError "message")`);
            return m ? { error: m[1], message: m[2] === undefined ? undefined : (JSON.parse(m[2]) as string) } : null;
          }
          try {
            return parseExpected(c.expectedText);
          } catch (e) {
            failures.push(`${file}:${c.line}: cannot parse the expected value of ${c.expr}: ${(e as Error).message}`);
            return null;
          }
        });
        if (expected.some((e) => e === null)) continue;

        const scope = { ...everything, ...exportsOf.get(source) };
        const tmp = WRITES_FILES.test(checks.map((c) => c.expr).join("\n")) ? mkdtempSync(join(tmpdir(), "moe-lab-doc-example-")) : null;
        process.chdir(tmp ?? root);
        let outcomes: Outcome[];
        try {
          outcomes = await runBlock(block, scope);
        } finally {
          process.chdir(cwd);
          if (tmp) rmSync(tmp, { recursive: true, force: true });
        }
        checks.forEach((c, i) => {
          const where = `${file}:${c.line}: ${c.expr}\n    expected: ${c.throws ? "throws " : ""}${c.expectedText}`;
          const o = outcomes[i];
          const e = expected[i]!;
          if (!o.ok) {
            const name = undefinedName(o.error, scope, block);
            const missing = missingBuildFile(o.error, block);
            if (name || missing) {
              notSelfContained.push(`${file}:${c.line}: ${c.expr} (${name ? `${name} is not defined` : `no ${missing}`})`);
              return;
            }
          }
          evaluated++;
          if ("error" in e) {
            if (o.ok) failures.push(`${where}\n    actual:   returned ${inspect(o.value, { depth: 4 })}`);
            else {
              const err = o.error as Error;
              if (err?.name !== e.error || (e.message !== undefined && err.message !== e.message)) failures.push(`${where}\n    actual:   threw ${errorText(err)}`);
            }
            return;
          }
          if (!o.ok) {
            failures.push(`${where}\n    actual:   threw ${errorText(o.error)}`);
            return;
          }
          const why = mismatch(e.value, o.value, e.tolerance);
          if (why) failures.push(`${where}\n    actual:   ${inspect(o.value, { depth: 4, breakLength: Infinity, maxArrayLength: 40 })}\n    (${why})`);
        });
      }
    }
  } finally {
    process.chdir(cwd);
  }

  t.diagnostic(`${blocks} @example blocks, ${found} checks found, ${evaluated} evaluated, ${notSelfContained.length} not self-contained, in ${Date.now() - started} ms`);
  for (const n of notSelfContained) t.diagnostic(`not self-contained: ${n}`);
  if (failures.length > 0) assert.fail(`${failures.length} @example(s) in lib/ are wrong or unreadable:\n\n${failures.join("\n\n")}\n`);
  assert.ok(evaluated >= MIN_EVALUATED, `only ${evaluated} of ${found} @example checks could be evaluated (at least ${MIN_EVALUATED} expected)`);
});

test("the expected-value parser", () => {
  assert.equal(parseExpected("77 (context 4096)").value instanceof Num, true);
  assert.deepEqual(parseExpected(`{ a: [1, "x"], 'b': null } (comment (nested))`).value, { a: [new Num(1, "1", false), "x"], b: null });
  assert.equal(parseExpected("0.8 (to 1e-6)").tolerance, 1e-6);
  assert.throws(() => parseExpected("rows within 25%"), SyntaxError);
  assert.throws(() => parseExpected("false until it exists"), SyntaxError);
  assert.throws(() => parseExpected("[1, 2"), SyntaxError);
  const n = (text: string) => parseExpected(text).value;
  assert.equal(mismatch(n("1978.9"), 1978.9000000000001, undefined), null);
  assert.notEqual(mismatch(n("1978.91"), 1978.9000000000001, undefined), null);
  assert.notEqual(mismatch(n("77"), 77.4, undefined), null);
  assert.equal(mismatch(n("0.8333..."), 5 / 6, undefined), null);
  assert.notEqual(mismatch(n("0.8334..."), 0.8, undefined), null);
  assert.equal(mismatch(n("Float64Array [0.5, 1]"), new Float64Array([0.5, 1]), undefined), null);
  assert.notEqual(mismatch(n("[0.5, 1]"), new Float64Array([0.5, 1]), undefined), null);
  assert.notEqual(mismatch(n("{ a: 1 }"), { a: 1, b: 2 }, undefined), null);
  assert.equal(mismatch(n(`"a\\nb"`), "a\nb", undefined), null);
});
