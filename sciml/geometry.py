"""Domains: CSG geometry (over ``deepxde.geometry``), optional time interval, named boundaries.

A :class:`Domain` samples interior, boundary (by name) and initial points as float64
numpy arrays whose columns are the spatial coordinates followed by ``t``. A
:class:`MeshDomain` does the same inside a :class:`~sciml.mesh.Mesh`, so a gmsh mesh from
``meshes/`` is a PINN domain too. Boundary points are drawn by arc length (area) over an
explicit list of the boundary's pieces, so they lie on the boundary and cover every edge in
proportion to its length; every sampler of :data:`SAMPLERS` is honoured on every shape.
Edges carry names through :func:`polygon` and :func:`named`. See ``docs/geometry.md``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias, cast

import numpy as np
from scipy.stats import qmc

from .mesh import Grid, Mesh

SAMPLERS = ("uniform", "pseudo", "hammersley", "halton", "sobol", "lhs")


def dde() -> Any:
    """Import ``deepxde`` lazily: pytorch backend, no banner, torch defaults untouched."""
    import torch

    os.environ.setdefault("DDE_BACKEND", "pytorch")
    dtype = torch.get_default_dtype()
    device = torch.get_default_device()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import deepxde
    if torch.get_default_dtype() != dtype:
        torch.set_default_dtype(dtype)
    if torch.get_default_device() != device:  # deepxde selects CUDA globally when it sees a GPU
        # setting a default device installs a TorchFunctionMode that slows every op: undo it only if changed
        torch.set_default_device(None if device.type == "cpu" else device)
    return deepxde


@contextlib.contextmanager
def _global_np_seed(rng: np.random.Generator):
    """deepxde's boundary samplers draw from ``np.random``: feed them from ``rng``, then restore."""
    state = np.random.get_state()
    np.random.seed(int(rng.integers(2**31 - 1)))
    try:
        yield
    finally:
        np.random.set_state(state)


def _hammersley(n: int, d: int) -> np.ndarray:
    """Hammersley set in [0,1]^d without the origin: first axis (i+1)/(n+1), others radical inverses."""
    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    i = np.arange(1, n + 1)
    cols = [i / (n + 1)]
    for p in primes[: d - 1]:
        x, f, k = np.zeros(n), 1.0 / p, i.copy()
        while np.any(k > 0):
            x += f * (k % p)
            k //= p
            f /= p
        cols.append(x)
    return np.stack(cols, axis=1)[:, :d]


def unit_samples(n: int, d: int, method: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in [0,1]^d by ``method`` (one of :data:`SAMPLERS`)."""
    if method == "pseudo":
        return rng.random((n, d))
    if method == "hammersley":
        return _hammersley(n, d)
    if method == "uniform":
        m = int(np.ceil(n ** (1.0 / d)))
        ax = (np.arange(m) + 0.5) / m
        pts = np.stack([g.ravel() for g in np.meshgrid(*[ax] * d, indexing="ij")], -1)
        return pts[rng.permutation(len(pts))[:n]] if len(pts) > n else pts
    if method in ("halton", "sobol", "lhs"):
        seed = int(rng.integers(2**31 - 1))
        eng = {"halton": qmc.Halton, "sobol": qmc.Sobol, "lhs": qmc.LatinHypercube}[method](d, seed=seed)
        if method == "sobol":
            m = int(np.ceil(np.log2(max(n, 2))))
            return eng.random_base2(m)[:n]
        return eng.random(n)
    raise ValueError(f"unknown sampler {method!r}; choose one of {', '.join(SAMPLERS)}")


Segment = tuple[tuple[float, ...], tuple[float, ...]]
# what the samplers' ``rng`` accepts: a Generator, a seed, or None (fresh entropy), as np.random.default_rng
Seed: TypeAlias = "np.random.Generator | int | None"


def _check_segments(segments: Mapping | None, dim: int) -> dict[str, np.ndarray]:
    """name -> (k, 2, dim) array of straight pieces, from one (a, b) pair or a list of them."""
    out = {}
    for name, pieces in (segments or {}).items():
        arr = np.asarray(pieces, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1:] != (2, dim):
            raise ValueError(
                f"segment {name!r} must be a pair of {dim}-D end points or a list of pairs, "
                f"got shape {np.shape(pieces)}"
            )
        if np.any(np.linalg.norm(arr[:, 1] - arr[:, 0], axis=-1) == 0):
            raise ValueError(f"segment {name!r} has a piece of zero length")
        out[name] = arr
    return out


def segment_points(pieces: np.ndarray, n: int, method: str, rng) -> np.ndarray:
    """``n`` points on straight pieces ``(k, 2, d)``, spread in proportion to length.

    ``"uniform"``: evenly spaced cell midpoints (deterministic); otherwise pseudo-random.
    """
    length = np.linalg.norm(pieces[:, 1] - pieces[:, 0], axis=-1)
    if method == "uniform":
        share = n * length / length.sum()
        counts = np.floor(share).astype(int)
        counts[np.argsort(counts - share)[: n - counts.sum()]] += 1  # largest remainders
        ts = [(np.arange(c) + 0.5) / c for c in counts]
        idx = np.concatenate([np.full(c, i) for i, c in enumerate(counts)]).astype(int)
        t = np.concatenate(ts)
    else:
        idx = rng.choice(len(pieces), size=n, p=length / length.sum())
        t = rng.random(n)
    a, b = pieces[idx, 0], pieces[idx, 1]
    return a + t[:, None] * (b - a)


# --- boundaries as explicit pieces ----------------------------------------------------------
# deepxde's own boundary samplers are not all uniform in arc length (Polygon returns its points
# sorted along the perimeter; CSG draws as many points from each operand whatever its size and
# keeps points of coincident edges that lie outside the shape). Here a boundary is a list of
# pieces (segments, circles, box faces, interval ends), each with an area-preserving map from
# the unit cube; deepxde still answers inside tests and primitive normals.


class _Piece:
    """A boundary piece: ``measure`` (length/area; 1 for a point), ``at(u)`` maps ``[0,1]^pdim``
    onto it preserving measure, ``project``/``dist`` find the nearest point, ``normal`` a unit
    normal (either orientation). ``name`` is its boundary name, if any."""

    name: str | None = None
    pdim: int
    measure: float

    def at(self, u: np.ndarray) -> np.ndarray:
        """(n, dim) points on the piece for ``u`` in ``[0,1]^pdim`` (every piece defines it)."""
        raise NotImplementedError

    def project(self, x: np.ndarray) -> np.ndarray:
        """The nearest points of the piece (every piece defines it)."""
        raise NotImplementedError

    def normal(self, x: np.ndarray) -> np.ndarray:
        """Unit normals at points of the piece (every piece defines it)."""
        raise NotImplementedError

    def dist(self, x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x - self.project(x), axis=-1)


class _Point(_Piece):
    """An end of an interval; each end weighs 1."""

    pdim, measure = 0, 1.0

    def __init__(self, p):
        self.p = float(np.asarray(p).ravel()[0])

    def at(self, u):
        return np.full((len(u), 1), self.p)

    project = at

    def normal(self, x):
        return np.ones((len(x), 1))


class _Segment(_Piece):
    pdim = 1

    def __init__(self, a, b):
        self.a, self.b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        self.v = self.b - self.a
        self.measure = float(np.linalg.norm(self.v))

    def at(self, u):
        return self.a + u[:, :1] * self.v

    def project(self, x):
        t = np.clip((x - self.a) @ self.v / self.measure**2, 0.0, 1.0)
        return self.a + t[:, None] * self.v

    def normal(self, x):  # (2D) to the right of a -> b: outward on a counter-clockwise polygon
        return np.tile(np.array([self.v[1], -self.v[0]]) / self.measure, (len(x), 1))


class _Sphere(_Piece):
    """A circle (2D) or a sphere (3D)."""

    def __init__(self, center, radius):
        self.c, self.r = np.asarray(center, dtype=np.float64), float(radius)
        self.pdim = len(self.c) - 1
        if self.pdim not in (1, 2):
            raise NotImplementedError(
                f"boundary sampling of a {len(self.c)}-D hypersphere is not supported (2D and 3D are)"
            )
        self.measure = 2 * np.pi * self.r if self.pdim == 1 else 4 * np.pi * self.r**2

    def at(self, u):
        phi = 2 * np.pi * u[:, self.pdim - 1]
        if self.pdim == 1:
            d = np.stack([np.cos(phi), np.sin(phi)], axis=1)
        else:  # Archimedes: z uniform in [-1, 1] and the angle uniform give uniform area
            z = 1 - 2 * u[:, 0]
            rho = np.sqrt(np.clip(1 - z**2, 0.0, None))
            d = np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)
        return self.c + self.r * d

    def normal(self, x):
        d = x - self.c
        n = np.linalg.norm(d, axis=1, keepdims=True)
        return np.where(n > 0, d / np.where(n > 0, n, 1.0), np.eye(len(self.c))[0])

    def project(self, x):
        return self.c + self.r * self.normal(x)


class _Face(_Piece):
    """The face ``x_k = lo_k`` (``side`` 0) or ``x_k = hi_k`` (1) of a box in 3 or more dimensions."""

    def __init__(self, lo, hi, k, side):
        self.lo, self.hi, self.k = np.asarray(lo, np.float64), np.asarray(hi, np.float64), k
        self.v = (self.hi if side else self.lo)[k]
        self.free = [j for j in range(len(self.lo)) if j != k]
        self.pdim = len(self.free)
        self.measure = float(np.prod(self.hi[self.free] - self.lo[self.free]))

    def at(self, u):
        x = np.empty((len(u), len(self.lo)))
        x[:, self.k] = self.v
        x[:, self.free] = self.lo[self.free] + u[:, : self.pdim] * (self.hi - self.lo)[self.free]
        return x

    def project(self, x):
        y = np.clip(x, self.lo, self.hi)
        y[:, self.k] = self.v
        return y

    def normal(self, x):
        return np.tile(np.eye(len(self.lo))[self.k], (len(x), 1))


def _is_csg(geom) -> bool:
    g = dde().geometry
    return isinstance(geom, (g.CSGUnion, g.CSGDifference, g.CSGIntersection))


def _primitive_pieces(geom) -> list[_Piece]:
    """The boundary of one deepxde primitive as pieces, in a fixed order (polygon edges from
    vertex ``i`` to ``i + 1`` counter-clockwise; a rectangle's edges bottom, right, top, left)."""
    g = dde().geometry
    if isinstance(geom, g.Interval):
        return [_Point(geom.l), _Point(geom.r)]
    if isinstance(geom, (g.Polygon, g.Triangle)):
        v = geom.vertices if isinstance(geom, g.Polygon) else np.stack([geom.x1, geom.x2, geom.x3])
        v = np.asarray(v, dtype=np.float64)
        return [_Segment(v[i], v[(i + 1) % len(v)]) for i in range(len(v))]
    if isinstance(geom, g.Hypercube):
        lo, hi = np.asarray(geom.xmin, np.float64), np.asarray(geom.xmax, np.float64)
        if geom.dim == 2:
            v = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
            return [_Segment(v[i], v[(i + 1) % 4]) for i in range(4)]
        return [_Face(lo, hi, k, side) for k in range(geom.dim) for side in (0, 1)]
    if isinstance(geom, g.Hypersphere):
        return [_Sphere(geom.center, geom.radius)]
    raise NotImplementedError(
        f"boundary sampling of a {type(geom).__name__} is not supported: sciml samples a boundary over an "
        "explicit list of its pieces, which it knows for Interval, Rectangle/Cuboid/Hypercube, Polygon/Triangle "
        "(sciml.geometry.polygon), Disk/Sphere and their | - & combinations; mesh other shapes (MeshDomain)"
    )


def _tree_pieces(geom) -> list[_Piece]:
    """Pieces of every primitive of a CSG tree (left to right), with their boundary names."""
    if _is_csg(geom):
        return _tree_pieces(geom.geom1) + _tree_pieces(geom.geom2)
    pieces = _primitive_pieces(geom)
    names = getattr(geom, "sciml_edge_names", None)
    names = [names] * len(pieces) if isinstance(names, str) or names is None else list(names)
    for p, name in zip(pieces, names):
        p.name = name
    return pieces


def _tree_names(geom) -> set[str]:
    if _is_csg(geom):
        return _tree_names(geom.geom1) | _tree_names(geom.geom2)
    names = getattr(geom, "sciml_edge_names", None)
    return {names} if isinstance(names, str) else {n for n in (names or ()) if n is not None}


def named(geom: Any, name: str) -> Any:
    """Give the whole boundary of the primitive ``geom`` (a ``Disk``, a ``Rectangle``...) the
    boundary name ``name``; inside a CSG shape a condition on ``boundary:<name>`` then reaches the
    part of it that bounds the shape. Returns ``geom``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a boundary name must be a non-empty string, got {name!r}")
    if _is_csg(geom):
        raise ValueError("name the primitives of a CSG shape, not the shape (named(disk, 'hole'))")
    _primitive_pieces(geom)  # refuse what cannot be sampled now, not at the first sample
    geom.sciml_edge_names = name
    return geom


def polygon(vertices: Any, edge_names: Sequence[str | None] | None = None) -> Any:
    """A deepxde polygon (``Triangle``, ``Rectangle`` or ``Polygon``: deepxde wants the special
    cases by their own names) whose edges may carry boundary names: ``edge_names[i]`` names the
    edge from ``vertices[i]`` to ``vertices[i + 1]`` (the last one closes the loop); ``None``
    leaves an edge unnamed. The names reach ``Domain.sample_boundary`` and conditions
    (``boundary:<name>``), alone or inside CSG shapes."""
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError(f"a polygon needs three or more 2-D vertices, got shape {v.shape}")
    g = dde().geometry
    if len(v) == 3:
        geom = g.Triangle(*v)
    elif g.Rectangle.is_valid(v):
        geom = g.Rectangle(v.min(0), v.max(0))
    else:
        geom = g.Polygon(v)
    if edge_names is None:
        return geom
    edge_names = list(edge_names)
    if len(edge_names) != len(v):
        raise ValueError(f"polygon with {len(v)} edges got {len(edge_names)} edge_names")
    for name in edge_names:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"edge names must be non-empty strings or None, got {name!r}")
    tol = 1e-6 * np.linalg.norm(np.ptp(v, axis=0))
    ends = [(v[i], v[(i + 1) % len(v)]) for i in range(len(v))]
    own = []
    edges = cast("list[_Segment]", _primitive_pieces(geom))  # a polygon's pieces are its edges
    for p in edges:  # deepxde may reverse the vertices: match edges by their ends
        hit = [
            i
            for i, (a, b) in enumerate(ends)
            if (np.allclose(p.a, a, atol=tol) and np.allclose(p.b, b, atol=tol))
            or (np.allclose(p.a, b, atol=tol) and np.allclose(p.b, a, atol=tol))
        ]
        if not hit:
            raise ValueError("polygon edges could not be matched to the vertices (repeated vertices?)")
        own.append(edge_names[hit[0]])
    geom.sciml_edge_names = tuple(own)
    return geom


def _spread(pieces: list[_Piece], dim: int, time: tuple[float, float] | None):
    """(q, f): ``f(u)`` maps unit samples ``u`` (n, q) to (points, piece index): the first
    coordinate runs along the pieces in proportion to their measure (arc length on curves), the
    next ones across a piece (surfaces), the last one over the time interval if any."""
    measure = np.array([p.measure for p in pieces], dtype=np.float64)
    if not np.all(measure > 0):
        raise ValueError("a boundary piece has zero length")
    cum = np.concatenate([[0.0], np.cumsum(measure)])
    qs = max(max(p.pdim for p in pieces), 1)

    def f(u):
        s = u[:, 0] * cum[-1]
        j = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(pieces) - 1)
        local = np.column_stack([np.clip((s - cum[j]) / measure[j], 0.0, 1.0), u[:, 1:qs]])
        x = np.empty((len(u), dim))
        for k in np.unique(j):
            x[j == k] = pieces[k].at(local[j == k])
        if time:
            x = np.hstack([x, time[0] + u[:, qs : qs + 1] * (time[1] - time[0])])
        return x, j

    return qs + (1 if time else 0), f


_EXTENSIBLE = ("pseudo", "sobol", "halton")  # their first N points do not depend on N


def _draw(n: int, q: int, method: str, accept: Callable, rng: np.random.Generator, what: str) -> np.ndarray:
    """``n`` points ``accept`` keeps, ``accept(u) -> (keep, x)`` on unit samples ``u`` (N, q) drawn by
    ``method``. N grows until enough are kept. Pseudo-random, Sobol' and Halton points are
    sequences, so the first ``n`` kept are a proper prefix; Hammersley, uniform and LHS sets depend
    on N, which is tuned so that about ``n`` are kept, and any surplus is dropped at random."""
    if method not in SAMPLERS:
        raise ValueError(f"unknown sampler {method!r}; choose one of {', '.join(SAMPLERS)}")
    seed = int(rng.integers(2**63 - 1))
    N, best, tried = max(n, 1), None, set()
    while True:
        keep, x = accept(unit_samples(N, q, method, np.random.default_rng(seed)))
        k = int(np.count_nonzero(keep))
        tried.add(N)
        if k >= n:
            if method in _EXTENSIBLE:
                return x[keep][:n]
            if best is None or k < len(best):
                best = x[keep]
            if k == n or len(tried) >= 16:
                break
            N = max(1, int(N * n / k))
        else:
            if best is not None and len(tried) >= 16:
                break
            cap = max(1000 * n, 1_000_000)
            if N >= cap:
                raise RuntimeError(f"could not sample {what}: only {k} of {N} candidates lie on it, {n} wanted")
            N = min(cap, int(np.ceil(N * n / k * (1.0 if best is not None else 1.1))) + 1 if k else 8 * N)
        while N in tried:
            N += 1
    pick = np.sort(np.random.default_rng([seed, 1]).choice(len(best), size=n, replace=False))
    return best[pick]


def _sample_segments(pieces: np.ndarray, n: int, method: str, rng, time) -> np.ndarray:
    """``n`` points on internal segments × time: the original pseudo-random/midpoint rules where
    they apply, otherwise ``method`` along the arc length (jointly with time)."""
    if method == "pseudo" or (method == "uniform" and not time):
        x = segment_points(pieces, n, method, rng)
        return np.hstack([x, time[0] + rng.random((n, 1)) * (time[1] - time[0])]) if time else x
    q, spread = _spread([_Segment(a, b) for a, b in pieces], pieces.shape[-1], time)
    return _draw(n, q, method, lambda u: (np.ones(len(u), dtype=bool), spread(u)[0]), rng, "segment")


# --- cuts: planes x_k = c (time included) that split a domain into subdomains joined by interfaces ---


class Subdomain:
    """One piece of a cut :class:`Domain`; ``subdomain(x)`` is the mask of the points it owns.

    ``x`` holds rows of the domain's coordinates (spatial, then ``t``), numpy or torch. On each cut
    axis the piece owns ``lo <= x_k < hi`` between consecutive cuts, with no lower bound on the
    first piece and no upper bound on the last, so the pieces partition space(-time): a point on a
    cut belongs to the piece above it (the second side of the interface), whatever the order in
    which the predicates are tried (:class:`~sciml.nn.SubdomainNet` takes the first that holds).

    Attributes
    ----------
    name : the subdomain's name
    index : the piece's index along each cut axis, in the domain's coordinate order
    ranges : column -> ``(lo, hi)`` it owns on that cut axis (``±inf`` at the outer ends)
    bounds : ``(ndim, 2)`` box it lies in: the domain's bounds, the cut axes restricted to the piece
    """

    def __init__(self, name: str, index: tuple[int, ...], ranges: dict[int, tuple[float, float]], bounds: np.ndarray):
        self.name, self.index, self.ranges, self.bounds = name, index, ranges, bounds

    def __call__(self, x):
        mask = None
        for k, (lo, hi) in self.ranges.items():
            for m in ([x[:, k] >= lo] if np.isfinite(lo) else []) + ([x[:, k] < hi] if np.isfinite(hi) else []):
                mask = m if mask is None else mask & m
        return mask

    def __repr__(self) -> str:
        return f"Subdomain({self.name!r}, index={self.index})"


class Interface:
    """The part of a cut plane ``x_k = value`` between two subdomains ``sides = (a, b)``, ``a`` below
    the plane and ``b`` above it (``b`` owns the plane's points).

    Attributes
    ----------
    name : its boundary tag (``boundary:<name>`` in a condition)
    sides : ``(a, b)``, the pair an interface :class:`~sciml.problems.base.Condition` names
    axis, column, value : the cut coordinate's name, its column and the cut's position
    bounds : ``(ndim, 2)`` box the interface lies in (``lo = hi = value`` in ``column``)
    normal : ``(ndim,)`` unit space-time normal from ``a`` to ``b`` (``+e_k``)
    """

    def __init__(self, name: str, sides: tuple[str, str], axis: str, column: int, value: float, bounds: np.ndarray):
        self.name, self.sides, self.axis, self.column, self.value = name, sides, axis, column, value
        self.bounds = bounds
        self.normal = np.eye(len(bounds))[column]

    def __repr__(self) -> str:
        return f"Interface({self.name!r}, sides={self.sides}, {self.axis}={self.value:g})"


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _check_cuts(cuts, names: tuple[str, ...], bounds: np.ndarray) -> dict[int, np.ndarray]:
    """column -> sorted cut positions, each strictly inside the domain's bounds on that axis."""
    if not isinstance(cuts, dict):
        raise ValueError(f"cuts must map coordinate names to positions, e.g. {{'x': [-0.1, 0.1]}}, got {cuts!r}")
    out = {}
    for axis, values in cuts.items():
        if axis not in names:
            raise ValueError(f"cuts: unknown axis {axis!r}; this domain's coordinates are {', '.join(names)}")
        vals = list(np.ravel(values)) if isinstance(values, np.ndarray) and values.ndim < 2 else values
        vals = list(vals) if isinstance(vals, (list, tuple, np.ndarray)) else [vals]
        if not vals or not all(_is_number(v) and np.isfinite(v) for v in vals):
            shown = values.tolist() if isinstance(values, np.ndarray) else values
            raise ValueError(f"cuts on {axis!r} must be one finite number or a non-empty list of them, got {shown!r}")
        k = names.index(axis)
        lo, hi = bounds[k]
        for v in vals:
            if not lo < v < hi:
                raise ValueError(
                    f"cut {axis} = {v:g} is outside the domain: it must lie strictly inside ({lo:g}, {hi:g})"
                )
        v = np.sort(np.asarray(vals, dtype=np.float64))
        if np.any(np.diff(v) == 0):
            raise ValueError(f"cuts on {axis!r} repeat the position {v[np.flatnonzero(np.diff(v) == 0)[0]]:g}")
        out[k] = v
    return dict(sorted(out.items()))


def _check_names(given, defaults: list[str], what: str) -> list[str]:
    """The names that replace ``defaults``: a list in their order, or a mapping default -> name."""
    if given is None:
        return list(defaults)
    if isinstance(given, dict):
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise ValueError(f"{what}_names: no {what} {unknown[0]!r} to rename; the {what}s are {', '.join(defaults)}")
        out = [given.get(d, d) for d in defaults]
    else:
        out = list(given)
        if len(out) != len(defaults):
            raise ValueError(
                f"{what}_names: the cuts give {len(defaults)} {what}s ({', '.join(defaults)}), got {len(out)} names"
            )
    for name in out:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}_names: a name must be a non-empty string, got {name!r}")
    dup = sorted({n for n in out if out.count(n) > 1})
    if dup:
        raise ValueError(f"{what}_names: {dup[0]!r} names two {what}s")
    return out


class Domain:
    """A spatial geometry (deepxde), optionally times ``[t0, t1]``, with named boundaries.

    Parameters
    ----------
    geometry : a ``deepxde.geometry`` object (Interval, Rectangle, Disk, Polygon, CSG...); the
        boundary names its primitives carry (:func:`polygon` ``edge_names``, :func:`named`) are
        boundaries of the domain too
    boundaries : name -> predicate ``f(x) -> bool array`` on spatial boundary points
    time : (t0, t1) or None for steady problems
    names : coordinate names, e.g. ("x", "t")
    segments : name -> straight internal curve (a crack, an interface between subdomains), one
        ``(a, b)`` pair of end points or a list of them; conditions reach them as ``boundary:<name>``
    cuts : coordinate name -> position(s) of planes ``x_k = c`` (time included) that split the
        domain into :attr:`subdomains` joined by :attr:`interfaces`, e.g. ``{"x": [-0.1, 0.1]}``;
        several axes give the product of their pieces. Default names: subdomains ``x0, x1, x2``
        (``x0_t1``... with several axes: the piece index along each cut axis, in coordinate
        order), interfaces ``"<a>|<b>"`` after the subdomains they join, lower piece first
    subdomain_names : the subdomains' names, a list in the default order or a mapping default -> name
    interface_names : mapping default interface name (``"<a>|<b>"``, with the subdomain names) -> name

    Boundary points lie on the boundary (within 1e-7 of the diameter) and are uniform in arc
    length (area in 3D), named pieces included; every sampler in :data:`SAMPLERS` is honoured on
    every shape (see ``docs/geometry.md``).

    With ``cuts``, :attr:`subdomains` (name -> :class:`Subdomain`, a predicate for
    ``Problem.subdomains`` and :class:`~sciml.nn.SubdomainNet`) and :attr:`interfaces` (name ->
    :class:`Interface`) describe the pieces; ``sample_boundary(n, "<interface>")`` draws points
    uniformly on an interface (× time for a cut in space), ``normals`` gives its normal there and
    :meth:`sample_subdomain` draws points inside one piece. On a shape other than a box, pieces and
    interfaces that miss the shape (a probe grid of about 40 000 points finds none of its points
    inside) are left out, and an interface is the part of the plane with the shape on both sides.
    """

    def __init__(
        self,
        geometry: Any,
        boundaries: dict[str, Callable] | None = None,
        time: tuple[float, float] | None = None,
        names: tuple[str, ...] | None = None,
        segments: Mapping[str, Segment | Sequence[Segment]] | None = None,
        cuts: dict[str, float | list[float]] | None = None,
        subdomain_names: list[str] | dict[str, str] | None = None,
        interface_names: dict[str, str] | None = None,
    ):
        # what :meth:`cut` rebuilds the domain from (the boundaries as given, before named edges join them)
        self._given: dict[str, Any] = {
            "boundaries": dict(boundaries or {}),
            "time": time,
            "names": names,
            "segments": segments,
        }
        self.geometry = geometry
        self.boundaries = dict(boundaries or {})
        self.segments = _check_segments(segments, geometry.dim)
        self.time = None if time is None else (float(time[0]), float(time[1]))
        d = geometry.dim
        default = ("x", "y", "z")[:d] if d <= 3 else tuple(f"x{i}" for i in range(d))
        self.names = tuple(names) if names else default + (("t",) if self.time else ())
        if len(self.names) != self.ndim:
            raise ValueError(f"domain has {self.ndim} coordinates but names {self.names}")
        self.edge_names = _tree_names(geometry)
        clash = self.edge_names & (set(self.boundaries) | set(self.segments))
        if clash:
            raise ValueError(
                f"boundary name(s) {sorted(clash)} given both by the geometry's edges and as boundaries/segments"
            )
        for name in sorted(self.edge_names):
            self.boundaries[name] = functools.partial(self._near_named, name)
        self._pieces_cache: list[_Piece] | None = None
        self._csg = _is_csg(geometry)
        self._eps = 1e-7 * float(np.linalg.norm(self.bounds[: self.dim, 1] - self.bounds[: self.dim, 0]))
        self.cuts: dict[str, np.ndarray] = {}  # coordinate name -> sorted cut positions
        self.subdomains: dict[str, Subdomain] = {}
        self.interfaces: dict[str, Interface] = {}
        if cuts:
            self._cut(cuts, subdomain_names, interface_names)
        elif subdomain_names is not None or interface_names is not None:
            raise ValueError("subdomain_names and interface_names name the pieces of cuts: give cuts too")

    # --- cuts ---
    def cut(
        self,
        cuts: dict[str, float | list[float]],
        subdomain_names: list[str] | dict[str, str] | None = None,
        interface_names: dict[str, str] | None = None,
    ) -> Domain:
        """The same domain (geometry, boundaries, time, names, segments) split by ``cuts``: a new
        :class:`Domain`; this one must not be cut already."""
        if self.cuts:
            raise ValueError(f"cuts: the domain is cut already (at {self.cuts}); give all cuts at once")
        return Domain(
            self.geometry, **self._given, cuts=cuts, subdomain_names=subdomain_names, interface_names=interface_names
        )

    def _cut(self, cuts, subdomain_names, interface_names) -> None:
        """Build :attr:`subdomains` and :attr:`interfaces` from the cut planes."""
        cols = _check_cuts(cuts, self.names, self.bounds)
        self.cuts = {self.names[k]: v for k, v in cols.items()}
        edges = {k: np.concatenate([[-np.inf], v, [np.inf]]) for k, v in cols.items()}
        pieces = []
        for idx in np.ndindex(*(len(v) + 1 for v in cols.values())):
            ranges = {k: (float(edges[k][i]), float(edges[k][i + 1])) for k, i in zip(cols, idx)}
            box = self.bounds.copy()
            for k, (lo, hi) in ranges.items():
                box[k] = [max(lo, box[k, 0]), min(hi, box[k, 1])]
            if self._meets(box):
                pieces.append(("_".join(f"{self.names[k]}{i}" for k, i in zip(cols, idx)), idx, ranges, box))
        names = _check_names(subdomain_names, [p[0] for p in pieces], "subdomain")
        self.subdomains = {name: Subdomain(name, *p[1:]) for name, p in zip(names, pieces)}
        at = {s.index: s for s in self.subdomains.values()}
        faces = []  # (a, b, column, value, box): a below the plane, b above
        for j, k in enumerate(cols):
            for a in self.subdomains.values():
                b = at.get(a.index[:j] + (a.index[j] + 1,) + a.index[j + 1 :])
                if b is None:
                    continue
                value = float(cols[k][a.index[j]])
                box = a.bounds.copy()
                box[k] = value
                if self._meets(box, k):
                    faces.append((a.name, b.name, k, value, box))
        for k, values in cols.items():
            for c in values:
                if not any(f[2] == k and f[3] == c for f in faces):
                    raise ValueError(
                        f"cut {self.names[k]} = {c:g} does not cross the {type(self.geometry).__name__}: "
                        "no part of the plane has the shape on both sides"
                    )
        names = _check_names(interface_names, [f"{a}|{b}" for a, b, *_ in faces], "interface")
        clash = sorted(set(names) & (set(self.boundaries) | set(self.segments)))
        if clash:
            raise ValueError(f"interface name {clash[0]!r} is also a boundary or segment name of this domain")
        self.interfaces = {
            name: Interface(name, (a, b), self.names[k], k, value, box)
            for name, (a, b, k, value, box) in zip(names, faces)
        }

    def _meets(self, box: np.ndarray, fixed: int | None = None) -> bool:
        """Whether the shape meets the space(-time) ``box``, whose column ``fixed`` (a cut) holds one
        value, where a cut in space needs the shape on both sides: always on a box; otherwise
        whether some point of a grid over the box's free spatial columns does (cell midpoints, ever
        finer, up to about 40 000 points)."""
        if self._is_box():
            return True
        free = [j for j in range(self.dim) if j != fixed]
        top = max(2, int(40000 ** (1 / len(free)))) if free else 1
        for m in sorted({min(4**i, top) for i in range(1, 9)}):
            ax = (np.arange(m) + 0.5) / m
            u = np.stack([g.ravel() for g in np.meshgrid(*[ax] * len(free), indexing="ij")], -1).reshape(-1, len(free))
            x = np.tile(box[: self.dim, 0], (len(u), 1))
            x[:, free] = box[free, 0] + u * (box[free, 1] - box[free, 0])
            if self._inside_cut(x, fixed).any():
                return True
        return False

    def _inside_cut(self, x: np.ndarray, column: int | None) -> np.ndarray:
        """Which spatial points are in the shape; on a cut in space (``column < dim``) with the shape
        on both sides of the plane (probes at ``±eps``), so an edge the cut runs along is left out."""
        if column is None or column >= self.dim:
            return np.asarray(self.geometry.inside(x), dtype=bool)
        step = self._eps * np.eye(self.dim)[column]
        return np.asarray(self.geometry.inside(x - step), dtype=bool) & np.asarray(
            self.geometry.inside(x + step), dtype=bool
        )

    def _on_interface(self, face: Interface, x: np.ndarray) -> np.ndarray:
        """Which rows of ``x`` (spatial columns, maybe ``t``) lie on the spatial part of ``face``:
        on its plane and in its box within ``10 eps``, with the shape on both sides."""
        x = x[:, : self.dim]
        tol = 10 * self._eps
        b = face.bounds[: self.dim]
        on = np.all((x >= b[:, 0] - tol) & (x <= b[:, 1] + tol), axis=1)
        return on & (self._is_box() or self._inside_cut(x, face.column))

    def _sample_interface(self, face: Interface, n: int, method: str, rng) -> np.ndarray:
        """``n`` points uniform on the interface (the plane in its box, inside the shape), ``method``
        over its free columns jointly (time included); rejection against the shape."""
        b, free = face.bounds, [j for j in range(self.ndim) if j != face.column]
        if not free:  # a cut of a steady interval: one point
            if method not in SAMPLERS:
                raise ValueError(f"unknown sampler {method!r}; choose one of {', '.join(SAMPLERS)}")
            return np.tile(b[:, 0], (n, 1))

        def accept(u):
            x = np.tile(b[:, 0], (len(u), 1))
            x[:, free] = b[free, 0] + u * (b[free, 1] - b[free, 0])
            keep = np.ones(len(u), dtype=bool) if self._is_box() else self._inside_cut(x[:, : self.dim], face.column)
            return keep, x

        return _draw(n, len(free), method, accept, rng, f"interface {face.name!r}")

    def sample_subdomain(self, n: int, name: str, method: str = "pseudo", rng: Seed = None) -> np.ndarray:
        """(n, ndim) points inside the subdomain ``name`` (a piece of the cuts), that it owns: ``method``
        on its space(-time) box, keeping the points inside the shape."""
        if name not in self.subdomains:
            raise KeyError(f"unknown subdomain {name!r}; this domain's subdomains are {sorted(self.subdomains)}")
        rng = np.random.default_rng(rng)
        s = self.subdomains[name]
        b = s.bounds

        def accept(u):
            x = b[:, 0] + u * (b[:, 1] - b[:, 0])
            keep = np.asarray(s(x), dtype=bool)
            if not self._is_box():
                keep &= np.asarray(self.geometry.inside(x[:, : self.dim]), dtype=bool)
            return keep, x

        return _draw(n, len(b), method, accept, rng, f"subdomain {name!r}")

    # --- shape ---
    @property
    def dim(self) -> int:
        """Spatial dimension."""
        return self.geometry.dim

    @property
    def ndim(self) -> int:
        """Number of input coordinates (space + time)."""
        return self.dim + (1 if self.time else 0)

    @property
    def bounds(self) -> np.ndarray:
        lo, hi = self.geometry.bbox
        b = np.stack([np.atleast_1d(lo), np.atleast_1d(hi)], axis=1).astype(np.float64)
        if self.time:
            b = np.vstack([b, self.time])
        return b

    def _is_box(self) -> bool:
        return type(self.geometry).__name__ in ("Interval", "Rectangle", "Cuboid", "Hypercube")

    @property
    def _pieces(self) -> list[_Piece]:
        if self._pieces_cache is None:
            self._pieces_cache = _tree_pieces(self.geometry)
        return self._pieces_cache

    def _on_composite(self, x: np.ndarray, piece: np.ndarray) -> np.ndarray:
        """Which points ``x``, each on the primitive piece ``piece[i]``, are on the CSG shape's
        boundary: the shape is inside on one side of the piece and outside on the other (probes at
        ``±eps`` along the normal), and no earlier piece passes through the point (coincident
        pieces are counted once)."""
        keep = np.zeros(len(x), dtype=bool)
        for k in np.unique(piece):
            at = np.flatnonzero(piece == k)
            xk, nk = x[at], self._pieces[k].normal(x[at])
            ok = self.geometry.inside(xk + self._eps * nk) != self.geometry.inside(xk - self._eps * nk)
            for earlier in self._pieces[:k]:
                if ok.any():
                    ok[ok] = earlier.dist(xk[ok]) >= self._eps
            keep[at] = ok
        return keep

    def _near_named(self, name: str, x: np.ndarray) -> np.ndarray:
        """The predicate of an edge name: within 1e-6 of the diameter of a piece with that name."""
        x = np.asarray(x, dtype=np.float64)[:, : self.dim]
        d = np.min([p.dist(x) for p in self._pieces if p.name == name], axis=0)
        return d <= 10 * self._eps

    # --- sampling ---
    def _rejection(self, n: int, method: str, rng, with_time: bool) -> np.ndarray:
        """``n`` points of the space(-time) bounding box that are inside, by ``method``."""
        b = self.bounds if with_time else self.bounds[: self.dim]

        def accept(u):
            x = b[:, 0] + u * (b[:, 1] - b[:, 0])
            return np.asarray(self.geometry.inside(x[:, : self.dim]), dtype=bool), x

        return _draw(n, len(b), method, accept, rng, "the interior")

    def _spatial_interior(self, n: int, method: str, rng) -> np.ndarray:
        b = self.bounds[: self.dim]
        if self._is_box():
            return b[:, 0] + unit_samples(n, self.dim, method, rng) * (b[:, 1] - b[:, 0])
        return self._rejection(n, method, rng, with_time=False)

    def sample_interior(self, n: int, method: str = "pseudo", rng: Seed = None) -> np.ndarray:
        """(n, ndim) points inside the space(-time) domain: ``method`` on the box, or in the bounding
        box with rejection (jointly with time)."""
        rng = np.random.default_rng(rng)
        if self._is_box():
            b = self.bounds
            return b[:, 0] + unit_samples(n, self.ndim, method, rng) * (b[:, 1] - b[:, 0])
        return self._rejection(n, method, rng, with_time=bool(self.time))

    def _times(self, n, method, rng):
        t0, t1 = self.time
        return t0 + unit_samples(n, 1, method, rng) * (t1 - t0)

    def sample_boundary(self, n: int, tag: str | None = None, method: str = "pseudo", rng: Seed = None) -> np.ndarray:
        """(n, ndim) points on the spatial boundary (named ``tag``, or all of it) or on the internal
        segment ``tag``, × time; uniform in arc length (area), ``method`` along it (jointly with time).
        An interface's name gives points uniform on it (:class:`Interface`)."""
        rng = np.random.default_rng(rng)
        if tag in self.segments:
            return _sample_segments(self.segments[tag], n, method, rng, self.time)
        if tag in self.interfaces:
            return self._sample_interface(self.interfaces[tag], n, method, rng)
        if tag is not None and tag not in self.boundaries:
            raise KeyError(
                f"unknown boundary {tag!r}; this domain has "
                f"{sorted(self.boundaries) + sorted(self.segments) + sorted(self.interfaces)}"
            )
        if (
            method == "pseudo"
            and tag not in self.edge_names
            and type(self.geometry).__name__ in ("Interval", "Rectangle", "Cuboid")
        ):
            return self._box_boundary(n, tag, rng)  # deepxde's samplers are right on these: same points as ever
        pieces = self._pieces
        if tag in self.edge_names:
            index, pred = [i for i, p in enumerate(pieces) if p.name == tag], None
        else:
            index, pred = list(range(len(pieces))), (self.boundaries.get(tag) if tag is not None else None)
        q, spread = _spread([pieces[i] for i in index], self.dim, self.time)
        piece_of = np.asarray(index)

        def accept(u):
            x, j = spread(u)
            keep = self._on_composite(x[:, : self.dim], piece_of[j]) if self._csg else np.ones(len(u), dtype=bool)
            if pred is not None:
                keep &= np.asarray(pred(x[:, : self.dim]), dtype=bool)
            return keep, x

        return _draw(n, q, method, accept, rng, "the boundary" if tag is None else f"boundary {tag!r}")

    def _box_boundary(self, n: int, tag: str | None, rng) -> np.ndarray:
        """deepxde's pseudo-random boundary points of an interval, rectangle or cuboid (uniform on
        these), filtered by the predicate of ``tag``."""
        out, m = [], n
        for _ in range(100):
            with _global_np_seed(rng):
                x = np.asarray(self.geometry.random_boundary_points(max(2 * m, 8), random="pseudo"), dtype=np.float64)
            if tag is not None:
                x = x[np.asarray(self.boundaries[tag](x), dtype=bool)]
            out.append(x[:m])
            m -= len(x[:m])
            if m == 0:
                break
        else:
            raise RuntimeError(f"could not sample boundary {tag!r}: predicate selects no boundary points")
        x = np.concatenate(out)
        return np.hstack([x, self._times(n, "pseudo", rng)]) if self.time else x

    def sample_initial(self, n: int, method: str = "pseudo", rng: Seed = None) -> np.ndarray:
        """(n, ndim) points at ``t = t0`` inside the spatial domain."""
        if not self.time:
            raise ValueError("a steady domain has no initial condition")
        rng = np.random.default_rng(rng)
        x = self._spatial_interior(n, method, rng)
        return np.hstack([x, np.full((n, 1), self.time[0])])

    def contains(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        ok = self.geometry.inside(x[:, : self.dim])
        if self.time:
            ok &= (x[:, -1] >= self.time[0]) & (x[:, -1] <= self.time[1])
        return ok

    def normals(self, x: np.ndarray, tag: str | None = None) -> np.ndarray:
        """Outward unit normals ``(n, dim)`` at boundary points ``x`` (space or space-time rows; zero
        away from the boundary and on internal segments). They come from the boundary pieces: the
        nearest piece's normal, turned to point out of the shape (probes at ``±eps``), so on CSG
        shapes a hole's normals point into the hole (deepxde's are zero on edges shared by both
        operands). Shapes without pieces (``Ellipse``...) use deepxde's ``boundary_normal``. A
        deterministic function of the points: conditions that declare ``normals=True`` get them.

        On a cut domain, points of an interface in space that are not on the boundary get the
        interface's normal, from its first subdomain to its second (``+e_k``); where an interface
        meets the boundary the boundary's normal wins, unless ``tag`` names the interface: then
        every row gets its normal. A cut in time has no spatial normal (zero; an error with ``tag``)."""
        if tag in self.interfaces:
            face = self.interfaces[tag]
            if face.column >= self.dim:
                raise ValueError(
                    f"interface {tag!r} is a cut in {face.axis}: its normal has no spatial part; "
                    f"write its flux with du({face.axis!r}) instead of du.dn()"
                )
            return np.tile(face.normal[: self.dim], (len(x), 1))
        x = np.asarray(x, dtype=np.float64)[:, : self.dim]
        try:
            pieces = self._pieces
        except NotImplementedError:
            return self._interface_normals(x, np.asarray(self.geometry.boundary_normal(x), dtype=np.float64))
        out = np.zeros_like(x)
        for p in pieces:
            todo = np.flatnonzero(~out.any(axis=1))
            y = p.project(x[todo])
            near = np.linalg.norm(x[todo] - y, axis=1) <= 10 * self._eps
            todo, y = todo[near], y[near]
            nrm = p.normal(y)
            plus, minus = self.geometry.inside(y + self._eps * nrm), self.geometry.inside(y - self._eps * nrm)
            on = plus != minus
            out[todo[on]] = np.where(plus[on, None], -nrm[on], nrm[on])
        return self._interface_normals(x, out)

    def _interface_normals(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` with the normals of the interfaces in space filled in where a row is still zero."""
        for face in self.interfaces.values():
            if face.column >= self.dim:
                continue
            todo = np.flatnonzero(~out.any(axis=1))
            on = todo[self._on_interface(face, x[todo])]
            out[on] = face.normal[: self.dim]
        return out

    def to_grid(self, shape: tuple[int, ...]) -> Grid:
        """The tensor grid over the bounding box (space then time)."""
        return Grid(shape, tuple((lo, hi) for lo, hi in self.bounds))

    def to_mesh(self, h: float) -> Mesh:
        """A mesh of the spatial domain with spacing about ``h``.

        Boxes (intervals, rectangles, cuboids) get the structured grid as before (lines, quads,
        hexahedra). Any other 2D shape (polygons, disks, their ``| - &``) gets triangles: points
        every ``h`` (or less) by arc length along the boundary pieces that bound the shape, a
        lattice of interior points, a Delaunay triangulation of both, and the triangles whose
        centroid is inside the shape (so holes stay empty). Boundary vertices lie on the boundary;
        named boundaries become point tags. 3D shapes other than boxes: mesh them with gmsh and use
        a :class:`MeshDomain`."""
        h = float(h)
        if not np.isfinite(h) or h <= 0:
            raise ValueError(f"to_mesh needs a spacing h > 0, got {h!r}")
        if self._is_box():
            b = self.bounds[: self.dim]
            shape = tuple(max(2, int(np.ceil((hi - lo) / h)) + 1) for lo, hi in b)
            return Grid(shape, tuple((lo, hi) for lo, hi in b)).to_mesh()
        if self.dim != 2:
            raise NotImplementedError(
                f"to_mesh of a {self.dim}-D {type(self.geometry).__name__} is not supported "
                "(boxes and 2D shapes are); mesh it with gmsh and use a MeshDomain"
            )
        return self._triangulate(h)

    def _on_boundary(self, x: np.ndarray) -> np.ndarray:
        """Points of primitive pieces that are on the shape's boundary: among the point and eight
        probes at distance ``eps`` around it, some are inside the shape and some are not."""
        ang = np.arange(8) * np.pi / 4
        probes = [x] + [x + self._eps * np.array([np.cos(a), np.sin(a)]) for a in ang]
        ins = np.stack([np.asarray(self.geometry.inside(p), dtype=bool) for p in probes])
        return ins.any(0) & ~ins.all(0)  # type: ignore[return-value]  # numpy's stubs allow a scalar for any(axis)

    def _triangulate(self, h: float) -> Mesh:
        from scipy.spatial import Delaunay, cKDTree

        diam = float(np.linalg.norm(self.bounds[:2, 1] - self.bounds[:2, 0]))
        pieces = self._pieces
        on_pieces = []
        for p in pieces:
            if isinstance(p, _Sphere):
                m = max(int(np.ceil(p.measure / h)), 12)
                u = np.arange(m) / m
            else:
                m = max(int(np.ceil(p.measure / h)), 1)
                u = np.arange(m + 1) / m
            on_pieces.append(p.at(u[:, None]))
        bnd = np.concatenate(on_pieces)
        bnd = bnd[self._on_boundary(bnd)]
        tol = 1e-9 * diam
        drop = {j for i, j in cKDTree(bnd).query_pairs(tol)}  # shared vertices, coincident pieces
        bnd = bnd[np.setdiff1d(np.arange(len(bnd)), np.fromiter(drop, dtype=np.int64, count=len(drop)))]
        if len(bnd) < 3:
            raise ValueError(f"to_mesh: the boundary of {type(self.geometry).__name__} gave {len(bnd)} points at h={h}")
        # interior: a triangular lattice, away from the boundary pieces by at least h / 2
        b = self.bounds[:2]
        dy = h * np.sqrt(3) / 2
        ys = np.arange(b[1, 0], b[1, 1] + dy, dy)
        rows = [
            np.column_stack(
                [
                    np.arange(b[0, 0] + (0.5 * h if k % 2 else 0.0), b[0, 1] + h, h),
                    np.full(len(np.arange(b[0, 0] + (0.5 * h if k % 2 else 0.0), b[0, 1] + h, h)), y),
                ]
            )
            for k, y in enumerate(ys)
        ]
        inner = np.concatenate(rows)
        inner = inner[np.asarray(self.geometry.inside(inner), dtype=bool)]
        if len(inner):
            far = np.min([p.dist(inner) for p in pieces], axis=0) > 0.5 * h
            inner = inner[far & (cKDTree(bnd).query(inner)[0] > 0.5 * h)]
        pts = np.concatenate([bnd, inner])
        tri = Delaunay(pts).simplices
        c = pts[tri]
        area = 0.5 * (
            (c[:, 1, 0] - c[:, 0, 0]) * (c[:, 2, 1] - c[:, 0, 1])
            - (c[:, 2, 0] - c[:, 0, 0]) * (c[:, 1, 1] - c[:, 0, 1])
        )
        keep = np.asarray(self.geometry.inside(c.mean(1)), dtype=bool) & (np.abs(area) > 1e-12 * diam**2)
        tri = tri[keep]
        neg = area[keep] < 0
        tri[neg] = tri[neg][:, [0, 2, 1]]  # counter-clockwise
        used = np.unique(tri)
        new = np.full(len(pts), -1, dtype=np.int64)
        new[used] = np.arange(len(used))
        pts, tri = pts[used], new[tri]
        on = np.flatnonzero(new[: len(bnd)] >= 0)
        on = new[on]  # the boundary vertices, renumbered
        tags = {}
        for name, pred in self.boundaries.items():
            sel = on[np.asarray(pred(pts[on]), dtype=bool)]
            if len(sel):
                tags[name] = sel
        tags.setdefault("boundary", on)
        return Mesh(pts, [("triangle", tri)], tags)


def _barycentric(u: np.ndarray, m: int) -> np.ndarray:
    """Uniform barycentric coordinates (k, m + 1) on an m-simplex from unit samples (k, >= m)."""
    if m == 0:
        return np.ones((len(u), 1))
    if m == 1:
        return np.column_stack([1 - u[:, 0], u[:, 0]])
    if m == 2:  # the square-root map: area-preserving and continuous
        r = np.sqrt(u[:, 0])
        return np.column_stack([1 - r, r * (1 - u[:, 1]), r * u[:, 1]])
    s = np.sort(u[:, :m], axis=1)  # gaps between sorted uniforms
    return np.diff(np.column_stack([np.zeros(len(u)), s, np.ones(len(u))]), axis=1)


class MeshDomain:
    """A domain given by a simplex mesh: uniform sampling in cells, boundaries from point tags,
    optional internal ``segments`` as in :class:`Domain`.

    Every sampler is honoured: the first unit coordinate picks a cell (a boundary facet) in
    proportion to its measure and, rescaled, is the first coordinate inside it, so points stay
    uniform and a low-discrepancy set stays one along the boundary's arc length."""

    def __init__(
        self,
        mesh: Mesh,
        time: tuple[float, float] | None = None,
        segments: Mapping[str, Segment | Sequence[Segment]] | None = None,
    ):
        if not mesh.cells_of_dim(mesh.dim) or mesh.cells_of_dim(mesh.dim)[0][0] not in ("line", "triangle", "tetra"):
            raise ValueError("MeshDomain needs a simplex mesh (lines, triangles or tetrahedra) of full dimension")
        self.mesh = mesh
        self.time = None if time is None else (float(time[0]), float(time[1]))
        self._cells = np.concatenate([c for _, c in mesh.cells_of_dim(mesh.dim)])
        _, self._measures = mesh.cell_measures()
        self._facets = self._boundary_facets()
        self.boundaries = {name: None for name in mesh.point_tags}
        self.segments = _check_segments(segments, mesh.dim)
        self.names = ("x", "y", "z")[: mesh.dim] + (("t",) if self.time else ())

    @property
    def dim(self) -> int:
        return self.mesh.dim

    @property
    def ndim(self) -> int:
        return self.dim + (1 if self.time else 0)

    @property
    def bounds(self) -> np.ndarray:
        b = np.stack([self.mesh.points.min(0), self.mesh.points.max(0)], 1)
        return np.vstack([b, self.time]) if self.time else b

    def _boundary_facets(self) -> np.ndarray:
        k = self._cells.shape[1]
        faces = np.concatenate([np.delete(self._cells, i, axis=1) for i in range(k)])
        key = np.sort(faces, axis=1)
        uniq, counts = np.unique(key, axis=0, return_counts=True)
        return uniq[counts == 1]

    def boundary_facets(self, tag: str | None = None) -> np.ndarray:
        """(m, d) point indices of the boundary facets (all, or those whose points carry ``tag``)."""
        if tag is None:
            return self._facets
        if tag not in self.mesh.point_tags:
            raise KeyError(f"unknown boundary {tag!r}; this mesh has {sorted(self.mesh.point_tags)}")
        facets = self._facets[np.isin(self._facets, self.mesh.point_tags[tag]).all(axis=1)]
        if not len(facets):
            raise ValueError(f"boundary tag {tag!r} marks no boundary facet")
        return facets

    def _simplex_points(self, simplices: np.ndarray, weights: np.ndarray, n: int, rng) -> np.ndarray:
        idx = rng.choice(len(simplices), size=n, p=weights / weights.sum())
        lam = rng.dirichlet(np.ones(simplices.shape[1]), size=n)  # uniform barycentric coordinates
        return np.einsum("nk,nkd->nd", lam, self.mesh.points[simplices[idx]])

    def _facet_measures(self, facets: np.ndarray) -> np.ndarray:
        p = self.mesh.points[facets]
        if facets.shape[1] == 2:
            return np.linalg.norm(p[:, -1] - p[:, 0], axis=-1)
        if facets.shape[1] == 3:  # triangles of a 3D boundary: their areas
            return 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=-1)
        return np.ones(len(facets))

    def _mapped(
        self, simplices: np.ndarray, weights: np.ndarray, n: int, method: str, rng, with_time: bool = True
    ) -> np.ndarray:
        """``n`` points on ``simplices`` by ``method`` (jointly with time when there is one)."""
        m = simplices.shape[1] - 1
        q = max(m, 1)
        time = self.time if with_time else None
        u = unit_samples(n, q + (1 if time else 0), method, rng)
        cum = np.concatenate([[0.0], np.cumsum(weights)])
        s = u[:, 0] * cum[-1]
        j = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(simplices) - 1)
        local = np.column_stack(
            [np.clip((s - cum[j]) / np.where(weights[j] > 0, weights[j], 1.0), 0.0, 1.0), u[:, 1:q]]
        )
        x = np.einsum("nk,nkd->nd", _barycentric(local, m), self.mesh.points[simplices[j]])
        if time:
            x = np.hstack([x, time[0] + u[:, q:] * (time[1] - time[0])])
        return x

    def _with_time(self, x, rng):
        if not self.time:
            return x
        return np.hstack([x, self.time[0] + rng.random((len(x), 1)) * (self.time[1] - self.time[0])])

    def sample_interior(self, n: int, method: str = "pseudo", rng: Seed = None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        if method != "pseudo":
            return self._mapped(self._cells, self._measures, n, method, rng)
        return self._with_time(self._simplex_points(self._cells, self._measures, n, rng), rng)

    def sample_boundary(self, n: int, tag: str | None = None, method: str = "pseudo", rng: Seed = None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        if tag in self.segments:
            return _sample_segments(self.segments[tag], n, method, rng, self.time)
        facets = self.boundary_facets(tag)
        w = self._facet_measures(facets)
        if method != "pseudo":
            return self._mapped(facets, w, n, method, rng)
        return self._with_time(self._simplex_points(facets, w, n, rng), rng)

    def sample_initial(self, n: int, method: str = "pseudo", rng: Seed = None) -> np.ndarray:
        if not self.time:
            raise ValueError("a steady domain has no initial condition")
        rng = np.random.default_rng(rng)
        if method == "pseudo":
            x = self._simplex_points(self._cells, self._measures, n, rng)
        else:
            x = self._mapped(self._cells, self._measures, n, method, rng, with_time=False)
        return np.hstack([x, np.full((n, 1), self.time[0])])

    def contains(self, x: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        """Whether each point lies in some cell (barycentric test; O(n_points × n_cells) memory-chunked)."""
        x = np.asarray(x, dtype=np.float64)[:, : self.dim]
        P = self.mesh.points[self._cells]  # (c, d+1, d)
        T = np.transpose(P[:, :-1] - P[:, -1:], (0, 2, 1))  # (c, d, d)
        Tinv = np.linalg.inv(T)
        out = np.zeros(len(x), dtype=bool)
        for s in range(0, len(x), 2048):
            r = x[s : s + 2048, None, :] - P[None, :, -1, :]
            lam = np.einsum("cij,ncj->nci", Tinv, r)
            inside = (lam >= -tol).all(-1) & (lam.sum(-1) <= 1 + tol)
            out[s : s + 2048] = inside.any(1)
        return out

    def _outward_facet_normals(self) -> np.ndarray:
        """Unit normals ``(m, dim)`` of the boundary facets (in the order of :meth:`boundary_facets`),
        each pointing away from the vertex of its cell that is not on the facet: out of the mesh."""
        if getattr(self, "_facet_normal_cache", None) is None:
            k = self._cells.shape[1]
            faces = np.concatenate([np.delete(self._cells, i, axis=1) for i in range(k)])
            opposite = np.concatenate([self._cells[:, i] for i in range(k)])
            _, inv, counts = np.unique(np.sort(faces, axis=1), axis=0, return_inverse=True, return_counts=True)
            inv = np.asarray(inv).ravel()
            rows = np.flatnonzero(counts[inv] == 1)  # faces of one cell only, in any order
            slot = np.searchsorted(np.flatnonzero(counts == 1), inv[rows])  # their index in self._facets
            opp = np.empty(len(self._facets), dtype=np.int64)
            opp[slot] = opposite[rows]
            p = self.mesh.points[self._facets]  # (m, k - 1, dim)
            if self.dim == 1:
                n = np.ones((len(p), 1))
            elif self.dim == 2:
                t = p[:, 1] - p[:, 0]
                n = np.stack([t[:, 1], -t[:, 0]], axis=1)
            else:
                n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
            n = n / np.linalg.norm(n, axis=1, keepdims=True)
            inward = np.einsum("md,md->m", self.mesh.points[opp] - p[:, 0], n) > 0
            self._facet_normal_cache = np.where(inward[:, None], -n, n)
        return self._facet_normal_cache

    def _facet_distance(self, x: np.ndarray) -> np.ndarray:
        """Distances ``(n, m)`` from points to the boundary facets (segments in 2D; in 3D the
        distance to the facet's plane where the point projects inside the triangle, else inf)."""
        p = self.mesh.points[self._facets]
        if self.dim == 1:
            return np.abs(x[:, None, 0] - p[None, :, 0, 0])
        a, v = p[:, 0], p[:, 1] - p[:, 0]
        if self.dim == 2:
            t = np.clip(np.einsum("nmd,md->nm", x[:, None] - a, v) / np.einsum("md,md->m", v, v), 0.0, 1.0)
            return np.linalg.norm(x[:, None] - (a + t[..., None] * v), axis=-1)
        w = p[:, 2] - p[:, 0]
        nrm = self._outward_facet_normals()
        r = x[:, None] - a
        h = np.einsum("nmd,md->nm", r, nrm)
        q = r - h[..., None] * nrm  # in the plane, relative to a: solve q = s v + u w
        G = np.stack(
            [
                np.stack([np.einsum("md,md->m", v, v), np.einsum("md,md->m", v, w)], -1),
                np.stack([np.einsum("md,md->m", v, w), np.einsum("md,md->m", w, w)], -1),
            ],
            -2,
        )
        rhs = np.stack([np.einsum("nmd,md->nm", q, v), np.einsum("nmd,md->nm", q, w)], -1)
        su = np.einsum("mij,nmj->nmi", np.linalg.inv(G), rhs)
        tol = 1e-9
        inside = (su >= -tol).all(-1) & (su.sum(-1) <= 1 + tol)
        return np.where(inside, np.abs(h), np.inf)

    def normals(self, x: np.ndarray) -> np.ndarray:
        """Outward unit normals ``(n, dim)`` at boundary points ``x`` (space or space-time rows): the
        normal of the nearest boundary facet, pointing out of the mesh (so into a hole); zero for
        points farther than 1e-6 of the mesh's diameter from every boundary facet. A deterministic
        function of the points: conditions that declare ``normals=True`` get them."""
        x = np.asarray(x, dtype=np.float64)[:, : self.dim]
        nrm = self._outward_facet_normals()
        tol = 1e-6 * float(np.linalg.norm(np.ptp(self.mesh.points, axis=0)))
        out = np.zeros_like(x)
        for s in range(0, len(x), 1024):
            d = self._facet_distance(x[s : s + 1024])
            j = np.argmin(d, axis=1)
            near = d[np.arange(len(j)), j] <= tol
            out[s : s + 1024][near] = nrm[j[near]]
        return out
