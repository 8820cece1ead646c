/**
 * Expert-Parallel Load Balancing (EPLB): a port of DeepSeek's `eplb.py` (deepseek-ai/EPLB),
 * output-identical on the reference cases in data/eplb/, plus the per-GPU loads and the
 * balancedness metrics used to judge a placement.
 *
 * The algorithm (hierarchical policy, used when `numGroups % numNodes == 0`):
 * 1. pack expert groups onto nodes so that each node gets the same number of groups and
 *    node loads are as even as possible;
 * 2. within each node, give hot experts extra replicas (redundant slots) one at a time, always to
 *    the expert with the highest load per replica;
 * 3. pack each node's replicas onto its GPUs, the same number per GPU, loads as even as possible.
 * The global policy is the same with one group and one node: replicate over all experts, then
 * pack all replicas onto all GPUs.
 *
 * Faithfulness rules (see data/eplb/SOURCE.md):
 * - float32 arithmetic as eplb.py (torch float32): inputs, group sums, load-per-replica divisions
 *   and pack accumulations are rounded with `Math.fround`;
 * - ties: packing takes items in a STABLE descending order (equal loads: lower index first) and
 *   puts each in the lightest pack with room (equal loads: lowest pack index); replication gives the
 *   next replica to the highest load per replica (equal: lowest expert index). eplb.py's torch sort
 *   is unstable, so on tied loads its output can differ; the reference cases record both.
 * - `log2phy[layer][expert]` lists the expert's slots in replica-creation order, padded with -1.
 *
 * Vocabulary: expert (logical), replica / physical slot, rank (GPU), node, layer, load (tokens),
 * imbalance (max/mean), balancedness (mean/max).
 * Introduced in notebooks/03-eplb.ipynb.
 */
import { describeValue, requireInteger, requireMatrix, requireNumberArray, requireOneOf } from "./validate";
import { BalanceMetrics, modelBalance } from "./metrics";

// ---------------------------------------------------------------------------------------------
// Row kernels on typed arrays. Loads are float32 values (Float32Array); every scratch buffer
// comes from a `Scratch` allocated once per call, so the hot loops allocate nothing.
// ---------------------------------------------------------------------------------------------

/** Largest item count a row may have (the sort key packs the index in 21 bits). */
const MAX_SORT_ITEMS = 1 << 21;

/** Scratch buffers for rows of up to `n` items and `packs` packs. */
interface Scratch {
  order: Int32Array;
  keys: Float64Array;
  /** One float32 and its bits, to read a float32's bit pattern. */
  one: Float32Array;
  oneBits: Uint32Array;
  heap: Int32Array;
  heapKey: Float64Array;
  packCount: Int32Array;
}

function createScratch(n: number): Scratch {
  const one = new Float32Array(1);
  return {
    order: new Int32Array(n),
    keys: new Float64Array(n),
    one,
    oneBits: new Uint32Array(one.buffer),
    heap: new Int32Array(n),
    heapKey: new Float64Array(n),
    packCount: new Int32Array(n),
  };
}

// A binary min-heap of ids ordered by (heapKey[id], id): ties go to the lower id. Used for the
// lightest pack (key = load) and for the expert with the highest load per replica (key = -load).
function heapLess(key: Float64Array, a: number, b: number): boolean {
  return key[a] < key[b] || (key[a] === key[b] && a < b);
}

function heapPush(heap: Int32Array, size: number, key: Float64Array, id: number): void {
  let i = size;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!heapLess(key, id, heap[p])) break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = id;
}

/** Restores the heap after heap[start]'s key grew (or after moving the last id to the top). */
function heapSiftDown(heap: Int32Array, size: number, key: Float64Array, start: number): void {
  let i = start;
  const id = heap[i];
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    const c = r < size && heapLess(key, heap[r], heap[l]) ? r : l;
    if (!heapLess(key, heap[c], id)) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = id;
}

/**
 * Writes into `s.order` the indices 0..n-1 by descending `w`, ties by ascending index (a stable
 * descending sort). `w` holds non-negative float32 values, whose bit patterns order like the
 * values, so (complemented bits) x 2^21 + index is one exact float64 key: a native numeric sort.
 */
function stableDescendingOrder(w: Float32Array, n: number, s: Scratch): void {
  const f = s.one;
  const u = s.oneBits;
  const keys = n === s.keys.length ? s.keys : s.keys.subarray(0, n);
  for (let i = 0; i < n; i++) {
    f[0] = w[i];
    keys[i] = (0xffffffff - u[0]) * MAX_SORT_ITEMS + i;
  }
  keys.sort();
  for (let k = 0; k < n; k++) s.order[k] = keys[k] % MAX_SORT_ITEMS;
}

/**
 * Packs the `w.length` items into `numPacks` packs of `w.length / numPacks` items each: items
 * in descending load, each into the lightest pack with room (ties: lowest pack index).
 * Writes each item's pack and its rank (position) inside the pack.
 */
function packRow(w: Float32Array, numPacks: number, packOut: Int32Array, rankOut: Int32Array, s: Scratch): void {
  const n = w.length;
  const perPack = n / numPacks;
  if (perPack === 1) {
    // eplb.py: one item per pack is the identity, with no sort.
    for (let i = 0; i < n; i++) {
      packOut[i] = i;
      rankOut[i] = 0;
    }
    return;
  }
  const load = s.heapKey; // pack loads, float32 values
  const count = s.packCount;
  let size = 0;
  for (let p = 0; p < numPacks; p++) {
    load[p] = 0;
    count[p] = 0;
    heapPush(s.heap, size++, load, p);
  }
  stableDescendingOrder(w, n, s);
  for (let k = 0; k < n; k++) {
    const item = s.order[k];
    const p = s.heap[0]; // the lightest pack with room
    packOut[item] = p;
    rankOut[item] = count[p]++;
    load[p] = Math.fround(load[p] + w[item]);
    if (count[p] === perPack) s.heap[0] = s.heap[--size]; // full: no longer a candidate
    heapSiftDown(s.heap, size, load, 0);
  }
}

/**
 * Replicates the `w.length` experts into `numPhy` slots: slot i < w.length holds expert i, each
 * further slot goes to the expert with the highest load per replica (ties: lowest index).
 */
function replicateRow(w: Float32Array, numPhy: number, phy2log: Int32Array, rank: Int32Array, logcnt: Int32Array, s: Scratch): void {
  const numLog = w.length;
  const negPerReplica = s.heapKey; // -fround(w / count): the min-heap top is the max load per replica
  let size = 0;
  for (let e = 0; e < numLog; e++) {
    phy2log[e] = e;
    rank[e] = 0;
    logcnt[e] = 1;
  }
  if (numPhy === numLog) return;
  for (let e = 0; e < numLog; e++) {
    negPerReplica[e] = -w[e];
    heapPush(s.heap, size++, negPerReplica, e);
  }
  for (let i = numLog; i < numPhy; i++) {
    const e = s.heap[0];
    phy2log[i] = e;
    rank[i] = logcnt[e]++;
    negPerReplica[e] = -Math.fround(w[e] / logcnt[e]);
    heapSiftDown(s.heap, size, negPerReplica, 0);
  }
}

/** Rounds a row of numbers to float32, as `weight.float()` does (and -0 to +0). */
function toFloat32Row(row: ArrayLike<number>): Float32Array {
  const out = new Float32Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] + 0;
  return out;
}

function plainArray(t: Int32Array): number[] {
  const out = new Array<number>(t.length);
  for (let i = 0; i < t.length; i++) out[i] = t[i];
  return out;
}

function toNestedArray(rows: Int32Array[]): number[][] {
  return rows.map(plainArray);
}

// ---------------------------------------------------------------------------------------------
// Validation.
// ---------------------------------------------------------------------------------------------

function requireLoadMatrix(name: string, weight: unknown): { rows: number; cols: number } {
  return requireMatrix(name, weight, { min: 0 });
}

/** The placement parameters of `rebalanceExperts`, validated. */
export interface EplbParams {
  numReplicas: number;
  numGroups: number;
  numNodes: number;
  numGpus: number;
}

/**
 * Checks EPLB's parameters against the number of logical experts and returns them.
 * Stricter than eplb.py, which checks `numExperts % numGroups` and `numGpus % numNodes` only under
 * the hierarchical policy: a layout with GPUs not divisible by nodes is not a real deployment.
 * @param numExperts logical experts per layer.
 * @throws {RangeError} naming the violated condition: `numReplicas >= numExperts`,
 *   `numReplicas % numGpus == 0`, `numGpus % numNodes == 0`, `numExperts % numGroups == 0`.
 * @example validateEplbParams(12, { numReplicas: 16, numGroups: 4, numNodes: 2, numGpus: 8 }).numGpus // => 8
 */
export function validateEplbParams(numExperts: number, p: EplbParams): EplbParams {
  requireInteger("numExperts", numExperts, { min: 1 });
  if (!p || typeof p !== "object") throw new TypeError(`params must be an object, got ${describeValue(p)}`);
  const numReplicas = requireInteger("numReplicas", p.numReplicas, { min: 1 });
  const numGroups = requireInteger("numGroups", p.numGroups, { min: 1 });
  const numNodes = requireInteger("numNodes", p.numNodes, { min: 1 });
  const numGpus = requireInteger("numGpus", p.numGpus, { min: 1 });
  requireInteger("numReplicas", numReplicas, { max: MAX_SORT_ITEMS });
  if (numReplicas < numExperts) {
    throw new RangeError(
      `numReplicas must be >= the number of logical experts (${numExperts}) so every expert has a slot, got ${numReplicas}`,
    );
  }
  if (numReplicas % numGpus !== 0) {
    throw new RangeError(
      `numReplicas must be divisible by numGpus (every GPU holds numReplicas / numGpus slots), got numReplicas=${numReplicas}, numGpus=${numGpus} (${numReplicas} % ${numGpus} = ${numReplicas % numGpus})`,
    );
  }
  if (numGpus % numNodes !== 0) {
    throw new RangeError(
      `numGpus must be divisible by numNodes (every node has numGpus / numNodes GPUs), got numGpus=${numGpus}, numNodes=${numNodes} (${numGpus} % ${numNodes} = ${numGpus % numNodes})`,
    );
  }
  if (numExperts % numGroups !== 0) {
    throw new RangeError(
      `numGroups must divide the number of logical experts (${numExperts}), got numGroups=${numGroups} (${numExperts} % ${numGroups} = ${numExperts % numGroups})`,
    );
  }
  return { numReplicas, numGroups, numNodes, numGpus };
}

// ---------------------------------------------------------------------------------------------
// Public steps.
// ---------------------------------------------------------------------------------------------

/** Where each item went: `packIndex[row][item]` and its position inside the pack. */
export interface PackingResult {
  /** Pack of each item, `[rows][items]`. */
  packIndex: number[][];
  /** Position of each item inside its pack (order of arrival), `[rows][items]`. */
  rankInPack: number[][];
}

/**
 * Balanced packing (eplb.py `balanced_packing`): puts the items of each row into `numPacks`
 * packs of equal item count, greedily: items in descending weight (ties: lower index first), each
 * into the lightest pack that still has room (ties: lowest pack index). With one item per pack it
 * is the identity. Sums in float32.
 * @param weight `[rows][items]` item loads (tokens), each >= 0; items must be divisible by numPacks.
 * @param numPacks number of packs (nodes or GPUs), >= 1.
 * @throws {RangeError} on negative/NaN loads, ragged rows, or items not divisible by numPacks.
 * @example balancedPacking([[4, 3, 2, 1]], 2) // => { packIndex: [[0, 1, 1, 0]], rankInPack: [[0, 0, 1, 1]] }
 */
export function balancedPacking(weight: ArrayLike<number>[], numPacks: number): PackingResult {
  const { cols } = requireLoadMatrix("weight", weight);
  requireInteger("numPacks", numPacks, { min: 1 });
  if (cols > MAX_SORT_ITEMS) throw new RangeError(`weight rows must have at most ${MAX_SORT_ITEMS} items, got ${cols}`);
  if (cols % numPacks !== 0) {
    throw new RangeError(`numPacks must divide the number of items per row (${cols}), got numPacks=${numPacks}`);
  }
  const packIndex: Int32Array[] = [];
  const rankInPack: Int32Array[] = [];
  const scratch = createScratch(cols);
  for (const row of weight) {
    const pack = new Int32Array(cols);
    const rank = new Int32Array(cols);
    packRow(toFloat32Row(row), numPacks, pack, rank, scratch);
    packIndex.push(pack);
    rankInPack.push(rank);
  }
  return { packIndex: toNestedArray(packIndex), rankInPack: toNestedArray(rankInPack) };
}

/** Result of replicating experts into physical slots. */
export interface ReplicationResult {
  /** Logical expert held by each slot, `[rows][numPhysical]`. */
  phy2log: number[][];
  /** Replica number of each slot among its expert's replicas (0 = the original), `[rows][numPhysical]`. */
  rank: number[][];
  /** Replica count of each expert, `[rows][experts]`. */
  logcnt: number[][];
}

/**
 * Replication (eplb.py `replicate_experts`): slot i < experts holds expert i; each further slot
 * goes to the expert with the highest load per replica, `load / count` in float32 (ties: lowest
 * expert index).
 * @param weight `[rows][experts]` loads (tokens), each >= 0.
 * @param numPhysical physical slots per row, >= experts.
 * @throws {RangeError} on bad loads or `numPhysical < experts`.
 * @example replicateExperts([[10, 4]], 3).phy2log // => [[0, 1, 0]]
 */
export function replicateExperts(weight: ArrayLike<number>[], numPhysical: number): ReplicationResult {
  const { cols } = requireLoadMatrix("weight", weight);
  requireInteger("numPhysical", numPhysical, { min: cols });
  const phy2log: Int32Array[] = [];
  const rank: Int32Array[] = [];
  const logcnt: Int32Array[] = [];
  const scratch = createScratch(numPhysical);
  for (const row of weight) {
    const p = new Int32Array(numPhysical);
    const r = new Int32Array(numPhysical);
    const c = new Int32Array(cols);
    replicateRow(toFloat32Row(row), numPhysical, p, r, c, scratch);
    phy2log.push(p);
    rank.push(r);
    logcnt.push(c);
  }
  return { phy2log: toNestedArray(phy2log), rank: toNestedArray(rank), logcnt: toNestedArray(logcnt) };
}

/** Which EPLB policy applies: hierarchical when groups divide evenly over nodes, else global. */
export type EplbPolicy = "hierarchical" | "global";

/**
 * The policy eplb.py picks: hierarchical when `numGroups % numNodes == 0`, else global.
 * @example eplbPolicy(8, 4) // => "hierarchical"
 * @example eplbPolicy(4, 3) // => "global"
 */
export function eplbPolicy(numGroups: number, numNodes: number): EplbPolicy {
  requireInteger("numGroups", numGroups, { min: 1 });
  requireInteger("numNodes", numNodes, { min: 1 });
  return numGroups % numNodes === 0 ? "hierarchical" : "global";
}

/** One layer's placement in typed arrays (internal). */
interface LayerPlacementArrays {
  phy2log: Int32Array;
  phyrank: Int32Array;
  logcnt: Int32Array;
}

/** Buffers for `rebalanceLayer`, allocated once per `rebalanceExperts` call and reused per layer. */
interface LayerWorkspace {
  groupLoad: Float32Array;
  groupNode: Int32Array;
  groupRank: Int32Array;
  log2mlog: Int32Array;
  mlog2log: Int32Array;
  mlogcnt: Int32Array;
  nodeW: Float32Array;
  phy2mlog: Int32Array;
  rank: Int32Array;
  cnt: Int32Array;
  perSlot: Float32Array;
  slotGpu: Int32Array;
  slotPos: Int32Array;
  groupScratch: Scratch;
  slotScratch: Scratch;
}

function createLayerWorkspace(numExperts: number, numReplicas: number, numGroups: number, numNodes: number): LayerWorkspace {
  const expertsPerNode = numExperts / numNodes;
  const slotsPerNode = numReplicas / numNodes;
  return {
    groupLoad: new Float32Array(numGroups),
    groupNode: new Int32Array(numGroups),
    groupRank: new Int32Array(numGroups),
    log2mlog: new Int32Array(numExperts),
    mlog2log: new Int32Array(numExperts),
    mlogcnt: new Int32Array(numExperts),
    nodeW: new Float32Array(expertsPerNode),
    phy2mlog: new Int32Array(slotsPerNode),
    rank: new Int32Array(slotsPerNode),
    cnt: new Int32Array(expertsPerNode),
    perSlot: new Float32Array(slotsPerNode),
    slotGpu: new Int32Array(slotsPerNode),
    slotPos: new Int32Array(slotsPerNode),
    groupScratch: createScratch(numGroups),
    slotScratch: createScratch(slotsPerNode),
  };
}

/** The hierarchical algorithm on one layer (float32 row `w`); writes phy2log, phyrank, logcnt. */
function rebalanceLayer(
  w: Float32Array,
  numReplicas: number,
  numGroups: number,
  numNodes: number,
  numGpus: number,
  ws: LayerWorkspace,
  out: LayerPlacementArrays,
): void {
  const numExperts = w.length;
  const groupSize = numExperts / numGroups;
  const groupsPerNode = numGroups / numNodes;
  const expertsPerNode = numExperts / numNodes;
  const slotsPerNode = numReplicas / numNodes;
  const gpusPerNode = numGpus / numNodes;
  const slotsPerGpu = numReplicas / numGpus;
  const { groupLoad, groupNode, groupRank, log2mlog, mlog2log, mlogcnt, nodeW, phy2mlog, rank, cnt, perSlot, slotGpu, slotPos } = ws;

  // # Step 1: pack groups onto nodes (group load = float32 sum of its experts' loads).
  for (let g = 0; g < numGroups; g++) {
    let s = 0;
    for (let j = 0; j < groupSize; j++) s = Math.fround(s + w[g * groupSize + j]);
    groupLoad[g] = s;
  }
  packRow(groupLoad, numNodes, groupNode, groupRank, ws.groupScratch);
  // log2mlog: logical expert -> "node-major" logical index (node n owns [n*E/N, (n+1)*E/N)).
  for (let e = 0; e < numExperts; e++) {
    const g = (e / groupSize) | 0;
    const m = (groupNode[g] * groupsPerNode + groupRank[g]) * groupSize + (e % groupSize);
    log2mlog[e] = m;
    mlog2log[m] = e;
  }

  for (let node = 0; node < numNodes; node++) {
    // # Step 2: replicate experts within the node.
    for (let j = 0; j < expertsPerNode; j++) nodeW[j] = w[mlog2log[node * expertsPerNode + j]];
    replicateRow(nodeW, slotsPerNode, phy2mlog, rank, cnt, ws.slotScratch);
    for (let j = 0; j < expertsPerNode; j++) mlogcnt[node * expertsPerNode + j] = cnt[j];

    // # Step 3: pack the node's replicas onto its GPUs (replica load = expert load / count).
    for (let s = 0; s < slotsPerNode; s++) perSlot[s] = Math.fround(nodeW[phy2mlog[s]] / cnt[phy2mlog[s]]);
    packRow(perSlot, gpusPerNode, slotGpu, slotPos, ws.slotScratch);
    for (let s = 0; s < slotsPerNode; s++) {
      const dst = node * slotsPerNode + slotGpu[s] * slotsPerGpu + slotPos[s];
      out.phy2log[dst] = mlog2log[node * expertsPerNode + phy2mlog[s]];
      out.phyrank[dst] = rank[s];
    }
  }
  for (let e = 0; e < numExperts; e++) out.logcnt[e] = mlogcnt[log2mlog[e]];
}

/** eplb.py's outputs: the placement of every layer. */
export interface EplbResult {
  /** Logical expert held by each physical slot, `[layers][replicas]`; GPU g holds slots [g*R/P, (g+1)*R/P). */
  phy2log: number[][];
  /** Slots of each expert in replica-creation order, padded with -1, `[layers][experts][maxCount]`. */
  log2phy: number[][][];
  /** Replica count of each expert, `[layers][experts]`. */
  logcnt: number[][];
}

/**
 * DeepSeek EPLB (eplb.py `rebalance_experts`): decides how many replicas each logical expert gets
 * and which physical slot (hence which GPU) holds each replica, so per-GPU load is even.
 * Hierarchical policy when `numGroups % numNodes == 0`, else global (one group, one node).
 * @param weight `[layers][experts]` load of each logical expert (tokens, or any load >= 0).
 * @param numReplicas physical slots per layer (experts + redundant), divisible by numGpus.
 * @param numGroups expert groups (DeepSeek-V3's group-limited routing), dividing experts.
 * @param numNodes server nodes, dividing numGpus.
 * @param numGpus GPUs (EP ranks).
 * @throws {TypeError|RangeError} naming the parameter: negative/NaN loads, ragged rows,
 *   `numReplicas < experts`, `numReplicas % numGpus != 0`, `numGpus % numNodes != 0`,
 *   `experts % numGroups != 0`.
 * @example rebalanceExperts([[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86]], 16, 4, 2, 8).phy2log[0]
 * // => [5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1]
 */
export function rebalanceExperts(
  weight: ArrayLike<number>[],
  numReplicas: number,
  numGroups: number,
  numNodes: number,
  numGpus: number,
): EplbResult {
  const { cols: numExperts } = requireLoadMatrix("weight", weight);
  validateEplbParams(numExperts, { numReplicas, numGroups, numNodes, numGpus });
  // The global policy is the hierarchical one with a single group on a single node.
  const [G, N] = eplbPolicy(numGroups, numNodes) === "hierarchical" ? [numGroups, numNodes] : [1, 1];
  const ws = createLayerWorkspace(numExperts, numReplicas, G, N);
  const layers = weight.map((row) => {
    const out: LayerPlacementArrays = {
      phy2log: new Int32Array(numReplicas),
      phyrank: new Int32Array(numReplicas),
      logcnt: new Int32Array(numExperts),
    };
    rebalanceLayer(toFloat32Row(row), numReplicas, G, N, numGpus, ws, out);
    return out;
  });
  // log2phy: columns in replica-creation order (phyrank), padded with -1.
  let maxCount = 0;
  for (const l of layers) for (let e = 0; e < numExperts; e++) maxCount = Math.max(maxCount, l.logcnt[e]);
  const log2phy = layers.map((l) => {
    const table: number[][] = new Array<number[]>(numExperts);
    for (let e = 0; e < numExperts; e++) {
      const row = new Array<number>(maxCount);
      for (let k = 0; k < maxCount; k++) row[k] = -1;
      table[e] = row;
    }
    for (let s = 0; s < numReplicas; s++) table[l.phy2log[s]][l.phyrank[s]] = s;
    return table;
  });
  return {
    phy2log: layers.map((l) => plainArray(l.phy2log)),
    log2phy,
    logcnt: layers.map((l) => plainArray(l.logcnt)),
  };
}

// ---------------------------------------------------------------------------------------------
// Layouts, per-GPU loads and balancedness.
// ---------------------------------------------------------------------------------------------

/**
 * vLLM's initial layout (before any rebalance): slot i holds expert `i % numExperts`, so slots
 * 0..E-1 hold experts 0..E-1 and the redundant slots repeat experts 0, 1, ...
 * @returns phy2log of one layer, `[numReplicas]`.
 * @throws {RangeError} when `numReplicas < numExperts`.
 * @example initialPlacement(4, 6) // => [0, 1, 2, 3, 0, 1]
 */
export function initialPlacement(numExperts: number, numReplicas: number): number[] {
  requireInteger("numExperts", numExperts, { min: 1 });
  requireInteger("numReplicas", numReplicas, { min: numExperts });
  const out = new Array<number>(numReplicas);
  for (let i = 0; i < numReplicas; i++) out[i] = i % numExperts;
  return out;
}

/**
 * Checks a placement row and returns replica counts: every slot holds an expert in
 * [0, numExperts) and every expert has at least one slot.
 */
function countReplicas(name: string, phy2logRow: ArrayLike<number>, numExperts: number): Int32Array {
  requireNumberArray(name, phy2logRow, { min: 0, max: numExperts - 1 });
  const cnt = new Int32Array(numExperts);
  for (let s = 0; s < phy2logRow.length; s++) {
    const e = phy2logRow[s];
    if (!Number.isInteger(e)) throw new RangeError(`${name}[${s}] must be an integer expert index, got ${e}`);
    cnt[e]++;
  }
  for (let e = 0; e < numExperts; e++) {
    if (cnt[e] === 0) throw new RangeError(`${name} must give every expert at least one slot, but expert ${e} has none`);
  }
  return cnt;
}

/** One layer's placement: what `layerPlacement` extracts and `placementFromPhy2log` builds. */
export interface LayerPlacement {
  /** Logical expert of each slot, `[replicas]`. */
  phy2log: number[];
  /** Slots of each expert (replica order), padded with -1, `[experts][maxCount]`. */
  log2phy: number[][];
  /** Replica count of each expert, `[experts]`. */
  logcnt: number[];
}

/**
 * Builds a layer placement from its phy2log alone; replicas are numbered in slot order.
 * @param phy2log `[replicas]` logical expert of each slot.
 * @throws {RangeError} when a slot holds an unknown expert or an expert has no slot.
 * @example placementFromPhy2log([0, 1, 0], 2) // => { phy2log: [0, 1, 0], log2phy: [[0, 2], [1, -1]], logcnt: [2, 1] }
 */
export function placementFromPhy2log(phy2log: ArrayLike<number>, numExperts: number): LayerPlacement {
  requireInteger("numExperts", numExperts, { min: 1 });
  const cnt = countReplicas("phy2log", phy2log, numExperts);
  let maxCount = 0;
  for (let e = 0; e < numExperts; e++) maxCount = Math.max(maxCount, cnt[e]);
  const log2phy: number[][] = [];
  for (let e = 0; e < numExperts; e++) log2phy.push(new Array<number>(maxCount).fill(-1));
  const next = new Int32Array(numExperts);
  for (let s = 0; s < phy2log.length; s++) log2phy[phy2log[s]][next[phy2log[s]]++] = s;
  return { phy2log: Array.from(phy2log), log2phy, logcnt: Array.from(cnt) };
}

/**
 * The placement of one layer from a `rebalanceExperts` result.
 * @throws {RangeError} when `layer` is out of range.
 * @example layerPlacement(rebalanceExperts([[3, 1]], 3, 1, 1, 1), 0).logcnt // => [2, 1]
 */
export function layerPlacement(result: EplbResult, layer: number): LayerPlacement {
  if (!result || !Array.isArray(result.phy2log)) throw new TypeError(`result must be an EplbResult, got ${describeValue(result)}`);
  requireInteger("layer", layer, { min: 0, max: result.phy2log.length - 1 });
  return { phy2log: result.phy2log[layer], log2phy: result.log2phy[layer], logcnt: result.logcnt[layer] };
}

/**
 * Per-GPU loads of a placement when each expert's load is split evenly over its replicas:
 * slot load = load[expert] / replicas(expert); GPU g sums slots [g*R/P, (g+1)*R/P).
 * @param weight `[layers][experts]` loads (tokens).
 * @param phy2log `[layers][replicas]` (or one row, used for every layer).
 * @param numGpus GPUs, dividing the replica count.
 * @returns `[layers][numGpus]` load per GPU (tokens); the total load is conserved.
 * @throws {RangeError} on bad loads, a bad placement, or replicas not divisible by numGpus.
 * @example gpuLoads([[6, 2]], [[0, 1, 0, 0]], 2) // => [[4, 4]]
 */
export function gpuLoads(weight: ArrayLike<number>[], phy2log: ArrayLike<number>[] | ArrayLike<number>, numGpus: number): number[][] {
  const { rows, cols: numExperts } = requireLoadMatrix("weight", weight);
  requireInteger("numGpus", numGpus, { min: 1 });
  const oneRow = !Array.isArray(phy2log) || (phy2log.length > 0 && typeof phy2log[0] === "number");
  const placementRows = oneRow ? null : (phy2log as ArrayLike<number>[]);
  if (placementRows && placementRows.length !== rows) {
    throw new RangeError(`phy2log must have one row per layer (${rows}), got ${placementRows.length}`);
  }
  const out: number[][] = [];
  for (let l = 0; l < rows; l++) {
    const row = placementRows ? placementRows[l] : (phy2log as ArrayLike<number>);
    const name = placementRows ? `phy2log[${l}]` : "phy2log";
    const cnt = countReplicas(name, row, numExperts);
    const numReplicas = row.length;
    if (numReplicas % numGpus !== 0) {
      throw new RangeError(`numGpus must divide the number of slots (${numReplicas}), got numGpus=${numGpus}`);
    }
    const perGpu = numReplicas / numGpus;
    const loads = new Array<number>(numGpus).fill(0);
    const w = weight[l];
    for (let s = 0; s < numReplicas; s++) loads[(s / perGpu) | 0] += w[row[s]] / cnt[row[s]];
    out.push(loads);
  }
  return out;
}

/** How tokens of an expert with several replicas choose one. */
export type ReplicaChoice = "even" | "position";

/**
 * Per-GPU loads of one layer from a routing (the expert chosen for each token slot) and a
 * placement. `replicaChoice`:
 * - `"even"`: each expert's tokens are split evenly (fractionally) over its replicas;
 * - `"position"`: vLLM's rule: the i-th entry of the flattened `[tokens][topK]` expert ids goes to
 *   replica `i % replicas(expert)` (column of log2phy), so whole tokens land on GPUs.
 * @param expertIds flattened `[tokens * topK]` logical expert ids, in [0, experts).
 * @param placement one layer's placement (see `layerPlacement`, `placementFromPhy2log`).
 * @param numGpus GPUs, dividing the slot count.
 * @returns `[numGpus]` load per GPU (tokens).
 * @throws {RangeError} on an expert id out of range or a bad placement.
 * @example routedGpuLoads([0, 0, 0, 0], placementFromPhy2log([0, 0, 1, 1], 2), 2, "position") // => [4, 0]
 */
export function routedGpuLoads(
  expertIds: ArrayLike<number>,
  placement: LayerPlacement,
  numGpus: number,
  replicaChoice: ReplicaChoice = "position",
): number[] {
  if (!placement || !Array.isArray(placement.log2phy) || !placement.phy2log) {
    throw new TypeError(`placement must be a LayerPlacement {phy2log, log2phy, logcnt}, got ${describeValue(placement)}`);
  }
  const numExperts = placement.log2phy.length;
  const cnt = countReplicas("placement.phy2log", placement.phy2log, numExperts);
  requireInteger("numGpus", numGpus, { min: 1 });
  requireOneOf("replicaChoice", replicaChoice, ["even", "position"] as const);
  requireNumberArray("expertIds", expertIds, { min: 0, max: numExperts - 1 }, 0);
  const numReplicas = placement.phy2log.length;
  if (numReplicas % numGpus !== 0) {
    throw new RangeError(`numGpus must divide the number of slots (${numReplicas}), got numGpus=${numGpus}`);
  }
  const perGpu = numReplicas / numGpus;
  const loads = new Array<number>(numGpus).fill(0);
  if (replicaChoice === "even") {
    const tokens = new Float64Array(numExperts);
    for (let i = 0; i < expertIds.length; i++) tokens[expertIds[i]]++;
    for (let s = 0; s < numReplicas; s++) {
      const e = placement.phy2log[s];
      loads[(s / perGpu) | 0] += tokens[e] / cnt[e];
    }
    return loads;
  }
  for (let i = 0; i < expertIds.length; i++) {
    const e = expertIds[i];
    if (!Number.isInteger(e)) throw new RangeError(`expertIds[${i}] must be an integer expert index, got ${e}`);
    const slot = placement.log2phy[e][i % cnt[e]];
    loads[(slot / perGpu) | 0]++;
  }
  return loads;
}

// The balancedness types live with their one implementation, `modelBalance` in lib/metrics.ts.
export type { LayerBalance, BalanceMetrics } from "./metrics";

/**
 * Balancedness metrics of per-GPU loads (see `gpuLoads`): per layer, vLLM's and SGLang's
 * aggregates and the worst layer. The one implementation is `modelBalance` in lib/metrics.ts;
 * this names its input as the rest of this file does (`loads`). All-zero rule: a layer with no
 * load is perfectly balanced (balancedness 1, imbalance 1), and so is an all-zero model (vllm 1).
 * @param loads `[layers][gpus]` per-GPU loads (tokens), >= 0.
 * @throws {TypeError|RangeError} on negative/NaN loads or ragged rows.
 * @example balanceMetrics([[2, 4], [3, 3]]).vllm // => 0.8571428571428571
 */
export function balanceMetrics(loads: ArrayLike<number>[]): BalanceMetrics {
  requireLoadMatrix("loads", loads);
  return modelBalance(loads);
}
