import { test } from "node:test";
import assert from "node:assert/strict";
import * as fc from "fast-check";
import {
  balancednessSglang,
  balancednessVllm,
  coefficientOfVariation,
  contiguousRankLoads,
  gini,
  hotCold,
  imbalance,
  layerBalance,
  layerRankLoads,
  loadStats,
  modelBalance,
  normalizedEntropy,
  rankLoadStats,
  zeroLoadCount,
} from "../lib/metrics";

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test("loadStats of [1, 3], by hand", () => {
  const s = loadStats([1, 3]);
  assert.equal(s.count, 2);
  assert.equal(s.total, 4);
  assert.equal(s.max, 3);
  assert.equal(s.min, 1);
  assert.equal(s.mean, 2);
  assert.equal(s.imbalance, 1.5);
  assert.equal(s.cv, 0.5); // population sd 1 / mean 2
  assert.equal(s.gini, 0.25); // |1-3| x 2 / (2 x 2^2 x 2)
  close(s.entropy, -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)) / Math.log(2));
  assert.equal(s.zeroCount, 0);
});

test("even loads: imbalance 1, CV 0, Gini 0, entropy 1", () => {
  const s = loadStats([5, 5, 5, 5]);
  assert.deepEqual([s.imbalance, s.cv, s.gini, s.entropy, s.zeroCount], [1, 0, 0, 1, 0]);
});

test("one item has everything: Gini (n-1)/n, entropy 0, imbalance n", () => {
  const s = loadStats([0, 0, 0, 4]);
  assert.equal(s.imbalance, 4);
  assert.equal(s.gini, 0.75);
  assert.equal(s.entropy, 0);
  assert.equal(s.zeroCount, 3);
  close(s.cv, Math.sqrt(3)); // sd sqrt(3) / mean 1
});

test("single metrics by hand", () => {
  assert.equal(imbalance([2, 4, 6]), 1.5);
  close(coefficientOfVariation([2, 4, 6]), Math.sqrt(8 / 3) / 4);
  close(gini([1, 2, 3]), 2 / 9); // sum |xi-xj| = 8; 8 / (2 x 9 x 2)
  assert.equal(normalizedEntropy([1, 1, 0, 0]), 0.5);
  assert.equal(normalizedEntropy([7]), 1);
  assert.equal(zeroLoadCount([0, 2, 0]), 2);
  assert.equal(zeroLoadCount([0, 0]), 2);
});

test("hotCold: busiest and idlest, ties to the lower index", () => {
  assert.deepEqual(hotCold([5, 1, 9, 1], 2), { hot: [2, 0], cold: [1, 3] });
  assert.deepEqual(hotCold([2, 2, 2], 2), { hot: [0, 1], cold: [0, 1] });
  assert.throws(() => hotCold([1, 2], 3), { name: "RangeError", message: /count must be .*<= 2, got 3/ });
});

test("contiguous rank loads and their stats: grouping smooths skew", () => {
  assert.deepEqual(contiguousRankLoads([1, 2, 3, 4], 2), [3, 7]);
  assert.deepEqual(contiguousRankLoads([1, 2, 3, 4], 4), [1, 2, 3, 4]);
  assert.equal(rankLoadStats([4, 0, 2, 2], 2).imbalance, 1);
  assert.equal(loadStats([4, 0, 2, 2]).imbalance, 2);
  assert.deepEqual(layerRankLoads([[1, 2, 3, 4], [0, 0, 1, 1]], 2), [[3, 7], [0, 2]]);
  assert.throws(() => contiguousRankLoads([1, 2, 3], 2), { name: "RangeError", message: /numRanks must divide the number of experts \(3\), got 2/ });
  assert.throws(() => contiguousRankLoads([1, 2], 0), { name: "RangeError", message: /numRanks/ });
});

test("balancedness: vLLM sums over layers, SGLang averages per-layer ratios", () => {
  // Layer 0: mean 2, max 3; layer 1: mean 2, max 2.
  assert.equal(balancednessVllm([[1, 3], [2, 2]]), 0.8);
  close(balancednessSglang([[1, 3], [2, 2]]), ((2 + 1e-5) / (3 + 1e-5) + 1) / 2);
  // A light layer weighs little for vLLM, as much as any other for SGLang.
  close(balancednessVllm([[0, 2], [100, 100]]), 101 / 102);
  close(balancednessSglang([[0, 2], [100, 100]]), ((1 + 1e-5) / (2 + 1e-5) + 1) / 2);
  // An all-zero layer: SGLang counts it as balanced (the epsilon), vLLM ignores it.
  close(balancednessSglang([[0, 0], [1, 3]]), (1 + (2 + 1e-5) / (3 + 1e-5)) / 2);
  assert.equal(balancednessVllm([[0, 0], [1, 3]]), 2 / 3);
  // A model with no load at all: every layer is perfectly balanced, so both aggregates are 1.
  assert.equal(balancednessVllm([[0, 0]]), 1);
  assert.equal(balancednessSglang([[0, 0], [0, 0]]), 1);
  assert.throws(() => balancednessSglang([[1, 2], [3]]), { name: "RangeError", message: /loadMatrix must be rectangular/ });
  assert.throws(() => balancednessVllm([[1, -2]]), { name: "RangeError", message: /loadMatrix\[0\]\[1\]/ });
});

test("modelBalance: per-layer figures, both aggregates and the worst layer in one pass", () => {
  const m = modelBalance([[1, 3], [2, 2]]);
  assert.deepEqual(m.perLayer, [
    { mean: 2, max: 3, balancedness: 2 / 3, imbalance: 1.5 },
    { mean: 2, max: 2, balancedness: 1, imbalance: 1 },
  ]);
  assert.equal(m.vllm, balancednessVllm([[1, 3], [2, 2]]));
  assert.equal(m.sglang, balancednessSglang([[1, 3], [2, 2]]));
  assert.equal(m.worstImbalance, 1.5);
  assert.deepEqual(layerBalance([1, 3]), m.perLayer[0]);
  assert.deepEqual(modelBalance([Float64Array.from([1, 3])]).perLayer[0], m.perLayer[0]);
  assert.throws(() => layerBalance([]), { name: "RangeError", message: /^loads must have at least 1 item/ });
  assert.throws(() => layerBalance([1, NaN]), { name: "RangeError", message: /^loads\[1\]/ });
  assert.throws(() => modelBalance([]), { name: "RangeError", message: /^loadMatrix must have at least 1 row/ });
  assert.throws(() => modelBalance(7 as never), { name: "TypeError", message: /^loadMatrix must be an array of rows/ });
});

test("all-zero rule: a layer with no load is perfectly balanced (1), never 0 or NaN", () => {
  assert.deepEqual(layerBalance([0, 0, 0]), { mean: 0, max: 0, balancedness: 1, imbalance: 1 });
  const mixed = modelBalance([[0, 0], [1, 3]]);
  assert.deepEqual(mixed.perLayer[0], { mean: 0, max: 0, balancedness: 1, imbalance: 1 });
  assert.equal(mixed.worstImbalance, 1.5, "an idle layer does not hide the skewed one");
  assert.equal(mixed.vllm, 2 / 3, "vLLM's sums ignore the idle layer");
  const idle = modelBalance([[0, 0, 0], [0, 0, 0]]);
  assert.deepEqual(idle, {
    perLayer: [
      { mean: 0, max: 0, balancedness: 1, imbalance: 1 },
      { mean: 0, max: 0, balancedness: 1, imbalance: 1 },
    ],
    vllm: 1,
    sglang: 1,
    worstImbalance: 1,
  });
  // The distribution statistics of one vector stay undefined for all zeros.
  assert.throws(() => imbalance([0, 0]), { name: "RangeError", message: /all zero/ });
});

test("balancedness never leaves (0, 1], and the vLLM ratio is the max-weighted mean of the layers'", () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.nat(50), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 6 }), (rows) => {
      const m = modelBalance(rows);
      for (const x of [m.vllm, m.sglang, ...m.perLayer.map((l) => l.balancedness)]) assert.ok(x > 0 && x <= 1 + 1e-12, String(x));
      const sumMax = m.perLayer.reduce((a, l) => a + l.max, 0);
      const weighted = m.perLayer.reduce((a, l) => a + l.max * l.balancedness, 0);
      close(m.vllm, sumMax === 0 ? 1 : weighted / sumMax, 1e-12);
      assert.ok(m.worstImbalance >= 1);
    }),
    { numRuns: 200 },
  );
});

test("bad load vectors are rejected with the parameter's name", () => {
  assert.throws(() => loadStats([]), { name: "RangeError", message: /loads must have at least 1 item/ });
  assert.throws(() => loadStats([0, 0]), { name: "RangeError", message: /loads must not be all zero/ });
  assert.throws(() => gini([1, -1]), { name: "RangeError", message: /loads\[1\]/ });
  assert.throws(() => imbalance([1, NaN]), { name: "RangeError", message: /loads\[1\].*NaN/ });
  assert.throws(() => normalizedEntropy("12" as never), { name: "TypeError", message: /loads must be an array/ });
});

test("property: metric ranges, scale invariance, inputs untouched", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 9 }), (xs, scale) => {
      fc.pre(xs.some((x) => x > 0));
      const frozen = Object.freeze([...xs]);
      const s = loadStats(frozen);
      const n = xs.length;
      assert.ok(s.imbalance >= 1 - 1e-12 && s.imbalance <= n + 1e-9);
      assert.ok(s.gini >= 0 && s.gini <= (n - 1) / n + 1e-12);
      assert.ok(s.entropy >= -1e-12 && s.entropy <= 1 + 1e-12);
      const t = loadStats(xs.map((x) => x * scale));
      close(t.imbalance, s.imbalance, 1e-9);
      close(t.gini, s.gini, 1e-9);
      close(t.entropy, s.entropy, 1e-9);
      assert.deepEqual([...frozen], xs);
    }),
  );
});
