"""Tests for the P1 finite-element Poisson solver (scikit-fem assembly) on gmsh meshes with a hole."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.mesh import Grid, Mesh
from sciml.problems.poisson_hole import hole_mesh
from sciml.solvers.fem_poisson import l2_error, solve_poisson

# a star-shaped hole with three modes, off centre
HOLE = {"r0": 0.2, "cx": 0.52, "cy": 0.47, "a": np.array([0.1, 0.0, 0.05]), "b": np.array([0.0, 0.08, 0.0])}
DIRICHLET = ("outer", "hole")


def exact(x):
    return np.sin(np.pi * x[0]) * np.sin(np.pi * x[1])


def source(x):
    return 2 * np.pi**2 * exact(x)


@pytest.fixture(scope="module")
def meshes() -> list[Mesh]:
    return [hole_mesh(HOLE, h) for h in (0.1, 0.05, 0.025)]


def test_l2_error_converges_at_second_order(meshes):
    """u = sin(πx) sin(πy), 0 on the square, u itself on the (polygonal) hole boundary; the meshes are
    unstructured (gmsh) at h = 0.1, 0.05, 0.025 (218, 763, 2875 nodes). Measured orders: 1.99, 2.01
    with the source integrated at quadrature points, 1.98, 2.00 with nodal source values."""
    assert [m.n_points for m in meshes] == sorted(m.n_points for m in meshes)
    for nodal in (False, True):
        errs = []
        for m in meshes:
            f = source(m.points.T) if nodal else source
            u = solve_poisson(m, f, DIRICHLET, g=exact)
            errs.append(l2_error(m, u, exact))
        orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        assert np.all((orders > 1.85) & (orders < 2.15)), (nodal, errs, orders)
        assert errs[-1] < 3e-4


def test_dirichlet_values_exact_and_linear_functions_reproduced(meshes):
    """P1 holds every linear function exactly: -Δu = 0 with linear boundary data gives u everywhere
    (to round-off), on the square's sides and the hole's alike."""
    m = meshes[1]

    def lin(x):
        return 1.0 + 2.0 * x[0] - 0.5 * x[1]

    u = solve_poisson(m, lambda x: np.zeros(np.shape(x)[1:]), DIRICHLET, g=lin)
    np.testing.assert_allclose(u, lin(m.points.T), rtol=0, atol=1e-12)
    u = solve_poisson(m, source, DIRICHLET)  # g = 0 by default
    fixed = np.concatenate([m.point_tags["outer"], m.point_tags["hole"]])
    assert np.all(u[fixed] == 0.0) and u.max() > 0.1  # positive source, positive solution
    assert u.min() > -1e-12  # the maximum principle (gmsh's Delaunay triangles are non-obtuse enough)


def test_square_without_hole_matches_the_exact_solution():
    """Structured triangles on the full square (no gmsh): the same source, error ~ h²."""
    errs = []
    for n in (8, 16):
        g = Grid((n + 1, n + 1), ((0.0, 1.0), (0.0, 1.0))).to_mesh()
        q = g.cells[0][1]
        m = Mesh(g.points, [("triangle", np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]]))], g.point_tags)
        errs.append(l2_error(m, solve_poisson(m, source, ("left", "right", "bottom", "top")), exact))
    assert 3.6 < errs[0] / errs[1] < 4.4


def test_bad_input_is_refused(meshes):
    m = meshes[0]
    with pytest.raises(ValueError, match="no point tag 'wall'"):
        solve_poisson(m, source, ("wall",))
    with pytest.raises(ValueError, match=r"shape \(218,\)"):
        solve_poisson(m, np.zeros(3), DIRICHLET)
    lonely = Mesh(np.vstack([m.points, [[2.0, 2.0]]]), m.cells, m.point_tags)
    with pytest.raises(ValueError, match="belong to no triangle"):
        solve_poisson(lonely, source, DIRICHLET)
    with pytest.raises(ValueError, match="no unique solution"):
        solve_poisson(Mesh(m.points, m.cells, {"none": np.zeros(0, np.int64)}), source, ("none",))
