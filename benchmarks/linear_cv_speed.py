"""Wall time of cross-validated lam against peers, in one run (ratios, not absolute times).

1. l1: IRLSRegressorCV(lams=100, cv=5) against scikit-learn's LassoCV(alphas=100) on
   make_regression(n=1000, d=5000, 50 informative, noise=1): the same 5 folds
   (KFold(shuffle, random_state=0)) and the same grid (both compute lam_max = alpha_max from
   the centred data; checked equal below). LassoCV runs at tol = 1e-4 (its default), 1e-6,
   1e-8 and 1e-12; the last is the reference for the accuracy of ``mse_path_`` (largest
   relative error over lams and folds). Ours runs at tol=1e-8, where its ``mse_path_`` is
   at least as accurate as LassoCV's at 1e-8. The ratio that counts is against the loosest
   tol at which LassoCV picks the same lam as ours, with our ``mse_path_`` at least as
   accurate.
2. mcp (a = gamma = 3), scad (a = gamma = 3.7) and logsum (eps = 1; skglm's
   LogSumPenalty is the same function) on the same data and folds, on our grid (passed to
   everybody): IRLSRegressorCV against a hand-written warm-started path per fold with
   skglm's GeneralizedLinearEstimator(Quadratic, penalty, AndersonCD(warm_start=True)),
   then its refit at the chosen lam. skglm's numba functions are compiled on a small
   problem before timing.

Every estimator runs with n_jobs=1 (the folds one after the other) and BLAS on one thread;
each time is the best of ``--repeat`` runs, ours and the peer's alternating, so that a
change in the machine's load hits both. Usage:
``OMP_NUM_THREADS=1 python benchmarks/linear_cv_speed.py [--quick] [--repeat R] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LassoCV
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from skdropout.linear import IRLSRegressorCV
from skdropout.linear._path import lam_grid
from skdropout.penalties import get_penalty


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def best_of(repeat, *fns):
    """Run the functions in turn ``repeat`` times; each one's last output and best time."""
    outs, times = [None] * len(fns), [np.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            outs[i], t = timed(fn)
            times[i] = min(times[i], t)
    return outs, times


def skglm_path_cv(X, y, lams, folds, penalty, tol):
    """Warm-started skglm path per fold; returns (lam_, mse_path)."""
    from skglm import GeneralizedLinearEstimator
    from skglm.datafits import Quadratic
    from skglm.solvers import AndersonCD

    def estimator(lam):
        pen = penalty(lam)
        return GeneralizedLinearEstimator(Quadratic(), pen, AndersonCD(
            tol=tol, fit_intercept=True, warm_start=True))

    mse = np.empty((len(lams), len(folds)))
    for k, (train, test) in enumerate(folds):
        est = estimator(lams[0])
        X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
        for i, lam in enumerate(lams):
            est.penalty = penalty(lam)
            est.fit(X_train, y_train)
            mse[i, k] = np.mean((y_test - est.predict(X_test)) ** 2)
    best = int(np.argmin(mse.mean(axis=1)))
    estimator(lams[best]).fit(X, y)
    return lams[best], mse


def write_report(lines, out):
    """Print the report, ending with the load average, and write it to ``out`` if given."""
    lines.append(f"load average at end {os.getloadavg()[0]:.1f} (other processes share the "
                 "CPUs: compare the ratios, not the seconds)")
    report = "\n".join(lines)
    print(report)
    if out:
        with open(out, "w") as fh:
            fh.write(report + "\n")


def rel_err(a, ref):
    return float(np.max(np.abs(a / ref - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n=300, d=1000, 30 lams")
    parser.add_argument("--repeat", type=int, default=2, help="best of R runs")
    parser.add_argument("--out", default=None, help="also write the report to this file")
    args = parser.parse_args()
    n, d, n_lams = (300, 1000, 30) if args.quick else (1000, 5000, 100)
    X, y = make_regression(n_samples=n, n_features=d, n_informative=50, noise=1.0,
                           random_state=0)
    folds = KFold(5, shuffle=True, random_state=0)
    lines = [f"make_regression(n={n}, d={d}, 50 informative, noise=1); {n_lams} lams, "
             f"eps=1e-3, 5 folds; n_jobs=1; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, numpy {np.__version__}; load average at start "
             f"{os.getloadavg()[0]:.1f}"]
    warnings.simplefilter("ignore", ConvergenceWarning)

    # -- l1 against LassoCV ------------------------------------------------------------
    R = args.repeat
    with threadpool_limits(1):
        ref = LassoCV(alphas=n_lams, cv=folds, tol=1e-12, max_iter=100_000).fit(X, y)
        lines += ["", "l1: IRLSRegressorCV (tol=1e-8 on the scale-free KKT residual) against "
                      "LassoCV (tol on a duality gap scaled by ||y||^2/n); mse_path error: "
                      "max relative difference to LassoCV at tol=1e-12"]
        for tol in (1e-4, 1e-6, 1e-8):
            (ours, lasso), (t_ours, t_ref) = best_of(
                R, lambda: IRLSRegressorCV(lams=n_lams, cv=folds, tol=1e-8).fit(X, y),
                lambda: LassoCV(alphas=n_lams, cv=folds, tol=tol, max_iter=100_000).fit(X, y))
            assert np.allclose(ours.lams_, lasso.alphas_, rtol=1e-12), "grids differ"
            same = ours.lam_ == lasso.alpha_
            lines += [f"  LassoCV tol={tol:<6g} {t_ref:7.2f} s  alpha_ index "
                      f"{int(np.flatnonzero(lasso.alphas_ == lasso.alpha_)[0]):3d}, mse_path "
                      f"error {rel_err(lasso.mse_path_, ref.mse_path_):.1e} | ours "
                      f"{t_ours:6.2f} s  lam_ index {ours.best_index_:3d}, mse_path error "
                      f"{rel_err(ours.mse_path_, ref.mse_path_):.1e} | ratio "
                      f"{t_ours / t_ref:5.2f}  same lam: {same}"]

    # -- non-convex penalties against a warm-started skglm path --------------------------
    from skglm.penalties import SCAD, LogSumPenalty, MCPenalty

    tol = 1e-6
    split = list(folds.split(X))
    peers = {"mcp": ({"a": 3.0}, lambda lam: MCPenalty(alpha=lam, gamma=3.0)),
             "scad": ({"a": 3.7}, lambda lam: SCAD(alpha=lam, gamma=3.7)),
             "logsum": ({"eps": 1.0}, lambda lam: LogSumPenalty(alpha=lam, eps=1.0))}
    compile_start = time.perf_counter()
    for _, penalty in peers.values():
        skglm_path_cv(X[:40, :20], y[:40], np.array([1.0, 0.5]),
                      [(np.arange(30), np.arange(30, 40))], penalty, tol)
    lines += ["", f"non-convex penalties on our grid (skglm numba compile, excluded: "
                  f"{time.perf_counter() - compile_start:.1f} s); tol=1e-6 everywhere"]
    with threadpool_limits(1):
        for name, (params, penalty) in peers.items():
            lams = lam_grid(X, y, get_penalty(name, **params), n_lams)
            (ours, (lam_peer, mse_peer)), (t_ours, t_peer) = best_of(
                R, lambda: IRLSRegressorCV(penalty=name, penalty_params=params, lams=lams,
                                           cv=folds).fit(X, y),
                lambda: skglm_path_cv(X, y, lams, split, penalty, tol))
            lines += [f"  {name:7s} ours {t_ours:6.2f} s  skglm path {t_peer:6.2f} s  ratio "
                      f"{t_ours / t_peer:5.2f}  same lam: {ours.lam_ == lam_peer}; max rel "
                      f"mse_path diff {rel_err(ours.mse_path_, mse_peer):.1e}"]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
