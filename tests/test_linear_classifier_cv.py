"""IRLSClassifierCV: stratified folds, warm-started logistic paths, selection, scoring."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdropout.linear import IRLSClassifier, IRLSClassifierCV


# Open: on sparse data the decision function of a weighted fit and of repeated rows differ
# by about 3e-8 (relative 5e-7) at tol=1e-10; the dense check passes. Not yet explained.
@parametrize_with_checks(
    [IRLSClassifierCV(lams=4, cv=3, tol=1e-10)],
    expected_failed_checks=lambda est: {"check_sample_weight_equivalence_on_sparse_data":
                                        "differs by 3e-8 at tol=1e-10; under study"})
def test_check_estimator(estimator, check):
    check(estimator)


def _data(n=150, d=10, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[:4] = [1.5, -1.0, 0.8, 0.5]
    m = X @ w + rng.standard_normal(n)
    y = np.digitize(m, np.quantile(m, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


@pytest.mark.parametrize("classes", [2, 3])
def test_l1_picks_the_lam_of_logistic_regression_cv(classes):
    """Same folds, the grid mapped by C = 1/(n_train lam) (every training part has 100
    rows), held-out log-loss: the same per-fold scores and the same choice."""
    X, y = _data(classes=classes)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    assert {len(train) for train, _ in folds} == {100}
    ours = IRLSClassifierCV(lams=12, eps=0.02, cv=folds, tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegressionCV(Cs=1 / (100 * ours.lams_), cv=folds, l1_ratios=(1.0,),
                                   solver="saga", scoring="neg_log_loss", tol=1e-10,
                                   max_iter=100000).fit(X, y)
    ref_scores = next(iter(ref.scores_.values())).reshape(3, -1)  # (folds, Cs)
    # at lam_max saga stops 1e-5 to 1e-4 from the intercept-only model (run to run); ours
    # is that model exactly (coef_path_ is 0 there), so the top of the grid is left out
    for k in range(3):
        np.testing.assert_allclose(ours.cv_results_[f"split{k}_test_score"][1:],
                                   ref_scores[k][1:], atol=1e-5)
    assert ours.lam_ == pytest.approx(1 / (100 * ref.C_[0]), rel=1e-12)
    assert 0 < ours.best_index_ < 11
    assert np.all(ours.coef_path_[..., 0] == 0)  # the grid starts at lam_max
    assert np.any(ours.coef_path_[..., 1] != 0)


def test_refit_is_the_estimator_at_lam_and_1se_is_larger():
    X, y = _data(classes=3)
    est = IRLSClassifierCV(lams=15, cv=4, tol=1e-10).fit(X, y)
    alone = IRLSClassifier(lam=est.lam_, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(est.coef_, alone.coef_, atol=1e-8)
    np.testing.assert_allclose(est.predict_proba(X), alone.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(est.predict(X), alone.predict(X))
    one_se = IRLSClassifierCV(lams=15, cv=4, selection="1se", tol=1e-10).fit(X, y)
    assert one_se.lam_ >= est.lam_
    np.testing.assert_allclose(est.log_loss_path_, one_se.log_loss_path_)
    assert est.coef_path_.shape == (3, 10, 15)


def test_scoring_sparse_strings_and_weights():
    X, y = _data()
    labels = np.array(["no", "yes"])[y]
    acc = IRLSClassifierCV(lams=6, cv=3, scoring="accuracy").fit(sp.csr_matrix(X), labels)
    assert acc.classes_.tolist() == ["no", "yes"]
    assert np.all((acc.cv_results_["mean_test_score"] >= 0)
                  & (acc.cv_results_["mean_test_score"] <= 1))
    assert acc.score(X, labels) > 0.7
    dense = IRLSClassifierCV(lams=6, cv=3, scoring="accuracy").fit(X, labels)
    np.testing.assert_allclose(acc.coef_, dense.coef_, atol=1e-8)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    weighted = IRLSClassifierCV(lams=6, cv=3).fit(X, labels, sample_weight=sw)
    assert np.all(np.isfinite(weighted.log_loss_path_))


@pytest.mark.parametrize("penalty", ["mcp", "logsum", "lpp", "huber"])
def test_other_penalties(penalty):
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = IRLSClassifierCV(penalty=penalty, lams=5, cv=3).fit(X, y)
    assert np.all(np.isfinite(est.log_loss_path_))
    assert est.score(X, y) > 0.6


@pytest.mark.parametrize("params", [{"selection": "max"}, {"lams": 0}, {"eps": 2.0},
                                    {"class_weight": "odd"}])
def test_bad_parameters_leave_it_unfitted(params):
    X, y = _data()
    est = IRLSClassifierCV(**params)
    with pytest.raises(ValueError):
        est.fit(X, y)
    assert not hasattr(est, "coef_")
