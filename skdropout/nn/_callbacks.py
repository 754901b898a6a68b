"""skorch callbacks that carry the per-method training rules and the sparsity record."""

from __future__ import annotations

import math
from typing import Any

from skorch.callbacks import Callback

from ._layers import MagnitudeLayer, PenaltyLayer, StandoutLayer
from ._methods import effective_step


def cubic_density(progress: float, target: float, begin: float = 0.0,
                  end: float = 0.75) -> float:
    """Zhu & Gupta's gradual pruning schedule as a density: 1 before ``begin``, ``target``
    after ``end`` (fractions of training), and in between
    ``target + (1 - target) (1 - (p - begin)/(end - begin))^3``.

    Examples
    --------
    >>> from skdropout.nn._callbacks import cubic_density
    >>> cubic_density(0.0, 0.1), round(cubic_density(0.5, 0.1, 0.0, 1.0), 6), cubic_density(1.0, 0.1)
    (1.0, 0.2125, 0.1)
    """
    if progress <= begin:
        return 1.0
    if progress >= end:
        return target
    frac = (progress - begin) / (end - begin)
    return target + (1.0 - target) * (1.0 - frac) ** 3


class LinearLRDecay(Callback):
    """Decay the learning rate linearly to 0 over the whole training run (appendix C),
    one step per training batch: ``lr_t = lr_0 (1 - t / T)`` with T = epochs x batches/epoch
    and lr_0 each parameter group's learning rate at the start of training.
    """

    def initialize(self) -> LinearLRDecay:
        self.step_, self.total_, self.base_lrs_ = 0, None, None
        return self

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        self.step_, self.total_ = 0, None
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_batch_end(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        if not training:
            return
        if self.total_ is None:
            self.total_ = _total_steps(net)
        self.step_ += 1
        factor = max(0.0, 1.0 - self.step_ / self.total_)
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = base * factor


def _total_steps(net: Any) -> int:
    """Training steps of a whole fit: epochs x ceil(n_train / batch_size)."""
    n_train = getattr(net, "n_train_", None) or 1
    per_epoch = math.ceil(n_train / net.batch_size) if net.batch_size > 0 else 1
    return max(1, per_epoch * net.max_epochs)


class SparsityRules(Callback):
    """Applies the rules that act between optimiser steps (training batches only) and
    records ``density``, ``layer_density`` and, when there is a validation split,
    ``valid_error`` of the pruned model every epoch."""

    def initialize(self) -> SparsityRules:
        self.n_steps_ = 0
        self.total_steps_ = None
        return self

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        self.n_steps_, self.total_steps_ = 0, None

    def on_batch_end(self, net: Any, batch: Any = None, training: bool = False,
                     **kwargs: Any) -> None:
        if not training:  # a proximal or pruning step belongs to training batches only
            return
        if self.total_steps_ is None:  # n_train_ is known once the data are split
            self.total_steps_ = _total_steps(net)
        self.n_steps_ += 1
        opts = net.method_options_
        for layer in net.sparse_layers():
            if isinstance(layer, PenaltyLayer) and layer.rule == "adaprox":
                layer.prox(effective_step(net.optimizer_, layer.weight))
        if net.method == "magnitude" and (self.n_steps_ % int(opts["every"]) == 0
                                          or self.n_steps_ >= self.total_steps_):
            density = cubic_density(self.n_steps_ / self.total_steps_, opts["target_density"],
                                    opts["begin"], opts["end"])
            for layer in net.sparse_layers():
                if isinstance(layer, MagnitudeLayer):
                    layer.prune_to(density)

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        for layer in net.sparse_layers():
            if isinstance(layer, StandoutLayer):
                layer.begin_epoch()

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        net.history.record("density", net.density_)
        net.history.record("layer_density", net.layer_density_)
        row = net.history[-1]
        if "valid_acc" in row:
            net.history.record("valid_error", 1.0 - row["valid_acc"])
