"""Subquadratic penalties in the eta-trick form: Omega(w), f(eta), eta_hat(w) (the paper's
central object; numpy/scipy only).

Use :func:`get_penalty` to build one by name, or pass a penalty object wherever a name is
accepted. See :class:`Penalty` for the methods every penalty has.
"""

from __future__ import annotations

from typing import Any

from ._base import Domain, Penalty
from .closed_form import L0, L1, MCP, SCAD, ElasticNet, HardThresh, Huber, LogSum, Lp, Lpp
from .dropout import (BernoulliL0, HardConcrete, Standout, VarDrop, hardconcrete_moments,
                      vardrop_dual)
from .numerical import TabulatedPenalty, from_dual, from_eta_hat, from_keep_prob

#: The penalty classes by name, the names :func:`get_penalty` and the estimators'
#: ``penalty=`` accept (Table 3 of the paper for the closed forms, Table 2 for the
#: effective penalties of adaptive dropout):
#:
#: ================  ======================  ==============================================
#: name              class                   Omega(w)
#: ================  ======================  ==============================================
#: ``l1``            :class:`L1`             abs(w): the lasso
#: ``lp``            :class:`Lp`             the norm of w with exponent p in (0, 2)
#:                                           (non-separable)
#: ``lpp``           :class:`Lpp`            abs(w)^p / p, p in (0, 2)
#: ``l0``            :class:`L0`             1 for every nonzero weight
#: ``elasticnet``    :class:`ElasticNet`     theta w^2 / 2 + (1 - theta) abs(w)
#: ``huber``         :class:`Huber`          quadratic below eps, l1 beyond
#: ``logsum``        :class:`LogSum`         log(abs(w) + eps) - log(eps)
#: ``scad``          :class:`SCAD`           Fan and Li's SCAD (flat beyond a lam)
#: ``mcp``           :class:`MCP`            minimax concave penalty (flat beyond a lam)
#: ``hardthresh``    :class:`HardThresh`     at most k nonzero weights (a constraint)
#: ``vardrop``       :class:`VarDrop`        variational dropout's effective penalty
#: ``hardconcrete``  :class:`HardConcrete`   hard concrete "L0 regularisation"'s
#: ``standout``      :class:`Standout`       standout's, on the activations
#: ``bernoulli_l0``  :class:`BernoulliL0`    L0 through biased Bernoulli masks
#: ================  ======================  ==============================================
PENALTIES: dict[str, type[Penalty]] = {
    cls.name: cls
    for cls in (L1, Lp, Lpp, L0, ElasticNet, Huber, LogSum, SCAD, MCP, HardThresh, VarDrop,
                HardConcrete, Standout, BernoulliL0)
}


def get_penalty(name: str | Penalty, **params: Any) -> Penalty:
    """Build a penalty by name (or return a penalty object unchanged): the Omega / f /
    eta_hat triple of eq. (5) for one row of Table 3 or one method of Table 2 [1]_.

    Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    name : str or Penalty
        One of ``l1 lp lpp l0 elasticnet huber logsum scad mcp hardthresh vardrop
        hardconcrete standout bernoulli_l0`` (the keys of :data:`PENALTIES`), or a
        :class:`Penalty` instance.
    **params
        The penalty's parameters (e.g. ``eps`` for logsum, ``a`` and ``lam`` for mcp),
        described on each class's page.

    Returns
    -------
    Penalty
        A new penalty object (``name`` itself when it is one).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or a bad parameter value.
    TypeError
        For a parameter the penalty does not have, or one of the wrong type.

    See Also
    --------
    PENALTIES : The names and their classes.
    L1, Lp, Lpp, L0, ElasticNet, Huber, LogSum, SCAD, MCP, HardThresh : Table 3's penalties.
    VarDrop, HardConcrete, Standout, BernoulliL0 : Table 2's effective penalties.
    skdropout.linear.IRLSRegressor : Fits a linear model with any of them.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Tables 2 and 3.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import get_penalty
    >>> get_penalty("logsum", eps=2.0)
    LogSum(eps=2.0)
    """
    if isinstance(name, Penalty):
        if params:
            raise TypeError("Parameters cannot be given together with a penalty object.")
        return name
    if not isinstance(name, str) or name not in PENALTIES:
        valid = ", ".join(sorted(PENALTIES))
        raise ValueError(f"Unknown penalty {name!r}; valid names are: {valid}.")
    cls = PENALTIES[name]
    try:
        return cls(**params)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise TypeError(f"{name}: unknown parameter in {sorted(params)}; "
                            f"{name} takes {sorted(cls().params)}.") from None
        raise


def resolve_penalty(penalty: str | Penalty, params: dict[str, Any] | None = None,
                    lam: float | None = None) -> Penalty:
    """The penalty an estimator uses: built from a name and params (or taken as an object),
    with its lam set to the estimator's ``lam`` when its shape depends on lam (the lam of
    eqs. 1 and 6).

    Parameters
    ----------
    penalty : str or Penalty
        A name of :data:`PENALTIES` or a penalty object.
    params : dict, optional
        Parameters for :func:`get_penalty`.
    lam : float, optional
        The estimator's regularisation strength.

    Returns
    -------
    Penalty
        The penalty, with ``lam`` set when it uses lam.

    See Also
    --------
    get_penalty : Builds a penalty by name.
    Penalty.with_lam : The same penalty at another lam.

    Examples
    --------
    >>> from skdropout.penalties import resolve_penalty
    >>> resolve_penalty("mcp", {"a": 3.0}, lam=0.1)
    MCP(a=3.0, lam=0.1)
    """
    pen = get_penalty(penalty, **(params or {}))
    if lam is not None and pen.uses_lam:
        pen = pen.with_lam(lam)
    return pen


__all__ = [
    "BernoulliL0", "Domain", "ElasticNet", "HardConcrete", "HardThresh", "Huber", "L0", "L1",
    "LogSum", "Lp", "Lpp", "MCP", "PENALTIES", "Penalty", "SCAD", "Standout",
    "TabulatedPenalty", "VarDrop", "from_dual", "from_eta_hat", "from_keep_prob",
    "get_penalty", "hardconcrete_moments", "resolve_penalty", "vardrop_dual",
]
