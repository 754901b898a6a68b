"""The design matrix as the solvers see it: centred and row-weighted, dense or sparse.

With normalised sample weights ``sw`` (mean 1) and weighted column means ``x_offset``,
the solvers minimise ``1/(2n) ||y_s - X_s w||^2 + lam * Omega(w)`` with
``X_s = diag(sqrt(sw)) (X - 1 x_offset')`` and ``y_s = sqrt(sw) (y - y_offset)``; the
intercept is then ``y_offset - x_offset' w``. A sparse ``X`` is never densified or
centred in memory: centring is applied inside every product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp


class Design:
    """Centred, row-weighted design with the products the solvers need.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights; they are rescaled to sum to ``n_samples``.
    fit_intercept : bool
        Whether to centre ``X`` and ``y`` (the unpenalised intercept is then eliminated).
    """

    def __init__(self, X: Any, y: np.ndarray, sample_weight: np.ndarray | None,
                 fit_intercept: bool) -> None:
        n, d = X.shape
        self.n, self.d = n, d
        self.sparse = sp.issparse(X)
        sw = np.ones(n) if sample_weight is None else sample_weight * (n / sample_weight.sum())
        self.sqrt_sw = np.sqrt(sw)
        if fit_intercept:
            x_offset = np.asarray(X.T @ sw).ravel() / n
            y_offset = float(sw @ y) / n
        else:
            x_offset, y_offset = np.zeros(d), 0.0
        self.x_offset, self.y_offset = x_offset, y_offset
        self.y = self.sqrt_sw * (y - y_offset)
        if self.sparse:
            self.X = sp.csc_matrix(X, dtype=np.float64)
            self._centre = bool(fit_intercept)
        else:
            self.X = np.empty((n, d))
            np.subtract(X, x_offset, out=self.X)
            if sample_weight is not None:
                self.X *= self.sqrt_sw[:, None]
            self._centre = False

    # -- products --------------------------------------------------------------------
    def _cols(self, cols: np.ndarray | None) -> Any:
        return self.X if cols is None else self.X[:, cols]

    def matvec(self, v: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """``X_s[:, cols] @ v`` (only the columns where ``v`` is nonzero are touched)."""
        nz = np.flatnonzero(v)
        if nz.size < 0.5 * v.size:
            cols = nz if cols is None else np.asarray(cols)[nz]
            v = v[nz]
        out = np.asarray(self._cols(cols) @ v).ravel()
        if self.sparse:
            off = self.x_offset if cols is None else self.x_offset[cols]
            if self._centre:
                out = out - off @ v
            out = self.sqrt_sw * out
        return out

    def rmatvec(self, u: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """``X_s[:, cols]' @ u``."""
        if not self.sparse:
            return self._cols(cols).T @ u
        su = self.sqrt_sw * u
        out = np.asarray(self._cols(cols).T @ su).ravel()
        if self._centre:
            off = self.x_offset if cols is None else self.x_offset[cols]
            out = out - off * su.sum()
        return out

    def cross(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Dense ``X_s[:, rows]' X_s[:, cols]`` (the caller divides by n)."""
        if not self.sparse:
            return self.X[:, rows].T @ self.X[:, cols]
        Xr = self.X[:, rows].multiply(self.sqrt_sw[:, None] ** 2).tocsc()
        out = np.asarray((Xr.T @ self.X[:, cols]).todense())
        if self._centre:
            out -= self.n * np.outer(self.x_offset[rows], self.x_offset[cols])
        return out

    def col_sq_norms(self) -> np.ndarray:
        """``diag(X_s' X_s) / n``, the scale c_j of eq. (4) (computed once)."""
        if getattr(self, "_sq", None) is None:
            self._sq = self._col_sq_norms()
        return self._sq

    def block(self, cols: np.ndarray) -> np.ndarray:
        """Dense ``X_s[:, cols]`` in Fortran order (contiguous columns)."""
        if not self.sparse:
            return np.asfortranarray(self.X[:, cols])
        block = np.asarray(self.X[:, cols].todense())
        if self._centre:
            block = block - self.x_offset[cols]
        return np.asfortranarray(self.sqrt_sw[:, None] * block)

    def _col_sq_norms(self) -> np.ndarray:
        if not self.sparse:
            return np.einsum("ij,ij->j", self.X, self.X) / self.n
        sq = np.asarray(self.X.multiply(self.X).T @ (self.sqrt_sw**2)).ravel()
        if self._centre:
            sq = sq - self.n * self.x_offset**2
        return np.maximum(sq, 0.0) / self.n

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Dense rows ``X_s[idx]`` (a mini-batch; only these rows are densified)."""
        if not self.sparse:
            return self.X[idx]
        block = np.asarray(self.X[idx].todense())
        if self._centre:
            block = block - self.x_offset
        return self.sqrt_sw[idx, None] * block

    def loss(self, w: np.ndarray) -> float:
        """The squared loss (3), ``||y_s - X_s w||^2 / (2n)``."""
        r = self.y - self.matvec(w)
        return float(r @ r) / (2.0 * self.n)
