"""Penalised logistic and multinomial regression by Newton steps solved as eta-trick IRLS.

The problem is eq. (1) with the logistic loss,

    F(W, b) = 1/S sum_i s_i l_i(x_i'W + b) + lam * sum_k Omega(W[:, k]),

with ``l_i(m) = log(1 + e^m) - y_i m`` (binary, one column, y_i in {0, 1}) or
``l_i(m) = log sum_k e^{m_k} - m_{y_i}`` (multinomial, K columns, Omega on every one of the
K x d coefficients), sample weights ``s_i`` (``sample_weight`` times the class weight of
y_i) and ``S`` the sum of ``sample_weight`` (n without weights).

One Newton step on column k replaces the loss by its second-order expansion at the current
margins ``m``; with ``p`` the probabilities of class k and ``h = p(1 - p)`` that is the
weighted least-squares loss

    1/(2S) sum_i s_i h_i (z_i - x_i'w - b)^2,   z_i = m_ik + (y_ik - p_i) / h_i,

so the step is :func:`~skdropout.linear._irls.irls` (eq. 6, the exact weighted ridge
w-steps ``(X'VX/n + lam' diag(eta)^-1) w = X'Vz/n`` with ``eta = eta_hat(w)`` and a
working set) on the design weighted by ``v = s h``, with ``lam' = lam S / sum(v)``. The
step is then damped by a backtracking line search on F, so F decreases at every accepted
step. Binary problems take full proximal-Newton steps; multinomial ones cycle over the
classes (block coordinate descent with each block's exact Newton weights, as glmnet does).

For a penalty with a working set (zeros KKT-checkable) on more than 100 features, the
Newton steps run on an outer working set of features: the problem restricted to it is
solved (loosely while violators remain outside), then one product ``X'(s (y - p))`` over
all the features checks the zeros outside, and the violators and the zeros closest to
violating enter (the set grows to about twice the support). Every Newton step thus reads
only the columns of the set.

With a non-convex penalty the penalised model (quadratic loss plus lam Omega) is itself
non-convex, and its minimiser can lie in another basin, where the step from the current
point starts uphill and no damping lowers F. Where the fit would stop there short of
``tol`` (a cycle in which that holds for every class, or a round of the outer working set
below that ends so with no violator left outside), its steps go on with the tangent model
instead (:func:`_tangent`): Omega replaced by its linearisation
``sum_j Omega'(|w_j|) |w_j|`` at the current point (the local linear approximation of Zou
and Li, 2008; ``slope0`` at the zeros), a weighted l1 whose model is convex and has F's
directional derivatives at the current point, so its step descends. Each such cycle is
followed by the Newton polish on the support (below), with Omega's own curvature.

The eta-trick steps also cross a saddle of a penalised model slowly (where a feature that
enters replaces a collinear one in the support, the model curves down along the swap, and
each w-step moves the entering coefficient by a factor near 1): a Newton step's IRLS then
steps along the most negative curvature of its model
(:func:`~skdropout.linear._irls._negative_curvature_step`).

For K > 2 a Newton polish on the support with the full multinomial Hessian (the
class-by-class steps lack its cross-class blocks) follows each cycle; above the w-step's
size rule (a sparse X with more than ``_irls._SPARSE_GRAM_MAX`` support coefficients) it
applies that Hessian by sparse products and solves by conjugate gradients, never forming
its (sum of the class supports)^2 entries: inexact Newton steps
(:func:`_polish_cg_tolerance`), at most ``_CG_MAX_STEPS`` CG steps per solve.

A fit stops, unconverged, after a cycle whose model separates the training data with every
nonzero coefficient where the penalty is flat (``eta_hat = inf``): F then falls without end
along ``(t W, t b)`` and has no minimiser there (:mod:`._separation`).

Convergence is scale-free: the largest KKT residual ``|X_j'(s (y - p))/S - lam dOmega|``
(and the intercept's gradient) divided by its value at the intercept-only model must fall
below ``tol`` (for penalties without a working set also the relative decrease of F).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.special import expit, softmax

from ..penalties import Penalty
from ..penalties.closed_form import L1
from ..penalties.factor import Factored
from ._design import Design, slice_pays
from ._gram_operator import ColumnSlices, pcg
from ._irls import (choose_solver, irls, kkt_residuals, newton_cg_tolerance, penalty_slope0,
                    principal, uses_working_set)
from ._multinomial_hessian import MultinomialHessian
from ._separation import flat_separation
from ._wstep import cho_solve, cholesky

_H_MIN = 1e-10          # smallest Newton weight p(1 - p) (a margin of about 23)
_ARMIJO = 1e-4
_MAX_HALVINGS = 40
# Newton cycles in a row that lower F by no more than its rounding and leave the KKT
# residual above _PROGRESS times its smallest since F last fell, before a fit counts as
# stalled: such cycles can still end in a sudden drop of the residual (a multinomial l1 fit
# of the tests reaches tol=1e-10 after 21 of them), while a stall repeats them up to max_iter
_PATIENCE = 25
_ROUNDING = 16 * np.finfo(np.float64).eps
# a residual at rounding level wanders within a factor of a few, setting new smallest
# values by chance: progress is a fall below half the smallest
_PROGRESS = 0.5
_OUTER_WS = 100         # smallest outer working set (features) of a screened fit
# a sparse X starts with four times as many: there a round's fixed costs (a product with all
# of X, a new restricted problem, a Newton step and its polish) outweigh the sparse Gram
# matrix of a few hundred more columns, while on a dense X the Gram matrix's n m^2 does not
_OUTER_WS_SPARSE = 4 * _OUTER_WS
# a binary convex fit of a sparse X without a caller's first set starts with every zero that
# violates its condition at the start (|g_j| > lam slope0_j), up to this fraction of n,
# where that many columns go to the matrix-free route (_irls.choose_solver). A set grown
# from _OUTER_WS_SPARSE fills up in its first rounds when the support is larger (the text
# problem of benchmarks/logistic_speed.py at lam_max/50: 1482 violators, a support of 1329,
# rounds of 400 and 800 nonzeros), each round a restricted problem with its own Newton
# steps; below the matrix-free route a set's sparse Gram matrix costs more the more columns
# it has (elastic net at lam_max/20: 851 violators for a support of 762, a slower fit than
# the set grown from 381), and where the violators outnumber n/4 the fit is nearly
# separable (its support a sizable fraction of n) and most of them are spurious: there the
# set grows from the support (as for K > 2, whose class-by-class steps and polish are not
# measured with it)
_FIRST_WS_ROWS = 0.25
# conjugate-gradient steps of one matrix-free polish solve. On a large support of a text
# problem the loss Hessian has directions of near-zero curvature (a rare word's
# coefficients shifted together in the classes that hold nearly all the probability on its
# few documents leave the loss almost unchanged; 1e-14 of the Jacobi-scaled spectrum's top
# on the benchmark's problem), along which Jacobi-preconditioned CG to rounding level takes
# thousands of steps. The per-feature blocks of the preconditioner hold those directions;
# the cap bounds the solves whose tolerance CG does not reach (near-singular systems)
_CG_MAX_STEPS = 250
# how exactly the matrix-free polish of a Newton step's inner IRLS solves the step's model:
# it stops at this fraction of the step's tolerance. A binary fit with a convex penalty
# stops it at that tolerance itself: on the text problem of benchmarks/logistic_cv_speed.py
# the CV path then takes about as many Newton steps, picks the same lam with held-out
# log-losses as close to the reference, and the polish's products read a quarter fewer
# entries. So does a binary fit with a non-convex penalty: its polish to rounding level
# costs a new CG solve at every Newton iteration on a support (logsum's curvature moves
# with w) and, on supports of thousands of columns, near-singular solves, many times the
# work of the step; which local minimum a non-convex fit ends in is decided by its
# iterates either way, and on the text problems of benchmarks/logistic_speed.py the
# inexact steps end in one about as often lower as higher (benchmarks/results/README.md,
# logistic_speed footnote 14). Multinomial steps (their class-by-class steps and polish,
# not measured with it) keep a tenth, and 0 (rounding level) with a non-convex penalty,
# whose one measured fit (benchmarks/multinomial_speed.py, 5 classes) a tenth ended higher
_POLISH_FRACTION, _POLISH_FRACTION_BINARY = 0.1, 1.0
# the largest outer working set of a sparse X on which a binary convex Newton step builds
# the sparse Gram matrix of the whole set (instead of _irls._SPARSE_GRAM_MAX columns); above
# it, up to _FIRST_WS_ROWS * n columns, the step's inner IRLS goes matrix-free. That matrix
# serves one step only (the next has other weights), while the step's inexact polish needs
# a few products per solve: on the text problem of benchmarks/logistic_cv_speed.py the
# products cost less than the matrix from about 200 columns, and more below. A set above
# n/4 keeps the matrix: there the fit is nearly separable, and the inexact polish's
# solutions, within tol, lie farther from the exact ones (the held-out log-losses of that
# benchmark's 476-row sparse problem; benchmarks/results/README.md, logistic_cv_speed)
_STEP_GRAM_MAX = 200


@dataclass
class LogisticResult:
    """Outcome of :func:`logistic_irls` (``coef`` has shape (n_features, n_columns))."""

    coef: np.ndarray
    intercept: np.ndarray
    eta: np.ndarray
    n_iter: int
    objective_path: list[float] = field(default_factory=list)
    converged: bool = False
    kkt: float = math.inf
    # X'(s (Y - P))/S at the solution on all the features (the next lam's strong rule)
    gradient: np.ndarray | None = None
    # the fit stopped where F falls without end along (t W, t b), t > 1 (flat_separation)
    separated: bool = False


class LogisticProblem:
    """The data of a (weighted) logistic or multinomial problem.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_columns)
        ``y`` in {0, 1} as one column (binary), or the one-hot classes (multinomial).
    weight : ndarray of shape (n_samples,)
        ``s_i``: sample weight times class weight (>= 0).
    total : float
        ``S``, the normaliser of the loss (the sum of the sample weights).
    fit_intercept : bool
    """

    def __init__(self, X: Any, Y: np.ndarray, weight: np.ndarray, total: float,
                 fit_intercept: bool) -> None:
        self.X = sp.csc_matrix(X, dtype=np.float64) if sp.issparse(X) else X
        self.n, self.d = X.shape
        self.Y = np.asarray(Y, dtype=np.float64)
        self.binary = self.Y.shape[1] == 1
        self.s, self.total = weight, float(total)
        self.fit_intercept = fit_intercept
        self.sparse = sp.issparse(X)  # read, with n, by _irls.choose_solver
        # the support columns that the Newton steps' matrix-free operators copy out of X
        # (their raw columns do not depend on the steps' weights)
        self.slices = ColumnSlices()
        self._null_gradient: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_columns(self) -> int:
        return self.Y.shape[1]

    def restrict(self, cols: np.ndarray) -> "LogisticProblem":
        """The same problem on the features ``cols`` only (the others held at 0)."""
        return LogisticProblem(self.X[:, cols], self.Y, self.s, self.total, self.fit_intercept)

    def xdot(self, W: np.ndarray) -> np.ndarray:
        """``X @ W`` as a dense array (only the nonzero rows of W are used)."""
        rows = np.flatnonzero(np.any(W != 0, axis=1))
        if rows.size == 0:
            return np.zeros((self.n, W.shape[1]))
        if rows.size == self.d or not slice_pays(self.X, rows):  # W is 0 off rows
            return np.asarray(self.X @ W)
        return np.asarray(self.X[:, rows] @ W[rows])

    def margins(self, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.xdot(W) + b

    def probabilities(self, M: np.ndarray) -> np.ndarray:
        """``p = sigmoid(m)`` (binary) or ``softmax(m)`` per row (multinomial)."""
        return expit(M) if self.binary else softmax(M, axis=1)

    def complements(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``P`` and ``1 - P`` from the margins, each entry to the rounding of its own size.

        ``1 - sigmoid(m) = sigmoid(-m)`` (binary) and ``1 - p_k = sum_{j != k} p_j``
        (multinomial, a sum of positive terms): the difference ``1 - p`` would cancel to an
        absolute error of eps on a well-classified row, where ``1 - p`` is far smaller."""
        if self.binary:
            return expit(M), expit(-M)
        P = softmax(M, axis=1)
        return P, P @ (1.0 - np.eye(self.n_columns))

    def loss(self, M: np.ndarray) -> float:
        """``1/S sum_i s_i l_i(m_i)``, each ``l_i`` to the rounding of its own size.

        ``l_i = log(1 + e^{(1 - 2 y_i) m_i})`` (binary) and ``l_i = log sum_k e^{m_ik -
        m_iy_i}`` (multinomial): the log-sum minus the margin of y_i would cancel to an
        absolute error of eps |m_i| on a well-classified row, whose l_i is far smaller."""
        if self.binary:
            return float(self.s @ np.logaddexp(0.0, (1.0 - 2.0 * self.Y[:, 0]) * M[:, 0])
                         ) / self.total
        D = M - np.sum(self.Y * M, axis=1, keepdims=True)  # m_ik - m_iy_i: 0 at k = y_i
        rows, arg = np.arange(self.n), np.argmax(D, axis=1)
        top = D[rows, arg]  # >= 0
        E = np.exp(D - top[:, None])
        E[rows, arg] = 0.0
        # log sum_k e^{D_k} = top + log1p(sum of the other e^{D_k - top})
        return float(self.s @ (top + np.log1p(E.sum(axis=1)))) / self.total

    def residual(self, M: np.ndarray, pc: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> np.ndarray:
        """``Y - P`` at the margins ``M`` as ``Y (1 - P) - (1 - Y) P`` (:meth:`complements`):
        for y in {0, 1} each entry is one of the two terms, exact to its own rounding
        (``sigmoid(-m)`` for y = 1, ``-sigmoid(m)`` for y = 0, ``1 - p_y`` and ``-p_k`` for
        the multinomial loss); a fractional y keeps the rounding of the larger term. ``pc``:
        ``complements(M)`` when the caller has it already."""
        P, C = self.complements(M) if pc is None else pc
        return self.Y * C - (1.0 - self.Y) * P

    def newton_weights(self, M: np.ndarray,
                       pc: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``h = p (1 - p)`` per column at the margins ``M`` (:meth:`complements`; binary:
        ``sigmoid(m) sigmoid(-m)``), to the rounding of its own size. ``pc``:
        ``complements(M)`` when the caller has it already."""
        P, C = self.complements(M) if pc is None else pc
        return P * C

    def neg_gradient(self, M: np.ndarray,
                     pc: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """``X'(s (Y - P))/S`` and its intercept part ``sum_i s_i (y_i - p_i)/S`` at the
        margins ``M`` (:meth:`residual`; ``pc``: ``complements(M)`` when the caller has it)."""
        R = self.s[:, None] * self.residual(M, pc)
        G = np.asarray(self.X.T @ R) / self.total
        return G.reshape(self.d, -1), R.sum(axis=0) / self.total

    def null_gradient(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`neg_gradient` at the intercept-only model (:meth:`null_model`), computed
        once per problem: every fit of a path takes the unit of its tolerance from it."""
        if self._null_gradient is None:
            self._null_gradient = self.neg_gradient(self.null_model()[1])
        return self._null_gradient

    def null_model(self) -> tuple[np.ndarray, np.ndarray]:
        """The intercept-only fit (W = 0): ``b`` and its margins."""
        K = self.n_columns
        if not self.fit_intercept:
            b = np.zeros(K)
        elif self.binary:
            q = float(self.s @ self.Y[:, 0]) / float(self.s.sum())
            q = min(max(q, 1e-12), 1 - 1e-12)
            b = np.array([math.log(q / (1 - q))])
        else:
            q = np.maximum(self.s @ self.Y / self.s.sum(), 1e-12)
            b = np.log(q) - np.mean(np.log(q))
        return b, np.broadcast_to(b, (self.n, K))


def penalty_total(penalty: Penalty, W: np.ndarray) -> float:
    """``sum_k Omega(W[:, k])``."""
    return float(sum(penalty.value(W[:, k]) for k in range(W.shape[1])))


def objective(problem: LogisticProblem, penalty: Penalty, lam: float, W: np.ndarray,
              b: np.ndarray) -> float:
    """F(W, b) of the module docstring."""
    return problem.loss(problem.margins(W, b)) + lam * penalty_total(penalty, W)


def kkt_scale(problem: LogisticProblem) -> float:
    """``max |X'(s (y - p0))/S|`` at the intercept-only model (lam_max times Omega's slope
    at 0 for l1); the unit of the scale-free tolerance."""
    G0, _ = problem.null_gradient()
    return float(np.max(np.abs(G0))) if G0.size else 0.0


def _kkt(problem: LogisticProblem, penalty: Penalty, lam: float, W: np.ndarray,
         G: np.ndarray, g_b: np.ndarray) -> float:
    """The largest KKT residual (coefficients and intercept), unscaled, from the negative
    loss gradient ``G``, ``g_b`` at W (:meth:`LogisticProblem.neg_gradient`)."""
    res = max((float(np.max(kkt_residuals(G[:, k], W[:, k], penalty, lam)))
               for k in range(W.shape[1])), default=0.0)
    if problem.fit_intercept:
        res = max(res, float(np.max(np.abs(g_b))))
    return res


def _newton_direction(problem: LogisticProblem, penalty: Penalty, lam: float, k: int,
                      M: np.ndarray, w: np.ndarray, b: float, warm: bool,
                      tol: float, solver: str, max_iter: int, screened: bool,
                      pc: tuple[np.ndarray, np.ndarray] | None = None
                      ) -> tuple[np.ndarray, float]:
    """The penalised Newton step of column k: the minimiser of the weighted least-squares
    expansion (module docstring) plus ``lam Omega``, by :func:`irls` from ``w`` (or from its
    default start when ``warm`` is false). ``tol`` is in the units of F's KKT residual.
    ``screened``: the features of ``problem`` are an outer working set, which the inner
    IRLS of a sparse X takes as its working set from the start (one sparse Gram matrix per
    Newton step instead of one per growth round, or, above ``_irls._SPARSE_GRAM_MAX``
    columns, and for a binary step with a convex penalty above ``_STEP_GRAM_MAX`` up to
    ``_FIRST_WS_ROWS * n``, one matrix-free operator; a dense X keeps growing the inner
    set, whose dense block and Gram matrix extend by the new columns only). ``pc``:
    ``problem.complements(M)`` when the caller has it."""
    pc = problem.complements(M) if pc is None else pc
    h = np.maximum(problem.newton_weights(M, pc)[:, k], _H_MIN)
    z = M[:, k] + problem.residual(M, pc)[:, k] / h
    v = problem.s * h
    V = float(v.sum())
    design = Design(problem.X, z, v, problem.fit_intercept, problem.slices)
    ratio = problem.total / V
    scale = float(np.max(np.abs(design.xty()))) if problem.d else 0.0
    inner_tol = max(tol * ratio / scale, 1e-14) if scale > 0 else 1e-14
    whole = screened and warm and design.sparse
    matrix_free = (whole and solver == "auto" and problem.binary and penalty.convex
                   and _STEP_GRAM_MAX < problem.d <= _FIRST_WS_ROWS * problem.n)
    # the step needs the model's minimiser only to inner_tol, so the polish stops at a
    # fraction of it rather than at rounding level (_polish_fraction). A binary convex
    # step's warm start moves to the new model by the greedy homotopy first (one CG solve
    # per round of crossings on the matrix-free route, instead of one per crossing)
    res = irls(design, penalty, lam * ratio, coef_init=w if warm else None,
               solver="cg" if matrix_free else solver,
               max_iter=max_iter, tol=inner_tol,
               working_set=np.arange(problem.d) if whole else None,
               polish_tol=_polish_fraction(problem, penalty) * inner_tol,
               greedy_predict=problem.binary and penalty.convex)
    b_new = design.intercept(res.coef) if problem.fit_intercept else 0.0
    return res.coef, b_new


def _line_search(problem: LogisticProblem, penalty: Penalty, lam: float, k: int,
                 M: np.ndarray, W: np.ndarray, b: np.ndarray, F: float, grad: np.ndarray,
                 grad_b: float, w_new: np.ndarray, b_new: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """Backtracking along ``(w_new - w, b_new - b)`` on column k: the first t in 1, 1/2, ...
    with ``F(t) <= F + 1e-4 t min(Delta, 0)``, ``Delta = grad'dw + grad_b db + lam
    (Omega(w_new) - Omega(w))`` (the decrease the convex model predicts; ``grad``, ``grad_b``:
    the loss gradient of column k). None when no t lowers F."""
    w = W[:, k]
    dw, db = w_new - w, b_new - b[k]
    if not (np.any(dw) or db):
        return None
    xd = problem.xdot(dw[:, None])[:, 0] + db
    omega_w = penalty.value(w)
    rest = lam * (penalty_total(penalty, W) - omega_w)
    delta = float(grad @ dw) + grad_b * db + lam * (penalty.value(w_new) - omega_w)
    t = 1.0
    for _ in range(_MAX_HALVINGS):
        w_t = w_new if t == 1.0 else w + t * dw
        M_t = M.copy()
        M_t[:, k] += t * xd
        F_t = problem.loss(M_t) + rest + lam * penalty.value(w_t)
        if F_t <= F + _ARMIJO * t * min(delta, 0.0) and F_t <= F:
            W_t, b_t = W.copy(), b.copy()
            W_t[:, k], b_t[k] = w_t, b[k] + t * db
            return W_t, b_t, M_t, F_t
        t *= 0.5
    return None


def _weighted_cross(A: Any, c: np.ndarray, B: Any, intercept: bool) -> np.ndarray:
    """Dense ``[A 1]' diag(c) [B 1]`` (the ones columns only with ``intercept``); a sparse
    ``A``, ``B`` stays sparse in the products."""
    if sp.issparse(B):
        AcB = np.asarray((A.T @ B.multiply(c[:, None]).tocsc()).todense())
        Ac, cB = np.asarray(A.T @ c).ravel(), np.asarray(B.T @ c).ravel()
    else:
        cB_full = c[:, None] * B
        AcB, Ac, cB = A.T @ cB_full, A.T @ c, cB_full.sum(axis=0)
    if not intercept:
        return AcB
    return np.block([[AcB, Ac[:, None]], [cB[None, :], np.array([[c.sum()]])]])


def _hessian(problem: LogisticProblem, M: np.ndarray, support: list[np.ndarray]) -> np.ndarray:
    """The loss Hessian at the margins ``M`` on the support (columns ``support[k]`` of class
    k, then the intercepts when fitted): blocks ``X_a' diag(s (p_k [k = m] - p_k p_m)) X_b /
    S``, the diagonal blocks' ``p_k (1 - p_k)`` from :meth:`LogisticProblem.newton_weights`."""
    K = problem.n_columns
    P, C = problem.complements(M)
    h = problem.newton_weights(M, (P, C))
    blocks = [problem.X[:, support[k]] for k in range(K)]
    weight = problem.s / problem.total
    rows = []
    for k in range(K):
        row = []
        for m in range(K):
            c = h[:, k] if k == m else -P[:, k] * P[:, m]
            row.append(_weighted_cross(blocks[k], weight * c, blocks[m], problem.fit_intercept))
        rows.append(row)
    return np.block(rows)


def _loss_hessian(problem: LogisticProblem, M: np.ndarray, support: list[np.ndarray],
                  solver: str) -> np.ndarray | MultinomialHessian:
    """The loss Hessian of :func:`_polish` on the support: the dense matrix
    (:func:`_hessian`), or, where the w-step's size rule (:func:`~._irls.choose_solver`)
    sends a working set of that many coefficients to conjugate gradients (a sparse X above
    ``_irls._SPARSE_GRAM_MAX``), the :class:`MultinomialHessian` operator that applies it
    by sparse products without forming its ``(sum_k |S_k|)^2`` entries."""
    m = sum(idx.size + problem.fit_intercept for idx in support)
    if choose_solver(solver, problem, m) != "cg":
        return _hessian(problem, M, support)
    P, C = problem.complements(M)
    return MultinomialHessian([problem.X[:, idx] for idx in support], P, C,
                              problem.s / problem.total, problem.fit_intercept, support)


def _newton_solve(H: np.ndarray | MultinomialHessian, c: np.ndarray, g: np.ndarray,
                  least_squares: bool = False, cg_tol: dict[str, float] | None = None
                  ) -> np.ndarray | None:
    """``(H + diag(c))^-1 g`` for the loss Hessian ``H`` and the penalty's curvature ``c``:
    by Cholesky (a dense H) or by conjugate gradients (:func:`pcg`, an operator) with the
    per-feature block-Jacobi preconditioner
    (:meth:`~._multinomial_hessian.MultinomialHessian.block_preconditioner`) to the
    tolerance ``cg_tol`` (:func:`_polish_cg_tolerance`; default rounding level) in at most
    ``_CG_MAX_STEPS`` steps, after which, or, for ``c >= 0``, before a direction of zero
    curvature, the iterate is the step (truncated CG: a descent direction of F's quadratic
    model, positive definite on the space it spans). None where ``H + diag(c)`` is not
    positive definite (matrix-free: for ``c >= 0`` along CG's first direction), or, with
    ``least_squares`` and a dense H, its minimum-norm least-squares solution there."""
    if isinstance(H, MultinomialHessian):
        # H is a loss Hessian (positive semidefinite): with c >= 0 a direction of zero
        # curvature is a null direction of a singular system (two rare words on the same
        # documents), not proof of an indefinite one
        return pcg(lambda u: H @ u + c * u, g, H.block_preconditioner(c),
                   maxiter=_CG_MAX_STEPS, truncate=True, semidefinite=not np.any(c < 0),
                   **(cg_tol or {}))
    A = H.copy()
    A[np.diag_indices_from(A)] += c
    L = cholesky(A)
    if L is not None:
        return cho_solve(L, g)
    if least_squares:
        return la.lstsq(A, g, check_finite=False, lapack_driver="gelsy")[0]
    return None


def _polish_step(problem: LogisticProblem, support: list[np.ndarray],
                 H: np.ndarray | MultinomialHessian, c: np.ndarray, g: np.ndarray,
                 slope: np.ndarray, x: np.ndarray, convex: bool,
                 cg_tol: dict[str, float] | None = None) -> np.ndarray | None:
    """The Newton step of :func:`_polish` with the softmax gauge fixed
    (:func:`_gauge_fixed_step`; ``cg_tol``: :func:`_newton_solve`'s), for the curvature
    ``c`` of the penalty; where ``H + diag(c)`` is not positive definite (a non-convex
    penalty), that of its convex part ``H + diag(max(c, 0))``, as the binary polish falls
    back (:func:`~._irls._cg_solver`), with the gauge sets of that curvature (a feature in
    all K supports whose curvatures are all <= 0 is a flat shift of the convex part).
    ``H + diag(c)`` is provably indefinite, and goes to its convex part without a solve,
    where a feature in all K supports has curvatures of negative sum: H is 0 along the
    shift ``u`` of its K coefficients, so ``u'(H + diag(c))u = sum c[u] < 0``. Where the
    convex part too fails: for a dense H the minimum-norm least-squares step of the full
    system, for an operator None."""
    shifts = _shared_features(problem, support)
    indefinite = any(np.sum(c[pos]) < 0 for pos in shifts[problem.fit_intercept:])
    curvatures = [c] if not np.any(c < 0) else [np.maximum(c, 0.0)] if indefinite else [
        c, np.maximum(c, 0.0)]
    for curv in curvatures:
        step = _gauge_fixed_step(H, curv, g, _gauge_sets(shifts, curv), slope, x, convex,
                                 cg_tol=cg_tol)
        if step is not None:
            return step
    if isinstance(H, MultinomialHessian):
        return None
    return _gauge_fixed_step(H, c, g, _gauge_sets(shifts, c), slope, x, convex,
                             least_squares=True)


def _shared_features(problem: LogisticProblem, support: list[np.ndarray]
                     ) -> list[np.ndarray]:
    """The positions (in :func:`_polish`'s layout) of the directions along which the
    softmax leaves the loss unchanged, so that the loss Hessian is exactly 0 along each:
    the K intercepts (a common shift; first, when fitted), and the K coefficients of each
    feature in all K supports (shifted together)."""
    K = problem.n_columns
    if K == 1:  # a binary loss changes along every direction of its one column
        return []
    sizes = [idx.size + problem.fit_intercept for idx in support]  # the class blocks
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    shifts = []
    if problem.fit_intercept:
        shifts.append(offsets + [idx.size for idx in support])
    common = support[0]
    for idx in support[1:]:
        common = np.intersect1d(common, idx, assume_unique=True)
    for j in common:
        shifts.append(np.array([offsets[k] + np.searchsorted(support[k], j)
                                for k in range(K)]))
    return shifts


def _gauge_sets(shifts: list[np.ndarray], curv: np.ndarray) -> list[np.ndarray]:
    """The shifts of :func:`_shared_features` along which the penalty has no curvature
    either (``Omega'' = 0`` in every class): the polish's Newton system is exactly singular
    along each."""
    return [pos for pos in shifts if not np.any(curv[pos])]


def _gauge_fixed_step(H: np.ndarray | MultinomialHessian, c: np.ndarray, g: np.ndarray,
                      sets: list[np.ndarray], slope: np.ndarray, x: np.ndarray,
                      convex: bool, least_squares: bool = False,
                      cg_tol: dict[str, float] | None = None) -> np.ndarray | None:
    """The Newton step ``(H + diag(c))^-1 g`` of :func:`_polish` (:func:`_newton_solve`,
    with ``least_squares`` and ``cg_tol``) with the softmax gauge fixed; None where the
    solve fails.

    Along a direction ``u`` of :func:`_gauge_sets` (the indicator of a set) ``H u = 0``, and
    without the fix the step along ``u`` is rounding divided by an eigenvalue of rounding
    size (1 .. 1e10 and more, which the halving throws away). The last coordinate of each
    set is held still and the Newton system is solved for the others (well posed: the loss
    Hessian's null space along the sets is gone). Where F is flat along ``u`` (``slope``, the
    penalty part of ``u'g``, is 0: the intercepts, an unpenalised feature) the step is then
    centred on the set (a choice of gauge that keeps the set's mean). Where F is linear
    along ``u`` (an l1 feature with all K coefficients in the support, never stationary for
    odd K) the step moves along ``u`` until the first coefficient ``x`` of the set, after the
    Newton part, reaches 0: there the slope changes and the coefficient leaves the support.
    That move is for a ``convex`` penalty only: a non-convex one's slope also changes where
    a growing coefficient leaves its linear region (SCAD, MCP), and such a set keeps its
    last coordinate held (a choice of gauge that needs no solve of a singular system)."""
    if not sets:
        return _newton_solve(H, c, g, least_squares, cg_tol)
    keep = np.ones(g.size, dtype=bool)
    keep[[pos[-1] for pos in sets]] = False
    part = _newton_solve(principal(H, np.flatnonzero(keep)), c[keep], g[keep], least_squares,
                         cg_tol)
    if part is None:
        return None
    step = np.zeros_like(g)
    step[keep] = part
    for pos in sets:
        s = float(np.sum(slope[pos]))
        if s == 0.0:
            step[pos] -= step[pos].mean()
            continue
        if not convex:
            continue
        r = x[pos] - step[pos]  # the set's coefficients after the Newton part
        shrinking = r[(np.sign(r) == np.sign(s)) & (np.sign(x[pos]) == np.sign(s))]
        if shrinking.size:
            step[pos] += math.copysign(float(np.min(np.abs(shrinking))), s)
    return step


def _polish_cg_tolerance(g: np.ndarray, scale: float, level: float, convex: bool
                        ) -> dict[str, float]:
    """The tolerance of a matrix-free polish step's CG solve (:func:`_newton_solve`) for the
    gradient ``g``: :func:`~._irls.newton_cg_tolerance`'s inexact Newton step, whose forcing
    term ``eta = min(0.5, sqrt(||g||_inf / scale))`` gives superlinear convergence, and for a
    non-convex penalty ``eta = min(0.5, ||g||_inf / scale)^2``: near a solution its steps
    differ from the exact ones by the order of the gradient squared relative to them, so
    they cross 0 where the exact steps do and the polish ends at the exact steps' local
    minimum, while far from a solution a step costs a few products rather than a solve to
    rounding level (which, on the near-zero curvature directions of a large text support,
    CG does not reach within ``_CG_MAX_STEPS``; a fit from far away may then end at another
    local minimum). Both stop at the absolute residual ``level / 10`` at the latest."""
    tol = newton_cg_tolerance(g, scale, level, True)
    if not convex:
        tol["rtol"] = min(0.5, float(np.abs(g).max()) / scale) ** 2
    return tol


def _polish(problem: LogisticProblem, penalty: Penalty, lam: float, W: np.ndarray,
            b: np.ndarray, F: float, solver: str = "auto", max_steps: int = 30,
            scale: float = 1.0, level: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Newton's method on the stationarity equations restricted to the support of W (and
    the intercepts), with the full multinomial Hessian that the class-by-class steps lack
    (binary: the loss Hessian, after a tangent step; formed, or applied by products above
    the w-step's size rule: :func:`_loss_hessian`; ``solver`` is the w-step's).

    A coordinate that a step moves across 0 is set to 0 (it leaves the support); each step
    is halved until it lowers F (a full step may also leave F unchanged to rounding, where
    F cannot tell the steps apart but the gradient can). The iteration stops where the
    step reaches rounding level, or, matrix-free, where the support's gradient is at most
    ``level``. A matrix-free step (:func:`_newton_solve`) is inexact Newton's, to the
    tolerance of :func:`_polish_cg_tolerance` for ``level`` and ``scale`` (the size of the
    gradient's terms): the binary polish's forcing term for a convex penalty, and a
    tighter one for a non-convex one, whose steps then differ from the exact ones by the
    order of the gradient squared. Returns the polished point."""
    K = problem.n_columns
    for _ in range(max_steps):
        support = [np.flatnonzero(W[:, k]) for k in range(K)]
        M = problem.margins(W, b)
        R = problem.s[:, None] * problem.residual(M) / problem.total
        g_b = R.sum(axis=0)
        grad, pgrad, curv, x = [], [], [], []
        for k in range(K):
            idx = support[k]
            pen = penalty.restrict(idx)
            g_k = np.asarray(problem.X[:, idx].T @ R[:, k]).ravel()  # the support's gradient
            pgrad.append(lam * pen.grad(W[idx, k]))
            grad.append(-g_k)
            curv.append(lam * pen.curvature(W[idx, k]))
            x.append(W[idx, k])
            if problem.fit_intercept:
                grad.append(-g_b[k:k + 1])
                pgrad.append(np.zeros(1))
                curv.append(np.zeros(1))
                x.append(b[k:k + 1])
        pg, c = np.concatenate(pgrad), np.concatenate(curv)
        g = np.concatenate(grad) + pg
        if g.size == 0:
            break
        H = _loss_hessian(problem, M, support, solver)
        # exact factorised steps reach rounding level in a few more steps, and the dense
        # route goes there (as the binary polish's, :func:`~._irls.newton_on_support`); a
        # matrix-free step costs up to _CG_MAX_STEPS products, and that route stops at level
        if isinstance(H, MultinomialHessian) and np.abs(g).max() <= level:
            break
        step = _polish_step(problem, support, H, c, g, pg, np.concatenate(x), penalty.convex,
                            _polish_cg_tolerance(g, scale, level, penalty.convex))
        if step is None:
            break
        best = None
        t = 1.0
        for _ in range(_MAX_HALVINGS):
            W_t, b_t = W.copy(), b.copy()
            pos = 0
            for k in range(K):
                idx = support[k]
                new = W[idx, k] - t * step[pos:pos + idx.size]
                new[np.sign(new) != np.sign(W[idx, k])] = 0.0
                W_t[idx, k] = new
                pos += idx.size
                if problem.fit_intercept:
                    b_t[k] = b[k] - t * step[pos]
                    pos += 1
            F_t = objective(problem, penalty, lam, W_t, b_t)
            # a full step near the solution changes F below its rounding: allow that much
            if F_t < F or (t == 1.0 and F_t <= F + _ROUNDING * abs(F)):
                best = (W_t, b_t, F_t)
                break
            t *= 0.5
        if best is None:
            break
        W, b, F = best
        if t == 1.0 and np.max(np.abs(step)) <= 1e-12 * max(np.max(np.abs(W)), 1.0):
            break
    return W, b, F


def logistic_irls(problem: LogisticProblem, penalty: Penalty, lam: float, *,
                  coef_init: np.ndarray | None = None,
                  intercept_init: np.ndarray | None = None, solver: str = "auto",
                  max_iter: int = 100, tol: float = 1e-6,
                  inner_max_iter: int = 100, working_set: np.ndarray | None = None,
                  gradient: np.ndarray | None = None) -> LogisticResult:
    """Minimise F(W, b) (module docstring) by damped penalised Newton steps.

    Parameters
    ----------
    problem : LogisticProblem
    penalty : Penalty
        A penalty of :mod:`skdropout.penalties` (lam already set if it uses lam); for more
        than one column it must be separable.
    lam : float
        Regularisation strength (> 0).
    coef_init : ndarray of shape (n_features, n_columns), optional
        Warm start (default: W = 0 with the intercept-only model's intercept).
    intercept_init : ndarray of shape (n_columns,), optional
    solver : {"auto", "cholesky", "woodbury", "cg"}
        The w-step solver of the inner IRLS.
    max_iter : int
        Maximum number of Newton steps (cycles over the classes for multinomial problems).
    tol : float
        Scale-free tolerance on the KKT residual (and relative decrease of F).
    inner_max_iter : int
        Maximum number of IRLS iterations per Newton step.
    working_set : ndarray of int, optional
        With a penalty that has a working set: the features of the first round of the
        outer working set besides the support of ``coef_init`` (a path's strong set;
        default: the worst violators at the start, :func:`_screened`).
    gradient : ndarray of shape (n_features, n_columns), optional
        ``X'(s (Y - P))/S`` at (``coef_init``, ``intercept_init``), when the caller has it
        (a path: the previous solution's ``gradient``).

    Returns
    -------
    LogisticResult
        Its ``gradient`` is ``X'(s (Y - P))/S`` at the solution.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.penalties import get_penalty
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5))
    >>> y = (X @ [2.0, 0, 0, -1.0, 0] + 0.3 * rng.standard_normal(200) > 0).astype(float)
    >>> prob = LogisticProblem(X, y[:, None], np.ones(200), 200.0, True)
    >>> res = logistic_irls(prob, get_penalty("l1"), 0.05)
    >>> res.converged, np.flatnonzero(res.coef[:, 0]).tolist()
    (True, [0, 3])
    """
    K, d = problem.n_columns, problem.d
    if K > 1 and not penalty.separable:
        raise ValueError(f"penalty={penalty.name!r} is not separable; a multinomial fit "
                         "penalises all K x d coefficients entry by entry and needs a "
                         "separable penalty (e.g. l1, elasticnet, logsum, mcp, scad).")
    b0, M0 = problem.null_model()
    W = np.zeros((d, K)) if coef_init is None else np.array(coef_init, dtype=np.float64)
    b = b0.copy() if intercept_init is None else np.array(intercept_init, dtype=np.float64)
    if not problem.fit_intercept:
        b = np.zeros(K)
    G, g_b = problem.null_gradient()
    scale = float(np.max(np.abs(G))) if G.size else 0.0
    if scale == 0.0 and coef_init is None:  # y is orthogonal to every column
        M = problem.margins(W, b)
        F = problem.loss(M) + lam * penalty_total(penalty, W)
        return LogisticResult(W, b, _eta(penalty, W), 0, [F], True, 0.0, G)
    scale = scale if scale > 0 else 1.0
    options = dict(solver=solver, tol=tol, inner_max_iter=inner_max_iter)
    if not uses_working_set(penalty) or d <= _OUTER_WS:
        res = _newton(problem, penalty, lam, W, b, scale, coef_init is not None,
                      max_iter=max_iter, **options)
    else:
        M = None
        if coef_init is not None or intercept_init is not None:
            M = problem.margins(W, b)
            if gradient is None:
                G, g_b = problem.neg_gradient(M)
            else:  # the intercepts' part costs no product with X
                G, g_b = gradient, problem.s @ problem.residual(M) / problem.total
        res = _screened(problem, penalty, lam, W, b, G, g_b, scale, max_iter, options,
                        working_set, M)
    if K > 1 and problem.fit_intercept:
        res.intercept = res.intercept - res.intercept.mean()  # softmax: a common shift
    return res


def step_outweighs_check(problem: LogisticProblem, sub: LogisticProblem) -> bool:
    """Whether a Newton step on the working set of ``sub`` costs more than a round's check
    of every feature of ``problem``.

    The step's largest item is the Gram matrix ``X_S' D X_S`` of its Hessian: ``n s^2``
    multiply-adds for a dense X of ``s`` set columns, against the ``n d`` of the check's
    gradient ``X'(y - p)``; for a sparse X about ``2 nnz(X_S)^2 / n`` (the products of the
    entries that share a row, if the rows hold equally many; scipy's sparse product passes
    over them twice), against ``nnz(X)``.
    """
    if problem.sparse:
        return 2.0 * sub.X.nnz ** 2 / problem.n >= problem.X.nnz
    return sub.d ** 2 >= problem.d


def _screened(problem: LogisticProblem, penalty: Penalty, lam: float, W: np.ndarray,
              b: np.ndarray, G: np.ndarray, g_b: np.ndarray, scale: float, max_iter: int,
              options: dict, start: np.ndarray | None = None,
              M: np.ndarray | None = None) -> LogisticResult:
    """:func:`_newton` on an outer working set of features (a penalty with a working set).

    The set starts with the nonzero rows of W and the features ``start`` (a path's strong
    set), or without ``start`` the ``_OUTER_WS`` (sparse X: ``_OUTER_WS_SPARSE``; binary
    with a convex penalty all of them if more, up to ``_FIRST_WS_ROWS * n``, where that
    many go to the matrix-free route) worst violators of the optimality condition at the
    start (``G``, ``g_b``: the loss's negative gradient there, ``M``: the margins, when the
    caller has them); each round solves the problem restricted to it (the other coefficients
    held at 0, so its F is the full F; with a convex penalty and no ``start``, a round that
    adds violators takes one Newton step where :func:`step_outweighs_check`), computes the
    full gradient once, and, while a zero outside violates its condition by more than
    ``tol``, adds the worst violators (at most as many as the set holds, so it at most
    doubles). A round ends at its first Newton cycle without descent; where the fit would
    then stop short of ``tol`` with no violator outside, a non-convex penalty's next round
    runs on the tangent model (:func:`_newton`'s ``tangent``) instead. Every Newton
    step works on the data of the set only (for a sparse X the inner IRLS starts with all
    of it, :func:`_newton_direction`), and the full X is read once per round.
    For a sparse X each round's :func:`_newton` starts from the margins, gradient and
    (first round) loss that the set's check computed at the same (W, b): the set's gradient
    is the rows ``cols`` of the full one, each entry the same sum over a column's stored
    entries in the same order (a dense X's BLAS products of other shapes round otherwise,
    so its rounds compute their own).
    """
    d, tol = problem.d, options["tol"]
    # a convex fit without a caller's first set (a path's fits have one)
    cold_convex = penalty.convex and start is None
    smallest = _OUTER_WS_SPARSE if problem.sparse else _OUTER_WS
    violators_first = problem.binary and problem.sparse and cold_convex
    cols = np.zeros(0, dtype=np.intp)
    slope0 = np.broadcast_to(penalty_slope0(penalty), (d,))
    M = problem.margins(W, b) if M is None else M
    loss = problem.loss(M)  # None once M moves: the next round's _newton computes it
    F = loss + lam * penalty_total(penalty, W)
    path, it, converged, inner_tol, separated = [F], 0, False, math.inf, False
    sub = sub_cols = None  # the problem restricted to the set, and the set
    # whether the last round ran on the tangent model (a convex penalty has none to try, so
    # its fit stops where it stalls, and a round on the tangent model is never asked of it)
    tangent_tried = penalty.convex
    while True:
        res = np.max(np.column_stack([kkt_residuals(G[:, k], W[:, k], penalty, lam)
                                      for k in range(W.shape[1])]), axis=1) / scale
        kkt = max(float(res.max()),
                  float(np.max(np.abs(g_b))) / scale if problem.fit_intercept else 0.0)
        if kkt <= tol or it >= max_iter or separated:
            converged = kkt <= tol and not separated
            break
        outside = np.ones(d, dtype=bool)
        outside[cols] = False
        n_viol = int(np.count_nonzero(outside & (res > tol)))
        # the restricted problem stopped short of tol, and there is nothing new to add: the
        # fit stops there, after a round on the tangent model
        stalled = n_viol == 0 and inner_tol == tol
        if stalled and tangent_tried:
            break
        nonzero = np.any(W != 0, axis=1)
        support = np.flatnonzero(nonzero)
        # violators first, then the zeros closest to violating (|g_j| / (lam slope0_j)):
        # a set of twice the support saves the rounds that would add them one by one
        with np.errstate(divide="ignore", invalid="ignore"):
            close = np.max(np.abs(G), axis=1) / (lam * slope0)
        cand = np.flatnonzero(outside & ~nonzero)
        count = max(min(n_viol, max(cols.size, smallest)),
                    2 * support.size - cols.size) if n_viol else 0
        whole = False  # a first set of every violator, solved whole
        if n_viol and violators_first and not cols.size:
            # the first round of a sparse binary convex fit: every violator (_FIRST_WS_ROWS)
            first = min(int(np.count_nonzero(close[cand] > 1.0)),
                        int(_FIRST_WS_ROWS * problem.n))
            if choose_solver(options["solver"], problem, first) == "cg":
                count, whole = max(count, first), True
        if start is not None:  # the caller's first set
            add, start = start, None
        else:
            add = cand if count >= cand.size else cand[
                np.argpartition(-close[cand], count - 1)[:count]]  # the `count` closest
        outside[add] = outside[support] = False
        cols = np.flatnonzero(~outside)  # the set, its violators and the support, sorted
        # an incomplete set is solved loosely: its solution moves when the violators enter
        inner_tol = tol if n_viol == 0 else max(tol, 0.1 * kkt)
        tangent_tried = penalty.convex or stalled
        if sub is None or not np.array_equal(sub_cols, cols):
            # a round without new features (the tight solve after a loose one) keeps it
            sub, sub_cols = problem.restrict(cols), cols
        # where a Newton step on the set costs more than the check after it, a round that
        # took in violators gets one step: the next round's set holds the violators its
        # solution moves for. Not for a non-convex penalty, whose iterates then take other
        # paths, to other stationary points (and more steps) on the benchmarks' correlated
        # designs, nor for a path's fit: its warm start and strong set are close to the
        # solution, and its rounds, cut, end a loose tol's fit further from it
        steps = max_iter - it
        if cold_convex and n_viol and not whole and step_outweighs_check(problem, sub):
            steps = 1
        inner = _newton(sub, penalty.restrict(cols), lam, W[cols], b, scale, True,
                        max_iter=steps, screened=True, fallback=False,
                        tangent=stalled,
                        start=(M, loss, G[cols], g_b) if problem.sparse else None,
                        **{**options, "tol": inner_tol})
        it += inner.n_iter
        path.extend(inner.objective_path[1:])
        W = np.zeros_like(W)
        W[cols], b = inner.coef, inner.intercept
        # W is 0 off cols: the margins come from the restricted columns
        M, loss = sub.margins(inner.coef, b), None
        G, g_b = problem.neg_gradient(M)
        separated = inner.separated
    return LogisticResult(W, b, _eta(penalty, W), it, path, converged, kkt, G, separated)


def _newton(problem: LogisticProblem, penalty: Penalty, lam: float, W: np.ndarray,
            b: np.ndarray, scale: float, warm_init: bool, *, solver: str, max_iter: int,
            tol: float, inner_max_iter: int, screened: bool = False, fallback: bool = True,
            tangent: bool = False,
            start: tuple[np.ndarray, float | None, np.ndarray, np.ndarray] | None = None
            ) -> LogisticResult:
    """Damped penalised Newton steps from (W, b) on all the features of ``problem``
    (:func:`logistic_irls` without its outer working set); ``scale``: the unit of the KKT
    residual, ``warm_init``: W is a warm start (not zero), ``screened``: ``problem`` is
    restricted to an outer working set (:func:`_newton_direction`), ``fallback``: a cycle
    that finds no descent switches the steps to the tangent model of a non-convex penalty
    (module docstring; without it such a cycle ends the iteration, as a round of
    :func:`_screened` does), ``tangent``: the steps take the tangent model from the start,
    ``start``: the margins ``M = X W + b``, the loss at M (or None) and
    :meth:`LogisticProblem.neg_gradient` at M, when the caller has them."""
    K = problem.n_columns
    screen = uses_working_set(penalty)
    shape = getattr(penalty, "base", penalty)  # a penalty factor does not change eta_hat(0)
    revives = bool(np.all(np.asarray(shape.eta_hat(np.zeros(1))) > 0))
    pc = None  # the complements at the current M, where the gradient computed them
    if start is None:
        M = problem.margins(W, b)
        loss = problem.loss(M)
        pc = problem.complements(M)
        G, g_b = problem.neg_gradient(M, pc)  # kept at the current M
    else:
        M, loss, G, g_b = start
        loss = problem.loss(M) if loss is None else loss
    F = loss + lam * penalty_total(penalty, W)
    path = [F]
    kkt = _kkt(problem, penalty, lam, W, G, g_b) / scale
    converged, separated, it, stalls, best_kkt = False, False, 0, 0, kkt
    # the steps take the tangent model once a cycle of the penalised one found no descent
    # (module docstring): where one step's model minimiser lies in another basin, the next
    # steps' do too, and each would cost a solve before its failed line search. A class of
    # a multinomial fit whose step finds none is skipped in its cycle, as long as others move
    fallback = fallback and screen and not penalty.convex
    for it in range(1, max_iter + 1):
        F_prev, moved = F, False
        for k in range(K):
            # the first step of a penalty whose zeros are absorbing starts from least squares
            warm = screen or revives or it > 1 or warm_init
            forcing = max(0.1 * tol, min(0.1, kkt) * kkt) * scale
            model = _tangent(penalty, W[:, k]) if tangent else penalty
            w_new, b_new = _newton_direction(problem, model, lam, k, M, W[:, k],
                                             float(b[k]), warm, forcing, solver,
                                             inner_max_iter, screened, pc)
            step = _line_search(problem, penalty, lam, k, M, W, b, F, -G[:, k],
                                -float(g_b[k]), w_new, b_new)
            if step is None:
                continue
            W, b, M, F = step
            pc = problem.complements(M)
            G, g_b = problem.neg_gradient(M, pc)
            moved = True
        kkt = _kkt(problem, penalty, lam, W, G, g_b) / scale
        if screen and (K > 1 or tangent) and moved and kkt > tol:
            # the polish needs the support's gradient only a tenth below the tolerance
            W_p, b_p, F_p = _polish(problem, penalty, lam, W, b, F, solver, scale=scale,
                                    level=0.1 * tol * scale)
            M_p = problem.margins(W_p, b_p)
            G_p, g_b_p = problem.neg_gradient(M_p)
            kkt_p = _kkt(problem, penalty, lam, W_p, G_p, g_b_p) / scale
            if kkt_p < kkt or F_p < F:
                W, b, F, M, kkt, G, g_b = W_p, b_p, F_p, M_p, kkt_p, G_p, g_b_p
                pc = None
        rel = (F_prev - F) / max(abs(F), np.finfo(float).tiny)
        path.append(F)
        if moved and flat_separation(problem, penalty, W, M):
            separated = True  # no minimiser ahead: the steps would only grow W
            break
        if kkt <= tol and (screen or rel <= tol):
            converged = True
            break
        if not moved and fallback and not tangent:
            tangent = True
            continue
        # a cycle that lowers F by no more than its rounding and leaves the KKT residual above
        # _PROGRESS times the smallest of the cycles since F last fell made no visible
        # progress (its accepted steps are halved to where F cannot tell them apart, and a
        # residual at its own rounding level wanders, setting new smallest values by
        # chance): _PATIENCE of them in a row are a stall
        if F_prev - F <= _ROUNDING * abs(F) and kkt > _PROGRESS * best_kkt:
            stalls, best_kkt = stalls + 1, min(best_kkt, kkt)
        else:
            stalls, best_kkt = 0, kkt
        if not moved or stalls >= _PATIENCE:  # no Newton step lowers F: stationary to rounding
            converged = kkt <= tol or (not screen and rel <= tol)
            break
    return LogisticResult(W, b, _eta(penalty, W), it, path, converged, kkt, G, separated)


def _polish_fraction(problem: LogisticProblem, penalty: Penalty) -> float:
    """A Newton step's ``polish_tol`` for its inner IRLS, as a fraction of the step's own
    ``tol`` (``_POLISH_FRACTION_BINARY`` for a binary fit, ``_POLISH_FRACTION`` for a
    multinomial one with a convex penalty, else 0: rounding level)."""
    if problem.binary:
        return _POLISH_FRACTION_BINARY
    return _POLISH_FRACTION if penalty.convex else 0.0


def _tangent(penalty: Penalty, w: np.ndarray) -> Penalty:
    """The tangent (local linear approximation) of a separable ``penalty`` at ``w``: the
    weighted l1 penalty ``sum_j v_j |u_j|`` with ``v_j = |Omega'(w_j)|`` at a nonzero ``w_j``
    and ``v_j = slope0`` at a zero one, whose one-sided directional derivatives at ``w``
    equal Omega's. For a penalty concave in ``|w|`` (logsum, mcp, scad) it majorises
    ``Omega`` up to a constant."""
    v = np.array(np.broadcast_to(penalty_slope0(penalty), w.shape), dtype=np.float64)
    nz = np.flatnonzero(w)
    v[nz] = np.abs(penalty.restrict(nz).grad(w[nz]))
    return Factored(L1(), v)


def _eta(penalty: Penalty, W: np.ndarray) -> np.ndarray:
    return np.column_stack([np.asarray(penalty.eta_hat(W[:, k]), dtype=np.float64)
                            for k in range(W.shape[1])]) if W.size else W.copy()
