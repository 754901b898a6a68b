"""The design matrix as the solvers see it: centred and row-weighted, dense or sparse.

With normalised sample weights ``sw`` (mean 1) and weighted column means ``x_offset``,
the solvers minimise ``1/(2n) ||y_s - X_s w||^2 + lam * Omega(w)`` with
``X_s = diag(sqrt(sw)) (X - 1 x_offset')`` and ``y_s = sqrt(sw) (y - y_offset)``; the
intercept is then ``y_offset - x_offset' w``.

``X_s`` is not formed: centring and weights are applied inside every product, so a sparse X
is never densified and a dense X is never copied. When n is large against d (the Gram route:
``d <= _GRAM_MAX_FEATURES`` and ``n >= _GRAM_MIN_RATIO d``) the full ``G = X_s'X_s/n`` is
computed once, in one pass over X, and every later product is a d-space one: the gradient
``X_s'(y_s - X_s w)/n = X_s'y_s/n - G w``, the loss ``(y_s'y_s/n - 2 w'X_s'y_s/n + w'G w)/2``
and the working sets' Gram matrices (sub-matrices of G). These are the same quantities, not
an approximation; the loss formula rounds at ``eps y_s'y_s/n`` instead of ``eps`` times the
loss, so the objective an estimator reports comes from one residual pass at the end of its
fit (:meth:`Design.residual_loss`).

The one exception to "never copied" is a dense X whose column means are large against its
column spreads (``x_offset_j^2 > 100 var_j``), where the Gram identity
``X_s'X_s = X'diag(sw)X - n x_offset x_offset'`` would lose digits: that X is centred once,
in a copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

from ._gram_operator import ColumnSlices, GramOperator

_GER = blas.get_blas_funcs("ger", (np.empty(0),))

_OFFSET_RATIO = 100.0
# the multiply-adds a column slice of a sparse X must save to pay for building the slice: a
# fixed part, and per entry that the slice copies (scipy's gather of the columns' stored
# entries costs about two multiply-adds of a product per entry)
_SLICE_SAVING, _SLICE_COPY = 1 << 16, 2
# bytes of a dense X that _dense_moments reads per block (the block stays in the cache)
_BLOCK_BYTES = 1 << 20
# the largest number of entries the covariance updates keep (d x columns)
_COV_MAX_ENTRIES = 1 << 24
# how many columns beyond the missing ones a covariance update computes ahead
_COV_AHEAD = 16
# the largest support, as a fraction of n, whose gradient comes from covariance updates
_COV_FRACTION = 0.125
# the Gram route (module docstring): one full Gram matrix costs about d/40 gradient passes
# (one BLAS thread, dense X; a sparse X's product costs relatively more), and a fit makes
# 5-15 of them plus its working sets' Gram matrices; at d <= 100 those already are the full
# one, at d = 200 it costs about 4 passes
_GRAM_MAX_FEATURES = 200
# and the passes it replaces must be long: at n < 10 d they run from the cache
_GRAM_MIN_RATIO = 10


def _dense_moments(X: np.ndarray, sw: np.ndarray,
                   weighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """``sum_i sw_i X_ij / n`` and ``sum_i sw_i X_ij^2 / n`` in one pass over a dense X, by
    blocks small enough for the cache (the second product reads the block from there: one
    read of X instead of two): blocks of rows, or of columns where X is in Fortran order
    (a block of rows would gather each column's part with a stride). With weights the
    second is a product of ``sw`` with the squares (BLAS), not a three-operand einsum."""
    n, d = X.shape
    first, second = np.zeros(d), np.zeros(d)

    def square(block: np.ndarray, w: np.ndarray) -> np.ndarray:
        return w @ (block * block) if weighted else np.einsum("ij,ij->j", block, block)

    if X.flags.f_contiguous and not X.flags.c_contiguous:
        cols = max(1, _BLOCK_BYTES // (8 * max(n, 1)))
        for start in range(0, d, cols):
            block = X[:, start:start + cols]
            first[start:start + cols] = sw @ block
            second[start:start + cols] = square(block, sw)
        return first / n, second / n
    rows = max(1, _BLOCK_BYTES // (8 * max(d, 1)))
    for start in range(0, n, rows):
        block, w = X[start:start + rows], sw[start:start + rows]
        first += w @ block
        second += square(block, w)
    return first / n, second / n


def slice_pays(X: Any, cols: np.ndarray) -> bool:
    """Whether a product with the columns ``cols`` of X should slice them out first.

    Always for a dense X (the slice's copy costs less than the product it saves). For a
    sparse (CSC) X only when the product with all of X, the other columns' factors at 0,
    would read more than ``_SLICE_SAVING + _SLICE_COPY * k`` entries beyond the ``k`` of
    ``cols``: a slice is a new sparse matrix, whose construction costs about that many
    multiply-adds (a fixed part and a copy of its ``k`` entries). A support that holds
    most of the entries of a working set's columns is thus multiplied in place.
    """
    if not sp.issparse(X):
        return True
    ip = X.indptr
    kept = int(np.sum(ip[cols + 1] - ip[cols]))
    return X.nnz - kept > _SLICE_SAVING + _SLICE_COPY * kept


def _rank_one_update(A: np.ndarray, alpha: float, a: np.ndarray, b: np.ndarray) -> None:
    """``A += alpha a b'`` in place (BLAS ger on the Fortran-ordered view of A, without the
    temporary outer product; numpy's in-place update where A is neither order)."""
    if A.size == 0:
        return
    if A.flags.f_contiguous or A.flags.c_contiguous:
        F = A if A.flags.f_contiguous else A.T  # A' += alpha b a' for the C-ordered A
        x, y = (a, b) if F is A else (b, a)
        out = _GER(alpha, x, y, a=F, overwrite_a=1)
        if not np.may_share_memory(out, F):  # BLAS worked on a copy
            F[...] = out
    else:
        A += alpha * np.outer(a, b)


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
    slices : ColumnSlices, optional
        The column copies of the operators on all of X (:meth:`gram_operator`), shared with
        the other designs on the same X (a logistic round's Newton steps); not used where
        the design centres X in a copy (below), whose columns depend on the weights.
    """

    def __init__(self, X: Any, y: np.ndarray, sample_weight: np.ndarray | None,
                 fit_intercept: bool, slices: ColumnSlices | None = None) -> None:
        self.slices = slices
        n, d = X.shape
        self.n, self.d = n, d
        self.sparse = sp.issparse(X)
        sw = np.ones(n) if sample_weight is None else sample_weight * (n / sample_weight.sum())
        self.sw, self.sqrt_sw = sw, np.sqrt(sw)
        self._weighted = sample_weight is not None
        second = None  # mean of sw x^2 per column, where computed with the offsets
        if fit_intercept and not self.sparse:
            x_offset, second = _dense_moments(X, sw, self._weighted)
            y_offset = float(sw @ y) / n
        elif fit_intercept:
            x_offset = np.asarray(X.T @ sw).ravel() / n
            y_offset = float(sw @ y) / n
        else:
            x_offset, y_offset = np.zeros(d), 0.0
        self.x_offset, self.y_offset = x_offset, y_offset
        self.y = self.sqrt_sw * (y - y_offset)
        self._centre = bool(fit_intercept)
        self.X = sp.csc_matrix(X, dtype=np.float64) if self.sparse else X
        self.gram_route = 0 < d <= _GRAM_MAX_FEATURES and n >= _GRAM_MIN_RATIO * d
        self._gram: np.ndarray | None = None
        self._sq = None
        self._xty: np.ndarray | None = None
        self._yy: float | None = None  # y_s'y_s / n (the Gram route's loss)
        self._grad_at: tuple[np.ndarray, np.ndarray] | None = None
        self._res_at: tuple[np.ndarray, np.ndarray] | None = None
        # covariance updates (set by the path solver): gradients from X_s'X_s[:, S] / n
        self.covariance = False
        self._cov = np.empty((0, d))  # row p: column p of the kept X_s'X_s / n
        self._cov_pos = np.full(d, -1)
        # (columns, Gram matrix / n, dense block or None) of the solvers' last working set
        self.gram_cache: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        if second is not None:
            var = np.maximum(second - x_offset**2, 0.0)
            if np.any(x_offset**2 > _OFFSET_RATIO * var):
                Xc = np.subtract(X, x_offset)
                if self._weighted:
                    Xc *= self.sqrt_sw[:, None]
                self.X, self._centre, self._weighted = Xc, False, False
                self.slices = None  # its columns depend on sw: no copy serves another
            else:
                self._sq = var

    # -- products --------------------------------------------------------------------
    def _cols(self, cols: np.ndarray | None) -> Any:
        return self.X if cols is None else self.X[:, cols]

    def _off(self, cols: np.ndarray | None) -> np.ndarray:
        return self.x_offset if cols is None else self.x_offset[cols]

    def matvec(self, v: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """``X_s[:, cols] @ v`` (only the columns where ``v`` is nonzero are touched)."""
        nz = np.flatnonzero(v)
        if nz.size < 0.5 * v.size:
            cols = nz if cols is None else np.asarray(cols)[nz]
            v = v[nz]
        if cols is None or slice_pays(self.X, cols):
            out = np.asarray(self._cols(cols) @ v).ravel()
        else:
            full = np.zeros(self.d)
            full[cols] = v
            out = np.asarray(self.X @ full).ravel()
        if self._centre:
            out = out - self._off(cols) @ v
        if self._weighted:
            out = self.sqrt_sw * out
        return out

    def rmatvec(self, u: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """``X_s[:, cols]' @ u``, for a vector ``u`` or a matrix of columns."""
        su = (self.sqrt_sw.reshape(-1, *(1,) * (u.ndim - 1)) * u) if self._weighted else u
        if cols is None or slice_pays(self.X, cols):
            out = np.asarray(self._cols(cols).T @ su)
        else:
            out = np.asarray(self.X.T @ su)[cols]
        if self._centre:
            out = out - np.multiply.outer(self._off(cols), su.sum(axis=0))
        return out.ravel() if u.ndim == 1 else out

    def gram(self) -> np.ndarray | None:
        """``X_s'X_s / n`` of all columns on the Gram route (computed once), else None."""
        if not self.gram_route:
            return None
        if self._gram is None:
            self._gram = self.cross(None, None)
        return self._gram

    def cross(self, rows: np.ndarray | None, cols: np.ndarray | None) -> np.ndarray:
        """Dense ``X_s[:, rows]' X_s[:, cols] / n`` (None: all columns).

        On the Gram route a block of the Gram matrix. For a sparse X the weights and ``1/n``
        scale the stored entries of the smaller factor; the centring term ``x_offset[rows]
        x_offset[cols]'`` is a rank-one update in place (no temporary of the result's
        size)."""
        if rows is not None and cols is not None and self.gram_route:
            return self.gram()[np.ix_(rows, cols)]
        if self.sparse and rows is not None and cols is not None and len(rows) > len(cols):
            return np.ascontiguousarray(self.cross(cols, rows).T)  # weigh the smaller side
        same = rows is cols or (rows is not None and cols is not None
                                and np.array_equal(rows, cols))
        Xr = self._cols(rows)
        Xc = Xr if same else self._cols(cols)
        if self.sparse:
            if self._weighted:  # sw / n at each stored entry, times the entry, in one array
                data = np.take(self.sw, Xr.indices)
                data /= self.n
                data *= Xr.data
            else:
                data = Xr.data * (1.0 / self.n)
            Xr = sp.csc_matrix((data, Xr.indices, Xr.indptr), shape=Xr.shape)
            # scipy's product takes its right factor by rows: the designs on the same X
            # share that form (ColumnSlices.by_rows)
            shared = same and rows is None and self.slices is not None
            out = (Xr.T @ (self.slices.by_rows(Xc) if shared else Xc)).toarray()
        elif same and self._weighted:  # one symmetric product (BLAS syrk, half the work)
            S = Xr * self.sqrt_sw[:, None]
            out = S.T @ S
            out *= 1.0 / self.n
        else:
            out = (Xr * self.sw[:, None] if self._weighted else Xr).T @ Xc
            out *= 1.0 / self.n
        if self._centre:
            _rank_one_update(out, -1.0, self._off(rows), self._off(cols))
        return out

    def gram_operator(self, cols: np.ndarray) -> GramOperator:
        """``X_s[:, cols]'X_s[:, cols] / n`` as a :class:`~._gram_operator.GramOperator`
        (the columns sliced once; for a dense X a copy of them; X itself when ``cols`` are
        all its columns in order, as for the inner IRLS of a screened logistic fit, whose
        sub-operators then keep their copies in ``slices``)."""
        cols = np.asarray(cols)
        off = self.x_offset[cols] if self._centre else np.zeros(cols.size)
        whole = cols.size == self.d and np.array_equal(cols, np.arange(self.d))
        return GramOperator(self.X if whole else self.X[:, cols], off,
                            self.sw if self._weighted else None,
                            self.col_sq_norms(None if whole else cols),
                            slices=self.slices if whole else None)

    def sparse_columns(self, cols: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
        """The columns ``cols`` of a sparse design without densifying them: per column the
        row indices and the values ``u_i x_ij`` of its stored entries (``u = sqrt(sw)``),
        then per column ``x_offset_j`` (0 without centring) and ``sum_i sw_i x_ij``; the
        column of the design is ``X_s[:, j] = u * (x_j - x_offset_j)``."""
        cols = np.asarray(cols)
        B = self.X[:, cols]
        u = self.sqrt_sw[B.indices]
        data = B.data * u if self._weighted else B.data
        split = B.indptr[1:-1]
        owner = np.repeat(np.arange(cols.size), np.diff(B.indptr))
        swx = np.bincount(owner, data * u if self._weighted else data, minlength=cols.size)
        off = self.x_offset[cols] if self._centre else np.zeros(cols.size)
        return list(zip(np.split(B.indices, split), np.split(data, split))), off, swx

    def block(self, cols: np.ndarray, spare: int = 0) -> np.ndarray:
        """Dense ``X_s[:, cols]`` in Fortran order (contiguous columns; a copy, centred and
        weighted in place). With ``spare > 0`` (a dense X) the array has ``spare`` more
        columns after these, not initialised: room for columns appended later."""
        cols = np.asarray(cols)
        if spare and not self.sparse:
            out = np.empty((self.n, cols.size + spare), order="F")
            B = out[:, :cols.size]
            if self.X.flags.f_contiguous:  # X's columns are the rows of X', copied in place
                np.take(self.X.T, cols, axis=0, out=B.T, mode="clip")
            else:
                B[...] = self.X[:, cols]
        else:
            # (a dense X's fancy index is a new array, laid out in Fortran order already:
            # np.array(..., order="F") would copy it once more, slowly from a C-ordered X)
            B = out = (self.X[:, cols].toarray(order="F") if self.sparse
                       else np.asarray(self.X[:, cols], order="F"))
        if self._centre:
            B -= self.x_offset[cols]
        if self._weighted:
            B *= self.sqrt_sw[:, None]
        return out

    def _weighted_sq(self, cols: np.ndarray | None = None) -> np.ndarray:
        """``sum_i sw_i X_ij^2 / n`` (raw, uncentred) for the columns ``cols`` (all: None)."""
        X = self._cols(cols)
        if self.sparse:
            # in canonical form (one stored entry per position) the squares of the stored
            # entries, without the elementwise product's pass that matches their positions
            sq = (type(X)((X.data ** 2, X.indices, X.indptr), shape=X.shape)
                  if X.has_canonical_format else X.multiply(X))
            return np.asarray(sq.T @ self.sw).ravel() / self.n
        if self._weighted:
            return np.einsum("ij,ij,i->j", X, X, self.sw) / self.n
        return np.einsum("ij,ij->j", X, X) / self.n

    def col_sq_norms(self, cols: np.ndarray | None = None) -> np.ndarray:
        """``diag(X_s' X_s) / n``, the scale c_j of eq. (4), for the columns ``cols`` (all:
        None, computed once; a subset is computed alone until all are)."""
        if self._sq is None:
            sq = self._weighted_sq(cols)
            if self._centre:
                sq = np.maximum(sq - self._off(cols)**2, 0.0)
            if cols is not None:
                return sq
            self._sq = sq
        return self._sq if cols is None else self._sq[cols]

    def xty(self) -> np.ndarray:
        """``X_s'y_s / n`` (computed once: every fit of a path needs it)."""
        if self._xty is None:
            self._xty = self.rmatvec(self.y) / self.n
        return self._xty

    def gradient(self, w: np.ndarray, r: np.ndarray | None = None) -> np.ndarray:
        """``X_s'(y_s - X_s w) / n``, minus the loss gradient (``r``: the residual, if known).

        The last result is kept with its ``w``: a fit of a path starts where the previous
        one ended, whose optimality check computed this product for the same ``w``. The
        returned array must not be modified.
        """
        if self._grad_at is not None and np.array_equal(w, self._grad_at[0]):
            return self._grad_at[1]
        if self.gram_route:
            g = self.xty() - self.gram() @ w
            self._grad_at = (w.copy(), g)
            return g
        k = self._covariance(np.flatnonzero(w)) if self.covariance else None
        if k is not None:  # X_s'y_s/n - (X_s'X_s/n)[:, S] w_S: d k flops instead of n d
            v = np.zeros(k)
            kept = self._cov_pos >= 0
            v[self._cov_pos[kept]] = w[kept]
            g = self.xty() - v @ self._cov[:k]
        else:
            g = self.rmatvec(self._residual(w) if r is None else r) / self.n
        self._grad_at = (w.copy(), g)
        return g

    def _covariance(self, cols: np.ndarray) -> int | None:
        """Make sure ``X_s'X_s[:, cols] / n`` is among the kept columns (the rows
        ``self._cov[:k]``, row ``self._cov_pos[j]`` for feature j), computing the missing
        ones in one matrix product, and return k: glmnet's covariance updates, where along
        a path the supports change little and each column is computed about once.

        None (no update) when ``cols`` has more than ``_COV_FRACTION * n`` columns (a
        support that large tends to keep growing, and the columns kept for it would not
        pay for their product), or when the kept columns would pass ``_COV_MAX_ENTRIES``
        entries.
        """
        k = int(np.count_nonzero(self._cov_pos >= 0))
        if cols.size > self.n * _COV_FRACTION:
            return None
        missing = cols[self._cov_pos[cols] < 0]
        if missing.size and self._grad_at is not None:
            # with the columns most likely to enter next (the largest gradients among the
            # rest): a product of a few more columns costs about the same pass over X
            score = np.where(self._cov_pos < 0, np.abs(self._grad_at[1]), -1.0)
            score[missing] = -1.0
            m = min(_COV_AHEAD, self.d)
            ahead = np.argpartition(-score, m - 1)[:m]
            missing = np.concatenate([missing, ahead[score[ahead] > 0]])
        if missing.size:
            if (k + missing.size) * self.d > _COV_MAX_ENTRIES:
                return None
            if k + missing.size > self._cov.shape[0]:  # room doubles: few copies per path
                room = np.empty((max(2 * (k + missing.size), 16), self.d))
                room[:k] = self._cov[:k]
                self._cov = room
            self._cov[k:k + missing.size] = self.rmatvec(self.block(missing)).T / self.n
            self._cov_pos[missing] = k + np.arange(missing.size)
            k += missing.size
        return k

    def intercept(self, w: np.ndarray) -> float:
        """The intercept of the uncentred model, ``y_offset - x_offset' w``."""
        return float(self.y_offset - self.x_offset @ w)

    def loss(self, w: np.ndarray) -> float:
        """The squared loss (3), ``||y_s - X_s w||^2 / (2n)`` (on the Gram route
        ``(y_s'y_s/n - 2 w'X_s'y_s/n + w'G w)/2``, at least 0)."""
        if self.gram_route:
            if self._yy is None:
                self._yy = float(self.y @ self.y) / self.n
            return max(0.5 * (self._yy + w @ (self.gram() @ w)) - self.xty() @ w, 0.0)
        return self.residual_loss(w)

    def residual_loss(self, w: np.ndarray) -> float:
        """The squared loss (3) from the residual, one pass over X on every route: to the
        rounding of the loss itself, where the Gram route's formula rounds at
        ``eps y_s'y_s/n`` (what a fit reports once, at its end)."""
        r = self._residual(w)
        return float(r @ r) / (2.0 * self.n)

    def residual(self, w: np.ndarray) -> np.ndarray:
        """``y_s - X_s w``, a new array (:meth:`_residual`)."""
        return self._residual(w).copy()

    def _residual(self, w: np.ndarray) -> np.ndarray:
        """``y_s - X_s w``, read-only. The last result is kept with its ``w``: a solver
        evaluates eq. (1) at a point and then its gradient there, or eq. (1) again, from the
        same residual (one product with X instead of two or three)."""
        if self._res_at is not None and np.array_equal(w, self._res_at[0]):
            return self._res_at[1]
        r = self.y - self.matvec(w)
        r.flags.writeable = False
        self._res_at = (w.copy(), r)
        return r
