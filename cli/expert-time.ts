/**
 * `moe-lab expert-time`: the modelled time of one expert (SwiGLU MLP) for each token count, on a
 * GPU from data/hardware.json. The roofline factors are fitted to the single-expert rows of
 * data/calibration/<gpu>.csv when that GPU has been calibrated (tools/calibrate_experts.py), else
 * the assumed DEFAULT_FACTORS;
 * `--factors published` takes the efficiencies fitted to published kernel timings in the chosen
 * precision (XLA's H100 BF16 table, or DeepGEMM's H800 FP8 table for fp8 and fp4), and
 * the efficiency options override any of them. The text output says which.
 */
import { Command, CliError, OptionSpecs, getFlag, getNumber, getString, startCommand } from "./args";
import { getGpu } from "../lib/hardware";
import { DEFAULT_FACTORS, FACTOR_CHOICES, FactorChoice, expertTimeCurve, factorsFor, ridgeTokens, WEIGHT_PRECISIONS, WeightPrecision } from "../lib/throughput";
import { requireNumber, requireOneOf } from "../lib/validate";

const SPECS: OptionSpecs = {
  gpu: { kind: "string", help: "GPU id from data/hardware.json (h100, h200, h800)", default: "h100" },
  hidden: { kind: "int", help: "hidden size (elements, >= 1)" },
  intermediate: { kind: "int", help: "expert intermediate size (elements, >= 1)" },
  tokens: { kind: "numbers", help: "comma-separated token counts (integers >= 0)", default: "1,8,64,512" },
  precision: { kind: "string", help: "expert weight precision: bf16, fp8, fp4", default: "bf16" },
  factors: { kind: "string", help: "roofline factors: auto (fitted to this GPU's calibration CSV, its single-expert rows; else the assumed defaults), defaults, or published (efficiencies fitted to published kernel timings in --precision: XLA's H100 BF16 table for bf16, DeepGEMM's H800 FP8 table for fp8 and fp4)", default: "auto" },
  "memory-efficiency": { kind: "number", help: "achieved fraction of HBM bandwidth, (0, 1]", default: `from --factors (assumed: ${DEFAULT_FACTORS.memoryEfficiency})` },
  "compute-efficiency": { kind: "number", help: "achieved fraction of dense peak, (0, 1]", default: `from --factors (assumed: ${DEFAULT_FACTORS.computeEfficiency})` },
  "overhead-us": { kind: "number", help: "fixed overhead per expert computation (us, >= 0)", default: `from --factors (assumed: ${DEFAULT_FACTORS.overheadSeconds * 1e6})` },
  json: { kind: "boolean", help: "print a JSON array of {tokens, seconds}" },
  help: { kind: "boolean", help: "show this help" },
};

export const expertTimeCommand: Command = {
  summary: "modelled time of one expert MLP per token count on a GPU (roofline)",
  run(argv, io) {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab expert-time --gpu h100 --hidden H --intermediate I --tokens 1,8,64,512 [--json]", summary: this.summary });
    if (!args) return 0;
    for (const req of ["hidden", "intermediate"]) {
      if (args.options[req] === undefined) throw new CliError(`--${req} is required (e.g. --hidden 7168 --intermediate 2048)`);
    }
    const gpu = getGpu(getString(args, "gpu", "h100"));
    const tokens = (args.options.tokens as number[] | undefined) ?? [1, 8, 64, 512];
    tokens.forEach((t) => {
      if (!Number.isSafeInteger(t) || t < 0) throw new CliError(`--tokens must be integers >= 0, got ${t}`);
    });
    const precision = requireOneOf("--precision", getString(args, "precision", "bf16"), WEIGHT_PRECISIONS) as WeightPrecision;
    // One expert's kernel: fitted to the calibration's single-expert rows (step uses the grouped ones).
    const base = factorsFor(gpu, requireOneOf("--factors", getString(args, "factors", "auto"), FACTOR_CHOICES) as FactorChoice, precision, undefined, "single");
    const given = ["memory-efficiency", "compute-efficiency", "overhead-us"].filter((k) => args.options[k] !== undefined);
    // Checked here, in the unit the user typed: the model checks seconds, which would misquote it.
    if (args.options["overhead-us"] !== undefined) requireNumber("--overhead-us", args.options["overhead-us"], { min: 0 });
    const factors = {
      memoryEfficiency: getNumber(args, "memory-efficiency", base.factors.memoryEfficiency),
      computeEfficiency: getNumber(args, "compute-efficiency", base.factors.computeEfficiency),
      overheadSeconds: getNumber(args, "overhead-us", base.factors.overheadSeconds * 1e6) * 1e-6,
    };
    const factorSource = given.length ? `${given.map((k) => `--${k}`).join(", ")} given; otherwise ${base.source}` : base.source;
    const shape = { hiddenSize: getNumber(args, "hidden", 0), intermediateSize: getNumber(args, "intermediate", 0) };
    let curve;
    try {
      curve = expertTimeCurve(shape, gpu, tokens, factors, precision);
    } catch (e) {
      // Name the flag where the user gave the value; a factor from --factors is named with its source.
      const flagOf = (flag: string): string => (given.includes(flag) ? `--${flag}` : `the ${flag} factor (${base.source})`);
      const msg = (e as Error).message
        .replace(/^shape\.hiddenSize/, "--hidden")
        .replace(/^shape\.intermediateSize/, "--intermediate")
        .replace(/^factors\.memoryEfficiency/, () => flagOf("memory-efficiency"))
        .replace(/^factors\.computeEfficiency/, () => flagOf("compute-efficiency"))
        .replace(/^factors\.overheadSeconds/, `the overhead factor in seconds (${base.source})`);
      throw new CliError(msg);
    }
    if (getFlag(args, "json")) {
      io.out(JSON.stringify(curve) + "\n");
      return 0;
    }
    const ridge = ridgeTokens(shape, gpu, factors, precision);
    const lines = [
      `expert ${shape.hiddenSize} x ${shape.intermediateSize} (${precision}) on ${gpu.name}; memory eff ${+factors.memoryEfficiency.toFixed(4)}, compute eff ${+factors.computeEfficiency.toFixed(4)}, overhead ${+(factors.overheadSeconds * 1e6).toFixed(3)} us`,
      `factors: ${factorSource}`,
      `memory-bound below ~${Math.round(ridge)} tokens, compute-bound above`,
      "tokens  time_us",
      ...curve.map((p) => `${String(p.tokens).padStart(6)}  ${(p.seconds * 1e6).toFixed(1)}`),
    ];
    io.out(lines.join("\n") + "\n");
    return 0;
  },
};
