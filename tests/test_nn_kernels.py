"""The fused per-weight terms of skdropout.nn._kernels against the plain torch expressions
they replace (autograd on those) and against finite differences (torch.autograd.gradcheck)."""

import math

import numpy as np

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from skdropout.nn._kernels import (K1, K2, K3, _NUMPY_UNIFORM_MIN,  # noqa: E402
                                   _dual_terms, _inverse_eta_hat, eta_trick_objective,
                                   hardconcrete_gates, local_variance, sigmoid_sum,
                                   uniform_like, vardrop_kl_sum, vardrop_noise)
from skdropout.penalties import get_penalty  # noqa: E402

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


def _assert_same(fused, plain, *inputs):
    out_f, grads_f = _values_and_grads(fused, *inputs)
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

    def fused(w, la):
        return vardrop_noise(w, la, 0.3)

    _assert_same(_seeded(_joined(fused)), _seeded(_joined(plain)), w, la)
    assert torch.autograd.gradcheck(_seeded(_joined(fused)), (w.clone().requires_grad_(),
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


@pytest.mark.parametrize("shape", [(6, 5), (64, 80)])  # torch's and numpy's uniforms
def test_hardconcrete_gates_are_louizos_gates_and_count(gen, shape):
    beta, gamma, zeta = 2 / 3, -0.1, 1.1
    w = torch.randn(*shape, dtype=D, generator=gen)
    log_a = torch.linspace(-4, 4, w.numel(), dtype=D).reshape(shape)

    def plain(w, log_a):
        u = uniform_like(log_a).clamp(1e-6, 1.0 - 1e-6)
        z = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_a) / beta)
        count = torch.sigmoid(log_a - beta * math.log(-gamma / zeta)).sum()
        return w * torch.clamp(z * (zeta - gamma) + gamma, 0.0, 1.0), 0.3 * count

    def fused(w, log_a):
        return hardconcrete_gates(w, log_a, beta, gamma, zeta, 0.3)

    _assert_same(_seeded(_joined(fused)), _seeded(_joined(plain)), w, log_a)
    if w.numel() <= 100:  # finite differences: a few entries are enough
        assert torch.autograd.gradcheck(_seeded(_joined(fused)),
                                        (w.clone().requires_grad_(),
                                         log_a.clone().requires_grad_()))
    # P(s > 0) = sigmoid(log a - beta log(-gamma/zeta)) (the L0 term), by sampling
    torch.manual_seed(0)
    s = hardconcrete_gates(torch.ones(200_000, dtype=D), torch.zeros(200_000, dtype=D),
                           beta, gamma, zeta, 1.0)[0]
    p_open = 1.0 / (1.0 + math.exp(beta * math.log(-gamma / zeta)))
    assert abs(float((s > 0).double().mean()) - p_open) < 0.005


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

    def fused(w, lev):
        return eta_trick_objective(w, lev, pen, lam, decay)[0]

    out_f, grads_f = _values_and_grads(fused, w, lev)
    out_p, grads_p = _values_and_grads(plain, w, lev)
    torch.testing.assert_close(out_f, out_p, rtol=1e-8, atol=1e-10)
    for gf, gp in zip(grads_f, grads_p):
        torch.testing.assert_close(gf, gp, rtol=1e-6, atol=1e-9)
    lev_in = lev.clone()
    lev_in[0, 0] = 0.5  # finite differences away from the clipping kink
    assert torch.autograd.gradcheck(fused, (w.clone().requires_grad_(), lev_in.requires_grad_()),
                                    atol=1e-6)


@pytest.mark.parametrize("eps", [0.1, 2.0])
def test_logsum_dual_terms_in_float32(eps):
    # the in-place LOGSUM route against the generic one (closed-form inverse, penalty.value)
    # in float64, over every eta the eta-trick can reach (lam e^[-30, 30])
    pen = get_penalty("logsum", eps=eps)
    eta64 = 1e-3 * torch.exp(torch.linspace(-30, 30, 2001, dtype=D))
    a, a2_over_eta, omega_sum = _dual_terms(pen, eta64.float(), None)
    a_ref = _bisect_inverse(pen, eta64)
    torch.testing.assert_close(a.double(), a_ref, rtol=2e-6, atol=0.0)
    torch.testing.assert_close(a2_over_eta.double(), a_ref * a_ref / eta64, rtol=2e-6, atol=0.0)
    torch.testing.assert_close(omega_sum.double(), pen.value(a_ref), rtol=1e-6, atol=0.0)
    assert a.dtype == a2_over_eta.dtype == omega_sum.dtype == torch.float32


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


def test_local_variance_of_both_parameterisations(gen):
    w = torch.randn(6, 5, dtype=D, generator=gen)
    la = torch.linspace(-12, 12, 30, dtype=D).reshape(6, 5)
    _assert_same(local_variance, lambda la, w: torch.exp(torch.clamp(la, -10, 10)) * w ** 2,
                 la, w)
    _assert_same(local_variance, torch.exp, la)
    inside = (la.clone()[1:-1], w[1:-1].clone())
    assert torch.autograd.gradcheck(local_variance, tuple(x.requires_grad_() for x in inside))


@pytest.mark.parametrize("dtype", [D, torch.float32])  # the torch route and the loops
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


# -- the fused loops of _native.c against the torch route ----------------------------------
def test_native_loops_build_where_a_compiler_is():
    import os
    import platform
    import shutil
    import sys

    from skdropout.nn import _native

    if sys.platform.startswith("linux") and platform.machine() == "x86_64" and \
            shutil.which("cc"):
        assert (_native.library() is None) == (os.environ.get("SKDROPOUT_NATIVE") == "0")
    assert _native.usable(torch.zeros(3)) == (_native.library() is not None)
    assert not _native.usable(torch.zeros(3, dtype=D))
    assert not _native.usable(torch.zeros(4, 3).t())


def test_native_build_and_its_fallbacks(monkeypatch, tmp_path):
    import shutil
    import sys

    from skdropout.nn import _native

    monkeypatch.setenv("SKDROPOUT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SKDROPOUT_NATIVE", "0")
    assert _native._build() is None  # switched off: the torch route
    monkeypatch.delenv("SKDROPOUT_NATIVE")
    monkeypatch.setenv("CC", "false")
    assert _native._build() is None  # a failed build: the torch route
    assert not list((tmp_path / "cache").glob("native-*"))
    monkeypatch.setenv("CC", "cc")
    monkeypatch.setenv("CXX", "false")
    assert _native._build_operators() is None  # no C++ compiler: no operators
    assert not list((tmp_path / "cache").glob("ops-*"))
    monkeypatch.delenv("CXX")
    if sys.platform.startswith("linux") and shutil.which("cc"):
        monkeypatch.setenv("CC", "cc")
        assert _native._build() is not None
        assert len(list((tmp_path / "cache").glob("native-*.so"))) == 1


def _both_routes(fn, inputs, monkeypatch, threads=1):
    """Values and gradients of fn by the fused loops and by the torch operations (float32,
    same random draws)."""
    from skdropout.nn import _native

    if _native.library() is None:
        pytest.skip("the fused loops are off (SKDROPOUT_NATIVE=0) or cannot be built here")
    results = []
    for native in (True, False):
        if not native:
            monkeypatch.setattr(_native, "usable", lambda *tensors: False)
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            torch.manual_seed(5)
            results.append(_values_and_grads(fn, *inputs))
        finally:
            torch.set_num_threads(old)
    return results


def _close(a, b, rtol=2e-5, atol=1e-6):
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("additive", [False, True])
def test_native_vardrop_kl(additive, threads, monkeypatch):
    g = torch.Generator().manual_seed(1)
    first = torch.randn(300, 250, generator=g) * 8  # about a fifth clipped
    theta = torch.randn(300, 250, generator=g) if additive else None
    inputs = (first, theta) if additive else (first,)
    (vn, gn), (vt, gt) = _both_routes(vardrop_kl_sum, inputs, monkeypatch, threads)
    _close(vn, vt, rtol=1e-5, atol=0.0)
    for a, b in zip(gn, gt):
        _close(a, b)


def _native_or_skip():
    from skdropout.nn import _native

    if _native.library() is None:
        pytest.skip("the fused loops are off (SKDROPOUT_NATIVE=0) or cannot be built here")
    return _native


def _operators_or_skip():
    native = _native_or_skip()
    if native.operators() is None:
        pytest.skip("the C++ operators cannot be built here (no C++ compiler)")
    return native.operators()


def test_native_local_variance(monkeypatch):
    g = torch.Generator().manual_seed(2)
    w = torch.randn(200, 300, generator=g)
    la = torch.randn(200, 300, generator=g) * 8
    (vn, gn), (vt, gt) = _both_routes(lambda w, la: local_variance(la, w), (w, la), monkeypatch)
    _close(vn, vt)
    for a, b in zip(gn, gt):
        _close(a, b)


def _kl64(la):
    """Molchanov's KL of the clipped log alpha and its derivative (0 where clipped), float64."""
    x = la.double().detach().clone().requires_grad_(True)
    kl = _kl_terms(x)
    kl.sum().backward()
    return kl.detach(), x.grad


def test_native_vardrop_noise_given_draws():
    # the forward and backward loops with the random numbers given, against the formulas in
    # float64
    native = _native_or_skip()
    g = torch.Generator().manual_seed(3)
    w = torch.randn(200, 300, generator=g)
    la = torch.randn(200, 300, generator=g) * 8
    eps = torch.randn(200, 300, generator=g)
    grad = torch.randn(200, 300, generator=g)
    out, scaled, g_la, grad_w = (torch.empty_like(w) for _ in range(4))
    (kl_sum,) = native.run("sk_vardrop_noise", [w, la, eps, out, scaled, g_la], w.numel(),
                           (0.7,), n_sums=1, seed=0)
    w64, la64, grad64 = w.double(), la.double(), grad.double()
    scaled64 = torch.exp(0.5 * la64.clamp(-10, 10)) * eps.double()
    inside = (la64.abs() <= 10).double()
    kl, d_kl = _kl64(la)
    _close(out.double(), w64 * (1 + scaled64), rtol=1e-5, atol=1e-6)
    _close(scaled.double(), scaled64, rtol=1e-5, atol=1e-6)
    _close(g_la.double(), 0.7 * d_kl, rtol=1e-5, atol=1e-6)
    assert kl_sum == pytest.approx(float(kl.sum()), rel=1e-5)
    native.run("sk_vardrop_noise_backward", [grad, w, la, scaled, g_la, grad_w], w.numel(),
               (2.5,))
    _close(grad_w.double(), grad64 * (1 + scaled64), rtol=1e-5, atol=1e-6)
    _close(g_la.double(), 2.5 * 0.7 * d_kl + inside * 0.5 * grad64 * w64 * scaled64,
           rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [2 / 3, 0.45])  # the loop's square-root form, the general one
def test_native_hardconcrete_gates_given_draws(beta):
    native = _native_or_skip()
    g = torch.Generator().manual_seed(3)
    w = torch.randn(200, 300, generator=g)
    grad = torch.randn(200, 300, generator=g)
    gamma, zeta = -0.1, 1.1
    shift = beta * math.log(-gamma / zeta)
    log_a = torch.randn(200, 300, generator=g) * 4
    log_a[0, :8] = torch.tensor([-200.0, -90.0, -60.0, 60.0, 90.0, 200.0, shift, 0.0])
    u = torch.rand(200, 300, generator=g)
    u[1, :4] = torch.tensor([0.0, 1e-7, 1.0 - 1e-7, 1.0])  # clipped to [1e-6, 1 - 1e-6]
    out, z_, g_la, grad_w = (torch.empty_like(w) for _ in range(4))
    (count,) = native.run("sk_hardconcrete_gates", [w, log_a, u, out, z_, g_la], w.numel(),
                          (beta, gamma, zeta, shift, 0.7), n_sums=1, seed=0)
    w64, grad64 = w.double(), grad.double()
    uc = u.double().clamp(1e-6, 1 - 1e-6)
    z = torch.sigmoid((torch.log(uc) - torch.log1p(-uc) + log_a.double()) / beta)
    raw = z * (zeta - gamma) + gamma
    gate = raw.clamp(0, 1)
    assert 0.05 < float((gate == 0).double().mean()) < 0.95  # clipped and open gates
    p = torch.sigmoid(log_a.double() - shift)
    _close(out.double(), w64 * gate, rtol=1e-5, atol=1e-6)
    _close(z_.double(), z, rtol=1e-5, atol=1e-6)
    _close(g_la.double(), 0.7 * p * (1 - p), rtol=1e-5, atol=1e-7)
    assert count == pytest.approx(float(p.sum()), rel=1e-5)
    native.run("sk_hardconcrete_gates_backward", [grad, w, z_, g_la, grad_w], w.numel(),
               (beta, gamma, zeta, 2.5))
    ds = ((raw > 0) & (raw < 1)).double() * (zeta - gamma) / beta * z * (1 - z)
    _close(grad_w.double(), grad64 * gate, rtol=1e-5, atol=1e-6)
    _close(g_la.double(), 2.5 * 0.7 * p * (1 - p) + grad64 * w64 * ds, rtol=1e-4, atol=1e-5)
    for t in (out, z_, g_la, grad_w):
        assert torch.isfinite(t).all()


def test_philox_known_answers():
    # Philox4x32-10 test vectors of Salmon et al.'s Random123 (kat_vectors)
    native = _native_or_skip()
    import ctypes

    lib = native.library()
    cases = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2,
              (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
              (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for ctr, key, expected in cases:
        out = (ctypes.c_uint32 * 4)()
        lib.sk_philox4x32((ctypes.c_uint32 * 4)(*ctr), (ctypes.c_uint32 * 2)(*key), out)
        assert tuple(out) == expected
    assert lib.sk_block_size() == native.BLOCK


def _uniform_stream(lib, n, seed, start):
    import ctypes

    out = torch.empty(n)
    lib.sk_uniform(ctypes.c_void_p(out.data_ptr()), ctypes.c_long(n), ctypes.c_uint64(seed),
                   ctypes.c_long(start))
    return out


def test_uniform_stream_is_philox_in_its_layout(tmp_path):
    # entry i of block b is lane i // G of Philox4x32-10 at counter (b G + i % G, 0, 0, 0)
    # keyed by the seed, mapped to ((x >> 8) + 1) / 2**24: checked against the scalar
    # generator (known answers above) for the vectorised build of this machine and the
    # portable build, at a block whose counter carries into the second word
    import ctypes

    from skdropout.nn import _native

    lib = _native_or_skip().library()
    block, lanes = _native.BLOCK, _native.BLOCK // 4
    seed, first_block = 0x0123456789ABCDEF, 2**32 // lanes - 1
    expected = np.empty(2 * block, dtype=np.float32)
    for b in range(2):
        for g in range(lanes):
            ctr = (first_block + b) * lanes + g
            out = (ctypes.c_uint32 * 4)()
            lib.sk_philox4x32((ctypes.c_uint32 * 4)(ctr & 0xFFFFFFFF, ctr >> 32, 0, 0),
                              (ctypes.c_uint32 * 2)(seed & 0xFFFFFFFF, seed >> 32), out)
            for k in range(4):
                expected[b * block + k * lanes + g] = ((out[k] >> 8) + 1) * 2.0**-24
    start = first_block * block
    assert np.array_equal(_uniform_stream(lib, 2 * block, seed, start).numpy(), expected)
    portable = tmp_path / "portable.so"  # without -mavx2: the plain C loop
    _native._compile_loops(portable, _native._FLAGS)
    other = ctypes.CDLL(str(portable))
    for n, s, st in ((2 * block, seed, start), (5000, 7, 0)):
        assert torch.equal(_uniform_stream(other, n, s, st), _uniform_stream(lib, n, s, st))


def test_normal_stream_is_box_muller_of_the_uniform_stream():
    # in each block of BLOCK = 4 G draws, the uniforms u at g and G + g give the normals
    # sqrt(-2 log u_g) (cos, sin)(2 pi u_{G+g}) there, and those at 2G + g and 3G + g the
    # next pair: the loops' inline logarithm, sine and cosine against float64
    native = _native_or_skip()
    n, lanes = 64 * native.BLOCK, native.BLOCK // 4
    u = native.random(n, False, seed=5).double().reshape(-1, 4, lanes)
    z = native.random(n, True, seed=5).double().reshape(-1, 4, lanes)
    for k in (0, 2):
        r = torch.sqrt(-2.0 * torch.log(u[:, k]))
        angle = 2.0 * math.pi * u[:, k + 1]
        torch.testing.assert_close(z[:, k], r * torch.cos(angle), rtol=2e-6, atol=2e-6)
        torch.testing.assert_close(z[:, k + 1], r * torch.sin(angle), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("normal", [False, True])
def test_native_random_streams(normal):
    from scipy import stats

    native = _native_or_skip()
    n = 200_003  # not a multiple of the block: a partial last block
    a = native.random(n, normal, seed=11)
    assert torch.equal(a, native.random(n, normal, seed=11))
    b = native.random(n, normal, seed=12)
    old = torch.get_num_threads()
    try:  # the draws do not depend on how the entries are split between threads
        torch.set_num_threads(4)
        assert torch.equal(a, native.random(n, normal, seed=11))
    finally:
        torch.set_num_threads(old)
    x = a.double().numpy()
    dist = "norm" if normal else "uniform"
    assert stats.kstest(x, dist).pvalue > 1e-3
    assert stats.kstest(b.double().numpy(), dist).pvalue > 1e-3
    if normal:  # the lanes that share a counter, and neighbours, are uncorrelated
        assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
        assert abs(stats.kurtosis(x)) < 0.05
    else:
        assert x.min() > 0 and x.max() <= 1
    block = native.BLOCK
    for lag in (1, block // 4, block // 2):
        assert abs(np.corrcoef(x[:-lag], x[lag:])[0, 1]) < 0.01
    assert abs(np.corrcoef(x, b.double().numpy())[0, 1]) < 0.01


def test_fused_node_seed_is_one_draw_of_torchs_generator():
    # the operator seeds its stream with the value random_(0, 2**62) draws from torch's
    # default generator (read from the generator itself), consuming that one draw
    _operators_or_skip()
    native = _native_or_skip()
    torch.manual_seed(11)
    seed = int(torch.empty((), dtype=torch.long).random_(0, 2**62))
    after = torch.rand(3)
    torch.manual_seed(11)
    out, _ = vardrop_noise(torch.ones(3000), torch.zeros(3000), 1.0)  # alpha = 1: 1 + eps
    assert torch.equal(torch.rand(3), after)
    torch.testing.assert_close(out - 1.0, native.random(3000, True, seed), rtol=1e-6,
                               atol=1e-6)


def test_native_noise_of_the_methods_in_float32():
    _native_or_skip()
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


def test_sigmoid_sum_both_routes(gen, monkeypatch):
    x = torch.linspace(-120, 120, 4001, dtype=D)  # exp(-x) overflows float32 at one end
    _assert_same(lambda x: sigmoid_sum(x, 1.5), lambda x: torch.sigmoid(x - 1.5).sum(), x)
    assert torch.autograd.gradcheck(lambda x: sigmoid_sum(x, 1.5), (x[1990:2010].clone()
                                                                   .requires_grad_(),))
    (vn, gn), (vt, gt) = _both_routes(lambda x: sigmoid_sum(x, 1.5), (x.float(),),
                                      monkeypatch)
    assert torch.isfinite(gn[0]).all()
    _close(vn, vt, rtol=1e-6, atol=0.0)
    _close(gn[0], gt[0], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("threads", [1, 2])
def test_native_eta_trick_logsum(threads, monkeypatch):
    g = torch.Generator().manual_seed(4)
    w = torch.randn(300, 250, generator=g) * 0.1
    lev = torch.randn(300, 250, generator=g) * 12  # some beyond +-30
    pen = get_penalty("logsum", eps=2.0)

    def fn(w, lev):
        return eta_trick_objective(w, lev, pen, 1e-3, 1e-3)[0]

    (vn, gn), (vt, gt) = _both_routes(fn, (w, lev), monkeypatch, threads)
    _close(vn, vt, rtol=1e-5, atol=0.0)
    for a, b in zip(gn, gt):
        _close(a, b, rtol=5e-5)


def test_native_loops_propagate_nan():
    from skdropout.nn import _native

    if _native.library() is None:
        pytest.skip("the fused loops are off (SKDROPOUT_NATIVE=0) or cannot be built here")
    la = torch.zeros(10)
    la[3] = float("nan")
    assert torch.isnan(vardrop_kl_sum(la))
    pen = get_penalty("logsum", eps=2.0)
    assert torch.isnan(eta_trick_objective(torch.ones(10), la, pen, 1e-3, 1e-3)[0])
    assert torch.isnan(local_variance(la, torch.ones(10))[3])
    assert torch.isnan(sigmoid_sum(la, 1.5))
    # the fused loops (the inline exponential and hard concrete's two forms of the gate)
    noisy, kl = vardrop_noise(torch.ones(10), la, 1.0)
    assert torch.isnan(noisy[3]) and torch.isnan(kl) and torch.isfinite(noisy[:3]).all()
    for beta in (2 / 3, 0.45):
        gated, count = hardconcrete_gates(torch.ones(10), la, beta, -0.1, 1.1, 1.0)
        assert torch.isnan(gated[3]) and torch.isnan(count)


def test_native_threads_work_in_a_forked_child():
    import multiprocessing

    from skdropout.nn import _native

    if _native.library() is None:
        pytest.skip("the fused loops are off (SKDROPOUT_NATIVE=0) or cannot be built here")
    x = torch.randn(200_000)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = float(vardrop_kl_sum(x))  # starts the pool in this process
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            got = pool.apply_async(_kl_in_child, (x,)).get(timeout=60)
    finally:
        torch.set_num_threads(old)
    assert got == pytest.approx(expected, rel=1e-6)


def _kl_in_child(x):
    torch.set_num_threads(2)
    return float(vardrop_kl_sum(x))


def test_fixed_eta_tikhonov_and_the_prox_at_eta_zero_and_infinity():
    from torch import nn

    from skdropout.nn import PenaltyLayer
    from skdropout.nn._kernels import fixed_eta_tikhonov

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


@pytest.mark.parametrize("dtype", [torch.float32, D])  # the loops and the torch route
def test_scaled_terms_scale_value_and_gradients(dtype):
    g = torch.Generator().manual_seed(8)
    x = (torch.randn(3000, generator=g) * 6).to(dtype)
    theta = torch.randn(3000, generator=g).to(dtype)
    terms = [lambda s, x, th: vardrop_kl_sum(x, th, s),
             lambda s, x, th: vardrop_kl_sum(x, scale=s) + 0 * th.sum(),
             lambda s, x, th: sigmoid_sum(x, 0.7, s) + 0 * th.sum()]
    for term in terms:
        (v1, g1), (v3, g3) = (_values_and_grads(lambda x, th: term(s, x, th), x, theta)
                              for s in (1.0, 3e-3))
        torch.testing.assert_close(v3, 3e-3 * v1)
        for a, b in zip(g3, g1):
            torch.testing.assert_close(a, 3e-3 * b)


# -- the fused node (noise and loss term in one pass) on the loops -------------------------
def _fused_case(kind, gen):
    w = torch.randn(150, 120, generator=gen)
    x = torch.randn(150, 120, generator=gen) * (8 if kind == "vardrop" else 4)
    beta, gamma, zeta = 2 / 3, -0.1, 1.1

    def fn(w, x):
        if kind == "vardrop":
            return vardrop_noise(w, x, 0.7)
        return hardconcrete_gates(w, x, beta, gamma, zeta, 0.7)

    def term(x):
        if kind == "vardrop":
            return vardrop_kl_sum(x, scale=0.7)
        return sigmoid_sum(x, beta * math.log(-gamma / zeta), 0.7)
    return w, x, fn, term, (beta, gamma, zeta)


@pytest.mark.parametrize("kind", ["vardrop", "hardconcrete"])
def test_fused_noise_and_term_gradients(kind, gen):
    # loss = <G, weights> + c term: the gradients against the formulas in float64, with the
    # noise read back from the output (scaled = out / w - 1, s = out / w), and the term
    # against the standalone one
    _operators_or_skip()
    w, x, fn, term, (beta, gamma, zeta) = _fused_case(kind, gen)
    G = torch.randn(w.shape, generator=gen)
    wr, xr = w.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(4)
    out, t = fn(wr, xr)
    assert "NoiseAndTerm" in out.grad_fn.name()  # one node, the C++ operator's
    assert out.grad_fn is t.grad_fn
    (out * G).sum().add(2.5 * t).backward()
    xs = x.clone().requires_grad_()
    t_alone = term(xs)
    t_alone.backward()
    torch.testing.assert_close(t.detach(), t_alone.detach(), rtol=1e-6, atol=0)
    w64, G64, ratio = w.double(), G.double(), out.detach().double() / w.double()
    if kind == "vardrop":
        scaled = ratio - 1.0
        inside = (x.abs() <= 10).double()
        expect_w = G64 * (1 + scaled)
        expect_x = 2.5 * xs.grad.double() + inside * 0.5 * G64 * w64 * scaled
    else:
        open_ = ((ratio > 0) & (ratio < 1)).double()
        z = (ratio - gamma) / (zeta - gamma)
        expect_w = G64 * ratio
        expect_x = 2.5 * xs.grad.double() + open_ * (zeta - gamma) / beta * z * (1 - z) * w64 * G64
    _close(wr.grad.double(), expect_w, rtol=1e-4, atol=1e-5)
    _close(xr.grad.double(), expect_x, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", ["vardrop", "hardconcrete"])
def test_fused_node_backward_twice_and_term_alone(kind, gen):
    # the term's derivative is completed in place by the first backward pass; a second one
    # (retain_graph) recomputes it: both passes give the same gradients. With the weights
    # unused, the gradient in x is the term's alone (the other route's value)
    _operators_or_skip()
    w, x, fn, term, _ = _fused_case(kind, gen)
    wr, xr = w.clone().requires_grad_(), x.clone().requires_grad_()
    out, t = fn(wr, xr)
    loss = out.sum() + t
    loss.backward(retain_graph=True)
    first = wr.grad.clone(), xr.grad.clone()
    wr.grad = xr.grad = None
    loss.backward()
    torch.testing.assert_close((wr.grad, xr.grad), first)
    xr.grad = None
    fn(wr, xr)[1].backward()
    xs = x.clone().requires_grad_()
    term(xs).backward()
    torch.testing.assert_close(xr.grad, xs.grad)


@pytest.mark.parametrize("kind", ["vardrop", "hardconcrete"])
def test_fused_node_does_not_depend_on_the_thread_split(kind, gen):
    _operators_or_skip()
    w = torch.randn(300, 250, generator=gen)  # large enough to be split over two threads
    x = torch.randn(300, 250, generator=gen) * 4
    results = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(9)
            fn = vardrop_noise if kind == "vardrop" else (
                lambda w, x, s: hardconcrete_gates(w, x, 2 / 3, -0.1, 1.1, s))
            wr, xr = w.clone().requires_grad_(), x.clone().requires_grad_()
            out, term = fn(wr, xr, 0.3)
            (out.sum() + term).backward()
            results.append((out.detach(), term.detach(), wr.grad, xr.grad))
    finally:
        torch.set_num_threads(old)
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-6, atol=0)
    torch.testing.assert_close(results[0][2:], results[1][2:], rtol=0, atol=0)


def test_fused_operators_check_their_inputs():
    ops = _operators_or_skip()
    w = torch.randn(6, 5)
    with pytest.raises(RuntimeError, match="contiguous float32 CPU"):
        ops.vardrop_noise(w.double(), w.double(), 1.0)
    with pytest.raises(RuntimeError, match="contiguous float32 CPU"):
        ops.hardconcrete_gates(w.t(), w.t(), 2 / 3, -0.1, 1.1, -0.16, 1.0)
    with pytest.raises(RuntimeError, match="differ in size"):
        ops.vardrop_noise(w, torch.zeros(7), 1.0)


@pytest.mark.parametrize("kind", ["vardrop", "hardconcrete"])
def test_fused_node_has_first_derivatives_only(kind, gen):
    # the C++ node's gradients are values: a backward pass through them raises (as
    # once_differentiable does in Python) instead of missing the second derivatives
    _operators_or_skip()
    w, x, fn, _, _ = _fused_case(kind, gen)
    wr, xr = w.clone().requires_grad_(), x.clone().requires_grad_()
    out, t = fn(wr, xr)
    gw, gx = torch.autograd.grad((out ** 2).sum() + t, (wr, xr), create_graph=True)
    with pytest.raises(RuntimeError, match="first derivatives only"):
        (gw.sum() + gx.sum()).backward()
    out, t = fn(wr, xr)  # without a recorded graph the values are plain gradients
    gw2, gx2 = torch.autograd.grad((out ** 2).sum() + t, (wr, xr))
    assert gw2.grad_fn is None and gx2.grad_fn is None


@pytest.mark.parametrize("kind", ["vardrop", "hardconcrete"])
def test_fused_node_without_the_operators_takes_the_torch_route(kind, gen, monkeypatch):
    # no C++ compiler: the loops may still be there, the two outputs come from two nodes
    # and the term is the standalone one
    from skdropout.nn import _native

    monkeypatch.setattr(_native, "operators", lambda: None)
    w, x, fn, term, _ = _fused_case(kind, gen)
    wr, xr = w.clone().requires_grad_(), x.clone().requires_grad_()
    out, t = fn(wr, xr)
    assert out.grad_fn is not t.grad_fn
    torch.testing.assert_close(t, term(x), rtol=1e-6, atol=0)
    (out.sum() + t).backward()
    assert torch.isfinite(wr.grad).all() and torch.isfinite(xr.grad).all()

