"""The matrix-free route for large working sets of a sparse X (issue 22).

Above ``_irls._SPARSE_GRAM_MAX`` columns the w-step and the Newton polish apply
``X_W'X_W/n`` by sparse products (:class:`GramOperator`) and solve by conjugate gradients
(:func:`pcg`) instead of forming and factorising the dense Gram matrix. Checked: the
operator's products against the dense Gram blocks, the solver against a direct solve, and
whole fits (logistic binary and multinomial, least squares; every working-set penalty,
with and without intercept and sample weights) against the factorising route, forced by
the size constant, on sparse problems with d >> n and supports of several hundred."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import normalize

from skdropout.linear import (IRLSClassifier, IRLSRegressor, _block_preconditioner, _irls,
                             _logistic)
from skdropout.linear._block_preconditioner import BlockJacobi
from skdropout.linear._design import Design
from skdropout.linear._gram_operator import ColumnSlices, GramOperator, pcg
from skdropout.linear._multinomial_hessian import MultinomialHessian
from skdropout.penalties import get_penalty

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
    # the quadratic forms of the points of a line with a few coordinates taken off it (the
    # polish's crossing line search), from the samples' values of its two ends
    ts, D = np.sort(rng.uniform(0.0, 1.0, 5)), rng.standard_normal((pos.size, 5))
    points = v[:, None] - ts[None, :] * V[:, 0, None]
    points[pos] -= D
    ends = op.rows(np.column_stack([v, V[:, 0]]))
    np.testing.assert_allclose(op.line_quadratics(ends, ts, pos, D),
                               np.einsum("jk,jl,lk->k", points, G, points), rtol=1e-12)
    if kind == "sparse":  # a CSR block gives the same (its indices are columns, not rows)
        csr = GramOperator(op.block.tocsr(), op.offset, op.sw, op.diagonal())
        np.testing.assert_allclose(csr.line_quadratics(ends, ts, pos, D),
                                   op.line_quadratics(ends, ts, pos, D), rtol=1e-12)
    # a sub-operator that reads its parent's block in place (take's reuse: a CSC block whose
    # other columns hold few entries), and one taken from it, equal the dense blocks
    big = np.setdiff1d(np.arange(90), [3, 40])
    inner = np.setdiff1d(np.arange(big.size), [0, 7, 60])
    view = op.take(big, reuse=True)
    assert (view._columns is not None) == (kind == "sparse")
    for sub, at in ((view, big), (view.take(inner, reuse=True), big[inner])):
        G_at = G[np.ix_(at, at)]
        np.testing.assert_allclose(sub @ v[at], G_at @ v[at], atol=1e-14)
        np.testing.assert_allclose(sub @ V[at], G_at @ V[at], atol=1e-14)
        np.testing.assert_allclose(sub.diagonal(), np.diag(G_at), atol=1e-14)
        sub_ends = sub.rows(np.column_stack([v[at], V[at, 0]]))
        sub_points = v[at, None] - ts[None, :] * V[at, 0, None]
        sub_points[pos[:4]] -= D[:4]
        np.testing.assert_allclose(sub.line_quadratics(sub_ends, ts, pos[:4], D[:4]),
                                   np.einsum("jk,jl,lk->k", sub_points, G_at, sub_points),
                                   rtol=1e-12)


def test_column_slices_serve_the_sub_operators_of_other_weights_on_the_same_block():
    """Operators on all of one X with other weights (a logistic round's Newton steps) share
    the columns their sub-operators copy out of X: a later ``take`` of the kept columns
    reads that copy, of a subset with few entries outside it reads it in place, and of
    other columns copies them and keeps them; each equals its own fresh copy's products bit
    for bit (to the sign of a zero) and the dense blocks of its own weights."""
    X, y, rng = _text(n=120, d=300, density=0.05)
    slices = ColumnSlices()
    cols = np.sort(rng.choice(300, 90, replace=False))
    first = Design(X, y, rng.uniform(0.2, 2.0, 120), True, slices).gram_operator(
        np.arange(300)).take(cols)
    assert slices.owner is first
    sw = rng.uniform(0.2, 2.0, 120)
    design = Design(X, y, sw, True, slices)
    op, alone = design.gram_operator(np.arange(300)), Design(X, y, sw, True).gram_operator(
        np.arange(300))
    subset = np.setdiff1d(np.arange(90), [3, 40])
    other = np.union1d(cols[subset], [c for c in range(300) if c not in cols][:5])
    for at, reads in ((cols, "all"), (cols[subset], "in place"), (other, "copy")):
        sub, fresh = op.take(at), alone.take(at)
        assert (sub.block is first.block) == (reads != "copy")
        assert (sub._columns is not None) == (reads == "in place")
        if reads == "copy":
            assert slices.owner is sub and np.array_equal(slices.cols, at)
        G_at = design.cross(at, at)
        for u in (rng.standard_normal(at.size), rng.standard_normal((at.size, 4))):
            np.testing.assert_array_equal(sub @ u, fresh @ u)
            np.testing.assert_allclose(sub @ u, G_at @ u, atol=1e-14)
        np.testing.assert_array_equal(sub.diagonal(), fresh.diagonal())
    # a dense X that the design centres in a copy (large column means) has columns that
    # depend on the weights: its operators keep nothing
    assert Design(X.toarray() + 100.0, y, sw, True, slices).slices is None


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_designs_on_one_x_share_its_rows_form_for_their_gram_matrices(fit_intercept):
    """The Gram matrices of designs with other weights on the same sparse X (a logistic
    round's Newton steps) read X by rows from their shared :class:`ColumnSlices`, converted
    once: each equals a lone design's bit for bit and the dense ``X_s'X_s/n``."""
    X, y, rng = _text(n=150, d=120, density=0.05)
    slices = ColumnSlices()
    for sw in (rng.uniform(0.2, 2.0, 150), rng.uniform(0.2, 2.0, 150), None):
        shared = Design(X, y, sw, fit_intercept, slices)
        alone = Design(X, y, sw, fit_intercept)
        G = shared.cross(None, None)
        np.testing.assert_array_equal(G, alone.cross(None, None))
        w = np.ones(150) if sw is None else sw * (150 / sw.sum())
        Xd = X.toarray()
        if fit_intercept:
            Xd = Xd - (w @ Xd) / 150
        np.testing.assert_allclose(G, (Xd * w[:, None]).T @ Xd / 150, rtol=1e-12, atol=1e-15)
        rows = slices.by_rows(shared.X)
        assert rows.format == "csr" and (rows != X).nnz == 0
    assert slices.by_rows(X) is rows  # converted once


@pytest.mark.parametrize("case", ["binary", "binary-noint-weighted", "multinomial"])
def test_kept_column_slices_leave_the_logistic_fit_bit_for_bit_the_same(case, monkeypatch):
    """The Newton steps of a screened round read the support columns that an earlier step
    copied (:class:`ColumnSlices`): the fit is the same bit for bit as with a fresh copy at
    every ``take`` of an operator on all of the round's X, and takes fewer copies."""
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)
    classes = 3 if case == "multinomial" else 2
    y = np.digitize(m, np.quantile(m, np.linspace(0, 1, classes + 1)[1:-1]))
    sw = rng.uniform(0.3, 2.0, y.size) if "weighted" in case else None
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / y.size / 10
    est = IRLSClassifier(lam=lam, tol=1e-8, fit_intercept="noint" not in case)
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", 0)  # every working set matrix-free
    keep = ColumnSlices.keep
    copies = []

    def counted(self, cols, owner):
        copies.append(cols.size)
        keep(self, cols, owner)

    monkeypatch.setattr(ColumnSlices, "keep", counted)
    kept = _fit_copy(est, X, y, sw)
    with_slices = len(copies)
    copies.clear()
    monkeypatch.setattr(ColumnSlices, "find", lambda self, cols: None)
    fresh = _fit_copy(est, X, y, sw)
    assert np.count_nonzero(kept.coef_) > 100
    np.testing.assert_array_equal(kept.coef_, fresh.coef_)
    np.testing.assert_array_equal(kept.intercept_, fresh.intercept_)
    assert kept.n_iter_ == fresh.n_iter_
    assert with_slices < len(copies), (with_slices, len(copies))


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
    # a truncated solve stops at the larger of its two residuals, and costs fewer steps
    steps = []

    def counted(u):
        steps.append(1)
        return A @ u

    for rtol, atol in [(0.1, 0.0), (1e-15, 1e-3 * np.linalg.norm(b)), (1e-15, 0.0)]:
        steps.clear()
        x = pcg(counted, b, np.diag(A).copy(), rtol=rtol, atol=atol)
        assert np.linalg.norm(b - A @ x) <= 1.01 * max(rtol * np.linalg.norm(b), atol)
        assert len(steps) < 20 if max(rtol, atol) > 1e-10 else len(steps) > 20


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
    if classes == 2 and name not in ("l1", "elasticnet"):
        # a binary non-convex step's matrix-free polish stops at the step's tolerance, where
        # a factorised one reaches rounding level: the steps then differ by that tolerance,
        # and on this nearly separable problem their fits end in other local minima (the
        # next test). Polished to rounding level, both routes take the same steps
        monkeypatch.setattr(_logistic, "_POLISH_FRACTION_BINARY", 0.0)
    dense, free = _routes(lambda: _fit_copy(est, X, y, sw), monkeypatch)
    _same(dense, free, X, (100 if divisor > 3 else 40, X.shape[1]))


@pytest.mark.parametrize("name, params", PENALTIES[2:])
def test_a_binary_non_convex_newton_step_polishes_only_to_its_own_tolerance(name, params,
                                                                           monkeypatch):
    """With a non-convex penalty too, a binary Newton step's matrix-free polish stops at
    the step's tolerance: the fit converges to a stationary point (the KKT residual within
    tol, checked from X, y and the coefficients alone) in under a third of the products
    of the polish to rounding level. It is a local minimum of its own: the iterates differ
    by up to the tolerance, which picks among the local minima; here its objective is at
    most 2 % above the other's (below it on this problem)."""
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)
    y = (m > np.median(m)).astype(int)
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / 2
    tol = 1e-8
    est = IRLSClassifier(penalty=name, penalty_params=params, lam=lam, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        (loose, rounding), products = _fits_and_products(
            est, X, y, monkeypatch, _logistic, "_POLISH_FRACTION_BINARY", 0.0)
    assert np.count_nonzero(loose.coef_) > 50
    assert loose.objective_ <= 1.02 * rounding.objective_
    w, b = loose.coef_.ravel(), float(loose.intercept_[0])
    g = X.T @ (y - expit(X @ w + b)) / n
    scale = np.abs(X.T @ (y - y.mean())).max() / n  # the gradient at the intercept-only fit
    pen = est._penalty(X.shape[1])
    on = w != 0
    assert np.abs(g[on] - lam * pen.grad(w)[on]).max() <= tol * scale
    assert np.abs(g[~on]).max() <= lam * pen.slope0 + tol * scale
    assert abs(float(np.mean(y - expit(X @ w + b)))) <= tol * scale
    assert products[0] < products[1] / 3, products


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


NONCONVEX = PENALTIES[2:]


def _reentry_polish(name, params, n=400, d=1500, density=1e-2, divisor=20, start=40):
    """A Newton polish on all d columns of a sparse least-squares problem (by default 400 x
    1500) at lam_max/``divisor``, started on the ``start`` columns most correlated with y at
    1e-3: Newton's method settles on that support, then hundreds of zeros violate their
    optimality condition and re-enter at once (by default, on the grown support the Hessian
    ``G + lam diag(Omega'')`` of a non-convex penalty has negative diagonal entries: rare
    columns in the concave part of the penalty)."""
    X, y, _ = _text(n=n, d=d, density=density, seed=0)
    design = Design(X, y, None, True)
    c = design.xty()
    lam = float(np.abs(c).max()) / divisor
    pen = get_penalty(name, **(params or {}))
    pen = pen.with_lam(lam) if pen.uses_lam else pen
    cols = np.arange(X.shape[1])
    top = np.argsort(-np.abs(c))[:start]
    w = np.zeros(cols.size)
    w[top] = 1e-3 * np.sign(c[top])
    return design, cols, c, w, pen, lam


def _polish_counting_solves(monkeypatch, name, params, **shape):
    """:func:`_reentry_polish`'s polish on the matrix-free route, checked to lower the
    objective: its number of CG solves and the largest residual on its support (relative
    to ``max |c|``)."""
    design, cols, c, w, pen, lam = _reentry_polish(name, params, **shape)
    G = design.gram_operator(cols)
    solves = []

    def counted(*args, **kwargs):
        solves.append(1)
        return pcg(*args, **kwargs)

    monkeypatch.setattr(_irls, "pcg", counted)
    out = _irls.newton_on_support(G, c, w, pen, lam)
    S = np.flatnonzero(out)
    grad = (G @ out)[S] - c[S] + lam * pen.restrict(S).grad(out[S])

    def F(v):
        return 0.5 * v @ (G @ v) - c @ v + lam * pen.value(v)

    assert F(out) < F(w)
    return len(solves), np.abs(grad).max() / np.abs(c).max()


@pytest.mark.parametrize("name, params", NONCONVEX)
def test_reentered_coordinates_against_their_sign_leave_in_one_round(name, params,
                                                                     monkeypatch):
    """The re-entered coordinates whose Newton step points against their entry sign all
    cross 0 before the point moves off rounding level; they leave in one round, not one
    round (and one CG solve from scratch) each: 109-247 CG solves before, 22-64 now. The
    polished point is stationary on its support and lowers the objective."""
    solves, grad = _polish_counting_solves(monkeypatch, name, params)
    assert solves <= 80
    assert grad <= 1e-10


@pytest.mark.parametrize("name, params", PENALTIES[:2])
def test_convex_reentered_coordinates_against_their_sign_leave_in_one_round(name, params,
                                                                            monkeypatch):
    """A convex penalty's polish (2000 x 4000 at lam_max/50, started on 300 columns): after
    Newton's method settles there, over a thousand zeros re-enter at once and a few hundred
    of them cross 0 at the start of the next step. The best-crossing line search compares
    the first ``_MAX_BREAKPOINTS`` crossings only, so they left 64 per round (a CG solve
    each): 42 (l1) and 33 (elastic net) CG solves before, 20 now. The polished point is
    stationary on its support (to the last inexact step's forcing term) and lowers the
    objective."""
    solves, grad = _polish_counting_solves(monkeypatch, name, params, n=2000, d=4000,
                                           density=4e-3, divisor=50, start=300)
    assert solves <= 30
    assert grad <= 1e-6


@pytest.mark.parametrize("name, params", NONCONVEX)
def test_indefinite_matrix_free_polish_equals_the_factorising_one(name, params, monkeypatch):
    """Where the Hessian on the support is indefinite, the matrix-free polish takes its
    steps with the convex part as the factorising route does, and both end at the same
    point (support and coefficients to rounding)."""
    design, cols, c, w, pen, lam = _reentry_polish(name, params)
    indefinite = []
    cg_solver = _irls._cg_solver

    def recorded(G, lam_, curv, *args):
        indefinite.append(bool(np.any(G.diagonal() + lam_ * curv <= 0)))
        return cg_solver(G, lam_, curv, *args)

    monkeypatch.setattr(_irls, "_cg_solver", recorded)
    free = _irls.newton_on_support(design.gram_operator(cols), c, w, pen, lam)
    dense = _irls.newton_on_support(design.cross(cols, cols), c, w, pen, lam)
    assert any(indefinite)
    np.testing.assert_array_equal(free == 0, dense == 0)
    np.testing.assert_allclose(free, dense, rtol=0, atol=1e-12 * np.abs(dense).max())


def _runs_and_products(run, monkeypatch, owner, name, replacement, solver=_irls):
    """``run()`` as it is and with ``owner.name`` replaced, and each one's count of the
    products in the polish's conjugate-gradient solves (those of ``solver``: the binary
    polish's module, or ``_logistic`` for the multinomial polish)."""
    count = [0]

    def counted(matvec, b, precond, **tol):
        def product(u):
            count[0] += 1
            return matvec(u)
        return pcg(product, b, precond, **tol)

    monkeypatch.setattr(solver, "pcg", counted)
    outs, products = [], []
    for patched in (False, True):
        if patched:
            monkeypatch.setattr(owner, name, replacement)
        count[0] = 0
        outs.append(run())
        products.append(count[0])
    return outs, products


def _fits_and_products(est, X, y, monkeypatch, owner, name, replacement, solver=_irls):
    """The matrix-free fit as it is and with ``owner.name`` replaced, and each one's count
    of the products in the polish's conjugate-gradient solves (:func:`_runs_and_products`)."""
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", 0)
    return _runs_and_products(lambda: _fit_copy(est, X, y, None), monkeypatch, owner, name,
                              replacement, solver)


@pytest.mark.parametrize("name, params", PENALTIES[:2])
@pytest.mark.parametrize("intercept", [True, False])
def test_inexact_newton_polish_ends_at_the_exact_solution_in_fewer_products(
        name, params, intercept, monkeypatch):
    """The matrix-free polish of a convex penalty takes inexact Newton steps (CG to a
    forcing term, :func:`_irls._cg_solver`): on a sparse fit with a support of several
    hundred columns it ends at the solution of exact steps (same support, objective to rel
    1e-12, KKT residual at rounding level, checked from X directly) in fewer products."""
    X, y, rng = _text(n=900, k=400, seed=2)
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / 40
    est = IRLSRegressor(penalty=name, penalty_params=params, lam=lam, tol=1e-10,
                        fit_intercept=intercept)
    solver = _irls._cg_solver
    (inexact, exact), products = _fits_and_products(
        est, X, y, monkeypatch, _irls, "_cg_solver", lambda *a: solver(*a[:-1], False))
    assert np.count_nonzero(inexact.coef_) > 200
    np.testing.assert_array_equal(inexact.coef_ == 0, exact.coef_ == 0)
    assert abs(inexact.objective_ - exact.objective_) <= 1e-12 * abs(exact.objective_)
    # the KKT residual of eq. (1) from X, y and the coefficients alone
    theta = 1.0 if params is None else params["theta"]
    l1, l2 = lam * (1.0 - theta if params else 1.0), lam * (theta if params else 0.0)
    w = inexact.coef_
    Xd = X.toarray()
    Xc, yc = (Xd - Xd.mean(axis=0), y - y.mean()) if intercept else (Xd, y)
    g = Xc.T @ (yc - Xc @ w) / n - l2 * w
    on = w != 0
    assert np.abs(g[on] - l1 * np.sign(w[on])).max() <= 1e-12 * np.abs(Xc.T @ yc / n).max()
    assert np.abs(g[~on]).max() <= l1 * (1 + 1e-9)
    assert products[0] < 0.8 * products[1], products


def test_a_logistic_newton_step_polishes_only_to_its_own_tolerance(monkeypatch):
    """A Newton step of the logistic fit needs its weighted least-squares model solved only
    to the step's tolerance, so its matrix-free polish stops at a tenth of it: the fit ends
    at the objective of polishes to rounding level (rel 1e-10) with the same support and a
    KKT residual within tol, in fewer products."""
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)
    y = (m > np.median(m)).astype(int)
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / 10
    est = IRLSClassifier(lam=lam, tol=1e-6)
    irls = _logistic.irls
    (loose, rounding), products = _fits_and_products(
        est, X, y, monkeypatch, _logistic, "irls",
        lambda *a, **k: irls(*a, **{**k, "polish_tol": 0.0}))
    assert np.count_nonzero(loose.coef_) > 100
    np.testing.assert_array_equal(loose.coef_ == 0, rounding.coef_ == 0)
    assert abs(loose.objective_ - rounding.objective_) <= 1e-10 * rounding.objective_
    w, b = loose.coef_.ravel(), float(loose.intercept_[0])
    g = X.T @ (y - expit(X @ w + b)) / n
    scale = np.abs(X.T @ (y - y.mean())).max() / n  # the gradient at the intercept-only fit
    on = w != 0
    assert np.abs(g[on] - lam * np.sign(w[on])).max() <= 1e-6 * scale
    assert np.abs(g[~on]).max() <= lam + 1e-6 * scale
    assert products[0] < 0.7 * products[1], products


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
                            problem.s / problem.total, intercept, support)
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
                            problem.s / problem.total, False, support)
    size = H.shape[0]
    g, x = rng.standard_normal(size), rng.standard_normal(size)
    c = rng.uniform(0.001, 0.01, size)
    for solver in (H, op):
        np.testing.assert_allclose(_logistic._newton_solve(solver, c, g),
                                   np.linalg.solve(H + np.diag(c), g), rtol=1e-7)
    c_neg = c.copy()
    c_neg[:5] = -2.0 * np.linalg.eigvalsh(H)[-1]  # H + diag(c) is indefinite
    assert np.linalg.eigvalsh(H + np.diag(c_neg))[0] < 0
    assert not _logistic._gauge_sets(_logistic._shared_features(problem, support),
                                     np.maximum(c_neg, 0.0))
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

    def recorded(H, c, g, *args):
        solves.append(type(H))
        return solve(H, c, g, *args)

    monkeypatch.setattr(_logistic, "_hessian", guarded_hessian)
    monkeypatch.setattr(Design, "cross", guarded_cross)
    monkeypatch.setattr(_logistic, "_newton_solve", recorded)
    free = _fit_copy(est, X, y, None)
    assert np.count_nonzero(free.coef_) > 5 * limit
    assert solves and set(solves) == {MultinomialHessian}
    _same(ref, free, X, (5 * limit, X.shape[1]))


@pytest.mark.parametrize("name, params", PENALTIES[:2])
def test_inexact_multinomial_polish_ends_at_the_exact_solution_in_fewer_products(
        name, params, monkeypatch):
    """The matrix-free multinomial polish of a convex penalty takes inexact Newton steps
    (CG to the binary polish's forcing term, :func:`_irls.newton_cg_tolerance`) and stops
    a tenth below the fit's tol: a 5-class fit with a support of several hundred ends
    where exact steps to rounding level end (same support, objective to rel 1e-12, KKT
    residual within tol from X directly), in fewer products of the polish's CG."""
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)
    y = np.digitize(m, np.quantile(m, [0.2, 0.4, 0.6, 0.8]))
    n, K, tol = X.shape[0], 5, 1e-8
    Y = np.eye(K)[y]
    scale = float(np.max(np.abs(X.T @ (Y - Y.mean(axis=0))))) / n
    lam = scale / 10
    est = IRLSClassifier(penalty=name, penalty_params=params, lam=lam, tol=tol)
    (inexact, exact), products = _fits_and_products(
        est, X, y, monkeypatch, _logistic, "newton_cg_tolerance",
        lambda *a: {"rtol": 1e-15}, solver=_logistic)
    assert np.count_nonzero(inexact.coef_) > 300
    np.testing.assert_array_equal(inexact.coef_ == 0, exact.coef_ == 0)
    assert abs(inexact.objective_ - exact.objective_) <= 1e-12 * exact.objective_
    # the KKT residual of the multinomial F from X, y and the coefficients alone
    theta = 1.0 if params is None else params["theta"]
    l1, l2 = lam * theta, lam * (1.0 - theta)
    W = inexact.coef_.T
    M = np.asarray(X @ W) + inexact.intercept_
    P = np.exp(M - M.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    G = np.asarray(X.T @ (Y - P)) / n - l2 * W
    on = W != 0
    assert np.abs(G[on] - l1 * np.sign(W[on])).max() <= tol * scale
    assert np.abs(G[~on]).max() <= l1 + tol * scale
    assert products[0] < 0.7 * products[1], products


def test_a_multinomial_polish_solve_is_bounded_and_descends():
    """Rare words give the multinomial loss Hessian on a large support directions of
    near-zero curvature (a condition number of 1e7 here), along which Jacobi-preconditioned
    CG needs well over a thousand products to reach rounding level. The polish's solve
    stops after ``_CG_MAX_STEPS`` products with the truncated iterate: a descent direction
    that lowers the quadratic model of F by at least half of what the exact step does."""
    X, _, rng = _text(n=400, d=1500, density=8e-3)
    X, K = X.tocsc(), 4
    W = 4.0 * rng.standard_normal((1500, K)) * (rng.random((1500, K)) < 0.15)
    W[np.diff(X.indptr) == 0] = 0.0  # no empty column in the support
    support = [np.flatnonzero(W[:, k]) for k in range(K)]
    y = rng.integers(0, K, 400)
    problem = _logistic.LogisticProblem(X, np.eye(K)[y], np.ones(400), 400.0, False)
    P, C = problem.complements(problem.margins(W, np.zeros(K)))
    count = [0]

    class Counted(MultinomialHessian):
        def __matmul__(self, v):
            count[0] += 1
            return super().__matmul__(v)

    op = Counted([X[:, idx] for idx in support], P, C, np.full(400, 1 / 400), False,
                 support)
    g = rng.standard_normal(op.shape[0])
    c = np.full(g.size, 1e-6 * op.diagonal().mean())
    exact = pcg(lambda u: op @ u + c * u, g, op.diagonal() + c, maxiter=10**4)
    assert exact is not None and count[0] > 1000  # the solve to rounding level
    count[0] = 0
    step = _logistic._newton_solve(op, c, g)
    assert count[0] <= _logistic._CG_MAX_STEPS

    def model(x):  # the quadratic model of F along -x, from 0
        return 0.5 * x @ (op @ x + c * x) - g @ x

    assert g @ step > 0 and model(step) <= 0.5 * model(exact) < 0
    # pcg itself: the iterate after maxiter steps with truncate, else None
    assert pcg(lambda u: op @ u + c * u, g, op.diagonal() + c, maxiter=5) is None
    five = pcg(lambda u: op @ u + c * u, g, op.diagonal() + c, maxiter=5, truncate=True)
    assert g @ five > 0 and model(five) < 0


def test_truncated_cg_returns_the_iterate_before_a_direction_of_zero_curvature():
    """On a singular positive semidefinite A (two rare words on the same documents, an
    unpenalised pair of coefficients of a non-convex penalty) CG's second direction can
    have zero curvature: with ``truncate`` and ``semidefinite`` the iterate before it is
    the step (Nocedal and Wright's Newton-CG, a descent direction of the quadratic model),
    otherwise None (A may be indefinite); a first direction of zero curvature gives None
    either way."""
    A = np.diag([1.0, 0.0])
    b = np.array([1.0, 1.0])
    assert pcg(lambda u: A @ u, b, np.ones(2)) is None
    assert pcg(lambda u: A @ u, b, np.ones(2), truncate=True) is None
    x = pcg(lambda u: A @ u, b, np.ones(2), truncate=True, semidefinite=True)
    np.testing.assert_array_equal(x, [2.0, 2.0])  # one step: alpha = b'b / b'Ab = 2
    assert b @ x > 0 and 0.5 * x @ A @ x - b @ x < 0
    assert pcg(lambda u: A @ u, np.array([0.0, 1.0]), np.ones(2), truncate=True,
               semidefinite=True) is None


@pytest.mark.parametrize("name, params", [("mcp", {"a": 3.0}), ("logsum", {"eps": 1.0})])
def test_nonconvex_multinomial_polish_ends_where_exact_steps_end_in_fewer_products(
        name, params, monkeypatch):
    """A non-convex penalty's matrix-free multinomial polish solves each step's system to
    the forcing term ``min(0.5, ||g||_inf / scale)^2`` (:func:`_logistic._polish_cg_tolerance`)
    instead of to rounding level: from the same start (a 5-class fit's solution, its
    nonzero coefficients moved by 10 %) it ends at the point of the exact steps (same
    support, objective to rel 1e-12), in fewer CG products (by a quarter at least)."""
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)
    y = np.digitize(m, np.quantile(m, [0.2, 0.4, 0.6, 0.8]))
    n, K = X.shape[0], 5
    Y = np.eye(K)[y]
    scale = float(np.max(np.abs(X.T @ (Y - Y.mean(axis=0))))) / n
    lam = scale / 3
    monkeypatch.setattr(_irls, "_SPARSE_GRAM_MAX", 0)
    fit = IRLSClassifier(penalty=name, penalty_params=params, lam=lam, tol=1e-8).fit(X, y)
    assert np.count_nonzero(fit.coef_) > 200
    penalty = get_penalty(name, **params, **({"lam": lam} if name == "mcp" else {}))
    problem = _logistic.LogisticProblem(X, Y, np.ones(n), float(n), True)
    W0 = fit.coef_.T * (1 + 0.1 * rng.standard_normal(fit.coef_.T.shape))
    F0 = _logistic.objective(problem, penalty, lam, W0, fit.intercept_)
    ends, products = _runs_and_products(
        lambda: _logistic._polish(problem, penalty, lam, W0, fit.intercept_, F0, scale=scale,
                                  level=1e-9 * scale),
        monkeypatch, _logistic, "newton_cg_tolerance", lambda *a: {"rtol": 1e-15},
        solver=_logistic)
    (W, _, F), (W_exact, _, F_exact) = ends
    assert F < F0
    np.testing.assert_array_equal(W == 0, W_exact == 0)
    assert abs(F - F_exact) <= 1e-12 * F_exact
    assert products[0] < 0.75 * products[1], products


def _block_diagonal(H, groups, c):
    """The dense block-diagonal part of ``H + diag(c)`` over the position groups."""
    M = np.zeros_like(H)
    for pos in groups:
        M[np.ix_(pos, pos)] = H[np.ix_(pos, pos)] + np.diag(c[pos])
    return M


@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("intercept, weighted", [(True, False), (False, True), (True, True)])
def test_block_preconditioner_is_the_dense_hessians_feature_blocks(kind, intercept, weighted):
    """The block-Jacobi preconditioner of the matrix-free polish: the blocks of the
    independently formed dense Hessian plus ``diag(c)`` over each feature's coefficients in
    the classes whose supports hold it (and over the intercepts), on all positions and on a
    principal sub-operator (the gauge fix's)."""
    problem, M, support, rng = _multinomial_problem(kind, intercept, weighted)
    H = _dense_multinomial_hessian(problem, M, support)
    P, C = problem.complements(M)
    op = MultinomialHessian([problem.X[:, idx] for idx in support], P, C,
                            problem.s / problem.total, intercept, support)
    # each position's feature (-1: an intercept), in the polish's layout
    keys = np.concatenate([np.r_[idx, [-1] * intercept] for idx in support])
    c = rng.uniform(0.01, 0.1, H.shape[0])
    pos = np.sort(rng.choice(H.shape[0], H.shape[0] - 12, replace=False))
    for sub, kept in ((op, np.arange(H.shape[0])), (op.take(pos), pos)):
        groups = [np.flatnonzero(keys[kept] == j) for j in np.unique(keys[kept])]
        assert max(g.size for g in groups) > 2  # features shared by classes
        dense = _block_diagonal(H[np.ix_(kept, kept)], groups, c[kept])
        pre = sub.block_preconditioner(c[kept])
        v = rng.standard_normal(kept.size)
        np.testing.assert_allclose(pre.quadratic(v), v @ dense @ v, rtol=1e-13)
        np.testing.assert_allclose(pre.solve(v), np.linalg.solve(dense, v), rtol=1e-10)


def test_block_jacobi_makes_indefinite_and_singular_blocks_positive_definite():
    """A block ``V diag(mu) V'`` enters as ``V diag(max(|mu|, tau mu_top)) V'`` (``mu_top``
    the largest ``|mu|`` of all the blocks, here 5): an indefinite block by its eigenvalues'
    magnitudes, a singular one floored at ``tau mu_top``; a 1 x 1 block is Jacobi's."""
    V = np.array([[3.0, 4.0], [-4.0, 3.0]]) / 5.0
    indefinite = V @ np.diag([-3.0, 2.0]) @ V.T
    singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    pre = BlockJacobi([np.array([[4]]), np.array([[0, 2], [3, 1]])],
                      [np.array([[[5.0]]]), np.stack([indefinite, singular])], 5)
    r = np.arange(1.0, 6.0)
    tau = _block_preconditioner._EIGEN_FLOOR
    expected = np.empty(5)
    expected[4] = r[4] / 5.0
    expected[[0, 2]] = V @ np.diag([1 / 3.0, 1 / 2.0]) @ V.T @ r[[0, 2]]
    U = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2.0)  # eigenvalues 2, 0 of singular
    expected[[3, 1]] = U @ np.diag([1 / 2.0, 1 / (5.0 * tau)]) @ U.T @ r[[3, 1]]
    np.testing.assert_allclose(pre.solve(r), expected, rtol=1e-12)
    assert pre.quadratic(r) > 0


def test_block_jacobi_floors_a_block_below_the_rounding_of_the_others():
    """The block of a word whose documents' probabilities have underflowed in all but one
    class has entries near 1e-310: floored at its own largest eigenvalue its inverse would
    overflow (and CG's step turn to NaN). Its eigenvalues are floored at ``tau`` of the
    largest of all the blocks, so M^-1 stays finite and equals that floor's inverse there."""
    tiny = np.array([[2.0, -1.0], [-1.0, 2.0]]) * 1e-310
    pre = BlockJacobi([np.array([[0]]), np.array([[1, 2]])],
                      [np.array([[[4.0]]]), tiny[None]], 3)
    r = np.array([1.0, 1.0, -2.0])
    floor = _block_preconditioner._EIGEN_FLOOR * 4.0
    with np.errstate(all="raise"):
        out = pre.solve(r)
    np.testing.assert_allclose(out, [0.25, 1 / floor, -2 / floor], rtol=1e-12)
    assert np.isfinite(pre.quadratic(r))


def test_the_block_preconditioner_solves_the_hard_polish_system_below_the_cap():
    """Three rare words, each on two documents where two classes hold all but about e^-20
    of the probability and in those two classes' supports: shifting the word's two
    coefficients together leaves the loss almost unchanged, and the loss Hessian (gauge
    fixed as the polish fixes it) has three eigenvalues near 1e-9 of the Jacobi-scaled
    spectrum's top, the next near 1e-3 of it. Jacobi-preconditioned CG needs well over
    ``_CG_MAX_STEPS`` products to reach rtol 1e-10; with the per-feature blocks, which hold
    those directions, CG reaches it in a fraction of them, at the same solution."""
    rng = np.random.default_rng(0)
    n, d, K = 300, 120, 4
    X = sp.random(n, d, density=0.1, random_state=0, format="lil",
                  data_rvs=lambda m: rng.exponential(1.0, m))
    W = 0.5 * rng.standard_normal((d, K))
    for j in range(3):
        X[:, j] = 0.0
        X[[2 * j, 2 * j + 1], j] = 1.0
        W[j] = 0.0
        W[j, [j, j + 1]] = 20.0
    X = X.tocsc()
    support = [np.flatnonzero(W[:, k]) for k in range(K)]
    problem = _logistic.LogisticProblem(X, np.eye(K)[rng.integers(0, K, n)], np.ones(n),
                                        float(n), True)
    M = problem.margins(W, np.zeros(K))
    P, C = problem.complements(M)
    op = MultinomialHessian([X[:, idx] for idx in support], P, C, np.full(n, 1 / n), True,
                            support)
    # the polish's gauge fix: the last class's intercept and shared features held
    shifts = _logistic._shared_features(problem, support)
    keep = np.ones(op.shape[0], dtype=bool)
    keep[[pos[-1] for pos in _logistic._gauge_sets(shifts, np.zeros(op.shape[0]))]] = False
    sub = op.take(np.flatnonzero(keep))
    H = _logistic._hessian(problem, M, support)[np.ix_(keep, keep)]
    scaled = np.linalg.eigvalsh(H / np.sqrt(np.outer(np.diag(H), np.diag(H))))
    assert scaled[2] < 1e-8 * scaled[-1] and scaled[3] > 1e-3 * scaled[-1]
    g = rng.standard_normal(sub.shape[0])
    count = [0]

    def product(u):
        count[0] += 1
        return sub @ u

    jacobi = pcg(product, g, sub.diagonal(), maxiter=10**4, rtol=1e-10)
    assert jacobi is not None and count[0] > 3 * _logistic._CG_MAX_STEPS
    count[0] = 0
    step = _logistic._newton_solve(sub, np.zeros(sub.shape[0]), g, cg_tol={"rtol": 1e-10})
    assert count[0] < _logistic._CG_MAX_STEPS / 2, count[0]
    # the step solves the system (its residual against the dense H) as Jacobi's does
    for x in (step, jacobi):
        assert np.linalg.norm(H @ x - g) <= 1e-6 * np.linalg.norm(g)
    np.testing.assert_allclose(step, jacobi, rtol=1e-2)


def _jacobi(self, c):
    """The diagonal preconditioner of ``H + diag(c)`` (positive entries; others 1)."""
    diag = self.diagonal() + c
    return np.where(diag > 0, diag, 1.0)


@pytest.mark.parametrize("name, params", PENALTIES[:2])
def test_block_preconditioned_polish_ends_where_the_jacobi_one_does_in_fewer_products(
        name, params, monkeypatch):
    """The matrix-free multinomial polish with the per-feature block preconditioner ends
    where the Jacobi-preconditioned one ends (same support, objective to rel 1e-12) on a
    5-class text problem with a support of several hundred, in fewer CG products. Both
    solve every round of the working set to its tolerance (none cut to one Newton step by
    :func:`_logistic.step_outweighs_check`), so that they take the same Newton steps: with
    cut rounds the inexact solves can end one of them a step sooner."""
    monkeypatch.setattr(_logistic, "step_outweighs_check", lambda problem, sub: False)
    X, m, rng = _text(n=600, d=2500)
    m = m + rng.logistic(scale=4.0 * m.std(), size=m.size)
    y = np.digitize(m, np.quantile(m, [0.2, 0.4, 0.6, 0.8]))
    n, K = X.shape[0], 5
    Y = np.eye(K)[y]
    lam = float(np.max(np.abs(X.T @ (Y - Y.mean(axis=0))))) / n / 30
    est = IRLSClassifier(penalty=name, penalty_params=params, lam=lam, tol=1e-8)
    (block, jacobi), products = _fits_and_products(
        est, X, y, monkeypatch, MultinomialHessian, "block_preconditioner", _jacobi,
        solver=_logistic)
    assert np.count_nonzero(block.coef_) > 300
    np.testing.assert_array_equal(block.coef_ == 0, jacobi.coef_ == 0)
    assert abs(block.objective_ - jacobi.objective_) <= 1e-12 * jacobi.objective_
    assert products[0] < 0.9 * products[1], products
