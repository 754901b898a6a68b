"""A block-Jacobi preconditioner for conjugate gradients (the matrix-free multinomial polish).

For a symmetric ``A`` whose coordinates fall into small groups (one feature's coefficients
in the classes whose support holds it), the preconditioner is the block-diagonal part of
``A`` over the groups, ``M = blockdiag(A_1, ..., A_G)``, each block modified to be positive
definite: with ``A_g = V diag(mu) V'``,

    M_g = V diag(max(|mu|, tau mu_top)) V',   tau = _EIGEN_FLOOR

with ``mu_top`` the largest ``|mu|`` of all the blocks (``|mu|``: an indefinite block, a
non-convex penalty's curvature, gets a positive definite block of the same size; the
floor: a singular block, whose null direction CG does not need, is inverted with a bounded
condition number, and so is a block whose entries all lie below the rounding of products
with A, ``eps ||A||``: the block of a word whose documents' probabilities have underflowed
to about 1e-300 in all but one class would otherwise overflow its inverse). Blocks of one
size are eigendecomposed and applied together (``numpy.linalg.eigh`` over a stack).
"""

from __future__ import annotations

import numpy as np

# the smallest eigenvalue the preconditioner inverts, relative to the largest of all the
# blocks: above the rounding of an eigendecomposition and of a product with A (about 1e-16
# of the largest), so that a computed eigenvalue of pure rounding is not inverted
_EIGEN_FLOOR = 1e-13


class BlockJacobi:
    """``M = blockdiag(M_1, ..., M_G)`` of groups of coordinates, applied as ``M^-1 r``.

    Parameters
    ----------
    groups : list of ndarray of shape (n_blocks, size)
        For each block size, the coordinates of each block (each coordinate in one block).
    blocks : list of ndarray of shape (n_blocks, size, size)
        The symmetric blocks ``A_g`` in the same order.
    size : int
        The number of coordinates.
    """

    def __init__(self, groups: list[np.ndarray], blocks: list[np.ndarray], size: int) -> None:
        self.groups, self.size = groups, size
        self.inverses, self.matrices = [], []
        eigen = [np.linalg.eigh(A) for A in blocks]
        top = max((float(np.abs(mu).max()) for mu, _ in eigen if mu.size), default=0.0)
        floor = _EIGEN_FLOOR * (top if top > 0 else 1.0)
        for mu, V in eigen:
            mu = np.maximum(np.abs(mu), floor)
            self.inverses.append((V / mu[:, None, :]) @ V.transpose(0, 2, 1))
            self.matrices.append((V * mu[:, None, :]) @ V.transpose(0, 2, 1))

    def _apply(self, stacks: list[np.ndarray], r: np.ndarray) -> np.ndarray:
        out = np.empty(self.size)
        for idx, B in zip(self.groups, stacks):
            out[idx] = np.einsum("gab,gb->ga", B, r[idx])
        return out

    def solve(self, r: np.ndarray) -> np.ndarray:
        """``M^-1 r``."""
        return self._apply(self.inverses, r)

    def quadratic(self, p: np.ndarray) -> float:
        """``p'M p``."""
        return float(p @ self._apply(self.matrices, p))


def group_blocks(keys: np.ndarray, table: np.ndarray, classes: np.ndarray
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The groups of equal ``keys`` and their blocks, by size, for :class:`BlockJacobi`.

    Coordinate ``a`` (of class ``classes[a]``) couples to the coordinate of its group in
    class ``l`` by ``table[a, l]``, so the block of a group ``(a_1, ..., a_m)`` has the
    entries ``table[a_i, classes[a_j]]``.
    """
    order = np.lexsort((classes, keys))
    starts = np.flatnonzero(np.r_[True, keys[order][1:] != keys[order][:-1]])
    sizes = np.diff(np.r_[starts, keys.size])
    groups, blocks = [], []
    for m in np.unique(sizes):
        first = starts[sizes == m]
        idx = order[first[:, None] + np.arange(m)]
        groups.append(idx)
        blocks.append(table[idx[:, :, None], classes[idx][:, None, :]])
    return groups, blocks
