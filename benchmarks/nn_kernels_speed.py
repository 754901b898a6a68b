"""The per-weight terms of skdropout.nn on LeNet-300-100's first layer (300 x 784 weights):
forward and backward of each term on its fused CPU loop (``skdropout/nn/_native.c``, the C++
operators of ``_native_ops.cpp`` for the two noise terms) against the same term as a chain of
torch element-wise operations (the route a GPU, float64 or ``SKDROPOUT_NATIVE=0`` takes), in
one run, on one thread unless ``--threads``.

Each row is the minimum over ``--repeats`` calls of the term's forward pass and the backward
pass of its sum (float32, random weights, log alpha / log a / log eta spread over their
range, clipped entries included).

    python benchmarks/nn_kernels_speed.py --out benchmarks/results/nn_kernels_speed
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Callable

import pandas as pd
import torch

from skdropout.nn import _native
from skdropout.nn._kernels import (eta_trick_objective, hardconcrete_gates, local_variance,
                                   sigmoid_sum, vardrop_kl_sum, vardrop_noise)
from skdropout.penalties import get_penalty

from nn_speed import report  # noqa: E402  (this script's folder is on sys.path)

SHAPE = (300, 784)


def _terms() -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """Each term as f(w, x) -> a 0-d tensor to differentiate (x: the layer's second
    parameter: log alpha, log a or log eta_bar)."""
    pen = get_penalty("logsum", eps=2.0)

    def gates(beta: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        def f(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            out, count = hardconcrete_gates(w, x, beta, -0.1, 1.1, 1e-3)
            return out.sum() + count
        return f

    def noise(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out, kl = vardrop_noise(w, x, 1e-3)
        return out.sum() + kl

    return {
        "vardrop_noise (+KL)": noise,
        "hardconcrete_gates (+count), beta=2/3": gates(2 / 3),
        "hardconcrete_gates (+count), beta=0.45": gates(0.45),
        "vardrop_kl_sum": lambda w, x: vardrop_kl_sum(x),
        "vardrop_kl_sum, additive": lambda w, x: vardrop_kl_sum(x, w),
        "local_variance": lambda w, x: local_variance(x, w).sum(),
        "sigmoid_sum": lambda w, x: sigmoid_sum(x, -1.6),
        "eta_trick_objective (logsum)": lambda w, x: eta_trick_objective(w, x, pen, 1e-3,
                                                                         1e-3)[0],
    }


def _time(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], w: torch.Tensor,
          x: torch.Tensor, repeats: int) -> float:
    """Minimum seconds of one forward and backward pass of ``fn``."""
    best = float("inf")
    for _ in range(repeats + 1):  # the first call builds and loads what it needs
        w.grad = x.grad = None
        t0 = time.perf_counter()
        fn(w, x).backward()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="write OUT.csv and OUT.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if _native.operators() is None:
        raise SystemExit("the fused loops or the C++ operators cannot be built here")
    g = torch.Generator().manual_seed(0)
    w = (0.1 * torch.randn(SHAPE, generator=g)).requires_grad_()
    x = (6.0 * torch.randn(SHAPE, generator=g)).requires_grad_()  # some beyond the clips
    fused_usable = _native.usable
    rows = []
    for name, fn in _terms().items():
        fused = _time(fn, w, x, args.repeats)
        _native.usable = lambda *tensors: False  # the torch route
        try:
            torch_route = _time(fn, w, x, args.repeats)
        finally:
            _native.usable = fused_usable
        rows.append({"term": name, "fused_ms": 1e3 * fused, "torch_ms": 1e3 * torch_route,
                     "speedup": torch_route / fused})
    table = pd.DataFrame(rows)
    header = (f"# nn_kernels_speed: forward + backward of each per-weight term on {SHAPE[0]} x "
              f"{SHAPE[1]} float32 weights, min of {args.repeats}\n"
              f"# torch {torch.__version__}, {args.threads} thread(s), "
              f"{platform.processor() or platform.machine()}\n")
    report(table, header, args.out)
    return table


if __name__ == "__main__":
    main()
