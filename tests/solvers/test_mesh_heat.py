"""Tests for the ``mesh_heat`` trajectory dataset (P1 FE heat / advection–diffusion on the plate mesh)."""

from __future__ import annotations

import numpy as np
import pytest

import sciml.components  # noqa: F401  (registration)
from sciml.data import H5Dataset
from sciml.data.operator import generate_problem_dataset
from sciml.mesh import Mesh
from sciml.registry import PROBLEMS
from sciml.solvers import heat_matrices, solve_heat
from sciml.solvers.fem_heat import cylinder_flow

OUTER = ("left", "right", "bottom", "top")


@pytest.fixture(scope="module")
def heat():
    problem = PROBLEMS.build("mesh_heat", {"nt": 11})
    return problem, problem.dataset.generate(3, np.random.default_rng(0))


def mnorms(M, u):
    """Mass-matrix norms of u (..., n)."""
    return np.sqrt(np.einsum("...i,...i->...", u, (M @ u.reshape(-1, u.shape[-1]).T).T.reshape(u.shape)))


def test_problem_declaration(heat):
    problem, _ = heat
    assert problem.name == "mesh_heat"
    assert problem.inputs == ("u",) and problem.outputs == ("u",)
    assert problem.params == {}
    spec = problem.dataset
    assert spec.roles == {"u": "output"} and spec.channels == {"u": ["u"]}
    s = spec.settings
    assert s["shape"] == (778,)
    assert s["mesh"] == "meshes/plate_hole.msh" and s["nt"] == 11 and s["t_end"] == 1.0
    assert s["dirichlet"] == list(OUTER) and s["advection"] is False and s["substeps"] == 4
    assert s["flow"] == "cylinder"
    assert s["kappa_range"] == [0.005, 0.02] and s["speed_range"] == [0.0, 0.5]
    assert {"bumps", "width_range", "amplitude_range"} <= set(s)


def test_trajectories_shapes_boundary_values_and_decay(heat):
    _, (fields, mesh, extras) = heat
    assert isinstance(mesh, Mesh) and mesh.n_points == 778
    u = fields["u"]
    assert u.shape == (3, 11, 778, 1) and np.all(np.isfinite(u))
    np.testing.assert_allclose(extras["times"], np.linspace(0.0, 1.0, 11))
    p = extras["params"]
    assert set(p) == {"kappa", "bx", "by"} and all(v.shape == (3,) for v in p.values())
    assert np.all((p["kappa"] >= 0.005) & (p["kappa"] <= 0.02)) and len(np.unique(p["kappa"])) == 3
    assert np.all(p["bx"] == 0) and np.all(p["by"] == 0)
    u = u[..., 0]
    fixed = np.unique(np.concatenate([mesh.point_tags[t] for t in OUTER]))
    assert np.all(u[:, :, fixed] == 0.0)
    assert np.abs(u[:, :, mesh.point_tags["hole"]]).max() > 0.01  # insulated hole: not clamped
    u0max = np.abs(u[:, 0]).max(1)
    assert np.all(u0max > 0.3)
    # maximum principle (P1 with a consistent mass matrix satisfies it only approximately)
    assert np.all(np.abs(u).max((1, 2)) <= u0max * (1 + 1e-3))
    assert u.min() >= -1e-3 * u0max.max()
    # the L2 (mass-matrix) norm decreases monotonically, but the solution is far from decayed at t_end
    M, _ = heat_matrices(mesh)
    norms = mnorms(M, u)
    assert np.all(np.diff(norms, axis=1) < 0)
    assert np.all(norms[:, -1] > 0.1 * norms[:, 0])
    assert np.all(norms[:, -1] < 0.95 * norms[:, 0])


def test_same_seed_same_data_and_advection_draws_velocities(heat):
    problem, (fields, _, _) = heat
    again = problem.dataset.generate(3, np.random.default_rng(0))[0]["u"]
    np.testing.assert_array_equal(fields["u"], again)
    adv = PROBLEMS.build("mesh_heat", {"nt": 6, "advection": True, "speed_range": [0.2, 0.4], "flow": "uniform"})
    f, mesh, extras = adv.dataset.generate(4, np.random.default_rng(1))
    p = extras["params"]
    speed = np.hypot(p["bx"], p["by"])
    assert np.all((speed >= 0.2) & (speed <= 0.4))
    assert len(np.unique(np.sign(p["bx"]) + 2 * np.sign(p["by"]))) > 1  # random directions
    assert f["u"].shape == (4, 6, 778, 1)
    assert np.all(np.abs(f["u"]).max((1, 2, 3)) <= np.abs(f["u"][:, 0]).max((1, 2)) * (1 + 1e-3))
    # the stored parameters are the ones the data were solved with, and the flow matters
    u = f["u"][..., 0]
    vel = np.stack([p["bx"], p["by"]], 1)
    again = solve_heat(mesh, u[:, 0], extras["times"], p["kappa"], velocity=vel, dt=0.2 / 4)
    np.testing.assert_allclose(again, u, rtol=0, atol=1e-12)
    still = solve_heat(mesh, u[:, 0], extras["times"], p["kappa"], dt=0.2 / 4)
    assert np.all(np.abs(still - u).max((1, 2)) > 0.05)
    cyl = PROBLEMS.build("mesh_heat", {"nt": 6, "advection": True, "speed_range": [0.2, 0.4], "flow": "cylinder"})
    assert cyl.dataset.settings["flow"] == "cylinder"
    fc, _, ec = cyl.dataset.generate(4, np.random.default_rng(1))
    np.testing.assert_array_equal(ec["params"]["bx"], p["bx"])
    flow = cylinder_flow(mesh.points, (0.5, 0.5), 0.2)
    again = solve_heat(mesh, fc["u"][:, 0, :, 0], ec["times"], p["kappa"], velocity=vel, dt=0.2 / 4, flow=flow)
    np.testing.assert_allclose(again, fc["u"][..., 0], rtol=0, atol=1e-10)
    assert np.abs(fc["u"] - f["u"]).max() > 0.01


def test_initial_condition_vanishes_smoothly_at_the_dirichlet_walls():
    """One bump of amplitude 1 times the taper tanh(d / 0.1), d the distance to the outer square."""
    problem = PROBLEMS.build(
        "mesh_heat", {"nt": 2, "t_end": 0.01, "substeps": 1, "bumps": [1, 1], "amplitude_range": [1.0, 1.0]}
    )
    f, mesh, _ = problem.dataset.generate(20, np.random.default_rng(4))
    u0 = f["u"][:, 0, :, 0]
    x, y = mesh.points.T
    d = np.minimum.reduce([x, 1 - x, y, 1 - y])
    assert np.all(np.abs(u0) <= np.tanh(d / 0.1) + 1e-12)
    assert np.all(np.abs(u0).max(1) > 0.2)


def test_other_dirichlet_sets(heat):
    hole = PROBLEMS.build("mesh_heat", {"nt": 3, "dirichlet": ["hole"]})
    f, mesh, _ = hole.dataset.generate(2, np.random.default_rng(2))
    u = f["u"][..., 0]
    assert np.all(u[:, :, mesh.point_tags["hole"]] == 0.0)
    assert np.abs(u[:, :, mesh.point_tags["left"]]).max() > 0  # the outer square is insulated now
    insulated = PROBLEMS.build("mesh_heat", {"nt": 5, "dirichlet": []})
    f, mesh, _ = insulated.dataset.generate(2, np.random.default_rng(3))
    M, _ = heat_matrices(mesh)
    mass = f["u"][..., 0] @ (M.T @ np.ones(mesh.n_points))
    np.testing.assert_allclose(mass, mass[:, :1] * np.ones((1, 5)), rtol=1e-12)


def test_end_to_end_hdf5(heat, tmp_path):
    problem, (fields, _, extras) = heat
    path = generate_problem_dataset(problem, tmp_path / "h.h5", 3, 0)
    ds = H5Dataset(path)
    assert isinstance(ds.support, Mesh) and ds.support.n_points == 778
    assert set(ds.support.point_tags) == {"left", "right", "bottom", "top", "hole"}
    np.testing.assert_allclose(ds.times, np.linspace(0.0, 1.0, 11))
    assert set(ds.params) == {"kappa", "bx", "by"}
    np.testing.assert_allclose(ds.load("kappa"), extras["params"]["kappa"])
    u = ds.load("u")
    assert u.shape == (3, 11, 778, 1) and ds.outputs == ["u"] and ds.inputs == []
    np.testing.assert_allclose(u, fields["u"], rtol=1e-6, atol=1e-7)  # float32 storage
    assert ds.attrs["generator"]["nt"] == 11 and ds.attrs["generator"]["dirichlet"] == list(OUTER)
    assert generate_problem_dataset(problem, path, 3, 0) == path  # cached: same settings
    other = PROBLEMS.build("mesh_heat", {"nt": 11, "substeps": 2})
    with pytest.raises(ValueError, match="substeps"):
        generate_problem_dataset(other, path, 3, 0)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"nt": 1}, "nt must be an integer >= 2"),
        ({"t_end": 0.0}, "t_end must be a finite number > 0"),
        ({"substeps": 0}, "substeps must be an integer >= 1"),
        ({"kappa_range": [0.02, 0.01]}, "must have low <= high"),
        ({"kappa_range": [0.0, 0.01]}, r"kappa_range\[0\] must be a finite number > 0"),
        ({"kappa_range": 0.01}, "kappa_range must be a pair"),
        ({"speed_range": [-0.1, 0.5]}, r"speed_range\[0\] must be a finite number >= 0"),
        ({"bumps": [0, 3]}, r"bumps\[0\] must be an integer >= 1"),
        ({"width_range": [0.1, 0.05]}, "must have low <= high"),
        ({"advection": "yes"}, "advection must be true or false"),
        ({"flow": "potential"}, "flow must be 'uniform' or 'cylinder'"),
        ({"dirichlet": "left"}, "dirichlet must be a list"),
        (
            {"dirichlet": ["left", "inlet"]},
            r"unknown boundary tag.*'inlet'.*\['bottom', 'hole', 'left', 'right', 'top'\]",
        ),
        ({"mesh": "meshes/nope.msh"}, "mesh file 'meshes/nope.msh' not found"),
        ({"params": {"kappa": 0.1}}, "has no parameter 'kappa'"),
    ],
)
def test_bad_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        PROBLEMS.build("mesh_heat", options)
