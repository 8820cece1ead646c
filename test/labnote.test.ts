import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  LAB_NOTE_DEFAULTS,
  runLabNote,
  formatLabNote,
  formatFixed,
  routeBiasedTop1,
  countLoads,
  summarizeLoads,
  capAndRedistribute,
  normalizedThroughput,
  validateLabNoteParams,
} from "../lib/labnote";
import { createPythonRandom, createRng } from "../lib/rng";
import { imbalanceOverSeeds, imbalanceVsBatchSize } from "../lib/skew";
import { imbalanceSamplesByBatchSize } from "../lib/routing";
import { repoRoot } from "../lib/paths";

/** The "Output" block of the lab note, as published (the seed document, one folder up from the repo). */
function labNoteOutput(): string | null {
  try {
    const dir = join(repoRoot(), "..", "shared", "seeds");
    const file = readdirSync(dir).find((f) => f.startsWith("000_"));
    if (!file) return null;
    const text = readFileSync(join(dir, file), "utf8");
    const start = text.indexOf("=== Baseline (no EPLB) ===");
    const end = text.indexOf("improvement)", start);
    return text.slice(start, end + "improvement)".length) + "\n";
  } catch {
    return null;
  }
}

test("the lab note's printed output comes out of the simulation, line for line", (t) => {
  const r = runLabNote(LAB_NOTE_DEFAULTS, createPythonRandom(42));
  const text = formatLabNote(r, LAB_NOTE_DEFAULTS);
  const published = labNoteOutput();
  if (published === null) t.diagnostic("seed document not found beside the repo: comparing with the numbers in the reference README");
  else assert.equal(text.trimEnd(), published.trimEnd());
  assert.equal(r.maxLoad, 341);
  assert.equal(r.minLoad, 21);
  assert.equal(r.meanLoad, 78.125);
  assert.equal(r.zeroExperts, 0);
  assert.equal(formatFixed(r.eplbMaxLoad, 1), "93.8");
  assert.ok(r.eplbMaxLoad > 1.2 * r.meanLoad, "the note's 'EPLB' max lands above its own cap");
  assert.equal(formatFixed(r.speedup, 2), "3.64");
  assert.equal(r.loads.reduce((a, b) => a + b, 0), 10000);
});

test("a different stream gives a different run (the numbers are not constants)", () => {
  const a = runLabNote(LAB_NOTE_DEFAULTS, createRng(42));
  const b = runLabNote({ ...LAB_NOTE_DEFAULTS, seed: 7 }, createPythonRandom(7));
  assert.notEqual(a.maxLoad === 341 && b.maxLoad === 341, true);
  assert.equal(a.loads.reduce((x, y) => x + y, 0), 10000);
});

test("formatFixed rounds like Python: exact ties to even, everything else by exact value", () => {
  assert.equal(formatFixed(0.125, 2), "0.12");
  assert.equal(formatFixed(0.375, 2), "0.38");
  assert.equal(formatFixed(2.5, 0), "2");
  assert.equal(formatFixed(3.5, 0), "4");
  assert.equal(formatFixed(-2.5, 0), "-2");
  assert.equal(formatFixed(0.1 + 0.2, 1), "0.3");
  assert.equal(formatFixed(263.5, 0), "264");
  assert.equal(formatFixed(78.125, 1), "78.1");
  assert.equal(formatFixed(1.005, 2), "1.00"); // 1.005 is stored below the tie
  assert.equal(formatFixed(5, 2), "5.00");
});

test("routing, counting and summarising are small pure steps", () => {
  const route = routeBiasedTop1(createPythonRandom(42), 10000, 128, 20, 0.6);
  assert.equal(route.length, 10000);
  assert.ok(route.every((e) => e >= 0 && e < 128));
  const loads = countLoads(route, 128);
  const hot = loads.slice(0, 20).reduce((a, b) => a + b, 0);
  assert.ok(hot > 5800 && hot < 6200, `hot share near 60%, got ${hot}`);
  assert.deepEqual(countLoads([0, 2, 2], 3), [1, 0, 2]);
  assert.deepEqual(summarizeLoads([1, 3, 0, 0]), { maxLoad: 3, minLoad: 0, meanLoad: 1, imbalance: 3, zeroExperts: 2 });
  const input = Object.freeze([10, 0, 2]);
  const reb = capAndRedistribute(input, 1.2, 0.5);
  assert.deepEqual(input, [10, 0, 2], "input not mutated");
  assert.equal(reb.cap, 4.8);
  assert.deepEqual(reb.idleExperts, [1]);
  assert.deepEqual(reb.loads, [4.8, 5.2, 2]);
  assert.equal(reb.lostTokens, 0);
  const none = capAndRedistribute([10, 10, 4], 1.2, 0.5);
  assert.equal(none.idleExperts.length, 0);
  assert.ok(none.lostTokens > 0, "without idle experts the note's rebalance loses tokens");
  assert.equal(normalizedThroughput(10000, 341), 10000 / 341);
});

test("hotFraction 1 sends every token to the hot set; 0 to the cold set", () => {
  const all = countLoads(routeBiasedTop1(createRng(1), 500, 10, 3, 1), 10);
  assert.equal(all.slice(0, 3).reduce((a, b) => a + b, 0), 500);
  const none = countLoads(routeBiasedTop1(createRng(1), 500, 10, 3, 0), 10);
  assert.equal(none.slice(0, 3).reduce((a, b) => a + b, 0), 0);
});

test("bad input gets RangeError/TypeError naming the parameter", () => {
  assert.throws(() => validateLabNoteParams({ hotExperts: 128 }), { name: "RangeError", message: /^hotExperts must be an integer >= 1 and <= 127, got 128$/ });
  assert.throws(() => validateLabNoteParams({ hotFraction: 1.5 }), { name: "RangeError", message: /^hotFraction/ });
  assert.throws(() => validateLabNoteParams({ numTokens: 2.5 }), { name: "RangeError", message: /^numTokens must be an integer >= 1, got 2.5$/ });
  assert.throws(() => validateLabNoteParams({ capFactor: 0 }), { name: "RangeError", message: /^capFactor must be a finite number > 0/ });
  assert.throws(() => countLoads([0, 5], 3), { name: "RangeError", message: /^expertOfToken\[1\]/ });
  assert.throws(() => summarizeLoads([]), { name: "RangeError", message: /^loads must have at least 1/ });
  assert.throws(() => summarizeLoads([0, 0]), { name: "RangeError", message: /all zero/ });
  assert.throws(() => summarizeLoads([1, NaN]), { name: "RangeError", message: /^loads\[1\]/ });
  assert.throws(() => routeBiasedTop1({} as never, 1, 2, 1, 0.5), { name: "TypeError", message: /^rng must be/ });
  assert.throws(() => normalizedThroughput(1, 0), { name: "RangeError", message: /^maxLoad/ });
});

test("sweeps: seed 42 is reproduced; imbalance falls with batch size and never below the skew limit on average", () => {
  const seeds = imbalanceOverSeeds(LAB_NOTE_DEFAULTS, [42, 43], createPythonRandom);
  assert.equal(seeds[0], 341 / 78.125);
  const rows = imbalanceVsBatchSize(LAB_NOTE_DEFAULTS, [64, 4096], 10, createRng(1));
  assert.equal(rows[0].expectedLimit, (0.6 / 20) * 128);
  assert.ok(rows[0].meanImbalance > rows[1].meanImbalance);
  assert.ok(rows[1].meanImbalance > rows[1].expectedLimit);
  assert.ok(rows[0].p5 <= rows[0].meanImbalance && rows[0].meanImbalance <= rows[0].p95);
  assert.deepEqual(imbalanceVsBatchSize(LAB_NOTE_DEFAULTS, [64], 3, createRng(9)), imbalanceVsBatchSize(LAB_NOTE_DEFAULTS, [64], 3, createRng(9)));
  assert.throws(() => imbalanceVsBatchSize(LAB_NOTE_DEFAULTS, [0], 3, createRng(1)), { name: "RangeError", message: /^batchTokens\[0\]/ });
  assert.throws(() => imbalanceVsBatchSize(LAB_NOTE_DEFAULTS, [64, 2.5], 3, createRng(1)), { name: "RangeError", message: /^batchTokens\[1\] must be an integer >= 1, got 2.5/ });
  assert.throws(() => imbalanceVsBatchSize(LAB_NOTE_DEFAULTS, [64], 0, createRng(1)), { name: "RangeError", message: /^trials must be an integer >= 1, got 0/ });
});

test("imbalanceVsBatchSize is the generic sweep of lib/routing on the lab note's router, with percentiles", () => {
  const p = LAB_NOTE_DEFAULTS;
  const route = (r: ReturnType<typeof createRng>, n: number) => ({ loads: countLoads(routeBiasedTop1(r, n, p.numExperts, p.hotExperts, p.hotFraction), p.numExperts) });
  const samples = imbalanceSamplesByBatchSize(createRng(5), route, [16, 256], 20);
  const rows = imbalanceVsBatchSize(p, [16, 256], 20, createRng(5));
  rows.forEach((row, i) => {
    const xs = samples[i].imbalances;
    const sorted = [...xs].sort((a, b) => a - b);
    assert.equal(row.batchTokens, samples[i].batchTokens);
    assert.ok(Math.abs(row.meanImbalance - xs.reduce((a, b) => a + b, 0) / xs.length) <= 1e-12);
    // Linear interpolation (R type 7, numpy's default): with 20 trials p5 sits at sorted position
    // 19 x 0.05 = 0.95, p95 at 19 x 0.95 = 18.05.
    assert.ok(Math.abs(row.p5 - (sorted[0] + 0.95 * (sorted[1] - sorted[0]))) <= 1e-12, `p5 ${row.p5}`);
    assert.ok(Math.abs(row.p95 - (sorted[18] + 0.05 * (sorted[19] - sorted[18]))) <= 1e-12, `p95 ${row.p95}`);
  });
  // One token on the note's 128 experts: max 1, mean 1/128, whichever expert it picks.
  assert.deepEqual(imbalanceVsBatchSize(p, [1], 3, createRng(2)).map((r) => [r.meanImbalance, r.p5, r.p95]), [[128, 128, 128]]);
});
