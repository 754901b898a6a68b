"""What a sparsification method is made of: its layer, its options and its training rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from skorch.callbacks import Callback
from torch import nn


@dataclass(frozen=True)
class MethodSpec:
    """How one method builds its layers and which training rules it runs.

    Each method family's module defines its specs; every default of a method is here. The
    specs of the methods compared in section 5 (Table 4) and section 4 are the values of
    :data:`METHODS`. The fields are also the attributes.

    Parameters
    ----------
    name : str
        The ``method=`` value.
    make : callable
        ``make(base_layer, lam, penalty, **options) -> SparseLayer``.
    options : dict
        Layer options and their defaults (``method__<name>`` on the estimators).
    callbacks : tuple of (name, class, dict)
        The method's training rules: skorch callbacks added to the estimators' default
        callbacks under ``name``, built with the keyword arguments of the dict (their
        defaults for this method); ``callbacks__<name>__<param>`` sets them as in skorch.
    uses_penalty : bool
        Whether the estimator's ``penalty`` parameter is used.
    default_lam : float or None
        lam when the estimator's ``lam`` is None; None means 1/N (N training samples).
    conv : bool
        Whether ``nn.Conv2d`` layers are replaced too.
    skip_last : bool
        Whether the last ``nn.Linear`` (the output layer) is left as is.

    Examples
    --------
    >>> from skdropout.nn import METHODS
    >>> [name for name, _ in METHODS["magnitude"].make_callbacks()]
    ['pruning']
    """

    name: str
    make: Callable[..., nn.Module]
    options: dict[str, Any] = field(default_factory=dict)
    callbacks: tuple[tuple[str, type, dict[str, Any]], ...] = ()
    uses_penalty: bool = False
    default_lam: float | None = None
    conv: bool = True
    skip_last: bool = False

    def make_callbacks(self) -> list[tuple[str, Callback]]:
        """The method's training rules as new (name, callback) pairs with its defaults.

        Returns
        -------
        list of (str, skorch.callbacks.Callback)
        """
        return [(name, cls(**dict(kwargs))) for name, cls, kwargs in self.callbacks]
