/**
 * One MoE layer's step time under expert parallelism (EP), with its breakdown:
 * attention (decode: reading the KV cache; prefill: compute) / experts (the slowest rank, since
 * every rank waits for it) / communication (DeepEP dispatch + combine).
 *
 * Layout assumed: wide EP as DeepSeek and SGLang run it: attention is data-parallel (each of the
 * `ep` ranks runs attention for batchTokens / ep tokens with a full copy of the attention weights),
 * routed experts are spread over the ranks (contiguously, or by an EPLB placement `phy2log`),
 * shared experts run on every rank for its own tokens. Without `overlapCommunication` the parts
 * add up. With it each MoE layer runs the batch as two micro-batches of half its tokens (SGLang's
 * two-batch overlap, DeepSeek's dual micro-batch), each a random half of every expert's tokens:
 * every part is the sum of its two half-batch runs (memory-bound weights are read twice, fixed
 * latencies paid twice), compute loses the SMs DeepEP's normal (prefill) kernels hold, and the
 * MoE layers' time is the engine's stage schedule replayed (./overlap, `twoBatchOverlap`; SGLang's
 * by default, or vLLM's with `overlapSchedule`): one micro-batch's dispatch and combine hide
 * behind the other's compute only as far as their stages pair up, and the compute stream idles
 * where they do not. Dense layers run on the whole batch in SGLang (its overlap covers the MoE
 * layers only) and as two half batches in vLLM (its micro-batches run the whole model). The
 * output head is read once per step.
 * Decode steps use DeepEP's low-latency kernels and prefill steps its normal kernels, as SGLang's
 * `--deepep-mode auto` does (python/sglang/srt/layers/moe/utils.py, DeepEPMode.resolve).
 * Introduced in notebooks/05-throughput-model.ipynb; used for the incident walk-through in
 * notebooks/07-operations-and-incidents.ipynb.
 */
import type { DeepEpTables, GpuSpec } from "../hardware";
import { hbmBytesPerSecond, peakFlops } from "../hardware";
import type { ModelSpec, RoutingGroups } from "../models";
import { bytesPerParam, countParameters, kvCachePerToken } from "../params";
import { describeValue, requireBoolean, requireInteger, requireNumber, requireNumberArray, requireOneOf } from "../validate";
import { allToAllTime, AllToAllKernel } from "./comm";
import { OVERLAP_SCHEDULES, OverlapSchedule, OverlapSegment, twoBatchOverlap } from "./overlap";
import { DEFAULT_FACTORS, RankWork, RooflineFactors, WEIGHT_BYTES, WEIGHT_PRECISIONS, WeightPrecision, computePeakFlops, rankExpertTime, rooflineTime, validateFactors } from "./roofline";

/** The model fields the step model needs (built from a catalog entry by `stepModelFromSpec`). */
export interface StepModel {
  id: string;
  hiddenSize: number;
  numLayers: number;
  numMoeLayers: number;
  numRoutedExperts: number;
  /** Experts per token (top-k). */
  topK: number;
  expertIntermediateSize: number;
  numSharedExperts: number;
  /** One shared expert's intermediate size (0: none). */
  sharedIntermediateSize: number;
  /** Dense MLP intermediate size of the non-MoE layers (0: none). */
  denseIntermediateSize: number;
  /** Attention weights of one layer (parameters). */
  attentionParamsPerLayer: number;
  /**
   * The attention weights applied after the attention kernel: the output projection, and for MLA
   * the value up-projection absorbed next to it (w_vc). SGLang runs them in its `op_core` stage.
   */
  attentionOutputParamsPerLayer: number;
  /** KV-cache bytes one layer stores per token (BF16; `kvBytesPerElement` scales it for FP8). */
  kvBytesPerTokenPerLayer: number;
  /** KV-cache bytes per token over all layers (BF16), for capacity. */
  kvBytesPerToken: number;
  /** Attention FLOPs per (query token, attended token) pair / 2, decode (MLA: absorbed, on the latent). */
  attentionDimDecode: number;
  /** Same for prefill (MLA: per-head q/k/v dims). */
  attentionDimPrefill: number;
  /** Local (sliding/chunked) attention: window and fraction of layers that are local; null if none. */
  localAttention: { windowTokens: number; localFraction: number } | null;
  /** Parameters that are not routed experts (attention, embeddings, routers, shared, dense MLPs, norms). */
  nonExpertParams: number;
  /** Group-limited routing (DeepSeek-V3: 4 of 8 groups), or null. */
  routingGroups: RoutingGroups | null;
  /** Output head (vocabulary x hidden; the input embedding when tied), read once per step. */
  outputHeadParams: number;
}

/**
 * The step model's view of a catalog model (`loadModel(id)` from lib/models).
 * @throws {TypeError|RangeError} for an invalid catalog entry.
 * @example stepModelFromSpec(loadModel("deepseek-v3")).kvBytesPerTokenPerLayer // => 1152
 */
export function stepModelFromSpec(spec: ModelSpec): StepModel {
  const counts = countParameters(spec);
  const kv = kvCachePerToken(spec);
  const a = spec.architecture;
  const at = a.attention;
  const attentionDimDecode = at.kind === "mla" ? at.numHeads * (2 * at.kvLoraRank + at.qkRopeHeadDim) : 2 * at.numHeads * at.headDim;
  const attentionDimPrefill = at.kind === "mla" ? at.numHeads * (at.qkNopeHeadDim + at.qkRopeHeadDim + at.vHeadDim) : 2 * at.numHeads * at.headDim;
  return {
    id: spec.id,
    hiddenSize: a.hiddenSize,
    numLayers: a.numLayers,
    numMoeLayers: counts.numMoeLayers,
    numRoutedExperts: a.numRoutedExperts,
    topK: a.expertsPerToken,
    expertIntermediateSize: a.expertIntermediateSize,
    numSharedExperts: a.sharedExpertIntermediateSize === null ? 0 : a.numSharedExperts,
    sharedIntermediateSize: a.sharedExpertIntermediateSize ?? 0,
    denseIntermediateSize: a.denseIntermediateSize ?? 0,
    attentionParamsPerLayer: counts.perLayer.attention,
    attentionOutputParamsPerLayer:
      at.kind === "mla"
        ? at.numHeads * at.vHeadDim * a.hiddenSize + at.kvLoraRank * at.numHeads * at.vHeadDim
        : at.numHeads * at.headDim * a.hiddenSize + (at.outputBias ? a.hiddenSize : 0),
    kvBytesPerTokenPerLayer: kv.perLayerBytes,
    kvBytesPerToken: kv.allLayersBytes,
    attentionDimDecode,
    attentionDimPrefill,
    localAttention: kv.windowTokens === null ? null : { windowTokens: kv.windowTokens, localFraction: kv.numLocalLayers / kv.numLayers },
    nonExpertParams: counts.total.total - counts.total.routedExperts,
    routingGroups: a.routingGroups ?? null,
    outputHeadParams: counts.total.outputHead || counts.total.inputEmbedding,
  };
}

/** Decode (one new token per sequence, reading its KV cache) or prefill (a prompt's tokens). */
export type StepMode = "decode" | "prefill";

/** KV-cache element type: BF16, or FP8 (vLLM's and SGLang's `--kv-cache-dtype fp8_e4m3`). */
export type KvPrecision = "bf16" | "fp8";
export const KV_PRECISIONS: readonly KvPrecision[] = ["bf16", "fp8"];

/**
 * Bytes per KV-cache element: 2 for BF16, 1 for FP8 (per-tensor scales, a few bytes per layer, not
 * counted). That is vLLM's and SGLang's `fp8_e4m3` cache. Formats that keep part of the entry in
 * BF16 save less: FlashMLA's sparse `fp8_ds_mla` (DeepSeek-V3.2) stores 656 bytes per token and
 * layer against MLA's 1152 in BF16, 0.57x rather than 0.5x.
 * @throws {RangeError} for another precision.
 * @example kvBytesPerElement("fp8") // => 1
 */
export function kvBytesPerElement(precision: KvPrecision): number {
  return bytesPerParam(requireOneOf("kvPrecision", precision, KV_PRECISIONS));
}

/** Attention time of one rank for one layer. */
export interface AttentionTime {
  seconds: number;
  memorySeconds: number;
  computeSeconds: number;
  /** KV-cache bytes read. */
  kvBytes: number;
  /** Attention weight bytes read. */
  weightBytes: number;
  flops: number;
  bound: "memory" | "compute";
  /**
   * Share of `seconds` in the input projections (their weight bytes, or their FLOPs when
   * compute-bound), which run before the attention kernel: SGLang's `op_prepare` stage. The rest,
   * the attention kernel on the KV cache and the output projection (`attentionOutputParamsPerLayer`),
   * is its `op_core` stage. Two-batch overlap in decode runs the two in separate stages.
   */
  inputProjectionShare: number;
}

/**
 * Attention time of one rank for one layer (roofline with the same factors as the experts).
 * Decode: each token is one sequence reading `contextTokens` of KV (local layers at most their
 * window, averaged over layers), in `kvPrecision` (default BF16; FP8 halves the bytes, the math
 * on it stays at the BF16 rate). The projections' weights are in `weightPrecision` (default BF16;
 * FP8 halves their bytes and computes at the FP8 peak). Prefill: `tokensPerRank` prompt tokens of sequences of length
 * `contextTokens`, attending on average to half of it (causal).
 * @throws {RangeError} for negative tokens or context.
 * @example attentionTime(stepModelFromSpec(loadModel("deepseek-v3")), getGpu("h100"), { tokensPerRank: 128, contextTokens: 4096, mode: "decode" }).bound // => "memory"
 */
export function attentionTime(
  model: StepModel,
  gpu: GpuSpec,
  work: { tokensPerRank: number; contextTokens: number; mode: StepMode; kvPrecision?: KvPrecision; weightPrecision?: WeightPrecision },
  factors: RooflineFactors = DEFAULT_FACTORS,
): AttentionTime {
  const tokens = requireNumber("tokensPerRank", work.tokensPerRank, { min: 0 });
  const context = requireNumber("contextTokens", work.contextTokens, { min: 0 });
  const mode = requireOneOf("mode", work.mode, ["decode", "prefill"]);
  const kvScale = kvBytesPerElement(work.kvPrecision ?? "bf16") / 2;
  const weightPrecision = requireOneOf("weightPrecision", work.weightPrecision ?? "bf16", WEIGHT_PRECISIONS);
  validateFactors(factors);
  const local = model.localAttention;
  const attended = local ? (1 - local.localFraction) * context + local.localFraction * Math.min(context, local.windowTokens) : context;
  const weightBytes = tokens > 0 ? model.attentionParamsPerLayer * WEIGHT_BYTES[weightPrecision] : 0;
  const kvBytesPerToken = model.kvBytesPerTokenPerLayer * kvScale;
  const kvBytes = mode === "decode" ? tokens * attended * kvBytesPerToken : tokens * kvBytesPerToken * 2;
  const meanAttended = mode === "decode" ? attended : attended / 2;
  const dim = mode === "decode" ? model.attentionDimDecode : model.attentionDimPrefill;
  // Projections run at the weights' rate (FP8 weights: the FP8 peak); the attention core on the KV cache at BF16.
  const projectionFlops = tokens * 2 * model.attentionParamsPerLayer;
  const coreFlops = tokens * 2 * dim * meanAttended;
  const flops = projectionFlops + coreFlops;
  const memorySeconds = (weightBytes + kvBytes) / (hbmBytesPerSecond(gpu) * factors.memoryEfficiency);
  const projectionComputeSeconds = projectionFlops / computePeakFlops(gpu, weightPrecision) / factors.computeEfficiency;
  const computeSeconds = projectionComputeSeconds + coreFlops / peakFlops(gpu, "bf16") / factors.computeEfficiency;
  const computeBound = computeSeconds > memorySeconds;
  // The input projections are the attention weights but the output side (o_proj, and MLA's w_vc).
  const inputFraction = model.attentionParamsPerLayer > 0 ? 1 - model.attentionOutputParamsPerLayer / model.attentionParamsPerLayer : 0;
  const inputProjectionShare = computeBound ? (inputFraction * projectionComputeSeconds) / computeSeconds : weightBytes + kvBytes > 0 ? (inputFraction * weightBytes) / (weightBytes + kvBytes) : 0;
  return {
    seconds: tokens > 0 ? Math.max(memorySeconds, computeSeconds) + factors.overheadSeconds : 0,
    memorySeconds,
    computeSeconds,
    kvBytes,
    weightBytes,
    flops,
    bound: computeBound ? "compute" : "memory",
    inputProjectionShare,
  };
}

/**
 * Per-rank work from per-expert loads and a placement. Each expert's load is split evenly over its
 * replicas; rank r holds slots [r x S/ep, (r+1) x S/ep) of `phy2log` (contiguous when absent:
 * slot s holds expert s).
 * @param expertLoads token copies routed to each logical expert, `[numExperts]`.
 * @param ep ranks; must divide the number of slots.
 * @param phy2log logical expert of each physical slot, `[slots]` (optional).
 * @param microBatches the work of one of this many equal micro-batches (default 1, the whole
 *   batch): tokens / microBatches, and the expected active experts of a random share of the
 *   tokens: a slot with n >= 1 tokens has one in a given micro-batch with probability 1 - (1 - 1/m)^n.
 * @param withSlots also list each rank's tokens per slot that has any (`slotTokens`), for rounding
 *   to tiles (`RooflineFactors.tileRows`); default false.
 * @throws {RangeError} when ep does not divide the slots, or a slot names an unknown expert.
 * @example rankWorkFromLoads([6, 0, 2, 2], 2) // => [{ tokens: 6, activeExperts: 1 }, { tokens: 4, activeExperts: 2 }]
 * @example rankWorkFromLoads([6, 0, 2, 2], 2, undefined, 1, true)[1].slotTokens // => [2, 2]
 * @example rankWorkFromLoads([6, 0, 2, 2], 2, undefined, 2)[1] // => { tokens: 2, activeExperts: 1.5 }
 */
export function rankWorkFromLoads(expertLoads: ArrayLike<number>, ep: number, phy2log?: ArrayLike<number>, microBatches = 1, withSlots = false): RankWork[] {
  const loads = requireNumberArray("expertLoads", expertLoads, { min: 0 });
  const numExperts = loads.length;
  requireInteger("ep", ep, { min: 1 });
  const m = requireInteger("microBatches", microBatches, { min: 1 });
  if (typeof withSlots !== "boolean") throw new TypeError(`withSlots must be a boolean, got ${describeValue(withSlots)}`);
  const slots = phy2log === undefined ? Array.from({ length: numExperts }, (_, i) => i) : Array.from(requireNumberArray("phy2log", phy2log, { min: 0, max: numExperts - 1 }));
  if (slots.length % ep !== 0) {
    throw new RangeError(`ep must divide the ${phy2log === undefined ? "number of experts" : "number of physical slots"} (${slots.length}), got ${ep}`);
  }
  const replicas = new Array<number>(numExperts).fill(0);
  for (const e of slots) {
    if (!Number.isInteger(e)) throw new RangeError(`phy2log must hold integer expert indices, got ${e}`);
    replicas[e]++;
  }
  replicas.forEach((c, e) => {
    if (c === 0 && loads[e] > 0) throw new RangeError(`phy2log must give expert ${e} (load ${loads[e]}) at least one slot`);
  });
  const perRank = slots.length / ep;
  const out: RankWork[] = [];
  for (let r = 0; r < ep; r++) {
    let tokens = 0;
    let activeExperts = 0;
    const slotTokens: number[] = [];
    for (let s = r * perRank; s < (r + 1) * perRank; s++) {
      const share = loads[slots[s]] / replicas[slots[s]];
      tokens += share / m;
      // A slot that has tokens has at least one (a fractional share is an average over batches).
      if (share > 0) {
        activeExperts += 1 - (1 - 1 / m) ** Math.max(1, share);
        slotTokens.push(share / m);
      }
    }
    out.push(withSlots ? { tokens, activeExperts, slotTokens } : { tokens, activeExperts });
  }
  return out;
}

/** Inputs of `stepTime`. */
export interface StepInput {
  model: StepModel;
  gpu: GpuSpec;
  deepep: DeepEpTables;
  /** Expert-parallel degree (ranks). */
  ep: number;
  /** Tokens in the step over all ranks (decode: sequences; prefill: prompt tokens). */
  batchTokens: number;
  mode: StepMode;
  /** Context length (tokens) of each sequence. */
  contextTokens: number;
  /** Token copies per logical expert, `[numRoutedExperts]` (default: perfectly balanced). */
  expertLoads?: ArrayLike<number>;
  /** Placement, `[slots]` (default: contiguous, slot s holds expert s). */
  phy2log?: ArrayLike<number>;
  /**
   * Per-rank work given directly (overrides expertLoads / phy2log), `[ep]`. With two-batch overlap
   * each micro-batch gets half the tokens and is charged all the active experts.
   */
  rankWork?: RankWork[];
  factors?: RooflineFactors;
  /** Routed-expert weight precision (default bf16). */
  weightPrecision?: WeightPrecision;
  /** Per-rank override of the weight precision (ReaLB-style), `[ep]`. */
  rankWeightPrecision?: WeightPrecision[];
  /** KV-cache element type (default bf16): FP8 halves the KV bytes attention reads. */
  kvPrecision?: KvPrecision;
  /** Attention, shared experts and dense MLPs: bf16 (default) or fp8. The output head stays BF16. */
  densePrecision?: DensePrecision;
  /**
   * Two-batch overlap in the MoE layers: run the batch as two micro-batches of half its tokens,
   * each one's communication running behind the other's compute, in SGLang's stage order
   * (`twoBatchOverlap`). Default false. Below 2 tokens per rank the batch is not split (a
   * micro-batch would be empty).
   */
  overlapCommunication?: boolean;
  /**
   * With two-batch overlap: whose stage order, "sglang" (default: SGLang's two-batch overlap) or
   * "vllm" (vLLM's dual batch overlap, which also splits the dense layers). Ignored without overlap.
   */
  overlapSchedule?: OverlapSchedule;
  /** With two-batch overlap: also return the replayed schedule (`overlapSegments`, for a timeline chart). */
  overlapTimeline?: boolean;
  /** Fixed latency per all-to-all call (microseconds). */
  allToAllLatencyUs?: number;
  /**
   * What-if factor on DeepEP's benchmark bandwidth for dispatch and combine (default 1); see
   * `AllToAllInput.bandwidthScale`.
   */
  allToAllBandwidthScale?: number;
}

/** Non-expert weight precisions the step model takes (FP4 attention is not a deployment on Hopper). */
export type DensePrecision = "bf16" | "fp8";
export const DENSE_PRECISIONS: readonly DensePrecision[] = ["bf16", "fp8"];

/**
 * SMs DeepEP's normal (prefill) kernels occupy while they run: `Buffer.num_sms`, 20 by default
 * (deepseek-ai/DeepEP, deep_ep/buffer.py). Under two-batch overlap the compute of the other
 * micro-batch runs on the remaining SMs (SGLang gives DeepGEMM total SMs minus DeepEP's). The
 * low-latency (decode) kernels send from hooks and hold no SMs.
 */
export const DEEPEP_NORMAL_KERNEL_SMS = 20;

/**
 * The modelled step, part by part (seconds per MoE layer unless named otherwise). With two-batch
 * overlap each part is the sum over the two micro-batches.
 */
export interface StepBreakdown {
  attentionSeconds: number;
  /** Routed experts on the slowest rank. */
  routedExpertSeconds: number;
  sharedExpertSeconds: number;
  /** routed + shared. */
  expertSeconds: number;
  dispatchSeconds: number;
  combineSeconds: number;
  /** dispatch + combine. */
  communicationSeconds: number;
  /**
   * One MoE layer: the sum of the parts, or with overlap the replayed two-batch schedule of all
   * the MoE layers (`twoBatchOverlap`) divided by their number.
   */
  layerSeconds: number;
  /**
   * Per MoE layer, the time the compute stream waits for dispatch or combine: layerSeconds -
   * (attention + experts). Without overlap that is the communication; with it, what the other
   * micro-batch's compute does not hide (pipeline bubbles included).
   */
  computeIdleSeconds: number;
  /**
   * What sets the layer's time: without overlap the largest of attention / experts /
   * communication; with overlap "communication" when it outlasts attention + experts, else the
   * larger of those two.
   */
  bound: "attention" | "experts" | "communication";
  /** The output head (logits) once per step: the whole BF16 vocabulary matrix is read. */
  outputHeadSeconds: number;
  /**
   * A whole forward pass: MoE layers, dense layers (attention + dense MLP: the whole batch, or its
   * two halves one after the other under vLLM's overlap) and the output head.
   */
  forwardSeconds: number;
  /** Tokens per second per GPU: tokensPerRank / forwardSeconds. */
  tokensPerSecondPerGpu: number;
  tokensPerRank: number;
  /** 2 with two-batch overlap (1 below 2 tokens per rank), else 1. */
  microBatches: number;
  /** The replayed stage order with two micro-batches, else null. */
  overlapSchedule: OverlapSchedule | null;
  /**
   * Factor on the overlapped compute for the SMs the communication kernels hold (prefill under
   * two-batch overlap: sms / (sms - DEEPEP_NORMAL_KERNEL_SMS)), else 1.
   */
  overlapComputeScale: number;
  /** Token copies on each rank, `[ep]`. */
  rankTokens: number[];
  /** Routed-expert time of each rank (both micro-batches with overlap), `[ep]`. */
  rankExpertSeconds: number[];
  slowestRank: number;
  /** max / mean of rank token copies (1 = balanced). */
  rankImbalance: number;
  /** Whether the slowest rank is memory- or compute-bound. */
  expertBound: "memory" | "compute";
  allToAllKernel: AllToAllKernel;
  /** Factor on DeepEP's H800 bandwidth: this GPU's NVLink over the H800's for the normal kernels inside a node (EP <= 8), else 1. */
  allToAllNvlinkScale: number;
  attentionBound: "memory" | "compute";
  /** With two-batch overlap and `overlapTimeline`: every operation of the replayed MoE layers, in issue order. */
  overlapSegments?: OverlapSegment[];
}

/**
 * Models one MoE layer's step (and a whole forward pass) under expert parallelism.
 * @throws {RangeError} for tokens < 0, context < 0, ep < 1, ep not dividing the experts (or slots),
 *   expertLoads of the wrong length; {TypeError} for missing inputs.
 * @example stepTime({ model: stepModelFromSpec(loadModel("deepseek-v3")), gpu: getGpu("h100"), deepep: loadHardware().deepep, ep: 32, batchTokens: 4096, mode: "decode", contextTokens: 4096 }).bound // => "communication"
 */
export function stepTime(input: StepInput): StepBreakdown {
  if (typeof input !== "object" || input === null) throw new TypeError(`input must be an object, got ${describeValue(input)}`);
  const { model, gpu, deepep } = input;
  if (typeof model !== "object" || model === null) throw new TypeError(`model must be a StepModel (stepModelFromSpec(loadModel(id))), got ${describeValue(model)}`);
  const ep = requireInteger("ep", input.ep, { min: 1 });
  const batchTokens = requireNumber("batchTokens", input.batchTokens, { min: 0 });
  const contextTokens = requireNumber("contextTokens", input.contextTokens, { min: 0 });
  const mode = requireOneOf("mode", input.mode, ["decode", "prefill"]);
  const factors = validateFactors(input.factors ?? DEFAULT_FACTORS);
  const precision = requireOneOf("weightPrecision", input.weightPrecision ?? "bf16", WEIGHT_PRECISIONS);
  const densePrecision = requireOneOf("densePrecision", input.densePrecision ?? "bf16", DENSE_PRECISIONS);
  const E = model.numRoutedExperts;
  if (input.phy2log === undefined && input.rankWork === undefined && E % ep !== 0) {
    throw new RangeError(`ep must divide numRoutedExperts (${E}) of ${model.id}, got ${ep}`);
  }
  const tokensPerRank = batchTokens / ep;
  // Two-batch overlap splits the MoE layers' batch in two, unless a half would be empty.
  const overlapWanted = requireBoolean("overlapCommunication", input.overlapCommunication);
  const timelineWanted = requireBoolean("overlapTimeline", input.overlapTimeline);
  const schedule = requireOneOf("overlapSchedule", input.overlapSchedule ?? "sglang", OVERLAP_SCHEDULES);
  const bandwidthScale = requireNumber("allToAllBandwidthScale", input.allToAllBandwidthScale ?? 1, { min: 0, minExclusive: true });
  const runs = overlapWanted && tokensPerRank >= 2 && model.numMoeLayers >= 1 ? 2 : 1;
  let rankWork: RankWork[];
  let runWork: RankWork[];
  if (input.rankWork !== undefined) {
    if (!Array.isArray(input.rankWork) || input.rankWork.length !== ep) throw new RangeError(`rankWork must have ep = ${ep} items, got ${describeValue(input.rankWork)}`);
    rankWork = input.rankWork;
    runWork = rankWork.map((w) => (w.slotTokens ? { tokens: w.tokens / runs, activeExperts: w.activeExperts, slotTokens: w.slotTokens.map((n) => n / runs) } : { tokens: w.tokens / runs, activeExperts: w.activeExperts }));
  } else {
    const loads = input.expertLoads ?? new Array<number>(E).fill((batchTokens * model.topK) / E);
    if (loads.length !== E) throw new RangeError(`expertLoads must have numRoutedExperts = ${E} items, got ${loads.length}`);
    // Each slot's tokens are needed only where the factors round them to tiles.
    const withSlots = (factors.tileRows ?? 0) > 0;
    rankWork = rankWorkFromLoads(loads, ep, input.phy2log, 1, withSlots);
    runWork = runs === 1 ? rankWork : rankWorkFromLoads(loads, ep, input.phy2log, runs, withSlots);
  }
  const rankPrecision = input.rankWeightPrecision ?? new Array<WeightPrecision>(ep).fill(precision);
  if (rankPrecision.length !== ep) throw new RangeError(`rankWeightPrecision must have ep = ${ep} items, got ${rankPrecision.length}`);
  rankPrecision.forEach((p, r) => requireOneOf(`rankWeightPrecision[${r}]`, p, WEIGHT_PRECISIONS));
  const rankTokens = rankWork.map((w) => w.tokens);
  const meanTokens = rankTokens.reduce((a, b) => a + b, 0) / ep;
  const maxTokens = Math.max(...rankTokens);
  // Decode on the low-latency kernels, prefill on the normal ones (SGLang's --deepep-mode auto).
  const kernel: AllToAllKernel = mode === "decode" ? "lowLatency" : "normal";
  // Overlapped with the normal kernels, compute keeps the SMs they do not hold.
  const overlapComputeScale = runs === 2 && kernel === "normal" ? gpu.sms / (gpu.sms - DEEPEP_NORMAL_KERNEL_SMS) : 1;
  const expertShape = { hiddenSize: model.hiddenSize, intermediateSize: model.expertIntermediateSize };
  const rankTimes = runWork.map((w, r) => (w.tokens > 0 ? rankExpertTime(w, expertShape, gpu, factors, rankPrecision[r]) : null));
  const rankSeconds = rankTimes.map((t) => (t ? runs * overlapComputeScale * t.seconds : 0));
  let slowestRank = 0;
  rankSeconds.forEach((t, r) => {
    if (t > rankSeconds[slowestRank]) slowestRank = r;
  });
  const runTokens = tokensPerRank / runs;
  const sharedTime = (tokens: number): number =>
    model.numSharedExperts > 0 && tokens > 0
      ? rankExpertTime({ tokens: tokens * model.numSharedExperts, activeExperts: model.numSharedExperts }, { hiddenSize: model.hiddenSize, intermediateSize: model.sharedIntermediateSize }, gpu, factors, densePrecision).seconds
      : 0;
  const attentionOf = (tokens: number) => attentionTime(model, gpu, { tokensPerRank: tokens, contextTokens, mode, kvPrecision: input.kvPrecision, weightPrecision: densePrecision }, factors);
  const attentionRun = attentionOf(runTokens);
  const attentionSeconds = runs * overlapComputeScale * attentionRun.seconds;
  const shared = runs * overlapComputeScale * sharedTime(runTokens);
  const comm = allToAllTime({ tokensPerRank: runTokens, topK: model.topK, hiddenSize: model.hiddenSize, ep, maxReceivedCopies: maxTokens / runs, fixedLatencyUs: input.allToAllLatencyUs, bandwidthScale, nvlinkBidirGBps: gpu.nvlinkBidirGBps, numExperts: model.numRoutedExperts, routingGroups: model.routingGroups, kernel }, deepep);
  const communicationSeconds = runs * comm.seconds;
  const routed = rankSeconds[slowestRank];
  const expertSeconds = routed + shared;
  const compute = attentionSeconds + expertSeconds;
  // Overlapped: replay the two micro-batches' stages over all MoE layers (pipeline bubbles included).
  const overlap =
    runs === 2
      ? twoBatchOverlap({
          mode,
          schedule,
          numLayers: model.numMoeLayers,
          timeline: timelineWanted,
          work: {
            attentionInputSeconds: overlapComputeScale * attentionRun.seconds * attentionRun.inputProjectionShare,
            attentionCoreSeconds: overlapComputeScale * attentionRun.seconds * (1 - attentionRun.inputProjectionShare),
            sharedExpertSeconds: shared / runs,
            routedExpertSeconds: rankSeconds[slowestRank] / runs,
            dispatchSeconds: comm.dispatchSeconds,
            combineSeconds: comm.combineSeconds,
          },
        })
      : null;
  const layerSeconds = overlap ? overlap.seconds / model.numMoeLayers : compute + communicationSeconds;
  // Dense layers: the whole batch (SGLang's two-batch overlap covers the MoE layers only), or under
  // vLLM's dual batch overlap its two halves, one after the other (no communication to hide).
  const denseRuns = runs === 2 && schedule === "vllm" ? 2 : 1;
  const denseTokens = tokensPerRank / denseRuns;
  const denseMlp =
    model.denseIntermediateSize > 0 && denseTokens > 0
      ? rankExpertTime({ tokens: denseTokens, activeExperts: 1 }, { hiddenSize: model.hiddenSize, intermediateSize: model.denseIntermediateSize }, gpu, factors, densePrecision).seconds
      : 0;
  const denseLayerSeconds = denseRuns * ((denseRuns === runs ? attentionRun : attentionOf(denseTokens)).seconds + denseMlp);
  // Logits: decode, one per token; prefill, one per sequence (its last token).
  const logitTokens = mode === "decode" ? tokensPerRank : tokensPerRank / Math.max(1, contextTokens);
  const outputHeadSeconds =
    tokensPerRank > 0
      ? rooflineTime({ weightBytes: model.outputHeadParams * WEIGHT_BYTES.bf16, activationBytes: 0, flops: 2 * model.outputHeadParams * logitTokens }, gpu, factors, "bf16").seconds
      : 0;
  const forwardSeconds = model.numMoeLayers * layerSeconds + (model.numLayers - model.numMoeLayers) * denseLayerSeconds + outputHeadSeconds;
  const parts = { attention: attentionSeconds, experts: expertSeconds, communication: communicationSeconds };
  const largest = (Object.keys(parts) as Array<keyof typeof parts>).reduce((a, b) => (parts[b] > parts[a] ? b : a));
  const bound = runs === 1 ? largest : communicationSeconds > compute ? "communication" : expertSeconds > attentionSeconds ? "experts" : "attention";
  const slowest = rankTimes[slowestRank];
  return {
    attentionSeconds,
    routedExpertSeconds: routed,
    sharedExpertSeconds: shared,
    expertSeconds,
    dispatchSeconds: runs * comm.dispatchSeconds,
    combineSeconds: runs * comm.combineSeconds,
    communicationSeconds,
    layerSeconds,
    computeIdleSeconds: Math.max(0, layerSeconds - compute), // never below 0 (rounding of the replay's sums)
    bound,
    outputHeadSeconds,
    forwardSeconds,
    tokensPerSecondPerGpu: forwardSeconds > 0 ? tokensPerRank / forwardSeconds : 0,
    tokensPerRank,
    microBatches: runs,
    overlapSchedule: runs === 2 ? schedule : null,
    overlapComputeScale,
    rankTokens,
    rankExpertSeconds: rankSeconds,
    slowestRank,
    rankImbalance: meanTokens > 0 ? maxTokens / meanTokens : 1,
    expertBound: slowest ? slowest.bound : "memory",
    allToAllKernel: comm.kernel,
    allToAllNvlinkScale: comm.nvlinkScale,
    attentionBound: attentionRun.bound,
    ...(overlap?.segments ? { overlapSegments: overlap.segments } : {}),
  };
}
