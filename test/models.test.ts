/**
 * The model catalog (data/models/*.json) and its schema check (lib/models.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { checkedModel, listModels, loadAllModels, loadModel, loadModelFile, moeLayerIndices, validateModel } from "../lib/models";
import { dataPath } from "../lib/paths";

const EXPECTED_IDS = [
  "llama-4-scout", "llama-4-maverick", "deepseek-v3", "qwen3-235b-a22b", "qwen3-30b-a3b", "mixtral-8x7b",
  "mixtral-8x22b", "gpt-oss-120b", "gpt-oss-20b", "kimi-k2", "dbrx", "qwen1.5-moe-a2.7b", "olmoe-1b-7b",
];

test("the catalog lists the 13 models of the study, sorted", () => {
  const ids = listModels();
  assert.deepEqual(ids, [...EXPECTED_IDS].sort());
});

test("every catalog file passes the schema check and names its sources", () => {
  for (const m of loadAllModels()) {
    assert.ok(m.sources.architecture.length > 10, `${m.id}: sources.architecture`);
    assert.ok(m.published.total.source.length > 10, `${m.id}: published.total.source`);
    assert.ok(m.published.active.source.length > 10, `${m.id}: published.active.source`);
    assert.ok(m.notes.length > 20, `${m.id}: notes`);
  }
});

test("the known differences are explained in the notes", () => {
  assert.match(loadModel("llama-4-scout").notes, /vision encoder/);
  assert.match(loadModel("llama-4-maverick").notes, /vision encoder/);
  assert.match(loadModel("deepseek-v3").notes, /MTP/);
  assert.match(loadModel("gpt-oss-120b").notes, /without the input embedding/);
  assert.match(loadModel("gpt-oss-20b").notes, /without the input embedding/);
  assert.match(loadModel("kimi-k2").notes, /rounded/);
});

test("MoE layers follow firstDenseLayers and moeLayerStep", () => {
  const maverick = moeLayerIndices(loadModel("llama-4-maverick"));
  assert.equal(maverick.length, 24);
  assert.ok(maverick.every((i) => i % 2 === 1), "Maverick's MoE layers are 1, 3, 5, ...");
  const v3 = moeLayerIndices(loadModel("deepseek-v3"));
  assert.equal(v3[0], 3);
  assert.equal(v3.length, 61 - 3);
  assert.equal(moeLayerIndices(loadModel("kimi-k2"))[0], 1);
  assert.equal(moeLayerIndices(loadModel("mixtral-8x7b")).length, loadModel("mixtral-8x7b").architecture.numLayers);
});

test("loadModel rejects an unknown id, listing the known ones", () => {
  assert.throws(() => loadModel("gpt-5"), (e: unknown) => e instanceof RangeError && /id must be one of .*deepseek-v3.*got "gpt-5"/.test(e.message));
  assert.throws(() => loadModel(42 as unknown as string), (e: unknown) => e instanceof TypeError && /^id must be/.test(e.message));
});

test("checkedModel names the parameter and the field", () => {
  assert.throws(() => checkedModel(null as never), (e: unknown) => e instanceof TypeError && /^model must be/.test(e.message));
  const m = loadModel("dbrx");
  const bad = { ...m, architecture: { ...m.architecture, expertsPerToken: 17 } };
  assert.throws(() => checkedModel(bad), (e: unknown) => e instanceof RangeError && /model: architecture\.expertsPerToken must be an integer >= 1 and <= 16, got 17/.test(e.message));
});

test("loading does not mutate and returns fresh copies", () => {
  const a = loadModel("olmoe-1b-7b");
  const frozen = JSON.parse(JSON.stringify(a));
  const b = checkedModel(Object.freeze(a));
  assert.notEqual(a, b);
  assert.deepEqual(a, frozen);
  assert.deepEqual(b, frozen);
});

function withTempFile(name: string, text: string, fn: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-models-"));
  try {
    const file = join(dir, name);
    writeFileSync(file, text);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function catalogJson(id: string): Record<string, any> {
  return JSON.parse(readFileSync(dataPath("models", `${id}.json`), "utf8"));
}

test("a malformed catalog file is rejected with the file name and the field", () => {
  const cases: Array<{ edit: (j: Record<string, any>) => void; error: RegExp; kind: Function }> = [
    { edit: (j) => delete j.architecture.vocabSize, error: /^mixtral-8x7b\.json: architecture\.vocabSize must be an integer/, kind: TypeError },
    { edit: (j) => (j.architecture.hiddenSize = "4096"), error: /^mixtral-8x7b\.json: architecture\.hiddenSize must be an integer, got "4096"/, kind: TypeError },
    { edit: (j) => (j.architecture.numLayers = 0), error: /^mixtral-8x7b\.json: architecture\.numLayers must be an integer >= 1, got 0/, kind: RangeError },
    { edit: (j) => (j.architecture.hiddenSzie = 1), error: /^mixtral-8x7b\.json: architecture\.hiddenSzie is not a known field/, kind: RangeError },
    { edit: (j) => (j.architecture.attention.kind = "mqa"), error: /^mixtral-8x7b\.json: architecture\.attention\.kind must be one of gqa, mla/, kind: RangeError },
    { edit: (j) => (j.architecture.attention.numKvHeads = 5), error: /^mixtral-8x7b\.json: architecture\.attention\.numKvHeads must divide numHeads/, kind: RangeError },
    { edit: (j) => (j.published.total.compareWith = "vibes"), error: /^mixtral-8x7b\.json: published\.total\.compareWith must be one of/, kind: RangeError },
    { edit: (j) => delete j.published.active, error: /^mixtral-8x7b\.json: published\.active must be an object/, kind: TypeError },
    { edit: (j) => (j.id = "mixtral"), error: /^mixtral-8x7b\.json: id must equal the file name "mixtral-8x7b"/, kind: RangeError },
    { edit: (j) => (j.architecture.numSharedExperts = 1), error: /^mixtral-8x7b\.json: architecture\.sharedExpertIntermediateSize must be/, kind: RangeError },
    { edit: (j) => (j.architecture.routingGroups = { groups: 3, topkGroups: 1 }), error: /^mixtral-8x7b\.json: architecture\.routingGroups\.groups must divide numRoutedExperts \(8\), got 3/, kind: RangeError },
    { edit: (j) => (j.architecture.routingGroups = { groups: 4, topkGroups: 5 }), error: /^mixtral-8x7b\.json: architecture\.routingGroups\.topkGroups must be an integer >= 1 and <= 4, got 5/, kind: RangeError },
    { edit: (j) => (j.architecture.routingGroups = { groups: 4, topk: 2 }), error: /^mixtral-8x7b\.json: architecture\.routingGroups\.topk is not a known field/, kind: RangeError },
  ];
  for (const c of cases) {
    const j = catalogJson("mixtral-8x7b");
    c.edit(j);
    withTempFile("mixtral-8x7b.json", JSON.stringify(j), (file) => {
      assert.throws(() => loadModelFile(file), (e: unknown) => e instanceof c.kind && c.error.test((e as Error).message), String(c.error));
    });
  }
  // Unchanged, the same file loads.
  withTempFile("mixtral-8x7b.json", JSON.stringify(catalogJson("mixtral-8x7b")), (file) => {
    assert.equal(loadModelFile(file).id, "mixtral-8x7b");
  });
});

test("a catalog file that is not JSON is a SyntaxError naming the file", () => {
  withTempFile("broken.json", "{ not json", (file) => {
    assert.throws(() => loadModelFile(file), (e: unknown) => e instanceof SyntaxError && /^broken\.json is not valid JSON/.test(e.message));
  });
});

test("validateModel requires a vision encoder count when the total includes one", () => {
  const j = catalogJson("llama-4-scout");
  delete j.visionEncoderParams;
  assert.throws(() => validateModel(j, "scout.json"), (e: unknown) => e instanceof RangeError && /^scout\.json: visionEncoderParams must be/.test(e.message));
  assert.throws(() => validateModel(j, 5 as never), (e: unknown) => e instanceof TypeError && /^where must be a string/.test(e.message));
});
