/**
 * tools/calibrate_experts.py, run for real: its CPU --dry-run (Debian's python3-torch) must write a
 * CSV that lib/throughput/calibration.ts parses, with the grouped load patterns computed the same
 * way in Python and TypeScript, and the loader must refuse that CPU file as a GPU calibration.
 * The GPU run itself needs the device machine (issue 5); this keeps the script from rotting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../lib/paths";
import { getGpu } from "../lib/hardware";
import { parseCalibrationCsv, groupedLoads, requireGpuMeasurement, fitRoofline, fitErrorReport } from "../lib/throughput/index";
import { missing, pythonWithTorch } from "./helpers";

const script = join(repoRoot(), "tools", "calibrate_experts.py");

function runScript(py: string, args: string[]) {
  return spawnSync(py, [script, ...args], { encoding: "utf8", timeout: 300_000 });
}

test("calibrate_experts.py --dry-run writes a CSV that the model reads", (t) => {
  const py = pythonWithTorch();
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
  const py = pythonWithTorch();
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
