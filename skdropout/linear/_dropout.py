"""Adaptive dropout for least squares: Algorithm 1 (appendix B) and eq. (9), with the
variance reduction and the working set that make them reach the eta-trick's solution.

The masks ``s`` are unbiased with ``E[s_j^2] = 1/alpha_j`` (section 2.1): Gaussian
``s_j ~ N(1, 1/alpha_j - 1)`` or Bernoulli ``s_j = 1/alpha_j`` with probability alpha_j.
For data that is not standardised, eq. (4) reads

    E_s[L(s * w)] = L(w) + 1/2 sum_j (1/alpha_j - 1) c_j w_j^2,   c_j = (X'X/n)_jj,

so the keep probability used here is ``alpha_j = c_j eta_j / (c_j eta_j + lam)`` (eq. 8 with
eta_j scaled by c_j): then the expected masked loss equals ``L(w) + lam/2 sum w_j^2/eta_j``,
the eta-trick objective (6), for any X. On standardised data (c_j = 1) it is eq. (8).

One masked step on the working set W (coordinate j moves with the step ``r_j = rho / c_j``,
a diagonal preconditioner that makes the run invariant to column scales):

* ``strategy="proximal"`` (Algorithm 1, additive reparameterisation v = w): the gradient of
  ``L(w + (s - 1) * v)`` in w, which is ``X'(X (s * w) - y)/n``, then the Tikhonov proximal
  step ``w <- eta / (eta + r lam) * (w - r g)`` (written without dividing by eta).
* ``strategy="sgd"`` (eq. 9): ``w <- w - r * grad_w L(s * w)``, the gradient of the masked
  loss in w, ``s * X'(X (s * w) - y)/n``.

What makes the stochastic iteration converge to the eta-trick's fixed point, not near it
(none of it is an exact solve, an IRLS step or a Newton step):

* **eta at the current point.** The proximal step uses ``eta = eta_hat(w)`` of the point
  the gradient is taken at (the eta-trick's majoriser of Omega, tight at w), not of the
  point after the gradient step as the listing of Algorithm 1 does. With the listing's
  order the fixed point of a constant step satisfies ``|g_j| = lam |u_j|/(|u_j| + r lam)``
  (l1, ``u = w - r g``) instead of ``|g_j| = lam``: it is off by O(rho). Here a fixed point
  satisfies ``g = -lam w / eta_hat(w)``, the stationarity of eq. (1).
* **variance reduction (SVRG).** Every ``_INNER`` masked steps the exact gradient ``mu`` of
  L at a snapshot ``w~`` is taken, and each step uses the masked gradient at w minus the
  masked gradient at ``w~`` (the same mask) plus its mean: ``G (s * (w - w~)) + mu`` for
  Algorithm 1 (``G = X_W'X_W/n``). It is unbiased, and its noise, proportional to
  ``w - w~``, vanishes at the solution, so a constant step converges linearly; the plain
  masked gradient keeps a noise ``G ((s - 1) * w)`` of the size of w at the optimum.
* **working set, pruning, re-entry.** The steps run on a working set W with its Gram
  matrix (an O(k^2) step for k columns instead of O(nk)). The multiplicative Tikhonov step
  only shrinks a coordinate whose optimum is 0 geometrically; eta_hat below 1e-14 of the
  largest counts as 0 (IRLS's floor), and for convex penalties a coordinate near 0
  (``|w_j| <= r_j lam slope0 / 10``) whose zeroing lowers eq. (1) is set to 0 at a
  snapshot. For non-convex ones that move could drop a coordinate passing near 0 on its
  way to a nonzero optimum into another local minimum, so it is not made. A zero
  coordinate whose optimality condition ``|g_j| <= lam slope0`` fails re-enters with one
  step of Algorithm 1 from 0 in the listing's order (gradient step, then ``eta_hat`` of the
  moved point): ``eta_hat(0) = 0`` would otherwise keep it at 0 for ever. Each such move is
  kept only when it lowers eq. (1). W is solved to a fraction of the residual outside it;
  then the KKT conditions of every column are checked and the worst violators join W, as in
  IRLS. The fit stops when the KKT residual of every column, divided by ``||X'y/n||_inf``,
  is at most ``tol``: the stopping rule of IRLS.
* **momentum.** Algorithm 1's steps are taken at Nesterov's extrapolated point (restarted
  whenever the objective rises at a snapshot, never extrapolating across 0), so the number
  of epochs grows with the square root of the condition number of G. Eq. (9) runs without
  it: its explicit Tikhonov gradient ``lam w_j / eta_j`` has a curvature that grows without
  bound as eta_j -> 0, and extrapolation overshoots there.

The step is ``rho = 1/L`` (``L`` the largest eigenvalue of ``C^-1/2 G C^-1/2`` on W) unless
given. When a snapshot's objective is above the best one seen, the iteration returns to the
best snapshot and restarts the momentum, and halves the step if that happened at the previous
snapshot too (a step that diverges is caught); after each success a halved step grows back
towards ``1/L`` (never above a user's step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..penalties import Penalty
from ._design import Design
from ._irls import (_PRUNE, _WorkingSet, _eta_on, kkt_residuals, objective,
                    penalty_slope0, principal, uses_working_set)

STRATEGIES = ("proximal", "sgd")
MASKS = ("gaussian", "bernoulli")
# masked steps between two snapshots (SVRG epoch): the masks' noise, proportional to
# w - w~, grows with the steps since the snapshot; 5 takes less time than 3 or 10 on the
# ill-conditioned working sets of benchmarks/dropout_duality.py (wide150) and no more on
# the others
_INNER = 5
_MAX_HALVINGS = 60   # step halvings before the run gives up as diverged
_ROUNDING = 1e-10    # relative rounding of eq. (1) evaluated from the Gram matrix
_REACH = 0.1         # pruning looks at |w_j| <= _REACH * r_j * lam * slope0


@dataclass
class DropoutResult:
    """Outcome of :func:`adaptive_dropout`."""

    coef: np.ndarray
    eta: np.ndarray
    keep_prob: np.ndarray
    n_iter: int
    objective: float
    converged: bool
    kkt: float
    learning_rate: float


def keep_prob(eta: np.ndarray, c: np.ndarray, lam: float) -> np.ndarray:
    """``alpha = c eta / (c eta + lam)`` (eq. 8 with the scale c of eq. 4); 1 at eta = inf."""
    ce = c * eta
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(ce), 1.0, ce / (ce + lam))


def draw_mask(rng: np.random.Generator, alpha: np.ndarray, mask: str) -> np.ndarray:
    """An unbiased mask with ``E[s] = 1`` and ``E[s^2] = 1/alpha`` (alpha > 0)."""
    if mask == "gaussian":
        return 1.0 + np.sqrt(1.0 / alpha - 1.0) * rng.standard_normal(alpha.size)
    return (rng.random(alpha.size) < alpha) / alpha


class _Block:
    """Products with the working-set columns: ``G v = X_W'X_W v / n`` from the cached Gram
    matrix when W has at most n columns (one O(k^2) product), from the working set's
    matrix-free operator where it has one (a large W of a sparse X: two passes over the
    columns' stored entries), else from a cached dense copy of X_W (two O(nk) products)."""

    def __init__(self, design: Design, cols: np.ndarray,
                 ws: _WorkingSet | None = None) -> None:
        self.design = design
        reuse = ws is not None and ws.solver == "auto" and np.array_equal(ws.cols, cols)
        self.ws = ws if reuse else _WorkingSet(design, cols, "auto")
        self._XW: np.ndarray | None = None

    @property
    def cols(self) -> np.ndarray:
        return self.ws.cols

    def add(self, new: np.ndarray) -> None:
        self.ws.add(new)
        self._XW = None

    def _dense(self) -> np.ndarray:
        """The dense block ``X_W`` (the working set's, or a cached copy)."""
        if self._XW is None:
            self._XW = self.ws.XW if self.ws.XW is not None else self.design.block(self.cols)
        return self._XW

    def gram_dot(self, v: np.ndarray) -> np.ndarray:
        """``G v``."""
        if self.ws.G is not None:
            return self.ws.G @ v
        XW = self._dense()
        return XW.T @ (XW @ v) / self.design.n

    def sub_gram_dot(self, idx: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """``v -> G[idx][:, idx] v``: products on the positions ``idx`` of W only (the
        principal sub-matrix of the Gram matrix, or the columns ``idx`` of the block)."""
        if self.ws.G is not None:
            G = principal(self.ws.G, idx)
            return lambda v: G @ v
        XS, n = self._dense()[:, idx], self.design.n
        return lambda v: XS.T @ (XS @ v) / n

    def grad(self, w: np.ndarray) -> np.ndarray:
        """Exact gradient of L on W, ``G w - X_W'y/n``."""
        return self.gram_dot(w) - self.ws.c


class _Momentum:
    """Nesterov's extrapolation ``v = w + (k - 1)/(k + 2) (w - w_prev)`` for the masked
    steps, restarted (k = 0) when the objective rises at a snapshot or the pruning rule
    moves w: the gradient method's rate goes from the condition number of X_W'X_W/n to its
    square root, and the restart keeps it monotone at the snapshots."""

    def __init__(self, w: np.ndarray, active: bool) -> None:
        self.active = active
        self.restart(w)

    def restart(self, w: np.ndarray) -> None:
        self.prev, self.last, self.k = w.copy(), w.copy(), 0

    def point(self, w: np.ndarray) -> np.ndarray:
        """The point of the next step (w itself right after a restart)."""
        beta = (self.k - 1) / (self.k + 2) if self.k > 0 and self.active else 0.0
        v = w + beta * (w - self.prev)
        # no extrapolation across or onto 0: eta_hat there is 0 and would prune w_j
        # (for a non-convex penalty, into another local minimum)
        return np.where(np.sign(v) == np.sign(w), v, w)

    def step(self, w: np.ndarray) -> None:
        self.prev, self.last, self.k = self.last, w.copy(), self.k + 1

    def restrict(self, idx: np.ndarray) -> _Momentum:
        """The state on the coordinates ``idx`` (for steps that move only those)."""
        sub = _Momentum(self.last[idx], self.active)
        sub.prev, sub.k = self.prev[idx], self.k
        return sub

    def absorb(self, idx: np.ndarray, sub: _Momentum) -> None:
        """Take the state of ``sub``, which ran at least two steps on ``idx`` while every
        other coordinate stayed at 0 (so both of their last two points are 0)."""
        self.prev, self.last = np.zeros_like(self.prev), np.zeros_like(self.last)
        self.prev[idx], self.last[idx], self.k = sub.prev, sub.last, sub.k


def lipschitz(block: _Block, scale: np.ndarray, n_power: int = 50, seed: int = 0) -> float:
    """Largest eigenvalue of ``diag(scale)^-1/2 G diag(scale)^-1/2`` on the working set by
    power iteration (the smoothness constant of L in the preconditioned coordinates)."""
    inv = 1.0 / np.sqrt(scale)
    v = np.random.default_rng(seed).standard_normal(scale.size)
    lip = 0.0
    for _ in range(n_power):
        nv = np.linalg.norm(v)
        if nv == 0:
            return 0.0
        v = inv * block.gram_dot(inv * v / nv)
        lip = float(np.linalg.norm(v))
    return lip


def adaptive_dropout(design: Design, penalty: Penalty, lam: float, coef_init: np.ndarray, *,
                     mask: str = "gaussian", strategy: str = "proximal",
                     learning_rate: float | None = None, max_iter: int = 1000,
                     tol: float = 1e-6,
                     rng: np.random.Generator | None = None,
                     working_set: _WorkingSet | None = None) -> DropoutResult:
    """Minimise eq. (1) by adaptive dropout (Algorithm 1 or eq. 9) from ``coef_init``.

    Parameters
    ----------
    design : Design
    penalty : Penalty
        Gives eta_hat (eq. 7), hence the keep probabilities (eq. 8).
    lam : float
    coef_init : ndarray of shape (n_features,)
        Start; its nonzero coordinates form the first working set (for penalties without
        a working set, every column).
    mask : {"gaussian", "bernoulli"}
    strategy : {"proximal", "sgd"}
    learning_rate : float, optional
        Step rho in standardised units (coordinate j moves by ``rho / c_j`` times its
        gradient); default ``1 / L`` on each working set. Halved whenever the objective at a
        snapshot rises above the best one seen.
    max_iter : int
        Maximum number of epochs (a snapshot and its ``_INNER`` masked steps).
    tol : float
        Stop when the largest KKT residual over all columns divided by ``||X'y/n||_inf``
        is at most ``tol``.
    rng : numpy Generator
    working_set : _WorkingSet, optional
        The working set of ``coef_init`` with its Gram matrix (as :func:`default_start`
        returns it), used as the first W instead of being rebuilt.

    Returns
    -------
    DropoutResult

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear._design import Design
    >>> from skdropout.penalties import get_penalty
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 4)); y = X @ [2.0, 0, 0, -1.0]
    >>> res = adaptive_dropout(Design(X, y, None, True), get_penalty("l1"), 0.1,
    ...                        np.linalg.lstsq(X, y, rcond=None)[0],
    ...                        rng=np.random.default_rng(0))
    >>> res.converged, np.flatnonzero(res.coef).tolist()
    (True, [0, 3])
    """
    run = _Run(design, penalty, lam, mask, strategy, learning_rate, tol,
               np.random.default_rng() if rng is None else rng)
    return run.solve(np.array(coef_init, dtype=np.float64), max_iter, working_set)


def _entries(values: float | np.ndarray | None, idx: np.ndarray, size: int) -> np.ndarray:
    """``values[idx]`` of a per-coordinate array of length ``size`` or a scalar."""
    return np.broadcast_to(np.asarray(values, dtype=np.float64), (size,))[idx]


class _Run:
    """State of one :func:`adaptive_dropout` fit."""

    def __init__(self, design: Design, penalty: Penalty, lam: float, mask: str,
                 strategy: str, learning_rate: float | None, tol: float,
                 rng: np.random.Generator) -> None:
        self.design, self.penalty, self.lam = design, penalty, lam
        self.mask, self.strategy, self.tol, self.rng = mask, strategy, tol, rng
        self.rho_user = learning_rate
        self.screen = uses_working_set(penalty)
        self.c = design.col_sq_norms()
        g0 = design.xty()
        self.scale = float(np.max(np.abs(g0))) if design.d else 0.0
        self.yy = float(design.y @ design.y) / (2.0 * design.n)  # L(0)

    # -- the whole fit: outer working-set loop ------------------------------------------
    def solve(self, w: np.ndarray, max_iter: int,
              working_set: _WorkingSet | None) -> DropoutResult:
        d, lam = self.design.d, self.lam
        w[self.c <= 0] = 0.0
        kkt, epochs, converged, rho = math.inf, 0, False, math.nan
        if self.scale == 0.0:  # y orthogonal to every column: w = 0 minimises both terms
            w[:] = 0.0
            return self._result(w, 0, True, 0.0, math.nan)
        cols = np.flatnonzero(w) if self.screen else np.flatnonzero(self.c > 0)
        if self.screen:  # the start's residual outside its support sets W's first tolerance
            g = self.design.gradient(w)
            kkt = float(np.max(kkt_residuals(g, w, self.penalty, lam))) / self.scale
        block = _Block(self.design, cols, working_set)
        while True:
            if block.cols.size:
                # W is solved to a fraction of the residual outside it (then W grows)
                inner_tol = max(0.5 * self.tol, 0.3 * kkt if math.isfinite(kkt) else 0.0)
                wk, used, rho = self._inner(block, w[block.cols], max_iter - epochs,
                                            inner_tol)
                epochs += used
                w[:] = 0.0
                w[block.cols] = wk
            g = self.design.gradient(w)
            res = kkt_residuals(g, w, self.penalty, lam) / self.scale
            kkt = float(res.max()) if d else 0.0
            if kkt <= self.tol:
                converged = True
                break
            if epochs >= max_iter or not self.screen or not np.isfinite(kkt):
                break
            outside = np.ones(d, dtype=bool)
            outside[block.cols] = False
            viol = np.flatnonzero(outside & (res > self.tol))
            if viol.size == 0:  # the violations are inside W: more epochs there
                epochs += 1
                continue
            viol = viol[np.argsort(-res[viol], kind="stable")][:max(block.cols.size, 10)]
            block.add(np.sort(viol))
            epochs += 1  # the full gradient above is an epoch's worth of work
        return self._result(w, epochs, converged, kkt, rho)

    def _result(self, w: np.ndarray, epochs: int, converged: bool, kkt: float,
                rho: float) -> DropoutResult:
        eta = np.asarray(self.penalty.eta_hat(w), dtype=np.float64)
        return DropoutResult(w, eta, keep_prob(eta, self.c, self.lam), epochs,
                             objective(self.design, self.penalty, self.lam, w), converged,
                             kkt, rho)

    # -- one working set: SVRG epochs of masked steps ---------------------------------
    def _inner(self, block: _Block, w: np.ndarray, budget: int,
               tol: float) -> tuple[np.ndarray, int, float]:
        """Run epochs on W until its own KKT residual is below ``tol`` (or the budget ends).
        Returns the coefficients on W, the epochs used and the final step."""
        cols, lam = block.cols, self.lam
        q = self.c[cols]
        # the penalty on W's coordinates (per-feature factors follow the columns)
        self.pen = self.penalty.restrict(cols)
        self.pen_slope0 = penalty_slope0(self.pen)
        # 1/L is the stable step of the noise-free iteration: a step halved for noise grows
        # back to it; a larger step (a user's) is kept only while the objective falls
        stable = 1.0 / max(lipschitz(block, q), 1e-300)
        rho = stable if self.rho_user is None else self.rho_user
        cap = min(rho, stable)
        best_w, best_F, halvings, failed = w.copy(), math.inf, 0, False
        used = 0
        # eq. (9)'s explicit Tikhonov gradient, of curvature lam/eta, makes extrapolation
        # overshoot as eta -> 0: momentum for Algorithm 1 only
        self.momentum = _Momentum(w, self.strategy == "proximal")
        while used < budget:
            used += 1
            mu = block.grad(w)
            F = self._objective_on(block, w, mu)
            # rises within the rounding of the objective formula are not divergence
            if not F <= best_F + _ROUNDING * (abs(best_F) + self.yy):
                # diverging or noise-dominated: back to the best point with half the step
                if math.isinf(best_F):
                    raise FloatingPointError("The objective at the start is not finite.")
                # restart the momentum; halve the step when that did not help either
                w = best_w.copy()
                mu = block.grad(w)
                self.momentum.restart(w)
                if failed:
                    halvings += 1
                    if halvings > _MAX_HALVINGS:
                        break
                    rho *= 0.5
                failed = True
            elif F <= best_F:
                best_w, best_F, failed = w.copy(), F, False
                rho = max(rho, min(1.25 * rho, cap))
            r = rho / q
            res = kkt_residuals(-mu, w, self.pen, lam) / self.scale
            if res.max() <= tol:
                break
            if self.penalty.separable:
                moved = self._prune_and_enter(block, w, mu, q, r)
                if not np.array_equal(moved, w):
                    w = moved
                    mu = block.grad(w)
                    self.momentum.restart(w)
            w = self._epoch(block, w, mu, q, r)
        return best_w if not np.all(np.isfinite(w)) else w, used, rho

    def _objective_on(self, block: _Block, w: np.ndarray, mu: np.ndarray) -> float:
        """Eq. (1) at w on W from its gradient: ``L(w) = (w'(G w) - 2 c'w + y'y/n)/2``."""
        Gw_minus_c = mu
        loss = 0.5 * (w @ Gw_minus_c - w @ block.ws.c) + self.yy
        return float(loss + self.lam * self.pen.value(w))

    def _change(self, block: _Block, w: np.ndarray, mu: np.ndarray,
                new: np.ndarray) -> float:
        """Exact change of eq. (1) from w to new (``mu`` the gradient of L at w)."""
        delta = new - w
        idx = np.flatnonzero(delta)
        if idx.size == 0:
            return 0.0
        G_delta = (block.ws.G[:, idx] @ delta[idx] if isinstance(block.ws.G, np.ndarray)
                   else block.gram_dot(delta))
        return float(mu @ delta + 0.5 * delta @ G_delta
                     + self.lam * (self.pen.value(new) - self.pen.value(w)))

    def _prune_and_enter(self, block: _Block, w: np.ndarray, mu: np.ndarray,
                         q: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Convex penalties: exact zeros for coordinates near 0 (``|w_j| <= _REACH r_j lam
        slope0``, a tenth of the distance one step of the lasso's soft-thresholding moves)
        whose zeroing lowers eq. (1), ``-mu_j w_j + c_j w_j^2/2 - lam Omega(w_j) < 0`` with
        ``mu`` the exact gradient, kept only when the joint move lowers eq. (1) (else only
        the best single zeroing); then :meth:`_enter`."""
        lam = self.lam
        if not self.penalty.convex:
            # a coordinate of a non-convex problem passing near 0 on its way elsewhere
            # would be moved into another local minimum (and with an infinite slope at 0,
            # every zero is one): there only eta_hat's relative floor prunes
            return self._enter(block, w, mu, r)
        nz = np.flatnonzero(w)
        wn = w[nz]
        reach = _REACH * r[nz] * lam * _entries(self.pen_slope0, nz, w.size)
        gain = (-mu[nz] * wn + 0.5 * q[nz] * wn**2
                - lam * self.pen.restrict(nz).pointwise(wn))
        drop = nz[(np.abs(wn) <= reach) & (gain < 0)]
        pruned = w.copy()
        pruned[drop] = 0.0
        if drop.size > 1 and self._change(block, w, mu, pruned) > 0:
            pruned = w.copy()
            pruned[nz[np.argmin(gain)]] = 0.0
        if drop.size:
            mu = mu + block.gram_dot(pruned - w)
        return self._enter(block, pruned, mu, r)

    def _enter(self, block: _Block, w: np.ndarray, mu: np.ndarray,
               r: np.ndarray) -> np.ndarray:
        """One Algorithm-1 step off 0 (gradient step, then eta_hat of the moved point) for
        the zeros that violate ``|mu_j| <= lam slope0``, halved until it lowers eq. (1)."""
        lam = self.lam
        if not self.screen:
            return w
        slope0 = np.broadcast_to(self.pen_slope0, w.shape)
        enter = np.flatnonzero((w == 0) & (np.abs(mu) > lam * slope0 * (1.0 + self.tol)))
        if enter.size == 0:
            return w
        step = r[enter]
        for _ in range(30):
            u = -step * mu[enter]
            eta = np.asarray(self.pen.restrict(enter).eta_hat(u), dtype=np.float64)
            entered = w.copy()
            with np.errstate(invalid="ignore"):
                entered[enter] = np.where(np.isinf(eta), u, u * eta / (eta + step * lam))
            if self._change(block, w, mu, entered) < 0:
                return entered
            step = 0.5 * step
        return w

    def _epoch(self, block: _Block, w: np.ndarray, mu: np.ndarray, q: np.ndarray,
               r: np.ndarray) -> np.ndarray:
        """``_INNER`` variance-reduced masked steps from the snapshot ``w~ = w``, each taken
        at the extrapolated point ``w + beta (w - w_prev)`` (Nesterov momentum).

        A coordinate at 0 stays there for the whole epoch (its eta is 0, and the
        extrapolation never lands on 0), so the steps run on the nonzeros S of w alone, with
        products by ``G_SS``: on a working set much larger than its support (near n
        columns, most of them zero) they cost |S|/|W| of products by G."""
        lam = self.lam
        S = np.flatnonzero(w)
        momentum = self.momentum.restrict(S)
        dot = block.sub_gram_dot(S)
        pen = self.pen.restrict(S) if self.penalty.separable else None
        w_S, q, r, mu = w[S], q[S], r[S], mu[S]
        snap = w_S.copy()
        for _ in range(_INNER):
            w_S = momentum.point(w_S)
            eta = self._eta(w_S, block.cols[S], pen)
            live = eta > 0
            alpha = keep_prob(eta[live], q[live], lam)
            s = np.ones_like(w_S)
            s[live] = draw_mask(self.rng, alpha, self.mask)
            delta = np.where(live, w_S - snap, 0.0)
            if self.strategy == "proximal":
                g = dot(s * delta) + mu
                u = w_S - r * g
                with np.errstate(invalid="ignore"):
                    w_S = np.where(np.isinf(eta), u, u * eta / (eta + r * lam))
            else:  # eq. (9): s * grad L(s * w), its control variate at w~ and their mean
                tik = np.zeros_like(w_S)
                fin = live & np.isfinite(eta)
                tik[fin] = lam * snap[fin] / eta[fin]
                g = s * dot(s * delta) + mu + tik
                w_S = np.where(live, w_S - r * g, 0.0)
            w_S[~live] = 0.0
            momentum.step(w_S)
        self.momentum.absorb(S, momentum)
        out = np.zeros_like(w)
        out[S] = w_S
        return out

    def _eta(self, w: np.ndarray, cols: np.ndarray, pen: Penalty | None) -> np.ndarray:
        """eta_hat(w) on the columns ``cols`` (``pen``: the penalty restricted to them, for
        a separable one); 0 (pruned) where it is below 1e-14 of the largest finite eta
        (IRLS's floor) or where |w_j| is below 1e-14 of the largest weight (weights at
        rounding level, which the floor misses when every other eta is infinite)."""
        if pen is not None:
            eta = _eta_on(pen, w, np.arange(w.size))
        else:
            full = np.zeros(self.design.d)
            full[cols] = w
            eta = _eta_on(self.penalty, full, cols)
        eta[np.abs(w) <= _PRUNE * np.max(np.abs(w), initial=0.0)] = 0.0
        return eta
