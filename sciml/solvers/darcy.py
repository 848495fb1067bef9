"""Finite-difference solver for 2-D steady Darcy flow on the unit square."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

__all__ = ["solve_darcy"]


def _stencil_pattern(n: int):
    """CSR structure of the interior five-point operator and a data permutation.

    Returns ``(indptr, indices, perm, parts)`` where the COO entries are laid out
    as ``[diag, east, west, north, south]`` blocks (``parts`` holds the
    masks selecting the off-diagonal entries that couple to interior nodes) and
    ``coo_data[perm]`` is the CSR data array.
    """
    m = n - 2
    gi, gj = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    k = (gi * m + gj).ravel()  # unknown index, x-major
    ii = gi.ravel()
    jj = gj.ravel()
    east = ii < m - 1
    west = ii > 0
    north = jj < m - 1
    south = jj > 0
    rows = np.concatenate([k, k[east], k[west], k[north], k[south]])
    cols = np.concatenate([k, k[east] + m, k[west] - m, k[north] + 1, k[south] - 1])
    # Entries are unique, so tagging them with 1..nnz recovers the CSR order.
    tag = sp.coo_matrix((np.arange(1, rows.size + 1, dtype=np.float64), (rows, cols)), shape=(m * m, m * m)).tocsr()
    tag.sort_indices()
    perm = tag.data.astype(np.int64) - 1
    return tag.indptr, tag.indices, perm, (east, west, north, south)


def solve_darcy(a, f=1.0) -> np.ndarray:
    """Solve :math:`-\\nabla\\cdot(a\\nabla u) = f` on :math:`(0,1)^2`, ``u = 0`` on the boundary.

    Second-order conservative finite differences on the node grid
    :math:`x_i = i h`, :math:`h = 1/(n-1)`: at every interior node

    .. math::

        \\frac{1}{h^2}\\Big[a_{i+\\frac12,j}(u_{i,j}-u_{i+1,j})
        + a_{i-\\frac12,j}(u_{i,j}-u_{i-1,j})
        + a_{i,j+\\frac12}(u_{i,j}-u_{i,j+1})
        + a_{i,j-\\frac12}(u_{i,j}-u_{i,j-1})\\Big] = f_{i,j},

    with face coefficients :math:`a_{i+\\frac12,j} = (a_{i,j}+a_{i+1,j})/2`.
    The symmetric positive-definite system of size :math:`(n-2)^2` is
    assembled once in sparsity pattern and solved per sample with a sparse
    direct solver.

    Parameters
    ----------
    a : array_like
        Positive, finite coefficient at the nodes, shape ``(n, n)`` or
        ``(N, n, n)``; index order ``[i_x, i_y]``; ``n >= 3``.
    f : float or array_like, default 1.0
        Right-hand side: a scalar or an array broadcastable to ``a.shape``
        (e.g. ``(n, n)`` shared by a batch). Boundary values are ignored.

    Returns
    -------
    numpy.ndarray
        ``u`` with the shape of ``a``, float64, zero on the boundary.

    Raises
    ------
    ValueError
        If ``a`` has the wrong number of dimensions, is not square, has
        ``n < 3``, contains non-positive or non-finite values, or ``f`` is
        non-finite or not broadcastable to ``a``.

    References
    ----------
    R. J. LeVeque, "Finite Difference Methods for Ordinary and Partial
    Differential Equations", SIAM (2007), Sec. 2.15 and 3.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (2, 3):
        raise ValueError(f"a must have shape (n, n) or (N, n, n), got shape {a.shape}")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"a must be square in its last two axes, got shape {a.shape}")
    n = a.shape[-1]
    if n < 3:
        raise ValueError(f"grid size n must be >= 3 (at least one interior node), got n={n}")
    if not np.all(np.isfinite(a)):
        raise ValueError("a must be finite (found NaN or inf)")
    if np.any(a <= 0.0):
        raise ValueError(f"a must be strictly positive, got min(a) = {a.min()!r}")
    f = np.asarray(f, dtype=np.float64)
    try:
        f = np.broadcast_to(f, a.shape)
    except ValueError as exc:
        raise ValueError(f"f must be a scalar or broadcastable to a.shape {a.shape}, got shape {f.shape}") from exc
    if not np.all(np.isfinite(f)):
        raise ValueError("f must be finite (found NaN or inf)")

    batched = a.ndim == 3
    ab = a if batched else a[None]
    fb = f if batched else f[None]
    nb, m = ab.shape[0], n - 2
    h2 = (1.0 / (n - 1)) ** 2

    # Face coefficients around each interior node, shape (N, m, m).
    ax = 0.5 * (ab[:, 1:, :] + ab[:, :-1, :])  # face (i+1/2, j), shape (N, n-1, n)
    ay = 0.5 * (ab[:, :, 1:] + ab[:, :, :-1])  # face (i, j+1/2), shape (N, n, n-1)
    a_e = ax[:, 1:, 1:-1].reshape(nb, -1)
    a_w = ax[:, :-1, 1:-1].reshape(nb, -1)
    a_n = ay[:, 1:-1, 1:].reshape(nb, -1)
    a_s = ay[:, 1:-1, :-1].reshape(nb, -1)

    indptr, indices, perm, (east, west, north, south) = _stencil_pattern(n)
    coo = (
        np.concatenate([a_e + a_w + a_n + a_s, -a_e[:, east], -a_w[:, west], -a_n[:, north], -a_s[:, south]], axis=1)
        / h2
    )
    data = np.ascontiguousarray(coo[:, perm])  # fancy indexing may return a non-C layout
    rhs = np.ascontiguousarray(fb[:, 1:-1, 1:-1]).reshape(nb, -1)

    u = np.zeros_like(ab)
    for s in range(nb):
        mat = sp.csr_matrix((data[s], indices, indptr), shape=(m * m, m * m))
        u[s, 1:-1, 1:-1] = np.atleast_1d(spsolve(mat, rhs[s])).reshape(m, m)
    return u if batched else u[0]
