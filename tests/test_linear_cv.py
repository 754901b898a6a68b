"""IRLSRegressorCV / AdaptiveDropoutRegressorCV: scikit-learn conventions, agreement with
LassoCV on the same folds and grid, the one-standard-error rule, backends, plots."""

import inspect

import joblib
import matplotlib
import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LassoCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdropout.linear import (AdaptiveDropoutRegressor, AdaptiveDropoutRegressorCV,
                              IRLSRegressor, IRLSRegressorCV, irls_path)
from skdropout.linear._design import Design
from skdropout.linear._irls import kkt_residuals
from skdropout.penalties import resolve_penalty
from skdropout.plotting import plot_cv, plot_path

matplotlib.use("Agg")

@parametrize_with_checks(
    [IRLSRegressorCV(lams=3, cv=2, eps=0.1),
     AdaptiveDropoutRegressorCV(lams=2, cv=2, eps=0.1, tol=1e-10, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=80, n_features=30, n_informative=5, noise=8.0,
                           random_state=3)
    return X, y


@pytest.mark.parametrize("cv_class, base", [(IRLSRegressorCV, IRLSRegressor),
                                            (AdaptiveDropoutRegressorCV,
                                             AdaptiveDropoutRegressor)])
def test_cv_takes_every_base_parameter(cv_class, base):
    own = set(inspect.signature(cv_class).parameters)
    wanted = set(inspect.signature(base).parameters) - {"lam", "warm_start"}
    assert wanted <= own
    for name in wanted:
        assert (inspect.signature(cv_class).parameters[name].default
                == inspect.signature(base).parameters[name].default)


def test_same_lam_and_coefficients_as_lasso_cv(data):
    X, y = data
    folds = KFold(5, shuffle=True, random_state=0)
    ours = IRLSRegressorCV(lams=30, cv=folds, tol=1e-12, max_iter=1000).fit(X, y)
    ref = LassoCV(alphas=30, cv=folds, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.lams_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    assert ours.lam_ == ref.alpha_
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-5)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), atol=1e-4)


def test_path_and_refit(data):
    X, y = data
    est = IRLSRegressorCV(lams=10, cv=3).fit(X, y)
    lams, coefs, intercepts, etas = irls_path(X, y, lams=est.lams_)
    np.testing.assert_allclose(est.coef_path_, coefs)
    np.testing.assert_allclose(est.intercept_path_, intercepts)
    np.testing.assert_allclose(est.eta_path_, etas)
    np.testing.assert_allclose(est.coef_, coefs[:, est.best_index_])
    assert est.best_estimator_.lam == est.lam_ == est.lams_[est.best_index_]
    np.testing.assert_allclose(est.predict(X), est.best_estimator_.predict(X))


@pytest.mark.parametrize("cv_class, base", [(IRLSRegressorCV, IRLSRegressor),
                                            (AdaptiveDropoutRegressorCV,
                                             AdaptiveDropoutRegressor)])
def test_cv_fits_one_estimator_the_refit_at_lam(data, cv_class, base, monkeypatch):
    """The folds run the path core (coefficient arrays); only the refit is an estimator fit."""
    X, y = data
    fits = []
    fit = base.fit
    monkeypatch.setattr(base, "fit", lambda self, *a, **k: fits.append(self.lam) or
                        fit(self, *a, **k))
    est = cv_class(lams=6, cv=3, max_iter=200, tol=1e-6).fit(X, y)
    assert fits == [est.lam_]
    assert not hasattr(est.best_estimator_, "_path_design")


def test_one_standard_error_rule(data):
    X, y = data
    folds = KFold(4, shuffle=True, random_state=1)
    best = IRLSRegressorCV(lams=25, cv=folds).fit(X, y)
    one_se = IRLSRegressorCV(lams=25, cv=folds, selection="1se").fit(X, y)
    assert one_se.lam_ >= best.lam_
    # independently, from the per-fold errors
    mse = best.mse_path_
    mean, se = mse.mean(axis=1), mse.std(axis=1, ddof=1) / np.sqrt(mse.shape[1])
    k = np.argmin(mean)
    assert best.lam_ == best.lams_[k]
    expected = best.lams_[mean <= mean[k] + se[k]].max()
    assert one_se.lam_ == expected
    assert one_se.lam_ > best.lam_  # this problem has a flat enough minimum


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_results_do_not_depend_on_n_jobs(data, backend):
    X, y = data
    kwargs = {"lams": 8, "cv": 3, "penalty": "mcp"}
    serial = IRLSRegressorCV(n_jobs=1, **kwargs).fit(X, y)
    with joblib.parallel_config(backend=backend):
        parallel = IRLSRegressorCV(n_jobs=2, **kwargs).fit(X, y)
    np.testing.assert_allclose(parallel.mse_path_, serial.mse_path_, rtol=1e-10)
    np.testing.assert_allclose(parallel.coef_path_, serial.coef_path_, atol=1e-12)
    assert parallel.lam_ == serial.lam_


def test_adaptive_dropout_cv_is_reproducible_across_backends(data):
    X, y = data
    kwargs = {"lams": 3, "cv": 2, "max_iter": 20, "random_state": 0}
    serial = AdaptiveDropoutRegressorCV(n_jobs=1, **kwargs).fit(X, y)
    with joblib.parallel_config(backend="threading"):
        parallel = AdaptiveDropoutRegressorCV(n_jobs=2, **kwargs).fit(X, y)
    np.testing.assert_allclose(parallel.mse_path_, serial.mse_path_, rtol=1e-10)
    assert parallel.lam_ == serial.lam_
    assert isinstance(serial.best_estimator_, AdaptiveDropoutRegressor)
    assert serial.best_estimator_.lam == serial.lam_
    np.testing.assert_allclose(parallel.coef_, serial.coef_, rtol=1e-10)


def test_scoring(data):
    X, y = data
    folds = KFold(3, shuffle=True, random_state=0)
    default = IRLSRegressorCV(lams=6, cv=folds).fit(X, y)
    named = IRLSRegressorCV(lams=6, cv=folds, scoring="neg_mean_squared_error").fit(X, y)
    np.testing.assert_allclose(named.cv_results_["mean_test_score"],
                               -default.mse_path_.mean(axis=1), rtol=1e-10)
    assert named.lam_ == default.lam_
    r2 = IRLSRegressorCV(lams=6, cv=folds, scoring="r2").fit(X, y)
    train, test = next(folds.split(X))
    k = 2
    est = IRLSRegressor(lam=r2.lams_[0]).fit(X[train], y[train])
    for lam in r2.lams_[1:k + 1]:
        est.set_params(lam=lam, warm_start=True).fit(X[train], y[train])
    assert r2.cv_results_["split0_test_score"][k] == pytest.approx(
        r2_score(y[test], est.predict(X[test])), rel=1e-6)
    assert r2.cv_results_["rank_test_score"][np.argmax(r2.cv_results_["mean_test_score"])] == 1


def test_groups_reach_the_splitter(data):
    X, y = data
    groups = np.arange(len(y)) % 4
    est = IRLSRegressorCV(lams=4, cv=GroupKFold(4)).fit(X, y, groups=groups)
    assert est.mse_path_.shape == (4, 4)


@pytest.mark.parametrize("params", [{"selection": "max"}, {"lams": 0}, {"eps": 2.0},
                                    {"scoring": "nope"}, {"cv": "three"},
                                    {"penalty": "nope"}, {"lams": [1.0, -2.0]}])
def test_bad_parameters_leave_it_unfitted(data, params):
    X, y = data
    est = IRLSRegressorCV(**params)
    with pytest.raises(ValueError):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)


def test_bad_data(data):
    X, y = data
    Xn = X.copy()
    Xn[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        IRLSRegressorCV(lams=3).fit(Xn, y)
    with pytest.raises(ValueError):
        IRLSRegressorCV(lams=3).fit(X, y[:-2])


def test_plots_return_axes(data):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    X, y = data
    est = IRLSRegressorCV(lams=8, cv=3, selection="1se").fit(X, y)
    ax = plot_path(est)
    assert isinstance(ax, Axes) and ax.get_xscale() == "log"
    assert ax.get_xlabel() == "$\\lambda$"
    # one line per coefficient, then one at the lam of each selection rule
    assert len(ax.get_lines()) == X.shape[1] + 2
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), est.coef_path_[0])
    by_min = IRLSRegressorCV(lams=8, cv=3).fit(X, y)
    marks = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()[-2:]}
    assert marks == {f"$\\lambda$ min ({by_min.lam_:.3g})": by_min.lam_,
                     f"$\\lambda$ 1se = lam_ ({est.lam_:.3g})": est.lam_}
    _, given = plt.subplots()
    assert plot_cv(by_min, ax=given) is given
    mean = by_min.mse_path_.mean(axis=1)
    np.testing.assert_allclose(given.get_lines()[0].get_ydata(), mean)
    # the 1-SE level, then the min choice (lam_ here) and the 1-SE choice
    sem = by_min.mse_path_.std(axis=1, ddof=1) / np.sqrt(3)
    best = int(np.argmin(mean))
    assert given.get_lines()[1].get_ydata()[0] == pytest.approx(mean[best] + sem[best])
    assert given.get_lines()[2].get_xdata()[0] == by_min.lam_
    assert given.get_lines()[3].get_xdata()[0] == est.lam_
    assert "1se" in given.get_lines()[3].get_label()
    r2 = IRLSRegressorCV(lams=5, cv=3, scoring="r2").fit(X, y)
    np.testing.assert_allclose(plot_cv(r2).get_lines()[0].get_ydata(),
                               r2.cv_results_["mean_test_score"])
    assert isinstance(plot_path(irls_path(X, y, lams=4)), Axes)
    with pytest.raises(TypeError, match="plot_path"):
        plot_path(IRLSRegressor().fit(X, y))
    with pytest.raises(TypeError, match="plot_cv"):
        plot_cv(IRLSRegressor().fit(X, y))
    plt.close("all")


def test_adaptive_dropout_cv_picks_the_lam_of_irls_cv(data):
    """The duality (Theorem 1): both sides reach the same solutions, so on standardised data
    the two CV curves agree and pick the same lam."""
    X, y = data
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    folds = KFold(3, shuffle=True, random_state=0)
    irls = IRLSRegressorCV(lams=6, eps=0.01, cv=folds).fit(X, y)
    drop = AdaptiveDropoutRegressorCV(lams=6, eps=0.01, cv=folds, max_iter=100,
                                      random_state=0).fit(X, y)
    np.testing.assert_allclose(drop.lams_, irls.lams_)
    assert drop.lam_ == irls.lam_
    k = irls.best_index_
    np.testing.assert_allclose(drop.mse_path_[k], irls.mse_path_[k], rtol=0.15)


@pytest.mark.parametrize("cv_class", [IRLSRegressorCV, AdaptiveDropoutRegressorCV])
def test_a_fold_with_zero_weight_is_refused_clearly(data, cv_class):
    """A test fold whose weights are all 0 made the held-out error 0/0 (ZeroDivisionError)."""
    X, y = data
    sw = np.ones(len(y))
    sw[:16] = 0.0  # exactly the first test fold of KFold(5)
    est = cv_class(lams=3, cv=KFold(5))
    with pytest.raises(ValueError, match=r"sample_weight sums to 0 on the test part of CV "
                                         r"split 0 \(16 samples\)"):
        est.fit(X, y, sample_weight=sw)
    assert not hasattr(est, "lam_")
    spread = np.ones(len(y))
    spread[::5] = 0.0  # zeros in every fold: fine
    est.fit(X, y, sample_weight=spread)
    assert hasattr(est, "lam_")


@pytest.mark.parametrize("selection", ["min", "1se"])
def test_adaptive_dropout_cv_picks_the_lam_of_irls_cv_on_a_wide_problem(selection):
    """d >> n (150 x 1500): the dropout path reaches the IRLS path at every lam (zeros
    re-enter along it), so both CV curves and choices agree, with either rule."""
    X, y = make_regression(n_samples=150, n_features=1500, n_informative=15, noise=1.0,
                           random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    folds = KFold(3, shuffle=True, random_state=0)
    irls = IRLSRegressorCV(lams=6, eps=0.03, cv=folds, selection=selection).fit(X, y)
    drop = AdaptiveDropoutRegressorCV(lams=6, eps=0.03, cv=folds, selection=selection,
                                      random_state=0).fit(X, y)
    assert drop.lam_ == irls.lam_
    np.testing.assert_allclose(drop.mse_path_, irls.mse_path_, rtol=1e-3)


def test_adaptive_dropout_cv_paths_run_to_path_tol_and_the_refit_to_tol():
    """The paths stop at a scaled KKT residual of max(tol, path_tol) (held-out errors within
    a few 1e-4, relative, of those of paths run to tol; the same lam), the refit at lam_ at
    tol."""
    X, y = make_regression(n_samples=150, n_features=1500, n_informative=15, noise=30.0,
                           random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    kw = dict(lams=6, eps=0.03, cv=KFold(3, shuffle=True, random_state=0), random_state=0)
    loose = AdaptiveDropoutRegressorCV(path_tol=1e-3, **kw).fit(X, y)
    exact = AdaptiveDropoutRegressorCV(path_tol=1e-6, **kw).fit(X, y)
    default = AdaptiveDropoutRegressorCV(**kw).fit(X, y)
    assert default.lam_ == exact.lam_
    np.testing.assert_allclose(default.mse_path_, exact.mse_path_, rtol=5e-4)
    assert not np.allclose(loose.mse_path_, exact.mse_path_, rtol=1e-7, atol=0)
    for est in (loose, exact, default):
        assert est.best_estimator_.kkt_ <= 1e-6
    penalty = resolve_penalty("l1")
    design = Design(X, y, None, True)
    scale = np.max(np.abs(design.xty()))
    kkt = [np.max(kkt_residuals(design.gradient(w), w, penalty, lam)) / scale
           for w, lam in zip(loose.coef_path_.T, loose.lams_)]
    assert max(kkt) <= 1e-3 and max(kkt) > 1e-6
