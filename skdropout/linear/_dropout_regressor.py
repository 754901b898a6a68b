"""AdaptiveDropoutRegressor: eq. (1) reached from the dropout side of the duality (Theorem 1)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import EtaTrickRegressorMixin
from ._dropout import MASKS, STRATEGIES, adaptive_dropout
from ._irls import default_start


class AdaptiveDropoutRegressor(EtaTrickRegressorMixin):
    """Least squares trained with adaptive dropout (eq. 9 / Algorithm 1).

    The weights are trained by stochastic gradient steps on the loss of masked weights
    ``s * w``; the masks' keep probabilities adapt to the weights through the penalty's
    ``eta_hat`` (eq. 8). By Theorem 1 this minimises eq. (1) with the loss (3),
    ``1/(2n)||y - X w - b||^2 + lam * Omega(w)``, the problem :class:`IRLSRegressor` solves
    by the eta-trick. For data that is not standardised the keep probability is
    ``alpha_j = c_j eta_j / (c_j eta_j + lam)`` with ``c_j = (X'X/n)_jj``, which makes the
    expected masked loss equal ``L(w) + lam/2 sum_j w_j^2/eta_j`` for any X (eq. 4).

    The start is the same as :class:`IRLSRegressor`'s: least squares on the initial working
    set (no dropout, ``alpha = 1``). The default ``strategy="proximal"`` (Algorithm 1) is the
    one that reaches IRLS's solution: its masks only add zero-mean noise to the gradient and
    the adaptive Tikhonov term is applied exactly by a proximal step, while eq. (9)
    (``"sgd"``) multiplies the gradient by the mask, whose variance ``1/alpha - 1`` explodes
    on the coordinates being pruned.

    Parameters
    ----------
    penalty : str or Penalty, default="l1"
        Name of a penalty of :mod:`skdropout.penalties` or a penalty object.
    penalty_params : dict, default=None
        Parameters of the named penalty.
    lam : float, default=1.0
        Regularisation strength lambda (> 0).
    mask : {"gaussian", "bernoulli"}, default="gaussian"
        ``s_j ~ N(1, 1/alpha_j - 1)`` or ``s_j = 1/alpha_j`` with probability ``alpha_j``.
    strategy : {"proximal", "sgd"}, default="proximal"
        Algorithm 1 (appendix B) or eq. (9).
    learning_rate : "auto" or float, default="auto"
        Initial step in standardised units: coordinate j moves by ``rho_t / c_j`` times its
        gradient (a diagonal preconditioner that makes training invariant to column scales).
        "auto" is ``1 / ||C^-1/2 (X'X/n) C^-1/2||_2``, ``C = diag(c)``, for "proximal" and half
        of it for "sgd" (whose gradient is multiplied by the mask). It decays linearly to 0 over ``max_iter``
        epochs; the result averages the iterates of the second half.
    batch_size : int, default=None
        Rows per step; None uses all rows (the masks are then the only randomness, and
        ``sample_weight`` is exactly equivalent to repeated rows).
    max_iter : int, default=1000
        Number of epochs (the length of the learning-rate schedule).
    tol : float, default=1e-6
        Stop early when an epoch changes ``w`` by less than ``tol * ||w||_inf``.
    random_state : int, RandomState instance or None, default=None
        Seeds the masks and the batch order.
    fit_intercept : bool, default=True
    warm_start : bool, default=False
        Start from the previous ``coef_``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Exact zeros for pruned coordinates (keep probability 0).
    intercept_ : float
    eta_ : ndarray of shape (n_features,)
        ``eta_hat(coef_)`` (0 on pruned coordinates).
    keep_prob_ : ndarray of shape (n_features,)
        ``c_j eta_j / (c_j eta_j + lam)`` at the solution.
    n_iter_ : int
        Epochs run.
    objective_ : float
        Eq. (1) at ``coef_``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import AdaptiveDropoutRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 6))
    >>> y = X @ np.array([3.0, 0, 0, -2.0, 0, 0]) + 0.1 * rng.standard_normal(100)
    >>> reg = AdaptiveDropoutRegressor(lam=0.1, random_state=0).fit(X, y)
    >>> np.flatnonzero(reg.coef_).tolist()
    [0, 3]
    """

    _parameter_constraints: dict = {
        **EtaTrickRegressorMixin._parameter_constraints,
        "mask": [StrOptions(set(MASKS))],
        "strategy": [StrOptions(set(STRATEGIES))],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, penalty: Any = "l1", penalty_params: dict | None = None, lam: float = 1.0,
                 mask: str = "gaussian", strategy: str = "proximal",
                 learning_rate: Any = "auto", batch_size: int | None = None,
                 max_iter: int = 1000, tol: float = 1e-6, random_state: Any = None,
                 fit_intercept: bool = True, warm_start: bool = False) -> None:
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.lam = lam
        self.mask = mask
        self.strategy = strategy
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.warm_start = warm_start

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AdaptiveDropoutRegressor:
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit_guarded(lambda: self._fit(X, y, sample_weight))

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> AdaptiveDropoutRegressor:
        coef_init = self._previous_coef()
        design, penalty = self._prepare(X, y, sample_weight)
        if coef_init is None:
            coef_init = default_start(design, penalty)[0]
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        res = adaptive_dropout(
            design, penalty, float(self.lam), coef_init, mask=self.mask,
            strategy=self.strategy,
            learning_rate=None if self.learning_rate == "auto" else float(self.learning_rate),
            batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol,
            rng=np.random.default_rng(seed))
        self._check_result(res.coef, res.objective)
        self.coef_ = res.coef
        self.eta_ = res.eta
        self.keep_prob_ = res.keep_prob
        self.n_iter_ = res.n_iter
        self.objective_ = float(res.objective)
        self._set_intercept(design)
        return self
