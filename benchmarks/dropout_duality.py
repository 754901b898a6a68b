"""Theorem 1 at scale: AdaptiveDropoutRegressor against IRLSRegressor (same objective, same
support) and against scikit-learn's SGDRegressor(penalty="l1") to the same objective.

For every problem and penalty both estimators are fitted with default settings at
``lam = lam_max / 20`` (``lam_max`` of that penalty, on the standardised data; the problem
wide150/10 at ``lam_max / 10``, the lam of issue 17's own 300 x 20000 example). Columns:

* ``t_irls``, ``t_drop``: wall time of one fit (seconds, one BLAS thread);
* ``rel_obj``: ``(F_drop - F_irls) / F_irls``, F = eq. (1) (goal: ``|rel_obj| <= 1e-3``);
* ``supp``: the supports (coefficients above 1e-3 of the largest) agree, and how many
  columns differ;
* ``x_irls``: ``t_drop / t_irls`` (goal: at most 20; the non-convex rows include the
  second run of ``check_minima``);
* ``warn``: CONV, the dropout fit warned that it did not converge; MIN, it warned
  (``LocalMinimaWarning``) that two runs with different masks ended in different local
  minima;
* ``t_sgd``, ``x_sgd`` (l1 only, SGDRegressor has no other of these penalties): the time
  SGDRegressor(penalty="l1", alpha=lam) needs, at its default schedule, until F is within
  ``SGD_TOL`` (relative) of IRLS's F, checked after every epoch (partial_fit; checking is
  not timed), capped at ``--sgd-cap`` seconds; ``x_sgd = t_sgd / t_drop`` (goal: at least
  30). "not reached" means it did not get there within the cap (then x_sgd is a lower
  bound, printed with ">").

Problems (noise 1, random_state 0; dense X standardised, sparse X scaled to unit column
variance without centring). iid, wide, wide150 and tall are scikit-learn's
``make_regression`` (the problems of issue 17's table); toeplitz and sparse have
``n_informative`` true features with N(0, 10^2) weights:

* iid: 1000 x 5000, 50 informative;
* toeplitz: 500 x 5000, rows N(0, Sigma) with Sigma_ij = 0.8^|i - j|, 50 informative;
* wide: 300 x 20000, 30 informative; wide150: the same with 150 informative (a lasso
  support close to n: an ill-conditioned working set); wide150/10: wide150 at lam_max/10;
* tall: 100000 x 100, 10 informative;
* sparse: CSR, 1 % density, 2000 x 20000, 50 informative.

Then the CV check of issue 17: AdaptiveDropoutRegressorCV and IRLSRegressorCV on the iid
problem (noise 1, as in the issue, and noise 300, whose optimum lies inside the grid), the
same 5 folds and grid (``--cv-lams`` values down to lam_max/100), selection "min" and "1se":
the lam each picks.

With ``--tall-sgd``: SGDRegressor's objective gap after each of its first 5 epochs on the
tall problem, against the time of one dropout fit (where one SGD epoch already gets close,
so that "30 times faster than SGD" cannot be met).

With ``--trace``: the KKT residual and objective gap after 1, 2, 5, 10, ... epochs (l1, iid
and toeplitz), the measured "how close per iteration" of the guide.

Usage (from the repository root):
``OMP_NUM_THREADS=1 python benchmarks/dropout_duality.py [--quick] [--problems P ...]
[--sgd-cap S] [--cv-lams K] [--cv-noise V ...] [--trace] [--tall-sgd]
[--out benchmarks/results/dropout_duality]``; writes ``<out>.txt`` and ``<out>.csv``.
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDRegressor
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from _clock import CLOCKS, add_clock_argument
from skdropout.linear import (AdaptiveDropoutRegressor, AdaptiveDropoutRegressorCV,
                              IRLSRegressor, IRLSRegressorCV, LocalMinimaWarning)
from skdropout.linear._path import lam_max
from skdropout.penalties import resolve_penalty

PENALTIES = {"l1": None, "logsum": {"eps": 1.0}, "mcp": {"a": 3.0}, "scad": {"a": 3.7}}
SGD_TOL = 1e-2
#: ``--clock``: elapsed time, or the CPU time of this process (one BLAS thread: the work
#: done, whatever else runs on a loaded machine)
CLOCK = "wall"


def clock() -> float:
    """The clock ``--clock`` chose, in seconds."""
    return CLOCKS[CLOCK]()


PROBLEMS = {  # name: (n, d, n_informative, kind, lam_max / lam)
    "iid": (1000, 5000, 50, "iid", 20),
    "toeplitz": (500, 5000, 50, "toeplitz", 20),
    "wide": (300, 20000, 30, "iid", 20),
    "wide150": (300, 20000, 150, "iid", 20),
    "wide150/10": (300, 20000, 150, "iid", 10),
    "tall": (100000, 100, 10, "iid", 20),
    "sparse": (2000, 20000, 50, "sparse", 20),
}


def make_problem(n: int, d: int, k: int, kind: str, seed: int = 0):
    """X (standardised), y with k true features."""
    rng = np.random.default_rng(seed)
    if kind == "sparse":
        X = sp.random(n, d, density=0.01, format="csr", random_state=seed,
                      data_rvs=rng.standard_normal)
        std = np.sqrt(np.asarray(X.multiply(X).mean(axis=0)).ravel()
                      - np.asarray(X.mean(axis=0)).ravel() ** 2)
        X = (X @ sp.diags(1.0 / np.where(std > 0, std, 1.0))).tocsr()
    elif kind == "toeplitz":
        Z = rng.standard_normal((n, d))
        X = np.empty((n, d))
        X[:, 0] = Z[:, 0]
        for j in range(1, d):  # AR(1) across columns: corr(x_i, x_j) = 0.8^|i-j|
            X[:, j] = 0.8 * X[:, j - 1] + 0.6 * Z[:, j]
    else:  # the problems of issue 17's table
        X, y = make_regression(n_samples=n, n_features=d, n_informative=k, noise=1.0,
                               random_state=seed)
        return (X - X.mean(0)) / X.std(0), y
    if not sp.issparse(X):
        X = (X - X.mean(0)) / X.std(0)
    beta = np.zeros(d)
    beta[rng.choice(d, k, replace=False)] = 10.0 * rng.standard_normal(k)
    y = np.asarray(X @ beta).ravel() + rng.standard_normal(n)
    return X, y


def objective(X, y, est, pen, lam) -> float:
    r = y - np.asarray(X @ est.coef_).ravel() - est.intercept_
    return 0.5 * float(r @ r) / len(y) + lam * pen.value(est.coef_)


def support(coef):
    m = np.max(np.abs(coef))
    return np.abs(coef) > 1e-3 * m if m > 0 else np.zeros(coef.shape, bool)


def timed(make, X, y):
    """The fitted estimator, its time and the categories of its ConvergenceWarnings and
    LocalMinimaWarnings."""
    t = clock()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", LocalMinimaWarning)
        est = make().fit(X, y)
    return est, clock() - t, {w.category for w in caught}


def sgd_time(X, y, pen, lam, F_target, cap):
    """Seconds of SGDRegressor epochs until F <= F_target (1 + SGD_TOL), or None."""
    sgd = SGDRegressor(penalty="l1", alpha=lam, random_state=0)
    spent, epochs = 0.0, 0
    while spent < cap:
        t = clock()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sgd.partial_fit(X, y)
        spent += clock() - t
        epochs += 1
        if not np.all(np.isfinite(sgd.coef_)):
            return None, epochs, spent
        if objective(X, y, sgd, pen, lam) <= F_target * (1 + SGD_TOL):
            return spent, epochs, spent
    return None, epochs, spent


def run_problem(name, spec, sgd_cap, out_rows, log):
    n, d, k, kind, divisor = spec
    X, y = make_problem(n, d, k, kind)
    for pname, params in PENALTIES.items():
        pen0 = resolve_penalty(pname, params)
        lam = lam_max(X, y, pen0) / divisor
        pen = resolve_penalty(pname, params, lam)
        irls, t_i, w_i = timed(lambda: IRLSRegressor(penalty=pname, penalty_params=params,
                                                     lam=lam), X, y)
        drop, t_d, w_d = timed(lambda: AdaptiveDropoutRegressor(
            penalty=pname, penalty_params=params, lam=lam, random_state=0), X, y)
        F_i, F_d = objective(X, y, irls, pen, lam), objective(X, y, drop, pen, lam)
        rel = (F_d - F_i) / abs(F_i)
        s_i, s_d = support(irls.coef_), support(drop.coef_)
        diff = int(np.sum(s_i != s_d))
        row = {"problem": name, "n": n, "d": d, "penalty": pname, "lam": lam,
               "t_irls": t_i, "t_drop": t_d, "rel_obj": rel,
               "supp_equal": diff == 0, "supp_diff": diff, "nnz_irls": int(s_i.sum()),
               "x_irls": t_d / t_i, "drop_kkt": drop.kkt_, "drop_epochs": drop.n_iter_,
               "drop_warned": ConvergenceWarning in w_d,
               "drop_minima_warned": LocalMinimaWarning in w_d,
               "irls_warned": ConvergenceWarning in w_i,
               "t_sgd": "", "sgd_epochs": "", "x_sgd": ""}
        if pname == "l1":
            t_s, ep, spent = sgd_time(X, y, pen, lam, F_i, sgd_cap)
            row["sgd_epochs"] = ep
            if t_s is None:
                row["t_sgd"] = f"not reached in {spent:.0f} s"
                row["x_sgd"] = f">{spent / t_d:.0f}"
            else:
                row["t_sgd"] = f"{t_s:.2f}"
                row["x_sgd"] = f"{t_s / t_d:.2g}"
        out_rows.append(row)
        log(f"{name:10s} {pname:6s} {t_i:7.2f} {t_d:7.2f} {rel:+10.2e} "
            f"{'yes' if diff == 0 else f'no ({diff})':>8s} {row['nnz_irls']:5d} "
            f"{t_d / t_i:7.1f} {drop.kkt_:8.1e} {drop.n_iter_:6d} "
            f"{_warn_flags(w_d):4s} {row['t_sgd']:>22s} {row['x_sgd']:>6s}")


def _warn_flags(categories) -> str:
    """CONV: a ConvergenceWarning; MIN: a LocalMinimaWarning (check_minima)."""
    return "/".join(flag for flag, cat in [("CONV", ConvergenceWarning),
                                            ("MIN", LocalMinimaWarning)]
                    if cat in categories)


def run_cv(n_lams, log, noises=(1.0, 300.0)):
    """Issue 17's 1000 x 5000 problem (noise 1, where the smallest lam of the grid wins) and
    the same with noise 300 (an interior optimum; "min" and "1se" then differ)."""
    n, d, k = PROBLEMS["iid"][:3]
    for noise in noises:
        X, y = make_regression(n_samples=n, n_features=d, n_informative=k, noise=noise,
                               random_state=0)
        X = (X - X.mean(0)) / X.std(0)
        folds = KFold(5, shuffle=True, random_state=0)
        for selection in ["min", "1se"]:
            kw = dict(lams=n_lams, eps=0.01, cv=folds, selection=selection)
            t = clock()
            irls = IRLSRegressorCV(**kw).fit(X, y)
            t_i = clock() - t
            t = clock()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                drop = AdaptiveDropoutRegressorCV(random_state=0, **kw).fit(X, y)
            t_d = clock() - t
            n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
            mse = np.max(np.abs(drop.mse_path_ - irls.mse_path_) / irls.mse_path_)
            log(f"CV {n}x{d} noise={noise:g} l1 {n_lams} lams to lam_max/100, 5 folds, "
                f"selection={selection}: IRLSRegressorCV lam_={irls.lam_:.6g} (index "
                f"{irls.best_index_}, {t_i:.1f} s), AdaptiveDropoutRegressorCV "
                f"lam_={drop.lam_:.6g} (index {drop.best_index_}, {t_d:.1f} s): "
                f"{'same' if drop.lam_ == irls.lam_ else 'DIFFERENT'}; held-out MSE differs "
                f"by at most {mse:.1e} (relative); {n_warn} ConvergenceWarnings")


def run_tall_sgd(log):
    """Issue 17's "30x faster than SGD" goal on the tall problem (n >> d): the objective gap
    of SGDRegressor(penalty="l1") after each of its first epochs, and its time, against one
    AdaptiveDropoutRegressor fit (lasso, lam_max / 20)."""
    X, y = make_problem(*PROBLEMS["tall"][:4])
    pen = resolve_penalty("l1", None)
    lam = lam_max(X, y, pen) / 20
    F_i = objective(X, y, IRLSRegressor(lam=lam).fit(X, y), pen, lam)
    drop, t_d, _ = timed(lambda: AdaptiveDropoutRegressor(lam=lam, random_state=0), X, y)
    log(f"tall l1 SGD per epoch (100000 x 100, lam_max/20): AdaptiveDropoutRegressor "
        f"{t_d:.2f} s to {(objective(X, y, drop, pen, lam) - F_i) / F_i:+.1e}")
    sgd = SGDRegressor(penalty="l1", alpha=lam, random_state=0)
    spent = 0.0
    for epoch in range(1, 6):
        t = clock()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sgd.partial_fit(X, y)
        spent += clock() - t
        gap = (objective(X, y, sgd, pen, lam) - F_i) / F_i
        log(f"  SGD epoch {epoch}: {spent:.2f} s ({spent / t_d:.2f} x the dropout fit), "
            f"objective gap {gap:.1e}")


def run_trace(log):
    """How close per epoch: the scaled KKT residual and the objective gap to IRLS after k
    epochs (a fit with max_iter=k and the same seed is the first k epochs of the full run)."""
    for name in ["iid", "toeplitz"]:
        X, y = make_problem(*PROBLEMS[name][:4])
        pen = resolve_penalty("l1", None)
        lam = lam_max(X, y, pen) / 20
        F_i = objective(X, y, IRLSRegressor(lam=lam).fit(X, y), pen, lam)
        parts = []
        for k in [1, 2, 5, 10, 20, 40, 80, 160, 320, 640]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                drop = AdaptiveDropoutRegressor(lam=lam, max_iter=k, random_state=0).fit(X, y)
            gap = (objective(X, y, drop, pen, lam) - F_i) / F_i
            parts.append(f"{drop.n_iter_}: {drop.kkt_:.1e}/{gap:.0e}")
            if drop.kkt_ <= drop.tol:
                break
        log(f"trace {name} l1 (epochs: KKT residual/objective gap): " + ", ".join(parts))


def line_log() -> tuple[Callable[[str], None], list[str]]:
    """A log that prints each line at once and keeps it (the lines of the result file)."""
    lines: list[str] = []

    def log(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    return log, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="iid problem only, no CV")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--sgd-cap", type=float, default=60.0)
    parser.add_argument("--cv-lams", type=int, default=20)
    parser.add_argument("--cv-noise", type=float, nargs="+", default=[1.0, 300.0],
                        help="noise levels of the CV problems")
    add_clock_argument(parser)
    parser.add_argument("--trace", action="store_true",
                        help="also the KKT residual per epoch on iid and toeplitz (l1)")
    parser.add_argument("--tall-sgd", action="store_true",
                        help="also SGD's objective gap per epoch on the tall problem")
    parser.add_argument("--out", default="benchmarks/results/dropout_duality")
    args = parser.parse_args()
    global CLOCK
    CLOCK = args.clock
    log, lines = line_log()
    noises = " ".join(f"{v:g}" for v in args.cv_noise)
    log(f"# python benchmarks/dropout_duality.py {'--quick ' if args.quick else ''}"
        f"--problems {' '.join(args.problems)} --sgd-cap {args.sgd_cap:g} "
        f"--cv-lams {args.cv_lams}"
        f"{'' if args.cv_noise == [1.0, 300.0] else ' --cv-noise ' + noises}"
        f"{' --trace' if args.trace else ''}"
        f"{' --tall-sgd' if args.tall_sgd else ''}"
        f"{'' if args.clock == 'wall' else ' --clock ' + args.clock}   (one BLAS thread; "
        f"{platform.machine()}, {platform.python_version()}; shared 2-core machine: compare "
        "ratios, not seconds)")
    log(f"# SGD: time to F <= F_irls (1 + {SGD_TOL:g}), default schedule, l1 rows only")
    log("problem    pen     t_irls  t_drop    rel_obj     supp   nnz  x_irls      kkt "
        "epochs warn                  t_sgd  x_sgd")
    rows: list[dict] = []
    problems = ["iid"] if args.quick else args.problems
    with threadpool_limits(1):
        for name in problems:
            run_problem(name, PROBLEMS[name], args.sgd_cap, rows, log)
        if not args.quick and args.cv_lams > 0:
            run_cv(args.cv_lams, log, args.cv_noise)
        if args.trace:
            run_trace(log)
        if args.tall_sgd:
            run_tall_sgd(log)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    if not rows:
        return
    with out.with_suffix(".csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) and math.isfinite(v)
                                 else v) for k, v in row.items()})


if __name__ == "__main__":
    main()
