r"""Poisson on the unit square minus a random star-shaped hole, one mesh per sample (CORAL's static,
varying-geometry task).

``poisson_hole``: :math:`-\Delta u = f` in :math:`\Omega = [0,1]^2 \setminus H`, u = 0 on the outer
square and on the hole's boundary. Each sample draws its own hole and source, and is meshed by gmsh
and solved by P1 finite elements (:func:`sciml.solvers.fem_poisson.solve_poisson`).

**Hole.** Centre :math:`c = (0.5, 0.5) + U[-s, s]^2` (``centre_shift`` s) and boundary
:math:`r(\theta) = r_0\,(1 + \sum_{k=1}^{K} a_k\cos k\theta + b_k\sin k\theta)` in polar coordinates
about c, with :math:`r_0 \sim U[` ``r0_range`` :math:`]` and K = ``modes``. The raw coefficients are
normal with standard deviation 1/k (low modes dominate: smooth shapes); they are then scaled so that
:math:`\sum_k \sqrt{a_k^2 + b_k^2} = \delta`, with :math:`\delta \sim U[0,` ``perturbation`` :math:`]`.
Hence :math:`r_0(1-\delta) \le r(\theta) \le r_0(1+\delta)`: with the defaults (r0 in [0.15, 0.25],
perturbation 0.3) every radius lies in [0.105, 0.325], inside the bounds [0.1, 0.35] (r > 0 keeps the
hole star-shaped about c). The lower bound keeps the hole resolved (at least h, so ≥ 12 mesh edges
around it); the upper one, with the shift of at most 0.05, leaves a gap of at least 0.125 between the
hole and the square (2.5 elements at the default h), so the hole takes 3–33 % of the square.
The builder refuses options for which the hole could be smaller than h or come closer than h to the
square.

**Mesh.** gmsh (built-in kernel): the square's four sides and a closed spline through
``max(64, 16 K)`` points of r(θ); linear triangles (Frontal-Delaunay), size h on the square and h/2 on
the hole; meshing is single-threaded with a fixed random seed, so a seed gives the same meshes. The
default h = 0.05 gives about 700–900 nodes per sample. Point tags ``outer`` and ``hole`` name the
boundary nodes.

**Source.** A sum of ``bumps`` (count uniform in the inclusive range) Gaussians
:math:`\eta\,\exp(-|x - x_0|^2 / (2 w^2))`, centres :math:`x_0` uniform in Ω, widths
w ~ U[``width_range``] and heights η ~ U[``height_range``] (signed by default, so u takes both signs).
The load vector integrates f exactly at the quadrature points.

Stored per sample at the mesh nodes: input ``a`` with channels ``f`` (the source) and ``dist`` (the
distance to the hole's boundary, the mesh's boundary polygon, so 0 on the hole's nodes: the input
carries the geometry), output ``u``; parameters ``r0``, ``cx``, ``cy`` and ``a1..aK``, ``b1..bK``
(the hole's coefficients). The samples' meshes are written as per-sample supports (format version 2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from ..config import OptionError
from ..mesh import Mesh
from ..registry import PROBLEMS
from ..solvers.fem_poisson import solve_poisson
from .base import DatasetSpec, Param, Problem, check_int, check_number, resolve_params

PARAMS: dict[str, Param] = {}  # the geometry and the source are drawn per sample (dataset params)
NAME = "poisson_hole"
HOLE_SIZE = 0.5  # mesh size on the hole, relative to h
_GMSH_OPTIONS = {  # set for each meshing, restored afterwards when gmsh was already running
    "General.Terminal": 0,
    "General.Verbosity": 0,
    "General.NumThreads": 1,
    "Mesh.RandomSeed": 1,
    "Mesh.Algorithm": 6,  # Frontal-Delaunay
    "Mesh.ElementOrder": 1,
    "Mesh.MeshSizeFromPoints": 1,
    "Mesh.MeshSizeFromCurvature": 0,
    "Mesh.MeshSizeExtendFromBoundary": 1,
}


# ---- geometry -------------------------------------------------------------------------------------
def hole_radius(theta: np.ndarray, r0: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """r(θ) = r0 (1 + Σ_k a_k cos kθ + b_k sin kθ), k = 1..len(a)."""
    theta = np.asarray(theta, dtype=np.float64)
    k = np.arange(1, len(a) + 1)
    kt = theta[..., None] * k
    return r0 * (1.0 + np.cos(kt) @ np.asarray(a) + np.sin(kt) @ np.asarray(b))


def draw_hole(rng: np.random.Generator, r0_range, modes: int, perturbation: float, centre_shift: float) -> dict:
    """One hole: ``{"r0", "cx", "cy", "a" (K,), "b" (K,)}`` with Σ_k |(a_k, b_k)| ≤ ``perturbation``."""
    r0 = rng.uniform(r0_range[0], r0_range[1])
    cx, cy = 0.5 + rng.uniform(-centre_shift, centre_shift, size=2)
    k = np.arange(1, modes + 1)
    ab = rng.standard_normal((2, modes)) / k
    size = np.hypot(ab[0], ab[1]).sum()
    delta = perturbation * rng.uniform()
    ab = ab * (delta / size) if size > 0 else ab
    return {"r0": r0, "cx": cx, "cy": cy, "a": ab[0], "b": ab[1]}


@contextlib.contextmanager
def _gmsh_session() -> Iterator:
    """gmsh, quiet and deterministic: initialized here (without its SIGINT handler) unless it already
    runs, in which case the options set here are restored and the caller's current model kept."""
    try:
        import gmsh  # type: ignore[import-untyped]
    except ImportError:
        raise ImportError(f"{NAME}: meshing its samples needs gmsh (pip install 'sciml[mesh]')") from None

    owned = not gmsh.isInitialized()
    if owned:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
        saved: dict[str, float] = {}
        previous = ""
    else:
        saved = {k: gmsh.option.getNumber(k) for k in _GMSH_OPTIONS}
        previous = gmsh.model.getCurrent()
    try:
        for k, v in _GMSH_OPTIONS.items():
            gmsh.option.setNumber(k, v)
        yield gmsh
    finally:
        if owned:
            gmsh.finalize()
        else:
            for name, value in saved.items():
                gmsh.option.setNumber(name, value)
            if previous:
                gmsh.model.setCurrent(previous)


def _mesh_one(gmsh, hole: dict, h: float) -> Mesh:
    geo = gmsh.model.geo
    corners = [geo.addPoint(x, y, 0.0, h) for x, y in ((0, 0), (1, 0), (1, 1), (0, 1))]
    sides = [geo.addLine(corners[i], corners[(i + 1) % 4]) for i in range(4)]
    n = max(64, 16 * len(hole["a"]))
    theta = 2 * np.pi * np.arange(n) / n
    r = hole_radius(theta, hole["r0"], hole["a"], hole["b"])
    xs, ys = hole["cx"] + r * np.cos(theta), hole["cy"] + r * np.sin(theta)
    ring = [geo.addPoint(float(x), float(y), 0.0, HOLE_SIZE * h) for x, y in zip(xs, ys)]
    spline = geo.addSpline([*ring, ring[0]])  # closed
    surface = geo.addPlaneSurface([geo.addCurveLoop(sides), geo.addCurveLoop([spline])])
    geo.synchronize()
    outer_group = gmsh.model.addPhysicalGroup(1, sides, name="outer")
    hole_group = gmsh.model.addPhysicalGroup(1, [spline], name="hole")
    gmsh.model.addPhysicalGroup(2, [surface], name="domain")
    gmsh.option.setNumber("Mesh.RandomSeed", _GMSH_OPTIONS["Mesh.RandomSeed"])
    gmsh.model.mesh.generate(2)
    tags, xyz, _ = gmsh.model.mesh.getNodes()
    _, tri_tags = gmsh.model.mesh.getElementsByType(2)
    # keep the triangles' nodes only (the spline's control points are isolated model points), in gmsh order
    index = np.full(int(tags.max()) + 1, -1, dtype=np.int64)
    index[tags.astype(np.int64)] = np.arange(len(tags))
    tri = index[tri_tags.astype(np.int64)].reshape(-1, 3)
    used = np.unique(tri)
    local = np.full(len(tags), -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    points = xyz.reshape(-1, 3)[used, :2]

    def group(tag: int) -> np.ndarray:
        nodes = gmsh.model.mesh.getNodesForPhysicalGroup(1, tag)[0].astype(np.int64)
        return np.sort(local[index[nodes]])

    return Mesh(points, [("triangle", local[tri])], {"outer": group(outer_group), "hole": group(hole_group)})


def hole_mesh(hole: dict, h: float) -> Mesh:
    """The gmsh triangle mesh of the unit square minus ``hole`` (from :func:`draw_hole`), size ``h``
    (h/2 on the hole), with point tags ``outer`` and ``hole``."""
    return hole_meshes([hole], h)[0]


def hole_meshes(holes: list[dict], h: float) -> list[Mesh]:
    """:func:`hole_mesh` of every hole, in one gmsh session."""
    out = []
    with _gmsh_session() as gmsh:
        for i, hole in enumerate(holes):
            gmsh.model.add(f"{NAME}_{i}")
            try:
                out.append(_mesh_one(gmsh, hole, h))
            finally:
                gmsh.model.remove()
    return out


def hole_distance(mesh: Mesh) -> np.ndarray:
    """Distance from every point to the mesh's hole boundary (the polygon of its ``hole`` edges)."""
    tri = mesh.cells_of_dim(2)[0][1]
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    on_hole = np.zeros(mesh.n_points, dtype=bool)
    on_hole[mesh.point_tags["hole"]] = True
    bnd = uniq[(counts == 1) & on_hole[uniq[:, 0]] & on_hole[uniq[:, 1]]]
    a, b = mesh.points[bnd[:, 0]], mesh.points[bnd[:, 1]]
    ab = b - a
    out = np.empty(mesh.n_points)
    for start in range(0, mesh.n_points, 4096):  # blocks of points: (4096, edges, 2) arrays at most
        p = mesh.points[start : start + 4096, None]
        s = np.clip(np.einsum("ped,ed->pe", p - a[None], ab) / np.einsum("ed,ed->e", ab, ab), 0.0, 1.0)
        out[start : start + 4096] = np.linalg.norm(p - (a[None] + s[..., None] * ab[None]), axis=-1).min(1)
    return out


# ---- source ---------------------------------------------------------------------------------------
def draw_source(rng: np.random.Generator, hole: dict, bumps, width_range, height_range) -> np.ndarray:
    """``(k, 4)`` Gaussian bumps (centre x, centre y, width, height), centres uniform in the domain."""
    k = int(rng.integers(bumps[0], bumps[1] + 1))
    centres = np.zeros((0, 2))
    while len(centres) < k:  # rejection from the square: the hole covers at most about a third of it
        x = rng.random((2 * k, 2))
        rel = x - (hole["cx"], hole["cy"])
        outside = np.hypot(*rel.T) > hole_radius(np.arctan2(rel[:, 1], rel[:, 0]), hole["r0"], hole["a"], hole["b"])
        centres = np.concatenate([centres, x[outside]])
    widths = rng.uniform(width_range[0], width_range[1], size=k)
    heights = rng.uniform(height_range[0], height_range[1], size=k)
    return np.column_stack([centres[:k], widths, heights])


def gaussian_source(bumps: np.ndarray):
    """f(x) = Σ η exp(-|x - x0|² / (2 w²)) of ``x (2, ...)``, for bumps ``(k, 4)`` from :func:`draw_source`."""

    def f(x: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(x)[1:])
        for cx, cy, w, eta in bumps:
            out = out + eta * np.exp(-((x[0] - cx) ** 2 + (x[1] - cy) ** 2) / (2 * w * w))
        return out

    return f


# ---- options --------------------------------------------------------------------------------------
def _range(name: str, v, lo: float = -np.inf, strict: bool = False, integer: bool = False) -> list:
    """A pair [low, high] with low <= high, each checked like a single option."""
    if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__len__") or len(v) != 2:
        raise OptionError(name, f"{NAME}: {name} must be a pair [low, high], got {v!r}")
    pair: list[float]
    try:
        if integer:
            pair = [check_int(NAME, f"{name}[{i}]", x, int(lo)) for i, x in enumerate(v)]
        else:
            pair = [check_number(NAME, f"{name}[{i}]", x, lo, strict) for i, x in enumerate(v)]
    except OptionError as exc:  # the option is the pair's keyword
        raise OptionError(name, str(exc)) from None
    if pair[0] > pair[1]:
        raise OptionError(name, f"{NAME}: {name} = {list(v)} must have low <= high")
    return pair


@PROBLEMS.register(NAME)
def poisson_hole(
    *,
    params: dict | None = None,
    h: float = 0.05,
    r0_range=(0.15, 0.25),
    modes: int = 3,
    perturbation: float = 0.3,
    centre_shift: float = 0.05,
    bumps=(2, 4),
    width_range=(0.08, 0.2),
    height_range=(-10.0, 10.0),
) -> Problem:
    """Poisson on the unit square minus a random star-shaped hole, each sample with its own gmsh mesh; P1 FE."""
    p = resolve_params(NAME, PARAMS, params)
    h = check_number(NAME, "h", h, 0.0, strict=True)
    r0_range = _range("r0_range", r0_range, 0.0, strict=True)
    modes = check_int(NAME, "modes", modes, 0)
    perturbation = check_number(NAME, "perturbation", perturbation, 0.0)
    if perturbation >= 1:
        raise OptionError("perturbation", f"{NAME}: perturbation must be < 1 (r > 0), got {perturbation!r}")
    centre_shift = check_number(NAME, "centre_shift", centre_shift, 0.0)
    bumps = _range("bumps", bumps, 1, integer=True)
    width_range = _range("width_range", width_range, 0.0, strict=True)
    height_range = _range("height_range", height_range)
    r_min, r_max = r0_range[0] * (1 - perturbation), r0_range[1] * (1 + perturbation)
    if r_min < h:
        raise OptionError(
            "h",
            f"{NAME}: h = {h:g} is larger than the smallest hole radius r0_range[0] * (1 - perturbation) = "
            f"{r_min:g}; choose h <= {r_min:g} so the hole is resolved",
        )
    if r_max + centre_shift > 0.5 - h:
        raise OptionError(
            "r0_range",
            f"{NAME}: r0_range = {r0_range} with perturbation {perturbation:g} and centre_shift {centre_shift:g} "
            f"lets the hole reach {0.5 + r_max + centre_shift:g}; it must stay h = {h:g} inside the square "
            f"(r0_range[1] * (1 + perturbation) + centre_shift <= 0.5 - h)",
        )

    def generate(n_samples: int, rng: np.random.Generator):
        holes, sources = [], []
        for _ in range(n_samples):
            holes.append(draw_hole(rng, r0_range, modes, perturbation, centre_shift))
            sources.append(draw_source(rng, holes[-1], bumps, width_range, height_range))
        meshes = hole_meshes(holes, h)
        a, u = [], []
        for mesh, src in zip(meshes, sources):
            f = gaussian_source(src)
            u.append(solve_poisson(mesh, f, ("outer", "hole"))[:, None])
            a.append(np.column_stack([f(mesh.points.T), hole_distance(mesh)]))
        par = {k: np.array([hole[k] for hole in holes]) for k in ("r0", "cx", "cy")}
        for k in range(modes):
            par[f"a{k + 1}"] = np.array([hole["a"][k] for hole in holes])
            par[f"b{k + 1}"] = np.array([hole["b"][k] for hole in holes])
        return {"a": a, "u": u}, meshes, {"params": par}

    settings = {
        # no "shape": every sample has its own mesh (format version 2); its points are 2D
        "ndim": 2,
        "h": h,
        "r0_range": r0_range,
        "modes": modes,
        "perturbation": perturbation,
        "centre_shift": centre_shift,
        "bumps": bumps,
        "width_range": width_range,
        "height_range": height_range,
    }
    return Problem(
        name=NAME,
        inputs=("a",),
        outputs=("u",),
        params=p,
        dataset=DatasetSpec(generate, {"a": "input", "u": "output"}, {"a": ["f", "dist"], "u": ["u"]}, settings),
    )
