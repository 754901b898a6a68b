"""Adaptive dropout for logistic and multinomial regression: Algorithm 1 (appendix B) on the
log-loss, with the Fisher-weighted keep probabilities of Wager, Wang and Liang (2013).

**The dropout penalty of a GLM.** Dropout on the inputs draws a mask per sample, feature
and class, ``x_ij -> s_ijk x_ij`` with ``E[s] = 1`` and ``E[s^2] = 1/alpha_jk`` (the
intercept is never masked); it perturbs the margin of sample i in class k by
``sum_j (s_ijk - 1) x_ij w_jk``, of variance ``sum_j (1/alpha_jk - 1) x_ij^2 w_jk^2`` and
uncorrelated across classes. A second-order expansion of the log-loss ``l_i`` in its
margins gives

    E_s[L] = L(W) + 1/2 sum_jk (1/alpha_jk - 1) c_jk w_jk^2 + (third and higher moments),
    c_jk = 1/S sum_i s_i p_ik (1 - p_ik) x_ij^2,

with ``L(W) = 1/S sum_i s_i l_i`` (``s_i`` the sample weights, ``S`` their sum) and ``p`` the
model's probabilities: the Fisher-weighted Tikhonov penalty, the logistic counterpart of
eq. (4) with ``c_jk`` in place of ``(X'X/n)_jj``. The keep probability

    alpha_jk = c_jk eta_jk / (c_jk eta_jk + lam),    eta = eta_hat(W)    (cf. eq. 8)

makes that penalty ``lam/2 sum w_jk^2 / eta_jk``, the eta-trick's (6), whose minimum over eta
is ``lam * Omega(W)``. :func:`fisher_weights` computes ``c``; the second-order term is
checked against a Monte Carlo average of the masked loss in the tests.

**The iteration.** Algorithm 1 splits the masked loss ``L(w + (s - 1) * v)`` (v a copy of w)
into its masked forward pass, whose gradient in w is a step, and the Tikhonov part carried
by v, applied as the proximal step ``w <- eta / (eta + r lam) * (w - r g)`` with eta at the
current point (as in :mod:`._dropout`). The masked gradient of the log-loss is not unbiased
(its mean differs from ``grad L(w)`` by third-order terms); it enters through the control
variate of SVRG: every ``_INNER`` masked steps the exact gradient ``mu`` of L at a snapshot
``w~`` is taken, and each step uses

    g = grad L_s(w) - grad L_s(w~) + mu     (the same masks s in both terms),

``L_s`` the log-loss of the dropped-out inputs and its gradient that of Algorithm 1 (in w,
with the masked copy v held fixed: ``X'(s (p_s - y))/S``, p_s the masked probabilities).

At ``w = w~`` this is ``mu`` for every mask, so a fixed point of the iteration satisfies
``0 = grad L(W) + lam W / eta_hat(W)``: the stationarity of

    F(W, b) = 1/S sum_i s_i l_i(x_i'W + b) + lam * Omega(W),

the objective of :class:`~skdropout.linear.IRLSClassifier`, exactly (not to second order).
What is second order is only the statement that the proximal Tikhonov term is what the masks
add to the expected loss. The masks' noise, proportional to ``w - w~``, vanishes there, so a
constant step converges.

As in :mod:`._dropout`: the steps run on a working set of features (for separable penalties
with ``0 < slope0 < inf``) that grows by the zeros violating ``|grad_jk| <= lam slope0``;
such a zero re-enters by one Algorithm-1 step from 0 (gradient step, then eta_hat of the
moved point), and for convex penalties a coordinate near 0 whose zeroing lowers F is set to
0; each such move is kept only when it lowers F. The intercept is a free parameter of
the centred model ``X W + b_c - xbar'W`` (a reparameterisation that decouples it from W).
Steps are preconditioned by the diagonal q of the loss Hessian in these parameters
(coordinate jk moves by ``rho / q_jk``), ``rho`` is ``1/L`` for the preconditioned
Hessian at the start of each working set, halved when F at a snapshot rises twice in a row,
and the masked steps use Nesterov momentum with restarts. The fit stops when the largest KKT
residual (and intercept gradient) divided by its value at the intercept-only model is at
most ``tol``: the rule of :func:`~skdropout.linear._logistic.logistic_irls`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..penalties import Penalty
from ._dropout import _Momentum, draw_mask, keep_prob
from ._irls import _PRUNE, kkt_residuals, penalty_slope0, uses_working_set
from ._logistic import LogisticProblem, kkt_scale, objective, penalty_total

_INNER = 5             # masked steps between two snapshots (SVRG epoch)
_MAX_HALVINGS = 60     # step halvings in a row (no progress) before the run gives up
_ROUNDING = 1e-12      # relative rounding of F: rises below it are not divergence
_REACH = 0.1           # pruning looks at |w_jk| <= _REACH * r_jk * lam * slope0
_N_POWER = 30          # power iterations for the step


@dataclass
class LogisticDropoutResult:
    """Outcome of :func:`logistic_dropout` (``coef`` of shape (n_features, n_columns);
    ``intercept`` of the uncentred model)."""

    coef: np.ndarray
    intercept: np.ndarray
    eta: np.ndarray
    keep_prob: np.ndarray
    n_iter: int
    objective: float
    converged: bool
    kkt: float
    learning_rate: float


class _Block:
    """Products with the working set's columns of X and, when the intercept is fitted, the
    intercept. The parameters ``T`` are the rows of W on the columns and then (intercept) the
    intercept ``b_c`` of the centred model ``m = X W + b_c - xbar'W``: centring is a
    reparameterisation of the free intercept (the model and its masks are those of the raw
    inputs) that decouples it from W. X stays as given (sparse stays sparse)."""

    def __init__(self, X: Any, offset: np.ndarray, cols: np.ndarray, intercept: bool) -> None:
        self.cols, self.intercept = cols, intercept
        self.sparse = sp.issparse(X)
        self.B = X[:, cols].tocsr() if self.sparse else np.asarray(X[:, cols])
        self.off = offset[cols]

    def _split(self, T: np.ndarray) -> tuple[np.ndarray, np.ndarray | float]:
        return (T[:-1], T[-1]) if self.intercept else (T, 0.0)

    def dot(self, T: np.ndarray) -> np.ndarray:
        """The margins ``X W + b_c - xbar'W`` for ``T`` of shape (len(cols) [+ 1], K)."""
        W, b = self._split(T)
        return np.asarray(self.B @ W) - self.off @ W + b

    def masked_dot(self, T: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
        """The margins with column k of W applied to the masked inputs ``x_ij s_ijk``:
        ``masks[k]`` holds one mask per stored entry of X (per sample and feature)."""
        W, b = self._split(T)
        out = np.empty((self.B.shape[0], W.shape[1]))
        for k, s in enumerate(masks):
            if self.sparse:
                Bk = sp.csr_matrix((self.B.data * s, self.B.indices, self.B.indptr),
                                   shape=self.B.shape)
            else:
                Bk = self.B * s.reshape(self.B.shape)
            out[:, k] = Bk @ W[:, k]
        return out - self.off @ W + b

    def entry_columns(self) -> np.ndarray:
        """The column (within the block) of each stored entry, in the order of the masks."""
        if self.sparse:
            return self.B.indices
        return np.broadcast_to(np.arange(self.B.shape[1]), self.B.shape).ravel()

    def tdot(self, U: np.ndarray) -> np.ndarray:
        """The transpose of :meth:`dot` applied to ``U`` of shape (n_samples, K)."""
        out = np.asarray(self.B.T @ U) - np.outer(self.off, U.sum(axis=0))
        return np.vstack([out, U.sum(axis=0)]) if self.intercept else out

    def sq_tdot(self, H: np.ndarray, centred: bool) -> np.ndarray:
        """``sum_i h_ik x_ij^2`` per column j and k (``x - xbar`` when ``centred``; then with
        the intercept's row ``sum_i h_ik``)."""
        sq = self.B.multiply(self.B) if self.sparse else self.B * self.B
        out = np.asarray(sq.T @ H)
        if not centred:
            return out
        out = (out - 2.0 * self.off[:, None] * np.asarray(self.B.T @ H)
               + np.outer(self.off**2, H.sum(axis=0)))
        return np.vstack([out, H.sum(axis=0)]) if self.intercept else out


def fisher_weights(problem: LogisticProblem, P: np.ndarray, block: _Block,
                   centred: bool = False) -> np.ndarray:
    """The Fisher weights ``c_jk = 1/S sum_i s_i p_ik (1 - p_ik) x_ij^2`` of the block's
    columns (Wager et al.'s dropout penalty); ``centred``: of ``x - xbar`` and the intercept,
    the diagonal of the loss Hessian in the block's parameters (the step's preconditioner)."""
    return block.sq_tdot(problem.s[:, None] * P * (1.0 - P), centred) / problem.total


def _hess_dot(problem: LogisticProblem, block: _Block, P: np.ndarray,
              V: np.ndarray) -> np.ndarray:
    """The loss Hessian at probabilities P applied to V (parameters of the block)."""
    A = block.dot(V)
    if problem.binary:
        U = P * (1.0 - P) * A
    else:
        PA = P * A
        U = PA - P * PA.sum(axis=1, keepdims=True)
    return block.tdot(problem.s[:, None] * U) / problem.total


def _lipschitz(problem: LogisticProblem, block: _Block, P: np.ndarray,
               q: np.ndarray) -> float:
    """Largest eigenvalue of ``Q^-1/2 H Q^-1/2`` (H the Hessian at P) by power iteration."""
    inv = 1.0 / np.sqrt(q)
    v = np.random.default_rng(0).standard_normal(q.shape)
    lip = 0.0
    for _ in range(_N_POWER):
        nv = np.linalg.norm(v)
        if nv == 0:
            return 0.0
        v = inv * _hess_dot(problem, block, P, inv * v / nv)
        lip = float(np.linalg.norm(v))
    return lip


def logistic_dropout(problem: LogisticProblem, penalty: Penalty, lam: float, *,
                     coef_init: np.ndarray | None = None,
                     intercept_init: np.ndarray | None = None, mask: str = "bernoulli",
                     learning_rate: float | None = None, max_iter: int = 5000,
                     tol: float = 1e-6,
                     rng: np.random.Generator | None = None) -> LogisticDropoutResult:
    """Minimise F(W, b) (module docstring) by adaptive dropout (Algorithm 1).

    Parameters
    ----------
    problem : LogisticProblem
    penalty : Penalty
        Gives eta_hat, hence the keep probabilities ``c eta / (c eta + lam)``.
    lam : float
    coef_init : ndarray of shape (n_features, n_columns), optional
        Start (default 0, with the intercept-only model's intercept; for penalties without a
        working set, one preconditioned gradient step from there, since ``eta_hat(0) = 0``
        would keep every weight at 0).
    intercept_init : ndarray of shape (n_columns,), optional
    mask : {"bernoulli", "gaussian"}
        ``s = 1/alpha`` with probability alpha (inverted dropout) or ``N(1, 1/alpha - 1)``.
    learning_rate : float, optional
        Step rho in Fisher-preconditioned units; default ``1/L`` on each working set.
    max_iter : int
        Maximum number of epochs (a snapshot with its exact gradient and ``_INNER`` masked
        steps).
    tol : float
        Stop when the largest KKT residual divided by its value at the intercept-only model
        is at most ``tol``.
    rng : numpy Generator

    Returns
    -------
    LogisticDropoutResult

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear._logistic import LogisticProblem
    >>> from skdropout.penalties import get_penalty
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5))
    >>> y = (X @ [2.0, 0, 0, -1.0, 0] + 0.3 * rng.standard_normal(200) > 0).astype(float)
    >>> prob = LogisticProblem(X, y[:, None], np.ones(200), 200.0, True)
    >>> res = logistic_dropout(prob, get_penalty("l1"), 0.05, rng=np.random.default_rng(0))
    >>> res.converged, np.flatnonzero(res.coef[:, 0]).tolist()
    (True, [0, 3])
    """
    if problem.n_columns > 1 and not penalty.separable:
        raise ValueError(f"penalty={penalty.name!r} is not separable; a multinomial fit "
                         "penalises all K x d coefficients entry by entry and needs a "
                         "separable penalty (e.g. l1, elasticnet, logsum, mcp, scad).")
    run = _Run(problem, penalty, lam, mask, learning_rate, tol,
               np.random.default_rng() if rng is None else rng)
    return run.solve(coef_init, intercept_init, max_iter)


class _Run:
    """State of one :func:`logistic_dropout` fit: the full coefficients ``W`` (d, K) and the
    intercept ``b`` of the centred model."""

    def __init__(self, problem: LogisticProblem, penalty: Penalty, lam: float, mask: str,
                 learning_rate: float | None, tol: float, rng: np.random.Generator) -> None:
        self.problem, self.penalty, self.lam = problem, penalty, lam
        self.mask, self.tol, self.rng, self.rho_user = mask, tol, rng, learning_rate
        self.screen = uses_working_set(penalty)
        self.slope0 = penalty_slope0(penalty)
        self.icpt = problem.fit_intercept
        X = problem.X
        self.offset = (np.asarray(X.T @ problem.s).ravel() / float(problem.s.sum())
                       if self.icpt else np.zeros(problem.d))
        self.full = _Block(X, self.offset, np.arange(problem.d), self.icpt)
        self.scale = kkt_scale(problem)

    # -- the whole fit ---------------------------------------------------------------------
    def solve(self, coef_init: np.ndarray | None, intercept_init: np.ndarray | None,
              max_iter: int) -> LogisticDropoutResult:
        pr, lam = self.problem, self.lam
        d, K = pr.d, pr.n_columns
        b0, _ = pr.null_model()
        W = np.zeros((d, K)) if coef_init is None else np.array(coef_init, dtype=np.float64)
        b = b0.copy() if intercept_init is None else np.array(intercept_init, dtype=np.float64)
        b = b + self.offset @ W if self.icpt else np.zeros(K)  # the centred model's intercept
        if self.scale == 0.0 and coef_init is None:  # y orthogonal to every column
            return self._result(W, b, 0, True, 0.0, math.nan)
        scale = self.scale if self.scale > 0 else 1.0
        cols = np.flatnonzero(np.any(W != 0, axis=1)) if self.screen else np.arange(d)
        T = self._new_block(cols, W, b)
        if not self.screen and coef_init is None:
            # off the absorbing 0: one step of Algorithm 1 in the listing's order (gradient
            # step, then the proximal step with eta_hat of the moved point), which also
            # satisfies a constraint penalty (hardthresh keeps the top k)
            _, P = self._F(T)
            r = self.rho / self.q
            T = T - r * self._grad(self.block, P)
            eta = self._eta(T[:d])
            with np.errstate(invalid="ignore"):
                T[:d] = np.where(np.isinf(eta), T[:d], T[:d] * eta / (eta + r[:d] * lam))
            self.momentum.restart(T)
        epochs, kkt, converged, halvings, failed = 0, math.inf, False, 0, False
        best_T, best_F = T.copy(), math.inf
        while epochs < max_iter:
            epochs += 1
            F, P = self._F(T)
            # rises within the rounding of F are not divergence
            if not F <= best_F + _ROUNDING * (abs(best_F) + 1.0):
                if math.isinf(best_F):
                    raise FloatingPointError("The objective at the start is not finite.")
                # back to the best snapshot; halve the step when that did not help either
                T = best_T.copy()
                F, P = self._F(T)
                self.momentum.restart(T)
                if failed:
                    halvings += 1
                    if halvings > _MAX_HALVINGS:
                        break
                    self.rho *= 0.5
                failed = True
            elif F <= best_F:
                best_T, best_F, failed, halvings = T.copy(), F, False, 0
                self.rho = max(self.rho, min(1.25 * self.rho, self.cap))
            # the exact gradient of every column: KKT residuals and the working set
            Wf, bf = self._unpack(T)
            G = self._grad(self.full, P)
            Gw = G[:d]
            res = np.column_stack([kkt_residuals(-Gw[:, k], Wf[:, k], self.penalty, lam)
                                   for k in range(K)]) / scale
            res_row = res.max(axis=1, initial=0.0)
            res_b = float(np.max(np.abs(G[d]))) / scale if self.icpt else 0.0
            kkt = max(float(res_row.max(initial=0.0)), res_b)
            if kkt <= self.tol:
                converged = True
                break
            if not np.isfinite(kkt):
                break
            cols = self.block.cols
            if self.screen:
                outside = np.ones(d, dtype=bool)
                outside[cols] = False
                viol = np.flatnonzero(outside & (res_row > self.tol))
                inside = max(float(res_row[cols].max(initial=0.0)), res_b)
                # W is solved to a fraction of the residual outside it, then grows
                if viol.size and (inside <= 0.3 * float(res_row[viol].max())
                                  or cols.size == 0):
                    viol = viol[np.argsort(-res_row[viol], kind="stable")]
                    cols = np.sort(np.concatenate([cols, viol[:max(cols.size, 10)]]))
                    T = self._new_block(cols, Wf, bf)
                    best_T = T.copy()
            mu = G[np.append(self.block.cols, d)] if self.icpt else G[self.block.cols]
            r = self.rho / self.q
            c = fisher_weights(pr, P, self.block)
            if self.penalty.separable:
                moved = self._prune_and_enter(T, F, mu, r)
                if moved is not None:
                    T, F, P = moved
                    mu = self._grad(self.block, P)
                    best_T, best_F = T.copy(), F
                    self.momentum.restart(T)
            T = self._epoch(T, mu, c, r)
        if not np.all(np.isfinite(T)):
            T = best_T
        Wf, bf = self._unpack(T)
        return self._result(Wf, bf, epochs, converged, kkt, self.rho)

    def _new_block(self, cols: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Make ``cols`` the working set: its block, Fisher preconditioner ``q`` and step
        ``1/L`` at the current point, and a fresh momentum; returns its parameters."""
        self.block = _Block(self.problem.X, self.offset, cols, self.icpt)
        T = np.vstack([W[cols], b]) if self.icpt else W[cols].copy()
        _, P = self._F(T)
        q = fisher_weights(self.problem, P, self.block, centred=True)
        self.q = np.maximum(q, 1e-12 * max(float(q.max(initial=0.0)), 1e-300))
        # 1/L is the stable step of the noise-free iteration: a step halved for noise grows
        # back to it; a larger step (a user's) is kept only while F falls
        self.cap = 1.0 / max(_lipschitz(self.problem, self.block, P, self.q), 1e-300)
        self.rho = self.cap if self.rho_user is None else self.rho_user
        self.cap = min(self.cap, self.rho)
        self.momentum = _Momentum(T, True)
        return T

    def _unpack(self, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The full coefficients (d, K) and the centred intercept of block parameters T."""
        pr, k = self.problem, self.block.cols.size
        W = np.zeros((pr.d, pr.n_columns))
        W[self.block.cols] = T[:k]
        return W, (T[k].copy() if self.icpt else np.zeros(pr.n_columns))

    def _F(self, T: np.ndarray) -> tuple[float, np.ndarray]:
        """F at the block parameters T, and the probabilities there."""
        M = self.block.dot(T)
        return (self.problem.loss(M) + self.lam * penalty_total(self.penalty, self._unpack(T)[0]),
                self.problem.probabilities(M))

    def _grad(self, block: _Block, P: np.ndarray) -> np.ndarray:
        """The loss gradient in a block's parameters at probabilities P."""
        pr = self.problem
        return block.tdot(pr.s[:, None] * (P - pr.Y)) / pr.total

    def _eta(self, W: np.ndarray) -> np.ndarray:
        """eta_hat of each column of the block's W (IRLS's floor: 0 below 1e-14 of the
        largest finite eta, or where |w| is at the rounding level of the largest weight)."""
        cols = self.block.cols
        eta = np.empty_like(W)
        for k in range(W.shape[1]):
            if self.penalty.separable:
                eta[:, k] = self.penalty.restrict(cols).eta_hat(W[:, k])
            else:
                full = np.zeros(self.problem.d)
                full[cols] = W[:, k]
                eta[:, k] = np.asarray(self.penalty.eta_hat(full))[cols]
        finite = eta[np.isfinite(eta)]
        if finite.size:
            eta[eta <= _PRUNE * finite.max()] = 0.0
        eta[np.abs(W) <= _PRUNE * np.max(np.abs(W), initial=0.0)] = 0.0
        return eta

    def _result(self, W: np.ndarray, b: np.ndarray, epochs: int, converged: bool,
                kkt: float, rho: float) -> LogisticDropoutResult:
        pr = self.problem
        eta = np.column_stack([np.asarray(self.penalty.eta_hat(W[:, k]), dtype=np.float64)
                               for k in range(pr.n_columns)])
        M = self.full.dot(np.vstack([W, b]) if self.icpt else W)
        c = fisher_weights(pr, pr.probabilities(M), self.full)
        b = b - self.offset @ W if self.icpt else b
        if pr.n_columns > 1 and self.icpt:
            b = b - b.mean()  # softmax is invariant to a common shift
        return LogisticDropoutResult(W, b, eta, keep_prob(eta, c, self.lam), epochs,
                                     objective(pr, self.penalty, self.lam, W, b), converged,
                                     kkt, rho)

    # -- moves off and onto 0, and the masked steps ------------------------------------------
    def _prune_and_enter(self, T: np.ndarray, F: float, mu: np.ndarray,
                         r: np.ndarray) -> tuple[np.ndarray, float, np.ndarray] | None:
        """Convex penalties: exact zeros for the coordinates near 0 (``|w| <= _REACH r lam
        slope0``) whose zeroing lowers the quadratic model of F, ``-mu w + q w^2/2 - lam
        Omega(w) < 0`` (q the Hessian diagonal) (kept when F falls, else only the best one); then the zeros that
        violate ``|mu| <= lam slope0`` enter by one Algorithm-1 step from 0, halved until F
        falls. Returns the new parameters with F and the probabilities, or None."""
        lam, cols = self.lam, self.block.cols
        k = cols.size
        pen = self.penalty.restrict(cols)
        s0 = np.broadcast_to(np.asarray(self.slope0, dtype=np.float64),
                             (self.problem.d,))[cols][:, None]
        W, g = T[:k], mu[:k]
        best = None
        if self.penalty.convex:
            omega = np.column_stack([pen.pointwise(W[:, j]) for j in range(W.shape[1])])
            gain = -g * W + 0.5 * self.q[:k] * W**2 - lam * omega
            drop = (W != 0) & (np.abs(W) <= _REACH * r[:k] * lam * s0) & (gain < 0)
            if drop.any():
                trial = T.copy()
                trial[:k][drop] = 0.0
                F_t, P_t = self._F(trial)
                if not F_t < F:
                    one = np.unravel_index(np.argmin(np.where(drop, gain, np.inf)), W.shape)
                    trial = T.copy()
                    trial[:k][one] = 0.0
                    F_t, P_t = self._F(trial)
                if F_t < F:
                    T, F, best = trial, F_t, (trial, F_t, P_t)
                    g = self._grad(self.block, P_t)[:k]
        entered = self._enter(T, F, g, r[:k], pen, s0)
        return entered if entered is not None else best

    def _enter(self, T: np.ndarray, F: float, g: np.ndarray, r: np.ndarray, pen: Penalty,
               s0: np.ndarray) -> tuple[np.ndarray, float, np.ndarray] | None:
        """One Algorithm-1 step off 0 (gradient step, then eta_hat of the moved point) for
        the zeros of W violating ``|g| <= lam slope0``, halved until it lowers F."""
        lam, k = self.lam, self.block.cols.size
        if not self.screen:
            return None
        enter = (T[:k] == 0) & (np.abs(g) > lam * s0 * (1.0 + self.tol))
        if not enter.any():
            return None
        step = np.where(enter, r, 0.0)
        for _ in range(30):
            u = -step * g
            eta = np.column_stack([np.asarray(pen.eta_hat(u[:, j]), dtype=np.float64)
                                   for j in range(u.shape[1])])
            with np.errstate(invalid="ignore"):
                moved = np.where(np.isinf(eta), u, u * eta / (eta + step * lam))
            trial = T.copy()
            trial[:k][enter] = moved[enter]
            F_t, P_t = self._F(trial)
            if F_t < F:
                return trial, F_t, P_t
            step = 0.5 * step
        return None

    def _epoch(self, T: np.ndarray, mu: np.ndarray, c: np.ndarray,
               r: np.ndarray) -> np.ndarray:
        """``_INNER`` variance-reduced steps from the snapshot ``T~ = T``, each at the
        extrapolated point (Nesterov momentum): the forward passes of one draw of
        dropped-out inputs at the point and at the snapshot, then the proximal Tikhonov
        step."""
        pr, lam, k = self.problem, self.lam, self.block.cols.size
        snap = T.copy()
        entry_cols = self.block.entry_columns()
        for _ in range(_INNER):
            V = self.momentum.point(T)
            eta = self._eta(V[:k])
            live = eta > 0
            alpha = np.ones_like(eta)
            alpha[live] = keep_prob(eta[live], c[live], lam)
            masks = [draw_mask(self.rng, alpha[entry_cols, j], self.mask)
                     for j in range(eta.shape[1])]
            V[:k][~live] = snap[:k][~live]  # a pruned weight (alpha = 1) adds no noise
            P1 = pr.probabilities(self.block.masked_dot(V, masks))
            P2 = pr.probabilities(self.block.masked_dot(snap, masks))
            g = self.block.tdot(pr.s[:, None] * (P1 - P2)) / pr.total + mu
            U = V - r * g
            with np.errstate(invalid="ignore"):
                W = np.where(np.isinf(eta), U[:k], U[:k] * eta / (eta + r[:k] * lam))
            W[~live] = 0.0
            T = U
            T[:k] = W
            self.momentum.step(T)
        return T
