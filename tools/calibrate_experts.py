#!/usr/bin/env python3
"""Calibrate moe-lab's expert roofline on a GPU (issue 5).

Measures, in bf16:
  1. one expert's SwiGLU MLP (x @ W_gate_up, SiLU(gate) * up, @ W_down) for 1, 2, 4, ... 16384
     tokens, for the expert shapes of Llama 4 Maverick, DeepSeek-V3, Qwen3-235B and Mixtral 8x7B;
  2. one GPU holding 16 experts of a layer, run as a grouped GEMM (torch._grouped_mm where
     available, else a loop over experts), under balanced, skewed and single-expert loads, for a
     range of total tokens.
Then, where the GPU and torch can run FP8 matrix multiplies (torch._scaled_mm, compute capability
8.9+), the same in FP8 (`--dtypes`, default auto): e4m3 weights with one scale per output channel,
tokens arriving in FP8 with one scale per token (DeepEP dispatches FP8), the down projection's
input quantized per token inside the timed function, BF16 outputs; the grouped runs use
torch._scaled_grouped_mm where present and correct, else a loop over experts. Each FP8 kernel is
checked against the BF16 computation first (relative error of the output below 15%); a shape
whose FP8 kernel fails or disagrees gets no FP8 rows, and the BF16 rows are written regardless.
Each configuration is warmed up, then timed with CUDA events (optionally inside a CUDA graph);
the CSV stores the median (and p10/p90) of the repeats.

Writes a CSV that lib/throughput/calibration.ts reads (data/calibration/<gpu>.csv), with a
header comment block: GPU name, moe-lab GPU id, driver, CUDA and torch versions, date.

Usage:
  python3 tools/calibrate_experts.py --gpu-id h100 --out data/calibration/h100.csv
  python3 tools/calibrate_experts.py --graphs --time-limit 400 --out h200.csv   # GPU id from the device name; stop starting new configurations after 400 s
  python3 tools/calibrate_experts.py --gpu-id h100 --dtypes bf16 --out h100-bf16.csv   # skip FP8
  python3 tools/calibrate_experts.py --dry-run --out dry-run.csv   # CPU, tiny shapes: checks the format only

Before timing a grouped configuration, its output is compared with a plain per-expert loop; a
grouped kernel that disagrees (or fails) is replaced by the loop for that shape, and the CSV's
`grouped_impl` line says which one was timed. The CSV is written to a temporary file and renamed,
so an interrupted run never leaves a half-written file; a run stopped by --time-limit, SIGTERM or a
CUDA error writes the rows measured so far, marked `# incomplete:`. Every shape is timed in BF16
before any in FP8, so a run cut short loses FP8 rows first. test/calibration-script.test.ts runs the
--dry-run on CPU (Debian's python3-torch) and checks the CSV against lib/throughput/calibration.ts.

The load patterns match lib/throughput/calibration.ts `groupedLoads`:
  balanced: total // E each, remainder one each to the lowest indices;
  skewed:   floor(total * w_i / sum w) with w_i = 1 / (i + 1), remainder one each to the lowest indices;
  single:   everything on expert 0.
"""
import argparse
import datetime
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

SHAPES = [
    ("llama-4-maverick", 5120, 8192),
    ("deepseek-v3", 7168, 2048),
    ("qwen3-235b-a22b", 4096, 1536),
    ("mixtral-8x7b", 4096, 14336),
]
TOKENS = [2 ** i for i in range(15)]  # 1 .. 16384
GROUPED_EXPERTS = 16
GROUPED_TOTALS = [16, 64, 256, 1024, 4096, 16384]
GPU_IDS = {"H100": "h100", "H200": "h200", "H800": "h800"}  # device-name marker -> data/hardware.json id
COLUMNS = [
    "kind", "dtype", "hidden", "intermediate", "num_experts", "load_pattern", "total_tokens",
    "active_experts", "max_expert_tokens", "median_us", "p10_us", "p90_us", "repeats",
]


def grouped_loads(pattern, total, num_experts):
    """Tokens per expert; the same rule as groupedLoads in lib/throughput/calibration.ts."""
    if pattern == "single":
        return [total] + [0] * (num_experts - 1)
    w = [1.0 if pattern == "balanced" else 1.0 / (i + 1) for i in range(num_experts)]
    s = sum(w)
    loads = [math.floor(total * wi / s) for wi in w]
    i = 0
    while sum(loads) < total:
        loads[i] += 1
        i = (i + 1) % num_experts
    return loads


def percentile(xs, q):
    ys = sorted(xs)
    k = (len(ys) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ys[lo] + (ys[hi] - ys[lo]) * (k - lo)


class Stopped(BaseException):
    """The run must stop now (time limit reached, or SIGTERM): the rows measured so far are written.
    A BaseException, so the per-shape `except Exception` fallbacks do not swallow it."""


def detect_gpu_id(name):
    """The data/hardware.json id for a CUDA device name ("NVIDIA H200" -> "h200"), or None."""
    for marker, gpu_id in GPU_IDS.items():
        if marker in name.upper():
            return gpu_id
    return None


class Timer:
    """Times a zero-argument function: CUDA events (optionally a CUDA graph) on GPU, perf_counter on CPU.
    With a deadline (time.monotonic() seconds), refuses to start a configuration after it."""

    def __init__(self, torch, device, warmup, repeats, use_graphs, deadline=None, limit_s=None):
        self.torch, self.device, self.warmup, self.repeats, self.use_graphs = torch, device, warmup, repeats, use_graphs
        self.deadline, self.limit_s = deadline, limit_s

    def __call__(self, fn):
        torch = self.torch
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Stopped(f"time limit of {self.limit_s:g} s reached")
        if self.device == "cpu":
            for _ in range(self.warmup):
                fn()
            times = []
            for _ in range(self.repeats):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e6)
            return times
        for _ in range(self.warmup):
            fn()
        torch.cuda.synchronize()
        run = fn
        if self.use_graphs:
            try:
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    for _ in range(3):
                        fn()
                torch.cuda.current_stream().wait_stream(stream)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    fn()
                run = graph.replay
                for _ in range(3):
                    run()
            except Exception as e:  # some ops (loops with dynamic shapes) cannot be captured
                print(f"  (CUDA graph capture failed, timing eagerly: {e})", file=sys.stderr)
                run = fn
        torch.cuda.synchronize()
        times = []
        for _ in range(self.repeats):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) * 1e3)  # ms -> us
        return times


def swiglu(torch, x, w_gate_up, w_down):
    h = x @ w_gate_up  # [tokens, 2I]
    gate, up = h.chunk(2, dim=-1)
    return (torch.nn.functional.silu(gate) * up) @ w_down


def group_bounds(loads):
    """(start, end) rows of each expert's tokens, sorted by expert; the ends are grouped MMs' offsets."""
    bounds, start = [], 0
    for n in loads:
        bounds.append((start, start + n))
        start += n
    return bounds


def group_offsets(torch, loads, device):
    """Cumulative group ends as the int32 `offs` tensor torch's grouped MMs take."""
    return torch.tensor([end for _, end in group_bounds(loads)], device=device, dtype=torch.int32)


def grouped_fn(torch, x, w_gate_up, w_down, loads, have_grouped_mm):
    """A rank's experts over its tokens (sorted by expert). torch._grouped_mm when present, else a loop."""
    active = [i for i, n in enumerate(loads) if n > 0]
    if have_grouped_mm:
        offs = group_offsets(torch, loads, x.device)

        def run():
            h = torch._grouped_mm(x, w_gate_up, offs=offs)
            gate, up = h.chunk(2, dim=-1)
            return torch._grouped_mm(torch.nn.functional.silu(gate) * up, w_down, offs=offs)
        return run
    bounds = group_bounds(loads)

    def run_loop():
        outs = []
        for i in active:
            a, b = bounds[i]
            outs.append(swiglu(torch, x[a:b], w_gate_up[i], w_down[i]))
        return outs
    return run_loop


def loop_reference(torch, x, w_gate_up, w_down, loads):
    """The grouped computation as a plain loop, concatenated: what a grouped kernel must reproduce."""
    outs = [swiglu(torch, x[a:b], w_gate_up[i], w_down[i]) for i, (a, b) in enumerate(group_bounds(loads)) if b > a]
    return torch.cat(outs, dim=0)


def grouped_matches_loop(torch, fn, x, w_gate_up, w_down, loads):
    """True when the grouped kernel's output equals the loop's (bf16 tolerance); False if it errs."""
    try:
        got = fn()
        got = got if torch.is_tensor(got) else torch.cat(got, dim=0)
        want = loop_reference(torch, x, w_gate_up, w_down, loads)
        scale = want.float().abs().max().item() or 1.0
        return got.shape == want.shape and (got.float() - want.float()).abs().max().item() <= 0.05 * scale
    except Exception as e:  # unsupported shape, missing kernel
        print(f"  (grouped kernel failed: {e})", file=sys.stderr)
        return False

FP8_MAX = 448.0  # largest float8_e4m3fn value


def fp8_quantize(torch, x, scaling):
    """x (bf16, [rows, cols]) as float8_e4m3fn plus its fp32 dequantization scale: one per row
    ([rows, 1]) for "rowwise", one for the whole tensor for "tensorwise"."""
    xf = x.float()
    amax = xf.abs().amax(dim=-1, keepdim=True) if scaling == "rowwise" else xf.abs().amax()
    scale = amax.clamp(min=1e-12) / FP8_MAX
    return (xf / scale).to(torch.float8_e4m3fn), scale


def fp8_mm(torch, a, a_scale, b_rows, b_scale, scaling):
    """a @ b_rows.T in FP8 with BF16 output. b_rows is [n, k] (so b_rows.t() is column-major, as
    torch._scaled_mm wants); a_scale is [m, 1] or a scalar, b_scale [n, 1] or a scalar."""
    b_s = b_scale.reshape(1, -1) if scaling == "rowwise" else b_scale
    out = torch._scaled_mm(a, b_rows.t(), scale_a=a_scale, scale_b=b_s, out_dtype=torch.bfloat16)
    return out[0] if isinstance(out, tuple) else out  # torch <= 2.4 returns (out, amax)


class Fp8Expert:
    """One expert's weights in FP8: W_gate_up as [2I, H] rows and W_down as [H, I] rows, each
    quantized with one scale per output channel (rowwise) or one per tensor."""

    def __init__(self, torch, w_gate_up, w_down, scaling):
        self.scaling = scaling
        self.gu, self.gu_scale = fp8_quantize(torch, w_gate_up.t().contiguous(), scaling)
        self.d, self.d_scale = fp8_quantize(torch, w_down.t().contiguous(), scaling)


def swiglu_fp8(torch, xq, xs, w):
    """The SwiGLU MLP on FP8 tokens (xq, per-token scales xs): both GEMMs in FP8, BF16 between."""
    h = fp8_mm(torch, xq, xs, w.gu, w.gu_scale, w.scaling)
    gate, up = h.chunk(2, dim=-1)
    aq, a_scale = fp8_quantize(torch, torch.nn.functional.silu(gate) * up, w.scaling)
    return fp8_mm(torch, aq, a_scale, w.d, w.d_scale, w.scaling)


def relative_error(torch, got, want):
    """||got - want|| / ||want|| in fp32 (inf for a shape mismatch)."""
    if got.shape != want.shape:
        return float("inf")
    return ((got.float() - want.float()).norm() / want.float().norm().clamp(min=1e-12)).item()


FP8_TOLERANCE = 0.15  # e4m3 rounding (3 mantissa bits) gives about 5-10% on two chained GEMMs; a wrong kernel gives ~100%


def fp8_support(torch, device):
    """(scaling, why): the FP8 scaling that works on this device ("rowwise", else "tensorwise"), or
    None and the reason there is none. Probes a small SwiGLU against its BF16 result. (A CPU dry
    run gets FP8 rows only from a torch with CPU FP8 matmuls; the test runs it on an emulation.)"""
    if not hasattr(torch, "float8_e4m3fn") or not hasattr(torch, "_scaled_mm"):
        return None, f"torch {torch.__version__} has no float8_e4m3fn / torch._scaled_mm"
    if device == "cuda":
        major, minor = torch.cuda.get_device_capability(0)
        if (major, minor) < (8, 9):
            return None, f"compute capability {major}.{minor} has no FP8 tensor cores (8.9+ needed)"
    gen = torch.Generator(device=device).manual_seed(1)
    x = torch.randn(32, 256, device=device, dtype=torch.bfloat16, generator=gen)
    wgu = torch.randn(256, 2 * 96, device=device, dtype=torch.bfloat16, generator=gen) * 0.05
    wd = torch.randn(96, 256, device=device, dtype=torch.bfloat16, generator=gen) * 0.05
    want = swiglu(torch, x, wgu, wd)
    errors = []
    for scaling in ("rowwise", "tensorwise"):
        try:
            xq, xs = fp8_quantize(torch, x, scaling)
            err = relative_error(torch, swiglu_fp8(torch, xq, xs, Fp8Expert(torch, wgu, wd, scaling)), want)
            if err <= FP8_TOLERANCE:
                return scaling, ""
            errors.append(f"{scaling}: relative error {err:.3f}")
        except Exception as e:  # unsupported scaling on this torch/GPU
            errors.append(f"{scaling}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    return None, "torch._scaled_mm failed the check (" + "; ".join(errors) + ")"


def stack_fp8_experts(torch, experts):
    """The experts' FP8 weights and rowwise scales stacked for torch._scaled_grouped_mm:
    W_gate_up [E, 2I, H] with scales [E, 2I], W_down [E, H, I] with scales [E, H]."""
    return (torch.stack([w.gu for w in experts]), torch.stack([w.gu_scale.reshape(-1) for w in experts]),
            torch.stack([w.d for w in experts]), torch.stack([w.d_scale.reshape(-1) for w in experts]))


def grouped_fp8_fn(torch, xq, xs, experts, loads, stacked=None):
    """A rank's experts in FP8 over its FP8 tokens (sorted by expert): torch._scaled_grouped_mm
    (rowwise scales) on `stacked` (from stack_fp8_experts) when given, else a loop of
    torch._scaled_mm over the active experts."""
    if stacked is not None:
        offs = group_offsets(torch, loads, xq.device)
        gu, gu_s, d, d_s = stacked
        xs1 = xs.reshape(-1)

        def run():
            h = torch._scaled_grouped_mm(xq, gu.transpose(-2, -1), xs1, gu_s, offs=offs, out_dtype=torch.bfloat16)
            gate, up = h.chunk(2, dim=-1)
            aq, a_scale = fp8_quantize(torch, torch.nn.functional.silu(gate) * up, "rowwise")
            return torch._scaled_grouped_mm(aq, d.transpose(-2, -1), a_scale.reshape(-1), d_s, offs=offs, out_dtype=torch.bfloat16)
        return run
    rowwise = experts[0].scaling == "rowwise"
    # Each expert's tokens and scales copied into their own buffers (as a dispatch writes them):
    # cuBLASLt refuses a scale pointer that is not 16-byte aligned, which a row slice of the
    # per-token scales is (seen on an H200, torch 2.11: CUBLAS_STATUS_NOT_SUPPORTED for n = 1).
    parts = [(i, xq[a:b].clone(), xs[a:b].clone() if rowwise else xs)
             for i, (a, b) in enumerate(group_bounds(loads)) if b > a]

    def run_loop():
        return [swiglu_fp8(torch, q, s, experts[i]) for i, q, s in parts]
    return run_loop


# A grouped kernel that rejects a group size can fail with a CUDA device-side assert (torch builds
# before pytorch/pytorch PR #155466, mid-2025, asserted every group of a grouped MM to be a multiple
# of 8 rows in BF16 and 16 in FP8). That poisons the CUDA context, so no try/except in this process
# can fall back afterwards. Each grouped kernel is therefore tried first in a child process, on
# unaligned and empty groups like the skewed loads below.
_GROUPED_PROBE = r"""
import sys, torch
x = torch.randn(40, 256, device="cuda", dtype=torch.bfloat16)
w = torch.randn(4, 256, 128, device="cuda", dtype=torch.bfloat16)
offs = torch.tensor([1, 4, 4, 40], device="cuda", dtype=torch.int32)  # groups of 1, 3, 0 and 36 rows
if sys.argv[1] == "bf16":
    torch._grouped_mm(x, w, offs=offs)
else:
    f8 = torch.float8_e4m3fn
    wt = w.transpose(-2, -1).contiguous().to(f8).transpose(-2, -1)
    torch._scaled_grouped_mm(x.to(f8), wt, torch.ones(40, device="cuda"), torch.ones(4, 128, device="cuda"),
                             offs=offs, out_dtype=torch.bfloat16)
torch.cuda.synchronize()
"""


def grouped_kernel_survives(kind):
    """True when torch's grouped kernel ("bf16": _grouped_mm, "fp8": _scaled_grouped_mm) runs on
    unaligned and empty groups in a child process (so a device-side assert cannot kill this run)."""
    try:
        r = subprocess.run([sys.executable, "-c", _GROUPED_PROBE, kind], capture_output=True, text=True, timeout=180)
    except Exception as e:
        print(f"  ({kind} grouped kernel probe failed to run: {e})", file=sys.stderr)
        return False
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        print(f"  ({kind} grouped kernel failed on unaligned groups, timing the loop instead: {last})", file=sys.stderr)
    return r.returncode == 0


def provenance(torch, device, gpu_id, grouped_impl, args, fp8_note):
    lines = {
        "tool": "tools/calibrate_experts.py (moe-lab issue 5)",
        "gpu_id": gpu_id,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device,
        "grouped_impl": grouped_impl,
        "fp8": fp8_note,
        "timing": f"median of {args.repeats} repeats after {args.warmup} warm-up runs, "
                  + ("CUDA events" + (" + CUDA graphs" if args.graphs else "") if device == "cuda" else "perf_counter (CPU dry run)"),
    }
    if device == "cuda":
        lines["gpu"] = torch.cuda.get_device_name(0)
        lines["cuda"] = str(torch.version.cuda)
        try:
            drv = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
            lines["driver"] = drv.stdout.strip().splitlines()[0] if drv.returncode == 0 and drv.stdout.strip() else "unknown"
        except Exception:
            lines["driver"] = "unknown"
    else:
        lines["gpu"] = "none (CPU dry run: format check only, not a calibration)"
        lines["driver"] = "none"
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="CSV to write, e.g. data/calibration/h100.csv")
    ap.add_argument("--gpu-id", default="auto",
                    help="moe-lab GPU id (data/hardware.json): h100, h200, h800, or auto (from the device name)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--graphs", action="store_true", help="time inside CUDA graphs (less launch overhead)")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes and few tokens: checks the CSV format only")
    ap.add_argument("--grouped-impl", choices=["auto", "grouped_mm", "loop"], default="auto",
                    help="auto: torch._grouped_mm where available and correct, else a loop over experts")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="seconds: start no configuration after this; the rows measured so far are written, marked incomplete")
    ap.add_argument("--dtypes", default="auto",
                    help="weight precisions to time: bf16, fp8, bf16,fp8, or auto (bf16, plus fp8 where the GPU and torch run it)")
    args = ap.parse_args()
    dtypes = [d.strip() for d in args.dtypes.split(",")]
    if args.dtypes != "auto" and (not dtypes or any(d not in ("bf16", "fp8") for d in dtypes) or len(set(dtypes)) != len(dtypes)):
        sys.exit(f"--dtypes: got {args.dtypes!r}, allowed: auto, bf16, fp8 or bf16,fp8")
    if args.gpu_id != "auto" and args.gpu_id not in GPU_IDS.values():
        sys.exit(f"--gpu-id: got {args.gpu_id!r}, allowed: auto, {', '.join(GPU_IDS.values())}")
    if args.time_limit is not None and not args.time_limit > 0:
        sys.exit(f"--time-limit: got {args.time_limit:g}, allowed: a number of seconds > 0")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        sys.exit(f"--out: folder {os.path.dirname(args.out) or '.'} does not exist")

    import torch  # imported here so --help works without torch

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run on a GPU, or use --dry-run to check the format on CPU")
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        detected = detect_gpu_id(name)
        if args.gpu_id == "auto" and detected is None:
            sys.exit(f"--gpu-id auto: {name!r} is none of {', '.join(GPU_IDS)}; name the closest with --gpu-id")
        if args.gpu_id != "auto" and detected is not None and detected != args.gpu_id:
            sys.exit(f"--gpu-id: got {args.gpu_id!r}, but this GPU is {name!r} ({detected}); use --gpu-id {detected} or auto")
        args.gpu_id = detected if args.gpu_id == "auto" else args.gpu_id
    elif args.gpu_id == "auto":
        args.gpu_id = "none"
    deadline = None if args.time_limit is None else time.monotonic() + args.time_limit
    shapes, tokens, totals = SHAPES, TOKENS, GROUPED_TOTALS
    if args.dry_run:
        shapes = [("tiny", 64, 32), ("tiny-wide", 32, 128)]
        tokens, totals = [1, 2, 4, 8], [16, 64]
        args.warmup, args.repeats = 1, 3
    dtype = torch.bfloat16
    timer = Timer(torch, device, args.warmup, args.repeats, args.graphs and device == "cuda", deadline, args.time_limit)
    have_grouped_mm = hasattr(torch, "_grouped_mm") and device == "cuda" and args.grouped_impl != "loop" and grouped_kernel_survives("bf16")
    if args.grouped_impl == "grouped_mm" and not have_grouped_mm:
        sys.exit("--grouped-impl grouped_mm: this torch/device has no torch._grouped_mm, or it fails on unaligned groups (use auto or loop)")
    use_grouped_mm = have_grouped_mm and args.grouped_impl != "loop"
    want_bf16 = args.dtypes == "auto" or "bf16" in dtypes
    want_fp8 = args.dtypes == "auto" or "fp8" in dtypes
    fp8_scaling, fp8_why = fp8_support(torch, device) if want_fp8 else (None, "not asked for (--dtypes)")
    if want_fp8 and fp8_scaling is None:
        if args.dtypes != "auto":
            sys.exit(f"--dtypes fp8: {fp8_why}")
        print(f"  (FP8 skipped: {fp8_why})", file=sys.stderr)
    have_scaled_grouped = (fp8_scaling == "rowwise" and hasattr(torch, "_scaled_grouped_mm") and args.grouped_impl != "loop"
                           and (device != "cuda" or grouped_kernel_survives("fp8")))
    impl_used = set()
    fp8_impl_used = set()
    fp8_failed = []
    rows = []

    def record(kind, hidden, inter, num_experts, pattern, total, loads, times, dtype="bf16"):
        rows.append([kind, dtype, hidden, inter, num_experts, pattern, total, sum(1 for n in loads if n > 0), max(loads),
                     f"{statistics.median(times):.3f}", f"{percentile(times, 0.1):.3f}", f"{percentile(times, 0.9):.3f}", len(times)])

    def time_single_fp8(name, hidden, inter, w_gate_up, w_down):
        """FP8 rows for one expert shape; none (and a note) if its FP8 kernel fails or disagrees."""
        try:
            w8 = Fp8Expert(torch, w_gate_up, w_down, fp8_scaling)
            x = torch.randn(64, hidden, device=device, dtype=dtype, generator=gen)
            xq, xs = fp8_quantize(torch, x, fp8_scaling)
            err = relative_error(torch, swiglu_fp8(torch, xq, xs, w8), swiglu(torch, x, w_gate_up, w_down))
            if err > FP8_TOLERANCE:
                raise RuntimeError(f"relative error {err:.3f} against BF16")
        except Exception as e:  # a kernel this torch/GPU lacks for this shape: keep the BF16 rows
            fp8_failed.append(f"{name} single ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
            print(f"  FP8 single-expert rows skipped for {name}: {fp8_failed[-1]}", file=sys.stderr)
            return
        for t in tokens:
            try:  # one token count that fails leaves the others
                xq, xs = fp8_quantize(torch, torch.randn(t, hidden, device=device, dtype=dtype, generator=gen), fp8_scaling)
                times = timer(lambda: swiglu_fp8(torch, xq, xs, w8))
            except Exception as e:
                fp8_failed.append(f"{name} single {t} tokens ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
                print(f"  FP8 single-expert row skipped: {fp8_failed[-1]}", file=sys.stderr)
                continue
            record("single", hidden, inter, 1, "single", t, [t], times, "fp8")
            print(f"single fp8 {name} {t:6d} tokens: {statistics.median(times):9.1f} us", file=sys.stderr)

    def time_grouped_fp8(name, hidden, inter, wg, wd):
        """FP8 grouped rows for one shape: torch._scaled_grouped_mm when it matches the FP8 loop, else the loop."""
        try:
            experts = [Fp8Expert(torch, wg[i], wd[i], fp8_scaling) for i in range(wg.shape[0])]
            use_grouped = have_scaled_grouped
            stacked = stack_fp8_experts(torch, experts) if use_grouped else None  # once per shape
            checked = False
            for pattern in ("balanced", "skewed", "single"):
                for total in totals:
                    loads = grouped_loads(pattern, total, len(experts))
                    x = torch.randn(total, hidden, device=device, dtype=dtype, generator=gen)
                    xq, xs = fp8_quantize(torch, x, fp8_scaling)
                    loop = grouped_fp8_fn(torch, xq, xs, experts, loads)
                    if not checked:  # the FP8 loop against BF16, once per shape
                        err = relative_error(torch, torch.cat(loop(), dim=0), loop_reference(torch, x, wg, wd, loads))
                        if err > FP8_TOLERANCE:
                            raise RuntimeError(f"relative error {err:.3f} against BF16")
                        checked = True
                    fn = loop
                    if use_grouped:
                        try:
                            fn = grouped_fp8_fn(torch, xq, xs, experts, loads, stacked)
                            err = relative_error(torch, fn(), torch.cat(loop(), dim=0))
                        except Exception as e:
                            err = f"failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                        if not isinstance(err, float) or err > 0.05:
                            print(f"  torch._scaled_grouped_mm disagrees with the FP8 loop for {name} ({err}): timing the loop", file=sys.stderr)
                            use_grouped, fn, stacked = False, loop, None
                    fp8_impl_used.add("torch._scaled_grouped_mm" if use_grouped else "loop of torch._scaled_mm")
                    times = timer(fn)
                    record("grouped", hidden, inter, len(experts), pattern, total, loads, times, "fp8")
                    print(f"grouped fp8 {name} {pattern:8s} {total:6d} tokens: {statistics.median(times):9.1f} us", file=sys.stderr)
        except Exception as e:
            fp8_failed.append(f"{name} grouped ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
            print(f"  FP8 grouped rows skipped for {name}: {fp8_failed[-1]}", file=sys.stderr)

    gen = torch.Generator(device=device).manual_seed(0)

    def measure_shape(name, hidden, inter, precision):
        """The rows of one expert shape in one precision: single expert, then 16 grouped experts."""
        w_gate_up = torch.randn(hidden, 2 * inter, device=device, dtype=dtype, generator=gen) * 0.02
        w_down = torch.randn(inter, hidden, device=device, dtype=dtype, generator=gen) * 0.02
        if precision == "bf16":
            for t in tokens:
                x = torch.randn(t, hidden, device=device, dtype=dtype, generator=gen)
                times = timer(lambda: swiglu(torch, x, w_gate_up, w_down))
                record("single", hidden, inter, 1, "single", t, [t], times)
                print(f"single {name} {t:6d} tokens: {statistics.median(times):9.1f} us", file=sys.stderr)
        else:
            time_single_fp8(name, hidden, inter, w_gate_up, w_down)
        del w_gate_up, w_down
        E = GROUPED_EXPERTS
        wg = torch.randn(E, hidden, 2 * inter, device=device, dtype=dtype, generator=gen) * 0.02
        wd = torch.randn(E, inter, hidden, device=device, dtype=dtype, generator=gen) * 0.02
        shape_grouped = use_grouped_mm
        for pattern in ("balanced", "skewed", "single") if precision == "bf16" else ():
            for total in totals:
                loads = grouped_loads(pattern, total, E)
                x = torch.randn(total, hidden, device=device, dtype=dtype, generator=gen)
                fn = grouped_fn(torch, x, wg, wd, loads, shape_grouped)
                if shape_grouped and not grouped_matches_loop(torch, fn, x, wg, wd, loads):
                    print(f"  torch._grouped_mm disagrees with the loop for {name}: timing the loop for this shape", file=sys.stderr)
                    shape_grouped = False
                    fn = grouped_fn(torch, x, wg, wd, loads, False)
                impl_used.add("torch._grouped_mm" if shape_grouped else "loop over experts")
                times = timer(fn)
                record("grouped", hidden, inter, E, pattern, total, loads, times)
                print(f"grouped {name} {pattern:8s} {total:6d} tokens: {statistics.median(times):9.1f} us", file=sys.stderr)
        if precision == "fp8":
            time_grouped_fp8(name, hidden, inter, wg, wd)
        del wg, wd
        if device == "cuda":
            torch.cuda.empty_cache()

    def on_sigterm(signum, frame):
        raise Stopped("terminated (SIGTERM)")

    signal.signal(signal.SIGTERM, on_sigterm)
    # Every shape in BF16 first (the calibration), then FP8: a run cut short by --time-limit
    # or SIGTERM loses FP8 rows before BF16 ones.
    precisions = (["bf16"] if want_bf16 else []) + (["fp8"] if fp8_scaling is not None else [])
    incomplete = None
    for precision in precisions:
        for name, hidden, inter in shapes:
            try:
                measure_shape(name, hidden, inter, precision)
            except (Exception, Stopped) as e:  # out of memory, a CUDA error, the time limit: keep what was measured
                incomplete = f"stopped at {name} ({precision}): {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                print(f"  {incomplete}; writing the rows measured so far", file=sys.stderr)
                break
        if incomplete:
            break
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    if fp8_scaling is None:
        fp8_note = f"not timed: {fp8_why}"
    else:
        scales = "one per output channel of a weight, one per token" if fp8_scaling == "rowwise" else "one per tensor"
        fp8_note = (f"e4m3, {fp8_scaling} scales ({scales}), tokens arrive in FP8, "
                    f"the down projection's input quantized inside the timed function; grouped: {' + '.join(sorted(fp8_impl_used)) or 'none'}"
                    + (f"; skipped: {'; '.join(fp8_failed)}" if fp8_failed else ""))
    meta = provenance(torch, device, args.gpu_id, " + ".join(sorted(impl_used)) or "none", args, fp8_note)
    if incomplete:
        meta["incomplete"] = incomplete
    tmp = f"{args.out}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            for k, v in meta.items():
                f.write(f"# {k}: {v}\n")
            f.write(",".join(COLUMNS) + "\n")
            for r in rows:
                f.write(",".join(str(c) for c in r) + "\n")
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {args.out} ({len(rows)} rows)", file=sys.stderr)
    if incomplete:
        sys.exit(f"incomplete calibration ({incomplete}); the CSV has the rows measured before it")


if __name__ == "__main__":
    main()
