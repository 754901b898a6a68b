"""scikit-learn estimators for eq. (1) with the squared loss, from both sides of the duality:
the eta-trick (:class:`IRLSRegressor`) and adaptive dropout (:class:`AdaptiveDropoutRegressor`),
and with the logistic loss (:class:`IRLSClassifier`, :class:`AdaptiveDropoutClassifier`)."""

from ._dropout_classifier import AdaptiveDropoutClassifier
from ._dropout_regressor import AdaptiveDropoutRegressor, LocalMinimaWarning
from ._irls_classifier import IRLSClassifier
from ._irls_regressor import IRLSRegressor
from ._path import adaptive_dropout_path, irls_path
from ._cv import AdaptiveDropoutRegressorCV, IRLSClassifierCV, IRLSRegressorCV

__all__ = ["AdaptiveDropoutClassifier", "AdaptiveDropoutRegressor", "AdaptiveDropoutRegressorCV",
           "IRLSClassifier", "IRLSClassifierCV", "IRLSRegressor", "IRLSRegressorCV",
           "LocalMinimaWarning", "adaptive_dropout_path", "irls_path"]
