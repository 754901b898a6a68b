"""Deep sparsifiers (section 5 of the paper): torch layers and skorch estimators.

Needs torch and skorch (the ``nn`` extra). Methods (``method=``): ``vardrop_lr_ar``,
``vardrop_lr``, ``vardrop``, ``eta_trick``, ``adaprox``, ``adatikhonov``, ``logsum``,
``hardconcrete``, ``magnitude``, ``standout``. One pruning rule for all: a weight is zero in
the evaluated network when its keep probability (eq. 8) is below 0.05.
"""

from ._callbacks import LinearLRDecay, SparsityRules
from ._estimator import SparseNetClassifier, SparseNetRegressor
from ._layers import (KEEP_MIN, EtaTrickLayer, HardConcreteLayer, MagnitudeLayer,
                      PenaltyLayer, SparseLayer, StandoutLayer, VarDropLayer)
from ._methods import METHODS, install_method
from ._models import LeNet5, LeNet300100

__all__ = [
    "KEEP_MIN", "METHODS", "EtaTrickLayer", "HardConcreteLayer", "LinearLRDecay", "LeNet300100", "LeNet5",
    "MagnitudeLayer", "PenaltyLayer", "SparseLayer", "SparseNetClassifier",
    "SparseNetRegressor", "SparsityRules", "StandoutLayer", "VarDropLayer", "install_method",
]
