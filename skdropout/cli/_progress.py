"""A skorch callback printing one line per epoch: loss, validation error, density, time."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from skorch.callbacks import Callback


class EpochReport(Callback):
    """Prints ``epoch, train loss, valid error, density, seconds`` after every epoch, from
    the history the sparse nets record (``valid_error`` and ``density`` of the pruned model).

    Parameters
    ----------
    every : int, default=1
        Print every ``every``-th epoch and the last one.
    stream : file, default=sys.stdout
    """

    def __init__(self, every: int = 1, stream: TextIO | None = None) -> None:
        self.every = every
        self.stream = stream

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        print(f"{'epoch':>5}  {'train loss':>10}  {'valid error':>11}  {'density':>8}  "
              f"{'seconds':>7}", file=self.stream or sys.stdout, flush=True)

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        row = net.history[-1]
        if row["epoch"] % self.every and row["epoch"] != net.max_epochs:
            return
        error = f"{100 * row['valid_error']:10.2f}%" if "valid_error" in row else f"{'-':>11}"
        print(f"{row['epoch']:>5}  {row['train_loss']:>10.4f}  {error}  "
              f"{100 * row['density']:7.2f}%  {row['dur']:>7.3f}",
              file=self.stream or sys.stdout, flush=True)
