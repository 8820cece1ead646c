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
import { parseCalibrationCsv, groupedLoads, requireGpuMeasurement, fitRoofline, fitErrorReport, formatCalibrationCsv, loadCalibration, syntheticCalibrationRows, rooflineFigure, calibratedFactors, DEFAULT_FACTORS } from "../lib/throughput/index";
import { createRng } from "../lib/rng";
import { readNotebook, cellSource } from "../lib/notebook";
import { missing, pythonWith, runCli } from "./helpers";

const script = join(repoRoot(), "tools", "calibrate_experts.py");

function runScript(py: string, args: string[]) {
  return spawnSync(py, [script, ...args], { encoding: "utf8", timeout: 300_000 });
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
  for (const key of ["tool", "gpu_id", "date", "torch", "python", "device", "grouped_impl", "timing", "gpu", "driver"]) {
    assert.ok(file.meta[key], `provenance line ${key}`);
  }
  assert.equal(file.meta.device, "cpu");
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
  assert.match(loadCalibration(join(empty, "absent")).message, /no calibration CSV under .*absent\/ yet/);
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
  assert.match(text, /source: 'measured \(.*h200\.csv\)'/);
  assert.match(text, /gpu: 'h200'/);
  assert.match(text, /measured \(bf16\)|measured/);
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
  assert.match(h200.source, /^fitted to .*h200\.csv \(\d+ rows, rms error \d+\.\d%\)$/);
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
