"""Per-feature penalty factors (glmnet's penalty.factor): lam_j = lam * v_j."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import optimize
from sklearn.linear_model import Lasso, LassoCV
from sklearn.model_selection import KFold

from skdropout.linear import (AdaptiveDropoutRegressor, AdaptiveDropoutRegressorCV, IRLSRegressor,
                              IRLSRegressorCV, adaptive_dropout_path, irls_path)


def _problem(n=60, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[:4] = [2.0, -1.5, 1.0, 0.5]
    y = X @ w + 0.3 * rng.standard_normal(n) + 1.0
    return X, y


def _lasso(X, y, lam):
    return Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X, y)


@pytest.mark.parametrize("shape", [(60, 12), (40, 150)])
@pytest.mark.parametrize("sparse", [False, True])
def test_l1_factor_equals_lasso_on_rescaled_columns(shape, sparse):
    X, y = _problem(*shape)
    v = np.random.default_rng(1).uniform(0.3, 3.0, X.shape[1])
    lam = 0.05
    ref = _lasso(X / v, y, lam)
    Xf = sp.csr_matrix(X) if sparse else X
    est = IRLSRegressor(lam=lam, penalty_factor=v, tol=1e-10).fit(Xf, y)
    np.testing.assert_allclose(est.coef_, ref.coef_ / v, atol=1e-7)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, atol=1e-7)
    assert np.array_equal(est.coef_ == 0, ref.coef_ == 0)


def test_l1_factor_on_a_wide_problem_with_many_zero_crossings():
    """d >> n at small lam: the Newton polish cuts its steps at zero crossings, where the
    objective of each candidate point takes the per-feature penalty of its features."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 300))
    X[np.abs(X) < 1.0] = 0.0
    y = X[:, :6] @ (2 * rng.standard_normal(6)) + rng.standard_normal(80)
    v = np.random.default_rng(1).uniform(0.3, 3.0, 300)
    for lam in (0.025, 0.005):
        ref = _lasso(X / v, y, lam)
        est = IRLSRegressor(lam=lam, penalty_factor=v, tol=1e-10).fit(X, y)
        np.testing.assert_allclose(est.coef_, ref.coef_ / v, atol=1e-6)
        assert np.array_equal(est.coef_ == 0, ref.coef_ == 0)


def test_l1_zero_factor_leaves_features_unpenalised():
    """v_j = 0: minimising over the unpenalised w_U first leaves the lasso on the residual of
    the projection onto span(1, X_U)."""
    X, y = _problem(80, 15, seed=3)
    free = np.array([1, 7])
    v = np.ones(X.shape[1])
    v[free] = 0.0
    lam = 0.4  # large enough to zero w_1 if it were penalised
    est = IRLSRegressor(lam=lam, penalty_factor=v, tol=1e-10).fit(X, y)
    pen = np.setdiff1d(np.arange(X.shape[1]), free)
    Xc, yc = X - X.mean(0), y - y.mean()
    Q, _ = np.linalg.qr(Xc[:, free])
    proj = lambda A: A - Q @ (Q.T @ A)  # noqa: E731
    ref = _lasso(proj(Xc[:, pen]), proj(yc), lam)
    np.testing.assert_allclose(est.coef_[pen], ref.coef_, atol=1e-7)
    w_free = np.linalg.lstsq(Xc[:, free], yc - Xc[:, pen] @ ref.coef_, rcond=None)[0]
    np.testing.assert_allclose(est.coef_[free], w_free, atol=1e-7)
    assert np.all(est.coef_[free] != 0)
    assert np.isinf(est.eta_[free]).all()


def _mcp(t, lam, a):
    """The usual MCP, lam |t| - t^2/(2a) for |t| <= a lam, a lam^2 / 2 beyond."""
    t = np.abs(t)
    return np.where(t <= a * lam, lam * t - t**2 / (2 * a), a * lam**2 / 2)


def test_mcp_factor_is_stationary_for_the_objective_with_lam_j():
    X, y = _problem(50, 8, seed=5)
    v = np.array([1.0, 0.5, 2.0, 0.0, 1.0, 3.0, 1.0, 0.7])
    lam, a = 0.3, 3.0
    est = IRLSRegressor(penalty="mcp", penalty_params={"a": a}, lam=lam, penalty_factor=v,
                        tol=1e-10).fit(X, y)
    w = est.coef_
    n = X.shape[0]
    Xc, yc = X - X.mean(0), y - y.mean()
    sup = np.flatnonzero(w)

    def f(ws):
        full = np.zeros_like(w)
        full[sup] = ws
        r = yc - Xc @ full
        return r @ r / (2 * n) + np.sum(_mcp(ws, lam * v[sup], a))

    opt = optimize.minimize(f, w[sup] * 1.01, method="BFGS", options={"gtol": 1e-12})
    np.testing.assert_allclose(w[sup], opt.x, atol=1e-5)
    assert 3 in sup  # the unpenalised feature
    g = Xc.T @ (yc - Xc @ w) / n
    zero = np.flatnonzero(w == 0)
    assert np.all(np.abs(g[zero]) <= lam * v[zero] * (1 + 1e-6))


def test_path_lam_max_over_penalised_features():
    X, y = _problem(60, 10, seed=2)
    v = np.full(X.shape[1], 2.0)
    v[0] = 0.0
    lams, coefs, intercepts, _ = irls_path(X, y, lams=8, eps=0.05, penalty_factor=v,
                                           tol=1e-10)
    Xc, yc = X - X.mean(0), y - y.mean()
    b0 = (Xc[:, 0] @ yc) / (Xc[:, 0] @ Xc[:, 0])
    g = Xc.T @ (yc - Xc[:, 0] * b0) / X.shape[0]
    np.testing.assert_allclose(lams[0], np.max(np.abs(g[1:]) / v[1:]), rtol=1e-10)
    assert np.all(coefs[1:, 0] == 0)
    np.testing.assert_allclose(coefs[0, 0], b0, rtol=1e-8)
    assert np.any(coefs[1:, 1] != 0)
    for k in (2, 5):
        est = IRLSRegressor(lam=lams[k], penalty_factor=v, tol=1e-10).fit(X, y)
        np.testing.assert_allclose(coefs[:, k], est.coef_, atol=1e-7)
        np.testing.assert_allclose(intercepts[k], est.intercept_, atol=1e-7)


def test_cv_with_factor_matches_lassocv_on_rescaled_columns():
    X, y = _problem(90, 20, seed=4)
    v = np.random.default_rng(2).uniform(0.5, 2.0, X.shape[1])
    cv = KFold(4, shuffle=True, random_state=0)
    est = IRLSRegressorCV(lams=15, eps=1e-2, cv=cv, penalty_factor=v, tol=1e-10).fit(X, y)
    ref = LassoCV(alphas=est.lams_, cv=cv, tol=1e-12, max_iter=100_000).fit(X / v, y)
    np.testing.assert_allclose(est.lams_[0], np.max(np.abs((X / v - (X / v).mean(0)).T
                                                           @ (y - y.mean()))) / len(y))
    np.testing.assert_allclose(est.mse_path_, ref.mse_path_, rtol=1e-6)
    assert est.lam_ == ref.alpha_
    np.testing.assert_allclose(est.coef_, ref.coef_ / v, atol=1e-7)


@pytest.mark.parametrize("factor, match", [
    (np.ones(3), r"shape \(n_features,\)"),
    (np.r_[np.ones(11), np.nan], "finite"),
    (np.r_[np.ones(11), -1.0], ">= 0"),
    (np.zeros(12), "at least one"),
    ("abc", "penalty_factor"),
])
def test_bad_penalty_factor_is_refused(factor, match):
    X, y = _problem()
    with pytest.raises(ValueError, match="penalty_factor") as info:
        IRLSRegressor(penalty_factor=factor).fit(X, y)
    assert info.match(match)
    with pytest.raises(ValueError, match="penalty_factor"):
        IRLSRegressorCV(lams=3, cv=2, penalty_factor=factor).fit(X, y)


def test_non_separable_penalty_refuses_factor():
    X, y = _problem()
    with pytest.raises(ValueError, match="penalty_factor.*separable"):
        IRLSRegressor(penalty="lp", penalty_factor=np.ones(12)).fit(X, y)


@pytest.mark.parametrize("shape", [(60, 12), (40, 150)])
def test_dropout_with_factor_reaches_the_irls_solution(shape):
    X, y = _problem(*shape, seed=6)
    v = np.random.default_rng(3).uniform(0.5, 2.0, X.shape[1])
    v[[0, 5]] = 0.0
    lam = 0.1
    irls = IRLSRegressor(lam=lam, penalty_factor=v, tol=1e-10).fit(X, y)
    drop = AdaptiveDropoutRegressor(lam=lam, penalty_factor=v, tol=1e-8,
                                    random_state=0).fit(X, y)
    np.testing.assert_allclose(drop.coef_, irls.coef_, atol=1e-5)
    assert np.array_equal(drop.coef_ == 0, irls.coef_ == 0)
    # keep probabilities c_j |w_j| / (c_j |w_j| + lam v_j) for l1; 1 where v_j = 0
    c = ((X - X.mean(0)) ** 2).mean(0)
    nz = np.flatnonzero((drop.coef_ != 0) & (v > 0))
    expected = c[nz] * np.abs(drop.coef_[nz]) / (c[nz] * np.abs(drop.coef_[nz]) + lam * v[nz])
    np.testing.assert_allclose(drop.keep_prob_[nz], expected, rtol=1e-10)
    np.testing.assert_array_equal(drop.keep_prob_[[0, 5]], 1.0)


def test_dropout_path_and_cv_with_factor_match_irls():
    X, y = _problem(80, 10, seed=7)
    v = np.linspace(0.0, 2.0, X.shape[1])
    ip = irls_path(X, y, lams=6, eps=0.05, penalty_factor=v, tol=1e-10)
    dp = adaptive_dropout_path(X, y, lams=6, eps=0.05, penalty_factor=v, tol=1e-8,
                               random_state=0)
    np.testing.assert_array_equal(dp.lams, ip.lams)
    np.testing.assert_allclose(dp.coefs, ip.coefs, atol=1e-5)
    cv = KFold(3, shuffle=True, random_state=1)
    icv = IRLSRegressorCV(lams=6, eps=0.05, cv=cv, penalty_factor=v, tol=1e-10).fit(X, y)
    dcv = AdaptiveDropoutRegressorCV(lams=6, eps=0.05, cv=cv, penalty_factor=v, tol=1e-8,
                                     path_tol=1e-8, random_state=0).fit(X, y)
    np.testing.assert_allclose(dcv.mse_path_, icv.mse_path_, rtol=1e-5)
    assert dcv.lam_ == icv.lam_
    with pytest.raises(ValueError, match="penalty_factor"):
        AdaptiveDropoutRegressor(penalty_factor=-np.ones(10)).fit(X, y)
