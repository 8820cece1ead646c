import { test } from "node:test";
import assert from "node:assert/strict";
import { getGpu, loadHardware } from "../lib/hardware";
import { loadModel } from "../lib/models";
import { createRng } from "../lib/rng";
import { countParameters } from "../lib/params";
import {
  DEFAULT_FACTORS,
  allToAllTime,
  attentionTime,
  DEEPEP_NORMAL_KERNEL_SMS,
  kvBytesPerElement,
  expectedDestinations,
  attributeSlowdown,
  denseFallbackStep,
  paramsDtype,
  runFields,
  eplbNetEffect,
  scenarioMemory,
  expertTimeCurve,
  expertWeightBytes,
  fitErrorReport,
  fitRoofline,
  groupedLoads,
  interpolateOnEp,
  loadCalibration,
  parseCalibrationCsv,
  rankExpertTime,
  rankWorkFromLoads,
  realbWhatIf,
  ridgeTokens,
  runScenario,
  solveScale,
  stepModelFromSpec,
  stepTime,
  syntheticCalibrationRows,
  twoBatchOverlap,
} from "../lib/throughput";
import { runCli } from "./helpers";

const gpu = getGpu("h100");
const hw = loadHardware();
const DSV3 = { hiddenSize: 7168, intermediateSize: 2048 };
const SHAPES = [
  { hiddenSize: 5120, intermediateSize: 8192 },
  DSV3,
  { hiddenSize: 4096, intermediateSize: 1536 },
  { hiddenSize: 4096, intermediateSize: 14336 },
];
const TOKENS = Array.from({ length: 15 }, (_, i) => 2 ** i); // 1 .. 16384
const close = (a: number, b: number, rel: number, msg?: string): void => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), msg ?? `${a} vs ${b} (rel ${rel})`);

test("roofline: flat memory-bound plateau at small token counts", () => {
  const [t1, t8, t64] = expertTimeCurve(DSV3, gpu, [1, 8, 64]).map((p) => p.seconds);
  // weight read: 88,080,384 bytes / (3.35e12 x 0.8) = 32.87 us, plus 10 us overhead
  close(t1, 88080384 / (3.35e12 * 0.8) + 10e-6, 1e-3);
  close(t64, t1, 0.03, "64 tokens cost about the same as 1");
  assert.ok(t8 >= t1);
  assert.equal(rankExpertTime({ tokens: 8, activeExperts: 1 }, DSV3, gpu).bound, "memory");
});

test("roofline: linear compute slope at large token counts", () => {
  const [a, b] = expertTimeCurve(DSV3, gpu, [8192, 16384]).map((p) => p.seconds - DEFAULT_FACTORS.overheadSeconds);
  close(b / a, 2, 1e-9);
  close(a, (8192 * 6 * 7168 * 2048) / (989.4e12 * 0.7), 1e-9);
  assert.equal(rankExpertTime({ tokens: 8192, activeExperts: 1 }, DSV3, gpu).bound, "compute");
  close(ridgeTokens(DSV3, gpu), 258.425, 1e-4);
});

test("roofline: only experts that got tokens are read; precision halves bytes", () => {
  const one = rankExpertTime({ tokens: 16, activeExperts: 1 }, DSV3, gpu);
  const sixteen = rankExpertTime({ tokens: 16, activeExperts: 16 }, DSV3, gpu);
  close(sixteen.memorySeconds / one.memorySeconds, 16, 0.01);
  assert.equal(expertWeightBytes(DSV3, "fp8") * 2, expertWeightBytes(DSV3, "bf16"));
  assert.ok(rankExpertTime({ tokens: 16, activeExperts: 16 }, DSV3, gpu, DEFAULT_FACTORS, "fp8").seconds < sixteen.seconds);
});

test("roofline: bad input is rejected naming the parameter", () => {
  assert.throws(() => rankExpertTime({ tokens: -1, activeExperts: 0 }, DSV3, gpu), /work\.tokens must be a finite number >= 0, got -1/);
  assert.throws(() => rankExpertTime({ tokens: 0, activeExperts: 2 }, DSV3, gpu), /activeExperts must be 0/);
  assert.throws(() => expertTimeCurve({ hiddenSize: 0, intermediateSize: 1 }, gpu, [1]), /shape\.hiddenSize must be an integer >= 1, got 0/);
  assert.throws(() => expertTimeCurve(DSV3, gpu, [1.5]), RangeError);
  assert.throws(() => rankExpertTime({ tokens: 1, activeExperts: 1 }, DSV3, gpu, { memoryEfficiency: 1.5, computeEfficiency: 0.5, overheadSeconds: 0 }), /memoryEfficiency must be/);
});

test("groupedLoads: balanced, skewed (1/(i+1)) and single, summing to the total", () => {
  assert.deepEqual(groupedLoads("balanced", 10, 4), [3, 3, 2, 2]);
  assert.deepEqual(groupedLoads("skewed", 10, 4), [5, 3, 1, 1]);
  assert.deepEqual(groupedLoads("single", 10, 4), [10, 0, 0, 0]);
  for (const p of ["balanced", "skewed", "single"] as const) assert.equal(groupedLoads(p, 1000, 16).reduce((a, b) => a + b, 0), 1000);
  assert.throws(() => groupedLoads("skewed", -1, 4), RangeError);
});

test("fitRoofline recovers known factors exactly from noiseless synthetic rows", () => {
  const truth = { memoryEfficiency: 0.83, computeEfficiency: 0.62, overheadSeconds: 14e-6 };
  const rows = syntheticCalibrationRows(gpu, { shapes: SHAPES, tokenCounts: TOKENS, factors: truth });
  assert.equal(rows.length, 4 * 15 * 4); // single + 3 grouped patterns per shape
  const fit = fitRoofline(rows, gpu);
  close(fit.factors.memoryEfficiency, 0.83, 1e-6);
  close(fit.factors.computeEfficiency, 0.62, 1e-6);
  close(fit.factors.overheadSeconds, 14e-6, 1e-6);
  assert.ok(fit.maxAbsRelativeError < 1e-9);
  assert.ok(fit.memoryBoundRows > 0 && fit.computeBoundRows > 0);
});

test("fitRoofline recovers factors within 2% from rows with 5% seeded noise, and the error report meets the targets", () => {
  const truth = { memoryEfficiency: 0.75, computeEfficiency: 0.68, overheadSeconds: 8e-6 };
  const rows = syntheticCalibrationRows(gpu, { shapes: SHAPES, tokenCounts: TOKENS, factors: truth, noise: 0.05, rng: createRng(7) });
  const fit = fitRoofline(rows, gpu);
  close(fit.factors.memoryEfficiency, 0.75, 0.02);
  close(fit.factors.computeEfficiency, 0.68, 0.02);
  close(fit.factors.overheadSeconds, 8e-6, 0.2);
  const report = fitErrorReport(rows, gpu, fit.factors);
  assert.equal(report.length, 16);
  for (const g of report) {
    assert.ok(g.withinTarget, `${g.kind} ${g.hiddenSize}x${g.intermediateSize} ${g.loadPattern}: ${g.maxAbsRelativeError}`);
    assert.ok(g.maxAbsRelativeError <= 0.12);
  }
});

test("fitRoofline is deterministic and rejects too few rows; a wrong model shows in the report", () => {
  const rows = syntheticCalibrationRows(gpu, { shapes: [DSV3], tokenCounts: TOKENS, groupedExperts: 0 });
  assert.deepEqual(fitRoofline(rows, gpu), fitRoofline(rows, gpu));
  assert.throws(() => fitRoofline(rows.slice(0, 2), gpu), /at least 3 items/);
  const report = fitErrorReport(rows, gpu, { memoryEfficiency: 0.4, computeEfficiency: 0.7, overheadSeconds: 10e-6 });
  assert.equal(report[0].withinTarget, false);
});

test("parseCalibrationCsv reads provenance and rows; names file and line on errors", () => {
  const csv = [
    "# gpu: NVIDIA H100 80GB HBM3",
    "# torch: 2.5.1",
    "kind,dtype,hidden,intermediate,num_experts,load_pattern,total_tokens,active_experts,max_expert_tokens,median_us,p10_us,p90_us,repeats",
    "single,bf16,7168,2048,1,single,1,1,1,42.5,41,44,50",
    "grouped,bf16,7168,2048,16,skewed,10,4,5,120,118,125,50",
    "single,fp8,7168,2048,1,single,1,1,1,30,29,31,50",
    "single,int8,7168,2048,1,single,1,1,1,25,24,26,50",
  ].join("\n");
  const f = parseCalibrationCsv(csv, "h100.csv");
  assert.equal(f.meta.gpu, "NVIDIA H100 80GB HBM3");
  assert.deepEqual(f.rows.map((r) => r.precision), ["bf16", "bf16", "fp8"], "bf16 and fp8 rows kept with their precision; int8 skipped");
  assert.deepEqual(f.rows[1], { kind: "grouped", precision: "bf16", hiddenSize: 7168, intermediateSize: 2048, numExperts: 16, loadPattern: "skewed", totalTokens: 10, activeExperts: 4, maxExpertTokens: 5, medianSeconds: 120e-6 });
  assert.throws(() => parseCalibrationCsv(csv.replace("42.5", "x"), "h100.csv"), /h100\.csv line 4: median_us must be a non-negative number, got "x"/);
  assert.throws(() => parseCalibrationCsv("kind,dtype\n", "a.csv"), /a\.csv line 1: header must have column hidden/);
  const set = loadCalibration();
  assert.equal(set.directory, "data/calibration");
  assert.equal(set.present, set.files.length > 0);
  if (!set.present) assert.match(set.message, /no calibration CSV/);
});

test("all-to-all: DeepEP interpolation, kernel choice, EP1 costs nothing, hot ranks receive more", () => {
  assert.equal(interpolateOnEp([{ ep: 8, v: 100 }, { ep: 32, v: 50 }], 16, (r) => r.v), 75);
  const ll = allToAllTime({ tokensPerRank: 128, topK: 8, hiddenSize: 7168, ep: 32 }, hw.deepep);
  assert.equal(ll.kernel, "lowLatency");
  // DeepEP measured 155 us dispatch at this point; bytes / 48 GB/s + 10 us
  close(ll.dispatchSeconds, (128 * 8 * (7168 + 224)) / 48e9 + 10e-6, 1e-9);
  close(ll.dispatchSeconds, 155e-6, 0.1);
  assert.equal(allToAllTime({ tokensPerRank: 4096, topK: 8, hiddenSize: 7168, ep: 32 }, hw.deepep).kernel, "normal");
  assert.equal(allToAllTime({ tokensPerRank: 128, topK: 8, hiddenSize: 7168, ep: 1 }, hw.deepep).seconds, 0);
  const hot = allToAllTime({ tokensPerRank: 128, topK: 8, hiddenSize: 7168, ep: 32, maxReceivedCopies: 4096 }, hw.deepep);
  assert.ok(hot.seconds > ll.seconds * 3);
});

test("all-to-all inside a node: the normal kernels' EP <= 8 row scales with NVLink bandwidth, nothing else does", () => {
  const at = (ep: number, tokens: number, gpu: string) =>
    allToAllTime({ tokensPerRank: tokens, topK: 8, hiddenSize: 7168, ep, nvlinkBidirGBps: getGpu(gpu).nvlinkBidirGBps }, hw.deepep);
  assert.equal(hw.deepep.measuredOn, "h800");
  assert.equal(hw.deepep.measuredOnNvlinkBidirGBps, 400);
  const h800 = at(8, 4096, "h800");
  const h100 = at(8, 4096, "h100");
  assert.deepEqual([h800.kernel, h800.nvlinkScale, h800.dispatchGBps, h800.combineGBps], ["normal", 1, 153, 158]);
  assert.deepEqual([h100.nvlinkScale, h100.dispatchGBps, h100.combineGBps], [2.25, 153 * 2.25, 158 * 2.25]);
  assert.equal(h100.dispatchBytes, h800.dispatchBytes);
  close(h100.dispatchSeconds - 10e-6, (h800.dispatchSeconds - 10e-6) / 2.25, 1e-9);
  // Without a GPU's NVLink figure nothing is scaled (the tables' own GPU).
  assert.equal(allToAllTime({ tokensPerRank: 4096, topK: 8, hiddenSize: 7168, ep: 8 }, hw.deepep).dispatchGBps, 153);
  // Across nodes (EP 16+) and for the low-latency kernels the NIC or latency bounds: no scaling.
  assert.deepEqual([at(16, 4096, "h100").nvlinkScale, at(16, 4096, "h100").dispatchGBps], [1, 43]);
  assert.deepEqual([at(8, 128, "h100").kernel, at(8, 128, "h100").nvlinkScale, at(8, 128, "h100").dispatchGBps], ["lowLatency", 1, 98]);
  assert.throws(() => allToAllTime({ tokensPerRank: 1, topK: 8, hiddenSize: 7168, ep: 8, nvlinkBidirGBps: 0 }, hw.deepep), /nvlinkBidirGBps must be a finite number > 0, got 0/);
  // stepTime passes the GPU's NVLink: an H100 EP8 prefill spends less on communication than an H800 one.
  const dsv3 = stepModelFromSpec(loadModel("deepseek-v3"));
  const step = (gpu: string) => stepTime({ model: dsv3, gpu: getGpu(gpu), deepep: hw.deepep, ep: 8, batchTokens: 8 * 4096, mode: "prefill", contextTokens: 4096 });
  assert.ok(step("h100").communicationSeconds < step("h800").communicationSeconds / 2);
  assert.deepEqual([step("h100").allToAllNvlinkScale, step("h800").allToAllNvlinkScale], [2.25, 1]);
  // The CLI says when it scaled the row, and only then.
  const cli = (ep: string) => runCli(["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", ep, "--tokens", String(4096 * Number(ep)), "--mode", "prefill"]);
  assert.match(cli("8").stdout, /communication .*DeepEP normal, H800 intranode row x 2\.25 for NVLink\)/);
  assert.doesNotMatch(cli("32").stdout, /intranode row/);
});

test("rankWorkFromLoads: contiguous and replicated placements; EP must divide the slots", () => {
  assert.deepEqual(rankWorkFromLoads([6, 0, 2, 2], 2), [{ tokens: 6, activeExperts: 1 }, { tokens: 4, activeExperts: 2 }]);
  // expert 0 replicated twice: its 6 tokens split 3 + 3 over ranks 0 and 1
  assert.deepEqual(rankWorkFromLoads([6, 0, 2, 2], 2, [0, 1, 2, 0, 3, 1]), [{ tokens: 5, activeExperts: 2 }, { tokens: 5, activeExperts: 2 }]);
  assert.throws(() => rankWorkFromLoads([1, 1, 1], 2), /ep must divide the number of experts \(3\), got 2/);
  assert.throws(() => rankWorkFromLoads([1, 1], 1, [0, 0]), /expert 1/);
});

const dsv3 = stepModelFromSpec(loadModel("deepseek-v3"));
const maverick = stepModelFromSpec(loadModel("llama-4-maverick"));

test("stepModelFromSpec uses the catalog: MoE layers, KV bytes, top-k", () => {
  assert.equal(dsv3.numMoeLayers, 58);
  assert.equal(dsv3.kvBytesPerTokenPerLayer, 1152);
  assert.equal(dsv3.topK, 8);
  assert.equal(maverick.numMoeLayers, 24);
  assert.equal(maverick.kvBytesPerTokenPerLayer, 2 * 8 * 128 * 2);
  // After the attention kernel: the output projection (heads x value dim x hidden), plus MLA's w_vc (kv rank x heads x value dim).
  assert.equal(dsv3.attentionOutputParamsPerLayer, 128 * 128 * 7168 + 512 * 128 * 128);
  assert.equal(maverick.attentionOutputParamsPerLayer, 40 * 128 * 5120);
  assert.ok(dsv3.attentionOutputParamsPerLayer < dsv3.attentionParamsPerLayer);
  // In decode, the input projections' share of attention is their share of the bytes read.
  const a = attentionTime(dsv3, gpu, { tokensPerRank: 16, contextTokens: 4096, mode: "decode" });
  assert.equal(a.bound, "memory");
  const inputBytes = a.weightBytes * (1 - dsv3.attentionOutputParamsPerLayer / dsv3.attentionParamsPerLayer);
  assert.ok(Math.abs(a.inputProjectionShare - inputBytes / (a.weightBytes + a.kvBytes)) < 1e-12);
});

test("stepTime: breakdown sums to the layer time; two-batch overlap runs two half batches through SGLang's stage schedule; bound is the largest part", () => {
  for (const [model, ep, mode, batch] of [[dsv3, 32, "decode", 4096], [dsv3, 8, "prefill", 32768], [maverick, 16, "decode", 2048]] as const) {
    const input = { model, gpu, deepep: hw.deepep, ep, batchTokens: batch, mode, contextTokens: 4096 } as const;
    const b = stepTime(input);
    close(b.layerSeconds, b.attentionSeconds + b.expertSeconds + b.communicationSeconds, 1e-12);
    close(b.expertSeconds, b.routedExpertSeconds + b.sharedExpertSeconds, 1e-12);
    close(b.communicationSeconds, b.dispatchSeconds + b.combineSeconds, 1e-12);
    const parts = { attention: b.attentionSeconds, experts: b.expertSeconds, communication: b.communicationSeconds };
    assert.equal(parts[b.bound], Math.max(...Object.values(parts)));
    assert.equal(b.rankImbalance, 1); // default loads are balanced
    const o = stepTime({ ...input, overlapCommunication: true });
    // Two-batch overlap: every MoE part is two runs of half the batch; the layer comes from replaying their stages.
    assert.equal(o.microBatches, 2);
    // Prefill's normal kernels hold DeepEP's 20 SMs while the other micro-batch computes.
    const scale = mode === "prefill" ? gpu.sms / (gpu.sms - DEEPEP_NORMAL_KERNEL_SMS) : 1;
    assert.equal(o.overlapComputeScale, scale);
    const half = stepTime({ ...input, batchTokens: batch / 2 });
    for (const k of ["attentionSeconds", "sharedExpertSeconds"] as const) close(o[k], 2 * scale * half[k], 1e-12);
    for (const k of ["dispatchSeconds", "combineSeconds"] as const) close(o[k], 2 * half[k], 1e-12);
    // Each half gets a random half of every expert's tokens, so it may leave a few experts idle.
    const loads = new Array(model.numRoutedExperts).fill((batch * model.topK) / model.numRoutedExperts);
    const runWork = rankWorkFromLoads(loads, ep, undefined, 2)[0];
    const share = loads[0];
    close(runWork.activeExperts, (model.numRoutedExperts / ep) * (1 - 0.5 ** Math.max(1, share)), 1e-12);
    close(o.routedExpertSeconds, 2 * scale * rankExpertTime(runWork, { hiddenSize: model.hiddenSize, intermediateSize: model.expertIntermediateSize }, gpu).seconds, 1e-12);
    // The MoE layers are SGLang's stage schedule replayed with one micro-batch's work: somewhere
    // between a perfect overlap (the longer of compute and communication) and none (their sum).
    const projection = attentionTime(model, gpu, { tokensPerRank: batch / 2 / ep, contextTokens: 4096, mode }).inputProjectionShare;
    const work = {
      attentionInputSeconds: scale * half.attentionSeconds * projection,
      attentionCoreSeconds: scale * half.attentionSeconds * (1 - projection),
      sharedExpertSeconds: o.sharedExpertSeconds / 2,
      routedExpertSeconds: o.routedExpertSeconds / 2,
      dispatchSeconds: half.dispatchSeconds,
      combineSeconds: half.combineSeconds,
    };
    close(o.layerSeconds * model.numMoeLayers, twoBatchOverlap({ mode, numLayers: model.numMoeLayers, work }).seconds, 1e-12);
    const computeSum = o.attentionSeconds + o.expertSeconds;
    assert.ok(o.layerSeconds >= Math.max(computeSum, o.communicationSeconds) * (1 - 1e-12) && o.layerSeconds <= (computeSum + o.communicationSeconds) * (1 + 1e-12), `${o.layerSeconds}`);
    // The wait is what the replay adds to the compute, never below 0 (rounding of its sums).
    close(o.computeIdleSeconds, Math.max(0, o.layerSeconds - computeSum), 1e-12);
    assert.ok(o.computeIdleSeconds >= 0);
    close(b.computeIdleSeconds, b.communicationSeconds, 1e-12);
    // Dense layers and the output head run on the whole batch either way.
    close(o.forwardSeconds - model.numMoeLayers * o.layerSeconds, b.forwardSeconds - model.numMoeLayers * b.layerSeconds, 1e-9);
    assert.ok(b.outputHeadSeconds > 0 && b.outputHeadSeconds === o.outputHeadSeconds);
    assert.deepEqual(o.rankTokens, b.rankTokens, "rank loads are the whole batch's");
    // Splitting costs something: it is never faster than a free overlap of the whole batch's parts.
    assert.ok(o.layerSeconds >= Math.max(b.attentionSeconds + b.expertSeconds, b.communicationSeconds) * (1 - 1e-12));
    // With overlap, "communication" only when it outlasts attention + experts; else the larger compute part.
    assert.equal(o.bound, o.communicationSeconds > computeSum ? "communication" : o.expertSeconds > o.attentionSeconds ? "experts" : "attention");
  }
});

test("stepTime with vLLM's dual batch overlap: the same parts, vLLM's stage order replayed, and the dense layers run as two halves", () => {
  for (const [model, ep, mode, batch] of [[dsv3, 32, "decode", 4096], [dsv3, 8, "prefill", 32768], [maverick, 16, "decode", 2048]] as const) {
    const input = { model, gpu, deepep: hw.deepep, ep, batchTokens: batch, mode, contextTokens: 4096, overlapCommunication: true } as const;
    const s = stepTime(input);
    const v = stepTime({ ...input, overlapSchedule: "vllm" });
    assert.deepEqual([s.overlapSchedule, v.overlapSchedule, stepTime({ ...input, overlapCommunication: false, overlapSchedule: "vllm" }).overlapSchedule], ["sglang", "vllm", null]);
    for (const k of ["attentionSeconds", "routedExpertSeconds", "sharedExpertSeconds", "dispatchSeconds", "combineSeconds", "outputHeadSeconds"] as const) assert.equal(v[k], s[k], k);
    const scale = v.overlapComputeScale;
    const half = stepTime({ ...input, batchTokens: batch / 2, overlapCommunication: false });
    const work = {
      attentionInputSeconds: 0,
      attentionCoreSeconds: v.attentionSeconds / 2,
      sharedExpertSeconds: v.sharedExpertSeconds / 2,
      routedExpertSeconds: v.routedExpertSeconds / 2,
      dispatchSeconds: v.dispatchSeconds / 2,
      combineSeconds: v.combineSeconds / 2,
    };
    close(v.layerSeconds * model.numMoeLayers, twoBatchOverlap({ mode, schedule: "vllm", numLayers: model.numMoeLayers, work }).seconds, 1e-9);
    assert.equal(scale, s.overlapComputeScale);
    // vLLM's micro-batches run the whole model: each dense layer is two half-batch runs, one after the other.
    const denseLayers = model.numLayers - model.numMoeLayers;
    const halfDense = (half.forwardSeconds - model.numMoeLayers * half.layerSeconds - half.outputHeadSeconds) / Math.max(1, denseLayers);
    close(v.forwardSeconds, model.numMoeLayers * v.layerSeconds + denseLayers * 2 * halfDense + v.outputHeadSeconds, 1e-9);
  }
  assert.throws(() => stepTime({ model: dsv3, gpu, deepep: hw.deepep, ep: 32, batchTokens: 4096, mode: "decode", contextTokens: 4096, overlapCommunication: true, overlapSchedule: "dbo" as never }), /RangeError: overlapSchedule must be one of sglang, vllm, got "dbo"/);
});

test("stepTime: decode runs on DeepEP's low-latency kernels and prefill on its normal kernels, whatever the batch", () => {
  const base = { model: dsv3, gpu, deepep: hw.deepep, ep: 128, contextTokens: 4096 } as const;
  // 130 tokens per rank is above the low-latency benchmark's 128, and still decode (SGLang's --deepep-mode auto).
  assert.equal(stepTime({ ...base, batchTokens: 130 * 128, mode: "decode" }).allToAllKernel, "lowLatency");
  assert.equal(stepTime({ ...base, batchTokens: 64 * 128, mode: "prefill" }).allToAllKernel, "normal");
  // No jump in communication time between 128 and 129 tokens per rank.
  const at = (t: number) => stepTime({ ...base, batchTokens: t * 128, mode: "decode" }).communicationSeconds;
  assert.ok(at(129) >= at(128) && at(129) / at(128) < 1.02, `${at(128)} -> ${at(129)}`);
});

test("stepTime: with overlap, a communication part longer than the compute sets the bound, else the larger compute part", () => {
  const input = { model: dsv3, gpu, deepep: hw.deepep, ep: 128, batchTokens: 524288, mode: "prefill", contextTokens: 4096, overlapCommunication: true, weightPrecision: "fp8" } as const;
  const o = stepTime(input);
  assert.ok(o.communicationSeconds > o.attentionSeconds + o.expertSeconds);
  assert.equal(o.bound, "communication");
  // EP32: communication (4.9 ms) hides behind attention + experts (6.9 ms); attention is the larger part.
  const hidden = stepTime({ ...input, ep: 32, batchTokens: 131072 });
  assert.ok(hidden.communicationSeconds < hidden.attentionSeconds + hidden.expertSeconds && hidden.communicationSeconds > hidden.attentionSeconds);
  assert.equal(hidden.bound, "attention", "not communication, though it is the largest single part");
  assert.equal(stepTime({ ...input, ep: 32, batchTokens: 131072, overlapCommunication: false }).bound, "communication", "without overlap the largest part");
});

test("stepTime: decode attention grows with context; skew slows the slowest rank", () => {
  const base = { model: dsv3, gpu, deepep: hw.deepep, ep: 32, batchTokens: 8192, mode: "decode", contextTokens: 1024 } as const;
  assert.ok(stepTime({ ...base, contextTokens: 16384 }).attentionSeconds > 4 * stepTime(base).attentionSeconds);
  const loads = new Array(256).fill(256);
  loads[0] = 256 * 20;
  const skewed = stepTime({ ...base, expertLoads: loads });
  assert.equal(skewed.slowestRank, 0);
  assert.ok(skewed.routedExpertSeconds > stepTime(base).routedExpertSeconds * 2);
});

test("stepTime: errors for tokens < 0, context < 0, EP not dividing the experts", () => {
  const base = { model: dsv3, gpu, deepep: hw.deepep, ep: 32, batchTokens: 4096, mode: "decode", contextTokens: 4096 } as const;
  assert.throws(() => stepTime({ ...base, batchTokens: -1 }), /batchTokens must be a finite number >= 0, got -1/);
  assert.throws(() => stepTime({ ...base, contextTokens: -1 }), /contextTokens must be a finite number >= 0, got -1/);
  assert.throws(() => stepTime({ ...base, ep: 7 }), /ep must divide numRoutedExperts \(256\) of deepseek-v3, got 7/);
  assert.throws(() => stepTime({ ...base, expertLoads: [1, 2] }), /expertLoads must have numRoutedExperts = 256 items/);
  assert.throws(() => stepTime({ ...base, overlapCommunication: "yes" as never }), /TypeError: overlapCommunication must be true or false, got "yes"/);
  assert.throws(() => stepTime({ ...base, overlapCommunication: true, overlapTimeline: 1 as never }), /TypeError: overlapTimeline must be true or false, got 1/);
});

test("runScenario: EPLB evens out rank loads of a skewed prefill batch and speeds it up", () => {
  const opts = { model: "llama-4-maverick", gpu: "h100", ep: 32, batchTokens: 131072, mode: "prefill" } as const;
  const contiguous = runScenario({ ...opts, placement: "contiguous" });
  const eplb = runScenario({ ...opts, placement: "eplb" });
  assert.equal(eplb.redundantExperts, 32);
  assert.equal(eplb.phy2log.length, 160);
  assert.ok(contiguous.breakdown.rankImbalance > 1.5);
  assert.ok(eplb.breakdown.rankImbalance < 1.2);
  assert.ok(eplb.breakdown.layerSeconds < contiguous.breakdown.layerSeconds);
  assert.ok(eplb.memory.kvCapacityTokens < contiguous.memory.kvCapacityTokens, "redundant experts take KV memory");
  assert.deepEqual(runScenario({ ...opts, placement: "eplb" }).expertLoads, eplb.expertLoads, "seeded: same loads");
  assert.throws(() => runScenario({ ...opts, model: "nope" }), /must be one of .*deepseek-v3/);
  assert.throws(() => runScenario({ ...opts, gpu: "a100" }), /gpu must be one of h100, h200, h800/);
  assert.throws(() => runScenario({ ...opts, placement: "eplb", redundantExperts: 5 }), /ep must divide experts \+ redundant/);
});

test("eplbNetEffect: speedup minus the sequences that no longer fit, and stalls; verdicts", () => {
  // A full KV cache: EPLB keeps 90% of it, so it serves 90% of the sequences.
  const e = eplbNetEffect({ baselineSeconds: 2, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 90, kvTokensNeeded: 100, stallSeconds: 0, intervalSteps: 3000 });
  close(e.netSpeedup, 1.8, 1e-12);
  assert.deepEqual([e.kvBound, e.kvServedFraction, e.kvCapacityRatio, e.verdict], [true, 0.9, 0.9, "helps"]);
  // A batch that still fits with EPLB pays nothing for the smaller KV cache.
  const fits = eplbNetEffect({ baselineSeconds: 1.1, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 80, kvTokensNeeded: 80, stallSeconds: 0, intervalSteps: 3000 });
  assert.deepEqual([fits.kvBound, fits.kvServedFraction, fits.kvCapacityRatio], [false, 1, 0.8]);
  close(fits.netSpeedup, 1.1, 1e-12);
  // Partly: 90 tokens needed, 80 fit.
  close(eplbNetEffect({ baselineSeconds: 1, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 80, kvTokensNeeded: 90, stallSeconds: 0, intervalSteps: 1 }).kvServedFraction, 80 / 90, 1e-12);
  const stall = eplbNetEffect({ baselineSeconds: 1, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 100, kvTokensNeeded: 0, stallSeconds: 0.91, intervalSteps: 3000 });
  close(stall.stallFraction, 0.91 / 3000.91, 1e-12);
  assert.equal(stall.verdict, "no effect");
  assert.equal(eplbNetEffect({ baselineSeconds: 1, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 80, kvTokensNeeded: 100, stallSeconds: 0, intervalSteps: 1 }).verdict, "hurts");
  assert.throws(() => eplbNetEffect({ baselineSeconds: 0, eplbSeconds: 1, kvCapacityTokensBaseline: 1, kvCapacityTokensEplb: 1, kvTokensNeeded: 0, stallSeconds: 0, intervalSteps: 1 }), /baselineSeconds/);
  // A batch that does not fit even without EPLB is refused: its step time would be fiction.
  assert.throws(
    () => eplbNetEffect({ baselineSeconds: 1, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 90, kvTokensNeeded: 101, stallSeconds: 0, intervalSteps: 1 }),
    (err: Error) => err instanceof RangeError && /kvTokensNeeded must be at most kvCapacityTokensBaseline \(100\), got 101: that batch cannot be served even without EPLB/.test(err.message),
  );
  assert.throws(() => eplbNetEffect({ baselineSeconds: 1, eplbSeconds: 1, kvCapacityTokensBaseline: 100, kvCapacityTokensEplb: 90, kvTokensNeeded: -1, stallSeconds: 0, intervalSteps: 1 }), /kvTokensNeeded/);
});

test("scenarioMemory / runScenario memory: the KV cache that fits, and whether the batch's does", () => {
  const opts = { model: "deepseek-v3", gpu: "h100", ep: 32, batchTokens: 32 * 32, weightPrecision: "fp8" as const, contextTokens: 4096 };
  const m = scenarioMemory(opts);
  assert.equal(m.maxSequencesPerRank, 77);
  const r = runScenario(opts);
  assert.deepEqual(r.memory, m, "runScenario reports scenarioMemory");
  // HBM x 0.9 minus the weights, over DeepSeek-V3's KV bytes per token.
  const kvBytes = r.model.kvBytesPerToken;
  assert.equal(m.kvCapacityTokens, Math.floor((81559 * 2 ** 20 * 0.9 - m.expertBytes - m.nonExpertBytes) / kvBytes), "HBM as nvidia-smi reports it: 81,559 MiB");
  assert.equal(m.maxSequencesPerRank, Math.floor(m.kvCapacityTokens / 4096));
  assert.deepEqual([m.kvTokensNeeded, m.kvFits], [32 * 4096, true]);
  const full = scenarioMemory({ ...opts, batchTokens: ((m.maxSequencesPerRank as number) + 1) * 32 });
  assert.equal(full.kvFits, false, "one sequence per rank more than fits");
  assert.equal(scenarioMemory({ ...opts, batchTokens: (m.maxSequencesPerRank as number) * 32 }).kvFits, true);
  // Prefill needs KV for its prompt tokens only; context 0 has no sequence limit.
  assert.equal(scenarioMemory({ ...opts, mode: "prefill", batchTokens: 4096 * 32 }).kvTokensNeeded, 4096);
  assert.equal(scenarioMemory({ ...opts, contextTokens: 0 }).maxSequencesPerRank, null);
  // FP8 non-expert weights leave more room for the KV cache (BF16 is the assumed default).
  const fp8Dense = scenarioMemory({ ...opts, densePrecision: "fp8" });
  // FP8 halves attention, shared experts and dense MLPs; the embeddings, output head, routers and norms stay BF16.
  const t = countParameters(loadModel("deepseek-v3")).total;
  const halved = t.attention + t.sharedExperts + t.denseMlps;
  assert.equal(m.nonExpertBytes - fp8Dense.nonExpertBytes, halved, "FP8 saves one byte per attention, shared-expert and dense-MLP weight");
  assert.equal(fp8Dense.nonExpertBytes, halved + 2 * (t.inputEmbedding + t.outputHead + t.router + t.norms));
  assert.ok(fp8Dense.kvCapacityTokens > m.kvCapacityTokens);
  assert.throws(() => scenarioMemory({ ...opts, densePrecision: "fp4" as never }), /densePrecision must be one of bf16, fp8, got "fp4"/);
  // An FP8 KV cache holds twice the tokens of a BF16 one in the same budget.
  const fp8Kv = scenarioMemory({ ...opts, kvPrecision: "fp8" });
  assert.equal(fp8Kv.kvCapacityTokens, Math.floor(m.kvBudgetBytes / (kvBytes / 2)));
  assert.equal(fp8Kv.maxSequencesPerRank, Math.floor(fp8Kv.kvCapacityTokens / 4096));
  assert.ok((fp8Kv.maxSequencesPerRank as number) >= 2 * 77, `${fp8Kv.maxSequencesPerRank}`);
  assert.throws(() => scenarioMemory({ ...opts, kvPrecision: "fp4" as never }), /kvPrecision must be one of bf16, fp8, got "fp4"/);
  assert.throws(() => scenarioMemory({ ...opts, model: "nope" }), /must be one of .*deepseek-v3/);
  assert.throws(() => scenarioMemory(null as never), TypeError);
});

test("stepTime: an FP8 KV cache halves the KV bytes attention reads; decode attention gets faster, prefill barely moves", () => {
  const base = { model: dsv3, gpu, deepep: hw.deepep, ep: 32, batchTokens: 32 * 64, mode: "decode", contextTokens: 4096, weightPrecision: "fp8" } as const;
  const bf16 = attentionTime(dsv3, gpu, { tokensPerRank: 64, contextTokens: 4096, mode: "decode" });
  const fp8 = attentionTime(dsv3, gpu, { tokensPerRank: 64, contextTokens: 4096, mode: "decode", kvPrecision: "fp8" });
  close(fp8.kvBytes, bf16.kvBytes / 2, 1e-12);
  assert.equal(fp8.flops, bf16.flops, "the math stays at the BF16 rate");
  const a = stepTime(base);
  const b = stepTime({ ...base, kvPrecision: "fp8" });
  assert.ok(b.attentionSeconds < a.attentionSeconds);
  assert.deepEqual([b.expertSeconds, b.communicationSeconds], [a.expertSeconds, a.communicationSeconds], "only attention changes");
  assert.throws(() => stepTime({ ...base, kvPrecision: "int8" as never }), /kvPrecision must be one of bf16, fp8, got "int8"/);
  assert.equal(kvBytesPerElement("fp8"), 1);
  assert.equal(kvBytesPerElement("bf16"), 2);
});

test("stepTime: FP8 non-expert weights halve the bytes of attention, shared experts and dense MLPs and compute them at the FP8 rate", () => {
  const bf16 = attentionTime(dsv3, gpu, { tokensPerRank: 16, contextTokens: 0, mode: "decode" });
  const fp8 = attentionTime(dsv3, gpu, { tokensPerRank: 16, contextTokens: 0, mode: "decode", weightPrecision: "fp8" });
  close(fp8.weightBytes, bf16.weightBytes / 2, 1e-12);
  // Prefill of a long prompt: the projections run at the FP8 peak (twice BF16's), the attention core stays at BF16.
  const pre = (p: "bf16" | "fp8") => attentionTime(dsv3, gpu, { tokensPerRank: 8192, contextTokens: 4096, mode: "prefill", weightPrecision: p });
  assert.ok(pre("fp8").computeSeconds < pre("bf16").computeSeconds && pre("fp8").computeSeconds > pre("bf16").computeSeconds / 2);
  const base = { model: dsv3, gpu, deepep: hw.deepep, ep: 32, batchTokens: 32 * 16, mode: "decode", contextTokens: 4096, weightPrecision: "fp8" } as const;
  const a = stepTime(base);
  const b = stepTime({ ...base, densePrecision: "fp8" });
  assert.ok(b.attentionSeconds < a.attentionSeconds && b.sharedExpertSeconds < a.sharedExpertSeconds && b.forwardSeconds < a.forwardSeconds);
  assert.deepEqual([b.routedExpertSeconds, b.communicationSeconds], [a.routedExpertSeconds, a.communicationSeconds], "routed experts and the all-to-all do not change");
  // The scenario passes it through, and its memory agrees.
  const s = runScenario({ model: "deepseek-v3", gpu: "h100", ep: 32, batchTokens: 512, weightPrecision: "fp8", densePrecision: "fp8" });
  assert.equal(s.input.densePrecision, "fp8");
  assert.throws(() => stepTime({ ...base, densePrecision: "int8" as never }), /densePrecision must be one of bf16, fp8, got "int8"/);
});

test("runScenario: popularitySeed keeps the hot experts while seed draws another batch", () => {
  const base = { model: "deepseek-v3", gpu: "h100", ep: 32, batchTokens: 131072, mode: "prefill", weightPrecision: "fp8" } as const;
  const hottest = (loads: number[]) => [...loads.keys()].sort((a, b) => loads[b] - loads[a]).slice(0, 8).sort((a, b) => a - b);
  const a = runScenario({ ...base, seed: 1 });
  assert.deepEqual(runScenario({ ...base, seed: 1, popularitySeed: 1 }).expertLoads, a.expertLoads, "popularitySeed = seed is the default");
  const sameTraffic = runScenario({ ...base, seed: 2, popularitySeed: 1 });
  const newTraffic = runScenario({ ...base, seed: 2 });
  assert.notDeepEqual(sameTraffic.expertLoads, a.expertLoads, "another batch");
  assert.deepEqual(hottest(sameTraffic.expertLoads), hottest(a.expertLoads), "the same hot experts");
  assert.notDeepEqual(hottest(newTraffic.expertLoads), hottest(a.expertLoads), "a new seed alone reshuffles them");
  assert.throws(() => runScenario({ ...base, popularitySeed: 1.5 }), /popularitySeed must be an integer, got 1\.5/);
});

test("realbWhatIf: lower precision on overloaded ranks only, marked unverified", () => {
  const s = runScenario({ model: "llama-4-maverick", gpu: "h100", ep: 32, batchTokens: 131072, mode: "prefill" });
  const r = realbWhatIf(s.input, 1.2, "fp8");
  assert.equal(r.verified, false);
  assert.ok(r.switchedRanks.length > 0 && r.switchedRanks.length < 32);
  assert.ok(r.layerSpeedup > 1);
  assert.throws(() => realbWhatIf(s.input, 0.5), /thresholdOverMean/);
});

test("CLI: expert-time and step print, --json parses, bad input exits non-zero with one line", () => {
  const j = runCli(["expert-time", "--gpu", "h100", "--hidden", "7168", "--intermediate", "2048", "--tokens", "1,8,64,512", "--json", "--factors", "defaults"]);
  assert.equal(j.status, 0, j.stderr);
  const arr = JSON.parse(j.stdout) as Array<{ tokens: number; seconds: number }>;
  assert.deepEqual(arr.map((p) => p.tokens), [1, 8, 64, 512]);
  close(arr[0].seconds, rankExpertTime({ tokens: 1, activeExperts: 1 }, DSV3, gpu).seconds, 1e-12);
  const bad = runCli(["expert-time", "--gpu", "a100", "--hidden", "1", "--intermediate", "1"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /h100, h200, h800/);
  const s = runCli(["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "32", "--tokens", "4096", "--placement", "eplb", "--json"]);
  assert.equal(s.status, 0, s.stderr);
  const o = JSON.parse(s.stdout);
  assert.equal(o.redundantExperts, 32);
  close(o.layerSeconds, o.attentionSeconds + o.expertSeconds + o.communicationSeconds, 1e-12);
  for (const [args, re] of [
    [["--model", "nope", "--ep", "8", "--tokens", "1"], /--model must be one of/],
    [["--model", "deepseek-v3", "--ep", "7", "--tokens", "1"], /--ep must divide numRoutedExperts \(256\)/],
    [["--model", "deepseek-v3", "--ep", "8", "--tokens", "-1"], /--tokens must be an integer >= 0 and <= 8388608, got -1/],
    [["--model", "deepseek-v3", "--ep", "8", "--tokens", "1", "--context", "-1"], /--context must be an integer >= 0, got -1/],
  ] as const) {
    const r = runCli(["step", ...args]);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  }
});

test("incident: runFields names the capture fields; attributeSlowdown finds the reverted change that explains a slowdown", () => {
  const healthy = { model: "deepseek-v3", gpu: "h100", ep: 64, batchTokens: 8192, mode: "decode", contextTokens: 4096, placement: "eplb", zipfExponent: 0.4, seed: 1, weightPrecision: "fp8" } as const;
  const f = runFields(runScenario(healthy));
  assert.equal(f.model, "deepseek-v3");
  assert.equal(f.placement, "eplb");
  assert.equal(f.bound, "communication");
  const slow = { ...healthy, placement: "contiguous", contextTokens: 5120 } as const;
  const a = attributeSlowdown(healthy, slow);
  assert.ok(a.slowdown > 1.3);
  assert.equal(a.cause, "placement");
  assert.deepEqual(a.attributions.map((x) => x.option), ["placement", "contextTokens"]);
  assert.equal(attributeSlowdown(healthy, healthy).cause, null);
  // An option left out is the same as the option set to its default: no phantom difference.
  const spelled = { ...slow, overlapCommunication: false, overlapSchedule: "sglang", densePrecision: "bf16", kvPrecision: "bf16", mode: "decode" } as const;
  assert.deepEqual(attributeSlowdown(healthy, spelled).attributions.map((x) => x.option), ["placement", "contextTokens"]);
  const { zipfExponent: _z, ...noSkew } = healthy;
  assert.equal(attributeSlowdown(noSkew, healthy).cause, null, "zipfExponent 0.4 is the default");
  assert.equal(attributeSlowdown(healthy, { ...healthy, zipfExponent: 0.6 }).cause, "zipfExponent");
  assert.throws(() => runFields({} as never), TypeError);
});

test("incident: dense fallback is memory-bound at small batches, and validates its options", () => {
  const d = denseFallbackStep({ params: 70e9, bytesPerParam: 1, gpus: 8, batchTokens: 64, kvBytesPerToken: 327680, contextTokens: 4096 }, gpu);
  assert.equal(d.bound, "memory");
  close(d.seconds, (70e9 + 64 * 4096 * 327680) / 8 / (3.35e12 * 0.8), 1e-9);
  assert.deepEqual([d.allReduceSeconds, d.overheadSeconds], [0, 0], "without layers and hiddenSize: the roofline alone");
  // With layers and hiddenSize: two ring all-reduces of 64 x 8192 BF16 values per layer over 450 GB/s at 80%, 10 us each, and two 10 us kernels per layer.
  const full = denseFallbackStep({ params: 70e9, bytesPerParam: 1, gpus: 8, batchTokens: 64, kvBytesPerToken: 327680, contextTokens: 4096, layers: 80, hiddenSize: 8192 }, gpu);
  const oneAllReduce = 10e-6 + (2 * 7 / 8) * (64 * 8192 * 2) / (450e9 * 0.8);
  close(full.allReduceSeconds, 2 * 80 * oneAllReduce, 1e-12);
  close(full.overheadSeconds, 2 * 80 * 10e-6, 1e-12);
  close(full.seconds, d.seconds + full.allReduceSeconds + full.overheadSeconds, 1e-12);
  assert.ok(full.tokensPerSecondPerGpu < d.tokensPerSecondPerGpu);
  assert.equal(denseFallbackStep({ params: 70e9, bytesPerParam: 1, gpus: 1, batchTokens: 64, kvBytesPerToken: 327680, contextTokens: 4096, layers: 80, hiddenSize: 8192 }, gpu).allReduceSeconds, 0, "one GPU: no all-reduce");
  assert.throws(() => denseFallbackStep({ params: 0, bytesPerParam: 1, gpus: 8, batchTokens: 1, kvBytesPerToken: 1, contextTokens: 1 }, gpu), /params must be/);
  assert.throws(() => denseFallbackStep({ params: 1, bytesPerParam: 1, gpus: 8, batchTokens: 1, kvBytesPerToken: 1, contextTokens: 1, layers: 0 }, gpu), /layers must be an integer >= 1, got 0/);
  assert.equal(paramsDtype("fp4"), "int4");
});

test("expectedDestinations: distinct GPUs or nodes per token, as DeepEP's benchmarks count copies", () => {
  // One expert per token reaches one destination; k experts never reach more than min(k, D).
  assert.equal(expectedDestinations(128, 1, 8), 1);
  assert.ok(expectedDestinations(256, 8, 64) <= 8);
  // Exact small case: 4 experts on 2 GPUs (2 each), top-2: P(both on one GPU) = 2 / C(4,2) = 1/3, so E = 2 - 1/3.
  close(expectedDestinations(4, 2, 2), 2 - 1 / 3, 1e-12);
  // DeepEP's intranode benchmark: top-8 of 256 experts on 8 GPUs reaches 5.3 of them.
  assert.equal(expectedDestinations(256, 8, 8).toFixed(3), "5.295");
  // Without an expert count: the many-experts limit, D x (1 - (1 - 1/D)^k).
  close(expectedDestinations(undefined, 8, 8), 8 * (1 - Math.pow(7 / 8, 8)), 1e-12);
  // DeepSeek-V3's group limit (4 of 8 groups): at 8 nodes a token reaches at most 4 nodes (3.6 on average),
  // at 16 nodes at most 8; at 4 nodes (2 groups each) the nodes its 4 groups sit on: 4 x (1 - C(6,4)/C(8,4)).
  const groups = { groups: 8, topkGroups: 4 };
  assert.equal(expectedDestinations(256, 8, 8, groups).toFixed(2), "3.63");
  assert.ok(expectedDestinations(256, 8, 16, groups) < 8 && expectedDestinations(256, 8, 16, groups) < expectedDestinations(256, 8, 16));
  close(expectedDestinations(256, 8, 4, groups), 4 * (1 - 15 / 70), 1e-12);
  // Groups that do not nest with the destinations (3 nodes, 8 groups): the limit is ignored.
  assert.equal(expectedDestinations(240, 8, 3, groups), expectedDestinations(240, 8, 3));
  assert.throws(() => expectedDestinations(256, 0, 8), /topK must be an integer >= 1, got 0/);
  assert.throws(() => expectedDestinations(4, 8, 8), /numExperts must be an integer >= 8, got 4/);
  assert.throws(() => expectedDestinations(256, 8, 0), /destinations must be an integer >= 1, got 0/);
  // allToAllTime uses it for the normal kernels only, with the model's group limit.
  const normal = allToAllTime({ tokensPerRank: 4096, topK: 8, hiddenSize: 7168, ep: 64, numExperts: 256, routingGroups: groups }, hw.deepep);
  assert.equal(normal.copiesPerToken, expectedDestinations(256, 8, 8, groups));
  close(normal.dispatchBytes, 4096 * normal.copiesPerToken * (7168 + 224), 1e-6);
  assert.equal(allToAllTime({ tokensPerRank: 64, topK: 8, hiddenSize: 7168, ep: 64, numExperts: 256, routingGroups: groups }, hw.deepep).copiesPerToken, 8);
  // stepTime passes the model's experts and groups: DeepSeek-V3 at EP64 sends 3.6 copies per token, not 8.
  const dsv3 = stepModelFromSpec(loadModel("deepseek-v3"));
  assert.deepEqual(dsv3.routingGroups, groups);
  assert.equal(stepModelFromSpec(loadModel("mixtral-8x7b")).routingGroups, null);
});

test("allToAllTime / stepTime bandwidthScale: a slower all-to-all than DeepEP's benchmarks, as a what-if", () => {
  const base = { tokensPerRank: 4096, topK: 8, hiddenSize: 7168, ep: 32, kernel: "normal", fixedLatencyUs: 0 } as const;
  const full = allToAllTime(base, hw.deepep);
  const half = allToAllTime({ ...base, bandwidthScale: 0.5 }, hw.deepep);
  close(half.dispatchSeconds, 2 * full.dispatchSeconds, 1e-12);
  close(half.combineSeconds, 2 * full.combineSeconds, 1e-12);
  close(half.dispatchGBps, full.dispatchGBps / 2, 1e-12);
  assert.throws(() => allToAllTime({ ...base, bandwidthScale: 0 }, hw.deepep), /RangeError: bandwidthScale must be a finite number > 0, got 0/);
  const input = { model: dsv3, gpu, deepep: hw.deepep, ep: 32, batchTokens: 32 * 4096, mode: "prefill", contextTokens: 4096 } as const;
  const s = stepTime(input);
  const slow = stepTime({ ...input, allToAllBandwidthScale: 0.5 });
  assert.ok(slow.communicationSeconds > 1.9 * s.communicationSeconds && slow.communicationSeconds < 2 * s.communicationSeconds, "the fixed latency does not scale");
  assert.equal(slow.attentionSeconds, s.attentionSeconds);
  assert.throws(() => stepTime({ ...input, allToAllBandwidthScale: -1 }), /RangeError: allToAllBandwidthScale must be a finite number > 0, got -1/);
});

test("solveScale: the scale at which a monotonic value meets a target, rising or falling; errors name the bad input", () => {
  close(solveScale((x) => 100 * x, 25, { lo: 0.01, hi: 1 }), 0.25, 1e-12);
  close(solveScale((x) => 1 / x, 4, { lo: 0.1, hi: 1 }), 0.25, 1e-12);
  // The step model's throughput falls as the all-to-all slows: the scale that halves the communication-bound rate.
  const input = { model: dsv3, gpu, deepep: hw.deepep, ep: 128, batchTokens: 128 * 4096, mode: "prefill", contextTokens: 4096, overlapCommunication: true } as const;
  const rate = (x: number) => stepTime({ ...input, allToAllBandwidthScale: x }).tokensPerSecondPerGpu;
  const target = rate(1) * 0.8;
  const x = solveScale(rate, target, { lo: 0.05, hi: 1 });
  close(rate(x), target, 1e-9);
  assert.ok(x > 0.05 && x < 1);
  assert.throws(() => solveScale((v) => v, 5, { lo: 0, hi: 1 }), /RangeError: target must lie between value\(0\) = 0 and value\(1\) = 1, got 5/);
  assert.throws(() => solveScale((v) => v, 0.5, { lo: 1, hi: 1 }), /RangeError: range.lo must be below range.hi, got 1 and 1/);
  assert.throws(() => solveScale("f" as never, 1, { lo: 0, hi: 1 }), /TypeError: value must be a function/);
  assert.throws(() => solveScale((v) => v, NaN, { lo: 0, hi: 1 }), /RangeError: target must be a finite number/);
});

