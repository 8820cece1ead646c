/**
 * Opens exported pages in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core; never a downloaded browser) and reports what rendered.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Where Debian installs chromium. */
export const CHROMIUM = process.env.MOE_LAB_CHROMIUM ?? "/usr/bin/chromium";

/** What one page showed. */
export interface PageReport {
  page: string;
  /** Per chart div: its id, traces expected (data-traces), traces plotly drew, whether an SVG exists. */
  charts: Array<{ id: string; expected: number; drawn: number; svg: boolean }>;
  consoleErrors: string[];
  screenshot: string;
}

/** Headless Debian chromium through playwright-core, with the flags a closed network needs. */
export function launch() {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { chromium } = require("playwright-core") as typeof import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic",
    ],
  });
}

/** What one page showed with JavaScript off. */
export interface StaticPageReport {
  page: string;
  /** Interactive chart divs in the page (hidden when JavaScript is off). */
  chartDivs: number;
  /** Visible static SVG charts, and their rendered heights (px). */
  staticHeights: number[];
  /** Visible elements of the interactive charts (should be none). */
  visibleChartDivs: number;
  screenshot: string;
}

/**
 * Opens each page where the interactive charts cannot run: with JavaScript disabled ("no-js"), or
 * in a browser without `DecompressionStream` ("no-decompression", like browsers before 2023).
 * Every chart should show as its static SVG.
 */
export async function inspectPagesWithoutJs(pages: string[], screenshotDir: string, mode: "no-js" | "no-decompression" = "no-js"): Promise<StaticPageReport[]> {
  mkdirSync(screenshotDir, { recursive: true });
  const browser = await launch();
  const reports: StaticPageReport[] = [];
  try {
    for (const file of pages) {
      const context = await browser.newContext({ javaScriptEnabled: mode !== "no-js", viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      if (mode === "no-decompression") await page.addInitScript(() => { delete (globalThis as { DecompressionStream?: unknown }).DecompressionStream; });
      await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
      if (mode === "no-decompression") await page.waitForSelector(".chart-static", { timeout: 30_000 }).catch(() => undefined);
      type El = { getBoundingClientRect(): { height: number } };
      const chartDivs = await page.$$eval("div.chart", (d: unknown[]) => d.length);
      const visibleChartDivs = await page.$$eval("div.chart", (d: unknown[]) => (d as El[]).filter((e) => e.getBoundingClientRect().height > 0).length);
      const staticHeights = await page.$$eval(".chart-static svg", (d: unknown[]) => (d as El[]).map((e) => Math.round(e.getBoundingClientRect().height)));
      const screenshot = join(screenshotDir, file.split(/[\\/]/).pop()!.replace(/\.html$/, mode === "no-js" ? ".nojs.png" : ".nodecompress.png"));
      const first = await page.$(".chart-static");
      if (first) await first.scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshot, fullPage: false });
      reports.push({ page: file, chartDivs, staticHeights, visibleChartDivs, screenshot });
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return reports;
}

/** Opens each page, waits for charts, collects errors and saves a full-page screenshot. */
export async function inspectPages(pages: string[], screenshotDir: string): Promise<PageReport[]> {
  mkdirSync(screenshotDir, { recursive: true });
  const browser = await launch();
  const reports: PageReport[] = [];
  try {
    for (const file of pages) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const consoleErrors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
      await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
      await page
        .waitForFunction('Array.from(document.querySelectorAll("div.chart")).every((d) => d.querySelector(".main-svg"))', undefined, { timeout: 30_000 })
        .catch(() => undefined);
      type ChartDiv = { id: string; getAttribute(n: string): string | null; querySelector(s: string): unknown };
      const charts = await page.$$eval("div.chart", (divs: unknown[]) =>
        (divs as ChartDiv[]).map((d) => ({
          id: d.id,
          expected: Number(d.getAttribute("data-traces")),
          drawn: ((d as unknown as { _fullData?: unknown[] })._fullData ?? []).length,
          svg: !!d.querySelector(".main-svg"),
        })),
      );
      const name = file.split(/[\\/]/).pop()!.replace(/\.html$/, ".png");
      const screenshot = join(screenshotDir, name);
      await page.screenshot({ path: screenshot, fullPage: false });
      reports.push({ page: file, charts, consoleErrors, screenshot });
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return reports;
}

/** Whether the browser test can run here. */
export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}
