"""Time of IRLSRegressor against scikit-learn, celer and skglm at the same objective.

Every solver minimises eq. (1) with the loss (3) and an intercept,
``F(w, b) = ||y - X w - b||^2 / (2n) + lam * Omega(w)``, on the same data and lam; F is
evaluated by this script for every solution (one formula for all). ``F_best`` is the lowest
F any solver reaches at its tightest tol; each solver is then timed at the loosest tol of
``TOLS`` whose solution satisfies ``F <= F_best (1 + 1e-6)`` (best of ``--repeat`` runs), so
all times are for the same objective. MCP is not convex: a solver that stops at another
stationary point is reported with its gap instead.

Problems (make_regression, 50 informative features, noise=1, random_state=0;
lam = lam_max / 20 with lam_max = ||X_c' y_c||_inf / n):

* base: n=1000, d=5000, penalties l1 and mcp (a = gamma = 3);
* wide: n=500, d=100,000, l1, with the peak memory of each fit (tracemalloc, separate run);
* tall: n=100,000, d=500, l1.

BLAS runs on one thread for everybody (threadpoolctl), which makes the numbers
reproducible on a shared machine; skglm's numba functions are compiled on a small problem
first (its first-call compile time is printed separately). OPENBLAS_CORETYPE, if set in the
environment, is left as it is. Usage:
``python benchmarks/linear_speed.py [--quick | --table] [--repeat R] [--clock cpu] [--out FILE]``;
``--table`` runs issue 21's table instead (iid 1000 x 5000 and Toeplitz rho = 0.8
500 x 5000, lam_max/20 and lam_max/100; l1, mcp(3), logsum(1) and scad(3.7), the last two
against skglm's GeneralizedLinearEstimator with AndersonCD). ``--clock cpu`` times the CPU
time of this process instead of the elapsed time (every solver runs on this one thread, so
on a machine shared with other processes it counts the work done, not the waiting); the
repeats of the solvers of a row group then alternate, so that a change in the machine's load
hits all of them.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from _clock import CLOCKS, add_clock_argument
from skdropout.linear import IRLSRegressor
from skdropout.penalties import get_penalty

TOLS = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-14]
REL = 1e-6
#: ``--clock``: elapsed time, or the CPU time of this process
CLOCK = "wall"
A = 3.0
# the penalties of issue 21's table: name -> (our params, skglm penalty factory(lam))
TABLE_PENALTIES = {"l1": {}, "mcp": {"a": A}, "logsum": {"eps": 1.0}, "scad": {"a": 3.7}}


def skglm_glm(penalty: str):
    """factory(lam, tol) of skglm's GeneralizedLinearEstimator with the same penalty."""
    from skglm import GeneralizedLinearEstimator
    from skglm.datafits import Quadratic
    from skglm.penalties import SCAD, LogSumPenalty
    from skglm.solvers import AndersonCD

    def make(lam):
        if penalty == "scad":
            return SCAD(alpha=lam, gamma=TABLE_PENALTIES["scad"]["a"])
        return LogSumPenalty(alpha=lam, eps=TABLE_PENALTIES["logsum"]["eps"])

    return lambda lam, tol: GeneralizedLinearEstimator(
        Quadratic(), make(lam), AndersonCD(tol=tol, fit_intercept=True))


def solvers(penalty: str) -> dict:
    """name -> factory(lam, tol) of a fitted-estimator-like object with coef_, intercept_."""
    import celer
    import skglm
    from sklearn.linear_model import Lasso

    if penalty == "l1":
        return {
            "skdropout IRLS": lambda lam, tol: IRLSRegressor(lam=lam, tol=tol, max_iter=1000),
            "sklearn Lasso": lambda lam, tol: Lasso(alpha=lam, tol=tol, max_iter=100_000),
            "celer Lasso": lambda lam, tol: celer.Lasso(alpha=lam, tol=tol),
            "skglm Lasso": lambda lam, tol: skglm.Lasso(alpha=lam, tol=tol),
        }
    ours = {"skdropout IRLS": lambda lam, tol: IRLSRegressor(
        penalty=penalty, penalty_params=TABLE_PENALTIES[penalty], lam=lam, tol=tol,
        max_iter=1000)}
    if penalty == "mcp":
        return {**ours, "skglm MCPRegression": lambda lam, tol: skglm.MCPRegression(
            alpha=lam, gamma=A, tol=tol)}
    return {**ours, f"skglm {penalty}": skglm_glm(penalty)}


def objective(X, y, est, pen, lam) -> float:
    r = y - X @ est.coef_ - est.intercept_
    return 0.5 * float(r @ r) / len(y) + lam * pen.value(est.coef_)


def fit(factory, X, y, lam, tol):
    est = factory(lam, tol)
    clock = CLOCKS[CLOCK]
    start = clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, clock() - start


def peak_memory(factory, X, y, lam, tol) -> float:
    """Peak traced allocation (MiB) during one fit, beyond what existed before."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fit(factory, X, y, lam, tol)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def run_problem(name, n, d, penalty, repeat, memory, rows, tols, data=None, divisor=20):
    """Time every solver at lam = lam_max / divisor (lam_max of the lasso)."""
    if data is None:
        data = make_regression(n_samples=n, n_features=d, n_informative=50, noise=1.0,
                               random_state=0)
    X, y = data
    lam = np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / n / divisor
    pen = get_penalty(penalty, **TABLE_PENALTIES[penalty])
    pen = pen.with_lam(lam) if pen.uses_lam else pen
    facs = solvers(penalty)
    tight = {k: objective(X, y, fit(f, X, y, lam, tols[-1])[0], pen, lam)
             for k, f in facs.items()}
    f_best = min(tight.values())
    chosen = {}  # solver -> the loosest tol that reaches F_best, None if none does
    for solver, factory in facs.items():
        chosen[solver] = next((tol for tol in tols if objective(
            X, y, fit(factory, X, y, lam, tol)[0], pen, lam) <= f_best * (1 + REL)), None)
    times = {solver: [] for solver in facs}
    for _ in range(repeat):  # the solvers in turn: a change of the machine's load hits all
        for solver, factory in facs.items():
            tol = chosen[solver] if chosen[solver] is not None else tols[-1]
            times[solver].append(fit(factory, X, y, lam, tol)[1])
    for solver, factory in facs.items():
        tol = chosen[solver] if chosen[solver] is not None else tols[-1]
        est = fit(factory, X, y, lam, tol)[0]
        obj = objective(X, y, est, pen, lam)
        mem = peak_memory(factory, X, y, lam, tol) if memory else float("nan")
        rows.append(dict(problem=f"{name} {n}x{d} /{divisor}", penalty=penalty, solver=solver,
                         tol=tol, reached=chosen[solver] is not None, time=min(times[solver]),
                         rel_gap=(obj - f_best) / abs(f_best),
                         nnz=int(np.count_nonzero(est.coef_)), mem=mem))
        print(fmt_row(rows[-1]), flush=True)


def fmt_row(r) -> str:
    mem = "" if np.isnan(r["mem"]) else f"{r['mem']:9.0f}"
    flag = "" if r["reached"] else "  (did not reach F_best within 1e-6)"
    return (f"{r['problem']:<24}{r['penalty']:<7}{r['solver']:<22}{r['tol']:>8.0e}"
            f"{r['time']:>10.3f}{r.get('ratio', float('nan')):>8.2f}{r['rel_gap']:>11.1e}"
            f"{r['nnz']:>6}{mem:>10}{flag}")


HEADER = (f"{'problem':<24}{'pen':<7}{'solver':<22}{'tol':>8}{'time[s]':>10}{'ratio':>8}"
          f"{'F/F_best-1':>11}{'nnz':>6}{'peak MiB':>10}")


def run_default(quick: bool, repeat: int, rows: list) -> None:
    run_problem("base", 1000, 5000, "l1", repeat, False, rows, TOLS)
    run_problem("base", 1000, 5000, "mcp", repeat, False, rows, TOLS)
    if not quick:
        few = [1e-3, 1e-4, 1e-6, 1e-8, 1e-10]
        run_problem("wide", 500, 100_000, "l1", repeat, True, rows, few)
        run_problem("tall", 100_000, 500, "l1", repeat, False, rows, few)


def run_table(repeat: int, rows: list) -> None:
    """Issue 21's table: the Toeplitz design is dropout_duality.py's (standardised AR(1)
    columns, corr 0.8^|i-j|, 50 true weights N(0, 10^2), noise 1)."""
    from dropout_duality import make_problem

    few = [1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10]
    problems = [("iid", 1000, 5000, None), ("toeplitz", 500, 5000,
                                            make_problem(500, 5000, 50, "toeplitz"))]
    for name, n, d, data in problems:
        for divisor in (20, 100):
            for penalty in TABLE_PENALTIES:
                run_problem(name, n, d, penalty, repeat, False, rows, few, data, divisor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="base problem only")
    parser.add_argument("--table", action="store_true",
                        help="issue 21's table instead: iid 1000x5000 and Toeplitz(0.8) "
                             "500x5000, lam_max/20 and /100, l1, mcp, logsum, scad")
    parser.add_argument("--repeat", type=int, default=3)
    add_clock_argument(parser)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "linear_speed.txt"))
    args = parser.parse_args()
    global CLOCK
    CLOCK = args.clock

    import skglm
    start = time.perf_counter()
    Xs, ys = make_regression(50, 20, random_state=0)
    skglm.Lasso(alpha=0.1).fit(Xs, ys)
    skglm.MCPRegression(alpha=0.1).fit(Xs, ys)
    if args.table:
        for penalty in ("logsum", "scad"):
            skglm_glm(penalty)(0.1, 1e-4).fit(Xs, ys)
    jit = time.perf_counter() - start

    rows: list[dict] = []
    print(HEADER)
    with threadpool_limits(1):
        if args.table:
            run_table(args.repeat, rows)
        else:
            run_default(args.quick, args.repeat, rows)
    clock = "wall time" if args.clock == "wall" else "CPU time of the process (--clock cpu)"
    report(f"benchmarks/linear_speed.py: {clock} at the same objective (F <= F_best (1 + 1e-6)), "
           f"best of {args.repeat}, the solvers alternating",
           rows, f"skglm numba compile on first call: {jit:.1f} s (excluded)", HEADER, fmt_row,
           args.out)


def report(title: str, rows: list[dict], jit_note: str, header: str, fmt, out: str) -> None:
    """Set each row's ratio (its time over the fastest peer's, not ours, that reached F_best
    on the same problem and penalty), print the table with the machine and versions, and
    write it to ``out``."""
    import celer
    import skglm
    import sklearn

    for r in rows:
        peers = [q["time"] for q in rows if q["problem"] == r["problem"]
                 and q["penalty"] == r["penalty"] and not q["solver"].startswith("skdropout")
                 and q["reached"]]
        r["ratio"] = r["time"] / min(peers) if peers else float("nan")
    lines = [
        f"# {title}",
        f"# {platform.platform()}, {platform.processor() or platform.machine()}, BLAS threads=1, "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(a shared machine: compare ratios within one run, not absolute times)",
        f"# numpy {np.__version__}, scikit-learn {sklearn.__version__}, celer {celer.__version__}, "
        f"skglm {skglm.__version__}; {jit_note}",
        "# ratio = time / time of the fastest peer that reached F_best on the same row group",
        header, *[fmt(r) for r in rows]]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)

if __name__ == "__main__":
    main()
