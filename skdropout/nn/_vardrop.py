"""Variational dropout (Molchanov et al. 2017; the paper's section 4.2): the layer, its
per-weight terms (the KL of eq. 19, the noisy weights, the local variances) and its training
rule (a KL warm-up), and the specs of VARDROP+LR+AR, VARDROP+LR and VARDROP (Table 4).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..penalties._torch_ops import scalar_like, sum_log
from ._base import SparseLayer, check_number
from ._callbacks import StepRule
from ._spec import MethodSpec
from ._terms import (ElementwiseTerm, affine, clip, exp_of, first_order, sigmoid_slope,
                     zero_outside)

# Molchanov et al. (2017), eq. (14): the approximation of -KL for the log-uniform prior.
K1, K2, K3 = 0.63576, 1.87320, 1.48695
#: Molchanov et al.'s clipping range of log alpha.
LOG_ALPHA_MIN, LOG_ALPHA_MAX = -10.0, 10.0
#: The same range of alpha (alpha is increasing in log alpha).
ALPHA_MIN, ALPHA_MAX = math.exp(LOG_ALPHA_MIN), math.exp(LOG_ALPHA_MAX)
_TINY = 1e-16  # keeps log(theta^2) finite at theta = 0 (additive reparameterisation)


def _kl_and_slope(la: torch.Tensor, alpha: torch.Tensor, unclipped: torch.Tensor | None,
                  scale: float, bounds: tuple[float, float] = (LOG_ALPHA_MIN, LOG_ALPHA_MAX)
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``scale sum KL`` of the clipped log alpha ``la`` and its derivative in the unclipped
    log alpha (0 where ``unclipped``, log alpha or alpha itself, lies outside ``bounds``, the
    clipping range in its terms), given ``alpha = exp(la)``, which it overwrites:
    ``1 - p = 1 / (1 + alpha)`` and ``-log p = log1p(1/alpha)``, summed as the log of
    products of ``p = alpha (1 - p)`` (:func:`sum_log`)."""
    t = affine(la, -K3, -K2).sigmoid_()
    one_minus_p = torch.add(alpha, 1.0).reciprocal_()
    total = t.sum().mul_(K1 * scale).sub_(sum_log(alpha.mul_(one_minus_p)), alpha=0.5 * scale)
    d = sigmoid_slope(t, -K1 * K3 * scale, out=t).add_(one_minus_p, alpha=-0.5 * scale)
    return total, zero_outside(d, unclipped, *bounds, in_place=True)


def _theta_sq(theta: torch.Tensor) -> torch.Tensor:
    """``theta^2 + 1e-16`` (a new tensor) of the additive reparameterisation."""
    return torch.addcmul(scalar_like(_TINY, theta), theta, theta)


def _log_alpha_additive(log_sigma2: torch.Tensor, theta: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``log sigma^2 - log(theta^2 + 1e-16)`` (unclipped) and ``theta^2 + 1e-16``."""
    theta_sq = _theta_sq(theta)
    raw = torch.log(theta_sq)
    return torch.sub(log_sigma2, raw, out=raw), theta_sq


def _theta_slope(theta: torch.Tensor, theta_sq: torch.Tensor) -> torch.Tensor:
    """``dla/dtheta = -2 theta / (theta^2 + 1e-16)`` for the additive reparameterisation (a
    new tensor)."""
    return torch.addcdiv(scalar_like(0.0, theta), theta, theta_sq, value=-2.0)


def _vardrop_kl(first: torch.Tensor, theta: torch.Tensor | None, scale: float
                ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``scale`` times sum_j KL_j of the clipped log alpha_j (Molchanov et al.'s
    approximation), and its derivatives in ``first`` and ``theta``.

    ``KL = k1 t + log1p(1/alpha) / 2`` with ``t = sigmoid(-(k2 + k3 la))`` (the same as
    ``k1 - k1 sigmoid(k2 + k3 la) - log p / 2``, p = sigmoid(la), written without
    cancellation); ``dKL/dla = -k1 k3 t (1 - t) - (1 - p)/2``, with ``1 - p = 1 / (1 +
    alpha)`` (accurate where p is near 1).
    With ``theta`` given (additive reparameterisation) the first input is log sigma^2 and
    ``la = log sigma^2 - log(theta^2 + 1e-16)``, so ``dla/dtheta = -2 theta / (theta^2 +
    1e-16)``.
    """
    if theta is None:
        la, unclipped = clip(first, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
        total, d = _kl_and_slope(la, exp_of(la), unclipped, scale)
        return total, [d, None, None]
    raw, theta_sq = _log_alpha_additive(first, theta)
    la, unclipped = clip(raw, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
    total, d = _kl_and_slope(la, exp_of(la), unclipped, scale)
    return total, [d, _theta_slope(theta, theta_sq).mul_(d), None]


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
    >>> from skdropout.nn._vardrop import vardrop_kl_sum
    >>> bool(vardrop_kl_sum(torch.tensor([8.0])) < 1e-3)  # KL -> 0 as alpha -> inf
    True
    """
    return ElementwiseTerm.apply(_vardrop_kl, first, theta, float(scale))


def _kl_gradient(d_kl: torch.Tensor, grad_kl: torch.Tensor) -> torch.Tensor:
    """The KL's gradient ``d_kl * grad_kl``: ``d_kl`` itself (not to be modified: it is
    saved) when the KL enters the loss as it is."""
    if grad_kl.device.type == "cpu" and float(grad_kl) == 1.0:
        return d_kl
    return torch.mul(d_kl, grad_kl)


class _NoisyWeightAndKL(torch.autograd.Function):
    """``w (1 + sqrt(alpha) eps)`` with one standard normal eps per weight (VARDROP) and
    ``scale sum KL`` in one pass and one node: the noise's sqrt(alpha) gives the KL's
    alpha. The derivatives are ``1 + sqrt(alpha) eps`` in w and ``w sqrt(alpha) eps / 2``
    plus the KL's in log alpha (0 where log alpha is clipped); the backward pass forms them
    from the saved ``sqrt(alpha) eps``."""

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, log_alpha: torch.Tensor,
                scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn_like(w)
        la, unclipped = clip(log_alpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
        root = exp_of(la, 0.5)  # sqrt(alpha)
        noise.mul_(root)  # sqrt(alpha) eps
        # root is alpha now; the KL's derivative is masked with the noise's (backward)
        kl, d_kl = _kl_and_slope(la, root.mul_(root), None, scale)
        ctx.save_for_backward(w, noise, d_kl, unclipped)
        return torch.addcmul(w, w, noise), kl

    @staticmethod
    @first_order  # the derivatives are saved as values: no second order
    def backward(ctx: Any, grad: torch.Tensor, grad_kl: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, None]:
        w, noise, d_kl, unclipped = ctx.saved_tensors
        g_noise = torch.mul(grad, noise)  # products with the (contiguous) saved tensors
        # both derivatives in log alpha are 0 where it is clipped: one mask of their sum
        d_la = zero_outside(torch.addcmul(_kl_gradient(d_kl, grad_kl), g_noise, w, value=0.5),
                            unclipped, LOG_ALPHA_MIN, LOG_ALPHA_MAX, in_place=True)
        return g_noise.add_(grad), d_la, None


def vardrop_noise(w: torch.Tensor, log_alpha: torch.Tensor, scale: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One draw of the multiplicatively perturbed weights of VARDROP (no reparameterisation
    trick, section 4.2) and the layer's KL term.

    The weights are ``w (1 + sqrt(alpha) eps)`` with ``alpha = exp(clip(log_alpha, -10,
    10))`` and eps ~ N(0, 1) per weight from ``torch.randn_like``. The term is ``scale``
    times :func:`vardrop_kl_sum` of log alpha; both come from one pass and one autograd
    node.

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
    >>> from skdropout.nn._vardrop import vardrop_noise
    >>> w = torch.ones(3)
    >>> noisy, kl = vardrop_noise(w, torch.full((3,), -10.0), 1.0)
    >>> bool(torch.allclose(noisy, w, atol=0.05)), bool(kl > 0)
    (True, True)
    """
    return _NoisyWeightAndKL.apply(w, log_alpha, float(scale))


def _variance_and_kl(first: torch.Tensor, w: torch.Tensor, scale: float, additive: bool
                     ) -> tuple[torch.Tensor, ...]:
    """The weight variances of the local reparameterisation trick (``exp(log sigma^2)``, or
    ``alpha w^2`` with alpha = exp(clip(log alpha, -10, 10))) and ``scale sum KL``
    (:func:`vardrop_kl_sum`) sharing alpha, with what their derivatives need:
    ``(var, kl, d KL/d first, d w, clipped)``. ``d var/d first`` is ``var`` itself;
    ``clipped`` is None, or the unclipped log alpha when the first parameter's whole
    gradient (the KL's and the variance's) is 0 where it lies outside [-10, 10], a mask
    applied once to their sum. ``d w`` is half of ``d var/d w``, ``alpha w`` (``additive``
    False: ``(first, w)`` = (log alpha, w)), or ``theta / (theta^2 + 1e-16)``, the KL's
    derivative in theta over ``-2 dKL/d log alpha`` (``additive`` True: (log sigma^2,
    theta); the KL's derivative is masked, the variance's is not)."""
    if additive:
        var = exp_of(first)  # sigma^2, unclipped
        inv = _theta_sq(w).reciprocal_()  # 1 / (theta^2 + 1e-16)
        ratio = torch.mul(w, inv)
        # alpha = sigma^2 / (theta^2 + 1e-16) (in inv's storage), clipped to the range of
        # exp(clip(log alpha)) itself (alpha increases with log alpha), then its log: one
        # log and no exp
        alpha, unclipped = clip(inv.mul_(var), ALPHA_MIN, ALPHA_MAX)
        kl, d_kl = _kl_and_slope(torch.log(alpha), alpha, unclipped, scale,
                                 (ALPHA_MIN, ALPHA_MAX))
        return var, kl, d_kl, ratio, None
    la, unclipped = clip(first, LOG_ALPHA_MIN, LOG_ALPHA_MAX)
    alpha = exp_of(la)
    alpha_w = torch.mul(alpha, w)
    var = torch.mul(alpha_w, w)
    kl, d_kl = _kl_and_slope(la, alpha, None, scale)  # masked with the variance's term
    return var, kl, d_kl, alpha_w, unclipped


def _same_padding(conv: dict[str, Any], weight: torch.Tensor
                  ) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """The integer padding of a convolution (``padding='same'`` or ``'valid'`` resolved as
    torch resolves it) and the extra right/bottom padding of ``F.pad`` where the total
    ``dilation (k - 1)`` of a 'same' convolution is odd (None: none)."""
    padding = conv["padding"]
    if not isinstance(padding, str):
        return tuple(padding), None
    if padding == "valid":
        return (0,) * (weight.dim() - 2), None
    totals = [d * (k - 1) for d, k in zip(conv["dilation"], weight.shape[2:])]
    extra = [t % 2 for t in reversed(totals)]
    return (tuple(t // 2 for t in totals),
            tuple(v for e in extra for v in (0, e)) if any(extra) else None)


def _layer_op(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None,
              conv: dict[str, Any] | None, padding: tuple[int, ...] | None) -> torch.Tensor:
    """``F.linear`` (``conv`` None) or ``F.conv2d`` with the integer ``padding``."""
    if conv is None:
        return F.linear(x, w, bias)
    return F.conv2d(x, w, bias, conv["stride"], padding, conv["dilation"], conv["groups"])


def _op_grads(grad: torch.Tensor, x: torch.Tensor, w: torch.Tensor,
              conv: dict[str, Any] | None, padding: tuple[int, ...] | None,
              mask: tuple[bool, bool, bool]) -> tuple[torch.Tensor | None, ...]:
    """The gradients in the input, the weights and the bias (those ``mask`` asks for) of
    :func:`_layer_op` given the gradient of its output: matrix products for a linear layer,
    aten's convolution backward for a convolution."""
    if conv is not None:
        return torch.ops.aten.convolution_backward(
            grad, x, w, [w.shape[0]] if mask[2] else None, list(conv["stride"]),
            list(padding), list(conv["dilation"]), False, [0] * len(padding),
            conv["groups"], list(mask))
    rows = grad.reshape(-1, grad.shape[-1])
    return (grad.matmul(w) if mask[0] else None,
            rows.t().mm(x.reshape(-1, x.shape[-1])) if mask[1] else None,
            rows.sum(0) if mask[2] else None)


class _LocalReparameterisation(torch.autograd.Function):
    """The output of a layer with Gaussian weights, sampled by the local reparameterisation
    trick, and ``scale sum KL``, in one node: ``op(x, w) + b + sqrt(op(x^2, var) + 1e-8)
    eps`` with one standard normal eps per output entry (``op`` a linear map or a
    convolution) and the variances and KL of :func:`_variance_and_kl`.

    The backward pass takes the incoming gradient g through both products at once:
    ``g_v = g eps / (2 sqrt(op(x^2, var) + 1e-8))``, the weights' gradient is
    ``op_w(g, x)`` plus ``op_w(g_v, x^2) d var/dw`` (or the KL's theta slope), the first
    parameter's ``op_w(g_v, x^2) d var/d first`` plus the KL's, the input's ``op_x(g, w) + 2
    x op_x(g_v, var)``; it carries ``2 g_v`` through the products and folds the factor into
    the last multiplications.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, first: torch.Tensor,
                bias: torch.Tensor | None, scale: float, additive: bool,
                conv: dict[str, Any] | None) -> tuple[torch.Tensor, torch.Tensor]:
        var, kl, d_kl, d_w, clipped = _variance_and_kl(first, w, scale, additive)
        padding = extra = None
        if conv is not None:
            padding, extra = _same_padding(conv, w)
            if extra is not None:
                x = F.pad(x, extra)
        x_sq = torch.mul(x, x)
        out = _layer_op(x, w, bias, conv, padding)
        std = _layer_op(x_sq, var, None, conv, padding).add_(1e-8).sqrt_()
        eps = torch.randn_like(out)
        out.addcmul_(std, eps)
        ctx.save_for_backward(x, x_sq, w, var, d_kl, d_w, clipped,
                              eps.div_(std))  # 2 d out / d op(x^2, var)
        ctx.conv, ctx.padding, ctx.extra = conv, padding, extra
        ctx.shape, ctx.additive, ctx.has_bias = x.shape, additive, bias is not None
        return out, kl

    @staticmethod
    @first_order  # the derivatives are saved as values: no second order
    def backward(ctx: Any, grad: torch.Tensor, grad_kl: torch.Tensor
                 ) -> tuple[torch.Tensor | None, ...]:
        x, x_sq, w, var, d_kl, d_w, clipped, slope = ctx.saved_tensors
        need_x, need_w, need_first = ctx.needs_input_grad[:3]
        grad = grad.contiguous()  # products with the (contiguous) saved tensors
        g_var = torch.mul(grad, slope)  # twice the gradient of op(x^2, var)
        conv, padding = ctx.conv, ctx.padding
        g_x, g_w, g_b = _op_grads(grad, x, w, conv, padding, (need_x, need_w, ctx.has_bias))
        g_x_sq, g_var_w, _ = _op_grads(g_var, x_sq, var, conv, padding,
                                      (need_x, need_w or need_first, False))
        if need_x:
            g_x.addcmul_(x, g_x_sq)
            if ctx.extra is not None:  # the gradient of the unpadded input
                g_x = g_x[..., :ctx.shape[-2] - ctx.extra[3], :ctx.shape[-1] - ctx.extra[1]]
        d_kl = _kl_gradient(d_kl, grad_kl)
        g_first = None
        if need_first:
            g_first = zero_outside(torch.addcmul(d_kl, g_var_w, var, value=0.5), clipped,
                                   LOG_ALPHA_MIN, LOG_ALPHA_MAX, in_place=True)
        if need_w:
            if ctx.additive:  # the variance does not depend on theta, the KL does
                g_w.addcmul_(d_w, d_kl, value=-2.0)
            else:
                g_w.addcmul_(g_var_w, d_w)
        return g_x, g_w, g_first, g_b, None, None, None


def local_reparameterisation(x: torch.Tensor, w: torch.Tensor, first: torch.Tensor,
                             bias: torch.Tensor | None, scale: float, additive: bool,
                             conv: dict[str, Any] | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """One draw of the output of a layer with Gaussian weights by the local
    reparameterisation trick (Kingma et al. 2015), and the layer's KL term, in one node.

    The output is Gaussian given x, with mean ``op(x, w) + b`` and variance ``op(x^2, var)``
    (+1e-8), ``var`` the weights' variances (``exp(log sigma^2)``, or ``alpha w^2`` with
    alpha = exp(clip(log alpha, -10, 10))), drawn with
    ``torch.randn_like``; the term is ``scale`` times :func:`vardrop_kl_sum`.

    Parameters
    ----------
    x : torch.Tensor
        The input, ``(n, in_features)`` (linear) or ``(n, C, H, W)`` (convolution).
    w : torch.Tensor
        The weights w (``additive`` False) or theta (``additive`` True).
    first : torch.Tensor
        Log alpha (``additive`` False) or log sigma^2 (``additive`` True), shaped like w.
    bias : torch.Tensor or None
        The bias.
    scale : float
        The factor of the KL sum (lam in the loss).
    additive : bool
        Whether the parameters are those of the additive reparameterisation.
    conv : dict or None, default=None
        None for a linear layer; a convolution's ``stride``, ``padding``, ``dilation`` and
        ``groups``.

    Returns
    -------
    out : torch.Tensor
        The sampled output, differentiable in ``x``, ``w``, ``first`` and ``bias``.
    kl : torch.Tensor
        0-d, ``scale * sum KL``, differentiable in ``first`` (and theta).

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._vardrop import local_reparameterisation
    >>> x, w = torch.ones(4, 3), torch.ones(2, 3)
    >>> out, kl = local_reparameterisation(x, w, torch.full((2, 3), -10.0), None, 1.0,
    ...                                    additive=False)
    >>> bool(torch.allclose(out, x @ w.T, atol=0.1)), bool(kl > 0)
    (True, True)
    """
    return _LocalReparameterisation.apply(x, w, first, bias, float(scale), bool(additive),
                                          conv)


class VarDropLayer(SparseLayer):
    """Sparse variational dropout with Gaussian multiplicative weight noise (eqs. 18-19) [1]_.

    The paper's section 4.2 shows that variational dropout solves eq. (18): the expected
    loss under dropout noise plus ``1/n`` times the KL divergence of eq. (19), a dual
    penalty f of the noise level. Three variants of Table 4 (VARDROP+LR+AR, VARDROP+LR,
    VARDROP):

    ``mode='lr_ar'``: parameters theta (``weight``) and log sigma^2, log alpha =
    log sigma^2 - log theta^2 clipped to [-10, 10]; local and additive reparameterisation.
    ``mode='lr'``: parameters w and log alpha; local reparameterisation only.
    ``mode='plain'``: parameters w and log alpha; one sample of multiplicative noise
    ``w (1 + sqrt(alpha) eps)`` per mini-batch (no trick).

    The loss term is ``lam * sum KL`` (Molchanov et al.'s approximation,
    :func:`skdropout.nn._vardrop.vardrop_kl_sum`), with lam = 1/N for the
    variational bound (N the number of training samples). In the paper's variables
    eta_bar = eta/lam = 1/alpha_molchanov, so the keep probability is
    ``sigmoid(-log alpha)`` and a weight is pruned when log alpha > log 19.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Weight of the KL term; 1/N (N training samples) gives the variational bound of
        eq. (18), as in Table 4.
    mode : {'lr_ar', 'lr', 'plain'}, default='lr_ar'
        Which reparameterisation tricks are used (see above).
    init_log_alpha : float, default=-5.0
        Initial log alpha of every weight (keep probability ``sigmoid(5)`` ~ 0.993); with
        ``mode='lr_ar'``, log sigma^2 starts at ``log theta^2 + init_log_alpha`` unless
        ``init_log_sigma2`` is given.
    init_weight_std : float > 0 or None, default=None
        None keeps the replaced layer's weight and bias; a number draws every weight from
        N(0, init_weight_std^2) and sets the bias to 0 (Molchanov et al.'s layers, and the
        authors' Table 4 code, use 0.02).
    init_log_sigma2 : float or None, default=None
        ``mode='lr_ar'`` only: the initial log sigma^2 of every weight, so that log alpha
        starts at ``init_log_sigma2 - log theta^2`` (the authors' code starts log sigma at
        -5, i.e. log sigma^2 = -10). None: ``log theta^2 + init_log_alpha``.

    See Also
    --------
    skdropout.penalties.VarDrop : Its effective penalty Omega.
    KLWarmup : The warm-up of the KL term.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.2.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import VarDropLayer
    >>> _ = torch.manual_seed(0)
    >>> layer = VarDropLayer(nn.Linear(3, 2), lam=1 / 60000, mode="lr")
    >>> bool(torch.allclose(layer.keep_prob(), torch.sigmoid(torch.tensor(5.0))))
    True
    >>> layer(torch.ones(4, 3)).shape  # training mode: noisy, local reparameterisation
    torch.Size([4, 2])
    >>> with torch.no_grad():
    ...     layer.log_alpha_[0, 0] = 4.0  # log alpha > log 19: pruned
    >>> layer.mask()
    tensor([[False,  True,  True],
            [ True,  True,  True]])
    >>> out = layer.eval()(torch.ones(1, 3))  # deterministic, weight (0, 0) is zero
    >>> bool(torch.allclose(out, torch.ones(1, 3) @ layer.pruned_weight().T + layer.bias))
    True
    """

    def __init__(self, base: nn.Module, lam: float, mode: str = "lr_ar",
                 init_log_alpha: float = -5.0, init_weight_std: float | None = None,
                 init_log_sigma2: float | None = None) -> None:
        super().__init__(base, lam)
        if mode not in ("lr_ar", "lr", "plain"):
            raise ValueError(f"VarDropLayer: mode must be 'lr_ar', 'lr' or 'plain', got {mode!r}.")
        init_log_alpha = check_number("VarDropLayer", "init_log_alpha", init_log_alpha)
        if init_weight_std is not None:
            std = check_number("VarDropLayer", "init_weight_std", init_weight_std, 0.0,
                               low_open=True)
            with torch.no_grad():
                self.weight.normal_(0.0, std)
                if self.bias is not None:
                    self.bias.zero_()
        if init_log_sigma2 is not None:
            if mode != "lr_ar":
                raise ValueError("VarDropLayer: init_log_sigma2 is an option of mode 'lr_ar' "
                                 f"(additive reparameterisation) only, not of {mode!r}.")
            init_log_sigma2 = check_number("VarDropLayer", "init_log_sigma2", init_log_sigma2)
        self.mode = mode
        #: factor of the KL term, raised from 0 to 1 during a KL warm-up (1 otherwise)
        self.kl_weight = 1.0
        if mode == "lr_ar":
            if init_log_sigma2 is None:
                init = torch.log(self.weight.detach() ** 2 + _TINY) + init_log_alpha
            else:
                init = torch.full_like(self.weight.detach(), init_log_sigma2)
            self.log_sigma2 = nn.Parameter(init)
        else:
            self.log_alpha_ = nn.Parameter(torch.full_like(self.weight, init_log_alpha))

    def log_alpha(self) -> torch.Tensor:
        """Molchanov's log alpha (noise variance over squared mean), clipped to [-10, 10].

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, differentiable; ``-log(n eta)`` in the paper's
            variables (footnote 3).
        """
        if self.mode == "lr_ar":
            la = self.log_sigma2 - torch.log(self.weight ** 2 + _TINY)
        else:
            la = self.log_alpha_
        return torch.clamp(la, LOG_ALPHA_MIN, LOG_ALPHA_MAX)

    def keep_prob(self) -> torch.Tensor:
        """Keep probability eta_bar / (eta_bar + 1) = sigmoid(-log alpha) (eq. 8).

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values in (0, 1), without gradient.
        """
        return torch.sigmoid(-self.log_alpha().detach())

    def mask(self) -> torch.Tensor:
        """Molchanov's rule: keep the weights with log alpha < log((1 - k) / k), k the
        ``keep_min`` (log 19 for the default 0.05).

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight`` (the same as keep probability >= k).
        """
        return self.log_alpha().detach() < -self.logit_keep_min()

    def regularizer(self) -> torch.Tensor:
        """``kl_weight * lam * sum KL``, the KL term of eq. (18) (Molchanov et al.'s
        approximation, with analytic gradients: ``skdropout.nn._vardrop.vardrop_kl_sum``);
        ``kl_weight`` is 1 except during a KL warm-up.

        Returns
        -------
        torch.Tensor
            A differentiable 0-d tensor.
        """
        scale = self.lam * self.kl_weight
        if self.mode == "lr_ar":
            theta, log_sigma2 = self._fetch("weight", "log_sigma2")
            held = self._take_term(scale, log_sigma2, theta)  # from the last forward pass
            return held if held is not None else vardrop_kl_sum(log_sigma2, theta, scale)
        log_alpha, = self._fetch("log_alpha_")
        held = self._take_term(scale, log_alpha)
        return held if held is not None else vardrop_kl_sum(log_alpha, scale=scale)

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One draw of the noisy layer: the weight noise (``'plain'``) or its output
        distribution, Gaussian with the mean and variance of the output (``'lr'``,
        ``'lr_ar'``, local reparameterisation).

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(n, in_features)`` for a Linear layer, ``(n, C, H, W)`` for a
            Conv2d layer.

        Returns
        -------
        torch.Tensor
            A random sample of the layer's output.
        """
        # the KL term comes with the noise or the variances (one pass, one node)
        additive = self.mode == "lr_ar"
        w, first, bias = self._fetch("weight", "log_sigma2" if additive else "log_alpha_",
                                     "bias")
        scale = self.lam * self.kl_weight
        if self.mode == "plain":
            noisy, kl = vardrop_noise(w, first, scale)
            self._hold_term(kl, scale, first)
            return self._op(x, noisy, bias)
        out, kl = local_reparameterisation(x, w, first, bias, scale, additive, self.conv)
        self._hold_term(kl, scale, *((first, w) if additive else (first,)))
        return out


class KLWarmup(StepRule):
    """Raise the weight of the variational dropout KL term linearly from 0 to 1 over the
    first ``epochs`` epochs, by training step, before each optimiser step (the annealing of
    the reference code of Molchanov et al.); 0 leaves the weight at 1.

    The weight at training step t (from 1) is ``min(1, t / (epochs * steps per epoch))``;
    it multiplies the KL term of eq. (18), so the bound is the paper's only from then on.
    Set it on the estimators as ``callbacks__kl_warmup__epochs``.

    Parameters
    ----------
    epochs : float >= 0, default=0.0
        Length of the warm-up in epochs (0: off).

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.nn import SparseNetRegressor, LeNet300100
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(32, 5)).astype("float32"); y = X[:, :1]
    >>> net = SparseNetRegressor(LeNet300100, module__in_features=5, module__hidden=(8,),
    ...                          module__n_classes=1, method="vardrop", batch_size=8,
    ...                          callbacks__kl_warmup__epochs=2, max_epochs=1,
    ...                          random_state=0, verbose=0).fit(X, y)
    >>> net.sparse_layers()[0].kl_weight  # 4 of the warm-up's 8 steps
    0.5
    """

    def __init__(self, epochs: float = 0.0) -> None:
        self.epochs = epochs

    def initialize(self) -> KLWarmup:
        """Check ``epochs`` and reset the step count.

        Returns
        -------
        KLWarmup
            self.
        """
        check_number("KLWarmup", "epochs", self.epochs, 0.0)
        return super().initialize()

    def on_batch_begin(self, net: Any, batch: Any = None, training: bool = False,
                       **kwargs: Any) -> None:
        """Before a training batch, set the KL weight of every :class:`VarDropLayer`.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        batch : tuple, optional
            The batch (unused).
        training : bool, default=False
            Whether the batch is a training batch; others change nothing.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        if not training or not self.epochs:
            return
        step = self.count_step(net)
        weight = min(1.0, step / (self.epochs * self.total_ / net.max_epochs))
        for layer in net.sparse_layers():
            if isinstance(layer, VarDropLayer):
                layer.kl_weight = weight


def _layer(mode: str) -> Any:
    def make(base: nn.Module, lam: float, penalty: Any, **options: Any) -> VarDropLayer:
        return VarDropLayer(base, lam, mode=mode, **options)
    return make


#: The three variants of Table 4; lam None is 1/N (the variational bound). Defaults here.
SPECS = tuple(
    MethodSpec(name, _layer(mode),
               {"init_log_alpha": -8.0, "init_weight_std": None,
                **({"init_log_sigma2": None} if mode == "lr_ar" else {})},
               callbacks=(("kl_warmup", KLWarmup, {"epochs": 10.0}),), default_lam=None)
    for name, mode in (("vardrop_lr_ar", "lr_ar"), ("vardrop_lr", "lr"), ("vardrop", "plain")))
