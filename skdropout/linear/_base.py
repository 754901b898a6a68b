"""What both linear estimators share: parameters, input checks, the penalty, the data
(centred for the intercept, weighted by ``sample_weight``), prediction and eq. (1).

The objective of both estimators is eq. (1) with the loss (3),

    F(w, b) = 1/(2 sum(sw)) sum_i sw_i (y_i - x_i'w - b)^2 + lam * Omega(w),

with ``sw = 1`` when no ``sample_weight`` is given, so integer weights equal repeated rows.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (_check_sample_weight, check_array, check_is_fitted,
                                      validate_data)

from ..penalties import PENALTIES, Penalty, resolve_penalty
from ..penalties.factor import Factored, check_penalty_factor
from ._blas_pool import one_blas_pool
from ._design import Design
from ._irls import penalty_slope0


_PROBE = np.geomspace(1e-300, 1e300, 61)


def check_reweightable(penalty: Penalty) -> None:
    """Refuse a separable penalty whose eta_hat takes only the values 0 and +inf (l0).

    Then the eta-step (eq. 7) gives eta = +inf on every nonzero weight and 0 on every zero
    one, so the w-step is least squares on the current support and every such fit is a
    fixed point: neither IRLS nor adaptive dropout (keep probability 1 or 0) can move, and
    the "solution" is the start, whatever lam. The eta-trick cannot minimise eq. (1) for it
    (footnote 2 of the paper: its f is no Legendre-Fenchel dual)."""
    if not penalty.separable:
        return
    if not penalty.symmetric:
        raise ValueError(
            f"penalty={penalty.name!r} is a penalty on activations (z)_+, 0 for negative "
            "arguments: the eta-trick and adaptive dropout of a coefficient need a penalty "
            "of |w| (Omega(-w) = Omega(w)), such as 'logsum', 'mcp', 'scad' or 'l1'.")
    eta = np.asarray(penalty.eta_hat(_PROBE), dtype=np.float64)
    if np.all((eta == 0) | np.isinf(eta)):
        usable = sorted(set(PENALTIES) - {penalty.name})
        raise ValueError(
            f"penalty={penalty.name!r} cannot be fitted by the eta-trick or adaptive dropout: "
            "its eta_hat is 0 or +inf, so every least-squares fit on a support is a fixed "
            "point and lam would have no effect. Use a continuous relaxation ('logsum', "
            f"'mcp', 'scad', 'lpp') or the k-sparse constraint 'hardthresh'; accepted: {usable}.")


def with_penalty_factor(penalty: Penalty, factor: Any, n_features: int) -> Penalty:
    """``penalty`` with per-feature factors ``lam_j = lam * factor_j`` (validated; see
    :mod:`skdropout.penalties.factor`), or ``penalty`` itself when ``factor`` is None."""
    if factor is None:
        return penalty
    return Factored(penalty, check_penalty_factor(factor, n_features))


class EtaTrickBase(BaseEstimator):
    """What every estimator fitted by the eta-trick shares: the parameters, sparse input,
    the penalty, warm starts and the guarded fit (a failed fit leaves it unfitted)."""

    _parameter_constraints: dict = {
        "penalty": [StrOptions(set(PENALTIES)), Penalty],
        "penalty_params": [dict, None],
        "lam": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _penalty(self, n_features: int) -> Penalty:
        """The penalty of this estimator's parameters, with its lam and per-feature
        factors set (raises for a penalty the eta-trick cannot fit)."""
        penalty = resolve_penalty(self.penalty, self.penalty_params, self.lam)
        check_reweightable(penalty)
        return with_penalty_factor(penalty, getattr(self, "penalty_factor", None), n_features)

    def _previous_coef(self) -> np.ndarray | None:
        """The coefficients to warm-start from, when ``warm_start`` and a matching fit exist."""
        coef = getattr(self, "coef_", None)
        if self.warm_start and coef is not None and coef.shape == (self.n_features_in_,):
            return coef
        return None

    def _forget(self) -> None:
        """Remove every fitted attribute (a failed fit leaves the estimator unfitted)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    @one_blas_pool
    def _fit_guarded(self, fit: Any) -> Any:
        """Validate the parameters and run ``fit`` (with one threaded BLAS pool); on any
        error, forget the previous fit."""
        try:
            self._validate_params()
            return fit()
        except BaseException:
            self._forget()
            raise

    @staticmethod
    def _check_result(coef: np.ndarray, objective: float) -> None:
        if not (np.all(np.isfinite(coef)) and np.isfinite(objective)):
            raise FloatingPointError(
                "The solver produced a non-finite solution; check the scale of X and y "
                "or increase lam.")


def convex_start_penalty(penalty: Penalty, design: Design) -> Penalty | None:
    """The convex penalty whose fit at the same lam starts a fit of ``penalty`` from the
    default start, or None where that start is least squares on the initial working set.

    A separable penalty with an infinite slope at 0 (lpp with p < 1) has no working set and
    ``eta_hat(0) = 0`` absorbing. With more columns than rows least squares on every column
    interpolates y with d small coordinates: IRLS prunes from there into a local minimum
    that depends on the interpolant, and adaptive dropout stalls (keep probabilities
    ``c_j eta_j / (c_j eta_j + lam)`` near 0 give masks of variance ``lam / (c_j eta_j)``).
    There both estimators start from the lasso at the same lam (l1 with the same per-feature
    factors), each solving it by its own algorithm: its solution is unique, so both start
    from the same point, a sparse one.
    """
    base = getattr(penalty, "base", penalty)
    slope0 = penalty_slope0(base)
    if not (penalty.separable and design.d > design.n and slope0 is not None
            and np.isinf(slope0)):
        return None
    l1 = resolve_penalty("l1", None)
    return Factored(l1, penalty.factor) if isinstance(penalty, Factored) else l1


class EtaTrickRegressorMixin(RegressorMixin, EtaTrickBase):
    """Base of the estimators that minimise eq. (1) with the squared loss (3)."""

    def _convex_start(self, design: Design, penalty: Penalty, lam: float) -> np.ndarray | None:
        """The default start where :func:`convex_start_penalty` gives one: this estimator's
        own fit of that convex penalty at ``lam`` (``_solve`` of the subclass); else None."""
        start = convex_start_penalty(penalty, design)
        return None if start is None else self._solve(design, start, lam, None).coef

    def _prepare(self, X: Any, y: Any, sample_weight: Any) -> tuple[Design, Penalty]:
        """Validate the data and build the design and the penalty (raises before any
        fitted attribute other than ``n_features_in_``/``feature_names_in_`` exists)."""
        # X's finiteness is read off the design's column sums of squares, which touch every
        # entry anyway (a NaN or inf makes one of them non-finite); only then does
        # scikit-learn's check, with its message, read X again (it passes a finite X whose
        # squares overflow)
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=np.float64,
                             y_numeric=True, multi_output=False, ensure_all_finite=False)
        y = np.asarray(y, dtype=np.float64)  # float32 targets are computed in float64 too
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight must have a positive sum.")
        with np.errstate(invalid="ignore"):  # NaN or inf in X: the error below, no warning
            design = Design(X, y, sample_weight, self.fit_intercept)
            finite = np.isfinite(design.col_sq_norms()).all()
        if not finite:
            check_array(X, accept_sparse=["csr", "csc"], estimator=self, input_name="X")
        return design, self._penalty(X.shape[1])

    @staticmethod
    def _objective(design: Design, penalty: Penalty, lam: float, coef: np.ndarray) -> float:
        """Eq. (1) at ``coef`` as ``objective_`` reports it: the loss from one residual pass
        over X (:meth:`Design.residual_loss`), accurate to the objective's own rounding on
        the Gram route too, where the solvers' values round at eps y'y/n."""
        return design.residual_loss(coef) + lam * penalty.value(coef)

    def _set_intercept(self, design: Design) -> None:
        self.intercept_ = design.intercept(self.coef_)

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            The predictions.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=np.float64, reset=False)
        out = X @ self.coef_ if not sp.issparse(X) else np.asarray(X @ self.coef_).ravel()
        return out + self.intercept_
