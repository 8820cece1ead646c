/**
 * `moe-lab step --capture FILE`: the scenario and its breakdown as a capture record, lined up by
 * `moe-lab compare`; a path that cannot be written fails in one line.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { readCapture, validateCapture } from "../lib/capture";
import { repoRoot } from "../lib/paths";
import { runCli } from "./helpers";

const STEP = ["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "32", "--placement", "eplb"];

function withDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-step-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("step --capture writes a valid capture of the scenario and its breakdown", () => {
  withDir((dir) => {
    const file = join(dir, "a.json");
    const r = runCli([...STEP, "--tokens", "4096", "--json", "--capture", file]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(dir), ["a.json"], "written atomically: no temporary file left");
    const cap = readCapture(file);
    assert.deepEqual(validateCapture(JSON.parse(readFileSync(file, "utf8"))), cap);
    assert.equal(cap.name, "step deepseek-v3 h100 EP32 4096 tokens eplb");
    assert.equal(cap.timestamp, undefined, "deterministic by default: no timestamp");
    const twice = join(dir, "twice.json");
    assert.equal(runCli([...STEP, "--tokens", "4096", "--json", "--capture", twice]).status, 0);
    assert.equal(readFileSync(twice, "utf8"), readFileSync(file, "utf8"), "same command, same bytes");
    assert.equal(runCli([...STEP, "--tokens", "4096", "--capture", join(dir, "t.json"), "--timestamp"]).status, 0);
    assert.match(String(readCapture(join(dir, "t.json")).timestamp), /^\d{4}-\d\d-\d\dT/, "--timestamp records when it was taken");
    const o = JSON.parse(r.stdout);
    const f = cap.fields;
    // The scenario.
    assert.deepEqual(
      [f.model, f.gpu, f.ep, f.placement, f.redundant_experts, f.mode, f.batch_tokens, f.context_tokens, f.expert_precision, f.zipf_exponent, f.seed, f.overlap_communication],
      ["deepseek-v3", "h100", 32, "eplb", 32, "decode", 4096, 4096, "bf16", 0.4, 0, false],
    );
    // The breakdown: the same numbers as --json, in microseconds to 0.01 us.
    const us = (s: number) => +(s * 1e6).toFixed(2);
    assert.equal(f.attention_us, us(o.attentionSeconds));
    assert.equal(f.experts_us, us(o.expertSeconds));
    assert.equal(f.routed_experts_us, us(o.routedExpertSeconds));
    assert.equal(f.shared_experts_us, us(o.sharedExpertSeconds));
    assert.equal(f.all_to_all_us, us(o.communicationSeconds));
    assert.equal(f.dispatch_us, us(o.dispatchSeconds));
    assert.equal(f.combine_us, us(o.combineSeconds));
    assert.equal(f.layer_us, us(o.layerSeconds));
    assert.equal(f.forward_us, us(o.forwardSeconds));
    assert.equal(f.bound, o.bound);
    assert.equal(f.slowest_rank, o.slowestRank);
    assert.equal(f.kv_capacity_tokens_per_rank, o.kvCapacityTokensPerRank);
    assert.deepEqual([f.kv_tokens_needed_per_rank, f.kv_fits], [o.kvTokensNeededPerRank, o.kvFits]);
    // The source is a command line that reproduces the step (every option spelled out).
    assert.match(cap.source!, /^moe-lab step --model deepseek-v3 --gpu h100 --ep 32 --tokens 4096 --placement eplb --redundant 32 /);
    assert.ok(!cap.source!.includes(dir), "the capture path is not part of the scenario");
    const again = runCli([...cap.source!.split(" ").slice(1), "--json"]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, r.stdout);
  });
});

test("compare of two step captures with different --tokens shows what changed", () => {
  withDir((dir) => {
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    assert.equal(runCli([...STEP, "--tokens", "4096", "--capture", a]).status, 0);
    assert.equal(runCli([...STEP, "--tokens", "8192", "--capture", b]).status, 0);
    const j = runCli(["compare", a, b, "--json", "--changed"]);
    assert.equal(j.status, 0, j.stderr);
    const rows = JSON.parse(j.stdout).rows as Array<{ field: string; a: unknown; b: unknown; delta: number | null; relativeDelta: number | null }>;
    const changed = new Map(rows.map((r) => [r.field, r]));
    assert.deepEqual([changed.get("batch_tokens")!.a, changed.get("batch_tokens")!.b, changed.get("batch_tokens")!.relativeDelta], [4096, 8192, 1]);
    assert.equal(changed.get("tokens_per_rank")!.delta, 128);
    for (const field of ["layer_us", "attention_us", "tokens_per_second_per_gpu"]) assert.ok(changed.has(field), `${field} changes with the tokens`);
    for (const field of ["model", "gpu", "ep", "placement", "redundant_experts", "context_tokens", "seed", "zipf_exponent"]) {
      assert.ok(!changed.has(field), `${field} is the same in both`);
    }
    const text = runCli(["compare", a, b]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^A: step deepseek-v3 h100 EP32 4096 tokens eplb\nB: step deepseek-v3 h100 EP32 8192 tokens eplb\n/);
    assert.match(text.stdout, /^batch_tokens +4096 +8192 +\+4096 \(\+100\.0%\)$/m);
    assert.match(text.stdout, /^model +deepseek-v3 +deepseek-v3$/m);
  });
});

test("step --capture to a path that cannot be written: one error line, non-zero exit, no output", () => {
  withDir((dir) => {
    const missing = join(dir, "no-such-folder", "a.json");
    const r = runCli([...STEP, "--tokens", "64", "--capture", missing]);
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^moe-lab step: cannot write capture .*a\.json: its folder .*no-such-folder does not exist \(ENOENT\)\n$/);
    assert.equal(existsSync(join(dir, "no-such-folder")), false);
    const folder = runCli([...STEP, "--tokens", "64", "--capture", dir]);
    assert.notEqual(folder.status, 0);
    assert.match(folder.stderr, /^moe-lab step: cannot write capture .*: it is a folder \(EISDIR\)\n$/);
    const empty = runCli([...STEP, "--tokens", "64", "--capture", ""]);
    assert.equal(empty.status, 2);
    assert.equal(empty.stderr, 'moe-lab step: --capture must be a file path, got ""\n');
    const noValue = runCli([...STEP, "--tokens", "64", "--capture"]);
    assert.equal(noValue.status, 2);
    assert.equal(noValue.stderr.trim().split("\n").length, 1, noValue.stderr);
    assert.deepEqual(readdirSync(dir), [], "nothing written");
  });
});

test("step says whether the batch's KV cache fits, and how many sequences would", () => {
  // DeepSeek-V3, FP8 experts, EP32 on H100s, context 4096: 77 sequences per GPU fit (scenarioMemory).
  const base = ["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "32", "--precision", "fp8", "--context", "4096"];
  const fits = runCli([...base, "--tokens", String(77 * 32)]);
  assert.equal(fits.status, 0, fits.stderr);
  assert.match(fits.stdout, /^ {2}KV cache +\d+ tokens fit per rank, this batch needs 315392 \(at most 77 sequences per rank at context 4096\)$/m);
  assert.match(fits.stdout, /^ {2}assumptions +fp8 experts, bf16 non-expert weights, bf16 KV cache, Zipf skew 0\.4, seed 0, communication added to compute$/m);
  assert.doesNotMatch(fits.stdout, /warning/);
  const over = runCli([...base, "--tokens", String(78 * 32)]);
  assert.equal(over.status, 0, over.stderr);
  assert.match(over.stdout.split("\n")[0], /^warning: this batch cannot be served: its KV cache needs 319488 tokens per rank and \d+ fit/);
  assert.match(over.stdout, /this batch needs 319488: DOES NOT FIT \(at most 77 sequences per rank/);
  const j = JSON.parse(runCli([...base, "--tokens", String(78 * 32), "--json"]).stdout);
  assert.deepEqual([j.kvTokensNeededPerRank, j.kvFits, j.maxSequencesPerRank], [319488, false, 77]);
  assert.deepEqual([j.weightPrecision, j.overlapCommunication, j.zipfExponent, j.seed], ["fp8", false, 0.4, 0]);
  const overlapped = runCli([...base, "--tokens", String(16 * 32), "--overlap", "--skew", "0.2"]);
  assert.match(overlapped.stdout, /^ {2}assumptions +fp8 experts, bf16 non-expert weights, bf16 KV cache, Zipf skew 0\.2, seed 0, communication overlapped with compute \(two micro-batches in SGLang's stage order\)$/m);
  // The layer line says how long the compute stream waits for a transfer the other micro-batch does not hide.
  const overlappedJson = JSON.parse(runCli([...base, "--tokens", String(16 * 32), "--overlap", "--skew", "0.2", "--json"]).stdout);
  const idle = /^ {2}layer .*; compute waits ([\d.]+) us for dispatch\/combine$/m.exec(overlapped.stdout);
  assert.ok(idle, overlapped.stdout);
  assert.equal(Number(idle[1]), +(overlappedJson.computeIdleSeconds * 1e6).toFixed(1));
  assert.doesNotMatch(runCli([...base, "--tokens", String(16 * 32)]).stdout, /compute waits/);
  const prefill = runCli([...base, "--tokens", String(4096 * 32), "--mode", "prefill", "--overlap"]);
  assert.match(prefill.stdout, /communication overlapped with compute \(two micro-batches in SGLang's stage order, compute on 112 of 132 SMs while DeepEP sends\)$/m);
  const tiny = runCli([...base, "--tokens", "32", "--overlap", "--json"]);
  assert.equal(JSON.parse(tiny.stdout).microBatches, 1, "one token per rank is not split");
  assert.match(runCli([...base, "--tokens", "32", "--overlap"]).stdout, /communication added to compute \(too few tokens per rank to split the batch for overlap\)$/m);
  assert.match(fits.stdout, /^ {2}forward pass +[\d.]+ ms \(output head [\d.]+ us\), \d+ tokens\/s per GPU$/m);
});

test("step --kv-precision fp8 and --dense-precision fp8 hold more sequences; bad values exit 2 with one line", () => {
  // The assumed factors: with them decode attention is memory-bound, so the KV precision shows in its time.
  const base = ["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "32", "--precision", "fp8", "--tokens", String(77 * 32), "--factors", "defaults", "--json"];
  const plain = JSON.parse(runCli(base).stdout);
  const kv = JSON.parse(runCli([...base, "--kv-precision", "fp8"]).stdout);
  const both = JSON.parse(runCli([...base, "--kv-precision", "fp8", "--dense-precision", "fp8"]).stdout);
  assert.deepEqual([plain.kvPrecision, plain.densePrecision, kv.kvPrecision, both.densePrecision], ["bf16", "bf16", "fp8", "fp8"]);
  assert.ok(kv.maxSequencesPerRank >= 2 * plain.maxSequencesPerRank, `${plain.maxSequencesPerRank} -> ${kv.maxSequencesPerRank}`);
  assert.ok(both.maxSequencesPerRank > kv.maxSequencesPerRank);
  assert.ok(kv.attentionSeconds < plain.attentionSeconds, "decode attention reads half the KV bytes");
  const text = runCli([...base.slice(0, -1), "--kv-precision", "fp8", "--dense-precision", "fp8"]);
  assert.match(text.stdout, /^ {2}assumptions +fp8 experts, fp8 non-expert weights, fp8 KV cache,/m);
  for (const [flag, value, allowed] of [["--kv-precision", "fp4", "bf16, fp8"], ["--dense-precision", "fp4", "bf16, fp8"]]) {
    const bad = runCli([...base, flag, value]);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, `moe-lab step: ${flag} must be one of ${allowed}, got "${value}"\n`);
  }
});

test("step warns first when the weights alone do not fit, and names the way out", () => {
  const r = runCli(["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "1", "--tokens", "100", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.weightsFit, false);
  const text = runCli(["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "1", "--tokens", "100"]).stdout.split("\n")[0];
  assert.match(text, /^warning: this cannot be served: the weights alone take 1342\.\d GB per GPU, more than the 77\.0 GB usable \(90% of 85\.5 GB\); use a larger --ep or a lower --precision \/ --dense-precision/);
  // Where the weights fit, the KV warning (or none) as before.
  assert.equal(JSON.parse(runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--precision", "fp8", "--tokens", "64", "--json"]).stdout).weightsFit, true);
});

test("step refuses --timestamp without --capture and a batch too large to route, in one line", () => {
  const ts = runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--tokens", "64", "--timestamp"]);
  assert.deepEqual([ts.status, ts.stdout, ts.stderr], [2, "", "moe-lab step: --timestamp needs --capture FILE (it records when a capture was taken)\n"]);
  const big = runCli(["step", "--model", "deepseek-v3", "--ep", "32", "--tokens", "1000000000"]);
  assert.deepEqual([big.status, big.stderr], [2, "moe-lab step: --tokens must be an integer >= 0 and <= 8388608, got 1000000000\n"]);
});

test("the README's step examples run and can be served (no warning)", () => {
  const readme = readFileSync(join(repoRoot(), "README.md"), "utf8");
  const lines = readme.split("\n").filter((l) => l.startsWith("npx moe-lab step "));
  assert.ok(lines.length >= 2, "the README shows step examples");
  withDir((dir) => {
    for (const line of lines) {
      const argv = line.replace(/#.*$/, "").trim().split(/\s+/).slice(2).map((a, i, all) => (all[i - 1] === "--capture" ? join(dir, a) : a));
      const r = runCli(argv);
      assert.equal(r.status, 0, `${line}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /warning/, line);
    }
  });
});

test("step --help names --capture", () => {
  const r = runCli(["step", "--help"]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /\[--capture FILE\]/);
  assert.match(r.stdout, /--capture +also write the scenario and its breakdown as a capture record/);
});

test("step --overlap --timeline prints the middle MoE layer's schedule, with the compute stream's waits; --json gives it as an array", () => {
  // The assumed factors: with them this step waits for transfers in both orders.
  const base = ["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "128", "--tokens", "2048", "--precision", "fp8", "--overlap", "--factors", "defaults"];
  for (const [schedule, lag, attentionOp] of [
    ["sglang", "B runs two stages behind", "attention input"],
    ["vllm", "B runs one stage behind", "attention"],
  ]) {
    const args = [...base, "--overlap-schedule", schedule];
    const text = runCli([...args, "--timeline"]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^ {2}timeline +MoE layer 29 of 58, from micro-batch A's start \\(${lag}\\); microseconds$`, "m"), schedule);
    const rows = [...text.stdout.matchAll(/^ {4} *([\d.]+) - +([\d.]+) {2}(compute|transfer) +([AB-]) {2}(.+)$/gm)].map((m) => ({ from: +m[1], to: +m[2], lane: m[3], mb: m[4], what: m[5] }));
    const compute = rows.filter((r) => r.lane === "compute");
    // The compute lane is continuous: operations and waits follow each other from 0 to the window's end.
    assert.equal(compute[0].from, 0);
    for (let i = 1; i < compute.length; i++) assert.ok(Math.abs(compute[i].from - compute[i - 1].to) < 0.11, `${schedule}: ${compute[i - 1].to} -> ${compute[i].from}`);
    const waits = compute.filter((r) => r.mb === "-").reduce((a, r) => a + r.to - r.from, 0);
    const j = JSON.parse(runCli([...args, "--timeline", "--json"]).stdout);
    assert.equal(j.overlapSchedule, schedule);
    // In the middle of the pass the waits of one layer are the per-layer average (the first and last layers differ a little).
    assert.ok(Math.abs(waits - j.computeIdleSeconds * 1e6) < 0.05 * j.computeIdleSeconds * 1e6 + 1, `${schedule}: ${waits} vs ${j.computeIdleSeconds * 1e6}`);
    assert.ok(rows.some((r) => r.lane === "transfer" && r.what === "combine") && rows.some((r) => r.what === attentionOp), schedule);
    assert.deepEqual(Object.keys(j.timeline[0]), ["resource", "microBatch", "layer", "op", "startUs", "endUs"]);
    assert.equal(j.timeline.filter((t: { resource: string }) => t.resource === "compute").length, compute.filter((r) => r.mb !== "-").length);
  }
  assert.equal(JSON.parse(runCli([...base, "--json"]).stdout).timeline, undefined, "no timeline unless asked");
  assert.match(runCli([...base, "--mode", "prefill", "--tokens", String(128 * 1024), "--timeline"]).stdout, /from micro-batch A's start \(B starts with A\); microseconds$/m);
  // Without --overlap there is no schedule to print; a batch too small to split has none either.
  const noOverlap = runCli(["step", "--model", "deepseek-v3", "--ep", "128", "--tokens", "2048", "--timeline"]);
  assert.equal(noOverlap.status, 2);
  assert.equal(noOverlap.stderr, "moe-lab step: --timeline needs --overlap (it prints the two micro-batches' schedule)\n");
  assert.match(runCli(["step", "--model", "deepseek-v3", "--ep", "128", "--tokens", "128", "--overlap", "--timeline"]).stdout, /^ {2}timeline +none: the batch is not split \(under 2 tokens per rank\)$/m);
});

test("step --overlap-schedule vllm: vLLM's stage order, named in the assumptions, the JSON and the capture; bad use exits 2 with one line", () => {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-step-"));
  try {
    const base = ["step", "--model", "deepseek-v3", "--gpu", "h100", "--ep", "128", "--tokens", "2048", "--precision", "fp8", "--overlap"];
    const text = runCli([...base, "--overlap-schedule", "vllm"]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /communication overlapped with compute \(two micro-batches in vLLM's stage order\)$/m);
    const vllm = JSON.parse(runCli([...base, "--overlap-schedule", "vllm", "--json"]).stdout);
    const sglang = JSON.parse(runCli([...base, "--json"]).stdout);
    assert.equal(sglang.overlapSchedule, "sglang", "SGLang's order by default");
    // Same parts, a different replay: the MoE layer and the dense layers (two halves in vLLM) differ.
    assert.deepEqual([vllm.attentionSeconds, vllm.expertSeconds, vllm.communicationSeconds], [sglang.attentionSeconds, sglang.expertSeconds, sglang.communicationSeconds]);
    assert.notEqual(vllm.layerSeconds, sglang.layerSeconds);
    assert.equal(JSON.parse(runCli(base.filter((a) => a !== "--overlap").concat("--json")).stdout).overlapSchedule, null, "no schedule without overlap");
    const file = join(dir, "v.json");
    assert.equal(runCli([...base, "--overlap-schedule", "vllm", "--capture", file]).status, 0);
    const cap = readCapture(file);
    assert.equal(cap.fields.overlap_schedule, "vllm");
    assert.match(String(cap.source), / --overlap --overlap-schedule vllm( |$)/);
    // The capture's command line reproduces it.
    const again = runCli(String(cap.source).replace(/^moe-lab /, "").split(" ").concat("--json"));
    assert.equal(JSON.parse(again.stdout).layerSeconds, vllm.layerSeconds);
    const alone = runCli(["step", "--model", "deepseek-v3", "--ep", "128", "--tokens", "2048", "--overlap-schedule", "vllm"]);
    assert.deepEqual([alone.status, alone.stderr], [2, "moe-lab step: --overlap-schedule needs --overlap (it picks the two micro-batches' stage order)\n"]);
    const bad = runCli([...base, "--overlap-schedule", "dbo"]);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr.split("\n").length, 2, bad.stderr);
    assert.match(bad.stderr, /^moe-lab step: --overlap-schedule must be one of sglang, vllm, got "dbo"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("step --all-to-all-scale: a what-if all-to-all slower than DeepEP's benchmarks, named in the output, JSON and capture; bad values exit 2", () => {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-step-"));
  try {
    const base = ["step", "--model", "deepseek-v3", "--gpu", "h800", "--ep", "32", "--tokens", String(16384 * 32), "--mode", "prefill", "--precision", "fp8", "--overlap"];
    const full = JSON.parse(runCli([...base, "--json"]).stdout);
    const slow = JSON.parse(runCli([...base, "--all-to-all-scale", "0.5", "--json"]).stdout);
    assert.deepEqual([full.allToAllBandwidthScale, slow.allToAllBandwidthScale], [1, 0.5]);
    // Half the bandwidth: the transfer part of each direction doubles (the fixed latency does not).
    assert.ok(slow.communicationSeconds > 1.99 * full.communicationSeconds && slow.communicationSeconds < 2 * full.communicationSeconds, `${slow.communicationSeconds} vs ${full.communicationSeconds}`);
    assert.equal(slow.attentionSeconds, full.attentionSeconds);
    assert.ok(slow.tokensPerSecondPerGpu < full.tokensPerSecondPerGpu);
    const text = runCli([...base, "--all-to-all-scale", "0.5"]).stdout;
    assert.match(text, /^ {2}communication .*DeepEP normal, what-if: 50% of DeepEP's benchmark bandwidth\)$/m);
    assert.doesNotMatch(runCli(base).stdout, /what-if/);
    const file = join(dir, "s.json");
    assert.equal(runCli([...base, "--all-to-all-scale", "0.5", "--capture", file]).status, 0);
    const cap = readCapture(file);
    assert.equal(cap.fields.all_to_all_scale, 0.5);
    assert.match(String(cap.source), / --all-to-all-scale 0\.5( |$)/);
    assert.equal(JSON.parse(runCli(String(cap.source).replace(/^moe-lab /, "").split(" ").concat("--json")).stdout).layerSeconds, slow.layerSeconds, "the capture's command line reproduces it");
    const fullFile = join(dir, "f.json");
    assert.equal(runCli([...base, "--capture", fullFile]).status, 0);
    assert.equal(readCapture(fullFile).fields.all_to_all_scale, undefined, "left out at the default");
    for (const bad of ["0", "-1", "x"]) {
      const r = runCli([...base, "--all-to-all-scale", bad]);
      assert.equal(r.status, 2, bad);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.match(r.stderr, /--all-to-all-scale/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

