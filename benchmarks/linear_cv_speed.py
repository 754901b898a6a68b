"""Time of cross-validated lam against peers, in one run (ratios, not absolute times).

1. l1: IRLSRegressorCV(lams=100, cv=5) against scikit-learn's LassoCV(alphas=100) on
   make_regression(n=1000, d=5000, 50 informative, noise=1): the same 5 folds
   (KFold(shuffle, random_state=0)) and the same grid (both compute lam_max = alpha_max from
   the centred data; checked equal below). LassoCV runs at tol = 1e-4 (its default), 1e-6,
   1e-8 and 1e-12; the last is the reference for the accuracy of ``mse_path_`` (largest
   relative error over lams and folds). Ours runs at tol=1e-8, where its ``mse_path_`` is
   at least as accurate as LassoCV's at 1e-8. The ratio that counts is against the loosest
   tol at which LassoCV picks the same lam as ours, with our ``mse_path_`` at least as
   accurate.
2. l1 at high noise: make_regression(n=1000, d=5000, 50 informative, noise=300), 5 folds,
   20 lams down to lam_max/100, where the supports near the bottom of the grid approach the
   fold's n (about 750 of 800). The same columns as 1, at LassoCV's tol = 1e-4 (its
   default) and 1e-6; the reference for ``mse_path_`` is celer's Lasso path at tol=1e-12
   on the same centred folds (LassoCV at 1e-12 takes minutes per fold here). A third row
   runs ours at tol=1e-4 against LassoCV at its default 1e-4: the loosest of our tols at
   which our ``mse_path_`` is still at least as accurate as LassoCV's there, with the same
   lam picked (both checked in the row).
3. mcp (a = gamma = 3), scad (a = gamma = 3.7) and logsum (eps = 1; skglm's
   LogSumPenalty is the same function) on the same data and folds, on our grid (passed to
   everybody): IRLSRegressorCV against a hand-written warm-started path per fold with
   skglm's GeneralizedLinearEstimator(Quadratic, penalty, AndersonCD(warm_start=True)),
   then its refit at the chosen lam. skglm's numba functions are compiled on a small
   problem before timing.

Every estimator runs with n_jobs=1 (the folds one after the other) and BLAS on one thread;
each time is the best of ``--repeat`` runs, ours and the peer's alternating, so that a
change in the machine's load hits both. Every row gives the wall time and the CPU time of
this process (one thread: the work done, whatever else runs on a shared machine), and the
ratio of each. Usage:
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

from _clock import CLOCKS
from skdropout.linear import IRLSRegressorCV
from skdropout.linear._path import lam_grid
from skdropout.penalties import get_penalty


PARTS = ("l1", "l1-noise300", "nonconvex")


def timed(fn):
    """``fn()`` and its times on each of ``CLOCKS`` (wall, then CPU time of this process)."""
    start = [clock() for clock in CLOCKS.values()]
    out = fn()
    return out, np.array([clock() - t for clock, t in zip(CLOCKS.values(), start)])


def best_of(repeat, *fns):
    """Run the functions in turn ``repeat`` times; each one's last output and best
    ``[wall, cpu]`` times (each clock's best on its own)."""
    outs, times = [None] * len(fns), [np.full(2, np.inf) for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            outs[i], t = timed(fn)
            times[i] = np.minimum(times[i], t)
    return outs, times


def fmt_times(t) -> str:
    return f"{t[0]:6.2f} s wall {t[1]:6.2f} s cpu"


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


def celer_mse_path(X, y, lams, folds):
    """Held-out mse of celer's Lasso path (tol=1e-12) per lam and fold, with the intercept
    of the train fold's means (LassoCV's layout: lams x folds)."""
    from celer import celer_path

    mse = np.empty((len(lams), len(folds)))
    for k, (train, test) in enumerate(folds):
        x_mean, y_mean = X[train].mean(axis=0), y[train].mean()
        coefs = celer_path(X[train] - x_mean, y[train] - y_mean, "lasso", alphas=lams,
                           tol=1e-12, max_iter=1000, max_epochs=1_000_000)[1]
        pred = (X[test] - x_mean) @ coefs + y_mean
        mse[:, k] = np.mean((y[test][:, None] - pred) ** 2, axis=0)
    return mse


def l1_rows(X, y, folds, n_lams, eps, tols, ref_mse, repeat):
    """One line per (LassoCV tol, our tol): times, chosen lam index, mse_path error, ratios
    of wall and of CPU time."""
    lines = []
    for tol, our_tol in tols:
        (ours, lasso), (t_ours, t_ref) = best_of(
            repeat,
            lambda: IRLSRegressorCV(lams=n_lams, eps=eps, cv=folds, tol=our_tol).fit(X, y),
            lambda: LassoCV(alphas=n_lams, eps=eps, cv=folds, tol=tol,
                            max_iter=100_000).fit(X, y))
        assert np.allclose(ours.lams_, lasso.alphas_, rtol=1e-12), "grids differ"
        same = ours.lam_ == lasso.alpha_
        ratio = t_ours / t_ref
        lines += [f"  LassoCV tol={tol:<6g} {fmt_times(t_ref)}  alpha_ index "
                  f"{int(np.flatnonzero(lasso.alphas_ == lasso.alpha_)[0]):3d}, mse_path "
                  f"error {rel_err(lasso.mse_path_, ref_mse):.1e} | ours tol={our_tol:<6g} "
                  f"{fmt_times(t_ours)}  lam_ index {ours.best_index_:3d}, mse_path error "
                  f"{rel_err(ours.mse_path_, ref_mse):.1e} | ratio wall {ratio[0]:5.2f} "
                  f"cpu {ratio[1]:5.2f}  same lam: {same}"]
    return lines


def rel_err(a, ref):
    return float(np.max(np.abs(a / ref - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n=300, d=1000, 30 lams")
    parser.add_argument("--repeat", type=int, default=2, help="best of R runs")
    parser.add_argument("--out", default=None, help="also write the report to this file")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                        help="which comparisons to run (default: all)")
    args = parser.parse_args()
    n, d, n_lams = (300, 1000, 30) if args.quick else (1000, 5000, 100)
    X, y = make_regression(n_samples=n, n_features=d, n_informative=50, noise=1.0,
                           random_state=0)
    folds = KFold(5, shuffle=True, random_state=0)
    lines = [f"5 folds (KFold, shuffled, random_state=0); n_jobs=1; "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy "
             f"{np.__version__}; load average at start {os.getloadavg()[0]:.1f}"]
    warnings.simplefilter("ignore", ConvergenceWarning)

    # -- l1 against LassoCV ------------------------------------------------------------
    R = args.repeat
    if "l1" in args.parts:
        with threadpool_limits(1):
            ref = LassoCV(alphas=n_lams, cv=folds, tol=1e-12, max_iter=100_000).fit(X, y)
            lines += ["", f"make_regression(n={n}, d={d}, 50 informative, noise=1); {n_lams} "
                          "lams, eps=1e-3", "l1: IRLSRegressorCV (tol=1e-8 on the scale-free "
                          "KKT residual) against LassoCV (tol on a duality gap scaled by "
                          "||y||^2/n); mse_path error: max relative difference to LassoCV at "
                          "tol=1e-12"]
            lines += l1_rows(X, y, folds, n_lams, 1e-3,
                             [(1e-4, 1e-8), (1e-6, 1e-8), (1e-8, 1e-8)], ref.mse_path_, R)

    # -- l1 at high noise: supports near n ----------------------------------------------
    if "l1-noise300" in args.parts:
        n_hn, d_hn, lams_hn = (300, 1000, 10) if args.quick else (1000, 5000, 20)
        X_hn, y_hn = make_regression(n_samples=n_hn, n_features=d_hn, n_informative=50,
                                     noise=300.0, random_state=0)
        with threadpool_limits(1):
            ref_mse = celer_mse_path(X_hn, y_hn, lam_grid(X_hn, y_hn, get_penalty("l1"), lams_hn,
                                                          eps=1e-2), list(folds.split(X_hn)))
            lines += ["", f"l1 at high noise: make_regression(n={n_hn}, d={d_hn}, 50 informative, "
                          f"noise=300); {lams_hn} lams, eps=1e-2, the same folds; mse_path error: "
                          "max relative difference to celer's Lasso path at tol=1e-12"]
            lines += l1_rows(X_hn, y_hn, folds, lams_hn, 1e-2,
                             [(1e-4, 1e-8), (1e-6, 1e-8), (1e-4, 1e-4)], ref_mse, R)

    # -- non-convex penalties against a warm-started skglm path --------------------------
    if "nonconvex" in args.parts:
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
        lines += ["", f"make_regression(n={n}, d={d}, 50 informative, noise=1); non-convex "
                      f"penalties on our grid (skglm numba compile, excluded: "
                      f"{time.perf_counter() - compile_start:.1f} s); tol=1e-6 everywhere"]
        with threadpool_limits(1):
            for name, (params, penalty) in peers.items():
                lams = lam_grid(X, y, get_penalty(name, **params), n_lams)
                (ours, (lam_peer, mse_peer)), (t_ours, t_peer) = best_of(
                    R, lambda: IRLSRegressorCV(penalty=name, penalty_params=params, lams=lams,
                                               cv=folds).fit(X, y),
                    lambda: skglm_path_cv(X, y, lams, split, penalty, tol))
                ratio = t_ours / t_peer
                lines += [f"  {name:7s} ours {fmt_times(t_ours)}  skglm path "
                          f"{fmt_times(t_peer)}  ratio wall {ratio[0]:5.2f} cpu {ratio[1]:5.2f}"
                          f"  same lam: {ours.lam_ == lam_peer}; max rel mse_path diff "
                          f"{rel_err(ours.mse_path_, mse_peer):.1e}"]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
