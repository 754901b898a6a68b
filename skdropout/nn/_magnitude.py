"""Gradual magnitude pruning (Zhu & Gupta 2017; the paper's section 4.4): the layer (a TOP-k
mask, eta_hat of HARDTHRESH(k)), its training rule (the cubic pruning schedule) and the spec
of MAGNITUDE.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from torch import nn

from ._base import SparseLayer, check_number
from ._callbacks import StepRule
from ._spec import MethodSpec


def cubic_density(progress: float, target: float, begin: float = 0.0,
                  end: float = 0.75) -> float:
    """Zhu & Gupta's gradual pruning schedule as a density: 1 before ``begin``, ``target``
    after ``end`` (fractions of training), and in between
    ``target + (1 - target) (1 - (p - begin)/(end - begin))^3``.

    Examples
    --------
    >>> from skdropout.nn._magnitude import cubic_density
    >>> cubic_density(0.0, 0.1), round(cubic_density(0.5, 0.1, 0.0, 1.0), 6), cubic_density(1.0, 0.1)
    (1.0, 0.2125, 0.1)
    """
    if progress <= begin:
        return 1.0
    if progress >= end:
        return target
    frac = (progress - begin) / (end - begin)
    return target + (1.0 - target) * (1.0 - frac) ** 3


def _kth_largest(score: torch.Tensor, kept: torch.Tensor, k: int) -> float:
    """The ``k``-th largest entry of ``score`` among those where the boolean ``kept`` (of
    the same shape) is True (``1 <= k <= kept.sum()``): by numpy's boolean indexing and
    selection on a CPU (several times faster than torch's boolean indexing when most
    entries are kept, and a partial sort about twice as fast as ``torch.topk`` for the
    fractions a pruning schedule keeps), by ``torch.kthvalue`` elsewhere.

    Examples
    --------
    >>> import torch
    >>> from skdropout.nn._magnitude import _kth_largest
    >>> score = torch.tensor([0.5, 3.0, 1.0, 2.0, 9.0])
    >>> _kth_largest(score, torch.tensor([True, True, True, True, False]), 2)
    2.0
    """
    if score.device.type == "cpu" and score.dtype in (torch.float32, torch.float64):
        chosen = score.numpy()[kept.numpy()]
        n = chosen.size
        return float(np.partition(chosen, n - k)[n - k])
    chosen = score[kept]
    return float(torch.kthvalue(chosen, chosen.numel() - k + 1).values)


class MagnitudeLayer(SparseLayer):
    """Weights times a binary mask that keeps the k largest magnitudes (eta_hat of
    HARDTHRESH(k), Table 1: keep probability 1 in TOP-k, 0 elsewhere) [1]_.

    :meth:`prune_to` sets k from a target density; the mask is recomputed from the
    weights that are still kept, so successive calls never compound (unlike a repeated
    float ``amount`` in ``torch.nn.utils.prune``) and a pruned weight never returns.
    The schedule of k is Zhu & Gupta's cubic one (section 4.4), applied between
    optimiser steps by :class:`GradualPruning`; this is the proximal variant of appendix B with
    eta_hat infinite in TOP-k and 0 elsewhere.

    Parameters
    ----------
    base : nn.Linear or nn.Conv2d
        The layer to replace; its weight and bias are copied.
    lam : float
        Stored for a uniform interface; magnitude pruning has no loss term.

    See Also
    --------
    GradualPruning : The schedule of k.
    skdropout.penalties.HardThresh : The penalty whose eta_hat is the mask.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.4 and Table 1.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import MagnitudeLayer
    >>> _ = torch.manual_seed(0)
    >>> layer = MagnitudeLayer(nn.Linear(4, 5), lam=1e-3)
    >>> w = layer.weight.detach().abs().clone()
    >>> layer.prune_to(0.5)  # keep the 10 largest of 20 magnitudes
    >>> int(layer.mask().sum())
    10
    >>> bool(w[layer.mask()].min() >= w[~layer.mask()].max())
    True
    >>> layer.prune_to(0.25)  # 5 of the 20, chosen among the kept ones
    >>> int(layer.mask().sum()), int((layer.weight != 0).sum())
    (5, 5)
    """

    def __init__(self, base: nn.Module, lam: float) -> None:
        super().__init__(base, lam)
        # 1/0 in the weight's dtype: the training pass multiplies by it (a product, unlike a
        # boolean select, costs about one pass forward and one backward)
        self.register_buffer("keep", torch.ones_like(self.weight))

    def keep_prob(self) -> torch.Tensor:
        """1 in TOP-k, 0 elsewhere (eta_hat of HARDTHRESH(k) through eq. 8).

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``, values 0 or 1.
        """
        return self.keep

    def mask(self) -> torch.Tensor:
        """The current TOP-k mask.

        Returns
        -------
        torch.Tensor
            Boolean, shaped like ``weight``: where the buffer ``keep`` is 1.
        """
        return self.keep > 0

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layer with the pruned weight (pruning also applies during training).

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(n, in_features)`` for a Linear layer, ``(n, C, H, W)`` for a
            Conv2d layer.

        Returns
        -------
        torch.Tensor
            The output with :meth:`pruned_weight`.
        """
        return self._op(x, self.pruned_weight(), self.bias)

    def pruned_weight(self) -> torch.Tensor:
        """The weight times the TOP-k mask (pruned entries exactly zero).

        Returns
        -------
        torch.Tensor
            ``weight * keep``, differentiable in ``weight``.
        """
        return self.weight * self.keep

    @torch.no_grad()
    def prune_to(self, density: float) -> None:
        """Keep the ``round(density * size)`` largest-magnitude weights among those kept.

        At least one weight, and never more than are kept now; the others are set to 0.

        Parameters
        ----------
        density : float
            Target fraction of kept weights of this layer, in [0, 1].
        """
        k = int(round(float(density) * self.weight.numel()))
        kept = self.mask()
        n_kept = int(kept.sum())
        k = min(max(k, 1), n_kept)
        if k < n_kept:
            # the k-th largest magnitude among the kept weights (selection among the pruned
            # ones too, all tied at one value, degrades numpy's partial sort)
            magnitude = self.weight.abs()
            threshold = _kth_largest(magnitude, kept, k)
            keep = (magnitude >= threshold).logical_and_(kept).reshape(-1)
            surplus = int(keep.sum()) - k
            if surplus:  # ties at the threshold: the last ones (in storage order) go
                tied = (magnitude == threshold).logical_and_(kept).reshape(-1)
                keep[torch.nonzero(tied).reshape(-1)[-surplus:]] = False
            self.keep.copy_(keep.reshape(self.weight.shape))
        self.weight.mul_(self.keep)


class GradualPruning(StepRule):
    """The cubic TOP-k schedule of magnitude pruning (section 4.4): every ``every`` training
    steps, and at the last one, each :class:`MagnitudeLayer` keeps the fraction
    ``cubic_density`` of its weights (of those still kept).

    Set on the estimators as ``callbacks__pruning__<param>``.

    Parameters
    ----------
    target_density : float in [0, 1], default=0.1
        The density at the end of the schedule (each layer keeps at least one weight).
    begin, end : float, default=0.0, 0.75
        Start and end of the schedule as fractions of training, ``0 <= begin <= end <= 1``.
    every : int >= 1, default=20
        Training steps between two pruning steps.

    See Also
    --------
    MagnitudeLayer : The layers it prunes.

    Examples
    --------
    >>> from skdropout.nn._magnitude import GradualPruning
    >>> GradualPruning(every=0).initialize()
    Traceback (most recent call last):
    ...
    ValueError: GradualPruning: every must be an integer >= 1, got 0.
    """

    def __init__(self, target_density: float = 0.1, begin: float = 0.0, end: float = 0.75,
                 every: int = 20) -> None:
        self.target_density = target_density
        self.begin = begin
        self.end = end
        self.every = every

    def initialize(self) -> GradualPruning:
        """Check the schedule and reset the step count.

        Returns
        -------
        GradualPruning
            self.
        """
        check_number("GradualPruning", "target_density", self.target_density, 0.0, 1.0)
        check_number("GradualPruning", "begin", self.begin, 0.0, 1.0)
        check_number("GradualPruning", "end", self.end, self.begin, 1.0)
        if isinstance(self.every, bool) or not isinstance(self.every, numbers.Integral) \
                or self.every < 1:
            raise ValueError(f"GradualPruning: every must be an integer >= 1, got {self.every!r}.")
        return super().initialize()

    def on_batch_end(self, net: Any, batch: Any = None, training: bool = False,
                     **kwargs: Any) -> None:
        """After a training batch, prune when the schedule is due.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        batch : tuple, optional
            The batch (unused).
        training : bool, default=False
            Whether the batch was a training batch (pruning steps belong to those only).
        **kwargs
            Ignored (skorch's callback arguments).
        """
        if not training:
            return
        step = self.count_step(net)
        if step % int(self.every) and step < self.total_:
            return
        density = cubic_density(step / self.total_, float(self.target_density),
                                float(self.begin), float(self.end))
        for layer in net.sparse_layers():
            if isinstance(layer, MagnitudeLayer):
                layer.prune_to(density)


#: Zhu & Gupta's schedule to 10 % density over the first three quarters of training.
SPECS = (MethodSpec("magnitude", lambda base, lam, penalty: MagnitudeLayer(base, lam),
                    callbacks=(("pruning", GradualPruning, {"target_density": 0.1, "begin": 0.0,
                                                            "end": 0.75, "every": 20}),)),)
