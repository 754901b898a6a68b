"""Table 4 and Figure 2 of the paper: sparsifying LeNet-300-100 on MNIST (appendix C).

Protocol (the paper's appendix C, and the authors' public code where the paper is silent;
every setting is passed explicitly and recorded in each method's JSON, see
:func:`protocol_settings`): MNIST pixels standardised with mean 0.1307 and std 0.3081; the
60,000 training images split 48,000/12,000 by ``sklearn.model_selection.ShuffleSplit(
test_size=0.2, random_state=42)`` (the split skorch's ``CVSplit(0.2, random_state=42)`` of
the authors' code draws, not stratified); LeNet-300-100; Adam (betas 0.9, 0.999, eps 1e-8)
with the learning rate decaying linearly to 0, stepped once per epoch; batch 128; the seven
methods of Table 4 with the paper's lam and learning rate. Variational dropout: weights
N(0, 0.02^2), zero biases, log sigma = -5 (additive reparameterisation) or log alpha = -5,
KL weight 1 with lam = 1/60,000 (the authors' cross-entropy times 60,000, divided through by
60,000, with Adam's eps divided by 60,000 so that the steps are the same), no warm-up.
Penalty methods: torch's default initialisation, LogSum(eps=2), lam = 1e-3; eta-trick
log(eta/lam) from 5 with the extra term ``lam 1e-3 sum log(eta/lam)``; AdaProx's step from
Adam's bias-corrected second moment. Density counts the 266,200 weights with the
keep-probability rule (keep probability < 0.05 is pruned); the test error is reported for
the pruned network (what is deployed) and the unpruned one (what the authors' code measures
for the four penalty methods).

Each method writes ``<out>/<method>.csv`` (one row per epoch: validation error and density
of the pruned model, epoch and cumulative time) and ``<out>/<method>.checkpoint.pt`` (the
training state) after every epoch, and ``<out>/<method>.json`` (final test errors pruned and unpruned, density, the settings,
wall time of the last session, training time summed over the epochs of all sessions) and
``<out>/<method>.module.pt`` (the trained module's ``state_dict``) when done, each file written whole (a temporary file renamed over it). A run interrupted by
Ctrl-C writes no JSON; run the same command again and it resumes from the last finished
epoch; a method whose JSON is there is not trained again.
:func:`collect_table4` assembles ``table4.csv`` (beside the paper's numbers), ``figure2.png``
and ``figure2_published.png`` from the finished methods only, so several processes may share
one ``out`` folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ._atomic import replacing, write_text_atomic

#: The N of the authors' variational bound: their loss is the batch-mean cross-entropy times
#: 60,000 (the whole training set, though 48,000 images are trained on) plus the KL sum.
N_PAPER = 60_000

#: Table 4 of the paper: lam, learning rate, test error (%), fraction of nonzeros, and which
#: network the authors' code evaluates for the test error ('pruned' or 'unpruned').
PAPER_TABLE4: dict[str, dict[str, Any]] = {
    "vardrop_lr_ar": {"lam": 1 / N_PAPER, "paper_lam": "1/60000", "lr": 1e-4, "test_error": 3.21,
                      "density": 0.024, "paper_network": "pruned"},
    "vardrop_lr": {"lam": 1 / N_PAPER, "paper_lam": "1/60000", "lr": 1e-3, "test_error": 1.41,
                   "density": 0.088, "paper_network": "pruned"},
    "vardrop": {"lam": 1 / N_PAPER, "paper_lam": "1/60000", "lr": 1e-3, "test_error": 1.54,
                "density": 0.595, "paper_network": "pruned"},
    "eta_trick": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-3, "test_error": 2.16,
                  "density": 0.051, "paper_network": "unpruned"},
    "adaprox": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-4, "test_error": 2.94,
                "density": 0.028, "paper_network": "unpruned"},
    "adatikhonov": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-4, "test_error": 2.88,
                    "density": 0.018, "paper_network": "unpruned"},
    "logsum": {"lam": 1e-3, "paper_lam": "1e-3", "lr": 1e-4, "test_error": 2.93,
               "density": 0.019, "paper_network": "unpruned"},
}

#: The authors' input standardisation (torchvision ``Normalize``) of the [0, 1] pixels.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
#: The seed of the authors' 80/20 split (skorch ``CVSplit(0.2, random_state=42)``).
SPLIT_SEED = 42
#: The authors' Adam settings (torch's defaults, written out).
ADAM = {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}
#: Initial weight std of the variational layers, and their initial variance parameters.
VARDROP_INIT = {"vardrop_lr_ar": {"method__init_weight_std": 0.02,
                                  "method__init_log_sigma2": -10.0,  # log sigma = -5
                                  "method__init_log_alpha": -5.0},
                "vardrop_lr": {"method__init_weight_std": 0.02, "method__init_log_alpha": -5.0},
                "vardrop": {"method__init_weight_std": 0.02, "method__init_log_alpha": -5.0}}


def protocol_settings(method: str) -> dict[str, Any]:
    """The estimator parameters of ``method`` under the authors' protocol, every one given
    explicitly (none left to a default of the estimator, the method or its callbacks).

    Parameters
    ----------
    method : str
        A key of :data:`PAPER_TABLE4`.

    Returns
    -------
    dict
        ``SparseNetClassifier`` keyword arguments with plain values (JSON-ready).

    Examples
    --------
    >>> s = protocol_settings("vardrop_lr_ar")
    >>> s["lam"] == 1 / 60000, s["callbacks__kl_warmup__epochs"], s["method__init_log_sigma2"]
    (True, 0.0, -10.0)
    >>> s["optimizer__eps"] == 1e-8 / 60000  # the same Adam steps as on the authors' loss
    True
    """
    spec = PAPER_TABLE4[method]
    settings: dict[str, Any] = {"lam": spec["lam"], "lr": spec["lr"],
                                "iterator_train__shuffle": True,
                                **{f"optimizer__{k}": v for k, v in ADAM.items()}}
    if method in VARDROP_INIT:
        settings.update(VARDROP_INIT[method])
        # cross-entropy + KL / N is the authors' loss divided by N; Adam with eps / N takes
        # exactly the same steps on it (m / (sqrt(v) + eps) is unchanged when the gradient,
        # m and sqrt(v) are divided by N)
        settings["optimizer__eps"] = ADAM["eps"] / N_PAPER
        settings["callbacks__kl_warmup__epochs"] = 0.0
    else:
        settings.update({"penalty": "logsum", "penalty_params": {"eps": 2.0}})
        if method == "eta_trick":
            settings.update({"method__init_log_eta": 5.0, "method__log_eta_decay": 1e-3})
    return settings


#: Published LeNet-300-100 results: test error (%), fraction of weights kept.
PUBLISHED_LENET300100: dict[str, tuple[float, float]] = {
    "Han et al. 2015 (pruning)": (1.59, 0.08),
    "Sparse VD (Molchanov et al. 2017)": (1.92, 0.015),
    "DNS (Guo et al. 2016)": (1.99, 0.018),
}

N_WEIGHTS = 266_200

def _split(n: int, seed: int = SPLIT_SEED, valid_fraction: float = 0.2
           ) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices: ``ShuffleSplit(test_size=valid_fraction,
    random_state=seed)`` over ``range(n)``, the split of skorch's ``CVSplit(valid_fraction,
    random_state=seed)`` (not stratified)."""
    from sklearn.model_selection import ShuffleSplit

    splitter = ShuffleSplit(n_splits=1, test_size=valid_fraction, random_state=seed)
    return next(splitter.split(np.arange(n)))


def _standardise(X: np.ndarray) -> np.ndarray:
    """The authors' inputs: ``(pixel - 0.1307) / 0.3081`` of the [0, 1] pixels, float32."""
    return ((X - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)).astype(np.float32)


def _plain_params(net: Any) -> dict[str, Any]:
    """The net's parameters that JSON keeps (classes by name), so that each result records
    every setting, the estimator's defaults included."""
    from ._checkpoint import _plain

    params = net.get_params()
    # skorch's get_params lists the default callbacks after the net's own, so a replaced
    # default (here lr_decay) would report the default's parameters: read the ones in use
    for name, callback in getattr(net, "callbacks_", []):
        if callback is not None:
            params.update({f"callbacks__{name}__{k}": v
                           for k, v in callback.get_params().items()})
    plain = {}
    for key, value in params.items():
        if isinstance(value, type):
            plain[key] = f"{value.__module__}.{value.__qualname__}"
        elif _plain(value):
            plain[key] = list(value) if isinstance(value, tuple) else value
    return plain


def evaluate_unpruned(net: Any, X: Any) -> np.ndarray:
    """Predictions of ``net`` with every weight in use (its layers' pruning switched off
    for the call): the network the authors' code evaluates for the penalty methods.

    Parameters
    ----------
    net : SparseNetClassifier
        A fitted net.
    X : array-like
        Inputs.

    Returns
    -------
    numpy.ndarray
        The predicted classes.
    """
    layers = net.sparse_layers()
    try:
        for layer in layers:
            layer.prune_at_eval = False
        return net.predict(X)
    finally:
        for layer in layers:
            del layer.prune_at_eval  # back to the class's True

def run_table4(methods: Sequence[str] | None = None, epochs: int = 200, device: str = "cpu",
               out: str | Path = "table4", data_home: str | None = None, seed: int = 0,
               lr: float | None = None, batch_size: int = 128,
               params: dict[str, Any] | None = None, verbose: int = 0) -> list[dict[str, Any]]:
    """Train the Table 4 methods on MNIST and write their curves, the table and Figure 2.

    Methods already finished in ``out`` with the same settings are not trained again; one
    interrupted there resumes from its last finished epoch.

    Parameters
    ----------
    methods : sequence of str, optional
        Subset of ``vardrop_lr_ar vardrop_lr vardrop eta_trick adaprox adatikhonov logsum``
        (default all seven).
    epochs : int, default=200
        Training epochs; the learning rate decays linearly to 0 over them, once per epoch
        (so a shorter run is the same schedule compressed).
    device : str, default='cpu'
        torch device, e.g. ``'cuda'``.
    out : str or Path
        Output folder (created).
    data_home : str, optional
        MNIST data home (see :func:`skdropout.datasets.fetch_mnist`).
    seed : int, default=0
        Seed of torch (initial weights, noise, shuffling); the 80/20 split is always the
        authors' (``SPLIT_SEED`` 42).
    lr : float, optional
        Override the paper's learning rate of every method.
    batch_size : int, default=128
    params : dict, optional
        Further estimator parameters for every method, over those of
        :func:`protocol_settings`, e.g. ``{"callbacks__kl_warmup__epochs": 50}`` (a
        deviation from the authors' protocol; recorded in each method's JSON).
    verbose : int, default=0
        skorch's per-epoch printout when > 0.

    Returns
    -------
    list of dict
        The rows of :func:`collect_table4` (all methods finished in ``out``).

    Raises
    ------
    KeyboardInterrupt
        Training was interrupted; the finished epochs are kept for a rerun to resume.
    ValueError
        A bad option, or ``out`` holds a result or checkpoint of a method run with other
        settings (raised before any training).
    """
    import torch
    from skorch.callbacks import Callback
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    from ..datasets import fetch_mnist
    from ..nn import LeNet300100, LinearLRDecay, SparseNetClassifier
    from ._checkpoint import EpochCheckpoint, fit_resumable

    methods = list(PAPER_TABLE4) if methods is None else list(methods)
    unknown = [m for m in methods if m not in PAPER_TABLE4]
    if unknown:
        raise ValueError(f"Unknown Table 4 method(s) {unknown}; valid: {', '.join(PAPER_TABLE4)}.")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    out = Path(out)
    configs = {m: {"method": m, "epochs": epochs, "lr": lr or PAPER_TABLE4[m]["lr"],
                   "batch_size": batch_size, "seed": seed, "params": dict(params or {}),
                   "protocol": {"settings": protocol_settings(m),
                                "input_mean": MNIST_MEAN, "input_std": MNIST_STD,
                                "split": f"ShuffleSplit(test_size=0.2, random_state="
                                         f"{SPLIT_SEED})", "lr_decay": "linear, per epoch"}}
               for m in methods}
    todo = [m for m in methods if not _finished(out, configs[m])]
    for method in todo:  # refuse another run's checkpoint before any training
        EpochCheckpoint(out / f"{method}.checkpoint.pt", configs[method]).check()
    out.mkdir(parents=True, exist_ok=True)
    if todo:
        X, y = fetch_mnist(data_home=data_home, subset="train", return_X_y=True)
        X_test, y_test = fetch_mnist(data_home=data_home, subset="test", return_X_y=True)
        X, X_test = _standardise(X), _standardise(X_test)
        tr, va = _split(len(X))
        X_tr, y_tr, X_va, y_va = X[tr], y[tr], X[va], y[va]

    class _EpochCSV(Callback):
        """Write the per-epoch curve after every epoch (partial runs stay readable)."""

        def __init__(self, path: Path) -> None:
            self.path = path

        def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
            write_text_atomic(self.path, _csv_text(_curve(net.history)))

    for method in todo:
        config = configs[method]
        net = SparseNetClassifier(
            LeNet300100, method=method, optimizer=torch.optim.Adam, batch_size=batch_size,
            max_epochs=epochs, train_split=predefined_split(Dataset(X_va, y_va)),
            device=device, random_state=seed, verbose=verbose,
            callbacks=[("epoch_csv", _EpochCSV(out / f"{method}.csv"))],
            # one learning rate for every parameter, the log-scale ones included
            **{**config["protocol"]["settings"], "lr": config["lr"], "log_lr": config["lr"]})
        # the learning rate decays linearly to 0, stepped once per epoch (the authors' code)
        net.set_params(callbacks__lr_decay=LinearLRDecay(step_every="epoch"))
        net.set_params(**(params or {}))
        checkpoint = out / f"{method}.checkpoint.pt"
        t0 = time.perf_counter()
        fit_resumable(net, X_tr, y_tr, checkpoint, config)
        wall = time.perf_counter() - t0
        test_error = float(np.mean(net.predict(X_test) != y_test))
        unpruned = float(np.mean(evaluate_unpruned(net, X_test) != y_test))
        n_kept = round(net.density_ * N_WEIGHTS)
        result = {**config, "lam": net.sparse_layers()[0].lam, "device": device,
                  "test_error": 100 * test_error, "test_error_unpruned": 100 * unpruned,
                  "estimator_params": _plain_params(net),
                  "method_options": net.method_options_, "density": net.density_,
                  "nonzeros": n_kept, "layer_density": net.layer_density_,
                  "train_time_s": float(sum(h["dur"] for h in net.history)),
                  "wall_time_s": wall, "n_train": len(X_tr)}
        write_text_atomic(out / f"{method}.json", json.dumps(result, indent=1))
        # the trained module, for analyses after the run (e.g. other pruning thresholds)
        with replacing(out / f"{method}.module.pt") as partial:
            torch.save(net.module_.state_dict(), partial)
        checkpoint.unlink()
    return collect_table4(out)


def _finished(out: Path, config: dict[str, Any]) -> bool:
    """Whether ``out`` holds the finished result of the run ``config`` describes.

    Raises
    ------
    ValueError
        ``out`` holds a finished result of the same method with other settings.
    """
    path = out / f"{config['method']}.json"
    if not path.is_file():
        return False
    result = json.loads(path.read_text())
    saved = {key: result.get(key, {} if key == "params" else None) for key in config}
    if saved != config:
        raise ValueError(f"{path} holds a finished run with other settings ({saved}); "
                         f"write this run ({config}) to another folder, or move that one.")
    return True


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def _read_curve(path: Path) -> dict[str, np.ndarray]:
    """The columns of a per-epoch CSV as float arrays."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in (rows[0] if rows else {})}


def _curve(history: Any) -> list[dict[str, Any]]:
    rows, elapsed = [], 0.0
    for h in history:
        elapsed += h["dur"]
        rows.append({"epoch": h["epoch"], "valid_error": 100 * h.get("valid_error", math.nan),
                     "density": h["density"], "train_loss": h.get("train_loss", math.nan),
                     "epoch_time_s": h["dur"], "time_s": elapsed})
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of :func:`collect_table4` as aligned text columns (numbers to 4 digits).

    Examples
    --------
    >>> print(format_table([{"method": "logsum", "density": 0.0191}]))
    method  density
    logsum   0.0191
    """
    if not rows:
        return "(no finished method)"
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()]
             for row in rows]
    names = list(rows[0])
    widths = [max(len(name), *(len(r[j]) for r in cells)) for j, name in enumerate(names)]
    lines = ["  ".join(n.ljust(w) if j == 0 else n.rjust(w)
                       for j, (n, w) in enumerate(zip(names, widths)))]
    for r in cells:
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def collect_table4(out: str | Path, extra: Mapping[str, str | Path] | None = None
                   ) -> list[dict[str, Any]]:
    """Assemble ``table4.csv``, ``figure2.png`` and ``figure2_published.png`` (this run's
    curves and test results with the paper's Table 4 points and the published LeNet-300-100
    results) in ``out`` from the methods finished there (those with a ``<method>.json``);
    returns the table's rows in Table 4's order (errors in %).

    Parameters
    ----------
    out : str or Path
        The folder of the run.
    extra : mapping of label -> path, optional
        Result JSONs of other runs (e.g. experiments with other settings), drawn in
        ``figure2_published.png`` as labelled points (test error of the pruned network) in
        their method's colour; a relative path is relative to ``out``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import plot_training

    out = Path(out)
    rows, curves = [], {}
    for method, spec in PAPER_TABLE4.items():
        res_path = out / f"{method}.json"
        if not res_path.exists():
            continue
        res = json.loads(res_path.read_text())
        if (out / f"{method}.csv").exists():
            curves[method] = _read_curve(out / f"{method}.csv")
        rows.append({"method": method, "epochs": res["epochs"], "lam": res["lam"],
                     "paper_lam": spec["paper_lam"],
                     # the learning rate trained with (a --set lr=... included)
                     "lr": res.get("estimator_params", {}).get("lr", res["lr"]),
                     "test_error_%": res["test_error"],
                     "test_error_unpruned_%": res.get("test_error_unpruned", math.nan),
                     "paper_test_error_%": spec["test_error"],
                     "paper_network": spec["paper_network"],
                     "density": res["density"], "paper_density": spec["density"],
                     "wall_time_s": res["wall_time_s"]})
    if rows:
        text = _csv_text([{k: float(f"{v:.5g}") if isinstance(v, float) else v
                           for k, v in row.items()} for row in rows])
        write_text_atomic(out / "table4.csv", text)
    if curves:
        ax = plot_training(curves)
        ax.set_title("Figure 2: LeNet-300-100 on MNIST, validation error of the pruned\n"
                     "network against its density, one point per epoch", fontsize=10)
        _save_figure(ax.figure, out / "figure2.png")
        plt.close(ax.figure)
        final = {r["method"]: (r["test_error_%"], r["density"]) for r in rows}
        paper = {m: (PAPER_TABLE4[m]["test_error"], PAPER_TABLE4[m]["density"])
                 for m in final}
        points = {}
        for label, path in (extra or {}).items():
            res = json.loads((out / path).read_text())
            points[label] = (res["test_error"], res["density"], res["method"])
        ax = plot_training(curves, published=PUBLISHED_LENET300100, final=final, paper=paper,
                           extra=points, final_label="this library, test (pruned)",
                           paper_label="paper's Table 4, test")
        ax.set_title("LeNet-300-100 on MNIST. Lines: validation error of the pruned network "
                     "over training;\nmarkers: final test error (this library, the paper, "
                     "published)", fontsize=9)
        _save_figure(ax.figure, out / "figure2_published.png")
        plt.close(ax.figure)
    return rows


def _save_figure(fig: Any, path: Path) -> None:
    with replacing(path) as partial:
        fig.savefig(partial, dpi=130, bbox_inches="tight")
