"""Why adaptive dropout and IRLS end in different local minima on issue 17's ``wide150``
problem (300 x 20000, 150 true features, ``lam = lam_max / 20``), for log-sum, MCP and SCAD.

Each line fits eq. (1) from one start with one algorithm and reports the objective relative
to IRLSRegressor's fit **from the same start** (``rel``), how many columns of the supports
differ (coefficients above 1e-3 of the largest; ``diff``), the support size and the epochs
(dropout) or iterations (IRLS):

* starts: ``ls``, the estimators' default (least squares on the 100 columns most correlated
  with y); ``l1``, the lasso at the same lam (convex: one solution, which both estimators
  reach to 3e-10), the convex warm start both could share;
* ``irls_mm``: IRLS's own majorisation-minimisation iteration (eta-step, exact w-step)
  without its line search and Newton polish (both replaced by no-ops here);
* ``drop sK``: AdaptiveDropoutRegressor's algorithm (Algorithm 1, Gaussian masks, SVRG,
  momentum) with mask seed K;
* ``drop s=1``: the same iteration with every mask equal to 1 (no noise: proximal gradient
  steps on the eta-trick majoriser, the deterministic flow the masks average to), with and
  without momentum.

If the masks' noise chose the minimum, the noise-free iteration would end in IRLS's; if the
start did, the lasso start would bring every method to one minimum. With ``--path-lams K``
(default 200): ``irls_path`` and ``adaptive_dropout_path`` from w = 0 at lam_max down a
K-point grid to lam_max/20 (the continuation both could share): the first grid point where
their objectives differ by more than 1e-3, with the support sizes there.

Usage (from the repository root; about 10 minutes on one core):
``OMP_NUM_THREADS=1 python benchmarks/dropout_minima.py [--penalties logsum mcp scad]
[--path-lams 200] [--path-penalties logsum] [--out benchmarks/results/dropout_minima.txt]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import skdropout.linear._dropout as dropout_module
import skdropout.linear._irls as irls_module
from skdropout.linear import adaptive_dropout_path, irls_path
from skdropout.linear._design import Design
from skdropout.linear._path import lam_max
from skdropout.penalties import resolve_penalty

from dropout_duality import PENALTIES, PROBLEMS, line_log, make_problem, support

_MAX_ITER = 5000  # iterations (IRLS) or epochs (dropout) of one fit


def _noise_free_mask(rng, alpha, mask):
    """s = 1: the masked step becomes the exact proximal gradient step."""
    return np.ones(alpha.size)


def _no_extrapolation(self, w):
    return w


def dropout_fit(design, pen, lam, w0, ws, seed=0, masks=True, momentum=True):
    """adaptive_dropout from ``w0`` (optionally without mask noise or momentum)."""
    saved = dropout_module.draw_mask, dropout_module._Momentum.point
    if not masks:
        dropout_module.draw_mask = _noise_free_mask
    if not momentum:
        dropout_module._Momentum.point = _no_extrapolation
    try:
        res = dropout_module.adaptive_dropout(design, pen, lam, w0.copy(),
                                              rng=np.random.default_rng(seed),
                                              max_iter=_MAX_ITER, working_set=ws)
    finally:
        dropout_module.draw_mask, dropout_module._Momentum.point = saved
    return res.coef, res.objective, res.n_iter, res.converged


def irls_fit(design, pen, lam, w0, polish=True):
    """irls from ``w0`` (None: its default start); ``polish=False`` leaves out the line
    search and the Newton polish (plain majorisation-minimisation)."""
    saved = irls_module.newton_on_support, irls_module._extrapolate
    if not polish:
        irls_module.newton_on_support = lambda *args, **kw: None
        irls_module._extrapolate = lambda ws, pen_, lam_, w_old, w, F: (w, F)
    try:
        res = irls_module.irls(design, pen, lam, coef_init=w0, max_iter=_MAX_ITER)
    finally:
        irls_module.newton_on_support, irls_module._extrapolate = saved
    return res.coef, res.objective_path[-1], res.n_iter, res.converged


def compare(log, X, y, pname):
    params = PENALTIES[pname]
    lam = lam_max(X, y, resolve_penalty(pname, params)) / 20
    pen = resolve_penalty(pname, params, lam)
    design = Design(X, y, None, True)
    l1 = resolve_penalty("l1", None)
    l1_coef = irls_fit(design, l1, lam * float(pen.slope0), None)[0]
    for start in ["ls", "l1"]:
        if start == "ls":
            w0, ws = irls_module.default_start(design, pen)
            ref_coef, ref_F, ref_it, _ = irls_fit(design, pen, lam, None)
        else:
            w0, ws = l1_coef, None
            ref_coef, ref_F, ref_it, _ = irls_fit(design, pen, lam, l1_coef)
        s_ref = support(ref_coef)
        log(f"{pname:6s} {start:3s} irls       F={ref_F:.8g} nnz={s_ref.sum():4d} "
            f"it={ref_it}")
        runs = [("irls_mm", lambda: irls_fit(design, pen, lam, None if start == "ls"
                                             else l1_coef, polish=False))]
        runs += [(f"drop s{k}", lambda k=k: dropout_fit(design, pen, lam, w0, ws, seed=k))
                 for k in range(3)]
        runs += [("drop s=1", lambda: dropout_fit(design, pen, lam, w0, ws, masks=False)),
                 ("drop s=1 no momentum",
                  lambda: dropout_fit(design, pen, lam, w0, ws, masks=False,
                                      momentum=False))]
        for name, run in runs:
            t = time.perf_counter()
            coef, F, it, converged = run()
            s = support(coef)
            log(f"{pname:6s} {start:3s} {name:20s} rel {(F - ref_F) / abs(ref_F):+.2e} "
                f"diff {int(np.sum(s != s_ref)):4d} nnz {s.sum():4d} it {it:6d}"
                f"{'' if converged else ' (not converged)'} "
                f"({time.perf_counter() - t:.1f} s)")


def compare_paths(log, X, y, pname, n_lams):
    params = PENALTIES[pname]
    top = lam_max(X, y, resolve_penalty(pname, params))
    lams = np.geomspace(top, top / 20, n_lams)
    t = time.perf_counter()
    P = irls_path(X, y, penalty=pname, penalty_params=params, lams=lams)
    t_i = time.perf_counter() - t
    t = time.perf_counter()
    Q = adaptive_dropout_path(X, y, penalty=pname, penalty_params=params, lams=lams,
                              random_state=0)
    t_d = time.perf_counter() - t

    def F(path, k, pen):
        r = y - X @ path.coefs[:, k] - path.intercepts[k]
        return 0.5 * float(r @ r) / len(y) + lams[k] * pen.value(path.coefs[:, k])

    first, rels = None, []
    for k in range(n_lams):
        pen = resolve_penalty(pname, params, lams[k])
        F_i, F_d = F(P, k, pen), F(Q, k, pen)
        rels.append((F_d - F_i) / abs(F_i))
        if first is None and abs(rels[-1]) > 1e-3:
            first = k
    end = (f"at lam_max/20: rel {rels[-1]:+.2e}, supports differ in "
           f"{int(np.sum(support(P.coefs[:, -1]) != support(Q.coefs[:, -1])))} columns; "
           f"times {t_i:.1f} s / {t_d:.1f} s")
    if first is None:
        log(f"{pname:6s} path {n_lams} lams: agree within 1e-3 at every point; {end}")
        return
    k = first
    log(f"{pname:6s} path {n_lams} lams: agree to 1e-3 down to point {k - 1} "
        f"(lam/lam_max={lams[k - 1] / top:.4f}, nnz {support(P.coefs[:, k - 1]).sum()}); at "
        f"point {k} (lam/lam_max={lams[k] / top:.4f}) rel {rels[k]:+.2e}, nnz irls "
        f"{support(P.coefs[:, k]).sum()} / dropout {support(Q.coefs[:, k]).sum()}; "
        f"points beyond 1e-3: {int(np.sum(np.abs(rels) > 1e-3))} of {n_lams}; {end}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--penalties", nargs="*", default=["logsum", "mcp", "scad"])
    parser.add_argument("--path-lams", type=int, default=200)
    parser.add_argument("--path-penalties", nargs="*", default=["logsum"])
    parser.add_argument("--out", default="benchmarks/results/dropout_minima.txt")
    args = parser.parse_args()
    log, lines = line_log()
    # the command line as given, then what it measured on
    log(f"# python {' '.join(sys.argv)}   (wide150: 300 x 20000, 150 informative, "
        f"lam_max/20; one BLAS thread; {platform.machine()}, {platform.python_version()})")
    log("# rel, diff: objective relative to, and support columns differing from, IRLS from "
        "the same start")
    X, y = make_problem(*PROBLEMS["wide150"])
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for pname in args.penalties:
            compare(log, X, y, pname)
        if args.path_lams > 0:
            for pname in args.path_penalties:
                compare_paths(log, X, y, pname, args.path_lams)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
