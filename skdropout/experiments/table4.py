"""Table 4 and Figure 2 of the paper: sparsifying LeNet-300-100 on MNIST (appendix C).

Protocol: the MNIST training set split 80/20 at random (fixed seed) into training and
validation sets; LeNet-300-100; Adam with the learning rate decaying linearly to 0 over the
run; batch 128; the seven methods of Table 4 with the paper's lam and learning rate; density
counted over the 266,200 weights with the keep-probability rule (keep probability < 0.05 is
pruned); the test error is that of the pruned network.

Each method writes ``<out>/<method>.csv`` (one row per epoch: validation error and density
of the pruned model, epoch and cumulative time) while it trains and ``<out>/<method>.json``
(final test error, density, wall time) when done; :func:`collect_table4` assembles
``table4.csv`` (beside the paper's numbers), ``figure2.png`` and ``figure2_published.png``
from whatever methods are present, so several processes may share one ``out`` folder.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

#: Table 4 of the paper: lam, learning rate, test error (%), fraction of nonzeros.
#: lam=None means 1/N with N the real number of training samples (48,000 here); the paper
#: prints 1/60,000 for the variational dropout methods.
PAPER_TABLE4: dict[str, dict[str, Any]] = {
    "vardrop_lr_ar": {"lam": None, "paper_lam": "1/60000", "lr": 1e-4, "test_error": 3.21,
                      "density": 0.024},
    "vardrop_lr": {"lam": None, "paper_lam": "1/60000", "lr": 1e-3, "test_error": 1.41,
                   "density": 0.088},
    "vardrop": {"lam": None, "paper_lam": "1/60000", "lr": 1e-3, "test_error": 1.54,
                "density": 0.595},
    "eta_trick": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-3, "test_error": 2.16,
                  "density": 0.051},
    "adaprox": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-4, "test_error": 2.94,
                "density": 0.028},
    "adatikhonov": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-4, "test_error": 2.88,
                    "density": 0.018},
    "logsum": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-4, "test_error": 2.93,
               "density": 0.019},
}

#: Published LeNet-300-100 results: test error (%), fraction of weights kept.
PUBLISHED_LENET300100: dict[str, tuple[float, float]] = {
    "Han et al. 2015 (pruning)": (1.59, 0.08),
    "Sparse VD (Molchanov et al. 2017)": (1.92, 0.015),
    "DNS (Guo et al. 2016)": (1.99, 0.018),
}

N_WEIGHTS = 266_200

#: The paper's settings (appendix C) where the estimators' defaults differ: no KL warm-up,
#: log alpha starting at -5, and the same learning rate for every parameter (``log_lr``,
#: set to the method's lr). Set explicitly for each method and recorded in its JSON.
PAPER_VARDROP_SETTINGS: dict[str, Any] = {"method__init_log_alpha": -5.0,
                                          "method__kl_warmup": 0.0}


def _split(n: int, seed: int, valid_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_valid = int(round(valid_fraction * n))
    return perm[n_valid:], perm[:n_valid]


def run_table4(methods: Sequence[str] | None = None, epochs: int = 200, device: str = "cpu",
               out: str | Path = "table4", data_home: str | None = None, seed: int = 0,
               lr: float | None = None, batch_size: int = 128,
               params: dict[str, Any] | None = None, verbose: int = 0) -> pd.DataFrame:
    """Train the Table 4 methods on MNIST and write their curves, the table and Figure 2.

    Parameters
    ----------
    methods : sequence of str, optional
        Subset of ``vardrop_lr_ar vardrop_lr vardrop eta_trick adaprox adatikhonov logsum``
        (default all seven).
    epochs : int, default=200
        Training epochs; the learning rate decays linearly to 0 over them (so a shorter run
        is the same schedule compressed).
    device : str, default='cpu'
        torch device, e.g. ``'cuda'``.
    out : str or Path
        Output folder (created).
    data_home : str, optional
        MNIST data home (see :func:`skdropout.datasets.fetch_mnist`).
    seed : int, default=0
        Seed of the 80/20 split and of torch.
    lr : float, optional
        Override the paper's learning rate of every method.
    batch_size : int, default=128
    params : dict, optional
        Further estimator parameters for every method, e.g. ``{"method__kl_warmup": 50}``
        (a deviation from the paper's protocol; recorded in each method's JSON).
    verbose : int, default=0
        skorch's per-epoch printout when > 0.

    Returns
    -------
    pandas.DataFrame
        The table of :func:`collect_table4` (all methods present in ``out``).
    """
    import torch
    from skorch.callbacks import Callback
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    from ..datasets import fetch_mnist
    from ..nn import LeNet300100, LinearLRDecay, SparseNetClassifier

    methods = list(PAPER_TABLE4) if methods is None else list(methods)
    unknown = [m for m in methods if m not in PAPER_TABLE4]
    if unknown:
        raise ValueError(f"Unknown Table 4 method(s) {unknown}; valid: {', '.join(PAPER_TABLE4)}.")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X_train, y_train, X_test, y_test = fetch_mnist(data_home=data_home, return_X_y=True)
    tr, va = _split(len(X_train), seed)
    X_tr, y_tr, X_va, y_va = X_train[tr], y_train[tr], X_train[va], y_train[va]

    class _EpochCSV(Callback):
        """Write the per-epoch curve after every epoch (partial runs stay readable)."""

        def __init__(self, path: Path) -> None:
            self.path = path

        def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
            _curve(net.history).to_csv(self.path, index=False)

    for method in methods:
        spec = PAPER_TABLE4[method]
        net = SparseNetClassifier(
            LeNet300100, method=method, lam=spec["lam"], lr=lr or spec["lr"],
            optimizer=torch.optim.Adam, batch_size=batch_size, max_epochs=epochs,
            train_split=predefined_split(Dataset(X_va, y_va)), device=device,
            random_state=seed, verbose=verbose,
            callbacks=[("epoch_csv", _EpochCSV(out / f"{method}.csv"))])
        paper = dict(log_lr=lr or spec["lr"], **(PAPER_VARDROP_SETTINGS
                                                 if method.startswith("vardrop") else {}))
        # the learning rate decays linearly to 0 over the run (appendix C)
        net.set_params(callbacks__lr_decay=LinearLRDecay(), **paper)
        net.set_params(**(params or {}))
        t0 = time.perf_counter()
        net.fit(X_tr, y_tr)
        wall = time.perf_counter() - t0
        test_error = float(np.mean(net.predict(X_test) != y_test))
        n_kept = round(net.density_ * N_WEIGHTS)
        result = {"method": method, "epochs": epochs, "lam": net.sparse_layers()[0].lam,
                  "lr": lr or spec["lr"], "batch_size": batch_size, "seed": seed,
                  "device": device, "test_error": 100 * test_error,
                  "density": net.density_, "nonzeros": n_kept,
                  "layer_density": net.layer_density_, "wall_time_s": wall,
                  "n_train": int(net.n_train_), "paper_settings": paper,
                  "params": dict(params or {})}
        (out / f"{method}.json").write_text(json.dumps(result, indent=1))
    return collect_table4(out)


def _curve(history: Any) -> pd.DataFrame:
    rows = [{"epoch": h["epoch"], "valid_error": 100 * h.get("valid_error", math.nan),
             "density": h["density"], "train_loss": h.get("train_loss", math.nan),
             "epoch_time_s": h["dur"]} for h in history]
    df = pd.DataFrame(rows)
    df["time_s"] = df["epoch_time_s"].cumsum()
    return df


def collect_table4(out: str | Path) -> pd.DataFrame:
    """Assemble ``table4.csv``, ``figure2.png`` and ``figure2_published.png`` (this run's
    curves and test results with the paper's Table 4 points and the published LeNet-300-100
    results) in ``out`` from the per-method files present there; returns the table (errors
    in %)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import plot_training

    out = Path(out)
    rows, curves = [], {}
    for method, spec in PAPER_TABLE4.items():
        res_path = out / f"{method}.json"
        if (out / f"{method}.csv").exists():
            curves[method] = pd.read_csv(out / f"{method}.csv")
        if not res_path.exists():
            continue
        res = json.loads(res_path.read_text())
        rows.append({"method": method, "epochs": res["epochs"], "lam": res["lam"],
                     "paper_lam": spec["paper_lam"], "lr": res["lr"],
                     "test_error_%": res["test_error"], "paper_test_error_%": spec["test_error"],
                     "density": res["density"], "paper_density": spec["density"],
                     "wall_time_s": res["wall_time_s"]})
    table = pd.DataFrame(rows)
    if rows:
        table.to_csv(out / "table4.csv", index=False, float_format="%.5g")
    if curves:
        ax = plot_training(curves)
        ax.set_title("Figure 2: LeNet-300-100 on MNIST (validation, pruned network)")
        ax.figure.savefig(out / "figure2.png", dpi=130, bbox_inches="tight")
        plt.close(ax.figure)
        final = {r["method"]: (r["test_error_%"], r["density"]) for r in rows}
        paper = {m: (PAPER_TABLE4[m]["test_error"], PAPER_TABLE4[m]["density"])
                 for m in final}
        ax = plot_training(curves, published=PUBLISHED_LENET300100, final=final, paper=paper)
        ax.set_title("LeNet-300-100 on MNIST: this run and published results (test error)")
        ax.figure.savefig(out / "figure2_published.png", dpi=130, bbox_inches="tight")
        plt.close(ax.figure)
    return table
