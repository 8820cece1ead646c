import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPythonRandom, createRng, pythonSeedKey } from "../lib/rng";

function python(code: string): string | null {
  try {
    return execFileSync("python3", ["-c", code], { encoding: "utf8" });
  } catch {
    return null;
  }
}

test("pythonSeedKey splits |seed| into little-endian 32-bit words", () => {
  assert.deepEqual(pythonSeedKey(0), [0]);
  assert.deepEqual(pythonSeedKey(42), [42]);
  assert.deepEqual(pythonSeedKey(-42), [42]);
  assert.deepEqual(pythonSeedKey(2 ** 32 + 5), [5, 1]);
  assert.deepEqual(pythonSeedKey(2n ** 64n + 3n), [3, 0, 1]);
});

test("CPython stream: random(), randint() and getrandbits() match CPython draw for draw", (t) => {
  const seeds = [0, 1, 42, 7, 123456789, 2 ** 40 + 17];
  const py = python(
    "import random,json\nout=[]\n" +
      `for s in ${JSON.stringify(seeds)}:\n` +
      "    random.seed(s)\n" +
      "    out.append([random.random(), random.randint(0,19), random.randint(20,127), random.getrandbits(7), random.randint(-5,5), random.randint(0,1000000), random.random()])\n" +
      "print(json.dumps(out))",
  );
  if (py === null) {
    t.skip("python3 is not installed: cannot compare with CPython here");
    return;
  }
  const expected = JSON.parse(py) as number[][];
  seeds.forEach((s, i) => {
    const r = createPythonRandom(s);
    const got = [r.random(), r.randint(0, 19), r.randint(20, 127), r.getrandbits(7), r.randint(-5, 5), r.randint(0, 1000000), r.random()];
    assert.deepEqual(got, expected[i], `seed ${s}`);
  });
});

test("CPython stream: first random() after seed(42) is CPython's documented value", () => {
  assert.equal(createPythonRandom(42).random(), 0.6394267984578837);
});

test("seedrandom stream: deterministic, in [0,1), randint inclusive", () => {
  const a = createRng("x");
  const b = createRng("x");
  const xs = Array.from({ length: 1000 }, () => a.random());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b.random()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const r = createRng(3);
  const seen = new Set(Array.from({ length: 500 }, () => r.randint(2, 4)));
  assert.deepEqual([...seen].sort(), [2, 3, 4]);
  assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => createRng("y").random()));
});

test("RNG input errors name the parameter", () => {
  assert.throws(() => createRng(NaN), { name: "TypeError", message: /seed/ });
  assert.throws(() => createPythonRandom(1.5), { name: "RangeError", message: /seed must be an integer, got 1.5/ });
  assert.throws(() => createPythonRandom(1).randint(5, 4), { name: "RangeError", message: /^b must be an integer >= 5, got 4/ });
  assert.throws(() => createPythonRandom(1).getrandbits(0), { name: "RangeError", message: /^k must be/ });
});
