"""AdaptiveDropoutClassifier: penalised logistic regression reached from the dropout side
(Algorithm 1 on the log-loss with Fisher-weighted keep probabilities)."""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..penalties import Penalty
from ._base import EtaTrickBase
from ._classifier_base import LogisticClassifierMixin
from ._dropout import MASKS
from ._dropout_logistic import LogisticDropoutResult, logistic_dropout
from ._logistic import LogisticProblem
from ._separation import flat_separation, separation_message


class AdaptiveDropoutClassifier(LogisticClassifierMixin):
    r"""Logistic regression (binary and multinomial) trained with adaptive dropout.

    Training takes stochastic gradient steps on the log-loss of dropped-out inputs: each
    step draws one mask per sample, feature and class, ``x_ij -> s_ijk x_ij`` with
    ``E[s] = 1`` and ``E[s^2] = 1/alpha_jk`` (``mask="bernoulli"``: inverted dropout,
    ``s = 1/alpha`` with probability alpha, else 0). The keep probabilities adapt to the
    weights through the penalty's ``eta_hat`` with the Fisher weights of the inputs,

    .. math::

        \alpha_{jk} = \frac{c_{jk}\,\hat\eta_{jk}(W)}{c_{jk}\,\hat\eta_{jk}(W) + \lambda},
        \qquad c_{jk} = \frac{1}{S}\sum_i s_i\, p_{ik}(1 - p_{ik})\, x_{ij}^2 ,

    because to second order in the masks (Wager, Wang and Liang, 2013) dropout adds the
    Tikhonov penalty :math:`\frac12\sum_{jk}(1/\alpha_{jk} - 1)\,c_{jk} w_{jk}^2` to the
    expected log-loss, the logistic counterpart of eq. (4); with this alpha it is
    :math:`\frac{\lambda}{2}\sum_{jk} w_{jk}^2/\eta_{jk}`, the eta-trick's (6), whose minimum
    over eta is :math:`\lambda\,\Omega(W)`.

    **Which objective.** The iteration is Algorithm 1 (appendix B): a gradient step on the
    masked log-loss, then the Tikhonov part as a proximal step ``w <- eta/(eta + r lam) w``.
    The masked gradients enter with the control variate of SVRG (the same masks at a
    snapshot ``W~``, plus the exact gradient there), which equals the exact gradient at
    ``W = W~``; so a fixed point of the iteration satisfies exactly
    :math:`0 \in \nabla L(W) + \lambda\,\partial\Omega(W)`, the stationarity of

    .. math::

        F(W, b) = \frac{1}{S}\sum_i s_i\, \ell_i(x_i^\top W + b) + \lambda \sum_{jk}\Omega(W_{jk}),

    the objective of :class:`IRLSClassifier` (``s_i`` the sample weight times the class
    weight, ``S`` the sum of the sample weights). The second-order expansion is needed only
    to identify the proximal term with what the masks add to the expected loss; the fitted
    point does not depend on it. Plain dropout SGD (no control variate) would instead settle
    near a stationary point of ``E_s[L(s * W)] + lam/2 f(eta)``, which differs from F by the
    third-order terms of the expansion.

    The steps run on a working set of features (separable penalties with a finite positive
    slope at 0) with zeros that re-enter when their optimality condition fails, exact zeros
    for convex penalties when zeroing lowers F, a Fisher-diagonal preconditioner and Nesterov
    momentum; no Newton or IRLS step is taken. The fit stops when the largest KKT residual
    divided by its value at the intercept-only model is at most ``tol`` (IRLSClassifier's
    rule); otherwise it warns (``ConvergenceWarning``) with the residual reached. The start
    is the intercept-only model.

    Parameters
    ----------
    penalty : str or Penalty, default="l1"
        Name of a penalty of :mod:`skdropout.penalties` or a penalty object (for K > 2
        classes a separable one).
    penalty_params : dict, default=None
        Parameters of the named penalty.
    lam : float, default=0.01
        Regularisation strength lambda (> 0); ``lam = 1 / (C n)`` in scikit-learn's terms.
    mask : {"bernoulli", "gaussian"}, default="bernoulli"
        ``s = 1/alpha`` with probability alpha, else 0 (inverted dropout), or
        ``s ~ N(1, 1/alpha - 1)``.
    learning_rate : "auto" or float, default="auto"
        Step rho in Fisher-preconditioned units (weight jk moves by ``rho / q_jk`` times its
        gradient, ``q`` the diagonal of the loss Hessian at the start of each working set);
        "auto" is ``1/L``, L the largest eigenvalue of the preconditioned Hessian there.
        Halved when F at a snapshot rises twice in a row; ``learning_rate_`` is the step at
        the end.
    max_iter : int, default=5000
        Maximum number of epochs (an exact gradient and 5 masked steps).
    tol : float, default=1e-6
        Scale-free tolerance on the largest KKT residual (see above).
    random_state : int, RandomState instance or None, default=None
        Seeds the masks.
    fit_intercept : bool, default=True
        Fit unpenalised, unmasked intercepts.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight`` in the loss; every class of
        ``y`` must keep a positive total weight (as for :class:`IRLSClassifier`).
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_``.
    penalty_factor : array-like of shape (n_features,), default=None
        Per-feature factors v: feature j is penalised with ``lam * v_j`` (see
        :class:`IRLSRegressor`); its keep probability is ``c eta_hat / (c eta_hat + lam v_j)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (``LabelEncoder`` order).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Exact zeros for pruned weights (keep probability 0).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The fitted intercepts (0 when ``fit_intercept=False``).
    eta_ : ndarray of the shape of ``coef_``
        ``eta_hat(coef_)`` (including the penalty factor).
    keep_prob_ : ndarray of the shape of ``coef_``
        ``c eta / (c eta + lam)`` at the solution, ``c`` the Fisher weights there.
    n_iter_ : int
        Epochs run.
    objective_ : float
        F at the solution (the quantity :class:`IRLSClassifier` reports as ``objective_``).
    kkt_ : float
        The scaled KKT residual at the solution.
    learning_rate_ : float
        The step size the run ended with (halved from its start whenever the objective rose).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of the features seen during fit; defined only when X has string feature names.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import AdaptiveDropoutClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 6))
    >>> y = np.where(X @ [3.0, 0, 0, -2.0, 0, 0] + rng.standard_normal(200) > 0, "yes", "no")
    >>> clf = AdaptiveDropoutClassifier(lam=0.05, random_state=0).fit(X, y)
    >>> np.flatnonzero(clf.coef_[0]).tolist(), clf.classes_.tolist()
    ([0, 3], ['no', 'yes'])
    """

    _parameter_constraints: dict = {
        **EtaTrickBase._parameter_constraints,
        "mask": [StrOptions(set(MASKS))],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "penalty_factor": ["array-like", None],
    }

    def __init__(self, penalty: Any = "l1", penalty_params: dict | None = None,
                 lam: float = 0.01, mask: str = "bernoulli", learning_rate: Any = "auto",
                 max_iter: int = 5000, tol: float = 1e-6, random_state: Any = None,
                 fit_intercept: bool = True, class_weight: Any = None,
                 warm_start: bool = False, penalty_factor: Any = None) -> None:
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.lam = lam
        self.mask = mask
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.penalty_factor = penalty_factor

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> AdaptiveDropoutClassifier:
        res = self._fit_classes(X, y, sample_weight)
        self.keep_prob_ = res.keep_prob.T.copy()
        self.objective_ = float(res.objective)
        self.kkt_ = float(res.kkt)
        self.learning_rate_ = float(res.learning_rate)
        return self

    def _solve(self, problem: LogisticProblem, penalty: Penalty, lam: float,
               coef_init: np.ndarray | None, intercept_init: np.ndarray | None
               ) -> LogisticDropoutResult:
        """Adaptive dropout at one lam with this estimator's parameters: raises on a
        non-finite solution, warns when it did not converge or ended where the objective
        has no minimiser (:func:`~._separation.flat_separation`)."""
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        res = logistic_dropout(
            problem, penalty, lam, coef_init=coef_init, intercept_init=intercept_init,
            mask=self.mask,
            learning_rate=None if self.learning_rate == "auto" else float(self.learning_rate),
            max_iter=self.max_iter, tol=self.tol, rng=np.random.default_rng(seed))
        self._check_result(res.coef, res.objective)
        if flat_separation(problem, penalty, res.coef, problem.margins(res.coef, res.intercept)):
            warnings.warn(separation_message(
                f"AdaptiveDropoutClassifier stopped after {res.n_iter} epochs", lam,
                res.objective, res.coef), ConvergenceWarning, stacklevel=4)
        elif not res.converged:
            warnings.warn(
                f"AdaptiveDropoutClassifier did not converge in {res.n_iter} epochs at "
                f"lam={lam:.4g} (scaled KKT residual {res.kkt:.2e} > tol={self.tol:g}, step "
                f"{res.learning_rate:.3g}); increase max_iter (IRLSClassifier solves the same "
                "problem).", ConvergenceWarning, stacklevel=4)
        return res
