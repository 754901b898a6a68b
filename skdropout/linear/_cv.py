"""Cross-validated lam: IRLSRegressorCV and AdaptiveDropoutRegressorCV.

Each CV fold solves the whole warm-started path over one design (:func:`solve_path`) in
one joblib task, keeps only its coefficient arrays and scores every lam on its held-out
part; the full-data path is one more task, and the estimator is refitted at the chosen
lam. The folds x lams grid therefore runs unchanged under any joblib backend.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._dropout_regressor import AdaptiveDropoutRegressor
from ._irls_regressor import IRLSRegressor
from ._design import Design
from ._path import lam_grid, solve_path, start_policy
from ..penalties import resolve_penalty
from ._base import check_reweightable, with_penalty_factor

_OWN_PARAMS = ("lams", "eps", "cv", "scoring", "selection", "n_jobs")


def _path_task(estimator: BaseEstimator, X: Any, y: np.ndarray, sample_weight: Any,
               lams: np.ndarray, train: np.ndarray, test: np.ndarray | None,
               scorer: Any) -> dict[str, Any]:
    """One joblib task: the warm-started path on ``train`` (one design, coefficient arrays
    only), each lam scored on ``test``.

    Returns the path and, with a ``test`` part, the held-out mean squared error and score
    per lam.
    """
    sw_train = None if sample_weight is None else sample_weight[train]
    design = Design(X[train], y[train], sw_train, estimator.fit_intercept)
    path = solve_path(estimator, design, lams)
    if test is None:
        return {"path": path}
    X_test, y_test = X[test], y[test]
    sw_test = None if sample_weight is None else sample_weight[test]
    resid = y_test[:, None] - (np.asarray(X_test @ path.coefs) + path.intercepts)
    mse = np.average(resid**2, axis=0, weights=sw_test)
    if scorer is None:
        return {"path": path, "mse": mse, "scores": -mse}
    kwargs = {} if sw_test is None else {"sample_weight": sw_test}
    scores = np.array([scorer(_fixed(estimator, path, k, X.shape[1]), X_test, y_test, **kwargs)
                       for k in range(len(lams))])
    return {"path": path, "mse": mse, "scores": scores}


def _fixed(estimator: BaseEstimator, path: Any, k: int, n_features: int) -> BaseEstimator:
    """A fitted-looking copy of ``estimator`` that predicts with the k-th path point (what a
    scorer needs: ``predict``)."""
    est = clone(estimator).set_params(lam=float(path.lams[k]))
    est.coef_, est.intercept_, est.eta_ = path.coefs[:, k], float(path.intercepts[k]), \
        path.etas[:, k]
    est.n_features_in_ = n_features
    return est


def _check_fold_weights(sample_weight: np.ndarray, folds: list) -> None:
    """Every training and test part of a split needs a positive weight sum: a fit on
    zero weight has no data, and a held-out error averaged with zero weights is 0/0."""
    for k, (train, test) in enumerate(folds):
        for part, idx in (("training", train), ("test", test)):
            if not sample_weight[idx].sum() > 0:
                raise ValueError(
                    f"sample_weight sums to 0 on the {part} part of CV split {k} "
                    f"({len(idx)} samples), which leaves nothing to "
                    f"{'fit' if part == 'training' else 'score'}; "
                    "use a splitter whose folds all carry weight, e.g. cv=KFold(shuffle=True).")


def select_index(mean: np.ndarray, sem: np.ndarray, selection: str) -> int:
    """Index of the chosen lam on a decreasing grid, from the mean score over folds
    (greater is better) and its standard error: ``"min"`` the best mean (the largest lam on
    ties), ``"1se"`` the largest lam whose mean is within one standard error of the best."""
    best = int(np.argmax(mean))
    if selection == "min":
        return best
    return int(np.flatnonzero(mean >= mean[best] - sem[best])[0])


class _RegressorCV(RegressorMixin, BaseEstimator):
    """Shared fit/predict of the CV estimators; subclasses set ``_estimator_class``."""

    _estimator_class: type[BaseEstimator]

    _cv_constraints: dict = {
        "lams": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "eps": [Interval(Real, 0, 1, closed="neither")],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "selection": [StrOptions({"min", "1se"})],
        "n_jobs": [Integral, None],
    }

    @classmethod
    def _base_param_names(cls) -> list[str]:
        """The base estimator's parameters this CV estimator passes on (all but lam and
        warm_start)."""
        names = inspect.signature(cls._estimator_class.__init__).parameters
        return [n for n in names if n not in ("self", "lam", "warm_start")]

    def _base_estimator(self) -> BaseEstimator:
        params = {n: getattr(self, n) for n in self._base_param_names()}
        return self._estimator_class(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        base_tags = self._estimator_class().__sklearn_tags__()
        tags.input_tags.sparse = base_tags.input_tags.sparse
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None):
        """Cross-validate lam over the grid, then refit on all data at the chosen ``lam_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; scipy sparse matrices are accepted.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the fits and of the held-out errors.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware splitters (``GroupKFold``).

        Returns
        -------
        self
            The fitted estimator.
        """
        try:
            return self._fit(X, y, sample_weight, groups)
        except BaseException:  # a failed fit leaves no fitted attribute behind
            for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
                delattr(self, name)
            raise

    def _fit(self, X: Any, y: Any, sample_weight: Any, groups: Any):
        self._validate_params()
        base = self._base_estimator()
        sparse_ok = self.__sklearn_tags__().input_tags.sparse
        X, y = validate_data(self, X, y, accept_sparse="csr" if sparse_ok else False,
                             dtype=np.float64, y_numeric=True)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        penalty = resolve_penalty(self.penalty, self.penalty_params)
        check_reweightable(penalty)
        penalty = with_penalty_factor(penalty, getattr(self, "penalty_factor", None),
                                      X.shape[1])
        lams = lam_grid(X, y, penalty, self.lams, eps=self.eps,
                        fit_intercept=self.fit_intercept, sample_weight=sample_weight)
        folds = list(check_cv(self.cv, y, classifier=False).split(X, y, groups))
        if sample_weight is not None:
            _check_fold_weights(sample_weight, folds)
        scorer = None if self.scoring is None else check_scoring(self, scoring=self.scoring)
        seeds = self._task_seeds(len(folds) + 1)
        tasks = [(np.arange(X.shape[0]), None)] + list(folds)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_path_task)(self._seeded(self._path_base(base), seed), X, y,
                                sample_weight, lams,
                                train, test, scorer)
            for (train, test), seed in zip(tasks, seeds))
        full, cv_runs = results[0], results[1:]

        scores = np.column_stack([r["scores"] for r in cv_runs])  # (n_lams, n_folds)
        best = self._select(scores)
        self.lams_ = lams
        self.mse_path_ = np.column_stack([r["mse"] for r in cv_runs])
        self.cv_results_ = self._cv_results(lams, scores)
        self.best_index_ = best
        self.lam_ = float(lams[best])
        path = full["path"]
        self.coef_path_ = path.coefs
        self.intercept_path_ = path.intercepts
        self.eta_path_ = path.etas
        best_estimator = self._refit(self._seeded(base, seeds[0]), path, best, X, y,
                                     sample_weight)
        self.best_estimator_ = best_estimator
        self.coef_ = best_estimator.coef_
        self.intercept_ = best_estimator.intercept_
        self.eta_ = best_estimator.eta_
        self.n_iter_ = best_estimator.n_iter_
        return self

    @staticmethod
    def _refit(base: BaseEstimator, path: Any, best: int, X: np.ndarray, y: np.ndarray,
               sample_weight: Any) -> BaseEstimator:
        """The estimator fitted on all data at ``lam_``, started from the full-data path's
        point there where the path warm-starts (so that for non-convex penalties it stays on
        the cross-validated branch of stationary points; that point is a solution, so the
        fit only confirms it), else from the estimator's default start, as the path did."""
        est = clone(base).set_params(lam=float(path.lams[best]))
        _, warm = start_policy(est, resolve_penalty(est.penalty, est.penalty_params))
        if warm:
            est.set_params(warm_start=True)
            est.coef_, est.n_features_in_ = path.coefs[:, best].copy(), X.shape[1]
        est.fit(X, y, sample_weight=sample_weight)
        return est.set_params(warm_start=False)

    def _path_base(self, base: BaseEstimator) -> BaseEstimator:
        """The estimator whose parameters the paths run with (the refit uses ``base``)."""
        return base

    def _task_seeds(self, n_tasks: int) -> list[Any]:
        """One random_state per task, fixed before the tasks run, so that results do not
        depend on n_jobs or the backend (estimators without randomness get None)."""
        if "random_state" not in self._base_param_names():
            return [None] * n_tasks
        rs = self.random_state
        if rs is None or isinstance(rs, Integral):
            return [rs] * n_tasks
        rng = check_random_state(rs)
        return list(rng.randint(np.iinfo(np.int32).max, size=n_tasks))

    @staticmethod
    def _seeded(base: BaseEstimator, seed: Any) -> BaseEstimator:
        return base if seed is None else clone(base).set_params(random_state=seed)

    def _select(self, scores: np.ndarray) -> int:
        """Index of the chosen lam (grid decreasing; scores: greater is better).

        ``"min"``: the best mean score (the largest lam on ties). ``"1se"``: the largest lam
        whose mean score is within one standard error of the best.
        """
        return select_index(scores.mean(axis=1), self._sem(scores), self.selection)

    @staticmethod
    def _sem(scores: np.ndarray) -> np.ndarray:
        """Standard error of the mean score over folds (sample std / sqrt(n_folds))."""
        n_folds = scores.shape[1]
        if n_folds < 2:
            return np.zeros(scores.shape[0])
        return scores.std(axis=1, ddof=1) / np.sqrt(n_folds)

    def _cv_results(self, lams: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
        mean = scores.mean(axis=1)
        results: dict[str, np.ndarray] = {
            "param_lam": lams.copy(),
            "mean_test_score": mean,
            "std_test_score": scores.std(axis=1),
            "sem_test_score": self._sem(scores),
            # rank 1 = best; ties share the smallest rank, as GridSearchCV does
            "rank_test_score": np.searchsorted(np.sort(-mean), -mean, side="left") + 1,
        }
        for k in range(scores.shape[1]):
            results[f"split{k}_test_score"] = scores[:, k]
        return results

    def predict(self, X: Any) -> np.ndarray:
        """Predict with the estimator refitted at ``lam_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            The predictions ``X @ coef_ + intercept_``.
        """
        check_is_fitted(self)
        sparse_ok = self.__sklearn_tags__().input_tags.sparse
        X = validate_data(self, X, reset=False, accept_sparse="csr" if sparse_ok else False,
                          dtype=np.float64)
        return self.best_estimator_.predict(X)


_NOTES = """
    Notes
    -----
    The work is ``n_folds + 1`` joblib tasks: each fold's whole warm-started path (the
    lams along it run in order, each fit starting from the previous one), and the path on
    all data (``coef_path_``); ``best_estimator_`` is then refitted at ``lam_`` from that
    path's point there, so for non-convex penalties the refit lies on the same branch of
    stationary points that was cross-validated. ``n_jobs`` tasks run at once; the results depend neither on it nor on
    the backend, so the same code runs on a cluster through joblib. Dask::

        import joblib
        from dask.distributed import Client
        client = Client("tcp://scheduler:8786")  # registers joblib's "dask" backend
        with joblib.parallel_config(backend="dask"):
            est = {name}(n_jobs=-1).fit(X, y)

    Ray::

        import joblib
        from ray.util.joblib import register_ray
        register_ray()
        with joblib.parallel_config(backend="ray"):
            est = {name}(n_jobs=-1).fit(X, y)

    More than ``n_folds + 1`` workers are not used: use a larger ``cv`` to spread wider.
"""

_ATTRIBUTES = """
    Attributes
    ----------
    lam_ : float
        The chosen lam.
    lams_ : ndarray of shape (n_lams,)
        The grid, decreasing.
    best_index_ : int
        Index of ``lam_`` in ``lams_``.
    mse_path_ : ndarray of shape (n_lams, n_folds)
        Held-out mean squared error per lam and fold.
    cv_results_ : dict of ndarray
        As GridSearchCV's: ``param_lam``, ``mean_test_score``, ``std_test_score``,
        ``sem_test_score`` (standard error, used by ``selection="1se"``),
        ``rank_test_score`` and ``split{k}_test_score`` (greater is better; the default
        score is minus the mean squared error).
    coef_path_, eta_path_ : ndarray of shape (n_features, n_lams)
        The path on all data (coefficients and eta_hat, eq. 7).
    intercept_path_ : ndarray of shape (n_lams,)
        The intercepts of the path on all data.
    best_estimator_ : estimator
        The estimator fitted on all data at ``lam_``.
    coef_, intercept_, eta_, n_iter_
        Those of ``best_estimator_``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.
"""

_REFERENCES = """
    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, eq. (1) and Theorem 1.
       https://arxiv.org/abs/2106.07769
"""

_CV_PARAMS = """
    lams : int or array-like, default=100
        Number of lam values on the geometric grid from lam_max down to ``eps * lam_max``
        (see :func:`~skdropout.linear.irls_path`), or the grid itself.
    eps : float in (0, 1), default=1e-3
        Length of a generated grid: ``lams_[-1] / lams_[0]``.
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn: None is 5-fold ``KFold``.
    scoring : str or callable, default=None
        A scikit-learn scorer name or callable (greater is better); None: minus the mean
        squared error.
    selection : {"min", "1se"}, default="min"
        ``"min"``: the lam with the best mean score. ``"1se"``: the largest lam whose mean
        score is within one standard error of the best (sparser, more regularised).
    n_jobs : int, default=None
        Number of joblib tasks (folds, and the full-data path) run at once.
"""


class IRLSRegressorCV(_RegressorCV):
    __doc__ = f"""Eq. (1) with the squared loss solved by the eta-trick (eq. 6) [1]_, lam chosen
    by cross-validation over a warm-started path, as scikit-learn's
    :class:`~sklearn.linear_model.LassoCV`.

    Read more in the :ref:`User Guide <linear-models>`.

    Parameters
    ----------{_CV_PARAMS}    penalty, penalty_params, fit_intercept, solver, max_iter, tol, penalty_factor
        As in :class:`~skdropout.linear.IRLSRegressor` (``penalty_factor`` also shapes the
        grid: lam_max is taken over the penalised features only).
{_ATTRIBUTES}
    See Also
    --------
    IRLSRegressor : The estimator refitted at ``lam_``.
    AdaptiveDropoutRegressorCV : The same search for adaptive dropout.
    irls_path : The path each fold computes.
    skdropout.plotting.plot_cv : Draws ``cv_results_`` with the chosen lam.
{_NOTES.format(name="IRLSRegressorCV")}{_REFERENCES}
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_regression
    >>> from skdropout.linear import IRLSRegressorCV
    >>> X, y, w = make_regression(n_samples=60, n_features=8, n_informative=3, noise=1.0,
    ...                           coef=True, random_state=0)
    >>> est = IRLSRegressorCV(lams=20, cv=3).fit(X, y)
    >>> est.mse_path_.shape
    (20, 3)
    >>> np.flatnonzero(w).tolist(), np.flatnonzero(np.abs(est.coef_) > 1).tolist()
    ([0, 2, 5], [0, 2, 5])
    """

    _estimator_class = IRLSRegressor
    _parameter_constraints: dict = {
        **{k: v for k, v in IRLSRegressor._parameter_constraints.items()
           if k not in ("lam", "warm_start")},
        **_RegressorCV._cv_constraints,
    }

    def __init__(self, *, lams=100, eps=1e-3, cv=None, scoring=None, selection="min",
                 n_jobs=None, penalty="l1", penalty_params=None, fit_intercept=True,
                 solver="auto", max_iter=1000, tol=1e-6, penalty_factor=None):
        self.lams = lams
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.penalty_factor = penalty_factor


class AdaptiveDropoutRegressorCV(_RegressorCV):
    __doc__ = f"""Adaptive dropout (eq. 9, Algorithm 1) [1]_ with lam chosen by
    cross-validation over a warm-started path.

    Read more in the :ref:`User Guide <linear-models>`.

    Parameters
    ----------{_CV_PARAMS}    penalty, penalty_params, mask, strategy, learning_rate, max_iter, \
tol, random_state, fit_intercept, penalty_factor, check_minima
        As in :class:`~skdropout.linear.AdaptiveDropoutRegressor` (``check_minima`` acts
        on the refit at ``lam_`` only where it starts from the default start).
    path_tol : float, default=1e-5
        Tolerance of the paths (every fold's and the full-data one): ``max(tol,
        path_tol)``; the refit at ``lam_`` runs to ``tol``. Near its solution the dropout
        iteration gains the last decade of the KKT residual slowly (the masks of small
        coefficients have variance ``lam / (c_j eta_j)``), and the held-out errors that
        select lam do not need it: at a scaled KKT residual of 1e-5 they are within a few
        1e-4 (relative) of those at 1e-6. With a
        ``RandomState`` instance, one seed per fold is drawn from it before the folds run.
{_ATTRIBUTES}
    See Also
    --------
    AdaptiveDropoutRegressor : The estimator refitted at ``lam_``.
    IRLSRegressorCV : The same search for the eta-trick, faster.
    adaptive_dropout_path : The path each fold computes.
    skdropout.plotting.plot_cv : Draws ``cv_results_`` with the chosen lam.
{_NOTES.format(name="AdaptiveDropoutRegressorCV")}{_REFERENCES}
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_regression
    >>> from skdropout.linear import AdaptiveDropoutRegressorCV
    >>> X, y, w = make_regression(n_samples=60, n_features=5, n_informative=2, noise=1.0,
    ...                           coef=True, random_state=0)
    >>> est = AdaptiveDropoutRegressorCV(lams=4, cv=3, max_iter=100, random_state=0)
    >>> est.fit(X, y).mse_path_.shape
    (4, 3)
    >>> np.flatnonzero(w).tolist(), np.flatnonzero(np.abs(est.coef_) > 1).tolist()
    ([0, 1], [0, 1])
    """

    _estimator_class = AdaptiveDropoutRegressor
    _parameter_constraints: dict = {
        **{k: v for k, v in AdaptiveDropoutRegressor._parameter_constraints.items()
           if k not in ("lam", "warm_start")},
        **_RegressorCV._cv_constraints,
        "path_tol": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, lams=100, eps=1e-3, cv=None, scoring=None, selection="min",
                 n_jobs=None, penalty="l1", penalty_params=None, mask="gaussian",
                 strategy="proximal", learning_rate="auto", max_iter=5000, tol=1e-6,
                 random_state=None, fit_intercept=True, penalty_factor=None,
                 check_minima=True, path_tol=1e-5):
        self.lams = lams
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.mask = mask
        self.strategy = strategy
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.penalty_factor = penalty_factor
        self.check_minima = check_minima
        self.path_tol = path_tol

    def _path_base(self, base: BaseEstimator) -> BaseEstimator:
        return clone(base).set_params(tol=max(base.tol, self.path_tol))
