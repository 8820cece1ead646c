/**
 * Two-batch overlap, replayed stage by stage: the MoE layers of a forward pass run as two
 * micro-batches whose stages alternate on the GPU's compute stream, while each one's dispatch and
 * combine travel in the background. Two engines' stage orders (`OverlapSchedule`):
 *
 * "sglang": SGLang's two-batch overlap for DeepSeek models
 * (python/sglang/srt/batch_overlap/operations_strategy.py, `_compute_moe_deepseek_blog_prefill` /
 * `_decode`), which follows DeepSeek's published dual micro-batch profiles:
 * - prefill, micro-batch B starting together with A (0 stages behind):
 *   `[attention, send dispatch] | [receive dispatch, experts, send combine] | [shared experts, receive combine]`
 *   (the last stage runs on into the next layer's first);
 * - decode, B two stages behind A, attention split in two so that the stages pair up:
 *   `[attention: input projections] | [attention: kernel + output projection] | [send dispatch, shared experts] | [receive dispatch, experts, send combine] | [receive combine]`.
 *
 * "vllm": vLLM's dual batch overlap, as its MoE kernel yields between the two micro-batches'
 * threads (vllm/model_executor/layers/fused_moe/modular_kernel.py and the DeepEP prepare/finalize
 * classes):
 * - decode (DeepEP's low-latency kernels; the order docs/design/dbo.md documents as
 *   `MLP_SHARED_OVERLAP`), B one stage behind A, the micro-batches switching at every send and
 *   receive:
 *   `[attention] | [send dispatch] | [receive dispatch] | [experts] | [send combine, shared experts] | [receive combine]`;
 *   on the compute stream A's dispatch runs behind B's attention, B's dispatch behind A's experts,
 *   A's combine behind A's shared experts and B's experts, B's combine behind B's shared experts
 *   and A's next attention;
 * - prefill (DeepEP's high-throughput kernels on their own stream), B with A:
 *   `[attention, send dispatch] | [receive dispatch, experts, send combine] | [shared experts]`,
 *   the combine received at the start of the next layer: both micro-batches' shared experts run
 *   before either waits for its combine.
 *
 * Executors alternate one stage each (A, B, A, B, ...; A's first `delay` stages run alone). On
 * the compute stream every operation runs in issue order, and a receive blocks it until that
 * transfer has arrived: a stage that waits on communication leaves the GPU idle, which is the
 * pipeline bubble a "max(compute, communication)" estimate does not charge. Transfers start when
 * sent and run one at a time (A's combine and B's dispatch share the links, so two in flight take
 * as long as one after the other). Gating, layer norms and the residual adds are not timed.
 * Introduced in notebooks/05-throughput-model.ipynb (section 7); used by `stepTime` with
 * `overlapCommunication`.
 */
import { describeValue, requireInteger, requireNumber, requireOneOf } from "../validate";

/** Whose stage order the replay follows: SGLang's two-batch overlap or vLLM's dual batch overlap. */
export type OverlapSchedule = "sglang" | "vllm";
export const OVERLAP_SCHEDULES: readonly OverlapSchedule[] = ["sglang", "vllm"];

/** What one micro-batch does in one MoE layer, in seconds (both micro-batches do the same). */
export interface MicroBatchWork {
  /** Attention's input projections (q, k, v; MLA's down- and up-projections), before the attention kernel. */
  attentionInputSeconds: number;
  /** The attention kernel on the KV cache, then the output projection (SGLang's `op_core`). */
  attentionCoreSeconds: number;
  sharedExpertSeconds: number;
  /** Routed experts (the slowest rank's). */
  routedExpertSeconds: number;
  dispatchSeconds: number;
  combineSeconds: number;
}

/** An operation of the overlap schedule (`send`/`receive` start a transfer / wait for it). */
export type OverlapOp = "attention input" | "attention core" | "attention" | "shared experts" | "routed experts" | "dispatch" | "combine";

/** One stretch of work in the replayed schedule. */
export interface OverlapSegment {
  resource: "compute" | "communication";
  /** 0 for micro-batch A, 1 for B. */
  microBatch: 0 | 1;
  /** MoE layer, from 0. */
  layer: number;
  op: OverlapOp;
  startSeconds: number;
  endSeconds: number;
}

/** The replayed forward pass's MoE layers. */
export interface OverlapResult {
  /** From the first stage to the last transfer received. */
  seconds: number;
  /** Time the compute stream is busy (both micro-batches, all layers). */
  computeSeconds: number;
  /** Time a transfer is in flight. */
  communicationSeconds: number;
  /** seconds - computeSeconds: the compute stream waiting for a transfer. */
  computeIdleSeconds: number;
  /** Stages of micro-batch B behind A (`overlapDelayStages`). */
  delayStages: number;
  /** Every operation with its start and end, in issue order (only with `timeline: true`). */
  segments?: OverlapSegment[];
}

type Step = { kind: "compute"; op: OverlapOp; seconds: number } | { kind: "send" | "receive"; op: "dispatch" | "combine" };

/**
 * Stages of micro-batch B behind A in a schedule: 2 in decode and 0 in prefill in SGLang's; 1 in
 * decode and 0 in prefill in vLLM's.
 * @throws {RangeError} for an unknown schedule or mode.
 * @example overlapDelayStages("sglang", "decode") // => 2
 */
export function overlapDelayStages(schedule: OverlapSchedule, mode: "decode" | "prefill"): number {
  requireOneOf("schedule", schedule, OVERLAP_SCHEDULES);
  requireOneOf("mode", mode, ["decode", "prefill"]);
  return mode === "prefill" ? 0 : schedule === "vllm" ? 1 : 2;
}

/**
 * One layer's stages for one micro-batch (the schedule's stage order above), and whether a
 * layer's last stage runs on into the next layer's first (all but vLLM's decode order, which
 * switches there).
 */
function layerStages(schedule: OverlapSchedule, mode: "decode" | "prefill", w: MicroBatchWork): { stages: Step[][]; joinLayers: boolean } {
  const compute = (op: OverlapOp, seconds: number): Step => ({ kind: "compute", op, seconds });
  const send = (op: "dispatch" | "combine"): Step => ({ kind: "send", op });
  const receive = (op: "dispatch" | "combine"): Step => ({ kind: "receive", op });
  const attention = compute("attention", w.attentionInputSeconds + w.attentionCoreSeconds);
  const routed = compute("routed experts", w.routedExpertSeconds);
  const shared = compute("shared experts", w.sharedExpertSeconds);
  const experts = [receive("dispatch"), routed, send("combine")];
  if (schedule === "vllm") {
    if (mode === "prefill") return { stages: [[attention, send("dispatch")], experts, [shared], [receive("combine")]], joinLayers: true };
    return { stages: [[attention], [send("dispatch")], [receive("dispatch")], [routed], [send("combine"), shared], [receive("combine")]], joinLayers: false };
  }
  if (mode === "prefill") return { stages: [[attention, send("dispatch")], experts, [shared, receive("combine")]], joinLayers: true };
  return {
    stages: [[compute("attention input", w.attentionInputSeconds)], [compute("attention core", w.attentionCoreSeconds)], [send("dispatch"), shared], experts, [receive("combine")]],
    joinLayers: true,
  };
}

/**
 * Replays two-batch overlap over `numLayers` MoE layers and times it.
 * @param input.mode "decode" (DeepEP's low-latency kernels) or "prefill" (its normal kernels).
 * @param input.schedule whose stage order: "sglang" (default) or "vllm".
 * @param input.numLayers MoE layers in the forward pass (>= 1).
 * @param input.work one micro-batch's seconds per layer (each >= 0).
 * @param input.timeline also return every operation's start and end (for a chart).
 * @throws {RangeError} for an unknown mode or schedule, numLayers < 1 or a negative or non-finite
 *   time; {TypeError} for a missing work field.
 * @example twoBatchOverlap({ mode: "prefill", numLayers: 1, work: { attentionInputSeconds: 0, attentionCoreSeconds: 2, sharedExpertSeconds: 0, routedExpertSeconds: 2, dispatchSeconds: 0, combineSeconds: 0 } }).seconds // => 8
 * @example twoBatchOverlap({ mode: "prefill", numLayers: 1, work: { attentionInputSeconds: 0, attentionCoreSeconds: 1, sharedExpertSeconds: 0, routedExpertSeconds: 1, dispatchSeconds: 1, combineSeconds: 1 } }).seconds // => 5
 */
export function twoBatchOverlap(input: { mode: "decode" | "prefill"; schedule?: OverlapSchedule; numLayers: number; work: MicroBatchWork; timeline?: boolean }): OverlapResult {
  if (typeof input !== "object" || input === null) throw new TypeError(`input must be an object, got ${describeValue(input)}`);
  const mode = requireOneOf("mode", input.mode, ["decode", "prefill"]);
  const schedule = requireOneOf("schedule", input.schedule ?? "sglang", OVERLAP_SCHEDULES);
  const numLayers = requireInteger("numLayers", input.numLayers, { min: 1 });
  const w = input.work;
  if (typeof w !== "object" || w === null) throw new TypeError(`work must be a MicroBatchWork object, got ${describeValue(w)}`);
  const fields: Array<keyof MicroBatchWork> = ["attentionInputSeconds", "attentionCoreSeconds", "sharedExpertSeconds", "routedExpertSeconds", "dispatchSeconds", "combineSeconds"];
  for (const f of fields) requireNumber(`work.${f}`, w[f], { min: 0 });
  const { stages: perLayer, joinLayers } = layerStages(schedule, mode, w);
  // Each micro-batch's stages over the whole pass (in SGLang's, a layer's last stage runs on into the next layer's first).
  const stages: Array<Array<Step & { layer: number }>> = [];
  for (let layer = 0; layer < numLayers; layer++) {
    perLayer.forEach((steps, i) => {
      const tagged = steps.map((s) => ({ ...s, layer }));
      if (joinLayers && i === 0 && layer > 0) stages[stages.length - 1].push(...tagged);
      else stages.push(tagged);
    });
  }
  const delayStages = overlapDelayStages(schedule, mode);
  // Issue order: A's first `delay` stages alone, then A and B alternating, then B's last `delay`.
  const order: Array<{ mb: 0 | 1; index: number }> = [];
  for (let i = 0; i < delayStages; i++) order.push({ mb: 0, index: i });
  for (let i = delayStages; i < stages.length; i++) order.push({ mb: 0, index: i }, { mb: 1, index: i - delayStages });
  for (let i = stages.length - delayStages; i < stages.length; i++) order.push({ mb: 1, index: i });

  let computeFree = 0;
  let linkFree = 0;
  let computeBusy = 0;
  let linkBusy = 0;
  const arrival = new Map<string, number>();
  const segments: OverlapSegment[] = [];
  const dur = (op: "dispatch" | "combine") => (op === "dispatch" ? w.dispatchSeconds : w.combineSeconds);
  for (const { mb, index } of order) {
    for (const s of stages[index]) {
      const key = `${mb}:${s.layer}:${s.op}`;
      if (s.kind === "compute") {
        if (s.seconds > 0) segments.push({ resource: "compute", microBatch: mb, layer: s.layer, op: s.op, startSeconds: computeFree, endSeconds: computeFree + s.seconds });
        computeFree += s.seconds;
        computeBusy += s.seconds;
      } else if (s.kind === "send") {
        const start = Math.max(computeFree, linkFree);
        linkFree = start + dur(s.op);
        linkBusy += dur(s.op);
        arrival.set(key, linkFree);
        if (dur(s.op) > 0) segments.push({ resource: "communication", microBatch: mb, layer: s.layer, op: s.op, startSeconds: start, endSeconds: linkFree });
      } else {
        computeFree = Math.max(computeFree, arrival.get(key) as number);
      }
    }
  }
  const result: OverlapResult = { seconds: computeFree, computeSeconds: computeBusy, communicationSeconds: linkBusy, computeIdleSeconds: Math.max(0, computeFree - computeBusy), delayStages };
  if (input.timeline) result.segments = segments;
  return result;
}

/** The operations of a stretch of a replayed schedule (`overlapWindow`). */
export interface OverlapWindow {
  /** Micro-batch A's start of layer `fromLayer`. */
  startSeconds: number;
  /** A's start of layer `fromLayer + layers`, or the end of the schedule. */
  endSeconds: number;
  /** Every operation of either micro-batch inside the window, clipped to it, in issue order. */
  segments: OverlapSegment[];
}

/**
 * A stretch of a replayed schedule: from micro-batch A's first operation in MoE layer `fromLayer`
 * to its first in layer `fromLayer + layers` (or the end), with whatever B does meanwhile (in
 * decode B is two stages behind, still in the layer before). Operations that cross an edge are
 * clipped to it.
 * @param segments `twoBatchOverlap(..., timeline: true).segments` or `stepTime`'s `overlapSegments`.
 * @throws {TypeError} for segments that are not an array; {RangeError} for layers < 1 or when A has
 *   no operation in layer `fromLayer`.
 * @example overlapWindow([{ resource: "compute", microBatch: 0, layer: 0, op: "attention", startSeconds: 0, endSeconds: 2 }, { resource: "compute", microBatch: 0, layer: 1, op: "attention", startSeconds: 3, endSeconds: 5 }]).endSeconds // => 3
 */
export function overlapWindow(segments: readonly OverlapSegment[], fromLayer = 0, layers = 1): OverlapWindow {
  if (!Array.isArray(segments)) throw new TypeError(`segments must be an array of overlap segments, got ${describeValue(segments)}`);
  requireInteger("layers", layers, { min: 1 });
  const startOfA = (layer: number) => Math.min(...segments.filter((s) => s.microBatch === 0 && s.layer === layer).map((s) => s.startSeconds));
  const startSeconds = startOfA(fromLayer);
  if (!Number.isFinite(startSeconds)) throw new RangeError(`fromLayer must name a layer of the schedule (0 to ${Math.max(-1, ...segments.map((s) => s.layer))}), got ${describeValue(fromLayer)}`);
  const next = startOfA(fromLayer + layers);
  const endSeconds = Number.isFinite(next) ? next : Math.max(...segments.map((s) => s.endSeconds));
  const inside = segments.filter((s) => s.endSeconds > startSeconds && s.startSeconds < endSeconds);
  return { startSeconds, endSeconds, segments: inside.map((s) => ({ ...s, startSeconds: Math.max(s.startSeconds, startSeconds), endSeconds: Math.min(s.endSeconds, endSeconds) })) };
}
