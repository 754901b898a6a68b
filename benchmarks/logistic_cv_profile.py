"""Where IRLSClassifierCV's time goes, lam by lam, on a problem of logistic_cv_speed.py.

One fit of ``IRLSClassifierCV(lams=grid, cv=folds, tol)`` on the grid and folds of
benchmarks/logistic_cv_speed.py, with timers (CPU time of this process) wrapped around the
functions of the solver that do its linear algebra: per lam, summed over the 6 paths (5
training parts and all the data), the time of the Newton solver (``IRLSClassifier._solve``,
one screened fit per path and lam), its Newton steps and calls, the largest support and
strong set (the first round of the fit's outer working set), and the time inside the inner
IRLS solver, the Gram matrices (``Design.cross``), the Cholesky factors, the
conjugate-gradient w-steps, the conjugate-gradient solves of the matrix-free Newton polish
(large supports of a sparse X) and the products with all of X (the loss gradients). The timed functions are nested (the Gram matrices and factors are inside the
inner solver): each column is inclusive. Usage:
``OMP_NUM_THREADS=1 python benchmarks/logistic_cv_profile.py [--problem text|sparse|dense]
[--tol T] [--quick]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from logistic_cv_speed import N_LAMS, problems  # benchmarks/ is on sys.path
from skdropout.linear import IRLSClassifier, IRLSClassifierCV
from skdropout.linear import _design, _irls, _logistic, _wstep

# column -> the (module or class, attribute) pairs it times
TIMED = {"inner IRLS": [(_logistic, "irls")],
         "Gram": [(_design.Design, "cross")],
         "Cholesky": [(_irls, "cholesky"), (_wstep, "cholesky"), (_logistic, "cholesky")],
         "CG w-step": [(_irls, "cg_solve")],
         "CG polish": [(_irls, "pcg")],
         "X products": [(_logistic.LogisticProblem, "neg_gradient")]}


def profile(X, y, tol):
    """Per lam index: a dict of the columns above and the counts."""
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    lam_max = float(np.max(np.abs(X.T @ (y - y.mean())))) / X.shape[0]
    lams = np.geomspace(lam_max, lam_max / 100, N_LAMS)
    acc = defaultdict(lambda: defaultdict(float))
    state = SimpleNamespace(lam=-1, depth=defaultdict(int))

    def timer(column, fn):
        def wrapped(*a, **k):
            state.depth[column] += 1  # a recursive call is counted once
            start = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                state.depth[column] -= 1
                if not state.depth[column]:
                    acc[state.lam][column] += time.process_time() - start
        return wrapped

    solve = IRLSClassifier._solve

    def per_lam(self, problem, penalty, lam, *a, **k):
        state.lam = int(np.argmin(np.abs(lams - lam)))
        start = time.process_time()
        res = solve(self, problem, penalty, lam, *a, **k)
        row = acc[state.lam]
        row["Newton"] += time.process_time() - start
        row["fits"] += 1
        row["steps"] += res.n_iter
        row["support"] = max(row["support"], np.count_nonzero(res.coef))
        if k.get("working_set") is not None:
            row["set"] = max(row["set"], k["working_set"].size)
        return res

    patches = [(IRLSClassifier, "_solve", per_lam)]
    patches += [(owner, name, timer(column, getattr(owner, name)))
                for column, pairs in TIMED.items() for owner, name in pairs
                if hasattr(owner, name)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, fn in patches:
        setattr(owner, name, fn)
    try:
        start = time.process_time()
        IRLSClassifierCV(lams=lams, cv=folds, tol=tol).fit(X, y)
        total = time.process_time() - start
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
    return lams, acc, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", choices=["dense", "sparse", "text"], default="text")
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sparse", type=float, nargs=3, default=[1000, 5000, 0.005],
                        metavar=("N", "D", "DENSITY"))
    args = parser.parse_args()
    title, factory = problems(SimpleNamespace(quick=args.quick, sparse=args.sparse,
                                              problems=[args.problem]))[args.problem]
    X, y = factory()
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        lams, acc, total = profile(X, y, args.tol)
    columns = ["Newton", *TIMED]
    print(f"{title}: {X.shape[0]} x {X.shape[1]}, tol={args.tol:g}; CPU seconds summed over "
          f"the 6 paths; the whole fit {total:.2f} s")
    print(f"{'k':>3}{'lam/lam_max':>12}{'support':>8}{'set':>7}{'fits':>5}{'steps':>6}"
          + "".join(f"{c:>12}" for c in columns))
    for k in range(len(lams)):
        r = acc[k]
        print(f"{k:3d}{lams[k] / lams[0]:12.4f}{int(r['support']):8d}{int(r['set']):7d}"
              f"{int(r['fits']):5d}{int(r['steps']):6d}"
              + "".join(f"{r[c]:12.2f}" for c in columns))
    sums = {c: sum(acc[k][c] for k in range(len(lams))) for c in columns + ["steps", "fits"]}
    print(f"{'all':>3}{'':12}{'':8}{'':7}{int(sums['fits']):5d}{int(sums['steps']):6d}"
          + "".join(f"{sums[c]:12.2f}" for c in columns))


if __name__ == "__main__":
    main()
