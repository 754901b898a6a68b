"""Wall time of cross-validated lam against peers, in one run (ratios, not absolute times).

1. l1: IRLSRegressorCV(lams=100, cv=5) against scikit-learn's LassoCV(alphas=100) (at its
   default tol and at a tight one, which reaches the same solutions as ours) on
   make_regression(n=1000, d=5000, 50 informative, noise=1): the same 5 folds
   (KFold(shuffle, random_state=0)) and the same grid (both compute lam_max = alpha_max from
   the centred data; checked equal below).
2. mcp (a = gamma = 3) on the same data and folds, on our grid (passed to everybody):
   IRLSRegressorCV(penalty="mcp") against
   - skglm's GeneralizedLinearEstimatorCV(Quadratic, MCPenalty, AndersonCD(warm_start=True)),
     its generic CV (it draws KFold(shuffle, random_state) folds itself: the same folds);
   - a hand-written warm-started path per fold with skglm.MCPRegression(warm_start=True),
     the fastest use of skglm we know for an MCP path.
   skglm's numba functions are compiled on a small problem before timing.

Every estimator runs with n_jobs=1 (the folds one after the other). Usage:
``python benchmarks/linear_cv_speed.py [--quick] [--out FILE]``.
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

from skdropout.linear import IRLSRegressorCV
from skdropout.linear._path import lam_grid
from skdropout.penalties import get_penalty


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def skglm_manual_cv(X, y, lams, folds, a, tol):
    """Warm-started MCP path per fold with skglm.MCPRegression; returns (lam_, mse_path)."""
    from skglm import MCPRegression

    mse = np.empty((len(lams), len(folds)))
    for k, (train, test) in enumerate(folds):
        est = MCPRegression(alpha=lams[0], gamma=a, tol=tol, fit_intercept=True,
                            warm_start=True)
        X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
        for i, lam in enumerate(lams):
            est.set_params(alpha=lam).fit(X_train, y_train)
            mse[i, k] = np.mean((y_test - est.predict(X_test)) ** 2)
    best = int(np.argmin(mse.mean(axis=1)))
    MCPRegression(alpha=lams[best], gamma=a, tol=tol, fit_intercept=True).fit(X, y)
    return lams[best], mse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n=300, d=1000, 30 lams")
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
    ours, t_ours = timed(lambda: IRLSRegressorCV(lams=n_lams, cv=folds).fit(X, y))
    lines += ["", "l1: IRLSRegressorCV (tol=1e-6 on the scale-free KKT residual) against "
                  "LassoCV at its default tol=1e-4 (a duality gap scaled by ||y||^2/n, loose "
                  "at small lam) and at tol=1e-10",
              f"  IRLSRegressorCV         {t_ours:8.2f} s  lam_ = {ours.lam_:.5g} "
              f"(index {ours.best_index_}), nnz = {np.count_nonzero(ours.coef_)}"]
    for tol in (1e-4, 1e-10):
        ref, t_ref = timed(lambda: LassoCV(alphas=n_lams, cv=folds, tol=tol,
                                           max_iter=100_000).fit(X, y))
        assert np.allclose(ours.lams_, ref.alphas_, rtol=1e-12), "grids differ"
        lines += [f"  LassoCV tol={tol:<8g}    {t_ref:8.2f} s  alpha_ = {ref.alpha_:.5g} "
                  f"(index {int(np.flatnonzero(ref.alphas_ == ref.alpha_)[0])}), "
                  f"nnz = {np.count_nonzero(ref.coef_)}",
                  f"    ratio ours/LassoCV    {t_ours / t_ref:8.2f}   same lam: "
                  f"{ours.lam_ == ref.alpha_}; max |coef diff| = "
                  f"{np.max(np.abs(ours.coef_ - ref.coef_)):.2e}; max rel mse_path diff = "
                  f"{np.max(np.abs(ours.mse_path_ / ref.mse_path_ - 1)):.2e}"]

    # -- mcp against skglm -------------------------------------------------------------
    from skglm import MCPRegression
    from skglm.cv import GeneralizedLinearEstimatorCV
    from skglm.datafits import Quadratic
    from skglm.penalties import MCPenalty
    from skglm.solvers import AndersonCD

    a, tol = 3.0, 1e-6
    lams = lam_grid(X, y, get_penalty("mcp", a=a), n_lams)
    split = list(folds.split(X))
    _, t_compile = timed(lambda: MCPRegression(alpha=0.1, gamma=a, tol=tol).fit(X[:50, :20],
                                                                               y[:50]))
    ours, t_ours = timed(lambda: IRLSRegressorCV(penalty="mcp", penalty_params={"a": a},
                                                 lams=lams, cv=folds).fit(X, y))
    generic = GeneralizedLinearEstimatorCV(
        Quadratic(), MCPenalty(alpha=1.0, gamma=a), AndersonCD(tol=tol, fit_intercept=True,
                                                               warm_start=True),
        alphas=lams, cv=5, random_state=0)
    _, t_generic = timed(lambda: generic.fit(X, y))
    (lam_manual, mse_manual), t_manual = timed(lambda: skglm_manual_cv(X, y, lams, split, a,
                                                                       tol))
    lines += ["", f"mcp(a=3) on the grid above (skglm numba compile, excluded: "
                  f"{t_compile:.1f} s); tol=1e-6 everywhere",
              f"  IRLSRegressorCV                {t_ours:8.2f} s  lam_ = {ours.lam_:.5g}, "
              f"nnz = {np.count_nonzero(ours.coef_)}",
              f"  skglm GeneralizedLinearEstCV   {t_generic:8.2f} s  alpha_ = "
              f"{generic.alpha_:.5g}, nnz = {np.count_nonzero(generic.coef_)}",
              f"  skglm MCPRegression, manual    {t_manual:8.2f} s  alpha_ = "
              f"{lam_manual:.5g}",
              f"  ratio ours/skglm generic CV   {t_ours / t_generic:8.2f}",
              f"  ratio ours/skglm manual path  {t_ours / t_manual:8.2f}   "
              f"max rel mse_path diff vs manual = "
              f"{np.max(np.abs(ours.mse_path_ / mse_manual - 1)):.2e}"]
    lines.append(f"load average at end {os.getloadavg()[0]:.1f} (other processes share the "
                 "CPUs: compare the ratios, not the seconds)")
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(report + "\n")


if __name__ == "__main__":
    main()
