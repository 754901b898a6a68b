"""The regularisation path of penalised logistic regression: lam_max and the warm-started
solutions on a decreasing grid (what IRLSClassifierCV runs per fold)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..penalties import Penalty, get_penalty, resolve_penalty
from ..penalties.factor import Factored
from ._base import with_penalty_factor
from ._logistic import LogisticProblem, logistic_irls
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
        sub = LogisticProblem(problem.X[:, free], problem.Y, problem.s, problem.total,
                              problem.fit_intercept)
        res = logistic_irls(sub, Factored(get_penalty("l1"), np.zeros(free.size)), 1.0,
                            tol=1e-10)
        W = np.zeros((problem.d, problem.n_columns))
        W[free] = res.coef
        P = problem.probabilities(problem.margins(W, res.intercept))
    else:
        _, P = problem.null_model()
    G, _ = problem.neg_gradient(P)
    g = np.max(np.abs(G), axis=1)
    g[free] = 0.0
    return lam_from_gradient(penalty, g)


def solve_logistic_path(estimator: BaseEstimator, problem: LogisticProblem,
                        lams: np.ndarray) -> PathResult:
    """``estimator._solve`` (an :class:`~skdropout.linear.IRLSClassifier`'s one-lam solver)
    at each lam of the decreasing grid, warm-started from the previous solution where
    :func:`~skdropout.linear._path.start_policy` allows it (the first from W = 0).

    Returns a :class:`~skdropout.linear._path.PathResult` whose ``coefs`` and ``etas`` have
    shape (n_columns, n_features, n_lams) and ``intercepts`` (n_columns, n_lams).
    """
    penalty = resolve_penalty(estimator.penalty, estimator.penalty_params)
    _, warm = start_policy(estimator, penalty)
    penalty = with_penalty_factor(penalty, estimator.penalty_factor, problem.d)
    K, n_lams = problem.n_columns, len(lams)
    coefs = np.empty((K, problem.d, n_lams))
    etas = np.empty((K, problem.d, n_lams))
    intercepts = np.empty((K, n_lams))
    W = b = None
    for k, lam in enumerate(lams):
        lam = float(lam)
        pen_k = penalty.with_lam(lam) if penalty.uses_lam else penalty
        res = estimator._solve(problem, pen_k, lam, W if warm else None, b if warm else None)
        W, b = res.coef, res.intercept
        coefs[:, :, k], etas[:, :, k], intercepts[:, k] = W.T, res.eta.T, b
    return PathResult(np.asarray(lams, dtype=np.float64), coefs, intercepts, etas)
