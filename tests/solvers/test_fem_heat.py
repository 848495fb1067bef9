"""Tests for the P1 finite-element heat / advection–diffusion solver (Crank–Nicolson)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sciml.mesh import Grid, Mesh
from sciml.solvers import convection_matrices, heat_matrices, solve_heat
from sciml.solvers.fem_heat import cylinder_flow

PLATE = Path(__file__).resolve().parents[2] / "meshes" / "plate_hole.msh"
OUTER = ("left", "right", "bottom", "top")


def tri_grid(n: int, bounds=((0.0, 1.0), (0.0, 1.0))) -> Mesh:
    """Structured triangles: an (n+1)² node grid, each quad split along a diagonal."""
    g = Grid((n + 1, n + 1), bounds).to_mesh()
    q = g.cells[0][1]
    return Mesh(g.points, [("triangle", np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]]))], g.point_tags)


def mnorm(M, e) -> float:
    return float(np.sqrt(e @ (M @ e)))


def orders(errs) -> np.ndarray:
    errs = np.asarray(errs)
    return np.log2(errs[:-1] / errs[1:])


@pytest.fixture(scope="module")
def plate() -> Mesh:
    return Mesh.read(PLATE)


@pytest.fixture(scope="module")
def plate_mk(plate):
    return heat_matrices(plate)


# ---- matrices --------------------------------------------------------------------------------
def test_mass_matrix_integrates_the_area(plate, plate_mk):
    M, _ = plate_mk
    tri = plate.cells[0][1]
    x = plate.points[tri]
    d1, d2 = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]
    area = 0.5 * np.abs(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]).sum()
    assert M.shape == (778, 778)
    assert M.sum() == pytest.approx(area, rel=1e-13)
    exact = 1.0 - np.pi * 0.2**2
    # the hole is an inscribed 51-gon: the mesh area exceeds the exact one by about 3e-4
    assert 0.0 < M.sum() - exact < 1e-3
    assert abs(M - M.T).max() < 1e-15
    assert np.linalg.eigvalsh(M.toarray()).min() > 0


def test_stiffness_matrix_kernel_symmetry_and_semidefinite(plate, plate_mk):
    M, K = plate_mk
    assert abs(K @ np.ones(K.shape[0])).max() < 1e-12 * abs(K).max()
    assert abs(K - K.T).max() < 1e-13 * abs(K).max()
    ev = np.linalg.eigvalsh(K.toarray())
    assert ev.min() > -1e-10 * ev.max()
    assert np.sum(ev < 1e-10 * ev.max()) == 1  # connected domain: only the constants
    # exact on linear functions: x·K·x = ∫ |∇x|² = area
    x = plate.points[:, 0]
    assert x @ (K @ x) == pytest.approx(M.sum(), rel=1e-12)


def test_convection_matrices_are_exact_on_linear_functions(plate, plate_mk):
    M, _ = plate_mk
    Cx, Cy = convection_matrices(plate)
    x, y = plate.points[:, 0], plate.points[:, 1]
    ones = M @ np.ones(len(x))  # ∫ φ_i
    np.testing.assert_allclose(Cx @ x, ones, atol=1e-15)
    np.testing.assert_allclose(Cy @ y, ones, atol=1e-15)
    np.testing.assert_allclose(Cx @ y, 0.0, atol=1e-15)
    np.testing.assert_allclose(Cy @ x, 0.0, atol=1e-15)
    np.testing.assert_allclose(Cx @ np.ones(len(x)), 0.0, atol=1e-15)


def test_convection_matrices_with_nodal_flow_fields(plate, plate_mk):
    M, _ = plate_mk
    n = plate.n_points
    x, y = plate.points.T
    const = (np.tile([1.0, 0.0], (n, 1)), np.tile([0.0, 1.0], (n, 1)))
    for a, b in zip(convection_matrices(plate, const), convection_matrices(plate)):
        assert abs(a - b).max() < 1e-15
    # w_x = (x, 0), w_y = (0, y) are interpolated exactly: ∫ φ_i x ∂x/∂x = (M x)_i
    Cx, Cy = convection_matrices(plate, (np.stack([x, 0 * x], 1), np.stack([0 * y, y], 1)))
    np.testing.assert_allclose(Cx @ x, M @ x, atol=1e-15)
    np.testing.assert_allclose(Cy @ y, M @ y, atol=1e-15)
    np.testing.assert_allclose(Cx @ y, 0.0, atol=1e-15)


def test_cylinder_flow_is_potential_flow_tangential_on_the_hole(plate):
    hole = plate.points[plate.point_tags["hole"]]
    wx, wy = cylinder_flow(plate.points, (0.5, 0.5), 0.2)
    normal = (hole - 0.5) / 0.2
    for w in (wx, wy):
        assert np.abs((w[plate.point_tags["hole"]] * normal).sum(1)).max() < 1e-12
    np.testing.assert_allclose(wx[plate.point_tags["hole"]].max(0)[0], 2.0, atol=0.01)  # 2U at the sides
    far = np.array([[1e4, -3e4], [-2e4, 5e3]])
    np.testing.assert_allclose(cylinder_flow(far, (0.5, 0.5), 0.2)[0], [[1.0, 0.0]] * 2, atol=1e-9)
    np.testing.assert_allclose(cylinder_flow(far, (0.5, 0.5), 0.2)[1], [[0.0, 1.0]] * 2, atol=1e-9)
    # divergence- and curl-free (central differences at random points outside the disk)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, (200, 2))
    pts = pts[np.linalg.norm(pts - 0.5, axis=1) > 0.25]
    eps = 1e-5
    for k in range(2):

        def w(q):
            return cylinder_flow(q, (0.5, 0.5), 0.2)[k]

        dx = (w(pts + [eps, 0]) - w(pts - [eps, 0])) / (2 * eps)
        dy = (w(pts + [0, eps]) - w(pts - [0, eps])) / (2 * eps)
        assert np.abs(dx[:, 0] + dy[:, 1]).max() < 1e-6
        assert np.abs(dx[:, 1] - dy[:, 0]).max() < 1e-6


def test_uniform_flow_drains_into_the_insulated_hole_but_cylinder_flow_does_not(plate, plate_mk):
    """A bump upstream of the hole, all boundaries insulated, b = (0.3, 0) for t = 1."""
    M, _ = plate_mk
    w = M @ np.ones(plate.n_points)
    u0 = np.exp(-((plate.points - [0.17, 0.5]) ** 2).sum(1) / (2 * 0.05**2))
    flow = cylinder_flow(plate.points, (0.5, 0.5), 0.2)
    uni, cyl = (
        solve_heat(plate, u0, [1.0], 0.005, velocity=(0.3, 0.0), dirichlet=(), dt=0.01, flow=f)[-1]
        for f in (None, flow)
    )
    assert uni @ w < 0.3 * (u0 @ w)  # the uniform field carries u out through the hole's outline
    assert abs(cyl @ w / (u0 @ w) - 1) < 0.05  # only the tiny inflow through the left edge
    assert cyl.min() > -1e-3 and cyl.max() < u0.max()


# ---- accuracy --------------------------------------------------------------------------------
def test_spatial_convergence_against_the_decaying_sine_mode():
    """u = exp(−2π²κt) sin(πx) sin(πy): second order in the mass-matrix norm (dt ∝ h)."""
    kappa, t_end = 0.1, 0.1
    errs = []
    for n in (8, 16, 32):
        g = tri_grid(n)
        x, y = g.points.T

        def exact(t):
            return np.exp(-2 * np.pi**2 * kappa * t) * np.sin(np.pi * x) * np.sin(np.pi * y)

        u = solve_heat(g, exact(0.0), [0.0, t_end], kappa, dt=t_end / n / 4)
        M, _ = heat_matrices(g)
        errs.append(mnorm(M, u[-1] - exact(t_end)))
        np.testing.assert_array_equal(u[:, g.point_tags["left"]], 0.0)
    assert errs[-1] < 5e-4
    assert np.all(orders(errs) >= 1.8), (errs, orders(errs))


def test_advected_gaussian_pulse_converges():
    """Free-space solution u = s0/s · exp(−|x − x0 − bt|² / (4κs)), s = t + s0, far from the walls."""
    kappa, b, s0, t_end = 0.01, np.array([0.3, 0.2]), 0.5, 1.0
    errs = []
    for n in (16, 32, 64):  # h = 2/n; the pulse's width grows from 0.1 to 0.17
        g = tri_grid(n, ((-0.5, 1.5), (-0.5, 1.5)))

        def exact(t):
            c = np.array([0.35, 0.4]) + b * t
            return s0 / (t + s0) * np.exp(-((g.points - c) ** 2).sum(1) / (4 * kappa * (t + s0)))

        u = solve_heat(g, exact(0.0), [t_end], kappa, velocity=b, dirichlet=(), dt=0.4 / n)
        M, _ = heat_matrices(g)
        errs.append(mnorm(M, u[-1] - exact(t_end)) / mnorm(M, exact(t_end)))
    assert errs[-1] < 0.01
    # 1.67 from h = 1/8 to 1/16 (the pulse is barely resolved), then 1.89
    assert np.all(orders(errs) >= [1.6, 1.8]), (errs, orders(errs))


@pytest.mark.parametrize("theta, order", [(0.5, 2.0), (1.0, 1.0)])
@pytest.mark.parametrize("velocity", [(0.0, 0.0), (0.5, 0.3)])
def test_time_order_on_a_fixed_mesh(theta, order, velocity):
    g = tri_grid(16)
    x, y = g.points.T
    u0 = np.sin(np.pi * x) * np.sin(np.pi * y) + 0.5 * np.sin(2 * np.pi * x) * np.sin(np.pi * y)
    M, _ = heat_matrices(g)
    dt, t = 0.05, [0.0, 0.2]
    ref = solve_heat(g, u0, t, 0.1, velocity=velocity, dt=dt / 64, theta=theta)[-1]
    errs = [mnorm(M, solve_heat(g, u0, t, 0.1, velocity=velocity, dt=dt / k, theta=theta)[-1] - ref) for k in (1, 2, 4)]
    assert np.all(np.abs(orders(errs) - order) < 0.15), (errs, orders(errs))


# ---- conservation and boundary conditions ----------------------------------------------------
def test_insulated_heat_conserves_the_integral(plate, plate_mk):
    M, _ = plate_mk
    rng = np.random.default_rng(0)
    u0 = rng.standard_normal((3, plate.n_points))
    u = solve_heat(plate, u0, np.linspace(0.0, 1.0, 11), [0.01, 0.02, 0.05], dirichlet=(), dt=0.01)
    mass = u @ (M.T @ np.ones(plate.n_points))  # (B, T): 1ᵀ M u
    np.testing.assert_allclose(mass, mass[:, :1] * np.ones((1, 11)), rtol=0, atol=1e-13)
    assert np.abs(u[:, -1]).max() < 0.5 * np.abs(u0).max()  # but it did diffuse
    # with a source: ∫u grows by t·∫f exactly (1ᵀK = 0)
    f = 1.0 + plate.points[:, 0]
    us = solve_heat(plate, u0[0], [0.0, 0.5, 1.0], 0.02, dirichlet=None, dt=0.05, source=f)
    ms = us @ (M.T @ np.ones(plate.n_points))
    np.testing.assert_allclose(ms - ms[0], np.array([0.0, 0.5, 1.0]) * np.sum(M @ f), atol=1e-12)


def test_dirichlet_nodes_stay_zero_and_the_steady_state_is_reached(plate, plate_mk):
    M, K = plate_mk
    n = plate.n_points
    fixed = np.unique(np.concatenate([plate.point_tags[t] for t in OUTER]))
    free = np.setdiff1d(np.arange(n), fixed)
    u0 = np.ones(n)  # non-zero on the Dirichlet nodes: replaced by 0, also at t = 0
    f = np.ones(n)
    u = solve_heat(plate, u0, [0.0, 5.0, 60.0], 0.05, dt=0.5, theta=1.0, source=f)
    assert np.all(u[:, fixed] == 0.0)
    np.testing.assert_array_equal(u[0, free], 1.0)
    steady = np.zeros(n)
    steady[free] = np.linalg.solve(0.05 * K[free][:, free].toarray(), (M @ f)[free])
    np.testing.assert_allclose(u[-1], steady, atol=1e-8 * steady.max())
    # the hole is insulated, not clamped: u is well above zero there
    assert u[-1, plate.point_tags["hole"]].min() > 0.3 * steady.max()


def test_batches_grouped_by_kappa_and_velocity_match_single_solves(plate):
    rng = np.random.default_rng(1)
    u0 = rng.random((4, plate.n_points))
    kappa = np.array([0.01, 0.02, 0.01, 0.02])
    vel = np.array([[0.2, 0.0], [0.0, 0.0], [0.2, 0.0], [-0.1, 0.3]])
    t = [0.1, 0.25, 0.5]  # unequal output intervals: two step sizes
    u = solve_heat(plate, u0, t, kappa, velocity=vel, dt=0.02)
    assert u.shape == (4, 3, plate.n_points)
    for i in range(4):
        one = solve_heat(plate, u0[i], t, float(kappa[i]), velocity=vel[i], dt=0.02)
        np.testing.assert_allclose(u[i], one, rtol=0, atol=1e-13)
    assert not np.allclose(u[0], u[2]) and not np.allclose(u[1], u[3])


# ---- input validation --------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors(plate):
    n = plate.n_points
    u0 = np.zeros((2, n))
    t = [0.0, 0.1]
    with pytest.raises(
        ValueError, match=r"unknown boundary tag.*'inlet'.*\['bottom', 'hole', 'left', 'right', 'top'\]"
    ):
        solve_heat(plate, u0, t, 0.01, dirichlet=("left", "inlet"), dt=0.01)
    with pytest.raises(ValueError, match=r"u0 must have shape \(B, 778\)"):
        solve_heat(plate, np.zeros((2, n - 1)), t, 0.01, dt=0.01)
    with pytest.raises(ValueError, match="kappa must be positive"):
        solve_heat(plate, u0, t, [0.01, 0.0], dt=0.01)
    with pytest.raises(ValueError, match="kappa must be positive"):
        solve_heat(plate, u0, t, -1.0, dt=0.01)
    with pytest.raises(ValueError, match=r"kappa must be a scalar or shape \(2\)"):
        solve_heat(plate, u0, t, [0.01, 0.02, 0.03], dt=0.01)
    with pytest.raises(ValueError, match=r"velocity must be shape \(2,\) or \(2, 2\)"):
        solve_heat(plate, u0, t, 0.01, velocity=(1.0, 0.0, 0.0), dt=0.01)
    with pytest.raises(ValueError, match="strictly increasing"):
        solve_heat(plate, u0, [0.0, 0.2, 0.2], 0.01, dt=0.01)
    with pytest.raises(ValueError, match="strictly increasing"):
        solve_heat(plate, u0, [0.3, 0.1], 0.01, dt=0.01)
    with pytest.raises(ValueError, match="t >= 0"):
        solve_heat(plate, u0, [-0.1, 0.1], 0.01, dt=0.01)
    with pytest.raises(ValueError, match="dt must be a positive"):
        solve_heat(plate, u0, t, 0.01, dt=0.0)
    with pytest.raises(ValueError, match=r"theta must be a number in \[0.5, 1\]"):
        solve_heat(plate, u0, t, 0.01, dt=0.01, theta=0.3)
    with pytest.raises(ValueError, match="source must have shape"):
        solve_heat(plate, u0, t, 0.01, dt=0.01, source=np.ones(5))
    with pytest.raises(ValueError, match="non-finite"):
        solve_heat(plate, np.full((2, n), np.nan), t, 0.01, dt=0.01)
    with pytest.raises(ValueError, match=r"each flow field must be a finite \(778, 2\) array"):
        solve_heat(plate, u0, t, 0.01, dt=0.01, flow=(np.zeros((n, 2)), np.zeros((5, 2))))
    with pytest.raises(ValueError, match="flow must be a pair"):
        solve_heat(plate, u0, t, 0.01, velocity=(1.0, 0.0), dt=0.01, flow=(np.zeros((n, 2)),))
    quads = Grid((3, 3), ((0.0, 1.0), (0.0, 1.0))).to_mesh()
    with pytest.raises(ValueError, match="linear triangles only"):
        heat_matrices(quads)
    with pytest.raises(ValueError, match="degenerate"):
        heat_matrices(Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), [("triangle", np.array([[0, 1, 2]]))]))
