/**
 * tools/calibrate_experts.py, run for real: its CPU --dry-run (Debian's python3-torch) must write a
 * CSV that lib/throughput/calibration.ts parses, with the grouped load patterns computed the same
 * way in Python and TypeScript, and the loader must refuse that CPU file as a GPU calibration.
 * The GPU run itself needs the device machine (issue 5); this keeps the script from rotting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../lib/paths";
import { getGpu } from "../lib/hardware";
import { parseCalibrationCsv, groupedLoads, requireGpuMeasurement, fitRoofline, fitErrorReport, formatCalibrationCsv, loadCalibration, syntheticCalibrationRows, rooflineFigure, calibratedFactors, factorsFor, rowsOfPrecision, DEFAULT_FACTORS, paddedTokens, validateFactors, rankExpertTime, fitRooflineTiles, TILE_ROWS_CANDIDATES, rankWorkFromLoads, runScenario } from "../lib/throughput/index";
import { createRng } from "../lib/rng";
import { readNotebook, cellSource } from "../lib/notebook";
import { missing, pythonWith, runCli } from "./helpers";

const script = join(repoRoot(), "tools", "calibrate_experts.py");
/** Runs the script under test/fake_fp8_torch.py: an emulation of torch's FP8 API on the CPU. */
const fakeFp8 = join(repoRoot(), "test", "fake_fp8_torch.py");

function runScript(py: string, args: string[], fp8Mode?: string) {
  if (fp8Mode === undefined) return spawnSync(py, [script, ...args], { encoding: "utf8", timeout: 300_000 });
  return spawnSync(py, [fakeFp8, script, ...args], { encoding: "utf8", timeout: 300_000, env: { ...process.env, FAKE_FP8: fp8Mode } });
}

test("calibrate_experts.py --dry-run writes a CSV that the model reads", (t) => {
  const py = pythonWith("torch");
  if (!py) return missing(t, "no Python with torch (Debian python3-torch): calibration-script test skipped");
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-cal-"));
  const out = join(dir, "dry.csv");
  const r = runScript(py, ["--dry-run", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /wrote .*dry\.csv \(20 rows\)/);
  assert.deepEqual(readdirSync(dir), ["dry.csv"], "no temporary file left behind");

  const file = parseCalibrationCsv(readFileSync(out, "utf8"), "dry.csv");
  for (const key of ["tool", "gpu_id", "date", "torch", "python", "device", "grouped_impl", "fp8", "timing", "gpu", "driver"]) {
    assert.ok(file.meta[key], `provenance line ${key}`);
  }
  assert.equal(file.meta.device, "cpu");
  // This torch has no FP8 API: the run says so and writes BF16 rows only.
  assert.match(file.meta.fp8, /^not timed: torch .* has no float8_e4m3fn \/ torch\._scaled_mm$/);
  assert.ok(file.rows.every((row) => row.precision === "bf16"));
  // 2 tiny shapes x 4 token counts (single) + 2 shapes x 3 patterns x 2 totals (grouped).
  const single = file.rows.filter((row) => row.kind === "single");
  const grouped = file.rows.filter((row) => row.kind === "grouped");
  assert.equal(single.length, 8);
  assert.equal(grouped.length, 12);
  assert.deepEqual([...new Set(single.map((row) => row.totalTokens))], [1, 2, 4, 8]);
  for (const row of single) {
    assert.equal(row.maxExpertTokens, row.totalTokens);
    assert.ok(row.medianSeconds > 0 && row.medianSeconds < 1, `median ${row.medianSeconds}`);
  }
  // The Python script and the TypeScript model agree on every grouped load pattern.
  for (const row of grouped) {
    const loads = groupedLoads(row.loadPattern, row.totalTokens, row.numExperts);
    assert.equal(row.numExperts, 16);
    assert.equal(row.activeExperts, loads.filter((x) => x > 0).length, `${row.loadPattern} ${row.totalTokens} active`);
    assert.equal(row.maxExpertTokens, Math.max(...loads), `${row.loadPattern} ${row.totalTokens} max`);
  }
  // The fit and the error report run on the parsed rows (the numbers are CPU timings: meaningless).
  const fit = fitRoofline(file.rows, getGpu("h100"));
  assert.equal(fitErrorReport(file.rows, getGpu("h100"), fit.factors).length > 0, true);
  // ...but the loader refuses a CPU file as a calibration.
  assert.throws(() => requireGpuMeasurement(file), (e: Error) => e instanceof RangeError && /dry\.csv: device is "cpu", allowed: "cuda"/.test(e.message));
});

test("calibrate_experts.py refuses bad options with one line and writes nothing", (t) => {
  const py = pythonWith("torch");
  if (!py) return missing(t, "no Python with torch (Debian python3-torch): calibration-script test skipped");
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-cal-"));
  const noFolder = runScript(py, ["--dry-run", "--out", join(dir, "absent", "x.csv")]);
  assert.notEqual(noFolder.status, 0);
  assert.match(noFolder.stderr.trim(), /^--out: folder .*absent does not exist$/);
  // Without a GPU there is no torch._grouped_mm to force, and without --dry-run no CUDA device.
  const forced = runScript(py, ["--dry-run", "--grouped-impl", "grouped_mm", "--out", join(dir, "x.csv")]);
  assert.notEqual(forced.status, 0);
  assert.match(forced.stderr, /--grouped-impl grouped_mm: this torch\/device has no torch\._grouped_mm/);
  assert.equal(existsSync(join(dir, "x.csv")), false);
  // FP8 asked for where torch cannot run it; a malformed --dtypes.
  const fp8 = runScript(py, ["--dry-run", "--dtypes", "fp8", "--out", join(dir, "x.csv")]);
  assert.notEqual(fp8.status, 0);
  assert.match(fp8.stderr.trim(), /^--dtypes fp8: torch .* has no float8_e4m3fn \/ torch\._scaled_mm$/);
  const bad = runScript(py, ["--dry-run", "--dtypes", "bf16,int8", "--out", join(dir, "x.csv")]);
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stderr.trim(), "--dtypes: got 'bf16,int8', allowed: auto, bf16, fp8 or bf16,fp8");
  assert.equal(existsSync(join(dir, "x.csv")), false);
  const gpu = runScript(py, ["--dry-run", "--gpu-id", "a100", "--out", join(dir, "x.csv")]);
  assert.notEqual(gpu.status, 0);
  assert.equal(gpu.stderr.trim(), "--gpu-id: got 'a100', allowed: auto, h100, h200, h800");
  const limit = runScript(py, ["--dry-run", "--time-limit", "0", "--out", join(dir, "x.csv")]);
  assert.notEqual(limit.status, 0);
  assert.equal(limit.stderr.trim(), "--time-limit: got 0, allowed: a number of seconds > 0");
  assert.equal(existsSync(join(dir, "x.csv")), false);
});

test("calibrate_experts.py --time-limit: stops starting configurations, writes what it measured, marked incomplete", (t) => {
  const py = pythonWith("torch");
  if (!py) return missing(t, "no Python with torch (Debian python3-torch): calibration-script test skipped");
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-cal-limit-"));
  const out = join(dir, "cut.csv");
  const r = runScript(py, ["--dry-run", "--time-limit", "1e-9", "--out", out]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.trim().split("\n").pop() as string, /^incomplete calibration \(stopped at tiny \(bf16\): time limit of 1e-09 s reached\); the CSV has the rows measured before it$/);
  const cut = parseCalibrationCsv(readFileSync(out, "utf8"), "cut.csv");
  assert.equal(cut.rows.length, 0);
  assert.equal(cut.meta.gpu_id, "none", "--gpu-id auto on a CPU dry run names no GPU");
  assert.match(cut.meta.incomplete, /^stopped at tiny \(bf16\): time limit/);
  // A generous limit changes nothing.
  const full = runScript(py, ["--dry-run", "--time-limit", "600", "--out", join(dir, "full.csv")]);
  assert.equal(full.status, 0, full.stderr);
  assert.equal(parseCalibrationCsv(readFileSync(join(dir, "full.csv"), "utf8"), "full.csv").rows.length, 20);
  assert.deepEqual(readdirSync(dir).sort(), ["cut.csv", "full.csv"], "no temporary file left behind");
});

test("calibrate_experts.py times FP8 where torch has it (emulated FP8 API on the CPU), and keeps its BF16 rows when FP8 fails", (t) => {
  const py = pythonWith("torch");
  if (!py) return missing(t, "no Python with torch (Debian python3-torch): calibration-script test skipped");
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-cal-fp8-"));
  const run = (mode: string, name: string, extra: string[] = []) => {
    const out = join(dir, name);
    const r = runScript(py, ["--dry-run", "--out", out, ...extra], mode);
    assert.equal(r.status, 0, r.stderr);
    return { file: parseCalibrationCsv(readFileSync(out, "utf8"), name), stderr: r.stderr };
  };
  // Everything works: 20 BF16 rows and 20 FP8 rows, the grouped FP8 runs on torch._scaled_grouped_mm.
  const ok = run("", "ok.csv");
  const fp8 = rowsOfPrecision(ok.file.rows, "fp8");
  assert.equal(rowsOfPrecision(ok.file.rows, "bf16").length, 20);
  assert.equal(fp8.length, 20);
  assert.match(ok.file.meta.fp8, /^e4m3, rowwise scales .*grouped: torch\._scaled_grouped_mm$/);
  for (const row of fp8.filter((r) => r.kind === "grouped")) {
    const loads = groupedLoads(row.loadPattern, row.totalTokens, row.numExperts);
    assert.equal(row.activeExperts, loads.filter((x) => x > 0).length);
  }
  assert.equal(fitErrorReport(fp8, getGpu("h100"), fitRoofline(fp8, getGpu("h100")).factors).every((g) => g.precision === "fp8"), true);
  // --grouped-impl loop also applies to FP8.
  assert.match(run("", "loop.csv", ["--grouped-impl", "loop"]).file.meta.fp8, /grouped: loop of torch\._scaled_mm$/);
  // A torch without rowwise scaling: tensorwise, and the grouped runs fall back to the loop.
  assert.match(run("tensorwise-only", "tw.csv").file.meta.fp8, /^e4m3, tensorwise scales \(one per tensor\).*grouped: loop of torch\._scaled_mm$/);
  // torch._scaled_grouped_mm that fails: the loop is timed instead, and the run says so.
  const noGrouped = run("no-grouped", "ng.csv");
  assert.match(noGrouped.stderr, /torch\._scaled_grouped_mm disagrees with the FP8 loop for tiny \(failed: no kernel image/);
  assert.equal(rowsOfPrecision(noGrouped.file.rows, "fp8").length, 20);
  // A _scaled_mm that gives wrong numbers fails the probe: no FP8 rows, BF16 rows intact.
  const wrong = run("wrong", "wrong.csv");
  assert.match(wrong.file.meta.fp8, /^not timed: torch\._scaled_mm failed the check \(rowwise: relative error \d\.\d+; tensorwise: relative error/);
  assert.equal(rowsOfPrecision(wrong.file.rows, "fp8").length, 0);
  assert.equal(rowsOfPrecision(wrong.file.rows, "bf16").length, 20);
  // A kernel that fails for one shape: that shape has no FP8 rows, the other keeps them.
  const oneShape = run("fail-n32", "n32.csv");
  assert.match(oneShape.file.meta.fp8, /skipped: tiny-wide single \(CUBLAS_STATUS_NOT_SUPPORTED.*tiny-wide grouped/);
  assert.deepEqual([...new Set(rowsOfPrecision(oneShape.file.rows, "fp8").map((r) => r.hiddenSize))], [64]);
  assert.equal(rowsOfPrecision(oneShape.file.rows, "bf16").length, 20);
  // A crash in the middle of a shape (a CUDA error, out of memory): the rows measured before it are
  // written, the CSV says where it stopped, and the run exits non-zero.
  const crashOut = join(dir, "crash.csv");
  const crash = runScript(py, ["--dry-run", "--out", crashOut], "crash-i128");
  assert.notEqual(crash.status, 0);
  assert.match(crash.stderr.trim().split("\n").pop() as string, /^incomplete calibration \(stopped at tiny-wide \(bf16\): CUDA error: an illegal memory access was encountered \(emulated\)\); the CSV has the rows measured before it$/);
  const partial = parseCalibrationCsv(readFileSync(crashOut, "utf8"), "crash.csv");
  assert.match(partial.meta.incomplete, /^stopped at tiny-wide \(bf16\): /);
  assert.deepEqual([...new Set(partial.rows.map((r) => r.hiddenSize))], [64], "the first shape's rows survive");
  assert.deepEqual(readdirSync(dir).sort(), ["crash.csv", "loop.csv", "n32.csv", "ng.csv", "ok.csv", "tw.csv", "wrong.csv"], "no temporary file left behind");
});

test("requireGpuMeasurement accepts GPU files and files without a device line", () => {
  assert.equal(requireGpuMeasurement({ file: "a.csv", meta: { device: "cuda" }, rows: [] }).file, "a.csv");
  assert.equal(requireGpuMeasurement({ file: "b.csv", meta: {}, rows: [] }).file, "b.csv");
  assert.throws(() => requireGpuMeasurement(null as never), TypeError);
});

const SHAPES = [
  { hiddenSize: 7168, intermediateSize: 2048 },
  { hiddenSize: 4096, intermediateSize: 14336 },
];
const TRUE_FACTORS = { memoryEfficiency: 0.72, computeEfficiency: 0.61, overheadSeconds: 12e-6 };

/** A folder holding one CSV in the script's format, made from known factors with 4% noise. */
function syntheticCalibrationDir(): { dir: string; rows: ReturnType<typeof syntheticCalibrationRows> } {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-calset-"));
  const rows = syntheticCalibrationRows(getGpu("h200"), { shapes: SHAPES, tokenCounts: [1, 4, 16, 64, 256, 1024, 4096, 16384], factors: TRUE_FACTORS, noise: 0.04, rng: createRng(3) });
  const meta = { tool: "test/calibration-script.test.ts (synthetic rows, not a measurement)", gpu_id: "h200", gpu: "synthetic H200", device: "cuda", date: "n/a", grouped_impl: "synthetic" };
  writeFileSync(join(dir, "h200.csv"), formatCalibrationCsv(meta, rows));
  return { dir, rows };
}

test("formatCalibrationCsv / parseCalibrationCsv round trip; loadCalibration reads a folder of your own", () => {
  const { dir, rows } = syntheticCalibrationDir();
  const back = parseCalibrationCsv(readFileSync(join(dir, "h200.csv"), "utf8"), "h200.csv");
  assert.equal(back.meta.gpu_id, "h200");
  assert.equal(back.rows.length, rows.length);
  back.rows.forEach((r, i) => {
    assert.deepEqual({ ...r, medianSeconds: 0 }, { ...rows[i], medianSeconds: 0 });
    assert.ok(Math.abs(r.medianSeconds / rows[i].medianSeconds - 1) < 1e-9);
  });
  const set = loadCalibration(dir);
  assert.equal(set.present, true);
  assert.equal(set.files[0].file.endsWith("/h200.csv"), true);
  // The fit on these rows recovers the factors they were made from.
  const fit = fitRoofline(set.files[0].rows, getGpu("h200"));
  assert.ok(Math.abs(fit.factors.memoryEfficiency / TRUE_FACTORS.memoryEfficiency - 1) < 0.03, `memory ${fit.factors.memoryEfficiency}`);
  assert.ok(Math.abs(fit.factors.computeEfficiency / TRUE_FACTORS.computeEfficiency - 1) < 0.03, `compute ${fit.factors.computeEfficiency}`);

  const empty = mkdtempSync(join(tmpdir(), "moe-lab-calset-"));
  assert.equal(loadCalibration(empty).present, false);
  assert.match(loadCalibration(empty).message, /no calibration CSV under .* yet/);
  assert.throws(() => loadCalibration(join(empty, "absent")), (e: Error) => e instanceof RangeError && /directory must be an existing folder of calibration CSVs, got ".*absent", which does not exist/.test(e.message));
  assert.equal(loadCalibration().directory, "data/calibration", "the default folder exists (its README says what goes there)");
  assert.throws(() => loadCalibration(join(dir, "h200.csv")), (e: Error) => e instanceof RangeError && /directory must be a folder of calibration CSVs, got the file/.test(e.message));
  assert.throws(() => loadCalibration(""), TypeError);
  assert.throws(() => formatCalibrationCsv({ gpu: "a\nb" }, []), /meta\.gpu must be a one-line string/);
  const cpu = join(empty, "cpu");
  mkdirSync(cpu);
  writeFileSync(join(cpu, "dry.csv"), formatCalibrationCsv({ device: "cpu" }, rows.slice(0, 3)));
  assert.throws(() => loadCalibration(cpu), /dry\.csv: device is "cpu"/);
});

test("notebook 05 on a calibration CSV: fits the measured rows and reports their provenance and fit errors", () => {
  const { dir } = syntheticCalibrationDir();
  const out = mkdtempSync(join(tmpdir(), "moe-lab-nb05-"));
  const r = runCli(["run", "notebooks/05-throughput-model.ipynb", "--out", out, "--no-html", "--quiet", "--param", `calibrationDir=${dir}`, "--param", "gpuId=h200"]);
  assert.equal(r.status, 0, r.stderr);
  const nb = readNotebook(join(out, "05-throughput-model.ipynb"));
  const text = nb.cells.flatMap((c) => (c.outputs ?? []).map((o) => JSON.stringify(o))).join("\n");
  assert.match(text, /\*\*Measured\.\*\* The points below come from/);
  assert.match(text, /synthetic H200/);
  assert.match(text, /Fitted to the measured rows of `[^`]*h200\.csv` \(NVIDIA H200 SXM 141GB\)/);
  // One fit per kind, each listed with its tile height and rms error.
  assert.match(text, /\| BF16 \| single expert \| \d+ \| [\d.]+% \| [\d.]+% \| [\d.]+ µs \| (none|\d+) \| [\d.]+% \|/);
  assert.match(text, /\| BF16 \| 16 experts, grouped \| \d+ \|/);
  // The fit error table lists both shapes, single and grouped.
  for (const shape of ["7168x2048", "4096x14336"]) assert.match(text, new RegExp(`\\| single \\| ${shape} \\| single \\|`));
  assert.doesNotMatch(text, /No calibration has been run yet/);
  const injected = nb.cells.find((c) => cellSource(c).includes("calibrationDir ="));
  assert.ok(injected);
});

test("rooflineFigure: measured rows join the curve of their shape, in its colour; others share a grey trace", () => {
  const { rows } = syntheticCalibrationDir();
  const single = rows.filter((r) => r.kind === "single");
  const extra = { ...single[0], hiddenSize: 1024, intermediateSize: 512 };
  const curves = [
    { name: "DeepSeek-V3", ...SHAPES[0], points: [{ tokens: 1, seconds: 1e-5 }] },
    { name: "Mixtral", ...SHAPES[1], points: [{ tokens: 1, seconds: 2e-5 }] },
  ];
  const fig = rooflineFigure(curves, [...single, extra]);
  const names = fig.data.map((t) => t.name);
  assert.deepEqual(names, ["DeepSeek-V3 (model)", "Mixtral (model)", "DeepSeek-V3 (measured)", "Mixtral (measured)", "measured, other shapes"]);
  assert.equal((fig.data[2].x as number[]).length, single.filter((r) => r.hiddenSize === 7168).length);
  assert.equal((fig.data[2].marker as { color: string }).color, (fig.data[0].line as { color: string }).color);
  assert.deepEqual(fig.data[4].x, [extra.totalTokens]);
  assert.equal(rooflineFigure(curves).data.length, 2, "no measured traces without rows");
});

test("calibratedFactors: fitted to the GPU's own CSV, else the defaults, saying which", () => {
  const { dir } = syntheticCalibrationDir();
  const h200 = calibratedFactors(getGpu("h200"), dir);
  assert.equal(h200.measured, true);
  assert.match(h200.source, /^fitted to .*h200\.csv \(\d+ bf16 grouped rows(, tiles of \d+ rows)?, rms error \d+\.\d%\)$/);
  // No FP8 rows in that file: an FP8 model gets the BF16 fit, and the source says so.
  const asFp8 = calibratedFactors(getGpu("h200"), dir, "fp8");
  assert.deepEqual(asFp8.factors, h200.factors);
  assert.match(asFp8.source, /\(\d+ bf16 grouped rows(, tiles of \d+ rows)?, rms error \d+\.\d%; no fp8 rows, so the bf16 efficiencies are applied to fp8\)$/);
  assert.ok(Math.abs(h200.factors.memoryEfficiency / TRUE_FACTORS.memoryEfficiency - 1) < 0.03);
  // No CSV measured on an H100 in that folder: the assumed defaults, named as such.
  const h100 = calibratedFactors(getGpu("h100"), dir);
  assert.equal(h100.measured, false);
  assert.deepEqual(h100.factors, DEFAULT_FACTORS);
  assert.match(h100.source, /^assumed defaults \(no calibration CSV for h100 under /);
  assert.throws(() => calibratedFactors("h100" as never), /gpu must be a GPU spec/);
});

test("expert-time and step say where their roofline factors come from", () => {
  const et = runCli(["expert-time", "--hidden", "7168", "--intermediate", "2048", "--tokens", "1,512"]);
  assert.equal(et.status, 0, et.stderr);
  const committed = loadCalibration().files.some((f) => f.meta.gpu_id === "h100");
  assert.match(et.stdout, committed ? /^factors: fitted to data\/calibration\/.*\.csv/m : /^factors: assumed defaults \(no calibration CSV for h100/m);
  const given = runCli(["expert-time", "--hidden", "7168", "--intermediate", "2048", "--memory-efficiency", "0.5"]);
  assert.match(given.stdout, /^factors: --memory-efficiency given; otherwise /m);
  const step = runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--tokens", "4096", "--json"]);
  assert.equal(step.status, 0, step.stderr);
  assert.equal(JSON.parse(step.stdout).factorsSource, calibratedFactors(getGpu("h100")).source);
});

const FP8_FACTORS = { memoryEfficiency: 0.6, computeEfficiency: 0.5, overheadSeconds: 15e-6 };

test("BF16 and FP8 rows of one CSV are fitted apart; mixing them in one fit is refused", () => {
  const gpu = getGpu("h200");
  const tokenCounts = [1, 4, 16, 64, 256, 1024, 4096, 16384];
  const bf16 = syntheticCalibrationRows(gpu, { shapes: SHAPES, tokenCounts, factors: TRUE_FACTORS, noise: 0.04, rng: createRng(3) });
  const fp8 = syntheticCalibrationRows(gpu, { shapes: SHAPES, tokenCounts, factors: FP8_FACTORS, noise: 0.04, rng: createRng(4), precision: "fp8" });
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-calset-fp8-"));
  writeFileSync(join(dir, "h200.csv"), formatCalibrationCsv({ gpu_id: "h200", device: "cuda" }, [...bf16, ...fp8]));
  const file = loadCalibration(dir).files[0];
  assert.equal(rowsOfPrecision(file.rows, "bf16").length, bf16.length);
  assert.equal(rowsOfPrecision(file.rows, "fp8").length, fp8.length);
  assert.throws(() => fitRoofline(file.rows, gpu), (e: Error) => e instanceof RangeError && /rows mix precisions bf16 and fp8, allowed: one precision per fit/.test(e.message));
  // Each precision's fit recovers its own factors (FP8 rows are modelled with FP8 bytes and the FP8 peak).
  const near = (a: number, b: number) => Math.abs(a / b - 1) < 0.03;
  const fitFp8 = calibratedFactors(gpu, dir, "fp8");
  assert.ok(near(fitFp8.factors.memoryEfficiency, FP8_FACTORS.memoryEfficiency) && near(fitFp8.factors.computeEfficiency, FP8_FACTORS.computeEfficiency), JSON.stringify(fitFp8.factors));
  assert.match(fitFp8.source, /\(\d+ fp8 grouped rows(, tiles of \d+ rows)?, rms error \d+\.\d%\)$/);
  const fitBf16 = calibratedFactors(gpu, dir, "bf16");
  assert.ok(near(fitBf16.factors.memoryEfficiency, TRUE_FACTORS.memoryEfficiency) && near(fitBf16.factors.computeEfficiency, TRUE_FACTORS.computeEfficiency), JSON.stringify(fitBf16.factors));
  // FP4 computes at the FP8 rate: it gets the FP8 fit, said to be applied to fp4.
  const fp4 = calibratedFactors(gpu, dir, "fp4");
  assert.deepEqual(fp4.factors, fitFp8.factors);
  assert.match(fp4.source, /fp8 grouped rows(, tiles of \d+ rows)?, rms error \d+\.\d%; the fp8 efficiencies are applied to fp4\)$/);
  assert.deepEqual(factorsFor(gpu, "auto", "fp8", dir), fitFp8);
  // The error report keeps the precisions apart.
  const report = fitErrorReport(rowsOfPrecision(file.rows, "fp8"), gpu, fitFp8.factors);
  assert.ok(report.length > 0 && report.every((g) => g.precision === "fp8" && g.withinTarget));
  // Bad input.
  assert.throws(() => rowsOfPrecision(file.rows, "int8" as never), /precision must be one of bf16, fp8, got "int8"/);
  assert.throws(() => rowsOfPrecision("rows" as never, "fp8"), TypeError);
  assert.throws(() => calibratedFactors(gpu, dir, "int8" as never), /precision must be one of bf16, fp8, fp4, got "int8"/);
  assert.throws(() => syntheticCalibrationRows(gpu, { shapes: SHAPES, tokenCounts, precision: "fp4" }), /options\.precision must be one of bf16, fp8, got "fp4"/);

  // Notebook 05 on this CSV with rooflineFactors "measured": BF16 rows in sections 2-3, FP8 rows fitted on their own, sections 4-9 on the grouped FP8 fit (FP8 experts).
  const out = mkdtempSync(join(tmpdir(), "moe-lab-nb05-fp8-"));
  const r = runCli(["run", "notebooks/05-throughput-model.ipynb", "--out", out, "--no-html", "--quiet", "--param", `calibrationDir=${dir}`, "--param", "gpuId=h200", "--param", "rooflineFactors=measured"]);
  assert.equal(r.status, 0, r.stderr);
  const nb = readNotebook(join(out, "05-throughput-model.ipynb"));
  const text = nb.cells.flatMap((c) => (c.outputs ?? []).map((o) => JSON.stringify(o))).join("\n");
  assert.match(text, /\| fp8 \| single \| 7168x2048 \| single \|/);
  assert.match(text, /\| bf16 \| grouped \| 4096x14336 \| skewed \|/);
  assert.match(text, /\| FP8 \| both kinds \| \d+ \| 6\d\.\d% \| 5\d\.\d% \|/, "FP8 rows fitted on their own");
  assert.match(text, /Sections 4 to 9 run on \*\*the factors fitted to the grouped FP8 rows of .*h200\.csv\*\*/);

  // A CSV with FP8 rows only (a run with --dtypes fp8): sections 2-3 fall back to synthetic BF16 rows, sections 4-9 use the FP8 fit.
  const fp8Only = mkdtempSync(join(tmpdir(), "moe-lab-calset-fp8only-"));
  writeFileSync(join(fp8Only, "h200.csv"), formatCalibrationCsv({ gpu_id: "h200", device: "cuda", incomplete: "stopped at mixtral-8x7b: CUDA out of memory" }, fp8));
  const out2 = mkdtempSync(join(tmpdir(), "moe-lab-nb05-fp8only-"));
  const r2 = runCli(["run", "notebooks/05-throughput-model.ipynb", "--out", out2, "--no-html", "--quiet", "--param", `calibrationDir=${fp8Only}`, "--param", "gpuId=h200", "--param", "rooflineFactors=measured"]);
  assert.equal(r2.status, 0, r2.stderr);
  const text2 = readNotebook(join(out2, "05-throughput-model.ipynb")).cells.flatMap((c) => (c.outputs ?? []).map((o) => JSON.stringify(o))).join("\n");
  assert.match(text2, /Fitted to synthetic rows \(no BF16 rows measured\)/);
  assert.match(text2, /\*\*The run is incomplete\*\* \(stopped at mixtral-8x7b: CUDA out of memory\)/);
  assert.match(text2, /Sections 4 to 9 run on \*\*the factors fitted to the grouped FP8 rows of .*h200\.csv\*\*/);
  assert.match(calibratedFactors(getGpu("h200"), fp8Only, "bf16").source, /^assumed defaults \(.*h200\.csv has fewer than 3 bf16 rows\)$/);
  // ...and with BF16 experts there is no measured fit to use: "measured" is refused in one line, and the default runs on the assumed factors.
  const refused = runCli(["run", "notebooks/05-throughput-model.ipynb", "--out", out2, "--no-html", "--quiet", "--param", `calibrationDir=${fp8Only}`, "--param", "gpuId=h200", "--param", "expertPrecision=bf16", "--param", "rooflineFactors=measured"]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /RangeError: rooflineFactors "measured" needs a calibration CSV measured on h200 under .*; allowed without one: "defaults" or "published"/);
  const r3 = runCli(["run", "notebooks/05-throughput-model.ipynb", "--out", out2, "--no-html", "--quiet", "--param", `calibrationDir=${fp8Only}`, "--param", "gpuId=h200", "--param", "expertPrecision=bf16"]);
  assert.equal(r3.status, 0, r3.stderr);
  assert.match(readNotebook(join(out2, "05-throughput-model.ipynb")).cells.flatMap((c) => (c.outputs ?? []).map((o) => JSON.stringify(o))).join("\n"), /Sections 4 to 9 run on \*\*the assumed DEFAULT_FACTORS\*\*/);
});

test("calibratedFactors fits one kind of rows: grouped for step, single for expert-time, or all", () => {
  const { dir } = syntheticCalibrationDir();
  const gpu = getGpu("h200");
  const grouped = calibratedFactors(gpu, dir);
  const single = calibratedFactors(gpu, dir, "bf16", "single");
  const all = calibratedFactors(gpu, dir, "bf16", "all");
  const rows = loadCalibration(dir).files[0].rows;
  const count = (kind: string) => rows.filter((r) => r.kind === kind).length;
  assert.match(grouped.source, new RegExp(`\\(${count("grouped")} bf16 grouped rows`));
  assert.match(single.source, new RegExp(`\\(${count("single")} bf16 single rows`));
  assert.match(all.source, new RegExp(`\\(${rows.length} bf16 rows`));
  assert.deepEqual(factorsFor(gpu, "auto", "bf16", dir, "single"), single);
  assert.throws(() => calibratedFactors(gpu, dir, "bf16", "pairs" as never), (e: Error) => e instanceof RangeError && /kind must be one of single, grouped, all, got "pairs"/.test(e.message));
  // A file with no grouped rows: the grouped fit falls back to all its rows, and says "bf16 rows".
  const singleOnly = mkdtempSync(join(tmpdir(), "moe-lab-single-only-"));
  writeFileSync(join(singleOnly, "h200.csv"), formatCalibrationCsv({ gpu_id: "h200", device: "cuda" }, rows.filter((r) => r.kind === "single")));
  assert.match(calibratedFactors(gpu, singleOnly).source, new RegExp(`\\(${count("single")} bf16 rows, rms`));
});

test("tiles: paddedTokens rounds each expert's tokens up; a fit finds the tile height rows were made with", () => {
  assert.equal(paddedTokens({ tokens: 130, activeExperts: 2, slotTokens: [128, 2] }, 128), 256);
  assert.equal(paddedTokens({ tokens: 130, activeExperts: 2, slotTokens: [128, 2] }, 0), 130);
  assert.equal(paddedTokens({ tokens: 300, activeExperts: 3 }, 128), 384, "no slots: spread evenly, 100 each, one tile each");
  assert.equal(paddedTokens({ tokens: 0, activeExperts: 0 }, 128), 0);
  assert.throws(() => paddedTokens({ tokens: 10, activeExperts: 2, slotTokens: [4, 5] }, 64), (e: Error) => e instanceof RangeError && /work\.slotTokens must sum to work\.tokens \(10\), got 9/.test(e.message));
  assert.throws(() => paddedTokens({ tokens: 10, activeExperts: 1 }, 1.5), /tileRows must be an integer/);
  assert.throws(() => validateFactors({ ...DEFAULT_FACTORS, tileRows: -1 }), /factors\.tileRows must be/);
  // The compute term of a tiled rank counts whole tiles: a skewed rank costs more than a balanced one of the same tokens.
  const shape = { hiddenSize: 7168, intermediateSize: 2048 };
  const gpu = getGpu("h100");
  const tiled = { ...DEFAULT_FACTORS, tileRows: 128 };
  const skew = rankExpertTime({ tokens: 4096, activeExperts: 16, slotTokens: groupedLoads("skewed", 4096, 16) }, shape, gpu, tiled);
  const even = rankExpertTime({ tokens: 4096, activeExperts: 16, slotTokens: groupedLoads("balanced", 4096, 16) }, shape, gpu, tiled);
  assert.equal(even.flops, 4096 * 6 * 7168 * 2048);
  assert.equal(skew.flops, 39 * 128 * 6 * 7168 * 2048, "skewed: 39 tiles of 128 rows");
  assert.ok(skew.seconds > even.seconds);
  // Rows made with tiles of 128: the fit over the candidates picks 128 and recovers the efficiencies.
  const truth = { memoryEfficiency: 0.7, computeEfficiency: 0.55, overheadSeconds: 30e-6, tileRows: 128 };
  const rows = [1, 16, 64, 256, 1024, 4096, 16384].flatMap((t) => (["balanced", "skewed", "single"] as const).map((pattern) => {
    const loads = groupedLoads(pattern, t, 16);
    const seconds = rankExpertTime({ tokens: t, activeExperts: loads.filter((n) => n > 0).length, slotTokens: loads }, shape, gpu, truth).seconds;
    return { kind: "grouped" as const, precision: "bf16" as const, hiddenSize: 7168, intermediateSize: 2048, numExperts: 16, loadPattern: pattern, totalTokens: t, activeExperts: loads.filter((n) => n > 0).length, maxExpertTokens: Math.max(...loads), medianSeconds: seconds };
  }));
  const { best, fits } = fitRooflineTiles(rows, gpu);
  assert.deepEqual(fits.map((f) => f.tileRows), [...TILE_ROWS_CANDIDATES]);
  assert.equal(best.factors.tileRows, 128);
  assert.ok(best.rmsRelativeError < 1e-3 && Math.abs(best.factors.computeEfficiency / 0.55 - 1) < 0.01, JSON.stringify(best.factors));
  assert.ok(fits.find((f) => f.tileRows === 0)!.fit.rmsRelativeError > 0.02, "without tiles the same rows fit worse");
  assert.throws(() => fitRooflineTiles(rows, gpu, []), /candidates must have at least 1 item/);
  assert.throws(() => fitRoofline(rows, gpu, { tileRows: 2.5 }), /options\.tileRows must be an integer/);
});

test("step with tiled factors: slots rounded per rank, and EPLB's even load wastes fewer tiles", () => {
  assert.deepEqual(rankWorkFromLoads([6, 0, 2, 2], 2, undefined, 1, true), [{ tokens: 6, activeExperts: 1, slotTokens: [6] }, { tokens: 4, activeExperts: 2, slotTokens: [2, 2] }]);
  assert.deepEqual(rankWorkFromLoads([6, 0, 2, 2], 2), [{ tokens: 6, activeExperts: 1 }, { tokens: 4, activeExperts: 2 }], "no slots unless asked");
  assert.throws(() => rankWorkFromLoads([1, 1], 1, undefined, 1, "yes" as never), /withSlots must be a boolean, got "yes"/);
  const base = { model: "deepseek-v3", gpu: "h100", ep: 32, batchTokens: 32 * 256, mode: "prefill" as const, contextTokens: 0, seed: 0 };
  const plain = runScenario({ ...base, placement: "contiguous" });
  const tiled = runScenario({ ...base, placement: "contiguous", factors: { ...DEFAULT_FACTORS, tileRows: 128 } });
  assert.ok(tiled.breakdown.routedExpertSeconds > plain.breakdown.routedExpertSeconds, "rounding to tiles only adds compute");
  const tiledEplb = runScenario({ ...base, placement: "eplb", factors: { ...DEFAULT_FACTORS, tileRows: 128 } });
  const plainEplb = runScenario({ ...base, placement: "eplb" });
  const gain = (a: number, b: number) => a / b;
  assert.ok(gain(tiled.breakdown.routedExpertSeconds, tiledEplb.breakdown.routedExpertSeconds) > gain(plain.breakdown.routedExpertSeconds, plainEplb.breakdown.routedExpertSeconds) - 1e-9, "with tiles EPLB saves at least as much on the routed experts");
});
