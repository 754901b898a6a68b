"""skorch estimators that sparsify any PyTorch module with one of the methods of section 5."""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EpochScoring
from skorch.utils import to_tensor
from torch import nn
from torch.utils.data import DataLoader

from ..penalties import Penalty, resolve_penalty
from ._base import KEEP_MIN, SparseLayer, check_keep_min
from ._batches import as_batch, batch_rows
from ._callbacks import LinearLRDecay, SparsityLog, total_steps
from ._compact import compact_module
from ._methods import METHODS, get_method, install_method, method_options
from ._spec import MethodSpec

#: log-units the method's log-scale parameters can travel in one fit with ``log_lr=None``:
#: lr x T / 2 under the linear decay, set to the width of log alpha's range [-10, 10]
LOG_TRAVEL = 40.0

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
        vardrop*: ``init_log_alpha`` (-8), ``init_weight_std`` (None: the module's own
        initial weights; a number: N(0, std^2) weights, zero bias), vardrop_lr_ar:
        ``init_log_sigma2`` (None: log w^2 + init_log_alpha); eta_trick: ``init_log_eta`` (5),
        ``log_eta_decay`` (1e-3); hardconcrete: ``beta`` (2/3), ``gamma`` (-0.1),
        ``zeta`` (1.1), ``init_log_a`` (2); standout: ``alpha`` (1), ``beta`` (0). A
        method's training rules are skorch callbacks set as ``callbacks__<name>__<param>``:
        vardrop*: ``kl_warmup`` (:class:`KLWarmup`, ``epochs`` 10: epochs over which the KL
        weight grows linearly from 0 to 1, off when 0); adaprox: ``prox``
        (:class:`ProximalStep`); magnitude: ``pruning`` (:class:`GradualPruning`,
        ``target_density`` 0.1, ``begin`` 0 and ``end`` 0.75 as fractions of training,
        ``every`` 20 steps); standout: ``standout_reset`` (:class:`StandoutReset`). Every
        method also runs ``lr_decay`` (:class:`LinearLRDecay`, the learning rate decays
        linearly to 0 over the fit; ``callbacks__lr_decay=None`` turns it off). The
        defaults are chosen so that a user's network is pruned in a short training
        (``benchmarks/nn_defaults.py``); the paper's Table 4 settings are those of
        ``skdropout.experiments.run_table4``.
    lam : float > 0 or None, default=None
        Regularisation strength lambda. None: 1/N, N the number of training samples (the
        loss is a mean over samples, so the regulariser weighs as one sample; for the
        variational dropout methods this is the variational bound of eq. 18). The paper's
        Table 4 uses 1e-3 for the penalty methods on 48,000 MNIST images. Unused by
        magnitude and standout.
    penalty : str or Penalty, default='logsum'
        The penalty Omega of eta_trick, adaprox, adatikhonov and logsum (a closed-form
        penalty of :mod:`skdropout.penalties`); logsum's default eps is 2 as in the paper.
    penalty_params : dict or None, default=None
        Parameters of ``penalty`` when it is given by name.
    random_state : int or None, default=None
        Seed of torch's global generator at initialisation (weights, noise, shuffling).
    keep_min : float in (0, 1), default=0.05
        The pruning threshold: a weight whose keep probability alpha (eq. 8) is below it
        is zero in the evaluated network (``predict``, ``density_``, ``sparsify``,
        ``compact``); for the variational dropout methods this is log alpha_Molchanov >
        log((1 - keep_min) / keep_min), log 19 at the default (Molchanov et al.'s rule and
        the paper's). Training does not depend on it (only the history's ``density`` and
        ``valid_error`` do), so ``set_params(keep_min=...)`` on a fitted net changes the
        pruned network without refitting. Magnitude pruning keeps its TOP-k whatever the threshold (keep
        probabilities 0 or 1).
    log_lr : float > 0 or None, default=None
        Learning rate of the method's own per-weight parameters (log alpha or log sigma^2
        of vardrop*, log eta_bar of eta_trick, log a of hardconcrete). None: 40 / T, T the
        number of training steps of the fit (epochs x batches per epoch): Adam moves a
        parameter by about its lr per step, so under the linear decay these can travel
        about 20 log-units, the width of log alpha's range [-10, 10], in any length of
        training (at ``lr``, sized for weights, they would need thousands of steps to prune
        a first weight in a short one). Parameters named in ``optimizer__param_groups``
        keep their group.
    train_split : callable or None, default=None
        None trains on all data; pass e.g. ``ValidSplit(5)``
        (:class:`skorch.dataset.ValidSplit`) to record the validation error of the pruned
        model every epoch.
    **kwargs
        Any other skorch parameter (``max_epochs``, ``lr``, ``batch_size``, ``device``,
        ``optimizer``, ``callbacks``...). Defaults differing from skorch: Adam with lr=1e-3
        (Adam and AdamW run torch's fused implementation, the same update, unless
        ``optimizer__foreach`` or ``optimizer__fused`` is set), ``iterator_train__shuffle=True``,
        and a ``lr_decay`` callback
        (:class:`LinearLRDecay`: the learning rate decays linearly to 0 over each fit, as
        in the paper's appendix C; ``callbacks__lr_decay=None`` turns it off).
        Numeric numpy arrays and tensors X and y are loaded a batch at a time (one
        indexing per batch, the batches skorch would form, in the same order), unless an
        ``iterator_train__``/``iterator_valid__`` ``collate_fn``, ``sampler`` or
        ``batch_sampler`` is given.
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


def _as_array(data: Any) -> Any:
    """pandas DataFrame/Series as numpy arrays (skorch reads a DataFrame as a dict of
    columns, which needs string column names); anything else unchanged."""
    if type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "to_numpy"):
        return data.to_numpy(copy=True)  # writable: torch warns on read-only arrays
    return data


def _check_finite(name: str, data: Any) -> None:
    """Refuse NaN or infinity in a numpy array or torch tensor.

    A sum is finite only when every entry is (NaN and infinity propagate), so one reading
    pass without a temporary settles the common case; only a sum that is not finite (a bad
    entry, or finite entries whose sum overflows) is followed by the entry-wise check."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "fc":
        with np.errstate(over="ignore"):
            finite = bool(np.isfinite(data.sum())) or bool(np.all(np.isfinite(data)))
    elif isinstance(data, torch.Tensor) and (data.is_floating_point() or data.is_complex()):
        finite = bool(torch.isfinite(data.sum())) or bool(torch.isfinite(data).all())
    else:
        return
    if not finite:
        raise ValueError(f"{name} contains NaN or infinity.")


#: optimisers with a ``fused`` implementation of the same update (one kernel per tensor)
FUSED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)


def _fused_option(optimizer: Any, kwargs: dict[str, Any], params: list[Any]) -> dict[str, Any]:
    """``{"fused": True}`` for the optimiser when it is Adam or AdamW, the user chose none
    of its implementations (``foreach``, ``fused``, ``differentiable``) and the parameters
    are float32/float64 on a CPU or CUDA device; ``{}`` otherwise. The fused kernel applies
    the same update as the default one-tensor-at-a-time loop (up to rounding) in one pass
    per tensor instead of about seven, without the loop's per-tensor calls; the methods with
    a parameter per weight double the tensors it updates."""
    if not (isinstance(optimizer, type) and issubclass(optimizer, FUSED_OPTIMIZERS)) or \
            kwargs.get("foreach") is not None or kwargs.get("fused") is not None or \
            kwargs.get("differentiable"):
        return {}
    if all(p.dtype in (torch.float32, torch.float64) and p.device.type in ("cpu", "cuda")
           for p in params):
        return {"fused": True}
    return {}


def _n_features(X: Any) -> int | None:
    """Number of features of a 2-d array or tensor X (None for other inputs)."""
    shape = getattr(X, "shape", None)
    return int(shape[1]) if shape is not None and len(shape) == 2 else None


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
        log_lr = self.log_lr
        if log_lr is not None and (isinstance(log_lr, bool) or not isinstance(
                log_lr, numbers.Real) or not math.isfinite(log_lr) or log_lr <= 0):
            raise ValueError(f"log_lr must be a finite number > 0 or None, got {log_lr!r}.")
        device = self.device
        if device is not None and torch.device(device).type == "cuda" and \
                not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available on this machine "
                             "(torch.cuda.is_available() is False); use device='cpu'.")
        check_keep_min(type(self).__name__, self.keep_min)
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
        self._sync_keep_min()
        self.integer_input_as_float_ = not any(
            isinstance(m, (nn.Embedding, nn.EmbeddingBag)) for m in self.module_.modules())
        self.module_.to(self.device)
        self.method_options_ = opts
        return self

    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        cbs = list(super()._default_callbacks)
        names = [n for n, _ in cbs]
        at = names.index("print_log") if "print_log" in names else len(cbs)
        # the method's training rules (its spec's callbacks) with the user's
        # callbacks__<name>__<param> values (so get_params reports them), then the record;
        # the decay comes after the rules: ADAPROX's proximal step uses the lr of the step
        # just taken
        spec = METHODS.get(self.method) if isinstance(self.method, str) else None
        rules = spec.make_callbacks() if spec is not None else []  # unknown: fit raises
        for name, cb in rules:
            cb.set_params(**self.get_params_for(f"callbacks__{name}"))
        cbs[at:at] = [*rules, ("sparsity", SparsityLog()), ("lr_decay", LinearLRDecay())]
        return cbs

    def get_params_for_optimizer(self, prefix: str, named_parameters: Any) -> Any:
        """skorch's parameter groups, with the method's own per-weight parameters (log
        alpha or log sigma^2, log eta_bar, log a) that no ``optimizer__param_groups`` entry
        names in a group of their own, at the learning rate ``log_lr``; Adam and AdamW run
        their fused implementation unless ``optimizer__foreach``, ``optimizer__fused`` or
        ``optimizer__differentiable`` is set.

        Parameters
        ----------
        prefix : str
            The optimiser's name (``"optimizer"``); only that one gets the extra group.
        named_parameters : iterable of (str, torch.nn.Parameter)
            The module's parameters, as skorch passes them.

        Returns
        -------
        args : tuple
            The optimiser's positional arguments, the parameter groups first.
        kwargs : dict
            Its keyword arguments (``lr`` ...).
        """
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        groups = args[0]
        if prefix != "optimizer" or not groups:
            return args, kwargs
        kwargs.update(_fused_option(self.optimizer, kwargs,
                                    [p for g in groups for p in g["params"]]))
        if "lr" in groups[-1]:
            return args, kwargs
        log_params = {id(p) for layer in self.sparse_layers()
                      for name, p in layer.named_parameters(recurse=False)
                      if name not in ("weight", "bias")}
        # skorch's last group holds the parameters no pattern matched, at the default lr
        rest = groups[-1]["params"]
        own = [p for p in rest if id(p) in log_params]
        if own:
            lr = kwargs["lr"] if self.log_lr is None else self.log_lr  # None: set per fit
            group = {"params": own, "lr": lr, "log_params": True}
            groups = groups[:-1] + [{"params": [p for p in rest if id(p) not in log_params]},
                                    group]
        return (groups, *args[1:]), kwargs

    def _set_log_lr(self, X: Any, y: Any) -> None:
        """``log_lr=None``: LOG_TRAVEL / T for the log-scale parameters, T the number of
        training steps of this fit."""
        if self.log_lr is not None or X is None:
            return
        # the number of training samples, as the split will make it before the first batch
        self.n_train_ = len(NeuralNet.get_split_datasets(self, X, y)[0])
        lr = LOG_TRAVEL / total_steps(self)
        for group in self.optimizer_.param_groups:
            if group.get("log_params"):
                group["lr"] = lr
                if "initial_lr" in group:  # a torch lr scheduler's lr_0 of an earlier fit
                    group["initial_lr"] = lr

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        self.n_train_ = len(dataset_train)
        if self.lam is None and get_method(self.method).default_lam is None:
            lam = 1.0 / self.n_train_
            for layer in self.sparse_layers():
                layer.lam = lam
                penalty = getattr(layer, "penalty", None)
                if penalty is not None and penalty.uses_lam:  # e.g. MCP's shape depends on lam
                    layer.penalty = penalty.with_lam(lam)
        return dataset_train, dataset_valid

    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        return self._fit_or_restore(super().fit, X, y, **fit_params)

    def partial_fit(self, X: Any, y: Any = None, classes: Any = None,
                    **fit_params: Any) -> Any:
        return self._fit_or_restore(super().partial_fit, X, y, classes=classes, **fit_params)

    def _fit_or_restore(self, fit: Any, X: Any, y: Any, **fit_params: Any) -> Any:
        """Run skorch's ``fit``/``partial_fit`` on checked input; when it raises, the
        estimator is put back as it was before the call (unfitted if it was), so a failed
        fit never leaves an untrained module behind."""
        if getattr(self, "_in_fit_", False):  # fit calls partial_fit: one snapshot
            return fit(X, y, **fit_params)
        X, y = _as_array(X), _as_array(y)
        for name, arr in (("X", X), ("y", y)):
            _check_finite(name, arr)
        saved = {k: v for k, v in vars(self).items() if not k.endswith("_")}
        saved.update(copy.deepcopy({k: v for k, v in vars(self).items() if k.endswith("_")}))
        self._in_fit_ = True
        try:
            self._check_warm_features(X)
            fit(X, y, **fit_params)
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            raise
        finally:
            vars(self).pop("_in_fit_", None)
        return self

    def _check_warm_features(self, X: Any) -> None:
        """A warm start continues the fitted network: X must have its number of features."""
        n_features = _n_features(X)
        if self.initialized_ and n_features is not None:
            fitted = getattr(self, "n_features_in_", None)
            if self.warm_start and fitted is not None and n_features != fitted:
                raise ValueError(f"X has {n_features} features, but the network was fitted "
                                 f"with {fitted}; warm_start=True continues that network "
                                 "(set warm_start=False to fit a new one).")
        if n_features is not None:
            self.n_features_in_ = n_features

    def get_dataset(self, X: Any, y: Any = None) -> Any:
        return super().get_dataset(_as_array(X), _as_array(y))

    def get_iterator(self, dataset: Any, training: bool = False) -> Any:
        """skorch's iterator, except that a ``DataLoader`` over plain numpy/tensor X and y
        takes each batch by one indexing of X and of y (``skdropout.nn._batches``: the
        same batches in the same order as sample by sample, without a call per sample).

        Parameters
        ----------
        dataset : torch.utils.data.Dataset
            The data to iterate over (skorch's ``Dataset``, or a ``Subset`` of it after a
            validation split).
        training : bool, default=False
            Whether to use the ``iterator_train`` options (else ``iterator_valid``).

        Returns
        -------
        torch.utils.data.DataLoader or iterable
            The mini-batches ``(X, y)``.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        rows = batch_rows(dataset, getattr(self, prefix), kwargs)
        if rows is None:
            return super().get_iterator(dataset, training=training)
        return DataLoader(rows, collate_fn=as_batch, **kwargs)

    def set_params(self, **kwargs: Any) -> Any:
        """skorch's ``set_params``; ``method`` and ``method__*`` on an initialised net
        install the method anew (a new module, criterion and optimiser, and the new
        method's training rules), as skorch does for ``module__*`` parameters. They are set
        first, so that ``callbacks__<rule>__*`` of the new method's rules can follow in the
        same call.

        Parameters
        ----------
        **kwargs
            Parameters by name, as for skorch.

        Returns
        -------
        self
            The estimator.
        """
        method_params = {k: kwargs.pop(k) for k in list(kwargs)
                         if k == "method" or k.startswith("method__")}
        if method_params:
            old = {k: vars(self)[k] for k in method_params if k in vars(self)}
            vars(self).update(method_params)
            if self.initialized_:
                try:
                    self._check_setup()
                except Exception:
                    for k in method_params:
                        vars(self).pop(k, None)
                    vars(self).update(old)
                    raise
                if "method" in method_params:
                    self.initialize_callbacks()
                reason = f"Re-initializing module because the following parameters were " \
                         f"re-set: {', '.join(sorted(method_params))}."
                self._initialize_module(reason=reason)
                self._initialize_criterion(reason="Re-initializing criterion.")
                self._initialize_optimizer(reason="Re-initializing optimizer.")
        return super().set_params(**kwargs) if kwargs else self

    # -- training ------------------------------------------------------------------------
    def infer(self, x: Any, **fit_params: Any) -> Any:
        x = to_tensor(x, device=self.device)
        if isinstance(x, torch.Tensor) and (x.is_floating_point() or (
                self.integer_input_as_float_ and not x.is_complex())):
            # float64 input, or integer input to a module without embeddings (which take
            # integer indices): the module's parameters' dtype
            dtype = self.sparse_layers()[0].weight.dtype
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
        if training and not getattr(self, "output_checked_", False):
            self._check_output(y_pred, y_true)
            self.output_checked_ = True
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training:
            for layer in self._loss_layers():
                loss = loss + layer.regularizer()
        return loss

    def _loss_layers(self) -> list[SparseLayer]:
        """The layers whose :meth:`~SparseLayer.regularizer` adds to the training loss, in
        order (during a fit: found at its start)."""
        held = vars(self).get("_training_layers")
        if held is not None and held[0] is self.module_:
            return held[2]
        return [layer for layer in self.sparse_layers() if layer.adds_loss_term]

    def _check_output(self, y_pred: Any, y_true: Any) -> None:
        """Checks of the first training batch of a fit (subclasses add theirs)."""

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        vars(self).pop("_training_layers", None)
        super().on_train_end(net, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_training_layers", None)  # a checkpoint mid-fit holds no fit's cache
        return state

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        self.output_checked_ = False
        # the layers, found once per fit: the forward pass, the loss and the training
        # rules ask for them at every step
        vars(self).pop("_training_layers", None)
        layers = self.sparse_layers()
        self._training_layers = (self.module_, layers,
                                 [layer for layer in layers if layer.adds_loss_term])
        self._sync_keep_min()
        self._set_log_lr(X, y)  # before the callbacks (the lr decay reads it)
        super().on_train_begin(net, X=X, y=y, **kwargs)

    # -- the pruned model -----------------------------------------------------------------
    def _sync_keep_min(self) -> None:
        """Give the layers the estimator's ``keep_min`` (checked), so that a value set
        after fitting (``set_params`` or the attribute) is the one every use of the
        pruned network reads."""
        keep_min = check_keep_min(type(self).__name__, self.keep_min)
        for layer in self.sparse_layers():
            layer.keep_min = keep_min

    def forward_iter(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        self._sync_keep_min()
        return super().forward_iter(X, *args, **kwargs)

    def sparse_layers(self) -> list[SparseLayer]:
        """The method's layers inside ``module_``, in order (that of ``modules()``).

        Returns
        -------
        list of SparseLayer
            The layers that :func:`install_method` put in place of Linear/Conv2d layers.
        """
        held = vars(self).get("_training_layers")
        if held is not None and held[0] is self.module_:  # during a fit: found at its start
            return list(held[1])
        found: list[SparseLayer] = []
        _collect_sparse(self.module_, found, set())
        return found

    def _densities(self) -> tuple[float, dict[str, float]]:
        """``density_`` and ``layer_density_`` from one pass over the layers' masks (what
        the sparsity record of every epoch reads).

        Returns
        -------
        density : float
            Fraction of kept weights over all Linear/Conv2d layers (biases excluded).
        layer_density : dict
            The same per layer, by the layer's name in ``module_``.
        """
        self.check_is_fitted()
        counts = self._layer_counts()
        return (sum(k for k, _ in counts.values()) / sum(t for _, t in counts.values()),
                {name: kept / total for name, (kept, total) in counts.items()})

    def _layer_counts(self) -> dict[str, tuple[int, int]]:
        self._sync_keep_min()
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
        return self._densities()[1]

    @property
    def density_(self) -> float:
        """Fraction of kept weights over all Linear/Conv2d layers (biases excluded): a
        weight is kept when its keep probability is at least ``keep_min`` (0.05)."""
        return self._densities()[0]

    @torch.no_grad()
    def sparsify(self) -> Any:
        """Write the zeros of the pruning rule into the weights (in place).

        Returns
        -------
        self
            The estimator, whose pruned weights are now stored as zeros.
        """
        self.check_is_fitted()
        self._sync_keep_min()
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
        self._sync_keep_min()
        return compact_module(self.module_)


def _sparse_net_init(base: type, default_criterion: type) -> Any:
    """The estimators' ``__init__`` on top of the skorch class ``base``; the two differ only
    in the default criterion (sklearn reads parameters and defaults off the signature)."""

    def __init__(self, module: Any, *args: Any, method: str = "logsum",
                 lam: float | None = None, penalty: str | Penalty = "logsum",
                 penalty_params: dict[str, Any] | None = None, random_state: int | None = None,
                 log_lr: float | None = None, keep_min: float = KEEP_MIN,
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
        self.log_lr = log_lr
        self.keep_min = keep_min

    return __init__


class SparseNetClassifier(_SparseNetMixin, NeuralNetClassifier):
    __doc__ = ("""A skorch classifier that trains a sparse network (section 5 of the paper).

    The module must return logits (the loss is ``nn.CrossEntropyLoss``). Every epoch the
    history records ``density``, ``layer_density`` and, with a validation split,
    ``valid_error`` of the pruned model (the one ``predict`` uses). Read more in the
    :ref:`User Guide <deep-networks>`.
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
    n_features_in_ : int
        Number of features of X (2-d input) in the last fit.
    classes_ : ndarray
        The class labels (``classes`` or those of y in the first fit); y is encoded as
        indices into it, as scikit-learn's ``LabelEncoder`` does, and ``predict`` returns
        labels of it. A failed fit leaves the estimator as it was before.

    See Also
    --------
    SparseNetRegressor : The same for regression.
    METHODS : The ``method=`` names.
    LeNet300100, LeNet5 : The networks of the paper's experiments.
    skorch.classifier.NeuralNetClassifier : The skorch class it extends.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 5 and Table 4.
       https://arxiv.org/abs/2106.07769

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

    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        # valid_acc compares the encoded labels the datasets hold with the argmax
        return [(name, EpochScoring(_encoded_accuracy, name="valid_acc",
                                    lower_is_better=False) if name == "valid_acc" else cb)
                for name, cb in super()._default_callbacks]

    def initialize(self) -> Any:
        vars(self).pop("classes_inferred_", None)  # a new fit learns its classes anew
        return super().initialize()

    def check_data(self, X: Any, y: Any) -> None:
        """skorch's checks; the classes are those of the first fit, or ``classes``.

        Parameters
        ----------
        X : array-like, torch.Tensor or skorch Dataset
            Inputs.
        y : array-like or None
            Class labels.
        """
        if y is None or self.classes is not None or "classes_inferred_" not in vars(self):
            super().check_data(X, y)

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        return super().get_split_datasets(X, self._encode(y), **fit_params)

    def _encode(self, y: Any) -> Any:
        """y as indices into ``classes_`` (as scikit-learn's LabelEncoder); labels that are
        not in ``classes_`` raise."""
        if y is None:
            return None
        y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-d class labels, got shape {y.shape}.")
        classes = self.classes_
        idx = np.searchsorted(classes, y)
        unknown = (idx >= len(classes)) | (classes[np.minimum(idx, len(classes) - 1)] != y)
        if unknown.any():
            raise ValueError(f"y has labels {np.unique(y[unknown])[:5].tolist()} not in "
                             f"classes_ {classes[:10].tolist()}: partial_fit continues the "
                             "classes of the first fit (pass classes=... to name them all).")
        return idx.astype(np.int64)

    def _check_output(self, y_pred: Any, y_true: Any) -> None:
        try:
            n_classes = len(self.classes_)
        except AttributeError:  # trained on a Dataset without y
            n_classes = 1
        if y_pred.dim() < 2 or y_pred.shape[1] < n_classes:
            raise ValueError(f"y has {n_classes} classes but the module returns outputs of "
                             f"shape {tuple(y_pred.shape)}: it needs one logit per class "
                             f"({n_classes} columns).")
        with torch.no_grad():
            if isinstance(self.criterion_, nn.CrossEntropyLoss) and y_pred.dim() == 2 and \
                    y_pred.shape[1] > 1 and \
                    bool(((y_pred >= 0) & (y_pred <= 1)).all()) and \
                    bool(torch.allclose(y_pred.sum(1), y_pred.new_ones(()), atol=1e-4)):
                warnings.warn("The module's outputs are probabilities (in [0, 1], summing to "
                              "1 per row), but the loss is nn.CrossEntropyLoss, which takes "
                              "logits: remove the final softmax from the module.",
                              UserWarning, stacklevel=2)

    def predict(self, X: Any) -> np.ndarray:
        """The class of largest probability, as a label of ``classes_``.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Inputs the module takes.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels of ``classes_`` (class indices when the fit had no y).
        """
        idx = super().predict(X)
        try:
            classes = self.classes_
        except AttributeError:  # trained on a Dataset without y: indices
            return idx
        return classes[idx]


class SparseNetRegressor(_SparseNetMixin, NeuralNetRegressor):
    __doc__ = ("""A skorch regressor that trains a sparse network (``nn.MSELoss``).

    Read more in the :ref:`User Guide <deep-networks>`.
""" + _PARAMS_DOC + """
    Attributes
    ----------
    module_, density_, layer_density_, n_train_, n_features_in_
        As for :class:`SparseNetClassifier`. Integer y is regressed as float32; y must
        have the module's output shape per sample (a 1-d y goes with one output).

    See Also
    --------
    SparseNetClassifier : The same for classification.
    METHODS : The ``method=`` names.
    skorch.regressor.NeuralNetRegressor : The skorch class it extends.

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

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        if isinstance(y, (np.ndarray, torch.Tensor)) and not _is_float(y):
            # integer or boolean targets regress as float32 (the loss needs floats)
            y = y.astype(np.float32) if isinstance(y, np.ndarray) else y.float()
        return super().get_split_datasets(X, y, **fit_params)

    def _check_output(self, y_pred: Any, y_true: Any) -> None:
        if isinstance(self.criterion_, nn.MSELoss) and y_pred.shape != y_true.shape:
            raise ValueError(f"y has shape {tuple(y_true.shape[1:])} per sample but the module "
                             f"returns {tuple(y_pred.shape[1:])}: they must match (a 1-d y "
                             "goes with one output).")


def _is_float(y: Any) -> bool:
    return y.is_floating_point() if isinstance(y, torch.Tensor) else y.dtype.kind == "f"


def _encoded_accuracy(net: Any, X: Any, y: Any) -> float:
    """Accuracy of the argmax against labels encoded as indices into ``classes_``."""
    pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(pred == np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)))


__all__ = ["METHODS", "SparseNetClassifier", "SparseNetRegressor"]
