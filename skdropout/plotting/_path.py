"""Regularisation paths and cross-validation curves (matplotlib Axes)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _axes(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _path_arrays(est: Any) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(lams, coefs of shape (n_features, n_lams), chosen lam or None) of a path source."""
    if hasattr(est, "coef_path_") and hasattr(est, "lams_"):
        return est.lams_, est.coef_path_, getattr(est, "lam_", None)
    if isinstance(est, tuple) and hasattr(est, "coefs") and hasattr(est, "lams"):
        return est.lams, est.coefs, None
    raise TypeError("plot_path needs a fitted IRLSRegressorCV / AdaptiveDropoutRegressorCV "
                    f"or the result of irls_path; got {type(est).__name__}.")


def _chosen_lams(est: Any) -> dict[str, float]:
    """The lam each selection rule picks from a fitted CV estimator's ``cv_results_``:
    ``{"min": ..., "1se": ...}`` (the rule the estimator used gave its ``lam_``)."""
    from ..linear._cv import select_index

    res = est.cv_results_
    return {rule: float(est.lams_[select_index(res["mean_test_score"],
                                               res["sem_test_score"], rule)])
            for rule in ("min", "1se")}


def _mark_choices(ax: Any, est: Any) -> None:
    """Vertical lines at the lam of both selection rules, labelled (solid: ``lam_``)."""
    chosen = _chosen_lams(est)
    for rule, style in (("min", "--"), ("1se", ":")):
        used = " = lam_" if rule == est.selection else ""
        ax.axvline(chosen[rule], color="k", linestyle=style,
                   linewidth=1.5 if used else 1.0,
                   label=f"$\\lambda$ {rule}{used} ({chosen[rule]:.3g})")


def plot_path(est: Any, ax: Any = None) -> Any:
    """Coefficients against lam (log scale, lam decreasing to the right, as in glmnet), with
    labelled vertical lines at the lam of both selection rules when ``est`` is a fitted CV
    estimator: the best mean CV score (``"min"``, dashed) and the one-standard-error rule
    (``"1se"``, dotted); the rule the estimator used, whose lam is ``lam_``, is drawn
    thicker.

    Parameters
    ----------
    est : fitted IRLSRegressorCV, AdaptiveDropoutRegressorCV, or irls_path's result
        A CV estimator plots its full-data path ``coef_path_`` over ``lams_``.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib.axes.Axes
        One line per feature (labelled ``w_j``), restyle at will.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.linear import irls_path
    >>> from skdropout.plotting import plot_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> y = X @ np.array([1.0, 0.0, -2.0]) + 0.1 * rng.standard_normal(40)
    >>> ax = plot_path(irls_path(X, y, lams=10))
    >>> len(ax.get_lines())
    3
    """
    lams, coefs, lam_chosen = _path_arrays(est)
    ax = _axes(ax)
    for j, coef in enumerate(np.asarray(coefs)):
        ax.plot(lams, coef, label=f"$w_{{{j}}}$")
    ax.set_xscale("log")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    if lam_chosen is not None:
        _mark_choices(ax, est)
    ax.set_xlabel("$\\lambda$")
    ax.set_ylabel("coefficient")
    ax.set_title("Regularisation path")
    return ax


def plot_cv(est: Any, ax: Any = None) -> Any:
    """The cross-validation curve: mean held-out error against lam with a band of one
    standard error over folds, the level "best mean + 1 standard error" (dash-dotted), and
    labelled vertical lines at the lam of both selection rules, ``"min"`` (dashed) and
    ``"1se"`` (dotted, the largest lam whose mean is within one standard error of the
    best); the rule the estimator used (its ``lam_``) is drawn thicker.

    With the default scoring the curve is the mean squared error (``mse_path_``); with
    another ``scoring`` it is the mean test score of ``cv_results_`` (greater is better).

    Parameters
    ----------
    est : fitted IRLSRegressorCV or AdaptiveDropoutRegressorCV
        The estimator whose ``cv_results_`` and ``lam_`` are drawn.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib.axes.Axes
        The curve is ``ax.get_lines()[0]``, the band ``ax.collections[0]``.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skdropout.linear import IRLSRegressorCV
    >>> from skdropout.plotting import plot_cv
    >>> X, y = make_regression(n_samples=40, n_features=5, noise=1.0, random_state=0)
    >>> ax = plot_cv(IRLSRegressorCV(lams=10, cv=3).fit(X, y))
    >>> ax.get_xscale()
    'log'
    """
    if not (hasattr(est, "cv_results_") and hasattr(est, "lam_")):
        raise TypeError("plot_cv needs a fitted IRLSRegressorCV or AdaptiveDropoutRegressorCV; "
                        f"got {type(est).__name__}.")
    lams = est.lams_
    if est.scoring is None:
        folds = est.mse_path_
        label = "mean squared error"
    else:
        res = est.cv_results_
        folds = np.column_stack([res[f"split{k}_test_score"]
                                 for k in range(est.mse_path_.shape[1])])
        label = f"score ({est.scoring})" if isinstance(est.scoring, str) else "score"
    mean = folds.mean(axis=1)
    sem = est.cv_results_["sem_test_score"]
    ax = _axes(ax)
    (line,) = ax.plot(lams, mean, marker=".", label=f"CV {label}")
    ax.fill_between(lams, mean - sem, mean + sem, color=line.get_color(), alpha=0.2,
                    label="$\\pm$ 1 standard error")
    # the 1-SE level: the best mean, one standard error towards the worse side
    best = int(np.argmax(est.cv_results_["mean_test_score"]))
    worse = 1.0 if est.scoring is None else -1.0      # an error grows, a score falls
    ax.axhline(mean[best] + worse * sem[best], color="0.4", linestyle="-.", linewidth=1,
               label="best + 1 standard error")
    _mark_choices(ax, est)
    ax.set_xscale("log")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    ax.set_xlabel("$\\lambda$")
    ax.set_ylabel(label)
    ax.set_title("Cross-validation")
    ax.legend()
    return ax
