"""Per-weight terms of the sparsifying layers as autograd functions with analytic gradients.

Each method adds element-wise work on every weight at every step (a KL term, a sampled
gate, the eta-trick objective). Written as plain torch expressions, autograd records every
intermediate and replays a chain of element-wise backward kernels; on a CPU this costs
more than the layer's matrix products (the KL of Molchanov et al. on LeNet-300-100's
266,200 weights took longer than the dense network's forward and backward passes). Here
each term is one function that computes its value and, in the same pass, its derivative in
each input (every term is element-wise, or a sum of element-wise terms), and one autograd
function (:class:`_Elementwise`) applies the chain rule, from a few in-place torch
operations: one route on every device. The terms are checked against autograd on the plain
expressions and by finite differences (``tests/test_nn_kernels.py``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..penalties import Penalty
from ..penalties._xp import namespace

# Molchanov et al. (2017), eq. (14): the approximation of -KL for the log-uniform prior.
K1, K2, K3 = 0.63576, 1.87320, 1.48695
#: Molchanov et al.'s clipping range of log alpha.
LOG_ALPHA_MIN, LOG_ALPHA_MAX = -10.0, 10.0
_TINY = 1e-16  # keeps log(theta^2) finite at theta = 0 (additive reparameterisation)


def _clip(x: torch.Tensor, low: float, high: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``clamp(x, low, high)`` and, as 1.0/0.0 floats, where it has no gradient (strictly
    outside [low, high]); ``x`` itself and None when nothing is clipped, which on a CPU one
    reduction tells (sparing the clamp and the masking of the gradient in the common case).
    The indicator is ``sign(|x - clamp(x)|)``, exact, because boolean masks (``ne``,
    ``masked_fill_``) run several times slower than float arithmetic on a CPU. Callers must
    not modify the result in place."""
    if x.device.type == "cpu":
        lo, hi = torch.aminmax(x)
        if low <= float(lo) and float(hi) <= high:
            return x, None
    clipped = x.clamp(low, high)
    return clipped, torch.sub(x, clipped).abs_().sign_()


def _zero_where(t: torch.Tensor, outside: torch.Tensor | None) -> torch.Tensor:
    """``t`` with the entries where ``outside`` is 1 set to 0, in place (None: none)."""
    return t if outside is None else t.addcmul_(t, outside, value=-1.0)


#: CPU tensors with at least this many entries draw their uniforms with numpy (see
#: :func:`uniform_like`); below it the per-call set-up would cost more than it saves.
_NUMPY_UNIFORM_MIN = 4096


def uniform_like(t: torch.Tensor) -> torch.Tensor:
    """Independent U[0, 1) draws shaped like ``t`` (same dtype and device).

    On a CPU, large float32/float64 tensors are filled by numpy's PCG64 generator, which
    draws uniforms about twice as fast as torch's CPU generator (one draw per weight per step
    is a large part of a hard concrete step). Its seed is drawn from torch's default
    generator, so ``torch.manual_seed`` (and the estimators' ``random_state``) make the
    draws reproducible exactly as with ``torch.rand_like``; each call seeds a fresh
    generator, so concurrent calls share no state.

    Parameters
    ----------
    t : torch.Tensor
        The tensor whose shape, dtype and device the draws take.

    Returns
    -------
    torch.Tensor
        Uniform draws on [0, 1).

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import uniform_like
    >>> _ = torch.manual_seed(0); a = uniform_like(torch.empty(5000))
    >>> _ = torch.manual_seed(0); b = uniform_like(torch.empty(5000))
    >>> bool(torch.equal(a, b)), bool(((a >= 0) & (a < 1)).all())
    (True, True)
    """
    if (t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64)
            or t.numel() < _NUMPY_UNIFORM_MIN):
        return torch.rand_like(t, memory_format=torch.contiguous_format)
    seed = int(torch.randint(0, 2**62, (1,)))
    dtype = np.float32 if t.dtype == torch.float32 else np.float64
    draws = np.random.Generator(np.random.PCG64(seed)).random(t.numel(), dtype=dtype)
    return torch.from_numpy(draws).reshape(t.shape)


def _first_order(backward: Any) -> Any:
    """``once_differentiable`` (a second backward pass through the result raises) where it
    is needed, when the graph of the backward pass is recorded; a plain call otherwise,
    sparing its per-call cost (a ``no_grad`` block) in every training step."""
    recorded = once_differentiable(backward)

    def wrapper(ctx: Any, *grads: Any) -> Any:
        if torch.is_grad_enabled():
            return recorded(ctx, *grads)
        return backward(ctx, *grads)
    return wrapper


class _Elementwise(torch.autograd.Function):
    """The chain rule for a term whose derivative in each input is element-wise.

    ``_Elementwise.apply(compute, *inputs)`` with ``compute(*inputs) -> (out, derivs)``:
    ``derivs[k]`` is d out / d inputs[k] entry by entry (None: no gradient), for an
    element-wise ``out`` (the incoming gradient is multiplied entry by entry) or a 0-d sum
    of element-wise terms (it is scaled). ``compute`` runs without autograd.
    """

    @staticmethod
    def forward(ctx: Any, compute: Any, *inputs: torch.Tensor | None) -> torch.Tensor:
        out, derivs = compute(*inputs)
        ctx.has = [d is not None for d in derivs]
        ctx.save_for_backward(*(d for d in derivs if d is not None))
        return out

    @staticmethod
    @_first_order  # the derivatives are saved as values: no second order
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved = iter(ctx.saved_tensors)
        if grad.dim():
            grad = grad.contiguous()  # products with the (contiguous) derivatives
        elif grad.device.type == "cpu" and float(grad) == 1.0:
            # a term added to the loss as is: the derivatives are the gradients (autograd
            # copies rather than accumulates into tensors it does not own)
            return (None, *(next(saved) if has else None for has in ctx.has))
        return (None, *(torch.mul(next(saved), grad) if has else None for has in ctx.has))


def _vardrop_kl(first: torch.Tensor, theta: torch.Tensor | None, scale: float
                ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``scale`` times sum_j KL_j of the clipped log alpha_j (Molchanov et al.'s
    approximation), and its derivatives in ``first`` and ``theta``.

    ``KL = k1 t + log1p(1/alpha) / 2`` with ``t = sigmoid(-(k2 + k3 la))`` (the same as
    ``k1 - k1 sigmoid(k2 + k3 la) - log p / 2``, p = sigmoid(la), written without
    cancellation); ``dKL/dla = -k1 k3 t (1 - t) - (1 - p)/2``, with ``1 - t = exp(k2 + k3
    la) t`` and ``1 - p = (1/alpha) / (1 + 1/alpha)`` (accurate where t or p is near 1).
    With ``theta`` given (additive reparameterisation) the first input is log sigma^2 and
    ``la = log sigma^2 - log(theta^2 + 1e-16)``, so ``dla/dtheta = -2 theta / (theta^2 +
    1e-16)``.
    """
    theta_sq = None
    if theta is None:
        raw = first
    else:
        theta_sq = torch.mul(theta, theta).add_(_TINY)
        raw = torch.log(theta_sq).neg_().add_(first)
    la, outside = _clip(raw, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
    u = torch.mul(la, K3).add_(K2).exp_()  # 1 - t = u t, without cancellation near t = 1
    t = torch.add(u, 1.0).reciprocal_()
    v = torch.neg(la).exp_()  # 1/alpha: -log p = log1p(v), 1 - p = v / (1 + v)
    total = scale * (K1 * t.sum() + 0.5 * torch.log1p(v).sum())
    d = u.mul_(t).mul_(t).mul_(-K1 * K3 * scale)  # -k1 k3 t (1 - t)
    d.sub_(torch.add(v, 1.0).reciprocal_().mul_(v).mul_(0.5 * scale))  # - (1 - p) / 2
    _zero_where(d, outside)
    if theta is None:
        return total, [d, None, None]
    return total, [d, torch.mul(d, theta).div_(theta_sq).mul_(-2.0), None]


def vardrop_kl_sum(first: torch.Tensor, theta: torch.Tensor | None = None,
                   scale: float = 1.0) -> torch.Tensor:
    """Sum over weights of the KL term of eqs. (18)-(19), Molchanov et al.'s approximation.

    Parameters
    ----------
    first : torch.Tensor
        Log alpha (before clipping to [-10, 10]); with ``theta``, log sigma^2.
    theta : torch.Tensor or None, default=None
        The weights of the additive reparameterisation: then
        ``log alpha = log sigma^2 - log(theta^2 + 1e-16)``.
    scale : float, default=1.0
        A factor of the sum (lam in the loss): a term added to the loss as it is hands its
        derivatives to autograd without a further pass.

    Returns
    -------
    torch.Tensor
        0-d, ``scale`` times the sum, differentiable in ``first`` and ``theta``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import vardrop_kl_sum
    >>> bool(vardrop_kl_sum(torch.tensor([8.0])) < 1e-3)  # KL -> 0 as alpha -> inf
    True
    """
    return _Elementwise.apply(_vardrop_kl, first, theta, float(scale))


def _noisy_weight(w: torch.Tensor, log_alpha: torch.Tensor
                  ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``w (1 + sqrt(alpha) eps)`` with one standard normal eps per weight (VARDROP) and its
    derivatives ``1 + sqrt(alpha) eps`` in w and ``w sqrt(alpha) eps / 2`` in log alpha."""
    eps = torch.randn_like(w)
    la, outside = _clip(log_alpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
    scaled = torch.mul(la, 0.5).exp_().mul_(eps)  # sqrt(alpha) eps
    d_w = torch.add(scaled, 1.0)
    return torch.mul(w, d_w), [d_w, _zero_where(scaled.mul_(w).mul_(0.5), outside)]


def vardrop_noise(w: torch.Tensor, log_alpha: torch.Tensor, scale: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One draw of the multiplicatively perturbed weights of VARDROP (no reparameterisation
    trick, section 4.2) and the layer's KL term.

    The weights are ``w (1 + sqrt(alpha) eps)`` with ``alpha = exp(clip(log_alpha, -10,
    10))`` and eps ~ N(0, 1) per weight from ``torch.randn_like``. The term is ``scale``
    times :func:`vardrop_kl_sum` of log alpha.

    Parameters
    ----------
    w, log_alpha : torch.Tensor
        Weights and their log alpha, same shape.
    scale : float
        The factor of the KL sum (lam in the loss).

    Returns
    -------
    weights : torch.Tensor
        The noisy weights, differentiable in ``w`` and ``log_alpha``.
    kl : torch.Tensor
        0-d, ``scale * sum KL``, differentiable in ``log_alpha``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import vardrop_noise
    >>> w = torch.ones(3)
    >>> noisy, kl = vardrop_noise(w, torch.full((3,), -10.0), 1.0)
    >>> bool(torch.allclose(noisy, w, atol=0.05)), bool(kl > 0)
    (True, True)
    """
    return _Elementwise.apply(_noisy_weight, w, log_alpha), vardrop_kl_sum(log_alpha, None, scale)


def _local_variance(first: torch.Tensor, w: torch.Tensor | None
                    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """The weight variances of the local reparameterisation trick, ``exp(log sigma^2)``
    (additive reparameterisation) or ``alpha w^2`` with alpha = exp(clip(log alpha)), and
    their derivatives (the variance itself in the first input, ``2 alpha w`` in w)."""
    if w is None:
        var = torch.exp(first)
        return var, [var, None]
    la, outside = _clip(first, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
    alpha_w = torch.exp(la).mul_(w)
    var = torch.mul(alpha_w, w)
    d_first = var if outside is None else _zero_where(var.clone(), outside)
    return var, [d_first, alpha_w.mul_(2.0)]


def local_variance(first: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
    """Variances of the Gaussian weights for the local reparameterisation trick.

    Parameters
    ----------
    first : torch.Tensor
        log sigma^2 (additive reparameterisation, ``w`` None), or log alpha (clipped to
        [-10, 10]) with the weights ``w``.
    w : torch.Tensor or None, default=None
        The weights (mean of the Gaussian), when ``first`` is log alpha.

    Returns
    -------
    torch.Tensor
        ``exp(log sigma^2)`` or ``alpha w^2``, differentiable in the inputs.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import local_variance
    >>> local_variance(torch.tensor([0.0]), torch.tensor([3.0])).tolist()  # alpha = 1
    [9.0]
    """
    return _Elementwise.apply(_local_variance, first, w)


def _hardconcrete_weight(w: torch.Tensor, log_a: torch.Tensor, beta: float, gamma: float,
                         zeta: float) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``w s`` with one HARDCONCRETE(beta, gamma, zeta)(a) gate s per weight (eqs. 20-21)
    and its derivatives s in w and ``w ds/dlog a`` in log a, where ``ds/dlog a = (zeta -
    gamma) z (1 - z) / beta`` with z the sigmoid of eq. (20) (0 where the gate is clipped)."""
    z = uniform_like(log_a).logit_(1e-6)  # logit(u), u clipped to [1e-6, 1 - 1e-6]
    z.add_(log_a).mul_(1.0 / beta).sigmoid_()
    s, outside = _clip(torch.mul(z, zeta - gamma).add_(gamma), 0.0, 1.0)
    d_la = _zero_where(torch.sub(1.0, z).mul_(z).mul_((zeta - gamma) / beta).mul_(w), outside)
    return torch.mul(w, s), [s, d_la, None, None, None]


def open_gate_shift(beta: float, gamma: float, zeta: float) -> float:
    """``beta log(-gamma/zeta)``: a HARDCONCRETE(beta, gamma, zeta)(a) gate is open (s > 0)
    with probability ``sigmoid(log a - shift)`` (eq. 21).

    Parameters
    ----------
    beta, gamma, zeta : float
        Temperature and stretch interval.

    Returns
    -------
    float

    Examples
    --------
    >>> from skdropout.nn._kernels import open_gate_shift
    >>> round(open_gate_shift(2 / 3, -0.1, 1.1), 4)
    -1.5986
    """
    return beta * math.log(-gamma / zeta)


def hardconcrete_gates(w: torch.Tensor, log_a: torch.Tensor, beta: float, gamma: float,
                       zeta: float, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights times one sampled hard concrete gate each (eqs. 20-21), and ``scale`` times
    the expected number of open gates.

    ``s = min(1, max(0, sigmoid((log u - log(1-u) + log a) / beta) (zeta - gamma) + gamma))``
    with u ~ U(0, 1) per weight (:func:`uniform_like`); the count is
    ``sum P(s_j > 0) = sum sigmoid(log a_j - beta log(-gamma/zeta))`` (:func:`sigmoid_sum`).

    Parameters
    ----------
    w, log_a : torch.Tensor
        Weights and the gates' log a, same shape.
    beta, gamma, zeta : float
        Temperature and stretch interval.
    scale : float
        The factor of the count (lam in the loss).

    Returns
    -------
    weights : torch.Tensor
        ``w * s``, differentiable in ``w`` and ``log_a``.
    count : torch.Tensor
        0-d, ``scale * sum P(s_j > 0)``, differentiable in ``log_a``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import hardconcrete_gates
    >>> out, count = hardconcrete_gates(torch.ones(4), torch.full((4,), 20.0), 2 / 3, -0.1,
    ...                                 1.1, 1.0)
    >>> out.tolist(), float(count)  # gates wide open
    ([1.0, 1.0, 1.0, 1.0], 4.0)
    """
    shift = open_gate_shift(beta, gamma, zeta)
    return (_Elementwise.apply(_hardconcrete_weight, w, log_a, beta, gamma, zeta),
            sigmoid_sum(log_a, shift, scale))


def _sigmoid_sum(x: torch.Tensor, shift: float, scale: float
                 ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``scale sum sigmoid(x - shift)`` and its derivative ``scale p (1 - p)`` in x."""
    p = torch.sub(x, shift).sigmoid_()
    return scale * p.sum(), [torch.sub(1.0, p).mul_(p).mul_(scale), None, None]


def sigmoid_sum(x: torch.Tensor, shift: float, scale: float = 1.0) -> torch.Tensor:
    """``scale sum_j sigmoid(x_j - shift)``, e.g. lam times the expected number of open hard
    concrete gates ``sum P(s_j > 0)`` with x = log a and shift = beta log(-gamma/zeta)
    (eq. 21).

    Parameters
    ----------
    x : torch.Tensor
        Any shape.
    shift : float
    scale : float, default=1.0
        A factor of the sum (lam in the loss): a term added to the loss as it is hands its
        derivatives to autograd without a further pass.

    Returns
    -------
    torch.Tensor
        0-d, differentiable in ``x``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import sigmoid_sum
    >>> float(sigmoid_sum(torch.zeros(4), 0.0))
    2.0
    """
    return _Elementwise.apply(_sigmoid_sum, x, float(shift), float(scale))


def _fixed_eta_tikhonov(w: torch.Tensor, penalty: Penalty
                        ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``sum w^2 / (2 eta)`` with eta = eta_hat(w) held fixed, and its derivative w / eta
    (both 0 where eta = 0, and where eta = inf)."""
    w_over_eta = torch.div(w, penalty.eta_hat(w)).nan_to_num_(0.0, 0.0, 0.0)
    return 0.5 * torch.dot(w_over_eta.reshape(-1), w.reshape(-1)), [w_over_eta, None]


def fixed_eta_tikhonov(w: torch.Tensor, penalty: Penalty) -> torch.Tensor:
    """The adaptive Tikhonov term ``1/2 sum w^2 / eta`` of eq. (6) with eta = eta_hat(w)
    (eq. 7) held fixed: its gradient is ``w / eta``, not the penalty's (ADATIKHONOV).

    Weights with eta = 0 contribute 0 (nothing to shrink: eta_hat(w) = 0 only where the
    penalty sets w to 0), as do those with eta = inf (no shrinkage).

    Parameters
    ----------
    w : torch.Tensor
        The weights.
    penalty : Penalty
        A penalty of :mod:`skdropout.penalties` (its ``eta_hat``).

    Returns
    -------
    torch.Tensor
        0-d, differentiable in ``w``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.penalties import get_penalty
    >>> from skdropout.nn._kernels import fixed_eta_tikhonov
    >>> w = torch.tensor([2.0, 0.0])  # l1: eta_hat(w) = |w|, so w^2 / (2 eta) = |w| / 2
    >>> float(fixed_eta_tikhonov(w, get_penalty("l1")))
    1.0
    """
    return _Elementwise.apply(_fixed_eta_tikhonov, w, penalty)


def _eta_trick(w: torch.Tensor, log_eta_bar: torch.Tensor, penalty: Penalty, lam: float,
              decay: float, a0: torch.Tensor | None, keep: list[torch.Tensor | None]
              ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``lam/2 (sum w^2/eta + f(eta)) + lam c sum log eta_bar`` of eq. (6) in (w,
    log eta_bar), and its derivatives.

    eta = lam exp(clip(log eta_bar, -30, 30)), a = eta_hat^{-1}(eta), f(eta) = 2 Omega(a) -
    a^2/eta, so the value is ``lam sum Omega(a) - lam/2 sum (a^2 - w^2)/eta + lam c sum
    log eta_bar``. Derivatives: ``lam w / eta`` in w and, by the envelope theorem
    (f'(eta) = a^2/eta^2), ``lam/2 (a^2 - w^2)/eta + lam c`` in log eta_bar (zero where it
    is clipped). ``keep[0]`` receives a, the warm start of the next call.
    """
    lev, outside = _clip(log_eta_bar, -30.0, 30.0)
    lev_sum = lev.sum()
    eta = torch.exp(lev).mul_(lam)
    keep[0], a2_over_eta, omega_sum = _dual_terms(penalty, eta, a0)
    w_over_eta = torch.div(w, eta)
    d_lev = torch.addcmul(a2_over_eta, w, w_over_eta, value=-1.0)  # (a^2 - w^2)/eta
    diff_sum = d_lev.sum()
    _zero_where(d_lev.mul_(0.5).add_(decay), outside)
    total = lam * omega_sum - 0.5 * lam * diff_sum + lam * decay * lev_sum
    return total, [w_over_eta.mul_(lam), d_lev.mul_(lam)]


def _dual_terms(penalty: Penalty, eta: torch.Tensor, a0: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a = eta_hat^{-1}(eta)``, ``a^2/eta`` and ``sum Omega(a)``: what the value and the
    gradients of eq. (6) need from the penalty (no gradient), from its closed forms
    (:func:`_inverse_eta_hat`, ``penalty.value``)."""
    a = _inverse_eta_hat(penalty, eta, a0).to(eta.dtype)
    return a, torch.mul(a, a).div_(eta), penalty.value(a)


def _inverse_eta_hat(penalty: Penalty, eta: torch.Tensor, a0: torch.Tensor | None = None,
                     n_iter: int = 60, newton_steps: int = 1) -> torch.Tensor:
    """The magnitude a >= 0 with eta_hat(a) = eta (eta_hat is increasing for subquadratic
    penalties), without gradient, in float64 for float64 ``eta`` and float32 otherwise.

    From a warm start ``a0`` (the previous solution while eta changes by small optimiser
    steps): ``newton_steps`` steps of Newton's method on log eta_hat(a) = log eta in log a,
    with the slope by a finite difference (quadratic convergence keeps the tracking error at
    the square of the relative change of eta). Without ``a0``, or when a step is not finite
    and increasing, bisection on log a.
    """
    target = eta.detach()
    if target.dtype != torch.float64:
        target = target.float()
    closed = penalty._eta_hat_inverse(namespace(target), target)
    if closed is not None:
        return closed
    h = 1e-6 if target.dtype == torch.float64 else 1e-3
    log_t = torch.log(target)
    if a0 is not None and a0.shape == target.shape and a0.device == target.device:
        la = torch.log(a0.to(target.dtype).clamp_min(torch.finfo(target.dtype).tiny))
        ok = True
        for _ in range(newton_steps):
            g = torch.log(penalty.eta_hat(torch.exp(la))) - log_t
            slope = (torch.log(penalty.eta_hat(torch.exp(la + h))) - log_t - g) / h
            step = g / slope
            if not bool(torch.isfinite(step).all() and (slope > 0).all()):
                ok = False
                break
            la = la - step
        if ok:
            return torch.exp(la)
    hi = torch.ones_like(target)
    for _ in range(64):  # grow the bracket until eta_hat(hi) >= eta
        short = penalty.eta_hat(hi) < target
        if not bool(short.any()):
            break
        hi = torch.where(short, hi * 16.0, hi)
    log_hi = torch.log(hi)
    log_lo = log_hi - (80.0 if target.dtype == torch.float64 else 40.0)
    for _ in range(n_iter):
        mid = 0.5 * (log_lo + log_hi)
        above = penalty.eta_hat(torch.exp(mid)) >= target
        log_hi = torch.where(above, mid, log_hi)
        log_lo = torch.where(above, log_lo, mid)
    return torch.exp(0.5 * (log_lo + log_hi))


def eta_trick_objective(w: torch.Tensor, log_eta_bar: torch.Tensor, penalty: Penalty,
                        lam: float, decay: float,
                        a0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The eta-trick loss term of eq. (6) with appendix C's small pull on log eta_bar.

    ``lam/2 (sum w^2/eta + f(eta)) + lam decay sum log eta_bar`` with
    ``eta = lam exp(clip(log eta_bar, -30, 30))`` and f the penalty's dual (eq. 5) from its
    closed forms, f(eta) = 2 Omega(a) - a^2/eta with a = eta_hat^{-1}(eta), the maximiser of
    the Legendre-Fenchel form (so f is normalised with Omega(0) = 0 and differs from Table 3's
    by the constant ``2 * penalty.omega0``).

    Parameters
    ----------
    w, log_eta_bar : torch.Tensor
        Weights and log(eta / lam), same shape.
    penalty : Penalty
        A closed-form penalty of :mod:`skdropout.penalties`.
    lam, decay : float
        lambda and the coefficient of the log eta_bar term.
    a0 : torch.Tensor or None, default=None
        The previous ``eta_hat^{-1}(eta)``, a warm start for penalties without a closed-form
        inverse.

    Returns
    -------
    objective : torch.Tensor
        0-d, differentiable in ``w`` and ``log_eta_bar``.
    a : torch.Tensor
        ``eta_hat^{-1}(eta)``, the warm start of the next call.

    Examples
    --------
    >>> import torch
    >>> from skdropout.penalties import get_penalty
    >>> from skdropout.nn._kernels import eta_trick_objective
    >>> pen = get_penalty("l1")
    >>> w = torch.tensor([1.0]); lev = torch.tensor([0.0])  # eta = lam = 1: eta_hat(1) = 1
    >>> float(eta_trick_objective(w, lev, pen, 1.0, 0.0)[0])  # = Omega(1) = |1|
    1.0
    """
    keep: list[torch.Tensor | None] = [None]
    total = _Elementwise.apply(partial(_eta_trick, penalty=penalty, lam=float(lam),
                                       decay=float(decay), a0=a0, keep=keep), w, log_eta_bar)
    return total, keep[0]
