"""The matrix-free route for large working sets of a sparse X (issue 22).

Above ``_irls._SPARSE_GRAM_MAX`` columns the w-step and the Newton polish apply
``X_W'X_W/n`` by sparse products (:class:`GramOperator`) and solve by conjugate gradients
(:func:`pcg`) instead of forming and factorising the dense Gram matrix. Checked: the
operator's products against the dense Gram blocks, the solver against a direct solve, and
whole fits (logistic binary and multinomial, least squares; every working-set penalty,
with and without intercept and sample weights) against the factorising route, forced by
the size constant, on sparse problems with d >> n and supports of several hundred."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.preprocessing import normalize

from skdropout.linear import IRLSClassifier, IRLSRegressor, _irls, _logistic
from skdropout.linear._design import Design
from skdropout.linear._gram_operator import pcg
from skdropout.linear._multinomial_hessian import MultinomialHessian

PENALTIES = [("l1", None), ("elasticnet", {"theta": 0.5}), ("logsum", {"eps": 1.0}),
             ("mcp", {"a": 3.0}), ("scad", {"a": 3.7})]


def _text(n=700, d=3000, density=8e-3, k=60, seed=0):
    """A sparse, text-like problem (exponential counts, rows of unit norm) and its margin."""
    rng = np.random.default_rng(seed)
    X = normalize(sp.random(n, d, density=density, random_state=seed, format="csr",
                            data_rvs=lambda m: rng.exponential(1.0, m)))
    w = np.zeros(d)
    w[rng.choice(d, k, replace=False)] = 4.0 * rng.standard_normal(k)
    return X, np.asarray(X @ w).ravel() + 0.3 * rng.standard_normal(n), rng


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_gram_operator_equals_the_dense_gram_blocks(intercept, weighted, kind):
    X, y, rng = _text(n=120, d=300, density=0.05)
    X = X.toarray() if kind == "dense" else X
    sw = rng.uniform(0.2, 2.0, 120) if weighted else None
    design = Design(X, y, sw, intercept)
    cols = np.sort(rng.choice(300, 90, replace=False))
    G = design.cross(cols, cols)
    op = design.gram_operator(cols)
    # an independent dense computation of X_s'X_s/n
    Xd = X if kind == "dense" else X.toarray()
    u = np.ones(120) if sw is None else sw * 120 / sw.sum()
    Xc = Xd[:, cols] - (u @ Xd[:, cols] / 120 if intercept else 0.0)
    np.testing.assert_allclose(G, (Xc * u[:, None]).T @ Xc / 120, atol=1e-14)
    v, V = rng.standard_normal(90), rng.standard_normal((90, 5))
    np.testing.assert_allclose(op @ v, G @ v, atol=1e-14)
    np.testing.assert_allclose(op @ V, G @ V, atol=1e-14)
    np.testing.assert_allclose(op.diagonal(), np.diag(G), atol=1e-14)
    pos = np.array([0, 4, 17, 50, 89])
    np.testing.assert_allclose(op.take(pos) @ v[pos], G[np.ix_(pos, pos)] @ v[pos],
                               atol=1e-14)


def test_pcg_solves_positive_definite_systems_and_refuses_indefinite_ones():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((200, 80))
    A = B.T @ B / 200 + np.diag(rng.uniform(0.0, 3.0, 80))
    b = rng.standard_normal(80)
    x = pcg(lambda u: A @ u, b, np.diag(A).copy())
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-9)
    np.testing.assert_array_equal(pcg(lambda u: A @ u, np.zeros(80), np.diag(A).copy()), 0.0)
    indefinite = A - 2.0 * np.eye(80) * np.linalg.eigvalsh(A)[5]
    assert pcg(lambda u: indefinite @ u, b, np.abs(np.diag(indefinite))) is None


def _routes(fit, monkeypatch):
    """The fit with the factorising route (dense Gram matrices for any size) and with the
    matrix-free one (for every working set)."""
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", 10**9)
    dense = fit()
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", 0)
    return dense, fit()


def _same(a, b, X, sizes):
    """The same support and objective (rel 1e-8), and the same fitted probabilities or
    values (the coefficients themselves, and the margins of separated samples, can move
    along the flat directions of an ill-conditioned Hessian by more than the tolerance of
    the fit)."""
    np.testing.assert_array_equal(a.coef_ == 0, b.coef_ == 0)
    assert abs(a.objective_ - b.objective_) <= 1e-8 * abs(a.objective_)
    fitted = [getattr(e, "predict_proba", e.predict)(X) for e in (a, b)]
    np.testing.assert_allclose(fitted[1], fitted[0], atol=1e-6 * np.abs(fitted[0]).max())
    assert sizes[0] <= np.count_nonzero(a.coef_) <= sizes[1]


@pytest.mark.parametrize("name, params", PENALTIES)
@pytest.mark.parametrize("case", ["binary", "binary-noint-weighted", "multinomial"])
def test_logistic_matrix_free_route_equals_the_factorising_one(name, params, case,
                                                               monkeypatch):
    X, m, rng = _text(n=600, d=2500)
    n = X.shape[0]
    classes = 3 if case == "multinomial" else 2
    # noisy labels: on supports this large, noiseless ones are separable
    m = m + rng.logistic(scale=4.0 * m.std(), size=n)
    y = np.digitize(m, np.quantile(m, np.linspace(0, 1, classes + 1)[1:-1]))
    sw = rng.uniform(0.3, 2.0, n) if "weighted" in case else None
    # the non-convex multinomial fits nearer to lam_max (supports of 60-160): further down
    # they come near separating the classes, where the factorising route itself lands on
    # another local minimum when X is scaled by 1 + 1e-15 (logsum at lam_max/3, mcp and
    # scad at lam_max/4), and no two routes can agree
    divisor = (10 if name in ("l1", "elasticnet") else 5 if classes == 2
               else 4 if name == "logsum" else 3)
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / divisor
    est = IRLSClassifier(penalty=name, penalty_params=params, lam=lam, tol=1e-10,
                         fit_intercept="noint" not in case)
    dense, free = _routes(lambda: _fit_copy(est, X, y, sw), monkeypatch)
    _same(dense, free, X, (100 if divisor > 3 else 40, X.shape[1]))


def _fit_copy(est, X, y, sw):
    return clone(est).fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("name, params", PENALTIES)
@pytest.mark.parametrize("intercept, weighted", [(True, False), (False, True)])
def test_regression_matrix_free_route_equals_the_factorising_one(name, params, intercept,
                                                                 weighted, monkeypatch):
    X, y, rng = _text(n=900, k=400, seed=2)
    sw = rng.uniform(0.3, 2.0, X.shape[0]) if weighted else None
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / X.shape[0] / 40
    est = IRLSRegressor(penalty=name, penalty_params=params, lam=lam, tol=1e-10,
                        fit_intercept=intercept)
    dense, free = _routes(lambda: _fit_copy(est, X, y, sw), monkeypatch)
    _same(dense, free, X, (200, X.shape[1]))


def test_a_large_sparse_working_set_forms_no_dense_gram_matrix(monkeypatch):
    """Above the size constant the polish (and the w-step) of a sparse fit work by products:
    no dense Gram block larger than the constant's square is formed, and the fit is the one
    of the factorising route."""
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)  # noisy: far from separable
    y = (m > np.median(m)).astype(int)
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / X.shape[0] / 10
    est = IRLSClassifier(lam=lam, tol=1e-10)
    ref = _fit_copy(est, X, y, None)
    limit = 40
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", limit)
    cross = Design.cross

    def guarded(self, rows, cols):
        out = cross(self, rows, cols)
        assert out.size <= limit * limit, out.shape
        return out

    monkeypatch.setattr(Design, "cross", guarded)
    free = _fit_copy(est, X, y, None)
    assert np.count_nonzero(free.coef_) > 5 * limit
    _same(ref, free, X, (5 * limit, X.shape[0]))


def _multinomial_problem(kind, intercept, weighted, K=4, n=150, d=60, seed=3):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.2, random_state=seed, format="csc",
                  data_rvs=lambda m: rng.exponential(1.0, m))
    X = X.toarray() if kind == "dense" else X
    y = rng.integers(0, K, n)
    s = rng.uniform(0.3, 2.0, n) if weighted else np.ones(n)
    problem = _logistic.LogisticProblem(X, np.eye(K)[y], s, float(s.sum()), intercept)
    W = rng.standard_normal((d, K)) * (rng.random((d, K)) < 0.4)
    b = rng.standard_normal(K) if intercept else np.zeros(K)
    support = [np.flatnonzero(W[:, k]) for k in range(K)]
    return problem, problem.margins(W, b), support, rng


def _dense_multinomial_hessian(problem, M, support):
    """An independent dense Hessian of the loss 1/S sum_i s_i (log sum_k e^{m_ik} -
    m_iy_i) in the polish's layout: per sample, the K x K matrix diag(p) - p p' between
    the rows [x_i[S_k], 1] of each class."""
    X = problem.X.toarray() if sp.issparse(problem.X) else problem.X
    P = np.exp(M - M.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    K = P.shape[1]
    cols = [np.concatenate([X[:, idx], np.ones((X.shape[0], int(problem.fit_intercept)))], axis=1)
            for idx in support]
    return np.block([[(cols[k] * (problem.s * ((k == m) * P[:, k] - P[:, k] * P[:, m]))
                       [:, None]).T @ cols[m] / problem.total for m in range(K)]
                     for k in range(K)])


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("intercept, weighted", [(True, False), (False, True), (True, True)])
def test_multinomial_hessian_operator_equals_the_dense_hessian(kind, intercept, weighted):
    problem, M, support, rng = _multinomial_problem(kind, intercept, weighted)
    H = _dense_multinomial_hessian(problem, M, support)
    np.testing.assert_allclose(_logistic._hessian(problem, M, support), H, atol=1e-15)
    P, C = problem.complements(M)
    op = MultinomialHessian([problem.X[:, idx] for idx in support], P, C,
                            problem.s / problem.total, intercept)
    assert op.shape == H.shape
    v = rng.standard_normal(H.shape[0])
    np.testing.assert_allclose(op @ v, H @ v, atol=1e-15)
    np.testing.assert_allclose(op.diagonal(), np.diag(H), atol=1e-15)
    pos = np.sort(rng.choice(H.shape[0], 40, replace=False))
    inner = np.array([1, 5, 6, 20, 39])
    np.testing.assert_allclose(op.take(pos) @ v[pos], H[np.ix_(pos, pos)] @ v[pos],
                               atol=1e-15)
    np.testing.assert_allclose(op.take(pos).take(inner) @ v[pos[inner]],
                               H[np.ix_(pos[inner], pos[inner])] @ v[pos[inner]], atol=1e-15)
    np.testing.assert_allclose(op.take(pos).diagonal(), np.diag(H)[pos], atol=1e-15)


def test_polish_solves_agree_and_fall_back_to_the_convex_part():
    """Both routes of the polish's Newton step: ``(H + diag(c))^-1 g`` where that is
    positive definite, and where it is not (a non-convex penalty's negative curvature) the
    step with its convex part ``H + diag(max(c, 0))``, as the binary polish does."""
    problem, M, support, rng = _multinomial_problem("sparse", False, True)
    H = _logistic._hessian(problem, M, support)
    P, C = problem.complements(M)
    op = MultinomialHessian([problem.X[:, idx] for idx in support], P, C,
                            problem.s / problem.total, False)
    size = H.shape[0]
    g, x = rng.standard_normal(size), rng.standard_normal(size)
    c = rng.uniform(0.001, 0.01, size)
    for solver in (H, op):
        np.testing.assert_allclose(_logistic._newton_solve(solver, c, g),
                                   np.linalg.solve(H + np.diag(c), g), rtol=1e-7)
    c_neg = c.copy()
    c_neg[:5] = -2.0 * np.linalg.eigvalsh(H)[-1]  # H + diag(c) is indefinite
    assert np.linalg.eigvalsh(H + np.diag(c_neg))[0] < 0
    assert not _logistic._gauge_sets(problem, support, np.maximum(c_neg, 0.0))
    convex = np.linalg.solve(H + np.diag(np.maximum(c_neg, 0.0)), g)
    for solver in (H, op):
        assert _logistic._newton_solve(solver, c_neg, g) is None
        step = _logistic._polish_step(problem, support, solver, c_neg, g, np.zeros(size), x,
                                      False)
        np.testing.assert_allclose(step, convex, rtol=1e-7)


def test_a_large_multinomial_support_forms_no_dense_hessian(monkeypatch):
    """Above the size constant the multinomial polish applies its Hessian by sparse
    products: no dense (sum of the class supports)^2 Hessian (nor Gram block above the
    constant's square) is formed, the operator does the solves, and the fit is the one of
    the factorising route."""
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)
    y = np.digitize(m, np.quantile(m, [0.2, 0.4, 0.6, 0.8]))  # 5 classes
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / X.shape[0] / 10
    est = IRLSClassifier(lam=lam, tol=1e-10)
    ref = _fit_copy(est, X, y, None)
    limit = 40
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", limit)
    hessian, cross, solve = _logistic._hessian, Design.cross, _logistic._newton_solve
    solves = []

    def guarded_hessian(problem, M, support):
        out = hessian(problem, M, support)
        assert out.size <= limit * limit, out.shape
        return out

    def guarded_cross(self, rows, cols):
        out = cross(self, rows, cols)
        assert out.size <= limit * limit, out.shape
        return out

    def recorded(H, c, g, least_squares=False):
        solves.append(type(H))
        return solve(H, c, g, least_squares)

    monkeypatch.setattr(_logistic, "_hessian", guarded_hessian)
    monkeypatch.setattr(Design, "cross", guarded_cross)
    monkeypatch.setattr(_logistic, "_newton_solve", recorded)
    free = _fit_copy(est, X, y, None)
    assert np.count_nonzero(free.coef_) > 5 * limit
    assert solves and set(solves) == {MultinomialHessian}
    _same(ref, free, X, (5 * limit, X.shape[1]))
