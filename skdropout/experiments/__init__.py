"""Reproductions of the paper's experiments (need torch, skorch and matplotlib), and the
resumable training they run on."""

from importlib import import_module
from typing import Any

_LAZY = {"run_table4": ".table4", "collect_table4": ".table4", "format_table": ".table4",
         "PAPER_TABLE4": ".table4", "PUBLISHED_LENET300100": ".table4",
         "EpochCheckpoint": "._checkpoint", "fit_resumable": "._checkpoint"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'skdropout.experiments' has no attribute {name!r}")


__all__ = list(_LAZY)
