"""Shared test settings: the data home and a fast, deterministic torch."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests read MNIST through the data-home setting, pointed at ../shared/data when present.
if "SKDROPOUT_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["SKDROPOUT_DATA"] = str(SHARED_DATA)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _torch_threads():
    """Keep torch to one thread so tests are reproducible and share 2 cores fairly."""
    try:
        import torch
    except ImportError:  # the core library works without torch
        yield
        return
    torch.set_num_threads(1)
    yield


@pytest.fixture
def curvature_steps(monkeypatch):
    """A list that records each step along negative curvature IRLS tries (its
    ``_negative_curvature_step``, also inside a logistic fit's Newton steps)."""
    from skdropout.linear import _irls

    steps = []
    step = _irls._negative_curvature_step
    monkeypatch.setattr(_irls, "_negative_curvature_step",
                        lambda *args: steps.append(1) or step(*args))
    return steps
