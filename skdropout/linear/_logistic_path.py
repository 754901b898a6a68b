"""The regularisation path of penalised logistic regression: lam_max and the warm-started
solutions on a decreasing grid (what IRLSClassifierCV runs per fold)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..penalties import Penalty, get_penalty, resolve_penalty
from ..penalties.factor import Factored
from ._base import with_penalty_factor
from ._irls import kkt_residuals, penalty_slope0
from ._logistic import LogisticProblem, LogisticResult, logistic_irls
from ._path import PathResult, lam_from_gradient, start_policy


def logistic_lam_max(problem: LogisticProblem, penalty: Penalty) -> float:
    """The smallest lam whose solution has every penalised coefficient at 0.

    With ``G = X'(s (y - p0))/S`` at the fit without the penalised features (the
    intercept-only model, or the unpenalised fit on the features whose penalty factor is 0),
    W = 0 on the penalised features is stationary iff ``max_k |G_jk| <= lam slope0_j`` for
    every j; the rest is :func:`~skdropout.linear._path.lam_from_gradient`.
    """
    free = (np.flatnonzero(penalty.factor == 0) if isinstance(penalty, Factored)
            else np.zeros(0, dtype=np.intp))
    if free.size:
        sub = problem.restrict(free)
        res = logistic_irls(sub, Factored(get_penalty("l1"), np.zeros(free.size)), 1.0,
                            tol=1e-10)
        W = np.zeros((problem.d, problem.n_columns))
        W[free] = res.coef
        M = problem.margins(W, res.intercept)
    else:
        _, M = problem.null_model()
    G, _ = problem.neg_gradient(M)
    g = np.max(np.abs(G), axis=1)
    g[free] = 0.0
    return lam_from_gradient(penalty, g)


def _strong_set(G: np.ndarray, W: np.ndarray, threshold: np.ndarray,
                threshold_prev: np.ndarray, top: int) -> np.ndarray:
    """The features a fit at the next lam starts with: the sequential strong rule (Tibshirani
    et al. 2012, "Strong rules for discarding predictors in lasso-type problems") keeps a
    zero feature j when ``max_k |G_jk| >= 2 thr_j - thr_prev_j`` (``G``: the negative loss
    gradient at the previous solution, ``thr = lam slope0_j`` at the next lam, ``thr_prev``
    at the previous one); the nonzero features of the previous solution and ``top`` (the
    feature that sets the scale of the tolerance) are always kept."""
    keep = np.max(np.abs(G), axis=1) >= 2.0 * threshold - threshold_prev
    keep |= np.any(W != 0, axis=1)
    keep[top] = True
    return np.flatnonzero(keep)


def _solve_screened(estimator: BaseEstimator, problem: LogisticProblem, penalty: Penalty,
                    lam: float, cols: np.ndarray, W: np.ndarray, b: np.ndarray | None,
                    scale: float) -> tuple[LogisticResult, np.ndarray, np.ndarray]:
    """``estimator._solve`` on the features ``cols`` from ``W`` (n_features x n_columns, 0
    off ``cols``), then the KKT check of the features left out: those whose scaled residual
    ``(max_k |G_jk| - lam slope0_j)_+ / scale`` exceeds the estimator's ``tol`` join
    ``cols`` and the fit is repeated from its solution. The fit ends with every feature's
    residual within ``tol``, as a fit on all features does; ``scale`` is that fit's unit
    (:func:`~skdropout.linear._logistic.kkt_scale`), which the restricted problem shares
    because ``cols`` holds the feature that attains it.

    Returns the result with ``coef`` on all features, and the negative loss gradient ``G``
    at the solution (the next lam's strong rule) with the final ``cols``.
    """
    tol = estimator.tol
    while True:
        res = estimator._solve(problem.restrict(cols), penalty.restrict(cols), lam,
                               W[cols], b)
        W = np.zeros_like(W)
        W[cols] = res.coef
        b = res.intercept
        G, _ = problem.neg_gradient(problem.margins(W, b))
        out = np.ones(problem.d, dtype=bool)
        out[cols] = False
        out = np.flatnonzero(out)
        pen_out = penalty.restrict(out)
        zero = np.zeros(out.size)
        res_out = np.max([kkt_residuals(G[out, k], zero, pen_out, lam)
                          for k in range(problem.n_columns)], axis=0) if out.size else zero
        violators = out[res_out > tol * scale]
        if violators.size == 0:
            res.coef = W
            res.eta = np.column_stack([np.asarray(penalty.eta_hat(W[:, k]), dtype=np.float64)
                                       for k in range(W.shape[1])])
            return res, G, cols
        cols = np.union1d(cols, violators)


def solve_logistic_path(estimator: BaseEstimator, problem: LogisticProblem,
                        lams: np.ndarray) -> PathResult:
    """``estimator._solve`` (an :class:`~skdropout.linear.IRLSClassifier`'s one-lam solver)
    at each lam of the decreasing grid, warm-started from the previous solution where
    :func:`~skdropout.linear._path.start_policy` allows it (the first from W = 0).

    Where the path starts from W = 0 (separable penalties with ``0 < slope0 < inf``), each
    fit runs on the features that the sequential strong rule keeps (:func:`_strong_set`)
    and ends with a KKT check of the others (:func:`_solve_screened`), so the solution is
    that of the fit on all features, to the same tolerance; the products with all of X
    fall to about one per lam.

    Returns a :class:`~skdropout.linear._path.PathResult` whose ``coefs`` and ``etas`` have
    shape (n_columns, n_features, n_lams) and ``intercepts`` (n_columns, n_lams).
    """
    penalty = resolve_penalty(estimator.penalty, estimator.penalty_params)
    screened, warm = start_policy(estimator, penalty)
    penalty = with_penalty_factor(penalty, estimator.penalty_factor, problem.d)
    K, d, n_lams = problem.n_columns, problem.d, len(lams)
    coefs = np.empty((K, d, n_lams))
    etas = np.empty((K, d, n_lams))
    intercepts = np.empty((K, n_lams))
    W, b = np.zeros((d, K)), None
    if screened:
        _, M0 = problem.null_model()
        G, _ = problem.neg_gradient(M0)
        top = int(np.argmax(np.max(np.abs(G), axis=1))) if d else 0
        scale = float(np.max(np.abs(G))) if G.size else 0.0
        threshold_prev = None
    for k, lam in enumerate(lams):
        lam = float(lam)
        pen_k = penalty.with_lam(lam) if penalty.uses_lam else penalty
        if screened and scale > 0:
            threshold = lam * np.broadcast_to(penalty_slope0(pen_k), (d,))
            cols = _strong_set(G, W, threshold,
                               threshold if threshold_prev is None else threshold_prev, top)
            res, G, _ = _solve_screened(estimator, problem, pen_k, lam, cols, W, b, scale)
            threshold_prev = threshold
        else:
            res = estimator._solve(problem, pen_k, lam, W if warm and k else None,
                                   b if warm else None)
        W, b = res.coef, res.intercept
        coefs[:, :, k], etas[:, :, k], intercepts[:, k] = W.T, res.eta.T, b
    return PathResult(np.asarray(lams, dtype=np.float64), coefs, intercepts, etas)
