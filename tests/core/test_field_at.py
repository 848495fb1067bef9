"""Field.at / Field.on: a field evaluated at arbitrary points (and times) on a Grid, a Mesh or a point cloud.

Exactness is checked against analytic functions the interpolant must reproduce (multilinear on
grids, linear on simplices), the order of accuracy is measured on refined grids and gmsh meshes,
and the containing-cell search is checked against a brute-force search over all cells.
"""

from __future__ import annotations

import gc
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import LinearNDInterpolator
from scipy.spatial import Delaunay

from sciml import fields
from sciml.fields import Field
from sciml.mesh import Grid, Mesh

ROOT = Path(__file__).resolve().parents[2]
PLATE = ROOT / "meshes" / "plate_hole.msh"
CENTRE = np.array([0.5, 0.5])
ROUND_OFF = 1e-12  # interpolating O(1) values with O(1) weights: a few ulps, far below any interpolation error


def _linear(p: np.ndarray) -> np.ndarray:
    """Two channels, each linear in the coordinates (any dimension)."""
    a = 1.0 + p @ np.linspace(0.5, -1.5, p.shape[1])
    b = -2.0 + p @ np.linspace(3.0, 0.25, p.shape[1])
    return np.stack([a, b], axis=-1)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


def _brute_inside(points: np.ndarray, simplices: np.ndarray, x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Whether each point of ``x`` lies in any simplex: barycentric coordinates against every cell."""
    v = points[simplices]  # (c, d + 1, d)
    inv = np.linalg.inv(np.swapaxes(v[:, 1:] - v[:, :1], 1, 2))
    diff = [x[:, None, j] - v[None, :, 0, j] for j in range(x.shape[1])]  # (m, c) each
    b = [sum(inv[:, i, j] * diff[j] for j in range(x.shape[1])) for i in range(x.shape[1])]
    lowest = np.minimum.reduce([1 - sum(b)] + b)  # smallest barycentric coordinate, (m, c)
    return (lowest >= -tol).any(axis=1)


@pytest.fixture(scope="module")
def plate() -> Mesh:
    return Mesh.read(PLATE)


def _hole_inradius(mesh: Mesh) -> float:
    """Distance from the centre to the nearest edge of the polygonal hole (its nodes are on the circle)."""
    hole = mesh.points[mesh.point_tags["hole"]] - CENTRE
    hole = hole[np.argsort(np.arctan2(hole[:, 1], hole[:, 0]))]
    mid = 0.5 * (hole + np.roll(hole, -1, axis=0))
    return float(np.linalg.norm(mid, axis=1).min())


def _cavity_tets(n: int = 8, seed: int = 0) -> Mesh:
    """Tetrahedra of the unit cube (Delaunay of a jittered lattice) minus a cavity: the cells whose
    centroid is within 0.3 of the centre (max norm)."""
    g = np.linspace(0.0, 1.0, n + 1)
    p = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    interior = np.all((p > 0) & (p < 1), axis=1)
    p[interior] += np.random.default_rng(seed).uniform(-0.15, 0.15, (interior.sum(), 3)) / n
    tets = Delaunay(p).simplices
    v = p[tets]
    vol = np.abs(np.linalg.det(v[:, 1:] - v[:, :1])) / 6
    keep = (np.abs(v.mean(1) - 0.5).max(1) > 0.3) & (vol > 1e-12)
    return Mesh(p, [("tetra", tets[keep])])


# ---- grids --------------------------------------------------------------------------------
def test_grid_reproduces_multilinear_functions():
    rng = np.random.default_rng(0)
    for bounds in [((-1.0, 2.0), (0.5, 1.0)), ((0.0, 1.0), (-2.0, 0.0), (1.0, 1.5))]:
        shape = (7, 5, 4)[: len(bounds)]
        grid = Grid(shape, bounds)
        lo, hi = np.array(bounds).T

        def f(p):
            # every product of distinct coordinates: multilinear, not linear
            return np.stack([1 + p.sum(1) + 2 * p.prod(1), 3 - p[:, 0] * p[:, -1]], -1)

        field = Field(f(grid.points()).reshape(*shape, 2), grid, ("u", "v"))
        x = lo + rng.random((500, len(bounds))) * (hi - lo)
        x[:2] = lo, hi  # the box's corners
        x[2, 0] = hi[0]  # a face
        out = field.at(x)
        assert out.shape == (500, 2) and out.dtype == np.float64
        np.testing.assert_allclose(out, f(x), rtol=0, atol=ROUND_OFF)


def test_grid_boundary_round_off_and_outside():
    grid = Grid((5, 5), ((0.0, 1.0), (0.0, 2.0)))
    field = Field(_linear(grid.points()).reshape(5, 5, 2), grid, ("a", "b"))
    edge = np.array([[1.0 + 1e-15, 2.0], [-1e-16, 0.3], [0.5, 2.0 * (1 + 1e-15)]])  # round-off outside
    np.testing.assert_allclose(field.at(edge), _linear(np.clip(edge, 0, [1, 2])), atol=ROUND_OFF)
    x = np.array([[0.5, 0.5], [1.5, 0.5], [0.5, -1.0]])
    with pytest.raises(ValueError) as exc:
        field.at(x)
    msg = _one_line(exc)
    assert "2 of 3 points are outside the grid (5, 5)" in msg and "[0, 1] x [0, 2]" in msg and "point 1" in msg
    nan = field.at(x, outside="nan")
    assert np.isfinite(nan[0]).all() and np.isnan(nan[1:]).all()
    # nearest: the point clamped into the box
    np.testing.assert_allclose(field.at(x, outside="nearest"), _linear(np.clip(x, 0, [1, 2])), atol=ROUND_OFF)


def test_periodic_grid_wraps():
    n, period = 16, 2.0
    grid = Grid((n, 6), ((0.0, period), (0.0, 1.0)), periodic=(True, False))
    p = grid.points()
    values = np.sin(np.pi * p[:, 0]) * (1 + p[:, 1])
    field = Field(values.reshape(n, 6, 1), grid, ("u",))
    h = period / n
    # between the last node (x = 2 - h) and x = 2, which is node 0: the mean of the two
    y = 0.4
    col = np.argmin(np.abs(np.linspace(0, 1, 6) - y))
    y = np.linspace(0, 1, 6)[col]
    mid = field.at(np.array([[period - h / 2, y]]))[0, 0]
    v = values.reshape(n, 6)
    assert mid == pytest.approx(0.5 * (v[-1, col] + v[0, col]), abs=ROUND_OFF)
    # any x is inside on the periodic axis; shifting by whole periods changes nothing
    x = np.random.default_rng(1).random((200, 2)) * [period, 1.0]
    base = field.at(x)
    for shift in (-period, period, 3 * period):
        # the shifted coordinate carries round-off of the size of the shift (~1e-15 relative)
        np.testing.assert_allclose(field.at(x + [shift, 0.0]), base, atol=1e-12)


def _order(h: np.ndarray, err: np.ndarray) -> float:
    """Least-squares slope of log(err) against log(h)."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def _smooth(p: np.ndarray) -> np.ndarray:
    return np.sin(2 * p[:, 0]) * np.cos(3 * p[:, 1]) + p[:, 0] ** 2


def test_grid_second_order():
    x = np.random.default_rng(2).random((20000, 2))
    ns = np.array([9, 17, 33, 65])
    err = []
    for n in ns:
        grid = Grid((n, n), ((0.0, 1.0), (0.0, 1.0)))
        field = Field(_smooth(grid.points()).reshape(n, n, 1), grid, ("u",))
        err.append(np.sqrt(np.mean((field.at(x)[:, 0] - _smooth(x)) ** 2)))
    order = _order(1.0 / (ns - 1), np.array(err))
    # bilinear interpolation errs by C h^2 + O(h^3): measured 2.00 (pairwise 1.99..2.00); the RMS
    # over 20000 fixed points is smooth in h, so 0.05 is enough room for the O(h^3) part
    assert abs(order - 2.0) < 0.05, order


# ---- meshes -------------------------------------------------------------------------------
def test_plate_hole_reproduces_linear_functions(plate):
    field = Field(_linear(plate.points), plate, ("a", "b"))
    x = np.random.default_rng(3).random((5000, 2))
    x = x[np.linalg.norm(x - CENTRE, axis=1) > 0.21]  # outside the disk: inside the mesh
    np.testing.assert_allclose(field.at(x), _linear(x), rtol=0, atol=ROUND_OFF)
    # every node, the hole's and the outer boundary's included, gives its own value back
    np.testing.assert_allclose(field.at(plate.points), field.values, rtol=0, atol=ROUND_OFF)


def test_plate_hole_boundary_points_are_inside(plate):
    field = Field(_linear(plate.points), plate, ("a", "b"))
    tri = plate.cells[0][1]
    e = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    e, count = np.unique(e, axis=0, return_counts=True)
    boundary = e[count == 1]  # edges of one triangle only: the square's sides and the hole's polygon
    a, b = plate.points[boundary[:, 0]], plate.points[boundary[:, 1]]
    t = np.random.default_rng(4).random((len(a), 1))
    x = a + t * (b - a)
    normal = np.stack([b[:, 1] - a[:, 1], a[:, 0] - b[:, 0]], -1)
    x_off = x + 1e-14 * normal / np.linalg.norm(normal, axis=1, keepdims=True)  # round-off to one side
    for pts in (x, x_off, x - (x_off - x)):
        np.testing.assert_allclose(field.at(pts), _linear(pts), rtol=0, atol=ROUND_OFF)


def test_plate_hole_points_in_the_hole(plate):
    field = Field(_linear(plate.points), plate, ("a", "b"))
    r_in = _hole_inradius(plate)
    rng = np.random.default_rng(5)
    ang = rng.uniform(0, 2 * np.pi, 40)
    hole = CENTRE + (r_in * rng.uniform(0.0, 0.999, 40))[:, None] * np.stack([np.cos(ang), np.sin(ang)], -1)
    inside = np.random.default_rng(6).random((60, 2))
    inside = inside[np.linalg.norm(inside - CENTRE, axis=1) > 0.21]
    x = np.concatenate([inside, hole, [[1.5, 0.5]]])
    n_in = len(inside)
    with pytest.raises(ValueError) as exc:
        field.at(x)
    msg = _one_line(exc)
    assert f"41 of {len(x)} points are outside the mesh (1425 triangle" in msg and "[0, 1] x [0, 1]" in msg
    nan = field.at(x, outside="nan")
    assert np.isfinite(nan[:n_in]).all() and np.isnan(nan[n_in:]).all()
    near = field.at(x, outside="nearest")
    nodes = np.unique(plate.cells[0][1])
    closest = nodes[np.argmin(np.linalg.norm(x[n_in:, None] - plate.points[nodes], axis=-1), axis=1)]
    np.testing.assert_array_equal(near[n_in:], field.values[closest])
    np.testing.assert_array_equal(near[:n_in], nan[:n_in])


def test_cell_search_agrees_with_brute_force(plate):
    rng = np.random.default_rng(7)
    x = rng.uniform(-0.05, 1.05, (1000, 2))
    field = Field(_linear(plate.points), plate, ("a", "b"))
    found = np.isfinite(field.at(x, outside="nan")[:, 0])
    np.testing.assert_array_equal(found, _brute_inside(plate.points, plate.cells[0][1], x))
    tets = _cavity_tets()
    x3 = rng.uniform(-0.02, 1.02, (500, 3))
    found3 = np.isfinite(Field(_linear(tets.points), tets, ("a", "b")).at(x3, outside="nan")[:, 0])
    np.testing.assert_array_equal(found3, _brute_inside(tets.points, tets.cells[0][1], x3))
    assert 0 < (~found3).sum() < len(x3)


def test_tetra_mesh_with_a_cavity():
    mesh = _cavity_tets()
    field = Field(_linear(mesh.points), mesh, ("a", "b"))
    rng = np.random.default_rng(8)
    x = rng.random((3000, 3))
    keep = np.abs(x - 0.5).max(1) > 0.45  # within 0.05 of the cube's faces: far from the cavity
    np.testing.assert_allclose(field.at(x[keep]), _linear(x[keep]), rtol=0, atol=ROUND_OFF)
    cavity = 0.5 + rng.uniform(-0.05, 0.05, (50, 3))
    assert np.isnan(field.at(cavity, outside="nan")).all()
    with pytest.raises(ValueError, match="50 of 50 points are outside the mesh"):
        field.at(cavity)


def test_quad_and_hexahedron_meshes_split_into_simplices():
    for grid in (Grid((5, 4), ((0.0, 1.0), (-1.0, 1.0))), Grid((4, 3, 5), ((0.0, 1.0),) * 3)):
        mesh = grid.to_mesh()  # quads / hexahedra
        field = Field(_linear(mesh.points), mesh, ("a", "b"))
        lo, hi = np.array(grid.bounds).T
        x = lo + np.random.default_rng(9).random((400, grid.dim)) * (hi - lo)
        np.testing.assert_allclose(field.at(x), _linear(x), rtol=0, atol=ROUND_OFF)
    # one mesh with a block of quads and a block of triangles (the other half of the square)
    quads = Grid((5, 5), ((0.0, 1.0), (0.0, 1.0))).to_mesh()
    q = quads.cells[0][1]
    left = quads.points[q].mean(1)[:, 0] < 0.5
    tris = np.concatenate([q[~left][:, [0, 1, 3]], q[~left][:, [1, 2, 3]]])  # the other diagonal
    mixed = Mesh(quads.points, [("quad", q[left]), ("triangle", tris)])
    x = np.random.default_rng(16).random((300, 2))
    field = Field(_linear(mixed.points), mixed, ("a", "b"))
    np.testing.assert_allclose(field.at(x), _linear(x), rtol=0, atol=ROUND_OFF)


def test_points_within_tol_outside_get_the_boundary_value():
    mesh = Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), [("triangle", np.array([[0, 1, 2]]))])
    field = Field(mesh.points[:, 1:], mesh, ("y",))  # u = y, 0 on the edge y = 0
    x = np.array([[0.5, -1e-3]])
    with pytest.raises(ValueError, match="1 of 1 points are outside"):
        field.at(x)
    # inside by the tolerance: the weights are clipped to the cell (a convex combination), no extrapolation
    assert field.at(x, tol=0.01)[0, 0] == 0.0


def _plate_script():
    spec = importlib.util.spec_from_file_location("plate_hole", ROOT / "meshes" / "plate_hole.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mesh_second_order(tmp_path):
    pytest.importorskip("gmsh")
    script = _plate_script()
    x = np.random.default_rng(10).random((20000, 2))
    x = x[np.linalg.norm(x - CENTRE, axis=1) > 0.21]
    hs = np.array([0.1, 0.05, 0.025])
    err = []
    for h in hs:
        mesh = Mesh.read(script.build(h, tmp_path / f"plate_{h}.msh"))
        field = Field(_smooth(mesh.points)[:, None], mesh, ("u",))
        err.append(np.sqrt(np.mean((field.at(x)[:, 0] - _smooth(x)) ** 2)))
    order = _order(hs, np.array(err))
    # piecewise-linear interpolation errs by O(h^2); the gmsh meshes are not nested, so the error
    # constant changes by a few percent from one mesh to the next: measured 1.97 (pairwise 1.94, 2.01)
    assert abs(order - 2.0) < 0.15, order


# ---- point clouds -------------------------------------------------------------------------
def test_point_cloud_matches_linear_nd_interpolator():
    rng = np.random.default_rng(11)
    cloud = rng.random((300, 2))
    values = np.stack([_smooth(cloud), cloud[:, 0] - cloud[:, 1]], -1)
    field = Field(values, cloud, ("u", "v"))
    x = rng.uniform(-0.1, 1.1, (2000, 2))
    ours = field.at(x, outside="nan")
    ref = LinearNDInterpolator(cloud, values)(x)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=ROUND_OFF)  # the same triangulation, summed differently
    inside = np.isfinite(ours[:, 0])
    np.testing.assert_allclose(ours[inside, 1], x[inside, 0] - x[inside, 1], atol=ROUND_OFF)  # linear: exact
    near = field.at(x, outside="nearest")
    closest = np.argmin(np.linalg.norm(x[~inside, None] - cloud, axis=-1), axis=1)
    np.testing.assert_array_equal(near[~inside], values[closest])
    with pytest.raises(ValueError, match=r"points are outside the convex hull of the 300 points"):
        field.at(x)
    # points on the hull's edges, pushed outwards by round-off, are inside
    tri = Delaunay(cloud)
    a, b = cloud[tri.convex_hull[:, 0]], cloud[tri.convex_hull[:, 1]]
    mid = 0.5 * (a + b)
    out = np.stack([b[:, 1] - a[:, 1], a[:, 0] - b[:, 0]], -1)
    out *= np.sign(np.sum(out * (mid - cloud.mean(0)), axis=1, keepdims=True)) / np.linalg.norm(out, axis=1)[:, None]
    edge = mid + 1e-13 * out
    np.testing.assert_allclose(field.at(edge)[:, 1], edge[:, 0] - edge[:, 1], atol=ROUND_OFF)


def test_point_clouds_in_1d_and_3d():
    rng = np.random.default_rng(12)
    line = rng.permutation(np.linspace(-1.0, 2.0, 40))  # unsorted
    field = Field(_linear(line[:, None]), line[:, None], ("a", "b"))
    x = rng.uniform(-1.0, 2.0, 300)
    np.testing.assert_allclose(field.at(x), _linear(x[:, None]), rtol=0, atol=ROUND_OFF)  # (m,) in 1D
    with pytest.raises(ValueError, match=r"1 of 1 points are outside .* bounds \[-1, 2\]"):
        field.at([[2.5]])
    cloud = rng.random((200, 3))
    field3 = Field(_linear(cloud).astype(np.float32), cloud, ("a", "b"))
    y = 0.3 + 0.4 * rng.random((300, 3))
    out = field3.at(y)
    assert out.dtype == np.float32
    # float32 values: the interpolant of their rounded values, compared with float32 resolution
    np.testing.assert_allclose(out, _linear(y), rtol=0, atol=1e-5)


# ---- time series, channels, dtype ---------------------------------------------------------
def test_time_series_linear_in_time():
    grid = Grid((6, 5), ((0.0, 1.0), (0.0, 1.0)))
    p = grid.points()
    times = np.array([0.0, 0.5, 1.5, 2.0])  # uneven steps

    def f(p, t):
        return (1.0 + 2.0 * t)[:, None, None] * _linear(p)[None]  # linear in x and in t

    field = Field(f(p, times).reshape(4, 6, 5, 2), grid, ("a", "b"), times)
    x = np.random.default_rng(13).random((100, 2))
    np.testing.assert_allclose(field.at(x), f(x, times), rtol=0, atol=ROUND_OFF)  # stored steps
    t = np.array([0.25, 1.0, 2.0, 0.0])
    np.testing.assert_allclose(field.at(x, t), f(x, t), rtol=0, atol=ROUND_OFF)
    one = field.at(x, 1.2)
    assert one.shape == (100, 2)
    np.testing.assert_allclose(one, f(x, np.array([1.2]))[0], rtol=0, atol=ROUND_OFF)
    with pytest.raises(ValueError) as exc:
        field.at(x, [1.0, 2.5])
    assert "1 of 2 times are outside the stored range [0, 2]" in _one_line(exc)
    late = field.at(x, [1.0, 2.5, -1.0], outside="nan")
    assert np.isfinite(late[0]).all() and np.isnan(late[1:]).all()
    np.testing.assert_allclose(field.at(x, [2.5, -1.0], outside="nearest"), f(x, np.array([2.0, 0.0])), atol=1e-12)
    np.testing.assert_allclose(field.at(x, 2.0 * (1 + 1e-15)), f(x, np.array([2.0]))[0], atol=ROUND_OFF)


def test_channels_dtype_and_on(plate):
    values = _linear(plate.points)[:, ::-1].astype(np.float32)
    field = Field(values, plate, ("v", "u"))
    x = np.random.default_rng(14).random((50, 2))
    x = x[np.linalg.norm(x - CENTRE, axis=1) > 0.21]
    out = field.at(x)
    assert out.dtype == np.float32 and out.shape == (len(x), 2)
    np.testing.assert_allclose(out, _linear(x)[:, ::-1], atol=1e-5)  # float32 values: float32 resolution
    ints = Field(np.arange(plate.n_points)[:, None] * 2, plate, ("i",)).at(plate.points[:3])
    assert ints.dtype == np.float64
    np.testing.assert_allclose(ints[:, 0], [0.0, 2.0, 4.0])
    # onto a grid covering the plate (the hole's nodes are NaN) and back onto the mesh's nodes
    grid = Grid((41, 41), ((0.0, 1.0), (0.0, 1.0)))
    on_grid = Field(_linear(plate.points), plate, ("a", "b")).on(grid, outside="nan")
    assert on_grid.support is grid and on_grid.names == ("a", "b") and on_grid.values.shape == (41, 41, 2)
    filled = np.isfinite(on_grid.values[..., 0])
    assert 0.8 < filled.mean() < 0.9  # the disk of radius 0.2 covers 12.6% of the square
    full = Field(_linear(grid.points()).reshape(41, 41, 2), grid, ("a", "b"))
    back = full.on(plate)
    assert back.support is plate
    np.testing.assert_allclose(back.values, _linear(plate.points), atol=ROUND_OFF)  # bilinear is exact on linear
    assert np.asarray(Field(_linear(plate.points), plate, ("a", "b")).on(x).support).shape == x.shape


def test_time_series_on_a_mesh_keeps_times(plate):
    times = np.array([0.0, 1.0])
    values = np.stack([_linear(plate.points), 3 * _linear(plate.points)])
    field = Field(values, plate, ("a", "b"), times)
    x = np.array([[0.1, 0.1], [0.9, 0.2]])
    moved = field.on(x, [0.5])
    assert moved.values.shape == (1, 2, 2)
    np.testing.assert_allclose(moved.times, [0.5])
    np.testing.assert_allclose(moved.values[0], 2 * _linear(x), atol=ROUND_OFF)
    assert field.on(x).times is times


# ---- search structures are built once ------------------------------------------------------
def test_search_structure_is_cached_per_support(plate):
    a = Field(_linear(plate.points), plate, ("a", "b"))
    b = Field(plate.points[:, :1], plate, ("x",))
    a.at([[0.1, 0.1]])
    built = fields._STRUCTURES[id(plate)][1]
    b.at([[0.2, 0.1]])
    assert fields._STRUCTURES[id(plate)][1] is built
    own = Mesh(plate.points.copy(), [("triangle", plate.cells[0][1].copy())])
    Field(_linear(own.points), own, ("a", "b")).at([[0.1, 0.1]])
    key = id(own)
    assert key in fields._STRUCTURES
    cloud = np.random.default_rng(15).random((30, 2))
    Field(_linear(cloud), cloud, ("a", "b")).at([[0.5, 0.5]], outside="nan")
    cloud_key = id(cloud)
    assert cloud_key in fields._STRUCTURES
    del own, cloud
    gc.collect()
    assert key not in fields._STRUCTURES and cloud_key not in fields._STRUCTURES  # dropped with their support


# ---- bad input: one clear line --------------------------------------------------------------
@pytest.mark.parametrize(
    "points, kwargs, match",
    [
        (np.zeros((3, 3)), {}, r"points must be an \(m, 2\) array for a field on a 2-D support, got shape \(3, 3\)"),
        (np.zeros(2), {}, r"got shape \(2,\)"),
        (
            [[0.1, np.nan], [0.2, 0.2], [np.inf, 0.0]],
            {},
            r"NaN or infinite coordinates \(2 of 3 points, first at row 0",
        ),
        ([["a", "b"]], {}, r"points must be an \(m, 2\) array of numbers"),
        ([[0.1, 0.1]], {"outside": "zero"}, r"outside='zero' is not one of 'raise', 'nan', 'nearest'"),
        ([[0.1, 0.1]], {"tol": -1.0}, r"tol must be in \[0, 0.1\)"),
        ([[0.1, 0.1]], {"times": [0.0]}, r"times were given but the field is not a time series"),
    ],
)
def test_bad_input_is_one_line(plate, points, kwargs, match):
    field = Field(_linear(plate.points), plate, ("a", "b"))
    with pytest.raises(ValueError, match=match) as exc:
        field.at(points, **kwargs)
    _one_line(exc)


def test_bad_supports_and_times_are_one_line():
    surface = Mesh(np.eye(3), [("triangle", np.array([[0, 1, 2]]))])  # a triangle in 3D space
    with pytest.raises(ValueError, match=r"mesh of 2-D cells in 3-D space") as exc:
        Field(np.zeros((3, 1)), surface, ("u",)).at([[0.2, 0.2, 0.6]])
    _one_line(exc)
    line = np.stack([np.linspace(0, 1, 5)] * 2, -1)  # 2D points all on one line
    with pytest.raises(ValueError, match=r"cannot triangulate the point cloud of 5 points in 2-D") as exc:
        Field(np.zeros((5, 1)), line, ("u",)).at([[0.5, 0.5]])
    _one_line(exc)
    grid = Grid((3,), ((0.0, 1.0),))
    series = Field(np.zeros((2, 3, 1)), grid, ("u",), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"times must be a number or a 1-D array of finite numbers") as exc:
        series.at([[0.5]], [np.nan])
    _one_line(exc)


def test_empty_points():
    grid = Grid((3, 3), ((0.0, 1.0), (0.0, 1.0)))
    field = Field(np.zeros((3, 3, 2)), grid, ("a", "b"))
    assert field.at(np.zeros((0, 2))).shape == (0, 2)
    mesh = grid.to_mesh()
    assert Field(np.zeros((9, 2)), mesh, ("a", "b")).at(np.zeros((0, 2))).shape == (0, 2)
