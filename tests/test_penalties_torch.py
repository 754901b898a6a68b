"""Closed-form penalties on torch tensors: the same formula as numpy, differentiable."""

import numpy as np
import pytest

from skdropout.penalties import HardThresh, Lp

from test_penalties import make

torch = pytest.importorskip("torch")
CLOSED = ["l1", "lpp_0.5", "lpp_1.5", "elasticnet", "huber", "logsum", "scad", "mcp",
          "standout"]


@pytest.mark.parametrize("key", CLOSED)
def test_torch_matches_numpy_and_autograd_matches_grad(key):
    pen = make(key)
    w = np.array([-2.5, -0.4, 0.05, 0.9, 3.0])
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    val = pen.value(wt)
    assert val.item() == pytest.approx(pen.value(w), rel=1e-12)
    np.testing.assert_allclose(pen.eta_hat(wt).detach().numpy(), pen.eta_hat(w), rtol=1e-12)
    np.testing.assert_allclose(pen.keep_prob(wt, 0.7).detach().numpy(), pen.keep_prob(w, 0.7))
    val.backward()
    np.testing.assert_allclose(wt.grad.numpy(), pen.grad(w), rtol=1e-9, atol=1e-12)


def test_torch_lp_and_hardthresh():
    w = np.array([0.3, -1.2, 0.0, 2.0])
    wt = torch.tensor(w, requires_grad=True)
    assert Lp(1.5).value(wt).item() == pytest.approx(Lp(1.5).value(w))
    np.testing.assert_allclose(Lp(1.5).eta_hat(wt).detach().numpy(), Lp(1.5).eta_hat(w))
    np.testing.assert_array_equal(HardThresh(2).eta_hat(wt).numpy(), HardThresh(2).eta_hat(w))
