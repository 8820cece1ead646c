/**
 * A straightforward transcription of DeepSeek EPLB, for cross-checking `rebalanceExperts`
 * (lib/eplb.ts) and as the benchmark's in-run reference: plain arrays, a linear scan over packs
 * for every item (O(items x packs)) and a full argmax scan for every redundant slot
 * (O(slots x experts)). Same float32 emulation and tie rules; same outputs.
 */
import { validateEplbParams, eplbPolicy } from "../eplb";
import { requireMatrix } from "../validate";

const f32 = Math.fround;

function packNaive(w: number[], numPacks: number): { pack: number[]; rank: number[] } {
  const n = w.length;
  const perPack = n / numPacks;
  if (perPack === 1) return { pack: w.map((_, i) => i), rank: w.map(() => 0) };
  const order = w.map((_, i) => i).sort((a, b) => w[b] - w[a] || a - b);
  const loads = new Array<number>(numPacks).fill(0);
  const counts = new Array<number>(numPacks).fill(0);
  const pack = new Array<number>(n);
  const rank = new Array<number>(n);
  for (const item of order) {
    let best = -1;
    for (let p = 0; p < numPacks; p++) if (counts[p] < perPack && (best === -1 || loads[p] < loads[best])) best = p;
    pack[item] = best;
    rank[item] = counts[best]++;
    loads[best] = f32(loads[best] + w[item]);
  }
  return { pack, rank };
}

function replicateNaive(w: number[], numPhy: number): { phy2log: number[]; rank: number[]; cnt: number[] } {
  const phy2log = w.map((_, i) => i);
  const rank = w.map(() => 0);
  const cnt = w.map(() => 1);
  for (let i = w.length; i < numPhy; i++) {
    let best = 0;
    for (let e = 1; e < w.length; e++) if (f32(w[e] / cnt[e]) > f32(w[best] / cnt[best])) best = e;
    phy2log.push(best);
    rank.push(cnt[best]++);
  }
  return { phy2log, rank, cnt };
}

/**
 * The naive EPLB: same contract and outputs as `rebalanceExperts`, without heaps or typed arrays.
 * @param weight `[layers][experts]` loads (tokens), each >= 0.
 * @throws {RangeError|TypeError} as `rebalanceExperts`.
 * @example rebalanceExpertsNaive([[3, 1]], 3, 1, 1, 1).logcnt // => [[2, 1]]
 */
export function rebalanceExpertsNaive(
  weight: ArrayLike<number>[],
  numReplicas: number,
  numGroups: number,
  numNodes: number,
  numGpus: number,
): { phy2log: number[][]; log2phy: number[][][]; logcnt: number[][] } {
  const { cols: E } = requireMatrix("weight", weight, { min: 0 });
  validateEplbParams(E, { numReplicas, numGroups, numNodes, numGpus });
  const [G, N] = eplbPolicy(numGroups, numNodes) === "hierarchical" ? [numGroups, numNodes] : [1, 1];
  const groupSize = E / G;
  const phy2logAll: number[][] = [];
  const phyrankAll: number[][] = [];
  const logcntAll: number[][] = [];
  for (const row of weight) {
    const w = Array.from(row, f32);
    // Step 1: groups -> nodes.
    const groupLoads: number[] = [];
    for (let g = 0; g < G; g++) {
      let s = 0;
      for (let j = 0; j < groupSize; j++) s = f32(s + w[g * groupSize + j]);
      groupLoads.push(s);
    }
    const groups = packNaive(groupLoads, N);
    const mlog2log = new Array<number>(E);
    const log2mlog = new Array<number>(E);
    for (let e = 0; e < E; e++) {
      const g = Math.floor(e / groupSize);
      const m = (groups.pack[g] * (G / N) + groups.rank[g]) * groupSize + (e % groupSize);
      mlog2log[m] = e;
      log2mlog[e] = m;
    }
    const phy2log = new Array<number>(numReplicas);
    const phyrank = new Array<number>(numReplicas);
    const mlogcnt: number[] = [];
    const perNode = E / N;
    const slotsPerNode = numReplicas / N;
    for (let node = 0; node < N; node++) {
      // Step 2: replicas within the node.
      const nodeW = mlog2log.slice(node * perNode, (node + 1) * perNode).map((e) => w[e]);
      const rep = replicateNaive(nodeW, slotsPerNode);
      mlogcnt.push(...rep.cnt);
      // Step 3: replicas -> GPUs of the node.
      const slotLoads = rep.phy2log.map((m) => f32(nodeW[m] / rep.cnt[m]));
      const gpus = packNaive(slotLoads, numGpus / N);
      for (let s = 0; s < slotsPerNode; s++) {
        const dst = node * slotsPerNode + gpus.pack[s] * (numReplicas / numGpus) + gpus.rank[s];
        phy2log[dst] = mlog2log[node * perNode + rep.phy2log[s]];
        phyrank[dst] = rep.rank[s];
      }
    }
    phy2logAll.push(phy2log);
    phyrankAll.push(phyrank);
    logcntAll.push(log2mlog.map((m) => mlogcnt[m]));
  }
  const K = Math.max(...logcntAll.map((r) => Math.max(...r)));
  const log2phy = phy2logAll.map((row, l) => {
    const t = Array.from({ length: E }, () => new Array<number>(K).fill(-1));
    row.forEach((e, s) => (t[e][phyrankAll[l][s]] = s));
    return t;
  });
  return { phy2log: phy2logAll, log2phy, logcnt: logcntAll };
}
