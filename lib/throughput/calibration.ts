/**
 * Calibration data: the CSV that tools/calibrate_experts.py writes on a GPU, its parser, the
 * loader for data/calibration/*.csv, the load patterns of the grouped runs, and synthetic rows
 * (made from known factors) for testing the fit.
 * Introduced in notebooks/05-throughput-model.ipynb.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "fs";
import { isAbsolute, join } from "path";
import { repoRoot } from "../paths";
import type { GpuSpec } from "../hardware";
import type { Rng } from "../rng";
import { describeValue, requireInteger, requireNumber, requireOneOf } from "../validate";
import { DEFAULT_FACTORS, ExpertShape, RankWork, RooflineFactors, WeightPrecision, rankExpertTime, validateExpertShape } from "./roofline";

/** How tokens are spread over the experts of a grouped run. */
export type LoadPattern = "balanced" | "skewed" | "single";

/** The load patterns of the grouped runs. */
export const LOAD_PATTERNS: readonly LoadPattern[] = ["balanced", "skewed", "single"];

/** The weight precisions the calibration script measures (its CSV's `dtype` column). */
export const CALIBRATION_PRECISIONS: readonly WeightPrecision[] = ["bf16", "fp8"];

/** One timed configuration. */
export interface CalibrationRow {
  /** "single": one expert; "grouped": a rank holding `numExperts` experts (grouped GEMM). */
  kind: "single" | "grouped";
  /** Weight precision of the timed experts (the CSV's `dtype`); absent means "bf16". */
  precision?: WeightPrecision;
  hiddenSize: number;
  intermediateSize: number;
  /** Experts on the rank (1 for single). */
  numExperts: number;
  /** Load pattern ("single" for single-expert rows). */
  loadPattern: LoadPattern;
  /** Token copies processed in total. */
  totalTokens: number;
  /** Experts with at least one token. */
  activeExperts: number;
  /** Tokens of the most-loaded expert. */
  maxExpertTokens: number;
  /** Median measured time (seconds). */
  medianSeconds: number;
}

/** A parsed calibration file. */
export interface CalibrationFile {
  /** Repo-relative path, e.g. "data/calibration/h100.csv". */
  file: string;
  /** The `# key: value` header comments (gpu, driver, torch, date, ...). */
  meta: Record<string, string>;
  rows: CalibrationRow[];
}

/** What `loadCalibration` found. */
export interface CalibrationSet {
  /** True when at least one CSV exists under data/calibration/. */
  present: boolean;
  /** "data/calibration". */
  directory: string;
  files: CalibrationFile[];
  /** One sentence for a notebook or the CLI. */
  message: string;
}

/** CSV columns, in the order tools/calibrate_experts.py writes them. */
export const CALIBRATION_COLUMNS = [
  "kind",
  "dtype",
  "hidden",
  "intermediate",
  "num_experts",
  "load_pattern",
  "total_tokens",
  "active_experts",
  "max_expert_tokens",
  "median_us",
  "p10_us",
  "p90_us",
  "repeats",
] as const;

/**
 * Tokens per expert for a grouped run: "balanced" spreads evenly (remainder to the lowest
 * indices), "skewed" follows 1/(i+1) (floor, remainder one each to the lowest indices),
 * "single" puts everything on expert 0. tools/calibrate_experts.py uses the same rule.
 * @throws {RangeError} for negative tokens or fewer than 1 expert.
 * @example groupedLoads("skewed", 10, 4) // => [5, 3, 1, 1] (floors [4, 2, 1, 1], then one each to experts 0 and 1)
 */
export function groupedLoads(pattern: LoadPattern, totalTokens: number, numExperts: number): number[] {
  requireOneOf("pattern", pattern, LOAD_PATTERNS);
  requireInteger("totalTokens", totalTokens, { min: 0 });
  requireInteger("numExperts", numExperts, { min: 1 });
  const loads = new Array<number>(numExperts).fill(0);
  if (pattern === "single") {
    loads[0] = totalTokens;
    return loads;
  }
  const w = loads.map((_, i) => (pattern === "balanced" ? 1 : 1 / (i + 1)));
  const sumW = w.reduce((a, b) => a + b, 0);
  let given = 0;
  for (let i = 0; i < numExperts; i++) {
    loads[i] = Math.floor((totalTokens * w[i]) / sumW);
    given += loads[i];
  }
  for (let i = 0; given < totalTokens; i = (i + 1) % numExperts, given++) loads[i]++;
  return loads;
}

function parseCsvNumber(file: string, line: number, col: string, raw: string, integer: boolean): number {
  const x = raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(x) || (integer && !Number.isSafeInteger(x)) || x < 0) {
    throw new RangeError(`${file} line ${line}: ${col} must be a ${integer ? "non-negative integer" : "non-negative number"}, got ${JSON.stringify(raw)}`);
  }
  return x;
}

/**
 * Parses a calibration CSV: `# key: value` comment lines (provenance), a header line, then rows.
 * Rows in bf16 and fp8 (`CALIBRATION_PRECISIONS`) are returned with their `precision`; rows in
 * any other dtype are skipped. Fit one precision at a time (`rowsOfPrecision`).
 * @param file name used in error messages.
 * @throws {RangeError} naming the file, line and column of a missing column or malformed value.
 * @example parseCalibrationCsv(formatCalibrationCsv({ gpu: "H100" }, []), "x.csv").meta.gpu // => "H100"
 */
export function parseCalibrationCsv(text: string, file = "calibration.csv"): CalibrationFile {
  if (typeof text !== "string") throw new TypeError(`text must be a string, got ${describeValue(text)}`);
  const meta: Record<string, string> = {};
  const rows: CalibrationRow[] = [];
  let header: string[] | null = null;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s*([\w .-]+?)\s*:\s*(.*)$/.exec(line);
      if (m) meta[m[1]] = m[2];
      continue;
    }
    const cells = line.split(",").map((c) => c.trim());
    if (!header) {
      header = cells;
      for (const c of CALIBRATION_COLUMNS) {
        if (!header.includes(c)) throw new RangeError(`${file} line ${n + 1}: header must have column ${c} (columns: ${CALIBRATION_COLUMNS.join(",")})`);
      }
      continue;
    }
    if (cells.length !== header.length) throw new RangeError(`${file} line ${n + 1}: expected ${header.length} cells, got ${cells.length}`);
    const get = (c: string): string => cells[(header as string[]).indexOf(c)];
    const kind = get("kind");
    if (kind !== "single" && kind !== "grouped") throw new RangeError(`${file} line ${n + 1}: kind must be single or grouped, got ${JSON.stringify(kind)}`);
    const pattern = get("load_pattern");
    if (!(LOAD_PATTERNS as readonly string[]).includes(pattern)) {
      throw new RangeError(`${file} line ${n + 1}: load_pattern must be one of ${LOAD_PATTERNS.join(", ")}, got ${JSON.stringify(pattern)}`);
    }
    const dtype = get("dtype");
    if (!(CALIBRATION_PRECISIONS as readonly string[]).includes(dtype)) continue;
    const int = (c: string): number => parseCsvNumber(file, n + 1, c, get(c), true);
    const row: CalibrationRow = {
      kind,
      precision: dtype as WeightPrecision,
      hiddenSize: int("hidden"),
      intermediateSize: int("intermediate"),
      numExperts: int("num_experts"),
      loadPattern: pattern as LoadPattern,
      totalTokens: int("total_tokens"),
      activeExperts: int("active_experts"),
      maxExpertTokens: int("max_expert_tokens"),
      medianSeconds: parseCsvNumber(file, n + 1, "median_us", get("median_us"), false) / 1e6,
    };
    if (row.medianSeconds <= 0) throw new RangeError(`${file} line ${n + 1}: median_us must be > 0, got ${get("median_us")}`);
    rows.push(row);
  }
  if (!header) throw new RangeError(`${file}: no header line (columns: ${CALIBRATION_COLUMNS.join(",")})`);
  return { file, meta, rows };
}

/**
 * Refuses a file that is not a GPU measurement: the script's `--dry-run` writes `# device: cpu`
 * (tiny shapes timed on the CPU, to check the format), and such a file must never be fitted as if
 * it were an H100. Files without a `device` line (older or hand-made) are accepted.
 * @throws {RangeError} naming the file and its device.
 * @example requireGpuMeasurement({ file: "x.csv", meta: { device: "cuda" }, rows: [] }).file // => "x.csv"
 */
export function requireGpuMeasurement(file: CalibrationFile): CalibrationFile {
  if (!file || typeof file !== "object" || typeof file.meta !== "object" || file.meta === null) {
    throw new TypeError(`file must be a parsed calibration file ({file, meta, rows}), got ${describeValue(file)}`);
  }
  const device = file.meta.device;
  if (device !== undefined && device !== "cuda") {
    throw new RangeError(
      `${file.file}: device is ${JSON.stringify(device)}, allowed: "cuda" (a --dry-run file checks the CSV format only; run tools/calibrate_experts.py on a GPU)`,
    );
  }
  return file;
}

/**
 * Loads every *.csv of a calibration folder (sorted by name): data/calibration by default, or a
 * folder of your own measurements (relative to the repo root, or absolute). When the folder holds
 * no CSV, says so: `present: false` and a message naming the script that makes them.
 * @param directory the folder, as it should appear in messages (default "data/calibration").
 * @throws {TypeError} for a non-string directory; {RangeError} from `parseCalibrationCsv` for a
 *   malformed file, from `requireGpuMeasurement` for a CPU dry-run file, and when `directory` is a
 *   file or does not exist (a mistyped folder is not "no calibration yet").
 * @example loadCalibration().directory // => "data/calibration"
 */
export function loadCalibration(directory = "data/calibration"): CalibrationSet {
  if (typeof directory !== "string" || directory.trim() === "") throw new TypeError(`directory must be a non-empty string, got ${describeValue(directory)}`);
  const dir = isAbsolute(directory) ? directory : join(repoRoot(), directory);
  if (!existsSync(dir)) throw new RangeError(`directory must be an existing folder of calibration CSVs, got ${JSON.stringify(directory)}, which does not exist`);
  if (!statSync(dir).isDirectory()) throw new RangeError(`directory must be a folder of calibration CSVs, got the file ${JSON.stringify(directory)}`);
  const label = directory.replace(/[\\/]+$/, "");
  const names = readdirSync(dir).filter((f) => f.endsWith(".csv")).sort();
  const files = names.map((f) => requireGpuMeasurement(parseCalibrationCsv(readFileSync(join(dir, f), "utf8"), `${label}/${f}`)));
  const present = files.length > 0;
  return {
    present,
    directory: label,
    files,
    message: present
      ? `${files.length} calibration file(s): ${files.map((f) => `${f.file} (${f.rows.length} rows, gpu ${f.meta.gpu ?? "unknown"})`).join("; ")}`
      : `no calibration CSV under ${label}/ yet: run tools/calibrate_experts.py on a GPU; until then the model uses DEFAULT_FACTORS (assumed, not measured)`,
  };
}

/**
 * The calibration CSV text for `rows` with `meta` as `# key: value` lines: the format
 * tools/calibrate_experts.py writes (p10/p90 = median and repeats = 1, since rows keep only the
 * median). `parseCalibrationCsv` reads it back to the same rows.
 * @throws {TypeError} for a non-object meta or a meta value with a line break.
 * @example formatCalibrationCsv({ gpu: "H100" }, []).split("\n")[0] // => "# gpu: H100"
 */
export function formatCalibrationCsv(meta: Record<string, string>, rows: readonly CalibrationRow[]): string {
  if (!meta || typeof meta !== "object") throw new TypeError(`meta must be an object of strings, got ${describeValue(meta)}`);
  if (!Array.isArray(rows)) throw new TypeError(`rows must be an array of calibration rows, got ${describeValue(rows)}`);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string" || /[\r\n]/.test(v) || !/^[\w .-]+$/.test(k)) throw new TypeError(`meta.${k} must be a one-line string under a word key, got ${describeValue(v)}`);
    lines.push(`# ${k}: ${v}`);
  }
  lines.push(CALIBRATION_COLUMNS.join(","));
  for (const r of rows) {
    const us = String(+(r.medianSeconds * 1e6).toPrecision(12));
    lines.push([r.kind, r.precision ?? "bf16", r.hiddenSize, r.intermediateSize, r.numExperts, r.loadPattern, r.totalTokens, r.activeExperts, r.maxExpertTokens, us, us, us, 1].join(","));
  }
  return lines.join("\n") + "\n";
}

/**
 * The work of a calibration row: its tokens, active experts, and each active expert's tokens (the
 * grouped load pattern, `groupedLoads`; one expert for a single row), so a tiled compute term
 * (`RooflineFactors.tileRows`) rounds each expert on its own. `fitRoofline`, `fitErrorReport` and
 * `syntheticCalibrationRows` all price rows through it.
 * @example calibrationRowWork({ kind: "grouped", hiddenSize: 64, intermediateSize: 32, numExperts: 4, loadPattern: "single", totalTokens: 8, activeExperts: 1, maxExpertTokens: 8, medianSeconds: 1e-5 }).slotTokens // => [8]
 */
export function calibrationRowWork(r: CalibrationRow): RankWork {
  const slotTokens = r.kind === "grouped" ? groupedLoads(r.loadPattern, r.totalTokens, r.numExperts).filter((n) => n > 0) : [r.totalTokens];
  return { tokens: r.totalTokens, activeExperts: r.activeExperts, slotTokens };
}

/** Options of `syntheticCalibrationRows`. */
export interface SyntheticOptions {
  /** Expert shapes to "measure". */
  shapes: ExpertShape[];
  /** Token counts for single-expert rows (and totals for grouped rows). */
  tokenCounts: number[];
  /** The true factors the rows are made from. */
  factors?: RooflineFactors;
  /** Experts per rank for grouped rows (0: no grouped rows). Default 16. */
  groupedExperts?: number;
  /** Relative noise amplitude: each time is multiplied by 1 + noise x u, u uniform in [-1, 1). Default 0. */
  noise?: number;
  /** Needed when noise > 0. */
  rng?: Rng;
  /** Weight precision of the "measured" experts (default "bf16"). */
  precision?: WeightPrecision;
}

/**
 * Calibration rows computed from the roofline with known factors (plus optional seeded noise):
 * what a perfect measurement of a roofline GPU would give. Used to test that the fit recovers them.
 * @throws {RangeError} for bad shapes, token counts or noise; {TypeError} when noise > 0 without an rng.
 * @example syntheticCalibrationRows(getGpu("h100"), { shapes: [{ hiddenSize: 7168, intermediateSize: 2048 }], tokenCounts: [1, 2], groupedExperts: 0 }).length // => 2
 */
export function syntheticCalibrationRows(gpu: GpuSpec, options: SyntheticOptions): CalibrationRow[] {
  const factors = options.factors ?? DEFAULT_FACTORS;
  const noise = requireNumber("options.noise", options.noise ?? 0, { min: 0, max: 0.5 });
  const groupedExperts = requireInteger("options.groupedExperts", options.groupedExperts ?? 16, { min: 0 });
  if (noise > 0 && (!options.rng || typeof options.rng.random !== "function")) throw new TypeError(`options.rng must be an Rng when options.noise > 0, got ${describeValue(options.rng)}`);
  if (!Array.isArray(options.shapes) || options.shapes.length === 0) throw new TypeError(`options.shapes must be a non-empty array, got ${describeValue(options.shapes)}`);
  const rows: CalibrationRow[] = [];
  const precision = requireOneOf("options.precision", options.precision ?? "bf16", CALIBRATION_PRECISIONS);
  const jitter = (s: number): number => (noise > 0 ? s * (1 + noise * (2 * (options.rng as Rng).random() - 1)) : s);
  options.shapes.forEach((shape, si) => {
    validateExpertShape(shape, `options.shapes[${si}]`);
    for (const [ti, t] of options.tokenCounts.entries()) {
      requireInteger(`options.tokenCounts[${ti}]`, t, { min: 1 });
      const s = rankExpertTime({ tokens: t, activeExperts: 1 }, shape, gpu, factors, precision).seconds;
      rows.push({ kind: "single", precision, hiddenSize: shape.hiddenSize, intermediateSize: shape.intermediateSize, numExperts: 1, loadPattern: "single", totalTokens: t, activeExperts: 1, maxExpertTokens: t, medianSeconds: jitter(s) });
    }
    if (groupedExperts === 0) return;
    for (const pattern of LOAD_PATTERNS) {
      for (const t of options.tokenCounts) {
        const loads = groupedLoads(pattern, t, groupedExperts);
        const activeExperts = loads.filter((x) => x > 0).length;
        // Each expert's tokens, as the fit reads them back (calibrationRowWork), so tiled factors round alike.
        const s = rankExpertTime({ tokens: t, activeExperts, slotTokens: loads.filter((x) => x > 0) }, shape, gpu, factors, precision).seconds;
        rows.push({ kind: "grouped", precision, hiddenSize: shape.hiddenSize, intermediateSize: shape.intermediateSize, numExperts: groupedExperts, loadPattern: pattern, totalTokens: t, activeExperts, maxExpertTokens: Math.max(...loads), medianSeconds: jitter(s) });
      }
    }
  });
  return rows;
}
