"""AdaptiveDropoutRegressor: eq. (1) reached from the dropout side of the duality (Theorem 1)."""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..penalties import Penalty
from ._base import EtaTrickRegressorMixin
from ._design import Design
from ._dropout import MASKS, STRATEGIES, DropoutResult, adaptive_dropout
from ._irls import default_start



class AdaptiveDropoutRegressor(EtaTrickRegressorMixin):
    r"""Least squares trained with adaptive dropout (Algorithm 1 / eq. 9) [1]_.

    The weights are trained by gradient steps on the loss of masked weights ``s * w``; the
    masks' keep probabilities adapt to the weights through the penalty's ``eta_hat``
    (eq. 8). By Theorem 1 this minimises eq. (1) with the loss (3),
    ``1/(2n)||y - X w - b||^2 + lam * Omega(w)``, the problem :class:`IRLSRegressor` solves
    by the eta-trick. For data that is not standardised the keep probability is

    .. math::

        \alpha_j = \frac{c_j \eta_j}{c_j \eta_j + \lambda}, \quad
        c_j = (X^\top X / n)_{jj}, \qquad \text{so that} \qquad
        \mathbb{E}_s\, L(s \odot w) = L(w)
        + \frac{\lambda}{2} \sum_j \frac{w_j^2}{\eta_j} \ \text{(eq. 4)}

    for any X. Read more in the :ref:`User Guide <linear-models>`.

    The masked steps run on a working set of columns with variance reduction (each step's
    masked gradient minus the same mask's gradient at a snapshot, plus the snapshot's exact
    gradient), so their noise vanishes at the solution and a constant step converges; the
    optimality conditions of every column are checked and violating zeros re-enter. The
    start is :class:`IRLSRegressor`'s (least squares on the initial working set, ``alpha =
    1``), so for non-convex penalties both start the same way. The fit stops when the
    largest optimality (KKT) residual divided by ``||X'y/n||_inf`` is at most ``tol``, the
    rule IRLS uses; otherwise it warns (``ConvergenceWarning``) with the residual reached.

    ``strategy="proximal"`` (Algorithm 1, the default) is the fast one, with both masks: the
    masks only add zero-mean noise to the gradient, and the adaptive Tikhonov term is applied
    exactly by a proximal step (with Nesterov momentum on these steps). ``strategy="sgd"``
    (eq. 9) reaches the same point with both masks but needs several times more epochs: it
    takes the Tikhonov term ``lam w_j / eta_j`` as an explicit gradient, whose curvature
    ``lam / eta_j`` grows without bound on the coordinates going to zero, and multiplies the
    gradient by the mask, whose variance ``1/alpha_j - 1`` does the same, so its step must
    stay small there and it runs without momentum.

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
        Step in standardised units: coordinate j moves by ``rho / c_j`` times its gradient
        (a diagonal preconditioner that makes training invariant to column scales). "auto"
        is ``1 / ||C^-1/2 G C^-1/2||_2`` on each working set (``G = X_W'X_W/n``,
        ``C = diag(c)``). Whatever the start, the step is halved whenever the objective
        rises (a step that diverges is caught, not returned); ``learning_rate_`` is the step
        at the end.
    max_iter : int, default=5000
        Maximum number of epochs (an exact gradient on the working set and 10 masked
        steps; a full-gradient check of all columns also counts as one).
    tol : float, default=1e-6
        Scale-free tolerance on the largest KKT residual divided by ``||X'y/n||_inf``.
    random_state : int, RandomState instance or None, default=None
        Seeds the masks.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    warm_start : bool, default=False
        Start from the previous ``coef_``.
    penalty_factor : array-like of shape (n_features,), default=None
        Per-feature factors v (glmnet's ``penalty.factor``), as in
        :class:`~skdropout.linear.IRLSRegressor`: ``lam_j = lam * v_j``, ``v_j = 0`` leaves
        feature j unpenalised; the keep probabilities become
        ``c_j eta_hat_j / (c_j eta_hat_j + lam_j)`` (1 for ``v_j = 0``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Exact zeros for pruned coordinates (keep probability 0).
    intercept_ : float
        The unpenalised intercept b (0.0 when ``fit_intercept=False``).
    eta_ : ndarray of shape (n_features,)
        ``eta_hat(coef_)``.
    keep_prob_ : ndarray of shape (n_features,)
        ``c_j eta_j / (c_j eta_j + lam)`` at the solution (``eta_j`` includes the penalty
        factor: ``eta_hat(w_j) / v_j``).
    n_iter_ : int
        Epochs run.
    objective_ : float
        Eq. (1) at ``coef_``.
    kkt_ : float
        The largest KKT residual divided by ``||X'y/n||_inf`` at ``coef_``.
    learning_rate_ : float
        The step at the end of the fit.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when X has string column names.

    See Also
    --------
    IRLSRegressor : The same problem solved by the eta-trick, exactly and faster.
    AdaptiveDropoutRegressorCV : lam chosen by cross-validation.
    adaptive_dropout_path : The solutions on a grid of lam.
    skdropout.penalties.Penalty.keep_prob : The keep probability of eq. (8).

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Theorem 1, eq. (9) and Algorithm 1.
       https://arxiv.org/abs/2106.07769

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

    # a zero coordinate that violates its optimality condition re-enters (working set)
    _zeros_reenter = True
    _parameter_constraints: dict = {
        **EtaTrickRegressorMixin._parameter_constraints,
        "mask": [StrOptions(set(MASKS))],
        "strategy": [StrOptions(set(STRATEGIES))],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "penalty_factor": ["array-like", None],
    }

    def __init__(self, penalty: Any = "l1", penalty_params: dict | None = None, lam: float = 1.0,
                 mask: str = "gaussian", strategy: str = "proximal",
                 learning_rate: Any = "auto", max_iter: int = 5000, tol: float = 1e-6,
                 random_state: Any = None, fit_intercept: bool = True,
                 warm_start: bool = False, penalty_factor: Any = None) -> None:
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.lam = lam
        self.mask = mask
        self.strategy = strategy
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.warm_start = warm_start
        self.penalty_factor = penalty_factor

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AdaptiveDropoutRegressor:
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; scipy sparse matrices are accepted.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights are equivalent to repeated rows.

        Returns
        -------
        self
            The fitted estimator.
        """
        return self._fit_guarded(lambda: self._fit(X, y, sample_weight))

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> AdaptiveDropoutRegressor:
        coef_init = self._previous_coef()
        design, penalty = self._prepare(X, y, sample_weight)
        res = self._solve(design, penalty, float(self.lam), coef_init)
        self.coef_ = res.coef
        self.eta_ = res.eta
        self.keep_prob_ = res.keep_prob
        self.n_iter_ = res.n_iter
        self.objective_ = float(res.objective)
        self.kkt_ = float(res.kkt)
        self.learning_rate_ = float(res.learning_rate)
        self._set_intercept(design)
        return self

    def _solve(self, design: Design, penalty: Penalty, lam: float,
               coef_init: np.ndarray | None) -> DropoutResult:
        """Adaptive dropout at one lam with this estimator's parameters (fits and paths share
        it), from ``coef_init`` or IRLSRegressor's start: raises on a non-finite solution,
        warns when it did not converge."""
        working_set = None
        if coef_init is None:  # IRLSRegressor's start, and its working set with the Gram
            coef_init, working_set = default_start(design, penalty)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        res = adaptive_dropout(
            design, penalty, lam, coef_init, mask=self.mask, strategy=self.strategy,
            learning_rate=None if self.learning_rate == "auto" else float(self.learning_rate),
            max_iter=self.max_iter, tol=self.tol, rng=np.random.default_rng(seed),
            working_set=working_set)
        self._check_result(res.coef, res.objective)
        if not res.converged:
            advice = ("increase max_iter or use strategy='proximal' (eq. 9 needs more "
                      "epochs)" if self.strategy == "sgd" else "increase max_iter")
            warnings.warn(
                f"AdaptiveDropoutRegressor did not converge in {res.n_iter} epochs at "
                f"lam={lam:.4g} (scaled KKT residual {res.kkt:.2e} > tol={self.tol:g}, step "
                f"{res.learning_rate:.3g}); {advice}; a step far below its start means the "
                "masks' noise dominates (IRLSRegressor solves the same problem).",
                ConvergenceWarning, stacklevel=4)
        return res
