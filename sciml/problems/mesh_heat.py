r"""Heat / advection–diffusion trajectories on an unstructured triangle mesh, for mesh-graph solvers.

``mesh_heat``: :math:`u_t + b\cdot\nabla u = \kappa\,\Delta u` on the gmsh mesh
``meshes/plate_hole.msh`` (the unit square minus a disk of radius 0.2 at its centre; 778 nodes,
1425 linear triangles) with u = 0 on the ``dirichlet`` tags (default the outer square) and an
insulated rest (the hole). Each sample draws κ ~ U[``kappa_range``] and, with ``advection``, a
constant velocity of speed |b| ~ U[``speed_range``] in a uniformly random direction (b = 0
otherwise); ``flow: uniform`` makes b constant in space, ``flow: cylinder`` (default) the potential
flow past the hole with far-field velocity b (tangential on the hole, speed up to 2|b| there). With
uniform flow, u advected into the insulated hole leaves the domain (the hole is a sink on its
upstream side; see :mod:`sciml.solvers.fem_heat`); cylinder flow keeps the hole a true wall. The
initial condition is a sum of ``bumps`` (count uniform in the inclusive range)
Gaussian bumps :math:`a\,\exp(-|x - c|^2 / (2 w^2))` with centres c uniform in the mesh domain,
widths w ~ U[``width_range``] and amplitudes a ~ U[``amplitude_range``], multiplied by
:math:`\tanh(d/0.1)` with d the distance to the Dirichlet boundary, so it vanishes there smoothly.

Reference solver: P1 finite elements, Crank–Nicolson with ``substeps`` equal steps per stored
interval (:func:`sciml.solvers.solve_heat`). Stored: the trajectory ``u`` of shape
``(N, nt, n_nodes, 1)`` at ``nt`` equally spaced times over [0, ``t_end``] (t = 0 included), the
times, and the per-sample parameters ``kappa``, ``bx``, ``by`` (b = 0 without advection). The
default t_end = 1 with κ ≤ 0.02 leaves the solution far from decayed (diffusion length
√(2κt) ≤ 0.2; the slowest mode, λ₁ ≈ 30.5, keeps e^{-κλ₁} ≈ 0.54–0.86 of its amplitude).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import OptionError
from ..mesh import Mesh
from ..registry import PROBLEMS
from ..solvers.fem_heat import DEFAULT_DIRICHLET, _triangles, cylinder_flow, dirichlet_nodes, solve_heat
from .base import DatasetSpec, Param, Problem, resolve_params

PARAMS: dict[str, Param] = {}  # κ and b are drawn per sample (dataset params), not problem parameters
DEFAULT_MESH = "meshes/plate_hole.msh"
TAPER = 0.1  # length scale of the tanh(d / TAPER) factor that makes u0 vanish on the Dirichlet boundary


def _read_mesh(path: str) -> Mesh:
    if not isinstance(path, (str, Path)):
        raise OptionError("mesh", f"mesh_heat: mesh must be a path to a mesh file, got {path!r}")
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = Path(__file__).resolve().parents[2] / path  # the repository's meshes/
    if not p.exists():
        raise OptionError("mesh", f"mesh_heat: mesh file {path!r} not found")
    try:
        return Mesh.read(p)
    except ValueError as exc:
        raise OptionError("mesh", f"mesh_heat: {exc}") from None


def _number(name: str, v, lo: float, strict: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or (v <= lo if strict else v < lo):
        raise ValueError(f"mesh_heat: {name} must be a finite number {'>' if strict else '>='} {lo}, got {v!r}")
    return float(v)


def _int(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"mesh_heat: {name} must be an integer >= {lo}, got {v!r}")
    return v


def _range(name: str, v, lo: float, strict: bool = True, integer: bool = False) -> list:
    """A [low, high] pair with lo < (or <=) low <= high."""
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) != 2:
        raise ValueError(f"mesh_heat: {name} must be a pair [low, high], got {v!r}")
    a = [
        _int(f"{name}[{i}]", x, int(lo)) if integer else _number(f"{name}[{i}]", x, lo, strict) for i, x in enumerate(v)
    ]
    if a[0] > a[1]:
        raise ValueError(f"mesh_heat: {name} = {list(v)} must have low <= high")
    return a


def _dirichlet_distance(pts: np.ndarray, tri: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Distance from every point to the boundary edges whose two nodes are both Dirichlet nodes."""
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    bnd = uniq[counts == 1]
    bnd = bnd[fixed[bnd[:, 0]] & fixed[bnd[:, 1]]]
    if len(bnd) == 0:  # isolated Dirichlet nodes only: distance to the nodes
        if not fixed.any():
            return np.full(len(pts), np.inf)
        return np.linalg.norm(pts[:, None] - pts[fixed][None], axis=-1).min(1)
    a, b = pts[bnd[:, 0]], pts[bnd[:, 1]]  # (e, 2)
    ab = b - a
    s = np.clip(np.einsum("ped,ed->pe", pts[:, None] - a[None], ab) / np.einsum("ed,ed->e", ab, ab), 0.0, 1.0)
    return np.linalg.norm(pts[:, None] - (a[None] + s[..., None] * ab[None]), axis=-1).min(1)


def initial_conditions(pts, tri, taper, n_samples, rng, bumps, width_range, amplitude_range) -> np.ndarray:
    """(N, n) sums of Gaussian bumps centred uniformly in the mesh domain, times ``taper``."""
    x = pts[tri]
    area = 0.5 * np.abs(
        (x[:, 1, 0] - x[:, 0, 0]) * (x[:, 2, 1] - x[:, 0, 1]) - (x[:, 1, 1] - x[:, 0, 1]) * (x[:, 2, 0] - x[:, 0, 0])
    )
    cdf = np.cumsum(area) / area.sum()
    u0 = np.zeros((n_samples, len(pts)))
    for s in range(n_samples):
        k = int(rng.integers(bumps[0], bumps[1] + 1))
        cell = np.minimum(np.searchsorted(cdf, rng.random(k)), len(tri) - 1)
        r1, r2 = rng.random(k), rng.random(k)  # uniform point in a triangle
        sq = np.sqrt(r1)
        lam = np.stack([1 - sq, sq * (1 - r2), sq * r2], 1)
        centres = np.einsum("kv,kvd->kd", lam, x[cell])
        widths = rng.uniform(*width_range, size=k)
        amps = rng.uniform(*amplitude_range, size=k)
        d2 = ((pts[None] - centres[:, None]) ** 2).sum(-1)  # (k, n)
        u0[s] = (amps[:, None] * np.exp(-d2 / (2 * widths[:, None] ** 2))).sum(0)
    return u0 * taper


@PROBLEMS.register("mesh_heat")
def mesh_heat(
    *,
    params: dict | None = None,
    mesh: str = DEFAULT_MESH,
    nt: int = 50,
    t_end: float = 1.0,
    kappa_range=(0.005, 0.02),
    advection: bool = False,
    speed_range=(0.0, 0.5),
    flow: str = "cylinder",
    dirichlet=DEFAULT_DIRICHLET,
    substeps: int = 4,
    bumps=(2, 4),
    width_range=(0.05, 0.15),
    amplitude_range=(0.5, 1.0),
) -> Problem:
    """Heat / advection–diffusion trajectories on a triangle mesh (plate with a hole); P1 FE, Crank–Nicolson."""
    p = resolve_params("mesh_heat", PARAMS, params)
    nt = _int("nt", nt, 2)
    t_end = _number("t_end", t_end, 0.0)
    substeps = _int("substeps", substeps, 1)
    kappa_range = _range("kappa_range", kappa_range, 0.0)
    speed_range = _range("speed_range", speed_range, 0.0, strict=False)
    bumps = _range("bumps", bumps, 1, integer=True)
    width_range = _range("width_range", width_range, 0.0)
    amplitude_range = _range("amplitude_range", amplitude_range, -np.inf)
    if not isinstance(advection, bool):
        raise ValueError(f"mesh_heat: advection must be true or false, got {advection!r}")
    if isinstance(dirichlet, str) or not isinstance(dirichlet, (list, tuple)):
        raise ValueError(f"mesh_heat: dirichlet must be a list of boundary tag names, got {dirichlet!r}")
    if flow not in ("uniform", "cylinder"):
        raise ValueError(f"mesh_heat: flow must be 'uniform' or 'cylinder', got {flow!r}")
    dirichlet = list(dirichlet)
    m = _read_mesh(mesh)
    try:
        pts, tri = _triangles(m)
        fixed_idx = dirichlet_nodes(m, dirichlet)
    except ValueError as exc:
        raise ValueError(f"mesh_heat: mesh {mesh!r}: {exc}") from exc
    fixed = np.zeros(len(pts), dtype=bool)
    fixed[fixed_idx] = True
    fields = None
    if flow == "cylinder" and advection:  # (pure heat needs no flow, nor a hole)
        if "hole" not in m.point_tags:
            raise ValueError(
                f"mesh_heat: flow 'cylinder' needs a 'hole' point tag; the mesh has {sorted(m.point_tags)}"
            )
        hole = pts[m.point_tags["hole"]]
        centre = hole.mean(0)
        fields = cylinder_flow(pts, centre, float(np.linalg.norm(hole - centre, axis=1).mean()))
    taper = np.tanh(_dirichlet_distance(pts, tri, fixed) / TAPER)
    taper[fixed] = 0.0
    times = np.linspace(0.0, t_end, nt)
    dt = t_end / (nt - 1) / substeps

    def generate(n_samples: int, rng: np.random.Generator):
        kappa = rng.uniform(kappa_range[0], kappa_range[1], size=n_samples)
        if advection:
            speed = rng.uniform(speed_range[0], speed_range[1], size=n_samples)
            angle = rng.uniform(0.0, 2 * np.pi, size=n_samples)
            vel = np.stack([speed * np.cos(angle), speed * np.sin(angle)], 1)
        else:
            vel = np.zeros((n_samples, 2))
        u0 = initial_conditions(pts, tri, taper, n_samples, rng, bumps, width_range, amplitude_range)
        u = solve_heat(m, u0, times, kappa, velocity=vel, dirichlet=dirichlet, dt=dt, flow=fields)
        return (
            {"u": u[..., None]},
            m,
            {"times": times.copy(), "params": {"kappa": kappa, "bx": vel[:, 0].copy(), "by": vel[:, 1].copy()}},
        )

    settings = {
        "shape": (len(m.points),),
        "mesh": str(mesh),
        "nt": nt,
        "t_end": t_end,
        "kappa_range": kappa_range,
        "advection": advection,
        "speed_range": speed_range,
        "flow": flow,
        "dirichlet": dirichlet,
        "substeps": substeps,
        "bumps": bumps,
        "width_range": width_range,
        "amplitude_range": amplitude_range,
    }
    return Problem(
        name="mesh_heat",
        inputs=("u",),
        outputs=("u",),
        params=p,
        dataset=DatasetSpec(generate, {"u": "output"}, {"u": ["u"]}, settings),
    )
