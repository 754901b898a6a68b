"""IRLSRegressor: eq. (1) with the squared loss, solved by the eta-trick (eq. 6)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import StrOptions

from ..penalties import Penalty
from ._base import EtaTrickRegressorMixin
from ._design import Design
from ._irls import SOLVERS, IRLSResult, irls


class IRLSRegressor(EtaTrickRegressorMixin):
    r"""Penalised least squares by iteratively reweighted least squares (the eta-trick).

    Minimises eq. (1) with the loss (3) [1]_,

    .. math::

        \min_{w, b} \ \frac{1}{2n} \|y - Xw - b\|_2^2 + \lambda\, \Omega(w),

    by alternating the exact w-step of eq. (6), the weighted ridge solve (written without
    dividing by eta), and the eta-step of eq. (7):

    .. math::

        \Bigl(\frac{X^\top X}{n} + \lambda \operatorname{diag}(\eta)^{-1}\Bigr) w
        = \frac{X^\top y}{n}, \qquad \eta \leftarrow \hat\eta(w).

    Each iteration is a majorisation-minimisation step, so ``objective_path_`` never
    increases. Read more in the :ref:`User Guide <linear-models>`.

    The start is ``eta = +inf`` on the initial working set, i.e. least squares (on all
    columns, or, for penalties that use a working set on problems with more than 100 columns,
    on the ``min(100, n/2)`` columns most correlated with y); ``w = 0`` would be a fixed point
    since ``eta_hat(0) = 0``. For a penalty with an infinite slope at 0 (lpp with p < 1) on
    a problem with more columns than rows, where least squares interpolates y, the start is
    the lasso fit at the same lam instead (as for :class:`AdaptiveDropoutRegressor`).
    Penalties that are separable with ``0 < slope0 < inf`` (l1, elasticnet, logsum, mcp,
    scad, vardrop, ...) use a growing working set and a Newton polish on the support; the
    others (lp, lpp, l0, huber, hardthresh, ...) iterate on all columns.

    Parameters
    ----------
    penalty : str or Penalty, default="l1"
        Name of a penalty of :mod:`skdropout.penalties` or a penalty object.
    penalty_params : dict, default=None
        Parameters of the named penalty (e.g. ``{"eps": 2.0}`` for logsum, ``{"a": 3.0}`` for
        mcp); lam-shaped penalties (mcp, scad, ...) get their lam from ``lam``.
    lam : float, default=1.0
        Regularisation strength lambda (> 0; scikit-learn's ``alpha``).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    solver : {"auto", "cholesky", "woodbury", "cg"}, default="auto"
        w-step solver: Cholesky on the active set (used when it has at most n columns),
        the dual/Woodbury form (more columns than rows; never forms a d x d matrix), or
        conjugate gradients (large sparse problems).
    max_iter : int, default=1000
        Maximum number of iterations.
    tol : float, default=1e-6
        Scale-free tolerance: the largest KKT (subdifferential) residual divided by
        ``||X'y/n||_inf``, and for penalties without a working set also the relative
        decrease of the objective in one iteration.
    warm_start : bool, default=False
        Start from the previous ``coef_``.
    penalty_factor : array-like of shape (n_features,), default=None
        Per-feature factors v (glmnet's ``penalty.factor``): feature j is penalised with
        ``lam_j = lam * v_j``, i.e. the penalty term is ``lam * sum_j v_j Omega(w_j)``;
        ``v_j = 0`` leaves feature j unpenalised. For penalties whose shape depends on lam
        (mcp, scad, vardrop, ...) feature j gets the penalty with ``lam_j`` in place of lam:
        ``lam * v_j * Omega(w_j; lam_j)`` (for mcp, skglm's ``MCPenalty(alpha=lam_j)``).
        Finite, >= 0, at least one > 0; only for separable penalties. For l1 a factor v > 0
        equals the lasso on the columns ``X_j / v_j`` (with ``w_j`` divided by ``v_j``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Weights; exact zeros for pruned coordinates.
    intercept_ : float
        The unpenalised intercept b (0.0 when ``fit_intercept=False``).
    eta_ : ndarray of shape (n_features,)
        ``eta_hat(coef_)`` (0: pruned; inf: unpenalised).
    n_iter_ : int
        Number of iterations run (one w-step and one eta-step each).
    objective_ : float
        Eq. (1) at the solution (weighted mean loss when ``sample_weight`` is given).
    objective_path_ : ndarray
        Eq. (1) at the start and after each iteration as the solver computes it
        (non-increasing; the start is +inf for a constraint penalty such as hardthresh when
        least squares violates it). When n >= 10 d and d <= 200 it comes from ``X'X/n`` and
        rounds at eps y'y/n, where ``objective_`` is exact to its own rounding.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Only when X has string column names.

    See Also
    --------
    AdaptiveDropoutRegressor : The same problem solved from the dropout side (Theorem 1).
    IRLSRegressorCV : lam chosen by cross-validation.
    irls_path : The solutions on a grid of lam.
    skdropout.penalties.get_penalty : The penalties, by name.
    sklearn.linear_model.Lasso : The l1 case, by coordinate descent.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, eqs. (1), (6) and (7).
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import IRLSRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 6))
    >>> y = X @ np.array([3.0, 0, 0, -2.0, 0, 0]) + 0.1 * rng.standard_normal(100)
    >>> reg = IRLSRegressor(penalty="l1", lam=0.1).fit(X, y)
    >>> np.flatnonzero(reg.coef_).tolist()
    [0, 3]
    """

    # a zero coordinate that violates its optimality condition re-enters (working set)
    _zeros_reenter = True
    _parameter_constraints: dict = {
        **EtaTrickRegressorMixin._parameter_constraints,
        "solver": [StrOptions(set(SOLVERS))],
        "penalty_factor": ["array-like", None],
    }

    def __init__(self, penalty: Any = "l1", penalty_params: dict | None = None, lam: float = 1.0,
                 fit_intercept: bool = True, solver: str = "auto", max_iter: int = 1000,
                 tol: float = 1e-6, warm_start: bool = False,
                 penalty_factor: Any = None) -> None:
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.penalty_factor = penalty_factor

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> IRLSRegressor:
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

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> IRLSRegressor:
        coef_init = self._previous_coef()
        design, penalty = self._prepare(X, y, sample_weight)
        res = self._solve(design, penalty, float(self.lam), coef_init)
        self.coef_ = res.coef
        self.eta_ = res.eta
        self.n_iter_ = res.n_iter
        self.objective_ = self._objective(design, penalty, float(self.lam), res.coef)
        self.objective_path_ = np.asarray(res.objective_path)
        self._set_intercept(design)
        return self

    def _solve(self, design: Design, penalty: Penalty, lam: float,
               coef_init: np.ndarray | None) -> IRLSResult:
        """The solver at one lam with this estimator's parameters (fits and paths share it):
        raises on a non-finite solution, warns when it did not converge. Without
        ``coef_init`` the start is :meth:`_convex_start`'s where it gives one, else
        :func:`irls`'s default (least squares on the initial working set)."""
        if coef_init is None:
            coef_init = self._convex_start(design, penalty, lam)
        res = irls(design, penalty, lam, coef_init=coef_init, solver=self.solver,
                   max_iter=self.max_iter, tol=self.tol)
        self._check_result(res.coef, res.objective_path[-1])
        if not res.converged:
            warnings.warn(f"IRLSRegressor did not converge in {self.max_iter} iterations "
                          f"at lam={lam:.4g} (scaled KKT residual {res.kkt:.2e} > "
                          f"tol={self.tol:g}); increase max_iter.", ConvergenceWarning,
                          stacklevel=4)
        return res
