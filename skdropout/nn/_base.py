"""The base of the sparsifying layers and the pruning rule they share.

Every layer exposes the paper's keep probability ``keep_prob()`` (eq. 8,
``alpha = eta / (eta + lam)``) per weight and applies one pruning rule: a weight whose keep
probability is below the layer's ``keep_min`` (default :data:`KEEP_MIN`, 0.05) is exactly
zero whenever the layer is evaluated (``module.eval()``). ``regularizer()`` is the term the layer adds to the training loss. The
layers of each method family live in that family's module (``_vardrop``, ``_hardconcrete``,
``_penalty``, ``_magnitude``, ``_standout``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: A weight is pruned when its keep probability is below this (Molchanov et al.'s rule:
#: for variational dropout it is log alpha > log 19): the default of ``keep_min``.
KEEP_MIN = 0.05


def check_number(owner: str, name: str, value: Any, low: float | None = None,
                 high: float | None = None, low_open: bool = False,
                 high_open: bool = False) -> float:
    """``value`` as a float after checking that it is a finite real number in
    ``[low, high]`` (``low`` excluded with ``low_open``, ``high`` with ``high_open``);
    otherwise a ValueError that names ``owner``, the parameter ``name`` and the allowed
    values.

    Parameters
    ----------
    owner : str
        Who checks (a layer or callback class name), for the message.
    name : str
        The parameter as the user sets it, e.g. ``method__init_log_alpha``.
    value : object
        The value given.
    low, high : float or None
        Bounds (None: unbounded).
    low_open, high_open : bool, default=False
        Whether ``low`` (``high``) itself is excluded.

    Returns
    -------
    float

    Examples
    --------
    >>> from skdropout.nn._base import check_number
    >>> check_number("GradualPruning", "target_density", 0.5, 0.0, 1.0)
    0.5
    >>> check_number("GradualPruning", "target_density", 2, 0.0, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: GradualPruning: target_density must be a finite number in [0, 1], got 2.
    """
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
          and math.isfinite(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is None and high is None:
            allowed = "a finite number"
        elif high is None:
            allowed = f"a finite number {'>' if low_open else '>='} {low:g}"
        elif low is None:
            allowed = f"a finite number {'<' if high_open else '<='} {high:g}"
        else:
            allowed = (f"a finite number in {'(' if low_open else '['}{low:g}, {high:g}"
                       f"{')' if high_open else ']'}")
        raise ValueError(f"{owner}: {name} must be {allowed}, got {value!r}.")
    return float(value)


def check_keep_min(owner: str, value: Any) -> float:
    """``value`` as a float after checking that it is a pruning threshold on the keep
    probability: a finite number in (0, 1); otherwise a ValueError naming ``owner`` and
    ``keep_min``.

    Parameters
    ----------
    owner : str
        Who checks (an estimator or layer class name), for the message.
    value : object
        The value given.

    Returns
    -------
    float

    Examples
    --------
    >>> from skdropout.nn._base import check_keep_min
    >>> check_keep_min("SparseNetClassifier", 0.1)
    0.1
    >>> check_keep_min("SparseNetClassifier", 1)
    Traceback (most recent call last):
    ...
    ValueError: SparseNetClassifier: keep_min must be a finite number in (0, 1), got 1.
    """
    return check_number(owner, "keep_min", value, 0.0, 1.0, low_open=True, high_open=True)


class SparseLayer(nn.Module):
    """Base of the sparsifying layers: the weights of a Linear or Conv2d layer plus a rule.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Regularisation strength lambda of eq. (1)/(6).

    Attributes
    ----------
    keep_min : float in (0, 1)
        The pruning threshold: a weight whose keep probability is below it is pruned
        (default ``KEEP_MIN``, 0.05; the estimators set it from their ``keep_min``).

    See Also
    --------
    install_method : Puts a method's layers in place of a network's Linear/Conv2d layers.
    METHODS : The methods and their layers.

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
    #: whether the evaluated layer zeroes its pruned weights; False evaluates the unpruned
    #: network (the quantity the authors' code reports for the penalty methods of Table 4)
    prune_at_eval = True
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
    @property
    def keep_min(self) -> float:
        """The pruning threshold on the keep probability (default ``KEEP_MIN``, 0.05)."""
        return self.__dict__.get("_keep_min", KEEP_MIN)

    @keep_min.setter
    def keep_min(self, value: float) -> None:
        self.__dict__["_keep_min"] = check_keep_min(type(self).__name__, value)

    def logit_keep_min(self) -> float:
        """``log(keep_min / (1 - keep_min))``: keep probability sigmoid(t) >= keep_min
        exactly when t >= this (for variational dropout, t = -log alpha; for keep_min 0.05
        it is -log 19).

        Returns
        -------
        float
        """
        k = self.keep_min
        return math.log(k / (1.0 - k))

    def keep_prob(self) -> torch.Tensor:
        """Keep probability alpha = eta / (eta + lam) of each weight (eq. 8), detached.

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values in [0, 1], without gradient.
        """
        raise NotImplementedError

    def mask(self) -> torch.Tensor:
        """Which weights are kept: keep probability (eq. 8) at least ``keep_min`` (0.05
        unless set).

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight``: True where the weight is kept.
        """
        return self.keep_prob() >= self.keep_min

    def pruned_weight(self) -> torch.Tensor:
        """The weight the evaluated model uses: pruned entries exactly zero.

        Returns
        -------
        torch.Tensor
            ``weight`` where :meth:`mask` is True, 0 elsewhere.
        """
        return torch.where(self.mask(), self.weight, torch.zeros_like(self.weight))

    @property
    def adds_loss_term(self) -> bool:
        """Whether :meth:`regularizer` adds anything to the training loss: True when a
        subclass defines it (the estimators skip the layers that add nothing)."""
        return type(self).regularizer is not SparseLayer.regularizer

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

    def _hold_term(self, term: torch.Tensor, scale: float, *params: torch.Tensor) -> None:
        """Keep ``term``, this layer's loss term computed by a training forward pass along
        with the noise, for :meth:`regularizer` to return (a graph is not built twice);
        kept only while it is differentiable and the ``params`` it was computed from are
        unchanged."""
        held = ((scale, [(p, p.data_ptr(), p._version) for p in params]), term) \
            if term.requires_grad else None
        object.__setattr__(self, "_held", held)  # not a module, parameter or buffer

    def _take_term(self, scale: float, *params: torch.Tensor) -> torch.Tensor | None:
        """The term kept by :meth:`_hold_term` if it was computed from these ``params``
        (the same tensors, their storage and versions unchanged: no optimiser step since)
        and ``scale``; taken once."""
        held = self.__dict__.get("_held")
        object.__setattr__(self, "_held", None)
        if held is not None:
            (s, keys), term = held
            if s == scale and len(keys) == len(params) and all(
                    p is q and ptr == q.data_ptr() and version == q._version
                    for (p, ptr, version), q in zip(keys, params)):
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
            The layer's output; in eval mode pruned weights contribute exactly nothing
            (unless ``prune_at_eval`` is False).
        """
        if self.training:
            return self.train_forward(x)
        object.__setattr__(self, "_held", None)
        weight = self.pruned_weight() if self.prune_at_eval else self.weight
        return self._op(x, weight, self.bias)

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
