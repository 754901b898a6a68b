"""IRLSClassifier on nearly separable, class-weighted problems: the loss and its gradient
to the rounding of their own size, and the multinomial polish's Newton steps with the
softmax gauge fixed. Checked against computations in extended precision (np.longdouble)."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skdropout.linear import IRLSClassifier, _logistic

LD = np.longdouble
CLASS_WEIGHT = {0: 1000, 1: 1e-4, 2: 1e-4}


def _blobs(centers=3, cluster_std=20):
    """scikit-learn's check_class_weight_classifiers data (3 classes), standardised."""
    X, y = make_blobs(centers=centers, random_state=0, cluster_std=cluster_std)
    X, _, y, _ = train_test_split(X, y, test_size=0.5, random_state=0)
    return StandardScaler().fit_transform(X), y


def _softmax_ld(M):
    M = M - M.max(axis=1, keepdims=True)
    E = np.exp(M)
    return E / E.sum(axis=1, keepdims=True)


def _scaled_kkt_ld(X, y, coef, intercept, lam, s, factor=None):
    """The l1 KKT residual of F (module docstring of _logistic; S = n, s_i the class
    weight of y_i) in extended precision, divided by its value at the intercept-only
    model, as the fit's tol is. A binary fit (one row of coef) is the softmax of the
    margins (0, m): class 0 a reference with W = 0, whose residual is at most class 1's."""
    n, d = X.shape
    if coef.shape[0] == 1:
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, intercept]
    K = coef.shape[0]
    Y = np.eye(K, dtype=LD)[y]
    v = np.ones(d) if factor is None else factor
    Xl, sl = X.astype(LD), s.astype(LD)

    def gradients(M):
        R = sl[:, None] * (Y - _softmax_ld(M))
        return Xl.T @ R / n, R.sum(axis=0) / n

    q = sl @ Y / sl.sum()
    G0, _ = gradients(np.broadcast_to(np.log(q), (n, K)))
    G, g_b = gradients(Xl @ coef.T.astype(LD) + intercept.astype(LD))
    W = coef.T
    res = np.where(W != 0, np.abs(G - lam * v[:, None] * np.sign(W)),
                   np.maximum(np.abs(G) - lam * v[:, None], 0))
    return float(max(res.max(), np.abs(g_b).max()) / np.abs(G0).max())


def test_loss_is_exact_to_its_own_rounding_on_well_classified_rows():
    rng = np.random.default_rng(0)
    n = 50
    for K in (1, 3):
        y = rng.integers(0, max(K, 2), n)
        Y = (y[:, None] == 1).astype(float) if K == 1 else np.eye(K)[y]
        # margins 25..35 in favour of the true class: l_i about 1e-11 .. 1e-15
        sign = np.where(y == 1, 1.0, -1.0)[:, None] if K == 1 else Y
        M = sign * rng.uniform(25, 35, (n, K)) + rng.standard_normal((n, K))
        s = rng.uniform(0.5, 2.0, n)
        problem = _logistic.LogisticProblem(np.zeros((n, 1)), Y, s, float(s.sum()), True)
        Ml = M.astype(LD)
        if K == 1:
            li = np.log1p(np.exp(-np.abs(Ml[:, 0])))  # every row is classified right
        else:
            D = Ml - Ml[np.arange(n), y][:, None]
            li = np.log1p(np.exp(np.where(Y == 1, -np.inf, D)).sum(axis=1))  # D <= -20
        exact = float(s.astype(LD) @ li / s.sum())
        assert problem.loss(M) == pytest.approx(exact, rel=1e-13, abs=0)


def test_residual_of_the_true_class_is_exact_to_its_own_rounding():
    rng = np.random.default_rng(1)
    n, K = 40, 3
    y = rng.integers(0, K, n)
    Y = np.eye(K)[y]
    M = 30.0 * Y + rng.standard_normal((n, K))
    problem = _logistic.LogisticProblem(np.zeros((n, 1)), Y, np.ones(n), float(n), True)
    R = problem.residual(M)
    P = _softmax_ld(M.astype(LD))
    exact = np.where(Y == 1, (P * (1 - Y)).sum(axis=1, keepdims=True), -P)  # 1 - p_y, -p_k
    np.testing.assert_allclose(R, exact.astype(float), rtol=1e-13, atol=0)


def _expit_ld(M):
    return 1 / (1 + np.exp(-M.astype(LD)))


def test_binary_residual_and_newton_weight_are_exact_to_their_own_rounding():
    """``y - p`` and ``p (1 - p)`` on margins up to +-35 against extended precision, row by
    row: ``1 - expit(m)`` cancels to an absolute error of eps (a relative one of 1e-3 at
    m = 30, where 1 - p = 9.4e-14). Fractional y keeps the rounding of its larger term."""
    rng = np.random.default_rng(3)
    n = 400
    M = rng.uniform(-35, 35, (n, 1))
    for y in (rng.integers(0, 2, n).astype(float), rng.uniform(0, 1, n)):
        s = rng.uniform(0.5, 2.0, n)
        problem = _logistic.LogisticProblem(np.zeros((n, 1)), y[:, None], s, float(s.sum()),
                                            True)
        p, q, yl = _expit_ld(M), _expit_ld(-M), y[:, None].astype(LD)
        terms = np.maximum(yl * q, (1 - yl) * p)  # y (1 - p) and (1 - y) p
        err = np.abs(problem.residual(M) - (yl * q - (1 - yl) * p)) / terms
        assert float(err.max()) <= 1e-13
        np.testing.assert_allclose(problem.newton_weights(M), (p * q).astype(float),
                                   rtol=1e-13, atol=0)


def test_multinomial_newton_weight_is_exact_to_its_own_rounding():
    rng = np.random.default_rng(4)
    n, K = 40, 3
    Y = np.eye(K)[rng.integers(0, K, n)]
    M = 30.0 * Y + rng.standard_normal((n, K))
    problem = _logistic.LogisticProblem(np.zeros((n, 1)), Y, np.ones(n), float(n), True)
    P = _softmax_ld(M.astype(LD))
    # 1 - p_k as the sum of the other classes' p (1 - p_k cancels even in extended precision)
    rest = np.column_stack([np.delete(P, k, axis=1).sum(axis=1) for k in range(K)])
    np.testing.assert_allclose(problem.newton_weights(M), (P * rest).astype(float),
                               rtol=1e-13, atol=0)


@pytest.mark.parametrize("lam", [1e-4, 1e-6])
def test_class_weighted_two_class_fit_converges(lam):
    """Two blobs with class weights 1e-4 : 1000 (the heavy class well classified at margins
    near 16): ``1 - expit(m)`` cancelled to an absolute error of eps on its rows, so the
    gradient and the working response carried an error of about 1e-9 of the KKT scale and
    the fit stopped with a warning (27 steps at a KKT residual of 3.0e-9 at lam 1e-4, 55
    at 1.6e-9 at lam 1e-6, both in extended precision)."""
    X, y = _blobs(centers=2)
    cw = {0: 1e-4, 1: 1000}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = IRLSClassifier(lam=lam, tol=1e-10, class_weight=cw).fit(X, y)
    assert est.n_iter_ <= 5
    s = np.array([cw[c] for c in y], dtype=float)
    assert _scaled_kkt_ld(X, y, est.coef_, est.intercept_, lam, s) <= 1e-10


def test_a_fit_whose_newton_steps_stop_lowering_the_objective_warns_its_true_residual():
    """All rows classified at margins 13.6 .. 19.8 and lam 1e-6: the inner IRLS no longer
    reaches its tolerance, the Newton steps stop lowering F (their predicted decrease is
    below F's rounding) at a KKT residual near 7e-9, and the warning reports that residual
    as extended precision computes it."""
    X, y = _blobs(centers=2, cluster_std=3)
    cw, lam = {0: 1e-4, 1: 1000}, 1e-6
    with pytest.warns(ConvergenceWarning, match="none of which lowers") as record:
        est = IRLSClassifier(lam=lam, tol=1e-10, class_weight=cw).fit(X, y)
    reported = float(re.search(r"KKT residual ([0-9.e+-]+)", str(record[0].message)).group(1))
    s = np.array([cw[c] for c in y], dtype=float)
    exact = _scaled_kkt_ld(X, y, est.coef_, est.intercept_, lam, s)
    assert reported > 1e-10 and reported == pytest.approx(exact, rel=0.01)


def test_class_weighted_near_separable_fit_converges_with_bounded_polish_steps(monkeypatch):
    """Class weights 1000 : 1e-4 : 1e-4 on scikit-learn's blobs. The polish's Newton
    system with K free intercepts is singular along their common shift, so its solution
    was rounding over rounding (steps of 1e8 .. 7e8 that the halving threw away); the
    loss and gradient rounded at eps times the margins, so the KKT residual stalled near
    3e-8 and the fit stopped with a warning after 29 steps. Now the steps stay below 1 and
    the fit converges to the KKT residual of an extended-precision computation."""
    X, y = _blobs()
    steps = []
    solve = _logistic._newton_solve

    def recorded(H, c, g, *args):
        step = solve(H, c, g, *args)
        steps.append(float(np.max(np.abs(step))))
        return step

    monkeypatch.setattr(_logistic, "_newton_solve", recorded)
    lam = 4.42344095e-07
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = IRLSClassifier(lam=lam, tol=1e-10, class_weight=CLASS_WEIGHT).fit(X, y)
    assert steps and max(steps) < 1.0
    assert est.n_iter_ <= 3
    s = np.array([CLASS_WEIGHT[c] for c in y], dtype=float)
    assert _scaled_kkt_ld(X, y, est.coef_, est.intercept_, lam, s) <= 1e-9


def test_an_unpenalised_feature_in_every_class_is_a_gauge_of_the_polish(monkeypatch):
    """A feature with penalty factor 0 has all K coefficients in the support: shifting
    them together leaves F unchanged, a second singular direction of the polish's
    Hessian beside the intercepts'."""
    X, y = _blobs()
    factor = np.array([0.0, 1.0])
    sets = []
    gauge = _logistic._gauge_sets

    def recorded(shifts, curv):
        out = gauge(shifts, curv)
        sets.append(len(out))
        return out

    monkeypatch.setattr(_logistic, "_gauge_sets", recorded)
    lam = 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = IRLSClassifier(lam=lam, tol=1e-10, class_weight=CLASS_WEIGHT,
                             penalty_factor=factor).fit(X, y)
    assert np.all(est.coef_[:, 0] != 0) and max(sets) == 2
    s = np.array([CLASS_WEIGHT[c] for c in y], dtype=float)
    assert _scaled_kkt_ld(X, y, est.coef_, est.intercept_, lam, s, factor) <= 1e-9


def test_l1_feature_in_every_class_moves_to_its_first_zero():
    """F is linear along the common shift of an l1 feature's K coefficients (slope lam
    times the sum of their signs): the step moves along it until one coefficient is 0."""
    rng = np.random.default_rng(2)
    n, K = 60, 3
    X = rng.standard_normal((n, 2))
    y = rng.integers(0, K, n)
    problem = _logistic.LogisticProblem(X, np.eye(K)[y], np.ones(n), float(n), True)
    support = [np.array([0, 1]), np.array([0]), np.array([0])]
    W = np.array([[0.5, 0.2, 0.1], [0.3, 0.0, 0.0]])
    b = np.zeros(K)
    H = _logistic._hessian(problem, problem.margins(W, b), support)
    x = np.array([0.5, 0.3, 0.0, 0.2, 0.0, 0.1, 0.0])
    lam = 0.01
    slope = lam * np.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])  # l1: lam sign(w)
    g = rng.standard_normal(x.size) * 1e-3 + slope
    sets = _logistic._gauge_sets(_logistic._shared_features(problem, support),
                                 np.zeros(x.size))
    assert [p.tolist() for p in sets] == [[2, 4, 6], [0, 3, 5]]
    step = _logistic._gauge_fixed_step(H, np.zeros(x.size), g, sets, slope, x, True)
    after = x - step
    assert np.count_nonzero(after[[0, 3, 5]] == 0.0) == 1
    assert np.all(np.sign(after[[0, 3, 5]]) >= 0)  # no coefficient crosses 0
    assert np.all(np.isfinite(step)) and np.max(np.abs(step)) < 1.0


@pytest.mark.parametrize("class_weight", [None, {0: 1.0, 1: 3.0, 2: 0.5}])
def test_small_lam_multinomial_l1_leaves_no_feature_in_all_classes(class_weight):
    """With K = 3 and l1 a feature's K coefficients cannot all be nonzero at the optimum
    (their gradients sum to 0, lam times their signs cannot). At small lam the class steps
    pass through such columns; the polish's step along the shift of a full column (where F
    is linear) goes to its first zero. Before, the polish's solve was singular there and
    each column lost its extra coefficient only after 50-100 Newton steps: at lam 9.5e-6
    the fit did not converge in 100 (KKT residual 1.8e-5 to 5.7e-5; 792 steps to tol)."""
    rng = np.random.default_rng(0)
    n, d = 200, 20
    X = rng.standard_normal((n, d))
    X[:, 1] += 0.5 * X[:, 0]
    m = X[:, :5] @ [2.0, -1.5, 1.0, 0.0, 0.8] + 0.7 * rng.standard_normal(n)
    y = np.digitize(m, np.quantile(m, [1 / 3, 2 / 3]))
    lam = 9.5e-6
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = IRLSClassifier(lam=lam, tol=1e-10, class_weight=class_weight).fit(X, y)
    assert est.n_iter_ <= 10
    assert not np.any(np.all(est.coef_ != 0, axis=0))
    cw = class_weight or {0: 1.0, 1: 1.0, 2: 1.0}
    s = np.array([cw[c] for c in y], dtype=float)
    assert _scaled_kkt_ld(X, y, est.coef_, est.intercept_, lam, s) <= 1e-9
