"""The default settings sparsify a user's own network (issue 19, part 3): with default
options and default lam, a Linear(64, 128)-ReLU-Linear(128, 10) module on scikit-learn's
digits (train_test_split(test_size=0.3, random_state=0): 1,257 training images),
max_epochs=40, lr=3e-3, random_state=0 reaches >= 90 % test accuracy with density < 0.9 for
every method (standout, which drops activations rather than weights, is excepted from the
density bar). benchmarks/nn_defaults.py prints the same figures and runs the MNIST check."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torch import nn  # noqa: E402

from skdropout.nn import METHODS, SparseNetClassifier  # noqa: E402


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16.0).astype(np.float32), y, test_size=0.3, random_state=0)


@pytest.mark.parametrize("method", list(METHODS))
def test_defaults_prune_a_users_network_and_keep_it_accurate(digits_split, method):
    X_tr, X_te, y_tr, y_te = digits_split
    assert len(X_tr) == 1257
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    net = SparseNetClassifier(module, method=method, max_epochs=40, lr=3e-3, random_state=0,
                              verbose=0).fit(X_tr, y_tr)
    accuracy = float(np.mean(net.predict(X_te) == y_te))
    assert accuracy >= 0.90, (method, accuracy, net.density_)
    if method != "standout":
        assert net.density_ < 0.9, (method, accuracy, net.density_)


@pytest.mark.parametrize("log_lr", [None, 0.5])
def test_log_scale_parameters_get_their_own_learning_rate(digits_split, log_lr):
    X_tr, _, y_tr, _ = digits_split
    net = SparseNetClassifier(nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)),
                              method="vardrop_lr", max_epochs=2, batch_size=100, lr=1e-3,
                              log_lr=log_lr, callbacks__lr_decay=None, random_state=0,
                              verbose=0).fit(X_tr, y_tr)
    weights, logs = net.optimizer_.param_groups
    assert weights["lr"] == 1e-3
    # None: 40 / T with T = 2 epochs x ceil(1257 / 100) batches
    assert logs["lr"] == pytest.approx(40 / (2 * 13) if log_lr is None else log_lr)
    assert {id(p) for p in logs["params"]} == {id(layer.log_alpha_)
                                                for layer in net.sparse_layers()}
