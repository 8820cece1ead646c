/**
 * The model catalog: one JSON file per MoE model under data/models/ (architecture fields from
 * each model's config, published total and active parameter counts, a source for each, notes on
 * known differences), with a schema check that names the file and the field of any mistake.
 *
 * Introduced in notebooks/06-active-vs-total.ipynb; parameter counts are in lib/params.ts.
 */
import { readdirSync, readFileSync } from "fs";
import { basename } from "path";
import { dataPath } from "./paths";
import { describeValue, requireInteger, requireOneOf } from "./validate";

/** Grouped-query (or multi-head, when numKvHeads = numHeads) attention. */
export interface GqaAttention {
  kind: "gqa";
  /** Query heads. */
  numHeads: number;
  /** Key/value heads (= numHeads for multi-head attention). */
  numKvHeads: number;
  /** Dimension of one head. */
  headDim: number;
  /** Biases on the q, k and v projections. */
  qkvBias: boolean;
  /** Bias on the output projection. */
  outputBias: boolean;
  /** QK-RMSNorm: none, per head (2 x headDim weights) or over the full q and k widths. */
  qkNorm: "none" | "per-head" | "full-width";
  /** One learned attention-sink logit per head (gpt-oss). */
  sinks: boolean;
}

/** Multi-head latent attention (DeepSeek-V3, Kimi K2): low-rank q and compressed kv latent. */
export interface MlaAttention {
  kind: "mla";
  numHeads: number;
  /** Rank of the query down-projection (q_lora_rank). */
  qLoraRank: number;
  /** Rank of the key/value latent (kv_lora_rank): what the KV cache stores per layer. */
  kvLoraRank: number;
  /** Per-head query/key dimension without rotary embedding. */
  qkNopeHeadDim: number;
  /** Per-head rotary query/key dimension (the rotary key is shared by all heads and cached). */
  qkRopeHeadDim: number;
  /** Per-head value dimension. */
  vHeadDim: number;
}

/** The attention shape of a model. */
export type AttentionConfig = GqaAttention | MlaAttention;

/** Local attention on some layers: layer i is global when (i + 1) % globalEvery === 0. */
export interface LocalAttention {
  /** "sliding": each token sees the last windowTokens; "chunked": tokens see their own chunk. */
  kind: "sliding" | "chunked";
  /** Window (or chunk) length in tokens: the most KV a local layer ever keeps per sequence. */
  windowTokens: number;
  /** Every globalEvery-th layer uses full (global) attention; the others are local. */
  globalEvery: number;
}

/** The architecture fields of a model, named after the usual config keys. */
export interface ModelArchitecture {
  /** Model width h (hidden_size). */
  hiddenSize: number;
  /** Decoder layers (num_hidden_layers), not counting an MTP module. */
  numLayers: number;
  /** Layers 0..firstDenseLayers-1 have a dense MLP (first_k_dense_replace). */
  firstDenseLayers: number;
  /** Of the remaining layers, layer i is MoE when (i + 1) % moeLayerStep === 0 (Llama 4 Maverick: 2). */
  moeLayerStep: number;
  /** Routed experts per MoE layer. */
  numRoutedExperts: number;
  /** Shared experts per MoE layer (seen by every token). */
  numSharedExperts: number;
  /** Routed experts chosen per token (top-k). */
  expertsPerToken: number;
  /** Intermediate width of one routed expert (SwiGLU: 3 matrices of h x width). */
  expertIntermediateSize: number;
  /** Intermediate width of one shared expert; null when there is none. */
  sharedExpertIntermediateSize: number | null;
  /** The shared expert output goes through a sigmoid gate of h weights (Qwen1.5-MoE). */
  sharedExpertGate: boolean;
  /** Intermediate width of the dense MLP layers; null when every layer is MoE. */
  denseIntermediateSize: number | null;
  /** Routed (and shared) expert projections carry biases (gpt-oss). */
  expertBias: boolean;
  /** The router has one bias per expert (gpt-oss; DeepSeek's score-correction bias). */
  routerBias: boolean;
  /** Vocabulary size. */
  vocabSize: number;
  /** Input embedding and output head share one matrix. */
  tiedEmbeddings: boolean;
  /** Multi-token-prediction layers shipped with the checkpoint (DeepSeek-V3: 1). */
  mtpLayers: number;
  attention: AttentionConfig;
  /** Sliding-window or chunked layers; null when every layer attends to the full context. */
  localAttention: LocalAttention | null;
  /**
   * Group-limited routing: the experts form `groups` equal groups and each token picks its experts
   * inside `topkGroups` of them (DeepSeek-V3: 4 of 8, n_group / topk_group). Absent or null: none.
   */
  routingGroups?: RoutingGroups | null;
}

/** Group-limited routing (see `ModelArchitecture.routingGroups`). */
export interface RoutingGroups {
  groups: number;
  topkGroups: number;
}

/** How a published figure is counted, so the computed count can be compared like with like. */
export type CompareWith = "text" | "text+vision" | "without-input-embedding" | "with-mtp-checkpoint";

/** A published parameter count and where it comes from. */
export interface PublishedFigure {
  /** The figure as a number of parameters. */
  value: number;
  /** The figure as published ("671B"). */
  stated: string;
  /** true when stated to enough digits to compare within 1%; false when rounded (or truncated). */
  exact: boolean;
  /** The unit of the last stated digit, in parameters (1e9 for "37B", 1e8 for "3.3B"). */
  precision: number;
  /** What the publisher counted. */
  compareWith: CompareWith;
  source: string;
}

/** One catalog entry: a model's architecture, published figures, sources and notes. */
export interface ModelSpec {
  /** Kebab-case id, equal to the file name without .json. */
  id: string;
  name: string;
  family: string;
  architecture: ModelArchitecture;
  published: { total: PublishedFigure; active: PublishedFigure; checkpointTotal?: PublishedFigure };
  /** Parameters of a vision encoder counted in the published total (Llama 4). */
  visionEncoderParams?: number;
  /** Where the facts come from, by topic. */
  sources: Record<string, string>;
  /** Known differences between the computed and the published figures. */
  notes: string;
}

const ID_PATTERN = /^[a-z0-9]+(?:[.-][a-z0-9]+)*$/;
const COMPARE_WITH: readonly CompareWith[] = ["text", "text+vision", "without-input-embedding", "with-mtp-checkpoint"];

// ---- schema check helpers: every message starts with "<file>: <field>" ----

function obj(where: string, field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TypeError(`${where}: ${field} must be an object, got ${describeValue(v)}`);
  }
  return v as Record<string, unknown>;
}

function str(where: string, field: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0) {
    throw new TypeError(`${where}: ${field} must be a non-empty string, got ${describeValue(v)}`);
  }
  return v;
}

function bool(where: string, field: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new TypeError(`${where}: ${field} must be true or false, got ${describeValue(v)}`);
  return v;
}

function int(where: string, field: string, v: unknown, min: number, max?: number): number {
  return requireInteger(`${where}: ${field}`, v, max === undefined ? { min } : { min, max });
}

function onlyKeys(where: string, field: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new RangeError(`${where}: ${field}.${k} is not a known field (known: ${allowed.join(", ")})`);
    }
  }
}

function checkAttention(where: string, v: unknown): AttentionConfig {
  const a = obj(where, "architecture.attention", v);
  const f = "architecture.attention";
  const kind = requireOneOf(`${where}: ${f}.kind`, a.kind, ["gqa", "mla"] as const);
  if (kind === "gqa") {
    onlyKeys(where, f, a, ["kind", "numHeads", "numKvHeads", "headDim", "qkvBias", "outputBias", "qkNorm", "sinks"]);
    const numHeads = int(where, `${f}.numHeads`, a.numHeads, 1);
    const numKvHeads = int(where, `${f}.numKvHeads`, a.numKvHeads, 1, numHeads);
    if (numHeads % numKvHeads !== 0) {
      throw new RangeError(`${where}: ${f}.numKvHeads must divide numHeads (${numHeads}), got ${numKvHeads}`);
    }
    return {
      kind, numHeads, numKvHeads,
      headDim: int(where, `${f}.headDim`, a.headDim, 1),
      qkvBias: bool(where, `${f}.qkvBias`, a.qkvBias),
      outputBias: bool(where, `${f}.outputBias`, a.outputBias),
      qkNorm: requireOneOf(`${where}: ${f}.qkNorm`, a.qkNorm, ["none", "per-head", "full-width"] as const),
      sinks: bool(where, `${f}.sinks`, a.sinks),
    };
  }
  onlyKeys(where, f, a, ["kind", "numHeads", "qLoraRank", "kvLoraRank", "qkNopeHeadDim", "qkRopeHeadDim", "vHeadDim"]);
  return {
    kind,
    numHeads: int(where, `${f}.numHeads`, a.numHeads, 1),
    qLoraRank: int(where, `${f}.qLoraRank`, a.qLoraRank, 1),
    kvLoraRank: int(where, `${f}.kvLoraRank`, a.kvLoraRank, 1),
    qkNopeHeadDim: int(where, `${f}.qkNopeHeadDim`, a.qkNopeHeadDim, 1),
    qkRopeHeadDim: int(where, `${f}.qkRopeHeadDim`, a.qkRopeHeadDim, 0),
    vHeadDim: int(where, `${f}.vHeadDim`, a.vHeadDim, 1),
  };
}

function checkLocal(where: string, v: unknown, numLayers: number): LocalAttention | null {
  if (v === null) return null;
  const f = "architecture.localAttention";
  const l = obj(where, f, v);
  onlyKeys(where, f, l, ["kind", "windowTokens", "globalEvery"]);
  return {
    kind: requireOneOf(`${where}: ${f}.kind`, l.kind, ["sliding", "chunked"] as const),
    windowTokens: int(where, `${f}.windowTokens`, l.windowTokens, 1),
    globalEvery: int(where, `${f}.globalEvery`, l.globalEvery, 2, numLayers),
  };
}

const ARCH_KEYS = [
  "hiddenSize", "numLayers", "firstDenseLayers", "moeLayerStep", "numRoutedExperts", "numSharedExperts",
  "expertsPerToken", "expertIntermediateSize", "sharedExpertIntermediateSize", "sharedExpertGate",
  "denseIntermediateSize", "expertBias", "routerBias", "vocabSize", "tiedEmbeddings", "mtpLayers",
  "attention", "localAttention", "routingGroups",
] as const;

function nullableInt(where: string, field: string, v: unknown): number | null {
  return v === null ? null : int(where, field, v, 1);
}

function checkRoutingGroups(where: string, v: unknown, numRoutedExperts: number): RoutingGroups | null {
  if (v === undefined || v === null) return null;
  const f = "architecture.routingGroups";
  const g = obj(where, f, v);
  onlyKeys(where, f, g, ["groups", "topkGroups"]);
  const groups = int(where, `${f}.groups`, g.groups, 2, numRoutedExperts);
  if (numRoutedExperts % groups !== 0) throw new RangeError(`${where}: ${f}.groups must divide numRoutedExperts (${numRoutedExperts}), got ${groups}`);
  return { groups, topkGroups: int(where, `${f}.topkGroups`, g.topkGroups, 1, groups) };
}

function checkArchitecture(where: string, v: unknown): ModelArchitecture {
  const a = obj(where, "architecture", v);
  onlyKeys(where, "architecture", a, ARCH_KEYS);
  const f = (k: string) => `architecture.${k}`;
  const numLayers = int(where, f("numLayers"), a.numLayers, 1);
  const numRoutedExperts = int(where, f("numRoutedExperts"), a.numRoutedExperts, 2);
  const arch: ModelArchitecture = {
    hiddenSize: int(where, f("hiddenSize"), a.hiddenSize, 1),
    numLayers,
    firstDenseLayers: int(where, f("firstDenseLayers"), a.firstDenseLayers, 0, numLayers - 1),
    moeLayerStep: int(where, f("moeLayerStep"), a.moeLayerStep, 1, numLayers),
    numRoutedExperts,
    numSharedExperts: int(where, f("numSharedExperts"), a.numSharedExperts, 0),
    expertsPerToken: int(where, f("expertsPerToken"), a.expertsPerToken, 1, numRoutedExperts),
    expertIntermediateSize: int(where, f("expertIntermediateSize"), a.expertIntermediateSize, 1),
    sharedExpertIntermediateSize: nullableInt(where, f("sharedExpertIntermediateSize"), a.sharedExpertIntermediateSize),
    sharedExpertGate: bool(where, f("sharedExpertGate"), a.sharedExpertGate),
    denseIntermediateSize: nullableInt(where, f("denseIntermediateSize"), a.denseIntermediateSize),
    expertBias: bool(where, f("expertBias"), a.expertBias),
    routerBias: bool(where, f("routerBias"), a.routerBias),
    vocabSize: int(where, f("vocabSize"), a.vocabSize, 1),
    tiedEmbeddings: bool(where, f("tiedEmbeddings"), a.tiedEmbeddings),
    mtpLayers: int(where, f("mtpLayers"), a.mtpLayers, 0),
    attention: checkAttention(where, a.attention),
    localAttention: checkLocal(where, a.localAttention, numLayers),
    routingGroups: checkRoutingGroups(where, a.routingGroups, numRoutedExperts),
  };
  if ((arch.numSharedExperts > 0) !== (arch.sharedExpertIntermediateSize !== null)) {
    throw new RangeError(
      `${where}: ${f("sharedExpertIntermediateSize")} must be an integer >= 1 when numSharedExperts > 0 and null otherwise, ` +
        `got ${describeValue(arch.sharedExpertIntermediateSize)} with numSharedExperts ${arch.numSharedExperts}`,
    );
  }
  const moe = moeLayerIndicesOf(arch).length;
  if (moe === 0) {
    throw new RangeError(`${where}: ${f("moeLayerStep")} and firstDenseLayers leave no MoE layer (numLayers ${numLayers})`);
  }
  if (moe < numLayers && arch.denseIntermediateSize === null) {
    throw new RangeError(`${where}: ${f("denseIntermediateSize")} must be an integer >= 1 when some layers are dense, got null`);
  }
  return arch;
}

function checkFigure(where: string, field: string, v: unknown): PublishedFigure {
  const p = obj(where, field, v);
  onlyKeys(where, field, p, ["value", "stated", "exact", "precision", "compareWith", "source"]);
  return {
    value: int(where, `${field}.value`, p.value, 1),
    stated: str(where, `${field}.stated`, p.stated),
    exact: bool(where, `${field}.exact`, p.exact),
    precision: int(where, `${field}.precision`, p.precision, 1),
    compareWith: requireOneOf(`${where}: ${field}.compareWith`, p.compareWith, COMPARE_WITH),
    source: str(where, `${field}.source`, p.source),
  };
}

function moeLayerIndicesOf(a: Pick<ModelArchitecture, "numLayers" | "firstDenseLayers" | "moeLayerStep">): number[] {
  const out: number[] = [];
  for (let i = a.firstDenseLayers; i < a.numLayers; i++) if ((i + 1) % a.moeLayerStep === 0) out.push(i);
  return out;
}

/**
 * Checks a parsed catalog entry against the schema and returns a typed, fresh copy.
 * @param value the parsed JSON of one file
 * @param where the file name used in error messages ("data/models/dbrx.json")
 * @throws {TypeError} when a field has the wrong type; {RangeError} when a value is out of range,
 *   a field is unknown or fields contradict each other. Messages start with `where: field`.
 * @example validateModel({ id: "x" }, "x.json") // throws TypeError "x.json: name must be a non-empty string, got undefined"
 */
export function validateModel(value: unknown, where: string): ModelSpec {
  if (typeof where !== "string") throw new TypeError(`where must be a string, got ${describeValue(where)}`);
  const m = obj(where, "(top level)", value);
  onlyKeys(where, "(top level)", m, ["id", "name", "family", "architecture", "published", "visionEncoderParams", "sources", "notes"]);
  const id = str(where, "id", m.id);
  if (!ID_PATTERN.test(id)) throw new RangeError(`${where}: id must be kebab-case (a-z, 0-9, - and .), got ${describeValue(id)}`);
  const name = str(where, "name", m.name);
  const family = str(where, "family", m.family);
  const architecture = checkArchitecture(where, m.architecture);
  const pub = obj(where, "published", m.published);
  onlyKeys(where, "published", pub, ["total", "active", "checkpointTotal"]);
  const published: ModelSpec["published"] = {
    total: checkFigure(where, "published.total", pub.total),
    active: checkFigure(where, "published.active", pub.active),
  };
  if (pub.checkpointTotal !== undefined) published.checkpointTotal = checkFigure(where, "published.checkpointTotal", pub.checkpointTotal);
  const wantsVision = published.total.compareWith === "text+vision";
  const visionEncoderParams = m.visionEncoderParams === undefined ? undefined : int(where, "visionEncoderParams", m.visionEncoderParams, 1);
  if (wantsVision && visionEncoderParams === undefined) {
    throw new RangeError(`${where}: visionEncoderParams must be an integer >= 1 when published.total.compareWith is "text+vision", got undefined`);
  }
  if (published.checkpointTotal?.compareWith === "with-mtp-checkpoint" && architecture.mtpLayers === 0) {
    throw new RangeError(`${where}: architecture.mtpLayers must be >= 1 when a checkpoint total counts the MTP module, got 0`);
  }
  const src = obj(where, "sources", m.sources);
  const sources: Record<string, string> = {};
  for (const [k, v] of Object.entries(src)) sources[k] = str(where, `sources.${k}`, v);
  if (!sources.architecture) throw new TypeError(`${where}: sources.architecture must be a non-empty string, got undefined`);
  const notes = str(where, "notes", m.notes);
  const spec: ModelSpec = { id, name, family, architecture, published, sources, notes };
  if (visionEncoderParams !== undefined) spec.visionEncoderParams = visionEncoderParams;
  return spec;
}

/**
 * Reads and checks one catalog file from any path (the catalog's own files: use `loadModel`).
 * The id inside must equal the file name without `.json`.
 * @param file path of a model JSON file
 * @throws {SyntaxError} when it is not JSON; {TypeError}/{RangeError} from `validateModel`, naming the file.
 * @example loadModelFile("data/models/dbrx.json").architecture.numRoutedExperts // => 16
 */
export function loadModelFile(file: string): ModelSpec {
  if (typeof file !== "string" || file.length === 0) throw new TypeError(`file must be a non-empty path string, got ${describeValue(file)}`);
  const where = basename(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    if (e instanceof SyntaxError) throw new SyntaxError(`${where} is not valid JSON: ${e.message}`);
    throw e;
  }
  const spec = validateModel(parsed, where);
  const expected = where.replace(/\.json$/, "");
  if (spec.id !== expected) throw new RangeError(`${where}: id must equal the file name "${expected}", got ${describeValue(spec.id)}`);
  return spec;
}

/**
 * Ids of the models in the catalog (data/models/*.json), sorted.
 * @example listModels().includes("deepseek-v3") // => true
 */
export function listModels(): string[] {
  return readdirSync(dataPath("models"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();
}

/**
 * Loads and checks one model of the catalog.
 * @param id kebab-case model id ("deepseek-v3"); see `listModels()`
 * @throws {TypeError} when id is not a string; {RangeError} for an unknown id (listing the known
 *   ones) or a malformed file (naming the file and field).
 * @example loadModel("mixtral-8x7b").architecture.expertsPerToken // => 2
 */
export function loadModel(id: string): ModelSpec {
  if (typeof id !== "string") throw new TypeError(`id must be a model id string, got ${describeValue(id)}`);
  const known = listModels();
  if (!known.includes(id)) throw new RangeError(`id must be one of ${known.join(", ")}, got ${describeValue(id)}`);
  return loadModelFile(dataPath("models", `${id}.json`));
}

/**
 * Loads every model of the catalog, in `listModels()` order.
 * @example loadAllModels().length // => 13
 */
export function loadAllModels(): ModelSpec[] {
  return listModels().map((id) => loadModel(id));
}

/**
 * Indices (0-based) of the layers whose MLP is a mixture of experts.
 * @throws {TypeError}/{RangeError} when model is not a valid catalog entry.
 * @example moeLayerIndices(loadModel("deepseek-v3")).length // => 58 (layers 3..60)
 */
export function moeLayerIndices(model: ModelSpec): number[] {
  return moeLayerIndicesOf(checkedModel(model).architecture);
}

/**
 * Re-checks a model passed to a public function (a fresh, validated copy; the input is never mutated).
 * @throws {TypeError}/{RangeError} naming "model" and the bad field.
 * @example checkedModel(loadModel("dbrx")).id // => "dbrx"
 */
export function checkedModel(model: ModelSpec): ModelSpec {
  if (typeof model !== "object" || model === null) {
    throw new TypeError(`model must be a catalog entry from loadModel(id), got ${describeValue(model)}`);
  }
  return validateModel(model, "model");
}
