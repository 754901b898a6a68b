"""Deep sparsifiers (section 5 of the paper): torch layers and skorch estimators.

Needs torch and skorch (the ``nn`` extra). Methods (``method=``): ``vardrop_lr_ar``,
``vardrop_lr``, ``vardrop``, ``eta_trick``, ``adaprox``, ``adatikhonov``, ``logsum``,
``hardconcrete``, ``magnitude``, ``standout``. One pruning rule for all: a weight is zero in
the evaluated network when its keep probability (eq. 8) is below ``keep_min`` (0.05 unless
the estimator's ``keep_min`` says otherwise).

One module per method family holds its layer, its per-weight terms (autograd functions with
analytic gradients) and its training rules (skorch callbacks): ``_vardrop``,
``_hardconcrete``, ``_penalty`` (eta-trick, adaprox, adatikhonov, logsum), ``_magnitude``,
``_standout``.
"""

from ._base import KEEP_MIN, SparseLayer
from ._callbacks import LinearLRDecay, SparsityLog
from ._estimator import SparseNetClassifier, SparseNetRegressor
from ._hardconcrete import HardConcreteLayer
from ._magnitude import GradualPruning, MagnitudeLayer
from ._methods import METHODS, install_method
from ._models import LeNet5, LeNet300100
from ._penalty import EtaTrickLayer, PenaltyLayer, ProximalStep
from ._spec import MethodSpec
from ._standout import StandoutLayer, StandoutReset
from ._vardrop import KLWarmup, VarDropLayer

__all__ = [
    "KEEP_MIN", "METHODS", "EtaTrickLayer", "GradualPruning", "HardConcreteLayer",
    "KLWarmup", "LeNet300100", "LeNet5", "LinearLRDecay", "MagnitudeLayer", "MethodSpec",
    "PenaltyLayer", "ProximalStep", "SparseLayer", "SparseNetClassifier",
    "SparseNetRegressor", "SparsityLog", "StandoutLayer", "StandoutReset", "VarDropLayer",
    "install_method",
]
