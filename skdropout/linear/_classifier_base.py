"""What the logistic classifiers share: the classes and weights of the data, warm starts,
the fitted attributes, and prediction from ``coef_`` and ``intercept_``."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..penalties import Penalty
from ._base import EtaTrickBase
from ._logistic import LogisticProblem


def sample_weights(class_weight: Any, codes: np.ndarray, classes: np.ndarray,
                   sample_weight: np.ndarray) -> np.ndarray:
    """``s_i = sample_weight_i * class_weight[y_i]``, the weights of the loss (``codes``
    index ``classes``; "balanced" weighs the classes present in ``codes``)."""
    cw = np.ones(classes.size)
    if class_weight is not None:
        present = np.unique(codes)
        cw[present] = compute_class_weight(class_weight, classes=classes[present],
                                           y=classes[codes])
    return sample_weight * cw[codes]


def check_class_totals(weights: np.ndarray, codes: np.ndarray, classes: np.ndarray) -> None:
    """Raise where the loss's weights (:func:`sample_weights`) give a class of the data no
    positive total: a fit would have no data to learn that class from, and with an
    intercept its loss has no minimiser (that class's intercept, or a binary fit's, moves
    without end while the loss falls), so a solver would stop at an arbitrary point."""
    totals = np.bincount(codes, weights=weights, minlength=classes.size)
    empty = classes[~(totals > 0)].tolist()
    if not empty:
        return
    kept = classes[totals > 0].tolist()
    if len(kept) < 2:
        which = f"one class only ({kept[0]!r})" if kept else "no class"
        raise ValueError(f"sample_weight and class_weight leave positive weight on {which}: "
                         "a classifier needs samples of at least 2 classes with positive "
                         "weight (with an intercept the loss of one class has no minimiser: "
                         "the intercept grows without end).")
    raise ValueError(f"sample_weight and class_weight give no positive weight to the "
                     f"class(es) {empty!r}: a fit has no data to learn them from (with an "
                     "intercept the multinomial loss has no minimiser: their intercepts "
                     "fall without end). Drop their samples, or give them positive weight.")


class LogisticClassifierMixin(ClassifierMixin, EtaTrickBase):
    """Base of the estimators that minimise eq. (1) with the logistic (K = 2) or
    multinomial (K > 2) loss; a subclass solves the problem in ``_solve`` and stores what
    else it reports in ``_fit``."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).
        y : array-like of shape (n_samples,)
            Class labels (any hashable type, e.g. strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights are equivalent to repeated rows.

        Returns
        -------
        self
        """
        return self._fit_guarded(lambda: self._fit(X, y, sample_weight))

    def _fit_classes(self, X: Any, y: Any, sample_weight: Any) -> Any:
        """Prepare the problem, warm-start from a previous fit of the same classes and
        shape, solve it, and set ``classes_``, ``coef_``, ``intercept_``, ``eta_`` and
        ``n_iter_``; returns the solver's result."""
        previous = ((self.coef_, self.intercept_, self.classes_)
                    if self.warm_start and hasattr(self, "coef_") else None)
        problem, penalty, classes = self._prepare(X, y, sample_weight)
        coef_init = intercept_init = None
        if (previous is not None and previous[0].shape == (problem.n_columns, problem.d)
                and np.array_equal(previous[2], classes)):
            coef_init, intercept_init = previous[0].T, previous[1]
        res = self._solve(problem, penalty, float(self.lam), coef_init, intercept_init)
        self.classes_ = classes
        self.coef_ = res.coef.T.copy()
        self.intercept_ = res.intercept.copy()
        self.eta_ = res.eta.T.copy()
        self.n_iter_ = res.n_iter
        return res

    def _prepare(self, X: Any, y: Any, sample_weight: Any
                 ) -> tuple[LogisticProblem, Penalty, np.ndarray]:
        """Validate the data and build the problem, the penalty and the classes."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], dtype=np.float64,
                             multi_output=False)
        check_classification_targets(y)
        encoder = LabelEncoder()
        codes = encoder.fit_transform(y)
        classes = encoder.classes_
        if classes.size < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}.")
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not sw.sum() > 0:
            raise ValueError("sample_weight must have a positive sum.")
        problem = self._problem(X, codes, classes, sw)
        check_class_totals(problem.s, codes, classes)
        return problem, self._penalty(X.shape[1]), classes

    def _problem(self, X: Any, codes: np.ndarray, classes: np.ndarray,
                 sample_weight: np.ndarray) -> LogisticProblem:
        """The problem of validated data: ``codes`` index ``classes``; the class weights
        (computed on these codes for "balanced") multiply ``sample_weight``."""
        K = classes.size
        Y = codes[:, None].astype(np.float64) if K == 2 else np.eye(K)[codes]
        return LogisticProblem(X, Y, sample_weights(self.class_weight, codes, classes,
                                                    sample_weight),
                               float(sample_weight.sum()), self.fit_intercept)

    def decision_function(self, X: Any) -> np.ndarray:
        """The margins ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (positive favours ``classes_[1]``),
        else (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=np.float64, reset=False)
        scores = np.asarray(X @ self.coef_.T) if sp.issparse(X) else X @ self.coef_.T
        scores = scores + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(np.intp) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[idx]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: ``sigmoid`` of the margin for two classes, the softmax of the
        K margins otherwise.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed without underflow.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples (dense, or sparse CSR/CSC).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores, axis=1)
