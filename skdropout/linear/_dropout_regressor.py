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

# two runs whose objectives differ by more than this (relative), or whose supports differ,
# ended in different local minima (the tolerance of issue 17's duality check)
_MINIMA_RTOL = 1e-3


class LocalMinimaWarning(UserWarning):
    """A non-convex fit ended in a local minimum that depends on the random masks: two runs
    of adaptive dropout from the same start ended in different minima of eq. (1), so
    IRLSRegressor, from that start, may end in yet another one.

    Examples
    --------
    Turn it into an error where a fit must not depend on the masks:

    >>> import warnings
    >>> from skdropout.linear import LocalMinimaWarning
    >>> issubclass(LocalMinimaWarning, UserWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", LocalMinimaWarning)
    """


def _support(coef: np.ndarray) -> np.ndarray:
    """Coefficients above 1e-3 of the largest."""
    top = float(np.max(np.abs(coef), initial=0.0))
    return np.abs(coef) > 1e-3 * top


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
    1``; for lpp on d > n each one's lasso fit at the same lam), so for non-convex
    penalties both start the same way. The fit stops when the largest optimality (KKT)
    residual divided by ``||X'y/n||_inf`` is at most ``tol``, the rule IRLS uses;
    otherwise it warns (``ConvergenceWarning``) with the residual reached.

    For a non-convex penalty eq. (1) can have many local minima, and which one a descent
    method ends in depends on its trajectory, not only its start: on ill-posed problems
    (a support of the order of n/2, d >> n) dropout and IRLS, from the same start, end in
    different minima, and so do IRLS without its Newton polish and this iteration without
    mask noise (every mask 1): the trajectory, not the masks, picks the minimum (measured in
    ``benchmarks/dropout_minima.py``). With
    ``check_minima=True`` (the default) a fit of a non-convex penalty from the default start
    runs twice with different masks; when the two runs end more than 1e-3 apart (relative
    objective) or with different supports it keeps the lower one and warns
    (:class:`~skdropout.linear.LocalMinimaWarning`): the minimum found is then one of
    several, and IRLS's may differ. Two agreeing runs do not prove that IRLS ends in the
    same minimum.

    A penalty with an infinite slope at 0 (lpp with p < 1) has no working set. With more
    features than samples least squares on all columns has d small coordinates whose keep
    probabilities are near 0, and their masks, of variance ``lam / (c_j eta_j)`` with
    ``eta_j = |w_j|^(2-p)`` for lpp, add a noise that stalls the step. There both
    estimators start from the lasso at the same lam instead, each fitting it by its own
    algorithm (here: adaptive dropout with the l1 penalty), so both start from the same
    sparse point, the lasso's unique solution; ``n_iter_`` counts the epochs from that
    start.

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
        Maximum number of epochs (an exact gradient on the working set and 5 masked
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
    check_minima : bool, default=True
        Non-convex penalties, fits from the default start (not ``warm_start``, paths or
        CV folds): run a second time with other masks, keep the lower objective and warn
        (:class:`~skdropout.linear.LocalMinimaWarning`) when the two runs end in different
        local minima. Doubles the time of such fits; convex penalties (one minimum) are
        never checked.

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
    minima_objectives_ : ndarray of shape (2,)
        Eq. (1) at the end of the two runs of ``check_minima`` (only when it ran).
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
        "check_minima": ["boolean"],
    }

    def __init__(self, penalty: Any = "l1", penalty_params: dict | None = None, lam: float = 1.0,
                 mask: str = "gaussian", strategy: str = "proximal",
                 learning_rate: Any = "auto", max_iter: int = 5000, tol: float = 1e-6,
                 random_state: Any = None, fit_intercept: bool = True,
                 warm_start: bool = False, penalty_factor: Any = None,
                 check_minima: bool = True) -> None:
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
        self.check_minima = check_minima

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
        lam = float(self.lam)
        # the default start is computed once: both runs of check_minima share it
        start = coef_init if coef_init is not None else self._convex_start(design, penalty,
                                                                           lam)
        res = self._solve(design, penalty, lam, start)
        vars(self).pop("minima_objectives_", None)  # set only by this fit's check
        if self.check_minima and coef_init is None and not penalty.convex:
            res = self._second_run(design, penalty, lam, start, res)
        self.coef_ = res.coef
        self.eta_ = res.eta
        self.keep_prob_ = res.keep_prob
        self.n_iter_ = res.n_iter
        self.objective_ = self._objective(design, penalty, lam, res.coef)
        self.kkt_ = float(res.kkt)
        self.learning_rate_ = float(res.learning_rate)
        self._set_intercept(design)
        return self

    def _second_run(self, design: Design, penalty: Penalty, lam: float,
                    start: np.ndarray | None, first: DropoutResult) -> DropoutResult:
        """``check_minima``: the same fit from the same ``start`` (None: the default one)
        with other masks; the lower objective is kept, and a :class:`LocalMinimaWarning`
        says when the two ended in different minima."""
        second = self._solve(design, penalty, lam, start, run=1)
        self.minima_objectives_ = np.array([first.objective, second.objective])
        gap = abs(first.objective - second.objective) / max(abs(first.objective),
                                                           np.finfo(float).tiny)
        differ = int(np.sum(_support(first.coef) != _support(second.coef)))
        if gap > _MINIMA_RTOL or differ:
            warnings.warn(
                f"AdaptiveDropoutRegressor: two fits of the non-convex penalty at "
                f"lam={lam:.4g} from the same start with different masks ended in different "
                f"local minima (objectives {first.objective:.6g} and {second.objective:.6g}, "
                f"relative difference {gap:.1e}; supports differ in {differ} columns); the "
                "lower one is kept. The problem has several minima near this start, and "
                "IRLSRegressor may end in another one: compare its objective_, or follow a "
                "path from w = 0 (adaptive_dropout_path, AdaptiveDropoutRegressorCV); "
                "check_minima=False skips this check.", LocalMinimaWarning, stacklevel=6)
        return second if second.objective < first.objective else first

    def _solve(self, design: Design, penalty: Penalty, lam: float,
               coef_init: np.ndarray | None, run: int = 0) -> DropoutResult:
        """Adaptive dropout at one lam with this estimator's parameters (fits and paths share
        it), from ``coef_init`` or IRLSRegressor's start: raises on a non-finite solution,
        warns when it did not converge. ``run`` > 0 draws other masks from the same
        ``random_state``. Without ``coef_init`` the start is :meth:`_convex_start`'s where
        it gives one (as for IRLSRegressor)."""
        working_set = None
        if coef_init is None:
            coef_init = self._convex_start(design, penalty, lam)
        if coef_init is None:  # IRLSRegressor's start, and its working set with the Gram
            coef_init, working_set = default_start(design, penalty)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        res = adaptive_dropout(
            design, penalty, lam, coef_init, mask=self.mask, strategy=self.strategy,
            learning_rate=None if self.learning_rate == "auto" else float(self.learning_rate),
            max_iter=self.max_iter, tol=self.tol,
            rng=np.random.default_rng([seed, run] if run else seed),
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
