r"""P1 finite elements for the Poisson equation on a triangle mesh, assembled by scikit-fem.

.. math:: -\Delta u = f \quad\text{in } \Omega, \qquad u = g \text{ on } \Gamma_D,
          \qquad \partial_n u = 0 \text{ on } \partial\Omega\setminus\Gamma_D.

Galerkin P1 (linear triangles): :math:`K u = b` with the stiffness
:math:`K_{ij} = \int\nabla\phi_i\cdot\nabla\phi_j` and the load :math:`b_i = \int f\,\phi_i`, where
``f`` is either a function evaluated at the quadrature points (exact data) or nodal values
interpolated by P1 (:math:`b = M f` with the consistent mass :math:`M`). The Dirichlet nodes are
condensed out and the rest solved with a sparse direct solver. The L2 error is second order in the
mesh size for smooth solutions (``tests/solvers/test_fem_poisson.py`` measures it).

Functions of position take ``x`` of shape ``(2, ...)`` (``x[0]`` the abscissae, ``x[1]`` the
ordinates), as scikit-fem passes quadrature points, and return an array of shape ``x.shape[1:]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from skfem import Basis, BilinearForm, ElementTriP1, Functional, LinearForm, MeshTri, condense, solve
from skfem.helpers import dot, grad

from ..mesh import Mesh

__all__ = ["p1_basis", "solve_poisson", "l2_error"]

Source = Callable[[np.ndarray], np.ndarray] | np.ndarray


@BilinearForm
def _laplace(u, v, _):
    return dot(grad(u), grad(v))


@BilinearForm
def _mass(u, v, _):
    return u * v


def p1_basis(mesh: Mesh, intorder: int | None = None) -> Basis:
    """The scikit-fem P1 basis on the triangles of ``mesh`` (degree of freedom i is point i).

    Every point must belong to a triangle (a P1 unknown with no triangle would make the system
    singular); other cell blocks (boundary lines) are ignored.
    """
    if mesh.dim != 2:
        raise ValueError(f"P1 Poisson solver needs a 2D mesh; its points have {mesh.dim} coordinates")
    tri = [c for t, c in mesh.cells if t == "triangle"]
    if not tri or sum(len(c) for c in tri) == 0:
        raise ValueError(f"P1 Poisson solver needs triangle cells; the mesh has {[t for t, _ in mesh.cells]}")
    t = np.concatenate(tri, axis=0)
    unused = np.setdiff1d(np.arange(mesh.n_points), t)
    if unused.size:
        raise ValueError(f"{unused.size} mesh points belong to no triangle (e.g. point {unused[0]}); remove them")
    return Basis(MeshTri(mesh.points.T.copy(), t.T.copy()), ElementTriP1(), intorder=intorder)


def _nodes(mesh: Mesh, dirichlet: Sequence[str]) -> np.ndarray:
    if isinstance(dirichlet, str):
        dirichlet = [dirichlet]
    missing = [d for d in dirichlet if d not in mesh.point_tags]
    if missing:
        raise ValueError(
            f"no point tag {missing[0]!r} for a Dirichlet condition; the mesh has {sorted(mesh.point_tags)}"
        )
    return np.unique(np.concatenate([mesh.point_tags[d] for d in dirichlet] + [np.zeros(0, np.int64)]))


def solve_poisson(
    mesh: Mesh, f: Source, dirichlet: Sequence[str] = ("boundary",), g: Source | float = 0.0
) -> np.ndarray:
    """Solve :math:`-\\Delta u = f` with P1 elements; ``u = g`` on the points tagged ``dirichlet``.

    Parameters
    ----------
    mesh : a 2D :class:`~sciml.mesh.Mesh` of triangles with the Dirichlet point tags
    f : the source: ``f(x)`` of ``x (2, ...)``, integrated at the quadrature points, or nodal values ``(n,)``
    dirichlet : names of the point tags where u is prescribed (the rest of the boundary is insulated)
    g : the prescribed values: a number, ``g(x)`` of the points ``x (2, n)``, or nodal values ``(n,)``
        (only the Dirichlet nodes' entries are used)

    Returns
    -------
    ``(n,)`` nodal values of u; exactly ``g`` at the Dirichlet nodes.
    """
    basis = p1_basis(mesh)
    n = mesh.n_points
    A = _laplace.assemble(basis)
    if callable(f):
        b = LinearForm(lambda v, w: f(w.x) * v).assemble(basis)
    else:
        fn = np.asarray(f, dtype=np.float64)
        if fn.shape != (n,):
            raise ValueError(f"nodal source values must have shape ({n},), got {fn.shape}")
        b = _mass.assemble(basis) @ fn
    fixed = _nodes(mesh, dirichlet)
    if fixed.size == 0:
        raise ValueError("the Dirichlet tags hold no points: the pure Neumann problem has no unique solution")
    if callable(g):
        gn = np.asarray(g(mesh.points.T), dtype=np.float64)
    else:
        gn = np.broadcast_to(np.asarray(g, dtype=np.float64), (n,))
    x = np.zeros(n)
    x[fixed] = gn[fixed]
    return solve(*condense(A, b, x=x, D=fixed))


def l2_error(mesh: Mesh, u: np.ndarray, exact: Callable[[np.ndarray], np.ndarray], intorder: int = 6) -> float:
    """:math:`\\|u_h - u\\|_{L^2(\\Omega_h)}` of the P1 function with nodal values ``u`` against ``exact(x)``,
    by a quadrature of degree ``intorder`` on every triangle."""
    basis = p1_basis(mesh, intorder=intorder)
    err = Functional(lambda w: (w["uh"] - exact(w.x)) ** 2)
    return float(np.sqrt(err.assemble(basis, uh=basis.interpolate(np.asarray(u, dtype=np.float64)))))
