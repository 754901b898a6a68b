"""scikit-learn estimators for eq. (1) with the squared loss, from both sides of the duality:
the eta-trick (:class:`IRLSRegressor`) and adaptive dropout (:class:`AdaptiveDropoutRegressor`)."""

from ._irls_regressor import IRLSRegressor

__all__ = ["IRLSRegressor"]
