"""Plots (matplotlib, the ``plot`` extra): Figure 1 of the paper, regularisation paths and
CV curves, sparsification training curves. Each function returns matplotlib Axes."""

from importlib import import_module
from typing import Any

_LAZY = {
    "plot_penalties": "._penalties",
    "figure1": "._penalties",
    "plot_path": "._path",
    "plot_cv": "._path",
    "plot_training": "._training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'skdropout.plotting' has no attribute {name!r}")


__all__ = list(_LAZY)
