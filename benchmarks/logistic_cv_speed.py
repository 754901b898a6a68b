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
tol=1e-6 (the scale-free KKT residual) and at the looser ``--our-tols``. The accuracy of a
score path is its largest difference (over lams and folds) to the held-out log-loss of
IRLSClassifierCV at tol=1e-10, the reference. liblinear penalises the intercept (as the
weight of a constant feature of value ``intercept_scaling=1``), so its problem, and its
score path, differ from ours and saga's at every tolerance. Each peer row gets two ratios:
ours at tol=1e-6 over the peer, and, at equal accuracy, the fastest run of ours whose
error is at most the peer's over the peer.

The last line of a problem is a floor for a Newton path that factorises its Hessian
(:func:`newton_floor`): the Gram matrix and Cholesky factor of one Newton step per lam and
training part, on the reference path's supports, and nothing else.

``--clock cpu`` times by this process's CPU time instead of the wall clock (on a loaded
machine it counts each fit's own work). Every estimator runs with n_jobs=1 and BLAS on one
thread; each peer runs once (they take minutes), ours twice, before and after the peers
(its time: the better of the two), so that a change in the machine's load during the sweep
hits both. Usage:
``OMP_NUM_THREADS=1 python benchmarks/logistic_cv_speed.py [--quick] [--problems ...]
[--sparse N D DENSITY] [--our-tols T ...] [--clock wall|cpu] [--out FILE]``.
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

CLOCKS_LIST = list(CLOCKS.values())
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



def newton_floor(X, coefs, folds, clock, seed=0):
    """A lower bound on the time of a Newton path that factorises its Hessian: per training
    part (the folds and all the data) and lam, one Newton step's linear algebra alone, the Gram
    matrix ``X_S' V X_S`` of the support S (with the intercept's row and column, V
    positive weights as p(1 - p) are) and its Cholesky factor, on the supports of the
    full-data path ``coefs``; the gradients, line searches and working-set checks that a
    solver also needs, and every further Newton step, come on top."""
    rng = np.random.default_rng(seed)
    X = sp.csc_matrix(X) if sp.issparse(X) else np.asarray(X)
    total = 0.0
    for part in [np.arange(X.shape[0])] + [train for train, _ in folds]:
        Xp = X[part]
        v = rng.uniform(0.01, 0.25, part.size)
        for k in range(coefs.shape[-1]):
            S = np.flatnonzero(coefs[0, :, k])
            start = CLOCKS_LIST[clock]()
            B = Xp[:, S]
            VB = B.multiply(v[:, None]).tocsc() if sp.issparse(B) else B * v[:, None]
            G = np.empty((S.size + 1, S.size + 1))
            G[:-1, :-1] = (B.T @ VB).toarray() if sp.issparse(B) else B.T @ VB
            G[-1, :-1] = G[:-1, -1] = np.asarray(VB.sum(axis=0)).ravel()
            G[-1, -1] = v.sum()
            G.flat[::S.size + 2] += 1e-8 * v.sum()  # a rank-deficient support stays PD
            np.linalg.cholesky(G)
            total += CLOCKS_LIST[clock]() - start
    return total


def run_problem(name, X, y, n_lams, tols, our_tols, cap, lines, clock=0):
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
    our_tols = [1e-6] + [t for t in our_tols if t != 1e-6]

    def run_ours():
        """Each of our tols once: {tol: (time, fitted)}."""
        out = {}
        for tol in our_tols:
            fitted, t = timed(lambda: ours(tol))
            out[tol] = (t[clock], fitted)
        return out

    first = run_ours()
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
    again = run_ours()
    mine = {}  # tol: (time, lam_ index, log-loss error)
    for tol in our_tols:
        fitted = again[tol][1]
        mine[tol] = (min(first[tol][0], again[tol][0]), fitted.best_index_,
                     np.max(np.abs(fitted.log_loss_path_ - ref.log_loss_path_)))
        lines.append(f"  ours tol={tol:<6g} {mine[tol][0]:6.2f} s (best of 2, before and after "
                     f"the peers), lam_ index {mine[tol][1]:2d}, log-loss error "
                     f"{mine[tol][2]:.1e}")
    t_ours, best_index = mine[1e-6][:2]
    lines.append("  ratio: ours at tol=1e-6 / peer; at equal accuracy: the fastest of ours "
                 "whose log-loss error is at most the peer's / peer")
    for solver, tol, t_peer, peer_index, error in rows:
        matched = [(t, ot) for ot, (t, _, e) in mine.items() if e <= error]
        equal = (f"equal accuracy {min(matched)[0] / t_peer:5.2f} (ours tol={min(matched)[1]:g})"
                 if matched else "equal accuracy: none of ours is as coarse")
        lines.append(f"  {solver:9s} tol={tol:<6g} {t_peer:8.2f} s  C_ index {peer_index:2d}, "
                     f"log-loss error {error:.1e} | ratio {t_ours / t_peer:5.2f}, {equal}  "
                     f"same lam: {peer_index == best_index}")
    for solver in ("liblinear", "saga"):
        run = [tol for s_, tol, *_ in rows if s_ == solver]
        skipped = [t for t in tols if t < min(run)]
        if skipped:
            lines.append(f"  {solver:9s} tol={', '.join(f'{t:g}' for t in skipped)}: not run "
                         f"(tol={min(run):g} took over {cap:g} s)")
    floor = newton_floor(X, ref.coef_path_, folds, clock)
    fastest = min(row[2] for row in rows)
    lines.append(f"  floor of a factorising Newton path: one Gram matrix and Cholesky factor per lam and "
                 f"part on the reference supports, {floor:.2f} s = {floor / fastest:.2f}x "
                 f"the fastest peer row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller problems (500 x 1000 dense, 1000 x 3000 sparse)")
    parser.add_argument("--tols", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4],
                        help="tolerances of the peers, loosest first")
    parser.add_argument("--our-tols", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2],
                        help="looser tolerances of ours, besides its default 1e-6")
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
                        args.our_tols, args.cap, lines, clock)
        if "sparse" in args.problems:
            n, d, density = (1000, 3000, 0.005) if args.quick else args.sparse
            X, y = text_like(int(n), int(d), density)
            run_problem("text-like sparse CSR", X, y, n_lams, args.tols, args.our_tols,
                        args.cap, lines, clock)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
