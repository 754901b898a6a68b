"""The fused float32 CPU loops of ``_native.c``, compiled on first use with the C compiler.

On a CPU each torch element-wise operation is one pass over the weights, and a step of a
sparsifying method needs a dozen or more of them per layer (a clip, two or three
exponentials or logarithms, the products its gradient needs). ``_native.c`` does each
method's per-weight work in one vectorised pass. It is compiled once per source version
and compiler flags into the cache directory (``$SKDROPOUT_CACHE``, else
``~/.cache/skdropout``) with ``$CC`` (else ``cc``) and loaded with ctypes, which releases
the GIL, so large tensors are split over ``torch.get_num_threads()`` threads.

The two nodes that draw noise and compute a loss term in one pass (VARDROP's noisy weights
with the KL, hard concrete's gates with their expected count) are torch operators of
``_native_ops.cpp`` instead (:func:`operators`): the same loops linked into a library
compiled with ``$CXX`` (else ``c++``) against the running torch, whose autograd node and
backward pass are C++. As a Python ``autograd.Function`` called through ctypes, their
call, node and backward cost about 0.07 ms per layer and training step, as much as the
loops of a 30,000-weight layer. Without a C++ compiler those two take the torch route.

Everything falls back to the torch expressions of ``_kernels.py`` when the loops are not
available: not Linux, no compiler, a C library without the vector math functions, or
``SKDROPOUT_NATIVE=0``. ``tests/test_nn_kernels.py`` checks both routes against each
other and against independent computations.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

_SOURCE = Path(__file__).with_name("_native.c")
_OPS_SOURCE = Path(__file__).with_name("_native_ops.cpp")
_CXX_FLAGS = ("-O2", "-std=c++20", "-fPIC", "-shared")
_FLAGS = ("-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-fPIC", "-shared")
#: entries per block of the loops and of their random streams (BLOCK in _native.c)
BLOCK = 1024
#: below this many entries per thread a split costs more than it saves
_MIN_CHUNK = 32768
_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def _cpu_flags() -> tuple[str, ...]:
    """``-mavx2 -mfma`` when this CPU has them (the vector math then works 8 floats wide)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    for line in text.splitlines():
        if line.startswith("flags"):
            if {"avx2", "fma"} <= set(line.split(":", 1)[1].split()):
                return ("-mavx2", "-mfma")
            break
    return ()


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=300)


def _compile_loops(built: Path, flags: tuple[str, ...]) -> None:
    _run([os.environ.get("CC", "cc"), *flags, str(_SOURCE), "-o", str(built), "-lm"])


def _compile_operators(built: Path, flags: tuple[str, ...]) -> None:
    """The torch operators of ``_native_ops.cpp`` with the loops of ``_native.c`` linked in,
    against the headers and libraries of the running torch."""
    loops = built.with_name("native.o")
    _run([os.environ.get("CC", "cc"), *(f for f in flags if f != "-shared"), "-c",
          str(_SOURCE), "-o", str(loops)])
    root = Path(torch.__file__).parent
    include, lib = root / "include", root / "lib"
    _run([os.environ.get("CXX", "c++"), *_CXX_FLAGS,
          f"-D_GLIBCXX_USE_CXX11_ABI={int(torch.compiled_with_cxx11_abi())}",
          f"-I{include}", f"-I{include / 'torch' / 'csrc' / 'api' / 'include'}",
          str(_OPS_SOURCE), str(loops), f"-L{lib}", f"-Wl,-rpath,{lib}",
          "-ltorch", "-ltorch_cpu", "-lc10", "-lm", "-o", str(built)])


def _cached_build(prefix: str, compile_: Callable[[Path, tuple[str, ...]], None],
                  flags: tuple[str, ...], *key: bytes) -> Path | None:
    """The shared library ``compile_`` makes, built once per ``key`` (sources, flags,
    versions) into the cache directory, or None (not Linux, switched off, no compiler, a
    failed build). It is built in a temporary directory and moved into place (atomic:
    processes building at the same time cannot load a half-written library)."""
    if not sys.platform.startswith("linux") or os.environ.get("SKDROPOUT_NATIVE") == "0":
        return None
    digest = hashlib.sha256(b"\0".join((*key, " ".join(flags).encode()))).hexdigest()[:16]
    name = f"{prefix}-{digest}.so"
    roots = [Path(os.environ.get("SKDROPOUT_CACHE") or Path.home() / ".cache" / "skdropout"),
             Path(tempfile.gettempdir()) / f"skdropout-{os.getuid()}"]
    for root in roots:  # the temporary directory when the cache cannot be written
        target = root / name
        if not target.exists():
            try:
                root.mkdir(parents=True, exist_ok=True)
                tmp = tempfile.TemporaryDirectory(dir=root)
            except OSError:
                continue
            try:
                with tmp:
                    built = Path(tmp.name) / name
                    compile_(built, flags)
                    os.replace(built, target)
            except (OSError, subprocess.SubprocessError):
                return None
        return target
    return None


def _build() -> ctypes.CDLL | None:
    path = _cached_build("native", _compile_loops, _FLAGS + _cpu_flags(), _SOURCE.read_bytes())
    try:
        return None if path is None else ctypes.CDLL(str(path))
    except OSError:
        return None  # e.g. a C library without the vector math functions


def _build_operators() -> Path | None:
    return _cached_build("ops", _compile_operators, _FLAGS + _cpu_flags(), _SOURCE.read_bytes(),
                         _OPS_SOURCE.read_bytes(), torch.__version__.encode(),
                         os.environ.get("CXX", "c++").encode())


def library() -> ctypes.CDLL | None:
    """The compiled loops, or None where they are not available (built once per process).

    Returns
    -------
    ctypes.CDLL or None
    """
    if "lib" not in _loaded:
        with _lock:
            if "lib" not in _loaded:
                _loaded["lib"] = _build()
    return _loaded["lib"]  # type: ignore[return-value]


def operators() -> Any:
    """The torch operators of ``_native_ops.cpp`` (``torch.ops.skdropout``): the fused
    noise-and-term nodes with their backward pass in C++; None where they cannot be built
    (no C++ compiler, torch without its headers) or the loops are off. Built once per
    process, on first use (about 20 s the first time on a machine, then from the cache).

    Returns
    -------
    torch._ops._OpNamespace or None
    """
    if "ops" not in _loaded:
        loops = library()  # before the lock, which library() takes
        with _lock:
            if "ops" not in _loaded:
                path = _build_operators() if loops is not None else None
                try:
                    if path is not None:
                        torch.ops.load_library(str(path))
                except (OSError, RuntimeError):
                    path = None
                _loaded["ops"] = None if path is None else torch.ops.skdropout
    return _loaded["ops"]


def usable(*tensors: torch.Tensor | None) -> bool:
    """Whether the loops can take these tensors: contiguous float32 CPU tensors (None
    stands for an absent optional input) and the library is available.

    Parameters
    ----------
    *tensors : torch.Tensor or None

    Returns
    -------
    bool
    """
    for t in tensors:  # a loop of attribute tests: this runs per layer and training step
        if t is not None and not (t.is_cpu and t.dtype is torch.float32 and t.is_contiguous()):
            return False
    return library() is not None


def _forget_pool() -> None:
    _loaded.pop("pool", None)


# a forked child inherits the pool object but not its threads: it starts its own
os.register_at_fork(after_in_child=_forget_pool)


def _pool() -> ThreadPoolExecutor:
    if "pool" not in _loaded:
        with _lock:
            if "pool" not in _loaded:
                _loaded["pool"] = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    return _loaded["pool"]  # type: ignore[return-value]


def run(name: str, arrays: Sequence[torch.Tensor | None], n: int,
        scalars: Sequence[float] = (), n_sums: int = 0, seed: int | None = None) -> list[float]:
    """Call the loop ``name`` of ``_native.c`` on ``n`` entries.

    Parameters
    ----------
    name : str
        The C function, ``name(*arrays, n, *scalars[, seed, start][, sums])``.
    arrays : sequence of torch.Tensor or None
        Contiguous float32 CPU tensors of ``n`` entries (inputs and outputs, in the C
        function's order); None is passed as NULL.
    n : int
        Number of entries.
    scalars : sequence of float
        The C function's float arguments.
    n_sums : int, default=0
        How many sums the function returns through its last argument.
    seed : int or None, default=None
        For the loops that draw random numbers: the seed (0 <= seed < 2**64) of their
        counter-based stream; each thread's share starts at a block boundary, so the draws
        do not depend on the number of threads.

    Returns
    -------
    list of float
        The ``n_sums`` sums, over all entries.
    """
    fn = _function(name, len(arrays), len(scalars), seed is not None, n_sums > 0)
    ptrs = [None if a is None else a.data_ptr() for a in arrays]
    parts = max(1, min(torch.get_num_threads(), n // _MIN_CHUNK))
    if parts == 1:  # most calls: no split (Python costs here are per step and layer)
        sums = (ctypes.c_double * max(1, n_sums))()
        fn(*ptrs, n, *scalars, *(() if seed is None else (seed, 0)),
           *((ctypes.addressof(sums),) if n_sums else ()))
        return list(sums[:n_sums])
    bounds = [n * k // parts // BLOCK * BLOCK for k in range(parts)] + [n]
    sums = (ctypes.c_double * (n_sums * parts or 1))()

    def call(k: int) -> None:
        lo, hi = bounds[k], bounds[k + 1]
        args: list[object] = [None if p is None else p + 4 * lo for p in ptrs]
        args += [hi - lo, *scalars]
        if seed is not None:
            args += [seed, lo]
        if n_sums:
            args.append(ctypes.addressof(sums) + 8 * n_sums * k)
        fn(*args)

    list(_pool().map(call, range(parts)))
    return [sum(sums[k * n_sums + j] for k in range(parts)) for j in range(n_sums)]


def _function(name: str, n_arrays: int, n_scalars: int, seeded: bool, summed: bool) -> Any:
    """The loop ``name`` with its argument types declared, so that ctypes converts Python
    ints and floats itself (cached)."""
    fn = _loaded.get(name)
    if fn is None:
        fn = getattr(library(), name)
        fn.argtypes = ([ctypes.c_void_p] * n_arrays + [ctypes.c_long]
                       + [ctypes.c_float] * n_scalars
                       + ([ctypes.c_uint64, ctypes.c_long] if seeded else [])
                       + ([ctypes.c_void_p] if summed else []))  # the last: double *sums
        _loaded[name] = fn
    return fn


def random(n: int, normal: bool, seed: int) -> torch.Tensor:
    """The first ``n`` entries of the uniform (on (0, 1], 24 bits) or standard normal
    (Box-Muller) stream of ``seed``, as the loops draw them: Philox4x32-10 (Salmon et al.
    2011), one counter per four entries.

    Parameters
    ----------
    n : int
    normal : bool
    seed : int

    Returns
    -------
    torch.Tensor
        float32, shape ``(n,)``.
    """
    out = torch.empty(n)
    run("sk_normal" if normal else "sk_uniform", [out], n, seed=seed)
    return out
