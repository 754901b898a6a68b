"""Adaptive dropout for least squares: eq. (9) and Algorithm 1 (appendix B).

The masks ``s`` are unbiased with ``E[s_j^2] = 1/alpha_j`` (section 2.1): Gaussian
``s_j ~ N(1, 1/alpha_j - 1)`` or Bernoulli ``s_j = 1/alpha_j`` with probability alpha_j.
For data that is not standardised, eq. (4) reads

    E_s[L(s * w)] = L(w) + 1/2 sum_j (1/alpha_j - 1) c_j w_j^2,   c_j = (X'X/n)_jj,

so the keep probability used here is ``alpha_j = c_j eta_j / (c_j eta_j + lam)`` (eq. 8 with
eta_j scaled by c_j): then the expected masked loss equals ``L(w) + lam/2 sum w_j^2/eta_j``,
the eta-trick objective (6), for any X. On standardised data (c_j = 1) it is eq. (8).

* ``strategy="sgd"`` is eq. (9): ``w <- w - rho grad_w L(s * w)`` with ``alpha = alpha(eta_hat(w))``.
* ``strategy="proximal"`` is Algorithm 1 (additive reparameterisation, v = w): a stochastic
  gradient step on ``L(w + (s - 1) * v)``, then ``eta = eta_hat(v)`` and the Tikhonov proximal
  step ``v <- eta / (eta + rho lam) * v`` (written without dividing by eta).

Coordinate j moves with the step ``rho_t / c_j`` (a diagonal preconditioner: on
standardised data c_j = 1 and the updates are exactly eq. (9) and Algorithm 1; on other data
it makes the run invariant to the scale of each column, like the duality itself).
Coordinates whose eta_hat is exactly 0 are pruned (w_j = 0, alpha_j = 0 from then on: eta = 0
is absorbing, as in the eta-trick). The learning rate decays linearly to 0 over ``max_iter``
epochs (the schedule of the paper's appendix C); the result is the average of the iterates
of the second half of the schedule (Polyak-Ruppert), which removes most of the mask noise.
With a finite step, a coordinate whose optimum is 0 does not reach 0 but hovers at O(rho)
(for l1 at ``rho g_j^2 / (lam - |g_j|)``, where ``|g_j| < lam`` is its correlation with the
residual): at the end such coordinates, those for which 0 is stationary (``|g_j| <= lam slope0``
with w_j removed, the coordinates whose keep probability the dynamics drive to 0), are set to
exactly 0. A threshold on alpha during training would instead prune by noise: the mask noise
and the hover level both scale with rho, so their ratio never improves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..penalties import Penalty
from ._design import Design
from ._irls import objective, penalty_slope0, uses_working_set

STRATEGIES = ("proximal", "sgd")
MASKS = ("gaussian", "bernoulli")


@dataclass
class DropoutResult:
    """Outcome of :func:`adaptive_dropout`."""

    coef: np.ndarray
    eta: np.ndarray
    keep_prob: np.ndarray
    n_iter: int
    objective: float
    converged: bool


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


def lipschitz(design: Design, scale: np.ndarray, n_power: int = 50, seed: int = 0) -> float:
    """Largest eigenvalue of ``diag(scale)^-1/2 X'X/n diag(scale)^-1/2`` by power iteration
    (the smoothness constant of L in the preconditioned coordinates)."""
    inv = 1.0 / np.sqrt(scale)
    v = np.random.default_rng(seed).standard_normal(design.d)
    lip = 0.0
    for _ in range(n_power):
        nv = np.linalg.norm(v)
        if nv == 0:
            return 0.0
        v = inv * design.rmatvec(design.matvec(inv * v / nv)) / design.n
        lip = float(np.linalg.norm(v))
    return lip


def adaptive_dropout(design: Design, penalty: Penalty, lam: float, coef_init: np.ndarray, *,
                     mask: str = "gaussian", strategy: str = "proximal",
                     learning_rate: float | None = None, batch_size: int | None = None,
                     max_iter: int = 1000, tol: float = 1e-6,
                     rng: np.random.Generator | None = None) -> DropoutResult:
    """Train w by adaptive dropout (eq. 9 or Algorithm 1) from ``coef_init``.

    Parameters
    ----------
    design : Design
    penalty : Penalty
        Gives eta_hat (eq. 7), hence the keep probabilities (eq. 8).
    lam : float
    coef_init : ndarray of shape (n_features,)
        Start (zeros in it are pruned coordinates).
    mask : {"gaussian", "bernoulli"}
    strategy : {"proximal", "sgd"}
    learning_rate : float, optional
        Initial step rho_0 in standardised units (coordinate j moves by rho_t / c_j times its
        gradient); default ``1 / ||C^-1/2 X'X/n C^-1/2||_2`` with ``C = diag(c)`` (half of it
        for ``"sgd"``, whose gradient is multiplied by the mask).
    batch_size : int, optional
        Rows per step; default all rows (then the masks are the only randomness).
    max_iter : int
        Epochs; the step decays linearly to 0 over them.
    tol : float
        Stop early when an epoch changes w by less than ``tol * ||w||_inf`` (sup norm);
        otherwise the result is the average of the iterates of the second half.
    rng : numpy Generator

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
    ...                        np.linalg.lstsq(X, y, rcond=None)[0], max_iter=200,
    ...                        rng=np.random.default_rng(0))
    >>> np.flatnonzero(res.coef).tolist()
    [0, 3]
    """
    rng = np.random.default_rng() if rng is None else rng
    n, d = design.n, design.d
    c = design.col_sq_norms()
    w = np.array(coef_init, dtype=np.float64)
    alive = (w != 0) & (c > 0)
    w[~alive] = 0.0
    precond = 1.0 / np.where(c > 0, c, 1.0)  # per-coordinate steps rho_t / c_j
    if learning_rate is None:  # eq. (9) multiplies the gradient by s (E[s^2] = 1/alpha): halve it
        lip = lipschitz(design, np.where(c > 0, c, 1.0))
        learning_rate = (0.5 if strategy == "sgd" else 1.0) / max(lip, 1e-300)
    rho0 = learning_rate
    bs = n if batch_size is None else min(int(batch_size), n)
    n_batches = math.ceil(n / bs)
    total = max_iter * n_batches
    eta = _eta(penalty, w, alive)
    alpha = keep_prob(eta, c, lam)
    _prune(alive, w, eta, alpha, alpha <= 0)
    t, epoch, converged = 0, 0, False
    w_avg, n_avg = np.zeros(d), 0
    for epoch in range(1, max_iter + 1):
        w_epoch = w.copy()
        order = np.arange(n) if bs == n else rng.permutation(n)
        for start in range(0, n, bs):
            rho = rho0 * (1.0 - t / total)
            t += 1
            idx = order[start:start + bs]
            a = np.flatnonzero(alive)
            s = draw_mask(rng, alpha[a], mask)
            if bs == n:  # full batch: products with the (implicitly centred) design
                resid = design.matvec(s * w[a], a) - design.y
                grad = design.rmatvec(resid, a) / n
            else:
                Xb = design.rows(idx)[:, a]
                resid = Xb @ (s * w[a]) - design.y[idx]
                grad = Xb.T @ resid / idx.size
            rho_a = rho * precond[a]
            if strategy == "sgd":
                w[a] -= rho_a * s * grad  # eq. (9): the gradient of L(s * w) in w
                eta = _eta(penalty, w, alive)
            else:  # Algorithm 1: gradient in w of L(w + (s - 1) v), v = w; then the prox in v
                u = w[a] - rho_a * grad
                w[a] = u
                eta = _eta(penalty, w, alive)
                e = eta[a]
                with np.errstate(invalid="ignore"):
                    w[a] = np.where(np.isinf(e), u, u * e / (e + rho_a * lam))
            alpha = keep_prob(eta, c, lam)
            _prune(alive, w, eta, alpha, alpha <= 0)
            if 2 * t > total:  # Polyak-Ruppert average of the second half of the schedule
                n_avg += 1
                w_avg += (w - w_avg) / n_avg
        change = np.max(np.abs(w - w_epoch)) if d else 0.0
        if change <= tol * max(np.max(np.abs(w)) if d else 0.0, np.finfo(float).tiny):
            converged = True
            break
    if n_avg and not converged:
        w = np.where(alive, w_avg, 0.0)
    _prune_stationary_zeros(design, penalty, lam, w, alive)
    eta = _eta(penalty, w, alive)
    return DropoutResult(w, eta, keep_prob(eta, c, lam), epoch,
                         objective(design, penalty, lam, w), converged)


def _prune_stationary_zeros(design: Design, penalty: Penalty, lam: float, w: np.ndarray,
                            alive: np.ndarray) -> None:
    """Zero the coordinates for which 0 is stationary (in place): ``|g_j| <= lam slope0`` with
    ``g_j = X_j'(y - X w + X_j w_j)/n``. These are the coordinates whose keep probability the
    dynamics drive to 0 (for l1, ``w_j`` then contracts by ``|g_j|/lam`` per step); with a
    finite learning rate they hover at O(rho) instead of reaching 0. Only for separable
    penalties with a finite positive slope at 0 (for the others 0 is always, or never,
    stationary and only exact zeros are pruned)."""
    if not uses_working_set(penalty):
        return
    g = design.rmatvec(design.y - design.matvec(w)) / design.n + design.col_sq_norms() * w
    drop = alive & (np.abs(g) <= lam * penalty_slope0(penalty))
    alive &= ~drop
    w[drop] = 0.0


def _prune(alive: np.ndarray, w: np.ndarray, eta: np.ndarray, alpha: np.ndarray,
           drop: np.ndarray) -> None:
    """Prune the live coordinates flagged in ``drop`` (in place): w = eta = alpha = 0."""
    drop = drop & alive
    alive &= ~drop
    w[drop], eta[drop], alpha[drop] = 0.0, 0.0, 0.0


def _eta(penalty: Penalty, w: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """eta_hat(w), with 0 on pruned coordinates."""
    eta = np.asarray(penalty.eta_hat(w), dtype=np.float64)
    eta[~alive] = 0.0
    return eta
