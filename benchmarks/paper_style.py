"""Paper-style implementations of the sparsifiers, the peer of ``benchmarks/nn_speed.py``.

Each method as the public code around the paper writes it: plain torch layers whose loss
terms are plain torch expressions differentiated by autograd (the authors' masked layers and
penalties, github dlej/adaptive-dropout ``dropout/nn.py``; Molchanov et al.'s sparse
variational dropout layers as adapted there in ``dropout/extern.py``; Louizos et al.'s hard
concrete gates; Zhu & Gupta's magnitude pruning with a mask; Ba & Frey's standout), written
here from those facts, not copied. They train LeNet-300-100 with skorch as the authors' runs
do (a criterion plus the network's penalty, per-batch rules in a callback); ``make`` passes
skorch's options through, so ``nn_speed.py`` gives them the harness of the dense baseline
and of skdropout (torch's fused Adam, each batch taken by one indexing).

Only the cost of a training step is of interest here; the hyperparameters are the paper's
(lam = 1e-3, LogSum(2), log eta/lam and log alpha initialised at 5 and -5).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from torch import nn

K1, K2, K3 = 0.63576, 1.87320, 1.48695  # Molchanov et al. (2017), eq. (14)
LAM, EPS = 1e-3, 2.0  # the paper's lam and LogSum's eps


def _molchanov_kl(log_alpha: torch.Tensor) -> torch.Tensor:
    """Sum of Molchanov et al.'s approximate KL, as their code writes it."""
    neg_kl = K1 * torch.sigmoid(K2 + K3 * log_alpha) - 0.5 * torch.log1p(torch.exp(-log_alpha))
    return -torch.sum(neg_kl - K1)


class _Weights(nn.Module):
    """A weight matrix and bias initialised as ``nn.Linear`` does."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        base = nn.Linear(n_in, n_out)
        self.weight, self.bias = base.weight, base.bias

    def penalty(self, lam: float) -> torch.Tensor | float:
        return 0.0

    def after_step(self, optimizer: Any, lam: float) -> None:
        pass


class VarDropAdditive(_Weights):
    """Local and additive reparameterisation: parameters w and log sigma."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.log_sigma = nn.Parameter(torch.full_like(self.weight, -5.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log_alpha = torch.clamp(2 * self.log_sigma - 2 * torch.log(1e-16 + self.weight.abs()),
                                     -10, 10)
        mean = F.linear(x, self.weight, self.bias)
        std = torch.sqrt(F.linear(x * x, torch.exp(2 * self.log_sigma)) + 1e-8)
        return mean + std * torch.randn_like(mean)

    def penalty(self, lam: float) -> torch.Tensor:
        return lam * _molchanov_kl(self.log_alpha)


class VarDropLocal(_Weights):
    """Local reparameterisation: parameters w and log alpha."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.log_alpha = nn.Parameter(torch.full_like(self.weight, -5.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_sigma = torch.clamp(self.log_alpha / 2 + torch.log(1e-16 + self.weight.abs()), -10, 10)
        mean = F.linear(x, self.weight, self.bias)
        std = torch.sqrt(F.linear(x * x, torch.exp(2 * log_sigma)) + 1e-8)
        return mean + std * torch.randn_like(mean)

    def penalty(self, lam: float) -> torch.Tensor:
        return lam * _molchanov_kl(self.log_alpha)


class VarDropPlain(VarDropLocal):
    """No trick: one multiplicative Gaussian noise sample per weight and batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noise = 1 + torch.randn_like(self.log_alpha) * torch.exp(self.log_alpha / 2)
        return F.linear(x, self.weight * noise, self.bias)


class _Masked(_Weights):
    """The authors' masked layer: the weight times a mask of ones in training."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * torch.ones_like(self.weight), self.bias)


class EtaTrick(_Masked):
    """Joint descent in w and log(eta / lam), LogSum(2)'s dual."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.log_eta_lam = nn.Parameter(torch.full_like(self.weight, 5.0))

    def penalty(self, lam: float) -> torch.Tensor:
        eta = lam * torch.exp(self.log_eta_lam)
        root = torch.sqrt(EPS ** 2 + 4 * eta)
        dual = 2 * torch.sum(torch.log((root + EPS) / 2) - (root - EPS) ** 2 / (4 * eta))
        return lam / 2 * (torch.sum(self.weight ** 2 / eta) + dual
                          + 1e-3 * torch.sum(self.log_eta_lam))


class LogSum(_Masked):
    """lam * Omega(w) by autograd."""

    def penalty(self, lam: float) -> torch.Tensor:
        return lam * torch.sum(torch.log(self.weight.abs() + EPS))


def _eta_hat(w: torch.Tensor) -> torch.Tensor:
    a = w.abs()
    return a * (a + EPS)


class AdaTikhonov(_Masked):
    """lam/2 sum w^2 / eta with eta = eta_hat(w) refreshed after each step."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("alpha", torch.ones_like(self.weight))

    def penalty(self, lam: float) -> torch.Tensor:
        alpha = torch.clamp(self.alpha, min=1e-3)
        return torch.sum(self.weight ** 2 / (alpha / (1 - alpha))) / 2

    @torch.no_grad()
    def after_step(self, optimizer: Any, lam: float) -> None:
        eta = _eta_hat(self.weight)
        self.alpha.copy_(eta / (eta + lam))


class AdaProx(_Masked):
    """After each Adam step, w <- w eta / (eta + lr lam / sqrt(v_hat))."""

    @torch.no_grad()
    def after_step(self, optimizer: Any, lam: float) -> None:
        group = optimizer.param_groups[0]
        state = optimizer.state[self.weight]
        v_hat = state["exp_avg_sq"] / (1 - group["betas"][1] ** float(state["step"]))
        eta = _eta_hat(self.weight)
        self.weight.copy_(eta / (eta + group["lr"] / torch.sqrt(v_hat) * lam) * self.weight)


class HardConcrete(_Weights):
    """Louizos et al.'s gates: stretched, clipped binary concrete, beta=2/3, (-0.1, 1.1)."""

    beta, gamma, zeta = 2 / 3, -0.1, 1.1

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.log_a = nn.Parameter(torch.full_like(self.weight, 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.rand_like(self.log_a).clamp(1e-6, 1 - 1e-6)
        s = torch.sigmoid((torch.log(u) - torch.log(1 - u) + self.log_a) / self.beta)
        gate = F.hardtanh(s * (self.zeta - self.gamma) + self.gamma, 0.0, 1.0)
        return F.linear(x, self.weight * gate, self.bias)

    def penalty(self, lam: float) -> torch.Tensor:
        shift = self.beta * math.log(-self.gamma / self.zeta)
        return lam * torch.sum(torch.sigmoid(self.log_a - shift))


class Magnitude(_Weights):
    """A TOP-k mask applied in the forward pass; the schedule lives in the network."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", torch.ones_like(self.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)

    @torch.no_grad()
    def prune_to(self, density: float) -> None:
        k = max(1, int(round(density * self.weight.numel())))
        scores = (self.weight * self.mask).abs().reshape(-1)
        mask = torch.zeros_like(scores)
        mask[torch.topk(scores, k).indices] = 1.0
        self.mask.copy_(mask.reshape(self.mask.shape))
        self.weight.mul_(self.mask)


class Standout(_Weights):
    """Outputs dropped with keep probability sigmoid(z) of the layer's own z."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.linear(x, self.weight, self.bias)
        return z * torch.bernoulli(torch.sigmoid(z.detach()))


LAYERS = {"vardrop_lr_ar": VarDropAdditive, "vardrop_lr": VarDropLocal,
          "vardrop": VarDropPlain, "eta_trick": EtaTrick, "adaprox": AdaProx,
          "adatikhonov": AdaTikhonov, "logsum": LogSum, "hardconcrete": HardConcrete,
          "magnitude": Magnitude, "standout": Standout}


class PaperNet(nn.Module):
    """LeNet-300-100 of one method's layers (standout: the output layer plain)."""

    def __init__(self, method: str, dims: tuple[int, ...] = (784, 300, 100, 10)) -> None:
        super().__init__()
        layer = LAYERS[method]
        last = nn.Linear if method == "standout" else layer
        self.layers = nn.ModuleList(
            [layer(a, b) for a, b in zip(dims[:-2], dims[1:-1])] + [last(dims[-2], dims[-1])])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)

    def penalty(self, lam: float) -> torch.Tensor | float:
        return sum(getattr(layer, "penalty", lambda lam: 0.0)(lam) for layer in self.layers)


class _AfterStep(Callback):
    """The per-batch rules: AdaProx's prox, AdaTikhonov's eta, magnitude's schedule."""

    def __init__(self, total_steps: int) -> None:
        self.total_steps = total_steps

    def initialize(self) -> _AfterStep:
        self.step_ = 0
        return self

    def on_batch_end(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        if not training:
            return
        self.step_ += 1
        layers = net.module_.layers
        for layer in layers:
            if hasattr(layer, "after_step"):
                layer.after_step(net.optimizer_, LAM)
        if isinstance(layers[0], Magnitude) and (self.step_ % 20 == 0
                                                 or self.step_ >= self.total_steps):
            frac = min(1.0, self.step_ / (0.75 * self.total_steps))
            density = 0.1 + 0.9 * (1 - frac) ** 3
            for layer in layers:
                layer.prune_to(density)


class PaperStyleClassifier(NeuralNetClassifier):
    """skorch's classifier with the network's penalty added to the training loss."""

    def get_loss(self, y_pred: Any, y_true: Any, X: Any = None, training: bool = False) -> Any:
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        return loss + self.module_.penalty(LAM) if training else loss


def make(method: str, total_steps: int, **kwargs: Any) -> PaperStyleClassifier:
    """A paper-style classifier of ``method`` on LeNet-300-100 (skorch keyword arguments)."""
    return PaperStyleClassifier(PaperNet, module__method=method,
                                criterion=torch.nn.CrossEntropyLoss,
                                callbacks=[("after_step", _AfterStep(total_steps))], **kwargs)
