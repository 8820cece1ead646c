import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chartPicture, figureToSvg, notebookChartSvgs, withChartPictures } from "../lib/svg-chart";
import { figure, expertLoadFigure, withLines, verticalLine, Figure, PLOTLY_MIME, figureBundle, figureHtml, figureId } from "../lib/charts";
import { exportNotebookHtml } from "../lib/export-html";
import { Notebook, serializeNotebook } from "../lib/notebook";
import { repoRoot } from "../lib/paths";
import { runCli } from "./helpers";

/** Checks that every tag is closed in order and no raw `<` or bare `&` is left in text. */
function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith("<svg "), "starts with <svg");
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(svg)) !== null) {
    const between = svg.slice(last, m.index);
    assert.doesNotMatch(between, /[<>]/, `stray markup before offset ${m.index}: ${JSON.stringify(between.slice(0, 80))}`);
    assert.doesNotMatch(between, /&(?!(amp|lt|gt|quot|#39);)/, "a bare & in text");
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the open element`);
    else if (!selfClosing) stack.push(name);
  }
  assert.equal(svg.slice(last).trim(), "", "nothing after the last tag");
  assert.deepEqual(stack, [], "every element is closed");
}

/** Attributes of one element's start tag. */
function attrs(element: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of element.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

/** The trace groups, in drawing order, with their bars and points. */
function traceGroups(svg: string): Array<{ attrs: Record<string, string>; bars: Array<Record<string, number>>; points: number }> {
  return [...svg.matchAll(/<g class="trace [^"]*"[^>]*>(.*?)<\/g>/g)].map((m) => ({
    attrs: attrs(m[0].slice(0, m[0].indexOf(">"))),
    bars: [...m[1].matchAll(/<rect class="bar"[^>]*\/>/g)].map((r) => {
      const a = attrs(r[0]);
      return { x: +a.x, y: +a.y, width: +a.width, height: +a.height, count: a["data-count"] === undefined ? NaN : +a["data-count"] };
    }),
    points: [...m[1].matchAll(/<circle class="point"/g)].length,
  }));
}

function tickLabels(svg: string, axis: "x" | "y"): Array<{ label: string; pos: number }> {
  return [...svg.matchAll(new RegExp(`<text class="${axis}tick" x="([^"]*)" y="([^"]*)"[^>]*>([^<]*)</text>`, "g"))].map((m) => ({
    label: m[3],
    pos: axis === "x" ? +m[1] : +m[2],
  }));
}

const MIXED: Figure = withLines(
  figure(
    [
      { type: "bar", name: "load", x: ["a", "b", "c", "d"], y: [4, 1, 3, 2], marker: { color: ["#E45756", "#4C78A8", "#4C78A8", "#4C78A8"] } },
      { type: "scatter", mode: "lines+markers", name: "trend", x: ["a", "b", "c", "d", "a"], y: [3, 2, 2.5, 2, 1], line: { dash: "dash", width: 3 } },
      { type: "scatter", mode: "markers", name: "dots", x: ["a", "b", "c"], y: [1, 1, 1] },
    ],
    { title: "Mixed", xTitle: "expert", yTitle: "tokens" },
  ),
  [],
);

test("figureToSvg: well-formed SVG; one group per trace with one bar or point per value", () => {
  const svg = figureToSvg(MIXED);
  assertWellFormed(svg);
  const groups = traceGroups(svg);
  assert.equal(groups.length, 3);
  assert.deepEqual(groups.map((g) => g.attrs["data-name"]), ["load", "trend", "dots"]);
  assert.deepEqual(groups.map((g) => g.bars.length), [4, 0, 0]);
  assert.deepEqual(groups.map((g) => g.points), [0, 5, 3]);
  assert.match(svg, /<path class="line"[^>]*stroke-dasharray="9,9"/, "dash scaled by width as Plotly does");
  const bars = groups[0].bars;
  assert.ok(bars[0].height > bars[2].height && bars[2].height > bars[3].height && bars[3].height > bars[1].height, "heights follow the values");
  assert.match(svg, /<rect class="bar"[^>]*fill="#E45756"/, "per-bar colours");
  assert.match(svg, /<g class="legend"/, "two or more traces: a legend");
  for (const name of ["load", "trend", "dots", "Mixed", "expert", "tokens"]) assert.ok(svg.includes(`>${name}<`), name);
});

test("figureToSvg: bars stay inside the plot area", () => {
  const svg = figureToSvg(expertLoadFigure([5, 1, 1, 1, 0, 2], { title: "L", hotExperts: 1, meanLoad: 2, cap: 2.4 }));
  const clip = attrs(/<clipPath[^>]*><rect[^>]*\/>/.exec(svg)![0].replace(/^<clipPath[^>]*>/, ""));
  for (const b of traceGroups(svg)[0].bars) {
    assert.ok(b.x >= +clip.x - 0.01 && b.x + b.width <= +clip.x + +clip.width + 0.01, `bar x ${b.x} inside`);
    assert.ok(b.y >= +clip.y - 0.01 && b.y + b.height <= +clip.y + +clip.height + 0.01, `bar y ${b.y} inside`);
  }
});

test("figureToSvg: log axes tick at decades, evenly spaced, labelled compactly", () => {
  const xs = [1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000];
  const svg = figureToSvg(figure([{ type: "scatter", mode: "lines", x: xs, y: xs.map((x) => 2 * x) }], { title: "log", layout: { xaxis: { type: "log" }, yaxis: { type: "log" } } }));
  assertWellFormed(svg);
  const x = tickLabels(svg, "x");
  assert.deepEqual(x.map((t) => t.label), ["1", "10", "100", "1k", "10k", "100k"]);
  const gaps = x.slice(1).map((t, i) => t.pos - x[i].pos);
  for (const g of gaps) assert.ok(Math.abs(g - gaps[0]) < 0.05, "decades are evenly spaced");
  const y = tickLabels(svg, "y").map((t) => t.label);
  for (const l of y) assert.match(l, /^(1|10|100)k?$/, `y tick ${l} is a decade`);
  assert.ok(y.length >= 3);
});

test("figureToSvg: linear ticks are 1-2-5 steps with compact labels", () => {
  const svg = figureToSvg(figure([{ type: "bar", x: ["a", "b"], y: [12000, 3000] }], { title: "k" }));
  const y = tickLabels(svg, "y").map((t) => t.label);
  assert.ok(y.includes("10k"), y.join(" "));
  assert.equal(y[0], "0");
  const values = y.map((l) => (l.endsWith("k") ? 1000 * Number(l.slice(0, -1)) : Number(l)));
  const step = values[1] - values[0];
  assert.ok([1000, 2000, 5000].includes(step), `step ${step}`);
  values.forEach((v, i) => assert.equal(v, i * step));
  const small = tickLabels(figureToSvg(figure([{ type: "scatter", x: [0, 1], y: [0, 3] }], { title: "s" })), "y").map((t) => t.label);
  assert.deepEqual(small, ["0", "0.5", "1", "1.5", "2", "2.5", "3"]);
  const tenths = tickLabels(figureToSvg(figure([{ type: "scatter", x: [0, 1], y: [0, 1] }], { title: "s" })), "y").map((t) => t.label);
  for (const l of tenths) assert.match(l, /^(0|1|0\.\d)$/, "no float noise in labels");
});

test("figureToSvg: stacked bars share x and sit on top of each other; grouped bars sit side by side", () => {
  const traces = [
    { type: "bar", name: "attention", x: ["EP8", "EP16"], y: [1, 2] },
    { type: "bar", name: "experts", x: ["EP8", "EP16"], y: [3, 4] },
  ];
  const stacked = traceGroups(figureToSvg(figure(traces, { title: "s", layout: { barmode: "stack" } })));
  const grouped = traceGroups(figureToSvg(figure(traces, { title: "g", layout: { barmode: "group" } })));
  for (let i = 0; i < 2; i++) {
    const [low, high] = [stacked[0].bars[i], stacked[1].bars[i]];
    assert.equal(low.x, high.x);
    assert.equal(low.width, high.width);
    assert.ok(Math.abs(high.y + high.height - low.y) < 0.02, "the upper bar starts where the lower one ends");
    const [a, b] = [grouped[0].bars[i], grouped[1].bars[i]];
    assert.ok(Math.abs(a.x + a.width - b.x) < 0.02, "grouped: side by side");
    assert.ok(Math.abs(a.width - low.width / 2) < 0.02, "grouped bars are half as wide");
    assert.ok(Math.abs(a.y + a.height - (b.y + b.height)) < 0.02, "grouped: same baseline");
  }
  // The total height of a stack is proportional to the total value.
  const total = (i: number) => stacked[0].bars[i].height + stacked[1].bars[i].height;
  assert.ok(Math.abs(total(1) / total(0) - 6 / 4) < 0.01);
});

test("figureToSvg: histogram bins count every value once", () => {
  const values = Array.from({ length: 200 }, (_, i) => 4 + Math.sin(i * 12.9898) * 0.3);
  const svg = figureToSvg(figure([{ type: "histogram", x: values, nbinsx: 30, name: "seeds" }], { title: "h" }));
  assertWellFormed(svg);
  const [g] = traceGroups(svg);
  assert.equal(g.attrs.class, "trace histogram");
  const counts = g.bars.map((b) => b.count);
  assert.equal(counts.reduce((a, b) => a + b, 0), 200);
  assert.ok(counts.length >= 10 && counts.length <= 40, `${counts.length} bins`);
  const perCount = g.bars.filter((b) => b.count > 0).map((b) => b.height / b.count);
  for (const r of perCount) assert.ok(Math.abs(r - perCount[0]) < 0.01, "height proportional to count");
  for (let i = 1; i < g.bars.length; i++) assert.ok(Math.abs(g.bars[i].x - (g.bars[i - 1].x + g.bars[i - 1].width)) < 0.02, "bins touch");
});

test("figureToSvg: reference lines (shapes) and their labels (annotations) are drawn", () => {
  const fig = withLines(expertLoadFigure([5, 1, 1, 1], { title: "L", hotExperts: 1, meanLoad: 2, cap: 2.1 }), [verticalLine(1.5, "#333", "here")]);
  const svg = figureToSvg(fig);
  assertWellFormed(svg);
  const shapes = [...svg.matchAll(/<line class="shape"[^>]*\/>/g)].map((m) => attrs(m[0]));
  assert.equal(shapes.length, 3);
  for (const s of shapes) assert.ok(s["stroke-dasharray"], "dashed");
  const [mean, cap, vertical] = shapes;
  assert.equal(mean.y1, mean.y2, "horizontal");
  assert.ok(+cap.y1 < +mean.y1, "the cap (2.1) is above the mean (2)");
  assert.equal(vertical.x1, vertical.x2, "vertical");
  const labels = [...svg.matchAll(/<text class="annotation"[^>]*>([^<]*)<\/text>/g)].map((m) => ({ text: m[1], y: +attrs(m[0]).y }));
  assert.deepEqual(labels.map((l) => l.text), ["mean 2", "cap 2.1", "here"]);
  // The two labels of lines 0.1 apart would overlap: the second is moved clear of the first.
  assert.ok(Math.abs(labels[0].y - labels[1].y) >= 13 * 1.2, `mean and cap labels do not overlap (${labels[0].y}, ${labels[1].y})`);
});

test("figureToSvg: text is escaped; ids derive from idPrefix; same figure, same bytes", () => {
  const fig = figure([{ type: "bar", name: '"q" <b> & co', x: ["<x>", "y&z"], y: [1, 2] }, { type: "bar", name: "second", y: [2, 1] }], {
    title: "<script>alert(1)</script> & more",
    xTitle: "a < b",
  });
  const svg = figureToSvg(fig, { idPrefix: "chart-4-1" });
  assertWellFormed(svg);
  assert.ok(!svg.includes("<script"), "no raw script tag");
  assert.ok(svg.includes("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
  assert.ok(svg.includes("&quot;q&quot; &lt;b&gt; &amp; co"));
  assert.ok(svg.includes(">&lt;x&gt;<") && svg.includes(">y&amp;z<"), "category labels escaped");
  const ids = [...svg.matchAll(/ id="([^"]*)"/g)].map((m) => m[1]);
  assert.ok(ids.length >= 2);
  for (const id of ids) assert.ok(id.startsWith("chart-4-1-"), id);
  for (const m of svg.matchAll(/url\(#([^)]*)\)/g)) assert.ok(ids.includes(m[1]), `url(#${m[1]}) refers to an id in the SVG`);
  assert.equal(figureToSvg(fig, { idPrefix: "chart-4-1" }), svg);
  assert.equal(figureToSvg(JSON.parse(JSON.stringify(fig)) as Figure, { idPrefix: "chart-4-1" }), svg, "a JSON round trip gives the same bytes");
  assert.ok(figureToSvg(fig).includes('id="chart-plot"'), "default prefix");
  assert.match(figureToSvg(fig, { width: 600, height: 300 }), /^<svg [^>]*width="600" height="300" viewBox="0 0 600 300"/);
});

test("figureToSvg: fills under and between lines; bars from their base", () => {
  const svg = figureToSvg(
    figure(
      [
        { type: "scatter", mode: "lines", x: [0, 1, 2], y: [1, 2, 1], fill: "tozeroy" },
        { type: "scatter", mode: "lines", x: [0, 1, 2], y: [2, 3, 2], fill: "tonexty", fillcolor: "#abcdef" },
      ],
      { title: "fills" },
    ),
  );
  assertWellFormed(svg);
  const fills = [...svg.matchAll(/<path class="fill" d="([^"]*)" fill="([^"]*)"/g)];
  assert.equal(fills.length, 2);
  assert.equal(fills[0][2], "rgba(31,119,180,0.5)", "default fill: the trace colour at half opacity");
  assert.equal(fills[1][2], "#abcdef");
  const lines = [...svg.matchAll(/<path class="line" d="([^"]*)"/g)].map((m) => m[1]);
  const firstLine = lines[0].slice(1).split("L").reverse().join("L");
  assert.ok(fills[1][1].includes(firstLine), "tonexty closes along the previous trace, reversed");
  const zeroY = attrs(/<text class="ytick"[^>]*>0<\/text>/.exec(svg)![0]).y;
  assert.ok(fills[0][1].includes(`,${Math.round((+zeroY - 13 * 0.35) * 100) / 100}L`), "tozeroy reaches y = 0");

  const based = traceGroups(figureToSvg(figure([{ type: "bar", x: ["a", "b"], y: [1, 1], base: [1, 2] }], { title: "b" })))[0].bars;
  assert.ok(Math.abs(based[0].height - based[1].height) < 0.02, "same value, same height");
  assert.ok(Math.abs(based[0].y - based[1].y - based[0].height) < 0.02, "the second bar starts one value higher");
});

test("figureToSvg: an unknown trace type is named in a visible note, the rest is drawn", () => {
  const svg = figureToSvg(figure([{ type: "heatmap", z: [[1, 2]] }, { type: "bar", y: [1, 2] }], { title: "t" }));
  assertWellFormed(svg);
  assert.match(svg, /<text class="note"[^>]*>\(trace type heatmap not drawn in the static SVG\)<\/text>/);
  assert.equal(traceGroups(svg).length, 1);
  assert.equal(traceGroups(svg)[0].bars.length, 2);
});

test("figureToSvg: bad input is refused with the parameter, its value and what is allowed", () => {
  const fig = figure([{ type: "bar", y: [1] }], { title: "t" });
  assert.throws(() => figureToSvg(null as never), { name: "TypeError", message: /^fig must be a Plotly figure .*got null/ });
  assert.throws(() => figureToSvg({ data: "x" } as never), { name: "TypeError", message: /^fig must be a Plotly figure/ });
  assert.throws(() => figureToSvg({ data: [], layout: [] } as never), { name: "TypeError", message: /^fig.layout must be an object, got an array/ });
  assert.throws(() => figureToSvg(fig, { width: 0 }), { name: "RangeError", message: /^options.width must be a finite number of pixels >= 100 and <= 10000, got 0$/ });
  assert.throws(() => figureToSvg(fig, { width: -5 }), { name: "RangeError", message: /got -5/ });
  assert.throws(() => figureToSvg(fig, { height: NaN }), { name: "RangeError", message: /^options.height .* got NaN/ });
  assert.throws(() => figureToSvg(fig, { width: "900" as never }), { name: "TypeError", message: /^options.width must be a number of pixels, got "900"/ });
  assert.throws(() => figureToSvg(fig, { idPrefix: "1a" }), { name: "RangeError", message: /^options.idPrefix must be a letter .*got "1a"/ });
  assert.throws(() => figureToSvg(fig, { idPrefix: 3 as never }), { name: "TypeError", message: /^options.idPrefix must be a string, got 3/ });
  assert.throws(() => notebookChartSvgs({} as never), { name: "TypeError", message: /^nb must be a notebook with a cells array, got an object/ });
});

function chartOutput(fig: Figure): NonNullable<Notebook["cells"][number]["outputs"]>[number] {
  return { output_type: "display_data", data: { [PLOTLY_MIME]: fig, "text/plain": "[chart]" }, metadata: {} };
}

test("notebookChartSvgs: one SVG per chart output, with the chart ids of the HTML export", () => {
  const fig = figure([{ type: "bar", y: [1, 2] }], { title: "t" });
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: "markdown", source: "# T\n\nPurpose.", metadata: {} },
      { cell_type: "code", source: "", metadata: {}, execution_count: 1, outputs: [{ output_type: "stream", name: "stdout", text: "hi\n" }, chartOutput(fig)] },
      { cell_type: "code", source: "", metadata: {}, execution_count: 2, outputs: [{ output_type: "display_data", data: { "text/plain": "x" }, metadata: {} }, chartOutput(fig), chartOutput(fig)] },
    ],
  };
  const charts = notebookChartSvgs(nb);
  assert.deepEqual(charts.map((c) => c.id), ["chart-2-2", "chart-3-2", "chart-3-3"]);
  const page = exportNotebookHtml(nb, { plotlyLoader: "", version: "0", fileName: "t.ipynb" });
  for (const c of charts) {
    assert.ok(page.html.includes(`id="${c.id}"`), `${c.id} is a chart id in the page`);
    assert.ok(c.svg.includes(`id="${c.id}-plot"`), "the chart id prefixes the SVG's ids");
    assertWellFormed(c.svg);
  }
  assert.equal(page.charts, charts.length);
  const broken = { ...nb, cells: [nb.cells[0], { ...nb.cells[1], outputs: [chartOutput({ data: 5 } as never)] }] };
  assert.throws(() => notebookChartSvgs(broken), { name: "TypeError", message: /^cell 2, output 1: fig must be a Plotly figure/ });
});

test("moe-lab run --svg: writes one SVG per chart; --check compares them", () => {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-svg-"));
  symlinkSync(join(repoRoot(), "lib"), join(dir, "lib"));
  symlinkSync(join(repoRoot(), "node_modules"), join(dir, "node_modules"));
  const code = [
    'import { figure, show } from "./lib/charts";',
    'show(figure([{ type: "bar", x: ["a", "b"], y: [1, 2] }], { title: "One" }));',
    'show(figure([{ type: "scatter", mode: "lines", y: [3, 1, 2] }], { title: "Two" }));',
  ].join("\n");
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { id: "m", cell_type: "markdown", source: "# T\n\nPurpose.", metadata: {} },
      { id: "c", cell_type: "code", source: code, metadata: {}, outputs: [], execution_count: null },
    ],
  };
  writeFileSync(join(dir, "t.ipynb"), serializeNotebook(nb));
  const out = join(dir, "out");
  const r = runCli(["run", "t.ipynb", "--svg", "--no-html", "--out", out, "--quiet"], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(join(out, "svg", "t")).sort(), ["chart-2-1.svg", "chart-2-2.svg"]);
  const one = readFileSync(join(out, "svg", "t", "chart-2-1.svg"), "utf8");
  assertWellFormed(one);
  assert.ok(one.includes(">One<") && one.includes('id="chart-2-1-plot"'));
  assert.match(r.stdout, /svg\/t\/ \(2 SVGs/);
  const executed = JSON.parse(readFileSync(join(out, "t.ipynb"), "utf8")) as Notebook;
  assert.deepEqual(notebookChartSvgs(executed).map((c) => c.svg), [one, readFileSync(join(out, "svg", "t", "chart-2-2.svg"), "utf8")]);

  const check = runCli(["run", "t.ipynb", "--svg", "--no-html", "--out", out, "--check", "--quiet"], dir);
  assert.equal(check.status, 0, check.stderr);
  writeFileSync(join(out, "svg", "t", "chart-2-2.svg"), "changed");
  writeFileSync(join(out, "svg", "t", "chart-9-9.svg"), "stale");
  const differs = runCli(["run", "t.ipynb", "--svg", "--no-html", "--out", out, "--check", "--quiet"], dir);
  assert.equal(differs.status, 1);
  assert.match(differs.stderr, /outputs differ .*chart-2-2\.svg/);
  assert.match(differs.stderr, /chart-9-9\.svg \(no such chart\)/);
  assert.doesNotMatch(differs.stderr, /chart-2-1\.svg/);
  assert.equal(readFileSync(join(out, "svg", "t", "chart-2-2.svg"), "utf8"), "changed", "--check writes nothing");
});

test("chartPicture: the figure's SVG as a data-URI image, alt text from the title", () => {
  const fig = figure([{ type: "bar", x: ["a", "b"], y: [1, 2] }], { title: "Loads <per> expert" });
  const img = chartPicture(fig, "c1");
  const m = /^<img class="moe-lab-chart-static" alt="Loads &lt;per&gt; expert" style="max-width:100%" src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)">$/.exec(img);
  assert.ok(m, img.slice(0, 120));
  assert.equal(Buffer.from(m[1], "base64").toString("utf8"), figureToSvg(fig, { idPrefix: "c1-static" }));
  assert.throws(() => chartPicture(fig, "1bad"), /id must start with a letter/);
  assert.throws(() => chartPicture(null as never, "c"), TypeError);
});

test("withChartPictures: chart outputs get their picture inside the HTML, same id; other outputs untouched", () => {
  const fig = figure([{ type: "scatter", mode: "lines", x: [1, 2], y: [3, 4] }], { title: "t" });
  const chart = { output_type: "display_data" as const, data: figureBundle(fig), metadata: {} };
  const stream = { output_type: "stream" as const, name: "stdout" as const, text: "hi" };
  const [s, c] = withChartPictures([stream, chart]);
  assert.equal(s, stream);
  const html = (c as typeof chart).data["text/html"] as string;
  assert.equal(html, figureHtml(fig, figureId(fig), chartPicture(fig, figureId(fig))));
  assert.ok(html.startsWith(`<div id="${figureId(fig)}" class="moe-lab-chart" style="width:100%;min-height:380px"><img class="moe-lab-chart-static"`));
  assert.equal((c as typeof chart).data[PLOTLY_MIME], chart.data[PLOTLY_MIME], "the Plotly JSON is kept as it was");
  assert.equal(chart.data["text/html"], figureHtml(fig), "the input is not mutated");
  assert.throws(() => withChartPictures(null as never), /outputs must be an array/);
  assert.throws(() => figureHtml(fig, "x", 3 as never), /picture must be an HTML string, got 3/);
});
