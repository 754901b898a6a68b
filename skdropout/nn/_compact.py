"""The compact network: an evaluated sparse module as plain layers with dead units removed."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

from ._base import SparseLayer

# Layers acting on each unit (or each element of a channel) separately; Dropout is the
# identity in evaluation.
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.Dropout, nn.LeakyReLU, nn.ELU,
                nn.GELU, nn.SiLU, nn.Softplus)
# Layers acting on each channel of an image separately.
_PER_CHANNEL = _ELEMENTWISE + (nn.MaxPool2d, nn.AvgPool2d)


@torch.no_grad()
def compact_module(module: nn.Module) -> nn.Module:
    """A smaller dense copy of the evaluated ``module`` with the same outputs.

    The method's layers become plain layers holding the pruned weights (their
    ``to_dense``). Then, inside every ``nn.Sequential``, for each pair of consecutive
    weight layers (until nothing more can be removed):

    * ``Linear -> (element-wise)* -> Linear``: units with all-zero incoming weights are
      constants ``act(b)``, folded into the next bias; units whose outgoing weights are
      all zero are removed.
    * ``Conv2d -> (element-wise, MaxPool2d, AvgPool2d)* -> Conv2d`` (``groups == 1``):
      output channels ``c`` of the first convolution with ``w2[:, c] == 0`` are removed.
      Constant channels are not folded (a constant image is not constant after zero
      padding) but a channel with all-zero incoming weights, zero bias and activations
      mapping 0 to 0 outputs exactly 0 and is removed too.
    * ``Conv2d -> (same)* -> Flatten -> (element-wise)* -> Linear``: channel ``c`` feeds
      the Linear input columns ``[c k, (c+1) k)`` with ``k = in_features / out_channels``
      (the channel-major flattening of NCHW); the channel and its columns are removed when
      that block is all zero (or the channel outputs exactly 0). Chains whose shapes do not
      divide are left as they are.

    At least one unit of a layer is always kept, so every layer stays valid (when all are
    dead, the kept unit's incoming weights are zeroed as well).

    Parameters
    ----------
    module : torch.nn.Module
        The network (not modified).

    Returns
    -------
    torch.nn.Module
        A new module in eval mode without gradients.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))
    >>> with torch.no_grad():
    ...     _ = net[2].weight[:, 1:3].zero_()   # channels 1 and 2 of the first conv unused
    >>> small = compact_module(net)
    >>> small[0].out_channels, small[2].in_channels
    (2, 2)
    >>> x = torch.randn(3, 1, 6, 6)
    >>> torch.allclose(small(x), net.eval()(x), atol=1e-6)
    True
    """
    module = copy.deepcopy(module).eval()
    _replace_dense(module)
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        while _compact_pass(seq):
            pass
    return module.requires_grad_(False)


def _replace_dense(module: nn.Module) -> None:
    """Replace every :class:`SparseLayer` inside ``module`` by its plain evaluated layer."""
    for name, child in list(module.named_children()):
        if isinstance(child, SparseLayer):
            setattr(module, name, child.to_dense().eval())
        else:
            _replace_dense(child)


def _plain(layer: nn.Module, kind: type) -> bool:
    """Whether ``layer`` is a ``kind`` whose weights can be sliced (no parametrisation;
    convolutions ungrouped)."""
    return isinstance(layer, kind) and not parametrize.is_parametrized(layer) and \
        getattr(layer, "groups", 1) == 1


def _compact_pass(seq: nn.Sequential) -> bool:
    """One sweep over the layer pairs of ``seq`` (in place); True when a unit was removed."""
    removed = False
    children = list(seq)
    for i, first in enumerate(children):
        conv = _plain(first, nn.Conv2d)
        if not (conv or _plain(first, nn.Linear)):
            continue
        j, passing = i + 1, _PER_CHANNEL if conv else _ELEMENTWISE
        while j < len(children) and isinstance(children[j], passing):
            j += 1
        between = nn.Sequential(*children[i + 1:j]).eval()
        flat = conv and j < len(children) and isinstance(children[j], nn.Flatten) and \
            children[j].start_dim == 1 and children[j].end_dim == -1
        if flat:
            j += 1
            while j < len(children) and isinstance(children[j], _ELEMENTWISE):
                j += 1
        if j >= len(children) or not _plain(children[j], nn.Conv2d if conv and not flat
                                            else nn.Linear):
            continue
        second = children[j]
        w1, n_units = first.weight, first.weight.shape[0]
        if flat and second.weight.shape[1] % n_units:
            continue
        # w2[:, c] are the outgoing weights of unit (channel) c, whatever the layer kinds
        w2 = second.weight.view(second.weight.shape[0], n_units, -1) if flat else second.weight
        b1 = first.bias if first.bias is not None else torch.zeros_like(w1[:, 0].flatten())
        no_input = ~(w1 != 0).flatten(1).any(dim=1)
        if conv:  # channels that are exactly 0: no input, no bias, act(0) = 0
            zero = torch.zeros(1, dtype=w1.dtype, device=w1.device)
            keeps_zero = all(bool(m(zero) == 0) for m in between if isinstance(m, _ELEMENTWISE))
            dead = no_input & (b1 == 0) & keeps_zero
        else:  # constant units: fold act(b) into the next layer's bias
            dead = no_input
            if dead.any():
                const = between(torch.where(dead, b1, torch.zeros_like(b1))[None, :])[0]
                if second.bias is None:
                    second.bias = nn.Parameter(torch.zeros_like(w2[:, 0]), requires_grad=False)
                second.bias += w2[:, dead] @ const[dead]
        w2[:, dead] = 0.0
        alive = (w2 != 0).transpose(0, 1).flatten(1).any(dim=1)
        if not alive.any():  # a layer keeps one unit, unused: its inputs are unused too
            alive[0] = True
            removed |= bool((w1[0] != 0).any())
            w1[0] = 0.0
        if bool(alive.all()):
            continue
        w2 = w2[:, alive]
        seq[i] = _resized(first, w1[alive], None if first.bias is None else first.bias[alive])
        seq[j] = _resized(second, w2.flatten(1) if flat else w2, second.bias)
        children[i], children[j] = seq[i], seq[j]
        removed = True
    return removed


def _resized(layer: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    """A copy of the Linear/Conv2d ``layer`` holding ``weight`` and ``bias`` (new sizes)."""
    new = copy.deepcopy(layer)
    new.weight = nn.Parameter(weight.clone(), requires_grad=False)
    new.bias = None if bias is None else nn.Parameter(bias.clone(), requires_grad=False)
    if isinstance(layer, nn.Linear):
        new.out_features, new.in_features = weight.shape[0], weight.shape[1]
    else:
        new.out_channels, new.in_channels = weight.shape[0], weight.shape[1]
    return new
