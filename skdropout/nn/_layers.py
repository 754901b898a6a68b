"""Sparsifying torch layers: one layer type per method of Table 4 (and the other
sparsifiers of section 4), each a drop-in replacement of an ``nn.Linear`` or ``nn.Conv2d``.

Every layer exposes the paper's keep probability ``keep_prob()`` (eq. 8,
``alpha = eta / (eta + lam)``) per weight and applies one pruning rule: a weight whose keep
probability is below :data:`KEEP_MIN` is exactly zero whenever the layer is evaluated
(``module.eval()``). ``regularizer()`` is the term the layer adds to the training loss.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..penalties import Penalty, hardconcrete_moments

#: A weight is pruned when its keep probability is below this (Molchanov et al.'s rule:
#: for variational dropout it is log alpha > log 19).
KEEP_MIN = 0.05
LOG_19 = math.log((1.0 - KEEP_MIN) / KEEP_MIN)

# Molchanov et al. (2017), eq. (14): the approximation of -KL for the log-uniform prior.
_K1, _K2, _K3 = 0.63576, 1.87320, 1.48695


def vardrop_kl(log_alpha: torch.Tensor) -> torch.Tensor:
    """KL(q || p) of one weight under the log-uniform prior, Molchanov et al.'s approximation.

    ``-KL = k1 sigmoid(k2 + k3 log alpha) - log1p(1/alpha)/2 - k1`` with k1 = 0.63576,
    k2 = 1.87320, k3 = 1.48695 (so KL -> 0 as alpha -> inf). ``alpha`` is Molchanov's
    noise-variance ratio, ``1/(n eta)`` in the paper's footnote 3.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._layers import vardrop_kl
    >>> bool(vardrop_kl(torch.tensor(8.0)) < 1e-3)
    True
    """
    neg_kl = _K1 * torch.sigmoid(_K2 + _K3 * log_alpha) - 0.5 * F.softplus(-log_alpha) - _K1
    return -neg_kl


class SparseLayer(nn.Module):
    """Base of the sparsifying layers: the weights of a Linear or Conv2d layer plus a rule.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Regularisation strength lambda of eq. (1)/(6).
    """

    #: whether the layer may replace an ``nn.Conv2d``
    conv_ok = True

    def __init__(self, base: nn.Module, lam: float) -> None:
        super().__init__()
        if isinstance(base, nn.Conv2d):
            if not self.conv_ok:
                raise TypeError(f"{type(self).__name__} replaces nn.Linear layers only.")
            if base.padding_mode != "zeros":
                raise ValueError("Only padding_mode='zeros' convolutions can be replaced.")
            self.conv = {"stride": base.stride, "padding": base.padding,
                         "dilation": base.dilation, "groups": base.groups}
        elif isinstance(base, nn.Linear):
            self.conv = None
        else:
            raise TypeError(f"Cannot replace a {type(base).__name__}; expected nn.Linear"
                            f"{' or nn.Conv2d' if self.conv_ok else ''}.")
        self.weight = nn.Parameter(base.weight.detach().clone())
        self.bias = None if base.bias is None else nn.Parameter(base.bias.detach().clone())
        self.lam = float(lam)

    # -- the rule -----------------------------------------------------------------------
    def keep_prob(self) -> torch.Tensor:
        """Keep probability alpha = eta / (eta + lam) of each weight (eq. 8), detached."""
        raise NotImplementedError

    def mask(self) -> torch.Tensor:
        """Boolean tensor shaped like ``weight``: True where the weight is kept."""
        return self.keep_prob() >= KEEP_MIN

    def pruned_weight(self) -> torch.Tensor:
        """The weight the evaluated model uses: pruned entries exactly zero."""
        return torch.where(self.mask(), self.weight, torch.zeros_like(self.weight))

    def regularizer(self) -> torch.Tensor:
        """The term this layer adds to the training loss."""
        return self.weight.new_zeros(())

    # -- forward --------------------------------------------------------------------------
    def _op(self, x: torch.Tensor, weight: torch.Tensor,
            bias: torch.Tensor | None) -> torch.Tensor:
        if self.conv is None:
            return F.linear(x, weight, bias)
        return F.conv2d(x, weight, bias, **self.conv)

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass used while training (noise, gates); plain by default."""
        return self._op(x, self.weight, self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.train_forward(x)
        return self._op(x, self.pruned_weight(), self.bias)

    def to_dense(self) -> nn.Module:
        """A plain ``nn.Linear``/``nn.Conv2d`` computing this layer's evaluated output."""
        w = self.pruned_weight().detach()
        if self.conv is None:
            out = nn.Linear(w.shape[1], w.shape[0], bias=self.bias is not None)
        else:
            out = nn.Conv2d(w.shape[1] * self.conv["groups"], w.shape[0], w.shape[2:],
                            bias=self.bias is not None, **self.conv)
        out = out.to(device=w.device, dtype=w.dtype)
        with torch.no_grad():
            out.weight.copy_(w)
            if self.bias is not None:
                out.bias.copy_(self.bias.detach())
        return out

    def extra_repr(self) -> str:
        kind = "conv2d" if self.conv is not None else "linear"
        return f"{kind}, weight={tuple(self.weight.shape)}, lam={self.lam:g}"


# -- variational dropout (Molchanov et al. 2017; the paper's section 4.2) ----------------
class VarDropLayer(SparseLayer):
    """Sparse variational dropout with Gaussian multiplicative weight noise.

    ``mode='lr_ar'``: parameters theta (``weight``) and log sigma^2, log alpha =
    log sigma^2 - log theta^2 clipped to [-10, 10]; local and additive reparameterisation.
    ``mode='lr'``: parameters w and log alpha; local reparameterisation only.
    ``mode='plain'``: parameters w and log alpha; one sample of multiplicative noise
    ``w (1 + sqrt(alpha) eps)`` per mini-batch (no trick).

    The loss term is ``lam * sum KL`` (:func:`vardrop_kl`), with lam = 1/N for the
    variational bound (N the number of training samples). In the paper's variables
    eta_bar = eta/lam = 1/alpha_molchanov, so the keep probability is
    ``sigmoid(-log alpha)`` and a weight is pruned when log alpha > log 19.
    """

    def __init__(self, base: nn.Module, lam: float, mode: str = "lr_ar",
                 init_log_alpha: float = -5.0) -> None:
        super().__init__(base, lam)
        if mode not in ("lr_ar", "lr", "plain"):
            raise ValueError(f"mode must be 'lr_ar', 'lr' or 'plain', got {mode!r}.")
        self.mode = mode
        if mode == "lr_ar":
            init = torch.log(self.weight.detach() ** 2 + 1e-16) + init_log_alpha
            self.log_sigma2 = nn.Parameter(init)
        else:
            self.log_alpha_ = nn.Parameter(torch.full_like(self.weight, init_log_alpha))

    def log_alpha(self) -> torch.Tensor:
        """Molchanov's log alpha (noise variance over squared mean), clipped to [-10, 10]."""
        if self.mode == "lr_ar":
            la = self.log_sigma2 - torch.log(self.weight ** 2 + 1e-16)
        else:
            la = self.log_alpha_
        return torch.clamp(la, -10.0, 10.0)

    def keep_prob(self) -> torch.Tensor:
        return torch.sigmoid(-self.log_alpha().detach())

    def mask(self) -> torch.Tensor:
        return self.log_alpha().detach() < LOG_19

    def regularizer(self) -> torch.Tensor:
        return self.lam * vardrop_kl(self.log_alpha()).sum()

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "plain":
            noise = torch.randn_like(self.weight)
            w = self.weight * (1.0 + torch.exp(0.5 * self.log_alpha()) * noise)
            return self._op(x, w, self.bias)
        if self.mode == "lr_ar":
            var_w = torch.exp(self.log_sigma2)
        else:
            var_w = torch.exp(self.log_alpha()) * self.weight ** 2
        mean = self._op(x, self.weight, self.bias)
        std = torch.sqrt(self._op(x * x, var_w, None) + 1e-8)
        return mean + std * torch.randn_like(mean)


# -- penalty-based eta-trick strategies (section 5) ----------------------------------------
class PenaltyLayer(SparseLayer):
    """A layer whose keep probability is ``penalty.keep_prob(w, lam)`` (eqs. 7-8).

    ``rule`` selects how the penalty enters training:

    - ``'logsum'`` (any penalty): loss + lam * Omega(w) (eq. 1), by autograd.
    - ``'adatikhonov'``: loss + lam/2 sum w^2 / eta with eta = eta_hat(w) held fixed
      (eq. 6 with the eta-step done exactly each iteration).
    - ``'adaprox'``: no loss term; :meth:`prox` applies w <- w / (1 + rho lam / eta_hat(w))
      after each optimiser step (Algorithm 1, appendix B).
    """

    def __init__(self, base: nn.Module, lam: float, penalty: Penalty,
                 rule: str = "logsum") -> None:
        super().__init__(base, lam)
        if rule not in ("logsum", "adatikhonov", "adaprox"):
            raise ValueError(f"rule must be 'logsum', 'adatikhonov' or 'adaprox', got {rule!r}.")
        self.penalty = penalty
        self.rule = rule

    def keep_prob(self) -> torch.Tensor:
        return self.penalty.keep_prob(self.weight.detach(), self.lam)

    def regularizer(self) -> torch.Tensor:
        if self.rule == "logsum":
            return self.lam * self.penalty.value(self.weight)
        if self.rule == "adatikhonov":
            w = self.weight
            eta = self.penalty.eta_hat(w.detach())
            pos = eta > 0
            quad = torch.where(pos, w * w / torch.where(pos, eta, torch.ones_like(eta)),
                               torch.zeros_like(w))
            return 0.5 * self.lam * quad.sum()
        return self.weight.new_zeros(())

    @torch.no_grad()
    def prox(self, step: torch.Tensor | float) -> None:
        """The proximal step of the adaptive Tikhonov penalty, w <- w eta / (eta + rho lam).

        ``step`` is the optimiser's effective per-weight step rho (a tensor like ``weight``
        or a float); eta = eta_hat(w) = inf leaves w unchanged, eta = 0 sets it to 0.
        """
        eta = self.penalty.eta_hat(self.weight)
        shrink = torch.where(torch.isinf(eta), torch.ones_like(eta),
                             eta / (eta + step * self.lam))
        self.weight.mul_(shrink)


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


def dual_torch(penalty: Penalty, eta: torch.Tensor,
               a: torch.Tensor | None = None) -> torch.Tensor:
    """f(eta) of eq. (5) on torch tensors, differentiable in eta, from the penalty's closed
    forms: f(eta) = 2 Omega(a) - a^2 / eta with a = eta_hat^{-1}(eta) (the maximiser of the
    Legendre-Fenchel form, found without gradient by :func:`_inverse_eta_hat`). By the
    envelope theorem the gradient of this expression in eta is exactly f'(eta) = a^2/eta^2.

    Uses the normalised Omega (Omega(0) = 0), so it differs from Table 3's f by the constant
    ``2 * penalty.omega0``. ``a`` may be passed when already known.

    Examples
    --------
    >>> import torch
    >>> from skdropout.penalties import get_penalty
    >>> from skdropout.nn._layers import dual_torch
    >>> pen = get_penalty("logsum", eps=2.0)
    >>> eta = torch.tensor([0.5, 3.0], dtype=torch.float64)
    >>> ref = pen.dual_pointwise(eta.numpy()) - 2 * pen.omega0
    >>> bool(torch.allclose(dual_torch(pen, eta), torch.as_tensor(ref), rtol=1e-6))
    True
    """
    if a is None:
        with torch.no_grad():
            a = _inverse_eta_hat(penalty, eta)
    a = a.to(eta.dtype)
    return 2.0 * penalty.pointwise(a) - a * a / eta


class EtaTrickLayer(SparseLayer):
    """Joint gradient descent in w and log eta of eq. (6) (the paper's eta-TRICK).

    As in appendix C, the parameter is ``log_eta_bar = log(eta / lam)`` initialised at
    ``init_log_eta`` (5), and a small term ``lam * log_eta_decay * sum log_eta_bar``
    (``log_eta_decay = 1e-3``) makes the eta parameters follow the sparse w. The keep
    probability is ``eta / (eta + lam) = sigmoid(log_eta_bar)``.
    """

    def __init__(self, base: nn.Module, lam: float, penalty: Penalty,
                 init_log_eta: float = 5.0, log_eta_decay: float = 1e-3) -> None:
        super().__init__(base, lam)
        self.penalty = penalty
        self.log_eta_decay = float(log_eta_decay)
        self.log_eta_bar = nn.Parameter(torch.full_like(self.weight, float(init_log_eta)))
        self._a: torch.Tensor | None = None  # warm start of eta_hat^{-1}(eta)

    def keep_prob(self) -> torch.Tensor:
        return torch.sigmoid(self.log_eta_bar.detach())

    def mask(self) -> torch.Tensor:
        return self.log_eta_bar.detach() >= -LOG_19

    def regularizer(self) -> torch.Tensor:
        lev = torch.clamp(self.log_eta_bar, -30.0, 30.0)
        eta = self.lam * torch.exp(lev)
        w = self.weight
        with torch.no_grad():
            self._a = _inverse_eta_hat(self.penalty, eta, self._a)
        obj = (w * w / eta).sum() + dual_torch(self.penalty, eta, self._a).sum()
        return 0.5 * self.lam * obj + self.lam * self.log_eta_decay * lev.sum()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_a"] = None
        return state


def _hc_keep_prob(log_a: np.ndarray, beta: float, gamma: float, zeta: float) -> np.ndarray:
    """alpha~ = E[s]^2 / E[s^2] of HARDCONCRETE gates (section 4, biased masks)."""
    mean, _, var = hardconcrete_moments(np.asarray(log_a, dtype=np.float64), beta, gamma, zeta)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, mean**2 / (mean**2 + var), 0.0)


@functools.lru_cache(maxsize=32)
def _hc_log_a_threshold(beta: float, gamma: float, zeta: float) -> float:
    """The log a at which alpha~ = 0.05 (alpha~ increases with log a), by bisection."""
    lo, hi = -60.0, 60.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _hc_keep_prob(np.array([mid]), beta, gamma, zeta)[0] >= KEEP_MIN:
            hi = mid
        else:
            lo = mid
    return hi


# -- hard concrete L0 gates (Louizos et al. 2018; section 4.3) -------------------------------
class HardConcreteLayer(SparseLayer):
    """Weights times HARDCONCRETE(beta, gamma, zeta)(a) gates (eqs. 20-21).

    Training draws one gate per weight and mini-batch; the loss term is
    ``lam * sum P(s_j > 0) = lam/2 f`` with f of Table 2. Evaluation uses the deterministic
    gate ``min(1, max(0, sigmoid(log a) (zeta - gamma) + gamma))``. The keep probability is
    the biased-mask alpha~ = E[s]^2 / E[s^2] of section 4 (exact moments from
    :func:`skdropout.penalties.hardconcrete_moments`); a weight is pruned when it is below
    0.05 or when its test-time gate is 0.
    """

    def __init__(self, base: nn.Module, lam: float, beta: float = 2 / 3, gamma: float = -0.1,
                 zeta: float = 1.1, init_log_a: float = 2.0) -> None:
        super().__init__(base, lam)
        if not (beta > 0 and gamma < 0 and zeta > 1):
            raise ValueError("hardconcrete needs beta > 0, gamma < 0 and zeta > 1, got "
                             f"beta={beta!r}, gamma={gamma!r}, zeta={zeta!r}.")
        self.beta, self.gamma, self.zeta = float(beta), float(gamma), float(zeta)
        self.log_a = nn.Parameter(torch.full_like(self.weight, float(init_log_a)))
        self._cache: tuple[Any, torch.Tensor] | None = None

    def gate(self) -> torch.Tensor:
        """The deterministic test-time gate."""
        s = torch.sigmoid(self.log_a) * (self.zeta - self.gamma) + self.gamma
        return torch.clamp(s, 0.0, 1.0)

    def keep_prob(self) -> torch.Tensor:
        key = (self.log_a._version, self.log_a.data_ptr(), self.log_a.device)
        if self._cache is None or self._cache[0] != key:
            la = self.log_a.detach().cpu().double().numpy().ravel()
            alpha = _hc_keep_prob(la, self.beta, self.gamma, self.zeta)
            alpha_t = torch.as_tensor(alpha, dtype=self.weight.dtype).reshape(self.weight.shape)
            self._cache = (key, alpha_t.to(self.weight.device))
        return self._cache[1]

    def mask(self) -> torch.Tensor:
        # alpha~ is increasing in log a: alpha~ >= 0.05 <=> log a >= a fixed threshold
        thr = _hc_log_a_threshold(self.beta, self.gamma, self.zeta)
        log_a = self.log_a.detach()
        return (log_a >= thr) & (self.gate().detach() > 0)

    def pruned_weight(self) -> torch.Tensor:
        return torch.where(self.mask(), self.weight * self.gate(), torch.zeros_like(self.weight))

    def regularizer(self) -> torch.Tensor:
        shift = self.beta * math.log(-self.gamma / self.zeta)
        return self.lam * torch.sigmoid(self.log_a - shift).sum()

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.rand_like(self.log_a).clamp(1e-6, 1.0 - 1e-6)
        z = torch.sigmoid((torch.log(u) - torch.log1p(-u) + self.log_a) / self.beta)
        s = torch.clamp(z * (self.zeta - self.gamma) + self.gamma, 0.0, 1.0)
        return self._op(x, self.weight * s, self.bias)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = None
        return state


# -- gradual magnitude pruning (Zhu & Gupta 2017; section 4.4) -------------------------------
class MagnitudeLayer(SparseLayer):
    """Weights times a binary mask that keeps the k largest magnitudes (eta_hat of
    HARDTHRESH(k), Table 1: keep probability 1 in TOP-k, 0 elsewhere).

    :meth:`prune_to` sets k from a target density; the mask is recomputed from the
    weights that are still kept, so successive calls never compound (unlike a repeated
    float ``amount`` in ``torch.nn.utils.prune``) and a pruned weight never returns.
    """

    def __init__(self, base: nn.Module, lam: float) -> None:
        super().__init__(base, lam)
        self.register_buffer("keep", torch.ones_like(self.weight, dtype=torch.bool))

    def keep_prob(self) -> torch.Tensor:
        return self.keep.to(self.weight.dtype)

    def mask(self) -> torch.Tensor:
        return self.keep

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._op(x, self.pruned_weight(), self.bias)

    @torch.no_grad()
    def prune_to(self, density: float) -> None:
        """Keep the ``round(density * size)`` largest-magnitude weights among those kept."""
        k = int(round(float(density) * self.weight.numel()))
        k = min(max(k, 1), int(self.keep.sum()))
        score = torch.where(self.keep, self.weight.abs(), torch.full_like(self.weight, -1.0))
        idx = torch.topk(score.reshape(-1), k, sorted=False).indices
        keep = torch.zeros(self.weight.numel(), dtype=torch.bool, device=self.weight.device)
        keep[idx] = True
        self.keep.copy_(keep.reshape(self.weight.shape))
        self.weight.mul_(self.keep)


# -- standout (Ba & Frey 2013; section 4.1) -------------------------------------------------
class StandoutLayer(SparseLayer):
    """A Linear layer whose outputs are dropped by a standout net tied to its weights.

    The keep probability of unit j is ``pi_j = sigmoid(alpha z_j + beta)`` with
    ``z = W x + b`` the layer's own pre-activation (the standout net copies the weights and
    is not trained, section 4.1); training multiplies z by a Bernoulli(pi) mask, evaluation
    by pi. A unit (its row of W) is pruned when pi_j < 0.05 for every training sample of
    the current epoch (the record restarts at :meth:`begin_epoch`, so the validation pass
    at the end of an epoch uses that epoch's record); its output is then exactly zero.
    """

    conv_ok = False

    def __init__(self, base: nn.Module, lam: float, alpha: float = 1.0,
                 beta: float = 0.0) -> None:
        super().__init__(base, lam)
        self.alpha, self.beta = float(alpha), float(beta)
        self.register_buffer("unit_keep", torch.ones(self.weight.shape[0],
                                                     dtype=self.weight.dtype,
                                                     device=self.weight.device))
        self._fresh = False

    def keep_prob(self) -> torch.Tensor:
        return self.unit_keep[:, None].expand_as(self.weight)

    def _pi(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.alpha * z.detach() + self.beta)

    def begin_epoch(self) -> None:
        """Start a new record of the units' largest keep probability."""
        self._fresh = True

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self._op(x, self.weight, self.bias)
        pi = self._pi(z)
        batch_max = pi.reshape(-1, z.shape[-1]).amax(0)
        if self._fresh:
            self.unit_keep.copy_(batch_max)
            self._fresh = False
        else:
            torch.maximum(self.unit_keep, batch_max, out=self.unit_keep)
        return z * torch.bernoulli(pi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.train_forward(x)
        z = self._op(x, self.weight, self.bias)
        return z * self._pi(z) * (self.unit_keep >= KEEP_MIN)

    def pruned_weight(self) -> torch.Tensor:
        return self.weight * (self.unit_keep >= KEEP_MIN)[:, None]

    def to_dense(self) -> nn.Module:
        return _StandoutEval(self)


class _StandoutEval(nn.Module):
    """The evaluated standout layer as a plain module (no buffers of the training state)."""

    def __init__(self, layer: StandoutLayer) -> None:
        super().__init__()
        keep = layer.unit_keep >= KEEP_MIN
        self.linear = nn.Linear(layer.weight.shape[1], layer.weight.shape[0],
                                bias=layer.bias is not None).to(layer.weight)
        with torch.no_grad():
            self.linear.weight.copy_(layer.weight * keep[:, None])
            if layer.bias is not None:
                self.linear.bias.copy_(layer.bias * keep)
        self.alpha, self.beta = layer.alpha, layer.beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        return z * torch.sigmoid(self.alpha * z + self.beta)
