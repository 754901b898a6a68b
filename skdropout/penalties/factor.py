"""Per-feature penalty factors (glmnet's ``penalty.factor``): lam_j = lam * v_j.

For a separable penalty Omega and factors ``v >= 0`` the penalty term of eq. (1) becomes

    lam * sum_j Omega_j(w_j),   Omega_j(t) = v_j * Omega(t; lam v_j),

where ``Omega(t; lam)`` is Omega with its own lam (mcp, scad, vardrop, ...) set to ``lam``;
penalties whose shape does not depend on lam have ``Omega_j = v_j Omega``. So ``lam_j =
lam v_j`` plays the role of lam for feature j, and ``v_j = 0`` leaves feature j unpenalised.
In the eta-trick form (eq. 5) this is ``eta_hat_j(w) = eta_hat(w; lam v_j) / v_j`` (+inf for
``v_j = 0``), so the w-step's weighted ridge ``lam w_j^2 / eta_j`` carries ``lam v_j`` and the
adaptive-dropout keep probability ``eta_j / (eta_j + lam)`` is
``eta_hat(w_j) / (eta_hat(w_j) + lam v_j)``.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

from ._base import Penalty, check_finite


def check_penalty_factor(factor: Any, n_features: int) -> np.ndarray:
    """Validate ``penalty_factor``: shape (n_features,), finite, >= 0, at least one > 0."""
    try:
        v = np.asarray(factor, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"penalty_factor must be an array of numbers; got {factor!r}.") from exc
    if v.shape != (n_features,):
        raise ValueError(f"penalty_factor must have shape (n_features,) = ({n_features},); "
                         f"got shape {v.shape}.")
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ValueError("penalty_factor must be finite and >= 0 (0 leaves a feature "
                         "unpenalised).")
    if not np.any(v > 0):
        raise ValueError("penalty_factor must have at least one entry > 0 (all zeros would "
                         "leave every feature unpenalised: use least squares).")
    return v


class Factored(Penalty):
    """A separable penalty with per-feature factors ``v`` (see the module docstring).

    Parameters
    ----------
    base : Penalty
        A separable penalty (lam set if its shape depends on lam).
    factor : ndarray of shape (n_features,)
        ``v_j >= 0``; the methods take full-length arrays (use :meth:`restrict` for a
        subset of the features).

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.penalties import get_penalty
    >>> pen = Factored(get_penalty("l1"), np.array([2.0, 0.0]))
    >>> pen.value([1.0, 5.0]), pen.eta_hat([1.0, 5.0]).tolist()
    (2.0, [0.5, inf])
    """

    works_on_torch = False

    def __init__(self, base: Penalty, factor: np.ndarray) -> None:
        if not base.separable:
            raise ValueError(f"penalty_factor needs a separable penalty; {base.name!r} is "
                             "not separable (its Omega does not split over features).")
        self.base = base
        self.factor = np.asarray(factor, dtype=np.float64)
        self.name = base.name
        self.convex = base.convex
        self.uses_lam = base.uses_lam
        self.domain = base.domain

    @property
    def params(self) -> dict[str, Any]:
        return {**self.base.params, "penalty_factor": self.factor}

    def _per_feature(self, w: Any, fn: Callable[[Penalty, float, np.ndarray], np.ndarray],
                     at_zero: float) -> np.ndarray:
        """``fn(Omega(.; lam u), u, w_S)`` on each group S of features with factor u > 0
        (one group with the array u for penalties whose shape does not depend on lam or whose
        formulas take an array lam, ``lam_broadcasts``); ``at_zero`` on the features with
        factor 0. ``w`` may stack several weight vectors along leading axes (its last axis
        holds the features), as the IRLS polish does when it compares candidate points."""
        w = check_finite(w, "w")
        if w.shape[-1:] != self.factor.shape:
            raise ValueError(f"expected {self.factor.size} weights, got shape {w.shape}.")
        v = self.factor
        out = np.full(w.shape, at_zero, dtype=np.float64)
        pos = v > 0
        if not self.uses_lam:
            out[..., pos] = fn(self.base, v[pos], w[..., pos])
            return out
        lam = float(self.base.params["lam"])
        if self.base.lam_broadcasts:  # one evaluation with lam v_j per feature
            base = copy.copy(self.base)
            base.lam = lam * v[pos]
            out[..., pos] = fn(base, v[pos], w[..., pos])
            return out
        for u in np.unique(v[pos]):
            idx = v == u
            out[..., idx] = fn(self.base.with_lam(lam * u), float(u), w[..., idx])
        return out

    def pointwise(self, w: Any) -> np.ndarray:
        return self._per_feature(w, lambda p, u, a: u * p.pointwise(a), 0.0)

    def eta_hat(self, w: Any) -> np.ndarray:
        return self._per_feature(
            w, lambda p, u, a: np.asarray(p.eta_hat(a), dtype=np.float64) / u, math.inf)

    def _curvature(self, a: np.ndarray) -> np.ndarray:
        # Omega_j'' = v_j Omega''(.; lam v_j); unpenalised features have none
        return self._per_feature(a, lambda p, u, x: u * p.curvature(x), 0.0)

    def dual_pointwise(self, eta: Any) -> np.ndarray:
        # v Omega(w) = min_e [w^2/e + v f(v e)] / 2; v = 0: f = 0 at eta = inf only
        eta = np.asarray(eta, dtype=np.float64)
        out = self._per_feature(eta, lambda p, u, e: u * p.dual_pointwise(u * e), 0.0)
        out[(self.factor == 0) & ~np.isinf(eta)] = math.inf
        return out

    @property
    def slope0(self) -> np.ndarray:
        """Per-feature right derivative of Omega_j at 0: ``v_j slope0(lam v_j)``."""
        return self._per_feature(np.zeros(self.factor.size),
                                 lambda p, u, a: u * float(p.slope0) + 0.0 * a, 0.0)

    def lam_max(self, grad0: Any) -> float:
        """``max_j |grad0_j| / slope0_j`` over the penalised features (``grad0``: the loss
        gradient at the fit on the unpenalised features alone)."""
        g = np.abs(check_finite(grad0, "grad0"))
        s = self.slope0
        pos = self.factor > 0
        if not np.any(g[pos] > 0):
            return 0.0
        with np.errstate(divide="ignore"):
            return float(np.max(np.where(s[pos] > 0, g[pos] / s[pos], np.inf)))

    def with_lam(self, lam: float) -> Factored:
        return Factored(self.base.with_lam(lam), self.factor) if self.uses_lam else self

    def restrict(self, idx: np.ndarray) -> Factored:
        return Factored(self.base, self.factor[idx])

    def __repr__(self) -> str:
        return f"Factored({self.base!r}, penalty_factor={self.factor.tolist()!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Factored) and self.base == other.base
                and np.array_equal(self.factor, other.factor))

    def __hash__(self) -> int:
        return hash((self.base, self.factor.tobytes()))
