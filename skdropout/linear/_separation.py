r"""Separation where the penalty is flat: a logistic fit with no minimiser along its own ray.

Where the margins of a binary or multinomial logistic model put every training sample of
positive weight strictly on its own class's side, the loss falls strictly along the ray
``(t W, t b)``, ``t > 1``, towards 0. Where moreover ``eta_hat(W)`` is infinite at every
nonzero coefficient (MCP and SCAD beyond ``a lam``, an unpenalised feature), the penalty
does not grow along that ray, by the eta-trick (eq. 5):

.. math::

    \Omega(tW) = \min_\eta \frac12 \Big(\sum_j \frac{t^2 w_j^2}{\eta_j} + f(\eta)\Big)
    \le \frac12 \Big(\sum_j \frac{t^2 w_j^2}{\hat\eta_j(W)} + f(\hat\eta(W))\Big)
    = \Omega(W),

the quadratic terms being 0 (``w_j = 0`` or ``eta_hat_j = inf``). So ``F(tW, tb) < F(W, b)``
for every ``t > 1``, with ``F(tW, tb) -> lam Omega(W)`` unreached: ``(W, b)`` is no
minimiser, and Newton steps from it grow the coefficients until the fitted probabilities
round to 0 and 1 (the case R's ``glm`` reports as "fitted probabilities numerically 0 or 1
occurred"). A penalty that grows without bound (l1, elastic net, log-sum) keeps a finite
minimiser on separable data: its ``eta_hat`` is finite at every nonzero weight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..penalties import Penalty

if TYPE_CHECKING:
    from ._logistic import LogisticProblem


def flat_separation(problem: LogisticProblem, penalty: Penalty, W: np.ndarray,
                    M: np.ndarray) -> bool:
    """Whether the model with coefficients ``W`` and margins ``M = X W + b`` separates the
    samples of positive weight and ``eta_hat`` is infinite at every nonzero coefficient,
    so that ``F(tW, tb)`` falls without end as ``t`` grows (module docstring).

    Parameters
    ----------
    problem : LogisticProblem
        Its ``Y`` (``y`` in {0, 1} as one column, or the one-hot classes) and weights ``s``.
    penalty : Penalty
        The penalty on each column of ``W``.
    W : ndarray of shape (n_features, n_columns)
    M : ndarray of shape (n_samples, n_columns)

    Returns
    -------
    bool
        ``(2 y_i - 1) m_i > 0`` (binary), or ``m_{i y_i} > max_{k != y_i} m_ik``
        (multinomial), for every ``i`` with ``s_i > 0``, and ``eta_hat(W[:, k])_j = inf``
        wherever ``W[j, k] != 0``, with at least one such coefficient (an intercept alone
        separates only samples of one class).
    """
    kept = problem.s > 0
    Y, M = problem.Y[kept], M[kept]
    if problem.binary:
        sides = (2.0 * Y[:, 0] - 1.0) * M[:, 0]
    else:
        sides = np.sum(Y * M, axis=1) - np.max(np.where(Y > 0, -np.inf, M), axis=1)
    if not np.all(sides > 0):
        return False
    for k in range(W.shape[1]):
        nonzero = W[:, k] != 0
        if not np.all(np.isinf(np.asarray(penalty.eta_hat(W[:, k]))[nonzero])):
            return False
    return bool(np.any(W))


_NO_MINIMISER = ("its model separates the training data and every nonzero coefficient lies "
                 "where the penalty is flat (eta_hat = inf), so the objective falls without "
                 "end as the coefficients grow: it has no minimiser there")
_ADVICE = "a penalty that keeps growing (l1, elasticnet, logsum)"


def separation_message(stopped: str, lam: float, objective: float, coef: np.ndarray) -> str:
    """The warning of a fit that ended in :func:`flat_separation`; ``stopped`` says which
    estimator stopped where (e.g. "IRLSClassifier stopped after 12 Newton steps")."""
    return (f"{stopped} at lam={lam:.4g}: {_NO_MINIMISER} (F={objective:.6g}, largest |coef| "
            f"{float(np.max(np.abs(coef))):.3g}). Use a larger lam, or {_ADVICE}.")


def path_separation_message(lams: list[float], n_lams: int) -> str:
    """The one warning of a regularisation path whose fits at ``lams`` (of ``n_lams``)
    ended in :func:`flat_separation`."""
    return (f"IRLSClassifier stopped at {len(lams)} of the {n_lams} lams of a path (the "
            f"largest {max(lams):.4g}) where {_NO_MINIMISER}. Use larger lams, or {_ADVICE}.")
