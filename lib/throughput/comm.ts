/**
 * All-to-all time under expert parallelism, from DeepEP's measured bandwidth tables
 * (data/hardware.json, measured on H800).
 *
 * Each direction (dispatch, combine) takes fixedLatency + bytes / bandwidth, where bytes is the
 * larger of what a rank sends and what the hottest rank receives. Copies per token are counted the
 * way DeepEP's benchmarks count the bytes behind their GB/s:
 * - low-latency kernels: one copy per selected expert, top-k (tests/legacy/test_low_latency.py:
 *   num_selections);
 * - normal kernels: one copy per distinct destination: per GPU inside a node (EP <= 8,
 *   test_intranode.py: recv_x, the tokens a rank receives, its own share included) and per node
 *   across nodes (EP > 8, test_internode.py: num_rdma_token_sent, one per destination node). The
 *   expected number of distinct destinations is `expectedDestinations`: experts spread evenly over
 *   the destinations and picked at random, as DeepEP's benchmarks pick them, within the model's
 *   group limit (DeepSeek-V3: 4 of 8 groups) where it has one.
 * Dispatch is FP8 (1 byte per element plus one 4-byte scale per 128 elements), combine BF16. With
 * `kernel: "auto"`, small batches (<= the low-latency benchmark's 128 tokens per rank) use the
 * low-latency kernel's bandwidth, larger ones the normal kernel's; `stepTime` instead picks by
 * mode (decode: low-latency, prefill: normal), as SGLang does, and the low-latency bandwidth
 * (measured at 128 tokens per rank) is assumed to hold for larger decode batches. EP degrees
 * between table rows interpolate on log2(ep), outside them clamp to the nearest row.
 * The tables are H800 measurements. Between nodes they hold for H100 and H200 too (the same 400 Gb/s
 * NIC); inside a node (normal kernels at EP <= 8, NVLink only) the bandwidth is scaled by the GPU's
 * NVLink bandwidth over the H800's (900 / 400 GB/s for H100 and H200), which XLA's measured NCCL
 * all-to-all on 8 H100s corroborates (notebook 05, section 6b).
 * Introduced in notebooks/05-throughput-model.ipynb.
 */
import type { DeepEpTables } from "../hardware";
import type { RoutingGroups } from "../models";
import { describeValue, requireInteger, requireNumber, requireOneOf } from "../validate";

/** Which DeepEP kernel family. */
export type AllToAllKernel = "normal" | "lowLatency";

/**
 * Fixed time per all-to-all call (microseconds). ASSUMED, not measured: DeepEP publishes
 * bandwidth at fixed sizes, not a zero-size latency; 10 us keeps tiny batches from costing nothing.
 */
export const DEFAULT_ALL_TO_ALL_LATENCY_US = 10;

/** Inputs of `allToAllTime`. */
export interface AllToAllInput {
  /** Tokens each rank sends (its attention batch), before top-k duplication. */
  tokensPerRank: number;
  /** Experts per token. */
  topK: number;
  /** Hidden size (elements). */
  hiddenSize: number;
  /** Expert-parallel degree (1: no communication). */
  ep: number;
  /** Token copies received by the hottest rank (default: tokensPerRank x topK, i.e. balanced). */
  maxReceivedCopies?: number;
  /** "auto" (default): low-latency kernel up to 128 tokens per rank, else normal. */
  kernel?: AllToAllKernel | "auto";
  /** Fixed latency per call (microseconds), default `DEFAULT_ALL_TO_ALL_LATENCY_US`. */
  fixedLatencyUs?: number;
  /**
   * Routed experts of the layer, for the normal kernels' distinct destinations (`expectedDestinations`).
   * Default: many experts (the limit of the formula as the expert count grows).
   */
  numExperts?: number;
  /** The model's group-limited routing, if any (DeepSeek-V3: 4 of 8 groups). */
  routingGroups?: RoutingGroups | null;
  /**
   * This GPU's NVLink bandwidth (GB/s, bidirectional). The normal kernels' intranode row (EP <= 8)
   * is scaled by it over the bandwidth of the GPU DeepEP measured on. Default: that GPU's (no scaling).
   */
  nvlinkBidirGBps?: number;
  /**
   * What-if factor on the tables' bandwidth (default 1: DeepEP's benchmarks). Below 1 the
   * all-to-all runs slower than its benchmark, as SGLang's blog saw inside two-batch overlap.
   */
  bandwidthScale?: number;
}

/** Modelled dispatch and combine. */
export interface AllToAllTime {
  /** dispatch + combine (seconds). */
  seconds: number;
  dispatchSeconds: number;
  combineSeconds: number;
  kernel: AllToAllKernel;
  dispatchGBps: number;
  combineGBps: number;
  /** Bytes moved by the busiest rank in each direction. */
  dispatchBytes: number;
  combineBytes: number;
  /** NVLink ratio applied to the table's bandwidth: for the normal kernels at EP <= 8, else 1. */
  nvlinkScale: number;
  /** Copies of each token sent: top-k (low-latency) or the expected distinct destinations (normal). */
  copiesPerToken: number;
}

/**
 * Interpolates a table column at an EP degree on log2(ep), clamping outside the table.
 * @example interpolateOnEp([{ ep: 8, v: 100 }, { ep: 32, v: 50 }], 16, (r) => r.v) // => 75
 */
export function interpolateOnEp<T extends { ep: number }>(rows: readonly T[], ep: number, value: (row: T) => number): number {
  if (!Array.isArray(rows) || rows.length === 0) throw new TypeError(`rows must be a non-empty table, got ${describeValue(rows)}`);
  requireNumber("ep", ep, { min: 1 });
  if (ep <= rows[0].ep) return value(rows[0]);
  const last = rows[rows.length - 1];
  if (ep >= last.ep) return value(last);
  let i = 1;
  while (rows[i].ep < ep) i++;
  const a = rows[i - 1];
  const b = rows[i];
  const f = (Math.log2(ep) - Math.log2(a.ep)) / (Math.log2(b.ep) - Math.log2(a.ep));
  return value(a) + f * (value(b) - value(a));
}

/** Probability that a destination holding `held` of `e` experts gets none of `k` drawn at random without replacement. */
function probabilityNone(e: number, held: number, k: number): number {
  let p = 1;
  for (let i = 0; i < k; i++) p *= Math.max(0, e - held - i) / (e - i);
  return p;
}

/**
 * Expected number of distinct destinations (GPUs or nodes) that one token's top-k experts live on,
 * with the experts spread evenly over the destinations and chosen at random (how DeepEP's
 * benchmarks route). With group-limited routing (each token's experts inside `topkGroups` of
 * `groups` equal groups): when destinations >= groups, a token reaches only the destinations of its
 * chosen groups; when there are fewer destinations than groups, it reaches the destinations its
 * chosen groups sit on (each chosen group holding at least one of its experts). Without
 * `numExperts`, the limit for many experts: D x (1 - (1 - 1/D)^k).
 * @throws {RangeError} for topK outside [1, numExperts] or destinations < 1.
 * @example expectedDestinations(256, 8, 8).toFixed(2) // => "5.29" (DeepEP's intranode benchmark: 8 GPUs)
 */
export function expectedDestinations(numExperts: number | undefined, topK: number, destinations: number, routingGroups: RoutingGroups | null = null): number {
  const k = requireInteger("topK", topK, { min: 1 });
  const d = requireInteger("destinations", destinations, { min: 1 });
  if (numExperts === undefined) return Math.min(k, d * (1 - Math.pow(1 - 1 / d, k)));
  const e = requireInteger("numExperts", numExperts, { min: k });
  if (routingGroups) {
    const g = requireInteger("routingGroups.groups", routingGroups.groups, { min: 1, max: e });
    const tg = requireInteger("routingGroups.topkGroups", routingGroups.topkGroups, { min: 1, max: g });
    if (d >= g && d % g === 0) {
      // The chosen groups' destinations, each group spanning d / g of them.
      const dChosen = (tg * d) / g;
      const eChosen = (tg * e) / g;
      return dChosen * (1 - probabilityNone(eChosen, eChosen / dChosen, k));
    }
    if (d < g && g % d === 0) return d * (1 - probabilityNone(g, g / d, tg));
    // Groups and destinations that do not nest: fall through, ignoring the group limit.
  }
  return d * (1 - probabilityNone(e, e / d, k));
}

/**
 * Dispatch + combine time of one MoE layer's all-to-all for the busiest rank.
 * @throws {RangeError} for negative tokens, ep < 1, top-k < 1, a bandwidth or bandwidthScale <= 0.
 * @example allToAllTime({ tokensPerRank: 128, topK: 8, hiddenSize: 7168, ep: 32 }, loadHardware().deepep).kernel // => "lowLatency"
 */
export function allToAllTime(input: AllToAllInput, deepep: DeepEpTables): AllToAllTime {
  if (typeof input !== "object" || input === null) throw new TypeError(`input must be an object, got ${describeValue(input)}`);
  const tokens = requireNumber("tokensPerRank", input.tokensPerRank, { min: 0 });
  const topK = requireInteger("topK", input.topK, { min: 1 });
  const hidden = requireInteger("hiddenSize", input.hiddenSize, { min: 1 });
  const ep = requireInteger("ep", input.ep, { min: 1 });
  const latencyUs = requireNumber("fixedLatencyUs", input.fixedLatencyUs ?? DEFAULT_ALL_TO_ALL_LATENCY_US, { min: 0 });
  const kernelIn = requireOneOf("kernel", input.kernel ?? "auto", ["auto", "normal", "lowLatency"]);
  const nvlink = requireNumber("nvlinkBidirGBps", input.nvlinkBidirGBps ?? deepep.measuredOnNvlinkBidirGBps, { min: 0, minExclusive: true });
  const bandwidthScale = requireNumber("bandwidthScale", input.bandwidthScale ?? 1, { min: 0, minExclusive: true });
  const kernel: AllToAllKernel = kernelIn === "auto" ? (tokens <= deepep.lowLatencyTokensPerRank ? "lowLatency" : "normal") : kernelIn;
  // Normal kernels send a token once per distinct destination GPU (NVLink, EP <= 8) or node (RDMA)
  // and fan out locally; low-latency kernels send one copy per expert (DeepEP's counted volumes).
  const perToken = kernel === "normal" ? expectedDestinations(input.numExperts, topK, ep <= 8 ? ep : Math.ceil(ep / 8), input.routingGroups ?? null) : topK;
  const received = requireNumber("maxReceivedCopies", input.maxReceivedCopies ?? tokens * topK, { min: 0 });
  const copies = Math.max(tokens, received / topK) * perToken;
  const dispatchBytes = copies * (hidden + (hidden / 128) * 4);
  const combineBytes = copies * hidden * 2;
  const table = kernel === "normal" ? deepep.normal : deepep.lowLatency;
  // Inside a node the normal kernels run on NVLink only: scale the H800's row by NVLink bandwidth.
  const nvlinkScale = kernel === "normal" && ep <= 8 ? nvlink / deepep.measuredOnNvlinkBidirGBps : 1;
  const dispatchGBps = bandwidthScale * nvlinkScale * interpolateOnEp(table as readonly { ep: number; dispatchGBps: number }[], ep, (r) => r.dispatchGBps);
  const combineGBps = bandwidthScale * nvlinkScale * interpolateOnEp(table as readonly { ep: number; combineGBps: number }[], ep, (r) => r.combineGBps);
  if (ep === 1 || copies === 0) {
    return { seconds: 0, dispatchSeconds: 0, combineSeconds: 0, kernel, dispatchGBps, combineGBps, dispatchBytes: 0, combineBytes: 0, nvlinkScale, copiesPerToken: perToken };
  }
  const dispatchSeconds = latencyUs * 1e-6 + dispatchBytes / (dispatchGBps * 1e9);
  const combineSeconds = latencyUs * 1e-6 + combineBytes / (combineGBps * 1e9);
  return { seconds: dispatchSeconds + combineSeconds, dispatchSeconds, combineSeconds, kernel, dispatchGBps, combineGBps, dispatchBytes, combineBytes, nvlinkScale, copiesPerToken: perToken };
}
