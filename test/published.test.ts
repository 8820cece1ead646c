import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { getGpu } from "../lib/hardware";
import { loadModel } from "../lib/models";
import { dataPath } from "../lib/paths";
import { runCli } from "./helpers";
import {
  DEFAULT_FACTORS,
  UNIT_FACTORS,
  calibratedFactors,
  factorsFor,
  publishedFactors,
  summarizeComparison,
  comparePublishedGemms,
  fitPublishedGemms,
  fitRooflinePoints,
  gemmTime,
  loadPublishedGemms,
  parsePublishedGemms,
  allToAllSendGBpsAt,
  loadPublishedAllToAll,
  parsePublishedAllToAll,
  publishedFitRows,
  publishedGemmFigure,
  rankExpertTime,
  ridgeTokens,
  rooflinePlotFigure,
  rooflineTime,
} from "../lib/throughput";

const raw = (): Record<string, any> => JSON.parse(readFileSync(dataPath("published", "deepgemm-h800-fp8.json"), "utf8"));

test("gemmTime counts bytes and FLOPs as DeepGEMM's benchmark does", () => {
  const gpu = getGpu("h800");
  const t = gemmTime({ groups: 2, m: 64, n: 4096, k: 7168 }, gpu, UNIT_FACTORS, "fp8");
  assert.equal(t.weightBytes, 2 * 4096 * 7168);
  assert.equal(t.activationBytes, 2 * 64 * (7168 + 2 * 4096));
  assert.equal(t.flops, 2 * 2 * 64 * 4096 * 7168);
  assert.equal(t.memorySeconds, (t.weightBytes + t.activationBytes) / 3.35e12);
  assert.equal(t.computeSeconds, t.flops / 1978.9e12);
  assert.equal(t.bound, "memory");
  // BF16: 2-byte weights and inputs, the BF16 peak.
  const b = gemmTime({ groups: 1, m: 8192, n: 4096, k: 7168 }, gpu, UNIT_FACTORS, "bf16");
  assert.equal(b.weightBytes, 2 * 4096 * 7168);
  assert.equal(b.activationBytes, 8192 * (2 * 7168 + 2 * 4096));
  assert.equal(b.computeSeconds, b.flops / 989.4e12);
  assert.equal(b.bound, "compute");
  assert.throws(() => gemmTime({ groups: 0, m: 1, n: 1, k: 1 }, gpu), (e: Error) => e instanceof RangeError && /gemm\.groups must be an integer >= 1, got 0/.test(e.message));
  assert.throws(() => gemmTime({ groups: 1, m: 1.5, n: 1, k: 1 }, gpu), /gemm\.m must be an integer/);
  assert.throws(() => gemmTime(null as never, gpu), TypeError);
  assert.throws(() => gemmTime({ groups: 1, m: 1, n: 1, k: 1 }, gpu, DEFAULT_FACTORS, "int4" as never), /precision must be one of bf16, fp8, fp4/);
});

test("rooflineTime is the one roofline: a SwiGLU expert equals the sum of its bytes and FLOPs", () => {
  const gpu = getGpu("h100");
  const shape = { hiddenSize: 7168, intermediateSize: 2048 };
  const e = rankExpertTime({ tokens: 300, activeExperts: 2 }, shape, gpu);
  const r = rooflineTime({ weightBytes: e.weightBytes, activationBytes: e.activationBytes, flops: e.flops }, gpu);
  assert.deepEqual(r, e);
  assert.equal(rooflineTime({ weightBytes: 3.35e9, activationBytes: 0, flops: 0 }, gpu, UNIT_FACTORS).seconds, 0.001);
  assert.throws(() => rooflineTime({ weightBytes: -1, activationBytes: 0, flops: 0 }, gpu), /work\.weightBytes must be a finite number >= 0, got -1/);
  assert.throws(() => rooflineTime({ weightBytes: 1, activationBytes: 0, flops: 0 }, gpu, { ...DEFAULT_FACTORS, computeEfficiency: 0 }), /factors\.computeEfficiency/);
});

test("the DeepGEMM table loads: 28 rows, consistent columns, expert roles match DeepSeek-V3's config", () => {
  const set = loadPublishedGemms();
  assert.equal(set.file, "data/published/deepgemm-h800-fp8.json");
  assert.equal(set.gpu, "h800");
  assert.equal(set.precision, "fp8");
  assert.equal(set.source.commit, "a6d97a1c1b48a7a9d7994d0e155ee6f11d0a3f07");
  assert.equal(set.rows.length, 28);
  assert.deepEqual(
    ["dense", "contiguous", "masked"].map((l) => set.rows.filter((r) => r.layout === l).length),
    [18, 4, 6],
  );
  // Time from TFLOPS, e.g. the first row: 2 x 64 x 2112 x 7168 / 206e12.
  assert.ok(Math.abs(set.rows[0].seconds - (2 * 64 * 2112 * 7168) / 206e12) < 1e-15);
  const dsv3 = loadModel("deepseek-v3");
  const h = dsv3.architecture.hiddenSize;
  const i = dsv3.architecture.expertIntermediateSize;
  const experts = set.rows.filter((r) => r.expert);
  assert.equal(experts.length, 16);
  for (const r of experts) {
    const gateUp = r.n === 2 * i && r.k === h && /gate \+ up/.test(r.role);
    const down = r.n === h && r.k === i && /down/.test(r.role);
    assert.ok(gateUp || down, `row ${r.layout} ${r.m}x${r.n}x${r.k} (${r.role}) is not one of DeepSeek-V3's expert GEMMs`);
  }
  // No attention shape is mistaken for an expert.
  for (const r of set.rows.filter((x) => !x.expert)) assert.ok(!((r.n === 2 * i && r.k === h) || (r.n === h && r.k === i)), `${r.n}x${r.k} is an expert shape but not marked as one`);
});

test("parsePublishedGemms rejects a mistyped number, a bad layout and missing provenance, naming the row", () => {
  const bad = raw();
  bad.rows[3].gbps = 2268; // was 2668: the two columns no longer imply the same time
  assert.throws(() => parsePublishedGemms(bad, "x.json"), (e: Error) => e instanceof RangeError && /x\.json: rows\[3\]: 336 TFLOPS implies .* us but 2268 GB\/s implies .* us/.test(e.message));
  const layout = raw();
  layout.rows[0].layout = "ragged";
  assert.throws(() => parsePublishedGemms(layout, "x.json"), /x\.json: rows\[0\]\.layout must be one of dense, contiguous, masked, batched, got "ragged"/);
  const grouped = raw();
  grouped.rows[0].groups = 2;
  assert.throws(() => parsePublishedGemms(grouped, "x.json"), /rows\[0\]\.groups must be 1 for a dense GEMM, got 2/);
  const noCommit = raw();
  delete noCommit.source.commit;
  assert.throws(() => parsePublishedGemms(noCommit, "x.json"), /x\.json: source\.commit must be a non-empty string, got undefined/);
  assert.throws(() => parsePublishedGemms([], "x.json"), TypeError);
  assert.throws(() => loadPublishedGemms("nope.json"), /name must name a file under data\/published\/ \(known: deepgemm-h800-fp8\.json, xla-h100-bf16\.json\), got "nope\.json"/);
  // A row faster than the GPU's dense peak cannot be a whole GEMM's kernel time.
  const fast = raw();
  fast.rows[17].tflops = 1990;
  fast.rows[17].gbps = Math.round((fast.rows[17].gbps * 1990) / 1025);
  assert.throws(() => parsePublishedGemms(fast, "x.json"), (e: Error) => e instanceof RangeError && /x\.json: rows\[17\]\.tflops is 1990, above the h800's FP8 dense peak of 1978\.9 TFLOPS/.test(e.message));
  const unknownGpu = raw();
  unknownGpu.gpu = "a100";
  assert.throws(() => parsePublishedGemms(unknownGpu, "x.json"), (e: Error) => e instanceof RangeError && /^x\.json: gpu .*a100/.test(e.message));
  assert.throws(() => loadPublishedGemms("../hardware.json"), /name must be a \.json file name under data\/published\//);
});

test("fitRooflinePoints recovers known factors from points made with them; fitPublishedGemms fits the expert rows", () => {
  const gpu = getGpu("h800");
  const truth = { memoryEfficiency: 0.62, computeEfficiency: 0.55, overheadSeconds: 2e-6 };
  const shapes = [1, 16, 64, 256, 1024, 4096].flatMap((m) => [{ groups: 1, m, n: 4096, k: 7168 }, { groups: 4, m, n: 7168, k: 2048 }]);
  const points = shapes.map((g) => {
    const unit = gemmTime(g, gpu, UNIT_FACTORS, "fp8");
    return { memorySeconds: unit.memorySeconds, computeSeconds: unit.computeSeconds, measuredSeconds: gemmTime(g, gpu, truth, "fp8").seconds };
  });
  const fit = fitRooflinePoints(points);
  assert.ok(Math.abs(fit.factors.memoryEfficiency - truth.memoryEfficiency) < 1e-6);
  assert.ok(Math.abs(fit.factors.computeEfficiency - truth.computeEfficiency) < 1e-6);
  assert.ok(Math.abs(fit.factors.overheadSeconds - truth.overheadSeconds) < 1e-11);
  assert.throws(() => fitRooflinePoints(points.slice(0, 2)), /points must have at least 3 items/);
  assert.throws(() => fitRooflinePoints([...points.slice(0, 2), { memorySeconds: 1, computeSeconds: 1, measuredSeconds: 0 }]), /points\[2\]\.measuredSeconds must be a finite number > 0, got 0/);

  const set = loadPublishedGemms();
  const experts = set.rows.filter((r) => r.expert);
  const pub = fitPublishedGemms(experts, gpu, set.precision);
  assert.equal(pub.rows, 16);
  // Real kernels are below the assumed defaults and the fit error is bounded, not zero.
  assert.ok(pub.factors.memoryEfficiency > 0.5 && pub.factors.memoryEfficiency < DEFAULT_FACTORS.memoryEfficiency);
  assert.ok(pub.factors.computeEfficiency > 0.45 && pub.factors.computeEfficiency < DEFAULT_FACTORS.computeEfficiency);
  assert.ok(pub.maxAbsRelativeError > 0.05 && pub.maxAbsRelativeError < 0.25);
  // The comparison uses the same roofline: the fitted errors' max equals the fit's.
  const cmp = comparePublishedGemms(experts, gpu, pub.factors, set.precision);
  assert.ok(Math.abs(Math.max(...cmp.map((c) => Math.abs(c.relativeError))) - pub.maxAbsRelativeError) < 1e-12);
  for (const c of cmp) assert.ok(Math.abs(c.modelTflops * 1e12 * c.modelSeconds - 2 * c.row.groups * c.row.m * c.row.n * c.row.k) < 1);
  assert.throws(() => comparePublishedGemms([], gpu, pub.factors, "fp8"), /rows must be a non-empty array/);
});

test("publishedGemmFigure draws one model line per factor set and the measured points per shape", () => {
  const set = loadPublishedGemms();
  const gpu = getGpu("h800");
  const experts = set.rows.filter((r) => r.expert);
  const fig = publishedGemmFigure(experts, gpu, "fp8", [{ name: "a", factors: DEFAULT_FACTORS }, { name: "b", factors: UNIT_FACTORS, dash: "dash" }], { "4096x7168": "gate+up" });
  assert.equal(fig.data.length, 6);
  assert.deepEqual(fig.data.map((t) => t.name), ["gate+up: a", "gate+up: b", "gate+up: measured", "7168x2048: a", "7168x2048: b", "7168x2048: measured"]);
  const measured = fig.data[2] as { x: number[]; y: number[]; text: string[] };
  assert.equal(measured.x.length, 8);
  assert.ok(measured.text.includes("masked, 4 groups"));
  // At efficiency 1 with no overhead a big GEMM approaches the FP8 peak, never passes it.
  const ideal = fig.data[1] as { y: number[] };
  assert.ok(Math.max(...ideal.y) <= 1978.9 && Math.max(...ideal.y) > 1900);
  assert.throws(() => publishedGemmFigure(experts, gpu, "fp8", []), /lines must be a non-empty array/);
});

test("publishedFactors and factorsFor: published efficiencies with the default overhead; choices by name", () => {
  const set = loadPublishedGemms();
  const pub = publishedFactors(set);
  const fit = fitPublishedGemms(set.rows.filter((r) => r.expert), getGpu("h800"), "fp8");
  assert.equal(pub.factors.memoryEfficiency, fit.factors.memoryEfficiency);
  assert.equal(pub.factors.computeEfficiency, fit.factors.computeEfficiency);
  assert.equal(pub.factors.overheadSeconds, DEFAULT_FACTORS.overheadSeconds);
  assert.equal(pub.measured, false);
  assert.match(pub.source, /^efficiencies fitted to data\/published\/deepgemm-h800-fp8\.json \(16 expert rows, rms error \d+\.\d%\), overhead assumed$/);
  const h100 = getGpu("h100");
  assert.equal(factorsFor(h100, "defaults").factors, DEFAULT_FACTORS);
  // "published" follows the expert precision: FP8 and FP4 from DeepGEMM's table, BF16 from XLA's.
  assert.deepEqual(factorsFor(h100, "published", "fp8"), pub);
  assert.deepEqual(factorsFor(h100, "published", "fp4"), pub);
  const xla = publishedFactors(loadPublishedGemms("xla-h100-bf16.json"));
  assert.deepEqual(factorsFor(h100, "published"), xla);
  assert.match(xla.source, /^efficiencies fitted to data\/published\/xla-h100-bf16\.json \(375 rows, rms error \d+\.\d%\), overhead assumed$/);
  assert.notEqual(xla.factors.computeEfficiency, pub.factors.computeEfficiency);
  assert.throws(() => factorsFor(h100, "published", "int4" as never), /precision must be one of bf16, fp8, fp4, got "int4"/);
  assert.deepEqual(factorsFor(h100, "auto"), calibratedFactors(h100));
  assert.throws(() => factorsFor(h100, "measured" as never), (e: Error) => e instanceof RangeError && /choice must be one of auto, defaults, published, got "measured"/.test(e.message));
  assert.throws(() => publishedFactors(null as never), TypeError);
  assert.throws(() => factorsFor(null as never, "defaults"), /gpu must be a GPU spec from data\/hardware\.json, got null/);
});

test("CLI --factors: expert-time and step run on the published efficiencies and say so; a bad choice is one line", () => {
  const e = runCli(["expert-time", "--gpu", "h100", "--hidden", "7168", "--intermediate", "2048", "--tokens", "1,4096", "--precision", "fp8", "--factors", "published"]);
  assert.equal(e.status, 0, e.stderr);
  assert.match(e.stdout, /factors: efficiencies fitted to data\/published\/deepgemm-h800-fp8\.json/);
  const d = runCli(["expert-time", "--gpu", "h100", "--hidden", "7168", "--intermediate", "2048", "--tokens", "1,4096", "--precision", "fp8", "--json", "--factors", "defaults"]);
  const p = runCli(["expert-time", "--gpu", "h100", "--hidden", "7168", "--intermediate", "2048", "--tokens", "1,4096", "--precision", "fp8", "--json", "--factors", "published"]);
  const [dj, pj] = [JSON.parse(d.stdout), JSON.parse(p.stdout)] as Array<Array<{ seconds: number }>>;
  assert.ok(pj[0].seconds > dj[0].seconds && pj[1].seconds > dj[1].seconds, "lower efficiencies give longer times");
  const bad = runCli(["expert-time", "--hidden", "7168", "--intermediate", "2048", "--factors", "measured"]);
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  assert.match(bad.stderr, /--factors must be one of auto, defaults, published, got "measured"/);
  const s = runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--tokens", "4096", "--precision", "fp8", "--factors", "published", "--json"]);
  assert.equal(s.status, 0, s.stderr);
  assert.match((JSON.parse(s.stdout) as { factorsSource: string }).factorsSource, /^efficiencies fitted to data\/published\//);
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-factors-"));
  const c = runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--tokens", "4096", "--factors", "published", "--capture", join(dir, "c.json")]);
  assert.equal(c.status, 0, c.stderr);
  const capture = JSON.parse(readFileSync(join(dir, "c.json"), "utf8")) as { source: string; fields: Record<string, unknown> };
  assert.match(capture.source, / --factors published$/, "the capture's command line reproduces the choice");
  assert.match(String(capture.fields.roofline_factors), /^efficiencies fitted to data\/published\//);
  rmSync(dir, { recursive: true, force: true });
  const sb = runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--tokens", "4096", "--factors", "bogus"]);
  assert.notEqual(sb.status, 0);
  assert.match(sb.stderr, /--factors must be one of auto, defaults, published, got "bogus"/);
  // BF16 experts take XLA's H100 table.
  const xb = runCli(["expert-time", "--gpu", "h100", "--hidden", "7168", "--intermediate", "2048", "--tokens", "4096", "--factors", "published"]);
  assert.equal(xb.status, 0, xb.stderr);
  assert.match(xb.stdout, /factors: efficiencies fitted to data\/published\/xla-h100-bf16\.json \(375 rows/);
  const sp = runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--tokens", "4096", "--factors", "published", "--precision", "int4"]);
  assert.notEqual(sp.status, 0);
  assert.equal(sp.stderr.trim().split("\n").length, 1, sp.stderr);
  assert.match(sp.stderr, /--precision must be one of bf16, fp8, fp4, got "int4"/);
});

test("XLA's H100 BF16 table loads: the full 3 x 5 x 5 x 5 grid, no row above the BF16 peak, batched rows for batch > 1", () => {
  const set = loadPublishedGemms("xla-h100-bf16.json");
  assert.equal(set.file, "data/published/xla-h100-bf16.json");
  assert.deepEqual([set.gpu, set.precision, set.source.repo, set.source.commit], ["h100", "bf16", "openxla/xla", "71feeddf7cc3c9c7878eee18ea43c983631e6e84"]);
  assert.equal(set.rows.length, 375);
  const sizes = [256, 512, 1024, 2048, 4096];
  const keys = new Set(set.rows.map((r) => `${r.groups}x${r.m}x${r.n}x${r.k}`));
  for (const b of [1, 2, 4]) for (const m of sizes) for (const n of sizes) for (const k of sizes) assert.ok(keys.has(`${b}x${m}x${n}x${k}`), `missing ${b}x${m}x${n}x${k}`);
  for (const r of set.rows) {
    assert.equal(r.layout, r.groups === 1 ? "dense" : "batched");
    assert.equal(r.gbps, undefined);
    assert.equal(r.expert, false);
    assert.ok(r.tflops > 0 && r.tflops <= 989.4);
    assert.ok(Math.abs(r.seconds * r.tflops * 1e12 - 2 * r.groups * r.m * r.n * r.k) < 1e-3 * r.groups * r.m * r.n * r.k);
  }
  // The first row as published: 6721641025641 FLOP/s for 256^3.
  const first = set.rows.find((r) => r.groups === 1 && r.m === 256 && r.n === 256 && r.k === 256);
  assert.equal(first?.tflops, 6.721641025641);
});

test("the roofline fits XLA's H100 BF16 dots: efficiencies near 90% / 78%, a few-µs kernel floor, and the ridge of the defaults", () => {
  const set = loadPublishedGemms("xla-h100-bf16.json");
  const gpu = getGpu("h100");
  assert.equal(publishedFitRows(set).length, 375, "no expert rows: the fit uses all rows");
  assert.equal(publishedFitRows(loadPublishedGemms()).length, 16);
  const fit = fitPublishedGemms(publishedFitRows(set), gpu, "bf16");
  assert.ok(fit.factors.memoryEfficiency > 0.8 && fit.factors.memoryEfficiency <= 1);
  assert.ok(fit.factors.computeEfficiency > 0.7 && fit.factors.computeEfficiency < 0.85);
  assert.ok(fit.factors.overheadSeconds > 2e-6 && fit.factors.overheadSeconds < 10e-6);
  const s = summarizeComparison(comparePublishedGemms(set.rows, gpu, fit.factors, "bf16"));
  assert.ok(s.rmsRelativeError < 0.1 && s.rmsRelativeError > 0.02, `rms ${s.rmsRelativeError}`);
  assert.ok(s.within25 / s.rows > 0.95);
  // The defaults' ridge (258 tokens for DeepSeek-V3's expert) survives the fitted factors within 5%.
  const shape = { hiddenSize: 7168, intermediateSize: 2048 };
  assert.ok(Math.abs(ridgeTokens(shape, gpu, fit.factors) / ridgeTokens(shape, gpu) - 1) < 0.05);
});

test("rooflinePlotFigure: measured points by kernel-time band and one ceiling per factor set, capped at peak x efficiency", () => {
  const set = loadPublishedGemms("xla-h100-bf16.json");
  const gpu = getGpu("h100");
  const fig = rooflinePlotFigure(set.rows, gpu, "bf16", [{ name: "a", factors: { memoryEfficiency: 0.9, computeEfficiency: 0.8, overheadSeconds: 0 } }, { name: "b", factors: DEFAULT_FACTORS, dash: "dash" }]);
  const names = fig.data.map((t) => t.name);
  assert.deepEqual(names, ["measured, under 10 µs", "measured, 10-100 µs", "measured, 100 µs and over", "ceiling, a", "ceiling, b"]);
  const points = fig.data.slice(0, 3).reduce((n, t) => n + (t as { x: number[] }).x.length, 0);
  assert.equal(points, 375);
  const ceiling = fig.data[3] as { x: number[]; y: number[] };
  assert.equal(Math.max(...ceiling.y), +((989.4 * 0.8)).toFixed(1));
  // At low intensity the ceiling is bandwidth x intensity.
  assert.ok(Math.abs(ceiling.y[0] - (ceiling.x[0] * 3.35e12 * 0.9) / 1e12) < 0.2);
  assert.throws(() => rooflinePlotFigure([], gpu, "bf16", [{ name: "a", factors: DEFAULT_FACTORS }]), /rows must be a non-empty array/);
  assert.throws(() => rooflinePlotFigure(set.rows, gpu, "bf16", []), /lines must be a non-empty array/);
});

test("summarizeComparison: rms, max and the rows within 15% / 25%", () => {
  const set = loadPublishedGemms();
  const gpu = getGpu("h800");
  const rows = set.rows.slice(0, 3);
  // Known errors on three rows: the summary must report them.
  const cmp = comparePublishedGemms(rows, gpu, DEFAULT_FACTORS, "fp8").map((c, i) => ({ ...c, relativeError: [0.1, -0.2, 0.3][i] }));
  const s = summarizeComparison(cmp);
  assert.equal(s.rows, 3);
  assert.ok(Math.abs(s.rmsRelativeError - Math.sqrt((0.01 + 0.04 + 0.09) / 3)) < 1e-12);
  assert.equal(s.maxAbsRelativeError, 0.3);
  assert.equal(s.within15, 1);
  assert.equal(s.within25, 2);
  assert.throws(() => summarizeComparison([]), /comparisons must be a non-empty array/);
});

test("XLA's 8 x H100 all-to-all loads: sizes 1 KiB to 2 GiB, send rate 7/8 of the throughput, refused above NVLink", () => {
  const a = loadPublishedAllToAll();
  assert.deepEqual([a.file, a.gpu, a.devices, a.rows.length, a.source.commit], ["data/published/xla-h100-all-to-all.json", "h100", 8, 22, "71feeddf7cc3c9c7878eee18ea43c983631e6e84"]);
  a.rows.forEach((r, i) => {
    assert.equal(r.tensorBytes, 1024 * 2 ** i, "powers of two from 1 KiB");
    assert.equal(r.sendGBps, (r.bytesPerSecond * 7) / 8 / 1e9);
    assert.equal(r.sentBytes, (r.tensorBytes * 7) / 8);
    assert.equal(r.seconds, r.tensorBytes / r.bytesPerSecond);
  });
  // Large messages approach (but do not pass) one direction of the H100's 900 GB/s NVLink.
  const last = a.rows[a.rows.length - 1];
  assert.ok(last.sendGBps > 300 && last.sendGBps < 450);
  const doc = (): Record<string, any> => JSON.parse(readFileSync(dataPath("published", "xla-h100-all-to-all.json"), "utf8"));
  const fast = doc();
  fast.rows[21].bytesPerSecond = 600e9;
  assert.throws(() => parsePublishedAllToAll(fast, "a.json"), (e: Error) => e instanceof RangeError && /a\.json: rows\[21\]: sends 525\.0 GB\/s per device, above the h100's NVLink bandwidth in one direction \(450 GB\/s\)/.test(e.message));
  const order = doc();
  order.rows[3].tensorBytes = 1024;
  assert.throws(() => parsePublishedAllToAll(order, "a.json"), /a\.json: rows\[3\]\.tensorBytes must be an integer >= 4097, got 1024/);
  const one = doc();
  one.devices = 1;
  assert.throws(() => parsePublishedAllToAll(one, "a.json"), /a\.json: devices must be an integer >= 2, got 1/);
  // Interpolation on log(bytes sent): exact at a row, between rows in between, clamped outside.
  const sent = (r: { tensorBytes: number }) => (r.tensorBytes * 7) / 8;
  assert.equal(allToAllSendGBpsAt(a, sent(a.rows[18])), a.rows[18].sendGBps);
  const mid = allToAllSendGBpsAt(a, Math.sqrt(sent(a.rows[17]) * sent(a.rows[18])));
  assert.ok(Math.abs(mid - (a.rows[17].sendGBps + a.rows[18].sendGBps) / 2) < 1e-9);
  assert.equal(allToAllSendGBpsAt(a, 1), a.rows[0].sendGBps);
  assert.equal(allToAllSendGBpsAt(a, 1e12), last.sendGBps);
  assert.throws(() => allToAllSendGBpsAt(a, 0), /sentBytes must be a finite number > 0, got 0/);
  assert.throws(() => loadPublishedAllToAll("none.json"), /name must name a file under data\/published\/ \(known: xla-h100-all-to-all\.json\), got "none\.json"/);
});
