"""AdaptiveDropoutRegressor: the duality of Theorem 1 as an acceptance test against
IRLSRegressor, the scaled keep probability of eq. (4), masks, pruning and reproducibility."""

import numpy as np
import pytest
import scipy.sparse as sp

from skdropout.linear import AdaptiveDropoutRegressor, IRLSRegressor
from skdropout.linear._design import Design
from skdropout.linear._dropout import draw_mask, keep_prob
from skdropout.penalties import get_penalty


def _standardised(n=200, d=20, seed=0, scales=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X = (X - X.mean(0)) / X.std(0)
    if scales is not None:
        X = X * scales
    beta = np.zeros(d)
    beta[:5] = [3.0, -2.0, 1.5, 1.0, -1.0]
    if scales is not None:
        beta = beta / scales
    y = X @ beta + 0.5 * rng.standard_normal(n) + 2.0
    return X, y


CASES = [("l1", None), ("logsum", {"eps": 1.0}), ("mcp", {"a": 3.0})]


def _compare(drop, irls):
    rel_obj = (drop.objective_ - irls.objective_) / irls.objective_
    rel_coef = np.linalg.norm(drop.coef_ - irls.coef_) / np.linalg.norm(irls.coef_)
    return rel_obj, rel_coef


@pytest.mark.parametrize("penalty, params", CASES)
def test_duality_acceptance(penalty, params):
    """Theorem 1: adaptive dropout and the eta-trick solve the same problem."""
    X, y = _standardised()
    lam = 0.1
    irls = IRLSRegressor(penalty=penalty, penalty_params=params, lam=lam).fit(X, y)
    # no zero coordinate of IRLS's solution is borderline (|X_j'r/n| within 10 % of lam slope0)
    g = (X - X.mean(0)).T @ (y - irls.predict(X)) / len(y)
    slope0 = get_penalty(penalty, **(params or {})).slope0
    assert np.all(np.abs(g[irls.coef_ == 0]) < 0.9 * lam * slope0)
    drop = AdaptiveDropoutRegressor(penalty=penalty, penalty_params=params, lam=lam,
                                    random_state=0).fit(X, y)
    np.testing.assert_array_equal(drop.coef_ != 0, irls.coef_ != 0)
    rel_obj, rel_coef = _compare(drop, irls)
    assert -1e-12 <= rel_obj < 0.01
    assert rel_coef < 0.03
    assert drop.intercept_ == pytest.approx(irls.intercept_, abs=0.05)


@pytest.mark.parametrize("strategy, mask", [("sgd", "gaussian"), ("sgd", "bernoulli"),
                                            ("proximal", "bernoulli")])
def test_other_strategies_and_masks_reach_the_same_solution(strategy, mask):
    # l1: the solution is unique (for non-convex penalties a different stochastic path may end
    # at another stationary point)
    X, y = _standardised(seed=1)
    irls = IRLSRegressor(lam=0.1).fit(X, y)
    drop = AdaptiveDropoutRegressor(lam=0.1, strategy=strategy, mask=mask,
                                    random_state=0).fit(X, y)
    np.testing.assert_array_equal(drop.coef_ != 0, irls.coef_ != 0)
    rel_obj, rel_coef = _compare(drop, irls)
    assert rel_obj < 0.01 and rel_coef < 0.03


def test_unstandardised_data_uses_the_scale_of_eq4():
    """With c_j = (X'X/n)_jj in the keep probability the duality holds for any column scale."""
    scales = np.geomspace(0.1, 10.0, 20)
    X, y = _standardised(seed=2, scales=scales)
    irls = IRLSRegressor(lam=0.1).fit(X, y)
    drop = AdaptiveDropoutRegressor(lam=0.1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(drop.coef_ != 0, irls.coef_ != 0)
    rel_obj, rel_coef = _compare(drop, irls)
    # the first column is dropped 1/3 of the time (keep probability 0.66): noisier
    assert rel_obj < 0.01 and rel_coef < 0.05
    c = ((X - X.mean(0)) ** 2).mean(0)
    eta = get_penalty("l1").eta_hat(drop.coef_)
    np.testing.assert_allclose(drop.keep_prob_, c * eta / (c * eta + 0.1))
    np.testing.assert_array_equal(drop.eta_, eta)


def test_expected_masked_loss_is_the_eta_trick_objective():
    """Eq. (4) with alpha = c eta/(c eta + lam): E_s L(s*w) = L(w) + lam/2 sum w^2/eta,
    checked exactly (the Tikhonov form) and by Monte Carlo over both mask families."""
    rng = np.random.default_rng(3)
    n, d, lam = 50, 4, 0.3
    X = rng.standard_normal((n, d)) * [0.5, 1.0, 2.0, 4.0]
    y = rng.standard_normal(n)
    design = Design(X, y, None, False)
    w = np.array([0.7, -1.2, 0.4, 0.05])
    eta = np.array([0.5, 2.0, 0.1, 0.02])
    c = design.col_sq_norms()
    alpha = keep_prob(eta, c, lam)
    G = X.T @ X / n
    tikhonov = 0.5 * w @ ((np.diag(1 / alpha - 1)) * G) @ w  # eq. (4)'s extra term
    assert tikhonov == pytest.approx(0.5 * lam * np.sum(w**2 / eta), rel=1e-12)
    for mask in ["gaussian", "bernoulli"]:
        draws = 40_000
        S = np.stack([draw_mask(rng, alpha, mask) for _ in range(draws)])
        np.testing.assert_allclose(S.mean(0), 1.0, atol=0.05)
        np.testing.assert_allclose((S**2).mean(0), 1 / alpha, rtol=0.05)
        r = y[None, :] - (S * w) @ X.T
        mc = 0.5 * np.mean(np.sum(r**2, axis=1)) / n
        assert mc == pytest.approx(design.loss(w) + 0.5 * lam * np.sum(w**2 / eta), rel=0.02)


def test_pruned_coordinates_are_exact_zeros_with_keep_prob_zero():
    X, y = _standardised(seed=4)
    drop = AdaptiveDropoutRegressor(lam=0.1, random_state=0).fit(X, y)
    zero = drop.coef_ == 0
    assert zero.sum() >= 10
    np.testing.assert_array_equal(drop.keep_prob_[zero], 0.0)
    np.testing.assert_array_equal(drop.eta_[zero], 0.0)
    assert np.all(drop.keep_prob_[~zero] > 0)
    mcp = AdaptiveDropoutRegressor(penalty="mcp", lam=0.1, random_state=0).fit(X, y)
    big = np.abs(mcp.coef_) >= 3.0 * 0.1  # flat part of MCP: never dropped
    np.testing.assert_array_equal(mcp.keep_prob_[big], 1.0)


def test_random_state_reproducible():
    X, y = _standardised(seed=5)
    kw = dict(penalty="logsum", lam=0.1, max_iter=100)
    a = AdaptiveDropoutRegressor(random_state=7, **kw).fit(X, y)
    b = AdaptiveDropoutRegressor(random_state=7, **kw).fit(X, y)
    c = AdaptiveDropoutRegressor(random_state=8, **kw).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)


def test_minibatches_sparse_input_and_warm_start():
    X, y = _standardised(seed=6)
    irls = IRLSRegressor(lam=0.1).fit(X, y)
    mini = AdaptiveDropoutRegressor(lam=0.1, batch_size=50, max_iter=300,
                                    random_state=0).fit(X, y)
    np.testing.assert_array_equal(mini.coef_ != 0, irls.coef_ != 0)
    assert _compare(mini, irls)[0] < 0.01
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.3, 0.0, X))
    dense = AdaptiveDropoutRegressor(lam=0.1, max_iter=50, random_state=0).fit(Xs.toarray(), y)
    sparse = AdaptiveDropoutRegressor(lam=0.1, max_iter=50, random_state=0).fit(Xs, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)
    warm = AdaptiveDropoutRegressor(lam=0.1, max_iter=20, warm_start=True, random_state=0)
    warm.fit(X, y)
    first = warm.coef_.copy()
    warm.fit(X, y)
    np.testing.assert_array_equal(warm.coef_ == 0, (first == 0) | (warm.coef_ == 0))
    assert np.linalg.norm(warm.coef_ - irls.coef_) < np.linalg.norm(first - irls.coef_) + 0.05
