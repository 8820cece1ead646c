/**
 * lib/eplb.ts against DeepSeek's eplb.py: every reference case in data/eplb/ (outputs, the
 * intermediate packing/replication calls, per-GPU loads and metrics), and bad input.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "fs";
import { dataPath, readDataJson } from "../lib/paths";
import {
  rebalanceExperts,
  balancedPacking,
  replicateExperts,
  gpuLoads,
  initialPlacement,
  balanceMetrics,
  eplbPolicy,
  placementFromPhy2log,
  layerPlacement,
  routedGpuLoads,
  validateEplbParams,
} from "../lib/eplb";
import { balancednessSglang, balancednessVllm, modelBalance } from "../lib/metrics";

interface CaseInputs {
  weight: number[][];
  num_replicas: number;
  num_groups: number;
  num_nodes: number;
  num_gpus: number;
}
interface Metrics {
  per_layer: Array<{ mean: number; max: number; balancedness_mean_over_max: number; imbalance_max_over_mean: number }>;
  aggregate_vllm_style_sum_mean_over_sum_max: number;
  aggregate_sglang_style_mean_of_layer_ratios: number;
  worst_layer_max_over_mean: number;
}
interface Intermediate {
  fn: "balanced_packing" | "replicate_experts";
  num_packs?: number;
  num_phy?: number;
  weight: number[][];
  pack_index?: number[][];
  rank_in_pack?: number[][];
  phy2log?: number[][];
  rank?: number[][];
  logcnt?: number[][];
}
interface RefCase {
  name: string;
  policy: "hierarchical" | "global";
  inputs: CaseInputs;
  outputs?: { phy2log: number[][]; log2phy: number[][][]; logcnt: number[][] };
  intermediates?: Intermediate[];
  derived?: {
    phyrank: number[][];
    per_gpu_load_before: number[][];
    per_gpu_load_after: number[][];
    per_gpu_load_before_no_redundancy_contiguous?: number[][];
    metrics_before: Metrics;
    metrics_after: Metrics;
  };
  tie_analysis?: { stable_port_outputs: { phy2log: number[][]; log2phy: number[][][] } | null };
  error?: { type: string; failing_line: string };
}

const files = readdirSync(dataPath("eplb")).filter((f) => f.endsWith(".json")).sort();
const cases = files.map((f) => readDataJson<RefCase>("eplb", f));
const okCases = cases.filter((c) => !c.error);
const errCases = cases.filter((c) => c.error);

function run(c: RefCase) {
  const i = c.inputs;
  return rebalanceExperts(i.weight, i.num_replicas, i.num_groups, i.num_nodes, i.num_gpus);
}

/** Relative closeness: per-GPU loads are float64 sums of float32 slot loads in the reference. */
function assertClose(actual: number[][], expected: number[][], relTol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: row count`);
  actual.forEach((row, r) => {
    assert.equal(row.length, expected[r].length, `${what}[${r}]: length`);
    row.forEach((x, k) => {
      const e = expected[r][k];
      assert.ok(Math.abs(x - e) <= relTol * Math.max(1, Math.abs(e)), `${what}[${r}][${k}]: ${x} vs ${e}`);
    });
  });
}

function assertMetricsClose(actual: ReturnType<typeof balanceMetrics>, expected: Metrics, what: string): void {
  const close = (a: number, e: number, n: string) => assert.ok(Math.abs(a - e) <= 1e-6 * Math.max(1, Math.abs(e)), `${what} ${n}: ${a} vs ${e}`);
  close(actual.vllm, expected.aggregate_vllm_style_sum_mean_over_sum_max, "vllm");
  close(actual.sglang, expected.aggregate_sglang_style_mean_of_layer_ratios, "sglang");
  close(actual.worstImbalance, expected.worst_layer_max_over_mean, "worst");
  actual.perLayer.forEach((l, k) => {
    const e = expected.per_layer[k];
    close(l.mean, e.mean, `layer ${k} mean`);
    close(l.max, e.max, `layer ${k} max`);
    close(l.balancedness, e.balancedness_mean_over_max, `layer ${k} balancedness`);
    close(l.imbalance, e.imbalance_max_over_mean, `layer ${k} imbalance`);
  });
}

describe("reference cases from eplb.py (data/eplb)", () => {
  test("the data folder holds every case, including the error case", () => {
    assert.ok(okCases.length >= 8, `expected >= 8 valid cases, got ${okCases.length}`);
    assert.ok(errCases.length >= 1, "expected an error case");
  });

  for (const c of okCases) {
    describe(c.name, () => {
      const expected = c.tie_analysis?.stable_port_outputs ?? c.outputs!;
      const got = run(c);

      test("policy", () => {
        assert.equal(eplbPolicy(c.inputs.num_groups, c.inputs.num_nodes), c.policy);
      });
      test(`phy2log equals ${c.tie_analysis?.stable_port_outputs ? "stable_port_outputs" : "eplb.py"}`, () => {
        assert.deepEqual(got.phy2log, expected.phy2log);
      });
      test("log2phy equals the reference (replica-creation order, -1 padded)", () => {
        assert.deepEqual(got.log2phy, expected.log2phy);
      });
      test("logcnt equals eplb.py", () => {
        assert.deepEqual(got.logcnt, c.outputs!.logcnt);
      });
      test("logcnt is the count of each expert in phy2log", () => {
        got.phy2log.forEach((row, l) => {
          const cnt = new Array<number>(c.inputs.weight[0].length).fill(0);
          for (const e of row) cnt[e]++;
          assert.deepEqual(cnt, got.logcnt[l]);
        });
      });
      test("per-GPU loads after equal the reference", () => {
        assertClose(gpuLoads(c.inputs.weight, got.phy2log, c.inputs.num_gpus), c.derived!.per_gpu_load_after, 1e-6, "after");
      });
      test("per-GPU loads before (vLLM initial layout) equal the reference", () => {
        const E = c.inputs.weight[0].length;
        const before = gpuLoads(c.inputs.weight, initialPlacement(E, c.inputs.num_replicas), c.inputs.num_gpus);
        assertClose(before, c.derived!.per_gpu_load_before, 1e-9, "before");
        const contiguous = c.derived!.per_gpu_load_before_no_redundancy_contiguous;
        if (contiguous) assertClose(gpuLoads(c.inputs.weight, initialPlacement(E, E), c.inputs.num_gpus), contiguous, 1e-9, "contiguous");
      });
      test("balancedness metrics before and after equal the reference", () => {
        const E = c.inputs.weight[0].length;
        const before = gpuLoads(c.inputs.weight, initialPlacement(E, c.inputs.num_replicas), c.inputs.num_gpus);
        assertMetricsClose(balanceMetrics(before), c.derived!.metrics_before, "before");
        assertMetricsClose(balanceMetrics(gpuLoads(c.inputs.weight, got.phy2log, c.inputs.num_gpus)), c.derived!.metrics_after, "after");
      });
      test("intermediate steps: balanced_packing and replicate_experts calls", () => {
        const steps = c.intermediates ?? [];
        assert.equal(steps.length, 3);
        for (const s of steps) {
          if (s.fn === "balanced_packing") {
            const r = balancedPacking(s.weight, s.num_packs!);
            // The last packing (replicas -> GPUs) is where ties may differ from eplb.py's unstable sort.
            if (!c.tie_analysis?.stable_port_outputs) {
              assert.deepEqual(r.packIndex, s.pack_index);
              assert.deepEqual(r.rankInPack, s.rank_in_pack);
            } else {
              // Same pack loads even where tie order differs.
              const loads = (pi: number[][]) => pi.map((row, k) => {
                const out = new Array<number>(s.num_packs!).fill(0);
                row.forEach((p, j) => (out[p] += s.weight[k][j]));
                return out;
              });
              assertClose(loads(r.packIndex), loads(s.pack_index!), 1e-9, "pack loads");
            }
          } else {
            const r = replicateExperts(s.weight, s.num_phy!);
            assert.deepEqual(r.phy2log, s.phy2log);
            assert.deepEqual(r.rank, s.rank);
            assert.deepEqual(r.logcnt, s.logcnt);
          }
        }
      });
      test("phyrank (replica number of each slot) matches the reference where outputs are eplb.py's", () => {
        if (c.tie_analysis?.stable_port_outputs) return;
        const phyrank = got.phy2log.map((row, l) => row.map((e, s) => got.log2phy[l][e].indexOf(s)));
        assert.deepEqual(phyrank, c.derived!.phyrank);
      });
    });
  }

  for (const c of errCases) {
    test(`${c.name} is rejected naming the violated condition`, () => {
      assert.throws(() => run(c), (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.match(e.message, /numReplicas must be divisible by numGpus/);
        assert.match(e.message, /288/);
        assert.match(e.message, /64/);
        return true;
      });
    });
  }
});

describe("bad input", () => {
  const w = [[5, 1, 3, 2]];
  const throwsNaming = (fn: () => unknown, type: typeof RangeError | typeof TypeError, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof type, `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      assert.match((e as Error).message, pattern);
      return true;
    });

  test("negative load", () => throwsNaming(() => rebalanceExperts([[5, -1, 3, 2]], 4, 1, 1, 1), RangeError, /weight\[0\]\[1\].*>= 0.*-1/));
  test("NaN load", () => throwsNaming(() => rebalanceExperts([[5, NaN, 3, 2]], 4, 1, 1, 1), RangeError, /weight\[0\]\[1\].*NaN/));
  test("non-number load", () => throwsNaming(() => rebalanceExperts([[5, "1" as unknown as number, 3, 2]], 4, 1, 1, 1), TypeError, /weight\[0\]\[1\]/));
  test("weight not a matrix", () => throwsNaming(() => rebalanceExperts(5 as unknown as number[][], 4, 1, 1, 1), TypeError, /weight/));
  test("ragged rows", () => throwsNaming(() => rebalanceExperts([[1, 2, 3, 4], [1, 2, 3]], 4, 1, 1, 1), RangeError, /weight must be rectangular/));
  test("replicas < experts", () => throwsNaming(() => rebalanceExperts(w, 3, 1, 1, 1), RangeError, /numReplicas must be >= .*\(4\).*got 3/));
  test("replicas not divisible by GPUs", () => throwsNaming(() => rebalanceExperts(w, 6, 1, 1, 4), RangeError, /numReplicas must be divisible by numGpus.*6.*4/));
  test("GPUs not divisible by nodes", () => throwsNaming(() => rebalanceExperts(w, 6, 2, 2, 3), RangeError, /numGpus must be divisible by numNodes.*numGpus=3, numNodes=2/));
  test("experts not divisible by groups", () => throwsNaming(() => rebalanceExperts(w, 4, 3, 1, 1), RangeError, /numGroups must divide.*\(4\).*numGroups=3/));
  test("non-integer counts", () => {
    throwsNaming(() => rebalanceExperts(w, 4.5, 1, 1, 1), RangeError, /numReplicas must be an integer/);
    throwsNaming(() => rebalanceExperts(w, 4, 0, 1, 1), RangeError, /numGroups must be an integer >= 1, got 0/);
    throwsNaming(() => rebalanceExperts(w, 4, 1, 1, "2" as unknown as number), TypeError, /numGpus/);
  });
  test("empty weight", () => throwsNaming(() => rebalanceExperts([], 4, 1, 1, 1), RangeError, /weight must have at least 1 row/));
  test("helpers validate too", () => {
    throwsNaming(() => balancedPacking([[1, 2, 3]], 2), RangeError, /numPacks must divide.*\(3\)/);
    throwsNaming(() => replicateExperts([[1, 2, 3]], 2), RangeError, /numPhysical must be an integer >= 3, got 2/);
    throwsNaming(() => gpuLoads([[1, 2]], [0, 0], 1), RangeError, /expert 1 has none/);
    throwsNaming(() => gpuLoads([[1, 2]], [0, 1, 1], 2), RangeError, /numGpus must divide the number of slots \(3\)/);
    throwsNaming(() => initialPlacement(4, 3), RangeError, /numReplicas must be an integer >= 4, got 3/);
    throwsNaming(() => routedGpuLoads([0, 5], placementFromPhy2log([0, 1], 2), 1), RangeError, /expertIds\[1\]/);
    throwsNaming(() => routedGpuLoads([0], placementFromPhy2log([0, 1], 2), 1, "random" as "even"), RangeError, /replicaChoice/);
    throwsNaming(() => validateEplbParams(4, { numReplicas: 4, numGroups: 1, numNodes: 1, numGpus: -1 }), RangeError, /numGpus/);
  });
  test("inputs are not mutated", () => {
    const weight = [[9, 1, 4, 4, 0, 2, 7, 3]];
    Object.freeze(weight);
    Object.freeze(weight[0]);
    const copy = JSON.stringify(weight);
    rebalanceExperts(weight, 12, 2, 2, 4);
    assert.equal(JSON.stringify(weight), copy);
  });
});

describe("small exact examples", () => {
  test("balancedPacking: greedy into the lightest pack with room; identity with one item per pack", () => {
    assert.deepEqual(balancedPacking([[4, 3, 2, 1]], 2), { packIndex: [[0, 1, 1, 0]], rankInPack: [[0, 0, 1, 1]] });
    assert.deepEqual(balancedPacking([[1, 5, 3]], 3), { packIndex: [[0, 1, 2]], rankInPack: [[0, 0, 0]] });
  });
  test("balancedPacking ties: equal items in index order, equal packs lowest index first", () => {
    assert.deepEqual(balancedPacking([[2, 2, 2, 2]], 2).packIndex, [[0, 1, 0, 1]]);
  });
  test("replicateExperts: next replica to the highest load per replica, ties to the lowest index", () => {
    assert.deepEqual(replicateExperts([[10, 4]], 3).phy2log, [[0, 1, 0]]);
    assert.deepEqual(replicateExperts([[6, 6, 1]], 5), { phy2log: [[0, 1, 2, 0, 1]], rank: [[0, 0, 0, 1, 1]], logcnt: [[2, 2, 1]] });
  });
  test("float32 arithmetic: a sum that rounds differently in float64 decides the packing", () => {
    // In float32, 16777216 + 1 = 16777216: groups 0 and 1 tie and the lower index goes first.
    // In float64, group 1 (16777217) would be heavier and go to node 0 instead.
    const w = [[16777216, 0, 16777216, 1, 5, 0, 5, 0]];
    const r = rebalanceExperts(w, 8, 4, 2, 2);
    // Node 0 gets groups 0 and 2 (experts 0, 1, 4, 5); float64 would give it groups 1 and 3.
    assert.deepEqual(r.phy2log[0].slice(0, 4), [0, 4, 1, 5]);
  });
  test("initialPlacement, placementFromPhy2log, layerPlacement", () => {
    assert.deepEqual(initialPlacement(4, 6), [0, 1, 2, 3, 0, 1]);
    assert.deepEqual(placementFromPhy2log([0, 1, 0], 2), { phy2log: [0, 1, 0], log2phy: [[0, 2], [1, -1]], logcnt: [2, 1] });
    assert.deepEqual(layerPlacement(rebalanceExperts([[3, 1]], 3, 1, 1, 1), 0).logcnt, [2, 1]);
  });
  test("gpuLoads: even split over replicas", () => {
    assert.deepEqual(gpuLoads([[6, 2]], [[0, 1, 0, 0]], 2), [[4, 4]]);
  });
  test("routedGpuLoads: vLLM's position rule and the even split", () => {
    const p = placementFromPhy2log([0, 1, 0, 1], 2);
    assert.deepEqual(routedGpuLoads([0, 0, 0, 1], p, 2, "position"), [2, 2]);
    assert.deepEqual(routedGpuLoads([0, 0, 0, 1], p, 2, "even"), [2, 2]);
    assert.deepEqual(routedGpuLoads([0, 0, 0, 0], placementFromPhy2log([0, 1, 0, 1], 2), 2, "position"), [2, 2]);
    assert.deepEqual(routedGpuLoads([0, 0, 0], placementFromPhy2log([0, 0, 1, 1], 2), 2, "position"), [3, 0]);
  });
  test("balanceMetrics: vLLM and SGLang aggregates", () => {
    const m = balanceMetrics([[2, 4], [3, 3]]);
    assert.equal(m.vllm, (3 + 3) / (4 + 3));
    assert.equal(m.sglang, ((3 + 1e-5) / (4 + 1e-5) + 1) / 2);
    assert.equal(m.worstImbalance, 4 / 3);
  });
  test("balanceMetrics is lib/metrics' modelBalance: same numbers, same all-zero rule", () => {
    const cases = [[[2, 4], [3, 3]], [[0, 0], [1, 3]], [[0, 0, 0]], [[0, 0], [0, 0]], [[0.1, 0.2, 0.3], [0.7, 1e-9, 3]]];
    for (const loads of cases) {
      const m = balanceMetrics(loads);
      assert.deepEqual(m, modelBalance(loads), JSON.stringify(loads));
      assert.equal(m.vllm, balancednessVllm(loads));
      assert.equal(m.sglang, balancednessSglang(loads));
    }
    // All-zero rule: idle GPUs are perfectly balanced, 1 and never 0 or NaN, per layer and overall.
    const idle = balanceMetrics([[0, 0, 0, 0]]);
    assert.deepEqual(idle.perLayer, [{ mean: 0, max: 0, balancedness: 1, imbalance: 1 }]);
    assert.equal(idle.vllm, 1);
    assert.equal(idle.sglang, 1);
    assert.equal(idle.worstImbalance, 1);
    assert.throws(() => balanceMetrics([[1, -1]]), { name: "RangeError", message: /^loads\[0\]\[1\]/ });
    assert.throws(() => balanceMetrics([[1, 2], [3]]), { name: "RangeError", message: /^loads must be rectangular/ });
  });
});
