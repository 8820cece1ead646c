"""Runs tools/calibrate_experts.py (its arguments follow) on a torch without FP8, with an emulation
of the FP8 API the script calls: float8_e4m3fn, torch._scaled_mm and torch._scaled_grouped_mm.
Used by test/calibration-script.test.ts to exercise the script's FP8 path on the CPU.

The emulation does not round to e4m3 (it keeps BF16 values), so it says nothing about FP8 accuracy
or speed. What it checks is the calling convention the real CUDA kernels enforce, and it raises
the way they do when the script breaks it:
  _scaled_mm(a, b, scale_a, scale_b, out_dtype): a [m, k] row-major, b [k, n] column-major,
    k and n multiples of 16, FP8 operands, fp32 scales either one per tensor (numel 1) or rowwise
    ([m, 1] and [1, n]), out_dtype bfloat16;
  _scaled_grouped_mm(a, b, scale_a, scale_b, offs, out_dtype): a [total, k] row-major, b [E, k, n]
    column-major in its last two dims, scale_a [total], scale_b [E, n], offs int32 [E] (cumulative
    ends), out_dtype bfloat16.
FAKE_FP8 in the environment picks a failure to emulate: "tensorwise-only" (rowwise scales
refused, as by older torch), "no-grouped" (_scaled_grouped_mm raises), "wrong" (_scaled_mm returns
wrong numbers), "fail-n32" (_scaled_mm raises for an output width of 32, as a real kernel may
for one shape), "crash-i128" (SiLU raises on a width of 128, as a CUDA error would in the middle
of the tiny-wide shape); unset, everything works.
"""
import os
import runpy
import sys

import torch

MODE = os.environ.get("FAKE_FP8", "")
FP8 = torch.bfloat16  # stands in for float8_e4m3fn: a dtype the script casts to and the emulation checks


def _check(cond, message):
    if not cond:
        raise RuntimeError(message)


def _scaled_mm(a, b, scale_a=None, scale_b=None, out_dtype=None, **kwargs):
    _check(a.dtype == FP8 and b.dtype == FP8, "operands must be float8_e4m3fn")
    _check(a.dim() == 2 and b.dim() == 2 and a.shape[1] == b.shape[0], f"shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied")
    _check(a.stride(1) == 1, "mat1 must be row-major")
    _check(b.stride(0) == 1, "mat2 must be column-major")
    m, k = a.shape
    n = b.shape[1]
    _check(k % 16 == 0 and n % 16 == 0, f"k={k} and n={n} must be divisible by 16")
    _check(out_dtype == torch.bfloat16, f"out_dtype must be bfloat16, got {out_dtype}")
    _check(not (MODE == "fail-n32" and n == 32), "CUBLAS_STATUS_NOT_SUPPORTED (emulated for n=32)")
    _check(scale_a is not None and scale_b is not None and scale_a.dtype == torch.float32 and scale_b.dtype == torch.float32, "scales must be float32 tensors")
    _check(scale_a.is_contiguous() and scale_b.is_contiguous(), "scales must be contiguous")
    tensorwise = scale_a.numel() == 1 and scale_b.numel() == 1
    rowwise = tuple(scale_a.shape) == (m, 1) and tuple(scale_b.shape) == (1, n)
    _check(not (rowwise and MODE == "tensorwise-only"), "rowwise scaling is not supported by this emulated torch")
    _check(tensorwise or rowwise, f"scales {tuple(scale_a.shape)} / {tuple(scale_b.shape)} are neither tensorwise nor rowwise for {m}x{k}x{n}")
    out = (a.float() * scale_a) @ (b.float() * scale_b)
    return (out * 1.5 if MODE == "wrong" else out).to(torch.bfloat16)


def _scaled_grouped_mm(a, b, scale_a, scale_b, offs=None, out_dtype=None, **kwargs):
    _check(MODE != "no-grouped", "no kernel image is available for execution on the device")
    _check(a.dtype == FP8 and b.dtype == FP8, "operands must be float8_e4m3fn")
    _check(a.dim() == 2 and b.dim() == 3 and a.shape[1] == b.shape[1], f"2d-3d shapes {tuple(a.shape)} and {tuple(b.shape)} do not match")
    _check(a.stride(1) == 1, "mat_a must be row-major")
    _check(b.stride(1) == 1, "mat_b must be column-major in its last two dims")
    groups, k, n = b.shape
    _check(k % 16 == 0 and n % 16 == 0, f"k={k} and n={n} must be divisible by 16")
    _check(out_dtype == torch.bfloat16, f"out_dtype must be bfloat16, got {out_dtype}")
    _check(offs is not None and offs.dtype == torch.int32 and tuple(offs.shape) == (groups,), "offs must be int32 [groups]")
    _check(int(offs[-1]) == a.shape[0], "offs must end at the row count")
    _check(scale_a.is_contiguous() and scale_b.stride(1) == 1, "scale_a must be contiguous and scale_b's rows contiguous")
    _check(tuple(scale_a.shape) == (a.shape[0],) and tuple(scale_b.shape) == (groups, n), f"rowwise scales must be [{a.shape[0]}] and [{groups}, {n}], got {tuple(scale_a.shape)} and {tuple(scale_b.shape)}")
    out, start = [], 0
    for g in range(groups):
        end = int(offs[g])
        out.append((a[start:end].float() * scale_a[start:end, None]) @ (b[g].float() * scale_b[g][None, :]))
        start = end
    return torch.cat(out, dim=0).to(torch.bfloat16)


if MODE == "crash-i128":
    _silu = torch.nn.functional.silu

    def _crashing_silu(x, *args, **kwargs):
        _check(x.shape[-1] != 128, "CUDA error: an illegal memory access was encountered (emulated)")
        return _silu(x, *args, **kwargs)
    torch.nn.functional.silu = _crashing_silu

torch.float8_e4m3fn = FP8
torch._scaled_mm = _scaled_mm
torch._scaled_grouped_mm = _scaled_grouped_mm
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
