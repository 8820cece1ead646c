/** Benchmark: the lab note's simulation (CPython-compatible stream vs seedrandom). */
import { BenchSection, time, report } from "./harness";
import { runLabNote, LAB_NOTE_DEFAULTS } from "../lib/labnote";
import { createPythonRandom, createRng } from "../lib/rng";

export const labnoteBench: BenchSection = {
  title: "lab note simulation (10,000 tokens, 128 experts)",
  run() {
    const py = time(() => runLabNote(LAB_NOTE_DEFAULTS, createPythonRandom(42)), 20, 3);
    const sr = time(() => runLabNote(LAB_NOTE_DEFAULTS, createRng(42)), 20, 3);
    report({ name: "runLabNote with the CPython stream", value: py.medianSeconds * 1e3, unit: "ms" });
    report({ name: "runLabNote with seedrandom (reference)", value: sr.medianSeconds * 1e3, unit: "ms" });
    report({ name: "ratio CPython stream / seedrandom", value: py.medianSeconds / sr.medianSeconds, unit: "x" });
  },
};
