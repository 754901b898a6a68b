"""Cross-validated lam: IRLSRegressorCV, AdaptiveDropoutRegressorCV and IRLSClassifierCV.

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
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._dropout_regressor import AdaptiveDropoutRegressor
from ._irls_classifier import IRLSClassifier
from ._irls_regressor import IRLSRegressor
from ._blas_pool import one_blas_pool
from ._classifier_base import check_class_totals, sample_weights
from ._design import Design
from ._path import geometric_grid, lam_grid, solve_path, start_policy
from ._logistic_path import logistic_lam_max, solve_logistic_path
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


def _point(path: Any, k: int) -> dict[str, Any]:
    """The fitted attributes of the k-th point of a path (regressor: ``coefs`` of shape
    (n_features, n_lams); classifier: (n_columns, n_features, n_lams))."""
    if path.coefs.ndim == 2:
        return {"coef_": path.coefs[:, k].copy(), "intercept_": float(path.intercepts[k]),
                "eta_": path.etas[:, k].copy()}
    return {"coef_": path.coefs[..., k].copy(), "intercept_": path.intercepts[:, k].copy(),
            "eta_": path.etas[..., k].copy()}


def _fixed(estimator: BaseEstimator, path: Any, k: int, n_features: int,
           **fitted: Any) -> BaseEstimator:
    """A fitted-looking copy of ``estimator`` that predicts with the k-th path point (what a
    scorer needs: ``predict``, ``predict_proba``); ``fitted``: further attributes
    (``classes_``)."""
    est = clone(estimator).set_params(lam=float(path.lams[k]))
    for name, value in {**_point(path, k), **fitted}.items():
        setattr(est, name, value)
    est.n_features_in_ = n_features
    return est


def _logistic_path_task(estimator: BaseEstimator, X: Any,
                        target: tuple[np.ndarray, np.ndarray], sample_weight: np.ndarray,
                        lams: np.ndarray, train: np.ndarray, test: np.ndarray | None,
                        scorer: Any) -> dict[str, Any]:
    """One joblib task of IRLSClassifierCV: the warm-started logistic path on ``train``,
    each lam scored on ``test`` (held-out log-loss, weighted by ``sample_weight``);
    ``target``: the class codes and the classes they index."""
    codes, classes = target
    problem = estimator._problem(X[train], codes[train], classes, sample_weight[train])
    path = solve_logistic_path(estimator, problem, lams)
    if test is None:
        return {"path": path}
    X_test, c_test, sw_test = X[test], codes[test], sample_weight[test]
    K, d, n_lams = path.coefs.shape
    flat = np.asarray(X_test @ path.coefs.transpose(1, 0, 2).reshape(d, K * n_lams))
    M = flat.reshape(-1, K, n_lams).transpose(2, 0, 1) + path.intercepts.T[:, None, :]
    # M: (n_lams, n_test, n_columns)
    if classes.size == 2:
        logp = -np.logaddexp(0.0, np.where(c_test == 1, -1.0, 1.0) * M[..., 0])
    else:
        logp = (np.take_along_axis(M, np.broadcast_to(c_test[None, :, None],
                                                      M.shape[:2] + (1,)), axis=2)[..., 0]
                - logsumexp(M, axis=2))
    log_loss = -(logp @ sw_test) / sw_test.sum()
    if scorer is None:
        return {"path": path, "log_loss": log_loss, "scores": -log_loss}
    y_test = classes[c_test]
    scores = np.array([scorer(_fixed(estimator, path, k, X.shape[1], classes_=classes),
                              X_test, y_test, sample_weight=sw_test)
                       for k in range(len(lams))])
    return {"path": path, "log_loss": log_loss, "scores": scores}


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


class _PathCV(BaseEstimator):
    """Shared fit of the CV estimators: the grid, the folds, one joblib task per fold's
    warm-started path, the selection and the refit. Subclasses set ``_estimator_class`` and
    the data hooks (``_check_data``, ``_grid``, ``_task``, ``_errors``)."""

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

    @one_blas_pool
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

    def _validated(self, X: Any, **kwargs: Any) -> Any:
        sparse_ok = self.__sklearn_tags__().input_tags.sparse
        return validate_data(self, X, accept_sparse="csr" if sparse_ok else False,
                             dtype=np.float64, **kwargs)

    def _fit(self, X: Any, y: Any, sample_weight: Any, groups: Any):
        self._validate_params()
        base = self._base_estimator()
        X, target, sample_weight = self._check_data(X, y, sample_weight)
        penalty = resolve_penalty(self.penalty, self.penalty_params)
        check_reweightable(penalty)
        penalty = with_penalty_factor(penalty, getattr(self, "penalty_factor", None),
                                      X.shape[1])
        lams = self._grid(base, X, target, penalty, sample_weight)
        folds = list(check_cv(self.cv, y, classifier=is_classifier(self)).split(X, y, groups))
        if sample_weight is not None:
            _check_fold_weights(sample_weight, folds)
        scorer = None if self.scoring is None else check_scoring(self, scoring=self.scoring)
        seeds = self._task_seeds(len(folds) + 1)
        tasks = [(np.arange(X.shape[0]), None)] + list(folds)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(self._task)(self._seeded(self._path_base(base), seed), X, target, sample_weight, lams,
                                train, test, scorer)
            for (train, test), seed in zip(tasks, seeds))
        full, cv_runs = results[0], results[1:]

        scores = np.column_stack([r["scores"] for r in cv_runs])  # (n_lams, n_folds)
        best = self._select(scores)
        self.lams_ = lams
        self._errors(cv_runs)
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
        for name in ("coef_", "intercept_", "eta_", "n_iter_", *self._extra_attributes):
            setattr(self, name, getattr(best_estimator, name))
        return self

    _extra_attributes: tuple[str, ...] = ()

    def _refit(self, base: BaseEstimator, path: Any, best: int, X: Any, y: Any,
               sample_weight: Any) -> BaseEstimator:
        """The estimator fitted on all data at ``lam_``, started from the full-data path's
        point there where the path warm-starts (so that for non-convex penalties it stays on
        the cross-validated branch of stationary points; that point is a solution, so the
        fit only confirms it), else from the estimator's default start, as the path did."""
        est = clone(base).set_params(lam=float(path.lams[best]))
        _, warm = start_policy(est, resolve_penalty(est.penalty, est.penalty_params))
        if warm:
            est.set_params(warm_start=True)
            for name, value in {**_point(path, best), **self._warm_attributes()}.items():
                setattr(est, name, value)
            est.n_features_in_ = X.shape[1]
        est.fit(X, y, sample_weight=sample_weight)
        return est.set_params(warm_start=False)

    def _path_base(self, base: BaseEstimator) -> BaseEstimator:
        """The estimator whose parameters the paths run with (the refit uses ``base``)."""
        return base

    def _warm_attributes(self) -> dict[str, Any]:
        return {}

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

    def _delegate(self, method: str, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        return getattr(self.best_estimator_, method)(X)


class _RegressorCV(RegressorMixin, _PathCV):
    """The CV regressors: squared loss, held-out mean squared error (``mse_path_``)."""

    _task = staticmethod(_path_task)

    def _check_data(self, X: Any, y: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
        X, y = self._validated(X, y=y, y_numeric=True)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        return X, y, sample_weight

    def _grid(self, base: BaseEstimator, X: Any, y: np.ndarray, penalty: Any,
              sample_weight: Any) -> np.ndarray:
        return lam_grid(X, y, penalty, self.lams, eps=self.eps,
                        fit_intercept=self.fit_intercept, sample_weight=sample_weight)

    def _errors(self, cv_runs: list[dict[str, Any]]) -> None:
        self.mse_path_ = np.column_stack([r["mse"] for r in cv_runs])

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
        return self._delegate("predict", X)


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


class IRLSClassifierCV(ClassifierMixin, _PathCV):
    __doc__ = f"""Penalised logistic regression (:class:`~skdropout.linear.IRLSClassifier`)
    with lam chosen by stratified cross-validation over a warm-started path, as
    scikit-learn's ``LogisticRegressionCV`` (whose ``Cs`` map to ``lams = 1 / (C n)``).
    Every point of the path is eq. (1) of the paper with the log-loss in place of the
    squared loss, solved by Newton steps whose weighted ridge problems use the eta-trick
    (eq. 7).

    The grid runs from the smallest lam whose solution has every penalised coefficient at 0
    (``max_(j,k) |X_j'(s (y_k - p0_k))/S| / slope0`` at the intercept-only model) down to
    ``eps`` times it. For penalties with ``0 < slope0 < inf`` (l1, elasticnet, mcp, scad,
    logsum, ...) each point is fitted on the features that the sequential strong rule keeps
    (Tibshirani et al. 2012) and then checked against the KKT conditions of all features,
    the violators joining until none is left, so every point is the fit on all features to
    ``tol``.

    Parameters
    ----------
    lams : int or array-like, default=100
        Number of lam values on the geometric grid, or the grid itself.
    eps : float in (0, 1), default=1e-3
        Length of a generated grid: ``lams_[-1] / lams_[0]``.
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn: None is 5-fold ``StratifiedKFold``.
    scoring : str or callable, default=None
        A scikit-learn scorer name or callable (greater is better); None: minus the
        held-out log-loss (weighted by ``sample_weight``).
    selection : {{"min", "1se"}}, default="min"
        ``"min"``: the lam with the best mean score. ``"1se"``: the largest lam whose mean
        score is within one standard error of the best (sparser, more regularised).
    n_jobs : int, default=None
        Number of joblib tasks (folds, and the full-data path) run at once.
    penalty, penalty_params, fit_intercept, class_weight, solver, max_iter, tol, penalty_factor
        As in :class:`~skdropout.linear.IRLSClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (``LabelEncoder`` order).
    lam_ : float
        The chosen lam.
    lams_ : ndarray of shape (n_lams,)
        The grid, decreasing.
    best_index_ : int
        Index of ``lam_`` in ``lams_``.
    log_loss_path_ : ndarray of shape (n_lams, n_folds)
        Held-out mean log-loss per lam and fold.
    cv_results_ : dict of ndarray
        As GridSearchCV's: ``param_lam``, ``mean_test_score``, ``std_test_score``,
        ``sem_test_score``, ``rank_test_score`` and ``split{{k}}_test_score``.
    coef_path_, eta_path_ : ndarray of shape (n_columns, n_features, n_lams)
        The path on all data (n_columns is 1 for two classes).
    intercept_path_ : ndarray of shape (n_columns, n_lams)
        The intercepts along the path on all data.
    best_estimator_ : IRLSClassifier
        The estimator fitted on all data at ``lam_``.
    coef_, intercept_, eta_, n_iter_
        Those of ``best_estimator_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.
{_NOTES.format(name="IRLSClassifierCV")}
    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import IRLSClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((150, 8))
    >>> y = np.where(X @ [2.0, 0, 0, -2.0, 0, 0, 0, 0] + rng.standard_normal(150) > 0, "a", "b")
    >>> est = IRLSClassifierCV(lams=10, cv=3).fit(X, y)
    >>> est.log_loss_path_.shape, est.classes_.tolist()
    ((10, 3), ['a', 'b'])
    >>> np.flatnonzero(np.abs(est.coef_[0]) > 0.5).tolist()
    [0, 3]
    """

    _estimator_class = IRLSClassifier
    _task = staticmethod(_logistic_path_task)
    _extra_attributes = ("classes_",)
    _parameter_constraints: dict = {
        **{k: v for k, v in IRLSClassifier._parameter_constraints.items()
           if k not in ("lam", "warm_start")},
        **_PathCV._cv_constraints,
    }

    def __init__(self, *, lams=100, eps=1e-3, cv=None, scoring=None, selection="min",
                 n_jobs=None, penalty="l1", penalty_params=None, fit_intercept=True,
                 class_weight=None, solver="auto", max_iter=100, tol=1e-6,
                 penalty_factor=None):
        self.lams = lams
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.penalty_factor = penalty_factor

    def _check_data(self, X: Any, y: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
        X, y = self._validated(X, y=y)
        check_classification_targets(y)
        encoder = LabelEncoder()
        codes = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        if self.classes_.size < 2:
            raise ValueError("IRLSClassifierCV needs samples of at least 2 classes in the "
                             f"data, but the data contains only one class: "
                             f"{self.classes_[0]!r}.")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        check_class_totals(sample_weights(self.class_weight, codes, self.classes_,
                                          sample_weight), codes, self.classes_)
        return X, (codes, self.classes_), sample_weight

    def _grid(self, base: BaseEstimator, X: Any, target: tuple[np.ndarray, np.ndarray],
              penalty: Any, sample_weight: np.ndarray) -> np.ndarray:
        return geometric_grid(lambda: logistic_lam_max(
            base._problem(X, *target, sample_weight), penalty), self.lams, self.eps)

    def _errors(self, cv_runs: list[dict[str, Any]]) -> None:
        self.log_loss_path_ = np.column_stack([r["log_loss"] for r in cv_runs])

    def _warm_attributes(self) -> dict[str, Any]:
        return {"classes_": self.classes_}

    def decision_function(self, X: Any) -> np.ndarray:
        """The margins of the estimator refitted at ``lam_`` (see
        :meth:`IRLSClassifier.decision_function`).

        Parameters
        ----------
        X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._delegate("decision_function", X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class under the estimator refitted at ``lam_``.

        Parameters
        ----------
        X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._delegate("predict", X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities under the estimator refitted at ``lam_``.

        Parameters
        ----------
        X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._delegate("predict_proba", X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._delegate("predict_log_proba", X)
