import { test } from "node:test";
import assert from "node:assert/strict";
import { createChecks, OVERRIDES_GLOBAL } from "../lib/checks";

test("checks are strict with the notebook's own parameters", () => {
  delete (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL];
  const c = createChecks();
  c.ok(true);
  c.equal(1, 1);
  assert.throws(() => c.equal(1, 2), { name: "AssertionError" });
  assert.equal(c.summary(), "all checks passed");
});

test("under injected overrides a check that does not hold is reported, not thrown", () => {
  (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL] = { seed: 7 };
  try {
    const c = createChecks();
    c.ok(true);
    c.equal("93.8", "94.1", "eplb max");
    c.deepEqual([1], [1]);
    assert.match(c.summary(), /^2 of 3 checks hold; 1 describe the default parameters and do not hold with the overrides \(seed\):\n- check 2: eplb max \(got '93\.8', expected '94\.1'\)$/);
    // Without a message, node's multi-line diff is joined into one line.
    const d = createChecks();
    d.equal(1, 2);
    assert.match(d.summary(), /\n- check 1: values differ \(got 1, expected 2\)$/);
    // ok() without a message, and deepEqual with one.
    const o = createChecks();
    o.ok(0);
    o.deepEqual([1, 2], [1, 3], "loads");
    assert.match(o.summary(), /\n- check 1: a check of a truthy value failed\n- check 2: loads \(got \[ 1, 2 \], expected \[ 1, 3 \]\)$/);
  } finally {
    delete (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL];
  }
});

test("that(): a predicate that throws is a failed check: fatal normally, reported under overrides", () => {
  delete (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL];
  const strict = createChecks();
  strict.that("holds", () => 1 < 2);
  assert.throws(() => strict.that("third sweep point", () => ([] as { b: number }[])[2].b > 0), /third sweep point \(could not be evaluated: Cannot read properties of undefined/);
  assert.throws(() => strict.that("false claim", () => false), { name: "AssertionError", message: "false claim" });
  assert.throws(() => strict.that("", () => true), /message must be a non-empty string/);
  assert.throws(() => strict.that("x", true as never), /predicate must be a function, got boolean/);
  (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL] = { gpuCounts: [4, 8] };
  try {
    const soft = createChecks();
    soft.that("third sweep point", () => ([] as { b: number }[])[2].b > 0);
    soft.that("holds", () => true);
    assert.match(soft.summary(), /^1 of 2 checks hold; 1 describe .*\(gpuCounts\):\n- check 1: third sweep point \(could not be evaluated: /);
  } finally {
    delete (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL];
  }
});
