/**
 * Routing models: which experts each token goes to, from the lab note's toy router to what real
 * MoE routers do. Every router is seeded (an `Rng` passed in) and returns the same `Routing`.
 *
 * - `routeBiased`: the lab note's hot-set coin flip, generalised to top-k.
 * - `routePopularity`: k distinct experts per token from a popularity distribution (uniform, Zipf,
 *   given weights), by alias sampling with rejection of repeats: cost per token independent of
 *   the number of experts.
 * - `routeGating`: logits = expert bias + temperature x Gaussian noise, softmax, top-k with
 *   renormalised gates; optional DeepSeek-V3 group-limited routing.
 * - `applyCapacity`: a per-expert capacity (GShard/Switch capacity factor); drop or re-route.
 * - `switchAuxLoss`, `simulateBiasBalancing`: load-balancing pressure (Switch's auxiliary loss,
 *   DeepSeek-V3's auxiliary-loss-free bias).
 * - `routeLayers`: L MoE layers with per-layer skew, giving the `[layers][experts]` load matrix
 *   that EPLB consumes.
 *
 * Introduced in notebooks/02-routing-models.ipynb.
 */
import type { Rng } from "./rng";
import { routeBiasedTop1 } from "./labnote";
import { describeValue, requireInteger, requireNumber, requireNumberArray, requireOneOf } from "./validate";

/** The result of every router: each token's experts, their gates and the per-expert loads. */
export interface Routing {
  /** Tokens routed. */
  numTokens: number;
  /** Logical experts. */
  numExperts: number;
  /** Experts per token. */
  topK: number;
  /**
   * Chosen experts, token-major `[numTokens * topK]`: `experts[t * topK + j]` is token t's j-th
   * choice (best first for gating routers, draw order otherwise); -1 where a capacity limit
   * dropped the assignment.
   */
  experts: Int32Array;
  /** Gate weights `[numTokens * topK]` (each token's sum to 1 before drops); null for routers without gates. */
  gates: Float32Array | null;
  /** Load (tokens) of each expert, `[numExperts]`; dropped assignments excluded. */
  loads: number[];
  /** Assignments dropped by a capacity limit (0 without one). */
  dropped: number;
  /** Assignments moved to a later choice by a capacity limit (0 without one). */
  rerouted: number;
  /** Spare choices per token after the top k, for re-routing (0 unless asked for). */
  numSpare: number;
  /** Spare choices, `[numTokens * numSpare]`, in preference order, distinct from the token's top k; -1 once used by a re-route. */
  spare: Int32Array;
}

/** A gating routing: a `Routing` plus the mean router probability of each expert. */
export interface GatingRouting extends Routing {
  /** Mean softmax probability of each expert over the tokens, `[numExperts]`; null unless `withRouterProbs`. */
  routerProbMean: number[] | null;
}

// ---------------------------------------------------------------------------------------------
// Shared checks and helpers
// ---------------------------------------------------------------------------------------------

function requireRng(rng: unknown): Rng {
  const r = rng as Rng | null | undefined;
  if (!r || typeof r.random !== "function" || typeof r.randint !== "function") {
    throw new TypeError(`rng must be an Rng (random(), randint(a, b)), e.g. createRng(seed), got ${describeValue(rng)}`);
  }
  return r;
}

function requireOptions<T>(name: string, options: unknown): T {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${name} must be an options object, got ${describeValue(options)}`);
  }
  return options as T;
}

/** Validates numTokens, numExperts, topK and numSpare (k + spare <= pool). */
function requireShape(o: { numTokens: unknown; numExperts: unknown; topK: unknown; numSpare?: unknown }, minExperts = 1) {
  const numTokens = requireInteger("numTokens", o.numTokens, { min: 0 });
  const numExperts = requireInteger("numExperts", o.numExperts, { min: minExperts });
  const topK = requireInteger("topK", o.topK, { min: 1, max: numExperts });
  const numSpare = requireInteger("numSpare", o.numSpare ?? 0, { min: 0, max: numExperts - topK });
  return { numTokens, numExperts, topK, numSpare };
}

/** Counts tokens per expert from a flat expert list (-1 entries skipped). */
function countExpertLoads(experts: Int32Array, numExperts: number): number[] {
  const counts = new Int32Array(numExperts);
  for (let i = 0; i < experts.length; i++) {
    const e = experts[i];
    if (e >= 0) counts[e]++;
  }
  return Array.from(counts);
}

/** Splits a token-major list of `numChoices` per token into top k and spare. */
function splitChoices(
  choices: Int32Array,
  numTokens: number,
  topK: number,
  numSpare: number,
): { experts: Int32Array; spare: Int32Array } {
  if (numSpare === 0) return { experts: choices, spare: new Int32Array(0) };
  const c = topK + numSpare;
  const experts = new Int32Array(numTokens * topK);
  const spare = new Int32Array(numTokens * numSpare);
  for (let t = 0; t < numTokens; t++) {
    for (let j = 0; j < topK; j++) experts[t * topK + j] = choices[t * c + j];
    for (let j = 0; j < numSpare; j++) spare[t * numSpare + j] = choices[t * c + topK + j];
  }
  return { experts, spare };
}

function makeRouting(
  numTokens: number,
  numExperts: number,
  topK: number,
  numSpare: number,
  choices: Int32Array,
  gates: Float32Array | null,
): Routing {
  const { experts, spare } = splitChoices(choices, numTokens, topK, numSpare);
  return { numTokens, numExperts, topK, experts, gates, loads: countExpertLoads(experts, numExperts), dropped: 0, rerouted: 0, numSpare, spare };
}

// ---------------------------------------------------------------------------------------------
// The lab note's router, top-k
// ---------------------------------------------------------------------------------------------

/** Options of `routeBiased`. */
export interface BiasedOptions {
  numTokens: number;
  numExperts: number;
  /** Distinct experts per token (default 1: the lab note). */
  topK?: number;
  /** Experts 0..hotExperts-1 form the hot set. */
  hotExperts: number;
  /** Probability that a draw goes to the hot set. */
  hotFraction: number;
  /** Extra distinct choices per token kept for re-routing (default 0). */
  numSpare?: number;
}

/**
 * The lab note's biased router generalised to top-k: each token makes lab-note draws (hot set
 * with probability `hotFraction`, else the cold rest, uniform inside each) until it has `topK`
 * distinct experts; repeats are rejected. With `topK` 1 the draws are exactly
 * `routeBiasedTop1`'s (same stream, same order), so `createPythonRandom(42)` replays the note.
 * @param rng the random stream.
 * @param options numTokens (>= 0), numExperts (>= 2), topK (1..numExperts, default 1),
 *   hotExperts (1..numExperts-1), hotFraction ([0, 1]), numSpare (default 0).
 * @returns a `Routing` with `gates` null.
 * @throws {RangeError} on a bad option, or when topK + numSpare exceeds the experts a draw can reach
 *   (the hot set when hotFraction is 1, the cold rest when it is 0).
 * @example routeBiased(createPythonRandom(42), { numTokens: 10000, numExperts: 128, hotExperts: 20, hotFraction: 0.6 }).loads[0]
 * // => 279 (and max(loads) is the lab note's 341)
 */
export function routeBiased(rng: Rng, options: BiasedOptions): Routing {
  requireRng(rng);
  const o = requireOptions<BiasedOptions>("options", options);
  const { numTokens, numExperts, topK, numSpare } = requireShape({ ...o, topK: o.topK ?? 1 }, 2);
  const hotExperts = requireInteger("hotExperts", o.hotExperts, { min: 1, max: numExperts - 1 });
  const hotFraction = requireNumber("hotFraction", o.hotFraction, { min: 0, max: 1 });
  const c = topK + numSpare;
  const reachable = hotFraction === 1 ? hotExperts : hotFraction === 0 ? numExperts - hotExperts : numExperts;
  if (c > reachable) {
    throw new RangeError(
      `topK + numSpare must be <= ${reachable} (the experts reachable with hotFraction ${hotFraction}), got ${c}`,
    );
  }
  // A stream of lab-note draws: first exactly one per needed choice, then refills for repeats.
  let buffer = routeBiasedTop1(rng, numTokens * c, numExperts, hotExperts, hotFraction);
  let pos = 0;
  const next = (): number => {
    if (pos === buffer.length) {
      buffer = routeBiasedTop1(rng, 256, numExperts, hotExperts, hotFraction);
      pos = 0;
    }
    return buffer[pos++];
  };
  const choices = new Int32Array(numTokens * c);
  for (let t = 0; t < numTokens; t++) {
    const base = t * c;
    for (let j = 0; j < c; j++) {
      let e = next();
      while (indexOf(choices, base, base + j, e)) e = next();
      choices[base + j] = e;
    }
  }
  return makeRouting(numTokens, numExperts, topK, numSpare, choices, null);
}

/** True when `e` occurs in `arr[from..to)`. */
function indexOf(arr: Int32Array, from: number, to: number, e: number): boolean {
  for (let i = from; i < to; i++) if (arr[i] === e) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Popularity routing
// ---------------------------------------------------------------------------------------------

/** How popular each expert is: all equal, Zipf (expert i has weight 1/(i+1)^exponent), or given. */
export type Popularity =
  | { kind: "uniform" }
  | { kind: "zipf"; exponent: number }
  | { kind: "weights"; weights: ArrayLike<number> };

/**
 * The probability of each expert under a popularity model (sums to 1). Zipf makes expert 0 the
 * hottest; exponent 0 is uniform, about 1 is word-frequency-like skew.
 * @param numExperts number of experts (>= 1).
 * @param popularity `{kind: "uniform"}`, `{kind: "zipf", exponent >= 0}` or `{kind: "weights", weights}`
 *   (`[numExperts]`, each >= 0, not all 0).
 * @returns probabilities, `[numExperts]`.
 * @throws {RangeError} on a negative/NaN weight, all-zero weights, a length mismatch or a negative exponent.
 * @example popularityWeights(3, { kind: "weights", weights: [2, 1, 1] }) // => [0.5, 0.25, 0.25]
 */
export function popularityWeights(numExperts: number, popularity: Popularity): number[] {
  requireInteger("numExperts", numExperts, { min: 1 });
  const p = requireOptions<Popularity>("popularity", popularity);
  const kind = requireOneOf("popularity.kind", p.kind, ["uniform", "zipf", "weights"] as const);
  let w: number[];
  if (kind === "uniform") w = new Array<number>(numExperts).fill(1);
  else if (kind === "zipf") {
    const s = requireNumber("popularity.exponent", (p as { exponent: unknown }).exponent, { min: 0 });
    w = [];
    for (let i = 0; i < numExperts; i++) w.push(Math.pow(i + 1, -s));
  } else {
    const given = requireNumberArray("popularity.weights", (p as { weights: unknown }).weights, { min: 0 });
    if (given.length !== numExperts) {
      throw new RangeError(`popularity.weights must have numExperts = ${numExperts} items, got ${given.length}`);
    }
    w = Array.from(given);
  }
  let total = 0;
  for (const x of w) total += x;
  if (!(total > 0)) throw new RangeError("popularity.weights must not be all zero (at least one expert needs a positive weight)");
  return w.map((x) => x / total);
}

/**
 * The same popularity values dealt to the experts in a random order (Fisher-Yates): real models'
 * hot experts are scattered over the expert ids, not numbered 0, 1, 2...
 * @param rng the random stream.
 * @param weights `[numExperts]` popularity (>= 0), e.g. from `popularityWeights`; not modified.
 * @returns a permutation of `weights`, `[numExperts]`.
 * @throws {RangeError} on negative or NaN weights.
 * @example shufflePopularity(createRng(1), [0.5, 0.3, 0.15, 0.05]) // => [0.5, 0.15, 0.05, 0.3]
 */
export function shufflePopularity(rng: Rng, weights: ArrayLike<number>): number[] {
  requireRng(rng);
  const out = Array.from(requireNumberArray("weights", weights, { min: 0 }));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.random() * (i + 1));
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

/** Walker/Vose alias table: one uniform draw picks an expert in O(1). */
export interface AliasTable {
  /** Probability of keeping column i, `[n]`. */
  prob: Float64Array;
  /** The other expert of column i, `[n]`. */
  alias: Int32Array;
}

/**
 * Builds a Walker/Vose alias table for sampling index i with probability weights[i] / sum.
 * Sample: u = random() x n, i = floor(u), take i if u - i < prob[i], else alias[i].
 * @param weights `[n]`, each >= 0, not all 0.
 * @throws {RangeError} on negative/NaN weights or all-zero weights.
 * @example buildAliasTable([1, 3]) // => { prob: Float64Array [0.5, 1], alias: Int32Array [1, 1] }
 */
export function buildAliasTable(weights: ArrayLike<number>): AliasTable {
  const w = requireNumberArray("weights", weights, { min: 0 });
  const n = w.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += w[i];
  if (!(total > 0)) throw new RangeError("weights must not be all zero (at least one positive weight is needed)");
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = (w[i] * n) / total;
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = n - 1; i >= 0; i--) (scaled[i] < 1 ? small : large).push(i);
  while (small.length && large.length) {
    const s = small.pop() as number;
    const l = large.pop() as number;
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    (scaled[l] < 1 ? small : large).push(l);
  }
  for (const i of large) {
    prob[i] = 1;
    alias[i] = i;
  }
  for (const i of small) {
    // Only round-off leaves items here; they are (numerically) full columns.
    prob[i] = 1;
    alias[i] = i;
  }
  return { prob, alias };
}

/** Options of `routePopularity`. */
export interface PopularityOptions {
  numTokens: number;
  numExperts: number;
  topK: number;
  popularity: Popularity;
  /** Extra distinct choices per token kept for re-routing (default 0). */
  numSpare?: number;
}

/**
 * Popularity routing: each token draws `topK` distinct experts from a popularity distribution
 * (sequential sampling without replacement). Alias sampling with rejection of repeats: one
 * uniform per draw (from `createFastStream(rng)`), so the cost per token does not grow with the
 * number of experts. A
 * token that keeps drawing repeats (extreme weights) finishes by an exact scan over the experts
 * it does not have yet, which samples the same distribution.
 * @param rng the random stream.
 * @param options numTokens (>= 0), numExperts (>= 1), topK (1..numExperts), popularity
 *   (see `popularityWeights`), numSpare (default 0).
 * @returns a `Routing` with `gates` null.
 * @throws {RangeError} on a bad option, or when fewer than topK + numSpare experts have a positive weight.
 * @example routePopularity(createRng(1), { numTokens: 2, numExperts: 4, topK: 2, popularity: { kind: "uniform" } }).loads
 * // => [2, 1, 0, 1] (deterministic for seed 1)
 */
export function routePopularity(rng: Rng, options: PopularityOptions): Routing {
  requireRng(rng);
  const o = requireOptions<PopularityOptions>("options", options);
  const { numTokens, numExperts, topK, numSpare } = requireShape(o);
  const probs = popularityWeights(numExperts, o.popularity);
  const c = topK + numSpare;
  let positive = 0;
  for (const x of probs) if (x > 0) positive++;
  if (positive < c) {
    throw new RangeError(`popularity.weights must have at least topK + numSpare = ${c} positive items, got ${positive}`);
  }
  const { prob, alias } = buildAliasTable(probs);
  const n = numExperts;
  const maxRejects = 32 * c + 64;
  const stream = createFastStream(rng);
  const uniforms = new Float64Array(4096);
  let pos = uniforms.length;
  const choices = new Int32Array(numTokens * c);
  for (let t = 0; t < numTokens; t++) {
    const base = t * c;
    let rejects = 0;
    for (let j = 0; j < c; j++) {
      let e = -1;
      while (e < 0) {
        if (pos === uniforms.length) {
          stream.fillUniform(uniforms, uniforms.length);
          pos = 0;
        }
        const u = uniforms[pos++];
        if (rejects > maxRejects) {
          e = exactDraw(u, probs, choices, base, base + j);
          break;
        }
        const x = u * n;
        const i = x | 0;
        const cand = x - i < prob[i] ? i : alias[i];
        let seen = false;
        for (let q = base; q < base + j; q++) {
          if (choices[q] === cand) {
            seen = true;
            break;
          }
        }
        if (seen) rejects++;
        else e = cand;
      }
      choices[base + j] = e;
    }
  }
  return makeRouting(numTokens, numExperts, topK, numSpare, choices, null);
}

/** Draws one expert by a linear scan over the probabilities, excluding `taken[from..to)`, from one uniform in [0, 1). */
function exactDraw(uniform: number, probs: number[], taken: Int32Array, from: number, to: number): number {
  let rest = 0;
  let last = -1;
  for (let e = 0; e < probs.length; e++) {
    if (probs[e] > 0 && !indexOf(taken, from, to, e)) {
      rest += probs[e];
      last = e;
    }
  }
  let u = uniform * rest;
  for (let e = 0; e < probs.length; e++) {
    if (probs[e] > 0 && !indexOf(taken, from, to, e)) {
      u -= probs[e];
      if (u < 0) return e;
    }
  }
  return last;
}

// ---------------------------------------------------------------------------------------------
// Gating routing
// ---------------------------------------------------------------------------------------------

/** A fast stream of random numbers, seeded from an `Rng`; filled in blocks for speed. */
export interface FastStream {
  /** Writes `count` uniform numbers in [0, 1) (32-bit resolution) into `out[0..count)`. */
  fillUniform(out: Float64Array, count: number): void;
  /** Writes `count` standard normal numbers, N(0, 1), into `out[0..count)`. */
  fillNormal(out: Float64Array, count: number): void;
}

const ZIG_LAYERS = 128;
const ZIG_R = 3.442619855899; // start of the tail of the 128-layer ziggurat
const ZIG_V = 9.91256303526217e-3; // area of each layer
const ZIG_M = 16777216; // 2^24: the magnitude bits of a draw

/** The 128-layer ziggurat tables of Marsaglia & Tsang (2000) for N(0, 1), magnitudes scaled to 2^24. */
function zigguratTables(): { k: Int32Array; w: Float64Array; f: Float64Array } {
  const k = new Int32Array(ZIG_LAYERS);
  const w = new Float64Array(ZIG_LAYERS);
  const f = new Float64Array(ZIG_LAYERS);
  let dn = ZIG_R;
  let tn = dn;
  const q = ZIG_V / Math.exp(-0.5 * dn * dn);
  k[0] = Math.floor((dn / q) * ZIG_M);
  k[1] = 0;
  w[0] = q / ZIG_M;
  w[ZIG_LAYERS - 1] = dn / ZIG_M;
  f[0] = 1;
  f[ZIG_LAYERS - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = ZIG_LAYERS - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(ZIG_V / dn + Math.exp(-0.5 * dn * dn)));
    k[i + 1] = Math.floor((dn / tn) * ZIG_M);
    tn = dn;
    f[i] = Math.exp(-0.5 * dn * dn);
    w[i] = dn / ZIG_M;
  }
  return { k, w, f };
}

/** One xoshiro128** step on the state `s`, as a uniform number in (0, 1). */
function xoshiroOpen01(s: Int32Array): number {
  let r = Math.imul(s[1], 5);
  r = Math.imul((r << 7) | (r >>> 25), 9);
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 11) | (s[3] >>> 21);
  return ((r >>> 0) + 0.5) / 4294967296;
}

/**
 * The ziggurat's rare case for a draw `x = j x w[layer]` outside its layer's rectangle: in
 * layer 0 a value from the tail beyond ZIG_R (Marsaglia's method, repeated until accepted);
 * otherwise `x` if it falls under the density in the wedge, else NaN (start over).
 */
function zigguratEdge(s: Int32Array, f: Float64Array, layer: number, j: number, x: number): number {
  if (layer === 0) {
    for (;;) {
      const xt = -Math.log(xoshiroOpen01(s)) / ZIG_R;
      const yt = -Math.log(xoshiroOpen01(s));
      if (yt + yt >= xt * xt) return j < 0 ? -(ZIG_R + xt) : ZIG_R + xt;
    }
  }
  return f[layer] + xoshiroOpen01(s) * (f[layer - 1] - f[layer]) < Math.exp(-0.5 * x * x) ? x : NaN;
}

/**
 * A fast stream of uniform and normal numbers: a xoshiro128** generator whose state is four
 * draws of `rng`, and the ziggurat method for normals. Gating needs one normal per token per
 * expert (256 million for a million tokens over 256 experts), far too many for the ARC4 stream
 * of `createRng`; the numbers are still fully determined by the seed of `rng`.
 * @param rng the random stream that seeds this one (four `random()` calls).
 * @example const z = new Float64Array(3); createFastStream(createRng(1)).fillNormal(z, 3);
 * Array.from(z) // => [0.6287484821942654, 0.4349079023652584, -0.2928545129336935] (three N(0, 1) draws)
 */
export function createFastStream(rng: Rng): FastStream {
  requireRng(rng);
  const s = new Int32Array(4);
  for (let i = 0; i < 4; i++) s[i] = Math.floor(rng.random() * 4294967296) | 0;
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  const { k, w, f } = zigguratTables();
  const INV_2_32 = 1 / 4294967296;
  return {
    fillUniform(out: Float64Array, count: number): void {
      let s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
      for (let i = 0; i < count; i++) {
        let r = Math.imul(s1, 5);
        r = Math.imul((r << 7) | (r >>> 25), 9);
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        out[i] = (r >>> 0) * INV_2_32;
      }
      s[0] = s0;
      s[1] = s1;
      s[2] = s2;
      s[3] = s3;
    },
    fillNormal(out: Float64Array, count: number): void {
      let s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
      for (let i = 0; i < count; i++) {
        let x = 0;
        for (;;) {
          let r = Math.imul(s1, 5);
          r = Math.imul((r << 7) | (r >>> 25), 9);
          const t = s1 << 9;
          s2 ^= s0;
          s3 ^= s1;
          s1 ^= s2;
          s0 ^= s3;
          s2 ^= t;
          s3 = (s3 << 11) | (s3 >>> 21);
          const layer = r & 127; // low 7 bits pick the layer
          const j = r >> 7; // the other 25 bits: a signed magnitude in [-2^24, 2^24)
          x = j * w[layer];
          if ((j ^ (j >> 31)) - (j >> 31) < k[layer]) break; // |j| inside the layer's rectangle: ~97% of draws
          // Rare: the tail or a wedge, decided by exact rejection (kept out of this hot loop).
          s[0] = s0;
          s[1] = s1;
          s[2] = s2;
          s[3] = s3;
          x = zigguratEdge(s, f, layer, j, x);
          s0 = s[0];
          s1 = s[1];
          s2 = s[2];
          s3 = s[3];
          if (x === x) break; // not NaN: accepted
        }
        out[i] = x;
      }
      s[0] = s0;
      s[1] = s1;
      s[2] = s2;
      s[3] = s3;
    },
  };
}

/**
 * Logit biases whose softmax is the given popularity: bias_e = ln(weight_e). A gating router with
 * these biases and low temperature prefers experts as `routePopularity` does.
 * @param weights `[numExperts]`, each > 0.
 * @throws {RangeError} on a weight <= 0 or NaN.
 * @example logitBiasFromWeights([1, Math.E]) // => [0, 1]
 */
export function logitBiasFromWeights(weights: ArrayLike<number>): number[] {
  const w = requireNumberArray("weights", weights, { min: 0, minExclusive: true });
  return Array.from(w, (x) => Math.log(x));
}

/** Options of `routeGating`. */
export interface GatingOptions {
  numTokens: number;
  numExperts: number;
  topK: number;
  /** Scale of the per-token Gaussian noise on the logits (> 0; default 1). Larger = more random routing. */
  temperature?: number;
  /** Learned preference of each expert, added to every token's logits, `[numExperts]` (default all 0). */
  expertBias?: ArrayLike<number>;
  /** DeepSeek-V3's balancing bias, `[numExperts]`: added to the logits for choosing experts only, never to the gates. */
  selectionBias?: ArrayLike<number>;
  /** Expert groups for group-limited routing (default 1: no limit); must divide numExperts. */
  numGroups?: number;
  /** Groups each token may use (1..numGroups; default numGroups). */
  topkGroup?: number;
  /** Extra choices per token (next-best experts) kept for re-routing (default 0). */
  numSpare?: number;
  /** Also return the mean softmax probability of each expert (needed by `switchAuxLoss`; default false). */
  withRouterProbs?: boolean;
}

/**
 * Gating routing, as real MoE routers do: per token, logits_e = expertBias_e + temperature x z_e
 * (z ~ N(0, 1)), softmax over experts, the top `topK` experts, gates renormalised over them.
 * Softmax is monotonic, so the top k are chosen on the logits (plus `selectionBias`) and the
 * renormalised gates need only the chosen logits: gate_j = exp(l_j) / sum over chosen exp(l).
 * With `numGroups` > 1 (DeepSeek-V3 group-limited routing) the experts are split into equal
 * contiguous groups, each group scored by the sum of its two best probabilities, and only the
 * best `topkGroup` groups are eligible. Ties go to the lower expert (or group) index.
 * @param rng the random stream (seeds the noise: see `createFastStream`).
 * @param options see `GatingOptions`.
 * @returns a `GatingRouting`; experts best first.
 * @throws {RangeError} on temperature <= 0, topkGroup > numGroups, numExperts not divisible by
 *   numGroups, topK + numSpare > topkGroup x group size, or bias arrays of the wrong length.
 * @example routeGating(createRng(1), { numTokens: 1000, numExperts: 8, topK: 2 }).loads.reduce((a, b) => a + b) // => 2000
 */
export function routeGating(rng: Rng, options: GatingOptions): GatingRouting {
  requireRng(rng);
  const o = requireOptions<GatingOptions>("options", options);
  const { numTokens, numExperts, topK, numSpare } = requireShape(o);
  const temperature = requireNumber("temperature", o.temperature ?? 1, { min: 0, minExclusive: true });
  const bias = optionalVector("expertBias", o.expertBias, numExperts);
  const selBias = optionalVector("selectionBias", o.selectionBias, numExperts);
  const numGroups = requireInteger("numGroups", o.numGroups ?? 1, { min: 1, max: numExperts });
  if (numExperts % numGroups !== 0) {
    throw new RangeError(`numGroups must divide numExperts = ${numExperts}, got ${numGroups}`);
  }
  const topkGroup = requireInteger("topkGroup", o.topkGroup ?? numGroups, { min: 1, max: numGroups });
  const groupSize = numExperts / numGroups;
  const c = topK + numSpare;
  if (c > topkGroup * groupSize) {
    throw new RangeError(
      `topK + numSpare must be <= topkGroup x experts per group = ${topkGroup * groupSize}, got ${c}`,
    );
  }
  const withProbs = o.withRouterProbs === true;
  const stream = createFastStream(rng);
  const logits = new Float64Array(numExperts);
  const score = new Float64Array(numExperts);
  const bestIdx = new Int32Array(c);
  const bestVal = new Float64Array(c);
  const groupScore = new Float64Array(numGroups);
  const groupIdx = new Int32Array(topkGroup);
  const groupVal = new Float64Array(topkGroup);
  const probSum = withProbs ? new Float64Array(numExperts) : null;
  const choices = new Int32Array(numTokens * c);
  const gates = new Float32Array(numTokens * topK);

  for (let t = 0; t < numTokens; t++) {
    stream.fillNormal(logits, numExperts);
    for (let e = 0; e < numExperts; e++) {
      const l = bias[e] + temperature * logits[e];
      logits[e] = l;
      score[e] = l + selBias[e];
    }
    let count = 0;
    if (numGroups === 1 || topkGroup === numGroups) {
      count = selectTop(score, 0, numExperts, bestIdx, bestVal, count, c);
    } else {
      // Score each group by the sum of its two best probabilities (common softmax factor dropped).
      let maxScore = -Infinity;
      for (let e = 0; e < numExperts; e++) if (score[e] > maxScore) maxScore = score[e];
      for (let g = 0; g < numGroups; g++) {
        let a = -Infinity;
        let b = -Infinity;
        for (let e = g * groupSize; e < (g + 1) * groupSize; e++) {
          const v = score[e];
          if (v > a) {
            b = a;
            a = v;
          } else if (v > b) b = v;
        }
        groupScore[g] = Math.exp(a - maxScore) + (groupSize > 1 ? Math.exp(b - maxScore) : 0);
      }
      const ng = selectTop(groupScore, 0, numGroups, groupIdx, groupVal, 0, topkGroup);
      // Visit chosen groups in ascending order so expert ties still go to the lower index.
      for (let a = 1; a < ng; a++) {
        const g = groupIdx[a];
        let b = a;
        while (b > 0 && groupIdx[b - 1] > g) {
          groupIdx[b] = groupIdx[b - 1];
          b--;
        }
        groupIdx[b] = g;
      }
      for (let a = 0; a < ng; a++) {
        const g = groupIdx[a];
        count = selectTop(score, g * groupSize, (g + 1) * groupSize, bestIdx, bestVal, count, c);
      }
    }
    const base = t * c;
    for (let j = 0; j < c; j++) choices[base + j] = bestIdx[j];
    // Renormalised top-k softmax on the unbiased logits of the chosen experts.
    let m = -Infinity;
    for (let j = 0; j < topK; j++) if (logits[bestIdx[j]] > m) m = logits[bestIdx[j]];
    let z = 0;
    for (let j = 0; j < topK; j++) z += Math.exp(logits[bestIdx[j]] - m);
    for (let j = 0; j < topK; j++) gates[t * topK + j] = Math.exp(logits[bestIdx[j]] - m) / z;
    if (probSum) {
      let mx = -Infinity;
      for (let e = 0; e < numExperts; e++) if (logits[e] > mx) mx = logits[e];
      let s = 0;
      for (let e = 0; e < numExperts; e++) s += score[e] = Math.exp(logits[e] - mx); // score is free now
      const inv = 1 / s;
      for (let e = 0; e < numExperts; e++) probSum[e] += score[e] * inv;
    }
  }
  const routing = makeRouting(numTokens, numExperts, topK, numSpare, choices, gates);
  const routerProbMean = probSum && numTokens > 0 ? Array.from(probSum, (x) => x / numTokens) : null;
  return { ...routing, routerProbMean };
}

/** A bias vector `[n]` or zeros. */
function optionalVector(name: string, v: unknown, n: number): Float64Array {
  if (v === undefined) return new Float64Array(n);
  const arr = requireNumberArray(name, v);
  if (arr.length !== n) throw new RangeError(`${name} must have numExperts = ${n} items, got ${arr.length}`);
  return Float64Array.from(arr);
}

/**
 * Keeps the best `c` of values[from..to) in bestIdx/bestVal (descending, ties: earlier index
 * first), continuing a selection that already holds `count` items. Returns the new count.
 */
function selectTop(
  values: Float64Array,
  from: number,
  to: number,
  bestIdx: Int32Array,
  bestVal: Float64Array,
  count: number,
  c: number,
): number {
  for (let e = from; e < to; e++) {
    const v = values[e];
    if (count === c && !(v > bestVal[c - 1])) continue;
    let p = count < c ? count : c - 1;
    while (p > 0 && v > bestVal[p - 1]) {
      bestVal[p] = bestVal[p - 1];
      bestIdx[p] = bestIdx[p - 1];
      p--;
    }
    bestVal[p] = v;
    bestIdx[p] = e;
    if (count < c) count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Capacity
// ---------------------------------------------------------------------------------------------

/**
 * Expert capacity as in GShard/Switch: ceil(capacityFactor x numTokens x topK / numExperts) tokens.
 * @throws {RangeError} when capacityFactor <= 0 or a count is not a valid integer.
 * @example expertCapacity(1000, 8, 2, 1.25) // => 313
 */
export function expertCapacity(numTokens: number, numExperts: number, topK: number, capacityFactor: number): number {
  requireInteger("numTokens", numTokens, { min: 0 });
  requireInteger("numExperts", numExperts, { min: 1 });
  requireInteger("topK", topK, { min: 1, max: numExperts });
  requireNumber("capacityFactor", capacityFactor, { min: 0, minExclusive: true });
  // Round first so 1.1 x 100 = 110.00000000000001 does not become 111.
  return Math.ceil(+((capacityFactor * numTokens * topK) / numExperts).toPrecision(12));
}

/** Options of `applyCapacity`. */
export interface CapacityOptions {
  /** Capacity per expert as a multiple of the even share (tokens x topK / experts); > 0. */
  capacityFactor: number;
  /** What happens to an assignment over capacity: "drop" it, or "reroute" it to the token's next spare choice with room. */
  overflow: "drop" | "reroute";
}

/**
 * Applies a per-expert capacity to a routing (GShard/Switch). Assignments are admitted choice by
 * choice (every token's first choice, then every token's second...), tokens in order; an
 * assignment finding its expert full is dropped (expert -1, gate 0; the token keeps its other
 * experts, as in Switch the residual carries it) or, with "reroute", moved to the token's first
 * spare choice (`numSpare` of the router) that still has room, keeping its gate (the spare entry
 * becomes -1); with no such spare it is dropped. Re-routing runs after all primary choices, so it never displaces one.
 * @param routing a `Routing` (not modified).
 * @param options capacityFactor (> 0) and overflow ("drop" | "reroute").
 * @returns a new `Routing` with `dropped`, `rerouted` and the capped `loads`.
 * @throws {RangeError} when capacityFactor <= 0 or overflow is not "drop"/"reroute".
 * @example const r = routePopularity(createRng(1), { numTokens: 100, numExperts: 4, topK: 1, numSpare: 3, popularity: { kind: "weights", weights: [4, 2, 1, 1] } });
 * r.loads // => [48, 25, 17, 10] (capacity = ceil(1.0 x 100 x 1 / 4) = 25)
 * applyCapacity(r, { capacityFactor: 1, overflow: "drop" }).loads    // => [25, 25, 17, 10] (23 dropped)
 * applyCapacity(r, { capacityFactor: 1, overflow: "reroute" }).loads // => [25, 25, 25, 25] (23 rerouted)
 */
export function applyCapacity(routing: Routing, options: CapacityOptions): Routing {
  const r = requireRoutingObject(routing);
  const o = requireOptions<CapacityOptions>("options", options);
  const capacityFactor = requireNumber("capacityFactor", o.capacityFactor, { min: 0, minExclusive: true });
  const overflow = requireOneOf("overflow", o.overflow, ["drop", "reroute"] as const);
  const { numTokens, numExperts, topK, numSpare } = r;
  const cap = expertCapacity(numTokens, numExperts, topK, capacityFactor);
  const experts = Int32Array.from(r.experts);
  const gates = r.gates ? Float32Array.from(r.gates) : null;
  const used = new Int32Array(numExperts);
  const over: number[] = [];
  for (let j = 0; j < topK; j++) {
    for (let t = 0; t < numTokens; t++) {
      const i = t * topK + j;
      const e = experts[i];
      if (e < 0) continue;
      if (used[e] < cap) used[e]++;
      else over.push(i);
    }
  }
  let dropped = r.dropped;
  let rerouted = r.rerouted;
  const spare = Int32Array.from(r.spare);
  const nextSpare = new Int32Array(numTokens);
  for (const i of over) {
    const t = (i / topK) | 0;
    let target = -1;
    if (overflow === "reroute") {
      while (nextSpare[t] < numSpare) {
        const at = t * numSpare + nextSpare[t]++;
        const e = spare[at];
        if (e >= 0 && used[e] < cap) {
          target = e;
          spare[at] = -1; // now one of the token's experts
          break;
        }
      }
    }
    if (target >= 0) {
      used[target]++;
      experts[i] = target;
      rerouted++;
    } else {
      experts[i] = -1;
      if (gates) gates[i] = 0;
      dropped++;
    }
  }
  return { ...r, experts, gates, loads: countExpertLoads(experts, numExperts), dropped, rerouted, spare };
}

function requireRoutingObject(routing: unknown): Routing {
  const r = routing as Routing | null;
  if (!r || typeof r !== "object" || !(r.experts instanceof Int32Array) || !Array.isArray(r.loads)) {
    throw new TypeError(`routing must be a Routing (from a route* function), got ${describeValue(routing)}`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Load-balancing pressure
// ---------------------------------------------------------------------------------------------

/**
 * Switch Transformer's auxiliary load-balancing loss: numExperts x sum_i f_i x P_i, where f_i is
 * the fraction of assignments sent to expert i and P_i its mean router probability. 1 when
 * perfectly balanced; grows with skew. Without probabilities, P = f is used (the "hard" loss,
 * numExperts x sum f_i^2 = 1 + CV^2 of the loads).
 * @param loads `[numExperts]` tokens per expert (>= 0, not all 0).
 * @param routerProbMean `[numExperts]` mean router probability per expert (optional).
 * @param coefficient the loss weight alpha (default 1).
 * @throws {RangeError} on negative/NaN items, all-zero loads or a length mismatch.
 * @example switchAuxLoss([3, 1]) // => 1.25
 */
export function switchAuxLoss(loads: ArrayLike<number>, routerProbMean?: ArrayLike<number> | null, coefficient = 1): number {
  const l = requireNumberArray("loads", loads, { min: 0 });
  requireNumber("coefficient", coefficient);
  const n = l.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += l[i];
  if (!(total > 0)) throw new RangeError("loads must not be all zero (the fractions f_i would be undefined)");
  let p: ArrayLike<number>;
  if (routerProbMean === undefined || routerProbMean === null) p = Array.from(l, (x) => x / total);
  else {
    p = requireNumberArray("routerProbMean", routerProbMean, { min: 0 });
    if (p.length !== n) throw new RangeError(`routerProbMean must have ${n} items (one per expert), got ${p.length}`);
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += (l[i] / total) * p[i];
  return coefficient * n * s;
}

/** Options of `simulateBiasBalancing`. */
export interface BiasBalancingOptions {
  /** Tokens routed per step (batch). */
  tokensPerStep: number;
  numExperts: number;
  topK: number;
  /** Steps (batches) simulated. */
  numSteps: number;
  /** Bias update speed gamma (> 0): after each batch, bias_e += gamma x sign(mean load - load_e). */
  updateRate: number;
  /** Noise scale of the gating router (default 1). */
  temperature?: number;
  /** The experts' learned preferences (the skew to fight), `[numExperts]`. */
  expertBias?: ArrayLike<number>;
  numGroups?: number;
  topkGroup?: number;
}

/** What `simulateBiasBalancing` records. */
export interface BiasBalancingResult {
  /** max/mean expert load of each step's batch, `[numSteps]` (routed with the bias before that step's update). */
  imbalance: number[];
  /** Max expert load of each step, `[numSteps]`. */
  maxLoad: number[];
  /** The balancing bias after the last update, `[numExperts]`. */
  bias: number[];
  /** Expert loads of the last step, `[numExperts]`. */
  lastLoads: number[];
}

/**
 * DeepSeek-V3's auxiliary-loss-free balancing, simulated: each step routes a fresh batch with the
 * gating router using the current `selectionBias`, then nudges it by `updateRate` towards balance
 * (overloaded experts down, underloaded up). Gates never see the bias, so routing quality is kept
 * while the imbalance falls over the steps.
 * @param rng the random stream.
 * @param options see `BiasBalancingOptions`.
 * @throws {RangeError} on a bad option (as `routeGating`), numSteps < 1 or updateRate <= 0.
 * @example const expertBias = logitBiasFromWeights(popularityWeights(64, { kind: "zipf", exponent: 1 }));
 * const { imbalance } = simulateBiasBalancing(createRng(1), { tokensPerStep: 4096, numExperts: 64, topK: 8, numSteps: 50, updateRate: 0.05, expertBias });
 * imbalance[0] // => 7.578125
 * imbalance[49] // => 1.1875
 */
export function simulateBiasBalancing(rng: Rng, options: BiasBalancingOptions): BiasBalancingResult {
  requireRng(rng);
  const o = requireOptions<BiasBalancingOptions>("options", options);
  const tokensPerStep = requireInteger("tokensPerStep", o.tokensPerStep, { min: 1 });
  const numExperts = requireInteger("numExperts", o.numExperts, { min: 1 });
  const numSteps = requireInteger("numSteps", o.numSteps, { min: 1 });
  const updateRate = requireNumber("updateRate", o.updateRate, { min: 0, minExclusive: true });
  const bias = new Array<number>(numExperts).fill(0);
  const imbalance: number[] = [];
  const maxLoad: number[] = [];
  let lastLoads: number[] = [];
  for (let s = 0; s < numSteps; s++) {
    const r = routeGating(rng, {
      numTokens: tokensPerStep,
      numExperts,
      topK: o.topK,
      temperature: o.temperature,
      expertBias: o.expertBias,
      selectionBias: bias,
      numGroups: o.numGroups,
      topkGroup: o.topkGroup,
    });
    const loads = r.loads;
    let total = 0;
    let max = 0;
    for (const x of loads) {
      total += x;
      if (x > max) max = x;
    }
    const mean = total / numExperts;
    imbalance.push(max / mean);
    maxLoad.push(max);
    for (let e = 0; e < numExperts; e++) bias[e] += updateRate * Math.sign(mean - loads[e]);
    lastLoads = loads;
  }
  return { imbalance, maxLoad, bias, lastLoads };
}

// ---------------------------------------------------------------------------------------------
// Multi-layer routing
// ---------------------------------------------------------------------------------------------

/** Options of `routeLayers`. */
export interface LayerRoutingOptions {
  numLayers: number;
  numTokens: number;
  numExperts: number;
  topK: number;
  /** Zipf exponent of each layer, `[numLayers]` (>= 0). If absent, drawn uniformly in [exponentMin, exponentMax]. */
  exponents?: number[];
  /** Lowest per-layer Zipf exponent when drawn (default 0.6). */
  exponentMin?: number;
  /** Highest per-layer Zipf exponent when drawn (default 1.2). */
  exponentMax?: number;
  /** Give each layer its own hot experts by a random permutation of popularity (default true). */
  shuffleExperts?: boolean;
}

/** What `routeLayers` returns. */
export interface LayerRouting {
  /** Load (tokens) of each expert in each layer, `[numLayers][numExperts]`: the shape EPLB consumes. */
  loads: number[][];
  /** Zipf exponent used in each layer, `[numLayers]`. */
  exponents: number[];
  /** Popularity rank to expert in each layer, `[numLayers][numExperts]`: rankToExpert[l][0] is layer l's hottest expert by design. */
  rankToExpert: number[][];
}

/**
 * Routes one batch through `numLayers` MoE layers by popularity routing, each layer with its own
 * skew (Zipf exponent) and, by default, its own hot experts: real models are not equally skewed,
 * nor skewed towards the same experts, in every layer.
 * @param rng the random stream.
 * @param options see `LayerRoutingOptions`.
 * @returns `{loads: [numLayers][numExperts], exponents, rankToExpert}`; each row sums to numTokens x topK.
 * @throws {RangeError} on a bad option, exponents of the wrong length or exponentMax < exponentMin.
 * @example routeLayers(createRng(1), { numLayers: 4, numTokens: 1024, numExperts: 64, topK: 8 }).loads.length // => 4
 */
export function routeLayers(rng: Rng, options: LayerRoutingOptions): LayerRouting {
  requireRng(rng);
  const o = requireOptions<LayerRoutingOptions>("options", options);
  const numLayers = requireInteger("numLayers", o.numLayers, { min: 1 });
  const { numTokens, numExperts, topK } = requireShape(o);
  let exponents: number[];
  if (o.exponents !== undefined) {
    const ex = requireNumberArray("exponents", o.exponents, { min: 0 });
    if (ex.length !== numLayers) throw new RangeError(`exponents must have numLayers = ${numLayers} items, got ${ex.length}`);
    exponents = Array.from(ex);
  } else {
    const lo = requireNumber("exponentMin", o.exponentMin ?? 0.6, { min: 0 });
    const hi = requireNumber("exponentMax", o.exponentMax ?? 1.2, { min: lo });
    exponents = [];
    for (let l = 0; l < numLayers; l++) exponents.push(lo + (hi - lo) * rng.random());
  }
  const shuffle = o.shuffleExperts ?? true;
  if (typeof shuffle !== "boolean") throw new TypeError(`shuffleExperts must be a boolean, got ${describeValue(shuffle)}`);
  const loads: number[][] = [];
  const rankToExpert: number[][] = [];
  for (let l = 0; l < numLayers; l++) {
    const perm = Array.from({ length: numExperts }, (_, i) => i);
    if (shuffle) {
      for (let i = numExperts - 1; i > 0; i--) {
        const j = Math.floor(rng.random() * (i + 1));
        const tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
      }
    }
    const zipf = popularityWeights(numExperts, { kind: "zipf", exponent: exponents[l] });
    const weights = new Array<number>(numExperts);
    for (let rank = 0; rank < numExperts; rank++) weights[perm[rank]] = zipf[rank];
    const r = routePopularity(rng, { numTokens, numExperts, topK, popularity: { kind: "weights", weights } });
    loads.push(r.loads);
    rankToExpert.push(perm);
  }
  return { loads, exponents, rankToExpert };
}

// ---------------------------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------------------------

/** The max/mean imbalance of every batch of one batch size. */
export interface BatchImbalanceSamples {
  /** Tokens per batch. */
  batchTokens: number;
  /** max/mean expert load of each batch, in draw order, `[trials]`. */
  imbalances: number[];
}

/**
 * The sampling loop behind every batch-size sweep (`imbalanceByBatchSize` here, and
 * `imbalanceVsBatchSize` in lib/skew.ts for the lab note): for each batch size in order, routes
 * `trials` batches with `route(rng, batchTokens)` from the one stream and records each batch's
 * max/mean expert load. A batch with no load at all (every assignment dropped) counts as
 * perfectly balanced, 1.
 * @param rng the random stream, shared by all batches in order.
 * @param route a router of `batchTokens` tokens; only the `loads` of what it returns are read.
 * @param batchSizes tokens per batch, each an integer >= 1.
 * @param trials batches per size (>= 1).
 * @returns one row per batch size, in the given order.
 * @throws {TypeError} when rng is not an Rng or route is not a function; {RangeError} on bad sizes or trials.
 * @example imbalanceSamplesByBatchSize(createRng(1), (r, n) => routePopularity(r, { numTokens: n, numExperts: 8, topK: 1, popularity: { kind: "uniform" } }), [1], 2)[0].imbalances
 * // => [8, 8] (one token on 8 experts: max 1, mean 1/8)
 */
export function imbalanceSamplesByBatchSize(
  rng: Rng,
  route: (rng: Rng, batchTokens: number) => Pick<Routing, "loads">,
  batchSizes: readonly number[],
  trials: number,
): BatchImbalanceSamples[] {
  requireRng(rng);
  if (typeof route !== "function") throw new TypeError(`route must be a function (rng, batchTokens) => Routing, got ${describeValue(route)}`);
  requireNumberArray("batchSizes", batchSizes, { min: 1 });
  requireInteger("trials", trials, { min: 1 });
  return batchSizes.map((batchTokens, i) => {
    requireInteger(`batchSizes[${i}]`, batchTokens, { min: 1 });
    const imbalances: number[] = [];
    for (let k = 0; k < trials; k++) {
      const loads = route(rng, batchTokens).loads;
      let total = 0;
      let max = 0;
      for (const x of loads) {
        total += x;
        if (x > max) max = x;
      }
      imbalances.push(total > 0 ? max / (total / loads.length) : 1);
    }
    return { batchTokens, imbalances };
  });
}

/** Imbalance of one batch size, over several batches. */
export interface BatchImbalanceRow {
  /** Tokens per batch. */
  batchTokens: number;
  /** Mean over the batches of max/mean expert load. */
  meanImbalance: number;
  /** Smallest and largest max/mean seen. */
  minImbalance: number;
  maxImbalance: number;
}

/**
 * Max/mean expert imbalance against batch size for any router: for each batch size, routes
 * `trials` independent batches with `route(rng, batchTokens)` and averages their imbalance
 * (the batches of `imbalanceSamplesByBatchSize`, summarised).
 * Small batches add sampling noise to the router's own skew (even a uniform router is skewed).
 * @param rng the random stream, shared by all batches in order.
 * @param route a router of `batchTokens` tokens, e.g. `(r, n) => routePopularity(r, {...options, numTokens: n})`.
 * @param batchSizes tokens per batch, each >= 1.
 * @param trials batches per size (>= 1).
 * @returns one row per batch size, in the given order.
 * @throws {TypeError} when route is not a function; {RangeError} on bad sizes or trials.
 * @example imbalanceByBatchSize(createRng(1), (r, n) => routePopularity(r, { numTokens: n, numExperts: 8, topK: 1, popularity: { kind: "uniform" } }), [1], 2)[0].meanImbalance
 * // => 8 (one token on 8 experts: max 1, mean 1/8)
 */
export function imbalanceByBatchSize(
  rng: Rng,
  route: (rng: Rng, batchTokens: number) => Routing,
  batchSizes: number[],
  trials: number,
): BatchImbalanceRow[] {
  return imbalanceSamplesByBatchSize(rng, route, batchSizes, trials).map(({ batchTokens, imbalances }) => {
    let sum = 0;
    for (const v of imbalances) sum += v;
    return { batchTokens, meanImbalance: sum / trials, minImbalance: Math.min(...imbalances), maxImbalance: Math.max(...imbalances) };
  });
}
