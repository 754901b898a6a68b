"""The registry of sparsification methods and the module surgery that installs them.

A method is a :class:`MethodSpec` defined with its family (``_vardrop``, ``_hardconcrete``,
``_penalty``, ``_magnitude``, ``_standout``): a layer factory with named options (the
estimators' ``method__*`` parameters) and its training rules as skorch callbacks.
:func:`install_method` replaces the ``nn.Linear`` (and, for weight-level methods,
``nn.Conv2d``) layers of any module, subclasses included, by the method's layer.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from ..penalties import Penalty
from . import _hardconcrete, _magnitude, _penalty, _standout, _vardrop
from ._base import SparseLayer
from ._spec import MethodSpec

METHODS: dict[str, MethodSpec] = {spec.name: spec for family in (
    _vardrop, _penalty, _hardconcrete, _magnitude, _standout) for spec in family.SPECS}


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
        rules = "".join(f"; {cls.__name__}'s parameters are set as callbacks__{name}__<param> "
                        f"({', '.join(kwargs)})" for name, cls, kwargs in spec.callbacks
                        if kwargs)
        raise ValueError(f"Unknown option(s) {', '.join('method__' + k for k in unknown)} "
                         f"for method {spec.name!r}; valid options: {valid}{rules}.")
    return {**spec.options, **given}


def _prunable(module: nn.Module, spec: MethodSpec) -> list[tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute name, layer) of every layer the method replaces, in order."""
    kinds = (nn.Linear, nn.Conv2d) if spec.conv else (nn.Linear,)
    found = []
    for parent_name, parent in module.named_modules():
        if isinstance(parent, SparseLayer):
            continue
        for name, child in parent.named_children():
            if not isinstance(child, kinds) or isinstance(child, SparseLayer):
                continue
            if isinstance(child, LazyModuleMixin) and child.has_uninitialized_params():
                path = f"{parent_name}.{name}" if parent_name else name
                raise ValueError(
                    f"Layer {path!r} ({type(child).__name__}) has no weights yet, so method "
                    f"{spec.name!r} cannot be installed on it: give it its input size (e.g. "
                    "nn.Linear(in_features, out_features)) or run the module once on an "
                    "input before passing it to the estimator.")
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
    ``spec.conv``) child of any submodule is replaced, subclasses included (their
    weights are copied; a lazy layer must be materialised first), except the output layer
    when ``spec.skip_last``; layers that are already sparse are left alone.

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
        When the module has no layer the method can replace, or a lazy layer has no
        weights yet.

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
