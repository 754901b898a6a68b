"""Test error and density of a trained Table 4 network over a range of pruning thresholds.

    SKDROPOUT_DATA=../shared/data python benchmarks/table4/threshold_sweep.py RUN_FOLDER [METHOD]

Loads ``RUN_FOLDER/<method>.module.pt`` (the trained state_dict that ``run.py`` keeps) into a
``SparseNetClassifier`` of the same method and evaluates the pruned network for each
``keep_min`` (a weight is pruned when its keep probability is below it; 0.05 is the paper's
rule) on the authors' protocol's validation and test sets. Besides a fixed grid, the
thresholds that keep exactly the ``--densities`` fractions of the 266,200 weights are
evaluated: those depend on the weights only, not on any label. Writes
``<method>.threshold_sweep.csv`` and ``.png`` into the run folder, and the row of the
``--point`` density as ``<method>.threshold_sweep_<density>.json`` (a point for Figure 2).
Before the sweep the run's own numbers at 0.05 (``<method>.json``) are reproduced from the
loaded module, or it stops.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from skdropout.datasets import fetch_mnist
from skdropout.experiments.table4 import N_WEIGHTS, _split, _standardise
from skdropout.nn import KEEP_MIN, LeNet300100, SparseNetClassifier

GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def load_net(folder: Path, method: str) -> tuple[SparseNetClassifier, dict]:
    """The run's result JSON and a net holding its trained module."""
    result = json.loads((folder / f"{method}.json").read_text())
    params = result["estimator_params"]
    # the keep probability of the penalty methods depends on lam and the penalty
    net = SparseNetClassifier(LeNet300100, method=method, classes=np.arange(10),
                              lam=result["lam"], penalty=params["penalty"],
                              penalty_params=params["penalty_params"], verbose=0,
                              **{f"method__{k}": v for k, v in result["method_options"].items()})
    net.initialize()
    state = torch.load(folder / f"{method}.module.pt", map_location="cpu", weights_only=True)
    net.module_.load_state_dict(state)
    return net, result


def keep_probs(net: SparseNetClassifier) -> np.ndarray:
    """The keep probabilities of all the method's weights, in float64."""
    return np.concatenate([layer.keep_prob().double().numpy().ravel()
                           for layer in net.sparse_layers()])


def threshold_for(keep: np.ndarray, n_kept: int) -> float:
    """A keep_min that keeps the ``n_kept`` weights of largest keep probability: midway
    between the n_kept-th and the next (in log odds, where the layers compare)."""
    top = np.sort(keep)[::-1][n_kept - 1:n_kept + 1]
    logit = np.log(top) - np.log1p(-top)
    return float(1.0 / (1.0 + math.exp(-logit.mean())))


def evaluate(net: SparseNetClassifier, keep_min: float, sets: dict) -> dict:
    net.set_params(keep_min=keep_min)
    row = {"keep_min": keep_min, "log_alpha_max": math.log((1 - keep_min) / keep_min),
           "density": net.density_, "nonzeros": round(net.density_ * N_WEIGHTS)}
    for name, (X, y) in sets.items():
        row[f"{name}_error"] = 100 * float(np.mean(net.predict(X) != y))
    return row


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["density"])
    d = [100 * r["density"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(d, [r["test_error"] for r in rows], "o-", label="test error")
    ax.plot(d, [r["valid_error"] for r in rows], "s--", mfc="none", label="validation error")
    default = next(r for r in rows if r["keep_min"] == KEEP_MIN)
    ax.plot(100 * default["density"], default["test_error"], "k*", ms=12,
            label=f"keep_min {KEEP_MIN} (the paper's rule)")
    for r in rows:
        if r["keep_min"] in (0.01, 0.2, 0.5, 0.9, 0.99):
            ax.annotate(f"{r['keep_min']:g}", (100 * r["density"], r["test_error"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axvline(1.5, color="grey", lw=0.8, ls=":")
    ax.axhline(1.9, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    low = min(min(r["test_error"], r["valid_error"]) for r in rows)
    ax.set_ylim(low - 0.2, low + 3.0)  # the region of the goal; the collapse is off the top
    ax.set_xlabel("% of the 266,200 weights kept")
    ax.set_ylabel("error of the pruned network, % (larger errors off the top)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("method", nargs="?", default="vardrop_lr_ar")
    parser.add_argument("--densities", type=float, nargs="*",
                        default=[0.0175, 0.015, 0.0125, 0.01])
    parser.add_argument("--point", type=float, default=0.015,
                        help="the targeted density whose row is also written as a result "
                             "JSON (for run.py --collect --extra)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = Path(args.folder)
    net, result = load_net(folder, args.method)

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    _, va = _split(len(X))
    sets = {"valid": (_standardise(X[va]), y[va]), "test": (_standardise(X_test), y_test)}

    check = evaluate(net, KEEP_MIN, sets)
    if not (math.isclose(check["test_error"], result["test_error"], abs_tol=1e-9)
            and math.isclose(check["density"], result["density"], abs_tol=1e-12)):
        raise SystemExit(f"the loaded module does not reproduce {args.method}.json at "
                         f"keep_min 0.05: {check} against test error {result['test_error']} "
                         f"and density {result['density']}")
    keep = keep_probs(net)
    targets = [threshold_for(keep, round(d * N_WEIGHTS)) for d in {*args.densities, args.point}]
    rows = sorted((evaluate(net, k, sets) for k in sorted({*GRID, *targets})),
                  key=lambda r: r["keep_min"])
    for r in rows:
        r["targeted"] = r["keep_min"] in targets

    stem = f"{args.method}.threshold_sweep"
    cols = ["keep_min", "log_alpha_max", "density", "nonzeros", "valid_error", "test_error",
            "targeted"]
    lines = [",".join(cols)] + [",".join(f"{r[c]:.6g}" if isinstance(r[c], float)
                                         else str(r[c]) for c in cols) for r in rows]
    (folder / f"{stem}.csv").write_text("\n".join(lines) + "\n")
    plot(rows, folder / f"{stem}.png",
         f"{folder.name}: one trained network, pruned at several keep_min")
    point = evaluate(net, threshold_for(keep, round(args.point * N_WEIGHTS)), sets)
    (folder / f"{stem}_{args.point:g}.json").write_text(json.dumps(
        {**point, "method": args.method, "source": f"{args.method}.module.pt",
         "chosen_by": f"the density {args.point:g} (the weights only, no labels)"}, indent=1))
    print(f"{'keep_min':>9} {'log a max':>9} {'density %':>9} {'nonzeros':>8} "
          f"{'valid %':>7} {'test %':>7}")
    for r in rows:
        print(f"{r['keep_min']:9.4g} {r['log_alpha_max']:9.3f} {100 * r['density']:9.3f} "
              f"{r['nonzeros']:8d} {r['valid_error']:7.2f} {r['test_error']:7.2f}"
              f"{'  (targeted density)' if r['targeted'] else ''}")
