/**
 * `moe-lab labnote`: prints the lab note's three output blocks (or `--json`), replaying its
 * Python draws with the CPython-compatible stream.
 */
import { Command, getNumber, getFlag, getString, OptionSpecs, CliError, startCommand } from "./args";
import { LAB_NOTE_DEFAULTS, runLabNote, formatLabNote, validateLabNoteParams } from "../lib/labnote";
import { createPythonRandom } from "../lib/rng";

const d = LAB_NOTE_DEFAULTS;
const SPECS: OptionSpecs = {
  seed: { kind: "string", help: "random seed, any integer, as Python's random.seed(int)", default: String(d.seed) },
  experts: { kind: "int", help: "number of experts (>= 2)", default: d.numExperts },
  tokens: { kind: "int", help: "number of tokens routed (integer >= 1)", default: d.numTokens },
  "hot-experts": { kind: "int", help: "size of the hot set, experts 0..N-1 (1 <= N < experts)", default: d.hotExperts },
  "hot-fraction": { kind: "number", help: "probability a token goes to the hot set, in [0, 1]", default: d.hotFraction },
  cap: { kind: "number", help: "cap per expert as a multiple of the mean load (> 0)", default: d.capFactor },
  "idle-threshold": { kind: "number", help: "experts below this multiple of the mean get the overflow (>= 0)", default: d.idleThreshold },
  json: { kind: "boolean", help: "print one JSON object (unrounded numbers and per-expert loads)" },
  help: { kind: "boolean", help: "show this help" },
};

/** An integer seed of any size (Python's random.seed takes them all): a number when it is safe, else a bigint. */
function parseSeed(text: string): number | bigint {
  if (!/^[+-]?\d+$/.test(text.trim())) throw new CliError(`--seed must be an integer (of any size, as Python's random.seed takes), got ${JSON.stringify(text)}`);
  const n = BigInt(text.trim());
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

export const labnoteCommand: Command = {
  summary: "reproduce the lab note's simulation and print its output (or --json)",
  run(argv, io) {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab labnote [options]", summary: this.summary });
    if (!args) return 0;
    const flagNames: Record<string, string> = {
      numExperts: "--experts", numTokens: "--tokens", hotExperts: "--hot-experts", hotFraction: "--hot-fraction",
      capFactor: "--cap", idleThreshold: "--idle-threshold", seed: "--seed",
    };
    let params;
    try {
      params = validateLabNoteParams({
        seed: parseSeed(getString(args, "seed", String(d.seed))),
        numExperts: getNumber(args, "experts", d.numExperts),
        numTokens: getNumber(args, "tokens", d.numTokens),
        hotExperts: getNumber(args, "hot-experts", d.hotExperts),
        hotFraction: getNumber(args, "hot-fraction", d.hotFraction),
        capFactor: getNumber(args, "cap", d.capFactor),
        idleThreshold: getNumber(args, "idle-threshold", d.idleThreshold),
      });
    } catch (e) {
      // Speak in flags, not in parameter names.
      const msg = (e as Error).message.replace(/^(\w+)/, (m) => flagNames[m] ?? m);
      throw new CliError(msg);
    }
    const result = runLabNote(params, createPythonRandom(params.seed));
    io.out(getFlag(args, "json") ? JSON.stringify(result) + "\n" : formatLabNote(result, params));
    return 0;
  },
};
