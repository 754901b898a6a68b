"""flat_separation: a logistic model that separates its data where its penalty is flat.

Each case is checked against the claim it stands for, computed independently with numpy: the
objective along the ray (t W, t b) falls for every t > 1 when the check holds, and rises
again when the penalty keeps growing (l1)."""

import numpy as np
import pytest
from scipy.special import logsumexp

from skdropout.linear._logistic import LogisticProblem
from skdropout.linear._separation import flat_separation
from skdropout.penalties import get_penalty
from skdropout.penalties.factor import Factored

LAM = 0.1
RAY = [1.0, 1.25, 1.5, 2.0, 3.0]  # short: the loss stays above F's rounding


def _binary(n=30, seed=0):
    """Two features, labels by the sign of the first (no sample near the boundary)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    X[:, 0] = np.sign(X[:, 0]) * (0.5 + np.abs(X[:, 0]))
    return X, (X[:, 0] > 0).astype(float)


def _objective(X, Y, s, W, b, penalty):
    """F(W, b): the weighted mean log-loss (softmax over K columns, or one binary column)
    plus lam Omega, from numpy alone."""
    M = X @ W + b
    if Y.shape[1] == 1:
        loss = np.logaddexp(0.0, M[:, 0]) - Y[:, 0] * M[:, 0]
    else:
        loss = logsumexp(M, axis=1) - np.sum(Y * M, axis=1)
    return float(s @ loss / s.sum()) + LAM * sum(penalty.value(W[:, k])
                                                   for k in range(W.shape[1]))


def _along_ray(X, Y, s, W, b, penalty, ray=RAY):
    return np.array([_objective(X, Y, s, t * W, t * b, penalty) for t in ray])


def _check(X, Y, s, W, b, penalty):
    problem = LogisticProblem(X, Y, s, float(s.sum()), True)
    return flat_separation(problem, penalty, W, X @ W + b)


def test_separated_with_every_coefficient_flat_the_objective_falls_along_the_ray():
    X, y = _binary()
    W, b = np.array([[1.0], [0.0]]), np.zeros(1)  # |w| > a lam = 0.3: MCP is flat there
    mcp = get_penalty("mcp").with_lam(LAM)
    s = np.ones(len(y))
    assert _check(X, y[:, None], s, W, b, mcp)
    F = _along_ray(X, y[:, None], s, W, b, mcp)
    assert np.all(np.diff(F) < 0)
    assert F[-1] > LAM * mcp.value(W[:, 0])  # approached, never reached
    # l1 keeps growing: eta_hat finite, the check fails and F turns up along the ray
    l1 = get_penalty("l1")
    assert not _check(X, y[:, None], s, W, b, l1)
    F_l1 = _along_ray(X, y[:, None], s, W, b, l1, ray=[1.0, 4.0, 16.0])
    assert F_l1[-1] > F_l1[0]


def test_a_misclassified_sample_a_shrunk_coefficient_or_a_zero_margin_fail_it():
    X, y = _binary()
    W, b = np.array([[1.0], [0.0]]), np.zeros(1)
    mcp = get_penalty("mcp").with_lam(LAM)
    s = np.ones(len(y))
    flipped = y.copy()
    flipped[0] = 1.0 - flipped[0]
    assert not _check(X, flipped[:, None], s, W, b, mcp)
    # the same sample without weight does not count
    s0 = s.copy()
    s0[0] = 0.0
    assert _check(X, flipped[:, None], s0, W, b, mcp)
    # a second coefficient inside MCP's curved part (|w| < a lam): it is still shrunk
    assert not _check(X, y[:, None], s, np.array([[1.0], [0.1]]), b, mcp)
    # no coefficient: an intercept separates only where the weighted samples are one class
    one = np.where(y == 1, 1.0, 0.0)
    assert not _check(X, y[:, None], one, np.zeros((2, 1)), np.array([3.0]), mcp)
    # a sample exactly on the boundary
    X_on = X.copy()
    X_on[0] = 0.0
    assert not _check(X_on, y[:, None], s, W, b, mcp)


def test_an_unpenalised_feature_is_flat_for_a_penalty_that_grows():
    """l1 with a penalty factor of 0 on the separating feature: eta_hat = inf there."""
    X, y = _binary()
    W, b = np.array([[1.0], [0.0]]), np.zeros(1)
    s = np.ones(len(y))
    free = Factored(get_penalty("l1"), np.array([0.0, 1.0]))
    assert _check(X, y[:, None], s, W, b, free)
    assert np.all(np.diff(_along_ray(X, y[:, None], s, W, b, free)) < 0)
    assert not _check(X, y[:, None], s, np.array([[1.0], [0.2]]), b, free)


@pytest.mark.parametrize("name", ["scad", "mcp"])
def test_multinomial_separation_is_by_every_class_margin(name):
    rng = np.random.default_rng(1)
    centres = 4.0 * np.eye(3)
    labels = np.repeat(np.arange(3), 10)
    X = centres[labels] + 0.3 * rng.standard_normal((30, 3))
    Y = np.eye(3)[labels]
    W, b = 0.5 * np.eye(3), np.zeros(3)  # the nearest centre's class wins; |w| > a lam
    penalty = get_penalty(name).with_lam(LAM)
    s = np.ones(30)
    assert _check(X, Y, s, W, b, penalty)
    assert np.all(np.diff(_along_ray(X, Y, s, W, b, penalty)) < 0)
    wrong = Y.copy()
    wrong[0] = np.roll(wrong[0], 1)
    assert not _check(X, wrong, s, W, b, penalty)
