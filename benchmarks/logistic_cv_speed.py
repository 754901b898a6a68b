"""Time of cross-validated l1 logistic regression against scikit-learn, in one run or in parts.

IRLSClassifierCV against ``LogisticRegressionCV(l1_ratios=(1,))`` with solver liblinear and
saga (issue 22's goal: at most 0.5x the faster of the two, at a tolerance where both pick
the same lam), on the same 5 folds (StratifiedKFold(shuffle, random_state=0); every
training part has the same size n_train, so that the grids map exactly) and the same grid:
``n_lams`` lams from ``lam_max = ||X'(y - ybar)||_inf / n`` (the first lam of
IRLSClassifierCV's own grid for l1) down to lam_max / 100, given to IRLSClassifierCV as
``lams``, and to scikit-learn as ``Cs = 1 / (n_train lams)``; both score by the held-out
log-loss.

Problems: ``make_classification(2000, 5000, n_informative=50)`` (dense), a small sparse
CSR problem shaped like text (rows of unit norm with a few positive entries, the labels from
200 of the features and logistic noise) and the issue's text problem, ``make_text`` of
benchmarks/logistic_speed.py (CSR 20000 x 50000 at 0.1 % density).

Each peer runs at a sweep of tolerances (``--tols``; a solver whose run exceeds
``--cap`` seconds is not run at its tighter tolerances). Ours runs at its default
tol=1e-6 (the scale-free KKT residual) and at the looser ``--our-tols``. The accuracy of a
score path is its largest difference (over lams and folds) to the held-out log-loss of
the reference, IRLSClassifierCV at ``--ref-tol`` (1e-10 by default; where that is too slow
to run, the tightest tol of ours that finishes, which the report names). liblinear
penalises the intercept (as the weight of a constant feature of value
``intercept_scaling=1``), so its problem, and its score path, differ from ours and saga's at
every tolerance. Each peer row gets two ratios: ours at tol=1e-6 over the peer, and, at
equal accuracy, the fastest run of ours whose error is at most the peer's over the peer.

The last line of a problem is a floor for a Newton path that factorises its Hessian
(:func:`newton_floor`): the Gram matrix and Cholesky factor of one Newton step per lam and
training part, on the reference path's supports, and nothing else.

``--clock cpu`` times by this process's CPU time instead of the wall clock (on a loaded
machine it counts each fit's own work). Every estimator runs with n_jobs=1 and BLAS on one
thread; each peer runs once (they take minutes), ours twice (its time: the better of the
two), before and after the peers when the run has peers, so that a change in the machine's
load during the sweep hits both.

``--solvers`` splits a problem's work into runs that each fit in a few minutes: ``ref``
(the reference and the floor), ``ours``, ``liblinear``, ``saga``. A run writes its
measurements next to ``--out`` (``.json``, rewritten after each fit, so a run stopped
early keeps what finished); ``--combine A.json B.json ... --out FILE`` writes the report of
several runs' parts, for instance ours rerun on a new solver with the peers measured before.
Usage: ``OMP_NUM_THREADS=1 python benchmarks/logistic_cv_speed.py [--quick]
[--problems dense sparse text] [--solvers ref ours liblinear saga] [--sparse N D DENSITY]
[--ref-tol T] [--our-tols T ...] [--tols T ...] [--cap S] [--clock wall|cpu] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from _clock import CLOCKS, add_clock_argument

from linear_cv_speed import timed, write_report  # benchmarks/ is on sys.path in a script
from logistic_speed import make_text
from skdropout.linear import IRLSClassifierCV

CLOCKS_LIST = list(CLOCKS.values())
N_LAMS = 20
PEERS = ("liblinear", "saga")


def whole_folds(X, y):
    """X, y without the last ``count % 5`` rows of each class, so that every stratified
    training part of 5 folds has the same size (and the grids map exactly)."""
    keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:np.sum(y == c) // 5 * 5]
                                   for c in np.unique(y)]))
    return X[keep], y[keep]


def text_like(n, d, density, seed=0):
    """Sparse CSR rows of unit norm with ``density * d`` positive entries each on average
    (tf-idf-like), labels from a logistic model on 200 of the features."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: 1.0 + rng.exponential(1.0, k))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X)
    w = np.zeros(d)
    w[rng.choice(d, 200, replace=False)] = 6.0 * rng.standard_normal(200)
    return X, (X @ w + rng.logistic(size=n) > 0).astype(int)


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


def measure(name, X, y, args, clock, write):
    """The runs of ``args.solvers`` on one problem, as a part (a JSON-ready dict):
    ``ref`` (the reference's score path, its time and the floor), ``ours`` (per tol: the times
    of its runs, lam_ index, score path) and ``peers`` (per solver and tol: time, C_ index,
    score path; ``running``: the peer fit under way). ``write(part)`` is called around every
    fit."""
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    n_train = {len(train) for train, _ in folds}
    assert len(n_train) == 1, "the training parts differ in size: the grids would not map"
    n_train = n_train.pop()
    n = X.shape[0]
    lam_max = float(np.max(np.abs(X.T @ (y - y.mean())))) / n
    lams = np.geomspace(lam_max, lam_max / 100, N_LAMS)
    Cs = 1.0 / (n_train * lams)
    part = dict(problem=name, lams=lams.tolist(), clock=args.clock,
                shape=f"{n} x {X.shape[1]}" + (f", {X.nnz / np.prod(X.shape):.2%} nonzero"
                                               if sp.issparse(X) else ""),
                n_train=n_train, meta=[run_line(args)], ours={}, peers={}, skipped={})

    def ours(tol):
        return IRLSClassifierCV(lams=lams, cv=folds, tol=tol).fit(X, y)

    def run_ours():
        for tol in args.our_tols:
            fitted, t = timed(lambda: ours(tol))
            entry = part["ours"].setdefault(f"{tol:g}", dict(tol=tol, times=[]))
            entry.update(best_index=int(fitted.best_index_),
                         log_loss_path=fitted.log_loss_path_.tolist())
            entry["times"].append(float(t[clock]))
            print(f"  ours tol={tol:g} {t[clock]:.2f} s", flush=True)
            write(part)

    if "ref" in args.solvers:
        ref, t = timed(lambda: ours(args.ref_tol))
        part["ref"] = dict(tol=args.ref_tol, time=float(t[clock]),
                           best_index=int(ref.best_index_),
                           nnz=int(np.count_nonzero(ref.coef_)),
                           log_loss_path=ref.log_loss_path_.tolist())
        print(f"  reference tol={args.ref_tol:g} {t[clock]:.2f} s", flush=True)
        write(part)
        part["ref"]["floor"] = newton_floor(X, ref.coef_path_, folds, clock)
        write(part)
    peers = [s for s in PEERS if s in args.solvers]
    if "ours" in args.solvers:
        run_ours()
    for solver in peers:
        rows = part["peers"][solver] = []
        for tol in args.tols:
            part["running"] = dict(solver=solver, tol=tol)  # a run stopped here says so
            write(part)
            theirs, t = timed(lambda: LogisticRegressionCV(
                Cs=Cs, cv=folds, l1_ratios=(1.0,), solver=solver, tol=tol,
                scoring="neg_log_loss", max_iter=100_000, use_legacy_attributes=False
            ).fit(X, y))
            rows.append(dict(tol=tol, time=float(t[clock]),
                             C_index=int(np.argmin(np.abs(Cs - theirs.C_))),
                             log_loss_path=peer_scores(theirs).tolist()))
            print(f"  {solver} tol={tol:g} {t[clock]:.2f} s", flush=True)
            del part["running"]
            over = t[clock] > args.cap  # the tighter tols are not run
            if over:
                part["skipped"][solver] = dict(tols=[s for s in args.tols if s < tol],
                                               cap=args.cap)
            write(part)
            if over:
                break
    if "ours" in args.solvers:  # the second run: after the peers when there are any
        run_ours()
    return part


def merge(parts):
    """The parts of one problem as one: its reference, ours at every tol (the times of all
    runs) and each peer's rows, from whichever part has them (a later part wins)."""
    out = dict(parts[0], ours={}, peers={}, skipped={}, meta=[],
               stopped=[p["running"] for p in parts if "running" in p])
    for part in parts:
        assert np.allclose(part["lams"], out["lams"], rtol=1e-12), "the grids differ"
        out["meta"] += part["meta"]
        for tol, entry in part["ours"].items():
            times = out["ours"].get(tol, {}).get("times", [])
            out["ours"][tol] = dict(entry, times=times + entry["times"])
        out["peers"].update(part["peers"])
        out["skipped"].update(part["skipped"])
        if "ref" in part:
            out["ref"] = part["ref"]
    return out


def report(part, lines):
    """The lines of one (merged) problem: ours at each tol, each peer row with its ratios,
    and the floor."""
    if "ref" not in part:
        raise ValueError(f"{part['problem']}: no part holds the reference (--solvers ref)")
    ref = part["ref"]
    ref_path = np.asarray(ref["log_loss_path"])
    lams = part["lams"]
    lines += ["", f"{part['problem']}: {part['shape']}; {len(lams)} lams down to lam_max/100, 5 "
              f"stratified folds of {part['n_train']} training rows; {part['clock']} time",
              *[f"  {m}" for m in part["meta"]],
              f"  reference: ours at tol={ref['tol']:g} ({ref['time']:.1f} s), lam_ index "
              f"{ref['best_index']}, {ref['nnz']} nonzero coefficients there; log-loss error: "
              "max over lams and folds of |held-out log-loss - the reference's|"]
    mine = {}  # tol: (time, lam_ index, log-loss error)
    for entry in sorted(part["ours"].values(), key=lambda e: e["tol"]):
        tol = entry["tol"]
        mine[tol] = (min(entry["times"]), entry["best_index"],
                     np.max(np.abs(np.asarray(entry["log_loss_path"]) - ref_path)))
        lines.append(f"  ours tol={tol:<6g} {mine[tol][0]:8.2f} s (best of "
                     f"{len(entry['times'])}), lam_ index {mine[tol][1]:2d}, log-loss error "
                     f"{mine[tol][2]:.1e}")
    default = mine.get(1e-6)
    lines.append("  ratio: ours at tol=1e-6 / peer; at equal accuracy: the fastest of ours "
                 "whose log-loss error is at most the peer's / peer")
    rows = [(solver, r) for solver in PEERS for r in part["peers"].get(solver, [])]
    for solver, r in rows:
        error = np.max(np.abs(np.asarray(r["log_loss_path"]) - ref_path))
        matched = [(t, ot) for ot, (t, _, e) in mine.items() if e <= error]
        equal = (f"equal accuracy {min(matched)[0] / r['time']:5.2f} (ours tol="
                 f"{min(matched)[1]:g})" if matched
                 else "equal accuracy: none of ours is as coarse")
        ratio = f"{default[0] / r['time']:5.2f}" if default else "  -  "
        same = f"same lam: {r['C_index'] == default[1]}" if default else ""
        lines.append(f"  {solver:9s} tol={r['tol']:<6g} {r['time']:8.2f} s  C_ index "
                     f"{r['C_index']:2d}, log-loss error {error:.1e} | ratio {ratio}, "
                     f"{equal}  {same}")
    for solver, skipped in part["skipped"].items():
        if skipped["tols"]:
            run = min(r["tol"] for r in part["peers"][solver])
            lines.append(f"  {solver:9s} tol={', '.join(f'{t:g}' for t in skipped['tols'])}: "
                         f"not run (tol={run:g} took over {skipped['cap']:g} s)")
    for stop in part.get("stopped", []):
        lines.append(f"  {stop['solver']:9s} tol={stop['tol']:g}: stopped before the fit "
                     "finished (its run was ended)")
    if rows and "floor" in ref:  # (a run stopped after the reference has no floor)
        fastest = min(r["time"] for _, r in rows)
        lines.append(f"  floor of a factorising Newton path: one Gram matrix and Cholesky "
                     f"factor per lam and part on the reference supports, {ref['floor']:.2f} "
                     f"s = {ref['floor'] / fastest:.2f}x the fastest peer row")


def run_line(args) -> str:
    """The command line of a run, its machine and load, and the versions."""
    import sklearn

    return (f"part: {' '.join(sys.argv[1:])} | {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}, numpy "
            f"{np.__version__}, scikit-learn {sklearn.__version__}")


def problems(args) -> dict:
    """name -> (title, factory of X, y) of the chosen problems (the sparse ones without the
    rows that would make the training parts differ in size: :func:`whole_folds`)."""
    n, d = (500, 1000) if args.quick else (2000, 5000)
    sparse = (1000, 3000, 0.005) if args.quick else args.sparse
    text = (2000, 5000, 0.01) if args.quick else (20000, 50000, 1e-3)
    table = {"dense": ("make_classification(n_informative=50)", lambda: make_classification(
                 n, d, n_informative=50, random_state=0)),
             "sparse": ("text-like sparse CSR", lambda: whole_folds(*text_like(
                 int(sparse[0]), int(sparse[1]), sparse[2]))),
             "text": ("text: logistic_speed.make_text, the issue's shape",
                      lambda: whole_folds(*make_text(*text)))}
    return {key: table[key] for key in args.problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller problems (500 x 1000 dense, 1000 x 3000 sparse, "
                        "2000 x 5000 text at 1 %%)")
    parser.add_argument("--problems", nargs="+", default=["dense", "sparse", "text"],
                        choices=["dense", "sparse", "text"])
    parser.add_argument("--solvers", nargs="+", default=["ref", "ours", *PEERS],
                        choices=["ref", "ours", *PEERS],
                        help="the runs of this process (default: all)")
    parser.add_argument("--tols", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4],
                        help="tolerances of the peers, loosest first")
    parser.add_argument("--ref-tol", type=float, default=1e-10,
                        help="tolerance of the reference run of ours")
    parser.add_argument("--our-tols", type=float, nargs="+", default=[1e-6, 1e-4, 1e-3, 1e-2],
                        help="tolerances of ours (the ratio column needs 1e-6)")
    parser.add_argument("--cap", type=float, default=300.0,
                        help="seconds after which a peer's tighter tols are not run")
    parser.add_argument("--sparse", type=float, nargs=3, default=[1000, 5000, 0.005],
                        metavar=("N", "D", "DENSITY"), help="size of the small sparse problem")
    add_clock_argument(parser)
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="write the report of these runs' .json parts instead of running")
    parser.add_argument("--out", default=None,
                        help="write the report to this file and the measurements next to it "
                        "(.json)")
    args = parser.parse_args()
    lines = ["IRLSClassifierCV against LogisticRegressionCV(l1_ratios=(1,)); n_jobs=1, BLAS on "
             "one thread"]
    if args.combine:
        loaded = [p for f in args.combine for p in json.loads(Path(f).read_text())]
        for name in dict.fromkeys(p["problem"] for p in loaded):
            report(merge([p for p in loaded if p["problem"] == name]), lines)
        write_report(lines, args.out)
        return
    clock = list(CLOCKS).index(args.clock)  # its place in the times ``timed`` returns
    done: list[dict] = []

    def write(part):
        if args.out:
            Path(args.out).with_suffix(".json").write_text(
                json.dumps(done + [part], indent=1))

    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        for title, factory in problems(args).values():
            X, y = factory()
            print(f"{title}: {X.shape[0]} x {X.shape[1]}", flush=True)
            done.append(measure(title, X, y, args, clock, write))
    with_ref = [part for part in done if "ref" in part]
    for part in with_ref:
        report(part, lines)
    if with_ref:
        write_report(lines, args.out)
    else:  # a part without the reference: its report comes from --combine
        print(f"measurements in {Path(args.out).with_suffix('.json') if args.out else '-'}; "
              "--combine them with a part that holds the reference (--solvers ref)")


if __name__ == "__main__":
    main()
