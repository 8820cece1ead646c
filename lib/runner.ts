/**
 * The in-process notebook runner: executes every code cell of a notebook in order through
 * tslab (lib/runner-worker.ts, one child process per notebook), collects stdout, stderr and
 * displays as nbformat outputs, and stops at the first failing cell.
 *
 * Outputs are deterministic for seeded code: no timestamps, sequential execution counts,
 * moe-lab's plotly.js loader output dropped (exported pages inline plotly.js once instead).
 */
import { fork } from "child_process";
import { join } from "path";
import { Cell, Notebook, Output, cellSource } from "./notebook";
import { LOADER_METADATA_KEY } from "./charts";
import { withChartPictures } from "./svg-chart";
import { describeValue, requireNumber } from "./validate";

/** Progress events, for a caller that prints what is running. */
export type RunProgress =
  | { kind: "cell-start"; cellNumber: number; codeCells: number; codeCellNumber: number }
  | { kind: "cell-done"; cellNumber: number; ok: boolean; seconds: number }
  /** A progress display (lib/progress.ts) in the running cell changed; `seconds` since the cell started. */
  | { kind: "cell-progress"; cellNumber: number; text: string; seconds: number };

export interface ExecuteOptions {
  /** Folder the notebook's code runs in (its own folder: `./lib/...` imports resolve from it). */
  cwd: string;
  /** A cell running longer than this is stopped (its kernel killed). Default 300. */
  cellTimeoutSeconds?: number;
  onProgress?: (e: RunProgress) => void;
}

/**
 * Why a notebook stopped: the 1-based cell number (counting all cells of the notebook as executed,
 * an injected parameters cell included; 0 when the kernel did not start) and the error text.
 * `cellLabel` in lib/notebook names that cell as the source notebook numbers it.
 */
export interface CellFailure {
  cellNumber: number;
  message: string;
}

export interface ExecuteResult {
  /** The notebook with outputs filled in (up to and including the failing cell). */
  notebook: Notebook;
  failure: CellFailure | null;
}

/**
 * A hint for tslab's shorthand-property quirk: `{ seed }` naming a variable declared in an earlier
 * cell fails with "seed is not defined" (tslab 1.0.22), while `{ seed: seed }` works. Returns the
 * hint when the error and the cell's source match that case, else null.
 * @example shorthandHint("ReferenceError: seed is not defined", "f({ seed })")
 * // => "hint: tslab does not resolve a shorthand property ({ seed }) to a variable from an earlier cell; write { seed: seed }"
 */
export function shorthandHint(error: string, source: string): string | null {
  if (typeof error !== "string") throw new TypeError(`error must be a string, got ${describeValue(error)}`);
  if (typeof source !== "string") throw new TypeError(`source must be a string, got ${describeValue(source)}`);
  const m = /ReferenceError: ([A-Za-z_$][\w$]*) is not defined/.exec(error);
  if (!m) return null;
  const name = m[1];
  const esc = name.replace(/\$/g, "\\$");
  // `{ name }`, `{ a, name }`, `{ name, b }`: a shorthand property (not `{ name: x }` or `name(`).
  if (!new RegExp(`[{,]\\s*${esc}\\s*[,}]`).test(source)) return null;
  return `hint: tslab does not resolve a shorthand property ({ ${name} }) to a variable from an earlier cell; write { ${name}: ${name} }`;
}

/** The error text of a failed cell: its stderr, trimmed to the useful part. */
function failureText(outputs: Output[]): string {
  const err = outputs
    .filter((o): o is Extract<Output, { output_type: "stream" }> => o.output_type === "stream" && o.name === "stderr")
    .map((o) => String(o.text))
    .join("")
    .trim();
  if (!err) return "the cell failed without printing an error";
  const lines = err.split("\n");
  // Keep the message and the first frames; drop tslab/node internals.
  const kept = lines.filter((l) => !/node:internal|node:vm|runner-worker|tslab[\\/]dist|^\s+at (?:Object\.|Module\.|node:)/.test(l));
  // Put the error's own line first (Node prints it after a code excerpt), and only there: the
  // excerpt and the stack frames follow without repeating it.
  const at = kept.findIndex((l) => /^\s*\w*(Error|Exception)\b.*:/.test(l));
  const ordered = at > 0 ? [kept[at].trim(), ...kept.slice(0, at), ...kept.slice(at + 1)] : kept;
  return ordered
    .slice(0, 12)
    .filter((l, i, all) => !(l.trim() === "" && (i === 0 || all[i - 1].trim() === "")))
    .join("\n")
    .trimEnd();
}

/** Drops moe-lab's plotly.js loader outputs: the exported page inlines plotly.js once instead. */
export function cleanOutputs(outputs: Output[]): Output[] {
  return outputs.filter((o) => !(o.output_type === "display_data" && o.metadata && o.metadata[LOADER_METADATA_KEY]));
}

/**
 * Executes `nb` cell by cell in a fresh tslab kernel process. Chart outputs are saved with their
 * static picture inside the HTML rendering (`withChartPictures`), and without the plotly.js loader.
 * @throws {RangeError} on a bad timeout; never throws for a failing cell (see `failure`).
 */
export async function executeNotebook(nb: Notebook, options: ExecuteOptions): Promise<ExecuteResult> {
  const timeoutSeconds = requireNumber("cellTimeoutSeconds", options.cellTimeoutSeconds ?? 300, { min: 0, minExclusive: true });
  const child = fork(join(__dirname, "runner-worker.js"), [], {
    cwd: options.cwd,
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "advanced",
  });
  let childLog = "";
  child.stdout?.on("data", (d) => (childLog += d));
  child.stderr?.on("data", (d) => (childLog += d));

  type Msg =
    | { type: "ready" }
    | { type: "done"; index: number; ok: boolean; outputs: Output[] }
    | { type: "progress"; index: number; text: string }
    | { type: "crash"; message: string };
  const queue: Msg[] = [];
  let waiter: ((m: Msg | "exit") => void) | null = null;
  let exited = false;
  child.on("message", (m: Msg) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(m);
    } else queue.push(m);
  });
  child.on("exit", () => {
    exited = true;
    if (waiter) {
      const w = waiter;
      waiter = null;
      w("exit");
    }
  });
  const next = (ms: number): Promise<Msg | "exit" | "timeout"> =>
    new Promise((resolve) => {
      const q = queue.shift();
      if (q) return resolve(q);
      if (exited) return resolve("exit");
      const timer = setTimeout(() => {
        waiter = null;
        resolve("timeout");
      }, ms);
      waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });

  const cells: Cell[] = nb.cells.map((c) => ({ ...c }));
  const codeCells = cells.filter((c) => c.cell_type === "code").length;
  let failure: CellFailure | null = null;
  try {
    const ready = await next(60_000);
    if (ready === "exit" || ready === "timeout" || ready.type !== "ready") {
      return { notebook: { ...nb, cells }, failure: { cellNumber: 0, message: `the kernel did not start: ${childLog.trim() || String(ready)}` } };
    }
    let count = 0;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i];
      if (cell.cell_type !== "code") continue;
      count++;
      const code = cellSource(cell);
      options.onProgress?.({ kind: "cell-start", cellNumber: i + 1, codeCells, codeCellNumber: count });
      const t0 = Date.now();
      if (code.trim() === "") {
        cells[i] = { ...cell, outputs: [], execution_count: count };
        continue;
      }
      child.send({ type: "exec", index: i, code });
      const deadline = t0 + timeoutSeconds * 1000;
      let reply = await next(deadline - Date.now());
      while (reply !== "exit" && reply !== "timeout" && (reply.type === "progress" || (reply.type === "done" && reply.index !== i))) {
        if (reply.type === "progress" && reply.index === i) {
          options.onProgress?.({ kind: "cell-progress", cellNumber: i + 1, text: reply.text, seconds: (Date.now() - t0) / 1000 });
        }
        reply = await next(Math.max(0, deadline - Date.now()));
      }
      if (reply === "timeout") {
        failure = { cellNumber: i + 1, message: `timed out after ${timeoutSeconds} s (raise it with --timeout SECONDS)` };
        cells[i] = { ...cell, outputs: [], execution_count: count };
        break;
      }
      if (reply === "exit" || reply.type === "crash" || reply.type === "ready") {
        const why = reply === "exit" ? `the kernel exited${childLog.trim() ? `: ${childLog.trim()}` : ""}` : reply.type === "crash" ? reply.message : "protocol error";
        failure = { cellNumber: i + 1, message: why };
        cells[i] = { ...cell, outputs: [], execution_count: count };
        break;
      }
      const outputs = withChartPictures(cleanOutputs(reply.outputs));
      cells[i] = { ...cell, outputs, execution_count: count };
      options.onProgress?.({ kind: "cell-done", cellNumber: i + 1, ok: reply.ok, seconds: (Date.now() - t0) / 1000 });
      if (!reply.ok) {
        const text = failureText(outputs);
        const hint = shorthandHint(text, code);
        failure = { cellNumber: i + 1, message: hint ? `${text}\n${hint}` : text };
        break;
      }
    }
  } finally {
    if (!exited) child.kill("SIGKILL");
  }
  return { notebook: { ...nb, cells }, failure };
}
