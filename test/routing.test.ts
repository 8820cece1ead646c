import { test } from "node:test";
import assert from "node:assert/strict";
import * as fc from "fast-check";
import { createRng, createPythonRandom } from "../lib/rng";
import { routeBiasedTop1, LAB_NOTE_DEFAULTS } from "../lib/labnote";
import {
  Routing,
  applyCapacity,
  buildAliasTable,
  createFastStream,
  expertCapacity,
  imbalanceByBatchSize,
  imbalanceSamplesByBatchSize,
  logitBiasFromWeights,
  popularityWeights,
  routeBiased,
  routeGating,
  routeLayers,
  routePopularity,
  shufflePopularity,
  simulateBiasBalancing,
  switchAuxLoss,
} from "../lib/routing";

const sum = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0);
const close = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (tol ${tol})`);

/** Every token's experts are distinct and in range, loads match the expert list. */
function checkRouting(r: Routing): void {
  const counts = new Array<number>(r.numExperts).fill(0);
  for (let t = 0; t < r.numTokens; t++) {
    const seen = new Set<number>();
    for (let j = 0; j < r.topK; j++) {
      const e = r.experts[t * r.topK + j];
      if (e === -1) continue;
      assert.ok(e >= 0 && e < r.numExperts, `expert ${e} out of range`);
      assert.ok(!seen.has(e), `token ${t} got expert ${e} twice`);
      seen.add(e);
      counts[e]++;
    }
    for (let j = 0; j < r.numSpare; j++) {
      const e = r.spare[t * r.numSpare + j];
      if (e === -1) continue;
      assert.ok(!seen.has(e), `token ${t} spare ${e} repeats a choice`);
      seen.add(e);
    }
  }
  assert.deepEqual(r.loads, counts);
  assert.equal(sum(r.loads), r.numTokens * r.topK - r.dropped);
}

// ---------------------------------------------------------------- the lab note's router, top-k

test("routeBiased top-1 replays routeBiasedTop1 draw for draw (the lab note)", () => {
  const p = LAB_NOTE_DEFAULTS;
  const r = routeBiased(createPythonRandom(42), p);
  const ref = routeBiasedTop1(createPythonRandom(42), p.numTokens, p.numExperts, p.hotExperts, p.hotFraction);
  assert.deepEqual(Array.from(r.experts), Array.from(ref));
  assert.equal(Math.max(...r.loads), 341);
  assert.equal(r.loads[0], 279);
  assert.equal(r.gates, null);
});

test("routeBiased top-k: exact seeded draws, distinct experts, hot set hotter", () => {
  const r = routeBiased(createRng(3), { numTokens: 4, numExperts: 16, topK: 3, hotExperts: 4, hotFraction: 0.6 });
  assert.deepEqual(Array.from(r.experts), [14, 3, 1, 2, 3, 14, 3, 2, 9, 3, 2, 0]);
  checkRouting(r);
  const big = routeBiased(createRng(4), { numTokens: 5000, numExperts: 64, topK: 4, hotExperts: 8, hotFraction: 0.6 });
  checkRouting(big);
  const hotMean = sum(big.loads.slice(0, 8)) / 8;
  const coldMean = sum(big.loads.slice(8)) / 56;
  assert.ok(hotMean > 5 * coldMean, `hot ${hotMean} vs cold ${coldMean}`);
});

test("routeBiased rejects impossible or bad options", () => {
  const base = { numTokens: 10, numExperts: 8, hotExperts: 2, hotFraction: 0.5 };
  assert.throws(() => routeBiased(createRng(1), { ...base, topK: 9 }), { name: "RangeError", message: /topK must be .*<= 8, got 9/ });
  assert.throws(() => routeBiased(createRng(1), { ...base, topK: 0 }), { name: "RangeError", message: /topK/ });
  assert.throws(() => routeBiased(createRng(1), { ...base, topK: 3, hotFraction: 1 }), { name: "RangeError", message: /topK \+ numSpare must be <= 2/ });
  assert.throws(() => routeBiased(createRng(1), { ...base, hotFraction: NaN }), { name: "RangeError", message: /hotFraction/ });
  assert.throws(() => routeBiased({} as never, base), { name: "TypeError", message: /rng/ });
});

// ---------------------------------------------------------------- popularity

test("popularityWeights: uniform, Zipf and given weights, normalised", () => {
  assert.deepEqual(popularityWeights(4, { kind: "uniform" }), [0.25, 0.25, 0.25, 0.25]);
  const z = popularityWeights(3, { kind: "zipf", exponent: 1 });
  [6 / 11, 3 / 11, 2 / 11].forEach((x, i) => close(z[i], x, 1e-15));
  assert.deepEqual(popularityWeights(3, { kind: "weights", weights: [2, 1, 1] }), [0.5, 0.25, 0.25]);
  assert.deepEqual(popularityWeights(2, { kind: "zipf", exponent: 0 }), [0.5, 0.5]);
});

test("popularity errors: negative, NaN, all-zero, wrong length, bad exponent or kind", () => {
  const w = (weights: number[]) => () => popularityWeights(3, { kind: "weights", weights });
  assert.throws(w([1, -1, 1]), { name: "RangeError", message: /popularity\.weights\[1\] must be .*>= 0, got -1/ });
  assert.throws(w([1, NaN, 1]), { name: "RangeError", message: /popularity\.weights\[1\].*got NaN/ });
  assert.throws(w([0, 0, 0]), { name: "RangeError", message: /popularity\.weights must not be all zero/ });
  assert.throws(w([1, 1]), { name: "RangeError", message: /popularity\.weights must have numExperts = 3 items, got 2/ });
  assert.throws(() => popularityWeights(3, { kind: "zipf", exponent: -1 }), { name: "RangeError", message: /popularity\.exponent/ });
  assert.throws(() => popularityWeights(3, { kind: "pareto" } as never), { name: "RangeError", message: /popularity\.kind/ });
  assert.throws(() => buildAliasTable([0, 0]), { name: "RangeError", message: /weights must not be all zero/ });
  assert.throws(() => buildAliasTable([1, -2]), { name: "RangeError", message: /weights\[1\]/ });
});

test("buildAliasTable: exact small case, and the table encodes the weights exactly", () => {
  const t = buildAliasTable([1, 3]);
  assert.deepEqual(Array.from(t.prob), [0.5, 1]);
  assert.deepEqual(Array.from(t.alias), [1, 1]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 40 }), (ws) => {
      fc.pre(ws.some((x) => x > 0));
      const { prob, alias } = buildAliasTable(ws);
      const n = ws.length;
      const mass = new Array<number>(n).fill(0);
      for (let i = 0; i < n; i++) {
        mass[i] += prob[i] / n;
        mass[alias[i]] += (1 - prob[i]) / n;
      }
      const total = sum(ws);
      ws.forEach((w, i) => close(mass[i], w / total, 1e-9));
    }),
  );
});

test("routePopularity: exact seeded draws; frequencies follow the weights", () => {
  const r = routePopularity(createRng(5), { numTokens: 4, numExperts: 16, topK: 3, popularity: { kind: "zipf", exponent: 1.2 } });
  assert.deepEqual(Array.from(r.experts), [5, 0, 10, 0, 1, 3, 2, 4, 0, 7, 2, 4]);
  assert.deepEqual(routePopularity(createRng(1), { numTokens: 2, numExperts: 4, topK: 2, popularity: { kind: "uniform" } }).loads, [2, 1, 0, 1]);
  // top-1: loads / tokens estimate the weights (tolerance ~5 standard errors).
  const w = [0.4, 0.3, 0.2, 0.1];
  const big = routePopularity(createRng(6), { numTokens: 100000, numExperts: 4, topK: 1, popularity: { kind: "weights", weights: w } });
  big.loads.forEach((l, i) => close(l / 100000, w[i], 0.008));
  checkRouting(big);
});

test("routePopularity finishes extreme weights by the exact scan (no endless rejection)", () => {
  const r = routePopularity(createRng(2), { numTokens: 50, numExperts: 3, topK: 3, popularity: { kind: "weights", weights: [1, 1e-300, 1e-300] } });
  checkRouting(r);
  assert.deepEqual(r.loads, [50, 50, 50]);
  assert.throws(
    () => routePopularity(createRng(2), { numTokens: 5, numExperts: 3, topK: 3, popularity: { kind: "weights", weights: [1, 1, 0] } }),
    { name: "RangeError", message: /at least topK \+ numSpare = 3 positive items, got 2/ },
  );
  assert.throws(() => routePopularity(createRng(2), { numTokens: 5, numExperts: 3, topK: 4, popularity: { kind: "uniform" } }), { name: "RangeError", message: /topK/ });
  assert.throws(() => routePopularity(createRng(2), { numTokens: 5, numExperts: 3, topK: 0, popularity: { kind: "uniform" } }), { name: "RangeError", message: /topK must be an integer >= 1/ });
});

// ---------------------------------------------------------------- fast stream

test("createFastStream: seeded, exact first values, N(0, 1) moments and tail", () => {
  const z = new Float64Array(4);
  createFastStream(createRng(1)).fillNormal(z, 4);
  assert.deepEqual(Array.from(z), [0.6287484821942654, 0.4349079023652584, -0.2928545129336935, 0.01662120455995619]);
  const u = new Float64Array(3);
  createFastStream(createRng(1)).fillUniform(u, 3);
  assert.deepEqual(Array.from(u), [0.19458331307396293, 0.08843123586848378, 0.7996649770066142]);
  const n = 400000;
  const big = new Float64Array(n);
  const s = createFastStream(createRng(7));
  s.fillNormal(big, n / 2);
  s.fillNormal(big.subarray(n / 2), n / 2);
  let m = 0;
  let v = 0;
  let tail = 0;
  for (const x of big) {
    m += x;
    v += x * x;
    if (Math.abs(x) > 3.442619855899) tail++;
  }
  close(m / n, 0, 0.01);
  close(v / n, 1, 0.01);
  close(tail / n, 0.000576, 0.0002); // 2 x (1 - Phi(3.4426)): the ziggurat's tail is sampled
});

// ---------------------------------------------------------------- gating

test("routeGating: exact seeded experts and renormalised gates, best first", () => {
  const g = routeGating(createRng(9), { numTokens: 3, numExperts: 8, topK: 2, temperature: 0.5, expertBias: [1, 0, 0, 0, 0, 0, 0, -1] });
  assert.deepEqual(Array.from(g.experts), [3, 4, 5, 0, 4, 5]);
  const gates = Array.from(g.gates as Float32Array);
  close(gates[0], 0.5482436418533325, 1e-7);
  close(gates[2], 0.632519006729126, 1e-7);
  for (let t = 0; t < 3; t++) {
    close(gates[2 * t] + gates[2 * t + 1], 1, 1e-6);
    assert.ok(gates[2 * t] >= gates[2 * t + 1]);
  }
  assert.equal(g.routerProbMean, null);
});

test("routeGating: a strong bias wins, gates ignore the selection bias, router probs sum to 1", () => {
  const bias = [0, 0, 0, 0, 0, 20, 0, 0];
  const g = routeGating(createRng(1), { numTokens: 100, numExperts: 8, topK: 2, expertBias: bias, withRouterProbs: true });
  assert.equal(g.loads[5], 100);
  close(sum(g.routerProbMean as number[]), 1, 1e-9);
  // selectionBias forces expert 2 in, but its gate comes from the unbiased logits (small).
  const sel = [0, 0, 50, 0, 0, 0, 0, 0];
  const h = routeGating(createRng(1), { numTokens: 100, numExperts: 8, topK: 2, expertBias: bias, selectionBias: sel });
  assert.equal(h.loads[2], 100);
  assert.equal(h.loads[5], 100);
  for (let t = 0; t < 100; t++) {
    assert.equal(h.experts[t * 2], 2); // chosen first (by the biased score)...
    assert.ok((h.gates as Float32Array)[t * 2] < 1e-4); // ...but gated by its own small logit
  }
});

test("routeGating group-limited: every token stays within topkGroup groups", () => {
  const expertBias = logitBiasFromWeights(popularityWeights(64, { kind: "zipf", exponent: 1 }));
  const g = routeGating(createRng(2), { numTokens: 2000, numExperts: 64, topK: 8, numGroups: 8, topkGroup: 2, expertBias });
  checkRouting(g);
  for (let t = 0; t < g.numTokens; t++) {
    const groups = new Set<number>();
    for (let j = 0; j < 8; j++) groups.add(Math.floor(g.experts[t * 8 + j] / 8));
    assert.ok(groups.size <= 2, `token ${t} used ${groups.size} groups`);
  }
  // With topkGroup = numGroups it is plain top-k: same stream, same experts.
  const a = routeGating(createRng(3), { numTokens: 50, numExperts: 16, topK: 4, numGroups: 4, topkGroup: 4 });
  const b = routeGating(createRng(3), { numTokens: 50, numExperts: 16, topK: 4 });
  assert.deepEqual(a.experts, b.experts);
});

test("routeGating errors name the parameter", () => {
  const base = { numTokens: 10, numExperts: 8, topK: 2 };
  const r = (o: object) => () => routeGating(createRng(1), { ...base, ...o });
  assert.throws(r({ temperature: 0 }), { name: "RangeError", message: /temperature must be a finite number > 0, got 0/ });
  assert.throws(r({ temperature: -1 }), { name: "RangeError", message: /temperature/ });
  assert.throws(r({ numGroups: 4, topkGroup: 5 }), { name: "RangeError", message: /topkGroup must be .*<= 4, got 5/ });
  assert.throws(r({ numGroups: 3 }), { name: "RangeError", message: /numGroups must divide numExperts = 8, got 3/ });
  assert.throws(r({ numGroups: 4, topkGroup: 1, topK: 3 }), { name: "RangeError", message: /topK \+ numSpare must be <= topkGroup x experts per group = 2, got 3/ });
  assert.throws(r({ topK: 9 }), { name: "RangeError", message: /topK/ });
  assert.throws(r({ expertBias: [1, 2] }), { name: "RangeError", message: /expertBias must have numExperts = 8 items, got 2/ });
  assert.throws(r({ expertBias: [0, 0, 0, NaN, 0, 0, 0, 0] }), { name: "RangeError", message: /expertBias\[3\]/ });
  assert.throws(() => routeGating(createRng(1), null as never), { name: "TypeError", message: /options/ });
});

// ---------------------------------------------------------------- capacity

test("expertCapacity: ceil(factor x tokens x k / experts), round-off safe", () => {
  assert.equal(expertCapacity(1000, 8, 2, 1.25), 313);
  assert.equal(expertCapacity(100, 10, 1, 1.1), 11);
  assert.throws(() => expertCapacity(100, 10, 1, 0), { name: "RangeError", message: /capacityFactor must be a finite number > 0, got 0/ });
});

test("applyCapacity: drop vs reroute, exact counts, input untouched", () => {
  const r = routePopularity(createRng(1), { numTokens: 100, numExperts: 4, topK: 1, numSpare: 3, popularity: { kind: "weights", weights: [4, 2, 1, 1] } });
  assert.deepEqual(r.loads, [48, 25, 17, 10]);
  const before = Array.from(r.experts);
  const d = applyCapacity(r, { capacityFactor: 1, overflow: "drop" });
  assert.deepEqual(d.loads, [25, 25, 17, 10]);
  assert.equal(d.dropped, 23);
  assert.equal(d.rerouted, 0);
  checkRouting(d);
  const re = applyCapacity(r, { capacityFactor: 1, overflow: "reroute" });
  assert.deepEqual(re.loads, [25, 25, 25, 25]);
  assert.equal(re.rerouted, 23);
  assert.equal(re.dropped, 0);
  checkRouting(re);
  assert.deepEqual(Array.from(r.experts), before);
  assert.deepEqual(r.loads, [48, 25, 17, 10]);
  // Without spare choices, re-routing has nowhere to go: it drops.
  const noSpare = routePopularity(createRng(1), { numTokens: 100, numExperts: 4, topK: 1, popularity: { kind: "weights", weights: [4, 2, 1, 1] } });
  const dropNoSpare = applyCapacity(noSpare, { capacityFactor: 1, overflow: "drop" });
  const rerouteNoSpare = applyCapacity(noSpare, { capacityFactor: 1, overflow: "reroute" });
  assert.equal(dropNoSpare.dropped, 33);
  assert.deepEqual(rerouteNoSpare.experts, dropNoSpare.experts);
  assert.equal(rerouteNoSpare.rerouted, 0);
  assert.throws(() => applyCapacity(r, { capacityFactor: 0, overflow: "drop" }), { name: "RangeError", message: /capacityFactor/ });
  assert.throws(() => applyCapacity(r, { capacityFactor: -1, overflow: "drop" }), { name: "RangeError", message: /capacityFactor/ });
  assert.throws(() => applyCapacity(r, { capacityFactor: 1, overflow: "spill" as never }), { name: "RangeError", message: /overflow must be one of drop, reroute/ });
  assert.throws(() => applyCapacity({} as never, { capacityFactor: 1, overflow: "drop" }), { name: "TypeError", message: /routing/ });
});

test("applyCapacity on a gating routing zeroes dropped gates", () => {
  const g = routeGating(createRng(4), { numTokens: 200, numExperts: 8, topK: 2, expertBias: [3, 0, 0, 0, 0, 0, 0, 0] });
  const c = applyCapacity(g, { capacityFactor: 1, overflow: "drop" });
  assert.ok(c.dropped > 0);
  const gates = c.gates as Float32Array;
  for (let i = 0; i < c.experts.length; i++) if (c.experts[i] === -1) assert.equal(gates[i], 0);
  assert.ok(Math.max(...c.loads) <= expertCapacity(200, 8, 2, 1));
});

// ---------------------------------------------------------------- balancing pressure

test("switchAuxLoss: 1 when balanced, hard and soft forms", () => {
  assert.equal(switchAuxLoss([3, 1]), 1.25);
  assert.equal(switchAuxLoss([2, 2, 2, 2]), 1);
  assert.equal(switchAuxLoss([3, 1], [0.5, 0.5]), 1);
  assert.equal(switchAuxLoss([3, 1], [0.75, 0.25], 0.01), 0.0125);
  assert.throws(() => switchAuxLoss([0, 0]), { name: "RangeError", message: /loads must not be all zero/ });
  assert.throws(() => switchAuxLoss([1, 1], [1]), { name: "RangeError", message: /routerProbMean must have 2 items/ });
});

test("simulateBiasBalancing: the aux-loss-free bias drives the imbalance down", () => {
  const expertBias = logitBiasFromWeights(popularityWeights(64, { kind: "zipf", exponent: 1 }));
  const s = simulateBiasBalancing(createRng(1), { tokensPerStep: 4096, numExperts: 64, topK: 8, numSteps: 50, updateRate: 0.05, expertBias });
  assert.equal(s.imbalance.length, 50);
  assert.equal(s.imbalance[0], 7.578125);
  assert.equal(s.imbalance[49], 1.1875);
  assert.ok(Math.max(...s.imbalance.slice(45)) < 1.3);
  // The hottest expert ends with the lowest bias.
  assert.equal(s.bias.indexOf(Math.min(...s.bias)), 0);
  assert.throws(() => simulateBiasBalancing(createRng(1), { tokensPerStep: 10, numExperts: 8, topK: 2, numSteps: 5, updateRate: 0 }), { name: "RangeError", message: /updateRate/ });
});

// ---------------------------------------------------------------- multi-layer

test("routeLayers: [layers][experts] loads, per-layer skew and hot experts", () => {
  const l = routeLayers(createRng(1), { numLayers: 3, numTokens: 512, numExperts: 16, topK: 4 });
  assert.deepEqual(l.exponents, [0.7616693086674795, 0.8606452691035509, 1.1244467580524322]);
  assert.deepEqual(l.loads[0], [85, 97, 86, 56, 77, 345, 158, 67, 68, 67, 165, 98, 140, 119, 268, 152]);
  assert.deepEqual(l.rankToExpert.map((r) => r[0]), [5, 15, 8]);
  for (const row of l.loads) assert.equal(sum(row), 512 * 4);
  // Given exponents, no shuffle: expert 0 is the hottest of every layer; exponent 0 is uniform-ish.
  const g = routeLayers(createRng(2), { numLayers: 2, numTokens: 4000, numExperts: 8, topK: 1, exponents: [0, 2], shuffleExperts: false });
  assert.deepEqual(g.exponents, [0, 2]);
  assert.ok(Math.max(...g.loads[0]) < 600);
  assert.equal(g.loads[1].indexOf(Math.max(...g.loads[1])), 0);
  assert.throws(() => routeLayers(createRng(1), { numLayers: 2, numTokens: 5, numExperts: 4, topK: 1, exponents: [1] }), { name: "RangeError", message: /exponents must have numLayers = 2 items, got 1/ });
  assert.throws(() => routeLayers(createRng(1), { numLayers: 0, numTokens: 5, numExperts: 4, topK: 1 }), { name: "RangeError", message: /numLayers/ });
  assert.throws(() => routeLayers(createRng(1), { numLayers: 1, numTokens: 5, numExperts: 4, topK: 1, exponentMin: 1, exponentMax: 0.5 }), { name: "RangeError", message: /exponentMax/ });
});

// ---------------------------------------------------------------- properties

const shapeArb = fc
  .record({ numExperts: fc.integer({ min: 2, max: 40 }), numTokens: fc.integer({ min: 0, max: 60 }), seed: fc.integer({ min: 0, max: 1e6 }), k: fc.integer({ min: 1, max: 40 }) })
  .map((s) => ({ ...s, topK: 1 + ((s.k - 1) % s.numExperts) }));

const routers: Array<[string, (seed: number, s: { numTokens: number; numExperts: number; topK: number }) => Routing]> = [
  ["popularity", (seed, s) => routePopularity(createRng(seed), { ...s, popularity: { kind: "zipf", exponent: 1.5 } })],
  ["gating", (seed, s) => routeGating(createRng(seed), { ...s, temperature: 0.7, expertBias: logitBiasFromWeights(popularityWeights(s.numExperts, { kind: "zipf", exponent: 1 })) })],
  ["biased", (seed, s) => routeBiased(createRng(seed), { ...s, topK: Math.min(s.topK, s.numExperts - 1), hotExperts: 1, hotFraction: 0.7 })],
];

for (const [name, route] of routers) {
  test(`property (${name}): distinct experts per token, loads sum to tokens x k, same seed same routing`, () => {
    fc.assert(
      fc.property(shapeArb, (s) => {
        const r = route(s.seed, s);
        checkRouting(r);
        assert.equal(sum(r.loads), r.numTokens * r.topK);
        const again = route(s.seed, s);
        assert.deepEqual(again.experts, r.experts);
        assert.deepEqual(again.gates, r.gates);
      }),
      { numRuns: 60 },
    );
  });
}

test("property (capacity): loads sum to tokens x k minus dropped, no expert over capacity", () => {
  fc.assert(
    fc.property(shapeArb, fc.double({ min: 0.1, max: 3, noNaN: true }), fc.boolean(), (s, factor, reroute) => {
      const numSpare = Math.min(2, s.numExperts - s.topK);
      const r = routePopularity(createRng(s.seed), { ...s, numSpare, popularity: { kind: "zipf", exponent: 1.2 } });
      const c = applyCapacity(r, { capacityFactor: factor, overflow: reroute ? "reroute" : "drop" });
      checkRouting(c);
      assert.equal(sum(c.loads), s.numTokens * s.topK - c.dropped);
      const cap = expertCapacity(s.numTokens, s.numExperts, s.topK, factor);
      assert.ok(Math.max(...c.loads) <= cap);
      if (!reroute) assert.equal(c.rerouted, 0);
    }),
    { numRuns: 100 },
  );
});

test("imbalanceByBatchSize: one token is maximally skewed, large uniform batches approach 1", () => {
  const route = (r: ReturnType<typeof createRng>, n: number) => routePopularity(r, { numTokens: n, numExperts: 8, topK: 1, popularity: { kind: "uniform" } });
  const rows = imbalanceByBatchSize(createRng(1), route, [1, 100000], 2);
  assert.equal(rows[0].batchTokens, 1);
  assert.equal(rows[0].meanImbalance, 8);
  assert.ok(rows[1].meanImbalance < 1.02 && rows[1].minImbalance <= rows[1].maxImbalance);
  assert.throws(() => imbalanceByBatchSize(createRng(1), route, [0], 1), { name: "RangeError", message: /batchSizes\[0\]/ });
  assert.throws(() => imbalanceByBatchSize(createRng(1), route, [4], 0), { name: "RangeError", message: /trials/ });
  assert.throws(() => imbalanceByBatchSize(createRng(1), 3 as never, [4], 1), { name: "TypeError", message: /route must be a function/ });
});

test("imbalanceSamplesByBatchSize: one shared sampling loop; imbalanceByBatchSize summarises it", () => {
  const route = (r: ReturnType<typeof createRng>, n: number) => routePopularity(r, { numTokens: n, numExperts: 16, topK: 2, popularity: { kind: "zipf", exponent: 1 } });
  const sizes = [1, 8, 64, 512];
  const samples = imbalanceSamplesByBatchSize(createRng(3), route, sizes, 5);
  assert.deepEqual(samples.map((s) => s.batchTokens), sizes);
  for (const s of samples) assert.equal(s.imbalances.length, 5);
  assert.deepEqual(samples[0].imbalances, [8, 8, 8, 8, 8], "one token, top-2 of 16: max 1, mean 2/16");
  // The same draws in the same order: the summary is exactly that of the samples.
  const rows = imbalanceByBatchSize(createRng(3), route, sizes, 5);
  rows.forEach((row, i) => {
    const xs = samples[i].imbalances;
    assert.equal(row.batchTokens, sizes[i]);
    assert.equal(row.meanImbalance, xs.reduce((a, b) => a + b, 0) / xs.length);
    assert.equal(row.minImbalance, Math.min(...xs));
    assert.equal(row.maxImbalance, Math.max(...xs));
  });
  // Each batch is max/mean of its own loads, drawn one after the other from the stream.
  const rng = createRng(3);
  const direct = [route(rng, 1), route(rng, 1)].map((r) => Math.max(...r.loads) / (sum(r.loads) / r.loads.length));
  assert.deepEqual(samples[0].imbalances.slice(0, 2), direct);
  // Only the loads are read; a batch whose every assignment was dropped counts as balanced (1).
  assert.deepEqual(imbalanceSamplesByBatchSize(createRng(1), () => ({ loads: [0, 0, 0] }), [4], 2), [{ batchTokens: 4, imbalances: [1, 1] }]);
  assert.deepEqual(imbalanceSamplesByBatchSize(createRng(1), () => ({ loads: [0, 3, 1] }), [4], 1)[0].imbalances, [3 / (4 / 3)]);
  assert.throws(() => imbalanceSamplesByBatchSize(createRng(1), route, [4, 2.5], 1), { name: "RangeError", message: /^batchSizes\[1\] must be an integer/ });
  assert.throws(() => imbalanceSamplesByBatchSize(createRng(1), route, [], 1), { name: "RangeError", message: /^batchSizes must have at least 1/ });
  assert.throws(() => imbalanceSamplesByBatchSize({} as never, route, [4], 1), { name: "TypeError", message: /^rng must be an Rng/ });
  assert.throws(() => imbalanceSamplesByBatchSize(createRng(1), route, [4], 1.5), { name: "RangeError", message: /^trials must be an integer >= 1, got 1.5/ });
});

test("shufflePopularity: a seeded permutation, input untouched", () => {
  const w = Object.freeze([0.5, 0.3, 0.15, 0.05]);
  const a = shufflePopularity(createRng(1), w);
  assert.deepEqual(a, [0.5, 0.15, 0.05, 0.3]);
  assert.deepEqual(shufflePopularity(createRng(1), w), a);
  assert.deepEqual([...w], [0.5, 0.3, 0.15, 0.05]);
  assert.throws(() => shufflePopularity(createRng(1), [1, -1]), { name: "RangeError", message: /weights\[1\]/ });
});
