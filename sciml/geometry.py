"""Domains: CSG geometry (over ``deepxde.geometry``), optional time interval, named boundaries.

A :class:`Domain` samples interior, boundary (by name) and initial points as float64
numpy arrays whose columns are the spatial coordinates followed by ``t``. A
:class:`MeshDomain` does the same inside a :class:`~sciml.mesh.Mesh`, so a gmsh mesh from
``meshes/`` is a PINN domain too.
"""
from __future__ import annotations

import contextlib
import io
import os
from typing import Callable

import numpy as np
from scipy.stats import qmc

from .mesh import Grid, Mesh

SAMPLERS = ("uniform", "pseudo", "hammersley", "halton", "sobol", "lhs")


def dde():
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


def _check_segments(segments: dict | None, dim: int) -> dict[str, np.ndarray]:
    """name -> (k, 2, dim) array of straight pieces, from one (a, b) pair or a list of them."""
    out = {}
    for name, pieces in (segments or {}).items():
        arr = np.asarray(pieces, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1:] != (2, dim):
            raise ValueError(f"segment {name!r} must be a pair of {dim}-D end points or a list of pairs, "
                             f"got shape {np.shape(pieces)}")
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


class Domain:
    """A spatial geometry (deepxde), optionally times ``[t0, t1]``, with named boundaries.

    Parameters
    ----------
    geometry : a ``deepxde.geometry`` object (Interval, Rectangle, Disk, Polygon, CSG...)
    boundaries : name -> predicate ``f(x) -> bool array`` on spatial boundary points
    time : (t0, t1) or None for steady problems
    names : coordinate names, e.g. ("x", "t")
    segments : name -> straight internal curve (a crack, an interface between subdomains), one
        ``(a, b)`` pair of end points or a list of them; conditions reach them as ``boundary:<name>``
    """

    def __init__(self, geometry, boundaries: dict[str, Callable] | None = None,
                 time: tuple[float, float] | None = None, names: tuple[str, ...] | None = None,
                 segments: dict[str, Segment | list[Segment]] | None = None):
        self.geometry = geometry
        self.boundaries = dict(boundaries or {})
        self.segments = _check_segments(segments, geometry.dim)
        self.time = None if time is None else (float(time[0]), float(time[1]))
        d = geometry.dim
        default = ("x", "y", "z")[:d] if d <= 3 else tuple(f"x{i}" for i in range(d))
        self.names = tuple(names) if names else default + (("t",) if self.time else ())
        if len(self.names) != self.ndim:
            raise ValueError(f"domain has {self.ndim} coordinates but names {self.names}")

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

    # --- sampling ---
    def _spatial_interior(self, n: int, method: str, rng) -> np.ndarray:
        b = self.bounds[: self.dim]
        if self._is_box():
            return b[:, 0] + unit_samples(n, self.dim, method, rng) * (b[:, 1] - b[:, 0])
        out, m = [], n
        while m > 0:  # rejection from the bounding box
            cand = b[:, 0] + rng.random((2 * m + 16, self.dim)) * (b[:, 1] - b[:, 0])
            keep = cand[self.geometry.inside(cand)]
            out.append(keep[:m])
            m -= len(keep[:m])
        return np.concatenate(out)

    def sample_interior(self, n: int, method: str = "pseudo", rng=None) -> np.ndarray:
        """(n, ndim) points inside the space(-time) domain."""
        rng = np.random.default_rng(rng)
        if self._is_box() or not self.time:
            if self._is_box():
                b = self.bounds
                return b[:, 0] + unit_samples(n, self.ndim, method, rng) * (b[:, 1] - b[:, 0])
            return self._spatial_interior(n, method, rng)
        x = self._spatial_interior(n, "pseudo", rng)
        return np.hstack([x, self._times(n, method, rng)])

    def _times(self, n, method, rng):
        t0, t1 = self.time
        return t0 + unit_samples(n, 1, method, rng) * (t1 - t0)

    def sample_boundary(self, n: int, tag: str | None = None, method: str = "pseudo", rng=None) -> np.ndarray:
        """(n, ndim) points on the spatial boundary (named ``tag``, or all of it) or on the internal
        segment ``tag``, × time."""
        rng = np.random.default_rng(rng)
        if tag in self.segments:
            x = segment_points(self.segments[tag], n, method, rng)
            return np.hstack([x, self._times(n, "pseudo", rng)]) if self.time else x
        if tag is not None and tag not in self.boundaries:
            raise KeyError(f"unknown boundary {tag!r}; this domain has {sorted(self.boundaries) + sorted(self.segments)}")
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
        return np.hstack([x, self._times(n, method, rng)]) if self.time else x

    def sample_initial(self, n: int, method: str = "pseudo", rng=None) -> np.ndarray:
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

    def normals(self, x: np.ndarray) -> np.ndarray:
        """Outward unit normals at spatial boundary points."""
        return np.asarray(self.geometry.boundary_normal(np.asarray(x)[:, : self.dim]), dtype=np.float64)

    def to_grid(self, shape: tuple[int, ...]) -> Grid:
        """The tensor grid over the bounding box (space then time)."""
        return Grid(shape, [tuple(r) for r in self.bounds])

    def to_mesh(self, h: float) -> Mesh:
        """A structured mesh of spacing about ``h`` (box domains; other shapes come from ``meshes/``)."""
        if not self._is_box():
            raise NotImplementedError("to_mesh works for box domains; mesh other shapes with gmsh (meshes/)")
        b = self.bounds[: self.dim]
        shape = tuple(max(2, int(np.ceil((hi - lo) / h)) + 1) for lo, hi in b)
        return Grid(shape, [tuple(r) for r in b]).to_mesh()


class MeshDomain:
    """A domain given by a simplex mesh: uniform sampling in cells, boundaries from point tags,
    optional internal ``segments`` as in :class:`Domain`."""

    def __init__(self, mesh: Mesh, time: tuple[float, float] | None = None,
                 segments: dict[str, Segment | list[Segment]] | None = None):
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

    def _with_time(self, x, rng):
        if not self.time:
            return x
        return np.hstack([x, self.time[0] + rng.random((len(x), 1)) * (self.time[1] - self.time[0])])

    def sample_interior(self, n: int, method: str = "pseudo", rng=None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        return self._with_time(self._simplex_points(self._cells, self._measures, n, rng), rng)

    def sample_boundary(self, n: int, tag: str | None = None, method: str = "pseudo", rng=None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        if tag in self.segments:
            return self._with_time(segment_points(self.segments[tag], n, method, rng), rng)
        facets = self.boundary_facets(tag)
        p = self.mesh.points[facets]
        w = np.linalg.norm(p[:, -1] - p[:, 0], axis=-1) if facets.shape[1] == 2 else np.ones(len(facets))
        return self._with_time(self._simplex_points(facets, w, n, rng), rng)

    def sample_initial(self, n: int, method: str = "pseudo", rng=None) -> np.ndarray:
        if not self.time:
            raise ValueError("a steady domain has no initial condition")
        rng = np.random.default_rng(rng)
        x = self._simplex_points(self._cells, self._measures, n, rng)
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
