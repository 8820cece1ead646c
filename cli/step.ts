/**
 * `moe-lab step`: one MoE layer's modelled step time under expert parallelism for a catalog model
 * on a GPU, with its breakdown (attention / experts / communication), for a skewed batch routed
 * with a seeded RNG and a contiguous or EPLB placement. `--capture FILE` also writes the scenario
 * and its breakdown as a capture record, so two runs can be lined up with `moe-lab compare`.
 */
import { Command, CliError, OptionSpecs, captureTarget, getFlag, getNumber, getString, startCommand } from "./args";
import { createCapture, writeCapture } from "../lib/capture";
import { DEEPEP_NORMAL_KERNEL_SMS, DEFAULT_ZIPF_EXPONENT, OVERLAP_SCHEDULES, OverlapSchedule, OverlapWindow, overlapDelayStages, overlapWindow, DensePrecision, HBM_RESERVE_FRACTION, FACTOR_CHOICES, FactorChoice, KvPrecision, factorsFor, runFields, runScenario, Placement, ScenarioResult, StepMode, WEIGHT_PRECISIONS, WeightPrecision } from "../lib/throughput";
import { getGpu, hbmBytes } from "../lib/hardware";
import { requireOneOf } from "../lib/validate";

const SPECS: OptionSpecs = {
  model: { kind: "string", help: "catalog model id (moe-lab params --list), e.g. deepseek-v3" },
  gpu: { kind: "string", help: "GPU id: h100, h200, h800", default: "h100" },
  ep: { kind: "int", help: "expert-parallel degree (ranks); must divide the experts (+ redundant)" },
  tokens: { kind: "int", help: "tokens in the step over all ranks (>= 0)" },
  placement: { kind: "string", help: "contiguous or eplb", default: "contiguous" },
  redundant: { kind: "int", help: "redundant expert slots per layer (default: 0, or ep with eplb)" },
  context: { kind: "int", help: "context length per sequence (tokens, >= 0)", default: 4096 },
  mode: { kind: "string", help: "decode or prefill", default: "decode" },
  skew: { kind: "number", help: "Zipf exponent of expert popularity (0 = uniform)", default: DEFAULT_ZIPF_EXPONENT },
  seed: { kind: "int", help: "seed of the routing draws", default: 0 },
  precision: { kind: "string", help: "expert weight precision: bf16, fp8, fp4", default: "bf16" },
  factors: { kind: "string", help: "roofline factors: auto (fitted to this GPU's calibration CSV, its grouped rows: a rank's experts as one kernel; else the assumed defaults), defaults, or published (efficiencies fitted to published kernel timings in --precision: XLA's H100 BF16 table for bf16, DeepGEMM's H800 FP8 table for fp8 and fp4)", default: "auto" },
  "dense-precision": { kind: "string", help: "attention, shared experts and dense layers: bf16 or fp8 (embeddings, output head, routers and norms stay bf16)", default: "bf16" },
  "kv-precision": { kind: "string", help: "KV-cache element type: bf16 or fp8 (fp8 holds twice the tokens and halves the bytes decode attention reads)", default: "bf16" },
  timeline: { kind: "boolean", help: "with --overlap: also print the replayed schedule of one MoE layer from the middle of the pass (each operation's start and end, in microseconds; --json: a timeline array)" },
  overlap: { kind: "boolean", help: "two-batch overlap: run the batch as two micro-batches of half its tokens, each one's dispatch and combine running behind the other's compute (every part is then the sum of the two; the layer includes the time compute waits for a transfer)" },
  "all-to-all-scale": { kind: "number", help: "what-if: dispatch and combine at this fraction of DeepEP's benchmark bandwidth (notebook 05 finds 0.56 would close its prefill gap to DeepSeek's profile)", default: 1 },
  "overlap-schedule": { kind: "string", help: "with --overlap: whose stage order, sglang (SGLang's two-batch overlap) or vllm (vLLM's dual batch overlap, which also runs the dense layers as two halves)", default: "sglang" },
  json: { kind: "boolean", help: "print one JSON object" },
  capture: { kind: "string", help: "also write the scenario and its breakdown as a capture record to this file (see `moe-lab compare`)" },
  timestamp: { kind: "boolean", help: "with --capture: also record when it was taken (the record is then no longer byte-identical from run to run)" },
  help: { kind: "boolean", help: "show this help" },
};

const FLAG_OF: Record<string, string> = {
  batchTokens: "--tokens",
  contextTokens: "--context",
  redundantExperts: "--redundant",
  zipfExponent: "--skew",
  weightPrecision: "--precision",
  densePrecision: "--dense-precision",
  kvPrecision: "--kv-precision",
  allToAllBandwidthScale: "--all-to-all-scale",
  ep: "--ep",
  placement: "--placement",
  mode: "--mode",
  seed: "--seed",
  gpu: "--gpu",
  id: "--model",
};

/** The `--all-to-all-scale` what-if of a run, or null at DeepEP's benchmark bandwidth (the default, 1). */
function whatIfScale(r: ScenarioResult): number | null {
  const scale = r.input.allToAllBandwidthScale ?? 1;
  return scale === 1 ? null : scale;
}

/** The routing options a `ScenarioResult` does not keep. */
interface RoutingOptions {
  zipfExponent: number;
  seed: number;
  overlapCommunication: boolean;
  overlapSchedule: OverlapSchedule;
  /** The `--factors` choice, and where the roofline factors came from (`factorsFor`). */
  factorChoice: FactorChoice;
  factorsSource: string;
}

/**
 * The capture of a step: the scenario first (runFields' names, as notebook 07's captures use them,
 * then the routing options), then its result (runFields' numbers, then the rest of the breakdown).
 * Times in microseconds, rounded to 0.01 us as runFields rounds them.
 */
function captureFields(r: ScenarioResult, o: RoutingOptions): Record<string, string | number | boolean> {
  const run = runFields(r);
  const b = r.breakdown;
  const us = (s: number): number => +(s * 1e6).toFixed(2);
  return {
    model: run.model,
    gpu: run.gpu,
    ep: run.ep,
    placement: run.placement,
    redundant_experts: run.redundant_experts,
    mode: run.mode,
    batch_tokens: run.batch_tokens,
    context_tokens: run.context_tokens,
    expert_precision: run.expert_precision,
    dense_precision: r.input.densePrecision ?? "bf16",
    kv_precision: r.input.kvPrecision ?? "bf16",
    zipf_exponent: o.zipfExponent,
    seed: o.seed,
    overlap_communication: o.overlapCommunication,
    ...(o.overlapCommunication ? { overlap_schedule: o.overlapSchedule } : {}),
    ...(whatIfScale(r) === null ? {} : { all_to_all_scale: whatIfScale(r) as number }),
    roofline_factors: o.factorsSource,
    ...run, // the keys above keep their place; runFields' results follow in its order
    routed_experts_us: us(b.routedExpertSeconds),
    shared_experts_us: us(b.sharedExpertSeconds),
    dispatch_us: us(b.dispatchSeconds),
    combine_us: us(b.combineSeconds),
    compute_idle_us: us(b.computeIdleSeconds),
    forward_us: us(b.forwardSeconds),
    tokens_per_rank: +b.tokensPerRank.toFixed(2),
    slowest_rank: b.slowestRank,
    expert_bound: b.expertBound,
    attention_bound: b.attentionBound,
    all_to_all_kernel: b.allToAllKernel,
    kv_capacity_tokens_per_rank: r.memory.kvCapacityTokens,
    kv_tokens_needed_per_rank: r.memory.kvTokensNeeded,
    kv_fits: r.memory.kvFits,
  };
}

/** The command line that reproduces a step, every option spelled out (never the capture path). */
function commandLine(r: ScenarioResult, o: RoutingOptions): string {
  const i = r.input;
  return [
    `moe-lab step --model ${r.model.id} --gpu ${r.gpu.id} --ep ${r.ep} --tokens ${i.batchTokens}`,
    `--placement ${r.placement} --redundant ${r.redundantExperts} --context ${i.contextTokens} --mode ${i.mode}`,
    `--skew ${o.zipfExponent} --seed ${o.seed} --precision ${i.weightPrecision ?? "bf16"} --dense-precision ${i.densePrecision ?? "bf16"} --kv-precision ${i.kvPrecision ?? "bf16"}${o.overlapCommunication ? ` --overlap --overlap-schedule ${o.overlapSchedule}` : ""}${whatIfScale(r) === null ? "" : ` --all-to-all-scale ${whatIfScale(r)}`}${o.factorChoice === "auto" ? "" : ` --factors ${o.factorChoice}`}`,
  ].join(" ");
}

/** One operation of `--timeline`: microseconds from micro-batch A's start of the layer. */
interface TimelineRow {
  resource: "compute" | "communication";
  microBatch: string;
  layer: number;
  op: string;
  startUs: number;
  endUs: number;
}

/** A window of the replayed schedule as rows sorted by start (compute first at a tie), and its length. */
function timelineRows(w: OverlapWindow): { rows: TimelineRow[]; endUs: number } {
  const us = (t: number) => +((t - w.startSeconds) * 1e6).toFixed(2);
  const rows = w.segments
    .slice()
    .sort((x, y) => x.startSeconds - y.startSeconds || (x.resource === "compute" ? -1 : 1))
    .map((s) => ({ resource: s.resource, microBatch: "AB"[s.microBatch], layer: s.layer, op: s.op, startUs: us(s.startSeconds), endUs: us(s.endSeconds) }));
  return { rows, endUs: us(w.endSeconds) };
}

/** How far B runs behind A, for the timeline's heading. */
function timelineLag(stages: number): string {
  return stages === 0 ? " (B starts with A)" : ` (B runs ${["one stage", "two stages"][stages - 1] ?? `${stages} stages`} behind)`;
}

/** `--timeline`'s text: a line per operation, and one wherever the compute stream waits for a transfer. */
function timelineText(t: { rows: TimelineRow[]; endUs: number }, layer: number): string[] {
  const line = (from: number, to: number, what: string) => `    ${from.toFixed(1).padStart(8)} - ${to.toFixed(1).padStart(8)}  ${what}`;
  const out: string[] = [];
  let computeFree = 0;
  const waitUntil = (us: number) => {
    if (us - computeFree >= 0.05) out.push(line(computeFree, us, "compute    -  waits for a transfer"));
  };
  for (const r of t.rows) {
    if (r.resource === "compute") {
      waitUntil(r.startUs);
      computeFree = r.endUs;
    }
    out.push(line(r.startUs, r.endUs, `${r.resource === "compute" ? "compute  " : "transfer "}  ${r.microBatch}  ${r.op}${r.layer === layer ? "" : ` (layer ${r.layer})`}`));
  }
  waitUntil(t.endUs); // the combine that opens A's next layer
  return out;
}

export const stepCommand: Command = {
  summary: "modelled MoE layer step time under expert parallelism, with its breakdown",
  run(argv, io) {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab step --model M --gpu G --ep N --tokens T [--placement contiguous|eplb] [--redundant R] [--context C] [--json] [--capture FILE]", summary: this.summary });
    if (!args) return 0;
    for (const req of ["model", "ep", "tokens"]) {
      if (args.options[req] === undefined) throw new CliError(`--${req} is required`);
    }
    const { file: captureFile, stamp } = captureTarget(args);
    const wantTimeline = getFlag(args, "timeline");
    if (wantTimeline && !getFlag(args, "overlap")) throw new CliError("--timeline needs --overlap (it prints the two micro-batches' schedule)");
    if (args.options["overlap-schedule"] !== undefined && !getFlag(args, "overlap")) throw new CliError("--overlap-schedule needs --overlap (it picks the two micro-batches' stage order)");
    let r: ScenarioResult;
    let routing: RoutingOptions;
    try {
      // Roofline factors as chosen: by default fitted to the GPU's calibration CSV when there is one, else the defaults.
      const factorChoice = requireOneOf("--factors", getString(args, "factors", "auto"), FACTOR_CHOICES) as FactorChoice;
      const precision = requireOneOf("--precision", getString(args, "precision", "bf16"), WEIGHT_PRECISIONS) as WeightPrecision;
      const cal = factorsFor(getGpu(getString(args, "gpu", "h100")), factorChoice, precision);
      routing = {
        zipfExponent: getNumber(args, "skew", DEFAULT_ZIPF_EXPONENT),
        seed: getNumber(args, "seed", 0),
        overlapCommunication: getFlag(args, "overlap"),
        overlapSchedule: requireOneOf("--overlap-schedule", getString(args, "overlap-schedule", "sglang"), OVERLAP_SCHEDULES),
        factorChoice,
        factorsSource: cal.source,
      };
      r = runScenario({
        factors: cal.factors,
        model: getString(args, "model", ""),
        gpu: getString(args, "gpu", "h100"),
        ep: getNumber(args, "ep", 1),
        batchTokens: getNumber(args, "tokens", 0),
        contextTokens: getNumber(args, "context", 4096),
        placement: getString(args, "placement", "contiguous") as Placement,
        redundantExperts: args.options.redundant === undefined ? undefined : getNumber(args, "redundant", 0),
        mode: getString(args, "mode", "decode") as StepMode,
        zipfExponent: routing.zipfExponent,
        seed: routing.seed,
        weightPrecision: precision,
        densePrecision: getString(args, "dense-precision", "bf16") as DensePrecision,
        kvPrecision: getString(args, "kv-precision", "bf16") as KvPrecision,
        overlapCommunication: routing.overlapCommunication,
        overlapSchedule: routing.overlapSchedule,
        overlapTimeline: wantTimeline,
        allToAllBandwidthScale: getNumber(args, "all-to-all-scale", 1),
      });
    } catch (e) {
      if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
      throw new CliError(e.message.replace(/^(\w+)/, (m) => FLAG_OF[m] ?? m));
    }
    if (captureFile !== undefined) {
      const name = `step ${r.model.id} ${r.gpu.id} EP${r.ep} ${r.input.batchTokens} tokens ${r.placement}`;
      const source = commandLine(r, routing);
      writeCapture(captureFile, createCapture(name, captureFields(r, routing), { source, ...stamp }));
    }
    const { overlapSegments, ...b } = r.breakdown;
    // The schedule of the middle MoE layer (null when the batch is too small to split).
    const middleLayer = Math.floor(r.model.numMoeLayers / 2);
    const timeline = overlapSegments ? timelineRows(overlapWindow(overlapSegments, middleLayer)) : null;
    if (getFlag(args, "json")) {
      io.out(
        JSON.stringify({
          model: r.model.id,
          gpu: r.gpu.id,
          ep: r.ep,
          placement: r.placement,
          redundantExperts: r.redundantExperts,
          mode: r.input.mode,
          batchTokens: r.input.batchTokens,
          contextTokens: r.input.contextTokens,
          weightPrecision: r.input.weightPrecision ?? "bf16",
          densePrecision: r.input.densePrecision ?? "bf16",
          kvPrecision: r.input.kvPrecision ?? "bf16",
          overlapCommunication: routing.overlapCommunication,
          allToAllBandwidthScale: r.input.allToAllBandwidthScale ?? 1,
          zipfExponent: routing.zipfExponent,
          seed: routing.seed,
          ...b,
          kvCapacityTokensPerRank: r.memory.kvCapacityTokens,
          kvTokensNeededPerRank: r.memory.kvTokensNeeded,
          kvFits: r.memory.kvFits,
          weightsFit: r.memory.weightsFit,
          maxSequencesPerRank: r.memory.maxSequencesPerRank,
          factorsSource: routing.factorsSource,
          ...(wantTimeline ? { timeline: timeline?.rows ?? [] } : {}),
        }) + "\n",
      );
      return 0;
    }
    const us = (s: number): string => `${(s * 1e6).toFixed(1)} us`;
    const gb = (bytes: number): string => (bytes / 1e9).toFixed(1);
    const m = r.memory;
    const lines = [
      ...(!m.weightsFit
        ? [`warning: this cannot be served: the weights alone take ${gb(m.expertBytes + m.nonExpertBytes)} GB per GPU, more than the ${gb(m.usableBytes)} GB usable (${100 - HBM_RESERVE_FRACTION * 100}% of ${gb(hbmBytes(r.gpu))} GB); use a larger --ep or a lower --precision / --dense-precision. The times below are for weights that do not fit`]
        : m.kvFits
          ? []
          : [`warning: this batch cannot be served: its KV cache needs ${+m.kvTokensNeeded.toFixed(2)} tokens per rank and ${m.kvCapacityTokens} fit; the times below are for a batch that does not fit`]),
      `${r.model.id} on ${r.gpu.name}, EP${r.ep}, ${r.input.mode}, ${r.input.batchTokens} tokens (${+b.tokensPerRank.toFixed(2)} per rank), context ${r.input.contextTokens}, ${r.placement}${r.redundantExperts ? ` + ${r.redundantExperts} redundant` : ""}`,
      `  assumptions     ${r.input.weightPrecision ?? "bf16"} experts, ${r.input.densePrecision ?? "bf16"} non-expert weights, ${r.input.kvPrecision ?? "bf16"} KV cache, Zipf skew ${routing.zipfExponent}, seed ${routing.seed}, communication ${!routing.overlapCommunication ? "added to compute" : b.microBatches === 1 ? "added to compute (too few tokens per rank to split the batch for overlap)" : `overlapped with compute (two micro-batches in ${b.overlapSchedule === "vllm" ? "vLLM's" : "SGLang's"} stage order${b.overlapComputeScale > 1 ? `, compute on ${r.gpu.sms - DEEPEP_NORMAL_KERNEL_SMS} of ${r.gpu.sms} SMs while DeepEP sends` : ""})`}`,
      `  attention       ${us(b.attentionSeconds)} (${b.attentionBound}-bound)`,
      `  experts         ${us(b.expertSeconds)} (routed ${us(b.routedExpertSeconds)} on rank ${b.slowestRank}, ${b.expertBound}-bound; shared ${us(b.sharedExpertSeconds)})`,
      `  communication   ${us(b.communicationSeconds)} (dispatch ${us(b.dispatchSeconds)}, combine ${us(b.combineSeconds)}, DeepEP ${b.allToAllKernel}${b.allToAllNvlinkScale === 1 ? "" : `, H800 intranode row x ${+b.allToAllNvlinkScale.toFixed(3)} for NVLink`}${whatIfScale(r) === null ? "" : `, what-if: ${+((whatIfScale(r) as number) * 100).toFixed(1)}% of DeepEP's benchmark bandwidth`})`,
      `  layer           ${us(b.layerSeconds)}  bound: ${b.bound}; rank imbalance (max/mean tokens) ${b.rankImbalance.toFixed(2)}${b.microBatches === 2 ? `; compute waits ${us(b.computeIdleSeconds)} for dispatch/combine` : ""}`,
      `  forward pass    ${(b.forwardSeconds * 1e3).toFixed(2)} ms (output head ${us(b.outputHeadSeconds)}), ${b.tokensPerSecondPerGpu.toFixed(0)} tokens/s per GPU`,
      `  KV cache        ${m.kvCapacityTokens} tokens fit per rank, this batch needs ${+m.kvTokensNeeded.toFixed(2)}${m.kvFits ? "" : ": DOES NOT FIT"}${r.input.mode === "decode" && m.maxSequencesPerRank !== null ? ` (at most ${m.maxSequencesPerRank} sequences per rank at context ${r.input.contextTokens})` : ""}`,
      `  factors         ${routing.factorsSource}`,
      ...(!wantTimeline
        ? []
        : timeline === null
          ? ["  timeline        none: the batch is not split (under 2 tokens per rank)"]
          : [
              `  timeline        MoE layer ${middleLayer} of ${r.model.numMoeLayers}, from micro-batch A's start${timelineLag(overlapDelayStages(routing.overlapSchedule, r.input.mode))}; microseconds`,
              ...timelineText(timeline, middleLayer),
            ]),
    ];
    io.out(lines.join("\n") + "\n");
    return 0;
  },
};
