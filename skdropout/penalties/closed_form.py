"""The closed-form penalties of Table 3 (appendix A of the paper).

Each formula is written once against the array namespace ``xp`` (numpy or torch),
so ``value`` and ``eta_hat`` are differentiable on torch tensors. Every Omega is
normalised so that Omega(0) = 0 where Omega(0) is finite; the constant removed is
kept in ``omega0`` (eq. 5 then reads ``value(w) + omega0 = min_eta (...)/2`` with the
paper's f).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._base import Domain, Penalty, check_finite, check_positive

INF = math.inf


def _check_p(p: Any, owner: str) -> float:
    p = check_positive(p, "p", owner)
    if not 0 < p < 2:
        raise ValueError(f"{owner}: p must lie in the open interval (0, 2), got {p!r}.")
    return p


class L1(Penalty):
    r"""The l1 penalty Omega(w) = |w| (Table 3, row 1) [1]_; with lam, the lasso.

    .. math::

        \Omega(w) = |w|, \qquad f(\eta) = \eta, \qquad \hat\eta(w) = |w|.

    Read more in the :ref:`User Guide <penalty-table>`.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("l1")``.
    ElasticNet : l1 plus a ridge part.
    sklearn.linear_model.Lasso : scikit-learn's solver of the same problem.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import L1
    >>> L1().value([1.0, -2.0]), L1().eta_hat([1.0, -2.0]).tolist()
    (3.0, [1.0, 2.0])
    """

    name = "l1"
    convex = True

    def _omega(self, xp, a):
        return a

    def _eta_hat(self, xp, a):
        return a

    def _eta_hat_inverse(self, xp, eta):
        return eta

    def _dual(self, eta):
        return eta

    def _curvature(self, a):
        return np.zeros_like(a)

    @property
    def slope0(self) -> float:
        return 1.0


class Lpp(Penalty):
    r"""The separable power penalty Omega(w) = |w|^p / p for p in (0, 2) (Table 3,
    appendix A.4) [1]_.

    .. math::

        \Omega(w) = \frac{|w|^p}{p}, \qquad f(\eta) = \frac{\eta^q}{q} \ \text{with}
        \ q = \frac{p}{2 - p}, \qquad \hat\eta(w) = |w|^{2-p}.

    Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    p : float in (0, 2), default=0.5
        The exponent. p < 1 is non-convex with an infinite slope at 0: it sets small
        weights to exactly zero, and its slope |w|^(p-1) falls as |w| grows, so large
        weights are shrunk less than by l1 (less bias); p = 1 is l1; p > 1 is convex and
        smooth at 0, so it shrinks weights without zeroing them.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("lpp", p=0.5)``.
    Lp : The (non-separable) norm ||w||_p.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.4.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import Lpp
    >>> round(Lpp(p=0.5).value([4.0]), 6)
    4.0
    """

    name = "lpp"

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_p(p, "lpp")
        self.q = self.p / (2.0 - self.p)
        self.convex = self.p >= 1

    @property
    def params(self) -> dict[str, Any]:
        return {"p": self.p}

    def _omega(self, xp, a):
        return xp.pow(a, self.p) / self.p

    def _eta_hat(self, xp, a):
        return xp.pow(a, 2.0 - self.p)

    def _eta_hat_inverse(self, xp, eta):
        return xp.pow(eta, 1.0 / (2.0 - self.p))

    def _dual(self, eta):
        return np.power(eta, self.q) / self.q

    def _curvature(self, a):
        # Omega'' = (p - 1) |w|^(p-2); p = 1 is l1 (0 everywhere, also at 0)
        if self.p == 1:
            return np.zeros_like(a)
        return (self.p - 1.0) * np.power(a, self.p - 2.0)

    @property
    def slope0(self) -> float:
        return INF if self.p < 1 else (1.0 if self.p == 1 else 0.0)


class Lp(Penalty):
    r"""The (non-separable) norm Omega(w) = ||w||_p, p in (0, 2) (Table 3, appendix A.3)
    [1]_.

    .. math::

        \Omega(w) = \|w\|_p, \qquad f(\eta) = \|\eta\|_q \ \text{with}
        \ q = \frac{p}{2 - p}, \qquad
        \hat\eta_j(w) = |w_j|^{2-p}\, \|w\|_p^{p-1} \ (\hat\eta(0) = 0).

    Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    p : float in (0, 2), default=1.5
        The norm's exponent. The penalty couples the weights through ||w||_p: p <= 1
        sets single weights to zero (p = 1 is l1); p > 1 shrinks all weights together and
        zeroes them only all at once, at a large enough lam (as the group lasso does).

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("lp", p=1.5)``.
    Lpp : The separable |w|^p / p.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.3.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import Lp
    >>> Lp(p=1.5).value([0.0, 0.0])
    0.0
    """

    name = "lp"
    separable = False

    def __init__(self, p: float = 1.5) -> None:
        self.p = _check_p(p, "lp")
        self.q = self.p / (2.0 - self.p)
        self.convex = self.p >= 1

    @property
    def params(self) -> dict[str, Any]:
        return {"p": self.p}

    def _norm(self, xp, a):
        return xp.pow(xp.sum(xp.pow(a, self.p)), 1.0 / self.p)

    def _value_nonseparable(self, w):
        xp, w = self._prepare(w)
        return self._norm(xp, xp.abs(w))

    def _eta_hat(self, xp, w):
        a = xp.abs(w)
        norm = self._norm(xp, a)
        if xp.name == "numpy":
            if norm == 0:
                return np.zeros_like(a)
            return a ** (2.0 - self.p) * norm ** (self.p - 1.0)
        safe = xp.where(norm > 0, norm, xp.full_like(norm, 1.0))
        return xp.pow(a, 2.0 - self.p) * xp.pow(safe, self.p - 1.0) * (norm > 0)

    def _dual(self, eta):
        if np.any(np.isinf(eta)):
            return INF
        return float(np.sum(eta**self.q) ** (1.0 / self.q))

    def lam_max(self, grad0: Any) -> float:
        """lam above which w = 0 is optimal: the dual norm ||grad0||_{p*} for p > 1,
        ``max |grad0|`` for p <= 1 (then 0 is stationary for every lam; see the base class).

        Parameters
        ----------
        grad0 : array-like
            X'y/n for centred data.

        Returns
        -------
        float
        """
        g = np.abs(check_finite(grad0, "grad0"))
        if self.p <= 1 or g.size == 0:
            return float(np.max(g)) if g.size else 0.0
        pstar = self.p / (self.p - 1.0)
        return float(np.sum(g**pstar) ** (1.0 / pstar))


class L0(Penalty):
    r"""The l0 "norm" Omega(w) = 1{w != 0} (Table 3, appendix A.10) [1]_.

    .. math::

        \Omega(w) = \mathbb{1}\{w \neq 0\}, \qquad
        f(\eta) = 2 \cdot \mathbb{1}\{\eta > 0\}, \qquad
        \hat\eta(w) = \infty \cdot \mathbb{1}\{w \neq 0\}.

    Not a Legendre-Fenchel pair (the paper's footnote 2), but eq. (5) holds.
    Read more in the :ref:`User Guide <penalty-table>`.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("l0")``.
    HardThresh : The constraint ||w||_0 <= k instead of a cost per nonzero.
    BernoulliL0 : l0 through biased Bernoulli dropout masks.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.10.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import L0
    >>> L0().value([0.0, 3.0, -1.0])
    2.0
    """

    name = "l0"
    differentiable = False
    gradient_note = "its value is 0 or 1, constant almost everywhere"

    def _omega(self, xp, a):
        return (a > 0) * 1.0

    def _eta_hat(self, xp, a):
        return xp.where(a > 0, xp.full_like(a, INF), a * 0.0)

    def _dual(self, eta):
        return 2.0 * (eta > 0)

    def _curvature(self, a):
        return np.zeros_like(a)

    @property
    def slope0(self) -> float:
        return INF


class ElasticNet(Penalty):
    r"""The elastic net Omega(w) = theta/2 w^2 + (1 - theta)|w| (Table 3, appendix A.5)
    [1]_.

    .. math::

        \Omega(w) = \frac{\theta}{2} w^2 + (1 - \theta)|w|, \qquad
        f(\eta) = \frac{\eta (1 - \theta)^2}{1 - \eta\theta} \ \text{on}
        \ H = [0, 1/\theta), \qquad
        \hat\eta(w) = \frac{|w|}{\theta |w| + 1 - \theta}.

    With lam, this is scikit-learn's
    :class:`ElasticNet(alpha=lam, l1_ratio=1 - theta) <sklearn.linear_model.ElasticNet>`.
    Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    theta : float in [0, 1), default=0.5
        Weight of the ridge part (scikit-learn's ``1 - l1_ratio``): 0 is l1; towards 1 the
        l1 part vanishes, fewer weights are zeroed and correlated features share weight.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("elasticnet", theta=0.5)``.
    L1 : theta = 0.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.5.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import ElasticNet
    >>> ElasticNet(theta=0.5).value([2.0])
    2.0
    """

    name = "elasticnet"
    convex = True

    def __init__(self, theta: float = 0.5) -> None:
        theta = check_positive(theta, "theta", "elasticnet", strict=False)
        if theta >= 1:
            raise ValueError(f"elasticnet: theta must lie in [0, 1), got {theta!r}.")
        self.theta = theta
        self.domain = Domain(0.0, 1.0 / theta if theta > 0 else INF, True, theta == 0)

    @property
    def params(self) -> dict[str, Any]:
        return {"theta": self.theta}

    def _omega(self, xp, a):
        return 0.5 * self.theta * a * a + (1.0 - self.theta) * a

    def _eta_hat(self, xp, a):
        return a / (a * self.theta + (1.0 - self.theta))

    def _dual(self, eta):
        return eta * (1.0 - self.theta) ** 2 / (1.0 - eta * self.theta)

    def _curvature(self, a):
        return np.full_like(a, self.theta)

    @property
    def slope0(self) -> float:
        return 1.0 - self.theta


class Huber(Penalty):
    r"""Huber's penalty (Table 3, appendix A.6) [1]_, normalised to 0 at 0.

    .. math::

        \Omega(w) = \begin{cases} w^2 / (2\epsilon) & |w| \le \epsilon \\
                     |w| - \epsilon/2 & |w| > \epsilon \end{cases}, \qquad
        f(\eta) = \eta \ \text{on} \ H = [\epsilon, \infty), \qquad
        \hat\eta(w) = \max(\epsilon, |w|).

    This is the paper's form minus ``omega0 = eps/2``. Read more in the
    :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    eps : float > 0, default=1.0
        Width of the quadratic zone. Weights with |w| <= eps are shrunk as by ridge and
        never set to zero (eta_hat >= eps, so the keep probability stays above
        eps / (eps + lam)); beyond eps the penalty grows like l1.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("huber", eps=1.0)``.
    L1 : The limit eps -> 0.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.6.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import Huber
    >>> Huber(eps=1.0).value([0.5, 3.0])
    2.625
    """

    name = "huber"
    convex = True

    def __init__(self, eps: float = 1.0) -> None:
        self.eps = check_positive(eps, "eps", "huber")
        self.omega0 = self.eps / 2.0
        self.domain = Domain(self.eps, INF)

    @property
    def params(self) -> dict[str, Any]:
        return {"eps": self.eps}

    def _omega(self, xp, a):
        inside = a <= self.eps
        small = a * a / (2.0 * self.eps)
        return xp.where(inside, small, a - self.eps / 2.0)

    def _eta_hat(self, xp, a):
        return xp.maximum(a, self.eps)

    def _dual(self, eta):
        return eta

    def _curvature(self, a):
        return np.where(a <= self.eps, 1.0 / self.eps, 0.0)

    @property
    def slope0(self) -> float:
        return 0.0


#: torch tensors with at least this many entries take LogSum's sum of Omega in its eta-trick
#: dual (``LogSum._dual_parts``) by the log of grouped products; below it the extra calls
#: cost more than the logs they save
_GROUPED_DUAL_MIN = 65536


class LogSum(Penalty):
    r"""The log-sum penalty (Candes et al.), normalised: Omega(w) = log(|w| + eps) - log(eps)
    (Table 3, appendix A.7) [1]_.

    .. math::

        \Omega(w) = \log(|w| + \epsilon) - \log\epsilon, \qquad
        \hat\eta(w) = |w|\,(|w| + \epsilon),

        f(\eta) = 2 \log\frac{\sqrt{\epsilon^2 + 4\eta} + \epsilon}{2}
        - \frac{\bigl(\sqrt{\epsilon^2 + 4\eta} - \epsilon\bigr)^2}{4\eta}.

    ``omega0 = log(eps)`` is the constant removed from the paper's form. Read more in the
    :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    eps : float > 0, default=2.0
        The offset inside the log. Small eps is close to l0: a slope 1/eps at 0 (a strong
        pull to zero) and little shrinkage of large weights; large eps is close to
        l1 / eps.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("logsum", eps=2.0)``.
    MCP, SCAD : Other non-convex penalties that leave large weights unbiased.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.7.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import LogSum
    >>> import math
    >>> math.isclose(LogSum(eps=2.0).value([2.0]), math.log(2.0))
    True
    """

    name = "logsum"

    def __init__(self, eps: float = 2.0) -> None:
        self.eps = check_positive(eps, "eps", "logsum")
        self.omega0 = math.log(self.eps)

    @property
    def params(self) -> dict[str, Any]:
        return {"eps": self.eps}

    def _omega(self, xp, a):
        return xp.log1p(a / self.eps)

    def _eta_hat(self, xp, a):
        return a * (a + self.eps)

    def _eta_hat_inverse(self, xp, eta):
        # the positive root of a^2 + eps a = eta, written without cancellation
        return 2.0 * eta / (xp.sqrt(4.0 * eta + self.eps**2) + self.eps)

    def _dual_parts(self, xp, eta, scale=1.0, offset=0.0):
        if xp.name != "torch":
            return super()._dual_parts(xp, eta, scale, offset)
        import torch

        from ._torch_ops import scalar_like, sum_log

        # with r = sqrt(eta + eps^2/4) + eps/2 = a + eps (a = eta / r, the root of
        # a (a + eps) = eta without cancellation), q = eps r = sqrt(eps^2 eta + eps^4/4)
        # + eps^2/2 and p = eps^2 / q = 1 / (1 + a/eps) in (0, 1]: a/eps = eta / q,
        # a^2/eta = a / r = (a/eps) p and Omega(a) = log1p(a/eps) = -log p, whose sum is
        # taken by logs of grouped products (one log per eight weights) for large tensors;
        # on two buffers, one of them eta's, without a itself
        e2 = self.eps ** 2
        q = torch.add(scalar_like(e2 * e2 / 4, eta), eta, alpha=e2).sqrt_().add_(e2 / 2)
        a_eps = torch.div(eta, q, out=eta)
        if eta.numel() < _GROUPED_DUAL_MIN:  # a^2/eta = eps^2 (a/eps) / q, one log1p each
            ratio = torch.addcdiv(scalar_like(offset, eta), a_eps, q, value=scale * e2, out=q)
            return None, ratio, a_eps.log1p_().sum()
        p = torch.div(scalar_like(e2, eta), q, out=q)
        omega_sum = sum_log(p, checked=True).neg_()
        ratio = torch.addcmul(scalar_like(offset, eta), a_eps, p, value=scale, out=p)
        return None, ratio, omega_sum

    def _value_and_slope(self, xp, w, scale):
        if xp.name != "torch":
            return None
        import torch

        # scale sum log1p(|w|/eps) and scale w / eta_hat(w) = scale sign(w) / (|w| + eps)
        # (0 at w = 0), on two buffers
        a = torch.abs(w)
        a_eps = torch.div(a, self.eps)
        value = a_eps.log1p_().sum().mul_(scale)
        sign = torch.sign(w, out=a_eps)
        slope = torch.addcdiv(torch.zeros((), dtype=w.dtype, device=w.device), sign,
                              a.add_(self.eps), value=scale, out=a)
        return value, slope

    def _dual(self, eta):
        e = self.eps
        r = np.sqrt(e * e + 4.0 * eta)
        # (r - e)^2 / (4 eta) = 4 eta / (r + e)^2, which is exact at eta = 0 and eta = inf.
        second = np.where(np.isinf(eta), INF, 4.0 * eta / (r + e) ** 2)
        return np.where(np.isinf(eta), INF, 2.0 * np.log((r + e) / 2.0) - second)

    def _curvature(self, a):
        return -1.0 / (a + self.eps) ** 2

    @property
    def slope0(self) -> float:
        return 1.0 / self.eps


class _LamShaped(Penalty):
    """Shared parameter handling of penalties whose shape depends on lam (SCAD, MCP)."""

    uses_lam = True
    lam_broadcasts = True
    _a_min = 0.0

    def __init__(self, a: float, lam: float = 1.0) -> None:
        a = check_positive(a, "a", self.name)
        if a <= self._a_min:
            raise ValueError(f"{self.name}: a must be > {self._a_min:g}, got {a!r}.")
        self.a = a
        self.lam = check_positive(lam, "lam", self.name)

    @property
    def params(self) -> dict[str, Any]:
        return {"a": self.a, "lam": self.lam}

    @property
    def slope0(self) -> float:
        return 1.0


class SCAD(_LamShaped):
    r"""Fan and Li's SCAD with lam factored out (Table 3, appendix A.8) [1]_: lam * Omega is
    the usual SCAD penalty.

    .. math::

        \Omega(w) = \begin{cases} |w| & |w| \le \lambda \\
            \dfrac{2 a \lambda |w| - w^2 - \lambda^2}{2 (a - 1) \lambda}
                & \lambda < |w| \le a\lambda \\
            (a + 1) \lambda / 2 & |w| > a\lambda \end{cases}

        f(\eta) = \begin{cases} \eta & \eta \le \lambda \\
            \dfrac{\lambda ((a + 1) \eta - \lambda)}{(a - 1) \lambda + \eta}
                & \eta > \lambda \end{cases} \ \text{(eq. 57)}, \qquad
        \hat\eta(w) = \begin{cases} |w| & |w| \le \lambda \\
            \dfrac{(a - 1) \lambda |w|}{a \lambda - |w|} & \lambda < |w| < a\lambda \\
            \infty & |w| \ge a\lambda \end{cases} \ \text{(eq. 51)}.

    Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    a : float > 2, default=3.7
        Where the penalty turns flat: weights with |w| >= a lam are not shrunk at all
        (eta_hat = inf, keep probability 1). 3.7 is Fan and Li's recommendation; larger
        a is closer to l1.
    lam : float > 0, default=1.0
        The regularisation strength the shape is tied to. The estimators set it to their
        own ``lam`` (:meth:`~Penalty.with_lam`), so it is rarely given by hand.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("scad", a=3.7)``.
    MCP : The other non-convex penalty with a flat tail.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.8.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import SCAD
    >>> SCAD(a=3.7, lam=1.0).value([10.0])
    2.35
    """

    name = "scad"
    _a_min = 2.0

    def __init__(self, a: float = 3.7, lam: float = 1.0) -> None:
        super().__init__(a, lam)

    def _omega(self, xp, a):
        a_, lam = self.a, self.lam
        mid = (2 * a_ * lam * a - a * a - lam * lam) / (2 * (a_ - 1) * lam)
        flat = (a_ + 1) * lam / 2.0
        return xp.where(a <= lam, a, xp.where(a <= a_ * lam, mid, a * 0.0 + flat))

    def _eta_hat(self, xp, a):
        a_, lam = self.a, self.lam
        inner = a < a_ * lam
        denom = xp.where(inner, a_ * lam - a, a * 0.0 + 1.0)
        mid = (a_ - 1) * lam * a / denom
        return xp.where(a <= lam, a, xp.where(inner, mid, xp.full_like(a, INF)))

    def _dual(self, eta):
        a_, lam = self.a, self.lam
        big = np.where(np.isinf(eta), (a_ + 1) * lam,
                       lam * ((a_ + 1) * eta - lam) / ((a_ - 1) * lam + eta))
        return np.where(eta <= lam, eta, big)

    def _curvature(self, a):
        # Omega' = 1, (a lam - |w|) / ((a - 1) lam), 0 on the three pieces
        a_, lam = self.a, self.lam
        inner = (a > lam) & (a < a_ * lam)
        return np.where(inner, -1.0 / ((a_ - 1.0) * lam), 0.0)


class MCP(_LamShaped):
    r"""The minimax concave penalty with lam factored out (Table 3, appendix A.9) [1]_.

    .. math::

        \Omega(w) = \begin{cases} |w| - \dfrac{w^2}{2 a \lambda} & |w| \le a\lambda \\
            a \lambda / 2 & |w| > a\lambda \end{cases}, \qquad
        f(\eta) = \frac{a \lambda \eta}{\eta + a \lambda}, \qquad
        \hat\eta(w) = \begin{cases} \dfrac{a \lambda |w|}{a \lambda - |w|}
            & |w| < a\lambda \\ \infty & |w| \ge a\lambda \end{cases}.

    ``lam * Omega`` is skglm's ``MCPenalty(alpha=lam, gamma=a)``. Read more in the
    :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    a : float > 0, default=3.0
        The concavity (``gamma`` in skglm and ncvreg): weights with |w| >= a lam are not
        shrunk (eta_hat = inf, keep probability 1). Small a is close to hard thresholding,
        large a to l1.
    lam : float > 0, default=1.0
        The regularisation strength a lam is measured in; set by the estimators to their
        ``lam``, as for :class:`SCAD`.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("mcp", a=3.0)``.
    SCAD : The other non-convex penalty with a flat tail.
    BernoulliL0 : Equals MCP(1, 1) at lam = 1.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.9.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import MCP
    >>> MCP(a=1.0, lam=1.0).value([0.5, 5.0])
    0.875
    """

    name = "mcp"

    def __init__(self, a: float = 3.0, lam: float = 1.0) -> None:
        super().__init__(a, lam)

    def _omega(self, xp, a):
        t = self.a * self.lam
        inner = a <= t
        return xp.where(inner, a - a * a / (2.0 * t), a * 0.0 + t / 2.0)

    def _eta_hat(self, xp, a):
        t = self.a * self.lam
        inner = a < t
        denom = xp.where(inner, t - a, a * 0.0 + 1.0)
        return xp.where(inner, t * a / denom, xp.full_like(a, INF))

    def _dual(self, eta):
        t = self.a * self.lam
        return np.where(np.isinf(eta), t, t * eta / (eta + t))

    def _curvature(self, a):
        # Omega' = 1 - |w| / (a lam) below a lam, 0 beyond
        t = self.a * self.lam
        return np.where(a < t, -1.0 / t, 0.0)


class HardThresh(Penalty):
    r"""HARDTHRESH(k): Omega(w) = inf * 1{||w||_0 > k} (Table 3, appendix A.11) [1]_.

    .. math::

        \Omega(w) = \infty \cdot \mathbb{1}\{\|w\|_0 > k\}, \qquad
        f(\eta) = 0 \ \text{on} \ H = \{\eta : \|\eta\|_0 \le k\}, \qquad
        \hat\eta_j(w) = \begin{cases} \infty & j \in \mathrm{TOP}_k(w) \\
            0 & \text{otherwise} \end{cases}

    TOP-k(w) are the k largest magnitudes, ties broken by position. With the eta-trick this
    is iterative hard thresholding; with adaptive dropout it is magnitude pruning.
    Read more in the :ref:`User Guide <penalty-table>`.

    Parameters
    ----------
    k : int >= 0, default=1
        The number of weights kept: the k largest in magnitude are unpenalised, all
        others are set to zero.

    See Also
    --------
    get_penalty : Builds it by name, ``get_penalty("hardthresh", k=10)``.
    L0 : A cost per nonzero weight instead of a budget.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, Table 3, appendix A.11.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> from skdropout.penalties import HardThresh
    >>> HardThresh(k=1).eta_hat([0.5, -2.0, 1.0]).tolist()
    [0.0, inf, 0.0]
    """

    name = "hardthresh"
    separable = False
    differentiable = False
    gradient_note = "its value is 0 or inf"

    def __init__(self, k: int = 1) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"hardthresh: k must be an integer, got {type(k).__name__}.")
        if k < 0:
            raise ValueError(f"hardthresh: k must be >= 0, got {k!r}.")
        self.k = int(k)

    @property
    def params(self) -> dict[str, Any]:
        return {"k": self.k}

    def _value_nonseparable(self, w):
        xp, w = self._prepare(w)
        nnz = (w != 0).sum()
        if xp.name == "numpy":
            return INF if nnz > self.k else 0.0
        return xp.where(nnz > self.k, xp.full_like(w.sum(), INF), w.sum() * 0.0)

    def _eta_hat(self, xp, w):
        a = xp.abs(w)
        flat = a.reshape(-1)
        k = min(self.k, flat.shape[0])
        if xp.name == "numpy":
            keep = np.zeros(flat.shape[0], dtype=bool)
            if k:
                keep[np.argsort(-flat, kind="stable")[:k]] = True
            return np.where(keep, INF, 0.0).reshape(a.shape)
        out = xp.full_like(flat, 0.0)
        if k:
            idx = flat.topk(k).indices
            out = out.index_fill(0, idx, INF)
        return out.reshape(a.shape)

    def _dual(self, eta):
        return 0.0 if np.count_nonzero(eta) <= self.k else INF

    def lam_max(self, grad0: Any) -> float:
        """Hard thresholding is a constraint, not a lam-scaled penalty: returns inf.

        Parameters
        ----------
        grad0 : array-like
            Unused.

        Returns
        -------
        float
            ``inf``.
        """
        return INF
