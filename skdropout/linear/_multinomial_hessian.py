"""The multinomial loss Hessian on a support as an operator (the matrix-free Newton polish).

For K classes with supports ``S_k`` the loss Hessian of the polish has ``K x K`` blocks

    H_km = X_k' diag(w (p_k [k = m] - p_k p_m)) X_m,   X_k = [X[:, S_k] 1],  w = s / S

(the ones column only with an intercept), ``(sum_k |S_k|)^2`` entries when formed: for a
large support of a sparse X that is gigabytes, and its factorisation hours. A product
``H v`` needs none of it: with ``U[:, k] = X_k v_k`` (the margins' change per class),

    (H v)_k = X_k' (w (h_k u_k - p_k sum_{m != k} p_m u_m)),   h_k = p_k (1 - p_k),

two passes over the stored entries of the support's columns per class. The diagonal is
``X_k[:, j]^2' (w h_k)``, and the block of a feature j over the classes whose supports hold
it (the intercepts: over all K, with ``X[:, j]`` the ones column)

    H_j[k, m] = X[:, j]^2' (w (p_k [k = m] - p_k p_m)),

a product of the squared columns with the K columns ``w p_k p_m`` per class, made once per
operator: the blocks of the block-Jacobi preconditioner
(:meth:`MultinomialHessian.block_preconditioner`), whatever the penalty's curvature added to
them and whichever positions a sub-operator keeps.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._block_preconditioner import BlockJacobi, group_blocks


def _squared(block: Any) -> Any:
    """The entrywise square of a sparse or dense block of columns."""
    return block.multiply(block).tocsc() if sp.issparse(block) else block * block


class MultinomialHessian:
    """The loss Hessian of :func:`~._logistic._polish` on a support, applied without forming it.

    Positions follow the polish's layout: class 0's support columns, then its intercept
    (with ``intercept``), then class 1's, and so on.

    Parameters
    ----------
    blocks : list of K scipy.sparse matrices (CSC) or ndarrays
        ``X[:, S_k]``, the support's columns of each class.
    P, C : ndarray of shape (n_samples, K)
        The probabilities and their complements ``1 - P``
        (:meth:`~._logistic.LogisticProblem.complements`).
    weight : ndarray of shape (n_samples,)
        ``s / S``.
    intercept : bool
    features : list of K ndarrays
        ``S_k``, the features of the columns of ``blocks``.
    """

    def __init__(self, blocks: list[Any], P: np.ndarray, C: np.ndarray, weight: np.ndarray,
                 intercept: bool, features: list[np.ndarray]) -> None:
        self.blocks, self.P, self.weight, self.intercept = blocks, P, weight, intercept
        # the transposes once (a sparse block's is a new matrix object per product otherwise)
        self.blocks_T = [block.T.tocsr() if sp.issparse(block) else block.T
                         for block in blocks]
        self.h = P * C
        sizes = [block.shape[1] + intercept for block in blocks]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        # per position (row): its couplings -X[:, j]^2' (w p_k p_m) to class m and, at
        # m = k, the diagonal X[:, j]^2' (w h_k); one product of the squared columns per
        # class gives both (the diagonal from h, not from p - p^2, which cancels near p = 1)
        K = len(blocks)
        wh, wP = weight[:, None] * self.h, weight[:, None] * P
        rows, keys, classes = [], [], []
        for k, block in enumerate(blocks):
            Q = np.asarray(_squared(block).T @ np.column_stack([wP * P[:, k:k + 1], wh[:, k]]))
            T = -Q[:, :K]
            T[:, k] = Q[:, K]
            rows.append(T)
            keys.append(features[k])
            if intercept:
                t = -(wP * P[:, k:k + 1]).sum(axis=0)
                t[k] = wh[:, k].sum()
                rows.append(t[None, :])
                keys.append([-1])
            classes.append(np.full(block.shape[1] + intercept, k))
        self._table = np.concatenate(rows)
        self._keys = np.concatenate(keys).astype(np.intp)
        self._classes = np.concatenate(classes)
        self._diag = self._table[np.arange(self._classes.size), self._classes]
        self.pos: np.ndarray | None = None  # the positions kept by take (None: all)
        self.shape = (self._diag.size, self._diag.size)

    def take(self, pos: np.ndarray) -> "MultinomialHessian":
        """The principal sub-operator on the positions ``pos`` (the others held at 0)."""
        sub = copy.copy(self)  # shares the blocks and weights
        sub.pos = pos if self.pos is None else self.pos[pos]
        sub.shape = (pos.size, pos.size)
        return sub

    def diagonal(self) -> np.ndarray:
        """The Hessian's diagonal on the kept positions."""
        return self._diag if self.pos is None else self._diag[self.pos]

    def block_preconditioner(self, c: np.ndarray) -> BlockJacobi:
        """The block-Jacobi preconditioner of ``H + diag(c)`` on the kept positions: one
        block ``H_j + diag(c)`` per feature j over the kept positions of its coefficients
        (those of the classes whose supports hold it), and one over the kept intercepts."""
        table, key, cls = self._table, self._keys, self._classes
        if self.pos is not None:
            table, key, cls = table[self.pos], key[self.pos], cls[self.pos]
        else:
            table = table.copy()
        table[np.arange(key.size), cls] += c
        return BlockJacobi(*group_blocks(key, table, cls), key.size)

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        """``H v`` for a vector ``v`` on the kept positions."""
        full = v
        if self.pos is not None:
            full = np.zeros(self._diag.size)
            full[self.pos] = v
        K = len(self.blocks)
        U = np.empty((self.P.shape[0], K))
        for k, block in enumerate(self.blocks):
            a, m = self.starts[k], block.shape[1]
            U[:, k] = block @ full[a:a + m]
            if self.intercept:
                U[:, k] += full[a + m]
        PU = self.P * U
        # h_k u_k - p_k sum_{m != k} p_m u_m, the diagonal blocks' weight from 1 - p_k
        Z = self.weight[:, None] * (self.h * U - self.P * (PU.sum(axis=1)[:, None] - PU))
        out = np.empty(self._diag.size)
        for k, block_T in enumerate(self.blocks_T):
            a, m = self.starts[k], block_T.shape[0]
            out[a:a + m] = block_T @ Z[:, k]
            if self.intercept:
                out[a + m] = Z[:, k].sum()
        return out if self.pos is None else out[self.pos]
