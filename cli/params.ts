/**
 * `moe-lab params <model>`: the study guide's capture template filled in from the model catalog
 * (model, total_parameters, active_parameters_per_token, num_experts, experts_per_token,
 * layers_with_experts), plus the part-by-part breakdown, the published figures and KV bytes per token.
 * `--json` prints those keys at the top level; `--capture FILE` also writes them as a capture record.
 */
import { Command, CliError, captureTarget, getFlag, getString, OptionSpecs, startCommand } from "./args";
import { listModels, loadModel, ModelSpec } from "../lib/models";
import {
  comparePublished, countParameters, expertBytes, formatBytes, formatParams, kvCachePerToken, paramsTemplate, PartCounts,
  PublishedComparison,
} from "../lib/params";
import { createCapture, writeCapture } from "../lib/capture";

const SPECS: OptionSpecs = {
  json: { kind: "boolean", help: "print one JSON object (the template's snake_case keys at the top level)" },
  capture: { kind: "string", help: "also write the fields as a capture record to this file (see `moe-lab compare`)" },
  timestamp: { kind: "boolean", help: "with --capture: also record when it was taken (the record is then no longer byte-identical from run to run)" },
  list: { kind: "boolean", help: "list the models of the catalog" },
  help: { kind: "boolean", help: "show this help" },
};

const PART_LABELS: Array<[keyof PartCounts, string]> = [
  ["inputEmbedding", "input embedding"], ["outputHead", "output head"], ["attention", "attention"], ["router", "router"],
  ["routedExperts", "routed experts"], ["sharedExperts", "shared experts"], ["denseMlps", "dense MLPs"], ["norms", "norms"],
  ["total", "total"],
];

function pctText(x: number): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(2)}%`;
}

function formatText(model: ModelSpec): string {
  const t = paramsTemplate(model);
  const c = countParameters(model);
  const kv = kvCachePerToken(model);
  const cmp = comparePublished(model);
  const lines = [
    `model: ${t.model}`,
    `total_parameters: ${t.total_parameters}`,
    `active_parameters_per_token: ${t.active_parameters_per_token}`,
    `num_experts: ${t.num_experts}`,
    `experts_per_token: ${t.experts_per_token}`,
    `layers_with_experts: ${t.layers_with_experts}`,
    "",
    `${model.name}: ${c.numLayers} layers (${c.numMoeLayers} MoE), ${model.architecture.numRoutedExperts} routed + ` +
      `${model.architecture.numSharedExperts} shared experts, top-${model.architecture.expertsPerToken}`,
    "",
    `${"part".padEnd(16)}${"total".padStart(18)}${"active".padStart(18)}`,
  ];
  for (const [key, label] of PART_LABELS) {
    const tot = c.total[key];
    const act = c.active[key];
    lines.push(`${label.padEnd(16)}${formatParams(tot).padStart(18)}${formatParams(act).padStart(18)}`);
  }
  lines.push("");
  const pub = (label: string, p: PublishedComparison) =>
    `${label}: published ${p.stated}, computed ${formatParams(p.computed)} (${p.compareWith}) ${pctText(p.errorPct)}; ` +
    `${p.rule}: ${p.agrees ? "yes" : "NO"}`;
  lines.push(pub("total", cmp.total), pub("active", cmp.active));
  if (cmp.checkpointTotal) lines.push(pub("checkpoint total", cmp.checkpointTotal));
  lines.push("");
  const window = kv.windowTokens === null ? "" : `; beyond ${kv.windowTokens} tokens only ${kv.numGlobalLayers} global layers grow: ${formatBytes(kv.globalLayersBytes)}`;
  lines.push(`KV cache per token (bf16, ${kv.kind.toUpperCase()}): ${formatBytes(kv.allLayersBytes)}${window}`);
  lines.push(`one routed expert: ${formatParams(c.perLayer.expert)} parameters, ${formatBytes(expertBytes(model, "bf16"))} in bf16, ${formatBytes(expertBytes(model, "fp8"))} in fp8`);
  lines.push("", `notes: ${model.notes}`);
  return lines.join("\n") + "\n";
}

function formatList(): string {
  const rows = listModels().map((id) => {
    const m = loadModel(id);
    const c = countParameters(m);
    const a = m.architecture;
    return [id, m.name, formatParams(c.total.total), formatParams(c.active.total), String(a.numRoutedExperts), String(a.expertsPerToken), String(c.numMoeLayers)];
  });
  const head = ["id", "name", "total", "active", "experts", "top-k", "MoE layers"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i >= 2 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

export const paramsCommand: Command = {
  summary: "total and active parameters of a catalog model, filled into the study guide's capture template",
  run(argv, io) {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab params <model> [--json] [--capture FILE] | moe-lab params --list", summary: this.summary, positionals: true });
    if (!args) return 0;
    const { file, stamp } = captureTarget(args);
    if (getFlag(args, "list")) {
      if (args.positionals.length) throw new CliError(`--list takes no model, got ${JSON.stringify(args.positionals[0])}`);
      if (file !== undefined) throw new CliError("--list writes no capture: --capture FILE needs a model id instead of --list");
      io.out(getFlag(args, "json") ? JSON.stringify(listModels()) + "\n" : formatList());
      return 0;
    }
    if (args.positionals.length !== 1) {
      throw new CliError(`expected one model id (one of ${listModels().join(", ")}), got ${args.positionals.length}`);
    }
    const id = args.positionals[0];
    if (!listModels().includes(id)) throw new CliError(`unknown model ${JSON.stringify(id)} (models: ${listModels().join(", ")})`);
    const model = loadModel(id);
    const template = paramsTemplate(model);
    if (file !== undefined) {
      writeCapture(file, createCapture(`params ${id}`, template, { source: `moe-lab params ${id}`, ...stamp }));
    }
    io.out(getFlag(args, "json") ? JSON.stringify(template) + "\n" : formatText(model));
    return 0;
  },
};
