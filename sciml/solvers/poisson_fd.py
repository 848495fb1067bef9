"""Second-order finite differences for the Poisson equation on a rectangle with Dirichlet data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

__all__ = ["solve_poisson_dirichlet"]


def _second_difference(m: int, h: float) -> sp.csr_matrix:
    """The (m, m) matrix of (u_{i-1} - 2 u_i + u_{i+1}) / h² on m interior nodes (zero outside)."""
    return sp.diags([np.ones(m - 1), np.full(m, -2.0), np.ones(m - 1)], [-1, 0, 1], format="csr") / h**2


def solve_poisson_dirichlet(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray] | np.ndarray,
    shape: int | tuple[int, int],
    bounds: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 1.0), (0.0, 1.0)),
    g: Callable[[np.ndarray, np.ndarray], np.ndarray] | float = 0.0,
) -> np.ndarray:
    r"""Solve :math:`\Delta u = f` on a rectangle, :math:`u = g` on its boundary, by the 5-point stencil.

    On the node grid :math:`x_i = x_0 + i h_x`, :math:`y_j = y_0 + j h_y` (``shape = (n_x, n_y)``
    nodes, the boundary included) every interior node satisfies

    .. math::

        \frac{u_{i-1,j} - 2u_{i,j} + u_{i+1,j}}{h_x^2} + \frac{u_{i,j-1} - 2u_{i,j} + u_{i,j+1}}{h_y^2}
        = f_{i,j},

    with the boundary nodes set to :math:`g`. The truncation error is
    :math:`(h_x^2 u_{xxxx} + h_y^2 u_{yyyy})/12`, so for a smooth solution the nodal error is
    :math:`O(h^2)` (the discrete maximum principle turns consistency into convergence). The
    operator is the Kronecker sum :math:`D_{xx} \otimes I + I \otimes D_{yy}` of size
    :math:`(n_x - 2)(n_y - 2)`, solved by a sparse direct solver (SuperLU).

    Parameters
    ----------
    f : ``f(X, Y)`` on the ``(n_x, n_y)`` node arrays ('ij' indexing), or its values there; the
        boundary values are not used
    shape : nodes per side ``n`` (a square grid) or ``(n_x, n_y)``, each >= 3
    bounds : ``((x0, x1), (y0, y1))``, each with ``x0 < x1``
    g : the Dirichlet data, a number or ``g(X, Y)`` (evaluated on the boundary nodes)

    Returns
    -------
    numpy.ndarray
        ``u`` of shape ``(n_x, n_y)``, float64, index order ``[i_x, i_y]`` (as
        :meth:`sciml.mesh.Grid.points`).

    Raises
    ------
    ValueError
        One line: a bad ``shape`` or ``bounds``, ``f`` of the wrong shape, or non-finite data.
    """
    nx, ny = (shape, shape) if isinstance(shape, (int, np.integer)) else tuple(shape)
    for name, n in (("n_x", nx), ("n_y", ny)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 3:
            raise ValueError(f"solve_poisson_dirichlet: {name} must be an integer >= 3, got {n!r}")
    (x0, x1), (y0, y1) = bounds
    if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
        raise ValueError(
            f"solve_poisson_dirichlet: bounds must be ((x0, x1), (y0, y1)) with x0 < x1, y0 < y1, got {bounds!r}"
        )
    x, y = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    X, Y = np.meshgrid(x, y, indexing="ij")
    F = np.asarray(f(X, Y) if callable(f) else f, dtype=np.float64)
    if F.shape != (nx, ny):
        raise ValueError(f"solve_poisson_dirichlet: f must have the grid's shape {(nx, ny)}, got {F.shape}")
    u = np.zeros((nx, ny))
    on = np.ones((nx, ny), dtype=bool)
    on[1:-1, 1:-1] = False
    u[on] = np.broadcast_to(np.asarray(g(X, Y) if callable(g) else g, dtype=np.float64), (nx, ny))[on]
    if not (np.isfinite(F[1:-1, 1:-1]).all() and np.isfinite(u).all()):
        raise ValueError("solve_poisson_dirichlet: f and g must be finite")
    hx, hy = x[1] - x[0], y[1] - y[0]
    mx, my = nx - 2, ny - 2
    A = sp.kron(_second_difference(mx, hx), sp.identity(my)) + sp.kron(sp.identity(mx), _second_difference(my, hy))
    rhs = F[1:-1, 1:-1].copy()  # the known boundary values move to the right-hand side
    rhs[0, :] -= u[0, 1:-1] / hx**2
    rhs[-1, :] -= u[-1, 1:-1] / hx**2
    rhs[:, 0] -= u[1:-1, 0] / hy**2
    rhs[:, -1] -= u[1:-1, -1] / hy**2
    u[1:-1, 1:-1] = spsolve(A.tocsc(), rhs.ravel()).reshape(mx, my)
    return u
