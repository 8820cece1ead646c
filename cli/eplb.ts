/**
 * `moe-lab eplb`: runs DeepSeek's EPLB on loads from a file and prints the placement summary
 * (per-GPU loads and balancedness before/after), or `--json`.
 *
 * FILE is JSON or CSV:
 * - JSON: `{"weight": [[...], ...], "num_replicas": 16, "num_groups": 4, "num_nodes": 2, "num_gpus": 8}`
 *   (camelCase `numReplicas`... also accepted; `weight` may be one layer `[...]`); a reference case
 *   file from data/eplb/ works as is (its `inputs` are read); a bare `[[...]]` array is the weight.
 * - CSV: one row of loads per layer (comma-separated; blank lines and `#` comments skipped).
 * Flags override the file's parameters. Defaults: no redundant slots, one group, one node.
 */
import { Command, getFlag, getString, OptionSpecs, CliError, ParsedArgs, readUserFile, startCommand } from "./args";
import { rebalanceExperts, gpuLoads, initialPlacement, balanceMetrics, eplbPolicy } from "../lib/eplb";

const SPECS: OptionSpecs = {
  input: { kind: "string", help: "JSON or CSV file of loads [layers][experts] (see moe-lab eplb --help)" },
  replicas: { kind: "int", help: "physical slots per layer (experts + redundant); default: file, else experts" },
  groups: { kind: "int", help: "expert groups (divide experts); default: file, else 1" },
  nodes: { kind: "int", help: "nodes (divide GPUs); default: file, else 1" },
  gpus: { kind: "int", help: "GPUs (divide replicas); required unless the file gives num_gpus" },
  json: { kind: "boolean", help: "print {phy2log, log2phy, logcnt, gpuLoadsBefore, gpuLoadsAfter, balancednessBefore, balancednessAfter, ...}" },
  help: { kind: "boolean", help: "show this help" },
};

const FILE_HELP = [
  "",
  "FILE: JSON {weight: [layers][experts] or [experts], num_replicas?, num_groups?, num_nodes?, num_gpus?}",
  "      (a data/eplb/ case file works as is), or CSV with one row of loads per layer.",
  "'before' is vLLM's initial layout (slot i holds expert i % experts); balancedness = mean/max",
  "per-GPU load, aggregated vLLM's way (sum of means / sum of maxes).",
].join("\n");

/** EPLB's parameters, by their names in lib/eplb. */
type ParamName = "numReplicas" | "numGroups" | "numNodes" | "numGpus";

/** What an input file provides. */
interface EplbInput {
  weight: number[][];
  numReplicas?: number;
  numGroups?: number;
  numNodes?: number;
  numGpus?: number;
  /** The key each parameter was read from, as the file spells it (`num_gpus` or `numGpus`). */
  keys: Partial<Record<ParamName, string>>;
}

function parseCsv(text: string, file: string): EplbInput {
  const weight: number[][] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    weight.push(
      t.split(",").map((cell, j) => {
        const x = cell.trim() === "" ? NaN : Number(cell);
        if (!Number.isFinite(x)) throw new CliError(`${file}: line ${i + 1}, column ${j + 1}: expected a number, got ${JSON.stringify(cell.trim())}`);
        return x;
      }),
    );
  });
  if (weight.length === 0) throw new CliError(`${file}: no rows of loads found`);
  return { weight, keys: {} };
}

/** The key of `obj` that holds a parameter (snake_case first, then camelCase), or undefined. */
function paramKey(obj: Record<string, unknown>, snake: string, camel: string): string | undefined {
  return [snake, camel].find((k) => obj[k] !== undefined && obj[k] !== null);
}

function pickNumber(obj: Record<string, unknown>, key: string | undefined, file: string): number | undefined {
  if (key === undefined) return undefined;
  const v = obj[key];
  if (typeof v !== "number") throw new CliError(`${file}: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function parseJsonInput(text: string, file: string): EplbInput {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(data)) data = { weight: data };
  if (!data || typeof data !== "object") throw new CliError(`${file}: expected a JSON object with a "weight" field`);
  let obj = data as Record<string, unknown>;
  if (obj.weight === undefined && obj.inputs && typeof obj.inputs === "object") obj = obj.inputs as Record<string, unknown>;
  const w = obj.weight;
  if (!Array.isArray(w) || w.length === 0) throw new CliError(`${file}: "weight" must be a non-empty array [layers][experts] or [experts]`);
  const weight = (w.every((x) => !Array.isArray(x)) ? [w] : w) as number[][];
  const keys: Partial<Record<ParamName, string>> = {
    numReplicas: paramKey(obj, "num_replicas", "numReplicas"),
    numGroups: paramKey(obj, "num_groups", "numGroups"),
    numNodes: paramKey(obj, "num_nodes", "numNodes"),
    numGpus: paramKey(obj, "num_gpus", "numGpus"),
  };
  return {
    weight,
    numReplicas: pickNumber(obj, keys.numReplicas, file),
    numGroups: pickNumber(obj, keys.numGroups, file),
    numNodes: pickNumber(obj, keys.numNodes, file),
    numGpus: pickNumber(obj, keys.numGpus, file),
    keys,
  };
}

/**
 * Reads an EPLB input file (JSON or CSV, by extension or first character).
 * @throws {CliError} naming the file when it is missing, a directory, unreadable or malformed.
 */
export function readEplbInput(file: string): EplbInput {
  const text = readUserFile(file, "a JSON or CSV file of loads");
  const isJson = /\.json$/i.test(file) || /^\s*[[{]/.test(text);
  return isJson ? parseJsonInput(text, file) : parseCsv(text, file);
}

const FLAG_OF: Record<ParamName, string> = { numReplicas: "--replicas", numGroups: "--groups", numNodes: "--nodes", numGpus: "--gpus" };

/** Where a parameter's value came from: a flag, the input file (under `key`), or the default. */
type Origin = { from: "flag" } | { from: "file"; key: string } | { from: "default"; why: string };

/**
 * Rewrites an error of lib/eplb (which names `numReplicas`...) in the user's terms: each
 * parameter is named as the user gave it, a flag (`--gpus`) or the input file's key (`num_gpus`),
 * and the message ends saying which values came from the file and which were defaults.
 * @example speakUserTerms("numReplicas must be divisible by numGpus", { numReplicas: { from: "file", key: "num_replicas" }, numGpus: { from: "flag" }, ... }, "c.json")
 *   // => "num_replicas must be divisible by --gpus; num_replicas is from c.json"
 */
function speakUserTerms(message: string, origins: Record<ParamName, Origin>, file: string): string {
  const named = new Set<ParamName>();
  const text = message.replace(/\bnum(Replicas|Groups|Nodes|Gpus)\b/g, (m) => {
    const name = m as ParamName;
    named.add(name);
    const o = origins[name];
    return o.from === "file" ? o.key : FLAG_OF[name];
  });
  const notes: string[] = [];
  const fromFile = [...named].filter((n) => origins[n].from === "file").map((n) => (origins[n] as { key: string }).key);
  if (fromFile.length) notes.push(`${fromFile.join(" and ")} ${fromFile.length === 1 ? "is" : "are"} from ${file}`);
  for (const n of named) {
    const o = origins[n];
    if (o.from === "default") notes.push(`${FLAG_OF[n]} was not given and ${o.why}`);
  }
  return [text, ...notes].join("; ");
}

function optionalInt(args: ParsedArgs, name: string): number | undefined {
  const v = args.options[name];
  return v === undefined ? undefined : (v as number);
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

export const eplbCommand: Command = {
  summary: "place experts on GPUs with DeepSeek's EPLB (replicas + packing) and report balancedness",
  run(argv, io) {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab eplb --input FILE [--replicas N --groups G --nodes N --gpus P] [--json]", summary: this.summary, extra: FILE_HELP });
    if (!args) return 0;
    const file = getString(args, "input");
    if (!file) throw new CliError("--input FILE is required (JSON or CSV of loads [layers][experts])");
    const input = readEplbInput(file);
    const numExperts = Array.isArray(input.weight[0]) ? input.weight[0].length : 0;
    if (optionalInt(args, "gpus") === undefined && input.numGpus === undefined) throw new CliError("--gpus is required (or num_gpus in the input file)");
    // Each parameter: the flag, else the file's value, else the default; remember which, so an
    // error names what the user gave.
    const DEFAULTS: Record<ParamName, { value: number; why: string }> = {
      numReplicas: { value: numExperts, why: `defaults to the number of experts, ${numExperts}` },
      numGroups: { value: 1, why: "defaults to 1" },
      numNodes: { value: 1, why: "defaults to 1" },
      numGpus: { value: 0, why: "" }, // never used: required above
    };
    const origins = {} as Record<ParamName, Origin>;
    const pick = (name: ParamName): number => {
      const flag = optionalInt(args, FLAG_OF[name].slice(2));
      if (flag !== undefined) {
        origins[name] = { from: "flag" };
        return flag;
      }
      const fromFile = input[name];
      if (fromFile !== undefined) {
        origins[name] = { from: "file", key: input.keys[name] ?? name };
        return fromFile;
      }
      origins[name] = { from: "default", why: DEFAULTS[name].why };
      return DEFAULTS[name].value;
    };
    const params = { numReplicas: pick("numReplicas"), numGroups: pick("numGroups"), numNodes: pick("numNodes"), numGpus: pick("numGpus") };
    let result;
    try {
      result = rebalanceExperts(input.weight, params.numReplicas, params.numGroups, params.numNodes, params.numGpus);
    } catch (e) {
      if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
      // Speak in flags and the file's keys, not in lib/eplb's parameter names.
      throw new CliError(speakUserTerms(e.message, origins, file));
    }
    const before = gpuLoads(input.weight, initialPlacement(numExperts, params.numReplicas), params.numGpus);
    const after = gpuLoads(input.weight, result.phy2log, params.numGpus);
    const mBefore = balanceMetrics(before);
    const mAfter = balanceMetrics(after);
    const policy = eplbPolicy(params.numGroups, params.numNodes);
    if (getFlag(args, "json")) {
      io.out(
        JSON.stringify({
          ...result,
          gpuLoadsBefore: before,
          gpuLoadsAfter: after,
          balancednessBefore: mBefore.vllm,
          balancednessAfter: mAfter.vllm,
          sglangBalancednessBefore: mBefore.sglang,
          sglangBalancednessAfter: mAfter.sglang,
          policy,
          params: { ...params, numLayers: input.weight.length, numExperts },
        }) + "\n",
      );
      return 0;
    }
    const L = input.weight.length;
    const shown = Math.min(L, 4);
    const lines = [
      `EPLB (${policy} policy): ${L} layer(s) x ${numExperts} experts -> ${params.numReplicas} slots ` +
        `(${params.numReplicas - numExperts} redundant) on ${params.numGpus} GPUs, ${params.numNodes} node(s), ${params.numGroups} group(s)`,
      `balancedness (mean/max, vLLM aggregate): before ${mBefore.vllm.toFixed(3)} -> after ${mAfter.vllm.toFixed(3)}`,
      `balancedness (SGLang average):           before ${mBefore.sglang.toFixed(3)} -> after ${mAfter.sglang.toFixed(3)}`,
      `worst layer imbalance (max/mean):        before ${mBefore.worstImbalance.toFixed(3)} -> after ${mAfter.worstImbalance.toFixed(3)}`,
      "('before' = vLLM's initial layout: slot i holds expert i % experts)",
    ];
    for (let l = 0; l < shown; l++) {
      const hot = result.logcnt[l].map((c, e) => ({ c, e })).filter((x) => x.c > 1).map((x) => `${x.e}x${x.c}`);
      lines.push(
        "",
        `layer ${l}: per-GPU load before: ${before[l].map(fmt).join(" ")}`,
        `layer ${l}: per-GPU load after:  ${after[l].map(fmt).join(" ")}`,
        `layer ${l}: experts with extra replicas (expert x count): ${hot.length ? hot.join(" ") : "none"}`,
      );
    }
    if (L > shown) lines.push("", `(${L - shown} more layer(s): use --json for every layer)`);
    io.out(lines.join("\n") + "\n");
    return 0;
  },
};
