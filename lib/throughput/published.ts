/**
 * Published kernel timings (data/published/): real GEMM measurements from other projects, used to
 * check the roofline's form and its efficiency factors until moe-lab's own calibration CSV exists.
 *
 * - DeepGEMM's README table (deepseek-ai/DeepGEMM a6d97a1, 2025-02-25): DeepSeek-V3's GEMM shapes on
 *   an H800 (H100 compute and HBM), FP8 with BF16 output, as dense, contiguous-grouped and
 *   masked-grouped launches. The table gives TFLOPS and GB/s; the loader checks that the GB/s column
 *   implies the same time. Notebook 05, section 3b.
 * - XLA's default matmul performance table (openxla/xla 71feeddf, 2025-10-21): BF16 dots on an H100
 *   (sm_90) over a grid of batch 1-4 and m, n, k 256-4096, 375 rows. Notebook 05, section 3c.
 * In both the time is 2 x groups x m x n x k / TFLOPS. Every row's TFLOPS must be at or below the
 * GPU's dense peak for the precision: a faster "kernel time" cannot be a whole GEMM's.
 */
import { readFileSync } from "fs";
import { GpuSpec, getGpu } from "../hardware";
import { dataPath } from "../paths";
import { describeValue, requireInteger, requireNumber, requireOneOf } from "../validate";
import { CalibratedFactors, CalibrationKind, FitOptions, FitPoint, RooflineFit, UNIT_FACTORS, calibratedFactors, fitRooflinePoints } from "./fit";
import { DEFAULT_FACTORS, GemmShape, RooflineFactors, WEIGHT_PRECISIONS, WeightPrecision, computePeakFlops, computeRate, gemmTime } from "./roofline";

/**
 * How the GEMM was launched: one plain GEMM; a grouped MoE GEMM (contiguous: prefill; masked:
 * decode); or a batched GEMM (groups independent GEMMs of the same shape, each with its own weights).
 */
export type GemmLayout = "dense" | "contiguous" | "masked" | "batched";

/** The layouts a published row may have. */
export const GEMM_LAYOUTS: readonly GemmLayout[] = ["dense", "contiguous", "masked", "batched"];

/** One published measurement. */
export interface PublishedGemm extends GemmShape {
  layout: GemmLayout;
  /** Published throughput, TFLOPS (DeepGEMM: rounded to an integer; XLA: FLOP/s / 1e12 as published). */
  tflops: number;
  /** Published memory throughput, GB/s (rounded to an integer in the source), where the source gives one. */
  gbps?: number;
  /** What the shape is in the model, e.g. "expert: down projection (...)". */
  role: string;
  /** True for the routed-expert shapes (role starts with "expert:"). */
  expert: boolean;
  /** Kernel time implied by the TFLOPS column (seconds). */
  seconds: number;
}

/** A file of published measurements. */
export interface PublishedGemmSet {
  /** The file, repo-relative (data/published/...). */
  file: string;
  description: string;
  /** Where the numbers come from: repo, commit, date, file, how they were measured. */
  source: Record<string, string>;
  /** GPU id in data/hardware.json the numbers were measured on. */
  gpu: string;
  gpuName: string;
  toolchain: string;
  /** Weight precision of the measured kernels (the roofline's byte count and peak follow it). */
  precision: WeightPrecision;
  precisionNote: string;
  rows: PublishedGemm[];
}

/** DeepGEMM's table: H800, FP8. */
export const DEEPGEMM_H800_FILE = "deepgemm-h800-fp8.json";

/** XLA's matmul table: H100, BF16. */
export const XLA_H100_BF16_FILE = "xla-h100-bf16.json";

/** The published sets moe-lab ships. */
export const PUBLISHED_FILES: readonly string[] = [DEEPGEMM_H800_FILE, XLA_H100_BF16_FILE];

/**
 * The published set whose efficiencies `publishedFactors` uses for each expert precision: BF16 from
 * XLA's H100 table, FP8 from DeepGEMM's; FP4 has no published Hopper timings (Hopper computes FP4
 * weights at the FP8 rate), so it takes FP8's.
 */
export const PUBLISHED_FILE_FOR: Readonly<Record<WeightPrecision, string>> = Object.freeze({ bf16: XLA_H100_BF16_FILE, fp8: DEEPGEMM_H800_FILE, fp4: DEEPGEMM_H800_FILE });


function requireString(name: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) throw new TypeError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  return value;
}

/** Reads a JSON file under data/published/ by plain file name; `known` lists the valid names for the error. */
function readPublished(name: string, known: readonly string[]): unknown {
  requireString("name", name);
  if (!/^[A-Za-z0-9._-]+\.json$/.test(name)) throw new RangeError(`name must be a .json file name under data/published/ (e.g. ${known[0]}), got ${describeValue(name)}`);
  let text: string;
  try {
    text = readFileSync(dataPath("published", name), "utf8");
  } catch {
    throw new RangeError(`name must name a file under data/published/ (known: ${known.join(", ")}), got ${describeValue(name)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`data/published/${name} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The checks every published document shares: an object, version 1, full provenance, a known GPU. */
function publishedHeader(raw: unknown, file: string): { d: Record<string, unknown>; source: Record<string, string>; gpu: string; spec: GpuSpec } {
  requireString("file", file);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new TypeError(`${file} must hold a JSON object, got ${describeValue(raw)}`);
  const d = raw as Record<string, unknown>;
  requireInteger(`${file}: version`, d.version, { min: 1, max: 1 });
  const source = d.source;
  if (typeof source !== "object" || source === null || Array.isArray(source)) throw new TypeError(`${file}: source must be an object, got ${describeValue(source)}`);
  for (const key of ["repo", "commit", "date", "file", "benchmark"]) requireString(`${file}: source.${key}`, (source as Record<string, unknown>)[key]);
  const gpu = requireString(`${file}: gpu`, d.gpu);
  try {
    return { d, source: source as Record<string, string>, gpu, spec: getGpu(gpu) };
  } catch (e) {
    throw new RangeError(`${file}: gpu ${(e as Error).message}`);
  }
}

/**
 * Checks and converts a published-measurements document (the JSON under data/published/).
 * Each row's GB/s must imply the same kernel time as its TFLOPS (within 1%; both are rounded
 * integers in the source), which catches a mistyped number.
 * @param file the file name to report in errors and in the result.
 * @throws {TypeError|RangeError} naming the field and row for malformed or inconsistent data.
 * @example parsePublishedGemms(JSON.parse(text), "data/published/deepgemm-h800-fp8.json").rows.length // => 28
 */
export function parsePublishedGemms(raw: unknown, file: string): PublishedGemmSet {
  const { d, source, gpu, spec } = publishedHeader(raw, file);
  const precision = requireOneOf(`${file}: weightPrecision`, d.weightPrecision, WEIGHT_PRECISIONS) as WeightPrecision;
  const peakTflops = computePeakFlops(spec, precision) / 1e12;
  if (!Array.isArray(d.rows) || d.rows.length === 0) throw new TypeError(`${file}: rows must be a non-empty array, got ${describeValue(d.rows)}`);
  const rows = d.rows.map((r: unknown, i: number): PublishedGemm => {
    const at = `${file}: rows[${i}]`;
    if (typeof r !== "object" || r === null) throw new TypeError(`${at} must be an object, got ${describeValue(r)}`);
    const o = r as Record<string, unknown>;
    const layout = requireOneOf(`${at}.layout`, o.layout, GEMM_LAYOUTS) as GemmLayout;
    const shape: GemmShape = {
      groups: requireInteger(`${at}.groups`, o.groups, { min: 1 }),
      m: requireInteger(`${at}.m`, o.m, { min: 1 }),
      n: requireInteger(`${at}.n`, o.n, { min: 1 }),
      k: requireInteger(`${at}.k`, o.k, { min: 1 }),
    };
    if (layout === "dense" && shape.groups !== 1) throw new RangeError(`${at}.groups must be 1 for a dense GEMM, got ${shape.groups}`);
    const tflops = requireNumber(`${at}.tflops`, o.tflops, { min: 0, minExclusive: true });
    if (tflops > peakTflops) {
      throw new RangeError(`${at}.tflops is ${tflops}, above the ${gpu}'s ${computeRate(precision).toUpperCase()} dense peak of ${peakTflops} TFLOPS: that time cannot be a whole GEMM's (is a number mistyped?)`);
    }
    const role = requireString(`${at}.role`, o.role);
    const seconds = (2 * shape.groups * shape.m * shape.n * shape.k) / (tflops * 1e12);
    if (o.gbps === undefined) return { layout, ...shape, tflops, role, expert: role.startsWith("expert:"), seconds };
    const gbps = requireInteger(`${at}.gbps`, o.gbps, { min: 1 });
    // The bytes the roofline counts (for FP8: groups x (m x k + k x n + 2 x m x n), DeepGEMM's own count).
    const t = gemmTime(shape, spec, UNIT_FACTORS, precision);
    const fromBandwidth = (t.weightBytes + t.activationBytes) / (gbps * 1e9);
    if (Math.abs(fromBandwidth / seconds - 1) > 0.01) {
      throw new RangeError(`${at}: ${tflops} TFLOPS implies ${(seconds * 1e6).toFixed(2)} us but ${gbps} GB/s implies ${(fromBandwidth * 1e6).toFixed(2)} us; the two must agree within 1% (is a number mistyped?)`);
    }
    return { layout, ...shape, tflops, gbps, role, expert: role.startsWith("expert:"), seconds };
  });
  return {
    file,
    description: requireString(`${file}: description`, d.description),
    source,
    gpu,
    gpuName: requireString(`${file}: gpuName`, d.gpuName),
    toolchain: requireString(`${file}: toolchain`, d.toolchain),
    precision,
    precisionNote: requireString(`${file}: precisionNote`, d.precisionNote),
    rows,
  };
}

/**
 * Loads a published-measurements file from data/published/.
 * @param name file name under data/published/ (default DeepGEMM's H800 table; `PUBLISHED_FILES` lists them).
 * @throws {RangeError} when the file does not exist (listing the known ones); parse errors as `parsePublishedGemms`.
 * @example loadPublishedGemms().gpu // => "h800"
 */
export function loadPublishedGemms(name: string = DEEPGEMM_H800_FILE): PublishedGemmSet {
  return parsePublishedGemms(readPublished(name, PUBLISHED_FILES), `data/published/${name}`);
}

function requireRows(rows: readonly PublishedGemm[]): void {
  if (!Array.isArray(rows) || rows.length === 0) throw new TypeError(`rows must be a non-empty array of published GEMM rows, got ${describeValue(rows)}`);
}

/**
 * Fits the roofline's factors to published rows (least squares on the relative error, as `fitRoofline`).
 * @param precision the rows' weight precision (the set's `precision`).
 * @throws {RangeError} for fewer than 3 rows; errors of `gemmTime` for bad shapes.
 * @example fitPublishedGemms(loadPublishedGemms().rows.filter((r) => r.expert), getGpu("h800"), "fp8").rows // => 16
 */
export function fitPublishedGemms(rows: readonly PublishedGemm[], gpu: GpuSpec, precision: WeightPrecision, options: FitOptions = {}): RooflineFit {
  requireRows(rows);
  const points: FitPoint[] = rows.map((r) => {
    const t = gemmTime(r, gpu, UNIT_FACTORS, precision);
    return { memorySeconds: t.memorySeconds, computeSeconds: t.computeSeconds, measuredSeconds: r.seconds };
  });
  return fitRooflinePoints(points, options);
}

/** A published row next to the model's time for it. */
export interface PublishedGemmComparison {
  row: PublishedGemm;
  modelSeconds: number;
  /** (model - measured) / measured: negative when the model is too fast. */
  relativeError: number;
  /** Which roofline term the model says dominates. */
  bound: "memory" | "compute";
  /** Modelled TFLOPS (2 x groups x m x n x k / model time). */
  modelTflops: number;
}

/**
 * The model's time for each published row, with the signed relative error.
 * @throws {TypeError|RangeError} for empty rows or bad factors.
 * @example comparePublishedGemms(loadPublishedGemms().rows, getGpu("h800"), DEFAULT_FACTORS, "fp8")[0].bound // => "memory"
 */
export function comparePublishedGemms(rows: readonly PublishedGemm[], gpu: GpuSpec, factors: RooflineFactors, precision: WeightPrecision): PublishedGemmComparison[] {
  requireRows(rows);
  return rows.map((row) => {
    const t = gemmTime(row, gpu, factors, precision);
    return {
      row,
      modelSeconds: t.seconds,
      relativeError: (t.seconds - row.seconds) / row.seconds,
      bound: t.bound,
      modelTflops: (2 * row.groups * row.m * row.n * row.k) / t.seconds / 1e12,
    };
  });
}

/**
 * The rows a set's factors are fitted to: its routed-expert rows where it marks some (DeepGEMM),
 * else all of its rows (XLA's shape grid).
 * @example publishedFitRows(loadPublishedGemms()).length // => 16
 */
export function publishedFitRows(set: PublishedGemmSet): PublishedGemm[] {
  if (typeof set !== "object" || set === null || !Array.isArray(set.rows)) throw new TypeError(`set must be a published set from loadPublishedGemms, got ${describeValue(set)}`);
  const experts = set.rows.filter((r) => r.expert);
  return experts.length > 0 ? experts : set.rows.slice();
}

/**
 * Roofline factors from published timings: the efficiencies fitted to the set's fit rows
 * (`publishedFitRows`), with `DEFAULT_FACTORS`' overhead (profiler kernel times carry no launch or
 * gating cost, so the fit's overhead is not the step model's).
 * @param set published measurements (default DeepGEMM's H800 table).
 * @example publishedFactors().source // => "efficiencies fitted to data/published/deepgemm-h800-fp8.json (16 expert rows, rms error 10.7%), overhead assumed"
 */
export function publishedFactors(set: PublishedGemmSet = loadPublishedGemms()): CalibratedFactors {
  const rows = publishedFitRows(set);
  const fit = fitPublishedGemms(rows, getGpu(set.gpu), set.precision);
  const what = rows.length === set.rows.length ? "rows" : "expert rows";
  return {
    factors: { memoryEfficiency: fit.factors.memoryEfficiency, computeEfficiency: fit.factors.computeEfficiency, overheadSeconds: DEFAULT_FACTORS.overheadSeconds },
    measured: false,
    source: `efficiencies fitted to ${set.file} (${fit.rows} ${what}, rms error ${(fit.rmsRelativeError * 100).toFixed(1)}%), overhead assumed`,
  };
}

/** Where the roofline factors come from: "auto" (this GPU's calibration CSV, else the defaults), "defaults", or "published". */
export type FactorChoice = "auto" | "defaults" | "published";

/** The choices of `factorsFor` (the CLI's `--factors`, notebook 05's `rooflineFactors`). */
export const FACTOR_CHOICES: readonly FactorChoice[] = ["auto", "defaults", "published"];

/**
 * The roofline factors for a GPU by choice: "auto" is `calibratedFactors` (fitted to the GPU's
 * calibration CSV rows in the expert precision when one exists, else the assumed defaults); "defaults" is `DEFAULT_FACTORS`;
 * "published" is `publishedFactors` of the set measured in the expert precision
 * (`PUBLISHED_FILE_FOR`: BF16 from XLA's H100 table, FP8 and FP4 from DeepGEMM's H800 table).
 * The result's `source` says which.
 * @param precision the experts' weight precision (picks the published set, or the calibration rows; default "bf16").
 * @param directory calibration folder for "auto" (default "data/calibration").
 * @param kind for "auto": which calibration rows, "grouped" (a rank's experts, the default) or "single" (one expert).
 * @throws {TypeError|RangeError} for an unknown choice, precision or kind (listing the known ones).
 * @example factorsFor(getGpu("h100"), "defaults").factors === DEFAULT_FACTORS // => true
 */
export function factorsFor(gpu: GpuSpec, choice: FactorChoice = "auto", precision: WeightPrecision = "bf16", directory = "data/calibration", kind: CalibrationKind = "grouped"): CalibratedFactors {
  if (!gpu || typeof gpu !== "object" || typeof gpu.id !== "string") throw new TypeError(`gpu must be a GPU spec from data/hardware.json, got ${describeValue(gpu)}`);
  requireOneOf("choice", choice, FACTOR_CHOICES);
  requireOneOf("precision", precision, WEIGHT_PRECISIONS);
  if (choice === "defaults") return { factors: DEFAULT_FACTORS, measured: false, source: "assumed defaults (chosen)" };
  if (choice === "published") return publishedFactors(loadPublishedGemms(PUBLISHED_FILE_FOR[precision]));
  return calibratedFactors(gpu, directory, precision, kind);
}

/** How well a model follows a set of published rows (`summarizeComparison`). */
export interface ComparisonSummary {
  rows: number;
  /** Root mean square of the relative errors. */
  rmsRelativeError: number;
  /** Largest |relative error|. */
  maxAbsRelativeError: number;
  /** Rows within the single-expert target (15%) and grouped target (25%). */
  within15: number;
  within25: number;
}

/**
 * Error summary of a comparison from `comparePublishedGemms`.
 * @throws {TypeError} for an empty or non-array input.
 * @example summarizeComparison(comparePublishedGemms(loadPublishedGemms().rows, getGpu("h800"), DEFAULT_FACTORS, "fp8")).within25 // => 16 (of 28 rows)
 */
export function summarizeComparison(comparisons: readonly PublishedGemmComparison[]): ComparisonSummary {
  if (!Array.isArray(comparisons) || comparisons.length === 0) throw new TypeError(`comparisons must be a non-empty array from comparePublishedGemms, got ${describeValue(comparisons)}`);
  const errors = comparisons.map((c) => Math.abs(c.relativeError));
  return {
    rows: errors.length,
    rmsRelativeError: Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / errors.length),
    maxAbsRelativeError: Math.max(...errors),
    within15: errors.filter((e) => e <= 0.15).length,
    within25: errors.filter((e) => e <= 0.25).length,
  };
}

/** XLA's measured all-to-all on one node of 8 H100s. */
export const XLA_H100_ALL_TO_ALL_FILE = "xla-h100-all-to-all.json";

/** One published all-to-all measurement. */
export interface PublishedAllToAllRow {
  /** Each device's tensor (bytes). */
  tensorBytes: number;
  /** Published throughput: tensorBytes / run time (bytes per second). */
  bytesPerSecond: number;
  /** Bytes each device sends to the others: (devices - 1) / devices of its tensor. */
  sentBytes: number;
  /** sentBytes per second (GB/s). */
  sendGBps: number;
  /** Run time implied by the throughput (seconds). */
  seconds: number;
}

/** A file of published all-to-all measurements. */
export interface PublishedAllToAll {
  file: string;
  description: string;
  source: Record<string, string>;
  /** GPU id in data/hardware.json. */
  gpu: string;
  /** Devices in the all-to-all (one replica group). */
  devices: number;
  rows: PublishedAllToAllRow[];
}

/**
 * Loads and checks a published all-to-all file from data/published/ (default XLA's 8 x H100 table).
 * Tensor sizes must increase; each row's send rate must be at or below the GPU's NVLink bandwidth in
 * one direction (half the bidirectional figure), which a real all-to-all inside a node cannot beat.
 * @throws {RangeError|TypeError} naming the file, row and field for a missing file or malformed data.
 * @example loadPublishedAllToAll().rows.length // => 22
 */
export function loadPublishedAllToAll(name: string = XLA_H100_ALL_TO_ALL_FILE): PublishedAllToAll {
  return parsePublishedAllToAll(readPublished(name, [XLA_H100_ALL_TO_ALL_FILE]), `data/published/${name}`);
}

/**
 * Checks and converts a published all-to-all document (see `loadPublishedAllToAll`).
 * @throws {TypeError|RangeError} naming the field and row.
 * @example parsePublishedAllToAll(JSON.parse(text), "data/published/xla-h100-all-to-all.json").devices // => 8
 */
export function parsePublishedAllToAll(raw: unknown, file: string): PublishedAllToAll {
  const { d, source, gpu, spec } = publishedHeader(raw, file);
  const devices = requireInteger(`${file}: devices`, d.devices, { min: 2 });
  if (!Array.isArray(d.rows) || d.rows.length === 0) throw new TypeError(`${file}: rows must be a non-empty array, got ${describeValue(d.rows)}`);
  const oneWay = spec.nvlinkBidirGBps / 2;
  let previous = 0;
  const rows = d.rows.map((r: unknown, i: number): PublishedAllToAllRow => {
    const at = `${file}: rows[${i}]`;
    if (typeof r !== "object" || r === null) throw new TypeError(`${at} must be an object, got ${describeValue(r)}`);
    const o = r as Record<string, unknown>;
    const tensorBytes = requireInteger(`${at}.tensorBytes`, o.tensorBytes, { min: previous + 1 });
    previous = tensorBytes;
    const bytesPerSecond = requireNumber(`${at}.bytesPerSecond`, o.bytesPerSecond, { min: 0, minExclusive: true });
    const sentBytes = (tensorBytes * (devices - 1)) / devices;
    const sendGBps = (bytesPerSecond * (devices - 1)) / devices / 1e9;
    if (sendGBps > oneWay) throw new RangeError(`${at}: sends ${sendGBps.toFixed(1)} GB/s per device, above the ${gpu}'s NVLink bandwidth in one direction (${oneWay} GB/s): is a number mistyped?`);
    return { tensorBytes, bytesPerSecond, sentBytes, sendGBps, seconds: tensorBytes / bytesPerSecond };
  });
  return { file, description: requireString(`${file}: description`, d.description), source, gpu, devices, rows };
}

/**
 * The measured send rate per device at a given volume sent per device, interpolated between rows on
 * log(bytes sent) and clamped to the first and last rows.
 * @param sentBytes bytes one device sends to the others (> 0).
 * @throws {RangeError} for sentBytes <= 0.
 * @example allToAllSendGBpsAt(loadPublishedAllToAll(), 2 ** 31 * 7 / 8).toFixed(0) // => "340"
 */
export function allToAllSendGBpsAt(set: PublishedAllToAll, sentBytes: number): number {
  if (typeof set !== "object" || set === null || !Array.isArray(set.rows) || set.rows.length === 0) throw new TypeError(`set must be a published all-to-all set from loadPublishedAllToAll, got ${describeValue(set)}`);
  requireNumber("sentBytes", sentBytes, { min: 0, minExclusive: true });
  const pts = set.rows.map((r) => ({ x: Math.log(r.sentBytes), y: r.sendGBps }));
  const x = Math.log(sentBytes);
  if (x <= pts[0].x) return pts[0].y;
  const last = pts[pts.length - 1];
  if (x >= last.x) return last.y;
  let i = 1;
  while (pts[i].x < x) i++;
  const f = (x - pts[i - 1].x) / (pts[i].x - pts[i - 1].x);
  return pts[i - 1].y + f * (pts[i].y - pts[i - 1].y);
}
