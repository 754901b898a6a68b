"""Every sparsifier of skdropout.nn trains on the digits data to >= 90 % test accuracy with
a density below 1, reproducibly; the evaluated network is the pruned one. Off the CPU: the
torch route that CUDA takes, on the meta device and trained on the CPU, and (where a GPU is)
every method trained with device='cuda' and unpickled without CUDA."""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from skorch.exceptions import DeviceWarning  # noqa: E402

from skdropout.nn import (KEEP_MIN, METHODS, LeNet5, LeNet300100, LinearLRDecay,  # noqa: E402
                          SparseNetClassifier, install_method)
from skdropout.nn import VarDropLayer  # noqa: E402
from torch import nn  # noqa: E402
from skdropout.nn._methods import method_options  # noqa: E402
from skdropout.penalties import get_penalty  # noqa: E402

# Digits has 1,347 training rows: each run has only ~1,000 optimiser steps, so the methods
# whose keep parameter starts far from the threshold (log alpha = -5 or log eta_bar = 5 in
# the paper) start nearer it here and get a larger learning rate for that parameter.
FAST = {
    "vardrop_lr_ar": {"lam": 1e-4},
    "vardrop_lr": {"method__init_log_alpha": -2.0,
                   "optimizer__param_groups": [("*log_alpha_", {"lr": 0.05})]},
    "vardrop": {"method__init_log_alpha": -2.0, "lam": 1e-4,
                "optimizer__param_groups": [("*log_alpha_", {"lr": 0.05})]},
    "eta_trick": {"method__init_log_eta": 3.0,
                  "optimizer__param_groups": [("*log_eta_bar", {"lr": 0.05})]},
    "adaprox": {},
    "adatikhonov": {},
    "logsum": {},
    "hardconcrete": {"lam": 1e-3},
    "magnitude": {"callbacks__pruning__target_density": 0.3},
    "standout": {"method__alpha": 3.0, "method__beta": -1.0},
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def make_net(method, **kw):
    params = dict(module__in_features=64, module__hidden=(64, 32), method=method,
                  max_epochs=12, batch_size=16, lr=1e-2, random_state=0, verbose=0)
    params.update(FAST[method])
    params.update(kw)
    return SparseNetClassifier(LeNet300100, **params)


def test_fast_settings_cover_every_method():
    assert set(FAST) == set(METHODS)


@pytest.mark.parametrize("method", list(METHODS))
def test_method_trains_sparse_and_accurate(digits, method):
    X_tr, X_te, y_tr, y_te = digits
    net = make_net(method).fit(X_tr, y_tr)
    acc = float(np.mean(net.predict(X_te) == y_te))
    assert acc >= 0.90, (method, acc)
    assert 0 < net.density_ < 1, (method, net.density_)
    # density is recorded every epoch, and the last record is the fitted value
    assert len(net.history) == 12
    assert net.history[-1, "density"] == pytest.approx(net.density_)

    # the evaluated network is the pruned one: predictions equal those of a plain forward
    # pass with the pruned weights written in, and they are exactly zero where pruned
    layers = net.sparse_layers()
    masks = [layer.mask().clone() for layer in layers]
    for layer, mask in zip(layers, masks):
        assert torch.all(layer.pruned_weight()[~mask] == 0)
        kept = (layer.keep_prob() >= KEEP_MIN)
        if method not in ("hardconcrete",):  # hardconcrete also prunes closed gates
            assert torch.equal(kept, mask)
    proba = net.predict_proba(X_te)
    compact = net.compact()
    with torch.no_grad():
        logits = compact(torch.as_tensor(X_te)).numpy()
    np.testing.assert_allclose(torch.softmax(torch.as_tensor(logits), 1).numpy(), proba,
                               atol=1e-5)
    net.sparsify()
    for layer, mask in zip(layers, masks):
        assert torch.all(layer.weight[~mask] == 0)
    np.testing.assert_allclose(net.predict_proba(X_te), proba, atol=1e-6)

    # reproducible with a fixed random_state (one epoch is enough to show it)
    a = make_net(method, max_epochs=1).fit(X_tr[:320], y_tr[:320]).predict_proba(X_te)
    b = make_net(method, max_epochs=1).fit(X_tr[:320], y_tr[:320]).predict_proba(X_te)
    np.testing.assert_array_equal(a, b)


# -- off the CPU ------------------------------------------------------
@pytest.mark.parametrize("model", ["mlp", "conv"])
@pytest.mark.parametrize("method", list(METHODS))
def test_method_runs_on_a_device_other_than_the_cpu(method, model):
    """Every method's layers, loss terms, optimiser step and per-step rule on 'meta', a
    device without data on which, as on CUDA, mixing in a tensor of another device raises:
    this is the route every term takes on CUDA."""
    spec = METHODS[method]
    opts = method_options(spec, {})
    torch.manual_seed(0)
    net = LeNet300100(in_features=64, hidden=(16, 8)) if model == "mlp" else LeNet5()
    layers = install_method(net, spec, 1e-3, get_penalty("logsum", eps=2.0), opts)
    net = net.to("meta")
    x = torch.empty((4, 64) if model == "mlp" else (4, 1, 28, 28), device="meta")
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    # the method's training rules (a KL warm-up on; no pruning step, which counts the kept
    # weights, a number a meta tensor does not have)
    settings = {"kl_warmup": {"epochs": 1.0}, "pruning": {"every": 10**9}}
    rules = []
    for name, cb in spec.make_callbacks():
        cb.set_params(**settings.get(name, {}))
        rules.append(cb.initialize())
    fake = SimpleNamespace(optimizer_=optimizer, sparse_layers=lambda: layers, n_train_=64,
                           batch_size=16, max_epochs=1)
    for rule in rules:
        rule.on_train_begin(fake)
        rule.on_epoch_begin(fake)
    for _ in range(2):  # the second step meets Adam's state and the held loss terms
        for rule in rules:
            rule.on_batch_begin(fake, training=True)
        out = net.train()(x)
        loss = torch.logsumexp(out, 1).sum() + sum(layer.regularizer() for layer in layers)
        assert out.device.type == "meta" and loss.device.type == "meta"
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is not None and p.grad.device.type == "meta"
                   for layer in layers for p in layer.parameters() if p.requires_grad)
        optimizer.step()
        for rule in rules:  # adaprox: the prox step
            rule.on_batch_end(fake, training=True)
    for layer in layers:
        assert layer.mask().device.type == "meta"
        assert layer.pruned_weight().device.type == "meta"
        assert next(layer.to_dense().parameters()).device.type == "meta"
        if method != "hardconcrete":  # its alpha~ is computed in numpy (CPU round trip)
            assert layer.keep_prob().device.type == "meta"
    assert net.eval()(x).device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", list(METHODS))
def test_method_trains_on_cuda_and_loads_on_a_cpu(digits, method, monkeypatch):
    """device='cuda' trains every method on the GPU to the accuracy and sparsity of the CPU
    runs; the pickled net loads on a machine without CUDA with the same predictions."""
    X_tr, X_te, y_tr, y_te = digits
    net = make_net(method, device="cuda").fit(X_tr, y_tr)
    assert all(p.is_cuda for p in net.module_.parameters())
    acc = float(np.mean(net.predict(X_te) == y_te))
    assert acc >= 0.90, (method, acc)
    assert 0 < net.density_ < 1, (method, net.density_)
    for layer in net.sparse_layers():
        assert torch.all(layer.pruned_weight()[~layer.mask()] == 0)
    proba = net.predict_proba(X_te)
    with torch.no_grad():
        logits = net.compact()(torch.as_tensor(X_te, device="cuda")).cpu()
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), proba, atol=1e-5)

    assert_loads_on_a_cpu(net, X_te, monkeypatch)


def assert_loads_on_a_cpu(net, X, monkeypatch):
    """``net`` pickled as a net of device 'cuda' loads where CUDA is absent: on the CPU, with
    a warning, the same predictions and the same density."""
    proba, density = net.predict_proba(X), net.density_
    net.device = "cuda"
    blob = pickle.dumps(net)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="(?i)cuda"):
        on_cpu = pickle.loads(blob)
    assert torch.device(on_cpu.device).type == "cpu"
    assert all(p.device.type == "cpu" for p in on_cpu.module_.parameters())
    np.testing.assert_allclose(on_cpu.predict_proba(X), proba, atol=1e-5)
    assert on_cpu.density_ == density


def test_a_net_saved_for_cuda_loads_on_a_cpu(digits, monkeypatch):
    """The CPU half of the test above, where no GPU is: a net whose device is 'cuda' (its
    tensors are on the CPU here) unpickles through skorch's fallback with its method state."""
    X_tr, X_te, y_tr, _ = digits
    net = make_net("hardconcrete", max_epochs=1).fit(X_tr[:320], y_tr[:320])
    assert_loads_on_a_cpu(net, X_te, monkeypatch)


# --- the variational layers' initialisation options (the authors' Table 4 code) -----------

@pytest.mark.parametrize("mode", ["lr_ar", "lr", "plain"])
def test_vardrop_weight_init_option_draws_small_gaussian_weights_and_zero_bias(mode):
    torch.manual_seed(0)
    base = nn.Linear(784, 300)
    layer = VarDropLayer(base, lam=1 / 60000, mode=mode, init_weight_std=0.02)
    w = layer.weight.detach().numpy()
    assert abs(w.std() - 0.02) < 0.0005 and abs(w.mean()) < 0.0005  # 235,200 draws
    assert not torch.equal(layer.weight, base.weight)
    assert torch.count_nonzero(layer.bias) == 0
    expected_la = -5.0 if mode != "lr_ar" else None
    if expected_la is not None:
        assert torch.all(layer.log_alpha_ == expected_la)


def test_vardrop_init_log_sigma2_sets_the_additive_variance_parameter():
    torch.manual_seed(0)
    layer = VarDropLayer(nn.Linear(50, 20), lam=1.0, mode="lr_ar", init_weight_std=0.02,
                         init_log_sigma2=-10.0)
    assert torch.all(layer.log_sigma2 == -10.0)
    w = layer.weight.detach().double()
    expected = torch.clamp(-10.0 - torch.log(w ** 2 + 1e-16), -10, 10)  # log sigma = -5
    torch.testing.assert_close(layer.log_alpha().double(), expected, rtol=1e-5, atol=1e-4)
    default = VarDropLayer(nn.Linear(50, 20), lam=1.0, mode="lr_ar")
    torch.testing.assert_close(default.log_alpha(), torch.full((20, 50), -5.0), atol=1e-4,
                               rtol=0)


@pytest.mark.parametrize("kwargs,match", [
    ({"mode": "lr", "init_log_sigma2": -10.0}, "init_log_sigma2 is an option of mode 'lr_ar'"),
    ({"init_weight_std": 0.0}, "init_weight_std must be a finite number > 0"),
    ({"init_weight_std": float("nan")}, "init_weight_std must be"),
    ({"init_log_sigma2": "a"}, "init_log_sigma2 must be a finite number")])
def test_vardrop_init_options_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VarDropLayer(nn.Linear(3, 2), lam=1.0, **kwargs)


def test_vardrop_init_options_through_the_estimator():
    X, y = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32), np.arange(40) % 3
    net = SparseNetClassifier(LeNet300100, module__in_features=6, module__hidden=(5,),
                              module__n_classes=3, method="vardrop_lr_ar",
                              method__init_weight_std=0.02, method__init_log_sigma2=-10.0,
                              max_epochs=0, random_state=0, verbose=0).initialize()
    assert all(torch.all(layer.log_sigma2 == -10.0) for layer in net.sparse_layers())
    with pytest.raises(ValueError, match="method__init_log_sigma2"):
        SparseNetClassifier(LeNet300100, module__in_features=6, method="vardrop_lr",
                            method__init_log_sigma2=-10.0).fit(X, y)


def test_linear_lr_decay_per_epoch():
    from skorch.callbacks import Callback

    class BatchLR(Callback):
        def initialize(self):
            self.lrs_ = []
            return self

        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                self.lrs_.append(net.optimizer_.param_groups[0]["lr"])

    X, y = np.ones((8, 3), dtype=np.float32), np.arange(8) % 2
    seen = BatchLR()
    SparseNetClassifier(LeNet300100, module__in_features=3, module__hidden=(2,),
                        module__n_classes=2, batch_size=2, max_epochs=4, lr=0.1,
                        train_split=None, verbose=0,
                        callbacks__lr_decay=LinearLRDecay(step_every="epoch"),
                        callbacks=[("seen", seen)]).fit(X, y)
    # epoch e (from 0) runs all its 4 batches at lr (1 - e / 4)
    expected = [0.1 * (1 - e / 4) for e in range(4) for _ in range(4)]
    np.testing.assert_allclose(seen.lrs_, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="step_every must be 'batch' or 'epoch'"):
        SparseNetClassifier(LeNet300100, module__in_features=3, max_epochs=1,
                            callbacks__lr_decay=LinearLRDecay(step_every="step")).fit(X, y)


def test_linear_lr_decay_with_hold_is_sparse_vd_schedule():
    """hold=0.5 over 8 epochs is Molchanov et al.'s ``lr min(1, 2 - e / (T/2))``: constant for
    the first half, then linear to 0; a bad hold is refused."""
    X, y = np.ones((8, 3), dtype=np.float32), np.arange(8) % 2
    net = SparseNetClassifier(LeNet300100, module__in_features=3, module__hidden=(2,),
                              module__n_classes=2, batch_size=2, max_epochs=8, lr=0.1,
                              train_split=None, verbose=0,
                              callbacks__lr_decay=LinearLRDecay(step_every="epoch", hold=0.5)
                              ).fit(X, y)
    lrs = net.history[:, "event_lr"]  # the rate each epoch ran at
    expected = [0.1 * max(0.0, min(1.0, 2 - e / 4)) for e in range(8)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert lrs[:5] == [0.1] * 5 and lrs[-1] == pytest.approx(0.025)
    for hold in (1.0, -0.1, "half"):
        with pytest.raises(ValueError, match="hold must be a number in"):
            SparseNetClassifier(LeNet300100, module__in_features=3, max_epochs=1, verbose=0,
                                callbacks__lr_decay=LinearLRDecay(hold=hold)).fit(X, y)
