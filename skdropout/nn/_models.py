"""The networks of the sparsification benchmarks: LeNet-300-100 and LeNet-5 (Caffe's)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class LeNet300100(nn.Module):
    """LeNet-300-100: a fully connected ReLU network 784-300-100-10 returning logits.

    It has 784*300 + 300*100 + 100*10 = 266,200 weights (biases excluded), the
    denominator of every density figure of Table 4.

    Parameters
    ----------
    in_features : int, default=784
        Number of inputs (784: a flattened 28 x 28 MNIST image).
    hidden : sequence of int, default=(300, 100)
        Widths of the hidden ReLU layers.
    n_classes : int, default=10
        Number of outputs (logits).

    Examples
    --------
    >>> from skdropout.nn import LeNet300100
    >>> net = LeNet300100()
    >>> sum(m.weight.numel() for m in net.modules() if hasattr(m, "weight"))
    266200
    """

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (300, 100),
                 n_classes: int = 10) -> None:
        super().__init__()
        sizes = [int(in_features), *[int(h) for h in hidden]]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], int(n_classes)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of a batch.

        Parameters
        ----------
        x : torch.Tensor
            Inputs ``(n, in_features)``, or any ``(n, ...)`` that flattens to it.

        Returns
        -------
        torch.Tensor
            Logits, ``(n, n_classes)``.
        """
        return self.net(x)


class LeNet5(nn.Module):
    """LeNet-5 as in Caffe (and Han et al., Molchanov et al.): conv 20@5x5, max-pool,
    conv 50@5x5, max-pool, fully connected 800-500-10, ReLU, returning logits.

    Accepts images ``(n, 1, 28, 28)`` or flat rows ``(n, 784)``. The paper's section 5
    and appendix C sparsify LeNet-300-100 only; this convolutional network of the same
    benchmark family lets the weight-level methods be tried on ``nn.Conv2d`` layers too.
    Its layers form one ``nn.Sequential`` (attribute ``net``), so that ``compact()`` can
    remove dead channels and units along the whole chain.

    Parameters
    ----------
    n_classes : int, default=10
        Number of outputs (logits).
    image_size : int >= 16, default=28
        Side of the square single-channel input image.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn import LeNet5
    >>> LeNet5()(torch.zeros(2, 784)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        self.image_size = int(image_size)
        side = ((self.image_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"image_size must be at least 16 (two 5x5 convolutions and two "
                             f"2x2 poolings), got {image_size!r}.")
        # one Sequential, so that compaction sees the whole conv -> conv -> linear chain
        self.net = nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(50 * side * side, 500), nn.ReLU(),
            nn.Linear(500, int(n_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of a batch of images.

        Parameters
        ----------
        x : torch.Tensor
            Images ``(n, 1, image_size, image_size)`` or flat rows ``(n, image_size**2)``.

        Returns
        -------
        torch.Tensor
            Logits, ``(n, n_classes)``.
        """
        if x.dim() == 2:
            x = x.reshape(-1, 1, self.image_size, self.image_size)
        return self.net(x)
