"""The registry of sparsification methods and the module surgery that installs them.

A method is a layer factory with named options (the estimators' ``method__*``
parameters); :func:`install_method` replaces the ``nn.Linear`` (and, for weight-level
methods, ``nn.Conv2d``) layers of any module by the method's layer.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from ..penalties import Penalty
from ._layers import (EtaTrickLayer, HardConcreteLayer, MagnitudeLayer, PenaltyLayer,
                      SparseLayer, StandoutLayer, VarDropLayer)


@dataclass(frozen=True)
class MethodSpec:
    """How one method builds its layers.

    Attributes
    ----------
    name : str
        The ``method=`` value.
    make : callable
        ``make(base_layer, lam, penalty, **options) -> SparseLayer``.
    options : dict
        Method options and their defaults (``method__<name>`` on the estimators).
    uses_penalty : bool
        Whether the estimator's ``penalty`` parameter is used.
    default_lam : float or None
        lam when the estimator's ``lam`` is None; None means 1/N (N training samples).
    conv : bool
        Whether ``nn.Conv2d`` layers are replaced too.
    skip_last : bool
        Whether the last ``nn.Linear`` (the output layer) is left as is.
    """

    name: str
    make: Callable[..., SparseLayer]
    options: dict[str, Any] = field(default_factory=dict)
    uses_penalty: bool = False
    default_lam: float | None = 1e-3
    conv: bool = True
    skip_last: bool = False


def _vardrop(mode: str) -> Callable[..., SparseLayer]:
    def make(base: nn.Module, lam: float, penalty: Penalty, init_log_alpha: float,
             kl_warmup: float) -> SparseLayer:
        # kl_warmup is applied by the SparsityRules callback; it is checked here, with its method
        if isinstance(kl_warmup, bool) or not isinstance(kl_warmup, numbers.Real) or \
                not math.isfinite(kl_warmup) or kl_warmup < 0:
            raise ValueError("method__kl_warmup must be a number of epochs >= 0, got "
                             f"{kl_warmup!r}.")
        return VarDropLayer(base, lam, mode=mode, init_log_alpha=init_log_alpha)
    return make


def _penalty_rule(rule: str) -> Callable[..., SparseLayer]:
    def make(base: nn.Module, lam: float, penalty: Penalty, **opts: Any) -> SparseLayer:
        return PenaltyLayer(base, lam, penalty, rule=rule, **opts)
    return make


_VD_OPTS = {"init_log_alpha": -8.0, "kl_warmup": 10.0}

METHODS: dict[str, MethodSpec] = {s.name: s for s in (
    MethodSpec("vardrop_lr_ar", _vardrop("lr_ar"), dict(_VD_OPTS), default_lam=None),
    MethodSpec("vardrop_lr", _vardrop("lr"), dict(_VD_OPTS), default_lam=None),
    MethodSpec("vardrop", _vardrop("plain"), dict(_VD_OPTS), default_lam=None),
    MethodSpec("eta_trick", lambda base, lam, pen, **o: EtaTrickLayer(base, lam, pen, **o),
               {"init_log_eta": 5.0, "log_eta_decay": 1e-3}, uses_penalty=True, default_lam=None),
    MethodSpec("adaprox", _penalty_rule("adaprox"), uses_penalty=True, default_lam=None),
    MethodSpec("adatikhonov", _penalty_rule("adatikhonov"), uses_penalty=True, default_lam=None),
    MethodSpec("logsum", _penalty_rule("logsum"), uses_penalty=True, default_lam=None),
    MethodSpec("hardconcrete", lambda base, lam, pen, **o: HardConcreteLayer(base, lam, **o),
               {"beta": 2 / 3, "gamma": -0.1, "zeta": 1.1, "init_log_a": 2.0}, default_lam=None),
    MethodSpec("magnitude", lambda base, lam, pen, **o: MagnitudeLayer(base, lam),
               {"target_density": 0.1, "begin": 0.0, "end": 0.75, "every": 20}),
    MethodSpec("standout", lambda base, lam, pen, **o: StandoutLayer(base, lam, **o),
               {"alpha": 1.0, "beta": 0.0}, conv=False, skip_last=True),
)}


def get_method(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of a method name; unknown names list the valid ones."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"Unknown method {name!r}; valid methods are: "
                         f"{', '.join(METHODS)}.")
    return METHODS[name]


def method_options(spec: MethodSpec, given: dict[str, Any]) -> dict[str, Any]:
    """The method's options: defaults updated by ``given``; unknown names raise."""
    unknown = sorted(set(given) - set(spec.options))
    if unknown:
        valid = ", ".join(f"method__{k}" for k in spec.options) or "none"
        raise ValueError(f"Unknown option(s) {', '.join('method__' + k for k in unknown)} "
                         f"for method {spec.name!r}; valid options: {valid}.")
    return {**spec.options, **given}


def _prunable(module: nn.Module, spec: MethodSpec) -> list[tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute name, layer) of every layer the method replaces, in order."""
    kinds = (nn.Linear, nn.Conv2d) if spec.conv else (nn.Linear,)
    found = []
    for parent in module.modules():
        if isinstance(parent, SparseLayer):
            continue
        for name, child in parent.named_children():
            if type(child) in kinds:
                found.append((parent, name, child))
    if spec.skip_last:
        linears = [i for i, (_, _, c) in enumerate(found) if isinstance(c, nn.Linear)]
        if linears:
            found.pop(linears[-1])
    return found


def install_method(module: nn.Module, spec: MethodSpec, lam: float, penalty: Penalty | None,
                   options: dict[str, Any]) -> list[SparseLayer]:
    """Replace the prunable layers of ``module`` in place by the method's layers.

    The methods are those compared in section 5 and Table 4 (VARDROP variants, eta-TRICK,
    ADAPROX, ADATIKHONOV, LOGSUM) and the other sparsifiers of section 4 (hard concrete,
    magnitude pruning, standout). Every ``nn.Linear`` (and ``nn.Conv2d`` when
    ``spec.conv``) child of any submodule is replaced, except the output layer when
    ``spec.skip_last``; layers that are already sparse are left alone.

    Parameters
    ----------
    module : nn.Module
        The network, modified in place.
    spec : MethodSpec
        The method (a value of ``skdropout.nn.METHODS``).
    lam : float
        Regularisation strength lambda passed to every layer.
    penalty : Penalty or None
        The penalty of the penalty-based methods (``spec.uses_penalty``); ignored by the
        others.
    options : dict
        The method's options (keyword arguments of its layer), e.g. from
        ``method_options``.

    Returns
    -------
    list of SparseLayer
        The new layers, in the order of ``module.modules()``.

    Raises
    ------
    ValueError
        When the module has no layer the method can replace.

    Examples
    --------
    >>> from skdropout.nn import METHODS, LeNet300100, install_method
    >>> from skdropout.penalties import get_penalty
    >>> net = LeNet300100(in_features=8, hidden=(4,), n_classes=3)
    >>> layers = install_method(net, METHODS["logsum"], 1e-3,
    ...                         get_penalty("logsum", eps=2.0), {})
    >>> [type(layer).__name__ for layer in layers]
    ['PenaltyLayer', 'PenaltyLayer']
    >>> net = LeNet300100(in_features=8, hidden=(4,), n_classes=3)
    >>> [type(m).__name__ for m in install_method(net, METHODS["standout"], 1.0, None,
    ...                                           {"alpha": 1.0, "beta": 0.0})]
    ['StandoutLayer']
    """
    targets = _prunable(module, spec)
    if not targets:
        kinds = "nn.Linear or nn.Conv2d" if spec.conv else "nn.Linear"
        extra = " besides the output layer" if spec.skip_last else ""
        raise ValueError(f"The module has no prunable layer for method {spec.name!r}: it "
                         f"needs at least one {kinds} layer{extra}.")
    layers = []
    for parent, name, child in targets:
        layer = spec.make(child, lam, penalty, **options)
        setattr(parent, name, layer)
        layers.append(layer)
    return layers


def effective_step(optimizer: Any, param: Any) -> Any:
    """The optimiser's effective per-weight step rho of its last update of ``param``:
    ``lr`` for SGD, ``lr / (sqrt(v / (1 - beta2^t)) + eps)`` for Adam/AdamW (the step that
    multiplies the bias-corrected first moment)."""
    import torch

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
