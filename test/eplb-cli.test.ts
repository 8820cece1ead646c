/** `moe-lab eplb`: reference case files as input, CSV, --json, and one-line errors. */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { main } from "../cli/main";
import { dataPath, readDataJson } from "../lib/paths";

async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), "moe-lab-eplb-"));

describe("moe-lab eplb", () => {
  test("a reference case file works as is; --json matches the reference outputs", async () => {
    const c = readDataJson<{ outputs: { phy2log: number[][]; logcnt: number[][] }; derived: { per_gpu_load_after: number[][]; metrics_after: { aggregate_vllm_style_sum_mean_over_sum_max: number } } }>("eplb", "01_readme_example.json");
    const r = await runCli(["eplb", "--input", dataPath("eplb", "01_readme_example.json"), "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual(j.phy2log, c.outputs.phy2log);
    assert.deepEqual(j.logcnt, c.outputs.logcnt);
    assert.deepEqual(j.gpuLoadsAfter, c.derived.per_gpu_load_after);
    for (const k of ["log2phy", "gpuLoadsBefore", "balancednessBefore", "balancednessAfter"]) assert.ok(k in j, k);
    assert.ok(Math.abs(j.balancednessAfter - c.derived.metrics_after.aggregate_vllm_style_sum_mean_over_sum_max) < 1e-12);
  });

  test("the case's inputs object alone works too, and flags override it", async () => {
    const c = readDataJson<{ inputs: unknown }>("eplb", "01_readme_example.json");
    const f = join(tmp, "inputs.json");
    writeFileSync(f, JSON.stringify(c.inputs));
    const r = await runCli(["eplb", "--input", f]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /hierarchical policy/);
    assert.match(r.out, /before 0\.446 -> after 0\.816/);
    const g = await runCli(["eplb", "--input", f, "--nodes", "1", "--groups", "1", "--json"]);
    assert.equal(JSON.parse(g.out).policy, "hierarchical");
  });

  test("CSV and one-layer JSON inputs", async () => {
    const csv = join(tmp, "loads.csv");
    writeFileSync(csv, "# two layers\n9,1,1,1\n1,1,1,9\n");
    const r = await runCli(["eplb", "--input", csv, "--gpus", "2", "--replicas", "6", "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.logcnt.length, 2);
    assert.ok(j.balancednessAfter > j.balancednessBefore);
    const one = join(tmp, "one.json");
    writeFileSync(one, JSON.stringify({ weight: [9, 1, 1, 1], numGpus: 2, numReplicas: 6 }));
    const o = await runCli(["eplb", "--input", one, "--json"]);
    assert.deepEqual(JSON.parse(o.out).logcnt, [j.logcnt[0]]);
  });

  test("errors: one line, non-zero exit, naming the condition", async () => {
    const case07 = dataPath("eplb", "07_err_256e_288r_64gpu.json");
    const bad = await runCli(["eplb", "--input", case07]);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.err,
      "moe-lab eplb: num_replicas must be divisible by num_gpus (every GPU holds num_replicas / num_gpus slots), " +
        `got num_replicas=288, num_gpus=64 (288 % 64 = 32); num_replicas and num_gpus are from ${case07}\n`,
    );
    const csv = join(tmp, "bad.csv");
    writeFileSync(csv, "1,2\n3,-4\n");
    const neg = await runCli(["eplb", "--input", csv, "--gpus", "1"]);
    assert.equal(neg.code, 2);
    assert.match(neg.err, /weight\[1\]\[1\] must be a finite number >= 0, got -4/);
    const ragged = join(tmp, "ragged.csv");
    writeFileSync(ragged, "1,2\n3\n");
    assert.match((await runCli(["eplb", "--input", ragged, "--gpus", "1"])).err, /rectangular/);
    assert.match((await runCli(["eplb", "--input", csv])).err, /--gpus is required/);
    assert.match((await runCli(["eplb"])).err, /--input FILE is required/);
    const missing = await runCli(["eplb", "--input", join(tmp, "nope.json"), "--gpus", "1"]);
    assert.deepEqual([missing.code, missing.err], [2, `moe-lab eplb: ${join(tmp, "nope.json")} does not exist\n`]);
  });

  test("errors name each parameter as the user gave it: a flag, the file's key, or the default", async () => {
    const case07 = dataPath("eplb", "07_err_256e_288r_64gpu.json");
    // --gpus from the command line, the replicas from the file.
    const mixed = await runCli(["eplb", "--input", case07, "--gpus", "7"]);
    assert.deepEqual([mixed.code, mixed.err], [
      2,
      "moe-lab eplb: num_replicas must be divisible by --gpus (every GPU holds num_replicas / --gpus slots), " +
        `got num_replicas=288, --gpus=7 (288 % 7 = 1); num_replicas is from ${case07}\n`,
    ]);
    // Both from flags: flags only, nothing about the file.
    const flags = await runCli(["eplb", "--input", case07, "--gpus", "64", "--replicas", "300"]);
    assert.deepEqual([flags.code, flags.err], [
      2,
      "moe-lab eplb: --replicas must be divisible by --gpus (every GPU holds --replicas / --gpus slots), got --replicas=300, --gpus=64 (300 % 64 = 44)\n",
    ]);
    // num_gpus: 3 in a file without num_replicas: the replicas default to the experts.
    const three = join(tmp, "three-gpus.json");
    writeFileSync(three, JSON.stringify({ weight: [[1, 2, 3, 4]], num_gpus: 3 }));
    const r3 = await runCli(["eplb", "--input", three]);
    assert.deepEqual([r3.code, r3.err], [
      2,
      "moe-lab eplb: --replicas must be divisible by num_gpus (every GPU holds --replicas / num_gpus slots), got --replicas=4, num_gpus=3 (4 % 3 = 1); " +
        `num_gpus is from ${three}; --replicas was not given and defaults to the number of experts, 4\n`,
    ]);
    // A camelCase file is quoted in its own spelling.
    const camel = join(tmp, "camel.json");
    writeFileSync(camel, JSON.stringify({ weight: [1, 2, 3, 4], numGpus: 2, numNodes: 3 }));
    const rc = await runCli(["eplb", "--input", camel]);
    assert.equal(rc.code, 2);
    assert.match(rc.err, new RegExp(`^moe-lab eplb: numGpus must be divisible by numNodes .*got numGpus=2, numNodes=3 \\(2 % 3 = 2\\); numGpus and numNodes are from ${camel.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n$`));
  });

  test("an --input that is a directory or missing is one line naming it, exit 2", async () => {
    const dir = join(tmp, "a-folder");
    mkdirSync(dir);
    const d = await runCli(["eplb", "--input", dir, "--gpus", "1"]);
    assert.deepEqual([d.code, d.err], [2, `moe-lab eplb: ${dir} is a directory, not a JSON or CSV file of loads\n`]);
    const m = await runCli(["eplb", "--input", join(tmp, "missing.csv"), "--gpus", "1"]);
    assert.deepEqual([m.code, m.err], [2, `moe-lab eplb: ${join(tmp, "missing.csv")} does not exist\n`]);
  });
});
