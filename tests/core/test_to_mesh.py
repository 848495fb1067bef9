"""Domain.to_mesh(h) on non-rectangular domains, and problems scored against an exact solution on
a mesh of their own domain (reference field from ``exact``, eval/n_points, VTU output)."""

import numpy as np
import pytest
import torch

from sciml.geometry import Domain, dde, named, polygon
from sciml.mesh import Mesh
from sciml.problems.base import Condition, Problem

L_VERTS = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]  # [-1,1]^2 minus the quadrant x > 0, y < 0


def _g():
    return dde().geometry


def _seg_dist(x, a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = np.clip((x - a) @ (b - a) / np.dot(b - a, b - a), 0, 1)
    return np.linalg.norm(x - (a + t[:, None] * (b - a)), axis=1)


def _shapes():
    g = _g()
    r = 0.4
    square = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    edges_sq = [(square[i], square[(i + 1) % 4]) for i in range(4)]
    edges_l = [(L_VERTS[i], L_VERTS[(i + 1) % 6]) for i in range(6)]
    circle = lambda x: np.abs(np.linalg.norm(x, axis=1) - r)
    return {
        # name: (domain, exact area, boundary pieces as distance functions)
        "L_polygon": (Domain(polygon(L_VERTS)), 3.0, [lambda x, e=e: _seg_dist(x, *e) for e in edges_l]),
        "L_difference": (
            Domain(g.Rectangle([-1, -1], [1, 1]) - g.Rectangle([0, -1], [1, 0])),
            3.0,
            [lambda x, e=e: _seg_dist(x, *e) for e in edges_l],
        ),
        "square_minus_disk": (
            Domain(g.Rectangle([-1, -1], [1, 1]) - named(g.Disk([0, 0], r), "hole")),
            4 - np.pi * r**2,
            [lambda x, e=e: _seg_dist(x, *e) for e in edges_sq] + [circle],
        ),
        "disk": (
            Domain(g.Disk([0.5, -0.25], 1.0)),
            np.pi,
            [lambda x: np.abs(np.linalg.norm(x - [0.5, -0.25], axis=1) - 1.0)],
        ),
    }


@pytest.mark.parametrize("name", list(_shapes()))
def test_triangle_mesh_covers_the_domain(name):
    domain, area, pieces = _shapes()[name]
    diam = float(np.linalg.norm(np.ptp(domain.bounds, axis=1)))
    errs = []
    for h in (0.2, 0.1, 0.05):
        mesh = domain.to_mesh(h)
        assert isinstance(mesh, Mesh) and [t for t, _ in mesh.cells] == ["triangle"]
        cent, meas = mesh.cell_measures()
        assert np.all(meas > 0)
        assert domain.geometry.inside(cent).all()  # no centroid outside (holes respected)
        errs.append(abs(meas.sum() - area))
        assert errs[-1] <= 2 * h**2, (h, meas.sum(), area)  # O(h²); exact for polygons
        bnd = mesh.points[mesh.point_tags["boundary"]]
        dist = np.min([p(bnd) for p in pieces], axis=0)
        assert dist.max() <= 1e-6 * diam  # boundary vertices on the boundary
        for p in pieces:  # every boundary piece has vertices, about one every h
            on = np.count_nonzero(p(bnd) <= 1e-6 * diam)
            assert on >= 2
        # the mesh's boundary edges are exactly the tagged vertices' edges
        tri = mesh.cells[0][1]
        e = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
        u, c = np.unique(e, axis=0, return_counts=True)
        assert set(np.unique(u[c == 1])) <= set(mesh.point_tags["boundary"].tolist())
    if errs[0] > 1e-12:  # curved boundaries: the area error falls like h²
        assert errs[1] < errs[0] / 3 and errs[2] < errs[1] / 3, errs
    else:
        assert max(errs) < 1e-12, errs


def test_named_boundaries_become_point_tags_and_interval_grid():
    g = _g()
    domain = Domain(
        polygon([(0, 0), (4, 0), (4, 1), (0, 1)], edge_names=["wall", "outlet", "wall", "inlet"])
        - named(g.Disk([1, 0.5], 0.2), "cylinder"),
        time=(0, 1),
    )
    mesh = domain.to_mesh(0.1)
    for name, test in {
        "inlet": lambda x: np.abs(x[:, 0]),
        "outlet": lambda x: np.abs(x[:, 0] - 4),
        "cylinder": lambda x: np.abs(np.linalg.norm(x - [1, 0.5], axis=1) - 0.2),
    }.items():
        pts = mesh.points[mesh.point_tags[name]]
        assert len(pts) >= 3 and test(pts).max() < 1e-6
    assert mesh.dim == 2  # the spatial mesh of a space-time domain
    line = Domain(g.Interval(-1, 2)).to_mesh(0.25)
    assert [t for t, _ in line.cells] == ["line"] and line.cell_measures()[1].sum() == pytest.approx(3.0)
    assert line.points.min() == -1 and line.points.max() == 2
    with pytest.raises(ValueError, match="h > 0"):
        domain.to_mesh(0)


# --- the L-shaped Laplace problem with its corner singularity, scored on a mesh of the L ---------
def _corner(x, params=None):
    x = np.asarray(x, dtype=np.float64)
    r = np.hypot(x[:, 0], x[:, 1])
    theta = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi)  # 0 on x > 0, 3π/2 on y < 0 with x = 0
    return r ** (2 / 3) * np.sin(2 * theta / 3)


def l_shape_problem(exact=_corner, **kw):
    lap = lambda du, p: du("x", "x") + du("y", "y")
    return Problem(
        "l_laplace",
        ("x", "y"),
        ("u",),
        {},
        domain=Domain(polygon(L_VERTS)),
        equations={"pde": lap},
        conditions={"bc": Condition("boundary", lambda du, p: du() - torch.as_tensor(_corner(du.x.detach())))},
        exact=exact,
        **kw,
    )


class Fn(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f, self.dummy = f, torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return torch.as_tensor(self.f(x.detach().cpu().numpy()), dtype=x.dtype)[:, None] + 0 * self.dummy


def test_exact_solution_scores_zero_on_a_mesh_of_the_L(tmp_path):
    import pyvista

    from pinns.pinn import PINN
    from sciml.output import write_fields

    problem = l_shape_problem(eval_h=0.05)
    ref = problem.reference_field()
    assert isinstance(ref.support, Mesh) and ref.times is None and ref.names == ("u",)
    assert ref.support.cell_measures()[1].sum() == pytest.approx(3.0)
    method = PINN(problem, Fn(_corner), derivatives="autograd")
    m = method.evaluate()
    assert m["rel_l2"] < 1e-12 and m["n_points"] == ref.support.n_points > 1000
    wrong = PINN(problem, Fn(lambda x: _corner(x) + 0.05 * x[:, 0] * x[:, 1]), derivatives="autograd").evaluate()
    assert wrong["rel_l2"] > 1e-2
    ((name, field),) = method.predict()
    paths = write_fields(field, tmp_path, "solution", ["vtu"])
    grid = pyvista.read(str(paths[0]))
    assert grid.n_points == ref.support.n_points and grid.n_cells == len(ref.support.cells[0][1])
    for k in ("u", "u_ref", "u_error"):
        assert k in grid.point_data.keys()
    assert np.allclose(grid.point_data["u_ref"], _corner(grid.points[:, :2]))
    assert np.abs(grid.point_data["u_error"]).max() < 1e-12
    # exact(x, params) is called with the problem's parameters; default h = diameter / 64
    seen = {}
    p2 = Problem(
        "p2",
        ("x", "y"),
        ("u",),
        {"k": 2.0},
        domain=Domain(polygon(L_VERTS)),
        exact=lambda x, params: seen.setdefault("k", params["k"]) * x[:, :1],
    )
    assert p2.reference_field().values.shape[1] == 1 and seen["k"] == 2.0


def test_time_dependent_exact_gives_a_time_series_on_the_mesh():
    from pinns.pinn import PINN

    g = _g()
    domain = Domain(g.Rectangle([-1, -1], [1, 1]) - g.Disk([0, 0], 0.4), time=(0, 2))
    f = lambda x: np.exp(-x[:, 2]) * np.sin(x[:, 0]) * np.cos(x[:, 1])
    problem = Problem("heat_hole", ("x", "y", "t"), ("u",), {}, domain=domain, exact=f, eval_h=0.1, eval_times=5)
    ref = problem.reference_field()
    assert np.allclose(ref.times, np.linspace(0, 2, 5)) and ref.values.shape == (5, ref.support.n_points, 1)
    assert np.allclose(ref.values[3, :, 0], f(np.hstack([ref.support.points, np.full((ref.support.n_points, 1), 1.5)])))
    m = PINN(problem, Fn(f), derivatives="autograd").evaluate()
    assert m["rel_l2"] < 1e-12 and m["n_points"] == 5 * ref.support.n_points
