/**
 * EPLB over time: routing drifts, placements go stale. A stream of per-step expert loads whose
 * popularity changes (gradually or suddenly), replayed under vLLM's scheme: a sliding window of
 * the last `windowSteps` steps' loads and a rebalance every `rebalanceInterval` steps (vLLM's
 * defaults: 1000 and 3000). Reports balancedness per step and what each rebalance moves (expert
 * weights copied to a GPU that did not hold them, and their bytes).
 * Introduced in notebooks/04-eplb-over-time.ipynb.
 */
import type { Rng } from "./rng";
import { describeValue, requireInteger, requireMatrix, requireNumber, requireOneOf } from "./validate";
import { rebalanceExperts, initialPlacement, validateEplbParams } from "./eplb";

/** How popularity changes over the stream. */
export type DriftKind = "gradual" | "sudden";

/** Options of `driftingLoads`. */
export interface DriftOptions {
  numExperts: number;
  numSteps: number;
  /** Tokens routed per step (all experts together). */
  tokensPerStep: number;
  /** Zipf exponent of popularity (expert of rank r gets weight 1/r^exponent). */
  exponent: number;
  /** "gradual": popularity blends linearly from ranking A to ranking B; "sudden": switches at `shiftStep`. */
  kind: DriftKind;
  /** Step of the sudden switch (default numSteps / 2). */
  shiftStep?: number;
  /** Relative per-step noise on each expert's load, in [0, 1) (default 0.1). */
  noise?: number;
}

function shuffledRanks(rng: Rng, n: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.randint(0, i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/**
 * A stream of per-step expert loads with drifting popularity: two random Zipf rankings A and B
 * of the experts; step t uses (1 - a) A + a B, with a = t / (steps - 1) (gradual) or a = 0 before
 * `shiftStep` and 1 from it (sudden); each load gets multiplicative noise.
 * @returns `[numSteps][numExperts]` loads (tokens, fractional).
 * @throws {RangeError} on bad counts, a negative exponent, noise outside [0, 1) or a bad kind.
 * @example driftingLoads(createRng(1), { numExperts: 4, numSteps: 2, tokensPerStep: 100, exponent: 1, kind: "sudden" }).length // => 2
 */
export function driftingLoads(rng: Rng, options: DriftOptions): Float64Array[] {
  if (!rng || typeof rng.random !== "function") throw new TypeError(`rng must be an Rng, got ${describeValue(rng)}`);
  if (!options || typeof options !== "object") throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const E = requireInteger("numExperts", options.numExperts, { min: 1 });
  const T = requireInteger("numSteps", options.numSteps, { min: 1 });
  const tokens = requireNumber("tokensPerStep", options.tokensPerStep, { min: 0 });
  const s = requireNumber("exponent", options.exponent, { min: 0 });
  const kind = requireOneOf("kind", options.kind, ["gradual", "sudden"] as const);
  const shift = requireInteger("shiftStep", options.shiftStep ?? Math.floor(T / 2), { min: 0, max: T });
  const noise = requireNumber("noise", options.noise ?? 0.1, { min: 0, max: 1, maxExclusive: true });
  const zipf = new Float64Array(E);
  let total = 0;
  for (let r = 0; r < E; r++) total += zipf[r] = Math.pow(r + 1, -s);
  const rankA = shuffledRanks(rng, E);
  const rankB = shuffledRanks(rng, E);
  const out: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const a = kind === "gradual" ? (T === 1 ? 0 : t / (T - 1)) : t >= shift ? 1 : 0;
    const row = new Float64Array(E);
    for (let e = 0; e < E; e++) {
      const p = ((1 - a) * zipf[rankA[e]] + a * zipf[rankB[e]]) / total;
      row[e] = tokens * p * (1 + noise * (2 * rng.random() - 1));
    }
    out.push(row);
  }
  return out;
}

/** Options of `simulateEplbOverTime`. */
export interface OverTimeOptions {
  numReplicas: number;
  numGroups: number;
  numNodes: number;
  numGpus: number;
  /** Steps of load history the rebalance sees (vLLM default 1000). */
  windowSteps?: number;
  /** Steps between rebalances (vLLM default 3000). */
  rebalanceInterval?: number;
  /** Bytes of one expert's weights (e.g. `expertBytes(model, "fp8")` from lib/params). Default 0. */
  expertBytes?: number;
}

/** What one rebalance changed. */
export interface RebalanceEvent {
  /** Step at which the new placement takes effect. */
  step: number;
  /** Slots whose logical expert changed. */
  changedSlots: number;
  /** Changed slots whose new expert was not already on that GPU: weights to copy in. */
  copiedExperts: number;
  /** copiedExperts x expertBytes. */
  bytesMoved: number;
}

/** The replay of a load stream under periodic rebalancing. */
export interface OverTimeResult {
  /** Balancedness (mean/max per-GPU load) of each step under the live placement, `[steps]`. */
  balancedness: number[];
  /** The same under vLLM's initial layout, never rebalanced, `[steps]`. */
  staticBalancedness: number[];
  /** One entry per rebalance, in order. */
  rebalances: RebalanceEvent[];
  /** Mean of `balancedness` over all steps. */
  meanBalancedness: number;
  /** Mean of `staticBalancedness`. */
  meanStaticBalancedness: number;
}

function stepBalancedness(load: ArrayLike<number>, phy2log: ArrayLike<number>, cnt: Int32Array, gpuLoad: Float64Array, perGpu: number): number {
  gpuLoad.fill(0);
  for (let s = 0; s < phy2log.length; s++) gpuLoad[(s / perGpu) | 0] += load[phy2log[s]] / cnt[phy2log[s]];
  let sum = 0;
  let max = 0;
  for (let g = 0; g < gpuLoad.length; g++) {
    sum += gpuLoad[g];
    if (gpuLoad[g] > max) max = gpuLoad[g];
  }
  return max === 0 ? 1 : sum / gpuLoad.length / max;
}

function counts(phy2log: ArrayLike<number>, numExperts: number): Int32Array {
  const c = new Int32Array(numExperts);
  for (let s = 0; s < phy2log.length; s++) c[phy2log[s]]++;
  return c;
}

/**
 * Replays per-step loads of one layer: the placement starts as vLLM's initial layout; at every
 * step t > 0 with t % rebalanceInterval == 0, EPLB runs on the sum of the last `windowSteps`
 * steps and its placement serves from step t on.
 * @param loads `[steps][experts]` tokens per expert per step (e.g. from `driftingLoads`).
 * @throws {RangeError} on bad loads or parameters (as `rebalanceExperts`), window/interval < 1.
 * @example simulateEplbOverTime([[3, 1], [3, 1], [3, 1]], { numReplicas: 4, numGroups: 1, numNodes: 1, numGpus: 2, windowSteps: 1, rebalanceInterval: 1 }).rebalances.length // => 2
 */
export function simulateEplbOverTime(loads: ArrayLike<number>[], options: OverTimeOptions): OverTimeResult {
  const { rows: T, cols: E } = requireMatrix("loads", loads, { min: 0 });
  if (!options || typeof options !== "object") throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const p = validateEplbParams(E, options);
  const window = requireInteger("windowSteps", options.windowSteps ?? 1000, { min: 1 });
  const interval = requireInteger("rebalanceInterval", options.rebalanceInterval ?? 3000, { min: 1 });
  const expertBytes = requireNumber("expertBytes", options.expertBytes ?? 0, { min: 0 });
  const perGpu = p.numReplicas / p.numGpus;
  const gpuLoad = new Float64Array(p.numGpus);
  const initial = initialPlacement(E, p.numReplicas);
  const initialCnt = counts(initial, E);
  let live: number[] = initial;
  let liveCnt = initialCnt;
  const windowSum = new Float64Array(E);
  const balancedness: number[] = [];
  const staticBalancedness: number[] = [];
  const rebalances: RebalanceEvent[] = [];
  for (let t = 0; t < T; t++) {
    if (t > 0 && t % interval === 0) {
      const next = rebalanceExperts([windowSum], p.numReplicas, p.numGroups, p.numNodes, p.numGpus).phy2log[0];
      let changedSlots = 0;
      let copiedExperts = 0;
      for (let s = 0; s < next.length; s++) {
        if (next[s] === live[s]) continue;
        changedSlots++;
        const g = (s / perGpu) | 0;
        let present = false;
        for (let k = g * perGpu; k < (g + 1) * perGpu; k++) if (live[k] === next[s]) present = true;
        if (!present) copiedExperts++;
      }
      rebalances.push({ step: t, changedSlots, copiedExperts, bytesMoved: copiedExperts * expertBytes });
      live = next;
      liveCnt = counts(live, E);
    }
    const row = loads[t];
    balancedness.push(stepBalancedness(row, live, liveCnt, gpuLoad, perGpu));
    staticBalancedness.push(stepBalancedness(row, initial, initialCnt, gpuLoad, perGpu));
    // Sliding window of the last `window` steps (including this one).
    for (let e = 0; e < E; e++) windowSum[e] += row[e];
    if (t - window >= 0) for (let e = 0; e < E; e++) windowSum[e] = Math.max(0, windowSum[e] - loads[t - window][e]);
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  return { balancedness, staticBalancedness, rebalances, meanBalancedness: mean(balancedness), meanStaticBalancedness: mean(staticBalancedness) };
}
