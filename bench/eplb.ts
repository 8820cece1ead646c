/**
 * Benchmark: DeepSeek EPLB (`rebalanceExperts`) on DeepSeek-V3-sized inputs: 58 MoE layers x 256
 * experts into 288 slots, hierarchical (32 GPUs, 4 nodes, 8 groups) and global (144 GPUs).
 * Compared with eplb.py's wall time on the same shapes (torch, one thread: 0.24 s and 2.0 s,
 * data/eplb/SOURCE.md) and with the naive transcription (lib/eplb/naive.ts) measured in this run.
 */
import { BenchSection, time, report } from "./harness";
import { rebalanceExperts } from "../lib/eplb";
import { rebalanceExpertsNaive } from "../lib/eplb/naive";
import { createRng } from "../lib/rng";

/** Seeded Zipf-like loads: per layer, a random permutation of experts gets 1e5 / rank^1.1 tokens (+ noise). */
function zipfLikeWeight(seed: number, numLayers: number, numExperts: number): number[][] {
  const rng = createRng(seed);
  const weight: number[][] = [];
  for (let l = 0; l < numLayers; l++) {
    const perm = Array.from({ length: numExperts }, (_, i) => i);
    for (let i = numExperts - 1; i > 0; i--) {
      const j = rng.randint(0, i);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const row = new Array<number>(numExperts);
    perm.forEach((e, rank) => (row[e] = Math.round((1e5 / Math.pow(rank + 1, 1.1)) * (0.8 + 0.4 * rng.random()))));
    weight.push(row);
  }
  return weight;
}

const TARGET_SPEEDUP = 20;
const CASES = [
  { name: "hierarchical: 288 slots, 32 GPUs, 4 nodes, 8 groups", groups: 8, nodes: 4, gpus: 32, eplbPySeconds: 0.24 },
  { name: "global: 288 slots, 144 GPUs", groups: 1, nodes: 2, gpus: 144, eplbPySeconds: 2.0 },
];

export const eplbBench: BenchSection = {
  title: "EPLB rebalanceExperts (58 layers x 256 experts -> 288 slots)",
  run() {
    const weight = zipfLikeWeight(2025, 58, 256);
    for (const c of CASES) {
      const fast = time(() => rebalanceExperts(weight, 288, c.groups, c.nodes, c.gpus), 21, 20);
      const naive = time(() => rebalanceExpertsNaive(weight, 288, c.groups, c.nodes, c.gpus), 11, 5);
      console.log(`  -- ${c.name}`);
      report({ name: "rebalanceExperts", value: fast.medianSeconds, unit: "s" });
      report({ name: "naive transcription (same run)", value: naive.medianSeconds, unit: "s" });
      report({ name: "ratio naive / rebalanceExperts", value: naive.medianSeconds / fast.medianSeconds, unit: "x" });
      report({
        name: `speedup vs eplb.py (${c.eplbPySeconds} s, torch, 1 thread)`,
        value: c.eplbPySeconds / fast.medianSeconds,
        unit: "x",
        target: { value: TARGET_SPEEDUP, higherIsBetter: true },
      });
    }
  },
};
