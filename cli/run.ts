/**
 * `moe-lab run`: executes notebooks with the in-process tslab runner and writes the executed
 * notebooks and their offline HTML pages (plus an index) to a build folder. The source notebooks
 * are only read, never written.
 */
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync } from "fs";
import { availableParallelism } from "os";
import { basename, dirname, join, relative, resolve } from "path";
import { Command, CliError, getFlag, getNumber, getString, OptionSpecs, CommandIO, startCommand } from "./args";
import {
  Notebook,
  readNotebook,
  serializeNotebook,
  writeFileAtomic,
  listParameters,
  coerceParameter,
  injectParameters,
  notebookSummary,
  NotebookError,
  ParamValue,
  checkNotebook,
  cellLabel,
  cellPosition,
  parameterType,
} from "../lib/notebook";
import { executeNotebook } from "../lib/runner";
import { exportNotebookHtml, exportIndexHtml } from "../lib/export-html";
import { plotlyLoaderScript, plotlyScript } from "../lib/charts";
import { notebookChartSvgs } from "../lib/svg-chart";
import { repoRoot } from "../lib/paths";

const SPECS: OptionSpecs = {
  all: { kind: "boolean", help: "run every notebook in notebooks/ (the default when none is named)" },
  out: { kind: "string", help: "folder for executed notebooks and HTML pages", default: "build" },
  param: { kind: "strings", help: "override a parameter: --param name=value (repeatable; one notebook only)" },
  "list-params": { kind: "boolean", help: "list the notebook's parameters and defaults, run nothing" },
  check: { kind: "boolean", help: "re-execute and fail if outputs differ from those already in --out; writes nothing" },
  "no-html": { kind: "boolean", help: "write executed notebooks only" },
  svg: { kind: "boolean", help: "also write a static SVG per chart: <out>/svg/<notebook>/<chart-id>.svg (compared, not written, with --check)" },
  timeout: { kind: "number", help: "seconds a cell may run before it is stopped", default: 300 },
  jobs: { kind: "int", help: "notebooks run in parallel", default: "number of CPUs (max 4)" },
  quiet: { kind: "boolean", help: "print only failures and the summary" },
  help: { kind: "boolean", help: "show this help" },
};

/** moe-lab's version, from package.json. */
export function moeLabVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { version: string }).version;
}

function notebookFiles(positionals: string[], all: boolean): string[] {
  if (positionals.length && all) throw new CliError("give notebooks or --all, not both");
  if (positionals.length) return positionals.map((p) => resolve(p));
  const dir = join(repoRoot(), "notebooks");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ipynb"))
    .sort()
    .map((f) => join(dir, f));
}

function parseParamFlags(raw: string[], nb: Notebook, file: string): Record<string, ParamValue> {
  const params = listParameters(nb, file);
  const valid = params.map((p) => `${p.name}=${JSON.stringify(p.defaultValue)}`).join(", ");
  if (raw.length && params.length === 0) throw new CliError(`${file} has no cell tagged "parameters": it takes no --param`);
  const out: Record<string, ParamValue> = {};
  for (const r of raw) {
    const eq = r.indexOf("=");
    if (eq <= 0) throw new CliError(`--param must be name=value, got ${JSON.stringify(r)}; valid: ${valid}`);
    const name = r.slice(0, eq);
    const p = params.find((q) => q.name === name);
    if (!p) throw new CliError(`unknown parameter ${name} for ${file}; valid: ${valid}`);
    try {
      out[name] = coerceParameter(p, r.slice(eq + 1));
    } catch (e) {
      throw new CliError(`${(e as Error).message}; valid: ${valid}`);
    }
  }
  return out;
}

interface Job {
  file: string;
  rel: string;
  name: string;
  notebook: Notebook;
}

async function runPool<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.round(n / 1024)} kB`;
}

export const runCommand: Command = {
  summary: "execute notebooks (in-process tslab) and write executed notebooks + offline HTML",
  async run(argv: string[], io: CommandIO): Promise<number> {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab run [notebook.ipynb ...] [options]", summary: this.summary, positionals: true });
    if (!args) return 0;
    const cwd = process.cwd();
    const files = notebookFiles(args.positionals, getFlag(args, "all"));
    if (files.length === 0) throw new CliError("no notebooks to run");
    const rawParams = (args.options.param as string[] | undefined) ?? [];
    if (rawParams.length && files.length !== 1) throw new CliError("--param needs exactly one notebook");

    // Read and check everything first: a bad input writes nothing.
    const jobs: Job[] = files.map((file) => {
      const rel = relative(cwd, file) || file;
      if (!file.endsWith(".ipynb")) throw new CliError(`${rel}: not a notebook (expected a .ipynb file)`);
      let notebook: Notebook;
      try {
        notebook = readNotebook(file);
      } catch (e) {
        if (e instanceof NotebookError) throw new CliError(e.message.replace(file, rel));
        throw e;
      }
      return { file, rel, name: basename(file, ".ipynb"), notebook };
    });

    if (getFlag(args, "list-params")) {
      for (const j of jobs) {
        const params = listParameters(j.notebook, j.rel);
        io.out(`${j.rel}: ${params.length ? "" : "no parameters cell"}\n`);
        const types = params.map((p) => parameterType(p));
        const width = Math.max(8, ...types.map((t) => t.length));
        params.forEach((p, i) => io.out(`  ${p.name.padEnd(20)} ${types[i].padEnd(width)} default ${JSON.stringify(p.defaultValue)}${p.comment ? `  // ${p.comment}` : ""}\n`));
      }
      return 0;
    }
    if (rawParams.length) {
      try {
        const overrides = parseParamFlags(rawParams, jobs[0].notebook, jobs[0].rel);
        jobs[0].notebook = injectParameters(jobs[0].notebook, overrides, jobs[0].rel);
      } catch (e) {
        if (e instanceof NotebookError) throw new CliError(e.message);
        throw e;
      }
    }

    const outDir = resolve(getString(args, "out", "build"));
    if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new CliError(`--out ${relative(cwd, outDir) || outDir} is a file, not a folder`);
    const check = getFlag(args, "check");
    const html = !getFlag(args, "no-html");
    const svg = getFlag(args, "svg");
    const quiet = getFlag(args, "quiet");
    const timeout = getNumber(args, "timeout", 300);
    if (!(timeout > 0)) throw new CliError(`--timeout must be > 0 seconds, got ${timeout}`);
    const parallel = getNumber(args, "jobs", Math.min(4, availableParallelism()));
    if (!(parallel >= 1)) throw new CliError(`--jobs must be >= 1, got ${parallel}`);
    const version = moeLabVersion();
    const plotlyLoader = html ? plotlyLoaderScript(plotlyScript(), { pageFallback: true }) : "";
    const outRel = relative(cwd, outDir) || ".";
    if (check && !existsSync(outDir)) {
      // Nothing to compare with: say so now rather than after running every notebook.
      io.err(`moe-lab run --check: nothing to compare with: ${outRel} does not exist (run without --check first${svg ? ", with --svg" : ""})\n`);
      return 1;
    }

    const failures: string[] = [];
    const mismatches: string[] = [];
    /** Outputs --check expected in --out but did not find (never written, or deleted). */
    const missing: string[] = [];
    let missingSvgs = false;
    const written: string[] = [];
    const t0 = Date.now();
    await runPool(jobs, parallel, async (job) => {
      const start = Date.now();
      if (!quiet) {
        const code = job.notebook.cells.filter((c) => c.cell_type === "code");
        const injected = code.filter((c) => Array.isArray(c.metadata?.tags) && c.metadata.tags.includes("injected-parameters")).length;
        io.err(`[${job.name}] running (${code.length - injected} code cells${injected ? " + the --param cell" : ""})\n`);
      }
      // A sweep's progress display is echoed once a cell has run 1 s, then at most once a second
      // (and its final state, once any line of it was printed).
      let lastProgressPrint = 0;
      let printedCell = 0;
      // Cells are named as the source notebook numbers them (the --param cell not counted).
      const label = (cellNumber: number): string => {
        const p = cellPosition(job.notebook, cellNumber);
        return p.codeCellNumber === null ? cellLabel(job.notebook, cellNumber) : `code cell ${p.codeCellNumber}`;
      };
      const { notebook, failure } = await executeNotebook(job.notebook, {
        cwd: dirname(job.file),
        cellTimeoutSeconds: timeout,
        onProgress: (e) => {
          if (quiet) return;
          if (e.kind === "cell-done" && e.seconds >= 2) io.err(`[${job.name}] ${label(e.cellNumber)} took ${e.seconds.toFixed(1)} s\n`);
          if (e.kind === "cell-progress") {
            const now = Date.now();
            const final = e.text.endsWith(" done");
            if ((e.seconds >= 1 && now - lastProgressPrint >= 1000) || (final && printedCell === e.cellNumber)) {
              io.err(`[${job.name}] ${label(e.cellNumber)}: ${e.text}\n`);
              lastProgressPrint = now;
              printedCell = e.cellNumber;
            }
          }
        },
      });
      if (failure) {
        const where = failure.cellNumber >= 1 ? `${cellLabel(job.notebook, failure.cellNumber)} failed` : "failed before its first cell";
        failures.push(`${job.rel}: ${where}:\n${failure.message.replace(/^/gm, "    ")}`);
        return;
      }
      const nbText = serializeNotebook(notebook);
      const page = html ? exportNotebookHtml(notebook, { plotlyLoader, version, fileName: basename(job.file) }) : null;
      const nbOut = join(outDir, `${job.name}.ipynb`);
      const htmlOut = join(outDir, `${job.name}.html`);
      // --svg: one static SVG per chart, named by its id in the HTML page (chart-<cell>-<output>).
      const svgDir = join(outDir, "svg", job.name);
      let svgs: Array<{ file: string; text: string }> = [];
      try {
        if (svg) svgs = notebookChartSvgs(notebook).map((c) => ({ file: join(svgDir, `${c.id}.svg`), text: c.svg }));
      } catch (e) {
        failures.push(`${job.rel}: --svg: ${(e as Error).message}`);
        return;
      }
      const staleSvgs = svg && existsSync(svgDir)
        ? readdirSync(svgDir).filter((f) => /^chart-\d+-\d+\.svg$/.test(f) && !svgs.some((s) => basename(s.file) === f)).map((f) => join(svgDir, f))
        : [];
      if (check) {
        // Each expected output is missing, the same, or different (a folder in its place differs).
        const compare = (f: string, text: string): void => {
          if (!existsSync(f)) missing.push(relative(cwd, f));
          else if (statSync(f).isDirectory()) mismatches.push(`${relative(cwd, f)} (a folder, not a file)`);
          else if (readFileSync(f, "utf8") !== text) mismatches.push(relative(cwd, f));
        };
        compare(nbOut, nbText);
        if (page) compare(htmlOut, page.html);
        if (svgs.length && !existsSync(svgDir)) {
          // No SVG of this notebook was ever written: name the folder once, not every chart.
          missing.push(`${relative(cwd, svgDir)}/ (${svgs.length} SVG${svgs.length === 1 ? "" : "s"})`);
          missingSvgs = true;
        } else {
          for (const s of svgs) {
            const before = missing.length;
            compare(s.file, s.text);
            if (missing.length > before) missingSvgs = true;
          }
        }
        for (const f of staleSvgs) mismatches.push(`${relative(cwd, f)} (no such chart)`);
      } else {
        writeFileAtomic(nbOut, nbText);
        written.push(`${relative(cwd, nbOut)}`);
        if (page) {
          writeFileAtomic(htmlOut, page.html);
          written.push(`${relative(cwd, htmlOut)} (${fmtBytes(Buffer.byteLength(page.html))}, ${page.charts} charts)`);
        }
        if (svg) {
          for (const s of svgs) writeFileAtomic(s.file, s.text);
          for (const f of staleSvgs) unlinkSync(f);
          const bytes = svgs.reduce((n, s) => n + Buffer.byteLength(s.text), 0);
          written.push(`${relative(cwd, svgDir)}/ (${svgs.length} SVG${svgs.length === 1 ? "" : "s"}, ${fmtBytes(bytes)})`);
        }
      }
      if (!quiet) io.err(`[${job.name}] done in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
    });

    if (html && !check && written.length) {
      const entries = readdirSync(outDir)
        .filter((f) => f.endsWith(".ipynb") && existsSync(join(outDir, f.replace(/\.ipynb$/, ".html"))))
        .sort()
        .map((f) => {
          let nb: Notebook;
          try {
            nb = checkNotebook(JSON.parse(readFileSync(join(outDir, f), "utf8")), f);
          } catch {
            return null;
          }
          const s = notebookSummary(nb);
          return { href: f.replace(/\.ipynb$/, ".html"), title: s.title, purpose: s.purpose };
        })
        .filter((e): e is { href: string; title: string; purpose: string } => e !== null);
      writeFileAtomic(join(outDir, "index.html"), exportIndexHtml(entries, version));
      written.push(`${relative(cwd, join(outDir, "index.html"))}`);
    }

    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    for (const w of written) io.out(`wrote ${w}\n`);
    if (failures.length) {
      for (const f of failures) io.err(`moe-lab run: ${f}\n`);
      io.err(`moe-lab run: ${failures.length} of ${jobs.length} notebook(s) failed (${secs} s); their previous outputs in ${outRel} are untouched\n`);
      return 1;
    }
    if (check) {
      if (missing.length) {
        io.err(`moe-lab run --check: missing in ${outRel}: ${missing.join(", ")} (run without --check first${missingSvgs ? ", with --svg" : ""})\n`);
      }
      if (mismatches.length) io.err(`moe-lab run --check: outputs differ from ${outRel}: ${mismatches.join(", ")}\n`);
      if (missing.length || mismatches.length) return 1;
      io.out(`check passed: ${jobs.length} notebook(s) reproduce ${outRel} byte for byte (${secs} s)\n`);
      return 0;
    }
    io.out(`${jobs.length} notebook(s) executed in ${secs} s; open ${relative(cwd, join(outDir, html ? "index.html" : "")) || outRel}\n`);
    return 0;
  },
};
