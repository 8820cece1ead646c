/**
 * Benchmark: routing 1,000,000 tokens top-8 over 256 experts (DeepSeek-V3's shape) by popularity
 * (Zipf) and by gating, against straightforward reference implementations measured in the same
 * run: a linear CDF scan per draw (popularity) and a full softmax plus a sort of all experts per
 * token (gating). Gating is also compared with the cost of just generating its logits.
 */
import { BenchSection, time, report, peakRssMiB } from "./harness";
import { createRng } from "../lib/rng";
import { createFastStream, logitBiasFromWeights, popularityWeights, routeGating, routePopularity } from "../lib/routing";

const NUM_TOKENS = 1_000_000;
const NUM_EXPERTS = 256;
const TOP_K = 8;
const ZIPF = 1; // popularity exponent (and the gating bias = ln of those weights)
const REFERENCE_TOKENS = 100_000; // the sort-all reference is slow: measured on fewer tokens, compared per token

/** Reference popularity routing: k distinct experts by a linear scan of the CDF per draw, rejecting repeats. */
function referencePopularity(seed: number, numTokens: number, probs: number[], topK: number): Int32Array {
  const cdf = new Float64Array(probs.length);
  let acc = 0;
  probs.forEach((p, i) => (cdf[i] = acc += p));
  const stream = createFastStream(createRng(seed));
  const u = new Float64Array(1);
  const out = new Int32Array(numTokens * topK);
  for (let t = 0; t < numTokens; t++) {
    for (let j = 0; j < topK; j++) {
      for (;;) {
        stream.fillUniform(u, 1);
        const x = u[0] * acc;
        let e = 0;
        while (e < cdf.length - 1 && cdf[e] <= x) e++;
        let seen = false;
        for (let q = 0; q < j; q++) if (out[t * topK + q] === e) seen = true;
        if (!seen) {
          out[t * topK + j] = e;
          break;
        }
      }
    }
  }
  return out;
}

/** Reference gating: logits, full softmax, sort all experts by probability, keep k, renormalise. */
function referenceGating(seed: number, numTokens: number, bias: number[], topK: number): Int32Array {
  const n = bias.length;
  const stream = createFastStream(createRng(seed));
  const z = new Float64Array(n);
  const out = new Int32Array(numTokens * topK);
  const gates = new Float32Array(numTokens * topK);
  for (let t = 0; t < numTokens; t++) {
    stream.fillNormal(z, n);
    const logits = Array.from(z, (x, e) => bias[e] + x);
    const m = Math.max(...logits);
    const ex = logits.map((l) => Math.exp(l - m));
    const s = ex.reduce((a, b) => a + b, 0);
    const probs = ex.map((x) => x / s);
    const order = probs.map((_, e) => e).sort((a, b) => probs[b] - probs[a] || a - b);
    let kept = 0;
    for (let j = 0; j < topK; j++) kept += probs[order[j]];
    for (let j = 0; j < topK; j++) {
      out[t * topK + j] = order[j];
      gates[t * topK + j] = probs[order[j]] / kept;
    }
  }
  return out;
}

/** Just the logits of the gating router (bias + noise), summed so the work cannot be skipped. */
function logitsOnly(seed: number, numTokens: number, bias: Float64Array): number {
  const n = bias.length;
  const stream = createFastStream(createRng(seed));
  const z = new Float64Array(n);
  let check = 0;
  for (let t = 0; t < numTokens; t++) {
    stream.fillNormal(z, n);
    for (let e = 0; e < n; e++) z[e] = bias[e] + z[e];
    check += z[t % n];
  }
  return check;
}

export const routingBench: BenchSection = {
  title: `routing (${NUM_TOKENS.toLocaleString("en-US")} tokens, top-${TOP_K} of ${NUM_EXPERTS} experts)`,
  run() {
    const probs = popularityWeights(NUM_EXPERTS, { kind: "zipf", exponent: ZIPF });
    const bias = logitBiasFromWeights(probs);
    const assignments = NUM_TOKENS * TOP_K;

    // Warm up every path on a small batch, so the timed runs below need no full-size warm-up.
    const WARM = 20_000;
    routePopularity(createRng(0), { numTokens: WARM, numExperts: NUM_EXPERTS, topK: TOP_K, popularity: { kind: "zipf", exponent: ZIPF } });
    referencePopularity(0, WARM, probs, TOP_K);
    routeGating(createRng(0), { numTokens: WARM, numExperts: NUM_EXPERTS, topK: TOP_K, expertBias: bias });
    routeGating(createRng(0), { numTokens: WARM, numExperts: NUM_EXPERTS, topK: TOP_K, expertBias: bias, numGroups: 8, topkGroup: 4 });
    logitsOnly(0, WARM, Float64Array.from(bias));
    referenceGating(0, WARM / 10, bias, TOP_K);

    // Popularity: alias sampling with rejection vs a linear CDF scan.
    const pop = time(() => routePopularity(createRng(1), { numTokens: NUM_TOKENS, numExperts: NUM_EXPERTS, topK: TOP_K, popularity: { kind: "zipf", exponent: ZIPF } }), 3, 0);
    const popRef = time(() => referencePopularity(1, NUM_TOKENS, probs, TOP_K), 1, 0);
    report({ name: "popularity (Zipf s=1): tokens/s", value: NUM_TOKENS / pop.medianSeconds, unit: "tokens/s" });
    report({ name: "popularity: token-expert assignments/s", value: assignments / pop.medianSeconds, unit: "/s", target: { value: 1e7, higherIsBetter: true } });
    report({ name: "popularity reference (linear CDF scan): assignments/s", value: assignments / popRef.medianSeconds, unit: "/s" });
    report({ name: "ratio reference / ours (popularity, time)", value: popRef.medianSeconds / pop.medianSeconds, unit: "x faster" });

    // Gating: ours vs just generating the logits vs a full softmax + sort-all reference.
    const gate = time(() => routeGating(createRng(2), { numTokens: NUM_TOKENS, numExperts: NUM_EXPERTS, topK: TOP_K, expertBias: bias }), 1, 0);
    const logits = time(() => logitsOnly(2, NUM_TOKENS, Float64Array.from(bias)), 1, 0);
    const grouped = time(() => routeGating(createRng(2), { numTokens: NUM_TOKENS, numExperts: NUM_EXPERTS, topK: TOP_K, expertBias: bias, numGroups: 8, topkGroup: 4 }), 1, 0);
    report({ name: "gating: tokens/s", value: NUM_TOKENS / gate.medianSeconds, unit: "tokens/s" });
    report({ name: "gating: token-expert assignments/s", value: assignments / gate.medianSeconds, unit: "/s" });
    report({ name: "just generating the logits: tokens/s", value: NUM_TOKENS / logits.medianSeconds, unit: "tokens/s" });
    report({ name: "ratio gating / logits only (time)", value: gate.medianSeconds / logits.medianSeconds, unit: "x", target: { value: 3, higherIsBetter: false } });
    report({ name: "gating group-limited (8 groups, best 4): tokens/s", value: NUM_TOKENS / grouped.medianSeconds, unit: "tokens/s" });
    const gateSmall = time(() => routeGating(createRng(3), { numTokens: REFERENCE_TOKENS, numExperts: NUM_EXPERTS, topK: TOP_K, expertBias: bias }), 3, 0);
    const gateRef = time(() => referenceGating(3, REFERENCE_TOKENS, bias, TOP_K), 1, 0);
    report({ name: `gating reference (softmax + sort all), ${REFERENCE_TOKENS / 1000}k tokens: tokens/s`, value: REFERENCE_TOKENS / gateRef.medianSeconds, unit: "tokens/s" });
    report({ name: "ratio reference / ours (gating, time)", value: gateRef.medianSeconds / gateSmall.medianSeconds, unit: "x faster" });
    report({ name: "peak memory (process, so far)", value: peakRssMiB(), unit: "MiB" });
  },
};
