"""The w-step of the eta-trick (eq. 6): the exact weighted ridge solve for fixed eta.

    minimise_w  1/(2n) ||y - X w||^2 + lam/2 sum_j w_j^2 / eta_j

over the coordinates with eta_j > 0 (eta_j = 0 pins w_j = 0; eta_j = +inf leaves w_j
unpenalised). eta is used as it is, never inverted:

* ``primal_solve`` — the symmetric form with S = diag(sqrt(eta)) (1 on unpenalised
  coordinates): (S G S + lam I_P) u = S c, w = S u, with G = X'X/n, c = X'y/n
  (Cholesky; d x d, for the active set when it is no larger than n).
* ``dual_solve`` — w_P = D X_P' (X_P D X_P' + n lam I)^-1 (y - X_U w_U) with D = diag(eta_P)
  (Woodbury; n x n, never a d x d matrix), the unpenalised block U by its normal equations.
* ``cg_solve`` — conjugate gradients on the symmetric form with matrix-vector products only
  (sparse X stays sparse; G applied by a :class:`~._gram_operator.GramOperator`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
from scipy.sparse.linalg import LinearOperator, cg

from ._design import Design
from ._gram_operator import GramOperator

_CHUNK = 4096


def _scaling(eta: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """S = sqrt(eta) (1 where eta = inf) and the ridge lam (0 where eta = inf)."""
    free = np.isinf(eta)
    s = np.sqrt(np.where(free, 1.0, eta))
    return s, np.where(free, 0.0, lam)


_POTRF, _POTRS = la.get_lapack_funcs(("potrf", "potrs"), (np.empty(0),))


def cholesky(A: np.ndarray, overwrite: bool = False) -> np.ndarray | None:
    """The lower Cholesky factor of a symmetric ``A`` (LAPACK potrf, called directly: the
    small systems of the solvers are dominated by call overhead), or None when ``A`` is not
    numerically positive definite. ``overwrite``: A may be destroyed, and a C-ordered A is
    factorised in place as its transpose (the same symmetric matrix, in LAPACK's order)."""
    if overwrite and A.flags.c_contiguous:
        A = A.T
    L, info = _POTRF(A, lower=1, clean=0, overwrite_a=int(overwrite))
    return L if info == 0 else None


def cho_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``L L' x = b`` for the factor of :func:`cholesky`."""
    return _POTRS(L, b, lower=1)[0]


def _spd_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve a symmetric positive semi-definite system; minimum-norm least squares if singular."""
    L = cholesky(A)
    if L is not None:
        return cho_solve(L, b)
    return la.lstsq(A, b, check_finite=False, lapack_driver="gelsy")[0]


def primal_solve(G: np.ndarray, c: np.ndarray, eta: np.ndarray, lam: float) -> np.ndarray:
    """w-step from the Gram matrix ``G = X_A'X_A/n`` and ``c = X_A'y/n`` (symmetric form)."""
    s, reg = _scaling(eta, lam)
    A = s[:, None] * G * s[None, :]
    A.flat[::A.shape[0] + 1] += reg
    return s * _spd_solve(A, s * c)


def dual_solve(design: Design, cols: np.ndarray, eta: np.ndarray, lam: float) -> np.ndarray:
    """w-step in the dual (Woodbury) form; memory O(n^2 + n * chunk)."""
    n = design.n
    free = np.isinf(eta)
    pen_cols, free_cols = cols[~free], cols[free]
    eta_p = eta[~free]
    K = np.zeros((n, n))
    for start in range(0, pen_cols.size, _CHUNK):
        block = design.block(pen_cols[start:start + _CHUNK])
        K += (block * eta_p[start:start + _CHUNK]) @ block.T
    K[np.diag_indices_from(K)] += n * lam
    factor = la.cho_factor(K, lower=True, check_finite=False)
    w = np.empty(cols.size)
    resid = design.y
    if free_cols.size:
        XU = design.block(free_cols)
        MXU = la.cho_solve(factor, XU, check_finite=False)
        My = la.cho_solve(factor, design.y, check_finite=False)
        w_u = _spd_solve(XU.T @ MXU, XU.T @ My)
        w[free] = w_u
        resid = design.y - XU @ w_u
    alpha = la.cho_solve(factor, resid, check_finite=False)
    w[~free] = eta_p * design.rmatvec(alpha, pen_cols)
    return w


def cg_solve(G: GramOperator, c: np.ndarray, eta: np.ndarray, lam: float,
             w0: np.ndarray, rtol: float = 1e-14) -> np.ndarray:
    """w-step by conjugate gradients on the symmetric form, warm-started at ``w0``, with
    ``G = X_A'X_A/n`` applied matrix-free (:class:`GramOperator`) and ``c = X_A'y/n``."""
    s, reg = _scaling(eta, lam)

    def op(u: np.ndarray) -> np.ndarray:
        return s * (G @ (s * u)) + reg * u

    A = LinearOperator(G.shape, matvec=op, dtype=np.float64)
    u, _ = cg(A, s * c, x0=w0 / s, rtol=rtol, atol=0.0, maxiter=10 * c.size + 100)
    return s * u
