"""IRLSClassifier: penalised logistic and multinomial regression by Newton-IRLS.

Checked against scikit-learn's LogisticRegression (l1, elasticnet; lam = 1/(C n)), against
an independent objective/KKT computation for the non-convex penalties, and for the sklearn
conventions (check_estimator, string labels, weights, sparse input, errors)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import optimize, signal
from scipy.special import expit, logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdropout import IRLSClassifier as TopLevel
from skdropout.linear import AdaptiveDropoutClassifier, IRLSClassifier, _logistic
from skdropout.linear._design import Design
from skdropout.linear._irls import irls
from skdropout.penalties import PENALTIES, get_penalty


@parametrize_with_checks([IRLSClassifier(), IRLSClassifier(penalty="mcp", tol=1e-8)])
def test_check_estimator(estimator, check):
    check(estimator)


def _data(n=200, d=20, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 1] += 0.5 * X[:, 0]  # some correlation
    w = np.zeros(d)
    w[:5] = [2.0, -1.5, 1.0, 0.0, 0.8]
    m = X @ w + 0.7 * rng.standard_normal(n)
    y = np.digitize(m, np.quantile(m, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


def _objective(X, y, W, b, lam, penalty, sw=None):
    """F of the docstring, computed independently (dense X; W of shape (K', d))."""
    n = X.shape[0]
    sw = np.ones(n) if sw is None else sw
    M = X @ W.T + b
    if W.shape[0] == 1:
        li = np.logaddexp(0.0, M[:, 0]) - (y == 1) * M[:, 0]
    else:
        li = logsumexp(M, axis=1) - M[np.arange(n), y]
    return float(sw @ li) / sw.sum() + lam * sum(penalty.value(w) for w in W)


def _sklearn(C, l1_ratio=1.0, **kw):
    return LogisticRegression(l1_ratio=l1_ratio, C=C, tol=1e-12, max_iter=200000, **kw)


def test_top_level_name():
    assert TopLevel is IRLSClassifier


@pytest.mark.parametrize("classes", [2, 3])
def test_l1_equals_sklearn_saga(classes):
    X, y = _data(classes=classes)
    n, lam = X.shape[0], 0.02
    ours = IRLSClassifier(lam=lam, tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = _sklearn(1 / (n * lam), solver="saga").fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_array_equal(ours.coef_ == 0, np.abs(ref.coef_) < 1e-8)
    assert 0 < np.count_nonzero(ours.coef_) < ours.coef_.size
    b_ref = ref.intercept_ - (ref.intercept_.mean() if classes > 2 else 0.0)
    np.testing.assert_allclose(ours.intercept_, b_ref, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    assert ours.objective_ == pytest.approx(
        _objective(X, y, ours.coef_, ours.intercept_, lam, get_penalty("l1")), rel=1e-12)


def test_l1_without_intercept_equals_liblinear_on_a_wide_problem():
    X, y = _data(n=200, d=2000, seed=1)
    lam = 0.01
    ours = IRLSClassifier(lam=lam, fit_intercept=False, tol=1e-10).fit(X, y)
    # liblinear stalls at tol=1e-12 here; 1e-8 agrees to about 1e-6
    ref = LogisticRegression(l1_ratio=1.0, C=1 / (200 * lam), solver="liblinear",
                             fit_intercept=False, tol=1e-8, max_iter=1000).fit(X, y)
    nz = np.count_nonzero(ours.coef_)
    assert 10 < nz < 200
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_array_equal(ours.coef_ == 0, np.abs(ref.coef_) < 1e-8)
    assert ours.intercept_.tolist() == [0.0]


def test_elasticnet_equals_sklearn():
    """Omega = theta/2 w^2 + (1 - theta)|w| with lam is sklearn's l1_ratio = 1 - theta."""
    X, y = _data()
    lam, theta = 0.03, 0.4
    ours = IRLSClassifier(penalty="elasticnet", penalty_params={"theta": theta}, lam=lam,
                          tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = _sklearn(1 / (200 * lam), l1_ratio=1 - theta, solver="saga").fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_array_equal(ours.coef_ == 0, np.abs(ref.coef_) < 1e-8)



def _text(n=120, d=800, density=0.03, seed=1):
    """A small text-like CSR problem: exponential term weights, rows of unit norm."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr",
                  data_rvs=lambda k: rng.exponential(1.0, k))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = (sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X).tocsr()
    w = np.zeros(d)
    w[:30] = 4.0 * rng.standard_normal(30)
    y = (np.asarray(X @ w).ravel() + 0.5 * rng.standard_normal(n) > 0).astype(int)
    return X, y


def test_elasticnet_on_sparse_text_with_a_support_above_n_equals_sklearn():
    """The outer working set, the sparse Hessian of the polish and the polish on a support
    larger than n (elastic net's Hessian is positive definite there) keep the solution."""
    X, y = _text()
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / 50
    ours = IRLSClassifier(penalty="elasticnet", penalty_params={"theta": 0.5}, lam=lam,
                          tol=1e-10).fit(X, y)
    ref = LogisticRegression(l1_ratio=0.5, C=1 / (n * lam), solver="saga", tol=1e-10,
                             max_iter=20000).fit(X, y)
    assert np.count_nonzero(ours.coef_) > n
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)
    np.testing.assert_array_equal(ours.coef_ == 0, np.abs(ref.coef_) < 1e-8)


def test_elasticnet_irls_polishes_a_support_above_n():
    """The inner weighted-ridge IRLS with elastic net on a support of more than n columns
    converges in a few iterations: its Newton polish covers the whole support (capping it
    at n - 1 columns, right for l1, left the majorisation-minimisation crawling)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 200))
    y = X[:, :60] @ rng.standard_normal(60)
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / 40 / 200
    res = irls(Design(X, y, None, True), get_penalty("elasticnet", theta=0.5), lam, tol=1e-10)
    assert res.converged and res.n_iter <= 20
    assert np.count_nonzero(res.coef) > 40


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix])
@pytest.mark.parametrize("penalty, params", [("l1", None), ("elasticnet", {"theta": 0.5})])
@pytest.mark.parametrize("intercept", [True, False])
def test_sparse_products_without_column_slices_keep_the_solution(fmt, penalty, params,
                                                                  intercept, monkeypatch):
    """On a small sparse X the products with the columns of a working set run on all of X
    (the other factors 0) instead of slicing them out; with every product sliced (as on a
    large X) the fit, with sample weights, is the same, and so is the dense fit."""
    from skdropout.linear import _design

    X, y = _text(n=100, d=400)
    sw = np.random.default_rng(4).uniform(0.3, 2.0, X.shape[0])
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / X.shape[0] / 8
    kw = dict(penalty=penalty, penalty_params=params, lam=lam, tol=1e-10,
              fit_intercept=intercept)
    unsliced = IRLSClassifier(**kw).fit(fmt(X), y, sample_weight=sw)
    dense = IRLSClassifier(**kw).fit(X.toarray(), y, sample_weight=sw)
    monkeypatch.setattr(_design, "_SLICE_SAVING", 0)
    monkeypatch.setattr(_design, "_SLICE_COPY", 0)
    sliced = IRLSClassifier(**kw).fit(fmt(X), y, sample_weight=sw)
    assert 5 < np.count_nonzero(sliced.coef_) < X.shape[1] // 2
    for other in (unsliced, dense):
        np.testing.assert_allclose(other.coef_, sliced.coef_, atol=1e-8)
        np.testing.assert_allclose(other.intercept_, sliced.intercept_, atol=1e-8)
        np.testing.assert_array_equal(other.coef_ == 0, sliced.coef_ == 0)


@pytest.mark.parametrize("case", ["multinomial", "penalty_factor", "warm"])
def test_outer_working_set_equals_the_full_solve(case, monkeypatch):
    """A wide problem (d > 100 features: the outer working set) gives the solution of the
    solver on all the features at once."""
    X, y = _data(n=150, d=400, classes=3 if case == "multinomial" else 2, seed=3)
    kw = {"lam": 0.02, "tol": 1e-10}
    if case == "penalty_factor":
        v = np.ones(X.shape[1])
        v[[5, 300]] = 0.0
        v[:3] = 2.0
        kw["penalty_factor"] = v
    est = IRLSClassifier(**kw)
    if case == "warm":
        est.set_params(warm_start=True, lam=0.05).fit(X, y)
        est.set_params(lam=0.02)
    est.fit(X, y)
    monkeypatch.setattr(_logistic, "_OUTER_WS", 10**9)
    full = IRLSClassifier(**kw).fit(X, y)
    assert 5 < np.count_nonzero(full.coef_) < 0.5 * full.coef_.size
    np.testing.assert_allclose(est.coef_, full.coef_, atol=1e-8)
    np.testing.assert_allclose(est.intercept_, full.intercept_, atol=1e-8)
    np.testing.assert_array_equal(est.coef_ == 0, full.coef_ == 0)


def _zipf_text(n=4000, d=5000, density=0.0025, seed=0):
    """A sparse CSR problem shaped like tf-idf text (word frequencies ~ rank^-0.8, rows of
    unit norm), labels from 100 frequent words."""
    rng = np.random.default_rng(seed)
    nnz = int(n * d * density)
    freq = 1.0 / np.arange(1, d + 1) ** 0.8
    words = rng.permutation(d)
    X = sp.csr_matrix((rng.exponential(1.0, nnz), (rng.integers(0, n, nnz),
                       words[rng.choice(d, nnz, p=freq / freq.sum())])), shape=(n, d))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = (sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X).tocsr()
    w = np.zeros(d)
    w[rng.choice(words[:1000], 100, replace=False)] = 4.0 * rng.standard_normal(100)
    m = X @ w
    return X, (rng.random(n) < expit(m - m.mean())).astype(int)


@pytest.mark.parametrize("penalty, slope0, divisor", [("l1", 1.0, 40), ("elasticnet", 0.5, 20)])
def test_sparse_first_working_set_holds_the_violators(penalty, slope0, divisor, monkeypatch):
    """A convex fit of a sparse X from w = 0 starts its outer working set with every zero
    that violates its condition there (up to n/4) where that many columns go to the
    matrix-free route (here from 500 columns), not with a fixed 400 that the support
    fills: fewer rounds, each one product with all of X, and the full solve's solution.
    Below that route (the default 1000 columns) the set starts at 400 as before."""
    from skdropout.linear import _irls

    X, y = _zipf_text()
    n = X.shape[0]
    g = np.abs(X.T @ (y - y.mean())) / n  # the negative gradient at the intercept-only fit
    lam = g.max() / divisor
    violators = np.flatnonzero(g > lam * slope0)
    assert 400 < violators.size <= n // 4
    sets, products = [], []
    restrict = _logistic.LogisticProblem.restrict
    neg_gradient = _logistic.LogisticProblem.neg_gradient

    def record_set(self, cols):
        sets.append(np.asarray(cols))
        return restrict(self, cols)

    def record_product(self, M, pc=None):
        products.append(self.d)
        return neg_gradient(self, M, pc)

    monkeypatch.setattr(_logistic.LogisticProblem, "restrict", record_set)
    monkeypatch.setattr(_logistic.LogisticProblem, "neg_gradient", record_product)
    IRLSClassifier(penalty=penalty, lam=lam, tol=1e-10).fit(X, y)
    assert sets[0].size == 400
    sets.clear()
    products.clear()
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", 500)
    est = IRLSClassifier(penalty=penalty, lam=lam, tol=1e-10).fit(X, y)
    assert np.isin(violators, sets[0]).all() and sets[0].size == violators.size
    # the start's gradient, then one per round: the first set and its one extension
    assert products.count(X.shape[1]) <= 4
    monkeypatch.setattr(_logistic, "_OUTER_WS", 10**9)
    full = IRLSClassifier(penalty=penalty, lam=lam, tol=1e-10).fit(X, y)
    assert 300 < np.count_nonzero(full.coef_) < 0.5 * X.shape[1]
    np.testing.assert_allclose(est.coef_, full.coef_, atol=1e-8)
    np.testing.assert_allclose(est.intercept_, full.intercept_, atol=1e-8)
    np.testing.assert_array_equal(est.coef_ == 0, full.coef_ == 0)


def _correlated(n=300, d=1500, k=30, seed=0):
    """Columns AR(1) with correlation 0.8^|i-j| (standardised) and labels from a logistic
    model on ``k`` of them: a design whose working-set rounds keep finding violators."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    # started at the stationary scale, so that every pair of columns has that correlation
    X, _ = signal.lfilter([0.6], [1.0, -0.8], Z, axis=1, zi=0.4 * Z[:, :1])
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    w = np.zeros(d)
    w[rng.choice(d, k, replace=False)] = rng.standard_normal(k)
    m = X @ w
    return X, (rng.random(n) < expit(3.0 * m / m.std())).astype(int)


def test_step_outweighs_check_compares_the_gram_matrix_with_the_gradient():
    """Dense X: a Newton step on s columns outweighs the check of all d when s^2 >= d (its
    Gram matrix's n s^2 multiply-adds against the gradient's n d). Sparse X with rows of
    equally many set entries: when 2 nnz(X_S)^2 / n >= nnz(X), where nnz(X_S)^2 / n is the
    count of products of entries that share a row, sum_i nnz_i(X_S)^2."""
    X = np.ones((10, 400))
    problem = _logistic.LogisticProblem(X, np.zeros((10, 1)), np.ones(10), 10.0, True)
    assert _logistic.step_outweighs_check(problem, problem.restrict(np.arange(20)))
    assert not _logistic.step_outweighs_check(problem, problem.restrict(np.arange(19)))
    # 12 rows of 50 entries, 5 of them in the set's columns 0..59 (each row its own 5)
    rows = np.repeat(np.arange(12), 50)
    cols = (np.arange(12)[:, None] * 5 + np.r_[np.arange(5), 60 + np.arange(45)]).ravel()
    Xs = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(12, 600))
    problem = _logistic.LogisticProblem(Xs, np.zeros((12, 1)), np.ones(12), 12.0, True)
    sub = problem.restrict(np.arange(60))
    pairs = sum(int(r.nnz) ** 2 for r in sp.csr_matrix(sub.X))
    assert sub.X.nnz ** 2 / 12 == pairs == 300
    assert Xs.nnz == 600 and 2 * pairs >= 600
    assert _logistic.step_outweighs_check(problem, sub)
    assert not _logistic.step_outweighs_check(problem, problem.restrict(np.arange(55)))


def _record_rounds(monkeypatch):
    """The list that each round of an outer working set appends its ``(max_iter, Newton
    steps)`` to."""
    newton, calls = _logistic._newton, []

    def recorded(problem, *args, max_iter, **kw):
        res = newton(problem, *args, max_iter=max_iter, **kw)
        if kw.get("screened"):
            calls.append((max_iter, res.n_iter))
        return res

    monkeypatch.setattr(_logistic, "_newton", recorded)
    return calls


@pytest.mark.parametrize("penalty", ["l1", "elasticnet", "mcp"])
def test_rounds_that_take_in_violators_take_one_newton_step_where_it_outweighs_the_check(
        penalty, monkeypatch):
    """With a convex penalty, a round of the outer working set that took in violators
    takes one Newton step where that step costs more than the round's check of all the
    features (:func:`_logistic.step_outweighs_check`; a dense X and sets of s^2 >= d here):
    the fit ends at the solution of rounds solved to their tolerance (the same zeros,
    coefficients to 1e-8) in fewer Newton steps. A non-convex penalty's rounds are not cut
    (its fit is the same)."""
    X, y = _correlated()
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / 30
    calls = _record_rounds(monkeypatch)
    est = IRLSClassifier(penalty=penalty, lam=lam, tol=1e-10).fit(X, y)
    cut = [steps for max_iter, steps in calls if max_iter == 1]
    monkeypatch.setattr(_logistic, "step_outweighs_check", lambda problem, sub: False)
    calls.clear()
    full = IRLSClassifier(penalty=penalty, lam=lam, tol=1e-10).fit(X, y)
    assert all(max_iter > 1 for max_iter, _ in calls)
    np.testing.assert_array_equal(est.coef_ == 0, full.coef_ == 0)
    if penalty == "mcp":
        assert not cut
        np.testing.assert_array_equal(est.coef_, full.coef_)
        return
    assert len(cut) >= 2 and set(cut) == {1}
    np.testing.assert_allclose(est.coef_, full.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(est.intercept_, full.intercept_, rtol=0, atol=1e-8)
    assert 300 > np.count_nonzero(est.coef_) > 30
    assert est.n_iter_ < full.n_iter_


def test_a_paths_fits_keep_their_rounds_whole(monkeypatch):
    """The fits of a path (each from the sequential strong set, warm-started) solve every
    round to its tolerance: cut to one Newton step, a loose tol's fits end further from the
    solution (on the text CV problem of ``benchmarks/logistic_cv_speed.py`` at tol 1e-3 the
    held-out log-losses moved 3.6e-3 from the reference's, against 2.7e-5)."""
    from skdropout.linear._logistic_path import logistic_lam_max, solve_logistic_path
    from skdropout.linear._path import geometric_grid

    X, y = _correlated()
    est = IRLSClassifier(penalty="l1", tol=1e-3)
    problem = est._problem(X, y, np.unique(y), np.ones(len(y)))
    lams = geometric_grid(lambda: logistic_lam_max(problem, est._penalty(X.shape[1])), 6,
                          1 / 30)
    calls = _record_rounds(monkeypatch)
    path = solve_logistic_path(est, problem, lams)
    assert len(calls) > len(lams) and all(max_iter > 1 for max_iter, _ in calls)
    assert np.count_nonzero(path.coefs[..., -1]) > 30
    calls.clear()
    IRLSClassifier(penalty="l1", lam=float(lams[-1]), tol=1e-3).fit(X, y)
    assert any(max_iter == 1 for max_iter, _ in calls)


def test_binary_newton_steps_polish_to_their_own_tolerance(monkeypatch):
    """The matrix-free polish of a binary convex fit's Newton step stops at the step's own
    tolerance (not a tenth of it): the warm-started path on a text-like sparse X (polished
    matrix-free from 200 columns) reads far fewer entries in the polish's products, takes
    no more Newton steps, keeps the tighter polish's supports and ends within 1e-8 of the
    objective of a path at tol=1e-10 (the tighter polish: within 1e-9). The two polishes
    are compared with the exact predictor of the steps' inner IRLS; the default greedy one
    (``irls(greedy_predict=True)``) keeps the supports and that objective, reading fewer
    entries."""
    from skdropout.linear import _gram_operator, _irls
    from skdropout.linear._logistic_path import logistic_lam_max, solve_logistic_path
    from skdropout.linear._path import geometric_grid

    X, y = _zipf_text()
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", 200)
    entries = []
    matmul = _gram_operator.GramOperator.__matmul__

    def counted(self, V):
        entries.append(2 * self.block.nnz * (V.shape[1] if V.ndim > 1 else 1))
        return matmul(self, V)

    monkeypatch.setattr(_gram_operator.GramOperator, "__matmul__", counted)

    def path(tol):
        est = IRLSClassifier(tol=tol)
        problem = est._problem(X, y, np.unique(y), np.ones(len(y)))
        lams = geometric_grid(lambda: logistic_lam_max(problem, est._penalty(X.shape[1])),
                              8, 0.02)
        steps = []
        solve = IRLSClassifier._solve

        def counted_solve(self, *args, **kwargs):
            res = solve(self, *args, **kwargs)
            steps.append(res.n_iter)
            return res

        monkeypatch.setattr(IRLSClassifier, "_solve", counted_solve)
        entries.clear()
        out = solve_logistic_path(est, problem, lams)
        monkeypatch.setattr(IRLSClassifier, "_solve", solve)
        pen = est._penalty(X.shape[1])
        F = [_logistic.objective(problem, pen, lam, out.coefs[..., k].T, out.intercepts[:, k])
             for k, lam in enumerate(lams)]
        return out, np.array(F), sum(entries), sum(steps)

    greedy, F_greedy, work_greedy, _ = path(1e-4)
    greedy_irls = _logistic.irls
    monkeypatch.setattr(_logistic, "irls",
                        lambda *a, **k: greedy_irls(*a, **{**k, "greedy_predict": False}))
    loose, F_loose, work, steps = path(1e-4)
    monkeypatch.setattr(_logistic, "_POLISH_FRACTION_BINARY", _logistic._POLISH_FRACTION)
    tight, F_tight, work_tight, steps_tight = path(1e-4)
    assert np.count_nonzero(tight.coefs[..., -1]) > 200  # the matrix-free polish ran
    assert work < 0.8 * work_tight and steps <= steps_tight
    np.testing.assert_array_equal(loose.coefs != 0, tight.coefs != 0)
    _, F_exact, _, _ = path(1e-10)
    assert np.all(F_tight - F_exact < 1e-9) and np.all(F_loose - F_exact < 1e-8)
    np.testing.assert_array_equal(greedy.coefs != 0, loose.coefs != 0)
    assert np.all(F_greedy - F_exact < 1e-8) and work_greedy < work


def test_binary_steps_above_the_step_gram_limit_go_matrix_free(monkeypatch):
    """A binary convex Newton step whose sparse outer working set has more than
    ``_logistic._STEP_GRAM_MAX`` columns solves its model matrix-free, without the set's
    sparse Gram matrix (which would serve that step only); a smaller set, a set of more
    than ``_FIRST_WS_ROWS * n`` columns (a nearly separable fit) or any set with the limit
    raised to ``_irls._SPARSE_GRAM_MAX`` builds it (and makes fewer products with the sets'
    columns). Both routes end the warm-started path at tol=1e-10 without a
    ConvergenceWarning, on the same supports and objectives (within 1e-9)."""
    from skdropout.linear import _design, _gram_operator
    from skdropout.linear._logistic_path import logistic_lam_max, solve_logistic_path
    from skdropout.linear._path import geometric_grid

    X, y = _zipf_text()
    grams, products = [], []
    cross, matmul = _design.Design.cross, _gram_operator.GramOperator.__matmul__

    def counted_cross(self, rows, cols):
        grams.append(self.d if rows is None else len(rows))
        return cross(self, rows, cols)

    def counted_matmul(self, V):
        products.append(self.shape[0])
        return matmul(self, V)

    monkeypatch.setattr(_design.Design, "cross", counted_cross)
    monkeypatch.setattr(_gram_operator.GramOperator, "__matmul__", counted_matmul)
    est = IRLSClassifier(tol=1e-10)
    problem = est._problem(X, y, np.unique(y), np.ones(len(y)))
    pen = est._penalty(X.shape[1])
    lams = geometric_grid(lambda: logistic_lam_max(problem, pen), 8, 0.03)

    def path():
        grams.clear()
        products.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            out = solve_logistic_path(est, problem, lams)
        F = [_logistic.objective(problem, pen, lam, out.coefs[..., k].T, out.intercepts[:, k])
             for k, lam in enumerate(lams)]
        return out, np.array(F), max(grams), len(products)

    limit = _logistic._STEP_GRAM_MAX
    free, F_free, largest_free, products_free = path()
    assert limit < np.count_nonzero(free.coefs[..., -1]) < 1000  # sets above the limit
    monkeypatch.setattr(_logistic, "_STEP_GRAM_MAX", 1000)
    gram, F_gram, largest_gram, products_gram = path()
    assert largest_free <= limit < largest_gram and products_gram < products_free
    monkeypatch.setattr(_logistic, "_STEP_GRAM_MAX", limit)
    monkeypatch.setattr(_logistic, "_FIRST_WS_ROWS", limit / len(y))  # nearly separable
    _, F_near, largest_near, products_near = path()
    assert largest_near == largest_gram and products_near == products_gram
    np.testing.assert_array_equal(F_near, F_gram)
    np.testing.assert_array_equal(free.coefs != 0, gram.coefs != 0)
    np.testing.assert_allclose(F_free, F_gram, rtol=0, atol=1e-9)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("name, params", [("mcp", {"a": 3.0}), ("scad", {"a": 3.7}),
                                          ("logsum", {"eps": 0.5})])
def test_non_convex_penalties_reach_a_stationary_point(name, params, classes):
    """KKT by an independent gradient, and no lower objective nearby: scipy's BFGS on the
    support from the same point, and the best of the support's neighbours."""
    X, y = _data(n=150, d=12, classes=classes, seed=2)
    lam = 0.03
    est = IRLSClassifier(penalty=name, penalty_params=params, lam=lam, tol=1e-10).fit(X, y)
    pen = get_penalty(name, **params).with_lam(lam) if name != "logsum" else \
        get_penalty(name, **params)
    W, b = est.coef_, est.intercept_
    n = X.shape[0]
    M = X @ W.T + b
    if classes == 2:
        R = (expit(M[:, 0]) - (y == 1))[:, None]
    else:
        P = np.exp(M - logsumexp(M, axis=1, keepdims=True))
        R = P - np.eye(classes)[y]
    grad = X.T @ R / n  # (d, K')
    for k in range(W.shape[0]):
        on = W[k] != 0
        np.testing.assert_allclose(grad[on, k] + lam * pen.grad(W[k])[on], 0, atol=1e-8)
        assert np.all(np.abs(grad[~on, k]) <= lam * pen.slope0 + 1e-8)
    np.testing.assert_allclose(R.sum(axis=0) / n, 0, atol=1e-8)
    F = _objective(X, y, W, b, lam, pen)
    assert est.objective_ == pytest.approx(F, rel=1e-12)
    on = W != 0
    start = np.concatenate([W[on], b])

    def f(v):
        W2 = np.zeros_like(W)
        W2[on] = v[:on.sum()]
        return _objective(X, y, W2, v[on.sum():], lam, pen)

    res = optimize.minimize(f, start, method="BFGS", options={"gtol": 1e-10})
    assert res.fun >= F - 1e-10
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert f(start + 1e-3 * rng.standard_normal(start.size)) >= F - 1e-12


@pytest.mark.parametrize("data, name, params, divisor, tol", [
    (dict(n=150, d=600, k=10, seed=0), "logsum", {"eps": 1.0}, 50, 1e-6),
    (dict(n=300, d=1500, k=20, seed=0), "logsum", {"eps": 1.0}, 100, 1e-4)],
    ids=["ar1-logsum", "ar1-logsum-after-violators"])
def test_a_penalised_step_without_descent_falls_back_to_the_tangent_model(
        data, name, params, divisor, tol, monkeypatch):
    """AR(1) columns, where the minimiser of the penalised Newton model lies in another
    basin (the step starts uphill and no damping lowers F; these fits stopped with a
    warning, KKT residual far above tol; in the second case in a round of the outer working
    set that took in violators, after which none remained outside): the steps go on with
    the tangent model and end at a point whose KKT conditions, by an independent gradient,
    hold to the tolerance."""
    X, y = _correlated(**data)
    n = X.shape[0]
    scale = float(np.max(np.abs(X.T @ (y - y.mean())))) / n  # at the intercept-only model
    lam = scale / divisor
    tangents = []
    tangent = _logistic._tangent
    monkeypatch.setattr(_logistic, "_tangent", lambda *a: tangents.append(1) or tangent(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = IRLSClassifier(penalty=name, penalty_params=params, lam=lam, tol=tol).fit(X, y)
    assert tangents
    pen = get_penalty(name, **(params or {}))
    pen = pen.with_lam(lam) if pen.uses_lam else pen
    w = est.coef_[0]
    r = expit(np.asarray(X @ w).ravel() + est.intercept_[0]) - y
    grad = np.asarray(X.T @ r).ravel() / n
    on = w != 0
    assert np.max(np.abs(grad[on] + lam * pen.grad(w)[on])) <= tol * scale
    assert np.max(np.abs(grad[~on])) <= lam * pen.slope0 + tol * scale
    assert abs(r.sum()) / n <= tol * scale


@pytest.mark.parametrize("data, name", [(dict(n=150, d=600, k=10, seed=2), "scad"),
                                        ("text", "mcp")], ids=["ar1-scad", "text-mcp"])
def test_a_fit_that_separates_its_data_where_its_penalty_is_flat_stops_and_warns(data, name):
    """AR(1) columns and a text-like CSR problem at lam_max/50, whose models separate the
    training data with every nonzero coefficient beyond a lam, where SCAD and MCP are flat:
    F falls without end along (t W, t b), so there is no minimiser. These fits ran on until
    the margins reached 28 and 17 and the gradients vanished to the tolerance, and reported
    convergence. They now stop where that first holds and warn; by an independent objective
    F falls along the ray from the point returned, while l1 on the same data converges."""
    X, y = _text(seed=1) if data == "text" else _correlated(**data)
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / 50
    with pytest.warns(ConvergenceWarning, match="separates the training data"):
        est = IRLSClassifier(penalty=name, lam=lam, tol=1e-6).fit(X, y)
    assert est.n_iter_ <= 5
    W, b = est.coef_, est.intercept_
    assert np.all((2 * y - 1) * (np.asarray(X @ W[0]).ravel() + b[0]) > 0)
    pen = get_penalty(name).with_lam(lam)
    assert np.all(np.isinf(pen.eta_hat(W[0][W[0] != 0])))
    Xd = X.toarray() if sp.issparse(X) else X
    F = [_objective(Xd, y, t * W, t * b, lam, pen) for t in (1.0, 1.5, 2.0, 3.0)]
    assert est.objective_ == pytest.approx(F[0], rel=1e-12)
    assert np.all(np.diff(F) < 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        IRLSClassifier(penalty="l1", lam=lam, tol=1e-6).fit(X, y)


def test_a_multinomial_fit_that_separates_where_its_penalty_is_flat_warns():
    """Three classes in 60 samples of 120 features, MCP at lam_max/10: the first cycle of
    class-by-class steps reaches a model that puts every sample on its own class's side
    (margins of 25 and more) with every coefficient flat, and the fit warns instead of
    growing W until the probabilities round to 0 and 1; F falls along the ray (a short
    one: the loss is about 1e-12 of F)."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    X = rng.standard_normal((60, 120))
    X[:, :3] += 3.0 * np.eye(3)[labels]
    Y = np.eye(3)[labels]
    lam = float(np.max(np.abs(X.T @ (Y - Y.mean(axis=0))))) / 60 / 10
    with pytest.warns(ConvergenceWarning, match="separates the training data"):
        est = IRLSClassifier(penalty="mcp", lam=lam).fit(X, labels)
    M = X @ est.coef_.T + est.intercept_
    assert np.all(np.argmax(M, axis=1) == labels)
    pen = get_penalty("mcp").with_lam(lam)
    F = [_objective(X, labels, t * est.coef_, t * est.intercept_, lam, pen)
         for t in (1.0, 1.05, 1.1, 1.2)]
    assert np.all(np.diff(F) < 0)


def test_a_fit_near_a_saddle_converges_to_a_local_minimum():
    """Word counts where, at lam_max/50, a feature enters to replace a collinear one: the
    penalised model of a Newton step can have a saddle between them, which the inner
    IRLS's w-steps cross by a factor near 1 per iteration (86 Newton steps without the
    negative-curvature step, on the machine where this was measured). Whether the iterates
    meet that saddle depends on the machine's rounding (on others they pass beside it, and
    no step along negative curvature is taken; the regressor's crawl in test_linear_irls
    takes one on every machine seen): on every machine the fit converges in a few dozen
    steps, to a local minimum: the KKT conditions hold by an independent gradient, and the
    Hessian of F on the support (loss plus lam Omega'', formed here from X) is positive
    definite, so the fit did not stop at the saddle (where the entering coefficient is
    about -5e-5 and F 2e-5 higher)."""
    n, d = 400, 1500
    rng = np.random.default_rng(0)
    X = sp.random(n, d, density=0.02, random_state=0, format="csr",
                  data_rvs=lambda m: rng.poisson(2, m) + 1.0)
    w_true = np.zeros(d)
    w_true[:20] = 2.0 * rng.standard_normal(20)
    y = (np.asarray(X @ w_true).ravel() + rng.standard_normal(n) > 0).astype(int)
    scale = float(np.max(np.abs(X.T @ (y - y.mean())))) / n
    lam = scale / 50
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = IRLSClassifier(penalty="logsum", penalty_params={"eps": 1.0}, lam=lam).fit(X, y)
    assert est.n_iter_ <= 30
    pen = get_penalty("logsum", eps=1.0)
    w = est.coef_[0]
    p = expit(np.asarray(X @ w).ravel() + est.intercept_[0])
    grad = np.asarray(X.T @ (p - y)).ravel() / n
    on = w != 0
    assert np.max(np.abs(grad[on] + lam * pen.grad(w)[on])) <= 1e-6 * scale
    assert np.max(np.abs(grad[~on])) <= lam * pen.slope0 + 1e-6 * scale
    Z = np.column_stack([X[:, on].toarray(), np.ones(n)])
    H = Z.T @ (Z * (p * (1 - p))[:, None]) / n
    H[:-1, :-1] += np.diag(lam * pen.curvature(w[on]))
    assert np.linalg.eigvalsh(H)[0] > 0


@pytest.mark.parametrize("name, params", [("logsum", {"eps": 1.0}), ("mcp", {"lam": 0.5}),
                                          ("scad", {"lam": 0.5})])
def test_the_tangent_penalty_has_the_penalty_s_directional_derivatives(name, params):
    """The weighted l1 of :func:`_logistic._tangent` at w, against one-sided finite
    differences of Omega at w along +e_j and -e_j (a zero, and nonzeros in each piece of
    mcp and scad: with lam 0.5 scad is linear to 0.5, quadratic to 1.85, then flat, mcp
    flat beyond 1.5); concave in |w|, Omega lies below its tangent."""
    pen = get_penalty(name, **params)
    w = np.array([0.0, 0.3, -0.7, 2.5, -4.0])
    tangent = _logistic._tangent(pen, w)
    h = 1e-7
    for j in range(w.size):
        for sign in (1.0, -1.0):
            e = np.zeros(w.size)
            e[j] = sign * h
            fd = (pen.value(w + e) - pen.value(w)) / h
            td = (tangent.value(w + e) - tangent.value(w)) / h
            assert td == pytest.approx(fd, abs=1e-6)
    u = np.random.default_rng(0).standard_normal((50, w.size)) * 3
    for v in u:
        assert pen.value(v) - pen.value(w) <= tangent.value(v) - tangent.value(w) + 1e-12


def test_activation_penalty_is_refused():
    """standout penalises activations (z)_+ (0 for z < 0), not coefficients: refused by name."""
    X, y = _data(n=60, d=8, classes=2, seed=3)
    est = IRLSClassifier(penalty="standout", lam=0.02)
    with pytest.raises(ValueError, match="penalty='standout'"):
        est.fit(X, y)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("name", sorted(set(PENALTIES) - {"l0", "standout"}))
def test_every_penalty_fits(name):
    """Every penalty the regressors accept: a finite fit whose objective path never rises
    (multinomial for the separable ones)."""
    X, y = _data(n=120, d=8, classes=3, seed=3)
    for labels in (y == 2, y):
        pen = get_penalty(name)
        if labels.ndim and len(np.unique(labels)) > 2 and not pen.separable:
            with pytest.raises(ValueError, match="separable"):
                IRLSClassifier(penalty=name, lam=0.02).fit(X, labels)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = IRLSClassifier(penalty=name, lam=0.005, max_iter=50).fit(X, labels)
        assert np.all(np.isfinite(est.coef_))
        assert np.all(np.diff(est.objective_path_) <= 1e-12 * abs(est.objective_path_[0]))
        assert est.score(X, labels) > 0.6


def test_sparse_equals_dense():
    X, y = _data(classes=3)
    X[np.abs(X) < 0.8] = 0.0
    dense = IRLSClassifier(lam=0.01, tol=1e-10).fit(X, y)
    for fmt in (sp.csr_matrix, sp.csc_matrix):
        sparse = IRLSClassifier(lam=0.01, tol=1e-10).fit(fmt(X), y)
        np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-9)
        np.testing.assert_allclose(sparse.intercept_, dense.intercept_, atol=1e-9)
        np.testing.assert_allclose(sparse.predict_proba(fmt(X)), dense.predict_proba(X),
                                   atol=1e-9)


@pytest.mark.parametrize("classes", [2, 3])
def test_sample_weight_equals_repeated_rows(classes):
    X, y = _data(n=90, classes=classes)
    reps = np.random.default_rng(0).integers(0, 4, X.shape[0])
    reps[:classes * 3] = 1
    weighted = IRLSClassifier(lam=0.01, tol=1e-10).fit(X, y, sample_weight=reps)
    repeated = IRLSClassifier(lam=0.01, tol=1e-10).fit(np.repeat(X, reps, axis=0),
                                                        np.repeat(y, reps))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-8)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-8)


def test_class_weight_multiplies_the_sample_weights_and_matches_sklearn():
    X, y = _data(classes=2)
    cw = {0: 1.0, 1: 3.0}
    lam = 0.02
    ours = IRLSClassifier(lam=lam, class_weight=cw, tol=1e-10).fit(X, y)
    # S is the sum of sample weights (n here), so lam = 1/(C n) still holds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = _sklearn(1 / (200 * lam), solver="saga", class_weight=cw).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    balanced = IRLSClassifier(lam=lam, class_weight="balanced", tol=1e-10).fit(X, y)
    counts = np.bincount(y)
    sw = (len(y) / (2 * counts))[y]
    by_weight = IRLSClassifier(lam=lam * len(y) / sw.sum(), tol=1e-10).fit(
        X, y, sample_weight=sw)
    np.testing.assert_allclose(balanced.coef_, by_weight.coef_, atol=1e-8)


def test_string_labels_and_prediction_methods():
    X, y = _data(classes=3)
    names = np.array(["cat", "dog", "emu"])[y]
    est = IRLSClassifier(lam=0.01).fit(X, names)
    assert est.classes_.tolist() == ["cat", "dog", "emu"]
    P = est.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), P)
    np.testing.assert_array_equal(est.predict(X), est.classes_[P.argmax(axis=1)])
    assert est.score(X, names) > 0.7
    binary = IRLSClassifier(lam=0.01).fit(X, names == "emu")
    scores = binary.decision_function(X)
    assert scores.shape == (X.shape[0],)
    np.testing.assert_array_equal(binary.predict(X), scores > 0)
    np.testing.assert_allclose(binary.predict_proba(X)[:, 1], expit(scores))


def test_penalty_factor():
    X, y = _data()
    v = np.ones(X.shape[1])
    v[7] = 0.0  # an unpenalised noise feature keeps a nonzero weight
    v[0] = 2.0
    est = IRLSClassifier(lam=0.05, penalty_factor=v, tol=1e-10).fit(X, y)
    assert est.coef_[0, 7] != 0
    # l1 with factor v_j > 0 equals factor 1 on the column X_j / v_j (weight divided by v_j)
    u = np.where(v > 0, v, 1.0)
    scaled = IRLSClassifier(lam=0.05, tol=1e-10, penalty_factor=np.where(v > 0, 1.0, 0.0)
                            ).fit(X / u, y)
    np.testing.assert_allclose(scaled.coef_ / u, est.coef_, atol=1e-8)


def test_warm_start_reuses_the_previous_fit():
    X, y = _data(classes=3)
    est = IRLSClassifier(lam=0.02, warm_start=True, tol=1e-10).fit(X, y)
    first = est.coef_.copy()
    est.fit(X, y)
    assert est.n_iter_ <= 1
    np.testing.assert_allclose(est.coef_, first, atol=1e-10)


def test_not_converged_warns_with_the_residual():
    X, y = _data(classes=3)
    with pytest.warns(ConvergenceWarning, match=r"KKT residual \d"):
        IRLSClassifier(lam=0.001, max_iter=1, tol=1e-12).fit(X, y)


def test_a_stalled_fit_warns_with_its_step_count(monkeypatch):
    """Stopping before max_iter (no Newton step lowers F) is not a call for more steps."""
    from skdropout.linear import _irls_classifier
    solve = _irls_classifier.logistic_irls

    def stalled(*args, **kwargs):
        res = solve(*args, **{**kwargs, "max_iter": 3})
        res.converged, res.kkt = False, 1e-3
        return res

    monkeypatch.setattr(_irls_classifier, "logistic_irls", stalled)
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match=r"stopped after \d+ of max_iter=50 Newton "
                      r"steps.*KKT residual 1\.00e-03.*loosen tol"):
        IRLSClassifier(lam=0.01, max_iter=50).fit(X, y)


@pytest.mark.parametrize("params, data, match", [
    ({"lam": 0.0}, None, "lam"),
    ({"penalty": "nope"}, None, "penalty"),
    ({"penalty": "l0"}, None, "l0"),
    ({"penalty": "lp"}, "multi", "separable"),
    ({"class_weight": "even"}, None, "class_weight"),
    ({"penalty_factor": [1.0, 2.0]}, None, "penalty_factor"),
    ({}, "one class", "2 classes"),
    ({}, "continuous", "Unknown label type|continuous"),
])
def test_bad_input_names_the_parameter_and_leaves_it_unfitted(params, data, match):
    X, y = _data(classes=3)
    if data is None:
        y = y == 1
    elif data == "one class":
        y = np.zeros_like(y)
    elif data == "continuous":
        y = X[:, 0]
    est = IRLSClassifier(**params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("estimator", [IRLSClassifier, AdaptiveDropoutClassifier])
@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("weights", ["sample_weight", "class_weight"])
def test_a_class_without_weight_is_an_error_and_leaves_it_unfitted(estimator, classes,
                                                                     weights):
    """Weights that give class 0 none leave a fit no data for it, and the loss with an
    intercept no minimiser (a binary fit ran its 100 Newton steps to a finite point of a
    ray and advised more of them; a multinomial one stopped there silently)."""
    X, y = _data(classes=classes)
    zero = {"sample_weight": (y != 0).astype(float)} if weights == "sample_weight" else {}
    params = ({"class_weight": {c: float(c != 0) for c in range(classes)}}
              if weights == "class_weight" else {})
    match = ("positive weight on one class only" if classes == 2
             else r"no positive weight to the class\(es\) \[0\]")
    est = estimator(lam=0.05, **params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, **zero)
    assert not hasattr(est, "coef_")


def test_a_polish_that_does_not_settle_is_not_repeated_every_iteration(monkeypatch):
    # logsum on AR(1) columns (corr 0.8^|i-j|, as benchmarks/logistic_speed.py's toeplitz
    # problem): on a support of ~40 features the restricted Hessian is indefinite and the
    # Newton polish of irls runs out of steps; irls then waits before it tries again, and
    # ends at the same point as when it polishes at every iteration. The step along
    # negative curvature that ends such a crawl is switched off here: with it the inner
    # solves are short (4 failed polishes with the wait, 6 without), and the wait is
    # what this checks
    from skdropout.linear import _irls

    X, y = _correlated(n=200, d=1000, k=10, seed=2)
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / 30
    monkeypatch.setattr(_irls, "_negative_curvature_step", lambda *args: None)
    newton, failed = _irls.newton_on_support, []

    def counted(*args, **kwargs):
        out = newton(*args, **kwargs)
        failed.append(out is None)
        return out

    monkeypatch.setattr(_irls, "newton_on_support", counted)
    est = IRLSClassifier(penalty="logsum", penalty_params={"eps": 1.0}, lam=lam, tol=1e-4)
    coef = est.fit(X, y).coef_.copy()
    assert sum(failed) <= 40
    failed.clear()
    monkeypatch.setattr(_irls._PolishRetry, "due", lambda self: True)
    every = est.fit(X, y).coef_
    assert sum(failed) >= 150  # the polish fails at every iteration of a long inner solve
    np.testing.assert_allclose(coef, every, rtol=0, atol=1e-8)
