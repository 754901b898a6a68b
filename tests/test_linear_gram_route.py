"""The Gram route of the design (n large against d): every product from the full
``X_s'X_s/n`` computed once. It is the same algorithm in d-space, so both estimators must end
where the X route (every product a pass over X) ends, to rounding."""

import numpy as np
import pytest
import scipy.sparse as sp

from skdropout.linear import AdaptiveDropoutRegressor, IRLSRegressor
from skdropout.linear import _design
from skdropout.linear._design import Design
from skdropout.linear._path import lam_max
from skdropout.penalties import resolve_penalty

PENALTIES = {"l1": None, "logsum": {"eps": 1.0}, "mcp": {"a": 3.0}, "scad": {"a": 3.7}}


def _problem(sparse: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    n, d = 1500, 40
    if sparse:
        X = sp.random(n, d, density=0.2, format="csr", random_state=seed,
                      data_rvs=rng.standard_normal)
        X.data += 3.0  # nonzero column means: the centring is exercised
    else:
        X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-2, 2, d)
    beta = np.zeros(d)
    beta[:6] = [3.0, -2.0, 1.5, 1.0, -0.8, 0.5]
    y = np.asarray(X @ beta).ravel() + rng.standard_normal(n) + 4.0
    sw = rng.uniform(0.2, 3.0, n)
    return X, y, sw


def _fit(make, X, y, sw, gram: bool, monkeypatch):
    with monkeypatch.context() as m:
        if not gram:
            m.setattr(_design, "_GRAM_MAX_FEATURES", 0)
        return make().fit(X, y, sample_weight=sw)


def test_rule_picks_the_gram_route_for_tall_designs_only():
    rng = np.random.default_rng(0)
    assert Design(rng.standard_normal((2000, 50)), rng.standard_normal(2000), None,
                  True).gram_route
    assert not Design(rng.standard_normal((300, 50)), rng.standard_normal(300), None,
                      True).gram_route
    assert not Design(rng.standard_normal((200, 500)), rng.standard_normal(200), None,
                      True).gram_route


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_design_products_agree(sparse, weighted, fit_intercept, monkeypatch):
    X, y, sw = _problem(sparse)
    w = np.random.default_rng(1).standard_normal(X.shape[1])
    gram = Design(X, y, sw if weighted else None, fit_intercept)
    assert gram.gram_route
    with monkeypatch.context() as m:
        m.setattr(_design, "_GRAM_MAX_FEATURES", 0)
        plain = Design(X, y, sw if weighted else None, fit_intercept)
    assert not plain.gram_route
    np.testing.assert_allclose(gram.gradient(w), plain.gradient(w), rtol=1e-11, atol=1e-11)
    assert gram.loss(w) == pytest.approx(plain.loss(w), rel=1e-11)
    cols = np.array([3, 1, 7])
    np.testing.assert_allclose(gram.cross(cols, cols[:2]), plain.cross(cols, cols[:2]),
                               rtol=1e-11)


@pytest.mark.parametrize("estimator", ["irls", "dropout"])
@pytest.mark.parametrize("pname", list(PENALTIES))
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted,fit_intercept", [(False, True), (True, True),
                                                     (True, False)])
def test_fit_equals_the_x_route(estimator, pname, sparse, weighted, fit_intercept,
                                monkeypatch):
    X, y, sw = _problem(sparse)
    sw = sw if weighted else None
    params = PENALTIES[pname]
    lam = lam_max(X, y, resolve_penalty(pname, params), fit_intercept=fit_intercept,
                  sample_weight=sw) / 10
    if estimator == "irls":
        def make():
            return IRLSRegressor(penalty=pname, penalty_params=params, lam=lam,
                                 fit_intercept=fit_intercept)
    else:
        def make():
            return AdaptiveDropoutRegressor(penalty=pname, penalty_params=params, lam=lam,
                                            fit_intercept=fit_intercept, random_state=0)
    a = _fit(make, X, y, sw, True, monkeypatch)
    b = _fit(make, X, y, sw, False, monkeypatch)
    assert a.objective_ == pytest.approx(b.objective_, rel=1e-10)
    top = np.max(np.abs(b.coef_))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-10 * top)
    assert a.intercept_ == pytest.approx(b.intercept_, rel=1e-10, abs=1e-10 * top)
    assert np.count_nonzero(a.coef_) >= 6


@pytest.mark.parametrize("estimator", [IRLSRegressor, AdaptiveDropoutRegressor])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_is_exact_to_its_own_rounding_on_a_noiseless_problem(estimator, sparse,
                                                                      weighted):
    """On a noiseless problem F is tiny against y'y/n, where the Gram formula of the loss
    rounds (1e-10 .. 1e-8 relative at lam 1e-3 .. 1e-5); objective_ comes from a residual
    pass, so it equals an extended-precision computation of eq. (1) to 1e-12."""
    X, y, sw = _problem(sparse)
    beta = np.zeros(X.shape[1])
    beta[:6] = [3.0, -2.0, 1.5, 1.0, -0.8, 0.5]
    y = np.asarray(X @ beta).ravel() + 4.0
    sw = sw if weighted else None
    assert Design(X, y, sw, True).gram_route
    lam = 1e-5
    kw = {"random_state": 0} if estimator is AdaptiveDropoutRegressor else {}
    est = estimator(lam=lam, tol=1e-10, **kw).fit(X, y, sample_weight=sw)
    LD = np.longdouble
    Xd = X.toarray() if sparse else X
    r = y.astype(LD) - Xd.astype(LD) @ est.coef_.astype(LD) - LD(est.intercept_)
    s = np.ones(len(y), dtype=LD) if sw is None else sw.astype(LD)
    direct = float((s @ (r * r)) / (2 * s.sum())) + lam * float(np.abs(est.coef_).sum())
    assert est.objective_ == pytest.approx(direct, rel=1e-12, abs=0)
