/**
 * Charts: plain Plotly figure objects (unit-testable data), and `show(figure)` to display one
 * inline in a tslab notebook.
 *
 * `show` emits ONE display output carrying three renderings of the same figure:
 * - `application/vnd.plotly.v1+json`: VS Code (and JupyterLab with jupyterlab-plotly) draw it;
 * - `text/html`: a div and a script calling `Plotly.newPlot` (JupyterLab, and moe-lab's HTML export);
 * - `text/plain`: a text summary for consoles and for front ends that run no JavaScript.
 * The first `show` in a kernel, and the first after a front end (re)connects, also emits plotly.js
 * itself (a loader output, tagged in its metadata so moe-lab's runner can drop it from saved
 * notebooks: exported pages inline it once).
 */
import { createHash } from "crypto";
import { readFileSync } from "fs";
import { deflateSync } from "zlib";
import { describeValue, requireInteger, requireNumber, requireNumberArray } from "./validate";
import { frontendConnects, tslabWriter } from "./display";

/** One Plotly trace: `{ type: "bar", x: [...], y: [...], name: "..." , ... }`. */
export type Trace = Record<string, unknown> & { type?: string; name?: string };
/** Plotly layout: `{ title: {text}, xaxis: {title: {text}}, shapes: [...], ... }`. */
export type Layout = Record<string, unknown>;

/** A Plotly figure: the data of a chart, with no behaviour. */
export interface Figure {
  data: Trace[];
  layout: Layout;
}

/** The MIME type of a Plotly figure output. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Metadata key marking moe-lab's plotly.js loader output (dropped from saved notebooks). */
export const LOADER_METADATA_KEY = "moe_lab_plotly_loader";

const BASE_LAYOUT: Layout = {
  template: undefined,
  margin: { l: 60, r: 20, t: 50, b: 50 },
  font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 13 },
  height: 380,
};

/** Colours used across moe-lab's charts, so the same idea has the same colour everywhere. */
export const COLORS = {
  base: "#4C78A8",
  hot: "#E45756",
  eplb: "#54A24B",
  mean: "#333333",
  cap: "#F58518",
  muted: "#9D9D9D",
  series: ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D"],
} as const;

function axisTitle(text: string | undefined): Record<string, unknown> | undefined {
  return text === undefined ? undefined : { title: { text } };
}

/** Options shared by the figure builders. */
export interface FigureOptions {
  title: string;
  xTitle?: string;
  yTitle?: string;
  /** Extra layout keys merged last (e.g. `{ barmode: "group" }`). */
  layout?: Layout;
}

/**
 * Builds a figure from traces and options. All builders below go through it.
 * @throws {TypeError} when `traces` is not an array or `title` is not a string.
 * @example figure([{ type: "bar", x: [1], y: [2] }], { title: "t" }).layout.title // => { text: "t" }
 */
export function figure(traces: Trace[], options: FigureOptions): Figure {
  if (!Array.isArray(traces)) throw new TypeError(`traces must be an array of Plotly traces, got ${describeValue(traces)}`);
  if (typeof options?.title !== "string") {
    throw new TypeError(`options.title must be a string, got ${describeValue(options?.title)}`);
  }
  const layout: Layout = {
    ...BASE_LAYOUT,
    title: { text: options.title },
    xaxis: axisTitle(options.xTitle),
    yaxis: axisTitle(options.yTitle),
    ...(options.layout ?? {}),
  };
  for (const k of Object.keys(layout)) if (layout[k] === undefined) delete layout[k];
  return { data: traces.map((t) => ({ ...t })), layout };
}

/** A horizontal dashed reference line across the plot (mean, cap...), as a layout shape. */
export function horizontalLine(y: number, color: string, label: string): { shape: Record<string, unknown>; annotation: Record<string, unknown> } {
  return {
    shape: { type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { color, width: 2, dash: "dash" } },
    annotation: { xref: "paper", x: 1, y, xanchor: "right", yanchor: "bottom", text: label, showarrow: false, font: { color } },
  };
}

/** A vertical dashed reference line, as a layout shape with its label. */
export function verticalLine(x: number, color: string, label: string): { shape: Record<string, unknown>; annotation: Record<string, unknown> } {
  return {
    shape: { type: "line", yref: "paper", y0: 0, y1: 1, x0: x, x1: x, line: { color, width: 2, dash: "dash" } },
    annotation: { yref: "paper", y: 1, x, xanchor: "left", yanchor: "top", text: label, showarrow: false, font: { color } },
  };
}

/**
 * Adds reference lines (from `horizontalLine`/`verticalLine`) to a figure, returning a new figure.
 * Plotly places shapes in data units but annotations on a log axis in log10 units, so a label on a
 * log axis is moved to log10 of its value (else it lands at 10^value and stretches the axis).
 * @throws {TypeError} when `fig` is not a figure or `lines` not an array.
 * @example withLines(figure([], { title: "t", layout: { yaxis: { type: "log" } } }), [horizontalLine(100, "red", "cap")]).layout.annotations[0].y // => 2
 */
export function withLines(fig: Figure, lines: Array<{ shape: Record<string, unknown>; annotation: Record<string, unknown> }>): Figure {
  if (!fig || !Array.isArray(fig.data) || typeof fig.layout !== "object") throw new TypeError(`fig must be a Plotly figure {data, layout}, got ${describeValue(fig)}`);
  if (!Array.isArray(lines)) throw new TypeError(`lines must be an array of horizontalLine/verticalLine results, got ${describeValue(lines)}`);
  const isLog = (axis: "xaxis" | "yaxis"): boolean => (fig.layout[axis] as { type?: string } | undefined)?.type === "log";
  const place = (a: Record<string, unknown>): Record<string, unknown> => {
    if (a.xref === "paper" && isLog("yaxis") && typeof a.y === "number") return { ...a, y: Math.log10(a.y) };
    if (a.yref === "paper" && isLog("xaxis") && typeof a.x === "number") return { ...a, x: Math.log10(a.x) };
    return a;
  };
  const shapes = [...((fig.layout.shapes as unknown[]) ?? []), ...lines.map((l) => l.shape)];
  const annotations = [...((fig.layout.annotations as unknown[]) ?? []), ...lines.map((l) => place(l.annotation))];
  return { data: fig.data, layout: { ...fig.layout, shapes, annotations } };
}

/**
 * A one-line-per-trace text summary of a figure: the `text/plain` rendering.
 * @example figureSummary(figure([{ type: "bar", name: "load", y: [1, 5] }], { title: "Loads" }))
 * // => "[chart] Loads\n  load (bar): 2 points, y from 1 to 5"
 */
export function figureSummary(fig: Figure): string {
  const title = (fig.layout.title as { text?: string } | undefined)?.text ?? "(untitled)";
  const lines = [`[chart] ${title}`];
  fig.data.forEach((t, i) => {
    const ys = (Array.isArray(t.y) ? t.y : Array.isArray(t.x) ? t.x : []) as unknown[];
    const nums = ys.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    let range = "";
    if (nums.length) {
      let lo = nums[0];
      let hi = nums[0];
      for (const v of nums) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      range = `, ${Array.isArray(t.y) ? "y" : "x"} from ${+lo.toPrecision(6)} to ${+hi.toPrecision(6)}`;
    }
    lines.push(`  ${t.name ?? `trace ${i}`} (${t.type ?? "scatter"}): ${ys.length} points${range}`);
  });
  return lines.join("\n");
}

/** A short, stable id for a figure (hash of its JSON): deterministic outputs, no counters. */
export function figureId(fig: Figure): string {
  return "moe-lab-chart-" + createHash("sha1").update(JSON.stringify(fig)).digest("hex").slice(0, 12);
}

/** Escapes `</` so JSON can sit inside a `<script>` element without closing it. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * The `text/html` rendering: a div and a script that draws the interactive chart into it once
 * plotly.js is in the page. `picture` (HTML, e.g. `chartPicture` from ./svg-chart) is shown in the
 * div until then, and stays where no script runs (an untrusted notebook, a viewer) or plotly.js
 * never arrives (a saved notebook whose loader output was dropped), with a note saying why.
 * moe-lab's runner adds the picture to the notebooks it saves; `show` leaves it out, so a kernel
 * does not have to compile the SVG renderer.
 */
export function figureHtml(fig: Figure, id = figureId(fig), picture = ""): string {
  if (typeof picture !== "string") throw new TypeError(`picture must be an HTML string, got ${describeValue(picture)}`);
  return (
    `<div id="${id}" class="moe-lab-chart" style="width:100%;min-height:${Number(fig.layout.height) || 380}px">${picture}</div>\n` +
    `<script>(function(){var f=${jsonForScript(fig)};` +
    `function draw(){var el=document.getElementById("${id}");el.innerHTML="";window.Plotly.newPlot(el,f.data,f.layout,{responsive:true,displaylogo:false});}` +
    `if(window.Plotly){draw();}else{var n=0,t=setInterval(function(){if(window.Plotly){clearInterval(t);draw();}else if(++n>100){clearInterval(t);` +
    `var el=document.getElementById("${id}"),note=document.createElement("div");note.style.cssText="font-size:smaller;color:#666";` +
    `note.textContent=el.querySelector("img")?"(static picture: plotly.js is not loaded in this page)":"(interactive chart: plotly.js is not loaded in this page)";el.appendChild(note);}},100);}})();</script>`
  );
}

/** The three renderings of a figure, keyed by MIME type: what `show` displays. */
export function figureBundle(fig: Figure): Record<string, unknown> {
  return {
    [PLOTLY_MIME]: { data: fig.data, layout: fig.layout },
    "text/html": figureHtml(fig),
    "text/plain": figureSummary(fig),
  };
}

/** plotly.min.js as text, read from the installed plotly.js-dist-min package. */
export function plotlyScript(): string {
  return readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
}

/**
 * The `<script>` that puts plotly.js in a page or a notebook output: plotly.min.js deflated and
 * base64-encoded (4.8 MB becomes about 2 MB), inflated in the browser with `DecompressionStream`
 * and run. It defines `moeLabDraw(id, data, layout)`, which an exported page's charts call; they
 * draw once plotly.js is in (a notebook's charts wait for `window.Plotly` themselves). With
 * `pageFallback` (exported pages), a browser that cannot inflate it (no `DecompressionStream`:
 * browsers before 2023) shows every chart's static SVG instead (the copy in its
 * `<noscript class="chart-fallback">`) and hides the interactive boxes (`div.chart`).
 * Deflating takes about 0.15 s: compute it once per run.
 * @param plotlyJs the plotly.min.js source.
 * @throws {TypeError} when `plotlyJs` is not a string.
 * @example plotlyLoaderScript("/* js *\/").startsWith("<script>") // => true
 */
export function plotlyLoaderScript(plotlyJs: string, options: { pageFallback?: boolean } = {}): string {
  if (typeof plotlyJs !== "string") throw new TypeError(`plotlyJs must be the plotly.min.js source as a string, got ${describeValue(plotlyJs)}`);
  if (typeof options !== "object" || options === null) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const payload = deflateSync(Buffer.from(plotlyJs, "utf8"), { level: 9 }).toString("base64");
  const fallback = options.pageFallback
    ? 'function fallback(){if(document.readyState==="loading"){document.addEventListener("DOMContentLoaded",fallback);return;}' +
      'document.querySelectorAll("noscript.chart-fallback").forEach(function(n){n.insertAdjacentHTML("afterend",n.textContent);});' +
      'document.querySelectorAll("div.chart").forEach(function(d){d.style.display="none";});}'
    : "function fallback(){}";
  return (
    "<script>(function(){" +
    fallback +
    "var ready;try{" +
    `var b=atob("${payload}"),u=new Uint8Array(b.length);for(var i=0;i<b.length;i++)u[i]=b.charCodeAt(i);` +
    'ready=new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream("deflate"))).text().then(function(js){' +
    'var s=document.createElement("script");s.textContent=js;document.head.appendChild(s);if(!window.Plotly)throw new Error("plotly.js did not load");});' +
    "}catch(e){ready=Promise.reject(e);}" +
    'ready.catch(function(e){console.warn("moe-lab: plotly.js could not be loaded, charts stay static:",e);fallback();});' +
    "window.moeLabDraw=function(id,data,layout){ready.then(function(){window.Plotly.newPlot(id,data,layout,{responsive:true,displaylogo:false});},function(){});};" +
    "})();</script>"
  );
}

/**
 * Displays a figure inline in a tslab notebook (one output, three MIME types). Outside a
 * notebook (plain Node), prints the text summary instead.
 * @throws {TypeError} when `fig` is not a figure.
 */
export function show(fig: Figure): void {
  if (!fig || !Array.isArray(fig.data) || typeof fig.layout !== "object") {
    throw new TypeError(`fig must be a Plotly figure {data, layout}, got ${describeValue(fig)}`);
  }
  const write = tslabWriter();
  if (!write) {
    console.log(figureSummary(fig));
    return;
  }
  // Kernel-wide (not module) state: plotly.js is sent once per kernel and front-end connection
  // (a page reloaded while the kernel runs has lost it; see frontendConnects).
  const g = globalThis as { __moeLabPlotlySentAt?: number };
  const connects = frontendConnects();
  if (g.__moeLabPlotlySentAt !== connects) {
    g.__moeLabPlotlySentAt = connects;
    write(
      {
        data: { "text/html": plotlyLoaderScript(plotlyScript()) },
        metadata: { [LOADER_METADATA_KEY]: true },
        transient: {},
      },
      false,
    );
  }
  write({ data: figureBundle(fig), metadata: {}, transient: {} }, false);
}

/** Options of `expertLoadFigure`. */
export interface ExpertLoadFigureOptions {
  title: string;
  /** Experts 0..hotExperts-1 are drawn in the "hot" colour. Default 0 (none). */
  hotExperts?: number;
  /** Draws a dashed line at the mean load when given. */
  meanLoad?: number;
  /** Draws a dashed line at the cap when given. */
  cap?: number;
  /** Name of the bar trace. Default "load". */
  name?: string;
  yTitle?: string;
}

/**
 * A bar chart of per-expert loads, hot experts highlighted, with optional mean and cap lines.
 * Used by notebooks 01 (baseline skew) and 03 (EPLB).
 * @throws {TypeError|RangeError} on a bad load vector.
 * @example expertLoadFigure([3, 1], { title: "t", hotExperts: 1 }).data[0].marker // => { color: ["#E45756", "#4C78A8"] }
 */
export function expertLoadFigure(loads: ArrayLike<number>, options: ExpertLoadFigureOptions): Figure {
  const ys = Array.from(requireNumberArray("loads", loads, { min: 0 }));
  const hot = requireInteger("hotExperts", options.hotExperts ?? 0, { min: 0, max: ys.length });
  const lines = [];
  if (options.meanLoad !== undefined) lines.push(horizontalLine(requireNumber("meanLoad", options.meanLoad), COLORS.mean, `mean ${+options.meanLoad.toFixed(1)}`));
  if (options.cap !== undefined) lines.push(horizontalLine(requireNumber("cap", options.cap), COLORS.cap, `cap ${+options.cap.toFixed(1)}`));
  const fig = figure(
    [
      {
        type: "bar",
        name: options.name ?? "load",
        x: ys.map((_, i) => i),
        y: ys,
        marker: { color: ys.map((_, i) => (i < hot ? COLORS.hot : COLORS.base)) },
        hovertemplate: "expert %{x}: %{y} tokens<extra></extra>",
      },
    ],
    { title: options.title, xTitle: "expert", yTitle: options.yTitle ?? "tokens", layout: { bargap: 0.1, showlegend: false } },
  );
  return lines.length ? withLines(fig, lines) : fig;
}

/**
 * The id of a chart in an exported page, from its 0-based cell and output positions:
 * `chart-<cell>-<output>`, both 1-based. Exported pages (./export-html) and static SVGs (./svg-chart) use these ids.
 * @throws {RangeError} when a position is not an integer >= 0.
 * @example chartElementId(3, 0) // => "chart-4-1"
 */
export function chartElementId(cellIndex: number, outputIndex: number): string {
  for (const [name, v] of [["cellIndex", cellIndex], ["outputIndex", outputIndex]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be an integer >= 0, got ${describeValue(v)}`);
  }
  return `chart-${cellIndex + 1}-${outputIndex + 1}`;
}
