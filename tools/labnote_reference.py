#!/usr/bin/env python3
"""The lab note's simulation, verbatim, with its constants as command-line options.

This is the reference that moe-lab's TypeScript port is tested against (test/labnote-cpython.test.ts):
the simulation lines are the lab note's own; only the parameters and the printing are added
(the note shows its output but not its print statements). Python stdlib only.

usage: python3 tools/labnote_reference.py [--seed 42] [--experts 128] [--tokens 10000]
       [--hot-experts 20] [--hot-fraction 0.6] [--cap 1.2] [--idle-threshold 0.5] [--json]
"""
import argparse
import json
import random
from collections import Counter

ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--experts", type=int, default=128)
ap.add_argument("--tokens", type=int, default=10000)
ap.add_argument("--hot-experts", type=int, default=20)
ap.add_argument("--hot-fraction", type=float, default=0.6)
ap.add_argument("--cap", type=float, default=1.2)
ap.add_argument("--idle-threshold", type=float, default=0.5)
ap.add_argument("--json", action="store_true")
a = ap.parse_args()

NUM_EXPERTS = a.experts
NUM_TOKENS = a.tokens
HOT = a.hot_experts
random.seed(a.seed)

expert_load = Counter()
for _ in range(NUM_TOKENS):
    expert = random.randint(0, HOT - 1) if random.random() < a.hot_fraction else random.randint(HOT, NUM_EXPERTS - 1)
    expert_load[expert] += 1

loads = [expert_load.get(i, 0) for i in range(NUM_EXPERTS)]
mean = sum(loads) / len(loads)

EPLB_CAP = mean * a.cap
eplb_loads = list(loads)
overflow = sum(max(0, l - EPLB_CAP) for l in eplb_loads)
eplb_loads = [min(l, EPLB_CAP) for l in eplb_loads]
idle = [i for i in range(NUM_EXPERTS) if eplb_loads[i] < mean * a.idle_threshold]
for i in idle:
    eplb_loads[i] += overflow / max(len(idle), 1)

max_load = max(loads)
eplb_max = max(eplb_loads)
base_tp = NUM_TOKENS / max_load
eplb_tp = NUM_TOKENS / eplb_max
speedup = eplb_tp / base_tp
improvement = (max_load - eplb_max) / max_load * 100

if a.json:
    print(json.dumps({
        "maxLoad": max_load, "minLoad": min(loads), "meanLoad": mean, "imbalance": max_load / mean,
        "zeroExperts": loads.count(0), "eplbMaxLoad": eplb_max, "eplbImbalance": eplb_max / mean,
        "maxLoadImprovement": improvement, "baselineThroughput": base_tp, "eplbThroughput": eplb_tp,
        "speedup": speedup, "loads": loads,
    }))
else:
    print("=== Baseline (no EPLB) ===")
    print(f"Total tokens: {NUM_TOKENS}")
    print(f"Num experts: {NUM_EXPERTS}")
    print(f"Max load (hot expert): {max_load} tokens")
    print(f"Min load (cold expert): {min(loads)} tokens")
    print(f"Mean load: {mean:.1f} tokens")
    print(f"Imbalance ratio (max/mean): {max_load / mean:.2f}x")
    print(f"Experts with 0 tokens: {loads.count(0)}")
    print()
    print("=== After EPLB (simulated) ===")
    print(f"Max load: {eplb_max:.1f} tokens")
    print(f"Imbalance ratio: {eplb_max / mean:.2f}x")
    print(f"Improvement in max load: {improvement:.1f}%")
    print()
    print("=== Throughput impact (theoretical model) ===")
    print(f"Baseline normalized throughput: {base_tp:.2f}")
    print(f"EPLB normalized throughput: {eplb_tp:.2f}")
    print(f"Speedup: {speedup:.2f}x ({(speedup - 1) * 100:.0f}% improvement)")
