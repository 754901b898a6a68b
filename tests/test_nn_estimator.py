"""skdropout.nn: the formulas against independent computations, the estimator API
(GridSearchCV, clone, pickle, validation record, compact) and bad input."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from skorch.callbacks import Callback  # noqa: E402
from skorch.dataset import Dataset  # noqa: E402
from skorch.helper import predefined_split  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from torch import nn  # noqa: E402

from skdropout.nn import (LeNet5, LeNet300100, MagnitudeLayer, PenaltyLayer,  # noqa: E402
                          SparseLayer, SparseNetClassifier, SparseNetRegressor)
from skdropout.nn._magnitude import cubic_density  # noqa: E402
from skdropout.nn._penalty import effective_step, eta_trick_objective  # noqa: E402
from skdropout.nn._vardrop import vardrop_kl_sum  # noqa: E402
from skdropout.penalties import get_penalty, vardrop_dual  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def small(method="logsum", **kw):
    params = dict(module__in_features=64, module__hidden=(32, 16), method=method,
                  max_epochs=2, batch_size=64, lr=1e-2, random_state=0, verbose=0)
    params.update(kw)
    return SparseNetClassifier(LeNet300100, **params)


# -- formulas -----------------------------------------------------------------------------
def test_vardrop_kl_matches_exact_dual():
    # f(eta) = 2 KL with eta/lam = 1/alpha (Table 2, eq. 19; footnote 3): Molchanov's
    # approximation is within 0.01 nats of the exact Dawson-integral value
    log_alpha = np.linspace(-6, 6, 49)
    exact = vardrop_dual(np.exp(-log_alpha), lam=1.0) / 2.0
    approx = np.array([float(vardrop_kl_sum(torch.tensor([la]))) for la in log_alpha])
    np.testing.assert_allclose(approx, exact, atol=0.012)


@pytest.mark.parametrize("name,params", [("logsum", {"eps": 2.0}), ("l1", {}),
                                         ("mcp", {"a": 3.0, "lam": 0.5})])
def test_eta_trick_dual_value_and_gradient(name, params):
    # with w = 0, lam = 1 and no log eta_bar term the eta-trick objective is f(eta)/2 (eq. 6):
    # against Table 3's f (minus the normalising constant) and its finite differences
    pen = get_penalty(name, **params)
    eta = np.array([1e-3, 0.1, 0.7, 2.0])
    values, slopes = [], []
    for e in eta:
        lev = torch.tensor([np.log(e)], dtype=torch.float64, requires_grad=True)
        obj, _ = eta_trick_objective(torch.zeros(1, dtype=torch.float64), lev, pen, 1.0, 0.0)
        obj.backward()
        values.append(2 * float(obj.detach()))
        slopes.append(2 * float(lev.grad[0]) / e)  # d f / d eta = (d f / d log eta) / eta
    ref = pen.dual_pointwise(eta) - 2 * pen.omega0
    np.testing.assert_allclose(values, ref, rtol=1e-6, atol=1e-9)
    h = 1e-6
    fd = (pen.dual_pointwise(eta + h) - pen.dual_pointwise(eta - h)) / (2 * h)
    np.testing.assert_allclose(slopes, fd, rtol=1e-4)


def test_adaprox_step_is_the_adam_step_and_the_prox_formula():
    torch.manual_seed(0)
    pen = get_penalty("logsum", eps=2.0)
    layer = PenaltyLayer(nn.Linear(5, 3), lam=0.1, penalty=pen, rule="adaprox")
    opt = torch.optim.Adam(layer.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        layer(torch.randn(8, 5)).pow(2).sum().backward()
        before = layer.weight.detach().clone()
        opt.step()
    # rho * m_hat is exactly Adam's update
    state = opt.state[layer.weight]
    m_hat = state["exp_avg"] / (1 - 0.9 ** float(state["step"]))
    rho = effective_step(opt, layer.weight)
    torch.testing.assert_close(before - layer.weight.detach(), rho * m_hat)
    # the proximal step of the adaptive Tikhonov penalty (Algorithm 1)
    w = layer.weight.detach().numpy().copy()
    eta = np.abs(w) * (np.abs(w) + 2.0)
    expected = w / (1 + rho.numpy() * 0.1 / eta)
    layer.prox(rho)
    np.testing.assert_allclose(layer.weight.detach().numpy(), expected, rtol=1e-6)


def test_magnitude_pruning_does_not_compound():
    layer = MagnitudeLayer(nn.Linear(20, 10), lam=1.0)
    layer.prune_to(0.5)
    layer.prune_to(0.5)
    assert int(layer.mask().sum()) == 100
    kept = layer.weight.detach().abs()[layer.mask()]
    dropped = layer.weight.detach().abs()[~layer.mask()]
    assert torch.all(dropped == 0) and kept.min() > 0
    assert cubic_density(0.375, 0.1, 0.0, 0.75) == pytest.approx(0.1 + 0.9 * 0.125)


def test_magnitude_pruning_keeps_exactly_k_among_ties():
    # the threshold by selection: ties at the k-th largest magnitude keep exactly k
    layer = MagnitudeLayer(nn.Linear(10, 1), lam=1.0)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -2.0, 2.0, 1.0, 2.0, -2.0, 0.1, 3.0, 2.0, 0.2]]))
    layer.prune_to(0.3)  # 3 of 10: 3.0 and two of the five |w| = 2
    kept = layer.weight.detach().abs()[layer.mask()]
    assert int(layer.mask().sum()) == 3 and sorted(kept.tolist()) == [2.0, 2.0, 3.0]
    assert int((layer.weight != 0).sum()) == 3
    big = MagnitudeLayer(nn.Linear(300, 200), lam=1.0)  # the numpy selection against topk
    w = big.weight.detach().abs().reshape(-1).clone()
    big.prune_to(0.37)
    k = round(0.37 * w.numel())
    assert torch.equal(big.mask().reshape(-1),
                       torch.zeros_like(w, dtype=torch.bool).index_fill_(
                           0, torch.topk(w, k).indices, True))


def test_layers_declare_whether_they_add_a_loss_term():
    pen = get_penalty("logsum", eps=2.0)
    base = nn.Linear(4, 3)
    assert not MagnitudeLayer(base, 1.0).adds_loss_term
    assert not PenaltyLayer(base, 1.0, pen, rule="adaprox").adds_loss_term
    assert PenaltyLayer(base, 1.0, pen).adds_loss_term
    assert PenaltyLayer(base, 1.0, pen, rule="adatikhonov").adds_loss_term

    class Mine(MagnitudeLayer):  # a subclass that defines a loss term is asked for it
        def regularizer(self):
            return self.weight.abs().sum()
    assert Mine(base, 1.0).adds_loss_term


def test_adam_runs_its_fused_implementation_unless_the_user_chose_one(digits):
    # every group (the weights' and that of log eta_bar, one parameter per weight) runs
    # torch's fused Adam, the same update as the default loop up to rounding; the user's
    # choice of implementation wins
    X, y = digits
    fused = small("eta_trick", max_epochs=1).fit(X[:256], y[:256])
    groups = fused.optimizer_.param_groups
    assert groups[-1].get("log_params") and all(g["fused"] is True for g in groups)
    loop = small("eta_trick", max_epochs=1, optimizer__foreach=False).fit(X[:256], y[:256])
    assert not any(g.get("fused") for g in loop.optimizer_.param_groups)
    for a, b in zip(fused.module_.parameters(), loop.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    sgd = small("eta_trick", max_epochs=1, optimizer=torch.optim.SGD).fit(X[:256], y[:256])
    assert not any(g.get("fused") for g in sgd.optimizer_.param_groups)
    dense = small("magnitude", max_epochs=1).fit(X[:256], y[:256])  # no group of its own
    assert all(g["fused"] is True for g in dense.optimizer_.param_groups)


def test_sparsity_record_reads_each_mask_once_per_epoch(digits, monkeypatch):
    # the record of density and layer density costs one pass over the masks, not one each
    X, y = digits
    net = small(max_epochs=2)
    calls = []
    layer_type = type(net.initialize().sparse_layers()[0])
    mask = layer_type.mask
    monkeypatch.setattr(layer_type, "mask", lambda layer: calls.append(layer) or mask(layer))
    net.partial_fit(X[:256], y[:256], epochs=2)
    assert len(calls) == 2 * len(net.sparse_layers())
    monkeypatch.undo()
    assert net.history[-1, "density"] == net.density_
    assert net.history[-1, "layer_density"] == net.layer_density_


def test_layers_are_found_once_per_fit_and_anew_after_it(digits):
    X, y = digits
    seen = []

    class Count(Callback):
        def on_batch_end(self, net, **kwargs):
            seen.append(net.sparse_layers())
            assert "_training_layers" not in net.__getstate__()  # a checkpoint holds none
    net = small(callbacks=[Count()], max_epochs=1).fit(X[:256], y[:256])
    assert all(a[0] is b[0] for a, b in zip(seen, seen[1:])) and "_training_layers" not in \
        vars(net)
    net.module_.net[1] = nn.Linear(64, 32)  # a user's change after the fit is seen
    assert len(net.sparse_layers()) == len(seen[0]) - 1


def test_finite_check_of_X_whose_sum_overflows(digits):
    # finite entries whose float32 sum overflows are accepted; a NaN among them is not
    X, y = digits
    X = X[:128].copy()
    X[:, 0] = 3e38
    small(max_epochs=1).fit(X, y[:128])
    X[5, 3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        small(max_epochs=1).fit(X, y[:128])


# -- estimator API ------------------------------------------------------------------------
def test_grid_search_over_lam_and_method_options(digits):
    X, y = digits
    net = small("magnitude", callbacks__pruning__target_density=0.5, max_epochs=1)
    params = net.get_params()
    assert params["callbacks__pruning__target_density"] == 0.5
    assert clone(net).get_params()["callbacks__pruning__target_density"] == 0.5
    net.fit(X[:300], y[:300])
    assert dict(net.callbacks_)["pruning"].target_density == 0.5
    net.set_params(callbacks__pruning__target_density=0.25)
    assert dict(net.callbacks_)["pruning"].target_density == 0.25
    net = small("hardconcrete", method__init_log_a=1.5, max_epochs=1)
    assert clone(net).get_params()["method__init_log_a"] == 1.5
    gs = GridSearchCV(small(max_epochs=1), {"lam": [1e-4, 1e-2]}, cv=2)
    gs.fit(X[:600], y[:600])
    assert gs.best_params_["lam"] in (1e-4, 1e-2)
    assert np.all(np.isfinite(gs.cv_results_["mean_test_score"]))


def test_pickle_round_trip(digits):
    X, y = digits
    net = small("vardrop_lr").fit(X, y)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
    assert again.density_ == net.density_
    assert next(again.module_.parameters()).device.type == "cpu"


def test_validation_error_is_that_of_the_pruned_model(digits):
    X, y = digits
    net = small("logsum", max_epochs=3, lam=1e-2,
                train_split=predefined_split(Dataset(X[1500:], y[1500:])))
    net.fit(X[:1500], y[:1500])
    err = float(np.mean(net.predict(X[1500:]) != y[1500:]))
    assert net.history[-1, "valid_error"] == pytest.approx(err)
    assert net.density_ < 1
    assert net.n_train_ == 1500


def test_defaults_use_all_data_shuffled_and_vardrop_lam_is_one_over_n(digits):
    X, y = digits
    net = small("vardrop_lr", max_epochs=1).fit(X, y)
    assert net.n_train_ == len(X)
    assert net.get_params()["iterator_train__shuffle"] is True
    assert all(layer.lam == pytest.approx(1 / len(X)) for layer in net.sparse_layers())


def test_compact_removes_dead_units(digits):
    X, y = digits
    net = small("logsum").fit(X, y)
    first, second = net.sparse_layers()[:2]
    with torch.no_grad():
        first.weight[:5] = 0.0       # five hidden units without input: constant units
        second.weight[:, 5:9] = 0.0  # four whose output is unused
    compact = net.compact()
    linears = [m for m in compact.modules() if isinstance(m, nn.Linear)]
    assert linears[0].out_features == 32 - 9
    with torch.no_grad():
        out = torch.softmax(compact(torch.as_tensor(X)), 1).numpy()
    np.testing.assert_allclose(out, net.predict_proba(X), atol=1e-5)


def test_regressor_and_conv_layers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10)).astype(np.float32)
    y = (X[:, :2] @ np.array([[1.0], [-2.0]])).astype(np.float32)
    reg = SparseNetRegressor(LeNet300100, module__in_features=10, module__hidden=(16,),
                             module__n_classes=1, max_epochs=60, random_state=0, verbose=0,
                             lr=1e-2, lam=1e-3)
    reg.fit(X, y)
    assert np.mean((reg.predict(X) - y) ** 2) < 0.1 * np.var(y)
    assert 0 < reg.density_ <= 1
    imgs = rng.random((32, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    for method, n_conv in (("hardconcrete", 2), ("standout", 0)):
        net = SparseNetClassifier(LeNet5, method=method, max_epochs=1, verbose=0,
                                  random_state=0).fit(imgs, labels)
        convs = [m for m in net.sparse_layers() if m.conv is not None]
        assert len(convs) == n_conv
        assert net.predict(imgs).shape == (32,)
        assert set(net.layer_density_) >= {"net.0", "net.3", "net.7"}


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    ({"method": "dropconnect"}, "valid methods are: vardrop_lr_ar"),
    ({"lam": -1.0}, "lam must be"),
    ({"lam": float("nan")}, "lam must be"),
    ({"method__foo": 1}, "method__foo"),
    ({"method": "hardconcrete", "method__eps": 1}, "valid options: method__beta"),
    ({"method": "magnitude", "method__target_density": 0.5},
     "valid options: none; GradualPruning's parameters are set as callbacks__pruning__"),
    ({"penalty": "vardrop"}, "no closed form on torch"),
    ({"method": "adaprox", "optimizer": torch.optim.RMSprop}, "optimizer must be"),
    ({"random_state": 1.5}, "random_state"),
    ({"keep_min": 0}, r"SparseNetClassifier: keep_min must be a finite number in \(0, 1\), got 0"),
    ({"keep_min": 1.0}, r"keep_min must be a finite number in \(0, 1\), got 1.0"),
    ({"keep_min": float("nan")}, "keep_min must be"),
    ({"keep_min": True}, "keep_min must be"),
    ({"keep_min": "0.1"}, "keep_min must be"),
    ({"method": "vardrop", "callbacks__kl_warmup__epochs": -1}, "KLWarmup: epochs must be"),
    # issue 18, part 4: options that were not validated
    ({"method": "magnitude", "callbacks__pruning__target_density": 2},
     r"target_density must be a finite number in \[0, 1\], got 2"),
    ({"method": "magnitude", "callbacks__pruning__target_density": -0.5}, "target_density"),
    ({"method": "magnitude", "callbacks__pruning__every": 0},
     "every must be an integer >= 1, got 0"),
    ({"method": "magnitude", "callbacks__pruning__every": 2.5}, "every must be an integer"),
    ({"method": "magnitude", "callbacks__pruning__begin": 0.8}, "end must be"),
    ({"method": "vardrop_lr", "method__init_log_alpha": float("nan")},
     "VarDropLayer: init_log_alpha must be a finite number, got nan"),
    ({"method": "vardrop_lr_ar", "method__init_log_alpha": "-5"}, "init_log_alpha"),
    ({"method": "hardconcrete", "method__init_log_a": float("inf")}, "init_log_a"),
    ({"method": "hardconcrete", "method__beta": 0.0}, "beta must be"),
    ({"method": "hardconcrete", "method__gamma": 0.0}, "gamma must be"),
    ({"method": "eta_trick", "method__init_log_eta": float("nan")}, "init_log_eta"),
    ({"method": "eta_trick", "method__log_eta_decay": -1.0}, "log_eta_decay"),
    ({"method": "standout", "method__alpha": float("inf")}, "StandoutLayer: alpha"),
    ({"method": "logsum", "penalty": "hardthresh", "penalty_params": {"k": 5}},
     "penalty 'hardthresh' has no gradient"),
    ({"method": "adatikhonov", "penalty": "hardthresh", "penalty_params": {"k": 5}},
     "penalty 'hardthresh' has no gradient"),
    ({"method": "eta_trick", "penalty": "hardthresh", "penalty_params": {"k": 5}},
     "penalty 'hardthresh' has no gradient"),
    ({"method": "logsum", "penalty": "l0"}, "penalty 'l0' has no gradient"),
])
def test_bad_input_raises_before_training(digits, kwargs, match):
    X, y = digits
    net = small(**kwargs)
    with pytest.raises(ValueError, match=match):
        net.fit(X, y)
    assert not net.history  # nothing was trained


def test_module_without_prunable_layer_and_nan_input(digits):
    X, y = digits
    net = SparseNetClassifier(nn.Sequential(nn.Flatten()), max_epochs=1, verbose=0)
    with pytest.raises(ValueError, match="no prunable layer"):
        net.fit(X, y)
    net = small("standout", module__hidden=())
    with pytest.raises(ValueError, match="besides the output layer"):
        net.fit(X, y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small().fit(Xn, y)


def test_user_module_instance_is_not_modified(digits):
    X, y = digits
    module = LeNet300100(in_features=64, hidden=(16,))
    SparseNetClassifier(module, max_epochs=1, verbose=0, random_state=0).fit(X, y)
    assert not any(isinstance(m, SparseLayer) for m in module.modules())


def _threshold_between(keep, q):
    """A threshold near the q-quantile of the keep probabilities ``keep`` of the weights
    kept at 0.05, midway in the widest gap between neighbouring values there (no value is
    near it)."""
    u = np.unique(keep[keep >= 0.05])
    i, w = int(q * (len(u) - 1)), max(1, len(u) // 20)
    lo, hi = max(i - w, 0), min(i + w, len(u) - 1)
    j = lo + int(np.argmax(np.diff(u[lo:hi + 1])))
    return float((u[j] + u[j + 1]) / 2)


def _pruned_forward(net, X, keep_min):
    """The evaluated LeNet300100 written out in numpy: each method layer with the weights
    whose keep probability is below ``keep_min`` zeroed (hard concrete: times its gate,
    closed gates pruned; standout: z * pi of the kept units)."""
    h = X.astype(np.float64)
    for mod in net.module_.net:
        if isinstance(mod, nn.Flatten):  # X is already flat
            continue
        if isinstance(mod, nn.ReLU):
            h = np.maximum(h, 0.0)
            continue
        W = mod.weight.detach().double().numpy()
        b = mod.bias.detach().double().numpy()
        if not isinstance(mod, SparseLayer):
            h = h @ W.T + b
        elif type(mod).__name__ == "StandoutLayer":
            z = h @ W.T + b
            kept = mod.unit_keep.double().numpy() >= keep_min
            h = z / (1.0 + np.exp(-(mod.alpha * z + mod.beta))) * kept
        else:
            kept = mod.keep_prob().double().numpy() >= keep_min
            if type(mod).__name__ == "HardConcreteLayer":
                gate = mod.gate().detach().double().numpy()
                W, kept = W * gate, kept & (gate > 0)
            h = h @ (W * kept).T + b
    return h


@pytest.mark.parametrize("method", ["vardrop_lr_ar", "vardrop_lr", "vardrop", "eta_trick",
                                    "logsum", "hardconcrete", "standout"])
def test_keep_min_sets_the_pruned_network(digits, method):
    """keep_min, set after fitting, is the threshold of density_, predict and compact:
    both computed independently from the layers' keep probabilities."""
    X, y = digits
    net = small(method, lam=1e-3).fit(X, y)
    layers = net.sparse_layers()
    keep = np.concatenate([layer.keep_prob().numpy().ravel() for layer in layers])
    n_weights = sum(m.weight.numel() for m in net.module_.net
                    if isinstance(m, (nn.Linear, SparseLayer)))
    n_plain = n_weights - keep.size  # the output layer (standout) is not replaced
    densities = []
    for k in (_threshold_between(keep, 0.3), _threshold_between(keep, 0.7)):
        net.set_params(keep_min=k)
        assert net.density_ == pytest.approx((np.sum(keep >= k) + n_plain) / n_weights)
        assert all(layer.keep_min == k for layer in layers)
        logits = _pruned_forward(net, X, k)
        np.testing.assert_array_equal(net.predict(X), net.classes_[logits.argmax(1)])
        proba = np.exp(logits - logits.max(1, keepdims=True))
        proba /= proba.sum(1, keepdims=True)
        np.testing.assert_allclose(net.predict_proba(X), proba, atol=1e-5)
        with torch.no_grad():
            compact = net.compact()(torch.as_tensor(X)).double().numpy()
        np.testing.assert_allclose(compact, logits, atol=1e-4)
        densities.append(net.density_)
    assert densities[0] > densities[1]
    # the attribute set directly is the one in use, and 0.05 is the default
    net.keep_min = 0.05
    default = small(method, lam=1e-3).fit(X, y)
    assert net.density_ == default.density_
    np.testing.assert_array_equal(net.predict_proba(X), default.predict_proba(X))


def test_bad_keep_min_on_a_fitted_net_raises(digits):
    X, y = digits
    net = small("vardrop_lr", lam=1e-3).fit(X, y)
    net.set_params(keep_min=1.5)
    match = r"SparseNetClassifier: keep_min must be a finite number in \(0, 1\), got 1.5"
    for use in (lambda: net.predict(X), lambda: net.density_, net.compact, net.sparsify):
        with pytest.raises(ValueError, match=match):
            use()
    layer = net.sparse_layers()[0]
    with pytest.raises(ValueError, match=r"VarDropLayer: keep_min must be .* got -0.1"):
        layer.keep_min = -0.1
    assert layer.keep_min == 0.05


def test_hardconcrete_mask_is_the_keep_probability_rule():
    from skdropout.nn import HardConcreteLayer

    torch.manual_seed(0)
    layer = HardConcreteLayer(nn.Linear(40, 50), lam=1e-3)
    with torch.no_grad():
        layer.log_a.uniform_(-6.0, 2.0)
    exact = (layer.keep_prob() >= 0.05) & (layer.gate() > 0)
    assert torch.equal(layer.mask(), exact)
    assert 0 < int(exact.sum()) < exact.numel()


@pytest.mark.parametrize("kind", ["vardrop", "hardconcrete"])
def test_loss_term_computed_with_the_noise_is_the_regularizer(kind):
    # vardrop (no tricks) and hard concrete compute their loss term in the forward pass;
    # regularizer() hands it out once, for unchanged parameters only, and the layer pickles
    import copy

    from skdropout.nn import HardConcreteLayer, VarDropLayer

    torch.manual_seed(0)
    if kind == "vardrop":
        layer = VarDropLayer(nn.Linear(30, 20), lam=1e-2, mode="plain")
        x_param = layer.log_alpha_
        with torch.no_grad():
            x_param.uniform_(-6.0, 2.0)
    else:
        layer = HardConcreteLayer(nn.Linear(30, 20), lam=1e-2)
        x_param = layer.log_a
    fresh = layer.regularizer()  # no forward pass yet: computed here
    layer(torch.randn(8, 30))
    stored = layer._held[1]
    held = layer.regularizer()
    assert held is stored
    torch.testing.assert_close(held, fresh)
    again = layer.regularizer()  # taken once: computed again, same value
    torch.testing.assert_close(again, fresh)
    assert again.grad_fn is not held.grad_fn
    layer(torch.randn(8, 30))
    copy.deepcopy(layer)  # the held term (a graph) is not part of the state
    pickle.loads(pickle.dumps(layer))
    with torch.no_grad():
        x_param.add_(0.5)  # an optimiser step: the held term is stale
    changed = layer.regularizer()
    assert float(changed.detach()) != pytest.approx(float(fresh.detach()))
    layer(torch.randn(8, 30))
    with torch.no_grad():
        layer.eval()(torch.randn(8, 30))  # evaluation forgets it
    assert layer._held is None
    layer.train()
    with torch.no_grad():  # no graph: nothing to hold, the regularizer still has gradients
        layer(torch.randn(8, 30))
    reg = layer.regularizer()
    reg.backward()
    assert reg.requires_grad and x_param.grad is not None


@pytest.mark.parametrize("kind", ["vardrop", "hardconcrete"])
def test_noise_layers_with_a_parametrized_weight(kind):
    # the training pass reads the parameters from _parameters, and through the attribute
    # where a parametrization has replaced one: the same draw as with the weight written in
    from torch.nn.utils import parametrize

    from skdropout.nn import HardConcreteLayer, VarDropLayer

    def make():
        torch.manual_seed(0)
        if kind == "vardrop":
            return VarDropLayer(nn.Linear(6, 4), lam=1e-2, mode="plain")
        return HardConcreteLayer(nn.Linear(6, 4), lam=1e-2)

    class Doubled(nn.Module):
        def forward(self, w):
            return 2.0 * w

    layer, plain = make(), make()
    parametrize.register_parametrization(layer, "weight", Doubled())
    with torch.no_grad():
        plain.weight.mul_(2.0)
    x = torch.randn(5, 6)
    torch.manual_seed(1)
    out = layer(x)
    torch.manual_seed(1)
    torch.testing.assert_close(out, plain(x))
    torch.testing.assert_close(layer.regularizer(), plain.regularizer())
    out.sum().backward()
    assert layer.parametrizations.weight.original.grad is not None


def test_kl_warmup_raises_the_kl_weight_linearly(digits):
    # 1797 digits in batches of 64: 29 steps per epoch; a 2-epoch warm-up over 3 epochs
    X, y = digits
    weights = []

    class Spy(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                weights.append(net.sparse_layers()[0].kl_weight)

    net = small("vardrop_lr", max_epochs=3, callbacks__kl_warmup__epochs=2,
                callbacks=[Spy()]).fit(X, y)
    steps = np.arange(1, 3 * 29 + 1)
    np.testing.assert_allclose(weights, np.minimum(1.0, steps / (2 * 29)))
    # the KL term enters the loss with that weight
    layer = net.sparse_layers()[0]
    full = float(layer.regularizer().detach())
    layer.kl_weight = 0.25
    assert float(layer.regularizer().detach()) == pytest.approx(0.25 * full)


# -- which layers are replaced --------------------------------------------------------------
class _ScaledLinear(nn.Linear):
    """A user's Linear subclass (issue 18: such layers were left dense)."""


def test_linear_subclasses_get_the_method(digits):
    X, y = digits
    module = nn.Sequential(_ScaledLinear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    net = SparseNetClassifier(module, method="magnitude", max_epochs=1, verbose=0,
                              callbacks__pruning__target_density=0.5, random_state=0)
    net.fit(X, y)
    assert isinstance(net.module_[0], SparseLayer)
    assert net.layer_density_["0"] == pytest.approx(0.5)


def test_lazy_linear_needs_its_weights(digits):
    X, y = digits
    lazy = nn.Sequential(nn.LazyLinear(32), nn.ReLU(), nn.Linear(32, 10))
    net = SparseNetClassifier(lazy, method="logsum", max_epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"Layer '0' \(LazyLinear\) has no weights yet"):
        net.fit(X, y)
    lazy(torch.as_tensor(X[:2]))  # materialised: an nn.Linear with weights
    net = SparseNetClassifier(lazy, method="logsum", lam=1e-2, max_epochs=2, verbose=0,
                              random_state=0).fit(X, y)
    assert isinstance(net.module_[0], SparseLayer) and net.layer_density_["0"] < 1.0


# -- the same network everywhere -----------------------------------------------------------
_FIT_SCRIPT = r"""
import hashlib, os, sys
import numpy as np
import torch
from sklearn.datasets import load_digits
from skdropout.nn import LeNet300100, SparseNetClassifier

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
out = []
for method in sys.argv[1:]:
    net = SparseNetClassifier(LeNet300100, module__in_features=64, module__hidden=(64, 32),
                              method=method, max_epochs=2, batch_size=64, random_state=3,
                              verbose=0).fit(X[:600], y[:600])
    out.append(method + " " + hashlib.sha256(net.predict_proba(X).tobytes()).hexdigest())
# shared libraries mapped into this process: none from a cache or temporary folder, apart
# from the Python installation's own (a venv may itself live under /tmp)
roots = [os.environ[k] for k in ("SKDROPOUT_CACHE", "TMPDIR") if os.environ.get(k)]
roots += [os.path.join(os.path.expanduser("~"), ".cache"), "/tmp"]
installed = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix})
with open("/proc/self/maps") as fh:
    libs = {line.split()[-1] for line in fh if ".so" in line}
bad = sorted(lib for lib in libs if any(lib.startswith(r) for r in roots)
             and not os.path.realpath(lib).startswith(installed))
out.append("foreign libraries: " + repr(bad))
print("\n".join(out))
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"),
                    reason="reads /proc/self/maps")
def test_same_random_state_same_network_in_any_environment(tmp_path):
    # two fresh processes: one with the usual environment, one without a compiler on PATH,
    # with a compiler variable pointing nowhere, a fresh cache and home, and the old switch
    # of the removed native route; the predictions must agree bit for bit
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    methods = ["vardrop_lr_ar", "vardrop", "eta_trick", "hardconcrete", "standout"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("SKDROPOUT")}
    base["PYTHONPATH"] = root + os.pathsep + base.get("PYTHONPATH", "")
    (tmp_path / "home").mkdir()
    (tmp_path / "empty").mkdir()
    other = dict(base, PATH=str(tmp_path / "empty"), CC="/nonexistent/cc",
                 CXX="/nonexistent/c++", HOME=str(tmp_path / "home"),
                 SKDROPOUT_CACHE=str(tmp_path / "cache"), SKDROPOUT_NATIVE="1",
                 TMPDIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", _FIT_SCRIPT, *methods], env=env,
                           capture_output=True, text=True, timeout=300, check=True).stdout
            for env in (base, other)]
    assert runs[0] == runs[1]
    assert runs[1].count("\n") == len(methods) + 1
    assert runs[1].strip().endswith("foreign libraries: []")


def test_no_code_is_compiled_or_loaded_at_run_time():
    # the package holds no compiled-at-run-time sources and no loader of shared libraries
    import pathlib

    import skdropout

    pkg = pathlib.Path(skdropout.__file__).parent
    assert not [p for p in pkg.rglob("*") if p.suffix in (".c", ".cpp", ".cu", ".so")]
    for path in pkg.rglob("*.py"):
        text = path.read_text()
        for needle in ("ctypes", "cpp_extension", "load_library", "subprocess"):
            assert needle not in text, (path, needle)


def test_linear_lr_decay_is_an_lr_scheduler_by_batch(digits):
    # appendix C's decay to 0, one step per training batch, as a skorch LRScheduler:
    # it clones, pickles and records the learning rate of every batch
    from skorch.callbacks import LRScheduler

    from skdropout.nn import LinearLRDecay

    X, y = digits
    net = small(max_epochs=2, batch_size=600, lr=0.03, callbacks__lr_decay=LinearLRDecay())
    assert isinstance(net.callbacks__lr_decay, LRScheduler)
    net = clone(net).fit(X, y)  # 3 batches per epoch: T = 6 steps
    lrs = [lr for epoch in net.history[:, "batches", :, "event_lr"] for lr in epoch]
    np.testing.assert_allclose(lrs, 0.03 * (1 - np.arange(6) / 6))
    assert net.optimizer_.param_groups[0]["lr"] == 0.0
    pickle.loads(pickle.dumps(net))


@pytest.mark.parametrize("as_tensor", [False, True])
def test_batches_taken_at_once_train_the_network_of_sample_by_sample_loading(digits,
                                                                             as_tensor):
    # the batches of BatchRows (one indexing of X and y per batch) are skorch's batches in
    # skorch's order: the same network, losses and validation record as the loading
    # sample by sample (forced by naming the collate function), with a validation split
    # (a Subset) and shuffling; a regressor's float targets too
    from skorch.dataset import ValidSplit
    from torch.utils.data.dataloader import default_collate

    from skdropout.nn._batches import BatchRows

    X, y = digits
    X, y = X[:400], y[:400]
    if as_tensor:
        X = torch.as_tensor(X)
    per_sample = dict(iterator_train__collate_fn=default_collate,
                      iterator_valid__collate_fn=default_collate)
    for make in (lambda **kw: small("vardrop", train_split=ValidSplit(5), **kw),
                 lambda **kw: SparseNetRegressor(
                     LeNet300100, module__in_features=64, module__hidden=(16,),
                     module__n_classes=2, method="hardconcrete", max_epochs=2,
                     batch_size=64, random_state=0, verbose=0, **kw)):
        target = y if make().__class__ is SparseNetClassifier else \
            np.stack([y, -y], 1).astype(np.float64)
        fast, slow = make().fit(X, target), make(**per_sample).fit(X, target)
        for p, q in zip(fast.module_.parameters(), slow.module_.parameters()):
            assert torch.equal(p, q)
        assert fast.history[:, "train_loss"] == slow.history[:, "train_loss"]
        assert np.array_equal(fast.predict(X), slow.predict(X))
        if isinstance(fast, SparseNetClassifier):
            net, net_per_sample = fast, slow
    train, valid = net.get_split_datasets(X, y)
    for dataset, training in ((train, True), (valid, False)):
        loader = net.get_iterator(dataset, training=training)
        assert type(loader.dataset) is BatchRows
        X_b, y_b = loader.dataset.__getitems__([3, 0, 7])
        expected = default_collate([dataset[i] for i in (3, 0, 7)])
        assert torch.equal(X_b, expected[0]) and torch.equal(y_b, expected[1])
    # skorch's loading where the batching is the user's or y is absent (prediction)
    assert type(net_per_sample.get_iterator(train, True).dataset) is not BatchRows
    assert type(net.get_iterator(net.get_dataset(X), False).dataset) is not BatchRows


def test_batch_rows_as_a_plain_skorch_dataset_trains_the_network_of_skorchs_loading(digits):
    # benchmarks/nn_speed.py gives its skorch peers the estimators' loading through
    # skorch's options dataset=BatchRows, iterator_train__collate_fn=as_batch: the same
    # batches in the same order as skorch's Dataset, so the same network bit for bit
    from skorch import NeuralNetClassifier

    from skdropout.nn._batches import BatchRows, as_batch

    X, y = digits
    X, y = X[:300], y[:300]

    def make(**kw):
        torch.manual_seed(0)
        return NeuralNetClassifier(
            LeNet300100, module__in_features=64, module__hidden=(16,), module__n_classes=10,
            criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, optimizer__fused=True,
            max_epochs=2, batch_size=64, lr=1e-2, train_split=None,
            iterator_train__shuffle=True, verbose=0, **kw).fit(X, y)
    at_once = make(dataset=BatchRows, iterator_train__collate_fn=as_batch)
    per_sample = make()
    assert type(at_once.get_iterator(at_once.get_dataset(X, y), True).dataset) is BatchRows
    assert at_once.optimizer_.defaults["fused"]
    for p, q in zip(at_once.module_.parameters(), per_sample.module_.parameters()):
        assert torch.equal(p, q)
    assert at_once.history[:, "train_loss"] == per_sample.history[:, "train_loss"]
