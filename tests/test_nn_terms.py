"""The per-weight terms of skdropout.nn (autograd functions with analytic gradients)
against the plain torch expressions they replace (autograd on those) and against finite
differences (torch.autograd.gradcheck)."""

import math

import numpy as np

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from skdropout.nn._hardconcrete import hardconcrete_gates, sigmoid_sum  # noqa: E402
from skdropout.nn._penalty import (_dual_terms, _inverse_eta_hat,  # noqa: E402
                                   eta_trick_objective, fixed_eta_tikhonov, penalty_value)
from skdropout.nn._terms import _NUMPY_UNIFORM_MIN, _pcg64_from_torch, uniform_like  # noqa: E402
from skdropout.nn._vardrop import (K1, K2, K3, local_reparameterisation,  # noqa: E402
                                   vardrop_kl_sum, vardrop_noise)
from skdropout.penalties import get_penalty  # noqa: E402
from skdropout.penalties._torch_ops import _GROUPED_LOG_MIN, sum_log  # noqa: E402
from skdropout.penalties._xp import namespace  # noqa: E402

D = torch.float64


def _kl_terms(log_alpha):
    # Molchanov et al. (2017), eq. (14), as written there, per weight
    la = torch.clamp(log_alpha, -10.0, 10.0)
    return -(K1 * torch.sigmoid(K2 + K3 * la) - 0.5 * F.softplus(-la) - K1)


def _kl_plain(log_alpha):
    return _kl_terms(log_alpha).sum()


def _values_and_grads(fn, *inputs):
    inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*inputs)
    out.backward(torch.ones_like(out) if out.dim() else None)
    return out.detach(), [x.grad for x in inputs]


def _assert_same(analytic, plain, *inputs):
    out_f, grads_f = _values_and_grads(analytic, *inputs)
    out_p, grads_p = _values_and_grads(plain, *inputs)
    torch.testing.assert_close(out_f, out_p, rtol=1e-10, atol=1e-12)
    for gf, gp in zip(grads_f, grads_p):
        torch.testing.assert_close(gf, gp, rtol=1e-9, atol=1e-12)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_vardrop_kl_sum_is_molchanovs_kl(gen):
    # values across and beyond the clipping range [-10, 10] (no gradient outside it)
    la = torch.cat([torch.linspace(-14, 14, 57, dtype=D), torch.randn(40, dtype=D, generator=gen)])
    _assert_same(vardrop_kl_sum, _kl_plain, la)
    assert torch.autograd.gradcheck(vardrop_kl_sum, (la[9:48].clone().requires_grad_(),))


def test_vardrop_kl_sum_additive_reparameterisation(gen):
    theta = torch.randn(6, 5, dtype=D, generator=gen) * 0.1
    theta[0, 0] = 0.0  # log alpha = log sigma^2 - log 1e-16: clipped, no gradient
    log_sigma2 = torch.randn(6, 5, dtype=D, generator=gen) - 8.0

    def plain(ls2, th):
        return _kl_plain(ls2 - torch.log(th ** 2 + 1e-16))

    _assert_same(vardrop_kl_sum, plain, log_sigma2, theta)
    inputs = (log_sigma2[1:].clone().requires_grad_(), theta[1:].clone().requires_grad_())
    assert torch.autograd.gradcheck(vardrop_kl_sum, inputs)


@pytest.mark.parametrize("n", [_GROUPED_LOG_MIN - 1, 3 * _GROUPED_LOG_MIN + 5])
def test_sum_log_over_products_is_the_sum_of_logs(n, gen):
    # the log of products of eight entries (large tensors, a tail of n % 8 entries) against
    # the log of each entry: exact up to rounding in float64; in float32 within the
    # products' bound of about 4e-7 per group (and the float32 sum's rounding), also where
    # every entry is close to 1
    p = torch.rand(n, dtype=D, generator=gen) * (1 - 4.6e-5) + 4.6e-5
    torch.testing.assert_close(sum_log(p), p.log().sum(), rtol=1e-12, atol=0.0)
    for q in (p, torch.full((n,), 1 - 4.5e-5, dtype=D)):
        ref = q.float().double().log().sum()
        err = float(sum_log(q.float()).double() - ref)
        assert abs(err) <= 4e-7 * (n / 8 + 8) + 1e-6 * abs(float(ref))
    q = p.clone()
    q[n // 2] = float("nan")
    assert torch.isnan(sum_log(q))


def test_sum_log_checked_falls_back_where_the_products_underflow(gen):
    # entries in (0, 1]: products of eight that stay normal give the grouped sum; one
    # product below float32's normal range (entries near 1e-6) gives the log of each entry
    n = 3 * _GROUPED_LOG_MIN + 5
    p = torch.rand(n, generator=gen) * (1 - 4.6e-5) + 4.6e-5
    assert torch.equal(sum_log(p, checked=True), sum_log(p))
    q = p.clone()
    q[: 8 * (n // 8)].view(8, -1)[:, 7] = 1e-6  # one group's product is 1e-48
    torch.testing.assert_close(sum_log(q, checked=True), q.log().sum(), rtol=0.0, atol=0.0)
    assert float(sum_log(q)) != float(q.log().sum())  # unchecked: the underflow shows
    q[n // 2] = float("nan")
    assert torch.isnan(sum_log(q, checked=True))


def test_vardrop_kl_sum_in_float32_at_the_size_of_a_layer(gen):
    # LeNet-300-100's first layer in float32 against the float64 expression: the value
    # (whose log term is summed over products of eight entries) and the gradient
    la = torch.rand(300, 784, dtype=D, generator=gen) * 24 - 12
    out, (g,) = _values_and_grads(vardrop_kl_sum, la.float())
    ref, (g_ref,) = _values_and_grads(_kl_plain, la)
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(g.double(), g_ref, rtol=1e-5, atol=1e-7)
    pruned = torch.full((300, 784), 10.0)  # the sum is small: the products' rounding shows
    torch.testing.assert_close(vardrop_kl_sum(pruned).double(), _kl_plain(pruned.double()),
                               rtol=2e-3, atol=0.0)


def _seeded(fn):
    def run(*args):
        torch.manual_seed(123)
        return fn(*args)
    return run


def _joined(fn):
    """fn's two outputs (weights, 0-d term) as one vector, for value and gradient checks."""
    def run(*args):
        out, term = fn(*args)
        return torch.cat([out.reshape(-1), term.reshape(1)])
    return run


def test_vardrop_noise_is_multiplicative_gaussian_noise_and_kl(gen):
    w = torch.randn(7, 4, dtype=D, generator=gen)
    la = torch.linspace(-12, 12, 28, dtype=D).reshape(7, 4)

    def plain(w, la):
        eps = torch.randn_like(w)
        return w * (1.0 + torch.exp(0.5 * torch.clamp(la, -10, 10)) * eps), 0.3 * _kl_plain(la)

    def analytic(w, la):
        return vardrop_noise(w, la, 0.3)

    _assert_same(_seeded(_joined(_hc_analytic)), _seeded(_joined(_hc_plain)), w, la)
    assert torch.autograd.gradcheck(_seeded(_joined(_hc_analytic)), (w.clone().requires_grad_(),
                                                              la.clone().requires_grad_()))
    # the noise: N(0, alpha) relative perturbations
    torch.manual_seed(0)
    rel = vardrop_noise(torch.ones(200_000, dtype=D),
                        torch.full((200_000,), math.log(0.25), dtype=D), 1.0)[0] - 1.0
    assert abs(float(rel.mean())) < 0.005 and abs(float(rel.std()) - 0.5) < 0.005


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [100, _NUMPY_UNIFORM_MIN + 904])  # torch's and numpy's draws
def test_uniform_like_draws_reproducible_uniforms(dtype, n):
    from scipy import stats

    like = torch.empty(n // 4, 4, dtype=dtype)
    torch.manual_seed(7)
    a, b = uniform_like(like), uniform_like(like)
    torch.manual_seed(7)
    assert torch.equal(uniform_like(like), a) and torch.equal(uniform_like(like), b)
    assert a.shape == like.shape and a.dtype == dtype and a.is_contiguous()
    assert bool(((a >= 0) & (a < 1)).all()) and not torch.equal(a, b)
    # U(0, 1) by a Kolmogorov-Smirnov test on 20 consecutive draws, and no correlation
    # between consecutive draws
    torch.manual_seed(1)
    draws = torch.stack([uniform_like(like).reshape(-1) for _ in range(20)]).double()
    assert stats.kstest(draws.reshape(-1).numpy(), "uniform").pvalue > 1e-3
    corr = torch.corrcoef(draws)
    assert float((corr - torch.eye(20, dtype=D)).abs().max()) < 6 / math.sqrt(n)


def test_uniform_like_float32_draws_are_numpys_float32_uniforms():
    # the raw route: numpy's Generator.random(dtype=float32) from the same state, an odd
    # count (the last 64-bit output's high half unused) and an even one
    for n in (_NUMPY_UNIFORM_MIN + 1, 235_200):
        torch.manual_seed(3)
        draws = uniform_like(torch.empty(n))
        torch.manual_seed(3)
        ref = np.random.Generator(_pcg64_from_torch()).random(n, dtype=np.float32)
        assert np.array_equal(draws.numpy(), ref)
    # each thread sets a generator of its own
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(_pcg64_from_torch).result()
    assert other is not _pcg64_from_torch()


HC = (2 / 3, -0.1, 1.1)  # Louizos et al.'s beta, gamma, zeta


def _hc_plain(w, log_a):
    """Hard concrete gates (eqs. 20-21) and 0.3 times the count of open gates, by plain
    torch expressions (autograd differentiates them)."""
    beta, gamma, zeta = HC
    u = uniform_like(log_a).clamp(1e-6, 1.0 - 1e-6)
    z = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_a) / beta)
    count = torch.sigmoid(log_a - beta * math.log(-gamma / zeta)).sum()
    return w * torch.clamp(z * (zeta - gamma) + gamma, 0.0, 1.0), 0.3 * count


def _hc_analytic(w, log_a):
    return hardconcrete_gates(w, log_a, *HC, 0.3)


@pytest.mark.parametrize("shape", [(6, 5), (64, 80)])  # torch's and numpy's uniforms
def test_hardconcrete_gates_are_louizos_gates_and_count(gen, shape):
    beta, gamma, zeta = HC
    w = torch.randn(*shape, dtype=D, generator=gen)
    log_a = torch.linspace(-4, 4, w.numel(), dtype=D).reshape(shape)

    _assert_same(_seeded(_joined(_hc_analytic)), _seeded(_joined(_hc_plain)), w, log_a)
    if w.numel() <= 100:  # finite differences: a few entries are enough
        assert torch.autograd.gradcheck(_seeded(_joined(_hc_analytic)),
                                        (w.clone().requires_grad_(),
                                         log_a.clone().requires_grad_()))
    # P(s > 0) = sigmoid(log a - beta log(-gamma/zeta)) (the L0 term), by sampling
    torch.manual_seed(0)
    s = hardconcrete_gates(torch.ones(200_000, dtype=D), torch.zeros(200_000, dtype=D),
                           beta, gamma, zeta, 1.0)[0]
    p_open = 1.0 / (1.0 + math.exp(beta * math.log(-gamma / zeta)))
    assert abs(float((s > 0).double().mean()) - p_open) < 0.005


def test_hardconcrete_gates_gradients_of_one_input_and_a_scaled_count(gen):
    # the backward pass's other branches: only w (or only log a) needs a gradient, and the
    # count enters with a factor other than 1; against autograd of the plain gates
    w = torch.randn(6, 5, dtype=D, generator=gen)
    log_a = torch.linspace(-4, 4, 30, dtype=D).reshape(6, 5)
    g = torch.randn(6, 5, dtype=D, generator=gen)

    def loss(fn, w, log_a):
        torch.manual_seed(5)
        out, count = fn(w, log_a)
        return (out * g).sum() + 2.5 * count

    for needs in ((True, False), (False, True), (True, True)):
        grads = []
        for fn in (_hc_analytic, _hc_plain):
            inputs = [x.clone().requires_grad_(r) for x, r in zip((w, log_a), needs)]
            loss(fn, *inputs).backward()
            grads.append([x.grad for x in inputs])
        for ga, gp in zip(*grads):
            if gp is None:
                assert ga is None
            else:
                torch.testing.assert_close(ga, gp, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,params", [("logsum", {"eps": 2.0}), ("l1", {}),
                                         ("lpp", {"p": 0.5}), ("mcp", {"a": 3.0, "lam": 0.5})])
def test_eta_trick_objective_is_eq6(name, params, gen):
    pen = get_penalty(name, **params)
    lam, decay = 0.3, 1e-2
    w = torch.randn(5, 4, dtype=D, generator=gen)
    lev = torch.linspace(-3, 3, 20, dtype=D).reshape(5, 4)
    lev[0, 0] = 31.0  # clipped: no gradient

    def plain(w, lev):
        # eq. (6) with f(eta) = 2 Omega(a) - a^2/eta, a = eta_hat^{-1}(eta), by bisection
        lev_c = torch.clamp(lev, -30.0, 30.0)
        eta = lam * torch.exp(lev_c)
        with torch.no_grad():
            a = _bisect_inverse(pen, eta)
        # with a held fixed, autograd gives d/deta (-a^2/eta) = a^2/eta^2 = f'(eta)
        f = 2.0 * pen.pointwise(a) - a * a / eta
        return 0.5 * lam * ((w * w / eta).sum() + f.sum()) + lam * decay * lev_c.sum()

    def analytic(w, lev):
        return eta_trick_objective(w, lev, pen, lam, decay)[0]

    out_f, grads_f = _values_and_grads(analytic, w, lev)
    out_p, grads_p = _values_and_grads(plain, w, lev)
    torch.testing.assert_close(out_f, out_p, rtol=1e-8, atol=1e-10)
    for gf, gp in zip(grads_f, grads_p):
        torch.testing.assert_close(gf, gp, rtol=1e-6, atol=1e-9)
    lev_in = lev.clone()
    lev_in[0, 0] = 0.5  # finite differences away from the clipping kink
    assert torch.autograd.gradcheck(analytic, (w.clone().requires_grad_(), lev_in.requires_grad_()),
                                    atol=1e-6)


@pytest.mark.parametrize("eps", [0.1, 2.0])
def test_logsum_dual_terms_in_float32(eps):
    # the in-place LOGSUM route against the generic one (closed-form inverse, penalty.value)
    # in float64, over every eta the eta-trick can reach (lam e^[-30, 30])
    # (the route forms a^2/eta scaled and shifted as the eta-trick's gradient uses it, and
    # no a: a closed form needs no warm start)
    pen = get_penalty("logsum", eps=eps)
    eta64 = 1e-3 * torch.exp(torch.linspace(-30, 30, 2001, dtype=D))
    a_ref = _bisect_inverse(pen, eta64)
    for scale, offset in ((1.0, 0.0), (0.3, 1e-2)):
        a, ratio, omega_sum = _dual_terms(pen, eta64.float(), None, scale, offset)
        assert a is None
        torch.testing.assert_close(ratio.double(), scale * a_ref * a_ref / eta64 + offset,
                                   rtol=2e-6, atol=0.0)
        torch.testing.assert_close(omega_sum.double(), pen.value(a_ref), rtol=1e-6, atol=0.0)
        assert ratio.dtype == omega_sum.dtype == torch.float32
    # the generic route (closed-form inverse, numpy's a^2/eta) in float64
    a, ratio, omega_sum = type(pen).__mro__[1]._dual_parts(pen, namespace(eta64),
                                                           eta64.clone(), 0.3, 1e-2)
    torch.testing.assert_close(a, a_ref, rtol=1e-9, atol=0.0)
    torch.testing.assert_close(ratio, 0.3 * a_ref * a_ref / eta64 + 1e-2, rtol=1e-9, atol=0.0)


@pytest.mark.parametrize("eps", [0.1, 2.0])
@pytest.mark.parametrize("lam", [1e-3, 1e12])
def test_logsum_dual_value_at_the_size_of_a_layer(eps, lam):
    # LeNet-300-100's first layer in float32: sum Omega(a) by the log of grouped products
    # of eps^2 / q against log1p(a / eps) in float64, over every eta the eta-trick reaches
    # (lam e^[-30, 30]); at lam = 1e12 the largest etas make products underflow (the
    # per-entry logs)
    pen = get_penalty("logsum", eps=eps)
    eta64 = lam * torch.exp(torch.linspace(-30, 30, 235_200, dtype=D))
    a64 = 2.0 * eta64 / (torch.sqrt(4.0 * eta64 + eps**2) + eps)
    _, ratio, omega_sum = _dual_terms(pen, eta64.float(), None, 0.5, 0.0)
    torch.testing.assert_close(omega_sum.double(), torch.log1p(a64 / eps).sum(), rtol=1e-6,
                               atol=0.0)
    torch.testing.assert_close(ratio.double(), 0.5 * a64 * a64 / eta64, rtol=2e-6, atol=0.0)


def _bisect_inverse(pen, eta):
    lo = torch.full_like(eta, -60.0)
    hi = torch.full_like(eta, 60.0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = pen.eta_hat(torch.exp(mid)) >= eta
        hi, lo = torch.where(above, mid, hi), torch.where(above, lo, mid)
    return torch.exp(0.5 * (lo + hi))


@pytest.mark.parametrize("name,params", [("logsum", {"eps": 2.0}), ("l1", {}),
                                         ("lpp", {"p": 0.5}), ("lpp", {"p": 1.5})])
def test_closed_form_inverse_of_eta_hat(name, params):
    pen = get_penalty(name, **params)
    eta = torch.logspace(-8, 8, 33, dtype=D)
    a = _inverse_eta_hat(pen, eta)
    torch.testing.assert_close(pen.eta_hat(a), eta, rtol=1e-12, atol=0)
    torch.testing.assert_close(a, _bisect_inverse(pen, eta), rtol=1e-9, atol=0)


@pytest.mark.parametrize("dtype", [D, torch.float32])
def test_transposed_gradients_are_handled(dtype):
    # an incoming gradient with another memory layout than the saved derivatives gives the
    # gradients of the same gradient laid out contiguously
    torch.manual_seed(0)
    w = torch.randn(70, 50, dtype=dtype, requires_grad=True)
    la = torch.full((70, 50), -1.0, dtype=dtype, requires_grad=True)
    g = torch.randn(50, 70, dtype=dtype).t()  # not contiguous
    grads = []
    for grad_out in (g, g.contiguous()):
        w.grad = la.grad = None
        torch.manual_seed(1)
        vardrop_noise(w, la, 1.0)[0].backward(grad_out)
        grads.append((w.grad, la.grad))
    torch.testing.assert_close(grads[0], grads[1])


def test_noise_of_the_methods_in_float32():
    torch.manual_seed(0)
    rel = vardrop_noise(torch.ones(200_000), torch.full((200_000,), math.log(0.25)), 1.0)[0]
    rel = rel - 1.0
    assert abs(float(rel.mean())) < 0.005 and abs(float(rel.std()) - 0.5) < 0.005
    torch.manual_seed(0)
    a = vardrop_noise(torch.ones(5000), torch.zeros(5000), 1.0)[0]
    torch.manual_seed(0)  # random_state
    assert torch.equal(a, vardrop_noise(torch.ones(5000), torch.zeros(5000), 1.0)[0])
    beta, gamma, zeta = 2 / 3, -0.1, 1.1
    s = hardconcrete_gates(torch.ones(200_000), torch.zeros(200_000), beta, gamma, zeta,
                           1.0)[0]
    p_open = 1.0 / (1.0 + math.exp(beta * math.log(-gamma / zeta)))
    assert abs(float((s > 0).double().mean()) - p_open) < 0.005
    # E[s] of the hard concrete gate at log a = 0, by the exact moments
    from skdropout.penalties import hardconcrete_moments

    mean = hardconcrete_moments(np.zeros(1), beta, gamma, zeta)[0]
    assert abs(float(s.double().mean()) - float(np.asarray(mean).ravel()[0])) < 0.005


def test_sigmoid_sum_in_float64_and_float32():
    x = torch.linspace(-120, 120, 4001, dtype=D)  # exp(-x) overflows float32 at one end
    _assert_same(lambda x: sigmoid_sum(x, 1.5), lambda x: torch.sigmoid(x - 1.5).sum(), x)
    assert torch.autograd.gradcheck(lambda x: sigmoid_sum(x, 1.5), (x[1990:2010].clone()
                                                                   .requires_grad_(),))
    v32, (g32,) = _values_and_grads(lambda x: sigmoid_sum(x, 1.5), x.float())
    assert torch.isfinite(g32).all()
    torch.testing.assert_close(v32.double(), torch.sigmoid(x - 1.5).sum(), rtol=1e-6, atol=0.0)
    torch.testing.assert_close(g32.double(), torch.sigmoid(x - 1.5) * torch.sigmoid(1.5 - x),
                               rtol=1e-5, atol=1e-7)


def test_terms_propagate_nan():
    la = torch.zeros(10)
    la[3] = float("nan")
    assert torch.isnan(vardrop_kl_sum(la))
    pen = get_penalty("logsum", eps=2.0)
    assert torch.isnan(eta_trick_objective(torch.ones(10), la, pen, 1e-3, 1e-3)[0])
    # the local reparameterisation's sample: a NaN variance reaches every output through
    # the variance product (0 * NaN is NaN), as in the plain expression
    out, kl = local_reparameterisation(torch.eye(10), torch.ones(1, 10), la.reshape(1, 10),
                                       None, 1.0, False)
    assert torch.isnan(out).all() and torch.isnan(kl)
    assert torch.isnan(sigmoid_sum(la, 1.5))
    noisy, kl = vardrop_noise(torch.ones(10), la, 1.0)
    assert torch.isnan(noisy[3]) and torch.isnan(kl) and torch.isfinite(noisy[:3]).all()
    gated, count = hardconcrete_gates(torch.ones(10), la, 2 / 3, -0.1, 1.1, 1.0)
    assert torch.isnan(gated[3]) and torch.isnan(count)


def test_fixed_eta_tikhonov_and_the_prox_at_eta_zero_and_infinity():
    from torch import nn

    from skdropout.nn import PenaltyLayer

    pen = get_penalty("mcp", a=3.0, lam=0.5)  # eta_hat = 0 at 0, inf beyond a lam = 1.5
    w = torch.tensor([0.0, 0.3, -0.8, 1.2, 2.0, -5.0], dtype=D)
    eta = pen.eta_hat(w)
    assert eta[0] == 0 and torch.isinf(eta[-2:]).all()
    finite = (eta > 0) & torch.isfinite(eta)

    def plain(w):  # eq. (6) in w with eta held fixed, only where 0 < eta < inf
        return 0.5 * (w[finite] ** 2 / eta[finite]).sum()

    _assert_same(lambda w: fixed_eta_tikhonov(w, pen), plain, w)
    # the proximal step w eta / (eta + rho lam): unchanged at eta = inf, 0 at eta = 0
    layer = PenaltyLayer(nn.Linear(6, 1).double(), lam=0.2, penalty=pen, rule="adaprox")
    with torch.no_grad():
        layer.weight.copy_(w[None])
    rho = torch.full((1, 6), 0.1, dtype=D)
    layer.prox(rho)
    expected = torch.where(finite, w * eta / (eta + 0.1 * 0.2), w)
    expected[0] = 0.0
    torch.testing.assert_close(layer.weight.detach()[0], expected, rtol=1e-12, atol=0.0)
    layer.prox(0.1)  # plain SGD: a float step
    assert torch.isfinite(layer.weight).all()


def test_unit_gradients_are_not_corrupted_by_accumulation():
    # with the incoming gradient 1 the saved derivatives are handed to autograd as they are:
    # two backward passes (retain_graph) and accumulation must not change them
    pen = get_penalty("logsum", eps=2.0)
    w = torch.randn(50, 40, requires_grad=True)
    lev = torch.randn(50, 40, requires_grad=True)
    obj = eta_trick_objective(w, lev, pen, 1e-2, 1e-3)[0]
    (w * 3.0).sum().add(obj).backward(retain_graph=True)  # w gets two contributions
    first_w, first_lev = w.grad.clone(), lev.grad.clone()
    obj.backward(retain_graph=True)
    torch.testing.assert_close(w.grad, 2 * first_w - 3.0)
    torch.testing.assert_close(lev.grad, 2 * first_lev)
    w.grad, lev.grad = None, None
    obj.backward()
    torch.testing.assert_close(w.grad, first_w - 3.0)
    torch.testing.assert_close(lev.grad, first_lev)


def test_second_derivatives_are_refused():
    x = torch.randn(20, dtype=D, requires_grad=True)
    (g,) = torch.autograd.grad(vardrop_kl_sum(x), x, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()
    w = torch.randn(20, dtype=D, requires_grad=True)
    noisy, kl = vardrop_noise(w, x, 1.0)
    gw, gx = torch.autograd.grad((noisy ** 2).sum() + kl, (w, x), create_graph=True)
    with pytest.raises(RuntimeError):
        (gw.sum() + gx.sum()).backward()


@pytest.mark.parametrize("dtype", [torch.float32, D])
def test_scaled_terms_scale_value_and_gradients(dtype):
    g = torch.Generator().manual_seed(8)
    x = (torch.randn(3000, generator=g) * 6).to(dtype)
    theta = torch.randn(3000, generator=g).to(dtype)
    terms = [lambda s, x, th: vardrop_kl_sum(x, th, s),
             lambda s, x, th: vardrop_kl_sum(x, scale=s) + 0 * th.sum(),
             lambda s, x, th: sigmoid_sum(x, 0.7, s) + 0 * th.sum(),
             lambda s, x, th: penalty_value(x, get_penalty("logsum", eps=2.0), s)
             + 0 * th.sum(),
             lambda s, x, th: penalty_value(x, get_penalty("mcp", a=3.0, lam=0.5), s)
             + 0 * th.sum()]
    for term in terms:
        (v1, g1), (v3, g3) = (_values_and_grads(lambda x, th: term(s, x, th), x, theta)
                              for s in (1.0, 3e-3))
        torch.testing.assert_close(v3, 3e-3 * v1)
        for a, b in zip(g3, g1):
            torch.testing.assert_close(a, 3e-3 * b)


@pytest.mark.parametrize("name,params", [("logsum", {"eps": 2.0}), ("l1", {}), ("lp", {"p": 1.5}),
                                         ("lpp", {"p": 0.5}), ("elasticnet", {"theta": 0.3}),
                                         ("huber", {}), ("mcp", {"a": 3.0, "lam": 0.5}),
                                         ("scad", {"a": 3.7, "lam": 0.5})])
def test_penalty_value_has_the_gradient_of_omega(name, params, gen):
    # LOGSUM's loss term: Omega(w) with the gradient w / eta_hat(w), against autograd on
    # the penalty's own expression away from 0, and a finite gradient (0) at w = 0
    pen = get_penalty(name, **params)
    w = torch.randn(6, 5, dtype=D, generator=gen) * 2.0
    _assert_same(lambda w: penalty_value(w, pen), pen.value, w)
    w[0, :2] = 0.0
    x = w.clone().requires_grad_()
    penalty_value(x, pen).backward()
    assert torch.isfinite(x.grad).all() and bool((x.grad[0, :2] == 0).all())


_CONVS = [None, {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "groups": 1},
          {"stride": (1, 1), "padding": "same", "dilation": (2, 1), "groups": 1},
          {"stride": (2, 1), "padding": "valid", "dilation": (1, 1), "groups": 2}]


@pytest.mark.parametrize("additive", [False, True])
@pytest.mark.parametrize("conv", _CONVS)
def test_local_reparameterisation_is_the_sample_and_kl(additive, conv, gen):
    # one node for the layer's sampled output and its KL term, against the plain
    # expressions (autograd on op(x, w) + b + sqrt(op(x^2, var) + 1e-8) eps and on the KL)
    # under the same seed: a linear layer, a padded, a 'same' (an odd total padding: the
    # extra row on one side) and a strided grouped convolution; across the clipping range
    # and where nothing is clipped (alpha from sigma^2 / theta^2)
    shape = (6, 5) if conv is None else (4, 1, 3, 2)  # one input channel per group
    w = torch.randn(*shape, dtype=D, generator=gen)
    x = torch.randn(*((7, 5) if conv is None else (3, conv["groups"], 6, 5)), dtype=D,
                    generator=gen)
    b = torch.randn(shape[0], dtype=D, generator=gen)
    n = w.numel()
    spread = torch.linspace(-12, 12, n, dtype=D).reshape(shape)
    inside = torch.linspace(-9, 9, n, dtype=D).reshape(shape)

    def op(x, w, b):
        if conv is None:
            return F.linear(x, w, b)
        return F.conv2d(x, w, b, conv["stride"], conv["padding"], conv["dilation"],
                        conv["groups"])

    for la in (spread, inside):
        first = la + torch.log(w ** 2 + 1e-16) if additive else la

        def plain(x, w, first, b):
            if additive:
                var = torch.exp(first)
                kl = _kl_plain(first - torch.log(w ** 2 + 1e-16))
            else:
                var = torch.exp(torch.clamp(first, -10, 10)) * w ** 2
                kl = _kl_plain(first)
            mean = op(x, w, b)
            out = mean + torch.sqrt(op(x * x, var, None) + 1e-8) * torch.randn_like(mean)
            return torch.cat([out.reshape(-1), 0.3 * kl.reshape(1)])

        def analytic(x, w, first, b):
            out, kl = local_reparameterisation(x, w, first, b, 0.3, additive, conv)
            return torch.cat([out.reshape(-1), kl.reshape(1)])

        _assert_same(_seeded(analytic), _seeded(plain), x, w, first, b)
    first = inside + torch.log(w ** 2 + 1e-16) if additive else inside
    assert torch.autograd.gradcheck(_seeded(analytic),
                                    tuple(t.clone().requires_grad_() for t in (x, w, first, b)))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_additive_local_reparameterisation_clips_alpha_as_log_alpha(dtype, gen):
    # VARDROP+LR+AR clips alpha = sigma^2 / (theta^2 + 1e-16) to [e^-10, e^10] itself:
    # the same sample, KL and gradients as clipping log alpha (the plain expressions), just
    # inside and outside both ends of the range and at theta = 0; the KL is the one
    # vardrop_kl_sum gives from the same parameters (the term's other route)
    offsets = torch.tensor([-3.0, -1e-4, 1e-4, 3.0], dtype=D)
    la = torch.cat([-10.0 + offsets, 10.0 + offsets, torch.linspace(-9, 9, 4, dtype=D)])
    w = (torch.randn(3, 4, dtype=D, generator=gen) * 0.1).to(dtype)
    w[2, 3] = 0.0  # log alpha = log sigma^2 - log 1e-16: far above the range
    first = (la.reshape(3, 4) + torch.log(w.double() ** 2 + 1e-16)).to(dtype)
    x = torch.randn(5, 4, dtype=dtype, generator=gen)

    def plain(x, w, first):
        mean = F.linear(x, w)
        out = mean + torch.sqrt(F.linear(x * x, torch.exp(first)) + 1e-8) * torch.randn_like(
            mean)
        kl = _kl_plain(first - torch.log(w ** 2 + 1e-16))
        return torch.cat([out.reshape(-1), 0.3 * kl.reshape(1)])

    def analytic(x, w, first):
        out, kl = local_reparameterisation(x, w, first, None, 0.3, True)
        return torch.cat([out.reshape(-1), kl.reshape(1)])

    if dtype == D:
        _assert_same(_seeded(analytic), _seeded(plain), x, w, first)
    else:
        (out_f, grads_f), (out_p, grads_p) = (_values_and_grads(_seeded(fn), x, w, first)
                                              for fn in (analytic, plain))
        torch.testing.assert_close(out_f, out_p, rtol=1e-5, atol=1e-6)
        for gf, gp in zip(grads_f, grads_p):
            torch.testing.assert_close(gf, gp, rtol=1e-4, atol=1e-6)
    kl = local_reparameterisation(x, w, first, None, 0.3, True)[1]
    torch.testing.assert_close(kl, vardrop_kl_sum(first, w, 0.3),
                               rtol=1e-12 if dtype == D else 1e-5, atol=0.0)


def test_standout_keeps_each_unit_with_its_keep_probability():
    # z = b (zero weights): unit j is kept with probability sigmoid(alpha b_j + beta), a
    # reproducible draw under the same seed
    from torch import nn

    from skdropout.nn import StandoutLayer

    base = nn.Linear(3, 4)
    with torch.no_grad():
        base.weight.zero_()
        base.bias.copy_(torch.tensor([-2.0, -0.5, 0.5, 2.0]))
    layer = StandoutLayer(base, lam=1.0, alpha=1.5, beta=0.25)
    layer.begin_epoch()
    x = torch.zeros(50_000, 3)
    torch.manual_seed(3)
    out = layer(x)
    kept = (out != 0).double().mean(0)
    pi = torch.sigmoid(1.5 * base.bias.detach().double() + 0.25)
    assert float((kept - pi).abs().max()) < 0.01
    torch.manual_seed(3)
    assert torch.equal(layer(x), out)
