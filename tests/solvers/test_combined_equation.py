"""The MP-PDE combined-equation problem: trajectory datasets from the WENO5 solver."""

import numpy as np
import pytest

import sciml.components  # noqa: F401  (registration)
from sciml.data import H5Dataset
from sciml.data.operator import generate_problem_dataset
from sciml.mesh import Grid, Mesh
from sciml.problems.combined_equation import sample_coefficients
from sciml.registry import PROBLEMS


def build(**options):
    return PROBLEMS.build("combined_equation", options)


@pytest.fixture(scope="module")
def e2():
    problem = PROBLEMS.build("combined_equation", {"experiment": "E2", "nx": 50, "nt": 20})
    return problem, problem.dataset.generate(4, np.random.default_rng(0))


def test_uniform_e2_trajectories(e2):
    problem, (fields, support, extras) = e2
    assert problem.name == "combined_equation" and problem.inputs == ("u",) and problem.outputs == ("u",)
    spec = problem.dataset
    assert spec.roles == {"u": "output"} and spec.channels == {"u": ["u"]}
    keys = {"experiment", "nx", "nx_fine", "nt", "t_end", "L", "points", "irregular_seed", "shape"}
    assert keys <= set(spec.settings)
    assert spec.settings["shape"] == (50,) and spec.settings["t_end"] == 4.0 and spec.settings["L"] == 16.0
    u = fields["u"]
    assert u.shape == (4, 20, 50, 1) and np.all(np.isfinite(u))
    np.testing.assert_allclose(extras["times"], np.linspace(0.0, 4.0, 20))
    assert isinstance(support, Grid) and support.shape == (50,) and support.periodic == (True,)
    assert support.bounds == ((0.0, 16.0),)

    # u(0) is the exact average of δ(0, ·) over the coarse cells centred at the grid nodes
    forcing, alpha, beta, gamma = sample_coefficients(4, np.random.default_rng(0), problem.params)
    x = support.axes()[0]
    np.testing.assert_allclose(u[:, 0, :, 0], forcing.values(0.0, x, dx=16.0 / 50), rtol=0, atol=1e-12)
    assert np.abs(u[:, 0, :, 0] - forcing.values(0.0, x + 0.16, dx=16.0 / 50)).max() > 1e-2  # a shift would show

    p = extras["params"]
    assert set(p) == {"alpha", "beta", "gamma"} and all(v.shape == (4,) for v in p.values())
    np.testing.assert_array_equal(p["alpha"], 1.0)
    np.testing.assert_array_equal(p["gamma"], 0.0)
    assert np.all((p["beta"] >= 0) & (p["beta"] <= 0.2)) and np.ptp(p["beta"]) > 0
    np.testing.assert_array_equal(p["beta"], beta)
    # the source has zero spatial mean, so every trajectory keeps the mean of u(0)
    np.testing.assert_allclose(u.mean(axis=(2, 3)), u[:, :1].mean(axis=(2, 3)).repeat(20, 1), rtol=0, atol=1e-12)
    assert np.abs(u[:, -1] - u[:, 0]).max() > 0.1  # the solution does evolve


def test_e3_and_e1_coefficient_ranges():
    problem = build(experiment="E3", nx=40, nt=5)
    assert problem.dataset.settings["t_end"] == 2.0
    fields, _, extras = problem.dataset.generate(6, np.random.default_rng(1))
    assert fields["u"].shape == (6, 5, 40, 1) and np.all(np.isfinite(fields["u"]))
    np.testing.assert_allclose(extras["times"], np.linspace(0.0, 2.0, 5))
    p = extras["params"]
    for name, hi in (("alpha", 3.0), ("beta", 0.4), ("gamma", 1.0)):
        assert np.all((p[name] >= 0) & (p[name] <= hi)) and np.ptp(p[name]) > 0, name
    e1 = build(experiment="E1", nt=3)
    _, _, extras = e1.dataset.generate(2, np.random.default_rng(2))
    assert np.all(extras["params"]["alpha"] == 1) and not extras["params"]["beta"].any()
    assert not extras["params"]["gamma"].any()


def test_irregular_points(e2):
    problem = build(experiment="E2", nx=50, nt=20, points="irregular", irregular_seed=3)
    fields, support, extras = problem.dataset.generate(4, np.random.default_rng(0))
    assert isinstance(support, Mesh) and support.points.shape == (50, 1)
    x = support.points[:, 0]
    assert np.all(np.diff(x) > 0) and x[0] >= 0 and x[-1] < 16.0
    hf = 16.0 / 200
    np.testing.assert_allclose(x / hf, np.round(x / hf), atol=1e-9)  # fine cell centres i·L/nx_fine
    ((ctype, lines),) = support.cells
    assert ctype == "line"
    np.testing.assert_array_equal(lines, np.stack([np.arange(49), np.arange(1, 50)], 1))
    assert problem.periodic == {"x": 16.0}
    assert fields["u"].shape == (4, 20, 50, 1)
    forcing, *_ = sample_coefficients(4, np.random.default_rng(0), problem.params)
    np.testing.assert_allclose(fields["u"][:, 0, :, 0], forcing.values(0.0, x, dx=hf), rtol=0, atol=1e-12)
    # the stored values are the fine solution at the chosen cells: the uniform problem at nx = nx_fine
    # (same fine cells, same samples) holds them all
    fine, _, _ = build(experiment="E2", nx=200, nt=20).dataset.generate(4, np.random.default_rng(0))
    pick = np.round(x / hf).astype(int)
    np.testing.assert_allclose(fields["u"], fine["u"][:, :, pick], rtol=0, atol=1e-12)
    np.testing.assert_allclose(extras["params"]["beta"], e2[1][2]["params"]["beta"])
    # the point set depends on irregular_seed only
    quick = {"nx": 50, "nt": 2, "points": "irregular", "params": {"t_end": 0.01}}
    other = build(**quick, irregular_seed=4).dataset.generate(1, np.random.default_rng(0))
    assert not np.array_equal(other[1].points, support.points)
    again = build(**quick, irregular_seed=3).dataset.generate(1, np.random.default_rng(9))
    np.testing.assert_array_equal(again[1].points, support.points)


def test_dataset_round_trip(tmp_path):
    problem = build(experiment="E2", nx=50, nt=20)
    path = generate_problem_dataset(problem, tmp_path / "ce.h5", 4, 0)
    ds = H5Dataset(path)
    try:
        np.testing.assert_allclose(ds.times, np.linspace(0.0, 4.0, 20))
        assert set(ds.params) == {"alpha", "beta", "gamma"} and all(v.shape == (4,) for v in ds.params.values())
        u = ds.load("u")
        assert u.shape == (4, 20, 50, 1)
        assert isinstance(ds.support, Grid) and ds.support.shape == (50,)
        fields, _, extras = problem.dataset.generate(4, np.random.default_rng(0))
        np.testing.assert_allclose(u, fields["u"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ds.params["beta"], extras["params"]["beta"])
    finally:
        ds.close()


def test_bad_options_raise():
    with pytest.raises(ValueError, match="unknown experiment 'E4'; valid: E1, E2, E3"):
        build(experiment="E4")
    with pytest.raises(ValueError, match=r"not a multiple of nx = 30.*valid nx.*\b40\b"):
        build(nx=30)
    with pytest.raises(ValueError, match="points must be 'uniform' or 'irregular'"):
        build(points="random")
    with pytest.raises(ValueError, match="nt must be an integer >= 2"):
        build(nt=1)
    with pytest.raises(ValueError, match="exceeds nx_fine"):
        build(nx=400)
    with pytest.raises(ValueError, match="nx must be an integer"):
        build(nx=50.0)
    with pytest.raises(ValueError, match="has no parameter 'nu'"):
        build(params={"nu": 0.1})
    with pytest.raises(ValueError, match="beta_min = 0.3 exceeds beta_max = 0.2"):
        build(params={"beta_min": 0.3})
    with pytest.raises(ValueError, match="outside its range"):
        build(params={"gamma_max": -1.0})
    with pytest.raises(ValueError, match="n_samples"):
        build(nt=2).dataset.generate(0, np.random.default_rng(0))
