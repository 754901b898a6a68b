"""Per-weight terms of the sparsifying layers as autograd functions with analytic gradients.

Each method adds element-wise work on every weight at every step (a KL term, a sampled
gate, the eta-trick objective). Written as plain torch expressions, autograd records every
intermediate and replays a chain of element-wise backward kernels; on a CPU this costs
more than the layer's matrix products (the KL of Molchanov et al. on LeNet-300-100's
266,200 weights took longer than the dense network's forward and backward passes). The
functions below compute the value and, once, the few tensors their closed-form
derivatives need, so one step does a handful of element-wise passes instead. Each one is
checked against autograd on the plain expression and by finite differences
(``tests/test_nn_kernels.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..penalties import LogSum, Penalty
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


class _VarDropKL(torch.autograd.Function):
    """sum_j KL_j of the clipped log alpha_j (Molchanov et al.'s approximation).

    ``KL = k1 t + softplus(-la) / 2`` with ``t = sigmoid(-(k2 + k3 la))`` (the same as
    ``k1 - k1 sigmoid(k2 + k3 la) + log1p(1/alpha) / 2``, written without cancellation) and
    ``softplus(-la) = -log p``, ``p = sigmoid(la)``; ``dKL/dla = -k1 k3 t (1 - t) - (1 - p)/2``.
    With ``theta`` given (additive reparameterisation) the first input is log sigma^2 and
    ``la = log sigma^2 - log(theta^2 + 1e-16)``. In-place operations keep the number of
    full-size temporaries small.
    """

    @staticmethod
    def forward(ctx: Any, first: torch.Tensor, theta: torch.Tensor | None) -> torch.Tensor:
        theta_sq = None
        if theta is None:
            raw = first
        else:
            theta_sq = torch.mul(theta, theta).add_(_TINY)
            raw = torch.log(theta_sq).neg_().add_(first)
        la, outside = _clip(raw, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
        t = torch.mul(la, -K3).sub_(K2).sigmoid_()
        p = torch.sigmoid(la)
        total = K1 * t.sum() - 0.5 * torch.log(p).sum()
        ctx.save_for_backward(t, p, outside, theta, theta_sq)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        t, p, outside, theta, theta_sq = ctx.saved_tensors
        d = torch.mul(t, t).sub_(t).mul_(K1 * K3)  # -k1 k3 t (1 - t)
        d.add_(p, alpha=0.5).sub_(0.5)  # - (1 - p) / 2
        _zero_where(d, outside).mul_(grad)
        if theta is None:
            return d, None
        # la = log sigma^2 - log(theta^2 + tiny): dla/dtheta = -2 theta / (theta^2 + tiny)
        return d, torch.mul(d, theta).div_(theta_sq).mul_(-2.0)


def vardrop_kl_sum(first: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over weights of the KL term of eqs. (18)-(19), Molchanov et al.'s approximation.

    Parameters
    ----------
    first : torch.Tensor
        Log alpha (before clipping to [-10, 10]); with ``theta``, log sigma^2.
    theta : torch.Tensor or None, default=None
        The weights of the additive reparameterisation: then
        ``log alpha = log sigma^2 - log(theta^2 + 1e-16)``.

    Returns
    -------
    torch.Tensor
        0-d, differentiable in ``first`` and ``theta``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import vardrop_kl_sum
    >>> bool(vardrop_kl_sum(torch.tensor([8.0])) < 1e-3)  # KL -> 0 as alpha -> inf
    True
    """
    return _VarDropKL.apply(first, theta)


class _NoisyWeight(torch.autograd.Function):
    """``w (1 + sqrt(alpha) eps)`` with one standard normal eps per weight (VARDROP)."""

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, log_alpha: torch.Tensor) -> torch.Tensor:
        la, outside = _clip(log_alpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
        scaled = torch.mul(la, 0.5).exp_().mul_(torch.randn_like(w))  # sqrt(alpha) eps
        ctx.save_for_backward(w, scaled, outside)
        return torch.add(scaled, 1.0).mul_(w)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w, scaled, outside = ctx.saved_tensors
        grad = grad.contiguous()  # a Linear layer's weight gradient arrives transposed
        grad_w = torch.add(scaled, 1.0).mul_(grad)
        grad_la = _zero_where(torch.mul(grad, w).mul_(scaled).mul_(0.5), outside)
        return grad_w, grad_la


def noisy_weight(w: torch.Tensor, log_alpha: torch.Tensor) -> torch.Tensor:
    """One draw of the multiplicatively perturbed weights ``w (1 + sqrt(alpha) eps)``.

    ``alpha = exp(clip(log_alpha, -10, 10))``, eps ~ N(0, 1) per weight (VARDROP without
    reparameterisation tricks, section 4.2).

    Parameters
    ----------
    w, log_alpha : torch.Tensor
        Weights and their log alpha, same shape.

    Returns
    -------
    torch.Tensor
        The noisy weights, differentiable in ``w`` and ``log_alpha``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import noisy_weight
    >>> w = torch.ones(3)
    >>> bool(torch.allclose(noisy_weight(w, torch.full((3,), -10.0)), w, atol=0.05))
    True
    """
    return _NoisyWeight.apply(w, log_alpha)


class _LocalVariance(torch.autograd.Function):
    """The weight variances of the local reparameterisation trick: ``exp(log sigma^2)``
    (additive reparameterisation) or ``alpha w^2`` with alpha = exp(clip(log alpha))."""

    @staticmethod
    def forward(ctx: Any, first: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        if w is None:
            var = torch.exp(first)
            ctx.save_for_backward(var, None, None, None)
            return var
        alpha, outside = _clip(first, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
        alpha = torch.exp(alpha)
        var = torch.mul(w, w).mul_(alpha)
        ctx.save_for_backward(var, alpha, w, outside)
        return var

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        var, alpha, w, outside = ctx.saved_tensors
        grad = grad.contiguous()  # a Linear layer's weight gradient arrives transposed
        grad_first = torch.mul(grad, var)
        if w is None:
            return grad_first, None
        grad_w = torch.mul(grad, w).mul_(alpha).mul_(2.0)
        return _zero_where(grad_first, outside), grad_w


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
    return _LocalVariance.apply(first, w)


class _HardConcreteWeight(torch.autograd.Function):
    """``w s`` with one HARDCONCRETE(beta, gamma, zeta)(a) gate s per weight (eqs. 20-21)."""

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, log_a: torch.Tensor, beta: float, gamma: float,
                zeta: float) -> torch.Tensor:
        z = uniform_like(log_a).logit_(1e-6)  # logit(u), u clipped to [1e-6, 1 - 1e-6]
        z.add_(log_a).mul_(1.0 / beta).sigmoid_()
        s, outside = _clip(torch.mul(z, zeta - gamma).add_(gamma), 0.0, 1.0)
        # ds/dlog a = (zeta - gamma) z (1 - z) / beta where the gate is not clipped
        ds = _zero_where(torch.sub(1.0, z).mul_(z).mul_((zeta - gamma) / beta), outside)
        ctx.save_for_backward(w, s, ds)
        return w * s

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        w, s, ds = ctx.saved_tensors
        grad = grad.contiguous()  # a Linear layer's weight gradient arrives transposed
        return grad * s, torch.mul(grad, w).mul_(ds), None, None, None


def hardconcrete_weight(w: torch.Tensor, log_a: torch.Tensor, beta: float, gamma: float,
                        zeta: float) -> torch.Tensor:
    """Weights times one sampled hard concrete gate each (eqs. 20-21).

    ``s = min(1, max(0, sigmoid((log u - log(1-u) + log a) / beta) (zeta - gamma) + gamma))``
    with u ~ U(0, 1) per weight (:func:`uniform_like`).

    Parameters
    ----------
    w, log_a : torch.Tensor
        Weights and the gates' log a, same shape.
    beta, gamma, zeta : float
        Temperature and stretch interval.

    Returns
    -------
    torch.Tensor
        ``w * s``, differentiable in ``w`` and ``log_a``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._kernels import hardconcrete_weight
    >>> out = hardconcrete_weight(torch.ones(4), torch.full((4,), 20.0), 2 / 3, -0.1, 1.1)
    >>> out.tolist()  # gates wide open
    [1.0, 1.0, 1.0, 1.0]
    """
    return _HardConcreteWeight.apply(w, log_a, beta, gamma, zeta)


class _EtaTrickObjective(torch.autograd.Function):
    """``lam/2 (sum w^2/eta + f(eta)) + lam c sum log eta_bar`` of eq. (6), in (w, log eta_bar).

    eta = lam exp(clip(log eta_bar, -30, 30)), ``a2_over_eta`` = a^2/eta with
    a = eta_hat^{-1}(eta) and ``omega_sum`` = sum Omega(a) are given; f(eta) = 2 Omega(a) -
    a^2/eta. Gradients: ``lam w / eta`` in w and, by the envelope theorem (f'(eta) =
    a^2/eta^2), ``lam/2 (a^2 - w^2)/eta + lam c`` in log eta_bar (zero where it is clipped).
    """

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, log_eta_bar: torch.Tensor, eta: torch.Tensor,
                a2_over_eta: torch.Tensor, omega_sum: torch.Tensor, lev_sum: torch.Tensor,
                outside: torch.Tensor | None, lam: float, decay: float) -> torch.Tensor:
        w_over_eta = torch.div(w, eta)
        diff = torch.addcmul(a2_over_eta, w, w_over_eta, value=-1.0)  # (a^2 - w^2)/eta
        # lam/2 (sum w^2/eta + sum (2 Omega(a) - a^2/eta)) = lam sum Omega - lam/2 sum diff
        total = lam * omega_sum - 0.5 * lam * diff.sum() + lam * decay * lev_sum
        ctx.save_for_backward(w_over_eta, diff, outside)
        ctx.lam, ctx.decay = lam, decay
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        w_over_eta, diff, outside = ctx.saved_tensors
        lam, decay = ctx.lam, ctx.decay
        grad_w = torch.mul(w_over_eta, lam * grad)
        grad_lev = torch.mul(diff, 0.5 * lam * grad).add_(lam * decay * grad)
        return (grad_w, _zero_where(grad_lev, outside), None, None, None, None, None, None,
                None)


def _dual_terms(penalty: Penalty, eta: torch.Tensor, a0: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a = eta_hat^{-1}(eta)``, ``a^2/eta`` and ``sum Omega(a)``: what the value and the
    gradients of eq. (6) need from the penalty (no gradient).

    LOGSUM(eps), the paper's choice, in place from ``q = sqrt(eps^2 + 4 eta) + eps`` (Table
    3's closed form): ``a = 2 eta / q``, ``a^2/eta = 2 a / q`` and ``Omega(a) =
    log1p(a / eps)``, four temporaries fewer than the generic route; any other penalty by
    :func:`_inverse_eta_hat` and ``penalty.value``.
    """
    if isinstance(penalty, LogSum):
        eps = penalty.eps
        q = torch.mul(eta, 4.0).add_(eps * eps).sqrt_().add_(eps)
        a = torch.div(eta, q).mul_(2.0)
        omega_sum = torch.div(a, eps).log1p_().sum()
        return a, q.reciprocal_().mul_(a).mul_(2.0), omega_sum
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
    with torch.no_grad():
        lev, outside = _clip(log_eta_bar.detach(), -30.0, 30.0)
        lev_sum = lev.sum()
        eta = torch.exp(lev).mul_(lam)
        a, a2_over_eta, omega_sum = _dual_terms(penalty, eta, a0)
    total = _EtaTrickObjective.apply(w, log_eta_bar, eta, a2_over_eta, omega_sum, lev_sum,
                                     outside, float(lam), float(decay))
    return total, a
