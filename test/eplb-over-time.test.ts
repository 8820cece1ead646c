/** lib/eplb-over-time.ts: drifting load streams and vLLM-style periodic rebalancing. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { driftingLoads, simulateEplbOverTime } from "../lib/eplb-over-time";
import { createRng } from "../lib/rng";

const base = { numExperts: 32, numSteps: 400, tokensPerStep: 4096, exponent: 1.2 };
const place = { numReplicas: 40, numGroups: 4, numNodes: 2, numGpus: 8 };

test("driftingLoads: deterministic for a seed, right shape, tokens per step conserved up to noise", () => {
  const a = driftingLoads(createRng(7), { ...base, kind: "gradual" });
  const b = driftingLoads(createRng(7), { ...base, kind: "gradual" });
  assert.deepEqual(a, b);
  assert.equal(a.length, 400);
  assert.equal(a[0].length, 32);
  const total = a[10].reduce((x, y) => x + y, 0);
  assert.ok(Math.abs(total - 4096) < 0.1 * 4096);
});

test("sudden shift: the hottest expert changes at shiftStep; noise 0 gives a constant stream before it", () => {
  const s = driftingLoads(createRng(3), { ...base, kind: "sudden", shiftStep: 200, noise: 0 });
  const argmax = (r: Float64Array) => r.indexOf(Math.max(...r));
  assert.deepEqual(s[0], s[199]);
  assert.notEqual(argmax(s[199]), argmax(s[200]));
});

test("rebalances happen every interval; a stable stream moves nothing after the first", () => {
  const s = driftingLoads(createRng(3), { ...base, kind: "sudden", shiftStep: 400, noise: 0 });
  const r = simulateEplbOverTime(s, { ...place, windowSteps: 50, rebalanceInterval: 100, expertBytes: 1000 });
  assert.deepEqual(r.rebalances.map((x) => x.step), [100, 200, 300]);
  assert.ok(r.rebalances[0].changedSlots > 0);
  assert.equal(r.rebalances[0].bytesMoved, r.rebalances[0].copiedExperts * 1000);
  assert.ok(r.rebalances[0].copiedExperts <= r.rebalances[0].changedSlots);
  assert.equal(r.rebalances[1].changedSlots, 0);
  assert.equal(r.rebalances[2].changedSlots, 0);
  assert.ok(r.balancedness[150] > r.staticBalancedness[150]);
  assert.equal(r.balancedness[50], r.staticBalancedness[50]);
});

test("after a sudden shift the stale placement degrades until the next rebalance sees the new loads", () => {
  const s = driftingLoads(createRng(5), { ...base, kind: "sudden", shiftStep: 250, noise: 0 });
  const r = simulateEplbOverTime(s, { ...place, windowSteps: 20, rebalanceInterval: 100 });
  assert.ok(r.balancedness[249] > r.balancedness[260]);
  assert.ok(r.balancedness[310] > r.balancedness[260]);
});

test("bad options are rejected naming the parameter", () => {
  const s = driftingLoads(createRng(1), { ...base, numSteps: 5, kind: "gradual" });
  assert.throws(() => simulateEplbOverTime(s, { ...place, windowSteps: 0 }), /windowSteps must be an integer >= 1, got 0/);
  assert.throws(() => simulateEplbOverTime(s, { ...place, numGpus: 3 }), /numReplicas must be divisible by numGpus/);
  assert.throws(() => driftingLoads(createRng(1), { ...base, kind: "wobbly" as "gradual" }), /kind must be one of gradual, sudden/);
  assert.throws(() => driftingLoads(createRng(1), { ...base, kind: "gradual", noise: 1 }), /noise must be/);
});
