/**
 * A tiny benchmark harness: time a function (median of repeats, after a warm-up), and
 * print figures with a ratio against a reference measured in the same run.
 * Benchmarks print; they never fail on timing (tests assert correctness, not speed).
 */
import { performance } from "perf_hooks";

export interface Timing {
  /** Median wall time of one call, seconds. */
  medianSeconds: number;
  /** Every measured call, seconds. */
  samples: number[];
}

/** Times `fn` `repeats` times after `warmup` calls; returns the median. */
export function time(fn: () => unknown, repeats = 5, warmup = 1): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { medianSeconds: sorted[Math.floor(sorted.length / 2)], samples };
}

/** Peak resident memory of the process so far, MiB (a coarse but honest figure). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** One benchmark result line. */
export interface BenchLine {
  name: string;
  value: number;
  unit: string;
  /** Optional target (same unit) and whether higher is better, to print "target met". */
  target?: { value: number; higherIsBetter: boolean };
}

/** Prints one line: name, value, unit and target status. */
export function report(line: BenchLine): void {
  let status = "";
  if (line.target) {
    const ok = line.target.higherIsBetter ? line.value >= line.target.value : line.value <= line.target.value;
    status = `  [target ${line.target.higherIsBetter ? ">=" : "<="} ${fmt(line.target.value)}: ${ok ? "met" : "NOT met"}]`;
  }
  console.log(`  ${line.name.padEnd(58)} ${fmt(line.value).padStart(14)} ${line.unit}${status}`);
}

function fmt(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(3);
  return (+x.toPrecision(4)).toString();
}

/** A benchmark section: a title and a function that runs and reports. */
export interface BenchSection {
  title: string;
  run(): void | Promise<void>;
}
