"""Every sparsifier of skdropout.nn trains on the digits data to >= 90 % test accuracy with
a density below 1, reproducibly; the evaluated network is the pruned one."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skdropout.nn import (KEEP_MIN, METHODS, LeNet300100, LinearLRDecay,  # noqa: E402
                          SparseNetClassifier)

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
    "magnitude": {"method__target_density": 0.3},
    "standout": {"method__alpha": 3.0, "method__beta": -1.0},
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def make_net(method, **kw):
    params = dict(module__in_features=64, module__hidden=(64, 32), method=method,
                  max_epochs=12, batch_size=16, lr=1e-2, random_state=0, verbose=0,
                  callbacks=[LinearLRDecay()])
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
