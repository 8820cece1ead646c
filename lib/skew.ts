/**
 * Beyond the lab note: how its imbalance depends on the seed and on the batch size.
 * The lab note reports one run (seed 42, 10,000 tokens); these sweeps show how typical that run
 * is, and how the max/mean imbalance grows as batches shrink (the study guide's "token routing
 * imbalance can worsen with small batches"). Introduced in notebooks/01-baseline-skew.ipynb.
 * The batch-size sweep is the generic one of lib/routing.ts (`imbalanceSamplesByBatchSize`) run
 * on the lab note's router, summarised with percentiles and the router's skew-only limit.
 */
import * as ss from "simple-statistics";
import type { Rng } from "./rng";
import { LabNoteParams, validateLabNoteParams, routeBiasedTop1, countLoads, summarizeLoads } from "./labnote";
import { imbalanceSamplesByBatchSize } from "./routing";
import { requireInteger, requireNumberArray, requireFunction } from "./validate";

/**
 * The baseline imbalance (max/mean) of the lab note's router for each seed.
 * @param makeRng builds the stream for a seed (e.g. `createPythonRandom` to replay Python).
 * @returns imbalance per seed, `[seeds.length]`.
 * @example imbalanceOverSeeds(LAB_NOTE_DEFAULTS, [42], createPythonRandom)[0] // => 4.3648
 */
export function imbalanceOverSeeds(params: Partial<LabNoteParams>, seeds: readonly number[], makeRng: (seed: number) => Rng): number[] {
  const p = validateLabNoteParams(params);
  requireNumberArray("seeds", seeds, {}, 1);
  requireFunction("makeRng", makeRng);
  return seeds.map((seed) => {
    requireInteger("seed", seed);
    const route = routeBiasedTop1(makeRng(seed), p.numTokens, p.numExperts, p.hotExperts, p.hotFraction);
    return summarizeLoads(countLoads(route, p.numExperts)).imbalance;
  });
}

/** Imbalance statistics of one batch size over many trials. */
export interface BatchImbalance {
  /** Tokens per batch. */
  batchTokens: number;
  /** Mean of max/mean over the trials. */
  meanImbalance: number;
  /** 5th and 95th percentiles of max/mean over the trials. */
  p5: number;
  p95: number;
  /** The imbalance the router's own probabilities imply with infinitely many tokens. */
  expectedLimit: number;
}

/**
 * The lab note's router at several batch sizes: max/mean imbalance over `trials` batches each,
 * drawn from one stream (the sweep of `imbalanceSamplesByBatchSize` in lib/routing.ts with the
 * lab note's biased top-1 router). Small batches add sampling noise on top of the router's skew.
 * @param params the lab note's parameters (`numTokens` is not used: each batch has its own size).
 * @param batchTokens tokens per batch, each an integer >= 1.
 * @param trials batches per size (>= 1).
 * @param rng the random stream, shared by all batches in order.
 * @returns one row per batch size, in the given order.
 * @throws {RangeError} on an empty or non-integer batch list, or trials < 1.
 * @example imbalanceVsBatchSize(LAB_NOTE_DEFAULTS, [64, 4096], 10, createRng(1))[0].expectedLimit // => 3.84 (0.6 / 20 x 128)
 */
export function imbalanceVsBatchSize(
  params: Partial<LabNoteParams>,
  batchTokens: readonly number[],
  trials: number,
  rng: Rng,
): BatchImbalance[] {
  const p = validateLabNoteParams(params);
  requireNumberArray("batchTokens", batchTokens, { min: 1 }, 1);
  batchTokens.forEach((n, i) => requireInteger(`batchTokens[${i}]`, n, { min: 1 }));
  requireInteger("trials", trials, { min: 1 });
  // With infinitely many tokens a hot expert gets hotFraction/hot of them, a cold one (1-hotFraction)/cold.
  const hotShare = p.hotFraction / p.hotExperts;
  const coldShare = (1 - p.hotFraction) / (p.numExperts - p.hotExperts);
  const expectedLimit = Math.max(hotShare, coldShare) * p.numExperts;
  const route = (r: Rng, n: number) => ({ loads: countLoads(routeBiasedTop1(r, n, p.numExperts, p.hotExperts, p.hotFraction), p.numExperts) });
  return imbalanceSamplesByBatchSize(rng, route, batchTokens, trials).map(({ batchTokens: n, imbalances }) => ({
    batchTokens: n,
    meanImbalance: ss.mean(imbalances),
    p5: ss.quantile(imbalances, 0.05),
    p95: ss.quantile(imbalances, 0.95),
    expectedLimit,
  }));
}
