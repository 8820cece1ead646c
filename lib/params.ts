/**
 * Parameters and memory of an MoE model, computed from its catalog config (lib/models.ts):
 * total and active parameters part by part, how they compare with the published figures,
 * KV-cache bytes per token (GQA and MLA, sliding/chunked layers), the weights of one expert,
 * and memory per GPU (rank) under expert parallelism.
 *
 * Total parameters drive storage and loading; active parameters drive per-token compute.
 * Introduced in notebooks/06-active-vs-total.ipynb.
 */
import { checkedModel, moeLayerIndices, ModelSpec, ModelArchitecture, PublishedFigure, CompareWith } from "./models";
import { describeValue, requireInteger, requireNumber, requireOneOf } from "./validate";

/** Storage formats for weights and KV cache. `int4` stands for any 4-bit format (MXFP4, INT4). */
export type Dtype = "bf16" | "fp8" | "int4";
/** The formats `bytesPerParam` knows. */
export const DTYPES: readonly Dtype[] = ["bf16", "fp8", "int4"];

/**
 * Bytes per parameter (or per KV element) of a storage format; 4-bit scales are not counted.
 * @param dtype "bf16" | "fp8" | "int4"
 * @throws {TypeError}/{RangeError} for another value.
 * @example bytesPerParam("fp8") // => 1
 */
export function bytesPerParam(dtype: Dtype): number {
  const d = requireOneOf("dtype", dtype, DTYPES);
  return d === "bf16" ? 2 : d === "fp8" ? 1 : 0.5;
}

/** Parameter counts of a model split by part. `total` is their sum. */
export interface PartCounts {
  /** Input embedding table (vocabSize x h). */
  inputEmbedding: number;
  /** Output head (h x vocabSize); 0 when tied to the input embedding. */
  outputHead: number;
  /** Attention of all layers, incl. MLA's low-rank projections and norms, QK-norms, sinks, biases. */
  attention: number;
  /** Routers (gates) of all MoE layers. */
  router: number;
  /** Routed experts: all of them (total) or the top-k of each MoE layer (active). */
  routedExperts: number;
  /** Shared experts (incl. a shared-expert gate) of all MoE layers. */
  sharedExperts: number;
  /** Dense MLPs of the non-MoE layers. */
  denseMlps: number;
  /** Layer norms (2 per layer) and the final norm. */
  norms: number;
  total: number;
}

/** Per-layer counts behind `PartCounts`. */
export interface PerLayerCounts {
  attention: number;
  router: number;
  /** One routed expert. */
  expert: number;
  /** All shared experts of one MoE layer. */
  sharedExperts: number;
  /** One dense MLP (0 when every layer is MoE). */
  denseMlp: number;
  /** One MoE layer's MLP block, all experts: router + routed + shared. */
  moeLayerTotal: number;
  /** One MoE layer's MLP block as one token sees it: router + top-k routed + shared. */
  moeLayerActive: number;
}

/** What `countParameters` returns. */
export interface ParameterCounts {
  model: string;
  numLayers: number;
  numMoeLayers: number;
  numDenseLayers: number;
  perLayer: PerLayerCounts;
  /** Every parameter of the text model (what must be stored and loaded). */
  total: PartCounts;
  /** The parameters one token uses (what drives per-token compute). */
  active: PartCounts;
}

function attentionPerLayer(a: ModelArchitecture): number {
  const h = a.hiddenSize;
  const at = a.attention;
  if (at.kind === "mla") {
    const qHead = at.qkNopeHeadDim + at.qkRopeHeadDim;
    return (
      h * at.qLoraRank + at.qLoraRank + // q down-projection + its norm
      at.qLoraRank * at.numHeads * qHead + // q up-projection
      h * (at.kvLoraRank + at.qkRopeHeadDim) + at.kvLoraRank + // kv down-projection (+ shared rope key) + norm
      at.kvLoraRank * at.numHeads * (at.qkNopeHeadDim + at.vHeadDim) + // k and v up-projections
      at.numHeads * at.vHeadDim * h // output projection
    );
  }
  const qWidth = at.numHeads * at.headDim;
  const kvWidth = at.numKvHeads * at.headDim;
  let n = h * (qWidth + 2 * kvWidth) + qWidth * h;
  if (at.qkvBias) n += qWidth + 2 * kvWidth;
  if (at.outputBias) n += h;
  if (at.qkNorm === "per-head") n += 2 * at.headDim;
  if (at.qkNorm === "full-width") n += qWidth + kvWidth;
  if (at.sinks) n += at.numHeads;
  return n;
}

/** SwiGLU MLP of width `width`: gate, up and down matrices (+ biases). */
function mlp(h: number, width: number, bias: boolean): { weights: number; biases: number } {
  return { weights: 3 * h * width, biases: bias ? 2 * width + h : 0 };
}

function perLayerCounts(a: ModelArchitecture): PerLayerCounts {
  const h = a.hiddenSize;
  const e = mlp(h, a.expertIntermediateSize, a.expertBias);
  const expert = e.weights + e.biases;
  const shared =
    a.sharedExpertIntermediateSize === null
      ? 0
      : a.numSharedExperts * sumParts(mlp(h, a.sharedExpertIntermediateSize, a.expertBias)) + (a.sharedExpertGate ? h : 0);
  const router = a.numRoutedExperts * h + (a.routerBias ? a.numRoutedExperts : 0);
  const denseMlp = a.denseIntermediateSize === null ? 0 : 3 * h * a.denseIntermediateSize;
  return {
    attention: attentionPerLayer(a),
    router,
    expert,
    sharedExperts: shared,
    denseMlp,
    moeLayerTotal: router + a.numRoutedExperts * expert + shared,
    moeLayerActive: router + a.expertsPerToken * expert + shared,
  };
}

function sumParts(p: { weights: number; biases: number }): number {
  return p.weights + p.biases;
}

function parts(p: Omit<PartCounts, "total">): PartCounts {
  const total = p.inputEmbedding + p.outputHead + p.attention + p.router + p.routedExperts + p.sharedExperts + p.denseMlps + p.norms;
  return { ...p, total };
}

/**
 * Total and active parameters of the text model, part by part, from the config fields.
 * @param model a catalog entry (`loadModel(id)`)
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry (naming the field).
 * @example countParameters(loadModel("mixtral-8x7b")).total.total // => 46702792704
 */
export function countParameters(model: ModelSpec): ParameterCounts {
  const m = checkedModel(model);
  const a = m.architecture;
  const h = a.hiddenSize;
  const numMoeLayers = moeLayerIndices(m).length;
  const numDenseLayers = a.numLayers - numMoeLayers;
  const per = perLayerCounts(a);
  const common = {
    inputEmbedding: a.vocabSize * h,
    outputHead: a.tiedEmbeddings ? 0 : a.vocabSize * h,
    attention: a.numLayers * per.attention,
    router: numMoeLayers * per.router,
    sharedExperts: numMoeLayers * per.sharedExperts,
    denseMlps: numDenseLayers * per.denseMlp,
    norms: (2 * a.numLayers + 1) * h,
  };
  return {
    model: m.id,
    numLayers: a.numLayers,
    numMoeLayers,
    numDenseLayers,
    perLayer: per,
    total: parts({ ...common, routedExperts: numMoeLayers * a.numRoutedExperts * per.expert }),
    active: parts({ ...common, routedExperts: numMoeLayers * a.expertsPerToken * per.expert }),
  };
}

/**
 * Total parameters of the text model (storage), from the config.
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example totalParameters(loadModel("deepseek-v3")) // => 671026419200
 */
export function totalParameters(model: ModelSpec): number {
  return countParameters(model).total.total;
}

/**
 * Parameters one token uses (per-token compute), incl. the input embedding, from the config.
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example activeParameters(loadModel("mixtral-8x7b")) // => 12879925248
 */
export function activeParameters(model: ModelSpec): number {
  return countParameters(model).active.total;
}

/**
 * Parameters of one routed expert (its three matrices, plus biases where the model has them).
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example expertParams(loadModel("deepseek-v3")) // => 44040192 (3 x 7168 x 2048)
 */
export function expertParams(model: ModelSpec): number {
  return perLayerCounts(checkedModel(model).architecture).expert;
}

/**
 * Bytes of one routed expert's weights in `dtype` (biases, where present, stay in bf16).
 * @param dtype "bf16" | "fp8" | "int4" (0.5 byte per parameter, scales not counted)
 * @throws {TypeError}/{RangeError} for an invalid model or dtype.
 * @example expertBytes(loadModel("deepseek-v3"), "fp8") // => 44040192
 */
export function expertBytes(model: ModelSpec, dtype: Dtype): number {
  const a = checkedModel(model).architecture;
  const e = mlp(a.hiddenSize, a.expertIntermediateSize, a.expertBias);
  return e.weights * bytesPerParam(dtype) + e.biases * 2;
}

/**
 * Unique parameters of the multi-token-prediction module(s): per MTP layer one MoE decoder layer,
 * a 2h x h projection and three norms (its embedding and head copy the main model's). 0 without MTP.
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example mtpParameters(loadModel("deepseek-v3")) // => 11610068224
 */
export function mtpParameters(model: ModelSpec): number {
  const a = checkedModel(model).architecture;
  const h = a.hiddenSize;
  const per = perLayerCounts(a);
  return a.mtpLayers * (per.attention + per.moeLayerTotal + 2 * h + 2 * h * h + 3 * h);
}

/**
 * The computed count that is comparable with a published figure, counted the publisher's way:
 * "text" as is; "text+vision" adds the vision encoder; "without-input-embedding" leaves out the
 * input embedding (a lookup, no FLOPs); "with-mtp-checkpoint" adds the MTP module and its copies
 * of the embedding and head.
 * @param which "total" | "active" | "checkpointTotal"
 * @throws {TypeError}/{RangeError} for an invalid model, an unknown `which`, or a figure the model lacks.
 * @example comparableParameters(loadModel("gpt-oss-120b"), "active") // => 5132849472
 */
export function comparableParameters(model: ModelSpec, which: "total" | "active" | "checkpointTotal"): number {
  const m = checkedModel(model);
  const w = requireOneOf("which", which, ["total", "active", "checkpointTotal"] as const);
  const fig = m.published[w];
  if (!fig) throw new RangeError(`which must name a published figure of ${m.id} (total, active), got ${describeValue(which)}`);
  const c = countParameters(m);
  const counts = w === "active" ? c.active : c.total;
  return adjust(m, counts, fig.compareWith);
}

function adjust(m: ModelSpec, counts: PartCounts, how: CompareWith): number {
  switch (how) {
    case "text":
      return counts.total;
    case "text+vision":
      return counts.total + (m.visionEncoderParams ?? 0);
    case "without-input-embedding":
      return counts.total - (m.architecture.tiedEmbeddings ? 0 : counts.inputEmbedding);
    case "with-mtp-checkpoint":
      return counts.total + mtpParameters(m) + m.architecture.mtpLayers * (counts.inputEmbedding + counts.outputHead);
  }
}

/** One computed figure next to its published counterpart. */
export interface PublishedComparison {
  /** As published ("671B"). */
  stated: string;
  published: number;
  /** The computed count, adjusted as `compareWith` says. */
  computed: number;
  compareWith: CompareWith;
  exact: boolean;
  /** 100 x (computed - published) / published. */
  errorPct: number;
  /** "within 1%" for exact figures; "rounds or truncates to the stated digits" for rounded ones. */
  rule: string;
  /** Whether the computed count satisfies `rule`. */
  agrees: boolean;
}

/**
 * Whether a computed count agrees with a published figure: within 1% when the figure is exact,
 * else the computed count rounded or truncated to the figure's last digit equals it.
 * @param computed parameters
 * @throws {TypeError}/{RangeError} when computed is not a number >= 0 or figure is malformed.
 * @example agreesWithPublished(37552297472, { value: 37e9, precision: 1e9, exact: false }) // => true (truncated)
 */
export function agreesWithPublished(computed: number, figure: Pick<PublishedFigure, "value" | "precision" | "exact">): boolean {
  requireNumber("computed", computed, { min: 0 });
  if (typeof figure !== "object" || figure === null) throw new TypeError(`figure must be a published figure, got ${describeValue(figure)}`);
  const value = requireNumber("figure.value", figure.value, { min: 0, minExclusive: true });
  const precision = requireNumber("figure.precision", figure.precision, { min: 0, minExclusive: true });
  if (figure.exact) return Math.abs(computed - value) / value < 0.01;
  const units = computed / precision;
  return Math.round(units) * precision === value || Math.floor(units) * precision === value;
}

/**
 * Computed vs published totals and active counts of a model (and its checkpoint total, if any).
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example comparePublished(loadModel("deepseek-v3")).total.errorPct // => 0.0039... (671.03B vs 671B)
 */
export function comparePublished(model: ModelSpec): { total: PublishedComparison; active: PublishedComparison; checkpointTotal?: PublishedComparison } {
  const m = checkedModel(model);
  const one = (which: "total" | "active" | "checkpointTotal", fig: PublishedFigure): PublishedComparison => {
    const computed = comparableParameters(m, which);
    return {
      stated: fig.stated,
      published: fig.value,
      computed,
      compareWith: fig.compareWith,
      exact: fig.exact,
      errorPct: (100 * (computed - fig.value)) / fig.value,
      rule: fig.exact ? "within 1%" : "rounds or truncates to the stated digits",
      agrees: agreesWithPublished(computed, fig),
    };
  };
  const out: { total: PublishedComparison; active: PublishedComparison; checkpointTotal?: PublishedComparison } = {
    total: one("total", m.published.total),
    active: one("active", m.published.active),
  };
  if (m.published.checkpointTotal) out.checkpointTotal = one("checkpointTotal", m.published.checkpointTotal);
  return out;
}

/**
 * Matrix-multiply FLOPs per token in the weights (2 per active parameter, input embedding
 * excluded: it is a lookup). Attention over the context adds more and is not counted.
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example flopsPerToken(loadModel("mixtral-8x7b")) // => 25497706496
 */
export function flopsPerToken(model: ModelSpec): number {
  const c = countParameters(model).active;
  return 2 * (c.total - c.inputEmbedding);
}

/** KV-cache size per token of context, for one sequence. */
export interface KvCachePerToken {
  kind: "gqa" | "mla";
  bytesPerElement: number;
  /** Bytes one layer stores per token (GQA: K and V of every KV head; MLA: the latent + rope key). */
  perLayerBytes: number;
  numLayers: number;
  /** Layers attending to the whole context. */
  numGlobalLayers: number;
  /** Sliding-window or chunked layers (keep at most `windowTokens` tokens each). */
  numLocalLayers: number;
  windowTokens: number | null;
  /** Bytes per token while the context fits in the window: every layer stores it. */
  allLayersBytes: number;
  /** Bytes per token beyond the window: only the global layers keep growing. */
  globalLayersBytes: number;
  /** What full multi-head attention (every query head with its own K and V) would store per token. */
  mhaEquivalentBytes: number;
}

/**
 * KV-cache bytes per token of context: GQA stores K and V for each KV head, MLA one compressed
 * latent per layer; sliding-window/chunked layers stop growing at their window.
 * @param kvDtype storage of the cache, default "bf16"
 * @throws {TypeError}/{RangeError} for an invalid model or dtype.
 * @example kvCachePerToken(loadModel("deepseek-v3")).allLayersBytes // => 70272 (61 x 576 x 2)
 */
export function kvCachePerToken(model: ModelSpec, kvDtype: Dtype = "bf16"): KvCachePerToken {
  const a = checkedModel(model).architecture;
  const b = bytesPerParam(kvDtype);
  const at = a.attention;
  const perLayer = at.kind === "mla" ? (at.kvLoraRank + at.qkRopeHeadDim) * b : 2 * at.numKvHeads * at.headDim * b;
  const mhaPerLayer =
    at.kind === "mla" ? at.numHeads * (at.qkNopeHeadDim + at.qkRopeHeadDim + at.vHeadDim) * b : 2 * at.numHeads * at.headDim * b;
  const local = a.localAttention;
  const numGlobalLayers = local ? Math.floor(a.numLayers / local.globalEvery) : a.numLayers;
  return {
    kind: at.kind,
    bytesPerElement: b,
    perLayerBytes: perLayer,
    numLayers: a.numLayers,
    numGlobalLayers,
    numLocalLayers: a.numLayers - numGlobalLayers,
    windowTokens: local ? local.windowTokens : null,
    allLayersBytes: perLayer * a.numLayers,
    globalLayersBytes: perLayer * numGlobalLayers,
    mhaEquivalentBytes: mhaPerLayer * a.numLayers,
  };
}

/**
 * KV-cache bytes of one sequence holding `contextTokens` tokens (local layers capped at their window).
 * @param contextTokens tokens in the sequence's context (integer >= 0)
 * @param kvDtype storage of the cache, default "bf16"
 * @throws {TypeError}/{RangeError} for an invalid model, contextTokens or dtype.
 * @example kvCacheBytes(loadModel("mixtral-8x7b"), 32768) // => 4294967296 (4 GiB)
 */
export function kvCacheBytes(model: ModelSpec, contextTokens: number, kvDtype: Dtype = "bf16"): number {
  const t = requireInteger("contextTokens", contextTokens, { min: 0 });
  const kv = kvCachePerToken(model, kvDtype);
  const localTokens = kv.windowTokens === null ? t : Math.min(t, kv.windowTokens);
  return kv.perLayerBytes * (kv.numGlobalLayers * t + kv.numLocalLayers * localTokens);
}

/** Options of `memoryPerRank`. */
export interface EpMemoryOptions {
  /** Ranks (GPUs) the routed experts are spread over. */
  epSize: number;
  /** Extra expert replicas per MoE layer (EPLB's redundant experts), default 0. */
  redundantExperts?: number;
  /** Storage of routed-expert weights, default "bf16". */
  expertDtype?: Dtype;
  /**
   * Storage of attention, shared experts and dense MLPs, default "bf16". The embeddings, output
   * head, routers and norms stay BF16 when it is narrower (quantized checkpoints keep them so:
   * DeepSeek-V3's FP8 release, llm-compressor's FP8 recipes).
   */
  denseDtype?: Dtype;
  /** Context tokens per sequence whose KV this rank holds, default 0. */
  contextTokens?: number;
  /** Sequences whose KV cache this rank holds (data-parallel attention), default 1. */
  sequences?: number;
  /** Storage of the KV cache, default "bf16". */
  kvDtype?: Dtype;
}

/** Memory of one rank under expert parallelism (the busiest rank when replicas do not divide evenly). */
export interface EpMemory {
  epSize: number;
  /** Routed experts + redundant replicas, per MoE layer. */
  physicalExpertsPerLayer: number;
  /** Replicas a rank holds per MoE layer: ceil(physicalExpertsPerLayer / epSize). */
  expertReplicasPerRank: number;
  numMoeLayers: number;
  /** Routed-expert weights on this rank. */
  expertBytes: number;
  /** Attention, embeddings, routers, shared experts, dense MLPs and norms: a full copy on every rank. */
  nonExpertBytes: number;
  kvBytes: number;
  totalBytes: number;
}

/**
 * Memory one GPU needs under expert parallelism: its share of the routed experts (incl.
 * redundant replicas), a full copy of every other weight, and the KV cache of its sequences.
 * @throws {TypeError}/{RangeError} naming the option (epSize must be between 1 and the physical experts per layer).
 * @example memoryPerRank(loadModel("deepseek-v3"), { epSize: 32, redundantExperts: 32, expertDtype: "fp8" }).expertReplicasPerRank // => 9
 */
export function memoryPerRank(model: ModelSpec, options: EpMemoryOptions): EpMemory {
  const m = checkedModel(model);
  if (typeof options !== "object" || options === null) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const a = m.architecture;
  const redundant = requireInteger("options.redundantExperts", options.redundantExperts ?? 0, { min: 0 });
  const physical = a.numRoutedExperts + redundant;
  const epSize = requireInteger("options.epSize", options.epSize, { min: 1, max: physical });
  const expertDtype = requireOneOf("options.expertDtype", options.expertDtype ?? "bf16", DTYPES);
  const denseDtype = requireOneOf("options.denseDtype", options.denseDtype ?? "bf16", DTYPES);
  const kvDtype = requireOneOf("options.kvDtype", options.kvDtype ?? "bf16", DTYPES);
  const contextTokens = requireInteger("options.contextTokens", options.contextTokens ?? 0, { min: 0 });
  const sequences = requireInteger("options.sequences", options.sequences ?? 1, { min: 0 });
  const c = countParameters(m);
  const perRank = Math.ceil(physical / epSize);
  const expert = perRank * c.numMoeLayers * expertBytes(m, expertDtype);
  const t = c.total;
  const quantizable = t.attention + t.sharedExperts + t.denseMlps;
  const nonExpert = quantizable * bytesPerParam(denseDtype) + (t.total - t.routedExperts - quantizable) * bytesPerParam("bf16");
  const kv = sequences * kvCacheBytes(m, contextTokens, kvDtype);
  return {
    epSize,
    physicalExpertsPerLayer: physical,
    expertReplicasPerRank: perRank,
    numMoeLayers: c.numMoeLayers,
    expertBytes: expert,
    nonExpertBytes: nonExpert,
    kvBytes: kv,
    totalBytes: expert + nonExpert + kv,
  };
}

/**
 * Bytes to store the whole text model: routed experts in `expertDtype`, the rest in `denseDtype`.
 * @throws {TypeError}/{RangeError} for an invalid model or dtype.
 * @example weightBytes(loadModel("mixtral-8x7b")).totalBytes // => 93405585408 (bf16)
 */
export function weightBytes(model: ModelSpec, expertDtype: Dtype = "bf16", denseDtype: Dtype = "bf16"): { expertBytes: number; nonExpertBytes: number; totalBytes: number } {
  const m = checkedModel(model);
  const ep = memoryPerRank(m, { epSize: 1, expertDtype, denseDtype });
  return { expertBytes: ep.expertBytes, nonExpertBytes: ep.nonExpertBytes, totalBytes: ep.totalBytes };
}

/**
 * A parameter count for people: 3 significant-ish digits with K, M, B or T.
 * @param count parameters (number >= 0)
 * @throws {TypeError}/{RangeError} when count is not a finite number >= 0.
 * @example formatParams(671026419200) // => "671.03B"
 */
export function formatParams(count: number, digits = 2): string {
  const n = requireNumber("count", count, { min: 0 });
  requireInteger("digits", digits, { min: 0, max: 6 });
  const units: Array<[number, string]> = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
  for (const [u, s] of units) if (n >= u) return `${(n / u).toFixed(digits)}${s}`;
  return String(n);
}

/**
 * A byte count for people, in binary units (KiB, MiB, GiB, TiB).
 * @param bytes number >= 0
 * @throws {TypeError}/{RangeError} when bytes is not a finite number >= 0.
 * @example formatBytes(70272) // => "68.6 KiB"
 */
export function formatBytes(bytes: number, digits = 1): string {
  const n = requireNumber("bytes", bytes, { min: 0 });
  requireInteger("digits", digits, { min: 0, max: 6 });
  const units: Array<[number, string]> = [[2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];
  for (const [u, s] of units) if (n >= u) return `${(n / u).toFixed(digits)} ${s}`;
  return `${n} B`;
}

/** One catalog row: the numbers notebooks compare across models. */
export interface ModelSummary {
  id: string;
  name: string;
  totalParams: number;
  activeParams: number;
  /** activeParams / totalParams. */
  activeShare: number;
  numRoutedExperts: number;
  numSharedExperts: number;
  expertsPerToken: number;
  numMoeLayers: number;
  numLayers: number;
  /** Bytes to store every weight in bf16. */
  weightBytesBf16: number;
  /** Matrix-multiply FLOPs per token (`flopsPerToken`). */
  flopsPerToken: number;
  attention: "gqa" | "mla";
  /** KV bytes per token in bf16 while the context fits every layer's window. */
  kvBytesPerToken: number;
  /** KV bytes per token beyond the window (only global layers grow); = kvBytesPerToken without local layers. */
  kvBytesPerTokenLongContext: number;
  /** Published figures as stated, with the computed error (see `comparePublished`). */
  publishedTotal: string;
  publishedActive: string;
  totalErrorPct: number;
  activeErrorPct: number;
  /** Both published figures agree with the computed ones under their rule. */
  agrees: boolean;
}

/**
 * The catalog numbers of one model in one object (for tables and charts across models).
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example modelSummary(loadModel("kimi-k2")).numRoutedExperts // => 384
 */
export function modelSummary(model: ModelSpec): ModelSummary {
  const m = checkedModel(model);
  const c = countParameters(m);
  const kv = kvCachePerToken(m);
  const cmp = comparePublished(m);
  return {
    id: m.id,
    name: m.name,
    totalParams: c.total.total,
    activeParams: c.active.total,
    activeShare: c.active.total / c.total.total,
    numRoutedExperts: m.architecture.numRoutedExperts,
    numSharedExperts: m.architecture.numSharedExperts,
    expertsPerToken: m.architecture.expertsPerToken,
    numMoeLayers: c.numMoeLayers,
    numLayers: c.numLayers,
    weightBytesBf16: 2 * c.total.total,
    flopsPerToken: flopsPerToken(m),
    attention: kv.kind,
    kvBytesPerToken: kv.allLayersBytes,
    kvBytesPerTokenLongContext: kv.globalLayersBytes,
    publishedTotal: cmp.total.stated,
    publishedActive: cmp.active.stated,
    totalErrorPct: cmp.total.errorPct,
    activeErrorPct: cmp.active.errorPct,
    agrees: cmp.total.agrees && cmp.active.agrees,
  };
}

/** What `sequencesThatFit` returns. */
export interface SequencesThatFit {
  /** Whole sequences of `contextTokens` whose KV fits beside the weights (0 when the weights alone do not fit). */
  sequences: number;
  /** Weights on the rank (experts + the rest). */
  weightBytes: number;
  /** KV cache of one sequence. */
  kvBytesPerSequence: number;
  /** Memory left for KV after the weights (negative when the weights do not fit). */
  freeBytes: number;
}

/**
 * How many sequences of `contextTokens` one rank can hold: (memory - weights) / KV per sequence.
 * @param options as `memoryPerRank` (its `sequences` is ignored), plus `memoryBytes`: usable memory of one GPU in bytes
 * @throws {TypeError}/{RangeError} naming the option.
 * @example sequencesThatFit(loadModel("deepseek-v3"), { epSize: 32, expertDtype: "fp8", contextTokens: 32768, memoryBytes: 80e9 }).sequences // => 11
 */
export function sequencesThatFit(model: ModelSpec, options: EpMemoryOptions & { memoryBytes: number }): SequencesThatFit {
  if (typeof options !== "object" || options === null) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const memoryBytes = requireNumber("options.memoryBytes", options.memoryBytes, { min: 0, minExclusive: true });
  const contextTokens = requireInteger("options.contextTokens", options.contextTokens, { min: 1 });
  const weights = memoryPerRank(model, { ...options, sequences: 0 });
  const perSequence = kvCacheBytes(model, contextTokens, options.kvDtype ?? "bf16");
  const weightBytes = weights.expertBytes + weights.nonExpertBytes;
  const freeBytes = memoryBytes - weightBytes;
  return { sequences: freeBytes <= 0 ? 0 : Math.floor(freeBytes / perSequence), weightBytes, kvBytesPerSequence: perSequence, freeBytes };
}

/**
 * The study guide's capture template filled in for one model, JSON-ready: its six keys first
 * (model, total_parameters, active_parameters_per_token, num_experts, experts_per_token,
 * layers_with_experts), then the part-by-part breakdown, published comparison, expert bytes and
 * KV bytes per token (snake_case throughout). `moe-lab params --json` prints it.
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example paramsTemplate(loadModel("mixtral-8x7b")).experts_per_token // => 2
 */
export function paramsTemplate(model: ModelSpec): Record<string, unknown> {
  const m = checkedModel(model);
  const c = countParameters(m);
  const a = m.architecture;
  const kv = kvCachePerToken(m);
  const cmp = comparePublished(m);
  const snakeParts = (p: PartCounts) => ({
    input_embedding: p.inputEmbedding, output_head: p.outputHead, attention: p.attention, router: p.router,
    routed_experts: p.routedExperts, shared_experts: p.sharedExperts, dense_mlps: p.denseMlps, norms: p.norms, total: p.total,
  });
  const snakeCmp = (x: PublishedComparison) => ({
    stated: x.stated, published: x.published, computed: x.computed, compare_with: x.compareWith,
    error_pct: x.errorPct, rule: x.rule, agrees: x.agrees,
  });
  return {
    model: m.id,
    total_parameters: c.total.total,
    active_parameters_per_token: c.active.total,
    num_experts: a.numRoutedExperts,
    experts_per_token: a.expertsPerToken,
    layers_with_experts: c.numMoeLayers,
    name: m.name,
    num_layers: c.numLayers,
    num_shared_experts: a.numSharedExperts,
    breakdown: { total: snakeParts(c.total), active: snakeParts(c.active) },
    published: {
      total: snakeCmp(cmp.total),
      active: snakeCmp(cmp.active),
      ...(cmp.checkpointTotal ? { checkpoint_total: snakeCmp(cmp.checkpointTotal) } : {}),
    },
    expert_bytes: { bf16: expertBytes(m, "bf16"), fp8: expertBytes(m, "fp8"), int4: expertBytes(m, "int4") },
    kv_bytes_per_token: {
      attention: kv.kind,
      all_layers_bf16: kv.allLayersBytes,
      global_layers_bf16: kv.globalLayersBytes,
      window_tokens: kv.windowTokens,
      local_layers: kv.numLocalLayers,
    },
  };
}

/**
 * Bytes one token sends through expert parallelism's all-to-all per forward pass, if every one of
 * its top-k experts sits on another rank (the worst case; shared experts stay local): in each MoE
 * layer its hidden state is dispatched to k experts and k results are combined back.
 * @param dispatchDtype format of the dispatched hidden states, default "fp8" (DeepEP's dispatch)
 * @param combineDtype format of the returned expert outputs, default "bf16"
 * @throws {TypeError}/{RangeError} for an invalid model or dtype.
 * @example allToAllBytesPerToken(loadModel("mixtral-8x7b")).totalBytes // => 786432 (32 layers x 2 x 4096 x (1 + 2))
 */
export function allToAllBytesPerToken(
  model: ModelSpec,
  dispatchDtype: Dtype = "fp8",
  combineDtype: Dtype = "bf16",
): { perLayerDispatchBytes: number; perLayerCombineBytes: number; numMoeLayers: number; totalBytes: number } {
  const m = checkedModel(model);
  const a = m.architecture;
  const numMoeLayers = moeLayerIndices(m).length;
  const perLayerDispatchBytes = a.expertsPerToken * a.hiddenSize * bytesPerParam(dispatchDtype);
  const perLayerCombineBytes = a.expertsPerToken * a.hiddenSize * bytesPerParam(combineDtype);
  return { perLayerDispatchBytes, perLayerCombineBytes, numMoeLayers, totalBytes: numMoeLayers * (perLayerDispatchBytes + perLayerCombineBytes) };
}
