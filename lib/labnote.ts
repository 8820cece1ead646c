/**
 * The lab note "vLLM 0.8 MoE Routing — Paper PoC", step by step, as small pure functions:
 * its biased top-1 router, its load counting and metrics, its "cap hot experts at 1.2x mean,
 * spread the overflow over idle experts" rebalance, and its tokens / max-load throughput model.
 *
 * Replayed with `createPythonRandom(42)`, `runLabNote` gives exactly the numbers the lab note
 * printed (341, 21, 78.1, 4.36x, 0; 93.8, 1.20x, 72.5%; 29.33, 106.62, 3.64x).
 * Introduced in notebooks/01-baseline-skew.ipynb; the rebalance's flaws are shown in 03-eplb.ipynb.
 */
import * as ss from "simple-statistics";
import type { Rng } from "./rng";
import { requireInteger, requireNumber, requireNumberArray, describeValue } from "./validate";

/** The lab note's parameters (its Python constants). */
export interface LabNoteParams {
  /** Random seed (`random.seed(seed)`): any integer; a bigint for those beyond 2^53. */
  seed: number | bigint;
  /** Number of experts (`NUM_EXPERTS`), Llama 4 Maverick's 128. */
  numExperts: number;
  /** Number of tokens routed (`NUM_TOKENS`). */
  numTokens: number;
  /** Experts 0..hotExperts-1 form the hot set (the note's 20). */
  hotExperts: number;
  /** Probability that a token goes to the hot set (the note's 0.6). */
  hotFraction: number;
  /** Cap on each expert's load, as a multiple of the mean load (the note's 1.2). */
  capFactor: number;
  /** Experts below this multiple of the mean receive the overflow (the note's 0.5). */
  idleThreshold: number;
}

/** The lab note's own values. */
export const LAB_NOTE_DEFAULTS: Readonly<LabNoteParams> = Object.freeze({
  seed: 42,
  numExperts: 128,
  numTokens: 10000,
  hotExperts: 20,
  hotFraction: 0.6,
  capFactor: 1.2,
  idleThreshold: 0.5,
});

/** Checks every field of `LabNoteParams`; returns a complete, validated copy. */
export function validateLabNoteParams(p: Partial<LabNoteParams>): LabNoteParams {
  const q = { ...LAB_NOTE_DEFAULTS, ...p };
  if (typeof q.seed !== "bigint") requireInteger("seed", q.seed);
  requireInteger("numExperts", q.numExperts, { min: 2 });
  requireInteger("numTokens", q.numTokens, { min: 1 });
  requireInteger("hotExperts", q.hotExperts, { min: 1, max: q.numExperts - 1 });
  requireNumber("hotFraction", q.hotFraction, { min: 0, max: 1 });
  requireNumber("capFactor", q.capFactor, { min: 0, minExclusive: true });
  requireNumber("idleThreshold", q.idleThreshold, { min: 0 });
  return q;
}

/**
 * The lab note's biased top-1 router: each token goes to a uniformly chosen hot expert
 * (0..hotExperts-1) with probability `hotFraction`, else to a uniformly chosen cold one.
 * Draw order per token is the note's: `random()` first, then one `randint`.
 * @returns the chosen expert of each token, `[numTokens]`.
 * @example routeBiasedTop1(createPythonRandom(42), 10000, 128, 20, 0.6)[0] // => 23 (random() 0.639 >= 0.6: a cold expert)
 */
export function routeBiasedTop1(
  rng: Rng,
  numTokens: number,
  numExperts: number,
  hotExperts: number,
  hotFraction: number,
): Int32Array {
  if (!rng || typeof rng.random !== "function" || typeof rng.randint !== "function") {
    throw new TypeError(`rng must be an Rng (random(), randint(a, b)), got ${describeValue(rng)}`);
  }
  requireInteger("numTokens", numTokens, { min: 0 });
  requireInteger("numExperts", numExperts, { min: 2 });
  requireInteger("hotExperts", hotExperts, { min: 1, max: numExperts - 1 });
  requireNumber("hotFraction", hotFraction, { min: 0, max: 1 });
  const expertOfToken = new Int32Array(numTokens);
  for (let t = 0; t < numTokens; t++) {
    expertOfToken[t] = rng.random() < hotFraction ? rng.randint(0, hotExperts - 1) : rng.randint(hotExperts, numExperts - 1);
  }
  return expertOfToken;
}

/**
 * Counts tokens per expert (the note's `Counter`, then a list over all experts).
 * @param expertOfToken the chosen expert of each token, values in [0, numExperts).
 * @returns load (tokens) of each expert, `[numExperts]`.
 * @example countLoads([0, 2, 2], 3) // => [1, 0, 2]
 */
export function countLoads(expertOfToken: ArrayLike<number>, numExperts: number): number[] {
  requireInteger("numExperts", numExperts, { min: 1 });
  requireNumberArray("expertOfToken", expertOfToken, { min: 0, max: numExperts - 1 }, 0);
  const loads = new Array<number>(numExperts).fill(0);
  for (let i = 0; i < expertOfToken.length; i++) {
    const e = expertOfToken[i];
    if (!Number.isInteger(e)) throw new RangeError(`expertOfToken[${i}] must be an integer expert index, got ${e}`);
    loads[e]++;
  }
  return loads;
}

/** The lab note's baseline metrics of a load vector. */
export interface LoadSummary {
  /** Load of the most-loaded expert (tokens). */
  maxLoad: number;
  /** Load of the least-loaded expert (tokens). */
  minLoad: number;
  /** Mean load per expert (tokens). */
  meanLoad: number;
  /** max / mean: 1 is perfectly even; the slowest expert sets the pace. */
  imbalance: number;
  /** Number of experts that received no token. */
  zeroExperts: number;
}

/**
 * Max, min, mean, max/mean imbalance and count of empty experts.
 * @throws {RangeError} on an empty, negative or non-finite load vector, or an all-zero one.
 * @example summarizeLoads([1, 3]) // => { maxLoad: 3, minLoad: 1, meanLoad: 2, imbalance: 1.5, zeroExperts: 0 }
 */
export function summarizeLoads(loads: ArrayLike<number>): LoadSummary {
  const arr = Array.from(requireNumberArray("loads", loads, { min: 0 }));
  const maxLoad = ss.max(arr);
  if (maxLoad === 0) throw new RangeError("loads must not be all zero (the mean load would be 0)");
  const meanLoad = ss.mean(arr);
  return {
    maxLoad,
    minLoad: ss.min(arr),
    meanLoad,
    imbalance: maxLoad / meanLoad,
    zeroExperts: arr.filter((x) => x === 0).length,
  };
}

/** What the lab note's rebalance did. */
export interface CapRebalanceResult {
  /** Loads after capping and redistributing, `[numExperts]` (fractional). */
  loads: number[];
  /** The cap: `capFactor` x mean load. */
  cap: number;
  /** Tokens removed from capped experts. */
  overflow: number;
  /** Experts that were below `idleThreshold` x mean and received the overflow. */
  idleExperts: number[];
  /** Tokens added to each idle expert. */
  sharePerIdleExpert: number;
  /** Tokens that vanished because no expert was idle (the note silently drops them). */
  lostTokens: number;
}

/**
 * The lab note's "EPLB": cap every expert at `capFactor` x mean, then spread the overflow evenly
 * over the experts below `idleThreshold` x mean. Not physically possible (a token routed to
 * expert A cannot be computed by expert B) and not what EPLB does: see notebooks/03-eplb.ipynb.
 * Arithmetic follows the Python in order (left-to-right sums), so results match it bit for bit.
 * @example capAndRedistribute([10, 0, 2], 1.2, 0.5).loads // => [4.8, 5.2, 2]
 */
export function capAndRedistribute(loads: ArrayLike<number>, capFactor = 1.2, idleThreshold = 0.5): CapRebalanceResult {
  const arr = Array.from(requireNumberArray("loads", loads, { min: 0 }));
  requireNumber("capFactor", capFactor, { min: 0, minExclusive: true });
  requireNumber("idleThreshold", idleThreshold, { min: 0 });
  const mean = ss.mean(arr);
  const cap = mean * capFactor;
  let overflow = 0;
  for (const l of arr) overflow += Math.max(0, l - cap);
  const capped = arr.map((l) => Math.min(l, cap));
  const idleExperts: number[] = [];
  capped.forEach((l, i) => {
    if (l < mean * idleThreshold) idleExperts.push(i);
  });
  const sharePerIdleExpert = overflow / Math.max(idleExperts.length, 1);
  for (const i of idleExperts) capped[i] += sharePerIdleExpert;
  return { loads: capped, cap, overflow, idleExperts, sharePerIdleExpert, lostTokens: idleExperts.length ? 0 : overflow };
}

/**
 * The lab note's throughput model: tokens per unit of the slowest expert's work.
 * "Normalized throughput" = numTokens / maxLoad.
 * @example normalizedThroughput(10000, 341) // => 29.325513196480937
 */
export function normalizedThroughput(numTokens: number, maxLoad: number): number {
  requireNumber("numTokens", numTokens, { min: 0 });
  requireNumber("maxLoad", maxLoad, { min: 0, minExclusive: true });
  return numTokens / maxLoad;
}

/** Everything the lab note prints, unrounded (the keys of `moe-lab labnote --json`). */
export interface LabNoteResult extends LoadSummary {
  eplbMaxLoad: number;
  eplbImbalance: number;
  /** Percent reduction of the max load: (max - eplbMax) / max x 100. */
  maxLoadImprovement: number;
  baselineThroughput: number;
  eplbThroughput: number;
  speedup: number;
  /** Per-expert baseline loads, `[numExperts]`. */
  loads: number[];
}

/**
 * Runs the whole lab note: route, count, summarise, rebalance, model throughput.
 * @param rng the random stream; `createPythonRandom(params.seed)` replays the note's Python.
 * @example runLabNote(LAB_NOTE_DEFAULTS, createPythonRandom(42)).maxLoad // => 341
 */
export function runLabNote(params: Partial<LabNoteParams>, rng: Rng): LabNoteResult {
  const p = validateLabNoteParams(params);
  const route = routeBiasedTop1(rng, p.numTokens, p.numExperts, p.hotExperts, p.hotFraction);
  const loads = countLoads(route, p.numExperts);
  const base = summarizeLoads(loads);
  const eplb = capAndRedistribute(loads, p.capFactor, p.idleThreshold);
  const eplbMaxLoad = ss.max(eplb.loads);
  const baselineThroughput = normalizedThroughput(p.numTokens, base.maxLoad);
  const eplbThroughput = normalizedThroughput(p.numTokens, eplbMaxLoad);
  return {
    ...base,
    eplbMaxLoad,
    eplbImbalance: eplbMaxLoad / base.meanLoad,
    maxLoadImprovement: ((base.maxLoad - eplbMaxLoad) / base.maxLoad) * 100,
    baselineThroughput,
    eplbThroughput,
    speedup: eplbThroughput / baselineThroughput,
    loads,
  };
}

/**
 * Formats `x` with `digits` decimals exactly as Python's `format(x, ".Nf")`: the exact binary
 * value is rounded, ties to even (JavaScript's `toFixed` rounds exact ties up instead).
 * @example formatFixed(0.125, 2) // => "0.12" (toFixed gives "0.13")
 */
export function formatFixed(x: number, digits: number): string {
  requireNumber("x", x);
  requireInteger("digits", digits, { min: 0, max: 20 });
  const s = x.toFixed(digits);
  // A tie needs x * 10^digits to be exactly k + 1/2; detect it with exact BigInt arithmetic.
  const [mant, exp2] = exactBinary(Math.abs(x));
  // |x| * 10^d * 2 = mant * 10^d * 2 * 2^exp2: a tie when that is an odd integer.
  let num = mant * 10n ** BigInt(digits) * 2n;
  if (exp2 >= 0) num <<= BigInt(exp2);
  else {
    const div = 1n << BigInt(-exp2);
    if (num % div !== 0n) return s;
    num /= div;
  }
  if (num % 2n === 0n) return s; // not a tie
  const floor = (num - 1n) / 2n; // |x| * 10^d = floor + 0.5
  const even = floor % 2n === 0n ? floor : floor + 1n;
  const digitsStr = even.toString().padStart(digits + 1, "0");
  const body = digits === 0 ? digitsStr : `${digitsStr.slice(0, -digits)}.${digitsStr.slice(-digits)}`;
  return (x < 0 || Object.is(x, -0) ? "-" : "") + body;
}

/** |x| = mantissa * 2^exponent exactly, for finite x. */
function exactBinary(x: number): [bigint, number] {
  if (x === 0) return [0n, 0];
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return [mant, -1074];
  mant |= 1n << 52n;
  return [mant, biased - 1075];
}

/**
 * The lab note's three printed blocks, line for line.
 * @example formatLabNote(runLabNote(LAB_NOTE_DEFAULTS, createPythonRandom(42)), LAB_NOTE_DEFAULTS).split("\n")[0]
 * // => "=== Baseline (no EPLB) ==="
 */
export function formatLabNote(r: LabNoteResult, params: Pick<LabNoteParams, "numTokens" | "numExperts">): string {
  return [
    "=== Baseline (no EPLB) ===",
    `Total tokens: ${params.numTokens}`,
    `Num experts: ${params.numExperts}`,
    `Max load (hot expert): ${r.maxLoad} tokens`,
    `Min load (cold expert): ${r.minLoad} tokens`,
    `Mean load: ${formatFixed(r.meanLoad, 1)} tokens`,
    `Imbalance ratio (max/mean): ${formatFixed(r.imbalance, 2)}x`,
    `Experts with 0 tokens: ${r.zeroExperts}`,
    "",
    "=== After EPLB (simulated) ===",
    `Max load: ${formatFixed(r.eplbMaxLoad, 1)} tokens`,
    `Imbalance ratio: ${formatFixed(r.eplbImbalance, 2)}x`,
    `Improvement in max load: ${formatFixed(r.maxLoadImprovement, 1)}%`,
    "",
    "=== Throughput impact (theoretical model) ===",
    `Baseline normalized throughput: ${formatFixed(r.baselineThroughput, 2)}`,
    `EPLB normalized throughput: ${formatFixed(r.eplbThroughput, 2)}`,
    `Speedup: ${formatFixed(r.speedup, 2)}x (${formatFixed((r.speedup - 1) * 100, 0)}% improvement)`,
    "",
  ].join("\n");
}
