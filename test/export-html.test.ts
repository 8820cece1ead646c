import { test } from "node:test";
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { exportNotebookHtml, exportIndexHtml, escapeHtml, slugify } from "../lib/export-html";
import { Notebook } from "../lib/notebook";
import { figure, figureBundle, plotlyLoaderScript, PLOTLY_MIME } from "../lib/charts";

const fig = figure([{ type: "bar", y: [1, 2] }, { type: "scatter", y: [3, 4] }], { title: "</script><b>x" });
const NB: Notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { moe_lab: { parameters: { seed: 7 } } },
  cells: [
    { cell_type: "markdown", metadata: {}, source: "# 01 · Title\n\nPurpose.\n\n## Step 1\n\n<script>alert(1)</script> and [next](02-x.ipynb) and [bad](javascript:alert(1))\n\n| a | b |\n|---|---|\n| 1 | 2 |" },
    { cell_type: "code", metadata: { tags: ["parameters"] }, source: "const seed = 42; // <b>", outputs: [], execution_count: 1 },
    {
      cell_type: "code",
      metadata: {},
      source: "show(fig)",
      execution_count: 2,
      outputs: [
        { output_type: "stream", name: "stdout", text: "<img src=x onerror=alert(1)>\n" },
        { output_type: "display_data", data: figureBundle(fig), metadata: {} },
      ],
    },
    { cell_type: "markdown", metadata: {}, source: "## Step 1\n\nAgain." },
  ],
};

test("exported page: markdown and text cannot inject markup; charts inlined with unique ids", () => {
  const { html, charts } = exportNotebookHtml(NB, { plotlyLoader: "<script>/*plotly*/</script>", version: "9.9.9", fileName: "01-x.ipynb" });
  assert.equal(charts, 1);
  assert.doesNotMatch(html, /<script>alert\(1\)<\/script>/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.doesNotMatch(html, /<img src=x/);
  assert.doesNotMatch(html, /href="javascript:/);
  assert.match(html, /href="02-x.html"/);
  assert.match(html, /<table>/);
  assert.match(html, /const seed = 42; \/\/ &lt;b&gt;/);
  assert.equal((html.match(/\/\*plotly\*\//g) ?? []).length, 1, "plotly.js inlined exactly once");
  assert.match(html, /<div class="chart" id="chart-3-2"[^>]*data-traces="2"/);
  assert.doesNotMatch(html, /<\/script><b>x/, "figure JSON cannot close its script element");
  assert.match(html, /<h2 id="step-1">/);
  assert.match(html, /<h2 id="step-1-2">/);
  assert.match(html, /href="#step-1-2"/);
  assert.match(html, /Parameters overridden[\s\S]*seed[\s\S]*7/);
  assert.match(html, /moe-lab 9\.9\.9/);
  assert.equal(exportNotebookHtml(NB, { plotlyLoader: "<script>/*plotly*/</script>", version: "9.9.9", fileName: "01-x.ipynb" }).html, html, "deterministic");
});

test("a page without charts does not carry plotly.js", () => {
  const nb: Notebook = { ...NB, cells: [NB.cells[0]] };
  assert.doesNotMatch(exportNotebookHtml(nb, { plotlyLoader: "<script>/*plotly*/</script>", version: "1", fileName: "a.ipynb" }).html, /\/\*plotly\*\//);
});

test("index page lists notebooks with escaped titles", () => {
  const html = exportIndexHtml([{ href: "01-x.html", title: "01 <Title>", purpose: "Does *this*." }], "1.0.0");
  assert.match(html, /<a href="01-x.html">01 &lt;Title&gt;<\/a>/);
  assert.match(html, /Does <em>this<\/em>\./);
});

test("escapeHtml and slugify", () => {
  assert.equal(escapeHtml(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  assert.equal(slugify("Step 2 · Count the load"), "step-2-count-the-load");
  assert.equal(slugify("!!!"), "section");
  assert.ok(PLOTLY_MIME in figureBundle(fig));
});

test("plotlyLoaderScript: plotly.js deflated and base64-encoded, inflated back exactly; deterministic", () => {
  const js = "/* plotly */ var Plotly = { newPlot: function () {} }; // </script> inside the source stays harmless\n".repeat(50);
  const script = plotlyLoaderScript(js, { pageFallback: true });
  assert.ok(script.startsWith("<script>") && script.endsWith("</script>"));
  const m = /atob\("([A-Za-z0-9+/=]+)"\)/.exec(script);
  assert.ok(m, "the payload is base64");
  assert.equal(inflateSync(Buffer.from(m[1], "base64")).toString("utf8"), js, "inflating the payload gives the source back");
  assert.ok(m[1].length < js.length, "the payload is smaller than the source");
  assert.equal((script.match(/<\/script/gi) ?? []).length, 1, "only the closing tag: the source cannot end the element early");
  assert.match(script, /new DecompressionStream\("deflate"\)/);
  assert.match(script, /noscript\.chart-fallback/, "falls back to the static pictures");
  assert.match(script, /window\.moeLabDraw=function\(id,data,layout\)/);
  assert.equal(plotlyLoaderScript(js, { pageFallback: true }), script);
  // In a notebook output there is no page to fall back in: nothing outside the output is touched.
  assert.doesNotMatch(plotlyLoaderScript(js), /chart-fallback|div\.chart/);
  assert.throws(() => plotlyLoaderScript(undefined as never), /plotlyJs must be the plotly.min.js source as a string, got undefined/);
});
