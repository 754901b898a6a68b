"""The penalty object: Omega(w), its dual f(eta) and the reweighting map eta_hat(w).

Every penalty of the library is a subquadratic Omega written in the eta-trick
form of eq. (5),

    Omega(w) = min_{eta in H} 1/2 (w' diag(eta)^-1 w + f(eta)),

whose minimiser is eta_hat(w) (eq. 7) and whose adaptive-dropout keep
probability is alpha = eta_hat / (eta_hat + lam) (eq. 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._xp import is_torch, namespace


@dataclass(frozen=True)
class Domain:
    """The set H of legal eta values of a separable penalty, an interval of [0, inf].

    Parameters
    ----------
    low, high : float
        End points (``high`` may be ``inf``).
    low_closed, high_closed : bool
        Whether the end points belong to H.

    Notes
    -----
    H is the feasible set of eta in eq. (5) (Table 3 lists it where it is restricted, e.g.
    [eps, inf) for Huber).

    Examples
    --------
    >>> from skdropout.penalties import Domain
    >>> Domain(1.0).contains([0.5, 1.0, float("inf")]).tolist()
    [False, True, True]
    """

    low: float = 0.0
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True

    def contains(self, eta: np.ndarray) -> np.ndarray:
        """Element-wise membership of ``eta`` in H.

        Parameters
        ----------
        eta : array-like
            Candidate values of eta (``inf`` allowed).

        Returns
        -------
        ndarray of bool
            True where the entry lies in H, same shape as ``eta``.
        """
        eta = np.asarray(eta, dtype=np.float64)
        above = eta >= self.low if self.low_closed else eta > self.low
        below = eta <= self.high if self.high_closed else eta < self.high
        return above & below

    def __str__(self) -> str:
        lo = "[" if self.low_closed else "("
        hi = "]" if self.high_closed else ")"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"


def check_finite(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array, raising ``ValueError`` on NaN or infinity."""
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it contains NaN or infinity.")
    return arr


def check_eta(eta: Any) -> np.ndarray:
    """Return ``eta`` as a float64 array; NaN or negative values raise ``ValueError``."""
    arr = np.asarray(eta, dtype=np.float64)
    if np.any(np.isnan(arr)) or np.any(arr < 0):
        raise ValueError("eta must be non-negative (0 and +inf are allowed) and not NaN.")
    return arr


def check_positive(value: Any, name: str, owner: str, *, strict: bool = True) -> float:
    """Validate a real penalty parameter that must be positive (or non-negative)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    ok = value > 0 if strict else value >= 0
    if not math.isfinite(value) or not ok:
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{owner}: {name} must be finite and {bound}, got {value!r}.")
    return value


class Penalty:
    r"""Base class of a subquadratic penalty in the eta-trick form (eq. 5) [1]_.

    A penalty is the triple of Omega, its dual f and the reweighting map eta_hat:

    .. math::

        \Omega(w) = \min_{\eta \in H} \frac{1}{2} \Bigl(\sum_j \frac{w_j^2}{\eta_j}
        + f(\eta)\Bigr) \ \text{(eq. 5)}, \qquad
        \hat\eta(w) = \operatorname*{arg\,min}_{\eta \in H} (\ldots)
        \ \text{(eq. 7)}, \qquad
        \alpha = \frac{\hat\eta}{\hat\eta + \lambda} \ \text{(eq. 8)},

    where alpha is the keep probability of the adaptive dropout method that is the dual of
    the reweighted (eta-trick) regulariser for Omega (Theorem 1). For a separable penalty
    ``w_j / eta_hat_j = dOmega/dw_j``.

    Subclasses implement ``_omega`` (Omega of the magnitudes), ``_eta_hat`` and ``_dual``
    (all written once against the array namespace ``xp``, so they run on numpy arrays and
    torch tensors alike). Read more in the :ref:`User Guide <penalty-table>`.

    See Also
    --------
    get_penalty : Builds a penalty by name.
    PENALTIES : The names and their classes.
    from_dual, from_eta_hat, from_keep_prob : A penalty from any one of f, eta_hat or alpha.

    References
    ----------
    .. [1] D. LeJeune, H. Javadi, R. G. Baraniuk, "The Flip Side of the Reweighted Coin:
       Duality of Adaptive Dropout and Regularization", NeurIPS 2021, sections 2.2 and 3.
       https://arxiv.org/abs/2106.07769

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.penalties import get_penalty
    >>> pen = get_penalty("logsum", eps=1.0)
    >>> w = np.array([0.0, 1.0])
    >>> eta = pen.eta_hat(w)                            # eq. (7): |w| (|w| + eps)
    >>> float(0.5 * (w[1] ** 2 / eta[1] + pen.dual_pointwise(eta)[1]))   # eq. (5)
    0.6931471805599453
    >>> pen.value(w) + pen.omega0                       # log(1 + 1) + log(1)
    0.6931471805599453

    Attributes
    ----------
    name : str
        The registry name (``get_penalty(name)``).
    separable : bool
        Whether Omega is a sum of one function over the entries.
    convex : bool
        Whether Omega is convex in w (the KKT conditions are then sufficient).
    omega0 : float
        The value that was subtracted so that ``value(0) == 0``; eq. (5) holds as
        ``value(w) + omega0 == min_eta (w^2/eta + f(eta)) / 2`` with f from Table 3.
    domain : Domain
        The set H of each eta_j.
    uses_lam : bool
        Whether the penalty's shape depends on lambda (set it with :meth:`with_lam`).
    lam_broadcasts : bool
        Whether its numpy formulas also hold with ``lam`` an array of one value per entry
        (per-feature penalty factors then need no loop over distinct factors).
    works_on_torch : bool
        Whether Omega and eta_hat evaluate torch tensors (closed forms), as the deep
        methods of :mod:`skdropout.nn` need.
    differentiable : bool
        Whether Omega has a finite, informative gradient almost everywhere, as the
        gradient-based deep methods need (``gradient_note`` says why not).
    symmetric : bool
        Whether Omega(-w) = Omega(w), so that Omega is a function of |w| (the weight
        penalties). False for ``standout``, a penalty on activations (z)_+ that is 0 for
        z <= 0; the eta-trick estimators of :mod:`skdropout.linear` need True.
    """

    name: str = "penalty"
    separable: bool = True
    convex: bool = False
    uses_lam: bool = False
    lam_broadcasts: bool = False
    works_on_torch: bool = True
    differentiable: bool = True
    gradient_note: str = ""
    symmetric: bool = True
    omega0: float = 0.0
    domain: Domain = Domain()

    # -- what subclasses provide -------------------------------------------------
    def _omega(self, xp: Any, a: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _eta_hat(self, xp: Any, a: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dual(self, eta: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _magnitude(self, xp: Any, w: Any) -> Any:
        """The argument of :meth:`_omega` and :meth:`_eta_hat`: |w| (symmetric penalties)."""
        return xp.abs(w)

    def _eta_hat_inverse(self, xp: Any, eta: Any) -> Any:
        """The magnitude a >= 0 with eta_hat(a) = eta in closed form (eq. 7 solved for
        |w|), or None when the penalty has none (callers then solve it numerically)."""
        return None

    def _dual_parts(self, xp: Any, eta: Any, scale: float = 1.0,
                    offset: float = 0.0) -> tuple[Any, Any, Any] | None:
        """What the eta-trick's dual ``f(eta) = 2 Omega(a) - a^2/eta`` needs, in closed
        form: ``a = eta_hat^{-1}(eta)`` (or None where a penalty computes the rest without
        it), ``scale a^2 / eta + offset`` entry by entry and ``sum Omega(a)``; None when the
        penalty has no closed-form inverse. A torch ``eta`` may be overwritten (penalties
        may compute in its storage)."""
        a = self._eta_hat_inverse(xp, eta)
        if a is None:
            return None
        return a, scale * (a * a / eta) + offset, self.value(a)

    def _value_and_slope(self, xp: Any, w: Any, scale: float) -> tuple[Any, Any] | None:
        """``scale Omega(w)`` and its gradient ``scale w / eta_hat(w)`` (0 at w = 0) in one
        joint closed form cheaper than :meth:`value` and :meth:`eta_hat` apart, or None when
        the penalty has none (callers then use those two)."""
        return None

    def _curvature(self, a: np.ndarray) -> np.ndarray | None:
        """Omega''(a) at magnitudes ``a >= 0`` in closed form (at 0 the limit a -> 0+), or
        None when the penalty has none (:meth:`curvature` then differentiates numerically)."""
        return None

    @property
    def params(self) -> dict[str, Any]:
        """The constructor parameters of this penalty."""
        return {}

    @property
    def slope0(self) -> float:
        """Right derivative of Omega at 0, ``lim_{t->0+} Omega(t)/t`` (may be 0 or inf)."""
        raise NotImplementedError(f"{self.name} does not define its slope at 0.")

    # -- public API ----------------------------------------------------------------
    def _prepare(self, w: Any) -> tuple[Any, Any]:
        xp = namespace(w)
        if xp.name == "numpy":
            w = check_finite(w, "w")
        return xp, w

    def pointwise(self, w: Any) -> Any:
        """Omega applied to each entry of ``w`` (separable penalties), normalised to 0 at 0.

        Parameters
        ----------
        w : array-like or torch.Tensor
            Weights.

        Returns
        -------
        array or torch.Tensor
            ``Omega(w_j)`` for each entry, same shape as ``w``.
        """
        if not self.separable:
            raise TypeError(f"{self.name} is not separable: use value(w).")
        xp, w = self._prepare(w)
        if xp.name == "numpy":
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return self._omega(xp, self._magnitude(xp, w))
        return self._omega(xp, self._magnitude(xp, w))

    def value(self, w: Any) -> Any:
        """Omega(w), summed over the entries (eq. 1, Table 3), with ``value(0) == 0``.

        Parameters
        ----------
        w : array-like or torch.Tensor
            Weights (any shape).

        Returns
        -------
        float or torch.Tensor
            A float for numpy input, a differentiable 0-d tensor for torch input.

        Examples
        --------
        >>> from skdropout.penalties import get_penalty
        >>> get_penalty("l1").value([1.0, -2.0])
        3.0
        """
        out = self.pointwise(w) if self.separable else self._value_nonseparable(w)
        if is_torch(out):
            return out.sum()
        return float(np.sum(out))

    def _value_nonseparable(self, w: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def eta_hat(self, w: Any) -> Any:
        """The minimising eta of eq. (5) for fixed ``w`` (eq. 7); 0 and +inf are legal values.

        Parameters
        ----------
        w : array-like or torch.Tensor
            Weights (any shape).

        Returns
        -------
        array or torch.Tensor
            eta_hat(w), same shape as ``w``.

        Examples
        --------
        >>> from skdropout.penalties import get_penalty
        >>> get_penalty("mcp", a=1.0, lam=1.0).eta_hat([0.5, 2.0]).tolist()
        [1.0, inf]
        """
        xp, w = self._prepare(w)
        if xp.name == "numpy":
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return self._eta_hat(xp, self._magnitude(xp, w) if self.separable else w)
        return self._eta_hat(xp, self._magnitude(xp, w) if self.separable else w)

    def keep_prob(self, w: Any, lam: float) -> Any:
        """Adaptive-dropout keep probability ``alpha = eta_hat / (eta_hat + lam)`` (eq. 8).

        ``eta_hat = inf`` gives 1 (never dropped), ``eta_hat = 0`` gives 0 (pruned).

        Parameters
        ----------
        w : array-like or torch.Tensor
            Weights (any shape).
        lam : float > 0
            Regularisation strength lambda of eq. (1): the dropout rate of a weight grows
            with lam.

        Returns
        -------
        array or torch.Tensor
            Probabilities in [0, 1], non-decreasing in |w|.

        Examples
        --------
        >>> from skdropout.penalties import get_penalty
        >>> get_penalty("l1").keep_prob([0.0, 1.0], lam=1.0).tolist()
        [0.0, 0.5]
        """
        lam = check_positive(lam, "lam", self.name)
        eta = self.eta_hat(w)
        xp = namespace(eta)
        if xp.name == "numpy":
            with np.errstate(invalid="ignore"):
                return np.where(np.isinf(eta), 1.0, eta / (eta + lam))
        return xp.where(xp.isinf(eta), xp.full_like(eta, 1.0), eta / (eta + lam))

    def dual_pointwise(self, eta: Any) -> np.ndarray:
        """f(eta_j) for each entry (separable penalties, eq. 5); +inf outside the domain H.

        Parameters
        ----------
        eta : array-like, >= 0 (inf allowed)
            The auxiliary variables, one per weight.

        Returns
        -------
        ndarray
            f(eta_j) for each entry, same shape as ``eta``.
        """
        if not self.separable:
            raise TypeError(f"{self.name} is not separable: use dual(eta).")
        eta = check_eta(eta)
        inside = self.domain.contains(eta)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.asarray(self._dual(np.where(inside, eta, self.domain.low)), dtype=np.float64)
        return np.where(inside, out, np.inf)

    def dual(self, eta: Any) -> float:
        """The dual function f(eta) of eq. (5), summed over entries; +inf outside H.

        Parameters
        ----------
        eta : array-like, >= 0 (inf allowed)
            The auxiliary variables, one per weight.

        Returns
        -------
        float
            f(eta); ``inf`` when an entry lies outside H.

        Examples
        --------
        >>> from skdropout.penalties import get_penalty
        >>> get_penalty("mcp", a=1.0, lam=1.0).dual([1.0])
        0.5
        """
        if self.separable:
            return float(np.sum(self.dual_pointwise(eta)))
        return float(self._dual(check_eta(eta)))

    def grad(self, w: Any) -> np.ndarray:
        """dOmega/dw = w / eta_hat(w) (eq. 7); at ``w_j = 0`` this is 0 (the subgradient
        set there is ``[-slope0, slope0]``).

        Parameters
        ----------
        w : array-like
            Weights (any shape).

        Returns
        -------
        ndarray
            The gradient, same shape as ``w`` (0 where eta_hat is infinite).
        """
        w = check_finite(w, "w")
        eta = self.eta_hat(w)
        return _safe_ratio(np.sign(w) * self._magnitude(np, w), eta)

    def curvature(self, w: Any) -> np.ndarray:
        """d^2 Omega / dw^2 per entry (separable penalties): the derivative of
        ``grad(w) = w / eta_hat(w)`` (eq. 7),

            Omega''(w) = (1 - d log eta_hat(|w|) / d log|w|) / eta_hat(|w|),

        an even function of w for symmetric penalties. Closed forms where the penalty has one; otherwise central
        differences of :meth:`grad` with step ``1e-6 |w|``. At ``w_j = 0`` the closed forms
        give the limit ``|w| -> 0+`` (the numerical route evaluates at ``|w| = 1e-8``).
        Newton's method on the stationarity equations ``X'(X w - y)/n + lam Omega'(w) = 0``
        uses ``X'X/n + lam diag(Omega''(w))`` as its Hessian.

        Parameters
        ----------
        w : array-like
            Weights (finite).

        Returns
        -------
        ndarray
            Omega''(w), same shape as ``w`` (``-inf`` where Omega' falls infinitely fast,
            e.g. lpp with p < 1 at 0; 0 where a non-symmetric penalty is flat).

        Examples
        --------
        >>> from skdropout.penalties import get_penalty
        >>> get_penalty("logsum", eps=1.0).curvature([1.0, -3.0]).tolist()   # -1/(|w|+eps)^2
        [-0.25, -0.0625]
        """
        if not self.separable:
            raise TypeError(f"{self.name} is not separable: its Hessian is not diagonal.")
        w = check_finite(w, "w")
        a = np.abs(w)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self._curvature(a)
        if out is None:
            a = np.where(a > 0, a, 1e-8)
            h = 1e-6 * a
            out = (self.grad(a + h) - self.grad(a - h)) / (2.0 * h)
        out = np.asarray(out, dtype=np.float64)
        if not self.symmetric:
            # Omega is flat where a nonzero w has magnitude 0 (standout's z < 0)
            out = np.where((self._magnitude(np, w) == 0) & (w != 0), 0.0, out)
        return out

    def lam_max(self, grad0: Any) -> float:
        """Smallest lam for which w = 0 is stationary, given ``grad0 = X'y/n`` (the loss
        gradient at 0 with a minus sign): ``max_j |grad0_j| / slope0``.

        For penalties with an infinite slope at 0 (w = 0 is then stationary for every lam)
        this returns the l1 value ``max_j |grad0_j|`` as a scale; for a zero slope it
        returns inf.

        Parameters
        ----------
        grad0 : array-like
            X'y/n for centred data.

        Returns
        -------
        float
        """
        g = float(np.max(np.abs(check_finite(grad0, "grad0")))) if np.size(grad0) else 0.0
        s = self.slope0
        if math.isinf(s):
            return g
        if s == 0:
            return math.inf
        return g / s

    def with_lam(self, lam: float) -> Penalty:
        """This penalty for regularisation strength ``lam`` (itself when it does not use lam).

        Penalties whose shape depends on lambda (lam * Omega is the usual SCAD/MCP; the dual f
        of Table 2's methods depends on eta / lam) are rebuilt with the new lam.

        Parameters
        ----------
        lam : float > 0
            The new regularisation strength.

        Returns
        -------
        Penalty
            A new penalty of the same class (or ``self``).

        Examples
        --------
        >>> from skdropout.penalties import MCP, L1
        >>> MCP(a=3.0, lam=1.0).with_lam(0.5)
        MCP(a=3.0, lam=0.5)
        >>> L1().with_lam(0.5)
        L1()
        """
        if not self.uses_lam:
            return self
        return type(self)(**{**self.params, "lam": lam})

    def restrict(self, idx: Any) -> Penalty:
        """This penalty on the features ``idx`` (itself: only the per-feature penalties that
        ``penalty_factor`` builds (``skdropout.penalties.factor``) differ between
        features).

        Parameters
        ----------
        idx : array-like of int or bool
            The features kept (e.g. a working set of the solver).

        Returns
        -------
        Penalty
            The penalty of those features; ``self`` for a penalty that is the same on every
            feature.
        """
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params == other.params  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.params.items()))))


def _safe_ratio(w: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """w / eta with 0/0 = 0 and w/inf = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = w / eta
    return np.where((w == 0) | np.isinf(eta), 0.0, out)
