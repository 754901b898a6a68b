"""IRLSRegressor against peers and independent computations on the same problems."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.preprocessing import StandardScaler

from skdropout.linear import (AdaptiveDropoutRegressor, AdaptiveDropoutRegressorCV,
                              IRLSRegressor, IRLSRegressorCV, irls_path)
from skdropout.penalties import get_penalty


def _problem(n=60, d=25, k=5, seed=0, offset=2.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + offset
    beta = np.zeros(d)
    beta[:k] = rng.choice([-1, 1], k) * rng.uniform(1.0, 3.0, k)
    y = X @ beta + 0.5 * rng.standard_normal(n) + 1.5
    return X, y


def _lam_max(X, y):
    return np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(y)


def _objective(X, y, coef, intercept, pen, lam, sw=None):
    sw = np.ones(len(y)) if sw is None else sw
    r = y - X @ coef - intercept
    return 0.5 * np.sum(sw * r**2) / np.sum(sw) + lam * pen.value(coef)


@pytest.mark.parametrize("shape", [(60, 25), (30, 200)])
@pytest.mark.parametrize("solver", ["auto", "cholesky", "woodbury", "cg"])
@pytest.mark.parametrize("frac", [0.5, 0.05])
def test_l1_equals_sklearn_lasso(shape, solver, frac):
    X, y = _problem(*shape, seed=shape[1])
    lam = frac * _lam_max(X, y)
    ours = IRLSRegressor(lam=lam, solver=solver).fit(X, y)
    ref = Lasso(alpha=lam, tol=1e-14, max_iter=200_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5 * np.abs(ref.coef_).max())
    np.testing.assert_array_equal(ours.coef_ != 0, ref.coef_ != 0)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5 * abs(ref.intercept_))
    # independent KKT check of the returned point (eq. 1 is convex for l1)
    g = X.T @ (y - X @ ours.coef_ - ours.intercept_) / len(y)
    on = ours.coef_ != 0
    np.testing.assert_allclose(g[on], lam * np.sign(ours.coef_[on]), rtol=1e-6)
    assert np.all(np.abs(g[~on]) <= lam * (1 + 1e-6))


def test_l1_sparse_input_equals_dense():
    X, y = _problem(80, 40, seed=3)
    X[np.abs(X - 2.0) < 1.0] = 0.0
    lam = 0.1 * _lam_max(X, y)
    dense = IRLSRegressor(lam=lam).fit(X, y)
    for solver in ["auto", "cg", "cholesky"]:
        sparse = IRLSRegressor(lam=lam, solver=solver).fit(sp.csr_matrix(X), y)
        np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)
        np.testing.assert_allclose(sparse.intercept_, dense.intercept_, atol=1e-7)
    with pytest.raises(ValueError, match="woodbury"):
        IRLSRegressor(lam=lam, solver="woodbury").fit(sp.csr_matrix(X), y)


@pytest.mark.parametrize("theta", [0.2, 0.7])
def test_elasticnet_equals_sklearn(theta):
    # Omega = theta/2 w^2 + (1 - theta)|w|  ->  ElasticNet(alpha=lam, l1_ratio=1 - theta)
    X, y = _problem(50, 30, seed=1)
    lam = 0.1 * _lam_max(X, y)
    ours = IRLSRegressor(penalty="elasticnet", penalty_params={"theta": theta}, lam=lam).fit(X, y)
    ref = ElasticNet(alpha=lam, l1_ratio=1 - theta, tol=1e-14, max_iter=200_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())
    np.testing.assert_array_equal(ours.coef_ != 0, ref.coef_ != 0)


def test_ridge_limits():
    X, y = _problem(50, 10, seed=2)
    n = len(y)
    # huber with eps above every |w_j| is exactly ridge: lam w^2 / (2 eps) = Ridge(n lam / eps)
    lam, eps = 0.5, 50.0
    ours = IRLSRegressor(penalty="huber", penalty_params={"eps": eps}, lam=lam).fit(X, y)
    ref = Ridge(alpha=n * lam / eps).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8)
    # a vanishing lam is least squares, for any penalty
    for pen in ["l1", "logsum", "mcp"]:
        tiny = IRLSRegressor(penalty=pen, lam=1e-9).fit(X, y)
        np.testing.assert_allclose(tiny.coef_, LinearRegression().fit(X, y).coef_, rtol=1e-5)


@pytest.mark.parametrize("penalty, params", [
    ("l1", None), ("elasticnet", {"theta": 0.5}), ("logsum", {"eps": 0.5}),
    ("mcp", {"a": 3.0}), ("scad", {"a": 3.7}), ("lpp", {"p": 0.5}), ("lp", {"p": 1.5}),
    ("huber", {"eps": 0.5}), ("hardthresh", {"k": 3}), ("vardrop", None),
])
def test_objective_path_non_increasing_and_stationary(penalty, params):
    X, y = _problem(60, 25, seed=4)
    X = (X - X.mean(0)) / X.std(0)
    lam = 0.1 * _lam_max(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = IRLSRegressor(penalty=penalty, penalty_params=params, lam=lam, max_iter=300).fit(X, y)
    path = reg.objective_path_
    finite = path[np.isfinite(path)]
    assert np.all(np.diff(finite) <= 1e-12 * np.abs(finite[1:])), path
    pen = get_penalty(penalty, **(params or {}))
    pen = pen.with_lam(lam) if pen.uses_lam else pen
    assert reg.objective_ == pytest.approx(_objective(X, y, reg.coef_, reg.intercept_, pen, lam),
                                           rel=1e-12)
    np.testing.assert_array_equal(reg.eta_, pen.eta_hat(reg.coef_))
    if penalty == "hardthresh":  # IHT fixed point: least squares on the k largest
        on = reg.coef_ != 0
        assert on.sum() <= 3
        np.testing.assert_allclose(reg.coef_[on], LinearRegression().fit(X[:, on], y).coef_,
                                   rtol=1e-8)
        return
    # coordinate-wise local optimality, checked by brute force along each nonzero coordinate
    base = reg.objective_
    for j in np.flatnonzero(reg.coef_):
        for t in np.linspace(-1e-3, 1e-3, 9) * max(1.0, abs(reg.coef_[j])):
            w = reg.coef_.copy()
            w[j] += t
            assert _objective(X, y, w, reg.intercept_, pen, lam) >= base - 1e-10 * abs(base)


@pytest.mark.parametrize("penalty, params", [("lp", {"p": 1.5}), ("logsum", {"eps": 1.0}),
                                             ("mcp", {"a": 4.0})])
def test_matches_direct_minimisation(penalty, params):
    # a smooth-enough problem solved by a general-purpose optimiser from IRLS's point and from
    # least squares: no lower objective nearby
    X, y = _problem(80, 6, k=3, seed=5, offset=0.0)
    X = (X - X.mean(0)) / X.std(0)
    lam = 0.05 * _lam_max(X, y)
    reg = IRLSRegressor(penalty=penalty, penalty_params=params, lam=lam).fit(X, y)
    pen = get_penalty(penalty, **(params or {}))
    pen = pen.with_lam(lam) if pen.uses_lam else pen
    yc = y - y.mean()
    fun = lambda w: 0.5 * np.mean((yc - X @ w) ** 2) + lam * pen.value(w)  # noqa: E731
    best = min((minimize(fun, w0, method="Nelder-Mead",
                         options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 40000})
                for w0 in [reg.coef_, np.linalg.lstsq(X, yc, rcond=None)[0]]),
               key=lambda r: r.fun)
    assert reg.objective_ <= best.fun + 1e-9 * abs(best.fun)


def test_sample_weight_equals_repeated_rows_and_zero_weight_equals_removal():
    X, y = _problem(40, 12, seed=7)
    sw = np.random.default_rng(0).integers(0, 4, len(y))
    lam = 0.1 * _lam_max(X, y)
    for pen in ["l1", "logsum"]:
        weighted = IRLSRegressor(penalty=pen, lam=lam).fit(X, y, sample_weight=sw)
        repeated = IRLSRegressor(penalty=pen, lam=lam).fit(np.repeat(X, sw, 0), np.repeat(y, sw))
        np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-9)
        np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-9)
        assert weighted.objective_ == pytest.approx(repeated.objective_, rel=1e-10)
    ref = Lasso(alpha=lam, tol=1e-14, max_iter=100_000).fit(X, y, sample_weight=sw * 1.0)
    np.testing.assert_allclose(IRLSRegressor(lam=lam).fit(X, y, sample_weight=sw).coef_,
                               ref.coef_, atol=1e-6)


def test_intercept():
    X, y = _problem(50, 10, seed=8)
    lam = 0.1 * _lam_max(X, y)
    a = IRLSRegressor(lam=lam).fit(X, y)
    b = IRLSRegressor(lam=lam).fit(X, y + 100.0)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-9)
    assert b.intercept_ - a.intercept_ == pytest.approx(100.0)
    ours = IRLSRegressor(lam=lam, fit_intercept=False).fit(X, y)
    ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    assert ours.intercept_ == 0.0


def test_float32_input_is_computed_in_float64():
    X, y = _problem(50, 10, seed=9)
    lam = 0.1 * _lam_max(X, y)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    a = IRLSRegressor(lam=lam).fit(X32, y32)
    b = IRLSRegressor(lam=lam).fit(X32.astype(np.float64), y32.astype(np.float64))
    assert a.coef_.dtype == np.float64
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_warm_start_and_convergence_warning():
    X, y = _problem(60, 40, seed=10)
    lam = 0.05 * _lam_max(X, y)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        IRLSRegressor(penalty="lpp", penalty_params={"p": 0.5}, lam=lam, max_iter=1).fit(X, y)
    reg = IRLSRegressor(lam=lam, warm_start=True).fit(X, y)
    coef = reg.coef_.copy()
    reg.fit(X, y)
    assert reg.n_iter_ == 1
    np.testing.assert_allclose(reg.coef_, coef, atol=1e-10)
    # warm start down a lam path reaches the cold-start solution (l1 is convex)
    reg.set_params(lam=lam / 2).fit(X, y)
    cold = IRLSRegressor(lam=lam / 2).fit(X, y)
    np.testing.assert_allclose(reg.coef_, cold.coef_, atol=1e-8)


def test_wide_problem_uses_working_set_and_matches_lasso():
    rng = np.random.default_rng(11)
    n, d = 100, 3000
    X = rng.standard_normal((n, d))
    y = X[:, :10] @ rng.uniform(1, 2, 10) + 0.1 * rng.standard_normal(n)
    lam = 0.1 * _lam_max(X, y)
    ours = IRLSRegressor(lam=lam).fit(X, y)
    ref = Lasso(alpha=lam, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_array_equal(ours.coef_ != 0, ref.coef_ != 0)


def test_constant_target_gives_zero_coefficients():
    X, _ = _problem(30, 5, seed=12)
    reg = IRLSRegressor(lam=0.1).fit(X, np.full(30, 3.0))
    np.testing.assert_array_equal(reg.coef_, 0.0)
    assert reg.intercept_ == pytest.approx(3.0)


def test_large_column_means_are_centred_exactly():
    # offsets far above the spreads take the centred-copy path; small ones stay implicit
    X, y = _problem(60, 15, seed=13, offset=0.0)
    lam = 0.1 * _lam_max(X, y)
    small = IRLSRegressor(lam=lam).fit(X, y)
    big = IRLSRegressor(lam=lam).fit(X + 1e6, y)
    np.testing.assert_allclose(big.coef_, small.coef_, atol=1e-7)
    ref = Lasso(alpha=lam, tol=1e-14, max_iter=100_000).fit(X + 1e6, y)
    np.testing.assert_allclose(big.coef_, ref.coef_, atol=1e-6)


@pytest.mark.parametrize("penalty, params", [("huber", {"eps": 0.5}), ("lpp", {"p": 0.5}),
                                             ("hardthresh", {"k": 3}), ("mcp", {"a": 3.0})])
def test_solvers_agree_on_wide_problems(penalty, params):
    # more columns than rows: "auto" takes the dual (Woodbury) form for penalties without a
    # working set, including eta = inf (unpenalised) blocks (hardthresh, mcp)
    X, y = _problem(30, 80, k=3, seed=14, offset=0.0)
    lam = 0.2 * _lam_max(X, y)
    fits = {s: IRLSRegressor(penalty=penalty, penalty_params=params, lam=lam, solver=s,
                             max_iter=300).fit(X, y)
            for s in ["woodbury", "cholesky", "cg"]}
    for s in ["cholesky", "cg"]:
        np.testing.assert_allclose(fits[s].coef_, fits["woodbury"].coef_, atol=1e-6)
    path = fits["woodbury"].objective_path_
    finite = path[np.isfinite(path)]
    assert np.all(np.diff(finite) <= 1e-12 * np.abs(finite[1:]))


def test_logsum_path_on_correlated_data_converges_to_local_minima():
    # warm-started log-sum fits down a lam path on the (correlated) diabetes features: a
    # coordinate entering from 0 grows geometrically under plain IRLS (484 iterations for one
    # fit here); with the line search every fit converges within 100 iterations, to a point
    # where no single-coordinate move lowers eq. (1)
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    pen = get_penalty("logsum", eps=5.0)
    est = IRLSRegressor(penalty="logsum", penalty_params={"eps": 5.0}, warm_start=True,
                        max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for lam in np.geomspace(60.0, 1.0, 25):
            coef = est.set_params(lam=lam).fit(X, y).coef_
            Xc, yc = X - X.mean(0), y - y.mean()

            def obj(w):
                r = yc - Xc @ w
                return r @ r / (2 * len(yc)) + lam * pen.value(w)

            for j in range(X.shape[1]):  # independent check: 1-D grid around each coordinate
                grid = coef[j] + np.linspace(-1.0, 1.0, 201)
                vals = [obj(np.where(np.arange(X.shape[1]) == j, t, coef)) for t in grid]
                assert obj(coef) <= min(vals) + 1e-9 * abs(obj(coef))


@pytest.mark.parametrize("make", [
    lambda: IRLSRegressor(penalty="l0", lam=1e6),
    lambda: AdaptiveDropoutRegressor(penalty="l0", lam=1e6),
    lambda: IRLSRegressorCV(penalty="l0", lams=3, cv=2),
    lambda: AdaptiveDropoutRegressorCV(penalty="l0", lams=3, cv=2)])
def test_l0_is_refused_because_its_eta_trick_is_degenerate(make):
    """eta_hat of l0 is +inf on nonzeros and 0 on zeros: every least-squares fit is a fixed
    point, so a fit returned least squares whatever lam (objective 1e7 where w = 0 scores
    2831). It is refused, naming the parameter and the accepted penalties."""
    X, y = _problem()
    est = make()
    with pytest.raises(ValueError, match=r"penalty='l0'.*accepted: \[.*'logsum'"):
        est.fit(X, y)
    assert not hasattr(est, "coef_")
    with pytest.raises(ValueError, match="penalty='l0'"):
        irls_path(X, y, penalty="l0", lams=3)
    with pytest.raises(ValueError, match="penalty='l0'"):  # also as a penalty object
        IRLSRegressor(penalty=get_penalty("l0"), lam=1.0).fit(X, y)


@pytest.mark.parametrize("greedy", [True, False])
def test_newton_polish_reenters_a_dropped_coordinate(greedy):
    # the l1 problem on a Gram matrix, started from its solution with one coordinate of the
    # support at 0: that coordinate violates |c_j - G_j w| <= lam and must re-enter, and the
    # polish ends at scikit-learn's Lasso solution
    from skdropout.linear._irls import newton_on_support

    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 12))
    X[:, 1] += 0.8 * X[:, 0]
    y = X @ np.r_[2.0, -1.5, 1.0, np.zeros(9)] + 0.1 * rng.standard_normal(80)
    lam = 0.05
    ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    G, c = X.T @ X / 80, X.T @ y / 80
    start = ref.copy()
    j = int(np.flatnonzero(ref)[1])
    start[j] = 0.0
    out = newton_on_support(G, c, start, get_penalty("l1"), lam, greedy=greedy)
    np.testing.assert_allclose(out, ref, atol=1e-9)
    assert out[j] != 0.0


@pytest.mark.parametrize("operator", [False, True])
def test_polish_line_search_picks_the_lowest_crossing_point(operator):
    # the candidates of the convex polish's line search, evaluated here by brute force: the
    # cut chosen is the lowest of them, and no higher than the first crossing's point; with
    # the Gram matrix as a matrix-free operator of a sparse, centred and weighted design
    # (the quadratic terms from the samples' values) too
    from skdropout.linear._design import Design
    from skdropout.linear._irls import _best_crossing

    rng = np.random.default_rng(5)
    A = rng.standard_normal((40, 25))
    G, c = A.T @ A / 40, A.T @ rng.standard_normal(40) / 40
    if operator:
        X = sp.random(300, 25, density=0.05, format="csc", random_state=5)
        design = Design(X, rng.standard_normal(300), rng.uniform(0.5, 2.0, 300), True)
        G, c = design.gram_operator(np.arange(25)), design.xty()
        u = design.sw  # (mean 1) the centred, weighted columns, densely
        Xc = np.sqrt(u)[:, None] * (X.toarray() - u @ X.toarray() / 300)
        Gd = Xc.T @ Xc / 300
    w, step = rng.standard_normal(25), rng.standard_normal(25)
    pen, lam = get_penalty("l1"), 0.3
    new = w - step
    cross = np.sign(new) != np.sign(w)
    frac = np.where(cross, w / np.where(cross, w - new, 1.0), np.inf)

    def objective(t):
        p = w - t * step
        p[frac <= t] = 0.0
        return 0.5 * p @ (Gd if operator else G) @ p - c @ p + lam * np.abs(p).sum()

    cuts = np.sort(frac[np.isfinite(frac)])
    values = [objective(t) for t in cuts]
    t = _best_crossing(G, c, w, step, pen, lam, frac)
    assert t == cuts[int(np.argmin(values))]
    assert objective(t) <= objective(cuts[0])


def test_l1_with_a_support_near_n_equals_lasso():
    # d >> n at lam_max/100 with heavy noise: the support fills most of the n samples, where
    # the polish sheds many coordinates per factorisation; the fit is still scikit-learn's
    X, y = make_regression(n_samples=150, n_features=1500, n_informative=20, noise=300.0,
                           random_state=0)
    X = StandardScaler().fit_transform(X)
    lam = np.max(np.abs(X.T @ (y - y.mean()))) / len(y) / 100
    est = IRLSRegressor(penalty="l1", lam=lam, tol=1e-8).fit(X, y)
    ref = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X, y)
    assert np.count_nonzero(ref.coef_) > 100
    np.testing.assert_array_equal(est.coef_ != 0, ref.coef_ != 0)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())


def test_reduced_solver_solves_the_support_less_the_dropped_coordinates():
    # one factorisation of H_BB serves the homotopy's later supports S = B less a few
    # coordinates: its solves equal a direct solve with H_SS
    from skdropout.linear._irls import _reduced_solver
    from skdropout.linear._wstep import cholesky

    rng = np.random.default_rng(3)
    A = rng.standard_normal((100, 90))
    G = A.T @ A / 100 + 1e-3 * np.eye(90)
    lam = 0.3
    b_idx = np.arange(2, 82)
    curv = np.zeros(90)
    H = G[np.ix_(b_idx, b_idx)]
    base = (cholesky(H.copy()), b_idx, curv[b_idx], {})
    keep = np.setdiff1d(np.arange(80), [4, 17, 40, 79])
    solve, same = _reduced_solver(G, lam, base, b_idx[keep], curv[b_idx][keep])
    assert same is base
    b = rng.standard_normal(keep.size)
    np.testing.assert_allclose(solve(b), np.linalg.solve(H[np.ix_(keep, keep)], b),
                               rtol=1e-10)
    # one more coordinate dropped: the kept columns of Z serve the next solve as well
    fewer = np.setdiff1d(keep, [60])
    solve, _ = _reduced_solver(G, lam, base, b_idx[fewer], curv[b_idx][fewer])
    assert len(base[3]) == 5
    b = rng.standard_normal(fewer.size)
    np.testing.assert_allclose(solve(b), np.linalg.solve(H[np.ix_(fewer, fewer)], b),
                               rtol=1e-10)
    # too many dropped coordinates, another curvature: no reuse
    assert _reduced_solver(G, lam, base, b_idx[:60], curv[:60])[0] is None
    assert _reduced_solver(G, lam, base, b_idx[keep], curv[b_idx][keep] + 1.0)[0] is None


def test_reduced_solver_extends_the_factor_by_added_coordinates():
    # S = B less a few coordinates plus a few new ones (with their own curvature): the
    # factor grows by a block row (a blocked Cholesky step), its solves equal a direct solve
    # with H_SS = G_SS + lam diag(curv_S), and the grown factor (rows in the order B, added)
    # serves the next support as well
    from skdropout.linear._irls import _reduced_solver
    from skdropout.linear._wstep import cholesky

    rng = np.random.default_rng(4)
    A = rng.standard_normal((120, 100))
    G = A.T @ A / 120 + 1e-3 * np.eye(100)
    lam = 0.3
    curv = rng.uniform(0.0, 1.0, 100)
    b_idx = np.arange(0, 80)
    H_B = G[np.ix_(b_idx, b_idx)] + lam * np.diag(curv[b_idx])
    base = (cholesky(H_B.copy()), b_idx, curv[b_idx], {})

    def direct(S, b):
        return np.linalg.solve(G[np.ix_(S, S)] + lam * np.diag(curv[S]), b)

    S = np.sort(np.concatenate([np.setdiff1d(b_idx, [3, 50]), [85, 91, 97]]))
    solve, grown = _reduced_solver(G, lam, base, S, curv[S])
    b = rng.standard_normal(S.size)
    np.testing.assert_allclose(solve(b), direct(S, b), rtol=1e-9)
    np.testing.assert_array_equal(grown[1], np.concatenate([b_idx, [85, 91, 97]]))
    # all of the grown support, and then one more added while others leave
    for S in (np.sort(grown[1]), np.sort(np.concatenate([np.setdiff1d(grown[1], [7, 91]),
                                                         [99]]))):
        solve, _ = _reduced_solver(G, lam, grown, S, curv[S])
        b = rng.standard_normal(S.size)
        np.testing.assert_allclose(solve(b), direct(S, b), rtol=1e-9)
    # more added coordinates than an eighth of B: no reuse
    S = np.concatenate([b_idx, np.arange(80, 100)])
    assert _reduced_solver(G, lam, base, S, curv[S])[0] is None


@pytest.mark.parametrize("Estimator", [IRLSRegressor, AdaptiveDropoutRegressor])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("bad, message", [(np.nan, "Input X contains NaN"),
                                          (np.inf, "Input X contains infinity"),
                                          (-np.inf, "Input X contains infinity")])
def test_non_finite_X_raises_scikit_learns_error_without_warnings(Estimator, fmt, fit_intercept,
                                                                   bad, message):
    """The finiteness of X is read off the design's column sums of squares: one NaN or inf,
    dense or sparse, with or without centring (sample weights 0 on its row included), gives
    scikit-learn's error and no RuntimeWarning on the way; the estimator stays unfitted."""
    X, y = _problem()
    X[7, 3] = bad
    Xf = X if fmt == "dense" else getattr(sp, f"{fmt}_matrix")(X)
    sw = np.ones(len(y))
    sw[7] = 0.0
    for weights in (None, sw):
        est = Estimator(lam=0.1, fit_intercept=fit_intercept)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match=message):
                est.fit(Xf, y, sample_weight=weights)
        assert not hasattr(est, "coef_")


@pytest.mark.parametrize("name, params", [("l1", {}), ("mcp", {"a": 3.0})])
def test_newton_polish_with_a_kept_factorisation_finds_the_same_point(name, params):
    # the polish's factorisation kept from one call to the next (as the predictor and the
    # polish of one fit share it) changes the arithmetic, not the point it reaches
    from skdropout.linear._irls import FactorCache, newton_on_support

    rng = np.random.default_rng(5)
    n, m = 300, 200  # supports of 100-140: above the size where factors are reused
    X = rng.standard_normal((n, m)) + 0.5 * rng.standard_normal((n, 1))
    y = X[:, :100] @ rng.uniform(1, 3, 100) + rng.standard_normal(n)
    G, c = X.T @ X / n, X.T @ y / n
    cache, w_kept, w_fresh = FactorCache(), np.linalg.solve(G, c), np.linalg.solve(G, c)
    for lam in (0.5, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05):
        pen = get_penalty(name, **params)
        pen = pen.with_lam(lam) if pen.uses_lam else pen
        w_kept = newton_on_support(G, c, w_kept, pen, lam, greedy=True, cache=cache)
        w_fresh = newton_on_support(G, c, w_fresh, pen, lam, greedy=True)
        assert cache.base is not None
        np.testing.assert_array_equal(w_kept != 0, w_fresh != 0)
        np.testing.assert_allclose(w_kept, w_fresh, rtol=1e-9, atol=1e-12)
        # the next call starts with the five zeros most correlated with the residual
        # entered, as the working set's growth enters them (the kept factor then grows)
        g = c - G @ w_kept
        enter = np.argsort(-np.where(w_kept == 0, np.abs(g), -1.0))[:5]
        w_kept[enter] = w_fresh[enter] = 1e-3 * np.sign(g[enter])


def _assert_stationary_below_start(G, c, w, w0, pen, lam):
    """``w`` is a stationary point of ``F(v) = v'Gv/2 - c'v + lam Omega(v)`` on its support
    (gradient at most 1e-10 of ``max |c|``) with ``F(w) < F(w0)``."""
    S = np.flatnonzero(w)
    grad = G[np.ix_(S, S)] @ w[S] - c[S] + lam * pen.restrict(S).grad(w[S])
    assert np.abs(grad).max() <= 1e-10 * np.abs(c).max()

    def F(v):
        return 0.5 * v @ G @ v - c @ v + lam * np.sum(pen.pointwise(v))

    assert F(w) < F(w0)


def test_newton_polish_factorises_the_convex_part_once_per_support(monkeypatch):
    # logsum with a small eps on two nearly collinear pairs of columns: the Hessian
    # G + lam diag(Omega'') is indefinite, so the convex part G + lam diag(max(Omega'', 0))
    # = G takes the steps; it is the same matrix at every step on one support and is
    # factorised once there, and the polish still ends at a stationary point below its start
    from skdropout.linear import _irls

    rng = np.random.default_rng(9)
    X = rng.standard_normal((50, 6))
    X[:, 1] = X[:, 0] + 0.05 * X[:, 1]
    X[:, 3] = X[:, 2] + 0.05 * X[:, 3]
    y = X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(50)
    G, c = X.T @ X / 50, X.T @ y / 50
    pen, lam = get_penalty("logsum", eps=0.1), 0.05
    cholesky, factorised = _irls.cholesky, []

    def recorded(H, *args, **kwargs):
        H0 = H.copy()
        out = cholesky(H, *args, **kwargs)
        if out is not None:
            factorised.append(H0)
        return out

    monkeypatch.setattr(_irls, "cholesky", recorded)
    w0 = np.linalg.solve(G, c)
    w = _irls.newton_on_support(G, c, w0, pen, lam)
    for i, A in enumerate(factorised):
        for B in factorised[:i]:
            assert A.shape != B.shape or not np.allclose(A, B, rtol=1e-12, atol=0)
    assert 0 < np.count_nonzero(w) < 6  # indefinite on all six: coordinates left the support
    _assert_stationary_below_start(G, c, w, w0, pen, lam)


def test_newton_polish_tries_no_factor_of_a_hessian_with_a_non_positive_diagonal(monkeypatch):
    # mcp on a column of small norm: G_jj - lam/a <= 0 at a coordinate of its concave part
    # proves the Hessian indefinite, so the polish factorises only matrices with a positive
    # diagonal (the convex part, here G on the support), and still ends at a stationary
    # point below its start
    from skdropout.linear import _irls

    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 8))
    X[:, 3] *= 0.2
    y = X @ np.r_[1.5, -1.0, 0.8, 0.2, np.zeros(4)] + 0.1 * rng.standard_normal(60)
    G, c = X.T @ X / 60, X.T @ y / 60
    pen, lam = get_penalty("mcp", a=3.0).with_lam(0.1), 0.1
    assert G[3, 3] + lam * pen.curvature(np.array([0.2]))[0] <= 0
    cholesky, attempted = _irls.cholesky, []

    def recorded(H, *args, **kwargs):
        attempted.append(np.diag(H).copy())
        return cholesky(H, *args, **kwargs)

    monkeypatch.setattr(_irls, "cholesky", recorded)
    w0 = np.linalg.solve(G, c)
    w = _irls.newton_on_support(G, c, w0, pen, lam)
    assert attempted and all(np.all(diag > 0) for diag in attempted)
    _assert_stationary_below_start(G, c, w, w0, pen, lam)


def test_a_crawl_near_a_saddle_steps_along_negative_curvature(curvature_steps):
    """mcp at lam_max/50 on 150 x 600 with 60 true features: after a few iterations the
    support's Hessian G_SS + lam diag(Omega'') is indefinite, the polish does not settle,
    and the w-steps lower the objective by 1e-10 to 1e-12 relative per iteration (495
    iterations without the negative-curvature step). With it the fit converges in a few
    dozen, to a local minimum: the KKT conditions hold by an independent gradient and that
    Hessian, formed here from X, is positive definite."""
    X, y = make_regression(n_samples=150, n_features=600, n_informative=60, noise=1.0,
                           random_state=1)
    X = (X - X.mean(0)) / X.std(0)
    n = len(y)
    scale = _lam_max(X, y)
    lam = scale / 50
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = IRLSRegressor(penalty="mcp", penalty_params={"a": 3.0}, lam=lam).fit(X, y)
    assert curvature_steps and est.n_iter_ <= 30
    pen = get_penalty("mcp", a=3.0).with_lam(lam)
    w = est.coef_
    grad = X.T @ (X @ w + est.intercept_ - y) / n
    on = w != 0
    assert np.max(np.abs(grad[on] + lam * pen.grad(w)[on])) <= 1e-6 * scale
    assert np.max(np.abs(grad[~on])) <= lam * pen.slope0 + 1e-6 * scale
    Xs = X[:, on] - X[:, on].mean(0)
    H = Xs.T @ Xs / n + np.diag(lam * pen.curvature(w[on]))
    assert np.linalg.eigvalsh(H)[0] > 0


def test_convex_part_of_an_indefinite_hessian_reuses_the_cached_factor(monkeypatch):
    # the support sheds two coordinates of the last factorised one and a coordinate of its
    # concave part has G_jj + lam Omega''_j <= 0: the Hessian is indefinite, and its convex
    # part G_SS + lam diag(max(Omega'', 0)) is solved from the cached factor of the last
    # support (no new factorisation of its size); the solves equal a direct solve
    from skdropout.linear import _irls
    from skdropout.linear._wstep import cholesky

    rng = np.random.default_rng(8)
    A = rng.standard_normal((150, 90))
    A[:, 7] *= 0.1
    G = A.T @ A / 150
    lam = 0.2
    p_idx = np.arange(80)
    base = (cholesky(G[np.ix_(p_idx, p_idx)].copy()), p_idx, np.zeros(80), {})
    cache = _irls.FactorCache()
    cache.base = base
    idx = np.setdiff1d(p_idx, [3, 50])
    curv = np.zeros(idx.size)
    curv[[5, 6, 20]] = -1.0  # coordinates 5, 7 and 22: 7's diagonal entry is below lam
    assert np.any(G.diagonal()[idx] + lam * curv <= 0)
    sizes = []

    def recorded(H, *args, **kwargs):
        sizes.append(H.shape[0])
        return cholesky(H, *args, **kwargs)

    monkeypatch.setattr(_irls, "cholesky", recorded)
    solve, exact, convex = _irls._factor_solver(G, lam, idx, curv, G.diagonal()[idx], cache,
                                                None)
    assert not exact and convex[1] is solve
    assert max(sizes) <= 2  # only the 2 x 2 system of the dropped coordinates
    b = rng.standard_normal(idx.size)
    np.testing.assert_allclose(solve(b), np.linalg.solve(G[np.ix_(idx, idx)], b), rtol=1e-9)


@pytest.mark.parametrize("order", ["C", "F"])
def test_working_set_keeps_the_block_of_most_columns_and_extends_it_in_place(order):
    # a dense working set of more than half of the columns (not all) keeps its block X_W
    # (centred, weighted), and its Gram matrix and block grow by the new columns; checked
    # against the centred, weighted columns formed here
    from skdropout.linear._design import Design
    from skdropout.linear._irls import _WorkingSet

    rng = np.random.default_rng(6)
    n, d = 50, 12
    X = np.asarray(rng.standard_normal((n, d)) + 3.0, order=order)
    sw = rng.uniform(0.5, 2.0, n)
    design = Design(X, rng.standard_normal(n), sw, True)
    u = sw * n / sw.sum()
    Xs = np.sqrt(u)[:, None] * (X - u @ X / n)
    cols = np.array([0, 2, 3, 5, 7, 8, 9])
    ws = _WorkingSet(design, cols, "cholesky")
    blocks = []
    for new in (np.array([1, 11]), np.array([4]), np.array([6])):
        assert ws.XW is not None and ws.XW.flags.f_contiguous
        np.testing.assert_allclose(ws.XW, Xs[:, ws.cols], rtol=0, atol=1e-12)
        np.testing.assert_allclose(ws.G, Xs[:, ws.cols].T @ Xs[:, ws.cols] / n, rtol=0,
                                   atol=1e-12)
        blocks.append(ws.XW)
        ws.add(new)
    np.testing.assert_allclose(ws.XW, Xs[:, ws.cols], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ws.G, Xs[:, ws.cols].T @ Xs[:, ws.cols] / n, rtol=0, atol=1e-12)
    # the extensions write into the array of the first block (room for its 7 columns again,
    # at most all 12)
    assert all(np.shares_memory(block, ws.XW) for block in blocks)
    # all of X is not copied
    assert _WorkingSet(design, np.arange(d), "cholesky").XW is None
    # a block with spare columns holds the same block in its first ones
    roomy = design.block(cols, spare=3)
    assert roomy.shape == (n, cols.size + 3) and roomy.flags.f_contiguous
    np.testing.assert_array_equal(roomy[:, :cols.size], design.block(cols))


def _weighted_sparse_design(seed=5, n=80, d=40, intercept=True):
    from skdropout.linear._design import Design

    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.15, format="csr", random_state=seed,
                  data_rvs=lambda k: 1.0 + rng.exponential(1.0, k))
    y = rng.standard_normal(n)
    sw = rng.uniform(0.2, 3.0, n)
    return Design(X, y, sw, intercept), Design(X.toarray(), y, sw, intercept)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("weighted", [True, False])
def test_dense_moments_by_blocks_of_either_axis(layout, weighted, monkeypatch):
    """The weighted column means and second moments of a dense X, read by blocks of rows
    (C order, strided) or of columns (Fortran order), several blocks per X."""
    from skdropout.linear import _design

    monkeypatch.setattr(_design, "_BLOCK_BYTES", 8 * 7 * 3)  # blocks of 3 columns or rows
    rng = np.random.default_rng(1)
    X = rng.standard_normal((21, 2 * 11))[:, ::2] if layout == "strided" else np.asarray(
        rng.standard_normal((21, 11)) + 2.0, order=layout)
    sw = rng.uniform(0.2, 3.0, 21) if weighted else np.ones(21)
    first, second = _design._dense_moments(X, sw, weighted)
    np.testing.assert_allclose(first, sw @ X / 21, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(second, sw @ X**2 / 21, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "empty"])
def test_rank_one_update_in_place(layout):
    """The centring of the Gram blocks, ``A += alpha a b'``, updates A itself in every
    memory layout (BLAS on the Fortran view of a C-ordered A, numpy on a strided one)."""
    from skdropout.linear._design import _rank_one_update

    rng = np.random.default_rng(0)
    m, k = (0, 4) if layout == "empty" else (5, 4)
    A = rng.standard_normal((m, 2 * k))[:, ::2] if layout == "strided" else np.asarray(
        rng.standard_normal((m, k)), order="F" if layout == "F" else "C")
    a, b = rng.standard_normal(m), rng.standard_normal(k)
    expected = A - 2.5 * np.outer(a, b)
    _rank_one_update(A, -2.5, a, b)
    np.testing.assert_allclose(A, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_sparse_column_products_with_and_without_a_slice_are_equal(fmt, intercept, weighted,
                                                                   monkeypatch):
    """A product with some columns of a sparse X slices them out only where that saves more
    than ``_SLICE_SAVING`` entries (plus ``_SLICE_COPY`` per entry of the slice); the
    product with all of X (the other factors 0) gives the same result, for every format,
    with and without centring and weights."""
    from skdropout.linear import _design
    from skdropout.linear._design import Design

    rng = np.random.default_rng(2)
    n, d = 60, 90
    X = sp.random(n, d, density=0.1, format=fmt, random_state=2)
    sw = rng.uniform(0.2, 3.0, n) if weighted else None
    y = rng.standard_normal(n)
    Xs = Design(X.toarray(), y, sw, intercept).block(np.arange(d))  # the dense reference
    cols = np.array([7, 2, 40, 41, 88])
    v, u, U = rng.standard_normal(cols.size), rng.standard_normal(n), rng.standard_normal((n, 3))
    w = np.zeros(d)
    w[cols] = v
    monkeypatch.setattr(_design, "_SLICE_COPY", 0)
    for saving, sliced in ((0, True), (10**9, False)):
        monkeypatch.setattr(_design, "_SLICE_SAVING", saving)
        design = Design(X, y, sw, intercept)
        assert _design.slice_pays(design.X, cols) is sliced
        np.testing.assert_allclose(design.matvec(v, cols), Xs[:, cols] @ v, atol=1e-13)
        np.testing.assert_allclose(design.matvec(w), Xs @ w, atol=1e-13)
        np.testing.assert_allclose(design.rmatvec(u, cols), Xs[:, cols].T @ u, atol=1e-13)
        np.testing.assert_allclose(design.rmatvec(U, cols), Xs[:, cols].T @ U, atol=1e-13)


@pytest.mark.parametrize("intercept", [True, False])
def test_sparse_design_columns_and_products_equal_the_dense_ones(intercept):
    # the stored entries of a sparse design, its cross products (either side the larger) and
    # its column norms are those of the centred, weighted dense design
    sparse, dense = _weighted_sparse_design(intercept=intercept)
    Xs = dense.block(np.arange(dense.d))
    js = np.array([3, 0, 17, 39, 8])
    cols, off, swx = sparse.sparse_columns(js)
    u = sparse.sqrt_sw
    for (rows, vals), o, s, j in zip(cols, off, swx, js):
        col = np.zeros(sparse.n)
        col[rows] = vals
        np.testing.assert_allclose(col - o * u, Xs[:, j], atol=1e-13)
        np.testing.assert_allclose(s, np.sum(u * col), rtol=1e-13)
    rows, few = np.arange(0, 40, 2), np.array([1, 5, 6])
    for a, b in ((rows, few), (few, rows), (rows, rows), (few, few[::-1])):
        for design in (sparse, dense):  # the Gram blocks X_s'X_s / n
            np.testing.assert_allclose(design.cross(a, b), Xs[:, a].T @ Xs[:, b] / 80,
                                       atol=1e-13)
    np.testing.assert_allclose(sparse.col_sq_norms(js), np.sum(Xs[:, js]**2, axis=0) / 80,
                               rtol=1e-12)
    np.testing.assert_allclose(sparse.col_sq_norms()[js], sparse.col_sq_norms(js), rtol=1e-14)


def test_kept_residual_equals_a_pass_over_x_and_is_not_shared(monkeypatch):
    """A design keeps its last residual ``y_s - X_s w`` with (a copy of) its w, so that eq.
    (1) and the gradient at the same w cost one product with X: the kept one equals a new
    pass bit for bit, another w (also the same array changed in place) gets its own, and
    the copy that a solver updates in place (``_irls._enter``) leaves the kept one as it
    was. irls on a sparse and on a dense design gives the same iterates without it."""
    from skdropout.linear import _irls
    from skdropout.linear._design import Design

    sparse, dense = _weighted_sparse_design()
    rng = np.random.default_rng(3)
    w = np.zeros(sparse.d)
    w[[1, 4, 9, 30]] = rng.standard_normal(4)
    for design in (sparse, dense):
        fresh = design.y - design.matvec(w)
        r = design.residual(w)
        np.testing.assert_array_equal(r, fresh)
        assert design.residual_loss(w) == float(fresh @ fresh) / (2.0 * design.n)
        r[:] = 0.0  # the caller's copy
        np.testing.assert_array_equal(design.residual(w), fresh)
        w[4] += 1.0  # the same array, another point
        np.testing.assert_array_equal(design.residual(w), design.y - design.matvec(w))
        w[4] -= 1.0
    runs, y = [], rng.standard_normal(sparse.n)
    for kept in (True, False):
        if not kept:
            monkeypatch.setattr(Design, "_residual", lambda self, v: self.y - self.matvec(v))
        for X in (sparse.X, sparse.X.toarray()):
            res = _irls.irls(Design(X, y, sparse.sw, True), get_penalty("l1"), 0.02, tol=1e-10)
            runs.append((res.coef, res.objective_path, res.n_iter))
    for (coef, path, it), (coef0, path0, it0) in zip(runs[:2], runs[2:]):
        np.testing.assert_array_equal(coef, coef0)
        assert path == path0 and it == it0


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix])
def test_sparse_column_norms_with_duplicate_entries(fmt):
    # a sparse X that stores one position twice (not in canonical form) has the column
    # norms of its sum, as the canonical and the dense X: the squares of the stored entries
    # alone would miss the cross term 2 a b of (a + b)^2
    from skdropout.linear._design import Design

    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 30, 200), rng.integers(0, 12, 200)
    rows[:20], cols[:20] = 4, 7  # twenty entries at one position
    major, minor, size = (rows, cols, 30) if fmt is sp.csr_matrix else (cols, rows, 12)
    order = np.argsort(major, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(major, minlength=size))])
    X = fmt((rng.exponential(1.0, 200)[order], minor[order], indptr), shape=(30, 12))
    assert not X.has_canonical_format
    sw = rng.uniform(0.2, 3.0, 30)
    dense = X.toarray()
    for intercept in (True, False):
        want = Design(dense, rng.standard_normal(30), sw, intercept).col_sq_norms()
        for design in (Design(X, np.zeros(30), sw, intercept),
                       Design(fmt(dense), np.zeros(30), sw, intercept)):
            np.testing.assert_allclose(design.col_sq_norms(), want, rtol=1e-12)
            np.testing.assert_allclose(design.col_sq_norms(np.array([7, 2])), want[[7, 2]],
                                       rtol=1e-12)


@pytest.mark.parametrize("name, params", [("l1", {}), ("elasticnet", {"theta": 0.5}),
                                          ("mcp", {"a": 3.0})])
def test_entering_step_on_a_sparse_design_equals_the_dense_one(name, params):
    # _enter reads a sparse design's stored entries (the centring kept as one scalar) and
    # must move the same coordinates by the same steps as on the densified design; every
    # step lowers the coordinate's model (exact for l1 and the elastic net's minimiser)
    from skdropout.linear._irls import _enter, penalty_slope0

    sparse, dense = _weighted_sparse_design()
    pen = get_penalty(name, **params)
    lam = 0.3 * float(np.max(np.abs(dense.xty())))
    pen = pen.with_lam(lam) if pen.uses_lam else pen
    js = np.arange(dense.d)
    out = []
    for design in (sparse, dense):
        w, r = np.zeros(design.d), design.y.copy()
        _enter(design, pen, lam, w, r, js, penalty_slope0(pen))
        out.append((w, r))
    (w_s, r_s), (w_d, r_d) = out
    assert np.count_nonzero(w_d) > 0
    np.testing.assert_allclose(w_s, w_d, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(r_s, r_d, atol=1e-12)
    np.testing.assert_allclose(r_d, dense.y - dense.block(js) @ w_d, atol=1e-12)
    assert dense.loss(w_d) + lam * pen.value(w_d) < dense.loss(0 * w_d)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("intercept", [True, False])
def test_covariance_updates_give_the_gradient_of_a_pass_over_x(kind, intercept):
    # X_s'y_s/n - (X_s'X_s/n)[:, S] w_S (kept columns, computed ahead) equals X_s'r/n along
    # a sequence of growing and shrinking supports, weighted and centred, and the update
    # steps aside (a pass over X) for supports above n/8
    from skdropout.linear._design import Design

    rng = np.random.default_rng(3)
    n, d = 120, 400
    X = rng.standard_normal((n, d)) + 2.0
    if kind == "sparse":
        X = sp.csr_matrix(X * (rng.random((n, d)) < 0.1))
    y, sw = rng.standard_normal(n), rng.uniform(0.5, 2.0, n)
    cov, plain = Design(X, y, sw, intercept), Design(X, y, sw, intercept)
    cov.covariance = True
    for size in (0, 3, 10, 7, 12, 15, 14):
        w = np.zeros(d)
        w[rng.choice(d, size, replace=False)] = rng.standard_normal(size)
        plain._grad_at = None
        np.testing.assert_allclose(cov.gradient(w), plain.gradient(w), rtol=1e-10,
                                   atol=1e-12)
    kept = int(np.count_nonzero(cov._cov_pos >= 0))
    assert 15 < kept < d  # the supports' columns and some ahead, not all of X'X
    w = np.zeros(d)
    w[:n // 8 + 1] = 1.0  # above n/8: a pass over X, nothing new is kept
    np.testing.assert_allclose(cov.gradient(w), plain.gradient(w), rtol=1e-10, atol=1e-12)
    assert int(np.count_nonzero(cov._cov_pos >= 0)) == kept


def test_path_with_covariance_updates_equals_cold_fits():
    # the path (covariance updates on) ends at the same points as single fits at each lam
    X, y = make_regression(n_samples=150, n_features=600, n_informative=15, noise=5.0,
                           random_state=2)
    path = irls_path(X, y, lams=8, eps=1e-2, tol=1e-10)
    for k in (2, 5, 7):
        est = IRLSRegressor(lam=path.lams[k], tol=1e-10).fit(X, y)
        np.testing.assert_allclose(path.coefs[:, k], est.coef_, rtol=1e-7, atol=1e-9)
        np.testing.assert_array_equal(path.coefs[:, k] != 0, est.coef_ != 0)


@pytest.mark.parametrize("name", ["l1", "mcp", "elasticnet", "lp"])
def test_kkt_residuals_coordinate_by_coordinate(name):
    """The KKT residual of each coordinate against its definition, one coordinate at a time:
    ``|g_j - lam Omega'(w_j)|`` at a nonzero ``w_j`` (a non-separable Omega: ``d Omega /
    d w_j`` at w), ``(|g_j| - lam slope0_j)_+`` at a zero
    (0 where slope0 is infinite: penalty factor inf; 0 where the penalty has no slope0:
    lp), without and (separable penalties) with a penalty factor of 0, 1 or 2 on the
    nonzeros and 0, 1, 2 or inf on the zeros."""
    from skdropout.linear._irls import kkt_residuals
    from skdropout.penalties.factor import Factored

    rng = np.random.default_rng(0)
    d, lam = 40, 0.3
    g = rng.standard_normal(d)
    w = np.where(rng.random(d) < 0.3, rng.standard_normal(d), 0.0)
    factor = np.resize([0.0, 1.0, 2.0, np.inf], d)
    factor[(w != 0) & np.isinf(factor)] = 1.0
    penalties = [get_penalty(name)]
    if penalties[0].separable:
        penalties.append(Factored(get_penalty(name), factor))
    for penalty in penalties:
        factored = isinstance(penalty, Factored)
        res = kkt_residuals(g, w, penalty, lam)
        for j in range(d):
            one = Factored(get_penalty(name), factor[j:j + 1]) if factored \
                else get_penalty(name)
            if w[j] != 0:
                # a non-separable Omega's gradient is the whole vector's
                grad = one.grad(w[j:j + 1])[0] if one.separable else penalty.grad(w)[j]
                expected = abs(g[j] - lam * float(grad))
            else:
                try:
                    s0 = float(np.asarray(one.slope0).ravel()[0])
                except NotImplementedError:
                    s0 = np.inf  # no slope0: the zero is not checked
                expected = 0.0 if np.isinf(s0) else max(abs(g[j]) - lam * s0, 0.0)
            assert res[j] == pytest.approx(expected, rel=1e-12, abs=1e-15), (penalty.name, j)
