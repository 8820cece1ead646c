/**
 * Progress for long sweeps inside notebooks: one display that updates in place ("imbalance over
 * 200 seeds: 120/200"), in JupyterLab, VS Code and moe-lab's runner (which also prints it on the
 * command line while the cell runs). Outside a notebook nothing is displayed.
 *
 * Updates are spaced by count, not time, and the saved output is the final state, so executed
 * notebooks stay byte-identical from run to run. On tslab 1.0.22 each update reaches Jupyter as it
 * is made, even from a synchronous loop (test/notebooks.test.ts checks this on the real kernel);
 * `sweep` also yields to the event loop after each update, so that other pending work can run.
 * Introduced in notebooks/01-baseline-skew.ipynb.
 */
import { describeValue, requireFunction, requireInteger } from "./validate";
import { WriteDisplayData, escapeHtml, tslabWriter } from "./display";

/** Metadata key of a progress output: `{ label, done, total }` (the runner forwards these). */
export const PROGRESS_METADATA_KEY = "moe_lab_progress";

/** Options of `createProgress` and `sweep`. */
export interface ProgressOptions {
  /** At most this many updates between the first and the final display. Default 20. */
  updates?: number;
  /** Where displays go. Default: tslab's writer in a notebook, none (null) elsewhere. */
  write?: WriteDisplayData | null;
}

/** A progress display. */
export interface Progress {
  readonly label: string;
  readonly total: number;
  /** Items done so far. */
  readonly done: number;
  /**
   * Records `n` more items done (default 1); returns true when the display was updated.
   * @throws {RangeError} when done would exceed total.
   */
  advance(n?: number): boolean;
}

let displayCounter = 0;

function render(label: string, done: number, total: number): Record<string, unknown> {
  const text = `${label}: ${done}/${total}${done === total ? " done" : ""}`;
  return {
    "text/plain": text,
    "text/html": `<div class="moe-lab-progress"><progress max="${total}" value="${done}"></progress> <span>${escapeHtml(text)}</span></div>`,
  };
}

/**
 * Starts a progress display at 0/total and returns its handle.
 * @param label what is being done, e.g. "imbalance over 200 seeds".
 * @throws {TypeError} for an empty label; {RangeError} for a negative or fractional total or updates < 1.
 * @example createProgress("seeds", 3, { write: null }).advance() // => false (no display outside a notebook)
 */
export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  if (typeof label !== "string" || label.trim() === "") throw new TypeError(`label must be a non-empty string, got ${describeValue(label)}`);
  requireInteger("total", total, { min: 0 });
  const updates = requireInteger("options.updates", options.updates ?? 20, { min: 1 });
  const write = options.write === undefined ? tslabWriter() : options.write;
  if (write !== null) requireFunction("options.write", write);
  const id = `moe-lab-progress-${++displayCounter}`;
  const step = Math.max(1, Math.ceil(total / updates));
  let done = 0;
  const emit = (update: boolean): void => {
    write?.({ data: render(label, done, total), metadata: { [PROGRESS_METADATA_KEY]: { label, done, total } }, transient: { display_id: id } }, update);
  };
  emit(false);
  return {
    label,
    total,
    get done() {
      return done;
    },
    advance(n = 1) {
      requireInteger("n", n, { min: 0 });
      if (done + n > total) throw new RangeError(`n must keep done <= total (${total}), got ${n} with ${done} done`);
      const before = Math.floor(done / step);
      done += n;
      if (write === null || (done !== total && Math.floor(done / step) === before)) return false;
      emit(true);
      return true;
    },
  };
}

/**
 * Maps `fn` over `items` in order with a progress display, yielding to the event loop after each
 * display update so that the kernel can send it. Results are those of `items.map(fn)`.
 * @throws {TypeError} when items is not an array or fn not a function; whatever `fn` throws.
 * @example await sweep("squares", [1, 2, 3], (x) => x * x, { write: null }) // => [1, 4, 9]
 */
export async function sweep<T, R>(label: string, items: readonly T[], fn: (item: T, index: number) => R, options: ProgressOptions = {}): Promise<R[]> {
  if (!Array.isArray(items)) throw new TypeError(`items must be an array, got ${describeValue(items)}`);
  requireFunction("fn", fn);
  const progress = createProgress(label, items.length, options);
  const results: R[] = [];
  for (let i = 0; i < items.length; i++) {
    results.push(fn(items[i], i));
    if (progress.advance()) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return results;
}
