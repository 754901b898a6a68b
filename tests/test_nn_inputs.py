"""SparseNet estimators and their input (issue 18, parts 4 and 5): a failed fit leaves the
estimator unfitted or unchanged; labels, dtypes, pandas input, targets and devices are
converted or refused with a message naming the problem; the lpp penalty's torch gradient
is finite at 0; a module returning probabilities is warned about."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")
pd = pytest.importorskip("pandas")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from torch import nn  # noqa: E402

from skdropout.nn import LeNet300100, SparseNetClassifier, SparseNetRegressor  # noqa: E402
from skdropout.penalties import get_penalty  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16.0).astype(np.float32), y[:600]


def small(method="logsum", **kw):
    params = dict(module__in_features=64, module__hidden=(32,), method=method,
                  max_epochs=8, batch_size=64, lr=1e-2, random_state=0, verbose=0)
    params.update(kw)
    return SparseNetClassifier(LeNet300100, **params)


def _state(net):
    return {k: v.clone() for k, v in net.module_.state_dict().items()}


# -- a failed fit leaves the estimator unfitted or unchanged -------------------------------
@pytest.mark.parametrize("bad", ["features", "out_of_range"])
def test_failed_refit_leaves_the_fitted_net_unchanged(digits, bad):
    X, y = digits
    net = small().fit(X, y)
    before, pred = _state(net), net.predict(X)
    if bad == "features":
        X_bad, y_bad = X[:, :32], y
    else:
        X_bad, y_bad = X, np.where(np.arange(len(y)) == 0, 10, y)  # 11 classes, 10 outputs
    with pytest.raises(Exception):
        net.fit(X_bad, y_bad)
    after = _state(net)
    assert all(torch.equal(before[k], after[k]) for k in before)
    np.testing.assert_array_equal(net.predict(X), pred)
    assert len(net.history) == 8


def test_failed_first_fit_leaves_the_net_unfitted(digits):
    X, y = digits
    net = small()
    with pytest.raises(Exception):
        net.fit(X[:, :32], y)
    with pytest.raises(NotFittedError):
        net.predict(X)


def test_labels_out_of_range_name_the_problem(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"11 classes.*shape \(64, 10\)"):
        small().fit(X, np.where(np.arange(len(y)) == 0, 0, y + 1))  # 0..10: 11 classes


# -- labels ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["strings", "one_based"])
def test_string_and_one_based_labels_train_and_predict_the_labels(digits, kind):
    X, y = digits
    labels = np.array([f"digit{d}" for d in y]) if kind == "strings" else y + 1
    net = small().fit(X, labels)
    ref = small().fit(X, y)
    np.testing.assert_array_equal(net.classes_, np.unique(labels))
    pred = net.predict(X)
    assert pred.dtype == labels.dtype
    # the same network as with labels 0..9: the labels are only renamed
    np.testing.assert_array_equal(pred, np.unique(labels)[ref.predict(X)])
    assert np.mean(pred == labels) > 0.85


def test_validation_accuracy_with_string_labels(digits):
    from skorch.dataset import ValidSplit

    X, y = digits
    labels = np.array([f"digit{d}" for d in y])
    net = small(train_split=ValidSplit(5, stratified=True)).fit(X, labels)
    assert net.history[-1, "valid_acc"] > 0.8
    assert net.history[-1, "valid_error"] == pytest.approx(1 - net.history[-1, "valid_acc"])


def test_partial_fit_refuses_labels_unseen_in_the_first_fit(digits):
    X, y = digits
    net = small().fit(X[y < 9], y[y < 9])
    state = _state(net)
    with pytest.raises(ValueError, match=r"labels \[9\] not in classes_"):
        net.partial_fit(X, y)
    assert all(torch.equal(state[k], v) for k, v in _state(net).items())


# -- X and y types ---------------------------------------------------------------------------
def test_integer_and_pandas_X_are_read_as_float_arrays(digits):
    X, y = digits
    ref = small().fit(X, y).predict_proba(X)
    X_int = (X * 16).round().astype(np.int64)  # the digits' own integer pixels
    scaled = small().fit(X_int / 16.0, y).predict_proba(X)
    np.testing.assert_allclose(scaled, ref, atol=1e-6)
    net = small().fit(X_int, y)
    assert net.predict(X_int).shape == y.shape
    frame = pd.DataFrame(X)  # integer column names
    net = small().fit(frame, pd.Series(y))
    np.testing.assert_allclose(net.predict_proba(frame), ref, atol=1e-6)


class _Bag(nn.Module):
    """Token ids -> mean embedding -> logits: its input stays integer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.EmbeddingBag(20, 8)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.emb(x))


def test_integer_input_to_a_module_with_embeddings_stays_integer():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 20, size=(200, 1))
    y = (X[:, 0] < 10).astype(np.int64)
    net = SparseNetClassifier(_Bag, max_epochs=30, lr=3e-2, random_state=0, verbose=0)
    assert net.fit(X, y).score(X, y) > 0.9


def test_nan_in_a_tensor_X_is_refused(digits):
    X, y = digits
    Xt = torch.as_tensor(X).clone()
    Xt[3, 5] = float("nan")
    net = small()
    with pytest.raises(ValueError, match="X contains NaN"):
        net.fit(Xt, torch.as_tensor(y))
    with pytest.raises(NotFittedError):
        net.predict(X)


def test_regressor_integer_1d_y_trains_as_float():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y_float = np.round(3 * X[:, 0] - 2 * X[:, 1]).astype(np.float32)
    kw = dict(module__in_features=5, module__hidden=(16,), module__n_classes=1,
              max_epochs=40, lr=1e-2, random_state=0, verbose=0)
    pred_int = SparseNetRegressor(LeNet300100, **kw).fit(X, y_float.astype(np.int64)).predict(X)
    pred_float = SparseNetRegressor(LeNet300100, **kw).fit(X, y_float).predict(X)
    np.testing.assert_allclose(pred_int, pred_float, atol=1e-5)
    r2 = 1 - np.mean((pred_int[:, 0] - y_float) ** 2) / np.var(y_float)
    assert r2 > 0.9


def test_regressor_refuses_y_of_another_shape_than_the_output():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    net = SparseNetRegressor(LeNet300100, module__in_features=5, module__hidden=(8,),
                             module__n_classes=1, max_epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"y has shape \(2,\) per sample.*returns \(1,\)"):
        net.fit(X, X[:, :2])


# -- devices, parameters, warm starts ----------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_device(digits):
    X, y = digits
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        small(device="cuda").fit(X, y)


def test_set_params_method_on_a_fitted_net_installs_the_new_method(digits):
    X, y = digits
    net = small().fit(X, y)
    net.set_params(method="magnitude", callbacks__pruning__target_density=0.5)
    assert net.method == "magnitude"
    assert type(net.sparse_layers()[0]).__name__ == "MagnitudeLayer"
    net.fit(X, y)
    assert net.density_ == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="Unknown method"):
        net.set_params(method="nope")
    assert net.method == "magnitude"


def test_warm_start_with_another_number_of_features_keeps_the_model(digits):
    X, y = digits
    net = small(warm_start=True).fit(X, y)
    state = _state(net)
    with pytest.raises(ValueError, match="X has 32 features, but the network was fitted "
                                         "with 64"):
        net.fit(X[:, :32], y)
    assert all(torch.equal(state[k], v) for k, v in _state(net).items())
    assert net.predict(X).shape == y.shape


# -- the module's output and the penalties' gradients ------------------------------------------
def test_a_module_returning_probabilities_is_warned_about(digits):
    X, y = digits
    torch.manual_seed(0)
    probs = nn.Sequential(nn.Linear(64, 10), nn.Softmax(dim=1))
    with pytest.warns(UserWarning, match="outputs are probabilities"):
        SparseNetClassifier(probs, max_epochs=1, verbose=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(max_epochs=1).fit(X, y)


@pytest.mark.parametrize("p", [0.5, 1.5])
def test_lpp_gradient_at_zero_is_finite(p):
    pen = get_penalty("lpp", p=p)
    w = torch.tensor([0.0, 0.25, -2.0], dtype=torch.float64, requires_grad=True)
    pen.value(w).backward()
    # d/dw |w|^p / p = sign(w) |w|^(p-1); 0 at w = 0 (the minimum-norm subgradient)
    expected = torch.sign(w.detach()) * w.detach().abs() ** (p - 1)
    expected[0] = 0.0
    torch.testing.assert_close(w.grad, expected)


def test_lpp_partial_fit_after_sparsify_keeps_finite_weights(digits):
    X, y = digits
    net = small(penalty="lpp", penalty_params={"p": 0.5}, lam=1e-2).fit(X, y)
    net.sparsify()
    assert any(bool((layer.weight == 0).any()) for layer in net.sparse_layers())
    net.partial_fit(X, y)
    assert all(bool(torch.isfinite(layer.weight).all()) for layer in net.sparse_layers())


def test_default_lam_is_one_over_n_also_inside_a_penalty_shaped_by_lam(digits):
    # MCP's shape depends on lam: with the default lam = 1/N its lam is 1/N too
    X, y = digits
    net = small(method="logsum", penalty="mcp", penalty_params={"a": 3.0}, max_epochs=1)
    net.fit(X, y)
    for layer in net.sparse_layers():
        assert layer.lam == pytest.approx(1 / len(X))
        assert layer.penalty.lam == pytest.approx(1 / len(X))
