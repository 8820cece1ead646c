/**
 * Tables and charts of the throughput model, for notebooks 05 and 07: a markdown table builder,
 * the stacked step-breakdown chart, the roofline curve with (optional) measured points, and the
 * published-GEMM chart (achieved TFLOPS against tokens per expert, measured and modelled) and the
 * roofline plot of published rows (achieved TFLOPS against arithmetic intensity), and the timeline
 * of a two-batch overlap schedule.
 * Introduced in notebooks/05-throughput-model.ipynb.
 */
import type { GpuSpec } from "../hardware";
import { COLORS, Figure, figure, horizontalLine, withLines } from "../charts";
import { hbmBytesPerSecond } from "../hardware";
import { describeValue } from "../validate";
import type { CalibrationRow } from "./calibration";
import { OverlapOp, OverlapSegment, overlapWindow } from "./overlap";
import { UNIT_FACTORS } from "./fit";
import type { PublishedGemm } from "./published";
import { RooflineFactors, WeightPrecision, computePeakFlops, computeRate, gemmTime, validateFactors } from "./roofline";
import type { StepBreakdown } from "./step";

/**
 * A markdown table from a header and rows of cells (numbers are printed as given).
 * @throws {RangeError} when a row's length differs from the header's.
 * @example markdownTable(["a", "b"], [[1, "x"]]) // => "| a | b |\n|---|---|\n| 1 | x |"
 */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  if (!Array.isArray(header) || header.length === 0) throw new TypeError(`header must be a non-empty array of strings, got ${describeValue(header)}`);
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== header.length) throw new RangeError(`rows[${i}] must have ${header.length} cells, got ${describeValue(r)}`);
    lines.push(`| ${r.join(" | ")} |`);
  });
  return lines.join("\n");
}

/** One labelled bar of the breakdown chart. */
export interface LabelledBreakdown {
  label: string;
  breakdown: StepBreakdown;
}

/**
 * Stacked bars: attention / experts / communication (microseconds per MoE layer) for each label.
 * @example breakdownFigure([{ label: "EP32", breakdown }], "DeepSeek-V3").data.length // => 3
 */
export function breakdownFigure(items: readonly LabelledBreakdown[], title: string): Figure {
  if (!Array.isArray(items) || items.length === 0) throw new TypeError(`items must be a non-empty array, got ${describeValue(items)}`);
  const x = items.map((i) => i.label);
  const bar = (name: string, color: string, pick: (b: StepBreakdown) => number) => ({ type: "bar", name, x, y: items.map((i) => +(pick(i.breakdown) * 1e6).toFixed(2)), marker: { color } });
  return figure(
    [
      bar("attention", COLORS.base, (b) => b.attentionSeconds),
      bar("experts (slowest rank)", COLORS.hot, (b) => b.expertSeconds),
      bar("communication", COLORS.cap, (b) => b.communicationSeconds),
    ],
    { title, yTitle: "microseconds per MoE layer", layout: { barmode: "stack", xaxis: { tickangle: -30 } } },
  );
}

/**
 * Roofline curves (model) for several shapes on log-log axes, with measured points when given.
 * A curve that names its shape (`hiddenSize`, `intermediateSize`) gets the measured rows of that
 * shape as markers in its colour; measured rows of other shapes share one grey trace.
 * @param curves name, optional shape and points `{tokens, seconds}` of each modelled curve.
 * @param measured calibration rows to overlay (single-expert rows, one precision), optional.
 * @param title the chart's title (say the precision, GPU and factors the curves use).
 * @throws {TypeError} for a non-string title.
 * @example rooflineFigure([{ name: "DeepSeek-V3", points: [{ tokens: 1, seconds: 1e-4 }] }], []).layout.xaxis // => { type: "log", title: { text: "tokens per expert" } }
 */
export function rooflineFigure(
  curves: ReadonlyArray<{ name: string; hiddenSize?: number; intermediateSize?: number; points: ReadonlyArray<{ tokens: number; seconds: number }> }>,
  measured: readonly CalibrationRow[] = [],
  title = "One expert's time vs tokens: flat (memory-bound), then linear (compute-bound)",
): Figure {
  if (typeof title !== "string") throw new TypeError(`title must be a string, got ${describeValue(title)}`);
  const traces: Record<string, unknown>[] = curves.map((c, i) => ({
    type: "scatter",
    mode: "lines",
    name: `${c.name} (model)`,
    x: c.points.map((p) => p.tokens),
    y: c.points.map((p) => +(p.seconds * 1e6).toFixed(3)),
    line: { color: COLORS.series[i % COLORS.series.length] },
  }));
  const markers = (name: string, rows: readonly CalibrationRow[], color: string): Record<string, unknown> => ({
    type: "scatter",
    mode: "markers",
    name,
    x: rows.map((r) => r.totalTokens),
    y: rows.map((r) => +(r.medianSeconds * 1e6).toFixed(3)),
    marker: { color, size: 7, symbol: "circle-open" },
  });
  const claimed = new Set<CalibrationRow>();
  curves.forEach((c, i) => {
    const rows = measured.filter((r) => r.hiddenSize === c.hiddenSize && r.intermediateSize === c.intermediateSize);
    rows.forEach((r) => claimed.add(r));
    if (rows.length) traces.push(markers(`${c.name} (measured)`, rows, COLORS.series[i % COLORS.series.length]));
  });
  const rest = measured.filter((r) => !claimed.has(r));
  if (rest.length) traces.push(markers("measured, other shapes", rest, COLORS.muted));
  return figure(traces, {
    title,
    layout: { xaxis: { type: "log", title: { text: "tokens per expert" } }, yaxis: { type: "log", title: { text: "microseconds" } } },
  });
}

/** One modelled line of `publishedGemmFigure`: a name, the factors, and a dash style. */
export interface FactorLine {
  name: string;
  factors: RooflineFactors;
  /** Plotly dash: "solid" (default), "dash", "dot". */
  dash?: string;
}

/**
 * Achieved TFLOPS against tokens per group (log-log) for the published rows of each GEMM shape
 * (n x k): measured markers (the layout in the hover text) and the roofline's curve for each set of
 * factors, with the precision's dense peak as a reference line.
 * @param rows published rows to draw; one colour per (n, k) shape, in order of appearance.
 * @param lines factor sets to model, e.g. fitted (solid) and assumed defaults (dashed).
 * @param names optional display name per shape key "n x k".
 * @throws {TypeError} for empty rows or lines.
 * @example publishedGemmFigure(loadPublishedGemms().rows, getGpu("h800"), "fp8", [{ name: "defaults", factors: DEFAULT_FACTORS }]).data.length // => 12 (2 per shape, 6 shapes)
 */
export function publishedGemmFigure(
  rows: readonly PublishedGemm[],
  gpu: GpuSpec,
  precision: WeightPrecision,
  lines: readonly FactorLine[],
  names: Readonly<Record<string, string>> = {},
): Figure {
  if (!Array.isArray(rows) || rows.length === 0) throw new TypeError(`rows must be a non-empty array of published GEMM rows, got ${describeValue(rows)}`);
  if (!Array.isArray(lines) || lines.length === 0) throw new TypeError(`lines must be a non-empty array of {name, factors}, got ${describeValue(lines)}`);
  const shapes: Array<{ n: number; k: number }> = [];
  for (const r of rows) if (!shapes.some((s) => s.n === r.n && s.k === r.k)) shapes.push({ n: r.n, k: r.k });
  const ms = Array.from({ length: 11 }, (_, i) => 2 ** (i + 4)); // 16 .. 16384 tokens per group
  const traces: Record<string, unknown>[] = [];
  shapes.forEach((s, i) => {
    const color = COLORS.series[i % COLORS.series.length];
    const key = `${s.n}x${s.k}`;
    const label = names[key] ?? key;
    for (const l of lines) {
      const y = ms.map((m) => {
        const t = gemmTime({ groups: 1, m, n: s.n, k: s.k }, gpu, l.factors, precision).seconds;
        return +((2 * m * s.n * s.k) / t / 1e12).toFixed(1);
      });
      traces.push({ type: "scatter", mode: "lines", name: `${label}: ${l.name}`, x: ms, y, line: { color, dash: l.dash ?? "solid" } });
    }
    const measured = rows.filter((r) => r.n === s.n && r.k === s.k);
    traces.push({
      type: "scatter",
      mode: "markers",
      name: `${label}: measured`,
      x: measured.map((r) => r.m),
      y: measured.map((r) => r.tflops),
      text: measured.map((r) => (r.layout === "dense" ? "dense" : `${r.layout}, ${r.groups} groups`)),
      marker: { color, size: 8, symbol: "circle-open" },
    });
  });
  return tflopsFigure(traces, "Achieved TFLOPS vs tokens per expert: published kernel timings against the roofline", "tokens per expert (m per group)", gpu, precision);
}

/** A log-log TFLOPS chart with the precision's dense peak as a reference line (the published-GEMM charts). */
function tflopsFigure(traces: Record<string, unknown>[], title: string, xTitle: string, gpu: GpuSpec, precision: WeightPrecision): Figure {
  const peak = computePeakFlops(gpu, precision) / 1e12;
  return withLines(
    figure(traces, {
      title,
      layout: {
        xaxis: { type: "log", title: { text: xTitle } },
        yaxis: { type: "log", title: { text: "TFLOPS" } },
        legend: { orientation: "h", y: -0.25 },
        height: 460,
        margin: { l: 60, r: 20, t: 50, b: 130 },
      },
    }),
    [horizontalLine(peak, COLORS.muted, `${computeRate(precision).toUpperCase()} dense peak ${peak.toFixed(0)}`)],
  );
}

/** The kernel-time bands `rooflinePlotFigure` colours its points by (upper bounds in seconds). */
const TIME_BANDS: ReadonlyArray<{ below: number; name: string; color: string }> = [
  { below: 10e-6, name: "measured, under 10 µs", color: COLORS.hot },
  { below: 100e-6, name: "measured, 10-100 µs", color: COLORS.cap },
  { below: Infinity, name: "measured, 100 µs and over", color: COLORS.base },
];

/**
 * The classic roofline plot of published rows: achieved TFLOPS against arithmetic intensity
 * (FLOPs per byte of HBM traffic, as `gemmTime` counts bytes), log-log, with each factor set's
 * ceiling min(peak x computeEfficiency, intensity x bandwidth x memoryEfficiency). The ceiling
 * leaves out the per-kernel overhead, so points below it are either short kernels (coloured by
 * measured time) or shapes the roofline misses.
 * @param rows published rows (any shapes).
 * @param lines factor sets whose ceilings to draw.
 * @throws {TypeError} for empty rows or lines.
 * @example rooflinePlotFigure(loadPublishedGemms("xla-h100-bf16.json").rows, getGpu("h100"), "bf16", [{ name: "defaults", factors: DEFAULT_FACTORS }]).data.length // => 4 (3 time bands + 1 line)
 */
export function rooflinePlotFigure(rows: readonly PublishedGemm[], gpu: GpuSpec, precision: WeightPrecision, lines: readonly FactorLine[]): Figure {
  if (!Array.isArray(rows) || rows.length === 0) throw new TypeError(`rows must be a non-empty array of published GEMM rows, got ${describeValue(rows)}`);
  if (!Array.isArray(lines) || lines.length === 0) throw new TypeError(`lines must be a non-empty array of {name, factors}, got ${describeValue(lines)}`);
  lines.forEach((l, i) => validateFactors(l.factors, `lines[${i}].factors`));
  const points = rows.map((r) => {
    const t = gemmTime(r, gpu, UNIT_FACTORS, precision);
    return { r, intensity: t.flops / (t.weightBytes + t.activationBytes) };
  });
  const traces: Record<string, unknown>[] = [];
  let lower = 0;
  for (const band of TIME_BANDS) {
    const inBand = points.filter((p) => p.r.seconds >= lower && p.r.seconds < band.below);
    lower = band.below;
    if (inBand.length === 0) continue;
    traces.push({
      type: "scatter",
      mode: "markers",
      name: band.name,
      x: inBand.map((p) => +p.intensity.toFixed(2)),
      y: inBand.map((p) => +p.r.tflops.toFixed(1)),
      text: inBand.map((p) => `${p.r.groups > 1 ? `${p.r.groups} × ` : ""}${p.r.m}×${p.r.n}×${p.r.k}, ${(p.r.seconds * 1e6).toFixed(1)} µs`),
      marker: { color: band.color, size: 6, opacity: 0.75 },
    });
  }
  const intensities = points.map((p) => p.intensity);
  const lo = Math.min(...intensities) / 1.5;
  const hi = Math.max(...intensities) * 1.5;
  const xs = Array.from({ length: 41 }, (_, i) => lo * Math.pow(hi / lo, i / 40));
  const peak = computePeakFlops(gpu, precision);
  const bandwidth = hbmBytesPerSecond(gpu);
  lines.forEach((l, i) => {
    traces.push({
      type: "scatter",
      mode: "lines",
      name: `ceiling, ${l.name}`,
      x: xs.map((x) => +x.toFixed(2)),
      y: xs.map((x) => +(Math.min(peak * l.factors.computeEfficiency, x * bandwidth * l.factors.memoryEfficiency) / 1e12).toFixed(1)),
      line: { color: i === 0 ? COLORS.mean : COLORS.muted, dash: l.dash ?? "solid" },
    });
  });
  return tflopsFigure(traces, `Roofline plot: ${rows.length} measured GEMMs against the modelled ceilings`, "arithmetic intensity (FLOPs per byte of HBM traffic)", gpu, precision);
}

/** Short labels of the overlap schedule's operations, for the timeline's boxes. */
const OP_LABELS: Readonly<Record<OverlapOp, string>> = {
  "attention input": "qkv",
  "attention core": "attn",
  attention: "attn",
  "shared experts": "shared",
  "routed experts": "experts",
  dispatch: "disp.",
  combine: "comb.",
};

/**
 * The timeline of a two-batch overlap schedule (`twoBatchOverlap(..., timeline: true)` or
 * `stepTime`'s `overlapSegments`): one lane for the compute stream, one for the transfers; a box
 * per operation, blue for micro-batch A and orange for B, labelled with the operation when the
 * label fits. Gaps in the compute lane are the GPU waiting for a transfer. Shows `layers` MoE layers (default 1) from
 * micro-batch A's start of layer `fromLayer` (default 0), with whatever B does meanwhile; times in
 * microseconds from that start.
 * @throws {TypeError} for segments that are not an array or a non-string title; {RangeError} as
 *   `overlapWindow`.
 * @example overlapTimelineFigure([{ resource: "compute", microBatch: 0, layer: 0, op: "attention", startSeconds: 0, endSeconds: 1e-4 }], { title: "t" }).layout.shapes.length // => 1
 */
export function overlapTimelineFigure(segments: readonly OverlapSegment[], options: { title: string; fromLayer?: number; layers?: number }): Figure {
  if (!Array.isArray(segments)) throw new TypeError(`segments must be an array of overlap segments, got ${describeValue(segments)}`);
  if (typeof options?.title !== "string") throw new TypeError(`options.title must be a string, got ${describeValue(options?.title)}`);
  const window = overlapWindow(segments, options.fromLayer ?? 0, options.layers ?? 1);
  const t0 = window.startSeconds;
  const t1 = window.endSeconds;
  const shown = window.segments;
  const us = (t: number) => +((t - t0) * 1e6).toFixed(2);
  const colors = [COLORS.base, COLORS.cap];
  const shapes = shown.map((s) => {
    const y = s.resource === "compute" ? 1 : 0;
    return { type: "rect", x0: us(s.startSeconds), x1: us(s.endSeconds), y0: y - 0.35, y1: y + 0.35, fillcolor: colors[s.microBatch], line: { color: "#ffffff", width: 1 } };
  });
  const span = us(t1);
  // A box gets its label (the colour says which micro-batch) when the label fits in it, taking
  // the plot to be about 650 px wide and a character about 6 px.
  const fits = (s: OverlapSegment) => ((us(s.endSeconds) - us(s.startSeconds)) / span) * 650 >= OP_LABELS[s.op].length * 6 + 4;
  const annotations = shown
    .filter(fits)
    .map((s) => ({ x: (us(s.startSeconds) + us(s.endSeconds)) / 2, y: s.resource === "compute" ? 1 : 0, text: OP_LABELS[s.op], showarrow: false, font: { size: 10 } }));
  const laneNames = [
    { xref: "paper", x: 0, y: 1.5, xanchor: "left", text: "compute stream", showarrow: false, font: { color: COLORS.mean } },
    { xref: "paper", x: 0, y: 0.5, xanchor: "left", text: "transfers (dispatch, combine)", showarrow: false, font: { color: COLORS.mean } },
  ];
  // The boxes are layout shapes (the axes' ranges are set below); hovering over a box names it (Plotly shapes have no hover text of their own).
  const hover = {
    type: "scatter",
    mode: "markers",
    x: shown.map((s) => +((us(s.startSeconds) + us(s.endSeconds)) / 2).toFixed(2)),
    y: shown.map((s) => (s.resource === "compute" ? 1 : 0)),
    text: shown.map((s) => `${"AB"[s.microBatch]}, layer ${s.layer}: ${s.op}, ${us(s.startSeconds).toFixed(1)} to ${us(s.endSeconds).toFixed(1)} µs`),
    hoverinfo: "text",
    marker: { size: 16, color: "rgba(0,0,0,0)" },
    showlegend: false,
  };
  return figure([hover], {
    title: options.title,
    layout: {
      shapes,
      annotations: [...laneNames, ...annotations],
      xaxis: { title: { text: "microseconds (blue: micro-batch A, orange: B; gaps: the GPU waits)" }, range: [0, span] },
      yaxis: { range: [-0.5, 1.75], showticklabels: false, showgrid: false, zeroline: false },
      height: 300,
    },
  });
}
