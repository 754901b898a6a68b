"""Do the default settings sparsify a user's network? (issue 19, part 3)

Every method of ``skdropout.nn`` with its default options and default ``lam`` on a user's own
``Linear(64, 128) - ReLU - Linear(128, 10)`` module and scikit-learn's digits (pixels / 16,
``train_test_split(test_size=0.3, random_state=0)``: 1,257 training and 540 test images),
``max_epochs=40, lr=3e-3``, ``random_state=0``, everything else skorch's / skdropout's
defaults. Prints test accuracy and density (fraction of kept weights) per method; the goal is
accuracy >= 0.90 and density < 0.9 for every method (standout, which drops activations, is
excepted from the density bar).

With ``--mnist`` the same check on MNIST's LeNet-300-100 (60,000 training images, test on the
10,000 test images), 20 epochs, default lr; goal: density < 0.9 at test error < 2.5 %.

    OMP_NUM_THREADS=1 python benchmarks/nn_defaults.py
    OMP_NUM_THREADS=1 SKDROPOUT_DATA=../shared/data \\
        python benchmarks/nn_defaults.py --mnist --methods vardrop --csv out.csv

``--set name=value`` passes an estimator parameter to every method (e.g.
``--set callbacks__kl_warmup__epochs=5``), to try other settings against the defaults.
"""

from __future__ import annotations

import argparse
import ast
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from skdropout.nn import METHODS, LeNet300100, SparseNetClassifier


def digits_split() -> tuple[np.ndarray, ...]:
    """The digits images scaled to [0, 1], split 70/30 with ``random_state=0``."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=0))


def user_module(seed: int = 0) -> nn.Module:
    """The user's network of the issue, built under a fixed seed."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def run_digits(method: str, max_epochs: int = 40, lr: float = 3e-3,
               **params: Any) -> dict[str, Any]:
    """Fit one method on the digits setup; returns accuracy, density and seconds."""
    X_tr, X_te, y_tr, y_te = digits_split()
    net = SparseNetClassifier(user_module(), method=method, max_epochs=max_epochs, lr=lr,
                              random_state=0, verbose=0, **params)
    t0 = time.perf_counter()
    net.fit(X_tr, y_tr)
    return {"method": method, "accuracy": float(np.mean(net.predict(X_te) == y_te)),
            "density": float(net.density_), "seconds": time.perf_counter() - t0}


def run_mnist(method: str, max_epochs: int = 20, **params: Any) -> dict[str, Any]:
    """Fit one method on MNIST's LeNet-300-100 (all 60,000 training images)."""
    from skdropout.datasets import fetch_mnist

    X_tr, y_tr = fetch_mnist(subset="train", return_X_y=True)
    X_te, y_te = fetch_mnist(subset="test", return_X_y=True)
    net = SparseNetClassifier(LeNet300100, method=method, max_epochs=max_epochs,
                              random_state=0, verbose=0, **params)
    t0 = time.perf_counter()
    net.fit(X_tr, y_tr)
    return {"method": method, "epochs": max_epochs,
            "test_error": 100 * float(np.mean(net.predict(X_te) != y_te)),
            "density": float(net.density_), "lam": net.sparse_layers()[0].lam,
            "seconds": time.perf_counter() - t0}


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--mnist", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--csv", default=None, help="append one row per method to this CSV")
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = dict((k, _value(v)) for k, v in (s.split("=", 1) for s in args.set))
    for method in args.methods:
        kw = dict(params)
        if args.epochs:
            kw["max_epochs"] = args.epochs
        row = (run_mnist if args.mnist else run_digits)(method, **kw)
        row["settings"] = " ".join(args.set) or "defaults"
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in row.items()), flush=True)
        if args.csv:
            path = Path(args.csv)
            new = not path.exists()
            with path.open("a", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(row))
                if new:
                    writer.writeheader()
                writer.writerow(row)


if __name__ == "__main__":
    main()
