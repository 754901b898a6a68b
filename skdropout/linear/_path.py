"""Regularisation paths: the solutions of eq. (1) on a decreasing geometric grid of lam,
each fit warm-started from the previous one (the continuation ncvreg uses for non-convex
penalties)."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any, Callable, NamedTuple

import numpy as np
from scipy import optimize
from sklearn.base import BaseEstimator
from sklearn.utils import check_X_y
from sklearn.utils.validation import _check_sample_weight

from ..penalties import Penalty, resolve_penalty
from ..penalties.factor import Factored
from ._base import check_reweightable, with_penalty_factor
from ._blas_pool import one_blas_pool
from ._design import Design
from ._irls import least_squares_start, uses_working_set
from ._dropout_regressor import AdaptiveDropoutRegressor
from ._irls_regressor import IRLSRegressor

_RESOLUTION = float(np.finfo(np.float64).resolution)


class PathResult(NamedTuple):
    """The output of :func:`irls_path` (a tuple: ``lams, coefs, intercepts, etas = ...``).

    Attributes
    ----------
    lams : ndarray of shape (n_lams,)
        The grid, decreasing.
    coefs : ndarray of shape (n_features, n_lams)
        ``coefs[:, k]`` is the solution at ``lams[k]``.
    intercepts : ndarray of shape (n_lams,)
        ``intercepts[k]`` is the intercept at ``lams[k]`` (0 without an intercept).
    etas : ndarray of shape (n_features, n_lams)
        The eta-trick variables eta_hat(w) (eq. 7) at each solution; 0 marks a pruned
        coordinate, +inf an unpenalised one.
    """

    lams: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    etas: np.ndarray


def lam_max(X: Any, y: np.ndarray, penalty: Penalty, *, fit_intercept: bool = True,
            sample_weight: np.ndarray | None = None) -> float:
    """The top of the path: the smallest lam for which w = 0 is a solution of eq. (1).

    With ``grad0 = X_c' diag(s) y_c / sum(s)`` (the negative loss gradient at w = 0 after
    weighted centring when ``fit_intercept``; ``s`` the sample weights), w = 0 is stationary
    for ``lam * Omega`` iff ``max_j |grad0_j| <= lam * slope0``; this is
    ``penalty.lam_max(grad0)``. For penalties whose shape depends on lam (mcp, scad,
    vardrop, hardconcrete, bernoulli_l0) the slope itself depends on lam, so lam_max is the
    fixed point ``lam = penalty.with_lam(lam).lam_max(grad0)`` (found in log-space; e.g.
    ``(max|grad0| / slope0(1))**2`` for vardrop, whose slope falls as ``1/sqrt(lam)``).

    Two cases have no such lam and use the l1 scale ``max_j |grad0_j|`` instead:

    - infinite slope at 0 (lpp with p < 1, l0): w = 0 is stationary for every lam, and the
      path's first point is whatever the solver reaches from its default start;
    - zero slope at 0 (huber, standout) or a constraint (hardthresh): w = 0 is never a
      solution, so the path does not start at zero.

    When ``grad0`` is 0 (a constant y), every lam gives w = 0 and the machine resolution is
    returned, as scikit-learn's alpha grid does.
    """
    free = (np.flatnonzero(penalty.factor == 0) if isinstance(penalty, Factored)
            else np.zeros(0, dtype=np.intp))
    if free.size:  # the solution at lam_max is least squares on the unpenalised columns
        design = Design(X, y, sample_weight, fit_intercept)
        w = np.zeros(X.shape[1])
        w[free] = least_squares_start(design, free)
        grad0 = design.gradient(w).copy()
        grad0[free] = 0.0
    else:
        if fit_intercept:
            y = y - np.average(y, weights=sample_weight)  # then X need not be centred
        yw = y if sample_weight is None else y * sample_weight
        total = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        grad0 = np.asarray(X.T @ yw).ravel() / total
    return lam_from_gradient(penalty, grad0)


def lam_from_gradient(penalty: Penalty, grad0: np.ndarray) -> float:
    """lam_max from the negative loss gradient ``grad0`` at the fit on the unpenalised
    features alone (the part of :func:`lam_max` that does not depend on the loss)."""
    scale = float(np.max(np.abs(grad0))) if grad0.size else 0.0
    if scale <= _RESOLUTION:
        return _RESOLUTION
    try:
        top = penalty.lam_max(grad0)
    except NotImplementedError:  # a penalty without a slope at 0
        top = math.inf
    if penalty.uses_lam and math.isfinite(top) and top > 0:
        top = _lam_fixed_point(penalty, grad0, top)
    return top if math.isfinite(top) and top > 0 else scale


def _lam_fixed_point(penalty: Penalty, grad0: np.ndarray, start: float) -> float:
    """Solve ``lam = penalty.with_lam(lam).lam_max(grad0)`` for lam-shaped penalties."""

    def gap(t: float) -> float:
        return math.log(penalty.with_lam(math.exp(t)).lam_max(grad0)) - t

    lo = hi = math.log(start)
    g = gap(lo)
    if g == 0:
        return start
    step = 1.0
    for _ in range(60):  # bracket the root, expanding geometrically
        if g > 0:
            hi = lo + step
            if gap(hi) <= 0:
                break
            lo = hi
        else:
            lo = hi - step
            if gap(lo) >= 0:
                break
            hi = lo
        step *= 2
    else:
        raise ValueError(f"Could not find lam_max for {penalty!r}: lam * slope0(lam) does "
                         "not cross max|X'y|/n; pass lams as an array.")
    return math.exp(optimize.brentq(gap, lo, hi, xtol=1e-12, rtol=1e-12))


def lam_grid(X: Any, y: np.ndarray, penalty: Penalty, lams: int | Any = 100, *,
             eps: float = 1e-3, fit_intercept: bool = True,
             sample_weight: np.ndarray | None = None) -> np.ndarray:
    """The decreasing grid of lam: ``lams`` values from :func:`lam_max` down to
    ``eps * lam_max`` spaced geometrically, or the given array sorted decreasingly."""
    return geometric_grid(lambda: lam_max(X, y, penalty, fit_intercept=fit_intercept,
                                          sample_weight=sample_weight), lams, eps)


def geometric_grid(top: Callable[[], float], lams: int | Any, eps: float) -> np.ndarray:
    """``lams`` values from ``top()`` down to ``eps * top()`` spaced geometrically, or the
    given array validated and sorted decreasingly (``top`` is called only for a count)."""
    if isinstance(lams, Integral) and not isinstance(lams, bool):
        if lams < 1:
            raise ValueError(f"lams must be a count >= 1 or an array of lam > 0, got {lams!r}.")
        if not (isinstance(eps, (int, float)) and 0 < eps < 1):
            raise ValueError(f"eps must be a float in (0, 1), got {eps!r}.")
        start = top()
        return np.geomspace(start, start * eps, num=int(lams))
    grid = np.asarray(lams, dtype=np.float64) if not isinstance(lams, str) else None
    if grid is None or grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"lams must be a count >= 1 or a 1-D array of lam > 0, got {lams!r}.")
    if not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError("lams must be finite and > 0.")
    return np.sort(grid)[::-1]


def start_policy(estimator: BaseEstimator, penalty: Penalty) -> tuple[bool, bool]:
    """How a path of ``estimator``'s solver starts: ``(from_zero, warm)``.

    ``from_zero``: the first fit starts at w = 0, the solution at lam_max (as in glmnet and
    ncvreg), which needs a solver that lets a zero coordinate re-enter when it violates
    ``|X_j'r/n| <= lam * slope0`` (estimators whose ``_zeros_reenter`` is true: both
    working-set solvers), for separable penalties with ``0 < slope0 < inf``. ``warm``: later
    fits start from the previous solution; besides that case this is safe when
    ``eta_hat(0) > 0`` (huber, standout). Otherwise
    ``eta_hat(0) = 0`` is absorbing (lpp with p < 1, l0, lp, hardthresh, and every penalty
    with ``eta_hat(0) = 0`` for a solver that prunes zeros for good): a warm
    start would freeze the previous support, so each lam is fitted from the estimator's
    default start (least squares, eta = +inf).
    """
    screened = getattr(estimator, "_zeros_reenter", False) and uses_working_set(penalty)
    revives = bool(np.all(np.asarray(penalty.eta_hat(np.zeros(1))) > 0))
    return screened, screened or revives


@one_blas_pool
def solve_path(estimator: BaseEstimator, design: Design, lams: np.ndarray) -> PathResult:
    """The path over one centred design: ``estimator._solve`` (the one-lam solver of
    IRLSRegressor or AdaptiveDropoutRegressor, with that estimator's parameters) at each lam
    of the decreasing grid ``lams``, each fit warm-started from the previous solution where
    :func:`start_policy` allows it, from w = 0 at the top of the grid where it starts there.

    The estimator is only read (its parameters), never fitted; the penalty's lam is set
    per grid point for penalties whose shape depends on lam.
    """
    penalty = resolve_penalty(estimator.penalty, estimator.penalty_params)
    from_zero, warm = start_policy(estimator, penalty)
    penalty = with_penalty_factor(penalty, getattr(estimator, "penalty_factor", None),
                                  design.d)
    n_lams = len(lams)
    design.covariance = n_lams > 1  # the path's supports share their Gram columns
    coefs = np.empty((design.d, n_lams))
    etas = np.empty((design.d, n_lams))
    intercepts = np.empty(n_lams)
    # a fit from least squares could end at another stationary point of a non-convex
    # penalty than the path's branch, which starts at w = 0, the solution at lam_max
    coef = np.zeros(design.d) if from_zero else None
    for k, lam in enumerate(lams):
        lam = float(lam)
        pen_k = penalty.with_lam(lam) if penalty.uses_lam else penalty
        res = estimator._solve(design, pen_k, lam, coef if (warm and (k > 0 or from_zero))
                               else None)
        coef = res.coef
        coefs[:, k] = coef
        etas[:, k] = res.eta
        intercepts[k] = design.intercept(coef)
    return PathResult(np.asarray(lams, dtype=np.float64), coefs, intercepts, etas)


def irls_path(X: Any, y: Any, *, penalty: str | Penalty = "l1",
              penalty_params: dict[str, Any] | None = None, lams: int | Any = 100,
              eps: float = 1e-3, fit_intercept: bool = True, sample_weight: Any = None,
              **solver_params: Any) -> PathResult:
    """The regularisation path of eq. (1) with the squared loss (3), solved by the eta-trick
    (eq. 6, :class:`~skdropout.linear.IRLSRegressor`) on a decreasing grid of lam [1]_.

    The grid runs from lam_max (the smallest lam whose solution is w = 0; see Notes) down
    to ``eps * lam_max`` on a geometric grid. The path starts at w = 0 and every fit is
    warm-started from the solution at the previous (larger) lam, as ncvreg does for
    non-convex penalties, so the path follows one branch of stationary points. Penalties
    whose shape depends on lam (mcp, scad, vardrop, ...) get their lam set at each grid point.

    Read more in the :ref:`User Guide <linear-models>`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data; scipy sparse matrices are accepted.
    y : array-like of shape (n_samples,)
        Target values.
    penalty : str or Penalty, default="l1"
        A name of :func:`skdropout.penalties.get_penalty` or a penalty object.
    penalty_params : dict, default=None
        Parameters of the named penalty.
    lams : int or array-like, default=100
        The number of grid points, or the grid itself (sorted decreasingly), as ``alphas``
        in scikit-learn's :class:`~sklearn.linear_model.LassoCV`.
    eps : float in (0, 1), default=1e-3
        ``lams[-1] / lams[0]`` for a generated grid.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept at each point.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (they also weigh the computation of lam_max).
    **solver_params
        Other parameters of :class:`~skdropout.linear.IRLSRegressor` (``solver``,
        ``max_iter``, ``tol``, ``penalty_factor``; with ``penalty_factor`` lam_max is taken
        over the penalised features, at the least-squares fit on the unpenalised ones).

    Returns
    -------
    PathResult
        The named tuple ``(lams, coefs, intercepts, etas)``; ``coefs`` and ``etas`` have
        shape (n_features, n_lams).

    Notes
    -----
    With ``g = X_c' y_c / n`` (centred, weighted as the fit is), w = 0 is stationary for
    ``lam * Omega`` iff ``max_j |g_j| <= lam * slope0``, slope0 being Omega's right
    derivative at 0, so ``lam_max = max_j |g_j| / slope0``; for penalties whose shape depends
    on lam it is the fixed point of that equation (e.g. ``(max_j |g_j| / slope0(1))**2`` for
    vardrop, whose slope falls as ``1 / sqrt(lam)``).

    - Infinite slope at 0 (lpp with p < 1, l0): w = 0 is stationary for every lam, so no lam
      is "the first all-zero one"; the grid starts at the l1 value ``max_j |g_j|``. As
      ``eta_hat(0) = 0`` is then absorbing, a warm start would freeze the previous support:
      each point is fitted from the default start (least squares, eta = +inf). The same holds
      for lp and hardthresh.
    - Zero slope at 0 (huber, standout): w = 0 is never a solution for y correlated with X;
      the grid again starts at ``max_j |g_j|``, and the first point is not zero.
    - A constant y (g = 0): every lam gives w = 0; the grid is the machine resolution, as in
      scikit-learn.

    See Also
    --------
    adaptive_dropout_path : The same path reached by adaptive dropout.
    IRLSRegressor : One point of the path.
    IRLSRegressorCV : The path on each fold, lam chosen by cross-validation.
    skdropout.plotting.plot_path : Draws the path.
    sklearn.linear_model.enet_path : scikit-learn's path for l1 and the elastic net.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, eqs. (1) and (6).
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import irls_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> y = X @ np.array([2.0, 0.0, -1.0, 0.0]) + 0.1 * rng.standard_normal(50)
    >>> lams, coefs, intercepts, etas = irls_path(X, y, lams=5, eps=0.01)
    >>> coefs.shape, bool(np.all(coefs[:, 0] == 0)), bool(np.any(coefs[:, 1] != 0))
    ((4, 5), True, True)
    """
    return _path(IRLSRegressor, "irls_path", X, y, penalty, penalty_params, lams, eps,
                 fit_intercept, sample_weight, solver_params)


def adaptive_dropout_path(X: Any, y: Any, *, penalty: str | Penalty = "l1",
                          penalty_params: dict[str, Any] | None = None,
                          lams: int | Any = 100, eps: float = 1e-3, fit_intercept: bool = True,
                          sample_weight: Any = None, **solver_params: Any) -> PathResult:
    """The regularisation path of eq. (1) reached by adaptive dropout (Algorithm 1 / eq. 9,
    :class:`~skdropout.linear.AdaptiveDropoutRegressor`) on the grid of :func:`irls_path`,
    with the same warm starts (by Theorem 1 both paths solve the same problems) [1]_.

    Read more in the :ref:`User Guide <linear-models>`.

    Parameters
    ----------
    X, y, penalty, penalty_params, lams, eps, fit_intercept, sample_weight
        As in :func:`irls_path`: the data, the penalty and the grid of lam (the same grid).
    **solver_params
        Other parameters of :class:`~skdropout.linear.AdaptiveDropoutRegressor` (``mask``,
        ``strategy``, ``learning_rate``, ``max_iter``, ``tol``, ``random_state``,
        ``penalty_factor``); an integer ``random_state`` seeds the masks of every grid point
        alike.

    Returns
    -------
    PathResult
        The named tuple ``(lams, coefs, intercepts, etas)``.

    See Also
    --------
    irls_path : The same path by the eta-trick, exactly and faster.
    AdaptiveDropoutRegressor : One point of the path.
    AdaptiveDropoutRegressorCV : The path on each fold, lam chosen by cross-validation.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Theorem 1 and Algorithm 1.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import adaptive_dropout_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> y = X @ np.array([2.0, 0.0, -1.0, 0.0]) + 0.1 * rng.standard_normal(50)
    >>> lams, coefs, _, _ = adaptive_dropout_path(X, y, lams=5, eps=0.01, random_state=0)
    >>> coefs.shape, bool(np.all(coefs[:, 0] == 0)), bool(np.any(coefs[:, 1] != 0))
    ((4, 5), True, True)
    """
    return _path(AdaptiveDropoutRegressor, "adaptive_dropout_path", X, y, penalty,
                 penalty_params, lams, eps, fit_intercept, sample_weight, solver_params)


@one_blas_pool
def _path(estimator_class: type, name: str, X: Any, y: Any, penalty: Any,
          penalty_params: Any, lams: Any, eps: float, fit_intercept: bool,
          sample_weight: Any, solver_params: dict[str, Any]) -> PathResult:
    """Validate a path function's input, build the grid and the design, and solve."""
    reserved = {"penalty", "penalty_params", "lam", "fit_intercept", "warm_start"}
    allowed = set(estimator_class().get_params()) - reserved
    unknown = sorted(set(solver_params) - allowed)
    if unknown:
        raise TypeError(f"{name} got unknown solver parameters {unknown}; "
                        f"allowed: {sorted(allowed)}.")
    est = estimator_class(penalty=penalty, penalty_params=penalty_params,
                          fit_intercept=fit_intercept, **solver_params)
    est._validate_params()
    X, y = check_X_y(X, y, accept_sparse=["csr", "csc"], dtype=np.float64, y_numeric=True)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    pen = resolve_penalty(penalty, penalty_params)
    check_reweightable(pen)
    pen = with_penalty_factor(pen, getattr(est, "penalty_factor", None), X.shape[1])
    grid = lam_grid(X, y, pen, lams, eps=eps, fit_intercept=fit_intercept,
                    sample_weight=sample_weight)
    return solve_path(est, Design(X, y, sample_weight, fit_intercept), grid)
