/**
 * moe-lab's throughput model, re-exported under one name: `import { ... } from "./lib/throughput"`.
 *
 * - roofline: one rank's expert time (memory- vs compute-bound) and default efficiency factors;
 * - calibration: the GPU calibration CSV (tools/calibrate_experts.py), its loader, synthetic rows;
 * - fit: fitting the factors to calibration rows, fit error per shape;
 * - published: published kernel timings (DeepGEMM FP8 on H800, XLA BF16 on H100) to check the roofline against;
 * - comm: DeepEP dispatch/combine time;
 * - step: one MoE layer's step under expert parallelism, with its breakdown;
 * - scenario: routed batches, EPLB placement, memory, EPLB net effect, ReaLB what-if.
 * Introduced in notebooks/05-throughput-model.ipynb.
 */
export * from "./roofline";
export * from "./calibration";
export * from "./fit";
export * from "./comm";
export * from "./overlap";
export * from "./step";
export * from "./scenario";
export * from "./report";
export * from "./incident";
export * from "./published";
