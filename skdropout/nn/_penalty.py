"""The penalty-based methods of section 5: the eta-trick (eq. 6, ETA-TRICK), the adaptive
Tikhonov step (ADATIKHONOV), its proximal form (ADAPROX, Algorithm 1) and the penalty itself
in the loss (LOGSUM): their layers, per-weight terms, training rule (the proximal step) and
specs. Each is built on a named penalty of :mod:`skdropout.penalties`.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
from skorch.callbacks import Callback
from torch import nn

from ..penalties import Penalty
from ..penalties._torch_ops import scalar_like
from ..penalties._xp import namespace
from ._base import SparseLayer, check_number
from ._spec import MethodSpec
from ._terms import LOG2_E, ElementwiseTerm, affine, clip, zero_outside


def check_penalty(penalty: Penalty, owner: str, needs_gradient: bool) -> Penalty:
    """``penalty`` after checking what it declares it can do: evaluate torch tensors
    (``works_on_torch``) and, where the loss needs it, have a finite gradient almost
    everywhere (``differentiable``).

    Parameters
    ----------
    penalty : Penalty
        A penalty of :mod:`skdropout.penalties`.
    owner : str
        The layer that uses it, for the message.
    needs_gradient : bool
        Whether the penalty's value or dual enters the loss.

    Returns
    -------
    Penalty

    Examples
    --------
    >>> from skdropout.penalties import get_penalty
    >>> from skdropout.nn._penalty import check_penalty
    >>> check_penalty(get_penalty("hardthresh", k=3), "PenaltyLayer", needs_gradient=True)
    Traceback (most recent call last):
    ...
    ValueError: PenaltyLayer: penalty 'hardthresh' has no gradient to train with (its value is 0 or inf); use a differentiable penalty such as 'logsum', 'l1', 'mcp', or method='adaprox'.
    """
    if not isinstance(penalty, Penalty):
        raise TypeError(f"{owner}: penalty must be a Penalty of skdropout.penalties, got "
                        f"{type(penalty).__name__}.")
    if not penalty.works_on_torch:
        raise ValueError(f"{owner}: penalty {penalty.name!r} has no closed form on torch "
                         "tensors; use a closed-form penalty such as 'logsum', 'l1', 'mcp'.")
    if needs_gradient and not penalty.differentiable:
        raise ValueError(f"{owner}: penalty {penalty.name!r} has no gradient to train with "
                         f"({penalty.gradient_note}); use a differentiable penalty such as "
                         "'logsum', 'l1', 'mcp', or method='adaprox'.")
    return penalty


def _omega_slope(w: torch.Tensor, penalty: Penalty) -> torch.Tensor:
    """``w / eta_hat(w)``, which is dOmega/dw (eq. 7: eta_hat(w) = |w| / Omega'(|w|)), 0
    where eta_hat is 0 (w = 0) or inf (no shrinkage)."""
    return torch.div(w, penalty.eta_hat(w)).nan_to_num_(0.0, 0.0, 0.0)


def _fixed_eta_tikhonov(w: torch.Tensor, penalty: Penalty
                        ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``sum w^2 / (2 eta)`` with eta = eta_hat(w) held fixed, and its derivative w / eta
    (both 0 where eta = 0, and where eta = inf)."""
    w_over_eta = _omega_slope(w, penalty)
    return 0.5 * torch.dot(w_over_eta.reshape(-1), w.reshape(-1)), [w_over_eta, None]


def _penalty_value(w: torch.Tensor, penalty: Penalty, scale: float
                   ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``scale Omega(w)`` and its derivative ``scale w / eta_hat(w)``: from the penalty's
    joint closed form when it has one, else from ``value`` and ``eta_hat``."""
    parts = penalty._value_and_slope(namespace(w), w, scale)
    if parts is not None:
        return parts[0], [parts[1], None, None]
    slope = _omega_slope(w, penalty)
    if scale != 1.0:
        slope.mul_(scale)
    return scale * penalty.value(w), [slope, None, None]


def penalty_value(w: torch.Tensor, penalty: Penalty, scale: float = 1.0) -> torch.Tensor:
    """The penalty ``scale Omega(w)`` of eq. (1) with its analytic gradient
    ``scale w / eta_hat(w)`` (eq. 7 with the envelope theorem: dOmega/dw =
    w / eta_hat(w)), 0 at w = 0 (a subgradient) and where eta_hat is infinite (LOGSUM's
    loss term, with ``scale`` lam).

    Parameters
    ----------
    w : torch.Tensor
        The weights.
    penalty : Penalty
        A differentiable penalty of :mod:`skdropout.penalties` (its ``value`` and
        ``eta_hat``).
    scale : float, default=1.0
        The factor of the term (lam in the loss): applied to the value and to the saved
        gradient at once, so the loss's backward pass takes the gradient as it is.

    Returns
    -------
    torch.Tensor
        0-d, ``scale * penalty.value(w)``, differentiable in ``w``.

    Examples
    --------
    >>> import torch
    >>> from skdropout.penalties import get_penalty
    >>> from skdropout.nn._penalty import penalty_value
    >>> w = torch.tensor([2.0, 0.0], requires_grad=True)
    >>> penalty_value(w, get_penalty("logsum", eps=2.0)).backward()
    >>> w.grad.tolist()  # 1 / (|w| + eps), and 0 at w = 0
    [0.25, 0.0]
    """
    return ElementwiseTerm.apply(_penalty_value, w, penalty, float(scale))


def fixed_eta_tikhonov(w: torch.Tensor, penalty: Penalty) -> torch.Tensor:
    """The adaptive Tikhonov term ``1/2 sum w^2 / eta`` of eq. (6) with eta = eta_hat(w)
    (eq. 7) held fixed (ADATIKHONOV): its gradient ``w / eta`` equals the penalty's, its
    value is not the penalty's.

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
    >>> from skdropout.nn._penalty import fixed_eta_tikhonov
    >>> w = torch.tensor([2.0, 0.0])  # l1: eta_hat(w) = |w|, so w^2 / (2 eta) = |w| / 2
    >>> float(fixed_eta_tikhonov(w, get_penalty("l1")))
    1.0
    """
    return ElementwiseTerm.apply(_fixed_eta_tikhonov, w, penalty)


def _eta_trick(w: torch.Tensor, log_eta_bar: torch.Tensor, penalty: Penalty, lam: float,
              decay: float, a0: torch.Tensor | None, keep: list[torch.Tensor | None]
              ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``lam/2 (sum w^2/eta + f(eta)) + lam c sum log eta_bar`` of eq. (6) in (w,
    log eta_bar), and its derivatives.

    eta = lam exp(clip(log eta_bar, -30, 30)), a = eta_hat^{-1}(eta), f(eta) = 2 Omega(a) -
    a^2/eta, so the value is ``lam sum Omega(a) - lam/2 sum (a^2 - w^2)/eta + lam c sum
    log eta_bar``. Derivatives: ``lam w / eta`` in w and, by the envelope theorem
    (f'(eta) = a^2/eta^2), ``lam/2 (a^2 - w^2)/eta + lam c`` in log eta_bar (zero where it
    is clipped). ``keep[0]`` receives a, the warm start of the next call (None when the
    penalty's closed forms need none).
    """
    lev, unclipped = clip(log_eta_bar, -30.0, 30.0)
    eta = affine(lev, LOG2_E, math.log2(lam)).exp2_()  # lam exp(lev) = 2^(lev log2 e + log2 lam)
    d_w = torch.addcdiv(scalar_like(0.0, w), w, eta, value=lam)
    # lam/2 a^2/eta + lam c from the dual, minus lam/2 w^2/eta = w d_w / 2
    keep[0], d_lev, omega_sum = _dual_terms(penalty, eta, a0, 0.5 * lam, lam * decay)
    d_lev.addcmul_(w, d_w, value=-0.5)
    # sum d_lev = lam/2 sum (a^2 - w^2)/eta + n lam c: the value from it
    total = torch.mul(omega_sum, lam).sub_(d_lev.sum()).add_(lev.sum(), alpha=lam * decay)
    return (total.add_(lam * decay * lev.numel()),
            [d_w, zero_outside(d_lev, unclipped, -30.0, 30.0, in_place=True)])


def _dual_terms(penalty: Penalty, eta: torch.Tensor, a0: torch.Tensor | None,
                scale: float = 1.0, offset: float = 0.0
                ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """``a = eta_hat^{-1}(eta)``, ``scale a^2/eta + offset`` (the caller may overwrite it)
    and ``sum Omega(a)``: what the value and the gradients of eq. (6) need from the penalty
    (no gradient), from its closed forms (``penalty._dual_parts``, which may overwrite
    ``eta`` and return None for ``a``) or :func:`_inverse_eta_hat` and ``penalty.value``; in
    float64 for float64 ``eta`` and float32 otherwise, returned in ``eta``'s dtype."""
    target = eta.detach()
    if target.dtype != torch.float64:
        target = target.float()
    parts = penalty._dual_parts(namespace(target), target, scale, offset)
    if parts is None:
        a = _inverse_eta_hat(penalty, target, a0)
        ratio = torch.mul(a, a).div_(target)
        parts = (a, affine(ratio, scale, offset, out=ratio), penalty.value(a))
    return tuple(p if p is None or p.dtype == eta.dtype else p.to(eta.dtype) for p in parts)


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
    >>> from skdropout.nn._penalty import eta_trick_objective
    >>> pen = get_penalty("l1")
    >>> w = torch.tensor([1.0]); lev = torch.tensor([0.0])  # eta = lam = 1: eta_hat(1) = 1
    >>> float(eta_trick_objective(w, lev, pen, 1.0, 0.0)[0])  # = Omega(1) = |1|
    1.0
    """
    keep: list[torch.Tensor | None] = [None]
    total = ElementwiseTerm.apply(partial(_eta_trick, penalty=penalty, lam=float(lam),
                                       decay=float(decay), a0=a0, keep=keep), w, log_eta_bar)
    return total, keep[0]


class PenaltyLayer(SparseLayer):
    """A layer whose keep probability is ``penalty.keep_prob(w, lam)`` (eqs. 7-8) [1]_.

    ``rule`` selects how the penalty enters training:

    - ``'omega'``: loss + lam * Omega(w) (eq. 1), with its gradient lam w / eta_hat(w)
      (the method LOGSUM with Omega = LOGSUM(2); any differentiable penalty).
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
    rule : {'omega', 'adatikhonov', 'adaprox'}, default='omega'
        How the penalty enters training (the methods LOGSUM, ADATIKHONOV, ADAPROX of
        section 5 and Table 4).

    See Also
    --------
    ProximalStep : The proximal step of ``rule='adaprox'``.
    EtaTrickLayer : eta trained as a parameter instead of set to eta_hat(w).
    skdropout.penalties.get_penalty : The penalties, by name.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 5.
       https://arxiv.org/abs/2106.07769

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
                 rule: str = "omega") -> None:
        super().__init__(base, lam)
        if rule not in ("omega", "adatikhonov", "adaprox"):
            raise ValueError("PenaltyLayer: rule must be 'omega', 'adatikhonov' or 'adaprox', "
                             f"got {rule!r}.")
        # the proximal step needs eta_hat only; the loss terms need Omega's gradient
        self.penalty = check_penalty(penalty, "PenaltyLayer", needs_gradient=rule != "adaprox")
        self.rule = rule

    def keep_prob(self) -> torch.Tensor:
        """``penalty.keep_prob(w, lam)`` = eta_hat(w) / (eta_hat(w) + lam) (eqs. 7-8).

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values in [0, 1], without gradient.
        """
        return self.penalty.keep_prob(self.weight.detach(), self.lam)

    @property
    def adds_loss_term(self) -> bool:
        """True for the rules with a loss term (``'omega'``, ``'adatikhonov'``); ADAPROX
        acts by its proximal step only."""
        return self.rule != "adaprox"

    def regularizer(self) -> torch.Tensor:
        """The loss term of the rule: ``lam * Omega(w)`` (``'logsum'``, eq. 1),
        ``lam/2 sum w^2 / eta`` with eta = eta_hat(w) held fixed (``'adatikhonov'``,
        eq. 6; weights with eta = 0 contribute 0), or 0 (``'adaprox'``).

        Returns
        -------
        torch.Tensor
            A 0-d tensor, differentiable in ``weight``.
        """
        if self.rule == "omega":
            return penalty_value(self.weight, self.penalty, self.lam)
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
    """Joint gradient descent in w and log eta of eq. (6) (the paper's eta-TRICK) [1]_.

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

    See Also
    --------
    PenaltyLayer : eta set to eta_hat(w) instead of trained.
    skdropout.linear.IRLSRegressor : The eta-trick solved exactly, for linear models.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, eq. (6) and section 5.
       https://arxiv.org/abs/2106.07769

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
        self.penalty = check_penalty(penalty, "EtaTrickLayer", needs_gradient=True)
        self.log_eta_decay = check_number("EtaTrickLayer", "log_eta_decay", log_eta_decay, 0.0)
        init_log_eta = check_number("EtaTrickLayer", "init_log_eta", init_log_eta)
        self.log_eta_bar = nn.Parameter(torch.full_like(self.weight, init_log_eta))
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
        """Keep the weights with log_eta_bar >= log(k / (1 - k)), k the ``keep_min``
        (keep probability >= k; -log 19 for the default 0.05).

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight``.
        """
        return self.log_eta_bar.detach() >= self.logit_keep_min()

    def regularizer(self) -> torch.Tensor:
        """The penalty term of eq. (6), ``lam/2 (sum w^2/eta + f(eta))``, plus the small
        ``lam * log_eta_decay * sum log_eta_bar`` of appendix C.

        f is the penalty's dual (normalised so Omega(0) = 0, see
        ``skdropout.nn._penalty.eta_trick_objective``) and
        log_eta_bar is clipped to [-30, 30].

        Returns
        -------
        torch.Tensor
            A 0-d tensor, differentiable in ``weight`` and ``log_eta_bar``.
        """
        obj, self._a = eta_trick_objective(self.weight, self.log_eta_bar, self.penalty,
                                           self.lam, self.log_eta_decay, self._a)
        return obj


def effective_step(optimizer: Any, param: Any) -> Any:
    """The optimiser's effective per-weight step rho of its last update of ``param``:
    ``lr`` for SGD, ``lr / (sqrt(v / (1 - beta2^t)) + eps)`` for Adam/AdamW (the step that
    multiplies the bias-corrected first moment).

    Parameters
    ----------
    optimizer : torch.optim.SGD, Adam or AdamW
        The optimiser after its step.
    param : torch.nn.Parameter
        One of its parameters.

    Returns
    -------
    float or torch.Tensor
        rho, a float for SGD, a tensor shaped like ``param`` for Adam/AdamW.
    """
    for group in optimizer.param_groups:
        if any(p is param for p in group["params"]):
            break
    else:
        raise ValueError("The parameter is not handled by the optimizer.")
    lr = group["lr"]
    if isinstance(optimizer, torch.optim.SGD):
        return lr
    if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        state = optimizer.state.get(param, {})
        if "exp_avg_sq" not in state:
            return lr
        t = float(state["step"])
        v = state["max_exp_avg_sq"] if group.get("amsgrad") else state["exp_avg_sq"]
        # lr / (sqrt(v / (1 - beta2^t)) + eps), in place on one temporary
        rho = torch.sqrt(v).div_(math.sqrt(1.0 - group["betas"][1] ** t)).add_(group["eps"])
        return rho.reciprocal_().mul_(lr)
    raise TypeError("adaprox needs the optimiser's per-weight step: use torch.optim.SGD, "
                    f"Adam or AdamW, got {type(optimizer).__name__}.")


#: Optimisers whose per-weight step :func:`effective_step` knows.
PROX_OPTIMIZERS = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)


class ProximalStep(Callback):
    """After each training step, the proximal step of ADAPROX (Algorithm 1, appendix B) on
    every :class:`PenaltyLayer` with ``rule='adaprox'``, with the optimiser's effective
    per-weight step (``effective_step``); validation batches change nothing [1]_.

    See Also
    --------
    PenaltyLayer : The layers it updates.
    skdropout.linear.AdaptiveDropoutRegressor : Algorithm 1 for linear models.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Algorithm 1.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.nn import SparseNetRegressor, LeNet300100
    >>> X = np.ones((8, 3), dtype="float32"); y = np.ones((8, 1), dtype="float32")
    >>> net = SparseNetRegressor(LeNet300100, module__in_features=3, module__hidden=(2,),
    ...                          module__n_classes=1, method="adaprox", max_epochs=1,
    ...                          verbose=0)
    >>> [name for name, _ in net.get_default_callbacks() if name == "prox"]
    ['prox']
    """

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Check that the optimiser's per-weight step is known.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network about to be trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        if not isinstance(net.optimizer_, PROX_OPTIMIZERS):
            raise ValueError("ProximalStep (adaprox) needs the optimiser's per-weight step: "
                             "optimizer must be torch.optim.SGD, Adam or AdamW, got "
                             f"{type(net.optimizer_).__name__}.")

    def on_batch_end(self, net: Any, batch: Any = None, training: bool = False,
                     **kwargs: Any) -> None:
        """After a training batch, ``w <- w eta / (eta + rho lam)`` on each adaprox layer.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        batch : tuple, optional
            The batch (unused).
        training : bool, default=False
            Whether the batch was a training batch (a proximal step belongs to those only).
        **kwargs
            Ignored (skorch's callback arguments).
        """
        if not training:
            return
        for layer in net.sparse_layers():
            if isinstance(layer, PenaltyLayer) and layer.rule == "adaprox":
                layer.prox(effective_step(net.optimizer_, layer.weight))


def _rule(rule: str) -> Any:
    def make(base: nn.Module, lam: float, penalty: Penalty, **options: Any) -> PenaltyLayer:
        return PenaltyLayer(base, lam, penalty, rule=rule, **options)
    return make


#: Appendix C's initial log(eta / lam) and pull on log eta_bar for the eta-trick.
SPECS = (
    MethodSpec("eta_trick",
               lambda base, lam, penalty, **options: EtaTrickLayer(base, lam, penalty, **options),
               {"init_log_eta": 5.0, "log_eta_decay": 1e-3}, uses_penalty=True),
    MethodSpec("adaprox", _rule("adaprox"), callbacks=(("prox", ProximalStep, {}),),
               uses_penalty=True),
    MethodSpec("adatikhonov", _rule("adatikhonov"), uses_penalty=True),
    MethodSpec("logsum", _rule("omega"), uses_penalty=True),
)
