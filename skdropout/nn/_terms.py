"""The machinery of the per-weight terms: one autograd function for terms whose derivatives
are element-wise, and the helpers the terms share (clipping, reproducible uniform draws).

Each method adds element-wise work on every weight at every step (a KL term, a sampled
gate, the eta-trick objective). Written as plain torch expressions, autograd records every
intermediate and replays a chain of element-wise backward kernels; on a CPU this costs
more than the layer's matrix products (the KL of Molchanov et al. on LeNet-300-100's
266,200 weights took longer than the dense network's forward and backward passes). Here
each term is one function that computes its value and, in the same pass of a few in-place
torch operations, its derivative in each input; :class:`ElementwiseTerm` applies the chain
rule. This is the one route on every device: no code is compiled at run time.
"""

from __future__ import annotations

import functools
import math
import sys
import threading
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..penalties._torch_ops import scalar_like


def clip(x: torch.Tensor, low: float, high: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``clamp(x, low, high)`` and the unclipped ``x`` for :func:`zero_outside`; ``x``
    itself and None when nothing is clipped, which on a CPU one reduction tells (sparing the
    clamp and the masking of the gradient in the common case). Callers must not modify the
    result in place."""
    if x.device.type == "cpu":
        lo, hi = torch.aminmax(x)
        if low <= float(lo) and float(hi) <= high:
            return x, None
    return x.clamp(low, high), x


@functools.lru_cache(maxsize=None)
def _widened(low: float, high: float, dtype: torch.dtype) -> tuple[float, float]:
    """The neighbours of ``low`` and ``high`` just outside them in ``dtype``: bounds that
    make hardtanh's strict comparisons inclusive, as the gradient of ``clamp`` is."""
    lo, hi = torch.tensor([low, high], dtype=dtype), torch.tensor([-math.inf, math.inf],
                                                                 dtype=dtype)
    out = torch.nextafter(lo, hi)
    return float(out[0]), float(out[1])


def zero_outside(d: torch.Tensor, raw: torch.Tensor | None, low: float,
                 high: float, in_place: bool = False) -> torch.Tensor:
    """``d`` where ``low <= raw <= high`` and 0 elsewhere (``d`` itself when ``raw`` is
    None, from :func:`clip`): the derivative of a clipped quantity, in one pass of
    hardtanh's backward kernel (boolean masks run several times slower on a CPU), into
    ``d``'s storage with ``in_place``."""
    if raw is None:
        return d
    lo, hi = _widened(low, high, raw.dtype)
    if in_place:
        return torch.ops.aten.hardtanh_backward.grad_input(d, raw, lo, hi, grad_input=d)
    return torch.ops.aten.hardtanh_backward(d, raw, lo, hi)


#: log2(e): ``exp(x) = 2^(x log2(e))``
LOG2_E = 1.0 / math.log(2.0)


def exp_of(x: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """``exp(c x)`` as ``2^(c log2(e) x)`` in a new tensor: torch's ``exp2`` runs about three
    times faster than its ``exp`` on a CPU (float32); the rounding of the product costs a
    few ulps (a relative error below 2e-6 for ``|c x| <= 30`` in float32)."""
    return torch.mul(x, c * LOG2_E).exp2_()


def affine(x: torch.Tensor, a: float, b: float, out: torch.Tensor | None = None
           ) -> torch.Tensor:
    """``a x + b`` in one pass over ``x`` (into ``out``, which may be ``x``, or a new
    tensor): ``add`` of ``x`` scaled by ``a`` to a 0-d tensor ``b``, which broadcasts as a
    scalar."""
    b_t = scalar_like(b, x)
    return torch.add(b_t, x, alpha=a) if out is None else torch.add(b_t, x, alpha=a, out=out)


def sigmoid_slope(s: torch.Tensor, c: float, out: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """``c s (1 - s)`` in one pass (into ``out``, which may be ``s``, or a new tensor): the
    derivative of ``c sigmoid(x)`` given ``s = sigmoid(x)``, by torch's
    ``sigmoid_backward`` with a 0-d incoming gradient ``c``."""
    c_t = scalar_like(c, s)
    if out is None:
        return torch.ops.aten.sigmoid_backward(c_t, s)
    return torch.ops.aten.sigmoid_backward.grad_input(c_t, s, grad_input=out)


#: CPU tensors with at least this many entries draw their uniforms with numpy (see
#: :func:`uniform_like`); below it the per-call set-up would cost more than it saves.
_NUMPY_UNIFORM_MIN = 4096

#: one numpy PCG64 generator per thread, set to a new state by each call of
#: :func:`uniform_like`
_generators = threading.local()


def _pcg64_from_torch() -> np.random.PCG64:
    """This thread's PCG64 generator, set to a state and (odd) increment of 124 bits each
    drawn from torch's default generator (four 62-bit integers): a fresh, independent
    stream per call, reproducible by ``torch.manual_seed``. Setting the state spares each
    call the hashing by which numpy's SeedSequence seeds a new generator."""
    bits = getattr(_generators, "pcg64", None)
    if bits is None:
        bits = _generators.pcg64 = np.random.PCG64(0)
    s0, s1, s2, s3 = torch.randint(0, 2**62, (4,)).tolist()
    bits.state = {"bit_generator": "PCG64", "has_uint32": 0, "uinteger": 0,
                  "state": {"state": (s0 << 64) | s1, "inc": (s2 << 65) | (s3 << 1) | 1}}
    return bits


def uniform_like(t: torch.Tensor) -> torch.Tensor:
    """Independent U[0, 1) draws shaped like ``t`` (same dtype and device).

    On a CPU, large float32/float64 tensors are filled by numpy's PCG64 generator, which
    draws uniforms about twice as fast as torch's CPU generator (one draw per weight per step
    is a large part of a hard concrete step); float32 draws are numpy's float32 uniforms
    ``(u >> 8) 2^-24`` of the 32-bit halves u of its raw 64-bit outputs. Its state is
    drawn from torch's default generator, so ``torch.manual_seed`` (and the estimators'
    ``random_state``) make the draws reproducible exactly as with ``torch.rand_like``; each
    call starts a new stream, and each thread has its own generator.

    Parameters
    ----------
    t : torch.Tensor
        The tensor whose shape, dtype and device the draws take.

    Returns
    -------
    torch.Tensor
        Uniform draws on [0, 1).

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._terms import uniform_like
    >>> _ = torch.manual_seed(0); a = uniform_like(torch.empty(5000))
    >>> _ = torch.manual_seed(0); b = uniform_like(torch.empty(5000))
    >>> bool(torch.equal(a, b)), bool(((a >= 0) & (a < 1)).all())
    (True, True)
    """
    if (t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64)
            or t.numel() < _NUMPY_UNIFORM_MIN):
        return torch.rand_like(t, memory_format=torch.contiguous_format)
    bits = _pcg64_from_torch()
    n = t.numel()
    if t.dtype == torch.float64:
        return torch.from_numpy(np.random.Generator(bits).random(n)).reshape(t.shape)
    # numpy's float32 uniform, (next_uint32 >> 8) 2^-24 with each 64-bit output giving
    # two uint32, its low half first, formed from the raw outputs in three passes: the
    # same draws without numpy's per-draw call
    raw = bits.random_raw((n + 1) // 2).view(np.uint32)
    if sys.byteorder == "big":  # the low half is the second uint32 in memory
        raw = raw.reshape(-1, 2)[:, ::-1].reshape(-1)
    raw = raw[:n]
    raw >>= 8
    draws = raw.astype(np.float32)
    draws *= np.float32(2.0**-24)
    return torch.from_numpy(draws).reshape(t.shape)


def first_order(backward: Any) -> Any:
    """``once_differentiable`` (a second backward pass through the result raises) where it
    is needed, when the graph of the backward pass is recorded; a plain call otherwise,
    sparing its per-call cost (a ``no_grad`` block) in every training step."""
    recorded = once_differentiable(backward)

    def wrapper(ctx: Any, *grads: Any) -> Any:
        if torch.is_grad_enabled():
            return recorded(ctx, *grads)
        return backward(ctx, *grads)
    return wrapper


class ElementwiseTerm(torch.autograd.Function):
    """The chain rule for a term whose derivative in each input is element-wise.

    ``ElementwiseTerm.apply(compute, *inputs)`` with ``compute(*inputs) -> (out, derivs)``:
    ``derivs[k]`` is d out / d inputs[k] entry by entry (None: no gradient), for an
    element-wise ``out`` (the incoming gradient is multiplied entry by entry) or a 0-d sum
    of element-wise terms (it is scaled). ``compute`` runs without autograd.
    """

    @staticmethod
    def forward(ctx: Any, compute: Any, *inputs: torch.Tensor | None) -> torch.Tensor:
        out, derivs = compute(*inputs)
        ctx.has = [d is not None for d in derivs]
        ctx.save_for_backward(*(d for d in derivs if d is not None))
        return out

    @staticmethod
    @first_order  # the derivatives are saved as values: no second order
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved = iter(ctx.saved_tensors)
        if grad.dim():
            grad = grad.contiguous()  # products with the (contiguous) derivatives
        elif grad.device.type == "cpu" and float(grad) == 1.0:
            # a term added to the loss as is: the derivatives are the gradients (autograd
            # copies rather than accumulates into tensors it does not own)
            return (None, *(next(saved) if has else None for has in ctx.has))
        return (None, *(torch.mul(next(saved), grad) if has else None for has in ctx.has))
