"""AdaptiveDropoutClassifier: the logistic side of the duality, against IRLSClassifier
(objective, support), the Fisher-weighted keep probability against an independent c_j,
the second-order dropout penalty against a Monte Carlo average of the dropped-out log-loss,
sparse == dense, warnings and the sklearn conventions."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, logsumexp, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdropout import AdaptiveDropoutClassifier as TopLevel
from skdropout.linear import AdaptiveDropoutClassifier, IRLSClassifier
from skdropout.linear._dropout import draw_mask
from skdropout.penalties import PENALTIES, get_penalty


@parametrize_with_checks([AdaptiveDropoutClassifier(lam=0.1, random_state=0, tol=1e-10)])
def test_check_estimator(estimator, check):
    check(estimator)


def test_top_level_name():
    assert TopLevel is AdaptiveDropoutClassifier


def _data(n=200, d=20, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-1, 1, d)
    w = np.zeros(d)
    w[:5] = [2.0, -1.5, 1.0, 0.5, 0.8]
    m = X @ (w / X.std(0)) + 0.7 * rng.standard_normal(n)
    y = np.digitize(m, np.quantile(m, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


def _objective(X, y, W, b, lam, sw=None):
    """F with the l1 penalty, computed independently (W of shape (K', d))."""
    sw = np.ones(len(y)) if sw is None else sw
    M = X @ W.T + b
    if W.shape[0] == 1:
        li = np.logaddexp(0.0, M[:, 0]) - y * M[:, 0]
    else:
        li = logsumexp(M, axis=1) - M[np.arange(len(y)), y]
    return float(sw @ li) / sw.sum() + lam * np.abs(W).sum()


def _fit_both(X, y, lam, penalty="l1", params=None, **kw):
    irls = IRLSClassifier(penalty=penalty, penalty_params=params, lam=lam, tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the default reaches tol
        drop = AdaptiveDropoutClassifier(penalty=penalty, penalty_params=params, lam=lam,
                                         random_state=0, **kw).fit(X, y)
    return drop, irls


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("mask", ["bernoulli", "gaussian"])
def test_l1_lands_on_irls_classifier(classes, mask):
    # measured: relative objective gaps of 0.6e-11 to 2.8e-11, identical supports,
    # coefficients within 1e-5 of the largest; asserted with margin at 1e-7 and 1e-4 (the
    # fit stops at a scaled KKT residual of 1e-6)
    X, y = _data(classes=classes)
    drop, irls = _fit_both(X, y, lam=0.02, mask=mask)
    assert drop.objective_ == pytest.approx(_objective(X, y, drop.coef_, drop.intercept_, 0.02),
                                            rel=1e-12)
    gap = (drop.objective_ - irls.objective_) / irls.objective_
    assert -1e-12 <= gap <= 1e-7
    np.testing.assert_array_equal(drop.coef_ != 0, irls.coef_ != 0)
    assert 0 < np.count_nonzero(drop.coef_) < drop.coef_.size
    np.testing.assert_allclose(drop.coef_, irls.coef_, atol=1e-4 * np.abs(irls.coef_).max())
    assert drop.kkt_ <= 1e-6


def test_elasticnet_and_a_wide_problem_land_on_irls_classifier():
    X, y = _data(n=80, d=300, seed=1)
    drop, irls = _fit_both(X, y, lam=0.03, penalty="elasticnet", params={"theta": 0.7})
    assert abs(drop.objective_ - irls.objective_) <= 1e-7 * irls.objective_
    np.testing.assert_array_equal(drop.coef_ != 0, irls.coef_ != 0)


def test_non_convex_penalty_reaches_a_stationary_point():
    # logsum is not convex: both solvers reach stationary points, not necessarily the same
    # one; the dropout fit is checked by its own KKT conditions, computed here
    X, y = _data(seed=2)
    X = (X - X.mean(0)) / X.std(0)
    eps, lam = 1.0, 0.01
    drop, irls = _fit_both(X, y, lam=lam, penalty="logsum", params={"eps": eps})
    w, b = drop.coef_[0], drop.intercept_[0]
    p = expit(X @ w + b)
    g = X.T @ (y - p) / len(y)
    nz = w != 0
    # Omega(w) = log(1 + |w|/eps) up to a constant: Omega'(w) = sign(w)/(eps + |w|)
    res_nz = np.abs(g[nz] - lam * np.sign(w[nz]) / (eps + np.abs(w[nz])))
    res_0 = np.maximum(np.abs(g[~nz]) - lam / eps, 0.0)
    scale = np.abs(X.T @ (y - y.mean()) / len(y)).max()
    assert max(res_nz.max(), res_0.max(initial=0.0)) <= 1e-6 * scale
    assert abs(np.mean(y - p)) <= 1e-6 * scale
    assert abs(drop.objective_ - irls.objective_) <= 0.05 * irls.objective_


@pytest.mark.parametrize("classes", [2, 3])
def test_keep_probability_is_fisher_weighted(classes):
    X, y = _data(classes=classes, seed=3)
    lam = 0.02
    clf = AdaptiveDropoutClassifier(lam=lam, random_state=0).fit(X, y)
    P = clf.predict_proba(X)
    P = P[:, 1:] if classes == 2 else P
    for k in range(clf.coef_.shape[0]):
        # c_jk = (1/n) sum_i p_ik (1 - p_ik) x_ij^2, by an explicit loop over the samples
        c = np.zeros(X.shape[1])
        for i in range(X.shape[0]):
            c += P[i, k] * (1 - P[i, k]) * X[i] ** 2
        c /= X.shape[0]
        eta = np.abs(clf.coef_[k])  # eta_hat of l1
        np.testing.assert_allclose(clf.keep_prob_[k], c * eta / (c * eta + lam), rtol=1e-10)
        np.testing.assert_allclose(clf.eta_[k], eta)
    assert np.all(clf.keep_prob_[clf.coef_ == 0] == 0)


def test_second_order_dropout_penalty_matches_monte_carlo():
    # E_s[L(dropped-out inputs)] - L(w) against 1/2 sum_j (1/alpha_j - 1) c_j w_j^2 with the
    # Fisher weights, and that equals lam/2 sum_j w_j^2/eta_j for alpha = c eta/(c eta + lam)
    rng = np.random.default_rng(4)
    n, d, lam = 400, 5, 0.05
    X = rng.standard_normal((n, d)) + 0.5
    y = (rng.random(n) < 0.4).astype(float)
    w, b = np.array([0.6, -0.4, 0.3, 0.2, -0.5]), -0.3
    p = expit(X @ w + b)
    c = (p * (1 - p)) @ X**2 / n
    eta = np.abs(w)
    alpha = c * eta / (c * eta + lam)
    second_order = 0.5 * np.sum((1 / alpha - 1) * c * w**2)
    assert second_order == pytest.approx(0.5 * lam * np.sum(w**2 / eta), rel=1e-12)

    def loss(m):
        return np.mean(np.logaddexp(0.0, m) - y * m)

    base = loss(X @ w + b)
    draws = 4000
    excess = np.empty(draws)
    for t in range(draws):
        S = draw_mask(rng, np.broadcast_to(alpha, (n, d)).ravel(), "bernoulli").reshape(n, d)
        excess[t] = loss((X * S) @ w + b) - base
    mc, se = excess.mean(), excess.std() / np.sqrt(draws)
    # measured: the Monte Carlo excess is 0.3 % below the second-order term, with a
    # sampling error of 0.6 % (keep probabilities 0.50-0.75)
    assert abs(mc - second_order) <= 0.02 * second_order + 3 * se
    # the plain (unweighted) counterpart of eq. (4), c_j = mean x_ij^2, is 5 times larger
    plain = 0.5 * np.sum((1 / alpha - 1) * np.mean(X**2, axis=0) * w**2)
    assert abs(mc - plain) > 0.5 * mc


def test_sparse_equals_dense():
    X, y = _data(n=150, d=40, seed=5)
    X[np.abs(X) < 1.0] = 0.0
    dense = AdaptiveDropoutClassifier(lam=0.02, random_state=0, tol=1e-9).fit(X, y)
    sparse = AdaptiveDropoutClassifier(lam=0.02, random_state=0, tol=1e-9).fit(
        sp.csr_matrix(X), y)
    np.testing.assert_array_equal(dense.coef_ != 0, sparse.coef_ != 0)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-6)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, atol=1e-6)


def test_sample_weight_equals_repeated_rows_and_string_labels():
    X, y = _data(n=120, d=10, seed=6)
    labels = np.array(["cat", "dog"])[y]
    sw = np.random.default_rng(0).integers(0, 3, len(y))
    kw = {"lam": 0.02, "random_state": 0, "tol": 1e-9}
    weighted = AdaptiveDropoutClassifier(**kw).fit(X, labels, sample_weight=sw)
    repeated = AdaptiveDropoutClassifier(**kw).fit(np.repeat(X, sw, axis=0),
                                                   np.repeat(labels, sw))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-6)
    assert weighted.classes_.tolist() == ["cat", "dog"]
    proba = weighted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], expit(weighted.decision_function(X)))
    assert set(weighted.predict(X)) <= {"cat", "dog"}
    np.testing.assert_allclose(np.exp(weighted.predict_log_proba(X)), proba)


def test_multinomial_probabilities_are_the_softmax():
    X, y = _data(classes=3, seed=7)
    clf = AdaptiveDropoutClassifier(lam=0.02, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X),
                               softmax(X @ clf.coef_.T + clf.intercept_, axis=1))
    assert clf.coef_.shape == (3, X.shape[1])


def test_same_seed_same_fit():
    X, y = _data(seed=8)
    a = AdaptiveDropoutClassifier(lam=0.02, random_state=3).fit(X, y)
    b = AdaptiveDropoutClassifier(lam=0.02, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_warns_with_the_residual_when_max_iter_is_too_small():
    X, y = _data(seed=9)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 3 epochs.*scaled KKT"):
        clf = AdaptiveDropoutClassifier(lam=0.02, max_iter=3, random_state=0).fit(X, y)
    assert clf.kkt_ > 1e-6
    assert np.isfinite(clf.objective_)


def test_warns_where_its_model_separates_the_data_and_the_penalty_is_flat():
    """40 samples of 100 Gaussian features, MCP at lam_max/5: the iteration settles at
    margins of 11 and more with every coefficient beyond a lam, where F falls without end
    along (t W, t b); it ended there as converged. It now warns (IRLSClassifier stops and
    warns on the same data)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 100))
    y = (X[:, :5] @ rng.standard_normal(5) + 0.5 * rng.standard_normal(40) > 0).astype(int)
    lam = float(np.abs(X.T @ (y - y.mean())).max()) / 40 / 5
    with pytest.warns(ConvergenceWarning, match="separates the training data"):
        est = AdaptiveDropoutClassifier(penalty="mcp", lam=lam, random_state=0).fit(X, y)
    assert np.all((2 * y - 1) * est.decision_function(X) > 0)
    with pytest.warns(ConvergenceWarning, match="separates the training data"):
        IRLSClassifier(penalty="mcp", lam=lam).fit(X, y)


def test_non_separable_multinomial_and_bad_parameters_are_refused():
    X, y = _data(classes=3, n=60, d=8)
    with pytest.raises(ValueError, match="separable"):
        AdaptiveDropoutClassifier(penalty="hardthresh", penalty_params={"k": 2}).fit(X, y)
    clf = AdaptiveDropoutClassifier(mask="uniform")
    with pytest.raises(ValueError, match="mask"):
        clf.fit(X, y)
    assert not hasattr(clf, "coef_")


@pytest.mark.parametrize("kw", [{"fit_intercept": False}, {"class_weight": "balanced"},
                                {"penalty_factor": np.r_[0.0, np.full(19, 2.0)]}])
def test_options_land_on_irls_classifier(kw):
    # measured: relative objective gaps of 1e-13 to 1e-12, the same supports
    X, y = _data(seed=11)
    drop = AdaptiveDropoutClassifier(lam=0.02, random_state=0, **kw).fit(X, y)
    irls = IRLSClassifier(lam=0.02, tol=1e-10, **kw).fit(X, y)
    assert abs(drop.objective_ - irls.objective_) <= 1e-7 * irls.objective_
    np.testing.assert_array_equal(drop.coef_ != 0, irls.coef_ != 0)
    if "penalty_factor" in kw:  # unpenalised feature: keep probability 1
        assert drop.keep_prob_[0, 0] == 1.0 and drop.coef_[0, 0] != 0


def test_warm_start_starts_from_the_previous_fit():
    X, y = _data(seed=11)
    clf = AdaptiveDropoutClassifier(lam=0.02, random_state=0, warm_start=True).fit(X, y)
    first = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ == 1 < first  # the previous solution passes the KKT check at once
    clf.set_params(lam=0.01).fit(X, y)
    irls = IRLSClassifier(lam=0.01, tol=1e-10).fit(X, y)
    assert abs(clf.objective_ - irls.objective_) <= 1e-7 * irls.objective_


@pytest.mark.parametrize("name", sorted(set(PENALTIES) - {"l0", "standout"}))
def test_every_penalty_fits(name):
    # convex penalties land on IRLSClassifier's F (or below, huber multinomial: 2.5e-6
    # below an IRLS fit stopped at max_iter); non-convex ones reach stationary points
    # of their own (measured on this problem: from 82 % below IRLS's F, bernoulli_l0
    # multinomial, to 66 % above, mcp multinomial, with scaled KKT residuals 2e-7 to 1.6e-6)
    X = np.random.default_rng(3).standard_normal((120, 8))
    y = np.digitize(X[:, :3] @ [2.0, -1.5, 1.0] + 0.7 * X[:, 3], [-1.0, 1.0])
    for labels in (y == 2, y):
        pen = get_penalty(name)
        if len(np.unique(labels)) > 2 and not pen.separable:
            with pytest.raises(ValueError, match="separable"):
                AdaptiveDropoutClassifier(penalty=name, lam=0.005).fit(X, labels)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            drop = AdaptiveDropoutClassifier(penalty=name, lam=0.005, random_state=0,
                                             max_iter=2000).fit(X, labels)
            irls = IRLSClassifier(penalty=name, lam=0.005, max_iter=50).fit(X, labels)
        assert np.all(np.isfinite(drop.coef_)) and np.isfinite(drop.objective_)
        assert drop.kkt_ <= 2e-6
        if pen.convex:  # at or below (huber multinomial: IRLS stops at max_iter=50)
            assert drop.objective_ <= irls.objective_ + 1e-7 * abs(irls.objective_)
