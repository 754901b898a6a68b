"""Wall time of cross-validated l1 logistic regression against scikit-learn, in one run.

IRLSClassifierCV against ``LogisticRegressionCV(l1_ratios=(1,))`` with solver liblinear and
saga (issue 22's goal: at most 0.5x the faster of the two, at a tolerance where both pick
the same lam), on the same 5 folds (StratifiedKFold(shuffle, random_state=0); every
training part has the same size n_train, so that the grids map exactly) and the same grid:
ours is ``n_lams`` lams from lam_max down to lam_max / 100 (the ``lams_`` of
IRLSClassifierCV), scikit-learn's ``Cs = 1 / (n_train lams)``; both score by the held-out
log-loss.

Problems: ``make_classification(2000, 5000, n_informative=50)`` (dense) and a sparse CSR
problem shaped like text (rows of unit norm with a few positive entries, the labels from
200 of the features and logistic noise).

Each peer runs at a sweep of tolerances (``--tols``; a solver whose run exceeds
``--cap`` seconds is not run at its tighter tolerances). Ours runs at its default
tol=1e-6 (the scale-free KKT residual). The accuracy of a score path is its largest
difference (over lams and folds) to the held-out log-loss of IRLSClassifierCV at
tol=1e-10, the reference. liblinear penalises the intercept (as the weight of a constant
feature of value ``intercept_scaling=1``), so its problem, and its score path, differ from
ours and saga's at every tolerance.

``--clock cpu`` times by this process's CPU time instead of the wall clock (on a loaded
machine it counts each fit's own work). Every estimator runs with n_jobs=1 and BLAS on one
thread; each peer runs once (they take minutes), ours twice, before and after the peers
(its time: the better of the two), so that a change in the machine's load during the sweep
hits both. Usage:
``OMP_NUM_THREADS=1 python benchmarks/logistic_cv_speed.py [--quick] [--problems ...]
[--sparse N D DENSITY] [--clock wall|cpu] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from _clock import CLOCKS, add_clock_argument
from linear_cv_speed import timed, write_report  # benchmarks/ is on sys.path in a script
from skdropout.linear import IRLSClassifierCV


def text_like(n, d, density, seed=0):
    """Sparse CSR rows of unit norm with ``density * d`` positive entries each on average
    (tf-idf-like), labels from a logistic model on 200 of the features; up to 4 rows per
    class are left out so that each class count is a multiple of 5."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: 1.0 + rng.exponential(1.0, k))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X)
    w = np.zeros(d)
    w[rng.choice(d, 200, replace=False)] = 6.0 * rng.standard_normal(200)
    y = (X @ w + rng.logistic(size=n) > 0).astype(int)
    # whole multiples of 5 per class: every stratified training part has the same size
    keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:np.sum(y == c) // 5 * 5]
                                   for c in (0, 1)]))
    return X[keep], y[keep]


def peer_scores(est):
    """Held-out log-loss of LogisticRegressionCV, shape (n_Cs, n_folds)."""
    return -est.scores_[:, 0, :].T



def run_problem(name, X, y, n_lams, tols, cap, lines, clock=0):
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    n_train = {len(train) for train, _ in folds}
    assert len(n_train) == 1, "the training parts differ in size: the grids would not map"
    n_train = n_train.pop()

    def ours(tol=1e-6):
        return IRLSClassifierCV(lams=n_lams, eps=1e-2, cv=folds, tol=tol).fit(X, y)

    ref = ours(1e-10)
    lams = ref.lams_
    Cs = 1.0 / (n_train * lams)
    lines += ["", f"{name}: {X.shape[0]} x {X.shape[1]}"
              + (f", {X.nnz / np.prod(X.shape):.2%} nonzero" if sp.issparse(X) else "")
              + f"; {n_lams} lams down to lam_max/100, 5 stratified folds of {n_train} "
              f"training rows; reference lam_ index {ref.best_index_}, "
              f"{np.count_nonzero(ref.coef_)} nonzero coefficients there"]
    mine, t_ours = timed(ours)
    t_ours = t_ours[clock]
    rows = []
    for solver in ("liblinear", "saga"):
        for tol in tols:
            theirs, t_peer = timed(lambda: LogisticRegressionCV(
                Cs=Cs, cv=folds, l1_ratios=(1.0,), solver=solver, tol=tol,
                scoring="neg_log_loss", max_iter=100_000, use_legacy_attributes=False
            ).fit(X, y))
            t_peer = t_peer[clock]
            peer_index = int(np.argmin(np.abs(Cs - theirs.C_)))
            error = np.max(np.abs(peer_scores(theirs) - ref.log_loss_path_))
            rows.append((solver, tol, t_peer, peer_index, error))
            print(f"  {solver} tol={tol:g} {t_peer:.2f} s", flush=True)
            if t_peer > cap:
                break
    # ours again after the peers: the better of two runs, one on each side of the sweep
    mine, t_again = timed(ours)
    t_ours = min(t_ours, t_again[clock])
    lines.append(f"  ours (tol=1e-6) {t_ours:6.2f} s (best of 2, before and after the peers), "
                 f"lam_ index {mine.best_index_:2d}, log-loss error "
                 f"{np.max(np.abs(mine.log_loss_path_ - ref.log_loss_path_)):.1e}")
    for solver, tol, t_peer, peer_index, error in rows:
        lines.append(f"  {solver:9s} tol={tol:<6g} {t_peer:8.2f} s  C_ index {peer_index:2d}, "
                     f"log-loss error {error:.1e} | ratio ours/peer {t_ours / t_peer:5.2f}  "
                     f"same lam: {peer_index == mine.best_index_}")
    for solver in ("liblinear", "saga"):
        run = [tol for s_, tol, *_ in rows if s_ == solver]
        skipped = [t for t in tols if t < min(run)]
        if skipped:
            lines.append(f"  {solver:9s} tol={', '.join(f'{t:g}' for t in skipped)}: not run "
                         f"(tol={min(run):g} took over {cap:g} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller problems (500 x 1000 dense, 1000 x 3000 sparse)")
    parser.add_argument("--tols", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4],
                        help="tolerances of the peers, loosest first")
    parser.add_argument("--cap", type=float, default=300.0,
                        help="seconds after which a peer's tighter tols are not run")
    parser.add_argument("--sparse", type=float, nargs=3, default=[1000, 5000, 0.005],
                        metavar=("N", "D", "DENSITY"), help="size of the sparse problem")
    parser.add_argument("--problems", nargs="+", default=["dense", "sparse"],
                        choices=["dense", "sparse"])
    add_clock_argument(parser)
    parser.add_argument("--out", default=None, help="also write the report to this file")
    args = parser.parse_args()
    n_lams = 20
    clock = list(CLOCKS).index(args.clock)  # its place in the times ``timed`` returns
    lines = [f"IRLSClassifierCV against LogisticRegressionCV(l1_ratios=(1,)); n_jobs=1; "
             f"{args.clock} time; "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy "
             f"{np.__version__}; load average at start {os.getloadavg()[0]:.1f}",
             "log-loss error: max over lams and folds of |held-out log-loss - that of "
             "IRLSClassifierCV at tol=1e-10|"]
    print(lines[0], flush=True)
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        if "dense" in args.problems:
            n, d = (500, 1000) if args.quick else (2000, 5000)
            X, y = make_classification(n, d, n_informative=50, random_state=0)
            run_problem("make_classification(n_informative=50)", X, y, n_lams, args.tols,
                        args.cap, lines, clock)
        if "sparse" in args.problems:
            n, d, density = (1000, 3000, 0.005) if args.quick else args.sparse
            X, y = text_like(int(n), int(d), density)
            run_problem("text-like sparse CSR", X, y, n_lams, args.tols, args.cap,
                        lines, clock)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
