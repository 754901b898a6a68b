"""Mini-batches taken from X and y by one indexing operation each.

skorch's ``Dataset`` is read one sample at a time: torch's ``DataLoader`` calls
``__getitem__`` for every row of a batch (an indexing of X and of y and a conversion each)
and stacks the rows. On LeNet-300-100 with batch 128 this costs about as much per step as a
pass over the network's weights. For the common case, a numeric numpy array or torch tensor
X with a target y, :func:`batch_rows` gives a dataset whose ``__getitems__`` (which the
``DataLoader`` calls with a whole batch of indices) takes the batch's rows of X and y at
once. The sampler is the ``DataLoader``'s own, built from the same options, so the batches,
their order and the random draws are those of skorch's loading, and the batches are equal
entry for entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

#: DataLoader options that change how a batch is formed: with any of them, skorch's
#: loading is kept
_OWN_BATCHING = ("collate_fn", "sampler", "batch_sampler")


def _is_plain(data: Any) -> bool:
    """Whether ``data`` is a numeric numpy array (not a subclass such as ``np.matrix``,
    whose rows are 2-d) or a strided torch tensor."""
    if type(data) is np.ndarray:
        return data.ndim >= 1 and data.dtype.kind in "biuf" and data.dtype.isnative
    return isinstance(data, torch.Tensor) and data.layout == torch.strided and data.dim() >= 1


def _take(data: np.ndarray | torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    """The ``rows`` of ``data`` as a tensor (numpy data shares the copy fancy indexing
    makes)."""
    if isinstance(data, torch.Tensor):
        return data[torch.from_numpy(rows).to(data.device)]
    return torch.from_numpy(data[rows])


class BatchRows(torch.utils.data.Dataset):
    """Rows of X and y, a whole batch per ``__getitems__`` call.

    Parameters
    ----------
    X, y : numpy.ndarray or torch.Tensor
        The data, one row per sample.
    rows : numpy.ndarray or None, default=None
        The samples this dataset holds, as row numbers of X and y (a ``Subset``'s
        indices); None: all of them.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.nn._batches import BatchRows
    >>> data = BatchRows(np.arange(10.0).reshape(5, 2), np.arange(5), rows=np.array([4, 0]))
    >>> X, y = data.__getitems__([1, 0])
    >>> X.tolist(), y.tolist()
    ([[0.0, 1.0], [8.0, 9.0]], [0, 4])
    """

    def __init__(self, X: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor,
                 rows: np.ndarray | None = None) -> None:
        self.X, self.y, self.rows = X, y, rows

    def __len__(self) -> int:
        return len(self.X) if self.rows is None else len(self.rows)

    def _rows(self, indices: Any) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        return indices if self.rows is None else self.rows[indices]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        X, y = self.__getitems__([i])
        return X[0], y[0]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples ``indices`` as one batch ``(X rows, y rows)``."""
        rows = self._rows(indices)
        return _take(self.X, rows), _take(self.y, rows)


def as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``collate_fn`` of :class:`BatchRows`: its batches are formed already."""
    return batch


def batch_rows(dataset: Any, iterator: Any, kwargs: dict[str, Any]) -> BatchRows | None:
    """A :class:`BatchRows` holding the samples of ``dataset`` when ``iterator(dataset,
    **kwargs)`` is skorch's sample-by-sample loading of plain arrays (a ``DataLoader`` of
    batches, no batching options of the user's, a skorch ``Dataset`` or a ``Subset`` of one
    with numeric numpy/tensor X and y); None otherwise.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        The dataset skorch would load.
    iterator : type
        The estimator's ``iterator_train`` or ``iterator_valid``.
    kwargs : dict
        Its options (``iterator_train__*``), the batch size resolved.

    Returns
    -------
    BatchRows or None
    """
    batch_size = kwargs.get("batch_size")
    if iterator is not DataLoader or any(k in kwargs for k in _OWN_BATCHING) or \
            type(batch_size) is not int or batch_size < 1:
        return None
    rows = None
    if type(dataset) is Subset:
        rows = np.asarray(dataset.indices, dtype=np.int64)
        dataset = dataset.dataset
    if type(dataset) is not Dataset or dataset.X_is_ndframe:
        return None
    X, y = dataset.X, dataset.y
    if not (_is_plain(X) and _is_plain(y)) or len(X) != len(y) or len(X) != len(dataset):
        return None
    return BatchRows(X, y, rows)
