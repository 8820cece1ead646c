import { test } from "node:test";
import assert from "node:assert/strict";
import { getGpu, hbmBytes, hbmBytesPerSecond, listGpus, loadHardware, parseHardware, peakFlops } from "../lib/hardware";
import { readDataJson } from "../lib/paths";

test("data/hardware.json loads, lists the three GPUs and their spec numbers", () => {
  const hw = loadHardware();
  assert.deepEqual(listGpus(hw), ["h100", "h200", "h800"]);
  assert.equal(hw.gpus.h100.hbmBandwidthTBps, 3.35);
  assert.equal(hw.gpus.h200.hbmBandwidthTBps, 4.8);
  assert.equal(hw.gpus.h200.hbmCapacityGB, 141);
  assert.equal(hw.gpus.h800.nvlinkBidirGBps, 400);
  assert.equal(hw.gpus.h800.nvlinkEffectiveGBps, 160);
  assert.equal(peakFlops(hw.gpus.h100, "bf16"), 989.4e12);
  assert.equal(peakFlops(hw.gpus.h100, "fp8"), 1978.9e12);
  assert.equal(hbmBytesPerSecond(hw.gpus.h200), 4.8e12);
  // Memory as nvidia-smi reports it: an "80 GB" H100 or H800 has 81,559 MiB, an H200 143,771 MiB.
  assert.deepEqual([hw.gpus.h100.hbmTotalMiB, hw.gpus.h800.hbmTotalMiB, hw.gpus.h200.hbmTotalMiB], [81559, 81559, 143771]);
  assert.equal(hbmBytes(hw.gpus.h100), 85520809984);
  assert.ok(hbmBytes(hw.gpus.h200) > 141e9 && hbmBytes(hw.gpus.h200) / 2 ** 30 < 141, "the H200's 141 GB is close to GiB");
  assert.throws(() => hbmBytes(null as never), /gpu must be a GPU spec/);
  assert.throws(() => hbmBytes({ ...hw.gpus.h100, hbmTotalMiB: 0 }), /gpu\.hbmTotalMiB must be a finite number > 0, got 0/);
});

test("every GPU number has a source", () => {
  for (const g of Object.values(loadHardware().gpus)) {
    for (const f of ["bf16DenseTflops", "fp8DenseTflops", "hbmBandwidthTBps", "hbmCapacityGB", "hbmTotalMiB", "nvlinkBidirGBps", "networkGBpsPerGpu", "sms"]) {
      assert.equal(typeof g.sources[f], "string", `${g.id}.${f}`);
    }
  }
});

test("DeepEP tables come through sorted, with the published EP32 numbers", () => {
  const d = loadHardware().deepep;
  assert.deepEqual(d.normal.map((r) => r.ep), [8, 16, 32, 64]);
  assert.deepEqual(d.normal[2], { ep: 32, dispatchGBps: 58, combineGBps: 57 });
  assert.deepEqual(d.lowLatency[2], { ep: 32, dispatchUs: 155, dispatchGBps: 48, combineUs: 273, combineGBps: 53 });
  assert.equal(d.lowLatencyTokensPerRank, 128);
});

test("getGpu accepts case and suffix variants; unknown GPUs list the known ones", () => {
  assert.equal(getGpu("H100").id, "h100");
  assert.equal(getGpu("H100_SXM").id, "h100");
  assert.throws(() => getGpu("a100"), { name: "RangeError", message: 'gpu must be one of h100, h200, h800, got "a100"' });
  assert.throws(() => getGpu(3 as unknown as string), TypeError);
});

test("parseHardware names the malformed field", () => {
  const raw = readDataJson<Record<string, any>>("hardware.json");
  const bad = JSON.parse(JSON.stringify(raw));
  bad.gpus.h100.hbmBandwidthTBps = -1;
  assert.throws(() => parseHardware(bad), /gpus\.h100\.hbmBandwidthTBps must be a finite number > 0, got -1/);
  const noSource = JSON.parse(JSON.stringify(raw));
  delete noSource.gpus.h200.sources.hbmCapacityGB;
  assert.throws(() => parseHardware(noSource), /gpus\.h200\.sources\.hbmCapacityGB must be a string/);
  const unsorted = JSON.parse(JSON.stringify(raw));
  unsorted.deepep.normal.rows.reverse();
  assert.throws(() => parseHardware(unsorted), /deepep\.normal\.rows must be sorted by ep/);
  // The DeepEP tables must name a GPU of the file: its NVLink is the basis of the intranode scaling.
  const unknownGpu = JSON.parse(JSON.stringify(raw));
  unknownGpu.deepep.measuredOn = "a100";
  assert.throws(() => parseHardware(unknownGpu), /deepep\.measuredOn must be one of h100, h200, h800, got "a100"/);
  assert.equal(parseHardware(raw).deepep.measuredOnNvlinkBidirGBps, 400);
  assert.throws(() => parseHardware(null), TypeError);
});
