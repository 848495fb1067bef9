"""Outward normals of boundary points, and Neumann/Robin conditions that use them (issue 13 §2).

(a) ``Domain.normals`` / ``MeshDomain.normals`` against normals written out by hand: a disk, a
polygon given clockwise, a square minus a disk (the hole's normals point into the hole), a
space-time domain, and the gmsh plate with a hole. (b) A Poisson problem −Δu = f with Neumann
and Robin conditions, whose exact solution (a torch function) has residuals ≈ 0 at the sampled
points on a CSG domain and on the mesh, through CollocationData and the PINN's derivative
accessor (autograd and jets); with the normals flipped the residuals are O(1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pinns.pinn import PINN
from sciml.data.collocation import CollocationData
from sciml.geometry import Domain, MeshDomain, dde, named, polygon
from sciml.mesh import Mesh
from sciml.ops import Derivatives
from sciml.problems.base import Condition, Problem

PLATE = Path(__file__).resolve().parents[2] / "meshes" / "plate_hole.msh"


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# --- (a) the normals themselves ------------------------------------------------------------------


def test_disk_normals_are_radial():
    d = Domain(dde().geometry.Disk([0, 0], 1.5))
    x = d.sample_boundary(300, rng=0)
    np.testing.assert_allclose(d.normals(x), x / np.linalg.norm(x, axis=1, keepdims=True), atol=1e-12)
    assert np.all(d.normals(np.array([[0.2, 0.1], [0.0, 0.0]])) == 0)  # away from the boundary: zero


def test_polygon_normals_per_edge_given_clockwise():
    # a non-convex pentagon with a slanted edge, listed clockwise (deepxde reverses it)
    verts = np.array([(0, 0), (0, 1), (1, 1.5), (2, 1), (2, 0)], dtype=float)
    d = Domain(polygon(verts, edge_names=[f"e{i}" for i in range(5)]))
    for i in range(5):
        a, b = verts[i], verts[(i + 1) % 5]
        t = b - a
        expect = -np.array([t[1], -t[0]]) / np.linalg.norm(t)  # right of a->b is inward on a clockwise loop
        x = d.sample_boundary(50, f"e{i}", rng=i)
        np.testing.assert_allclose(d.normals(x), np.tile(expect, (50, 1)), atol=1e-12)
        mid = 0.5 * (a + b)  # outward: a step along the normal leaves the shape, a step against it enters
        assert not d.contains((mid + 1e-3 * expect)[None])[0] and d.contains((mid - 1e-3 * expect)[None])[0]


def test_csg_difference_hole_normals_point_into_the_hole():
    g = dde().geometry
    square = polygon([(-1, -1), (1, -1), (1, 1), (-1, 1)], edge_names=["bottom", "right", "top", "left"])
    d = Domain(square - named(g.Disk([0.25, 0.125], 0.375), "hole"), time=(0, 2))
    x = d.sample_boundary(300, "hole", rng=0)
    assert x.shape[1] == 3  # space-time rows: normals are spatial
    np.testing.assert_allclose(d.normals(x), -_unit(x[:, :2] - [0.25, 0.125]), atol=1e-12)
    for tag, n in {"bottom": (0, -1), "right": (1, 0), "top": (0, 1), "left": (-1, 0)}.items():
        np.testing.assert_allclose(d.normals(d.sample_boundary(40, tag, rng=1)), np.tile(n, (40, 1)), atol=1e-12)


def test_mesh_normals_outer_edges_and_hole():
    m = Mesh.read(PLATE)
    d = MeshDomain(m)
    for tag, n in {"bottom": (0, -1), "right": (1, 0), "top": (0, 1), "left": (-1, 0)}.items():
        x = d.sample_boundary(60, tag, rng=0)
        np.testing.assert_allclose(d.normals(x), np.tile(n, (60, 1)), atol=1e-12)
    hole = m.points[m.point_tags["hole"]]
    c = hole.mean(0)
    x = d.sample_boundary(400, "hole", rng=0)
    n = d.normals(x)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1, atol=1e-12)
    # the hole is a polygon of len(hole) chords: normals are radial towards the centre within half a chord's angle
    cos = np.einsum("nd,nd->n", n, _unit(c - x))
    assert cos.min() > np.cos(np.pi / len(hole) + 1e-3)
    np.testing.assert_allclose(n, _chord_normals(hole, c, x), atol=1e-12)  # exactly each chord's normal
    assert np.all(d.normals(np.array([[0.2, 0.2], c])) == 0)
    np.testing.assert_allclose(d.normals(np.hstack([x, np.ones((400, 1))])), n)  # a time column is ignored


def test_mesh_normals_in_one_and_three_dimensions():
    import itertools

    # a box [0,1]x[0,2]x[0,1] cut into the 6 tetrahedra of Kuhn's subdivision: face normals on every face
    corners = np.array(list(itertools.product([0, 1], repeat=3)))
    index = {tuple(c): i for i, c in enumerate(corners)}
    tets = []
    for perm in itertools.permutations(range(3)):
        v, path = np.zeros(3, int), [0]
        for k in perm:
            v[k] = 1
            path.append(index[tuple(v)])
        tets.append(path)
    d = MeshDomain(Mesh(corners * [1.0, 2.0, 1.0], [("tetra", np.array(tets))]))
    x = d.sample_boundary(500, rng=0)
    expect = np.zeros_like(x)
    for k, hi in enumerate((1.0, 2.0, 1.0)):
        expect[np.isclose(x[:, k], 0), k], expect[np.isclose(x[:, k], hi), k] = -1, 1
    assert np.all(np.abs(expect).sum(1) == 1)
    np.testing.assert_allclose(d.normals(x), expect, atol=1e-12)
    line = MeshDomain(Mesh(np.array([[0.0], [1.0], [2.0]]), [("line", np.array([[0, 1], [1, 2]]))]))
    np.testing.assert_array_equal(line.normals(np.array([[0.0], [2.0], [1.0]])), [[-1], [1], [0]])


def _chord_normals(hole: np.ndarray, c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Unit normals towards ``c`` of the chords between consecutive hole vertices (by angle) that
    carry the points ``x``: the outward normals of the meshed domain there, written out by hand."""
    ang = np.arctan2(*(hole - c).T[::-1])
    v = hole[np.argsort(ang)]
    a, b = v, np.roll(v, -1, axis=0)
    t = b - a
    r = x[:, None] - a[None]
    d = np.abs(t[None, :, 0] * r[..., 1] - t[None, :, 1] * r[..., 0]) / np.linalg.norm(
        t, axis=1
    )  # to each chord's line
    s = np.einsum("nkd,kd->nk", x[:, None] - a[None], t) / np.einsum("kd,kd->k", t, t)
    d = np.where((s >= -1e-9) & (s <= 1 + 1e-9), d, np.inf)
    k = np.argmin(d, axis=1)
    n = _unit(np.stack([t[k, 1], -t[k, 0]], axis=1))
    return np.where((np.einsum("nd,nd->n", n, c - x) > 0)[:, None], n, -n)


# --- (b) Neumann and Robin conditions on an exact solution -------------------------------------


def u_exact(x):
    """u = sin(2x) e^y: −Δu = 3u."""
    return torch.sin(2 * x[:, 0]) * torch.exp(x[:, 1])


def grad_exact(x):
    return torch.stack(
        [2 * torch.cos(2 * x[:, 0]) * torch.exp(x[:, 1]), torch.sin(2 * x[:, 0]) * torch.exp(x[:, 1])], 1
    )


class Exact(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return (u_exact(x) + 0 * self.dummy)[:, None]


def _neumann(normal_of):
    """∂u/∂n − g, with g = ∇u*·n from the normal written out by hand (not from du.normals)."""
    return lambda du, p: du.dn("u") - (grad_exact(du.x) * normal_of(du.x)).sum(1)


def _robin(normal_of, a=2.0):
    """∂u/∂n + a u − g (Robin)."""
    return lambda du, p: (
        du.normal_derivative("u") + a * du() - ((grad_exact(du.x) * normal_of(du.x)).sum(1) + a * u_exact(du.x))
    )


def _problem(domain, conditions):
    return Problem(
        "poisson_neumann",
        ("x", "y"),
        ("u",),
        {},
        domain=domain,
        equations={"pde": lambda du, p: -du("x", "x") - du("y", "y") - 3 * u_exact(du.x)},
        conditions=conditions,
    )


def _const(*n):
    return lambda x: torch.tensor(n, dtype=x.dtype).expand(len(x), 2)


def _csg_problem():
    g = dde().geometry
    square = polygon([(-1, -1), (1, -1), (1, 1), (-1, 1)], edge_names=["bottom", "right", "top", "left"])
    domain = Domain(square - named(g.Disk([0.25, 0.125], 0.375), "hole"))
    centre = torch.tensor([0.25, 0.125], dtype=torch.float64)

    def hole_normal(x):  # out of the domain: into the hole
        r = centre - x
        return r / r.norm(dim=1, keepdim=True)

    return _problem(
        domain,
        {
            "dirichlet": Condition("boundary:left", lambda du, p: du() - u_exact(du.x)),
            "neumann_hole": Condition("boundary:hole", _neumann(hole_normal), normals=True),
            "neumann_top": Condition("boundary:top", _neumann(_const(0.0, 1.0)), normals=True),
            "robin": Condition("boundary:right", _robin(_const(1.0, 0.0)), normals=True),
        },
    )


def _mesh_problem():
    m = Mesh.read(PLATE)
    hole = m.points[m.point_tags["hole"]]
    c = hole.mean(0)

    def hole_normal(x):
        return torch.as_tensor(_chord_normals(hole, c, x.detach().numpy()))

    return _problem(
        MeshDomain(m),
        {
            "dirichlet": Condition("boundary:left", lambda du, p: du() - u_exact(du.x)),
            "neumann_hole": Condition("boundary:hole", _neumann(hole_normal), normals=True),
            "neumann_right": Condition("boundary:right", _neumann(_const(1.0, 0.0)), normals=True),
            "robin": Condition("boundary:bottom", _robin(_const(0.0, -1.0)), normals=True),
        },
    )


def _residuals(method, batch):
    p = method.params()
    return {
        name: r(du, p).detach()
        for g, du in method._all_derivatives(batch).items()
        for name, r in method.groups[g].items()
    }


@pytest.mark.parametrize("make", [_csg_problem, _mesh_problem], ids=["csg", "gmsh"])
def test_exact_solution_satisfies_neumann_and_robin(make):
    problem = make()
    data = CollocationData(problem, n_interior=200, n_boundary=150, seed=0).to(dtype=torch.float64)
    batch = data.next_batch()
    assert {k for k in batch if k.startswith("normals:")} == {
        f"normals:{k}" for k in problem.conditions if k != "dirichlet"
    }
    method = PINN(problem, Exact().double(), derivatives="autograd")
    res = _residuals(method, batch)
    for name, r in res.items():
        assert r.abs().max() < 1e-10, (name, float(r.abs().max()))
    for name in ("neumann_hole", "robin"):  # a wrong normal is caught: flipped, the residual is O(1)
        flipped = {**batch, f"normals:{name}": -batch[f"normals:{name}"]}
        assert _residuals(method, flipped)[name].abs().max() > 0.1
    # a selector's own points (no batch entry) get the domain's normals: the same residuals
    du = method.derivatives("neumann_hole", batch["neumann_hole"])
    torch.testing.assert_close(du.normals, batch["normals:neumann_hole"], rtol=0, atol=0)


def test_jets_and_autograd_agree_with_normals():
    torch.manual_seed(0)
    from sciml.nn import MLP

    problem = _csg_problem()
    data = CollocationData(problem, n_interior=50, n_boundary=40, seed=1).to(dtype=torch.float64)
    model = MLP(2, 1, width=16, depth=2).double()
    jet, auto = PINN(problem, model, derivatives="jet"), PINN(problem, model, derivatives="autograd")
    a, b = jet.loss(data.next_batch()), auto.loss(data.next_batch())
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-10, atol=1e-12)


def test_normals_follow_the_points():
    problem = _csg_problem()
    data = CollocationData(problem, n_interior=20, n_boundary=30, seed=2).to(dtype=torch.float64)
    method = PINN(problem, Exact().double(), derivatives="autograd")
    before = method.loss(data.next_batch())
    state = data.state_dict()
    x = data.sample("neumann_hole", 17)
    data.set_points("neumann_hole", x)  # point selection: the normals are recomputed with the points
    np.testing.assert_allclose(data.normals["neumann_hole"], -_unit(x - [0.25, 0.125]), atol=1e-12)
    assert data.next_batch()["normals:neumann_hole"].shape == (17, 2)
    data.load_state_dict(state)  # a checkpoint: normals as a function of the restored points, exactly
    fresh = CollocationData(problem, n_interior=20, n_boundary=30, seed=2)
    for k in fresh.normals:
        assert np.array_equal(data.normals[k], fresh.normals[k])
    after = method.loss(data.next_batch())
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit for bit
    data.shard(1, 2)
    b = data.next_batch()
    assert len(b["normals:robin"]) == len(b["robin"]) == 15


def test_no_normals_unless_declared():
    problem = _csg_problem()
    plain = {k: Condition(c.where, c.residual) for k, c in problem.conditions.items()}
    p2 = _problem(problem.domain, plain)
    a = CollocationData(p2, n_interior=20, n_boundary=10, seed=3)
    b = CollocationData(problem, n_interior=20, n_boundary=10, seed=3)
    assert a.normals == {} and set(a.next_batch()) == set(a.points)
    for k in a.points:  # declaring normals draws no extra random numbers: the same points
        assert np.array_equal(a.points[k], b.points[k])
    x = torch.zeros(3, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="normals=True"):
        Derivatives(x[:, :1] * 1.0, x, ("x", "y"), ("u",)).dn()
    with pytest.raises(ValueError, match="boundary condition"):
        Condition("initial", lambda du, p: du(), normals=True)
    seg = Domain(dde().geometry.Rectangle([0, 0], [1, 1]), segments={"crack": ((0.2, 0.5), (0.6, 0.5))})
    with pytest.raises(ValueError, match="no outward normal"):
        CollocationData(
            _problem(seg, {"c": Condition("boundary:crack", lambda du, p: du.dn(), normals=True)}),
            n_interior=5,
            n_boundary=5,
        )
