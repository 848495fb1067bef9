"""Domains: deepxde import hygiene, samplers, named boundaries, MeshDomain."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sciml.geometry import SAMPLERS, Domain, MeshDomain, dde, unit_samples
from sciml.mesh import Mesh

ROOT = Path(__file__).resolve().parents[2]


def test_deepxde_import_is_silent_and_keeps_torch_defaults():
    code = (
        "import torch; torch.set_default_dtype(torch.float64)\n"
        "from sciml.geometry import dde; dde()\n"
        "assert torch.get_default_dtype() == torch.float64, torch.get_default_dtype()\n"
        "assert str(torch.get_default_device()) == 'cpu'\n"
        "from torch.overrides import _get_current_function_mode_stack as s; assert not s(), s()\n"
        "print('OK')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "OK\n"  # no banner on stdout


@pytest.mark.parametrize("method", SAMPLERS)
def test_unit_samplers_fill_the_cube(method):
    x = unit_samples(256, 2, method, np.random.default_rng(0))
    assert x.shape == (256, 2) and (x >= 0).all() and (x <= 1).all()
    # every quadrant gets roughly a quarter of the points
    q = np.histogram2d(x[:, 0], x[:, 1], bins=2, range=[[0, 1], [0, 1]])[0]
    assert q.min() > 40


def test_hammersley_matches_definition():
    x = unit_samples(4, 2, "hammersley", None)
    np.testing.assert_allclose(x[:, 0], [0.2, 0.4, 0.6, 0.8])
    np.testing.assert_allclose(x[:, 1], [0.5, 0.25, 0.75, 0.125])  # base-2 radical inverse of 1..4


def spacetime_interval():
    g = dde().geometry
    return Domain(g.Interval(-1, 1), {"left": lambda x: np.isclose(x[:, 0], -1),
                                      "right": lambda x: np.isclose(x[:, 0], 1)}, time=(0, 2))


def test_space_time_sampling_and_named_boundaries():
    d = spacetime_interval()
    assert d.names == ("x", "t") and d.ndim == 2
    xi = d.sample_interior(500, "sobol", rng=0)
    assert d.contains(xi).all()
    xl = d.sample_boundary(40, "left", rng=1)
    assert np.all(xl[:, 0] == -1) and (xl[:, 1] >= 0).all() and (xl[:, 1] <= 2).all()
    xb = d.sample_boundary(200, rng=2)
    assert set(np.unique(xb[:, 0])) == {-1.0, 1.0}
    x0 = d.sample_initial(30, rng=3)
    assert np.all(x0[:, 1] == 0)
    np.testing.assert_array_equal(d.sample_interior(10, "pseudo", rng=5), d.sample_interior(10, "pseudo", rng=5))
    with pytest.raises(KeyError, match="unknown boundary 'top'"):
        d.sample_boundary(3, "top")
    np.testing.assert_allclose(d.normals(np.array([[-1.0, 0.3], [1.0, 0.1]])), [[-1.0], [1.0]])


def test_csg_disk_minus_rectangle_rejection_sampling():
    g = dde().geometry
    shape = g.Disk([0, 0], 1) - g.Rectangle([0, 0], [2, 2])
    d = Domain(shape)
    x = d.sample_interior(400, rng=0)
    assert np.all(np.linalg.norm(x, axis=1) <= 1) and not np.any((x[:, 0] > 0) & (x[:, 1] > 0))
    xb = d.sample_boundary(50, rng=0)
    assert xb.shape == (50, 2)


def test_mesh_domain_samples_inside_the_plate_with_hole():
    mesh = Mesh.read(ROOT / "meshes" / "plate_hole.msh")
    d = MeshDomain(mesh)
    x = d.sample_interior(2000, rng=0)
    r = np.linalg.norm(x - 0.5, axis=1)
    assert (r >= 0.2 - 0.01).all() and ((x >= 0) & (x <= 1)).all()
    # uniform density: fraction in the left half equals its area share (symmetric plate) within noise
    assert abs((x[:, 0] < 0.5).mean() - 0.5) < 0.04
    assert d.contains(x).all()
    assert not d.contains(np.array([[0.5, 0.5], [1.5, 0.5]])).any()
    xh = d.sample_boundary(100, "hole", rng=0)
    np.testing.assert_allclose(np.linalg.norm(xh - 0.5, axis=1), 0.2, atol=2e-3)
    xl = d.sample_boundary(20, "left", rng=0)
    np.testing.assert_allclose(xl[:, 0], 0.0, atol=1e-12)
    with pytest.raises(KeyError, match="unknown boundary"):
        d.sample_boundary(3, "inlet")
