"""Per-epoch training time of every skdropout.nn method on LeNet-300-100 / MNIST against the
same network trained densely with skorch (NeuralNetClassifier) and against a paper-style
implementation of the same method (plain torch layers whose loss terms autograd
differentiates, as in the public code around the paper: ``benchmarks/paper_style.py``), all
in one run and in the same harness.

Goals (issue 19), on one CPU thread: no method slower than its paper-style implementation,
the three variational dropout methods at least 1.5x faster than theirs; vardrop and
hardconcrete at most 2.0x a dense epoch, the penalty methods, magnitude and standout at most
1.5x (the two local-reparameterisation methods have no bar of their own against dense).

Each method trains for one epoch on the first ``--n-samples`` MNIST training digits (default
48,000, Table 4's training split; batch 128, Adam, torch on one thread unless ``--threads``),
the dense baseline, skdropout and the paper-style network alternating ``--repeats`` times;
the networks are built before the clock starts. The three runs share the harness, so the
ratios compare the methods: each trains with torch's fused Adam and takes each batch of X
and y by one indexing (the dense and paper-style runs through skorch's options
``optimizer__fused=True``, ``dataset=BatchRows`` and ``iterator_train__collate_fn=as_batch``
of ``skdropout.nn._batches``, which is how the estimators load plain arrays), with the
DataLoader's shuffling sampler: the same batches in the same order. The table reports
median times scaled to a 48,000-sample epoch, the median, min and max of the per-round
ratios to dense, and the median ratio of the paper-style time to skdropout's (``speedup``).
``--skorch-default`` adds, in the same rounds, the dense and paper-style runs with skorch's
defaults (Adam's per-tensor loop, loading sample by sample) and their columns
``ratio_skorch_default`` and ``speedup_skorch_default``; they cost two more epochs a round
and no goal is judged on them. ``--clock cpu`` times the CPU time of this process instead
of elapsed time: on a machine shared with other jobs the time they hold the CPU does not
count (their use of the caches and of a shared core still does).

    SKDROPOUT_DATA=../shared/data OMP_NUM_THREADS=1 \
        python benchmarks/nn_speed.py --repeats 5 --clock cpu --out benchmarks/results/nn_speed
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.dataset import Dataset
from torch.utils.data.dataloader import default_collate

from _clock import CLOCKS, add_clock_argument
import paper_style
from skdropout.datasets import fetch_mnist
from skdropout.nn import METHODS, LeNet300100, SparseNetClassifier
from skdropout.nn._batches import BatchRows, as_batch
from skdropout.nn._terms import uniform_like

#: goal of the ratio to a dense epoch (None: none) and of the speedup over the paper style
DENSE_GOAL = {"vardrop_lr_ar": None, "vardrop_lr": None, "vardrop": 2.0, "hardconcrete": 2.0}
VARIATIONAL = {"vardrop_lr_ar", "vardrop_lr", "vardrop"}
EPOCH_SAMPLES = 48_000
#: methods with one trained parameter per weight besides the weight (Adam updates it too)
EXTRA_PARAMETER = {"vardrop_lr_ar", "vardrop_lr", "vardrop", "eta_trick", "hardconcrete"}
#: methods drawing one random number per weight per step: the generator each uses
WEIGHT_NOISE = {"vardrop": "randn", "hardconcrete": "uniform"}
#: methods sampling each layer's output by the local reparameterisation trick: a second
#: (variance) matrix product forward and two more backward, and one normal draw per output
LOCAL_REPARAMETERISATION = {"vardrop_lr_ar", "vardrop_lr"}
#: skorch options that give the dense and paper-style runs skdropout's harness: torch's
#: fused Adam, and each batch of X and y taken by one indexing with the DataLoader's sampler
SAME_HARNESS = {"optimizer__fused": True, "dataset": BatchRows,
                "iterator_train__collate_fn": as_batch}
#: the columns of ``--skorch-default``
DEFAULT_COLUMNS = ["dense_default_epoch_s", "paper_default_epoch_s", "ratio_skorch_default",
                   "speedup_skorch_default"]


def _step_costs(device: str, X: np.ndarray, y: np.ndarray, clock=time.perf_counter,
                repeats: int = 50, batch: int = 128) -> dict[str, float]:
    """Seconds of the work a method cannot avoid per step, on LeNet-300-100's weight
    shapes: one Adam update of 266,200 parameters by torch's fused implementation (every
    run's) and by its default one (skorch's default), one uniform or normal draw per
    weight, by the generator the methods use (``uniform_like`` and ``torch.randn_like``),
    the matrix products of a dense training step (forward and backward; a
    local-reparameterisation step does them twice: the mean and the variance), one normal
    draw per output of each layer, and the loading of a batch of 128 rows of X and y by one
    indexing (every run's) and sample by sample (skorch's default)."""
    shapes = [m.weight.shape for m in LeNet300100().modules() if isinstance(m, torch.nn.Linear)]
    params = [torch.zeros(s, device=device, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=1e-3)
    fused = torch.optim.Adam(params, lr=1e-3, fused=True)

    def timed(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = clock()
            fn()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(clock() - t0)
        return statistics.median(times)

    def draw(normal: bool):
        return lambda: [(torch.randn_like if normal else uniform_like)(p) for p in params]

    # the matrix products of one training step with batch 128: forward x W^T + b, backward
    # g^T x and g W (not for the first layer, whose input is data)
    gen = torch.Generator(device=device).manual_seed(0)
    xs = [torch.rand(batch, s[1], device=device, generator=gen) for s in shapes]
    gs = [torch.randn(batch, s[0], device=device, generator=gen) for s in shapes]
    biases = [torch.zeros(s[0], device=device) for s in shapes]

    def products():
        for i, (x, g, w, b) in enumerate(zip(xs, gs, params, biases)):
            torch.addmm(b, x, w.t())
            torch.mm(g.t(), x)
            if i:
                torch.mm(g, w)

    def output_noise():
        return [torch.randn_like(g) for g in gs]
    rows = np.random.default_rng(0).permutation(len(X))[:batch].tolist()
    per_sample, at_once = Dataset(X, y), BatchRows(X, y)
    return {"per_sample": timed(lambda: default_collate([per_sample[i] for i in rows])),
            "at_once": timed(lambda: at_once.__getitems__(rows)), "adam": timed(opt.step),
            "adam_fused": timed(fused.step), "uniform": timed(draw(False)),
            "randn": timed(draw(True)), "products": timed(products),
            "output_randn": timed(output_noise)}


def _epoch_time(make, X, y, repeats: int, clock=time.perf_counter) -> float:
    """Median time of one training epoch (``partial_fit`` of an initialised net: building
    the network and installing the method are not timed, the epoch-end sparsity record is)."""
    times = []
    for _ in range(repeats):
        net = make().initialize()
        t0 = clock()
        net.partial_fit(X, y)
        times.append(clock() - t0)
    return statistics.median(times)


def _markdown(table: pd.DataFrame) -> str:
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) and not np.isnan(v) else (
            "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def report(table: pd.DataFrame, header: str, out: str | None) -> None:
    """Print ``header`` (lines starting with ``# ``) and ``table``; with ``out``, write
    OUT.csv and OUT.md (the header without its ``# ``, the table in markdown)."""
    print(header + table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if out:
        table.to_csv(out + ".csv", index=False)
        with open(out + ".md", "w") as fh:
            fh.write(header.replace("# ", "") + "\n" + _markdown(table) + "\n")


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=48_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--skorch-default", action="store_true",
                        help="also time the dense and paper-style runs with skorch's "
                             "default Adam and loading (extra columns, no goal)")
    add_clock_argument(parser)
    parser.add_argument("--out", default=None, help="write OUT.csv and OUT.md")
    args = parser.parse_args(argv)
    command = ("# command: SKDROPOUT_DATA=../shared/data OMP_NUM_THREADS=1 python "
               f"benchmarks/nn_speed.py {' '.join(sys.argv[1:] if argv is None else argv)}\n")
    torch.set_num_threads(args.threads)
    X, y = fetch_mnist(subset="train", return_X_y=True)
    X, y = X[:args.n_samples], y[:args.n_samples]
    common = dict(max_epochs=1, batch_size=128, lr=1e-3, optimizer=torch.optim.Adam,
                  train_split=None, iterator_train__shuffle=True, verbose=0,
                  device=args.device)

    def dense(harness=SAME_HARNESS):
        torch.manual_seed(0)
        return NeuralNetClassifier(LeNet300100, criterion=torch.nn.CrossEntropyLoss,
                                   **common, **harness)

    scale = EPOCH_SAMPLES / args.n_samples
    clock = CLOCKS[args.clock]
    _epoch_time(dense, X[:256], y[:256], 1)  # warm-up: torch.optim's lazy imports
    n_batches = math.ceil(args.n_samples / common["batch_size"])
    rows = []
    for method in args.methods:
        def ours(method=method):
            return SparseNetClassifier(LeNet300100, method=method, random_state=0, **common)

        def paper(method=method, harness=SAME_HARNESS):
            torch.manual_seed(0)
            return paper_style.make(method, n_batches, **common, **harness)
        runs = [dense, ours, paper]
        if args.skorch_default:
            runs += [lambda: dense({}), lambda: paper(harness={})]
        # the runs alternate, so a change of machine load hits every side of a ratio
        rounds = [[_epoch_time(run, X, y, 1, clock) for run in runs]
                  for _ in range(args.repeats)]
        ratios = [r[1] / r[0] for r in rounds]
        goal = DENSE_GOAL.get(method, 1.5)
        row = {"method": method,
               "dense_epoch_s": statistics.median(r[0] for r in rounds) * scale,
               "epoch_s": statistics.median(r[1] for r in rounds) * scale,
               "paper_epoch_s": statistics.median(r[2] for r in rounds) * scale,
               "ratio": statistics.median(ratios), "ratio_min": min(ratios),
               "ratio_max": max(ratios),
               "paper_ratio": statistics.median(r[2] / r[0] for r in rounds),
               "speedup": statistics.median(r[2] / r[1] for r in rounds),
               "goal": np.nan if goal is None else goal,
               "speedup_goal": 1.5 if method in VARIATIONAL else 1.0}
        if args.skorch_default:
            row.update({"dense_default_epoch_s": statistics.median(r[3] for r in rounds) * scale,
                        "paper_default_epoch_s": statistics.median(r[4] for r in rounds) * scale,
                        "ratio_skorch_default": statistics.median(r[1] / r[3] for r in rounds),
                        "speedup_skorch_default": statistics.median(r[4] / r[1]
                                                                    for r in rounds)})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["meets_goal"] = ((table["ratio"] <= table["goal"]) | table["goal"].isna()) & \
        (table["speedup"] >= table["speedup_goal"])
    # the ratio no implementation can beat: the dense step (the same harness) plus the
    # fused Adam on the extra parameters plus the per-weight random draw, each measured
    # alone
    costs = _step_costs(args.device, X, y, clock, batch=common["batch_size"])
    dense_step = table["dense_epoch_s"] / math.ceil(EPOCH_SAMPLES / common["batch_size"])
    extra = [(costs["adam_fused"] if m in EXTRA_PARAMETER else 0.0) +
             (costs[WEIGHT_NOISE[m]] if m in WEIGHT_NOISE else 0.0) +
             (costs["products"] + costs["output_randn"]
              if m in LOCAL_REPARAMETERISATION else 0.0) for m in table["method"]]
    table["floor"] = 1.0 + np.asarray(extra) / dense_step
    # the largest speedup over the paper style that an implementation at the floor gets
    table["best_speedup"] = table["paper_ratio"] / table["floor"]
    # the skorch-default columns last: no goal is judged on them
    table = table[[c for c in table if c not in DEFAULT_COLUMNS] +
                  [c for c in DEFAULT_COLUMNS if c in table]]
    paper_step = table["paper_epoch_s"] / math.ceil(EPOCH_SAMPLES / common["batch_size"])
    lr_rows = table["method"].isin(LOCAL_REPARAMETERISATION)
    product_share = ", ".join(
        f"{m} {100 * 2 * costs['products'] / p:.0f} %"
        for m, p in zip(table["method"][lr_rows], paper_step[lr_rows]))
    default_columns = (
        f"# dense_default_epoch_s, paper_default_epoch_s: the dense and paper-style runs "
        f"with skorch's defaults instead; ratio_skorch_default: skdropout's epoch over "
        f"that dense epoch; speedup_skorch_default: that paper-style epoch over "
        f"skdropout's (no goal is judged on these)\n" if args.skorch_default else "")
    header = command + (
              f"# nn_speed: seconds per 48,000-sample epoch, LeNet-300-100, batch 128, Adam\n"
              f"# torch {torch.__version__}, {args.threads} thread(s), device {args.device}, "
              f"{platform.processor() or platform.machine()}, n_samples={args.n_samples}, "
              f"repeats={args.repeats}, clock={args.clock} (medians of the per-round ratios; "
              f"dense, skdropout and paper-style runs alternate on a machine shared with "
              f"other jobs)\n"
              f"# one harness for all three runs: torch's fused Adam (skorch's "
              f"optimizer__fused=True for the dense and paper-style runs, skdropout's "
              f"default) and each batch of X and y taken by one indexing with the "
              f"DataLoader's shuffling sampler (skorch's dataset=BatchRows, "
              f"iterator_train__collate_fn=as_batch of skdropout.nn._batches for the dense "
              f"and paper-style runs, skdropout's own loading of plain arrays): the same "
              f"batches in the same order. skorch's defaults would cost on their own: Adam's "
              f"loop {1e3 * costs['adam']:.2f} ms against fused "
              f"{1e3 * costs['adam_fused']:.2f} ms on 266,200 parameters, loading a batch "
              f"sample by sample {1e3 * costs['per_sample']:.2f} ms against "
              f"{1e3 * costs['at_once']:.2f} ms\n"
              f"# paper_ratio: the paper-style implementation's epoch over dense; speedup: its "
              f"epoch over skdropout's; goal: of ratio; meets_goal: ratio <= goal and speedup "
              f">= speedup_goal\n" + default_columns +
              f"# floor: 1 + (fused Adam on a second set of 266,200 parameters "
              f"{1e3 * costs['adam_fused']:.2f} ms for methods with one, + one draw per "
              f"weight: uniform {1e3 * costs['uniform']:.2f} ms, normal "
              f"{1e3 * costs['randn']:.2f} ms; local reparameterisation: + the variance's "
              f"matrix products {1e3 * costs['products']:.2f} ms, as many as a dense step's, "
              f"+ one normal draw per output {1e3 * costs['output_randn']:.2f} ms) / dense "
              f"step; best_speedup: paper_ratio / floor\n"
              + (f"# the matrix products alone (mean and variance, forward and backward, "
                 f"{2e3 * costs['products']:.2f} ms) are this share of a paper-style "
                 f"local-reparameterisation step: {product_share}\n" if product_share else ""))
    report(table, header, args.out)
    return table


if __name__ == "__main__":
    main()
