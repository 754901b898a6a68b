"""IRLSClassifier: penalised logistic / multinomial regression by Newton-IRLS and the
eta-trick (the solver is :func:`~skdropout.linear._logistic.logistic_irls`)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import StrOptions

from ..penalties import Penalty
from ._base import EtaTrickBase
from ._classifier_base import LogisticClassifierMixin
from ._irls import SOLVERS
from ._logistic import LogisticProblem, LogisticResult, logistic_irls
from ._separation import separation_message


class IRLSClassifier(LogisticClassifierMixin):
    r"""Penalised logistic regression (binary and multinomial) by Newton steps, each solved
    by iteratively reweighted least squares (the eta-trick).

    Minimises eq. (1) with the logistic loss,

    .. math::

        F(W, b) = \frac{1}{S} \sum_i s_i\, \ell_i(x_i^\top W + b)
                  + \lambda \sum_{k,j} \Omega(W_{jk}),

    where ``s_i = sample_weight_i * class_weight[y_i]``, ``S = sum_i sample_weight_i``
    (``n`` without weights; class weights do not enter S, so ``lam`` keeps its meaning when
    they change), and ``l_i(m) = log(1 + e^m) - y_i m`` for two classes (one coefficient
    vector; ``y_i = 1`` for ``classes_[1]``) or ``l_i(m) = log sum_k e^{m_k} - m_{y_i}``
    for K > 2 classes (the softmax model with K coefficient vectors, every one of the
    K x d coefficients penalised by Omega, scikit-learn's multinomial convention). With
    l1 and no weights this is scikit-learn's ``LogisticRegression(l1_ratio=1,
    C=1/(n lam))``.

    Each Newton step replaces the loss by its second-order expansion, a weighted least
    squares problem with weights ``s_i p_i (1 - p_i)`` and working response
    ``z_i = m_i + (y_i - p_i) / (p_i (1 - p_i))``, and solves it with the penalty by the
    eta-trick: the weighted ridge w-steps ``(X'VX/n + lam' diag(eta)^-1) w = X'Vz/n`` and
    the eta-steps ``eta = eta_hat(w)`` (eqs. 6-7) of :class:`IRLSRegressor`, with its working
    set. A backtracking line search on F damps each step; for K > 2 the steps cycle over the
    classes, and on separable penalties with a working set a Newton polish on the support
    with the full Hessian finishes each cycle. With such a penalty and more than 100
    features the Newton steps run on an outer working set of features that grows by the
    zeros violating their optimality condition (one product with all of X per round).
    With a non-convex penalty the penalised model can have its minimiser in another basin,
    so that no damping of its step lowers F; where the fit would stop there short of
    ``tol``, its steps go on with Omega's tangent at the current point (the weighted l1 of
    the local linear approximation, a convex model with F's directional derivatives, so its
    step descends), each followed by the Newton polish on the support. Where a Newton
    step's model has a saddle that its eta-trick iterations cross slowly (a swap between
    two collinear features), they step along the model's most negative curvature.

    A penalty that stops growing can leave F without a minimiser: where the model puts
    every training sample on its own class's side and every nonzero coefficient lies where
    Omega is flat (``eta_hat = inf``: mcp and scad beyond ``a lam``, a feature whose
    ``penalty_factor`` is 0), F falls without end along ``(t W, t b)``, ``t > 1``. The fit
    stops at the first Newton step that gets there and warns (``ConvergenceWarning``);
    l1, elasticnet and logsum keep growing and keep a minimiser on separable data.

    Parameters
    ----------
    penalty : str or Penalty, default="l1"
        Name of a penalty of :mod:`skdropout.penalties` or a penalty object (for K > 2
        classes a separable one).
    penalty_params : dict, default=None
        Parameters of the named penalty; lam-shaped penalties (mcp, scad, ...) get their lam
        from ``lam``.
    lam : float, default=0.01
        Regularisation strength lambda (> 0); ``lam = 1 / (C n)`` in scikit-learn's terms.
    fit_intercept : bool, default=True
        Fit unpenalised intercepts.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight`` in the loss (as in
        scikit-learn; "balanced": ``n / (K * count(class))``). Every class of ``y`` must
        keep a positive total weight (``sample_weight`` times ``class_weight``): a class
        without one leaves nothing to learn it from, and with an intercept the loss has no
        minimiser, so ``fit`` raises a ValueError.
    solver : {"auto", "cholesky", "woodbury", "cg"}, default="auto"
        The w-step solver of the inner IRLS (see :class:`IRLSRegressor`).
    max_iter : int, default=100
        Maximum number of Newton steps (cycles over the classes when K > 2).
    tol : float, default=1e-6
        Scale-free tolerance: the largest KKT residual (subdifferential distance of each
        coefficient, gradient of each intercept) divided by its value at the intercept-only
        model, ``max_j |X_j'(s (y - p0))/S|``; for penalties without a working set also the
        relative decrease of F in one step.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_``.
    penalty_factor : array-like of shape (n_features,), default=None
        Per-feature factors v (glmnet's ``penalty.factor``): feature j is penalised with
        ``lam_j = lam * v_j`` in every class (see :class:`IRLSRegressor`).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (``LabelEncoder`` order).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Exact zeros for pruned coefficients.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        For K > 2 centred to sum 0 (the softmax is invariant to a common shift).
    eta_ : ndarray of the shape of ``coef_``
        ``eta_hat(coef_)`` (0: pruned; inf: unpenalised).
    n_iter_ : int
        Newton steps (class cycles) taken.
    objective_ : float
        F at the solution.
    objective_path_ : ndarray
        F at the start and after each Newton step (non-increasing).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Only when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import IRLSClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 6))
    >>> y = np.where(X @ [3.0, 0, 0, -2.0, 0, 0] + rng.standard_normal(200) > 0, "yes", "no")
    >>> clf = IRLSClassifier(penalty="l1", lam=0.05).fit(X, y)
    >>> np.flatnonzero(clf.coef_[0]).tolist(), clf.classes_.tolist()
    ([0, 3], ['no', 'yes'])
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    # a zero coefficient that violates its optimality condition re-enters (working set)
    _zeros_reenter = True
    _parameter_constraints: dict = {
        **EtaTrickBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [StrOptions(set(SOLVERS))],
        "penalty_factor": ["array-like", None],
    }

    def __init__(self, penalty: Any = "l1", penalty_params: dict | None = None,
                 lam: float = 0.01, fit_intercept: bool = True, class_weight: Any = None,
                 solver: str = "auto", max_iter: int = 100, tol: float = 1e-6,
                 warm_start: bool = False, penalty_factor: Any = None) -> None:
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.penalty_factor = penalty_factor

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> IRLSClassifier:
        res = self._fit_classes(X, y, sample_weight)
        self.objective_ = float(res.objective_path[-1])
        self.objective_path_ = np.asarray(res.objective_path)
        return self

    def _solve(self, problem: LogisticProblem, penalty: Penalty, lam: float,
               coef_init: np.ndarray | None, intercept_init: np.ndarray | None,
               working_set: np.ndarray | None = None, gradient: np.ndarray | None = None,
               warn_separation: bool = True) -> LogisticResult:
        """The solver at one lam with this estimator's parameters (fits and paths share it):
        raises on a non-finite solution, warns when it did not converge or (unless
        ``warn_separation`` is false: a path warns once for all its lams) stopped where F
        has no minimiser (:func:`~._separation.flat_separation`). ``working_set``,
        ``gradient``: a screened path's (:func:`~._logistic.logistic_irls`)."""
        res = logistic_irls(problem, penalty, lam, coef_init=coef_init,
                            intercept_init=intercept_init, solver=self.solver,
                            max_iter=self.max_iter, tol=self.tol, working_set=working_set,
                            gradient=gradient)
        self._check_result(res.coef, res.objective_path[-1])
        if res.separated:
            if warn_separation:
                warnings.warn(separation_message(
                    f"IRLSClassifier stopped after {res.n_iter} Newton steps", lam,
                    res.objective_path[-1], res.coef), ConvergenceWarning, stacklevel=4)
        elif not res.converged:
            # before max_iter the fit stops only where no Newton step lowers F
            how, advice = ((f"did not converge in {self.max_iter} Newton steps",
                            "increase max_iter") if res.n_iter >= self.max_iter else
                           (f"stopped after {res.n_iter} of max_iter={self.max_iter} Newton "
                            "steps, none of which lowers the objective",
                            "loosen tol, or standardise X"))
            warnings.warn(f"IRLSClassifier {how} at lam={lam:.4g} (scaled KKT residual "
                          f"{res.kkt:.2e} > tol={self.tol:g}); {advice}.",
                          ConvergenceWarning, stacklevel=4)
        return res
