/**
 * Captures: the study guide's "Captured fields" (named fields with concrete values: IDs, scores,
 * tokens, routes, states, timestamps, errors) as a small versioned JSON record, so evidence from
 * one run can be compared with another's. Commands write them with `--capture FILE`; notebooks
 * build them with `createCapture`; `compareCaptures` lines two up field by field.
 *
 * A record may carry a timestamp (it is a record of a run); notebooks never print one.
 * Introduced in notebooks/06-active-vs-total.ipynb; used in 07-operations-and-incidents.ipynb.
 */
import { randomBytes } from "crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "fs";
import { basename, dirname, join } from "path";
import { describeValue } from "./validate";

/** The schema tag every capture carries. */
export const CAPTURE_SCHEMA = "moe-lab/capture";
/** The version of the capture format this code reads and writes. */
export const CAPTURE_VERSION = 1;

/** One JSON scalar: a string, a finite number, a boolean or null. */
export type CaptureScalar = string | number | boolean | null;
/** A field value: a JSON scalar, or a list of them (a route, per-expert loads). */
export type CaptureValue = CaptureScalar | CaptureScalar[];

/** A capture: what ran, optionally when, and named fields with concrete values. */
export interface CaptureRecord {
  schema: typeof CAPTURE_SCHEMA;
  version: typeof CAPTURE_VERSION;
  /** What was captured ("params deepseek-v3", "decode run, node 3"). */
  name: string;
  /** The command or notebook that wrote it. */
  source?: string;
  /** When it was captured, ISO 8601 ("2025-07-01T12:00:00Z"). */
  timestamp?: string;
  /** Field name -> value; nested objects are flattened to dotted names by `createCapture`. */
  fields: Record<string, CaptureValue>;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function checkScalar(where: string, field: string, v: unknown): CaptureScalar {
  if (v === null) return null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new RangeError(`${where}: ${field} must be a finite number, got ${describeValue(v)}`);
    return v;
  }
  throw new TypeError(`${where}: ${field} must be a string, number, boolean, null or a list of them, got ${describeValue(v)}`);
}

function checkValue(where: string, field: string, v: unknown): CaptureValue {
  if (Array.isArray(v)) return v.map((x, i) => checkScalar(where, `${field}[${i}]`, x));
  return checkScalar(where, field, v);
}

function checkFieldName(where: string, name: string): void {
  if (name.length === 0 || name.trim() !== name) {
    throw new RangeError(`${where}: field names must be non-empty without surrounding spaces, got ${describeValue(name)}`);
  }
}

function checkTimestamp(where: string, v: unknown): string {
  if (typeof v !== "string") throw new TypeError(`${where}: timestamp must be an ISO 8601 string, got ${describeValue(v)}`);
  if (!ISO_TIME.test(v) || Number.isNaN(Date.parse(v))) {
    throw new RangeError(`${where}: timestamp must be an ISO 8601 date-time like "2025-07-01T12:00:00Z", got ${describeValue(v)}`);
  }
  return v;
}

/**
 * Checks a parsed capture and returns a typed, fresh copy.
 * @param value parsed JSON
 * @param where name used in error messages (a file name)
 * @throws {TypeError}/{RangeError} starting with `where: field`: wrong schema or version, a
 *   missing name, an unknown top-level key, a bad timestamp or a field value that is not a scalar or list.
 * @example validateCapture({ schema: "moe-lab/capture", version: 1, name: "x", fields: { a: 1 } }).fields.a // => 1
 */
export function validateCapture(value: unknown, where = "capture"): CaptureRecord {
  if (typeof where !== "string") throw new TypeError(`where must be a string, got ${describeValue(where)}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${where}: a capture must be a JSON object, got ${describeValue(value)}`);
  }
  const r = value as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!["schema", "version", "name", "source", "timestamp", "fields"].includes(k)) {
      throw new RangeError(`${where}: ${k} is not a known capture key (known: schema, version, name, source, timestamp, fields)`);
    }
  }
  if (r.schema !== CAPTURE_SCHEMA) throw new RangeError(`${where}: schema must be "${CAPTURE_SCHEMA}", got ${describeValue(r.schema)}`);
  if (r.version !== CAPTURE_VERSION) throw new RangeError(`${where}: version must be ${CAPTURE_VERSION}, got ${describeValue(r.version)}`);
  if (typeof r.name !== "string" || r.name.length === 0) throw new TypeError(`${where}: name must be a non-empty string, got ${describeValue(r.name)}`);
  if (typeof r.fields !== "object" || r.fields === null || Array.isArray(r.fields)) {
    throw new TypeError(`${where}: fields must be an object of name -> value, got ${describeValue(r.fields)}`);
  }
  const fields: Record<string, CaptureValue> = {};
  for (const [k, v] of Object.entries(r.fields as Record<string, unknown>)) {
    checkFieldName(where, k);
    fields[k] = checkValue(where, `fields.${k}`, v);
  }
  if (r.source !== undefined && typeof r.source !== "string") {
    throw new TypeError(`${where}: source must be a string, got ${describeValue(r.source)}`);
  }
  const timestamp = r.timestamp === undefined ? undefined : checkTimestamp(where, r.timestamp);
  return {
    schema: CAPTURE_SCHEMA,
    version: CAPTURE_VERSION,
    name: r.name,
    ...(r.source === undefined ? {} : { source: r.source as string }),
    ...(timestamp === undefined ? {} : { timestamp }),
    fields,
  };
}

function flatten(prefix: string, v: unknown, out: Record<string, unknown>): void {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
  } else {
    out[prefix] = v;
  }
}

/**
 * Builds a capture from named values; nested plain objects become dotted field names
 * (`{ kv: { bf16: 1 } }` -> `"kv.bf16": 1`).
 * @param name what was captured
 * @param fields name -> value (scalars, lists of scalars, or nested objects of them)
 * @param options `source` (command or notebook) and `timestamp` (ISO 8601; leave out in notebooks)
 * @throws {TypeError}/{RangeError} naming the field that cannot be captured.
 * @example createCapture("run", { model: "dbrx", load: { max: 3 } }).fields // => { model: "dbrx", "load.max": 3 }
 */
export function createCapture(
  name: string,
  fields: Record<string, unknown>,
  options: { source?: string; timestamp?: string } = {},
): CaptureRecord {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new TypeError(`fields must be an object of name -> value, got ${describeValue(fields)}`);
  }
  if (typeof options !== "object" || options === null) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const flat: Record<string, unknown> = {};
  flatten("", fields, flat);
  const record: Record<string, unknown> = { schema: CAPTURE_SCHEMA, version: CAPTURE_VERSION, name };
  if (options.source !== undefined) record.source = options.source;
  if (options.timestamp !== undefined) record.timestamp = options.timestamp;
  record.fields = flat;
  return validateCapture(record, "capture");
}

/**
 * Parses the JSON text of a capture.
 * @param where name used in error messages (a file name)
 * @throws {SyntaxError} when it is empty or not JSON; {TypeError}/{RangeError} from `validateCapture`.
 * @example parseCapture('{"schema":"moe-lab/capture","version":1,"name":"x","fields":{}}').name // => "x"
 */
export function parseCapture(text: string, where = "capture"): CaptureRecord {
  if (typeof text !== "string") throw new TypeError(`text must be a string, got ${describeValue(text)}`);
  if (text.trim() === "") throw new SyntaxError(`${where} is empty (expected a capture record in JSON)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${where} is not valid JSON: ${(e as Error).message}`);
  }
  return validateCapture(parsed, where);
}

/**
 * Reads and checks a capture file.
 * @param file path of a capture JSON file
 * @throws {SyntaxError}/{TypeError}/{RangeError} naming the file; the file system's error when unreadable.
 * @example readCapture("build/captures/slow.json").fields.model // => "deepseek-v3"
 */
export function readCapture(file: string): CaptureRecord {
  if (typeof file !== "string" || file.length === 0) throw new TypeError(`file must be a non-empty path string, got ${describeValue(file)}`);
  return parseCapture(readFileSync(file, "utf8"), basename(file));
}

/** Why a capture could not be written, in words, naming `file` rather than the temporary file. */
const WRITE_REASONS: Record<string, (file: string) => string> = {
  ENOENT: (file) => (existsSync(dirname(file)) ? "the file cannot be created there" : `its folder ${dirname(file)} does not exist`),
  ENOTDIR: (file) => `a part of ${dirname(file)} is not a folder`,
  EISDIR: () => "it is a folder",
  EACCES: () => "permission denied",
  EPERM: () => "permission denied",
  EROFS: () => "the file system is read-only",
};

function writeError(file: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== "string") return e;
  const reason = WRITE_REASONS[code]?.(file) ?? (e as Error).message;
  const err: NodeJS.ErrnoException = new Error(`cannot write capture ${file}: ${reason} (${code})`);
  err.code = code;
  return err;
}

/**
 * Writes a capture atomically (a temporary file in the same folder, then a rename): a reader
 * never sees half a record, and a failed write leaves no temporary file behind.
 * @param file destination path (its folder must exist)
 * @throws {TypeError}/{RangeError} when record is not a valid capture; otherwise the file system's
 *   error, with its `code` kept and a one-line message naming `file` and why
 *   (`cannot write capture out/run.json: its folder out does not exist (ENOENT)`).
 * @example writeCapture("run.json", createCapture("run", { ok: true })) // => undefined (file written)
 */
export function writeCapture(file: string, record: CaptureRecord): void {
  if (typeof file !== "string" || file.length === 0) throw new TypeError(`file must be a non-empty path string, got ${describeValue(file)}`);
  const checked = validateCapture(record, "record");
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, JSON.stringify(checked, null, 2) + "\n");
    renameSync(tmp, file);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Nothing to remove where no folder is (ENOTDIR); the write's own error is the one to report.
    }
    throw writeError(file, e);
  }
}

/**
 * Whether a numeric field names something rather than measures it: a seed, an id, an index, or
 * one particular rank, expert, layer or node (`slowest_rank`). For such a field a ratio between
 * two values means nothing (seed 2 is not twice seed 1; rank 9 is not "57% less" than rank 21),
 * so a comparison shows its difference without a relative change.
 *
 * The rule is on the field's last dotted segment, by moe-lab's snake_case naming: it is one of
 * `seed id index idx rank expert layer node`, or ends with `_` and one of them, and is not a
 * per-unit amount (`tokens_per_rank`). Counts are plural (`num_experts`, `redundant_experts`)
 * and sizes are amounts (`ep`, the expert-parallel degree: 64 GPUs is +100% over 32), so both
 * keep their relative change.
 * @example isIdentifierField("slowest_rank") // => true
 * @example isIdentifierField("tokens_per_rank") // => false
 */
export function isIdentifierField(field: string): boolean {
  if (typeof field !== "string") throw new TypeError(`field must be a string, got ${describeValue(field)}`);
  const last = field.slice(field.lastIndexOf(".") + 1);
  return /(^|_)(seed|id|index|idx|rank|expert|layer|node)$/.test(last) && !/(^|_)per_[a-z]+$/.test(last);
}

/** One field of two captures side by side. */
export interface CaptureComparisonRow {
  field: string;
  /** Value in the first capture; undefined when only the second has the field. */
  a: CaptureValue | undefined;
  b: CaptureValue | undefined;
  status: "same" | "changed" | "only-a" | "only-b";
  changed: boolean;
  /** b - a when both are numbers, else null. */
  delta: number | null;
  /**
   * (b - a) / |a| when both are numbers and a != 0 (0 when both are 0), else null; also null for
   * an identifier field (`identifier`), whose relative change means nothing.
   */
  relativeDelta: number | null;
  /** Whether the field names something (a seed, a rank index) rather than measures it: `isIdentifierField`. */
  identifier: boolean;
}

/** What `compareCaptures` returns. */
export interface CaptureComparison {
  a: { name: string; timestamp: string | null };
  b: { name: string; timestamp: string | null };
  /** Fields of a in order, then fields only b has. */
  rows: CaptureComparisonRow[];
  changedCount: number;
  sameCount: number;
}

function sameValue(x: CaptureValue, y: CaptureValue): boolean {
  return JSON.stringify(x) === JSON.stringify(y);
}

/**
 * Lines up two captures field by field: what changed, and by how much for numbers (the
 * difference, and the relative change unless the field is an identifier: `isIdentifierField`).
 * @throws {TypeError}/{RangeError} when either is not a valid capture (named "a" or "b").
 * @example compareCaptures(createCapture("x", { n: 10 }), createCapture("y", { n: 12 })).rows[0].relativeDelta // => 0.2
 */
export function compareCaptures(a: CaptureRecord, b: CaptureRecord): CaptureComparison {
  const ca = validateCapture(a, "a");
  const cb = validateCapture(b, "b");
  const names = Object.keys(ca.fields);
  for (const k of Object.keys(cb.fields)) if (!(k in ca.fields)) names.push(k);
  const rows = names.map((field): CaptureComparisonRow => {
    const inA = field in ca.fields;
    const inB = field in cb.fields;
    const va = inA ? ca.fields[field] : undefined;
    const vb = inB ? cb.fields[field] : undefined;
    const status = !inB ? "only-a" : !inA ? "only-b" : sameValue(va as CaptureValue, vb as CaptureValue) ? "same" : "changed";
    const identifier = isIdentifierField(field);
    let delta: number | null = null;
    let relativeDelta: number | null = null;
    if (typeof va === "number" && typeof vb === "number") {
      delta = vb - va;
      if (!identifier) relativeDelta = va !== 0 ? delta / Math.abs(va) : delta === 0 ? 0 : null;
    }
    return { field, a: va, b: vb, status, changed: status !== "same", delta, relativeDelta, identifier };
  });
  const changedCount = rows.filter((r) => r.changed).length;
  return {
    a: { name: ca.name, timestamp: ca.timestamp ?? null },
    b: { name: cb.name, timestamp: cb.timestamp ?? null },
    rows,
    changedCount,
    sameCount: rows.length - changedCount,
  };
}

function show(v: CaptureValue | undefined): string {
  if (v === undefined) return "—";
  if (Array.isArray(v)) return v.length > 8 ? `[${v.slice(0, 8).join(", ")}, … ${v.length} items]` : `[${v.join(", ")}]`;
  return String(v);
}

function deltaText(r: CaptureComparisonRow): string {
  if (r.status === "only-a") return "only in A";
  if (r.status === "only-b") return "only in B";
  if (!r.changed) return "";
  if (r.delta === null) return "changed";
  const sign = r.delta > 0 ? "+" : "";
  const rel = r.relativeDelta === null ? "" : ` (${sign}${(100 * r.relativeDelta).toFixed(1)}%)`;
  const d = Number.isInteger(r.delta) ? String(r.delta) : String(Number(r.delta.toPrecision(6)));
  return `${sign}${d}${rel}`;
}

/**
 * The comparison as rows of text cells: field, A, B, change ("" when the same).
 * @param onlyChanged keep only the rows that differ (default false)
 * @throws {TypeError} when comparison is not from `compareCaptures`.
 * @example comparisonCells(compareCaptures(createCapture("x", { n: 10 }), createCapture("y", { n: 12 })))[0] // => ["n", "10", "12", "+2 (+20.0%)"]
 */
export function comparisonCells(comparison: CaptureComparison, onlyChanged = false): string[][] {
  if (typeof comparison !== "object" || comparison === null || !Array.isArray(comparison.rows)) {
    throw new TypeError(`comparison must come from compareCaptures, got ${describeValue(comparison)}`);
  }
  return comparison.rows.filter((r) => !onlyChanged || r.changed).map((r) => [r.field, show(r.a), show(r.b), deltaText(r)]);
}

/**
 * The comparison as a plain-text table for a terminal (header names both captures and, if
 * recorded, their timestamps).
 * @throws {TypeError} when comparison is not from `compareCaptures`.
 * @example formatComparison(compareCaptures(createCapture("x", { n: 10 }), createCapture("y", { n: 12 }))).split("\n")[0] // => "A: x"
 */
export function formatComparison(comparison: CaptureComparison, onlyChanged = false): string {
  const cells = comparisonCells(comparison, onlyChanged);
  const head = ["field", "A", "B", "change"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join("  ").trimEnd();
  const stamp = (t: string | null) => (t ? ` (${t})` : "");
  return [
    `A: ${comparison.a.name}${stamp(comparison.a.timestamp)}`,
    `B: ${comparison.b.name}${stamp(comparison.b.timestamp)}`,
    "",
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
    "",
    `${comparison.changedCount} of ${comparison.rows.length} fields differ`,
  ].join("\n") + "\n";
}

/**
 * The comparison as a Markdown table (for `tslab.display.markdown` in notebooks). Timestamps are
 * not shown, so notebook outputs stay the same from run to run.
 * @throws {TypeError} when comparison is not from `compareCaptures`.
 * @example comparisonMarkdown(compareCaptures(createCapture("x", { n: 10 }), createCapture("y", { n: 12 }))).split("\n")[0] // => "| field | x | y | change |"
 */
export function comparisonMarkdown(comparison: CaptureComparison, onlyChanged = false): string {
  const cells = comparisonCells(comparison, onlyChanged);
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const rows = [[ "field", comparison.a.name, comparison.b.name, "change"], ["---", "---:", "---:", "---"], ...cells];
  return rows.map((r) => `| ${r.map(esc).join(" | ")} |`).join("\n");
}

/**
 * A copy of a capture keeping only the named fields (a name also keeps its dotted children:
 * "kv_bytes_per_token" keeps "kv_bytes_per_token.all_layers_bf16"), in the order of `names`.
 * @param names field names or prefixes to keep
 * @throws {TypeError}/{RangeError} when record is not a valid capture or names is not a list of strings.
 * @example selectFields(createCapture("x", { a: 1, b: { c: 2 }, d: 3 }), ["b", "a"]).fields // => { "b.c": 2, a: 1 }
 */
export function selectFields(record: CaptureRecord, names: readonly string[]): CaptureRecord {
  const r = validateCapture(record, "record");
  if (!Array.isArray(names) || names.some((n) => typeof n !== "string")) {
    throw new TypeError(`names must be an array of field names, got ${describeValue(names)}`);
  }
  const fields: Record<string, CaptureValue> = {};
  for (const n of names) {
    for (const [k, v] of Object.entries(r.fields)) if (k === n || k.startsWith(`${n}.`)) fields[k] = v;
  }
  return { ...r, fields };
}
