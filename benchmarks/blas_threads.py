"""The linear estimators at their default BLAS threads, with and without one threaded pool.

A pip install loads two OpenBLAS libraries (numpy's and scipy's wheels each bundle one), each
with its own worker threads that busy-wait after every call; the solvers alternate calls into
both. ``skdropout.linear`` runs every threaded BLAS but numpy's on one thread while a fit runs
(``skdropout/linear/_blas_pool.py``). Each row times one fit, in one run, three ways, on the
wall clock:

- ``shipped``: as a user calls it, every library at its default thread count;
- ``both``: the same with the guard switched off, both pools threaded during the fit;
- ``one``: every BLAS library on one thread (``threadpool_limits(1)``), the setting of the
  other speed benchmarks.

The columns ``both/shipped`` (what the guard saves) and ``shipped/one`` (what threads cost or
gain with the guard) are the ratios to read; ``dcoef`` is the largest difference of the
coefficients between the three fits, relative to the largest coefficient (thread counts
change only the rounding of the products). Run it without ``OMP_NUM_THREADS`` or
``OPENBLAS_NUM_THREADS`` set, so the libraries start at their defaults:

    python benchmarks/blas_threads.py --repeat 3 --out benchmarks/results/blas_threads
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
import warnings
from typing import Any
from unittest import mock

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from threadpoolctl import threadpool_info, threadpool_limits

from skdropout.linear import (AdaptiveDropoutRegressor, IRLSClassifier, IRLSClassifierCV,
                              IRLSRegressor, IRLSRegressorCV)


def _lam_max(X: Any, y: np.ndarray) -> float:
    return float(np.max(np.abs(X.T @ (y - y.mean())))) / X.shape[0]


def _regression() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(1000, 5000, n_informative=50, noise=1.0, random_state=0)
    return (X - X.mean(0)) / X.std(0), y


def _text(n: int, d: int, density: float, seed: int = 0) -> tuple[Any, np.ndarray]:
    """Word counts with a sparse logistic truth (rows of counts, 20 informative words)."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr",
                  data_rvs=lambda m: rng.poisson(2, m) + 1.0)
    w = np.zeros(d)
    w[:20] = 2.0 * rng.standard_normal(20)
    return X, (np.asarray(X @ w).ravel() + rng.standard_normal(n) > 0).astype(int)


def problems() -> dict[str, tuple[Any, Any, np.ndarray]]:
    """Each row: an estimator at its defaults but for lam (and one capped ``max_iter``), and
    the data it is fitted on."""
    Xr, yr = _regression()
    lr = _lam_max(Xr, yr)
    Xc, yc = make_classification(2000, 5000, n_informative=50, random_state=0)
    lc = _lam_max(Xc, yc)
    Xm, ym = make_classification(2000, 2000, n_informative=30, n_classes=3, random_state=0)
    lm = _lam_max(Xm, (ym == 0).astype(float))
    Xt, yt = _text(400, 1500, 0.02)
    lt = _lam_max(Xt, yt)
    logsum = {"penalty": "logsum", "penalty_params": {"eps": 1.0}}
    regression, classif, multi, text = (Xr, yr), (Xc, yc), (Xm, ym), (Xt, yt)
    return {
        "IRLSRegressor logsum, 1000x5000, lam_max/20":
            (IRLSRegressor(**logsum, lam=lr / 20), *regression),
        "AdaptiveDropoutRegressor logsum, 1000x5000, lam_max/20":
            (AdaptiveDropoutRegressor(**logsum, lam=lr / 20, random_state=0), *regression),
        "IRLSRegressorCV l1, 1000x5000, 20 lams x 5 folds":
            (IRLSRegressorCV(penalty="l1", lams=20), *regression),
        "IRLSClassifier l1, 2000x5000, lam_max/20":
            (IRLSClassifier(penalty="l1", lam=lc / 20), *classif),
        "IRLSClassifier mcp, 2000x5000, lam_max/100":
            (IRLSClassifier(penalty="mcp", lam=lc / 100), *classif),
        "IRLSClassifier l1, 3 classes, 2000x2000, lam_max/20":
            (IRLSClassifier(penalty="l1", lam=lm / 20), *multi),
        "IRLSClassifier logsum, CSR 400x1500 2%, lam_max/20":
            (IRLSClassifier(**logsum, lam=lt / 20), *text),
        # its first 8 Newton steps (the whole fit takes 86, most of them a slow swap of two
        # collinear columns): rounds of a growing outer working set on a sparse X
        "IRLSClassifier logsum, CSR 400x1500 2%, lam_max/50, max_iter=8":
            (IRLSClassifier(**logsum, lam=lt / 50, max_iter=8), *text),
        "IRLSClassifierCV l1, 2000x5000, 10 lams x 5 folds":
            (IRLSClassifierCV(penalty="l1", lams=10), *classif),
    }


def _timed(estimator: Any, X: Any, y: np.ndarray, repeat: int) -> tuple[float, np.ndarray]:
    best, coef = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        est = clone(estimator).fit(X, y)
        best = min(best, time.perf_counter() - start)
        coef = np.ravel(est.coef_)
    return best, coef


def run(repeat: int) -> list[dict[str, Any]]:
    rows = []
    for name, fit in problems().items():
        t_shipped, c_shipped = _timed(*fit, repeat)
        with mock.patch("skdropout.linear._blas_pool.pools_to_serialise", lambda *a: []):
            t_both, c_both = _timed(*fit, repeat)
        with threadpool_limits(limits=1, user_api="blas"):
            t_one, c_one = _timed(*fit, repeat)
        scale = max(float(np.max(np.abs(c_one))), 1e-300)
        dcoef = max(float(np.max(np.abs(c - c_one))) for c in (c_shipped, c_both)) / scale
        rows.append({"fit": name, "shipped_s": t_shipped, "both_s": t_both, "one_s": t_one,
                     "both_over_shipped": t_both / t_shipped,
                     "shipped_over_one": t_shipped / t_one, "dcoef": dcoef})
        print(_line(rows[-1]), flush=True)
    return rows


_HEADER = (f"{'fit':64s} {'shipped':>8s} {'both':>8s} {'one':>8s} {'both/shipped':>12s} "
           f"{'shipped/one':>11s} {'dcoef':>8s}")


def _line(row: dict[str, Any]) -> str:
    return (f"{row['fit']:64s} {row['shipped_s']:8.3f} {row['both_s']:8.3f} "
            f"{row['one_s']:8.3f} {row['both_over_shipped']:12.2f} "
            f"{row['shipped_over_one']:11.2f} {row['dcoef']:8.1e}")


def _setting() -> str:
    blas = ", ".join(f"{os.path.basename(lib['filepath'])} ({lib['num_threads']} threads)"
                     for lib in threadpool_info() if lib["user_api"] == "blas")
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"numpy {np.__version__}; BLAS libraries: {blas}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many fits")
    parser.add_argument("--out", default=None,
                        help="write OUT.txt (the table) and OUT.csv (the rows)")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if var in os.environ:
            parser.error(f"{var} is set: the benchmark measures the default thread counts")
    warnings.simplefilter("ignore")
    header = [f"# python benchmarks/blas_threads.py --repeat {args.repeat}",
              f"# {_setting()}", "# seconds on the wall clock, best of --repeat", _HEADER]
    print("\n".join(header), flush=True)
    rows = run(args.repeat)
    load = os.getloadavg()[0]
    footer = f"# load average at the end: {load:.1f}"
    print(footer)
    if args.out:
        with open(f"{args.out}.txt", "w") as fh:
            fh.write("\n".join(header + [_line(r) for r in rows] + [footer]) + "\n")
        with open(f"{args.out}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
