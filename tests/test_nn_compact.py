"""compact(): dead units and channels removed from Linear and Conv2d chains, outputs unchanged.

Every compacted network is checked against the evaluated original on random inputs (the
independent computation), and its layer sizes against the units zeroed by hand.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

from skdropout.nn import LeNet5, SparseNetClassifier  # noqa: E402
from skdropout.nn._compact import compact_module  # noqa: E402


def same_outputs(small, net, shape, seed=0):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        torch.testing.assert_close(small(x), net.eval()(x), atol=1e-5, rtol=1e-5)


def conv_net(act=nn.ReLU, pool=nn.MaxPool2d, padding=1, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 6, 3), act(), pool(2), nn.Dropout(0.3),
                         nn.Conv2d(6, 4, 3, padding=padding), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_conv_channels_without_outgoing_weights_are_removed(pool):
    net = conv_net(pool=pool)
    with torch.no_grad():
        net[4].weight[:, [1, 4]] = 0.0       # channels 1 and 4 of conv 1 unused
        net[4].weight[2:, 3] = 0.0           # channel 3 still used by two outputs
    small = compact_module(net)
    assert (small[0].out_channels, small[4].in_channels) == (4, 4)
    torch.testing.assert_close(small[0].weight, net[0].weight[[0, 2, 3, 5]])
    torch.testing.assert_close(small[4].weight, net[4].weight[:, [0, 2, 3, 5]])
    same_outputs(small, net, (7, 2, 10, 10))
    assert all(not p.requires_grad for p in small.parameters())
    assert not small.training
    assert net[0].out_channels == 6          # the network passed in is not modified


def test_zero_output_channel_is_removed_but_constant_channel_is_kept():
    net = conv_net(padding=1)
    with torch.no_grad():
        net[0].weight[2] = 0.0
        net[0].bias[2] = 0.0                 # ReLU(0) = 0: channel 2 is exactly 0
        net[0].weight[5] = 0.0
        net[0].bias[5] = 0.7                 # constant 0.7, but not after zero padding
    small = compact_module(net)
    assert small[0].out_channels == 5
    assert torch.count_nonzero(small[0].bias == 0.7) == 1
    same_outputs(small, net, (7, 2, 10, 10))


@pytest.mark.parametrize("act,removed", [(nn.Tanh, True), (nn.LeakyReLU, True),
                                         (nn.Identity, True), (nn.Sigmoid, False),
                                         (nn.Softplus, False)])
def test_zero_output_rule_checks_act_of_zero(act, removed):
    net = conv_net(act=act)
    with torch.no_grad():
        net[0].weight[1] = 0.0
        net[0].bias[1] = 0.0
    small = compact_module(net)
    assert small[0].out_channels == (5 if removed else 6)
    same_outputs(small, net, (3, 2, 10, 10))


def test_conv_channel_and_its_flatten_block_are_removed():
    net = conv_net()
    k = 4 * 4                                # in_features / out_channels of conv 2
    with torch.no_grad():
        net[7].weight[:, 2 * k:3 * k] = 0.0  # the whole block of channel 2
        net[7].weight[:, k:2 * k - 1] = 0.0  # all but one column of channel 1
    small = compact_module(net)
    assert (small[4].out_channels, small[7].in_features) == (3, 3 * k)
    keep = [c for c in range(4 * k) if not 2 * k <= c < 3 * k]
    torch.testing.assert_close(small[7].weight, net[7].weight[:, keep])
    same_outputs(small, net, (7, 2, 10, 10))


def test_removal_propagates_backwards_through_the_chain():
    net = conv_net()
    k = 16
    with torch.no_grad():
        net[7].weight[:, 3 * k:] = 0.0       # channel 3 of conv 2 unused
        net[4].weight[:3, 0] = 0.0           # channel 0 of conv 1 feeds only channel 3
    small = compact_module(net)
    assert (small[0].out_channels, small[4].in_channels, small[4].out_channels) == (5, 5, 3)
    same_outputs(small, net, (5, 2, 10, 10))


def test_nothing_removed_when_no_unit_is_dead():
    net = conv_net(padding=0)
    net = nn.Sequential(*net[:-1], nn.Linear(4 * 2 * 2, 8), nn.ReLU(), nn.Linear(8, 3))
    small = compact_module(net)
    assert [tuple(p.shape) for p in small.parameters()] == \
        [tuple(p.shape) for p in net.parameters()]
    same_outputs(small, net, (4, 2, 10, 10))


def test_all_dead_keeps_one_unit_and_outputs_the_bias():
    net = conv_net()
    with torch.no_grad():
        net[7].weight.zero_()
    small = compact_module(net)
    assert (small[4].out_channels, small[7].in_features) == (1, 16)
    # conv 2 keeps one channel whose outgoing weights are zero: conv 1 keeps only one too
    assert small[0].out_channels == 1
    same_outputs(small, net, (3, 2, 10, 10))


def test_linear_constant_units_are_folded_into_the_next_bias():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(5, 8), nn.Sigmoid(), nn.Linear(8, 6, bias=False), nn.Tanh(),
                        nn.Linear(6, 2))
    with torch.no_grad():
        net[0].weight[[0, 3]] = 0.0          # constant units sigmoid(b)
        net[2].weight[:, 5] = 0.0            # unused unit
        net[4].weight[:, 4] = 0.0            # unit 4 of the second layer unused
        net[2].weight[1] = 0.0               # unit 1 has no input: tanh(0) = 0 folded
    small = compact_module(net)
    assert (small[0].out_features, small[2].out_features) == (5, 4)
    assert small[2].bias is not None         # the folded constants need a bias
    same_outputs(small, net, (9, 5))


def test_skipped_chains_raise_nothing():
    # shapes that do not divide, grouped convolutions, a Flatten keeping the channels apart
    odd = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(10, 2))
    grouped = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 1, groups=2))
    partial = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(2), nn.Linear(16, 2))
    with torch.no_grad():
        for net in (odd, grouped, partial):
            net[-1].weight[:, :1] = 0.0
    for net in (odd, grouped, partial):
        small = compact_module(net)
        assert [p.shape for p in small.parameters()] == [p.shape for p in net.parameters()]
    same_outputs(compact_module(grouped), grouped, (2, 2, 5, 5))
    same_outputs(compact_module(partial), partial, (2, 1, 6, 6))


def test_lenet5_is_one_sequential_and_rejects_small_images():
    net = LeNet5(image_size=16)
    assert [type(m) for m in net.net] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Conv2d, nn.ReLU,
                                          nn.MaxPool2d, nn.Flatten, nn.Linear, nn.ReLU,
                                          nn.Linear]
    assert net.net[7].in_features == 50
    with pytest.raises(ValueError, match="image_size must be at least 16"):
        LeNet5(image_size=8)


def test_trained_lenet5_compacts_with_the_same_predictions():
    X, y = load_digits(return_X_y=True)
    # the 8x8 digits upsampled to 16x16, the smallest image LeNet-5 accepts
    imgs = np.kron(X.reshape(-1, 1, 8, 8) / 16.0, np.ones((1, 1, 2, 2))).astype(np.float32)
    net = SparseNetClassifier(LeNet5, module__image_size=16, method="magnitude",
                              callbacks__pruning__target_density=0.05,
                              callbacks__pruning__every=5, max_epochs=6,
                              batch_size=128, lr=1e-2, random_state=0, verbose=0,
                              callbacks__lr_decay=None)
    net.fit(imgs[:1200], y[:1200])
    assert net.score(imgs[1200:], y[1200:]) > 0.6
    small = net.compact()
    dense = [layer.to_dense().weight for layer in net.sparse_layers()]
    assert [type(m) for m in small.net] == [type(m) for m in LeNet5().net]
    # an upper bound computed from the pruned weights: units used by the next layer
    conv1, conv2 = small.net[0], small.net[3]
    assert conv1.out_channels <= int((dense[1] != 0).any(dim=(0, 2, 3)).sum())
    assert conv2.out_channels <= int((dense[2] != 0).any(dim=0).sum()) < 50   # k = 1
    assert small.net[7].out_features <= int((dense[3] != 0).any(dim=0).sum()) < 500
    # a fixed point: every kept unit is used, none has all-zero incoming weights
    assert bool((conv2.weight != 0).any(dim=(0, 2, 3)).all())
    assert bool((small.net[7].weight.view(small.net[7].out_features, conv2.out_channels, -1) != 0)
                .any(dim=(0, 2)).all())
    assert bool((small.net[9].weight != 0).any(dim=0).all())
    assert bool((small.net[7].weight != 0).any(dim=1).all())
    n_small = sum(p.numel() for p in small.parameters())
    assert n_small < sum(p.numel() for p in LeNet5(image_size=16).parameters())
    x = torch.as_tensor(imgs[1200:1300])
    with torch.no_grad():
        torch.testing.assert_close(small(x), net.module_.eval()(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(torch.softmax(small(x), 1).numpy(),
                                   net.predict_proba(imgs[1200:1300]), atol=1e-5, rtol=1e-5)
