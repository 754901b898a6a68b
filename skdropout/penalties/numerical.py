"""Numerical duals: a separable penalty known through one side of the eta-trick.

Two constructions (appendix A.2 and Corollary 2 of the paper):

* :func:`from_dual` builds Omega from f by the Legendre-Fenchel relation (eq. 22). With
  u = w^2 and v = -1/eta the optimality condition (eq. 23) is w^2 = eta^2 f'(eta), so every
  eta on a grid gives one exact point ``w = eta sqrt(f'(eta))``,
  ``Omega = (eta f'(eta) + f(eta)) / 2`` on the graph of Omega, with ``eta_hat(w) = eta``.
* :func:`from_eta_hat` / :func:`from_keep_prob` build Omega from a monotone reweighting
  map by Corollary 2's integral. The integral runs over u = w^2 with
  dOmega/du = 1 / (2 eta_hat); substituting u = t^2 gives
  ``Omega(w) = int_0^|w| t / eta_hat(t) dt``, computed by Gauss-Legendre quadrature on
  every cell of a log-spaced grid, and ``f(eta_hat(w)) = 2 Omega(w) - w^2 / eta_hat(w)``.

Both give a :class:`TabulatedPenalty`, which evaluates Omega by cubic Hermite interpolation
in log|w| with the exact slopes dOmega/dlog|w| = w^2/eta_hat, eta_hat by monotone (PCHIP)
interpolation in log-log coordinates, and extrapolates beyond the grid with the asymptotic
power laws of its end cells. On the default grids the relative error of Omega is below
1e-7 (measured in the tests against direct numerical minimisation of eq. 5).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

from ._base import Domain, Penalty

INF = math.inf

_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)


def gauss_legendre(func: Callable[[np.ndarray], np.ndarray], lo: np.ndarray,
                   hi: np.ndarray) -> np.ndarray:
    """Integral of ``func`` over each cell [lo_i, hi_i] (12-point Gauss-Legendre, vectorised)."""
    lo = np.asarray(lo, dtype=np.float64)[:, None]
    hi = np.asarray(hi, dtype=np.float64)[:, None]
    half = (hi - lo) / 2.0
    t = lo + half * (_GL_X[None, :] + 1.0)
    return np.sum(func(t) * _GL_W[None, :], axis=1) * half[:, 0]


class TabulatedPenalty(Penalty):
    """A separable penalty held as a table of exact points (|w|, Omega, eta_hat).

    Parameters
    ----------
    w : array, strictly increasing, > 0
        Magnitudes of the knots.
    omega : array
        Omega at the knots (normalised, Omega(0) = 0).
    eta : array
        eta_hat at the knots (positive, non-decreasing; +inf allowed at the end, meaning the
        penalty is flat from there: eta_hat = inf, keep probability 1).
    name : str
        Name shown in ``repr`` and error messages.
    dual_eta, dual_f, dual_slope : arrays, optional
        A table of the dual f and of df/dlog(eta) = eta f'(eta) on increasing eta > 0 (when f
        is the known side). By default f is tabulated on the knots,
        ``f(eta_i) = 2 omega_i - w_i^2 / eta_i`` (eq. 5 at its minimiser), with
        df/dlog(eta) = w_i^2 / eta_i (eq. 23).
    f_inf : float, optional
        The limit of a bounded f at eta = inf (f is clipped to it when extrapolated).
    eta_at_zero : float
        eta_hat(0) (0 for penalties with a kink at 0; positive for maps that never prune,
        whose Omega is quadratic near 0).

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.penalties import TabulatedPenalty
    >>> w = np.geomspace(1e-3, 10.0, 200)                   # l1: Omega = |w|, eta_hat = |w|
    >>> pen = TabulatedPenalty(w, w.copy(), w.copy())
    >>> round(pen.value([0.5, -2.0]), 6)
    2.5
    """

    works_on_torch = False

    def __init__(self, w: np.ndarray, omega: np.ndarray, eta: np.ndarray,
                 name: str = "tabulated", dual_eta: np.ndarray | None = None,
                 dual_f: np.ndarray | None = None, dual_slope: np.ndarray | None = None,
                 f_inf: float | None = None, eta_at_zero: float = 0.0) -> None:
        w = np.asarray(w, dtype=np.float64)
        omega = np.asarray(omega, dtype=np.float64)
        eta = np.asarray(eta, dtype=np.float64)
        finite = np.isfinite(eta)
        if not np.all(finite[: finite.sum()]):
            raise ValueError(f"{name}: eta_hat must stay infinite once it reaches inf.")
        self.name = name
        n = int(finite.sum())
        if n < 4:
            raise ValueError(f"{name}: need at least 4 finite eta_hat values to tabulate.")
        self.w_sat = float(w[n]) if n < w.size else INF
        self.omega_sat = float(omega[n]) if n < w.size else INF
        w, omega, eta = w[:n], omega[:n], eta[:n]
        if np.any(np.diff(w) <= 0) or w[0] <= 0:
            raise ValueError(f"{name}: the magnitudes of the table must increase strictly.")
        if np.any(np.diff(eta) < -1e-12 * np.abs(eta[1:])):
            raise ValueError(
                f"{name}: eta_hat is not monotone non-decreasing in |w|, so no subquadratic "
                "Omega has it as its reweighting map (Corollary 2 needs a monotone map).")
        eta = np.maximum.accumulate(eta)
        x = np.log(w)
        slope = w * w / eta                       # dOmega / dlog|w|
        self._x = x
        self._omega_spline = CubicHermiteSpline(x, omega, slope, extrapolate=False)
        self._logeta = PchipInterpolator(x, np.log(eta), extrapolate=False)
        self._ends = (x[0], x[-1], omega[0], omega[-1], slope[0], slope[-1],
                      np.log(eta[0]), np.log(eta[-1]),
                      (np.log(eta[1]) - np.log(eta[0])) / (x[1] - x[0]),
                      (np.log(eta[-1]) - np.log(eta[-2])) / (x[-1] - x[-2]))
        if dual_eta is None:
            dual_eta, dual_f, dual_slope = eta, 2.0 * omega - slope, slope
        uniq = np.concatenate([[True], np.diff(dual_eta) > 0])
        self._dual_eta = np.log(np.asarray(dual_eta, dtype=np.float64)[uniq])
        self._dual_f = np.asarray(dual_f, dtype=np.float64)[uniq]
        dual_slope = np.asarray(dual_slope, dtype=np.float64)[uniq]
        self._dual_spline = CubicHermiteSpline(self._dual_eta, self._dual_f, dual_slope,
                                               extrapolate=False)
        self._dual_slopes = (dual_slope[0], dual_slope[-1])
        self.f_inf = INF if f_inf is None else float(f_inf)
        self.eta_at_zero = float(eta_at_zero)
        self._slope0 = omega[0] / w[0] if slope[0] / omega[0] > 0.99 else (
            0.0 if slope[0] / omega[0] > 1.01 else INF)
        self.domain = Domain(0.0, INF)

    @property
    def slope0(self) -> float:
        return self._slope0

    # -- evaluation (numpy only) -------------------------------------------------------
    def _omega_abs(self, a: np.ndarray) -> np.ndarray:
        x0, x1, o0, o1, s0, s1 = self._ends[:6]
        out = np.zeros_like(a)
        pos = a > 0
        x = np.log(np.where(pos, a, 1.0))
        head = pos & (x < x0)
        mid = pos & (x >= x0) & (x <= x1)
        tail = pos & (x > x1)
        # Head: Omega ~ c |w|^(s0/o0) (a power law through the first knot with the knot's slope).
        out[head] = o0 * np.exp((s0 / o0) * (x[head] - x0))
        out[mid] = self._omega_spline(x[mid])
        # Tail: Omega grows linearly in log|w| with the last slope w^2/eta (exact for log-like
        # penalties, flat for saturating ones).
        out[tail] = o1 + s1 * (x[tail] - x1)
        if math.isfinite(self.w_sat):
            out[a >= self.w_sat] = self.omega_sat
        return out

    def _eta_abs(self, a: np.ndarray) -> np.ndarray:
        x0, x1 = self._ends[:2]
        l0, l1, k0, k1 = self._ends[6:]
        out = np.full_like(a, self.eta_at_zero)
        pos = a > 0
        x = np.log(np.where(pos, a, 1.0))
        head = pos & (x < x0)
        mid = pos & (x >= x0) & (x <= x1)
        tail = pos & (x > x1)
        out[head] = np.exp(l0 + k0 * (x[head] - x0))
        out[mid] = np.exp(self._logeta(x[mid]))
        out[tail] = np.exp(l1 + k1 * (x[tail] - x1))
        if math.isfinite(self.w_sat):
            out[a >= self.w_sat] = INF
        return out

    def _curvature(self, a: np.ndarray) -> np.ndarray:
        # d/da (a / eta_hat) = (1 - s) / eta_hat with s = dlog eta_hat / dlog a, the slope of
        # the same log-log interpolant (power laws beyond the knots) that eta_hat evaluates
        x0, x1, k0, k1 = self._ends[0], self._ends[1], self._ends[8], self._ends[9]
        eta = self._eta_abs(a)
        pos = a > 0
        x = np.log(np.where(pos, a, 1.0))
        mid = pos & (x >= x0) & (x <= x1)
        s = np.where(pos & (x > x1), k1, k0)
        s[mid] = self._logeta(x[mid], 1)
        s[~pos] = 0.0 if self.eta_at_zero > 0 else k0
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (1.0 - s) / eta
        return np.where(np.isinf(eta) | (s == 1.0), 0.0, out)

    def _omega(self, xp: Any, a: Any) -> Any:  # type: ignore[override]
        _numpy_only(xp, self.name)
        return self._omega_abs(np.asarray(a, dtype=np.float64))

    def _eta_hat(self, xp: Any, a: Any) -> Any:
        _numpy_only(xp, self.name)
        return self._eta_abs(np.asarray(a, dtype=np.float64))

    def _dual(self, eta: np.ndarray) -> np.ndarray:
        eta = np.asarray(eta, dtype=np.float64)
        le, fv = self._dual_eta, self._dual_f
        out = np.zeros_like(eta)
        pos = eta > 0
        y = np.log(np.where(pos & np.isfinite(eta), eta, 1.0))
        head = pos & (y < le[0])
        tail = pos & (y > le[-1])
        mid = pos & ~head & ~tail & np.isfinite(eta)
        out[mid] = self._dual_spline(y[mid])
        # Head: a power law through the first knot; tail: linear in log eta, capped at f_inf
        # (df / dlog eta = w^2 / eta by eq. 23, which tends to a constant or to 0).
        k0, k1 = self._dual_slopes
        out[head] = fv[0] * np.exp((k0 / fv[0] if fv[0] > 0 else 1.0) * (y[head] - le[0]))
        out[tail] = np.minimum(fv[-1] + k1 * (y[tail] - le[-1]), self.f_inf)
        out[np.isinf(eta)] = self.f_inf
        return out


def _numpy_only(xp: Any, name: str) -> None:
    if xp.name != "numpy":
        raise TypeError(f"{name} is a numerical penalty: it evaluates numpy arrays only "
                        "(the closed-form penalties also take torch tensors).")


def tabulate_from_dual(eta: np.ndarray, f: np.ndarray, df: np.ndarray, *,
                       f_inf: float | None = None,
                       name: str = "from_dual") -> TabulatedPenalty:
    """Tabulate Omega from exact values of f and f' on a grid of eta (eqs. 22-23).

    Parameters
    ----------
    eta : array, positive, strictly increasing
    f, df : arrays
        f(eta) and f'(eta) at those points (f' >= 0).
    f_inf : float, optional
        The limit of f at eta = inf when f is bounded. Eq. (5) then also has the candidate
        eta = inf with value f_inf / 2, and Omega is the lower envelope: the stationary branch
        is followed while it lies below f_inf / 2, after which Omega is flat and
        eta_hat = inf (for a dual that is not convex in -1/eta beyond that point, as hard
        concrete's, this is where its convex envelope takes over).
    name : str

    Returns
    -------
    TabulatedPenalty
    """
    eta = np.asarray(eta, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    df = np.asarray(df, dtype=np.float64)
    if np.any(df < 0) or not np.all(np.isfinite(df)):
        raise ValueError(f"{name}: f must be non-decreasing with a finite derivative.")
    w = eta * np.sqrt(df)
    f0 = f[0] - eta[0] * df[0]   # f(0) to first order; Omega(0) = f(0)/2 is removed
    omega = (eta * df + f) / 2.0 - f0 / 2.0
    if f_inf is not None:
        cap = (f_inf - f0) / 2.0
        over = np.flatnonzero(omega >= cap)
        n = int(over[0]) if over.size else omega.size
        if 0 < n < omega.size:
            t = (cap - omega[n - 1]) / (omega[n] - omega[n - 1])
            w_sat = w[n - 1] + t * (w[n] - w[n - 1])
        else:
            w_sat = w[-1] * (1.0 + 1e-9)
        w_knots = np.append(w[:n], w_sat)
        omega = np.append(omega[:n], cap)
        eta_knots = np.append(eta[:n], INF)
    else:
        w_knots, eta_knots = w, eta
    if np.any(np.diff(w_knots) <= 0):
        raise ValueError(
            f"{name}: eta*sqrt(f'(eta)) is not increasing, i.e. f is not convex in -1/eta; "
            "no subquadratic Omega has this dual (Theorem 1).")
    return TabulatedPenalty(w_knots, omega, eta_knots, name=name, dual_eta=eta, dual_f=f,
                            dual_slope=eta * df, f_inf=f_inf)


def from_dual(f: Callable[[np.ndarray], np.ndarray],
              df: Callable[[np.ndarray], np.ndarray] | None = None, *,
              eta_range: tuple[float, float] = (1e-10, 1e10), num: int = 4001,
              name: str = "from_dual") -> TabulatedPenalty:
    """Build a separable penalty from its dual f by the Legendre-Fenchel relation (eq. 22).

    Parameters
    ----------
    f : callable
        Vectorised f(eta) for eta > 0, convex in -1/eta and non-decreasing.
    df : callable, optional
        Its derivative; by default a fourth-order central difference in log eta.
    eta_range : (float, float), default=(1e-10, 1e10)
        The grid of eta (log-spaced); beyond it Omega is extrapolated by power laws.
    num : int, default=4001
        Number of grid points.
    name : str, default='from_dual'
        Name shown in ``repr`` and error messages.

    Returns
    -------
    TabulatedPenalty
        Omega, f and eta_hat on the table's knots, interpolated in between.

    See Also
    --------
    from_eta_hat : The same penalty from the other side, eta_hat.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.penalties import from_dual
    >>> pen = from_dual(lambda e: e, lambda e: np.ones_like(e))   # f = eta is l1
    >>> round(pen.value([0.3, -2.0]), 6)
    2.3
    """
    eta = np.geomspace(eta_range[0], eta_range[1], num)
    if df is None:
        h = 1e-3
        def df(e: np.ndarray) -> np.ndarray:
            le = np.log(e)
            d = (-f(np.exp(le + 2 * h)) + 8 * f(np.exp(le + h)) - 8 * f(np.exp(le - h))
                 + f(np.exp(le - 2 * h))) / (12 * h)
            return d / e
    return tabulate_from_dual(eta, f(eta), df(eta), name=name)


def from_eta_hat(eta_hat: Callable[[np.ndarray], np.ndarray], *,
                 w_range: tuple[float, float] = (1e-8, 1e4), num: int = 4001,
                 name: str = "from_eta_hat") -> TabulatedPenalty:
    """Build a separable penalty from a monotone reweighting map (Corollary 2).

    ``Omega(w) = int_0^|w| t / eta_hat(t) dt`` (the Corollary's integral over u = w^2,
    with dOmega/du = 1/(2 eta_hat), after substituting u = t^2).

    Parameters
    ----------
    eta_hat : callable
        Vectorised map |w| -> eta_hat(|w|) >= 0, non-decreasing (inf allowed).
    w_range : (float, float), default=(1e-8, 1e4)
        Log-spaced grid of magnitudes.
    num : int, default=4001
        Number of grid points.
    name : str, default='from_eta_hat'
        Name shown in ``repr`` and error messages.

    Returns
    -------
    TabulatedPenalty
        Omega, f and eta_hat on the table's knots, interpolated in between.

    See Also
    --------
    from_keep_prob : The same from a keep probability alpha.
    from_dual : The same from the dual f.

    Raises
    ------
    ValueError
        If the map decreases anywhere on the grid (then no subquadratic Omega exists).

    Examples
    --------
    >>> from skdropout.penalties import from_eta_hat
    >>> pen = from_eta_hat(lambda t: t * (t + 2.0))           # log-sum(2)
    >>> round(pen.value([2.0]), 6)                             # log(4) - log(2)
    0.693147
    """
    w = np.geomspace(w_range[0], w_range[1], num)

    def integrand(t: np.ndarray) -> np.ndarray:
        e = np.asarray(eta_hat(t), dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isinf(e), 0.0, t / e)

    eta = np.asarray(eta_hat(w), dtype=np.float64)
    if np.any(np.isnan(eta)) or np.any(eta < 0):
        raise ValueError(f"{name}: eta_hat must be >= 0 (inf allowed), never NaN.")
    finite = np.isfinite(eta)
    steps = np.diff(np.where(finite, eta, np.finfo(np.float64).max))
    if np.any(steps < -1e-12 * np.abs(np.where(finite[1:], eta[1:], 1.0))):
        raise ValueError(
            f"{name}: eta_hat is not monotone non-decreasing in |w|, so no subquadratic "
            "Omega has it as its reweighting map (Corollary 2 needs a monotone map).")
    cells = gauss_legendre(integrand, np.concatenate([[0.0], w[:-1]]), w)
    omega = np.cumsum(cells)
    eta0 = float(np.asarray(eta_hat(np.zeros(1)), dtype=np.float64)[0])
    return TabulatedPenalty(w, omega, eta, name=name, eta_at_zero=eta0)


def from_keep_prob(keep_prob: Callable[[np.ndarray], np.ndarray], lam: float = 1.0,
                   **kwargs: Any) -> TabulatedPenalty:
    """Build a penalty from a monotone adaptive-dropout keep probability alpha(|w|).

    eta_hat = lam alpha / (1 - alpha) (eq. 8 inverted), then :func:`from_eta_hat`.

    Parameters
    ----------
    keep_prob : callable
        Vectorised map |w| -> alpha(|w|) in [0, 1], non-decreasing (Corollary 2).
    lam : float > 0, default=1.0
        The regularisation strength lambda that turns alpha into eta_hat (eq. 8); the
        penalty is that of the reweighted problem at this lam.
    **kwargs
        ``w_range``, ``num``, ``name`` as in :func:`from_eta_hat`.

    Returns
    -------
    TabulatedPenalty
        Omega, f and eta_hat on the table's knots, interpolated in between.

    See Also
    --------
    from_eta_hat : The construction it calls.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.penalties import from_keep_prob
    >>> pen = from_keep_prob(lambda t: t / (t + 1.0), lam=1.0)   # eta_hat = |w|: l1
    >>> round(pen.value([1.5]), 6)
    1.5
    """
    from ._base import check_positive

    lam = check_positive(lam, "lam", "from_keep_prob")

    def eta_hat(t: np.ndarray) -> np.ndarray:
        alpha = np.asarray(keep_prob(t), dtype=np.float64)
        if np.any((alpha < 0) | (alpha > 1) | np.isnan(alpha)):
            raise ValueError("keep_prob must return probabilities in [0, 1].")
        with np.errstate(divide="ignore"):
            return np.where(alpha >= 1, INF, lam * alpha / (1.0 - alpha))

    kwargs.setdefault("name", "from_keep_prob")
    return from_eta_hat(eta_hat, **kwargs)
