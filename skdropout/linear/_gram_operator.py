"""The Gram matrix of some columns of a design as an operator, and conjugate gradients on it.

For a large support of a sparse X the dense ``k x k`` matrix ``G = X_s[:, P]'X_s[:, P]/n``
and its Cholesky factor cost ``O(k^2)`` memory and ``O(k^3)`` flops, while a product
``G u = X_s[:, P]'(X_s[:, P] u)/n`` costs two passes over the stored entries of the
columns P. :class:`GramOperator` holds those columns (sliced once) and applies G to vectors
and to blocks of vectors; :func:`pcg` solves ``(G + diag(a)) x = b`` with it by conjugate
gradients with the Jacobi preconditioner ``diag(G) + a``.

With ``X_s = diag(u) (X - 1 x_offset')`` (``u = sqrt(sw)``, :class:`~._design.Design`), for
a block ``V``: ``T = sw * (X V - 1 x_offset'V)`` and ``G V = (X'T - x_offset 1'T)/n``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from ._block_preconditioner import BlockJacobi

# a sub-operator taken with ``reuse`` reads its parent's block in place while the entries it
# skips there are at most this fraction of those it keeps (:meth:`GramOperator.take`)
_VIEW_SKIP = 0.5


class GramOperator:
    """``X_s[:, P]'X_s[:, P]/n`` of the columns P of a design, applied without forming it.

    Parameters
    ----------
    block : scipy.sparse matrix (CSC) or ndarray of shape (n_samples, m)
        Raw (uncentred, unweighted) columns of X: P itself, or (``columns``) columns among
        which P lies.
    offset : ndarray of shape (|P|,)
        Their weighted means ``x_offset`` (0 without centring).
    sw : ndarray of shape (n_samples,) or None
        The normalised sample weights (None: all 1).
    diagonal : ndarray of shape (|P|,)
        ``diag(G)``, the columns' ``||X_s[:, j]||^2/n``.
    columns : ndarray of int, optional
        The positions of P among the columns of ``block`` (default: all of them, in order).
    slices : ColumnSlices, optional
        Where the sub-operators taken from this one (P all of the block's columns) keep
        their copied columns, shared with the other operators on the same raw block.
    """

    def __init__(self, block: Any, offset: np.ndarray, sw: np.ndarray | None,
                 diagonal: np.ndarray, columns: np.ndarray | None = None,
                 slices: "ColumnSlices | None" = None) -> None:
        self.block, self.offset, self.sw, self._diag = block, offset, sw, diagonal
        self._columns, self._slices = columns, slices
        # block' for the products (built at the first: a sparse transpose is a new matrix
        # object, whose construction checks cost about as much as a small product), shared
        # by the operators that read the same block (``_owner`` holds it; None: this one)
        self._block_t: Any = None
        self._owner: GramOperator | None = None
        self.n = block.shape[0]
        self.shape = (diagonal.size, diagonal.size)
        self.centred = bool(np.any(offset))

    def diagonal(self) -> np.ndarray:
        """``diag(G)``."""
        return self._diag

    def take(self, pos: np.ndarray, reuse: bool = False) -> "GramOperator":
        """The principal sub-operator on the positions ``pos`` of P: its columns copied out
        of the block, or, with ``reuse`` and a CSC block whose entries outside ``pos`` are
        at most ``_VIEW_SKIP`` times those of ``pos``, read in place (its products pass over
        those other entries with factors 0 and equal a copy's to the sign of a zero). A
        copy costs about two products' reads per entry and fresh memory; the polish's next
        round after coordinates leave the support (a few products) reuses the last round's
        columns. With ``slices`` the last copy is kept there, and a later ``take`` of the
        same columns, or of a subset that it may read in place, reads it instead (the raw
        columns do not depend on ``sw``: the operators of a round's Newton steps, each with
        its own weights, share them)."""
        cols = self._in_block(pos)
        if self._slices is not None:
            kept = self._slices.find(cols)
            if kept is not None:
                owner, columns = kept
                return self._sub(owner.block, pos, columns, owner)
        if reuse and sp.issparse(self.block) and self.block.format == "csc":
            if _may_read(self.block, cols):
                return self._sub(self.block, pos, cols,
                                 self if self._owner is None else self._owner)
        sub = GramOperator(self.block[:, cols], self.offset[pos], self.sw, self._diag[pos])
        if self._slices is not None:
            self._slices.keep(cols, sub)
        return sub

    def _sub(self, block: Any, pos: np.ndarray, columns: np.ndarray | None,
             owner: "GramOperator") -> "GramOperator":
        """The sub-operator on the positions ``pos`` of P that reads the columns
        ``columns`` (None: all) of ``block``, whose transpose ``owner`` holds."""
        sub = GramOperator(block, self.offset[pos], self.sw, self._diag[pos], columns)
        sub._owner = owner
        return sub

    def _in_block(self, pos: np.ndarray) -> np.ndarray:
        """The block's columns of the positions ``pos`` of P."""
        return pos if self._columns is None else self._columns[pos]

    def _transposed(self) -> Any:
        """``block'``, built once per block."""
        owner = self if self._owner is None else self._owner
        if owner._block_t is None:
            owner._block_t = owner.block.T
        return owner._block_t

    def rows(self, V: np.ndarray) -> np.ndarray:
        """``X[:, P] V - 1 x_offset'V``, the centred (unweighted) samples' values of a vector
        or a block of columns V: ``V'GV`` is their weighted sum of squares over n
        (:meth:`line_quadratics` for the points of a line)."""
        if self._columns is None:
            T = np.asarray(self.block @ V)  # a new array
        else:  # the block's other columns at 0
            full = np.zeros((self.block.shape[1],) + V.shape[1:])
            full[self._columns] = V
            T = np.asarray(self.block @ full)
        if self.centred:
            T -= self.offset @ V  # one value per column of V, broadcast over the rows
        return T

    def line_quadratics(self, ends: np.ndarray, ts: np.ndarray, pos: np.ndarray,
                        D: np.ndarray) -> np.ndarray:
        """``p_k'G p_k`` for the points ``p_k = w - t_k s - E D[:, k]`` of a line, where
        ``E`` holds the columns ``pos`` of the identity (a few coordinates taken off the
        line: the crossed ones of the polish's line search), from ``ends = rows([w, s])``.

        With ``a, b`` the columns of ``ends`` and ``kappa_k = x_offset[pos]'D[:, k]``, the
        samples' values are ``R_ik = a_i - t_k b_i + kappa_k - (X[:, pos] D)_ik``
        (:meth:`rows`). On the rows that the stored entries of the columns ``pos`` touch
        (a sparse X: a few) they are formed; on the others the last term is 0, and
        ``sum_i sw_i R_ik^2`` there is the quadratic in ``t_k`` and ``kappa_k`` of the
        weighted sums of ``a^2, ab, b^2, a, b, 1`` over those rows: ``O(n + |touched|
        |ts|)`` work instead of the ``O(n |ts|)`` of all of R."""
        a, b = ends[:, 0], ends[:, 1]
        kappa = self.offset[pos] @ D if self.centred else np.zeros(ts.size)
        block = self.block[:, self._in_block(pos)]
        sw = np.ones(self.n) if self.sw is None else self.sw
        if sp.issparse(block):  # the touched rows, renumbered (CSC: indices are rows)
            block = block.tocsc()
            touched, inverse = np.unique(block.indices, return_inverse=True)
            block = type(block)((block.data, inverse.ravel(), block.indptr),
                                shape=(touched.size, pos.size))
        else:
            touched = np.arange(self.n)
        R = (a[touched, None] - b[touched, None] * ts[None, :] + kappa[None, :]
             - np.asarray(block @ D))
        inside = (sw[touched, None] * R * R).sum(axis=0)
        rest = sw.copy()
        rest[touched] = 0.0
        ra, rb = rest * a, rest * b
        saa, sab, sbb = float(ra @ a), float(ra @ b), float(rb @ b)
        sa, sb, s1 = float(ra.sum()), float(rb.sum()), float(rest.sum())
        outside = (saa - 2.0 * ts * sab + ts * ts * sbb + 2.0 * kappa * (sa - ts * sb)
                   + kappa * kappa * s1)
        return (inside + outside) / self.n

    def __matmul__(self, V: np.ndarray) -> np.ndarray:
        """``G V`` for a vector or a block of columns."""
        T = self.rows(V)
        if self.sw is not None:
            T *= self.sw.reshape(-1, *(1,) * (T.ndim - 1))
        out = np.asarray(self._transposed() @ T)
        if self._columns is not None:
            out = out[self._columns]
        if self.centred:
            out = out - np.multiply.outer(self.offset, T.sum(axis=0))
        return out / self.n


def _may_read(block: Any, cols: np.ndarray) -> bool:
    """Whether a sub-operator on the columns ``cols`` of a CSC ``block`` reads it in place:
    the entries it skips there are at most ``_VIEW_SKIP`` times those it keeps."""
    kept = int(np.sum(block.indptr[cols + 1] - block.indptr[cols]))
    return block.nnz - kept <= _VIEW_SKIP * kept


class ColumnSlices:
    """The last columns that :meth:`GramOperator.take` copied out of a raw block, with the
    sub-operator that holds them, for the later sub-operators of operators on the same
    block (a logistic round's Newton steps: :class:`~._logistic.LogisticProblem`), and the
    block by rows (:meth:`by_rows`)."""

    def __init__(self) -> None:
        self.cols: np.ndarray | None = None
        self.owner: GramOperator | None = None
        self._rows: Any = None

    def by_rows(self, block: Any) -> Any:
        """The raw block (a CSC matrix; every caller passes the same one) in CSR, converted
        at the first call: the right factor of scipy's sparse products, which would convert
        it at every product (the Gram matrix of each Newton step of a round)."""
        if self._rows is None:
            self._rows = block.tocsr()
        return self._rows

    def keep(self, cols: np.ndarray, owner: GramOperator) -> None:
        """Keep the copy ``owner.block`` of the block's columns ``cols`` (sorted)."""
        self.cols, self.owner = cols, owner

    def find(self, cols: np.ndarray) -> tuple[GramOperator, np.ndarray | None] | None:
        """``(owner, columns)`` where the kept copy serves the block's sorted columns
        ``cols``: all of it (``columns`` None) when they are the kept ones, or its
        ``columns`` read in place (``_VIEW_SKIP``, a CSC copy); else None."""
        if self.cols is None or not 0 < cols.size <= self.cols.size:
            return None
        if cols.size == self.cols.size:
            return (self.owner, None) if np.array_equal(cols, self.cols) else None
        at = np.searchsorted(self.cols, cols)  # nondecreasing: its last is its largest
        if at[-1] >= self.cols.size or not np.array_equal(self.cols[at], cols):
            return None
        block = self.owner.block
        if sp.issparse(block) and block.format == "csc" and _may_read(block, at):
            return self.owner, at
        return None


def pcg(matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
        precond: np.ndarray | BlockJacobi, rtol: float = 1e-15, maxiter: int | None = None,
        atol: float = 0.0, truncate: bool = False, semidefinite: bool = False
        ) -> np.ndarray | None:
    """Solve ``A x = b`` for a symmetric ``A`` (applied by ``matvec``) by conjugate
    gradients with the preconditioner ``M = diag(precond)`` (positive) or a
    :class:`~._block_preconditioner.BlockJacobi` M, from ``x = 0``.

    Stops when ``||b - A x|| <= max(rtol ||b||, atol)`` (the recurrence's residual). Returns
    None when a search direction ``p`` has ``p'A p <= 0`` to rounding, ``p'A p <= 1e-14
    p'M p`` (A is not positive definite on the Krylov space: a non-convex penalty's
    curvature, or a singular A) or when ``maxiter`` (default ``10 size + 100``) steps do not
    reach that. With ``truncate`` it returns the iterate after ``maxiter`` steps, and, with
    ``semidefinite`` too (A is known to be positive semidefinite, so that such a direction
    lies in its null space to rounding: a singular A, not an indefinite one), the iterate
    before a direction of non-positive curvature (None only when the first direction has
    one), as the line-search Newton-CG method of Nocedal and Wright (Algorithm 7.1) does: A
    is positive definite on the space the iterates span, so ``x`` is a descent direction
    of the quadratic model ``x'A x/2 - b'x`` whatever the rest of A (truncated CG).
    """
    if isinstance(precond, np.ndarray):
        diag = precond
        solve, quadratic = (lambda r: r / diag), (lambda p: float(p @ (diag * p)))
    else:
        solve, quadratic = precond.solve, precond.quadratic
    x = np.zeros(b.size)
    bnorm = float(np.linalg.norm(b))
    if bnorm == 0.0:
        return x
    stop = max(rtol * bnorm, atol)
    maxiter = 10 * b.size + 100 if maxiter is None else maxiter
    r = b.copy()
    z = solve(r)
    p = z.copy()
    rz = float(r @ z)
    for step in range(maxiter):
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if pAp <= 1e-14 * quadratic(p):
            return x if truncate and semidefinite and step else None
        alpha = rz / pAp
        x += alpha * p
        r -= alpha * Ap
        if np.linalg.norm(r) <= stop:
            return x
        z = solve(r)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x if truncate else None
