/**
 * The expert roofline: how long one GPU (rank) takes to run the experts of one MoE layer.
 *
 * time = max(bytes read / (HBM bandwidth x memoryEfficiency), FLOPs / (peak x computeEfficiency))
 *        + overheadSeconds
 * where bytes are the weights of the experts that got at least one token (an expert with no token
 * is not read) plus the activations, and FLOPs are 6 x hidden x intermediate per token copy
 * (SwiGLU: gate, up and down projections, 2 FLOPs per multiply-add).
 * A few tokens per expert are memory-bound (the time is the weight read, flat in tokens); a few
 * hundred tokens or more are compute-bound (the time grows linearly).
 * Introduced in notebooks/05-throughput-model.ipynb.
 */
import { GpuSpec, hbmBytesPerSecond, peakFlops } from "../hardware";
import { describeValue, requireInteger, requireNumber, requireNumberArray, requireOneOf } from "../validate";

/** Precision of the expert weights. FP4 computes at the FP8 rate (Hopper has no FP4 tensor cores). */
export type WeightPrecision = "bf16" | "fp8" | "fp4";

/** The weight precisions the model knows. */
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ["bf16", "fp8", "fp4"];

/**
 * Bytes per weight: BF16 2; FP8 1 (block scales are negligible); FP4 0.5 plus one FP8 scale per
 * 16 values (NVFP4-style), 0.5625.
 */
export const WEIGHT_BYTES: Readonly<Record<WeightPrecision, number>> = Object.freeze({ bf16: 2, fp8: 1, fp4: 0.5625 });

/** The tensor-core rate a weight precision computes at: BF16, or FP8 (Hopper has no faster FP4 path). */
export function computeRate(precision: WeightPrecision): "bf16" | "fp8" {
  return requireOneOf("precision", precision, WEIGHT_PRECISIONS) === "bf16" ? "bf16" : "fp8";
}

/**
 * Dense peak FLOP/s of a GPU for a weight precision (`computeRate`).
 * @example computePeakFlops(getGpu("h100"), "fp4") / 1e12 // => 1978.9
 */
export function computePeakFlops(gpu: GpuSpec, precision: WeightPrecision): number {
  return peakFlops(gpu, computeRate(precision));
}

/** Bytes per activation element (BF16 activations). */
export const ACTIVATION_BYTES = 2;

/** The shape of one expert MLP (SwiGLU). */
export interface ExpertShape {
  /** Model hidden size (elements). */
  hiddenSize: number;
  /** Expert intermediate size (elements). */
  intermediateSize: number;
}

/** The fitted (or default) efficiency factors of the roofline. */
export interface RooflineFactors {
  /** Achieved fraction of the HBM bandwidth, in (0, 1]. */
  memoryEfficiency: number;
  /** Achieved fraction of the dense tensor-core peak, in (0, 1]. */
  computeEfficiency: number;
  /** Fixed time per expert computation on a rank (kernel launches, gating), seconds. */
  overheadSeconds: number;
  /**
   * Rows (tokens) per tile of the expert GEMMs: in the compute term each expert's tokens are
   * rounded up to whole tiles, as a tiled (grouped) kernel computes them. Absent or 0: no rounding
   * (the assumed and published factors). `fitRooflineTiles` picks it from calibration rows.
   */
  tileRows?: number;
}

/**
 * Default factors, used until a calibration CSV exists under data/calibration/. ASSUMED, not
 * measured: ~80% of HBM bandwidth and ~70% of the dense BF16 peak are typical of what large
 * cuBLAS/CUTLASS GEMMs and streaming kernels reach on H100-class GPUs, and 10 us covers the three
 * kernels of an unfused SwiGLU (two GEMMs and the activation). `fitRoofline` replaces them.
 */
export const DEFAULT_FACTORS: Readonly<RooflineFactors> = Object.freeze({
  memoryEfficiency: 0.8,
  computeEfficiency: 0.7,
  overheadSeconds: 10e-6,
});

/** The work one rank does for one MoE layer. */
export interface RankWork {
  /** Token copies the rank's experts process (tokens x the experts each is routed to here). */
  tokens: number;
  /** Experts (or replicas) on the rank that received at least one token; their weights are read. */
  activeExperts: number;
  /**
   * Tokens of each expert (or replica) on the rank, for rounding to tiles (`RooflineFactors.tileRows`);
   * they sum to `tokens`. Absent: `tokens` spread evenly over `activeExperts`.
   */
  slotTokens?: readonly number[];
}

/** A rank's modelled expert time, with the terms of the roofline. */
export interface ExpertTime {
  /** Total modelled time (seconds): max(memory, compute) + overhead. */
  seconds: number;
  /** Bytes / achievable bandwidth (seconds). */
  memorySeconds: number;
  /** FLOPs / achievable peak (seconds). */
  computeSeconds: number;
  /** The fixed overhead (seconds). */
  overheadSeconds: number;
  /** Which term is larger. */
  bound: "memory" | "compute";
  /** Weight bytes read (active experts x bytes per expert). */
  weightBytes: number;
  /** Activation bytes read and written. */
  activationBytes: number;
  /** FLOPs. */
  flops: number;
}

/** Checks an expert shape; returns it. */
export function validateExpertShape(shape: ExpertShape, name = "shape"): ExpertShape {
  if (typeof shape !== "object" || shape === null) throw new TypeError(`${name} must be an object {hiddenSize, intermediateSize}, got ${describeValue(shape)}`);
  requireInteger(`${name}.hiddenSize`, shape.hiddenSize, { min: 1 });
  requireInteger(`${name}.intermediateSize`, shape.intermediateSize, { min: 1 });
  return shape;
}

/** Checks roofline factors; returns them. */
export function validateFactors(factors: RooflineFactors, name = "factors"): RooflineFactors {
  if (typeof factors !== "object" || factors === null) throw new TypeError(`${name} must be an object, got ${describeValue(factors)}`);
  requireNumber(`${name}.memoryEfficiency`, factors.memoryEfficiency, { min: 0, minExclusive: true, max: 1 });
  requireNumber(`${name}.computeEfficiency`, factors.computeEfficiency, { min: 0, minExclusive: true, max: 1 });
  requireNumber(`${name}.overheadSeconds`, factors.overheadSeconds, { min: 0 });
  if (factors.tileRows !== undefined) requireInteger(`${name}.tileRows`, factors.tileRows, { min: 0, max: 4096 });
  return factors;
}

/**
 * Weight bytes of one SwiGLU expert: 3 x hidden x intermediate weights.
 * @param precision weight precision (default "bf16").
 * @example expertWeightBytes({ hiddenSize: 7168, intermediateSize: 2048 }) // => 88080384
 */
export function expertWeightBytes(shape: ExpertShape, precision: WeightPrecision = "bf16"): number {
  validateExpertShape(shape);
  requireOneOf("precision", precision, WEIGHT_PRECISIONS);
  return 3 * shape.hiddenSize * shape.intermediateSize * WEIGHT_BYTES[precision];
}

/**
 * FLOPs of one token through one SwiGLU expert: 6 x hidden x intermediate.
 * @example expertFlopsPerToken({ hiddenSize: 7168, intermediateSize: 2048 }) // => 88080384
 */
export function expertFlopsPerToken(shape: ExpertShape): number {
  validateExpertShape(shape);
  return 6 * shape.hiddenSize * shape.intermediateSize;
}

/**
 * The tokens a rank's expert GEMMs compute when each expert's tokens are rounded up to whole tiles
 * of `tileRows` (0: no rounding, `work.tokens`). With `work.slotTokens` each expert is rounded on
 * its own; without, `tokens` is taken as spread evenly over `activeExperts`.
 * @throws {RangeError} for a bad tile size, or slot tokens that are negative or do not sum to `tokens`.
 * @example paddedTokens({ tokens: 130, activeExperts: 2, slotTokens: [128, 2] }, 128) // => 256
 * @example paddedTokens({ tokens: 130, activeExperts: 2 }, 128) // => 256 (65 each, one tile each)
 */
export function paddedTokens(work: RankWork, tileRows: number): number {
  if (typeof work !== "object" || work === null) throw new TypeError(`work must be an object {tokens, activeExperts}, got ${describeValue(work)}`);
  const tokens = requireNumber("work.tokens", work.tokens, { min: 0 });
  const activeExperts = requireNumber("work.activeExperts", work.activeExperts, { min: 0 });
  const tile = requireInteger("tileRows", tileRows, { min: 0, max: 4096 });
  if (tile === 0 || tokens === 0) return tokens;
  if (work.slotTokens !== undefined) {
    const slots = Array.from(requireNumberArray("work.slotTokens", work.slotTokens, { min: 0 }));
    const sum = slots.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - tokens) > 1e-9 * Math.max(1, tokens)) throw new RangeError(`work.slotTokens must sum to work.tokens (${tokens}), got ${sum}`);
    return slots.reduce((a, n) => a + (n > 0 ? Math.ceil(n / tile) * tile : 0), 0);
  }
  if (activeExperts === 0) return tokens;
  return Math.max(tokens, activeExperts * Math.ceil(tokens / activeExperts / tile) * tile);
}

/**
 * Modelled time of one rank's expert computation for one layer (roofline + overhead).
 * @param work token copies and active experts on the rank; `activeExperts` <= `tokens` unless tokens are fractional expectations.
 * @param precision weight precision; FP8/FP4 weights compute at the FP8 peak.
 * @throws {RangeError} for negative tokens, activeExperts > 0 with 0 tokens, or bad factors.
 * @example rankExpertTime({ tokens: 1, activeExperts: 1 }, { hiddenSize: 7168, intermediateSize: 2048 }, getGpu("h100")).bound // => "memory"
 */
export function rankExpertTime(
  work: RankWork,
  shape: ExpertShape,
  gpu: GpuSpec,
  factors: RooflineFactors = DEFAULT_FACTORS,
  precision: WeightPrecision = "bf16",
): ExpertTime {
  if (typeof work !== "object" || work === null) throw new TypeError(`work must be an object {tokens, activeExperts}, got ${describeValue(work)}`);
  const tokens = requireNumber("work.tokens", work.tokens, { min: 0 });
  const activeExperts = requireNumber("work.activeExperts", work.activeExperts, { min: 0 });
  if (tokens === 0 && activeExperts > 0) throw new RangeError(`work.activeExperts must be 0 when work.tokens is 0, got ${activeExperts}`);
  validateExpertShape(shape);
  requireOneOf("precision", precision, WEIGHT_PRECISIONS);
  return rooflineTime(
    {
      weightBytes: activeExperts * expertWeightBytes(shape, precision),
      activationBytes: tokens * (2 * shape.hiddenSize + 2 * shape.intermediateSize) * ACTIVATION_BYTES,
      // A tiled kernel computes whole tiles: with factors.tileRows, each expert's tokens rounded up.
      flops: paddedTokens(work, validateFactors(factors).tileRows ?? 0) * expertFlopsPerToken(shape),
    },
    gpu,
    factors,
    precision,
  );
}

/** Bytes and FLOPs of one roofline evaluation. */
export interface RooflineWork {
  /** Weight bytes read. */
  weightBytes: number;
  /** Activation bytes read and written. */
  activationBytes: number;
  /** Floating-point operations (2 per multiply-add). */
  flops: number;
}

/**
 * The roofline itself: max(bytes / achievable bandwidth, FLOPs / achievable peak) + overhead.
 * `rankExpertTime` (a SwiGLU expert) and `gemmTime` (one plain or grouped GEMM) both end here.
 * @param precision weight precision; it picks the peak (BF16, else FP8: Hopper has no FP4 tensor cores).
 * @throws {RangeError} for negative bytes or FLOPs, or bad factors.
 * @example rooflineTime({ weightBytes: 3.35e9, activationBytes: 0, flops: 0 }, getGpu("h100"), { memoryEfficiency: 1, computeEfficiency: 1, overheadSeconds: 0 }).seconds // => 0.001
 */
export function rooflineTime(work: RooflineWork, gpu: GpuSpec, factors: RooflineFactors = DEFAULT_FACTORS, precision: WeightPrecision = "bf16"): ExpertTime {
  if (typeof work !== "object" || work === null) throw new TypeError(`work must be an object {weightBytes, activationBytes, flops}, got ${describeValue(work)}`);
  const weightBytes = requireNumber("work.weightBytes", work.weightBytes, { min: 0 });
  const activationBytes = requireNumber("work.activationBytes", work.activationBytes, { min: 0 });
  const flops = requireNumber("work.flops", work.flops, { min: 0 });
  validateFactors(factors);
  requireOneOf("precision", precision, WEIGHT_PRECISIONS);
  const memorySeconds = (weightBytes + activationBytes) / (hbmBytesPerSecond(gpu) * factors.memoryEfficiency);
  const computeSeconds = flops / (computePeakFlops(gpu, precision) * factors.computeEfficiency);
  return {
    seconds: Math.max(memorySeconds, computeSeconds) + factors.overheadSeconds,
    memorySeconds,
    computeSeconds,
    overheadSeconds: factors.overheadSeconds,
    bound: computeSeconds > memorySeconds ? "compute" : "memory",
    weightBytes,
    activationBytes,
    flops,
  };
}

/** One GEMM `out[m, n] = x[m, k] @ W[n, k]^T`, or `groups` of them with the same n and k (a grouped MoE GEMM, m tokens per group). */
export interface GemmShape {
  /** Independent GEMMs (experts) in the launch; 1 for a plain GEMM. */
  groups: number;
  /** Rows (tokens) per group. */
  m: number;
  /** Output features. */
  n: number;
  /** Input features (the reduction dimension). */
  k: number;
}

/** Checks a GEMM shape; returns it. */
export function validateGemmShape(gemm: GemmShape, name = "gemm"): GemmShape {
  if (typeof gemm !== "object" || gemm === null) throw new TypeError(`${name} must be an object {groups, m, n, k}, got ${describeValue(gemm)}`);
  requireInteger(`${name}.groups`, gemm.groups, { min: 1 });
  requireInteger(`${name}.m`, gemm.m, { min: 1 });
  requireInteger(`${name}.n`, gemm.n, { min: 1 });
  requireInteger(`${name}.k`, gemm.k, { min: 1 });
  return gemm;
}

/**
 * Modelled time of one plain or grouped GEMM: weights groups x n x k at the weight precision,
 * inputs m x k at the activation precision (FP8 with FP8/FP4 weights, else BF16), BF16 output
 * m x n, and 2 x groups x m x n x k FLOPs. The byte count is the one DeepGEMM's benchmark uses.
 * @throws {TypeError|RangeError} for a bad shape, factors or precision.
 * @example gemmTime({ groups: 1, m: 64, n: 4096, k: 7168 }, getGpu("h800"), DEFAULT_FACTORS, "fp8").bound // => "memory"
 */
export function gemmTime(gemm: GemmShape, gpu: GpuSpec, factors: RooflineFactors = DEFAULT_FACTORS, precision: WeightPrecision = "bf16"): ExpertTime {
  validateGemmShape(gemm);
  requireOneOf("precision", precision, WEIGHT_PRECISIONS);
  const { groups, m, n, k } = gemm;
  const inputBytes = precision === "bf16" ? ACTIVATION_BYTES : 1;
  return rooflineTime(
    { weightBytes: groups * n * k * WEIGHT_BYTES[precision], activationBytes: groups * m * (k * inputBytes + n * ACTIVATION_BYTES), flops: 2 * groups * m * n * k },
    gpu,
    factors,
    precision,
  );
}

/** One point of an expert-time curve (the `--json` rows of `moe-lab expert-time`). */
export interface ExpertTimePoint {
  tokens: number;
  seconds: number;
}

/**
 * Modelled time of ONE expert for each token count (the single-expert calibration curve).
 * @param tokenCounts token counts, integers >= 0 (0 gives the overhead alone).
 * @throws {RangeError} for a negative or non-integer token count.
 * @example expertTimeCurve({ hiddenSize: 7168, intermediateSize: 2048 }, getGpu("h100"), [1, 2]).length // => 2
 */
export function expertTimeCurve(
  shape: ExpertShape,
  gpu: GpuSpec,
  tokenCounts: readonly number[],
  factors: RooflineFactors = DEFAULT_FACTORS,
  precision: WeightPrecision = "bf16",
): ExpertTimePoint[] {
  if (!Array.isArray(tokenCounts) || tokenCounts.length === 0) throw new TypeError(`tokenCounts must be a non-empty array of integers >= 0, got ${describeValue(tokenCounts)}`);
  return tokenCounts.map((t, i) => {
    requireInteger(`tokenCounts[${i}]`, t, { min: 0 });
    return { tokens: t, seconds: rankExpertTime({ tokens: t, activeExperts: t > 0 ? 1 : 0 }, shape, gpu, factors, precision).seconds };
  });
}

/**
 * Tokens per expert at which the roofline turns from memory-bound to compute-bound (ignoring
 * activation bytes): weightBytes / bandwidth = tokens x FLOPs / peak.
 * @example Math.round(ridgeTokens({ hiddenSize: 7168, intermediateSize: 2048 }, getGpu("h100"))) // => 258
 */
export function ridgeTokens(shape: ExpertShape, gpu: GpuSpec, factors: RooflineFactors = DEFAULT_FACTORS, precision: WeightPrecision = "bf16"): number {
  validateFactors(factors);
  const bytesPerSecond = hbmBytesPerSecond(gpu) * factors.memoryEfficiency;
  const flopsPerSecond = computePeakFlops(gpu, precision) * factors.computeEfficiency;
  return (expertWeightBytes(shape, precision) / bytesPerSecond) / (expertFlopsPerToken(shape) / flopsPerSecond);
}
