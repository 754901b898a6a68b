"""skorch callbacks shared by every method: the sparsity record and the linear learning-rate
decay of appendix C. The methods' own training rules live with their families."""

from __future__ import annotations

import math
from typing import Any

import torch
from skorch.callbacks import Callback, LRScheduler


def total_steps(net: Any) -> int:
    """Training steps of a whole fit: ``max_epochs x ceil(n_train / batch_size)``.

    Parameters
    ----------
    net : skorch.NeuralNet
        A net whose data have been split (``n_train_`` set), e.g. during training.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from skdropout.nn._callbacks import total_steps
    >>> total_steps(SimpleNamespace(n_train_=10, batch_size=4, max_epochs=2))
    6
    """
    n_train = getattr(net, "n_train_", None) or 1
    per_epoch = math.ceil(n_train / net.batch_size) if net.batch_size > 0 else 1
    return max(1, per_epoch * net.max_epochs)


class StepRule(Callback):
    """Base of the training rules that act at training steps: counts the training steps of a
    fit (``step_``, from 1) against their total (``total_``, read once the data are split).
    """

    def initialize(self) -> StepRule:
        """Reset the step count (skorch calls this when the net is initialised).

        Returns
        -------
        StepRule
            self.
        """
        self.step_, self.total_ = 0, None
        return self

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Restart the step count.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network about to be trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        self.step_, self.total_ = 0, None

    def count_step(self, net: Any) -> int:
        """Count one training step; returns its number (from 1).

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being trained.

        Returns
        -------
        int
        """
        if self.total_ is None:  # n_train_ is known once the data are split
            self.total_ = total_steps(net)
        self.step_ += 1
        return self.step_


class SparsityLog(Callback):
    """Record ``density``, ``layer_density`` and, with a validation split,
    ``valid_error`` of the pruned model in the net's history at the end of each epoch.

    The density is the fraction of weights whose keep probability (eq. 8) is at least the
    estimator's ``keep_min`` (0.05, the measure of Table 4 and appendix C). The estimators add this callback
    (``sparsity``) themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.nn import SparseNetRegressor, LeNet300100
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(32, 5)).astype("float32"); y = X[:, :1]
    >>> net = SparseNetRegressor(LeNet300100, module__in_features=5, module__hidden=(8,),
    ...                          module__n_classes=1, method="magnitude",
    ...                          callbacks__pruning__target_density=0.25, max_epochs=2,
    ...                          random_state=0, verbose=0).fit(X, y)
    >>> # one step per epoch; pruned at the last step (10 of 40 and 2 of 8 weights kept)
    >>> net.history[:, "density"]
    [1.0, 0.25]
    """

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record ``density``, ``layer_density`` and (with a validation split)
        ``valid_error``.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        density, layer_density = net._densities()
        net.history.record("density", density)
        net.history.record("layer_density", layer_density)
        row = net.history[-1]
        if "valid_acc" in row:
            net.history.record("valid_error", 1.0 - row["valid_acc"])


class LinearLRDecay(LRScheduler):
    """Decay the learning rate linearly to 0 over the whole training run (appendix C):
    ``lr_t = lr_0 (1 - t / T)`` with lr_0 each parameter group's learning rate at the start
    of training, stepped every training batch (T = epochs x batches per epoch) or, with
    ``step_every='epoch'``, at the end of every epoch (T = epochs: epoch e, from 0, runs at
    ``lr_0 (1 - e / T)``, as the authors' code of Table 4 does). With ``hold`` h > 0 the
    rate stays at lr_0 for the first fraction h of the run and then decays linearly to 0:
    ``lr_t = lr_0 min(1, (1 - t / T) / (1 - h))`` (h = 0.5 with 200 epochs is the schedule of
    Molchanov et al.'s Sparse VD code, ``lr_0 min(1, 2 - e / 100)``).

    skorch's :class:`~skorch.callbacks.LRScheduler` with torch's ``LambdaLR``; T is read
    from the net once its data are split (``n_train_``).

    Parameters
    ----------
    event_name : str or None, default='event_lr'
        The history key of the learning rate of each batch or epoch (None: not recorded).
    step_every : {'batch', 'epoch'}, default='batch'
        When the learning rate decays.
    hold : float in [0, 1), default=0.0
        Fraction of the run at the initial rate before the linear decay.

    Examples
    --------
    4 samples in batches of 2 for 2 epochs, so T = 4 steps:

    >>> import numpy as np
    >>> from skdropout.nn import LinearLRDecay, LeNet300100, SparseNetRegressor
    >>> X = np.ones((4, 3), dtype="float32"); y = np.ones((4, 1), dtype="float32")
    >>> net = SparseNetRegressor(LeNet300100, module__in_features=3, module__hidden=(2,),
    ...                          module__n_classes=1, batch_size=2, max_epochs=2, lr=0.1,
    ...                          callbacks__lr_decay=LinearLRDecay(), verbose=0).fit(X, y)
    >>> [round(lr, 6) for lr in net.history[:, "batches", :, "event_lr"][1]]
    [0.05, 0.025]
    >>> net.optimizer_.param_groups[0]["lr"]
    0.0
    """

    def __init__(self, event_name: str | None = "event_lr", step_every: str = "batch",
                 hold: float = 0.0) -> None:
        super().__init__(policy=torch.optim.lr_scheduler.LambdaLR, step_every=step_every,
                         event_name=event_name)
        self.hold = hold

    def _get_param_names(self) -> list[str]:
        """The constructor's parameters (the scheduler's policy is fixed)."""
        return ["event_name", "step_every", "hold"]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The scheduler's arguments: the factor ``1 - t / T`` as ``lr_lambda``, started
        afresh (``last_epoch=-1``) at each fit."""
        return {"lr_lambda": self._factor, "last_epoch": -1}

    def initialize(self) -> LinearLRDecay:
        """Forget the length of the previous run.

        Returns
        -------
        LinearLRDecay
            self.
        """
        if self.step_every not in ("batch", "epoch"):
            raise ValueError("LinearLRDecay: step_every must be 'batch' or 'epoch', got "
                             f"{self.step_every!r}.")
        if not (isinstance(self.hold, (int, float)) and 0.0 <= self.hold < 1.0):
            raise ValueError(f"LinearLRDecay: hold must be a number in [0, 1), got "
                             f"{self.hold!r}.")
        self.total_ = None
        return super().initialize()

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Start the schedule at the current learning rates (T is the number of epochs, or
        read at the first batch when the decay is per batch).

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being trained.
        **kwargs
            Passed on to skorch's LRScheduler.
        """
        self.total_ = net.max_epochs if self.step_every == "epoch" else None
        super().on_train_begin(net, **kwargs)

    def on_batch_end(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        """After a training batch, set every group's lr to ``lr_0 (1 - t / T)``.

        Parameters
        ----------
        net : skorch.NeuralNet
            The network being trained.
        training : bool, default=False
            Whether the batch was a training batch; validation batches change nothing.
        **kwargs
            Passed on to skorch's LRScheduler.
        """
        if training and self.total_ is None:  # n_train_ is known once the data are split
            self.total_ = total_steps(net)
        super().on_batch_end(net, training=training, **kwargs)

    def _factor(self, step: int) -> float:
        """``max(0, min(1, (1 - step / T) / (1 - hold)))`` (1 before T is known, at step
        0)."""
        if not step or self.total_ is None:
            return 1.0
        return max(0.0, min(1.0, (1.0 - step / self.total_) / (1.0 - self.hold)))
