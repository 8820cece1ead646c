/**
 * Exports an executed notebook as ONE self-contained, offline HTML page: title, table of
 * contents, rendered markdown, code cells and their outputs, interactive Plotly charts
 * (plotly.js inlined once in <head>), a box with the overridden parameters, and a footer with
 * the moe-lab version. Plus an index page linking every exported notebook.
 *
 * Safety: markdown is rendered with raw HTML disabled (markdown-it `html: false`), so text from a
 * notebook cannot inject scripts; code and text outputs are escaped. Rich outputs a notebook's
 * code produced itself (`text/html`, SVG) are its author's and are kept.
 * Deterministic: same notebook in, same bytes out (chart ids come from cell/output positions).
 */
import MarkdownIt from "markdown-it";
import { Notebook, Output, cellSource, notebookSummary } from "./notebook";
import { PLOTLY_MIME, jsonForScript, figureSummary, Figure, chartElementId } from "./charts";
import { figureToSvg } from "./svg-chart";
import { describeValue } from "./validate";

import { escapeHtml } from "./display";
export { escapeHtml, chartElementId };

/** A URL-safe anchor from heading text: "1. Baseline skew" -> "1-baseline-skew". */
export function slugify(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/<[^>]*>/g, "")
      .replace(/[^\p{L}\p{N}]+/gu, "-")
      .replace(/^-+|-+$/g, "") || "section"
  );
}

type Markdown = InstanceType<typeof MarkdownIt>;

function markdownRenderer(): Markdown {
  const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
  // .ipynb links between notebooks point at their exported pages.
  const defaultLink = md.renderer.rules.link_open ?? ((tokens, idx, opts, _env, self) => self.renderToken(tokens, idx, opts));
  md.renderer.rules.link_open = (tokens, idx, opts, env, self) => {
    const href = String(tokens[idx].attrGet("href") ?? "");
    if (href && /^[\w.-]+\.ipynb(#.*)?$/.test(href)) tokens[idx].attrSet("href", href.replace(/\.ipynb/, ".html"));
    return defaultLink(tokens, idx, opts, env, self);
  };
  return md;
}

interface Heading {
  level: number;
  text: string;
  id: string;
}

/** Renders one markdown cell; collects its headings (with unique ids) into `headings`. */
function renderMarkdown(md: Markdown, source: string, headings: Heading[], used: Set<string>): string {
  const tokens = md.parse(source, {});
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type !== "heading_open") continue;
    const inline = tokens[i + 1];
    const text = inline?.children?.map((c: { content: string }) => c.content).join("") ?? inline?.content ?? "";
    let id = slugify(text);
    for (let n = 2; used.has(id); n++) id = `${slugify(text)}-${n}`;
    used.add(id);
    t.attrSet("id", id);
    headings.push({ level: Number(t.tag.slice(1)), text, id });
  }
  return md.renderer.render(tokens, md.options, {});
}

function textOf(v: unknown): string {
  return Array.isArray(v) ? v.join("") : String(v ?? "");
}

/**
 * What a page shows for a chart when JavaScript is off: the static SVG (./svg-chart), else the
 * chart's text summary if the figure cannot be drawn statically.
 */
function staticChart(fig: Figure, chartId: string): string {
  try {
    return `<div class="chart-static">${figureToSvg(fig, { idPrefix: `${chartId}-static` })}</div>`;
  } catch {
    return `<pre class="out">${escapeHtml(figureSummary(fig))}</pre>`;
  }
}

/** Renders one output; `chartId` is used if it is a Plotly chart. */
function renderOutput(o: Output, chartId: string, md: Markdown): { html: string; charts: number } {
  if (o.output_type === "stream") {
    return { html: `<pre class="out ${o.name}">${escapeHtml(textOf(o.text))}</pre>`, charts: 0 };
  }
  if (o.output_type === "error") {
    return { html: `<pre class="out stderr">${escapeHtml(`${o.ename}: ${o.evalue}`)}</pre>`, charts: 0 };
  }
  const data = o.data ?? {};
  if (data[PLOTLY_MIME]) {
    const fig = data[PLOTLY_MIME] as Figure;
    const height = Number(fig.layout?.height) || 380;
    return {
      html:
        `<div class="chart" id="${chartId}" style="min-height:${height}px" data-traces="${fig.data?.length ?? 0}"></div>` +
        `<noscript class="chart-fallback">${staticChart(fig, chartId)}</noscript>` +
        `<script>moeLabDraw(${JSON.stringify(chartId)},${jsonForScript(fig.data)},${jsonForScript(fig.layout)});</script>`,
      charts: 1,
    };
  }
  if (typeof data["image/svg+xml"] === "string" || Array.isArray(data["image/svg+xml"])) {
    return { html: `<div class="out-rich">${textOf(data["image/svg+xml"])}</div>`, charts: 0 };
  }
  if (data["image/png"]) return { html: `<img class="out-img" alt="output image" src="data:image/png;base64,${textOf(data["image/png"]).trim()}">`, charts: 0 };
  if (data["text/html"] !== undefined) return { html: `<div class="out-rich">${textOf(data["text/html"])}</div>`, charts: 0 };
  if (data["text/markdown"] !== undefined) return { html: `<div class="out-md">${md.render(textOf(data["text/markdown"]))}</div>`, charts: 0 };
  if (data["text/plain"] !== undefined) return { html: `<pre class="out">${escapeHtml(textOf(data["text/plain"]))}</pre>`, charts: 0 };
  return { html: "", charts: 0 };
}

const STYLE = `
:root{--fg:#1d1d1f;--muted:#6e6e73;--line:#e5e5ea;--code:#f6f8fa;--accent:#4C78A8}
*{box-sizing:border-box}body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
.layout{display:flex;max-width:1280px;margin:0 auto}
nav.toc{position:sticky;top:0;align-self:flex-start;width:260px;max-height:100vh;overflow:auto;padding:24px 12px 24px 20px;border-right:1px solid var(--line);font-size:13px}
nav.toc a{color:var(--fg);text-decoration:none;display:block;padding:2px 0}nav.toc a:hover{color:var(--accent)}
nav.toc .l2{padding-left:0}nav.toc .l3{padding-left:12px;color:var(--muted)}
main{flex:1;min-width:0;padding:24px 36px 60px}
h1{font-size:28px;margin:8px 0 12px}h2{margin-top:36px;border-bottom:1px solid var(--line);padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid var(--line);padding:4px 10px;text-align:left}th{background:var(--code)}
code{background:var(--code);padding:1px 4px;border-radius:3px;font-size:90%}
pre{background:var(--code);padding:10px 12px;border-radius:6px;overflow:auto;font-size:13px;line-height:1.4}
pre code{background:none;padding:0}
.cell-code{margin:14px 0 4px;border-left:3px solid var(--accent)}
.cell-code pre.src{margin:0;border-radius:0 6px 6px 0}
.prompt{font:12px monospace;color:var(--muted);margin:12px 0 2px}
pre.out{background:#fff;border:1px solid var(--line)}pre.out.stderr{background:#fff5f5;border-color:#f3c2c2}
.chart{width:100%;margin:6px 0 14px}
.chart-static{margin:6px 0 14px}.chart-static svg{max-width:100%;height:auto}
.params{border:1px solid #f0c36d;background:#fffbea;border-radius:6px;padding:8px 14px;margin:12px 0}
footer{color:var(--muted);font-size:12px;border-top:1px solid var(--line);margin-top:40px;padding-top:10px}
.index li{margin:10px 0}.index .purpose{color:var(--muted)}
@media (max-width:900px){nav.toc{display:none}main{padding:16px}}
`;

/** What the exporter needs besides the notebook. */
export interface ExportOptions {
  /** The plotly.js loader (`plotlyLoaderScript` from ./charts, with `pageFallback`), inlined once in <head> (omitted when the page has no chart). */
  plotlyLoader: string;
  /** moe-lab's version, for the footer. */
  version: string;
  /** The notebook's file name, e.g. `01-baseline-skew.ipynb`. */
  fileName: string;
}

/** The exported page and how many charts it holds. */
export interface ExportResult {
  html: string;
  charts: number;
}

/**
 * Renders an executed notebook as a self-contained HTML page.
 * @example exportNotebookHtml(nb, { plotlyLoader: plotlyLoaderScript(plotlyJs), version: "0.1.0", fileName: "01.ipynb" }).charts // => 3
 */
export function exportNotebookHtml(nb: Notebook, options: ExportOptions): ExportResult {
  const md = markdownRenderer();
  const { title } = notebookSummary(nb);
  const headings: Heading[] = [];
  const used = new Set<string>();
  const body: string[] = [];
  let charts = 0;
  const params = ((nb.metadata?.moe_lab as { parameters?: Record<string, unknown> } | undefined)?.parameters) ?? null;
  if (params && Object.keys(params).length) {
    const rows = Object.entries(params)
      .map(([k, v]) => `<tr><td><code>${escapeHtml(k)}</code></td><td><code>${escapeHtml(JSON.stringify(v))}</code></td></tr>`)
      .join("");
    body.push(`<div class="params"><strong>Parameters overridden for this run</strong><table><tr><th>name</th><th>value</th></tr>${rows}</table></div>`);
  }
  nb.cells.forEach((cell, ci) => {
    if (cell.cell_type === "markdown") {
      body.push(`<section class="cell-md">${renderMarkdown(md, cellSource(cell), headings, used)}</section>`);
      return;
    }
    if (cell.cell_type === "raw") {
      body.push(`<pre class="raw">${escapeHtml(cellSource(cell))}</pre>`);
      return;
    }
    const n = cell.execution_count ?? " ";
    const tags = cell.metadata?.tags ?? [];
    const label = tags.includes("injected-parameters") ? " injected parameters" : tags.includes("parameters") ? " parameters" : "";
    body.push(
      `<div class="prompt">In [${escapeHtml(String(n))}]:${label}</div><div class="cell-code"><pre class="src"><code>${escapeHtml(cellSource(cell))}</code></pre></div>`,
    );
    (cell.outputs ?? []).forEach((o, oi) => {
      const r = renderOutput(o, chartElementId(ci, oi), md);
      charts += r.charts;
      if (r.html) body.push(r.html);
    });
  });
  const toc = headings
    .filter((h) => h.level <= 3)
    .map((h) => `<a class="l${Math.max(h.level, 2)}" href="#${h.id}">${escapeHtml(h.text)}</a>`)
    .join("\n");
  const plotly = charts > 0 ? options.plotlyLoader : "";
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · moe-lab</title>
<style>${STYLE}</style>
<noscript><style>.chart{display:none}</style></noscript>
${plotly}
</head>
<body>
<div class="layout">
<nav class="toc"><div><a href="index.html">&larr; all notebooks</a></div><hr>${toc}</nav>
<main>
${body.join("\n")}
<footer>Exported from <code>${escapeHtml(options.fileName)}</code> by moe-lab ${escapeHtml(options.version)}. Charts are interactive (plotly.js is inlined; the page works offline).</footer>
</main>
</div>
</body>
</html>
`;
  return { html, charts };
}

/** One entry of the index page. */
export interface IndexEntry {
  href: string;
  title: string;
  purpose: string;
}

/** The index page: every exported notebook with its one-line purpose. */
export function exportIndexHtml(entries: IndexEntry[], version: string): string {
  const md = markdownRenderer();
  const items = entries
    .map((e) => `<li><a href="${escapeHtml(e.href)}">${escapeHtml(e.title)}</a><div class="purpose">${md.renderInline(e.purpose)}</div></li>`)
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>moe-lab notebooks</title>
<style>${STYLE}</style>
</head>
<body>
<div class="layout"><main>
<h1>moe-lab</h1>
<p>Mixture-of-Experts inference, run step by step: skewed routing, expert-parallel load balancing (EPLB) and throughput.</p>
<ol class="index">
${items}
</ol>
<footer>moe-lab ${escapeHtml(version)}. Every page is self-contained and works offline.</footer>
</main></div>
</body>
</html>
`;
}
