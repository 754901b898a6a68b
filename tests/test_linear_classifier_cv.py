"""IRLSClassifierCV: stratified folds, warm-started logistic paths, selection, scoring."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdropout.linear import IRLSClassifier, IRLSClassifierCV
from skdropout.linear import _logistic, _logistic_path
from skdropout.linear._logistic_path import logistic_lam_max, solve_logistic_path
from skdropout.linear._path import geometric_grid


@parametrize_with_checks([IRLSClassifierCV(lams=4, eps=1e-2, cv=3, tol=1e-10)])
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


@pytest.mark.parametrize("classes", [2, 3])
def test_a_class_without_weight_is_an_error(classes):
    """As for IRLSClassifier: weights that give a class none leave no data to learn it
    from (and the loss with an intercept no minimiser), checked on all the data before any
    path."""
    X, y = _data(classes=classes)
    est = IRLSClassifierCV(lams=5)
    with pytest.raises(ValueError, match="sample_weight and class_weight"):
        est.fit(X, y, sample_weight=(y != classes - 1).astype(float))
    assert not hasattr(est, "coef_")
    est = IRLSClassifierCV(lams=5, class_weight={c: float(c != 0) for c in range(classes)})
    with pytest.raises(ValueError, match="sample_weight and class_weight"):
        est.fit(X, y)
    assert not hasattr(est, "lam_")


def _wide(classes, sparse, seed=1):
    """A d >> n problem (80 x 300) whose path keeps a few of the features."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((80, 300))
    X[np.abs(X) < 1.0] = 0.0
    w = np.zeros((300, classes))
    w[:6] = rng.standard_normal((6, classes)) * 2
    y = np.argmax(X @ w + rng.gumbel(size=(80, classes)), axis=1) if classes > 2 else \
        (X @ w[:, 0] + rng.logistic(size=80) > 0).astype(int)
    return (sp.csr_matrix(X) if sparse else X), y


def _path_and_cold_fits(X, y, monkeypatch=None, **params):
    est = IRLSClassifier(tol=1e-10, **params)
    classes = np.unique(y)
    problem = est._problem(X, np.searchsorted(classes, y), classes, np.ones(len(y)))
    lams = geometric_grid(lambda: logistic_lam_max(problem, est._penalty(X.shape[1])), 8,
                          0.02)
    path = solve_logistic_path(est, problem, lams)
    cold = [IRLSClassifier(lam=lam, tol=1e-10, **params).fit(X, y) for lam in lams]
    return path, cold


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("params", [{}, {"penalty": "elasticnet",
                                         "penalty_params": {"theta": 0.5}},
                                    {"penalty_factor": np.r_[0.0, 0.0, np.ones(298)]}])
def test_screened_path_equals_cold_fits(classes, sparse, params):
    """Each point of the warm-started path, fitted on the strong rule's features and then
    KKT-checked on all of them, is the fit from scratch on all features at that lam."""
    X, y = _wide(classes, sparse)
    path, cold = _path_and_cold_fits(X, y, **params)
    free = np.flatnonzero(params.get("penalty_factor", np.ones(1)) == 0)

    def identified(coef):
        # softmax is invariant to a common shift of an unpenalised feature's K coefficients
        coef = coef.copy()
        if classes > 2:
            coef[:, free] -= coef[:, free].mean(axis=0)
        return coef

    for k, fit in enumerate(cold):
        np.testing.assert_allclose(identified(path.coefs[..., k]), identified(fit.coef_),
                                   atol=1e-6)
        if classes == 2 or free.size == 0:
            np.testing.assert_allclose(path.intercepts[:, k], fit.intercept_, atol=1e-6)
        penalised = np.setdiff1d(np.arange(X.shape[1]), free)
        np.testing.assert_array_equal(path.coefs[:, penalised, k] != 0,
                                      fit.coef_[:, penalised] != 0)
    assert 0 < np.count_nonzero(path.coefs[..., -1]) < X.shape[1]


def _stalled_path(tol, monkeypatch, rule, stall):
    """The path of a binary fit with two unpenalised features (80 x 300, 10 lams) and its
    ConvergenceWarnings. ``rule=False`` turns the patience rule off; ``stall=True`` makes
    every Newton step of the fit's line search accept the point it starts from (a cycle
    that moves and lowers nothing: a stall whatever the machine's rounding)."""
    if not rule:
        monkeypatch.setattr(_logistic, "_PATIENCE", 10**6)
    if stall:
        monkeypatch.setattr(_logistic, "_line_search",
                            lambda problem, penalty, lam, k, M, W, b, F, *rest: (W, b, M, F))
    X, y = _wide(2, sparse=False)
    est = IRLSClassifier(tol=tol, max_iter=60, penalty_factor=np.r_[0.0, 0.0, np.ones(298)])
    problem = est._problem(X, y, np.unique(y), np.ones(len(y)))
    lams = geometric_grid(lambda: logistic_lam_max(problem, est._penalty(X.shape[1])), 10,
                          0.02)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", ConvergenceWarning)
        path = solve_logistic_path(est, problem, lams)
    return path, [str(r.message) for r in record if r.category is ConvergenceWarning]


@pytest.mark.parametrize("rule", [True, False])
def test_a_stall_ends_by_the_patience_rule(rule, monkeypatch):
    """Newton cycles that leave F and the KKT residual where they are: the patience rule
    stops each fit (each round of its working set) after ``_PATIENCE`` of them, before
    max_iter, and says so; without the rule the fit runs to max_iter and ends at the same
    residual."""
    path, messages = _stalled_path(1e-6, monkeypatch, rule, stall=True)
    assert messages
    for message in messages:
        if rule:
            steps = int(re.search(r"after (\d+) of", message).group(1))
            assert steps % _logistic._PATIENCE == 0 and steps < 60
            assert "none of which lowers" in message
        else:
            assert "did not converge in 60 Newton steps" in message
    residuals = [float(re.search(r"residual ([0-9.e+-]+) ", m).group(1)) for m in messages]
    monkeypatch.undo()
    _, other = _stalled_path(1e-6, monkeypatch, not rule, stall=True)
    assert [float(re.search(r"residual ([0-9.e+-]+) ", m).group(1)) for m in other] == residuals


def test_a_residual_wandering_at_rounding_level_is_no_progress(monkeypatch):
    """Cycles that leave F where it is while the KKT residual wanders at its rounding level,
    each a little below the last (new smallest values by chance): no progress, so the
    patience rule stops each fit before max_iter, as for a residual that stays put (each
    new smallest value restarted the count, and the fits ran to max_iter)."""
    kkt = _logistic._kkt
    calls = []

    def wandering(*args):
        calls.append(1)
        return kkt(*args) * 0.99 ** len(calls) + 1e-300

    monkeypatch.setattr(_logistic, "_kkt", wandering)
    _, messages = _stalled_path(1e-6, monkeypatch, rule=True, stall=True)
    assert messages
    for message in messages:
        assert "none of which lowers" in message, message
        assert int(re.search(r"after (\d+) of", message).group(1)) < 60


def test_a_real_stall_at_rounding_level_ends_before_max_iter(monkeypatch):
    """At a tolerance below any residual the arithmetic reaches (1e-20: the scaled KKT
    residuals of these fits end between 1e-17 and 1e-15, or higher, wherever a machine's
    rounding puts them) the fits of the path stall: each stops by the rounding rules (no
    step lowers F, or ``_PATIENCE`` cycles without visible progress) before max_iter,
    warns with the residual it reached, and that residual is the one of a solution."""
    path, messages = _stalled_path(1e-20, monkeypatch, rule=True, stall=False)
    assert messages
    for message in messages:
        steps = int(re.search(r"after (\d+) of", message).group(1))
        residual = float(re.search(r"residual ([0-9.e+-]+) ", message).group(1))
        assert steps < 60 and "none of which lowers" in message and residual < 1e-8
    assert 0 < np.count_nonzero(path.coefs[..., -1]) < 300


@pytest.mark.parametrize("classes", [2, 3])
def test_kkt_check_adds_what_the_strong_rule_leaves_out(classes, monkeypatch):
    """With a strong rule that keeps only the feature that sets the scale, the KKT check
    alone must bring in every feature of the solution, within the one fit of each lam (the
    strong set is the first round of that fit's working set, whose later rounds take in
    the violators; the fit is not repeated per round of violators)."""
    X, y = _wide(classes, sparse=False)
    calls, solves = [], []

    def top_only(G, W, threshold, threshold_prev, top):
        calls.append(top)
        return np.array([top])

    solve = IRLSClassifier._solve

    def counted_solve(self, *args, **kwargs):
        if kwargs.get("working_set") is not None:  # the path's fits, not the cold ones
            solves.append(1)
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(_logistic_path, "_strong_set", top_only)
    monkeypatch.setattr(IRLSClassifier, "_solve", counted_solve)
    path, cold = _path_and_cold_fits(X, y)
    assert len(calls) == 8 and len(solves) == 8
    for k, fit in enumerate(cold):
        np.testing.assert_allclose(path.coefs[..., k], fit.coef_, atol=1e-6)
    assert np.count_nonzero(np.any(path.coefs[..., -1] != 0, axis=0)) > 1


@pytest.mark.parametrize("classes", [2, 3])
def test_screened_rounds_reuse_the_checks_state_to_the_bit(classes, monkeypatch):
    """A sparse screened fit's rounds start from the margins, loss and gradient rows that
    the working set's check computed at the same (W, b) (no product, loss or margins of
    their own): the path (every lam several rounds, the strong rule keeping only ``top``)
    is bit for bit the one whose rounds recompute them."""
    X, y = _wide(classes, sparse=True)
    X = sp.csr_matrix(sp.hstack([X, X[:, ::-1] * 0.5]))  # 600 features: above _OUTER_WS_SPARSE
    est = IRLSClassifier(tol=1e-8)
    problem = est._problem(X, y, np.unique(y), np.ones(len(y)))
    lams = geometric_grid(lambda: logistic_lam_max(problem, est._penalty(X.shape[1])), 8,
                          0.02)
    monkeypatch.setattr(_logistic_path, "_strong_set",
                        lambda G, W, threshold, threshold_prev, top: np.array([top]))
    newton, starts = _logistic._newton, []

    def recorded(*args, start=None, **kwargs):
        starts.append(start is not None)
        return newton(*args, start=start, **kwargs)

    monkeypatch.setattr(_logistic, "_newton", recorded)
    reused = solve_logistic_path(est, problem, lams)
    assert len(starts) > len(lams) and all(starts)
    monkeypatch.setattr(_logistic, "_newton",
                        lambda *args, start=None, **kwargs: newton(*args, **kwargs))
    recomputed = solve_logistic_path(est, problem, lams)
    np.testing.assert_array_equal(reused.coefs, recomputed.coefs)
    np.testing.assert_array_equal(reused.intercepts, recomputed.intercepts)
    assert np.count_nonzero(reused.coefs[..., -1]) > 1


def _check_data():
    """The data of scikit-learn's sample-weight equivalence check (repeated rows and
    LeaveOneGroupOut folds), the case of the rounding limit below."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    X_rep = np.vstack([X.repeat(sw, axis=0), X, X])
    y_rep = np.hstack([y.repeat(sw), y, y])
    return X_rep, y_rep


def test_the_bottom_of_a_nearly_separable_path_reaches_tol_1e_10():
    """On this nearly separable 3-class problem F is about 0.011 while the log-losses it sums
    have margins near 30: a polish whose acceptance test scales with |F| refuses exact Newton
    steps there and stops above tol (weighted and repeated-row fits then end 3e-8 apart). The
    fit down to lam_max/1000 must reach tol=1e-10 without a ConvergenceWarning."""
    X, y = _check_data()
    folds = [(np.arange(len(y) - 30), np.arange(len(y) - 30, len(y)))]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        IRLSClassifierCV(lams=4, cv=folds + [(np.arange(len(y) - 15),
                                              np.arange(len(y) - 15, len(y)))],
                         tol=1e-10).fit(X, y)


def test_a_path_whose_fits_separate_where_the_penalty_is_flat_warns_once():
    """MCP on 80 Gaussian samples of 300 features: below a lam the fits of every path stop
    where the model separates the data with every coefficient flat (no minimiser). Each
    path warns once, naming how many of its lams did so, instead of once per fit; the
    paths' fits at those lams are the single fits' (which warn each)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 300))
    y = (X[:, :5] @ rng.standard_normal(5) + 0.5 * rng.standard_normal(80) > 0).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cv = IRLSClassifierCV(penalty="mcp", lams=20, cv=3).fit(X, y)
    paths = [str(w.message) for w in caught if "lams of a path" in str(w.message)]
    assert 1 <= len(paths) <= 4  # the 3 folds' paths and the path on all the data
    assert all(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert not [w for w in caught if "Newton steps at lam" in str(w.message)]
    count = int(re.search(r"stopped at (\d+) of the 20 lams", paths[-1]).group(1))
    assert 1 <= count <= 20
    lam = float(cv.lams_[-1])
    with pytest.warns(ConvergenceWarning, match="separates the training data"):
        IRLSClassifier(penalty="mcp", lam=lam).fit(X, y)
