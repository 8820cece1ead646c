/**
 * Load metrics: how uneven a load vector is, for experts and for ranks (GPUs), and the
 * balancedness figures vLLM and SGLang log for a whole model (`[layers][ranks]` loads).
 *
 * Vocabulary: load = tokens; imbalance = max/mean (1 is perfect, the slowest rank sets the pace);
 * balancedness = mean/max (1 is perfect, 0.5 means half the GPU time is idle on average).
 * Introduced in notebooks/02-routing-models.ipynb. The lab note's own five numbers stay in
 * `summarizeLoads` (lib/labnote.ts), which `loadStats` builds on. `modelBalance` is the one
 * implementation of per-layer and whole-model balancedness; `balanceMetrics` (lib/eplb.ts) and
 * `balancednessVllm` / `balancednessSglang` are views of it.
 *
 * All-zero loads: the distribution statistics (`imbalance`, `loadStats`, `gini`, ...) need a
 * non-zero total (shares, Gini and entropy are undefined otherwise) and throw; the balancedness
 * figures (`layerBalance`, `modelBalance` and its views) count a layer with no load as perfectly
 * balanced, 1: no rank waits for another.
 */
import * as ss from "simple-statistics";
import { summarizeLoads } from "./labnote";
import { requireInteger, requireMatrix, requireNumberArray } from "./validate";

/** Every metric of one load vector. */
export interface LoadStats {
  /** Number of items (experts or ranks). */
  count: number;
  /** Sum of the loads (tokens). */
  total: number;
  /** Largest load: the item that finishes last. */
  max: number;
  /** Smallest load. */
  min: number;
  /** Mean load: the load of every item under perfect balance. */
  mean: number;
  /** max / mean: how much longer the busiest item takes than under perfect balance (1 = perfect). */
  imbalance: number;
  /** Population standard deviation / mean: typical relative spread (0 = perfect). */
  cv: number;
  /** Gini coefficient: 0 when all loads are equal, (n-1)/n when one item has everything. */
  gini: number;
  /** Shannon entropy of the load shares / ln(n): 1 when even, 0 when one item has everything. */
  entropy: number;
  /** Items with no load at all (idle experts or GPUs). */
  zeroCount: number;
}

function loadArray(loads: unknown): number[] {
  const arr = Array.from(requireNumberArray("loads", loads, { min: 0 }));
  let total = 0;
  for (const x of arr) total += x;
  if (!(total > 0)) throw new RangeError("loads must not be all zero (the mean load would be 0)");
  return arr;
}

/**
 * max/mean: how much longer the busiest expert (or rank) takes than under perfect balance.
 * @param loads `[n]` tokens per item (>= 0, not all 0).
 * @throws {RangeError} on an empty, negative, NaN or all-zero vector.
 * @example imbalance([1, 3]) // => 1.5
 */
export function imbalance(loads: ArrayLike<number>): number {
  return summarizeLoads(loadArray(loads)).imbalance;
}

/**
 * Coefficient of variation, population standard deviation / mean: the typical relative spread
 * of the loads (0 = perfectly even). simple-statistics' `coefficientOfVariation` uses the sample
 * deviation; a fixed set of experts is a population, so this uses `ss.standardDeviation`.
 * @param loads `[n]` tokens per item (>= 0, not all 0).
 * @throws {RangeError} on an empty, negative, NaN or all-zero vector.
 * @example coefficientOfVariation([1, 3]) // => 0.5
 */
export function coefficientOfVariation(loads: ArrayLike<number>): number {
  const arr = loadArray(loads);
  return ss.standardDeviation(arr) / ss.mean(arr);
}

/**
 * Gini coefficient: mean absolute difference between all pairs of loads / (2 x mean). 0 when
 * all loads are equal; (n-1)/n when one item carries everything.
 * @param loads `[n]` tokens per item (>= 0, not all 0).
 * @throws {RangeError} on an empty, negative, NaN or all-zero vector.
 * @example gini([0, 0, 0, 4]) // => 0.75
 */
export function gini(loads: ArrayLike<number>): number {
  const sorted = ss.numericSort(loadArray(loads));
  const n = sorted.length;
  let weighted = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    weighted += (i + 1) * sorted[i];
    total += sorted[i];
  }
  return Math.max(0, (2 * weighted) / (n * total) - (n + 1) / n);
}

/**
 * Normalised entropy of the load shares, H / ln(n): 1 when every item has the same load, 0 when
 * one item has all of it (a single item counts as even: 1).
 * @param loads `[n]` tokens per item (>= 0, not all 0).
 * @throws {RangeError} on an empty, negative, NaN or all-zero vector.
 * @example normalizedEntropy([1, 1, 0, 0]) // => 0.5
 */
export function normalizedEntropy(loads: ArrayLike<number>): number {
  const arr = loadArray(loads);
  if (arr.length === 1) return 1;
  const total = ss.sum(arr);
  let h = 0;
  for (const x of arr) if (x > 0) h -= (x / total) * Math.log(x / total);
  return h / Math.log(arr.length);
}

/**
 * Number of items with zero load: experts no token chose, or GPUs with nothing to do.
 * @param loads `[n]` tokens per item (>= 0).
 * @throws {RangeError} on an empty, negative or NaN vector.
 * @example zeroLoadCount([0, 2, 0]) // => 2
 */
export function zeroLoadCount(loads: ArrayLike<number>): number {
  const arr = requireNumberArray("loads", loads, { min: 0 });
  let n = 0;
  for (let i = 0; i < arr.length; i++) if (arr[i] === 0) n++;
  return n;
}

/**
 * Every metric of a load vector at once (see `LoadStats` for the meaning of each).
 * @param loads `[n]` tokens per item (>= 0, not all 0).
 * @throws {RangeError} on an empty, negative, NaN or all-zero vector.
 * @example loadStats([1, 3]).imbalance // => 1.5
 */
export function loadStats(loads: ArrayLike<number>): LoadStats {
  const arr = loadArray(loads);
  const base = summarizeLoads(arr);
  return {
    count: arr.length,
    total: ss.sum(arr),
    max: base.maxLoad,
    min: base.minLoad,
    mean: base.meanLoad,
    imbalance: base.imbalance,
    cv: coefficientOfVariation(arr),
    gini: gini(arr),
    entropy: normalizedEntropy(arr),
    zeroCount: base.zeroExperts,
  };
}

/** The hottest and coldest items of a load vector. */
export interface HotCold {
  /** Indices of the `count` most-loaded items, busiest first (ties: lower index first). */
  hot: number[];
  /** Indices of the `count` least-loaded items, idlest first (ties: lower index first). */
  cold: number[];
}

/**
 * The `count` hottest and coldest experts (or ranks): where the skew is.
 * @param loads `[n]` tokens per item (>= 0).
 * @param count how many of each to list (1..n).
 * @throws {RangeError} on a bad load vector or count.
 * @example hotCold([5, 1, 9, 1], 2) // => { hot: [2, 0], cold: [1, 3] }
 */
export function hotCold(loads: ArrayLike<number>, count: number): HotCold {
  const arr = requireNumberArray("loads", loads, { min: 0 });
  requireInteger("count", count, { min: 1, max: arr.length });
  const idx = Array.from({ length: arr.length }, (_, i) => i);
  const hot = [...idx].sort((a, b) => arr[b] - arr[a] || a - b).slice(0, count);
  const cold = [...idx].sort((a, b) => arr[a] - arr[b] || a - b).slice(0, count);
  return { hot, cold };
}

/**
 * Per-rank loads under a contiguous placement: experts split in equal contiguous blocks, block r
 * on rank (GPU) r, as with no EPLB. A rank's load is the sum of its experts' loads.
 * @param loads `[numExperts]` tokens per expert (>= 0).
 * @param numRanks number of ranks; must divide numExperts.
 * @returns `[numRanks]` tokens per rank.
 * @throws {RangeError} when numRanks < 1 or does not divide the number of experts.
 * @example contiguousRankLoads([1, 2, 3, 4], 2) // => [3, 7]
 */
export function contiguousRankLoads(loads: ArrayLike<number>, numRanks: number): number[] {
  const arr = requireNumberArray("loads", loads, { min: 0 });
  requireInteger("numRanks", numRanks, { min: 1, max: arr.length });
  if (arr.length % numRanks !== 0) {
    throw new RangeError(`numRanks must divide the number of experts (${arr.length}), got ${numRanks}`);
  }
  const perRank = arr.length / numRanks;
  const out = new Array<number>(numRanks).fill(0);
  for (let e = 0; e < arr.length; e++) out[Math.floor(e / perRank)] += arr[e];
  return out;
}

/**
 * Every metric of the per-rank loads under a contiguous placement (`contiguousRankLoads`).
 * Grouping experts on ranks averages out part of the expert-level skew.
 * @throws {RangeError} as `contiguousRankLoads` and `loadStats`.
 * @example rankLoadStats([4, 0, 2, 2], 2).imbalance // => 1
 */
export function rankLoadStats(loads: ArrayLike<number>, numRanks: number): LoadStats {
  return loadStats(contiguousRankLoads(loads, numRanks));
}

/**
 * Per-rank loads of every layer under a contiguous placement.
 * @param loadMatrix `[layers][numExperts]` tokens per expert per layer.
 * @param numRanks number of ranks; must divide numExperts.
 * @returns `[layers][numRanks]`.
 * @throws {TypeError|RangeError} on a non-rectangular or negative matrix, or a bad numRanks.
 * @example layerRankLoads([[1, 2, 3, 4]], 2) // => [[3, 7]]
 */
export function layerRankLoads(loadMatrix: ArrayLike<number>[], numRanks: number): number[][] {
  requireMatrix("loadMatrix", loadMatrix, { min: 0 });
  return loadMatrix.map((row) => contiguousRankLoads(row, numRanks));
}

/** Load statistics of one layer's ranks (GPUs). */
export interface LayerBalance {
  /** Mean rank load (tokens). */
  mean: number;
  /** Max rank load (tokens). */
  max: number;
  /** mean / max (1 = perfectly even); a layer with no load at all counts as perfectly even: 1. */
  balancedness: number;
  /** max / mean (1 = perfectly even); a layer with no load at all counts as perfectly even: 1. */
  imbalance: number;
}

/** Balancedness of a multi-layer model, per layer and aggregated the two ways vLLM and SGLang log it. */
export interface BalanceMetrics {
  /** Per-layer statistics, `[layers]`. */
  perLayer: LayerBalance[];
  /** vLLM's: sum over layers of mean / sum over layers of max (1 when every layer is all zero). */
  vllm: number;
  /** SGLang's: average over layers of (mean + 1e-5) / (max + 1e-5). */
  sglang: number;
  /** Largest per-layer max/mean. */
  worstImbalance: number;
}

/** SGLang's epsilon in (mean + eps) / (max + eps). */
const SGLANG_EPS = 1e-5;

function layerBalanceOf(row: ArrayLike<number>): LayerBalance {
  const n = row.length;
  let sum = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    sum += row[i];
    if (row[i] > max) max = row[i];
  }
  const mean = sum / n;
  // All-zero rule: no load means no rank waits for another, so the layer is perfectly balanced.
  return { mean, max, balancedness: max === 0 ? 1 : mean / max, imbalance: mean === 0 ? 1 : max / mean };
}

/**
 * Balancedness of one layer: mean and max rank load, mean/max and max/mean.
 * All-zero rule: a layer with no load at all is perfectly balanced (balancedness = imbalance = 1),
 * as SGLang's (mean + 1e-5) / (max + 1e-5) also gives.
 * @param loads `[ranks]` tokens per rank (>= 0).
 * @throws {TypeError|RangeError} on an empty, negative or NaN vector.
 * @example layerBalance([1, 3]) // => { mean: 2, max: 3, balancedness: 0.6666666666666666, imbalance: 1.5 }
 */
export function layerBalance(loads: ArrayLike<number>): LayerBalance {
  return layerBalanceOf(requireNumberArray("loads", loads, { min: 0 }));
}

/**
 * Every balancedness figure of a model at once: per layer (`layerBalance`), vLLM's
 * sum-of-means / sum-of-maxes, SGLang's average of per-layer (mean + 1e-5) / (max + 1e-5), and
 * the worst layer's max/mean. Rows are usually per-rank loads (`layerRankLoads`, or `gpuLoads`
 * in lib/eplb.ts after a placement).
 *
 * All-zero rule: a layer with no load is perfectly balanced (balancedness 1, imbalance 1); it adds
 * nothing to vLLM's sums, so vLLM ignores it, and SGLang's epsilon makes it count as 1. When every
 * layer has no load, vLLM's ratio is 0/0 and is reported as 1 too: it is the max-weighted average of
 * the per-layer balancedness, and every layer's is 1.
 * @param loadMatrix `[layers][ranks]` tokens (>= 0).
 * @throws {TypeError|RangeError} on a non-rectangular, empty, negative or NaN matrix.
 * @example modelBalance([[1, 3], [2, 2]]).vllm // => 0.8 ((2 + 2) / (3 + 2))
 */
export function modelBalance(loadMatrix: ArrayLike<number>[]): BalanceMetrics {
  requireMatrix("loadMatrix", loadMatrix, { min: 0 });
  const perLayer: LayerBalance[] = [];
  let sumMean = 0;
  let sumMax = 0;
  let sglang = 0;
  let worstImbalance = 0;
  for (const row of loadMatrix) {
    const layer = layerBalanceOf(row);
    perLayer.push(layer);
    sumMean += layer.mean;
    sumMax += layer.max;
    sglang += (layer.mean + SGLANG_EPS) / (layer.max + SGLANG_EPS);
    worstImbalance = Math.max(worstImbalance, layer.imbalance);
  }
  return { perLayer, vllm: sumMax === 0 ? 1 : sumMean / sumMax, sglang: sglang / loadMatrix.length, worstImbalance };
}

/**
 * vLLM-style balancedness of a model: sum over layers of the mean load / sum over layers of the
 * max load (rows are usually per-rank loads). 1 is perfect; the share of GPU time doing useful
 * work when every layer waits for its busiest rank. An all-zero matrix gives 1 (see `modelBalance`).
 * @param loadMatrix `[layers][ranks]` tokens (>= 0).
 * @throws {TypeError|RangeError} on a non-rectangular, negative or NaN matrix.
 * @example balancednessVllm([[1, 3], [2, 2]]) // => 0.8 ((2 + 2) / (3 + 2))
 */
export function balancednessVllm(loadMatrix: ArrayLike<number>[]): number {
  return modelBalance(loadMatrix).vllm;
}

/**
 * SGLang-style balancedness: the average over layers of (mean + 1e-5) / (max + 1e-5) (rows are
 * usually per-rank loads). 1 is perfect; every layer counts equally, whatever its load, and a layer
 * with no load counts as 1 (see `modelBalance`).
 * @param loadMatrix `[layers][ranks]` tokens (>= 0).
 * @throws {TypeError|RangeError} on a non-rectangular, negative or NaN matrix.
 * @example balancednessSglang([[1, 3], [2, 2]]) // => 0.8333... ((2/3 + 1) / 2)
 */
export function balancednessSglang(loadMatrix: ArrayLike<number>[]): number {
  return modelBalance(loadMatrix).sglang;
}
