/**
 * Operations and incidents on a simulated deployment: the fields a run captures, a dense
 * fallback's step, and the incident flow's last step made systematic: which change between a
 * healthy and a slow run explains the slowdown (revert one input at a time, see what it recovers).
 * Introduced in notebooks/07-operations-and-incidents.ipynb.
 */
import type { GpuSpec } from "../hardware";
import { describeValue, requireInteger, requireNumber } from "../validate";
import { layerBalance } from "../metrics";
import { DEFAULT_FACTORS, RooflineFactors, validateFactors } from "./roofline";
import { SCENARIO_DEFAULTS, ScenarioOptions, ScenarioResult, runScenario } from "./scenario";

/**
 * The named fields a run records (snake_case, microseconds), for `createCapture` in lib/capture.
 * @example runFields(runScenario({ model: "deepseek-v3", gpu: "h100", ep: 32, batchTokens: 4096 })).model // => "deepseek-v3"
 */
export function runFields(r: ScenarioResult): Record<string, string | number> {
  if (!r || typeof r !== "object" || !r.breakdown) throw new TypeError(`r must be a ScenarioResult from runScenario, got ${describeValue(r)}`);
  const b = r.breakdown;
  const loads = r.expertLoads;
  const us = (s: number): number => +(s * 1e6).toFixed(2);
  return {
    model: r.model.id,
    gpu: r.gpu.id,
    ep: r.ep,
    placement: r.placement,
    redundant_experts: r.redundantExperts,
    mode: r.input.mode,
    batch_tokens: r.input.batchTokens,
    context_tokens: r.input.contextTokens,
    expert_precision: r.input.weightPrecision ?? "bf16",
    attention_us: us(b.attentionSeconds),
    experts_us: us(b.expertSeconds),
    all_to_all_us: us(b.communicationSeconds),
    layer_us: us(b.layerSeconds),
    bound: b.bound,
    expert_utilization: +(loads.filter((x) => x > 0).length / loads.length).toFixed(4),
    expert_max_over_mean: +layerBalance(loads).imbalance.toFixed(3),
    rank_max_over_mean: +b.rankImbalance.toFixed(3),
    tokens_per_second_per_gpu: +b.tokensPerSecondPerGpu.toFixed(1),
  };
}

/** One reverted input and what it recovers. */
export interface Attribution {
  /** Option name (`placement`, `zipfExponent`, ...). */
  option: string;
  healthy: unknown;
  slow: unknown;
  /** Layer time of the slow run with only this option reverted (seconds). */
  revertedLayerSeconds: number;
  /** Fraction of the slowdown this revert recovers: (slow - reverted) / (slow - healthy). */
  recovered: number;
}

/** What `attributeSlowdown` returns. */
export interface SlowdownAttribution {
  healthyLayerSeconds: number;
  slowLayerSeconds: number;
  /** slow / healthy. */
  slowdown: number;
  /** The options that differ, most-recovering first. */
  attributions: Attribution[];
  /** The option whose revert recovers most (null when nothing differs). */
  cause: string | null;
}

const COMPARED: ReadonlyArray<keyof ScenarioOptions> = ["model", "gpu", "ep", "batchTokens", "mode", "contextTokens", "placement", "redundantExperts", "zipfExponent", "seed", "popularitySeed", "weightPrecision", "densePrecision", "kvPrecision", "overlapCommunication", "overlapSchedule", "allToAllBandwidthScale"];

/**
 * The incident flow's question "what changed, and does it explain the slowdown?": reruns the slow
 * scenario with each differing option reverted to its healthy value, one at a time.
 * @throws {TypeError} for non-objects; {RangeError} from `runScenario` for invalid options.
 * @example attributeSlowdown(healthyOptions, { ...healthyOptions, placement: "contiguous" }).cause // => "placement"
 */
export function attributeSlowdown(healthy: ScenarioOptions, slow: ScenarioOptions): SlowdownAttribution {
  if (typeof healthy !== "object" || healthy === null) throw new TypeError(`healthy must be scenario options, got ${describeValue(healthy)}`);
  if (typeof slow !== "object" || slow === null) throw new TypeError(`slow must be scenario options, got ${describeValue(slow)}`);
  const h = runScenario(healthy).breakdown.layerSeconds;
  const s = runScenario(slow).breakdown.layerSeconds;
  const attributions: Attribution[] = [];
  // An option left out is the same as the option set to its default (SCENARIO_DEFAULTS).
  const defaults: Partial<ScenarioOptions> = SCENARIO_DEFAULTS;
  for (const key of COMPARED) {
    if (JSON.stringify(healthy[key] ?? defaults[key]) === JSON.stringify(slow[key] ?? defaults[key])) continue;
    const reverted = runScenario({ ...slow, [key]: healthy[key] } as ScenarioOptions).breakdown.layerSeconds;
    attributions.push({ option: key, healthy: healthy[key], slow: slow[key], revertedLayerSeconds: reverted, recovered: s !== h ? (s - reverted) / (s - h) : 0 });
  }
  attributions.sort((a, b) => b.recovered - a.recovered);
  return { healthyLayerSeconds: h, slowLayerSeconds: s, slowdown: s / h, attributions, cause: attributions.length ? attributions[0].option : null };
}

/** A dense fallback's decode step. */
export interface DenseFallbackStep {
  /** Seconds per decode step (all layers): roofline + all-reduces + overheads. */
  seconds: number;
  /** The roofline part: max(bytes read / bandwidth, FLOPs / peak) over all layers. */
  rooflineSeconds: number;
  /** Tensor parallelism's all-reduces (two per layer), 0 without `layers` and `hiddenSize`. */
  allReduceSeconds: number;
  /** The per-kernel overhead, two kernels per layer (attention, MLP), 0 without `layers`. */
  overheadSeconds: number;
  /** Bytes each GPU holds and reads per step: its share of the weights and of the batch's KV cache. */
  bytesPerGpu: number;
  /** Tokens per second per GPU. */
  tokensPerSecondPerGpu: number;
  /** Whether the roofline part is memory- or compute-bound. */
  bound: "memory" | "compute";
}

/** Fixed time per all-reduce call (microseconds). ASSUMED, like `DEFAULT_ALL_TO_ALL_LATENCY_US`. */
export const DEFAULT_ALL_REDUCE_LATENCY_US = 10;

/**
 * Decode step of a dense fallback model served with tensor parallelism over `gpus` GPUs: every
 * parameter is read each step (split over the GPUs) and used by every token; attention's KV read
 * is added for `contextTokens` per sequence. With `layers` and `hiddenSize` it also charges what
 * tensor parallelism and kernel launches cost, as the MoE step model does: two ring all-reduces
 * per layer (after attention and after the MLP) of the batch's BF16 activations,
 * 2 (gpus - 1) / gpus x bytes over one direction of NVLink (half its bidirectional bandwidth) at
 * `memoryEfficiency`, plus `DEFAULT_ALL_REDUCE_LATENCY_US` each; and `factors.overheadSeconds` for
 * each layer's attention and MLP. A first-order model, for capacity planning only.
 * @param options params (dense model parameters), bytesPerParam (2 BF16, 1 FP8), gpus, batchTokens, kvBytesPerToken (all layers), contextTokens; optional layers and hiddenSize.
 * @throws {RangeError} for non-positive params or gpus, negative batch or context, layers or hiddenSize < 1.
 * @example denseFallbackStep({ params: 70e9, bytesPerParam: 1, gpus: 8, batchTokens: 64, kvBytesPerToken: 327680, contextTokens: 4096 }, getGpu("h100")).bound // => "memory"
 */
export function denseFallbackStep(
  options: { params: number; bytesPerParam: number; gpus: number; batchTokens: number; kvBytesPerToken: number; contextTokens: number; layers?: number; hiddenSize?: number },
  gpu: GpuSpec,
  factors: RooflineFactors = DEFAULT_FACTORS,
): DenseFallbackStep {
  const params = requireNumber("params", options.params, { min: 0, minExclusive: true });
  const bpp = requireNumber("bytesPerParam", options.bytesPerParam, { min: 0, minExclusive: true });
  const gpus = requireInteger("gpus", options.gpus, { min: 1 });
  const batch = requireNumber("batchTokens", options.batchTokens, { min: 0 });
  const kv = requireNumber("kvBytesPerToken", options.kvBytesPerToken, { min: 0 });
  const context = requireNumber("contextTokens", options.contextTokens, { min: 0 });
  const layers = options.layers === undefined ? 0 : requireInteger("layers", options.layers, { min: 1 });
  const hidden = options.hiddenSize === undefined ? 0 : requireInteger("hiddenSize", options.hiddenSize, { min: 1 });
  validateFactors(factors);
  const bytes = (params * bpp + batch * context * kv) / gpus;
  const flops = (2 * params * batch) / gpus;
  const mem = bytes / (gpu.hbmBandwidthTBps * 1e12 * factors.memoryEfficiency);
  const comp = flops / ((bpp <= 1 ? gpu.fp8DenseTflops : gpu.bf16DenseTflops) * 1e12 * factors.computeEfficiency);
  const rooflineSeconds = Math.max(mem, comp);
  const oneAllReduce = gpus > 1 && hidden > 0 ? DEFAULT_ALL_REDUCE_LATENCY_US * 1e-6 + ((2 * (gpus - 1)) / gpus) * (batch * hidden * 2) / ((gpu.nvlinkBidirGBps / 2) * 1e9 * factors.memoryEfficiency) : 0;
  const allReduceSeconds = 2 * layers * oneAllReduce;
  const overheadSeconds = 2 * layers * factors.overheadSeconds;
  const seconds = rooflineSeconds + allReduceSeconds + overheadSeconds;
  return { seconds, rooflineSeconds, allReduceSeconds, overheadSeconds, bytesPerGpu: bytes, tokensPerSecondPerGpu: seconds > 0 ? batch / gpus / seconds : 0, bound: comp > mem ? "compute" : "memory" };
}
