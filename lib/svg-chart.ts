/**
 * Static SVG charts: draws a Plotly figure as one self-contained SVG string, with no browser and
 * no JavaScript, for places that run none (a README, a pull request, an e-mail, a printout).
 * `moe-lab run --svg` writes one per chart of an executed notebook.
 *
 * It draws the subset of Plotly that moe-lab's charts use:
 * - traces: `bar` (vertical; category or numeric x; `base`; one colour or one per bar),
 *   `histogram` (of x, `nbinsx` or `xbins`), `scatter` with `mode` lines / markers / text and
 *   their combinations, `line.color|width|dash|shape` (linear, hv, vh), `marker.color|size`,
 *   `fill` (tozeroy, tozerox, tonexty, toself) and `fillcolor`, `opacity`, `visible`;
 * - layout: `title`, `barmode` (group, stack, relative, overlay), `bargap`, `bargroupgap`,
 *   `xaxis`/`yaxis` `type` (linear, log, category), `title`, `range`, `tickangle`, `showgrid`,
 *   `zeroline`, `showticklabels` (y axis); `showlegend` and `legend.orientation`; `margin`, `width`, `height`, `font`,
 *   `colorway`, `paper_bgcolor`, `plot_bgcolor`;
 * - `shapes` of type line and rect and `annotations` (text, with or without an arrow), in data
 *   or `paper` coordinates: what `horizontalLine` / `verticalLine` in ./charts produce. As in
 *   Plotly, an annotation on a log axis is placed at log10 units (a shape at data values), and
 *   one outside the axis range is hidden; unlike Plotly, annotations do not widen the range.
 * Anything else is skipped; a trace type it cannot draw is named in a visible note on the chart
 * ("(trace type heatmap not drawn in the static SVG)") instead of failing.
 *
 * Deterministic: the same figure gives the same bytes. Ids (the plot-area clip path, the title)
 * derive from `idPrefix`, so several SVGs can sit in one HTML page. All text is XML-escaped.
 * Text widths are estimated from a table of glyph widths (there is no font engine here), so
 * labels are laid out conservatively.
 */
import { Figure, PLOTLY_MIME, chartElementId, figureHtml, figureId } from "./charts";
import { escapeHtml } from "./display";
import { Notebook, Output } from "./notebook";
import { describeValue } from "./validate";

/** Options of `figureToSvg`. */
export interface SvgChartOptions {
  /** Width in pixels, 100..10000. Default: `layout.width`, else 900. */
  width?: number;
  /** Height in pixels, 100..10000. Default: `layout.height`, else 380. */
  height?: number;
  /** Prefix of every id in the SVG (a letter, then letters, digits, `-` or `_`). Default "chart". */
  idPrefix?: string;
}

type Dict = Record<string, unknown>;

// Plotly's defaults when a figure does not set them (no template).
const PLOTLY_COLORWAY = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const DEFAULT_MARGIN = { l: 80, r: 80, t: 100, b: 80 };
const DEFAULT_FONT = { family: '"Open Sans", verdana, arial, sans-serif', size: 12, color: "#444" };
const GRID_COLOR = "#eee";
const NOTE_COLOR = "#a61c1c";
/** A white outline under text, so labels stay legible where they cross lines or bars. */
const HALO = ` stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`;

// ---------------------------------------------------------------------------------------------
// Small helpers: reading loosely typed figure JSON, numbers and text in SVG

function dict(v: unknown): Dict {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Dict) : {};
}

function list(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  return [];
}

function str(v: unknown, dflt: string): string {
  return typeof v === "string" ? v : dflt;
}

function num(v: unknown, dflt: number): number {
  return typeof v === "number" && Number.isFinite(v) ? v : dflt;
}

/** A value as a number: finite numbers and numeric strings; NaN for anything else. */
function toNumber(v: unknown): number {
  if (typeof v === "number") return Number.isFinite(v) ? v : NaN;
  if (typeof v === "string" && v.trim() !== "") return Number(v);
  return NaN;
}

/** A plain-text title: Plotly accepts a string or `{text}`. */
function titleText(v: unknown): string {
  if (typeof v === "string") return v;
  return str(dict(v).text, "");
}

/** Escapes text for XML content and attribute values; drops characters XML 1.0 forbids. */
function esc(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** A coordinate with at most 2 decimals ("-0" written "0"; non-finite values pinned far away). */
function f(n: number): string {
  const x = Number.isFinite(n) ? Math.max(-1e6, Math.min(1e6, n)) : n > 0 ? 1e6 : -1e6;
  const r = Math.round(x * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

// Approximate glyph widths (in em) of a sans-serif font: narrow, wide and default characters.
const NARROW = new Set("iljI.,:;'|!()[]{} `\u00B7");
const SEMI = new Set("ftrJ-/\\\"*1");
const WIDE = new Set("mwMW@%");

/** Estimated width of `text` in pixels at `size` px (conservative: errs on the wide side). */
function textWidth(text: string, size: number): number {
  let em = 0;
  for (const ch of text) {
    if (NARROW.has(ch)) em += 0.32;
    else if (SEMI.has(ch)) em += 0.42;
    else if (WIDE.has(ch)) em += 0.92;
    else if (ch >= "A" && ch <= "Z") em += 0.72;
    else if (ch >= "0" && ch <= "9") em += 0.64;
    else if (ch.codePointAt(0)! > 0x2e80) em += 1;
    else em += 0.6;
  }
  return em * size;
}

/** Plotly's text may hold `<br>` line breaks; everything else is shown literally. */
function textLines(text: string): string[] {
  return text.split(/<br\s*\/?>/i);
}

/** A `<text>` element, one `<tspan>` per line when there are several. */
function textElement(lines: string[], x: number, y: number, attrs: string, lineHeight: number): string {
  if (lines.length === 1) return `<text${attrs} x="${f(x)}" y="${f(y)}">${esc(lines[0])}</text>`;
  const spans = lines.map((l, i) => `<tspan x="${f(x)}" ${i === 0 ? `y="${f(y)}"` : `dy="${f(lineHeight)}"`}>${esc(l)}</tspan>`).join("");
  return `<text${attrs}>${spans}</text>`;
}

/** SVG `stroke-dasharray` for a Plotly dash name (or a "5px,10px" list), scaled like Plotly. */
function dashArray(dash: unknown, width: number): string | null {
  const w = Math.max(width, 3);
  switch (dash) {
    case undefined:
    case "solid":
      return null;
    case "dot":
      return `${f(w)},${f(w)}`;
    case "dash":
      return `${f(3 * w)},${f(3 * w)}`;
    case "longdash":
      return `${f(5 * w)},${f(5 * w)}`;
    case "dashdot":
      return `${f(3 * w)},${f(w)},${f(w)},${f(w)}`;
    case "longdashdot":
      return `${f(5 * w)},${f(2 * w)},${f(w)},${f(2 * w)}`;
    default: {
      const parts = typeof dash === "string" ? dash.split(/[\s,]+/).map((p) => parseFloat(p)) : [];
      return parts.length && parts.every((p) => Number.isFinite(p) && p >= 0) ? parts.map(f).join(",") : null;
    }
  }
}

function strokeAttrs(color: string, width: number, dash: unknown): string {
  const d = dashArray(dash, width);
  return ` stroke="${esc(color)}" stroke-width="${f(width)}"${d ? ` stroke-dasharray="${d}"` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// Axes: kinds, ranges, nice ticks, compact tick labels

type AxisKind = "linear" | "log" | "category";

interface Tick {
  /** Position in axis units (value; log10 of value on a log axis; index on a category axis). */
  u: number;
  label: string;
}

interface Axis {
  kind: AxisKind;
  categories: string[];
  title: string;
  /** Range in axis units. */
  lo: number;
  hi: number;
  ticks: Tick[];
  tickAngle: number | null;
  showGrid: boolean;
  zeroLine: boolean;
}

/** Where `v` sits on the axis, in axis units (NaN when it cannot be drawn there). */
function toUnits(axis: Pick<Axis, "kind" | "categories">, v: unknown): number {
  if (axis.kind === "category") {
    if (typeof v !== "string" && typeof v !== "number") return NaN;
    const i = axis.categories.indexOf(String(v));
    return i >= 0 ? i : NaN;
  }
  const x = toNumber(v);
  if (axis.kind === "log") return x > 0 ? Math.log10(x) : NaN;
  return x;
}

/** For shapes: data values, except that numbers on a category axis are indices (as in Plotly). */
function refUnits(axis: Pick<Axis, "kind" | "categories">, v: unknown): number {
  if (axis.kind === "category" && typeof v === "number") return v;
  return toUnits(axis, v);
}

/**
 * For annotations: as `refUnits`, except that on a log axis Plotly reads an annotation's x / y as
 * log10 of the value (a label for y = 100 needs y: 2), unlike shapes, which take the value.
 */
function annotationUnits(axis: Axis, v: unknown): number {
  return axis.kind === "log" ? toNumber(v) : refUnits(axis, v);
}

/** The smallest of 1, 2, 5 x 10^k that is >= `x` (x > 0). */
function niceStep(x: number): number {
  const base = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 5, 10]) if (m * base >= x * (1 - 1e-9)) return m * base;
  return 10 * base;
}

/** A number without float noise, with as many decimals as `step` needs. */
function trimmed(x: number, step: number): string {
  const decimals = Math.max(0, Math.min(12, -Math.floor(Math.log10(step) + 1e-9)));
  const s = String(+x.toFixed(decimals));
  return s === "-0" ? "0" : s;
}

/**
 * A compact tick label: 1500 with step 500 -> "1.5k", 1e6 -> "1M", 0.5 -> "0.5", 1e-4 -> "1e-4".
 * @param step the spacing of neighbouring ticks: decides the decimals shown.
 */
function formatTick(v: number, step: number): string {
  const a = Math.abs(v);
  if (a < Math.abs(step) * 1e-6 || a === 0) return "0";
  const suffixes: Array<[number, string]> = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [unit, suffix] of suffixes) if (a >= unit * (1 - 1e-12)) return trimmed(v / unit, step / unit) + suffix;
  if (a < 1e-3) return Number(v.toPrecision(6)).toExponential().replace("e+", "e");
  return trimmed(v, step);
}

/** Linear ticks at multiples of a 1-2-5 step, about `target` of them (at most a third more) inside [lo, hi]. */
function linearTicks(lo: number, hi: number, target: number): Tick[] {
  const step = niceStep(((hi - lo) / Math.max(1, target)) * 0.75);
  const ticks: Tick[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) {
    const u = +(k * step).toPrecision(12);
    ticks.push({ u, label: formatTick(u, step) });
  }
  return ticks;
}

/**
 * Log ticks (axis units are log10): whole decades when at least three fit in the range (every
 * second, third ... decade when there are more than `maxTicks`), else 1-2-5 per decade, else 1..9.
 */
function logTicks(lo: number, hi: number, maxTicks: number): Tick[] {
  const first = Math.ceil(lo - 1e-9);
  const last = Math.floor(hi + 1e-9);
  const decades = last - first + 1;
  const tick = (v: number): Tick => ({ u: Math.log10(v), label: formatTick(v, Math.pow(10, Math.floor(Math.log10(v) + 1e-9))) });
  if (decades >= 3) {
    const every = Math.max(1, Math.ceil(decades / Math.max(2, maxTicks)));
    const out: Tick[] = [];
    for (let d = first; d <= last; d++) if ((d - first) % every === 0) out.push(tick(+Math.pow(10, d).toPrecision(12)));
    return out;
  }
  const within = (mults: number[]): Tick[] => {
    const out: Tick[] = [];
    for (let d = Math.floor(lo) - 1; d <= Math.ceil(hi); d++) {
      for (const m of mults) {
        const v = +(m * Math.pow(10, d)).toPrecision(12);
        const u = Math.log10(v);
        if (u >= lo - 1e-9 && u <= hi + 1e-9) out.push(tick(v));
      }
    }
    return out;
  };
  const oneTwoFive = within([1, 2, 5]);
  if (oneTwoFive.length >= 3 || oneTwoFive.length >= maxTicks) return oneTwoFive;
  const all = within([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return all.length <= Math.max(3, maxTicks) ? all : oneTwoFive;
}

/** One value that an axis range must cover, and how far (fraction of the span) to pad past it. */
interface Extent {
  u: number;
  pad: number;
}

/** The axis range: explicit `range`, else the extents padded, else a default. */
function axisRange(kind: AxisKind, categories: string[], extents: Extent[], explicit: unknown): { lo: number; hi: number } {
  const r = list(explicit).map(toNumber);
  if (r.length === 2 && r.every(Number.isFinite) && r[0] !== r[1]) return { lo: Math.min(r[0], r[1]), hi: Math.max(r[0], r[1]) };
  if (kind === "category") return { lo: -0.5, hi: Math.max(categories.length, 1) - 0.5 };
  const finite = extents.filter((e) => Number.isFinite(e.u));
  if (finite.length === 0) return { lo: 0, hi: 1 };
  let lo = finite[0];
  let hi = finite[0];
  for (const e of finite) {
    if (e.u < lo.u || (e.u === lo.u && e.pad > lo.pad)) lo = e;
    if (e.u > hi.u || (e.u === hi.u && e.pad > hi.pad)) hi = e;
  }
  if (hi.u - lo.u < 1e-12 * Math.max(1, Math.abs(lo.u))) {
    const half = kind === "log" ? 0.5 : Math.max(Math.abs(lo.u) * 0.5, 0.5);
    return { lo: lo.u - half, hi: hi.u + half };
  }
  const span = hi.u - lo.u;
  return { lo: lo.u - lo.pad * span, hi: hi.u + hi.pad * span };
}

// ---------------------------------------------------------------------------------------------
// Step 1: read the traces into drawable series

interface BarSeries {
  kind: "bar";
  index: number;
  name: string;
  /** Bar centres in x axis units, values (heights) and bottoms (NaN: stacked or 0). */
  xu: number[];
  y: number[];
  base: number[];
  /** Slot width of each bar in x axis units (histogram: the bin width). */
  slot: number[];
  colors: string[];
  /** Histogram bins only: how many values fell in each bin. */
  counts: number[] | null;
  opacity: number;
  isHistogram: boolean;
}

interface ScatterSeries {
  kind: "scatter";
  index: number;
  name: string;
  xu: number[];
  yu: number[];
  lines: boolean;
  markers: boolean;
  text: string[] | null;
  textPosition: string;
  textColor: string;
  textSize: number;
  lineColor: string;
  lineWidth: number;
  dash: unknown;
  shape: string;
  markerColors: string[];
  markerSize: number;
  fill: string;
  fillColor: string;
  opacity: number;
}

type Series = BarSeries | ScatterSeries;

interface LegendEntry {
  name: string;
  kind: "bar" | "scatter";
  color: string;
  lines: boolean;
  markers: boolean;
  dash: unknown;
  fillColor: string | null;
}

function colorList(v: unknown, n: number, dflt: string): string[] {
  if (Array.isArray(v)) return Array.from({ length: n }, (_, i) => (typeof v[i] === "string" ? (v[i] as string) : dflt));
  return new Array<string>(n).fill(typeof v === "string" ? v : dflt);
}

/** A colour with transparency for fills: hex and rgb() become rgba(); others are left as they are. */
function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (hex) {
    const h = hex[1].length === 3 ? hex[1].replace(/./g, "$&$&") : hex[1];
    return `rgba(${parseInt(h.slice(0, 2), 16)},${parseInt(h.slice(2, 4), 16)},${parseInt(h.slice(4, 6), 16)},${alpha})`;
  }
  const rgb = /^rgb\(([^)]*)\)$/i.exec(color);
  return rgb ? `rgba(${rgb[1]},${alpha})` : color;
}

/** Histogram bins of numeric values: 1-2-5 bin width for about `nbins` bins (as Plotly's autobin). */
function binValues(values: number[], nbins: number, xbins: Dict): { start: number; size: number; counts: number[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let size = num(xbins.size, NaN);
  if (!(size > 0)) size = hi > lo ? niceStep((hi - lo) / nbins) : Math.max(Math.abs(lo) * 0.1, 1);
  let start = num(xbins.start, NaN);
  if (!Number.isFinite(start)) start = hi > lo ? Math.floor(lo / size + 1e-9) * size : lo - size / 2;
  const end = num(xbins.end, hi);
  const n = Math.max(1, Math.floor((end - start) / size + 1e-9) + 1);
  const counts = new Array<number>(n).fill(0);
  for (const v of values) {
    const k = Math.floor((v - start) / size + 1e-9);
    if (k >= 0 && k < n) counts[k]++;
  }
  return { start: +start.toPrecision(12), size, counts };
}

// ---------------------------------------------------------------------------------------------
// Step 2: bar geometry (group / stack / overlay)

interface BarRect {
  x0: number;
  x1: number;
  /** Bottom and top in y axis *values* (converted to units when drawn). */
  y0: number;
  y1: number;
  color: string;
  count: number | null;
}

function barRects(series: BarSeries[], barmode: string, bargap: number, bargroupgap: number): BarRect[][] {
  const grouped = barmode === "group" && series.length > 1;
  const stacked = barmode === "stack" || barmode === "relative";
  const posTop = new Map<string, number>();
  const negTop = new Map<string, number>();
  return series.map((s, k) => {
    const rects: BarRect[] = [];
    for (let i = 0; i < s.xu.length; i++) {
      const x = s.xu[i];
      const y = s.y[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const groupWidth = s.slot[i] * (1 - bargap);
      let x0 = x - groupWidth / 2;
      let width = groupWidth;
      if (grouped) {
        width = groupWidth / series.length;
        x0 += k * width;
      }
      const inset = (width * bargroupgap) / 2;
      let y0 = Number.isFinite(s.base[i]) ? s.base[i] : 0;
      if (stacked && !Number.isFinite(s.base[i])) {
        const key = f(x * 1000);
        const tops = y >= 0 ? posTop : negTop;
        y0 = tops.get(key) ?? 0;
        tops.set(key, y0 + y);
      }
      rects.push({ x0: x0 + inset, x1: x0 + width - inset, y0, y1: y0 + y, color: s.colors[i], count: s.counts ? s.counts[i] : null });
    }
    return rects;
  });
}

// ---------------------------------------------------------------------------------------------
// Step 3: legend and text placement

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

function overlapArea(a: Box, b: Box): number {
  return Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0)) * Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
}

function legendSymbol(e: LegendEntry, x: number, y: number): string {
  if (e.kind === "bar") return `<rect x="${f(x + 8)}" y="${f(y - 6)}" width="12" height="12" fill="${esc(e.color)}"/>`;
  let out = "";
  if (e.fillColor) out += `<rect x="${f(x)}" y="${f(y - 6)}" width="28" height="12" fill="${esc(e.fillColor)}"/>`;
  if (e.lines) out += `<line x1="${f(x)}" y1="${f(y)}" x2="${f(x + 28)}" y2="${f(y)}"${strokeAttrs(e.color, 2, e.dash)}/>`;
  if (e.markers) out += `<circle cx="${f(x + 14)}" cy="${f(y)}" r="3.5" fill="${esc(e.color)}"/>`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The public functions

function checkSize(name: string, value: unknown): number {
  if (typeof value !== "number") throw new TypeError(`${name} must be a number of pixels, got ${describeValue(value)}`);
  if (!Number.isFinite(value) || value < 100 || value > 10000) {
    throw new RangeError(`${name} must be a finite number of pixels >= 100 and <= 10000, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Renders a Plotly figure (the subset moe-lab uses: see the top of this file) as a static SVG.
 * Pure and deterministic: the same figure and options give the same string.
 * @param fig a Plotly figure `{data, layout}`, e.g. from `figure` in ./charts.
 * @param options `width`/`height` in pixels (default: the layout's, else 900 x 380) and
 *   `idPrefix` for the ids inside the SVG (default "chart").
 * @throws {TypeError} when `fig` is not a figure or an option has the wrong type;
 *   {RangeError} when a size is outside 100..10000 or `idPrefix` is not a valid id.
 * @example figureToSvg(figure([{ type: "bar", x: ["a", "b"], y: [1, 2] }], { title: "T" })).startsWith("<svg") // => true
 */
export function figureToSvg(fig: Figure, options: SvgChartOptions = {}): string {
  if (!fig || typeof fig !== "object" || !Array.isArray(fig.data)) {
    throw new TypeError(`fig must be a Plotly figure {data: [...], layout: {...}}, got ${describeValue(fig)}`);
  }
  if (fig.layout !== undefined && (fig.layout === null || typeof fig.layout !== "object" || Array.isArray(fig.layout))) {
    throw new TypeError(`fig.layout must be an object, got ${describeValue(fig.layout)}`);
  }
  if (!options || typeof options !== "object") throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const layout = dict(fig.layout);
  // The layout's own size is used when it is a sensible one; options are checked strictly.
  const layoutSize = (v: unknown, dflt: number) => (typeof v === "number" && v >= 100 && v <= 10000 ? v : dflt);
  const W = checkSize("options.width", options.width ?? layoutSize(layout.width, 900));
  const H = checkSize("options.height", options.height ?? layoutSize(layout.height, 380));
  const prefix = options.idPrefix ?? "chart";
  if (typeof prefix !== "string") throw new TypeError(`options.idPrefix must be a string, got ${describeValue(prefix)}`);
  if (!/^[A-Za-z][\w-]*$/.test(prefix)) {
    throw new RangeError(`options.idPrefix must be a letter followed by letters, digits, "-" or "_", got ${describeValue(prefix)}`);
  }

  const fontIn = dict(layout.font);
  const font = { family: str(fontIn.family, DEFAULT_FONT.family), size: num(fontIn.size, DEFAULT_FONT.size), color: str(fontIn.color, DEFAULT_FONT.color) };
  const fs = font.size;
  const colorway = list(layout.colorway).filter((c): c is string => typeof c === "string");
  const palette = colorway.length ? colorway : PLOTLY_COLORWAY;
  const xIn = dict(layout.xaxis);
  const yIn = dict(layout.yaxis);
  const notes: string[] = [];
  const note = (text: string) => {
    if (!notes.includes(text)) notes.push(text);
  };

  // Step 1: which traces can be drawn, and the axis kinds they imply.
  const traces = fig.data.map((t, i) => ({ t: dict(t), i })).filter(({ t }) => t.visible !== false && t.visible !== "legendonly");
  const drawable = traces.filter(({ t }) => {
    const type = str(t.type, "scatter");
    const unsupported =
      type === "bar" && t.orientation === "h" ? "bar with orientation h" : type === "histogram" && t.x === undefined ? "histogram of y" : ["bar", "histogram", "scatter"].includes(type) ? null : type;
    if (unsupported !== null) note(`(trace type ${unsupported} not drawn in the static SVG)`);
    return unsupported === null;
  });
  const xValuesOf = (t: Dict): unknown[] => {
    if (t.x !== undefined) return list(t.x);
    return list(t.y).map((_, k) => k);
  };
  const categories: string[] = [];
  const explicitX = str(xIn.type, "");
  const anyStringX = drawable.some(({ t }) => xValuesOf(t).some((v) => typeof v === "string" && !Number.isFinite(toNumber(v))));
  const xKind: AxisKind = explicitX === "log" || explicitX === "category" || explicitX === "linear" ? explicitX : anyStringX ? "category" : "linear";
  if (xKind === "category") {
    for (const { t } of drawable) for (const v of xValuesOf(t)) if ((typeof v === "string" || typeof v === "number") && !categories.includes(String(v))) categories.push(String(v));
  }
  const yKind: AxisKind = yIn.type === "log" ? "log" : "linear";
  const xAxis0 = { kind: xKind, categories };
  const yAxis0 = { kind: yKind, categories: [] as string[] };

  // Series in axis units (bars keep values on y: stacking adds values, not logs).
  const series: Series[] = [];
  const legend: LegendEntry[] = [];
  const legendCount = traces.filter(({ t }) => t.showlegend !== false).length;
  const showLegend = layout.showlegend === true || (layout.showlegend !== false && legendCount >= 2);
  const barSlotX: number[] = [];
  for (const { t, i } of drawable) {
    const type = str(t.type, "scatter");
    const name = typeof t.name === "string" || typeof t.name === "number" ? String(t.name) : `trace ${i}`;
    const color = palette[i % palette.length];
    const marker = dict(t.marker);
    const opacity = Math.max(0, Math.min(1, num(t.opacity, 1)));
    if (type === "histogram") {
      const raw = list(t.x);
      let xu: number[];
      let slot: number[];
      let counts: number[];
      if (xKind === "category") {
        counts = categories.map((c) => raw.filter((v) => String(v) === c).length);
        xu = categories.map((_, k) => k);
        slot = categories.map(() => 1);
      } else {
        const values = raw.map(toNumber).filter((v) => Number.isFinite(v) && (xKind !== "log" || v > 0));
        const bins = values.length ? binValues(values, Math.max(1, Math.round(num(t.nbinsx, 0)) || Math.min(50, Math.max(5, Math.ceil(Math.sqrt(values.length))))), dict(t.xbins)) : { start: 0, size: 1, counts: [] };
        counts = bins.counts;
        const edge = (k: number) => toUnits(xAxis0, +(bins.start + k * bins.size).toPrecision(12));
        xu = counts.map((_, k) => (edge(k) + edge(k + 1)) / 2);
        slot = counts.map((_, k) => edge(k + 1) - edge(k));
      }
      const c = typeof marker.color === "string" ? marker.color : color;
      series.push({ kind: "bar", index: i, name, xu, y: counts.slice(), base: counts.map(() => NaN), slot, colors: counts.map(() => c), counts, opacity, isHistogram: true });
      if (t.showlegend !== false) legend.push({ name, kind: "bar", color: c, lines: false, markers: false, dash: undefined, fillColor: null });
    } else if (type === "bar") {
      const ys = list(t.y).map(toNumber);
      const xs = xValuesOf(t).slice(0, ys.length).map((v) => toUnits(xAxis0, v));
      while (xs.length < ys.length) xs.push(NaN);
      const baseIn = t.base;
      const base = ys.map((_, k) => (Array.isArray(baseIn) ? toNumber(baseIn[k]) : toNumber(baseIn)));
      const colors = colorList(marker.color, ys.length, color);
      for (const x of xs) if (Number.isFinite(x)) barSlotX.push(x);
      series.push({ kind: "bar", index: i, name, xu: xs, y: ys, base, slot: [], colors, counts: null, opacity, isHistogram: false });
      if (t.showlegend !== false) legend.push({ name, kind: "bar", color: colors[0] ?? color, lines: false, markers: false, dash: undefined, fillColor: null });
    } else {
      const ysRaw = list(t.y);
      const xsRaw = xValuesOf(t);
      const n = Math.min(ysRaw.length, xsRaw.length);
      const mode = str(t.mode, n < 20 ? "lines+markers" : "lines");
      const line = dict(t.line);
      const lineColor = str(line.color, typeof marker.color === "string" ? marker.color : color);
      const fill = str(t.fill, "none");
      const textIn = t.text;
      const text = mode.includes("text") && textIn !== undefined ? Array.from({ length: n }, (_, k) => (Array.isArray(textIn) ? String(textIn[k] ?? "") : String(textIn))) : null;
      const textfont = dict(t.textfont);
      const s: ScatterSeries = {
        kind: "scatter",
        index: i,
        name,
        xu: xsRaw.slice(0, n).map((v) => toUnits(xAxis0, v)),
        yu: ysRaw.slice(0, n).map((v) => toUnits(yAxis0, v)),
        lines: mode.includes("lines"),
        markers: mode.includes("markers"),
        text,
        textPosition: str(t.textposition, "middle center"),
        textColor: str(textfont.color, font.color),
        textSize: num(textfont.size, fs),
        lineColor,
        lineWidth: Math.max(0, num(line.width, 2)),
        dash: line.dash,
        shape: str(line.shape, "linear"),
        markerColors: colorList(marker.color, n, lineColor),
        markerSize: Math.max(0, num(marker.size, 6)),
        fill,
        fillColor: str(t.fillcolor, withAlpha(lineColor, 0.5)),
        opacity,
      };
      series.push(s);
      if (t.showlegend !== false) {
        legend.push({ name, kind: "scatter", color: s.markers && !s.lines ? s.markerColors[0] ?? lineColor : lineColor, lines: s.lines, markers: s.markers, dash: s.dash, fillColor: fill !== "none" ? s.fillColor : null });
      }
    }
  }

  // Step 2: bar geometry. A bar's slot is the closest spacing of bar positions (1 on categories).
  const barmode = str(layout.barmode, "group");
  const bars = series.filter((s): s is BarSeries => s.kind === "bar");
  const distinct = Array.from(new Set(barSlotX)).sort((a, b) => a - b);
  let minGap = Infinity;
  for (let k = 1; k < distinct.length; k++) minGap = Math.min(minGap, distinct[k] - distinct[k - 1]);
  const barSlot = xKind === "category" || !Number.isFinite(minGap) ? 1 : minGap;
  for (const b of bars) if (!b.isHistogram) b.slot = b.xu.map(() => barSlot);
  const onlyHistograms = bars.length > 0 && bars.every((b) => b.isHistogram);
  const bargap = Math.max(0, Math.min(1, num(layout.bargap, onlyHistograms ? 0 : 0.2)));
  const bargroupgap = Math.max(0, Math.min(1, num(layout.bargroupgap, 0)));
  const rects = barRects(bars, barmode, bargap, bargroupgap);

  // Step 3: axis ranges from everything drawn in data coordinates (bars start at their base).
  const xExt: Extent[] = [];
  const yExt: Extent[] = [];
  const yUnits = (v: number) => toUnits(yAxis0, v);
  rects.forEach((rs) =>
    rs.forEach((r) => {
      xExt.push({ u: r.x0, pad: 0 }, { u: r.x1, pad: 0 });
      yExt.push({ u: yUnits(r.y0), pad: r.y0 === 0 ? 0 : 0.05 }, { u: yUnits(r.y1), pad: r.y1 === 0 ? 0 : 0.05 });
    }),
  );
  for (const s of series) {
    if (s.kind !== "scatter") continue;
    const xPad = s.markers || s.text ? 0.03 : 0;
    s.xu.forEach((x, k) => {
      if (!Number.isFinite(x) || !Number.isFinite(s.yu[k])) return;
      xExt.push({ u: x, pad: xPad });
      yExt.push({ u: s.yu[k], pad: s.text && s.textPosition.startsWith("top") ? 0.12 : 0.05 });
    });
    if (s.fill === "tozeroy" && yKind === "linear") yExt.push({ u: 0, pad: 0 });
    if (s.fill === "tozerox" && xKind === "linear") xExt.push({ u: 0, pad: 0 });
  }
  const shapes = list(layout.shapes).map(dict);
  for (const sh of shapes) {
    if (sh.type !== "line" && sh.type !== "rect") continue;
    if (sh.xref !== "paper") for (const v of [sh.x0, sh.x1]) xExt.push({ u: refUnits(xAxis0, v), pad: 0 });
    if (sh.yref !== "paper") for (const v of [sh.y0, sh.y1]) yExt.push({ u: refUnits(yAxis0, v), pad: 0.05 });
  }
  const xr = axisRange(xKind, categories, xExt, xIn.range);
  const yr = axisRange(yKind, [], yExt, yIn.range);
  const axisOf = (base: { kind: AxisKind; categories: string[] }, spec: Dict, r: { lo: number; hi: number }): Axis => ({
    ...base,
    title: titleText(spec.title),
    lo: r.lo,
    hi: r.hi,
    ticks: [],
    tickAngle: typeof spec.tickangle === "number" && Number.isFinite(spec.tickangle) ? spec.tickangle : null,
    showGrid: spec.showgrid !== false,
    zeroLine: spec.zeroline !== false,
  });
  const xAxis = axisOf(xAxis0, xIn, xr);
  const yAxis = axisOf(yAxis0, yIn, yr);
  // As in Plotly, the axis that bars stand on has no grid lines unless asked for.
  if (bars.length && xIn.showgrid !== true) xAxis.showGrid = false;

  // Step 4: the layout box. Margins grow to fit tick labels, axis titles, legend and title.
  const marginIn = dict(layout.margin);
  const margin = { l: num(marginIn.l, DEFAULT_MARGIN.l), r: num(marginIn.r, DEFAULT_MARGIN.r), t: num(marginIn.t, DEFAULT_MARGIN.t), b: num(marginIn.b, DEFAULT_MARGIN.b) };
  const titleIn = layout.title;
  const title = titleText(titleIn);
  const titleFont = dict(dict(titleIn).font);
  let titleSize = num(titleFont.size, Math.round(fs * 1.4));
  const titleLines = title ? textLines(title) : [];
  const widest = (lines: string[], size: number) => Math.max(0, ...lines.map((l) => textWidth(l, size)));
  while (titleLines.length && widest(titleLines, titleSize) > W - 20 && titleSize > 10) titleSize--;
  const axisTitleSize = Math.round(fs * 1.15);
  const entryH = Math.round(fs * 1.7);
  const legendEntries = showLegend ? (barmode === "stack" || barmode === "relative" ? legend.slice().reverse() : legend) : [];
  const legendTextW = widest(legendEntries.map((e) => e.name), fs);
  const vLegendW = 8 + 28 + 6 + legendTextW + 8;
  const legendIn = dict(layout.legend);
  const vertical = legendEntries.length > 0 && legendIn.orientation !== "h" && vLegendW <= 0.3 * W && legendEntries.length * entryH + 10 <= H - margin.t - margin.b;
  const top = Math.max(margin.t, titleLines.length ? titleLines.length * titleSize * 1.25 + 14 : 0);
  const right = vertical ? Math.max(margin.r, vLegendW + 12) : margin.r;

  // Horizontal legend rows (below the x axis), wrapped to the width.
  const hLegend: Array<{ e: LegendEntry; x: number; row: number }> = [];
  const layoutHLegend = (left: number) => {
    hLegend.length = 0;
    let x = left;
    let row = 0;
    for (const e of legendEntries) {
      const w = 28 + 6 + textWidth(e.name, fs) + 18;
      if (x > left && x + w > W - 8) {
        row++;
        x = left;
      }
      hLegend.push({ e, x, row });
      x += w;
    }
  };
  const legendRows = () => (hLegend.length ? hLegend[hLegend.length - 1].row + 1 : 0);

  const yLabelWidth = () => widest(yAxis.ticks.map((t) => t.label), fs);
  const makeYTicks = (len: number) => {
    // A y axis without tick labels (Plotly's showticklabels: false) draws no ticks or grid lines either.
    if (yIn.showticklabels === false) yAxis.ticks = [];
    else yAxis.ticks = yKind === "log" ? logTicks(yAxis.lo, yAxis.hi, Math.floor(len / 22)) : linearTicks(yAxis.lo, yAxis.hi, Math.max(2, Math.round(len / 50)));
  };
  // X ticks: labels must not overlap; category labels turn (-30 degrees, as Plotly) or thin out.
  let xAngle = 0;
  let xEvery = 1;
  const makeXTicks = (len: number) => {
    const pxPerUnit = len / (xAxis.hi - xAxis.lo);
    if (xKind === "category") {
      xAxis.ticks = categories.map((c, k) => ({ u: k, label: c })).filter((t) => t.u >= xAxis.lo && t.u <= xAxis.hi);
      const labelW = widest(xAxis.ticks.map((t) => t.label), fs);
      xAngle = xAxis.tickAngle ?? (labelW + 6 > pxPerUnit ? -30 : 0);
      const sin = Math.abs(Math.sin((xAngle * Math.PI) / 180));
      const need = sin > 0.05 ? (fs * 1.25) / sin : labelW + 8;
      xEvery = Math.max(1, Math.ceil(need / pxPerUnit));
    } else if (xKind === "log") {
      xAxis.ticks = logTicks(xAxis.lo, xAxis.hi, Math.floor(len / 45));
      xAngle = xAxis.tickAngle ?? 0;
      xEvery = 1;
    } else {
      let target = Math.max(2, Math.round(len / 80));
      xAxis.ticks = linearTicks(xAxis.lo, xAxis.hi, target);
      // Fewer ticks while neighbouring labels would touch.
      while (target > 2 && xAxis.ticks.length > 1) {
        const gap = (xAxis.ticks[1].u - xAxis.ticks[0].u) * pxPerUnit;
        if (widest(xAxis.ticks.map((t) => t.label), fs) + 10 <= gap) break;
        target = Math.max(2, Math.floor(target * 0.6));
        xAxis.ticks = linearTicks(xAxis.lo, xAxis.hi, target);
      }
      xAngle = xAxis.tickAngle ?? 0;
      xEvery = 1;
    }
  };
  const shownXTicks = () => xAxis.ticks.filter((_, k) => k % xEvery === 0);
  /** How far x tick labels reach below the axis, and left of their tick (turned labels). */
  const xLabelExtent = () => {
    const a = (Math.abs(xAngle) * Math.PI) / 180;
    const shown = shownXTicks();
    const w = widest(shown.map((t) => t.label), fs);
    if (xAngle === 0) return { down: fs * 1.2, left: 0 };
    return { down: w * Math.sin(a) + fs * Math.cos(a) + 2, left: w * Math.cos(a) };
  };

  let plotTop = top;
  let plotLeft = margin.l;
  let plotRight = W - right;
  let plotBottom = H - margin.b;
  for (let pass = 0; pass < 3; pass++) {
    makeYTicks(Math.max(10, plotBottom - plotTop));
    plotLeft = Math.max(margin.l, 4 + (yAxis.title ? axisTitleSize * 1.3 + 6 : 0) + yLabelWidth() + 8);
    makeXTicks(Math.max(10, plotRight - plotLeft));
    const ext = xLabelExtent();
    if (ext.left > 0 && xAxis.ticks.length) {
      // The first turned label must stay inside the picture.
      const firstX = plotLeft + ((shownXTicks()[0].u - xAxis.lo) / (xAxis.hi - xAxis.lo)) * (plotRight - plotLeft);
      if (firstX - ext.left < 4) plotLeft += Math.min(4 - (firstX - ext.left), W * 0.25);
    }
    if (!vertical) layoutHLegend(Math.max(8, plotLeft - 40));
    const legendH = vertical ? 0 : legendRows() * entryH + (legendRows() ? 6 : 0);
    const bottom = Math.max(margin.b, 6 + ext.down + (xAxis.title ? 8 + axisTitleSize * 1.2 : 0) + legendH + 6);
    plotBottom = H - bottom;
  }
  const plotW = Math.max(10, plotRight - plotLeft);
  const plotH = Math.max(10, plotBottom - plotTop);
  plotBottom = plotTop + plotH;
  plotRight = plotLeft + plotW;
  makeYTicks(plotH);
  makeXTicks(plotW);
  const px = (u: number) => plotLeft + ((u - xAxis.lo) / (xAxis.hi - xAxis.lo)) * plotW;
  const py = (u: number) => plotBottom - ((u - yAxis.lo) / (yAxis.hi - yAxis.lo)) * plotH;
  /** y pixel of a value, pinned just outside the plot when it cannot be drawn (log of 0). */
  const pyValue = (v: number) => {
    const u = yUnits(v);
    if (Number.isFinite(u)) return py(u);
    return v <= 0 && yKind === "log" ? plotBottom + 1 : py(yAxis.lo);
  };
  const clampX = (x: number) => Math.max(plotLeft - plotW, Math.min(plotRight + plotW, x));
  const clampY = (y: number) => Math.max(plotTop - plotH, Math.min(plotBottom + plotH, y));

  // Step 5: draw.
  const out: string[] = [];
  const paperBg = str(layout.paper_bgcolor, "#fff");
  const plotBg = str(layout.plot_bgcolor, "#fff");
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f(W)}" height="${f(H)}" viewBox="0 0 ${f(W)} ${f(H)}" role="img" aria-labelledby="${prefix}-title"` +
      ` font-family="${esc(font.family)}" font-size="${f(fs)}">`,
  );
  out.push(`<title id="${prefix}-title">${esc(titleLines.join(" ") || "chart")}</title>`);
  out.push(`<defs><clipPath id="${prefix}-plot"><rect x="${f(plotLeft)}" y="${f(plotTop)}" width="${f(plotW)}" height="${f(plotH)}"/></clipPath></defs>`);
  out.push(`<rect class="paper" width="${f(W)}" height="${f(H)}" fill="${esc(paperBg)}"/>`);
  out.push(`<rect class="plot-area" x="${f(plotLeft)}" y="${f(plotTop)}" width="${f(plotW)}" height="${f(plotH)}" fill="${esc(plotBg)}"/>`);

  // Grid and zero lines.
  const grid: string[] = [];
  if (xAxis.showGrid) for (const t of xAxis.ticks) grid.push(`<line x1="${f(px(t.u))}" y1="${f(plotTop)}" x2="${f(px(t.u))}" y2="${f(plotBottom)}"/>`);
  if (yAxis.showGrid) for (const t of yAxis.ticks) grid.push(`<line x1="${f(plotLeft)}" y1="${f(py(t.u))}" x2="${f(plotRight)}" y2="${f(py(t.u))}"/>`);
  out.push(`<g class="grid" stroke="${GRID_COLOR}" stroke-width="1">${grid.join("")}</g>`);
  const zero: string[] = [];
  if (yKind === "linear" && yAxis.zeroLine && yAxis.lo < 0 && yAxis.hi > 0) zero.push(`<line x1="${f(plotLeft)}" y1="${f(py(0))}" x2="${f(plotRight)}" y2="${f(py(0))}"/>`);
  if (yKind === "linear" && yAxis.zeroLine && (yAxis.lo === 0 || Math.abs(yAxis.lo) < 1e-12)) zero.push(`<line x1="${f(plotLeft)}" y1="${f(plotBottom)}" x2="${f(plotRight)}" y2="${f(plotBottom)}"/>`);
  if (xKind === "linear" && xAxis.zeroLine && !bars.length && xAxis.lo < 0 && xAxis.hi > 0) zero.push(`<line x1="${f(px(0))}" y1="${f(plotTop)}" x2="${f(px(0))}" y2="${f(plotBottom)}"/>`);
  if (zero.length) out.push(`<g class="zeroline" stroke="#444" stroke-width="1">${zero.join("")}</g>`);

  // Traces: bars below lines and markers (as Plotly layers them), each trace one group.
  const traceGroups: string[] = [];
  bars.forEach((s, k) => {
    const parts = rects[k].map((r) => {
      const x0 = clampX(px(r.x0));
      const x1 = clampX(px(r.x1));
      const ya = clampY(pyValue(r.y0));
      const yb = clampY(pyValue(r.y1));
      const count = r.count !== null ? ` data-count="${r.count}"` : "";
      return `<rect class="bar" x="${f(Math.min(x0, x1))}" y="${f(Math.min(ya, yb))}" width="${f(Math.abs(x1 - x0))}" height="${f(Math.abs(yb - ya))}" fill="${esc(r.color)}"${count}/>`;
    });
    const op = s.opacity < 1 ? ` opacity="${f(s.opacity)}"` : "";
    traceGroups.push(`<g class="trace ${s.isHistogram ? "histogram" : "bar"}" data-trace="${s.index}" data-name="${esc(s.name)}"${op}>${parts.join("")}</g>`);
  });
  const placedText: Box[] = [];
  let previousScatter: Array<[number, number]> | null = null;
  for (const s of series) {
    if (s.kind !== "scatter") continue;
    const pts: Array<[number, number] | null> = s.xu.map((x, k) => (Number.isFinite(x) && Number.isFinite(s.yu[k]) ? [clampX(px(x)), clampY(py(s.yu[k]))] : null));
    const runs: Array<Array<[number, number]>> = [];
    let run: Array<[number, number]> = [];
    for (const p of pts) {
      if (p) run.push(p);
      else if (run.length) {
        runs.push(run);
        run = [];
      }
    }
    if (run.length) runs.push(run);
    const stepped = (r: Array<[number, number]>): Array<[number, number]> => {
      if (s.shape !== "hv" && s.shape !== "vh") return r;
      const outPts: Array<[number, number]> = [r[0]];
      for (let k = 1; k < r.length; k++) outPts.push(s.shape === "hv" ? [r[k][0], r[k - 1][1]] : [r[k - 1][0], r[k][1]], r[k]);
      return outPts;
    };
    const pathOf = (r: Array<[number, number]>) => r.map((p, k) => `${k ? "L" : "M"}${f(p[0])},${f(p[1])}`).join("");
    const parts: string[] = [];
    const all = runs.flat();
    if (s.fill !== "none" && all.length) {
      let d = "";
      if (s.fill === "tozeroy") {
        const base = yKind === "log" ? plotBottom : clampY(py(0));
        d = runs.map((r) => `${pathOf(stepped(r))}L${f(r[r.length - 1][0])},${f(base)}L${f(r[0][0])},${f(base)}Z`).join("");
      } else if (s.fill === "tozerox") {
        const base = xKind === "linear" ? clampX(px(0)) : plotLeft;
        d = runs.map((r) => `${pathOf(stepped(r))}L${f(base)},${f(r[r.length - 1][1])}L${f(base)},${f(r[0][1])}Z`).join("");
      } else if (s.fill === "toself") {
        d = `${pathOf(all)}Z`;
      } else if (s.fill === "tonexty") {
        const prev = previousScatter;
        d = prev && prev.length ? `${pathOf(all)}${prev.slice().reverse().map((p) => `L${f(p[0])},${f(p[1])}`).join("")}Z` : "";
        if (!prev) {
          const base = yKind === "log" ? plotBottom : clampY(py(0));
          d = `${pathOf(all)}L${f(all[all.length - 1][0])},${f(base)}L${f(all[0][0])},${f(base)}Z`;
        }
      } else {
        note(`(fill ${s.fill} not drawn in the static SVG)`);
      }
      if (d) parts.push(`<path class="fill" d="${d}" fill="${esc(s.fillColor)}" stroke="none"/>`);
    }
    if (s.lines && s.lineWidth > 0) {
      for (const r of runs) if (r.length > 1) parts.push(`<path class="line" d="${pathOf(stepped(r))}" fill="none"${strokeAttrs(s.lineColor, s.lineWidth, s.dash)} stroke-linejoin="round"/>`);
    }
    if (s.markers) {
      pts.forEach((p, k) => {
        if (p) parts.push(`<circle class="point" cx="${f(p[0])}" cy="${f(p[1])}" r="${f(s.markerSize / 2)}" fill="${esc(s.markerColors[k])}"/>`);
      });
    }
    if (s.text) {
      // Labels: the asked position first, else the first of the other sides and corners that
      // covers no other label and no marker of this trace, else the one that covers least.
      const r = s.markers ? s.markerSize / 2 : 0;
      const markerBoxes: Box[] = s.markers ? pts.filter((p): p is [number, number] => p !== null).map((p) => ({ x0: p[0] - r, y0: p[1] - r, x1: p[0] + r, y1: p[1] + r })) : [];
      const [vert, horiz] = (() => {
        const w = s.textPosition.split(/\s+/);
        return [w[0] ?? "middle", w[1] ?? "center"];
      })();
      pts.forEach((p, k) => {
        const label = s.text![k];
        if (!p || !label) return;
        const lines = textLines(label);
        const w = widest(lines, s.textSize);
        const h = lines.length * s.textSize * 1.2;
        const candidate = (v: string, hz: string): Box => {
          const x0 = hz === "left" ? p[0] - r - 3 - w : hz === "right" ? p[0] + r + 3 : p[0] - w / 2;
          const y0 = v === "top" ? p[1] - r - 2 - h : v === "bottom" ? p[1] + r + 2 : p[1] - h / 2;
          let bx = Math.max(plotLeft + 1, Math.min(plotRight - 1 - w, x0));
          if (w > plotW) bx = plotLeft;
          return { x0: bx, y0, x1: bx + w, y1: y0 + h };
        };
        const flip = vert === "top" ? "bottom" : "top";
        const options = [vert, flip].flatMap((v) => [candidate(v, horiz), candidate(v, "right"), candidate(v, "left")]);
        options.splice(3, 0, candidate("middle", "right"), candidate("middle", "left"));
        const cost = (b: Box) =>
          (b.y0 < plotTop || b.y1 > plotBottom ? 1e9 : 0) + [...placedText, ...markerBoxes].reduce((sum, o) => sum + overlapArea(o, b), 0);
        let box = options[0];
        for (const b of options) {
          if (cost(b) < cost(box)) box = b;
          if (cost(box) === 0) break;
        }
        placedText.push(box);
        parts.push(textElement(lines, box.x0, box.y0 + s.textSize * 0.95, ` class="point-label" fill="${esc(s.textColor)}" font-size="${f(s.textSize)}"${HALO}`, s.textSize * 1.2));
      });
    }
    const op = s.opacity < 1 ? ` opacity="${f(s.opacity)}"` : "";
    traceGroups.push(`<g class="trace scatter" data-trace="${s.index}" data-name="${esc(s.name)}"${op}>${parts.join("")}</g>`);
    previousScatter = all;
  }
  out.push(`<g class="traces" clip-path="url(#${prefix}-plot)">${traceGroups.join("")}</g>`);

  // Shapes (drawn above the traces, as Plotly's default layer): lines and rectangles.
  const shapeParts: string[] = [];
  const shapeX = (ref: unknown, v: unknown) => (ref === "paper" ? plotLeft + toNumber(v) * plotW : clampX(px(refUnits(xAxis, v))));
  const shapeY = (ref: unknown, v: unknown) => (ref === "paper" ? plotBottom - toNumber(v) * plotH : clampY(py(refUnits(yAxis, v))));
  for (const sh of shapes) {
    const type = str(sh.type, "rect");
    if (type !== "line" && type !== "rect") {
      note(`(shape type ${type} not drawn in the static SVG)`);
      continue;
    }
    const x0 = shapeX(sh.xref, sh.x0);
    const x1 = shapeX(sh.xref, sh.x1);
    const y0 = shapeY(sh.yref, sh.y0);
    const y1 = shapeY(sh.yref, sh.y1);
    if (![x0, x1, y0, y1].every(Number.isFinite)) continue;
    const line = dict(sh.line);
    const width = Math.max(0, num(line.width, 2));
    const stroke = width > 0 ? strokeAttrs(str(line.color, "#444"), width, line.dash) : ` stroke="none"`;
    const op = typeof sh.opacity === "number" && sh.opacity < 1 ? ` opacity="${f(Math.max(0, sh.opacity))}"` : "";
    if (type === "line") shapeParts.push(`<line class="shape" x1="${f(x0)}" y1="${f(y0)}" x2="${f(x1)}" y2="${f(y1)}"${stroke}${op}/>`);
    else {
      shapeParts.push(
        `<rect class="shape" x="${f(Math.min(x0, x1))}" y="${f(Math.min(y0, y1))}" width="${f(Math.abs(x1 - x0))}" height="${f(Math.abs(y1 - y0))}" fill="${esc(str(sh.fillcolor, "none"))}"${stroke}${op}/>`,
      );
    }
  }
  if (shapeParts.length) out.push(`<g class="shapes">${shapeParts.join("")}</g>`);

  // Axes: tick labels and titles.
  const axisParts: string[] = [];
  for (const t of yAxis.ticks) axisParts.push(`<text class="ytick" x="${f(plotLeft - 6)}" y="${f(py(t.u) + fs * 0.35)}" text-anchor="end">${esc(t.label)}</text>`);
  const labelTop = plotBottom + 6;
  for (const t of shownXTicks()) {
    const x = px(t.u);
    if (xAngle === 0) axisParts.push(`<text class="xtick" x="${f(x)}" y="${f(labelTop + fs * 0.85)}" text-anchor="middle">${esc(t.label)}</text>`);
    else {
      const y = labelTop + fs * 0.35;
      axisParts.push(`<text class="xtick" x="${f(x)}" y="${f(y)}" text-anchor="${xAngle < 0 ? "end" : "start"}" transform="rotate(${f(xAngle)} ${f(x)} ${f(y)})">${esc(t.label)}</text>`);
    }
  }
  const ext = xLabelExtent();
  if (xAxis.title) {
    axisParts.push(
      textElement(textLines(xAxis.title), plotLeft + plotW / 2, labelTop + ext.down + 6 + axisTitleSize * 0.9, ` class="axis-title" text-anchor="middle" font-size="${f(axisTitleSize)}"`, axisTitleSize * 1.2),
    );
  }
  if (yAxis.title) {
    const text = textLines(yAxis.title).join(" ");
    let size = axisTitleSize;
    while (size > 9 && textWidth(text, size) > plotH + 40) size--;
    const x = plotLeft - 8 - yLabelWidth() - 6 - axisTitleSize * 0.3;
    const y = Math.max(4 + textWidth(text, size) / 2, plotTop + plotH / 2);
    axisParts.push(`<text class="axis-title" x="${f(x)}" y="${f(y)}" text-anchor="middle" font-size="${f(size)}" transform="rotate(-90 ${f(x)} ${f(y)})">${esc(text)}</text>`);
  }
  out.push(`<g class="axes" fill="${esc(font.color)}">${axisParts.join("")}</g>`);

  // Annotations: text at data or paper coordinates; moved clear of each other when they touch.
  const annParts: string[] = [];
  const placedAnn: Box[] = [];
  for (const a of list(layout.annotations).map(dict)) {
    const text = typeof a.text === "string" || typeof a.text === "number" ? String(a.text) : "";
    if (!text || a.visible === false) continue;
    const ax = a.xref === "paper" ? plotLeft + toNumber(a.x ?? 0.5) * plotW : px(annotationUnits(xAxis, a.x));
    const ay = a.yref === "paper" ? plotBottom - toNumber(a.y ?? 0.5) * plotH : py(annotationUnits(yAxis, a.y));
    if (!Number.isFinite(ax) || !Number.isFinite(ay)) continue;
    // An annotation in data coordinates outside the axis ranges is hidden (as in Plotly, but
    // annotations do not widen the autorange here: one placed in data units on a log axis would
    // otherwise stretch it to 1e80).
    if (a.xref !== "paper" && (ax < plotLeft - 1 || ax > plotRight + 1)) continue;
    if (a.yref !== "paper" && (ay < plotTop - 1 || ay > plotBottom + 1)) continue;
    const afont = dict(a.font);
    const size = num(afont.size, fs);
    const color = str(afont.color, font.color);
    const lines = textLines(text);
    const w = widest(lines, size) + 2;
    const h = lines.length * size * 1.2 + 2;
    const arrow = a.showarrow !== false;
    // With an arrow the text sits at an offset (ax, ay pixels; Plotly's default -10, -30).
    const tx = arrow ? ax + num(a.ax, -10) : ax;
    const ty = arrow ? ay + num(a.ay, -30) : ay;
    const xanchor = str(a.xanchor, "auto");
    const yanchor = str(a.yanchor, "auto");
    let x0 = xanchor === "left" ? tx : xanchor === "right" ? tx - w : tx - w / 2;
    let y0 = yanchor === "top" ? ty : yanchor === "bottom" ? ty - h : arrow && num(a.ay, -30) < 0 ? ty - h : ty - h / 2;
    x0 = Math.max(2, Math.min(W - 2 - w, x0));
    const up = yanchor !== "top";
    for (let tries = 0; tries < placedAnn.length + 1; tries++) {
      const hit = placedAnn.find((o) => overlaps(o, { x0, y0, x1: x0 + w, y1: y0 + h }));
      if (!hit) break;
      y0 = up ? hit.y0 - h - 1 : hit.y1 + 1;
    }
    y0 = Math.max(2, Math.min(H - 2 - h, y0));
    placedAnn.push({ x0, y0, x1: x0 + w, y1: y0 + h });
    if (arrow) {
      const cx = Math.max(x0, Math.min(x0 + w, ax));
      const cy = ay < y0 ? y0 : ay > y0 + h ? y0 + h : y0 + h / 2;
      const ac = str(a.arrowcolor, color);
      const ang = Math.atan2(ay - cy, ax - cx);
      const head = (d: number) => `${f(ax - 7 * Math.cos(ang + d))},${f(ay - 7 * Math.sin(ang + d))}`;
      annParts.push(`<line x1="${f(cx)}" y1="${f(cy)}" x2="${f(ax)}" y2="${f(ay)}" stroke="${esc(ac)}" stroke-width="1"/><path d="M${f(ax)},${f(ay)}L${head(0.4)}L${head(-0.4)}Z" fill="${esc(ac)}"/>`);
    }
    annParts.push(textElement(lines, x0 + 1, y0 + 1 + size * 0.95, ` class="annotation" fill="${esc(color)}" font-size="${f(size)}"${HALO}`, size * 1.2));
  }
  if (annParts.length) out.push(`<g class="annotations">${annParts.join("")}</g>`);

  // Legend: to the right of the plot (as Plotly), or in rows below the x axis when too wide.
  if (legendEntries.length) {
    const parts: string[] = [];
    if (vertical) {
      const x = plotRight + 12;
      legendEntries.forEach((e, k) => {
        const y = plotTop + 4 + entryH * (k + 0.5);
        parts.push(legendSymbol(e, x, y) + `<text x="${f(x + 34)}" y="${f(y + fs * 0.35)}">${esc(e.name)}</text>`);
      });
    } else {
      const rows = legendRows();
      const y0 = H - 4 - rows * entryH;
      for (const { e, x, row } of hLegend) {
        const y = y0 + entryH * (row + 0.5);
        parts.push(legendSymbol(e, x, y) + `<text x="${f(x + 34)}" y="${f(y + fs * 0.35)}">${esc(e.name)}</text>`);
      }
    }
    out.push(`<g class="legend" fill="${esc(font.color)}">${parts.join("")}</g>`);
  }

  if (titleLines.length) {
    const tx = W * Math.max(0, Math.min(1, num(dict(titleIn).x, 0.5)));
    const anchor = tx < W * 0.2 ? "start" : tx > W * 0.8 ? "end" : "middle";
    const y = Math.max(titleSize, (top - (titleLines.length - 1) * titleSize * 1.25) / 2 + titleSize * 0.35);
    out.push(textElement(titleLines, tx, y, ` class="title" text-anchor="${anchor}" font-size="${f(titleSize)}" fill="${esc(str(titleFont.color, font.color))}"`, titleSize * 1.25));
  }

  // Notes: what could not be drawn, visibly, at the top left of the plot.
  notes.forEach((n, k) => {
    out.push(
      `<text class="note" x="${f(plotLeft + 6)}" y="${f(plotTop + 14 + k * (fs + 4))}" fill="${NOTE_COLOR}" font-style="italic"${HALO}>${esc(n)}</text>`,
    );
  });
  out.push("</svg>\n");
  return out.join("\n");
}

/** One static chart of a notebook: `id` is the chart's id in the exported HTML page. */
export interface NotebookChartSvg {
  /** `chart-<cell>-<output>` (1-based), as `exportNotebookHtml` numbers charts. */
  id: string;
  svg: string;
}

/**
 * One static SVG per chart output (Plotly MIME) of an executed notebook, in page order, each
 * with the id its chart has in the exported HTML page (`chart-<cell>-<output>`, also used as
 * the SVG's `idPrefix`, so every SVG of a page has unique ids).
 * @throws {TypeError} when `nb` is not a notebook, or a chart output is not a figure (naming the
 *   cell and output).
 * @example notebookChartSvgs(executedNotebook).map((c) => c.id) // => ["chart-8-1", "chart-12-1"]
 */
export function notebookChartSvgs(nb: Notebook, options: Omit<SvgChartOptions, "idPrefix"> = {}): NotebookChartSvg[] {
  if (!nb || typeof nb !== "object" || !Array.isArray(nb.cells)) {
    throw new TypeError(`nb must be a notebook with a cells array, got ${describeValue(nb)}`);
  }
  const charts: NotebookChartSvg[] = [];
  nb.cells.forEach((cell, ci) => {
    (cell?.outputs ?? []).forEach((o, oi) => {
      if (!o || o.output_type === "stream" || o.output_type === "error") return;
      const fig = o.data?.[PLOTLY_MIME];
      if (!fig) return;
      const id = chartElementId(ci, oi);
      try {
        charts.push({ id, svg: figureToSvg(fig as Figure, { ...options, idPrefix: id }) });
      } catch (e) {
        if (e instanceof TypeError || e instanceof RangeError) {
          const Err = e.constructor as new (m: string) => Error;
          throw new Err(`cell ${ci + 1}, output ${oi + 1}: ${e.message}`);
        }
        throw e;
      }
    });
  });
  return charts;
}

/**
 * A chart's static picture for HTML: the figure as SVG in an `<img>` with a data URI, which HTML
 * sanitizers keep (an untrusted notebook in Jupyter Notebook shows it), unlike inline `<svg>` or
 * scripts. Empty when the figure has something this renderer cannot draw.
 * @param id the chart's element id (prefixes the SVG's ids).
 * @example chartPicture(figure([{ type: "bar", y: [1] }], { title: "t" }), "c").startsWith('<img class="moe-lab-chart-static" alt="t"') // => true
 */
export function chartPicture(fig: Figure, id: string): string {
  if (typeof id !== "string" || !/^[A-Za-z][\w-]*$/.test(id)) throw new RangeError(`id must start with a letter and hold letters, digits, - or _, got ${describeValue(id)}`);
  let svg: string;
  try {
    svg = figureToSvg(fig, { idPrefix: `${id}-static` });
  } catch (e) {
    if (e instanceof TypeError) throw e;
    return "";
  }
  const title = (fig.layout?.title as { text?: unknown } | undefined)?.text;
  const alt = typeof title === "string" && title ? title : "chart";
  return `<img class="moe-lab-chart-static" alt="${escapeHtml(alt)}" style="max-width:100%" src="data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}">`;
}

/**
 * Outputs with each moe-lab chart's HTML rendering rebuilt to hold its static picture
 * (`chartPicture`); other outputs are returned as they are. moe-lab's runner applies this to the
 * notebooks it saves, so a shared notebook shows its charts where no script runs.
 * @throws {TypeError} when `outputs` is not an array.
 * @example withChartPictures([{ output_type: "stream", name: "stdout", text: "hi" }]).length // => 1
 */
export function withChartPictures(outputs: Output[]): Output[] {
  if (!Array.isArray(outputs)) throw new TypeError(`outputs must be an array of notebook outputs, got ${describeValue(outputs)}`);
  return outputs.map((o) => {
    if (o.output_type !== "display_data" && o.output_type !== "execute_result") return o;
    const fig = o.data?.[PLOTLY_MIME] as Figure | undefined;
    const html = o.data?.["text/html"];
    if (!fig || typeof html !== "string" || !html.includes('class="moe-lab-chart"')) return o;
    const id = /id="([A-Za-z][\w-]*)" class="moe-lab-chart"/.exec(html)?.[1] ?? figureId(fig);
    return { ...o, data: { ...o.data, "text/html": figureHtml(fig, id, chartPicture(fig, id)) } };
  });
}
