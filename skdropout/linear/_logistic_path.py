"""The regularisation path of penalised logistic regression: lam_max and the warm-started
solutions on a decreasing grid (what IRLSClassifierCV runs per fold)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning

from ..penalties import Penalty, get_penalty, resolve_penalty
from ..penalties.factor import Factored
from ._base import with_penalty_factor
from ._blas_pool import one_blas_pool
from ._irls import penalty_slope0
from ._logistic import LogisticProblem, logistic_irls
from ._path import PathResult, lam_from_gradient, start_policy
from ._separation import path_separation_message


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
    feature of the largest gradient at the intercept-only model, the first to enter) are
    always kept."""
    keep = np.max(np.abs(G), axis=1) >= 2.0 * threshold - threshold_prev
    keep |= np.any(W != 0, axis=1)
    keep[top] = True
    return np.flatnonzero(keep)


@one_blas_pool
def solve_logistic_path(estimator: BaseEstimator, problem: LogisticProblem,
                        lams: np.ndarray) -> PathResult:
    """``estimator._solve`` (an :class:`~skdropout.linear.IRLSClassifier`'s one-lam solver)
    at each lam of the decreasing grid, warm-started from the previous solution where
    :func:`~skdropout.linear._path.start_policy` allows it (the first from W = 0).

    Where the path starts from W = 0 (separable penalties with ``0 < slope0 < inf``), each
    fit's outer working set starts with the features that the sequential strong rule keeps
    (:func:`_strong_set`; :func:`~skdropout.linear._logistic.logistic_irls`'s
    ``working_set``) and each of its rounds checks the others against the estimator's
    ``tol`` and lets the violators in, so the solution is that of the fit on all features,
    to the same tolerance; a lam costs one product with all of X per round (one or two),
    and its first round starts from the gradient that the last lam's fit ends with.

    The fits that stop where F has no minimiser (:func:`~._separation.flat_separation`)
    give one ``ConvergenceWarning`` for the whole path.

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
        G, _ = problem.null_gradient()
        top = int(np.argmax(np.max(np.abs(G), axis=1))) if d else 0
        scale = float(np.max(np.abs(G))) if G.size else 0.0
        threshold_prev = None
    separated: list[float] = []  # the lams whose fits stopped with no minimiser ahead
    for k, lam in enumerate(lams):
        lam = float(lam)
        pen_k = penalty.with_lam(lam) if penalty.uses_lam else penalty
        if screened and scale > 0:
            threshold = lam * np.broadcast_to(penalty_slope0(pen_k), (d,))
            cols = _strong_set(G, W, threshold,
                               threshold if threshold_prev is None else threshold_prev, top)
            res = estimator._solve(problem, pen_k, lam, W, b, working_set=cols, gradient=G,
                                   warn_separation=False)
            G = res.gradient  # the next lam's strong rule
            threshold_prev = threshold
        else:
            res = estimator._solve(problem, pen_k, lam, W if warm and k else None,
                                   b if warm else None, warn_separation=False)
        if res.separated:
            separated.append(lam)
        W, b = res.coef, res.intercept
        coefs[:, :, k], etas[:, :, k], intercepts[:, k] = W.T, res.eta.T, b
    if separated:
        warnings.warn(path_separation_message(separated, n_lams), ConvergenceWarning,
                      stacklevel=3)
    return PathResult(np.asarray(lams, dtype=np.float64), coefs, intercepts, etas)
