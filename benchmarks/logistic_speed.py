"""Time of IRLSClassifier against scikit-learn, celer and skglm at the same objective.

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

Each solver runs at the tols of ``TOLS`` from the loosest until its F stops falling, a
fit reaches its iteration limit (200 epochs for saga, 1000 iterations for liblinear) or is
killed: every fit runs in a forked child process that is killed once it has used ``--cap``
seconds (skglm's ProxNewton on the non-convex penalties can run for minutes inside compiled
code at a tight tol). ``F_best`` is the lowest F of all. Ours and each peer are compared at
equal objective, ``F* = max(F_ours, F_peer)`` of their lowest F: each is timed at its
loosest tol whose solution has ``F <= F* (1 + 1e-6)`` (best of ``--repeat`` runs; one run
when a fit takes more than 2 s). Our row's ratio is the largest of these, our time over the
fastest peer's. mcp, scad and logsum are not convex: a peer that stops at another
stationary point above ``F_best`` is compared at its own F, and its row adds that it did not
reach ``F_best`` within the longest it ran, X s (so its ratio at ``F_best`` is below our
time over X); when ours stops above ``F_best``, the comparison is at our F. Where such a
peer stops above our lowest F and our loosest tol that reaches its F overshoots it (a lower
F than needed), its row also gives a CAPPED ratio: our time to its F with ours stopped
early by its Newton-step limit (the smallest ``max_iter`` whose fit at that tol reaches the
peer's F; such a fit warns that it did not converge), over the peer's time. The ratio
column and our row's ratio stay the ones defined above. A row whose point separates the data
with every nonzero coefficient where the penalty is flat (MCP and SCAD beyond ``a lam``) is
marked SEPARATED: F falls without end along that point's ray ``(t w, t b)``, so the problem
has no minimiser there and ``F_best`` is only the lowest point reached on the way
(``skdropout.linear._separation``; IRLSClassifier stops at the first such point and warns).

Problems (binary; lam = lam_max / divisor, ``lam_max = ||X'(y - ybar)||_inf / n``):

* classif: ``make_classification(2000, 5000, n_informative=50, random_state=0)``;
* toeplitz: 1000 x 5000, columns AR(1) with corr 0.8^|i-j|, standardised, 50 true weights
  N(0, 1) scaled to a margin of standard deviation 3, labels drawn from the logistic model;
* text: CSR 20000 x 50000 at 0.1 % density shaped like tf-idf (word frequencies ~ rank^-0.8,
  exponential term weights, rows of unit norm), labels from 100 of the 5000 most frequent
  words with N(0, 4^2) weights.

BLAS runs on one thread for everybody (threadpoolctl); every solver fits a small problem
first, so that skglm's numba functions are compiled before the timed fits (the compile time
is printed, excluded). ``--clock cpu`` times each fit by the CPU time of its process instead
of the wall clock (every solver runs on one thread, so on a loaded machine it counts the
fit's own work). A run writes its table to ``--out`` and its rows next to it (``.json``);
``--combine A.json B.json ... --out FILE`` writes the rows of several runs as one table.
Usage: ``python benchmarks/logistic_speed.py [--problems classif toeplitz text]
[--penalties ...] [--divisors ...] [--repeat R] [--cap S] [--clock wall|cpu] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from _clock import CLOCKS, add_clock_argument

from skdropout.linear import IRLSClassifier
from skdropout.linear._logistic import LogisticProblem, objective
from skdropout.linear._separation import flat_separation
from skdropout.penalties import get_penalty

TOLS = [1e-1, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10]
# the clock of every fit: wall time, or (--clock cpu) this process's CPU time, which other
# processes on a shared machine disturb less (every solver runs on one thread)
clock = CLOCKS["wall"]
REL = 1e-6
_MAX_CAPPED = 20  # the largest Newton-step limit tried for a CAPPED ratio
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

    ours = {"skdropout IRLS": lambda lam, tol, max_iter=1000: IRLSClassifier(
        penalty=base(penalty), penalty_params=PARAMS[penalty] or None, lam=lam, tol=tol,
        max_iter=max_iter, fit_intercept=penalty != "l1-noint")}
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


def judged(X, y, est, penalty: str, lam: float) -> tuple[float, bool]:
    """F of a fitted binary estimator (y in {0, 1}; the margin favours ``classes_[1]``), and
    whether its model separates the data with every nonzero coefficient where the penalty
    is flat (``flat_separation``: F falls without end along its ray (t w, t b), so the
    problem has no minimiser there)."""
    n = X.shape[0]
    y01 = (np.asarray(y) == est.classes_[1]).astype(float)
    problem = LogisticProblem(X, y01[:, None], np.ones(n), float(n), True)
    W = np.asarray(est.coef_, dtype=float).reshape(1, -1).T
    b = np.atleast_1d(np.asarray(getattr(est, "intercept_", 0.0), dtype=float))
    pen = our_penalty(penalty, lam)
    return (objective(problem, pen, lam, W, b),
            flat_separation(problem, pen, W, problem.margins(W, b)))


def _fit_child(send, factory, X, y, lam, penalty, tol) -> None:
    est = factory(lam, tol)
    start = clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    seconds = clock() - start
    limit = np.max(getattr(est, "n_iter_", 0)) >= getattr(est, "max_iter", np.inf)
    F, separated = judged(X, y, est, penalty, lam)
    send.send((seconds, F, int(np.count_nonzero(est.coef_)), bool(limit), separated))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fit(factory, X, y, lam, penalty, tol, cap):
    """One fit in a forked child process, killed once it has used ``cap`` seconds of the
    clock (CPU time of the child, or wall time): a peer's compiled loop cannot be
    interrupted otherwise. Returns (seconds, F, nnz, at its iteration limit, separated where
    the penalty is flat: :func:`judged`), or None when killed; the seconds are the
    fit's own, timed inside the child."""
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_fit_child, args=(send, factory, X, y, lam, penalty, tol))
    start = time.perf_counter()
    child.start()
    send.close()
    while not receive.poll(0.02):
        used = (_cpu_seconds(child.pid) if clock is CLOCKS["cpu"]
                else time.perf_counter() - start)
        if used > cap:
            child.kill()
            child.join()
            return None
        if not child.is_alive() and not receive.poll():
            raise RuntimeError(f"a fit failed (exit code {child.exitcode})")
    out = receive.recv()
    child.join()
    return out


def sweep(factory, X, y, lam, penalty, cap) -> list[dict]:
    """A solver's fits at the tols of ``TOLS`` from the loosest, until F stops falling (by
    1e-10 relative, two tols in a row: a loose tol can return the same point as the next),
    two fits in a row are killed at ``cap`` seconds (a fit can stall at one tol and not at
    the next) or a fit reaches its iteration limit."""
    out: list[dict] = []
    for tol in TOLS:
        res = fit(factory, X, y, lam, penalty, tol, cap)
        if res is None:
            out.append(dict(tol=tol, time=cap, F=np.inf, nnz=-1, killed=True))
            if len(out) > 1 and out[-2]["killed"]:
                break
            continue
        t, F, nnz, limit, separated = res
        out.append(dict(tol=tol, time=t, F=F, nnz=nnz, killed=False, separated=separated))
        flat = [len(out) > i and out[-1 - i]["F"] - out[-i]["F"] <= 1e-10 * abs(F)
                for i in (1, 2)]
        if limit or all(flat):
            break
    return out


def at(fits: list[dict], target: float) -> dict | None:
    """The loosest fit with ``F <= target (1 + REL)``, None if none."""
    return next((e for e in fits if e["F"] <= target * (1 + REL)), None)


def capped(factory, X, y, lam, penalty, tol, target, cap, repeat) -> dict | None:
    """Ours stopped by its Newton-step limit: the fit at ``tol`` with the smallest
    ``max_iter`` (1, 2, ..., ``_MAX_CAPPED``) whose F is at most ``target (1 + REL)``
    (best of ``repeat`` runs under 2 s; every such fit ends with a ConvergenceWarning,
    ignored in the child), or None if none is."""
    for max_iter in range(1, _MAX_CAPPED + 1):
        def stopped(lam, tol, max_iter=max_iter):
            return factory(lam, tol, max_iter=max_iter)

        res = fit(stopped, X, y, lam, penalty, tol, cap)
        if res is None:
            return None
        t, F, nnz, limit, _ = res
        if F <= target * (1 + REL):
            t = min([t] + [fit(stopped, X, y, lam, penalty, tol, cap)[0]
                           for _ in range(repeat - 1 if t < 2 else 0)])
            return dict(max_iter=max_iter, tol=tol, time=t, F=F, nnz=nnz, limit=limit)
        if not limit:  # converged above the target: a larger max_iter returns the same
            return None
    return None


def trivial_objective(X, y, penalty: str) -> float:
    """F at w = 0, with the intercept-only model's b where the row fits an intercept: the
    start of every solver, which a fit that returns it has not moved from."""
    n, d = X.shape
    y01 = (np.asarray(y) == np.unique(y)[1]).astype(float)
    problem = LogisticProblem(X, y01[:, None], np.ones(n), float(n), penalty != "l1-noint")
    b, _ = problem.null_model()
    return problem.loss(problem.margins(np.zeros((d, 1)), b))


def run_group(name, X, y, divisor, penalty, repeat, cap, rows):
    """One row per solver. Every solver sweeps its tols; ``F_best`` is the lowest F of all.
    Ours and each peer are compared at equal objective: at ``F* = max`` of the two lowest
    F (within ``REL``), each timed at its loosest tol that reaches F* (best of ``repeat``
    runs of a fit under 2 s). A peer that stays above ``F_best`` is so compared at its own
    objective, and its note says that it did not reach ``F_best`` within the longest it ran,
    X s (the ratio at ``F_best`` is below ours over X). A peer that returns the start
    (:func:`trivial_objective`) at every tol that finished gets the bound ``< ours / X``
    if a fit was killed (no ratio otherwise); one whose every fit was killed gets the bound
    ``< ours / cap``."""
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / divisor
    facs = solvers(penalty, n, sp.issparse(X))
    sweeps = {k: sweep(f, X, y, lam, penalty, cap) for k, f in facs.items()}
    for solver, fits in sweeps.items():
        for e in fits:
            e["time"] = min([e["time"]] + [
                fit(facs[solver], X, y, lam, penalty, e["tol"], cap)[0]
                for _ in range(repeat - 1 if not e["killed"] and e["time"] < 2 else 0)])
    f_min = {k: min(e["F"] for e in fits) for k, fits in sweeps.items()}
    f_best, f_start = min(f_min.values()), trivial_objective(X, y, penalty)
    ours = next(iter(facs))
    t_ours = at(sweeps[ours], f_min[ours])["time"]  # ours at its own lowest F
    group = []
    for solver, fits in sweeps.items():
        best = at(fits, f_best) or min(fits, key=lambda e: e["F"])
        longest = max(e["time"] for e in fits)
        row = dict(problem=f"{name} /{divisor:g}", penalty=penalty, solver=solver,
                   tol=best["tol"], time=best["time"], F=best["F"], F_best=f_best,
                   rel_gap=(best["F"] - f_best) / abs(f_best), nnz=best["nnz"],
                   killed=fits[-1]["killed"], cap=cap, note="",
                   separated=bool(best.get("separated")))
        group.append(row)
        killed = [f"{e['tol']:.0e}" for e in fits if e["killed"]]
        if killed and f_min[solver] < np.inf:
            row["killed_at"] = f"killed at {cap:g} s at tol {', '.join(killed)}"
        if solver == ours:
            continue
        if f_min[solver] == np.inf:
            row.update(ratio=t_ours / cap, bound=True,
                       note=f"no fit finished within {cap:g} s")
            continue
        if f_min[solver] >= f_start * (1 - 1e-12):
            row["note"] = f"returns w = 0 (the start, F = {f_start:.6f}) at every tol"
            if killed:  # still running at the cap: it did not reach F_best within it
                row.update(ratio=t_ours / longest, bound=True)
                row["note"] += f" that finished; did not reach F_best within {longest:.3g} s"
            continue
        target = max(f_min[ours], f_min[solver])
        mine, theirs = at(sweeps[ours], target), at(fits, target)
        row["ratio"] = mine["time"] / theirs["time"]
        if f_min[solver] > f_best * (1 + REL):
            row["note"] = (f"did not reach F_best within {longest:.3g} s"
                           f": ratio at F_best "
                           f"< {t_ours / longest:.2f}; ratio at its own F (ours at tol "
                           f"{mine['tol']:.0e})")
            early = (capped(facs[ours], X, y, lam, penalty, mine["tol"], f_min[solver], cap,
                            repeat) if mine["F"] < f_min[solver] * (1 - REL) else None)
            if early is not None:  # ours overshoots its F: ours stopped where it gets there
                row["ratio_capped"] = early["time"] / theirs["time"]
                row["note"] += (f"; CAPPED ratio {row['ratio_capped']:.2f}: ours reaches its F "
                                f"with max_iter={early['max_iter']} at tol "
                                f"{early['tol']:.0e} in {early['time']:.3f} s (F "
                                f"{early['F']:.8f}, {early['nnz']} nonzeros"
                                f"{', with a ConvergenceWarning' if early['limit'] else ''})")
        elif f_min[ours] > f_best * (1 + REL):
            row["note"] = f"ratio at our F (theirs at tol {theirs['tol']:.0e})"
    rated = [r for r in group[1:] if "ratio" in r]
    if rated:  # ours over the fastest peer: the largest ratio
        fastest = max(rated, key=lambda r: r["ratio"])
        group[0].update(ratio=fastest["ratio"], bound=bool(fastest.get("bound")))
    if f_min[ours] > f_best * (1 + REL):
        group[0]["note"] = "ours stops above F_best" + (
            "" if group[0]["separated"] else " (another stationary point)")
    for r in group:
        if r["separated"]:
            r["note"] = "; ".join(filter(None, [SEPARATED, r["note"]]))
    rows.extend(group)
    for r in group:
        print(fmt_row(r), flush=True)


def fmt_row(r) -> str:
    ratio = f"{'<' if r.get('bound') else ''}{r['ratio']:.2f}" if "ratio" in r else "-"
    time_ = f">{r['cap']:g}" if r["killed"] and r["F"] == np.inf else f"{r['time']:.3f}"
    return (f"{r['problem']:<14}{r['penalty']:<11}{r['solver']:<20}{r['tol']:>8.0e}"
            f"{time_:>9}{ratio:>7}{r['F']:>12.8f}{r['rel_gap']:>11.1e}{r['nnz']:>7}"
            f"{'  ' + r['note'] if r['note'] else ''}"
            f"{'  (' + r['killed_at'] + ')' if r.get('killed_at') else ''}")


SEPARATED = "SEPARATED (no minimiser along its ray)"
HEADER = (f"{'problem':<14}{'pen':<11}{'solver':<20}{'tol':>8}{'time[s]':>9}{'ratio':>7}"
          f"{'F':>12}{'F/F_best-1':>11}{'nnz':>7}")
LEGEND = ("# ratio: on our row, our time over the fastest peer's at equal objective (the goal: "
          "<= 1); on a peer's row, our time over its time at the worse of its and our lowest F "
          "(each at its loosest tol reaching that F within 1e-6); time, tol, F, F/F_best-1: "
          "each solver at its loosest tol reaching F_best, else at its lowest F\n"
          "# CAPPED ratio (a note on a peer's row that stops above our F while our loosest tol "
          "reaching it overshoots it): our time to its F, ours stopped by the smallest max_iter "
          "(Newton steps) whose fit reaches it at that tol, over the peer's time; the ratio "
          "column is not changed by it\n"
          f"# {SEPARATED}: the row's point separates the data with every nonzero coefficient "
          "where the penalty is flat (eta_hat = inf), so F falls without end along (t w, t b), "
          "t > 1: the problem has no minimiser there, F_best is a point on the way, and the "
          "ratios compare points on it (IRLSClassifier stops at the first such point and warns)")


def write_table(title: str, parts: list[dict], out: str) -> None:
    """Write (and print) the rows of ``parts`` (each ``{"meta": [lines], "rows": [...]}``)
    as one table under the title, each part's lines and the legend."""
    lines = [f"# {title}", *[m for part in parts for m in part["meta"]], LEGEND, HEADER,
             *[fmt_row(r) for part in parts for r in part["rows"]]]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)


def meta(args, jit: float) -> list[str]:
    """The lines that describe one run: its command line, machine, load and versions."""
    import celer
    import skglm
    import sklearn

    return [f"# part: {' '.join(sys.argv[1:])}",
            f"#   {platform.platform()}, BLAS threads=1, {args.clock} clock, load average at "
            f"the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; numpy "
            f"{np.__version__}, scikit-learn {sklearn.__version__}, celer {celer.__version__}, "
            f"skglm {skglm.__version__}; skglm numba compile {jit:.1f} s (excluded)"]


def warm_up(penalties: list[str], formats: set[str]) -> float:
    """Fit every solver of these penalties once on a small problem in each X format
    ("dense", "sparse"), so that the timed fits (in forked children) find skglm's numba
    functions compiled and every module imported; returns the seconds it took."""
    start = time.perf_counter()
    Xs, ys = make_classification(60, 30, random_state=0)
    inputs = [Xs] * ("dense" in formats) + [sp.csr_matrix(Xs)] * ("sparse" in formats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for Xw in inputs:
            for penalty in penalties:
                for name, factory in solvers(penalty, 60, False).items():
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
                        help="seconds of the clock after which a fit is killed")
    add_clock_argument(parser)
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="write one table of the rows of these runs' .json files "
                        "instead of running")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "logistic_speed.txt"))
    args = parser.parse_args()
    title = ("benchmarks/logistic_speed.py: time at the same objective "
             "(F <= F_best (1 + 1e-6))")
    if args.combine:
        write_table(title, [json.loads(Path(f).read_text()) for f in args.combine], args.out)
        return
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
                    part = {"meta": meta(args, jit), "rows": rows}  # kept as it grows
                    Path(args.out).with_suffix(".json").write_text(json.dumps(part, indent=1))
    write_table(title, [part], args.out)


if __name__ == "__main__":
    main()
