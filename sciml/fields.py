"""A Field is values plus the discretization they live on.

``values`` has shape ``([T,] n_points, C)`` for a Mesh or point cloud and
``([T,] *grid.shape, C)`` for a Grid; ``times`` is given for time series.
Arithmetic between fields on different discretizations raises. :meth:`Field.at` evaluates a
field at arbitrary points (and times); :meth:`Field.on` moves it onto another support.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .mesh import Grid, Mesh

OUTSIDE = ("raise", "nan", "nearest")


class InconsistentDiscretizationError(ValueError):
    """Two fields were combined although they live on different discretizations."""


@dataclass
class Field:
    """Named channels on a Grid, a Mesh or a point cloud (``support`` an (n, d) array).

    Parameters
    ----------
    values : array, ``([T,] *space, C)``
    support : Grid | Mesh | (n, d) array of points
    names : one name per channel
    times : (T,) array for a time series, else None
    """

    values: np.ndarray
    support: Grid | Mesh | np.ndarray
    names: tuple[str, ...]
    times: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values)
        self.names = tuple(self.names)
        if self.values.shape[-1] != len(self.names):
            raise ValueError(f"field has {self.values.shape[-1]} channels but names {self.names}")
        space = self.space_shape
        lead = self.values.shape[: self.values.ndim - 1 - len(space)]
        if self.values.shape[len(lead) : -1] != space:
            raise ValueError(f"field values {self.values.shape} do not fit support with shape {space}")
        if self.times is not None:
            self.times = np.asarray(self.times, dtype=np.float64)
            if lead != (len(self.times),):
                raise ValueError(f"time series of {len(self.times)} steps but values {self.values.shape}")
        elif lead:
            raise ValueError(f"values {self.values.shape} have a leading axis but no times were given")

    @property
    def space_shape(self) -> tuple[int, ...]:
        s = self.support
        if isinstance(s, Grid):
            return s.shape
        if isinstance(s, Mesh):
            return (s.n_points,)
        return (len(s),)

    def points(self) -> np.ndarray:
        s = self.support
        if isinstance(s, Grid):
            return s.points()
        if isinstance(s, Mesh):
            return s.points
        return np.asarray(s)

    def mesh(self) -> Mesh:
        s = self.support
        if isinstance(s, Grid):
            return s.to_mesh()
        if isinstance(s, Mesh):
            return s
        return Mesh(np.asarray(s), [("vertex", np.arange(len(s))[:, None])])

    def point_values(self) -> np.ndarray:
        """Values flattened over space: ``([T,] n_points, C)``."""
        lead = (len(self.times),) if self.times is not None else ()
        return self.values.reshape(*lead, -1, self.values.shape[-1])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[..., self.names.index(name)]

    def _check(self, other: Field) -> None:
        same = (
            self.support is other.support
            or (isinstance(self.support, Grid) and self.support == other.support)
            or (
                isinstance(self.support, np.ndarray)
                and isinstance(other.support, np.ndarray)
                and self.support.shape == other.support.shape
                and np.array_equal(self.support, other.support)
            )
        )
        if not same:
            raise InconsistentDiscretizationError("fields live on different discretizations")

    def with_values(self, values: np.ndarray, names: Sequence[str] | None = None) -> Field:
        return Field(values, self.support, tuple(names) if names else self.names, self.times)

    def __sub__(self, other: Field) -> Field:
        self._check(other)
        return self.with_values(self.values - other.values)

    def __add__(self, other: Field) -> Field:
        self._check(other)
        return self.with_values(self.values + other.values)

    def merge(self, other: Field, suffix: str = "") -> Field:
        """Channels of both fields side by side (``other``'s names get ``suffix``)."""
        self._check(other)
        return self.with_values(
            np.concatenate([self.values, other.values], axis=-1), self.names + tuple(n + suffix for n in other.names)
        )

    # ---- evaluation at points ---------------------------------------------------------
    def at(
        self, points: ArrayLike, times: ArrayLike | None = None, *, outside: str = "raise", tol: float = 1e-9
    ) -> np.ndarray:
        """The field's channels at arbitrary ``points`` (and ``times``), interpolated linearly.

        - Grid: multilinear in the cell of the grid; a periodic axis wraps around (any coordinate
          is inside). Exact for multilinear functions.
        - Mesh: piecewise linear on the mesh's own cells (the containing cell, barycentric
          weights); quads are split into 2 triangles and hexahedra into 6 tetrahedra. Exact for
          linear functions; a point in a hole of the mesh is outside it.
        - Point cloud: piecewise linear on the Delaunay triangulation of the points (what
          ``scipy.interpolate.LinearNDInterpolator`` does); outside is outside their convex hull.
        - Time series: linear in time between the stored steps.

        Parameters
        ----------
        points : (m, d) array, d the support's dimension ((m,) is accepted when d = 1)
        times : None for every stored step; a number, or a (T',) array of times within the
            stored ones; only for a time series
        outside : what a point outside the support (or a time outside the stored range) gets:
            ``"raise"`` a ValueError naming how many are outside and the support's bounds;
            ``"nan"`` NaN; ``"nearest"`` the value at the nearest point of the support (on a
            Grid the point clamped into its box, on a Mesh or point cloud the nearest node; for
            times the first or last step)
        tol : a point outside a cell by at most ``tol`` (in barycentric coordinates, i.e.
            relative to the cell's size; on a Grid relative to the axis' length, in time relative
            to the time span) counts as inside, so round-off never puts a boundary point outside

        Returns
        -------
        ``(m, C)``, or ``(T, m, C)`` for a time series (T the stored steps, or ``len(times)``;
        a scalar time gives ``(m, C)``), in the values' dtype (float64 for integer values).

        The search structure (cell locator, node tree) is built on the first call and cached for
        the support object, so later calls on any field of the same support reuse it. A mesh
        changed in place afterwards is not noticed: build a new Mesh instead.
        """
        if outside not in OUTSIDE:
            raise ValueError(f"outside={outside!r} is not one of {', '.join(map(repr, OUTSIDE))}")
        tol = float(tol)
        if not 0.0 <= tol < 0.1:
            raise ValueError(f"tol must be in [0, 0.1), got {tol}")
        x = _as_points(points, _support_dim(self.support))
        vals = self.point_values()
        dtype = vals.dtype if np.issubdtype(vals.dtype, np.inexact) else np.dtype(np.float64)
        t_nan = None
        scalar_time = times is not None and np.ndim(times) == 0
        if times is not None:
            if self.times is None:
                raise ValueError("times were given but the field is not a time series")
            vals, t_nan = _at_times(vals, self.times, times, outside, tol)
        idx, w, inside = _stencil(self.support, x, tol)
        if not inside.all():
            if outside == "raise":
                raise ValueError(_outside_message(self.support, x, inside, tol))
            if outside == "nearest" and not isinstance(self.support, Grid):  # a Grid stencil is already clamped
                out = ~inside
                idx[out] = 0
                w[out] = 0.0
                idx[out, 0] = _structure(self.support).nearest(x[out])
                w[out, 0] = 1.0
        out = np.zeros((*vals.shape[:-2], len(x), vals.shape[-1]), dtype=np.result_type(dtype, np.float64))
        for j in range(idx.shape[1]):  # the stencil's corners (2**d on a Grid, d + 1 on cells)
            out += w[:, j, None] * vals[..., idx[:, j], :]
        if outside == "nan":
            out[..., ~inside, :] = np.nan
            if t_nan is not None:
                out[t_nan] = np.nan
        out = out.astype(dtype, copy=False)
        return out[0] if scalar_time else out

    def on(
        self,
        support: Grid | Mesh | ArrayLike,
        times: ArrayLike | None = None,
        *,
        outside: str = "raise",
        tol: float = 1e-9,
    ) -> Field:
        """This field interpolated onto another ``support`` (Grid, Mesh or (m, d) points) with
        :meth:`at`: the same channels, at ``times`` (default: the stored steps)."""
        if isinstance(support, Grid):
            pts, shape = support.points(), support.shape
        elif isinstance(support, Mesh):
            pts, shape = support.points, (support.n_points,)
        else:
            pts = support = _as_points(support, _support_dim(self.support))
            shape = (len(pts),)
        vals = self.at(pts, times, outside=outside, tol=tol)
        new_times = None if self.times is None else (self.times if times is None else times)
        if new_times is not None and np.ndim(new_times) == 0:
            new_times = None
        lead = vals.shape[:-2]
        stored = None if new_times is None else np.asarray(new_times, dtype=np.float64)  # as Field stores times
        return Field(vals.reshape(*lead, *shape, vals.shape[-1]), support, self.names, stored)


def error_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """``rel_l2`` = ‖pred − ref‖₂ / ‖ref‖₂ over all entries, and ``max_abs`` = max |pred − ref|."""
    err = np.asarray(pred, dtype=np.float64) - np.asarray(ref, dtype=np.float64)
    return {"rel_l2": float(np.linalg.norm(err) / np.linalg.norm(ref)), "max_abs": float(np.abs(err).max())}


def comparison(pred: np.ndarray, ref: Field) -> Field:
    """A field with the prediction, the reference and their difference as channels
    (``u``, ``u_ref``, ``u_error`` for a reference channel ``u``), on the reference's support."""
    pred = np.asarray(pred, dtype=np.float64).reshape(ref.values.shape)
    names = tuple(ref.names)
    values = np.concatenate([pred, ref.values, pred - ref.values], axis=-1)
    return Field(
        values, ref.support, names + tuple(f"{n}_ref" for n in names) + tuple(f"{n}_error" for n in names), ref.times
    )


# ---- interpolation machinery behind Field.at ---------------------------------------------
# A stencil is (idx (m, k) node indices, w (m, k) weights, inside (m,)): value = sum_j w_j v[idx_j].

# cells -> simplices; hexahedra: 6 tetrahedra around the diagonal 0-6 (meshio node order)
_SPLIT = {
    "line": [[0, 1]],
    "triangle": [[0, 1, 2]],
    "tetra": [[0, 1, 2, 3]],
    "quad": [[0, 1, 2], [0, 2, 3]],
    "hexahedron": [[0, 1, 2, 6], [0, 2, 3, 6], [0, 3, 7, 6], [0, 7, 4, 6], [0, 4, 5, 6], [0, 5, 1, 6]],
}


def _support_dim(support) -> int:
    if isinstance(support, (Grid, Mesh)):
        return support.dim
    s = np.asarray(support)
    return 1 if s.ndim == 1 else s.shape[1]


def _as_points(points, d: int) -> np.ndarray:
    """``points`` as a finite (m, d) float64 array, or a one-line ValueError."""
    if hasattr(points, "detach"):  # a torch tensor
        points = points.detach().cpu().numpy()
    try:
        x = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"points must be an (m, {d}) array of numbers, got {type(points).__name__}") from None
    if x.ndim == 1 and d == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"points must be an (m, {d}) array for a field on a {d}-D support, got shape {x.shape}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(
            f"points contain NaN or infinite coordinates ({bad.sum()} of {len(x)} points, first at row "
            f"{np.flatnonzero(bad)[0]})"
        )
    return x


def _stencil(support, x: np.ndarray, tol: float):
    if isinstance(support, Grid):
        return _grid_stencil(support, x, tol)
    return _structure(support).stencil(x, tol)


def _grid_stencil(grid: Grid, x: np.ndarray, tol: float):
    """Multilinear stencil (2**d corners); outside points get the stencil of the nearest point of the box."""
    inside = np.ones(len(x), dtype=bool)
    lower, upper, frac = [], [], []
    for ax, (n, (lo, hi), periodic) in enumerate(zip(grid.shape, grid.bounds, grid.periodic or (False,) * grid.dim)):
        if periodic:  # nodes lo + i h, i < n; x = hi is node 0
            s = np.mod((x[:, ax] - lo) / ((hi - lo) / n), n)
            i0 = np.floor(s)
            w = s - i0
            i0 = i0.astype(np.int64) % n
            i1 = (i0 + 1) % n
        else:
            s = (x[:, ax] - lo) / ((hi - lo) / (n - 1))
            inside &= (s >= -tol * (n - 1)) & (s <= (n - 1) * (1 + tol))
            s = np.clip(s, 0, n - 1)
            i0 = np.minimum(np.floor(s), n - 2).astype(np.int64)
            w = s - i0
            i1 = i0 + 1
        lower.append(i0)
        upper.append(i1)
        frac.append(w)
    idx, wts = [], []
    for corner in itertools.product((0, 1), repeat=grid.dim):
        idx.append(np.ravel_multi_index([u if c else lw for c, lw, u in zip(corner, lower, upper)], grid.shape))
        wts.append(np.prod([f if c else 1.0 - f for c, f in zip(corner, frac)], axis=0))
    return np.stack(idx, 1), np.stack(wts, 1), inside


_FIRST_K = 1  # candidate cells per dimension in the first round (most points are found there)


class _Cells:
    """Point location on simplices ``(n_cells, d + 1)`` over nodes ``points`` ``(n, d)``.

    A k-d tree of the cell centroids proposes each point's k nearest cells; barycentric
    coordinates decide (the cell where the smallest one is largest). k doubles for the points not
    found yet until no farther cell can contain them: a cell's points lie within ``reach`` (the
    largest centroid-to-vertex distance of all cells) of its centroid.
    """

    def __init__(self, points: np.ndarray, simplices: np.ndarray):
        from scipy.spatial import cKDTree  # imported here: it takes a while and most runs never need it

        if not len(simplices):
            raise ValueError("the mesh has no cells to interpolate on")
        d = points.shape[1]
        verts = points[simplices]  # (c, d + 1, d)
        edges = verts[:, 1:] - verts[:, :1]
        size = np.linalg.norm(edges, axis=-1).max(axis=1)
        cols = np.swapaxes(edges, 1, 2)  # edge vectors as columns
        self.ok = np.abs(np.linalg.det(cols)) > 1e-12 * size**d  # degenerate cells never contain a point
        if not self.ok.any():
            raise ValueError(f"all {len(simplices)} cells of the mesh are degenerate (zero measure)")
        cols[~self.ok] = np.eye(d)
        self.inverse = np.linalg.inv(cols)
        self.origin = verts[:, 0]
        self.simplices = simplices
        centroids = verts.mean(axis=1)
        self.reach = float(np.linalg.norm(verts - centroids[:, None], axis=-1).max(axis=1)[self.ok].max())
        self.tree = cKDTree(centroids)
        self.nodes = np.unique(simplices)
        self.node_tree = cKDTree(points[self.nodes])

    def nearest(self, x: np.ndarray) -> np.ndarray:
        return self.nodes[self.node_tree.query(x)[1]]

    def stencil(self, x: np.ndarray, tol: float):
        m, d = x.shape
        n_cells = len(self.simplices)
        cell = np.zeros(m, dtype=np.int64)
        lam = np.zeros((m, d + 1))
        inside = np.zeros(m, dtype=bool)
        limit = self.reach * (1 + (d + 1) * tol + 1e-9)  # a tol-expanded cell stays within this of its centroid
        todo, k = np.arange(m), min(_FIRST_K * d, n_cells)
        while todo.size:
            left = []
            step = max(1, 2**19 // k)  # bounds the memory of one batch
            for s in range(0, todo.size, step):
                rows = todo[s : s + step]
                dist, cand = self.tree.query(x[rows], k)
                dist, cand = dist.reshape(len(rows), k), cand.reshape(len(rows), k)
                b = np.einsum("pkij,pkj->pki", self.inverse[cand], x[rows, None] - self.origin[cand])
                bary = np.concatenate([1.0 - b.sum(-1, keepdims=True), b], axis=-1)  # (p, k, d + 1)
                score = np.where(self.ok[cand], bary.min(-1), -np.inf)
                best = score.argmax(axis=1)
                r = np.arange(len(rows))
                found = score[r, best] >= -tol
                cell[rows[found]] = cand[r, best][found]
                lam[rows[found]] = bary[r, best][found]
                inside[rows] = found
                left.append(rows[~found & (k < n_cells) & (dist[:, -1] <= limit)])
            todo, k = np.concatenate(left), min(2 * k, n_cells)
        lam = np.clip(lam, 0.0, None)  # a point within tol outside gets the value on the cell's boundary
        lam /= np.where(inside, lam.sum(axis=1), 1.0)[:, None]
        lam[~inside] = 0.0
        return self.simplices[cell], lam, inside


class _Cloud:
    """Point location on the Delaunay triangulation of a point cloud (sorted intervals in 1D)."""

    def __init__(self, points: np.ndarray):
        from scipy.spatial import Delaunay, QhullError, cKDTree

        self.node_tree = cKDTree(points)
        self.cells = None
        if points.shape[1] == 1:
            _, order = np.unique(points[:, 0], return_index=True)
            if len(order) < 2:
                raise ValueError("a 1-D point cloud needs at least 2 distinct points to interpolate")
            self.cells = _Cells(points, np.stack([order[:-1], order[1:]], axis=1))
            return
        try:
            self.tri = Delaunay(points)
        except (QhullError, ValueError) as exc:
            raise ValueError(
                f"cannot triangulate the point cloud of {len(points)} points in {points.shape[1]}-D "
                f"(too few, or all on a line/plane?): {str(exc).splitlines()[0]}"
            ) from None

    def nearest(self, x: np.ndarray) -> np.ndarray:
        return self.node_tree.query(x)[1]

    def stencil(self, x: np.ndarray, tol: float):
        if self.cells is not None:
            return self.cells.stencil(x, tol)
        d = x.shape[1]
        cell = self.tri.find_simplex(x, tol=tol)
        inside = cell >= 0
        t = self.tri.transform[cell]  # barycentric map of each simplex (the last one for outside points)
        b = np.einsum("mij,mj->mi", t[:, :d], x - t[:, d])
        lam = np.clip(np.concatenate([b, 1.0 - b.sum(-1, keepdims=True)], axis=-1), 0.0, None)
        lam /= lam.sum(axis=1, keepdims=True)
        lam[~inside] = 0.0
        return self.tri.simplices[cell], lam, inside


_STRUCTURES: dict[int, tuple] = {}  # id(support) -> (signature, _Cells | _Cloud); dropped with the support


def _signature(support) -> tuple:
    if isinstance(support, Mesh):
        return (id(support.points), support.points.shape) + tuple((t, id(c), c.shape) for t, c in support.cells)
    return (np.shape(support),)


def _structure(support) -> _Cells | _Cloud:
    """The search structure of a Mesh or point cloud, built once per support object."""
    key, sig = id(support), _signature(support)
    hit = _STRUCTURES.get(key)
    if hit is not None and hit[0] == sig:
        return hit[1]
    if isinstance(support, Mesh):
        if support.tdim == 0:  # vertices only: a point cloud
            built: _Cells | _Cloud = _Cloud(support.points)
        elif support.tdim != support.dim:
            raise ValueError(
                f"cannot interpolate on a mesh of {support.tdim}-D cells in {support.dim}-D space "
                "(only cells that fill the space: lines in 1D, triangles/quads in 2D, tetrahedra/hexahedra in 3D)"
            )
        else:
            blocks = [c[:, _SPLIT[t]].reshape(-1, support.tdim + 1) for t, c in support.cells_of_dim(support.tdim)]
            built = _Cells(support.points, np.concatenate(blocks))
    else:
        pts = np.array(support, dtype=np.float64)  # a copy: the cache must not keep the support alive
        built = _Cloud(pts[:, None] if pts.ndim == 1 else pts)
    try:
        if hit is None:
            weakref.finalize(support, _STRUCTURES.pop, key, None)
    except TypeError:  # not weakly referenceable (a list of points): no cache
        return built
    _STRUCTURES[key] = (sig, built)
    return built


def _at_times(vals: np.ndarray, stored: np.ndarray, times, outside: str, tol: float):
    """Values ``(T, n, C)`` linearly interpolated to ``times``: ``(T', n, C)`` and the NaN rows (or None)."""
    try:
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"times must be a number or a 1-D array of numbers, got {type(times).__name__}") from None
    if t.ndim != 1 or not np.isfinite(t).all():
        raise ValueError(f"times must be a number or a 1-D array of finite numbers, got shape {t.shape}")
    if len(stored) > 1 and not (np.diff(stored) > 0).all():
        raise ValueError("the field's times are not increasing: cannot interpolate in time")
    t0, t1 = stored[0], stored[-1]
    eps = tol * ((t1 - t0) if t1 > t0 else max(1.0, abs(t0)))
    bad = (t < t0 - eps) | (t > t1 + eps)
    if bad.any() and outside == "raise":
        raise ValueError(
            f"{bad.sum()} of {len(t)} times are outside the stored range [{t0:.6g}, {t1:.6g}], e.g. "
            f"{t[bad][0]:.6g}; pass outside='nan' or outside='nearest' to evaluate them anyway"
        )
    t = np.clip(t, t0, t1)
    if len(stored) == 1:
        return vals[np.zeros(len(t), dtype=np.int64)], (bad if outside == "nan" else None)
    i0 = np.clip(np.searchsorted(stored, t, side="right") - 1, 0, len(stored) - 2)
    w = ((t - stored[i0]) / (stored[i0 + 1] - stored[i0]))[:, None, None]
    return (1.0 - w) * vals[i0] + w * vals[i0 + 1], (bad if outside == "nan" else None)


def _outside_message(support, x: np.ndarray, inside: np.ndarray, tol: float) -> str:
    out = np.flatnonzero(~inside)
    if isinstance(support, Grid):
        what = f"grid {support.shape}"
        lo, hi = np.array(support.bounds).T
    else:
        if isinstance(support, Mesh):
            counts = ", ".join(f"{len(c)} {t} cells" for t, c in support.cells_of_dim(support.tdim))
            what = f"mesh ({counts}; a point in a hole is outside)"
            pts = support.points
        else:
            pts = np.asarray(support, dtype=np.float64).reshape(len(support), -1)
            what = f"convex hull of the {len(pts)} points"
        lo, hi = pts.min(axis=0), pts.max(axis=0)
    bounds = " x ".join(f"[{a:.6g}, {b:.6g}]" for a, b in zip(lo, hi))
    first = ", ".join(f"{c:.6g}" for c in x[out[0]])
    return (
        f"{len(out)} of {len(x)} points are outside the {what}, bounds {bounds} (tolerance {tol:g}), e.g. point "
        f"{out[0]} at ({first}); pass outside='nan' or outside='nearest' to evaluate them anyway"
    )
