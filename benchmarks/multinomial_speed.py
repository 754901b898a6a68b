"""Multinomial IRLSClassifier on text-shaped sparse data with many classes, against saga.

Every solver minimises the multinomial F of ``skdropout.linear._logistic`` with an
unpenalised intercept per class,

    F(W, b) = 1/n sum_i [log sum_k e^{m_ik} - m_iy_i] + lam sum_k Omega(W[:, k]),

``M = X W + b``, evaluated by skdropout's own ``objective`` for every solution. Peers:

* l1: scikit-learn ``LogisticRegression(l1_ratio=1, C=1/(n lam), solver="saga")``, which
  fits the multinomial loss for K > 2 (the same F);
* mcp (a = 3): no peer. skglm 0.5 has no multinomial datafit (its
  ``SparseLogisticRegression`` and ``GeneralizedLinearEstimator(Logistic(), ...)`` fit K > 2
  classes one-vs-rest, another objective), nor has celer; the row reports ours only.

Each row also runs ours with the multinomial Newton polish forced to form its dense
``(sum_k |S_k|)^2`` Hessian (``dense polish``: what every size did before the matrix-free
polish; the w-steps keep their own size rule), to show the wall.

Problem: CSR ``n x d`` at ``density`` shaped like tf-idf (word frequencies ~ rank^-0.8,
exponential term weights, rows of unit norm, as ``make_text`` of logistic_speed.py), K
classes drawn from ``softmax(X W)``, each class's W with 100 of the 5000 most frequent
words at N(0, 4^2); lam = lam_max / divisor, ``lam_max = ||X'(Y - Ybar)||_inf / n``.

Ours runs at the tols of ``--our-tols``, saga at ``--saga-tols`` (``max_iter`` 200 epochs).
At equal objective: ``F* = max(F_ours, F_saga)`` of their lowest F, each timed at its
loosest tol with ``F <= F* (1 + 1e-6)``; the ratio is our time over saga's. Every fit runs
in a forked child on one BLAS thread, killed after ``--cap`` seconds of wall time; its
peak memory is tracemalloc's peak of the fit (numpy and scipy arrays allocated in it).
Times are the child's CPU time with ``--clock cpu`` (a shared machine), else wall.
Usage: ``python benchmarks/multinomial_speed.py [--classes 5 10 20] [--penalties l1 mcp]
[--divisors 100 300] [--n N] [--d D] [--density P] [--cap S] [--clock cpu] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from _clock import CLOCKS, add_clock_argument
from logistic_speed import make_text

from skdropout.linear import IRLSClassifier, _logistic
from skdropout.linear._logistic import LogisticProblem, objective
from skdropout.penalties import resolve_penalty

REL = 1e-6
PARAMS = {"l1": None, "mcp": {"a": 3.0}}
clock = CLOCKS["wall"]


def make_text_classes(n: int, d: int, n_classes: int, density: float = 1e-3, k: int = 100,
                      seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """The text-shaped CSR design of ``make_text`` (logistic_speed.py) and K classes drawn
    from the multinomial model on its frequent words."""
    X, _ = make_text(n, d, density, k, seed)
    words = np.random.default_rng(seed).permutation(d)  # make_text's word of each rank
    rng = np.random.default_rng(seed + 1)
    W = np.zeros((d, n_classes))
    for c in range(n_classes):
        W[rng.choice(words[:5000], k, replace=False), c] = 4.0 * rng.standard_normal(k)
    M = np.asarray(X @ W)
    return X, np.argmax(M + rng.gumbel(size=M.shape), axis=1)  # softmax sampling


def _dense_polish(problem, M, support, solver):
    return _logistic._hessian(problem, M, support)


def _fit(kind: str, penalty: str, lam: float, tol: float, X, y, conn) -> None:
    """Child process: one fit; sends (time, peak bytes, F, nonzeros, converged)."""
    if kind == "dense polish":
        _logistic._loss_hessian = _dense_polish
    n = X.shape[0]
    if kind == "saga":
        from sklearn.linear_model import LogisticRegression
        est = LogisticRegression(l1_ratio=1.0, C=1.0 / (n * lam), solver="saga", tol=tol,
                                 max_iter=200)
    else:
        est = IRLSClassifier(penalty=penalty, penalty_params=PARAMS[penalty], lam=lam,
                             tol=tol)
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracemalloc.start()
        t = clock()
        est.fit(X, y)
        t = clock() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    K = est.coef_.shape[0]
    problem = LogisticProblem(X, np.eye(K)[np.searchsorted(est.classes_, y)], np.ones(n),
                              float(n), True)
    # the penalty the estimator minimises (mcp's shape depends on lam)
    F = objective(problem, resolve_penalty(penalty, PARAMS[penalty], lam), lam,
                  est.coef_.T, est.intercept_)
    conn.send((t, peak, F, int(np.count_nonzero(est.coef_)), not caught))


def run(kind: str, penalty: str, lam: float, tol: float, X, y, cap: float):
    """One fit in a forked child, killed after ``cap`` s; None when it was killed."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_fit, args=(kind, penalty, lam, tol, X, y, child))
    proc.start()
    out = parent.recv() if parent.poll(cap) else None
    proc.kill()
    proc.join()
    return out


def ladder(kind: str, penalty: str, lam: float, tols: list[float], X, y, cap: float,
           log) -> list[tuple[float, tuple]]:
    """Fits at the tols from the loosest until F stops falling or a fit is killed."""
    runs = []
    for tol in tols:
        out = run(kind, penalty, lam, tol, X, y, cap)
        log(f"  {kind:13s} tol={tol:.0e}: " + (
            f"{out[0]:8.2f} s  peak {out[1] / 2**20:8.1f} MiB  F={out[2]:.10f}  "
            f"nnz={out[3]}{'' if out[4] else '  (warned)'}" if out else f"killed at {cap} s"))
        if out is None:
            break
        if runs and out[2] >= runs[-1][1][2] * (1 - 1e-12):
            runs.append((tol, out))
            break
        runs.append((tol, out))
    return runs


def at(runs, F_star):
    """The loosest run whose F is within REL of F_star (None: none is)."""
    return next((out for _, out in runs if out[2] <= F_star * (1 + REL)), None)


def main(argv: list[str] | None = None) -> None:
    global clock
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--penalties", nargs="+", default=["l1", "mcp"], choices=list(PARAMS))
    parser.add_argument("--divisors", type=float, nargs="+", default=[100.0, 300.0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--d", type=int, default=20000)
    parser.add_argument("--density", type=float, default=1e-3)
    parser.add_argument("--our-tols", type=float, nargs="+", default=[1e-4, 1e-6, 1e-8])
    parser.add_argument("--saga-tols", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4])
    parser.add_argument("--dense-tol", type=float, default=1e-4,
                        help="tol of the dense-polish fit (0: not run)")
    parser.add_argument("--cap", type=float, default=120.0)
    parser.add_argument("--out", type=Path)
    add_clock_argument(parser)
    args = parser.parse_args(argv)
    clock = CLOCKS[args.clock]
    lines = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    log(f"# {' '.join(['python', *sys.argv])}")
    log(f"# python {platform.python_version()}, numpy {np.__version__}, clock {args.clock}, "
        f"one BLAS thread, cap {args.cap} s; peak = tracemalloc peak of the fit")
    table = []
    for K in args.classes:
        X, y = make_text_classes(args.n, args.d, K, args.density)
        Y = np.eye(K)[y]
        lam_max = float(np.max(np.abs(X.T @ (Y - Y.mean(axis=0))))) / args.n
        for penalty in args.penalties:
            for div in args.divisors:
                lam = lam_max / div
                log(f"K={K} {penalty} lam_max/{div:g} (lam={lam:.4g}), X {args.n} x {args.d} "
                    f"CSR, {X.nnz} nonzeros")
                ours = ladder("ours", penalty, lam, args.our_tols, X, y, args.cap, log)
                saga = (ladder("saga", penalty, lam, args.saga_tols, X, y, args.cap, log)
                        if penalty == "l1" else [])
                dense = (ladder("dense polish", penalty, lam, [args.dense_tol], X, y,
                                args.cap, log) if args.dense_tol else [])
                table.append((K, penalty, div, ours, saga, dense))
    log("")
    log(f"{'K':>3} {'penalty':7} {'lam':>10} {'F*':>14} {'nnz':>6} {'ours s':>8} "
        f"{'MiB':>7} {'saga s':>8} {'ratio':>6} {'dense polish':>22}")
    for K, penalty, div, ours, saga, dense in table:
        F_star = max(min((o[2] for _, o in runs), default=0.0) for runs in (ours, saga)
                     if runs) if ours else float("nan")
        mine, peer = at(ours, F_star), at(saga, F_star)
        dense_txt = (f"{dense[0][1][0]:.2f} s {dense[0][1][1] / 2**20:.0f} MiB" if dense
                     else f"killed at {args.cap:g} s" if args.dense_tol else "-")
        saga_txt = f"{peer[0]:8.2f}" if peer else (f"{'-':>8}" if not saga else
                                                   f"{'>' + format(saga[-1][1][0], '.1f'):>8}")
        ratio = f"{mine[0] / peer[0]:6.2f}" if (mine and peer) else f"{'-':>6}"
        log(f"{K:3d} {penalty:7} {'/' + format(div, 'g'):>10} {F_star:14.10f} "
            f"{mine[3] if mine else 0:6d} {mine[0] if mine else float('nan'):8.2f} "
            f"{mine[1] / 2**20 if mine else float('nan'):7.1f} {saga_txt} {ratio} "
            f"{dense_txt:>22}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
