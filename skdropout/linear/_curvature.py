"""Steps along negative curvature: how the solvers leave a saddle of a non-convex objective.

The eta-trick's iterations (IRLS's w-steps, on the squared loss or on the model of a
logistic fit's Newton step) lower F by a majoriser that is tight at the current point.
Near a saddle of F -- a point where the support Hessian ``H = Hessian of the loss +
lam diag(Omega''(w))`` has a negative eigenvalue -- they move away from the saddle by a
factor near 1 per iteration. To second order F changes along a unit vector
``v`` by ``g'v t + v'Hv t^2 / 2``; with ``v`` the eigenvector of the smallest eigenvalue
``lambda_min < 0``, signed so that ``g'v <= 0``, that is ``g'v t + lambda_min t^2 / 2 < 0``
for every ``t > 0``: a step along ``v`` descends, the further the more, until F's higher
orders (a coefficient reaching 0, where Omega has its kink) bend it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg as la

# the largest support whose dense Hessian's smallest eigenvalue a solver computes to leave
# a saddle
NEGATIVE_CURVATURE_MAX = 1000
# relative rounding of a Hessian's eigenvalues (to its largest diagonal entry)
_ROUNDING = 16 * np.finfo(np.float64).eps
# doublings of the step along v at most (from 1e-4 of the coefficients' size, 2^40 times
# that is beyond any finite minimiser)
_MAX_DOUBLINGS = 40


def descent_eigenvector(H: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """The unit eigenvector ``v`` of the smallest eigenvalue of the symmetric ``H``, signed so
    that ``g'v <= 0`` (``g``: F's gradient, so ``v`` descends to first order too); None where
    that eigenvalue is not negative beyond rounding (``-_ROUNDING max|H_jj|``) or ``H`` is
    not finite.

    Parameters
    ----------
    H : ndarray of shape (m, m)
        F's Hessian on the support.
    g : ndarray of shape (m,)
        F's gradient on the support.

    Returns
    -------
    ndarray of shape (m,) or None
    """
    if not np.all(np.isfinite(H)):
        return None
    values, vectors = la.eigh(H, subset_by_index=[0, 0], check_finite=False)
    if not values[0] < -_ROUNDING * float(np.max(np.abs(np.diag(H)))):
        return None
    v = vectors[:, 0]
    return v if float(g @ v) <= 0 else -v


def lowest_along(point: Callable[[float], tuple[Any, float]], F: float, t0: float
                 ) -> tuple[Any, float] | None:
    """The point of lowest F among ``point(t)`` for ``t = t0, 2 t0, 4 t0, ...``, stopping
    at the first ``t`` past the lowest; None where none is below ``F``.

    Parameters
    ----------
    point : callable
        ``t -> (x_t, F(x_t))``: the point at step ``t`` along the direction and its F.
    F : float
        F at ``t = 0``.
    t0 : float
        The first step.

    Returns
    -------
    (x_t, F(x_t)) or None
    """
    best = None
    t = t0
    for _ in range(_MAX_DOUBLINGS):
        x_t, F_t = point(t)
        if F_t < (F if best is None else best[1]):
            best = (x_t, F_t)
        elif best is not None:  # past the lowest point along the direction
            break
        t *= 2.0
    return best
