"""One threaded BLAS pool while a solver runs.

The wheels of numpy and scipy each bundle their own OpenBLAS, and each OpenBLAS keeps its own
pool of worker threads, which busy-wait for a while after every call before they sleep. The
solvers of this package alternate numpy's products with X and scipy's LAPACK and BLAS calls
on the working set (Cholesky factors, triangular solves, rank-one updates) many times per
iteration, so with both pools threaded the workers of one pool spin on the cores the other
pool's call needs, and every call waits for them: whole fits run several times slower on
their default threads than on one (``benchmarks/blas_threads.py``).

While a fit runs, every threaded BLAS library but numpy's runs on one thread. numpy's keeps its
threads: it does the products with all of X, the large operations; the others serve the
working set. Where one library serves both packages (conda, a system BLAS), or no other
library runs threaded, nothing changes. The previous thread counts come back when the
outermost guarded call returns.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

_F = TypeVar("_F", bound=Callable[..., Any])

_NUMPY_DIR = os.path.dirname(np.__file__)
_lock = threading.Lock()
_depth = 0
_restore: list[tuple[Any, int]] = []


@functools.lru_cache(maxsize=1)
def _libraries() -> tuple[Any, ...]:
    """The thread-pool libraries loaded in this process (scanned once: numpy and scipy are
    loaded before any solver runs, and a scan costs milliseconds)."""
    return tuple(ThreadpoolController().lib_controllers)


def pools_to_serialise(libraries: Sequence[Any], numpy_dir: str = _NUMPY_DIR) -> list[Any]:
    """The BLAS libraries to run on one thread: where two or more BLAS libraries run
    threaded, all of those but numpy's (the one whose file lies under ``numpy_dir``; the
    first threaded one where none does), else none.

    Parameters
    ----------
    libraries : sequence of threadpoolctl library controllers
        Objects with ``user_api``, ``filepath`` and ``num_threads``.
    numpy_dir : str
        numpy's package folder; its wheel's OpenBLAS lies in ``numpy.libs`` beside it (or
        ``numpy/.dylibs``), a path with this prefix.
    """
    threaded = [lib for lib in libraries if lib.user_api == "blas" and lib.num_threads > 1]
    if len(threaded) < 2:
        return []
    kept = next((lib for lib in threaded if lib.filepath.startswith(numpy_dir)), threaded[0])
    return [lib for lib in threaded if lib is not kept]


def _enter() -> None:
    global _depth
    with _lock:
        if _depth == 0:
            _restore[:] = [(lib, lib.num_threads) for lib in pools_to_serialise(_libraries())]
            for lib, _ in _restore:
                lib.set_num_threads(1)
        _depth += 1


def _exit() -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth == 0:
            for lib, num_threads in _restore:
                lib.set_num_threads(num_threads)
            _restore.clear()


def one_blas_pool(solver: _F) -> _F:
    """Run ``solver`` with one threaded BLAS pool (see the module docstring); nested and
    concurrent calls share one setting, undone when the last of them returns."""

    @functools.wraps(solver)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _enter()
        try:
            return solver(*args, **kwargs)
        finally:
            _exit()

    return guarded  # type: ignore[return-value]
