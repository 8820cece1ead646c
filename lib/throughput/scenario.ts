/**
 * Whole scenarios on top of the step model: a skewed batch routed with a seeded RNG, a placement
 * (contiguous, or EPLB planned from the long-run expert popularity), the memory it costs and
 * whether the batch's KV cache fits, EPLB's net effect (placement speedup minus the sequences the
 * redundant experts' memory pushes out of the KV cache, and rebalance stalls), and a
 * ReaLB-style what-if (lower precision on overloaded ranks; UNVERIFIED: the paper could not be
 * checked).
 * Introduced in notebooks/05-throughput-model.ipynb; used in notebooks/07-operations-and-incidents.ipynb.
 */
import { rebalanceExperts, initialPlacement } from "../eplb";
import { GpuSpec, HardwareData, getGpu, hbmBytes, loadHardware } from "../hardware";
import { loadModel } from "../models";
import { kvCachePerToken, memoryPerRank } from "../params";
import { Rng, createRng } from "../rng";
import { popularityWeights, routePopularity } from "../routing";
import { describeValue, requireInteger, requireNumber, requireOneOf } from "../validate";
import { DEFAULT_FACTORS, RooflineFactors, WEIGHT_PRECISIONS, WeightPrecision } from "./roofline";
import type { OverlapSchedule } from "./overlap";
import { DENSE_PRECISIONS, DensePrecision, KV_PRECISIONS, KvPrecision, StepBreakdown, StepInput, StepMode, StepModel, stepModelFromSpec, stepTime } from "./step";

/** Where the routed experts live. */
export type Placement = "contiguous" | "eplb";

/** Options of `runScenario` (the `moe-lab step` command's options). */
export interface ScenarioOptions {
  /** Catalog model id ("deepseek-v3"). */
  model: string;
  /** GPU id ("h100"). */
  gpu: string;
  /** Expert-parallel degree. */
  ep: number;
  /** Tokens in the step over all ranks. */
  batchTokens: number;
  /** Default "decode". */
  mode?: StepMode;
  /** Context length per sequence (tokens), default 4096. */
  contextTokens?: number;
  /** Default "contiguous". */
  placement?: Placement;
  /** Redundant expert slots per layer (EPLB's replicas), default 0 (contiguous) or ep (eplb). */
  redundantExperts?: number;
  /**
   * Zipf exponent of expert popularity (0 = uniform), default `DEFAULT_ZIPF_EXPONENT` (0.4).
   */
  zipfExponent?: number;
  /** Seed of the routing draws and of the shuffle of hot experts over expert ids, default 0. */
  seed?: number;
  /**
   * Seed of the shuffle alone (which experts are hot), default `seed`. Set it to keep the same hot
   * experts while `seed` draws another batch: a restart changes the batch, not the traffic.
   */
  popularitySeed?: number;
  factors?: RooflineFactors;
  /** Routed-expert weights, default "bf16". */
  weightPrecision?: WeightPrecision;
  /**
   * Attention, shared experts and dense MLPs: "bf16" (default) or "fp8"; the embeddings, output
   * head, routers and norms stay BF16 either way. ASSUMED BF16 by default: a conservative choice
   * (DeepSeek-V3's checkpoint stores most of them in FP8).
   */
  densePrecision?: DensePrecision;
  /**
   * KV-cache element type, default "bf16". "fp8" holds twice the tokens in the same memory and
   * halves the bytes decode attention reads (`--kv-cache-dtype fp8_e4m3` in vLLM and SGLang).
   */
  kvPrecision?: KvPrecision;
  /** Two-batch overlap (`StepInput.overlapCommunication`), default false. */
  overlapCommunication?: boolean;
  /** With overlap, whose stage order: "sglang" (default) or "vllm" (`StepInput.overlapSchedule`). */
  overlapSchedule?: OverlapSchedule;
  /** What-if factor on DeepEP's benchmark bandwidth, default 1 (`StepInput.allToAllBandwidthScale`). */
  allToAllBandwidthScale?: number;
  /** With overlap, also return the replayed schedule (`StepInput.overlapTimeline`), default false. */
  overlapTimeline?: boolean;
}

/** Memory per rank of a scenario (bytes), the KV cache that fits, and what the batch needs. */
export interface ScenarioMemory {
  expertBytes: number;
  nonExpertBytes: number;
  /** HBM (`hbmBytes`, as nvidia-smi reports it) x (1 - HBM_RESERVE_FRACTION): what weights and KV cache may use. */
  usableBytes: number;
  /** expertBytes + nonExpertBytes <= usableBytes: the weights alone fit on the GPU. */
  weightsFit: boolean;
  /** usableBytes minus the weights (>= 0). */
  kvBudgetBytes: number;
  /** KV-cache tokens that fit per rank (in the scenario's `kvPrecision`). */
  kvCapacityTokens: number;
  /** Decode: sequences per rank whose whole context fits (null when the context is 0). */
  maxSequencesPerRank: number | null;
  /** KV-cache tokens this batch needs per rank: decode, sequences x context; prefill, its prompt tokens. */
  kvTokensNeeded: number;
  /** kvTokensNeeded <= kvCapacityTokens: the batch can be served. */
  kvFits: boolean;
}

/** What `runScenario` returns. */
export interface ScenarioResult {
  model: StepModel;
  gpu: GpuSpec;
  ep: number;
  placement: Placement;
  redundantExperts: number;
  /** Token copies per logical expert in this batch, `[numRoutedExperts]`. */
  expertLoads: number[];
  /** Placement used, `[slots]`. */
  phy2log: number[];
  breakdown: StepBreakdown;
  /** Memory per rank (bytes), the KV cache that fits and whether this batch's does. */
  memory: ScenarioMemory;
  /** The step's input, for re-running variants (ReaLB, other factors). */
  input: StepInput;
}

/**
 * Default skew: Zipf exponent 0.4 gives 128 experts a hottest-expert max/mean of 4.33, close to the
 * lab note's 4.36x (an assumption chosen to match the note, not a measured router).
 */
export const DEFAULT_ZIPF_EXPONENT = 0.4;

/** Fraction of HBM kept free for activations, CUDA graphs and fragmentation (ASSUMED 10%). */
export const HBM_RESERVE_FRACTION = 0.1;

/**
 * Largest batch `runScenario` routes (2^23 tokens: 65,536 per GPU at EP128). It draws every token's
 * experts; this size takes about 3 s and 0.3 GB, and much larger ones minutes and gigabytes.
 */
export const MAX_SCENARIO_BATCH_TOKENS = 2 ** 23;

/**
 * Expert popularity: Zipf weights shuffled over expert ids with a seeded RNG, so the hot experts
 * are scattered (not all on rank 0 of a contiguous placement).
 * @example shuffledZipf(4, 0, createRng(0)) // => [0.25, 0.25, 0.25, 0.25]
 */
export function shuffledZipf(numExperts: number, exponent: number, rng: Rng): number[] {
  const w = popularityWeights(numExperts, { kind: "zipf", exponent: requireNumber("zipfExponent", exponent, { min: 0 }) });
  const out = w.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.randint(0, i);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * The scenario options' fixed defaults, the one place `runScenario` takes them from (and
 * `attributeSlowdown` compares with): an option left out equals the same option set to its default.
 * Two defaults depend on other options and are not here: `redundantExperts` (ep with EPLB, else 0)
 * and `popularitySeed` (the seed).
 */
export const SCENARIO_DEFAULTS = Object.freeze({
  contextTokens: 4096,
  mode: "decode" as StepMode,
  placement: "contiguous" as Placement,
  zipfExponent: DEFAULT_ZIPF_EXPONENT,
  seed: 0,
  weightPrecision: "bf16" as WeightPrecision,
  densePrecision: "bf16" as DensePrecision,
  kvPrecision: "bf16" as KvPrecision,
  overlapCommunication: false,
  overlapSchedule: "sglang" as OverlapSchedule,
  allToAllBandwidthScale: 1,
});

/** The options both `runScenario` and `scenarioMemory` read, validated, with their defaults. */
function checkedScenario(options: ScenarioOptions, hardware: HardwareData) {
  if (typeof options !== "object" || options === null) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const placement = requireOneOf("placement", options.placement ?? SCENARIO_DEFAULTS.placement, ["contiguous", "eplb"]);
  const ep = requireInteger("ep", options.ep, { min: 1 });
  return {
    spec: loadModel(options.model),
    gpu: getGpu(options.gpu, hardware),
    ep,
    batchTokens: requireInteger("batchTokens", options.batchTokens, { min: 0, max: MAX_SCENARIO_BATCH_TOKENS }),
    contextTokens: requireInteger("contextTokens", options.contextTokens ?? SCENARIO_DEFAULTS.contextTokens, { min: 0 }),
    mode: requireOneOf("mode", options.mode ?? SCENARIO_DEFAULTS.mode, ["decode", "prefill"]),
    placement,
    redundant: requireInteger("redundantExperts", options.redundantExperts ?? (placement === "eplb" ? ep : 0), { min: 0 }),
    precision: requireOneOf("weightPrecision", options.weightPrecision ?? SCENARIO_DEFAULTS.weightPrecision, WEIGHT_PRECISIONS),
    densePrecision: requireOneOf("densePrecision", options.densePrecision ?? SCENARIO_DEFAULTS.densePrecision, DENSE_PRECISIONS),
    kvPrecision: requireOneOf("kvPrecision", options.kvPrecision ?? SCENARIO_DEFAULTS.kvPrecision, KV_PRECISIONS),
  };
}

/**
 * Runs one scenario: routes a batch, places the experts, models the step and the memory.
 * EPLB is planned from the popularity (the long-run average a sliding window would see) and
 * evaluated on this batch's draws; `redundantExperts` must make (experts + redundant) divisible by ep.
 * @throws {RangeError} for an unknown model/GPU (listing the known ones), tokens < 0, context < 0,
 *   ep not dividing the experts (or slots).
 * @example runScenario({ model: "deepseek-v3", gpu: "h100", ep: 32, batchTokens: 4096 }).breakdown.bound // => "communication"
 */
export function runScenario(options: ScenarioOptions, hardware: HardwareData = loadHardware()): ScenarioResult {
  const checked = checkedScenario(options, hardware);
  const { spec, gpu, ep, batchTokens, contextTokens, mode, placement, redundant, precision } = checked;
  const model = stepModelFromSpec(spec);
  const E = model.numRoutedExperts;
  const slots = E + redundant;
  if (redundant === 0 && E % ep !== 0) throw new RangeError(`ep must divide numRoutedExperts (${E}) of ${model.id}, got ${ep}`);
  if (slots % ep !== 0) throw new RangeError(`ep must divide experts + redundant (${E} + ${redundant} = ${slots}), got ${ep}`);
  const zipf = requireNumber("zipfExponent", options.zipfExponent ?? SCENARIO_DEFAULTS.zipfExponent, { min: 0 });
  const seed = requireInteger("seed", options.seed ?? SCENARIO_DEFAULTS.seed);
  const rng = createRng(seed);
  const shuffled = shuffledZipf(E, zipf, rng); // advances the draw stream the same way whatever popularitySeed is
  const popularitySeed = options.popularitySeed === undefined ? seed : requireInteger("popularitySeed", options.popularitySeed);
  const popularity = popularitySeed === seed ? shuffled : shuffledZipf(E, zipf, createRng(popularitySeed));
  const routing = routePopularity(rng, { numTokens: batchTokens, numExperts: E, topK: model.topK, popularity: { kind: "weights", weights: popularity } });
  const expertLoads = routing.loads.slice();
  const phy2log =
    placement === "eplb"
      ? rebalanceExperts([popularity.map((p) => p * batchTokens * model.topK + 1e-9)], slots, 1, 1, ep).phy2log[0]
      : initialPlacement(E, slots);
  const input: StepInput = {
    model,
    gpu,
    deepep: hardware.deepep,
    ep,
    batchTokens,
    mode,
    contextTokens,
    expertLoads,
    phy2log,
    factors: options.factors ?? DEFAULT_FACTORS,
    weightPrecision: precision,
    kvPrecision: checked.kvPrecision,
    densePrecision: checked.densePrecision,
    overlapCommunication: options.overlapCommunication ?? SCENARIO_DEFAULTS.overlapCommunication,
    overlapSchedule: options.overlapSchedule ?? SCENARIO_DEFAULTS.overlapSchedule,
    allToAllBandwidthScale: options.allToAllBandwidthScale ?? SCENARIO_DEFAULTS.allToAllBandwidthScale,
    ...(options.overlapTimeline ? { overlapTimeline: true } : {}),
  };
  const breakdown = stepTime(input);
  const memory = memoryOf(checked);
  return {
    model,
    gpu,
    ep,
    placement,
    redundantExperts: redundant,
    expertLoads,
    phy2log,
    breakdown,
    memory,
    input,
  };
}

/**
 * The memory side of a scenario alone (no routing, no step): weights per rank, the KV cache that
 * fits, and the most decode sequences per rank at the context. Use it to size a batch that fits
 * before running `runScenario` (its `batchTokens` only sets `kvTokensNeeded`).
 * @throws {RangeError|TypeError} as `runScenario` for an unknown model/GPU or bad ep/redundant/precision.
 * @example scenarioMemory({ model: "deepseek-v3", gpu: "h100", ep: 32, batchTokens: 0, weightPrecision: "fp8" }).maxSequencesPerRank // => 77 (context 4096)
 */
export function scenarioMemory(options: ScenarioOptions, hardware: HardwareData = loadHardware()): ScenarioMemory {
  return memoryOf(checkedScenario(options, hardware));
}

/** `scenarioMemory` on options already checked by `checkedScenario`. */
function memoryOf({ spec, gpu, ep, batchTokens, contextTokens, mode, redundant, precision, densePrecision, kvPrecision }: ReturnType<typeof checkedScenario>): ScenarioMemory {
  const mem = memoryPerRank(spec, { epSize: ep, redundantExperts: redundant, expertDtype: paramsDtype(precision), denseDtype: paramsDtype(densePrecision) });
  const usableBytes = hbmBytes(gpu) * (1 - HBM_RESERVE_FRACTION);
  const kvBudgetBytes = Math.max(0, usableBytes - mem.expertBytes - mem.nonExpertBytes);
  const kvCapacityTokens = Math.floor(kvBudgetBytes / kvCachePerToken(spec, kvPrecision).allLayersBytes);
  const kvTokensNeeded = mode === "decode" ? (batchTokens / ep) * contextTokens : batchTokens / ep;
  return {
    expertBytes: mem.expertBytes,
    nonExpertBytes: mem.nonExpertBytes,
    usableBytes,
    weightsFit: mem.expertBytes + mem.nonExpertBytes <= usableBytes,
    kvBudgetBytes,
    kvCapacityTokens,
    maxSequencesPerRank: contextTokens > 0 ? Math.floor(kvCapacityTokens / contextTokens) : null,
    kvTokensNeeded,
    kvFits: kvTokensNeeded <= kvCapacityTokens,
  };
}

/**
 * The lib/params storage type of an expert weight precision (FP4 is stored like int4: half a byte).
 * @example paramsDtype("fp4") // => "int4"
 */
export function paramsDtype(precision: WeightPrecision): "bf16" | "fp8" | "int4" {
  const p = requireOneOf("precision", precision, WEIGHT_PRECISIONS);
  return p === "fp4" ? "int4" : p;
}

/** Inputs of `eplbNetEffect`. */
export interface EplbCostInput {
  /** Forward time without EPLB (seconds). */
  baselineSeconds: number;
  /** Forward time with the EPLB placement, same batch (seconds). */
  eplbSeconds: number;
  /** KV-cache tokens that fit per rank without / with the redundant experts. */
  kvCapacityTokensBaseline: number;
  kvCapacityTokensEplb: number;
  /**
   * KV-cache tokens the batch needs per rank (decode: sequences x context). It must fit without
   * EPLB; where it does not fit with EPLB, EPLB serves only the sequences that fit.
   */
  kvTokensNeeded: number;
  /** Stall per rearrangement (seconds); vLLM measured 0.91 s mean for synchronous EPLB. */
  stallSeconds: number;
  /** Steps between rearrangements (vLLM default 3000). */
  intervalSteps: number;
}

/** EPLB's speedup and what it costs. */
export interface EplbNetEffect {
  /** baseline / eplb step time. */
  placementSpeedup: number;
  /** KV capacity with EPLB / without (<= 1). */
  kvCapacityRatio: number;
  /** True when the batch does not fit in the KV cache that EPLB leaves. */
  kvBound: boolean;
  /** Share of the batch's sequences EPLB can still hold: min(1, capacity with EPLB / tokens needed). */
  kvServedFraction: number;
  /** Fraction of wall time spent in rearrangement stalls. */
  stallFraction: number;
  /** placementSpeedup x kvServedFraction x (1 - stallFraction). */
  netSpeedup: number;
  /** "helps" above 1.02, "hurts" below 0.98, else "no effect". */
  verdict: "helps" | "no effect" | "hurts";
}

/**
 * EPLB's net effect on throughput: the placement speedup, minus the sequences the redundant
 * experts' memory pushes out of the KV cache (only when the batch no longer fits) and the time
 * lost to rearrangement stalls. A batch that loses sequences is charged at the same step time:
 * a decode step with fewer sequences is a little shorter, so this overstates that cost slightly.
 * @throws {RangeError} for non-positive times or capacities, negative stalls, intervalSteps < 1,
 *   or a batch that does not fit in the KV cache even without EPLB.
 * @example eplbNetEffect({ baselineSeconds: 2, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 90, kvTokensNeeded: 100, stallSeconds: 0, intervalSteps: 3000 }).netSpeedup // => 1.8
 */
export function eplbNetEffect(input: EplbCostInput): EplbNetEffect {
  if (typeof input !== "object" || input === null) throw new TypeError(`input must be an object, got ${describeValue(input)}`);
  const base = requireNumber("baselineSeconds", input.baselineSeconds, { min: 0, minExclusive: true });
  const eplb = requireNumber("eplbSeconds", input.eplbSeconds, { min: 0, minExclusive: true });
  const kv0 = requireNumber("kvCapacityTokensBaseline", input.kvCapacityTokensBaseline, { min: 0, minExclusive: true });
  const kv1 = requireNumber("kvCapacityTokensEplb", input.kvCapacityTokensEplb, { min: 0 });
  const need = requireNumber("kvTokensNeeded", input.kvTokensNeeded, { min: 0 });
  if (need > kv0) {
    throw new RangeError(`kvTokensNeeded must be at most kvCapacityTokensBaseline (${kv0}), got ${need}: that batch cannot be served even without EPLB (use fewer sequences or a shorter context)`);
  }
  const stall = requireNumber("stallSeconds", input.stallSeconds, { min: 0 });
  const interval = requireInteger("intervalSteps", input.intervalSteps, { min: 1 });
  const placementSpeedup = base / eplb;
  const kvCapacityRatio = Math.min(1, kv1 / kv0);
  const kvServedFraction = need > 0 ? Math.min(1, kv1 / need) : 1;
  const stallFraction = stall / (interval * eplb + stall);
  const netSpeedup = placementSpeedup * kvServedFraction * (1 - stallFraction);
  return { placementSpeedup, kvCapacityRatio, kvBound: need > kv1, kvServedFraction, stallFraction, netSpeedup, verdict: netSpeedup > 1.02 ? "helps" : netSpeedup < 0.98 ? "hurts" : "no effect" };
}

/** Result of `realbWhatIf`. */
export interface RealbWhatIf {
  baseline: StepBreakdown;
  whatIf: StepBreakdown;
  /** Ranks switched to the lower precision. */
  switchedRanks: number[];
  /** baseline / what-if layer time. */
  layerSpeedup: number;
  /** Always false: ReaLB (arXiv 2604.19503) could not be checked; this is our model of its idea. */
  verified: false;
}

/**
 * ReaLB-style what-if (UNVERIFIED): ranks whose token load exceeds `thresholdOverMean` x the mean
 * run their experts with lower-precision weights (FP8, or FP4 computed at the FP8 rate), halving
 * or quartering the bytes they read and doubling their compute rate; no redundant experts.
 * @param precision "fp8" or "fp4".
 * @throws {RangeError} for a threshold < 1 or an unknown precision.
 * @example realbWhatIf(scenario.input, 1.2, "fp8").verified // => false
 */
export function realbWhatIf(input: StepInput, thresholdOverMean = 1.2, precision: WeightPrecision = "fp8"): RealbWhatIf {
  requireNumber("thresholdOverMean", thresholdOverMean, { min: 1 });
  requireOneOf("precision", precision, ["fp8", "fp4"]);
  const baseline = stepTime(input);
  const mean = baseline.rankTokens.reduce((a, b) => a + b, 0) / baseline.rankTokens.length;
  const base = input.weightPrecision ?? "bf16";
  const switchedRanks: number[] = [];
  const rankWeightPrecision = baseline.rankTokens.map((t, r) => {
    if (mean > 0 && t > thresholdOverMean * mean) {
      switchedRanks.push(r);
      return precision;
    }
    return base;
  });
  const whatIf = stepTime({ ...input, rankWeightPrecision });
  return { baseline, whatIf, switchedRanks, layerSpeedup: baseline.layerSeconds / whatIf.layerSeconds, verified: false };
}
