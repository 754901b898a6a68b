"""scikit-learn conventions of the linear estimators: check_estimator, pipelines, clone,
pickle, grid search, and clear errors on bad input (a failed fit leaves no fitted state)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted
from sklearn.exceptions import NotFittedError

from skdropout.linear import AdaptiveDropoutRegressor, IRLSRegressor
from skdropout.penalties import get_penalty

ESTIMATORS = [IRLSRegressor, AdaptiveDropoutRegressor]


# lam=0.01 because check_regressors_train needs R^2 > 0.5 on standardised y (it sets
# `alpha=0.01` on estimators that call their strength alpha).
@parametrize_with_checks([IRLSRegressor(lam=0.01),
                          AdaptiveDropoutRegressor(lam=0.01, tol=1e-10)])
def test_check_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=80, n_features=12, n_informative=4, noise=1.0,
                           random_state=0)
    return X * np.linspace(0.5, 5.0, 12) + 3.0, y


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pipeline_clone_pickle(Est, data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), Est(lam=1.0, random_state=0)
                         if Est is AdaptiveDropoutRegressor else Est(lam=1.0))
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.9
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))
    fresh = clone(pipe)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh[-1])
    np.testing.assert_allclose(fresh.fit(X, y).predict(X), pipe.predict(X))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_penalty_object_survives_clone_pickle_and_grid_search(Est, data):
    X, y = data
    est = Est(penalty=get_penalty("mcp", a=3.0), lam=0.5)
    assert clone(est).penalty == est.penalty
    grid = GridSearchCV(
        Est(max_iter=100) if Est is AdaptiveDropoutRegressor else Est(),
        [{"penalty": ["l1", "mcp"], "lam": [0.3, 3.0]},
         {"penalty": ["logsum"], "penalty_params": [{"eps": 1.0}, {"eps": 5.0}], "lam": [1.0]},
         {"penalty": [get_penalty("scad", a=3.7)], "lam": [1.0]}], cv=3)
    grid.fit(StandardScaler().fit_transform(X), y)
    assert len(grid.cv_results_["params"]) == 7
    assert grid.best_params_["lam"] in (0.3, 1.0, 3.0)
    pickle.loads(pickle.dumps(grid.best_estimator_)).predict(X)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("params, err, match", [
    ({"lam": 0.0}, ValueError, "lam"),
    ({"lam": -1.0}, ValueError, "lam"),
    ({"penalty": "nope"}, ValueError, "penalty"),
    ({"penalty": "logsum", "penalty_params": {"eps": "big"}}, TypeError, "eps"),
    ({"penalty": "logsum", "penalty_params": {"eps": -1.0}}, ValueError, "eps"),
    ({"penalty": "logsum", "penalty_params": {"bogus": 1.0}}, TypeError, "bogus|parameter"),
    ({"penalty_params": [1, 2]}, ValueError, "penalty_params"),
])
def test_bad_parameters_raise_and_leave_unfitted(Est, params, err, match, data):
    X, y = data
    est = Est(**params)
    with pytest.raises(err, match=match):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert not [k for k in vars(est) if k.endswith("_")]


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_bad_data_raise(Est, data):
    X, y = data
    for Xb, yb in [(np.where(np.eye(*X.shape, dtype=bool), np.nan, X), y),
                   (np.where(np.eye(*X.shape, dtype=bool), np.inf, X), y),
                   (X, np.r_[y[:-1], np.nan]), (X, np.r_[y[:-1], np.inf]), (X, y[:-1])]:
        est = Est()
        with pytest.raises(ValueError):
            est.fit(Xb, yb)
        assert not [k for k in vars(est) if k.endswith("_")]
    with pytest.raises(ValueError, match="sample_weight"):
        Est().fit(X, y, sample_weight=-np.ones(len(y)))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_failed_refit_forgets_previous_fit(Est, data):
    X, y = data
    est = Est(lam=1.0).fit(X, y)
    est.set_params(lam=-1.0)
    with pytest.raises(ValueError):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
