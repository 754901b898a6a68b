"""irls_path: the grid, its top lam_max, warm-started solutions checked against scikit-learn's
lasso_path and against the stationarity conditions of eq. (1)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_regression
from sklearn.linear_model import LassoCV, lasso_path

from skdropout.linear import IRLSRegressor, adaptive_dropout_path, irls_path
from skdropout.linear._path import lam_grid, lam_max
from skdropout.penalties import get_penalty, resolve_penalty


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=60, n_features=12, n_informative=4, noise=2.0,
                           random_state=0)
    return X, y


@pytest.fixture(scope="module")
def support_near_n():
    """d >> n with heavy noise: at lam_max/100 the lasso support fills most of the n rows."""
    return make_regression(n_samples=100, n_features=800, n_informative=20, noise=300.0,
                           random_state=1)


@pytest.mark.parametrize("problem", ["data", "support_near_n"])
def test_l1_path_equals_sklearn_lasso_path(problem, request):
    # on support_near_n each fit starts from the previous solution moved along the homotopy
    # direction (Newton on its support) and most polish rounds reuse a factorisation
    X, y = request.getfixturevalue(problem)
    lams, coefs, intercepts, etas = irls_path(X, y, lams=15, eps=1e-2, tol=1e-12,
                                              max_iter=1000)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    alphas, ref, _ = lasso_path(Xc, yc, alphas=lams, tol=1e-14, max_iter=200_000)
    if problem == "support_near_n":
        assert np.count_nonzero(ref[:, -1]) > 0.8 * len(y)
    np.testing.assert_allclose(alphas, lams)
    np.testing.assert_allclose(coefs, ref, atol=1e-5)
    np.testing.assert_array_equal(coefs == 0, np.abs(ref) < 1e-12)
    np.testing.assert_allclose(intercepts, y.mean() - X.mean(axis=0) @ coefs, atol=1e-8)
    np.testing.assert_allclose(etas, np.abs(coefs), atol=1e-8)  # eta_hat(w) = |w| for l1


def test_grid_top_is_sklearn_alpha_max_with_sample_weight(data):
    X, y = data
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    ref = LassoCV(alphas=4, eps=1e-2, cv=3).fit(X, y, sample_weight=sw).alphas_
    grid = lam_grid(X, y, get_penalty("l1"), 4, eps=1e-2, sample_weight=sw)
    np.testing.assert_allclose(grid, ref, rtol=1e-12)


@pytest.mark.parametrize("penalty, params", [("l1", None), ("mcp", {"a": 3.0}),
                                             ("scad", None), ("logsum", {"eps": 2.0}),
                                             ("elasticnet", {"theta": 0.5})])
def test_first_point_zero_next_not(data, penalty, params):
    X, y = data
    lams, coefs, _, _ = irls_path(X, y, penalty=penalty, penalty_params=params, lams=6,
                                  eps=0.05)
    assert np.all(coefs[:, 0] == 0)
    assert np.any(coefs[:, 1] != 0)


def test_lam_max_of_lam_shaped_penalty_is_a_fixed_point(data):
    """vardrop's slope at 0 falls as 1/sqrt(lam): lam_max solves lam * slope0(lam) = max|g|,
    checked with the slope measured by a finite difference of Omega itself."""
    X, y = data
    g = np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(y)
    pen = get_penalty("vardrop")
    top = lam_max(X, y, pen)
    t = 1e-7
    slope = resolve_penalty(pen, None, top).value([t]) / t
    assert top * slope == pytest.approx(g, rel=1e-4)
    assert top != pytest.approx(pen.lam_max(g * np.ones(1)), rel=1e-2)  # lam=1's answer


def test_lam_max_for_infinite_and_zero_slopes(data):
    X, y = data
    g = np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(y)
    for name in ("lpp", "l0", "huber", "standout", "hardthresh"):
        assert lam_max(X, y, get_penalty(name)) == pytest.approx(g)
    assert lam_max(X, np.full(len(y), 3.0), get_penalty("l1")) == np.finfo(float).resolution


def test_mcp_path_points_are_stationary(data):
    """Every warm-started mcp solution satisfies the first-order conditions of eq. (1):
    X_c'(y_c - X_c w)/n = lam * dOmega/dw on the support, |.| <= lam * slope0 off it."""
    X, y = data
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    lams, coefs, _, _ = irls_path(X, y, penalty="mcp", penalty_params={"a": 3.0}, lams=8,
                                  eps=0.05, tol=1e-10, max_iter=1000)
    for lam, w in zip(lams, coefs.T):
        corr = Xc.T @ (yc - Xc @ w) / len(y)
        pen = resolve_penalty("mcp", {"a": 3.0}, lam)
        on = w != 0
        np.testing.assert_allclose(corr[on], lam * pen.grad(w)[on], atol=1e-6)
        assert np.all(np.abs(corr[~on]) <= lam * (1 + 1e-6))


def test_array_grid_is_sorted_decreasing_and_used(data):
    X, y = data
    lams, coefs, _, _ = irls_path(X, y, lams=[0.5, 5.0, 1.0])
    np.testing.assert_array_equal(lams, [5.0, 1.0, 0.5])
    assert coefs.shape == (X.shape[1], 3)


def test_sample_weight_equals_repeated_rows(data):
    X, y = data
    reps = np.random.default_rng(2).integers(0, 3, size=len(y))
    grid = lam_grid(X, y, get_penalty("l1"), 5, eps=0.05)
    _, c_w, b_w, _ = irls_path(X, y, lams=grid, sample_weight=reps.astype(float), tol=1e-12)
    _, c_r, b_r, _ = irls_path(np.repeat(X, reps, axis=0), np.repeat(y, reps), lams=grid,
                               tol=1e-12)
    np.testing.assert_allclose(c_w, c_r, atol=1e-7)
    np.testing.assert_allclose(b_w, b_r, atol=1e-7)


def test_sparse_equals_dense(data):
    X, y = data
    X = np.where(np.abs(X) < 0.8, 0.0, X)
    dense = irls_path(X, y, lams=5, eps=0.05, tol=1e-12)
    spar = irls_path(sp.csr_matrix(X), y, lams=5, eps=0.05, tol=1e-12)
    np.testing.assert_allclose(spar.lams, dense.lams)
    np.testing.assert_allclose(spar.coefs, dense.coefs, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"lams": 0}, "lams"), ({"lams": [1.0, -1.0]}, "lams"), ({"lams": []}, "lams"),
    ({"lams": [[1.0]]}, "lams"), ({"lams": [np.nan]}, "lams"), ({"lams": "many"}, "lams"),
    ({"eps": 0.0}, "eps"), ({"eps": 1.5}, "eps"), ({"penalty": "nope"}, "nope"),
])
def test_bad_input_errors(data, kwargs, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        irls_path(X, y, **kwargs)


def test_bad_data_and_solver_params(data):
    X, y = data
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        irls_path(Xn, y, lams=3)
    with pytest.raises(ValueError):
        irls_path(X, y[:-1], lams=3)
    with pytest.raises(TypeError, match="unknown solver parameters"):
        irls_path(X, y, lams=3, alpha=1.0)


def test_absorbing_zero_penalty_is_fitted_from_the_default_start(data):
    """lpp (p < 1) has eta_hat(0) = 0 and no KKT re-entry: a warm start would freeze the
    previous support, so every point equals a fresh fit at its lam."""
    X, y = data
    lams, coefs, _, _ = irls_path(X, y, penalty="lpp", lams=4, eps=0.05)
    for lam, w in zip(lams, coefs.T):
        fresh = IRLSRegressor(penalty="lpp", lam=lam).fit(X, y).coef_
        np.testing.assert_array_equal(w, fresh)


def test_warm_start_follows_the_path_for_a_nonconvex_penalty(data):
    """logsum at lam_max: the path is at w = 0 (stationary), while a fresh fit from least
    squares stops at another stationary point."""
    X, y = data
    lams, coefs, _, _ = irls_path(X, y, penalty="logsum", lams=3, eps=0.1)
    assert np.all(coefs[:, 0] == 0)
    assert np.any(IRLSRegressor(penalty="logsum", lam=lams[0]).fit(X, y).coef_ != 0)


def test_path_builds_one_design_and_fits_no_estimator(data, monkeypatch):
    import skdropout.linear._path as path_module

    X, y = data
    built = []

    class CountingDesign(path_module.Design):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(path_module, "Design", CountingDesign)
    monkeypatch.setattr(IRLSRegressor, "fit", None)  # the path never goes through fit
    path = irls_path(X, y, lams=8, eps=1e-2)
    assert len(built) == 1  # one centred design for the eight fits
    monkeypatch.undo()
    for k, lam in enumerate(path.lams):  # each point is the fit an independent estimator makes
        ref = IRLSRegressor(penalty="l1", lam=lam, tol=1e-10).fit(X, y).coef_
        np.testing.assert_allclose(path.coefs[:, k], ref, atol=1e-6 * np.abs(ref).max())


def test_adaptive_dropout_path_solves_the_problems_of_irls_path(data):
    X, y = data
    ref = irls_path(X, y, penalty="mcp", penalty_params={"a": 3.0}, lams=6, eps=0.05,
                    tol=1e-10)
    ours = adaptive_dropout_path(X, y, penalty="mcp", penalty_params={"a": 3.0},
                                 lams=ref.lams, tol=1e-8, random_state=0)
    np.testing.assert_allclose(ours.lams, ref.lams)
    np.testing.assert_allclose(ours.coefs, ref.coefs, atol=1e-5 * np.abs(ref.coefs).max())
    np.testing.assert_allclose(ours.intercepts, ref.intercepts, atol=1e-5)
    with pytest.raises(TypeError, match="adaptive_dropout_path got unknown solver"):
        adaptive_dropout_path(X, y, solver="cholesky")


@pytest.mark.parametrize("penalty, params", [("mcp", {"a": 3.0}), ("logsum", {"eps": 1.0})])
def test_nonconvex_path_with_supports_near_n_is_stationary(support_near_n, penalty, params):
    """First-order conditions of eq. (1), computed here, at every point of a path whose
    support grows to most of the n rows."""
    X, y = support_near_n
    lams, coefs, _, _ = irls_path(X, y, penalty=penalty, penalty_params=params, lams=12,
                                  eps=1e-2, tol=1e-10)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    scale = np.max(np.abs(Xc.T @ yc)) / len(y)
    assert np.count_nonzero(coefs[:, -1]) > 0.5 * len(y)
    for lam, w in zip(lams, coefs.T):
        corr = Xc.T @ (yc - Xc @ w) / len(y)
        pen = resolve_penalty(penalty, params, lam)
        on = w != 0
        np.testing.assert_allclose(corr[on], lam * pen.grad(w)[on], atol=1e-8 * scale)
        assert np.all(np.abs(corr[~on]) <= lam * pen.slope0 + 1e-8 * scale)
