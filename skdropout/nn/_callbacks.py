"""skorch callbacks that carry the per-method training rules and the sparsity record."""

from __future__ import annotations

import math
from typing import Any

from skorch.callbacks import Callback

from ._layers import MagnitudeLayer, PenaltyLayer, StandoutLayer, VarDropLayer
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

    Examples
    --------
    The callback only needs the net's optimiser, ``n_train_``, ``batch_size`` and
    ``max_epochs``; here 4 samples in batches of 2 for 2 epochs, so T = 4 steps:

    >>> from types import SimpleNamespace
    >>> import torch
    >>> from skdropout.nn import LinearLRDecay
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> net = SimpleNamespace(optimizer_=opt, n_train_=4, batch_size=2, max_epochs=2)
    >>> cb = LinearLRDecay().initialize()
    >>> cb.on_train_begin(net)
    >>> lrs = []
    >>> for _ in range(4):
    ...     cb.on_batch_end(net, training=True)
    ...     lrs.append(round(opt.param_groups[0]["lr"], 6))
    >>> lrs
    [0.075, 0.05, 0.025, 0.0]
    """

    def initialize(self) -> LinearLRDecay:
        """Reset the step counter (skorch calls this when the net is initialised).

        Returns
        -------
        LinearLRDecay
            self.
        """
        self.step_, self.total_, self.base_lrs_ = 0, None, None
        return self

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Record every parameter group's initial learning rate lr_0.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        self.step_, self.total_ = 0, None
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_batch_end(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        """After a training batch, set every group's lr to ``lr_0 (1 - t / T)``.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being trained.
        training : bool, default=False
            Whether the batch was a training batch; validation batches change nothing.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        if not training:
            return
        if self.total_ is None:
            self.total_ = _total_steps(net)
        self.step_ += 1
        factor = max(0.0, 1.0 - self.step_ / self.total_)
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = base * factor

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """Restore every group's lr_0, so that a further ``partial_fit`` decays from it again.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_ or []):
            group["lr"] = base


def _total_steps(net: Any) -> int:
    """Training steps of a whole fit: epochs x ceil(n_train / batch_size)."""
    n_train = getattr(net, "n_train_", None) or 1
    per_epoch = math.ceil(n_train / net.batch_size) if net.batch_size > 0 else 1
    return max(1, per_epoch * net.max_epochs)


class SparsityRules(Callback):
    """Applies the rules that act between optimiser steps (training batches only) and
    records ``density``, ``layer_density`` and, when there is a validation split,
    ``valid_error`` of the pruned model every epoch.

    The rules: the KL warm-up of the variational dropout methods (``method__kl_warmup``
    epochs, as in the reference code of Molchanov et al.; off by default) before each
    optimiser step; the proximal step of ADAPROX (Algorithm 1, appendix B) after each
    optimiser step, with the optimiser's effective per-weight step; the cubic TOP-k
    schedule of magnitude pruning (section 4.4) every ``method__every`` steps and at the
    last one; a new record of the standout keep probabilities (section 4.1) each epoch.
    The recorded density is the fraction of weights whose keep probability (eq. 8) is at
    least 0.05, the measure of Table 4 and appendix C. The estimators
    (``SparseNetClassifier``, ``SparseNetRegressor``) add this callback themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.nn import SparseNetRegressor, LeNet300100
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(32, 5)).astype("float32"); y = X[:, :1]
    >>> net = SparseNetRegressor(LeNet300100, module__in_features=5, module__hidden=(8,),
    ...                          module__n_classes=1, method="magnitude",
    ...                          method__target_density=0.25, max_epochs=2, random_state=0,
    ...                          verbose=0).fit(X, y)
    >>> # one step per epoch; pruned at the last step (10 of 40 and 2 of 8 weights kept)
    >>> net.history[:, "density"]
    [1.0, 0.25]
    """

    def initialize(self) -> SparsityRules:
        """Reset the step counters (skorch calls this when the net is initialised).

        Returns
        -------
        SparsityRules
            self.
        """
        self.n_steps_ = 0
        self.total_steps_ = None
        return self

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Restart the step count of the pruning schedule.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        self.n_steps_, self.total_steps_ = 0, None

    def on_batch_begin(self, net: Any, batch: Any = None, training: bool = False,
                       **kwargs: Any) -> None:
        """Before a training batch: the weight of the variational dropout KL term during
        a KL warm-up (``method__kl_warmup`` epochs, linear from 0 to 1 by training step).

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        batch : tuple, optional
            The batch (unused).
        training : bool, default=False
            Whether the batch is a training batch.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        warmup = net.method_options_.get("kl_warmup", 0.0)
        if not training or not warmup:
            return
        if self.total_steps_ is None:  # n_train_ is known once the data are split
            self.total_steps_ = _total_steps(net)
        per_epoch = self.total_steps_ / net.max_epochs
        weight = min(1.0, (self.n_steps_ + 1) / (warmup * per_epoch))
        for layer in net.sparse_layers():
            if isinstance(layer, VarDropLayer):
                layer.kl_weight = weight

    def on_batch_end(self, net: Any, batch: Any = None, training: bool = False,
                     **kwargs: Any) -> None:
        """After a training batch: the ADAPROX proximal step, and the magnitude pruning
        step when the schedule is due.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained (its ``method``, ``method_options_``,
            ``optimizer_`` and ``sparse_layers()`` are used).
        batch : tuple, optional
            The batch (unused).
        training : bool, default=False
            Whether the batch was a training batch; validation batches change nothing.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        if not training:  # a proximal or pruning step belongs to training batches only
            return
        if self.total_steps_ is None:  # n_train_ is known once the data are split
            self.total_steps_ = _total_steps(net)
        self.n_steps_ += 1
        opts = net.method_options_
        if net.method == "adaprox":  # the other methods have no per-batch rule: no walk
            for layer in net.sparse_layers():
                if isinstance(layer, PenaltyLayer) and layer.rule == "adaprox":
                    layer.prox(effective_step(net.optimizer_, layer.weight))
        elif net.method == "magnitude" and (self.n_steps_ % int(opts["every"]) == 0
                                            or self.n_steps_ >= self.total_steps_):
            density = cubic_density(self.n_steps_ / self.total_steps_, opts["target_density"],
                                    opts["begin"], opts["end"])
            for layer in net.sparse_layers():
                if isinstance(layer, MagnitudeLayer):
                    layer.prune_to(density)

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Start a new record of the standout layers' largest keep probabilities.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        for layer in net.sparse_layers():
            if isinstance(layer, StandoutLayer):
                layer.begin_epoch()

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record ``density``, ``layer_density`` and (with a validation split)
        ``valid_error`` in the net's history.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        net.history.record("density", net.density_)
        net.history.record("layer_density", net.layer_density_)
        row = net.history[-1]
        if "valid_acc" in row:
            net.history.record("valid_error", 1.0 - row["valid_acc"])
