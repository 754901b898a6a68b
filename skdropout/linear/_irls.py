"""IRLS: alternating minimisation of the eta-trick objective (eq. 6), with a working set.

One iteration is an eta-step ``eta = eta_hat(w)`` (eq. 7) followed by the exact w-step of
:mod:`._wstep`; this is a majorisation-minimisation of eq. (1), so the objective never
increases. Three additions make it fast and exact without changing what it solves:

* **working set** (separable penalties with a finite positive slope at 0, ``0 < slope0 < inf``):
  only the columns in a set W enter the solves; W starts with the columns most correlated
  with y and grows by the zero coordinates that violate the optimality condition
  ``|X_j'r/n| <= lam * slope0``. A violator enters by one exact-descent coordinate step
  (so that ``eta_hat(w_j) > 0`` and the majoriser is tight again).
* **polish**: once per iteration, Newton's method on the stationarity equations
  ``G w - c + lam Omega'(w) = 0`` on the current support, with the Hessian
  ``G + lam diag(Omega''(w))`` from the penalty's closed-form curvature (coordinates whose
  sign flips are dropped; zeros of W that violate their optimality condition enter once);
  accepted only when it lowers the objective. It yields exact zeros and a KKT residual at
  rounding level (matrix-free, at ``polish_tol`` where a caller's problem is itself a
  model: the Newton steps of :mod:`._logistic`). On working sets of at least
  ``_REUSE_MIN`` columns an iteration that follows an accepted polish skips the w-step (it
  would only re-weight the coordinates that entered since), and the Hessian factorisation
  of the last support serves the next one when that sheds or adds a few coordinates
  (:func:`_reduced_solver`), within the homotopy and from one call of the polish to the
  next in a fit (:class:`FactorCache`). Where the polish does not settle because that
  Hessian has a negative eigenvalue (a non-convex penalty near a saddle, which the w-steps
  leave by a factor near 1 per iteration), w steps along its eigenvector instead
  (:func:`_negative_curvature_step`).
* **start**: ``eta = +inf`` on the initial working set, i.e. the least-squares solution on
  it (w = 0 would be a fixed point: eta_hat(0) = 0 for l1, lpp, logsum, ...). A warm start
  (the previous point of a path) is first moved to the new lam by the polish on its support
  (:func:`_predict`, the lasso homotopy's step), and the working set copies the Gram matrix
  of the design's last one.

Convergence is scale-free: the KKT (subdifferential) residual divided by ``||X'y/n||_inf``
must fall below ``tol`` (and, for penalties without a working set, also the relative
decrease of the objective).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np
import scipy.linalg as la
from scipy.sparse.linalg import LinearOperator, lsqr

from ..penalties import Penalty
from ._curvature import NEGATIVE_CURVATURE_MAX, descent_eigenvector, lowest_along
from ._design import Design
from ._gram_operator import GramOperator, pcg
from ._wstep import cg_solve, cho_solve, cholesky, dual_solve, primal_solve

SOLVERS = ("auto", "cholesky", "woodbury", "cg")
_WS_SIZE = 100          # initial working-set size on wide problems
_PRUNE = 1e-14          # eta below this fraction of the largest finite eta is 0
# the largest working set of a sparse X whose Gram matrix is formed and factorised; above
# it the w-step and the polish are matrix-free (GramOperator, conjugate gradients). On the
# 20000 x 50000 text problem of benchmarks/logistic_speed.py the matrix-free route costs
# the same as the dense one at about a thousand columns and less above (a factorisation's
# k^3/3 against CG steps of two passes over the columns' entries each); on ill-conditioned
# (near-separable) Hessians CG needs many steps, which favours the factorisation below
_SPARSE_GRAM_MAX = 1000
_MAX_REENTRIES = 1      # re-activation rounds of the Newton polish
_MAX_CHORDS = 1         # Newton-polish steps in a row with an older Hessian factor
_MAX_BREAKPOINTS = 64   # zero crossings the polish's line search compares
_REUSE_MIN = 64         # smallest support (working set) on which factorisations are saved
_MAX_POLISH_WAIT = 8    # most iterations irls waits to retry a polish that did not settle
# iterations in a row that lower eq. (1) by at most _CRAWL relative before a non-convex fit
# whose polish does not settle steps along negative curvature
# (:func:`_negative_curvature_step`): near a saddle the w-steps lower it by 1e-7 to 1e-12
# per iteration, while a fit on its way lowers it by 1e-4 to 1 per iteration, and a step
# there moves it to another local minimum (benchmarks/results/README.md, "IRLS leaves a
# saddle along negative curvature")
_CRAWL_ITERATIONS, _CRAWL = 2, 1e-6
_DOT, _AXPY = la.blas.get_blas_funcs(("dot", "axpy"), (np.empty(0),))
_TRTRS = la.get_lapack_funcs("trtrs", (np.empty(0),))


@dataclass
class IRLSResult:
    """Outcome of :func:`irls`."""

    coef: np.ndarray
    eta: np.ndarray
    n_iter: int
    objective_path: list[float] = field(default_factory=list)
    converged: bool = False
    kkt: float = math.inf


def objective(design: Design, penalty: Penalty, lam: float, w: np.ndarray) -> float:
    """Eq. (1) with the loss (3): ``||y - X w||^2 / (2n) + lam * Omega(w)``."""
    return design.loss(w) + lam * penalty.value(w)


def penalty_slope0(penalty: Penalty) -> float | np.ndarray | None:
    """``penalty.slope0`` (per feature with penalty factors), or None where the penalty does
    not define it (lp, hardthresh)."""
    try:
        s0 = np.asarray(penalty.slope0, dtype=np.float64)
    except NotImplementedError:
        return None
    return float(s0) if s0.ndim == 0 else s0


def uses_working_set(penalty: Penalty) -> bool:
    """Whether zero is a non-absorbing, KKT-checkable state: separable, 0 < slope0 < inf
    (of the penalty's shape; a penalty factor of 0 only makes a feature unpenalised)."""
    s0 = penalty_slope0(getattr(penalty, "base", penalty))
    return penalty.separable and s0 is not None and 0.0 < s0 < math.inf


def kkt_residuals(g: np.ndarray, w: np.ndarray, penalty: Penalty, lam: float) -> np.ndarray:
    """Distance of ``g = X'r/n`` to ``lam * dOmega(w)`` per coordinate.

    Nonzero ``w_j``: ``|g_j - lam Omega'(w_j)|``; zero ``w_j``: ``(|g_j| - lam slope0)_+``
    (0 where slope0 is infinite or undefined)."""
    zero = w == 0
    # the zeros' residual on every coordinate (whole-array operations; the nonzeros' are
    # written over it): most coordinates of a screened fit's check are zeros
    s0 = penalty_slope0(penalty)
    if s0 is None:
        res = np.zeros(w.shape)
    else:
        with np.errstate(invalid="ignore"):
            res = np.maximum(np.abs(g, dtype=np.float64) - lam * s0, 0.0)
        if np.any(np.isinf(s0)):
            res = np.where(np.isinf(s0), 0.0, res)
    if penalty.separable:  # Omega'(0) = 0 by convention: evaluate it at the nonzeros only
        nz = np.flatnonzero(~zero)
        res[nz] = np.abs(g[nz] - lam * penalty.restrict(nz).grad(w[nz]))
    else:
        res = np.where(zero, res, np.abs(g - lam * penalty.grad(w)))
    return res


def initial_working_set(design: Design, penalty: Penalty,
                        c: np.ndarray | None = None) -> np.ndarray:
    """Columns of the start: all of them, or (working-set penalties on problems with more than
    ``_WS_SIZE`` columns) the ``min(100, n/2)`` most correlated with y (``c = X'y/n`` if
    already computed)."""
    d = design.d
    if not uses_working_set(penalty) or d <= _WS_SIZE:
        return np.arange(d)
    k = min(d, _WS_SIZE, max(1, design.n // 2))
    q = design.col_sq_norms()
    c = design.xty() if c is None else c
    score = np.abs(c) / np.sqrt(np.where(q > 0, q, np.inf))
    # the k largest scores, ties at the k-th broken towards the lower index (the set a
    # stable sort would give), found in linear time
    kth = -np.partition(-score, k - 1)[k - 1]
    above = np.flatnonzero(score > kth)
    return np.sort(np.concatenate([above, np.flatnonzero(score == kth)[:k - above.size]]))


def least_squares_start(design: Design, cols: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares fit on ``cols`` (the w-step at eta = +inf)."""
    if cols.size == 0:
        return np.zeros(0)
    if not design.sparse:
        # singular values below eps * max(n, m) of the largest are rounding noise (numpy's
        # rule); keeping them makes the minimum-norm solution depend on rounding.
        cond = np.finfo(float).eps * max(design.n, cols.size)
        return la.lstsq(design.block(cols), design.y, cond=cond, check_finite=False,
                        lapack_driver="gelsd")[0]
    op = LinearOperator((design.n, cols.size), dtype=np.float64,
                        matvec=lambda v: design.matvec(v, cols),
                        rmatvec=lambda u: design.rmatvec(u, cols))
    return lsqr(op, design.y, atol=1e-12, btol=1e-12, iter_lim=20 * cols.size + 100)[0]


def principal(G: Any, idx: np.ndarray) -> Any:
    """The principal submatrix ``G[idx][:, idx]``, a new array (two ``take`` calls: they cost
    less than one ``np.ix_`` gather at the sizes of the polish), or the sub-operator of an
    operator (:class:`GramOperator`, :class:`~._multinomial_hessian.MultinomialHessian`:
    their ``take`` keeps the positions ``idx``)."""
    if not isinstance(G, np.ndarray):
        return G.take(idx)
    return G.take(idx, axis=0).take(idx, axis=1)


def newton_cg_tolerance(b: np.ndarray, scale: float, level: float, inexact: bool
                        ) -> dict[str, float]:
    """:func:`pcg`'s ``rtol`` and ``atol`` for the Newton step of gradient ``b``:
    ``||b - H x|| <= max(eta ||b||, level / 10)``, with ``level`` the residual at which the
    Newton iteration stops (a last step reaches below it) and, with ``inexact`` (a convex
    penalty), ``eta = min(0.5, sqrt(||b||_inf / scale))`` (a forcing term of Eisenstat and
    Walker; ``scale``: the size of the gradient's terms), else ``eta = 1e-15`` (an exact
    step)."""
    eta = min(0.5, float(np.sqrt(np.abs(b).max() / scale))) if inexact else 1e-15
    return dict(rtol=eta, atol=0.1 * level)


def _cg_solver(G: GramOperator, lam: float, curv: np.ndarray, scale: float, level: float,
               inexact: bool) -> Callable[[np.ndarray], np.ndarray | None]:
    """The matrix-free counterpart of the polish's factorisation: ``b -> H^-1 b`` for
    ``H = G + lam diag(curv)`` by Jacobi-preconditioned conjugate gradients (:func:`pcg`).
    Where CG meets a direction of non-positive curvature in H (a non-convex penalty) the
    convex part ``G + lam diag(max(curv, 0))`` takes the solve, as the factorising route
    does when H has no Cholesky factor; None when that too is not positive definite.

    ``b`` is the gradient of a Newton step, ``scale`` the size of its terms and ``level``
    the residual at which the polish stops (:func:`newton_on_support`); CG stops at
    :func:`newton_cg_tolerance`'s residual, below that level, so a last step reaches it.
    With ``inexact`` (a convex penalty) the step is inexact Newton's: far from the solution
    of a support a step costs a few products (and often ends at a zero crossing, where only
    its direction counts: the line search over the crossings compares exact objectives,
    and a truncated CG step descends the quadratic model up to ``t = 1``); near it the
    forcing term falls with the gradient, so the iteration converges superlinearly to the
    same solution. Otherwise the step is exact: a non-convex penalty's homotopy follows the
    exact Newton steps to their first crossing, which picks its local minimum."""
    diag = G.diagonal()
    kept = np.maximum(curv, 0.0)
    precond = diag + lam * kept
    precond = np.where(precond > 0, precond, 1.0)

    # H failed once, or a diagonal entry G_jj + lam curv_j <= 0 proves it indefinite before
    # any CG step: the solves (same curv) go to the convex part
    indefinite = bool(np.any(diag + lam * curv <= 0))

    def solve(b: np.ndarray) -> np.ndarray | None:
        nonlocal indefinite
        tol = newton_cg_tolerance(b, scale, level, inexact)
        x = None if indefinite else pcg(lambda u: G @ u + (lam * curv) * u, b, precond, **tol)
        if x is None and np.any(curv < 0):
            indefinite = True
            x = pcg(lambda u: G @ u + (lam * kept) * u, b, precond, **tol)
        return x

    return solve


def choose_solver(solver: str, design: Design, m: int) -> str:
    """The w-step solver for an active set of ``m`` columns (``solver="auto"``: Cholesky
    when m <= n, Woodbury when m > n; for a sparse X, Cholesky when m <= ``_SPARSE_GRAM_MAX``
    whatever n, and conjugate gradients, matrix-free in the w-step and the polish, above:
    the w-step's ridge ``lam diag(1/eta)`` makes a Gram matrix of more columns than rows
    positive definite, and on the nearly separable problems of a small n, where a working
    set outgrows n, CG needs hundreds of steps per solve)."""
    if solver == "woodbury" and design.sparse:
        raise ValueError("solver='woodbury' needs a dense X; use 'cg' or 'auto' for sparse X.")
    if solver != "auto":
        return solver
    if design.sparse:
        return "cholesky" if m <= _SPARSE_GRAM_MAX else "cg"
    return "cholesky" if m <= design.n else "woodbury"


class FactorCache:
    """The polish's last exact Hessian factorisation ``(L, positions, curvature, columns of
    Z)`` (:func:`_reduced_solver`) on one
    Gram matrix, kept between calls of :func:`newton_on_support` (the predictor and the
    polish of every iteration of one fit): W only grows by appended columns, so the positions
    stay valid, and the next support is the last one with a few coordinates added or
    dropped (:func:`_reduced_solver`)."""

    def __init__(self) -> None:
        self.base: tuple | None = None


def newton_on_support(G: np.ndarray | GramOperator, c: np.ndarray, w: np.ndarray,
                      penalty: Penalty, lam: float, max_steps: int = 30, greedy: bool = False,
                      cache: FactorCache | None = None, tol: float = 0.0
                      ) -> np.ndarray | None:
    """Solve ``G w - c + lam Omega'(w) = 0`` on the support of ``w`` by Newton's method.

    The Hessian is ``H = G + lam diag(Omega''(w))`` (:meth:`Penalty.curvature`), and the
    step ``w <- w - H^-1 (G w - c + lam Omega'(w))``. The Cholesky factor of H is kept while
    Omega'' is unchanged (exactly Newton for l1, and for mcp/scad within one piece of the
    penalty: one factorisation per support), and for ``_MAX_CHORDS`` chord steps while
    ``lam Omega''`` moves by less than 5 % of H's smallest diagonal entry (logsum). Where H
    is not positive definite, its convex part ``G + lam diag(max(Omega'', 0))`` takes the
    step (its factor kept while ``max(Omega'', 0)`` is unchanged). A Newton step that would
    move a coordinate across 0 is cut at a crossing (for a convex penalty the one whose
    point, with the coordinates crossed by then at 0, has the lowest objective; otherwise
    the first) and the crossed coordinates leave the support (an active-set homotopy, as in
    feature-sign search; when the cut crosses a coordinate that re-entered and has not
    moved off its entry value, every such coordinate that crosses leaves with it); when
    neither matrix is positive definite the smallest tenth of the support leaves (without
    ``greedy``: None if that happens on the starting support). With ``greedy``, every
    coordinate that a full Newton step moves across 0 leaves at once (fewer rounds, no
    monotonicity guarantee; the caller checks the objective). The
    iteration on one support stops when the step or the residual reaches rounding level
    (matrix-free, also at the residual ``tol``). A
    coordinate at 0 (at the start or after leaving) that violates its optimality condition
    ``|c_j - G_j w| <= lam slope0`` at the end enters with the sign of that residual
    (feature-sign search's activation; at most ``_MAX_REENTRIES`` times), so that a sign
    flip costs a round here rather than an outer iteration. Each other round removes at
    least one coordinate, so this ends.

    Parameters
    ----------
    G : ndarray or GramOperator
        ``X_P'X_P/n`` for the positions P that ``w`` lives on; as a :class:`GramOperator`
        (a large working set of a sparse X) the Newton systems are solved matrix-free by
        conjugate gradients (:func:`_cg_solver`) instead of Cholesky factors, with the same
        fallback to the convex part of an indefinite Hessian.
    c : ndarray
        ``X_P'y/n``.
    w : ndarray
        The start; its support is the first support.
    penalty : Penalty
        Separable, restricted to P.
    lam : float
    max_steps : int
        Newton steps allowed on one support.
    greedy : bool
    cache : FactorCache, optional
        The factorisation to start from and to leave the last one in (for the same ``G``
        and ``lam``, penalty and positions).
    tol : float
        With a :class:`GramOperator`, the largest residual ``|G_j w - c_j + lam
        Omega'_j(w)|`` on a support at which its iteration may stop above rounding level
        (0: at rounding level). A factorised step reaches rounding level at the cost of a
        triangular solve, so with an ndarray G the iteration always goes there.

    Returns
    -------
    ndarray or None
        The polished ``w``, or None when Newton's method does not settle within
        ``max_steps`` steps (or, without ``greedy``, the starting Hessian is singular).
    """
    cur = w.copy()
    first_size, reentries = np.count_nonzero(cur), 0
    fresh = np.zeros(cur.size, dtype=bool)  # re-entered, not yet moved off their entry value
    cache = FactorCache() if cache is None else cache
    sub = last = None  # (an operator G) the last round's sub-operator; its support, if it shrank
    while True:
        idx = np.flatnonzero(cur)
        if idx.size == 0:
            return cur
        # G @ cur on all positions (cur is 0 off idx) instead of gathering G_SS every round:
        # with the reduced solver a round needs G_SS only when it factorises; an operator's
        # products cost its columns' entries, so a round takes the support's sub-operator,
        # after a round that dropped coordinates out of that round's columns (read in place
        # where it skips few entries: GramOperator.take's reuse); the last round's operator
        # and solver go first (one copy of a support's columns at a time)
        if isinstance(G, GramOperator):
            parent, pos = (sub, np.flatnonzero(cur[last])) if last is not None else (G, idx)
            sub = L = None
            sub = parent.take(pos, reuse=parent is not G)
            parent = None
        cs, ws, full = c[idx], cur[idx], np.zeros(cur.size)
        cs_max, diag = np.abs(cs).max(), G.diagonal()[idx]
        pen = penalty.restrict(idx)
        sign = np.sign(ws)
        drop, L, curv_of_L, exact, min_diag, chords = None, None, None, False, 0.0, 0
        convex = None  # (max(Omega'', 0), Cholesky factor) of the convex part on idx
        for _ in range(max_steps):
            full[idx] = ws
            Gw = (G @ full)[idx] if sub is None else sub @ ws
            grad = Gw - cs + lam * pen.grad(ws)
            scale = max(np.abs(Gw).max(), cs_max)
            level = 1e-14 * scale if sub is None else max(1e-14 * scale, tol)
            if np.abs(grad).max() <= level:
                break
            curv = pen.curvature(ws)
            same = L is not None and np.array_equal(curv, curv_of_L)
            chord = (not same and L is not None and exact and chords < _MAX_CHORDS
                     and lam * np.max(np.abs(curv - curv_of_L)) <= 0.05 * min_diag)
            chords = chords + 1 if chord else 0
            if not (same or chord):
                if sub is not None:
                    # matrix-free: a solver bound to this curvature, kept for the chord
                    # steps as a factor would be
                    L = _cg_solver(sub, lam, curv, scale, level, penalty.convex)
                    exact = True
                else:
                    L, exact, convex = _factor_solver(G, lam, idx, curv, diag, cache, convex)
                curv_of_L = curv
                min_diag = (diag + lam * (curv if exact else np.maximum(curv, 0.0))).min()
            step = None if L is None else L(grad)
            if step is None and not greedy and idx.size == first_size:
                return None
            if step is None:
                drop = np.abs(ws) <= np.sort(np.abs(ws))[(ws.size - 1) // 10]
                break
            new = ws - step
            cross = np.sign(new) != sign
            if cross.any() and greedy:  # all crossing coordinates leave at once
                ws, drop = new, cross
                break
            if cross.any():  # the best zero crossing along the step; that coordinate leaves
                frac = np.where(cross, ws / np.where(cross, ws - new, 1.0), np.inf)
                # convex penalties: the best crossing (feature-sign search's line search);
                # otherwise the first, which keeps the homotopy on its own local minimum
                if penalty.convex and sub is not None:
                    t = _best_crossing(sub, cs, ws, step, pen, lam, frac)
                elif penalty.convex:
                    w_all, step_all, frac_all = _embed(cur.size, idx, ws, step, frac)
                    t = _best_crossing(G, c, w_all, step_all, penalty, lam, frac_all)
                else:
                    t = float(frac.min())
                ws = ws - t * step
                drop = frac <= t
                if np.any(drop & fresh[idx]):
                    # the cut crosses a re-entered coordinate still at its entry value:
                    # every such coordinate whose step points against its entry sign is
                    # within rounding level of 0, so they leave together (one round each,
                    # or for a convex penalty one per _MAX_BREAKPOINTS of them, would solve
                    # again at the same point)
                    drop |= cross & fresh[idx]
                else:
                    fresh[:] = False
                break
            ws, fresh[:] = new, False
            if np.abs(step).max() <= 1e-13 * np.abs(ws).max():
                break
        else:
            return None
        cur[idx] = ws
        if drop is None:
            back = _reenter(G, c, w, cur, penalty, lam) if reentries < _MAX_REENTRIES else None
            if back is None:
                return cur
            back, residual = back
            reentries += 1
            # a nonzero start with the sign of the residual (scaled by the start: cur may be 0)
            cur[back] = 1e-12 * np.max(np.abs(w)) * np.sign(residual)
            fresh[back] = True
            last = None
            continue
        cur[idx[drop]] = 0.0
        last = idx


def _factor_solver(G: np.ndarray, lam: float, idx: np.ndarray, curv: np.ndarray,
                   diag: np.ndarray, cache: FactorCache, convex: tuple | None
                   ) -> tuple[Callable[[np.ndarray], np.ndarray] | None, bool, tuple | None]:
    """The polish's solver of ``H x = b`` for ``H = G_SS + lam diag(curv)`` on the support
    ``S = idx`` by Cholesky: from the cached factor (:func:`_reduced_solver`) or a new one
    (left in ``cache``); where H has none and ``curv`` has negative entries, the convex part
    ``G_SS + lam diag(max(curv, 0))`` the same way (its solver kept in ``convex =
    (max(curv, 0), solver)`` while that is unchanged). Returns the solver (None when neither
    matrix is positive definite), whether it is H's own, and ``convex``. ``diag``: ``G``'s
    diagonal on S; an entry ``G_jj + lam curv_j <= 0`` proves H indefinite (Cholesky fails
    at that pivot or before it: a pivot is that entry less a sum of squares), so then
    neither the cached factor nor a new one is tried."""
    if np.all(diag + lam * curv > 0):
        L = _cached_or_new(G, lam, idx, curv, cache)
        if L is not None:
            return L, True, convex
    if not np.any(curv < 0):
        return None, False, convex
    # the convex part of the Hessian, which moves only with max(Omega'', 0): constant for
    # logsum, whose Omega'' < 0 changes at every step
    kept = np.maximum(curv, 0.0)
    if convex is None or not np.array_equal(kept, convex[0]):
        convex = (kept, _cached_or_new(G, lam, idx, kept, cache))
    return convex[1], False, convex


def _cached_or_new(G: np.ndarray, lam: float, idx: np.ndarray, curv: np.ndarray,
                   cache: FactorCache) -> Callable[[np.ndarray], np.ndarray] | None:
    """A solver of ``(G_SS + lam diag(curv)) x = b`` for ``S = idx``: from the factor in
    ``cache`` (:func:`_reduced_solver`, on the same curvature where the two supports
    share coordinates), or from a new Cholesky factor, left in ``cache``; None where the
    matrix is not positive definite."""
    L, cache.base = _reduced_solver(G, lam, cache.base, idx, curv)
    if L is not None:
        return L
    # idx is sorted: all positions take G as it is
    H = G.copy() if idx.size == G.shape[0] else principal(G, idx)
    H.flat[::H.shape[0] + 1] += lam * curv
    factor = cholesky(H, overwrite=True)
    if factor is None:
        return None
    cache.base = (factor, idx, curv, {})
    return partial(cho_solve, factor)


def _reduced_solver(G: np.ndarray, lam: float, base: tuple | None, idx: np.ndarray,
                    curv: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray] | None,
                                               tuple | None]:
    """A solver of ``H_SS x = b`` for the support ``S = idx`` from the Cholesky factor
    ``L`` of ``H_PP`` on an earlier support ``P`` (``base = (L, P, curvature on P, columns
    of Z)``, P in the order of L's rows), when S differs from P by a few coordinates: it
    adds ``A = S - P`` (at most an eighth of P) and drops ``D = P - S`` (at most an eighth of ``P + A``), the
    curvature on ``S & P`` is unchanged and P has at least ``_REUSE_MIN`` coordinates (below
    that a factorisation costs less than the bookkeeping); else None. Returned with the base
    for the next call (the extended factor when A is not empty).

    Added coordinates extend the factor by a block row, as a blocked Cholesky
    factorisation of ``H`` on ``P + A`` computes it: ``L_21 = H_AP L^-T`` and ``L_22`` the
    factor of ``H_AA - L_21 L_21'``. Dropped ones: with ``Z = L^-1 E_D`` (``E_D`` the
    columns of the identity at D) and ``u = L^-1 b'`` (``b`` on S, 0 on D),
    ``x = L^-T (u - Z (Z'Z)^-1 Z'u)`` solves ``H_PP x = b' + E_D mu`` with ``x_D = 0``: its
    S part solves ``H_SS x_S = b``. Both cost ``O(|P|^2 (|A| + |D|))`` instead of a new
    factorisation's ``|S|^3/3``, so the homotopy's rounds that shed coordinates, and the
    rounds where a few re-enter, reuse one factorisation. The columns of Z depend on their
    own coordinate only: the base keeps them (its fourth entry, position -> column), so a
    round that drops one more coordinate solves for that one."""
    if base is None or base[1].size < _REUSE_MIN:
        return None, base
    factor, p_idx, p_curv, z_cols = base
    order = np.argsort(p_idx)
    at = np.minimum(np.searchsorted(p_idx[order], idx), p_idx.size - 1)
    inside = p_idx[order[at]] == idx
    loc = order[at[inside]]
    added = idx[~inside]
    m = p_idx.size + added.size
    k = m - idx.size
    if added.size > p_idx.size // 8 or k > m // 8:
        return None, base
    if not np.array_equal(p_curv[loc], curv[inside]):
        return None, base
    if added.size:
        H_PA = G.take(added, axis=1).take(p_idx, axis=0)
        L21t = _TRTRS(factor, H_PA, lower=1)[0]
        S22 = principal(G, added) - L21t.T @ L21t
        S22.flat[::added.size + 1] += lam * curv[~inside]
        L22 = cholesky(S22)
        if L22 is None:
            return None, base
        grown = np.zeros((m, m), order="F")  # LAPACK's order: its solves copy no factor
        grown[:p_idx.size, :p_idx.size] = factor
        grown[p_idx.size:, :p_idx.size] = L21t.T
        grown[p_idx.size:, p_idx.size:] = np.tril(L22)
        base = (grown, np.concatenate([p_idx, added]), np.concatenate([p_curv, curv[~inside]]),
                {})
        factor, z_cols = grown, base[3]
    pos = np.empty(idx.size, dtype=np.intp)
    pos[inside] = loc
    pos[~inside] = np.arange(m - added.size, m)
    if k == 0:
        if np.array_equal(pos, np.arange(m)):
            return partial(cho_solve, factor), base

        def permuted(b: np.ndarray) -> np.ndarray:
            u = np.empty(m)
            u[pos] = b
            return cho_solve(factor, u)[pos]

        return permuted, base
    dropped = np.ones(m, dtype=bool)
    dropped[pos] = False
    at_d = np.flatnonzero(dropped).tolist()
    new = [j for j in at_d if j not in z_cols]
    if new:
        E = np.zeros((m, len(new)), order="F")
        E[new, np.arange(len(new))] = 1.0
        z_cols.update(zip(new, _TRTRS(factor, E, lower=1)[0].T))
    Z = np.column_stack([z_cols[j] for j in at_d])
    K = cholesky(Z.T @ Z)
    if K is None:
        return None, base

    def solve(b: np.ndarray) -> np.ndarray:
        u = np.zeros(m)
        u[pos] = b
        u = _TRTRS(factor, u, lower=1)[0]
        u -= Z @ cho_solve(K, Z.T @ u)
        return _TRTRS(factor, u, lower=1, trans=1)[0][pos]

    return solve, base


def _embed(m: int, idx: np.ndarray, ws: np.ndarray, step: np.ndarray,
           frac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ws``, ``step`` and ``frac`` of the support ``idx`` written on all ``m`` positions
    (0, 0 and +inf off it)."""
    out = np.zeros((2, m))
    out[0, idx], out[1, idx] = ws, step
    frac_all = np.full(m, np.inf)
    frac_all[idx] = frac
    return out[0], out[1], frac_all


def _best_crossing(G: np.ndarray | GramOperator, c: np.ndarray, w: np.ndarray,
                   step: np.ndarray, penalty: Penalty, lam: float, frac: np.ndarray) -> float:
    """The cut ``t`` whose point -- ``w - t step`` with every coordinate that crosses 0 by
    ``t`` (``frac_j <= t``) set to 0 -- has the lowest objective
    ``w'Gw/2 - c'w + lam Omega(w)``, among the zero crossings ``t = frac_j`` (the first
    ``_MAX_BREAKPOINTS``).

    The first crossing's point lowers the objective (the step is a descent direction on the
    starting orthant), so the chosen one does too; a later cut lets a support near ``n``
    shed many coordinates per factorisation instead of one. For a convex objective the
    chosen point is the lowest of the candidates, so the homotopy stays monotone.

    With a :class:`GramOperator` the quadratic terms come from the samples' values
    ``X_s p`` of the points (:meth:`GramOperator.rows`), linear in p: those of w and of the
    step, less those of the crossed coordinates' values (a few columns), instead of a
    product with every point.
    """
    ts = np.unique(frac[np.isfinite(frac)])[:_MAX_BREAKPOINTS]
    line = w[None, :] - ts[:, None] * step[None, :]
    points = line.copy()
    points[frac[None, :] <= ts[:, None]] = 0.0
    if isinstance(G, GramOperator):
        crossed = np.flatnonzero(frac <= ts[-1])
        ends = G.rows(np.column_stack([w, step]))
        quad = G.line_quadratics(ends, ts, crossed, (line - points)[:, crossed].T)
    else:
        quad = np.einsum("jk,kj->k", G @ points.T, points)
    F = 0.5 * quad - points @ c + lam * np.sum(penalty.pointwise(points), axis=1)
    return float(ts[np.argmin(F)])


def _reenter(G: np.ndarray, c: np.ndarray, w: np.ndarray, cur: np.ndarray,
             penalty: Penalty, lam: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions at 0 in :func:`newton_on_support` whose optimality condition
    ``|c_j - G_j cur| <= lam slope0_j`` fails, with their residuals ``c_j - G_j cur``, or
    None."""
    gone = np.flatnonzero(cur == 0)
    if gone.size == 0:
        return None
    s0 = np.broadcast_to(penalty_slope0(penalty), w.shape)[gone]
    residual = c[gone] - (G @ cur)[gone]
    out = np.abs(residual) > lam * s0 * (1.0 + 1e-9)
    return (gone[out], residual[out]) if out.any() else None


class _WorkingSet:
    """The columns W in the solves, with the cached Gram matrix X_W'X_W/n and (dense X) the
    block X_W when the Cholesky w-step is used; with the conjugate-gradient w-step ("cg")
    ``G`` is X_W'X_W/n as a :class:`GramOperator` (matrix-free: the w-step and the polish
    apply it by products with the columns' stored entries); None with Woodbury."""

    def __init__(self, design: Design, cols: np.ndarray, solver: str) -> None:
        self.design, self.solver = design, solver
        self.cols = np.zeros(0, dtype=np.intp)
        self.G: np.ndarray | GramOperator | None = None
        self.XW: np.ndarray | None = None
        # the array whose first columns are XW, with room for more (None: XW itself)
        self._room: np.ndarray | None = None
        self.c = np.zeros(0)
        self.factor = FactorCache()  # the polish's, on the positions of G
        self.add(cols)

    def add(self, new: np.ndarray, block: np.ndarray | None = None) -> None:
        """Append columns, extending the Gram matrix (and block) by the new parts only
        (``block``: ``X_s[:, new]`` if the caller has it)."""
        d = self.design
        old = self.cols
        self.cols = np.concatenate([old, new]).astype(np.intp)
        self.kind = choose_solver(self.solver, d, self.cols.size)
        self.c = np.concatenate([self.c, d.xty()[new]])
        if self.kind == "cg":  # matrix-free: the polish applies X_W'X_W/n by products
            self.G, self.XW = d.gram_operator(self.cols), None
            return
        if self.kind != "cholesky":
            self.G = self.XW = None
            return
        if not isinstance(self.G, np.ndarray) or self.G.shape[0] != old.size:
            self._build()
        else:
            self._extend(old.size, new, block)
        d.gram_cache = (self.cols, self.G, self.XW)

    def _build(self) -> None:
        """G (and, for a dense X short of all its columns, the block X_W) for all of W, copying
        the parts that the design's last working set already holds (a path's next fit
        starts on the previous support, whose Gram matrix is known)."""
        d, n, cols = self.design, self.design.n, self.cols
        self.factor = FactorCache()
        self._room = None  # (a new block below has room for more columns)
        # a dense W short of all the columns keeps its block: its Gram matrix is then one
        # symmetric product (the design's own product would copy and weight the columns
        # anyway), its extensions copy only the new columns, and the residuals of the
        # objective are products with the block (the design's would copy the support's
        # columns out of X each time); all of X is not copied (the design has it)
        want_block = not d.sparse and not d.gram_route and cols.size < d.d
        known = np.full(d.d, -1, dtype=np.intp)
        if d.gram_cache is not None and (d.gram_cache[2] is not None or not want_block):
            known[d.gram_cache[0]] = np.arange(d.gram_cache[0].size)
        loc = known[cols]
        have, miss = np.flatnonzero(loc >= 0), np.flatnonzero(loc < 0)
        if have.size == 0:
            if not want_block:
                self.XW = None
                self.G = d.cross(cols, cols)
                return
            # with room for as many columns again (at most all of X's): _extend appends
            self._room = d.block(cols, spare=min(cols.size, d.d - cols.size))
            self.XW = self._room[:, :cols.size]
            self.G = self.XW.T @ self.XW
            self.G /= n  # (in place: no second array of its size)
            return
        _, G_old, XW_old = d.gram_cache
        if miss.size == 0:
            self.G = principal(G_old, loc)
            self.XW = np.asfortranarray(XW_old[:, loc]) if want_block else None
            return
        G = np.empty((cols.size, cols.size))
        G[np.ix_(have, have)] = principal(G_old, loc[have])
        self.XW = None
        if want_block:
            self.XW = np.empty((n, cols.size), order="F")
            self.XW[:, have] = XW_old[:, loc[have]]
            self.XW[:, miss] = d.block(cols[miss])
        side = (self.XW.T @ self.XW[:, miss] / n if self.XW is not None
                else d.cross(cols, cols[miss]))
        G[:, miss] = side
        G[miss, :] = side.T
        self.G = G

    def _extend(self, k: int, new: np.ndarray, block: np.ndarray | None) -> None:
        """G (and X_W) extended by the columns ``new`` appended after the first ``k``."""
        d, n, m = self.design, self.design.n, self.cols.size
        if self.XW is not None:
            room = self._room
            if room is None or room.shape[1] < m:
                # the block lives in the first columns of room for twice its columns (at
                # most all of X's): an extension then copies only the new columns
                room = np.empty((n, min(2 * m, d.d)), order="F")
                room[:, :k] = self.XW
                self._room = room
            room[:, k:m] = d.block(new) if block is None else block
            XW = self.XW = room[:, :m]
            side = XW.T @ XW[:, k:]            # [X_old'X_new; X_new'X_new] / n
            side /= n
        else:
            side = d.cross(self.cols, new)
        G = np.empty((m, m))
        G[:k, :k] = self.G
        G[:, k:] = side
        G[k:, :k] = side[:k].T
        self.G = G

    def residual(self, w: np.ndarray) -> np.ndarray | None:
        """``y - X w`` for a ``w`` supported in W (None on the Gram route, whose
        products need no residual)."""
        if self.XW is not None:
            return self.design.y - self.XW @ w[self.cols]
        if self.design.gram_route:
            return None
        return self.design.residual(w)

    def objective(self, penalty: Penalty, lam: float, w: np.ndarray) -> float:
        """Eq. (1) for a ``w`` supported in W."""
        if self.XW is not None:
            r = self.residual(w)
            loss = float(r @ r) / (2.0 * self.design.n)
        else:
            loss = self.design.loss(w)
        # a separable Omega is summed over W only (w is 0 elsewhere)
        omega = (penalty.restrict(self.cols).value(w[self.cols]) if penalty.separable
                 else penalty.value(w))
        return loss + lam * omega

    def least_squares(self) -> np.ndarray:
        """Least squares on W: from the Gram matrix when it is well conditioned, else the
        minimum-norm solution by SVD (:func:`least_squares_start`)."""
        if isinstance(self.G, np.ndarray) and self.cols.size:
            try:
                L = la.cholesky(self.G, lower=True, check_finite=False)
                diag = np.abs(np.diag(L))
                if diag.min() > 1e-6 * diag.max():
                    return la.cho_solve((L, True), self.c, check_finite=False)
            except la.LinAlgError:
                pass
        return least_squares_start(self.design, self.cols)

    def gram(self, pos: np.ndarray) -> np.ndarray | GramOperator:
        """X_S'X_S/n for sorted positions ``pos`` in W (the cached matrix or operator itself
        for all)."""
        if self.G is not None and pos.size == self.cols.size:
            return self.G
        if self.G is not None:
            return principal(self.G, pos)
        return self.design.cross(self.cols[pos], self.cols[pos])

    def wstep(self, eta: np.ndarray, w: np.ndarray, lam: float) -> np.ndarray:
        """The exact weighted ridge solve on W for ``eta`` (entries 0 stay at 0)."""
        out = np.zeros(self.cols.size)
        a = np.flatnonzero(eta > 0)
        if a.size == 0:
            return out
        if self.kind == "cholesky":
            out[a] = primal_solve(principal(self.G, a), self.c[a], eta[a], lam)
        elif self.kind == "woodbury":
            out[a] = dual_solve(self.design, self.cols[a], eta[a], lam)
        else:
            out[a] = cg_solve(principal(self.G, a), self.c[a], eta[a], lam, w[a])
        return out

def default_start(design: Design, penalty: Penalty, solver: str = "auto",
                  c: np.ndarray | None = None) -> tuple[np.ndarray, _WorkingSet]:
    """The start shared by both estimators: eta = +inf on the initial working set, i.e. least
    squares on it (zeros elsewhere); returned with that working set."""
    ws = _WorkingSet(design, initial_working_set(design, penalty, c), solver)
    w = np.zeros(design.d)
    w[ws.cols] = ws.least_squares()
    return w, ws


def _curved(penalty: Penalty, cols: np.ndarray, w: np.ndarray) -> bool:
    """Whether ``lam Omega''`` is positive on all of ``w`` (elastic net: theta > 0), which
    makes the Newton polish's Hessian positive definite on a support of any size."""
    return bool(np.all(penalty.restrict(cols).curvature(w) > 0))


def _eta_on(penalty: Penalty, w: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """eta_hat(w) restricted to ``cols``, tiny values (relative ``_PRUNE``) set to 0."""
    eta = (penalty.restrict(cols).eta_hat(w[cols]) if penalty.separable
           else penalty.eta_hat(w)[cols])
    eta = np.asarray(eta, dtype=np.float64)
    finite = eta[np.isfinite(eta)]
    if finite.size:
        eta[eta <= _PRUNE * finite.max()] = 0.0
    return eta


class _DenseColumns:
    """Columns of a dense design for :func:`_enter`: the block ``X_s[:, js]`` and a copy of
    the residual that the coordinate steps update (:meth:`start` sets it)."""

    def __init__(self, design: Design, js: np.ndarray) -> None:
        self.block = design.block(js)

    def start(self, r: np.ndarray) -> None:
        self.r = r.copy()

    def dot(self, i: int) -> float:
        return _DOT(self.block[:, i], self.r)

    def step(self, i: int, t: float) -> None:
        _AXPY(self.block[:, i], self.r, a=-t)  # r -= t x_i in place

    def residual(self) -> np.ndarray:
        return self.r


class _GramColumns:
    """Columns on the Gram route for :func:`_enter`: ``X_s[:, js]'r`` held as
    ``n (X_s'y_s/n - G w)_js`` and updated by G's columns; no residual is formed (the
    caller's ``r`` is None). ``w`` is the point of :func:`_enter`, which it changes only
    after the steps."""

    block = None

    def __init__(self, design: Design, js: np.ndarray, w: np.ndarray) -> None:
        G = design.gram()
        self.n, self.w = design.n, w
        self.G_js, self.b_js = G[js], design.xty()[js]
        self.G_jj = self.G_js[:, js]

    def start(self, r: None) -> None:
        self.g = self.n * (self.b_js - self.G_js @ self.w)

    def dot(self, i: int) -> float:
        return float(self.g[i])

    def step(self, i: int, t: float) -> None:
        self.g -= (t * self.n) * self.G_jj[:, i]

    def residual(self) -> None:
        return None


class _SparseColumns:
    """Columns of a sparse design for :func:`_enter`, read from their stored entries only.

    The residual is held as ``r = r_sp + c u`` (``u = sqrt(sw)``), so the dense part of a
    centred column, ``-x_offset_j u``, updates the scalar ``c`` instead of all n rows; with
    ``R = u'r_sp`` and ``sum_i u_i^2 = n``,
    ``X_s[:, j]'r = (u x_j)'r_sp + c sum_i sw_i x_ij - x_offset_j (R + c n)``.
    """

    def __init__(self, design: Design, js: np.ndarray) -> None:
        self.cols, self.off, self.swx = design.sparse_columns(js)
        self.u, self.n = design.sqrt_sw, design.n

    def start(self, r: np.ndarray) -> None:
        self.r, self.c, self.R = r.copy(), 0.0, float(self.u @ r)

    def dot(self, i: int) -> float:
        rows, vals = self.cols[i]
        return (float(vals @ self.r[rows]) + self.c * self.swx[i]
                - self.off[i] * (self.R + self.c * self.n))

    def step(self, i: int, t: float) -> None:
        rows, vals = self.cols[i]
        self.r[rows] -= t * vals
        self.R -= t * self.swx[i]
        self.c += t * self.off[i]

    def residual(self) -> np.ndarray:
        return self.r + self.c * self.u


def _enter(design: Design, penalty: Penalty, lam: float, w: np.ndarray, r: np.ndarray | None,
           js: np.ndarray, slope0: float | np.ndarray) -> np.ndarray | None:
    """Move each violating zero coordinate j off 0 by an exact-descent coordinate step.

    In turn, each ``j`` with ``|g_j| > lam slope0_j`` (``g_j = x_j'r/n`` at the current
    residual, ``q_j = ||x_j||^2/n``) takes the step
    ``t = sign(g_j)(|g_j| - lam slope0_j)/(q_j + lam k_j)``,
    ``k_j = max(Omega_j''(0+), 0)`` (the exact coordinate minimiser for l1 and the elastic
    net), halved until ``-g_j t + q_j t^2/2 + lam Omega_j(t) < 0`` (it is a descent
    direction because ``|g_j| > lam slope0_j``). The halving test is first run for all the
    coordinates at once after a pass without it: for penalties with
    ``Omega(t) <= slope0 |t| + k t^2/2`` (l1, elastic net, mcp, scad, logsum, ...) the
    steps always pass it, and only a failure repeats the pass with the test at every step.
    ``w`` and the residual ``r`` are updated in place (``r`` is None on the design's Gram
    route, where the ``g_j`` come from the Gram matrix); returns the block ``X_s[:, js]`` of a
    dense design (None on the Gram route, and for a sparse design, whose columns are read
    from their stored entries and never densified)."""
    n = design.n
    s0 = np.broadcast_to(slope0, (design.d,))[js]
    qj = design.col_sq_norms(js)
    pen = penalty.restrict(js)
    bend = lam * pen.curvature(np.zeros(js.size))
    bend = np.where(np.isfinite(bend), np.maximum(bend, 0.0), 0.0)
    thresholds, curvatures, denominators = (lam * s0).tolist(), qj.tolist(), (qj + bend).tolist()
    columns = (_GramColumns(design, js, w) if design.gram_route
               else (_SparseColumns if design.sparse else _DenseColumns)(design, js))
    for checked in (False, True):
        t, g_at = np.zeros(js.size), np.zeros(js.size)
        columns.start(r)
        for i, (thr, qi, di) in enumerate(zip(thresholds, curvatures, denominators)):
            gj = columns.dot(i) / n
            if qi <= 0 or abs(gj) <= thr:
                continue
            ti = math.copysign((abs(gj) - thr) / di, gj)
            if checked:
                pen_i = pen.restrict(np.array([i]))
                for _ in range(60):
                    if -gj * ti + 0.5 * qi * ti * ti + lam * pen_i.value(np.array([ti])) < 0:
                        break
                    ti *= 0.5
                else:
                    continue
            t[i], g_at[i] = ti, gj
            columns.step(i, ti)
        if checked:
            break
        descent = -g_at * t + 0.5 * qj * t * t + lam * pen.pointwise(t)
        if np.all(descent[t != 0] < 0):
            break
    moved = t != 0
    w[js[moved]] = t[moved]
    if r is not None:
        r[:] = columns.residual()
    return None if design.sparse else columns.block


def _grow(design: Design, ws: _WorkingSet, penalty: Penalty, lam: float, w: np.ndarray,
          r: np.ndarray | None, res: np.ndarray, tol: float,
          slope0: float | np.ndarray) -> None:
    """Enter the zeros whose scaled KKT residual ``res`` exceeds ``tol`` (the worst ones, at
    most ``max(|W|, 10)``) by :func:`_enter`, and add those that moved to W."""
    viol = np.flatnonzero((w == 0) & (res > tol))
    if viol.size:
        k = max(ws.cols.size, 10)
        if viol.size > k:  # the k worst, found in linear time before they are sorted
            viol = viol[np.argpartition(-res[viol], k - 1)[:k]]
        viol = viol[np.argsort(-res[viol])]
        block = _enter(design, penalty, lam, w, r, viol, slope0)
        in_w = np.zeros(design.d, dtype=bool)
        in_w[ws.cols] = True
        new = np.flatnonzero((w[viol] != 0) & ~in_w[viol])
        new = new[np.argsort(viol[new])]
        if new.size:
            ws.add(viol[new], block[:, new] if ws.XW is not None else None)


def _extrapolate(ws: _WorkingSet, penalty: Penalty, lam: float, w_old: np.ndarray,
                 w: np.ndarray, F: float) -> tuple[np.ndarray, float]:
    """Line search along the last majorisation-minimisation step ``w - w_old``.

    Steps ``w + t (w - w_old)`` for t = 1, 2, 4, ... while the objective keeps falling; a
    coordinate that would cross or reach zero is set to exactly 0 (zero is a legal,
    KKT-checked state for the working-set penalties); then the coordinate shrinking fastest
    is tried at 0. Where IRLS shrinks a coordinate towards 0 geometrically, or crawls along
    a shallow valley, this takes the many small steps at once; each move is kept only when it
    lowers eq. (1), so the iteration stays monotone.
    """
    step = w - w_old
    if not np.any(step):
        return w, F
    best_w, best_F = w, F
    t = 1.0
    for _ in range(40):
        trial = w + t * step
        trial[np.sign(trial) != np.sign(w)] = 0.0
        F_trial = ws.objective(penalty, lam, trial)
        if not F_trial < best_F:
            break
        best_w, best_F = trial, F_trial
        t *= 2.0
    # the coordinate shrinking fastest, tried at exactly 0 (the polish re-fits the rest)
    shrink = np.flatnonzero((best_w != 0) & (np.abs(best_w) < np.abs(w_old)))
    if shrink.size:
        j = shrink[np.argmin(np.abs(best_w[shrink]) / np.abs(w_old[shrink]))]
        trial = best_w.copy()
        trial[j] = 0.0
        F_trial = ws.objective(penalty, lam, trial)
        if F_trial < best_F:
            best_w, best_F = trial, F_trial
    return best_w, best_F


def _predict(ws: _WorkingSet, penalty: Penalty, lam: float, w: np.ndarray,
             tol: float, greedy: bool = False) -> np.ndarray:
    """The warm start ``w`` (a solution at another lam, supported on W) moved to ``lam`` by
    :func:`newton_on_support` on its support: for l1 this is the exact piecewise-linear
    continuation ``w_S + (lam_old - lam) G_SS^-1 sign(w_S)`` up to the crossings, the step of
    the lasso homotopy. Kept only when it lowers eq. (1) at ``lam``; with it, far fewer zeros
    violate their optimality condition than at ``w`` itself, so the working set grows by the
    coordinates that enter the support rather than by all that the change of lam disturbs.
    ``tol``: the polish's residual (:func:`newton_on_support`). With ``greedy`` the greedy
    homotopy goes first (every coordinate that a full Newton step moves across 0 leaves at
    once, and the zeros that then violate their condition re-enter: a solve per round
    rather than per crossing, each a conjugate-gradient solve from scratch on the
    matrix-free route), and the exact one where that does not lower eq. (1)."""
    if ws.G is None or ws.cols.size == 0:
        return w
    pen = penalty.restrict(ws.cols)
    F = ws.objective(penalty, lam, w)
    for first in ((True, False) if greedy else (False,)):
        moved = newton_on_support(ws.G, ws.c, w[ws.cols], pen, lam, greedy=first,
                                  cache=ws.factor, tol=tol)
        if moved is None:
            continue
        trial = w.copy()
        trial[ws.cols] = moved
        if ws.objective(penalty, lam, trial) <= F:
            return trial
    return w


def _negative_curvature_step(ws: _WorkingSet, penalty: Penalty, lam: float, w: np.ndarray,
                             F: float) -> tuple[np.ndarray, float] | None:
    """A step along the most negative curvature of eq. (1) on the support S of w (in W):
    ``v``, the eigenvector of the smallest eigenvalue of ``G_SS + lam diag(Omega''(w_S))``
    signed so that ``g'v <= 0`` for the gradient ``g = G_SS w_S - c_S + lam Omega'(w_S)``
    (:func:`~._curvature.descent_eigenvector`), and the point ``w + t v`` with the lowest
    objective for t doubling from ``1e-4 max(1, max|w|)`` (a coefficient moved across 0 is
    set to 0; :func:`~._curvature.lowest_along`). To second order the objective changes
    along ``v`` by ``g'v t + lambda_min t^2 / 2 < 0``.

    Where the Hessian is indefinite the polish's steps with its convex part creep, and so do
    the w-steps (:class:`_PolishRetry`): an entering coefficient that replaces a collinear
    one grows by a factor near 1 per iteration, its ridge weight ``lam / eta_hat(w_j)``
    large while ``|w_j|`` is small. None where S holds more than
    ``NEGATIVE_CURVATURE_MAX`` coordinates or W's Gram matrix is matrix-free (the
    conjugate-gradient route), the curvature is nowhere negative beyond rounding, or no
    step lowers the objective."""
    pos = np.flatnonzero(w[ws.cols])
    if not 0 < pos.size <= NEGATIVE_CURVATURE_MAX:
        return None
    G = ws.gram(pos)
    if not isinstance(G, np.ndarray):
        return None
    S, w_S = ws.cols[pos], w[ws.cols[pos]]
    pen = penalty.restrict(S)
    v = descent_eigenvector(G + np.diag(lam * pen.curvature(w_S)),
                            G @ w_S - ws.c[pos] + lam * pen.grad(w_S))
    if v is None:
        return None

    def point(t: float) -> tuple[np.ndarray, float]:
        w_t = w.copy()
        moved = w_S + t * v
        moved[np.sign(moved) != np.sign(w_S)] = 0.0
        w_t[S] = moved
        return w_t, ws.objective(penalty, lam, w_t)

    return lowest_along(point, F, 1e-4 * max(1.0, float(np.max(np.abs(w_S)))))


class _PolishRetry:
    """When :func:`irls` tries the polish again after one that did not settle.

    Where the restricted Hessian ``G_SS + lam diag(Omega''(w_S))`` of a non-convex penalty
    is indefinite, ``w`` is not near a local minimum of the restricted objective: the
    polish's steps with the convex part of the Hessian are majorisation steps that creep
    towards a face of the orthant and run out of steps, two factorisations each. The w-steps
    move ``w`` (and its support, by a coordinate or two) as slowly, so after such a polish
    the next is tried only after 1, then 2, 4, ... (at most ``_MAX_POLISH_WAIT``)
    iterations; once a polish is accepted, at every iteration again, and so after a step
    along negative curvature (:func:`_negative_curvature_step`), which leaves the saddle.
    """

    def __init__(self) -> None:
        self.wait, self.gap = 0, 1

    def due(self) -> bool:
        """Whether to polish this iteration."""
        self.wait -= 1
        return self.wait < 0

    def failed(self) -> None:
        self.wait, self.gap = self.gap, min(2 * self.gap, _MAX_POLISH_WAIT)

    def settled(self) -> None:
        self.wait, self.gap = 0, 1


def irls(design: Design, penalty: Penalty, lam: float, *, coef_init: np.ndarray | None = None,
         solver: str = "auto", max_iter: int = 1000, tol: float = 1e-6,
         working_set: np.ndarray | None = None, polish_tol: float = 0.0,
         greedy_predict: bool = False) -> IRLSResult:
    """Minimise eq. (1) with the squared loss by IRLS on the eta-trick form (eq. 6).

    Parameters
    ----------
    design : Design
        Centred, weighted data.
    penalty : Penalty
        Any penalty of :mod:`skdropout.penalties` (lam already set if it uses lam).
    lam : float
        Regularisation strength (> 0).
    coef_init : ndarray of shape (n_features,), optional
        Warm start; default: least squares on the initial working set (eta = +inf).
    solver : {"auto", "cholesky", "woodbury", "cg"}
    max_iter : int
        Maximum number of eta-step/w-step iterations.
    tol : float
        Scale-free tolerance on the KKT residual (and relative objective decrease).
    working_set : ndarray of int, optional
        With ``coef_init`` and a penalty with a working set: the columns the solves start
        with (they must hold the support of ``coef_init``; default: that support). A caller
        that has already screened the columns (the outer working set of
        :func:`~skdropout.linear._logistic.logistic_irls`) passes all of them, so their
        Gram matrix is built once instead of grown round by round.
    polish_tol : float
        Scale-free, as ``tol``: the KKT residual on its support at which a matrix-free
        polish may stop (default 0: at rounding level; :func:`newton_on_support`). A caller
        that needs the solution only to ``tol`` (an inexact Newton step) passes a fraction
        of it, which saves the polish's last conjugate-gradient steps.
    greedy_predict : bool
        With ``coef_init`` and a penalty with a working set: the warm start's move to
        ``lam`` tries the greedy homotopy first (:func:`_predict`). A binary logistic
        Newton step with a convex penalty sets it (:mod:`._logistic`: its model is convex,
        so either start leads to the same minimum); a path of the regressors and the
        class-by-class steps of a multinomial fit keep the exact homotopy.

    Returns
    -------
    IRLSResult

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear._design import Design
    >>> from skdropout.penalties import get_penalty
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 5)); y = X @ [2.0, 0, 0, -1.0, 0]
    >>> res = irls(Design(X, y, None, True), get_penalty("l1"), 0.1)
    >>> res.converged, np.flatnonzero(res.coef).tolist()
    (True, [0, 3])
    """
    n, d = design.n, design.d
    c_full = design.xty()
    scale = float(np.max(np.abs(c_full))) if d else 0.0
    if scale == 0.0:  # y is orthogonal to every column: w = 0 minimises both terms
        w = np.zeros(d)
        return IRLSResult(w, penalty.eta_hat(w), 0, [objective(design, penalty, lam, w)],
                          True, 0.0)
    screen = uses_working_set(penalty)
    slope0 = penalty_slope0(penalty)
    if coef_init is None:
        w, ws = default_start(design, penalty, solver, c_full)
    else:
        w = np.array(coef_init, dtype=np.float64)
        start = np.flatnonzero(w) if working_set is None else np.asarray(working_set)
        ws = _WorkingSet(design, start if screen else np.arange(d), solver)
    if coef_init is not None and screen:
        # a warm start is the previous solution: Newton on its support moves it to this lam
        # (the path's predictor), then the zeros that violate the optimality condition there
        # enter before the first w-step
        w_start = w
        w = _predict(ws, penalty, lam, w, polish_tol * scale, greedy_predict)
        polished = w is not w_start and ws.cols.size >= _REUSE_MIN
        r = ws.residual(w)  # from the working set's block: w lives on W
        res = kkt_residuals(design.gradient(w, r), w, penalty, lam) / scale
        _grow(design, ws, penalty, lam, w, r, res, tol, slope0)
    else:
        polished = False
    F = ws.objective(penalty, lam, w)
    path = [F]
    converged, kkt, it = False, math.inf, 0
    retry = _PolishRetry()
    crawls = 0  # iterations in a row that lowered F by at most _CRAWL relative
    # since the last polish that settled, each that did not was followed by such a step
    escaping = False
    for it in range(1, max_iter + 1):
        F_prev = F
        if not polished:
            # eta-step (eq. 7), then the exact w-step: a majorisation-minimisation of eq. (1)
            eta_w = _eta_on(penalty, w, ws.cols)
            w_new = np.zeros(d)
            w_new[ws.cols] = ws.wstep(eta_w, w[ws.cols], lam)
            F_new = ws.objective(penalty, lam, w_new)
            # (a w-step can only lose to rounding on a working set; then w stays)
            if F_new <= F or not screen:
                w_old, w, F = w, w_new, F_new
                if screen:
                    w, F = _extrapolate(ws, penalty, lam, w_old, w, F)
        # else the last polish left w stationary on its support and only the zeros that
        # entered since changed: a w-step would re-weight just those, which the polish fits
        # exactly, so this iteration goes straight to the polish (on working sets of at
        # least _REUSE_MIN columns, where the w-step's factorisation is what it saves)
        polished = False
        if screen:
            w_ws = w[ws.cols]
            pos = np.flatnonzero(w_ws)
            if pos.size > max(n - 1, 1) and not _curved(penalty, ws.cols[pos], w_ws[pos]):
                # at most n - 1 coordinates can have a nonsingular Gram matrix (unless the
                # penalty's curvature makes every Hessian positive definite): keep the largest
                pos = pos[np.argsort(-np.abs(w_ws[pos]), kind="stable")[:max(n - 1, 1)]]
                if ws.G is not None:  # W's zeros may re-enter in the polish
                    keep = w_ws == 0
                    keep[pos] = True
                    pos = np.flatnonzero(keep)
            elif pos.size and ws.G is not None:  # all of W: its zeros may re-enter
                pos = np.arange(ws.cols.size)
            if pos.size and retry.due():
                G_pos = ws.gram(pos)
                pen_pos = penalty.restrict(ws.cols[pos])
                for greedy in (True, False):  # the cheap greedy homotopy first
                    cand = newton_on_support(G_pos, ws.c[pos], w_ws[pos], pen_pos, lam,
                                             greedy=greedy, tol=polish_tol * scale,
                                             cache=ws.factor if G_pos is ws.G else None)
                    if cand is None:
                        continue
                    w_pol = w.copy()
                    w_pol[ws.cols[pos]] = cand
                    F_pol = ws.objective(penalty, lam, w_pol)
                    if F_pol <= F:
                        polished = F_pol < F and ws.cols.size >= _REUSE_MIN
                        w, F = w_pol, F_pol
                        retry.settled()
                        escaping = False
                        break
                else:
                    if cand is None:  # the exact homotopy did not settle on this support
                        retry.failed()
                        if not penalty.convex and (escaping or crawls >= _CRAWL_ITERATIONS):
                            # w crawls near a saddle: leave it, and polish from there next
                            escaped = _negative_curvature_step(ws, penalty, lam, w, F)
                            escaping = escaped is not None
                            if escaping:
                                w, F = escaped
                                retry.settled()
        r = ws.residual(w)
        g = design.gradient(w, r)
        res = kkt_residuals(g, w, penalty, lam) / scale
        kkt = float(res.max()) if d else 0.0
        rel = (F_prev - F) / max(abs(F), np.finfo(float).tiny)
        crawls = crawls + 1 if rel <= _CRAWL else 0
        if kkt <= tol and (screen or rel <= tol):
            path.append(F)
            converged = True
            break
        if screen:
            _grow(design, ws, penalty, lam, w, r, res, tol, slope0)
            F = ws.objective(penalty, lam, w)
        path.append(F)
    eta = np.asarray(penalty.eta_hat(w), dtype=np.float64)
    return IRLSResult(w, eta, it, path, converged, kkt)
