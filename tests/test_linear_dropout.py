"""AdaptiveDropoutRegressor: the duality of Theorem 1 as an acceptance test against
IRLSRegressor (every penalty, random shapes, dense and sparse X, weights), zeros that come
back, which strategy and mask converge, warnings, the scaled keep probability of eq. (4),
masks, pruning and reproducibility."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skdropout.linear import AdaptiveDropoutRegressor, IRLSRegressor, LocalMinimaWarning
from skdropout.linear._design import Design
from skdropout.linear._dropout import draw_mask, keep_prob
from skdropout.linear._path import lam_max
from skdropout.penalties import get_penalty, resolve_penalty


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


PARAMS = {"logsum": {"eps": 1.0}, "mcp": {"a": 3.0}, "scad": {"a": 3.7},
          "elasticnet": {"theta": 0.5}, "lpp": {"p": 0.5}}


def _support(coef):
    """Coefficients above 1e-3 of the largest (the support the issue compares)."""
    return np.abs(coef) > 1e-3 * np.max(np.abs(coef))


def _assert_same_solution(drop, irls, coef_rtol=0.02):
    """Objective within 1e-3 relative of IRLS's, the same support, close coefficients."""
    rel_obj = (drop.objective_ - irls.objective_) / abs(irls.objective_)
    assert abs(rel_obj) <= 1e-3, rel_obj
    np.testing.assert_array_equal(_support(drop.coef_), _support(irls.coef_))
    assert (np.linalg.norm(drop.coef_ - irls.coef_)
            <= coef_rtol * np.linalg.norm(irls.coef_))
    assert drop.intercept_ == pytest.approx(irls.intercept_, abs=1e-3 * (1 + abs(irls.intercept_)))


def _fit_both(X, y, penalty, lam, sample_weight=None, fit_intercept=True, irls_kw=None,
              **kw):
    params = PARAMS.get(penalty)
    irls = IRLSRegressor(penalty=penalty, penalty_params=params, lam=lam,
                         fit_intercept=fit_intercept,
                         **(irls_kw or {})).fit(X, y, sample_weight=sample_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the default reaches tol
        warnings.simplefilter("error", LocalMinimaWarning)  # and, for non-convex
        # penalties, the same minimum with other masks (no false alarm of check_minima)
        drop = AdaptiveDropoutRegressor(penalty=penalty, penalty_params=params, lam=lam,
                                        fit_intercept=fit_intercept, random_state=0,
                                        **kw).fit(X, y, sample_weight=sample_weight)
    return drop, irls


def _lam(X, y, penalty, frac=1 / 20):
    return frac * lam_max(X, y, resolve_penalty(penalty, PARAMS.get(penalty)))


@pytest.mark.parametrize("penalty", ["l1", "elasticnet", "logsum", "mcp", "scad", "lpp",
                                     "vardrop", "hardconcrete"])
def test_duality_acceptance(penalty):
    """Theorem 1: adaptive dropout and the eta-trick reach the same point of eq. (1), every
    penalty, from the same start."""
    X, y = _standardised()
    drop, irls = _fit_both(X, y, penalty, _lam(X, y, penalty))
    _assert_same_solution(drop, irls)
    assert drop.kkt_ <= 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_randomised_duality_over_shapes(seed):
    """Random shapes (d > 100, d >> n, n >> d), dense or sparse X, with or without the
    intercept and sample weights: the dropout fit reaches IRLS's solution."""
    rng = np.random.default_rng(100 + seed)
    n, d = [(200, 2000), (120, 400), (3000, 40), (150, 600)][seed]
    k = int(rng.integers(3, 12))
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, d)
    if seed % 2:
        X = sp.csr_matrix(np.where(rng.random((n, d)) < 0.2, X, 0.0))
    beta = np.zeros(d)
    beta[rng.choice(d, k, replace=False)] = rng.normal(0, 3, k)
    y = np.asarray(X @ beta).ravel() + rng.standard_normal(n) + 5.0
    sw = rng.uniform(0.2, 3.0, n) if seed in (1, 2) else None
    fit_intercept = seed != 3
    # convex penalties: one solution, so the comparison is exact whatever the path (for the
    # non-convex ones two stochastic paths may end in different local minima; they are
    # compared from the same start in test_duality_acceptance)
    for penalty in ["l1", "elasticnet"]:
        lam = _lam(X.toarray() if sp.issparse(X) else X, y, penalty)
        drop, irls = _fit_both(X, y, penalty, lam, sample_weight=sw,
                               fit_intercept=fit_intercept)
        _assert_same_solution(drop, irls)


def test_support_outside_the_100_columns_most_correlated_with_y():
    """The start uses the 100 columns most correlated with y; the true support here lies
    outside them (150 noisy proxies of y are more correlated), so the working set has to
    grow for the fit to be right."""
    rng = np.random.default_rng(7)
    n, d = 300, 600
    X = rng.standard_normal((n, d))
    support = np.arange(500, 510)
    y = X[:, support] @ rng.choice([-1.0, 1.0], 10) + 0.1 * rng.standard_normal(n)
    X[:, :150] = y[:, None] + 6.0 * rng.standard_normal((n, 150))  # decoys
    X = (X - X.mean(0)) / X.std(0)
    corr = np.abs(X.T @ (y - y.mean()))
    assert not set(support) & set(np.argsort(-corr)[:100])
    drop, irls = _fit_both(X, y, "l1", _lam(X, y, "l1", 1 / 80))
    assert set(support) <= set(np.flatnonzero(irls.coef_))
    _assert_same_solution(drop, irls)


def test_a_zero_comes_back():
    """A coordinate set to 0 (a warm start that misses part of the support) re-enters."""
    X, y = _standardised(seed=3)
    drop = AdaptiveDropoutRegressor(lam=0.1, warm_start=True, random_state=0).fit(X, y)
    irls = IRLSRegressor(lam=0.1).fit(X, y)
    drop.coef_ = drop.coef_.copy()
    drop.coef_[:3] = 0.0  # three true features
    drop.fit(X, y)
    assert np.all(drop.coef_[:3] != 0)
    _assert_same_solution(drop, irls)


@pytest.mark.parametrize("strategy, mask", [("proximal", "gaussian"), ("proximal", "bernoulli"),
                                            ("sgd", "gaussian"), ("sgd", "bernoulli")])
def test_which_strategies_and_masks_reach_the_solution(strategy, mask):
    """With variance reduction, pruning and re-entry, Algorithm 1 and eq. (9) reach IRLS's
    solution with both masks; eq. (9) needs more epochs (its explicit Tikhonov gradient
    lam w/eta and the mask on the gradient limit its step as eta -> 0)."""
    X, y = _standardised(seed=1, d=200)
    lam = _lam(X, y, "l1", 1 / 10)
    irls = IRLSRegressor(lam=lam).fit(X, y)
    est = AdaptiveDropoutRegressor(lam=lam, strategy=strategy, mask=mask, max_iter=3000,
                                   random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _assert_same_solution(est.fit(X, y), irls)
    if strategy == "sgd":
        fast = AdaptiveDropoutRegressor(lam=lam, mask=mask, random_state=0).fit(X, y)
        assert est.n_iter_ > fast.n_iter_


def test_non_converged_fit_warns_with_the_residual_reached():
    X, y = _standardised(seed=2, d=300)
    with pytest.warns(ConvergenceWarning, match=r"KKT residual \d\.\d\de[-+]\d+ > tol.*max_iter"):
        est = AdaptiveDropoutRegressor(lam=0.01, max_iter=2, random_state=0).fit(X, y)
    assert est.kkt_ > 1e-6 and est.n_iter_ <= 3


@pytest.mark.parametrize("factor", [None, "half"])
def test_lpp_on_more_features_than_samples_converges_from_the_default_start(factor):
    """lpp (infinite slope at 0, no working set) on d > n: least squares on all columns
    interpolates y with 800 small coordinates, whose masks (variance lam/(c eta), eta =
    |w|^(3/2)) stalled dropout (a ConvergenceWarning at a KKT residual near 1). Both
    estimators now start from their own lasso fit at the same lam (with the same penalty
    factors), and reach the same lpp point with defaults, equal to the fits warm-started
    from IRLS's lasso."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 800))
    X = (X - X.mean(0)) / X.std(0)
    y = X[:, :5] @ [3.0, -2.0, 1.5, 1.0, -1.0] + 0.5 * rng.standard_normal(80)
    lam = _lam(X, y, "lpp")
    pf = None if factor is None else np.where(np.arange(800) % 2, 0.5, 1.0)
    drop, irls = _fit_both(X, y, "lpp", lam, penalty_factor=pf, irls_kw={"penalty_factor": pf})
    _assert_same_solution(drop, irls)
    assert drop.kkt_ <= 1e-6  # the two runs of check_minima agree (_fit_both: no warning)
    l1 = IRLSRegressor(lam=lam, penalty_factor=pf).fit(X, y)
    kw = dict(penalty="lpp", penalty_params=PARAMS["lpp"], lam=lam, penalty_factor=pf)
    for est in (IRLSRegressor(warm_start=True, **kw),
                AdaptiveDropoutRegressor(warm_start=True, random_state=0, **kw)):
        est.coef_, est.n_features_in_ = l1.coef_.copy(), X.shape[1]
        est.fit(X, y)
        assert est.objective_ == pytest.approx(irls.objective_, rel=1e-9)
        np.testing.assert_array_equal(_support(est.coef_), _support(irls.coef_))


def _rugged_problem():
    """d >> n with a support of the order of n/2: logsum's eq. (1) has many local minima
    there, and two mask sequences from the same start end in different ones."""
    from sklearn.datasets import make_regression
    X, y = make_regression(n_samples=60, n_features=400, n_informative=30, noise=1.0,
                           random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    return X, y, _lam(X, y, "logsum")


def test_check_minima_warns_when_the_masks_decide_the_local_minimum():
    """A non-convex fit whose minimum depends on the masks says so (LocalMinimaWarning)
    and keeps the lower of its two runs; each run is the fit check_minima=False makes with
    that run's masks."""
    X, y, lam = _rugged_problem()
    kw = dict(penalty="logsum", penalty_params=PARAMS["logsum"], lam=lam, random_state=0)
    with pytest.warns(LocalMinimaWarning, match=r"different local minima .*relative "
                      r"difference \d\.\de[-+]\d+; supports differ in \d+ columns"):
        est = AdaptiveDropoutRegressor(**kw).fit(X, y)
    first, second = est.minima_objectives_
    assert abs(first - second) > 1e-3 * abs(first)
    assert est.objective_ == pytest.approx(min(first, second), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LocalMinimaWarning)
        single = AdaptiveDropoutRegressor(check_minima=False, **kw).fit(X, y)
    assert single.objective_ == pytest.approx(first, rel=1e-12)
    assert not hasattr(single, "minima_objectives_")


def test_check_minima_is_silent_for_convex_penalties_and_warm_starts():
    """One minimum (convex) or a chosen start (warm start): no second run."""
    X, y, lam = _rugged_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LocalMinimaWarning)
        l1 = AdaptiveDropoutRegressor(lam=lam, random_state=0).fit(X, y)
        assert not hasattr(l1, "minima_objectives_")
        warm = AdaptiveDropoutRegressor(penalty="logsum", lam=lam, random_state=0,
                                        check_minima=False).fit(X, y)
        warm.set_params(warm_start=True, check_minima=True).fit(X, y)
        assert not hasattr(warm, "minima_objectives_")


def test_a_diverging_learning_rate_is_caught():
    """learning_rate=10 diverges at that step; the step is halved until the objective
    falls, so the fit still reaches the solution (issue 18: it returned 1e55 silently)."""
    X, y = _standardised(seed=5)
    irls = IRLSRegressor(lam=0.1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = AdaptiveDropoutRegressor(lam=0.1, learning_rate=10.0, random_state=0).fit(X, y)
    assert est.learning_rate_ < 10.0
    assert np.all(np.abs(est.coef_) < 100)
    _assert_same_solution(est, irls)


def test_unstandardised_data_uses_the_scale_of_eq4():
    """With c_j = (X'X/n)_jj in the keep probability the duality holds for any column scale."""
    scales = np.geomspace(0.1, 10.0, 20)
    X, y = _standardised(seed=2, scales=scales)
    irls = IRLSRegressor(lam=0.1).fit(X, y)
    drop = AdaptiveDropoutRegressor(lam=0.1, random_state=0).fit(X, y)
    _assert_same_solution(drop, irls)
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


def test_sparse_input_and_warm_start():
    X, y = _standardised(seed=6)
    irls = IRLSRegressor(lam=0.1).fit(X, y)
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.3, 0.0, X))
    dense = AdaptiveDropoutRegressor(lam=0.1, max_iter=50, random_state=0).fit(Xs.toarray(), y)
    sparse = AdaptiveDropoutRegressor(lam=0.1, max_iter=50, random_state=0).fit(Xs, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)
    warm = AdaptiveDropoutRegressor(lam=0.1, max_iter=3, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    first = warm.coef_.copy()
    warm.set_params(max_iter=1000).fit(X, y)  # continues from first to the solution
    assert np.linalg.norm(warm.coef_ - irls.coef_) < np.linalg.norm(first - irls.coef_)
    _assert_same_solution(warm, irls)
