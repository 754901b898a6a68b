"""skdropout: adaptive dropout and iteratively reweighted regularization as duals.

LeJeune, Javadi and Baraniuk, "The Flip Side of the Reweighted Coin: Duality of Adaptive
Dropout and Regularization", NeurIPS 2021.

``import skdropout`` needs only numpy, scipy, scikit-learn and joblib; the estimators below
are imported on first use, and :mod:`skdropout.nn` (torch, skorch) only when asked for.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

from . import penalties  # noqa: E402,F401
from .penalties import get_penalty  # noqa: E402,F401

_LAZY = {
    "IRLSRegressor": "skdropout.linear",
    "IRLSRegressorCV": "skdropout.linear",
    "IRLSClassifier": "skdropout.linear",
    "IRLSClassifierCV": "skdropout.linear",
    "AdaptiveDropoutClassifier": "skdropout.linear",
    "AdaptiveDropoutRegressor": "skdropout.linear",
    "AdaptiveDropoutRegressorCV": "skdropout.linear",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skdropout' has no attribute {name!r}")


__all__ = ["get_penalty", "penalties", *_LAZY]
