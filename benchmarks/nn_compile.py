"""Opt-in ``torch.compile`` of the variational dropout KL term: its compile time and the
per-epoch time it buys, against the eager route, on LeNet-300-100 / MNIST (one thread).

skdropout.nn runs eager torch only (no code compiled at run time); this script is the
recipe for a user who accepts a C++ compiler and inductor's compile time. The recipe
replaces the element-wise core of the KL term (value and derivative in log alpha, shared
by VARDROP+LR+AR, VARDROP+LR and VARDROP) by its compiled version, before the nets are
built::

    import torch
    from skdropout.nn import _vardrop
    _vardrop._kl_and_slope = torch.compile(_vardrop._kl_and_slope, dynamic=True)

The compiled kernels draw no random numbers (the noise stays eager), so the same
``random_state`` trains the same network up to the rounding of the fused arithmetic.

Each method trains one epoch eagerly and compiled, alternating ``--repeats`` times, after
a first compiled epoch whose extra time over the median compiled epoch is reported as the
compile time (torch's caches are cleared first, so it includes inductor's C++ build).

    SKDROPOUT_DATA=../shared/data OMP_NUM_THREADS=1 \\
        python benchmarks/nn_compile.py --out benchmarks/results/nn_compile
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import pandas as pd
import torch

from _clock import CLOCKS, add_clock_argument
from nn_speed import EPOCH_SAMPLES, _epoch_time, report
from skdropout.datasets import fetch_mnist
from skdropout.nn import LeNet300100, SparseNetClassifier, _vardrop

EAGER = _vardrop._kl_and_slope


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=48_000)
    parser.add_argument("--repeats", type=int, default=3)
    add_clock_argument(parser)
    parser.add_argument("--methods", nargs="*", default=["vardrop_lr_ar", "vardrop_lr",
                                                         "vardrop"])
    parser.add_argument("--out", default=None, help="write OUT.csv and OUT.md")
    args = parser.parse_args(argv)
    command = ("# command: SKDROPOUT_DATA=../shared/data OMP_NUM_THREADS=1 python "
               f"benchmarks/nn_compile.py {' '.join(sys.argv[1:] if argv is None else argv)}\n")
    torch.set_num_threads(1)
    clock = CLOCKS[args.clock]
    X, y = fetch_mnist(subset="train", return_X_y=True)
    X, y = X[:args.n_samples], y[:args.n_samples]
    scale = EPOCH_SAMPLES / args.n_samples
    rows = []
    for method in args.methods:
        def make(method=method):
            return SparseNetClassifier(LeNet300100, method=method, random_state=0,
                                       max_epochs=1, batch_size=128, train_split=None,
                                       verbose=0)

        torch._dynamo.reset()
        _vardrop._kl_and_slope = torch.compile(EAGER, dynamic=True)
        t0 = time.perf_counter()
        first = _epoch_time(make, X, y, 1, clock)
        first_wall = time.perf_counter() - t0
        eager, compiled = [], []
        for _ in range(args.repeats):
            _vardrop._kl_and_slope = EAGER
            eager.append(_epoch_time(make, X, y, 1, clock))
            _vardrop._kl_and_slope = torch.compile(EAGER, dynamic=True)  # cached: no new build
            compiled.append(_epoch_time(make, X, y, 1, clock))
        _vardrop._kl_and_slope = EAGER
        rows.append({"method": method,
                     "eager_epoch_s": statistics.median(eager) * scale,
                     "compiled_epoch_s": statistics.median(compiled) * scale,
                     "speedup": statistics.median(e / c for e, c in zip(eager, compiled)),
                     "compile_s": first - statistics.median(compiled),
                     "first_epoch_wall_s": first_wall})
    header = command + "".join(f"# {line}\n" for line in (
        "nn_compile: torch.compile of the KL term (opt-in), seconds per 48,000-sample epoch, "
        "LeNet-300-100, batch 128, Adam",
        f"torch {torch.__version__}, 1 thread, n_samples={args.n_samples}, "
        f"repeats={args.repeats}, clock={args.clock}; compile_s: the first compiled epoch "
        "(caches cleared) minus the median compiled epoch"))
    table = pd.DataFrame(rows)
    report(table, header, args.out)
    return table

if __name__ == "__main__":
    main()
