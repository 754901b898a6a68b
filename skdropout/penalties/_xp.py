"""A minimal array namespace so each penalty formula is written once.

The closed-form penalties are written against the handful of functions below
(array-API style). :func:`namespace` returns the numpy flavour for numpy input
and the torch flavour for ``torch.Tensor`` input, so the same formula gives a
numpy array or a differentiable tensor. torch is imported lazily: this module
works without it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

inf = math.inf


class _NumpyNamespace:
    """numpy functions with the names the penalty formulas use."""

    name = "numpy"
    abs = staticmethod(np.abs)
    sqrt = staticmethod(np.sqrt)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    sum = staticmethod(np.sum)
    isinf = staticmethod(np.isinf)
    sign = staticmethod(np.sign)

    @staticmethod
    def asarray(x: Any) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    @staticmethod
    def pow(x: Any, p: float) -> np.ndarray:
        return np.power(x, p)

    @staticmethod
    def full_like(x: Any, value: float) -> np.ndarray:
        return np.full_like(x, value, dtype=np.float64)

    @staticmethod
    def sigmoid(x: Any) -> np.ndarray:
        from scipy.special import expit

        return expit(x)


class _TorchNamespace:
    """torch functions with the names the penalty formulas use."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        self._t = torch
        self.abs = torch.abs
        self.sqrt = torch.sqrt
        self.log = torch.log
        self.log1p = torch.log1p
        self.exp = torch.exp
        self.expm1 = torch.expm1
        self.sum = torch.sum
        self.isinf = torch.isinf
        self.sign = torch.sign
        self.sigmoid = torch.sigmoid

    def asarray(self, x: Any) -> Any:
        return x

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self._t.where(cond, a, b)

    def minimum(self, x: Any, y: Any) -> Any:
        if not isinstance(y, self._t.Tensor):
            return self._t.clamp(x, max=y)
        return self._t.minimum(x, y)

    def maximum(self, x: Any, y: Any) -> Any:
        if not isinstance(y, self._t.Tensor):
            return self._t.clamp(x, min=y)
        return self._t.maximum(x, y)

    def pow(self, x: Any, p: float) -> Any:
        """``x ** p`` for x >= 0. For p < 1 the derivative at x = 0 is infinite; it is taken
        as 0 there (the minimum-norm subgradient of |w|^p at its minimum w = 0), and the
        pow is evaluated away from 0 so that no inf * 0 makes the gradient NaN."""
        if p >= 1:
            return self._t.pow(x, p)
        positive = x > 0
        safe = self._t.where(positive, x, self._t.ones_like(x))
        return self._t.where(positive, self._t.pow(safe, p),
                             self._t.full_like(x, 0.0 ** p))

    def full_like(self, x: Any, value: float) -> Any:
        return self._t.full_like(x, value)


_NUMPY = _NumpyNamespace()
_TORCH: _TorchNamespace | None = None


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    module = type(x).__module__
    return module == "torch" or module.startswith("torch.")


def namespace(x: Any) -> Any:
    """Return the namespace (numpy or torch flavour) that matches ``x``."""
    global _TORCH
    if is_torch(x):
        if _TORCH is None:
            _TORCH = _TorchNamespace()
        return _TORCH
    return _NUMPY
