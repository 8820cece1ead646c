/**
 * Parameter counts, KV cache, expert bytes and memory per rank (lib/params.ts). Computed counts
 * come from the config fields in data/models/; the only literals compared with are the published
 * figures stored there.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { listModels, loadModel, ModelSpec } from "../lib/models";
import {
  activeParameters, agreesWithPublished, bytesPerParam, comparableParameters, comparePublished, countParameters,
  expertBytes, expertParams, flopsPerToken, formatBytes, formatParams, kvCacheBytes, kvCachePerToken, memoryPerRank,
  allToAllBytesPerToken, modelSummary, mtpParameters, paramsTemplate, sequencesThatFit, totalParameters, weightBytes,
} from "../lib/params";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { main } from "../cli/main";
import { readCapture } from "../lib/capture";

function pct(computed: number, published: number): number {
  return (100 * (computed - published)) / published;
}

/** The rule for rounded figures: the computed count, rounded or truncated to the stated digit, is the figure. */
function roundsOrTruncatesTo(computed: number, value: number, precision: number): boolean {
  return Math.round(computed / precision) * precision === value || Math.floor(computed / precision) * precision === value;
}

function assertAgrees(id: string, which: "total" | "active" | "checkpointTotal"): void {
  const m = loadModel(id);
  const fig = m.published[which]!;
  const computed = comparableParameters(m, which);
  const err = pct(computed, fig.value);
  if (fig.exact) {
    assert.ok(Math.abs(err) < 1, `${id} ${which}: computed ${computed} vs published ${fig.stated}: ${err.toFixed(3)}% (limit 1%)`);
  } else {
    assert.ok(roundsOrTruncatesTo(computed, fig.value, fig.precision), `${id} ${which}: computed ${computed} does not round or truncate to ${fig.stated}`);
  }
  assert.equal(comparePublished(m)[which]!.agrees, true);
}

// ---- one test per model: total and active vs the published figures ----

for (const id of ["deepseek-v3", "qwen3-235b-a22b", "qwen3-30b-a3b", "mixtral-8x7b", "mixtral-8x22b", "dbrx", "qwen1.5-moe-a2.7b", "olmoe-1b-7b"]) {
  test(`${id}: total and active agree with the published figures`, () => {
    const m = loadModel(id);
    assert.equal(m.published.total.compareWith, "text");
    assert.equal(m.published.active.compareWith, "text");
    assertAgrees(id, "total");
    assertAgrees(id, "active");
  });
}

for (const id of ["llama-4-scout", "llama-4-maverick"]) {
  test(`${id}: total agrees once the vision encoder is added; active agrees`, () => {
    const m = loadModel(id);
    assert.equal(m.published.total.compareWith, "text+vision");
    assert.equal(comparableParameters(m, "total"), totalParameters(m) + m.visionEncoderParams!);
    assertAgrees(id, "total");
    assertAgrees(id, "active");
  });
}

test("llama-4-scout: without the vision encoder the text model is more than 1% short of 109B", () => {
  const m = loadModel("llama-4-scout");
  assert.ok(pct(totalParameters(m), m.published.total.value) < -1);
});

for (const id of ["gpt-oss-120b", "gpt-oss-20b"]) {
  test(`${id}: total within 1%; active within 1% when counted without the input embedding`, () => {
    const m = loadModel(id);
    assertAgrees(id, "total");
    assert.equal(m.published.active.compareWith, "without-input-embedding");
    const c = countParameters(m);
    assert.equal(comparableParameters(m, "active"), c.active.total - c.active.inputEmbedding);
    assertAgrees(id, "active");
    // Counting the input embedding as active would be more than 10% off.
    assert.ok(pct(c.active.total, m.published.active.value) > 10);
  });
}

test("deepseek-v3: 671B main model within 1%; 685B checkpoint within 1% with the MTP module", () => {
  const m = loadModel("deepseek-v3");
  assertAgrees("deepseek-v3", "total");
  assertAgrees("deepseek-v3", "active");
  assertAgrees("deepseek-v3", "checkpointTotal");
  const c = countParameters(m);
  // The MTP module is one more MoE layer plus a 2h x h projection and norms.
  assert.ok(mtpParameters(m) > c.perLayer.moeLayerTotal + c.perLayer.attention);
  assert.equal(
    comparableParameters(m, "checkpointTotal"),
    c.total.total + mtpParameters(m) + c.total.inputEmbedding + c.total.outputHead,
  );
});

test("kimi-k2: the rounded 1T and 32B are the computed counts rounded or truncated", () => {
  const m = loadModel("kimi-k2");
  assert.equal(m.published.total.exact, false);
  assert.equal(Math.round(totalParameters(m) / 1e12), 1);
  assertAgrees("kimi-k2", "total");
  assertAgrees("kimi-k2", "active");
});

test("every catalog model has a per-model test above", () => {
  assert.equal(listModels().length, 13);
  for (const id of listModels()) assert.equal(comparePublished(loadModel(id)).total.agrees, true, id);
});

// ---- structure of the counts ----

test("parts add up, active <= total, and the MoE share is where the parameters are", () => {
  for (const id of listModels()) {
    const m = loadModel(id);
    const c = countParameters(m);
    for (const p of [c.total, c.active]) {
      const sum = p.inputEmbedding + p.outputHead + p.attention + p.router + p.routedExperts + p.sharedExperts + p.denseMlps + p.norms;
      assert.equal(p.total, sum, id);
    }
    assert.ok(c.active.total < c.total.total, id);
    assert.equal(c.total.routedExperts, c.numMoeLayers * m.architecture.numRoutedExperts * expertParams(m), id);
    assert.equal(c.active.routedExperts, c.numMoeLayers * m.architecture.expertsPerToken * expertParams(m), id);
    assert.equal(c.numMoeLayers + c.numDenseLayers, m.architecture.numLayers, id);
    assert.equal(activeParameters(m), c.active.total);
    assert.equal(flopsPerToken(m), 2 * (c.active.total - c.active.inputEmbedding));
  }
});

/** A tiny model whose counts can be written out by hand. */
function tiny(over: Partial<ModelSpec["architecture"]> = {}): ModelSpec {
  const m = loadModel("mixtral-8x7b");
  return {
    ...m,
    id: "tiny",
    architecture: {
      ...m.architecture,
      hiddenSize: 4, numLayers: 3, firstDenseLayers: 1, moeLayerStep: 1, numRoutedExperts: 4, numSharedExperts: 0,
      expertsPerToken: 2, expertIntermediateSize: 2, sharedExpertIntermediateSize: null, denseIntermediateSize: 8,
      vocabSize: 10, tiedEmbeddings: false, mtpLayers: 0, localAttention: null,
      attention: { kind: "gqa", numHeads: 2, numKvHeads: 1, headDim: 2, qkvBias: false, outputBias: false, qkNorm: "none", sinks: false },
      ...over,
    },
  };
}

test("a tiny GQA model counts as written out by hand", () => {
  const c = countParameters(tiny());
  // attention: q 4x4, k 4x2, v 4x2, o 4x4 = 48 per layer
  assert.equal(c.perLayer.attention, 16 + 8 + 8 + 16);
  assert.equal(c.perLayer.expert, 3 * 4 * 2);
  assert.equal(c.perLayer.router, 4 * 4);
  assert.equal(c.total.total, 10 * 4 * 2 + 3 * 48 + 2 * (16 + 4 * 24) + 1 * 3 * 4 * 8 + (2 * 3 + 1) * 4);
  assert.equal(c.active.total, 10 * 4 * 2 + 3 * 48 + 2 * (16 + 2 * 24) + 1 * 3 * 4 * 8 + (2 * 3 + 1) * 4);
  assert.equal(countParameters(tiny({ tiedEmbeddings: true })).total.outputHead, 0);
});

test("a tiny MLA model counts as written out by hand", () => {
  const c = countParameters(tiny({ attention: { kind: "mla", numHeads: 2, qLoraRank: 3, kvLoraRank: 2, qkNopeHeadDim: 2, qkRopeHeadDim: 1, vHeadDim: 2 } }));
  const expected = 4 * 3 + 3 + 3 * 2 * 3 + 4 * (2 + 1) + 2 + 2 * 2 * (2 + 2) + 2 * 2 * 4;
  assert.equal(c.perLayer.attention, expected);
});

test("biases, shared-expert gate and router bias are counted", () => {
  const base = countParameters(tiny()).perLayer;
  assert.equal(countParameters(tiny({ expertBias: true })).perLayer.expert, base.expert + 2 * 2 + 4);
  assert.equal(countParameters(tiny({ routerBias: true })).perLayer.router, base.router + 4);
  const shared = countParameters(tiny({ numSharedExperts: 1, sharedExpertIntermediateSize: 2, sharedExpertGate: true })).perLayer;
  assert.equal(shared.sharedExperts, 3 * 4 * 2 + 4);
});

// ---- bytes ----

test("expert bytes scale with the dtype; biases stay in bf16", () => {
  for (const id of listModels()) {
    const m = loadModel(id);
    const a = m.architecture;
    const weights = 3 * a.hiddenSize * a.expertIntermediateSize;
    const biases = expertParams(m) - weights;
    assert.equal(expertBytes(m, "bf16"), 2 * weights + 2 * biases, id);
    assert.equal(expertBytes(m, "fp8"), weights + 2 * biases, id);
    assert.equal(expertBytes(m, "int4"), weights / 2 + 2 * biases, id);
  }
  assert.equal(bytesPerParam("bf16"), 2);
  assert.equal(bytesPerParam("int4"), 0.5);
});

test("KV cache per token: GQA stores K and V per KV head, MLA one latent per layer", () => {
  const mix = loadModel("mixtral-8x7b");
  const at = mix.architecture.attention;
  assert.equal(at.kind, "gqa");
  if (at.kind === "gqa") {
    const kv = kvCachePerToken(mix);
    assert.equal(kv.allLayersBytes, mix.architecture.numLayers * 2 * at.numKvHeads * at.headDim * 2);
    assert.equal(kv.mhaEquivalentBytes, kv.allLayersBytes * (at.numHeads / at.numKvHeads));
    assert.equal(kvCachePerToken(mix, "fp8").allLayersBytes, kv.allLayersBytes / 2);
  }
  const v3 = loadModel("deepseek-v3");
  const mla = v3.architecture.attention;
  assert.equal(mla.kind, "mla");
  if (mla.kind === "mla") {
    const kv = kvCachePerToken(v3);
    assert.equal(kv.perLayerBytes, (mla.kvLoraRank + mla.qkRopeHeadDim) * 2);
    assert.ok(kv.mhaEquivalentBytes / kv.allLayersBytes > 50, "MLA stores far less than full MHA");
  }
});

test("sliding-window layers stop growing at their window", () => {
  const m = loadModel("gpt-oss-120b");
  const kv = kvCachePerToken(m);
  assert.equal(kv.numGlobalLayers, m.architecture.numLayers / 2);
  const w = kv.windowTokens!;
  assert.equal(kvCacheBytes(m, w), kv.allLayersBytes * w);
  assert.equal(kvCacheBytes(m, w + 1000), kv.allLayersBytes * w + kv.globalLayersBytes * 1000);
  assert.equal(kvCacheBytes(m, 0), 0);
  const mix = loadModel("mixtral-8x7b");
  assert.equal(kvCacheBytes(mix, 1000), kvCachePerToken(mix).allLayersBytes * 1000);
});

test("memory per rank: experts split over ranks, the rest replicated, KV per sequence", () => {
  const m = loadModel("deepseek-v3");
  const c = countParameters(m);
  const one = memoryPerRank(m, { epSize: 1 });
  assert.deepEqual(weightBytes(m), { expertBytes: one.expertBytes, nonExpertBytes: one.nonExpertBytes, totalBytes: one.totalBytes });
  assert.equal(one.totalBytes, 2 * c.total.total);
  const ep = memoryPerRank(m, { epSize: 32, redundantExperts: 32, expertDtype: "fp8", contextTokens: 4096, sequences: 8 });
  assert.equal(ep.physicalExpertsPerLayer, m.architecture.numRoutedExperts + 32);
  assert.equal(ep.expertReplicasPerRank, (m.architecture.numRoutedExperts + 32) / 32);
  assert.equal(ep.expertBytes, ep.expertReplicasPerRank * c.numMoeLayers * expertBytes(m, "fp8"));
  assert.equal(ep.kvBytes, 8 * kvCacheBytes(m, 4096));
  assert.equal(ep.totalBytes, ep.expertBytes + ep.nonExpertBytes + ep.kvBytes);
  let prev = Infinity;
  for (const epSize of [1, 2, 4, 8, 16, 32, 64, 128, 256]) {
    const t = memoryPerRank(m, { epSize }).totalBytes;
    assert.ok(t < prev, `memory falls as EP grows (epSize ${epSize})`);
    prev = t;
  }
  // Uneven split: the busiest rank holds the ceiling.
  assert.equal(memoryPerRank(loadModel("mixtral-8x7b"), { epSize: 3 }).expertReplicasPerRank, 3);
});

test("sequencesThatFit: free memory after the weights, in whole sequences", () => {
  const m = loadModel("deepseek-v3");
  const opts = { epSize: 32, expertDtype: "fp8" as const, contextTokens: 32768, memoryBytes: 80e9 };
  const fit = sequencesThatFit(m, opts);
  const w = memoryPerRank(m, { ...opts, sequences: 0 });
  assert.equal(fit.weightBytes, w.totalBytes);
  assert.equal(fit.kvBytesPerSequence, kvCacheBytes(m, 32768));
  assert.equal(fit.sequences, Math.floor((80e9 - w.totalBytes) / kvCacheBytes(m, 32768)));
  assert.ok(memoryPerRank(m, { ...opts, sequences: fit.sequences }).totalBytes <= 80e9);
  assert.ok(memoryPerRank(m, { ...opts, sequences: fit.sequences + 1 }).totalBytes > 80e9);
  assert.equal(sequencesThatFit(m, { ...opts, epSize: 1 }).sequences, 0, "the whole model does not fit one GPU");
  assert.throws(() => sequencesThatFit(m, { ...opts, memoryBytes: 0 }), (e: unknown) => e instanceof RangeError && /^options\.memoryBytes must be/.test((e as Error).message));
  assert.throws(() => sequencesThatFit(m, { ...opts, contextTokens: 0 }), (e: unknown) => e instanceof RangeError && /^options\.contextTokens must be an integer >= 1/.test((e as Error).message));
});

test("modelSummary and paramsTemplate agree with the counts", () => {
  for (const id of listModels()) {
    const m = loadModel(id);
    const s = modelSummary(m);
    const c = countParameters(m);
    assert.equal(s.totalParams, c.total.total);
    assert.equal(s.activeShare, c.active.total / c.total.total);
    assert.equal(s.kvBytesPerToken, kvCachePerToken(m).allLayersBytes);
    assert.equal(s.agrees, true, id);
    const t = paramsTemplate(m);
    assert.equal(t.total_parameters, s.totalParams);
    assert.equal(t.layers_with_experts, s.numMoeLayers);
  }
});

test("allToAllBytesPerToken: k hidden states out and back in every MoE layer", () => {
  const m = loadModel("deepseek-v3");
  const a = m.architecture;
  const x = allToAllBytesPerToken(m);
  assert.equal(x.perLayerDispatchBytes, a.expertsPerToken * a.hiddenSize);
  assert.equal(x.perLayerCombineBytes, 2 * a.expertsPerToken * a.hiddenSize);
  assert.equal(x.totalBytes, countParameters(m).numMoeLayers * 3 * a.expertsPerToken * a.hiddenSize);
  assert.equal(allToAllBytesPerToken(m, "bf16", "bf16").totalBytes, (x.totalBytes * 4) / 3);
  assert.throws(() => allToAllBytesPerToken(m, "fp16" as never), (e: unknown) => e instanceof RangeError && /^dtype must be one of/.test((e as Error).message));
});

test("agreesWithPublished: exact within 1%, rounded by rounding or truncation, and it can fail", () => {
  assert.equal(agreesWithPublished(100.9, { value: 100, precision: 1, exact: true }), true);
  assert.equal(agreesWithPublished(101.1, { value: 100, precision: 1, exact: true }), false);
  assert.equal(agreesWithPublished(37.55e9, { value: 37e9, precision: 1e9, exact: false }), true);
  assert.equal(agreesWithPublished(36.4e9, { value: 37e9, precision: 1e9, exact: false }), false);
  assert.equal(agreesWithPublished(38.01e9, { value: 37e9, precision: 1e9, exact: false }), false);
});

test("formatting helpers", () => {
  assert.equal(formatParams(671026419200), "671.03B");
  assert.equal(formatParams(1.5e12, 1), "1.5T");
  assert.equal(formatParams(12), "12");
  assert.equal(formatBytes(70272), "68.6 KiB");
  assert.equal(formatBytes(2 ** 30), "1.0 GiB");
});

// ---- bad input ----

test("bad inputs throw RangeError/TypeError naming the parameter", () => {
  const m = loadModel("mixtral-8x7b");
  const rejects = (fn: () => unknown, kind: Function, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof kind && re.test((e as Error).message), String(re));
  rejects(() => bytesPerParam("fp16" as never), RangeError, /^dtype must be one of bf16, fp8, int4, got "fp16"/);
  rejects(() => expertBytes(m, 8 as never), TypeError, /^dtype must be one of/);
  rejects(() => kvCacheBytes(m, -1), RangeError, /^contextTokens must be an integer >= 0, got -1/);
  rejects(() => kvCacheBytes(m, 1.5), RangeError, /^contextTokens must be an integer/);
  rejects(() => kvCacheBytes(m, "8k" as never), TypeError, /^contextTokens must be an integer, got "8k"/);
  rejects(() => countParameters(undefined as never), TypeError, /^model must be a catalog entry/);
  rejects(() => countParameters({ ...m, architecture: { ...m.architecture, hiddenSize: -1 } }), RangeError, /^model: architecture\.hiddenSize must be an integer >= 1, got -1/);
  rejects(() => memoryPerRank(m, { epSize: 9 }), RangeError, /^options\.epSize must be an integer >= 1 and <= 8, got 9/);
  rejects(() => memoryPerRank(m, { epSize: 2, redundantExperts: -1 }), RangeError, /^options\.redundantExperts must be an integer >= 0/);
  rejects(() => memoryPerRank(m, { epSize: 2, expertDtype: "fp4" as never }), RangeError, /^options\.expertDtype must be one of/);
  rejects(() => memoryPerRank(m, null as never), TypeError, /^options must be an object/);
  rejects(() => comparableParameters(m, "checkpointTotal"), RangeError, /^which must name a published figure of mixtral-8x7b/);
  rejects(() => comparableParameters(m, "sum" as never), RangeError, /^which must be one of total, active, checkpointTotal/);
  rejects(() => formatParams(-5), RangeError, /^count must be a finite number >= 0, got -5/);
  rejects(() => agreesWithPublished(NaN, { value: 1, precision: 1, exact: true }), RangeError, /^computed must be/);
});

test("functions do not mutate their (frozen) inputs", () => {
  const deepFreeze = <T>(o: T): T => {
    if (typeof o === "object" && o !== null) {
      for (const v of Object.values(o)) deepFreeze(v);
      Object.freeze(o);
    }
    return o;
  };
  const m = deepFreeze(loadModel("qwen1.5-moe-a2.7b"));
  const before = JSON.stringify(m);
  countParameters(m);
  comparePublished(m);
  memoryPerRank(m, { epSize: 4, contextTokens: 100 });
  kvCachePerToken(m);
  assert.equal(JSON.stringify(m), before);
});

// ---- the CLI: moe-lab params ----


async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const TEMPLATE_KEYS = ["model", "total_parameters", "active_parameters_per_token", "num_experts", "experts_per_token", "layers_with_experts"];

test("moe-lab params prints the study guide's capture template filled in", async () => {
  const r = await cli(["params", "deepseek-v3"]);
  assert.equal(r.code, 0, r.err);
  const m = loadModel("deepseek-v3");
  const c = countParameters(m);
  const head = r.out.split("\n").slice(0, 6);
  assert.deepEqual(head, [
    "model: deepseek-v3",
    `total_parameters: ${c.total.total}`,
    `active_parameters_per_token: ${c.active.total}`,
    `num_experts: ${m.architecture.numRoutedExperts}`,
    `experts_per_token: ${m.architecture.expertsPerToken}`,
    `layers_with_experts: ${c.numMoeLayers}`,
  ]);
  assert.match(r.out, /routed experts/);
  assert.match(r.out, /KV cache per token/);
});

test("moe-lab params --json uses the template's snake_case keys at the top level", async () => {
  for (const id of listModels()) {
    const r = await cli(["params", id, "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual(Object.keys(j).slice(0, 6), TEMPLATE_KEYS, id);
    const m = loadModel(id);
    assert.equal(j.total_parameters, totalParameters(m));
    assert.equal(j.active_parameters_per_token, activeParameters(m));
    assert.equal(j.breakdown.total.total, j.total_parameters);
    assert.equal(j.kv_bytes_per_token.all_layers_bf16, kvCachePerToken(m).allLayersBytes);
    assert.equal(j.published.total.agrees, true);
  }
});

test("moe-lab params --list and --capture", async () => {
  const list = await cli(["params", "--list"]);
  assert.equal(list.code, 0);
  for (const id of listModels()) assert.match(list.out, new RegExp(`^${id.replace(/\./g, "\\.")}\\s`, "m"));
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-params-"));
  try {
    const file = join(dir, "v3.json");
    const r = await cli(["params", "deepseek-v3", "--json", "--capture", file]);
    assert.equal(r.code, 0, r.err);
    const cap = readCapture(file);
    assert.equal(cap.fields.total_parameters, totalParameters(loadModel("deepseek-v3")));
    assert.equal(cap.fields["breakdown.total.attention"], JSON.parse(r.out).breakdown.total.attention);
    assert.equal(cap.timestamp, undefined, "deterministic by default: no timestamp");
    const again = join(dir, "again.json");
    assert.equal((await cli(["params", "deepseek-v3", "--capture", again])).code, 0);
    assert.equal(readFileSync(again, "utf8"), readFileSync(file, "utf8"), "same command, same bytes");
    const stamped = join(dir, "stamped.json");
    assert.equal((await cli(["params", "deepseek-v3", "--capture", stamped, "--timestamp"])).code, 0);
    assert.match(String(readCapture(stamped).timestamp), /^\d{4}-\d\d-\d\dT/, "--timestamp records when it was taken");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("moe-lab params rejects bad input in one line", async () => {
  const unknown = await cli(["params", "gpt-5"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /^moe-lab params: unknown model "gpt-5" \(models: dbrx, deepseek-v3/);
  assert.equal((await cli(["params"])).code, 2);
  assert.equal((await cli(["params", "dbrx", "--bogus"])).code, 2);
});

test("moe-lab params refuses --timestamp without --capture, and --capture with --list, in one line", async () => {
  for (const argv of [["params", "dbrx", "--timestamp"], ["params", "dbrx", "--json", "--timestamp"], ["params", "--list", "--timestamp"]]) {
    const r = await cli(argv);
    assert.deepEqual([r.code, r.err, r.out], [2, "moe-lab params: --timestamp needs --capture FILE (it records when a capture was taken)\n", ""], argv.join(" "));
  }
  const list = await cli(["params", "--list", "--capture", "x.json"]);
  assert.deepEqual([list.code, list.err], [2, "moe-lab params: --list writes no capture: --capture FILE needs a model id instead of --list\n"]);
  const empty = await cli(["params", "dbrx", "--capture="]);
  assert.deepEqual([empty.code, empty.err], [2, 'moe-lab params: --capture must be a file path, got ""\n']);
});
