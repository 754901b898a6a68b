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
from ._kernels import (_TINY, LOG_ALPHA_MAX, LOG_ALPHA_MIN, eta_trick_objective,
                       fixed_eta_tikhonov, hardconcrete_gates, local_variance, open_gate_shift,
                       sigmoid_sum, vardrop_kl_sum, vardrop_noise)

#: A weight is pruned when its keep probability is below this (Molchanov et al.'s rule:
#: for variational dropout it is log alpha > log 19).
KEEP_MIN = 0.05
LOG_19 = math.log((1.0 - KEEP_MIN) / KEEP_MIN)

class SparseLayer(nn.Module):
    """Base of the sparsifying layers: the weights of a Linear or Conv2d layer plus a rule.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Regularisation strength lambda of eq. (1)/(6).

    Examples
    --------
    The base class has no rule of its own (``keep_prob`` is the subclasses'); it holds a
    copy of the replaced layer's parameters and adds nothing to the loss:

    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import SparseLayer
    >>> _ = torch.manual_seed(0)
    >>> base = nn.Linear(3, 2)
    >>> layer = SparseLayer(base, lam=0.1)
    >>> layer
    SparseLayer(linear, weight=(2, 3), lam=0.1)
    >>> bool(torch.equal(layer.weight, base.weight)), float(layer.regularizer())
    (True, 0.0)
    """

    #: whether the layer may replace an ``nn.Conv2d``
    conv_ok = True
    #: attributes that are caches of the current parameters, not state: not pickled
    _transient: tuple[str, ...] = ("_held",)

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
        # an absent bias is a parameter of None, as in nn.Linear (found in _parameters)
        self.register_parameter("bias", None if base.bias is None
                                else nn.Parameter(base.bias.detach().clone()))
        self.lam = float(lam)
        self._held: tuple[tuple[Any, ...], torch.Tensor] | None = None

    # -- the rule -----------------------------------------------------------------------
    def keep_prob(self) -> torch.Tensor:
        """Keep probability alpha = eta / (eta + lam) of each weight (eq. 8), detached.

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values in [0, 1], without gradient.
        """
        raise NotImplementedError

    def mask(self) -> torch.Tensor:
        """Which weights are kept: keep probability (eq. 8) at least ``KEEP_MIN`` (0.05).

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight``: True where the weight is kept.
        """
        return self.keep_prob() >= KEEP_MIN

    def pruned_weight(self) -> torch.Tensor:
        """The weight the evaluated model uses: pruned entries exactly zero.

        Returns
        -------
        torch.Tensor
            ``weight`` where :meth:`mask` is True, 0 elsewhere.
        """
        return torch.where(self.mask(), self.weight, torch.zeros_like(self.weight))

    def regularizer(self) -> torch.Tensor:
        """The term this layer adds to the training loss (0 for the base class).

        Returns
        -------
        torch.Tensor
            A differentiable 0-d tensor.
        """
        return self.weight.new_zeros(())

    def _fetch(self, *names: str) -> list[torch.Tensor | None]:
        """The parameters ``names`` (None for an absent bias) read from ``_parameters``:
        attribute access goes through nn.Module.__getattr__, about 1 us per parameter in
        the training forward pass of every layer and step; attribute access where a name
        is not there (a parametrization turns a parameter into a property)."""
        p = self._parameters
        try:
            return [p[n] for n in names]
        except KeyError:
            return [getattr(self, n) for n in names]

    def _hold_term(self, term: torch.Tensor, scale: float, param: torch.Tensor) -> None:
        """Keep ``term``, this layer's loss term computed by a training forward pass along
        with the noise, for :meth:`regularizer` to return (a graph is not built twice);
        kept only while it is differentiable and ``param`` is unchanged."""
        held = ((scale, param, param.data_ptr(), param._version), term) \
            if term.requires_grad else None
        object.__setattr__(self, "_held", held)  # not a module, parameter or buffer

    def _take_term(self, scale: float, param: torch.Tensor) -> torch.Tensor | None:
        """The term kept by :meth:`_hold_term` if it was computed from this ``param`` (the
        same tensor, its storage and version unchanged: no optimiser step since) and
        ``scale``; taken once."""
        held = self.__dict__.get("_held")
        object.__setattr__(self, "_held", None)
        if held is not None:
            (s, p, ptr, version), term = held
            if s == scale and p is param and ptr == param.data_ptr() \
                    and version == param._version:
                return term
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self._transient:
            state[name] = None
        return state

    # -- forward --------------------------------------------------------------------------
    def _op(self, x: torch.Tensor, weight: torch.Tensor,
            bias: torch.Tensor | None) -> torch.Tensor:
        if self.conv is None:
            return F.linear(x, weight, bias)
        return F.conv2d(x, weight, bias, **self.conv)

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass used while training (noise, gates); plain by default.

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(n, in_features)`` for a Linear layer, ``(n, C, H, W)`` for a
            Conv2d layer.

        Returns
        -------
        torch.Tensor
            The layer's output with the unpruned ``weight``.
        """
        return self._op(x, self.weight, self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`train_forward` in training mode; with :meth:`pruned_weight` in eval mode.

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(n, in_features)`` for a Linear layer, ``(n, C, H, W)`` for a
            Conv2d layer.

        Returns
        -------
        torch.Tensor
            The layer's output; in eval mode pruned weights contribute exactly nothing.
        """
        if self.training:
            return self.train_forward(x)
        object.__setattr__(self, "_held", None)
        return self._op(x, self.pruned_weight(), self.bias)

    def to_dense(self) -> nn.Module:
        """A plain ``nn.Linear``/``nn.Conv2d`` computing this layer's evaluated output.

        Returns
        -------
        torch.nn.Module
            A new layer of the replaced kind holding :meth:`pruned_weight` and the bias.
        """
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
        """The layer kind, weight shape and lam, shown in the module's ``repr``.

        Returns
        -------
        str
        """
        kind = "conv2d" if self.conv is not None else "linear"
        return f"{kind}, weight={tuple(self.weight.shape)}, lam={self.lam:g}"


# -- variational dropout (Molchanov et al. 2017; the paper's section 4.2) ----------------
class VarDropLayer(SparseLayer):
    """Sparse variational dropout with Gaussian multiplicative weight noise (eqs. 18-19).

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
    :func:`skdropout.nn._kernels.vardrop_kl_sum`), with lam = 1/N for the
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
        Initial log alpha of every weight (keep probability ``sigmoid(5)`` ~ 0.993).

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
                 init_log_alpha: float = -5.0) -> None:
        super().__init__(base, lam)
        if mode not in ("lr_ar", "lr", "plain"):
            raise ValueError(f"mode must be 'lr_ar', 'lr' or 'plain', got {mode!r}.")
        self.mode = mode
        #: factor of the KL term, raised from 0 to 1 during a KL warm-up (1 otherwise)
        self.kl_weight = 1.0
        if mode == "lr_ar":
            init = torch.log(self.weight.detach() ** 2 + _TINY) + init_log_alpha
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
        """Molchanov's rule: keep the weights with log alpha < log 19.

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight`` (the same as keep probability >= 0.05).
        """
        return self.log_alpha().detach() < LOG_19

    def regularizer(self) -> torch.Tensor:
        """``kl_weight * lam * sum KL``, the KL term of eq. (18) (Molchanov et al.'s
        approximation, with analytic gradients: ``skdropout.nn._kernels.vardrop_kl_sum``);
        ``kl_weight`` is 1 except during a KL warm-up.

        Returns
        -------
        torch.Tensor
            A differentiable 0-d tensor.
        """
        scale = self.lam * self.kl_weight
        if self.mode == "lr_ar":
            return vardrop_kl_sum(self.log_sigma2, self.weight, scale)
        log_alpha, = self._fetch("log_alpha_")
        held = self._take_term(scale, log_alpha)  # from the last forward pass
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
        if self.mode == "plain":  # the KL term comes with the noise (one pass, one node)
            w, log_alpha, bias = self._fetch("weight", "log_alpha_", "bias")
            scale = self.lam * self.kl_weight
            noisy, kl = vardrop_noise(w, log_alpha, scale)
            self._hold_term(kl, scale, log_alpha)
            return self._op(x, noisy, bias)
        if self.mode == "lr_ar":
            var_w = local_variance(self.log_sigma2)
        else:
            var_w = local_variance(self.log_alpha_, self.weight)
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

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Regularisation strength lambda of eqs. (1) and (6).
    penalty : Penalty
        The penalty Omega (``skdropout.penalties``), e.g. LOGSUM(2) as in appendix C.
    rule : {'logsum', 'adatikhonov', 'adaprox'}, default='logsum'
        How the penalty enters training (the methods LOGSUM, ADATIKHONOV, ADAPROX of
        section 5 and Table 4).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import PenaltyLayer
    >>> from skdropout.penalties import get_penalty
    >>> _ = torch.manual_seed(0)
    >>> pen = get_penalty("logsum", eps=2.0)
    >>> layer = PenaltyLayer(nn.Linear(3, 2), lam=0.5, penalty=pen, rule="adaprox")
    >>> w0 = layer.weight.detach().clone()
    >>> eta = pen.eta_hat(w0)
    >>> bool(torch.allclose(layer.keep_prob(), eta / (eta + 0.5)))  # eq. (8)
    True
    >>> layer.prox(0.1)  # one proximal step with rho = 0.1
    >>> bool(torch.allclose(layer.weight, w0 * eta / (eta + 0.1 * 0.5)))
    True
    """

    def __init__(self, base: nn.Module, lam: float, penalty: Penalty,
                 rule: str = "logsum") -> None:
        super().__init__(base, lam)
        if rule not in ("logsum", "adatikhonov", "adaprox"):
            raise ValueError(f"rule must be 'logsum', 'adatikhonov' or 'adaprox', got {rule!r}.")
        self.penalty = penalty
        self.rule = rule

    def keep_prob(self) -> torch.Tensor:
        """``penalty.keep_prob(w, lam)`` = eta_hat(w) / (eta_hat(w) + lam) (eqs. 7-8).

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values in [0, 1], without gradient.
        """
        return self.penalty.keep_prob(self.weight.detach(), self.lam)

    def regularizer(self) -> torch.Tensor:
        """The loss term of the rule: ``lam * Omega(w)`` (``'logsum'``, eq. 1),
        ``lam/2 sum w^2 / eta`` with eta = eta_hat(w) held fixed (``'adatikhonov'``,
        eq. 6; weights with eta = 0 contribute 0), or 0 (``'adaprox'``).

        Returns
        -------
        torch.Tensor
            A 0-d tensor, differentiable in ``weight``.
        """
        if self.rule == "logsum":
            return self.lam * self.penalty.value(self.weight)
        if self.rule == "adatikhonov":
            return self.lam * fixed_eta_tikhonov(self.weight, self.penalty)
        return self.weight.new_zeros(())

    @torch.no_grad()
    def prox(self, step: torch.Tensor | float) -> None:
        """The proximal step of the adaptive Tikhonov penalty, w <- w eta / (eta + rho lam).

        This is the v-update of Algorithm 1 (appendix B), applied in place to ``weight``;
        eta = eta_hat(w) = inf leaves w unchanged, eta = 0 sets it to 0.

        Parameters
        ----------
        step : torch.Tensor or float
            The optimiser's effective per-weight step rho of its last update (a tensor
            shaped like ``weight``, or a float for plain SGD).
        """
        # eta / (eta + rho lam) = 1 / (1 + rho lam / eta): 1 at eta = inf, 0 at eta = 0
        shrink = torch.reciprocal(self.penalty.eta_hat(self.weight)).mul_(step).mul_(self.lam)
        self.weight.mul_(shrink.add_(1.0).reciprocal_())


class EtaTrickLayer(SparseLayer):
    """Joint gradient descent in w and log eta of eq. (6) (the paper's eta-TRICK).

    As in appendix C, the parameter is ``log_eta_bar = log(eta / lam)`` initialised at
    ``init_log_eta`` (5), and a small term ``lam * log_eta_decay * sum log_eta_bar``
    (``log_eta_decay = 1e-3``) makes the eta parameters follow the sparse w. The keep
    probability is ``eta / (eta + lam) = sigmoid(log_eta_bar)``.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Regularisation strength lambda of eq. (6).
    penalty : Penalty
        The penalty Omega whose dual f (eq. 5) enters the loss, e.g. LOGSUM(2).
    init_log_eta : float, default=5.0
        Initial ``log(eta / lam)`` of every weight (appendix C).
    log_eta_decay : float, default=1e-3
        Coefficient of the small ``lam * log_eta_decay * sum log_eta_bar`` term
        (appendix C).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import EtaTrickLayer
    >>> from skdropout.penalties import get_penalty
    >>> _ = torch.manual_seed(0)
    >>> layer = EtaTrickLayer(nn.Linear(3, 2), lam=1e-3, penalty=get_penalty("logsum", eps=2.0))
    >>> bool(torch.allclose(layer.keep_prob(), torch.sigmoid(torch.tensor(5.0))))
    True
    >>> layer.regularizer().backward()  # gradients reach both w and log eta_bar
    >>> layer.weight.grad.shape, layer.log_eta_bar.grad.shape
    (torch.Size([2, 3]), torch.Size([2, 3]))
    """

    _transient = (*SparseLayer._transient, "_a")

    def __init__(self, base: nn.Module, lam: float, penalty: Penalty,
                 init_log_eta: float = 5.0, log_eta_decay: float = 1e-3) -> None:
        super().__init__(base, lam)
        self.penalty = penalty
        self.log_eta_decay = float(log_eta_decay)
        self.log_eta_bar = nn.Parameter(torch.full_like(self.weight, float(init_log_eta)))
        self._a: torch.Tensor | None = None  # warm start of eta_hat^{-1}(eta)

    def keep_prob(self) -> torch.Tensor:
        """eta / (eta + lam) = sigmoid(log_eta_bar) (eq. 8).

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values in (0, 1), without gradient.
        """
        return torch.sigmoid(self.log_eta_bar.detach())

    def mask(self) -> torch.Tensor:
        """Keep the weights with log_eta_bar >= -log 19 (keep probability >= 0.05).

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight``.
        """
        return self.log_eta_bar.detach() >= -LOG_19

    def regularizer(self) -> torch.Tensor:
        """The penalty term of eq. (6), ``lam/2 (sum w^2/eta + f(eta))``, plus the small
        ``lam * log_eta_decay * sum log_eta_bar`` of appendix C.

        f is the penalty's dual (normalised so Omega(0) = 0, see
        ``skdropout.nn._kernels.eta_trick_objective``) and
        log_eta_bar is clipped to [-30, 30].

        Returns
        -------
        torch.Tensor
            A 0-d tensor, differentiable in ``weight`` and ``log_eta_bar``.
        """
        obj, self._a = eta_trick_objective(self.weight, self.log_eta_bar, self.penalty,
                                           self.lam, self.log_eta_decay, self._a)
        return obj


def _hc_keep_prob(log_a: np.ndarray, beta: float, gamma: float, zeta: float) -> np.ndarray:
    """alpha~ = E[s]^2 / E[s^2] of HARDCONCRETE gates (section 4, biased masks)."""
    mean, _, var = hardconcrete_moments(np.asarray(log_a, dtype=np.float64), beta, gamma, zeta)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, mean**2 / (mean**2 + var), 0.0)


@functools.lru_cache(maxsize=32)
def _hc_log_a_threshold(beta: float, gamma: float, zeta: float) -> float:
    """The log a at which alpha~ = 0.05 (alpha~ increases with log a), by Brent's method."""
    from scipy.optimize import brentq

    def excess(log_a: float) -> float:
        return float(_hc_keep_prob(np.array([log_a]), beta, gamma, zeta)[0]) - KEEP_MIN

    return float(brentq(excess, -60.0, 60.0, xtol=1e-12, rtol=1e-14))


# -- hard concrete L0 gates (Louizos et al. 2018; section 4.3) -------------------------------
class HardConcreteLayer(SparseLayer):
    """Weights times HARDCONCRETE(beta, gamma, zeta)(a) gates (eqs. 20-21).

    Training draws one gate per weight and mini-batch; the loss term is
    ``lam * sum P(s_j > 0) = lam/2 f`` with f of Table 2. Evaluation uses the deterministic
    gate ``min(1, max(0, sigmoid(log a) (zeta - gamma) + gamma))``. The keep probability is
    the biased-mask alpha~ = E[s]^2 / E[s^2] of section 4 (exact moments from
    :func:`skdropout.penalties.hardconcrete_moments`); a weight is pruned when it is below
    0.05 or when its test-time gate is 0.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Weight of the expected number of nonzero gates in the loss.
    beta, gamma, zeta : float, default=2/3, -0.1, 1.1
        The HARDCONCRETE temperature and stretch interval of eqs. (20)-(21) (Louizos et
        al.'s defaults); ``beta > 0``, ``gamma < 0``, ``zeta > 1``.
    init_log_a : float, default=2.0
        Initial log a of every gate.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import HardConcreteLayer
    >>> _ = torch.manual_seed(0)
    >>> layer = HardConcreteLayer(nn.Linear(3, 2), lam=1e-3)
    >>> round(float(layer.gate().detach()[0, 0]), 4)  # sigmoid(2) (zeta - gamma) + gamma
    0.957
    >>> bool(((layer.keep_prob() > 0.05) & (layer.keep_prob() < 1)).all())
    True
    >>> with torch.no_grad():
    ...     layer.log_a[0, 0] = -8.0  # the gate is closed: the weight is pruned
    >>> int(layer.mask().sum()), float(layer.pruned_weight().detach()[0, 0])
    (5, 0.0)
    """

    _transient = (*SparseLayer._transient, "_cache")

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
        """The deterministic test-time gate, eq. (21) with z = sigmoid(log a).

        Returns
        -------
        torch.Tensor
            ``min(1, max(0, sigmoid(log a) (zeta - gamma) + gamma))``, shaped like
            ``weight``, differentiable in ``log_a``.
        """
        s = torch.sigmoid(self.log_a) * (self.zeta - self.gamma) + self.gamma
        return torch.clamp(s, 0.0, 1.0)

    def keep_prob(self) -> torch.Tensor:
        """The biased-mask keep probability alpha~ = E[s]^2 / E[s^2] (section 4) of the
        gates of eqs. (20)-(21), from their exact moments (cached until ``log_a`` changes).

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values in [0, 1], without gradient.
        """
        key = (self.log_a._version, self.log_a.data_ptr(), self.log_a.device)
        if self._cache is None or self._cache[0] != key:
            la = self.log_a.detach().cpu().double().numpy().ravel()
            alpha = _hc_keep_prob(la, self.beta, self.gamma, self.zeta)
            alpha_t = torch.as_tensor(alpha, dtype=self.weight.dtype).reshape(self.weight.shape)
            self._cache = (key, alpha_t.to(self.weight.device))
        return self._cache[1]

    def mask(self) -> torch.Tensor:
        """Keep the weights with alpha~ >= 0.05 and an open test-time gate.

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight``.
        """
        # alpha~ is increasing in log a: alpha~ >= 0.05 <=> log a >= a fixed threshold
        thr = _hc_log_a_threshold(self.beta, self.gamma, self.zeta)
        log_a = self.log_a.detach()
        return (log_a >= thr) & (self.gate().detach() > 0)

    def pruned_weight(self) -> torch.Tensor:
        """The weight the evaluated model uses: weight times :meth:`gate`, pruned
        entries exactly zero.

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``.
        """
        return torch.where(self.mask(), self.weight * self.gate(), torch.zeros_like(self.weight))

    def regularizer(self) -> torch.Tensor:
        """``lam * sum P(s_j > 0) = lam * sum sigmoid(log a_j - beta log(-gamma/zeta))``,
        i.e. lam/2 times the dual f of section 4.3.

        Returns
        -------
        torch.Tensor
            A 0-d tensor, differentiable in ``log_a``.
        """
        log_a, = self._fetch("log_a")
        held = self._take_term(self.lam, log_a)  # from the last forward pass
        if held is not None:
            return held
        return sigmoid_sum(log_a, open_gate_shift(self.beta, self.gamma, self.zeta), self.lam)

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layer with one random gate per weight drawn by eqs. (20)-(21).

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(n, in_features)`` for a Linear layer, ``(n, C, H, W)`` for a
            Conv2d layer.

        Returns
        -------
        torch.Tensor
            The output with weights ``w * s``, differentiable in ``log_a`` through s.
        """
        w, log_a, bias = self._fetch("weight", "log_a", "bias")
        ws, count = hardconcrete_gates(w, log_a, self.beta, self.gamma, self.zeta, self.lam)
        self._hold_term(count, self.lam, log_a)  # the count comes with the gates
        return self._op(x, ws, bias)


# -- gradual magnitude pruning (Zhu & Gupta 2017; section 4.4) -------------------------------
class MagnitudeLayer(SparseLayer):
    """Weights times a binary mask that keeps the k largest magnitudes (eta_hat of
    HARDTHRESH(k), Table 1: keep probability 1 in TOP-k, 0 elsewhere).

    :meth:`prune_to` sets k from a target density; the mask is recomputed from the
    weights that are still kept, so successive calls never compound (unlike a repeated
    float ``amount`` in ``torch.nn.utils.prune``) and a pruned weight never returns.
    The schedule of k is Zhu & Gupta's cubic one (section 4.4), applied by the
    estimators between optimiser steps; this is the proximal variant of appendix B with
    eta_hat infinite in TOP-k and 0 elsewhere.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Stored for a uniform interface; magnitude pruning has no loss term.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import MagnitudeLayer
    >>> _ = torch.manual_seed(0)
    >>> layer = MagnitudeLayer(nn.Linear(4, 5), lam=1e-3)
    >>> w = layer.weight.detach().abs().clone()
    >>> layer.prune_to(0.5)  # keep the 10 largest of 20 magnitudes
    >>> int(layer.mask().sum())
    10
    >>> bool(w[layer.mask()].min() >= w[~layer.mask()].max())
    True
    >>> layer.prune_to(0.25)  # 5 of the 20, chosen among the kept ones
    >>> int(layer.mask().sum()), int((layer.weight != 0).sum())
    (5, 5)
    """

    def __init__(self, base: nn.Module, lam: float) -> None:
        super().__init__(base, lam)
        self.register_buffer("keep", torch.ones_like(self.weight, dtype=torch.bool))

    def keep_prob(self) -> torch.Tensor:
        """1 in TOP-k, 0 elsewhere (eta_hat of HARDTHRESH(k) through eq. 8).

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values 0 or 1.
        """
        return self.keep.to(self.weight.dtype)

    def mask(self) -> torch.Tensor:
        """The current TOP-k mask.

        Returns
        -------
        torch.Tensor
            Boolean buffer ``keep``, shaped like ``weight``.
        """
        return self.keep

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layer with the pruned weight (pruning also applies during training).

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(n, in_features)`` for a Linear layer, ``(n, C, H, W)`` for a
            Conv2d layer.

        Returns
        -------
        torch.Tensor
            The output with :meth:`pruned_weight`.
        """
        return self._op(x, self.pruned_weight(), self.bias)

    @torch.no_grad()
    def prune_to(self, density: float) -> None:
        """Keep the ``round(density * size)`` largest-magnitude weights among those kept.

        At least one weight, and never more than are kept now; the others are set to 0.

        Parameters
        ----------
        density : float
            Target fraction of kept weights of this layer, in [0, 1].
        """
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

    In the paper's analysis (section 4.1, eqs. 14-16) this is adaptive dropout of the
    activations with eta_hat of eq. (15) and a subquadratic effective penalty (eq. 16).
    Only ``nn.Linear`` layers are replaced.

    Parameters
    ----------
    base : nn.Linear
        The layer to replace; its weight and bias are copied.
    lam : float
        Stored for a uniform interface; standout has no loss term.
    alpha, beta : float, default=1.0, 0.0
        Scale and shift of the standout net: ``pi = sigmoid(alpha z + beta)``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import StandoutLayer
    >>> _ = torch.manual_seed(0)
    >>> layer = StandoutLayer(nn.Linear(3, 2), lam=1.0)
    >>> x = torch.randn(8, 3)
    >>> layer.begin_epoch()
    >>> layer(x).shape  # training: outputs dropped by Bernoulli(pi) masks
    torch.Size([8, 2])
    >>> z = x @ layer.weight.T + layer.bias
    >>> bool(torch.allclose(layer.unit_keep, torch.sigmoid(z).amax(0)))
    True
    >>> out = layer.eval()(x)  # evaluation: z * pi
    >>> bool(torch.allclose(out, z * torch.sigmoid(z) * (layer.unit_keep >= 0.05)))
    True
    >>> bool(torch.allclose(layer.to_dense()(x), out))
    True
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
        """The largest pi_j of unit j over the epoch's training samples, for each weight
        of its row.

        Returns
        -------
        torch.Tensor
            Shaped like ``weight`` (rows constant), values in (0, 1).
        """
        return self.unit_keep[:, None].expand_as(self.weight)

    def _pi(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.alpha * z.detach() + self.beta)

    def begin_epoch(self) -> None:
        """Start a new record of the units' largest keep probability."""
        self._fresh = True

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``z * Bernoulli(pi)`` with ``z = W x + b`` and ``pi = sigmoid(alpha z + beta)``;
        updates the epoch's record of the largest pi of each unit.

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(..., in_features)``.

        Returns
        -------
        torch.Tensor
            A random sample of the dropped-out pre-activations.
        """
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
        """:meth:`train_forward` in training mode; ``z * pi`` with pruned units zeroed in
        eval mode.

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(..., in_features)``.

        Returns
        -------
        torch.Tensor
            The layer's output, ``(..., out_features)``.
        """
        if self.training:
            return self.train_forward(x)
        z = self._op(x, self.weight, self.bias)
        return z * self._pi(z) * (self.unit_keep >= KEEP_MIN)

    def pruned_weight(self) -> torch.Tensor:
        """The weight with the rows of pruned units zeroed.

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``.
        """
        return self.weight * (self.unit_keep >= KEEP_MIN)[:, None]

    def to_dense(self) -> nn.Module:
        """A plain module computing the evaluated output ``z * sigmoid(alpha z + beta)``
        with the pruned rows (and their biases) zeroed.

        Returns
        -------
        torch.nn.Module
            A module holding an ``nn.Linear`` and no training state.
        """
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
