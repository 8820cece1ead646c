/**
 * GPU specs and DeepEP all-to-all measurements, read from `data/hardware.json` (sources in
 * `data/hardware.SOURCE.md`) and checked field by field.
 * Introduced in notebooks/05-throughput-model.ipynb.
 */
import { readDataJson } from "./paths";
import { describeValue, requireNumber, requireOneOf } from "./validate";

/** One GPU's specs. Peak FLOPS are dense (no 2:4 sparsity). */
export interface GpuSpec {
  /** Short id: "h100", "h200", "h800". */
  id: string;
  /** Full product name. */
  name: string;
  /** Dense BF16 tensor-core peak (TFLOPS). */
  bf16DenseTflops: number;
  /** Dense FP8 tensor-core peak (TFLOPS). */
  fp8DenseTflops: number;
  /** HBM bandwidth (TB/s). */
  hbmBandwidthTBps: number;
  /** HBM capacity as the datasheet names it (GB): "80 GB". A label, not a byte count: see `hbmTotalMiB`. */
  hbmCapacityGB: number;
  /** HBM memory as `nvidia-smi` reports it (memory.total, MiB): what software can allocate. `hbmBytes` converts it. */
  hbmTotalMiB: number;
  /** NVLink total bidirectional bandwidth (GB/s). */
  nvlinkBidirGBps: number;
  /** Measured achievable NVLink bandwidth where known (GB/s). */
  nvlinkEffectiveGBps?: number;
  /** Scale-out network bandwidth per GPU (GB/s). */
  networkGBpsPerGpu: number;
  /** Streaming multiprocessors. */
  sms: number;
  /** Where each field comes from. */
  sources: Record<string, string>;
}

/** A DeepEP normal-kernel row: bandwidth at one EP degree. */
export interface DeepEpNormalRow {
  ep: number;
  dispatchGBps: number;
  combineGBps: number;
}

/** A DeepEP low-latency-kernel row: latency and bandwidth at one EP degree. */
export interface DeepEpLowLatencyRow {
  ep: number;
  dispatchUs: number;
  dispatchGBps: number;
  combineUs: number;
  combineGBps: number;
}

/** DeepEP's published measurements (H800). */
export interface DeepEpTables {
  /** GPU id (in `gpus`) the tables were measured on. */
  measuredOn: string;
  /** That GPU's NVLink bandwidth (GB/s, bidirectional): the basis for scaling the intranode row to another GPU. */
  measuredOnNvlinkBidirGBps: number;
  normal: DeepEpNormalRow[];
  lowLatency: DeepEpLowLatencyRow[];
  /** Tokens per rank of the low-latency benchmark (128). */
  lowLatencyTokensPerRank: number;
}

/** Everything in data/hardware.json, validated. */
export interface HardwareData {
  gpus: Record<string, GpuSpec>;
  deepep: DeepEpTables;
  /** Published serving numbers (SGLang, DeepSeek, vLLM, ReaLB), as in the file. */
  anchors: Record<string, Record<string, unknown>>;
}

const GPU_NUMBER_FIELDS = [
  "bf16DenseTflops",
  "fp8DenseTflops",
  "hbmBandwidthTBps",
  "hbmCapacityGB",
  "hbmTotalMiB",
  "nvlinkBidirGBps",
  "networkGBpsPerGpu",
  "sms",
] as const;

function requireObject(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

function rowsOf(name: string, table: Record<string, unknown>, width: number): number[][] {
  const rows = table.rows;
  if (!Array.isArray(rows) || rows.length === 0) throw new TypeError(`${name}.rows must be a non-empty array, got ${describeValue(rows)}`);
  return rows.map((r, i) => {
    if (!Array.isArray(r) || r.length !== width) throw new RangeError(`${name}.rows[${i}] must have ${width} numbers, got ${describeValue(r)}`);
    return r.map((x, j) => requireNumber(`${name}.rows[${i}][${j}]`, x, { min: 0, minExclusive: true }));
  });
}

/**
 * Validates parsed hardware data (the shape of data/hardware.json).
 * @param raw the parsed JSON.
 * @throws {TypeError|RangeError} naming the field (e.g. `gpus.h100.hbmBandwidthTBps`) that is missing or wrong.
 * @example parseHardware(JSON.parse(text)).gpus.h100.hbmBandwidthTBps // => 3.35
 */
export function parseHardware(raw: unknown): HardwareData {
  const root = requireObject("hardware.json", raw);
  const gpusRaw = requireObject("gpus", root.gpus);
  const gpus: Record<string, GpuSpec> = {};
  for (const [id, g0] of Object.entries(gpusRaw)) {
    const g = requireObject(`gpus.${id}`, g0);
    if (typeof g.name !== "string") throw new TypeError(`gpus.${id}.name must be a string, got ${describeValue(g.name)}`);
    const sources = requireObject(`gpus.${id}.sources`, g.sources);
    const spec: Record<string, unknown> = { id, name: g.name, sources: { ...sources } };
    for (const f of GPU_NUMBER_FIELDS) {
      spec[f] = requireNumber(`gpus.${id}.${f}`, g[f], { min: 0, minExclusive: true });
      if (typeof sources[f] !== "string") throw new TypeError(`gpus.${id}.sources.${f} must be a string (every number needs a source), got ${describeValue(sources[f])}`);
    }
    if (g.nvlinkEffectiveGBps !== undefined) {
      spec.nvlinkEffectiveGBps = requireNumber(`gpus.${id}.nvlinkEffectiveGBps`, g.nvlinkEffectiveGBps, { min: 0, minExclusive: true });
    }
    gpus[id] = spec as unknown as GpuSpec;
  }
  if (Object.keys(gpus).length === 0) throw new RangeError("gpus must list at least one GPU, got none");
  const dep = requireObject("deepep", root.deepep);
  const normalT = requireObject("deepep.normal", dep.normal);
  const llT = requireObject("deepep.lowLatency", dep.lowLatency);
  const normal = rowsOf("deepep.normal", normalT, 3).map(([ep, dispatchGBps, combineGBps]) => ({ ep, dispatchGBps, combineGBps }));
  const lowLatency = rowsOf("deepep.lowLatency", llT, 5).map(([ep, dispatchUs, dispatchGBps, combineUs, combineGBps]) => ({
    ep,
    dispatchUs,
    dispatchGBps,
    combineUs,
    combineGBps,
  }));
  for (const [name, rows] of [["deepep.normal", normal], ["deepep.lowLatency", lowLatency]] as const) {
    for (let i = 1; i < rows.length; i++) {
      if (!(rows[i].ep > rows[i - 1].ep)) throw new RangeError(`${name}.rows must be sorted by ep, ascending: row ${i} has ep ${rows[i].ep}`);
    }
  }
  const measuredOn = requireOneOf("deepep.measuredOn", dep.measuredOn, Object.keys(gpus));
  return {
    gpus,
    deepep: {
      measuredOn,
      measuredOnNvlinkBidirGBps: gpus[measuredOn].nvlinkBidirGBps,
      normal,
      lowLatency,
      lowLatencyTokensPerRank: requireNumber("deepep.lowLatency.tokensPerRank", llT.tokensPerRank, { min: 1 }),
    },
    anchors: requireObject("anchors", root.anchors ?? {}) as Record<string, Record<string, unknown>>,
  };
}

/**
 * Reads and validates data/hardware.json.
 * @throws {SyntaxError} on invalid JSON; {TypeError|RangeError} naming a malformed field.
 * @example loadHardware().gpus.h200.hbmCapacityGB // => 141
 */
export function loadHardware(): HardwareData {
  return parseHardware(readDataJson("hardware.json"));
}

/**
 * The ids of the GPUs in the hardware data, sorted.
 * @example listGpus() // => ["h100", "h200", "h800"]
 */
export function listGpus(hardware: HardwareData = loadHardware()): string[] {
  return Object.keys(hardware.gpus).sort();
}

/**
 * One GPU's spec by id (case-insensitive; "H100", "h100" and "H100_SXM"-style names with a
 * suffix after "_" or "-" are accepted).
 * @throws {RangeError} for an unknown GPU, listing the known ones.
 * @example getGpu("h100").hbmBandwidthTBps // => 3.35
 */
export function getGpu(id: string, hardware: HardwareData = loadHardware()): GpuSpec {
  if (typeof id !== "string") throw new TypeError(`gpu must be a string, got ${describeValue(id)}`);
  const known = listGpus(hardware);
  const key = id.trim().toLowerCase().split(/[_\- ]/)[0];
  if (!known.includes(key)) throw new RangeError(`gpu must be one of ${known.join(", ")}, got ${describeValue(id)}`);
  return hardware.gpus[key];
}

/**
 * Dense peak (FLOP/s) for a compute precision.
 * @param precision "bf16" or "fp8" (Hopper has no FP4 tensor cores: FP4 weights compute in FP8).
 * @example peakFlops(getGpu("h100"), "bf16") // => 989400000000000
 */
export function peakFlops(gpu: GpuSpec, precision: "bf16" | "fp8"): number {
  requireOneOf("precision", precision, ["bf16", "fp8"]);
  return (precision === "bf16" ? gpu.bf16DenseTflops : gpu.fp8DenseTflops) * 1e12;
}

/**
 * HBM memory in bytes: `hbmTotalMiB` x 2^20, the total nvidia-smi reports (an H100 "80 GB" is
 * 81559 MiB, 85.5 GB: NVIDIA's "GB" for HBM is close to GiB).
 * @throws {TypeError} for a non-GPU.
 * @example hbmBytes(getGpu("h100")) // => 85520809984
 */
export function hbmBytes(gpu: GpuSpec): number {
  if (!gpu || typeof gpu !== "object") throw new TypeError(`gpu must be a GPU spec from data/hardware.json, got ${describeValue(gpu)}`);
  return requireNumber("gpu.hbmTotalMiB", gpu.hbmTotalMiB, { min: 0, minExclusive: true }) * 2 ** 20;
}

/**
 * HBM bandwidth in bytes per second.
 * @example hbmBytesPerSecond(getGpu("h200")) // => 4800000000000
 */
export function hbmBytesPerSecond(gpu: GpuSpec): number {
  return requireNumber("gpu.hbmBandwidthTBps", gpu?.hbmBandwidthTBps, { min: 0, minExclusive: true }) * 1e12;
}
