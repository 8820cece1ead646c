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
    assert.match(c.summary(), /^2 of 3 checks hold; 1 describe the default parameters and do not hold with the overrides \(seed\):\n- eplb max$/);
  } finally {
    delete (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL];
  }
});
