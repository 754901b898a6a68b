"""Standout (Ba & Frey 2013; the paper's section 4.1): the layer (adaptive dropout of its
outputs by a standout net tied to its weights), its training rule (a new record of the keep
probabilities each epoch) and the spec of STANDOUT.
"""

from __future__ import annotations

from typing import Any

import torch
from skorch.callbacks import Callback
from torch import nn

from ._base import SparseLayer, check_number
from ._spec import MethodSpec
from ._terms import affine, uniform_like


class StandoutLayer(SparseLayer):
    """A Linear layer whose outputs are dropped by a standout net tied to its weights [1]_.

    The keep probability of unit j is ``pi_j = sigmoid(alpha z_j + beta)`` with
    ``z = W x + b`` the layer's own pre-activation (the standout net copies the weights and
    is not trained, section 4.1); training multiplies z by a Bernoulli(pi) mask, evaluation
    by pi. A unit (its row of W) is pruned when pi_j < ``keep_min`` (0.05 unless set) for every training sample of
    the current epoch (the record restarts at :meth:`begin_epoch`, so the validation pass
    at the end of an epoch uses that epoch's record); its output is then exactly zero.

    In the paper's analysis (section 4.1, eqs. 14-16) this is adaptive dropout of the
    activations with eta_hat of eq. (15) and a subquadratic effective penalty (eq. 16).
    Only ``nn.Linear`` layers are replaced.

    Parameters
    ----------
    base : nn.Linear
        The layer to replace; its weight and bias are copied.
    lam : float
        Stored for a uniform interface; standout has no loss term.
    alpha, beta : float, default=1.0, 0.0
        Scale and shift of the standout net: ``pi = sigmoid(alpha z + beta)``.

    See Also
    --------
    StandoutReset : The per-epoch record of the units' keep probabilities.
    skdropout.penalties.Standout : Its effective penalty on the activations.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.1.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skdropout.nn import StandoutLayer
    >>> _ = torch.manual_seed(0)
    >>> layer = StandoutLayer(nn.Linear(3, 2), lam=1.0)
    >>> x = torch.randn(8, 3)
    >>> layer.begin_epoch()
    >>> layer(x).shape  # training: outputs dropped by Bernoulli(pi) masks
    torch.Size([8, 2])
    >>> z = x @ layer.weight.T + layer.bias
    >>> bool(torch.allclose(layer.unit_keep, torch.sigmoid(z).amax(0)))
    True
    >>> out = layer.eval()(x)  # evaluation: z * pi
    >>> bool(torch.allclose(out, z * torch.sigmoid(z) * (layer.unit_keep >= 0.05)))
    True
    >>> bool(torch.allclose(layer.to_dense()(x), out))
    True
    """

    conv_ok = False

    def __init__(self, base: nn.Module, lam: float, alpha: float = 1.0,
                 beta: float = 0.0) -> None:
        super().__init__(base, lam)
        self.alpha = check_number("StandoutLayer", "alpha", alpha)
        self.beta = check_number("StandoutLayer", "beta", beta)
        self.register_buffer("unit_keep", torch.ones(self.weight.shape[0],
                                                     dtype=self.weight.dtype,
                                                     device=self.weight.device))
        self._fresh = False

    def keep_prob(self) -> torch.Tensor:
        """The largest pi_j of unit j over the epoch's training samples, for each weight
        of its row.

        Returns
        -------
        torch.Tensor
            Shaped like ``weight`` (rows constant), values in (0, 1).
        """
        return self.unit_keep[:, None].expand_as(self.weight)

    def _pi(self, z: torch.Tensor) -> torch.Tensor:
        if self.alpha == 1.0 and self.beta == 0.0:  # the default: no affine pass
            return torch.sigmoid(z.detach())
        return affine(z.detach(), self.alpha, self.beta).sigmoid_()

    def begin_epoch(self) -> None:
        """Start a new record of the units' largest keep probability."""
        self._fresh = True

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``z * Bernoulli(pi)`` with ``z = W x + b`` and ``pi = sigmoid(alpha z + beta)``;
        updates the epoch's record of the largest pi of each unit.

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(..., in_features)``.

        Returns
        -------
        torch.Tensor
            A random sample of the dropped-out pre-activations.
        """
        z = self._op(x, self.weight, self.bias)
        pi = self._pi(z)
        batch_max = pi.reshape(-1, z.shape[-1]).amax(0)
        if self._fresh:
            self.unit_keep.copy_(batch_max)
            self._fresh = False
        else:
            torch.maximum(self.unit_keep, batch_max, out=self.unit_keep)
        # Bernoulli(pi) draws as u < pi, u ~ U[0, 1): several times faster than bernoulli
        keep = uniform_like(pi)
        return z * torch.lt(keep, pi, out=keep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`train_forward` in training mode; ``z * pi`` with pruned units zeroed in
        eval mode.

        Parameters
        ----------
        x : torch.Tensor
            The input, ``(..., in_features)``.

        Returns
        -------
        torch.Tensor
            The layer's output, ``(..., out_features)``.
        """
        if self.training:
            return self.train_forward(x)
        z = self._op(x, self.weight, self.bias)
        return z * self._pi(z) * (self.unit_keep >= self.keep_min)

    def pruned_weight(self) -> torch.Tensor:
        """The weight with the rows of pruned units zeroed.

        Returns
        -------
        torch.Tensor
            Shaped like ``weight``.
        """
        return self.weight * (self.unit_keep >= self.keep_min)[:, None]

    def to_dense(self) -> nn.Module:
        """A plain module computing the evaluated output ``z * sigmoid(alpha z + beta)``
        with the pruned rows (and their biases) zeroed.

        Returns
        -------
        torch.nn.Module
            A module holding an ``nn.Linear`` and no training state.
        """
        return _StandoutEval(self)


class _StandoutEval(nn.Module):
    """The evaluated standout layer as a plain module (no buffers of the training state)."""

    def __init__(self, layer: StandoutLayer) -> None:
        super().__init__()
        keep = layer.unit_keep >= layer.keep_min
        self.linear = nn.Linear(layer.weight.shape[1], layer.weight.shape[0],
                                bias=layer.bias is not None).to(layer.weight)
        with torch.no_grad():
            self.linear.weight.copy_(layer.weight * keep[:, None])
            if layer.bias is not None:
                self.linear.bias.copy_(layer.bias * keep)
        self.alpha, self.beta = layer.alpha, layer.beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        return z * torch.sigmoid(self.alpha * z + self.beta)


class StandoutReset(Callback):
    """At the start of each epoch, a new record of the largest keep probability of the
    units of every :class:`StandoutLayer` (so a unit is pruned by that epoch's samples).

    The keep probability is standout's sigma(z) (eq. 15 with w2 = 1, section 4.1).

    Examples
    --------
    >>> from skdropout.nn import METHODS
    >>> [name for name, _ in METHODS["standout"].make_callbacks()]
    ['standout_reset']
    """

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Start a new record in each standout layer.

        Parameters
        ----------
        net : SparseNetClassifier or SparseNetRegressor
            The network being trained.
        **kwargs
            Ignored (skorch's callback arguments).
        """
        for layer in net.sparse_layers():
            if isinstance(layer, StandoutLayer):
                layer.begin_epoch()


#: Standout acts on the units of Linear layers, not on the output layer.
SPECS = (MethodSpec("standout",
                    lambda base, lam, penalty, **options: StandoutLayer(base, lam, **options),
                    {"alpha": 1.0, "beta": 0.0},
                    callbacks=(("standout_reset", StandoutReset, {}),),
                    conv=False, skip_last=True),)
