"""skorch estimators that sparsify any PyTorch module with one of the methods of section 5."""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.utils import to_tensor
from torch import nn

from ..penalties import Penalty, resolve_penalty
from ._base import SparseLayer
from ._callbacks import SparsityLog
from ._compact import compact_module
from ._methods import METHODS, get_method, install_method, method_options
from ._spec import MethodSpec

_PARAMS_DOC = """
    Parameters
    ----------
    module : torch.nn.Module class or instance
        Any network returning logits (classifier) or predictions (regressor). At
        initialisation its ``nn.Linear`` layers (and ``nn.Conv2d`` layers for the
        weight-level methods) are replaced by the method's layer; an instance is copied
        first, so the object passed in is never modified.
    method : str, default='logsum'
        One of ``vardrop_lr_ar vardrop_lr vardrop eta_trick adaprox adatikhonov logsum
        hardconcrete magnitude standout``. Method options are set as ``method__<name>``
        keyword arguments (visible to ``get_params``/``clone``/``GridSearchCV``):
        vardrop*: ``init_log_alpha`` (-5), ``init_weight_std`` (None: the module's own
        initial weights; a number: N(0, std^2) weights, zero bias), vardrop_lr_ar:
        ``init_log_sigma2`` (None: log w^2 + init_log_alpha); eta_trick: ``init_log_eta`` (5),
        ``log_eta_decay`` (1e-3); hardconcrete: ``beta`` (2/3), ``gamma`` (-0.1),
        ``zeta`` (1.1), ``init_log_a`` (2); standout: ``alpha`` (1), ``beta`` (0). A
        method's training rules are skorch callbacks set as ``callbacks__<name>__<param>``:
        vardrop*: ``kl_warmup`` (:class:`KLWarmup`, ``epochs`` 0: epochs over which the KL
        weight grows linearly from 0 to 1, off when 0); adaprox: ``prox``
        (:class:`ProximalStep`); magnitude: ``pruning`` (:class:`GradualPruning`,
        ``target_density`` 0.1, ``begin`` 0 and ``end`` 0.75 as fractions of training,
        ``every`` 20 steps); standout: ``standout_reset`` (:class:`StandoutReset`).
    lam : float > 0 or None, default=None
        Regularisation strength lambda. None: 1/N for the variational dropout methods (N
        the number of training samples, the variational bound), 1e-3 for the others (the
        paper's Table 4). Unused by magnitude and standout.
    penalty : str or Penalty, default='logsum'
        The penalty Omega of eta_trick, adaprox, adatikhonov and logsum (a closed-form
        penalty of :mod:`skdropout.penalties`); logsum's default eps is 2 as in the paper.
    penalty_params : dict or None, default=None
        Parameters of ``penalty`` when it is given by name.
    random_state : int or None, default=None
        Seed of torch's global generator at initialisation (weights, noise, shuffling).
    train_split : callable or None, default=None
        None trains on all data; pass e.g. ``skorch.dataset.ValidSplit(5)`` to record the
        validation error of the pruned model every epoch.
    **kwargs
        Any other skorch parameter (``max_epochs``, ``lr``, ``batch_size``, ``device``,
        ``optimizer``, ``callbacks``...). Defaults differing from skorch: Adam with lr=1e-3,
        ``iterator_train__shuffle=True``.
"""


def _collect_sparse(module: nn.Module, found: list[SparseLayer], seen: set[int]) -> None:
    """Append the SparseLayers of ``module`` to ``found`` in the order of ``modules()``,
    without the names ``modules()`` builds as strings: half its time, and this runs per
    training step."""
    if id(module) in seen:
        return
    seen.add(id(module))
    if isinstance(module, SparseLayer):
        found.append(module)
    for child in module._modules.values():
        if child is not None:
            _collect_sparse(child, found, seen)


class _SparseNetMixin:
    """What both estimators add to skorch: method installation, the regulariser in the
    loss, the sparsity record and the pruned-model utilities."""

    prefixes_ = NeuralNet.prefixes_ + ["method"]

    # -- set-up -------------------------------------------------------------------------
    def _check_setup(self) -> tuple[MethodSpec, dict[str, Any], Penalty | None]:
        """Validate method, lam, options and penalty; raises before anything is trained."""
        spec = get_method(self.method)
        lam = self.lam
        if lam is not None and (isinstance(lam, bool) or not isinstance(lam, numbers.Real)
                                or not math.isfinite(lam) or lam <= 0):
            raise ValueError(f"lam must be a finite number > 0 (or None for the method's "
                             f"default), got {lam!r}.")
        opts = method_options(spec, self.get_params_for("method"))
        if self.random_state is not None and (isinstance(self.random_state, bool) or
                                              not isinstance(self.random_state, numbers.Integral)):
            raise ValueError(f"random_state must be an int or None, got {self.random_state!r}.")
        pen = None
        if spec.uses_penalty:  # the method's layers check what the penalty can do
            pen = resolve_penalty(self.penalty, self.penalty_params, self._lam_value(spec))
        elif self.penalty_params:
            raise ValueError(f"penalty_params is not used by method {spec.name!r}.")
        return spec, opts, pen

    def _lam_value(self, spec: MethodSpec) -> float:
        """lam as used by the layers (1/N for variational dropout when ``lam`` is None)."""
        if self.lam is not None:
            return float(self.lam)
        if spec.default_lam is not None:
            return spec.default_lam
        return 1.0 / getattr(self, "n_train_", 1)

    def initialize(self) -> Any:
        self._check_setup()
        if self.random_state is not None:
            torch.manual_seed(int(self.random_state))
        return super().initialize()

    def initialize_module(self) -> Any:
        super().initialize_module()
        spec, opts, pen = self._check_setup()
        if isinstance(self.module, nn.Module):
            self.module_ = copy.deepcopy(self.module_)
        install_method(self.module_, spec, self._lam_value(spec), pen, opts)
        self.module_.to(self.device)
        self.method_options_ = opts
        return self

    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        cbs = list(super()._default_callbacks)
        names = [n for n, _ in cbs]
        at = names.index("print_log") if "print_log" in names else len(cbs)
        # the method's training rules (its spec's callbacks) with the user's
        # callbacks__<name>__<param> values (so get_params reports them), then the record
        spec = METHODS.get(self.method) if isinstance(self.method, str) else None
        rules = spec.make_callbacks() if spec is not None else []  # unknown: fit raises
        for name, cb in rules:
            cb.set_params(**self.get_params_for(f"callbacks__{name}"))
        cbs[at:at] = [*rules, ("sparsity", SparsityLog())]
        return cbs

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        self.n_train_ = len(dataset_train)
        if self.lam is None and get_method(self.method).default_lam is None:
            for layer in self.sparse_layers():
                layer.lam = 1.0 / self.n_train_
        return dataset_train, dataset_valid

    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        for name, arr in (("X", X), ("y", y)):
            if isinstance(arr, np.ndarray) and arr.dtype.kind == "f" and \
                    not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinity.")
        return super().fit(X, y, **fit_params)

    # -- training ------------------------------------------------------------------------
    def infer(self, x: Any, **fit_params: Any) -> Any:
        x = to_tensor(x, device=self.device)
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            dtype = self.sparse_layers()[0].weight.dtype  # the module's parameters' dtype
            if x.dtype != dtype:
                x = x.to(dtype)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred: Any, y_true: Any, X: Any = None, training: bool = False) -> Any:
        if isinstance(y_pred, torch.Tensor) and y_pred.is_floating_point():
            y_true = to_tensor(y_true, device=y_pred.device)
            if y_true.is_floating_point():
                y_true = y_true.to(y_pred.dtype)
                if y_true.dim() == 1 and y_pred.dim() == 2 and y_pred.shape[1] == 1:
                    y_true = y_true[:, None]
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training:
            for layer in self.sparse_layers():
                loss = loss + layer.regularizer()
        return loss

    # -- the pruned model -----------------------------------------------------------------
    def sparse_layers(self) -> list[SparseLayer]:
        """The method's layers inside ``module_``, in order (that of ``modules()``)."""
        found: list[SparseLayer] = []
        _collect_sparse(self.module_, found, set())
        return found

    def _layer_counts(self) -> dict[str, tuple[int, int]]:
        counts = {}
        for name, mod in self.module_.named_modules():
            if isinstance(mod, SparseLayer):
                counts[name] = (int(mod.mask().sum()), mod.weight.numel())
            elif isinstance(mod, (nn.Linear, nn.Conv2d)):
                counts[name] = (int((mod.weight != 0).sum()), mod.weight.numel())
        return counts

    @property
    def layer_density_(self) -> dict[str, float]:
        """Fraction of kept weights of each Linear/Conv2d layer (biases excluded)."""
        self.check_is_fitted()
        return {k: kept / total for k, (kept, total) in self._layer_counts().items()}

    @property
    def density_(self) -> float:
        """Fraction of kept weights over all Linear/Conv2d layers (biases excluded): a
        weight is kept when its keep probability is at least 0.05."""
        self.check_is_fitted()
        counts = self._layer_counts().values()
        return sum(k for k, _ in counts) / sum(t for _, t in counts)

    @torch.no_grad()
    def sparsify(self) -> Any:
        """Write the zeros of the pruning rule into the weights (in place); returns self."""
        self.check_is_fitted()
        for layer in self.sparse_layers():
            layer.weight.mul_(layer.mask())
        return self

    def compact(self) -> nn.Module:
        """A smaller dense copy of the evaluated network; ``module_`` is not modified.

        Returns
        -------
        torch.nn.Module
            A module in eval mode with the same outputs as ``module_``. The method's layers
            are plain ``nn.Linear``/``nn.Conv2d`` layers holding the pruned weights. Inside
            each ``nn.Sequential``, what is removed: between Linear layers separated by
            element-wise activations, hidden units whose outgoing weights are all zero
            (units with all-zero incoming weights are constant and folded into the next
            bias first); between Conv2d layers (``groups=1``) separated by element-wise
            activations and max/average pooling, output channels whose outgoing weights
            are all zero, or that output exactly 0 (all-zero incoming weights, zero bias,
            activations mapping 0 to 0); between a Conv2d and a Linear layer joined by
            ``nn.Flatten``, channels whose block of Linear input columns is all zero,
            together with those columns.
        """
        self.check_is_fitted()
        return compact_module(self.module_)


def _sparse_net_init(base: type, default_criterion: type) -> Any:
    """The estimators' ``__init__`` on top of the skorch class ``base``; the two differ only
    in the default criterion (sklearn reads parameters and defaults off the signature)."""

    def __init__(self, module: Any, *args: Any, method: str = "logsum",
                 lam: float | None = None, penalty: str | Penalty = "logsum",
                 penalty_params: dict[str, Any] | None = None, random_state: int | None = None,
                 criterion: Any = default_criterion, train_split: Any = None,
                 optimizer: Any = torch.optim.Adam, lr: float = 1e-3, **kwargs: Any) -> None:
        kwargs.setdefault("iterator_train__shuffle", True)
        base.__init__(self, module, *args, criterion=criterion, train_split=train_split,
                      optimizer=optimizer, lr=lr, **kwargs)
        self.method = method
        self.lam = lam
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.random_state = random_state

    return __init__


class SparseNetClassifier(_SparseNetMixin, NeuralNetClassifier):
    __doc__ = ("""A skorch classifier that trains a sparse network (section 5 of the paper).

    The module must return logits (the loss is ``nn.CrossEntropyLoss``). Every epoch the
    history records ``density``, ``layer_density`` and, with a validation split,
    ``valid_error`` of the pruned model (the one ``predict`` uses).
""" + _PARAMS_DOC + """
    Attributes
    ----------
    module_ : nn.Module
        The network with the method's layers installed.
    density_ : float
        Fraction of the Linear/Conv2d weights that are kept (biases excluded).
    layer_density_ : dict
        The same per layer.
    n_train_ : int
        Number of training samples of the last fit.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdropout.nn import SparseNetClassifier, LeNet300100
    >>> X, y = load_digits(return_X_y=True)
    >>> net = SparseNetClassifier(LeNet300100, module__in_features=64,
    ...                           module__hidden=(32, 16), method="logsum", lam=1e-3,
    ...                           max_epochs=2, random_state=0, verbose=0)
    >>> net = net.fit(X / 16.0, y)
    >>> 0 < net.density_ <= 1
    True
    """)

    __init__ = _sparse_net_init(NeuralNetClassifier, nn.CrossEntropyLoss)


class SparseNetRegressor(_SparseNetMixin, NeuralNetRegressor):
    __doc__ = ("""A skorch regressor that trains a sparse network (``nn.MSELoss``).
""" + _PARAMS_DOC + """
    Attributes
    ----------
    module_, density_, layer_density_, n_train_
        As for :class:`SparseNetClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.nn import SparseNetRegressor, LeNet300100
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 5)).astype("float32"); y = X[:, :1] * 2
    >>> net = SparseNetRegressor(LeNet300100, module__in_features=5, module__hidden=(8,),
    ...                          module__n_classes=1, max_epochs=2, random_state=0, verbose=0)
    >>> net.fit(X, y).predict(X).shape
    (64, 1)
    """)

    __init__ = _sparse_net_init(NeuralNetRegressor, nn.MSELoss)


__all__ = ["METHODS", "SparseNetClassifier", "SparseNetRegressor"]
