"""Training that survives Ctrl-C: the state after every finished epoch in one file, a rerun
resumes from it, and an interrupt is told apart from a finished run.

skorch's ``fit`` catches ``KeyboardInterrupt`` and returns as if training had finished (its
``EarlyStopping`` stops a run that way). :func:`fit_resumable` counts the finished epochs
instead, and raises ``KeyboardInterrupt`` again when the run is cut short.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from skorch.callbacks import Callback
from skorch.history import History

from ._atomic import replacing

PLAIN = (bool, int, float, str, type(None))


def _plain(value: Any) -> bool:
    """Whether ``value`` is data that JSON keeps as it is (numbers, strings, lists, dicts)."""
    if isinstance(value, PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _is_scheduler(value: Any) -> bool:
    """Whether ``value`` is a torch learning-rate scheduler (its state is a ``state_dict``)."""
    return isinstance(value, (torch.optim.lr_scheduler.LRScheduler,
                              torch.optim.lr_scheduler.ReduceLROnPlateau))


class EpochCheckpoint(Callback):
    """Save the whole training state after every finished epoch and restore it when training
    begins; ``epochs_done_`` counts the finished epochs.

    The state is the module's, the optimiser's and the criterion's ``state_dict``, the
    history, the learned attributes (names ending in ``_``) of the other callbacks (step
    counters of pruning schedules, and the ``state_dict`` of a torch learning-rate scheduler
    held by one, as skorch's ``LRScheduler`` holds it), the torch random states (CPU, and CUDA
    when in use) and ``config``, written to a temporary file and renamed over ``path``, so
    the file always holds one whole epoch. Restored, training continues with the next epoch as if it had not stopped. The
    callback must come last in ``callbacks`` so that it restores after the others have
    reset themselves and saves after they have recorded the epoch (skorch's ``print_log``
    may follow it).

    Parameters
    ----------
    path : str or Path or None
        The checkpoint file; None saves nothing and only counts the finished epochs (so an
        interrupt is still told apart from the end of training).
    config : dict, optional
        What identifies the run (method, lam, epochs, seed...); a checkpoint written with
        another config is refused by :meth:`check`.
    """

    def __init__(self, path: str | os.PathLike | None,
                 config: dict[str, Any] | None = None) -> None:
        self.path = path
        self.config = config

    def read(self) -> dict[str, Any] | None:
        """The saved state, or None when there is no checkpoint file."""
        if self.path is None:
            return None
        path = Path(self.path)
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged file: torch raises several kinds
            raise ValueError(f"{path}: unreadable checkpoint ({exc}); delete it to start "
                             "the run over.") from None

    def check(self) -> int:
        """The number of finished epochs the checkpoint holds (0 without one).

        Raises
        ------
        ValueError
            The checkpoint belongs to a run with another config.
        """
        state = self.read()
        if state is None:
            return 0
        self._check_config(state)
        return len(json.loads(state["history"]))

    def _check_config(self, state: dict[str, Any]) -> None:
        saved = json.loads(state["config"])
        if saved != json.loads(json.dumps(self.config)):
            raise ValueError(f"{self.path} holds a checkpoint of another run ({saved}); "
                             "rerun with those settings to resume it, or delete the file.")

    def initialize(self) -> EpochCheckpoint:
        self.epochs_done_ = 0
        return self

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        state = self.read()
        if state is not None:
            self._check_config(state)
            self.restore(net, state)

    def restore(self, net: Any, state: dict[str, Any] | None = None) -> None:
        """Load the saved state into an initialised ``net``."""
        state = self.read() if state is None else state
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.criterion_.load_state_dict(state["criterion"])
        net.history = History(json.loads(state["history"]))
        attributes = json.loads(state["callbacks"])
        schedulers = state.get("schedulers", {})
        for name, callback in net.callbacks_:
            for key, value in attributes.get(name, {}).items():
                setattr(callback, key, value)
            for key, value in schedulers.get(name, {}).items():
                if getattr(callback, key, None) is not None:  # made when training begins
                    getattr(callback, key).load_state_dict(value)
        torch.set_rng_state(state["rng"])
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        self.epochs_done_ = len(net.history)

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        if self.path is not None:
            self.save(net)
        self.epochs_done_ = len(net.history)

    def save(self, net: Any) -> None:
        """Write the state of ``net`` after a finished epoch to ``path``, whole."""
        callbacks = {name: {k: v for k, v in vars(cb).items()
                            if k.endswith("_") and not k.startswith("_") and _plain(v)}
                     for name, cb in net.callbacks_ if cb is not self}
        # a learning-rate scheduler (skorch's LRScheduler holds torch's) counts its steps
        # inside the torch object: without its state a resumed run restarts the schedule
        schedulers = {name: {k: v.state_dict() for k, v in vars(cb).items()
                             if k.endswith("_") and _is_scheduler(v)}
                      for name, cb in net.callbacks_ if cb is not self}
        state = {"module": net.module_.state_dict(), "optimizer": net.optimizer_.state_dict(),
                 "criterion": net.criterion_.state_dict(),
                 "history": json.dumps(net.history.to_list()),
                 "callbacks": json.dumps(callbacks), "schedulers": schedulers,
                 "rng": torch.get_rng_state(),
                 "rng_cuda": (torch.cuda.get_rng_state_all() if torch.cuda.is_initialized()
                              else []),
                 "config": json.dumps(self.config)}
        with replacing(self.path) as partial:
            torch.save(state, partial)


def fit_resumable(net: Any, X: Any, y: Any, checkpoint: str | os.PathLike | None,
                  config: dict[str, Any] | None = None) -> Any:
    """Fit ``net`` for ``net.max_epochs`` epochs in all, resuming from ``checkpoint`` when a
    run with the same ``config`` left one there; the checkpoint file is kept (delete it
    once the results are stored).

    Parameters
    ----------
    net : skorch.NeuralNet
        Not yet fitted; an :class:`EpochCheckpoint` is appended to its callbacks.
    X, y : array-like
        The training data, as for ``net.fit``.
    checkpoint : str or Path or None
        The checkpoint file (its folder must exist); None: no checkpoint, an interrupt still
        raises.
    config : dict, optional
        What identifies the run (see :class:`EpochCheckpoint`).

    Returns
    -------
    net
        Fitted for ``max_epochs`` epochs, with its own callbacks again (the checkpoint is
        not among them).

    Raises
    ------
    KeyboardInterrupt
        Training was interrupted (Ctrl-C, or SIGTERM turned into it by the command line);
        the checkpoint holds the last finished epoch.
    ValueError
        ``checkpoint`` belongs to a run with another config (raised before any training).
    """
    saver = EpochCheckpoint(checkpoint, config)
    done = saver.check()
    callbacks = net.callbacks
    net.set_params(callbacks=[*(callbacks or []), ("checkpoint", saver)])
    try:
        if done == 0:
            net.fit(X, y)
        else:  # restored when training begins (after the other callbacks have reset)
            net.initialize()
            if done < net.max_epochs:
                net.partial_fit(X, y, epochs=net.max_epochs - done)
            else:  # finished before its results were stored
                # what the net learns from the data before epoch 1: classes, n_train_
                net.check_data(X, y)
                net.get_split_datasets(X, y)
                dict(net.callbacks_)["checkpoint"].restore(net)
        finished = dict(net.callbacks_)["checkpoint"].epochs_done_ >= net.max_epochs
    finally:  # a later fit of the returned net knows nothing of this checkpoint
        net.set_params(callbacks=callbacks)
        if net.initialized_:
            net.initialize_callbacks()
    if not finished:
        raise KeyboardInterrupt
    return net
