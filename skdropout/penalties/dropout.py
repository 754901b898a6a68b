"""Effective penalties of adaptive dropout methods (Table 2, section 4 of the paper).

``vardrop``, ``hardconcrete`` and ``bernoulli_l0`` are known through their dual f only and
are tabulated once (at lam = 1) by the Legendre-Fenchel construction of
:mod:`skdropout.penalties.numerical`. Their f depends on lam only through eta/lam,
f_lam(eta) = f_1(eta/lam), hence

    Omega_lam(w) = Omega_1(w / sqrt(lam)),   eta_hat_lam(w) = lam * eta_hat_1(w / sqrt(lam)),

so changing lam costs nothing. ``standout`` has the closed form of eq. (16).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import dawsn, expit

from ._base import Domain, Penalty, check_positive
from .numerical import TabulatedPenalty, gauss_legendre, tabulate_from_dual

INF = math.inf
_ETA_GRID = np.geomspace(1e-10, 1e12, 6001)


class _LamScaledTable(Penalty):
    """A tabulated penalty at lam = 1, rescaled to any lam by f_lam(eta) = f_1(eta / lam)."""

    works_on_torch = False
    uses_lam = True

    def __init__(self, lam: float = 1.0) -> None:
        self.lam = check_positive(lam, "lam", self.name)

    def _table(self) -> TabulatedPenalty:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        return {"lam": self.lam}

    @property
    def domain(self) -> Domain:  # type: ignore[override]
        return Domain(0.0, INF)

    @property
    def slope0(self) -> float:
        return self._table().slope0 / math.sqrt(self.lam)

    def _omega(self, xp: Any, a: Any) -> Any:
        return self._table()._omega(xp, a / math.sqrt(self.lam))

    def _eta_hat(self, xp: Any, a: Any) -> Any:
        return self.lam * self._table()._eta_hat(xp, a / math.sqrt(self.lam))

    def _dual(self, eta: np.ndarray) -> np.ndarray:
        return self._table()._dual(eta / self.lam)

    def _curvature(self, a: np.ndarray) -> np.ndarray:
        # Omega_lam(a) = Omega_1(a / sqrt(lam))
        return self._table()._curvature(a / math.sqrt(self.lam)) / self.lam


# -- variational dropout ---------------------------------------------------------------


def vardrop_dual(eta: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """f(eta) of variational dropout (Table 2, eq. 19) by Gauss-Legendre quadrature.

    f(eta) = int_0^{eta/lam} F(sqrt(t/2)) / sqrt(t/2) dt = 4 int_0^{sqrt(eta/(2 lam))} F(s) ds,
    with Dawson's integral F (substituting t = 2 s^2). The requested end points are merged
    into a geometric grid of cells (ratio <= 1.1) on which the smooth F is integrated with
    12-point Gauss-Legendre, so the result is exact to rounding.

    Parameters
    ----------
    eta : array-like, >= 0
        The auxiliary variables (one per weight).
    lam : float > 0, default=1.0
        Regularisation strength lambda; f depends on eta / lam only.

    Returns
    -------
    ndarray
        f(eta), same length as ``eta``.

    Examples
    --------
    >>> from skdropout.penalties import vardrop_dual
    >>> round(float(vardrop_dual([1e-6])[0]), 12)    # f(eta) ~ eta/lam near 0
    1e-06
    """
    eta = np.atleast_1d(np.asarray(eta, dtype=np.float64))
    s = np.sqrt(eta / (2.0 * lam))
    top = max(float(s.max()), 1e-3)
    grid = np.geomspace(1e-4, top, int(np.ceil(np.log(top / 1e-4) / np.log(1.1))) + 2)
    knots, where = np.unique(np.concatenate([s, grid]), return_inverse=True)
    cells = gauss_legendre(dawsn, np.concatenate([[0.0], knots[:-1]]), knots)
    return 4.0 * np.cumsum(cells)[where[: s.size]]


def _vardrop_dual_prime(eta: np.ndarray) -> np.ndarray:
    """f'(eta) at lam = 1: F(sqrt(eta/2)) / sqrt(eta/2) (-> 1 as eta -> 0)."""
    s = np.sqrt(eta / 2.0)
    return np.where(s > 1e-8, dawsn(s) / np.where(s > 0, s, 1.0), 1.0)


@lru_cache(maxsize=None)
def _vardrop_table() -> TabulatedPenalty:
    eta = _ETA_GRID
    return tabulate_from_dual(eta, vardrop_dual(eta), _vardrop_dual_prime(eta), name="vardrop")


class VarDrop(_LamScaledTable):
    r"""Effective penalty of variational dropout (Molchanov et al.; Table 2, eq. 19) [1]_.

    Omega is defined by eq. (5) with

    .. math::

        f(\eta) = \int_0^{\eta/\lambda} \frac{F(\sqrt{t/2})}{\sqrt{t/2}}\, dt

    (F is Dawson's integral, :func:`scipy.special.dawsn`). It behaves like |w|/sqrt(lam)
    near 0 and like log|w| for large |w|. Tabulated once to a relative accuracy better than
    1e-7. Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    lam : float > 0, default=1.0
        Regularisation strength lambda (the estimators set it to their ``lam``); Omega
        scales as Omega_1(w / sqrt(lam)).

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("vardrop")``.
    vardrop_dual : Its dual f.
    skdropout.nn.VarDropLayer : The torch layer trained with this penalty's dual.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.2.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import VarDrop
    >>> round(VarDrop(lam=1.0).value([1e-6]) / 1e-6, 4)
    1.0
    """

    name = "vardrop"

    def _table(self) -> TabulatedPenalty:
        return _vardrop_table()


# -- hard concrete ------------------------------------------------------------------------


def hardconcrete_moments(log_a: np.ndarray, beta: float = 2 / 3, gamma: float = -0.1,
                         zeta: float = 1.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact E[s], 1 - E[s] and Var[s] of the HARDCONCRETE gate (eqs. 20-21).

    In x = logit(u) the stretched gate is strictly between 0 and 1 on the fixed-width
    interval [x0, x1], x0 = beta logit(-gamma/(zeta-gamma)) - log a,
    x1 = beta logit((1-gamma)/(zeta-gamma)) - log a, where it is smooth; it is 0 below and 1
    above. The moments are Gauss-Legendre integrals over that interval (64 nodes) plus the
    masses sigma(x0) at 0 and 1 - sigma(x1) at 1.

    Parameters
    ----------
    log_a : array-like
        Log of the gate location parameter a of eq. (20).
    beta, gamma, zeta : float
        Temperature and stretch of eqs. (20)-(21).

    Returns
    -------
    mean, one_minus_mean, var : ndarray
        E[s], 1 - E[s] (computed directly, accurate when E[s] -> 1) and Var[s].

    Examples
    --------
    >>> from skdropout.penalties import hardconcrete_moments
    >>> mean, q, var = hardconcrete_moments([0.0])
    >>> round(float(mean[0] + q[0]), 12)
    1.0
    """
    la = np.asarray(log_a, dtype=np.float64)[:, None]
    z0 = -gamma / (zeta - gamma)
    z1 = (1.0 - gamma) / (zeta - gamma)
    x0 = beta * math.log(z0 / (1 - z0)) - la
    x1 = beta * math.log(z1 / (1 - z1)) - la
    nodes, weights = np.polynomial.legendre.leggauss(64)
    half = (x1 - x0) / 2.0
    x = x0 + half * (nodes[None, :] + 1.0)
    dens = expit(x) * expit(-x) * weights[None, :] * half          # du = sigma'(x) dx
    s = (zeta - gamma) * expit((x + la) / beta) + gamma
    p0 = expit(x0)[:, 0]                                            # P(s = 0)
    p1 = expit(-x1)[:, 0]                                           # P(s = 1)
    mean = np.sum(s * dens, axis=1) + p1
    one_minus_mean = np.sum((1.0 - s) * dens, axis=1) + p0
    var = (np.sum((s - mean[:, None]) ** 2 * dens, axis=1)
           + p1 * one_minus_mean**2 + p0 * mean**2)
    return mean, one_minus_mean, var


def _hardconcrete_dual(log_a: np.ndarray, beta: float, gamma: float,
                       zeta: float) -> tuple[np.ndarray, np.ndarray]:
    """(eta_tilde, f) at lam = 1 as functions of log a (Table 2, HARDCONCRETENORM)."""
    mean, _, var = hardconcrete_moments(log_a, beta, gamma, zeta)
    eta = mean**2 / var                              # lam E[s]^2 / (E[s^2] - E[s]^2)
    f = 2.0 * expit(log_a - beta * math.log(-gamma / zeta))
    return eta, f


@lru_cache(maxsize=None)
def _hardconcrete_table(beta: float, gamma: float, zeta: float) -> TabulatedPenalty:
    log_a = np.linspace(-25.0, 25.0, 6001)
    h = 1e-4
    eta, f = _hardconcrete_dual(log_a, beta, gamma, zeta)
    eta_p, f_p = _hardconcrete_dual(log_a + h, beta, gamma, zeta)
    eta_m, f_m = _hardconcrete_dual(log_a - h, beta, gamma, zeta)
    df = (f_p - f_m) / (eta_p - eta_m)
    return tabulate_from_dual(eta, f, df, f_inf=2.0, name="hardconcrete")


class HardConcrete(_LamScaledTable):
    r"""Effective penalty of hard-concrete "L0 regularisation" (Louizos et al.; Table 2) [1]_.

    Follows Table 2 as written:

    .. math::

        f(\tilde\eta) = 2 \sum_j P(s_j > 0)
        = 2 \sum_j \sigma\Bigl(\log a_j - \beta \log\frac{-\gamma}{\zeta}\Bigr),
        \qquad
        \tilde\eta_j = \frac{\lambda\, \mathbb{E}[s_j]^2}
        {\mathbb{E}[s_j^2] - \mathbb{E}[s_j]^2},

    from the exact moments of the gate (:func:`hardconcrete_moments`), through the
    biased-mask reparameterisation of section 4: Omega applies to w~ = E[s] w. Omega
    saturates at 1 (the paper's Figure 1 was drawn with f = sum P(s_j > 0), which saturates
    at 1/2). Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    lam : float > 0, default=1.0
        Regularisation strength lambda (the estimators set it to their ``lam``).
    beta, gamma, zeta : float
        Gate temperature and stretch (defaults 2/3, -0.1, 1.1 as in the paper).

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("hardconcrete")``.
    hardconcrete_moments : The gate's moments it is built from.
    skdropout.nn.HardConcreteLayer : The torch layer.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.3.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import HardConcrete
    >>> round(HardConcrete().value([1e3]), 3)
    1.0
    """

    name = "hardconcrete"

    def __init__(self, lam: float = 1.0, beta: float = 2 / 3, gamma: float = -0.1,
                 zeta: float = 1.1) -> None:
        super().__init__(lam)
        self.beta = check_positive(beta, "beta", "hardconcrete")
        if not (isinstance(gamma, (int, float)) and gamma < 0):
            raise ValueError(f"hardconcrete: gamma must be < 0, got {gamma!r}.")
        if not (isinstance(zeta, (int, float)) and zeta > 1):
            raise ValueError(f"hardconcrete: zeta must be > 1, got {zeta!r}.")
        self.gamma, self.zeta = float(gamma), float(zeta)

    @property
    def params(self) -> dict[str, Any]:
        return {"lam": self.lam, "beta": self.beta, "gamma": self.gamma, "zeta": self.zeta}

    def _table(self) -> TabulatedPenalty:
        return _hardconcrete_table(self.beta, self.gamma, self.zeta)


# -- biased Bernoulli L0 -------------------------------------------------------------------


@lru_cache(maxsize=None)
def _bernoulli_table() -> TabulatedPenalty:
    eta = _ETA_GRID
    return tabulate_from_dual(eta, eta / (eta + 1.0), 1.0 / (eta + 1.0) ** 2, f_inf=1.0,
                              name="bernoulli_l0")


class BernoulliL0(_LamScaledTable):
    r"""L0 through biased Bernoulli masks s_j ~ Bernoulli(alpha_j) (section 4.3) [1]_.

    E[||s||_0] = sum alpha_j with alpha = eta/(eta+lam) (eq. 8, and here alpha~ = alpha)
    gives

    .. math::

        f(\eta) = \sum_j \frac{\eta_j}{\eta_j + \lambda}.

    Omega is computed numerically from f; the paper states that at lam = 1 it equals
    MCP(1, 1), which the tests check. Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    lam : float > 0, default=1.0
        Regularisation strength lambda (the estimators set it to their ``lam``).

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("bernoulli_l0")``.
    MCP : Equal to it at lam = 1.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.3.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import BernoulliL0
    >>> round(BernoulliL0(lam=1.0).value([0.5]), 6)             # MCP(1, 1): 0.5 - 0.125
    0.375
    """

    name = "bernoulli_l0"

    def _table(self) -> TabulatedPenalty:
        return _bernoulli_table()


# -- standout ------------------------------------------------------------------------------


class Standout(Penalty):
    r"""Effective penalty of standout on the activations (z)_+ (eqs. 15-16) [1]_.

    .. math::

        \hat\eta(z) = \frac{\lambda e^{(z)_+}}{w_2^2} \ \text{(eq. 15)}, \qquad
        \Omega(z) = \frac{w_2^2}{\lambda} \bigl(1 - ((z)_+ + 1) e^{-(z)_+}\bigr)
        \ \text{(eq. 16)}, \qquad
        f(\eta) = 2\,\Omega(a) - \frac{a^2}{\eta} \ \text{at}
        \ a = \log\frac{\eta w_2^2}{\lambda},

    on H = [lam / w2^2, inf). The argument is the pre-activation z of a ReLU unit, and only
    its activation (z)_+ is penalised (section 4.1: terms with z < 0 make no contribution),
    so the keep probability is sigma((z)_+) for w2 = 1 and Omega is 0 for z <= 0: the
    penalty is not symmetric (``symmetric = False``). Eq. (16) is the closed form;
    Corollary 2's integral runs over u = (z)_+^2. Read more in the
    :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    lam : float > 0, default=1.0
        Regularisation strength lambda.
    w2 : float, default=1.0
        The outgoing weight of the unit (its square scales the penalty).

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("standout")``.
    skdropout.nn.StandoutLayer : The torch layer.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, section 4.1.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import Standout
    >>> round(Standout().value([50.0]), 6)
    1.0
    >>> Standout().pointwise([-2.0, 0.0]).tolist()   # no activation, no penalty
    [0.0, 0.0]
    """

    name = "standout"
    uses_lam = True
    symmetric = False

    def __init__(self, lam: float = 1.0, w2: float = 1.0) -> None:
        self.lam = check_positive(lam, "lam", "standout")
        w2 = check_positive(abs(w2) if isinstance(w2, (int, float)) else w2, "w2", "standout")
        self.w2 = w2

    @property
    def params(self) -> dict[str, Any]:
        return {"lam": self.lam, "w2": self.w2}

    @property
    def domain(self) -> Domain:  # type: ignore[override]
        return Domain(self.lam / self.w2**2, INF)

    @property
    def slope0(self) -> float:
        return 0.0

    def _magnitude(self, xp: Any, w: Any) -> Any:
        return xp.maximum(w, 0.0)                  # the activation (z)_+

    def _omega(self, xp: Any, a: Any) -> Any:
        c = self.w2**2 / self.lam
        # 1 - (z + 1) e^-z = -expm1(-z) - z e^-z, accurate for small z
        return c * (-xp.expm1(-a) - a * xp.exp(-a))

    def _eta_hat(self, xp: Any, a: Any) -> Any:
        return self.lam * xp.exp(a) / self.w2**2

    def _dual(self, eta: np.ndarray) -> np.ndarray:
        z = np.log(eta * self.w2**2 / self.lam)
        omega = np.where(np.isinf(eta), self.w2**2 / self.lam,
                         self._omega(np, np.where(np.isinf(z), 0.0, z)))
        quad = np.where(np.isinf(eta), 0.0, z * z / eta)
        return 2.0 * omega - quad

    def _curvature(self, a: np.ndarray) -> np.ndarray:
        # Omega' = (w2^2 / lam) z e^-z
        return self.w2**2 / self.lam * (1.0 - a) * np.exp(-a)
