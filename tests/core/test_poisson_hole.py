"""Tests for ``poisson_hole``: Poisson on the unit square minus a random star-shaped hole, a gmsh mesh per sample."""

from __future__ import annotations

import numpy as np
import pytest

import sciml.components  # noqa: F401  (registration)
from sciml.config import OptionError
from sciml.data import H5Dataset
from sciml.data.hdf5 import collate_samples
from sciml.data.operator import generate_problem_dataset, open_problem_dataset
from sciml.mesh import Mesh
from sciml.problems.poisson_hole import hole_radius
from sciml.registry import PROBLEMS
from sciml.solvers.fem_poisson import p1_basis

N, SEED = 4, 3


@pytest.fixture(scope="module")
def problem():
    return PROBLEMS.build("poisson_hole", {})  # default h = 0.05


@pytest.fixture(scope="module")
def samples(problem):
    return problem.dataset.generate(N, np.random.default_rng(SEED))


def params_of(extras, i: int) -> tuple[float, float, float, np.ndarray, np.ndarray]:
    p = extras["params"]
    k = sum(1 for name in p if name.startswith("a"))
    return (
        p["r0"][i],
        p["cx"][i],
        p["cy"][i],
        np.array([p[f"a{j}"][i] for j in range(1, k + 1)]),
        np.array([p[f"b{j}"][i] for j in range(1, k + 1)]),
    )


def test_declaration(problem):
    spec = problem.dataset
    assert problem.name == "poisson_hole" and problem.inputs == ("a",) and problem.outputs == ("u",)
    assert spec.roles == {"a": "input", "u": "output"} and spec.channels == {"a": ["f", "dist"], "u": ["u"]}
    assert "shape" not in spec.settings  # one mesh per sample: no shared space shape
    assert spec.settings["h"] == 0.05 and spec.settings["modes"] == 3 and spec.settings["r0_range"] == [0.15, 0.25]


def test_each_sample_has_its_own_mesh(samples):
    fields, meshes, extras = samples
    assert isinstance(meshes, list) and len(meshes) == N and all(isinstance(m, Mesh) for m in meshes)
    sizes = [m.n_points for m in meshes]
    assert len(set(sizes)) == N, sizes  # (for this seed; two random holes could share a count by chance)
    assert all(500 <= n <= 1500 for n in sizes), sizes
    for m, a, u in zip(meshes, fields["a"], fields["u"]):
        assert a.shape == (m.n_points, 2) and u.shape == (m.n_points, 1)
        assert np.all(np.isfinite(a)) and np.all(np.isfinite(u))
        assert [t for t, _ in m.cells] == ["triangle"] and set(m.point_tags) == {"outer", "hole"}
        p1_basis(m)  # every node belongs to a triangle (the spline's control points were dropped)
        assert np.abs(u).max() > 1e-3  # a real solution, not zeros


def test_boundary_values_distance_and_hole_radius(samples):
    fields, meshes, extras = samples
    for i, (m, a, u) in enumerate(zip(meshes, fields["a"], fields["u"])):
        outer, hole = m.point_tags["outer"], m.point_tags["hole"]
        x = m.points
        on_side = np.isclose(x, 0.0, atol=1e-12) | np.isclose(x, 1.0, atol=1e-12)
        assert np.array_equal(np.sort(outer), np.flatnonzero(on_side.any(1)))  # exactly the nodes on the square
        assert np.all(u[outer] == 0.0) and np.all(u[hole] == 0.0)
        dist = a[:, 1]
        assert np.all(dist >= 0.0) and np.all(dist[hole] == 0.0)
        assert np.all(dist[np.setdiff1d(np.arange(m.n_points), hole)] > 0.0)
        r0, cx, cy, ak, bk = params_of(extras, i)
        assert 0.15 <= r0 <= 0.25 and max(abs(cx - 0.5), abs(cy - 0.5)) <= 0.05
        assert np.hypot(ak, bk).sum() <= 0.3 + 1e-12
        theta = np.linspace(0.0, 2 * np.pi, 2001)
        r = hole_radius(theta, r0, ak, bk)
        assert r.min() >= 0.105 - 1e-12 and r.max() <= 0.325 + 1e-12  # within the stated [0.1, 0.35]
        # the hole's nodes lie on r(θ) (the spline through 64 of its points deviates by ~1e-5)
        rel = x[hole] - (cx, cy)
        radius = hole_radius(np.arctan2(rel[:, 1], rel[:, 0]), r0, ak, bk)
        np.testing.assert_allclose(np.hypot(rel[:, 0], rel[:, 1]), radius, atol=2e-4)
        # dist is the distance to the hole: at most the distance to the curve's points, and the
        # nearest point of the curve is no further than dist plus the polygon's sagitta
        curve = np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)])
        d_curve = np.linalg.norm(x[:, None] - curve[None], axis=-1).min(1)
        np.testing.assert_allclose(dist, d_curve, atol=2e-3)


def test_source_channel_is_the_solved_source(samples):
    """f stored at the nodes is the source that u solves: -Δu_h = f holds weakly, checked as the
    residual of the P1 system with the stored nodal f (second-order consistent: small, not zero)."""
    from skfem import BilinearForm, asm
    from skfem.helpers import dot, grad

    fields, meshes, _ = samples
    m, a, u = meshes[0], fields["a"][0], fields["u"][0][:, 0]
    basis = p1_basis(m)
    K = asm(BilinearForm(lambda p, q, _: dot(grad(p), grad(q))), basis)
    M = asm(BilinearForm(lambda p, q, _: p * q), basis)
    free = np.setdiff1d(np.arange(m.n_points), np.concatenate(list(m.point_tags.values())))
    r = (K @ u - M @ a[:, 0])[free]
    assert np.abs(r).max() < 0.05 * np.abs(M @ a[:, 0])[free].max()
    assert np.abs(a[:, 0]).max() > 1.0  # heights ~ U[-10, 10]


def test_same_seed_same_dataset(problem, samples):
    fields, meshes, extras = samples
    again_fields, again_meshes, again_extras = problem.dataset.generate(N, np.random.default_rng(SEED))
    for m, m2 in zip(meshes, again_meshes):
        # same seed, same topology: gmsh meshes deterministically (one thread, fixed Mesh.RandomSeed)
        assert np.array_equal(m.cells[0][1], m2.cells[0][1])
        assert all(np.array_equal(m.point_tags[t], m2.point_tags[t]) for t in m.point_tags)
        # gmsh does not promise bit-identical coordinates across builds and CPUs (its optimizer's
        # floating-point summation order), so coordinates and values are compared to 1e-12, far below h
        np.testing.assert_allclose(m.points, m2.points, rtol=0, atol=1e-12)
    for name in fields:
        for v, v2 in zip(fields[name], again_fields[name]):
            np.testing.assert_allclose(v, v2, rtol=0, atol=1e-12)
    for k, v in extras["params"].items():
        np.testing.assert_array_equal(v, again_extras["params"][k])
    other = problem.dataset.generate(1, np.random.default_rng(SEED + 1))[1][0]
    assert other.n_points != meshes[0].n_points or not np.allclose(other.points, meshes[0].points)


def test_gmsh_is_quiet_and_left_as_found(capfd):
    import gmsh

    small = PROBLEMS.build("poisson_hole", {"h": 0.1})
    small.dataset.generate(1, np.random.default_rng(0))
    assert not gmsh.isInitialized()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    gmsh.initialize(readConfigFiles=False, interruptible=False)  # a caller's own gmsh session
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("Mesh.Algorithm", 5)
        gmsh.model.add("mine")
        small.dataset.generate(1, np.random.default_rng(0))
        assert gmsh.isInitialized() and gmsh.model.getCurrent() == "mine"
        assert gmsh.option.getNumber("Mesh.Algorithm") == 5
    finally:
        gmsh.finalize()


def test_generated_file_round_trip(tmp_path):
    """generate_problem_dataset writes per-sample meshes (format 2); H5Dataset reads them back."""
    problem = PROBLEMS.build("poisson_hole", {"h": 0.1, "modes": 2})
    path = tmp_path / "holes.h5"
    generate_problem_dataset(problem, path, 3, 7)
    fields, meshes, extras = problem.dataset.generate(3, np.random.default_rng(7))
    ds = open_problem_dataset(problem, str(path), 3, 7)  # checks the file against the problem and its settings
    assert isinstance(ds, H5Dataset) and ds.per_sample and len(ds) == 3
    assert ds.attrs["format_version"] == 2 and ds.attrs["problem"] == "poisson_hole"
    assert ds.attrs["generator"]["h"] == 0.1 and ds.attrs["generator"]["modes"] == 2
    assert ds.inputs == ["a"] and ds.outputs == ["u"] and ds.channels == {"a": ["f", "dist"], "u": ["u"]}
    assert sorted(ds.params) == ["a1", "a2", "b1", "b2", "cx", "cy", "r0"]
    assert list(ds.support.sizes) == [m.n_points for m in meshes]
    for i, m in enumerate(meshes):
        back = ds.support[i]
        np.testing.assert_array_equal(back.points, m.points)  # float64 support
        np.testing.assert_array_equal(back.cells[0][1], m.cells[0][1])
        assert {t: list(v) for t, v in back.point_tags.items()} == {t: list(v) for t, v in m.point_tags.items()}
        item = ds[i]
        for name in ("a", "u"):  # fields are stored as float32
            np.testing.assert_allclose(item[name].numpy(), fields[name][i], rtol=1e-6, atol=1e-7)
        assert float(item["r0"]) == pytest.approx(extras["params"]["r0"][i], rel=1e-6)
        assert item["u"][m.point_tags["hole"]].abs().max() == 0.0
    batch = collate_samples([ds[0], ds[1], ds[2]])
    assert batch["a"].shape == (3, max(ds.support.sizes), 2) and batch["mask"].sum(1).tolist() == list(ds.support.sizes)


@pytest.mark.parametrize(
    "options, option",
    [
        ({"h": 0}, "h"),
        ({"h": "fine"}, "h"),
        ({"h": 0.2}, "h"),  # coarser than the smallest hole
        ({"r0_range": [0.3, 0.2]}, "r0_range"),
        ({"r0_range": [0.0, 0.2]}, "r0_range"),
        ({"r0_range": 0.2}, "r0_range"),
        ({"r0_range": [0.15, 0.4]}, "r0_range"),  # the hole would reach the square
        ({"modes": -1}, "modes"),
        ({"modes": 2.5}, "modes"),
        ({"perturbation": 1.0}, "perturbation"),
        ({"perturbation": -0.1}, "perturbation"),
        ({"centre_shift": -0.01}, "centre_shift"),
        ({"centre_shift": 0.2}, "r0_range"),
        ({"bumps": [0, 2]}, "bumps"),
        ({"bumps": [3, 2]}, "bumps"),
        ({"width_range": [0.0, 0.1]}, "width_range"),
        ({"height_range": [1.0, float("nan")]}, "height_range"),
        ({"height_range": [1.0, True]}, "height_range"),
        ({"params": {"k": 1.0}}, "params"),
    ],
)
def test_bad_options_raise_one_line(options, option):
    with pytest.raises(OptionError) as info:
        PROBLEMS.build("poisson_hole", options)
    msg = str(info.value)
    assert info.value.option == option and "\n" not in msg, msg
    if option != "params":  # (resolve_params words its own message)
        assert msg.startswith("poisson_hole: ") and option in msg, msg
