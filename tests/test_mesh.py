"""Tests for :mod:`sciml.mesh`: gmsh meshes read through meshio, structured grids and graph edges."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.mesh import Grid, Mesh, edges

ROOT = Path(__file__).resolve().parents[1]
PLATE = ROOT / "meshes" / "plate_hole.msh"
CENTRE = np.array([0.5, 0.5])
RADIUS = 0.2
BOUNDARIES = ("left", "right", "bottom", "top", "hole")


def _load_script():
    """Import ``meshes/plate_hole.py`` (``meshes`` is not a package)."""
    spec = importlib.util.spec_from_file_location("plate_hole", ROOT / "meshes" / "plate_hole.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _edge_set(e: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, e.T.tolist()))


def _check_graph(e: torch.Tensor, n: int) -> None:
    """(2, E) long tensor, indices in range, symmetric, no duplicates, no self loops."""
    assert e.dtype == torch.long and e.ndim == 2 and e.shape[0] == 2
    assert int(e.min()) >= 0 and int(e.max()) < n
    pairs = e.T.tolist()
    s = set(map(tuple, pairs))
    assert len(s) == len(pairs), "duplicate edges"
    assert all((j, i) in s for i, j in s), "not symmetric"
    assert not bool((e[0] == e[1]).any()), "self loops"


def _check_plate(m: Mesh, h: float) -> None:
    assert m.dim == 2 and m.tdim == 2
    assert [t for t, _ in m.cells] == ["triangle"]
    assert set(BOUNDARIES) <= set(m.point_tags)
    assert "plate" in m.cell_tags
    block, idx = m.cell_tags["plate"]
    assert len(idx) == len(m.cells[block][1])
    p = m.points
    r = np.linalg.norm(p[m.point_tags["hole"]] - CENTRE, axis=1)
    np.testing.assert_allclose(r, RADIUS, rtol=0, atol=1e-9)
    assert np.all(p[m.point_tags["left"], 0] == 0.0)
    assert np.all(p[m.point_tags["right"], 0] == 1.0)
    assert np.all(p[m.point_tags["bottom"], 1] == 0.0)
    assert np.all(p[m.point_tags["top"], 1] == 1.0)
    # the hole polygon is inscribed in the circle: area slightly above the exact value
    _, area = m.cell_measures()
    exact = 1.0 - np.pi * RADIUS**2
    assert np.all(area > 0)
    assert exact <= area.sum() <= exact * (1 + 1e-3 * (h / 0.05) ** 2)
    # every node is used by a triangle; boundary spacing ~ h on the square, ~ h/2 on the hole
    assert len(np.unique(m.cells[0][1])) == m.n_points
    assert len(m.point_tags["left"]) == round(1 / h) + 1
    assert abs(len(m.point_tags["hole"]) - 2 * np.pi * RADIUS / (h / 2)) <= 3


# ---- the committed gmsh mesh -----------------------------------------------------------


def test_plate_hole_mesh():
    m = Mesh.read(PLATE)
    _check_plate(m, h=0.05)
    assert PLATE.stat().st_size < 300_000


def test_plate_hole_regenerate(tmp_path):
    pytest.importorskip("gmsh")
    out = _load_script().build(h=0.1, out=tmp_path / "coarse.msh")
    assert out.exists() and out.read_text().startswith("$MeshFormat\n4.1 0 8")
    m = Mesh.read(out)
    _check_plate(m, h=0.1)
    assert m.n_points < Mesh.read(PLATE).n_points


def test_plate_hole_deterministic(tmp_path):
    pytest.importorskip("gmsh")
    build = _load_script().build
    a = build(h=0.1, out=tmp_path / "a.msh").read_bytes()
    b = build(h=0.1, out=tmp_path / "b.msh").read_bytes()
    assert a == b


def test_to_meshio_vtu_roundtrip(tmp_path):
    pv = pytest.importorskip("pyvista")
    m = Mesh.read(PLATE)
    path = tmp_path / "plate.vtu"
    m.to_meshio(point_data={"r": np.linalg.norm(m.points - CENTRE, axis=1)}).write(path)
    g = pv.read(path)
    assert g.n_points == m.n_points
    assert g.n_cells == len(m.cells[0][1])
    np.testing.assert_allclose(np.asarray(g.points)[:, :2], m.points)
    np.testing.assert_allclose(g.point_data["r"], np.linalg.norm(m.points - CENTRE, axis=1))


# ---- structured grids ------------------------------------------------------------------


def test_grid_points_order():
    g = Grid((3, 2), ((0.0, 1.0), (0.0, 2.0)))
    p = g.points()
    assert p.shape == (6, 2)
    # C order, 'ij' indexing: the last axis varies fastest
    np.testing.assert_allclose(p[:3], [[0.0, 0.0], [0.0, 2.0], [0.5, 0.0]])
    np.testing.assert_allclose(p[-1], [1.0, 2.0])
    assert g.spacing() == (0.5, 2.0)
    per = Grid((4,), ((0.0, 1.0),), periodic=(True,))
    np.testing.assert_allclose(per.points()[:, 0], [0.0, 0.25, 0.5, 0.75])


@pytest.mark.parametrize(
    "shape, ctype, ncells", [((5,), "line", 4), ((4, 3), "quad", 6), ((3, 4, 5), "hexahedron", 24)]
)
def test_grid_to_mesh(shape, ctype, ncells):
    g = Grid(shape, tuple((0.0, 1.0) for _ in shape))
    m = g.to_mesh()
    assert [t for t, _ in m.cells] == [ctype]
    assert len(m.cells[0][1]) == ncells
    np.testing.assert_array_equal(m.points, g.points())
    names = (("left", "right"), ("bottom", "top"), ("back", "front"))[: len(shape)]
    assert set(m.point_tags) == {n for pair in names for n in pair}
    for ax, (lo, hi) in enumerate(names):
        n_face = int(np.prod(shape)) // shape[ax]
        assert len(m.point_tags[lo]) == len(m.point_tags[hi]) == n_face
        assert np.all(m.points[m.point_tags[lo], ax] == 0.0)
        assert np.all(m.points[m.point_tags[hi], ax] == 1.0)
    if ctype != "hexahedron":  # cell measures sum to the box volume
        assert m.cell_measures()[1].sum() == pytest.approx(1.0)


def test_grid_to_mesh_periodic_has_no_tags_on_periodic_axis():
    m = Grid((4, 3), ((0.0, 1.0), (0.0, 1.0)), periodic=(True, False)).to_mesh()
    assert set(m.point_tags) == {"bottom", "top"}


def test_grid_resample():
    g = Grid((65,), ((0.0, 2.0),))
    values = np.sin(g.points()[:, 0])
    c = g.resample(2)
    assert c.shape == (33,)
    np.testing.assert_allclose(np.sin(c.points()[:, 0]), values[::2], rtol=0, atol=1e-14)
    g2 = Grid((9, 17), ((0.0, 1.0), (-1.0, 1.0)))
    v2 = g2.points().sum(-1).reshape(g2.shape)
    c2 = g2.resample(4)
    np.testing.assert_allclose(c2.points().sum(-1).reshape(c2.shape), v2[::4, ::4], atol=1e-14)
    per = Grid((64,), ((0.0, 1.0),), periodic=(True,))
    np.testing.assert_allclose(per.resample(2).points()[:, 0], per.points()[::2, 0], atol=1e-14)


def test_grid_resample_incompatible_factor():
    with pytest.raises(ValueError):
        Grid((10,), ((0.0, 1.0),)).resample(2)  # 9 intervals do not split in 2
    with pytest.raises(ValueError):
        Grid((9,), ((0.0, 1.0),)).resample(0)


# ---- graph edges -----------------------------------------------------------------------


def test_edges_from_plate_mesh():
    m = Mesh.read(PLATE)
    e = edges(mesh=m)
    _check_graph(e, m.n_points)
    tri = m.cells[0][1]
    # Euler for a planar triangulation with one hole: V - E + F = 0
    n_undirected = e.shape[1] // 2
    assert m.n_points - n_undirected + len(tri) == 0
    assert (int(tri[0, 0]), int(tri[0, 1])) in _edge_set(e)


def test_edges_1d_grid():
    n = 11
    m = Grid((n,), ((0.0, 1.0),)).to_mesh()
    e = edges(mesh=m)
    _check_graph(e, n)
    assert e.shape[1] == 2 * (n - 1)
    assert _edge_set(e) == {(i, i + 1) for i in range(n - 1)} | {(i + 1, i) for i in range(n - 1)}


def test_edges_2d_quad_grid_degrees():
    g = Grid((5, 6), ((0.0, 1.0), (0.0, 1.0)))
    e = edges(mesh=g.to_mesh())
    _check_graph(e, 30)
    deg = torch.bincount(e[0], minlength=30).reshape(g.shape)
    assert bool((deg[1:-1, 1:-1] == 4).all())  # cell edges only, no diagonals
    assert {int(deg[0, 0]), int(deg[0, -1]), int(deg[-1, 0]), int(deg[-1, -1])} == {2}
    assert bool((deg[0, 1:-1] == 3).all()) and bool((deg[1:-1, 0] == 3).all())


def test_edges_self_loops_option():
    m = Grid((4,), ((0.0, 1.0),)).to_mesh()
    e = edges(mesh=m, self_loops=True)
    assert {(i, i) for i in range(4)} <= _edge_set(e)
    assert e.shape[1] == 2 * 3 + 4


def test_edges_knn():
    rng = np.random.default_rng(0)
    x = rng.random((60, 2))
    k = 4
    e = edges(x, k=k)
    _check_graph(e, 60)
    assert bool((torch.bincount(e[0], minlength=60) >= k).all())
    # each node's k nearest neighbours are among its edges
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    s = _edge_set(e)
    for i, nbrs in enumerate(np.argsort(d, axis=1)[:, :k]):
        assert all((i, int(j)) in s for j in nbrs)
    with pytest.raises(ValueError):
        edges(x, k=60)


def test_edges_knn_periodic_wrap():
    n = 16
    x = np.arange(n, dtype=np.float64)[:, None] / n  # periodic points on [0, 1)
    s = _edge_set(edges(x, k=2, period=(1.0,)))
    assert (0, n - 1) in s and (n - 1, 0) in s
    assert all(len([j for (i, j) in s if i == a]) == 2 for a in range(n))  # a ring
    assert (0, n - 1) not in _edge_set(edges(x, k=2))  # no wrap without a period


def test_edges_radius_matches_bruteforce():
    rng = np.random.default_rng(1)
    x = rng.random((80, 3))
    r = 0.3
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    ref = {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= r)) if i != j}
    e = edges(torch.as_tensor(x), radius=r)
    _check_graph(e, 80)
    assert _edge_set(e) == ref
    # periodic distances (minimum image) on the unit box in x only
    dx = x[:, None, 0] - x[None, :, 0]
    dx = dx - np.round(dx)
    dp = np.sqrt(dx**2 + ((x[:, None, 1:] - x[None, :, 1:]) ** 2).sum(-1))
    ref_p = {(int(i), int(j)) for i, j in zip(*np.nonzero(dp <= r)) if i != j}
    assert _edge_set(edges(x, radius=r, period=(1.0, None, None))) == ref_p
    assert ref < ref_p


def test_edges_needs_exactly_one_mode():
    with pytest.raises(ValueError):
        edges(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        edges(np.zeros((3, 2)), k=1, radius=0.1)


# ---- invalid input ---------------------------------------------------------------------


def test_mesh_rejects_bad_indices():
    pts = np.zeros((3, 2))
    with pytest.raises(ValueError):
        Mesh(pts, [("triangle", np.array([[0, 1, 3]]))])
    with pytest.raises(ValueError):
        Mesh(pts, [("triangle", np.array([[0, 1, -1]]))])
    with pytest.raises(ValueError):
        Mesh(pts, [("triangle", np.array([[0, 1, 2]]))], point_tags={"left": np.array([5])})
    with pytest.raises(ValueError):
        Mesh(np.zeros((3, 4)), [])


def test_mesh_read_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        Mesh.read(tmp_path / "nope.msh")


@pytest.mark.parametrize("name", ["garbage.msh", "garbage.vtu"])
def test_mesh_read_garbage_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("this is not a mesh\n1 2 3\n")
    with pytest.raises(ValueError, match=name):
        Mesh.read(path)
