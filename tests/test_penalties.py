"""The penalty algebra against independent computations.

Every check here recomputes a quantity a second way: eq. (5) by numerical minimisation over
eta, concavity in w^2 by finite differences, Table 2 duals by scipy quadrature or Monte Carlo,
Corollary 2 by a separate integral, torch gradients by finite differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special

from skdropout.penalties import (MCP, PENALTIES, BernoulliL0, Domain, HardConcrete,
                                 HardThresh, L1, LogSum, Lp, Penalty, Standout, VarDrop,
                                 from_dual, from_eta_hat, from_keep_prob, get_penalty,
                                 hardconcrete_moments, vardrop_dual)
from skdropout.penalties.factor import Factored

SEPARABLE = {
    "l1": {},
    "lpp_0.5": {"name": "lpp", "p": 0.5},
    "lpp_1.5": {"name": "lpp", "p": 1.5},
    "elasticnet": {"theta": 0.3},
    "huber": {"eps": 0.7},
    "logsum": {"eps": 2.0},
    "scad": {"a": 3.7, "lam": 0.8},
    "mcp": {"a": 0.5, "lam": 1.4},
    "vardrop": {"lam": 0.5},
    "hardconcrete": {"lam": 1.0},
    "standout": {"lam": 1.0, "w2": 1.3},
    "bernoulli_l0": {"lam": 2.0},
}


def make(key: str):
    params = dict(SEPARABLE[key])
    name = params.pop("name", key)
    return get_penalty(name, **params)


def eq5_min(pen, w: float) -> tuple[float, float]:
    """min over eta of (w^2/eta + f(eta))/2 and its argmin, by a dense grid in log eta, a
    bounded scalar refinement, and the end points eta = 0 and eta = inf."""
    f = pen.dual_pointwise

    def phi(t):
        eta = np.exp(t)
        return 0.5 * (w * w / eta + f(np.atleast_1d(eta))[0])

    grid = np.linspace(math.log(1e-9), math.log(1e9), 1801)
    vals = 0.5 * (w * w / np.exp(grid) + f(np.exp(grid)))
    i = int(np.argmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = optimize.minimize_scalar(phi, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-12})
    best, arg = min((res.fun, math.exp(res.x)), (vals[i], math.exp(grid[i])))
    ends = [(0.5 * f(np.array([math.inf]))[0], math.inf)]
    if w == 0:
        ends.append((0.5 * f(np.array([0.0]))[0], 0.0))
    for val, eta in ends:
        if val < best - 1e-12:
            best, arg = val, eta
    return best, arg


magnitudes = st.floats(min_value=1e-3, max_value=30.0, allow_nan=False)


@pytest.mark.parametrize("key", sorted(SEPARABLE))
@settings(max_examples=25, deadline=None)
@given(w=magnitudes)
def test_omega_is_eq5_minimum(key, w):
    """value(w) + omega0 = min_eta (w^2/eta + f(eta))/2, and eta_hat(w) attains it."""
    pen = make(key)
    best, _ = eq5_min(pen, w)
    omega = pen.value([w]) + pen.omega0
    assert omega == pytest.approx(best, rel=2e-6, abs=1e-9)
    eta = pen.eta_hat(np.array([w]))[0]
    at_eta = 0.5 * ((w * w / eta if np.isfinite(eta) else 0.0)
                    + pen.dual_pointwise(np.array([eta]))[0])
    assert at_eta == pytest.approx(best, rel=2e-6, abs=1e-9)


@pytest.mark.parametrize("key", sorted(SEPARABLE))
@settings(max_examples=25, deadline=None)
@given(u=st.lists(st.floats(min_value=1e-4, max_value=400.0), min_size=3, max_size=3,
                  unique=True))
def test_concave_in_w_squared(key, u):
    """Omega(sqrt(u)) lies above its chords (subquadratic)."""
    pen = make(key)
    u1, u2, u3 = sorted(u)
    if u3 - u1 < 1e-6:
        return
    o1, o2, o3 = pen.pointwise(np.sqrt([u1, u2, u3]))
    chord = o1 + (o3 - o1) * (u2 - u1) / (u3 - u1)
    assert o2 >= chord - 1e-7 * max(1.0, abs(o2))


@pytest.mark.parametrize("key", sorted(SEPARABLE))
@settings(max_examples=25, deadline=None)
@given(w=st.lists(st.floats(min_value=-50, max_value=50), min_size=2, max_size=20),
       lam=st.floats(min_value=1e-3, max_value=10.0))
def test_keep_prob_is_a_monotone_probability(key, w, lam):
    pen = make(key)
    w = np.array(w)
    order = np.argsort(np.abs(w) if pen.symmetric else w)
    alpha = pen.keep_prob(w, lam)
    assert np.all((alpha >= 0) & (alpha <= 1))
    assert np.all(np.diff(alpha[order]) >= -1e-12)


@pytest.mark.parametrize("key", sorted(SEPARABLE))
def test_normalised_and_symmetric(key):
    pen = make(key)
    assert pen.value(np.zeros(3)) == 0.0
    w = np.array([0.3, 2.0, 7.0])
    assert pen.symmetric == (key != "standout")
    if not pen.symmetric:          # a penalty of the activation (z)_+: 0 for z <= 0
        np.testing.assert_array_equal(pen.pointwise(-w), 0.0)
        np.testing.assert_array_equal(pen.grad(-w), 0.0)
        np.testing.assert_allclose(pen.eta_hat(-w), pen.eta_hat(np.zeros(3)))
        return
    np.testing.assert_allclose(pen.pointwise(-w), pen.pointwise(w))
    np.testing.assert_allclose(pen.eta_hat(-w), pen.eta_hat(w))


@pytest.mark.parametrize("key", sorted(SEPARABLE))
def test_grad_matches_finite_differences(key):
    """grad(w) = w / eta_hat(w) is dOmega/dw (eq. 7)."""
    pen = make(key)
    w = np.array([0.05, 0.4, 1.1, 2.9, 8.0])
    h = 1e-6
    fd = (pen.pointwise(w + h) - pen.pointwise(w - h)) / (2 * h)
    smooth = np.abs(fd - (pen.pointwise(w + 2 * h) - pen.pointwise(w - 2 * h)) / (4 * h)) < 1e-4
    np.testing.assert_allclose(pen.grad(w)[smooth], fd[smooth], rtol=1e-4, atol=1e-7)



def _smooth_central_difference(fn, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d fn / dw by central differences (relative step 1e-5), and where the steps 1e-5 and
    2e-5 agree (points away from the kinks of fn)."""
    h = 1e-5 * np.abs(w)
    fd = (fn(w + h) - fn(w - h)) / (2 * h)
    fd2 = (fn(w + 2 * h) - fn(w - 2 * h)) / (4 * h)
    return fd, np.abs(fd - fd2) <= 1e-6 * (1.0 + np.abs(fd))


CURVATURE_AT = np.array([0.05, 0.4, 1.1, 2.9, 8.0, -0.6, -3.3, 0.9, 2.0])


@pytest.mark.parametrize("key", sorted(SEPARABLE))
def test_curvature_is_the_derivative_of_grad(key):
    """curvature(w) = d grad / dw (central differences) in closed form for every built-in
    separable penalty, and the second difference of Omega for the exact closed forms."""
    pen = make(key)
    assert type(pen)._curvature is not Penalty._curvature  # not the numerical fallback
    w = CURVATURE_AT
    curv = pen.curvature(w)
    fd, smooth = _smooth_central_difference(pen.grad, w)
    assert smooth.sum() >= 6
    np.testing.assert_allclose(curv[smooth], fd[smooth], rtol=1e-5, atol=1e-8)
    if pen.symmetric:
        np.testing.assert_allclose(pen.curvature(-w), curv)
    else:  # standout penalises (z)_+ only: flat for z < 0
        np.testing.assert_array_equal(pen.curvature(-np.abs(w)), 0.0)
    if key not in ("vardrop", "hardconcrete", "bernoulli_l0"):  # tables: Omega is a spline
        h = 1e-4 * np.abs(w)
        second = (pen.pointwise(w + h) - 2 * pen.pointwise(w) + pen.pointwise(w - h)) / h**2
        np.testing.assert_allclose(curv[smooth], second[smooth], rtol=1e-4, atol=1e-5)


class _PseudoHuber(Penalty):
    """Omega(w) = sqrt(1 + w^2) - 1: eta_hat = sqrt(1 + w^2), f(eta) = eta + 1/eta - 2 on
    [1, inf), Omega'' = (1 + w^2)^(-3/2); declares no closed-form curvature."""

    name = "pseudohuber"
    domain = Domain(1.0)

    def _omega(self, xp, a):
        return xp.sqrt(1.0 + a * a) - 1.0

    def _eta_hat(self, xp, a):
        return xp.sqrt(1.0 + a * a)

    def _dual(self, eta):
        return eta + 1.0 / eta - 2.0


def test_curvature_falls_back_to_differences_of_grad():
    """A penalty without a closed form gets Omega'' numerically (exact value known here)."""
    pen = _PseudoHuber()
    w = np.concatenate([CURVATURE_AT, [0.0]])
    np.testing.assert_allclose(pen.curvature(w), (1.0 + w * w) ** -1.5, rtol=1e-7)
    with pytest.raises(TypeError, match="not separable"):
        Lp(p=1.5).curvature([1.0, 2.0])


@pytest.mark.parametrize("name, params", [("mcp", {"a": 3.0, "lam": 0.5}), ("logsum", {}),
                                          ("scad", {"a": 3.7, "lam": 0.4})])
def test_factored_curvature_is_the_derivative_of_its_grad(name, params):
    """Omega_j'' = v_j Omega''(.; lam v_j), 0 for an unpenalised feature."""
    v = np.array([1.0, 2.0, 0.0, 0.5, 1.0, 2.0, 0.7, 3.0, 1.5])
    pen = Factored(get_penalty(name, **params), v)
    fd, smooth = _smooth_central_difference(pen.grad, CURVATURE_AT)
    curv = pen.curvature(CURVATURE_AT)
    np.testing.assert_allclose(curv[smooth], fd[smooth], rtol=1e-5, atol=1e-8)
    assert curv[2] == 0.0


# -- non-separable penalties -----------------------------------------------------------


@pytest.mark.parametrize("p", [0.6, 1.0, 1.5])
def test_lp_norm_is_eq5_minimum(p):
    """||w||_p = min over the eta vector of (sum w^2/eta + ||eta||_q)/2 (appendix A.3)."""
    rng = np.random.default_rng(0)
    pen = Lp(p=p)
    for _ in range(3):
        w = rng.normal(size=4)

        def phi(t):
            eta = np.exp(t)
            return 0.5 * (np.sum(w * w / eta) + pen.dual(eta))

        res = optimize.minimize(phi, np.log(np.abs(w) + 0.5), method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
        assert pen.value(w) == pytest.approx(res.fun, rel=1e-6)
        assert phi(np.log(pen.eta_hat(w))) == pytest.approx(pen.value(w), rel=1e-10)
        assert pen.value(w) == pytest.approx(np.sum(np.abs(w) ** p) ** (1 / p))


def test_lp_lam_max_is_the_dual_norm():
    g = np.array([0.5, -2.0, 1.0])
    assert Lp(p=1.5).lam_max(g) == pytest.approx(np.sum(np.abs(g) ** 3) ** (1 / 3))


def test_hardthresh_is_top_k():
    pen = HardThresh(k=2)
    w = np.array([0.1, -3.0, 0.0, 2.0, -0.5])
    eta = pen.eta_hat(w)
    np.testing.assert_array_equal(np.isinf(eta), [False, True, False, True, False])
    assert pen.value(w) == math.inf
    assert pen.value(w * np.isinf(eta)) == 0.0
    assert pen.dual(eta) == 0.0
    assert pen.dual(np.ones(5)) == math.inf
    np.testing.assert_array_equal(pen.keep_prob(w, 1.0), np.isinf(eta).astype(float))


def test_l0_counts_nonzeros_and_its_dual():
    pen = get_penalty("l0")
    assert pen.value([0.0, 1e-9, -4.0]) == 2.0
    np.testing.assert_array_equal(pen.dual_pointwise([0.0, 0.5, math.inf]), [0.0, 2.0, 2.0])


# -- Table 2: the effective penalties of dropout methods ----------------------------------


def test_bernoulli_l0_at_lam_one_is_mcp_one_one():
    """Section 4.3: the biased Bernoulli-mask L0 penalty at lam = 1 equals MCP(1, 1)."""
    w = np.linspace(0.0, 3.0, 301)
    np.testing.assert_allclose(BernoulliL0(lam=1.0).pointwise(w), MCP(a=1.0, lam=1.0).pointwise(w),
                               atol=1e-8)
    inner = w < 0.99
    np.testing.assert_allclose(BernoulliL0(lam=1.0).eta_hat(w)[inner],
                               MCP(a=1.0, lam=1.0).eta_hat(w)[inner], rtol=1e-6, atol=1e-12)


def test_standout_matches_corollary2_integral_of_eq15():
    """Eq. (16) equals Corollary 2's integral of eq. (15) (over u = z^2)."""
    lam, w2 = 0.7, 1.3
    closed = Standout(lam=lam, w2=w2)
    numeric = from_eta_hat(lambda t: lam * np.exp(t) / w2**2, w_range=(1e-6, 60.0))
    z = np.array([1e-3, 0.2, 1.0, 2.5, 6.0, 20.0])
    np.testing.assert_allclose(numeric.pointwise(z), closed.pointwise(z), rtol=1e-8)
    # the keep probability of standout is sigma(z) when w2 = 1 and eta = lam e^z
    np.testing.assert_allclose(Standout(lam=lam).keep_prob(z, lam), special.expit(z))
    # and the integral printed in eq. (16) taken over u = z^2, done by scipy
    for zz in z[:5]:
        val, _ = integrate.quad(lambda u: w2**2 * np.exp(-np.sqrt(u)) / (2 * lam), 0, zz**2)
        assert closed.pointwise([zz])[0] == pytest.approx(val, rel=1e-8)


def test_standout_is_zero_without_activation():
    """Eq. (16) penalises the activation (z)_+: Corollary 2's integral of eq. (15) up to
    (z)_+^2, computed by scipy, is 0 for every z <= 0 (no mirror image of z > 0), and so is
    the gradient; standout's keep probability there is sigma(0) = 1/2 for w2 = 1."""
    lam, w2 = 0.7, 1.3
    pen = Standout(lam=lam, w2=w2)
    z = np.array([-6.0, -2.0, -0.5, 0.0, 0.5, 2.0, 6.0])
    ref = [integrate.quad(lambda u: w2**2 * np.exp(-np.sqrt(u)) / (2 * lam), 0,
                          max(t, 0.0) ** 2)[0] for t in z]
    np.testing.assert_allclose(pen.pointwise(z), ref, rtol=1e-8, atol=1e-12)
    assert pen.value(z) == pytest.approx(sum(ref), rel=1e-8)
    h = 1e-6
    fd = (pen.pointwise(z + h) - pen.pointwise(z - h)) / (2 * h)
    np.testing.assert_allclose(pen.grad(z), fd, atol=1e-6)
    np.testing.assert_allclose(Standout(lam=lam).keep_prob(z, lam),
                               special.expit(np.maximum(z, 0.0)))


def test_linear_estimators_refuse_the_activation_penalty():
    from skdropout.linear import IRLSRegressor

    X, y = np.eye(3), np.ones(3)
    with pytest.raises(ValueError, match="penalty='standout'.*activations"):
        IRLSRegressor(penalty="standout").fit(X, y)


def test_vardrop_dual_against_scipy_quad():
    """Eq. (19)/Table 2: f(eta) = int_0^{eta/lam} F(sqrt(t/2)) / sqrt(t/2) dt."""
    lam = 0.3
    eta = np.array([1e-4, 0.05, 1.0, 7.0, 300.0])
    ours = vardrop_dual(eta, lam)
    for e, f in zip(eta, ours):
        ref, _ = integrate.quad(lambda t: special.dawsn(np.sqrt(t / 2)) / np.sqrt(t / 2), 0,
                                e / lam, limit=200)
        assert f == pytest.approx(ref, rel=1e-9)
    np.testing.assert_allclose(VarDrop(lam=lam).dual_pointwise(eta), ours, rtol=1e-6)


def test_vardrop_is_l1_near_zero_and_log_far_away():
    lam = 0.5
    pen = VarDrop(lam=lam)
    small = np.array([1e-9, 1e-6, 1e-4])
    np.testing.assert_allclose(pen.pointwise(small) / small, 1 / np.sqrt(lam), rtol=1e-3)
    big = np.array([1e3, 1e5, 1e7])
    diffs = pen.pointwise(big) - np.log(big)
    np.testing.assert_allclose(diffs, diffs[0], atol=1e-3)


def test_hardconcrete_moments_against_quad_and_monte_carlo():
    beta, gamma, zeta = 2 / 3, -0.1, 1.1
    log_a = np.array([-2.0, 0.0, 1.5])
    mean, one_minus, var = hardconcrete_moments(log_a, beta, gamma, zeta)

    def gate(u, la):
        z = special.expit((np.log(u) - np.log1p(-u) + la) / beta)
        return np.clip((zeta - gamma) * z + gamma, 0.0, 1.0)

    rng = np.random.default_rng(0)
    u = rng.uniform(size=400_000)
    for k, la in enumerate(log_a):
        m1, _ = integrate.quad(lambda uu: gate(uu, la), 0, 1, limit=400)
        m2, _ = integrate.quad(lambda uu: gate(uu, la) ** 2, 0, 1, limit=400)
        assert mean[k] == pytest.approx(m1, rel=1e-7)
        assert one_minus[k] == pytest.approx(1 - m1, rel=1e-6)
        assert var[k] == pytest.approx(m2 - m1**2, rel=1e-6)
        s = gate(u, la)
        assert mean[k] == pytest.approx(s.mean(), abs=4e-3)
        assert (1 - special.expit(beta * np.log(-gamma / zeta) - la)) == pytest.approx(
            np.mean(s > 0), abs=4e-3)


def test_hardconcrete_follows_table2_and_saturates_at_one():
    pen = HardConcrete(lam=1.0)
    assert pen.value([50.0]) == pytest.approx(1.0)
    assert pen.dual_pointwise([math.inf])[0] == 2.0
    assert np.isinf(pen.eta_hat([50.0])[0])


def test_lam_scaling_of_tabulated_penalties():
    """f_lam(eta) = f_1(eta/lam) implies Omega_lam(w) = Omega_1(w/sqrt(lam))."""
    w = np.array([0.01, 0.3, 2.0])
    for cls in (VarDrop, HardConcrete, BernoulliL0):
        one, four = cls(lam=1.0), cls(lam=4.0)
        np.testing.assert_allclose(four.pointwise(w), one.pointwise(w / 2.0))
        assert four.with_lam(1.0) == one


# -- numerical constructions ----------------------------------------------------------------


def test_from_dual_and_from_eta_hat_rebuild_logsum():
    eps = 2.0
    ref = LogSum(eps=eps)
    by_dual = from_dual(lambda e: ref.dual_pointwise(e))
    by_map = from_eta_hat(lambda t: t * (t + eps))
    by_alpha = from_keep_prob(lambda t: t * (t + eps) / (t * (t + eps) + 0.5), lam=0.5)
    w = np.array([1e-5, 0.01, 0.5, 3.0, 80.0])
    np.testing.assert_allclose(by_dual.pointwise(w), ref.pointwise(w), rtol=1e-6)
    np.testing.assert_allclose(by_map.pointwise(w), ref.pointwise(w), rtol=1e-7)
    np.testing.assert_allclose(by_alpha.pointwise(w), ref.pointwise(w), rtol=1e-7)
    np.testing.assert_allclose(by_map.eta_hat(w), ref.eta_hat(w), rtol=1e-6)


def test_non_monotone_map_is_rejected():
    with pytest.raises(ValueError, match="monotone"):
        from_eta_hat(lambda t: 1.0 + np.sin(t) ** 2)
    with pytest.raises(ValueError, match="monotone"):
        from_keep_prob(lambda t: np.exp(-t) * 0.5)
    with pytest.raises(ValueError, match="convex"):
        from_dual(np.tanh, lambda e: 1.0 / np.cosh(np.minimum(e, 300.0)) ** 2)


# -- bad input ------------------------------------------------------------------------------


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError) as err:
        get_penalty("lasso")
    for name in PENALTIES:
        assert name in str(err.value)


@pytest.mark.parametrize("name, params, match", [
    ("logsum", {"eps": 0.0}, "eps"),
    ("logsum", {"eps": -1.0}, "eps"),
    ("huber", {"eps": 0}, "eps"),
    ("lp", {"p": 2.0}, "p must lie"),
    ("lpp", {"p": 0.0}, "p"),
    ("lpp", {"p": 2.5}, "p must lie"),
    ("mcp", {"a": 0.0}, "a"),
    ("mcp", {"a": -1.0}, "a"),
    ("scad", {"a": 2.0}, "a must be > 2"),
    ("hardthresh", {"k": -1}, "k must be >= 0"),
    ("elasticnet", {"theta": 1.0}, "theta"),
    ("vardrop", {"lam": 0.0}, "lam"),
])
def test_bad_parameters(name, params, match):
    with pytest.raises(ValueError, match=match):
        get_penalty(name, **params)


def test_bad_parameter_types_and_names():
    with pytest.raises(TypeError, match="eps"):
        get_penalty("logsum", eps="2")
    with pytest.raises(TypeError, match="unknown parameter"):
        get_penalty("logsum", epsilon=2.0)
    with pytest.raises(TypeError, match="k must be an integer"):
        get_penalty("hardthresh", k=2.5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_non_finite_weights_raise(name, bad):
    pen = get_penalty(name)
    with pytest.raises(ValueError, match="finite"):
        pen.value(np.array([1.0, bad]))
    with pytest.raises(ValueError, match="finite"):
        pen.eta_hat(np.array([bad]))


def test_bad_lam_in_keep_prob_and_bad_eta():
    with pytest.raises(ValueError, match="lam"):
        L1().keep_prob([1.0], 0.0)
    with pytest.raises(ValueError, match="eta"):
        L1().dual([-1.0])
    with pytest.raises(ValueError, match="eta"):
        L1().dual([np.nan])


def test_penalty_objects_compare_pickle_and_pass_through():
    import pickle

    pen = MCP(a=2.0, lam=0.5)
    assert get_penalty(pen) is pen
    assert pickle.loads(pickle.dumps(pen)) == pen
    assert pen.with_lam(0.25) == MCP(a=2.0, lam=0.25)
    vd = VarDrop(lam=0.1)
    vd.value([1.0])
    assert pickle.loads(pickle.dumps(vd)).value([1.0]) == vd.value([1.0])
    with pytest.raises(TypeError, match="penalty object"):
        get_penalty(pen, a=3.0)


@pytest.mark.parametrize("w", [1e-6, 3e-3, 0.2, 1.0, 4.0, 60.0, 5e4])
def test_vardrop_table_accuracy_against_exact_dual(w):
    """The stated accuracy of the tabulated VarDrop: eq. (5) minimised directly with the
    exact quadrature f of eq. (19) agrees with the table to 1e-7 (relative)."""
    lam = 1.0

    def phi(t):
        return 0.5 * (w * w / math.exp(t) + vardrop_dual([math.exp(t)], lam)[0])

    guess = math.log(VarDrop(lam=lam).eta_hat([w])[0])
    res = optimize.minimize_scalar(phi, bounds=(guess - 1, guess + 1), method="bounded",
                                   options={"xatol": 1e-10})
    assert VarDrop(lam=lam).value([w]) == pytest.approx(res.fun, rel=1e-7)
    assert math.exp(res.x) == pytest.approx(VarDrop(lam=lam).eta_hat([w])[0], rel=1e-4)


def test_figure1_writes_both_panels(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from skdropout.plotting import figure1
    from skdropout.plotting._penalties import ksparse_values

    path = figure1(tmp_path)
    assert path.exists() and path.stat().st_size > 10_000
    # right panel: l1 of the unit-norm k-sparse vector is sqrt(k); l0 is k
    np.testing.assert_allclose(ksparse_values(L1(), 32), np.sqrt(np.arange(33)))
    np.testing.assert_allclose(ksparse_values(get_penalty("l0"), 32), np.arange(33))


def test_figure1_panels_read():
    """Issue 23: l0's jump at 0 and HardThresh(16), which is 0 up to 16 nonzeros, are not
    hidden by the axes; MCP's label names its parameters."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skdropout.plotting import plot_penalties
    from skdropout.plotting._penalties import plot_ksparse

    left = plot_penalties()
    assert left.get_xlim()[0] < 0 and left.get_ylim()[0] < 0
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    mcp = next(label for label in labels if label.startswith("MCP"))
    assert "a=1/2" in mcp and "\\lambda=\\sqrt{2}" in mcp, mcp
    right = plot_ksparse()
    assert right.get_ylim()[0] < 0
    thresh = next(line for line in right.get_lines() if "HardThresh" in line.get_label())
    others = [line for line in right.get_lines() if line is not thresh]
    np.testing.assert_array_equal(thresh.get_xdata(), np.arange(17))
    np.testing.assert_array_equal(thresh.get_ydata(), 0.0)
    assert thresh.get_zorder() > max(line.get_zorder() for line in others)
    assert thresh.get_linewidth() > max(line.get_linewidth() for line in others)
    # an arrow marks +inf from k = 16 on
    (arrow,) = right.texts
    assert arrow.xy[0] == 16 and arrow.xy[1] > 0.5 * right.get_ylim()[1]
    plt.close("all")


def test_from_keep_prob_that_reaches_one_and_never_prunes():
    """A keep probability that reaches 1 (eta_hat = inf) is allowed, and a map with
    eta_hat(0) > 0 keeps that value at 0 (Omega is then quadratic near 0)."""
    pen = from_keep_prob(lambda t: np.minimum(special.expit(4 * t - 2) * 1.2, 1.0), lam=1.0)
    a0 = special.expit(-2.0) * 1.2
    assert pen.eta_hat([0.0])[0] == pytest.approx(a0 / (1 - a0))
    assert np.isinf(pen.eta_hat([5.0])[0])
    # Corollary 2 by scipy: Omega(w) = int_0^w t / eta_hat(t) dt
    for w in (0.1, 0.5):
        ref, _ = integrate.quad(
            lambda t: t * (1 - min(special.expit(4 * t - 2) * 1.2, 1.0))
            / min(special.expit(4 * t - 2) * 1.2, 1.0), 0, w)
        assert pen.value([w]) == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("name, params", [("mcp", {"a": 3.0, "lam": 0.5}),
                                          ("scad", {"a": 3.7, "lam": 0.4})])
def test_factored_lam_shaped_penalty_equals_one_penalty_per_feature(name, params):
    """With a distinct factor per feature (lam_broadcasts: no loop over the factors), every
    method equals v_j times the penalty built at lam v_j for that feature alone."""
    rng = np.random.default_rng(0)
    v = np.r_[rng.uniform(0.2, 3.0, 40), 0.0]
    w = rng.normal(scale=2.0, size=v.size)
    eta = rng.uniform(0.01, 5.0, v.size)
    pen = Factored(get_penalty(name, **params), v)
    assert pen.base.lam_broadcasts
    per = [get_penalty(name, a=params["a"], lam=params["lam"] * u) for u in v[:-1]]
    np.testing.assert_allclose(pen.pointwise(w)[:-1],
                               [u * p.pointwise(w[[j]])[0] for j, (u, p) in enumerate(zip(v, per))])
    np.testing.assert_allclose(pen.eta_hat(w)[:-1],
                               [p.eta_hat(w[[j]])[0] / u for j, (u, p) in enumerate(zip(v, per))])
    np.testing.assert_allclose(pen.curvature(w)[:-1],
                               [u * p.curvature(w[[j]])[0] for j, (u, p) in enumerate(zip(v, per))])
    np.testing.assert_allclose(
        pen.dual_pointwise(eta)[:-1],
        [u * p.dual_pointwise(u * eta[[j]])[0] for j, (u, p) in enumerate(zip(v, per))])
    np.testing.assert_allclose(pen.slope0, np.r_[v[:-1], 0.0])
    assert pen.eta_hat(w)[-1] == math.inf and pen.curvature(w)[-1] == 0.0
