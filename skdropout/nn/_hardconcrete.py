"""Hard concrete L0 gates (Louizos et al. 2018; the paper's section 4.3): the layer, its
per-weight terms (the sampled gates of eqs. 20-21 and the expected number of open gates)
and the spec of HARDCONCRETE. It has no training rule besides its loss term.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..penalties import hardconcrete_moments
from ._base import SparseLayer, check_number
from ._spec import MethodSpec
from ._terms import (ElementwiseTerm, affine, first_order, sigmoid_slope, uniform_like,
                     zero_outside)


class _GatedWeightAndCount(torch.autograd.Function):
    """``w s`` with one HARDCONCRETE(beta, gamma, zeta)(a) gate s per weight (eqs. 20-21)
    and ``scale sum sigmoid(log a - shift)`` in one node. The derivatives are s in w and, in
    log a, ``c w z (1 - z)`` (c = (zeta - gamma) / beta, z the sigmoid of eq. 20; 0 where
    the gate is clipped) from the gates plus ``scale p (1 - p)`` from the count (p the
    count's sigmoid): the backward pass forms their sum in one pass."""

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, log_a: torch.Tensor, beta: float, gamma: float,
                zeta: float, shift: float, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        z = uniform_like(log_a).logit_(1e-6)  # logit(u), u clipped to [1e-6, 1 - 1e-6]
        z.add_(log_a).mul_(1.0 / beta).sigmoid_()
        raw = affine(z, zeta - gamma, gamma)
        # w z (1 - z) in one pass, by the backward kernel of the sigmoid, in z's storage
        d_gate = torch.ops.aten.sigmoid_backward.grad_input(w, z, grad_input=z)
        d_gate = zero_outside(d_gate, raw, 0.0, 1.0, in_place=True)
        s = raw.clamp_(0.0, 1.0)
        count, d_count = _sigmoid_sum(log_a, shift, scale)
        ctx.save_for_backward(s, d_gate, d_count[0])
        ctx.c = (zeta - gamma) / beta
        return torch.mul(w, s), count

    @staticmethod
    @first_order  # the derivatives are saved as values: no second order
    def backward(ctx: Any, grad: torch.Tensor, grad_count: torch.Tensor
                 ) -> tuple[torch.Tensor | None, ...]:
        s, d_gate, d_count = ctx.saved_tensors
        grad = grad.contiguous()  # products with the (contiguous) saved tensors
        d_w = torch.mul(s, grad) if ctx.needs_input_grad[0] else None
        if not ctx.needs_input_grad[1]:
            return d_w, None, None, None, None, None, None
        if grad_count.device.type != "cpu" or float(grad_count) != 1.0:
            d_count = torch.mul(d_count, grad_count)  # else the count enters the loss as is
        return d_w, torch.addcmul(d_count, d_gate, grad, value=ctx.c), None, None, None, None, None


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
    >>> from skdropout.nn._hardconcrete import open_gate_shift
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
    >>> from skdropout.nn._hardconcrete import hardconcrete_gates
    >>> out, count = hardconcrete_gates(torch.ones(4), torch.full((4,), 20.0), 2 / 3, -0.1,
    ...                                 1.1, 1.0)
    >>> out.tolist(), float(count)  # gates wide open
    ([1.0, 1.0, 1.0, 1.0], 4.0)
    """
    return _GatedWeightAndCount.apply(w, log_a, float(beta), float(gamma), float(zeta),
                                      open_gate_shift(beta, gamma, zeta), float(scale))


def _sigmoid_sum(x: torch.Tensor, shift: float, scale: float
                 ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``scale sum sigmoid(x - shift)`` and its derivative ``scale p (1 - p)`` in x."""
    p = affine(x, 1.0, -shift).sigmoid_()
    return scale * p.sum(), [sigmoid_slope(p, scale, out=p), None, None]


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
    >>> from skdropout.nn._hardconcrete import sigmoid_sum
    >>> float(sigmoid_sum(torch.zeros(4), 0.0))
    2.0
    """
    return ElementwiseTerm.apply(_sigmoid_sum, x, float(shift), float(scale))


def _hc_keep_prob(log_a: np.ndarray, beta: float, gamma: float, zeta: float) -> np.ndarray:
    """alpha~ = E[s]^2 / E[s^2] of HARDCONCRETE gates (section 4, biased masks)."""
    mean, _, var = hardconcrete_moments(np.asarray(log_a, dtype=np.float64), beta, gamma, zeta)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, mean**2 / (mean**2 + var), 0.0)


@functools.lru_cache(maxsize=32)
def _hc_log_a_threshold(beta: float, gamma: float, zeta: float, keep_min: float) -> float:
    """The log a at which alpha~ = keep_min (alpha~ increases with log a), by Brent's
    method."""
    from scipy.optimize import brentq

    def excess(log_a: float) -> float:
        return float(_hc_keep_prob(np.array([log_a]), beta, gamma, zeta)[0]) - keep_min

    return float(brentq(excess, -60.0, 60.0, xtol=1e-12, rtol=1e-14))


class HardConcreteLayer(SparseLayer):
    """Weights times HARDCONCRETE(beta, gamma, zeta)(a) gates (eqs. 20-21) [1]_.

    Training draws one gate per weight and mini-batch; the loss term is
    ``lam * sum P(s_j > 0) = lam/2 f`` with f of Table 2. Evaluation uses the deterministic
    gate ``min(1, max(0, sigmoid(log a) (zeta - gamma) + gamma))``. The keep probability is
    the biased-mask alpha~ = E[s]^2 / E[s^2] of section 4 (exact moments from
    :func:`skdropout.penalties.hardconcrete_moments`); a weight is pruned when it is below
    ``keep_min`` (0.05 unless set) or when its test-time gate is 0.

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

    See Also
    --------
    skdropout.penalties.HardConcrete : Its effective penalty Omega.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.3.
       https://arxiv.org/abs/2106.07769

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
        owner = "HardConcreteLayer"
        self.beta = check_number(owner, "beta", beta, 0.0, low_open=True)
        self.gamma = check_number(owner, "gamma", gamma, high=0.0)
        self.zeta = check_number(owner, "zeta", zeta, 1.0, low_open=True)
        if self.gamma == 0.0:
            raise ValueError(f"{owner}: gamma must be a finite number < 0, got {gamma!r}.")
        init_log_a = check_number(owner, "init_log_a", init_log_a)
        self.log_a = nn.Parameter(torch.full_like(self.weight, init_log_a))
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
        """Keep the weights with alpha~ >= ``keep_min`` and an open test-time gate.

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight``.
        """
        # alpha~ is increasing in log a: alpha~ >= keep_min <=> log a >= a fixed threshold
        thr = _hc_log_a_threshold(self.beta, self.gamma, self.zeta, self.keep_min)
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


#: Louizos et al.'s temperature and stretch interval; an initial gate sigmoid(2) open.
SPECS = (MethodSpec("hardconcrete",
                    lambda base, lam, penalty, **options: HardConcreteLayer(base, lam, **options),
                    {"beta": 2 / 3, "gamma": -0.1, "zeta": 1.1, "init_log_a": 2.0}),)
