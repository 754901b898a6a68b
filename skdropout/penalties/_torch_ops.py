"""torch helpers of the penalties' torch flavour that the per-weight terms of
:mod:`skdropout.nn` share: shared 0-d constants and the sum of logs by grouped products.

Imported only where torch is installed (a penalty's torch branch, :mod:`skdropout.nn`):
:mod:`skdropout.penalties` itself never imports it, so the package works without torch.
"""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=64)  # a factor that changes every step (a warm-up) only misses
def _scalar(value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A 0-d tensor holding ``value``, made once per value, dtype and device: the constant
    operand of a pass (it broadcasts as a scalar). Callers only read it."""
    with torch.inference_mode(False):
        return torch.full((), value, dtype=dtype, device=device)


def scalar_like(value: float, x: torch.Tensor) -> torch.Tensor:
    """``value`` as a 0-d tensor of ``x``'s dtype and device, shared between calls (not to
    be modified)."""
    return _scalar(float(value), x.dtype, x.device)


#: tensors with at least this many entries have their sum of logs taken over products of
#: :data:`LOG_GROUP` entries (see :func:`sum_log`); below it the extra calls cost more
_GROUPED_LOG_MIN = 4096
#: entries multiplied together before one log in :func:`sum_log`
LOG_GROUP = 8


def sum_log(p: torch.Tensor, checked: bool = False) -> torch.Tensor:
    """``sum(log p)`` over all entries (0-d).

    ``p``'s entries must lie in ``[4.5e-5, 1]``, so that a product of :data:`LOG_GROUP` of
    them is a normal float32 number, or, with ``checked``, in ``(0, 1]``: a product below
    the dtype's normal range (one reduction over the products tells, on a CPU; other
    devices take the log of each entry) then gives the log of each entry instead. Large
    float32/float64 tensors take the log of products of :data:`LOG_GROUP` entries
    (``sum log p = sum log prod``): on a CPU the log is the costly pass and one reduction
    forms the products. Their rounding is a few ulps of each product, an absolute error of
    at most about ``4e-7`` per group in float32 (against the log of each entry, which this
    replaces; it matters only where most entries are close to 1, and so the sum itself is
    small).

    Parameters
    ----------
    p : torch.Tensor
        Values in ``[4.5e-5, 1]``; in ``(0, 1]`` with ``checked``.
    checked : bool, default=False
        Whether to check that the products are normal numbers.

    Returns
    -------
    torch.Tensor
        0-d, the sum of the logs (NaN if an entry is NaN).

    Examples
    --------
    >>> import torch
    >>> from skdropout.penalties._torch_ops import sum_log
    >>> p = torch.linspace(0.01, 1.0, 10_000, dtype=torch.float64)
    >>> bool(torch.isclose(sum_log(p), p.log().sum(), rtol=1e-12))
    True
    """
    flat = p.reshape(-1)
    n = flat.numel()
    if n < _GROUPED_LOG_MIN or p.dtype not in (torch.float32, torch.float64):
        return torch.log(flat).sum()
    if checked and p.device.type != "cpu":  # no check that waits for the device
        return torch.log(flat).sum()
    m = n - n % LOG_GROUP
    products = flat[:m].view(LOG_GROUP, -1).prod(0)
    if checked and not float(products.amin()) >= torch.finfo(p.dtype).tiny:
        return torch.log(flat).sum()  # an underflow (or a NaN)
    total = products.log_().sum()
    return total.add_(torch.log(flat[m:]).sum()) if m < n else total
