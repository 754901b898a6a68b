"""Wall time of IRLSClassifier against scikit-learn, celer and skglm at the same objective.

Every solver minimises eq. (1) with the logistic loss and an unpenalised intercept,
``F(w, b) = 1/n sum_i [log(1 + e^{m_i}) - y_i m_i] + lam * Omega(w)``, ``m = X w + b``,
on the same data and lam; F is evaluated by skdropout's own objective
(``skdropout.linear._logistic.objective``) for every solution, whatever the solver.
Peers and their parameters for this F:

* l1: scikit-learn ``LogisticRegression(l1_ratio=1, C=1/(n lam), solver="saga")`` (on the
  sparse problem only: on classif 2000 x 5000 one saga fit took 84 s at 1000 epochs for l1
  and 128 s for elastic net, under load, without reaching F_best), skglm
  ``SparseLogisticRegression(alpha=lam)``;
* l1-noint, the same F without intercept (b = 0), for the peers that cannot fit it
  unpenalised: celer ``LogisticRegression(C=1/(n lam))`` (no intercept) and liblinear
  (which penalises one), with skglm and ours at ``fit_intercept=False``;
* elasticnet (``Omega = theta/2 w^2 + (1 - theta)|w|``, theta = 0.5): saga (sparse only) with
  ``l1_ratio = 1 - theta`` and skglm ``SparseLogisticRegression(alpha=lam, l1_ratio=1 - theta)``;
* mcp (a = 3), scad (a = 3.7), logsum (eps = 1): skglm ``GeneralizedLinearEstimator(Logistic(),
  MCPenalty(lam, 3) | SCAD(lam, 3.7) | LogSumPenalty(lam, 1), ProxNewton(fit_intercept=True))``
  (its penalties equal ``lam * Omega`` of ours, checked at the start of every run).

Each solver runs at the tols of ``TOLS`` from the loosest until its F stops falling (or a
fit takes more than ``--cap`` seconds: the row says ``capped``, or reaches its iteration
limit: 200 epochs for saga, 1000 iterations for liblinear); ``F_best`` is the lowest F of
all, and each solver is timed at the loosest tol whose solution satisfies
``F <= F_best (1 + 1e-6)`` (best of ``--repeat`` runs; one run when a fit takes more than
2 s), so all times are for the same objective. mcp, scad and logsum are not convex: a solver
that stops at another stationary point is reported with its gap instead.

Problems (binary; lam = lam_max / divisor, ``lam_max = ||X'(y - ybar)||_inf / n``):

* classif: ``make_classification(2000, 5000, n_informative=50, random_state=0)``;
* toeplitz: 1000 x 5000, columns AR(1) with corr 0.8^|i-j|, standardised, 50 true weights
  N(0, 1) scaled to a margin of standard deviation 3, labels drawn from the logistic model;
* text: CSR 20000 x 50000 at 0.1 % density shaped like tf-idf (word frequencies ~ rank^-0.8,
  exponential term weights, rows of unit norm), labels from 100 of the 5000 most frequent
  words with N(0, 4^2) weights.

BLAS runs on one thread for everybody (threadpoolctl); skglm's numba functions are compiled
on a small problem first (the compile time is printed, excluded). ``--clock cpu`` times each
fit by this process's CPU time instead of the wall clock (every solver runs on one thread,
so on a loaded machine it counts the fit's own work). Usage:
``python benchmarks/logistic_speed.py [--problems classif toeplitz text] [--penalties ...]
[--repeat R] [--cap S] [--clock wall|cpu] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from _clock import CLOCKS, add_clock_argument
from linear_speed import report

from skdropout.linear import IRLSClassifier
from skdropout.linear._logistic import LogisticProblem, objective
from skdropout.penalties import get_penalty

TOLS = [1e-2, 1e-4, 1e-6, 1e-8, 1e-10]
# the clock of every fit: wall time, or (--clock cpu) this process's CPU time, which other
# processes on a shared machine disturb less (every solver runs on one thread)
clock = CLOCKS["wall"]
REL = 1e-6
PARAMS = {"l1": {}, "l1-noint": {}, "elasticnet": {"theta": 0.5}, "mcp": {"a": 3.0}, "scad": {"a": 3.7},
          "logsum": {"eps": 1.0}}
DIVISORS = {"classif": (20, 100), "toeplitz": (20, 100), "text": (20, 50)}


def make_toeplitz(n: int = 1000, d: int = 5000, k: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    X = np.empty((n, d))
    X[:, 0] = Z[:, 0]
    for j in range(1, d):  # corr(x_i, x_j) = 0.8^|i-j|
        X[:, j] = 0.8 * X[:, j - 1] + 0.6 * Z[:, j]
    X = (X - X.mean(0)) / X.std(0)
    w = np.zeros(d)
    w[rng.choice(d, k, replace=False)] = rng.standard_normal(k)
    m = X @ w
    m *= 3.0 / m.std()
    return X, (rng.random(n) < 1.0 / (1.0 + np.exp(-m))).astype(int)


def make_text(n: int = 20000, d: int = 50000, density: float = 1e-3, k: int = 100,
              seed: int = 0):
    rng = np.random.default_rng(seed)
    nnz = int(n * d * density)
    freq = 1.0 / np.arange(1, d + 1) ** 0.8
    freq /= freq.sum()
    words = rng.permutation(d)  # the word of each frequency rank
    X = sp.csr_matrix((rng.exponential(1.0, nnz),
                       (rng.integers(0, n, nnz), words[rng.choice(d, nnz, p=freq)])),
                      shape=(n, d))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = (sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X).tocsr()
    w = np.zeros(d)
    w[rng.choice(words[:5000], k, replace=False)] = 4.0 * rng.standard_normal(k)
    m = np.asarray(X @ w).ravel()
    return X, (rng.random(n) < 1.0 / (1.0 + np.exp(-(m - m.mean())))).astype(int)


def problems() -> dict:
    return {"classif": lambda: make_classification(2000, 5000, n_informative=50,
                                                    random_state=0),
            "toeplitz": make_toeplitz, "text": make_text}


def skglm_penalty(penalty: str, lam: float):
    from skglm.penalties import SCAD, LogSumPenalty, MCPenalty

    p = PARAMS[penalty]
    return {"mcp": lambda: MCPenalty(lam, p["a"]), "scad": lambda: SCAD(lam, p["a"]),
            "logsum": lambda: LogSumPenalty(lam, p["eps"])}[penalty]()


def solvers(penalty: str, n: int, sparse: bool) -> dict:
    """name -> factory(lam, tol) of an unfitted estimator with coef_, intercept_ (saga only
    for sparse X: see the module docstring)."""
    import celer
    from skglm import GeneralizedLinearEstimator, SparseLogisticRegression
    from skglm.datafits import Logistic
    from skglm.solvers import ProxNewton
    from sklearn.linear_model import LogisticRegression

    ours = {"skdropout IRLS": lambda lam, tol: IRLSClassifier(
        penalty=base(penalty), penalty_params=PARAMS[penalty] or None, lam=lam, tol=tol,
        max_iter=1000, fit_intercept=penalty != "l1-noint")}
    saga = {}
    if sparse and penalty in ("l1", "elasticnet"):
        ratio = 1.0 - PARAMS[penalty].get("theta", 0.0)
        saga = {"sklearn saga": lambda lam, tol: LogisticRegression(
            l1_ratio=ratio, C=1 / (n * lam), solver="saga", tol=tol, max_iter=200)}
    if penalty == "l1":
        return {**ours, **saga,
                "skglm SparseLogReg": lambda lam, tol: SparseLogisticRegression(
                    alpha=lam, tol=tol, max_iter=100)}
    if penalty == "l1-noint":  # liblinear penalises an intercept, celer fits none
        return {**ours,
                "sklearn liblinear": lambda lam, tol: LogisticRegression(
                    l1_ratio=1.0, C=1 / (n * lam), solver="liblinear", tol=tol,
                    max_iter=1000, fit_intercept=False),
                "celer": lambda lam, tol: celer.LogisticRegression(C=1 / (n * lam), tol=tol),
                "skglm SparseLogReg": lambda lam, tol: SparseLogisticRegression(
                    alpha=lam, tol=tol, max_iter=100, fit_intercept=False)}
    if penalty == "elasticnet":
        ratio = 1.0 - PARAMS["elasticnet"]["theta"]
        return {**ours, **saga,
                "skglm SparseLogReg": lambda lam, tol: SparseLogisticRegression(
                    alpha=lam, l1_ratio=ratio, tol=tol, max_iter=100)}
    return {**ours, f"skglm GLM {penalty}": lambda lam, tol: GeneralizedLinearEstimator(
        Logistic(), skglm_penalty(penalty, lam), ProxNewton(tol=tol, fit_intercept=True))}


def base(penalty: str) -> str:
    """The penalty of a row group ("l1-noint": l1 without intercept)."""
    return "l1" if penalty == "l1-noint" else penalty


def our_penalty(penalty: str, lam: float):
    pen = get_penalty(base(penalty), **PARAMS[penalty])
    return pen.with_lam(lam) if pen.uses_lam else pen


def objective_of(X, y, est, penalty: str, lam: float) -> float:
    """F of a fitted binary estimator (y in {0, 1}; the margin favours ``classes_[1]``)."""
    n = X.shape[0]
    y01 = (np.asarray(y) == est.classes_[1]).astype(float)
    problem = LogisticProblem(X, y01[:, None], np.ones(n), float(n), True)
    W = np.asarray(est.coef_, dtype=float).reshape(1, -1).T
    b = np.atleast_1d(np.asarray(getattr(est, "intercept_", 0.0), dtype=float))
    return objective(problem, our_penalty(penalty, lam), lam, W, b)


def fit(factory, X, y, lam, tol):
    est = factory(lam, tol)
    start = clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return est, clock() - start


def sweep(factory, X, y, lam, penalty, cap) -> list[tuple]:
    """(tol, seconds, F, nnz) for the tols of ``TOLS`` from the loosest, until F stops
    falling (by 1e-10 relative), a fit takes more than ``cap`` seconds or reaches its
    iteration limit."""
    out = []
    for tol in TOLS:
        est, t = fit(factory, X, y, lam, tol)
        F = objective_of(X, y, est, penalty, lam)
        out.append((tol, t, F, int(np.count_nonzero(est.coef_))))
        limit = np.max(getattr(est, "n_iter_", 0)) >= getattr(est, "max_iter", np.inf)
        if (t > cap or limit
                or (len(out) > 1 and out[-2][2] - F <= 1e-10 * abs(F))):
            break
    return out


def run_group(name, X, y, divisor, penalty, repeat, cap, rows):
    """One row per solver: every solver sweeps its tols, ``F_best`` is the lowest F of all,
    and each is timed at its loosest tol within ``REL`` of ``F_best``."""
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / divisor
    facs = solvers(penalty, n, sp.issparse(X))
    sweeps = {k: sweep(f, X, y, lam, penalty, cap) for k, f in facs.items()}
    f_best = min(F for s in sweeps.values() for _, _, F, _ in s)
    for solver, factory in facs.items():
        ok = [e for e in sweeps[solver] if e[2] <= f_best * (1 + REL)]
        tol, t, F, nnz = ok[0] if ok else sweeps[solver][-1]
        more = repeat - 1 if t < 2 else 0
        times = [t] + [fit(factory, X, y, lam, tol)[1] for _ in range(more)]
        rows.append(dict(problem=f"{name} /{divisor:g}", penalty=penalty, solver=solver,
                         tol=tol, reached=bool(ok), capped=not ok and t > cap,
                         time=min(times), rel_gap=(F - f_best) / abs(f_best), nnz=nnz))
        print(fmt_row(rows[-1]), flush=True)


def fmt_row(r) -> str:
    flag = "" if r["reached"] else ("  (capped)" if r["capped"] else
                                    "  (did not reach F_best within 1e-6)")
    return (f"{r['problem']:<14}{r['penalty']:<11}{r['solver']:<20}{r['tol']:>8.0e}"
            f"{r['time']:>9.3f}{r.get('ratio', float('nan')):>7.2f}{r['rel_gap']:>11.1e}"
            f"{r['nnz']:>7}{flag}")


HEADER = (f"{'problem':<14}{'pen':<11}{'solver':<20}{'tol':>8}{'time[s]':>9}{'ratio':>7}"
          f"{'F/F_best-1':>11}{'nnz':>7}")


def warm_up(penalties: list[str], formats: set[str]) -> float:
    """Compile skglm's numba functions for these penalties and X formats ("dense",
    "sparse") on a small problem; returns the seconds it took."""
    start = time.perf_counter()
    Xs, ys = make_classification(60, 30, random_state=0)
    inputs = [Xs] * ("dense" in formats) + [sp.csr_matrix(Xs)] * ("sparse" in formats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for Xw in inputs:
            for penalty in penalties:
                for name, factory in solvers(penalty, 60, False).items():
                    if name.startswith("skglm"):
                        factory(0.01, 1e-4).fit(Xw, ys)
    return time.perf_counter() - start


def check_scaling() -> None:
    """skglm's penalties equal lam * Omega of ours (the objective every row compares)."""
    from skglm.penalties import L1_plus_L2

    w = np.random.default_rng(0).standard_normal(40) * 0.3
    w[::3] = 0.0
    lam = 0.05
    pairs = [(penalty, skglm_penalty(penalty, lam)) for penalty in ("mcp", "scad", "logsum")]
    pairs.append(("elasticnet", L1_plus_L2(lam, 1 - PARAMS["elasticnet"]["theta"])))
    for penalty, theirs in pairs:
        ours = lam * our_penalty(penalty, lam).value(w)
        assert np.isclose(ours, theirs.value(w), rtol=1e-12), (penalty, ours, theirs.value(w))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(DIVISORS), choices=list(DIVISORS))
    parser.add_argument("--penalties", nargs="+", default=list(PARAMS), choices=list(PARAMS))
    parser.add_argument("--divisors", nargs="+", type=float, default=None,
                        help="lam_max divisors (default: 20 100; text: 20 50)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cap", type=float, default=30.0,
                        help="seconds after which a solver is not tried at tighter tols")
    add_clock_argument(parser)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "logistic_speed.txt"))
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]

    check_scaling()
    jit = warm_up(args.penalties, {"sparse" if name == "text" else "dense"
                                   for name in args.problems})
    rows: list[dict] = []
    print(HEADER)
    with threadpool_limits(1):
        for name in args.problems:
            X, y = problems()[name]()
            for divisor in args.divisors or DIVISORS[name]:
                for penalty in args.penalties:
                    run_group(name, X, y, divisor, penalty, args.repeat, args.cap, rows)
    report(f"benchmarks/logistic_speed.py: {args.clock} time at the same objective "
           "(F <= F_best (1 + 1e-6))", rows, f"skglm numba compile: {jit:.1f} s (excluded)",
           HEADER, fmt_row, args.out)

if __name__ == "__main__":
    main()
